/*
 * eSIM certificates (SGP.22 §4.5, reused by SGP.32; NOTES §6.3; SGP.26 test PKI).
 *
 * Three concerns, one file each in lib/crypto:
 *   - parse:  DER -> sgp32_certificate, a plain struct with the fields the eSIM
 *             checks need (no OpenSSL type crosses this API);
 *   - verify: the eSIM chains CI -> EUM -> eUICC and CI -> DPauth/DPpb/DPtls,
 *             checked by our own rules rather than generic RFC 5280 path
 *             validation (which rejects the SGP.26 EUM name constraints);
 *   - issue:  CI, EUM, eUICC, SM-DP+ and eIM certificates for test PKIs.
 *
 * Times are int64 seconds since 1970-01-01 UTC so eUICC notAfter dates beyond
 * 2038/2050 (SGP.26: year 7496) work on every platform.
 */
#ifndef SGP32_CERTIFICATE_H
#define SGP32_CERTIFICATE_H

#include "sgp32/crypto.h"
#include "sgp32/eid.h"

enum {
    SGP32_CERT_TEXT_MAX = 130,     /* one subject attribute as UTF-8, with its NUL */
    SGP32_CERT_KEY_ID_MAX = 32,    /* SKI / AKI keyIdentifier (SHA-1 ones are 20) */
    SGP32_CERT_SERIAL_MAX = 32,    /* serialNumber content bytes (RFC 5280 allows 20) */
    SGP32_CERT_OID_TEXT_MAX = 96,  /* dotted text with its NUL */
    SGP32_CERT_OID_DER_MAX = 48,   /* OBJECT IDENTIFIER content bytes */
    SGP32_CERT_DNS_NAMES_MAX = 4,  /* dNSName entries kept (more are an error) */
    SGP32_CERT_DNS_NAME_MAX = 254, /* 253 characters and the NUL */
    SGP32_CERT_PERMITTED_EINS_MAX = 8,
    SGP32_CERT_EIN_MAX = SGP32_EID_DIGITS + 1,
};

/* "No validity check" for the now argument of the verify functions. An eUICC
 * has no trusted clock, so it cannot judge dates. */
#define SGP32_CERT_NO_TIME_CHECK INT64_MIN

/* The GSMA role: last arc of the critical certificatePolicies OID 2.23.146.1.2.1.x. */
typedef enum sgp32_cert_role {
    SGP32_CERT_ROLE_NONE = -1, /* no GSMA role policy (eIM certificates, plain TLS) */
    SGP32_CERT_ROLE_CI = 0,
    SGP32_CERT_ROLE_EUICC = 1,
    SGP32_CERT_ROLE_EUM = 2, /* also 2.23.146.1.2.1.0.0.0 (newer EUM variants) */
    SGP32_CERT_ROLE_DP_TLS = 3,
    SGP32_CERT_ROLE_DP_AUTH = 4,
    SGP32_CERT_ROLE_DP_PB = 5,
    SGP32_CERT_ROLE_DS_TLS = 6,
    SGP32_CERT_ROLE_DS_AUTH = 7,
} sgp32_cert_role;

/* "ci", "euicc", "eum", "dp-tls", "dp-auth", "dp-pb", "ds-tls", "ds-auth", "none". */
const char *sgp32_cert_role_name(sgp32_cert_role role);
/* The inverse; returns SGP32_ERR_INVALID_ARGUMENT for an unknown name. */
int sgp32_cert_role_from_name(const char *name, sgp32_cert_role *role);

/* keyUsage bits, numbered as in X.509 (bit n = 1u << n). */
enum {
    SGP32_CERT_KU_DIGITAL_SIGNATURE = 1u << 0,
    SGP32_CERT_KU_KEY_AGREEMENT = 1u << 4,
    SGP32_CERT_KU_KEY_CERT_SIGN = 1u << 5,
    SGP32_CERT_KU_CRL_SIGN = 1u << 6,
};
/* extendedKeyUsage purposes we look at. */
enum {
    SGP32_CERT_EKU_SERVER_AUTH = 1u << 0,
    SGP32_CERT_EKU_CLIENT_AUTH = 1u << 1,
};

/* Distinguished name attributes used by the eSIM PKI (empty string when absent). */
typedef struct sgp32_cert_name {
    char country[SGP32_CERT_TEXT_MAX];             /* C  2.5.4.6 */
    char organization[SGP32_CERT_TEXT_MAX];        /* O  2.5.4.10 */
    char organizational_unit[SGP32_CERT_TEXT_MAX]; /* OU 2.5.4.11 */
    char common_name[SGP32_CERT_TEXT_MAX];         /* CN 2.5.4.3 */
    char serial_number[SGP32_CERT_TEXT_MAX];       /* 2.5.4.5; the EID in an eUICC certificate */
} sgp32_cert_name;

typedef struct sgp32_cert_key_id {
    size_t len; /* 0 when absent */
    uint8_t id[SGP32_CERT_KEY_ID_MAX];
} sgp32_cert_key_id;

/* An OID both as dotted text and as the DER content bytes (what smdpOid carries). */
typedef struct sgp32_cert_oid {
    char text[SGP32_CERT_OID_TEXT_MAX]; /* "" when absent */
    size_t der_len;
    uint8_t der[SGP32_CERT_OID_DER_MAX];
} sgp32_cert_oid;

/* The EUM's permitted range for the eUICCs it issues (NOTES §6.3, "SGP.26 EUM (variant O)"). */
typedef struct sgp32_cert_name_constraint {
    bool present;                                   /* a permitted directoryName subtree was found */
    char organization[SGP32_CERT_TEXT_MAX];         /* "" when the subtree has no O */
    char serial_number_prefix[SGP32_CERT_TEXT_MAX]; /* EIN: the EIDs' leading digits */
} sgp32_cert_name_constraint;

typedef struct sgp32_certificate {
    uint8_t serial[SGP32_CERT_SERIAL_MAX]; /* certificate serialNumber content bytes */
    size_t serial_len;
    sgp32_cert_name subject;
    sgp32_cert_name issuer;
    int64_t not_before; /* unix seconds, UTC */
    int64_t not_after;
    sgp32_ec_public_key public_key; /* with its curve */
    sgp32_cert_key_id ski;          /* for a CI: the CI PKID */
    sgp32_cert_key_id aki;          /* keyIdentifier of the AuthorityKeyIdentifier */
    bool self_issued;               /* issuer name == subject name */

    sgp32_cert_role role;
    bool role_critical;                   /* the certificatePolicies extension is critical */
    char policy[SGP32_CERT_OID_TEXT_MAX]; /* the role policy OID as found */
    bool has_basic_constraints;
    bool is_ca;
    int path_len; /* -1: no pathLenConstraint */
    bool has_key_usage;
    unsigned key_usage; /* SGP32_CERT_KU_* */
    bool has_ext_key_usage;
    unsigned ext_key_usage; /* SGP32_CERT_EKU_* */

    sgp32_cert_oid registered_id; /* SAN registeredID: the SM-DP+ OID in DPauth/DPpb/DPtls */
    size_t dns_count;
    char dns_names[SGP32_CERT_DNS_NAMES_MAX][SGP32_CERT_DNS_NAME_MAX];

    sgp32_cert_name_constraint name_constraint; /* EUM (variant O) */
    size_t permitted_eins_count;                /* EUM: permittedEins 2.23.146.1.2.2.0 */
    char permitted_eins[SGP32_CERT_PERMITTED_EINS_MAX][SGP32_CERT_EIN_MAX];

    bool has_eid; /* subject serialNumber is 32 decimal digits (check digits not judged here) */
    uint8_t eid[SGP32_EID_LEN];

    bool unknown_critical_extension; /* verification refuses such a certificate */
} sgp32_certificate;

/*
 * Parse one DER certificate (no trailing bytes). Only EC keys on NIST P-256 and
 * brainpoolP256r1 are accepted (SGP32_ERR_CRYPTO_UNSUPPORTED_CURVE for other
 * curves, SGP32_ERR_CRYPTO_BAD_KEY for other key types or a bad point).
 * Errors: SGP32_ERR_CERT_PARSE (not a certificate, names too long, duplicate
 * C/O/OU/CN/serialNumber), SGP32_ERR_CERT_EXTENSION (a known extension is
 * malformed or repeated, two different GSMA roles, more dNSNames than kept).
 * On error *cert is zeroed (role NONE).
 */
int sgp32_cert_parse(const uint8_t *der, size_t len, sgp32_certificate *cert);

/* Whether the certificate's dNSName entries cover host (case-insensitive; a
 * "*.domain" entry covers exactly one left-most label; a ":port" suffix on host
 * is ignored). The subject CN is not consulted. */
bool sgp32_cert_matches_host(const sgp32_certificate *cert, const char *host);

/* ------------------------------------------------------------- CI trust set */

enum { SGP32_CI_SET_MAX = 8 };

typedef struct sgp32_ci_entry {
    sgp32_certificate cert; /* cert.ski is the CI PKID */
    uint8_t *der;           /* owned copy */
    size_t der_len;
} sgp32_ci_entry;

/* The CIs a party trusts (euiccCiPKIdListForVerification and friends). */
typedef struct sgp32_ci_set {
    size_t count;
    sgp32_ci_entry entries[SGP32_CI_SET_MAX];
} sgp32_ci_set;

void sgp32_ci_set_init(sgp32_ci_set *set);
/*
 * Add a CI certificate: it must carry the CI role policy, a SubjectKeyIdentifier,
 * CA:TRUE and a valid self-signature (dates are checked at verification time).
 * Adding the same certificate twice is a no-op; another certificate with the
 * same PKID is SGP32_ERR_INVALID_ARGUMENT; a full set is SGP32_ERR_CAPACITY.
 */
int sgp32_ci_set_add(sgp32_ci_set *set, const uint8_t *der, size_t len);
/* Look up a CI by PKID (= its SKI); NULL when not trusted. */
const sgp32_ci_entry *sgp32_ci_set_find(const sgp32_ci_set *set, const uint8_t *pkid, size_t pkid_len);
void sgp32_ci_set_free(sgp32_ci_set *set);

/* ------------------------------------------------------------- verification */

/* What a verified eUICC chain yields. */
typedef struct sgp32_euicc_chain {
    size_t ci_index; /* the anchoring CI in the set */
    sgp32_certificate eum;
    sgp32_certificate euicc; /* euicc.public_key verifies euiccSignature1/2; euicc.eid */
} sgp32_euicc_chain;

/*
 * Verify CERT.EUM and CERT.EUICC against the trusted CIs (the SM-DP+'s check in
 * AuthenticateClient, NOTES §6.2 step 3; also the eIM's), in this order:
 *   roles by policy (EUM 2.23.146.1.2.1.2 or .0.0.0, eUICC ...1.1)  SGP32_ERR_CERT_POLICY
 *   EUM AKI names a trusted CI                                      SGP32_ERR_CERT_UNKNOWN_CI
 *   issuer names and AKI -> SKI links, CA/keyCertSign of the EUM    SGP32_ERR_CERT_CHAIN
 *   signatures (ecdsa-with-SHA256) CI -> EUM -> eUICC               SGP32_ERR_CERT_SIGNATURE
 *   unknown critical extensions, eUICC a CA or not for signing      SGP32_ERR_CERT_EXTENSION
 *   dates of CI, EUM and eUICC against now (unless NO_TIME_CHECK)   SGP32_ERR_CERT_EXPIRED /
 *                                                                   SGP32_ERR_CERT_NOT_YET_VALID
 *   EID in the subject serialNumber, its check digits               SGP32_ERR_CERT_EID_MISMATCH /
 *                                                                   SGP32_ERR_EID_CHECK_DIGITS
 *   EUM name constraints: eUICC O equals the permitted O and the
 *   EID starts with the permitted serialNumber (or a permittedEin)  SGP32_ERR_CERT_NAME_CONSTRAINT
 *   expected_eid (16 BCD bytes, NULL = any)                         SGP32_ERR_CERT_EID_MISMATCH
 * out (optional) receives the parsed certificates; trust it only on SGP32_OK.
 * No revocation (CRL) check is made.
 */
int sgp32_cert_verify_euicc_chain(const sgp32_ci_set *cis, sgp32_bytes eum, sgp32_bytes euicc, int64_t now,
                                  const uint8_t *expected_eid, sgp32_euicc_chain *out);

/*
 * Verify a certificate issued directly by a trusted CI for a server role:
 * SGP32_CERT_ROLE_DP_AUTH, DP_PB, DP_TLS, DS_AUTH or DS_TLS. Same error codes as
 * above, plus: DPauth/DPpb/DSauth need a SAN registeredID (the SM-DP+ OID) and
 * digitalSignature (SGP32_ERR_CERT_EXTENSION); for the TLS roles an
 * extendedKeyUsage, if present, must allow serverAuth (SGP32_ERR_CERT_EXTENSION)
 * and host, if not NULL, must match a dNSName (SGP32_ERR_CERT_HOST_MISMATCH).
 * host must be NULL for the non-TLS roles. out (optional) receives the parse
 * (trust it only on SGP32_OK). Only CI-issued certificates: an SM-DP+ Sub-CA
 * between CI and DP certificate is not supported.
 */
int sgp32_cert_verify_dp(const sgp32_ci_set *cis, sgp32_bytes cert, sgp32_cert_role role, const char *host,
                         int64_t now, sgp32_certificate *out);

/*
 * Generic "cert was issued by issuer" (eIM certificates, which carry no GSMA
 * role): AKI -> SKI when both are present, issuer name, signature, the issuer is
 * a CA with keyCertSign (unless cert and issuer are the same self-signed
 * certificate), no unknown critical extension, and the dates of both.
 */
int sgp32_cert_verify_issued_by(sgp32_bytes cert, sgp32_bytes issuer, int64_t now, sgp32_certificate *out);

/* ------------------------------------------------------------------ issuing */

/* What to issue; each profile sets the extensions SGP.26 uses for that role. */
typedef enum sgp32_cert_profile {
    SGP32_CERT_PROFILE_CI = 1,      /* self-signed, CA, keyCertSign+cRLSign, policy ...1.0 */
    SGP32_CERT_PROFILE_EUM,         /* CA pathlen 0, keyCertSign, policy ...1.2, nameConstraints */
    SGP32_CERT_PROFILE_EUICC,       /* digitalSignature, policy ...1.1, EID in serialNumber */
    SGP32_CERT_PROFILE_DP_AUTH,     /* digitalSignature, policy ...1.4, SAN registeredID */
    SGP32_CERT_PROFILE_DP_PB,       /* digitalSignature, policy ...1.5, SAN registeredID */
    SGP32_CERT_PROFILE_DP_TLS,      /* serverAuth+clientAuth, policy ...1.3 (non-critical), SAN DNS */
    SGP32_CERT_PROFILE_EIM_SIGNING, /* digitalSignature, no GSMA role */
    SGP32_CERT_PROFILE_EIM_TLS,     /* serverAuth+clientAuth, SAN DNS, no GSMA role */
} sgp32_cert_profile;

typedef struct sgp32_cert_request {
    sgp32_cert_profile profile;
    /* Subject attributes, written in the order C, O, OU, serialNumber, CN; NULL
     * or "" omits one. For PROFILE_EUICC serial_number is the EID (32 digits). */
    const char *country;
    const char *organization;
    const char *organizational_unit;
    const char *serial_number;
    const char *common_name;
    const sgp32_ec_public_key *subject_key; /* NULL for PROFILE_CI: the issuer key's own */
    int64_t not_before;                     /* unix seconds; 1950 .. 9999 */
    int64_t not_after;
    /* PROFILE_EUM: the permitted subtree (at least one of the two). */
    const char *permitted_organization;
    const char *permitted_serial_prefix; /* the EIN, e.g. "89049032" */
    /* SAN registeredID (dotted): required for DP_AUTH/DP_PB, optional elsewhere. */
    const char *registered_id;
    /* SAN dNSName entries: at least one for DP_TLS/EIM_TLS, optional elsewhere. */
    const char *const *dns_names;
    size_t dns_count;
} sgp32_cert_request;

/*
 * Issue a certificate and append its DER to out. issuer_der is the issuing
 * certificate (NULL for PROFILE_CI, which is self-signed); issuer_key must be
 * its private key (SGP32_ERR_CRYPTO_BAD_KEY otherwise). The serial number is 16
 * random bytes; SKI is the SHA-1 of the public key, AKI the issuer's SKI. The
 * issuer writes what it is asked: policy checks (EID digits, name constraints)
 * belong to the verifier and to the caller.
 */
int sgp32_cert_issue(const sgp32_cert_request *req, const uint8_t *issuer_der, size_t issuer_len,
                     const sgp32_ec_private_key *issuer_key, sgp32_buf *out);

#endif

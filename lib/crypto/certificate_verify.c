/*
 * eSIM chain verification (include/sgp32/certificate.h).
 *
 * SGP.22 mutual authentication (and SGP.32 §3.2.3, which reuses it; NOTES §6.2): the SM-DP+
 * and the eIM check CI -> EUM -> eUICC, the eUICC checks CI -> DPauth/DPpb,
 * the device checks CI -> DPtls. Links go by AKI -> SKI, roles by the critical
 * certificatePolicies OID, and the EUM restricts its eUICCs by a critical
 * nameConstraints permitted subtree whose serialNumber is an EID *prefix*.
 * Generic RFC 5280 path validation (X509_verify_cert) treats that subtree as a
 * full distinguished name and rejects the SGP.26 chain ("permitted subtree
 * violation"), so the rules are implemented here one by one, each failure with
 * its own error code; OpenSSL only checks the signatures.
 */
#include <string.h>

#include "certificate_internal.h"

#include <openssl/err.h>

int sgp32_certi_check_signature(const sgp32_certi_signed *child, const sgp32_ec_public_key *issuer_key)
{
    if (!child->ecdsa_sha256)
        return SGP32_ERR_CERT_SIGNATURE;
    int rc = sgp32_crypto_ecdsa_verify_digest(issuer_key, child->tbs_sha256, child->signature);
    return rc == SGP32_ERR_CRYPTO_BAD_SIGNATURE ? SGP32_ERR_CERT_SIGNATURE : rc;
}

bool sgp32_certi_names_link(const sgp32_certi_signed *child, const sgp32_certi_signed *parent)
{
    if (child->issuer_len == parent->subject_len &&
        memcmp(child->issuer, parent->subject, child->issuer_len) == 0)
        return true;
    /* Different encodings may still be the same name (case, spaces, string types): OpenSSL's
     * comparison of the canonical forms decides. */
    const unsigned char *a = child->issuer, *b = parent->subject;
    X509_NAME *issuer = d2i_X509_NAME(NULL, &a, (long)child->issuer_len);
    X509_NAME *subject = d2i_X509_NAME(NULL, &b, (long)parent->subject_len);
    bool same = issuer && subject && X509_NAME_cmp(issuer, subject) == 0;
    X509_NAME_free(issuer);
    X509_NAME_free(subject);
    ERR_clear_error();
    return same;
}

static int check_dates(const sgp32_certificate *cert, int64_t now)
{
    if (now == SGP32_CERT_NO_TIME_CHECK)
        return SGP32_OK;
    if (now < cert->not_before)
        return SGP32_ERR_CERT_NOT_YET_VALID;
    if (now > cert->not_after)
        return SGP32_ERR_CERT_EXPIRED;
    return SGP32_OK;
}

static bool key_id_equal(const sgp32_cert_key_id *a, const sgp32_cert_key_id *b)
{
    return a->len != 0 && a->len == b->len && memcmp(a->id, b->id, a->len) == 0;
}

/* child names parent as its issuer, by AKI -> SKI and by distinguished name; known: the link
 * cache already vouches for the names (and the signature) of exactly these two DERs. */
static int check_link(bool known, const sgp32_certi_signed *child_signed, const sgp32_certificate *child,
                      const sgp32_certi_signed *parent_signed, const sgp32_certificate *parent)
{
    if (!key_id_equal(&child->aki, &parent->ski))
        return SGP32_ERR_CERT_CHAIN;
    if (!known && !sgp32_certi_names_link(child_signed, parent_signed))
        return SGP32_ERR_CERT_CHAIN;
    return SGP32_OK;
}

/* The signature of child under parent's key; remembered (with the name link checked before) when
 * it verifies. known: the link cache had it, nothing to do. */
static int check_link_signature(bool known, const sgp32_certi_signed *child_signed, sgp32_bytes child_der,
                                sgp32_bytes parent_der, const sgp32_ec_public_key *parent_key)
{
    if (known)
        return SGP32_OK;
    int rc = sgp32_certi_check_signature(child_signed, parent_key);
    if (rc == SGP32_OK)
        sgp32_certi_link_remember(child_der, parent_der);
    return rc;
}

static bool may_sign_certificates(const sgp32_certificate *cert)
{
    return cert->has_basic_constraints && cert->is_ca &&
           (!cert->has_key_usage || (cert->key_usage & SGP32_CERT_KU_KEY_CERT_SIGN));
}

static bool starts_with(const char *text, const char *prefix)
{
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

/* The EUM permits the eUICC (NOTES §6.3): subject O equal to the
 * permitted O, and the EID beginning with the permitted serialNumber or with one
 * of the permittedEins. An EUM without any such range permits nothing. */
static int check_eum_range(const sgp32_certificate *eum, const sgp32_certificate *euicc)
{
    const sgp32_cert_name_constraint *nc = &eum->name_constraint;
    if (!nc->present && eum->permitted_eins_count == 0)
        return SGP32_ERR_CERT_NAME_CONSTRAINT;
    if (nc->present) {
        if (nc->organization[0] == '\0' && nc->serial_number_prefix[0] == '\0')
            return SGP32_ERR_CERT_NAME_CONSTRAINT; /* a subtree we cannot judge */
        if (nc->organization[0] && strcmp(euicc->subject.organization, nc->organization) != 0)
            return SGP32_ERR_CERT_NAME_CONSTRAINT;
        if (nc->serial_number_prefix[0] &&
            !starts_with(euicc->subject.serial_number, nc->serial_number_prefix))
            return SGP32_ERR_CERT_NAME_CONSTRAINT;
    }
    if (eum->permitted_eins_count) {
        bool found = false;
        for (size_t i = 0; i < eum->permitted_eins_count && !found; i++)
            found = starts_with(euicc->subject.serial_number, eum->permitted_eins[i]);
        if (!found)
            return SGP32_ERR_CERT_NAME_CONSTRAINT;
    }
    return SGP32_OK;
}

/* The signed parts of a chain's certificates (a few KiB: on the heap). */
typedef struct chain_signed {
    sgp32_certi_signed ci, eum, leaf;
    sgp32_certificate ci_cert; /* the CI's parse, when its signed part is needed */
} chain_signed;

/* The CI's signed part, for the name of a link that the link cache does not vouch for. */
static int ci_signed(const sgp32_ci_entry *ci, chain_signed *x)
{
    return sgp32_certi_parse(ci->der, ci->der_len, &x->ci_cert, &x->ci);
}

static int euicc_chain(const sgp32_ci_set *cis, sgp32_bytes eum_der, sgp32_bytes euicc_der, int64_t now,
                       const uint8_t *expected_eid, sgp32_euicc_chain *out, chain_signed *x)
{
    sgp32_certificate *eum = &out->eum, *euicc = &out->euicc;
    int rc;
    if ((rc = sgp32_certi_parse(eum_der.data, eum_der.len, eum, &x->eum)) ||
        (rc = sgp32_certi_parse(euicc_der.data, euicc_der.len, euicc, &x->leaf)))
        return rc;

    /* Roles. */
    if (eum->role != SGP32_CERT_ROLE_EUM || !eum->role_critical)
        return SGP32_ERR_CERT_POLICY;
    if (euicc->role != SGP32_CERT_ROLE_EUICC || !euicc->role_critical)
        return SGP32_ERR_CERT_POLICY;

    /* Anchor: the EUM's AKI is the PKID of a trusted CI. */
    if (eum->aki.len == 0)
        return SGP32_ERR_CERT_CHAIN;
    const sgp32_ci_entry *ci = sgp32_ci_set_find(cis, eum->aki.id, eum->aki.len);
    if (!ci)
        return SGP32_ERR_CERT_UNKNOWN_CI;
    out->ci_index = (size_t)(ci - cis->entries);
    sgp32_bytes ci_der = SGP32_BYTES(ci->der, ci->der_len);

    /* Names and signatures of each link, unless the link cache has them for these exact DERs. */
    bool eum_known = sgp32_certi_link_known(eum_der, ci_der);
    bool leaf_known = sgp32_certi_link_known(euicc_der, eum_der);
    if (!eum_known && (rc = ci_signed(ci, x)))
        return rc;

    /* Links. */
    if ((rc = check_link(eum_known, &x->eum, eum, &x->ci, &ci->cert)) ||
        (rc = check_link(leaf_known, &x->leaf, euicc, &x->eum, eum)))
        return rc;
    if (!may_sign_certificates(eum))
        return SGP32_ERR_CERT_CHAIN;

    /* Signatures. */
    if ((rc = check_link_signature(eum_known, &x->eum, eum_der, ci_der, &ci->cert.public_key)) ||
        (rc = check_link_signature(leaf_known, &x->leaf, euicc_der, eum_der, &eum->public_key)))
        return rc;

    if (eum->unknown_critical_extension || euicc->unknown_critical_extension || euicc->is_ca ||
        (euicc->has_key_usage && !(euicc->key_usage & SGP32_CERT_KU_DIGITAL_SIGNATURE)))
        return SGP32_ERR_CERT_EXTENSION;

    /* Dates. */
    if ((rc = check_dates(&ci->cert, now)) || (rc = check_dates(eum, now)) || (rc = check_dates(euicc, now)))
        return rc;

    /* The EID and the EUM's permitted range. */
    if (!euicc->has_eid)
        return SGP32_ERR_CERT_EID_MISMATCH;
    if ((rc = sgp32_eid_check(euicc->eid)))
        return rc;
    if ((rc = check_eum_range(eum, euicc)))
        return rc;
    if (expected_eid && memcmp(expected_eid, euicc->eid, SGP32_EID_LEN) != 0)
        return SGP32_ERR_CERT_EID_MISMATCH;
    return SGP32_OK;
}

int sgp32_cert_verify_euicc_chain(const sgp32_ci_set *cis, sgp32_bytes eum, sgp32_bytes euicc, int64_t now,
                                  const uint8_t *expected_eid, sgp32_euicc_chain *out)
{
    if (!cis || !eum.data || !euicc.data)
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_euicc_chain *result = out ? out : sgp32_alloc(sizeof(*result));
    chain_signed *x = sgp32_alloc(sizeof(*x));
    int rc = result && x ? euicc_chain(cis, eum, euicc, now, expected_eid, result, x) : SGP32_ERR_NO_MEMORY;
    sgp32_free(x, sizeof(*x));
    if (!out)
        sgp32_free(result, sizeof(*result));
    return rc;
}

static bool is_tls_role(sgp32_cert_role role)
{
    return role == SGP32_CERT_ROLE_DP_TLS || role == SGP32_CERT_ROLE_DS_TLS;
}

static int ci_issued(const sgp32_ci_set *cis, sgp32_bytes der, sgp32_cert_role role, const char *host,
                     int64_t now, sgp32_certificate *cert, chain_signed *x)
{
    int rc = sgp32_certi_parse(der.data, der.len, cert, &x->leaf);
    if (rc)
        return rc;

    /* Role; SGP.26 DPtls certificates carry their policy non-critical. */
    bool tls = is_tls_role(role);
    if (cert->role != role || (!tls && !cert->role_critical))
        return SGP32_ERR_CERT_POLICY;

    if (cert->aki.len == 0)
        return SGP32_ERR_CERT_CHAIN;
    const sgp32_ci_entry *ci = sgp32_ci_set_find(cis, cert->aki.id, cert->aki.len);
    if (!ci)
        return SGP32_ERR_CERT_UNKNOWN_CI;
    sgp32_bytes ci_der = SGP32_BYTES(ci->der, ci->der_len);
    bool known = sgp32_certi_link_known(der, ci_der);
    if (!known && (rc = ci_signed(ci, x)))
        return rc;
    if ((rc = check_link(known, &x->leaf, cert, &x->ci, &ci->cert)))
        return rc;
    if ((rc = check_link_signature(known, &x->leaf, der, ci_der, &ci->cert.public_key)))
        return rc;

    if (cert->unknown_critical_extension || cert->is_ca)
        return SGP32_ERR_CERT_EXTENSION;
    if (cert->has_key_usage ? !(cert->key_usage & SGP32_CERT_KU_DIGITAL_SIGNATURE) : !tls)
        return SGP32_ERR_CERT_EXTENSION;
    if (!tls && cert->registered_id.der_len == 0)
        return SGP32_ERR_CERT_EXTENSION; /* no SM-DP+ OID */
    if (tls && cert->has_ext_key_usage && !(cert->ext_key_usage & SGP32_CERT_EKU_SERVER_AUTH))
        return SGP32_ERR_CERT_EXTENSION;

    if ((rc = check_dates(&ci->cert, now)) || (rc = check_dates(cert, now)))
        return rc;
    if (host && !sgp32_cert_matches_host(cert, host))
        return SGP32_ERR_CERT_HOST_MISMATCH;
    return SGP32_OK;
}

int sgp32_cert_verify_dp(const sgp32_ci_set *cis, sgp32_bytes cert, sgp32_cert_role role, const char *host,
                         int64_t now, sgp32_certificate *out)
{
    if (!cis || !cert.data)
        return SGP32_ERR_INVALID_ARGUMENT;
    if (role != SGP32_CERT_ROLE_DP_AUTH && role != SGP32_CERT_ROLE_DP_PB && role != SGP32_CERT_ROLE_DP_TLS &&
        role != SGP32_CERT_ROLE_DS_AUTH && role != SGP32_CERT_ROLE_DS_TLS)
        return SGP32_ERR_INVALID_ARGUMENT;
    if (host && !is_tls_role(role))
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_certificate *result = out ? out : sgp32_alloc(sizeof(*result));
    chain_signed *x = sgp32_alloc(sizeof(*x));
    int rc = result && x ? ci_issued(cis, cert, role, host, now, result, x) : SGP32_ERR_NO_MEMORY;
    sgp32_free(x, sizeof(*x));
    if (!out)
        sgp32_free(result, sizeof(*result));
    return rc;
}

static int issued_by(sgp32_bytes der, sgp32_bytes issuer_der, int64_t now, sgp32_certificate *cert,
                     sgp32_certificate *issuer, chain_signed *x)
{
    int rc;
    if ((rc = sgp32_certi_parse(der.data, der.len, cert, &x->leaf)) ||
        (rc = sgp32_certi_parse(issuer_der.data, issuer_der.len, issuer, &x->ci)))
        return rc;
    bool same = der.len == issuer_der.len && memcmp(der.data, issuer_der.data, der.len) == 0;

    if (cert->aki.len && issuer->ski.len && !key_id_equal(&cert->aki, &issuer->ski))
        return SGP32_ERR_CERT_CHAIN;
    if (!sgp32_certi_names_link(&x->leaf, &x->ci))
        return SGP32_ERR_CERT_CHAIN;
    if (!same && !may_sign_certificates(issuer))
        return SGP32_ERR_CERT_CHAIN;
    if ((rc = sgp32_certi_check_signature(&x->leaf, &issuer->public_key)))
        return rc;
    if (cert->unknown_critical_extension || issuer->unknown_critical_extension)
        return SGP32_ERR_CERT_EXTENSION;
    if ((rc = check_dates(issuer, now)) || (rc = check_dates(cert, now)))
        return rc;
    return SGP32_OK;
}

int sgp32_cert_verify_issued_by(sgp32_bytes cert, sgp32_bytes issuer, int64_t now, sgp32_certificate *out)
{
    if (!cert.data || !issuer.data)
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_certificate *result = out ? out : sgp32_alloc(sizeof(*result));
    sgp32_certificate *issuer_cert = sgp32_alloc(sizeof(*issuer_cert));
    chain_signed *x = sgp32_alloc(sizeof(*x));
    int rc = result && issuer_cert && x ? issued_by(cert, issuer, now, result, issuer_cert, x)
                                        : SGP32_ERR_NO_MEMORY;
    sgp32_free(x, sizeof(*x));
    sgp32_free(issuer_cert, sizeof(*issuer_cert));
    if (!out)
        sgp32_free(result, sizeof(*result));
    return rc;
}

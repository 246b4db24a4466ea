/*
 * Issue eSIM certificates for test PKIs (include/sgp32/certificate.h).
 *
 * Each profile writes the extensions SGP.26 uses for that role (SGP.22
 * §4.5): the role as a critical certificatePolicies OID (non-critical for
 * DPtls, as in SGP.26, so generic TLS stacks accept it), SKI = SHA-1 of the
 * public key and AKI = the issuer's SKI for chain building, the SM-DP+ OID as
 * SAN registeredID, the EID as eUICC subject serialNumber, and the EUM's
 * permitted EID range as a critical nameConstraints directoryName subtree
 * (O + serialNumber prefix). TLS certificates also get serverAuth/clientAuth
 * and dNSNames so OpenSSL accepts them as real server certificates.
 * Validity is written with UTCTime before 2050 and GeneralizedTime from then
 * on (RFC 5280 §4.1.2.5); serial numbers are 16 random bytes.
 */
#include <string.h>

#include "certificate_internal.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

enum { SERIAL_LEN = 16 };

static bool has_text(const char *s)
{
    return s && s[0] != '\0';
}

static int add_name_entry(X509_NAME *name, int nid, const char *text)
{
    if (!has_text(text))
        return SGP32_OK;
    if (X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8, (const unsigned char *)text, -1, -1, 0) != 1)
        return SGP32_ERR_INVALID_ARGUMENT; /* e.g. a country that is not two letters */
    return SGP32_OK;
}

static int build_subject(const sgp32_cert_request *req, X509_NAME *name)
{
    int rc;
    if ((rc = add_name_entry(name, NID_countryName, req->country)) ||
        (rc = add_name_entry(name, NID_organizationName, req->organization)) ||
        (rc = add_name_entry(name, NID_organizationalUnitName, req->organizational_unit)) ||
        (rc = add_name_entry(name, NID_serialNumber, req->serial_number)) ||
        (rc = add_name_entry(name, NID_commonName, req->common_name)))
        return rc;
    return X509_NAME_entry_count(name) > 0 ? SGP32_OK : SGP32_ERR_INVALID_ARGUMENT;
}

static int set_random_serial(X509 *x)
{
    uint8_t bytes[SERIAL_LEN];
    if (RAND_bytes(bytes, sizeof(bytes)) != 1)
        return SGP32_ERR_CRYPTO;
    bytes[0] = (uint8_t)((bytes[0] & 0x7F) | 0x40); /* positive, always 16 bytes */
    int rc = SGP32_ERR_CRYPTO;
    BIGNUM *bn = BN_bin2bn(bytes, sizeof(bytes), NULL);
    ASN1_INTEGER *serial = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    if (serial && X509_set_serialNumber(x, serial) == 1)
        rc = SGP32_OK;
    ASN1_INTEGER_free(serial);
    BN_free(bn);
    return rc;
}

static int set_validity(X509 *x, int64_t not_before, int64_t not_after)
{
    if (not_before > not_after)
        return SGP32_ERR_INVALID_ARGUMENT;
    ASN1_TIME *nb = sgp32_certi_time_from_unix(not_before);
    ASN1_TIME *na = sgp32_certi_time_from_unix(not_after);
    int rc = SGP32_ERR_INVALID_ARGUMENT; /* outside 1950 .. 9999 */
    if (nb && na)
        rc = X509_set1_notBefore(x, nb) == 1 && X509_set1_notAfter(x, na) == 1 ? SGP32_OK : SGP32_ERR_CRYPTO;
    ASN1_TIME_free(nb);
    ASN1_TIME_free(na);
    return rc;
}

/* Add an extension from its OpenSSL structure and free the structure. */
static int add_ext(X509 *x, int nid, void *value, void (*free_value)(void *), bool critical)
{
    if (!value)
        return SGP32_ERR_CRYPTO;
    int ok = X509_add1_ext_i2d(x, nid, value, critical ? 1 : 0, X509V3_ADD_DEFAULT);
    free_value(value);
    return ok == 1 ? SGP32_OK : SGP32_ERR_CRYPTO;
}

static void free_octet_string(void *p)
{
    ASN1_OCTET_STRING_free(p);
}
static void free_aki(void *p)
{
    AUTHORITY_KEYID_free(p);
}
static void free_bit_string(void *p)
{
    ASN1_BIT_STRING_free(p);
}
static void free_eku(void *p)
{
    EXTENDED_KEY_USAGE_free(p);
}
static void free_basic_constraints(void *p)
{
    BASIC_CONSTRAINTS_free(p);
}
static void free_policies(void *p)
{
    CERTIFICATEPOLICIES_free(p);
}
static void free_general_names(void *p)
{
    GENERAL_NAMES_free(p);
}
static void free_name_constraints(void *p)
{
    NAME_CONSTRAINTS_free(p);
}

static int add_ski(X509 *x)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (X509_pubkey_digest(x, EVP_sha1(), md, &md_len) != 1)
        return SGP32_ERR_CRYPTO;
    ASN1_OCTET_STRING *ski = ASN1_OCTET_STRING_new();
    if (ski && ASN1_OCTET_STRING_set(ski, md, (int)md_len) != 1) {
        ASN1_OCTET_STRING_free(ski);
        ski = NULL;
    }
    return add_ext(x, NID_subject_key_identifier, ski, free_octet_string, false);
}

static int add_aki(X509 *x, const sgp32_cert_key_id *issuer_ski)
{
    AUTHORITY_KEYID *aki = AUTHORITY_KEYID_new();
    if (aki && (!(aki->keyid = ASN1_OCTET_STRING_new()) ||
                ASN1_OCTET_STRING_set(aki->keyid, issuer_ski->id, (int)issuer_ski->len) != 1)) {
        AUTHORITY_KEYID_free(aki);
        aki = NULL;
    }
    return add_ext(x, NID_authority_key_identifier, aki, free_aki, false);
}

static int add_key_usage(X509 *x, unsigned bits)
{
    ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
    for (int bit = 0; ku && bit < 9; bit++) {
        if ((bits & (1u << bit)) && ASN1_BIT_STRING_set_bit(ku, bit, 1) != 1) {
            ASN1_BIT_STRING_free(ku);
            ku = NULL;
        }
    }
    return add_ext(x, NID_key_usage, ku, free_bit_string, true);
}

static int add_tls_eku(X509 *x, bool critical)
{
    EXTENDED_KEY_USAGE *eku = sk_ASN1_OBJECT_new_null();
    if (eku && (!sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_server_auth)) ||
                !sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_client_auth)))) {
        EXTENDED_KEY_USAGE_free(eku);
        eku = NULL;
    }
    return add_ext(x, NID_ext_key_usage, eku, free_eku, critical);
}

static int add_basic_constraints(X509 *x, int path_len)
{
    BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
    if (bc) {
        bc->ca = 0xFF;
        if (path_len >= 0 &&
            (!(bc->pathlen = ASN1_INTEGER_new()) || ASN1_INTEGER_set(bc->pathlen, path_len) != 1)) {
            BASIC_CONSTRAINTS_free(bc);
            bc = NULL;
        }
    }
    return add_ext(x, NID_basic_constraints, bc, free_basic_constraints, true);
}

static int add_role_policy(X509 *x, sgp32_cert_role role, bool critical)
{
    char oid[SGP32_CERT_OID_TEXT_MAX];
    memcpy(oid, SGP32_CERTI_OID_ROLE_PREFIX, sizeof(SGP32_CERTI_OID_ROLE_PREFIX));
    size_t n = strlen(oid);
    oid[n] = (char)('0' + (int)role);
    oid[n + 1] = '\0';

    CERTIFICATEPOLICIES *policies = sk_POLICYINFO_new_null();
    POLICYINFO *info = POLICYINFO_new();
    if (policies && info) {
        ASN1_OBJECT_free(info->policyid);
        info->policyid = OBJ_txt2obj(oid, 1);
        if (info->policyid && sk_POLICYINFO_push(policies, info))
            info = NULL;
    }
    if (info) {
        POLICYINFO_free(info);
        CERTIFICATEPOLICIES_free(policies);
        policies = NULL;
    }
    return add_ext(x, NID_certificate_policies, policies, free_policies, critical);
}

static int push_general_name(GENERAL_NAMES *names, int type, void *value)
{
    GENERAL_NAME *gn = value ? GENERAL_NAME_new() : NULL;
    if (!gn)
        return 0;
    GENERAL_NAME_set0_value(gn, type, value);
    if (!sk_GENERAL_NAME_push(names, gn)) {
        GENERAL_NAME_free(gn);
        return 0;
    }
    return 1;
}

/* SAN: dNSNames then registeredID (the SGP.26 DPtls order). */
static int add_san(X509 *x, const sgp32_cert_request *req)
{
    if (req->dns_count == 0 && !has_text(req->registered_id))
        return SGP32_OK;
    GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
    if (!names)
        return SGP32_ERR_CRYPTO;
    int rc = SGP32_OK;
    for (size_t i = 0; i < req->dns_count && rc == SGP32_OK; i++) {
        ASN1_IA5STRING *s = ASN1_IA5STRING_new();
        if (s && ASN1_STRING_set(s, req->dns_names[i], -1) != 1) {
            ASN1_IA5STRING_free(s);
            s = NULL;
        }
        if (!push_general_name(names, GEN_DNS, s)) {
            ASN1_IA5STRING_free(s);
            rc = SGP32_ERR_CRYPTO;
        }
    }
    if (rc == SGP32_OK && has_text(req->registered_id)) {
        ASN1_OBJECT *rid = OBJ_txt2obj(req->registered_id, 1);
        if (!rid)
            rc = SGP32_ERR_INVALID_ARGUMENT;
        else if (!push_general_name(names, GEN_RID, rid)) {
            ASN1_OBJECT_free(rid);
            rc = SGP32_ERR_CRYPTO;
        }
    }
    if (rc) {
        GENERAL_NAMES_free(names);
        return rc;
    }
    return add_ext(x, NID_subject_alt_name, names, free_general_names, false);
}

/* nameConstraints: permitted directoryName {O, serialNumber prefix} (SGP.26 EUM). */
static int add_name_constraints(X509 *x, const sgp32_cert_request *req)
{
    X509_NAME *dir = X509_NAME_new();
    if (!dir)
        return SGP32_ERR_CRYPTO;
    int rc;
    if ((rc = add_name_entry(dir, NID_organizationName, req->permitted_organization)) ||
        (rc = add_name_entry(dir, NID_serialNumber, req->permitted_serial_prefix))) {
        X509_NAME_free(dir);
        return rc;
    }
    NAME_CONSTRAINTS *nc = NAME_CONSTRAINTS_new();
    GENERAL_SUBTREE *subtree = GENERAL_SUBTREE_new();
    GENERAL_NAME *base = GENERAL_NAME_new();
    if (nc && subtree && base && (nc->permittedSubtrees = sk_GENERAL_SUBTREE_new_null())) {
        GENERAL_NAME_set0_value(base, GEN_DIRNAME, dir);
        dir = NULL;
        GENERAL_NAME_free(subtree->base);
        subtree->base = base;
        base = NULL;
        if (sk_GENERAL_SUBTREE_push(nc->permittedSubtrees, subtree))
            subtree = NULL;
    }
    X509_NAME_free(dir);
    GENERAL_NAME_free(base);
    if (subtree) {
        GENERAL_SUBTREE_free(subtree);
        NAME_CONSTRAINTS_free(nc);
        nc = NULL;
    }
    return add_ext(x, NID_name_constraints, nc, free_name_constraints, true);
}

static int add_extensions(X509 *x, const sgp32_cert_request *req, const sgp32_certificate *issuer)
{
    int rc = add_ski(x);
    if (rc == SGP32_OK && issuer)
        rc = add_aki(x, &issuer->ski);
    if (rc)
        return rc;
    switch (req->profile) {
    case SGP32_CERT_PROFILE_CI:
        if ((rc = add_basic_constraints(x, -1)) || (rc = add_role_policy(x, SGP32_CERT_ROLE_CI, true)) ||
            (rc = add_key_usage(x, SGP32_CERT_KU_KEY_CERT_SIGN | SGP32_CERT_KU_CRL_SIGN)))
            return rc;
        break;
    case SGP32_CERT_PROFILE_EUM:
        if ((rc = add_key_usage(x, SGP32_CERT_KU_KEY_CERT_SIGN)) ||
            (rc = add_role_policy(x, SGP32_CERT_ROLE_EUM, true)) || (rc = add_basic_constraints(x, 0)) ||
            (rc = add_name_constraints(x, req)))
            return rc;
        break;
    case SGP32_CERT_PROFILE_EUICC:
        if ((rc = add_key_usage(x, SGP32_CERT_KU_DIGITAL_SIGNATURE)) ||
            (rc = add_role_policy(x, SGP32_CERT_ROLE_EUICC, true)))
            return rc;
        break;
    case SGP32_CERT_PROFILE_DP_AUTH:
    case SGP32_CERT_PROFILE_DP_PB: {
        sgp32_cert_role role =
            req->profile == SGP32_CERT_PROFILE_DP_AUTH ? SGP32_CERT_ROLE_DP_AUTH : SGP32_CERT_ROLE_DP_PB;
        if ((rc = add_key_usage(x, SGP32_CERT_KU_DIGITAL_SIGNATURE)) || (rc = add_role_policy(x, role, true)))
            return rc;
        break;
    }
    case SGP32_CERT_PROFILE_DP_TLS:
        if ((rc = add_key_usage(x, SGP32_CERT_KU_DIGITAL_SIGNATURE)) || (rc = add_tls_eku(x, true)) ||
            (rc = add_role_policy(x, SGP32_CERT_ROLE_DP_TLS, false)))
            return rc;
        break;
    case SGP32_CERT_PROFILE_EIM_SIGNING:
        if ((rc = add_key_usage(x, SGP32_CERT_KU_DIGITAL_SIGNATURE)))
            return rc;
        break;
    case SGP32_CERT_PROFILE_EIM_TLS:
        if ((rc = add_key_usage(x, SGP32_CERT_KU_DIGITAL_SIGNATURE)) || (rc = add_tls_eku(x, false)))
            return rc;
        break;
    }
    return add_san(x, req);
}

static int check_request(const sgp32_cert_request *req, const uint8_t *issuer_der)
{
    switch (req->profile) {
    case SGP32_CERT_PROFILE_CI:
        if (issuer_der)
            return SGP32_ERR_INVALID_ARGUMENT; /* a CI is self-signed */
        break;
    case SGP32_CERT_PROFILE_EUM:
        if (!has_text(req->permitted_organization) && !has_text(req->permitted_serial_prefix))
            return SGP32_ERR_INVALID_ARGUMENT;
        break;
    case SGP32_CERT_PROFILE_EUICC:
        if (!has_text(req->serial_number))
            return SGP32_ERR_INVALID_ARGUMENT; /* the EID */
        break;
    case SGP32_CERT_PROFILE_DP_AUTH:
    case SGP32_CERT_PROFILE_DP_PB:
        if (!has_text(req->registered_id))
            return SGP32_ERR_INVALID_ARGUMENT; /* the SM-DP+ OID */
        break;
    case SGP32_CERT_PROFILE_DP_TLS:
    case SGP32_CERT_PROFILE_EIM_TLS:
        if (req->dns_count == 0)
            return SGP32_ERR_INVALID_ARGUMENT;
        break;
    case SGP32_CERT_PROFILE_EIM_SIGNING: break;
    default: return SGP32_ERR_INVALID_ARGUMENT;
    }
    if (req->profile != SGP32_CERT_PROFILE_CI && (!issuer_der || !req->subject_key))
        return SGP32_ERR_INVALID_ARGUMENT;
    if (req->dns_count > SGP32_CERT_DNS_NAMES_MAX || (req->dns_count && !req->dns_names))
        return SGP32_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < req->dns_count; i++)
        if (!has_text(req->dns_names[i]) || strlen(req->dns_names[i]) >= SGP32_CERT_DNS_NAME_MAX)
            return SGP32_ERR_INVALID_ARGUMENT;
    return SGP32_OK;
}

typedef struct issue_state {
    EVP_PKEY *signer;
    EVP_PKEY *subject;
    X509 *issuer_x;
    X509 *x;
    sgp32_certificate *issuer;
} issue_state;

static int issue(const sgp32_cert_request *req, const uint8_t *issuer_der, size_t issuer_len,
                 const sgp32_ec_private_key *issuer_key, sgp32_buf *out, issue_state *s)
{
    sgp32_ec_public_key signer_pub;
    int rc;
    if ((rc = sgp32_ec_public_from_private(issuer_key, &signer_pub)) ||
        (rc = sgp32_crypto_pkey_from_private(issuer_key, &s->signer)))
        return rc;

    if (req->profile == SGP32_CERT_PROFILE_CI) {
        if (req->subject_key && (req->subject_key->curve != signer_pub.curve ||
                                 memcmp(req->subject_key->point, signer_pub.point, SGP32_EC_POINT_LEN) != 0))
            return SGP32_ERR_CRYPTO_BAD_KEY;
    } else {
        if (!(s->issuer = sgp32_alloc(sizeof(*s->issuer))))
            return SGP32_ERR_NO_MEMORY;
        if ((rc = sgp32_cert_parse(issuer_der, issuer_len, s->issuer)))
            return rc;
        if (s->issuer->public_key.curve != signer_pub.curve ||
            memcmp(s->issuer->public_key.point, signer_pub.point, SGP32_EC_POINT_LEN) != 0)
            return SGP32_ERR_CRYPTO_BAD_KEY; /* not the issuer's key */
        if (s->issuer->ski.len == 0)
            return SGP32_ERR_CERT_EXTENSION; /* nothing to put in the AKI */
        if (!(s->issuer_x = sgp32_certi_x509_from_der(issuer_der, issuer_len)))
            return SGP32_ERR_CERT_PARSE;
        if ((rc = sgp32_crypto_pkey_from_public(req->subject_key, &s->subject)))
            return rc;
    }

    if (!(s->x = X509_new()) || X509_set_version(s->x, X509_VERSION_3) != 1)
        return SGP32_ERR_CRYPTO;
    if ((rc = set_random_serial(s->x)) || (rc = build_subject(req, X509_get_subject_name(s->x))) ||
        (rc = set_validity(s->x, req->not_before, req->not_after)))
        return rc;
    const X509_NAME *issuer_name =
        s->issuer_x ? X509_get_subject_name(s->issuer_x) : X509_get_subject_name(s->x);
    if (X509_set_issuer_name(s->x, issuer_name) != 1 ||
        X509_set_pubkey(s->x, s->subject ? s->subject : s->signer) != 1)
        return SGP32_ERR_CRYPTO;
    if ((rc = add_extensions(s->x, req, s->issuer)))
        return rc;
    if (X509_sign(s->x, s->signer, EVP_sha256()) <= 0)
        return SGP32_ERR_CRYPTO;

    int len = i2d_X509(s->x, NULL);
    if (len <= 0)
        return SGP32_ERR_CRYPTO;
    uint8_t *p;
    if ((rc = sgp32_buf_extend(out, (size_t)len, &p)))
        return rc;
    if (i2d_X509(s->x, &p) != len) {
        out->len -= (size_t)len;
        return SGP32_ERR_CRYPTO;
    }
    return SGP32_OK;
}

int sgp32_cert_issue(const sgp32_cert_request *req, const uint8_t *issuer_der, size_t issuer_len,
                     const sgp32_ec_private_key *issuer_key, sgp32_buf *out)
{
    if (!req || !issuer_key || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    int rc = check_request(req, issuer_der);
    if (rc)
        return rc;
    issue_state s = {NULL, NULL, NULL, NULL, NULL};
    rc = issue(req, issuer_der, issuer_len, issuer_key, out, &s);
    X509_free(s.x);
    X509_free(s.issuer_x);
    EVP_PKEY_free(s.subject);
    EVP_PKEY_free(s.signer);
    sgp32_free(s.issuer, sizeof(*s.issuer));
    ERR_clear_error();
    return rc;
}

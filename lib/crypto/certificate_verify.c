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

int sgp32_certi_check_signature(X509 *x, const sgp32_ec_public_key *issuer_key)
{
    if (X509_get_signature_nid(x) != NID_ecdsa_with_SHA256)
        return SGP32_ERR_CERT_SIGNATURE;
    EVP_PKEY *pkey = NULL;
    int rc = sgp32_crypto_pkey_public_cached(issuer_key, &pkey);
    if (rc)
        return rc;
    int ok = X509_verify(x, pkey);
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    return ok == 1 ? SGP32_OK : SGP32_ERR_CERT_SIGNATURE;
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

/* child names parent as its issuer, by AKI -> SKI and by distinguished name; child_x NULL: the
 * link cache already vouches for the names (and the signature) of exactly these two DERs. */
static int check_link(X509 *child_x, const sgp32_certificate *child, X509 *parent_x,
                      const sgp32_certificate *parent)
{
    if (!key_id_equal(&child->aki, &parent->ski))
        return SGP32_ERR_CERT_CHAIN;
    if (child_x && X509_NAME_cmp(X509_get_issuer_name(child_x), X509_get_subject_name(parent_x)) != 0)
        return SGP32_ERR_CERT_CHAIN;
    return SGP32_OK;
}

/* The signature of child under parent's key; remembered (with the name link checked before) when
 * it verifies. known: the link cache had it, nothing to do. */
static int check_link_signature(bool known, X509 *child_x, sgp32_bytes child_der, sgp32_bytes parent_der,
                                const sgp32_ec_public_key *parent_key)
{
    if (known)
        return SGP32_OK;
    int rc = sgp32_certi_check_signature(child_x, parent_key);
    if (rc == SGP32_OK)
        sgp32_certi_link_remember(child_der, parent_der);
    return rc;
}

/* d2i for a link that the cache does not vouch for (once). */
static int need_x509(X509 **x, sgp32_bytes der)
{
    if (!*x)
        *x = sgp32_certi_x509_from_der(der.data, der.len);
    return *x ? SGP32_OK : SGP32_ERR_CERT_PARSE;
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

typedef struct chain_x509 {
    X509 *ci, *eum, *leaf;
} chain_x509;

static void chain_free(chain_x509 *c)
{
    X509_free(c->ci);
    X509_free(c->eum);
    X509_free(c->leaf);
    ERR_clear_error();
}

static int euicc_chain(const sgp32_ci_set *cis, sgp32_bytes eum_der, sgp32_bytes euicc_der, int64_t now,
                       const uint8_t *expected_eid, sgp32_euicc_chain *out, chain_x509 *x)
{
    sgp32_certificate *eum = &out->eum, *euicc = &out->euicc;
    int rc;
    if ((rc = sgp32_cert_parse(eum_der.data, eum_der.len, eum)) ||
        (rc = sgp32_cert_parse(euicc_der.data, euicc_der.len, euicc)))
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
    if ((!eum_known && ((rc = need_x509(&x->eum, eum_der)) || (rc = need_x509(&x->ci, ci_der)))) ||
        (!leaf_known && ((rc = need_x509(&x->leaf, euicc_der)) || (rc = need_x509(&x->eum, eum_der)))))
        return rc;

    /* Links. */
    if ((rc = check_link(eum_known ? NULL : x->eum, eum, x->ci, &ci->cert)) ||
        (rc = check_link(leaf_known ? NULL : x->leaf, euicc, x->eum, eum)))
        return rc;
    if (!may_sign_certificates(eum))
        return SGP32_ERR_CERT_CHAIN;

    /* Signatures. */
    if ((rc = check_link_signature(eum_known, x->eum, eum_der, ci_der, &ci->cert.public_key)) ||
        (rc = check_link_signature(leaf_known, x->leaf, euicc_der, eum_der, &eum->public_key)))
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
    if (!result)
        return SGP32_ERR_NO_MEMORY;
    chain_x509 x = {NULL, NULL, NULL};
    int rc = euicc_chain(cis, eum, euicc, now, expected_eid, result, &x);
    chain_free(&x);
    if (!out)
        sgp32_free(result, sizeof(*result));
    return rc;
}

static bool is_tls_role(sgp32_cert_role role)
{
    return role == SGP32_CERT_ROLE_DP_TLS || role == SGP32_CERT_ROLE_DS_TLS;
}

static int ci_issued(const sgp32_ci_set *cis, sgp32_bytes der, sgp32_cert_role role, const char *host,
                     int64_t now, sgp32_certificate *cert, chain_x509 *x)
{
    int rc = sgp32_cert_parse(der.data, der.len, cert);
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
    if (!known && ((rc = need_x509(&x->leaf, der)) || (rc = need_x509(&x->ci, ci_der))))
        return rc;
    if ((rc = check_link(known ? NULL : x->leaf, cert, x->ci, &ci->cert)))
        return rc;
    if ((rc = check_link_signature(known, x->leaf, der, ci_der, &ci->cert.public_key)))
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
    if (!result)
        return SGP32_ERR_NO_MEMORY;
    chain_x509 x = {NULL, NULL, NULL};
    int rc = ci_issued(cis, cert, role, host, now, result, &x);
    chain_free(&x);
    if (!out)
        sgp32_free(result, sizeof(*result));
    return rc;
}

static int issued_by(sgp32_bytes der, sgp32_bytes issuer_der, int64_t now, sgp32_certificate *cert,
                     sgp32_certificate *issuer, chain_x509 *x)
{
    int rc;
    if ((rc = sgp32_cert_parse(der.data, der.len, cert)) ||
        (rc = sgp32_cert_parse(issuer_der.data, issuer_der.len, issuer)))
        return rc;
    x->leaf = sgp32_certi_x509_from_der(der.data, der.len);
    x->ci = sgp32_certi_x509_from_der(issuer_der.data, issuer_der.len);
    if (!x->leaf || !x->ci)
        return SGP32_ERR_CERT_PARSE;
    bool same = der.len == issuer_der.len && memcmp(der.data, issuer_der.data, der.len) == 0;

    if (cert->aki.len && issuer->ski.len && !key_id_equal(&cert->aki, &issuer->ski))
        return SGP32_ERR_CERT_CHAIN;
    if (X509_NAME_cmp(X509_get_issuer_name(x->leaf), X509_get_subject_name(x->ci)) != 0)
        return SGP32_ERR_CERT_CHAIN;
    if (!same && !may_sign_certificates(issuer))
        return SGP32_ERR_CERT_CHAIN;
    if ((rc = sgp32_certi_check_signature(x->leaf, &issuer->public_key)))
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
    int rc = SGP32_ERR_NO_MEMORY;
    if (result && issuer_cert) {
        chain_x509 x = {NULL, NULL, NULL};
        rc = issued_by(cert, issuer, now, result, issuer_cert, &x);
        chain_free(&x);
    }
    sgp32_free(issuer_cert, sizeof(*issuer_cert));
    if (!out)
        sgp32_free(result, sizeof(*result));
    return rc;
}

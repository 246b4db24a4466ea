/*
 * The CI trust set (include/sgp32/certificate.h).
 *
 * SGP.22 §4.5 / NOTES §6.3: every party trusts a list of GSMA CIs identified by
 * their PKID, which is the CI certificate's SubjectKeyIdentifier; chains are
 * anchored by looking up the EUM's (or SM-DP+'s) AuthorityKeyIdentifier in that
 * list. A CI enters the set only when it is what it claims: CI role policy,
 * CA:TRUE, an SKI, and a self-signature that verifies.
 */
#include <string.h>

#include "certificate_internal.h"
#include "sgp32/alloc.h"

void sgp32_ci_set_init(sgp32_ci_set *set)
{
    memset(set, 0, sizeof(*set));
}

const sgp32_ci_entry *sgp32_ci_set_find(const sgp32_ci_set *set, const uint8_t *pkid, size_t pkid_len)
{
    if (!set || !pkid || pkid_len == 0)
        return NULL;
    for (size_t i = 0; i < set->count; i++) {
        const sgp32_ci_entry *e = &set->entries[i];
        if (e->cert.ski.len == pkid_len && memcmp(e->cert.ski.id, pkid, pkid_len) == 0)
            return e;
    }
    return NULL;
}

/* A CI: its role, CA, an SKI (the PKID), self-issued and self-signed. */
static int check_ci(const uint8_t *der, size_t len, sgp32_certificate *cert)
{
    sgp32_certi_signed *self = sgp32_alloc(sizeof(*self));
    int rc = self ? sgp32_certi_parse(der, len, cert, self) : SGP32_ERR_NO_MEMORY;
    if (!rc && (cert->role != SGP32_CERT_ROLE_CI || !cert->role_critical))
        rc = SGP32_ERR_CERT_POLICY;
    if (!rc && (cert->ski.len == 0 || !cert->has_basic_constraints || !cert->is_ca))
        rc = SGP32_ERR_CERT_EXTENSION;
    if (!rc && !cert->self_issued)
        rc = SGP32_ERR_CERT_CHAIN;
    if (!rc)
        rc = sgp32_certi_check_signature(self, &cert->public_key);
    sgp32_free(self, sizeof(*self));
    return rc;
}

int sgp32_ci_set_add(sgp32_ci_set *set, const uint8_t *der, size_t len)
{
    if (!set || !der || len == 0)
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_ci_entry *e = set->count < SGP32_CI_SET_MAX ? &set->entries[set->count] : NULL;
    sgp32_certificate scratch;
    sgp32_certificate *cert = e ? &e->cert : &scratch;
    int rc = check_ci(der, len, cert);
    if (rc == SGP32_OK) {
        const sgp32_ci_entry *old = sgp32_ci_set_find(set, cert->ski.id, cert->ski.len);
        if (old)
            rc = old->der_len == len && memcmp(old->der, der, len) == 0 ? SGP32_OK
                                                                        : SGP32_ERR_INVALID_ARGUMENT;
        else if (!e)
            rc = SGP32_ERR_CAPACITY;
        else if (!(e->der = sgp32_alloc(len)))
            rc = SGP32_ERR_NO_MEMORY;
        else {
            memcpy(e->der, der, len);
            e->der_len = len;
            set->count++;
            return SGP32_OK;
        }
    }
    if (e)
        memset(e, 0, sizeof(*e));
    return rc;
}

void sgp32_ci_set_free(sgp32_ci_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->count; i++)
        sgp32_free(set->entries[i].der, set->entries[i].der_len);
    memset(set, 0, sizeof(*set));
}

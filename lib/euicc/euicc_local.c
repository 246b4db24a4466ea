/*
 * Helpers of the local ES10 functions: state changes that are written before the answer and
 * undone when the write fails, profile removal in two steps, the one-result response.
 * See euicc_local.h for why.
 */
#include <string.h>

#include "euicc_local.h"

int euicc_change_begin(sgp32_euicc *euicc, euicc_change *change)
{
    memset(change, 0, sizeof(*change));
    change->before = sgp32_alloc(sizeof(euicc_state));
    if (!change->before)
        return SGP32_ERR_NO_MEMORY;
    memcpy(change->before, &euicc->state, sizeof(euicc_state));
    return SGP32_OK;
}

static void change_free(euicc_change *change)
{
    if (change->before) {
        sgp32_secure_zero(change->before, sizeof(euicc_state));
        sgp32_free(change->before, sizeof(euicc_state));
    }
    change->before = NULL;
}

void euicc_change_abort(sgp32_euicc *euicc, euicc_change *change)
{
    if (change->before)
        memcpy(&euicc->state, change->before, sizeof(euicc_state));
    change_free(change);
    change->deleted_count = 0;
}

int euicc_change_commit(sgp32_euicc *euicc, euicc_change *change)
{
    int rc = euicc_state_save(euicc);
    if (rc) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log, "state not stored (%s): the change is undone",
                  sgp32_err_str(rc));
        euicc_change_abort(euicc, change);
        return rc;
    }
    for (size_t i = 0; i < change->deleted_count; i++) {
        (void)euicc_remove_profile_elements(euicc, change->deleted_iccids[i]);
        if (euicc->has_last_installed &&
            memcmp(euicc->last_installed_iccid, change->deleted_iccids[i], 10) == 0)
            euicc->has_last_installed = false;
    }
    change_free(change);
    change->deleted_count = 0;
    return SGP32_OK;
}

void euicc_change_delete_profile(sgp32_euicc *euicc, euicc_change *change, euicc_profile *profile,
                                 bool drop_notifications)
{
    euicc_state *s = &euicc->state;
    uint8_t iccid[10];
    memcpy(iccid, profile->iccid, 10);
    if (profile->fallback_attribute && s->fallback_active) {
        s->fallback_active = false;
        s->has_fallback_return_iccid = false;
    }
    if (profile->ecall_indication && s->emergency_active) {
        s->emergency_active = false;
        s->has_emergency_return_iccid = false;
    }
    if (s->has_fallback_return_iccid && memcmp(s->fallback_return_iccid, iccid, 10) == 0)
        s->has_fallback_return_iccid = false;
    if (s->has_emergency_return_iccid && memcmp(s->emergency_return_iccid, iccid, 10) == 0)
        s->has_emergency_return_iccid = false;
    if (s->has_rollback_iccid && memcmp(s->rollback_iccid, iccid, 10) == 0) {
        s->has_rollback_iccid = false;
        s->rollback_allowed = false; /* there is nothing left to roll back to */
    }
    if (drop_notifications) {
        size_t kept = 0;
        for (size_t i = 0; i < s->pending_count; i++) {
            const euicc_pending *p = &s->pending[i];
            bool of_profile =
                p->kind != EUICC_PENDING_PACKAGE_RESULT && p->has_iccid && memcmp(p->iccid, iccid, 10) == 0;
            if (!of_profile) {
                if (kept != i)
                    s->pending[kept] = s->pending[i];
                kept++;
            }
        }
        for (size_t i = kept; i < s->pending_count; i++)
            memset(&s->pending[i], 0, sizeof(s->pending[i]));
        s->pending_count = (uint8_t)kept;
    }

    size_t index = (size_t)(profile - s->profiles);
    memmove(&s->profiles[index], &s->profiles[index + 1],
            (s->profile_count - index - 1) * sizeof(euicc_profile));
    s->profile_count--;
    memset(&s->profiles[s->profile_count], 0, sizeof(euicc_profile));
    if (change->deleted_count < EUICC_MAX_PROFILES)
        memcpy(change->deleted_iccids[change->deleted_count++], iccid, 10);
}

euicc_profile *euicc_emergency_profile(sgp32_euicc *euicc)
{
    for (size_t i = 0; i < euicc->state.profile_count; i++)
        if (euicc->state.profiles[i].ecall_indication)
            return &euicc->state.profiles[i];
    return NULL;
}

euicc_profile *euicc_fallback_profile(sgp32_euicc *euicc)
{
    for (size_t i = 0; i < euicc->state.profile_count; i++)
        if (euicc->state.profiles[i].fallback_attribute)
            return &euicc->state.profiles[i];
    return NULL;
}

void euicc_settle_special_states(sgp32_euicc *euicc)
{
    euicc_state *s = &euicc->state;
    const euicc_profile *fallback = euicc_fallback_profile(euicc);
    if (s->fallback_active && !(fallback && fallback->enabled)) {
        s->fallback_active = false;
        s->has_fallback_return_iccid = false;
    }
    const euicc_profile *emergency = euicc_emergency_profile(euicc);
    if (s->emergency_active && !(emergency && emergency->enabled)) {
        s->emergency_active = false;
        s->has_emergency_return_iccid = false;
    }
}

int euicc_write_result(sgp32_buf *out, uint32_t tag, int64_t code)
{
    size_t mark = sgp32_asn1_begin(out);
    int rc = sgp32_asn1_write_integer(out, 0x80, code);
    return rc ? rc : sgp32_asn1_end(out, tag, mark);
}

bool euicc_profile_preloaded(const sgp32_euicc *euicc, const euicc_profile *profile)
{
    if (profile->smdp_oid_len)
        return false; /* an SM-DP+ installed it */
    for (size_t i = 0; i < euicc->config.preloaded_count; i++) {
        uint8_t iccid[10];
        if (euicc_iccid_from_text(euicc->config.preloaded[i].iccid, iccid) == SGP32_OK &&
            memcmp(iccid, profile->iccid, 10) == 0)
            return true;
    }
    return false;
}

const uint8_t euicc_svn[3] = {2, 5, 0};

void euicc_get_ci_lists(const sgp32_euicc *euicc, euicc_ci_lists *lists)
{
    memset(lists, 0, sizeof(*lists));
    for (size_t i = 0; i < euicc->trusted_cis.count && lists->verification_count < SGP32_CI_SET_MAX; i++) {
        const sgp32_cert_key_id *ski = &euicc->trusted_cis.entries[i].cert.ski;
        lists->verification[lists->verification_count++] = SGP32_BYTES(ski->id, ski->len);
    }
    for (size_t i = 0; i < euicc->config.identity_count && i < SGP32_EUICC_MAX_IDENTITIES; i++) {
        const sgp32_cert_key_id *aki = &euicc->identity_eum_certs[i].aki;
        bool seen = aki->len == 0;
        for (size_t j = 0; j < lists->signing_count && !seen; j++)
            seen = sgp32_bytes_equal(lists->signing[j], SGP32_BYTES(aki->id, aki->len));
        if (!seen)
            lists->signing[lists->signing_count++] = SGP32_BYTES(aki->id, aki->len);
    }
}

/*
 * ES10b.ImmediateEnable (SGP.32 §5.9.15, procedure §3.2.4): BF5A { 80 refreshFlag } ->
 * BF5A { 80 result }: ok 0, immediateEnableNotAvailable 1, noSessionContext 4, catBusy 5,
 * undefinedError 127.
 *
 * Why: after a download the IPA may enable the new profile at once, without a round trip to the
 * eIM, if immediate enable was configured (ConfigureImmediateProfileEnabling or the
 * configureImmediateEnable PSMO). The profile is the one the last download installed
 * (last_installed_iccid, a session value: a card reset or a successful ImmediateEnable ends it,
 * after which the answer is noSessionContext). Choices where SGP.32 leaves room (NOTES §8.1):
 *   - when a default SM-DP+ OID is configured, only a profile installed by that SM-DP+ qualifies
 *     (immediateEnableNotAvailable otherwise);
 *   - while the emergency profile is enabled the switch is refused (immediateEnableNotAvailable):
 *     an eCall must not lose its profile;
 *   - a profile already enabled answers ok.
 * The switch (disable and enable notifications) is written to the NVM before the answer. The
 * refreshFlag only decides whether the device gets a REFRESH; it is logged.
 */
#include <string.h>

#include "euicc_local.h"

int es10b_immediate_enable(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, EUICC_LOCAL_ARENA);
    sgp32_immediate_enable_request req = {0};
    int rc = euicc_decode(euicc, &sgp32_type_immediate_enable_request, request, len, &arena, &req);
    sgp32_arena_free(&arena);
    if (rc)
        return rc;

    euicc_state *s = &euicc->state;
    euicc_profile *target =
        euicc->has_last_installed ? euicc_find_profile_by_iccid(euicc, euicc->last_installed_iccid) : NULL;
    int64_t result = SGP32_IMMEDIATE_ENABLE_RESPONSE_IMMEDIATE_ENABLE_RESULT_OK;
    const char *what = "enabled";
    euicc_change change;
    if (!s->immediate_enable_flag) {
        result = SGP32_IMMEDIATE_ENABLE_RESPONSE_IMMEDIATE_ENABLE_RESULT_IMMEDIATE_ENABLE_NOT_AVAILABLE;
        what = "immediate enable is not configured";
    } else if (!target) {
        result = SGP32_IMMEDIATE_ENABLE_RESPONSE_IMMEDIATE_ENABLE_RESULT_NO_SESSION_CONTEXT;
        what = "no profile from a download in this session";
    } else if (s->immediate_default_smdp_oid_len && target->smdp_oid_len &&
               (target->smdp_oid_len != s->immediate_default_smdp_oid_len ||
                memcmp(target->smdp_oid, s->immediate_default_smdp_oid, target->smdp_oid_len) != 0)) {
        result = SGP32_IMMEDIATE_ENABLE_RESPONSE_IMMEDIATE_ENABLE_RESULT_IMMEDIATE_ENABLE_NOT_AVAILABLE;
        what = "the profile is not from the configured SM-DP+";
    } else if (s->emergency_active) {
        result = SGP32_IMMEDIATE_ENABLE_RESPONSE_IMMEDIATE_ENABLE_RESULT_IMMEDIATE_ENABLE_NOT_AVAILABLE;
        what = "the emergency profile is enabled";
    } else if (target->enabled) {
        euicc->has_last_installed = false;
        what = "already enabled";
    } else if (euicc_change_begin(euicc, &change) != SGP32_OK) {
        result = SGP32_IMMEDIATE_ENABLE_RESPONSE_IMMEDIATE_ENABLE_RESULT_UNDEFINED_ERROR;
        what = "no memory";
    } else {
        rc = euicc_switch_profile(euicc, target);
        euicc_settle_special_states(euicc);
        if (rc)
            euicc_change_abort(euicc, &change);
        else
            rc = euicc_change_commit(euicc, &change);
        if (rc) {
            result = SGP32_IMMEDIATE_ENABLE_RESPONSE_IMMEDIATE_ENABLE_RESULT_UNDEFINED_ERROR;
            what = "not stored";
        } else {
            euicc->has_last_installed = false; /* the session context is used up */
        }
    }
    sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log, "ImmediateEnable (refresh %s): result %lld, %s",
              req.refresh_flag ? "yes" : "no", (long long)result, what);
    return euicc_write_result(out, SGP32_TAG_IMMEDIATE_ENABLE_RESPONSE, result);
}

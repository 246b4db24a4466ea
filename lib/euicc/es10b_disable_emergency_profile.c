/*
 * ES10b.DisableEmergencyProfile (SGP.32 §5.9.23): BF5C { 80 refreshFlag }
 * -> BF5C { 80 result }: ok 0, profileNotInEnabledState 2, catBusy 5, undefinedError 127.
 *
 * Why: when the eCall is over the card goes back to the profile that was enabled before
 * EnableEmergencyProfile (if it still exists; otherwise the emergency profile is just disabled,
 * leaving no profile enabled). No emergency profile, or it is not enabled: profileNotInEnabledState.
 * The switch is written to the NVM before the answer; the refreshFlag is logged.
 */
#include "euicc_local.h"

int es10b_disable_emergency_profile(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, EUICC_LOCAL_ARENA);
    sgp32_disable_emergency_profile_request req = {0};
    int rc = euicc_decode(euicc, &sgp32_type_disable_emergency_profile_request, request, len, &arena, &req);
    sgp32_arena_free(&arena);
    if (rc)
        return rc;

    euicc_state *s = &euicc->state;
    euicc_profile *emergency = euicc_emergency_profile(euicc);
    int64_t result = SGP32_DISABLE_EMERGENCY_PROFILE_RESPONSE_DISABLE_EMERGENCY_PROFILE_RESULT_OK;
    euicc_change change;
    if (!emergency || !emergency->enabled) {
        result =
            SGP32_DISABLE_EMERGENCY_PROFILE_RESPONSE_DISABLE_EMERGENCY_PROFILE_RESULT_PROFILE_NOT_IN_ENABLED_STATE;
    } else if (euicc_change_begin(euicc, &change) != SGP32_OK) {
        result = SGP32_DISABLE_EMERGENCY_PROFILE_RESPONSE_DISABLE_EMERGENCY_PROFILE_RESULT_UNDEFINED_ERROR;
    } else {
        euicc_profile *previous = s->has_emergency_return_iccid
                                      ? euicc_find_profile_by_iccid(euicc, s->emergency_return_iccid)
                                      : NULL;
        rc = previous && previous != emergency ? euicc_switch_profile(euicc, previous)
                                               : euicc_disable_profile(euicc, emergency);
        s->emergency_active = false;
        s->has_emergency_return_iccid = false;
        if (rc)
            euicc_change_abort(euicc, &change);
        else
            rc = euicc_change_commit(euicc, &change);
        if (rc)
            result =
                SGP32_DISABLE_EMERGENCY_PROFILE_RESPONSE_DISABLE_EMERGENCY_PROFILE_RESULT_UNDEFINED_ERROR;
    }
    sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log,
              "DisableEmergencyProfile (refresh %s): result %lld", req.refresh_flag ? "yes" : "no",
              (long long)result);
    return euicc_write_result(out, SGP32_TAG_DISABLE_EMERGENCY_PROFILE_RESPONSE, result);
}

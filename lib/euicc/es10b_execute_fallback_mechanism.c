/*
 * ES10b.ExecuteFallbackMechanism (SGP.32 §5.9.20): BF5D { 80 refreshFlag }
 * -> BF5D { 80 result }: ok 0, profileNotInDisabledState 2, catBusy 5, fallbackNotAvailable 6,
 * commandError 7, ecallActive 104, undefinedError 127.
 *
 * Why: when the device loses connectivity on the enabled profile the IPA swaps in the profile
 * that carries the Fallback Attribute (9F26, set by the eIM's setFallbackAttribute PSMO); the card
 * remembers the profile it leaves so ReturnFromFallback can go back. No fallback profile:
 * fallbackNotAvailable; the fallback profile is enabled already: profileNotInDisabledState; an
 * eCall in progress (emergency profile enabled) takes precedence: ecallActive. The switch is
 * written to the NVM before the answer; the refreshFlag is logged.
 */
#include <string.h>

#include "euicc_local.h"

int es10b_execute_fallback_mechanism(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, EUICC_LOCAL_ARENA);
    sgp32_execute_fallback_mechanism_request req = {0};
    int rc = euicc_decode(euicc, &sgp32_type_execute_fallback_mechanism_request, request, len, &arena, &req);
    sgp32_arena_free(&arena);
    if (rc)
        return rc;

    euicc_state *s = &euicc->state;
    euicc_profile *fallback = euicc_fallback_profile(euicc);
    int64_t result = SGP32_EXECUTE_FALLBACK_MECHANISM_RESPONSE_EXECUTE_FALLBACK_MECHANISM_RESULT_OK;
    euicc_change change;
    if (s->emergency_active) {
        result = SGP32_EXECUTE_FALLBACK_MECHANISM_RESPONSE_EXECUTE_FALLBACK_MECHANISM_RESULT_ECALL_ACTIVE;
    } else if (!fallback) {
        result =
            SGP32_EXECUTE_FALLBACK_MECHANISM_RESPONSE_EXECUTE_FALLBACK_MECHANISM_RESULT_FALLBACK_NOT_AVAILABLE;
    } else if (fallback->enabled) {
        result =
            SGP32_EXECUTE_FALLBACK_MECHANISM_RESPONSE_EXECUTE_FALLBACK_MECHANISM_RESULT_PROFILE_NOT_IN_DISABLED_STATE;
    } else if (euicc_change_begin(euicc, &change) != SGP32_OK) {
        result = SGP32_EXECUTE_FALLBACK_MECHANISM_RESPONSE_EXECUTE_FALLBACK_MECHANISM_RESULT_UNDEFINED_ERROR;
    } else {
        const euicc_profile *current = euicc_enabled_profile(euicc);
        s->has_fallback_return_iccid = current != NULL;
        if (current)
            memcpy(s->fallback_return_iccid, current->iccid, 10);
        s->fallback_active = true;
        rc = euicc_switch_profile(euicc, fallback);
        if (rc)
            euicc_change_abort(euicc, &change);
        else
            rc = euicc_change_commit(euicc, &change);
        if (rc)
            result =
                SGP32_EXECUTE_FALLBACK_MECHANISM_RESPONSE_EXECUTE_FALLBACK_MECHANISM_RESULT_UNDEFINED_ERROR;
    }
    sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log,
              "ExecuteFallbackMechanism (refresh %s): result %lld", req.refresh_flag ? "yes" : "no",
              (long long)result);
    return euicc_write_result(out, SGP32_TAG_EXECUTE_FALLBACK_MECHANISM_RESPONSE, result);
}

/*
 * ES10b.ReturnFromFallback (SGP.32 §5.9.21): BF5E { 80 refreshFlag } ->
 * BF5E { 80 result }: ok 0, catBusy 5, fallbackNotAvailable 6, commandError 7, undefinedError 127.
 *
 * Why: once connectivity is back the IPA returns to the profile that was enabled before
 * ExecuteFallbackMechanism. No profile carries the Fallback Attribute: fallbackNotAvailable. The
 * fallback mechanism is not in effect (never executed, ended by another switch, or its fallback
 * profile is not the enabled one), there is no profile to return to any more, or an eCall holds
 * the emergency profile: commandError. The switch is written to the NVM before the answer; the
 * refreshFlag is logged.
 */
#include "euicc_local.h"

int es10b_return_from_fallback(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, EUICC_LOCAL_ARENA);
    sgp32_return_from_fallback_request req = {0};
    int rc = euicc_decode(euicc, &sgp32_type_return_from_fallback_request, request, len, &arena, &req);
    sgp32_arena_free(&arena);
    if (rc)
        return rc;

    euicc_state *s = &euicc->state;
    euicc_profile *fallback = euicc_fallback_profile(euicc);
    euicc_profile *previous =
        s->has_fallback_return_iccid ? euicc_find_profile_by_iccid(euicc, s->fallback_return_iccid) : NULL;
    int64_t result = SGP32_RETURN_FROM_FALLBACK_RESPONSE_RETURN_FROM_FALLBACK_RESULT_OK;
    euicc_change change;
    if (!fallback) {
        result = SGP32_RETURN_FROM_FALLBACK_RESPONSE_RETURN_FROM_FALLBACK_RESULT_FALLBACK_NOT_AVAILABLE;
    } else if (!s->fallback_active || !fallback->enabled || !previous || previous == fallback ||
               s->emergency_active) {
        result = SGP32_RETURN_FROM_FALLBACK_RESPONSE_RETURN_FROM_FALLBACK_RESULT_COMMAND_ERROR;
    } else if (euicc_change_begin(euicc, &change) != SGP32_OK) {
        result = SGP32_RETURN_FROM_FALLBACK_RESPONSE_RETURN_FROM_FALLBACK_RESULT_UNDEFINED_ERROR;
    } else {
        rc = euicc_switch_profile(euicc, previous);
        s->fallback_active = false;
        s->has_fallback_return_iccid = false;
        if (rc)
            euicc_change_abort(euicc, &change);
        else
            rc = euicc_change_commit(euicc, &change);
        if (rc)
            result = SGP32_RETURN_FROM_FALLBACK_RESPONSE_RETURN_FROM_FALLBACK_RESULT_UNDEFINED_ERROR;
    }
    sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log, "ReturnFromFallback (refresh %s): result %lld",
              req.refresh_flag ? "yes" : "no", (long long)result);
    return euicc_write_result(out, SGP32_TAG_RETURN_FROM_FALLBACK_RESPONSE, result);
}

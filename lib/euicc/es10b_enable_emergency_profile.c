/*
 * ES10b.EnableEmergencyProfile (SGP.32 §5.9.22): BF5B { 80 refreshFlag }
 * -> BF5B { 80 result }: ok 0, profileNotInDisabledState 2, catBusy 5, ecallNotAvailable 8,
 * undefinedError 127.
 *
 * Why: for an eCall the device swaps in the profile whose metadata carries ecallIndication
 * (9F7B), whatever the eIM configured; the card remembers which profile was enabled so that
 * DisableEmergencyProfile can return to it, and while the emergency profile is enabled eIM
 * packages, fallback and memory reset answer ecallActive. No such profile: ecallNotAvailable; it
 * is enabled already: profileNotInDisabledState. The switch and the remembered profile are written
 * to the NVM before the answer; the refreshFlag is logged (it decides the REFRESH).
 */
#include <string.h>

#include "euicc_local.h"

int es10b_enable_emergency_profile(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, EUICC_LOCAL_ARENA);
    sgp32_enable_emergency_profile_request req = {0};
    int rc = euicc_decode(euicc, &sgp32_type_enable_emergency_profile_request, request, len, &arena, &req);
    sgp32_arena_free(&arena);
    if (rc)
        return rc;

    euicc_state *s = &euicc->state;
    euicc_profile *emergency = euicc_emergency_profile(euicc);
    int64_t result = SGP32_ENABLE_EMERGENCY_PROFILE_RESPONSE_ENABLE_EMERGENCY_PROFILE_RESULT_OK;
    euicc_change change;
    if (!emergency) {
        result = SGP32_ENABLE_EMERGENCY_PROFILE_RESPONSE_ENABLE_EMERGENCY_PROFILE_RESULT_ECALL_NOT_AVAILABLE;
    } else if (emergency->enabled) {
        result =
            SGP32_ENABLE_EMERGENCY_PROFILE_RESPONSE_ENABLE_EMERGENCY_PROFILE_RESULT_PROFILE_NOT_IN_DISABLED_STATE;
    } else if (euicc_change_begin(euicc, &change) != SGP32_OK) {
        result = SGP32_ENABLE_EMERGENCY_PROFILE_RESPONSE_ENABLE_EMERGENCY_PROFILE_RESULT_UNDEFINED_ERROR;
    } else {
        const euicc_profile *current = euicc_enabled_profile(euicc);
        s->has_emergency_return_iccid = current != NULL;
        if (current)
            memcpy(s->emergency_return_iccid, current->iccid, 10);
        s->emergency_active = true;
        rc = euicc_switch_profile(euicc, emergency);
        if (rc)
            euicc_change_abort(euicc, &change);
        else
            rc = euicc_change_commit(euicc, &change);
        if (rc)
            result = SGP32_ENABLE_EMERGENCY_PROFILE_RESPONSE_ENABLE_EMERGENCY_PROFILE_RESULT_UNDEFINED_ERROR;
    }
    sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log,
              "EnableEmergencyProfile (refresh %s): result %lld", req.refresh_flag ? "yes" : "no",
              (long long)result);
    return euicc_write_result(out, SGP32_TAG_ENABLE_EMERGENCY_PROFILE_RESPONSE, result);
}

/*
 * ES10c.DeleteProfile (SGP.22 §5.7.18): BF33 { 4F aid | 5A iccid } -> BF33 { 80 deleteResult }:
 * ok 0, iccidOrAidNotFound 1, profileNotInDisabledState 2, disallowedByPolicy 3, undefinedError 127.
 *
 * Why it is refused by default: an SGP.32 IoT eUICC deletes profiles only on the eIM's signed
 * delete PSMO, so a local delete answers disallowedByPolicy (3) (see es10c_enable_profile.c). With
 * the test switch allow_es10c_profile_management it behaves as an SGP.22 card: not found 1, enabled
 * 2, ppr2 ("delete not allowed") 3. The delete notification is queued first (it needs the profile's
 * metadata), then the profile leaves the state; the state is written to the NVM before the answer
 * and the profile's stored elements are removed only after that write succeeded.
 */
#include "euicc_local.h"

int es10c_delete_profile(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, EUICC_LOCAL_ARENA);
    sgp32_delete_profile_request req = {0};
    int rc = euicc_decode(euicc, &sgp32_type_delete_profile_request, request, len, &arena, &req);
    sgp32_arena_free(&arena);
    if (rc)
        return rc;

    euicc_profile *target =
        req.choice == SGP32_DELETE_PROFILE_REQUEST_ICCID
            ? (req.u.iccid.len == 10 ? euicc_find_profile_by_iccid(euicc, req.u.iccid.data) : NULL)
            : euicc_find_profile_by_aid(euicc, req.u.isdp_aid.data, req.u.isdp_aid.len);
    int64_t result = SGP32_DELETE_PROFILE_RESPONSE_DELETE_RESULT_OK;
    euicc_change change;
    if (!euicc->config.allow_es10c_profile_management)
        result = SGP32_DELETE_PROFILE_RESPONSE_DELETE_RESULT_DISALLOWED_BY_POLICY;
    else if (!target)
        result = SGP32_DELETE_PROFILE_RESPONSE_DELETE_RESULT_ICCID_OR_AID_NOT_FOUND;
    else if (target->enabled)
        result = SGP32_DELETE_PROFILE_RESPONSE_DELETE_RESULT_PROFILE_NOT_IN_DISABLED_STATE;
    else if (target->has_ppr && (target->ppr & SGP32_PPR_IDS_PPR2))
        result = SGP32_DELETE_PROFILE_RESPONSE_DELETE_RESULT_DISALLOWED_BY_POLICY;
    else if (euicc_change_begin(euicc, &change) != SGP32_OK)
        result = SGP32_DELETE_PROFILE_RESPONSE_DELETE_RESULT_UNDEFINED_ERROR;
    else {
        rc = euicc_queue_notification(euicc, target, SGP32_NOTIFICATION_EVENT_NOTIFICATION_DELETE);
        if (rc) {
            euicc_change_abort(euicc, &change);
        } else {
            euicc_change_delete_profile(euicc, &change, target, false);
            euicc_settle_special_states(euicc);
            rc = euicc_change_commit(euicc, &change);
        }
        if (rc)
            result = SGP32_DELETE_PROFILE_RESPONSE_DELETE_RESULT_UNDEFINED_ERROR;
    }
    sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log, "DeleteProfile (ES10c): result %lld%s",
              (long long)result, euicc->config.allow_es10c_profile_management ? "" : " (IoT: PSMOs only)");
    return euicc_write_result(out, SGP32_TAG_DELETE_PROFILE_RESPONSE, result);
}

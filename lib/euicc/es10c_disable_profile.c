/*
 * ES10c.DisableProfile (SGP.22 §5.7.17): BF32 { A0 { 4F aid | 5A iccid }, 81 refreshFlag } ->
 * BF32 { 80 disableResult }: ok 0, iccidOrAidNotFound 1, profileNotInEnabledState 2,
 * disallowedByPolicy 3, catBusy 5, undefinedError 127.
 *
 * Why it is refused by default: an SGP.32 IoT eUICC changes profile state only through the eIM's
 * PSMOs, so a local disable answers disallowedByPolicy (3) (no public source shows a certified
 * card's code; see es10c_enable_profile.c). With the test switch allow_es10c_profile_management it
 * behaves as an SGP.22 card: not found 1, not enabled 2, ppr1 ("disable not allowed") 3; the disable
 * notification is queued and the change is written to the NVM before the answer.
 */
#include "euicc_local.h"

int es10c_disable_profile(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, EUICC_LOCAL_ARENA);
    sgp32_disable_profile_request req = {0};
    int rc = euicc_decode(euicc, &sgp32_type_disable_profile_request, request, len, &arena, &req);
    sgp32_arena_free(&arena);
    if (rc)
        return rc;

    const sgp32_disable_profile_request_profile_identifier *id = &req.profile_identifier;
    euicc_profile *target =
        id->choice == SGP32_DISABLE_PROFILE_REQUEST_PROFILE_IDENTIFIER_ICCID
            ? (id->u.iccid.len == 10 ? euicc_find_profile_by_iccid(euicc, id->u.iccid.data) : NULL)
            : euicc_find_profile_by_aid(euicc, id->u.isdp_aid.data, id->u.isdp_aid.len);
    int64_t result = SGP32_DISABLE_PROFILE_RESPONSE_DISABLE_RESULT_OK;
    euicc_change change;
    if (!euicc->config.allow_es10c_profile_management)
        result = SGP32_DISABLE_PROFILE_RESPONSE_DISABLE_RESULT_DISALLOWED_BY_POLICY;
    else if (!target)
        result = SGP32_DISABLE_PROFILE_RESPONSE_DISABLE_RESULT_ICCID_OR_AID_NOT_FOUND;
    else if (!target->enabled)
        result = SGP32_DISABLE_PROFILE_RESPONSE_DISABLE_RESULT_PROFILE_NOT_IN_ENABLED_STATE;
    else if (target->has_ppr && (target->ppr & SGP32_PPR_IDS_PPR1))
        result = SGP32_DISABLE_PROFILE_RESPONSE_DISABLE_RESULT_DISALLOWED_BY_POLICY;
    else if (euicc_change_begin(euicc, &change) != SGP32_OK)
        result = SGP32_DISABLE_PROFILE_RESPONSE_DISABLE_RESULT_UNDEFINED_ERROR;
    else {
        rc = euicc_disable_profile(euicc, target);
        euicc_settle_special_states(euicc);
        if (rc)
            euicc_change_abort(euicc, &change);
        else
            rc = euicc_change_commit(euicc, &change);
        if (rc)
            result = SGP32_DISABLE_PROFILE_RESPONSE_DISABLE_RESULT_UNDEFINED_ERROR;
    }
    sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log,
              "DisableProfile (ES10c, refresh %s): result %lld%s", req.refresh_flag ? "yes" : "no",
              (long long)result, euicc->config.allow_es10c_profile_management ? "" : " (IoT: PSMOs only)");
    return euicc_write_result(out, SGP32_TAG_DISABLE_PROFILE_RESPONSE, result);
}

/*
 * Profile State Management Operations inside an eUICC package (SGP.32 §2.11.1.1,
 * §3.4, §2.11.2.1; NOTES §8.1): each PSMO checks, acts and appends its
 * EuiccResultData (enable 83, disable 84, delete 85, listProfileInfo BF2D, getRAT A6,
 * configureImmediateEnable 87, setFallbackAttribute 8D, unsetFallbackAttribute 8E,
 * setDefaultDpAddress BF65).
 *
 * Profile switches happen at once (the helpers queue the enable/disable/delete
 * notifications); SGP.32 marks the profiles "to be enabled/disabled" until the package
 * ends, which is why a listProfileInfo after an enable or disable of the same package
 * answers profileChangeOngoing. Policy: PPR1 (no disabling) refuses disable, and an enable
 * that would disable that profile; PPR2 (no deletion) refuses delete (disallowedByPolicy).
 */
#include <string.h>

#include "euicc_package.h"

static int write_code(euicc_package_run *run, uint32_t tag, int64_t code, bool *failed)
{
    *failed = code != 0;
    return sgp32_asn1_write_integer(&run->results, tag, code);
}

static euicc_profile *find(euicc_package_run *run, sgp32_bytes iccid)
{
    return iccid.len == 10 ? euicc_find_profile_by_iccid(run->euicc, iccid.data) : NULL;
}

static bool has_ppr(const euicc_profile *p, uint32_t ppr)
{
    return p && p->has_ppr && (p->ppr & ppr);
}

/* §3.4.1. rollbackNotAvailable: rollback asked for but no profile is enabled to go back to. */
static int enable(euicc_package_run *run, const sgp32_psmo_enable *op, bool *failed)
{
    sgp32_euicc *euicc = run->euicc;
    euicc_profile *target = find(run, op->iccid);
    euicc_profile *current = euicc_enabled_profile(euicc);
    int64_t code = SGP32_ENABLE_PROFILE_RESULT_OK;
    if (run->enable_done)
        code = SGP32_ENABLE_PROFILE_RESULT_UNDEFINED_ERROR; /* one enable per package */
    else if (!target)
        code = SGP32_ENABLE_PROFILE_RESULT_ICCID_OR_AID_NOT_FOUND;
    else if (target->enabled)
        code = SGP32_ENABLE_PROFILE_RESULT_PROFILE_NOT_IN_DISABLED_STATE;
    else if (op->rollback_flag && !current)
        code = SGP32_ENABLE_PROFILE_RESULT_ROLLBACK_NOT_AVAILABLE;
    else if (has_ppr(current, SGP32_PPR_IDS_PPR1))
        code = SGP32_ENABLE_PROFILE_RESULT_DISALLOWED_BY_POLICY;
    if (code)
        return write_code(run, 0x83, code, failed);
    uint8_t previous[10] = {0};
    if (current)
        memcpy(previous, current->iccid, 10);
    int rc = euicc_switch_profile(euicc, target);
    if (rc)
        return rc;
    run->enable_done = true;
    euicc_state *s = &euicc->state;
    if (op->rollback_flag) {
        /* Recorded with the profile to return to and what the new EPR needs (§3.3.2). */
        s->rollback_allowed = true;
        s->has_rollback_iccid = true;
        memcpy(s->rollback_iccid, previous, 10);
        s->rollback_eim_index = (uint8_t)run->eim_index;
        s->rollback_counter_value = run->header.counter_value;
        s->rollback_transaction_id_len = (uint8_t)run->header.transaction_id.len;
        if (run->header.has_transaction_id)
            memcpy(s->rollback_transaction_id, run->header.transaction_id.data,
                   run->header.transaction_id.len);
    }
    euicc_settle_special_states(euicc); /* a fallback whose profile went is over */
    return write_code(run, 0x83, code, failed);
}

/* §3.4.2. */
static int disable(euicc_package_run *run, const sgp32_psmo_disable *op, bool *failed)
{
    euicc_profile *target = find(run, op->iccid);
    int64_t code = SGP32_DISABLE_PROFILE_RESULT_OK;
    if (run->enable_done || run->disable_done)
        code = SGP32_DISABLE_PROFILE_RESULT_UNDEFINED_ERROR;
    else if (!target)
        code = SGP32_DISABLE_PROFILE_RESULT_ICCID_OR_AID_NOT_FOUND;
    else if (!target->enabled)
        code = SGP32_DISABLE_PROFILE_RESULT_PROFILE_NOT_IN_ENABLED_STATE;
    else if (has_ppr(target, SGP32_PPR_IDS_PPR1))
        code = SGP32_DISABLE_PROFILE_RESULT_DISALLOWED_BY_POLICY;
    if (code)
        return write_code(run, 0x84, code, failed);
    int rc = euicc_disable_profile(run->euicc, target);
    if (rc)
        return rc;
    euicc_settle_special_states(run->euicc);
    run->disable_done = true;
    return write_code(run, 0x84, code, failed);
}

/* §3.4.3. rollbackNotAvailable: the profile a pending rollback would return to.
 * returnFallbackProfile: the fallback profile, or the profile the fallback mechanism returns to. */
static int delete_profile(euicc_package_run *run, const sgp32_psmo_delete *op, bool *failed)
{
    sgp32_euicc *euicc = run->euicc;
    const euicc_state *s = &euicc->state;
    euicc_profile *target = find(run, op->iccid);
    int64_t code = SGP32_DELETE_PROFILE_RESULT_OK;
    if (!target)
        code = SGP32_DELETE_PROFILE_RESULT_ICCID_OR_AID_NOT_FOUND;
    else if (target->enabled)
        code = SGP32_DELETE_PROFILE_RESULT_PROFILE_NOT_IN_DISABLED_STATE;
    else if (has_ppr(target, SGP32_PPR_IDS_PPR2))
        code = SGP32_DELETE_PROFILE_RESULT_DISALLOWED_BY_POLICY;
    else if (s->rollback_allowed && s->has_rollback_iccid &&
             memcmp(s->rollback_iccid, target->iccid, 10) == 0)
        code = SGP32_DELETE_PROFILE_RESULT_ROLLBACK_NOT_AVAILABLE;
    else if (target->fallback_attribute || (s->fallback_active && s->has_fallback_return_iccid &&
                                            memcmp(s->fallback_return_iccid, target->iccid, 10) == 0))
        code = SGP32_DELETE_PROFILE_RESULT_RETURN_FALLBACK_PROFILE;
    if (code)
        return write_code(run, 0x85, code, failed);
    /* Deleting does not notify by itself: the delete notification goes first. The stored
     * profile elements are removed once the package's state is written. */
    int rc = euicc_queue_notification(euicc, target, SGP32_NOTIFICATION_EVENT_NOTIFICATION_DELETE);
    if (rc)
        return rc;
    euicc_change_delete_profile(euicc, run->change, target, false);
    return write_code(run, 0x85, code, failed);
}

/* The BF2D answer is SGP32-ProfileInfoListResponse, [45] as the result tag (NOTES §8.1). */
static int list_profile_info(euicc_package_run *run, const sgp32_profile_info_list_request *op, bool *failed)
{
    sgp32_buf *out = &run->results;
    size_t before = out->len;
    if (run->enable_done || run->disable_done) {
        *failed = true; /* the switch is not complete until the package ends */
        size_t m = sgp32_asn1_begin(out);
        int rc =
            sgp32_asn1_write_integer(out, 0x81, SGP32_SGP32_PROFILE_INFO_LIST_ERROR_PROFILE_CHANGE_ONGOING);
        return rc ? rc : sgp32_asn1_end(out, 0xBF2D, m);
    }
    int rc = euicc_write_profile_info_list(run->euicc, op, out);
    sgp32_asn1_tlv tlv, first;
    if (rc == SGP32_OK &&
        sgp32_asn1_expect(out->data + before, out->len - before, 0xBF2D, &tlv) == SGP32_OK) {
        *failed =
            sgp32_asn1_read_tlv(tlv.value.data, tlv.value.len, &first, NULL) != SGP32_OK || first.tag != 0xA0;
        return SGP32_OK;
    }
    if (rc == SGP32_ERR_NO_MEMORY)
        return rc;
    out->len = before; /* not available: undefinedError */
    *failed = true;
    size_t m = sgp32_asn1_begin(out);
    rc = sgp32_asn1_write_integer(out, 0x81, SGP32_SGP32_PROFILE_INFO_LIST_ERROR_UNDEFINED_ERROR);
    return rc ? rc : sgp32_asn1_end(out, 0xBF2D, m);
}

/* The RAT as GetRAT (ES10b) gives it, under the result tag A6 (RulesAuthorisationTable). */
static int get_rat(euicc_package_run *run, bool *failed)
{
    static const uint8_t request[] = {0xBF, 0x43, 0x00};
    sgp32_buf rat;
    sgp32_buf_init(&rat, EUICC_RESPONSE_MAX);
    sgp32_asn1_tlv response, inner;
    sgp32_bytes rules = {NULL, 0};
    if (es10b_get_rat(run->euicc, request, sizeof(request), &rat) == SGP32_OK &&
        sgp32_asn1_expect(rat.data, rat.len, 0xBF43, &response) == SGP32_OK &&
        sgp32_asn1_read_tlv(response.value.data, response.value.len, &inner, NULL) == SGP32_OK)
        rules = inner.value; /* GetRatResponse { rat [0] RulesAuthorisationTable } */
    *failed = false;
    int rc = sgp32_asn1_write_tlv(&run->results, 0xA6, rules.data, rules.len);
    sgp32_buf_free(&rat);
    return rc;
}

/* Like ConfigureImmediateProfileEnabling: the request is the whole new configuration. */
static int configure_immediate_enable(euicc_package_run *run, const sgp32_psmo_configure_immediate_enable *op,
                                      bool *failed)
{
    euicc_state *s = &run->euicc->state;
    if ((op->has_default_smdp_oid && op->default_smdp_oid.len > sizeof(s->immediate_default_smdp_oid)) ||
        (op->has_default_smdp_address && op->default_smdp_address.len > EUICC_ADDRESS_MAX))
        return write_code(run, 0x87, SGP32_CONFIGURE_IMMEDIATE_ENABLE_RESULT_INSUFFICIENT_MEMORY, failed);
    s->immediate_enable_flag = op->immediate_enable_flag;
    s->immediate_default_smdp_oid_len = op->has_default_smdp_oid ? (uint8_t)op->default_smdp_oid.len : 0;
    if (op->has_default_smdp_oid)
        memcpy(s->immediate_default_smdp_oid, op->default_smdp_oid.data, op->default_smdp_oid.len);
    memset(s->immediate_default_smdp_address, 0, sizeof(s->immediate_default_smdp_address));
    s->has_immediate_default_smdp_address = op->has_default_smdp_address;
    if (op->has_default_smdp_address)
        memcpy(s->immediate_default_smdp_address, op->default_smdp_address.data,
               op->default_smdp_address.len);
    return write_code(run, 0x87, SGP32_CONFIGURE_IMMEDIATE_ENABLE_RESULT_OK, failed);
}

static int set_fallback_attribute(euicc_package_run *run, const sgp32_psmo_set_fallback_attribute *op,
                                  bool *failed)
{
    euicc_profile *target = find(run, op->iccid);
    euicc_profile *fallback = euicc_fallback_profile(run->euicc);
    int64_t code = SGP32_SET_FALLBACK_ATTRIBUTE_RESULT_OK;
    if (!target)
        code = SGP32_SET_FALLBACK_ATTRIBUTE_RESULT_ICCID_OR_AID_NOT_FOUND;
    else if (fallback && fallback->enabled && fallback != target)
        code = SGP32_SET_FALLBACK_ATTRIBUTE_RESULT_FALLBACK_PROFILE_ENABLED;
    else if (!target->has_fallback_allowed || !target->fallback_allowed) /* metadata 9F67 */
        code = SGP32_SET_FALLBACK_ATTRIBUTE_RESULT_FALLBACK_NOT_ALLOWED;
    if (!code) {
        if (fallback)
            fallback->fallback_attribute = false; /* exactly one fallback profile */
        target->fallback_attribute = true;
    }
    return write_code(run, 0x8D, code, failed);
}

static int unset_fallback_attribute(euicc_package_run *run, bool *failed)
{
    euicc_profile *fallback = euicc_fallback_profile(run->euicc);
    int64_t code = SGP32_UNSET_FALLBACK_ATTRIBUTE_RESULT_OK;
    if (!fallback)
        code = SGP32_UNSET_FALLBACK_ATTRIBUTE_RESULT_NO_FALLBACK_ATTRIBUTE;
    else if (fallback->enabled)
        code = SGP32_UNSET_FALLBACK_ATTRIBUTE_RESULT_FALLBACK_PROFILE_ENABLED;
    else
        fallback->fallback_attribute = false;
    return write_code(run, 0x8E, code, failed);
}

/* setDefaultDpAddressResult [101] is SGP32-SetDefaultDpAddressResponse: BF65 {80 result}. */
static int set_default_dp_address(euicc_package_run *run,
                                  const sgp32_sgp32_set_default_dp_address_request *op, bool *failed)
{
    euicc_state *s = &run->euicc->state;
    int64_t code = SGP32_SGP32_SET_DEFAULT_DP_ADDRESS_RESPONSE_SET_DEFAULT_DP_ADDRESS_RESULT_OK;
    if (op->default_dp_address.len > EUICC_ADDRESS_MAX ||
        memchr(op->default_dp_address.data, 0, op->default_dp_address.len))
        code = SGP32_SGP32_SET_DEFAULT_DP_ADDRESS_RESPONSE_SET_DEFAULT_DP_ADDRESS_RESULT_UNDEFINED_ERROR;
    else {
        memset(s->default_dp_address, 0, sizeof(s->default_dp_address));
        memcpy(s->default_dp_address, op->default_dp_address.data, op->default_dp_address.len);
    }
    *failed = code != 0;
    size_t m = sgp32_asn1_begin(&run->results);
    int rc = sgp32_asn1_write_integer(&run->results, 0x80, code);
    return rc ? rc : sgp32_asn1_end(&run->results, 0xBF65, m);
}

int euicc_psmo_execute(euicc_package_run *run, const sgp32_psmo *psmo, bool *failed)
{
    switch (psmo->choice) {
    case SGP32_PSMO_ENABLE: return enable(run, &psmo->u.enable, failed);
    case SGP32_PSMO_DISABLE: return disable(run, &psmo->u.disable, failed);
    case SGP32_PSMO_DELETE: return delete_profile(run, &psmo->u.delete, failed);
    case SGP32_PSMO_LIST_PROFILE_INFO: return list_profile_info(run, &psmo->u.list_profile_info, failed);
    case SGP32_PSMO_GET_RAT: return get_rat(run, failed);
    case SGP32_PSMO_CONFIGURE_IMMEDIATE_ENABLE:
        return configure_immediate_enable(run, &psmo->u.configure_immediate_enable, failed);
    case SGP32_PSMO_SET_FALLBACK_ATTRIBUTE:
        return set_fallback_attribute(run, &psmo->u.set_fallback_attribute, failed);
    case SGP32_PSMO_UNSET_FALLBACK_ATTRIBUTE: return unset_fallback_attribute(run, failed);
    case SGP32_PSMO_SET_DEFAULT_DP_ADDRESS:
        return set_default_dp_address(run, &psmo->u.set_default_dp_address, failed);
    default:
        *failed = true;
        return sgp32_asn1_write_integer(
            &run->results, 0x02, SGP32_EUICC_RESULT_DATA_PROCESSING_TERMINATED_UNKNOWN_OR_DAMAGED_COMMAND);
    }
}

/*
 * ES10b.ProfileRollback (SGP.32 §5.9.16, §3.3.2; NOTES §8.6 "Rollback"): the ROLLBACK job. MAIN
 * runs it when the result of a package that enabled a profile with rollbackFlag could not be
 * reported (rollback_after failed attempts) or when connectivity is lost meanwhile: the new
 * profile does not reach the eIM, so the eUICC goes back to the previous one.
 *
 *   BF58 {80 01 FF refreshFlag} -> BF58 {02 cmdResult, [BF51 EPR]}
 *   ok: the new EPR (with rollbackResult 8C) replaces the first one -> save -> card reset
 *       (REFRESH) -> RetrieveNotificationsList -> ProvideEimPackageResult -> acks -> BF30
 *   rollbackNotAllowed (or any error): the authorisation is gone; reporting goes on with backoff
 * Rollback is allowed once: the armed flag is cleared whatever the outcome.
 */
#include "ipa_internal.h"

enum { RB_START, RB_CALL, RB_SAVE, RB_RESET, RB_LIST, RB_REPORT, RB_END, RB_STATE_COUNT };
static const char *const rollback_states[RB_STATE_COUNT] = {
    "START", "PROFILE_ROLLBACK", "SAVE", "CARD_RESET", "RETRIEVE_NOTIFICATIONS", "PROVIDE_RESULT", "END"};

static int call(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    IPA_LOG(ipa, SGP32_LOG_INFO,
            "the eIM cannot be reached after an enable with rollbackFlag: ProfileRollback");
    return ipa_es10_flag_request(ipa, 0xBF58, true);
}

static int result(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    sgp32_asn1_tlv outer, code, epr;
    ipa->st.rollback_armed = false;
    ipa->reset_after = false;
    if (ipa_es10_response(ipa, 0xBF58, &outer) == SGP32_OK &&
        ipa_find(outer.value, 0x02, &code) == SGP32_OK && ipa_int_or(code.value, -1) == 0 &&
        ipa_find(outer.value, 0xBF51, &epr) == SGP32_OK) {
        sgp32_buf_reset(&ipa->pkg);
        int rc = sgp32_buf_append(&ipa->pkg, epr.whole.data, epr.whole.len);
        if (rc)
            return rc;
        ipa->stats.rollbacks++;
        ipa->st.result_pending = true;
        ipa->st.pending_seq = ipa_seq_number(epr.whole);
        ipa->st.report_failures = 0;
        ipa->reset_after = true;
    } else {
        IPA_LOG(ipa, SGP32_LOG_WARN, "ProfileRollback refused (cmdResult %lld)",
                (long long)ipa_es10_result_code(ipa, 0xBF58));
    }
    return ipa_emit_save(ipa);
}

static const sgp32_fsm_transition rollback_rows[] = {
    {RB_START, EV_START, RB_CALL, call},
    {RB_CALL, EV_CARD_OK, RB_SAVE, result},
    {RB_SAVE, EV_SAVED, RB_RESET, ipa_act_reset_if_switched},
    {RB_SAVE, EV_SAVE_ERROR, RB_RESET, ipa_act_reset_if_switched},
    {RB_RESET, EV_CARD_OK, RB_LIST, ipa_act_list_notifications},
    {RB_RESET, EV_SKIP, RB_END, ipa_act_finish_ok},
    {RB_LIST, EV_CARD_OK, RB_REPORT, ipa_act_report_epr},
    {RB_LIST, EV_CARD_ERROR, RB_REPORT, ipa_act_report_epr},
    {RB_REPORT, EV_CHILD_DONE, RB_END, ipa_act_finish_ok},
};

const sgp32_fsm_def ipa_rollback_fsm = {
    "rollback",
    rollback_states,
    RB_STATE_COUNT,
    ipa_event_names,
    EV_COUNT,
    rollback_rows,
    SGP32_ARRAY_LEN(rollback_rows),
};

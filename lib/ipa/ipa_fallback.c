/*
 * Fallback (SGP.32 §5.9.20, §5.9.21; NOTES §8.6 "Fallback"): the FALLBACK job.
 *
 *   connectivity lost      ES10b ExecuteFallbackMechanism BF5D {80 01 FF}
 *   return from fallback   ES10b ReturnFromFallback       BF5E {80 01 FF}
 *   -> 80 result: ok 0 -> save (inFallback, notifyStateChange with cause fallback(1)) -> card
 *      reset (REFRESH) -> MAIN polls the eIM, which learns about the change from GetEimPackage.
 *   Any other result (fallbackNotAvailable, profileNotInDisabledState, catBusy, ...) ends the job
 *   without a switch.
 */
#include "ipa_internal.h"

enum { F_START, F_CALL, F_SAVE, F_RESET, F_END, F_STATE_COUNT };
static const char *const fallback_states[F_STATE_COUNT] = {"START", "FALLBACK_COMMAND", "SAVE", "CARD_RESET",
                                                           "END"};

static int call(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    return ipa_es10_flag_request(ipa, ipa->fallback_return ? 0xBF5E : 0xBF5D, true);
}

static int result(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    int64_t code = ipa_es10_result_code(ipa, ipa->fallback_return ? 0xBF5E : 0xBF5D);
    ipa->reset_after = code == 0;
    if (code == 0) {
        ipa->st.in_fallback = !ipa->fallback_return;
        ipa->st.notify = true;
        ipa->st.cause = SGP32_IPA_CAUSE_FALLBACK;
        ipa->stats.fallbacks++;
    } else {
        IPA_LOG(ipa, SGP32_LOG_WARN, "%s: result %lld",
                ipa->fallback_return ? "ReturnFromFallback" : "ExecuteFallbackMechanism", (long long)code);
    }
    return ipa_emit_save(ipa);
}

static const sgp32_fsm_transition fallback_rows[] = {
    {F_START, EV_START, F_CALL, call},
    {F_CALL, EV_CARD_OK, F_SAVE, result},
    {F_SAVE, EV_SAVED, F_RESET, ipa_act_reset_if_switched},
    {F_SAVE, EV_SAVE_ERROR, F_RESET, ipa_act_reset_if_switched},
    {F_RESET, EV_CARD_OK, F_END, ipa_act_finish_ok},
    {F_RESET, EV_SKIP, F_END, ipa_act_finish_ok},
};

const sgp32_fsm_def ipa_fallback_fsm = {
    "fallback",
    fallback_states,
    F_STATE_COUNT,
    ipa_event_names,
    EV_COUNT,
    fallback_rows,
    SGP32_ARRAY_LEN(fallback_rows),
};

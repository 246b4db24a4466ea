/*
 * FSM actions several procedures share after a state-changing ES10 call (package execution,
 * ProfileRollback, fallback): reset the card when a profile was switched (REFRESH), list the
 * notifications the change queued, and report the EPR in ipa->pkg with them to the eIM.
 */
#include "ipa_internal.h"

int ipa_act_reset_if_switched(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    if (ipa->reset_after)
        return ipa_card_reset(ipa);
    ipa_post(ipa, EV_SKIP);
    return SGP32_OK;
}

int ipa_act_list_notifications(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    return ipa_es10_retrieve_notifications(ctx, RNL_ALL, 0);
}

int ipa_act_report_epr(void *ctx, int event, void *arg)
{
    (void)arg;
    sgp32_ipa *ipa = ctx;
    sgp32_asn1_tlv outer, list;
    sgp32_bytes notifications = {NULL, 0};
    if (event == EV_CARD_OK && ipa_es10_response(ipa, 0xBF2B, &outer) == SGP32_OK &&
        ipa_find(outer.value, 0xA0, &list) == SGP32_OK)
        notifications = list.value;
    int rc = ipa_provide_build_epr(ipa, sgp32_buf_bytes(&ipa->pkg), notifications);
    if (rc)
        return rc;
    ipa->provide_kind = PROVIDE_EPR;
    return ipa_job_push(ipa, JOB_PROVIDE);
}

int ipa_act_finish_ok(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    return ipa_job_finish(ctx, true);
}

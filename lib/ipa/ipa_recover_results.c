/*
 * Reporting results that are still pending (SGP.32 §3.3.1, §3.1.1.1; NOTES §8.5): the RECOVER
 * job, run after a boot that found eUICC package results on the card, after a power loss that
 * left "result pending" or "download pending" in the saved state, and as the retry of a failed
 * report (with backoff, and the rollback decision in MAIN in between).
 *
 *   RetrieveNotificationsList BF2B {A0 {82 00}}  -> the EPRs (A2 list)
 *   RetrieveNotificationsList BF2B 00            -> the notifications (A0 list)
 *   for each EPR: ProvideEimPackageResult (the first one with the notifications, as
 *                 ePRAndNotifications) -> acknowledgements -> BF30
 *   a pending download: ProvideEimPackageResult(ProfileDownloadTriggerResult) with the PIR of
 *                 the saved SM-DP+ transactionId when the card has one, else undefinedError
 */
#include "ipa_internal.h"

enum { RC_START, RC_EPRS, RC_NOTIFICATIONS, RC_NEXT, RC_REPORT, RC_SAVE, RC_END, RC_STATE_COUNT };
static const char *const recover_states[RC_STATE_COUNT] = {
    "START", "RETRIEVE_EPRS", "RETRIEVE_NOTIFICATIONS", "NEXT", "REPORT", "SAVE", "END"};

static int eprs(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    return ipa_es10_retrieve_notifications(ctx, RNL_EPRS, 0);
}

static int notifications(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    sgp32_asn1_tlv outer, list;
    sgp32_buf_reset(&ipa->work);
    if (ipa_es10_response(ipa, 0xBF2B, &outer) == SGP32_OK &&
        ipa_find(outer.value, 0xA2, &list) == SGP32_OK) {
        int rc = sgp32_buf_append(&ipa->work, list.value.data, list.value.len);
        if (rc)
            return rc;
    }
    ipa->cursor = 0;
    ipa->cursor2 = 0; /* 0: EPRs, 1: the download, 2: done */
    return ipa_es10_retrieve_notifications(ipa, RNL_ALL, 0);
}

static int keep_notifications(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    sgp32_asn1_tlv outer, list;
    sgp32_buf_reset(&ipa->pkg);
    if (ipa_es10_response(ipa, 0xBF2B, &outer) == SGP32_OK &&
        ipa_find(outer.value, 0xA0, &list) == SGP32_OK) {
        int rc = sgp32_buf_append(&ipa->pkg, list.value.data, list.value.len);
        if (rc)
            return rc;
    }
    ipa_post(ipa, EV_NEXT);
    return SGP32_OK;
}

/* The PIR whose BF27 transactionId is the saved SM-DP+ session's, in the notification list. */
static sgp32_bytes find_pir(sgp32_ipa *ipa)
{
    sgp32_asn1_reader r;
    sgp32_asn1_tlv n, data, txid;
    sgp32_asn1_reader_init(&r, sgp32_buf_bytes(&ipa->pkg), 1);
    while (ipa->st.smdp_txid_len && sgp32_asn1_reader_next(&r, &n) == SGP32_OK) {
        if (n.tag == 0xBF37 && ipa_find(n.value, 0xBF27, &data) == SGP32_OK &&
            ipa_find(data.value, 0x80, &txid) == SGP32_OK &&
            sgp32_bytes_equal(txid.value, (sgp32_bytes){ipa->st.smdp_txid, ipa->st.smdp_txid_len}))
            return n.whole;
    }
    return (sgp32_bytes){NULL, 0};
}

static int report_next(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    int rc;
    if (ipa->cursor2 == 0) {
        sgp32_asn1_tlv epr;
        size_t used;
        if (ipa->cursor < ipa->work.len &&
            sgp32_asn1_read_tlv(ipa->work.data + ipa->cursor, ipa->work.len - ipa->cursor, &epr, &used) ==
                SGP32_OK) {
            bool first = ipa->cursor == 0;
            ipa->cursor += used;
            rc = ipa_provide_build_epr(ipa, epr.whole,
                                       first ? sgp32_buf_bytes(&ipa->pkg) : (sgp32_bytes){NULL, 0});
            if (rc)
                return rc;
            ipa->provide_kind = PROVIDE_EPR;
            return ipa_job_push(ipa, JOB_PROVIDE);
        }
        ipa->cursor2 = 1;
    }
    if (ipa->cursor2 == 1) {
        ipa->cursor2 = 2;
        if (ipa->st.download_pending) {
            sgp32_bytes pir = find_pir(ipa);
            rc = ipa_provide_build_download(ipa, pir, 127);
            if (rc)
                return rc;
            ipa->provide_kind = PROVIDE_DOWNLOAD;
            return ipa_job_push(ipa, JOB_PROVIDE);
        }
    }
    ipa_post(ipa, EV_DONE);
    return SGP32_OK;
}

static int advance(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    ipa_post(ctx, EV_NEXT);
    return SGP32_OK;
}

static int save(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    /* Everything on the card went to the eIM: nothing is pending any more. */
    ipa->st.result_pending = false;
    ipa->st.rollback_armed = false;
    ipa->st.pending_seq = -1;
    ipa->st.report_failures = 0;
    ipa->st.download_pending = false;
    ipa->st.smdp_txid_len = 0;
    return ipa_emit_save(ipa);
}

static const sgp32_fsm_transition recover_rows[] = {
    {RC_START, EV_START, RC_EPRS, eprs},
    {RC_EPRS, EV_CARD_OK, RC_NOTIFICATIONS, notifications},
    {RC_NOTIFICATIONS, EV_CARD_OK, RC_NEXT, keep_notifications},
    {RC_NEXT, EV_NEXT, RC_REPORT, report_next},
    {RC_REPORT, EV_CHILD_DONE, RC_NEXT, advance},
    {RC_REPORT, EV_DONE, RC_SAVE, save},
    {RC_SAVE, EV_SAVED, RC_END, ipa_act_finish_ok},
    {RC_SAVE, EV_SAVE_ERROR, RC_END, ipa_act_finish_ok},
};

const sgp32_fsm_def ipa_recover_fsm = {
    "recover",
    recover_states,
    RC_STATE_COUNT,
    ipa_event_names,
    EV_COUNT,
    recover_rows,
    SGP32_ARRAY_LEN(recover_rows),
};

/*
 * Executing one eIM package (SGP.32 §3.3.1, §3.1.1; NOTES §8.6, §8.8, §8.9): the EXECUTE job,
 * for a package that came by GetEimPackage (pull) or TransferEimPackage (push; the eIM got
 * eimPackageReceived already, the result follows by ProvideEimPackageResult).
 *
 *   BF51 EuiccPackageRequest   save "result pending" (+ rollbackFlag seen) -> ES10b
 *                              LoadEuiccPackage (the request verbatim; after eCOs the eIM
 *                              address is read again before the next procedure) -> save the EPR's
 *                              seqNumber -> card reset when a profile was switched (REFRESH)
 *                              -> RetrieveNotificationsList -> ProvideEimPackageResult
 *                              (ePRAndNotifications) -> acknowledgements -> RemoveNotificationFromList
 *   BF52 IpaEuiccDataRequest   collect the fields (ipa_ipa_euicc_data.c) -> ProvideEimPackageResult
 *                              (or, pushed, the TransferEimPackage response itself)
 *   BF54 ProfileDownloadTrigger  DOWNLOAD job -> ProvideEimPackageResult(ProfileDownloadTriggerResult)
 *
 * The state is saved before LoadEuiccPackage and after it, so a power loss at any point leaves
 * either no package applied (the eIM sends it again) or an EPR on the card that boot recovers
 * (NOTES §8.5). When the report cannot reach the eIM after an enable with rollbackFlag, MAIN
 * calls ProfileRollback (ipa_profile_rollback.c).
 */
#include "ipa_internal.h"

enum {
    X_START,
    X_CLASSIFY,
    X_SAVE_BEFORE,
    X_LOAD,
    X_SAVE_AFTER,
    X_RESET,
    X_LIST,
    X_DATA,
    X_DOWNLOAD,
    X_REPORT,
    X_END,
    X_STATE_COUNT
};
static const char *const execute_states[X_STATE_COUNT] = {"START",
                                                          "CLASSIFY",
                                                          "SAVE_BEFORE_LOAD",
                                                          "LOAD_EUICC_PACKAGE",
                                                          "SAVE_RESULT",
                                                          "CARD_RESET",
                                                          "RETRIEVE_NOTIFICATIONS",
                                                          "COLLECT_IPA_EUICC_DATA",
                                                          "DOWNLOAD",
                                                          "PROVIDE_RESULT",
                                                          "END"};

static int classify(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    sgp32_asn1_tlv tlv;
    size_t used = 0;
    if (sgp32_asn1_read_tlv(ipa->pkg.data, ipa->pkg.len, &tlv, &used) != SGP32_OK || used != ipa->pkg.len) {
        ipa_post(ipa, EV_REJECTED);
        return SGP32_OK;
    }
    ipa->reset_after = false;
    switch (tlv.tag) {
    case 0xBF51: ipa_post(ipa, EV_EUICC_PACKAGE); break;
    case 0xBF52: ipa_post(ipa, EV_DATA_REQUEST); break;
    case 0xBF54: ipa_post(ipa, EV_DOWNLOAD_TRIGGER); break;
    default: ipa_post(ipa, EV_REJECTED); break;
    }
    return SGP32_OK;
}

/* eimTransactionId and whether an enable carries rollbackFlag:
 * BF51 {30 {80 eimId, 5A eid, 81 counter, [82 txid], A0 psmoList {A3 {5A, [05 00]} ..} | A1}, 5F37} */
static void inspect_request(sgp32_ipa *ipa, bool *rollback)
{
    sgp32_asn1_tlv outer, signed_part, field, op, flag;
    *rollback = false;
    ipa->eco_package = false;
    ipa->st.eim_txid_len = 0;
    if (sgp32_asn1_expect(ipa->pkg.data, ipa->pkg.len, 0xBF51, &outer) ||
        ipa_find(outer.value, 0x30, &signed_part))
        return;
    if (ipa_find(signed_part.value, 0x82, &field) == SGP32_OK && field.value.len <= IPA_TXID_MAX) {
        memcpy(ipa->st.eim_txid, field.value.data, field.value.len);
        ipa->st.eim_txid_len = (uint8_t)field.value.len;
    }
    ipa->eco_package = ipa_find(signed_part.value, 0xA1, &field) == SGP32_OK;
    if (ipa_find(signed_part.value, 0xA0, &field))
        return;
    sgp32_asn1_reader r;
    sgp32_asn1_reader_init(&r, field.value, 3);
    while (sgp32_asn1_reader_next(&r, &op) == SGP32_OK)
        if (op.tag == 0xA3 && ipa_find(op.value, 0x05, &flag) == SGP32_OK)
            *rollback = true;
}

static int save_before(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    bool rollback;
    inspect_request(ipa, &rollback);
    ipa->stats.packages++;
    ipa->st.result_pending = true;
    ipa->st.pending_seq = -1;
    ipa->st.rollback_armed = rollback;
    ipa->st.report_failures = 0;
    return ipa_emit_save(ipa);
}

static int load(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    return ipa_es10_call(ipa, sgp32_buf_bytes(&ipa->pkg));
}

static int loaded(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    sgp32_asn1_tlv epr;
    int rc = ipa_es10_response(ipa, 0xBF51, &epr);
    if (rc)
        return rc;
    sgp32_buf_reset(&ipa->pkg); /* the request is done with: the EPR takes its place */
    rc = sgp32_buf_append(&ipa->pkg, epr.whole.data, epr.whole.len);
    if (rc)
        return rc;
    ipa->epr_seq = ipa_seq_number(sgp32_buf_bytes(&ipa->pkg));
    ipa->st.pending_seq = ipa->epr_seq;
    ipa->reset_after = ipa_epr_switched_profile(sgp32_buf_bytes(&ipa->pkg));
    if (!ipa->reset_after)
        ipa->st.rollback_armed = false; /* nothing was enabled: nothing to roll back */
    /* addEim / deleteEim / updateEim may change which eIM comes first: this procedure still
     * reports to the eIM it talks to, the next one reads the eIM configuration again (eIM
     * portability, SGP.32 §3.5). An address fixed by the host's config stays. */
    if (ipa->eco_package && !ipa->config.eim_address)
        ipa->have_eim_address = false;
    return ipa_emit_save(ipa);
}

/* LoadEuiccPackage failed at the card: tell the eIM (undefinedError); an EPR the card may still
 * have made is found by the next boot or recovery. */
static int report_card_error(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    ipa->st.result_pending = false;
    ipa->st.rollback_armed = false;
    int rc = ipa_provide_build_error(ipa, ipa->st.eim_txid, ipa->st.eim_txid_len, 127);
    if (rc)
        return rc;
    ipa->provide_kind = PROVIDE_ERROR;
    return ipa_job_push(ipa, JOB_PROVIDE);
}

static int report_bad_package(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    IPA_LOG(ipa, SGP32_LOG_WARN, "eIM package does not decode: invalidPackageFormat");
    int rc = ipa_provide_build_error(ipa, NULL, 0, 1 /* invalidPackageFormat */);
    if (rc)
        return rc;
    ipa->provide_kind = PROVIDE_ERROR;
    return ipa_job_push(ipa, JOB_PROVIDE);
}

static int data_begin(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    sgp32_asn1_tlv tlv;
    int rc = sgp32_asn1_expect(ipa->pkg.data, ipa->pkg.len, 0xBF52, &tlv);
    if (rc)
        return rc;
    ipa->stats.packages++;
    return ipa_data_begin(ipa, tlv.value);
}

static int data_step(void *ctx, int event, void *arg)
{
    (void)arg;
    return ipa_data_step(ctx, event == EV_CARD_OK);
}

static int data_report(void *ctx, int event, void *arg)
{
    sgp32_ipa *ipa = ctx;
    (void)arg;
    if (event == EV_CARD_ERROR)
        ipa->data_error = 127;
    sgp32_buf *b = &ipa->tx;
    sgp32_buf_reset(b);
    int rc;
    if (ipa->pushed) {
        size_t mark = sgp32_asn1_begin(b);
        rc = ipa_data_finish(ipa, b);
        if (!rc)
            rc = sgp32_asn1_end(b, 0xBF4E, mark);
        if (rc)
            return rc;
        ipa_emit(ipa, SGP32_IPA_ACT_PUSH_RESPONSE, sgp32_buf_bytes(b));
        return SGP32_OK;
    }
    size_t mark;
    rc = ipa_provide_begin(ipa, &mark);
    if (!rc)
        rc = ipa_data_finish(ipa, b);
    if (!rc)
        rc = ipa_provide_end(ipa, mark);
    if (rc)
        return rc;
    ipa->provide_kind = PROVIDE_DATA;
    return ipa_job_push(ipa, JOB_PROVIDE);
}

static int download(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    sgp32_asn1_tlv tlv;
    ipa->stats.packages++;
    memset(&ipa->dl, 0, sizeof(ipa->dl));
    ipa->dl.error_reason = 127;
    int rc = sgp32_asn1_expect(ipa->pkg.data, ipa->pkg.len, 0xBF54, &tlv);
    if (!rc)
        rc = ipa_download_setup(ipa, tlv.value);
    if (rc) {
        IPA_LOG(ipa, SGP32_LOG_WARN, "ProfileDownloadTrigger not usable: %s", sgp32_err_str(rc));
        sgp32_buf_reset(&ipa->work);
        ipa_post(ipa, EV_FAIL);
        return SGP32_OK;
    }
    return ipa_job_push(ipa, JOB_DOWNLOAD);
}

static int report_download(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    /* The PIR (success or error) is in work when the download got that far. */
    sgp32_bytes pir =
        ipa->work.len && ipa->work.data[0] == 0xBF ? sgp32_buf_bytes(&ipa->work) : (sgp32_bytes){NULL, 0};
    int rc = ipa_provide_build_download(ipa, pir, ipa->dl.error_reason);
    if (rc)
        return rc;
    ipa->provide_kind = PROVIDE_DOWNLOAD;
    return ipa_job_push(ipa, JOB_PROVIDE);
}

static const sgp32_fsm_transition execute_rows[] = {
    {X_START, EV_START, X_CLASSIFY, classify},
    {X_CLASSIFY, EV_EUICC_PACKAGE, X_SAVE_BEFORE, save_before},
    {X_CLASSIFY, EV_DATA_REQUEST, X_DATA, data_begin},
    {X_CLASSIFY, EV_DOWNLOAD_TRIGGER, X_DOWNLOAD, download},
    {X_CLASSIFY, EV_REJECTED, X_REPORT, report_bad_package},
    {X_SAVE_BEFORE, EV_SAVED, X_LOAD, load},
    {X_LOAD, EV_CARD_OK, X_SAVE_AFTER, loaded},
    {X_LOAD, EV_CARD_ERROR, X_REPORT, report_card_error},
    {X_SAVE_AFTER, EV_SAVED, X_RESET, ipa_act_reset_if_switched},
    {X_RESET, EV_CARD_OK, X_LIST, ipa_act_list_notifications},
    {X_RESET, EV_SKIP, X_LIST, ipa_act_list_notifications},
    {X_LIST, EV_CARD_OK, X_REPORT, ipa_act_report_epr},
    {X_LIST, EV_CARD_ERROR, X_REPORT, ipa_act_report_epr},
    {X_DATA, EV_NEXT, X_DATA, data_step},
    {X_DATA, EV_CARD_OK, X_DATA, data_step},
    {X_DATA, EV_DONE, X_REPORT, data_report},
    {X_DATA, EV_CARD_ERROR, X_REPORT, data_report},
    {X_DOWNLOAD, EV_FAIL, X_REPORT, report_download},
    {X_DOWNLOAD, EV_CHILD_DONE, X_REPORT, report_download},
    {X_DOWNLOAD, EV_CHILD_FAILED, X_REPORT, report_download},
    {X_REPORT, EV_CHILD_DONE, X_END, ipa_act_finish_ok},
    {X_REPORT, EV_EIM_OK, X_END, ipa_act_finish_ok}, /* pushed IpaEuiccData: the response went out */
};

const sgp32_fsm_def ipa_execute_fsm = {
    "execute",
    execute_states,
    X_STATE_COUNT,
    ipa_event_names,
    EV_COUNT,
    execute_rows,
    SGP32_ARRAY_LEN(execute_rows),
};

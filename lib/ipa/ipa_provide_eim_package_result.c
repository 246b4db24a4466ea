/*
 * ESipa.ProvideEimPackageResult (SGP.32 §5.14.6; NOTES §3.2, §8.6) and the removal of what the
 * eIM acknowledged: the PROVIDE job.
 *
 *   Request  BF50 {5A EID, EimPackageResult}, EimPackageResult one of
 *              BF51 EPR | 30 {BF51 EPR, A0 {notifications}} | BF52 IpaEuiccDataResponse |
 *              BF54 ProfileDownloadTriggerResult | A0 {[80 eimTransactionId] 02 code}
 *   Response BF50 {BF53 {80 seq ..} eimAcknowledgements | 30 00 | 02 error}
 *
 * Each acknowledged seqNumber is removed with ES10b RemoveNotificationFromList (BF30), the EPR's
 * own seqNumber included (NOTES §8.6 step 5). What was reported stops being pending, and that is
 * saved *before* anything is removed: a power loss in between leaves objects on the card that go
 * to the eIM again (at least once, the eIM de-duplicates), never a "pending" flag whose objects
 * are gone (which would make the IPA report an error for a download that worked). An eIM that
 * answers without acknowledging has still taken the result; the EPR stays on the card and goes
 * again after the next boot. An eIM error code or a transport error
 * fails the job; MAIN counts it for the rollback decision and backs off.
 */
#include "ipa_internal.h"

enum { P_START, P_SENT, P_ANSWER, P_SAVE_ACKED, P_REMOVE, P_SAVE, P_END, P_STATE_COUNT };
static const char *const provide_states[P_STATE_COUNT] = {
    "START", "SENT", "ANSWER", "SAVE_ACKNOWLEDGED", "REMOVE_NOTIFICATION", "SAVE", "END"};

int ipa_provide_begin(sgp32_ipa *ipa, size_t *mark)
{
    sgp32_buf_reset(&ipa->tx);
    *mark = sgp32_asn1_begin(&ipa->tx);
    return ipa_write_eid(ipa, &ipa->tx);
}

int ipa_provide_end(sgp32_ipa *ipa, size_t mark)
{
    return sgp32_asn1_end(&ipa->tx, 0xBF50, mark);
}

/* A PendingNotificationList's contents, each element compact when that is on. */
static int write_notifications(sgp32_ipa *ipa, sgp32_bytes list, sgp32_buf *out)
{
    sgp32_asn1_reader r;
    sgp32_asn1_tlv n;
    int rc;
    sgp32_asn1_reader_init(&r, list, 2);
    while ((rc = sgp32_asn1_reader_next(&r, &n)) == SGP32_OK) {
        rc = ipa_compact_notification(ipa, n.whole, out);
        if (rc)
            return rc;
    }
    return rc == SGP32_ERR_NOT_FOUND ? SGP32_OK : rc;
}

int ipa_provide_build_epr(sgp32_ipa *ipa, sgp32_bytes epr, sgp32_bytes notifications)
{
    size_t mark;
    int rc = ipa_provide_begin(ipa, &mark);
    if (rc)
        return rc;
    if (notifications.len) {
        size_t seq = sgp32_asn1_begin(&ipa->tx);
        rc = sgp32_buf_append(&ipa->tx, epr.data, epr.len);
        size_t list = sgp32_asn1_begin(&ipa->tx);
        if (!rc)
            rc = write_notifications(ipa, notifications, &ipa->tx);
        if (!rc)
            rc = sgp32_asn1_end(&ipa->tx, 0xA0, list);
        if (!rc)
            rc = sgp32_asn1_end(&ipa->tx, 0x30, seq);
    } else {
        rc = sgp32_buf_append(&ipa->tx, epr.data, epr.len);
    }
    return rc ? rc : ipa_provide_end(ipa, mark);
}

int ipa_provide_build_error(sgp32_ipa *ipa, const uint8_t *txid, size_t txid_len, int64_t code)
{
    size_t mark;
    int rc = ipa_provide_begin(ipa, &mark);
    size_t inner = sgp32_asn1_begin(&ipa->tx);
    if (!rc && txid_len)
        rc = sgp32_asn1_write_tlv(&ipa->tx, 0x80, txid, txid_len);
    if (!rc)
        rc = sgp32_asn1_write_integer(&ipa->tx, 0x02, code);
    if (!rc)
        rc = sgp32_asn1_end(&ipa->tx, 0xA0, inner);
    return rc ? rc : ipa_provide_end(ipa, mark);
}

int ipa_provide_build_download(sgp32_ipa *ipa, sgp32_bytes pir, int64_t reason)
{
    size_t mark;
    int rc = ipa_provide_begin(ipa, &mark);
    size_t inner = sgp32_asn1_begin(&ipa->tx);
    if (!rc && ipa->st.eim_txid_len)
        rc = sgp32_asn1_write_tlv(&ipa->tx, 0x82, ipa->st.eim_txid, ipa->st.eim_txid_len);
    if (!rc && pir.len) {
        rc = sgp32_buf_append(&ipa->tx, pir.data, pir.len);
    } else if (!rc) {
        size_t err = sgp32_asn1_begin(&ipa->tx);
        rc = sgp32_asn1_write_integer(&ipa->tx, 0x80, reason);
        if (!rc)
            rc = sgp32_asn1_end(&ipa->tx, 0x30, err);
    }
    if (!rc)
        rc = sgp32_asn1_end(&ipa->tx, 0xBF54, inner);
    return rc ? rc : ipa_provide_end(ipa, mark);
}

/* EPR: BF51 {A0 {30 {.. 30 euiccResult {83 00 | 84 00 | 8C 00 ..}} 5F37}} */
bool ipa_epr_switched_profile(sgp32_bytes epr)
{
    sgp32_asn1_tlv outer, signed_result, data, results, r;
    if (sgp32_asn1_expect(epr.data, epr.len, 0xBF51, &outer) || ipa_first(outer.value, &signed_result) ||
        signed_result.tag != 0xA0 || ipa_first(signed_result.value, &data) || data.tag != 0x30 ||
        ipa_find(data.value, 0x30, &results))
        return false;
    sgp32_asn1_reader rd;
    sgp32_asn1_reader_init(&rd, results.value, 4);
    while (sgp32_asn1_reader_next(&rd, &r) == SGP32_OK)
        if ((r.tag == 0x83 || r.tag == 0x84 || r.tag == 0x8C) && ipa_int_or(r.value, -1) == 0)
            return true;
    return false;
}

/* ------------------------------------------------------------------ job */

static int send(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    return ipa_emit_esipa(ctx, SGP32_IPA_FN_PROVIDE_EIM_PACKAGE_RESULT, true);
}

static int answer(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    sgp32_asn1_tlv outer, choice;
    if (sgp32_asn1_expect(ipa->rx.data, ipa->rx.len, 0xBF50, &outer) || ipa_first(outer.value, &choice) ||
        choice.whole.len != outer.value.len) {
        ipa->job_error = SGP32_ERR_ASN1_BAD_VALUE;
        ipa_post(ipa, EV_REJECTED);
        return SGP32_OK;
    }
    switch (choice.tag) {
    case 0xBF53:
        ipa->cursor = (size_t)(choice.value.data - ipa->rx.data); /* walk the acks in rx */
        ipa->cursor2 = ipa->cursor + choice.value.len;
        ipa_post(ipa, EV_ACKNOWLEDGEMENTS);
        return SGP32_OK;
    case 0x30: ipa_post(ipa, EV_DONE); return SGP32_OK;
    case 0x02:
        ipa->stats.last_eim_error = ipa_int_or(choice.value, 127);
        IPA_LOG(ipa, SGP32_LOG_WARN, "ProvideEimPackageResult: error %lld",
                (long long)ipa->stats.last_eim_error);
        ipa->job_error = SGP32_ERR_NOT_FOUND;
        ipa_post(ipa, EV_REJECTED);
        return SGP32_OK;
    default:
        ipa->job_error = SGP32_ERR_ASN1_UNKNOWN_CHOICE;
        ipa_post(ipa, EV_REJECTED);
        return SGP32_OK;
    }
}

static int remove_next(void *ctx, int event, void *arg)
{
    (void)arg;
    sgp32_ipa *ipa = ctx;
    if (event == EV_CARD_OK)
        ipa->stats.results_acknowledged++;
    while (ipa->cursor < ipa->cursor2) {
        sgp32_asn1_tlv ack;
        size_t used;
        if (sgp32_asn1_read_tlv(ipa->rx.data + ipa->cursor, ipa->cursor2 - ipa->cursor, &ack, &used))
            break;
        ipa->cursor += used;
        int64_t seq;
        if (ack.tag != 0x80 || sgp32_asn1_parse_integer(ack.value, &seq) || seq < 0)
            continue;
        return ipa_es10_remove_notification(ipa, seq);
    }
    ipa_post(ipa, EV_DONE);
    return SGP32_OK;
}

static int clear_and_save(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    ipa_persist *st = &ipa->st;
    switch (ipa->provide_kind) {
    case PROVIDE_EPR:
        st->result_pending = false;
        st->rollback_armed = false;
        st->report_failures = 0;
        st->pending_seq = -1;
        break;
    case PROVIDE_DOWNLOAD:
        st->download_pending = false;
        st->smdp_txid_len = 0;
        break;
    default: break;
    }
    return ipa_emit_save(ipa);
}

static int rejected(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    return ipa_job_fail_with(ipa, ipa->job_error);
}

static const sgp32_fsm_transition provide_rows[] = {
    {P_START, EV_START, P_SENT, send},
    {P_SENT, EV_EIM_OK, P_ANSWER, answer},
    {P_ANSWER, EV_ACKNOWLEDGEMENTS, P_SAVE_ACKED, clear_and_save},
    {P_ANSWER, EV_DONE, P_SAVE, clear_and_save},
    {P_ANSWER, EV_REJECTED, P_END, rejected},
    {P_SAVE_ACKED, EV_SAVED, P_REMOVE, remove_next},
    {P_SAVE_ACKED, EV_SAVE_ERROR, P_REMOVE, remove_next},
    {P_REMOVE, EV_CARD_OK, P_REMOVE, remove_next},
    {P_REMOVE, EV_CARD_ERROR, P_REMOVE, remove_next}, /* it goes again with the next delivery */
    {P_REMOVE, EV_DONE, P_END, ipa_act_finish_ok},
    {P_SAVE, EV_SAVED, P_END, ipa_act_finish_ok},
    {P_SAVE, EV_SAVE_ERROR, P_END, ipa_act_finish_ok},
};

const sgp32_fsm_def ipa_provide_fsm = {
    "provide",
    provide_states,
    P_STATE_COUNT,
    ipa_event_names,
    EV_COUNT,
    provide_rows,
    SGP32_ARRAY_LEN(provide_rows),
};

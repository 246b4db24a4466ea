/*
 * ESipa.HandleNotification (SGP.32 §5.14.7, §3.7; NOTES §3.2, §3.3 "Notifications"): the NOTIFY
 * job delivers every pending notification to the eIM, one per request, and removes each one from
 * the eUICC (ES10b RemoveNotificationFromList BF30) once the eIM took it.
 *
 *   ES10b RetrieveNotificationsList BF2B 00 -> BF2B {A0 {BF37 PIR | 30 other ..}}
 *   ESipa  BF3D {A0 {notification}} (compact form when enabled); no response body (204, or
 *          200 with an empty body; any other answer the transport reports as an error and the
 *          notification stays for the next time: delivery is at least once).
 */
#include "ipa_internal.h"

enum { N_START, N_LIST, N_NEXT, N_SENT, N_REMOVE, N_END, N_STATE_COUNT };
static const char *const notify_states[N_STATE_COUNT] = {"START", "RETRIEVE_NOTIFICATIONS", "NEXT",
                                                         "SENT",  "REMOVE_NOTIFICATION",    "END"};

static int list(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    return ipa_es10_retrieve_notifications(ctx, RNL_ALL, 0);
}

static int keep_list(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    sgp32_asn1_tlv outer, lst;
    sgp32_buf_reset(&ipa->work);
    ipa->cursor = 0;
    if (ipa_es10_response(ipa, 0xBF2B, &outer) == SGP32_OK && ipa_find(outer.value, 0xA0, &lst) == SGP32_OK) {
        int rc = sgp32_buf_append(&ipa->work, lst.value.data, lst.value.len);
        if (rc)
            return rc;
    }
    ipa_post(ipa, EV_NEXT);
    return SGP32_OK;
}

static int send_next(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    sgp32_asn1_tlv n;
    size_t used;
    if (ipa->cursor >= ipa->work.len ||
        sgp32_asn1_read_tlv(ipa->work.data + ipa->cursor, ipa->work.len - ipa->cursor, &n, &used)) {
        ipa_post(ipa, EV_DONE);
        return SGP32_OK;
    }
    ipa->cursor2 = ipa->cursor; /* the one in flight */
    ipa->cursor += used;
    ipa->epr_seq = ipa_seq_number(n.whole);
    sgp32_buf *b = &ipa->tx;
    sgp32_buf_reset(b);
    size_t outer = sgp32_asn1_begin(b);
    size_t inner = sgp32_asn1_begin(b);
    int rc = ipa_compact_notification(ipa, n.whole, b);
    if (!rc)
        rc = sgp32_asn1_end(b, 0xA0, inner);
    if (!rc)
        rc = sgp32_asn1_end(b, 0xBF3D, outer);
    return rc ? rc : ipa_emit_esipa(ipa, SGP32_IPA_FN_HANDLE_NOTIFICATION, false);
}

static int remove_delivered(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    ipa->stats.notifications_delivered++;
    if (ipa->epr_seq < 0) {
        ipa_post(ipa, EV_SKIP);
        return SGP32_OK;
    }
    return ipa_es10_remove_notification(ipa, ipa->epr_seq);
}

static int advance(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    ipa_post(ctx, EV_NEXT);
    return SGP32_OK;
}

static const sgp32_fsm_transition notify_rows[] = {
    {N_START, EV_START, N_LIST, list},
    {N_LIST, EV_CARD_OK, N_NEXT, keep_list},
    {N_NEXT, EV_NEXT, N_SENT, send_next},
    {N_SENT, EV_DONE, N_END, ipa_act_finish_ok},
    {N_SENT, EV_EIM_OK, N_REMOVE, remove_delivered},
    {N_REMOVE, EV_CARD_OK, N_NEXT, advance},
    {N_REMOVE, EV_CARD_ERROR, N_NEXT, advance},
    {N_REMOVE, EV_SKIP, N_NEXT, advance},
};

const sgp32_fsm_def ipa_notify_fsm = {
    "notify",
    notify_states,
    N_STATE_COUNT,
    ipa_event_names,
    EV_COUNT,
    notify_rows,
    SGP32_ARRAY_LEN(notify_rows),
};

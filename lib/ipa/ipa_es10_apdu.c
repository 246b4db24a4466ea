/*
 * ES10 over APDUs (SGP.22 §5.7.2, SGP.32 §5.9; NOTES §5.1): the card layer of the IPA.
 *
 * Session set-up, once per card reset:
 *   TERMINAL CAPABILITY   80 AA 00 00 05 A9 03 83 01 07   (an error SW is tolerated: older cards)
 *   MANAGE CHANNEL        00 70 00 00 01 (card assigns) or 00 70 00 ch 00, skipped on the basic channel
 *   SELECT ISD-R          0x A4 04 00 10 <AID>, no Le: 9000 and 61xx both mean selected; the FCI
 *                         is not fetched (a conformance test expects exactly that)
 * One ES10 call:
 *   STORE DATA            CLA 80|ch (C0|ch-4 above 3), P1 11 more / 91 last, P2 block number from 00,
 *                         Lc <= store_data_block, no Le; intermediate blocks must answer 9000
 *   GET RESPONSE          0x C0 00 00 xx while the card answers 61xx
 * Status words: 91xx is success with a proactive command pending (REFRESH after an enable): the
 * session is reset before the next call. 6985 on STORE DATA is what IoT eUICCs answer after an
 * enable until they are reset: the layer resets the card, reopens the session and sends the
 * same request once more. Other status words end the call with EV_CARD_ERROR (stats.last_sw).
 */
#include "ipa_internal.h"

enum { C_CLOSED, C_TERMCAP, C_OPENING, C_SELECTING, C_READY, C_STORE, C_GETRESP, C_RESETTING, C_STATE_COUNT };
static const char *const card_states[C_STATE_COUNT] = {"CLOSED", "TERMCAP",    "OPENING",      "SELECTING",
                                                       "READY",  "STORE_DATA", "GET_RESPONSE", "RESETTING"};
static const char *const card_events[CE_COUNT] = {"CALL",    "RESET",      "SW_OK",    "SW_MORE",
                                                  "SW_6985", "SW_ERROR",   "IO_ERROR", "RESET_DONE",
                                                  "SKIP",    "NEXT_BLOCK", "COMPLETE", "FAIL"};

static const uint8_t isdr_aid[16] = {0xA0, 0x00, 0x00, 0x05, 0x59, 0x10, 0x10, 0xFF,
                                     0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00, 0x01, 0x00};

void ipa_card_trace(sgp32_ipa *ipa, int from, int event, int to);

static uint8_t cla(const sgp32_ipa *ipa, uint8_t base)
{
    uint8_t ch = ipa->card.channel;
    if (ch <= 3)
        return (uint8_t)(base | ch);
    return (uint8_t)(base | 0x40 | (ch - 4));
}

static void emit_apdu(sgp32_ipa *ipa, size_t len)
{
    ipa_emit(ipa, SGP32_IPA_ACT_TRANSMIT_APDU, (sgp32_bytes){ipa->card.apdu, len});
}

static void complete(sgp32_ipa *ipa, bool ok)
{
    ipa->card.request = (sgp32_bytes){NULL, 0};
    ipa->card.call_pending = false;
    ipa_post(ipa, ok ? EV_CARD_OK : EV_CARD_ERROR);
}

/* ------------------------------------------------------------------ actions */

static int send_termcap(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    static const uint8_t termcap[] = {0x80, 0xAA, 0x00, 0x00, 0x05, 0xA9, 0x03, 0x83, 0x01, 0x07};
    ipa->card.channel = 0;
    memcpy(ipa->card.apdu, termcap, sizeof(termcap));
    emit_apdu(ipa, sizeof(termcap));
    return SGP32_OK;
}

static int send_reset(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    ipa->stats.card_resets++;
    ipa->card.refresh = false;
    ipa->card.channel = 0;
    ipa_emit(ipa, SGP32_IPA_ACT_RESET_CARD, (sgp32_bytes){NULL, 0});
    return SGP32_OK;
}

static int open_channel(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    int ch = ipa->config.channel;
    if (ch == SGP32_IPA_CHANNEL_BASIC) {
        ipa_post_card(ipa, CE_SKIP);
        return SGP32_OK;
    }
    uint8_t *a = ipa->card.apdu;
    a[0] = 0x00;
    a[1] = 0x70;
    a[2] = 0x00;
    if (ch == SGP32_IPA_CHANNEL_CARD_ASSIGNED) {
        a[3] = 0x00;
        a[4] = 0x01;
    } else {
        a[3] = (uint8_t)ch;
        a[4] = 0x00;
    }
    emit_apdu(ipa, 5);
    return SGP32_OK;
}

static int send_select(void *ctx, int event, void *arg)
{
    (void)arg;
    sgp32_ipa *ipa = ctx;
    if (event == CE_SW_OK) { /* MANAGE CHANNEL answered */
        if (ipa->config.channel == SGP32_IPA_CHANNEL_CARD_ASSIGNED) {
            if (ipa->card.rsp.len != 1 || ipa->card.rsp.data[0] == 0 || ipa->card.rsp.data[0] > 19)
                return SGP32_ERR_IO;
            ipa->card.channel = ipa->card.rsp.data[0];
        } else {
            ipa->card.channel = (uint8_t)ipa->config.channel;
        }
    }
    uint8_t *a = ipa->card.apdu;
    a[0] = cla(ipa, 0x00);
    a[1] = 0xA4;
    a[2] = 0x04;
    a[3] = 0x00;
    a[4] = sizeof(isdr_aid);
    memcpy(a + 5, isdr_aid, sizeof(isdr_aid));
    emit_apdu(ipa, 5 + sizeof(isdr_aid));
    return SGP32_OK;
}

static int selected(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    if (ipa->card.call_pending)
        ipa_post_card(ipa, CE_CALL);
    else
        complete(ipa, true); /* a reset the job asked for */
    return SGP32_OK;
}

static int send_block(void *ctx, int event, void *arg)
{
    (void)arg;
    sgp32_ipa *ipa = ctx;
    ipa_card *c = &ipa->card;
    if (event == CE_CALL) {
        c->call_pending = false;
        c->offset = 0;
        c->block = 0;
        sgp32_buf_reset(&ipa->es10_rsp);
    }
    size_t block = ipa->config.store_data_block ? ipa->config.store_data_block : 255;
    size_t left = c->request.len - c->offset;
    size_t n = left < block ? left : block;
    c->last_block = n == left;
    uint8_t *a = c->apdu;
    a[0] = cla(ipa, 0x80);
    a[1] = 0xE2;
    a[2] = c->last_block ? 0x91 : 0x11;
    a[3] = c->block;
    a[4] = (uint8_t)n;
    memcpy(a + 5, c->request.data + c->offset, n);
    c->offset += n;
    c->block++;
    emit_apdu(ipa, 5 + n);
    return SGP32_OK;
}

static int append_data(sgp32_ipa *ipa)
{
    return sgp32_buf_append(&ipa->es10_rsp, ipa->card.rsp.data, ipa->card.rsp.len);
}

static int block_done(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    int rc = append_data(ipa);
    if (rc)
        return rc;
    if (!ipa->card.last_block) {
        if (ipa->card.rsp.len)
            return SGP32_ERR_IO; /* an intermediate block answers nothing */
        ipa_post_card(ipa, CE_NEXT_BLOCK);
    } else {
        ipa_post_card(ipa, CE_COMPLETE);
    }
    return SGP32_OK;
}

static int get_response(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    if (!ipa->card.last_block)
        return SGP32_ERR_IO;
    int rc = append_data(ipa);
    if (rc)
        return rc;
    uint8_t *a = ipa->card.apdu;
    a[0] = cla(ipa, 0x00);
    a[1] = 0xC0;
    a[2] = 0x00;
    a[3] = 0x00;
    a[4] = ipa->card.sw2;
    emit_apdu(ipa, 5);
    return SGP32_OK;
}

static int call_complete(void *ctx, int event, void *arg)
{
    (void)arg;
    sgp32_ipa *ipa = ctx;
    if (event == CE_SW_OK) {
        int rc = append_data(ipa);
        if (rc)
            return rc;
    }
    complete(ipa, true);
    return SGP32_OK;
}

static int call_failed(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    complete(ipa, false);
    return SGP32_OK;
}

static int reset_and_retry(void *ctx, int event, void *arg)
{
    sgp32_ipa *ipa = ctx;
    if (ipa->card.retried) {
        ipa_post_card(ipa, CE_FAIL);
        return SGP32_OK;
    }
    ipa->card.retried = true;
    ipa->card.call_pending = true;
    IPA_LOG(ipa, SGP32_LOG_INFO, "6985 from the card: reset, reselect, retry");
    return send_reset(ctx, event, arg);
}

static const sgp32_fsm_transition card_rows[] = {
    {C_CLOSED, CE_CALL, C_TERMCAP, send_termcap},
    {C_CLOSED, CE_RESET, C_RESETTING, send_reset},
    {C_READY, CE_CALL, C_STORE, send_block},
    {C_READY, CE_RESET, C_RESETTING, send_reset},
    {C_RESETTING, CE_RESET_DONE, C_TERMCAP, send_termcap},
    {C_RESETTING, CE_IO_ERROR, C_CLOSED, call_failed},
    {C_TERMCAP, CE_SW_OK, C_OPENING, open_channel},
    {C_TERMCAP, CE_SW_ERROR, C_OPENING, open_channel},
    {C_TERMCAP, CE_SW_6985, C_OPENING, open_channel},
    {C_TERMCAP, CE_IO_ERROR, C_CLOSED, call_failed},
    {C_OPENING, CE_SKIP, C_SELECTING, send_select},
    {C_OPENING, CE_SW_OK, C_SELECTING, send_select},
    {C_OPENING, CE_SW_ERROR, C_CLOSED, call_failed},
    {C_OPENING, CE_SW_6985, C_CLOSED, call_failed},
    {C_OPENING, CE_IO_ERROR, C_CLOSED, call_failed},
    {C_SELECTING, CE_SW_OK, C_READY, selected},
    {C_SELECTING, CE_SW_MORE, C_READY, selected},
    {C_SELECTING, CE_SW_ERROR, C_CLOSED, call_failed},
    {C_SELECTING, CE_SW_6985, C_CLOSED, call_failed},
    {C_SELECTING, CE_IO_ERROR, C_CLOSED, call_failed},
    {C_STORE, CE_SW_OK, C_STORE, block_done},
    {C_STORE, CE_NEXT_BLOCK, C_STORE, send_block},
    {C_STORE, CE_COMPLETE, C_READY, call_complete},
    {C_STORE, CE_SW_MORE, C_GETRESP, get_response},
    {C_STORE, CE_SW_6985, C_RESETTING, reset_and_retry},
    {C_STORE, CE_SW_ERROR, C_READY, call_failed},
    {C_STORE, CE_IO_ERROR, C_CLOSED, call_failed},
    {C_RESETTING, CE_FAIL, C_READY, call_failed},
    {C_GETRESP, CE_SW_MORE, C_GETRESP, get_response},
    {C_GETRESP, CE_SW_OK, C_READY, call_complete},
    {C_GETRESP, CE_SW_ERROR, C_READY, call_failed},
    {C_GETRESP, CE_SW_6985, C_READY, call_failed},
    {C_GETRESP, CE_IO_ERROR, C_CLOSED, call_failed},
};

const sgp32_fsm_def ipa_card_fsm = {
    "es10", card_states, C_STATE_COUNT, card_events, CE_COUNT, card_rows, SGP32_ARRAY_LEN(card_rows),
};

/* ------------------------------------------------------------------ entry points */

void ipa_card_init(sgp32_ipa *ipa)
{
    sgp32_fsm_init(&ipa->card.fsm, &ipa_card_fsm, C_CLOSED);
}

int ipa_card_dispatch(sgp32_ipa *ipa, int event)
{
    int from = ipa->card.fsm.state;
    int rc = sgp32_fsm_dispatch(&ipa->card.fsm, event, ipa, NULL);
    if (rc == SGP32_OK) {
        ipa_card_trace(ipa, from, event, ipa->card.fsm.state);
        return SGP32_OK;
    }
    /* A status the table has no row for, or an action that failed: the call fails and the
     * session is set up again before the next one. */
    IPA_LOG(ipa, SGP32_LOG_WARN, "ES10: %s in %s: %s", card_events[event], card_states[from],
            sgp32_err_str(rc));
    ipa->has_out = false;
    ipa->card.fsm.state = C_CLOSED;
    complete(ipa, false);
    return rc;
}

int ipa_es10_call(sgp32_ipa *ipa, sgp32_bytes request)
{
    if (!request.len)
        return SGP32_ERR_INVALID_ARGUMENT;
    ipa->card.request = request;
    ipa->card.retried = false;
    ipa->card.call_pending = true;
    if (ipa->card.refresh && ipa->card.fsm.state == C_READY) {
        ipa_post_card(ipa, CE_RESET);
        return SGP32_OK;
    }
    ipa_post_card(ipa, CE_CALL);
    return SGP32_OK;
}

int ipa_es10_call_buf(sgp32_ipa *ipa)
{
    return ipa_es10_call(ipa, sgp32_buf_bytes(&ipa->es10_req));
}

int ipa_card_reset(sgp32_ipa *ipa)
{
    ipa->card.call_pending = false;
    ipa->card.request = (sgp32_bytes){NULL, 0};
    ipa_post_card(ipa, CE_RESET);
    return SGP32_OK;
}

int ipa_card_on_event(sgp32_ipa *ipa, const sgp32_ipa_event *in)
{
    if (in->type == SGP32_IPA_EV_TRANSPORT_ERROR) {
        IPA_LOG(ipa, SGP32_LOG_WARN, "card transport error %d", in->status);
        ipa_post_card(ipa, CE_IO_ERROR);
        return SGP32_OK;
    }
    if (ipa->expect == SGP32_IPA_ACT_RESET_CARD) {
        if (in->type != SGP32_IPA_EV_CARD_RESET)
            return SGP32_ERR_STATE;
        ipa_post_card(ipa, CE_RESET_DONE);
        return SGP32_OK;
    }
    if (in->type != SGP32_IPA_EV_APDU_RESPONSE)
        return SGP32_ERR_STATE;
    if (in->data.len < 2 || in->data.len > 258) {
        ipa_post_card(ipa, CE_IO_ERROR);
        return SGP32_OK;
    }
    unsigned sw1 = in->data.data[in->data.len - 2], sw2 = in->data.data[in->data.len - 1];
    ipa->card.rsp = (sgp32_bytes){in->data.data, in->data.len - 2};
    ipa->card.sw2 = (uint8_t)sw2;
    int event;
    if ((sw1 == 0x90 && sw2 == 0x00) || sw1 == 0x91) {
        if (sw1 == 0x91)
            ipa->card.refresh = true; /* proactive command pending (REFRESH): reset before the next call */
        event = CE_SW_OK;
    } else if (sw1 == 0x61) {
        event = CE_SW_MORE;
    } else if (sw1 == 0x69 && sw2 == 0x85) {
        event = CE_SW_6985;
        ipa->stats.last_sw = sw1 << 8 | sw2;
    } else {
        event = CE_SW_ERROR;
        ipa->stats.last_sw = sw1 << 8 | sw2;
    }
    /* Dispatched now, not posted: the response data (card.rsp) is the host's buffer, valid only
     * during this step. */
    int rc = ipa_card_dispatch(ipa, event);
    ipa->card.rsp = (sgp32_bytes){NULL, 0};
    (void)rc;
    return SGP32_OK;
}

/*
 * Profile download (SGP.32 §3.2.3; SGP.22 §3.1.2-§3.1.3; NOTES §3.3, §5.2, §6): the DOWNLOAD job,
 * the same ES10b steps for both paths. The server messages differ: indirect through the eIM
 * (ESipa, ipa_indirect_download.c), direct to the SM-DP+ (ES9+, ipa_direct_download.c).
 *
 *   save "download pending" (eimTransactionId) -> [GetEuiccConfiguredAddresses BF3C for
 *   contactDefaultSmdp] -> GetEUICCInfo1 BF20 -> GetEUICCChallenge BF2E -> InitiateAuthentication
 *   -> save the SM-DP+ transactionId -> AuthenticateServer BF38 (ctxParams1 from the eIM or
 *   built here: matchingId + DeviceInfo) -> AuthenticateClient -> PrepareDownload BF21 (hashCc
 *   from the eIM when it sent one) -> GetBoundProfilePackage, whose answer is walked as it
 *   arrives and relayed segment by segment (LoadBoundProfilePackage, NOTES §5.2) until the
 *   eUICC answers the PIR BF37 -> [ImmediateEnable BF5A + card reset] -> (direct) HandleNotification
 *   to the SM-DP+ and BF30 -> the EXECUTE job reports ProfileDownloadTriggerResult.
 *
 * After InitiateAuthentication any failure (server error, dropped connection, card error, a BPP
 * that ends without a PIR) cancels: ES10b CancelSession BF41 {80 txid, 81 reason}, then the
 * server's CancelSession with the eUICC's signed answer (best effort). The saved SM-DP+
 * transactionId lets a boot after a power loss find the PIR and report it (RECOVER job).
 */
#include "ipa_internal.h"

enum {
    D_START,
    D_SAVE,
    D_DEFAULT_DP,
    D_INFO1,
    D_CHALLENGE,
    D_INITIATE,
    D_SAVE_TXID,
    D_AUTH_SERVER,
    D_AUTH_CLIENT,
    D_PREPARE,
    D_LOADING,
    D_IMMEDIATE,
    D_IMMEDIATE_RESET,
    D_PIR_SEND,
    D_PIR_REMOVE,
    D_CANCEL_CARD,
    D_CANCEL_SERVER,
    D_END,
    D_STATE_COUNT
};
static const char *const download_states[D_STATE_COUNT] = {"START",
                                                           "SAVE",
                                                           "GET_DEFAULT_DP",
                                                           "GET_EUICC_INFO1",
                                                           "GET_EUICC_CHALLENGE",
                                                           "INITIATE_AUTHENTICATION",
                                                           "SAVE_TRANSACTION",
                                                           "AUTHENTICATE_SERVER",
                                                           "AUTHENTICATE_CLIENT",
                                                           "PREPARE_DOWNLOAD",
                                                           "LOAD_BPP",
                                                           "IMMEDIATE_ENABLE",
                                                           "IMMEDIATE_ENABLE_RESET",
                                                           "HANDLE_NOTIFICATION",
                                                           "REMOVE_NOTIFICATION",
                                                           "CANCEL_SESSION_EUICC",
                                                           "CANCEL_SESSION_SERVER",
                                                           "END"};

enum {
    REASON_POSTPONED = 1,
    REASON_TIMEOUT = 2,
    REASON_LOAD_BPP_EXECUTION_ERROR = 5,
    REASON_UNDEFINED = 127,
};

/* ------------------------------------------------------------------ set-up */

int ipa_download_setup(sgp32_ipa *ipa, sgp32_bytes trigger)
{
    ipa_download *dl = &ipa->dl;
    sgp32_asn1_tlv data, choice, txid;
    uint32_t f = ipa->config.ipa_features;
    ipa->st.eim_txid_len = 0;
    if (ipa_find(trigger, 0x82, &txid) == SGP32_OK && txid.value.len && txid.value.len <= IPA_TXID_MAX) {
        memcpy(ipa->st.eim_txid, txid.value.data, txid.value.len);
        ipa->st.eim_txid_len = (uint8_t)txid.value.len;
    }
    bool has_data = ipa_find(trigger, 0xA0, &data) == SGP32_OK && ipa_first(data.value, &choice) == SGP32_OK;
    if (has_data && choice.tag == 0x80) {
        int rc = ipa_activation_code_parse(choice.value, dl->smdp_address, sizeof(dl->smdp_address),
                                           dl->matching_id, sizeof(dl->matching_id), &dl->has_matching_id);
        if (rc)
            return rc;
        dl->has_smdp = true;
    } else if (has_data && choice.tag == 0x81) {
        dl->use_default_dp = true;
    } else if (has_data) {
        return SGP32_ERR_UNSUPPORTED; /* contactSmds: no ES11 in this IPA */
    } else if (!(f & SGP32_IPA_FEATURE_INDIRECT_RSP_SERVER_COMMUNICATION)) {
        return SGP32_ERR_UNSUPPORTED; /* the eIM holds the download data: only it can relay */
    }
    if (f & SGP32_IPA_FEATURE_INDIRECT_RSP_SERVER_COMMUNICATION)
        dl->direct = false;
    else if (f & SGP32_IPA_FEATURE_DIRECT_RSP_SERVER_COMMUNICATION)
        dl->direct = true;
    else
        return SGP32_ERR_UNSUPPORTED;
    return SGP32_OK;
}

int ipa_server_response(sgp32_ipa *ipa, uint32_t tag, sgp32_asn1_tlv *tlv)
{
    sgp32_asn1_tlv outer;
    int rc = sgp32_asn1_read_tlv(ipa->rx.data, ipa->rx.len, &outer, NULL);
    if (rc)
        return rc;
    if (outer.tag == 0xA2 && outer.whole.len == ipa->rx.len) /* ES9+ RemoteProfileProvisioningResponse */
        return sgp32_asn1_expect(outer.value.data, outer.value.len, tag, tlv);
    return sgp32_asn1_expect(ipa->rx.data, ipa->rx.len, tag, tlv);
}

/* ------------------------------------------------------------------ actions */

static int post_cancel(sgp32_ipa *ipa, int64_t reason, const char *why)
{
    IPA_LOG(ipa, SGP32_LOG_WARN, "download: %s", why);
    (void)why; /* SGP32_IPA_NO_LOG */
    ipa->dl.cancel_reason = reason;
    ipa_post(ipa, EV_CANCEL);
    return SGP32_OK;
}

static int save(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    ipa->st.download_pending = true;
    ipa->st.smdp_txid_len = 0;
    sgp32_buf_reset(&ipa->work);
    return ipa_emit_save(ipa);
}

static int default_dp(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    if (!ipa->dl.use_default_dp) {
        ipa_post(ipa, EV_SKIP);
        return SGP32_OK;
    }
    return ipa_es10_simple(ipa, 0xBF3C);
}

static int info1(void *ctx, int event, void *arg)
{
    (void)arg;
    sgp32_ipa *ipa = ctx;
    if (event == EV_CARD_OK) { /* BF3C {[80 defaultDpAddress] 81 rootDs} */
        sgp32_asn1_tlv outer, dp;
        if (ipa_es10_response(ipa, 0xBF3C, &outer) || ipa_find(outer.value, 0x80, &dp) ||
            !ipa_address_plausible(dp.value) || dp.value.len > IPA_ADDRESS_MAX)
            return SGP32_ERR_NOT_FOUND; /* no default SM-DP+ */
        memcpy(ipa->dl.smdp_address, dp.value.data, dp.value.len);
        ipa->dl.smdp_address[dp.value.len] = 0;
        ipa->dl.has_smdp = true;
    }
    return ipa_es10_simple(ipa, 0xBF20);
}

static int challenge(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    sgp32_asn1_tlv info;
    int rc = ipa_es10_response(ipa, 0xBF20, &info);
    if (rc)
        return rc;
    sgp32_buf_reset(&ipa->work);
    rc = sgp32_buf_append(&ipa->work, info.whole.data, info.whole.len);
    return rc ? rc : ipa_es10_simple(ipa, 0xBF2E);
}

static int initiate(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    sgp32_asn1_tlv outer, chal;
    int rc = ipa_es10_response(ipa, 0xBF2E, &outer);
    if (!rc)
        rc = ipa_find(outer.value, 0x80, &chal);
    if (rc || chal.value.len != 16)
        return rc ? rc : SGP32_ERR_ASN1_SIZE;
    memcpy(ipa->dl.challenge, chal.value.data, 16);
    sgp32_buf_reset(&ipa->tx);
    rc = ipa->dl.direct ? ipa_direct_initiate_authentication(ipa, sgp32_buf_bytes(&ipa->work), &ipa->tx)
                        : ipa_indirect_initiate_authentication(ipa, sgp32_buf_bytes(&ipa->work), &ipa->tx);
    return rc ? rc : ipa_emit_esipa(ipa, SGP32_IPA_FN_INITIATE_AUTHENTICATION, true);
}

/* InitiateAuthentication ok: A0 {[80 txid], 30 ss1, 5F37, 04 ciPKId, 30 DPauth, [0C matchingId],
 * [A2 {A0 ctxParams1}]} -> txid, and AuthenticateServerRequest into es10_req. */
static int build_authenticate_server(sgp32_ipa *ipa, sgp32_bytes ok)
{
    ipa_download *dl = &ipa->dl;
    sgp32_asn1_reader r;
    sgp32_asn1_tlv t, ss1 = {0}, sig = {0}, pkid = {0}, cert = {0}, ctx = {0};
    bool have_ss1 = false, have_cert = false, have_ctx = false;
    sgp32_asn1_reader_init(&r, ok, 2);
    while (sgp32_asn1_reader_next(&r, &t) == SGP32_OK) {
        switch (t.tag) {
        case 0x80:
            if (!t.value.len || t.value.len > IPA_TXID_MAX)
                return SGP32_ERR_ASN1_SIZE;
            memcpy(dl->txid, t.value.data, t.value.len);
            dl->txid_len = (uint8_t)t.value.len;
            break;
        case 0x30:
            if (!have_ss1) {
                ss1 = t;
                have_ss1 = true;
            } else {
                cert = t;
                have_cert = true;
            }
            break;
        case 0x5F37: sig = t; break;
        case 0x04: pkid = t; break;
        case 0x0C:
            if (t.value.len < sizeof(dl->matching_id)) {
                memcpy(dl->matching_id, t.value.data, t.value.len);
                dl->matching_id[t.value.len] = 0;
                dl->has_matching_id = true;
            }
            break;
        case 0xA2:
            if (ipa_first(t.value, &ctx) == SGP32_OK && ctx.tag == 0xA0)
                have_ctx = true;
            break;
        default: break;
        }
    }
    if (!have_ss1 || !have_cert || !sig.whole.len || !pkid.whole.len)
        return SGP32_ERR_ASN1_MISSING;
    if (!dl->txid_len) { /* ESipa may leave it out: it is serverSigned1's 80 */
        sgp32_asn1_tlv txid;
        if (ipa_find(ss1.value, 0x80, &txid) || !txid.value.len || txid.value.len > IPA_TXID_MAX)
            return SGP32_ERR_ASN1_MISSING;
        memcpy(dl->txid, txid.value.data, txid.value.len);
        dl->txid_len = (uint8_t)txid.value.len;
    }
    dl->ctx_from_eim = have_ctx;
    sgp32_buf *b = &ipa->es10_req;
    sgp32_buf_reset(b);
    size_t outer = sgp32_asn1_begin(b);
    int rc = sgp32_buf_append(b, ss1.whole.data, ss1.whole.len);
    if (!rc)
        rc = sgp32_buf_append(b, sig.whole.data, sig.whole.len);
    if (!rc)
        rc = sgp32_buf_append(b, pkid.whole.data, pkid.whole.len);
    if (!rc)
        rc = sgp32_buf_append(b, cert.whole.data, cert.whole.len);
    if (!rc && have_ctx) {
        rc = sgp32_buf_append(b, ctx.whole.data, ctx.whole.len);
    } else if (!rc) {
        static const uint8_t default_info[] = {0x30, 0x08, 0x80, 0x04, 0x00, 0x00, 0x00, 0x00, 0xA1, 0x00};
        sgp32_bytes info = ipa->config.device_info.len ? ipa->config.device_info
                                                       : (sgp32_bytes){default_info, sizeof(default_info)};
        size_t c = sgp32_asn1_begin(b);
        if (dl->has_matching_id)
            rc = sgp32_asn1_write_tlv(b, 0x80, (const uint8_t *)dl->matching_id, strlen(dl->matching_id));
        if (!rc)
            rc = sgp32_asn1_write_retagged(b, 0xA1, info);
        if (!rc)
            rc = sgp32_asn1_end(b, 0xA0, c);
    }
    return rc ? rc : sgp32_asn1_end(b, 0xBF38, outer);
}

static int initiate_answer(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    sgp32_asn1_tlv resp, choice;
    int rc = ipa_server_response(ipa, 0xBF39, &resp);
    if (!rc)
        rc = ipa_first(resp.value, &choice);
    if (rc || choice.tag != 0xA0) {
        ipa->stats.last_eim_error = rc ? 0 : ipa_int_or(choice.value, 127);
        IPA_LOG(ipa, SGP32_LOG_WARN, "InitiateAuthentication refused (%lld)",
                (long long)ipa->stats.last_eim_error);
        ipa_post(ipa, EV_FAIL);
        return SGP32_OK;
    }
    rc = build_authenticate_server(ipa, choice.value);
    if (rc) {
        ipa_post(ipa, EV_FAIL);
        return SGP32_OK;
    }
    ipa->dl.have_txid = true;
    memcpy(ipa->st.smdp_txid, ipa->dl.txid, ipa->dl.txid_len);
    ipa->st.smdp_txid_len = ipa->dl.txid_len;
    return ipa_emit_save(ipa);
}

static int authenticate_server(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    return ipa_es10_call_buf(ctx);
}

static int authenticate_client(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    sgp32_asn1_tlv resp;
    int rc = ipa_es10_response(ipa, 0xBF38, &resp);
    if (rc)
        return post_cancel(ipa, REASON_UNDEFINED, "AuthenticateServer answer does not decode");
    sgp32_buf_reset(&ipa->tx);
    rc = ipa->dl.direct ? ipa_direct_wrap(ipa, 0xBF3B, resp.whole, &ipa->tx)
                        : ipa_indirect_wrap(ipa, 0xBF3B, resp.whole, &ipa->tx);
    return rc ? rc : ipa_emit_esipa(ipa, SGP32_IPA_FN_AUTHENTICATE_CLIENT, true);
}

/* AuthenticateClient ok: A0 {[80 txid], [BF25 metadata], 30 ss2, 5F37, 30 DPpb, [04 hashCc]}
 * -> PrepareDownloadRequest BF21 {30 ss2, 5F37, [04 hashCc], 30 DPpb}. */
static int prepare(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    sgp32_asn1_tlv resp, choice, t, ss2 = {0}, sig = {0}, cert = {0}, hash = {0};
    bool have_ss2 = false, have_cert = false, have_hash = false;
    if (ipa_server_response(ipa, 0xBF3B, &resp) || ipa_first(resp.value, &choice) || choice.tag != 0xA0) {
        ipa->stats.last_eim_error =
            ipa_server_response(ipa, 0xBF3B, &resp) == SGP32_OK && ipa_first(resp.value, &choice) == SGP32_OK
                ? ipa_int_or(choice.value, 127)
                : 0;
        return post_cancel(ipa, REASON_UNDEFINED, "AuthenticateClient refused");
    }
    sgp32_asn1_reader r;
    sgp32_asn1_reader_init(&r, choice.value, 2);
    while (sgp32_asn1_reader_next(&r, &t) == SGP32_OK) {
        if (t.tag == 0x30 && !have_ss2) {
            ss2 = t;
            have_ss2 = true;
        } else if (t.tag == 0x30) {
            cert = t;
            have_cert = true;
        } else if (t.tag == 0x5F37) {
            sig = t;
        } else if (t.tag == 0x04) {
            hash = t;
            have_hash = true;
        }
    }
    if (!have_ss2 || !have_cert || !sig.whole.len)
        return post_cancel(ipa, REASON_UNDEFINED, "AuthenticateClient answer incomplete");
    ipa->dl.hash_cc_from_eim = have_hash;
    sgp32_buf *b = &ipa->es10_req;
    sgp32_buf_reset(b);
    size_t outer = sgp32_asn1_begin(b);
    int rc = sgp32_buf_append(b, ss2.whole.data, ss2.whole.len);
    if (!rc)
        rc = sgp32_buf_append(b, sig.whole.data, sig.whole.len);
    if (!rc && have_hash)
        rc = sgp32_buf_append(b, hash.whole.data, hash.whole.len);
    if (!rc)
        rc = sgp32_buf_append(b, cert.whole.data, cert.whole.len);
    if (!rc)
        rc = sgp32_asn1_end(b, 0xBF21, outer);
    return rc ? rc : ipa_es10_call_buf(ipa);
}

static int get_bpp(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    sgp32_asn1_tlv resp;
    int rc = ipa_es10_response(ipa, 0xBF21, &resp);
    if (rc)
        return post_cancel(ipa, REASON_UNDEFINED, "PrepareDownload answer does not decode");
    sgp32_buf_reset(&ipa->tx);
    rc = ipa->dl.direct ? ipa_direct_wrap(ipa, 0xBF3A, resp.whole, &ipa->tx)
                        : ipa_indirect_wrap(ipa, 0xBF3A, resp.whole, &ipa->tx);
    if (rc)
        return rc;
    ipa_bpp_begin(ipa, ipa->dl.direct);
    return ipa_emit_esipa(ipa, SGP32_IPA_FN_GET_BOUND_PROFILE_PACKAGE, true);
}

/* The next segment of the BPP to the card, more of the body from the host, or the end. */
static int next_segment(sgp32_ipa *ipa)
{
    int rc = ipa_bpp_next(ipa);
    if (rc == SGP32_OK) {
        ipa->stats.bpp_segments++;
        return ipa_es10_call(ipa, sgp32_buf_bytes(&ipa->seg));
    }
    if (rc == SGP32_ERR_NOT_FOUND && !ipa->bpp.last_chunk) {
        ipa_emit(ipa, SGP32_IPA_ACT_RECEIVE_MORE, (sgp32_bytes){NULL, 0});
        return SGP32_OK;
    }
    ipa->bpp.active = false;
    if (rc == 2) {
        ipa->stats.last_eim_error = ipa->bpp.error_code;
        return post_cancel(ipa, REASON_UNDEFINED, "GetBoundProfilePackage refused");
    }
    if (rc == 1)
        return post_cancel(ipa, REASON_LOAD_BPP_EXECUTION_ERROR, "the BPP ended without a PIR");
    return post_cancel(ipa, REASON_UNDEFINED, "the BPP does not decode");
}

static int segment_more(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    return next_segment(ctx);
}

static int segment_answer(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    if (ipa->es10_rsp.len) { /* the first answer is the PIR */
        ipa->bpp.active = false;
        ipa_post(ipa, EV_PIR);
        return SGP32_OK;
    }
    return next_segment(ipa);
}

/* BF37 {BF27 {.. A2 finalResult {A0 success | A1 error}} 5F37} */
static bool pir_success(sgp32_bytes pir)
{
    sgp32_asn1_tlv outer, data, final, choice;
    return sgp32_asn1_expect(pir.data, pir.len, 0xBF37, &outer) == SGP32_OK &&
           ipa_find(outer.value, 0xBF27, &data) == SGP32_OK &&
           ipa_find(data.value, 0xA2, &final) == SGP32_OK && ipa_first(final.value, &choice) == SGP32_OK &&
           choice.tag == 0xA0;
}

static int pir(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    sgp32_asn1_tlv p;
    int rc = ipa_es10_response(ipa, 0xBF37, &p);
    if (rc)
        return post_cancel(ipa, REASON_UNDEFINED, "LoadBoundProfilePackage answered no PIR");
    sgp32_buf_reset(&ipa->work);
    rc = sgp32_buf_append(&ipa->work, p.whole.data, p.whole.len);
    if (rc)
        return rc;
    sgp32_buf_free(&ipa->seg); /* the relay is over: give its memory back */
    sgp32_buf_init(&ipa->seg, ipa->config.segment_max ? ipa->config.segment_max : 2048);
    ipa->dl.success = pir_success(p.whole);
    ipa->dl.pir_seq = ipa_seq_number(p.whole);
    if (ipa->dl.success)
        ipa->stats.downloads_installed++;
    else
        ipa->stats.downloads_failed++;
    IPA_LOG(ipa, SGP32_LOG_INFO, "profile download %s (PIR seqNumber %lld)",
            ipa->dl.success ? "installed" : "failed", (long long)ipa->dl.pir_seq);
    if (ipa->dl.success && ipa->config.immediate_enable)
        return ipa_es10_flag_request(ipa, 0xBF5A, true);
    ipa_post(ipa, EV_SKIP);
    return SGP32_OK;
}

static int immediate_result(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    int64_t code = ipa_es10_result_code(ipa, 0xBF5A);
    if (code != 0) {
        IPA_LOG(ipa, SGP32_LOG_WARN, "ImmediateEnable: result %lld", (long long)code);
        ipa_post(ipa, EV_SKIP);
        return SGP32_OK;
    }
    ipa->st.notify = true;
    ipa->st.cause = SGP32_IPA_CAUSE_IMMEDIATE_ENABLE_PROFILE;
    return ipa_card_reset(ipa);
}

static int pir_send(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    if (!ipa->dl.direct) { /* the eIM gets the PIR with the trigger's result */
        ipa_post(ipa, EV_DONE);
        return SGP32_OK;
    }
    sgp32_buf_reset(&ipa->tx);
    int rc = ipa_direct_handle_notification(ipa, sgp32_buf_bytes(&ipa->work), &ipa->tx);
    return rc ? rc : ipa_emit_esipa(ipa, SGP32_IPA_FN_HANDLE_NOTIFICATION, false);
}

static int pir_remove(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    ipa->stats.notifications_delivered++;
    if (ipa->dl.pir_seq < 0) {
        ipa_post(ipa, EV_DONE);
        return SGP32_OK;
    }
    return ipa_es10_remove_notification(ipa, ipa->dl.pir_seq);
}

static int done(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    return ipa_job_finish(ipa, ipa->dl.success);
}

static int cancel_card(void *ctx, int event, void *arg)
{
    (void)arg;
    sgp32_ipa *ipa = ctx;
    ipa->bpp.active = false;
    if (event != EV_CANCEL)
        ipa->dl.cancel_reason = event == EV_EIM_ERROR ? REASON_TIMEOUT : REASON_UNDEFINED;
    sgp32_buf_reset(&ipa->work); /* no PIR */
    if (!ipa->dl.have_txid) {
        ipa_post(ipa, EV_DONE);
        return SGP32_OK;
    }
    sgp32_buf *b = &ipa->es10_req;
    sgp32_buf_reset(b);
    size_t outer = sgp32_asn1_begin(b);
    int rc = sgp32_asn1_write_tlv(b, 0x80, ipa->dl.txid, ipa->dl.txid_len);
    if (!rc)
        rc = sgp32_asn1_write_integer(b, 0x81, ipa->dl.cancel_reason);
    if (!rc)
        rc = sgp32_asn1_end(b, 0xBF41, outer);
    return rc ? rc : ipa_es10_call_buf(ipa);
}

static int cancel_server(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    sgp32_asn1_tlv resp;
    if (ipa_es10_response(ipa, 0xBF41, &resp)) {
        ipa_post(ipa, EV_DONE);
        return SGP32_OK;
    }
    sgp32_buf_reset(&ipa->tx);
    int rc = ipa->dl.direct ? ipa_direct_wrap(ipa, 0xBF41, resp.whole, &ipa->tx)
                            : ipa_indirect_wrap(ipa, 0xBF41, resp.whole, &ipa->tx);
    return rc ? rc : ipa_emit_esipa(ipa, SGP32_IPA_FN_CANCEL_SESSION, !ipa->dl.direct);
}

static int failed(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    ipa->bpp.active = false;
    ipa->dl.success = false;
    ipa->dl.error_reason = 127;
    ipa->stats.downloads_failed++;
    return ipa_job_finish(ipa, false);
}

static const sgp32_fsm_transition download_rows[] = {
    {D_START, EV_START, D_SAVE, save},
    {D_SAVE, EV_SAVED, D_DEFAULT_DP, default_dp},
    {D_DEFAULT_DP, EV_SKIP, D_INFO1, info1},
    {D_DEFAULT_DP, EV_CARD_OK, D_INFO1, info1},
    {D_INFO1, EV_CARD_OK, D_CHALLENGE, challenge},
    {D_CHALLENGE, EV_CARD_OK, D_INITIATE, initiate},
    {D_INITIATE, EV_EIM_OK, D_SAVE_TXID, initiate_answer},
    {D_SAVE_TXID, EV_FAIL, D_END, failed},
    {D_SAVE_TXID, EV_SAVED, D_AUTH_SERVER, authenticate_server},
    {D_SAVE_TXID, EV_SAVE_ERROR, D_AUTH_SERVER, authenticate_server},
    {D_AUTH_SERVER, EV_CARD_OK, D_AUTH_CLIENT, authenticate_client},
    {D_AUTH_SERVER, EV_CARD_ERROR, D_CANCEL_CARD, cancel_card},
    {D_AUTH_CLIENT, EV_CANCEL, D_CANCEL_CARD, cancel_card},
    {D_AUTH_CLIENT, EV_EIM_OK, D_PREPARE, prepare},
    {D_AUTH_CLIENT, EV_EIM_ERROR, D_CANCEL_CARD, cancel_card},
    {D_PREPARE, EV_CANCEL, D_CANCEL_CARD, cancel_card},
    {D_PREPARE, EV_CARD_OK, D_LOADING, get_bpp},
    {D_PREPARE, EV_CARD_ERROR, D_CANCEL_CARD, cancel_card},
    {D_LOADING, EV_EIM_OK, D_LOADING, segment_more},
    {D_LOADING, EV_CARD_OK, D_LOADING, segment_answer},
    {D_LOADING, EV_CANCEL, D_CANCEL_CARD, cancel_card},
    {D_LOADING, EV_EIM_ERROR, D_CANCEL_CARD, cancel_card},
    {D_LOADING, EV_CARD_ERROR, D_CANCEL_CARD, cancel_card},
    {D_LOADING, EV_PIR, D_IMMEDIATE, pir},
    {D_IMMEDIATE, EV_SKIP, D_PIR_SEND, pir_send},
    {D_IMMEDIATE, EV_CARD_OK, D_IMMEDIATE_RESET, immediate_result},
    {D_IMMEDIATE, EV_CARD_ERROR, D_PIR_SEND, pir_send},
    {D_IMMEDIATE_RESET, EV_SKIP, D_PIR_SEND, pir_send},
    {D_IMMEDIATE_RESET, EV_CARD_OK, D_PIR_SEND, pir_send},
    {D_PIR_SEND, EV_DONE, D_END, done},
    {D_PIR_SEND, EV_EIM_OK, D_PIR_REMOVE, pir_remove},
    {D_PIR_SEND, EV_EIM_ERROR, D_END, done}, /* the PIR stays for the next notification delivery */
    {D_PIR_REMOVE, EV_CARD_OK, D_END, done},
    {D_PIR_REMOVE, EV_CARD_ERROR, D_END, done},
    {D_PIR_REMOVE, EV_DONE, D_END, done},
    {D_CANCEL_CARD, EV_DONE, D_END, failed},
    {D_CANCEL_CARD, EV_CARD_OK, D_CANCEL_SERVER, cancel_server},
    {D_CANCEL_CARD, EV_CARD_ERROR, D_END, failed},
    {D_CANCEL_SERVER, EV_DONE, D_END, failed},
    {D_CANCEL_SERVER, EV_EIM_OK, D_END, failed},
    {D_CANCEL_SERVER, EV_EIM_ERROR, D_END, failed},
};

const sgp32_fsm_def ipa_download_fsm = {
    "download",
    download_states,
    D_STATE_COUNT,
    ipa_event_names,
    EV_COUNT,
    download_rows,
    SGP32_ARRAY_LEN(download_rows),
};

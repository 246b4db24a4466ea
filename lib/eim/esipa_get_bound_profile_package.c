/*
 * ESipa.GetBoundProfilePackage (SGP.32 §5.14.2; indirect download §3.2.3.2 step 8; NOTES §3.2,
 * §6.2 step 5), relayed to ES9+.GetBoundProfilePackage (SGP.22 §5.6.2).
 *
 *   IPA -> eIM   BF3A {80 transactionId, BF21 PrepareDownloadResponse}
 *   eIM -> DP    BF3A {80 transactionId, BF21 PrepareDownloadResponse}
 *   DP -> eIM    BF3A {A0 {80 txid, BF36 boundProfilePackage} | 81 code}
 *   eIM -> IPA   BF3A {A0 {[80 txid], BF36 boundProfilePackage} | 81 code}
 *
 * GetBoundProfilePackageOkEsipa has the components of GetBoundProfilePackageOk (transactionId made
 * optional), so the SM-DP+'s answer is the ESipa answer byte for byte: the BPP (megabytes) is read
 * straight into the caller's buffer when it is empty, or appended once, never decoded here (the
 * eUICC verifies it segment by segment).
 *
 * The PrepareDownloadResponse goes as received (an error one too); its compact form
 * (minimizeEsipaBytes: CompactPrepareDownloadResponseOk) is expanded first, the signed
 * EuiccSigned2 30 {80 transactionId, 5F49 euiccOtpk, [04 hashCc]} rebuilt with the relay's
 * transactionId. Unknown transactionId: invalidTransactionId 95.
 */
#include <stdio.h>
#include <string.h>

#include "eim_relay.h"

enum { ERR_INVALID_TRANSACTION_ID = 95 };

#define FN SGP32_EIM_RELAY_GET_BOUND_PROFILE_PACKAGE

/* BF21 {A0 {30 {80 txid, [5F49 otpk], [04 hashCc]}, 5F37 euiccSignature2}} from the compact form. */
static int expand_compact(const sgp32_compact_prepare_download_response_ok *c, sgp32_bytes txid,
                          sgp32_buf *out)
{
    const sgp32_compact_euicc_signed2 *s = &c->compact_euicc_signed2;
    size_t outer = sgp32_asn1_begin(out);
    size_t a0 = sgp32_asn1_begin(out);
    size_t signed2 = sgp32_asn1_begin(out);
    int rc = sgp32_asn1_write_tlv(out, 0x80, txid.data, txid.len);
    if (!rc && s->has_euicc_otpk)
        rc = sgp32_asn1_write_tlv(out, 0x5F49, s->euicc_otpk.data, s->euicc_otpk.len);
    if (!rc && s->has_hash_cc)
        rc = sgp32_asn1_write_tlv(out, 0x04, s->hash_cc.data, s->hash_cc.len);
    if (!rc)
        rc = sgp32_asn1_end(out, 0x30, signed2);
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, 0x5F37, c->euicc_signature2.data, c->euicc_signature2.len);
    if (!rc)
        rc = sgp32_asn1_end(out, 0xA0, a0);
    return rc ? rc : sgp32_asn1_end(out, 0xBF21, outer);
}

/* GetBoundProfilePackageOk contents: 80 txid (ours), BF36, nothing else. */
static bool check_ok(sgp32_bytes content, sgp32_bytes txid)
{
    sgp32_asn1_reader r;
    sgp32_asn1_tlv t;
    sgp32_asn1_reader_init(&r, content, 2);
    return sgp32_asn1_reader_next(&r, &t) == SGP32_OK && t.tag == 0x80 && sgp32_bytes_equal(t.value, txid) &&
           sgp32_asn1_reader_next(&r, &t) == SGP32_OK && t.tag == 0xBF36 && sgp32_asn1_reader_done(&r);
}

int sgp32_eim_get_bound_profile_package(const sgp32_eim_server *srv,
                                        const sgp32_get_bound_profile_package_request_esipa *req,
                                        sgp32_buf *out, sgp32_eim_esipa_info *info)
{
    if (!srv || !req || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    const sgp32_sgp32_prepare_download_response *pdr = &req->prepare_download_response;
    size_t before = out->len;
    char txid_hex[2 * SGP32_EIM_RELAY_TXID_MAX + 1];
    int64_t error = 0;
    const char *why = NULL;
    sgp32_eim_relay relay;
    sgp32_eim_relay_call call;
    sgp32_log_context ctx;
    sgp32_buf request, spare;
    /* The answer goes straight into out when out is empty: no copy of the BPP at all. */
    sgp32_buf *answer = before == 0 ? out : &spare;
    size_t mark;
    memset(&call, 0, sizeof(call));
    sgp32_buf_init(&request, EIM_RELAY_ANSWER_MAX);
    sgp32_buf_init(&spare, EIM_RELAY_BPP_MAX);
    sgp32_eim_relay_log_context(&ctx, NULL, req->transaction_id, txid_hex);

    int rc = sgp32_eim_relay_session(srv, req->transaction_id, ERR_INVALID_TRANSACTION_ID, &relay, &ctx,
                                     &error, &why);
    if (rc)
        goto out;
    if (error)
        goto refuse;

    /* ES9+ GetBoundProfilePackageRequest BF3A {80 txid, BF21}. */
    mark = sgp32_asn1_begin(&request);
    rc = sgp32_asn1_write_tlv(&request, 0x80, req->transaction_id.data, req->transaction_id.len);
    if (!rc && pdr->choice == SGP32_SGP32_PREPARE_DOWNLOAD_RESPONSE_COMPACT_DOWNLOAD_RESPONSE_OK)
        rc = expand_compact(&pdr->u.compact_download_response_ok, req->transaction_id, &request);
    else if (!rc)
        rc = sgp32_buf_append(&request, pdr->der.data, pdr->der.len);
    if (!rc)
        rc = sgp32_asn1_end(&request, 0xBF3A, mark);
    if (!rc)
        rc = sgp32_eim_relay_es9(srv, FN, relay.smdp_address, relay.eid, request.data, request.len, answer,
                                 &call);
    if (rc)
        goto out;
    if (!call.ok) {
        error = call.error;
        goto refuse;
    }
    if (!check_ok(call.ok_content, req->transaction_id)) {
        error = EIM_RELAY_UNDEFINED;
        why = "the SM-DP+'s GetBoundProfilePackage answer is malformed";
        goto refuse;
    }
    /* GetBoundProfilePackageResponseEsipa = the ES9+ answer (without an A2 wrapper). */
    if (answer == out) {
        if (call.answer.data != out->data)
            memmove(out->data, call.answer.data, call.answer.len);
        out->len = call.answer.len;
    } else {
        rc = sgp32_buf_append(out, call.answer.data, call.answer.len);
        if (rc)
            goto out;
    }
    sgp32_log(SGP32_LOG_INFO, SGP32_LOG_EIM, &ctx, "GetBoundProfilePackage relayed from %s: %zu bytes",
              relay.smdp_address, call.answer.len);
    sgp32_eim_relay_info_outcome(info, FN, &relay, relay.smdp_address, &call);
    goto out;

refuse:
    rc = sgp32_eim_relay_refuse(FN, error, why, relay.eid, &relay, relay.smdp_address, &call, &ctx, info, out,
                                before);
out:
    if (rc)
        out->len = before;
    sgp32_buf_free(&request);
    sgp32_buf_free(&spare);
    return rc;
}

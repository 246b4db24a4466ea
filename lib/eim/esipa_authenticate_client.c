/*
 * ESipa.AuthenticateClient (SGP.32 §5.14.3; indirect download §3.2.3.2 step 5; NOTES §3.2, §6.2
 * step 3), relayed to ES9+.AuthenticateClient (SGP.22 §5.6.3).
 *
 *   IPA -> eIM   BF3B {80 transactionId, BF38 AuthenticateServerResponse}
 *   eIM -> DP    BF3B {80 transactionId, BF38 AuthenticateServerResponse (as received)}
 *   DP -> eIM    BF3B {A0 {80 txid, BF25 profileMetaData, 30 smdpSigned2, 5F37, 30 CERT.DPpb} | 81 code}
 *   eIM -> IPA   BF3B {A0 authenticateClientOkDPEsipa {[80 txid], [BF25], 30, 5F37, 30, [04 hashCc]}
 *                     | 82 code}
 *
 * SGP32Definitions AuthenticateClientOkDPEsipa has the components of RSPDefinitions
 * AuthenticateClientOk in the same order with the same tags (transactionId and profileMetaData
 * made optional, hashCc added): the SM-DP+'s components are passed on as received.
 *
 * The transactionId must name a relay session InitiateAuthentication recorded (else
 * invalidTransactionId 10). The eUICC's certificates in authenticateResponseOk give its EID: it
 * must be the relay session's (else eidMismatch 7, nothing is relayed). When the eUICC record has
 * no certificate yet, the chain is verified against the eIM's trusted CIs and both certificates
 * are kept ("learned via AuthenticateServerResponse"); the SM-DP+ judges the signature itself.
 * The compact form (minimizeEsipaBytes) is not accepted: the eIM announces no support for it.
 */
#include <stdio.h>
#include <string.h>

#include "eim_relay.h"
#include "sgp32/eid.h"

enum {
    ERR_EID_MISMATCH = 7,
    ERR_INVALID_TRANSACTION_ID = 10,
    EUICC_UPDATE_TRIES = 3,
};

#define FN SGP32_EIM_RELAY_AUTHENTICATE_CLIENT

/* Keep CERT.EUICC and CERT.EUM on the eUICC's record when it has none yet and they verify. */
static void learn_certificates(const sgp32_eim_server *srv, const char *eid, sgp32_bytes eum,
                               sgp32_bytes euicc, const sgp32_log_context *ctx)
{
    const sgp32_eim_store *st = &srv->config.store;
    if (!srv->config.trusted_cis || !st->euicc_get || !st->euicc_update)
        return;
    uint8_t eid_bcd[SGP32_EID_LEN];
    if (sgp32_eid_from_text(eid, eid_bcd) != SGP32_OK)
        return;
    bool verified = false, learned = false;
    int rc = SGP32_OK;
    sgp32_eim_euicc e;
    sgp32_eim_euicc_init(&e);
    for (int i = 0; i < EUICC_UPDATE_TRIES; i++) {
        sgp32_eim_euicc_free(&e);
        sgp32_eim_euicc_init(&e);
        rc = st->euicc_get(st->ctx, eid, &e);
        if (rc || e.euicc_certificate.len)
            break;
        if (!verified) {
            rc = sgp32_cert_verify_euicc_chain(srv->config.trusted_cis, eum, euicc, sgp32_eim_now(srv),
                                               eid_bcd, NULL);
            if (rc) {
                sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EIM, ctx, "eUICC certificates not learned: %s",
                          sgp32_err_str(rc));
                rc = SGP32_OK;
                break;
            }
            verified = true;
        }
        sgp32_buf_reset(&e.euicc_certificate);
        sgp32_buf_reset(&e.eum_certificate);
        rc = sgp32_buf_append(&e.euicc_certificate, euicc.data, euicc.len);
        if (!rc)
            rc = sgp32_buf_append(&e.eum_certificate, eum.data, eum.len);
        if (!rc)
            rc = st->euicc_update(st->ctx, &e);
        learned = rc == SGP32_OK;
        if (rc != SGP32_ERR_STATE)
            break;
    }
    if (rc == SGP32_ERR_NOT_FOUND)
        sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EIM, ctx, "eUICC not registered: certificates not kept");
    else if (rc)
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EIM, ctx, "eUICC certificates not stored: %s", sgp32_err_str(rc));
    if (learned) {
        sgp32_log(SGP32_LOG_INFO, SGP32_LOG_EIM, ctx,
                  "eUICC certificates learned via AuthenticateServerResponse");
        sgp32_eim_audit(srv, "esipa", "euicc.certificates", eid, 0, "learned via AuthenticateServerResponse");
    }
    sgp32_eim_euicc_free(&e);
}

/* The EID in CERT.EUICC's subject as 32 digits; false when the certificate does not give one. */
static bool certificate_eid(sgp32_bytes euicc, char eid[SGP32_EIM_EID_DIGITS + 1])
{
    sgp32_certificate *cert = sgp32_alloc(sizeof(*cert));
    bool ok = cert && sgp32_cert_parse(euicc.data, euicc.len, cert) == SGP32_OK && cert->has_eid &&
              sgp32_eid_to_text(cert->eid, eid) == SGP32_OK;
    if (cert)
        sgp32_free(cert, sizeof(*cert));
    return ok;
}

/* AuthenticateClientOk contents: 80 txid, BF25, 30 smdpSigned2, 5F37, 30 CERT.DPpb (in order). */
static bool check_ok(sgp32_bytes content, sgp32_bytes txid)
{
    static const uint32_t tags[] = {0x80, 0xBF25, 0x30, 0x5F37, 0x30};
    sgp32_asn1_reader r;
    sgp32_asn1_tlv t;
    size_t n = 0;
    sgp32_asn1_reader_init(&r, content, 2);
    while (sgp32_asn1_reader_next(&r, &t) == SGP32_OK) {
        if (n == SGP32_ARRAY_LEN(tags) || t.tag != tags[n])
            return false;
        if (n == 0 && !sgp32_bytes_equal(t.value, txid))
            return false;
        n++;
    }
    return sgp32_asn1_reader_done(&r) && n == SGP32_ARRAY_LEN(tags);
}

int sgp32_eim_authenticate_client(const sgp32_eim_server *srv,
                                  const sgp32_authenticate_client_request_esipa *req, sgp32_buf *out,
                                  sgp32_eim_esipa_info *info)
{
    if (!srv || !req || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    const sgp32_eim_store *st = &srv->config.store;
    const sgp32_sgp32_authenticate_server_response *asr = &req->authenticate_server_response;
    size_t before = out->len;
    char txid_hex[2 * SGP32_EIM_RELAY_TXID_MAX + 1];
    char eid[SGP32_EIM_EID_DIGITS + 1] = "";
    int64_t error = 0;
    const char *why = NULL;
    sgp32_eim_relay relay;
    sgp32_eim_relay_call call;
    sgp32_log_context ctx;
    sgp32_buf request, answer;
    size_t mark;
    memset(&call, 0, sizeof(call));
    sgp32_buf_init(&request, EIM_RELAY_ANSWER_MAX);
    sgp32_buf_init(&answer, EIM_RELAY_ANSWER_MAX);
    sgp32_eim_relay_log_context(&ctx, NULL, req->transaction_id, txid_hex);

    int rc = sgp32_eim_relay_session(srv, req->transaction_id, ERR_INVALID_TRANSACTION_ID, &relay, &ctx,
                                     &error, &why);
    if (rc)
        goto out;
    if (error)
        goto refuse;

    switch (asr->choice) {
    case SGP32_SGP32_AUTHENTICATE_SERVER_RESPONSE_AUTHENTICATE_RESPONSE_OK: {
        const sgp32_sgp32_authenticate_response_ok *ok = &asr->u.authenticate_response_ok;
        if (!certificate_eid(ok->euicc_certificate, eid))
            break; /* the SM-DP+ refuses the certificate itself */
        if (relay.eid[0] && strcmp(relay.eid, eid) != 0) {
            error = ERR_EID_MISMATCH;
            why = "CERT.EUICC names another eUICC than the download's";
            goto refuse;
        }
        if (!relay.eid[0]) { /* the first time the relay learns whom it serves */
            snprintf(relay.eid, sizeof(relay.eid), "%s", eid);
            ctx.eid = relay.eid;
            rc = st->relay_put ? st->relay_put(st->ctx, &relay) : SGP32_ERR_UNSUPPORTED;
            if (rc) {
                sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_EIM, &ctx, "relay session not updated: %s",
                          sgp32_err_str(rc));
                goto out;
            }
        }
        learn_certificates(srv, relay.eid, ok->eum_certificate, ok->euicc_certificate, &ctx);
        break;
    }
    case SGP32_SGP32_AUTHENTICATE_SERVER_RESPONSE_AUTHENTICATE_RESPONSE_ERROR: break; /* relayed as it is */
    default:
        error = EIM_RELAY_UNDEFINED;
        why = "compact AuthenticateServerResponse is not supported";
        goto refuse;
    }

    /* ES9+ AuthenticateClientRequest BF3B {80 txid, BF38 as received}. */
    mark = sgp32_asn1_begin(&request);
    rc = sgp32_asn1_write_tlv(&request, 0x80, req->transaction_id.data, req->transaction_id.len);
    if (!rc)
        rc = sgp32_buf_append(&request, asr->der.data, asr->der.len);
    if (!rc)
        rc = sgp32_asn1_end(&request, 0xBF3B, mark);
    if (!rc)
        rc = sgp32_eim_relay_es9(srv, FN, relay.smdp_address, relay.eid, request.data, request.len, &answer,
                                 &call);
    if (rc)
        goto out;
    if (!call.ok) {
        error = call.error;
        goto refuse;
    }
    if (!check_ok(call.ok_content, req->transaction_id)) {
        error = EIM_RELAY_UNDEFINED;
        why = "the SM-DP+'s AuthenticateClient answer is malformed";
        goto refuse;
    }
    /* AuthenticateClientResponseEsipa BF3B {A0 authenticateClientOkDPEsipa}: the same components. */
    mark = sgp32_asn1_begin(out);
    rc = sgp32_buf_append(out, call.ok_whole.data, call.ok_whole.len);
    if (!rc)
        rc = sgp32_asn1_end(out, 0xBF3B, mark);
    if (rc)
        goto out;
    sgp32_log(SGP32_LOG_INFO, SGP32_LOG_EIM, &ctx, "AuthenticateClient relayed to %s", relay.smdp_address);
    sgp32_eim_relay_info_outcome(info, FN, &relay, relay.smdp_address, &call);
    goto out;

refuse:
    rc = sgp32_eim_relay_refuse(FN, error, why, relay.eid[0] ? relay.eid : eid, &relay, relay.smdp_address,
                                &call, &ctx, info, out, before);
out:
    if (rc)
        out->len = before;
    sgp32_buf_free(&request);
    sgp32_buf_free(&answer);
    return rc;
}

/*
 * ES9+ ASN.1 binding (SGP.22 §6.6; NOTES §4.4): POST /gsma/rsp2/asn1 with
 * RemoteProfileProvisioningRequest A2 {BF39 | BF3B | BF3A | BF41 | BF3D}, answered with
 * RemoteProfileProvisioningResponse A2 {BF39 | BF3B | BF3A | BF41} (HandleNotification: 204).
 *
 *   BF39 {81 euiccChallenge, 83 smdpAddress, BF20 euiccInfo1}
 *   BF3B {80 transactionId, BF38 authenticateServerResponse}
 *   BF3A {80 transactionId, BF21 prepareDownloadResponse}
 *   BF41 {80 transactionId, A1 cancelSessionResponse}      (automatic tags: A1 replaces BF41)
 *   BF3D {A0 pendingNotification}                          (BF37 or 30 inside the explicit A0)
 * Answers: A0 {the Ok SEQUENCE's components} or 81 error code (the function's INTEGER).
 * The inner eUICC objects are handed on as received; the session code decodes them.
 */
#include <string.h>

#include "smdp_server_internal.h"

static int bad(sgp32_smdp_status *status, const char *what)
{
    sgp32_smdp_status_set(status, "1.6", "2.1", what);
    return SGP32_OK;
}

static int next(sgp32_asn1_reader *r, uint32_t tag, sgp32_asn1_tlv *t)
{
    return sgp32_asn1_reader_next(r, t) == SGP32_OK && t->tag == tag ? 0 : -1;
}

static int take_txid(sgp32_asn1_reader *r, sgp32_smdp_es9_request *req)
{
    sgp32_asn1_tlv t;
    if (next(r, 0x80, &t) || t.value.len == 0 || t.value.len > SGP32_SMDP_TXID_LEN)
        return -1;
    memcpy(req->transaction_id, t.value.data, t.value.len);
    req->transaction_id_len = t.value.len;
    return 0;
}

int sgp32_smdp_es9_asn1_decode(const uint8_t *body, size_t len, sgp32_smdp_es9_request *req,
                               sgp32_smdp_status *status)
{
    if (!req || !status)
        return SGP32_ERR_INVALID_ARGUMENT;
    memset(status, 0, sizeof(*status));
    req->function = (sgp32_smdp_es9_function)0;
    sgp32_buf_reset(&req->der);
    sgp32_asn1_tlv outer, fn, t, inner;
    if (!body || sgp32_asn1_expect(body, len, 0xA2, &outer) != SGP32_OK ||
        sgp32_asn1_read_tlv(outer.value.data, outer.value.len, &fn, NULL) != SGP32_OK ||
        fn.whole.len != outer.value.len)
        return bad(status, "not a RemoteProfileProvisioningRequest");
    sgp32_asn1_reader r;
    sgp32_asn1_reader_init(&r, fn.value, 2);
    int rc = SGP32_OK;
    switch (fn.tag) {
    case 0xBF39:
        req->function = SGP32_SMDP_ES9_INITIATE_AUTHENTICATION;
        if (next(&r, 0x81, &t) || t.value.len != 16)
            return bad(status, "euiccChallenge");
        memcpy(req->euicc_challenge, t.value.data, 16);
        if (next(&r, 0x83, &t) || t.value.len > SGP32_SMDP_ADDRESS_MAX ||
            memchr(t.value.data, 0, t.value.len))
            return bad(status, "smdpAddress");
        memcpy(req->smdp_address, t.value.data, t.value.len);
        req->smdp_address[t.value.len] = '\0';
        if (next(&r, 0xBF20, &t))
            return bad(status, "euiccInfo1");
        rc = sgp32_buf_append(&req->der, t.whole.data, t.whole.len);
        break;
    case 0xBF3B:
    case 0xBF3A:
        req->function =
            fn.tag == 0xBF3B ? SGP32_SMDP_ES9_AUTHENTICATE_CLIENT : SGP32_SMDP_ES9_GET_BOUND_PROFILE_PACKAGE;
        if (take_txid(&r, req))
            return bad(status, "transactionId");
        if (next(&r, fn.tag == 0xBF3B ? 0xBF38 : 0xBF21, &t))
            return bad(status, fn.tag == 0xBF3B ? "authenticateServerResponse" : "prepareDownloadResponse");
        rc = sgp32_buf_append(&req->der, t.whole.data, t.whole.len);
        break;
    case 0xBF41:
        req->function = SGP32_SMDP_ES9_CANCEL_SESSION;
        if (take_txid(&r, req))
            return bad(status, "transactionId");
        if (next(&r, 0xA1, &t))
            return bad(status, "cancelSessionResponse");
        rc = sgp32_asn1_write_retagged(&req->der, 0xBF41, t.whole);
        break;
    case 0xBF3D:
        req->function = SGP32_SMDP_ES9_HANDLE_NOTIFICATION;
        if (next(&r, 0xA0, &t) || sgp32_asn1_read_tlv(t.value.data, t.value.len, &inner, NULL) != SGP32_OK ||
            inner.whole.len != t.value.len)
            return bad(status, "pendingNotification");
        rc = sgp32_buf_append(&req->der, inner.whole.data, inner.whole.len);
        break;
    default: return bad(status, "unknown RemoteProfileProvisioningRequest alternative");
    }
    if (!rc && !sgp32_asn1_reader_done(&r))
        return bad(status, "unexpected component");
    if (rc == SGP32_ERR_CAPACITY)
        return bad(status, "request too large");
    return rc;
}

int sgp32_smdp_es9_asn1_encode(const sgp32_smdp_es9_response *resp, sgp32_buf *body)
{
    if (!resp || !body)
        return SGP32_ERR_INVALID_ARGUMENT;
    uint32_t tag = 0;
    switch (resp->function) {
    case SGP32_SMDP_ES9_INITIATE_AUTHENTICATION: tag = 0xBF39; break;
    case SGP32_SMDP_ES9_AUTHENTICATE_CLIENT: tag = 0xBF3B; break;
    case SGP32_SMDP_ES9_GET_BOUND_PROFILE_PACKAGE: tag = 0xBF3A; break;
    case SGP32_SMDP_ES9_CANCEL_SESSION: tag = 0xBF41; break;
    case SGP32_SMDP_ES9_HANDLE_NOTIFICATION: return SGP32_OK; /* 204 */
    }
    if (!tag)
        return SGP32_ERR_INVALID_ARGUMENT;
    size_t before = body->len;
    size_t a2 = sgp32_asn1_begin(body);
    size_t fn = sgp32_asn1_begin(body);
    int rc = SGP32_OK;
    if (!sgp32_smdp_status_ok(&resp->status)) {
        rc = sgp32_asn1_write_integer(body, 0x81, resp->asn1_error ? resp->asn1_error : 127);
    } else {
        size_t ok = sgp32_asn1_begin(body);
        if (resp->function != SGP32_SMDP_ES9_CANCEL_SESSION)
            rc = sgp32_asn1_write_tlv(body, 0x80, resp->transaction_id, resp->transaction_id_len);
        if (!rc && resp->function == SGP32_SMDP_ES9_AUTHENTICATE_CLIENT)
            rc = sgp32_buf_append(body, resp->profile_metadata.data, resp->profile_metadata.len);
        if (!rc && resp->function != SGP32_SMDP_ES9_GET_BOUND_PROFILE_PACKAGE &&
            resp->function != SGP32_SMDP_ES9_CANCEL_SESSION) {
            rc = sgp32_buf_append(body, resp->signed_data.data, resp->signed_data.len);
            if (!rc)
                rc = sgp32_buf_append(body, resp->signature.data, resp->signature.len);
            if (!rc && resp->function == SGP32_SMDP_ES9_INITIATE_AUTHENTICATION)
                rc = sgp32_buf_append(body, resp->ci_pkid.data, resp->ci_pkid.len);
            if (!rc)
                rc = sgp32_buf_append(body, resp->certificate.data, resp->certificate.len);
        }
        if (!rc && resp->function == SGP32_SMDP_ES9_GET_BOUND_PROFILE_PACKAGE)
            rc = sgp32_buf_append(body, resp->bpp.data, resp->bpp.len);
        if (!rc)
            rc = sgp32_asn1_end(body, 0xA0, ok);
    }
    if (!rc)
        rc = sgp32_asn1_end(body, tag, fn);
    if (!rc)
        rc = sgp32_asn1_end(body, 0xA2, a2);
    if (rc)
        body->len = before;
    return rc;
}

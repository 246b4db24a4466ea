/*
 * ES9+ JSON binding (SGP.22 §6.5.2.6-6.5.2.10; NOTES §4.1, §4.3): request bodies into
 * sgp32_smdp_es9_request, responses into bodies. transactionId is upper-case hex (either case
 * accepted), DER objects standard base64, euiccChallenge base64 of 16 bytes. The request header
 * object is optional on ES9+ (LPAs omit it) and checked when present.
 */
#include <string.h>

#include "sgp32/text.h"
#include "smdp_json.h"

static int transaction_id(json_t *root, sgp32_smdp_es9_request *req, sgp32_smdp_status *status)
{
    char hex[2 * SGP32_SMDP_TXID_LEN + 1];
    if (smdp_json_string(root, "transactionId", true, sizeof(hex) - 1, hex, NULL, status))
        return -1;
    uint8_t raw[SGP32_SMDP_TXID_LEN];
    sgp32_buf b;
    sgp32_buf_init_fixed(&b, raw, sizeof(raw));
    size_t len = strlen(hex);
    bool hex_only = len >= 2 && len % 2 == 0 && strspn(hex, "0123456789ABCDEFabcdef") == len;
    if (!hex_only || sgp32_hex_decode(hex, len, &b) != SGP32_OK) {
        sgp32_smdp_status_set(status, "1.6", "2.1", "transactionId: not 1..16 bytes of hex");
        return -1;
    }
    memcpy(req->transaction_id, raw, b.len);
    req->transaction_id_len = b.len;
    return 0;
}

int sgp32_smdp_es9_json_decode(sgp32_smdp_es9_function f, const char *body, size_t len,
                               sgp32_smdp_es9_request *req, sgp32_smdp_status *status)
{
    if (!req || !status)
        return SGP32_ERR_INVALID_ARGUMENT;
    memset(status, 0, sizeof(*status));
    req->function = f;
    sgp32_buf_reset(&req->der);
    json_t *root = smdp_json_parse(body, len, status);
    if (!root)
        return SGP32_OK;
    static const char *const initiate[] = {"header", "euiccChallenge", "euiccInfo1", "smdpAddress", NULL};
    static const char *const authenticate[] = {"header", "transactionId", "authenticateServerResponse", NULL};
    static const char *const gbpp[] = {"header", "transactionId", "prepareDownloadResponse", NULL};
    static const char *const notification[] = {"header", "pendingNotification", NULL};
    static const char *const cancel[] = {"header", "transactionId", "cancelSessionResponse", NULL};
    const char *const *known = NULL;
    const char *der_field = NULL;
    switch (f) {
    case SGP32_SMDP_ES9_INITIATE_AUTHENTICATION:
        known = initiate;
        der_field = "euiccInfo1";
        break;
    case SGP32_SMDP_ES9_AUTHENTICATE_CLIENT:
        known = authenticate;
        der_field = "authenticateServerResponse";
        break;
    case SGP32_SMDP_ES9_GET_BOUND_PROFILE_PACKAGE:
        known = gbpp;
        der_field = "prepareDownloadResponse";
        break;
    case SGP32_SMDP_ES9_HANDLE_NOTIFICATION:
        known = notification;
        der_field = "pendingNotification";
        break;
    case SGP32_SMDP_ES9_CANCEL_SESSION:
        known = cancel;
        der_field = "cancelSessionResponse";
        break;
    }
    if (!known) {
        json_decref(root);
        return SGP32_ERR_INVALID_ARGUMENT;
    }
    int bad = !smdp_json_known_fields(root, known, status) ||
              smdp_json_request_header(root, false, NULL, 0, NULL, 0, status);
    if (!bad && f == SGP32_SMDP_ES9_INITIATE_AUTHENTICATION) {
        uint8_t raw[32];
        sgp32_buf challenge;
        sgp32_buf_init_fixed(&challenge, raw, sizeof(raw));
        bad = smdp_json_base64(root, "euiccChallenge", &challenge, status) ||
              smdp_json_string(root, "smdpAddress", true, SGP32_SMDP_ADDRESS_MAX, req->smdp_address, NULL,
                               status);
        if (!bad && challenge.len != sizeof(req->euicc_challenge)) {
            sgp32_smdp_status_set(status, "1.6", "2.1", "euiccChallenge: not 16 bytes");
            bad = 1;
        }
        if (!bad)
            memcpy(req->euicc_challenge, raw, sizeof(req->euicc_challenge));
    } else if (!bad && f != SGP32_SMDP_ES9_HANDLE_NOTIFICATION) {
        bad = transaction_id(root, req, status);
    }
    if (!bad)
        bad = smdp_json_base64(root, der_field, &req->der, status);
    (void)bad;
    json_decref(root);
    return SGP32_OK;
}

/*
 * The successful GetBoundProfilePackage answer, written directly: its fields are fixed (a constant
 * header, a hex transactionId, a base64 BPP) and need no escaping, so the BPP is base64-encoded
 * once straight into the body instead of into a jansson string that json_dumps then copies and
 * scans again. Byte for byte what jansson writes (JSON_COMPACT, insertion order).
 */
static int gbpp_success(const sgp32_smdp_es9_response *resp, sgp32_buf *body)
{
    static const char head[] =
        "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Executed-Success\"}},\"transactionId\":\"";
    static const char mid[] = "\",\"boundProfilePackage\":\"";
    static const char tail[] = "\"}";
    char hex[2 * SGP32_SMDP_TXID_LEN + 1];
    sgp32_hex_encode(resp->transaction_id, resp->transaction_id_len, hex);
    size_t b64 = sgp32_base64_encoded_len(resp->bpp.len);
    uint8_t *p;
    int rc = sgp32_buf_append(body, head, sizeof(head) - 1);
    if (!rc)
        rc = sgp32_buf_append(body, hex, strlen(hex));
    if (!rc)
        rc = sgp32_buf_append(body, mid, sizeof(mid) - 1);
    /* + 1: sgp32_base64_encode writes a NUL, dropped again below */
    if (!rc)
        rc = sgp32_buf_extend(body, b64 + 1, &p);
    if (rc)
        return rc;
    sgp32_base64_encode(resp->bpp.data, resp->bpp.len, (char *)p);
    body->len--;
    return sgp32_buf_append(body, tail, sizeof(tail) - 1);
}

int sgp32_smdp_es9_json_encode(const sgp32_smdp_es9_response *resp, sgp32_buf *body)
{
    if (!resp || !body)
        return SGP32_ERR_INVALID_ARGUMENT;
    if (resp->function == SGP32_SMDP_ES9_HANDLE_NOTIFICATION && sgp32_smdp_status_ok(&resp->status))
        return SGP32_OK; /* 204, no body */
    if (resp->function == SGP32_SMDP_ES9_GET_BOUND_PROFILE_PACKAGE && sgp32_smdp_status_ok(&resp->status))
        return gbpp_success(resp, body);
    json_t *root = smdp_json_response(&resp->status);
    if (!root || !sgp32_smdp_status_ok(&resp->status) || resp->function == SGP32_SMDP_ES9_CANCEL_SESSION)
        return smdp_json_finish(root, body);
    char hex[2 * SGP32_SMDP_TXID_LEN + 1];
    sgp32_hex_encode(resp->transaction_id, resp->transaction_id_len, hex);
    json_object_set_new(root, "transactionId", json_string(hex));
    switch (resp->function) {
    case SGP32_SMDP_ES9_INITIATE_AUTHENTICATION:
        smdp_json_set_base64(root, "serverSigned1", &resp->signed_data);
        smdp_json_set_base64(root, "serverSignature1", &resp->signature);
        smdp_json_set_base64(root, "euiccCiPKIdToBeUsed", &resp->ci_pkid);
        smdp_json_set_base64(root, "serverCertificate", &resp->certificate);
        break;
    case SGP32_SMDP_ES9_AUTHENTICATE_CLIENT:
        smdp_json_set_base64(root, "profileMetadata", &resp->profile_metadata);
        smdp_json_set_base64(root, "smdpSigned2", &resp->signed_data);
        smdp_json_set_base64(root, "smdpSignature2", &resp->signature);
        smdp_json_set_base64(root, "smdpCertificate", &resp->certificate);
        break;
    case SGP32_SMDP_ES9_GET_BOUND_PROFILE_PACKAGE:
        smdp_json_set_base64(root, "boundProfilePackage", &resp->bpp);
        break;
    default: break;
    }
    return smdp_json_finish(root, body);
}

/*
 * fuzz_es9_json: the SM-DP+'s ES9+ request parsers (lib/smdp/es9_json.c with jansson, and the
 * ASN.1 binding's es9_asn1.c): untrusted bodies from any LPA, IPA or eIM on the Internet.
 * Byte 0 picks the function (5 JSON functions, or the ASN.1 binding), the rest is the body.
 * Properties: a decode ends in success or a spec status (subject and reason set, never both
 * missing); on success the fields the function needs are there and within their bounds; the
 * status text is NUL-terminated; no leak, no overflow.
 */
#include <string.h>

#include "fuzz_common.h"
#include "sgp32/smdp_server.h"

static void check_request(const sgp32_smdp_es9_request *req, const sgp32_smdp_status *st, const uint8_t *data,
                          size_t size)
{
    if (!sgp32_smdp_status_ok(st)) {
        if (!st->reason || memchr(st->message, 0, sizeof(st->message)) == NULL)
            sgp32_fuzz_fail("failure status without reason or message", "es9 request", data, size);
        return;
    }
    if (req->der.len == 0 || req->der.len > SGP32_SMDP_REQUEST_DER_MAX)
        sgp32_fuzz_fail("accepted request without its DER object", "es9 request", data, size);
    if (req->transaction_id_len > SGP32_SMDP_TXID_LEN)
        sgp32_fuzz_fail("transactionId too long", "es9 request", data, size);
    bool needs_txid = req->function != SGP32_SMDP_ES9_INITIATE_AUTHENTICATION &&
                      req->function != SGP32_SMDP_ES9_HANDLE_NOTIFICATION;
    if (needs_txid && req->transaction_id_len == 0)
        sgp32_fuzz_fail("accepted request without transactionId", "es9 request", data, size);
    if (memchr(req->smdp_address, 0, sizeof(req->smdp_address)) == NULL)
        sgp32_fuzz_fail("smdpAddress not terminated", "es9 request", data, size);
}

int sgp32_fuzz_es9_json(const uint8_t *data, size_t size)
{
    if (size < 1)
        return SGP32_ERR_INVALID_ARGUMENT;
    unsigned pick = data[0] % 6;
    sgp32_smdp_es9_request req;
    sgp32_smdp_es9_request_init(&req);
    sgp32_smdp_status st;
    memset(&st, 0, sizeof(st));
    int rc = pick < 5 ? sgp32_smdp_es9_json_decode((sgp32_smdp_es9_function)(pick + 1),
                                                   (const char *)data + 1, size - 1, &req, &st)
                      : sgp32_smdp_es9_asn1_decode(data + 1, size - 1, &req, &st);
    if (rc != SGP32_OK && rc != SGP32_ERR_NO_MEMORY)
        sgp32_fuzz_fail("decoder returned an error instead of a status", "es9 request", data, size);
    if (rc == SGP32_OK)
        check_request(&req, &st, data, size);
    sgp32_smdp_es9_request_free(&req);
    return rc == SGP32_OK && sgp32_smdp_status_ok(&st) ? SGP32_OK : SGP32_ERR_INVALID_ARGUMENT;
}

SGP32_FUZZ_ENTRY(sgp32_fuzz_es9_json);

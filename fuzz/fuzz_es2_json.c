/*
 * fuzz_es2_json: the SM-DP+'s ES2+ request parser (lib/smdp/es2_json.c, jansson): bodies from
 * operators (authenticated, but still parsed before anything is trusted). Byte 0 picks one of
 * the 4 functions, the rest is the JSON body. Properties: success or a spec status; on success
 * every string is NUL-terminated and within bounds, an ICCID is 18-20 digits, an EID 32 or fewer
 * characters, the header present; the response encoder then renders an answer; no leak.
 */
#include <string.h>

#include "fuzz_common.h"
#include "sgp32/smdp_server.h"

static bool terminated(const char *s, size_t size)
{
    return memchr(s, 0, size) != NULL;
}

int sgp32_fuzz_es2_json(const uint8_t *data, size_t size)
{
    if (size < 1)
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_smdp_es2_function f = (sgp32_smdp_es2_function)(data[0] % 4 + 1);
    sgp32_smdp_es2_request req;
    sgp32_smdp_status st;
    memset(&st, 0, sizeof(st));
    int rc = sgp32_smdp_es2_json_decode(f, (const char *)data + 1, size - 1, &req, &st);
    if (rc != SGP32_OK && rc != SGP32_ERR_NO_MEMORY)
        sgp32_fuzz_fail("decoder returned an error instead of a status", "es2 request", data, size);
    if (rc == SGP32_OK && sgp32_smdp_status_ok(&st)) {
        if (!terminated(req.iccid, sizeof(req.iccid)) || !terminated(req.eid, sizeof(req.eid)) ||
            !terminated(req.matching_id, sizeof(req.matching_id)) ||
            !terminated(req.profile_type, sizeof(req.profile_type)) ||
            !terminated(req.function_requester_identifier, sizeof(req.function_requester_identifier)))
            sgp32_fuzz_fail("unterminated field", "es2 request", data, size);
        size_t n = strlen(req.iccid);
        if (req.has_iccid && (n < 18 || n > 20 || strspn(req.iccid, "0123456789") != n))
            sgp32_fuzz_fail("ICCID accepted that is not 18-20 digits", "es2 request", data, size);
        if (f != SGP32_SMDP_ES2_DOWNLOAD_ORDER && f != SGP32_SMDP_ES2_CANCEL_ORDER && !req.has_iccid)
            sgp32_fuzz_fail("accepted without the mandatory iccid", "es2 request", data, size);
        sgp32_smdp_es2_response resp;
        memset(&resp, 0, sizeof(resp));
        resp.function = f;
        memcpy(resp.iccid, req.iccid, sizeof(resp.iccid));
        memcpy(resp.matching_id, req.matching_id, sizeof(resp.matching_id));
        sgp32_buf body;
        sgp32_buf_init(&body, SGP32_FUZZ_OUTPUT_CAP);
        if (sgp32_smdp_es2_json_encode(&resp, &body) != SGP32_OK || body.len == 0)
            sgp32_fuzz_fail("response does not encode", "es2 response", data, size);
        sgp32_buf_free(&body);
    } else if (rc == SGP32_OK && (!st.reason || !terminated(st.message, sizeof(st.message)))) {
        sgp32_fuzz_fail("failure status without reason or message", "es2 request", data, size);
    }
    return rc == SGP32_OK && sgp32_smdp_status_ok(&st) ? SGP32_OK : SGP32_ERR_INVALID_ARGUMENT;
}

SGP32_FUZZ_ENTRY(sgp32_fuzz_es2_json);

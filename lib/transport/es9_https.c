/*
 * ES9+ over HTTPS with the JSON binding (es9_client.h; SGP.22 §6.5.1, §6.5.2.6-10; NOTES §4.1,
 * §4.3): the DER objects of the ES9+ ASN.1 binding converted to and from the JSON fields, the
 * request header object (optional), the response header's functionExecutionStatus.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "https_session.h"
#include "json_binding.h"
#include "sgp32/asn1_types.h"
#include "sgp32/es9_client.h"
#include "sgp32/log.h"

#define N(a) SGP32_ARRAY_LEN(a)

/* ------------------------------------------------------------------ the JSON shapes */

static const json_field ia_req[] = {
    {"euiccChallenge", 0x81, JF_B64_VALUE, 0},
    {"smdpAddress", 0x83, JF_STRING, 0},
    {"euiccInfo1", 0xBF20, JF_B64_TLV, 0},
};
static const json_field ac_req[] = {
    {"transactionId", 0x80, JF_HEX_VALUE, 0},
    {"authenticateServerResponse", 0xBF38, JF_B64_TLV, 0},
};
static const json_field gbpp_req[] = {
    {"transactionId", 0x80, JF_HEX_VALUE, 0},
    {"prepareDownloadResponse", 0xBF21, JF_B64_TLV, 0},
};
static const json_field hn_req[] = {{"pendingNotification", 0xA0, JF_B64_INNER, 0}};
static const json_field cs_req[] = {
    {"transactionId", 0x80, JF_HEX_VALUE, 0},
    {"cancelSessionResponse", 0xA1, JF_B64_RETAG, 0xBF41},
};
static const json_field ia_ok[] = {
    {"transactionId", 0x80, JF_HEX_VALUE, 0},    {"serverSigned1", 0x30, JF_B64_TLV, 0},
    {"serverSignature1", 0x5F37, JF_B64_TLV, 0}, {"euiccCiPKIdToBeUsed", 0x04, JF_B64_TLV, 0},
    {"serverCertificate", 0x30, JF_B64_TLV, 0},
};
static const json_field ac_ok[] = {
    {"transactionId", 0x80, JF_HEX_VALUE, 0}, {"profileMetadata", 0xBF25, JF_B64_TLV, 0},
    {"smdpSigned2", 0x30, JF_B64_TLV, 0},     {"smdpSignature2", 0x5F37, JF_B64_TLV, 0},
    {"smdpCertificate", 0x30, JF_B64_TLV, 0},
};
static const json_field gbpp_ok[] = {
    {"transactionId", 0x80, JF_HEX_VALUE, 0},
    {"boundProfilePackage", 0xBF36, JF_B64_TLV, 0},
};

static const json_alternative ia_req_alt[] = {{0, NULL, NULL, ia_req, N(ia_req)}};
static const json_alternative ac_req_alt[] = {{0, NULL, NULL, ac_req, N(ac_req)}};
static const json_alternative gbpp_req_alt[] = {{0, NULL, NULL, gbpp_req, N(gbpp_req)}};
static const json_alternative hn_req_alt[] = {{0, NULL, NULL, hn_req, N(hn_req)}};
static const json_alternative cs_req_alt[] = {{0, NULL, NULL, cs_req, N(cs_req)}};
static const json_alternative ia_resp_alt[] = {{0xA0, NULL, NULL, ia_ok, N(ia_ok)}};
static const json_alternative ac_resp_alt[] = {{0xA0, NULL, NULL, ac_ok, N(ac_ok)}};
static const json_alternative gbpp_resp_alt[] = {{0xA0, NULL, NULL, gbpp_ok, N(gbpp_ok)}};
static const json_alternative cs_resp_alt[] = {{0xA0, NULL, NULL, NULL, 0}};

typedef struct es9_function {
    json_shape request;
    json_shape response; /* tag 0: no answer message (handleNotification) */
} es9_function;

static const es9_function functions[] = {
    {{"initiateAuthentication", 0xBF39, false, ia_req_alt, 1, &sgp32_type_initiate_authentication_request},
     {"initiateAuthentication", 0xBF39, true, ia_resp_alt, 1, &sgp32_type_initiate_authentication_response}},
    {{"authenticateClient", 0xBF3B, false, ac_req_alt, 1, &sgp32_type_authenticate_client_request},
     {"authenticateClient", 0xBF3B, true, ac_resp_alt, 1, &sgp32_type_authenticate_client_response_es9}},
    {{"getBoundProfilePackage", 0xBF3A, false, gbpp_req_alt, 1,
      &sgp32_type_get_bound_profile_package_request},
     {"getBoundProfilePackage", 0xBF3A, true, gbpp_resp_alt, 1,
      &sgp32_type_get_bound_profile_package_response}},
    {{"handleNotification", 0xBF3D, false, hn_req_alt, 1, &sgp32_type_handle_notification},
     {"handleNotification", 0, true, NULL, 0, NULL}},
    {{"cancelSession", 0xBF41, false, cs_req_alt, 1, &sgp32_type_cancel_session_request_es9},
     {"cancelSession", 0xBF41, true, cs_resp_alt, 1, &sgp32_type_cancel_session_response_es9}},
};

static const es9_function *by_tag(uint32_t tag)
{
    for (size_t i = 0; i < N(functions); i++)
        if (functions[i].request.tag == tag)
            return &functions[i];
    return NULL;
}

static const es9_function *by_name(const char *name)
{
    for (size_t i = 0; i < N(functions); i++)
        if (strcmp(functions[i].request.function, name) == 0)
            return &functions[i];
    return NULL;
}

const char *sgp32_es9_function_name(uint32_t tag)
{
    const es9_function *f = by_tag(tag);
    return f ? f->request.function : NULL;
}

static void copy_text(char *dst, size_t cap, const json_t *v)
{
    dst[0] = '\0';
    if (json_is_string(v))
        snprintf(dst, cap, "%.*s", (int)(cap - 1), json_string_value(v));
}

/* header.functionExecutionStatus -> result. SGP32_ERR_BAD_TEXT when malformed. */
static int parse_header(const json_t *root, sgp32_es9_result *result)
{
    const json_t *header = json_object_get(root, "header");
    if (!header)
        return SGP32_OK; /* status stays NONE */
    const json_t *fes = json_object_get(header, "functionExecutionStatus");
    const json_t *status = json_object_get(fes, "status");
    if (!json_is_object(header) || !json_is_object(fes) || !json_is_string(status))
        return SGP32_ERR_BAD_TEXT;
    const char *s = json_string_value(status);
    if (strcmp(s, "Executed-Success") == 0)
        result->status = SGP32_ES9_EXECUTED_SUCCESS;
    else if (strcmp(s, "Executed-WithWarning") == 0)
        result->status = SGP32_ES9_EXECUTED_WITH_WARNING;
    else if (strcmp(s, "Failed") == 0)
        result->status = SGP32_ES9_FAILED;
    else if (strcmp(s, "Expired") == 0)
        result->status = SGP32_ES9_EXPIRED;
    else
        return SGP32_ERR_BAD_TEXT;
    const json_t *data = json_object_get(fes, "statusCodeData");
    if (data) {
        if (!json_is_object(data))
            return SGP32_ERR_BAD_TEXT;
        copy_text(result->subject_code, sizeof(result->subject_code), json_object_get(data, "subjectCode"));
        copy_text(result->reason_code, sizeof(result->reason_code), json_object_get(data, "reasonCode"));
        copy_text(result->subject_identifier, sizeof(result->subject_identifier),
                  json_object_get(data, "subjectIdentifier"));
        copy_text(result->message, sizeof(result->message), json_object_get(data, "message"));
    }
    return SGP32_OK;
}

int sgp32_es9_json_from_request(const uint8_t *der, size_t len, const char **function, sgp32_buf *json)
{
    if (!der || !json)
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_asn1_tlv tlv;
    int rc = sgp32_asn1_read_tlv(der, len, &tlv, NULL);
    if (rc)
        return rc;
    const es9_function *f = by_tag(tlv.tag);
    if (!f)
        return SGP32_ERR_ASN1_UNKNOWN_CHOICE;
    json_t *object;
    rc = sgp32_json_binding_from_der(&f->request, der, len, &object);
    if (rc)
        return rc;
    rc = sgp32_json_binding_dump(object, json);
    json_decref(object);
    if (rc == SGP32_OK && function)
        *function = f->request.function;
    return rc;
}

int sgp32_es9_json_from_response(const uint8_t *der, size_t len, const char **function, sgp32_buf *json)
{
    if (!der || !json)
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_asn1_tlv tlv;
    int rc = sgp32_asn1_read_tlv(der, len, &tlv, NULL);
    if (rc)
        return rc;
    const es9_function *f = by_tag(tlv.tag);
    if (!f || !f->response.tag)
        return SGP32_ERR_ASN1_UNKNOWN_CHOICE;
    json_t *object;
    rc = sgp32_json_binding_from_der(&f->response, der, len, &object);
    if (rc)
        return rc;
    json_t *header = json_pack("{s:{s:s}}", "functionExecutionStatus", "status", "Executed-Success");
    if (!header || json_object_set_new(object, "header", header) != 0)
        rc = SGP32_ERR_NO_MEMORY;
    if (rc == SGP32_OK)
        rc = sgp32_json_binding_dump(object, json);
    json_decref(object);
    if (rc == SGP32_OK && function)
        *function = f->response.function;
    return rc;
}

int sgp32_es9_json_to_request(const char *function, const char *json, size_t json_len, sgp32_buf *der)
{
    if (!function || (!json && json_len) || !der)
        return SGP32_ERR_INVALID_ARGUMENT;
    const es9_function *f = by_name(function);
    if (!f)
        return SGP32_ERR_NOT_FOUND;
    json_error_t error;
    json_t *root = json_loadb(json ? json : "", json_len, JSON_REJECT_DUPLICATES, &error);
    if (!root)
        return SGP32_ERR_BAD_TEXT;
    int rc = sgp32_json_binding_to_der(&f->request, root, der);
    json_decref(root);
    return rc;
}

int sgp32_es9_json_to_response(const char *function, const char *json, size_t json_len, sgp32_buf *der,
                               sgp32_es9_result *result)
{
    sgp32_es9_result local;
    if (!result)
        result = &local;
    result->status = SGP32_ES9_STATUS_NONE;
    result->subject_code[0] = result->reason_code[0] = result->subject_identifier[0] = result->message[0] =
        '\0';
    if (!function || (!json && json_len) || !der)
        return SGP32_ERR_INVALID_ARGUMENT;
    const es9_function *f = by_name(function);
    if (!f)
        return SGP32_ERR_NOT_FOUND;
    if (!f->response.tag)
        return SGP32_ERR_NOT_FOUND; /* handleNotification: 204, no message */
    json_error_t error;
    json_t *root = json_loadb(json ? json : "", json_len, JSON_REJECT_DUPLICATES, &error);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return SGP32_ERR_BAD_TEXT;
    }
    int rc = parse_header(root, result);
    if (rc == SGP32_OK && result->status == SGP32_ES9_STATUS_NONE)
        rc = SGP32_ERR_ASN1_MISSING; /* every ES9+ answer but handleNotification's has the header */
    if (rc == SGP32_OK &&
        (result->status == SGP32_ES9_EXECUTED_SUCCESS || result->status == SGP32_ES9_EXECUTED_WITH_WARNING))
        rc = sgp32_json_binding_to_der(&f->response, root, der);
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------------ the session */

struct sgp32_es9_session {
    sgp32_https_session *https;
    char admin_protocol[80];
    char user_agent[160];
    bool send_header;
    char requester[128];
    unsigned long call_counter;
};

int sgp32_es9_session_open(const sgp32_es9_config *config, sgp32_es9_session **out)
{
    if (!out)
        return SGP32_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (!config || !config->smdp_address ||
        (config->x_admin_protocol &&
         (strlen(config->x_admin_protocol) > 40 || strpbrk(config->x_admin_protocol, "\r\n"))) ||
        (config->user_agent && (strlen(config->user_agent) > 100 || strpbrk(config->user_agent, "\r\n"))) ||
        (config->function_requester_identifier && strlen(config->function_requester_identifier) > 100))
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_es9_session *s = sgp32_alloc(sizeof(*s));
    if (!s)
        return SGP32_ERR_NO_MEMORY;
    snprintf(s->admin_protocol, sizeof(s->admin_protocol), "X-Admin-Protocol: %s",
             config->x_admin_protocol ? config->x_admin_protocol : "gsma/rsp/v2.1.0");
    snprintf(s->user_agent, sizeof(s->user_agent), "User-Agent: %s",
             config->user_agent ? config->user_agent : "gsma-rsp-lpad");
    s->send_header = config->send_header;
    snprintf(s->requester, sizeof(s->requester), "%s",
             config->function_requester_identifier ? config->function_requester_identifier : "sgp32-ipad");
    int rc = sgp32_https_session_new(config->smdp_address, &config->tls, &config->limits, "es9", &s->https);
    if (rc) {
        sgp32_free(s, sizeof(*s));
        return rc;
    }
    *out = s;
    return SGP32_OK;
}

int sgp32_es9_session_call(sgp32_es9_session *s, const uint8_t *request, size_t len, sgp32_buf *response,
                           sgp32_es9_result *result)
{
    sgp32_es9_result local;
    if (!result)
        result = &local;
    memset(result, 0, sizeof(*result));
    if (!s || !request || !response)
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_buf_reset(response);
    sgp32_asn1_tlv tlv;
    int rc = sgp32_asn1_read_tlv(request, len, &tlv, NULL);
    const es9_function *f = rc ? NULL : by_tag(tlv.tag);
    if (!f)
        return SGP32_ERR_INVALID_ARGUMENT;
    json_t *object = NULL;
    rc = sgp32_json_binding_from_der(&f->request, request, len, &object);
    if (rc) {
        sgp32_https_result_message(&result->https, "the request does not convert to JSON: %s",
                                   sgp32_err_str(rc));
        return SGP32_ERR_INVALID_ARGUMENT;
    }
    if (s->send_header) {
        char call_id[32];
        snprintf(call_id, sizeof(call_id), "%lu", ++s->call_counter);
        json_t *header = json_pack("{s:s,s:s}", "functionRequesterIdentifier", s->requester,
                                   "functionCallIdentifier", call_id);
        if (!header || json_object_set_new(object, "header", header) != 0)
            rc = SGP32_ERR_NO_MEMORY;
    }
    sgp32_buf body, answer;
    sgp32_buf_init(&body, 8u << 20);
    sgp32_buf_init(&answer, SIZE_MAX);
    if (rc == SGP32_OK)
        rc = sgp32_json_binding_dump(object, &body);
    json_decref(object);
    char path[64], content_type[128];
    snprintf(path, sizeof(path), "/gsma/rsp2/es9plus/%s", f->request.function);
    const char *headers[] = {"Content-Type: application/json;charset=UTF-8", s->admin_protocol, s->user_agent,
                             "Accept: application/json", NULL};
    if (rc == SGP32_OK)
        rc = sgp32_https_session_post(s->https, path, headers, body.data, body.len, &answer, content_type,
                                      sizeof(content_type), &result->https);
    long status = result->https.http_status;
    if (rc == SGP32_OK) {
        if (!f->response.tag) { /* handleNotification */
            if (status == 204 || (status == 200 && answer.len == 0)) {
                result->https.no_content = true;
            } else if (status == 200) {
                json_error_t error;
                json_t *root = json_loadb((const char *)answer.data, answer.len, 0, &error);
                if (!root || parse_header(root, result) != SGP32_OK)
                    rc = SGP32_ERR_TRANSPORT_PROTOCOL;
                json_decref(root);
            } else {
                rc = SGP32_ERR_TRANSPORT_HTTP_STATUS;
            }
        } else if (status != 200) {
            rc = SGP32_ERR_TRANSPORT_HTTP_STATUS;
        } else if (strncasecmp(content_type, "application/json", 16) != 0) {
            rc = SGP32_ERR_TRANSPORT_PROTOCOL;
            sgp32_https_result_message(&result->https, "Content-Type \"%s\" is not JSON", content_type);
        } else {
            int crc = sgp32_es9_json_to_response(f->request.function, (const char *)answer.data, answer.len,
                                                 response, result);
            if (crc) {
                rc = SGP32_ERR_TRANSPORT_PROTOCOL;
                sgp32_https_result_message(&result->https, "the %s answer does not convert: %s",
                                           f->request.function, sgp32_err_str(crc));
                sgp32_buf_reset(response);
            }
        }
        if (rc == SGP32_ERR_TRANSPORT_HTTP_STATUS)
            sgp32_https_result_message(&result->https, "the SM-DP+ answered HTTP %ld to %s", status,
                                       f->request.function);
    }
    if (result->status == SGP32_ES9_FAILED || result->status == SGP32_ES9_EXPIRED)
        sgp32_log(SGP32_LOG_INFO, SGP32_LOG_TRANSPORT, NULL, "es9: %s %s: subject %s reason %s %s",
                  f->request.function, result->status == SGP32_ES9_FAILED ? "failed" : "expired",
                  result->subject_code, result->reason_code, result->message);
    sgp32_buf_free(&body);
    sgp32_buf_free(&answer);
    return rc;
}

static int call_checked(sgp32_es9_session *s, uint32_t tag, sgp32_bytes request, sgp32_buf *response,
                        sgp32_es9_result *result)
{
    sgp32_asn1_tlv tlv;
    if (!request.data || sgp32_asn1_read_tlv(request.data, request.len, &tlv, NULL) != SGP32_OK ||
        tlv.tag != tag)
        return SGP32_ERR_INVALID_ARGUMENT;
    return sgp32_es9_session_call(s, request.data, request.len, response, result);
}

int sgp32_es9_initiate_authentication(sgp32_es9_session *s, sgp32_bytes request, sgp32_buf *response,
                                      sgp32_es9_result *result)
{
    return call_checked(s, 0xBF39, request, response, result);
}

int sgp32_es9_authenticate_client(sgp32_es9_session *s, sgp32_bytes request, sgp32_buf *response,
                                  sgp32_es9_result *result)
{
    return call_checked(s, 0xBF3B, request, response, result);
}

int sgp32_es9_get_bound_profile_package(sgp32_es9_session *s, sgp32_bytes request, sgp32_buf *response,
                                        sgp32_es9_result *result)
{
    return call_checked(s, 0xBF3A, request, response, result);
}

int sgp32_es9_handle_notification(sgp32_es9_session *s, sgp32_bytes request, sgp32_es9_result *result)
{
    sgp32_buf none;
    sgp32_buf_init(&none, 64);
    int rc = call_checked(s, 0xBF3D, request, &none, result);
    sgp32_buf_free(&none);
    return rc;
}

int sgp32_es9_cancel_session(sgp32_es9_session *s, sgp32_bytes request, sgp32_buf *response,
                             sgp32_es9_result *result)
{
    return call_checked(s, 0xBF41, request, response, result);
}

void sgp32_es9_session_stats(const sgp32_es9_session *s, sgp32_https_stats *stats)
{
    sgp32_https_session_stats(s->https, stats);
}

void sgp32_es9_session_close(sgp32_es9_session *s)
{
    if (!s)
        return;
    sgp32_https_session_free(s->https);
    sgp32_free(s, sizeof(*s));
}

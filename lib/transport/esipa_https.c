/*
 * The ESipa client over HTTPS (esipa_client.h): one session per procedure, the ASN.1 binding
 * (SGP.32 §6.3: POST /gsma/rsp2/asn1, DER both ways) or the JSON binding (§6.4: POST
 * /gsma/rsp2/esipa/<function>, converted by esipa_json.c). HTTP status rules of NOTES §3.4: 200
 * with a body; HandleNotification 204 or 200 with an empty body; anything else is an error.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "https_session.h"
#include "sgp32/asn1.h"
#include "sgp32/esipa_client.h"
#include "sgp32/log.h"

#define ASN1_CONTENT_TYPE "application/x-gsma-rsp-asn1"
#define JSON_CONTENT_TYPE "application/json;charset=UTF-8"

struct sgp32_esipa_session {
    sgp32_https_session *https;
    sgp32_esipa_binding binding;
    char admin_protocol[80]; /* "X-Admin-Protocol: ..." */
    char user_agent[160];    /* "User-Agent: ..." */
};

static bool header_value_ok(const char *v, size_t max)
{
    return strlen(v) <= max && !strpbrk(v, "\r\n");
}

int sgp32_esipa_session_open(const sgp32_esipa_config *config, sgp32_esipa_session **out)
{
    if (!out)
        return SGP32_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (!config || !config->eim_fqdn ||
        (config->binding != SGP32_ESIPA_BINDING_ASN1 && config->binding != SGP32_ESIPA_BINDING_JSON) ||
        (config->x_admin_protocol && !header_value_ok(config->x_admin_protocol, 40)) ||
        (config->user_agent_suffix && !header_value_ok(config->user_agent_suffix, 100)))
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_esipa_session *s = sgp32_alloc(sizeof(*s));
    if (!s)
        return SGP32_ERR_NO_MEMORY;
    s->binding = config->binding;
    snprintf(s->admin_protocol, sizeof(s->admin_protocol), "X-Admin-Protocol: %s",
             config->x_admin_protocol ? config->x_admin_protocol : "gsma/rsp/v2.1.0");
    if (config->user_agent_suffix)
        snprintf(s->user_agent, sizeof(s->user_agent), "User-Agent: gsma-rsp-ipad; %s",
                 config->user_agent_suffix);
    else
        snprintf(s->user_agent, sizeof(s->user_agent), "User-Agent: gsma-rsp-ipad");
    int rc = sgp32_https_session_new(config->eim_fqdn, &config->tls, &config->limits, "esipa", &s->https);
    if (rc) {
        sgp32_free(s, sizeof(*s));
        return rc;
    }
    *out = s;
    return SGP32_OK;
}

/* "application/json; charset=utf-8" and the like count as JSON. */
static bool content_type_is(const char *type, const char *base)
{
    size_t n = strlen(base);
    if (strncasecmp(type, base, n) != 0)
        return false;
    return type[n] == '\0' || type[n] == ';' || type[n] == ' ';
}

int sgp32_esipa_session_send(sgp32_esipa_session *s, const uint8_t *der, size_t len, sgp32_buf *response,
                             sgp32_https_result *result)
{
    sgp32_https_result local;
    if (!result)
        result = &local;
    memset(result, 0, sizeof(*result));
    if (!s || !der || !response)
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_buf_reset(response);
    sgp32_asn1_tlv tlv;
    size_t used;
    int rc = sgp32_asn1_read_tlv(der, len, &tlv, &used);
    const char *function = rc ? NULL : sgp32_esipa_function_name(tlv.tag);
    if (rc || used != len || !function) {
        sgp32_https_result_message(result, "not an EsipaMessageFromIpaToEim");
        return SGP32_ERR_INVALID_ARGUMENT;
    }
    bool notification = tlv.tag == 0xBF3D;
    char content_type[128];
    sgp32_buf body;
    sgp32_buf_init(&body, 8u << 20);
    if (s->binding == SGP32_ESIPA_BINDING_ASN1) {
        const char *headers[] = {"Content-Type: " ASN1_CONTENT_TYPE, s->admin_protocol, s->user_agent,
                                 "Accept: " ASN1_CONTENT_TYPE, NULL};
        rc = sgp32_https_session_post(s->https, "/gsma/rsp2/asn1", headers, der, len, response, content_type,
                                      sizeof(content_type), result);
    } else {
        const char *fn = NULL;
        rc = sgp32_esipa_json_from_der(SGP32_ESIPA_IPA_TO_EIM, der, len, &fn, &body);
        if (rc) {
            sgp32_https_result_message(result, "the request does not convert to JSON: %s", sgp32_err_str(rc));
            sgp32_buf_free(&body);
            return SGP32_ERR_INVALID_ARGUMENT;
        }
        char path[64];
        snprintf(path, sizeof(path), "/gsma/rsp2/esipa/%s", fn);
        const char *headers[] = {"Content-Type: " JSON_CONTENT_TYPE, s->admin_protocol, s->user_agent,
                                 "Accept: application/json", NULL};
        sgp32_buf json;
        sgp32_buf_init(&json, SIZE_MAX);
        rc = sgp32_https_session_post(s->https, path, headers, body.data, body.len, &json, content_type,
                                      sizeof(content_type), result);
        if (rc == SGP32_OK && result->http_status == 200 && json.len && !notification) {
            if (!content_type_is(content_type, "application/json")) {
                rc = SGP32_ERR_TRANSPORT_PROTOCOL;
                sgp32_https_result_message(result, "Content-Type \"%s\" is not JSON", content_type);
            } else {
                int crc = sgp32_esipa_json_to_der(SGP32_ESIPA_EIM_TO_IPA, fn, (const char *)json.data,
                                                  json.len, response);
                if (crc) {
                    rc = SGP32_ERR_TRANSPORT_PROTOCOL;
                    sgp32_https_result_message(result, "the %s answer does not convert: %s", fn,
                                               sgp32_err_str(crc));
                }
            }
            if (rc)
                sgp32_buf_reset(response);
        } else if (rc == SGP32_OK && result->http_status == 200 && !notification) {
            /* an empty JSON answer: cancelSession / provideEimPackageResult without a body */
            int crc = sgp32_esipa_json_to_der(SGP32_ESIPA_EIM_TO_IPA, fn, "", 0, response);
            if (crc) {
                rc = SGP32_ERR_TRANSPORT_PROTOCOL;
                sgp32_https_result_message(result, "empty %s answer", fn);
            }
        } else if (rc == SGP32_OK) {
            /* status checks below look at the body length */
            sgp32_buf_reset(response);
            if (json.len)
                rc = sgp32_buf_append(response, json.data, json.len);
        }
        sgp32_buf_free(&json);
    }
    sgp32_buf_free(&body);
    if (rc)
        return rc;

    long status = result->http_status;
    if (notification && (status == 204 || (status == 200 && response->len == 0))) {
        result->no_content = true;
        sgp32_buf_reset(response);
        return SGP32_OK;
    }
    if (notification && status == 200 && s->binding == SGP32_ESIPA_BINDING_JSON) {
        result->no_content = false; /* a JSON body we do not need */
        sgp32_buf_reset(response);
        return SGP32_OK;
    }
    if (status != 200) {
        sgp32_https_result_message(result, "the eIM answered HTTP %ld to %s", status, function);
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_TRANSPORT, NULL, "esipa: %s: HTTP %ld", function, status);
        sgp32_buf_reset(response);
        return SGP32_ERR_TRANSPORT_HTTP_STATUS;
    }
    if (s->binding == SGP32_ESIPA_BINDING_ASN1) {
        if (!content_type_is(content_type, ASN1_CONTENT_TYPE)) {
            sgp32_https_result_message(result, "Content-Type \"%s\" is not " ASN1_CONTENT_TYPE, content_type);
            sgp32_buf_reset(response);
            return SGP32_ERR_TRANSPORT_PROTOCOL;
        }
        if (notification) {
            sgp32_buf_reset(response); /* a body we have no use for */
            return SGP32_OK;
        }
        rc = sgp32_asn1_read_tlv(response->data, response->len, &tlv, &used);
        if (rc || used != response->len) {
            sgp32_https_result_message(result, "the body is not one DER value");
            sgp32_buf_reset(response);
            return SGP32_ERR_TRANSPORT_PROTOCOL;
        }
    }
    return SGP32_OK;
}

void sgp32_esipa_session_stats(const sgp32_esipa_session *s, sgp32_https_stats *stats)
{
    sgp32_https_session_stats(s->https, stats);
}

void sgp32_esipa_session_close(sgp32_esipa_session *s)
{
    if (!s)
        return;
    sgp32_https_session_free(s->https);
    sgp32_free(s, sizeof(*s));
}

/*
 * What the ES9+ and ES2+ JSON bindings share (SGP.22 §6.5.1): the request header object, the
 * response header with functionExecutionStatus, and strict field handling with jansson (never
 * hand-parsed JSON): duplicate keys, unknown fields, wrong types and oversized values are refused
 * with 1.6/2.1, missing mandatory fields with 1.6/2.2.
 */
#include <stdio.h>
#include <string.h>

#include "sgp32/text.h"
#include "smdp_json.h"

json_t *smdp_json_parse(const char *body, size_t len, sgp32_smdp_status *status)
{
    json_error_t error;
    json_t *root = body ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &error) : NULL;
    if (!root) {
        char msg[SGP32_SMDP_MESSAGE_MAX];
        snprintf(msg, sizeof(msg), "malformed JSON: %.120s", body ? error.text : "empty body");
        sgp32_smdp_status_set(status, "1.6", "2.1", msg);
        return NULL;
    }
    if (!json_is_object(root)) {
        sgp32_smdp_status_set(status, "1.6", "2.1", "the body is not a JSON object");
        json_decref(root);
        return NULL;
    }
    return root;
}

bool smdp_json_known_fields(json_t *object, const char *const *known, sgp32_smdp_status *status)
{
    const char *key;
    json_t *value;
    json_object_foreach(object, key, value)
    {
        bool ok = false;
        for (size_t i = 0; known[i] && !ok; i++)
            ok = strcmp(key, known[i]) == 0;
        if (!ok) {
            char msg[SGP32_SMDP_MESSAGE_MAX];
            snprintf(msg, sizeof(msg), "unknown field '%.64s'", key);
            sgp32_smdp_status_set(status, "1.6", "2.1", msg);
            return false;
        }
    }
    return true;
}

static void field_error(sgp32_smdp_status *status, const char *reason, const char *name, const char *what)
{
    char msg[SGP32_SMDP_MESSAGE_MAX];
    snprintf(msg, sizeof(msg), "%.60s: %.80s", name, what);
    sgp32_smdp_status_set(status, "1.6", reason, msg);
}

int smdp_json_string(json_t *object, const char *name, bool mandatory, size_t max, char *out, bool *present,
                     sgp32_smdp_status *status)
{
    json_t *v = json_object_get(object, name);
    if (present)
        *present = v != NULL;
    out[0] = '\0';
    if (!v) {
        if (mandatory)
            field_error(status, "2.2", name, "mandatory field missing");
        return mandatory ? -1 : 0;
    }
    if (!json_is_string(v)) {
        field_error(status, "2.1", name, "not a string");
        return -1;
    }
    size_t len = json_string_length(v);
    const char *text = json_string_value(v);
    if (len > max || memchr(text, 0, len)) {
        field_error(status, "2.1", name, "too long or not text");
        return -1;
    }
    memcpy(out, text, len);
    out[len] = '\0';
    return 0;
}

int smdp_json_base64(json_t *object, const char *name, sgp32_buf *out, sgp32_smdp_status *status)
{
    json_t *v = json_object_get(object, name);
    if (!v) {
        field_error(status, "2.2", name, "mandatory field missing");
        return -1;
    }
    if (!json_is_string(v)) {
        field_error(status, "2.1", name, "not a string");
        return -1;
    }
    sgp32_buf_reset(out);
    int rc = sgp32_base64_decode(json_string_value(v), json_string_length(v), out);
    if (rc || out->len == 0) {
        field_error(status, "2.1", name, rc == SGP32_ERR_CAPACITY ? "too large" : "not base64");
        return -1;
    }
    return 0;
}

int smdp_json_request_header(json_t *root, bool mandatory, char *requester, size_t requester_size, char *call,
                             size_t call_size, sgp32_smdp_status *status)
{
    json_t *h = json_object_get(root, "header");
    if (!h) {
        if (mandatory)
            field_error(status, "2.2", "header", "mandatory field missing");
        return mandatory ? -1 : 0;
    }
    if (!json_is_object(h)) {
        field_error(status, "2.1", "header", "not an object");
        return -1;
    }
    static const char *const known[] = {"functionRequesterIdentifier", "functionCallIdentifier", NULL};
    if (!smdp_json_known_fields(h, known, status))
        return -1;
    char scratch[SGP32_SMDP_PROFILE_TYPE_MAX + 1];
    if (smdp_json_string(h, "functionRequesterIdentifier", mandatory,
                         (requester ? requester_size : sizeof(scratch)) - 1, requester ? requester : scratch,
                         NULL, status) ||
        smdp_json_string(h, "functionCallIdentifier", mandatory, (call ? call_size : sizeof(scratch)) - 1,
                         call ? call : scratch, NULL, status))
        return -1;
    return 0;
}

json_t *smdp_json_response(const sgp32_smdp_status *status)
{
    json_t *fes = json_object();
    if (sgp32_smdp_status_ok(status)) {
        json_object_set_new(fes, "status", json_string("Executed-Success"));
    } else {
        json_t *scd = json_object();
        json_object_set_new(fes, "status", json_string("Failed"));
        json_object_set_new(scd, "subjectCode", json_string(status->subject));
        json_object_set_new(scd, "reasonCode", json_string(status->reason));
        if (status->message[0])
            json_object_set_new(scd, "message", json_string(status->message));
        json_object_set_new(fes, "statusCodeData", scd);
    }
    json_t *header = json_object();
    json_object_set_new(header, "functionExecutionStatus", fes);
    json_t *root = json_object();
    json_object_set_new(root, "header", header);
    return root;
}

void smdp_json_set_base64(json_t *object, const char *name, const sgp32_buf *data)
{
    size_t n = sgp32_base64_encoded_len(data->len);
    char *text = sgp32_alloc(n + 1);
    if (!text)
        return;
    sgp32_base64_encode(data->data, data->len, text);
    json_object_set_new(object, name, json_stringn(text, n));
    sgp32_free(text, n + 1);
}

int smdp_json_finish(json_t *root, sgp32_buf *body)
{
    if (!root)
        return SGP32_ERR_NO_MEMORY;
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!text)
        return SGP32_ERR_NO_MEMORY;
    int rc = sgp32_buf_append(body, text, strlen(text));
    free(text);
    return rc;
}

int sgp32_smdp_json_status_body(const sgp32_smdp_status *status, sgp32_buf *body)
{
    if (!status || !body)
        return SGP32_ERR_INVALID_ARGUMENT;
    return smdp_json_finish(smdp_json_response(status), body);
}

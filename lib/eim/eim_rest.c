/*
 * Fleet REST API v1 (docs/eim-api.yaml), sans I/O: the host hands over method, path, query,
 * Authorization, Idempotency-Key and body; this file authenticates the bearer token, routes to the
 * handler of one resource (eim_rest_devices.c, eim_rest_operations.c, eim_rest_events.c,
 * eim_rest_tokens.c) and holds the helpers they share: error answers, strict JSON body checks,
 * query strings and rendering.
 *
 * Order of checks, so that nothing is revealed or parsed for a stranger: token (401) before the
 * path (404) and the method (405), the role (403) before the body is read (413, 400).
 *
 * Return value: SGP32_OK whenever resp holds a 2xx or 4xx answer; a failure of the store or a
 * library (resp: 500 internal_error) returns that error so the host can log it, with resp still
 * set. SGP32_ERR_INVALID_ARGUMENT for missing arguments (resp untouched) or a store without a
 * function the API needs (resp: 500).
 *
 * Mutations write their answer before they commit: an answer that cannot be built rolls the
 * transaction back, so a client never gets a 500 for something that was stored. (POST /devices is
 * the exception: sgp32_eim_register verifies certificates, which the store forbids inside a
 * transaction; a retry after such a 500 answers 409 device_exists.)
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eim_rest_internal.h"
#include "sgp32/eid.h"
#include "sgp32/text.h"

enum {
    RESPONSE_MAX = 64 << 20, /* a bulk create of max_bulk operations fits */
    BEARER_SECRET_MAX = 512, /* longer is not one of ours */
    ROUTE_SEGMENTS_MAX = 3,
};

/* ------------------------------------------------------------------ answers */

void sgp32_eim_rest_response_init(sgp32_eim_rest_response *r)
{
    if (!r)
        return;
    r->status = 0;
    sgp32_buf_init(&r->body, RESPONSE_MAX);
}

void sgp32_eim_rest_response_free(sgp32_eim_rest_response *r)
{
    if (!r)
        return;
    sgp32_buf_free(&r->body);
    r->status = 0;
}

static int dump_append(const char *buffer, size_t size, void *data)
{
    return sgp32_buf_append((sgp32_buf *)data, buffer, size) == SGP32_OK ? 0 : -1;
}

bool sgp32_eim_rest_reply(eim_rest_ctx *c, int status, json_t *body)
{
    sgp32_buf_reset(&c->resp->body);
    int rc = SGP32_ERR_NO_MEMORY; /* NULL body: building it failed */
    if (body) {
        rc = json_dump_callback(body, dump_append, &c->resp->body, JSON_COMPACT) == 0 ? SGP32_OK
                                                                                      : SGP32_ERR_CAPACITY;
        json_decref(body);
    }
    if (rc) {
        static const char fallback[] =
            "{\"error\":{\"code\":\"internal_error\",\"message\":\"the answer could "
            "not be built (out of memory or too large); narrow the request or retry\"}}";
        sgp32_buf_reset(&c->resp->body);
        (void)sgp32_buf_append(&c->resp->body, fallback, sizeof(fallback) - 1);
        c->rc = rc;
        c->resp->status = 500;
        return false;
    }
    c->resp->status = status;
    return true;
}

static bool fail_text(eim_rest_ctx *c, int status, const char *code, const char *message)
{
    json_t *msg = json_string(message);
    if (!msg) /* not UTF-8 (it quotes request bytes): say it without them */
        msg = json_string("the request holds text that is not UTF-8");
    json_t *error = json_object(), *root = json_object();
    bool ok = sgp32_eim_rest_set(error, "code", json_string(code));
    if (ok)
        ok = sgp32_eim_rest_set(error, "message", msg); /* takes msg, also on failure */
    else
        json_decref(msg);
    ok = ok && sgp32_eim_rest_set(root, "error", json_incref(error));
    json_decref(error);
    if (!ok) {
        json_decref(root);
        root = NULL;
    }
    (void)sgp32_eim_rest_reply(c, status, root);
    return false;
}

bool sgp32_eim_rest_fail(eim_rest_ctx *c, int status, const char *code, const char *fmt, ...)
{
    char message[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    return fail_text(c, status, code, message);
}

bool sgp32_eim_rest_internal(eim_rest_ctx *c, int err, const char *what)
{
    sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_EIM, &(sgp32_log_context){.component = "eim-rest"},
              "%s %s: %s failed: %s", c->req->method, c->req->path, what, sgp32_err_str(err));
    (void)sgp32_eim_rest_fail(c, 500, "internal_error", "%s failed: %s; retry later or see the eIM log", what,
                              sgp32_err_str(err));
    c->rc = err ? err : SGP32_ERR_STORE;
    return false;
}

bool sgp32_eim_rest_set(json_t *object, const char *key, json_t *value)
{
    if (!object || !value) {
        json_decref(value);
        return false;
    }
    return json_object_set_new(object, key, value) == 0;
}

/* ------------------------------------------------------------------ rendering */

json_t *sgp32_eim_rest_time(int64_t t)
{
    return t ? json_integer((json_int_t)t) : json_null();
}

json_t *sgp32_eim_rest_base64_value(const uint8_t *data, size_t len)
{
    size_t n = sgp32_base64_encoded_len(len);
    char *text = sgp32_alloc(n + 1);
    if (!text)
        return NULL;
    sgp32_base64_encode(data, len, text);
    json_t *v = json_stringn(text, n);
    sgp32_free(text, n + 1);
    return v;
}

json_t *sgp32_eim_rest_hex_value(const uint8_t *data, size_t len)
{
    char *text = sgp32_alloc(2 * len + 1);
    if (!text)
        return NULL;
    sgp32_hex_encode(data, len, text);
    json_t *v = json_string(text);
    sgp32_free(text, 2 * len + 1);
    return v;
}

/* ------------------------------------------------------------------ request bodies */

void sgp32_eim_rest_field_path(char *out, size_t size, const char *path, const char *name)
{
    snprintf(out, size, "%s%s%s", path && *path ? path : "", path && *path ? "." : "", name);
}

json_t *sgp32_eim_rest_body(eim_rest_ctx *c)
{
    const sgp32_eim_rest_request *req = c->req;
    if (req->body_len > SGP32_EIM_REST_BODY_MAX) {
        sgp32_eim_rest_fail(c, 413, "body_too_large",
                            "the body has %zu bytes, at most %d are accepted; split the request",
                            req->body_len, (int)SGP32_EIM_REST_BODY_MAX);
        return NULL;
    }
    if (!req->body || req->body_len == 0) {
        sgp32_eim_rest_fail(c, 400, "bad_json", "the body is empty; send a JSON object");
        return NULL;
    }
    json_error_t err;
    json_t *root = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        sgp32_eim_rest_fail(c, 400, "bad_json", "the body is not valid JSON: %s (line %d, column %d)",
                            err.text, err.line, err.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        sgp32_eim_rest_fail(c, 400, "invalid_body", "the body must be a JSON object");
        return NULL;
    }
    return root;
}

bool sgp32_eim_rest_known_fields(eim_rest_ctx *c, json_t *object, const char *path, const char *const *known)
{
    const char *key;
    json_t *value;
    json_object_foreach(object, key, value)
    {
        bool found = false;
        for (size_t i = 0; known[i] && !found; i++)
            found = strcmp(key, known[i]) == 0;
        if (!found) {
            char field[192];
            sgp32_eim_rest_field_path(field, sizeof(field), path, key);
            char list[256] = "";
            for (size_t i = 0; known[i]; i++)
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "", known[i]);
            return sgp32_eim_rest_fail(c, 400, "unknown_field", "%s: unknown field; the fields here are %s",
                                       field, list);
        }
    }
    return true;
}

static bool missing(eim_rest_ctx *c, const char *field)
{
    return sgp32_eim_rest_fail(c, 400, "missing_field", "%s: required field missing", field);
}

bool sgp32_eim_rest_string(eim_rest_ctx *c, json_t *object, const char *path, const char *name, bool required,
                           size_t min_len, size_t max, char *out, bool *present)
{
    char field[192];
    sgp32_eim_rest_field_path(field, sizeof(field), path, name);
    json_t *v = json_object_get(object, name);
    if (present)
        *present = v != NULL;
    if (!v)
        return required ? missing(c, field) : true;
    if (!json_is_string(v))
        return sgp32_eim_rest_fail(c, 400, "invalid_field", "%s: must be a string", field);
    size_t n = json_string_length(v);
    if (n < min_len || n > max)
        return sgp32_eim_rest_fail(c, 400, "invalid_field", "%s: must have %zu to %zu bytes (UTF-8), not %zu",
                                   field, min_len, max, n);
    const char *s = json_string_value(v);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
            return sgp32_eim_rest_fail(c, 400, "invalid_field", "%s: control characters are not allowed",
                                       field);
    memcpy(out, s, n);
    out[n] = 0;
    return true;
}

bool sgp32_eim_rest_integer(eim_rest_ctx *c, json_t *object, const char *path, const char *name,
                            bool required, int64_t min, int64_t max, int64_t *out, bool *present)
{
    char field[192];
    sgp32_eim_rest_field_path(field, sizeof(field), path, name);
    json_t *v = json_object_get(object, name);
    if (present)
        *present = v != NULL;
    if (!v)
        return required ? missing(c, field) : true;
    if (!json_is_integer(v))
        return sgp32_eim_rest_fail(c, 400, "invalid_field", "%s: must be an integer", field);
    json_int_t n = json_integer_value(v);
    if (n < min || n > max)
        return sgp32_eim_rest_fail(c, 400, "invalid_field", "%s: must be %lld to %lld", field, (long long)min,
                                   (long long)max);
    *out = (int64_t)n;
    return true;
}

bool sgp32_eim_rest_base64(eim_rest_ctx *c, json_t *object, const char *path, const char *name,
                           sgp32_buf *out)
{
    char field[192];
    sgp32_eim_rest_field_path(field, sizeof(field), path, name);
    json_t *v = json_object_get(object, name);
    if (!v)
        return true;
    if (!json_is_string(v))
        return sgp32_eim_rest_fail(c, 400, "invalid_field", "%s: must be a base64 string", field);
    sgp32_buf_reset(out);
    int rc = sgp32_base64_decode(json_string_value(v), json_string_length(v), out);
    if (rc == SGP32_ERR_CAPACITY)
        return sgp32_eim_rest_fail(c, 400, "invalid_field", "%s: longer than %zu bytes", field, out->max);
    if (rc == SGP32_ERR_NO_MEMORY)
        return sgp32_eim_rest_internal(c, rc, "base64 decoding");
    if (rc || out->len == 0)
        return sgp32_eim_rest_fail(c, 400, "invalid_field",
                                   "%s: not base64 (standard alphabet, padded) of DER", field);
    return true;
}

static bool eid_text_ok(const char *s, size_t n, const char **why)
{
    uint8_t eid[SGP32_EID_LEN];
    if (n != SGP32_EIM_EID_DIGITS || strspn(s, "0123456789") < n) {
        *why = "must be 32 decimal digits";
        return false;
    }
    if (sgp32_eid_from_text(s, eid) != SGP32_OK) {
        *why = "check digits are wrong (the 32-digit number mod 97 must be 1)";
        return false;
    }
    return true;
}

bool sgp32_eim_rest_eid_value(eim_rest_ctx *c, json_t *value, const char *field,
                              char out[SGP32_EIM_EID_DIGITS + 1])
{
    const char *why = "must be a string of 32 decimal digits";
    if (!json_is_string(value) || !eid_text_ok(json_string_value(value), json_string_length(value), &why))
        return sgp32_eim_rest_fail(c, 400, "invalid_field", "%s: not an EID: %s", field, why);
    memcpy(out, json_string_value(value), SGP32_EIM_EID_DIGITS);
    out[SGP32_EIM_EID_DIGITS] = 0;
    return true;
}

/* ------------------------------------------------------------------ query strings and path parameters */

static int hex_digit(char ch)
{
    return ch >= '0' && ch <= '9'   ? ch - '0'
           : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
           : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                    : -1;
}

/* Percent-decode s[0..n) into out (size bytes); '+' is a space when plus_is_space. False: malformed,
 * too long, or a control character. */
static bool percent_decode(const char *s, size_t n, bool plus_is_space, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int ch = (unsigned char)s[i];
        if (ch == '%') {
            if (n - i < 3 || hex_digit(s[i + 1]) < 0 || hex_digit(s[i + 2]) < 0)
                return false;
            ch = hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]);
            i += 2;
        } else if (ch == '+' && plus_is_space) {
            ch = ' ';
        }
        if (ch < 0x20 || ch == 0x7F || o + 1 >= size)
            return false;
        out[o++] = (char)ch;
    }
    out[o] = 0;
    return true;
}

bool sgp32_eim_rest_query_parse(eim_rest_ctx *c, eim_rest_query *q)
{
    memset(q->present, 0, sizeof(q->present));
    const char *s = c->req->query;
    if (!s)
        return true;
    while (*s) {
        size_t n = strcspn(s, "&");
        const char *eq = memchr(s, '=', n);
        size_t name_len = eq ? (size_t)(eq - s) : n;
        char name[64];
        if (n == 0) {
            s++;
            continue;
        }
        if (!percent_decode(s, name_len, true, name, sizeof(name)))
            return sgp32_eim_rest_fail(c, 400, "invalid_parameter",
                                       "the query string is malformed near \"%.*s\"", (int)(n > 40 ? 40 : n),
                                       s);
        size_t k = 0;
        while (q->known[k] && strcmp(q->known[k], name) != 0)
            k++;
        if (!q->known[k]) {
            char list[128] = "";
            for (size_t i = 0; q->known[i]; i++)
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
                         q->known[i]);
            return sgp32_eim_rest_fail(c, 400, "unknown_parameter",
                                       "%s: unknown query parameter; known here: %s", name,
                                       *list ? list : "none");
        }
        if (k >= SGP32_ARRAY_LEN(q->values))
            return sgp32_eim_rest_internal(c, SGP32_ERR_CAPACITY, "query parsing");
        if (q->present[k])
            return sgp32_eim_rest_fail(c, 400, "invalid_parameter", "%s: given more than once", name);
        const char *value = eq ? eq + 1 : s + n;
        size_t value_len = eq ? n - name_len - 1 : 0;
        if (!percent_decode(value, value_len, true, q->values[k], sizeof(q->values[k])))
            return sgp32_eim_rest_fail(c, 400, "invalid_parameter",
                                       "%s: malformed or longer than %d characters", name,
                                       (int)EIM_REST_PARAM_MAX);
        q->present[k] = true;
        s += n;
        if (*s == '&')
            s++;
    }
    return true;
}

const char *sgp32_eim_rest_query_get(const eim_rest_query *q, size_t i)
{
    return i < SGP32_ARRAY_LEN(q->present) && q->present[i] ? q->values[i] : NULL;
}

static bool parse_decimal(const char *s, int64_t max, int64_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 18 || strspn(s, "0123456789") != n)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    if (v > max)
        return false;
    *out = v;
    return true;
}

bool sgp32_eim_rest_query_limit(eim_rest_ctx *c, const char *value, size_t *limit)
{
    int64_t v = EIM_REST_LIMIT_DEFAULT;
    if (value && (!parse_decimal(value, EIM_REST_LIMIT_MAX, &v) || v < 1))
        return sgp32_eim_rest_fail(c, 400, "invalid_parameter", "limit: must be 1 to %d",
                                   (int)EIM_REST_LIMIT_MAX);
    *limit = (size_t)v;
    return true;
}

bool sgp32_eim_rest_query_id(eim_rest_ctx *c, const char *name, const char *value, int64_t *id)
{
    *id = 0;
    if (value && !parse_decimal(value, INT64_MAX, id))
        return sgp32_eim_rest_fail(c, 400, "invalid_parameter", "%s: must be a non-negative integer id",
                                   name);
    return true;
}

bool sgp32_eim_rest_param_eid(eim_rest_ctx *c, const char *name, const char *value,
                              char out[SGP32_EIM_EID_DIGITS + 1])
{
    const char *why = "";
    if (!eid_text_ok(value, strlen(value), &why))
        return sgp32_eim_rest_fail(c, 400, "invalid_parameter", "%s: not an EID: %s", name, why);
    memcpy(out, value, SGP32_EIM_EID_DIGITS + 1);
    return true;
}

/* ------------------------------------------------------------------ transactions */

int sgp32_eim_rest_tx_begin(eim_rest_ctx *c)
{
    return c->store->tx_begin ? c->store->tx_begin(c->store->ctx) : SGP32_OK;
}

int sgp32_eim_rest_tx_end(eim_rest_ctx *c, bool commit)
{
    return c->store->tx_end ? c->store->tx_end(c->store->ctx, commit) : SGP32_OK;
}

bool sgp32_eim_rest_commit(eim_rest_ctx *c)
{
    if (c->resp->status >= 500 || c->resp->status == 0) {
        (void)sgp32_eim_rest_tx_end(c, false);
        return false;
    }
    int rc = sgp32_eim_rest_tx_end(c, true);
    if (rc)
        return sgp32_eim_rest_internal(c, rc == SGP32_ERR_STATE ? SGP32_ERR_STORE : rc, "committing");
    return true;
}

/* ------------------------------------------------------------------ authentication */

/* Constant time: no early exit on the first differing byte. */
static bool digest_equal(const uint8_t *a, const uint8_t *b)
{
    volatile uint8_t diff = 0;
    for (size_t i = 0; i < SGP32_SHA256_LEN; i++)
        diff |= (uint8_t)(a[i] ^ b[i]);
    return diff == 0;
}

/* "Bearer" in any case, then white space. */
static bool bearer_scheme(const char *h)
{
    static const char scheme[] = "bearer";
    for (size_t i = 0; i < sizeof(scheme) - 1; i++)
        if (tolower((unsigned char)h[i]) != scheme[i])
            return false;
    return h[6] == ' ' || h[6] == '\t';
}

static bool authenticate(eim_rest_ctx *c)
{
    const char *h = c->req->authorization;
    if (!h)
        return sgp32_eim_rest_fail(c, 401, "unauthorized",
                                   "no Authorization header; send \"Authorization: Bearer <token>\"");
    while (*h == ' ' || *h == '\t')
        h++;
    if (!bearer_scheme(h))
        return sgp32_eim_rest_fail(
            c, 401, "unauthorized",
            "the Authorization header is not \"Bearer <token>\" (the only scheme accepted)");
    h += 6;
    while (*h == ' ' || *h == '\t')
        h++;
    size_t n = strlen(h);
    while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
        n--;
    bool well_formed = n > 0 && n <= BEARER_SECRET_MAX;
    for (size_t i = 0; well_formed && i < n; i++)
        well_formed = h[i] > 0x20 && h[i] < 0x7F;
    uint8_t digest[SGP32_SHA256_LEN];
    if (!well_formed || sgp32_sha256((const uint8_t *)h, n, digest) != SGP32_OK)
        return sgp32_eim_rest_fail(c, 401, "unauthorized", "the bearer token is not valid");
    /* Every config token is compared, whichever matches. */
    const sgp32_eim_token *match = NULL;
    for (size_t i = 0; c->config->tokens && i < c->config->token_count; i++) {
        bool eq = digest_equal(digest, c->config->tokens[i].secret_sha256);
        if (eq && !match)
            match = &c->config->tokens[i];
    }
    if (match) {
        c->caller = *match;
    } else {
        int rc = c->store->token_find(c->store->ctx, digest, &c->caller);
        if (rc == SGP32_ERR_NOT_FOUND)
            return sgp32_eim_rest_fail(
                c, 401, "unauthorized",
                "the bearer token is not valid (unknown or deleted); ask an admin for one");
        if (rc)
            return sgp32_eim_rest_internal(c, rc, "token lookup");
    }
    sgp32_secure_zero(digest, sizeof(digest));
    c->caller.name[sizeof(c->caller.name) - 1] = 0;
    if ((unsigned)c->caller.role > SGP32_EIM_ROLE_ADMIN) /* a damaged record never means "above admin" */
        return sgp32_eim_rest_fail(c, 401, "unauthorized",
                                   "token \"%s\" has an unknown role; an admin must "
                                   "replace it",
                                   c->caller.name);
    return true;
}

/* ------------------------------------------------------------------ status */

void sgp32_eim_rest_status_get(eim_rest_ctx *c)
{
    eim_rest_query q = {.known = (const char *const[]){NULL}};
    if (!sgp32_eim_rest_query_parse(c, &q))
        return;
    int64_t counts[SGP32_EIM_OP_STATE_COUNT] = {0};
    int rc = c->store->op_count(c->store->ctx, counts);
    if (rc) {
        sgp32_eim_rest_internal(c, rc, "counting operations");
        return;
    }
    json_t *ops = json_object(), *root = json_object(), *token = json_object();
    bool ok = true;
    for (int i = 0; i < SGP32_EIM_OP_STATE_COUNT; i++)
        ok = ok &&
             sgp32_eim_rest_set(ops, sgp32_eim_op_state_name((sgp32_eim_op_state)i), json_integer(counts[i]));
    ok = ok && sgp32_eim_rest_set(token, "name", json_string(c->caller.name)) &&
         sgp32_eim_rest_set(token, "role", json_string(sgp32_eim_role_name(c->caller.role)));
    ok = ok && sgp32_eim_rest_set(root, "eimId", json_string(c->srv->config.eim_id)) &&
         sgp32_eim_rest_set(root, "eimFqdn", json_string(c->srv->config.eim_fqdn)) &&
         sgp32_eim_rest_set(root, "apiVersion", json_integer(1)) &&
         sgp32_eim_rest_set(root, "time", json_integer(sgp32_eim_now(c->srv))) &&
         sgp32_eim_rest_set(root, "operations", json_incref(ops)) &&
         sgp32_eim_rest_set(root, "token", json_incref(token));
    json_decref(ops);
    json_decref(token);
    if (!ok) {
        json_decref(root);
        root = NULL;
    }
    sgp32_eim_rest_reply(c, 200, root);
}

/* ------------------------------------------------------------------ routing */

typedef struct rest_route {
    const char *pattern; /* segments after /api/v1/, "{}" one parameter */
    const char *method;
    sgp32_eim_role role; /* the least role allowed */
    void (*handler)(eim_rest_ctx *c);
} rest_route;

static const rest_route routes[] = {
    {"status", "GET", SGP32_EIM_ROLE_READ_ONLY, sgp32_eim_rest_status_get},
    {"devices", "GET", SGP32_EIM_ROLE_READ_ONLY, sgp32_eim_rest_devices_list},
    {"devices", "POST", SGP32_EIM_ROLE_OPERATOR, sgp32_eim_rest_devices_create},
    {"devices/import", "POST", SGP32_EIM_ROLE_OPERATOR, sgp32_eim_rest_devices_import},
    {"devices/{}", "GET", SGP32_EIM_ROLE_READ_ONLY, sgp32_eim_rest_device_get},
    {"devices/{}/profiles", "GET", SGP32_EIM_ROLE_READ_ONLY, sgp32_eim_rest_device_profiles},
    {"devices/{}/eim-configuration", "GET", SGP32_EIM_ROLE_READ_ONLY,
     sgp32_eim_rest_device_eim_configuration},
    {"devices/{}/push-address", "POST", SGP32_EIM_ROLE_OPERATOR, sgp32_eim_rest_device_push_address},
    {"operations", "GET", SGP32_EIM_ROLE_READ_ONLY, sgp32_eim_rest_operations_list},
    {"operations", "POST", SGP32_EIM_ROLE_OPERATOR, sgp32_eim_rest_operations_create},
    {"operations/{}", "GET", SGP32_EIM_ROLE_READ_ONLY, sgp32_eim_rest_operation_get},
    {"operations/{}", "DELETE", SGP32_EIM_ROLE_OPERATOR, sgp32_eim_rest_operation_cancel},
    {"events", "GET", SGP32_EIM_ROLE_READ_ONLY, sgp32_eim_rest_events_list},
    {"tokens", "GET", SGP32_EIM_ROLE_ADMIN, sgp32_eim_rest_tokens_list},
    {"tokens", "POST", SGP32_EIM_ROLE_ADMIN, sgp32_eim_rest_tokens_create},
    {"tokens/{}", "DELETE", SGP32_EIM_ROLE_ADMIN, sgp32_eim_rest_tokens_delete},
};

typedef struct path_segments {
    const char *start[ROUTE_SEGMENTS_MAX];
    size_t len[ROUTE_SEGMENTS_MAX];
    size_t count;
} path_segments;

/* The segments after /api/v1/; false when the path is not of the API (or has empty segments). */
static bool split_path(const char *path, path_segments *out)
{
    static const char prefix[] = "/api/v1/";
    memset(out, 0, sizeof(*out));
    if (strncmp(path, prefix, sizeof(prefix) - 1) != 0)
        return false;
    const char *s = path + sizeof(prefix) - 1;
    while (true) {
        size_t n = strcspn(s, "/");
        if (n == 0 || out->count == ROUTE_SEGMENTS_MAX)
            return false;
        out->start[out->count] = s;
        out->len[out->count++] = n;
        s += n;
        if (!*s)
            return true;
        s++;
    }
}

/* 0: no match; 1: match through a parameter; 2: literal match. *param: the parameter segment. */
static int match_pattern(const char *pattern, const path_segments *p, size_t *param)
{
    size_t i = 0;
    int score = 2;
    const char *s = pattern;
    while (*s) {
        size_t n = strcspn(s, "/");
        if (i >= p->count)
            return 0;
        if (n == 2 && memcmp(s, "{}", 2) == 0) {
            *param = i;
            score = 1;
        } else if (n != p->len[i] || memcmp(s, p->start[i], n) != 0) {
            return 0;
        }
        i++;
        s += n;
        if (*s == '/')
            s++;
    }
    return i == p->count ? score : 0;
}

static void dispatch(eim_rest_ctx *c)
{
    path_segments p;
    if (!split_path(c->req->path, &p)) {
        sgp32_eim_rest_fail(c, 404, "not_found",
                            "no resource at %.100s; the API v1 lives under /api/v1/ (see "
                            "docs/eim-api.yaml)",
                            c->req->path);
        return;
    }
    int best = 0;
    size_t param_at = 0;
    for (size_t i = 0; i < SGP32_ARRAY_LEN(routes); i++) {
        size_t at = 0;
        int score = match_pattern(routes[i].pattern, &p, &at);
        if (score > best) {
            best = score;
            param_at = at;
        }
    }
    if (!best) {
        sgp32_eim_rest_fail(c, 404, "not_found",
                            "no resource at %.100s (see docs/eim-api.yaml for the paths)", c->req->path);
        return;
    }
    const rest_route *route = NULL;
    char allowed[64] = "";
    for (size_t i = 0; i < SGP32_ARRAY_LEN(routes); i++) {
        size_t at = 0;
        if (match_pattern(routes[i].pattern, &p, &at) != best)
            continue;
        snprintf(allowed + strlen(allowed), sizeof(allowed) - strlen(allowed), "%s%s", *allowed ? ", " : "",
                 routes[i].method);
        if (strcmp(routes[i].method, c->req->method) == 0)
            route = &routes[i];
    }
    if (!route) {
        sgp32_eim_rest_fail(c, 405, "method_not_allowed", "%.16s is not allowed here; allowed: %s",
                            c->req->method, allowed);
        return;
    }
    if (c->caller.role < route->role) {
        sgp32_eim_rest_fail(c, 403, "forbidden", "token \"%s\" has role %s; %s %s needs %s or above",
                            c->caller.name, sgp32_eim_role_name(c->caller.role), route->method, c->req->path,
                            sgp32_eim_role_name(route->role));
        return;
    }
    if (best == 1 && !percent_decode(p.start[param_at], p.len[param_at], false, c->param, sizeof(c->param))) {
        sgp32_eim_rest_fail(c, 400, "invalid_parameter",
                            "the path parameter is malformed or longer than %d "
                            "characters",
                            (int)EIM_REST_PARAM_MAX);
        return;
    }
    route->handler(c);
}

int sgp32_eim_rest_handle(const sgp32_eim_server *srv, const sgp32_eim_rest_config *config,
                          const sgp32_eim_rest_request *req, sgp32_eim_rest_response *resp)
{
    static const sgp32_eim_rest_config no_config = {NULL, 0, 0};
    if (!srv || !req || !resp || !req->method || !req->path)
        return SGP32_ERR_INVALID_ARGUMENT;
    eim_rest_ctx c;
    memset(&c, 0, sizeof(c));
    c.srv = srv;
    c.store = &srv->config.store;
    c.config = config ? config : &no_config;
    c.req = req;
    c.resp = resp;
    resp->status = 0;
    sgp32_buf_reset(&resp->body);
    const sgp32_eim_store *st = c.store;
    if (!st->euicc_insert || !st->euicc_get || !st->euicc_list || !st->profile_list || !st->op_insert ||
        !st->op_get || !st->op_update || !st->op_list || !st->op_find_idempotent || !st->op_count ||
        !st->event_list || !st->token_insert || !st->token_find || !st->token_delete || !st->token_list) {
        sgp32_eim_rest_internal(&c, SGP32_ERR_INVALID_ARGUMENT,
                                "the store (a function the API needs is missing)");
        return c.rc;
    }
    if (authenticate(&c))
        dispatch(&c);
    if (!resp->status) /* a handler forgot to answer: a bug, never a silent 200 */
        sgp32_eim_rest_internal(&c, SGP32_ERR_STATE, "request handling");
    return c.rc;
}

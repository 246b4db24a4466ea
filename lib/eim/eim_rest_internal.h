/*
 * Private to the fleet REST API v1 (eim_rest*.c): the per-request context, the error and JSON
 * helpers of eim_rest.c and one handler per route (eim_rest_devices.c, eim_rest_operations.c,
 * eim_rest_events.c, eim_rest_tokens.c). docs/eim-api.yaml describes the API.
 *
 * Every handler leaves its answer in c->resp. The helpers that check something return true when
 * it is fine and false after writing the error answer, so a handler stops at the first false.
 */
#ifndef SGP32_EIM_REST_INTERNAL_H
#define SGP32_EIM_REST_INTERNAL_H

#include <jansson.h>

#include "sgp32/eim_server.h"
#include "sgp32/log.h"

enum {
    EIM_REST_LIMIT_DEFAULT = 100,
    EIM_REST_LIMIT_MAX = 1000,
    EIM_REST_PARAM_MAX = 128, /* a path segment or query value, decoded */
    EIM_REST_MAX_BULK_DEFAULT = 100000,
    EIM_REST_EXPIRES_MAX = 366 * 24 * 3600,
};

typedef struct eim_rest_ctx {
    const sgp32_eim_server *srv;
    const sgp32_eim_store *store;
    const sgp32_eim_rest_config *config;
    const sgp32_eim_rest_request *req;
    sgp32_eim_rest_response *resp;
    sgp32_eim_token caller;             /* the authenticated token (name is the audit actor) */
    char param[EIM_REST_PARAM_MAX + 1]; /* the {…} path segment, percent-decoded */
    int rc;                             /* what sgp32_eim_rest_handle returns (internal failures) */
} eim_rest_ctx;

/* ---- answers (eim_rest.c) */

/* {"error":{"code":code,"message":...}} with status; returns false. */
bool sgp32_eim_rest_fail(eim_rest_ctx *c, int status, const char *code, const char *fmt, ...)
    SGP32_PRINTF(4, 5);
/* 500 internal_error for a store or library failure (what: which call); c->rc = err; false. */
bool sgp32_eim_rest_internal(eim_rest_ctx *c, int err, const char *what);
/* status with body (consumed; NULL is a no-memory failure); true when the answer is set. */
bool sgp32_eim_rest_reply(eim_rest_ctx *c, int status, json_t *body);

/* ---- request bodies */

/* The body as a JSON object (bad_json, invalid_body, body_too_large otherwise); NULL after an error. */
json_t *sgp32_eim_rest_body(eim_rest_ctx *c);
/* Every key of object in known (NULL-terminated); else 400 unknown_field naming path.key. */
bool sgp32_eim_rest_known_fields(eim_rest_ctx *c, json_t *object, const char *path, const char *const *known);
/* A string member of 1..max bytes (min_len 0 allows ""), copied to out (max + 1 bytes). */
bool sgp32_eim_rest_string(eim_rest_ctx *c, json_t *object, const char *path, const char *name, bool required,
                           size_t min_len, size_t max, char *out, bool *present);
/* An integer member in [min, max]. */
bool sgp32_eim_rest_integer(eim_rest_ctx *c, json_t *object, const char *path, const char *name,
                            bool required, int64_t min, int64_t max, int64_t *out, bool *present);
/* A base64 member (DER) decoded into out (its cap bounds it). */
bool sgp32_eim_rest_base64(eim_rest_ctx *c, json_t *object, const char *path, const char *name,
                           sgp32_buf *out);
/* An EID (32 digits with valid check digits) in value; field names it in the error. */
bool sgp32_eim_rest_eid_value(eim_rest_ctx *c, json_t *value, const char *field,
                              char out[SGP32_EIM_EID_DIGITS + 1]);
/* "a.b" or "b" when path is "". */
void sgp32_eim_rest_field_path(char *out, size_t size, const char *path, const char *name);

/* ---- query strings: name=value&...; every name must be in known; repeats are errors */

typedef struct eim_rest_query {
    const char *const *known;               /* NULL-terminated */
    char values[4][EIM_REST_PARAM_MAX + 1]; /* percent-decoded, by index in known */
    bool present[4];
} eim_rest_query;

bool sgp32_eim_rest_query_parse(eim_rest_ctx *c, eim_rest_query *q);
/* The value of known[i], NULL when absent. */
const char *sgp32_eim_rest_query_get(const eim_rest_query *q, size_t i);
/* limit=1..1000 (default 100). */
bool sgp32_eim_rest_query_limit(eim_rest_ctx *c, const char *value, size_t *limit);
/* after=<id> (0 default). */
bool sgp32_eim_rest_query_id(eim_rest_ctx *c, const char *name, const char *value, int64_t *id);
/* An EID in a query value or path segment (400 invalid_parameter when malformed). */
bool sgp32_eim_rest_param_eid(eim_rest_ctx *c, const char *name, const char *value,
                              char out[SGP32_EIM_EID_DIGITS + 1]);

/* ---- rendering */

/* Unix seconds, null for 0 (not yet / never). */
json_t *sgp32_eim_rest_time(int64_t t);
json_t *sgp32_eim_rest_base64_value(const uint8_t *data, size_t len);
json_t *sgp32_eim_rest_hex_value(const uint8_t *data, size_t len);
/* Object with key set to value (consumed); false on no memory. */
bool sgp32_eim_rest_set(json_t *object, const char *key, json_t *value);

/* ---- store transactions (no-ops when the store has none) */
int sgp32_eim_rest_tx_begin(eim_rest_ctx *c);
int sgp32_eim_rest_tx_end(eim_rest_ctx *c, bool commit);
/* After the answer of a mutation is set inside the transaction: commit it, or roll back when the
 * answer could not be built (500), so a client never sees an error for something that was stored.
 * A failed commit replaces the answer with 500. */
bool sgp32_eim_rest_commit(eim_rest_ctx *c);

/* ---- handlers, one per route */
void sgp32_eim_rest_status_get(eim_rest_ctx *c);
void sgp32_eim_rest_devices_list(eim_rest_ctx *c);
void sgp32_eim_rest_devices_create(eim_rest_ctx *c);
void sgp32_eim_rest_devices_import(eim_rest_ctx *c);
void sgp32_eim_rest_device_get(eim_rest_ctx *c);
void sgp32_eim_rest_device_profiles(eim_rest_ctx *c);
void sgp32_eim_rest_device_eim_configuration(eim_rest_ctx *c);
void sgp32_eim_rest_device_push_address(eim_rest_ctx *c);
void sgp32_eim_rest_operations_list(eim_rest_ctx *c);
void sgp32_eim_rest_operations_create(eim_rest_ctx *c);
void sgp32_eim_rest_operation_get(eim_rest_ctx *c);
void sgp32_eim_rest_operation_cancel(eim_rest_ctx *c);
void sgp32_eim_rest_events_list(eim_rest_ctx *c);
void sgp32_eim_rest_tokens_list(eim_rest_ctx *c);
void sgp32_eim_rest_tokens_create(eim_rest_ctx *c);
void sgp32_eim_rest_tokens_delete(eim_rest_ctx *c);

/* The operation record as the API shows it (with_der: resultDer too); NULL on no memory. */
json_t *sgp32_eim_rest_operation_json(const sgp32_eim_operation *op, bool with_der);

#endif

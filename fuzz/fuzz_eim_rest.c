/*
 * fuzz_eim_rest: the fleet REST API v1 (lib/eim/eim_rest*.c, jansson) with the bodies API clients
 * send: byte 0 picks the route (POST /api/v1/operations, /devices, /devices/import, /tokens), byte 1
 * bit 0 adds an Idempotency-Key, the rest is the body, sent with an admin token to a server on a
 * fresh in-memory SQLite store holding two registered devices (EIDs below; no CI trusted, so a
 * certificate never verifies).
 *
 * Opening the store (schema, prepared statements) costs more than a request, so under libFuzzer one
 * store serves FUZZ_STORE_REUSE inputs before a fresh one (the properties compare counts before and
 * after each request, whatever was there); the seed replay (no SGP32_FUZZ_LIBFUZZER) opens a fresh
 * store for every input, so each seed's outcome is its own.
 *
 * Properties: the call returns SGP32_OK with a 2xx or 4xx status (500 only with an error code, for
 * no memory); the answer is one JSON object; an error answer is {"error":{"code","message"}} with a
 * snake_case code and a message; a rejected request stored nothing (devices, operations, events and
 * tokens counted before and after) and an accepted one stored something; a repeated keyed
 * operations create is a replay that stores nothing; no leak. Returns SGP32_OK when accepted (2xx).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_common.h"
#include "sgp32/eim_server.h"
#include "sgp32/log.h"

#define FUZZ_ADMIN_SECRET "fuzz-admin-secret"

#ifdef SGP32_FUZZ_LIBFUZZER
enum { FUZZ_STORE_REUSE = 64 };
#else
enum { FUZZ_STORE_REUSE = 1 };
#endif

static const char *const fuzz_eids[] = {"89049032123451234512345678901235",
                                        "89049032000000000000000000001036"};

static const char *const fuzz_paths[] = {"/api/v1/operations", "/api/v1/devices", "/api/v1/devices/import",
                                         "/api/v1/tokens"};

typedef struct fuzz_counts {
    int64_t devices, operations, events, tokens;
} fuzz_counts;

static int count_euicc(void *arg, const sgp32_eim_euicc *e)
{
    (void)e;
    ++*(int64_t *)arg;
    return 0;
}

static int count_event(void *arg, const sgp32_eim_event *ev)
{
    (void)ev;
    ++*(int64_t *)arg;
    return 0;
}

static int count_token(void *arg, const sgp32_eim_token *t)
{
    (void)t;
    ++*(int64_t *)arg;
    return 0;
}

static fuzz_counts count_rows(const sgp32_eim_store *s, const uint8_t *data, size_t size)
{
    fuzz_counts c = {0, 0, 0, 0};
    int64_t states[SGP32_EIM_OP_STATE_COUNT];
    if (s->euicc_list(s->ctx, NULL, SIZE_MAX, count_euicc, &c.devices) || s->op_count(s->ctx, states) ||
        s->event_list(s->ctx, NULL, 0, SIZE_MAX, count_event, &c.events) ||
        s->token_list(s->ctx, count_token, &c.tokens))
        sgp32_fuzz_fail("the store cannot be read", "rest", data, size);
    for (int i = 0; i < SGP32_EIM_OP_STATE_COUNT; i++)
        c.operations += states[i];
    return c;
}

static bool same_counts(fuzz_counts a, fuzz_counts b)
{
    return a.devices == b.devices && a.operations == b.operations && a.events == b.events &&
           a.tokens == b.tokens;
}

static int64_t fuzz_now(void)
{
    return 1700000000;
}

/* The answer: one JSON object; errors in the API's shape. */
static void check_answer(const sgp32_eim_rest_response *resp, const uint8_t *data, size_t size)
{
    json_t *root = json_loadb((const char *)resp->body.data, resp->body.len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(root))
        sgp32_fuzz_fail("the answer is not a JSON object", "rest", data, size);
    if (resp->status >= 400) {
        json_t *error = json_object_get(root, "error");
        const char *code = json_string_value(json_object_get(error, "code"));
        const char *message = json_string_value(json_object_get(error, "message"));
        if (json_object_size(root) != 1 || !code || !*code ||
            strspn(code, "abcdefghijklmnopqrstuvwxyz_") != strlen(code) || !message || !*message)
            sgp32_fuzz_fail("an error answer without error.code (snake_case) and error.message", "rest", data,
                            size);
    }
    json_decref(root);
}

int sgp32_fuzz_eim_rest(const uint8_t *data, size_t size)
{
    static sgp32_ec_private_key key;
    static sgp32_ci_set cis;
    static bool ready;
    if (!ready) {
        sgp32_ec_public_key pub;
        memset(&key, 0, sizeof(key));
        key.curve = SGP32_CURVE_NIST_P256;
        for (size_t i = 0; i < sizeof(key.scalar); i++)
            key.scalar[i] = (uint8_t)(i + 1);
        if (sgp32_ec_public_from_private(&key, &pub))
            abort();
        sgp32_ci_set_init(&cis);
        sgp32_log_set_level_all(SGP32_LOG_ERROR); /* refused registrations are warnings: too many */
        ready = true;
    }
    if (size < 2)
        return SGP32_ERR_INVALID_ARGUMENT;
    static sgp32_eim_sqlite *db;
    static sgp32_eim_server srv;
    static unsigned uses;
    if (db && uses++ >= FUZZ_STORE_REUSE) {
        sgp32_eim_sqlite_close(db);
        db = NULL;
    }
    if (!db) {
        uses = 1;
        if (sgp32_eim_sqlite_open(":memory:", &db))
            sgp32_fuzz_fail("cannot open the in-memory store", "rest", data, size);
        sgp32_eim_server_config config = {
            .eim_id = "eim.example.com",
            .signing_key = &key,
            .trusted_cis = &cis,
            .store = sgp32_eim_sqlite_store(db),
            .now = fuzz_now,
        };
        if (sgp32_eim_server_init(&srv, &config))
            sgp32_fuzz_fail("server init", "rest", data, size);
        for (size_t i = 0; i < SGP32_ARRAY_LEN(fuzz_eids); i++) {
            sgp32_eim_euicc e;
            sgp32_eim_euicc_init(&e);
            snprintf(e.eid, sizeof(e.eid), "%s", fuzz_eids[i]);
            if (srv.config.store.euicc_insert(srv.config.store.ctx, &e))
                sgp32_fuzz_fail("cannot register the devices", "rest", data, size);
            sgp32_eim_euicc_free(&e);
        }
    }
    const sgp32_eim_store *store = &srv.config.store;
    sgp32_eim_token admin = {.name = "fuzz", .role = SGP32_EIM_ROLE_ADMIN};
    if (sgp32_sha256((const uint8_t *)FUZZ_ADMIN_SECRET, strlen(FUZZ_ADMIN_SECRET), admin.secret_sha256))
        abort();
    sgp32_eim_rest_config rest = {.tokens = &admin, .token_count = 1, .max_bulk = 1000};
    size_t route = data[0] % SGP32_ARRAY_LEN(fuzz_paths);
    sgp32_eim_rest_request req = {
        .method = "POST",
        .path = fuzz_paths[route],
        .authorization = "Bearer " FUZZ_ADMIN_SECRET,
        .idempotency_key = data[1] & 1 ? "fuzz-key" : NULL,
        .body = (const char *)data + 2,
        .body_len = size - 2,
    };
    sgp32_eim_rest_response resp;
    sgp32_eim_rest_response_init(&resp);
    fuzz_counts before = count_rows(store, data, size);
    int rc = sgp32_eim_rest_handle(&srv, &rest, &req, &resp);
    fuzz_counts after = count_rows(store, data, size);
    if (rc != SGP32_OK && !(rc == SGP32_ERR_NO_MEMORY && resp.status == 500))
        sgp32_fuzz_fail("the handler failed instead of answering", "rest", data, size);
    if (rc == SGP32_OK &&
        (resp.status < 200 || resp.status >= 500 || (resp.status >= 300 && resp.status < 400)))
        sgp32_fuzz_fail("a status that is not 2xx or 4xx", "rest", data, size);
    check_answer(&resp, data, size);
    if (resp.status >= 400 && !same_counts(before, after))
        sgp32_fuzz_fail("a rejected request stored something", "rest", data, size);
    if (resp.status == 201 && same_counts(before, after))
        sgp32_fuzz_fail("an accepted request stored nothing", "rest", data, size);
    int status = resp.status;
    if (status == 201 && route == 0 && req.idempotency_key) {
        /* the same request again: a replay of the same operations, nothing stored */
        rc = sgp32_eim_rest_handle(&srv, &rest, &req, &resp);
        fuzz_counts again = count_rows(store, data, size);
        if (rc != SGP32_OK || resp.status != 200 || !same_counts(after, again))
            sgp32_fuzz_fail("a keyed repeat was not a replay", "rest", data, size);
        check_answer(&resp, data, size);
    }
    sgp32_eim_rest_response_free(&resp);
    if (FUZZ_STORE_REUSE == 1) {
        sgp32_eim_sqlite_close(db);
        db = NULL;
    }
    return status >= 200 && status < 300 ? SGP32_OK : SGP32_ERR_INVALID_ARGUMENT;
}

SGP32_FUZZ_ENTRY(sgp32_fuzz_eim_rest);

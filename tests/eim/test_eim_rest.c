/*
 * The fleet REST API v1 (lib/eim/eim_rest*.c) against the SQLite store in memory: a bearer token on
 * every route, roles, devices (one, with SGP.26 certificates, import), operations (one, a bulk of
 * 10,000 EIDs in one call, timed), strict bodies (malformed, oversized, unknown fields, wrong types,
 * duplicate keys: the right status and code, and nothing stored), Idempotency-Key replay and reuse,
 * cancel, keyset pagination, the audit log, tokens, and push addresses (register, import, change).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "alloc_fail.h"
#include "euicc_fixture.h"
#include "sgp32/eid.h"
#include "sgp32/eim_server.h"
#include "sgp32/text.h"

#define ADMIN    "admin-secret-0123456789"
#define OPERATOR "operator-secret-0123456789"
#define VIEWER   "viewer-secret-0123456789"
#define ICCID    "8944000000000000001"
#define ENABLE   "{\"psmo\":[{\"enable\":{\"iccid\":\"" ICCID "\"}}]}"

typedef struct env {
    sgp32_eim_sqlite *db;
    sgp32_eim_server srv;
    sgp32_ci_set cis;
    sgp32_ec_private_key key;
    sgp32_eim_token tokens[3];
    sgp32_eim_rest_config rest;
    sgp32_eim_rest_response resp;
    json_t *json; /* the last answer */
} env;

static int64_t fixed_now(void)
{
    return 1700000000; /* inside the SGP.26 certificates' validity */
}

static void make_token(sgp32_eim_token *t, const char *name, sgp32_eim_role role, const char *secret)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->role = role;
    assert_int_equal(sgp32_sha256((const uint8_t *)secret, strlen(secret), t->secret_sha256), SGP32_OK);
}

static int setup(void **state)
{
    env *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    assert_int_equal(sgp32_eim_sqlite_open(":memory:", &e->db), SGP32_OK);
    sgp32_ci_set_init(&e->cis);
    sgp32_buf ci;
    assert_int_equal(test_read_file(SGP32_SPEC_DIR "/sgp26/CertificateIssuer/CERT_CI_ECDSA_NIST.der", &ci),
                     SGP32_OK);
    assert_int_equal(sgp32_ci_set_add(&e->cis, ci.data, ci.len), SGP32_OK);
    sgp32_buf_free(&ci);
    sgp32_ec_public_key pub;
    assert_int_equal(sgp32_ec_generate(SGP32_CURVE_NIST_P256, &e->key, &pub), SGP32_OK);
    sgp32_eim_server_config c = {
        .eim_id = "eim.example.com",
        .signing_key = &e->key,
        .trusted_cis = &e->cis,
        .store = sgp32_eim_sqlite_store(e->db),
        .now = fixed_now,
    };
    assert_int_equal(sgp32_eim_server_init(&e->srv, &c), SGP32_OK);
    make_token(&e->tokens[0], "root", SGP32_EIM_ROLE_ADMIN, ADMIN);
    make_token(&e->tokens[1], "ops", SGP32_EIM_ROLE_OPERATOR, OPERATOR);
    make_token(&e->tokens[2], "viewer", SGP32_EIM_ROLE_READ_ONLY, VIEWER);
    e->rest.tokens = e->tokens;
    e->rest.token_count = 3;
    sgp32_eim_rest_response_init(&e->resp);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    json_decref(e->json);
    sgp32_eim_rest_response_free(&e->resp);
    sgp32_eim_sqlite_close(e->db);
    sgp32_ci_set_free(&e->cis);
    free(e);
    return 0;
}

/* One request; the answer is parsed into e->json and checked for the error shape. Returns the status. */
static int call_full(env *e, const char *method, const char *path, const char *query, const char *secret,
                     const char *key, const char *body, size_t body_len)
{
    char auth[256];
    if (secret)
        snprintf(auth, sizeof(auth), "Bearer %s", secret);
    sgp32_eim_rest_request req = {
        .method = method,
        .path = path,
        .query = query,
        .authorization = secret ? auth : NULL,
        .idempotency_key = key,
        .body = body,
        .body_len = body_len,
    };
    int rc = sgp32_eim_rest_handle(&e->srv, &e->rest, &req, &e->resp);
    assert_int_equal(rc, SGP32_OK);
    json_decref(e->json);
    json_error_t err;
    e->json = json_loadb((const char *)e->resp.body.data, e->resp.body.len, JSON_REJECT_DUPLICATES, &err);
    if (!e->json)
        fail_msg("%s %s: answer is not JSON (%s): %.*s", method, path, err.text, (int)e->resp.body.len,
                 (const char *)e->resp.body.data);
    assert_true(json_is_object(e->json));
    if (e->resp.status >= 400) {
        json_t *error = json_object_get(e->json, "error");
        assert_true(json_is_object(error));
        assert_true(json_is_string(json_object_get(error, "code")));
        assert_true(json_is_string(json_object_get(error, "message")));
        assert_true(strlen(json_string_value(json_object_get(error, "message"))) > 10);
    }
    return e->resp.status;
}

static int call(env *e, const char *method, const char *path, const char *query, const char *secret,
                const char *body)
{
    return call_full(e, method, path, query, secret, NULL, body, body ? strlen(body) : 0);
}

static const char *error_code(env *e)
{
    return json_string_value(json_object_get(json_object_get(e->json, "error"), "code"));
}

static const char *error_message(env *e)
{
    return json_string_value(json_object_get(json_object_get(e->json, "error"), "message"));
}

#define assert_error(e, status_expr, want_status, want_code)                                                 \
    do {                                                                                                     \
        int st_ = (status_expr);                                                                             \
        if (st_ != (want_status) || strcmp(error_code(e) ? error_code(e) : "", want_code) != 0)              \
            fail_msg("line %d: got %d %.*s, want %d %s", __LINE__, st_, (int)(e)->resp.body.len,             \
                     (const char *)(e)->resp.body.data, want_status, want_code);                             \
    } while (0)

/* A valid EID with serial n. */
static void make_eid(unsigned long n, char eid[SGP32_EIM_EID_DIGITS + 1])
{
    snprintf(eid, SGP32_EIM_EID_DIGITS + 1, "8904903200000000000%011lu00", n);
    assert_int_equal(sgp32_eid_set_check_digits(eid), SGP32_OK);
}

static int64_t count_rows(env *e, int what);

typedef struct counts {
    int64_t devices, operations, events, tokens;
} counts;

static int count_euicc(void *arg, const sgp32_eim_euicc *x)
{
    (void)x;
    ++*(int64_t *)arg;
    return 0;
}

static int count_event(void *arg, const sgp32_eim_event *x)
{
    (void)x;
    ++*(int64_t *)arg;
    return 0;
}

static int count_token(void *arg, const sgp32_eim_token *x)
{
    (void)x;
    ++*(int64_t *)arg;
    return 0;
}

static int64_t count_rows(env *e, int what)
{
    const sgp32_eim_store *s = &e->srv.config.store;
    int64_t n = 0;
    if (what == 0) {
        assert_int_equal(s->euicc_list(s->ctx, NULL, SIZE_MAX, count_euicc, &n), SGP32_OK);
    } else if (what == 1) {
        int64_t c[SGP32_EIM_OP_STATE_COUNT];
        assert_int_equal(s->op_count(s->ctx, c), SGP32_OK);
        for (int i = 0; i < SGP32_EIM_OP_STATE_COUNT; i++)
            n += c[i];
    } else if (what == 2) {
        assert_int_equal(s->event_list(s->ctx, NULL, 0, SIZE_MAX, count_event, &n), SGP32_OK);
    } else {
        assert_int_equal(s->token_list(s->ctx, count_token, &n), SGP32_OK);
    }
    return n;
}

static counts snapshot(env *e)
{
    counts c = {count_rows(e, 0), count_rows(e, 1), count_rows(e, 2), count_rows(e, 3)};
    return c;
}

static void assert_same(counts a, counts b)
{
    assert_int_equal(a.devices, b.devices);
    assert_int_equal(a.operations, b.operations);
    assert_int_equal(a.events, b.events);
    assert_int_equal(a.tokens, b.tokens);
}

static void register_device(env *e, const char *eid)
{
    char body[128];
    snprintf(body, sizeof(body), "{\"eid\":\"%s\",\"label\":\"meter\"}", eid);
    assert_int_equal(call(e, "POST", "/api/v1/devices", NULL, OPERATOR, body), 201);
}

static int64_t create_one(env *e, const char *eid)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"eid\":\"%s\",\"operation\":" ENABLE "}", eid);
    assert_int_equal(call(e, "POST", "/api/v1/operations", NULL, OPERATOR, body), 201);
    json_t *ops = json_object_get(e->json, "operations");
    assert_int_equal(json_array_size(ops), 1);
    return json_integer_value(json_object_get(json_array_get(ops, 0), "id"));
}

/* ------------------------------------------------------------------ auth and routing */

static const struct {
    const char *method, *path;
} every_route[] = {
    {"GET", "/api/v1/status"},
    {"GET", "/api/v1/devices"},
    {"POST", "/api/v1/devices"},
    {"POST", "/api/v1/devices/import"},
    {"GET", "/api/v1/devices/89049032123451234512345678901235"},
    {"GET", "/api/v1/devices/89049032123451234512345678901235/profiles"},
    {"GET", "/api/v1/devices/89049032123451234512345678901235/eim-configuration"},
    {"POST", "/api/v1/devices/89049032123451234512345678901235/push-address"},
    {"GET", "/api/v1/operations"},
    {"POST", "/api/v1/operations"},
    {"GET", "/api/v1/operations/1"},
    {"DELETE", "/api/v1/operations/1"},
    {"GET", "/api/v1/events"},
    {"GET", "/api/v1/tokens"},
    {"POST", "/api/v1/tokens"},
    {"DELETE", "/api/v1/tokens/someone"},
    {"GET", "/api/v1/no-such-thing"},
};

static void token_required_on_every_route(void **state)
{
    env *e = *state;
    counts before = snapshot(e);
    for (size_t i = 0; i < SGP32_ARRAY_LEN(every_route); i++) {
        const char *m = every_route[i].method, *p = every_route[i].path;
        const char *body = "{\"eid\":\"89049032123451234512345678901235\"}";
        assert_error(e, call(e, m, p, NULL, NULL, body), 401, "unauthorized");
        assert_error(e, call(e, m, p, NULL, "wrong-secret", body), 401, "unauthorized");
        assert_error(e, call(e, m, p, NULL, "", body), 401, "unauthorized");
        /* another scheme, and the right secret under it */
        sgp32_eim_rest_request req = {
            .method = m, .path = p, .authorization = "Basic " ADMIN, .body = body, .body_len = strlen(body)};
        assert_int_equal(sgp32_eim_rest_handle(&e->srv, &e->rest, &req, &e->resp), SGP32_OK);
        assert_int_equal(e->resp.status, 401);
        /* the bare secret without a scheme */
        req.authorization = ADMIN;
        assert_int_equal(sgp32_eim_rest_handle(&e->srv, &e->rest, &req, &e->resp), SGP32_OK);
        assert_int_equal(e->resp.status, 401);
    }
    /* case-insensitive scheme and extra blanks are fine */
    sgp32_eim_rest_request req = {
        .method = "GET", .path = "/api/v1/status", .authorization = "bearer   " VIEWER " "};
    assert_int_equal(sgp32_eim_rest_handle(&e->srv, &e->rest, &req, &e->resp), SGP32_OK);
    assert_int_equal(e->resp.status, 200);
    assert_same(before, snapshot(e));
}

static void routing_errors(void **state)
{
    env *e = *state;
    assert_error(e, call(e, "GET", "/api/v1/nothing", NULL, VIEWER, NULL), 404, "not_found");
    assert_error(e, call(e, "GET", "/api/v1/devices/", NULL, VIEWER, NULL), 404, "not_found");
    assert_error(e, call(e, "GET", "/api/v2/status", NULL, VIEWER, NULL), 404, "not_found");
    assert_error(e, call(e, "GET", "/api/v1/operations/1/2/3", NULL, VIEWER, NULL), 404, "not_found");
    assert_error(e, call(e, "PUT", "/api/v1/devices", NULL, ADMIN, "{}"), 405, "method_not_allowed");
    assert_error(e, call(e, "GET", "/api/v1/devices/import", NULL, ADMIN, NULL), 405, "method_not_allowed");
    assert_error(e, call(e, "DELETE", "/api/v1/status", NULL, ADMIN, NULL), 405, "method_not_allowed");
    assert_error(e, call(e, "GET", "/api/v1/tokens/x", NULL, ADMIN, NULL), 405, "method_not_allowed");
    assert_error(e, call(e, "GET", "/api/v1/status", "verbose=1", VIEWER, NULL), 400, "unknown_parameter");
    assert_error(e, call(e, "GET", "/api/v1/operations", "limit=0", VIEWER, NULL), 400, "invalid_parameter");
    assert_error(e, call(e, "GET", "/api/v1/operations", "limit=1001", VIEWER, NULL), 400,
                 "invalid_parameter");
    assert_error(e, call(e, "GET", "/api/v1/operations", "state=sleeping", VIEWER, NULL), 400,
                 "invalid_parameter");
    assert_error(e, call(e, "GET", "/api/v1/operations", "after=-1", VIEWER, NULL), 400, "invalid_parameter");
    assert_error(e, call(e, "GET", "/api/v1/operations", "limit=1&limit=2", VIEWER, NULL), 400,
                 "invalid_parameter");
    assert_error(e, call(e, "GET", "/api/v1/operations", "eid=%zz", VIEWER, NULL), 400, "invalid_parameter");
    assert_error(e, call(e, "GET", "/api/v1/events", "eid=123", VIEWER, NULL), 400, "invalid_parameter");
    assert_error(e, call(e, "GET", "/api/v1/devices/123", NULL, VIEWER, NULL), 400, "invalid_parameter");
    assert_error(e, call(e, "GET", "/api/v1/devices/89049032123451234512345678901234", NULL, VIEWER, NULL),
                 400, "invalid_parameter");
    assert_error(e, call(e, "GET", "/api/v1/devices/89049032123451234512345678901235", NULL, VIEWER, NULL),
                 404, "device_not_found");
    assert_error(e, call(e, "GET", "/api/v1/operations/abc", NULL, VIEWER, NULL), 400, "invalid_parameter");
    assert_error(e, call(e, "GET", "/api/v1/operations/999", NULL, VIEWER, NULL), 404, "operation_not_found");
    assert_error(e, call(e, "GET", "/api/v1/operations/0", NULL, VIEWER, NULL), 404, "operation_not_found");
    /* percent-encoded path parameter */
    assert_error(e, call(e, "GET", "/api/v1/devices/8904903212345123451234567890123%35", NULL, VIEWER, NULL),
                 404, "device_not_found");
    assert_int_equal(call(e, "GET", "/api/v1/status", NULL, VIEWER, NULL), 200);
    assert_string_equal(json_string_value(json_object_get(e->json, "eimId")), "eim.example.com");
    assert_string_equal(json_string_value(json_object_get(json_object_get(e->json, "token"), "role")),
                        "read_only");
    assert_true(json_is_integer(json_object_get(json_object_get(e->json, "operations"), "queued")));
}

static void roles_are_enforced(void **state)
{
    env *e = *state;
    char eid[SGP32_EIM_EID_DIGITS + 1], body[256];
    make_eid(1, eid);
    snprintf(body, sizeof(body), "{\"eid\":\"%s\"}", eid);
    counts before = snapshot(e);
    /* read_only: every GET, no mutation */
    assert_error(e, call(e, "POST", "/api/v1/devices", NULL, VIEWER, body), 403, "forbidden");
    assert_error(e, call(e, "POST", "/api/v1/devices/import", NULL, VIEWER, "{\"devices\":[]}"), 403,
                 "forbidden");
    assert_error(e, call(e, "POST", "/api/v1/operations", NULL, VIEWER, body), 403, "forbidden");
    assert_error(e, call(e, "DELETE", "/api/v1/operations/1", NULL, VIEWER, NULL), 403, "forbidden");
    assert_error(e, call(e, "GET", "/api/v1/tokens", NULL, VIEWER, NULL), 403, "forbidden");
    assert_error(e, call(e, "POST", "/api/v1/tokens", NULL, VIEWER, "{\"name\":\"x\",\"role\":\"admin\"}"),
                 403, "forbidden");
    assert_same(before, snapshot(e));
    assert_int_equal(call(e, "GET", "/api/v1/devices", NULL, VIEWER, NULL), 200);
    assert_int_equal(call(e, "GET", "/api/v1/operations", NULL, VIEWER, NULL), 200);
    assert_int_equal(call(e, "GET", "/api/v1/events", NULL, VIEWER, NULL), 200);
    /* operator: devices and operations, not tokens */
    assert_int_equal(call(e, "POST", "/api/v1/devices", NULL, OPERATOR, body), 201);
    int64_t id = create_one(e, eid);
    assert_true(id > 0);
    assert_error(e, call(e, "GET", "/api/v1/tokens", NULL, OPERATOR, NULL), 403, "forbidden");
    assert_error(e,
                 call(e, "POST", "/api/v1/tokens", NULL, OPERATOR, "{\"name\":\"x\",\"role\":\"operator\"}"),
                 403, "forbidden");
    assert_error(e, call(e, "DELETE", "/api/v1/tokens/viewer", NULL, OPERATOR, NULL), 403, "forbidden");
    /* admin: tokens; a new token works with its role, and stops working once deleted */
    before = snapshot(e);
    assert_int_equal(
        call(e, "POST", "/api/v1/tokens", NULL, ADMIN, "{\"name\":\"ci-bot\",\"role\":\"read_only\"}"), 201);
    assert_int_equal(snapshot(e).tokens, before.tokens + 1);
    const char *secret_value = json_string_value(json_object_get(e->json, "token"));
    assert_non_null(secret_value);
    assert_int_equal(strlen(secret_value), 64);
    char secret[65];
    snprintf(secret, sizeof(secret), "%s", secret_value);
    assert_string_equal(json_string_value(json_object_get(e->json, "role")), "read_only");
    assert_int_equal(call(e, "GET", "/api/v1/status", NULL, secret, NULL), 200);
    assert_string_equal(json_string_value(json_object_get(json_object_get(e->json, "token"), "name")),
                        "ci-bot");
    assert_error(e, call(e, "POST", "/api/v1/devices", NULL, secret, body), 403, "forbidden");
    /* listed without secrets; config tokens too */
    assert_int_equal(call(e, "GET", "/api/v1/tokens", NULL, ADMIN, NULL), 200);
    json_t *list = json_object_get(e->json, "tokens");
    assert_int_equal(json_array_size(list), 4);
    size_t i;
    json_t *t;
    json_array_foreach(list, i, t)
    {
        assert_null(json_object_get(t, "token"));
        assert_null(json_object_get(t, "secretSha256"));
    }
    assert_error(e,
                 call(e, "POST", "/api/v1/tokens", NULL, ADMIN, "{\"name\":\"ci-bot\",\"role\":\"admin\"}"),
                 409, "token_exists");
    assert_error(e, call(e, "POST", "/api/v1/tokens", NULL, ADMIN, "{\"name\":\"root\",\"role\":\"admin\"}"),
                 409, "token_exists");
    assert_error(e, call(e, "POST", "/api/v1/tokens", NULL, ADMIN, "{\"name\":\"a b\",\"role\":\"admin\"}"),
                 400, "invalid_field");
    assert_error(e, call(e, "POST", "/api/v1/tokens", NULL, ADMIN, "{\"name\":\"esipa\",\"role\":\"admin\"}"),
                 400, "invalid_field");
    assert_error(e, call(e, "POST", "/api/v1/tokens", NULL, ADMIN, "{\"name\":\"x\",\"role\":\"root\"}"), 400,
                 "invalid_field");
    assert_error(e, call(e, "POST", "/api/v1/tokens", NULL, ADMIN, "{\"name\":\"x\"}"), 400, "missing_field");
    assert_error(e, call(e, "DELETE", "/api/v1/tokens/root", NULL, ADMIN, NULL), 409, "token_in_config");
    assert_error(e, call(e, "DELETE", "/api/v1/tokens/nobody", NULL, ADMIN, NULL), 404, "token_not_found");
    assert_int_equal(call(e, "DELETE", "/api/v1/tokens/ci-bot", NULL, ADMIN, NULL), 200);
    assert_error(e, call(e, "GET", "/api/v1/status", NULL, secret, NULL), 401, "unauthorized");
    /* token mutations are audited with the admin as actor */
    assert_int_equal(call(e, "GET", "/api/v1/events", NULL, ADMIN, NULL), 200);
    bool created = false, deleted = false;
    json_array_foreach(json_object_get(e->json, "events"), i, t)
    {
        const char *action = json_string_value(json_object_get(t, "action"));
        const char *actor = json_string_value(json_object_get(t, "actor"));
        created = created || (strcmp(action, "token.create") == 0 && strcmp(actor, "root") == 0);
        deleted = deleted || (strcmp(action, "token.delete") == 0 && strcmp(actor, "root") == 0);
    }
    assert_true(created && deleted);
}

/* ------------------------------------------------------------------ devices */

static char *base64_of_file(const char *path)
{
    sgp32_buf der;
    assert_int_equal(test_read_file(path, &der), SGP32_OK);
    char *text = malloc(sgp32_base64_encoded_len(der.len) + 1);
    assert_non_null(text);
    sgp32_base64_encode(der.data, der.len, text);
    sgp32_buf_free(&der);
    return text;
}

static void devices(void **state)
{
    env *e = *state;
    char *euicc = base64_of_file(SGP32_SPEC_DIR "/sgp26/eUICC/CERT_EUICC_ECDSA_NIST.der");
    char *eum = base64_of_file(SGP32_SPEC_DIR "/sgp26/EUM/CERT_EUM_ECDSA_NIST.der");
    size_t n = strlen(euicc) + strlen(eum) + 512;
    char *body = malloc(n);
    assert_non_null(body);
    counts before = snapshot(e);
    /* a certificate with one bit changed: 422, nothing stored */
    char *bad = strdup(euicc);
    bad[strlen(bad) - 10] = bad[strlen(bad) - 10] == 'A' ? 'B' : 'A';
    snprintf(body, n, "{\"eid\":\"%s\",\"euiccCertificate\":\"%s\",\"eumCertificate\":\"%s\"}",
             EUICC_FIXTURE_EID, bad, eum);
    assert_error(e, call(e, "POST", "/api/v1/devices", NULL, OPERATOR, body), 422, "certificate_invalid");
    /* the right certificates for another EID: 422 */
    char other[SGP32_EIM_EID_DIGITS + 1];
    make_eid(77, other);
    snprintf(body, n, "{\"eid\":\"%s\",\"euiccCertificate\":\"%s\",\"eumCertificate\":\"%s\"}", other, euicc,
             eum);
    assert_error(e, call(e, "POST", "/api/v1/devices", NULL, OPERATOR, body), 422, "certificate_invalid");
    snprintf(body, n, "{\"eid\":\"%s\",\"euiccCertificate\":\"%s\"}", EUICC_FIXTURE_EID, euicc);
    assert_error(e, call(e, "POST", "/api/v1/devices", NULL, OPERATOR, body), 400, "missing_field");
    snprintf(body, n, "{\"eid\":\"%s\",\"euiccCertificate\":\"not base64!\",\"eumCertificate\":\"%s\"}",
             EUICC_FIXTURE_EID, eum);
    assert_error(e, call(e, "POST", "/api/v1/devices", NULL, OPERATOR, body), 400, "invalid_field");
    assert_same(before, snapshot(e));
    /* the SGP.26 eUICC with its chain */
    snprintf(body, n,
             "{\"eid\":\"%s\",\"label\":\"lab card\",\"euiccCertificate\":\"%s\",\"eumCertificate\":\"%s\","
             "\"associationToken\":7,\"counterValue\":3}",
             EUICC_FIXTURE_EID, euicc, eum);
    assert_int_equal(call(e, "POST", "/api/v1/devices", NULL, OPERATOR, body), 201);
    assert_true(json_is_true(json_object_get(e->json, "hasCertificate")));
    assert_error(e, call(e, "POST", "/api/v1/devices", NULL, OPERATOR, body), 409, "device_exists");
    assert_int_equal(call(e, "GET", "/api/v1/devices/" EUICC_FIXTURE_EID, NULL, VIEWER, NULL), 200);
    assert_string_equal(json_string_value(json_object_get(e->json, "label")), "lab card");
    assert_string_equal(json_string_value(json_object_get(e->json, "state")), "registered");
    assert_int_equal(json_integer_value(json_object_get(e->json, "counterValue")), 3);
    assert_int_equal(json_integer_value(json_object_get(e->json, "associationToken")), 7);
    assert_true(json_is_true(json_object_get(e->json, "associated")));
    assert_true(json_is_null(json_object_get(e->json, "lastSeen")));
    assert_true(json_is_null(json_object_get(e->json, "rplmn")));
    assert_true(json_is_null(json_object_get(e->json, "stateChangeCause")));
    assert_int_equal(json_integer_value(json_object_get(e->json, "registered")), fixed_now());
    assert_int_equal(call(e, "GET", "/api/v1/devices/" EUICC_FIXTURE_EID "/profiles", NULL, VIEWER, NULL),
                     200);
    assert_int_equal(json_array_size(json_object_get(e->json, "profiles")), 0);
    assert_int_equal(
        call(e, "GET", "/api/v1/devices/" EUICC_FIXTURE_EID "/eim-configuration", NULL, VIEWER, NULL), 200);
    const char *cfg = json_string_value(json_object_get(e->json, "eimConfigurationData"));
    const char *add = json_string_value(json_object_get(e->json, "addInitialEim"));
    assert_non_null(cfg);
    assert_non_null(add);
    sgp32_buf der;
    sgp32_buf_init(&der, 8192);
    assert_int_equal(sgp32_base64_decode(cfg, strlen(cfg), &der), SGP32_OK);
    assert_int_equal(der.data[0], 0x30);
    sgp32_buf_reset(&der);
    assert_int_equal(sgp32_base64_decode(add, strlen(add), &der), SGP32_OK);
    assert_int_equal(der.data[0], 0xBF);
    assert_int_equal(der.data[1], 0x57);
    sgp32_buf_free(&der);
    assert_error(
        e, call(e, "GET", "/api/v1/devices/89049032000000000000000000000000/profiles", NULL, VIEWER, NULL),
        400, "invalid_parameter");
    /* bodies */
    before = snapshot(e);
    assert_error(e, call(e, "POST", "/api/v1/devices", NULL, OPERATOR, "{\"eid\":\"1234\"}"), 400,
                 "invalid_field");
    assert_error(e, call(e, "POST", "/api/v1/devices", NULL, OPERATOR, "{\"eid\":89049032}"), 400,
                 "invalid_field");
    assert_error(e, call(e, "POST", "/api/v1/devices", NULL, OPERATOR, "{\"label\":\"x\"}"), 400,
                 "missing_field");
    snprintf(body, n, "{\"eid\":\"%s\",\"colour\":\"red\"}", other);
    assert_error(e, call(e, "POST", "/api/v1/devices", NULL, OPERATOR, body), 400, "unknown_field");
    assert_non_null(strstr(error_message(e), "colour"));
    snprintf(body, n, "{\"eid\":\"%s\",\"counterValue\":-1}", other);
    assert_error(e, call(e, "POST", "/api/v1/devices", NULL, OPERATOR, body), 400, "invalid_field");
    snprintf(body, n, "{\"eid\":\"%s\",\"counterValue\":1.5}", other);
    assert_error(e, call(e, "POST", "/api/v1/devices", NULL, OPERATOR, body), 400, "invalid_field");
    snprintf(body, n, "{\"eid\":\"%s\",\"label\":\"%070d\"}", other, 0);
    assert_error(e, call(e, "POST", "/api/v1/devices", NULL, OPERATOR, body), 400, "invalid_field");
    snprintf(body, n, "{\"eid\":\"%s\",\"eid\":\"%s\"}", other, other);
    assert_error(e, call(e, "POST", "/api/v1/devices", NULL, OPERATOR, body), 400, "bad_json");
    assert_same(before, snapshot(e));
    free(bad);
    free(body);
    free(euicc);
    free(eum);
}

static void device_import_is_all_or_nothing(void **state)
{
    env *e = *state;
    char a[33], b[33], c3[33], body[512];
    make_eid(101, a);
    make_eid(102, b);
    make_eid(103, c3);
    counts before = snapshot(e);
    snprintf(body, sizeof(body), "{\"devices\":[{\"eid\":\"%s\"},{\"eid\":\"%s\"},{\"eid\":\"%s\"}]}", a, b,
             a);
    assert_error(e, call(e, "POST", "/api/v1/devices/import", NULL, OPERATOR, body), 400, "invalid_field");
    assert_non_null(strstr(error_message(e), "devices[2].eid"));
    snprintf(body, sizeof(body),
             "{\"devices\":[{\"eid\":\"%s\"},{\"eid\":\"%s\"},{\"eid\":\"%s\",\"label\":5}]}", a, b, c3);
    assert_error(e, call(e, "POST", "/api/v1/devices/import", NULL, OPERATOR, body), 400, "invalid_field");
    assert_non_null(strstr(error_message(e), "devices[2].label"));
    assert_error(e, call(e, "POST", "/api/v1/devices/import", NULL, OPERATOR, "{\"devices\":[]}"), 400,
                 "invalid_field");
    assert_error(e, call(e, "POST", "/api/v1/devices/import", NULL, OPERATOR, "{\"devices\":{}}"), 400,
                 "invalid_field");
    assert_error(e, call(e, "POST", "/api/v1/devices/import", NULL, OPERATOR, "{\"devices\":[1]}"), 400,
                 "invalid_field");
    assert_error(e, call(e, "POST", "/api/v1/devices/import", NULL, OPERATOR, "{}"), 400, "missing_field");
    assert_same(before, snapshot(e));
    register_device(e, c3);
    before = snapshot(e);
    snprintf(body, sizeof(body), "{\"devices\":[{\"eid\":\"%s\"},{\"eid\":\"%s\"},{\"eid\":\"%s\"}]}", a, b,
             c3);
    assert_error(e, call(e, "POST", "/api/v1/devices/import", NULL, OPERATOR, body), 409, "device_exists");
    assert_same(before, snapshot(e));
    snprintf(body, sizeof(body), "{\"devices\":[{\"eid\":\"%s\",\"label\":\"a\"},{\"eid\":\"%s\"}]}", a, b);
    assert_int_equal(call(e, "POST", "/api/v1/devices/import", NULL, OPERATOR, body), 201);
    assert_int_equal(json_integer_value(json_object_get(e->json, "imported")), 2);
    counts after = snapshot(e);
    assert_int_equal(after.devices, before.devices + 2);
    assert_int_equal(after.events, before.events + 2);
}

/* pushAddress: optional at registration and import, shown, changed or cleared by its own POST. */
static void push_addresses(void **state)
{
    env *e = *state;
    char a[33], b[33], c3[33], body[512], path[128];
    make_eid(201, a);
    make_eid(202, b);
    make_eid(203, c3);
    snprintf(body, sizeof(body), "{\"eid\":\"%s\",\"pushAddress\":\"device-1.example.com:9443\"}", a);
    assert_int_equal(call(e, "POST", "/api/v1/devices", NULL, OPERATOR, body), 201);
    assert_string_equal(json_string_value(json_object_get(e->json, "pushAddress")),
                        "device-1.example.com:9443");
    snprintf(body, sizeof(body),
             "{\"devices\":[{\"eid\":\"%s\",\"pushAddress\":\"[2001:db8::1]:9443\"},{\"eid\":\"%s\"}]}", b,
             c3);
    assert_int_equal(call(e, "POST", "/api/v1/devices/import", NULL, OPERATOR, body), 201);
    snprintf(path, sizeof(path), "/api/v1/devices/%s", b);
    assert_int_equal(call(e, "GET", path, NULL, VIEWER, NULL), 200);
    assert_string_equal(json_string_value(json_object_get(e->json, "pushAddress")), "[2001:db8::1]:9443");
    snprintf(path, sizeof(path), "/api/v1/devices/%s", c3);
    assert_int_equal(call(e, "GET", path, NULL, VIEWER, NULL), 200);
    assert_true(json_is_null(json_object_get(e->json, "pushAddress")));

    /* malformed addresses: 400, nothing stored */
    static const char *const bad[] = {"https://x.example.com",
                                      "x.example.com/path",
                                      "x:0",
                                      "x:65536",
                                      "x:",
                                      ":9443",
                                      "user@x",
                                      "[::1",
                                      "x y",
                                      "-x.example.com",
                                      "x:12a"};
    counts before = snapshot(e);
    char d[33];
    make_eid(204, d);
    for (size_t i = 0; i < SGP32_ARRAY_LEN(bad); i++) {
        snprintf(body, sizeof(body), "{\"eid\":\"%s\",\"pushAddress\":\"%s\"}", d, bad[i]);
        assert_error(e, call(e, "POST", "/api/v1/devices", NULL, OPERATOR, body), 400, "invalid_field");
        assert_non_null(strstr(error_message(e), "pushAddress"));
        snprintf(body, sizeof(body), "{\"pushAddress\":\"%s\"}", bad[i]);
        snprintf(path, sizeof(path), "/api/v1/devices/%s/push-address", a);
        assert_error(e, call(e, "POST", path, NULL, OPERATOR, body), 400, "invalid_field");
    }
    snprintf(path, sizeof(path), "/api/v1/devices/%s/push-address", a);
    assert_error(e, call(e, "POST", path, NULL, OPERATOR, "{}"), 400, "missing_field");
    assert_error(e, call(e, "POST", path, NULL, OPERATOR, "{\"pushAddress\":9443}"), 400, "invalid_field");
    assert_error(e, call(e, "POST", path, NULL, OPERATOR, "{\"pushAddress\":\"\",\"x\":1}"), 400,
                 "unknown_field");
    assert_error(e, call(e, "POST", path, NULL, VIEWER, "{\"pushAddress\":\"\"}"), 403, "forbidden");
    assert_error(e, call(e, "GET", path, NULL, OPERATOR, NULL), 405, "method_not_allowed");
    snprintf(path, sizeof(path), "/api/v1/devices/%s/push-address", d);
    assert_error(e, call(e, "POST", path, NULL, OPERATOR, "{\"pushAddress\":\"\"}"), 404, "device_not_found");
    assert_same(before, snapshot(e));

    /* change, then clear */
    snprintf(path, sizeof(path), "/api/v1/devices/%s/push-address", a);
    assert_int_equal(call(e, "POST", path, NULL, OPERATOR, "{\"pushAddress\":\"192.0.2.7\"}"), 200);
    assert_string_equal(json_string_value(json_object_get(e->json, "pushAddress")), "192.0.2.7");
    assert_int_equal(snapshot(e).events, before.events + 1);
    assert_int_equal(call(e, "POST", path, NULL, OPERATOR, "{\"pushAddress\":\"\"}"), 200);
    assert_true(json_is_null(json_object_get(e->json, "pushAddress")));
    snprintf(path, sizeof(path), "/api/v1/devices/%s", a);
    assert_int_equal(call(e, "GET", path, NULL, VIEWER, NULL), 200);
    assert_true(json_is_null(json_object_get(e->json, "pushAddress")));
    assert_int_equal(call(e, "GET", "/api/v1/events", "limit=1000", VIEWER, NULL), 200);
    size_t i, changes = 0;
    json_t *t;
    json_array_foreach(json_object_get(e->json, "events"), i, t)
    {
        if (strcmp(json_string_value(json_object_get(t, "action")), "device.push_address") == 0 &&
            strcmp(json_string_value(json_object_get(t, "actor")), "ops") == 0)
            changes++;
    }
    assert_int_equal(changes, 2);
}

static void device_pagination(void **state)
{
    env *e = *state;
    char eid[33];
    for (unsigned long i = 0; i < 7; i++) {
        make_eid(200 + i, eid);
        register_device(e, eid);
    }
    char query[96] = "limit=3";
    size_t seen = 0;
    char last[33] = "";
    while (true) {
        assert_int_equal(call(e, "GET", "/api/v1/devices", query, VIEWER, NULL), 200);
        size_t i;
        json_t *d;
        json_array_foreach(json_object_get(e->json, "devices"), i, d)
        {
            const char *x = json_string_value(json_object_get(d, "eid"));
            assert_true(strcmp(x, last) > 0); /* ascending, no repeats */
            snprintf(last, sizeof(last), "%s", x);
            seen++;
        }
        json_t *next = json_object_get(e->json, "next");
        if (json_is_null(next))
            break;
        assert_true(json_array_size(json_object_get(e->json, "devices")) == 3);
        snprintf(query, sizeof(query), "limit=3&after=%s", json_string_value(next));
    }
    assert_int_equal(seen, 7);
}

/* ------------------------------------------------------------------ operations */

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* {"devices":[{"eid":...},...]} or {"eids":[...],"operation":ENABLE} for n EIDs from serial first. */
static char *bulk_body(size_t first, size_t n, bool devices)
{
    size_t size = n * 48 + 512;
    char *body = malloc(size);
    assert_non_null(body);
    size_t o = (size_t)snprintf(body, size, "{\"%s\":[", devices ? "devices" : "eids");
    for (size_t i = 0; i < n; i++) {
        char eid[33];
        make_eid(first + i, eid);
        o += (size_t)snprintf(body + o, size - o, devices ? "%s{\"eid\":\"%s\"}" : "%s\"%s\"", i ? "," : "",
                              eid);
    }
    snprintf(body + o, size - o, devices ? "]}" : "],\"operation\":" ENABLE "}");
    return body;
}

static void bulk_create_10000(void **state)
{
    env *e = *state;
    enum { N = 10000, FIRST = 100000 };
    char *devices = bulk_body(FIRST, N, true);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(call(e, "POST", "/api/v1/devices/import", NULL, OPERATOR, devices), 201);
    double import_s = seconds_since(&t0);
    assert_int_equal(json_integer_value(json_object_get(e->json, "imported")), N);
    free(devices);

    counts before = snapshot(e);
    char *body = bulk_body(FIRST, N, false);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(
        call_full(e, "POST", "/api/v1/operations", NULL, OPERATOR, "bulk-10k", body, strlen(body)), 201);
    double create_s = seconds_since(&t0);
    json_t *ops = json_object_get(e->json, "operations");
    assert_int_equal(json_array_size(ops), N);
    int64_t first_id = json_integer_value(json_object_get(json_array_get(ops, 0), "id"));
    char eid0[33];
    make_eid(FIRST, eid0);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ops, 0), "eid")), eid0);
    counts after = snapshot(e);
    assert_int_equal(after.operations, before.operations + N);
    assert_int_equal(after.events, before.events + N); /* one operation.create each */
    /* the replay of the whole batch creates nothing */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(
        call_full(e, "POST", "/api/v1/operations", NULL, OPERATOR, "bulk-10k", body, strlen(body)), 200);
    double replay_s = seconds_since(&t0);
    assert_true(json_is_true(json_object_get(e->json, "replayed")));
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(json_object_get(e->json, "operations"), 0), "id")),
        first_id);
    assert_same(after, snapshot(e));
    print_message("bulk: import %d devices %.3f s, create %d operations %.3f s, replay %.3f s\n", N, import_s,
                  N, create_s, replay_s);
    assert_true(create_s < 3.0);
    free(body);

    /* status counts them; the list pages through all of them by state */
    assert_int_equal(call(e, "GET", "/api/v1/status", NULL, VIEWER, NULL), 200);
    assert_true(json_integer_value(json_object_get(json_object_get(e->json, "operations"), "queued")) >= N);
    char query[96];
    snprintf(query, sizeof(query), "state=queued&limit=1000&after=%lld", (long long)(first_id - 1));
    size_t seen = 0;
    int64_t last = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (true) {
        assert_int_equal(call(e, "GET", "/api/v1/operations", query, VIEWER, NULL), 200);
        size_t i;
        json_t *op;
        json_array_foreach(json_object_get(e->json, "operations"), i, op)
        {
            int64_t id = json_integer_value(json_object_get(op, "id"));
            assert_true(id > last);
            last = id;
            assert_string_equal(json_string_value(json_object_get(op, "state")), "queued");
            assert_string_equal(json_string_value(json_object_get(op, "kind")), "psmo");
            seen++;
        }
        json_t *next = json_object_get(e->json, "next");
        if (json_is_null(next))
            break;
        snprintf(query, sizeof(query), "state=queued&limit=1000&after=%lld",
                 (long long)json_integer_value(next));
    }
    print_message("bulk: listed %zu operations in pages of 1000 in %.3f s\n", seen, seconds_since(&t0));
    assert_int_equal(seen, N);
}

static void rejected_bodies_store_nothing(void **state)
{
    env *e = *state;
    char a[33], b[33], unknown[33], body[1024];
    make_eid(300, a);
    make_eid(301, b);
    make_eid(399, unknown);
    register_device(e, a);
    register_device(e, b);
    counts before = snapshot(e);
    static const struct {
        const char *body;
        int status;
        const char *code, *mention;
    } cases[] = {
        {"{\"eid\":", 400, "bad_json", "line 1"},
        {"{\"eid\":\"x\"} trailing", 400, "bad_json", "column"},
        {"", 400, "bad_json", "empty"},
        {"[]", 400, "invalid_body", "object"},
        {"\"text\"", 400, "bad_json", NULL}, /* jansson: not an array or object */
        {"{\"eid\":\"A\",\"eid\":\"B\",\"operation\":{}}", 400, "bad_json", "duplicate"},
        {"{\"eids\":\"%A\",\"operation\":" ENABLE "}", 400, "invalid_field", "eids"},
        {"{\"eids\":[],\"operation\":" ENABLE "}", 400, "invalid_field", "eids"},
        {"{\"eids\":[\"%A\",7],\"operation\":" ENABLE "}", 400, "invalid_field", "eids[1]"},
        {"{\"eids\":[\"%A\",\"%B\",\"%A\"],\"operation\":" ENABLE "}", 400, "invalid_field", "eids[2]"},
        {"{\"eid\":\"%A\",\"eids\":[\"%B\"],\"operation\":" ENABLE "}", 400, "invalid_field", "eid"},
        {"{\"operation\":" ENABLE "}", 400, "missing_field", "eid"},
        {"{\"eid\":\"%A\"}", 400, "missing_field", "operation"},
        {"{\"eid\":\"%A\",\"operation\":" ENABLE ",\"priority\":1}", 400, "unknown_field", "priority"},
        {"{\"eid\":\"%A\",\"operation\":" ENABLE ",\"expiresIn\":\"1h\"}", 400, "invalid_field", "expiresIn"},
        {"{\"eid\":\"%A\",\"operation\":" ENABLE ",\"expiresIn\":0}", 400, "invalid_field", "expiresIn"},
        {"{\"eid\":\"%A\",\"operation\":{\"psmo\":[{\"enable\":{\"iccid\":5}}]}}", 400, "invalid_field",
         "operation.psmo[0].enable.iccid"},
        {"{\"eid\":\"%A\",\"operation\":{\"psmo\":[{\"enable\":{\"iccid\":\"" ICCID "\",\"x\":1}}]}}", 400,
         "unknown_field", "operation.psmo[0].enable"},
        {"{\"eid\":\"%A\",\"operation\":{\"psmo\":[]}}", 400, "invalid_field", "operation.psmo"},
        {"{\"eid\":\"%A\",\"operation\":{\"reboot\":{}}}", 400, NULL, "operation"},
        {"{\"eid\":\"%A\",\"operation\":[]}", 400, "invalid_field", "operation"},
        {"{\"eid\":\"%A\",\"operation\":" ENABLE ",\"operation\":" ENABLE "}", 400, "bad_json", "duplicate"},
        {"{\"eid\":\"89049032123451234512345678901234\",\"operation\":" ENABLE "}", 400, "invalid_field",
         "check digits"},
        {"{\"eids\":[\"%A\",\"%B\",\"%U\"],\"operation\":" ENABLE "}", 404, "device_not_found", "eids[2]"},
        {"{\"eid\":\"%U\",\"operation\":" ENABLE "}", 404, "device_not_found", "eid"},
    };
    for (size_t i = 0; i < SGP32_ARRAY_LEN(cases); i++) {
        /* %A %B %U: the two registered EIDs and an unknown one */
        size_t o = 0;
        for (const char *s = cases[i].body; *s && o < sizeof(body) - 40; s++) {
            if (*s == '%' && (s[1] == 'A' || s[1] == 'B' || s[1] == 'U')) {
                const char *eid = s[1] == 'A' ? a : s[1] == 'B' ? b : unknown;
                memcpy(body + o, eid, 32);
                o += 32;
                s++;
            } else {
                body[o++] = *s;
            }
        }
        body[o] = 0;
        int status = call(e, "POST", "/api/v1/operations", NULL, OPERATOR, body);
        const char *code = error_code(e), *msg = error_message(e);
        if (status != cases[i].status || (cases[i].code && strcmp(code, cases[i].code) != 0) ||
            (cases[i].mention && !strstr(msg, cases[i].mention)))
            fail_msg("case %zu %s: got %d %s", i, body, status, (const char *)e->resp.body.data);
        assert_same(before, snapshot(e));
    }
    /* the same strictness on the other POST routes */
    assert_error(e, call(e, "POST", "/api/v1/devices", NULL, OPERATOR, "{\"eid\":[}"), 400, "bad_json");
    assert_error(e, call(e, "POST", "/api/v1/devices/import", NULL, OPERATOR, "nope"), 400, "bad_json");
    assert_error(
        e, call(e, "POST", "/api/v1/tokens", NULL, ADMIN, "{\"name\":\"n\",\"role\":\"admin\",\"x\":1}"), 400,
        "unknown_field");
    assert_error(e, call(e, "POST", "/api/v1/tokens", NULL, ADMIN, "{\"name\":1,\"role\":\"admin\"}"), 400,
                 "invalid_field");
    assert_error(
        e,
        call(e, "POST", "/api/v1/tokens", NULL, ADMIN, "{\"name\":\"n\",\"name\":\"m\",\"role\":\"admin\"}"),
        400, "bad_json");
    /* not UTF-8, NUL inside */
    assert_error(e, call_full(e, "POST", "/api/v1/tokens", NULL, ADMIN, NULL, "{\"name\":\"\xff\"}", 12), 400,
                 "bad_json");
    assert_error(e, call_full(e, "POST", "/api/v1/tokens", NULL, ADMIN, NULL, "{\"name\":\"a\0b\"}", 13), 400,
                 "bad_json");
    /* oversized: refused before parsing */
    size_t big = SGP32_EIM_REST_BODY_MAX + 1;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, ' ', big);
    huge[0] = '{';
    huge[big - 1] = '}';
    assert_error(e, call_full(e, "POST", "/api/v1/operations", NULL, OPERATOR, NULL, huge, big), 413,
                 "body_too_large");
    assert_error(e, call_full(e, "POST", "/api/v1/devices/import", NULL, OPERATOR, NULL, huge, big), 413,
                 "body_too_large");
    free(huge);
    assert_same(before, snapshot(e));
    /* over max_bulk */
    e->rest.max_bulk = 1;
    snprintf(body, sizeof(body), "{\"eids\":[\"%s\",\"%s\"],\"operation\":" ENABLE "}", a, b);
    assert_error(e, call(e, "POST", "/api/v1/operations", NULL, OPERATOR, body), 400, "invalid_field");
    e->rest.max_bulk = 0;
    assert_same(before, snapshot(e));
}

static void idempotency_replay_and_reuse(void **state)
{
    env *e = *state;
    char a[33], b[33], c3[33], body[512], other[512];
    make_eid(400, a);
    make_eid(401, b);
    make_eid(402, c3);
    register_device(e, a);
    register_device(e, b);
    register_device(e, c3);
    snprintf(body, sizeof(body), "{\"eids\":[\"%s\",\"%s\"],\"operation\":" ENABLE ",\"expiresIn\":3600}", a,
             b);
    assert_int_equal(call_full(e, "POST", "/api/v1/operations", NULL, OPERATOR, "key-1", body, strlen(body)),
                     201);
    assert_null(json_object_get(e->json, "replayed"));
    json_t *first = json_deep_copy(json_object_get(e->json, "operations"));
    counts before = snapshot(e);
    /* the repeat: same operations, nothing new */
    assert_int_equal(call_full(e, "POST", "/api/v1/operations", NULL, OPERATOR, "key-1", body, strlen(body)),
                     200);
    assert_true(json_is_true(json_object_get(e->json, "replayed")));
    assert_true(json_equal(first, json_object_get(e->json, "operations")));
    assert_same(before, snapshot(e));
    /* the same key with another operation, or other EIDs: 422, nothing new */
    snprintf(other, sizeof(other), "{\"eids\":[\"%s\",\"%s\"],\"operation\":{\"psmo\":[{\"getRAT\":{}}]}}", a,
             b);
    assert_error(e, call_full(e, "POST", "/api/v1/operations", NULL, OPERATOR, "key-1", other, strlen(other)),
                 422, "idempotency_key_reused");
    snprintf(other, sizeof(other), "{\"eids\":[\"%s\",\"%s\"],\"operation\":" ENABLE "}", a, c3);
    assert_error(e, call_full(e, "POST", "/api/v1/operations", NULL, OPERATOR, "key-1", other, strlen(other)),
                 422, "idempotency_key_reused");
    snprintf(other, sizeof(other), "{\"eids\":[\"%s\",\"%s\"],\"operation\":" ENABLE "}", c3, a);
    assert_error(e, call_full(e, "POST", "/api/v1/operations", NULL, OPERATOR, "key-1", other, strlen(other)),
                 422, "idempotency_key_reused");
    assert_same(before, snapshot(e));
    /* keys are per token: another token's same key is a new request */
    assert_int_equal(call_full(e, "POST", "/api/v1/operations", NULL, ADMIN, "key-1", body, strlen(body)),
                     201);
    assert_false(json_equal(first, json_object_get(e->json, "operations")));
    /* a cancelled operation is still replayed, with its state now */
    int64_t id0 = json_integer_value(json_object_get(json_array_get(first, 0), "id"));
    char path[64];
    snprintf(path, sizeof(path), "/api/v1/operations/%lld", (long long)id0);
    assert_int_equal(call(e, "DELETE", path, NULL, OPERATOR, NULL), 200);
    assert_int_equal(call_full(e, "POST", "/api/v1/operations", NULL, OPERATOR, "key-1", body, strlen(body)),
                     200);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(e->json, "operations"), 0), "state")),
                        "cancelled");
    /* the longest key (replaced by its hash in the store) works the same */
    char key[SGP32_EIM_KEY_MAX + 2];
    memset(key, 'k', SGP32_EIM_KEY_MAX);
    key[SGP32_EIM_KEY_MAX] = 0;
    before = snapshot(e);
    assert_int_equal(call_full(e, "POST", "/api/v1/operations", NULL, OPERATOR, key, body, strlen(body)),
                     201);
    assert_int_equal(call_full(e, "POST", "/api/v1/operations", NULL, OPERATOR, key, body, strlen(body)),
                     200);
    assert_int_equal(snapshot(e).operations, before.operations + 2);
    /* bad keys */
    before = snapshot(e);
    key[SGP32_EIM_KEY_MAX] = 'k';
    key[SGP32_EIM_KEY_MAX + 1] = 0;
    assert_error(e, call_full(e, "POST", "/api/v1/operations", NULL, OPERATOR, key, body, strlen(body)), 400,
                 "invalid_header");
    assert_error(e, call_full(e, "POST", "/api/v1/operations", NULL, OPERATOR, "", body, strlen(body)), 400,
                 "invalid_header");
    assert_error(e, call_full(e, "POST", "/api/v1/operations", NULL, OPERATOR, "a key", body, strlen(body)),
                 400, "invalid_header");
    assert_same(before, snapshot(e));
    json_decref(first);
}

static void operation_get_and_cancel(void **state)
{
    env *e = *state;
    char a[33], path[64];
    make_eid(500, a);
    register_device(e, a);
    int64_t id = create_one(e, a);
    snprintf(path, sizeof(path), "/api/v1/operations/%lld", (long long)id);
    assert_int_equal(call(e, "GET", path, NULL, VIEWER, NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(e->json, "id")), id);
    assert_string_equal(json_string_value(json_object_get(e->json, "eid")), a);
    assert_string_equal(json_string_value(json_object_get(e->json, "kind")), "psmo");
    assert_string_equal(json_string_value(json_object_get(e->json, "state")), "queued");
    assert_string_equal(json_string_value(json_object_get(e->json, "createdBy")), "ops");
    json_t *want = json_loads(ENABLE, 0, NULL);
    assert_true(json_equal(want, json_object_get(e->json, "request")));
    json_decref(want);
    char txid[17];
    snprintf(txid, sizeof(txid), "%016llX", (unsigned long long)id);
    assert_string_equal(json_string_value(json_object_get(e->json, "eimTransactionId")), txid);
    assert_int_equal(json_integer_value(json_object_get(e->json, "created")), fixed_now());
    assert_int_equal(json_integer_value(json_object_get(e->json, "expires")), fixed_now() + 30 * 24 * 3600);
    assert_true(json_is_null(json_object_get(e->json, "delivered")));
    assert_true(json_is_null(json_object_get(e->json, "result")));
    assert_true(json_is_null(json_object_get(e->json, "resultDer")));
    assert_int_equal(json_integer_value(json_object_get(e->json, "deliveryCount")), 0);
    /* a delivered one can be cancelled too; a final one cannot */
    const sgp32_eim_store *s = &e->srv.config.store;
    sgp32_eim_operation op;
    sgp32_eim_operation_init(&op);
    assert_int_equal(s->op_get(s->ctx, id, &op), SGP32_OK);
    op.state = SGP32_EIM_OP_DELIVERED;
    op.delivered = fixed_now();
    op.delivery_count = 1;
    assert_int_equal(s->op_update(s->ctx, &op), SGP32_OK);
    sgp32_eim_operation_free(&op);
    counts before = snapshot(e);
    assert_error(e, call(e, "DELETE", path, NULL, VIEWER, NULL), 403, "forbidden");
    assert_int_equal(call(e, "DELETE", path, NULL, OPERATOR, NULL), 200);
    assert_string_equal(json_string_value(json_object_get(e->json, "state")), "cancelled");
    assert_int_equal(json_integer_value(json_object_get(e->json, "completed")), fixed_now());
    assert_int_equal(snapshot(e).events, before.events + 1);
    before = snapshot(e);
    assert_error(e, call(e, "DELETE", path, NULL, OPERATOR, NULL), 409, "operation_final");
    assert_error(e, call(e, "DELETE", "/api/v1/operations/987654321", NULL, OPERATOR, NULL), 404,
                 "operation_not_found");
    assert_error(e, call(e, "DELETE", "/api/v1/operations/x1", NULL, OPERATOR, NULL), 400,
                 "invalid_parameter");
    assert_same(before, snapshot(e));
    assert_int_equal(call(e, "GET", path, NULL, VIEWER, NULL), 200);
    assert_string_equal(json_string_value(json_object_get(e->json, "state")), "cancelled");
    /* filters: by EID, by state */
    char query[96];
    snprintf(query, sizeof(query), "eid=%s", a);
    assert_int_equal(call(e, "GET", "/api/v1/operations", query, VIEWER, NULL), 200);
    assert_int_equal(json_array_size(json_object_get(e->json, "operations")), 1);
    snprintf(query, sizeof(query), "eid=%s&state=queued", a);
    assert_int_equal(call(e, "GET", "/api/v1/operations", query, VIEWER, NULL), 200);
    assert_int_equal(json_array_size(json_object_get(e->json, "operations")), 0);
    assert_true(json_is_null(json_object_get(e->json, "next")));
    /* expiresIn */
    char body[256];
    snprintf(body, sizeof(body),
             "{\"eid\":\"%s\",\"operation\":{\"ipaEuiccData\":{\"tags\":[\"euiccInfo2\"]}},"
             "\"expiresIn\":60}",
             a);
    assert_int_equal(call(e, "POST", "/api/v1/operations", NULL, OPERATOR, body), 201);
    id = json_integer_value(json_object_get(json_array_get(json_object_get(e->json, "operations"), 0), "id"));
    snprintf(path, sizeof(path), "/api/v1/operations/%lld", (long long)id);
    assert_int_equal(call(e, "GET", path, NULL, VIEWER, NULL), 200);
    assert_string_equal(json_string_value(json_object_get(e->json, "kind")), "ipaEuiccData");
    assert_int_equal(json_integer_value(json_object_get(e->json, "expires")), fixed_now() + 60);
}

static void audit_events(void **state)
{
    env *e = *state;
    char a[33], query[128];
    make_eid(600, a);
    register_device(e, a);
    int64_t id = create_one(e, a);
    char path[64];
    snprintf(path, sizeof(path), "/api/v1/operations/%lld", (long long)id);
    assert_int_equal(call(e, "DELETE", path, NULL, ADMIN, NULL), 200);
    snprintf(query, sizeof(query), "eid=%s", a);
    assert_int_equal(call(e, "GET", "/api/v1/events", query, VIEWER, NULL), 200);
    json_t *events = json_object_get(e->json, "events");
    assert_int_equal(json_array_size(events), 3);
    static const char *const actions[] = {"device.register", "operation.create", "operation.cancel"};
    static const char *const actors[] = {"ops", "ops", "root"};
    int64_t last = 0;
    for (size_t i = 0; i < 3; i++) {
        json_t *ev = json_array_get(events, i);
        assert_string_equal(json_string_value(json_object_get(ev, "action")), actions[i]);
        assert_string_equal(json_string_value(json_object_get(ev, "actor")), actors[i]);
        assert_string_equal(json_string_value(json_object_get(ev, "eid")), a);
        assert_int_equal(json_integer_value(json_object_get(ev, "time")), fixed_now());
        assert_true(json_integer_value(json_object_get(ev, "id")) > last);
        last = json_integer_value(json_object_get(ev, "id"));
        if (i)
            assert_int_equal(json_integer_value(json_object_get(ev, "operationId")), id);
    }
    /* keyset: two pages */
    snprintf(query, sizeof(query), "eid=%s&limit=2", a);
    assert_int_equal(call(e, "GET", "/api/v1/events", query, VIEWER, NULL), 200);
    assert_int_equal(json_array_size(json_object_get(e->json, "events")), 2);
    json_int_t next = json_integer_value(json_object_get(e->json, "next"));
    snprintf(query, sizeof(query), "eid=%s&limit=2&after=%lld", a, (long long)next);
    assert_int_equal(call(e, "GET", "/api/v1/events", query, VIEWER, NULL), 200);
    assert_int_equal(json_array_size(json_object_get(e->json, "events")), 1);
    assert_true(json_is_null(json_object_get(e->json, "next")));
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(e->json, "events"), 0), "action")),
        "operation.cancel");
}

/* Every allocation of the library (sgp32_alloc) failing in turn: a clean 500 (and the error returned)
 * or the normal answer, nothing stored unless the answer says so, nothing leaked. */
static void allocation_failures(void **state)
{
    env *e = *state;
    char a[33], b[33], c3[33], ops[512], devices[256];
    make_eid(700, a);
    make_eid(701, b);
    make_eid(702, c3);
    register_device(e, a);
    register_device(e, b);
    snprintf(ops, sizeof(ops), "{\"eids\":[\"%s\",\"%s\"],\"operation\":" ENABLE "}", a, b);
    snprintf(devices, sizeof(devices), "{\"devices\":[{\"eid\":\"%s\"}]}", c3);
    static const struct {
        const char *method, *path;
        int ok_status;
    } requests[] = {
        {"POST", "/api/v1/operations", 201},
        {"GET", "/api/v1/operations", 200},
        {"GET", "/api/v1/operations/1", 200},
        {"DELETE", "/api/v1/operations/1", 200},
        {"POST", "/api/v1/devices/import", 201},
        {"GET", "/api/v1/events", 200},
        {"GET", "/api/v1/devices/" EUICC_FIXTURE_EID, 404},
    };
    for (size_t r = 0; r < SGP32_ARRAY_LEN(requests); r++) {
        const char *body = strcmp(requests[r].path, "/api/v1/operations") == 0 ? ops : devices;
        if (strcmp(requests[r].method, "POST") != 0)
            body = NULL;
        for (size_t k = 1;; k++) {
            counts before = snapshot(e);
            char auth[64] = "Bearer " ADMIN;
            sgp32_eim_rest_request req = {requests[r].method,     requests[r].path, NULL, auth, NULL, body,
                                          body ? strlen(body) : 0};
            sgp32_eim_rest_response_free(&e->resp); /* its buffer grows under the hooks */
            test_alloc_begin(k);
            sgp32_eim_rest_response_init(&e->resp);
            int rc = sgp32_eim_rest_handle(&e->srv, &e->rest, &req, &e->resp);
            int status = e->resp.status;
            sgp32_eim_rest_response_free(&e->resp);
            e->resp.status = status;
            size_t used = test_alloc_count();
            size_t live = test_alloc_live_bytes();
            test_alloc_end();
            sgp32_eim_rest_response_init(&e->resp);
            e->resp.status = status;
            if (live)
                fail_msg("%s %s, allocation %zu failing: %zu bytes leaked", requests[r].method,
                         requests[r].path, k, live);
            counts after = snapshot(e);
            if (rc == SGP32_OK) {
                assert_true(e->resp.status < 500);
            } else {
                assert_true(rc < 0);
                assert_int_equal(e->resp.status, 500);
                assert_same(before, after);
            }
            if (e->resp.status == 201) {
                /* the import of c3 succeeded: later rounds meet it as existing */
                assert_true(after.operations > before.operations || after.devices > before.devices);
            }
            if (strcmp(requests[r].method, "GET") == 0)
                assert_same(before, after);
            if (k > used) { /* no allocation failed: the normal answer */
                print_message("%s %s: %zu allocations failed in turn\n", requests[r].method, requests[r].path,
                              used);
                assert_int_equal(rc, SGP32_OK);
                if (!(strcmp(requests[r].path, "/api/v1/devices/import") == 0 && e->resp.status == 409) &&
                    !(strcmp(requests[r].method, "DELETE") == 0 && e->resp.status == 409))
                    assert_int_equal(e->resp.status, requests[r].ok_status);
                break;
            }
        }
    }
}

static void no_arguments(void **state)
{
    env *e = *state;
    sgp32_eim_rest_request req = {.method = "GET", .path = "/api/v1/status"};
    assert_int_equal(sgp32_eim_rest_handle(NULL, &e->rest, &req, &e->resp), SGP32_ERR_INVALID_ARGUMENT);
    assert_int_equal(sgp32_eim_rest_handle(&e->srv, &e->rest, NULL, &e->resp), SGP32_ERR_INVALID_ARGUMENT);
    assert_int_equal(sgp32_eim_rest_handle(&e->srv, &e->rest, &req, NULL), SGP32_ERR_INVALID_ARGUMENT);
    /* no config: no config tokens, every request is 401 */
    req.authorization = "Bearer " ADMIN;
    assert_int_equal(sgp32_eim_rest_handle(&e->srv, NULL, &req, &e->resp), SGP32_OK);
    assert_int_equal(e->resp.status, 401);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(token_required_on_every_route, setup, teardown),
        cmocka_unit_test_setup_teardown(routing_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(roles_are_enforced, setup, teardown),
        cmocka_unit_test_setup_teardown(devices, setup, teardown),
        cmocka_unit_test_setup_teardown(device_import_is_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(push_addresses, setup, teardown),
        cmocka_unit_test_setup_teardown(device_pagination, setup, teardown),
        cmocka_unit_test_setup_teardown(bulk_create_10000, setup, teardown),
        cmocka_unit_test_setup_teardown(rejected_bodies_store_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(idempotency_replay_and_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(operation_get_and_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(audit_events, setup, teardown),
        cmocka_unit_test_setup_teardown(allocation_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(no_arguments, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

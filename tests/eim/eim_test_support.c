/*
 * Test support for the eIM core (eim_test_support.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "eim_test_support.h"
#include "euicc_fixture.h"

int64_t eim_test_now(void)
{
    return 1700000000;
}

void eim_test_server_open(eim_test_server *s, const sgp32_eim_server_config *config)
{
    memset(s, 0, sizeof(*s));
    assert_int_equal(sgp32_eim_sqlite_open(":memory:", &s->db), SGP32_OK);
    sgp32_ci_set_init(&s->cis);
    assert_int_equal(test_read_file(SGP32_SPEC_DIR "/sgp26/CertificateIssuer/CERT_CI_ECDSA_NIST.der", &s->ci),
                     SGP32_OK);
    assert_int_equal(sgp32_ci_set_add(&s->cis, s->ci.data, s->ci.len), SGP32_OK);
    sgp32_eim_server_config c = *config;
    if (!c.store.ctx)
        c.store = sgp32_eim_sqlite_store(s->db);
    if (!c.trusted_cis)
        c.trusted_cis = &s->cis;
    if (!c.now)
        c.now = eim_test_now;
    assert_int_equal(sgp32_eim_server_init(&s->srv, &c), SGP32_OK);
}

void eim_test_server_close(eim_test_server *s)
{
    sgp32_eim_sqlite_close(s->db);
    sgp32_ci_set_free(&s->cis);
    sgp32_buf_free(&s->ci);
}

void eim_test_register(const sgp32_eim_server *srv, const char *eid, bool has_token, int64_t token,
                       bool certificates, const char *push_address)
{
    sgp32_eim_euicc u;
    sgp32_eim_euicc_init(&u);
    snprintf(u.eid, sizeof(u.eid), "%s", eid);
    u.has_token = has_token;
    u.token = token;
    if (push_address)
        snprintf(u.push_address, sizeof(u.push_address), "%s", push_address);
    if (certificates) {
        sgp32_buf_free(&u.euicc_certificate);
        sgp32_buf_free(&u.eum_certificate);
        assert_int_equal(
            test_read_file(SGP32_SPEC_DIR "/sgp26/eUICC/CERT_EUICC_ECDSA_NIST.der", &u.euicc_certificate),
            SGP32_OK);
        assert_int_equal(
            test_read_file(SGP32_SPEC_DIR "/sgp26/EUM/CERT_EUM_ECDSA_NIST.der", &u.eum_certificate),
            SGP32_OK);
    }
    assert_int_equal(sgp32_eim_register(srv, &u, "test"), SGP32_OK);
    sgp32_eim_euicc_free(&u);
}

int64_t eim_test_queue(const sgp32_eim_server *srv, const char *eid, const char *json)
{
    sgp32_eim_operation_spec spec;
    sgp32_eim_operation_spec_init(&spec);
    char error[256];
    if (sgp32_eim_operation_parse(json, strlen(json), &spec, error, sizeof(error)))
        fail_msg("operation %s refused: %s", json, error);
    sgp32_eim_operation op;
    sgp32_eim_operation_init(&op);
    snprintf(op.eid, sizeof(op.eid), "%s", eid);
    op.kind = spec.kind;
    op.state = SGP32_EIM_OP_QUEUED;
    assert_int_equal(sgp32_buf_append(&op.request, spec.canonical.data, spec.canonical.len), SGP32_OK);
    op.created = eim_test_now();
    op.expires = eim_test_now() + 3600;
    snprintf(op.created_by, sizeof(op.created_by), "test");
    assert_int_equal(srv->config.store.op_insert(srv->config.store.ctx, &op), SGP32_OK);
    int64_t id = op.id;
    sgp32_eim_operation_free(&op);
    sgp32_eim_operation_spec_free(&spec);
    return id;
}

eim_test_op eim_test_get_op(const sgp32_eim_server *srv, int64_t id)
{
    eim_test_op v;
    memset(&v, 0, sizeof(v));
    sgp32_eim_operation op;
    sgp32_eim_operation_init(&op);
    assert_int_equal(srv->config.store.op_get(srv->config.store.ctx, id, &op), SGP32_OK);
    v.state = op.state;
    v.delivery_count = op.delivery_count;
    v.counter = op.counter_value;
    v.awaiting_result = op.awaiting_result;
    v.result_len = op.result.len;
    snprintf(v.json, sizeof(v.json), "%.*s", (int)op.result_json.len, (const char *)op.result_json.data);
    sgp32_eim_operation_free(&op);
    return v;
}

void eim_test_assert_op(const sgp32_eim_server *srv, int64_t id, sgp32_eim_op_state want, const char *expect)
{
    eim_test_op v = eim_test_get_op(srv, id);
    if (v.state != want)
        fail_msg("operation %lld is %s, not %s: %s", (long long)id, sgp32_eim_op_state_name(v.state),
                 sgp32_eim_op_state_name(want), v.json);
    if (expect && !strstr(v.json, expect))
        fail_msg("operation %lld result %s lacks %s", (long long)id, v.json, expect);
}

typedef struct event_count {
    const char *action;
    size_t n;
} event_count;

static int count_event(void *arg, const sgp32_eim_event *ev)
{
    event_count *c = arg;
    if (strcmp(ev->action, c->action) == 0)
        c->n++;
    return 0;
}

size_t eim_test_count_events(const sgp32_eim_server *srv, const char *action)
{
    event_count c = {action, 0};
    assert_int_equal(srv->config.store.event_list(srv->config.store.ctx, NULL, 0, 100000, count_event, &c),
                     SGP32_OK);
    return c.n;
}

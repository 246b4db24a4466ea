/*
 * lib/eim/eim_store_sqlite.c: every record type round trips, versions conflict, the queue is FIFO
 * over live operations only, counters stay strictly increasing under threads, transactions roll
 * back, a file database survives a reopen, a version 1 file is migrated (push_address, then the
 * relay_expiry index of version 3), expired relay sessions are purged, the push
 * worker's candidates are the eUICCs with a push address and an open operation, and the hot
 * statements are index lookups (EXPLAIN QUERY PLAN) that still answer correctly with 100,000
 * queued operations.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sgp32/eim_server.h"

/* The store's test hook (not in the public header). */
int sgp32_eim_sqlite_query_plan(sgp32_eim_sqlite *d, const char *statement, char *out, size_t size);

typedef struct fixture {
    sgp32_eim_sqlite *db;
    sgp32_eim_store st;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f || sgp32_eim_sqlite_open(":memory:", &f->db) != SGP32_OK) {
        free(f);
        return -1;
    }
    f->st = sgp32_eim_sqlite_store(f->db);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    sgp32_eim_sqlite_close(f->db);
    free(f);
    return 0;
}

static void make_eid(int i, char out[SGP32_EIM_EID_DIGITS + 1])
{
    snprintf(out, SGP32_EIM_EID_DIGITS + 1, "8904903200%022d", i);
}

static void put_bytes(sgp32_buf *b, const char *text)
{
    sgp32_buf_reset(b);
    assert_int_equal(sgp32_buf_append(b, text, strlen(text)), SGP32_OK);
}

static void assert_buf(const sgp32_buf *b, const char *text)
{
    assert_int_equal(b->len, strlen(text));
    if (b->len)
        assert_memory_equal(b->data, text, b->len);
}

/* A queued operation of eid; returns its id. */
static int64_t add_op(const sgp32_eim_store *st, const char *eid, sgp32_eim_op_state state, const char *by,
                      const char *key, int64_t expires)
{
    sgp32_eim_operation op;
    sgp32_eim_operation_init(&op);
    snprintf(op.eid, sizeof(op.eid), "%s", eid);
    op.kind = SGP32_EIM_OP_PSMO;
    op.state = state;
    put_bytes(&op.request, "{\"psmo\":[{\"getRAT\":{}}]}");
    op.created = 1000;
    op.expires = expires;
    snprintf(op.created_by, sizeof(op.created_by), "%s", by ? by : "");
    snprintf(op.idempotency_key, sizeof(op.idempotency_key), "%s", key ? key : "");
    assert_int_equal(st->op_insert(st->ctx, &op), SGP32_OK);
    assert_true(op.id > 0);
    assert_int_equal(op.version, 1);
    int64_t id = op.id;
    sgp32_eim_operation_free(&op);
    return id;
}

static void set_state(const sgp32_eim_store *st, int64_t id, sgp32_eim_op_state state)
{
    sgp32_eim_operation op;
    sgp32_eim_operation_init(&op);
    assert_int_equal(st->op_get(st->ctx, id, &op), SGP32_OK);
    op.state = state;
    assert_int_equal(st->op_update(st->ctx, &op), SGP32_OK);
    sgp32_eim_operation_free(&op);
}

static int64_t next_id(const sgp32_eim_store *st, const char *eid)
{
    sgp32_eim_operation op;
    sgp32_eim_operation_init(&op);
    int rc = st->op_next(st->ctx, eid, &op);
    int64_t id = rc == SGP32_OK ? op.id : rc;
    sgp32_eim_operation_free(&op);
    return id;
}

/* ------------------------------------------------------------------ eUICCs */

static void fill_euicc(sgp32_eim_euicc *e, int i)
{
    make_eid(i, e->eid);
    snprintf(e->label, sizeof(e->label), "meter-%d", i);
    put_bytes(&e->euicc_certificate, "euicc-cert-der");
    put_bytes(&e->eum_certificate, "eum-cert-der");
    sgp32_buf_reset(&e->euicc_info1);
    assert_int_equal(sgp32_buf_append(&e->euicc_info1, "\xbf\x20\x01\x00", 4), SGP32_OK);
    e->counter = 7;
    e->has_token = true;
    e->token = 42;
    e->associated = true;
    e->registered = 1700000000;
    e->last_seen = 0;
    e->has_rplmn = true;
    memcpy(e->rplmn, "\x62\xf2\x10", 3);
    e->state_change_cause = 3;
    snprintf(e->push_address, sizeof(e->push_address), "device-%d.example.com:8443", i);
}

static void euicc_round_trip_and_versions(void **state)
{
    fixture *f = *state;
    const sgp32_eim_store *st = &f->st;
    sgp32_eim_euicc e, got;
    sgp32_eim_euicc_init(&e);
    sgp32_eim_euicc_init(&got);
    fill_euicc(&e, 1);
    assert_int_equal(st->euicc_insert(st->ctx, &e), SGP32_OK);
    assert_int_equal(st->euicc_insert(st->ctx, &e), SGP32_ERR_STATE); /* exists */

    /* get into a record that already holds other data: buffers are reset, not appended to */
    put_bytes(&got.euicc_certificate, "stale stale stale");
    put_bytes(&got.euicc_info1, "stale");
    assert_int_equal(st->euicc_get(st->ctx, e.eid, &got), SGP32_OK);
    assert_string_equal(got.eid, e.eid);
    assert_string_equal(got.label, "meter-1");
    assert_buf(&got.euicc_certificate, "euicc-cert-der");
    assert_buf(&got.eum_certificate, "eum-cert-der");
    assert_int_equal(got.euicc_info1.len, 4);
    assert_memory_equal(got.euicc_info1.data, "\xbf\x20\x01\x00", 4);
    assert_int_equal(got.counter, 7);
    assert_true(got.has_token);
    assert_int_equal(got.token, 42);
    assert_true(got.associated);
    assert_int_equal(got.registered, 1700000000);
    assert_int_equal(got.last_seen, 0);
    assert_true(got.has_rplmn);
    assert_memory_equal(got.rplmn, "\x62\xf2\x10", 3);
    assert_int_equal(got.state_change_cause, 3);
    assert_string_equal(got.push_address, "device-1.example.com:8443");
    assert_int_equal(got.version, 1);

    char missing[SGP32_EIM_EID_DIGITS + 1];
    make_eid(999, missing);
    assert_int_equal(st->euicc_get(st->ctx, missing, &got), SGP32_ERR_NOT_FOUND);

    /* compare-and-set on version */
    assert_int_equal(st->euicc_get(st->ctx, e.eid, &got), SGP32_OK);
    sgp32_eim_euicc stale;
    sgp32_eim_euicc_init(&stale);
    assert_int_equal(st->euicc_get(st->ctx, e.eid, &stale), SGP32_OK);
    snprintf(got.label, sizeof(got.label), "renamed");
    got.associated = false;
    got.has_rplmn = false;
    sgp32_buf_reset(&got.eum_certificate);
    got.push_address[0] = '\0';
    assert_int_equal(st->euicc_update(st->ctx, &got), SGP32_OK);
    assert_int_equal(got.version, 2);
    assert_int_equal(st->euicc_update(st->ctx, &stale), SGP32_ERR_STATE);
    assert_int_equal(st->euicc_get(st->ctx, e.eid, &stale), SGP32_OK);
    assert_string_equal(stale.label, "renamed");
    assert_false(stale.associated);
    assert_false(stale.has_rplmn);
    assert_int_equal(stale.eum_certificate.len, 0);
    assert_string_equal(stale.push_address, "");
    assert_int_equal(stale.version, 2);
    snprintf(got.eid, sizeof(got.eid), "%s", missing);
    assert_int_equal(st->euicc_update(st->ctx, &got), SGP32_ERR_NOT_FOUND);

    /* touch: last_seen, rPLMN, cause only; no version bump; NULL / -1 keep the last values */
    assert_int_equal(st->euicc_touch(st->ctx, e.eid, 5000, (const uint8_t *)"\x13\x00\x14", 2), SGP32_OK);
    assert_int_equal(st->euicc_get(st->ctx, e.eid, &got), SGP32_OK);
    assert_int_equal(got.last_seen, 5000);
    assert_true(got.has_rplmn);
    assert_memory_equal(got.rplmn, "\x13\x00\x14", 3);
    assert_int_equal(got.state_change_cause, 2);
    assert_int_equal(got.version, 2);
    assert_int_equal(st->euicc_touch(st->ctx, e.eid, 6000, NULL, -1), SGP32_OK);
    assert_int_equal(st->euicc_get(st->ctx, e.eid, &got), SGP32_OK);
    assert_int_equal(got.last_seen, 6000);
    assert_memory_equal(got.rplmn, "\x13\x00\x14", 3);
    assert_int_equal(got.state_change_cause, 2);
    assert_int_equal(st->euicc_touch(st->ctx, missing, 1, NULL, -1), SGP32_ERR_NOT_FOUND);

    /* a record read before counter_next and touch does not undo them when written back */
    assert_int_equal(st->euicc_get(st->ctx, e.eid, &stale), SGP32_OK);
    int64_t counter = 0;
    assert_int_equal(st->euicc_counter_next(st->ctx, e.eid, &counter), SGP32_OK);
    assert_int_equal(counter, 8);
    assert_int_equal(st->euicc_touch(st->ctx, e.eid, 7000, NULL, -1), SGP32_OK);
    stale.token = 43;
    assert_int_equal(st->euicc_update(st->ctx, &stale), SGP32_OK);
    assert_int_equal(st->euicc_get(st->ctx, e.eid, &got), SGP32_OK);
    assert_int_equal(got.counter, 8);
    assert_int_equal(got.last_seen, 7000);
    assert_int_equal(got.token, 43);
    assert_int_equal(st->euicc_counter_next(st->ctx, missing, &counter), SGP32_ERR_NOT_FOUND);

    sgp32_eim_euicc_free(&stale);
    sgp32_eim_euicc_free(&got);
    sgp32_eim_euicc_free(&e);
}

typedef struct collected {
    char items[16][1024];
    int64_t ids[16];
    size_t count;
    size_t stop_after; /* 0: never */
} collected;

static int collect_euicc(void *arg, const sgp32_eim_euicc *e)
{
    collected *c = arg;
    snprintf(c->items[c->count++], sizeof(c->items[0]), "%s", e->eid);
    return c->stop_after && c->count == c->stop_after;
}

static void euicc_list_pages(void **state)
{
    fixture *f = *state;
    const sgp32_eim_store *st = &f->st;
    sgp32_eim_euicc e;
    sgp32_eim_euicc_init(&e);
    for (int i = 5; i >= 1; i--) { /* inserted out of order: the list is by EID */
        fill_euicc(&e, i);
        assert_int_equal(st->euicc_insert(st->ctx, &e), SGP32_OK);
    }
    sgp32_eim_euicc_free(&e);
    char eid[SGP32_EIM_EID_DIGITS + 1];
    collected c = {0};
    assert_int_equal(st->euicc_list(st->ctx, NULL, 2, collect_euicc, &c), SGP32_OK);
    assert_int_equal(c.count, 2);
    make_eid(1, eid);
    assert_string_equal(c.items[0], eid);
    make_eid(2, eid);
    assert_string_equal(c.items[1], eid);
    collected next = {0};
    assert_int_equal(st->euicc_list(st->ctx, c.items[1], 10, collect_euicc, &next), SGP32_OK);
    assert_int_equal(next.count, 3);
    make_eid(3, eid);
    assert_string_equal(next.items[0], eid);
    collected stop = {.stop_after = 2};
    assert_int_equal(st->euicc_list(st->ctx, "", 0, collect_euicc, &stop), SGP32_OK);
    assert_int_equal(stop.count, 2);
}

/* ------------------------------------------------------------------ profiles */

static int collect_profile(void *arg, const sgp32_eim_profile *p)
{
    collected *c = arg;
    snprintf(c->items[c->count], sizeof(c->items[0]), "%s/%d/%lld/%s/%s/%d", p->iccid, (int)p->state,
             (long long)p->profile_class, p->name, p->service_provider, p->fallback);
    c->ids[c->count++] = p->updated;
    return 0;
}

static void profiles_put_replace_delete(void **state)
{
    fixture *f = *state;
    const sgp32_eim_store *st = &f->st;
    char a[SGP32_EIM_EID_DIGITS + 1], b[SGP32_EIM_EID_DIGITS + 1];
    make_eid(1, a);
    make_eid(2, b);
    sgp32_eim_profile p = {.iccid = "8944000000000000002",
                           .state = SGP32_EIM_PROFILE_DISABLED,
                           .profile_class = 2,
                           .name = "Op B",
                           .service_provider = "SP B",
                           .updated = 10};
    assert_int_equal(st->profile_put(st->ctx, a, &p), SGP32_OK);
    snprintf(p.iccid, sizeof(p.iccid), "8944000000000000001");
    snprintf(p.name, sizeof(p.name), "Op A");
    p.state = SGP32_EIM_PROFILE_ENABLED;
    p.fallback = true;
    p.updated = 11;
    assert_int_equal(st->profile_put(st->ctx, a, &p), SGP32_OK);
    assert_int_equal(st->profile_put(st->ctx, b, &p), SGP32_OK);
    /* replace */
    p.state = SGP32_EIM_PROFILE_DISABLED;
    p.updated = 12;
    assert_int_equal(st->profile_put(st->ctx, a, &p), SGP32_OK);

    collected c = {0};
    assert_int_equal(st->profile_list(st->ctx, a, collect_profile, &c), SGP32_OK);
    assert_int_equal(c.count, 2);
    assert_string_equal(c.items[0], "8944000000000000001/0/2/Op A/SP B/1");
    assert_int_equal(c.ids[0], 12);
    assert_string_equal(c.items[1], "8944000000000000002/0/2/Op B/SP B/0");

    assert_int_equal(st->profile_delete(st->ctx, a, "8944000000000000002"), SGP32_OK);
    assert_int_equal(st->profile_delete(st->ctx, a, "8944000000000000002"), SGP32_ERR_NOT_FOUND);
    assert_int_equal(st->profile_delete_all(st->ctx, a), SGP32_OK);
    assert_int_equal(st->profile_delete_all(st->ctx, a), SGP32_OK);
    memset(&c, 0, sizeof(c));
    assert_int_equal(st->profile_list(st->ctx, a, collect_profile, &c), SGP32_OK);
    assert_int_equal(c.count, 0);
    assert_int_equal(st->profile_list(st->ctx, b, collect_profile, &c), SGP32_OK);
    assert_int_equal(c.count, 1); /* the other eUICC's profiles are untouched */
}

/* ------------------------------------------------------------------ operations */

static void operation_round_trip_and_versions(void **state)
{
    fixture *f = *state;
    const sgp32_eim_store *st = &f->st;
    sgp32_eim_operation op, got, stale;
    sgp32_eim_operation_init(&op);
    sgp32_eim_operation_init(&got);
    sgp32_eim_operation_init(&stale);
    make_eid(1, op.eid);
    op.kind = SGP32_EIM_OP_ECO;
    op.state = SGP32_EIM_OP_QUEUED;
    put_bytes(&op.request, "{\"eco\":[{\"listEim\":{}}]}");
    op.created = 100;
    op.expires = 900;
    snprintf(op.created_by, sizeof(op.created_by), "ops-token");
    snprintf(op.idempotency_key, sizeof(op.idempotency_key), "k-1");
    assert_int_equal(st->op_insert(st->ctx, &op), SGP32_OK);
    int64_t first = op.id;
    assert_true(first > 0);
    op.idempotency_key[0] = '\0';
    assert_int_equal(st->op_insert(st->ctx, &op), SGP32_OK);
    assert_true(op.id > first); /* ids strictly increase */

    put_bytes(&got.package, "stale package bytes");
    assert_int_equal(st->op_get(st->ctx, first, &got), SGP32_OK);
    assert_int_equal(got.id, first);
    assert_string_equal(got.eid, op.eid);
    assert_int_equal(got.kind, SGP32_EIM_OP_ECO);
    assert_int_equal(got.state, SGP32_EIM_OP_QUEUED);
    assert_buf(&got.request, "{\"eco\":[{\"listEim\":{}}]}");
    assert_int_equal(got.package.len, 0);
    assert_int_equal(got.result.len, 0);
    assert_int_equal(got.result_json.len, 0);
    assert_int_equal(got.counter_value, 0);
    assert_false(got.awaiting_result);
    assert_int_equal(got.created, 100);
    assert_int_equal(got.delivered, 0);
    assert_int_equal(got.expires, 900);
    assert_int_equal(got.delivery_count, 0);
    assert_string_equal(got.created_by, "ops-token");
    assert_string_equal(got.idempotency_key, "k-1");
    assert_int_equal(got.version, 1);

    assert_int_equal(st->op_get(st->ctx, first, &stale), SGP32_OK);
    got.state = SGP32_EIM_OP_DELIVERED;
    got.counter_value = 9;
    static const uint8_t package[] = {0xbf, 0x51, 0x03, 0x00, 0x01, 0x02};
    assert_int_equal(sgp32_buf_append(&got.package, package, sizeof(package)), SGP32_OK);
    put_bytes(&got.result, "\xbf\x51\x00");
    put_bytes(&got.result_json, "{\"seqNumber\":5}");
    got.awaiting_result = true;
    got.delivered = 200;
    got.completed = 300;
    got.delivery_count = 2;
    assert_int_equal(st->op_update(st->ctx, &got), SGP32_OK);
    assert_int_equal(got.version, 2);
    assert_int_equal(st->op_update(st->ctx, &stale), SGP32_ERR_STATE);

    assert_int_equal(st->op_get(st->ctx, first, &stale), SGP32_OK);
    assert_int_equal(stale.state, SGP32_EIM_OP_DELIVERED);
    assert_int_equal(stale.counter_value, 9);
    assert_int_equal(stale.package.len, sizeof(package));
    assert_memory_equal(stale.package.data, package, sizeof(package));
    assert_buf(&stale.result, "\xbf\x51\x00");
    assert_buf(&stale.result_json, "{\"seqNumber\":5}");
    assert_true(stale.awaiting_result);
    assert_int_equal(stale.delivered, 200);
    assert_int_equal(stale.completed, 300);
    assert_int_equal(stale.delivery_count, 2);
    assert_int_equal(stale.version, 2);

    stale.id = 999999;
    assert_int_equal(st->op_update(st->ctx, &stale), SGP32_ERR_NOT_FOUND);
    assert_int_equal(st->op_get(st->ctx, 999999, &stale), SGP32_ERR_NOT_FOUND);

    /* a blob over the caller's cap is reported, not truncated */
    sgp32_eim_operation small;
    sgp32_eim_operation_init(&small);
    sgp32_buf_free(&small.package);
    sgp32_buf_init(&small.package, 2);
    assert_int_equal(st->op_get(st->ctx, first, &small), SGP32_ERR_CAPACITY);
    sgp32_eim_operation_free(&small);

    sgp32_eim_operation_free(&stale);
    sgp32_eim_operation_free(&got);
    sgp32_eim_operation_free(&op);
}

static void op_next_is_fifo_over_live_operations(void **state)
{
    fixture *f = *state;
    const sgp32_eim_store *st = &f->st;
    char a[SGP32_EIM_EID_DIGITS + 1], b[SGP32_EIM_EID_DIGITS + 1];
    make_eid(1, a);
    make_eid(2, b);
    assert_int_equal(next_id(st, a), SGP32_ERR_NOT_FOUND);
    int64_t ids[6];
    for (int i = 0; i < 6; i++)
        ids[i] = add_op(st, i % 2 ? b : a, SGP32_EIM_OP_QUEUED, "t", NULL, 0);
    /* a: ids[0], ids[2], ids[4]; b: ids[1], ids[3], ids[5] */
    assert_int_equal(next_id(st, a), ids[0]);
    assert_int_equal(next_id(st, b), ids[1]);
    set_state(st, ids[0], SGP32_EIM_OP_DELIVERED); /* delivered stays at the head (redelivery) */
    assert_int_equal(next_id(st, a), ids[0]);
    set_state(st, ids[0], SGP32_EIM_OP_DONE);
    assert_int_equal(next_id(st, a), ids[2]);
    set_state(st, ids[2], SGP32_EIM_OP_CANCELLED);
    assert_int_equal(next_id(st, a), ids[4]);
    set_state(st, ids[4], SGP32_EIM_OP_FAILED);
    assert_int_equal(next_id(st, a), SGP32_ERR_NOT_FOUND);
    set_state(st, ids[1], SGP32_EIM_OP_EXPIRED);
    assert_int_equal(next_id(st, b), ids[3]);

    /* a later one for a: behind nothing, so it is next */
    int64_t late = add_op(st, a, SGP32_EIM_OP_QUEUED, "t", NULL, 0);
    assert_int_equal(next_id(st, a), late);
}

static int collect_op(void *arg, const sgp32_eim_operation *op)
{
    collected *c = arg;
    c->ids[c->count++] = op->id;
    return c->stop_after && c->count == c->stop_after;
}

static void op_list_filters_and_pages(void **state)
{
    fixture *f = *state;
    const sgp32_eim_store *st = &f->st;
    char a[SGP32_EIM_EID_DIGITS + 1], b[SGP32_EIM_EID_DIGITS + 1];
    make_eid(1, a);
    make_eid(2, b);
    int64_t ids[10];
    for (int i = 0; i < 10; i++)
        ids[i] = add_op(st, i < 6 ? a : b, SGP32_EIM_OP_QUEUED, "t", NULL, 0);
    set_state(st, ids[1], SGP32_EIM_OP_DONE);
    set_state(st, ids[3], SGP32_EIM_OP_DONE);
    set_state(st, ids[7], SGP32_EIM_OP_DONE);

    collected c = {0};
    assert_int_equal(st->op_list(st->ctx, NULL, collect_op, &c), SGP32_OK);
    assert_int_equal(c.count, 10);
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(c.ids[i], ids[i]);

    /* keyset pages of 4 over everything */
    sgp32_eim_op_filter page = {NULL, -1, 0, 4};
    size_t total = 0;
    for (;;) {
        collected p = {0};
        assert_int_equal(st->op_list(st->ctx, &page, collect_op, &p), SGP32_OK);
        if (!p.count)
            break;
        for (size_t i = 0; i < p.count; i++)
            assert_int_equal(p.ids[i], ids[total + i]);
        total += p.count;
        page.after_id = p.ids[p.count - 1];
    }
    assert_int_equal(total, 10);

    sgp32_eim_op_filter by_eid = {b, -1, 0, 0};
    memset(&c, 0, sizeof(c));
    assert_int_equal(st->op_list(st->ctx, &by_eid, collect_op, &c), SGP32_OK);
    assert_int_equal(c.count, 4);
    assert_int_equal(c.ids[0], ids[6]);

    sgp32_eim_op_filter by_state = {NULL, SGP32_EIM_OP_DONE, 0, 0};
    memset(&c, 0, sizeof(c));
    assert_int_equal(st->op_list(st->ctx, &by_state, collect_op, &c), SGP32_OK);
    assert_int_equal(c.count, 3);
    assert_int_equal(c.ids[0], ids[1]);
    assert_int_equal(c.ids[2], ids[7]);

    sgp32_eim_op_filter both = {a, SGP32_EIM_OP_DONE, ids[1], 0};
    memset(&c, 0, sizeof(c));
    assert_int_equal(st->op_list(st->ctx, &both, collect_op, &c), SGP32_OK);
    assert_int_equal(c.count, 1);
    assert_int_equal(c.ids[0], ids[3]);

    collected stop = {.stop_after = 3};
    assert_int_equal(st->op_list(st->ctx, NULL, collect_op, &stop), SGP32_OK);
    assert_int_equal(stop.count, 3);
}

/* A list callback that lists again (same thread, same statement): must not disturb the outer one. */
typedef struct nested {
    const sgp32_eim_store *st;
    size_t outer, inner;
} nested;

static int count_op(void *arg, const sgp32_eim_operation *op)
{
    (void)op;
    ((nested *)arg)->inner++;
    return 0;
}

static int list_again(void *arg, const sgp32_eim_operation *op)
{
    nested *n = arg;
    n->outer++;
    sgp32_eim_operation got;
    sgp32_eim_operation_init(&got);
    assert_int_equal(n->st->op_get(n->st->ctx, op->id, &got), SGP32_OK);
    assert_int_equal(got.id, op->id);
    sgp32_eim_operation_free(&got);
    assert_int_equal(n->st->op_list(n->st->ctx, NULL, count_op, n), SGP32_OK);
    return 0;
}

static void list_callback_may_reenter(void **state)
{
    fixture *f = *state;
    char a[SGP32_EIM_EID_DIGITS + 1];
    make_eid(1, a);
    for (int i = 0; i < 3; i++)
        add_op(&f->st, a, SGP32_EIM_OP_QUEUED, "t", NULL, 0);
    nested n = {&f->st, 0, 0};
    assert_int_equal(f->st.op_list(f->st.ctx, NULL, list_again, &n), SGP32_OK);
    assert_int_equal(n.outer, 3);
    assert_int_equal(n.inner, 9);
}

static void idempotency_keys(void **state)
{
    fixture *f = *state;
    const sgp32_eim_store *st = &f->st;
    char a[SGP32_EIM_EID_DIGITS + 1];
    make_eid(1, a);
    int64_t id = add_op(st, a, SGP32_EIM_OP_QUEUED, "alice", "key-1", 0);
    int64_t other = add_op(st, a, SGP32_EIM_OP_QUEUED, "bob", "key-1", 0); /* keys are per token */
    add_op(st, a, SGP32_EIM_OP_QUEUED, "alice", "", 0);
    add_op(st, a, SGP32_EIM_OP_QUEUED, "alice", "", 0); /* "" is no key: any number */

    sgp32_eim_operation op;
    sgp32_eim_operation_init(&op);
    make_eid(1, op.eid);
    op.kind = SGP32_EIM_OP_PSMO;
    snprintf(op.created_by, sizeof(op.created_by), "alice");
    snprintf(op.idempotency_key, sizeof(op.idempotency_key), "key-1");
    assert_int_equal(st->op_insert(st->ctx, &op), SGP32_ERR_STATE);

    assert_int_equal(st->op_find_idempotent(st->ctx, "alice", "key-1", &op), SGP32_OK);
    assert_int_equal(op.id, id);
    assert_int_equal(st->op_find_idempotent(st->ctx, "bob", "key-1", &op), SGP32_OK);
    assert_int_equal(op.id, other);
    assert_int_equal(st->op_find_idempotent(st->ctx, "carol", "key-1", &op), SGP32_ERR_NOT_FOUND);
    assert_int_equal(st->op_find_idempotent(st->ctx, "alice", "key-2", &op), SGP32_ERR_NOT_FOUND);
    assert_int_equal(st->op_find_idempotent(st->ctx, "alice", "", &op), SGP32_ERR_NOT_FOUND);
    sgp32_eim_operation_free(&op);
}

static void expiry_and_counts(void **state)
{
    fixture *f = *state;
    const sgp32_eim_store *st = &f->st;
    char a[SGP32_EIM_EID_DIGITS + 1];
    make_eid(1, a);
    int64_t past_queued = add_op(st, a, SGP32_EIM_OP_QUEUED, "t", NULL, 500);
    int64_t past_delivered = add_op(st, a, SGP32_EIM_OP_QUEUED, "t", NULL, 600);
    set_state(st, past_delivered, SGP32_EIM_OP_DELIVERED);
    int64_t past_done = add_op(st, a, SGP32_EIM_OP_QUEUED, "t", NULL, 500);
    set_state(st, past_done, SGP32_EIM_OP_DONE);
    int64_t future = add_op(st, a, SGP32_EIM_OP_QUEUED, "t", NULL, 5000);
    int64_t never = add_op(st, a, SGP32_EIM_OP_QUEUED, "t", NULL, 0);

    size_t count = 99;
    assert_int_equal(st->op_expire(st->ctx, 100, &count), SGP32_OK);
    assert_int_equal(count, 0);
    assert_int_equal(st->op_expire(st->ctx, 1000, &count), SGP32_OK);
    assert_int_equal(count, 2);

    sgp32_eim_operation op;
    sgp32_eim_operation_init(&op);
    assert_int_equal(st->op_get(st->ctx, past_queued, &op), SGP32_OK);
    assert_int_equal(op.state, SGP32_EIM_OP_EXPIRED);
    assert_int_equal(op.completed, 1000);
    assert_int_equal(op.version, 2); /* a reader holding version 1 cannot resurrect it */
    assert_int_equal(st->op_get(st->ctx, past_delivered, &op), SGP32_OK);
    assert_int_equal(op.state, SGP32_EIM_OP_EXPIRED);
    assert_int_equal(st->op_get(st->ctx, past_done, &op), SGP32_OK);
    assert_int_equal(op.state, SGP32_EIM_OP_DONE);
    assert_int_equal(st->op_get(st->ctx, future, &op), SGP32_OK);
    assert_int_equal(op.state, SGP32_EIM_OP_QUEUED);
    assert_int_equal(st->op_get(st->ctx, never, &op), SGP32_OK);
    assert_int_equal(op.state, SGP32_EIM_OP_QUEUED);
    sgp32_eim_operation_free(&op);
    assert_int_equal(next_id(st, a), future);
    assert_int_equal(st->op_expire(st->ctx, 1000, &count), SGP32_OK);
    assert_int_equal(count, 0);

    int64_t counts[SGP32_EIM_OP_STATE_COUNT];
    assert_int_equal(st->op_count(st->ctx, counts), SGP32_OK);
    assert_int_equal(counts[SGP32_EIM_OP_QUEUED], 2);
    assert_int_equal(counts[SGP32_EIM_OP_DELIVERED], 0);
    assert_int_equal(counts[SGP32_EIM_OP_DONE], 1);
    assert_int_equal(counts[SGP32_EIM_OP_EXPIRED], 2);
    assert_int_equal(counts[SGP32_EIM_OP_FAILED], 0);
    assert_int_equal(counts[SGP32_EIM_OP_CANCELLED], 0);
}

/* ------------------------------------------------------------------ dedup, relay, outbox, events, tokens */

static void results_are_deduplicated(void **state)
{
    fixture *f = *state;
    const sgp32_eim_store *st = &f->st;
    char a[SGP32_EIM_EID_DIGITS + 1], b[SGP32_EIM_EID_DIGITS + 1];
    make_eid(1, a);
    make_eid(2, b);
    bool seen = true;
    assert_int_equal(st->result_seen(st->ctx, a, 5, &seen), SGP32_OK);
    assert_false(seen);
    assert_int_equal(st->result_seen(st->ctx, a, 5, &seen), SGP32_OK);
    assert_true(seen);
    assert_int_equal(st->result_seen(st->ctx, a, 6, &seen), SGP32_OK);
    assert_false(seen);
    assert_int_equal(st->result_seen(st->ctx, b, 5, &seen), SGP32_OK); /* per eUICC */
    assert_false(seen);
}

static void relay_sessions(void **state)
{
    fixture *f = *state;
    const sgp32_eim_store *st = &f->st;
    sgp32_eim_relay r = {.transaction_id = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
                         .transaction_id_len = 16,
                         .smdp_address = "smdp.example.com",
                         .operation_id = 77,
                         .expires = 1800};
    make_eid(1, r.eid);
    assert_int_equal(st->relay_put(st->ctx, &r), SGP32_OK);
    sgp32_eim_relay got;
    assert_int_equal(st->relay_get(st->ctx, r.transaction_id, 16, &got), SGP32_OK);
    assert_int_equal(got.transaction_id_len, 16);
    assert_memory_equal(got.transaction_id, r.transaction_id, 16);
    assert_string_equal(got.eid, r.eid);
    assert_string_equal(got.smdp_address, "smdp.example.com");
    assert_int_equal(got.operation_id, 77);
    assert_int_equal(got.expires, 1800);
    /* a prefix is another key */
    assert_int_equal(st->relay_get(st->ctx, r.transaction_id, 8, &got), SGP32_ERR_NOT_FOUND);
    /* replace */
    snprintf(r.smdp_address, sizeof(r.smdp_address), "other.example.com:8443");
    assert_int_equal(st->relay_put(st->ctx, &r), SGP32_OK);
    assert_int_equal(st->relay_get(st->ctx, r.transaction_id, 16, &got), SGP32_OK);
    assert_string_equal(got.smdp_address, "other.example.com:8443");
    assert_int_equal(st->relay_delete(st->ctx, r.transaction_id, 16), SGP32_OK);
    assert_int_equal(st->relay_get(st->ctx, r.transaction_id, 16, &got), SGP32_ERR_NOT_FOUND);
    assert_int_equal(st->relay_delete(st->ctx, r.transaction_id, 16), SGP32_ERR_NOT_FOUND);
}

/* Expired relay sessions go, in one statement; live ones and those without an expiry stay. */
static void relay_sessions_purged(void **state)
{
    fixture *f = *state;
    const sgp32_eim_store *st = &f->st;
    const int64_t expiries[] = {100, 199, 200, 300, 0};
    for (size_t i = 0; i < SGP32_ARRAY_LEN(expiries); i++) {
        sgp32_eim_relay r = {.transaction_id = {(uint8_t)(i + 1)},
                             .transaction_id_len = 16,
                             .smdp_address = "smdp.example.com",
                             .expires = expiries[i]};
        make_eid(1, r.eid);
        assert_int_equal(st->relay_put(st->ctx, &r), SGP32_OK);
    }
    size_t purged = 99;
    assert_int_equal(st->relay_purge(st->ctx, 200, &purged), SGP32_OK);
    assert_int_equal(purged, 2); /* 100 and 199: expired before 200 */
    sgp32_eim_relay got;
    for (size_t i = 0; i < SGP32_ARRAY_LEN(expiries); i++) {
        uint8_t txid[16] = {(uint8_t)(i + 1)};
        assert_int_equal(st->relay_get(st->ctx, txid, 16, &got), i < 2 ? SGP32_ERR_NOT_FOUND : SGP32_OK);
    }
    assert_int_equal(st->relay_purge(st->ctx, 200, &purged), SGP32_OK);
    assert_int_equal(purged, 0);
    assert_int_equal(st->relay_purge(st->ctx, 1000, &purged), SGP32_OK);
    assert_int_equal(purged, 2); /* 200 and 300; the one without an expiry stays */
    uint8_t forever[16] = {5};
    assert_int_equal(st->relay_get(st->ctx, forever, 16, &got), SGP32_OK);
}

static void outbox_due_order(void **state)
{
    fixture *f = *state;
    const sgp32_eim_store *st = &f->st;
    sgp32_eim_outbox_item item, got;
    sgp32_eim_outbox_item_init(&item);
    sgp32_eim_outbox_item_init(&got);
    make_eid(1, item.eid);
    snprintf(item.address, sizeof(item.address), "smdp.example.com");
    put_bytes(&item.notification, "\xbf\x37\x00");
    item.next_attempt = 100;
    assert_int_equal(st->outbox_put(st->ctx, &item), SGP32_OK);
    int64_t first = item.id;
    put_bytes(&item.notification, "\x30\x00");
    item.next_attempt = 50;
    assert_int_equal(st->outbox_put(st->ctx, &item), SGP32_OK);
    int64_t second = item.id;
    assert_true(second > first);

    assert_int_equal(st->outbox_next(st->ctx, 10, &got), SGP32_ERR_NOT_FOUND);
    assert_int_equal(st->outbox_next(st->ctx, 60, &got), SGP32_OK);
    assert_int_equal(got.id, second);
    assert_buf(&got.notification, "\x30\x00");
    assert_int_equal(st->outbox_next(st->ctx, 200, &got), SGP32_OK);
    assert_int_equal(got.id, second); /* the earliest due first */

    got.attempts = 1;
    got.next_attempt = 400;
    assert_int_equal(st->outbox_update(st->ctx, &got), SGP32_OK);
    assert_int_equal(st->outbox_next(st->ctx, 200, &got), SGP32_OK);
    assert_int_equal(got.id, first);
    assert_string_equal(got.address, "smdp.example.com");
    assert_buf(&got.notification, "\xbf\x37\x00");
    assert_int_equal(got.attempts, 0);
    assert_int_equal(st->outbox_delete(st->ctx, first), SGP32_OK);
    assert_int_equal(st->outbox_delete(st->ctx, first), SGP32_ERR_NOT_FOUND);
    assert_int_equal(st->outbox_next(st->ctx, 200, &got), SGP32_ERR_NOT_FOUND);
    assert_int_equal(st->outbox_next(st->ctx, 400, &got), SGP32_OK);
    assert_int_equal(got.id, second);
    assert_int_equal(got.attempts, 1);
    got.id = 12345;
    assert_int_equal(st->outbox_update(st->ctx, &got), SGP32_ERR_NOT_FOUND);
    sgp32_eim_outbox_item_free(&got);
    sgp32_eim_outbox_item_free(&item);
}

static int collect_event(void *arg, const sgp32_eim_event *ev)
{
    collected *c = arg;
    snprintf(c->items[c->count], sizeof(c->items[0]), "%lld %s %s %lld %s", (long long)ev->time, ev->actor,
             ev->action, (long long)ev->operation_id, ev->detail);
    c->ids[c->count++] = ev->id;
    return 0;
}

static void events_append_and_list(void **state)
{
    fixture *f = *state;
    const sgp32_eim_store *st = &f->st;
    char a[SGP32_EIM_EID_DIGITS + 1];
    make_eid(1, a);
    int64_t ids[5];
    for (int i = 0; i < 5; i++) {
        sgp32_eim_event ev = {.time = 100 + i, .operation_id = i};
        snprintf(ev.actor, sizeof(ev.actor), "%s", i % 2 ? "esipa" : "admin");
        snprintf(ev.action, sizeof(ev.action), "operation.create");
        if (i % 2)
            snprintf(ev.eid, sizeof(ev.eid), "%s", a);
        snprintf(ev.detail, sizeof(ev.detail), "{\"n\":%d}", i);
        assert_int_equal(st->event_append(st->ctx, &ev), SGP32_OK);
        ids[i] = ev.id;
        assert_true(i == 0 || ids[i] > ids[i - 1]);
    }
    collected c = {0};
    assert_int_equal(st->event_list(st->ctx, NULL, 0, 0, collect_event, &c), SGP32_OK);
    assert_int_equal(c.count, 5);
    assert_string_equal(c.items[0], "100 admin operation.create 0 {\"n\":0}");
    memset(&c, 0, sizeof(c));
    assert_int_equal(st->event_list(st->ctx, a, 0, 0, collect_event, &c), SGP32_OK);
    assert_int_equal(c.count, 2);
    assert_int_equal(c.ids[0], ids[1]);
    assert_int_equal(c.ids[1], ids[3]);
    memset(&c, 0, sizeof(c));
    assert_int_equal(st->event_list(st->ctx, NULL, ids[1], 2, collect_event, &c), SGP32_OK);
    assert_int_equal(c.count, 2);
    assert_int_equal(c.ids[0], ids[2]);
    assert_string_equal(c.items[1], "103 esipa operation.create 3 {\"n\":3}");
}

static int collect_token(void *arg, const sgp32_eim_token *t)
{
    collected *c = arg;
    snprintf(c->items[c->count++], sizeof(c->items[0]), "%s:%d", t->name, (int)t->role);
    return 0;
}

static void tokens(void **state)
{
    fixture *f = *state;
    const sgp32_eim_store *st = &f->st;
    sgp32_eim_token t = {.name = "ops", .role = SGP32_EIM_ROLE_OPERATOR, .created = 77};
    memset(t.secret_sha256, 0xa5, sizeof(t.secret_sha256));
    assert_int_equal(st->token_insert(st->ctx, &t), SGP32_OK);
    assert_int_equal(st->token_insert(st->ctx, &t), SGP32_ERR_STATE); /* name taken */
    snprintf(t.name, sizeof(t.name), "ops2");
    assert_int_equal(st->token_insert(st->ctx, &t), SGP32_ERR_STATE); /* secret taken */
    snprintf(t.name, sizeof(t.name), "admin");
    t.role = SGP32_EIM_ROLE_ADMIN;
    t.secret_sha256[0] = 0;
    assert_int_equal(st->token_insert(st->ctx, &t), SGP32_OK);

    uint8_t secret[SGP32_SHA256_LEN];
    memset(secret, 0xa5, sizeof(secret));
    sgp32_eim_token got;
    assert_int_equal(st->token_find(st->ctx, secret, &got), SGP32_OK);
    assert_string_equal(got.name, "ops");
    assert_int_equal(got.role, SGP32_EIM_ROLE_OPERATOR);
    assert_memory_equal(got.secret_sha256, secret, sizeof(secret));
    assert_int_equal(got.created, 77);
    secret[5] = 0;
    assert_int_equal(st->token_find(st->ctx, secret, &got), SGP32_ERR_NOT_FOUND);

    collected c = {0};
    assert_int_equal(st->token_list(st->ctx, collect_token, &c), SGP32_OK);
    assert_int_equal(c.count, 2);
    assert_string_equal(c.items[0], "admin:2");
    assert_string_equal(c.items[1], "ops:1");
    assert_int_equal(st->token_delete(st->ctx, "ops"), SGP32_OK);
    assert_int_equal(st->token_delete(st->ctx, "ops"), SGP32_ERR_NOT_FOUND);
    memset(secret, 0xa5, sizeof(secret));
    assert_int_equal(st->token_find(st->ctx, secret, &got), SGP32_ERR_NOT_FOUND);
}

/* ------------------------------------------------------------------ transactions and threads */

static void transactions_commit_and_roll_back(void **state)
{
    fixture *f = *state;
    const sgp32_eim_store *st = &f->st;
    char a[SGP32_EIM_EID_DIGITS + 1];
    make_eid(1, a);
    sgp32_eim_euicc e;
    sgp32_eim_euicc_init(&e);
    fill_euicc(&e, 1);
    assert_int_equal(st->euicc_insert(st->ctx, &e), SGP32_OK);

    assert_int_equal(st->tx_end(st->ctx, true), SGP32_ERR_STATE); /* no transaction */

    /* rolled back: the operation, the counter step and the dedup record are all gone */
    assert_int_equal(st->tx_begin(st->ctx), SGP32_OK);
    int64_t gone = add_op(st, a, SGP32_EIM_OP_QUEUED, "t", "k", 0);
    int64_t counter = 0;
    assert_int_equal(st->euicc_counter_next(st->ctx, a, &counter), SGP32_OK);
    assert_int_equal(counter, 8);
    bool seen = true;
    assert_int_equal(st->result_seen(st->ctx, a, 1, &seen), SGP32_OK);
    assert_false(seen);
    assert_int_equal(next_id(st, a), gone); /* visible inside */
    assert_int_equal(st->tx_end(st->ctx, false), SGP32_OK);
    assert_int_equal(next_id(st, a), SGP32_ERR_NOT_FOUND);
    assert_int_equal(st->euicc_get(st->ctx, a, &e), SGP32_OK);
    assert_int_equal(e.counter, 7);
    assert_int_equal(st->result_seen(st->ctx, a, 1, &seen), SGP32_OK);
    assert_false(seen);
    sgp32_eim_operation op;
    sgp32_eim_operation_init(&op);
    assert_int_equal(st->op_find_idempotent(st->ctx, "t", "k", &op), SGP32_ERR_NOT_FOUND);

    /* committed */
    assert_int_equal(st->tx_begin(st->ctx), SGP32_OK);
    int64_t kept = add_op(st, a, SGP32_EIM_OP_QUEUED, "t", "k", 0);
    assert_int_equal(st->tx_end(st->ctx, true), SGP32_OK);
    assert_int_equal(next_id(st, a), kept);
    /* a rolled-back id may be handed out again (it never existed); a committed one never */
    if (gone != kept)
        assert_int_equal(st->op_get(st->ctx, gone, &op), SGP32_ERR_NOT_FOUND);

    /* nested pairs: only the outermost commits; an inner rollback dooms the whole */
    assert_int_equal(st->tx_begin(st->ctx), SGP32_OK);
    assert_int_equal(st->tx_begin(st->ctx), SGP32_OK);
    int64_t inner = add_op(st, a, SGP32_EIM_OP_QUEUED, "t", NULL, 0);
    assert_int_equal(st->tx_end(st->ctx, true), SGP32_OK);
    assert_int_equal(st->tx_end(st->ctx, true), SGP32_OK);
    assert_int_equal(st->op_get(st->ctx, inner, &op), SGP32_OK);
    assert_int_equal(st->tx_begin(st->ctx), SGP32_OK);
    assert_int_equal(st->tx_begin(st->ctx), SGP32_OK);
    int64_t doomed = add_op(st, a, SGP32_EIM_OP_QUEUED, "t", NULL, 0);
    assert_int_equal(st->tx_end(st->ctx, false), SGP32_OK);
    assert_int_equal(st->tx_end(st->ctx, true), SGP32_ERR_STATE);
    assert_int_equal(st->op_get(st->ctx, doomed, &op), SGP32_ERR_NOT_FOUND);
    /* the store is usable afterwards */
    assert_int_equal(st->tx_begin(st->ctx), SGP32_OK);
    assert_int_equal(st->tx_end(st->ctx, true), SGP32_OK);
    sgp32_eim_operation_free(&op);
    sgp32_eim_euicc_free(&e);
}

typedef struct waiter {
    const sgp32_eim_store *st;
    int64_t id;
    int rc;
    volatile int done;
    pthread_mutex_t lock;
} waiter;

static void *wait_for_op(void *arg)
{
    waiter *w = arg;
    sgp32_eim_operation op;
    sgp32_eim_operation_init(&op);
    int rc = w->st->op_get(w->st->ctx, w->id, &op);
    sgp32_eim_operation_free(&op);
    pthread_mutex_lock(&w->lock);
    w->rc = rc;
    w->done = 1;
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static void *end_foreign_transaction(void *arg)
{
    const sgp32_eim_store *st = arg;
    return st->tx_end(st->ctx, true) == SGP32_ERR_STATE ? arg : NULL;
}

static void other_threads_wait_for_a_transaction(void **state)
{
    fixture *f = *state;
    const sgp32_eim_store *st = &f->st;
    char a[SGP32_EIM_EID_DIGITS + 1];
    make_eid(1, a);
    assert_int_equal(st->tx_begin(st->ctx), SGP32_OK);
    waiter w = {.st = st};
    pthread_mutex_init(&w.lock, NULL);
    w.id = add_op(st, a, SGP32_EIM_OP_QUEUED, "t", NULL, 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, wait_for_op, &w), 0);
    struct timespec pause = {0, 50 * 1000 * 1000};
    nanosleep(&pause, NULL);
    pthread_mutex_lock(&w.lock);
    int done = w.done;
    pthread_mutex_unlock(&w.lock);
    assert_int_equal(done, 0); /* blocked behind the transaction, never sees the uncommitted row */
    /* a thread without the transaction cannot end it */
    pthread_t intruder;
    void *refused = NULL;
    assert_int_equal(pthread_create(&intruder, NULL, end_foreign_transaction, (void *)st), 0);
    assert_int_equal(pthread_join(intruder, &refused), 0);
    assert_ptr_equal(refused, st);
    assert_int_equal(st->tx_end(st->ctx, false), SGP32_OK);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(w.rc, SGP32_ERR_NOT_FOUND);
    pthread_mutex_destroy(&w.lock);
}

enum { COUNTER_THREADS = 4, COUNTER_STEPS = 500 };

typedef struct counter_worker {
    const sgp32_eim_store *st;
    const char *eid;
    int64_t values[COUNTER_STEPS];
    int rc;
} counter_worker;

static void *count_up(void *arg)
{
    counter_worker *w = arg;
    for (int i = 0; i < COUNTER_STEPS && !w->rc; i++)
        w->rc = w->st->euicc_counter_next(w->st->ctx, w->eid, &w->values[i]);
    return NULL;
}

static int compare_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void counter_strictly_increases_across_threads(void **state)
{
    fixture *f = *state;
    const sgp32_eim_store *st = &f->st;
    sgp32_eim_euicc e;
    sgp32_eim_euicc_init(&e);
    fill_euicc(&e, 1);
    e.counter = 0;
    assert_int_equal(st->euicc_insert(st->ctx, &e), SGP32_OK);
    static counter_worker workers[COUNTER_THREADS];
    pthread_t threads[COUNTER_THREADS];
    for (int i = 0; i < COUNTER_THREADS; i++) {
        workers[i] = (counter_worker){.st = st, .eid = e.eid};
        assert_int_equal(pthread_create(&threads[i], NULL, count_up, &workers[i]), 0);
    }
    static int64_t all[COUNTER_THREADS * COUNTER_STEPS];
    for (int i = 0; i < COUNTER_THREADS; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_int_equal(workers[i].rc, SGP32_OK);
        for (int j = 0; j < COUNTER_STEPS; j++) {
            if (j)
                assert_true(workers[i].values[j] > workers[i].values[j - 1]); /* per thread: increasing */
            all[i * COUNTER_STEPS + j] = workers[i].values[j];
        }
    }
    qsort(all, SGP32_ARRAY_LEN(all), sizeof(all[0]), compare_i64);
    for (size_t i = 0; i < SGP32_ARRAY_LEN(all); i++)
        assert_int_equal(all[i], (int64_t)i + 1); /* all distinct, no gaps */
    assert_int_equal(st->euicc_get(st->ctx, e.eid, &e), SGP32_OK);
    assert_int_equal(e.counter, COUNTER_THREADS * COUNTER_STEPS);
    sgp32_eim_euicc_free(&e);
}

/* ------------------------------------------------------------------ files, plans, volume */

static void temp_path(char *out, size_t size)
{
    snprintf(out, size, "/tmp/sgp32-eim-store-XXXXXX");
    int fd = mkstemp(out);
    assert_true(fd >= 0);
    close(fd);
    unlink(out); /* SQLite creates it; the name stays ours (unique) */
}

static void remove_db(const char *path)
{
    char side[300];
    unlink(path);
    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);
}

static void file_database_persists(void **state)
{
    (void)state;
    char path[256];
    temp_path(path, sizeof(path));
    sgp32_eim_sqlite *db = NULL;
    assert_int_equal(sgp32_eim_sqlite_open(path, &db), SGP32_OK);
    assert_int_equal(sgp32_eim_sqlite_synchronous(db, true), SGP32_OK);
    sgp32_eim_store st = sgp32_eim_sqlite_store(db);
    sgp32_eim_euicc e;
    sgp32_eim_euicc_init(&e);
    fill_euicc(&e, 1);
    assert_int_equal(st.euicc_insert(st.ctx, &e), SGP32_OK);
    int64_t counter = 0;
    assert_int_equal(st.euicc_counter_next(st.ctx, e.eid, &counter), SGP32_OK);
    int64_t id = add_op(&st, e.eid, SGP32_EIM_OP_QUEUED, "t", "key", 0);
    sgp32_eim_token t = {.name = "ops", .role = SGP32_EIM_ROLE_ADMIN};
    assert_int_equal(st.token_insert(st.ctx, &t), SGP32_OK);
    sgp32_eim_sqlite_close(db);

    /* the journal is WAL */
    sqlite3 *raw = NULL;
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    sqlite3_close(raw);

    assert_int_equal(sgp32_eim_sqlite_open(path, &db), SGP32_OK);
    st = sgp32_eim_sqlite_store(db);
    assert_int_equal(st.euicc_get(st.ctx, e.eid, &e), SGP32_OK);
    assert_int_equal(e.counter, 8);
    assert_buf(&e.euicc_certificate, "euicc-cert-der");
    assert_int_equal(next_id(&st, e.eid), id);
    sgp32_eim_operation op;
    sgp32_eim_operation_init(&op);
    assert_int_equal(st.op_find_idempotent(st.ctx, "t", "key", &op), SGP32_OK);
    assert_int_equal(op.id, id);
    sgp32_eim_operation_free(&op);
    int64_t next = add_op(&st, e.eid, SGP32_EIM_OP_QUEUED, "t", NULL, 0);
    assert_true(next > id);
    sgp32_eim_token got;
    uint8_t zero[SGP32_SHA256_LEN] = {0};
    assert_int_equal(st.token_find(st.ctx, zero, &got), SGP32_OK);
    assert_string_equal(got.name, "ops");
    sgp32_eim_sqlite_close(db);

    /* a file from a newer schema is refused */
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    db = NULL;
    assert_int_equal(sgp32_eim_sqlite_open(path, &db), SGP32_ERR_STORE_VERSION);
    assert_null(db);
    sgp32_eim_euicc_free(&e);
    remove_db(path);
}

static void assert_plan(sgp32_eim_sqlite *db, const char *statement, const char *uses)
{
    char plan[1024];
    assert_int_equal(sgp32_eim_sqlite_query_plan(db, statement, plan, sizeof(plan)), SGP32_OK);
    print_message("%-14s %s\n", statement, plan);
    if (uses)
        assert_non_null(strstr(plan, uses));
    assert_null(strstr(plan, "SCAN")); /* no table or index walk */
    assert_null(strstr(plan, "TEMP B-TREE"));
}

/* A file of schema version 1 (no push_address) opens as version 2 with its rows intact. */
static void version_1_file_is_migrated(void **state)
{
    (void)state;
    char path[256];
    temp_path(path, sizeof(path));
    sgp32_eim_sqlite *db = NULL;
    assert_int_equal(sgp32_eim_sqlite_open(path, &db), SGP32_OK);
    sgp32_eim_store st = sgp32_eim_sqlite_store(db);
    sgp32_eim_euicc e;
    sgp32_eim_euicc_init(&e);
    fill_euicc(&e, 3);
    e.push_address[0] = '\0';
    assert_int_equal(st.euicc_insert(st.ctx, &e), SGP32_OK);
    int64_t id = add_op(&st, e.eid, SGP32_EIM_OP_QUEUED, "t", NULL, 0);
    sgp32_eim_sqlite_close(db);

    /* back to what version 1 wrote */
    sqlite3 *raw = NULL;
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw,
                                  "DROP INDEX euicc_push; ALTER TABLE euicc DROP COLUMN push_address; "
                                  "DROP INDEX relay_expiry; PRAGMA user_version = 1;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(raw);

    assert_int_equal(sgp32_eim_sqlite_open(path, &db), SGP32_OK);
    st = sgp32_eim_sqlite_store(db);
    sgp32_eim_euicc got;
    sgp32_eim_euicc_init(&got);
    assert_int_equal(st.euicc_get(st.ctx, e.eid, &got), SGP32_OK);
    assert_string_equal(got.label, "meter-3");
    assert_string_equal(got.push_address, "");
    assert_int_equal(next_id(&st, e.eid), id);
    snprintf(got.push_address, sizeof(got.push_address), "10.0.0.3:9443");
    assert_int_equal(st.euicc_update(st.ctx, &got), SGP32_OK);
    assert_int_equal(st.euicc_get(st.ctx, e.eid, &got), SGP32_OK);
    assert_string_equal(got.push_address, "10.0.0.3:9443");
    assert_plan(db, "euicc_push", "euicc_push");
    assert_plan(db, "relay_purge", "relay_expiry");
    sgp32_eim_sqlite_close(db);

    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 3); /* and on to version 3 in the same open */
    sqlite3_finalize(s);
    sqlite3_close(raw);
    sgp32_eim_euicc_free(&got);
    sgp32_eim_euicc_free(&e);
    remove_db(path);
}

static int collect_eid(void *arg, const char *eid)
{
    collected *c = arg;
    snprintf(c->items[c->count++], sizeof(c->items[0]), "%s", eid);
    return c->stop_after && c->count == c->stop_after;
}

/* Push candidates: a push address and a queued or delivered operation; pages by EID. */
static void push_candidates(void **state)
{
    fixture *f = *state;
    const sgp32_eim_store *st = &f->st;
    sgp32_eim_euicc e;
    sgp32_eim_euicc_init(&e);
    char eids[6][SGP32_EIM_EID_DIGITS + 1];
    for (int i = 0; i < 6; i++) {
        fill_euicc(&e, i);
        if (i == 1)
            e.push_address[0] = '\0'; /* polls only */
        assert_int_equal(st->euicc_insert(st->ctx, &e), SGP32_OK);
        snprintf(eids[i], sizeof(eids[i]), "%s", e.eid);
    }
    add_op(st, eids[0], SGP32_EIM_OP_QUEUED, "t", NULL, 0);
    add_op(st, eids[0], SGP32_EIM_OP_QUEUED, "t", NULL, 0);
    add_op(st, eids[1], SGP32_EIM_OP_QUEUED, "t", NULL, 0);    /* no push address */
    add_op(st, eids[2], SGP32_EIM_OP_DELIVERED, "t", NULL, 0); /* delivered: pushed again */
    add_op(st, eids[3], SGP32_EIM_OP_DONE, "t", NULL, 0);      /* nothing open */
    add_op(st, eids[5], SGP32_EIM_OP_QUEUED, "t", NULL, 0);
    collected c = {.count = 0};
    assert_int_equal(st->euicc_push_candidates(st->ctx, NULL, 0, collect_eid, &c), SGP32_OK);
    assert_int_equal(c.count, 3);
    assert_string_equal(c.items[0], eids[0]);
    assert_string_equal(c.items[1], eids[2]);
    assert_string_equal(c.items[2], eids[5]);
    c.count = 0;
    assert_int_equal(st->euicc_push_candidates(st->ctx, eids[0], 1, collect_eid, &c), SGP32_OK);
    assert_int_equal(c.count, 1);
    assert_string_equal(c.items[0], eids[2]);
    c.count = 0;
    c.stop_after = 1;
    assert_int_equal(st->euicc_push_candidates(st->ctx, NULL, 10, collect_eid, &c), SGP32_OK);
    assert_int_equal(c.count, 1);
    sgp32_eim_euicc_free(&e);
}

static void hot_statements_are_index_lookups(void **state)
{
    fixture *f = *state;
    assert_plan(f->db, "op_next", "USING INDEX op_active (eid=?)");
    assert_plan(f->db, "op_idempotent", "USING INDEX op_idempotency (created_by=? AND idempotency_key=?)");
    assert_plan(f->db, "op_expire", "USING INDEX op_expiry (expires>? AND expires<?)");
    assert_plan(f->db, "op_list_eid", "USING INDEX op_eid (eid=? AND id>?)");
    assert_plan(f->db, "op_list_state", "USING INDEX op_state (state=? AND id>?)");
    assert_plan(f->db, "op_list_eid_state", "USING INDEX op_eid (eid=? AND id>?)");
    assert_plan(f->db, "relay_get", "USING INDEX sqlite_autoindex_relay_1 (txid=?)");
    assert_plan(f->db, "relay_purge", "SEARCH relay USING INDEX relay_expiry");
    assert_plan(f->db, "outbox_next", "USING INDEX outbox_due (next_attempt<?)");
    assert_plan(f->db, "euicc_counter", "USING INDEX sqlite_autoindex_euicc_1 (eid=?)");
    assert_plan(f->db, "euicc_touch", "USING INDEX sqlite_autoindex_euicc_1 (eid=?)");
    assert_plan(f->db, "euicc_push", "euicc_push");
    char plan[64];
    assert_int_equal(sgp32_eim_sqlite_query_plan(f->db, "nope", plan, sizeof(plan)), SGP32_ERR_NOT_FOUND);
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

enum { BULK_EIDS = 1000, BULK_PER_EID = 100 };

static void large_backlog_stays_correct(void **state)
{
    fixture *f = *state;
    const sgp32_eim_store *st = &f->st;
    sgp32_eim_operation op;
    sgp32_eim_operation_init(&op);
    op.kind = SGP32_EIM_OP_PSMO;
    op.state = SGP32_EIM_OP_QUEUED;
    put_bytes(&op.request, "{\"psmo\":[{\"enable\":{\"iccid\":\"8944000000000000001\"}}]}");
    op.expires = 1000000;
    snprintf(op.created_by, sizeof(op.created_by), "bulk");
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int64_t first_of_500 = 0;
    assert_int_equal(st->tx_begin(st->ctx), SGP32_OK);
    for (int round = 0; round < BULK_PER_EID; round++)
        for (int i = 0; i < BULK_EIDS; i++) {
            make_eid(i, op.eid);
            assert_int_equal(st->op_insert(st->ctx, &op), SGP32_OK);
            if (i == 500 && round == 0)
                first_of_500 = op.id;
            if (round == 9 && i == BULK_EIDS - 1)
                print_message("first 10000 inserts: %.3f s\n", seconds_since(&start));
        }
    assert_int_equal(st->tx_end(st->ctx, true), SGP32_OK);
    print_message("%d operations inserted in one transaction in %.3f s\n", BULK_EIDS * BULK_PER_EID,
                  seconds_since(&start));

    char none[SGP32_EIM_EID_DIGITS + 1], busy[SGP32_EIM_EID_DIGITS + 1];
    make_eid(BULK_EIDS + 1, none);
    make_eid(500, busy);
    assert_int_equal(st->op_next(st->ctx, none, &op), SGP32_ERR_NOT_FOUND);
    assert_int_equal(st->op_next(st->ctx, busy, &op), SGP32_OK);
    assert_int_equal(op.id, first_of_500);
    /* finish it: the next one of that eUICC is BULK_EIDS ids later */
    op.state = SGP32_EIM_OP_DONE;
    assert_int_equal(st->op_update(st->ctx, &op), SGP32_OK);
    assert_int_equal(st->op_next(st->ctx, busy, &op), SGP32_OK);
    assert_int_equal(op.id, first_of_500 + BULK_EIDS);

    int64_t counts[SGP32_EIM_OP_STATE_COUNT];
    assert_int_equal(st->op_count(st->ctx, counts), SGP32_OK);
    assert_int_equal(counts[SGP32_EIM_OP_QUEUED], BULK_EIDS * BULK_PER_EID - 1);
    assert_int_equal(counts[SGP32_EIM_OP_DONE], 1);
    size_t expired = 1;
    assert_int_equal(st->op_expire(st->ctx, 999999, &expired), SGP32_OK);
    assert_int_equal(expired, 0);
    assert_plan(f->db, "op_next", "op_active");
    sgp32_eim_operation_free(&op);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(euicc_round_trip_and_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(euicc_list_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(profiles_put_replace_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(operation_round_trip_and_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(op_next_is_fifo_over_live_operations, setup, teardown),
        cmocka_unit_test_setup_teardown(op_list_filters_and_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(list_callback_may_reenter, setup, teardown),
        cmocka_unit_test_setup_teardown(idempotency_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(expiry_and_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(results_are_deduplicated, setup, teardown),
        cmocka_unit_test_setup_teardown(relay_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(relay_sessions_purged, setup, teardown),
        cmocka_unit_test_setup_teardown(outbox_due_order, setup, teardown),
        cmocka_unit_test_setup_teardown(events_append_and_list, setup, teardown),
        cmocka_unit_test_setup_teardown(tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(transactions_commit_and_roll_back, setup, teardown),
        cmocka_unit_test_setup_teardown(other_threads_wait_for_a_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(counter_strictly_increases_across_threads, setup, teardown),
        cmocka_unit_test(file_database_persists),
        cmocka_unit_test(version_1_file_is_migrated),
        cmocka_unit_test_setup_teardown(push_candidates, setup, teardown),
        cmocka_unit_test_setup_teardown(hot_statements_are_index_lookups, setup, teardown),
        cmocka_unit_test_setup_teardown(large_backlog_stays_correct, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

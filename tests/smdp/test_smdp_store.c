/*
 * The SM-DP+ SQLite store (lib/smdp/smdp_store_sqlite.c) through its public API: the two lookups
 * by state (order_find_available, order_find_default) that schema version 2 serves from partial
 * indexes, order_update's compare-and-set (every column, the IMSI of version 3 too), session
 * records with a BPP, per-state counts, the in-place migration of version 1 and 2 files, refusal
 * of an unknown version, and the query plans of the two lookups. Every test works on its own file in its own
 * mkdtemp directory.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "sgp32/smdp_server.h"

/* Two EIDs (32 digits) and the ICCIDs the tests use (19 digits; the store keeps them as text). */
#define EID_1    "89049032000001000000000000000001"
#define EID_2    "89049032000001000000000000000002"
#define ICCID(n) "89000000000000000" #n

typedef struct fixture {
    char dir[64];
    char path[96];
    sgp32_smdp_sqlite *db; /* closed by teardown when a test fails half way */
    sqlite3 *raw;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/sgp32-smdp-store-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
    *state = f;
    return 0;
}

/* Removes the database and whatever WAL / shm files SQLite left next to it. */
static int teardown(void **state)
{
    fixture *f = *state;
    sgp32_smdp_sqlite_close(f->db);
    if (f->raw)
        sqlite3_close(f->raw);
    DIR *d = opendir(f->dir);
    if (d) {
        struct dirent *e;
        char file[sizeof(f->dir) + 300];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(file, sizeof(file), "%s/%s", f->dir, e->d_name);
            unlink(file);
        }
        closedir(d);
    }
    int rc = rmdir(f->dir);
    free(f);
    return rc;
}

static sgp32_smdp_store open_store(fixture *f)
{
    assert_null(f->db);
    assert_int_equal(sgp32_smdp_sqlite_open(f->path, &f->db), SGP32_OK);
    assert_non_null(f->db);
    return sgp32_smdp_sqlite_store(f->db);
}

static void close_store(fixture *f)
{
    sgp32_smdp_sqlite_close(f->db);
    f->db = NULL;
}

static void open_raw(fixture *f)
{
    assert_null(f->raw);
    assert_int_equal(sqlite3_open(f->path, &f->raw), SQLITE_OK);
}

static void close_raw(fixture *f)
{
    assert_int_equal(sqlite3_close(f->raw), SQLITE_OK);
    f->raw = NULL;
}

static void exec_raw(fixture *f, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(f->raw, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
    sqlite3_free(msg);
}

/* The single integer a query returns (-1 when it returns no row). */
static int64_t query_int(fixture *f, const char *sql)
{
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(f->raw, sql, -1, &s, NULL), SQLITE_OK);
    int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    return v;
}

static bool index_exists(fixture *f, const char *name)
{
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = '%s'",
             name);
    return query_int(f, sql) == 1;
}

static sgp32_smdp_order make_order(const char *iccid, const char *type, sgp32_smdp_order_state st,
                                   const char *eid, const char *matching_id, int64_t updated)
{
    sgp32_smdp_order o;
    memset(&o, 0, sizeof(o));
    snprintf(o.iccid, sizeof(o.iccid), "%s", iccid);
    snprintf(o.profile_type, sizeof(o.profile_type), "%s", type);
    o.state = st;
    snprintf(o.eid, sizeof(o.eid), "%s", eid);
    snprintf(o.matching_id, sizeof(o.matching_id), "%s", matching_id);
    o.updated = updated;
    return o;
}

static void insert(const sgp32_smdp_store *s, const char *iccid, const char *type, sgp32_smdp_order_state st,
                   const char *eid, const char *matching_id, int64_t updated)
{
    sgp32_smdp_order o = make_order(iccid, type, st, eid, matching_id, updated);
    assert_int_equal(s->order_insert(s->ctx, &o), SGP32_OK);
}

/* Read the order, change its state (and updated), write it back with the version just read. */
static void move_order(const sgp32_smdp_store *s, const char *iccid, sgp32_smdp_order_state st,
                       int64_t updated)
{
    sgp32_smdp_order o;
    assert_int_equal(s->order_get(s->ctx, iccid, &o), SGP32_OK);
    o.state = st;
    o.updated = updated;
    assert_int_equal(s->order_update(s->ctx, &o), SGP32_OK);
}

static void assert_available(const sgp32_smdp_store *s, const char *type, const char *iccid)
{
    sgp32_smdp_order o;
    assert_int_equal(s->order_find_available(s->ctx, type, &o), SGP32_OK);
    assert_string_equal(o.iccid, iccid);
    assert_string_equal(o.profile_type, type);
    assert_int_equal(o.state, SGP32_ORDER_AVAILABLE);
}

static void assert_default(const sgp32_smdp_store *s, const char *eid, const char *iccid)
{
    sgp32_smdp_order o;
    assert_int_equal(s->order_find_default(s->ctx, eid, &o), SGP32_OK);
    assert_string_equal(o.iccid, iccid);
    assert_string_equal(o.eid, eid);
    assert_string_equal(o.matching_id, "");
    assert_true(o.state == SGP32_ORDER_RELEASED || o.state == SGP32_ORDER_DOWNLOADED);
}

/* ------------------------------------------------------------------ order_find_available */

/* The lowest ICCID among the Available orders of the type, whatever the insertion order, and
 * never an order of another state or type (some of which have lower ICCIDs on purpose). */
static void find_available_lowest_iccid(void **state)
{
    fixture *f = *state;
    sgp32_smdp_store s = open_store(f);
    insert(&s, ICCID(50), "A", SGP32_ORDER_AVAILABLE, "", "", 0);
    insert(&s, ICCID(30), "A", SGP32_ORDER_AVAILABLE, "", "", 0);
    insert(&s, ICCID(10), "A", SGP32_ORDER_ALLOCATED, "", "", 0);
    insert(&s, ICCID(15), "A", SGP32_ORDER_UNAVAILABLE, "", "", 0);
    insert(&s, ICCID(20), "A", SGP32_ORDER_RELEASED, EID_1, "", 0);
    insert(&s, ICCID(25), "B", SGP32_ORDER_AVAILABLE, "", "", 0);
    insert(&s, ICCID(05), "B", SGP32_ORDER_INSTALLED, EID_1, "", 0);
    insert(&s, ICCID(40), "B", SGP32_ORDER_AVAILABLE, "", "", 0);

    assert_available(&s, "A", ICCID(30));
    assert_available(&s, "B", ICCID(25));
    sgp32_smdp_order o;
    assert_int_equal(s.order_find_available(s.ctx, "C", &o), SGP32_ERR_NOT_FOUND);
    /* the type is an exact match, not a prefix or case-insensitive one */
    assert_int_equal(s.order_find_available(s.ctx, "a", &o), SGP32_ERR_NOT_FOUND);
    assert_int_equal(s.order_find_available(s.ctx, "", &o), SGP32_ERR_NOT_FOUND);
    close_store(f);
}

/* An update that leaves Available takes the order out of the lookup (the partial index follows
 * the row); one that returns to Available (cancelOrder) puts it back. */
static void find_available_follows_updates(void **state)
{
    fixture *f = *state;
    sgp32_smdp_store s = open_store(f);
    insert(&s, ICCID(11), "A", SGP32_ORDER_AVAILABLE, "", "", 0);
    insert(&s, ICCID(12), "A", SGP32_ORDER_AVAILABLE, "", "", 0);
    insert(&s, ICCID(13), "B", SGP32_ORDER_AVAILABLE, "", "", 0);

    assert_available(&s, "A", ICCID(11));
    move_order(&s, ICCID(11), SGP32_ORDER_ALLOCATED, 100);
    assert_available(&s, "A", ICCID(12));
    move_order(&s, ICCID(12), SGP32_ORDER_LINKED, 101);
    sgp32_smdp_order o;
    assert_int_equal(s.order_find_available(s.ctx, "A", &o), SGP32_ERR_NOT_FOUND);
    assert_available(&s, "B", ICCID(13)); /* the other type is untouched */

    move_order(&s, ICCID(12), SGP32_ORDER_AVAILABLE, 102);
    assert_available(&s, "A", ICCID(12));
    move_order(&s, ICCID(11), SGP32_ORDER_AVAILABLE, 103);
    assert_available(&s, "A", ICCID(11));

    /* a type change moves the order between lookups too */
    assert_int_equal(s.order_get(s.ctx, ICCID(11), &o), SGP32_OK);
    snprintf(o.profile_type, sizeof(o.profile_type), "B");
    assert_int_equal(s.order_update(s.ctx, &o), SGP32_OK);
    assert_available(&s, "A", ICCID(12));
    assert_available(&s, "B", ICCID(11));
    close_store(f);
}

/* ------------------------------------------------------------------ order_find_default */

/* Released or Downloaded, empty matchingId, this EID; the least recently updated first. */
static void find_default_filters_and_order(void **state)
{
    fixture *f = *state;
    sgp32_smdp_store s = open_store(f);
    insert(&s, ICCID(01), "A", SGP32_ORDER_RELEASED, EID_1, "", 300);
    insert(&s, ICCID(02), "A", SGP32_ORDER_DOWNLOADED, EID_1, "", 200);
    /* lower updated than the two above, but each excluded by one condition */
    insert(&s, ICCID(03), "A", SGP32_ORDER_RELEASED, EID_1, "MID-3", 10);
    insert(&s, ICCID(04), "A", SGP32_ORDER_RELEASED, EID_2, "", 20);
    insert(&s, ICCID(05), "A", SGP32_ORDER_CONFIRMED, EID_1, "", 30);
    insert(&s, ICCID(06), "A", SGP32_ORDER_INSTALLED, EID_1, "", 40);
    insert(&s, ICCID(07), "A", SGP32_ORDER_LINKED, EID_1, "", 50);
    insert(&s, ICCID(08), "A", SGP32_ORDER_ERROR, EID_1, "", 60);
    insert(&s, ICCID(09), "A", SGP32_ORDER_AVAILABLE, "", "", 0);

    assert_default(&s, EID_1, ICCID(02));
    assert_default(&s, EID_2, ICCID(04));
    sgp32_smdp_order o;
    assert_int_equal(s.order_find_default(s.ctx, "89049032000001000000000000000009", &o),
                     SGP32_ERR_NOT_FOUND);
    /* the empty EID finds nothing: the only order without one is Available */
    assert_int_equal(s.order_find_default(s.ctx, "", &o), SGP32_ERR_NOT_FOUND);

    /* Installed: gone from the lookup; the Released one follows */
    move_order(&s, ICCID(02), SGP32_ORDER_INSTALLED, 400);
    assert_default(&s, EID_1, ICCID(01));
    /* the order with a matching id stays out even when it becomes the oldest Released */
    move_order(&s, ICCID(01), SGP32_ORDER_ERROR, 500);
    assert_int_equal(s.order_find_default(s.ctx, EID_1, &o), SGP32_ERR_NOT_FOUND);

    /* Confirmed -> Released enters the lookup; a retry (Downloaded -> Released) re-sorts by updated */
    move_order(&s, ICCID(05), SGP32_ORDER_RELEASED, 600);
    assert_default(&s, EID_1, ICCID(05));
    move_order(&s, ICCID(07), SGP32_ORDER_DOWNLOADED, 550);
    assert_default(&s, EID_1, ICCID(07));
    move_order(&s, ICCID(07), SGP32_ORDER_RELEASED, 700);
    assert_default(&s, EID_1, ICCID(05));

    /* a matching id set later takes it out */
    assert_int_equal(s.order_get(s.ctx, ICCID(05), &o), SGP32_OK);
    snprintf(o.matching_id, sizeof(o.matching_id), "MID-5");
    assert_int_equal(s.order_update(s.ctx, &o), SGP32_OK);
    assert_default(&s, EID_1, ICCID(07));
    close_store(f);
}

/* ------------------------------------------------------------------ order_update / insert */

static void assert_same_order(const sgp32_smdp_order *a, const sgp32_smdp_order *b)
{
    assert_string_equal(a->iccid, b->iccid);
    assert_string_equal(a->profile_type, b->profile_type);
    assert_int_equal(a->state, b->state);
    assert_string_equal(a->eid, b->eid);
    assert_string_equal(a->matching_id, b->matching_id);
    assert_int_equal(a->cc_required, b->cc_required);
    assert_memory_equal(a->cc_sha256, b->cc_sha256, sizeof(a->cc_sha256));
    assert_int_equal(a->cc_failures, b->cc_failures);
    assert_int_equal(a->download_attempts, b->download_attempts);
    assert_string_equal(a->smds_address, b->smds_address);
    assert_string_equal(a->transaction_id, b->transaction_id);
    assert_int_equal(a->updated, b->updated);
    assert_int_equal(a->version, b->version);
    assert_string_equal(a->imsi, b->imsi);
}

/* A writer holding an old version loses and changes nothing; the fresh one bumps the version. */
static void order_update_compare_and_set(void **state)
{
    fixture *f = *state;
    sgp32_smdp_store s = open_store(f);
    sgp32_smdp_order o = make_order(ICCID(77), "A", SGP32_ORDER_AVAILABLE, "", "", 1000);
    o.cc_required = true;
    for (size_t i = 0; i < sizeof(o.cc_sha256); i++)
        o.cc_sha256[i] = (uint8_t)(0xA0 + i);
    snprintf(o.smds_address, sizeof(o.smds_address), "smds.example.com");
    snprintf(o.imsi, sizeof(o.imsi), "234150999999977");
    assert_int_equal(s.order_insert(s.ctx, &o), SGP32_OK);
    /* the same ICCID again is refused and does not overwrite */
    sgp32_smdp_order dup = make_order(ICCID(77), "B", SGP32_ORDER_RELEASED, EID_1, "", 1);
    assert_int_equal(s.order_insert(s.ctx, &dup), SGP32_ERR_STATE);

    sgp32_smdp_order first, second;
    assert_int_equal(s.order_get(s.ctx, ICCID(77), &first), SGP32_OK);
    assert_int_equal(first.version, 1);
    o.version = 1;
    assert_same_order(&first, &o);
    second = first;

    /* first writer wins: every column written, version 1 -> 2 */
    first.state = SGP32_ORDER_LINKED;
    snprintf(first.eid, sizeof(first.eid), "%s", EID_1);
    snprintf(first.matching_id, sizeof(first.matching_id), "MID-77");
    first.cc_failures = 2;
    first.download_attempts = 3;
    snprintf(first.transaction_id, sizeof(first.transaction_id), "00112233445566778899AABBCCDDEEFF");
    first.updated = 2000;
    assert_int_equal(s.order_update(s.ctx, &first), SGP32_OK);
    assert_int_equal(first.version, 2);

    /* second writer read version 1: refused, its copy keeps its version, the row keeps the first write */
    second.state = SGP32_ORDER_ALLOCATED;
    second.updated = 3000;
    assert_int_equal(s.order_update(s.ctx, &second), SGP32_ERR_STATE);
    assert_int_equal(second.version, 1);
    sgp32_smdp_order now;
    assert_int_equal(s.order_get(s.ctx, ICCID(77), &now), SGP32_OK);
    assert_same_order(&now, &first);

    /* re-read and retry: succeeds, version 3 */
    now.state = SGP32_ORDER_CONFIRMED;
    assert_int_equal(s.order_update(s.ctx, &now), SGP32_OK);
    assert_int_equal(now.version, 3);
    sgp32_smdp_order again;
    assert_int_equal(s.order_get(s.ctx, ICCID(77), &again), SGP32_OK);
    assert_same_order(&again, &now);

    /* a version from the future is as stale as one from the past */
    again.version = 99;
    assert_int_equal(s.order_update(s.ctx, &again), SGP32_ERR_STATE);
    /* an order that does not exist cannot be updated (no upsert) */
    sgp32_smdp_order ghost = make_order(ICCID(78), "A", SGP32_ORDER_AVAILABLE, "", "", 0);
    ghost.version = 1;
    assert_int_equal(s.order_update(s.ctx, &ghost), SGP32_ERR_STATE);
    assert_int_equal(s.order_get(s.ctx, ICCID(78), &ghost), SGP32_ERR_NOT_FOUND);
    close_store(f);
}

/* ------------------------------------------------------------------ sessions */

static void fill_record(sgp32_smdp_session_record *r, const char *txid, const char *iccid, int credential,
                        int64_t expires, uint8_t seed, size_t state_len, size_t bpp_len)
{
    snprintf(r->transaction_id, sizeof(r->transaction_id), "%s", txid);
    snprintf(r->iccid, sizeof(r->iccid), "%s", iccid);
    r->credential_index = credential;
    r->expires = expires;
    for (size_t i = 0; i < sizeof(r->pdr_sha256); i++)
        r->pdr_sha256[i] = (uint8_t)(seed + i);
    sgp32_buf_reset(&r->state);
    sgp32_buf_reset(&r->bpp);
    for (size_t i = 0; i < state_len; i++)
        assert_int_equal(sgp32_buf_append_byte(&r->state, (uint8_t)(seed ^ i)), SGP32_OK);
    /* every byte value, zeros included, so a text binding would show */
    for (size_t i = 0; i < bpp_len; i++)
        assert_int_equal(sgp32_buf_append_byte(&r->bpp, (uint8_t)(i * 7 + seed)), SGP32_OK);
}

static void assert_same_record(const sgp32_smdp_session_record *a, const sgp32_smdp_session_record *b)
{
    assert_string_equal(a->transaction_id, b->transaction_id);
    assert_string_equal(a->iccid, b->iccid);
    assert_int_equal(a->credential_index, b->credential_index);
    assert_int_equal(a->expires, b->expires);
    assert_memory_equal(a->pdr_sha256, b->pdr_sha256, sizeof(a->pdr_sha256));
    assert_int_equal(a->state.len, b->state.len);
    if (a->state.len)
        assert_memory_equal(a->state.data, b->state.data, a->state.len);
    assert_int_equal(a->bpp.len, b->bpp.len);
    if (a->bpp.len)
        assert_memory_equal(a->bpp.data, b->bpp.data, a->bpp.len);
}

#define TXID_1 "0123456789ABCDEF0123456789ABCDEF"
#define TXID_2 "FEDCBA9876543210FEDCBA9876543210"

static void session_put_get_replace_delete(void **state)
{
    fixture *f = *state;
    sgp32_smdp_store s = open_store(f);
    int64_t later = (int64_t)time(NULL) + 3600;
    sgp32_smdp_session_record in, other, out;
    sgp32_smdp_session_record_init(&in);
    sgp32_smdp_session_record_init(&other);
    sgp32_smdp_session_record_init(&out);

    fill_record(&in, TXID_1, ICCID(42), 3, later, 0x11, 700, 12 * 1024 + 5);
    assert_int_equal(s.session_put(s.ctx, &in), SGP32_OK);
    fill_record(&other, TXID_2, "", 0, later, 0x22, 10, 0);
    assert_int_equal(s.session_put(s.ctx, &other), SGP32_OK);

    assert_int_equal(s.session_get(s.ctx, TXID_1, &out), SGP32_OK);
    assert_same_record(&out, &in);
    /* the same out reused: the smaller record must not keep the first one's BPP or state tail */
    assert_int_equal(s.session_get(s.ctx, TXID_2, &out), SGP32_OK);
    assert_same_record(&out, &other);

    /* put again replaces every field, a record without BPP included */
    fill_record(&in, TXID_1, ICCID(43), 1, later + 60, 0x33, 300, 0);
    assert_int_equal(s.session_put(s.ctx, &in), SGP32_OK);
    assert_int_equal(s.session_get(s.ctx, TXID_1, &out), SGP32_OK);
    assert_same_record(&out, &in);
    fill_record(&in, TXID_1, ICCID(43), 1, later + 120, 0x44, 300, 12 * 1024);
    assert_int_equal(s.session_put(s.ctx, &in), SGP32_OK);
    assert_int_equal(s.session_get(s.ctx, TXID_1, &out), SGP32_OK);
    assert_same_record(&out, &in);

    /* delete removes that one only */
    assert_int_equal(s.session_delete(s.ctx, TXID_1), SGP32_OK);
    assert_int_equal(s.session_get(s.ctx, TXID_1, &out), SGP32_ERR_NOT_FOUND);
    assert_int_equal(s.session_get(s.ctx, TXID_2, &out), SGP32_OK);
    assert_same_record(&out, &other);
    assert_int_equal(s.session_get(s.ctx, "00000000000000000000000000000000", &out), SGP32_ERR_NOT_FOUND);
    assert_int_equal(s.session_delete(s.ctx, TXID_1), SGP32_ERR_NOT_FOUND); /* already gone */

    sgp32_smdp_session_record_free(&in);
    sgp32_smdp_session_record_free(&other);
    sgp32_smdp_session_record_free(&out);
    close_store(f);
}

/* Sessions outlive a restart until they expire; open drops the expired ones. */
static void session_survives_reopen_until_expired(void **state)
{
    fixture *f = *state;
    sgp32_smdp_store s = open_store(f);
    int64_t now = (int64_t)time(NULL);
    sgp32_smdp_session_record live, dead, out;
    sgp32_smdp_session_record_init(&live);
    sgp32_smdp_session_record_init(&dead);
    sgp32_smdp_session_record_init(&out);
    fill_record(&live, TXID_1, ICCID(42), 2, now + 3600, 0x55, 100, 12 * 1024);
    fill_record(&dead, TXID_2, ICCID(43), 2, now - 10, 0x66, 100, 0);
    assert_int_equal(s.session_put(s.ctx, &live), SGP32_OK);
    assert_int_equal(s.session_put(s.ctx, &dead), SGP32_OK);
    close_store(f);

    s = open_store(f);
    assert_int_equal(s.session_get(s.ctx, TXID_1, &out), SGP32_OK);
    assert_same_record(&out, &live);
    assert_int_equal(s.session_get(s.ctx, TXID_2, &out), SGP32_ERR_NOT_FOUND);
    sgp32_smdp_session_record_free(&live);
    sgp32_smdp_session_record_free(&dead);
    sgp32_smdp_session_record_free(&out);
    close_store(f);
}

/* ------------------------------------------------------------------ counts */

static void count_per_state(void **state)
{
    fixture *f = *state;
    sgp32_smdp_store s = open_store(f);
    int64_t counts[SGP32_ORDER_STATE_COUNT];
    assert_int_equal(sgp32_smdp_sqlite_count(f->db, counts), SGP32_OK);
    for (int i = 0; i < SGP32_ORDER_STATE_COUNT; i++)
        assert_int_equal(counts[i], 0);

    insert(&s, ICCID(01), "A", SGP32_ORDER_AVAILABLE, "", "", 0);
    insert(&s, ICCID(02), "A", SGP32_ORDER_AVAILABLE, "", "", 0);
    insert(&s, ICCID(03), "B", SGP32_ORDER_AVAILABLE, "", "", 0);
    insert(&s, ICCID(04), "A", SGP32_ORDER_RELEASED, EID_1, "", 0);
    insert(&s, ICCID(05), "A", SGP32_ORDER_UNAVAILABLE, "", "", 0);
    move_order(&s, ICCID(02), SGP32_ORDER_ALLOCATED, 1);

    assert_int_equal(sgp32_smdp_sqlite_count(f->db, counts), SGP32_OK);
    int64_t want[SGP32_ORDER_STATE_COUNT] = {0};
    want[SGP32_ORDER_AVAILABLE] = 2; /* both types together */
    want[SGP32_ORDER_ALLOCATED] = 1;
    want[SGP32_ORDER_RELEASED] = 1;
    want[SGP32_ORDER_UNAVAILABLE] = 1;
    for (int i = 0; i < SGP32_ORDER_STATE_COUNT; i++)
        assert_int_equal(counts[i], want[i]);
    assert_int_equal(sgp32_smdp_sqlite_count(NULL, counts), SGP32_ERR_INVALID_ARGUMENT);
    assert_int_equal(sgp32_smdp_sqlite_count(f->db, NULL), SGP32_ERR_INVALID_ARGUMENT);
    close_store(f);
}

/* ------------------------------------------------------------------ schema versions */

/* The version 1 schema as the store created it before version 2 (its own text, kept here so the
 * test does not depend on the current one). */
static const char schema_v1[] =
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE orders ("
    " iccid TEXT PRIMARY KEY, profile_type TEXT NOT NULL, state INTEGER NOT NULL,"
    " eid TEXT NOT NULL DEFAULT '', matching_id TEXT NOT NULL DEFAULT '',"
    " cc_required INTEGER NOT NULL DEFAULT 0, cc_sha256 BLOB, cc_failures INTEGER NOT NULL DEFAULT 0,"
    " download_attempts INTEGER NOT NULL DEFAULT 0, smds_address TEXT NOT NULL DEFAULT '',"
    " transaction_id TEXT NOT NULL DEFAULT '', updated INTEGER NOT NULL DEFAULT 0,"
    " version INTEGER NOT NULL DEFAULT 1);"
    "CREATE INDEX orders_matching_id ON orders (matching_id);"
    "CREATE INDEX orders_type_state ON orders (profile_type, state);"
    "CREATE INDEX orders_eid ON orders (eid, state);"
    "CREATE TABLE sessions ("
    " txid TEXT PRIMARY KEY, iccid TEXT NOT NULL DEFAULT '', credential INTEGER NOT NULL,"
    " expires INTEGER NOT NULL, pdr_sha256 BLOB, state BLOB NOT NULL, bpp BLOB);"
    "INSERT INTO meta (key, value) VALUES ('schema', 1);";

/* A version 1 file with a few orders, the way a deployment of the previous release left it. */
static void make_v1_file(fixture *f)
{
    open_raw(f);
    exec_raw(f, "PRAGMA journal_mode = WAL");
    exec_raw(f, schema_v1);
    exec_raw(
        f,
        "INSERT INTO orders (iccid, profile_type, state, version) VALUES"
        " ('" ICCID(21) "', 'A', 0, 1), ('" ICCID(20) "', 'A', 1, 4), ('" ICCID(
            22) "', 'A', 0, 1);"
                "INSERT INTO orders (iccid, profile_type, state, eid, matching_id, updated, version) VALUES"
                " ('" ICCID(30) "', 'B', 4, '" EID_1 "', '', 50, 3),"
                                " ('" ICCID(31) "', 'B', 5, '" EID_1 "', '', 40, 5),"
                                                " ('" ICCID(32) "', 'B', 4, '" EID_1 "', 'MID-32', 10, 2);");
    close_raw(f);
}

/* Version 4: the partial indexes (2), orders.imsi (3) and the outbox (4). */
static void assert_current_schema(fixture *f)
{
    assert_int_equal(query_int(f, "SELECT value FROM meta WHERE key = 'schema'"), 4);
    assert_int_equal(
        query_int(f, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'outbox'"), 1);
    assert_int_equal(query_int(f, "SELECT count(*) FROM pragma_table_info('orders') WHERE name = 'imsi'"), 1);
    assert_true(index_exists(f, "orders_available"));
    assert_true(index_exists(f, "orders_default"));
    assert_true(index_exists(f, "orders_matching_id"));
    assert_false(index_exists(f, "orders_type_state"));
    assert_false(index_exists(f, "orders_eid"));
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(f->raw, "PRAGMA integrity_check", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "ok");
    sqlite3_finalize(s);
}

/* Open migrates a version 1 file in place (1 -> 2 -> 3): rows and versions kept, lookups work,
 * indexes swapped, no IMSI; a second open finds the current version and leaves it alone. */
static void migrate_v1_to_current(void **state)
{
    fixture *f = *state;
    make_v1_file(f);

    sgp32_smdp_store s = open_store(f);
    sgp32_smdp_order o;
    assert_int_equal(s.order_get(s.ctx, ICCID(20), &o), SGP32_OK);
    assert_int_equal(o.state, SGP32_ORDER_ALLOCATED);
    assert_int_equal(o.version, 4);
    assert_int_equal(s.order_get(s.ctx, ICCID(32), &o), SGP32_OK);
    assert_string_equal(o.matching_id, "MID-32");
    assert_string_equal(o.imsi, "");
    assert_available(&s, "A", ICCID(21));
    assert_default(&s, EID_1, ICCID(31));
    assert_int_equal(s.order_find_by_matching_id(s.ctx, "MID-32", &o), SGP32_OK);
    assert_string_equal(o.iccid, ICCID(32));
    int64_t counts[SGP32_ORDER_STATE_COUNT];
    assert_int_equal(sgp32_smdp_sqlite_count(f->db, counts), SGP32_OK);
    assert_int_equal(counts[SGP32_ORDER_AVAILABLE], 2);
    assert_int_equal(counts[SGP32_ORDER_ALLOCATED], 1);
    assert_int_equal(counts[SGP32_ORDER_RELEASED], 2);
    assert_int_equal(counts[SGP32_ORDER_DOWNLOADED], 1);
    /* the migrated rows are writable with the versions they had */
    move_order(&s, ICCID(21), SGP32_ORDER_ALLOCATED, 60);
    assert_available(&s, "A", ICCID(22));
    close_store(f);

    open_raw(f);
    assert_current_schema(f);
    close_raw(f);

    /* idempotent: the second open neither fails nor changes anything */
    s = open_store(f);
    assert_available(&s, "A", ICCID(22));
    assert_default(&s, EID_1, ICCID(31));
    close_store(f);
    open_raw(f);
    assert_current_schema(f);
    assert_int_equal(query_int(f, "SELECT count(*) FROM orders"), 6);
    close_raw(f);
}

/* A version 2 file (partial indexes, no imsi column) gets the column; its orders keep everything
 * and have no IMSI, and an IMSI can be stored in them from then on. */
static void migrate_v2_to_v3(void **state)
{
    fixture *f = *state;
    make_v1_file(f);
    open_raw(f);
    exec_raw(
        f, "DROP INDEX orders_type_state; DROP INDEX orders_eid;"
           "CREATE INDEX orders_available ON orders (profile_type, iccid) WHERE state = 0;"
           "CREATE INDEX orders_default ON orders (eid, updated) WHERE matching_id = '' AND state IN (4, 5);"
           "UPDATE meta SET value = 2 WHERE key = 'schema';");
    close_raw(f);

    sgp32_smdp_store s = open_store(f);
    sgp32_smdp_order o;
    assert_int_equal(s.order_get(s.ctx, ICCID(20), &o), SGP32_OK);
    assert_int_equal(o.version, 4);
    assert_string_equal(o.imsi, "");
    snprintf(o.imsi, sizeof(o.imsi), "%s", "001010000000020");
    assert_int_equal(s.order_update(s.ctx, &o), SGP32_OK);
    assert_int_equal(s.order_get(s.ctx, ICCID(20), &o), SGP32_OK);
    assert_string_equal(o.imsi, "001010000000020");
    assert_int_equal(o.version, 5);
    close_store(f);
    open_raw(f);
    assert_current_schema(f);
    close_raw(f);
}

/* A new file is created at the current version directly. */
static void new_file_is_current(void **state)
{
    fixture *f = *state;
    open_store(f);
    close_store(f);
    open_raw(f);
    assert_current_schema(f);
    close_raw(f);
    open_store(f);
    close_store(f);
}

/* A file from a newer release is refused, and the refusal leaves it as it was (no tables added). */
static void unknown_version_refused(void **state)
{
    fixture *f = *state;
    open_raw(f);
    exec_raw(f, "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
                "INSERT INTO meta (key, value) VALUES ('schema', 99);");
    close_raw(f);

    static int sentinel;
    sgp32_smdp_sqlite *db = (sgp32_smdp_sqlite *)(void *)&sentinel; /* open must reset it to NULL */
    assert_int_equal(sgp32_smdp_sqlite_open(f->path, &db), SGP32_ERR_STORE_VERSION);
    assert_null(db);

    open_raw(f);
    assert_int_equal(query_int(f, "SELECT value FROM meta WHERE key = 'schema'"), 99);
    /* not even switched to WAL: journal_mode comes after the version check */
    sqlite3_stmt *mode = NULL;
    assert_int_equal(sqlite3_prepare_v2(f->raw, "PRAGMA journal_mode", -1, &mode, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(mode), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(mode, 0), "delete");
    sqlite3_finalize(mode);
    assert_int_equal(query_int(f, "SELECT count(*) FROM sqlite_master WHERE name <> 'meta' AND name NOT LIKE "
                                  "'sqlite_autoindex_%'"),
                     0);
    close_raw(f);
    /* refused again: nothing was half-migrated by the first attempt */
    assert_int_equal(sgp32_smdp_sqlite_open(f->path, &db), SGP32_ERR_STORE_VERSION);
    assert_null(db);
}

/* ------------------------------------------------------------------ query plans */

/* True when EXPLAIN QUERY PLAN of sql mentions the index (as "USING INDEX name" or "USING
 * COVERING INDEX name"). */
static bool plan_uses(fixture *f, const char *sql, const char *index)
{
    char eqp[512];
    snprintf(eqp, sizeof(eqp), "EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(f->raw, eqp, -1, &s, NULL), SQLITE_OK);
    char want[80];
    snprintf(want, sizeof(want), "INDEX %s", index);
    bool found = false;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *detail = (const char *)sqlite3_column_text(s, 3);
        if (detail && strstr(detail, want))
            found = true;
    }
    sqlite3_finalize(s);
    return found;
}

/*
 * The two lookups mirror the store's own statements (ST_ORDER_AVAILABLE and ST_ORDER_DEFAULT in
 * smdp_store_sqlite.c): first with iccid only and literals, then with every column and the bound
 * parameter as the store prepares them, since a covering plan could hide a worse one.
 */
static const char *const available_sql[] = {
    "SELECT iccid FROM orders WHERE profile_type = 'x' AND state = 0 ORDER BY iccid LIMIT 1",
    "SELECT * FROM orders WHERE profile_type = ?1 AND state = 0 ORDER BY iccid LIMIT 1",
};
static const char *const default_sql[] = {
    "SELECT iccid FROM orders WHERE eid = 'e' AND matching_id = '' AND state IN (4, 5) ORDER BY updated "
    "LIMIT 1",
    "SELECT * FROM orders WHERE eid = ?1 AND matching_id = '' AND state IN (4, 5) ORDER BY updated LIMIT 1",
};

static void assert_plans(fixture *f)
{
    for (size_t i = 0; i < 2; i++) {
        if (!plan_uses(f, available_sql[i], "orders_available"))
            fail_msg("not orders_available: %s", available_sql[i]);
        if (!plan_uses(f, default_sql[i], "orders_default"))
            fail_msg("not orders_default: %s", default_sql[i]);
    }
}

static void query_plans_new_file(void **state)
{
    fixture *f = *state;
    sgp32_smdp_store s = open_store(f);
    /* some rows, so the plan is not the one of an empty table only */
    for (int i = 0; i < 200; i++) {
        char iccid[32];
        snprintf(iccid, sizeof(iccid), "8900000000000%06d", i);
        insert(&s, iccid, i % 2 ? "A" : "B", (sgp32_smdp_order_state)(i % SGP32_ORDER_STATE_COUNT),
               i % 3 ? EID_1 : "", "", i);
    }
    close_store(f);
    open_raw(f);
    assert_plans(f);
    close_raw(f);
}

static void query_plans_migrated_file(void **state)
{
    fixture *f = *state;
    make_v1_file(f);
    open_store(f);
    close_store(f);
    open_raw(f);
    assert_plans(f);
    close_raw(f);
}

/* How many times SQLite prepared sql again while it ran with n different values bound to ?1. */
static int reprepares(fixture *f, const char *sql, int n)
{
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v3(f->raw, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL), SQLITE_OK);
    for (int i = 0; i < n; i++) {
        char value[32];
        snprintf(value, sizeof(value), "MID-%d", i);
        sqlite3_bind_text(s, 1, value, -1, SQLITE_TRANSIENT);
        while (sqlite3_step(s) == SQLITE_ROW)
            ;
        sqlite3_reset(s);
    }
    int count = sqlite3_stmt_status(s, SQLITE_STMTSTATUS_REPREPARE, 0);
    sqlite3_finalize(s);
    return count;
}

/*
 * The lookup by matchingId (ST_ORDER_BY_MATCHING_ID) names its index: left to the planner, the
 * partial index orders_default (WHERE matching_id = '') makes SQLite compare the bound value with
 * '' and prepare the statement again whenever the value changes, i.e. on every download.
 */
static void matching_id_lookup_is_not_reprepared(void **state)
{
    fixture *f = *state;
    open_store(f);
    close_store(f);
    open_raw(f);
    assert_int_equal(reprepares(f,
                                "SELECT * FROM orders INDEXED BY orders_matching_id WHERE matching_id = ?1 "
                                "ORDER BY updated DESC LIMIT 1",
                                10),
                     0);
    /* the pitfall itself (SQLite 3.40): the same lookup without the hint is prepared again */
    assert_true(
        reprepares(f, "SELECT * FROM orders WHERE matching_id = ?1 ORDER BY updated DESC LIMIT 1", 10) > 0);
    close_raw(f);
}

/* The outbox: oldest first whatever is due, retry state kept, deletes, NOT_FOUND for unknown ids,
 * and what is in it outlives a close and reopen. */
static void outbox_in_order_and_durable(void **state)
{
    fixture *f = *state;
    sgp32_smdp_store s = open_store(f);
    sgp32_smdp_outbox_item item;
    sgp32_smdp_outbox_item_init(&item);
    assert_int_equal(s.outbox_first(s.ctx, &item), SGP32_ERR_NOT_FOUND);
    assert_int_equal(s.outbox_put(s.ctx, "{\"n\":1}", 7), SGP32_OK);
    assert_int_equal(s.outbox_put(s.ctx, "{\"n\":2}", 7), SGP32_OK);
    assert_int_equal(s.outbox_first(s.ctx, &item), SGP32_OK);
    int64_t first = item.id;
    assert_int_equal(item.attempts, 0);
    assert_int_equal(item.next_attempt, 0);
    assert_memory_equal(item.body.data, "{\"n\":1}", 7);
    /* a retry far in the future keeps it first: order before due time */
    assert_int_equal(s.outbox_retry(s.ctx, first, 3, INT64_C(4102444800000)), SGP32_OK);
    assert_int_equal(s.outbox_first(s.ctx, &item), SGP32_OK);
    assert_int_equal(item.id, first);
    assert_int_equal(item.attempts, 3);
    assert_int_equal(item.next_attempt, INT64_C(4102444800000));
    close_store(f);

    s = open_store(f);
    assert_int_equal(s.outbox_first(s.ctx, &item), SGP32_OK);
    assert_int_equal(item.id, first);
    assert_int_equal(item.attempts, 3);
    assert_int_equal(s.outbox_delete(s.ctx, first), SGP32_OK);
    assert_int_equal(s.outbox_delete(s.ctx, first), SGP32_ERR_NOT_FOUND);
    assert_int_equal(s.outbox_retry(s.ctx, first, 1, 0), SGP32_ERR_NOT_FOUND);
    assert_int_equal(s.outbox_first(s.ctx, &item), SGP32_OK);
    assert_true(item.id > first);
    assert_memory_equal(item.body.data, "{\"n\":2}", 7);
    assert_int_equal(s.outbox_delete(s.ctx, item.id), SGP32_OK);
    assert_int_equal(s.outbox_first(s.ctx, &item), SGP32_ERR_NOT_FOUND);
    sgp32_smdp_outbox_item_free(&item);
    close_store(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(find_available_lowest_iccid, setup, teardown),
        cmocka_unit_test_setup_teardown(find_available_follows_updates, setup, teardown),
        cmocka_unit_test_setup_teardown(find_default_filters_and_order, setup, teardown),
        cmocka_unit_test_setup_teardown(order_update_compare_and_set, setup, teardown),
        cmocka_unit_test_setup_teardown(session_put_get_replace_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(session_survives_reopen_until_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(count_per_state, setup, teardown),
        cmocka_unit_test_setup_teardown(migrate_v1_to_current, setup, teardown),
        cmocka_unit_test_setup_teardown(migrate_v2_to_v3, setup, teardown),
        cmocka_unit_test_setup_teardown(new_file_is_current, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_version_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(query_plans_new_file, setup, teardown),
        cmocka_unit_test_setup_teardown(query_plans_migrated_file, setup, teardown),
        cmocka_unit_test_setup_teardown(matching_id_lookup_is_not_reprepared, setup, teardown),
        cmocka_unit_test_setup_teardown(outbox_in_order_and_durable, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

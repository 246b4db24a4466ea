/*
 * The SM-DP+ store in SQLite (the default; design principle 9): orders and sessions in one
 * database file, WAL journal, prepared statements, one connection behind a mutex (every call is
 * one short statement or transaction, so the mutex is never held across crypto).
 *
 * tx_begin/tx_end group the writes of one ES9+ call (order update + session save or delete) into
 * one BEGIN IMMEDIATE .. COMMIT: one WAL commit instead of one per statement. The mutex is
 * recursive and held from tx_begin to tx_end, so other threads wait and the calls in between
 * (same thread) run inside the transaction. synchronous=NORMAL (default) or FULL: see
 * docs/smdpd.md.
 *
 * Orders are updated by compare-and-set on their version column, so two requests racing on one
 * order cannot both win.
 *
 * Indexes cost a page write on every change of their columns, and a download changes its order's
 * state three times: the two lookups by state are partial indexes over the few rows they can
 * return (available profiles; released or downloaded orders of the default SM-DP+ path), so a
 * download's own updates touch neither. Schema version 3 (table meta), older files are migrated in
 * place: 1 -> 2 replaced the full indexes on (profile_type, state) and (eid, state), 2 -> 3 added
 * orders.imsi, 3 -> 4 the outbox (the host's messages, e.g. smdpd's ES2+ callbacks, kept in the
 * transaction of the change they report until they are delivered).
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sgp32/log.h"
#include "sgp32/smdp_server.h"

enum {
    SCHEMA_VERSION = 4,
    ST_ORDER_INSERT = 0,
    ST_ORDER_GET,
    ST_ORDER_BY_MATCHING_ID,
    ST_ORDER_DEFAULT,
    ST_ORDER_AVAILABLE,
    ST_ORDER_UPDATE,
    ST_SESSION_PUT,
    ST_SESSION_GET,
    ST_SESSION_DELETE,
    ST_COUNT_STATES,
    ST_OUTBOX_PUT,
    ST_OUTBOX_FIRST,
    ST_OUTBOX_RETRY,
    ST_OUTBOX_DELETE,
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_COUNT
};

#define ORDER_COLUMNS                                                                                        \
    "iccid, profile_type, state, eid, matching_id, cc_required, cc_sha256, cc_failures, download_attempts, " \
    "smds_address, transaction_id, updated, version, imsi"

static const char *const sql[ST_COUNT] = {
    "INSERT INTO orders (" ORDER_COLUMNS
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 1, ?14)",
    "SELECT " ORDER_COLUMNS " FROM orders WHERE iccid = ?1",
    /* INDEXED BY: otherwise the planner weighs orders_default, whose WHERE names matching_id, by
     * the value bound to ?1, and SQLite prepares the statement again at every new value */
    "SELECT " ORDER_COLUMNS " FROM orders INDEXED BY orders_matching_id WHERE matching_id = ?1 "
    "ORDER BY updated DESC LIMIT 1",
    ("SELECT " ORDER_COLUMNS " FROM orders WHERE eid = ?1 AND matching_id = '' AND state IN (4, 5) "
     "ORDER BY updated LIMIT 1"),
    "SELECT " ORDER_COLUMNS " FROM orders WHERE profile_type = ?1 AND state = 0 ORDER BY iccid LIMIT 1",
    ("UPDATE orders SET profile_type = ?2, state = ?3, eid = ?4, matching_id = ?5, cc_required = ?6, "
     "cc_sha256 = ?7, cc_failures = ?8, download_attempts = ?9, smds_address = ?10, transaction_id = ?11, "
     "updated = ?12, imsi = ?14, version = version + 1 WHERE iccid = ?1 AND version = ?13"),
    /* an upsert updates the row in place; OR REPLACE would delete it and insert it again under a
     * new rowid, rewriting the txid index entry too */
    ("INSERT INTO sessions (txid, iccid, credential, expires, pdr_sha256, state, bpp) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (txid) DO UPDATE SET iccid = excluded.iccid, "
     "credential = excluded.credential, expires = excluded.expires, pdr_sha256 = excluded.pdr_sha256, "
     "state = excluded.state, bpp = excluded.bpp"),
    "SELECT iccid, credential, expires, pdr_sha256, state, bpp FROM sessions WHERE txid = ?1",
    "DELETE FROM sessions WHERE txid = ?1",
    "SELECT state, count(*) FROM orders GROUP BY state",
    "INSERT INTO outbox (body) VALUES (?1)",
    "SELECT id, attempts, next_attempt, body FROM outbox ORDER BY id LIMIT 1",
    "UPDATE outbox SET attempts = ?2, next_attempt = ?3 WHERE id = ?1",
    "DELETE FROM outbox WHERE id = ?1",
    "BEGIN IMMEDIATE",
    "COMMIT",
    "ROLLBACK",
};

/* secure_delete FAST: content is still zeroed in the pages a change writes anyway, but freed pages
 * (those of a finished session's BPP, encrypted under one-time keys) are not written once more
 * just to be zeroed; Debian's SQLite defaults to the full mode. */
static const char pragmas[] = "PRAGMA journal_mode = WAL;"
                              "PRAGMA synchronous = NORMAL;"
                              "PRAGMA secure_delete = FAST;";

/* Run in one BEGIN IMMEDIATE, so two processes opening a new file agree. */
static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS orders ("
    " iccid TEXT PRIMARY KEY, profile_type TEXT NOT NULL, state INTEGER NOT NULL,"
    " eid TEXT NOT NULL DEFAULT '', matching_id TEXT NOT NULL DEFAULT '', cc_required INTEGER NOT NULL "
    "DEFAULT 0,"
    " cc_sha256 BLOB, cc_failures INTEGER NOT NULL DEFAULT 0, download_attempts INTEGER NOT NULL DEFAULT 0,"
    " smds_address TEXT NOT NULL DEFAULT '', transaction_id TEXT NOT NULL DEFAULT '',"
    " updated INTEGER NOT NULL DEFAULT 0, version INTEGER NOT NULL DEFAULT 1, imsi TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX IF NOT EXISTS orders_matching_id ON orders (matching_id);"
    "CREATE INDEX IF NOT EXISTS orders_available ON orders (profile_type, iccid) WHERE state = 0;"
    "CREATE INDEX IF NOT EXISTS orders_default ON orders (eid, updated)"
    " WHERE matching_id = '' AND state IN (4, 5);"
    "CREATE TABLE IF NOT EXISTS sessions ("
    " txid TEXT PRIMARY KEY, iccid TEXT NOT NULL DEFAULT '', credential INTEGER NOT NULL,"
    " expires INTEGER NOT NULL, pdr_sha256 BLOB, state BLOB NOT NULL, bpp BLOB);"
    "CREATE TABLE IF NOT EXISTS outbox ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, body BLOB NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " next_attempt INTEGER NOT NULL DEFAULT 0);"
    "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', 4);";

/* Version 1 -> 2 (same transaction): the full state indexes give way to the partial ones above. */
static const char migrate_1_to_2[] = "DROP INDEX IF EXISTS orders_type_state;"
                                     "DROP INDEX IF EXISTS orders_eid;"
                                     "UPDATE meta SET value = 2 WHERE key = 'schema';";
/* Version 2 -> 3: the order's IMSI (inventory ranges with IMSIs). */
static const char migrate_2_to_3[] = "ALTER TABLE orders ADD COLUMN imsi TEXT NOT NULL DEFAULT '';"
                                     "UPDATE meta SET value = 3 WHERE key = 'schema';";
/* Version 3 -> 4: the outbox (created by the schema above when missing). */
static const char migrate_3_to_4[] = "UPDATE meta SET value = 4 WHERE key = 'schema';";

struct sgp32_smdp_sqlite {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    pthread_mutex_t lock;
};

static int db_error(sgp32_smdp_sqlite *d, const char *what)
{
    sgp32_log_context ctx = {"smdp-store", NULL, NULL};
    sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_STORE, &ctx, "sqlite %s: %s", what, sqlite3_errmsg(d->db));
    return SGP32_ERR_STORE;
}

/* Create, migrate or check the schema, in one transaction. */
static int schema_setup(sgp32_smdp_sqlite *d)
{
    if (sqlite3_exec(d->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_error(d, "begin");
    int rc = SGP32_OK, version = -1;
    if (sqlite3_exec(d->db, schema, NULL, NULL, NULL) != SQLITE_OK)
        rc = db_error(d, "schema");
    sqlite3_stmt *v = NULL;
    if (!rc && (sqlite3_prepare_v2(d->db, "SELECT value FROM meta WHERE key = 'schema'", -1, &v, NULL) !=
                    SQLITE_OK ||
                sqlite3_step(v) != SQLITE_ROW))
        rc = db_error(d, "schema version");
    else if (!rc)
        version = sqlite3_column_int(v, 0);
    sqlite3_finalize(v);
    if (!rc && (version < 1 || version > SCHEMA_VERSION))
        rc = SGP32_ERR_STORE_VERSION;
    if (!rc && version < 2 && sqlite3_exec(d->db, migrate_1_to_2, NULL, NULL, NULL) != SQLITE_OK)
        rc = db_error(d, "migration to schema 2");
    if (!rc && version < 3 && sqlite3_exec(d->db, migrate_2_to_3, NULL, NULL, NULL) != SQLITE_OK)
        rc = db_error(d, "migration to schema 3");
    if (!rc && version < 4 && sqlite3_exec(d->db, migrate_3_to_4, NULL, NULL, NULL) != SQLITE_OK)
        rc = db_error(d, "migration to schema 4");
    if (!rc && sqlite3_exec(d->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = db_error(d, "commit");
    if (rc && !sqlite3_get_autocommit(d->db))
        sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int sgp32_smdp_sqlite_open(const char *path, sgp32_smdp_sqlite **out)
{
    if (!path || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    *out = NULL;
    sgp32_smdp_sqlite *d = calloc(1, sizeof(*d));
    if (!d)
        return SGP32_ERR_NO_MEMORY;
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&d->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    int rc = SGP32_OK;
    /* NOMUTEX: every use of the connection is under d->lock already */
    if (sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK)
        rc = SGP32_ERR_STORE;
    if (!rc)
        sqlite3_busy_timeout(d->db, 5000);
    /* the version first: a file of a newer release is refused untouched (not even put in WAL) */
    if (!rc)
        rc = schema_setup(d);
    if (!rc && sqlite3_exec(d->db, pragmas, NULL, NULL, NULL) != SQLITE_OK)
        rc = db_error(d, "journal mode");
    for (int i = 0; !rc && i < ST_COUNT; i++)
        if (sqlite3_prepare_v3(d->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &d->st[i], NULL) != SQLITE_OK)
            rc = db_error(d, sql[i]);
    if (!rc) {
        /* expired sessions of an earlier run */
        sqlite3_stmt *purge = NULL;
        if (sqlite3_prepare_v2(d->db, "DELETE FROM sessions WHERE expires < ?1", -1, &purge, NULL) ==
            SQLITE_OK) {
            sqlite3_bind_int64(purge, 1, (sqlite3_int64)time(NULL));
            sqlite3_step(purge);
        }
        sqlite3_finalize(purge);
    }
    if (rc) {
        sgp32_smdp_sqlite_close(d);
        return rc;
    }
    *out = d;
    return SGP32_OK;
}

void sgp32_smdp_sqlite_close(sgp32_smdp_sqlite *d)
{
    if (!d)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(d->st[i]);
    sqlite3_close(d->db);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

static sqlite3_stmt *begin(sgp32_smdp_sqlite *d, int which)
{
    pthread_mutex_lock(&d->lock);
    sqlite3_stmt *s = d->st[which];
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

static int end(sgp32_smdp_sqlite *d, sqlite3_stmt *s, int rc)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    pthread_mutex_unlock(&d->lock);
    return rc;
}

static void text_column(sqlite3_stmt *s, int col, char *out, size_t size)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    size_t n = t ? (size_t)sqlite3_column_bytes(s, col) : 0;
    if (n >= size)
        n = size - 1;
    if (n)
        memcpy(out, t, n);
    out[n] = '\0';
}

static void bind_order(sqlite3_stmt *s, const sgp32_smdp_order *o)
{
    sqlite3_bind_text(s, 1, o->iccid, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, o->profile_type, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, (int)o->state);
    sqlite3_bind_text(s, 4, o->eid, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, o->matching_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 6, o->cc_required);
    sqlite3_bind_blob(s, 7, o->cc_sha256, sizeof(o->cc_sha256), SQLITE_STATIC);
    sqlite3_bind_int(s, 8, o->cc_failures);
    sqlite3_bind_int(s, 9, o->download_attempts);
    sqlite3_bind_text(s, 10, o->smds_address, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 11, o->transaction_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 12, (sqlite3_int64)o->updated);
    sqlite3_bind_text(s, 14, o->imsi, -1, SQLITE_STATIC); /* ?13 is the version compared by updates */
}

static void read_order(sqlite3_stmt *s, sgp32_smdp_order *o)
{
    memset(o, 0, sizeof(*o));
    text_column(s, 0, o->iccid, sizeof(o->iccid));
    text_column(s, 1, o->profile_type, sizeof(o->profile_type));
    int state = sqlite3_column_int(s, 2);
    o->state =
        state >= 0 && state < SGP32_ORDER_STATE_COUNT ? (sgp32_smdp_order_state)state : SGP32_ORDER_ERROR;
    text_column(s, 3, o->eid, sizeof(o->eid));
    text_column(s, 4, o->matching_id, sizeof(o->matching_id));
    o->cc_required = sqlite3_column_int(s, 5) != 0;
    if (sqlite3_column_bytes(s, 6) == (int)sizeof(o->cc_sha256))
        memcpy(o->cc_sha256, sqlite3_column_blob(s, 6), sizeof(o->cc_sha256));
    o->cc_failures = sqlite3_column_int(s, 7);
    o->download_attempts = sqlite3_column_int(s, 8);
    text_column(s, 9, o->smds_address, sizeof(o->smds_address));
    text_column(s, 10, o->transaction_id, sizeof(o->transaction_id));
    o->updated = sqlite3_column_int64(s, 11);
    o->version = sqlite3_column_int64(s, 12);
    text_column(s, 13, o->imsi, sizeof(o->imsi));
}

static int order_insert(void *ctx, const sgp32_smdp_order *o)
{
    sgp32_smdp_sqlite *d = ctx;
    sqlite3_stmt *s = begin(d, ST_ORDER_INSERT);
    bind_order(s, o);
    int r = sqlite3_step(s);
    int rc = r == SQLITE_DONE         ? SGP32_OK
             : r == SQLITE_CONSTRAINT ? SGP32_ERR_STATE
                                      : db_error(d, "order insert");
    return end(d, s, rc);
}

static int order_query(sgp32_smdp_sqlite *d, int which, const char *key, sgp32_smdp_order *out)
{
    sqlite3_stmt *s = begin(d, which);
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    int rc = SGP32_OK;
    if (r == SQLITE_ROW)
        read_order(s, out);
    else
        rc = r == SQLITE_DONE ? SGP32_ERR_NOT_FOUND : db_error(d, "order query");
    return end(d, s, rc);
}

static int order_get(void *ctx, const char *iccid, sgp32_smdp_order *out)
{
    return order_query(ctx, ST_ORDER_GET, iccid, out);
}

static int order_find_by_matching_id(void *ctx, const char *matching_id, sgp32_smdp_order *out)
{
    return order_query(ctx, ST_ORDER_BY_MATCHING_ID, matching_id, out);
}

static int order_find_default(void *ctx, const char *eid, sgp32_smdp_order *out)
{
    return order_query(ctx, ST_ORDER_DEFAULT, eid, out);
}

static int order_find_available(void *ctx, const char *profile_type, sgp32_smdp_order *out)
{
    return order_query(ctx, ST_ORDER_AVAILABLE, profile_type, out);
}

static int order_update(void *ctx, sgp32_smdp_order *o)
{
    sgp32_smdp_sqlite *d = ctx;
    sqlite3_stmt *s = begin(d, ST_ORDER_UPDATE);
    bind_order(s, o);
    sqlite3_bind_int64(s, 13, (sqlite3_int64)o->version);
    int r = sqlite3_step(s);
    int rc = r != SQLITE_DONE              ? db_error(d, "order update")
             : sqlite3_changes(d->db) == 1 ? SGP32_OK
                                           : SGP32_ERR_STATE;
    if (!rc)
        o->version++;
    return end(d, s, rc);
}

static int session_put(void *ctx, const sgp32_smdp_session_record *r)
{
    sgp32_smdp_sqlite *d = ctx;
    sqlite3_stmt *s = begin(d, ST_SESSION_PUT);
    sqlite3_bind_text(s, 1, r->transaction_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, r->iccid, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, r->credential_index);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)r->expires);
    sqlite3_bind_blob(s, 5, r->pdr_sha256, sizeof(r->pdr_sha256), SQLITE_STATIC);
    sqlite3_bind_blob(s, 6, r->state.data ? (const void *)r->state.data : "", (int)r->state.len,
                      SQLITE_STATIC);
    if (r->bpp.len)
        sqlite3_bind_blob(s, 7, r->bpp.data, (int)r->bpp.len, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 7);
    int rc = sqlite3_step(s) == SQLITE_DONE ? SGP32_OK : db_error(d, "session put");
    return end(d, s, rc);
}

static int session_get(void *ctx, const char *txid, sgp32_smdp_session_record *out)
{
    sgp32_smdp_sqlite *d = ctx;
    sqlite3_stmt *s = begin(d, ST_SESSION_GET);
    sqlite3_bind_text(s, 1, txid, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    int rc = SGP32_OK;
    if (r == SQLITE_ROW) {
        snprintf(out->transaction_id, sizeof(out->transaction_id), "%s", txid);
        text_column(s, 0, out->iccid, sizeof(out->iccid));
        out->credential_index = sqlite3_column_int(s, 1);
        out->expires = sqlite3_column_int64(s, 2);
        if (sqlite3_column_bytes(s, 3) == (int)sizeof(out->pdr_sha256))
            memcpy(out->pdr_sha256, sqlite3_column_blob(s, 3), sizeof(out->pdr_sha256));
        sgp32_buf_reset(&out->state);
        sgp32_buf_reset(&out->bpp);
        int n = sqlite3_column_bytes(s, 4);
        if (n > 0)
            rc = sgp32_buf_append(&out->state, sqlite3_column_blob(s, 4), (size_t)n);
        n = sqlite3_column_bytes(s, 5);
        if (!rc && n > 0)
            rc = sgp32_buf_append(&out->bpp, sqlite3_column_blob(s, 5), (size_t)n);
    } else {
        rc = r == SQLITE_DONE ? SGP32_ERR_NOT_FOUND : db_error(d, "session get");
    }
    return end(d, s, rc);
}

/* Step a bound write aimed at one row and end the call: NOT_FOUND when it changed none. */
static int end_row_write(sgp32_smdp_sqlite *d, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s) == SQLITE_DONE ? SGP32_OK : db_error(d, what);
    if (!rc && sqlite3_changes(d->db) == 0)
        rc = SGP32_ERR_NOT_FOUND;
    return end(d, s, rc);
}

static int session_delete(void *ctx, const char *txid)
{
    sgp32_smdp_sqlite *d = ctx;
    sqlite3_stmt *s = begin(d, ST_SESSION_DELETE);
    sqlite3_bind_text(s, 1, txid, -1, SQLITE_STATIC);
    return end_row_write(d, s, "session delete");
}

static int run(sgp32_smdp_sqlite *d, int which)
{
    sqlite3_stmt *s = d->st[which];
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    return r == SQLITE_DONE ? SGP32_OK : db_error(d, sql[which]);
}

static int tx_begin(void *ctx)
{
    sgp32_smdp_sqlite *d = ctx;
    pthread_mutex_lock(&d->lock);
    int rc = run(d, ST_BEGIN);
    if (rc)
        pthread_mutex_unlock(&d->lock);
    return rc;
}

static int tx_end(void *ctx, bool commit)
{
    sgp32_smdp_sqlite *d = ctx;
    int rc = commit ? run(d, ST_COMMIT) : SGP32_OK;
    if ((rc || !commit) && !sqlite3_get_autocommit(d->db))
        (void)run(d, ST_ROLLBACK);
    pthread_mutex_unlock(&d->lock);
    return rc;
}

int sgp32_smdp_sqlite_synchronous(sgp32_smdp_sqlite *d, bool full)
{
    if (!d)
        return SGP32_ERR_INVALID_ARGUMENT;
    pthread_mutex_lock(&d->lock);
    int rc = sqlite3_exec(d->db, full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL", NULL,
                          NULL, NULL) == SQLITE_OK
                 ? SGP32_OK
                 : db_error(d, "synchronous");
    pthread_mutex_unlock(&d->lock);
    return rc;
}

int sgp32_smdp_sqlite_count(sgp32_smdp_sqlite *d, int64_t counts[SGP32_ORDER_STATE_COUNT])
{
    if (!d || !counts)
        return SGP32_ERR_INVALID_ARGUMENT;
    memset(counts, 0, sizeof(int64_t) * SGP32_ORDER_STATE_COUNT);
    sqlite3_stmt *s = begin(d, ST_COUNT_STATES);
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        int state = sqlite3_column_int(s, 0);
        if (state >= 0 && state < SGP32_ORDER_STATE_COUNT)
            counts[state] = sqlite3_column_int64(s, 1);
    }
    return end(d, s, r == SQLITE_DONE ? SGP32_OK : db_error(d, "count"));
}

/* ------------------------------------------------------------------ outbox */

static int outbox_put(void *ctx, const char *body, size_t len)
{
    sgp32_smdp_sqlite *d = ctx;
    if (!body || len > INT32_MAX)
        return SGP32_ERR_INVALID_ARGUMENT;
    sqlite3_stmt *s = begin(d, ST_OUTBOX_PUT);
    sqlite3_bind_blob(s, 1, body, (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(s) == SQLITE_DONE ? SGP32_OK : db_error(d, "outbox put");
    return end(d, s, rc);
}

static int outbox_first(void *ctx, sgp32_smdp_outbox_item *out)
{
    sgp32_smdp_sqlite *d = ctx;
    if (!out)
        return SGP32_ERR_INVALID_ARGUMENT;
    sqlite3_stmt *s = begin(d, ST_OUTBOX_FIRST);
    int r = sqlite3_step(s), rc = SGP32_ERR_NOT_FOUND;
    if (r == SQLITE_ROW) {
        out->id = sqlite3_column_int64(s, 0);
        out->attempts = sqlite3_column_int(s, 1);
        out->next_attempt = sqlite3_column_int64(s, 2);
        sgp32_buf_reset(&out->body);
        int n = sqlite3_column_bytes(s, 3);
        rc = n > 0 ? sgp32_buf_append(&out->body, sqlite3_column_blob(s, 3), (size_t)n) : SGP32_OK;
    } else if (r != SQLITE_DONE) {
        rc = db_error(d, "outbox first");
    }
    return end(d, s, rc);
}

static int outbox_retry(void *ctx, int64_t id, int attempts, int64_t next_attempt)
{
    sgp32_smdp_sqlite *d = ctx;
    sqlite3_stmt *s = begin(d, ST_OUTBOX_RETRY);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int(s, 2, attempts);
    sqlite3_bind_int64(s, 3, next_attempt);
    return end_row_write(d, s, "outbox retry");
}

static int outbox_delete(void *ctx, int64_t id)
{
    sgp32_smdp_sqlite *d = ctx;
    sqlite3_stmt *s = begin(d, ST_OUTBOX_DELETE);
    sqlite3_bind_int64(s, 1, id);
    return end_row_write(d, s, "outbox delete");
}

sgp32_smdp_store sgp32_smdp_sqlite_store(sgp32_smdp_sqlite *d)
{
    sgp32_smdp_store st = {
        d,
        order_insert,
        order_get,
        order_find_by_matching_id,
        order_find_default,
        order_find_available,
        order_update,
        session_put,
        session_get,
        session_delete,
        tx_begin,
        tx_end,
        outbox_put,
        outbox_first,
        outbox_retry,
        outbox_delete,
    };
    return st;
}

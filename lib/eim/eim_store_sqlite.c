/*
 * The eIM store in SQLite (the default; design principle 9): eUICCs, their profiles, the
 * operation queues, result deduplication, relay sessions, the notification outbox, the audit log
 * and API tokens in one database file. WAL journal, prepared statements, one connection behind a
 * recursive mutex (every call is one short statement, so the mutex is never held across crypto).
 *
 * The ESipa path must cost the same whatever the backlog ("a poll costs the same with 10 or
 * 1,000,000 queued operations"), so every hot statement is an indexed lookup:
 *   op_next            partial index op_active (eid, id) WHERE state IN (0,1): only live rows
 *   op_find_idempotent unique partial index (created_by, idempotency_key) WHERE key <> ''
 *   op_expire          partial index op_expiry (expires) over live rows with an expiry
 *   result_seen        primary key (eid, seq); relay_get: primary key txid
 *   relay_purge        partial index relay_expiry (expires) over rows with an expiry
 *   euicc_counter_next one UPDATE .. RETURNING (the row lock of the write is the increment's)
 * sgp32_eim_sqlite_query_plan (below, not public) lets the tests prove it with EXPLAIN QUERY PLAN.
 *
 * tx_begin/tx_end: BEGIN IMMEDIATE .. COMMIT with the mutex held from one to the other, so the
 * calls of the owning thread run inside the transaction (the mutex is recursive) while other
 * threads wait. Nested pairs are counted: only the outermost commits, and an inner rollback
 * makes the whole transaction roll back.
 *
 * Versioned rows (euicc, operation) are updated by compare-and-set on their version column.
 * Schema version 3 (PRAGMA user_version): a new file gets it whole, older files are migrated in
 * place (version 2 added euicc.push_address, version 3 the relay_expiry index); a newer file is
 * refused with SGP32_ERR_STORE_VERSION.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sgp32/alloc.h"
#include "sgp32/eim_server.h"
#include "sgp32/log.h"

enum {
    SCHEMA_VERSION = 3,
    LIST_DEFAULT_LIMIT = 100,
    BUSY_TIMEOUT_MS = 5000,
    BUSY_RETRIES = 3, /* SQLITE_BUSY the busy handler does not cover (WAL recovery) */
};

enum {
    ST_EUICC_INSERT = 0,
    ST_EUICC_GET,
    ST_EUICC_UPDATE,
    ST_EUICC_EXISTS,
    ST_EUICC_TOUCH,
    ST_EUICC_COUNTER,
    ST_EUICC_LIST,
    ST_EUICC_PUSH,
    ST_PROFILE_PUT,
    ST_PROFILE_DELETE,
    ST_PROFILE_DELETE_ALL,
    ST_PROFILE_LIST,
    ST_OP_INSERT,
    ST_OP_GET,
    ST_OP_NEXT,
    ST_OP_UPDATE,
    ST_OP_EXISTS,
    ST_OP_LIST_ALL,
    ST_OP_LIST_EID,
    ST_OP_LIST_STATE,
    ST_OP_LIST_EID_STATE,
    ST_OP_IDEMPOTENT,
    ST_OP_EXPIRE,
    ST_OP_COUNT,
    ST_RESULT_SEEN,
    ST_RELAY_PUT,
    ST_RELAY_GET,
    ST_RELAY_DELETE,
    ST_RELAY_PURGE,
    ST_OUTBOX_PUT,
    ST_OUTBOX_NEXT,
    ST_OUTBOX_UPDATE,
    ST_OUTBOX_DELETE,
    ST_EVENT_APPEND,
    ST_EVENT_LIST_ALL,
    ST_EVENT_LIST_EID,
    ST_TOKEN_INSERT,
    ST_TOKEN_FIND,
    ST_TOKEN_DELETE,
    ST_TOKEN_LIST,
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_COUNT
};

#define EUICC_COLUMNS                                                                                        \
    "eid, label, euicc_certificate, eum_certificate, euicc_info1, counter, has_token, token, associated, "   \
    "registered, last_seen, rplmn, state_change_cause, push_address, version"

#define PROFILE_COLUMNS "iccid, state, profile_class, name, service_provider, fallback, updated"

#define OP_COLUMNS                                                                                           \
    "id, eid, kind, state, request, counter_value, package, result, result_json, awaiting_result, created, " \
    "delivered, completed, expires, delivery_count, created_by, idempotency_key, version"

/* The live states (queued, delivered): the literal must match the partial indexes' WHERE. */
#define LIVE "state IN (0, 1)"

#define OUTBOX_COLUMNS "id, eid, address, notification, attempts, next_attempt"
#define EVENT_COLUMNS  "id, time, actor, action, eid, operation_id, detail"
#define TOKEN_COLUMNS  "name, role, secret_sha256, created"

static const char *const sql[ST_COUNT] = {
    [ST_EUICC_INSERT] = "INSERT INTO euicc (" EUICC_COLUMNS
                        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 1)",
    [ST_EUICC_GET] = "SELECT " EUICC_COLUMNS " FROM euicc WHERE eid = ?1",
    /* counter never goes down and last_seen never back: counter_next and touch do not bump the
     * version (they are the cheap paths), so a record read before them must not undo them */
    [ST_EUICC_UPDATE] = "UPDATE euicc SET label = ?2, euicc_certificate = ?3, eum_certificate = ?4, "
                        "euicc_info1 = ?5, counter = max(counter, ?6), has_token = ?7, token = ?8, "
                        "associated = ?9, registered = ?10, last_seen = max(last_seen, ?11), rplmn = ?12, "
                        "state_change_cause = ?13, push_address = ?14, version = version + 1 "
                        "WHERE eid = ?1 AND version = ?15",
    [ST_EUICC_EXISTS] = "SELECT 1 FROM euicc WHERE eid = ?1",
    [ST_EUICC_TOUCH] = "UPDATE euicc SET last_seen = ?2, rplmn = coalesce(?3, rplmn), "
                       "state_change_cause = CASE WHEN ?4 >= 0 THEN ?4 ELSE state_change_cause END "
                       "WHERE eid = ?1",
    [ST_EUICC_COUNTER] = "UPDATE euicc SET counter = counter + 1 WHERE eid = ?1 RETURNING counter",
    [ST_EUICC_LIST] = "SELECT " EUICC_COLUMNS " FROM euicc WHERE eid > ?1 ORDER BY eid LIMIT ?2",
    /* the push worker's round: a walk of the eUICCs that take pushes (partial index euicc_push),
     * each with one probe of op_active, so its cost does not grow with the queues of pollers */
    [ST_EUICC_PUSH] = "SELECT eid FROM euicc INDEXED BY euicc_push WHERE push_address <> '' AND eid > ?1 "
                      "AND EXISTS (SELECT 1 FROM operation INDEXED BY op_active WHERE operation.eid = "
                      "euicc.eid AND " LIVE ") ORDER BY eid LIMIT ?2",
    [ST_PROFILE_PUT] =
        "INSERT OR REPLACE INTO profile (eid, " PROFILE_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_PROFILE_DELETE] = "DELETE FROM profile WHERE eid = ?1 AND iccid = ?2",
    [ST_PROFILE_DELETE_ALL] = "DELETE FROM profile WHERE eid = ?1",
    [ST_PROFILE_LIST] = "SELECT " PROFILE_COLUMNS " FROM profile WHERE eid = ?1 ORDER BY iccid",
    [ST_OP_INSERT] = "INSERT INTO operation (eid, kind, state, request, counter_value, package, result, "
                     "result_json, awaiting_result, created, delivered, completed, expires, delivery_count, "
                     "created_by, idempotency_key, version) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, 1)",
    [ST_OP_GET] = "SELECT " OP_COLUMNS " FROM operation WHERE id = ?1",
    /* INDEXED BY: without statistics the planner may prefer op_eid, which walks every finished
     * operation of the eUICC too; the partial index holds the live ones only */
    [ST_OP_NEXT] = "SELECT " OP_COLUMNS " FROM operation INDEXED BY op_active WHERE eid = ?1 AND " LIVE
                   " ORDER BY id LIMIT 1",
    /* eid, kind, created, created_by and idempotency_key are fixed at insert */
    [ST_OP_UPDATE] = "UPDATE operation SET state = ?3, request = ?4, counter_value = ?5, package = ?6, "
                     "result = ?7, result_json = ?8, awaiting_result = ?9, delivered = ?11, completed = ?12, "
                     "expires = ?13, delivery_count = ?14, version = version + 1 "
                     "WHERE id = ?17 AND version = ?18",
    [ST_OP_EXISTS] = "SELECT 1 FROM operation WHERE id = ?1",
    [ST_OP_LIST_ALL] = "SELECT " OP_COLUMNS " FROM operation WHERE id > ?1 ORDER BY id LIMIT ?2",
    /* one statement per filter shape, each pinned to its index: an EID's history is short, a
     * state's may be millions long, so eid + state walks op_eid */
    [ST_OP_LIST_EID] = "SELECT " OP_COLUMNS " FROM operation INDEXED BY op_eid WHERE eid = ?3 AND id > ?1 "
                       "ORDER BY id LIMIT ?2",
    [ST_OP_LIST_STATE] =
        "SELECT " OP_COLUMNS " FROM operation INDEXED BY op_state WHERE state = ?4 AND id > ?1 "
        "ORDER BY id LIMIT ?2",
    [ST_OP_LIST_EID_STATE] =
        "SELECT " OP_COLUMNS " FROM operation INDEXED BY op_eid WHERE eid = ?3 AND state = ?4 "
        "AND id > ?1 ORDER BY id LIMIT ?2",
    [ST_OP_IDEMPOTENT] =
        "SELECT " OP_COLUMNS " FROM operation WHERE created_by = ?1 AND idempotency_key = ?2 "
        "AND idempotency_key <> ''",
    [ST_OP_EXPIRE] = "UPDATE operation INDEXED BY op_expiry SET state = 4, completed = ?1, "
                     "version = version + 1 WHERE " LIVE " AND expires > 0 AND expires <= ?1",
    [ST_OP_COUNT] = "SELECT state, count(*) FROM operation GROUP BY state",
    [ST_RESULT_SEEN] = "INSERT OR IGNORE INTO result_seen (eid, seq) VALUES (?1, ?2)",
    [ST_RELAY_PUT] = "INSERT OR REPLACE INTO relay (txid, eid, smdp_address, operation_id, expires) "
                     "VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_RELAY_GET] = "SELECT txid, eid, smdp_address, operation_id, expires FROM relay WHERE txid = ?1",
    [ST_RELAY_DELETE] = "DELETE FROM relay WHERE txid = ?1",
    [ST_RELAY_PURGE] = "DELETE FROM relay INDEXED BY relay_expiry WHERE expires > 0 AND expires < ?1",
    [ST_OUTBOX_PUT] = "INSERT INTO outbox (eid, address, notification, attempts, next_attempt) "
                      "VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_OUTBOX_NEXT] =
        "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE next_attempt <= ?1 ORDER BY next_attempt, id LIMIT 1",
    [ST_OUTBOX_UPDATE] = "UPDATE outbox SET attempts = ?2, next_attempt = ?3 WHERE id = ?1",
    [ST_OUTBOX_DELETE] = "DELETE FROM outbox WHERE id = ?1",
    [ST_EVENT_APPEND] = "INSERT INTO event (time, actor, action, eid, operation_id, detail) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_EVENT_LIST_ALL] = "SELECT " EVENT_COLUMNS " FROM event WHERE id > ?1 ORDER BY id LIMIT ?2",
    [ST_EVENT_LIST_EID] =
        "SELECT " EVENT_COLUMNS " FROM event WHERE eid = ?3 AND id > ?1 ORDER BY id LIMIT ?2",
    [ST_TOKEN_INSERT] = "INSERT INTO token (" TOKEN_COLUMNS ") VALUES (?1, ?2, ?3, ?4)",
    [ST_TOKEN_FIND] = "SELECT " TOKEN_COLUMNS " FROM token WHERE secret_sha256 = ?1",
    [ST_TOKEN_DELETE] = "DELETE FROM token WHERE name = ?1",
    [ST_TOKEN_LIST] = "SELECT " TOKEN_COLUMNS " FROM token ORDER BY name",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
};

/* Version 3. Run once, inside BEGIN IMMEDIATE, on a file whose user_version is 0. */
static const char schema[] =
    "CREATE TABLE IF NOT EXISTS euicc ("
    " eid TEXT PRIMARY KEY, label TEXT NOT NULL DEFAULT '', euicc_certificate BLOB, eum_certificate BLOB,"
    " euicc_info1 BLOB, counter INTEGER NOT NULL DEFAULT 0, has_token INTEGER NOT NULL DEFAULT 0,"
    " token INTEGER NOT NULL DEFAULT 0, associated INTEGER NOT NULL DEFAULT 1,"
    " registered INTEGER NOT NULL DEFAULT 0, last_seen INTEGER NOT NULL DEFAULT 0, rplmn BLOB,"
    " state_change_cause INTEGER NOT NULL DEFAULT -1, push_address TEXT NOT NULL DEFAULT '',"
    " version INTEGER NOT NULL DEFAULT 1);"
    "CREATE INDEX IF NOT EXISTS euicc_push ON euicc (eid) WHERE push_address <> '';"
    "CREATE TABLE IF NOT EXISTS profile ("
    " eid TEXT NOT NULL, iccid TEXT NOT NULL, state INTEGER NOT NULL, profile_class INTEGER NOT NULL,"
    " name TEXT NOT NULL DEFAULT '', service_provider TEXT NOT NULL DEFAULT '',"
    " fallback INTEGER NOT NULL DEFAULT 0, updated INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (eid, iccid)) WITHOUT ROWID;"
    /* AUTOINCREMENT: an id (the eimTransactionId) is never handed out twice, even after deletes */
    "CREATE TABLE IF NOT EXISTS operation ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, eid TEXT NOT NULL, kind INTEGER NOT NULL, state INTEGER NOT NULL,"
    " request TEXT, counter_value INTEGER NOT NULL DEFAULT 0, package BLOB, result BLOB, result_json TEXT,"
    " awaiting_result INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL DEFAULT 0,"
    " delivered INTEGER NOT NULL DEFAULT 0, completed INTEGER NOT NULL DEFAULT 0,"
    " expires INTEGER NOT NULL DEFAULT 0, delivery_count INTEGER NOT NULL DEFAULT 0,"
    " created_by TEXT NOT NULL DEFAULT '', idempotency_key TEXT NOT NULL DEFAULT '',"
    " version INTEGER NOT NULL DEFAULT 1);"
    "CREATE INDEX IF NOT EXISTS op_active ON operation (eid, id) WHERE " LIVE ";"
    "CREATE INDEX IF NOT EXISTS op_eid ON operation (eid, id);"
    "CREATE INDEX IF NOT EXISTS op_state ON operation (state, id);"
    "CREATE INDEX IF NOT EXISTS op_expiry ON operation (expires) WHERE " LIVE " AND expires > 0;"
    "CREATE UNIQUE INDEX IF NOT EXISTS op_idempotency ON operation (created_by, idempotency_key)"
    " WHERE idempotency_key <> '';"
    "CREATE TABLE IF NOT EXISTS result_seen ("
    " eid TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (eid, seq)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS relay ("
    " txid BLOB PRIMARY KEY, eid TEXT NOT NULL DEFAULT '', smdp_address TEXT NOT NULL DEFAULT '',"
    " operation_id INTEGER NOT NULL DEFAULT 0, expires INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS relay_expiry ON relay (expires) WHERE expires > 0;"
    "CREATE TABLE IF NOT EXISTS outbox ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, eid TEXT NOT NULL DEFAULT '', address TEXT NOT NULL DEFAULT '',"
    " notification BLOB, attempts INTEGER NOT NULL DEFAULT 0, next_attempt INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_attempt, id);"
    "CREATE TABLE IF NOT EXISTS event ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL, actor TEXT NOT NULL DEFAULT '',"
    " action TEXT NOT NULL DEFAULT '', eid TEXT NOT NULL DEFAULT '', operation_id INTEGER NOT NULL DEFAULT 0,"
    " detail TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX IF NOT EXISTS event_eid ON event (eid, id);"
    "CREATE TABLE IF NOT EXISTS token ("
    " name TEXT PRIMARY KEY, role INTEGER NOT NULL, secret_sha256 BLOB NOT NULL UNIQUE,"
    " created INTEGER NOT NULL DEFAULT 0);"
    "PRAGMA user_version = 3;";

/* Version 1 -> 2 (same transaction): the IPA's push address (TransferEimPackage). */
static const char migrate_1_to_2[] = "ALTER TABLE euicc ADD COLUMN push_address TEXT NOT NULL DEFAULT '';"
                                     "CREATE INDEX IF NOT EXISTS euicc_push ON euicc (eid) "
                                     "WHERE push_address <> '';"
                                     "PRAGMA user_version = 2;";
/* Version 2 -> 3: expired relay sessions found without a scan. */
static const char migrate_2_to_3[] =
    "CREATE INDEX IF NOT EXISTS relay_expiry ON relay (expires) WHERE expires > 0;"
    "PRAGMA user_version = 3;";

struct sgp32_eim_sqlite {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    pthread_mutex_t lock; /* recursive: the transaction owner re-enters it */
    /* written only with lock held, by the thread that holds the transaction */
    int tx_depth;
    bool tx_rollback_only;
};

static int db_error(sgp32_eim_sqlite *d, const char *what)
{
    sgp32_log_context ctx = {"eim-store", NULL, NULL};
    sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_STORE, &ctx, "sqlite %s: %s", what,
              d->db ? sqlite3_errmsg(d->db) : "cannot open");
    return SGP32_ERR_STORE;
}

static int exec(sgp32_eim_sqlite *d, const char *text)
{
    return sqlite3_exec(d->db, text, NULL, NULL, NULL) == SQLITE_OK ? SGP32_OK : db_error(d, text);
}

/* Create or check the schema; one BEGIN IMMEDIATE so two processes opening a new file agree. */
static int schema_setup(sgp32_eim_sqlite *d)
{
    int rc = exec(d, "BEGIN IMMEDIATE");
    if (rc)
        return rc;
    sqlite3_stmt *v = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(d->db, "PRAGMA user_version", -1, &v, NULL) != SQLITE_OK ||
        sqlite3_step(v) != SQLITE_ROW)
        rc = db_error(d, "user_version");
    else
        version = sqlite3_column_int(v, 0);
    sqlite3_finalize(v);
    if (!rc && version == 0)
        rc = exec(d, schema);
    else if (!rc && (version == 1 || version == 2)) {
        /* the steps in order, all in this one transaction */
        if (version == 1)
            rc = exec(d, migrate_1_to_2);
        if (!rc)
            rc = exec(d, migrate_2_to_3);
    } else if (!rc && version != SCHEMA_VERSION)
        rc = SGP32_ERR_STORE_VERSION;
    if (!rc)
        rc = exec(d, "COMMIT");
    if (rc && !sqlite3_get_autocommit(d->db))
        sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int sgp32_eim_sqlite_open(const char *path, sgp32_eim_sqlite **out)
{
    if (!path || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    *out = NULL;
    sgp32_eim_sqlite *d = calloc(1, sizeof(*d));
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
                        NULL) != SQLITE_OK) {
        rc = db_error(d, path);
        goto out;
    }
    sqlite3_busy_timeout(d->db, BUSY_TIMEOUT_MS);
    /* journal_mode cannot change inside a transaction; ":memory:" stays "memory", which is fine */
    rc = exec(d, "PRAGMA journal_mode = WAL");
    if (!rc)
        rc = exec(d, "PRAGMA synchronous = NORMAL");
    if (!rc)
        rc = exec(d, "PRAGMA foreign_keys = OFF");
    /* 16 MiB of page cache: the hot index pages of a large queue stay in memory */
    if (!rc)
        rc = exec(d, "PRAGMA cache_size = -16384");
    if (!rc)
        rc = schema_setup(d);
    for (int i = 0; !rc && i < ST_COUNT; i++)
        if (sqlite3_prepare_v3(d->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &d->st[i], NULL) != SQLITE_OK)
            rc = db_error(d, sql[i]);
out:
    if (rc) {
        sgp32_eim_sqlite_close(d);
        return rc;
    }
    *out = d;
    return SGP32_OK;
}

void sgp32_eim_sqlite_close(sgp32_eim_sqlite *d)
{
    if (!d)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(d->st[i]);
    sqlite3_close(d->db);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

int sgp32_eim_sqlite_synchronous(sgp32_eim_sqlite *d, bool full)
{
    if (!d)
        return SGP32_ERR_INVALID_ARGUMENT;
    pthread_mutex_lock(&d->lock);
    int rc = exec(d, full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
    pthread_mutex_unlock(&d->lock);
    return rc;
}

/* ------------------------------------------------------------------ statement helpers */

/*
 * Lock and hand out the prepared statement. A list callback may call the store again (same
 * thread, recursive lock); should it reach the very statement that is still iterating, it gets a
 * private copy instead of resetting the running one.
 */
static sqlite3_stmt *acquire(sgp32_eim_sqlite *d, int which)
{
    pthread_mutex_lock(&d->lock);
    sqlite3_stmt *s = d->st[which];
    if (sqlite3_stmt_busy(s)) {
        s = NULL;
        if (sqlite3_prepare_v2(d->db, sql[which], -1, &s, NULL) != SQLITE_OK) {
            (void)db_error(d, sql[which]);
            sqlite3_finalize(s);
            s = NULL;
        }
    }
    return s;
}

static int release(sgp32_eim_sqlite *d, int which, sqlite3_stmt *s, int rc)
{
    if (s && s != d->st[which]) {
        sqlite3_finalize(s);
    } else if (s) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}

/* The first step of a statement, retried when SQLite reports BUSY without having waited (the busy
 * handler is not called during WAL recovery). Inside a transaction a retry could not help. */
static int step_first(sgp32_eim_sqlite *d, sqlite3_stmt *s)
{
    int r = sqlite3_step(s);
    for (int i = 0; (r & 0xff) == SQLITE_BUSY && i < BUSY_RETRIES && sqlite3_get_autocommit(d->db); i++) {
        struct timespec pause = {0, 20 * 1000 * 1000};
        nanosleep(&pause, NULL);
        sqlite3_reset(s);
        r = sqlite3_step(s);
    }
    return r;
}

/* A statement that returns no rows: OK, STATE on a constraint (the row exists) or STORE. */
static int run_write(sgp32_eim_sqlite *d, sqlite3_stmt *s, const char *what)
{
    int r = step_first(d, s);
    if (r == SQLITE_DONE)
        return SGP32_OK;
    if ((r & 0xff) == SQLITE_CONSTRAINT)
        return SGP32_ERR_STATE;
    return db_error(d, what);
}

static void bind_text(sqlite3_stmt *s, int i, const char *text)
{
    sqlite3_bind_text(s, i, text ? text : "", -1, SQLITE_STATIC);
}

static void bind_buf_blob(sqlite3_stmt *s, int i, const sgp32_buf *b)
{
    if (b->len)
        sqlite3_bind_blob(s, i, b->data, (int)b->len, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

static void bind_buf_text(sqlite3_stmt *s, int i, const sgp32_buf *b)
{
    if (b->len)
        sqlite3_bind_text(s, i, (const char *)b->data, (int)b->len, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
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

static int blob_column(sqlite3_stmt *s, int col, sgp32_buf *out)
{
    sgp32_buf_reset(out);
    const void *p = sqlite3_column_blob(s, col);
    int n = sqlite3_column_bytes(s, col);
    return p && n > 0 ? sgp32_buf_append(out, p, (size_t)n) : SGP32_OK;
}

/* Text into a buffer: the bytes, plus a '\0' after them (not counted in len) when the cap has room,
 * so that callers may also treat it as a C string. */
static int text_buf_column(sqlite3_stmt *s, int col, sgp32_buf *out)
{
    sgp32_buf_reset(out);
    const unsigned char *t = sqlite3_column_text(s, col);
    int n = sqlite3_column_bytes(s, col);
    if (!t || n <= 0)
        return SGP32_OK;
    int rc = sgp32_buf_append(out, t, (size_t)n);
    if (!rc && sgp32_buf_append_byte(out, 0) == SGP32_OK)
        out->len--;
    return rc;
}

static size_t page_limit(size_t limit)
{
    return limit ? limit : LIST_DEFAULT_LIMIT;
}

static sqlite3_int64 limit_value(size_t limit)
{
    return limit > (size_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)limit;
}

/* The key of one row, bound as ?1 (and ?2): the blob when blob is set, else the text (and text2)
 * when text is set, else the integer id. One type, so that each of lookup, delete and existence
 * check is one helper whatever the table's key. */
typedef struct {
    const char *text;
    const char *text2;
    const void *blob;
    size_t blob_len;
    int64_t id;
} row_key;

static void bind_key(sqlite3_stmt *s, const row_key *k)
{
    if (k->blob) {
        sqlite3_bind_blob(s, 1, k->blob, (int)k->blob_len, SQLITE_STATIC);
    } else if (k->text) {
        bind_text(s, 1, k->text);
        if (k->text2)
            bind_text(s, 2, k->text2);
    } else {
        sqlite3_bind_int64(s, 1, k->id);
    }
}

/* One row by key into out with read(); NOT_FOUND when there is none. Every single-row lookup is
 * this (lock, bind the key, one step, release), so it is written once. */
static int get_by_key(sgp32_eim_sqlite *d, int which, const char *what, row_key key,
                      int (*read)(sqlite3_stmt *, void *), void *out)
{
    sqlite3_stmt *s = acquire(d, which);
    int rc = SGP32_ERR_STORE;
    if (s) {
        bind_key(s, &key);
        int r = step_first(d, s);
        if (r == SQLITE_ROW)
            rc = read(s, out);
        else
            rc = r == SQLITE_DONE ? SGP32_ERR_NOT_FOUND : db_error(d, what);
    }
    return release(d, which, s, rc);
}

/* What a write did, for its caller; read before the lock goes, since the next statement of another
 * thread would overwrite the connection's counts. */
typedef struct {
    int64_t changes; /* rows written */
    int64_t rowid;   /* of the last INSERT */
} write_effect;

/* Run a bound write (run_write), note its effect when asked, release it; s NULL (acquire failed and
 * logged) is STORE. The one ending of every write but the compare-and-set and RETURNING ones. */
static int finish_write(sgp32_eim_sqlite *d, int which, sqlite3_stmt *s, const char *what,
                        write_effect *effect)
{
    int rc = s ? run_write(d, s, what) : SGP32_ERR_STORE;
    if (!rc && effect) {
        effect->changes = sqlite3_changes(d->db);
        effect->rowid = sqlite3_last_insert_rowid(d->db);
    }
    return release(d, which, s, rc);
}

/* finish_write for a statement aimed at one row: NOT_FOUND when it changed none. */
static int finish_write_found(sgp32_eim_sqlite *d, int which, sqlite3_stmt *s, const char *what)
{
    write_effect effect = {0, 0};
    int rc = finish_write(d, which, s, what, &effect);
    return !rc && effect.changes == 0 ? SGP32_ERR_NOT_FOUND : rc;
}

/* A DELETE by key: NOT_FOUND when no row went. */
static int delete_by_key(sgp32_eim_sqlite *d, int which, const char *what, row_key key)
{
    sqlite3_stmt *s = acquire(d, which);
    if (s)
        bind_key(s, &key);
    return finish_write_found(d, which, s, what);
}

/* The reader of a compare-and-set miss's existence check: the row is there, so it was changed. */
static int read_changed(sqlite3_stmt *s, void *out)
{
    (void)s;
    (void)out;
    return SGP32_ERR_STATE;
}

/* A bound compare-and-set UPDATE (WHERE key AND version = the caller's), run under the lock the
 * caller holds, so that the check after a miss sees the same store: NOT_FOUND when the row is gone
 * (the exists statement finds nothing), STATE when it was changed since it was read. On a hit the
 * caller's version follows the row's. */
static int compare_and_set(sgp32_eim_sqlite *d, sqlite3_stmt *s, const char *what, int exists, row_key key,
                           int64_t *version)
{
    int rc = run_write(d, s, what);
    if (!rc && sqlite3_changes(d->db) != 1)
        rc = get_by_key(d, exists, "exists", key, read_changed, NULL);
    if (!rc)
        (*version)++;
    return rc;
}

/* A page of a list (ORDER BY its key LIMIT ?2): the statement, locked, with ?2 bound to the page
 * size; the caller binds ?1, the key the page starts after. NULL as for acquire. */
static sqlite3_stmt *acquire_page(sgp32_eim_sqlite *d, int which, size_t limit)
{
    sqlite3_stmt *s = acquire(d, which);
    if (s)
        sqlite3_bind_int64(s, 2, limit_value(page_limit(limit)));
    return s;
}

/* How a list walk ended: at SQLITE_DONE, or on a row when the callback stopped it; else STORE. */
static int walk_end(sgp32_eim_sqlite *d, int r, const char *what)
{
    return r == SQLITE_ROW || r == SQLITE_DONE ? SGP32_OK : db_error(d, what);
}

/* ------------------------------------------------------------------ eUICCs */

static void bind_euicc(sqlite3_stmt *s, const sgp32_eim_euicc *e)
{
    bind_text(s, 1, e->eid);
    bind_text(s, 2, e->label);
    bind_buf_blob(s, 3, &e->euicc_certificate);
    bind_buf_blob(s, 4, &e->eum_certificate);
    bind_buf_blob(s, 5, &e->euicc_info1);
    sqlite3_bind_int64(s, 6, e->counter);
    sqlite3_bind_int(s, 7, e->has_token);
    sqlite3_bind_int64(s, 8, e->token);
    sqlite3_bind_int(s, 9, e->associated);
    sqlite3_bind_int64(s, 10, e->registered);
    sqlite3_bind_int64(s, 11, e->last_seen);
    if (e->has_rplmn)
        sqlite3_bind_blob(s, 12, e->rplmn, sizeof(e->rplmn), SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 12);
    sqlite3_bind_int64(s, 13, e->state_change_cause);
    bind_text(s, 14, e->push_address);
}

static int read_euicc(sqlite3_stmt *s, sgp32_eim_euicc *e)
{
    text_column(s, 0, e->eid, sizeof(e->eid));
    text_column(s, 1, e->label, sizeof(e->label));
    int rc = blob_column(s, 2, &e->euicc_certificate);
    if (!rc)
        rc = blob_column(s, 3, &e->eum_certificate);
    if (!rc)
        rc = blob_column(s, 4, &e->euicc_info1);
    e->counter = sqlite3_column_int64(s, 5);
    e->has_token = sqlite3_column_int(s, 6) != 0;
    e->token = sqlite3_column_int64(s, 7);
    e->associated = sqlite3_column_int(s, 8) != 0;
    e->registered = sqlite3_column_int64(s, 9);
    e->last_seen = sqlite3_column_int64(s, 10);
    e->has_rplmn = sqlite3_column_bytes(s, 11) == (int)sizeof(e->rplmn);
    memset(e->rplmn, 0, sizeof(e->rplmn));
    if (e->has_rplmn)
        memcpy(e->rplmn, sqlite3_column_blob(s, 11), sizeof(e->rplmn));
    e->state_change_cause = sqlite3_column_int64(s, 12);
    text_column(s, 13, e->push_address, sizeof(e->push_address));
    e->version = sqlite3_column_int64(s, 14);
    return rc;
}

static int euicc_insert(void *ctx, const sgp32_eim_euicc *e)
{
    sgp32_eim_sqlite *d = ctx;
    if (!e)
        return SGP32_ERR_INVALID_ARGUMENT;
    sqlite3_stmt *s = acquire(d, ST_EUICC_INSERT);
    if (s)
        bind_euicc(s, e);
    return finish_write(d, ST_EUICC_INSERT, s, "euicc insert", NULL);
}

static int read_euicc_any(sqlite3_stmt *s, void *out)
{
    return read_euicc(s, out);
}

static int euicc_get(void *ctx, const char *eid, sgp32_eim_euicc *out)
{
    if (!eid || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    return get_by_key(ctx, ST_EUICC_GET, "euicc get", (row_key){.text = eid}, read_euicc_any, out);
}

static int euicc_update(void *ctx, sgp32_eim_euicc *e)
{
    sgp32_eim_sqlite *d = ctx;
    if (!e)
        return SGP32_ERR_INVALID_ARGUMENT;
    sqlite3_stmt *s = acquire(d, ST_EUICC_UPDATE);
    int rc = SGP32_ERR_STORE;
    if (s) {
        bind_euicc(s, e);
        sqlite3_bind_int64(s, 15, e->version);
        rc = compare_and_set(d, s, "euicc update", ST_EUICC_EXISTS, (row_key){.text = e->eid}, &e->version);
    }
    return release(d, ST_EUICC_UPDATE, s, rc);
}

static int euicc_touch(void *ctx, const char *eid, int64_t now, const uint8_t *rplmn, int64_t cause)
{
    sgp32_eim_sqlite *d = ctx;
    if (!eid)
        return SGP32_ERR_INVALID_ARGUMENT;
    sqlite3_stmt *s = acquire(d, ST_EUICC_TOUCH);
    if (s) {
        bind_text(s, 1, eid);
        sqlite3_bind_int64(s, 2, now);
        if (rplmn)
            sqlite3_bind_blob(s, 3, rplmn, 3, SQLITE_STATIC);
        else
            sqlite3_bind_null(s, 3);
        sqlite3_bind_int64(s, 4, cause);
    }
    /* eid is the primary key, so "no row changed" is "not one row changed" */
    return finish_write_found(d, ST_EUICC_TOUCH, s, "euicc touch");
}

static int euicc_counter_next(void *ctx, const char *eid, int64_t *value)
{
    sgp32_eim_sqlite *d = ctx;
    if (!eid || !value)
        return SGP32_ERR_INVALID_ARGUMENT;
    sqlite3_stmt *s = acquire(d, ST_EUICC_COUNTER);
    int rc = SGP32_ERR_STORE;
    if (!s)
        goto out;
    bind_text(s, 1, eid);
    int r = step_first(d, s);
    if (r == SQLITE_ROW) {
        *value = sqlite3_column_int64(s, 0);
        /* RETURNING: the write is complete once the statement runs to its end */
        r = sqlite3_step(s);
        rc = r == SQLITE_DONE ? SGP32_OK : db_error(d, "euicc counter");
    } else {
        rc = r == SQLITE_DONE ? SGP32_ERR_NOT_FOUND : db_error(d, "euicc counter");
    }
out:
    return release(d, ST_EUICC_COUNTER, s, rc);
}

static int euicc_list(void *ctx, const char *after_eid, size_t limit,
                      int (*fn)(void *arg, const sgp32_eim_euicc *e), void *arg)
{
    sgp32_eim_sqlite *d = ctx;
    if (!fn)
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_eim_euicc e;
    sgp32_eim_euicc_init(&e);
    sqlite3_stmt *s = acquire_page(d, ST_EUICC_LIST, limit);
    int rc = SGP32_ERR_STORE;
    if (!s)
        goto out;
    bind_text(s, 1, after_eid);
    int r = step_first(d, s);
    rc = SGP32_OK;
    for (; r == SQLITE_ROW && !rc; r = sqlite3_step(s)) {
        rc = read_euicc(s, &e);
        if (!rc && fn(arg, &e))
            break;
    }
    if (!rc)
        rc = walk_end(d, r, "euicc list");
out:
    rc = release(d, ST_EUICC_LIST, s, rc);
    sgp32_eim_euicc_free(&e);
    return rc;
}

static int euicc_push_candidates(void *ctx, const char *after_eid, size_t limit,
                                 int (*fn)(void *arg, const char *eid), void *arg)
{
    sgp32_eim_sqlite *d = ctx;
    if (!fn)
        return SGP32_ERR_INVALID_ARGUMENT;
    sqlite3_stmt *s = acquire_page(d, ST_EUICC_PUSH, limit);
    int rc = SGP32_ERR_STORE;
    if (!s)
        goto out;
    bind_text(s, 1, after_eid);
    int r = step_first(d, s);
    for (; r == SQLITE_ROW; r = sqlite3_step(s)) {
        char eid[SGP32_EIM_EID_DIGITS + 1];
        text_column(s, 0, eid, sizeof(eid));
        if (fn(arg, eid))
            break;
    }
    rc = walk_end(d, r, "euicc push candidates");
out:
    return release(d, ST_EUICC_PUSH, s, rc);
}

/* ------------------------------------------------------------------ profiles */

static int profile_put(void *ctx, const char *eid, const sgp32_eim_profile *p)
{
    sgp32_eim_sqlite *d = ctx;
    if (!eid || !p)
        return SGP32_ERR_INVALID_ARGUMENT;
    sqlite3_stmt *s = acquire(d, ST_PROFILE_PUT);
    if (s) {
        bind_text(s, 1, eid);
        bind_text(s, 2, p->iccid);
        sqlite3_bind_int(s, 3, (int)p->state);
        sqlite3_bind_int64(s, 4, p->profile_class);
        bind_text(s, 5, p->name);
        bind_text(s, 6, p->service_provider);
        sqlite3_bind_int(s, 7, p->fallback);
        sqlite3_bind_int64(s, 8, p->updated);
    }
    return finish_write(d, ST_PROFILE_PUT, s, "profile put", NULL);
}

static int profile_delete(void *ctx, const char *eid, const char *iccid)
{
    if (!eid || !iccid)
        return SGP32_ERR_INVALID_ARGUMENT;
    return delete_by_key(ctx, ST_PROFILE_DELETE, "profile delete", (row_key){.text = eid, .text2 = iccid});
}

static int profile_delete_all(void *ctx, const char *eid)
{
    if (!eid)
        return SGP32_ERR_INVALID_ARGUMENT;
    int rc = delete_by_key(ctx, ST_PROFILE_DELETE_ALL, "profile delete all", (row_key){.text = eid});
    return rc == SGP32_ERR_NOT_FOUND ? SGP32_OK : rc; /* none is fine: the list is empty either way */
}

static int profile_list(void *ctx, const char *eid, int (*fn)(void *arg, const sgp32_eim_profile *p),
                        void *arg)
{
    sgp32_eim_sqlite *d = ctx;
    if (!eid || !fn)
        return SGP32_ERR_INVALID_ARGUMENT;
    sqlite3_stmt *s = acquire(d, ST_PROFILE_LIST);
    int rc = SGP32_ERR_STORE;
    if (!s)
        goto out;
    bind_text(s, 1, eid);
    int r = step_first(d, s);
    for (; r == SQLITE_ROW; r = sqlite3_step(s)) {
        sgp32_eim_profile p;
        memset(&p, 0, sizeof(p));
        text_column(s, 0, p.iccid, sizeof(p.iccid));
        p.state = sqlite3_column_int(s, 1) ? SGP32_EIM_PROFILE_ENABLED : SGP32_EIM_PROFILE_DISABLED;
        p.profile_class = sqlite3_column_int64(s, 2);
        text_column(s, 3, p.name, sizeof(p.name));
        text_column(s, 4, p.service_provider, sizeof(p.service_provider));
        p.fallback = sqlite3_column_int(s, 5) != 0;
        p.updated = sqlite3_column_int64(s, 6);
        if (fn(arg, &p))
            break;
    }
    rc = walk_end(d, r, "profile list");
out:
    return release(d, ST_PROFILE_LIST, s, rc);
}

/* ------------------------------------------------------------------ operations */

/* ?1..?16: every column but id and version, in OP_COLUMNS order. */
static void bind_operation(sqlite3_stmt *s, const sgp32_eim_operation *op)
{
    bind_text(s, 1, op->eid);
    sqlite3_bind_int(s, 2, (int)op->kind);
    sqlite3_bind_int(s, 3, (int)op->state);
    bind_buf_text(s, 4, &op->request);
    sqlite3_bind_int64(s, 5, op->counter_value);
    bind_buf_blob(s, 6, &op->package);
    bind_buf_blob(s, 7, &op->result);
    bind_buf_text(s, 8, &op->result_json);
    sqlite3_bind_int(s, 9, op->awaiting_result);
    sqlite3_bind_int64(s, 10, op->created);
    sqlite3_bind_int64(s, 11, op->delivered);
    sqlite3_bind_int64(s, 12, op->completed);
    sqlite3_bind_int64(s, 13, op->expires);
    sqlite3_bind_int(s, 14, op->delivery_count);
    bind_text(s, 15, op->created_by);
    bind_text(s, 16, op->idempotency_key);
}

static int read_operation(sqlite3_stmt *s, void *out)
{
    sgp32_eim_operation *op = out;
    op->id = sqlite3_column_int64(s, 0);
    text_column(s, 1, op->eid, sizeof(op->eid));
    op->kind = (sgp32_eim_op_kind)sqlite3_column_int(s, 2);
    op->state = (sgp32_eim_op_state)sqlite3_column_int(s, 3);
    int rc = text_buf_column(s, 4, &op->request);
    op->counter_value = sqlite3_column_int64(s, 5);
    if (!rc)
        rc = blob_column(s, 6, &op->package);
    if (!rc)
        rc = blob_column(s, 7, &op->result);
    if (!rc)
        rc = text_buf_column(s, 8, &op->result_json);
    op->awaiting_result = sqlite3_column_int(s, 9) != 0;
    op->created = sqlite3_column_int64(s, 10);
    op->delivered = sqlite3_column_int64(s, 11);
    op->completed = sqlite3_column_int64(s, 12);
    op->expires = sqlite3_column_int64(s, 13);
    op->delivery_count = sqlite3_column_int(s, 14);
    text_column(s, 15, op->created_by, sizeof(op->created_by));
    text_column(s, 16, op->idempotency_key, sizeof(op->idempotency_key));
    op->version = sqlite3_column_int64(s, 17);
    return rc;
}

static int op_insert(void *ctx, sgp32_eim_operation *op)
{
    sgp32_eim_sqlite *d = ctx;
    if (!op)
        return SGP32_ERR_INVALID_ARGUMENT;
    sqlite3_stmt *s = acquire(d, ST_OP_INSERT);
    if (s)
        bind_operation(s, op);
    write_effect effect = {0, 0};
    /* STATE: the idempotency key is taken */
    int rc = finish_write(d, ST_OP_INSERT, s, "operation insert", &effect);
    if (!rc) {
        op->id = effect.rowid;
        op->version = 1;
    }
    return rc;
}

static int op_get(void *ctx, int64_t id, sgp32_eim_operation *out)
{
    if (!out)
        return SGP32_ERR_INVALID_ARGUMENT;
    return get_by_key(ctx, ST_OP_GET, "operation get", (row_key){.id = id}, read_operation, out);
}

static int op_next(void *ctx, const char *eid, sgp32_eim_operation *out)
{
    if (!eid || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    return get_by_key(ctx, ST_OP_NEXT, "operation next", (row_key){.text = eid}, read_operation, out);
}

static int op_update(void *ctx, sgp32_eim_operation *op)
{
    sgp32_eim_sqlite *d = ctx;
    if (!op)
        return SGP32_ERR_INVALID_ARGUMENT;
    sqlite3_stmt *s = acquire(d, ST_OP_UPDATE);
    int rc = SGP32_ERR_STORE;
    if (s) {
        bind_operation(s, op);
        sqlite3_bind_int64(s, 17, op->id);
        sqlite3_bind_int64(s, 18, op->version);
        rc = compare_and_set(d, s, "operation update", ST_OP_EXISTS, (row_key){.id = op->id}, &op->version);
    }
    return release(d, ST_OP_UPDATE, s, rc);
}

static int op_list(void *ctx, const sgp32_eim_op_filter *filter,
                   int (*fn)(void *arg, const sgp32_eim_operation *op), void *arg)
{
    sgp32_eim_sqlite *d = ctx;
    if (!fn)
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_eim_op_filter all = {NULL, -1, 0, 0};
    const sgp32_eim_op_filter *f = filter ? filter : &all;
    bool by_state = f->state >= 0;
    /* one statement per filter shape, so that each has its index (op_eid, op_state, primary key) */
    int which = f->eid ? (by_state ? ST_OP_LIST_EID_STATE : ST_OP_LIST_EID)
                       : (by_state ? ST_OP_LIST_STATE : ST_OP_LIST_ALL);
    sgp32_eim_operation op;
    sgp32_eim_operation_init(&op);
    sqlite3_stmt *s = acquire_page(d, which, f->limit);
    int rc = SGP32_ERR_STORE;
    if (!s)
        goto out;
    sqlite3_bind_int64(s, 1, f->after_id);
    if (f->eid)
        bind_text(s, 3, f->eid);
    if (by_state)
        sqlite3_bind_int(s, 4, f->state);
    int r = step_first(d, s);
    rc = SGP32_OK;
    for (; r == SQLITE_ROW && !rc; r = sqlite3_step(s)) {
        rc = read_operation(s, &op);
        if (!rc && fn(arg, &op))
            break;
    }
    if (!rc)
        rc = walk_end(d, r, "operation list");
out:
    rc = release(d, which, s, rc);
    sgp32_eim_operation_free(&op);
    return rc;
}

static int op_find_idempotent(void *ctx, const char *created_by, const char *key, sgp32_eim_operation *out)
{
    if (!created_by || !key || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    if (!key[0])
        return SGP32_ERR_NOT_FOUND; /* "" is "no key": never matches */
    return get_by_key(ctx, ST_OP_IDEMPOTENT, "operation idempotency",
                      (row_key){.text = created_by, .text2 = key}, read_operation, out);
}

/* One statement over every row whose time (?1 = now) has come; *count how many it changed. */
static int sweep(sgp32_eim_sqlite *d, int which, const char *what, int64_t now, size_t *count)
{
    sqlite3_stmt *s = acquire(d, which);
    if (s)
        sqlite3_bind_int64(s, 1, now);
    write_effect effect = {0, 0};
    int rc = finish_write(d, which, s, what, &effect);
    if (!rc && count)
        *count = (size_t)effect.changes;
    return rc;
}

static int op_expire(void *ctx, int64_t now, size_t *count)
{
    return sweep(ctx, ST_OP_EXPIRE, "operation expire", now, count);
}

static int op_count(void *ctx, int64_t counts[SGP32_EIM_OP_STATE_COUNT])
{
    sgp32_eim_sqlite *d = ctx;
    if (!counts)
        return SGP32_ERR_INVALID_ARGUMENT;
    memset(counts, 0, sizeof(int64_t) * SGP32_EIM_OP_STATE_COUNT);
    sqlite3_stmt *s = acquire(d, ST_OP_COUNT);
    int rc = SGP32_ERR_STORE;
    if (!s)
        goto out;
    int r = step_first(d, s);
    for (; r == SQLITE_ROW; r = sqlite3_step(s)) {
        int state = sqlite3_column_int(s, 0);
        if (state >= 0 && state < SGP32_EIM_OP_STATE_COUNT)
            counts[state] = sqlite3_column_int64(s, 1);
    }
    rc = r == SQLITE_DONE ? SGP32_OK : db_error(d, "operation count");
out:
    return release(d, ST_OP_COUNT, s, rc);
}

static int result_seen(void *ctx, const char *eid, int64_t seq_number, bool *seen)
{
    sgp32_eim_sqlite *d = ctx;
    if (!eid || !seen)
        return SGP32_ERR_INVALID_ARGUMENT;
    sqlite3_stmt *s = acquire(d, ST_RESULT_SEEN);
    if (s) {
        bind_text(s, 1, eid);
        sqlite3_bind_int64(s, 2, seq_number);
    }
    /* one INSERT OR IGNORE: test and record in the same statement, so two racing copies of one
     * result cannot both see "new" */
    write_effect effect = {0, 0};
    int rc = finish_write(d, ST_RESULT_SEEN, s, "result seen", &effect);
    if (!rc)
        *seen = effect.changes == 0;
    return rc;
}

/* ------------------------------------------------------------------ relay sessions */

static int relay_put(void *ctx, const sgp32_eim_relay *r)
{
    sgp32_eim_sqlite *d = ctx;
    if (!r || !r->transaction_id_len || r->transaction_id_len > SGP32_EIM_RELAY_TXID_MAX)
        return SGP32_ERR_INVALID_ARGUMENT;
    sqlite3_stmt *s = acquire(d, ST_RELAY_PUT);
    if (s) {
        sqlite3_bind_blob(s, 1, r->transaction_id, (int)r->transaction_id_len, SQLITE_STATIC);
        bind_text(s, 2, r->eid);
        bind_text(s, 3, r->smdp_address);
        sqlite3_bind_int64(s, 4, r->operation_id);
        sqlite3_bind_int64(s, 5, r->expires);
    }
    return finish_write(d, ST_RELAY_PUT, s, "relay put", NULL);
}

static int read_relay(sqlite3_stmt *s, void *out)
{
    sgp32_eim_relay *r = out;
    memset(r, 0, sizeof(*r));
    int n = sqlite3_column_bytes(s, 0);
    if (n > 0 && n <= SGP32_EIM_RELAY_TXID_MAX) {
        memcpy(r->transaction_id, sqlite3_column_blob(s, 0), (size_t)n);
        r->transaction_id_len = (size_t)n;
    }
    text_column(s, 1, r->eid, sizeof(r->eid));
    text_column(s, 2, r->smdp_address, sizeof(r->smdp_address));
    r->operation_id = sqlite3_column_int64(s, 3);
    r->expires = sqlite3_column_int64(s, 4);
    return SGP32_OK;
}

static int relay_get(void *ctx, const uint8_t *txid, size_t len, sgp32_eim_relay *out)
{
    if (!txid || !len || len > SGP32_EIM_RELAY_TXID_MAX || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    return get_by_key(ctx, ST_RELAY_GET, "relay get", (row_key){.blob = txid, .blob_len = len}, read_relay,
                      out);
}

static int relay_purge(void *ctx, int64_t now, size_t *count)
{
    return sweep(ctx, ST_RELAY_PURGE, "relay purge", now, count);
}

static int relay_delete(void *ctx, const uint8_t *txid, size_t len)
{
    if (!txid || !len || len > SGP32_EIM_RELAY_TXID_MAX)
        return SGP32_ERR_INVALID_ARGUMENT;
    return delete_by_key(ctx, ST_RELAY_DELETE, "relay delete", (row_key){.blob = txid, .blob_len = len});
}

/* ------------------------------------------------------------------ outbox */

static int outbox_put(void *ctx, sgp32_eim_outbox_item *item)
{
    sgp32_eim_sqlite *d = ctx;
    if (!item)
        return SGP32_ERR_INVALID_ARGUMENT;
    sqlite3_stmt *s = acquire(d, ST_OUTBOX_PUT);
    if (s) {
        bind_text(s, 1, item->eid);
        bind_text(s, 2, item->address);
        bind_buf_blob(s, 3, &item->notification);
        sqlite3_bind_int(s, 4, item->attempts);
        sqlite3_bind_int64(s, 5, item->next_attempt);
    }
    write_effect effect = {0, 0};
    int rc = finish_write(d, ST_OUTBOX_PUT, s, "outbox put", &effect);
    if (!rc)
        item->id = effect.rowid;
    return rc;
}

static int read_outbox(sqlite3_stmt *s, void *out)
{
    sgp32_eim_outbox_item *item = out;
    item->id = sqlite3_column_int64(s, 0);
    text_column(s, 1, item->eid, sizeof(item->eid));
    text_column(s, 2, item->address, sizeof(item->address));
    int rc = blob_column(s, 3, &item->notification);
    item->attempts = sqlite3_column_int(s, 4);
    item->next_attempt = sqlite3_column_int64(s, 5);
    return rc;
}

static int outbox_next(void *ctx, int64_t now, sgp32_eim_outbox_item *out)
{
    if (!out)
        return SGP32_ERR_INVALID_ARGUMENT;
    /* not a key, but bound the same way: ?1 is the time the items must be due by */
    return get_by_key(ctx, ST_OUTBOX_NEXT, "outbox next", (row_key){.id = now}, read_outbox, out);
}

static int outbox_update(void *ctx, const sgp32_eim_outbox_item *item)
{
    sgp32_eim_sqlite *d = ctx;
    if (!item)
        return SGP32_ERR_INVALID_ARGUMENT;
    sqlite3_stmt *s = acquire(d, ST_OUTBOX_UPDATE);
    if (s) {
        sqlite3_bind_int64(s, 1, item->id);
        sqlite3_bind_int(s, 2, item->attempts);
        sqlite3_bind_int64(s, 3, item->next_attempt);
    }
    return finish_write_found(d, ST_OUTBOX_UPDATE, s, "outbox update");
}

static int outbox_delete(void *ctx, int64_t id)
{
    return delete_by_key(ctx, ST_OUTBOX_DELETE, "outbox delete", (row_key){.id = id});
}

/* ------------------------------------------------------------------ audit log */

static int event_append(void *ctx, sgp32_eim_event *ev)
{
    sgp32_eim_sqlite *d = ctx;
    if (!ev)
        return SGP32_ERR_INVALID_ARGUMENT;
    sqlite3_stmt *s = acquire(d, ST_EVENT_APPEND);
    if (s) {
        sqlite3_bind_int64(s, 1, ev->time);
        bind_text(s, 2, ev->actor);
        bind_text(s, 3, ev->action);
        bind_text(s, 4, ev->eid);
        sqlite3_bind_int64(s, 5, ev->operation_id);
        bind_text(s, 6, ev->detail);
    }
    write_effect effect = {0, 0};
    int rc = finish_write(d, ST_EVENT_APPEND, s, "event append", &effect);
    if (!rc)
        ev->id = effect.rowid;
    return rc;
}

static int event_list(void *ctx, const char *eid, int64_t after_id, size_t limit,
                      int (*fn)(void *arg, const sgp32_eim_event *ev), void *arg)
{
    sgp32_eim_sqlite *d = ctx;
    if (!fn)
        return SGP32_ERR_INVALID_ARGUMENT;
    int which = eid ? ST_EVENT_LIST_EID : ST_EVENT_LIST_ALL;
    sqlite3_stmt *s = acquire_page(d, which, limit);
    int rc = SGP32_ERR_STORE;
    if (!s)
        goto out;
    sqlite3_bind_int64(s, 1, after_id);
    if (eid)
        bind_text(s, 3, eid);
    int r = step_first(d, s);
    for (; r == SQLITE_ROW; r = sqlite3_step(s)) {
        sgp32_eim_event ev;
        memset(&ev, 0, sizeof(ev));
        ev.id = sqlite3_column_int64(s, 0);
        ev.time = sqlite3_column_int64(s, 1);
        text_column(s, 2, ev.actor, sizeof(ev.actor));
        text_column(s, 3, ev.action, sizeof(ev.action));
        text_column(s, 4, ev.eid, sizeof(ev.eid));
        ev.operation_id = sqlite3_column_int64(s, 5);
        text_column(s, 6, ev.detail, sizeof(ev.detail));
        if (fn(arg, &ev))
            break;
    }
    rc = walk_end(d, r, "event list");
out:
    return release(d, which, s, rc);
}

/* ------------------------------------------------------------------ API tokens */

static int token_insert(void *ctx, const sgp32_eim_token *t)
{
    sgp32_eim_sqlite *d = ctx;
    if (!t)
        return SGP32_ERR_INVALID_ARGUMENT;
    sqlite3_stmt *s = acquire(d, ST_TOKEN_INSERT);
    if (s) {
        bind_text(s, 1, t->name);
        sqlite3_bind_int(s, 2, (int)t->role);
        sqlite3_bind_blob(s, 3, t->secret_sha256, SGP32_SHA256_LEN, SQLITE_STATIC);
        sqlite3_bind_int64(s, 4, t->created);
    }
    /* STATE: the name or the secret is taken */
    return finish_write(d, ST_TOKEN_INSERT, s, "token insert", NULL);
}

static int read_token(sqlite3_stmt *s, void *out)
{
    sgp32_eim_token *t = out;
    memset(t, 0, sizeof(*t));
    text_column(s, 0, t->name, sizeof(t->name));
    t->role = (sgp32_eim_role)sqlite3_column_int(s, 1);
    if (sqlite3_column_bytes(s, 2) == SGP32_SHA256_LEN)
        memcpy(t->secret_sha256, sqlite3_column_blob(s, 2), SGP32_SHA256_LEN);
    t->created = sqlite3_column_int64(s, 3);
    return SGP32_OK;
}

static int token_find(void *ctx, const uint8_t secret_sha256[SGP32_SHA256_LEN], sgp32_eim_token *out)
{
    if (!secret_sha256 || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    return get_by_key(ctx, ST_TOKEN_FIND, "token find",
                      (row_key){.blob = secret_sha256, .blob_len = SGP32_SHA256_LEN}, read_token, out);
}

static int token_delete(void *ctx, const char *name)
{
    if (!name)
        return SGP32_ERR_INVALID_ARGUMENT;
    return delete_by_key(ctx, ST_TOKEN_DELETE, "token delete", (row_key){.text = name});
}

static int token_list(void *ctx, int (*fn)(void *arg, const sgp32_eim_token *t), void *arg)
{
    sgp32_eim_sqlite *d = ctx;
    if (!fn)
        return SGP32_ERR_INVALID_ARGUMENT;
    sqlite3_stmt *s = acquire(d, ST_TOKEN_LIST);
    int rc = SGP32_ERR_STORE;
    if (!s)
        goto out;
    int r = step_first(d, s);
    for (; r == SQLITE_ROW; r = sqlite3_step(s)) {
        sgp32_eim_token t;
        read_token(s, &t);
        if (fn(arg, &t))
            break;
    }
    rc = walk_end(d, r, "token list");
out:
    return release(d, ST_TOKEN_LIST, s, rc);
}

/* ------------------------------------------------------------------ transactions */

static int run_plain(sgp32_eim_sqlite *d, int which)
{
    sqlite3_stmt *s = d->st[which];
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    return r == SQLITE_DONE ? SGP32_OK : db_error(d, sql[which]);
}

static int tx_begin(void *ctx)
{
    sgp32_eim_sqlite *d = ctx;
    pthread_mutex_lock(&d->lock); /* held until the matching tx_end */
    if (d->tx_depth > 0) {
        /* only this thread can be here with depth > 0: it holds the lock */
        d->tx_depth++;
        return SGP32_OK;
    }
    int rc = run_plain(d, ST_BEGIN);
    if (rc) {
        pthread_mutex_unlock(&d->lock);
        return rc;
    }
    d->tx_depth = 1;
    d->tx_rollback_only = false;
    return SGP32_OK;
}

static int tx_end(void *ctx, bool commit)
{
    sgp32_eim_sqlite *d = ctx;
    /* A thread with a transaction owns the lock, so trylock succeeds for it (recursively). A thread
     * without one either gets EBUSY (someone else is in the store) or a depth of 0. */
    if (pthread_mutex_trylock(&d->lock) != 0)
        return SGP32_ERR_STATE;
    if (d->tx_depth == 0) {
        pthread_mutex_unlock(&d->lock);
        return SGP32_ERR_STATE;
    }
    int rc = SGP32_OK;
    if (!commit)
        d->tx_rollback_only = true;
    if (--d->tx_depth == 0) {
        if (!d->tx_rollback_only)
            rc = run_plain(d, ST_COMMIT);
        else if (commit)
            rc = SGP32_ERR_STATE; /* an inner tx_end rolled the whole transaction back */
        if (!sqlite3_get_autocommit(d->db))
            (void)run_plain(d, ST_ROLLBACK);
        d->tx_rollback_only = false;
    }
    pthread_mutex_unlock(&d->lock); /* the trylock above */
    pthread_mutex_unlock(&d->lock); /* the matching tx_begin */
    return rc;
}

/* ------------------------------------------------------------------ test hook */

/*
 * Not in the public header: the tests and benches use it to check that the hot statements use
 * their indexes. Writes the EXPLAIN QUERY PLAN details of the statement named (its index in the
 * table above: "op_next", "op_idempotent", "op_expire", "result_seen", "relay_get", "relay_purge",
 * "outbox_next", "euicc_counter") into out, separated by "; ".
 */
int sgp32_eim_sqlite_query_plan(sgp32_eim_sqlite *d, const char *statement, char *out, size_t size);

int sgp32_eim_sqlite_query_plan(sgp32_eim_sqlite *d, const char *statement, char *out, size_t size)
{
    static const struct {
        const char *name;
        int which;
    } names[] = {
        {"op_next", ST_OP_NEXT},
        {"op_idempotent", ST_OP_IDEMPOTENT},
        {"op_expire", ST_OP_EXPIRE},
        {"op_list_eid", ST_OP_LIST_EID},
        {"op_list_state", ST_OP_LIST_STATE},
        {"op_list_eid_state", ST_OP_LIST_EID_STATE},
        {"op_count", ST_OP_COUNT},
        {"result_seen", ST_RESULT_SEEN},
        {"relay_get", ST_RELAY_GET},
        {"relay_purge", ST_RELAY_PURGE},
        {"outbox_next", ST_OUTBOX_NEXT},
        {"euicc_counter", ST_EUICC_COUNTER},
        {"euicc_touch", ST_EUICC_TOUCH},
        {"euicc_push", ST_EUICC_PUSH},
    };
    if (!d || !statement || !out || !size)
        return SGP32_ERR_INVALID_ARGUMENT;
    int which = -1;
    for (size_t i = 0; i < SGP32_ARRAY_LEN(names); i++)
        if (!strcmp(names[i].name, statement))
            which = names[i].which;
    if (which < 0)
        return SGP32_ERR_NOT_FOUND;
    out[0] = '\0';
    char text[2048];
    snprintf(text, sizeof(text), "EXPLAIN QUERY PLAN %s", sql[which]);
    pthread_mutex_lock(&d->lock);
    sqlite3_stmt *s = NULL;
    int rc = SGP32_OK;
    if (sqlite3_prepare_v2(d->db, text, -1, &s, NULL) != SQLITE_OK) {
        rc = db_error(d, "explain");
        goto out;
    }
    size_t used = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const unsigned char *detail = sqlite3_column_text(s, 3);
        int n =
            snprintf(out + used, size - used, "%s%s", used ? "; " : "", detail ? (const char *)detail : "");
        if (n < 0 || (size_t)n >= size - used) {
            rc = SGP32_ERR_BUFFER_TOO_SMALL;
            break;
        }
        used += (size_t)n;
    }
out:
    sqlite3_finalize(s);
    pthread_mutex_unlock(&d->lock);
    return rc;
}

/* ------------------------------------------------------------------ the store */

sgp32_eim_store sgp32_eim_sqlite_store(sgp32_eim_sqlite *d)
{
    sgp32_eim_store st = {
        .ctx = d,
        .euicc_insert = euicc_insert,
        .euicc_get = euicc_get,
        .euicc_update = euicc_update,
        .euicc_touch = euicc_touch,
        .euicc_counter_next = euicc_counter_next,
        .euicc_list = euicc_list,
        .euicc_push_candidates = euicc_push_candidates,
        .profile_put = profile_put,
        .profile_delete = profile_delete,
        .profile_delete_all = profile_delete_all,
        .profile_list = profile_list,
        .op_insert = op_insert,
        .op_get = op_get,
        .op_next = op_next,
        .op_update = op_update,
        .op_list = op_list,
        .op_find_idempotent = op_find_idempotent,
        .op_expire = op_expire,
        .op_count = op_count,
        .result_seen = result_seen,
        .relay_put = relay_put,
        .relay_get = relay_get,
        .relay_delete = relay_delete,
        .relay_purge = relay_purge,
        .outbox_put = outbox_put,
        .outbox_next = outbox_next,
        .outbox_update = outbox_update,
        .outbox_delete = outbox_delete,
        .event_append = event_append,
        .event_list = event_list,
        .token_insert = token_insert,
        .token_find = token_find,
        .token_delete = token_delete,
        .token_list = token_list,
        .tx_begin = tx_begin,
        .tx_end = tx_end,
    };
    return st;
}

/*
 * ./bench/run storage: what durable storage costs on this machine, with the settings eimd and smdpd
 * use (SQLite, WAL, synchronous=NORMAL, automatic checkpoints, one connection). The server
 * benchmarks (bench_eim, bench_smdp) compare a whole request with its public-key work; this one
 * gives the floor that the durable commits of a request add on top, so that the two can be read
 * together (docs/eim.md and docs/smdpd.md, "What the benchmark shows").
 *
 * A table of 100,000 rows of ~250 bytes (the size of an eIM operation or an SM-DP+ order) with an
 * index on (state, id), in a temporary directory. Then, each in CPU time of this thread, averaged
 * over N calls on rows spread over the table:
 *
 *   read_us              one lookup by primary key in its own read transaction
 *   commit_1_page_us     BEGIN IMMEDIATE, UPDATE of one row that leaves the index alone, COMMIT:
 *                        one page written to the WAL
 *   commit_3_pages_us    the same UPDATE changing the indexed column: the row's page and two
 *                        index pages (the entry leaves one leaf for another)
 *   page_us              (commit_3_pages_us - commit_1_page_us) / 2: one more page in a commit
 *
 * Checkpoints run as they do in the servers (every 1,000 WAL pages, in the committing thread),
 * so their cost is spread over the commits. Last line: one JSON object.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { ROWS = 100000, DEFAULT_CALLS = 20000 };

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(sqlite3 *db, const char *what)
{
    fprintf(stderr, "bench_storage: %s: %s\n", what, db ? sqlite3_errmsg(db) : "cannot open");
    exit(1);
}

static void exec(sqlite3 *db, const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        fail(db, sql);
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        fail(db, sql);
    return s;
}

static void step(sqlite3 *db, sqlite3_stmt *s, int expect)
{
    if (sqlite3_step(s) != expect)
        fail(db, sqlite3_sql(s));
    sqlite3_reset(s);
}

/* A row spread over the table: a multiplier prime to ROWS walks all of them. */
static int row(int i)
{
    return (int)(((long long)i * 7919) % ROWS);
}

/* Mean CPU seconds of one durable transaction around `update` (?1 row, ?2 new value). */
static double commits(sqlite3 *db, sqlite3_stmt *update, int calls, int base)
{
    sqlite3_stmt *begin = prepare(db, "BEGIN IMMEDIATE"), *commit = prepare(db, "COMMIT");
    double t0 = thread_cpu();
    for (int i = 0; i < calls; i++) {
        step(db, begin, SQLITE_DONE);
        sqlite3_bind_int(update, 1, row(i));
        sqlite3_bind_int(update, 2, base + i);
        step(db, update, SQLITE_DONE);
        step(db, commit, SQLITE_DONE);
    }
    double spent = thread_cpu() - t0;
    sqlite3_finalize(begin);
    sqlite3_finalize(commit);
    return spent / calls;
}

int main(int argc, char **argv)
{
    int calls = DEFAULT_CALLS;
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf(
            "usage: bench_storage [CALLS]   (default %d per figure)\n"
            "CPU cost of a read and of a durable SQLite commit on this machine (WAL, synchronous=NORMAL)\n",
            DEFAULT_CALLS);
        return 0;
    }
    if (argc > 1 && (calls = atoi(argv[1])) <= 0) {
        fprintf(stderr, "bench_storage: CALLS must be a positive number\n");
        return 2;
    }
    char dir[] = "/tmp/bench_storage.XXXXXX", path[64];
    if (!mkdtemp(dir)) {
        perror("bench_storage: mkdtemp");
        return 1;
    }
    snprintf(path, sizeof(path), "%s/bench.db", dir);
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        fail(db, path);
    exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
             "CREATE TABLE item (id INTEGER PRIMARY KEY, eid TEXT NOT NULL, state INTEGER NOT NULL,"
             " detail TEXT NOT NULL, body BLOB);"
             "CREATE INDEX item_state ON item (state, id);");
    exec(db, "BEGIN");
    sqlite3_stmt *insert = prepare(db, "INSERT INTO item VALUES (?1, printf('8904%028d', ?1 % 1000), 0, "
                                       "'queued', randomblob(200))");
    for (int i = 0; i < ROWS; i++) {
        sqlite3_bind_int(insert, 1, i);
        step(db, insert, SQLITE_DONE);
    }
    sqlite3_finalize(insert);
    exec(db, "COMMIT");
    fprintf(stderr, "bench_storage: %d rows in %s; %d calls per figure\n", ROWS, path, calls);

    sqlite3_stmt *read = prepare(db, "SELECT eid, state, detail, body FROM item WHERE id = ?1");
    double t0 = thread_cpu();
    for (int i = 0; i < calls; i++) {
        sqlite3_bind_int(read, 1, row(i));
        step(db, read, SQLITE_ROW);
    }
    double read_s = (thread_cpu() - t0) / calls;
    sqlite3_finalize(read);

    /* detail keeps its length, so the row stays on its page; state moves the index entry */
    sqlite3_stmt *one = prepare(db, "UPDATE item SET detail = printf('%06d', ?2 % 1000000) WHERE id = ?1");
    sqlite3_stmt *three = prepare(db, "UPDATE item SET state = 1 + ?2 % 3 WHERE id = ?1");
    double one_s = commits(db, one, calls, 0), three_s = commits(db, three, calls, 0);
    sqlite3_finalize(one);
    sqlite3_finalize(three);
    sqlite3_close(db);
    unlink(path);
    char side[80];
    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);
    rmdir(dir);

    double page_s = (three_s - one_s) / 2;
    printf("read (own transaction)      %7.1f us CPU\n", read_s * 1e6);
    printf("durable commit, 1 page      %7.1f us CPU\n", one_s * 1e6);
    printf("durable commit, 3 pages     %7.1f us CPU\n", three_s * 1e6);
    printf("each further page           %7.1f us CPU\n", page_s * 1e6);
    printf("{\"calls\":%d,\"read_us\":%.1f,\"commit_1_page_us\":%.1f,\"commit_3_pages_us\":%.1f,\"page_us\":%"
           ".1f,"
           "\"sqlite\":\"%s\"}\n",
           calls, read_s * 1e6, one_s * 1e6, three_s * 1e6, page_s * 1e6, sqlite3_libversion());
    return 0;
}

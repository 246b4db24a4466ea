/*
 * smdpd end to end: a real smdpd process (HTTPS, SQLite) and an LPA + software eUICC client
 * (smdp_client.c) that orders profiles over ES2+ and downloads them over ES9+ (JSON and ASN.1),
 * on both curves, with and without confirmation code; every ES9+/ES2+ error branch with its
 * subject/reason code; a restart in the middle of a download; GetBoundProfilePackage retry; the
 * ES2+ handleDownloadProgressInfo callbacks to a tiny local HTTP listener. Per-profile keys: a type
 * whose profiles come from two profile_data files (mode 600) gets each profile's Ki and OPc, read
 * back off the card from the installed profile's akaParameters, its IMSI in EF.IMSI, and no key in
 * the database; a profile whose line was taken out of the file (smdpd restarted) is refused with
 * 8.2/3.7 rather than bound with the template's keys, and downloads once the line is back; smdpd
 * refuses to start on a file others may read, a duplicate ICCID, or an inventory line of that type.
 *
 * Environment (set by run_smdpd_tests.sh): SMDPD (the binary), SMDP_WORK (a scratch directory
 * with pki/ and pki2/ made by sgp32-pki). The server listens on 127.0.0.1, on a free port; its
 * pid is kept in $SMDP_WORK/smdpd.pid so that the script's trap can stop it whatever happens.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "euicc_fixture.h"
#include "sgp32/asn1.h"
#include "sgp32/certificate.h"
#include "sgp32/profile_package.h"
#include "sgp32/smdp_server.h"
#include "smdp_client.h"

#define TOKEN     "test-token-0123456789"
#define OTHER_EID "89049032123451234512345678901243"

static char work[512], smdpd[512], ca_file[600], db_path[600], config_path[600];
static pid_t server_pid;
static int server_port;
static int callback_port;

/* ------------------------------------------------------------------ callback listener */

typedef struct callbacks {
    pthread_mutex_t lock;
    int count;
    int point_count[8];
    char last[4096];
    char refused[4096]; /* the first callback, answered 503 */
    bool refused_redelivered;
    int fd;
} callbacks;

static callbacks received = {.lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1};

/* A tiny HTTP/1.1 listener: reads one request per connection, answers 204. */
static void *listener(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(received.fd, NULL, NULL);
        if (c < 0)
            return NULL;
        char buf[16384];
        size_t n = 0;
        ssize_t k;
        size_t want = 0;
        while (n < sizeof(buf) - 1 && (k = read(c, buf + n, sizeof(buf) - 1 - n)) > 0) {
            n += (size_t)k;
            buf[n] = '\0';
            char *end = strstr(buf, "\r\n\r\n");
            if (end && !want) {
                char *cl = NULL;
                for (char *q = buf; q < end && !cl; q++)
                    if (strncasecmp(q, "content-length:", 15) == 0)
                        cl = q;
                want = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
            }
            if (want && n >= want)
                break;
        }
        /* the very first callback is refused with 503: smdpd must post it again */
        char *body = strstr(buf, "\r\n\r\n");
        pthread_mutex_lock(&received.lock);
        bool refuse = body && !received.refused[0];
        if (refuse)
            snprintf(received.refused, sizeof(received.refused), "%s", body + 4);
        else if (body && !strcmp(received.refused, body + 4))
            received.refused_redelivered = true;
        pthread_mutex_unlock(&received.lock);
        const char *reply =
            refuse ? "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                   : "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
        (void)!write(c, reply, strlen(reply));
        close(c);
        if (body && !refuse) {
            pthread_mutex_lock(&received.lock);
            received.count++;
            char *p = strstr(body, "\"notificationPointId\":");
            if (p) {
                int id = atoi(p + 22);
                if (id >= 0 && id < 8)
                    received.point_count[id]++;
            }
            snprintf(received.last, sizeof(received.last), "%s", body + 4);
            pthread_mutex_unlock(&received.lock);
        }
    }
}

static int start_listener(void)
{
    received.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    if (bind(received.fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(received.fd, 16) ||
        getsockname(received.fd, (struct sockaddr *)&sa, &len))
        return -1;
    pthread_t t;
    pthread_create(&t, NULL, listener, NULL);
    pthread_detach(t);
    return ntohs(sa.sin_port);
}

/* ------------------------------------------------------------------ server */

/* ------------------------------------------------------------------ per-profile keys (profile_data) */

/* The operator's batch for type "keyed" (the TS.48 v1 template), in two files: keys-a.txt (upper-case
 * hex, an 18-digit ICCID that smdpd completes with its Luhn digit) and keys-b.txt (lower case). */
enum { KEYED = 5 };
static struct keyed_profile {
    const char *iccid;   /* as stored: with its Luhn digit */
    const char *written; /* as in the file */
    const char *imsi;
    uint8_t ki[16], opc[16];
} keyed[KEYED] = {
    {"8949449999300000009", "894944999930000000", "234150888800000", {0}, {0}},
    {"8949449999300000017", "8949449999300000017", "234150888800001", {0}, {0}},
    {"8949449999300000025", "8949449999300000025", "234150888800002", {0}, {0}},
    {"8949449999300000033", "8949449999300000033", "234150888800003", {0}, {0}},
    {"8949449999300000041", "8949449999300000041", "234150888800004", {0}, {0}},
};

static void hex_of(const uint8_t *b, size_t n, bool upper, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, upper ? "%02X" : "%02x", b[i]);
}

/* A key file with the entries [first, last) of keyed[] but skip (-1: none), mode 600. */
static void write_keys(const char *name, size_t first, size_t last, int skip, mode_t mode)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", work, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "# %s: ICCID IMSI KI OPC\n\n", name);
    for (size_t i = first; i < last; i++) {
        if ((int)i == skip)
            continue;
        char ki[33], opc[33];
        hex_of(keyed[i].ki, 16, first == 0, ki);
        hex_of(keyed[i].opc, 16, first == 0, opc);
        fprintf(f, "%s\t%s %s %s%s\n", keyed[i].written, keyed[i].imsi, ki, opc,
                i == first ? "  # first" : "");
    }
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void write_config_file(const char *path, const char *db, const char *extra)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "# smdpd test configuration\n"
            "listen = 127.0.0.1\nport = 0\naddress = localhost\naddress_alias = smdp.example.com\n"
            "tls_certificate = %s/pki/CERT_DPtls_localhost_NIST.pem\n"
            "tls_key = %s/pki/SK_DPtls_localhost_NIST.pem\n"
            "ci_certificate = %s/pki/CERT_CI_SGP26_NIST.pem\n"
            "ci_certificate = %s/pki/CERT_CI_SGP26_BRP.pem\n"
            "credentials = %s/pki/CERT_DPauth_NIST.der %s/pki/SK_DPauth_NIST.pem %s/pki/CERT_DPpb_NIST.der "
            "%s/pki/SK_DPpb_NIST.pem\n"
            "credentials = %s/pki/CERT_DPauth_BRP.der %s/pki/SK_DPauth_BRP.pem %s/pki/CERT_DPpb_BRP.der "
            "%s/pki/SK_DPpb_BRP.pem\n"
            "database = %s\n"
            "template = ts48v1 " SGP32_SPEC_DIR "/profiles/TS48V1-A-UNIQUE.der\n"
            "template = ts48v2 " SGP32_SPEC_DIR "/profiles/TS48V2-SAIP2-1-BERTLV-UNIQUE.der\n"
            "template = tiny " SGP32_SPEC_DIR "/profiles/TS48V1-A-UNIQUE.der\n"
            "inventory = ts48v1 894944999900000000 200\n"
            "inventory = ts48v2 894944999910000000 50 234150999900000\n"
            "inventory = tiny 894944999920000000 1\n"
            "es2_token = " TOKEN "\n"
            "es2_callback_url = http://127.0.0.1:%d/es2plus/handleDownloadProgressInfo\n"
            "cc_max_failures = 3\nthreads = 4\nmax_body = 65536\nlog_level = warn\n"
            "template = keyed " SGP32_SPEC_DIR "/profiles/TS48V1-A-UNIQUE.der\n"
            "profile_data = keyed %s/keys-a.txt\n"
            "profile_data = keyed %s/keys-b.txt\n%s",
            work, work, work, work, work, work, work, work, work, work, work, work, db, callback_port, work,
            work, extra);
    fclose(f);
}

static void write_config(void)
{
    for (size_t i = 0; i < KEYED; i++)
        for (size_t k = 0; k < 16; k++) {
            keyed[i].ki[k] = (uint8_t)(0x3C + 0x25 * i + 0x11 * k);
            keyed[i].opc[k] = (uint8_t)(0xA7 ^ (0x13 * i + 0x2B * k));
        }
    write_keys("keys-a.txt", 0, 3, -1, 0600);
    write_keys("keys-b.txt", 3, KEYED, -1, 0600);
    snprintf(config_path, sizeof(config_path), "%s/smdpd.conf", work);
    snprintf(db_path, sizeof(db_path), "%s/smdpd.db", work);
    write_config_file(config_path, db_path, "");
}

static void start_server(void)
{
    int out[2];
    assert_int_equal(pipe(out), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        execl(smdpd, smdpd, "--config", config_path, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    server_pid = pid;
    char pidfile[600];
    snprintf(pidfile, sizeof(pidfile), "%s/smdpd.pid", work);
    FILE *pf = fopen(pidfile, "w");
    if (pf) {
        fprintf(pf, "%d\n", (int)pid);
        fclose(pf);
    }
    FILE *in = fdopen(out[0], "r");
    char line[256];
    server_port = 0;
    while (fgets(line, sizeof(line), in))
        if (sscanf(line, "smdpd: listening on port %d", &server_port) == 1)
            break;
    fclose(in);
    assert_true(server_port > 0);
}

static void stop_server(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        int status = 0;
        waitpid(server_pid, &status, 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        server_pid = 0;
    }
}

static void kill_server_at_exit(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGKILL);
        waitpid(server_pid, NULL, 0);
    }
}

/* ------------------------------------------------------------------ per test */

typedef struct env {
    euicc_fixture f;
    smdp_client c;
} env;

static int setup(void **state)
{
    env *e = calloc(1, sizeof(*e));
    assert_int_equal(euicc_fixture_open(&e->f), SGP32_OK);
    char url[64];
    snprintf(url, sizeof(url), "https://localhost:%d", server_port);
    assert_int_equal(smdp_client_init(&e->c, url, ca_file, TOKEN, e->f.euicc), SGP32_OK);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    smdp_client_free(&e->c);
    euicc_fixture_close(&e->f);
    free(e);
    return 0;
}

static void reconnect(env *e)
{
    char url[64];
    snprintf(url, sizeof(url), "https://localhost:%d", server_port);
    smdp_client_free(&e->c);
    bool asn1 = e->c.asn1;
    assert_int_equal(smdp_client_init(&e->c, url, ca_file, TOKEN, e->f.euicc), SGP32_OK);
    e->c.asn1 = asn1;
}

#define assert_status(r, subj, reas)                                                                         \
    do {                                                                                                     \
        if ((r).ok || strcmp((r).subject, subj) || strcmp((r).reason, reas))                                 \
            fail_msg("expected %s/%s, got %s %s/%s (HTTP %ld)", subj, reas, (r).ok ? "success" : "failure",  \
                     (r).subject, (r).reason, (r).http);                                                     \
    } while (0)

#define assert_ok(r)                                                                                         \
    do {                                                                                                     \
        if (!(r).ok)                                                                                         \
            fail_msg("expected success, got %s/%s (HTTP %ld, asn1 %lld)", (r).subject, (r).reason, (r).http, \
                     (r).asn1_error);                                                                        \
    } while (0)

/* ES2+ downloadOrder + confirmOrder: the ICCID and matchingId of a released (or confirmed) order. */
static void order(env *e, const char *type, const char *eid, const char *cc, bool release, char iccid[21],
                  char matching_id[65])
{
    smdp_result r;
    json_t *req = json_object(), *ans = NULL;
    json_object_set_new(req, "profileType", json_string(type));
    if (eid)
        json_object_set_new(req, "eid", json_string(eid));
    assert_int_equal(smdp_es2(&e->c, "downloadOrder", req, &r, &ans), SGP32_OK);
    assert_ok(r);
    snprintf(iccid, 21, "%s", json_string_value(json_object_get(ans, "iccid")));
    json_decref(ans);
    req = json_object();
    json_object_set_new(req, "iccid", json_string(iccid));
    json_object_set_new(req, "releaseFlag", json_boolean(release));
    if (cc)
        json_object_set_new(req, "confirmationCode", json_string(cc));
    assert_int_equal(smdp_es2(&e->c, "confirmOrder", req, &r, &ans), SGP32_OK);
    assert_ok(r);
    snprintf(matching_id, 65, "%s", json_string_value(json_object_get(ans, "matchingId")));
    assert_string_equal(json_string_value(json_object_get(ans, "smdpAddress")), "localhost");
    json_decref(ans);
}

/* The order's state as stored (the test reads the server's SQLite file). */
static int db_state(const char *iccid)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT state FROM orders WHERE iccid = ?1", -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, iccid, -1, SQLITE_STATIC);
    int state = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return state;
}

/* A text column of an order as stored. */
static void db_text(const char *iccid, const char *column, char *out, size_t size)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT %s FROM orders WHERE iccid = ?1", column);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, iccid, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void download_ok(env *e, int curve, const char *type, const char *cc)
{
    char iccid[21], mid[65];
    order(e, type, NULL, cc, true, iccid, mid);
    assert_int_equal(db_state(iccid), SGP32_ORDER_RELEASED);
    lpa_session s;
    lpa_session_init(&s);
    smdp_result r;
    assert_int_equal(lpa_initiate(&e->c, &s, curve, "localhost", &r), SGP32_OK);
    assert_ok(r);
    assert_int_equal(lpa_authenticate(&e->c, &s, mid, NULL, NULL, &r), SGP32_OK);
    assert_ok(r);
    assert_int_equal(db_state(iccid), SGP32_ORDER_RELEASED);
    assert_int_equal(lpa_prepare(&e->c, &s, cc), SGP32_OK);
    assert_int_equal(lpa_get_bpp(&e->c, &s, &r), SGP32_OK);
    assert_ok(r);
    assert_int_equal(db_state(iccid), SGP32_ORDER_DOWNLOADED);
    assert_int_equal(lpa_install(&e->c, &s), SGP32_OK);
    assert_int_equal(lpa_notify(&e->c, &s, &r), SGP32_OK);
    assert_ok(r);
    assert_int_equal(r.http, 204);
    assert_int_equal(db_state(iccid), SGP32_ORDER_INSTALLED);
    /* The profile on the eUICC carries the order's ICCID (header and metadata personalised). */
    static const uint8_t list[] = {0xBF, 0x2D, 0x00};
    sgp32_buf out;
    sgp32_buf_init(&out, 1 << 16);
    assert_int_equal(sgp32_euicc_es10(e->f.euicc, list, sizeof(list), &out), SGP32_OK);
    uint8_t bcd[10];
    assert_int_equal(sgp32_smdp_iccid_to_bcd(iccid, bcd), SGP32_OK);
    bool found = false;
    for (size_t i = 0; i + 10 <= out.len; i++)
        found |= memcmp(out.data + i, bcd, 10) == 0;
    assert_true(found);
    sgp32_buf_free(&out);
    /* EF.IMSI of the installed profile (the card keeps its elements): the order's IMSI from the
     * inventory range (ts48v2), or the template's when the range has none (ts48v1). */
    char name[40], imsi[16];
    snprintf(name, sizeof(name), "profile-%s", iccid);
    sgp32_buf elements;
    sgp32_buf_init(&elements, 1 << 20);
    assert_int_equal(e->f.config.store.load(e->f.config.store.ctx, name, &elements), SGP32_OK);
    assert_int_equal(sgp32_upp_ef_imsi(elements.data, elements.len, imsi), SGP32_OK);
    char ordered[32];
    db_text(iccid, "imsi", ordered, sizeof(ordered));
    if (!strcmp(type, "ts48v2")) {
        assert_int_equal(strncmp(ordered, "2341509999", 10), 0);
        assert_string_equal(imsi, ordered);
    } else {
        assert_string_equal(ordered, "");
        assert_string_equal(imsi, "001010123456063");
    }
    sgp32_buf_free(&elements);
    /* The matchingId is used now. */
    lpa_session_free(&s);
    lpa_session_init(&s);
    assert_int_equal(lpa_initiate(&e->c, &s, curve, "localhost", &r), SGP32_OK);
    assert_int_equal(lpa_authenticate(&e->c, &s, mid, NULL, NULL, &r), SGP32_OK);
    if (e->c.asn1)
        assert_int_equal(r.asn1_error, 6); /* matchingIdRefused */
    else
        assert_status(r, "8.2.6", "3.8");
    lpa_session_free(&s);
}

/* ------------------------------------------------------------------ tests */

static void json_downloads_both_curves_with_and_without_cc(void **state)
{
    env *e = *state;
    download_ok(e, 0, "ts48v1", NULL);
    download_ok(e, 1, "ts48v2", NULL);
    download_ok(e, 0, "ts48v2", "1234");
    download_ok(e, 1, "ts48v1", "98765");
}

static void asn1_downloads_both_curves_with_and_without_cc(void **state)
{
    env *e = *state;
    e->c.asn1 = true;
    download_ok(e, 0, "ts48v1", NULL);
    download_ok(e, 1, "ts48v1", "4711");
    /* an error through the ASN.1 binding: unknown transaction -> authenticateClientError 10 */
    lpa_session s;
    lpa_session_init(&s);
    smdp_result r;
    assert_int_equal(lpa_initiate(&e->c, &s, 0, "localhost", &r), SGP32_OK);
    s.txid[0] ^= 0xFF;
    assert_int_equal(lpa_authenticate(&e->c, &s, "nope", NULL, NULL, &r), SGP32_OK);
    assert_false(r.ok);
    assert_int_equal(r.asn1_error, 10);
    /* invalid smdpAddress -> initiateAuthenticationError invalidDpAddress(1) */
    assert_int_equal(lpa_initiate(&e->c, &s, 0, "evil.example.com", &r), SGP32_OK);
    assert_int_equal(r.asn1_error, 1);
    lpa_session_free(&s);
}

/* -- tampering with the eUICC's AuthenticateServerResponse BF38 {A0 {30, 5F37, 30 eUICC, 30 EUM}} -- */

typedef struct splice {
    int which; /* 1 signature bit, 2 replace eUICC cert, 3 replace EUM cert, 4 corrupt EUM signature */
    sgp32_bytes cert;
} splice;

static void tamper(sgp32_buf *resp, void *ctx)
{
    const splice *sp = ctx;
    sgp32_asn1_tlv outer, a0, part[4];
    assert_int_equal(sgp32_asn1_read_tlv(resp->data, resp->len, &outer, NULL), SGP32_OK);
    assert_int_equal(sgp32_asn1_read_tlv(outer.value.data, outer.value.len, &a0, NULL), SGP32_OK);
    assert_int_equal(a0.tag, 0xA0);
    sgp32_asn1_reader rd;
    sgp32_asn1_reader_init(&rd, a0.value, 1);
    for (int i = 0; i < 4; i++)
        assert_int_equal(sgp32_asn1_reader_next(&rd, &part[i]), SGP32_OK);
    sgp32_buf out;
    sgp32_buf_init(&out, 1 << 16);
    size_t m1 = sgp32_asn1_begin(&out), m2 = sgp32_asn1_begin(&out);
    for (int i = 0; i < 4; i++) {
        sgp32_bytes b = part[i].whole;
        if ((sp->which == 2 && i == 2) || (sp->which == 3 && i == 3))
            b = sp->cert;
        size_t at = out.len;
        assert_int_equal(sgp32_buf_append(&out, b.data, b.len), SGP32_OK);
        if (sp->which == 1 && i == 1)
            out.data[at + 10] ^= 0x01;
        if (sp->which == 4 && i == 3)
            out.data[out.len - 5] ^= 0x01;
    }
    assert_int_equal(sgp32_asn1_end(&out, 0xA0, m2), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&out, 0xBF38, m1), SGP32_OK);
    sgp32_buf_reset(resp);
    assert_int_equal(sgp32_buf_append(resp, out.data, out.len), SGP32_OK);
    sgp32_buf_free(&out);
}

static void read_file_buf(const char *path, sgp32_buf *out)
{
    assert_int_equal(test_read_file(path, out), SGP32_OK);
}

/* An expired eUICC certificate for the SGP.26 eUICC key, issued by the SGP.26 EUM. */
static void expired_euicc_cert(sgp32_buf *out)
{
    sgp32_buf eum, euicc, key_pem;
    read_file_buf(SGP32_SPEC_DIR "/sgp26/EUM/CERT_EUM_ECDSA_NIST.der", &eum);
    read_file_buf(SGP32_SPEC_DIR "/sgp26/eUICC/CERT_EUICC_ECDSA_NIST.der", &euicc);
    read_file_buf(SGP32_SPEC_DIR "/sgp26/EUM/SK_EUM_ECDSA_NIST.pem", &key_pem);
    sgp32_ec_private_key key;
    assert_int_equal(sgp32_ec_private_from_pem((const char *)key_pem.data, key_pem.len, &key), SGP32_OK);
    sgp32_certificate *cert = calloc(1, sizeof(*cert));
    assert_int_equal(sgp32_cert_parse(euicc.data, euicc.len, cert), SGP32_OK);
    sgp32_cert_request req = {
        .profile = SGP32_CERT_PROFILE_EUICC,
        .country = "ES",
        .organization = cert->subject.organization,
        .serial_number = EUICC_FIXTURE_EID,
        .common_name = "Test eUICC",
        .subject_key = &cert->public_key,
        .not_before = 946684800, /* 2000 */
        .not_after = 978307200,  /* 2001 */
    };
    sgp32_buf_init(out, 4096);
    assert_int_equal(sgp32_cert_issue(&req, eum.data, eum.len, &key, out), SGP32_OK);
    free(cert);
    sgp32_secure_zero(&key, sizeof(key));
    sgp32_buf_free(&eum);
    sgp32_buf_free(&euicc);
    sgp32_buf_free(&key_pem);
}

static void authenticate_expect(env *e, const char *mid, splice *sp, const char *subject, const char *reason)
{
    lpa_session s;
    lpa_session_init(&s);
    smdp_result r;
    assert_int_equal(lpa_initiate(&e->c, &s, 0, "localhost", &r), SGP32_OK);
    assert_ok(r);
    assert_int_equal(lpa_authenticate(&e->c, &s, mid, sp ? tamper : NULL, sp, &r), SGP32_OK);
    assert_status(r, subject, reason);
    /* the session is over after a refusal */
    assert_int_equal(lpa_authenticate(&e->c, &s, mid, NULL, NULL, &r), SGP32_OK);
    assert_status(r, "8.10.1", "3.9");
    lpa_session_free(&s);
}

static void es9_error_branches(void **state)
{
    env *e = *state;
    smdp_result r;
    lpa_session s;
    lpa_session_init(&s);
    char iccid[21], mid[65], path[700];

    /* InitiateAuthentication: invalid smdpAddress; an alias is accepted */
    assert_int_equal(lpa_initiate(&e->c, &s, 0, "evil.example.com", &r), SGP32_OK);
    assert_status(r, "8.8.1", "3.8");
    assert_int_equal(lpa_initiate(&e->c, &s, 1, "SMDP.example.COM", &r), SGP32_OK);
    assert_ok(r);
    /* unknown transaction */
    s.txid_hex[0] = s.txid_hex[0] == 'A' ? 'B' : 'A';
    assert_int_equal(lpa_authenticate(&e->c, &s, "x", NULL, NULL, &r), SGP32_OK);
    assert_status(r, "8.10.1", "3.9");

    order(e, "ts48v1", NULL, NULL, true, iccid, mid);
    /* unknown matchingId */
    authenticate_expect(e, "NO-SUCH-MATCHING-ID", NULL, "8.2.6", "3.8");
    /* bad eUICC signature */
    splice sig = {1, {NULL, 0}};
    authenticate_expect(e, mid, &sig, "8.1", "6.1");
    /* expired eUICC certificate */
    sgp32_buf expired;
    expired_euicc_cert(&expired);
    splice exp = {2, sgp32_buf_bytes(&expired)};
    authenticate_expect(e, mid, &exp, "8.1.3", "6.3");
    sgp32_buf_free(&expired);
    /* an eUICC certificate from another EUM (mismatching the EUM certificate sent) */
    sgp32_buf other;
    snprintf(path, sizeof(path), "%s/pki/CERT_EUICC_89049032123451234512345678901235_NIST.der", work);
    read_file_buf(path, &other);
    splice mism = {2, sgp32_buf_bytes(&other)};
    authenticate_expect(e, mid, &mism, "8.1.3", "6.1");
    sgp32_buf_free(&other);
    /* a broken EUM certificate */
    splice eum_bad = {4, {NULL, 0}};
    authenticate_expect(e, mid, &eum_bad, "8.1.2", "6.1");
    /* an EUM under a CI the SM-DP+ does not know */
    snprintf(path, sizeof(path), "%s/pki2/CERT_EUM_NIST.der", work);
    read_file_buf(path, &other);
    splice unknown_ci = {3, sgp32_buf_bytes(&other)};
    authenticate_expect(e, mid, &unknown_ci, "8.11.1", "3.9");
    sgp32_buf_free(&other);

    /* EID not matching the order */
    char iccid2[21], mid2[65];
    order(e, "ts48v1", OTHER_EID, NULL, true, iccid2, mid2);
    authenticate_expect(e, mid2, NULL, "8.1.1", "3.8");
    /* confirmed but not released: profile not released */
    order(e, "ts48v1", NULL, NULL, false, iccid2, mid2);
    authenticate_expect(e, mid2, NULL, "8.2", "1.2");

    /* GetBoundProfilePackage: unknown transaction, then a good one still works */
    lpa_session_free(&s);
    lpa_session_init(&s);
    assert_int_equal(lpa_initiate(&e->c, &s, 0, "localhost", &r), SGP32_OK);
    assert_int_equal(lpa_authenticate(&e->c, &s, mid, NULL, NULL, &r), SGP32_OK);
    assert_ok(r);
    assert_int_equal(lpa_prepare(&e->c, &s, NULL), SGP32_OK);
    char saved[33];
    memcpy(saved, s.txid_hex, sizeof(saved));
    s.txid_hex[1] = s.txid_hex[1] == '0' ? '1' : '0';
    assert_int_equal(lpa_get_bpp(&e->c, &s, &r), SGP32_OK);
    assert_status(r, "8.10.1", "3.9");
    memcpy(s.txid_hex, saved, sizeof(saved));
    /* a tampered PrepareDownloadResponse signature */
    sgp32_buf good;
    sgp32_buf_init(&good, 4096);
    assert_int_equal(sgp32_buf_append(&good, s.euicc_response.data, s.euicc_response.len), SGP32_OK);
    s.euicc_response.data[s.euicc_response.len - 3] ^= 0x01;
    assert_int_equal(lpa_get_bpp(&e->c, &s, &r), SGP32_OK);
    assert_status(r, "8.1", "6.1");
    /* that ended the session */
    sgp32_buf_reset(&s.euicc_response);
    assert_int_equal(sgp32_buf_append(&s.euicc_response, good.data, good.len), SGP32_OK);
    assert_int_equal(lpa_get_bpp(&e->c, &s, &r), SGP32_OK);
    assert_status(r, "8.10.1", "3.9");
    sgp32_buf_free(&good);
    /* the order is still Released: a new session downloads it */
    sgp32_euicc_reset(e->f.euicc);
    lpa_session_free(&s);
    assert_int_equal(db_state(iccid), SGP32_ORDER_RELEASED);
    assert_int_equal(lpa_download(&e->c, 0, mid, NULL, &r), SGP32_OK);
    assert_ok(r);
    assert_int_equal(db_state(iccid), SGP32_ORDER_INSTALLED);
}

static void confirmation_code_retry_limit(void **state)
{
    env *e = *state;
    char iccid[21], mid[65];
    order(e, "ts48v2", NULL, "2468", true, iccid, mid);
    smdp_result r;
    for (int attempt = 1; attempt <= 3; attempt++) {
        lpa_session s;
        lpa_session_init(&s);
        assert_int_equal(lpa_initiate(&e->c, &s, attempt % 2, "localhost", &r), SGP32_OK);
        assert_int_equal(lpa_authenticate(&e->c, &s, mid, NULL, NULL, &r), SGP32_OK);
        assert_ok(r);
        assert_int_equal(lpa_prepare(&e->c, &s, "1111"), SGP32_OK);
        assert_int_equal(lpa_get_bpp(&e->c, &s, &r), SGP32_OK);
        if (attempt < 3)
            assert_status(r, "8.2.7", "3.8");
        else
            assert_status(r, "8.2.7", "6.4");
        sgp32_euicc_reset(e->f.euicc);
        lpa_session_free(&s);
    }
    assert_int_equal(db_state(iccid), SGP32_ORDER_ERROR);
    /* even the right code is too late now */
    lpa_session s;
    lpa_session_init(&s);
    assert_int_equal(lpa_initiate(&e->c, &s, 0, "localhost", &r), SGP32_OK);
    assert_int_equal(lpa_authenticate(&e->c, &s, mid, NULL, NULL, &r), SGP32_OK);
    assert_status(r, "8.2.7", "6.4");
    lpa_session_free(&s);
    /* the operator puts the profile back */
    json_t *req = json_object();
    json_object_set_new(req, "iccid", json_string(iccid));
    json_object_set_new(req, "finalProfileStatusIndicator", json_string("Available"));
    assert_int_equal(smdp_es2(&e->c, "cancelOrder", req, &r, NULL), SGP32_OK);
    assert_ok(r);
    assert_int_equal(db_state(iccid), SGP32_ORDER_AVAILABLE);
}

static void es2_error_branches(void **state)
{
    env *e = *state;
    smdp_result r;
    json_t *req, *ans;
    char iccid[21], mid[65];
#define ES2(fn, body) (req = (body), smdp_es2(&e->c, fn, req, &r, NULL))
    /* bad token */
    snprintf(e->c.token, sizeof(e->c.token), "wrong");
    assert_int_equal(ES2("downloadOrder", json_pack("{s:s}", "profileType", "ts48v1")), SGP32_OK);
    assert_int_equal(r.http, 401);
    assert_status(r, "1.1", "1.1");
    snprintf(e->c.token, sizeof(e->c.token), TOKEN);
    /* unknown ICCID / profile type; nothing given */
    assert_int_equal(ES2("downloadOrder", json_pack("{s:s}", "iccid", "89000000000000000001")), SGP32_OK);
    assert_status(r, "8.2.1", "3.9");
    assert_int_equal(ES2("downloadOrder", json_pack("{s:s}", "profileType", "nope")), SGP32_OK);
    assert_status(r, "8.2.5", "3.9");
    assert_int_equal(ES2("downloadOrder", json_object()), SGP32_OK);
    assert_status(r, "1.6", "2.3");
    /* profile not available: the only 'tiny' one, twice */
    assert_int_equal(smdp_es2(&e->c, "downloadOrder", json_pack("{s:s}", "profileType", "tiny"), &r, &ans),
                     SGP32_OK);
    assert_ok(r);
    snprintf(iccid, sizeof(iccid), "%s", json_string_value(json_object_get(ans, "iccid")));
    json_decref(ans);
    assert_int_equal(ES2("downloadOrder", json_pack("{s:s}", "profileType", "tiny")), SGP32_OK);
    assert_status(r, "8.2.5", "3.7");
    assert_int_equal(ES2("downloadOrder", json_pack("{s:s}", "iccid", iccid)), SGP32_OK);
    assert_status(r, "8.2.1", "3.3");
    /* releaseProfile before confirmOrder */
    assert_int_equal(ES2("releaseProfile", json_pack("{s:s}", "iccid", iccid)), SGP32_OK);
    assert_status(r, "8.2.1", "3.5");
    /* confirmOrder with a bad EID, then with an EID, then another EID */
    assert_int_equal(
        ES2("confirmOrder", json_pack("{s:s,s:s,s:b}", "iccid", iccid, "eid", "123", "releaseFlag", 0)),
        SGP32_OK);
    assert_status(r, "8.1.1", "2.1");
    assert_int_equal(
        ES2("confirmOrder", json_pack("{s:s,s:s,s:s,s:b}", "iccid", iccid, "eid", EUICC_FIXTURE_EID,
                                      "matchingId", "MY-MATCHING-ID-1", "releaseFlag", 0)),
        SGP32_OK);
    assert_ok(r);
    assert_int_equal(db_state(iccid), SGP32_ORDER_CONFIRMED);
    /* a matchingId already in use */
    char iccid2[21], mid2[65];
    assert_int_equal(smdp_es2(&e->c, "downloadOrder",
                              json_pack("{s:s,s:s}", "profileType", "ts48v1", "eid", EUICC_FIXTURE_EID), &r,
                              &ans),
                     SGP32_OK);
    snprintf(iccid2, sizeof(iccid2), "%s", json_string_value(json_object_get(ans, "iccid")));
    json_decref(ans);
    assert_int_equal(ES2("confirmOrder", json_pack("{s:s,s:s,s:b}", "iccid", iccid2, "matchingId",
                                                   "MY-MATCHING-ID-1", "releaseFlag", 1)),
                     SGP32_OK);
    assert_status(r, "8.2.6", "3.3");
    assert_int_equal(
        ES2("confirmOrder", json_pack("{s:s,s:s,s:b}", "iccid", iccid2, "eid", OTHER_EID, "releaseFlag", 1)),
        SGP32_OK);
    assert_status(r, "8.1.1", "3.10");
    /* an empty matchingId with the EID: the default-SM-DP+ case, downloaded without matchingId */
    assert_int_equal(
        ES2("confirmOrder", json_pack("{s:s,s:s,s:b}", "iccid", iccid2, "matchingId", "", "releaseFlag", 1)),
        SGP32_OK);
    assert_ok(r);
    assert_int_equal(lpa_download(&e->c, 1, NULL, NULL, &r), SGP32_OK);
    assert_ok(r);
    assert_int_equal(db_state(iccid2), SGP32_ORDER_INSTALLED);
    /* cancelOrder: missing indicator, wrong matchingId, then done; installed ones cannot */
    assert_int_equal(ES2("cancelOrder", json_pack("{s:s}", "iccid", iccid)), SGP32_OK);
    assert_status(r, "8.2.1", "2.2");
    assert_int_equal(ES2("cancelOrder", json_pack("{s:s,s:s,s:s}", "iccid", iccid, "matchingId", "OTHER",
                                                  "finalProfileStatusIndicator", "Unavailable")),
                     SGP32_OK);
    assert_status(r, "8.2.6", "3.10");
    assert_int_equal(ES2("cancelOrder", json_pack("{s:s,s:s}", "iccid", iccid, "finalProfileStatusIndicator",
                                                  "Unavailable")),
                     SGP32_OK);
    assert_ok(r);
    assert_int_equal(db_state(iccid), SGP32_ORDER_UNAVAILABLE);
    assert_int_equal(ES2("cancelOrder",
                         json_pack("{s:s,s:s}", "iccid", iccid2, "finalProfileStatusIndicator", "Available")),
                     SGP32_OK);
    assert_status(r, "8.2.1", "3.3");
    /* strict JSON: unknown field, wrong type, missing header */
    assert_int_equal(ES2("releaseProfile", json_pack("{s:s,s:i}", "iccid", iccid, "bogus", 1)), SGP32_OK);
    assert_status(r, "1.6", "2.1");
    assert_int_equal(ES2("releaseProfile", json_pack("{s:i}", "iccid", 42)), SGP32_OK);
    assert_status(r, "1.6", "2.1");
    sgp32_buf out;
    sgp32_buf_init(&out, 4096);
    const char *no_header = "{\"iccid\":\"89000000000000000001\"}";
    char auth[160];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", TOKEN);
    long http = 0;
    assert_int_equal(smdp_client_post(&e->c, "/gsma/rsp2/es2plus/releaseProfile", "application/json",
                                      no_header, strlen(no_header), auth, &out, &http),
                     SGP32_OK);
    assert_non_null(strstr((const char *)out.data, "\"2.2\""));
    sgp32_buf_free(&out);
    (void)mid;
    (void)mid2;
#undef ES2
}

static void restart_in_the_middle_of_a_download(void **state)
{
    env *e = *state;
    char iccid[21], mid[65];
    order(e, "ts48v1", NULL, "5555", true, iccid, mid);
    lpa_session s;
    lpa_session_init(&s);
    smdp_result r;
    assert_int_equal(lpa_initiate(&e->c, &s, 1, "localhost", &r), SGP32_OK);
    assert_int_equal(lpa_authenticate(&e->c, &s, mid, NULL, NULL, &r), SGP32_OK);
    assert_ok(r);
    /* restart between AuthenticateClient and GetBoundProfilePackage: the session is in SQLite */
    stop_server();
    start_server();
    reconnect(e);
    assert_int_equal(lpa_prepare(&e->c, &s, "5555"), SGP32_OK);
    assert_int_equal(lpa_get_bpp(&e->c, &s, &r), SGP32_OK);
    assert_ok(r);
    assert_int_equal(db_state(iccid), SGP32_ORDER_DOWNLOADED);
    /* restart again; the LPA lost the answer and retries GetBoundProfilePackage: same BPP */
    sgp32_buf first;
    sgp32_buf_init(&first, 4 << 20);
    assert_int_equal(sgp32_buf_append(&first, s.bpp.data, s.bpp.len), SGP32_OK);
    stop_server();
    start_server();
    reconnect(e);
    assert_int_equal(lpa_get_bpp(&e->c, &s, &r), SGP32_OK);
    assert_ok(r);
    assert_int_equal(s.bpp.len, first.len);
    assert_memory_equal(s.bpp.data, first.data, first.len);
    sgp32_buf_free(&first);
    /* a different PrepareDownloadResponse in the same session cannot rebind */
    sgp32_buf saved;
    sgp32_buf_init(&saved, 4096);
    assert_int_equal(sgp32_buf_append(&saved, s.euicc_response.data, s.euicc_response.len), SGP32_OK);
    s.euicc_response.data[s.euicc_response.len - 1] ^= 0x01;
    assert_int_equal(lpa_get_bpp(&e->c, &s, &r), SGP32_OK);
    assert_status(r, "8.2", "3.7");
    sgp32_buf_reset(&s.euicc_response);
    assert_int_equal(sgp32_buf_append(&s.euicc_response, saved.data, saved.len), SGP32_OK);
    sgp32_buf_free(&saved);
    assert_int_equal(lpa_get_bpp(&e->c, &s, &r), SGP32_OK);
    assert_ok(r);
    assert_int_equal(lpa_install(&e->c, &s), SGP32_OK);
    assert_int_equal(lpa_notify(&e->c, &s, &r), SGP32_OK);
    assert_ok(r);
    assert_int_equal(db_state(iccid), SGP32_ORDER_INSTALLED);
    lpa_session_free(&s);
}

static void download_retry_with_a_new_session_and_cancel(void **state)
{
    env *e = *state;
    char iccid[21], mid[65];
    order(e, "ts48v2", NULL, NULL, true, iccid, mid);
    smdp_result r;
    /* a first session binds a BPP that never gets installed (the device lost it) */
    lpa_session s;
    lpa_session_init(&s);
    assert_int_equal(lpa_initiate(&e->c, &s, 0, "localhost", &r), SGP32_OK);
    assert_int_equal(lpa_authenticate(&e->c, &s, mid, NULL, NULL, &r), SGP32_OK);
    assert_int_equal(lpa_prepare(&e->c, &s, NULL), SGP32_OK);
    assert_int_equal(lpa_get_bpp(&e->c, &s, &r), SGP32_OK);
    assert_ok(r);
    assert_int_equal(db_state(iccid), SGP32_ORDER_DOWNLOADED);
    sgp32_euicc_reset(e->f.euicc);
    /* a second session with a new one-time key: allowed, the order was not installed */
    lpa_session_free(&s);
    lpa_session_init(&s);
    assert_int_equal(lpa_initiate(&e->c, &s, 1, "localhost", &r), SGP32_OK);
    assert_int_equal(lpa_authenticate(&e->c, &s, mid, NULL, NULL, &r), SGP32_OK);
    assert_ok(r);
    assert_int_equal(lpa_prepare(&e->c, &s, NULL), SGP32_OK);
    /* the end user postpones: CancelSession(postponed) puts the order back to Released */
    assert_int_equal(lpa_cancel(&e->c, &s, 1, &r), SGP32_OK);
    assert_ok(r);
    assert_int_equal(db_state(iccid), SGP32_ORDER_RELEASED);
    assert_int_equal(lpa_cancel(&e->c, &s, 1, &r), SGP32_OK);
    assert_status(r, "8.10.1", "3.9");
    lpa_session_free(&s);
    /* and a third session completes */
    assert_int_equal(lpa_download(&e->c, 0, mid, NULL, &r), SGP32_OK);
    assert_ok(r);
    assert_int_equal(db_state(iccid), SGP32_ORDER_INSTALLED);
    /* an end-user rejection puts an order in Error */
    order(e, "ts48v2", NULL, NULL, true, iccid, mid);
    lpa_session_init(&s);
    assert_int_equal(lpa_initiate(&e->c, &s, 0, "localhost", &r), SGP32_OK);
    assert_int_equal(lpa_authenticate(&e->c, &s, mid, NULL, NULL, &r), SGP32_OK);
    assert_int_equal(lpa_cancel(&e->c, &s, 0, &r), SGP32_OK);
    assert_ok(r);
    assert_int_equal(db_state(iccid), SGP32_ORDER_ERROR);
    lpa_session_free(&s);
}

/* Whether a file holds bytes (false when it does not exist). */
static bool file_holds(const char *path, const void *what, size_t n)
{
    sgp32_buf b;
    if (test_read_file(path, &b) != SGP32_OK)
        return false;
    bool found = false;
    for (size_t i = 0; !found && i + n <= b.len; i++)
        found = memcmp(b.data + i, what, n) == 0;
    sgp32_buf_free(&b);
    return found;
}

/* No key of keyed[] in the database files, raw or as hex text. */
static void assert_no_key_stored(void)
{
    char paths[2][700];
    snprintf(paths[0], sizeof(paths[0]), "%s", db_path);
    snprintf(paths[1], sizeof(paths[1]), "%s-wal", db_path);
    for (size_t p = 0; p < 2; p++)
        for (size_t i = 0; i < KEYED; i++) {
            char upper[33], lower[33];
            hex_of(keyed[i].ki, 16, true, upper);
            hex_of(keyed[i].ki, 16, false, lower);
            assert_false(file_holds(paths[p], keyed[i].ki, 16));
            assert_false(file_holds(paths[p], keyed[i].opc, 16));
            assert_false(file_holds(paths[p], upper, 32));
            assert_false(file_holds(paths[p], lower, 32));
        }
}

/* The installed profile on the card: both akaParameters carry the profile's Ki and OPc, EF.IMSI its IMSI. */
static void assert_card_has_keys(env *e, const struct keyed_profile *k)
{
    char name[40], imsi[16];
    snprintf(name, sizeof(name), "profile-%s", k->iccid);
    sgp32_buf elements;
    sgp32_buf_init(&elements, 1 << 20);
    assert_int_equal(e->f.config.store.load(e->f.config.store.ctx, name, &elements), SGP32_OK);
    sgp32_upp_aka aka;
    assert_int_equal(sgp32_upp_find_aka(elements.data, elements.len, &aka), SGP32_OK);
    assert_int_equal(aka.count, 2); /* USIM and ISIM */
    for (size_t i = 0; i < aka.count; i++) {
        assert_memory_equal(elements.data + aka.key_at[i], k->ki, 16);
        assert_memory_equal(elements.data + aka.opc_at[i], k->opc, 16);
    }
    static const uint8_t template_key[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    for (size_t i = 0; i + 16 <= elements.len; i++)
        assert_true(memcmp(elements.data + i, template_key, 16) != 0);
    assert_int_equal(sgp32_upp_ef_imsi(elements.data, elements.len, imsi), SGP32_OK);
    assert_string_equal(imsi, k->imsi);
    char stored[32];
    db_text(k->iccid, "imsi", stored, sizeof(stored));
    assert_string_equal(stored, k->imsi);
    sgp32_buf_free(&elements);
}

/* ES2+ downloadOrder of one ICCID and confirmOrder with release: the matchingId. */
static void order_iccid(env *e, const char *iccid, char matching_id[65])
{
    smdp_result r;
    json_t *ans = NULL;
    assert_int_equal(smdp_es2(&e->c, "downloadOrder", json_pack("{s:s}", "iccid", iccid), &r, NULL),
                     SGP32_OK);
    assert_ok(r);
    assert_int_equal(
        smdp_es2(&e->c, "confirmOrder", json_pack("{s:s,s:b}", "iccid", iccid, "releaseFlag", 1), &r, &ans),
        SGP32_OK);
    assert_ok(r);
    snprintf(matching_id, 65, "%s", json_string_value(json_object_get(ans, "matchingId")));
    json_decref(ans);
}

static void keyed_profiles_carry_the_operators_keys(void **state)
{
    env *e = *state;
    char iccid[21], mid[65];
    smdp_result r;
    /* the first Available profile of the type: the 18-digit line, completed with its Luhn digit */
    order(e, "keyed", NULL, NULL, true, iccid, mid);
    assert_string_equal(iccid, keyed[0].iccid);
    assert_int_equal(lpa_download(&e->c, 0, mid, NULL, &r), SGP32_OK);
    assert_ok(r);
    assert_int_equal(db_state(iccid), SGP32_ORDER_INSTALLED);
    assert_card_has_keys(e, &keyed[0]);
    /* the next one over the ASN.1 binding, on the other curve: its own keys */
    e->c.asn1 = true;
    order(e, "keyed", NULL, "2020", true, iccid, mid);
    assert_string_equal(iccid, keyed[1].iccid);
    assert_int_equal(lpa_download(&e->c, 1, mid, "2020", &r), SGP32_OK);
    assert_ok(r);
    assert_card_has_keys(e, &keyed[1]);
    e->c.asn1 = false;
    assert_no_key_stored();

    /* the operator takes keyed[4] out of its file and smdpd restarts: that profile is still Available in
     * the database, but without keys its download is refused, never bound with the template's */
    stop_server();
    write_keys("keys-b.txt", 3, KEYED, 4, 0600);
    start_server();
    reconnect(e);
    order_iccid(e, keyed[4].iccid, mid);
    lpa_session s;
    lpa_session_init(&s);
    assert_int_equal(lpa_initiate(&e->c, &s, 0, "localhost", &r), SGP32_OK);
    assert_ok(r);
    assert_int_equal(lpa_authenticate(&e->c, &s, mid, NULL, NULL, &r), SGP32_OK);
    assert_ok(r);
    assert_int_equal(lpa_prepare(&e->c, &s, NULL), SGP32_OK);
    assert_int_equal(lpa_get_bpp(&e->c, &s, &r), SGP32_OK);
    assert_status(r, "8.2", "3.7");
    assert_int_equal(s.bpp.len, 0);
    assert_int_equal(db_state(keyed[4].iccid), SGP32_ORDER_RELEASED);
    lpa_session_free(&s);
    sgp32_euicc_reset(e->f.euicc);
    /* the line is back: the same order downloads, with its keys */
    stop_server();
    write_keys("keys-b.txt", 3, KEYED, -1, 0600);
    start_server();
    reconnect(e);
    assert_int_equal(lpa_download(&e->c, 1, mid, NULL, &r), SGP32_OK);
    assert_ok(r);
    assert_int_equal(db_state(keyed[4].iccid), SGP32_ORDER_INSTALLED);
    assert_card_has_keys(e, &keyed[4]);
    assert_no_key_stored();
}

/* smdpd --check with a config (the base one plus extra lines, its own database): the exit status, and
 * what it wrote to stdout and stderr. */
static int run_check(const char *extra, char *out, size_t out_size, char *err, size_t err_size)
{
    char conf[700], db[700], out_path[700], err_path[700];
    snprintf(conf, sizeof(conf), "%s/check.conf", work);
    snprintf(db, sizeof(db), "%s/check.db", work);
    snprintf(out_path, sizeof(out_path), "%s/check.out", work);
    snprintf(err_path, sizeof(err_path), "%s/check.err", work);
    write_config_file(conf, db, extra);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!freopen(out_path, "w", stdout) || !freopen(err_path, "w", stderr))
            _exit(126);
        execl(smdpd, smdpd, "--config", conf, "--check", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    sgp32_buf b;
    assert_int_equal(test_read_file(out_path, &b), SGP32_OK);
    snprintf(out, out_size, "%.*s", (int)b.len, (const char *)b.data);
    sgp32_buf_free(&b);
    assert_int_equal(test_read_file(err_path, &b), SGP32_OK);
    snprintf(err, err_size, "%.*s", (int)b.len, (const char *)b.data);
    sgp32_buf_free(&b);
    return WEXITSTATUS(status);
}

static void smdpd_checks_profile_data_at_start(void **state)
{
    (void)state;
    char out[4096], err[8192], expected[2400];
    /* good files: loaded, counted, and no key in what smdpd prints, even at debug level */
    assert_int_equal(run_check("log_level = debug\n", out, sizeof(out), err, sizeof(err)), 0);
    assert_non_null(strstr(out, "smdpd: profile_data: 5 profiles with keys in 2 file(s)"));
    assert_non_null(strstr(err, "keys-a.txt: 3 profiles with keys"));
    for (size_t i = 0; i < KEYED; i++) {
        char upper[33], lower[33];
        hex_of(keyed[i].ki, 16, true, upper);
        hex_of(keyed[i].ki, 16, false, lower);
        assert_null(strstr(err, upper));
        assert_null(strstr(err, lower));
        assert_null(strstr(out, upper));
        assert_null(strstr(out, lower));
    }
    /* a file its group may read */
    write_keys("keys-c.txt", 0, 1, -1, 0640);
    snprintf(expected, sizeof(expected), "profile_data = keyed %s/keys-c.txt\n", work);
    assert_int_not_equal(run_check(expected, out, sizeof(out), err, sizeof(err)), 0);
    snprintf(expected, sizeof(expected),
             "smdpd: %s/keys-c.txt: mode 0640 lets group or others read or write the keys: chmod 600 "
             "%s/keys-c.txt "
             "(or 400)",
             work, work);
    assert_non_null(strstr(err, expected));
    /* a duplicate ICCID across files */
    write_keys("keys-c.txt", 0, 2, 0, 0600); /* keyed[1] again */
    snprintf(expected, sizeof(expected), "profile_data = keyed %s/keys-c.txt\n", work);
    assert_int_not_equal(run_check(expected, out, sizeof(out), err, sizeof(err)), 0);
    snprintf(expected, sizeof(expected), "smdpd: %s/keys-c.txt:3: ICCID %s is already at %s/keys-a.txt:4",
             work, keyed[1].iccid, work);
    assert_non_null(strstr(err, expected));
    /* an inventory line for a type whose profiles need keys */
    assert_int_not_equal(
        run_check("inventory = keyed 894944999930001000 5\n", out, sizeof(out), err, sizeof(err)), 0);
    assert_non_null(strstr(err, "type keyed takes its profiles from profile_data"));
    /* a template that cannot take keys: the TS.48 profile without its akaParameters */
    sgp32_buf tpl;
    assert_int_equal(test_read_file(SGP32_SPEC_DIR "/profiles/TS48V1-A-UNIQUE.der", &tpl), SGP32_OK);
    char nokeys[700];
    snprintf(nokeys, sizeof(nokeys), "%s/nokeys.der", work);
    FILE *f = fopen(nokeys, "wb");
    assert_non_null(f);
    for (size_t at = 0, used = 0; at < tpl.len; at += used) {
        sgp32_asn1_tlv pe;
        assert_int_equal(sgp32_asn1_read_tlv(tpl.data + at, tpl.len - at, &pe, &used), SGP32_OK);
        if (pe.tag != 0xA4)
            assert_int_equal(fwrite(tpl.data + at, 1, used, f), used);
    }
    fclose(f);
    sgp32_buf_free(&tpl);
    write_keys("keys-c.txt", 0, 1, -1, 0600);
    snprintf(expected, sizeof(expected), "template = nokeys %s\nprofile_data = nokeys %s/keys-c.txt\n",
             nokeys, work);
    assert_int_not_equal(run_check(expected, out, sizeof(out), err, sizeof(err)), 0);
    assert_non_null(strstr(err, "smdpd: profile_data nokeys: the template cannot take per-profile keys: no "
                                "akaParameter with an algoParameter (key and opc)"));
}

static void es2_callbacks_delivered(void **state)
{
    (void)state;
    /* the downloads above produced eligibility (1), BPP (3) and installation (4) callbacks and
     * confirmation failures (2); they are posted by a worker thread (the first one again after
     * a 1 s back-off): wait a little */
    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(&received.lock);
        bool all = received.point_count[1] && received.point_count[2] && received.point_count[3] &&
                   received.point_count[4] && received.refused_redelivered;
        pthread_mutex_unlock(&received.lock);
        if (all)
            break;
        nanosleep(&(struct timespec){0, 50000000}, NULL);
    }
    pthread_mutex_lock(&received.lock);
    assert_true(received.point_count[1] > 0);
    assert_true(received.point_count[2] > 0);
    assert_true(received.point_count[3] > 0);
    assert_true(received.point_count[4] > 0);
    /* the refused one came again (503 is retried), and nothing was lost behind it */
    assert_true(received.refused[0]);
    assert_true(received.refused_redelivered);
    assert_non_null(strstr(received.last, "\"iccid\""));
    assert_non_null(strstr(received.last, "\"notificationPointStatus\""));
    pthread_mutex_unlock(&received.lock);
}

int main(void)
{
    const char *w = getenv("SMDP_WORK"), *bin = getenv("SMDPD");
    if (!w || !bin) {
        fprintf(stderr, "test_smdpd: run through run_smdpd_tests.sh (SMDP_WORK, SMDPD)\n");
        return 1;
    }
    snprintf(work, sizeof(work), "%s", w);
    snprintf(smdpd, sizeof(smdpd), "%s", bin);
    snprintf(ca_file, sizeof(ca_file), "%s/pki/CERT_CI_SGP26_NIST.pem", work);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    atexit(kill_server_at_exit);
    signal(SIGPIPE, SIG_IGN);
    callback_port = start_listener();
    if (callback_port <= 0)
        return 1;
    write_config();
    unlink(db_path);
    start_server();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(json_downloads_both_curves_with_and_without_cc, setup, teardown),
        cmocka_unit_test_setup_teardown(asn1_downloads_both_curves_with_and_without_cc, setup, teardown),
        cmocka_unit_test_setup_teardown(es9_error_branches, setup, teardown),
        cmocka_unit_test_setup_teardown(confirmation_code_retry_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(es2_error_branches, setup, teardown),
        cmocka_unit_test_setup_teardown(restart_in_the_middle_of_a_download, setup, teardown),
        cmocka_unit_test_setup_teardown(download_retry_with_a_new_session_and_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(keyed_profiles_carry_the_operators_keys, setup, teardown),
        cmocka_unit_test(smdpd_checks_profile_data_at_start),
        cmocka_unit_test(es2_callbacks_delivered),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    stop_server();
    curl_global_cleanup();
    return failed;
}

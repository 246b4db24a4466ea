/*
 * bench_eim: full PSMO round trips against a real eimd over loopback HTTPS, compared with what the
 * crypto alone would allow on this machine, and the cost of a poll with a million operations queued.
 *
 * Set-up: a test PKI (sgp32-pki under the SGP.26 CI: EIMtls for localhost, the eIM signing key),
 * one CERT.EUICC per simulated device issued here under the SGP.26 EUM (distinct EIDs in its
 * permitted range), eimd on 127.0.0.1 (a free port, SQLite in a temporary directory, its default
 * worker threads and log level), the devices imported over the REST API, each active device a
 * software eUICC (lib/euicc) given the eIM by the AddInitialEim that GET .../eim-configuration
 * returns. Client threads, each one libcurl handle (keep-alive, TLS verified against the CI)
 * serving several simulated IPAs in turn, then run:
 *
 *   poll        GetEimPackage for an idle device -> eimPackageError noEimPackageAvailable
 *   round trip  GetEimPackage -> the eIM-signed EuiccPackageRequest BF51 (listProfileInfo, queued
 *               over the REST API in bulk) -> ES10b LoadEuiccPackage on the device's eUICC ->
 *               ProvideEimPackageResult with the eUICC-signed EuiccPackageResult -> eimAcknowledgements
 *               -> ES10b RemoveNotificationFromList of each acknowledged seqNumber
 *
 * Figures (rates per eimd CPU second: /proc/<pid>/stat utime + stime over the measured window,
 * all its threads, so the clients' own work is not counted):
 *
 *   round_trips_per_s_per_core     round trips / eimd CPU seconds
 *   crypto_bound_per_s_per_core    1 / (one ECDSA P-256 sign + one verify through lib/crypto, i.e.
 *                                  OpenSSL, on one core, in CPU time, messages of the sizes seen in
 *                                  the run): the eIM's public-key work per round trip (sign the
 *                                  package, verify the result); no TLS handshake (keep-alive);
 *                                  measured before and after the round trips, the mean used
 *   ratio                          the first over the second
 *   poll_ratio_1m_queued_vs_empty  polls per eimd CPU second with 1,000,000 operations queued for
 *                                  other eUICCs over the same with no operation queued: the median
 *                                  of that ratio over the rounds (one slice on each eimd, side by
 *                                  side in time); poll_ratio_totals is the ratio of the totals;
 *   poll_store_lookup_us_empty/_1m the store's part of a poll (the eUICC's row, its next open
 *                                  operation) timed in the bench's own process on each file
 *
 * For the poll ratio the database, once the devices are registered, is copied; the million
 * operations (and the other eUICCs that own them) go into the copy through the SQLite store API
 * in one transaction, eimd stopped. Then one eimd runs on each file and the clients alternate
 * between the two in short windows, so that other load on the machine weighs on both alike; that
 * is done by five pairs of eimds in turn, each started afresh (a process can run 20% slower than
 * the next on this VM for its whole life, whatever it serves).
 * The round trips run afterwards against the first one.
 *
 * Progress goes to stderr; the last stdout line is one JSON object with those numbers and details.
 */
#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_support.h"
#include "sgp32/asn1.h"
#include "sgp32/certificate.h"
#include "sgp32/crypto.h"
#include "sgp32/eid.h"
#include "sgp32/eim_server.h"
#include "sgp32/euicc.h"
#include "sgp32/log.h"
#include "sgp32/text.h"

#define EIM_ID       "eim.bench.example"
#define API_SECRET   "bench-operator-secret-0123456789"
#define OPERATION    "{\"psmo\":[{\"listProfileInfo\":{}}]}"
#define ASN1_TYPE    "Content-Type: application/x-gsma-rsp-asn1"
#define BOOTSTRAP_ID "8900000000000000001"

enum {
    HTTP_MAX = 64 << 20,
    DER_MAX = 64 << 10,
    NO_EIM_PACKAGE_AVAILABLE = 1,
    POLL_PAIRS = 5, /* eimd pairs started afresh for the poll comparison */
};

/* The two eimd, each on its own database file: EMPTY as the devices were registered (later the
 * round trips too), BACKLOG a copy of it plus the million queued operations. */
enum { EMPTY = 0, BACKLOG = 1, SERVERS = 2 };

typedef struct options {
    int devices, idle, clients;
    double seconds, poll_seconds, poll_slice, warmup;
    long queued, queued_devices;
    const char *log_level;
    bool keep;
} options;

static options opt;
static char dir[256], ca[512], conf[SERVERS][512], db_path[SERVERS][512], log_path[SERVERS][512];
static char base_url[SERVERS][64];
static bench_server server[SERVERS];

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void cleanup(void)
{
    for (int i = 0; i < SERVERS; i++)
        bench_server_stop(&server[i]);
    if (dir[0] && !opt.keep) {
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        bench_run(cmd);
    }
}

static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_eim: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    if (dir[0])
        fprintf(stderr, "bench_eim: eimd logs: %s, %s%s\n", log_path[EMPTY], log_path[BACKLOG],
                opt.keep ? "" : " (removed; --keep keeps them)");
    cleanup();
    exit(3);
}

/* ------------------------------------------------------------------ HTTPS client */

/* One libcurl handle: a kept-alive connection to each eimd, TLS verified against the CI. */
typedef struct http {
    CURL *curl;
    struct curl_slist *asn1, *rest;
    sgp32_buf out;
} http;

static size_t collect(char *p, size_t size, size_t n, void *ctx)
{
    return sgp32_buf_append(ctx, p, size * n) == SGP32_OK ? size * n : 0;
}

static void http_init(http *h)
{
    memset(h, 0, sizeof(*h));
    h->curl = curl_easy_init();
    if (!h->curl)
        fail("curl_easy_init failed");
    h->asn1 = curl_slist_append(NULL, ASN1_TYPE);
    h->asn1 = curl_slist_append(h->asn1, "X-Admin-Protocol: gsma/rsp/v2.1.0");
    h->asn1 = curl_slist_append(h->asn1, "Expect:");
    h->rest = curl_slist_append(NULL, "Content-Type: application/json");
    h->rest = curl_slist_append(h->rest, "Authorization: Bearer " API_SECRET);
    h->rest = curl_slist_append(h->rest, "Expect:");
    sgp32_buf_init(&h->out, HTTP_MAX);
    curl_easy_setopt(h->curl, CURLOPT_CAINFO, ca);
    curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &h->out);
    curl_easy_setopt(h->curl, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
}

static void http_free(http *h)
{
    curl_easy_cleanup(h->curl);
    curl_slist_free_all(h->asn1);
    curl_slist_free_all(h->rest);
    sgp32_buf_free(&h->out);
}

/* To eimd `to`; body NULL: GET. The answer is in h->out; returns the HTTP status, 0 when none came. */
static long http_call(http *h, int to, const char *path, bool asn1, const void *body, size_t len)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", base_url[to], path);
    sgp32_buf_reset(&h->out);
    curl_easy_setopt(h->curl, CURLOPT_URL, url);
    curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, asn1 ? h->asn1 : h->rest);
    if (body) {
        curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else {
        curl_easy_setopt(h->curl, CURLOPT_HTTPGET, 1L);
    }
    CURLcode cc = curl_easy_perform(h->curl);
    long status = 0;
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK) {
        fprintf(stderr, "bench_eim: %s: %s\n", url, curl_easy_strerror(cc));
        return 0;
    }
    return status;
}

/* ------------------------------------------------------------------ devices */

typedef struct device {
    char eid[SGP32_EID_DIGITS + 1];
    sgp32_buf request; /* its GetEimPackageRequest BF4F {5A EID} */
    sgp32_buf cert;    /* CERT.EUICC */
    int64_t token;     /* associationToken */
    /* active devices: the software eUICC */
    sgp32_euicc *euicc;
    sgp32_euicc_memory_store *memory;
    sgp32_euicc_config config;
    sgp32_euicc_preloaded_profile bootstrap;
    atomic_bool drained;
} device;

static device *devices; /* opt.devices active, then opt.idle idle ones */
static bench_eum eum;

/* CERT.EUICC for each device under the SGP.26 EUM; the active ones get a software eUICC. */
static void make_devices(void)
{
    bench_eum_load(&eum, SGP32_SPEC_DIR);
    int n = opt.devices + opt.idle;
    devices = calloc((size_t)n, sizeof(*devices));
    if (!devices)
        fail("out of memory");
    for (int i = 0; i < n; i++) {
        device *d = &devices[i];
        bench_eid(d->eid, i < opt.devices ? 11 : 22, i);
        d->token = 1000 + i;
        sgp32_ec_private_key key;
        sgp32_buf_init(&d->cert, 4096);
        if (bench_eum_issue(&eum, d->eid, &d->cert, &key))
            fail("issuing CERT.EUICC for %s", d->eid);
        uint8_t bcd[SGP32_EID_LEN];
        sgp32_eid_from_text(d->eid, bcd);
        sgp32_buf_init(&d->request, 64);
        size_t mark = sgp32_asn1_begin(&d->request);
        if (sgp32_asn1_write_tlv(&d->request, 0x5A, bcd, sizeof(bcd)) ||
            sgp32_asn1_end(&d->request, 0xBF4F, mark))
            fail("GetEimPackageRequest");
        if (i >= opt.devices) { /* idle: registered with its certificate, never asked to sign */
            sgp32_secure_zero(&key, sizeof(key));
            continue;
        }
        sgp32_euicc_config *c = &d->config;
        if (sgp32_euicc_memory_store_new(&d->memory, &c->store))
            fail("eUICC store");
        c->identities[0].euicc_certificate = sgp32_buf_bytes(&d->cert);
        c->identities[0].eum_certificate = sgp32_buf_bytes(&eum.certificate);
        c->identities[0].key = key;
        c->identity_count = 1;
        c->trusted_cis[0] = sgp32_buf_bytes(&eum.ci_certificate);
        c->trusted_ci_count = 1;
        d->bootstrap =
            (sgp32_euicc_preloaded_profile){BOOTSTRAP_ID, "Bootstrap", "sgp32 bench", 1, true, false};
        c->preloaded = &d->bootstrap;
        c->preloaded_count = 1;
        if (sgp32_euicc_open(c, &d->euicc))
            fail("software eUICC %s", d->eid);
        sgp32_secure_zero(&key, sizeof(key));
    }
}

static void free_devices(void)
{
    for (int i = 0; devices && i < opt.devices + opt.idle; i++) {
        device *d = &devices[i];
        sgp32_euicc_close(d->euicc);
        sgp32_euicc_memory_store_free(d->memory);
        sgp32_secure_zero(&d->config, sizeof(d->config));
        sgp32_buf_free(&d->cert);
        sgp32_buf_free(&d->request);
    }
    free(devices);
    devices = NULL;
    bench_eum_free(&eum);
}

static json_t *b64(const sgp32_buf *der)
{
    char *text = malloc(sgp32_base64_encoded_len(der->len) + 1);
    if (!text)
        fail("out of memory");
    sgp32_base64_encode(der->data, der->len, text);
    json_t *s = json_string(text);
    free(text);
    return s;
}

/* POST /api/v1/devices/import with every device (certificates verified by eimd), then each active
 * eUICC takes the AddInitialEim of GET /api/v1/devices/{eid}/eim-configuration. */
static void register_devices(http *h)
{
    json_t *list = json_array();
    for (int i = 0; i < opt.devices + opt.idle; i++)
        json_array_append_new(list, json_pack("{s:s,s:o,s:o,s:I}", "eid", devices[i].eid, "euiccCertificate",
                                              b64(&devices[i].cert), "eumCertificate", b64(&eum.certificate),
                                              "associationToken", (json_int_t)devices[i].token));
    json_t *root = json_pack("{s:o}", "devices", list);
    char *body = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    long status = http_call(h, EMPTY, "/api/v1/devices/import", false, body, strlen(body));
    free(body);
    if (status != 201)
        fail("device import: HTTP %ld %.*s", status, (int)h->out.len, (const char *)h->out.data);
    for (int i = 0; i < opt.devices; i++) {
        device *d = &devices[i];
        char path[128];
        snprintf(path, sizeof(path), "/api/v1/devices/%s/eim-configuration", d->eid);
        if ((status = http_call(h, EMPTY, path, false, NULL, 0)) != 200)
            fail("%s: HTTP %ld", path, status);
        json_t *answer = json_loadb((const char *)h->out.data, h->out.len, 0, NULL);
        const char *add = json_string_value(json_object_get(answer, "addInitialEim"));
        sgp32_buf req, resp;
        sgp32_buf_init(&req, DER_MAX);
        sgp32_buf_init(&resp, DER_MAX);
        sgp32_asn1_tlv outer, first;
        if (!add || sgp32_base64_decode(add, strlen(add), &req) ||
            sgp32_euicc_es10(d->euicc, req.data, req.len, &resp) ||
            sgp32_asn1_expect(resp.data, resp.len, 0xBF57, &outer) ||
            sgp32_asn1_read_tlv(outer.value.data, outer.value.len, &first, NULL) || first.tag != 0xA0)
            fail("AddInitialEim into %s refused", d->eid);
        sgp32_buf_free(&req);
        sgp32_buf_free(&resp);
        json_decref(answer);
    }
}

/* n operations per active device: n bulk creates over the REST API, each for every active EID. */
static void queue_operations(http *h, int n)
{
    json_t *eids = json_array();
    for (int i = 0; i < opt.devices; i++)
        json_array_append_new(eids, json_string(devices[i].eid));
    json_t *root = json_pack("{s:o,s:o}", "eids", eids, "operation", json_loads(OPERATION, 0, NULL));
    char *body = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    for (int k = 0; k < n; k++) {
        long status = http_call(h, EMPTY, "/api/v1/operations", false, body, strlen(body));
        if (status != 201)
            fail("bulk create: HTTP %ld %.*s", status, (int)h->out.len, (const char *)h->out.data);
    }
    free(body);
    for (int i = 0; i < opt.devices; i++)
        atomic_store(&devices[i].drained, false);
}

/* ------------------------------------------------------------------ eimd */

static void start_eimd(int t)
{
    int fd = open(conf[t], O_WRONLY | O_CREAT | O_TRUNC, 0600); /* it holds the API secret */
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f)
        fail("cannot write %s", conf[t]);
    fprintf(f,
            "listen = 127.0.0.1\nport = 0\neim_id = " EIM_ID "\neim_fqdn = localhost\n"
            "tls_certificate = %s/pki/CERT_EIMtls_localhost_NIST.pem\n"
            "tls_key = %s/pki/SK_EIMtls_localhost_NIST.pem\n"
            "signing_key = %s/pki/SK_EIMsign_" EIM_ID "_NIST.pem\n"
            "signing_certificate = %s/pki/CERT_EIMsign_" EIM_ID "_NIST.der\n"
            "ci_certificate = " SGP32_SPEC_DIR "/sgp26/CertificateIssuer/CERT_CI_ECDSA_NIST.der\n"
            "database = %s\napi_token = bench operator " API_SECRET "\nlog_level = %s\n",
            dir, dir, dir, dir, db_path[t], opt.log_level);
    fclose(f);
    if (bench_server_start(&server[t], SGP32_EIMD, conf[t], "eimd: listening on port %d", log_path[t]))
        fail("eimd did not start (%s)", conf[t]);
    snprintf(base_url[t], sizeof(base_url[t]), "https://localhost:%d", server[t].port);
    fprintf(stderr, "bench_eim: eimd pid %d on port %d, database %s\n", (int)server[t].pid, server[t].port,
            db_path[t]);
}

/* ------------------------------------------------------------------ clients */

typedef enum mode {
    MODE_POLL = 0,
    MODE_ROUND_TRIP = 1,
} mode;

typedef struct worker {
    pthread_t thread;
    int first, count; /* its devices */
    mode mode;
    atomic_long done, failed;
    size_t package_len, result_len; /* sizes seen (the last ones) */
    char error[256];
} worker;

static atomic_bool stop_flag;
static atomic_int target; /* the eimd the clients talk to */

static void worker_error(worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void worker_error(worker *w, const char *fmt, ...)
{
    if (w->error[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->error, sizeof(w->error), fmt, ap);
    va_end(ap);
}

/* GetEimPackage: 1 package (in *package), 0 noEimPackageAvailable, -1 anything else. */
static int get_package(worker *w, http *h, int to, device *d, sgp32_asn1_tlv *package)
{
    long status = http_call(h, to, "/gsma/rsp2/asn1", true, d->request.data, d->request.len);
    sgp32_asn1_tlv outer;
    int64_t code = -1;
    if (status != 200 || sgp32_asn1_expect(h->out.data, h->out.len, 0xBF4F, &outer) ||
        sgp32_asn1_read_tlv(outer.value.data, outer.value.len, package, NULL)) {
        worker_error(w, "GetEimPackage %s: HTTP %ld, %zu bytes", d->eid, status, h->out.len);
        return -1;
    }
    if (package->tag == 0xBF51)
        return 1;
    if (package->tag == 0x02 && !sgp32_asn1_parse_integer(package->value, &code) &&
        code == NO_EIM_PACKAGE_AVAILABLE)
        return 0;
    worker_error(w, "GetEimPackage %s: answer tag %X code %lld", d->eid, (unsigned)package->tag,
                 (long long)code);
    return -1;
}

/* One whole PSMO round trip; 1 done, 0 the device's queue is empty, -1 failed. */
static int round_trip(worker *w, http *h, int to, device *d, sgp32_buf *epr, sgp32_buf *req)
{
    sgp32_asn1_tlv package, outer, choice, ack;
    int got = get_package(w, h, to, d, &package);
    if (got <= 0)
        return got;
    w->package_len = package.whole.len;
    /* the IPA hands the package to the eUICC verbatim (ES10b LoadEuiccPackage) */
    sgp32_buf_reset(epr);
    if (sgp32_euicc_es10(d->euicc, package.whole.data, package.whole.len, epr) ||
        sgp32_asn1_expect(epr->data, epr->len, 0xBF51, &outer) ||
        sgp32_asn1_read_tlv(outer.value.data, outer.value.len, &choice, NULL) || choice.tag != 0xA0) {
        worker_error(w, "LoadEuiccPackage on %s: no signed result", d->eid);
        return -1;
    }
    w->result_len = epr->len;
    /* ProvideEimPackageResult BF50 {5A EID, BF51 EuiccPackageResult} */
    uint8_t bcd[SGP32_EID_LEN];
    sgp32_eid_from_text(d->eid, bcd);
    sgp32_buf_reset(req);
    size_t mark = sgp32_asn1_begin(req);
    if (sgp32_asn1_write_tlv(req, 0x5A, bcd, sizeof(bcd)) || sgp32_buf_append(req, epr->data, epr->len) ||
        sgp32_asn1_end(req, 0xBF50, mark))
        return -1;
    long status = http_call(h, to, "/gsma/rsp2/asn1", true, req->data, req->len);
    if (status != 200 || sgp32_asn1_expect(h->out.data, h->out.len, 0xBF50, &outer) ||
        sgp32_asn1_read_tlv(outer.value.data, outer.value.len, &choice, NULL) || choice.tag != 0xBF53) {
        worker_error(w, "ProvideEimPackageResult %s: HTTP %ld, no eimAcknowledgements", d->eid, status);
        return -1;
    }
    /* each acknowledged seqNumber leaves the eUICC (ES10b RemoveNotificationFromList BF30) */
    sgp32_asn1_reader r;
    sgp32_asn1_reader_init(&r, choice.value, 2);
    int acks = 0;
    while (sgp32_asn1_reader_next(&r, &ack) == SGP32_OK) {
        int64_t seq;
        if (ack.tag != 0x80 || sgp32_asn1_parse_integer(ack.value, &seq))
            continue;
        sgp32_buf_reset(req);
        sgp32_buf_reset(epr);
        mark = sgp32_asn1_begin(req);
        if (sgp32_asn1_write_integer(req, 0x80, seq) || sgp32_asn1_end(req, 0xBF30, mark) ||
            sgp32_euicc_es10(d->euicc, req->data, req->len, epr))
            return -1;
        acks++;
    }
    if (!acks)
        worker_error(w, "ProvideEimPackageResult %s: empty eimAcknowledgements", d->eid);
    return acks ? 1 : -1;
}

/* A client thread: its devices in turn, until stop_flag (round trips: or every queue is empty). */
static void *work(void *arg)
{
    worker *w = arg;
    http h;
    http_init(&h);
    sgp32_buf epr, req;
    sgp32_buf_init(&epr, DER_MAX);
    sgp32_buf_init(&req, DER_MAX);
    for (int k = 0; !atomic_load(&stop_flag); k = (k + 1) % w->count) {
        device *d = &devices[w->first + k];
        int to = atomic_load(&target);
        if (w->mode == MODE_POLL) {
            sgp32_asn1_tlv package;
            if (get_package(w, &h, to, d, &package) == 0)
                atomic_fetch_add(&w->done, 1);
            else
                atomic_fetch_add(&w->failed, 1);
            continue;
        }
        if (atomic_load(&d->drained)) {
            bool all = true;
            for (int j = 0; j < w->count && all; j++)
                all = atomic_load(&devices[w->first + j].drained);
            if (all)
                break;
            continue;
        }
        int rc = round_trip(w, &h, to, d, &epr, &req);
        if (rc > 0)
            atomic_fetch_add(&w->done, 1);
        else if (rc == 0)
            atomic_store(&d->drained, true);
        else
            atomic_fetch_add(&w->failed, 1);
    }
    sgp32_buf_free(&epr);
    sgp32_buf_free(&req);
    http_free(&h);
    return NULL;
}

typedef struct clients {
    worker *w;
    int n;
    size_t package_len, result_len; /* sizes seen, after clients_join */
} clients;

/* min(opt.clients, count) threads over devices [first, first + count), talking to eimd `to`. */
static clients clients_start(mode m, int first, int count, int to)
{
    clients c = {.n = opt.clients < count ? opt.clients : count};
    c.w = calloc((size_t)c.n, sizeof(*c.w));
    if (!c.w)
        fail("out of memory");
    atomic_store(&stop_flag, false);
    atomic_store(&target, to);
    for (int i = 0; i < c.n; i++) {
        worker *w = &c.w[i];
        w->mode = m;
        w->first = first + i * (count / c.n) + (i < count % c.n ? i : count % c.n);
        w->count = count / c.n + (i < count % c.n);
        if (pthread_create(&w->thread, NULL, work, w))
            fail("pthread_create");
    }
    return c;
}

static long clients_sum(const clients *c, bool failed)
{
    long s = 0;
    for (int i = 0; i < c->n; i++)
        s += atomic_load(failed ? &c->w[i].failed : &c->w[i].done);
    return s;
}

/* Wait for the threads (stop: tell them to end first); report their first errors. */
static void clients_join(clients *c, bool stop)
{
    if (stop)
        atomic_store(&stop_flag, true);
    for (int i = 0; i < c->n; i++) {
        worker *w = &c->w[i];
        pthread_join(w->thread, NULL);
        if (w->error[0])
            fprintf(stderr, "bench_eim: client %d: %s\n", i, w->error);
        if (w->package_len)
            c->package_len = w->package_len, c->result_len = w->result_len;
    }
}

static void clients_free(clients *c)
{
    free(c->w);
    c->w = NULL;
}

typedef struct window {
    long done, failed;
    double wall, cpu; /* eimd CPU seconds */
} window;

static void sleep_s(double s)
{
    struct timespec t = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&t, NULL);
}

/* What the clients completed in the next `seconds`, and the CPU time eimd `to` used meanwhile. */
static window measure(const clients *c, int to, double seconds)
{
    double t0 = bench_now(), cpu0 = bench_server_cpu(&server[to]);
    long done0 = clients_sum(c, false), failed0 = clients_sum(c, true);
    sleep_s(seconds);
    window w = {clients_sum(c, false) - done0, clients_sum(c, true) - failed0, bench_now() - t0,
                bench_server_cpu(&server[to]) - cpu0};
    return w;
}

/*
 * Polls of the idle devices, alternately to the eimd with the empty queue and to the one with the
 * backlog, in slices of opt.poll_slice seconds (order ABBA ABBA ...: a steady drift of the machine's
 * load weighs on both alike) until each had opt.poll_seconds. Each slice starts after a short pause,
 * so that no request to the other eimd is still under way.
 */
static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* rounds rounds, added to out; ratio[r]: round r's backlog rate over its empty rate. */
static void poll_compare(window out[SERVERS], int rounds, double *ratio)
{
    clients c = clients_start(MODE_POLL, opt.devices, opt.idle, EMPTY);
    for (int t = 0; t < SERVERS; t++) { /* connections, caches */
        atomic_store(&target, t);
        sleep_s(opt.warmup);
    }
    for (int r = 0; r < rounds; r++) {
        double rate[SERVERS] = {0, 0};
        for (int k = 0; k < SERVERS; k++) {
            int t = r % 2 ? SERVERS - 1 - k : k;
            atomic_store(&target, t);
            sleep_s(0.2);
            window w = measure(&c, t, opt.poll_slice);
            out[t].done += w.done, out[t].failed += w.failed, out[t].wall += w.wall, out[t].cpu += w.cpu;
            rate[t] = w.cpu > 0 ? (double)w.done / w.cpu : 0;
        }
        ratio[r] = rate[EMPTY] > 0 ? rate[BACKLOG] / rate[EMPTY] : 0;
    }
    clients_join(&c, true);
    clients_free(&c);
}

/* n operations per active device queued, then round trips until every queue is empty: how many
 * per second (wall) this machine does, to size the queue of the measured window. */
static double calibrate(http *admin, int n, size_t *package_len, size_t *result_len)
{
    queue_operations(admin, n);
    double t0 = bench_now();
    clients c = clients_start(MODE_ROUND_TRIP, 0, opt.devices, EMPTY);
    clients_join(&c, false);
    *package_len = c.package_len;
    *result_len = c.result_len;
    long done = clients_sum(&c, false), failed = clients_sum(&c, true);
    clients_free(&c);
    if (done == 0 || failed)
        fail("calibration round trips: %ld ok, %ld failed", done, failed);
    return (double)done / (bench_now() - t0);
}

/* The measured round trips: warm-up, then a window of opt.seconds on the EMPTY eimd. */
static window round_trips(size_t *package_len, size_t *result_len, bool *ran_dry)
{
    clients c = clients_start(MODE_ROUND_TRIP, 0, opt.devices, EMPTY);
    sleep_s(opt.warmup);
    window w = measure(&c, EMPTY, opt.seconds);
    clients_join(&c, true);
    *package_len = c.package_len;
    *result_len = c.result_len;
    *ran_dry = false;
    for (int i = 0; i < opt.devices; i++)
        *ran_dry |= atomic_load(&devices[i].drained);
    clients_free(&c);
    return w;
}

/* ------------------------------------------------------------------ 1,000,000 queued operations */

/* Into the BACKLOG database (no eimd on it yet): opt.queued_devices more eUICCs (no certificate)
 * and opt.queued operations for them, round robin, through the SQLite store in one transaction.
 * Returns the seconds it took. */
static double insert_backlog(int64_t *queued_after)
{
    double t0 = bench_now();
    sgp32_eim_sqlite *db = NULL;
    if (sgp32_eim_sqlite_open(db_path[BACKLOG], &db))
        fail("cannot open %s", db_path[BACKLOG]);
    sgp32_eim_store st = sgp32_eim_sqlite_store(db);
    sgp32_eim_operation_spec spec;
    sgp32_eim_operation_spec_init(&spec);
    char error[256];
    if (sgp32_eim_operation_parse(OPERATION, strlen(OPERATION), &spec, error, sizeof(error)))
        fail("operation: %s", error);
    int64_t now = (int64_t)time(NULL);
    char(*eids)[SGP32_EID_DIGITS + 1] = calloc((size_t)opt.queued_devices, sizeof(*eids));
    if (!eids || st.tx_begin(st.ctx))
        fail("cannot start the backlog transaction");
    for (long i = 0; i < opt.queued_devices; i++) {
        sgp32_eim_euicc e;
        sgp32_eim_euicc_init(&e);
        bench_eid(eids[i], 33, i);
        snprintf(e.eid, sizeof(e.eid), "%s", eids[i]);
        e.associated = true;
        e.registered = now;
        e.state_change_cause = -1;
        if (st.euicc_insert(st.ctx, &e))
            fail("backlog device %s", e.eid);
        sgp32_eim_euicc_free(&e);
    }
    sgp32_eim_operation op;
    sgp32_eim_operation_init(&op);
    if (sgp32_buf_append(&op.request, spec.canonical.data, spec.canonical.len))
        fail("out of memory");
    for (long i = 0; i < opt.queued; i++) {
        snprintf(op.eid, sizeof(op.eid), "%s", eids[i % opt.queued_devices]);
        op.kind = spec.kind;
        op.state = SGP32_EIM_OP_QUEUED;
        op.created = now;
        op.expires = now + 30L * 86400;
        snprintf(op.created_by, sizeof(op.created_by), "bench");
        if (st.op_insert(st.ctx, &op))
            fail("backlog operation %ld", i);
        if (i % 200000 == 199999)
            fprintf(stderr, "bench_eim: ... %ld operations\n", i + 1);
    }
    if (st.tx_end(st.ctx, true))
        fail("cannot commit the backlog");
    int64_t counts[SGP32_EIM_OP_STATE_COUNT] = {0};
    if (st.op_count(st.ctx, counts))
        fail("op_count");
    *queued_after = counts[SGP32_EIM_OP_QUEUED];
    sgp32_eim_operation_free(&op);
    sgp32_eim_operation_spec_free(&spec);
    free(eids);
    sgp32_eim_sqlite_close(db); /* the last connection: checkpoints the WAL */
    return bench_now() - t0;
}

/* ------------------------------------------------------------------ crypto bound */

/* CPU seconds per sgp32_ecdsa_sign (which = 0) or sgp32_ecdsa_verify (1) of a len-byte message, one
 * thread, the key in lib/crypto's cache as a busy server's own signing key would be. */
/* What a poll asks of the store (the eUICC's row, its next open operation), timed in this process
 * on file t with no HTTP around it: CPU microseconds per poll, the idle devices in turn. */
static double store_lookup_us(int t)
{
    sgp32_eim_sqlite *db = NULL;
    if (sgp32_eim_sqlite_open(db_path[t], &db))
        fail("cannot open %s", db_path[t]);
    sgp32_eim_store st = sgp32_eim_sqlite_store(db);
    sgp32_eim_euicc e;
    sgp32_eim_operation op;
    sgp32_eim_euicc_init(&e);
    sgp32_eim_operation_init(&op);
    enum { LOOKUPS = 100000 };
    double spent = 0;
    for (int pass = 0; pass < 2; pass++) { /* the first warms the page cache */
        double t0 = bench_thread_cpu();
        for (int i = 0; i < LOOKUPS; i++) {
            const char *eid = devices[opt.devices + i % opt.idle].eid;
            if (st.euicc_get(st.ctx, eid, &e) != SGP32_OK ||
                st.op_next(st.ctx, eid, &op) != SGP32_ERR_NOT_FOUND)
                fail("store lookups of an idle device in %s", db_path[t]);
        }
        spent = bench_thread_cpu() - t0;
    }
    sgp32_eim_operation_free(&op);
    sgp32_eim_euicc_free(&e);
    sgp32_eim_sqlite_close(db);
    return spent / LOOKUPS * 1e6;
}

static double lib_crypto_time(int which, size_t len)
{
    sgp32_ec_private_key key;
    sgp32_ec_public_key pub;
    uint8_t *msg = calloc(1, len ? len : 1), sig[SGP32_EC_RAW_SIG_LEN];
    if (!msg || sgp32_ec_generate(SGP32_CURVE_NIST_P256, &key, &pub))
        fail("crypto set-up");
    for (size_t i = 0; i < len; i++)
        msg[i] = (uint8_t)(i * 7);
    sgp32_bytes part = {msg, len};
    if (sgp32_ecdsa_sign(&key, &part, 1, sig) || sgp32_ecdsa_verify(&pub, &part, 1, sig))
        fail("lib/crypto ECDSA");
    long n = 0;
    double start = bench_thread_cpu(), elapsed = 0;
    while (elapsed < 0.5) {
        for (int i = 0; i < 20; i++, n++)
            if (which == 0 ? sgp32_ecdsa_sign(&key, &part, 1, sig) : sgp32_ecdsa_verify(&pub, &part, 1, sig))
                fail("lib/crypto ECDSA");
        elapsed = bench_thread_cpu() - start;
    }
    sgp32_secure_zero(&key, sizeof(key));
    free(msg);
    return elapsed / (double)n;
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_eim [--devices N] [--idle N] [--clients N] [--seconds S] [--poll-seconds S]\n"
            "                 [--poll-slice S] [--queued N] [--queued-devices N] [--log-level L] [--keep]\n"
            "  --devices N         simulated IPAs doing round trips (default 64)\n"
            "  --idle N            devices with nothing queued, for the poll figures (default 64)\n"
            "  --clients N         client threads, one libcurl handle each (default 2 x CPUs, >= 4)\n"
            "  --seconds S         measured round-trip window (default 10)\n"
            "  --poll-seconds S    measured polls per eimd, empty queue and backlog (default 10)\n"
            "  --poll-slice S      the two alternate in slices of S seconds (default 1)\n"
            "  --queued N          operations queued for other eUICCs in the backlog database\n"
            "                      (default 1000000)\n"
            "  --queued-devices N  how many other eUICCs hold them (default 100000)\n"
            "  --log-level L       eimd log_level (default info, eimd's own default; to a file)\n"
            "  --keep              keep the temporary directory (PKI, databases, eimd logs)\n");
}

static void parse_args(int argc, char **argv)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    opt = (options){.devices = 64,
                    .idle = 64,
                    .clients = cpus > 2 ? (int)(2 * cpus) : 4,
                    .seconds = 10,
                    .poll_seconds = 10,
                    .poll_slice = 1,
                    .warmup = 1,
                    .queued = 1000000,
                    .queued_devices = 100000,
                    .log_level = "info"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--keep")) {
            opt.keep = true;
            continue;
        }
        if (!v) {
            usage(stderr);
            exit(2);
        }
        i++;
        if (!strcmp(a, "--devices"))
            opt.devices = atoi(v);
        else if (!strcmp(a, "--idle"))
            opt.idle = atoi(v);
        else if (!strcmp(a, "--clients"))
            opt.clients = atoi(v);
        else if (!strcmp(a, "--seconds"))
            opt.seconds = atof(v);
        else if (!strcmp(a, "--poll-seconds"))
            opt.poll_seconds = atof(v);
        else if (!strcmp(a, "--poll-slice"))
            opt.poll_slice = atof(v);
        else if (!strcmp(a, "--queued"))
            opt.queued = atol(v);
        else if (!strcmp(a, "--queued-devices"))
            opt.queued_devices = atol(v);
        else if (!strcmp(a, "--log-level"))
            opt.log_level = v;
        else {
            usage(stderr);
            exit(2);
        }
    }
    if (opt.devices < 1 || opt.idle < 1 || opt.clients < 1 || opt.seconds <= 0 || opt.poll_seconds <= 0 ||
        opt.poll_slice <= 0 || opt.queued < 0 || opt.queued_devices < 1 || opt.devices + opt.idle > 1000000) {
        usage(stderr);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    sgp32_log_set_level_all(SGP32_LOG_ERROR);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(dir, sizeof(dir), "/tmp/bench_eim.XXXXXX");
    if (!mkdtemp(dir))
        return 3;
    snprintf(ca, sizeof(ca), "%s/pki/CERT_CI_SGP26_NIST.pem", dir);
    static const char *const names[SERVERS] = {"empty", "backlog"};
    for (int t = 0; t < SERVERS; t++) {
        snprintf(conf[t], sizeof(conf[t]), "%s/eimd-%s.conf", dir, names[t]);
        snprintf(db_path[t], sizeof(db_path[t]), "%s/eimd-%s.db", dir, names[t]);
        snprintf(log_path[t], sizeof(log_path[t]), "%s/eimd-%s.log", dir, names[t]);
    }

    /* PKI, devices, registration */
    char cmd[4096];
    snprintf(cmd, sizeof(cmd),
             "%s generate --out %s/pki --sgp26 %s/sgp26 --curve nist --eim-id " EIM_ID
             " --eim-host localhost >/dev/null",
             SGP32_PKI, dir, SGP32_SPEC_DIR);
    if (bench_run(cmd))
        fail("sgp32-pki generate");
    double t = bench_now();
    make_devices();
    fprintf(stderr, "bench_eim: %d CERT.EUICC issued under the SGP.26 EUM, %d software eUICCs (%.1f s)\n",
            opt.devices + opt.idle, opt.devices, bench_now() - t);
    start_eimd(EMPTY);
    http admin;
    http_init(&admin);
    register_devices(&admin);
    fprintf(stderr, "bench_eim: %d devices imported over REST, AddInitialEim into the %d active eUICCs\n",
            opt.devices + opt.idle, opt.devices);

    /* the same database plus a million queued operations for other eUICCs */
    bench_server_stop(&server[EMPTY]);
    snprintf(cmd, sizeof(cmd), "cp %s %s && if [ -e %s-wal ]; then cp %s-wal %s-wal; fi", db_path[EMPTY],
             db_path[BACKLOG], db_path[EMPTY], db_path[EMPTY], db_path[BACKLOG]);
    if (bench_run(cmd))
        fail("copying the database");
    fprintf(stderr, "bench_eim: database copied; queueing %ld operations for %ld other eUICCs (store API)\n",
            opt.queued, opt.queued_devices);
    int64_t queued = 0;
    double insert_s = insert_backlog(&queued);
    fprintf(stderr, "bench_eim: backlog inserted in %.1f s; %lld operations queued in %s\n", insert_s,
            (long long)queued, db_path[BACKLOG]);

    /* polls: empty queue vs backlog, alternately, by POLL_PAIRS pairs of eimds started afresh: how
     * fast a process runs on this VM can differ by 20% and more from one start to the next (where
     * its threads land, on every code path alike) and stays so for its life, which one pair would
     * take for the cost of the queue */
    window polls[SERVERS];
    memset(polls, 0, sizeof(polls));
    int slices = (int)(opt.poll_seconds / opt.poll_slice + 0.5);
    if (slices < POLL_PAIRS)
        slices = POLL_PAIRS;
    double *round_ratio = calloc((size_t)slices, sizeof(double));
    if (!round_ratio)
        fail("out of memory");
    for (int p = 0, done = 0; p < POLL_PAIRS; p++) {
        int rounds = slices / POLL_PAIRS + (p < slices % POLL_PAIRS);
        start_eimd(EMPTY);
        start_eimd(BACKLOG);
        poll_compare(polls, rounds, round_ratio + done);
        done += rounds;
        bench_server_stop(&server[BACKLOG]);
        if (p + 1 < POLL_PAIRS)
            bench_server_stop(&server[EMPTY]); /* the last one serves the round trips */
    }
    double poll_rate[SERVERS];
    for (int i = 0; i < SERVERS; i++) {
        poll_rate[i] = polls[i].cpu > 0 ? (double)polls[i].done / polls[i].cpu : 0;
        fprintf(stderr,
                "bench_eim: polls, %s (%lld queued): %ld (%ld failed) in %d x %.1f s, eimd CPU %.2f s: "
                "%.0f/s/core\n",
                names[i], i == EMPTY ? 0LL : (long long)queued, polls[i].done, polls[i].failed, slices,
                opt.poll_slice, polls[i].cpu, poll_rate[i]);
    }

    /* the same comparison without HTTP or the VM's process effects: the store's part of a poll */
    double lookup_us[SERVERS];
    for (int i = 0; i < SERVERS; i++)
        lookup_us[i] = store_lookup_us(i);
    fprintf(stderr,
            "bench_eim: a poll's store lookups, in process: %.2f us empty, %.2f us with the backlog\n",
            lookup_us[EMPTY], lookup_us[BACKLOG]);

    /* round trips, on the eimd whose queue was empty */
    t = bench_now();
    size_t package_len = 0, result_len = 0;
    double rate = calibrate(&admin, 8, &package_len, &result_len);
    int per_device = (int)(rate * (opt.warmup + opt.seconds) * 3.0 / opt.devices) + 8;
    queue_operations(&admin, per_device);
    fprintf(stderr,
            "bench_eim: calibration at %.0f round trips/s; %d listProfileInfo per device queued over REST in "
            "bulk (%.1f s)\n",
            rate, per_device, bench_now() - t);
    /* the crypto bound now and again after the round trips: this machine's speed drifts (other
     * tenants), and the ratio should compare the two at the same speed */
    size_t sign_len = package_len ? package_len : 200, verify_len = result_len ? result_len : 200;
    double sign0 = lib_crypto_time(0, sign_len), verify0 = lib_crypto_time(1, verify_len);
    bool ran_dry = false;
    window rt = round_trips(&package_len, &result_len, &ran_dry);
    if (ran_dry)
        fprintf(stderr, "bench_eim: warning: a device's queue ran dry during the window\n");
    double rt_rate = rt.cpu > 0 ? (double)rt.done / rt.cpu : 0;
    fprintf(stderr,
            "bench_eim: round trips: %ld ok, %ld failed in %.2f s (%.0f/s), eimd CPU %.2f s: %.0f/s/core\n",
            rt.done, rt.failed, rt.wall, (double)rt.done / rt.wall, rt.cpu, rt_rate);
    http_free(&admin);
    bench_server_stop(&server[EMPTY]);

    /* what the crypto alone allows: one sign (the package) and one verify (the result) per round trip */
    double sign = (sign0 + lib_crypto_time(0, sign_len)) / 2,
           verify = (verify0 + lib_crypto_time(1, verify_len)) / 2;
    double bound = 1.0 / (sign + verify);
    double raw_sign = bench_openssl_time(BENCH_OP_SIGN), raw_verify = bench_openssl_time(BENCH_OP_VERIFY);
    double ratio = bound > 0 ? rt_rate / bound : 0;
    /* the median of the rounds' ratios: a burst of other load on the VM in one slice moves the
     * totals (by 20% and more in some runs), not the median */
    double poll_ratio_totals = poll_rate[EMPTY] > 0 ? poll_rate[BACKLOG] / poll_rate[EMPTY] : 0;
    qsort(round_ratio, (size_t)slices, sizeof(double), compare_double);
    double poll_ratio =
        slices % 2 ? round_ratio[slices / 2] : (round_ratio[slices / 2 - 1] + round_ratio[slices / 2]) / 2;
    fprintf(stderr, "bench_eim: poll ratio per round (sorted):");
    for (int i = 0; i < slices; i++)
        fprintf(stderr, " %.2f", round_ratio[i]);
    fprintf(stderr, "; median %.3f, totals %.3f\n", poll_ratio, poll_ratio_totals);
    free(round_ratio);
    int threads = opt.clients < opt.devices ? opt.clients : opt.devices;

    printf(
        "round trips: %ld ok, %ld failed in %.2f s wall (%.1f/s), eimd CPU %.2f s, %d devices, %d clients\n",
        rt.done, rt.failed, rt.wall, (double)rt.done / rt.wall, rt.cpu, opt.devices, threads);
    printf("lib/crypto (OpenSSL) P-256, CPU time on one core: sign %.1f us (%zu bytes), verify %.1f us (%zu "
           "bytes); raw EVP on a digest: sign %.1f us, verify %.1f us\n",
           sign * 1e6, sign_len, verify * 1e6, verify_len, raw_sign * 1e6, raw_verify * 1e6);
    printf("polls (noEimPackageAvailable) per eimd CPU second: %.0f empty, %.0f with %lld queued\n",
           poll_rate[EMPTY], poll_rate[BACKLOG], (long long)queued);
    printf("{\"round_trips\":%ld,\"failed\":%ld,\"wall_s\":%.3f,\"eimd_cpu_s\":%.3f,"
           "\"round_trips_per_s_per_core\":%.1f,\"crypto_bound_per_s_per_core\":%.1f,\"ratio\":%.3f,"
           "\"sign_us\":%.1f,\"verify_us\":%.1f,\"polls_empty\":%ld,\"polls_empty_cpu_s\":%.3f,"
           "\"polls_per_s_per_core_empty\":%.1f,\"queued\":%lld,\"backlog_insert_s\":%.1f,\"polls_1m\":%ld,"
           "\"polls_1m_cpu_s\":%.3f,\"polls_per_s_per_core_1m\":%.1f,\"poll_ratio_1m_queued_vs_empty\":%.3f,"
           "\"poll_ratio_totals\":%.3f,\"poll_rounds\":%d,\"poll_store_lookup_us_empty\":%.2f,"
           "\"poll_store_lookup_us_1m\":%.2f,"
           "\"devices\":%d,\"idle_devices\":%d,\"clients\":%d,\"log_level\":\"%s\"}\n",
           rt.done, rt.failed + polls[EMPTY].failed + polls[BACKLOG].failed, rt.wall, rt.cpu, rt_rate, bound,
           ratio, sign * 1e6, verify * 1e6, polls[EMPTY].done, polls[EMPTY].cpu, poll_rate[EMPTY],
           (long long)queued, insert_s, polls[BACKLOG].done, polls[BACKLOG].cpu, poll_rate[BACKLOG],
           poll_ratio, poll_ratio_totals, slices, lookup_us[EMPTY], lookup_us[BACKLOG], opt.devices, opt.idle,
           threads, opt.log_level);
    bool failed = rt.failed || polls[EMPTY].failed || polls[BACKLOG].failed;
    cleanup();
    free_devices();
    curl_global_cleanup();
    return failed ? 1 : 0;
}

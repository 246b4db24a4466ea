/*
 * bench_smdp: complete profile downloads against a real smdpd over loopback HTTPS, compared with
 * what the crypto alone would allow on this machine.
 *
 * Set-up: a test PKI (sgp32-pki, DPtls for localhost under the SGP.26 CI), smdpd on 127.0.0.1
 * (a free port, SQLite in a temporary directory, one worker thread per CPU), orders made over
 * ES2+ first, and one device per download (its own EID, key pair and CERT.EUICC issued here under
 * the SGP.26 EUM, as in a fleet: smdpd verifies a certificate it has not seen at every download).
 * Then T client threads, each an LPA with a kept-alive HTTPS connection and a new software eUICC
 * per download, run complete downloads (initiateAuthentication, authenticateClient,
 * getBoundProfilePackage, the BPP into the eUICC, handleNotification with the PIR), NIST P-256.
 *
 *   downloads_per_s_per_core  downloads / CPU seconds smdpd used during the downloads
 *                             (/proc/<pid>/stat utime + stime; all its threads)
 *   crypto_bound_per_s_per_core
 *                             1 / (the OpenSSL time of the public-key operations the SM-DP+
 *                             needs for one download), measured in this run on one core:
 *                               3 ECDSA signatures (serverSigned1, smdpSigned2, the BPP's BF23)
 *                               5 ECDSA verifications (CERT.EUM, CERT.EUICC, euiccSignature1,
 *                                 euiccSignature2, the PIR's euiccSignPIR)
 *                               1 EC key generation (otPK.DP) and 1 ECDH (the session keys; the
 *                                 derivation alone, as `openssl speed ecdh` measures it)
 *                             TLS handshakes are not counted (connections are kept alive).
 *                             Measured before and after the downloads, the mean used.
 *   ratio                     the first over the second
 *
 * The last line is one JSON object with those three numbers and the details.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_support.h"
#include "euicc_fixture.h"
#include "sgp32/log.h"
#include "smdp_client.h"

#define TOKEN "bench-token"

/* ------------------------------------------------------------------ smdpd */

static char dir[256], ca[512];
static bench_server server;
static int port;

static int start_server(int threads, int inventory)
{
    char cmd[2048], conf[600];
    snprintf(cmd, sizeof(cmd),
             "%s generate --out %s/pki --sgp26 %s/sgp26 --dp-host localhost --curve nist >/dev/null",
             SGP32_PKI, dir, SGP32_SPEC_DIR);
    if (bench_run(cmd))
        return -1;
    snprintf(conf, sizeof(conf), "%s/smdpd.conf", dir);
    FILE *f = fopen(conf, "w");
    if (!f)
        return -1;
    fprintf(f,
            "listen = 127.0.0.1\nport = 0\naddress = localhost\n"
            "tls_certificate = %s/pki/CERT_DPtls_localhost_NIST.pem\ntls_key = "
            "%s/pki/SK_DPtls_localhost_NIST.pem\n"
            "ci_certificate = %s/pki/CERT_CI_SGP26_NIST.pem\n"
            "credentials = %s/pki/CERT_DPauth_NIST.der %s/pki/SK_DPauth_NIST.pem %s/pki/CERT_DPpb_NIST.der "
            "%s/pki/SK_DPpb_NIST.pem\n"
            "database = %s/smdpd.db\ntemplate = ts48 %s/profiles/TS48V1-A-UNIQUE.der\n"
            "inventory = ts48 894944999900000000 %d\nes2_token = " TOKEN
            "\nthreads = %d\nlog_level = error\n",
            dir, dir, dir, dir, dir, dir, dir, dir, SGP32_SPEC_DIR, inventory, threads);
    fclose(f);
    if (bench_server_start(&server, SGP32_SMDPD, conf, "smdpd: listening on port %d", NULL))
        return -1;
    port = server.port;
    return 0;
}

/* ------------------------------------------------------------------ crypto bound */

typedef struct crypto_times {
    double sign, verify, keygen, ecdh, per_download; /* CPU seconds on one core */
} crypto_times;

static crypto_times measure_crypto(void)
{
    crypto_times t = {bench_openssl_time(BENCH_OP_SIGN), bench_openssl_time(BENCH_OP_VERIFY),
                      bench_openssl_time(BENCH_OP_KEYGEN), bench_openssl_time(BENCH_OP_ECDH), 0};
    t.per_download = 3 * t.sign + 5 * t.verify + t.keygen + t.ecdh;
    return t;
}

/* ------------------------------------------------------------------ clients */

/* A device of the fleet: its own EID, key pair and CERT.EUICC under the SGP.26 EUM, so that the
 * SM-DP+ verifies a new eUICC certificate at every download, as it would in a fleet (its caches
 * only know the EUM). */
typedef struct device {
    char eid[33];
    sgp32_buf certificate;
    sgp32_ec_private_key key;
} device;

typedef struct worker {
    int count;
    char (*matching_ids)[65];
    device *devices;
    int done, failed;
    pthread_t thread;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    euicc_fixture f;
    smdp_client c;
    char url[64];
    snprintf(url, sizeof(url), "https://localhost:%d", port);
    /* one HTTPS connection per client thread, kept alive; a fresh eUICC (new device) for every
     * download */
    if (smdp_client_init(&c, url, ca, TOKEN, NULL) != SGP32_OK) {
        w->failed = w->count;
        return NULL;
    }
    for (int i = 0; i < w->count; i++) {
        if (euicc_fixture_open(&f) != SGP32_OK) {
            w->failed++;
            continue;
        }
        /* the fixture's first identity (NIST P-256) becomes this download's device, the only one
         * (a card has one EID; the SGP.26 brainpool identity carries the SGP.26 EID) */
        f.config.identities[0].euicc_certificate = sgp32_buf_bytes(&w->devices[i].certificate);
        f.config.identities[0].key = w->devices[i].key;
        f.config.identity_count = 1;
        if (euicc_fixture_reopen(&f) != SGP32_OK) {
            w->failed++;
            euicc_fixture_close(&f);
            continue;
        }
        c.euicc = f.euicc;
        smdp_result r;
        if (lpa_download(&c, 0, w->matching_ids[i], NULL, &r) == SGP32_OK && r.ok)
            w->done++;
        else
            w->failed++;
        euicc_fixture_close(&f);
    }
    smdp_client_free(&c);
    return NULL;
}

int main(int argc, char **argv)
{
    int downloads = argc > 1 ? atoi(argv[1]) : 2000; /* a window of several seconds: steadier figures */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = cpus > 0 ? (int)cpus : 1;
    int clients = 2 * threads;
    if (downloads < clients)
        downloads = clients;
    snprintf(dir, sizeof(dir), "/tmp/bench_smdp.XXXXXX");
    if (!mkdtemp(dir))
        return 3;
    snprintf(ca, sizeof(ca), "%s/pki/CERT_CI_SGP26_NIST.pem", dir);
    signal(SIGPIPE, SIG_IGN);
    sgp32_log_set_level_all(SGP32_LOG_ERROR);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (start_server(threads, downloads + 10)) {
        bench_server_stop(&server);
        return 3;
    }
    printf("bench_smdp: smdpd on port %d, %d worker threads, %d client threads, %d downloads\n", port,
           threads, clients, downloads);

    /* orders over ES2+ (not timed) */
    char(*mids)[65] = calloc((size_t)downloads, sizeof(*mids));
    euicc_fixture f;
    smdp_client c;
    char url[64];
    snprintf(url, sizeof(url), "https://localhost:%d", port);
    if (!mids || euicc_fixture_open(&f) || smdp_client_init(&c, url, ca, TOKEN, f.euicc)) {
        bench_server_stop(&server);
        return 3;
    }
    for (int i = 0; i < downloads; i++) {
        smdp_result r;
        json_t *ans = NULL;
        smdp_es2(&c, "downloadOrder", json_pack("{s:s}", "profileType", "ts48"), &r, &ans);
        const char *iccid = json_string_value(json_object_get(ans, "iccid"));
        json_t *req = json_pack("{s:s,s:b}", "iccid", iccid ? iccid : "", "releaseFlag", 1);
        json_decref(ans);
        ans = NULL;
        smdp_es2(&c, "confirmOrder", req, &r, &ans);
        snprintf(mids[i], 65, "%s",
                 json_string_value(json_object_get(ans, "matchingId"))
                     ? json_string_value(json_object_get(ans, "matchingId"))
                     : "");
        json_decref(ans);
    }
    smdp_client_free(&c);
    euicc_fixture_close(&f);
    bench_eum eum;
    bench_eum_load(&eum, SGP32_SPEC_DIR);
    device *devices = calloc((size_t)downloads, sizeof(*devices));
    for (int i = 0; devices && i < downloads; i++) {
        bench_eid(devices[i].eid, 44, i);
        sgp32_buf_init(&devices[i].certificate, 4096);
        if (bench_eum_issue(&eum, devices[i].eid, &devices[i].certificate, &devices[i].key)) {
            fprintf(stderr, "bench_smdp: cannot issue CERT.EUICC for %s\n", devices[i].eid);
            bench_server_stop(&server);
            return 3;
        }
    }
    bench_eum_free(&eum);
    if (!devices) {
        bench_server_stop(&server);
        return 3;
    }

    /* the crypto bound now and again after the downloads: this machine's speed drifts (other
     * tenants), and the ratio should compare the two at the same speed */
    crypto_times before = measure_crypto();
    fprintf(stderr, "bench_smdp: %d orders made over ES2+, %d CERT.EUICC issued; downloading\n", downloads,
            downloads);
    worker *w = calloc((size_t)clients, sizeof(*w));
    double cpu0 = bench_server_cpu(&server), t0 = bench_now();
    for (int i = 0; i < clients; i++) {
        w[i].count = downloads / clients + (i < downloads % clients);
        size_t first =
            (size_t)(i * (downloads / clients) + (i < downloads % clients ? i : downloads % clients));
        w[i].matching_ids = mids + first;
        w[i].devices = devices + first;
        pthread_create(&w[i].thread, NULL, work, &w[i]);
    }
    int done = 0, failed = 0;
    for (int i = 0; i < clients; i++) {
        pthread_join(w[i].thread, NULL);
        done += w[i].done;
        failed += w[i].failed;
    }
    double wall = bench_now() - t0, cpu = bench_server_cpu(&server) - cpu0;
    bench_server_stop(&server);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    bench_run(cmd);

    crypto_times after = measure_crypto();
    double sign = (before.sign + after.sign) / 2, verify = (before.verify + after.verify) / 2,
           gen = (before.keygen + after.keygen) / 2, ecdh = (before.ecdh + after.ecdh) / 2;
    double per_download = 3 * sign + 5 * verify + gen + ecdh;
    double bound = 1.0 / per_download;
    double rate = cpu > 0 ? (double)done / cpu : 0;
    printf("downloads: %d ok, %d failed in %.2f s wall (%.1f/s), smdpd CPU %.2f s\n", done, failed, wall,
           (double)done / wall, cpu);
    printf("OpenSSL P-256 on one core: sign %.1f us, verify %.1f us, keygen %.1f us, ECDH %.1f us\n",
           sign * 1e6, verify * 1e6, gen * 1e6, ecdh * 1e6);
    printf("crypto per download (3 sign + 5 verify + 1 keygen + 1 ECDH): %.1f us (%.1f before the downloads, "
           "%.1f after)\n",
           per_download * 1e6, before.per_download * 1e6, after.per_download * 1e6);
    printf("{\"downloads\":%d,\"failed\":%d,\"wall_s\":%.3f,\"smdpd_cpu_s\":%.3f,\"downloads_per_s_per_"
           "core\":%.1f,"
           "\"crypto_bound_per_s_per_core\":%.1f,\"ratio\":%.3f}\n",
           done, failed, wall, cpu, rate, bound, bound > 0 ? rate / bound : 0);
    free(w);
    free(mids);
    for (int i = 0; i < downloads; i++) {
        sgp32_buf_free(&devices[i].certificate);
        sgp32_secure_zero(&devices[i].key, sizeof(devices[i].key));
    }
    free(devices);
    curl_global_cleanup();
    return failed ? 1 : 0;
}

/*
 * bench_smdp: complete profile downloads against a real smdpd over loopback HTTPS, compared with
 * what the crypto alone would allow on this machine.
 *
 * Set-up: a test PKI (sgp32-pki, DPtls for localhost under the SGP.26 CI), smdpd on 127.0.0.1
 * (a free port, SQLite in a temporary directory, one worker thread per CPU), orders made over
 * ES2+ first. Then T client threads, each an LPA + software eUICC with a kept-alive HTTPS
 * connection, run complete downloads (initiateAuthentication, authenticateClient,
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
 *                               1 EC key generation (otPK.DP) and 1 ECDH (the session keys)
 *                             TLS handshakes are not counted (connections are kept alive).
 *   ratio                     the first over the second
 *
 * The last line is one JSON object with those three numbers and the details.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/ec.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "euicc_fixture.h"
#include "sgp32/log.h"
#include "smdp_client.h"

#define TOKEN "bench-token"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ OpenSSL speed */

static EVP_PKEY *keygen(void)
{
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
    if (c && EVP_PKEY_keygen_init(c) > 0 &&
        EVP_PKEY_CTX_set_ec_paramgen_curve_nid(c, NID_X9_62_prime256v1) > 0)
        EVP_PKEY_keygen(c, &k);
    EVP_PKEY_CTX_free(c);
    return k;
}

/* Seconds per operation: 0 sign, 1 verify, 2 keygen, 3 ECDH. */
static double op_time(int op)
{
    EVP_PKEY *key = keygen(), *peer = keygen();
    unsigned char digest[32] = {1, 2, 3}, sig[128], secret[64];
    size_t sig_len = sizeof(sig);
    EVP_PKEY_CTX *sctx = EVP_PKEY_CTX_new(key, NULL);
    EVP_PKEY_sign_init(sctx);
    EVP_PKEY_sign(sctx, sig, &sig_len, digest, sizeof(digest));
    long n = 0;
    double start = now_s(), elapsed = 0;
    while (elapsed < 0.4) {
        for (int i = 0; i < 20; i++, n++) {
            if (op == 0) {
                size_t len = sizeof(sig);
                EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(key, NULL);
                EVP_PKEY_sign_init(c);
                EVP_PKEY_sign(c, sig, &len, digest, sizeof(digest));
                EVP_PKEY_CTX_free(c);
            } else if (op == 1) {
                EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(key, NULL);
                EVP_PKEY_verify_init(c);
                if (EVP_PKEY_verify(c, sig, sig_len, digest, sizeof(digest)) != 1)
                    abort();
                EVP_PKEY_CTX_free(c);
            } else if (op == 2) {
                EVP_PKEY_free(keygen());
            } else {
                size_t len = sizeof(secret);
                EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(key, NULL);
                EVP_PKEY_derive_init(c);
                EVP_PKEY_derive_set_peer(c, peer);
                EVP_PKEY_derive(c, secret, &len);
                EVP_PKEY_CTX_free(c);
            }
        }
        elapsed = now_s() - start;
    }
    EVP_PKEY_CTX_free(sctx);
    EVP_PKEY_free(key);
    EVP_PKEY_free(peer);
    return elapsed / (double)n;
}

/* ------------------------------------------------------------------ smdpd */

static char dir[256], ca[512];
static pid_t server;
static int port;

static void stop_server(void)
{
    if (server > 0) {
        kill(server, SIGTERM);
        waitpid(server, NULL, 0);
        server = 0;
    }
}

static void on_signal(int sig)
{
    (void)sig;
    if (server > 0)
        kill(server, SIGTERM);
    _exit(3);
}

static int run(const char *cmd)
{
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "bench_smdp: '%s' failed\n", cmd);
    return rc;
}

static int start_server(int threads, int inventory)
{
    char cmd[2048], conf[600];
    snprintf(cmd, sizeof(cmd),
             "%s generate --out %s/pki --sgp26 %s/sgp26 --dp-host localhost --curve nist >/dev/null",
             SGP32_PKI, dir, SGP32_SPEC_DIR);
    if (run(cmd))
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
    int out[2];
    if (pipe(out))
        return -1;
    server = fork();
    if (server == 0) {
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        execl(SGP32_SMDPD, SGP32_SMDPD, "--config", conf, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    FILE *in = fdopen(out[0], "r");
    char line[256];
    port = 0;
    while (fgets(line, sizeof(line), in))
        if (sscanf(line, "smdpd: listening on port %d", &port) == 1)
            break;
    fclose(in);
    return port > 0 ? 0 : -1;
}

static double server_cpu(void)
{
    char path[64], buf[2048];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)server);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long long utime = 0, stime = 0;
    /* after ") ": state(3) ... utime is field 14, stime 15 */
    if (p)
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime);
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* ------------------------------------------------------------------ clients */

typedef struct worker {
    int count;
    char (*matching_ids)[65];
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
    /* one HTTPS connection per client thread, kept alive; a fresh eUICC for every download */
    if (smdp_client_init(&c, url, ca, TOKEN, NULL) != SGP32_OK) {
        w->failed = w->count;
        return NULL;
    }
    for (int i = 0; i < w->count; i++) {
        if (euicc_fixture_open(&f) != SGP32_OK) {
            w->failed++;
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
    int downloads = argc > 1 ? atoi(argv[1]) : 200;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = cpus > 0 ? (int)cpus : 1;
    int clients = 2 * threads;
    if (downloads < clients)
        downloads = clients;
    snprintf(dir, sizeof(dir), "/tmp/bench_smdp.XXXXXX");
    if (!mkdtemp(dir))
        return 3;
    snprintf(ca, sizeof(ca), "%s/pki/CERT_CI_SGP26_NIST.pem", dir);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    sgp32_log_set_level_all(SGP32_LOG_ERROR);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (start_server(threads, downloads + 10)) {
        stop_server();
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
        stop_server();
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

    worker *w = calloc((size_t)clients, sizeof(*w));
    double cpu0 = server_cpu(), t0 = now_s();
    for (int i = 0; i < clients; i++) {
        w[i].count = downloads / clients + (i < downloads % clients);
        w[i].matching_ids =
            mids + (i * (downloads / clients) + (i < downloads % clients ? i : downloads % clients));
        pthread_create(&w[i].thread, NULL, work, &w[i]);
    }
    int done = 0, failed = 0;
    for (int i = 0; i < clients; i++) {
        pthread_join(w[i].thread, NULL);
        done += w[i].done;
        failed += w[i].failed;
    }
    double wall = now_s() - t0, cpu = server_cpu() - cpu0;
    stop_server();
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    run(cmd);

    double sign = op_time(0), verify = op_time(1), gen = op_time(2), ecdh = op_time(3);
    double per_download = 3 * sign + 5 * verify + gen + ecdh;
    double bound = 1.0 / per_download;
    double rate = cpu > 0 ? (double)done / cpu : 0;
    printf("downloads: %d ok, %d failed in %.2f s wall (%.1f/s), smdpd CPU %.2f s\n", done, failed, wall,
           (double)done / wall, cpu);
    printf("OpenSSL P-256 on one core: sign %.1f us, verify %.1f us, keygen %.1f us, ECDH %.1f us\n",
           sign * 1e6, verify * 1e6, gen * 1e6, ecdh * 1e6);
    printf("crypto per download (3 sign + 5 verify + 1 keygen + 1 ECDH): %.1f us\n", per_download * 1e6);
    printf("{\"downloads\":%d,\"failed\":%d,\"wall_s\":%.3f,\"smdpd_cpu_s\":%.3f,\"downloads_per_s_per_"
           "core\":%.1f,"
           "\"crypto_bound_per_s_per_core\":%.1f,\"ratio\":%.3f}\n",
           done, failed, wall, cpu, rate, bound, bound > 0 ? rate / bound : 0);
    free(w);
    free(mids);
    curl_global_cleanup();
    return failed ? 1 : 0;
}

/*
 * Shared by the server benchmarks: see bench_support.h.
 */
#include <fcntl.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_support.h"
#include "sgp32/certificate.h"
#include "sgp32/eid.h"

double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

double bench_thread_cpu(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int bench_run(const char *cmd)
{
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "bench: '%s' failed\n", cmd);
    return rc;
}

/* ------------------------------------------------------------------ the server under test */

enum { RUNNING_MAX = 4 };
static volatile pid_t running[RUNNING_MAX]; /* what a signal stops */

static void on_signal(int sig)
{
    (void)sig;
    for (int i = 0; i < RUNNING_MAX; i++)
        if (running[i] > 0)
            kill(running[i], SIGTERM);
    _exit(3);
}

static void track(pid_t old, pid_t pid)
{
    for (int i = 0; i < RUNNING_MAX; i++)
        if (running[i] == old) {
            running[i] = pid;
            return;
        }
}

int bench_server_start(bench_server *s, const char *exe, const char *config, const char *banner,
                       const char *log_path)
{
    int out[2];
    s->pid = 0;
    s->port = 0;
    if (pipe(out))
        return -1;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    s->pid = fork();
    if (s->pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        if (log_path) {
            int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
            if (fd >= 0) {
                dup2(fd, STDERR_FILENO);
                close(fd);
            }
        }
        execl(exe, exe, "--config", config, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    if (s->pid < 0) {
        close(out[0]);
        s->pid = 0;
        return -1;
    }
    track(0, s->pid);
    FILE *in = fdopen(out[0], "r");
    char line[512];
    while (in && fgets(line, sizeof(line), in))
        if (sscanf(line, banner, &s->port) == 1)
            break;
    if (in)
        fclose(in);
    else
        close(out[0]);
    if (s->port > 0)
        return 0;
    bench_server_stop(s);
    return -1;
}

void bench_server_stop(bench_server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
        track(s->pid, 0);
        s->pid = 0;
    }
}

double bench_server_cpu(const bench_server *s)
{
    char path[64], buf[2048];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)s->pid);
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

double bench_openssl_time(bench_op op)
{
    EVP_PKEY *key = keygen(), *peer = keygen();
    unsigned char digest[32] = {1, 2, 3}, sig[128], secret[64];
    size_t sig_len = sizeof(sig);
    EVP_PKEY_CTX *sctx = EVP_PKEY_CTX_new(key, NULL);
    EVP_PKEY_sign_init(sctx);
    EVP_PKEY_sign(sctx, sig, &sig_len, digest, sizeof(digest));
    EVP_PKEY_CTX *dctx = EVP_PKEY_CTX_new(key, NULL);
    if (!dctx || EVP_PKEY_derive_init(dctx) != 1 || EVP_PKEY_derive_set_peer(dctx, peer) != 1)
        abort();
    long n = 0;
    double start = bench_thread_cpu(), elapsed = 0;
    while (elapsed < 0.4) {
        for (int i = 0; i < 20; i++, n++) {
            if (op == BENCH_OP_SIGN) {
                size_t len = sizeof(sig);
                EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(key, NULL);
                EVP_PKEY_sign_init(c);
                EVP_PKEY_sign(c, sig, &len, digest, sizeof(digest));
                EVP_PKEY_CTX_free(c);
            } else if (op == BENCH_OP_VERIFY) {
                EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(key, NULL);
                EVP_PKEY_verify_init(c);
                if (EVP_PKEY_verify(c, sig, sig_len, digest, sizeof(digest)) != 1)
                    abort();
                EVP_PKEY_CTX_free(c);
            } else if (op == BENCH_OP_KEYGEN) {
                EVP_PKEY_free(keygen());
            } else {
                /* the derivation alone, as `openssl speed ecdh` measures it: the peer is set once
                 * (EVP_PKEY_derive_set_peer's full key check costs a second scalar multiplication,
                 * which ECKA on a cofactor-1 curve does not need) */
                size_t len = sizeof(secret);
                if (EVP_PKEY_derive(dctx, secret, &len) != 1)
                    abort();
            }
        }
        elapsed = bench_thread_cpu() - start;
    }
    EVP_PKEY_CTX_free(sctx);
    EVP_PKEY_CTX_free(dctx);
    EVP_PKEY_free(key);
    EVP_PKEY_free(peer);
    return elapsed / (double)n;
}

/* ------------------------------------------------------------------ eUICC identities */

static void read_whole(const char *path, sgp32_buf *out)
{
    sgp32_buf_init(out, 1 << 20);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bench: cannot open %s\n", path);
        exit(1);
    }
    uint8_t chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (sgp32_buf_append(out, chunk, n)) {
            fprintf(stderr, "bench: %s too large\n", path);
            exit(1);
        }
    fclose(f);
}

void bench_eum_load(bench_eum *eum, const char *spec_dir)
{
    char path[512];
    sgp32_buf pem;
    snprintf(path, sizeof(path), "%s/sgp26/EUM/CERT_EUM_ECDSA_NIST.der", spec_dir);
    read_whole(path, &eum->certificate);
    snprintf(path, sizeof(path), "%s/sgp26/CertificateIssuer/CERT_CI_ECDSA_NIST.der", spec_dir);
    read_whole(path, &eum->ci_certificate);
    snprintf(path, sizeof(path), "%s/sgp26/EUM/SK_EUM_ECDSA_NIST.pem", spec_dir);
    read_whole(path, &pem);
    int rc = sgp32_ec_private_from_pem((const char *)pem.data, pem.len, &eum->key);
    sgp32_secure_zero(pem.data, pem.len);
    sgp32_buf_free(&pem);
    if (rc) {
        fprintf(stderr, "bench: %s: not a P-256 private key\n", path);
        exit(1);
    }
}

void bench_eum_free(bench_eum *eum)
{
    sgp32_buf_free(&eum->certificate);
    sgp32_buf_free(&eum->ci_certificate);
    sgp32_secure_zero(&eum->key, sizeof(eum->key));
}

void bench_eid(char out[33], int group, long index)
{
    snprintf(out, SGP32_EID_DIGITS + 1, "89049032%02u%020lu00", (unsigned)group % 100u, (unsigned long)index);
    sgp32_eid_set_check_digits(out);
}

int bench_eum_issue(const bench_eum *eum, const char *eid, sgp32_buf *cert, sgp32_ec_private_key *key)
{
    sgp32_ec_public_key pub;
    int rc = sgp32_ec_generate(SGP32_CURVE_NIST_P256, key, &pub);
    int64_t now = (int64_t)time(NULL);
    sgp32_cert_request req = {
        .profile = SGP32_CERT_PROFILE_EUICC,
        .country = "ES",
        .organization = "RSP Test EUM", /* the SGP.26 EUM's organisation */
        .serial_number = eid,
        .common_name = "bench eUICC",
        .subject_key = &pub,
        .not_before = now - 86400,
        .not_after = now + 10L * 365 * 86400,
    };
    return rc ? rc : sgp32_cert_issue(&req, eum->certificate.data, eum->certificate.len, &eum->key, cert);
}

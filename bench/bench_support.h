/*
 * Shared by the server benchmarks (bench_smdp, bench_eim): the wall clock, shell steps, the daemon
 * under test (forked with a config file, its port read from the "listening on port N" line it
 * prints, the CPU seconds it used read from /proc/<pid>/stat) and OpenSSL P-256 timings on one core
 * (in CPU time, like the server's figure, so that other load on the machine does not skew the ratio).
 */
#ifndef SGP32_BENCH_SUPPORT_H
#define SGP32_BENCH_SUPPORT_H

#include <stdint.h>
#include <sys/types.h>

#include "sgp32/crypto.h"

/* Monotonic seconds. */
double bench_now(void);
/* CPU seconds the calling thread has used (timings that other load on the machine cannot inflate). */
double bench_thread_cpu(void);
/* system(cmd); says so on stderr when it fails. Returns its status (0 ok). */
int bench_run(const char *cmd);

typedef struct bench_server {
    pid_t pid; /* 0: not running */
    int port;
} bench_server;

/*
 * Run `exe --config config` with its stderr into log_path (NULL: ours) and wait for the stdout line
 * that banner matches (a scanf format with one %d for the port, e.g. "smdpd: listening on port %d").
 * From then on SIGINT/SIGTERM of the bench stop that server (up to four at a time) before exiting.
 * 0 ok, -1 failed.
 */
int bench_server_start(bench_server *s, const char *exe, const char *config, const char *banner,
                       const char *log_path);
/* SIGTERM and wait; nothing when it is not running. */
void bench_server_stop(bench_server *s);
/* CPU seconds (user + system, all threads) the server has used so far. */
double bench_server_cpu(const bench_server *s);

typedef enum bench_op {
    BENCH_OP_SIGN = 0,   /* ECDSA sign of a 32-byte digest */
    BENCH_OP_VERIFY = 1, /* ECDSA verify of it */
    BENCH_OP_KEYGEN = 2, /* EC key generation */
    BENCH_OP_ECDH = 3,   /* ECDH derive */
} bench_op;

/* CPU seconds per raw OpenSSL (EVP) P-256 operation, one thread, measured for at least 0.4 s of its
 * CPU time. */
double bench_openssl_time(bench_op op);

/*
 * eUICC identities for simulated devices: the SGP.26 test EUM (NIST P-256) and its key, from
 * spec_dir/sgp26, issue a CERT.EUICC per device, each with its own EID and key pair, as a fleet
 * has; the EID is 89049032 (the EUM's permitted prefix) || group (2 digits) || index, with its check
 * digits. bench_eum_load exits with a message when the files are missing.
 */
typedef struct bench_eum {
    sgp32_buf certificate, ci_certificate;
    sgp32_ec_private_key key;
} bench_eum;

void bench_eum_load(bench_eum *eum, const char *spec_dir);
void bench_eum_free(bench_eum *eum);
void bench_eid(char out[33], int group, long index);
/* A CERT.EUICC for eid (appended to cert) and its private key; 0 ok. */
int bench_eum_issue(const bench_eum *eum, const char *eid, sgp32_buf *cert, sgp32_ec_private_key *key);

#endif

/*
 * eimd internals shared by its files: the configuration (eimd_config.c), file loading, the
 * embedded web console (eimd_console.c) and the push worker (eimd_push.c). The HTTP host itself
 * is eimd.c.
 */
#ifndef EIMD_H
#define EIMD_H

#include <stdio.h>

#include "app_support.h"
#include "sgp32/eim_server.h"

enum {
    EIMD_PATH_LEN = 512,
    EIMD_LIST_MAX = 16,
    EIMD_TOKENS_MAX = 64,
    EIMD_SECRET_MIN = 16, /* bearer secrets shorter than this are refused */
    EIMD_SECRET_MAX = 255,
    EIMD_FILE_MAX = 4 << 20,
};

typedef struct eimd_token_conf {
    char name[SGP32_EIM_NAME_MAX + 1];
    sgp32_eim_role role;
    char secret[EIMD_SECRET_MAX + 1]; /* wiped once hashed */
} eimd_token_conf;

typedef struct eimd_config {
    char listen[64];
    int port;
    char eim_id[SGP32_EIM_ID_MAX + 1];
    char eim_fqdn[SGP32_EIM_ADDRESS_MAX + 1]; /* "" until defaulted from listen:port */
    char tls_certificate[EIMD_PATH_LEN], tls_key[EIMD_PATH_LEN];
    char tls_trust_certificate[EIMD_PATH_LEN]; /* "" : the first certificate of tls_certificate */
    char signing_key[EIMD_PATH_LEN], signing_certificate[EIMD_PATH_LEN];
    char ci[EIMD_LIST_MAX][EIMD_PATH_LEN];
    size_t ci_count;
    char database[EIMD_PATH_LEN];
    bool sqlite_full;
    eimd_token_conf tokens[EIMD_TOKENS_MAX];
    size_t token_count;
    char smdp_ca[EIMD_LIST_MAX][EIMD_PATH_LEN];
    size_t smdp_ca_count;
    char default_smdp_address[SGP32_EIM_ADDRESS_MAX + 1];
    long operation_ttl, relay_ttl, forward_interval;
    /* TransferEimPackage to IPAs with a push address (eimd_push.c); push_interval 0: never */
    long push_interval, push_timeout, push_redeliver, push_batch, push_parallel;
    char push_client_certificate[EIMD_PATH_LEN], push_client_key[EIMD_PATH_LEN]; /* "": tls_* */
    char push_ca[EIMD_LIST_MAX][EIMD_PATH_LEN];
    size_t push_ca_count;
    int threads;
    size_t max_body;
    char log_level[16];
} eimd_config;

void eimd_usage(FILE *f);
void eimd_config_defaults(eimd_config *c);
/* One "key = value" line (comments and blank lines allowed); where names it in messages. */
int eimd_config_line(eimd_config *c, char *line, const char *where);
int eimd_config_load(eimd_config *c, const char *path);
/* Wipe the token secrets (after hashing). */
void eimd_config_wipe_secrets(eimd_config *c);

/* The push worker (eimd_push.c): one thread that pushes the next package of the eUICCs with a push
 * address, after eimd_push_signal and every interval seconds. */
typedef struct eimd_push_config {
    const sgp32_eim_server *srv;
    long interval;        /* seconds between rounds (and the first backoff step) */
    long timeout_ms;      /* one push, connection to answer */
    long redeliver_after; /* seconds before an operation the IPA received is pushed again */
    size_t batch;         /* eUICCs per round */
    size_t parallel;      /* pushes in flight */
    const char *client_cert_pem, *client_key_pem; /* the eIM's TLS client identity (PEM text) */
    const char *ca_pem;                           /* trusted for the IPAs' certificates; NULL: system */
    size_t ca_pem_len;
} eimd_push_config;
typedef struct eimd_push eimd_push;
int eimd_push_start(const eimd_push_config *conf, eimd_push **out);
/* A queue changed: run a round soon (never blocks on a push). NULL: no worker. */
void eimd_push_signal(eimd_push *p);
void eimd_push_stop(eimd_push *p);

/* The web console's static files: GET "/", "/console", "/console.js", "/console.css". */
typedef struct eimd_asset {
    const char *path;
    const char *content_type;
    const char *body;
} eimd_asset;
const eimd_asset *eimd_console_asset(const char *url);

#endif

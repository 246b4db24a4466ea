/*
 * smdpd configuration (smdpd_config.c): every key, its default and its checks, from `key = value`
 * lines of a file and --set, and the --help text. The server itself is smdpd.c.
 */
#ifndef SMDPD_CONFIG_H
#define SMDPD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "sgp32/smdp_server.h"

enum {
    SMDPD_PATH_LEN = 512,
    SMDPD_LIST_MAX = 16,
    SMDPD_TEXT_LEN = 256,
    SMDPD_INVENTORY_COUNT_MAX = 1000000, /* profiles one inventory line may add */
};

/* The endpoints (smdpd.c serves them, --help lists them). */
#define SMDPD_ES9_PREFIX "/gsma/rsp2/es9plus/"
#define SMDPD_ES2_PREFIX "/gsma/rsp2/es2plus/"
#define SMDPD_ASN1_PATH  "/gsma/rsp2/asn1"

typedef struct smdpd_credential_paths {
    char dpauth_certificate[SMDPD_PATH_LEN], dpauth_key[SMDPD_PATH_LEN], dppb_certificate[SMDPD_PATH_LEN],
        dppb_key[SMDPD_PATH_LEN];
} smdpd_credential_paths;

typedef struct smdpd_template_conf {
    char type[SGP32_SMDP_PROFILE_TYPE_MAX + 1];
    char path[SMDPD_PATH_LEN];
} smdpd_template_conf;

typedef struct smdpd_inventory_conf {
    char type[SGP32_SMDP_PROFILE_TYPE_MAX + 1];
    char first[SGP32_SMDP_ICCID_MAX + 1];
    size_t count;
    char first_imsi[SGP32_SMDP_IMSI_MAX + 1]; /* "" none */
} smdpd_inventory_conf;

typedef struct smdpd_config {
    char listen[64];
    int port;
    char address[SMDPD_TEXT_LEN];
    char aliases[SMDPD_LIST_MAX][SMDPD_TEXT_LEN];
    size_t alias_count;
    char tls_certificate[SMDPD_PATH_LEN], tls_key[SMDPD_PATH_LEN];
    char ci[SMDPD_LIST_MAX][SMDPD_PATH_LEN];
    size_t ci_count;
    smdpd_credential_paths credentials[SGP32_SMDP_CREDENTIALS_MAX];
    size_t credential_count;
    char database[SMDPD_PATH_LEN];
    bool sqlite_full; /* sqlite_synchronous = full */
    smdpd_template_conf templates[SMDPD_LIST_MAX];
    size_t template_count;
    smdpd_inventory_conf inventory[SMDPD_LIST_MAX];
    size_t inventory_count;
    smdpd_template_conf profile_data[SMDPD_LIST_MAX]; /* TYPE PATH: per-profile keys (smdpd_profile_data.h) */
    size_t profile_data_count;
    char service_provider_name[64];
    int profile_class;
    char es2_token[SMDPD_TEXT_LEN];
    char es2_client_ca[SMDPD_PATH_LEN];
    char es2_callback_url[SMDPD_PATH_LEN];
    char es2_callback_ca[SMDPD_PATH_LEN];
    char es2_callback_token[SMDPD_TEXT_LEN];
    char es2_callback_client_certificate[SMDPD_PATH_LEN]; /* PEM: smdpd's client certificate (mutual TLS) */
    char es2_callback_client_key[SMDPD_PATH_LEN];
    char es2_requester[64];
    long es2_callback_attempts;
    int cc_max_failures, max_download_attempts; /* 0: lib/smdp's defaults */
    long session_ttl;                           /* 0: lib/smdp's default */
    int threads;
    size_t max_body;
    char log_level[16];
} smdpd_config;

void smdpd_usage(FILE *f);
void smdpd_config_defaults(smdpd_config *c);
/* One "key = value" line (comments and blank lines allowed); where names it in messages. */
int smdpd_config_line(smdpd_config *c, char *line, const char *where);
int smdpd_config_load(smdpd_config *c, const char *path);

#endif

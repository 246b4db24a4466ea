/*
 * eimd configuration: every key (documented in --help) from `key = value` lines of a file and
 * --set; the format itself, numbers and file reading are apps/common/app_support.c.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eimd.h"
#include "sgp32/log.h"
#include "sgp32/text.h"

static const struct key_doc {
    const char *key, *doc;
} key_docs[] = {
    {"listen", "IP address to listen on, IPv4 or IPv6 (default 127.0.0.1)"},
    {"port", "TCP port (default 8443; 0 picks a free one, printed as 'eimd: listening on port N')"},
    {"eim_id", "eimId written into every eIM package and EimConfigurationData (required)"},
    {"eim_fqdn", "eimFqdn: where IPAs reach this eIM, host[:port] (default <listen>:<port>)"},
    {"tls_certificate",
     "TLS server certificate chain, PEM (required; sgp32-pki makes CERT_EIMtls_<host>_*.pem)"},
    {"tls_key", "TLS server private key, PEM (required)"},
    {"tls_trust_certificate",
     "certificate given to eUICCs as trustedPublicKeyDataTls, DER or PEM (default: the first of "
     "tls_certificate)"},
    {"signing_key", "the eIM package signing key, PEM (required; SK_EIMsign_<eimId>_*.pem)"},
    {"signing_certificate", "its certificate, DER or PEM: eimPublicKeyData (CERT_EIMsign_<eimId>_*)"},
    {"ci_certificate", "a trusted CI certificate, DER or PEM, to verify eUICC chains (repeatable)"},
    {"database", "SQLite file for devices, operations, events (default eimd.db)"},
    {"sqlite_synchronous", "normal (default) or full (fsync per commit)"},
    {"api_token",
     "NAME ROLE SECRET: a REST API bearer token; ROLE read_only, operator or admin; SECRET at least 16 "
     "characters, only its SHA-256 is kept (repeatable)"},
    {"smdp_ca", "CA certificate (DER or PEM) trusted for TLS to SM-DP+s on ES9+' (repeatable; default: "
                "the system CAs). TLS is always verified"},
    {"default_smdp_address", "SM-DP+ for download operations without an activation code"},
    {"operation_ttl",
     "seconds an operation waits for delivery and result before it expires (default 2592000)"},
    {"relay_ttl", "seconds an indirect-download relay session lives (default 1800)"},
    {"forward_interval", "seconds between notification forwarding and expiry runs (default 5)"},
    {"push_interval",
     "seconds between push rounds: TransferEimPackage to devices with a pushAddress, also started at "
     "once when an operation is created or a result arrives (default 30; 0: never push)"},
    {"push_client_certificate",
     "TLS client certificate chain (PEM) shown to the IPAs' push listeners (default tls_certificate; "
     "needs the clientAuth key usage)"},
    {"push_client_key", "its private key, PEM (default tls_key)"},
    {"push_ca", "CA certificate (DER or PEM) trusted for the IPAs' push listener certificates "
                "(repeatable; default: the system CAs). TLS is always verified"},
    {"push_timeout", "seconds one push may take, connection to answer (default 60)"},
    {"push_redeliver",
     "seconds before an operation an IPA answered eimPackageReceived for is pushed again while its "
     "result is awaited (default 600)"},
    {"push_batch", "devices per push round (default 100)"},
    {"push_parallel", "pushes in flight at once (default 8; one per device at most)"},
    {"threads", "HTTP worker threads (default: the number of CPUs)"},
    {"max_body", "largest ESipa request body in bytes (default 1048576; REST bodies up to 8 MiB)"},
    {"log_level", "error, warn, info, debug or trace (default info)"},
};

void eimd_usage(FILE *f)
{
    fprintf(f, "Usage: eimd [--config FILE] [--set KEY=VALUE ...] [--check] [--help]\n"
               "\n"
               "eIM (eSIM IoT remote Manager, GSMA SGP.32): ESipa over HTTPS (ASN.1 and JSON bindings),\n"
               "signed eIM packages, per-eUICC operation queues, indirect download relay (ES9+'),\n"
               "a fleet REST API and a web console.\n"
               "\n"
               "  --config FILE      read 'key = value' lines ('#' starts a comment)\n"
               "  --set KEY=VALUE    set a key after the file (repeatable)\n"
               "  --check            load everything, print the operations per state and exit\n"
               "  --help             this text\n"
               "\n"
               "Config keys:\n");
    for (size_t i = 0; i < SGP32_ARRAY_LEN(key_docs); i++)
        fprintf(f, "  %-22s %s\n", key_docs[i].key, key_docs[i].doc);
    fprintf(f, "\nEndpoints: POST /gsma/rsp2/asn1               ESipa, ASN.1 binding\n"
               "           POST /gsma/rsp2/esipa/<function>   ESipa, JSON binding\n"
               "           /api/v1/...                        REST API (Authorization: Bearer SECRET)\n"
               "           GET  /  /console                   web console\n"
               "Signals: SIGTERM or SIGINT stop the server cleanly.\n");
}

void eimd_config_defaults(eimd_config *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->listen, sizeof(c->listen), "127.0.0.1");
    c->port = 8443;
    snprintf(c->database, sizeof(c->database), "eimd.db");
    c->operation_ttl = 2592000;
    c->relay_ttl = 1800;
    c->forward_interval = 5;
    c->push_interval = 30;
    c->push_timeout = 60;
    c->push_redeliver = 600;
    c->push_batch = 100;
    c->push_parallel = 8;
    c->max_body = 1 << 20;
    snprintf(c->log_level, sizeof(c->log_level), "info");
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    c->threads = n > 0 ? (int)(n > 256 ? 256 : n) : 1;
}

static bool name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
              *s == '_' || *s == '.'))
            return false;
    return true;
}

static int token_set(eimd_config *c, const char *value)
{
    if (c->token_count == EIMD_TOKENS_MAX)
        return fprintf(stderr, "eimd: too many api_token lines (at most %d)\n", EIMD_TOKENS_MAX), -1;
    char name[SGP32_EIM_NAME_MAX + 2], role[32], secret[EIMD_SECRET_MAX + 2], extra[2];
    int rc = -1;
    if (sscanf(value, "%65s %31s %256s %1s", name, role, secret, extra) != 3) {
        fprintf(stderr, "eimd: api_token = NAME ROLE SECRET\n");
        goto out;
    }
    int r = sgp32_eim_role_from_name(role);
    if (strlen(name) > SGP32_EIM_NAME_MAX || !name_ok(name)) {
        fprintf(stderr, "eimd: api_token name: 1..%d of A-Z a-z 0-9 . _ -\n", SGP32_EIM_NAME_MAX);
        goto out;
    }
    if (r < 0) {
        fprintf(stderr, "eimd: api_token %s: role must be read_only, operator or admin\n", name);
        goto out;
    }
    size_t len = strlen(secret);
    if (len < EIMD_SECRET_MIN || len > EIMD_SECRET_MAX) {
        fprintf(stderr, "eimd: api_token %s: the secret must have %d..%d characters\n", name, EIMD_SECRET_MIN,
                EIMD_SECRET_MAX);
        goto out;
    }
    for (size_t i = 0; i < c->token_count; i++) {
        if (!strcmp(c->tokens[i].name, name)) {
            fprintf(stderr, "eimd: api_token %s defined twice\n", name);
            goto out;
        }
        if (!strcmp(c->tokens[i].secret, secret)) {
            fprintf(stderr, "eimd: api_token %s has the secret of %s\n", name, c->tokens[i].name);
            goto out;
        }
    }
    eimd_token_conf *t = &c->tokens[c->token_count++];
    memcpy(t->name, name, strlen(name) + 1);
    t->role = (sgp32_eim_role)r;
    memcpy(t->secret, secret, len + 1);
    rc = 0;
out:
    sgp32_secure_zero(secret, sizeof(secret));
    return rc;
}

#define COPY(field) sgp32_app_config_copy(field, sizeof(field), value, key)

static int config_set(void *ctx, const char *key, const char *value)
{
    eimd_config *c = ctx;
    long n;
    if (!strcmp(key, "listen"))
        return COPY(c->listen);
    if (!strcmp(key, "port"))
        return sgp32_app_config_number(value, key, 0, 65535, &n) ? -1 : (c->port = (int)n, 0);
    if (!strcmp(key, "eim_id"))
        return COPY(c->eim_id);
    if (!strcmp(key, "eim_fqdn"))
        return COPY(c->eim_fqdn);
    if (!strcmp(key, "tls_certificate"))
        return COPY(c->tls_certificate);
    if (!strcmp(key, "tls_key"))
        return COPY(c->tls_key);
    if (!strcmp(key, "tls_trust_certificate"))
        return COPY(c->tls_trust_certificate);
    if (!strcmp(key, "signing_key"))
        return COPY(c->signing_key);
    if (!strcmp(key, "signing_certificate"))
        return COPY(c->signing_certificate);
    if (!strcmp(key, "ci_certificate")) {
        if (c->ci_count == EIMD_LIST_MAX)
            return fprintf(stderr, "eimd: too many ci_certificate\n"), -1;
        return COPY(c->ci[c->ci_count++]);
    }
    if (!strcmp(key, "database"))
        return COPY(c->database);
    if (!strcmp(key, "sqlite_synchronous")) {
        if (strcmp(value, "normal") && strcmp(value, "full"))
            return fprintf(stderr, "eimd: sqlite_synchronous: normal or full\n"), -1;
        c->sqlite_full = !strcmp(value, "full");
        return 0;
    }
    if (!strcmp(key, "api_token"))
        return token_set(c, value);
    if (!strcmp(key, "smdp_ca")) {
        if (c->smdp_ca_count == EIMD_LIST_MAX)
            return fprintf(stderr, "eimd: too many smdp_ca\n"), -1;
        return COPY(c->smdp_ca[c->smdp_ca_count++]);
    }
    if (!strcmp(key, "default_smdp_address"))
        return COPY(c->default_smdp_address);
    if (!strcmp(key, "operation_ttl"))
        return sgp32_app_config_number(value, key, 60, 10L * 365 * 86400, &n) ? -1
                                                                              : (c->operation_ttl = n, 0);
    if (!strcmp(key, "relay_ttl"))
        return sgp32_app_config_number(value, key, 10, 7 * 86400, &n) ? -1 : (c->relay_ttl = n, 0);
    if (!strcmp(key, "forward_interval"))
        return sgp32_app_config_number(value, key, 1, 3600, &n) ? -1 : (c->forward_interval = n, 0);
    if (!strcmp(key, "push_interval"))
        return sgp32_app_config_number(value, key, 0, 86400, &n) ? -1 : (c->push_interval = n, 0);
    if (!strcmp(key, "push_client_certificate"))
        return COPY(c->push_client_certificate);
    if (!strcmp(key, "push_client_key"))
        return COPY(c->push_client_key);
    if (!strcmp(key, "push_ca")) {
        if (c->push_ca_count == EIMD_LIST_MAX)
            return fprintf(stderr, "eimd: too many push_ca\n"), -1;
        return COPY(c->push_ca[c->push_ca_count++]);
    }
    if (!strcmp(key, "push_timeout"))
        return sgp32_app_config_number(value, key, 1, 600, &n) ? -1 : (c->push_timeout = n, 0);
    if (!strcmp(key, "push_redeliver"))
        return sgp32_app_config_number(value, key, 1, 7 * 86400, &n) ? -1 : (c->push_redeliver = n, 0);
    if (!strcmp(key, "push_batch"))
        return sgp32_app_config_number(value, key, 1, 100000, &n) ? -1 : (c->push_batch = n, 0);
    if (!strcmp(key, "push_parallel"))
        return sgp32_app_config_number(value, key, 1, 256, &n) ? -1 : (c->push_parallel = n, 0);
    if (!strcmp(key, "threads"))
        return sgp32_app_config_number(value, key, 1, 256, &n) ? -1 : (c->threads = (int)n, 0);
    if (!strcmp(key, "max_body"))
        return sgp32_app_config_number(value, key, 1024, 64L << 20, &n) ? -1 : (c->max_body = (size_t)n, 0);
    if (!strcmp(key, "log_level")) {
        if (sgp32_log_level_parse(value) < 0)
            return fprintf(stderr, "eimd: log_level: error, warn, info, debug or trace\n"), -1;
        return COPY(c->log_level);
    }
    fprintf(stderr, "eimd: unknown config key '%s' (see --help)\n", key);
    return -1;
}

int eimd_config_line(eimd_config *c, char *line, const char *where)
{
    return sgp32_app_config_line(line, where, config_set, c);
}

int eimd_config_load(eimd_config *c, const char *path)
{
    size_t tokens_before = c->token_count;
    bool readable = false;
    int rc = sgp32_app_config_load(path, config_set, c, &readable);
    /* Secrets in a world-readable file are everybody's. */
    if (!rc && c->token_count > tokens_before && readable)
        fprintf(stderr, "eimd: warning: %s holds api_token secrets and is readable by others (chmod o-r)\n",
                path);
    return rc;
}

void eimd_config_wipe_secrets(eimd_config *c)
{
    for (size_t i = 0; i < c->token_count; i++)
        sgp32_secure_zero(c->tokens[i].secret, sizeof(c->tokens[i].secret));
}

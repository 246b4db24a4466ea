/*
 * eimd configuration: `key = value` lines from a file and --set, every key documented in --help,
 * plus loading keys and certificates (DER or PEM) from files.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

static int copy(char *dst, size_t size, const char *value, const char *key)
{
    size_t n = strlen(value);
    if (n >= size) {
        fprintf(stderr, "eimd: value of '%s' too long (at most %zu characters)\n", key, size - 1);
        return -1;
    }
    memcpy(dst, value, n + 1);
    return 0;
}

static int number(const char *value, const char *key, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end || v < min || v > max) {
        fprintf(stderr, "eimd: '%s' must be a number in %ld..%ld\n", key, min, max);
        return -1;
    }
    *out = v;
    return 0;
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

#define COPY(field) copy(field, sizeof(field), value, key)

static int config_set(eimd_config *c, const char *key, const char *value)
{
    long n;
    if (!strcmp(key, "listen"))
        return COPY(c->listen);
    if (!strcmp(key, "port"))
        return number(value, key, 0, 65535, &n) ? -1 : (c->port = (int)n, 0);
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
        return number(value, key, 60, 10L * 365 * 86400, &n) ? -1 : (c->operation_ttl = n, 0);
    if (!strcmp(key, "relay_ttl"))
        return number(value, key, 10, 7 * 86400, &n) ? -1 : (c->relay_ttl = n, 0);
    if (!strcmp(key, "forward_interval"))
        return number(value, key, 1, 3600, &n) ? -1 : (c->forward_interval = n, 0);
    if (!strcmp(key, "push_interval"))
        return number(value, key, 0, 86400, &n) ? -1 : (c->push_interval = n, 0);
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
        return number(value, key, 1, 600, &n) ? -1 : (c->push_timeout = n, 0);
    if (!strcmp(key, "push_redeliver"))
        return number(value, key, 1, 7 * 86400, &n) ? -1 : (c->push_redeliver = n, 0);
    if (!strcmp(key, "push_batch"))
        return number(value, key, 1, 100000, &n) ? -1 : (c->push_batch = n, 0);
    if (!strcmp(key, "push_parallel"))
        return number(value, key, 1, 256, &n) ? -1 : (c->push_parallel = n, 0);
    if (!strcmp(key, "threads"))
        return number(value, key, 1, 256, &n) ? -1 : (c->threads = (int)n, 0);
    if (!strcmp(key, "max_body"))
        return number(value, key, 1024, 64L << 20, &n) ? -1 : (c->max_body = (size_t)n, 0);
    if (!strcmp(key, "log_level")) {
        if (sgp32_log_level_parse(value) < 0)
            return fprintf(stderr, "eimd: log_level: error, warn, info, debug or trace\n"), -1;
        return COPY(c->log_level);
    }
    fprintf(stderr, "eimd: unknown config key '%s' (see --help)\n", key);
    return -1;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

int eimd_config_line(eimd_config *c, char *line, const char *where)
{
    char *hash = strchr(line, '#');
    if (hash)
        *hash = '\0';
    char *s = trim(line);
    if (!*s)
        return 0;
    char *eq = strchr(s, '=');
    if (!eq) {
        fprintf(stderr, "eimd: %s: expected 'key = value'\n", where);
        return -1;
    }
    *eq = '\0';
    return config_set(c, trim(s), trim(eq + 1));
}

int eimd_config_load(eimd_config *c, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "eimd: cannot open config %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t tokens_before = c->token_count;
    char line[2048], where[EIMD_PATH_LEN + 32];
    int n = 0, rc = 0;
    while (!rc && fgets(line, sizeof(line), f)) {
        snprintf(where, sizeof(where), "%.500s:%d", path, ++n);
        rc = eimd_config_line(c, line, where);
    }
    sgp32_secure_zero(line, sizeof(line));
    /* Secrets in a world-readable file are everybody's. */
    struct stat st;
    if (!rc && c->token_count > tokens_before && fstat(fileno(f), &st) == 0 && (st.st_mode & S_IROTH))
        fprintf(stderr, "eimd: warning: %s holds api_token secrets and is readable by others (chmod o-r)\n",
                path);
    fclose(f);
    return rc;
}

void eimd_config_wipe_secrets(eimd_config *c)
{
    for (size_t i = 0; i < c->token_count; i++)
        sgp32_secure_zero(c->tokens[i].secret, sizeof(c->tokens[i].secret));
}

/* ------------------------------------------------------------------ files */

int eimd_read_file(const char *path, sgp32_buf *out)
{
    sgp32_buf_init(out, EIMD_FILE_MAX);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "eimd: cannot open %s: %s\n", path, strerror(errno));
        return SGP32_ERR_IO;
    }
    uint8_t chunk[8192];
    size_t n;
    int rc = SGP32_OK;
    while (!rc && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = sgp32_buf_append(out, chunk, n);
    if (!rc && ferror(f))
        rc = SGP32_ERR_IO;
    fclose(f);
    sgp32_secure_zero(chunk, sizeof(chunk));
    if (rc)
        fprintf(stderr, "eimd: %s: %s\n", path, rc == SGP32_ERR_IO ? "read error" : "too large");
    return rc;
}

static const char pem_begin[] = "-----BEGIN CERTIFICATE-----", pem_end[] = "-----END CERTIFICATE-----";

static const char *find(const char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return hay + i;
    return NULL;
}

/* The next PEM certificate of text[*pos..n) decoded into der; SGP32_ERR_NOT_FOUND when none is left. */
static int next_pem(const char *text, size_t n, size_t *pos, sgp32_buf *der)
{
    const char *b = find(text + *pos, n - *pos, pem_begin);
    if (!b)
        return SGP32_ERR_NOT_FOUND;
    b += strlen(pem_begin);
    const char *e = find(b, n - (size_t)(b - text), pem_end);
    if (!e)
        return SGP32_ERR_BAD_TEXT;
    *pos = (size_t)(e - text) + strlen(pem_end);
    return sgp32_base64_decode(b, (size_t)(e - b), der);
}

int eimd_read_certificate(const char *path, sgp32_buf *der)
{
    sgp32_buf raw;
    sgp32_buf_init(der, EIMD_FILE_MAX);
    int rc = eimd_read_file(path, &raw);
    if (rc)
        goto out;
    size_t pos = 0;
    rc = next_pem((const char *)raw.data, raw.len, &pos, der);
    if (rc == SGP32_ERR_NOT_FOUND) /* no PEM armour: DER */
        rc = sgp32_buf_append(der, raw.data, raw.len);
    if (!rc) {
        sgp32_certificate cert;
        rc = sgp32_cert_parse(der->data, der->len, &cert);
    }
    if (rc)
        fprintf(stderr, "eimd: %s: not a certificate (%s)\n", path, sgp32_err_str(rc));
out:
    sgp32_buf_free(&raw);
    return rc;
}

int eimd_read_key(const char *path, sgp32_ec_private_key *key)
{
    sgp32_buf pem;
    int rc = eimd_read_file(path, &pem);
    if (!rc)
        rc = sgp32_ec_private_from_pem((const char *)pem.data, pem.len, key);
    if (rc)
        fprintf(stderr, "eimd: %s: not an EC private key (%s)\n", path, sgp32_err_str(rc));
    if (pem.data)
        sgp32_secure_zero(pem.data, pem.alloc);
    sgp32_buf_free(&pem);
    return rc;
}

char *eimd_read_text(const char *path)
{
    sgp32_buf b;
    char *text = NULL;
    if (eimd_read_file(path, &b) == SGP32_OK && sgp32_buf_append_byte(&b, 0) == SGP32_OK) {
        text = malloc(b.len);
        if (text)
            memcpy(text, b.data, b.len);
    }
    if (b.data)
        sgp32_secure_zero(b.data, b.alloc);
    sgp32_buf_free(&b);
    return text;
}

void eimd_free_text(char *text)
{
    if (text) {
        sgp32_secure_zero(text, strlen(text));
        free(text);
    }
}

static int append_pem(const uint8_t *der, size_t len, sgp32_buf *pem)
{
    size_t b64_len = sgp32_base64_encoded_len(len);
    char *b64 = malloc(b64_len + 1);
    if (!b64)
        return SGP32_ERR_NO_MEMORY;
    sgp32_base64_encode(der, len, b64);
    int rc = sgp32_buf_append(pem, pem_begin, strlen(pem_begin));
    for (size_t i = 0; !rc && i < b64_len; i += 64) {
        rc = sgp32_buf_append_byte(pem, '\n');
        if (!rc)
            rc = sgp32_buf_append(pem, b64 + i, b64_len - i < 64 ? b64_len - i : 64);
    }
    if (!rc)
        rc = sgp32_buf_append_byte(pem, '\n');
    if (!rc)
        rc = sgp32_buf_append(pem, pem_end, strlen(pem_end));
    if (!rc)
        rc = sgp32_buf_append_byte(pem, '\n');
    free(b64);
    return rc;
}

int eimd_append_pem_certificates(const char *path, sgp32_buf *pem, size_t *count)
{
    sgp32_buf raw, der;
    sgp32_buf_init(&der, EIMD_FILE_MAX);
    int rc = eimd_read_file(path, &raw);
    size_t pos = 0, found = 0;
    while (!rc) {
        sgp32_buf_reset(&der);
        rc = next_pem((const char *)raw.data, raw.len, &pos, &der);
        if (rc == SGP32_ERR_NOT_FOUND && !found && raw.len) { /* no PEM armour: one DER certificate */
            rc = sgp32_buf_append(&der, raw.data, raw.len);
            pos = raw.len;
        }
        if (rc)
            break;
        sgp32_certificate cert;
        rc = sgp32_cert_parse(der.data, der.len, &cert);
        if (!rc)
            rc = append_pem(der.data, der.len, pem);
        if (!rc)
            found++;
    }
    if (rc == SGP32_ERR_NOT_FOUND && found)
        rc = SGP32_OK;
    if (rc && rc != SGP32_ERR_IO)
        fprintf(stderr, "eimd: %s: not a certificate file (%s)\n", path, sgp32_err_str(rc));
    *count += found;
    sgp32_buf_free(&der);
    sgp32_buf_free(&raw);
    return rc;
}

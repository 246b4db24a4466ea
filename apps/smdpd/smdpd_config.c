/*
 * smdpd configuration: every key (documented in --help) from `key = value` lines of a file and
 * --set; the format itself, numbers and file reading are apps/common/app_support.c.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app_support.h"
#include "sgp32/log.h"
#include "sgp32/text.h"
#include "smdpd_config.h"

/*
 * The whitespace-separated words of value into out[i] (out[i] holds size[i] bytes), between min and
 * max of them: how many, or -1 (with a message when a word is too long, which sscanf's widths
 * would have cut and run on into the next field). Nothing is written on failure but into out.
 */
static int fields(const char *key, const char *value, char *const *out, const size_t *size, int min, int max)
{
    int n = 0;
    for (const char *p = value;;) {
        p += strspn(p, " \t");
        if (!*p)
            break;
        size_t len = strcspn(p, " \t");
        if (n == max)
            return -1; /* one word too many */
        if (len >= size[n]) {
            fprintf(stderr, "smdpd: %s: '%.*s' is too long (at most %zu characters)\n", key, (int)len, p,
                    size[n] - 1);
            return -1;
        }
        memcpy(out[n], p, len);
        out[n][len] = '\0';
        n++;
        p += len;
    }
    for (int i = n; i < max; i++)
        out[i][0] = '\0';
    return n >= min ? n : -1;
}

static const struct key_doc {
    const char *key, *doc;
} key_docs[] = {
    {"listen", "IP address to listen on (default 127.0.0.1)"},
    {"port", "TCP port (default 8443; 0 picks a free one, printed as 'listening on port N')"},
    {"address", "the SM-DP+ address (FQDN or host:port) in serverSigned1 and activation codes (required)"},
    {"address_alias", "another smdpAddress accepted from LPAs, case-insensitive (repeatable)"},
    {"tls_certificate", "DPtls certificate, PEM (required; issue one with sgp32-pki --dp-host HOST)"},
    {"tls_key", "DPtls private key, PEM (required)"},
    {"ci_certificate", "a trusted CI certificate, DER or PEM (repeatable; at least one)"},
    {"credentials",
     "DPAUTH_CERT DPAUTH_KEY DPPB_CERT DPPB_KEY: one SM-DP+ identity (repeatable, one per CI)"},
    {"database", "SQLite file for orders and sessions (default smdpd.db)"},
    {"sqlite_synchronous",
     "normal (default: a power loss may lose the last committed changes, never corrupts) or full (fsync per "
     "commit)"},
    {"template", "TYPE PATH: a profile type and its UPP template (SAIP DER, e.g. a TS.48 file) (repeatable)"},
    {"inventory",
     "TYPE FIRST_ICCID COUNT [FIRST_IMSI]: add Available profiles (an 18-digit FIRST gets Luhn digits; "
     "with FIRST_IMSI each gets the next IMSI in EF.IMSI) (repeatable)"},
    {"profile_data",
     "TYPE PATH: the operator's per-profile keys, lines 'ICCID IMSI KI OPC' (spaces or tabs, '#' comments, "
     "mode 600): each an Available TYPE profile with its IMSI, Ki and OPc; every TYPE profile then needs one "
     "(repeatable)"},
    {"service_provider_name", "serviceProviderName in the profile metadata (default 'sgp32 SM-DP+')"},
    {"profile_class", "profileClass in the metadata: 0 test, 1 provisioning, 2 operational (default 2)"},
    {"es2_token", "bearer token ES2+ callers must send (Authorization: Bearer ...); empty disables ES2+"},
    {"es2_client_ca",
     "CA (PEM) of the operators' client certificates: ES2+ callers must also present one (mutual TLS, "
     "clientAuth); ES9+ clients need none"},
    {"es2_callback_url", "operator URL for ES2+ handleDownloadProgressInfo (empty: no callbacks)"},
    {"es2_callback_ca", "CA file (PEM) to verify the callback URL's TLS certificate (default: system CAs)"},
    {"es2_callback_token",
     "bearer token smdpd sends with its callbacks (Authorization: Bearer ...); needs an https URL"},
    {"es2_callback_client_certificate",
     "certificate (PEM) smdpd presents to the callback URL when the operator requires mutual TLS, as "
     "ES2+ has it; needs es2_callback_client_key and an https URL"},
    {"es2_callback_client_key", "private key (PEM) of es2_callback_client_certificate"},
    {"es2_requester", "functionRequesterIdentifier in callbacks (default smdpd)"},
    {"es2_callback_attempts",
     "posts per callback before it is dropped; retries wait 1 s, 2 s, 4 s ... up to 60 s (default 8)"},
    {"cc_max_failures", "wrong confirmation codes before 8.2.7/6.4 (default 3)"},
    {"max_download_attempts", "download attempts per order before 8.8.5/6.4 (default 10)"},
    {"session_ttl", "seconds an ES9+ session lives (default 1800)"},
    {"threads", "HTTP worker threads (default: the number of CPUs)"},
    {"max_body", "largest request body in bytes (default 262144)"},
    {"log_level", "error, warn, info, debug or trace (default info)"},
};

void smdpd_usage(FILE *f)
{
    fprintf(f,
            "Usage: smdpd [--config FILE] [--set KEY=VALUE ...] [--check] [--help]\n"
            "\n"
            "SM-DP+ server: ES9+ (JSON and ASN.1) and ES2+ over HTTPS (GSMA SGP.22, for SGP.32 IoT eSIM).\n"
            "\n"
            "  --config FILE      read 'key = value' lines ('#' starts a comment)\n"
            "  --set KEY=VALUE    set a key after the file (repeatable)\n"
            "  --check            load everything, print a summary and exit\n"
            "  --help             this text\n"
            "\n"
            "Config keys:\n");
    for (size_t i = 0; i < SGP32_ARRAY_LEN(key_docs); i++)
        fprintf(f, "  %-22s %s\n", key_docs[i].key, key_docs[i].doc);
    fprintf(f,
            "\nEndpoints: POST " SMDPD_ES9_PREFIX
            "{initiateAuthentication,authenticateClient,getBoundProfilePackage,"
            "handleNotification,cancelSession}\n           POST " SMDPD_ASN1_PATH
            "\n           POST " SMDPD_ES2_PREFIX "{downloadOrder,confirmOrder,cancelOrder,releaseProfile}\n"
            "Signals: SIGTERM or SIGINT stop the server cleanly.\n");
}

void smdpd_config_defaults(smdpd_config *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->listen, sizeof(c->listen), "127.0.0.1");
    c->port = 8443;
    snprintf(c->database, sizeof(c->database), "smdpd.db");
    snprintf(c->service_provider_name, sizeof(c->service_provider_name), "sgp32 SM-DP+");
    c->profile_class = 2;
    snprintf(c->es2_requester, sizeof(c->es2_requester), "smdpd");
    c->es2_callback_attempts = 8;
    c->max_body = 256 * 1024;
    snprintf(c->log_level, sizeof(c->log_level), "info");
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    c->threads = n > 0 ? (int)n : 1;
}

#define COPY(field) sgp32_app_config_copy(field, sizeof(field), value, key)

static int config_set(void *ctx, const char *key, const char *value)
{
    smdpd_config *c = ctx;
    long n;
    if (!strcmp(key, "listen"))
        return COPY(c->listen);
    if (!strcmp(key, "port"))
        return sgp32_app_config_number(value, key, 0, 65535, &n) ? -1 : (c->port = (int)n, 0);
    if (!strcmp(key, "address"))
        return COPY(c->address);
    if (!strcmp(key, "address_alias")) {
        if (c->alias_count == SMDPD_LIST_MAX)
            return fprintf(stderr, "smdpd: too many address_alias\n"), -1;
        return COPY(c->aliases[c->alias_count++]);
    }
    if (!strcmp(key, "tls_certificate"))
        return COPY(c->tls_certificate);
    if (!strcmp(key, "tls_key"))
        return COPY(c->tls_key);
    if (!strcmp(key, "ci_certificate")) {
        if (c->ci_count == SMDPD_LIST_MAX)
            return fprintf(stderr, "smdpd: too many ci_certificate\n"), -1;
        return COPY(c->ci[c->ci_count++]);
    }
    if (!strcmp(key, "credentials")) {
        if (c->credential_count == SGP32_SMDP_CREDENTIALS_MAX)
            return fprintf(stderr, "smdpd: too many credentials\n"), -1;
        smdpd_credential_paths p;
        char *out[] = {p.dpauth_certificate, p.dpauth_key, p.dppb_certificate, p.dppb_key};
        const size_t size[] = {sizeof(p.dpauth_certificate), sizeof(p.dpauth_key), sizeof(p.dppb_certificate),
                               sizeof(p.dppb_key)};
        if (fields(key, value, out, size, 4, 4) != 4)
            return fprintf(stderr, "smdpd: credentials = DPAUTH_CERT DPAUTH_KEY DPPB_CERT DPPB_KEY\n"), -1;
        c->credentials[c->credential_count++] = p;
        return 0;
    }
    if (!strcmp(key, "database"))
        return COPY(c->database);
    if (!strcmp(key, "sqlite_synchronous")) {
        if (strcmp(value, "normal") && strcmp(value, "full"))
            return fprintf(stderr, "smdpd: sqlite_synchronous: normal or full\n"), -1;
        c->sqlite_full = !strcmp(value, "full");
        return 0;
    }
    if (!strcmp(key, "template")) {
        if (c->template_count == SMDPD_LIST_MAX)
            return fprintf(stderr, "smdpd: too many templates\n"), -1;
        smdpd_template_conf t;
        char *out[] = {t.type, t.path};
        const size_t size[] = {sizeof(t.type), sizeof(t.path)};
        if (fields(key, value, out, size, 2, 2) != 2)
            return fprintf(stderr, "smdpd: template = TYPE PATH\n"), -1;
        c->templates[c->template_count++] = t;
        return 0;
    }
    if (!strcmp(key, "inventory")) {
        if (c->inventory_count == SMDPD_LIST_MAX)
            return fprintf(stderr, "smdpd: too many inventory lines\n"), -1;
        smdpd_inventory_conf v = {.count = 0};
        char count[16];
        char *out[] = {v.type, v.first, count, v.first_imsi};
        const size_t size[] = {sizeof(v.type), sizeof(v.first), sizeof(count), sizeof(v.first_imsi)};
        long number = 0;
        int got = fields(key, value, out, size, 3, 4);
        if (got < 3 ||
            sgp32_app_config_number(count, "inventory COUNT", 0, SMDPD_INVENTORY_COUNT_MAX, &number))
            return fprintf(stderr,
                           "smdpd: inventory = TYPE FIRST_ICCID COUNT [FIRST_IMSI] (COUNT <= 1000000)\n"),
                   -1;
        v.count = (size_t)number;
        c->inventory[c->inventory_count++] = v;
        return 0;
    }
    if (!strcmp(key, "profile_data")) {
        if (c->profile_data_count == SMDPD_LIST_MAX)
            return fprintf(stderr, "smdpd: too many profile_data lines\n"), -1;
        smdpd_template_conf p;
        char *out[] = {p.type, p.path};
        const size_t size[] = {sizeof(p.type), sizeof(p.path)};
        if (fields(key, value, out, size, 2, 2) != 2)
            return fprintf(stderr, "smdpd: profile_data = TYPE PATH\n"), -1;
        c->profile_data[c->profile_data_count++] = p;
        return 0;
    }
    if (!strcmp(key, "service_provider_name"))
        return COPY(c->service_provider_name);
    if (!strcmp(key, "profile_class"))
        return sgp32_app_config_number(value, key, 0, 2, &n) ? -1 : (c->profile_class = (int)n, 0);
    if (!strcmp(key, "es2_token"))
        return COPY(c->es2_token);
    if (!strcmp(key, "es2_client_ca"))
        return COPY(c->es2_client_ca);
    if (!strcmp(key, "es2_callback_url"))
        return COPY(c->es2_callback_url);
    if (!strcmp(key, "es2_callback_ca"))
        return COPY(c->es2_callback_ca);
    if (!strcmp(key, "es2_callback_token"))
        return COPY(c->es2_callback_token);
    if (!strcmp(key, "es2_callback_client_certificate"))
        return COPY(c->es2_callback_client_certificate);
    if (!strcmp(key, "es2_callback_client_key"))
        return COPY(c->es2_callback_client_key);
    if (!strcmp(key, "es2_requester"))
        return COPY(c->es2_requester);
    if (!strcmp(key, "es2_callback_attempts"))
        return sgp32_app_config_number(value, key, 1, 100, &c->es2_callback_attempts);
    if (!strcmp(key, "cc_max_failures"))
        return sgp32_app_config_number(value, key, 1, 100, &n) ? -1 : (c->cc_max_failures = (int)n, 0);
    if (!strcmp(key, "max_download_attempts"))
        return sgp32_app_config_number(value, key, 1, 1000, &n) ? -1 : (c->max_download_attempts = (int)n, 0);
    if (!strcmp(key, "session_ttl"))
        return sgp32_app_config_number(value, key, 10, 7 * 86400, &n) ? -1 : (c->session_ttl = n, 0);
    if (!strcmp(key, "threads"))
        return sgp32_app_config_number(value, key, 1, 256, &n) ? -1 : (c->threads = (int)n, 0);
    if (!strcmp(key, "max_body"))
        return sgp32_app_config_number(value, key, 1024, 64L << 20, &n) ? -1 : (c->max_body = (size_t)n, 0);
    if (!strcmp(key, "log_level")) {
        if (sgp32_log_level_parse(value) < 0)
            return fprintf(stderr, "smdpd: log_level: error, warn, info, debug or trace\n"), -1;
        return COPY(c->log_level);
    }
    fprintf(stderr, "smdpd: unknown config key '%s' (see --help)\n", key);
    return -1;
}

int smdpd_config_line(smdpd_config *c, char *line, const char *where)
{
    return sgp32_app_config_line(line, where, config_set, c);
}

int smdpd_config_load(smdpd_config *c, const char *path)
{
    return sgp32_app_config_load(path, config_set, c, NULL);
}

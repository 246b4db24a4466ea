/*
 * smdpd: the SM-DP+ server. A thin host around lib/smdp's sans-I/O core:
 *
 *   HTTPS (libmicrohttpd + GnuTLS, its own thread pool) with the DPtls certificate
 *     POST /gsma/rsp2/es9plus/<function>   ES9+ JSON binding (SGP.22 §6.5)
 *     POST /gsma/rsp2/asn1                 ES9+ ASN.1 binding (SGP.22 §6.6)
 *     POST /gsma/rsp2/es2plus/<function>   ES2+ JSON for operators (bearer token)
 *   SQLite store (orders and sessions survive restarts), profile templates and inventory from
 *   the config file, ES2+ handleDownloadProgressInfo callbacks to the operator (libcurl, a
 *   worker thread), one log line per request with the transaction, SIGTERM/SIGINT stop cleanly.
 *
 * Run `smdpd --help` for every config key.
 */
#include <curl/curl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "app_http.h"
#include "app_support.h"
#include "sgp32/log.h"
#include "sgp32/profile_package.h"
#include "sgp32/smdp_server.h"
#include "sgp32/text.h"
#include "smdpd_callbacks.h"

enum {
    PATH_LEN = 512,
    LIST_MAX = 16,
    TEXT_LEN = 256,
    DISCARD_MAX = 64 << 20, /* bodies larger than this are refused before they are read */
};

#define ADMIN_PROTOCOL "gsma/rsp/v2.2.0"
#define ES9_PREFIX     "/gsma/rsp2/es9plus/"
#define ES2_PREFIX     "/gsma/rsp2/es2plus/"
#define ASN1_PATH      "/gsma/rsp2/asn1"

static sgp32_log_context mhd_log_ctx = {"smdpd", NULL, NULL}; /* libmicrohttpd's own lines */

/* ------------------------------------------------------------------ config */

typedef struct credential_paths {
    char dpauth_certificate[PATH_LEN], dpauth_key[PATH_LEN], dppb_certificate[PATH_LEN], dppb_key[PATH_LEN];
} credential_paths;

typedef struct template_conf {
    char type[SGP32_SMDP_PROFILE_TYPE_MAX + 1];
    char path[PATH_LEN];
} template_conf;

typedef struct inventory_conf {
    char type[SGP32_SMDP_PROFILE_TYPE_MAX + 1];
    char first[SGP32_SMDP_ICCID_MAX + 1];
    size_t count;
    char first_imsi[SGP32_SMDP_IMSI_MAX + 1]; /* "" none */
} inventory_conf;

typedef struct config {
    char listen[64];
    int port;
    char address[TEXT_LEN];
    char aliases[LIST_MAX][TEXT_LEN];
    size_t alias_count;
    char tls_certificate[PATH_LEN], tls_key[PATH_LEN];
    char ci[LIST_MAX][PATH_LEN];
    size_t ci_count;
    credential_paths credentials[SGP32_SMDP_CREDENTIALS_MAX];
    size_t credential_count;
    char database[PATH_LEN];
    bool sqlite_full; /* sqlite_synchronous = full */
    template_conf templates[LIST_MAX];
    size_t template_count;
    inventory_conf inventory[LIST_MAX];
    size_t inventory_count;
    char service_provider_name[64];
    int profile_class;
    char es2_token[TEXT_LEN];
    char es2_client_ca[PATH_LEN];
    char es2_callback_url[PATH_LEN];
    char es2_callback_ca[PATH_LEN];
    char es2_callback_token[TEXT_LEN];
    char es2_requester[64];
    long es2_callback_attempts;
    int cc_max_failures, max_download_attempts;
    long session_ttl;
    int threads;
    size_t max_body;
    char log_level[16];
} config;

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

static void usage(FILE *f)
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
    fprintf(f, "\nEndpoints: POST " ES9_PREFIX
               "{initiateAuthentication,authenticateClient,getBoundProfilePackage,"
               "handleNotification,cancelSession}\n           POST " ASN1_PATH "\n           POST " ES2_PREFIX
               "{downloadOrder,confirmOrder,cancelOrder,releaseProfile}\n"
               "Signals: SIGTERM or SIGINT stop the server cleanly.\n");
}

static void config_defaults(config *c)
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
    config *c = ctx;
    long n;
    if (!strcmp(key, "listen"))
        return COPY(c->listen);
    if (!strcmp(key, "port"))
        return sgp32_app_config_number(value, key, 0, 65535, &n) ? -1 : (c->port = (int)n, 0);
    if (!strcmp(key, "address"))
        return COPY(c->address);
    if (!strcmp(key, "address_alias")) {
        if (c->alias_count == LIST_MAX)
            return fprintf(stderr, "smdpd: too many address_alias\n"), -1;
        return COPY(c->aliases[c->alias_count++]);
    }
    if (!strcmp(key, "tls_certificate"))
        return COPY(c->tls_certificate);
    if (!strcmp(key, "tls_key"))
        return COPY(c->tls_key);
    if (!strcmp(key, "ci_certificate")) {
        if (c->ci_count == LIST_MAX)
            return fprintf(stderr, "smdpd: too many ci_certificate\n"), -1;
        return COPY(c->ci[c->ci_count++]);
    }
    if (!strcmp(key, "credentials")) {
        if (c->credential_count == SGP32_SMDP_CREDENTIALS_MAX)
            return fprintf(stderr, "smdpd: too many credentials\n"), -1;
        credential_paths *p = &c->credentials[c->credential_count];
        char extra[2];
        if (sscanf(value, "%511s %511s %511s %511s %1s", p->dpauth_certificate, p->dpauth_key,
                   p->dppb_certificate, p->dppb_key, extra) != 4)
            return fprintf(stderr, "smdpd: credentials = DPAUTH_CERT DPAUTH_KEY DPPB_CERT DPPB_KEY\n"), -1;
        c->credential_count++;
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
        if (c->template_count == LIST_MAX)
            return fprintf(stderr, "smdpd: too many templates\n"), -1;
        template_conf *t = &c->templates[c->template_count];
        char extra[2];
        if (sscanf(value, "%64s %511s %1s", t->type, t->path, extra) != 2)
            return fprintf(stderr, "smdpd: template = TYPE PATH\n"), -1;
        c->template_count++;
        return 0;
    }
    if (!strcmp(key, "inventory")) {
        if (c->inventory_count == LIST_MAX)
            return fprintf(stderr, "smdpd: too many inventory lines\n"), -1;
        inventory_conf *v = &c->inventory[c->inventory_count];
        char extra[2];
        int fields =
            sscanf(value, "%64s %20s %zu %15s %1s", v->type, v->first, &v->count, v->first_imsi, extra);
        if ((fields != 3 && fields != 4) || v->count > 1000000)
            return fprintf(stderr,
                           "smdpd: inventory = TYPE FIRST_ICCID COUNT [FIRST_IMSI] (COUNT <= 1000000)\n"),
                   -1;
        c->inventory_count++;
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

/* ------------------------------------------------------------------ ES2+ callbacks */

/* The server's events become handleDownloadProgressInfo bodies for the callback worker. */
typedef struct event_sink {
    const config *conf;
    smdpd_callbacks *callbacks; /* NULL: no es2_callback_url */
} event_sink;

static void on_event(void *ctx, const sgp32_smdp_event *event)
{
    const event_sink *sink = ctx;
    if (!sink->callbacks)
        return;
    sgp32_buf body;
    sgp32_buf_init(&body, 1 << 16);
    if (sgp32_smdp_es2_json_download_progress(event, sink->conf->es2_requester, &body) == SGP32_OK &&
        sgp32_buf_append_byte(&body, 0) == SGP32_OK)
        smdpd_callbacks_post(sink->callbacks, (const char *)body.data);
    sgp32_buf_free(&body);
}

/* ------------------------------------------------------------------ HTTP */

typedef struct server_ctx {
    const config *conf;
    sgp32_smdp_server smdp;
} server_ctx;

typedef struct request {
    sgp32_app_http_request http; /* first: the body and its cap (app_http.h) */
    struct timespec start;
} request;
_Static_assert(offsetof(request, http) == 0,
               "sgp32_app_http_completed frees a request through its first member");

static double elapsed_ms(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) * 1e3 + (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

static enum MHD_Result send_body(struct MHD_Connection *c, unsigned status, const char *type,
                                 const void *data, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    if (len && type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, "X-Admin-Protocol", ADMIN_PROTOCOL);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

#define JSON_TYPE "application/json;charset=UTF-8"
#define ASN1_TYPE "application/x-gsma-rsp-asn1"

static enum MHD_Result send_status(struct MHD_Connection *c, unsigned http, const char *subject,
                                   const char *reason, const char *message)
{
    sgp32_smdp_status st;
    sgp32_smdp_status_set(&st, subject, reason, message);
    sgp32_buf body;
    sgp32_buf_init(&body, 4096);
    sgp32_smdp_json_status_body(&st, &body);
    enum MHD_Result r = send_body(c, http, JSON_TYPE, body.data, body.len);
    sgp32_buf_free(&body);
    return r;
}

static void log_request(const char *what, const char *fn, const uint8_t *txid, size_t txid_len,
                        const sgp32_smdp_status *st, unsigned http, const request *rq)
{
    char hex[SGP32_SMDP_TXID_HEX + 1] = "";
    if (txid_len)
        sgp32_hex_encode(txid, txid_len, hex);
    sgp32_log_context ctx = {"smdpd", NULL, hex[0] ? hex : NULL};
    if (sgp32_smdp_status_ok(st))
        sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, &ctx, "%s %s -> HTTP %u Executed-Success (%.1f ms)", what,
                  fn, http, elapsed_ms(&rq->start));
    else
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_APP, &ctx, "%s %s -> HTTP %u Failed %s/%s %s (%.1f ms)", what, fn,
                  http, st->subject, st->reason ? st->reason : "", st->message, elapsed_ms(&rq->start));
}

static bool content_type_is(struct MHD_Connection *c, const char *prefix)
{
    const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    return t && strncasecmp(t, prefix, strlen(prefix)) == 0;
}

static enum MHD_Result es9_json(server_ctx *sc, struct MHD_Connection *c, const char *name, request *rq)
{
    sgp32_smdp_es9_function f = sgp32_smdp_es9_function_from_name(name);
    if (!f)
        return send_status(c, MHD_HTTP_NOT_FOUND, "1.6", "3.9", "unknown ES9+ function");
    if (!content_type_is(c, "application/json"))
        return send_status(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "1.6", "2.1",
                           "Content-Type must be application/json");
    sgp32_smdp_es9_request req;
    sgp32_smdp_es9_response resp;
    sgp32_smdp_es9_request_init(&req);
    sgp32_smdp_es9_response_init(&resp, f);
    int rc = sgp32_smdp_es9_json_decode(f, (const char *)rq->http.body.data, rq->http.body.len, &req,
                                        &resp.status);
    if (!rc && sgp32_smdp_status_ok(&resp.status))
        rc = sgp32_smdp_es9_call(&sc->smdp, &req, &resp);
    if (rc)
        sgp32_smdp_status_set(&resp.status, "1.2", "4.2", "execution error");
    sgp32_buf body;
    sgp32_buf_init(&body, 2 * SGP32_SMDP_BPP_MAX);
    enum MHD_Result ret;
    unsigned http = MHD_HTTP_OK;
    if (sgp32_smdp_es9_json_encode(&resp, &body) != SGP32_OK) {
        http = MHD_HTTP_INTERNAL_SERVER_ERROR;
        ret = send_status(c, http, "1.2", "4.2", "execution error");
    } else {
        if (f == SGP32_SMDP_ES9_HANDLE_NOTIFICATION && sgp32_smdp_status_ok(&resp.status))
            http = MHD_HTTP_NO_CONTENT;
        ret = send_body(c, http, JSON_TYPE, body.data, body.len);
    }
    log_request("ES9+", name, resp.transaction_id_len ? resp.transaction_id : req.transaction_id,
                resp.transaction_id_len ? resp.transaction_id_len : req.transaction_id_len, &resp.status,
                http, rq);
    sgp32_buf_free(&body);
    sgp32_smdp_es9_request_free(&req);
    sgp32_smdp_es9_response_free(&resp);
    return ret;
}

static enum MHD_Result es9_asn1(server_ctx *sc, struct MHD_Connection *c, request *rq)
{
    if (!content_type_is(c, ASN1_TYPE))
        return send_status(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "1.6", "2.1",
                           "Content-Type must be " ASN1_TYPE);
    sgp32_smdp_es9_request req;
    sgp32_smdp_es9_response resp;
    sgp32_smdp_es9_request_init(&req);
    int rc = sgp32_smdp_es9_asn1_decode(rq->http.body.data, rq->http.body.len, &req, &resp.status);
    sgp32_smdp_status decode_status = resp.status;
    sgp32_smdp_es9_response_init(&resp, req.function);
    resp.status = decode_status;
    enum MHD_Result ret;
    unsigned http = MHD_HTTP_OK;
    if (!req.function) {
        http = MHD_HTTP_BAD_REQUEST;
        ret = send_body(c, http, ASN1_TYPE, NULL, 0);
    } else {
        if (!rc && sgp32_smdp_status_ok(&resp.status))
            rc = sgp32_smdp_es9_call(&sc->smdp, &req, &resp);
        if (rc)
            sgp32_smdp_status_set(&resp.status, "1.2", "4.2", "execution error");
        if (!sgp32_smdp_status_ok(&resp.status) && !resp.asn1_error)
            resp.asn1_error = 127;
        sgp32_buf body;
        sgp32_buf_init(&body, SGP32_SMDP_BPP_MAX + 4096);
        if (sgp32_smdp_es9_asn1_encode(&resp, &body) != SGP32_OK) {
            http = MHD_HTTP_INTERNAL_SERVER_ERROR;
            ret = send_body(c, http, ASN1_TYPE, NULL, 0);
        } else {
            if (req.function == SGP32_SMDP_ES9_HANDLE_NOTIFICATION)
                http = MHD_HTTP_NO_CONTENT;
            ret = send_body(c, http, ASN1_TYPE, body.data, body.len);
        }
        sgp32_buf_free(&body);
    }
    log_request("ES9+ asn1", req.function ? sgp32_smdp_es9_function_name(req.function) : "?",
                resp.transaction_id_len ? resp.transaction_id : req.transaction_id,
                resp.transaction_id_len ? resp.transaction_id_len : req.transaction_id_len, &resp.status,
                http, rq);
    sgp32_smdp_es9_request_free(&req);
    sgp32_smdp_es9_response_free(&resp);
    return ret;
}

/* Constant-time comparison of the bearer token. */
static bool token_ok(const config *conf, struct MHD_Connection *c)
{
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!conf->es2_token[0] || !auth || strncmp(auth, "Bearer ", 7) != 0)
        return false;
    const char *given = auth + 7;
    size_t a = strlen(given), b = strlen(conf->es2_token);
    unsigned diff = (unsigned)(a ^ b);
    for (size_t i = 0; i < b; i++)
        diff |= (unsigned)(uint8_t)conf->es2_token[i] ^ (unsigned)(uint8_t)(i < a ? given[i] : 0);
    return diff == 0;
}

static enum MHD_Result es2_json(server_ctx *sc, struct MHD_Connection *c, const char *name, request *rq)
{
    sgp32_smdp_es2_function f = sgp32_smdp_es2_function_from_name(name);
    if (!f)
        return send_status(c, MHD_HTTP_NOT_FOUND, "1.6", "3.9", "unknown ES2+ function");
    /* with es2_client_ca, the operator's client certificate (verified in the handshake) as well */
    if (!token_ok(sc->conf, c) || (sc->conf->es2_client_ca[0] && !sgp32_app_http_client_verified(c))) {
        sgp32_smdp_status st;
        sgp32_smdp_status_set(&st, "1.1", "1.1", "function requester unknown");
        log_request("ES2+", name, NULL, 0, &st, MHD_HTTP_UNAUTHORIZED, rq);
        return send_status(c, MHD_HTTP_UNAUTHORIZED, "1.1", "1.1", "function requester unknown");
    }
    if (!content_type_is(c, "application/json"))
        return send_status(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "1.6", "2.1",
                           "Content-Type must be application/json");
    sgp32_smdp_es2_request req;
    sgp32_smdp_es2_response resp;
    memset(&resp, 0, sizeof(resp));
    int rc = sgp32_smdp_es2_json_decode(f, (const char *)rq->http.body.data, rq->http.body.len, &req,
                                        &resp.status);
    if (!rc && sgp32_smdp_status_ok(&resp.status))
        rc = sgp32_smdp_es2_call(&sc->smdp, &req, &resp);
    resp.function = f;
    if (rc)
        sgp32_smdp_status_set(&resp.status, "1.2", "4.2", "execution error");
    sgp32_buf body;
    sgp32_buf_init(&body, 1 << 16);
    sgp32_smdp_es2_json_encode(&resp, &body);
    enum MHD_Result ret = send_body(c, MHD_HTTP_OK, JSON_TYPE, body.data, body.len);
    log_request("ES2+", name, NULL, 0, &resp.status, MHD_HTTP_OK, rq);
    sgp32_buf_free(&body);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_size,
                              void **con_cls)
{
    (void)version;
    server_ctx *sc = cls;
    request *rq = *con_cls;
    if (!rq) {
        rq = sgp32_app_http_request_new(con_cls, sizeof(*rq), sc->conf->max_body);
        if (!rq)
            return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &rq->start);
        /* Too large: read and drop the body, then answer 413 (an early answer would race with
         * the client still sending and reach it as a connection reset). Absurd sizes are
         * answered at once. */
        unsigned long long announced = sgp32_app_http_content_length(&rq->http, c);
        if (announced > DISCARD_MAX)
            return send_status(c, MHD_HTTP_CONTENT_TOO_LARGE, "1.6", "2.1", "request body too large");
        return MHD_YES;
    }
    if (*upload_size) {
        sgp32_app_http_append(&rq->http, upload_data, upload_size);
        return MHD_YES;
    }
    if (rq->http.too_large)
        return send_status(c, MHD_HTTP_CONTENT_TOO_LARGE, "1.6", "2.1", "request body too large");
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
        return send_status(c, MHD_HTTP_METHOD_NOT_ALLOWED, "1.6", "2.1", "only POST");
    const char *admin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Admin-Protocol");
    if (!admin || strncmp(admin, "gsma/rsp/v", 10) != 0)
        return send_status(c, MHD_HTTP_BAD_REQUEST, "1.6", "2.2",
                           "X-Admin-Protocol gsma/rsp/vX.Y.Z required");
    if (!strncmp(url, ES9_PREFIX, strlen(ES9_PREFIX)))
        return es9_json(sc, c, url + strlen(ES9_PREFIX), rq);
    if (!strcmp(url, ASN1_PATH))
        return es9_asn1(sc, c, rq);
    if (!strncmp(url, ES2_PREFIX, strlen(ES2_PREFIX)))
        return es2_json(sc, c, url + strlen(ES2_PREFIX), rq);
    return send_status(c, MHD_HTTP_NOT_FOUND, "1.6", "3.9", "unknown path");
}

/* ------------------------------------------------------------------ main */

typedef struct identity {
    sgp32_buf files[4 * SGP32_SMDP_CREDENTIALS_MAX];
    sgp32_smdp_credentials credentials[SGP32_SMDP_CREDENTIALS_MAX];
    sgp32_ci_set cis;
    sgp32_buf upp[LIST_MAX];
    sgp32_smdp_profile_template templates[LIST_MAX];
    const char *aliases[LIST_MAX];
} identity;

static int load_identity(const config *conf, identity *id)
{
    sgp32_ci_set_init(&id->cis);
    for (size_t i = 0; i < conf->ci_count; i++) {
        sgp32_buf der;
        int rc = sgp32_app_read_certificate(conf->ci[i], &der);
        if (!rc && (rc = sgp32_ci_set_add(&id->cis, der.data, der.len)) != SGP32_OK)
            fprintf(stderr, "smdpd: %s: not a usable CI certificate (%s)\n", conf->ci[i], sgp32_err_str(rc));
        sgp32_buf_free(&der);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < conf->credential_count; i++) {
        const credential_paths *p = &conf->credentials[i];
        int rc = sgp32_app_read_certificate(p->dpauth_certificate, &id->files[4 * i]);
        if (!rc)
            rc = sgp32_app_read_certificate(p->dppb_certificate, &id->files[4 * i + 1]);
        if (!rc)
            rc = sgp32_app_read_key(p->dpauth_key, &id->credentials[i].dpauth_key);
        if (!rc)
            rc = sgp32_app_read_key(p->dppb_key, &id->credentials[i].dppb_key);
        if (rc)
            return rc;
        id->credentials[i].dpauth_certificate = sgp32_buf_bytes(&id->files[4 * i]);
        id->credentials[i].dppb_certificate = sgp32_buf_bytes(&id->files[4 * i + 1]);
        if (sgp32_cert_verify_dp(&id->cis, id->credentials[i].dpauth_certificate, SGP32_CERT_ROLE_DP_AUTH,
                                 NULL, SGP32_CERT_NO_TIME_CHECK, NULL) != SGP32_OK ||
            sgp32_cert_verify_dp(&id->cis, id->credentials[i].dppb_certificate, SGP32_CERT_ROLE_DP_PB, NULL,
                                 SGP32_CERT_NO_TIME_CHECK, NULL) != SGP32_OK) {
            fprintf(stderr, "smdpd: credentials %zu: DPauth/DPpb not issued by a configured CI\n", i + 1);
            return SGP32_ERR_CERT_CHAIN;
        }
    }
    for (size_t i = 0; i < conf->template_count; i++) {
        int rc = sgp32_app_read_file(conf->templates[i].path, &id->upp[i]);
        char digits[21];
        if (!rc && (rc = sgp32_upp_iccid(id->upp[i].data, id->upp[i].len, digits)) != SGP32_OK)
            fprintf(stderr, "smdpd: %s: not a SAIP profile package with a header ICCID\n",
                    conf->templates[i].path);
        if (rc)
            return rc;
        sgp32_smdp_profile_template *t = &id->templates[i];
        snprintf(t->profile_type, sizeof(t->profile_type), "%s", conf->templates[i].type);
        t->upp = sgp32_buf_bytes(&id->upp[i]);
        t->service_provider_name = conf->service_provider_name;
        t->profile_name = conf->templates[i].type;
        t->profile_class = conf->profile_class;
    }
    for (size_t i = 0; i < conf->alias_count; i++)
        id->aliases[i] = conf->aliases[i];
    return SGP32_OK;
}

static void free_identity(identity *id)
{
    for (size_t i = 0; i < SGP32_ARRAY_LEN(id->files); i++)
        sgp32_buf_free(&id->files[i]);
    for (size_t i = 0; i < LIST_MAX; i++)
        sgp32_buf_free(&id->upp[i]);
    sgp32_ci_set_free(&id->cis);
    sgp32_secure_zero(id->credentials, sizeof(id->credentials));
}

int main(int argc, char **argv)
{
    static config conf;
    static event_sink events = {.conf = &conf};
    sgp32_app_init("smdpd");
    sgp32_app_server_allocator();
    config_defaults(&conf);
    bool check_only = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            if (sgp32_app_config_load(argv[++i], config_set, &conf, NULL))
                return 2;
        } else if (!strcmp(argv[i], "--set") && i + 1 < argc) {
            char line[2048];
            snprintf(line, sizeof(line), "%s", argv[++i]);
            if (sgp32_app_config_line(line, "--set", config_set, &conf))
                return 2;
        } else if (!strcmp(argv[i], "--check")) {
            check_only = true;
        } else {
            fprintf(stderr, "smdpd: unknown argument '%s'\n\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!conf.address[0] || !conf.tls_certificate[0] || !conf.tls_key[0] || !conf.ci_count ||
        !conf.credential_count) {
        fprintf(stderr,
                "smdpd: address, tls_certificate, tls_key, ci_certificate and credentials are required "
                "(see --help)\n");
        return 2;
    }
    /* a token goes over TLS only: in clear, anyone on the path could replay it */
    if (conf.es2_callback_token[0] && strncasecmp(conf.es2_callback_url, "https://", 8) != 0) {
        fprintf(stderr,
                "smdpd: es2_callback_token needs an https:// es2_callback_url (it would go in clear)\n");
        return 2;
    }
    sgp32_log_set_level_all((sgp32_log_level)sgp32_log_level_parse(conf.log_level));

    int status = 1;
    static identity id;
    sgp32_smdp_sqlite *db = NULL;
    struct MHD_Daemon *daemon = NULL;
    char *tls_cert = NULL, *tls_key = NULL, *client_ca = NULL;
    static server_ctx sc;
    sc.conf = &conf;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (load_identity(&conf, &id))
        goto out;
    int rc = sgp32_smdp_sqlite_open(conf.database, &db);
    if (!rc && conf.sqlite_full)
        rc = sgp32_smdp_sqlite_synchronous(db, true);
    if (rc) {
        fprintf(stderr, "smdpd: cannot open database %s: %s\n", conf.database, sgp32_err_str(rc));
        goto out;
    }
    sgp32_smdp_server_config sconf = {
        .address = conf.address,
        .address_aliases = id.aliases,
        .alias_count = conf.alias_count,
        .credentials = id.credentials,
        .credential_count = conf.credential_count,
        .trusted_cis = &id.cis,
        .templates = id.templates,
        .template_count = conf.template_count,
        .store = sgp32_smdp_sqlite_store(db),
        .cc_max_failures = conf.cc_max_failures,
        .max_download_attempts = conf.max_download_attempts,
        .session_ttl = conf.session_ttl,
        .on_event = on_event,
        .event_ctx = &events,
    };
    rc = sgp32_smdp_server_init(&sc.smdp, &sconf);
    if (rc) {
        fprintf(stderr, "smdpd: bad SM-DP+ credentials: %s\n", sgp32_err_str(rc));
        goto out;
    }
    for (size_t i = 0; i < conf.inventory_count; i++) {
        size_t added = 0;
        const inventory_conf *v = &conf.inventory[i];
        rc = sgp32_smdp_inventory_add(&sc.smdp, v->type, v->first, v->first_imsi[0] ? v->first_imsi : NULL,
                                      v->count, &added);
        if (rc) {
            fprintf(stderr, "smdpd: inventory %s %s: %s\n", v->type, v->first,
                    rc == SGP32_ERR_NOT_FOUND ? "no template of that type"
                    : rc == SGP32_ERR_BAD_TEXT && v->first_imsi[0]
                        ? "bad numbers (the IMSI range must stay within 6..15 digits, and the template "
                          "needs an EF.IMSI)"
                        : sgp32_err_str(rc));
            goto out;
        }
        if (added)
            sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, NULL, "inventory: %zu new %s profiles", added,
                      conf.inventory[i].type);
    }
    tls_cert = sgp32_app_read_text(conf.tls_certificate);
    tls_key = sgp32_app_read_text(conf.tls_key);
    if (!tls_cert || !tls_key)
        goto out;
    if (conf.es2_client_ca[0] && !(client_ca = sgp32_app_read_text(conf.es2_client_ca)))
        goto out;
    if (check_only) {
        int64_t counts[SGP32_ORDER_STATE_COUNT];
        sgp32_smdp_sqlite_count(db, counts);
        printf("smdpd: config ok: address %s, %zu CI(s), %zu credential(s), %zu template(s)\n", conf.address,
               conf.ci_count, conf.credential_count, conf.template_count);
        for (int s = 0; s < SGP32_ORDER_STATE_COUNT; s++)
            if (counts[s])
                printf("  %-12s %lld\n", sgp32_smdp_order_state_name((sgp32_smdp_order_state)s),
                       (long long)counts[s]);
        status = 0;
        goto out;
    }

    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)conf.port);
    if (inet_pton(AF_INET, conf.listen, &sa.sin_addr) != 1) {
        fprintf(stderr, "smdpd: listen must be an IPv4 address\n");
        goto out;
    }
    /* Signals are taken by sigwait in this thread only. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    if (conf.es2_callback_url[0]) {
        smdpd_callbacks_config cc = {conf.es2_callback_url, conf.es2_callback_ca, conf.es2_callback_token,
                                     (int)conf.es2_callback_attempts, 1.0};
        if (!(events.callbacks = smdpd_callbacks_start(&cc)))
            goto out;
    }

    /* AUTO: epoll on Linux (select would cap the server at FD_SETSIZE connections) */
    /* ES2+ with mutual TLS: a client certificate is asked for (not required: LPAs have none) and,
     * when sent, verified in the handshake; es2_json checks it */
    struct MHD_OptionItem client_options[] = {
        {client_ca ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0, client_ca},
        {client_ca ? MHD_OPTION_NOTIFY_CONNECTION : MHD_OPTION_END,
         (intptr_t)sgp32_app_http_request_client_certificate, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    daemon =
        MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_TLS | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                         handle, &sc, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_HTTPS_MEM_CERT,
                         tls_cert, MHD_OPTION_HTTPS_MEM_KEY, tls_key, MHD_OPTION_THREAD_POOL_SIZE,
                         (unsigned)conf.threads, MHD_OPTION_NOTIFY_COMPLETED, sgp32_app_http_completed, NULL,
                         MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_EXTERNAL_LOGGER, sgp32_app_mhd_log,
                         &mhd_log_ctx, MHD_OPTION_ARRAY, client_options, MHD_OPTION_END);
    if (!daemon) {
        fprintf(stderr, "smdpd: cannot start HTTPS on %s:%d (port in use, or bad TLS certificate/key)\n",
                conf.listen, conf.port);
        goto out;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = info ? info->port : (unsigned)conf.port;
    printf("smdpd: listening on port %u (address %s)\n", port, conf.address);
    fflush(stdout);
    sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, NULL, "smdpd: %s on https://%s:%u, %d threads, database %s",
              conf.address, conf.listen, port, conf.threads, conf.database);
    int sig = 0;
    while (sigwait(&signals, &sig) == 0 && sig == SIGPIPE)
        ;
    sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, NULL, "smdpd: signal %d, stopping", sig);
    status = 0;
out:
    if (daemon)
        MHD_stop_daemon(daemon);
    smdpd_callbacks_stop(events.callbacks);
    sgp32_smdp_sqlite_close(db);
    sgp32_app_free_text(tls_key);
    sgp32_app_free_text(client_ca);
    sgp32_app_free_text(tls_cert);
    free_identity(&id);
    curl_global_cleanup();
    return status;
}

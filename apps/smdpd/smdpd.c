/*
 * smdpd: the SM-DP+ server. A thin host around lib/smdp's sans-I/O core:
 *
 *   HTTPS (libmicrohttpd + GnuTLS, its own thread pool) with the DPtls certificate
 *     POST /gsma/rsp2/es9plus/<function>   ES9+ JSON binding (SGP.22 §6.5)
 *     POST /gsma/rsp2/asn1                 ES9+ ASN.1 binding (SGP.22 §6.6)
 *     POST /gsma/rsp2/es2plus/<function>   ES2+ JSON for operators (bearer token)
 *   SQLite store (orders and sessions survive restarts), profile templates and inventory from
 *   the config file, the operator's per-profile Ki/OPc from profile_data files (memory only, wiped
 *   at exit; smdpd_profile_data.c), ES2+ handleDownloadProgressInfo callbacks to the operator
 *   (libcurl, a worker thread), one log line per request with the transaction, SIGTERM/SIGINT stop
 *   cleanly.
 *
 * Run `smdpd --help` for every config key (smdpd_config.c).
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

#include "app_http.h"
#include "app_support.h"
#include "sgp32/log.h"
#include "sgp32/profile_package.h"
#include "sgp32/smdp_server.h"
#include "sgp32/text.h"
#include "smdpd_callbacks.h"
#include "smdpd_config.h"
#include "smdpd_profile_data.h"

enum {
    DISCARD_MAX = 64 << 20, /* bodies larger than this are refused before they are read */
};

#define ADMIN_PROTOCOL "gsma/rsp/v2.2.0"

static sgp32_log_context mhd_log_ctx = {"smdpd", NULL, NULL}; /* libmicrohttpd's own lines */

/* ------------------------------------------------------------------ ES2+ callbacks */

/* The server's events become handleDownloadProgressInfo bodies for the callback worker. */
typedef struct event_sink {
    const smdpd_config *conf;
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
    const smdpd_config *conf;
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
static bool token_ok(const smdpd_config *conf, struct MHD_Connection *c)
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
    if (!strncmp(url, SMDPD_ES9_PREFIX, strlen(SMDPD_ES9_PREFIX)))
        return es9_json(sc, c, url + strlen(SMDPD_ES9_PREFIX), rq);
    if (!strcmp(url, SMDPD_ASN1_PATH))
        return es9_asn1(sc, c, rq);
    if (!strncmp(url, SMDPD_ES2_PREFIX, strlen(SMDPD_ES2_PREFIX)))
        return es2_json(sc, c, url + strlen(SMDPD_ES2_PREFIX), rq);
    return send_status(c, MHD_HTTP_NOT_FOUND, "1.6", "3.9", "unknown path");
}

/* ------------------------------------------------------------------ main */

typedef struct identity {
    sgp32_buf files[4 * SGP32_SMDP_CREDENTIALS_MAX];
    sgp32_smdp_credentials credentials[SGP32_SMDP_CREDENTIALS_MAX];
    sgp32_ci_set cis;
    sgp32_buf upp[SMDPD_LIST_MAX];
    sgp32_smdp_profile_template templates[SMDPD_LIST_MAX];
    const char *aliases[SMDPD_LIST_MAX];
} identity;

/* The first bytes of path are a PEM block (what curl will load for each callback). */
static bool pem_file(const char *path)
{
    char head[64] = "";
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(head, 1, sizeof(head) - 1, f) : 0;
    if (f)
        fclose(f);
    head[n] = '\0';
    return strstr(head, "-----BEGIN ") != NULL;
}

/* smdpd's client certificate for the callbacks: with its key, over https, both PEM files it can
 * read; checked at start rather than failing every callback later. */
static bool callback_client_ok(const smdpd_config *conf)
{
    const char *cert = conf->es2_callback_client_certificate, *key = conf->es2_callback_client_key;
    if (!cert[0] && !key[0])
        return true;
    if (!cert[0] || !key[0]) {
        fprintf(stderr, "smdpd: es2_callback_client_certificate and es2_callback_client_key go together\n");
        return false;
    }
    if (strncasecmp(conf->es2_callback_url, "https://", 8) != 0) {
        fprintf(stderr, "smdpd: es2_callback_client_certificate needs an https:// es2_callback_url\n");
        return false;
    }
    const char *bad = !pem_file(cert) ? cert : !pem_file(key) ? key : NULL;
    if (bad) {
        fprintf(stderr, "smdpd: %s: cannot read it, or not a PEM file\n", bad);
        return false;
    }
    return true;
}

static int load_identity(const smdpd_config *conf, identity *id)
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
        const smdpd_credential_paths *p = &conf->credentials[i];
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
    for (size_t i = 0; i < SMDPD_LIST_MAX; i++)
        sgp32_buf_free(&id->upp[i]);
    sgp32_ci_set_free(&id->cis);
    sgp32_secure_zero(id->credentials, sizeof(id->credentials));
}

/* ------------------------------------------------------------------ profile data (per-profile keys) */

/* sgp32_smdp_server_config.profile_keys: read-only after start, so any number of threads may ask. */
static int profile_keys(void *ctx, const char *profile_type, const char *iccid,
                        uint8_t ki[SGP32_UPP_AKA_KEY_LEN], uint8_t opc[SGP32_UPP_AKA_KEY_LEN])
{
    const smdpd_profile_data *pd = ctx;
    if (!smdpd_profile_data_has_type(pd, profile_type))
        return SGP32_SMDP_KEYS_TEMPLATE;
    const smdpd_profile_entry *e = smdpd_profile_data_find(pd, iccid);
    if (!e || strcmp(pd->files[e->file].type, profile_type) != 0)
        return SGP32_SMDP_KEYS_MISSING;
    memcpy(ki, e->ki, SGP32_UPP_AKA_KEY_LEN);
    memcpy(opc, e->opc, SGP32_UPP_AKA_KEY_LEN);
    return SGP32_SMDP_KEYS_FOUND;
}

/* Read every profile_data file (mode, format, duplicates) and check that each TYPE has a template that
 * takes keys and no inventory line (whose profiles would have none). Before the database is opened. */
static int load_profile_data(const smdpd_config *conf, const identity *id, smdpd_profile_data *pd)
{
    char error[SMDPD_PROFILE_DATA_ERROR_LEN];
    for (size_t i = 0; i < conf->profile_data_count; i++) {
        const smdpd_template_conf *p = &conf->profile_data[i];
        const sgp32_smdp_profile_template *t = NULL;
        for (size_t k = 0; k < conf->template_count && !t; k++)
            if (!strcmp(id->templates[k].profile_type, p->type))
                t = &id->templates[k];
        if (!t) {
            fprintf(stderr, "smdpd: profile_data %s %s: no template of that type\n", p->type, p->path);
            return -1;
        }
        sgp32_upp_aka aka;
        int rc = sgp32_upp_find_aka(t->upp.data, t->upp.len, &aka);
        if (rc) {
            fprintf(
                stderr, "smdpd: profile_data %s: the template cannot take per-profile keys: %s\n", p->type,
                rc == SGP32_ERR_ASN1_MISSING ? "no akaParameter with an algoParameter (key and opc)"
                : rc == SGP32_ERR_ASN1_SIZE  ? "a key or opc that is not 16 bytes"
                : rc == SGP32_ERR_UNSUPPORTED
                    ? "an algorithm other than Milenage or the USIM test algorithm, or NAAs with different "
                      "keys (one Ki/OPc per profile cannot fill them)"
                    : sgp32_err_str(rc));
            return -1;
        }
        for (size_t k = 0; k < conf->inventory_count; k++)
            if (!strcmp(conf->inventory[k].type, p->type)) {
                fprintf(stderr,
                        "smdpd: inventory %s %s: type %s takes its profiles from profile_data (an inventory "
                        "line would add profiles without keys)\n",
                        conf->inventory[k].type, conf->inventory[k].first, p->type);
                return -1;
            }
        if (smdpd_profile_data_load(pd, p->type, p->path, error, sizeof(error))) {
            fprintf(stderr, "smdpd: %s\n", error);
            return -1;
        }
        bool first_of_type = true;
        for (size_t k = 0; k < i; k++)
            first_of_type &= strcmp(conf->profile_data[k].type, p->type) != 0;
        if (aka.algorithm == SGP32_UPP_AKA_USIM_TEST_ALGORITHM && first_of_type)
            sgp32_log(SGP32_LOG_WARN, SGP32_LOG_APP, NULL,
                      "profile_data %s: the template uses the USIM test algorithm (TS 34.108), not Milenage: "
                      "Ki is used, OPc ignored; for test networks only",
                      p->type);
    }
    if (smdpd_profile_data_index(pd, error, sizeof(error))) {
        fprintf(stderr, "smdpd: %s\n", error);
        return -1;
    }
    return 0;
}

/* Every profile of the files into the inventory, in one transaction: a new ICCID becomes an Available
 * order of its file's type with its IMSI; one stored already must be of that type with that IMSI (else
 * its profile would carry keys the operator's HSS holds for another IMSI). Counts and file names are
 * logged, never a key. */
static int add_profile_data(const sgp32_smdp_server *srv, const smdpd_profile_data *pd)
{
    const sgp32_smdp_store *store = &srv->config.store;
    size_t added[SMDPD_LIST_MAX] = {0};
    int rc = store->tx_begin ? store->tx_begin(store->ctx) : SGP32_OK;
    if (rc) {
        fprintf(stderr, "smdpd: profile_data: database: %s\n", sgp32_err_str(rc));
        return -1;
    }
    for (size_t i = 0; i < pd->count && !rc; i++) {
        const smdpd_profile_entry *e = &pd->entries[i];
        const smdpd_profile_file *f = &pd->files[e->file];
        size_t one = 0;
        rc = sgp32_smdp_inventory_add(srv, f->type, e->iccid, e->imsi, 1, &one);
        if (rc) {
            fprintf(stderr, "smdpd: %s:%u: %s\n", f->path, e->line,
                    rc == SGP32_ERR_BAD_TEXT ? "the template has no EF.IMSI for the IMSI"
                                             : sgp32_err_str(rc));
            break;
        }
        added[e->file] += one;
        if (one)
            continue;
        sgp32_smdp_order o;
        rc = store->order_get(store->ctx, e->iccid, &o);
        if (!rc && (strcmp(o.profile_type, f->type) != 0 || strcmp(o.imsi, e->imsi) != 0)) {
            fprintf(
                stderr,
                "smdpd: %s:%u: ICCID %s is stored already as a '%s' profile with IMSI '%s', not %s %s: fix "
                "the file or the database\n",
                f->path, e->line, e->iccid, o.profile_type, o.imsi, f->type, e->imsi);
            rc = SGP32_ERR_STATE;
        } else if (rc) {
            fprintf(stderr, "smdpd: %s:%u: database: %s\n", f->path, e->line, sgp32_err_str(rc));
        }
    }
    int end = store->tx_end ? store->tx_end(store->ctx, rc == SGP32_OK) : SGP32_OK;
    if (!rc && end) {
        fprintf(stderr, "smdpd: profile_data: database: %s\n", sgp32_err_str(end));
        rc = end;
    }
    if (rc)
        return -1;
    for (size_t i = 0; i < pd->file_count; i++)
        sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, NULL,
                  "profile_data %s: %s: %zu profiles with keys (%zu new)", pd->files[i].type,
                  pd->files[i].path, pd->files[i].count, added[i]);
    return 0;
}

int main(int argc, char **argv)
{
    static smdpd_config conf;
    static event_sink events = {.conf = &conf};
    sgp32_app_init("smdpd");
    sgp32_app_server_allocator();
    smdpd_config_defaults(&conf);
    bool check_only = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            smdpd_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            if (smdpd_config_load(&conf, argv[++i]))
                return 2;
        } else if (!strcmp(argv[i], "--set") && i + 1 < argc) {
            char line[2048];
            snprintf(line, sizeof(line), "%s", argv[++i]);
            int rc = smdpd_config_line(&conf, line, "--set");
            sgp32_secure_zero(line, sizeof(line)); /* es2_token and the like are secrets */
            if (rc)
                return 2;
        } else if (!strcmp(argv[i], "--check")) {
            check_only = true;
        } else {
            fprintf(stderr, "smdpd: unknown argument '%s'\n\n", argv[i]);
            smdpd_usage(stderr);
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
    if (!callback_client_ok(&conf))
        return 2;
    sgp32_log_set_level_all((sgp32_log_level)sgp32_log_level_parse(conf.log_level));

    int status = 1;
    static identity id;
    sgp32_smdp_sqlite *db = NULL;
    struct MHD_Daemon *daemon = NULL;
    char *tls_cert = NULL, *tls_key = NULL, *client_ca = NULL;
    static server_ctx sc;
    static smdpd_profile_data keys; /* wiped at out */
    smdpd_profile_data_init(&keys);
    sc.conf = &conf;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (load_identity(&conf, &id) || load_profile_data(&conf, &id, &keys))
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
        .profile_keys = conf.profile_data_count ? profile_keys : NULL,
        .profile_keys_ctx = &keys,
    };
    rc = sgp32_smdp_server_init(&sc.smdp, &sconf);
    if (rc) {
        fprintf(stderr, "smdpd: bad SM-DP+ credentials: %s\n", sgp32_err_str(rc));
        goto out;
    }
    for (size_t i = 0; i < conf.inventory_count; i++) {
        size_t added = 0;
        const smdpd_inventory_conf *v = &conf.inventory[i];
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
    if (add_profile_data(&sc.smdp, &keys))
        goto out;
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
        if (keys.file_count)
            printf("smdpd: profile_data: %zu profiles with keys in %zu file(s)\n", keys.count,
                   keys.file_count);
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
        smdpd_callbacks_config cc = {conf.es2_callback_url,
                                     conf.es2_callback_ca,
                                     conf.es2_callback_token,
                                     conf.es2_callback_client_certificate,
                                     conf.es2_callback_client_key,
                                     (int)conf.es2_callback_attempts,
                                     1.0,
                                     &sc.smdp.config.store};
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
    smdpd_profile_data_free(&keys); /* every Ki and OPc wiped */
    curl_global_cleanup();
    return status;
}

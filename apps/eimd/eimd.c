/*
 * eimd: the eIM (eSIM IoT remote Manager, SGP.32). A thin host around lib/eim's sans-I/O core
 * (include/sgp32/eim_server.h):
 *
 *   HTTPS (libmicrohttpd + GnuTLS, its own thread pool) with the eIM's TLS certificate
 *     POST /gsma/rsp2/asn1               ESipa, ASN.1 binding (SGP.32 §6.3)
 *     POST /gsma/rsp2/esipa/<function>   ESipa, JSON binding (SGP.32 §6.4)
 *     /api/v1/...                        fleet REST API (bearer tokens, docs/eim-api.yaml)
 *     GET / and /console                 a static web console over the REST API
 *   SQLite store, the ES9+' leg to SM-DP+s (es9_client.h, TLS always verified), a background
 *   thread that forwards notifications, expires operations and removes expired relay sessions,
 *   a push worker (eimd_push.c) that POSTs TransferEimPackage to IPAs with a push address (mutual
 *   TLS: the eIM's certificate, the IPA's verified), one log line per request, SIGTERM/SIGINT stop
 *   cleanly.
 *
 * Run `eimd --help` for every config key; docs/eimd.md is the operator guide.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>

#include "app_http.h"
#include "eimd.h"
#include "sgp32/es9_client.h"
#include "sgp32/log.h"
#include "sgp32/text.h"

enum {
    DISCARD_MAX = 64 << 20, /* a body announced larger is refused at once, never read */
    QUERY_MAX = 4096,
    FORWARD_BATCH = 100,
    ES9_TIMEOUT_MS = 20000,
};

#define ADMIN_PROTOCOL "gsma/rsp/v2.1.0"
#define ASN1_PATH      "/gsma/rsp2/asn1"
#define ESIPA_PREFIX   "/gsma/rsp2/esipa/"
#define API_PREFIX     "/api/v1"
#define ASN1_TYPE      "application/x-gsma-rsp-asn1"
#define JSON_TYPE      "application/json;charset=UTF-8"
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

static sgp32_log_context log_ctx = {"eimd", NULL, NULL};

/* ------------------------------------------------------------------ ES9+' leg */

typedef struct es9_leg {
    sgp32_tls_trust trust;
} es9_leg;

/* One ES9+ exchange with an SM-DP+: a session per call (the relay's calls of one download are
 * minutes apart and may hit different eimd threads). */
static int es9_call(void *ctx, const char *smdp_address, const uint8_t *request, size_t len,
                    sgp32_buf *response, sgp32_eim_es9_status *status)
{
    const es9_leg *leg = ctx;
    memset(status, 0, sizeof(*status));
    uint32_t tag = len >= 2 && request[0] == 0xBF ? 0xBF00u | request[1] : 0;
    const char *function = sgp32_es9_function_name(tag);
    if (!function)
        function = "?";
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* below the IPA's own HTTP timeout (30 s by default), so that it gets the relay's error answer */
    sgp32_es9_config config = {
        .smdp_address = smdp_address, .tls = leg->trust, .limits = {.timeout_ms = ES9_TIMEOUT_MS}};
    sgp32_es9_result result;
    memset(&result, 0, sizeof(result));
    sgp32_es9_session *session = NULL;
    int rc = sgp32_es9_session_open(&config, &session);
    if (!rc)
        rc = sgp32_es9_session_call(session, request, len, response, &result);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    if (rc) {
        snprintf(status->message, sizeof(status->message), "%.159s",
                 result.https.message[0] ? result.https.message : sgp32_err_str(rc));
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_APP, &log_ctx, "ES9+ %s to %s failed: %s (HTTP %ld, %.1f ms)",
                  function, smdp_address, status->message, result.https.http_status, ms);
        goto out;
    }
    if (result.status == SGP32_ES9_FAILED || result.status == SGP32_ES9_EXPIRED) {
        /* A spec outcome, not a transport failure: SGP32_OK with the subject set. */
        snprintf(status->subject_code, sizeof(status->subject_code), "%s",
                 result.subject_code[0] ? result.subject_code : "1.2");
        snprintf(status->reason_code, sizeof(status->reason_code), "%s",
                 result.reason_code[0] ? result.reason_code : "4.2");
        snprintf(status->message, sizeof(status->message), "%s%.150s",
                 result.status == SGP32_ES9_EXPIRED ? "Expired: " : "", result.message);
        sgp32_buf_reset(response);
        sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, &log_ctx,
                  "ES9+ %s to %s -> HTTP %ld Failed %s/%s %s (%.1f ms)", function, smdp_address,
                  result.https.http_status, status->subject_code, status->reason_code, result.message, ms);
    } else {
        sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, &log_ctx, "ES9+ %s to %s -> HTTP %ld %s (%.1f ms)", function,
                  smdp_address, result.https.http_status,
                  result.status == SGP32_ES9_EXECUTED_WITH_WARNING ? "Executed-WithWarning"
                  : result.status == SGP32_ES9_STATUS_NONE         ? "taken"
                                                                   : "Executed-Success",
                  ms);
    }
out:
    sgp32_es9_session_close(session);
    return rc;
}

/* ------------------------------------------------------------------ background: forwarding, expiry */

typedef struct background {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop, running;
    pthread_t thread;
    const sgp32_eim_server *srv;
    long interval;
} background;

static void background_tick(background *b)
{
    const sgp32_eim_server *srv = b->srv;
    size_t forwarded = 0, expired = 0, purged = 0;
    int rc = sgp32_eim_forward_notifications(srv, FORWARD_BATCH, &forwarded);
    if (rc)
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_APP, &log_ctx, "notification forwarding: %s", sgp32_err_str(rc));
    if (forwarded)
        sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, &log_ctx, "forwarded %zu notification(s) to SM-DP+s",
                  forwarded);
    rc = srv->config.store.op_expire(srv->config.store.ctx, sgp32_eim_now(srv), &expired);
    if (rc)
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_APP, &log_ctx, "operation expiry: %s", sgp32_err_str(rc));
    if (expired)
        sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, &log_ctx, "%zu operation(s) expired", expired);
    /* relay sessions nobody will look up again (their download is over or abandoned) */
    if (srv->config.store.relay_purge &&
        (rc = srv->config.store.relay_purge(srv->config.store.ctx, sgp32_eim_now(srv), &purged)))
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_APP, &log_ctx, "relay session purge: %s", sgp32_err_str(rc));
    if (purged)
        sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, &log_ctx, "%zu expired relay session(s) removed", purged);
}

static void *background_thread(void *arg)
{
    background *b = arg;
    pthread_mutex_lock(&b->lock);
    while (!b->stop) {
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += b->interval;
        while (!b->stop && pthread_cond_timedwait(&b->cond, &b->lock, &deadline) != ETIMEDOUT)
            ;
        if (b->stop)
            break;
        pthread_mutex_unlock(&b->lock);
        background_tick(b);
        pthread_mutex_lock(&b->lock);
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

static int background_start(background *b, const sgp32_eim_server *srv, long interval)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->cond, &attr);
    pthread_condattr_destroy(&attr);
    b->srv = srv;
    b->interval = interval;
    b->running = pthread_create(&b->thread, NULL, background_thread, b) == 0;
    return b->running ? 0 : -1;
}

static void background_stop(background *b)
{
    if (!b->running)
        return;
    pthread_mutex_lock(&b->lock);
    b->stop = true;
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->lock);
    pthread_join(b->thread, NULL);
    pthread_cond_destroy(&b->cond);
    pthread_mutex_destroy(&b->lock);
    b->running = false;
}

/* ------------------------------------------------------------------ HTTP */

typedef struct server_ctx {
    const eimd_config *conf;
    sgp32_eim_server srv;
    sgp32_eim_rest_config rest;
    eimd_push *push; /* NULL: push_interval 0 */
} server_ctx;

typedef enum route {
    ROUTE_OTHER = 0,
    ROUTE_ASN1,
    ROUTE_ESIPA_JSON,
    ROUTE_REST,
    ROUTE_CONSOLE,
} route;

typedef struct request {
    sgp32_app_http_request http; /* first: the body and its cap (app_http.h) */
    route route;
    size_t received;
    struct timespec start;
} request;
_Static_assert(offsetof(request, http) == 0,
               "sgp32_app_http_completed frees a request through its first member");

/* What one request answers, sent and logged in one place. */
typedef struct reply {
    unsigned status;
    const char *type;
    sgp32_buf body;
    const char *static_body; /* console assets (persistent) */
    bool www_authenticate;
    const char *allow;
    char what[96]; /* "ESipa getEimPackage", "REST POST /api/v1/operations" */
    char outcome[256];
    char eid[SGP32_EIM_EID_DIGITS + 1];
    int64_t operation_id;
} reply;

static void reply_init(reply *r, request *rq)
{
    memset(r, 0, sizeof(*r));
    /* REST answers can list thousands of operations; ESipa answers carry a BPP */
    sgp32_buf_init(&r->body, rq->route == ROUTE_REST ? 64u << 20 : 16u << 20);
}

static double elapsed_ms(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) * 1e3 + (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

static const char *function_name(uint32_t tag)
{
    switch (tag) {
    case 0xBF39: return "initiateAuthentication";
    case 0xBF3B: return "authenticateClient";
    case 0xBF3A: return "getBoundProfilePackage";
    case 0xBF41: return "cancelSession";
    case 0xBF3D: return "handleNotification";
    case 0xBF4E: return "transferEimPackage";
    case 0xBF4F: return "getEimPackage";
    case 0xBF50: return "provideEimPackageResult";
    default: return NULL;
    }
}

static void set_text(reply *r, unsigned status, const char *text)
{
    r->status = status;
    r->type = "text/plain;charset=UTF-8";
    sgp32_buf_reset(&r->body);
    sgp32_buf_append(&r->body, text, strlen(text));
    sgp32_buf_append_byte(&r->body, '\n');
    snprintf(r->outcome, sizeof(r->outcome), "%s", text);
}

static void set_json(reply *r, unsigned status, json_t *value)
{
    r->status = status;
    r->type = JSON_TYPE;
    sgp32_buf_reset(&r->body);
    char *text = value ? json_dumps(value, JSON_COMPACT) : NULL;
    if (text)
        sgp32_buf_append(&r->body, text, strlen(text));
    free(text);
    json_decref(value);
}

/* A transport-level refusal in the shape of the route: REST error object, ESipa JSON header with
 * Failed, an empty ASN.1 body, plain text elsewhere. */
static void set_problem(reply *r, route rt, unsigned status, const char *code, const char *message)
{
    snprintf(r->outcome, sizeof(r->outcome), "%s", message);
    switch (rt) {
    case ROUTE_REST:
        set_json(r, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message));
        break;
    case ROUTE_ESIPA_JSON:
        set_json(r, status,
                 json_pack("{s:{s:{s:s,s:{s:s,s:s,s:s}}}}", "header", "functionExecutionStatus", "status",
                           "Failed", "statusCodeData", "subjectCode", "1.6", "reasonCode",
                           status == 404 ? "3.9" : "2.1", "message", message));
        break;
    case ROUTE_ASN1:
        r->status = status;
        r->type = NULL;
        sgp32_buf_reset(&r->body);
        break;
    default: set_text(r, status, message); break;
    }
}

static bool header_is(struct MHD_Connection *c, const char *name, const char *value)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    if (!v)
        return false;
    size_t n = strlen(value);
    /* the exact media type, optionally followed by parameters (";charset=UTF-8") */
    return strncasecmp(v, value, n) == 0 && (v[n] == '\0' || v[n] == ';' || v[n] == ' ');
}

static bool admin_protocol_ok(struct MHD_Connection *c)
{
    const char *admin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Admin-Protocol");
    return admin && strncmp(admin, "gsma/rsp/v", 10) == 0;
}

static void esipa_outcome(reply *r, const sgp32_eim_esipa_info *info, const char *binding,
                          const char *function)
{
    const char *name = function ? function : function_name(info->function_tag);
    snprintf(r->what, sizeof(r->what), "ESipa %s %s", binding, name ? name : "?");
    snprintf(r->outcome, sizeof(r->outcome), "%s", info->outcome);
    snprintf(r->eid, sizeof(r->eid), "%s", info->eid);
    r->operation_id = info->operation_id;
}

/* A result came in: the eUICC's queue moved on, its next package may be pushed. */
static bool result_taken(const sgp32_eim_esipa_info *info)
{
    return info->operation_id && (info->function_tag == 0xBF50 || info->function_tag == 0xBF3D);
}

static void esipa_asn1(server_ctx *sc, struct MHD_Connection *c, const char *method, request *rq, reply *r)
{
    snprintf(r->what, sizeof(r->what), "ESipa asn1");
    if (strcmp(method, MHD_HTTP_METHOD_POST)) {
        r->allow = "POST";
        {
            set_problem(r, rq->route, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", "only POST");
            return;
        }
    }
    if (!admin_protocol_ok(c)) {
        set_problem(r, rq->route, MHD_HTTP_BAD_REQUEST, "bad_request",
                    "X-Admin-Protocol gsma/rsp/vX.Y.Z required");
        return;
    }
    if (!header_is(c, MHD_HTTP_HEADER_CONTENT_TYPE, ASN1_TYPE)) {
        set_problem(r, rq->route, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                    "Content-Type must be " ASN1_TYPE);
        return;
    }
    sgp32_eim_esipa_info info;
    memset(&info, 0, sizeof(info));
    int rc = sgp32_eim_esipa_handle(&sc->srv, rq->http.body.data, rq->http.body.len, &r->body, &info);
    esipa_outcome(r, &info, "asn1", NULL);
    if (rc) {
        snprintf(r->outcome, sizeof(r->outcome), "internal error: %s", sgp32_err_str(rc));
        r->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        sgp32_buf_reset(&r->body);
        return;
    }
    r->status = info.http_status == 204   ? MHD_HTTP_NO_CONTENT
                : info.http_status == 400 ? MHD_HTTP_BAD_REQUEST
                                          : MHD_HTTP_OK;
    if (result_taken(&info))
        eimd_push_signal(sc->push);
    if (r->status != MHD_HTTP_OK)
        sgp32_buf_reset(&r->body);
    r->type = r->status == MHD_HTTP_OK ? ASN1_TYPE : NULL;
}

static bool function_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > 40)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
            return false;
    return true;
}

static void esipa_json(server_ctx *sc, struct MHD_Connection *c, const char *url, const char *method,
                       request *rq, reply *r)
{
    const char *function = url + strlen(ESIPA_PREFIX);
    snprintf(r->what, sizeof(r->what), "ESipa json %.40s", function);
    if (!function_name_ok(function)) {
        set_problem(r, rq->route, MHD_HTTP_NOT_FOUND, "not_found", "unknown ESipa function");
        return;
    }
    if (strcmp(method, MHD_HTTP_METHOD_POST)) {
        r->allow = "POST";
        {
            set_problem(r, rq->route, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", "only POST");
            return;
        }
    }
    if (!admin_protocol_ok(c)) {
        set_problem(r, rq->route, MHD_HTTP_BAD_REQUEST, "bad_request",
                    "X-Admin-Protocol gsma/rsp/vX.Y.Z required");
        return;
    }
    if (!header_is(c, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json")) {
        set_problem(r, rq->route, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                    "Content-Type must be application/json");
        return;
    }
    sgp32_eim_esipa_info info;
    memset(&info, 0, sizeof(info));
    int rc = sgp32_eim_esipa_json_handle(&sc->srv, function, (const char *)rq->http.body.data,
                                         rq->http.body.len, &r->body, &info);
    esipa_outcome(r, &info, "json", function);
    if (rc) {
        char outcome[sizeof(r->outcome)];
        snprintf(outcome, sizeof(outcome), "internal error: %s", sgp32_err_str(rc));
        {
            set_problem(r, rq->route, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal_error", outcome);
            return;
        }
    }
    if (info.http_status == 204) {
        r->status = MHD_HTTP_NO_CONTENT;
        sgp32_buf_reset(&r->body);
    } else if (info.http_status == 400) {
        char outcome[sizeof(r->outcome)];
        snprintf(outcome, sizeof(outcome), "%s", info.outcome[0] ? info.outcome : "not an ESipa request");
        set_problem(r, rq->route, MHD_HTTP_BAD_REQUEST, "bad_request", outcome);
    } else {
        r->status = MHD_HTTP_OK;
        r->type = JSON_TYPE;
    }
    if (result_taken(&info))
        eimd_push_signal(sc->push);
}

/* libmicrohttpd must not decode URLs (MHD_OPTION_UNESCAPE_CALLBACK): the core decodes path parameters and
 * query values itself, once, so a %25 in a value cannot turn into a second escape. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

typedef struct query_builder {
    sgp32_buf buf;
    int rc;
} query_builder;

static enum MHD_Result query_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    query_builder *qb = cls;
    if (!qb->rc && qb->buf.len)
        qb->rc = sgp32_buf_append_byte(&qb->buf, '&');
    if (!qb->rc)
        qb->rc = sgp32_buf_append(&qb->buf, key, strlen(key));
    if (!qb->rc && value) {
        qb->rc = sgp32_buf_append_byte(&qb->buf, '=');
        if (!qb->rc)
            qb->rc = sgp32_buf_append(&qb->buf, value, strlen(value));
    }
    return qb->rc ? MHD_NO : MHD_YES;
}

static void rest_error_code(const sgp32_buf *body, char *out, size_t size)
{
    json_t *root = json_loadb((const char *)body->data, body->len, 0, NULL);
    const char *code = json_string_value(json_object_get(json_object_get(root, "error"), "code"));
    if (code)
        snprintf(out, size, "%.64s", code);
    json_decref(root);
}

static void rest(server_ctx *sc, struct MHD_Connection *c, const char *url, const char *method, request *rq,
                 reply *r)
{
    snprintf(r->what, sizeof(r->what), "REST %.8s %.70s", method, url);
    query_builder qb = {.rc = SGP32_OK};
    sgp32_buf_init(&qb.buf, QUERY_MAX);
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, query_arg, &qb);
    if (!qb.rc)
        qb.rc = sgp32_buf_append_byte(&qb.buf, 0);
    if (qb.rc) {
        sgp32_buf_free(&qb.buf);
        {
            set_problem(r, rq->route, MHD_HTTP_URI_TOO_LONG, "invalid_parameter", "query string too long");
            return;
        }
    }
    sgp32_eim_rest_request req = {
        .method = method,
        .path = url,
        .query = qb.buf.len > 1 ? (const char *)qb.buf.data : NULL,
        .authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
        .idempotency_key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key"),
        .body = (const char *)rq->http.body.data,
        .body_len = rq->http.body.len,
    };
    sgp32_eim_rest_response resp;
    sgp32_eim_rest_response_init(&resp);
    int rc = sgp32_eim_rest_handle(&sc->srv, &sc->rest, &req, &resp);
    sgp32_buf_free(&qb.buf);
    if (rc && !resp.status) {
        char outcome[sizeof(r->outcome)];
        snprintf(outcome, sizeof(outcome), "internal error: %s", sgp32_err_str(rc));
        set_problem(r, rq->route, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal_error", outcome);
        goto out;
    }
    if (rc)
        snprintf(r->outcome, sizeof(r->outcome), "internal error: %s", sgp32_err_str(rc));
    r->status = (unsigned)resp.status;
    r->type = resp.body.len ? JSON_TYPE : NULL;
    r->www_authenticate = resp.status == MHD_HTTP_UNAUTHORIZED;
    if (resp.status >= 400 && !rc) /* the error code for the log line: {"error":{"code":...}} */
        rest_error_code(&resp.body, r->outcome, sizeof(r->outcome));
    /* an operation created, a device or its push address registered: push without waiting */
    if (resp.status < 300 && strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
        eimd_push_signal(sc->push);
    /* hand the body over instead of copying it (a bulk listing can be megabytes) */
    sgp32_buf tmp = r->body;
    r->body = resp.body;
    resp.body = tmp;
out:
    sgp32_eim_rest_response_free(&resp);
}

static void console(const char *url, const char *method, reply *r)
{
    snprintf(r->what, sizeof(r->what), "console %.8s %.70s", method, url);
    const eimd_asset *a = eimd_console_asset(url);
    if (!a) {
        set_text(r, MHD_HTTP_NOT_FOUND, "not found");
        return;
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
        r->allow = "GET, HEAD";
        {
            set_text(r, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET");
            return;
        }
    }
    r->status = MHD_HTTP_OK;
    r->type = a->content_type;
    r->static_body = a->body;
}

static route route_of(const char *url)
{
    if (!strcmp(url, ASN1_PATH))
        return ROUTE_ASN1;
    if (!strncmp(url, ESIPA_PREFIX, strlen(ESIPA_PREFIX)))
        return ROUTE_ESIPA_JSON;
    if (!strncmp(url, API_PREFIX, strlen(API_PREFIX)) &&
        (url[strlen(API_PREFIX)] == '/' || !url[strlen(API_PREFIX)]))
        return ROUTE_REST;
    if (eimd_console_asset(url))
        return ROUTE_CONSOLE;
    return ROUTE_OTHER;
}

static enum MHD_Result send_reply(struct MHD_Connection *c, request *rq, reply *r)
{
    struct MHD_Response *resp;
    if (r->static_body)
        resp = MHD_create_response_from_buffer(strlen(r->static_body), (void *)r->static_body,
                                               MHD_RESPMEM_PERSISTENT);
    else
        resp = MHD_create_response_from_buffer(r->body.len, r->body.data, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    if (r->type && (r->body.len || r->static_body))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->type);
    if (rq->route == ROUTE_ASN1 || rq->route == ROUTE_ESIPA_JSON)
        MHD_add_response_header(resp, "X-Admin-Protocol", ADMIN_PROTOCOL);
    if (r->www_authenticate)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"eimd\"");
    if (r->allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    if (rq->route == ROUTE_REST)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (rq->route == ROUTE_CONSOLE) {
        /* No inline script or style, no framing, nothing from elsewhere. */
        MHD_add_response_header(
            resp, "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
            "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    }
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = MHD_queue_response(c, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void log_reply(struct MHD_Connection *c, const request *rq, const reply *r)
{
    char client[INET6_ADDRSTRLEN] = "?";
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, client,
                      sizeof(client));
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, client,
                      sizeof(client));
    }
    char txid[2 * SGP32_EIM_TXID_LEN + 1] = "";
    if (r->operation_id > 0) {
        uint8_t t[SGP32_EIM_TXID_LEN];
        sgp32_eim_transaction_id(r->operation_id, t);
        sgp32_hex_encode(t, sizeof(t), txid);
    }
    sgp32_log_context ctx = {"eimd", r->eid[0] ? r->eid : NULL, txid[0] ? txid : NULL};
    sgp32_log_level level = r->status >= 500                                         ? SGP32_LOG_WARN
                            : rq->route == ROUTE_CONSOLE || rq->route == ROUTE_OTHER ? SGP32_LOG_DEBUG
                                                                                     : SGP32_LOG_INFO;
    sgp32_log(level, SGP32_LOG_APP, &ctx, "%s from %s -> HTTP %u%s%s (%.1f ms)", r->what, client, r->status,
              r->outcome[0] ? " " : "", r->outcome, elapsed_ms(&rq->start));
}

static enum MHD_Result answer(struct MHD_Connection *c, request *rq, reply *r)
{
    enum MHD_Result ret = send_reply(c, rq, r);
    log_reply(c, rq, r);
    sgp32_buf_free(&r->body);
    return ret;
}

static enum MHD_Result too_large(struct MHD_Connection *c, request *rq, const char *url, const char *method)
{
    reply r;
    reply_init(&r, rq);
    snprintf(r.what, sizeof(r.what), "%.8s %.80s", method, url);
    set_problem(&r, rq->route, MHD_HTTP_CONTENT_TOO_LARGE, "body_too_large", "request body too large");
    return answer(c, rq, &r);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_size,
                              void **con_cls)
{
    (void)version;
    server_ctx *sc = cls;
    request *rq = *con_cls;
    if (!rq) {
        route rt = route_of(url);
        size_t limit = rt == ROUTE_REST                             ? SGP32_EIM_REST_BODY_MAX
                       : rt == ROUTE_ASN1 || rt == ROUTE_ESIPA_JSON ? sc->conf->max_body
                                                                    : 4096;
        rq = sgp32_app_http_request_new(con_cls, sizeof(*rq), limit);
        if (!rq)
            return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &rq->start);
        rq->route = rt;
        unsigned long long announced = sgp32_app_http_content_length(&rq->http, c);
        /* Refuse before reading when the client waits for "100 Continue" or the size is absurd; else
         * the body is read and dropped (an early answer would reach a client still sending as a
         * connection reset). */
        const char *expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
        if (announced > DISCARD_MAX || (rq->http.too_large && expect && !strcasecmp(expect, "100-continue")))
            return too_large(c, rq, url, method);
        return MHD_YES;
    }
    if (*upload_size) {
        rq->received += *upload_size;
        if (rq->received > DISCARD_MAX)
            return MHD_NO; /* a chunked body without end: drop the connection */
        sgp32_app_http_append(&rq->http, upload_data, upload_size);
        return MHD_YES;
    }
    if (rq->http.too_large)
        return too_large(c, rq, url, method);
    reply r;
    reply_init(&r, rq);
    switch (rq->route) {
    case ROUTE_ASN1: esipa_asn1(sc, c, method, rq, &r); break;
    case ROUTE_ESIPA_JSON: esipa_json(sc, c, url, method, rq, &r); break;
    case ROUTE_REST: rest(sc, c, url, method, rq, &r); break;
    case ROUTE_CONSOLE: console(url, method, &r); break;
    default:
        snprintf(r.what, sizeof(r.what), "%.8s %.80s", method, url);
        set_text(&r, MHD_HTTP_NOT_FOUND, "not found");
        break;
    }
    return answer(c, rq, &r);
}

/* ------------------------------------------------------------------ startup */

typedef struct identity {
    sgp32_ec_private_key signing_key;
    sgp32_buf signing_certificate; /* DER, may be empty */
    sgp32_buf tls_trust;           /* DER: trustedPublicKeyDataTls */
    sgp32_ci_set cis;
    sgp32_eim_token tokens[EIMD_TOKENS_MAX];
    char *tls_cert_pem, *tls_key_pem;
    char *push_cert_pem, *push_key_pem; /* NULL: the tls_* ones */
    sgp32_buf push_ca_pem;              /* empty: the system CAs */
    sgp32_buf smdp_ca_der;              /* one DER smdp_ca */
    char smdp_ca_file[64];              /* several: a private temporary PEM bundle, removed at exit */
} identity;

static int load_cis(const eimd_config *conf, identity *id)
{
    for (size_t i = 0; i < conf->ci_count; i++) {
        sgp32_buf der;
        int rc = sgp32_app_read_certificate(conf->ci[i], &der);
        if (!rc && (rc = sgp32_ci_set_add(&id->cis, der.data, der.len)) != SGP32_OK)
            fprintf(stderr, "eimd: %s: not a usable CI certificate (%s)\n", conf->ci[i], sgp32_err_str(rc));
        sgp32_buf_free(&der);
        if (rc)
            return rc;
    }
    return SGP32_OK;
}

static int load_signing(const eimd_config *conf, identity *id)
{
    int rc = sgp32_app_read_key(conf->signing_key, &id->signing_key);
    if (rc || !conf->signing_certificate[0])
        return rc;
    if ((rc = sgp32_app_read_certificate(conf->signing_certificate, &id->signing_certificate)))
        return rc;
    /* eUICCs verify packages with the certificate's key: a mismatch would fail on every device. */
    sgp32_certificate cert;
    sgp32_ec_public_key pub;
    rc = sgp32_cert_parse(id->signing_certificate.data, id->signing_certificate.len, &cert);
    if (!rc)
        rc = sgp32_ec_public_from_private(&id->signing_key, &pub);
    if (!rc &&
        (pub.curve != cert.public_key.curve || memcmp(pub.point, cert.public_key.point, sizeof(pub.point)))) {
        fprintf(stderr, "eimd: signing_certificate %s does not hold the key of signing_key %s\n",
                conf->signing_certificate, conf->signing_key);
        rc = SGP32_ERR_CRYPTO_BAD_KEY;
    }
    if (!rc && strcmp(cert.subject.common_name, conf->eim_id))
        fprintf(stderr, "eimd: warning: signing_certificate CN '%s' is not eim_id '%s'\n",
                cert.subject.common_name, conf->eim_id);
    return rc;
}

static int load_tls(const eimd_config *conf, identity *id)
{
    id->tls_cert_pem = sgp32_app_read_text(conf->tls_certificate);
    id->tls_key_pem = sgp32_app_read_text(conf->tls_key);
    if (!id->tls_cert_pem || !id->tls_key_pem)
        return SGP32_ERR_IO;
    int rc = sgp32_app_read_certificate(
        conf->tls_trust_certificate[0] ? conf->tls_trust_certificate : conf->tls_certificate, &id->tls_trust);
    if (rc)
        return rc;
    /* IPAs check the host name: say so now rather than after the fleet fails to connect. */
    if (!conf->tls_trust_certificate[0]) {
        sgp32_certificate cert;
        char host[SGP32_EIM_ADDRESS_MAX + 1];
        snprintf(host, sizeof(host), "%s", conf->eim_fqdn);
        if (host[0] == '[') { /* [v6]:port */
            char *close = strchr(host, ']');
            if (close)
                *close = '\0';
            memmove(host, host + 1, strlen(host));
        }
        if (sgp32_cert_parse(id->tls_trust.data, id->tls_trust.len, &cert) == SGP32_OK &&
            !sgp32_cert_matches_host(&cert, host))
            fprintf(stderr, "eimd: warning: tls_certificate has no dNSName for eim_fqdn '%s'\n",
                    conf->eim_fqdn);
    }
    return SGP32_OK;
}

static int load_smdp_trust(const eimd_config *conf, identity *id, sgp32_tls_trust *trust)
{
    memset(trust, 0, sizeof(*trust));
    if (!conf->smdp_ca_count)
        return SGP32_OK; /* the system CAs */
    sgp32_buf pem;
    sgp32_buf_init(&pem, EIMD_FILE_MAX);
    size_t count = 0;
    int rc = SGP32_OK;
    for (size_t i = 0; !rc && i < conf->smdp_ca_count; i++)
        rc = sgp32_app_append_pem_certificates(conf->smdp_ca[i], &pem, &count);
    if (rc)
        goto out;
    if (count == 1) {
        rc = sgp32_app_read_certificate(conf->smdp_ca[0], &id->smdp_ca_der);
        trust->ca_der = sgp32_buf_bytes(&id->smdp_ca_der);
        goto out;
    }
    /* curl takes several anchors only from a file: write them to a private temporary one. */
    const char *dir = getenv("TMPDIR");
    snprintf(id->smdp_ca_file, sizeof(id->smdp_ca_file), "%.40s/eimd-smdp-ca-XXXXXX",
             dir && *dir && strlen(dir) < 40 ? dir : "/tmp");
    int fd = mkstemp(id->smdp_ca_file);
    if (fd < 0) {
        fprintf(stderr, "eimd: cannot create %s: %s\n", id->smdp_ca_file, strerror(errno));
        id->smdp_ca_file[0] = '\0';
        rc = SGP32_ERR_IO;
        goto out;
    }
    ssize_t w = write(fd, pem.data, pem.len);
    if (close(fd) || w < 0 || (size_t)w != pem.len) {
        fprintf(stderr, "eimd: cannot write %s\n", id->smdp_ca_file);
        rc = SGP32_ERR_IO;
        goto out;
    }
    trust->ca_file = id->smdp_ca_file;
out:
    sgp32_buf_free(&pem);
    return rc;
}

/* The push client identity and the CAs for the IPAs' listeners (push_*). */
static int load_push(const eimd_config *conf, identity *id)
{
    sgp32_buf_init(&id->push_ca_pem, EIMD_FILE_MAX);
    if (conf->push_interval <= 0)
        return SGP32_OK;
    if (conf->push_client_certificate[0] &&
        !(id->push_cert_pem = sgp32_app_read_text(conf->push_client_certificate)))
        return SGP32_ERR_IO;
    if (conf->push_client_key[0] && !(id->push_key_pem = sgp32_app_read_text(conf->push_client_key)))
        return SGP32_ERR_IO;
    if (!conf->push_client_certificate[0] != !conf->push_client_key[0]) {
        fprintf(stderr, "eimd: push_client_certificate and push_client_key go together\n");
        return SGP32_ERR_INVALID_ARGUMENT;
    }
    size_t count = 0;
    int rc = SGP32_OK;
    for (size_t i = 0; !rc && i < conf->push_ca_count; i++)
        rc = sgp32_app_append_pem_certificates(conf->push_ca[i], &id->push_ca_pem, &count);
    return rc;
}

static void free_identity(identity *id)
{
    sgp32_secure_zero(&id->signing_key, sizeof(id->signing_key));
    sgp32_buf_free(&id->signing_certificate);
    sgp32_buf_free(&id->tls_trust);
    sgp32_buf_free(&id->smdp_ca_der);
    sgp32_ci_set_free(&id->cis);
    sgp32_app_free_text(id->tls_key_pem);
    free(id->tls_cert_pem);
    sgp32_app_free_text(id->push_key_pem);
    free(id->push_cert_pem);
    sgp32_buf_free(&id->push_ca_pem);
    if (id->smdp_ca_file[0])
        unlink(id->smdp_ca_file);
}

static int hash_tokens(const eimd_config *conf, identity *id, int64_t now)
{
    for (size_t i = 0; i < conf->token_count; i++) {
        sgp32_eim_token *t = &id->tokens[i];
        memset(t, 0, sizeof(*t));
        snprintf(t->name, sizeof(t->name), "%s", conf->tokens[i].name);
        t->role = conf->tokens[i].role;
        t->created = now;
        int rc = sgp32_sha256((const uint8_t *)conf->tokens[i].secret, strlen(conf->tokens[i].secret),
                              t->secret_sha256);
        if (rc)
            return rc;
    }
    return SGP32_OK;
}

/* Bind the listening socket ourselves, so that port 0 resolves before eim_fqdn is defaulted. */
static int listen_socket(const eimd_config *conf, unsigned *port)
{
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    char service[8];
    snprintf(service, sizeof(service), "%d", conf->port);
    int err = getaddrinfo(conf->listen, service, &hints, &ai);
    if (err) {
        fprintf(stderr, "eimd: listen '%s' must be an IPv4 or IPv6 address (%s)\n", conf->listen,
                gai_strerror(err));
        return -1;
    }
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 256) ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)) {
        fprintf(stderr, "eimd: cannot listen on %s port %d: %s\n", conf->listen, conf->port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    *port = (unsigned)conf->port;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

static void default_fqdn(eimd_config *conf, unsigned port)
{
    if (conf->eim_fqdn[0])
        return;
    bool v6 = strchr(conf->listen, ':') != NULL;
    if (port == 443)
        snprintf(conf->eim_fqdn, sizeof(conf->eim_fqdn), v6 ? "[%s]" : "%s", conf->listen);
    else
        snprintf(conf->eim_fqdn, sizeof(conf->eim_fqdn), v6 ? "[%s]:%u" : "%s:%u", conf->listen, port);
    if (!strcmp(conf->listen, "0.0.0.0") || !strcmp(conf->listen, "::"))
        fprintf(stderr, "eimd: warning: eim_fqdn defaults to '%s'; set it to the name IPAs use\n",
                conf->eim_fqdn);
}

static void counts_text(const int64_t counts[SGP32_EIM_OP_STATE_COUNT], char *out, size_t size)
{
    size_t w = 0;
    out[0] = '\0';
    for (int s = 0; s < SGP32_EIM_OP_STATE_COUNT && w < size; s++)
        w += (size_t)snprintf(out + w, size - w, "%s%s %lld", s ? ", " : "",
                              sgp32_eim_op_state_name((sgp32_eim_op_state)s), (long long)counts[s]);
}

int main(int argc, char **argv)
{
    static eimd_config conf;
    sgp32_app_init("eimd");
    sgp32_app_server_allocator();
    eimd_config_defaults(&conf);
    bool check_only = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            eimd_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            if (eimd_config_load(&conf, argv[++i]))
                return 2;
        } else if (!strcmp(argv[i], "--set") && i + 1 < argc) {
            char line[2048];
            snprintf(line, sizeof(line), "%s", argv[++i]);
            size_t tokens = conf.token_count;
            int rc = eimd_config_line(&conf, line, "--set");
            sgp32_secure_zero(line, sizeof(line));
            if (rc)
                return 2;
            if (conf.token_count > tokens)
                fprintf(stderr,
                        "eimd: warning: an api_token on the command line is visible to other users (ps)\n");
        } else if (!strcmp(argv[i], "--check")) {
            check_only = true;
        } else {
            fprintf(stderr, "eimd: unknown argument '%s'\n\n", argv[i]);
            eimd_usage(stderr);
            return 2;
        }
    }
    if (!conf.eim_id[0] || !conf.tls_certificate[0] || !conf.tls_key[0] || !conf.signing_key[0]) {
        fprintf(stderr, "eimd: eim_id, tls_certificate, tls_key and signing_key are required (see --help)\n");
        eimd_config_wipe_secrets(&conf);
        return 2;
    }
    sgp32_log_set_level_all((sgp32_log_level)sgp32_log_level_parse(conf.log_level));
    /* The database and its WAL are this daemon's alone. */
    umask(077);

    int status = 1, listen_fd = -1;
    static identity id;
    static server_ctx sc;
    static es9_leg leg;
    static background bg;
    sgp32_eim_sqlite *db = NULL;
    struct MHD_Daemon *daemon = NULL;
    sc.conf = &conf;
    sgp32_ci_set_init(&id.cis);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    unsigned port = (unsigned)conf.port;
    if (!check_only && (listen_fd = listen_socket(&conf, &port)) < 0)
        goto out;
    default_fqdn(&conf, port);
    int rc = hash_tokens(&conf, &id, (int64_t)time(NULL));
    eimd_config_wipe_secrets(&conf);
    if (rc || load_cis(&conf, &id) || load_signing(&conf, &id) || load_tls(&conf, &id) ||
        load_smdp_trust(&conf, &id, &leg.trust) || load_push(&conf, &id))
        goto out;
    if (!conf.ci_count)
        fprintf(stderr, "eimd: warning: no ci_certificate: eUICC certificates cannot be verified\n");
    if (!conf.token_count)
        fprintf(stderr,
                "eimd: warning: no api_token: the REST API accepts only tokens stored in the database\n");
    rc = sgp32_eim_sqlite_open(conf.database, &db);
    if (!rc && conf.sqlite_full)
        rc = sgp32_eim_sqlite_synchronous(db, true);
    if (rc) {
        fprintf(stderr, "eimd: cannot open database %s: %s\n", conf.database, sgp32_err_str(rc));
        goto out;
    }
    sgp32_eim_server_config sconf = {
        .eim_id = conf.eim_id,
        .eim_fqdn = conf.eim_fqdn,
        .signing_key = &id.signing_key,
        .signing_certificate = sgp32_buf_bytes(&id.signing_certificate),
        .tls_certificate = sgp32_buf_bytes(&id.tls_trust),
        .trusted_cis = &id.cis,
        .store = sgp32_eim_sqlite_store(db),
        .operation_ttl = conf.operation_ttl,
        .relay_ttl = conf.relay_ttl,
        .es9_call = es9_call,
        .es9_ctx = &leg,
        .default_smdp_address = conf.default_smdp_address[0] ? conf.default_smdp_address : NULL,
        .push_https = conf.push_interval > 0,
    };
    rc = sgp32_eim_server_init(&sc.srv, &sconf);
    if (rc) {
        fprintf(stderr, "eimd: cannot start the eIM core: %s\n", sgp32_err_str(rc));
        goto out;
    }
    sc.rest.tokens = id.tokens;
    sc.rest.token_count = conf.token_count;
    int64_t counts[SGP32_EIM_OP_STATE_COUNT] = {0};
    rc = sconf.store.op_count(sconf.store.ctx, counts);
    if (rc) {
        fprintf(stderr, "eimd: database %s: %s\n", conf.database, sgp32_err_str(rc));
        goto out;
    }
    char counts_line[256];
    counts_text(counts, counts_line, sizeof(counts_line));
    if (check_only) {
        printf("eimd: config ok: eim_id %s, eim_fqdn %s, %zu CI(s), %zu token(s), database %s\n", conf.eim_id,
               conf.eim_fqdn, conf.ci_count, conf.token_count, conf.database);
        printf("eimd: operations: %s\n", counts_line);
        status = 0;
        goto out;
    }

    /* Signals are taken by sigwait in this thread only; every other thread inherits the mask. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    if (background_start(&bg, &sc.srv, conf.forward_interval)) {
        fprintf(stderr, "eimd: cannot start the background thread\n");
        goto out;
    }
    if (conf.push_interval > 0) {
        eimd_push_config pc = {
            .srv = &sc.srv,
            .interval = conf.push_interval,
            .timeout_ms = conf.push_timeout * 1000,
            .redeliver_after = conf.push_redeliver,
            .batch = (size_t)conf.push_batch,
            .parallel = (size_t)conf.push_parallel,
            .client_cert_pem = id.push_cert_pem ? id.push_cert_pem : id.tls_cert_pem,
            .client_key_pem = id.push_key_pem ? id.push_key_pem : id.tls_key_pem,
            .ca_pem = id.push_ca_pem.len ? (const char *)id.push_ca_pem.data : NULL,
            .ca_pem_len = id.push_ca_pem.len,
        };
        if (eimd_push_start(&pc, &sc.push)) {
            fprintf(stderr, "eimd: cannot start the push worker\n");
            goto out;
        }
    }
    daemon = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_TLS | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle, &sc,
        MHD_OPTION_LISTEN_SOCKET, listen_fd, MHD_OPTION_HTTPS_MEM_CERT, id.tls_cert_pem,
        MHD_OPTION_HTTPS_MEM_KEY, id.tls_key_pem, MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)conf.threads, MHD_OPTION_NOTIFY_COMPLETED,
        sgp32_app_http_completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_UNESCAPE_CALLBACK,
        unescape, NULL, MHD_OPTION_EXTERNAL_LOGGER, sgp32_app_mhd_log, &log_ctx, MHD_OPTION_END);
    if (!daemon) {
        fprintf(stderr, "eimd: cannot start HTTPS (bad TLS certificate or key?)\n");
        goto out;
    }
    listen_fd = -1; /* the daemon's now */
    printf("eimd: listening on port %u (eim_fqdn %s)\n", port, conf.eim_fqdn);
    fflush(stdout);
    sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, &log_ctx,
              "eim_id %s on https://%s:%u (eim_fqdn %s), %d threads, database %s; operations: %s",
              conf.eim_id, conf.listen, port, conf.eim_fqdn, conf.threads, conf.database, counts_line);
    int sig = 0;
    while (sigwait(&signals, &sig) == 0 && sig == SIGPIPE)
        ;
    sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, &log_ctx, "signal %d, stopping", sig);
    status = 0;
out:
    if (daemon)
        MHD_stop_daemon(daemon);
    if (listen_fd >= 0)
        close(listen_fd);
    eimd_push_stop(sc.push); /* after the HTTP threads: nobody signals it any more */
    sc.push = NULL;
    background_stop(&bg);
    sgp32_eim_sqlite_close(db);
    free_identity(&id);
    sgp32_secure_zero(id.tokens, sizeof(id.tokens));
    curl_global_cleanup();
    return status;
}

/*
 * ipad's push listener (ipad_push.h): POST /gsma/rsp2/asn1 with a TransferEimPackageRequest over
 * HTTPS with mutual TLS (libmicrohttpd + GnuTLS, a thread per connection), handed to ipad's loop
 * thread through a one-slot mailbox.
 *
 * libmicrohttpd only *requests* a client certificate when given a trust list; each new TLS session
 * is switched to *require* one and to verify it (chain to push_client_ca, clientAuth purpose)
 * inside the handshake (sgp32_app_http_require_client_certificate, app_http.h), so a client
 * without a valid certificate never gets to send HTTP. The request handler checks the verified
 * peer again before anything reaches the IPA.
 *
 * Mailbox states: EMPTY -> WAITING (a request came) -> TAKEN (the loop gave it to the core) ->
 * ANSWERED (PUSH_RESPONSE) -> EMPTY (answered 200). The listener gives up after timeout_ms: a
 * request still WAITING is withdrawn (503: the IPA was busy), one TAKEN is ABANDONED (504) and its
 * late answer dropped.
 */
#define _GNU_SOURCE
#include "app_http.h"
#include "app_support.h"
#include "ipad_push.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sgp32/log.h"

enum {
    BODY_MAX = 64 << 10, /* a TransferEimPackageRequest is a few kilobytes */
    ANSWER_MAX = 64 << 10,
    CONNECTION_LIMIT = 16,
    CONNECTION_TIMEOUT_S = 30,
};

enum slot { SLOT_EMPTY, SLOT_WAITING, SLOT_TAKEN, SLOT_ANSWERED, SLOT_REFUSED, SLOT_ABANDONED };

#define PUSH_PATH      "/gsma/rsp2/asn1"
#define ASN1_TYPE      "application/x-gsma-rsp-asn1"
#define ADMIN_PROTOCOL "gsma/rsp/v2.1.0"
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

static const sgp32_log_context log_ctx = {.component = "ipad-push"};

struct ipad_push {
    struct MHD_Daemon *daemon;
    int timeout_ms;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* CLOCK_MONOTONIC; every state change broadcasts */
    enum slot state;
    unsigned refuse_status;
    sgp32_buf request, answer;
};

typedef struct push_request {
    sgp32_app_http_request http; /* first (and only): the body and its cap (app_http.h) */
} push_request;

static void deadline_in(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* ------------------------------------------------------------------ HTTP */

static void client_text(struct MHD_Connection *c, char *out, size_t size)
{
    snprintf(out, size, "?");
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)size);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)size);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const uint8_t *body, size_t len,
                             const char *why)
{
    char client[INET6_ADDRSTRLEN];
    client_text(c, client, sizeof(client));
    sgp32_log(status == 200 ? SGP32_LOG_INFO : SGP32_LOG_WARN, SGP32_LOG_APP, &log_ctx,
              "push from %s -> HTTP %u%s%s (%zu bytes)", client, status, why ? ": " : "", why ? why : "",
              len);
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    if (len)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ASN1_TYPE);
    MHD_add_response_header(r, "X-Admin-Protocol", ADMIN_PROTOCOL);
    if (status == 503)
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "10");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static bool header_is(struct MHD_Connection *c, const char *name, const char *value)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    size_t n = strlen(value);
    return v && strncasecmp(v, value, n) == 0 && (v[n] == '\0' || v[n] == ';' || v[n] == ' ');
}

/* The request to the loop thread and its answer back, within timeout_ms. */
static enum MHD_Result exchange(ipad_push *p, struct MHD_Connection *c, const push_request *rq)
{
    sgp32_buf answer;
    sgp32_buf_init(&answer, ANSWER_MAX);
    unsigned status = 0;
    const char *why = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->state != SLOT_EMPTY) {
        pthread_mutex_unlock(&p->lock);
        sgp32_buf_free(&answer);
        return reply(c, 503, NULL, 0, "another push is in progress");
    }
    sgp32_buf_reset(&p->request);
    if (sgp32_buf_append(&p->request, rq->http.body.data, rq->http.body.len) != SGP32_OK) {
        pthread_mutex_unlock(&p->lock);
        sgp32_buf_free(&answer);
        return reply(c, 413, NULL, 0, "request too large");
    }
    p->state = SLOT_WAITING;
    pthread_cond_broadcast(&p->cond);
    struct timespec deadline;
    deadline_in(&deadline, p->timeout_ms);
    while (p->state == SLOT_WAITING || p->state == SLOT_TAKEN)
        if (pthread_cond_timedwait(&p->cond, &p->lock, &deadline) == ETIMEDOUT)
            break;
    switch (p->state) {
    case SLOT_ANSWERED:
        status = sgp32_buf_append(&answer, p->answer.data, p->answer.len) == SGP32_OK ? 200 : 500;
        p->state = SLOT_EMPTY;
        break;
    case SLOT_REFUSED:
        status = p->refuse_status;
        why = "the IPA did not take it";
        p->state = SLOT_EMPTY;
        break;
    case SLOT_WAITING: /* never taken: the IPA is running a procedure */
        status = 503;
        why = "the IPA is busy";
        p->state = SLOT_EMPTY;
        break;
    default: /* taken, no answer in time: dropped when it comes */
        status = 504;
        why = "no answer from the IPA in time";
        p->state = SLOT_ABANDONED;
        break;
    }
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    enum MHD_Result ret = reply(c, status, answer.data, status == 200 ? answer.len : 0, why);
    sgp32_buf_free(&answer);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_size,
                              void **con_cls)
{
    (void)version;
    ipad_push *p = cls;
    push_request *rq = *con_cls;
    if (!rq) {
        /* nothing is read from a peer the handshake did not authenticate */
        if (!sgp32_app_http_client_verified(c))
            return reply(c, 403, NULL, 0, "client certificate not verified");
        rq = sgp32_app_http_request_new(con_cls, sizeof(*rq), BODY_MAX);
        return rq ? MHD_YES : MHD_NO;
    }
    if (*upload_size) {
        sgp32_app_http_append(&rq->http, upload_data, upload_size);
        return MHD_YES;
    }
    if (strcmp(url, PUSH_PATH) != 0)
        return reply(c, 404, NULL, 0, "not the push path");
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
        return reply(c, 405, NULL, 0, "only POST");
    const char *admin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Admin-Protocol");
    if (!admin || strncmp(admin, "gsma/rsp/v", 10) != 0)
        return reply(c, 400, NULL, 0, "X-Admin-Protocol gsma/rsp/vX.Y.Z required");
    if (!header_is(c, MHD_HTTP_HEADER_CONTENT_TYPE, ASN1_TYPE))
        return reply(c, 415, NULL, 0, "Content-Type must be " ASN1_TYPE);
    if (rq->http.too_large)
        return reply(c, 413, NULL, 0, "request too large");
    if (rq->http.body.len < 2 || rq->http.body.data[0] != 0xBF || rq->http.body.data[1] != 0x4E)
        return reply(c, 400, NULL, 0, "not a TransferEimPackageRequest");
    return exchange(p, c, rq);
}

/* ------------------------------------------------------------------ start, stop */

/* host:port or [v6]:port -> a bound, listening, non-blocking socket. */
static int listen_on(const char *listen_address, unsigned *port)
{
    char host[256];
    const char *colon = NULL;
    if (listen_address[0] == '[') {
        const char *close = strchr(listen_address, ']');
        if (close && close[1] == ':') {
            snprintf(host, sizeof(host), "%.*s", (int)(close - listen_address - 1), listen_address + 1);
            colon = close + 1;
        }
    } else if ((colon = strrchr(listen_address, ':')) != NULL) {
        snprintf(host, sizeof(host), "%.*s", (int)(colon - listen_address), listen_address);
    }
    if (!colon || !colon[1] || strlen(listen_address) >= sizeof(host)) {
        fprintf(stderr, "ipad: push_listen '%s': use HOST:PORT or [IPv6]:PORT\n", listen_address);
        return -1;
    }
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int err = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai);
    if (err) {
        fprintf(stderr, "ipad: push_listen '%s': %s\n", listen_address, gai_strerror(err));
        return -1;
    }
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 16) ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)) {
        fprintf(stderr, "ipad: cannot listen on %s: %s\n", listen_address, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    *port = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

int ipad_push_start(const ipad_push_config *config, ipad_push **out, unsigned *port)
{
    *out = NULL;
    ipad_push *p = calloc(1, sizeof(*p));
    if (!p)
        return -1;
    p->timeout_ms = config->timeout_ms > 0 ? config->timeout_ms : 30000;
    sgp32_buf_init(&p->request, BODY_MAX);
    sgp32_buf_init(&p->answer, ANSWER_MAX);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, &attr);
    pthread_condattr_destroy(&attr);
    int fd = listen_on(config->listen, port);
    if (fd < 0) {
        ipad_push_stop(p);
        return -1;
    }
    p->daemon = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS | MHD_USE_ERROR_LOG, 0,
        NULL, NULL, handle, p, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_HTTPS_MEM_CERT, config->cert_pem,
        MHD_OPTION_HTTPS_MEM_KEY, config->key_pem, MHD_OPTION_HTTPS_MEM_TRUST, config->client_ca_pem,
        MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES, MHD_OPTION_NOTIFY_CONNECTION,
        sgp32_app_http_require_client_certificate, NULL, MHD_OPTION_NOTIFY_COMPLETED,
        sgp32_app_http_completed, NULL, MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S, MHD_OPTION_EXTERNAL_LOGGER,
        sgp32_app_mhd_log, (void *)&log_ctx, MHD_OPTION_END);
    if (!p->daemon) {
        fprintf(stderr, "ipad: cannot start the push listener (bad push_tls_certificate, push_tls_key or "
                        "push_client_ca?)\n");
        close(fd);
        ipad_push_stop(p);
        return -1;
    }
    *out = p;
    return 0;
}

void ipad_push_stop(ipad_push *p)
{
    if (!p)
        return;
    if (p->daemon) {
        /* a handler waiting for the loop gives up at its deadline; wake it now */
        pthread_mutex_lock(&p->lock);
        if (p->state == SLOT_WAITING || p->state == SLOT_TAKEN) {
            p->state = SLOT_REFUSED;
            p->refuse_status = 503;
        }
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        MHD_stop_daemon(p->daemon);
    }
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    sgp32_buf_free(&p->request);
    sgp32_buf_free(&p->answer);
    free(p);
}

/* ------------------------------------------------------------------ the loop side */

bool ipad_push_wait(ipad_push *p, int64_t seconds, volatile sig_atomic_t *stop)
{
    struct timespec deadline, now;
    deadline_in(&deadline, seconds * 1000);
    pthread_mutex_lock(&p->lock);
    /* a request taken earlier that the core ended without answering: it will not be */
    if (p->state == SLOT_TAKEN) {
        p->state = SLOT_REFUSED;
        p->refuse_status = 500;
        pthread_cond_broadcast(&p->cond);
    } else if (p->state == SLOT_ABANDONED) {
        p->state = SLOT_EMPTY;
    }
    while (!*stop && p->state != SLOT_WAITING) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > deadline.tv_sec ||
            (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec))
            break;
        /* a signal does not wake a condition variable: look at *stop every second */
        struct timespec step;
        deadline_in(&step, 1000);
        if (step.tv_sec > deadline.tv_sec ||
            (step.tv_sec == deadline.tv_sec && step.tv_nsec > deadline.tv_nsec))
            step = deadline;
        pthread_cond_timedwait(&p->cond, &p->lock, &step);
    }
    bool waiting = p->state == SLOT_WAITING;
    pthread_mutex_unlock(&p->lock);
    return waiting;
}

const sgp32_buf *ipad_push_take(ipad_push *p)
{
    pthread_mutex_lock(&p->lock);
    const sgp32_buf *request = NULL;
    if (p->state == SLOT_WAITING) {
        p->state = SLOT_TAKEN;
        request = &p->request; /* the listener leaves it alone until it is answered */
    }
    pthread_mutex_unlock(&p->lock);
    return request;
}

void ipad_push_answer(ipad_push *p, const uint8_t *data, size_t len)
{
    pthread_mutex_lock(&p->lock);
    if (p->state == SLOT_TAKEN) {
        sgp32_buf_reset(&p->answer);
        if (sgp32_buf_append(&p->answer, data, len) == SGP32_OK) {
            p->state = SLOT_ANSWERED;
        } else {
            p->state = SLOT_REFUSED;
            p->refuse_status = 500;
        }
    } else if (p->state == SLOT_ABANDONED) {
        p->state = SLOT_EMPTY;
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_APP, &log_ctx, "push answer dropped: the eIM gave up waiting");
    }
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

void ipad_push_refuse(ipad_push *p, unsigned status)
{
    pthread_mutex_lock(&p->lock);
    if (p->state == SLOT_TAKEN) {
        p->state = SLOT_REFUSED;
        p->refuse_status = status;
    } else if (p->state == SLOT_ABANDONED) {
        p->state = SLOT_EMPTY;
    }
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

/*
 * smdpd's ES2+ callbacks (smdpd_callbacks.h). One worker, one queue in arrival order: an event
 * that fails is retried before the later ones, so the operator sees each order's notification
 * points in the order they happened. Network errors and HTTP 408, 429 and 5xx are retried; any
 * other answer but 200/204 means the operator refuses the event, which is dropped at once.
 * On stop, what is still queued gets one last post each (no back-off) until STOP_FLUSH_S after
 * the stop was asked: a post under way, or a flush post, is cut off at that deadline, so that a
 * silent operator endpoint cannot hold up smdpd's exit (a service manager would kill it).
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sgp32/crypto.h"
#include "sgp32/log.h"
#include "smdpd_callbacks.h"

enum { QUEUE_MAX = 8192, MAX_DELAY_S = 60, STOP_FLUSH_S = 5 };

#define ADMIN_PROTOCOL "gsma/rsp/v2.2.0"

typedef struct pending {
    char *body;
    int attempts; /* posts so far */
} pending;

struct smdpd_callbacks {
    smdpd_callbacks_config config;
    char *url, *ca;
    char *authorization; /* "Authorization: Bearer <token>", or NULL */
    pthread_mutex_t lock;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    pending items[QUEUE_MAX];
    size_t head, count;
    atomic_bool stop;     /* also read by curl's progress callback, outside the lock */
    double stop_deadline; /* monotonic seconds; written before stop is set */
    pthread_t thread;
};

static const sgp32_log_context log_ctx = {"smdpd", NULL, NULL};

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

static double monotonic_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* curl's progress callback: abort the transfer once a stop's deadline has passed. */
static int past_stop_deadline(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                              curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    const smdpd_callbacks *cb = ctx;
    return atomic_load(&cb->stop) && monotonic_now() > cb->stop_deadline;
}

typedef enum outcome { DELIVERED, RETRY, REFUSED } outcome;

static outcome post(smdpd_callbacks *cb, const char *body)
{
    CURL *curl = curl_easy_init();
    if (!curl)
        return RETRY;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json;charset=UTF-8");
    h = curl_slist_append(h, "X-Admin-Protocol: " ADMIN_PROTOCOL);
    if (cb->authorization)
        h = curl_slist_append(h, cb->authorization);
    curl_easy_setopt(curl, CURLOPT_URL, cb->url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, past_stop_deadline);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, cb);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    if (cb->ca && cb->ca[0])
        curl_easy_setopt(curl, CURLOPT_CAINFO, cb->ca);
    CURLcode cc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(curl);
    if (cc == CURLE_OK && (status == 200 || status == 204)) {
        sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_APP, &log_ctx,
                  "ES2+ handleDownloadProgressInfo delivered (HTTP %ld)", status);
        return DELIVERED;
    }
    bool retry = cc != CURLE_OK || status == 408 || status == 429 || status >= 500;
    sgp32_log(SGP32_LOG_WARN, SGP32_LOG_APP, &log_ctx,
              "ES2+ handleDownloadProgressInfo to %s failed: %s (HTTP %ld)%s", cb->url,
              cc != CURLE_OK ? curl_easy_strerror(cc) : "refused", status,
              retry ? "" : "; the operator refuses it, not retried");
    return retry ? RETRY : REFUSED;
}

/* Wait on the condition until `seconds` passed or stop; the lock is held. */
static void wait_for(smdpd_callbacks *cb, double seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)seconds;
    until.tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
    if (until.tv_nsec >= 1000000000L)
        until.tv_sec++, until.tv_nsec -= 1000000000L;
    while (!atomic_load(&cb->stop) && pthread_cond_timedwait(&cb->cond, &cb->lock, &until) == 0)
        ;
}

static void *worker(void *arg)
{
    smdpd_callbacks *cb = arg;
    pthread_mutex_lock(&cb->lock);
    for (;;) {
        while (!cb->count && !atomic_load(&cb->stop))
            pthread_cond_wait(&cb->cond, &cb->lock);
        /* once stopping: one last post each, no back-off, until the deadline */
        if (!cb->count || (atomic_load(&cb->stop) && monotonic_now() > cb->stop_deadline))
            break;
        pending *p = &cb->items[cb->head];
        char *body = p->body;
        pthread_mutex_unlock(&cb->lock);
        outcome o = post(cb, body);
        pthread_mutex_lock(&cb->lock);
        p->attempts++;
        if (o == RETRY && p->attempts < cb->config.attempts && !atomic_load(&cb->stop)) {
            double delay = cb->config.first_delay;
            for (int i = 1; i < p->attempts && delay < MAX_DELAY_S; i++)
                delay *= 2;
            wait_for(cb, delay < MAX_DELAY_S ? delay : MAX_DELAY_S);
            continue;
        }
        if (o == RETRY)
            sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &log_ctx,
                      "ES2+ handleDownloadProgressInfo dropped after %d attempts%s: %s", p->attempts,
                      atomic_load(&cb->stop) ? " (stopping)" : "", body);
        free(body);
        p->body = NULL;
        cb->head = (cb->head + 1) % QUEUE_MAX;
        cb->count--;
    }
    pthread_mutex_unlock(&cb->lock);
    return NULL;
}

/* The worker's own copies and primitives (the token wiped: it is a secret). */
static void free_all(smdpd_callbacks *cb)
{
    pthread_cond_destroy(&cb->cond);
    pthread_mutex_destroy(&cb->lock);
    if (cb->authorization)
        sgp32_secure_zero(cb->authorization, strlen(cb->authorization));
    free(cb->authorization);
    free(cb->url);
    free(cb->ca);
    free(cb);
}

smdpd_callbacks *smdpd_callbacks_start(const smdpd_callbacks_config *config)
{
    smdpd_callbacks *cb = calloc(1, sizeof(*cb));
    if (!cb)
        return NULL;
    atomic_init(&cb->stop, false);
    cb->config = *config;
    if (cb->config.attempts < 1)
        cb->config.attempts = 1;
    cb->config.url = cb->config.ca = cb->config.token = NULL; /* the caller's: copied below */
    cb->url = strdup(config->url);
    cb->ca = config->ca ? strdup(config->ca) : NULL;
    bool token = config->token && config->token[0];
    size_t auth_len = token ? strlen("Authorization: Bearer ") + strlen(config->token) + 1 : 0;
    if (token && (cb->authorization = malloc(auth_len)) != NULL)
        snprintf(cb->authorization, auth_len, "Authorization: Bearer %s", config->token);
    pthread_mutex_init(&cb->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&cb->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (!cb->url || (config->ca && !cb->ca) || (token && !cb->authorization) ||
        pthread_create(&cb->thread, NULL, worker, cb) != 0) {
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &log_ctx, "cannot start the ES2+ callback worker");
        free_all(cb);
        return NULL;
    }
    return cb;
}

bool smdpd_callbacks_post(smdpd_callbacks *cb, const char *body)
{
    char *copy = strdup(body);
    pthread_mutex_lock(&cb->lock);
    bool queued = copy && cb->count < QUEUE_MAX;
    if (queued) {
        cb->items[(cb->head + cb->count) % QUEUE_MAX] = (pending){copy, 0};
        cb->count++;
        pthread_cond_signal(&cb->cond);
    }
    pthread_mutex_unlock(&cb->lock);
    if (!queued) {
        free(copy);
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_APP, &log_ctx,
                  "ES2+ callback queue full (%d events; is the operator endpoint down?): event dropped",
                  QUEUE_MAX);
    }
    return queued;
}

void smdpd_callbacks_stop(smdpd_callbacks *cb)
{
    if (!cb)
        return;
    pthread_mutex_lock(&cb->lock);
    cb->stop_deadline = monotonic_now() + STOP_FLUSH_S;
    atomic_store(&cb->stop, true);
    pthread_cond_broadcast(&cb->cond);
    pthread_mutex_unlock(&cb->lock);
    pthread_join(cb->thread, NULL);
    if (cb->count)
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_APP, &log_ctx,
                  "%zu ES2+ handleDownloadProgressInfo events not delivered before the stop", cb->count);
    for (size_t i = 0; i < cb->count; i++)
        free(cb->items[(cb->head + i) % QUEUE_MAX].body);
    free_all(cb);
}

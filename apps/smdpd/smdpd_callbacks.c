/*
 * smdpd's ES2+ callbacks (smdpd_callbacks.h). The events wait in the store's outbox (SQLite, the
 * same file as the orders), so a crash, a restart or an operator endpoint that is down for hours
 * loses none: the next worker takes them up where the last one stopped. One worker posts them
 * oldest first; a failed one is retried before the later ones, so the operator sees each order's
 * notification points in the order they happened. Network errors and HTTP 408, 429 and 5xx are
 * retried (the attempt count and the time of the next one are stored); any other answer but
 * 200/204 means the operator refuses the event, which is dropped at once. Delivery is at least
 * once: a post cut off by a stop, or whose answer was lost, is posted again.
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

enum { MAX_DELAY_S = 60, STOP_GRACE_S = 2, IDLE_RECHECK_S = 60 };

#define ADMIN_PROTOCOL "gsma/rsp/v2.2.0"

struct smdpd_callbacks {
    smdpd_callbacks_config config;
    sgp32_smdp_store store;
    char *url, *ca, *client_certificate, *client_key;
    char *authorization; /* "Authorization: Bearer <token>", or NULL */
    pthread_mutex_t lock;
    pthread_cond_t cond;  /* CLOCK_MONOTONIC; signalled by post and stop */
    bool posted;          /* a post since the worker last looked (under lock) */
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

/* Unix milliseconds: the outbox's times survive a restart. */
static int64_t wall_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* curl's progress callback: abort the transfer once a stop's grace has passed. */
static int past_stop_deadline(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                              curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    const smdpd_callbacks *cb = ctx;
    return atomic_load(&cb->stop) && monotonic_now() > cb->stop_deadline;
}

typedef enum outcome { DELIVERED, RETRY, REFUSED, CUT_BY_STOP } outcome;

static outcome post(smdpd_callbacks *cb, const sgp32_buf *body)
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
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, (const char *)body->data);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, past_stop_deadline);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, cb);
    if (cb->ca && cb->ca[0])
        curl_easy_setopt(curl, CURLOPT_CAINFO, cb->ca);
    if (cb->client_certificate) {
        curl_easy_setopt(curl, CURLOPT_SSLCERT, cb->client_certificate);
        curl_easy_setopt(curl, CURLOPT_SSLKEY, cb->client_key);
    }
    CURLcode cc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(curl);
    if (cc == CURLE_ABORTED_BY_CALLBACK)
        return CUT_BY_STOP; /* not an attempt: it stays as it was, for the next start */
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

/* Until `seconds` passed, a post came or stop; the lock is held. */
static void wait_for(smdpd_callbacks *cb, double seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)seconds;
    until.tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
    if (until.tv_nsec >= 1000000000L)
        until.tv_sec++, until.tv_nsec -= 1000000000L;
    while (!atomic_load(&cb->stop) && !cb->posted &&
           pthread_cond_timedwait(&cb->cond, &cb->lock, &until) == 0)
        ;
    cb->posted = false;
}

/* The delay before post number attempts + 1: first_delay, doubled each time, at most a minute. */
static double backoff(const smdpd_callbacks *cb, int attempts)
{
    double delay = cb->config.first_delay;
    for (int i = 1; i < attempts && delay < MAX_DELAY_S; i++)
        delay *= 2;
    return delay < MAX_DELAY_S ? delay : MAX_DELAY_S;
}

/* What a post of item means for the outbox: gone (delivered, refused, out of attempts) or due again
 * later. Store errors are logged by the store; the event then stays and is tried again. */
static void settle(smdpd_callbacks *cb, sgp32_smdp_outbox_item *item, outcome o)
{
    const sgp32_smdp_store *st = &cb->store;
    int attempts = item->attempts + 1;
    if (o == RETRY && attempts < cb->config.attempts) {
        int64_t next = wall_ms() + (int64_t)(backoff(cb, attempts) * 1000);
        (void)st->outbox_retry(st->ctx, item->id, attempts, next);
        return;
    }
    if (o == RETRY)
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &log_ctx,
                  "ES2+ handleDownloadProgressInfo dropped after %d attempts: %.*s", attempts,
                  (int)(item->body.len > 400 ? 400 : item->body.len), (const char *)item->body.data);
    (void)st->outbox_delete(st->ctx, item->id);
}

static void *worker(void *arg)
{
    smdpd_callbacks *cb = arg;
    const sgp32_smdp_store *st = &cb->store;
    sgp32_smdp_outbox_item item;
    sgp32_smdp_outbox_item_init(&item);
    pthread_mutex_lock(&cb->lock);
    while (!atomic_load(&cb->stop)) {
        pthread_mutex_unlock(&cb->lock);
        int rc = st->outbox_first(st->ctx, &item);
        int64_t wait_ms = rc == SGP32_OK ? item.next_attempt - wall_ms() : 0;
        outcome o = DELIVERED;
        bool posted = false;
        if (rc == SGP32_OK && wait_ms <= 0) {
            o = post(cb, &item.body);
            posted = true;
        }
        if (posted && o != CUT_BY_STOP)
            settle(cb, &item, o);
        pthread_mutex_lock(&cb->lock);
        if (posted)
            continue;
        /* nothing due: sleep until the oldest is, a post comes, or (empty) a minute to look again */
        wait_for(cb, rc == SGP32_OK ? (double)wait_ms / 1000.0 : IDLE_RECHECK_S);
    }
    pthread_mutex_unlock(&cb->lock);
    sgp32_smdp_outbox_item_free(&item);
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
    free(cb->client_certificate);
    free(cb->client_key);
    free(cb);
}

smdpd_callbacks *smdpd_callbacks_start(const smdpd_callbacks_config *config)
{
    if (!config || !config->url || !config->store || !config->store->outbox_put ||
        !config->store->outbox_first || !config->store->outbox_retry || !config->store->outbox_delete)
        return NULL;
    smdpd_callbacks *cb = calloc(1, sizeof(*cb));
    if (!cb)
        return NULL;
    atomic_init(&cb->stop, false);
    cb->config = *config;
    cb->store = *config->store;
    /* the caller's strings: copied below */
    cb->config.url = cb->config.ca = cb->config.token = NULL;
    cb->config.client_certificate = cb->config.client_key = NULL;
    cb->config.store = NULL;
    if (cb->config.attempts < 1)
        cb->config.attempts = 1;
    cb->url = strdup(config->url);
    cb->ca = config->ca ? strdup(config->ca) : NULL;
    bool client = config->client_certificate && config->client_certificate[0];
    if (client) {
        cb->client_certificate = strdup(config->client_certificate);
        cb->client_key = config->client_key ? strdup(config->client_key) : NULL;
    }
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
        (client && (!cb->client_certificate || !cb->client_key)) ||
        pthread_create(&cb->thread, NULL, worker, cb) != 0) {
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &log_ctx, "cannot start the ES2+ callback worker");
        free_all(cb);
        return NULL;
    }
    return cb;
}

bool smdpd_callbacks_post(smdpd_callbacks *cb, const char *body)
{
    int rc = cb->store.outbox_put(cb->store.ctx, body, strlen(body));
    if (rc) {
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &log_ctx,
                  "ES2+ handleDownloadProgressInfo not stored (%s): %.*s", sgp32_err_str(rc),
                  (int)(strlen(body) > 400 ? 400 : strlen(body)), body);
        return false;
    }
    pthread_mutex_lock(&cb->lock);
    cb->posted = true;
    pthread_cond_signal(&cb->cond);
    pthread_mutex_unlock(&cb->lock);
    return true;
}

void smdpd_callbacks_stop(smdpd_callbacks *cb)
{
    if (!cb)
        return;
    pthread_mutex_lock(&cb->lock);
    cb->stop_deadline = monotonic_now() + STOP_GRACE_S;
    atomic_store(&cb->stop, true);
    pthread_cond_broadcast(&cb->cond);
    pthread_mutex_unlock(&cb->lock);
    pthread_join(cb->thread, NULL);
    sgp32_smdp_outbox_item item;
    sgp32_smdp_outbox_item_init(&item);
    if (cb->store.outbox_first(cb->store.ctx, &item) == SGP32_OK)
        sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, &log_ctx,
                  "ES2+ handleDownloadProgressInfo events still to deliver are kept for the next start");
    sgp32_smdp_outbox_item_free(&item);
    free_all(cb);
}

/*
 * eimd's push worker: ESipa.TransferEimPackage (SGP.32 §3.1.1.2, §5.14.4) to the IPAs that take
 * injection, so a new operation reaches such a device without waiting for its next poll.
 *
 * One thread, libcurl's multi interface. A round starts after the REST API or an IPA's report
 * changed a queue (eimd_push_signal: the request path never waits for a push) and every
 * push_interval seconds. It takes the eUICCs that have a push address and an open operation
 * (the store's euicc_push_candidates, from a cursor so that a large fleet is served in turn),
 * prepares each one's next package with sgp32_eim_transfer_eim_package_prepare (the GetEimPackage
 * queue: a lost push is just a redelivery) and POSTs it to https://<push address>/gsma/rsp2/asn1
 * with the eIM's client certificate, the IPA's server certificate verified against push_ca. The
 * answer goes to sgp32_eim_transfer_eim_package_response.
 *
 * Bounded: at most one push in flight per eUICC, push_parallel in flight in all, push_batch per
 * round. Per eUICC, in memory: a failed push (no connection, TLS refused, HTTP 503 "busy", an
 * answer that does not decode) backs off (push_interval doubling up to an hour), and an
 * operation the IPA answered eimPackageReceived for is not pushed again before push_redeliver
 * seconds (its result comes by ProvideEimPackageResult, which signals the next round). An answer
 * that carried the result itself (eUICC data, the certificates asked for first) lets the next
 * package of that eUICC go in the same round, and results the answer carried are acknowledged by
 * a follow-up push (eimAcknowledgements).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>

#include "eimd.h"
#include "sgp32/log.h"

enum {
    ANSWER_MAX = 1 << 20,
    REQUEST_MAX = 64 << 10,
    CONNECT_TIMEOUT_MS = 10000,
    AGAIN_PER_ROUND = 4, /* pushes to one eUICC in one round (certificates, then the package) */
    BACKOFF_MAX_S = 3600,
    TABLE_MIN = 64,
};

#define ADMIN_PROTOCOL "X-Admin-Protocol: gsma/rsp/v2.1.0"
#define ASN1_TYPE      "Content-Type: application/x-gsma-rsp-asn1"

static sgp32_log_context log_ctx = {"eimd-push", NULL, NULL};

/* What the worker remembers of one eUICC between rounds. */
typedef struct device {
    char eid[SGP32_EIM_EID_DIGITS + 1]; /* "" free slot */
    int64_t next_attempt;               /* backoff after failures (monotonic seconds) */
    int failures;
    int64_t held_op, hold_until; /* eimPackageReceived for held_op: not again before hold_until */
    bool in_flight;
    int pushes_this_round;
} device;

typedef struct transfer {
    CURL *easy;
    struct curl_slist *headers;
    device *dev;
    char eid[SGP32_EIM_EID_DIGITS + 1];
    int64_t operation_id; /* 0: an acknowledgement push */
    sgp32_buf request, answer;
    bool too_large;
    struct timespec start;
    struct transfer *next, *prev; /* the acknowledgement queue, then the in-flight list */
} transfer;

struct eimd_push {
    eimd_push_config conf;
    pthread_t thread;
    bool running;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop, signalled; /* under lock */
    CURLM *multi;
    /* worker thread only */
    device *table;
    size_t table_size, table_used;
    char cursor[SGP32_EIM_EID_DIGITS + 1];  /* where the next round goes on */
    char stop_at[SGP32_EIM_EID_DIGITS + 1]; /* this round's first eUICC, when wrapping */
    char (*todo)[SGP32_EIM_EID_DIGITS + 1]; /* this round's eUICCs, push_batch at most */
    size_t todo_count, todo_next;
    transfer *acks;   /* acknowledgement pushes waiting for a slot */
    transfer *active; /* in flight */
    size_t in_flight;
};

static int64_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

/* ------------------------------------------------------------------ the per-eUICC table */

static size_t hash_eid(const char *eid)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *eid; eid++)
        h = (h ^ (uint8_t)*eid) * 1099511628211ull;
    return (size_t)h;
}

static device *slot_for(device *table, size_t size, const char *eid)
{
    size_t i = hash_eid(eid) & (size - 1);
    while (table[i].eid[0] && strcmp(table[i].eid, eid) != 0)
        i = (i + 1) & (size - 1);
    return &table[i];
}

/* The record of eid, made when new; NULL without memory. The table only grows: one small record
 * per eUICC that takes pushes. */
static device *device_get(eimd_push *p, const char *eid)
{
    if ((p->table_used + 1) * 10 > p->table_size * 7) {
        size_t size = p->table_size ? p->table_size * 2 : TABLE_MIN;
        device *table = calloc(size, sizeof(*table));
        if (!table)
            return NULL;
        for (size_t i = 0; i < p->table_size; i++)
            if (p->table[i].eid[0])
                *slot_for(table, size, p->table[i].eid) = p->table[i];
        free(p->table);
        p->table = table;
        p->table_size = size;
    }
    device *d = slot_for(p->table, p->table_size, eid);
    if (!d->eid[0]) {
        memset(d, 0, sizeof(*d));
        snprintf(d->eid, sizeof(d->eid), "%s", eid);
        p->table_used++;
    }
    return d;
}

static void failed(eimd_push *p, device *d)
{
    d->failures++;
    int64_t delay = p->conf.interval;
    for (int i = 1; i < d->failures && delay < BACKOFF_MAX_S; i++)
        delay *= 2;
    if (delay > BACKOFF_MAX_S)
        delay = BACKOFF_MAX_S;
    d->next_attempt = mono_now() + delay;
}

/* ------------------------------------------------------------------ transfers */

static size_t on_body(char *data, size_t size, size_t count, void *arg)
{
    transfer *t = arg;
    size_t n = size * count;
    if (sgp32_buf_append(&t->answer, data, n) != SGP32_OK) {
        t->too_large = true;
        return 0; /* aborts the transfer */
    }
    return n;
}

static void transfer_free(transfer *t)
{
    if (!t)
        return;
    if (t->easy)
        curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
    sgp32_buf_free(&t->request);
    sgp32_buf_free(&t->answer);
    free(t);
}

static transfer *transfer_new(const char *eid)
{
    transfer *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    snprintf(t->eid, sizeof(t->eid), "%s", eid);
    sgp32_buf_init(&t->request, REQUEST_MAX);
    sgp32_buf_init(&t->answer, ANSWER_MAX);
    return t;
}

/* Hand t (request filled) to curl; false when it could not be started (t is freed). */
static bool transfer_start(eimd_push *p, transfer *t, const char *address)
{
    char url[SGP32_EIM_ADDRESS_MAX + 32];
    snprintf(url, sizeof(url), "https://%s/gsma/rsp2/asn1", address);
    const eimd_push_config *c = &p->conf;
    t->easy = curl_easy_init();
    struct curl_blob cert = {(void *)c->client_cert_pem, strlen(c->client_cert_pem), CURL_BLOB_NOCOPY};
    struct curl_blob key = {(void *)c->client_key_pem, strlen(c->client_key_pem), CURL_BLOB_NOCOPY};
    struct curl_blob ca = {(void *)c->ca_pem, c->ca_pem_len, CURL_BLOB_NOCOPY};
    struct curl_slist *h = NULL;
    if (t->easy && (h = curl_slist_append(NULL, ASN1_TYPE)) != NULL)
        t->headers = h;
    if (t->easy && h && (h = curl_slist_append(t->headers, ADMIN_PROTOCOL)) != NULL)
        t->headers = h;
    if (t->easy && h && (h = curl_slist_append(t->headers, "Expect:")) != NULL)
        t->headers = h;
    bool ok = t->easy && h;
    /* TLS is always verified: the IPA's certificate against push_ca (or the system CAs) and its
     * name against the push address; we authenticate with the eIM's certificate. */
    ok = ok && curl_easy_setopt(t->easy, CURLOPT_URL, url) == CURLE_OK &&
         curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "https") == CURLE_OK &&
         curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
         curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
         curl_easy_setopt(t->easy, CURLOPT_SSLCERT_BLOB, &cert) == CURLE_OK &&
         curl_easy_setopt(t->easy, CURLOPT_SSLCERTTYPE, "PEM") == CURLE_OK &&
         curl_easy_setopt(t->easy, CURLOPT_SSLKEY_BLOB, &key) == CURLE_OK &&
         curl_easy_setopt(t->easy, CURLOPT_SSLKEYTYPE, "PEM") == CURLE_OK &&
         (!c->ca_pem || curl_easy_setopt(t->easy, CURLOPT_CAINFO_BLOB, &ca) == CURLE_OK) &&
         curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers) == CURLE_OK &&
         curl_easy_setopt(t->easy, CURLOPT_USERAGENT, "sgp32-eimd") == CURLE_OK &&
         curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, (const char *)t->request.data) == CURLE_OK &&
         curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE, (long)t->request.len) == CURLE_OK &&
         curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
         curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t) == CURLE_OK &&
         curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t) == CURLE_OK &&
         curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
         curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, c->timeout_ms) == CURLE_OK &&
         curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS) == CURLE_OK &&
         curl_multi_add_handle(p->multi, t->easy) == CURLM_OK;
    if (!ok) {
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &log_ctx, "push to %s: cannot start the transfer", t->eid);
        transfer_free(t);
        return false;
    }
    clock_gettime(CLOCK_MONOTONIC, &t->start);
    t->prev = NULL;
    t->next = p->active;
    if (p->active)
        p->active->prev = t;
    p->active = t;
    p->in_flight++;
    if (t->dev)
        t->dev->in_flight = true;
    return true;
}

/* The eUICC's next package, when it is due: false when nothing was started for it. */
static bool push_device(eimd_push *p, const char *eid)
{
    const sgp32_eim_server *srv = p->conf.srv;
    const sgp32_eim_store *st = &srv->config.store;
    device *d = device_get(p, eid);
    if (!d || d->in_flight || d->pushes_this_round >= AGAIN_PER_ROUND)
        return false;
    int64_t now = mono_now();
    if (d->next_attempt > now)
        return false;
    sgp32_eim_euicc e;
    sgp32_eim_operation head;
    sgp32_eim_euicc_init(&e);
    sgp32_eim_operation_init(&head);
    transfer *t = NULL;
    bool started = false;
    if (st->euicc_get(st->ctx, eid, &e) != SGP32_OK || !e.push_address[0])
        goto out;
    /* an operation the IPA is running: its result comes by ProvideEimPackageResult (unless the
     * card refused it as a replay: then its stored result is what gets asked for, now) */
    if (st->op_next(st->ctx, eid, &head) != SGP32_OK ||
        (head.id == d->held_op && now < d->hold_until && head.state == SGP32_EIM_OP_DELIVERED &&
         !head.awaiting_result))
        goto out;
    if (!(t = transfer_new(eid)))
        goto out;
    int rc = sgp32_eim_transfer_eim_package_prepare(srv, eid, &t->request, &t->operation_id);
    if (rc) {
        if (rc != SGP32_ERR_NOT_FOUND)
            sgp32_log(SGP32_LOG_WARN, SGP32_LOG_APP, &log_ctx, "push to %s: %s", eid, sgp32_err_str(rc));
        goto out;
    }
    t->dev = d;
    d->pushes_this_round++;
    started = transfer_start(p, t, e.push_address);
    t = NULL; /* the transfer's now, or freed */
out:
    transfer_free(t);
    sgp32_eim_operation_free(&head);
    sgp32_eim_euicc_free(&e);
    return started;
}

static void push_acknowledgements(eimd_push *p, const char *eid, const sgp32_eim_esipa_info *info)
{
    transfer *t = transfer_new(eid);
    if (!t)
        return;
    if (sgp32_eim_transfer_eim_acknowledgements(info->acknowledge, info->acknowledge_count, &t->request)) {
        transfer_free(t);
        return;
    }
    t->next = p->acks;
    p->acks = t;
}

static bool is_received(const sgp32_buf *answer)
{
    static const uint8_t received[] = {0xBF, 0x4E, 0x02, 0x05, 0x00};
    return answer->len == sizeof(received) && memcmp(answer->data, received, sizeof(received)) == 0;
}

/* The eUICC gets another turn in this round. */
static void again(eimd_push *p, const char *eid)
{
    if (p->todo_count < p->conf.batch)
        memcpy(p->todo[p->todo_count++], eid, SGP32_EIM_EID_DIGITS + 1);
    else if (p->todo_next > 0)
        memcpy(p->todo[--p->todo_next], eid, SGP32_EIM_EID_DIGITS + 1);
}

/* One finished transfer: its answer to the core, the eUICC's record updated. */
static void finished(eimd_push *p, transfer *t, CURLcode result)
{
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    double ms = (double)(end.tv_sec - t->start.tv_sec) * 1e3 + (double)(end.tv_nsec - t->start.tv_nsec) / 1e6;
    device *d = device_get(p, t->eid); /* t->dev: the table may have moved since */
    if (d)
        d->in_flight = false;
    sgp32_log_context ctx = {"eimd-push", t->eid, NULL};
    if (!t->operation_id) { /* acknowledgements: best effort, the IPA reports again otherwise */
        sgp32_log(result == CURLE_OK && status == 200 ? SGP32_LOG_INFO : SGP32_LOG_WARN, SGP32_LOG_APP, &ctx,
                  "push eimAcknowledgements -> %s%ld (%.1f ms)", result == CURLE_OK ? "HTTP " : "curl error ",
                  result == CURLE_OK ? status : (long)result, ms);
        again(p, t->eid);
        return;
    }
    if (result != CURLE_OK || status != 200) {
        char why[96];
        if (result != CURLE_OK)
            snprintf(why, sizeof(why), "%s", curl_easy_strerror(result));
        else
            snprintf(why, sizeof(why), "HTTP %ld%s", status, status == 503 ? " (the IPA is busy)" : "");
        if (d)
            failed(p, d);
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_APP, &ctx,
                  "push of operation %lld failed: %s (%.1f ms); retry in %lld s", (long long)t->operation_id,
                  why, ms, (long long)(d ? d->next_attempt - mono_now() : 0));
        return;
    }
    sgp32_eim_esipa_info info;
    int rc =
        sgp32_eim_transfer_eim_package_response(p->conf.srv, t->eid, t->answer.data, t->answer.len, &info);
    if (rc) {
        if (d)
            failed(p, d);
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_APP, &ctx, "push of operation %lld: answer refused: %s (%s)",
                  (long long)t->operation_id, sgp32_err_str(rc), info.outcome);
        return;
    }
    sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, &ctx, "push of operation %lld -> HTTP 200: %s (%.1f ms)",
              (long long)t->operation_id, info.outcome, ms);
    if (!d)
        return;
    d->failures = 0;
    d->next_attempt = 0;
    if (is_received(&t->answer)) {
        d->held_op = t->operation_id;
        d->hold_until = mono_now() + p->conf.redeliver_after;
        return;
    }
    /* the answer was the result: this eUICC's next package may go now (after the acknowledgement) */
    if (info.acknowledge_count)
        push_acknowledgements(p, t->eid, &info);
    else
        again(p, t->eid);
}

static void unlink_active(eimd_push *p, transfer *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        p->active = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->next = t->prev = NULL;
    curl_multi_remove_handle(p->multi, t->easy);
    p->in_flight--;
}

static void drain(eimd_push *p)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(p->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        char *priv = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        transfer *t = (transfer *)(void *)priv;
        CURLcode result = m->data.result;
        if (t) {
            unlink_active(p, t);
            if (t->too_large)
                result = CURLE_FILESIZE_EXCEEDED;
            finished(p, t, result);
            transfer_free(t);
        }
    }
}

/* ------------------------------------------------------------------ rounds */

static int add_candidate(void *arg, const char *eid)
{
    eimd_push *p = arg;
    if (p->stop_at[0] && strcmp(eid, p->stop_at) >= 0)
        return 1; /* wrapped around to where this round began */
    snprintf(p->cursor, sizeof(p->cursor), "%s", eid);
    if (p->todo_count < p->conf.batch)
        memcpy(p->todo[p->todo_count++], eid, SGP32_EIM_EID_DIGITS + 1);
    return 0;
}

/* This round's eUICCs: push_batch of them from the cursor on, wrapping to the start once, so that
 * a fleet larger than a round is served in turn. */
static void collect(eimd_push *p)
{
    const sgp32_eim_store *st = &p->conf.srv->config.store;
    p->todo_count = p->todo_next = 0;
    p->stop_at[0] = '\0';
    for (size_t i = 0; i < p->table_size; i++)
        p->table[i].pushes_this_round = 0;
    for (int pass = 0; pass < 2 && p->todo_count < p->conf.batch; pass++) {
        bool from_start = !p->cursor[0];
        size_t want = p->conf.batch - p->todo_count, before = p->todo_count;
        int rc = st->euicc_push_candidates(st->ctx, from_start ? NULL : p->cursor, want, add_candidate, p);
        if (rc) {
            sgp32_log(SGP32_LOG_WARN, SGP32_LOG_APP, &log_ctx, "push candidates: %s", sgp32_err_str(rc));
            return;
        }
        if (p->todo_count - before == want)
            break; /* a full page: the cursor stays where it is */
        if (pass == 0 && p->todo_count)
            snprintf(p->stop_at, sizeof(p->stop_at), "%s", p->todo[0]);
        p->cursor[0] = '\0'; /* the end: the next page starts over */
        if (from_start)
            break;
    }
}

/* Start transfers until push_parallel are in flight or nothing is left to start. */
static void fill(eimd_push *p)
{
    transfer **link = &p->acks;
    while (p->in_flight < p->conf.parallel && *link) {
        transfer *t = *link;
        device *d = device_get(p, t->eid);
        if (d && d->in_flight) {
            link = &t->next; /* one push per eUICC at a time: later */
            continue;
        }
        *link = t->next;
        t->next = NULL;
        t->dev = d;
        sgp32_eim_euicc e;
        sgp32_eim_euicc_init(&e);
        const sgp32_eim_store *st = &p->conf.srv->config.store;
        if (d && st->euicc_get(st->ctx, t->eid, &e) == SGP32_OK && e.push_address[0])
            transfer_start(p, t, e.push_address);
        else
            transfer_free(t);
        sgp32_eim_euicc_free(&e);
    }
    while (p->in_flight < p->conf.parallel && p->todo_next < p->todo_count)
        push_device(p, p->todo[p->todo_next++]);
}

static bool wait_for_round(eimd_push *p)
{
    pthread_mutex_lock(&p->lock);
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += p->conf.interval;
    while (!p->stop && !p->signalled && pthread_cond_timedwait(&p->cond, &p->lock, &deadline) != ETIMEDOUT)
        ;
    p->signalled = false;
    bool go = !p->stop;
    pthread_mutex_unlock(&p->lock);
    return go;
}

static bool stopping(eimd_push *p)
{
    pthread_mutex_lock(&p->lock);
    bool stop = p->stop;
    pthread_mutex_unlock(&p->lock);
    return stop;
}

static void *worker(void *arg)
{
    eimd_push *p = arg;
    while (wait_for_round(p)) {
        collect(p);
        fill(p);
        while (p->in_flight && !stopping(p)) {
            int running = 0;
            curl_multi_perform(p->multi, &running);
            drain(p);
            fill(p);
            if (p->in_flight)
                curl_multi_poll(p->multi, NULL, 0, 500, NULL);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ API */

int eimd_push_start(const eimd_push_config *conf, eimd_push **out)
{
    *out = NULL;
    eimd_push *p = calloc(1, sizeof(*p));
    if (!p)
        return -1;
    p->conf = *conf;
    p->todo = calloc(conf->batch, sizeof(*p->todo));
    p->multi = curl_multi_init();
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, &attr);
    pthread_condattr_destroy(&attr);
    p->signalled = true; /* a first round at start: what was queued while eimd was down */
    if (!p->todo || !p->multi || pthread_create(&p->thread, NULL, worker, p) != 0) {
        eimd_push_stop(p);
        return -1;
    }
    p->running = true;
    *out = p;
    return 0;
}

void eimd_push_signal(eimd_push *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->signalled = true;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

void eimd_push_stop(eimd_push *p)
{
    if (!p)
        return;
    if (p->running) {
        pthread_mutex_lock(&p->lock);
        p->stop = true;
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->lock);
        if (p->multi)
            curl_multi_wakeup(p->multi);
        pthread_join(p->thread, NULL);
    }
    /* transfers still in flight at the stop: dropped (the operations are delivered again later) */
    while (p->active) {
        transfer *t = p->active;
        unlink_active(p, t);
        transfer_free(t);
    }
    while (p->acks) {
        transfer *t = p->acks;
        p->acks = t->next;
        transfer_free(t);
    }
    if (p->multi)
        curl_multi_cleanup(p->multi);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p->todo);
    free(p->table);
    free(p);
}

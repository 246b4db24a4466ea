/*
 * smdpd's ES2+ callback worker (apps/smdpd/smdpd_callbacks.c) against a scripted local HTTP
 * listener: a thread on 127.0.0.1 that reads one HTTP/1.1 request per connection, records it
 * and answers with the next status of the test's script (then a fixed status), Connection: close.
 * Checked: retries of 503 with a growing delay until delivered; a bearer token on every post; a
 * refused event (400) posted once and not blocking the next; the attempts limit; the order of the
 * queue; a network error retried; a stop during the back-off keeps every event with its retry
 * state in the outbox (an SQLite store, as smdpd's) and the next worker delivers them in order;
 * against an endpoint that never answers, stop cuts the post under way after its grace and keeps
 * it; the body and URL copied; over HTTPS to an endpoint that requires a client certificate,
 * delivered with one and refused in the handshake (retried, kept) without.
 * Waits use condition variables with deadlines; the worker's log is captured by a sink.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <stdatomic.h>

#include "app_http.h"
#include "https_test_server.h"
#include "sgp32/log.h"
#include "smdpd_callbacks.h"

#define PATH   "/gsma/rsp2/es2plus/handleDownloadProgressInfo"
#define WAIT_S 10.0 /* deadline for what must happen; only reached when a test fails */

enum { MAX_REQUESTS = 64, SCRIPT_MAX = 16, LOG_MAX = 64 };

/* ------------------------------------------------------------------ time */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static struct timespec deadline_after(double seconds)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += (time_t)seconds;
    t.tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static void monotonic_cond_init(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
}

/* ------------------------------------------------------------------ captured log */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char lines[LOG_MAX][512];
    size_t count;
} logs = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void log_sink(void *ctx, const sgp32_log_record *record)
{
    (void)ctx;
    pthread_mutex_lock(&logs.lock);
    if (logs.count < LOG_MAX)
        snprintf(logs.lines[logs.count++], sizeof(logs.lines[0]), "%s %s",
                 sgp32_log_level_name(record->level), record->message);
    pthread_cond_broadcast(&logs.cond);
    pthread_mutex_unlock(&logs.lock);
}

static void log_reset(void)
{
    pthread_mutex_lock(&logs.lock);
    logs.count = 0;
    pthread_mutex_unlock(&logs.lock);
}

/* Lines containing `needle`; the lock is held. */
static size_t log_matches_locked(const char *needle)
{
    size_t n = 0;
    for (size_t i = 0; i < logs.count; i++)
        n += strstr(logs.lines[i], needle) != NULL;
    return n;
}

static size_t log_matches(const char *needle)
{
    pthread_mutex_lock(&logs.lock);
    size_t n = log_matches_locked(needle);
    pthread_mutex_unlock(&logs.lock);
    return n;
}

/* Until `n` lines contain `needle`, for at most `seconds`. */
static bool log_wait(const char *needle, size_t n, double seconds)
{
    struct timespec until = deadline_after(seconds);
    pthread_mutex_lock(&logs.lock);
    int rc = 0;
    while (log_matches_locked(needle) < n && rc == 0)
        rc = pthread_cond_timedwait(&logs.cond, &logs.lock, &until);
    bool ok = log_matches_locked(needle) >= n;
    pthread_mutex_unlock(&logs.lock);
    return ok;
}

/* ------------------------------------------------------------------ scripted listener */

typedef struct request {
    char head[2048]; /* request line and headers, up to the blank line */
    char body[1024];
    double at;  /* CLOCK_MONOTONIC seconds when the request was read in full */
    int status; /* what it was answered */
} request;

typedef struct listener {
    int fd, wake[2], port;
    bool running;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    int script[SCRIPT_MAX];
    size_t script_len;
    int then; /* the status once the script is used up */
    request requests[MAX_REQUESTS];
    size_t count;
} listener;

static size_t content_length(const char *head, size_t len)
{
    for (size_t i = 0; i + 16 < len; i++)
        if (!strncasecmp(head + i, "\r\nContent-Length:", 17))
            return strtoul(head + i + 17, NULL, 10);
    return 0;
}

/* One request on connection `c`: read, record, answer, close. */
static void serve(listener *l, int c)
{
    struct timeval tv = {5, 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[8192];
    size_t n = 0, head_len = 0, want = 0;
    while (n < sizeof(buf) - 1) {
        ssize_t k = read(c, buf + n, sizeof(buf) - 1 - n);
        if (k <= 0)
            break;
        n += (size_t)k;
        buf[n] = '\0';
        char *end;
        if (!head_len && (end = strstr(buf, "\r\n\r\n")) != NULL) {
            head_len = (size_t)(end - buf) + 4;
            want = head_len + content_length(buf, head_len);
        }
        if (head_len && n >= want)
            break;
    }
    if (!head_len || n < want) { /* not a whole request: not recorded, not answered */
        close(c);
        return;
    }
    pthread_mutex_lock(&l->lock);
    int status = l->count < l->script_len ? l->script[l->count] : l->then;
    if (l->count < MAX_REQUESTS) {
        request *r = &l->requests[l->count];
        snprintf(r->head, sizeof(r->head), "%.*s", (int)(head_len - 4), buf);
        snprintf(r->body, sizeof(r->body), "%.*s", (int)(want - head_len), buf + head_len);
        r->at = now_s();
        r->status = status;
    }
    l->count++;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
    char reply[160];
    int len =
        status == 204
            ? snprintf(reply, sizeof(reply), "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
            : snprintf(reply, sizeof(reply),
                       "HTTP/1.1 %d Scripted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status);
    (void)!send(c, reply, (size_t)len, MSG_NOSIGNAL);
    shutdown(c, SHUT_WR);
    close(c);
}

static void *listener_thread(void *arg)
{
    listener *l = arg;
    for (;;) {
        struct pollfd fds[2] = {{.fd = l->fd, .events = POLLIN}, {.fd = l->wake[0], .events = POLLIN}};
        if (poll(fds, 2, -1) < 0)
            continue;
        if (fds[1].revents)
            return NULL;
        if (fds[0].revents & POLLIN) {
            int c = accept(l->fd, NULL, NULL);
            if (c >= 0)
                serve(l, c);
        }
    }
}

/* Bound to 127.0.0.1 on a free port but not listening yet: connections to it are refused. */
static listener *listener_bind(const int *script, size_t script_len, int then)
{
    listener *l = calloc(1, sizeof(*l));
    assert_non_null(l);
    assert_true(script_len <= SCRIPT_MAX);
    if (script_len)
        memcpy(l->script, script, script_len * sizeof(*script));
    l->script_len = script_len;
    l->then = then;
    pthread_mutex_init(&l->lock, NULL);
    monotonic_cond_init(&l->cond);
    assert_int_equal(pipe(l->wake), 0);
    l->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(l->fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    assert_int_equal(bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(l->fd, (struct sockaddr *)&sa, &len), 0);
    l->port = ntohs(sa.sin_port);
    return l;
}

static void listener_listen(listener *l)
{
    assert_int_equal(listen(l->fd, 16), 0);
    assert_int_equal(pthread_create(&l->thread, NULL, listener_thread, l), 0);
    l->running = true;
}

static listener *listener_start(const int *script, size_t script_len, int then)
{
    listener *l = listener_bind(script, script_len, then);
    listener_listen(l);
    return l;
}

static void listener_stop(listener *l)
{
    if (!l)
        return;
    if (l->running) {
        (void)!write(l->wake[1], "x", 1);
        pthread_join(l->thread, NULL);
    }
    close(l->fd);
    close(l->wake[0]);
    close(l->wake[1]);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

/* Until `n` requests were received, for at most `seconds`. */
static bool listener_wait(listener *l, size_t n, double seconds)
{
    struct timespec until = deadline_after(seconds);
    pthread_mutex_lock(&l->lock);
    int rc = 0;
    while (l->count < n && rc == 0)
        rc = pthread_cond_timedwait(&l->cond, &l->lock, &until);
    bool ok = l->count >= n;
    pthread_mutex_unlock(&l->lock);
    return ok;
}

static size_t listener_count(listener *l)
{
    pthread_mutex_lock(&l->lock);
    size_t n = l->count;
    pthread_mutex_unlock(&l->lock);
    return n;
}

static request listener_request(listener *l, size_t i)
{
    pthread_mutex_lock(&l->lock);
    assert_true(i < l->count && i < MAX_REQUESTS);
    request r = l->requests[i];
    pthread_mutex_unlock(&l->lock);
    return r;
}

/* The value of header `name` in `r` (first occurrence, leading spaces skipped), or "". */
static void header_value(const request *r, const char *name, char *out, size_t size)
{
    size_t name_len = strlen(name);
    out[0] = '\0';
    for (const char *line = strstr(r->head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        const char *h = line + 2;
        if (strncasecmp(h, name, name_len) || h[name_len] != ':')
            continue;
        h += name_len + 1;
        while (*h == ' ')
            h++;
        const char *end = strstr(h, "\r\n");
        size_t len = end ? (size_t)(end - h) : strlen(h);
        snprintf(out, size, "%.*s", (int)len, h);
        return;
    }
}

/* ------------------------------------------------------------------ fixture */

typedef struct fixture {
    listener *l;
    smdpd_callbacks *cb;
    char url[128];
    sgp32_smdp_sqlite *db; /* the outbox, as smdpd's: an SQLite store (in memory here) */
    sgp32_smdp_store store;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f || sgp32_smdp_sqlite_open(":memory:", &f->db) != SGP32_OK) {
        free(f);
        return -1;
    }
    f->store = sgp32_smdp_sqlite_store(f->db);
    log_reset();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    smdpd_callbacks_stop(f->cb); /* before the listener, so that its last posts are answered */
    listener_stop(f->l);
    sgp32_smdp_sqlite_close(f->db);
    free(f);
    return 0;
}

static void start_worker(fixture *f, int attempts, double first_delay)
{
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d" PATH, f->l->port);
    smdpd_callbacks_config config = {
        .url = f->url, .ca = NULL, .attempts = attempts, .first_delay = first_delay, .store = &f->store};
    f->cb = smdpd_callbacks_start(&config);
    assert_non_null(f->cb);
}

static void stop_worker(fixture *f)
{
    smdpd_callbacks_stop(f->cb);
    f->cb = NULL;
}

static void assert_body(listener *l, size_t i, const char *body)
{
    request r = listener_request(l, i);
    assert_string_equal(r.body, body);
}

/* ------------------------------------------------------------------ tests */

/* 503, 503, 204: three posts of the same body, the delay doubling, then nothing more. */
static void test_retried_until_delivered(void **state)
{
    fixture *f = *state;
    static const int script[] = {503, 503, 204};
    f->l = listener_start(script, 3, 204);
    start_worker(f, 10, 0.2);
    const char *body = "{\"transactionId\":\"0123456789ABCDEF\",\"notificationPointId\":1}";
    assert_true(smdpd_callbacks_post(f->cb, body));
    assert_true(listener_wait(f->l, 3, WAIT_S));
    /* delivered: a 4th post would come 0.8 s after the 3rd if it were retried again */
    assert_false(listener_wait(f->l, 4, 1.0));

    char value[256];
    for (size_t i = 0; i < 3; i++) {
        request r = listener_request(f->l, i);
        assert_string_equal(r.body, body);
        assert_true(!strncmp(r.head, "POST " PATH " HTTP/1.1\r\n", strlen("POST " PATH " HTTP/1.1\r\n")));
        header_value(&r, "Content-Type", value, sizeof(value));
        assert_true(!strncmp(value, "application/json", strlen("application/json")));
        header_value(&r, "X-Admin-Protocol", value, sizeof(value));
        assert_true(!strncmp(value, "gsma/rsp/v2.", strlen("gsma/rsp/v2.")));
        header_value(&r, "Content-Length", value, sizeof(value));
        assert_int_equal(strtoul(value, NULL, 10), strlen(body));
        header_value(&r, "Authorization", value, sizeof(value));
        assert_string_equal(value, ""); /* no token configured: none sent */
    }
    double gap1 = listener_request(f->l, 1).at - listener_request(f->l, 0).at;
    double gap2 = listener_request(f->l, 2).at - listener_request(f->l, 1).at;
    /* the first post of the process costs more (curl's first use), so the slack is on gap1 */
    assert_true(gap1 >= 0.19);       /* first_delay */
    assert_true(gap2 >= 0.38);       /* doubled */
    assert_true(gap2 >= gap1 + 0.1); /* grows (0.2 s more expected) */
    assert_int_equal(log_matches("failed"), 2);
    assert_int_equal(log_matches("dropped"), 0);
}

/* With a token, every post (retries too) carries it as a bearer token; the caller's copy may go. */
static void test_token_sent(void **state)
{
    fixture *f = *state;
    static const int script[] = {503, 204};
    f->l = listener_start(script, 2, 204);
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d" PATH, f->l->port);
    char token[] = "operator-s3cret";
    smdpd_callbacks_config config = {
        .url = f->url, .token = token, .attempts = 3, .first_delay = 0.05, .store = &f->store};
    f->cb = smdpd_callbacks_start(&config);
    assert_non_null(f->cb);
    memset(token, 'x', sizeof(token) - 1);
    assert_true(smdpd_callbacks_post(f->cb, "{\"event\":\"A\"}"));
    assert_true(listener_wait(f->l, 2, WAIT_S));
    char value[256];
    for (size_t i = 0; i < 2; i++) {
        request r = listener_request(f->l, i);
        header_value(&r, "Authorization", value, sizeof(value));
        assert_string_equal(value, "Bearer operator-s3cret");
    }
    /* and it is never logged */
    assert_int_equal(log_matches("operator-s3cret"), 0);
}

/* 408, 429 and 5xx are retried; 200 is delivered as well as 204. */
static void test_retryable_statuses(void **state)
{
    fixture *f = *state;
    static const int script[] = {408, 429, 500, 502, 200};
    f->l = listener_start(script, 5, 204);
    start_worker(f, 10, 0.01);
    assert_true(smdpd_callbacks_post(f->cb, "{\"a\":1}"));
    assert_true(listener_wait(f->l, 5, WAIT_S));
    assert_false(listener_wait(f->l, 6, 0.4));
    for (size_t i = 0; i < 5; i++)
        assert_body(f->l, i, "{\"a\":1}");
    assert_int_equal(log_matches("dropped"), 0);
    assert_int_equal(log_matches("not retried"), 0);
}

/* 400 (and other refusals: 404, 301) are posted once and the next event follows at once. */
static void test_refused_not_retried(void **state)
{
    fixture *f = *state;
    static const int script[] = {400, 404, 301};
    f->l = listener_start(script, 3, 204);
    start_worker(f, 10, 1.0); /* a back-off after a refusal would show as a 1 s gap */
    assert_true(smdpd_callbacks_post(f->cb, "{\"event\":\"A\"}"));
    assert_true(smdpd_callbacks_post(f->cb, "{\"event\":\"B\"}"));
    assert_true(smdpd_callbacks_post(f->cb, "{\"event\":\"C\"}"));
    assert_true(smdpd_callbacks_post(f->cb, "{\"event\":\"D\"}"));
    assert_true(listener_wait(f->l, 4, WAIT_S));
    assert_false(listener_wait(f->l, 5, 0.3));
    assert_body(f->l, 0, "{\"event\":\"A\"}");
    assert_body(f->l, 1, "{\"event\":\"B\"}");
    assert_body(f->l, 2, "{\"event\":\"C\"}");
    assert_body(f->l, 3, "{\"event\":\"D\"}");
    /* no back-off after a refusal: each next event is posted right after the answer */
    for (size_t i = 1; i < 4; i++)
        assert_true(listener_request(f->l, i).at - listener_request(f->l, i - 1).at < 0.5);
    assert_int_equal(log_matches("not retried"), 3);
}

/* attempts = 2 against 503: A posted twice and dropped, then B (also twice); attempts 0 is 1. */
static void test_attempts_limit(void **state)
{
    fixture *f = *state;
    f->l = listener_start(NULL, 0, 503);
    start_worker(f, 2, 0.02);
    assert_true(smdpd_callbacks_post(f->cb, "{\"event\":\"A\"}"));
    assert_true(smdpd_callbacks_post(f->cb, "{\"event\":\"B\"}"));
    assert_true(listener_wait(f->l, 4, WAIT_S));
    assert_false(listener_wait(f->l, 5, 0.3));
    assert_body(f->l, 0, "{\"event\":\"A\"}");
    assert_body(f->l, 1, "{\"event\":\"A\"}");
    assert_body(f->l, 2, "{\"event\":\"B\"}");
    assert_body(f->l, 3, "{\"event\":\"B\"}");
    assert_int_equal(log_matches("dropped after 2 attempts"), 2);
    stop_worker(f);

    /* attempts below 1 means one post */
    log_reset();
    start_worker(f, 0, 0.02);
    assert_true(smdpd_callbacks_post(f->cb, "{\"event\":\"C\"}"));
    assert_true(smdpd_callbacks_post(f->cb, "{\"event\":\"D\"}"));
    assert_true(listener_wait(f->l, 6, WAIT_S));
    assert_false(listener_wait(f->l, 7, 0.3));
    assert_body(f->l, 4, "{\"event\":\"C\"}");
    assert_body(f->l, 5, "{\"event\":\"D\"}");
    assert_int_equal(log_matches("dropped after 1 attempts"), 2);
}

/* Events queued quickly are delivered in the order posted, each once. */
static void test_order(void **state)
{
    fixture *f = *state;
    f->l = listener_start(NULL, 0, 204);
    start_worker(f, 10, 0.05);
    char body[64];
    for (int i = 0; i < 5; i++) {
        snprintf(body, sizeof(body), "{\"notificationPointId\":%d}", i + 1);
        assert_true(smdpd_callbacks_post(f->cb, body));
    }
    assert_true(listener_wait(f->l, 5, WAIT_S));
    assert_false(listener_wait(f->l, 6, 0.2));
    for (int i = 0; i < 5; i++) {
        snprintf(body, sizeof(body), "{\"notificationPointId\":%d}", i + 1);
        assert_body(f->l, (size_t)i, body);
    }
}

/* Connection refused (the port is bound but not listening) is retried; delivered once it listens. */
static void test_network_error_retried(void **state)
{
    fixture *f = *state;
    f->l = listener_bind(NULL, 0, 204);
    start_worker(f, 10, 0.3);
    assert_true(smdpd_callbacks_post(f->cb, "{\"event\":\"A\"}"));
    const char *refused = curl_easy_strerror(CURLE_COULDNT_CONNECT);
    assert_true(log_wait(refused, 1, WAIT_S));
    listener_listen(f->l); /* the retry comes first_delay (0.3 s) after the failure */
    assert_true(listener_wait(f->l, 1, WAIT_S));
    assert_false(listener_wait(f->l, 2, 0.3));
    assert_body(f->l, 0, "{\"event\":\"A\"}");
    assert_true(log_matches(refused) >= 1);
    assert_int_equal(log_matches("dropped"), 0);
}

/* The oldest event of the outbox into item (SGP32_OK), after waiting up to `seconds` for the
 * worker to settle the one it was posting; SGP32_ERR_NOT_FOUND when the outbox is empty then. */
static int outbox_first_after(fixture *f, sgp32_smdp_outbox_item *item, double seconds, bool want_empty)
{
    double until = now_s() + seconds;
    int rc;
    while ((rc = f->store.outbox_first(f->store.ctx, item)) == SGP32_OK && want_empty && now_s() < until)
        nanosleep(&(struct timespec){0, 20000000}, NULL);
    return rc;
}

/* Stop during a back-off returns at once and keeps every event, A with its retry state; the next
 * worker (smdpd started again) delivers them, oldest first, and empties the outbox. */
static void test_stop_keeps_events(void **state)
{
    fixture *f = *state;
    f->l = listener_start(NULL, 0, 503);
    start_worker(f, 10, 30.0);
    assert_true(smdpd_callbacks_post(f->cb, "{\"event\":\"A\"}"));
    assert_true(log_wait("failed", 1, WAIT_S)); /* A's first post answered: the back-off starts */
    assert_true(smdpd_callbacks_post(f->cb, "{\"event\":\"B\"}"));
    assert_true(smdpd_callbacks_post(f->cb, "{\"event\":\"C\"}"));
    double t0 = now_s();
    stop_worker(f);
    assert_true(now_s() - t0 < 1.0);
    assert_false(listener_wait(f->l, 2, 0.2)); /* B and C wait behind A: not posted */

    sgp32_smdp_outbox_item item;
    sgp32_smdp_outbox_item_init(&item);
    assert_int_equal(f->store.outbox_first(f->store.ctx, &item), SGP32_OK);
    assert_int_equal(item.body.len, strlen("{\"event\":\"A\"}"));
    assert_memory_equal(item.body.data, "{\"event\":\"A\"}", item.body.len);
    assert_int_equal(item.attempts, 1);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    int64_t now_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
    assert_true(item.next_attempt > now_ms + 20000); /* the 30 s back-off, stored */

    /* later: the endpoint works again and A's back-off is over */
    pthread_mutex_lock(&f->l->lock);
    f->l->then = 204;
    pthread_mutex_unlock(&f->l->lock);
    assert_int_equal(f->store.outbox_retry(f->store.ctx, item.id, item.attempts, 0), SGP32_OK);
    start_worker(f, 10, 0.05);
    assert_true(listener_wait(f->l, 4, WAIT_S));
    assert_body(f->l, 1, "{\"event\":\"A\"}");
    assert_body(f->l, 2, "{\"event\":\"B\"}");
    assert_body(f->l, 3, "{\"event\":\"C\"}");
    assert_int_equal(outbox_first_after(f, &item, WAIT_S, true), SGP32_ERR_NOT_FOUND);
    assert_false(listener_wait(f->l, 5, 0.2));
    sgp32_smdp_outbox_item_free(&item);
}

/* An endpoint that takes the connection and never answers (listening, never accepting): stop cuts
 * the post under way after its 2 s grace instead of waiting for curl's 10 s timeout, and that
 * event, not counted as an attempt, stays in the outbox with the others. */
static void test_stop_with_silent_endpoint(void **state)
{
    fixture *f = *state;
    f->l = listener_bind(NULL, 0, 204);
    assert_int_equal(listen(f->l->fd, 16), 0); /* the kernel completes connections; nobody reads */
    start_worker(f, 10, 0.05);
    assert_true(smdpd_callbacks_post(f->cb, "{\"event\":\"A\"}"));
    assert_true(smdpd_callbacks_post(f->cb, "{\"event\":\"B\"}"));
    nanosleep(&(struct timespec){0, 200000000}, NULL); /* A's post is under way */
    double t0 = now_s();
    stop_worker(f);
    double took = now_s() - t0;
    assert_true(took >= 1.5); /* the post under way had its grace */
    assert_true(took < 4.0);  /* and no more (curl's progress callback runs about once a second) */
    sgp32_smdp_outbox_item item;
    sgp32_smdp_outbox_item_init(&item);
    assert_int_equal(f->store.outbox_first(f->store.ctx, &item), SGP32_OK);
    assert_memory_equal(item.body.data, "{\"event\":\"A\"}", item.body.len);
    assert_int_equal(item.attempts, 0);
    assert_int_equal(log_matches("dropped"), 0);
    sgp32_smdp_outbox_item_free(&item);
}

/* Stop with nothing queued returns at once; NULL is fine. */
static void test_stop_idle(void **state)
{
    fixture *f = *state;
    f->l = listener_start(NULL, 0, 204);
    start_worker(f, 3, 0.05);
    double t0 = now_s();
    stop_worker(f);
    assert_true(now_s() - t0 < 1.0);
    smdpd_callbacks_stop(NULL);
    assert_int_equal(listener_count(f->l), 0);
}

/* The body is copied by post and the URL by start: their buffers are overwritten and freed. */
static void test_copies(void **state)
{
    fixture *f = *state;
    static const int script[] = {503, 204, 204};
    f->l = listener_start(script, 3, 204);
    start_worker(f, 10, 0.05);
    memset(f->url, 'X', sizeof(f->url) - 1); /* the worker kept its own copy of the URL */

    const char *original = "{\"eid\":\"89049032123451234512345678901235\"}";
    char *body = strdup(original);
    assert_non_null(body);
    assert_true(smdpd_callbacks_post(f->cb, body));
    memset(body, 'Y', strlen(body));
    assert_true(smdpd_callbacks_post(f->cb, body)); /* a second event from the same buffer */
    free(body);                                     /* A is still to be posted again after the 503 */

    assert_true(listener_wait(f->l, 3, WAIT_S));
    assert_false(listener_wait(f->l, 4, 0.2));
    assert_body(f->l, 0, original);
    assert_body(f->l, 1, original);
    char ys[64];
    memset(ys, 'Y', strlen(original));
    ys[strlen(original)] = '\0';
    assert_body(f->l, 2, ys);
}

/* ------------------------------------------------------------------ mutual TLS */

/* An HTTPS listener (libmicrohttpd, 127.0.0.1) with a localhost certificate of a test CI that
 * requires a client certificate of that CI, verified in the handshake (apps/common's
 * sgp32_app_http_require_client_certificate, as smdpd's own ES2+ side does), and answers 204. */
typedef struct tls_listener {
    struct MHD_Daemon *daemon;
    unsigned short port;
    atomic_int verified_posts;
} tls_listener;

static enum MHD_Result tls_answer(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size,
                                  void **con_cls)
{
    (void)url, (void)method, (void)version, (void)upload;
    tls_listener *l = cls;
    if (!*con_cls) { /* the headers: wait for the body */
        *con_cls = l;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (sgp32_app_http_client_verified(c))
        atomic_fetch_add(&l->verified_posts, 1);
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_NO_CONTENT, r);
    MHD_destroy_response(r);
    return ret;
}

static void write_file(const char *path, const sgp32_buf *b)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b->data, 1, b->len, f), b->len);
    fclose(f);
}

/* The worker presents its client certificate (es2_callback_client_certificate / _key) to an
 * operator endpoint that requires one: delivered. Without one the handshake fails: nothing reaches
 * the operator, the post is retried and the event stays in the outbox. */
static void test_client_certificate(void **state)
{
    fixture *f = *state;
    test_pki pki;
    assert_int_equal(test_pki_make(&pki), SGP32_OK);
    sgp32_buf ci_pem; /* the operator's CA for both directions, here one test CI */
    sgp32_buf_init(&ci_pem, 64 * 1024);
    assert_int_equal(test_pem_certificate(&pki.ci_der, &ci_pem), SGP32_OK);
    char dir[] = "/tmp/test_smdpd_callbacks.XXXXXX", ca[64], cert[64], key[64];
    assert_non_null(mkdtemp(dir));
    snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
    snprintf(cert, sizeof(cert), "%s/client.pem", dir);
    snprintf(key, sizeof(key), "%s/client.key", dir);
    write_file(ca, &ci_pem);
    /* the test PKI's certificate is an eIM TLS one, serverAuth and clientAuth: it serves as both */
    write_file(cert, &pki.server_cert_pem);
    write_file(key, &pki.server_key_pem);

    static tls_listener l;
    atomic_init(&l.verified_posts, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    l.daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS, 0, NULL, NULL, tls_answer, &l,
                                MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_HTTPS_MEM_CERT,
                                (const char *)pki.server_cert_pem.data, MHD_OPTION_HTTPS_MEM_KEY,
                                (const char *)pki.server_key_pem.data, MHD_OPTION_HTTPS_MEM_TRUST,
                                (const char *)ci_pem.data, MHD_OPTION_NOTIFY_CONNECTION,
                                sgp32_app_http_require_client_certificate, NULL, MHD_OPTION_END);
    assert_non_null(l.daemon);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(l.daemon, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    snprintf(f->url, sizeof(f->url), "https://localhost:%u" PATH, info->port);

    smdpd_callbacks_config with = {.url = f->url,
                                   .ca = ca,
                                   .client_certificate = cert,
                                   .client_key = key,
                                   .attempts = 5,
                                   .first_delay = 0.2,
                                   .store = &f->store};
    f->cb = smdpd_callbacks_start(&with);
    assert_non_null(f->cb);
    assert_true(smdpd_callbacks_post(f->cb, "{\"notificationPointId\":1}"));
    sgp32_smdp_outbox_item item;
    sgp32_smdp_outbox_item_init(&item);
    assert_int_equal(outbox_first_after(f, &item, WAIT_S, true), SGP32_ERR_NOT_FOUND); /* delivered */
    assert_int_equal(atomic_load(&l.verified_posts), 1);
    assert_int_equal(log_matches("failed"), 0);
    stop_worker(f);

    smdpd_callbacks_config without = with;
    without.client_certificate = without.client_key = NULL;
    f->cb = smdpd_callbacks_start(&without);
    assert_non_null(f->cb);
    assert_true(smdpd_callbacks_post(f->cb, "{\"notificationPointId\":3}"));
    assert_true(log_wait("failed", 2, WAIT_S)); /* refused in the handshake, and retried */
    assert_int_equal(atomic_load(&l.verified_posts), 1);
    stop_worker(f);
    assert_int_equal(f->store.outbox_first(f->store.ctx, &item), SGP32_OK);
    static const char kept[] = "{\"notificationPointId\":3}";
    assert_int_equal(item.body.len, strlen(kept));
    assert_memory_equal(item.body.data, kept, strlen(kept));
    sgp32_smdp_outbox_item_free(&item);

    MHD_stop_daemon(l.daemon);
    unlink(ca), unlink(cert), unlink(key), rmdir(dir);
    sgp32_buf_free(&ci_pem);
    test_pki_free(&pki);
}

int main(void)
{
    monotonic_cond_init(&logs.cond);
    sgp32_log_set_sink(log_sink, NULL);
    sgp32_log_set_level_all(SGP32_LOG_DEBUG);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_retried_until_delivered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_sent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retryable_statuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_not_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attempts_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_network_error_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_keeps_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_with_silent_endpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_certificate, setup, teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    sgp32_log_set_sink(NULL, NULL);
    curl_global_cleanup();
    pthread_cond_destroy(&logs.cond);
    return failed;
}

/*
 * Who runs when: a min-heap of devices keyed by the time they are due (next poll, the IPA's retry
 * time after a failure) and a pool of worker threads that take the earliest due device, run one
 * cycle of it (fleet_device.c) and put it back. Nobody sleeps per device: thousands of devices
 * that wait cost a heap entry each, and --threads bounds the concurrent procedures (and so the
 * TLS connections to the eIM).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "fleet.h"

static bool earlier(const fleet *f, size_t a, size_t b)
{
    const fleet_device *x = &f->devices[f->heap[a]], *y = &f->devices[f->heap[b]];
    return x->due_ms < y->due_ms || (x->due_ms == y->due_ms && x->index < y->index);
}

static void swap(fleet *f, size_t a, size_t b)
{
    size_t t = f->heap[a];
    f->heap[a] = f->heap[b];
    f->heap[b] = t;
    f->devices[f->heap[a]].heap_pos = a;
    f->devices[f->heap[b]].heap_pos = b;
}

static void sift_up(fleet *f, size_t i)
{
    while (i > 0 && earlier(f, i, (i - 1) / 2)) {
        swap(f, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void sift_down(fleet *f, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < f->heap_len && earlier(f, l, m))
            m = l;
        if (r < f->heap_len && earlier(f, r, m))
            m = r;
        if (m == i)
            return;
        swap(f, i, m);
        i = m;
    }
}

static void heap_push(fleet *f, size_t device)
{
    f->heap[f->heap_len] = device;
    f->devices[device].heap_pos = f->heap_len;
    f->heap_len++;
    sift_up(f, f->heap_len - 1);
}

static size_t heap_pop(fleet *f)
{
    size_t top = f->heap[0];
    f->heap_len--;
    if (f->heap_len) {
        f->heap[0] = f->heap[f->heap_len];
        f->devices[f->heap[0]].heap_pos = 0;
        sift_down(f, 0);
    }
    f->devices[top].heap_pos = SIZE_MAX;
    return top;
}

void fleet_poll_all_now(fleet *f)
{
    pthread_mutex_lock(&f->lock);
    int64_t now = fleet_now_ms();
    for (size_t i = 0; i < f->count; i++) {
        fleet_device *d = &f->devices[i];
        d->settled_since_ms = d->last_empty_ms = 0;
        /* a device in backoff keeps its retry time: that is the IPA's decision */
        if (d->heap_pos != SIZE_MAX && d->status != FLEET_DEV_BACKOFF && d->due_ms > now) {
            d->due_ms = now;
            sift_up(f, d->heap_pos);
        }
    }
    pthread_cond_broadcast(&f->wake);
    pthread_mutex_unlock(&f->lock);
}

static void *worker_main(void *arg)
{
    fleet_worker *w = arg;
    fleet *f = w->f;
    pthread_mutex_lock(&f->lock);
    while (!atomic_load(&f->stop)) {
        if (f->heap_len == 0) {
            pthread_cond_wait(&f->wake, &f->lock);
            continue;
        }
        int64_t now = fleet_now_ms();
        fleet_device *d = &f->devices[f->heap[0]];
        if (d->due_ms > now) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t wait_ms = d->due_ms - now;
            ts.tv_sec += (time_t)(wait_ms / 1000);
            ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&f->wake, &f->lock, &ts);
            continue;
        }
        size_t index = heap_pop(f);
        d->status = FLEET_DEV_BUSY;
        pthread_mutex_unlock(&f->lock);
        int64_t due = fleet_run_cycle(w, d);
        pthread_mutex_lock(&f->lock);
        if (d->status == FLEET_DEV_BUSY) /* stopped mid-cycle: it was never finished */
            d->status = d->counters.cycles > 1 ? FLEET_DEV_IDLE : FLEET_DEV_STARTING;
        d->due_ms = due;
        heap_push(f, index);
        pthread_cond_signal(&f->wake); /* a waiting worker may have to wake earlier now */
    }
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

void fleet_worker_init(fleet_worker *w, fleet *f, unsigned id)
{
    memset(w, 0, sizeof(*w));
    w->f = f;
    w->id = id;
    if (getrandom(&w->rng, sizeof(w->rng), GRND_NONBLOCK) != (ssize_t)sizeof(w->rng))
        w->rng = (uint64_t)fleet_now_ms() * 2654435761u + id;
    w->rng |= 1;
    sgp32_buf_init(&w->apdu_rsp, 4096);
    sgp32_buf_init(&w->response, SGP32_HTTPS_DEFAULT_MAX_RESPONSE + 16);
    sgp32_buf_init(&w->es9_rsp, SGP32_HTTPS_DEFAULT_MAX_RESPONSE);
    sgp32_buf_init(&w->es10_rsp, 1 << 16);
}

void fleet_worker_free(fleet_worker *w)
{
    fleet_rest_close(w);
    sgp32_buf_free(&w->apdu_rsp);
    sgp32_buf_free(&w->response);
    sgp32_buf_free(&w->es9_rsp);
    sgp32_buf_free(&w->es10_rsp);
}

int fleet_scheduler_start(fleet *f)
{
    f->heap = calloc(f->count ? f->count : 1, sizeof(*f->heap));
    f->workers = calloc(f->opt.threads, sizeof(*f->workers));
    if (!f->heap || !f->workers)
        return SGP32_ERR_NO_MEMORY;
    int64_t now = fleet_now_ms();
    for (size_t i = 0; i < f->count; i++) {
        f->devices[i].due_ms = now;
        f->devices[i].heap_pos = SIZE_MAX;
        heap_push(f, i);
    }
    for (size_t i = 0; i < f->opt.threads; i++) {
        fleet_worker_init(&f->workers[i], f, (unsigned)i);
        int rc = pthread_create(&f->workers[i].thread, NULL, worker_main, &f->workers[i]);
        if (rc) {
            fleet_worker_free(&f->workers[i]);
            fprintf(stderr, "sgp32-fleet: cannot start worker thread %zu: %s\n", i, strerror(rc));
            return SGP32_ERR_NO_MEMORY;
        }
        f->worker_count++;
    }
    return SGP32_OK;
}

void fleet_scheduler_stop(fleet *f)
{
    pthread_mutex_lock(&f->lock);
    atomic_store(&f->stop, true);
    pthread_cond_broadcast(&f->wake);
    pthread_mutex_unlock(&f->lock);
    for (size_t i = 0; i < f->worker_count; i++) {
        pthread_join(f->workers[i].thread, NULL);
        fleet_worker_free(&f->workers[i]);
    }
    f->worker_count = 0;
    free(f->workers);
    f->workers = NULL;
    free(f->heap);
    f->heap = NULL;
    f->heap_len = 0;
}

/*
 * A firmware-like main for the footprint benchmark (bench/footprint/run.sh): the portable IPA
 * core relays a profile download (the recorded session fuzz/ipa_scripts/indirect.bin: boot,
 * GetEimPackage with a ProfileDownloadTrigger, the mutual authentication relayed by the eIM, a
 * 12 KB BoundProfilePackage streamed to the card segment by segment, the result to the eIM).
 *
 * No OS: a fake card and a fake eIM answer the IPA's actions from the recording (in flash, as
 * const data; what the host hands the IPA is copied into RAM buffers the size a modem and a card
 * driver would have), the clock is a counter, the state blob goes to a RAM "flash page", and
 * every heap byte comes from a static pool through the allocation hook, which counts the peak.
 *
 * Built twice from this file: for the Cortex-M4 (cmake/arm-none-eabi.cmake, newlib-nano, nosys)
 * to measure text and static RAM, and with FOOTPRINT_PRINT (semihosting or a host libc) to run
 * it and print what the hook saw.
 */
#include <string.h>

#include "sgp32/ipa.h"

#ifdef FOOTPRINT_PRINT
#include <stdio.h>
#endif

extern const uint8_t footprint_script[];
extern const uint32_t footprint_script_len;

/* ------------------------------------------------------------------ heap: a static pool */

enum { POOL_SIZE = 48 * 1024, FREE_MAX = 32, ALIGN = 8 };

static uint8_t pool[POOL_SIZE] __attribute__((aligned(ALIGN)));

typedef struct heap_state {
    uint32_t top; /* bump pointer */
    struct {
        uint32_t off, size;
    } free_list[FREE_MAX];
    uint32_t free_count;
    uint32_t live, peak, high_water, failed;
} heap_state;

static heap_state heap;

static uint32_t round_up(size_t n)
{
    return (uint32_t)((n + ALIGN - 1) & ~(size_t)(ALIGN - 1));
}

static void *pool_alloc(void *ctx, size_t size)
{
    heap_state *h = ctx;
    uint32_t n = round_up(size);
    void *p = NULL;
    for (uint32_t i = 0; i < h->free_count && !p; i++) { /* first fit */
        if (h->free_list[i].size < n)
            continue;
        p = pool + h->free_list[i].off;
        h->free_list[i].off += n;
        h->free_list[i].size -= n;
        if (!h->free_list[i].size)
            h->free_list[i] = h->free_list[--h->free_count];
    }
    if (!p) {
        if (POOL_SIZE - h->top < n) {
            h->failed++;
            return NULL;
        }
        p = pool + h->top;
        h->top += n;
        if (h->top > h->high_water)
            h->high_water = h->top;
    }
    h->live += (uint32_t)size;
    if (h->live > h->peak)
        h->peak = h->live;
    return p;
}

static void pool_free(void *ctx, void *ptr, size_t size)
{
    heap_state *h = ctx;
    if (!ptr)
        return;
    uint32_t off = (uint32_t)((uint8_t *)ptr - pool), n = round_up(size);
    h->live -= (uint32_t)size;
    /* merge with free neighbours, then give the top back to the bump pointer */
    for (uint32_t i = 0; i < h->free_count;) {
        if (h->free_list[i].off + h->free_list[i].size == off) {
            off = h->free_list[i].off;
            n += h->free_list[i].size;
        } else if (off + n == h->free_list[i].off) {
            n += h->free_list[i].size;
        } else {
            i++;
            continue;
        }
        h->free_list[i] = h->free_list[--h->free_count];
        i = 0;
    }
    if (off + n == h->top)
        h->top = off;
    else if (h->free_count < FREE_MAX) {
        h->free_list[h->free_count].off = off;
        h->free_list[h->free_count].size = n;
        h->free_count++;
    }
    /* else: leaked to fragmentation (never with the IPA's handful of buffers) */
}

static void *pool_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size)
{
    heap_state *h = ctx;
    uint32_t off = (uint32_t)((uint8_t *)ptr - pool);
    if (off + round_up(old_size) == h->top && off + round_up(new_size) <= POOL_SIZE) { /* grow in place */
        h->top = off + round_up(new_size);
        if (h->top > h->high_water)
            h->high_water = h->top;
        h->live += (uint32_t)(new_size - old_size);
        if (h->live > h->peak)
            h->peak = h->live;
        return ptr;
    }
    void *p = pool_alloc(ctx, new_size);
    if (!p)
        return NULL;
    memcpy(p, ptr, old_size < new_size ? old_size : new_size);
    pool_free(ctx, ptr, old_size);
    return p;
}

/* ------------------------------------------------------------------ the fake card and eIM */

enum { CHUNK = 512, APDU_RSP_MAX = 258, STEP_MAX = 100000 };

static uint8_t rx_buffer[CHUNK];          /* the modem's receive buffer */
static uint8_t apdu_buffer[APDU_RSP_MAX]; /* the card driver's response buffer */
static uint8_t flash_page[128];           /* where SAVE_STATE goes */

typedef struct fake {
    uint32_t kick_off, card_off, server_off;
    const uint8_t *body;
    uint32_t body_len, body_off;
} fake;

/* The next record of one of types from *off (type, data, length); 0 at the end. */
static int next_of(uint32_t *off, const char *types, const uint8_t **data, uint32_t *len)
{
    while (*off + 4 <= footprint_script_len) {
        const uint8_t *r = footprint_script + *off;
        uint32_t n = (uint32_t)r[1] << 16 | (uint32_t)r[2] << 8 | r[3];
        *off += 4 + n;
        if (strchr(types, r[0])) {
            *data = r + 4;
            *len = n;
            return r[0];
        }
    }
    return 0;
}

static void chunk(fake *f, sgp32_ipa_event *ev)
{
    uint32_t n = f->body_len - f->body_off;
    if (n > CHUNK)
        n = CHUNK;
    memcpy(rx_buffer, f->body + f->body_off, n);
    f->body_off += n;
    ev->type = SGP32_IPA_EV_RESPONSE;
    ev->data = (sgp32_bytes){rx_buffer, n};
    ev->more = f->body_off < f->body_len;
}

typedef struct footprint_result {
    uint32_t done, steps, apdus, exchanges, segments, installed, failures;
    uint32_t peak_heap, pool_high_water, bpp_bytes, alloc_failures;
} footprint_result;

volatile footprint_result footprint; /* read by the debugger (or printed) */

static int run(void)
{
    const sgp32_alloc_hooks hooks = {pool_alloc, pool_realloc, pool_free, &heap};
    sgp32_alloc_set_hooks(&hooks);

    sgp32_ipa_config config;
    memset(&config, 0, sizeof(config));
    const uint8_t *s = footprint_script;
    config.ipa_features = (uint32_t)s[5] << 24 | (uint32_t)s[6] << 16 | (uint32_t)s[7] << 8 | s[8];
    config.message_max = FOOTPRINT_MESSAGE_MAX;
    config.segment_max = FOOTPRINT_SEGMENT_MAX;
    sgp32_ipa *ipa;
    if (sgp32_ipa_init(&ipa, &config) != SGP32_OK)
        return 1;
    fake f = {9, 9, 9, NULL, 0, 0};
    const uint8_t *data;
    uint32_t len, bpp_bytes = 0;
    sgp32_ipa_event ev = {.type = SGP32_IPA_EV_NONE, .now = 1000};
    sgp32_ipa_action a;
    int64_t now = 1000;
    uint32_t step, apdus = 0, exchanges = 0;
    if (next_of(&f.kick_off, "B", &data, &len) != 'B' || sgp32_ipa_start_boot(ipa) != SGP32_OK)
        return 2;
    for (step = 0; step < STEP_MAX; step++) {
        ev.now = now;
        if (sgp32_ipa_step(ipa, &ev, &a) != SGP32_OK)
            return 3;
        memset(&ev, 0, sizeof(ev));
        ev.now = now;
        ev.random = step * 2654435761u;
        if (a.type == SGP32_IPA_ACT_IDLE)
            break;
        switch (a.type) {
        case SGP32_IPA_ACT_TRANSMIT_APDU:
            apdus++;
            if (next_of(&f.card_off, "A", &data, &len) != 'A' || len > APDU_RSP_MAX) {
                ev.type = SGP32_IPA_EV_TRANSPORT_ERROR;
                break;
            }
            memcpy(apdu_buffer, data, len);
            ev.type = SGP32_IPA_EV_APDU_RESPONSE;
            ev.data = (sgp32_bytes){apdu_buffer, len};
            break;
        case SGP32_IPA_ACT_RESET_CARD: ev.type = SGP32_IPA_EV_CARD_RESET; break;
        case SGP32_IPA_ACT_SEND_ESIPA:
        case SGP32_IPA_ACT_SEND_ES9PLUS:
            exchanges++;
            if (next_of(&f.server_off, "E", &data, &len) != 'E' || len < 1) {
                ev.type = SGP32_IPA_EV_TRANSPORT_ERROR;
                break;
            }
            f.body = data + 1;
            f.body_len = len - 1;
            f.body_off = 0;
            if (a.function == SGP32_IPA_FN_GET_BOUND_PROFILE_PACKAGE)
                bpp_bytes = f.body_len;
            chunk(&f, &ev);
            break;
        case SGP32_IPA_ACT_RECEIVE_MORE: chunk(&f, &ev); break;
        case SGP32_IPA_ACT_PUSH_RESPONSE: ev.type = SGP32_IPA_EV_NONE; break;
        case SGP32_IPA_ACT_SAVE_STATE:
            if (a.data.len > sizeof(flash_page))
                return 4;
            memcpy(flash_page, a.data.data, a.data.len);
            ev.type = SGP32_IPA_EV_STATE_SAVED;
            break;
        case SGP32_IPA_ACT_WAIT:
            now = a.until;
            ev.now = now;
            ev.type = SGP32_IPA_EV_TIMER;
            break;
        default: return 5;
        }
    }
    const sgp32_ipa_stats *st = sgp32_ipa_get_stats(ipa);
    footprint.steps = step;
    footprint.apdus = apdus;
    footprint.exchanges = exchanges;
    footprint.segments = st->bpp_segments;
    footprint.installed = st->downloads_installed;
    footprint.failures = st->failures;
    footprint.bpp_bytes = bpp_bytes;
    sgp32_ipa_free(ipa);
    footprint.peak_heap = heap.peak;
    footprint.pool_high_water = heap.high_water;
    footprint.alloc_failures = heap.failed;
    footprint.done = heap.live == 0 && st->downloads_installed == 1 && st->failures == 0;
    return footprint.done ? 0 : 6;
}

int main(void)
{
    int rc = run();
#ifdef FOOTPRINT_PRINT
    printf("rc=%d installed=%u failures=%u steps=%u apdus=%u exchanges=%u segments=%u bpp_bytes=%u\n", rc,
           (unsigned)footprint.installed, (unsigned)footprint.failures, (unsigned)footprint.steps,
           (unsigned)footprint.apdus, (unsigned)footprint.exchanges, (unsigned)footprint.segments,
           (unsigned)footprint.bpp_bytes);
    printf("peak_heap_bytes=%u pool_high_water_bytes=%u alloc_failures=%u sizeof_pointer=%u\n",
           (unsigned)footprint.peak_heap, (unsigned)footprint.pool_high_water,
           (unsigned)footprint.alloc_failures, (unsigned)sizeof(void *));
#endif
    return rc;
}

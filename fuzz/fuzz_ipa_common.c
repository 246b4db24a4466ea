/*
 * The replay driver of the IPA fuzz targets (fuzz_ipa_esipa, fuzz_ipa_apdu): see fuzz/fuzz_ipa.h.
 *
 * A recorded session answers the IPA: card answers in order from the script's APDU records,
 * server answers in order from its ESipa/ES9+ records, and the work requests (boot, poll, push)
 * whenever the IPA goes IDLE. The host side of every other action is done here (card reset,
 * state saved, timers). Every answer handed to the IPA is a fresh heap copy of exactly its size,
 * freed as soon as the contract of include/sgp32/ipa.h allows (APDU responses and pushed bodies
 * right after the call, response chunks when the next chunk or response is fed), so ASan sees a
 * core that keeps a view too long.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "fuzz_ipa.h"
#include "sgp32/log.h"

#ifndef SGP32_SOURCE_DIR
#error "SGP32_SOURCE_DIR: the scripts are read from fuzz/ipa_scripts/"
#endif

enum {
    MESSAGE_MAX = 8192, /* the IPA defaults (config 0) */
    SEGMENT_MAX = 2048,
    STEP_MAX = 400000,
    WAIT_MAX = 6,
    LIVE_MAX = 64,
};

/* ------------------------------------------------------------------ scripts (loaded once) */

typedef struct loaded_script {
    uint8_t *data;
    size_t len;
    size_t card_answers;
} loaded_script;

static loaded_script cache[FUZZ_IPA_SCRIPT_COUNT];

static bool record_at(const loaded_script *s, size_t *off, uint8_t *type, const uint8_t **data, size_t *len)
{
    if (*off + 4 > s->len)
        return false;
    const uint8_t *r = s->data + *off;
    size_t n = (size_t)r[1] << 16 | (size_t)r[2] << 8 | r[3];
    if (n > s->len - *off - 4)
        return false;
    *type = r[0];
    *data = r + 4;
    *len = n;
    *off += 4 + n;
    return true;
}

static const loaded_script *script(const char *name)
{
    size_t i = 0;
    while (i < FUZZ_IPA_SCRIPT_COUNT && strcmp(fuzz_ipa_scripts[i], name) != 0)
        i++;
    if (i == FUZZ_IPA_SCRIPT_COUNT)
        sgp32_fuzz_fail("unknown IPA script", name, NULL, 0);
    loaded_script *s = &cache[i];
    if (s->data)
        return s;
    char path[1024];
    snprintf(path, sizeof(path), "%s/fuzz/ipa_scripts/%s.bin", SGP32_SOURCE_DIR, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        sgp32_fuzz_fail("cannot open the IPA script (tests/unit/make_ipa_scripts.c writes it)", path, NULL,
                        0);
    size_t cap = 1 << 16, len = 0;
    uint8_t *data = malloc(cap);
    size_t n;
    while (data && (n = fread(data + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap)
            data = realloc(data, cap *= 2);
    }
    fclose(f);
    if (!data || len < FUZZ_IPA_HEADER || memcmp(data, "IPAS\1", 5) != 0)
        sgp32_fuzz_fail("not an IPA script", path, NULL, 0);
    s->data = data;
    s->len = len;
    size_t off = FUZZ_IPA_HEADER;
    uint8_t type;
    const uint8_t *d;
    while (record_at(s, &off, &type, &d, &n))
        if (type == FUZZ_IPA_REC_APDU || type == FUZZ_IPA_REC_APDU_ERROR)
            s->card_answers++;
    return s;
}

size_t sgp32_fuzz_ipa_card_answers(const char *name)
{
    return script(name)->card_answers;
}

/* ------------------------------------------------------------------ the allocation hook */

typedef struct heap {
    size_t live, peak, biggest, first;
    size_t blocks;
    struct {
        void *p;
        size_t size;
    } block[LIVE_MAX];
    const char *error;
} heap;

static void heap_add(heap *h, void *p, size_t size)
{
    if (!h->first)
        h->first = size; /* sgp32_ipa_init: the struct */
    else if (size > h->biggest)
        h->biggest = size;
    if (h->blocks == LIVE_MAX) {
        h->error = "more than 64 live blocks";
        return;
    }
    h->block[h->blocks].p = p;
    h->block[h->blocks].size = size;
    h->blocks++;
    h->live += size;
    if (h->live > h->peak)
        h->peak = h->live;
}

static bool heap_remove(heap *h, void *p, size_t size)
{
    for (size_t i = 0; i < h->blocks; i++) {
        if (h->block[i].p != p)
            continue;
        if (h->block[i].size != size)
            h->error = "freed with a size other than allocated";
        h->live -= h->block[i].size;
        h->block[i] = h->block[--h->blocks];
        return true;
    }
    h->error = "freed a block not allocated through the hook";
    return false;
}

static void *hook_alloc(void *ctx, size_t size)
{
    void *p = malloc(size);
    if (p)
        heap_add(ctx, p, size);
    return p;
}

static void *hook_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size)
{
    if (!heap_remove(ctx, ptr, old_size))
        return NULL;
    void *p = realloc(ptr, new_size);
    heap_add(ctx, p ? p : ptr, p ? new_size : old_size);
    return p;
}

static void hook_free(void *ctx, void *ptr, size_t size)
{
    if (ptr && heap_remove(ctx, ptr, size))
        free(ptr);
}

/* ------------------------------------------------------------------ the host */

typedef struct replay {
    const fuzz_ipa_run *run;
    const loaded_script *s;
    size_t kick_off, card_off, server_off;
    size_t card_n;        /* card answers given */
    size_t apdu_pos;      /* in run->apdu */
    unsigned fn_seen[16]; /* server answers per function */
    unsigned pushes;      /* pushes started */
    const uint8_t *body;  /* the response being delivered */
    size_t body_len, body_off, chunk;
    uint8_t *chunk_copy; /* the chunk handed over (kept until the next one is fed) */
    uint8_t *apdu_copy;  /* the APDU response handed over (freed after the step) */
    uint8_t blob[256];
    size_t blob_len;
    bool has_blob;
} replay;

static bool next_of(replay *r, size_t *off, const char *types, uint8_t *type, const uint8_t **data,
                    size_t *len)
{
    while (record_at(r->s, off, type, data, len))
        if (strchr(types, *type))
            return true;
    return false;
}

static uint8_t *copy_of(const uint8_t *data, size_t len)
{
    uint8_t *p = malloc(len ? len : 1);
    if (!p)
        abort();
    if (len)
        memcpy(p, data, len);
    return p;
}

/* The next work request, when the IPA went IDLE; false when the script has none left. */
static bool kick(replay *r, sgp32_ipa *ipa)
{
    uint8_t type;
    const uint8_t *data;
    size_t len;
    while (next_of(r, &r->kick_off, "BPU", &type, &data, &len)) {
        if (type == FUZZ_IPA_REC_BOOT)
            return sgp32_ipa_start_boot(ipa) == SGP32_OK;
        if (type == FUZZ_IPA_REC_POLL)
            return sgp32_ipa_start_poll(ipa) == SGP32_OK;
        const fuzz_ipa_run *run = r->run;
        if (run->function == SGP32_IPA_FN_TRANSFER_EIM_PACKAGE && r->pushes == run->nth) {
            data = run->body;
            len = run->body_len;
        }
        r->pushes++;
        /* start_push copies the body: hand it a copy that dies right after */
        uint8_t *copy = copy_of(data, len);
        int rc = sgp32_ipa_start_push(ipa, len ? copy : NULL, len);
        free(copy);
        if (rc == SGP32_OK)
            return true;
        if (rc != SGP32_ERR_INVALID_ARGUMENT && rc != SGP32_ERR_CAPACITY) /* empty, above message_max */
            sgp32_fuzz_fail("sgp32_ipa_start_push refused an idle IPA", sgp32_err_str(rc), data, len);
    }
    return false;
}

static void card_answer(replay *r, sgp32_ipa_event *ev)
{
    const fuzz_ipa_run *run = r->run;
    size_t index = r->card_n++;
    uint8_t type;
    const uint8_t *data = NULL;
    size_t len = 0;
    bool have = next_of(r, &r->card_off, "Aa", &type, &data, &len);
    if (run->apdu_override && index >= run->apdu_from && r->apdu_pos < run->apdu_len) {
        uint8_t l = run->apdu[r->apdu_pos++];
        if (l == 0xFE) {
            have = true;
            type = FUZZ_IPA_REC_APDU_ERROR;
        } else if (l != 0xFF) {
            size_t n = l;
            if (l == 0xFD)
                n = 253 + (r->apdu_pos < run->apdu_len ? run->apdu[r->apdu_pos++] : 0);
            if (n > run->apdu_len - r->apdu_pos)
                n = run->apdu_len - r->apdu_pos;
            have = true;
            type = FUZZ_IPA_REC_APDU;
            data = run->apdu + r->apdu_pos;
            len = n;
            r->apdu_pos += n;
        }
    }
    if (!have || type == FUZZ_IPA_REC_APDU_ERROR) {
        ev->type = SGP32_IPA_EV_TRANSPORT_ERROR;
        ev->status = -6;
        return;
    }
    r->apdu_copy = copy_of(data, len);
    ev->type = SGP32_IPA_EV_APDU_RESPONSE;
    ev->data = (sgp32_bytes){r->apdu_copy, len};
}

static void deliver_chunk(replay *r, sgp32_ipa_event *ev)
{
    size_t n = r->body_len - r->body_off;
    if (r->chunk && n > r->chunk)
        n = r->chunk;
    /* A chunk stays until the next one is fed (a GetBoundProfilePackage chunk is walked in
     * place while its segments go to the card); the previous one dies now. */
    free(r->chunk_copy);
    uint8_t *copy = copy_of(r->body + r->body_off, n);
    ev->type = SGP32_IPA_EV_RESPONSE;
    ev->data = (sgp32_bytes){n ? copy : NULL, n};
    r->body_off += n;
    ev->more = r->body_off < r->body_len;
    r->chunk_copy = copy;
}

static void server_answer(replay *r, const sgp32_ipa_action *a, sgp32_ipa_event *ev)
{
    const fuzz_ipa_run *run = r->run;
    unsigned fn = (unsigned)a->function & 15;
    unsigned nth = r->fn_seen[fn]++;
    uint8_t type;
    const uint8_t *data;
    size_t len;
    bool have = next_of(r, &r->server_off, "Ee", &type, &data, &len);
    if (run->function != SGP32_IPA_FN_NONE && run->function != SGP32_IPA_FN_TRANSFER_EIM_PACKAGE &&
        (unsigned)run->function == fn && nth == run->nth) {
        r->body = run->body;
        r->body_len = run->body_len;
        r->chunk = run->chunk;
    } else if (!have || type == FUZZ_IPA_REC_SERVER_ERROR || len < 1) {
        ev->type = SGP32_IPA_EV_TRANSPORT_ERROR;
        ev->status = 503;
        return;
    } else {
        r->body = data + 1;
        r->body_len = len - 1;
        r->chunk = 0;
    }
    r->body_off = 0;
    deliver_chunk(r, ev);
}

static void check_action(const sgp32_ipa_action *a, int64_t now)
{
    switch (a->type) {
    case SGP32_IPA_ACT_TRANSMIT_APDU:
        if (!a->data.data || a->data.len < 4 || a->data.len > 5 + 255 + 1)
            sgp32_fuzz_fail("malformed command APDU", "TRANSMIT_APDU", a->data.data, a->data.len);
        break;
    case SGP32_IPA_ACT_SEND_ESIPA:
    case SGP32_IPA_ACT_SEND_ES9PLUS:
        if (!a->data.data || !a->data.len || a->data.len > MESSAGE_MAX || !a->address || !a->address[0])
            sgp32_fuzz_fail("malformed request", sgp32_ipa_function_name(a->function), a->data.data,
                            a->data.len);
        break;
    case SGP32_IPA_ACT_PUSH_RESPONSE:
        if (!a->data.data || !a->data.len || a->data.len > MESSAGE_MAX)
            sgp32_fuzz_fail("malformed push response", "PUSH_RESPONSE", a->data.data, a->data.len);
        break;
    case SGP32_IPA_ACT_SAVE_STATE:
        if (!a->data.data || !a->data.len || a->data.len > 128)
            sgp32_fuzz_fail("malformed state blob", "SAVE_STATE", a->data.data, a->data.len);
        break;
    case SGP32_IPA_ACT_WAIT:
        if (a->until < now)
            sgp32_fuzz_fail("WAIT until a time already past", "WAIT", NULL, 0);
        break;
    default: break;
    }
}

static sgp32_ipa_config config_for(const loaded_script *s)
{
    sgp32_ipa_config c;
    memset(&c, 0, sizeof(c));
    /* as tests/unit/ipa_host.c recorded it */
    c.ipa_features =
        (uint32_t)s->data[5] << 24 | (uint32_t)s->data[6] << 16 | (uint32_t)s->data[7] << 8 | s->data[8];
    c.backoff_base_s = 10;
    c.backoff_max_s = 100;
    c.rollback_after = 2;
    return c;
}

int sgp32_fuzz_ipa_run(const fuzz_ipa_run *run)
{
    replay r;
    memset(&r, 0, sizeof(r));
    r.run = run;
    r.s = script(run->script);
    r.kick_off = r.card_off = r.server_off = FUZZ_IPA_HEADER;
    sgp32_ipa_config config = config_for(r.s);

    sgp32_log_set_level(SGP32_LOG_IPA, SGP32_LOG_ERROR); /* hostile answers are warnings: too many */
    heap h;
    memset(&h, 0, sizeof(h));
    const sgp32_alloc_hooks hooks = {hook_alloc, hook_realloc, hook_free, &h};
    sgp32_alloc_set_hooks(&hooks);

    sgp32_ipa *ipa = NULL;
    if (sgp32_ipa_init(&ipa, &config) != SGP32_OK)
        sgp32_fuzz_fail("sgp32_ipa_init", run->script, NULL, 0);
    sgp32_ipa_event ev = {.type = SGP32_IPA_EV_NONE, .now = 1000};
    sgp32_ipa_action a;
    int64_t now = 1000;
    bool idle = false, ended = false;
    unsigned waits = 0;
    if (!kick(&r, ipa))
        sgp32_fuzz_fail("script without a work request", run->script, NULL, 0);
    for (size_t step = 0; step < STEP_MAX && !ended; step++) {
        ev.now = now;
        int rc = sgp32_ipa_step(ipa, &ev, &a);
        free(r.apdu_copy); /* an APDU response lives for the step only */
        r.apdu_copy = NULL;
        if (rc != SGP32_OK)
            sgp32_fuzz_fail("sgp32_ipa_step refused a well-formed answer", sgp32_err_str(rc), ev.data.data,
                            ev.data.len);
        if (h.error)
            sgp32_fuzz_fail("allocation hook", h.error, NULL, 0);
        check_action(&a, now);
        memset(&ev, 0, sizeof(ev));
        ev.now = now;
        ev.random = (uint32_t)(step * 2654435761u);
        switch (a.type) {
        case SGP32_IPA_ACT_IDLE:
            if (!kick(&r, ipa)) {
                idle = true;
                ended = true;
            }
            ev.type = SGP32_IPA_EV_NONE;
            break;
        case SGP32_IPA_ACT_TRANSMIT_APDU: card_answer(&r, &ev); break;
        case SGP32_IPA_ACT_RESET_CARD: ev.type = SGP32_IPA_EV_CARD_RESET; break;
        case SGP32_IPA_ACT_SEND_ESIPA:
        case SGP32_IPA_ACT_SEND_ES9PLUS: server_answer(&r, &a, &ev); break;
        case SGP32_IPA_ACT_RECEIVE_MORE:
            if (!r.body || r.body_off >= r.body_len)
                sgp32_fuzz_fail("RECEIVE_MORE after the last chunk", "RECEIVE_MORE", NULL, 0);
            deliver_chunk(&r, &ev);
            break;
        case SGP32_IPA_ACT_PUSH_RESPONSE: ev.type = SGP32_IPA_EV_NONE; break;
        case SGP32_IPA_ACT_SAVE_STATE:
            memcpy(r.blob, a.data.data, a.data.len);
            r.blob_len = a.data.len;
            r.has_blob = true;
            ev.type = SGP32_IPA_EV_STATE_SAVED;
            break;
        case SGP32_IPA_ACT_WAIT:
            if (++waits > WAIT_MAX) {
                ended = true;
                break;
            }
            now = a.until;
            ev.now = now;
            ev.type = SGP32_IPA_EV_TIMER;
            break;
        default: sgp32_fuzz_fail("unknown action", sgp32_ipa_action_name(a.type), NULL, 0);
        }
    }
    free(r.chunk_copy);
    free(r.apdu_copy);
    if (!ended)
        sgp32_fuzz_fail("the session did not end within the step budget", run->script, NULL, 0);
    bool clean = idle && sgp32_ipa_get_stats(ipa)->failures == 0;
    sgp32_ipa_free(ipa);

    /* memory: within the caps, nothing left */
    size_t bound = h.first + 6 * MESSAGE_MAX + SEGMENT_MAX;
    if (h.error)
        sgp32_fuzz_fail("allocation hook", h.error, NULL, 0);
    if (h.live || h.blocks)
        sgp32_fuzz_fail("heap left after sgp32_ipa_free", run->script, NULL, 0);
    if (h.peak > bound || h.biggest > MESSAGE_MAX) {
        char what[128];
        snprintf(what, sizeof(what), "peak %zu > %zu or block %zu > %u", h.peak, bound, h.biggest,
                 (unsigned)MESSAGE_MAX);
        sgp32_fuzz_fail("heap beyond the configured caps", what, NULL, 0);
    }

    /* the last state blob loads into a new IPA */
    if (r.has_blob) {
        if (sgp32_ipa_init(&ipa, &config) != SGP32_OK)
            sgp32_fuzz_fail("sgp32_ipa_init", run->script, NULL, 0);
        int rc = sgp32_ipa_load_state(ipa, r.blob, r.blob_len);
        sgp32_ipa_free(ipa);
        if (rc != SGP32_OK)
            sgp32_fuzz_fail("a saved state blob does not load", sgp32_err_str(rc), r.blob, r.blob_len);
    }
    sgp32_alloc_set_hooks(NULL);
    return clean ? SGP32_OK : SGP32_ERR_IO;
}

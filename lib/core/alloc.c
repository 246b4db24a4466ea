/*
 * The one allocation hook, the arena and the capped buffer.
 * Every heap byte of the libraries passes through sgp32_alloc/realloc/free.
 */
#include <stdlib.h>
#include <string.h>

#include "sgp32/alloc.h"

static void *default_alloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size);
}
static void *default_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size)
{
    (void)ctx;
    (void)old_size;
    return realloc(ptr, new_size);
}
static void default_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    (void)size;
    free(ptr);
}

static const sgp32_alloc_hooks default_hooks = {default_alloc, default_realloc, default_free, NULL};
static const sgp32_alloc_hooks *hooks = &default_hooks;

void sgp32_alloc_set_hooks(const sgp32_alloc_hooks *new_hooks)
{
    hooks = new_hooks ? new_hooks : &default_hooks;
}

void *sgp32_alloc(size_t size)
{
    void *p = hooks->alloc(hooks->ctx, size ? size : 1);
    if (p)
        memset(p, 0, size);
    return p;
}

void *sgp32_realloc(void *ptr, size_t old_size, size_t new_size)
{
    if (!ptr)
        return sgp32_alloc(new_size);
    return hooks->realloc(hooks->ctx, ptr, old_size, new_size ? new_size : 1);
}

void sgp32_free(void *ptr, size_t size)
{
    if (ptr)
        hooks->free(hooks->ctx, ptr, size);
}

/* ------------------------------------------------------------------ arena */

struct sgp32_arena_chunk {
    sgp32_arena_chunk *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    max_align_t data[]; /* aligned payload */
};

enum { ARENA_MIN_CHUNK = 2048, ALIGN = _Alignof(max_align_t) };

static size_t align_up(size_t n)
{
    return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

void sgp32_arena_init(sgp32_arena *arena, size_t cap)
{
    memset(arena, 0, sizeof(*arena));
    arena->cap = cap;
}

void sgp32_arena_init_fixed(sgp32_arena *arena, void *storage, size_t size)
{
    memset(arena, 0, sizeof(*arena));
    /* Start at an aligned address inside the caller's storage. */
    uintptr_t start = (uintptr_t)storage;
    uintptr_t aligned = (start + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1);
    size_t skip = (size_t)(aligned - start);
    arena->fixed = (uint8_t *)storage + (skip <= size ? skip : size);
    arena->fixed_size = skip <= size ? size - skip : 0;
    arena->cap = arena->fixed_size;
}

void *sgp32_arena_alloc(sgp32_arena *arena, size_t size)
{
    size_t need = align_up(size ? size : 1);
    if (need < size || need > arena->cap - arena->used)
        return NULL;
    void *p;
    if (arena->fixed) {
        if (need > arena->fixed_size - arena->fixed_used)
            return NULL;
        p = arena->fixed + arena->fixed_used;
        arena->fixed_used += need;
    } else {
        sgp32_arena_chunk *c = arena->chunks;
        if (!c || need > c->size - c->used) {
            size_t chunk = need > ARENA_MIN_CHUNK ? need : ARENA_MIN_CHUNK;
            c = sgp32_alloc(sizeof(*c) + chunk);
            if (!c)
                return NULL;
            c->size = chunk;
            c->next = arena->chunks;
            arena->chunks = c;
        }
        p = (uint8_t *)c->data + c->used;
        c->used += need;
    }
    arena->used += need;
    memset(p, 0, need);
    return p;
}

void sgp32_arena_free(sgp32_arena *arena)
{
    sgp32_arena_chunk *c = arena->chunks;
    while (c) {
        sgp32_arena_chunk *next = c->next;
        sgp32_free(c, sizeof(*c) + c->size);
        c = next;
    }
    arena->chunks = NULL;
    arena->used = 0;
    arena->fixed_used = 0;
}

/* --------------------------------------------------------- capped buffer */

void sgp32_buf_init(sgp32_buf *buf, size_t max)
{
    memset(buf, 0, sizeof(*buf));
    buf->max = max;
}

void sgp32_buf_init_fixed(sgp32_buf *buf, void *storage, size_t size)
{
    memset(buf, 0, sizeof(*buf));
    buf->data = storage;
    buf->alloc = size;
    buf->max = size;
    buf->fixed = true;
}

int sgp32_buf_extend(sgp32_buf *buf, size_t len, uint8_t **out)
{
    if (len > buf->max - buf->len)
        return SGP32_ERR_CAPACITY;
    size_t need = buf->len + len;
    if (need > buf->alloc) {
        if (buf->fixed)
            return SGP32_ERR_CAPACITY;
        size_t grow = buf->alloc ? buf->alloc * 2 : 256;
        if (grow < need)
            grow = need;
        if (grow > buf->max)
            grow = buf->max;
        uint8_t *p = sgp32_realloc(buf->data, buf->alloc, grow);
        if (!p)
            return SGP32_ERR_NO_MEMORY;
        buf->data = p;
        buf->alloc = grow;
    }
    if (out) /* an empty buffer has no storage yet: NULL + 0 is undefined in C */
        *out = buf->data ? buf->data + buf->len : NULL;
    buf->len = need;
    return SGP32_OK;
}

int sgp32_buf_append(sgp32_buf *buf, const void *data, size_t len)
{
    uint8_t *dst;
    int rc = sgp32_buf_extend(buf, len, &dst);
    if (rc == SGP32_OK && len)
        memcpy(dst, data, len);
    return rc;
}

int sgp32_buf_append_byte(sgp32_buf *buf, uint8_t byte)
{
    return sgp32_buf_append(buf, &byte, 1);
}

void sgp32_buf_reset(sgp32_buf *buf)
{
    buf->len = 0;
}

void sgp32_buf_free(sgp32_buf *buf)
{
    if (!buf->fixed)
        sgp32_free(buf->data, buf->alloc);
    size_t max = buf->fixed ? 0 : buf->max;
    memset(buf, 0, sizeof(*buf));
    buf->max = max;
}

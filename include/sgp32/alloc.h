/*
 * Memory with an owner (design principle 7).
 *
 * All heap use in the libraries goes through one hook so that tests can fail
 * every allocation in turn and embedded builds can measure peak heap.
 * Two owners sit on top of it: the arena (per-transaction, freed at once) and
 * the capped buffer (growable, with a hard cap).
 */
#ifndef SGP32_ALLOC_H
#define SGP32_ALLOC_H

#include "sgp32/core.h"

typedef struct sgp32_alloc_hooks {
    void *(*alloc)(void *ctx, size_t size);
    void *(*realloc)(void *ctx, void *ptr, size_t old_size, size_t new_size);
    void (*free)(void *ctx, void *ptr, size_t size);
    void *ctx;
} sgp32_alloc_hooks;

/* Install hooks for the whole process; NULL restores malloc/realloc/free. */
void sgp32_alloc_set_hooks(const sgp32_alloc_hooks *hooks);

void *sgp32_alloc(size_t size); /* zero-filled */
void *sgp32_realloc(void *ptr, size_t old_size, size_t new_size);
void sgp32_free(void *ptr, size_t size);

/* --- arena: bump allocation in chunks, everything freed together --- */
typedef struct sgp32_arena_chunk sgp32_arena_chunk;
typedef struct sgp32_arena {
    sgp32_arena_chunk *chunks; /* heap chunks, newest first */
    uint8_t *fixed;            /* caller storage for sgp32_arena_init_fixed */
    size_t fixed_size;
    size_t fixed_used;
    size_t used; /* bytes handed out, all chunks */
    size_t cap;  /* hard cap on bytes handed out */
} sgp32_arena;

void sgp32_arena_init(sgp32_arena *arena, size_t cap);
/* An arena that never touches the heap: all memory comes from storage. */
void sgp32_arena_init_fixed(sgp32_arena *arena, void *storage, size_t size);
/* Zero-filled, max_align_t aligned; NULL when the cap or the heap says no. */
void *sgp32_arena_alloc(sgp32_arena *arena, size_t size);
void sgp32_arena_free(sgp32_arena *arena);

/* --- capped buffer: grows up to max bytes, never beyond --- */
typedef struct sgp32_buf {
    uint8_t *data;
    size_t len;
    size_t alloc; /* bytes allocated (or fixed storage size) */
    size_t max;   /* hard cap */
    bool fixed;   /* storage is the caller's; never reallocated or freed */
} sgp32_buf;

void sgp32_buf_init(sgp32_buf *buf, size_t max);
void sgp32_buf_init_fixed(sgp32_buf *buf, void *storage, size_t size);
int sgp32_buf_append(sgp32_buf *buf, const void *data, size_t len);
int sgp32_buf_append_byte(sgp32_buf *buf, uint8_t byte);
/* Make room for len more bytes and return where they go (len is added). */
int sgp32_buf_extend(sgp32_buf *buf, size_t len, uint8_t **out);
void sgp32_buf_reset(sgp32_buf *buf);
void sgp32_buf_free(sgp32_buf *buf);
static inline sgp32_bytes sgp32_buf_bytes(const sgp32_buf *buf)
{
    return (sgp32_bytes){buf->data, buf->len};
}

#endif

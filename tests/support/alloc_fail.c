#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>

#include <cmocka.h>

#include "alloc_fail.h"

static size_t fail_at_n, count, live;

static void *counting_alloc(void *ctx, size_t size)
{
    (void)ctx;
    count++;
    if (fail_at_n && count == fail_at_n)
        return NULL;
    void *p = malloc(size);
    if (p)
        live += size;
    return p;
}

static void *counting_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size)
{
    (void)ctx;
    count++;
    if (fail_at_n && count == fail_at_n)
        return NULL;
    void *p = realloc(ptr, new_size);
    if (p)
        live = live - old_size + new_size;
    return p;
}

static void counting_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    live -= size;
    free(ptr);
}

static const sgp32_alloc_hooks counting_hooks = {counting_alloc, counting_realloc, counting_free, NULL};

void test_alloc_begin(size_t fail_at)
{
    fail_at_n = fail_at;
    count = 0;
    live = 0;
    sgp32_alloc_set_hooks(&counting_hooks);
}

size_t test_alloc_count(void)
{
    return count;
}

size_t test_alloc_live_bytes(void)
{
    return live;
}

void test_alloc_end(void)
{
    sgp32_alloc_set_hooks(NULL);
}

size_t test_alloc_fail_each(int (*op)(void *ctx), void *ctx)
{
    test_alloc_begin(0);
    int rc = op(ctx);
    size_t total = test_alloc_count();
    assert_int_equal(rc, SGP32_OK);
    assert_int_equal(test_alloc_live_bytes(), 0);
    test_alloc_end();
    for (size_t k = 1; k <= total; k++) {
        test_alloc_begin(k);
        rc = op(ctx);
        assert_true(rc < 0);
        assert_int_equal(test_alloc_live_bytes(), 0);
        test_alloc_end();
    }
    return total;
}

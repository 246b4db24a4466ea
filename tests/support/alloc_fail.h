/*
 * Test support: allocation hooks that count allocations and fail the N-th,
 * so a test can run an operation once per allocation and check that every
 * failure is reported cleanly (and, under ASan, leaks nothing).
 */
#ifndef SGP32_TEST_ALLOC_FAIL_H
#define SGP32_TEST_ALLOC_FAIL_H

#include "sgp32/alloc.h"

/* Install counting hooks; fail_at = 0 never fails, k fails the k-th allocation. */
void test_alloc_begin(size_t fail_at);
/* Allocations (successful or not) since test_alloc_begin. */
size_t test_alloc_count(void);
/* Bytes currently allocated through the hooks (0 when nothing leaked). */
size_t test_alloc_live_bytes(void);
void test_alloc_end(void);

/*
 * Runs op(ctx) once normally to count its allocations, then once with each
 * allocation failing in turn. op must return SGP32_OK when it succeeds, and an
 * error (never crash) otherwise; live bytes must be zero after each run.
 * Returns the number of allocations exercised.
 */
size_t test_alloc_fail_each(int (*op)(void *ctx), void *ctx);

#endif

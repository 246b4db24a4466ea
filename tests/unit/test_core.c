/* lib/core: arena, capped buffer, allocation hook, FSM, hex/base64, logging. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "alloc_fail.h"
#include "sgp32/eid.h"
#include "sgp32/fsm.h"
#include "sgp32/log.h"
#include "sgp32/text.h"
#include "sgp32/time.h"

static void arena_respects_cap_and_alignment(void **state)
{
    (void)state;
    sgp32_arena a;
    sgp32_arena_init(&a, 4096);
    uint8_t *p = sgp32_arena_alloc(&a, 3);
    uint8_t *q = sgp32_arena_alloc(&a, 5);
    assert_non_null(p);
    assert_non_null(q);
    assert_int_equal((uintptr_t)q % _Alignof(max_align_t), 0);
    assert_true(q >= p + 3);
    assert_null(sgp32_arena_alloc(&a, 5000));     /* over the cap */
    assert_non_null(sgp32_arena_alloc(&a, 3000)); /* a second chunk within the cap */
    sgp32_arena_free(&a);
    assert_int_equal(a.used, 0);
}

static void arena_fixed_never_uses_heap(void **state)
{
    (void)state;
    _Alignas(max_align_t) uint8_t storage[256];
    sgp32_arena a;
    test_alloc_begin(0);
    sgp32_arena_init_fixed(&a, storage, sizeof(storage));
    assert_non_null(sgp32_arena_alloc(&a, 100));
    assert_non_null(sgp32_arena_alloc(&a, 100));
    assert_null(sgp32_arena_alloc(&a, 100));
    assert_int_equal(test_alloc_count(), 0);
    test_alloc_end();
    sgp32_arena_free(&a);
}

static void buf_caps_growth(void **state)
{
    (void)state;
    sgp32_buf b;
    sgp32_buf_init(&b, 10);
    /* nothing to an empty buffer (no storage yet): no pointer arithmetic on NULL (clang UBSan) */
    assert_int_equal(sgp32_buf_append(&b, NULL, 0), SGP32_OK);
    assert_int_equal(b.len, 0);
    assert_int_equal(sgp32_buf_append(&b, "0123456789", 10), SGP32_OK);
    assert_int_equal(sgp32_buf_append_byte(&b, 'x'), SGP32_ERR_CAPACITY);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.data, "0123456789", 10);
    sgp32_buf_free(&b);

    uint8_t storage[4];
    sgp32_buf_init_fixed(&b, storage, sizeof(storage));
    assert_int_equal(sgp32_buf_append(&b, "abcd", 4), SGP32_OK);
    assert_int_equal(sgp32_buf_append(&b, "e", 1), SGP32_ERR_CAPACITY);
    sgp32_buf_free(&b);
}

static int grow_buffer_op(void *ctx)
{
    (void)ctx;
    sgp32_buf b;
    sgp32_buf_init(&b, 1 << 20);
    int rc = SGP32_OK;
    for (int i = 0; i < 2000 && rc == SGP32_OK; i++)
        rc = sgp32_buf_append(&b, "abcdefgh", 8);
    sgp32_arena a;
    sgp32_arena_init(&a, 1 << 20);
    for (int i = 0; i < 3 && rc == SGP32_OK; i++)
        if (!sgp32_arena_alloc(&a, 3000))
            rc = SGP32_ERR_NO_MEMORY;
    sgp32_arena_free(&a);
    sgp32_buf_free(&b);
    return rc;
}

static void every_allocation_failure_is_reported(void **state)
{
    (void)state;
    size_t n = test_alloc_fail_each(grow_buffer_op, NULL);
    assert_true(n >= 5); /* the buffer grew several times and the arena took chunks */
}

enum { S_IDLE, S_WAIT, S_DONE };
enum { E_START, E_REPLY, E_FAIL };
static int count_action(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    ++*(int *)ctx;
    return SGP32_OK;
}
static int refuse_action(void *ctx, int event, void *arg)
{
    (void)ctx;
    (void)event;
    (void)arg;
    return SGP32_ERR_INVALID_ARGUMENT;
}
static const sgp32_fsm_transition rows[] = {
    {S_IDLE, E_START, S_WAIT, count_action},
    {S_WAIT, E_REPLY, S_DONE, count_action},
    {S_WAIT, E_FAIL, S_IDLE, refuse_action},
};
static const char *const state_names[] = {"idle", "wait", "done"};
static const sgp32_fsm_def def = {"demo", state_names, 3, NULL, 0, rows, 3};

static void fsm_follows_table_only(void **state)
{
    (void)state;
    sgp32_fsm fsm;
    int calls = 0;
    sgp32_fsm_init(&fsm, &def, S_IDLE);
    assert_int_equal(sgp32_fsm_dispatch(&fsm, E_REPLY, &calls, NULL), SGP32_ERR_STATE);
    assert_int_equal(fsm.state, S_IDLE);
    assert_int_equal(sgp32_fsm_dispatch(&fsm, E_START, &calls, NULL), SGP32_OK);
    assert_int_equal(fsm.state, S_WAIT);
    /* A failing action leaves the state where it was. */
    assert_int_equal(sgp32_fsm_dispatch(&fsm, E_FAIL, &calls, NULL), SGP32_ERR_INVALID_ARGUMENT);
    assert_int_equal(fsm.state, S_WAIT);
    assert_int_equal(sgp32_fsm_dispatch(&fsm, E_REPLY, &calls, NULL), SGP32_OK);
    assert_string_equal(sgp32_fsm_state_name(&fsm, fsm.state), "done");
    assert_int_equal(calls, 2);
}

static void hex_and_base64_round_trip_and_reject(void **state)
{
    (void)state;
    const uint8_t data[] = {0xBF, 0x4F, 0x03, 0x02, 0x01, 0x01, 0x00};
    char hex[2 * sizeof(data) + 1];
    sgp32_hex_encode(data, sizeof(data), hex);
    assert_string_equal(hex, "BF4F0302010100");
    sgp32_buf b;
    sgp32_buf_init(&b, 64);
    assert_int_equal(sgp32_hex_decode("bf 4f:03 02\n010100", 18, &b), SGP32_OK);
    assert_memory_equal(b.data, data, sizeof(data));
    sgp32_buf_reset(&b);
    assert_int_equal(sgp32_hex_decode("BF4", 3, &b), SGP32_ERR_BAD_TEXT);
    sgp32_buf_reset(&b);
    assert_int_equal(sgp32_hex_decode("BG", 2, &b), SGP32_ERR_BAD_TEXT);

    for (size_t n = 0; n <= sizeof(data); n++) {
        char b64[32];
        sgp32_base64_encode(data, n, b64);
        assert_int_equal(strlen(b64), sgp32_base64_encoded_len(n));
        sgp32_buf_reset(&b);
        assert_int_equal(sgp32_base64_decode(b64, strlen(b64), &b), SGP32_OK);
        assert_int_equal(b.len, n);
        assert_memory_equal(b.data, data, n);
    }
    sgp32_buf_reset(&b);
    assert_int_equal(sgp32_base64_decode("v08=", 4, &b), SGP32_OK);
    assert_memory_equal(b.data, "\xBF\x4F", 2);
    const char *bad[] = {"v08", "v0==x", "v0*=", "v09=" /* stray low bits */, "====="};
    for (size_t i = 0; i < SGP32_ARRAY_LEN(bad); i++) {
        sgp32_buf_reset(&b);
        assert_int_equal(sgp32_base64_decode(bad[i], strlen(bad[i]), &b), SGP32_ERR_BAD_TEXT);
    }
    sgp32_buf_free(&b);
}

static int records;
static char last_message[256];
static void capture_sink(void *ctx, const sgp32_log_record *r)
{
    (void)ctx;
    records++;
    snprintf(last_message, sizeof(last_message), "%s", r->message);
}

static void log_levels_and_sink(void **state)
{
    (void)state;
    sgp32_log_set_sink(capture_sink, NULL);
    sgp32_log_set_level(SGP32_LOG_EIM, SGP32_LOG_INFO);
    sgp32_log_context ctx = {"eimd", "89049032123451234512345678901235", "0102"};
    sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EIM, &ctx, "hidden %d", 1);
    assert_int_equal(records, 0);
    sgp32_log(SGP32_LOG_INFO, SGP32_LOG_EIM, &ctx, "shown %d", 2);
    assert_int_equal(records, 1);
    assert_string_equal(last_message, "shown 2");
    sgp32_log_set_level(SGP32_LOG_EIM, SGP32_LOG_DEBUG);
    const uint8_t d[] = {1, 2, 0xAB};
    sgp32_log_hex(SGP32_LOG_DEBUG, SGP32_LOG_EIM, &ctx, "apdu", d, 3);
    assert_string_equal(last_message, "apdu (3 bytes): 0102AB");
    assert_int_equal(sgp32_log_level_parse("trace"), SGP32_LOG_TRACE);
    assert_int_equal(sgp32_log_level_parse("loud"), -1);
    sgp32_log_set_sink(NULL, NULL);
}

static void every_error_has_a_name(void **state)
{
    (void)state;
    for (int e = 0; e >= -400; e--) {
        const char *s = sgp32_err_str(e);
        assert_non_null(s);
    }
    assert_string_equal(sgp32_err_str(SGP32_ERR_ASN1_INDEFINITE), "asn1: indefinite length is not DER");
}

static void eid_check_digits(void **state)
{
    (void)state;
    uint8_t eid[SGP32_EID_LEN];
    /* SGP.26 test eUICC and a conformance-test EID are both valid. */
    assert_int_equal(sgp32_eid_from_text("89049032123451234512345678901235", eid), SGP32_OK);
    assert_int_equal(eid[0], 0x89);
    assert_int_equal(eid[15], 0x35);
    assert_int_equal(sgp32_eid_check(eid), SGP32_OK);
    assert_int_equal(sgp32_eid_from_text("89882119900000000000000000000005", eid), SGP32_OK);
    /* One digit changed breaks the check. */
    assert_int_equal(sgp32_eid_from_text("89049032123451234512345678901236", eid),
                     SGP32_ERR_EID_CHECK_DIGITS);
    assert_int_equal(sgp32_eid_from_text("8904903212345123451234567890123", eid), SGP32_ERR_BAD_TEXT);
    assert_int_equal(sgp32_eid_from_text("8904903212345123451234567890123A", eid), SGP32_ERR_BAD_TEXT);
    char digits[] = "89049032123451234512345678901299";
    assert_int_equal(sgp32_eid_set_check_digits(digits), SGP32_OK);
    assert_string_equal(digits, "89049032123451234512345678901235");
    char text[SGP32_EID_DIGITS + 1];
    uint8_t bad[SGP32_EID_LEN] = {0x8A};
    assert_int_equal(sgp32_eid_to_text(bad, text), SGP32_ERR_BAD_TEXT);
}

static void civil_time_conversions(void **state)
{
    (void)state;
    int64_t t;
    char text[SGP32_TIME_TEXT_LEN];
    assert_int_equal(sgp32_time_parse("2000-03-01", &t), SGP32_OK);
    assert_int_equal(t, 951868800); /* date -u -d 2000-03-01 +%s */
    assert_int_equal(sgp32_time_parse("1950-01-01T00:00:00Z", &t), SGP32_OK);
    assert_int_equal(t, -631152000);
    sgp32_time_format(t, text);
    assert_string_equal(text, "1950-01-01T00:00:00Z");
    assert_int_equal(sgp32_time_parse("7496-02-29T23:59:59Z", &t), SGP32_OK); /* far past 2038 and 2050 */
    sgp32_time_format(t, text);
    assert_string_equal(text, "7496-02-29T23:59:59Z");
    for (int64_t v = -5000000000LL; v < 5000000000LL; v += 123456789) {
        sgp32_civil_time c;
        sgp32_time_to_civil(v, &c);
        assert_int_equal(sgp32_time_from_civil(&c), v);
    }
    const char *bad[] = {"2023-02-29", "2024-02-30",          "2024-13-01", "2024-01-01T24:00:00Z",
                         "2024-1-01",  "2024-01-01T00:00:00", "",           "2024-01-01X00:00:00Z"};
    for (size_t i = 0; i < SGP32_ARRAY_LEN(bad); i++)
        assert_int_equal(sgp32_time_parse(bad[i], &t), SGP32_ERR_BAD_TEXT);
    assert_int_equal(sgp32_time_parse("2024-02-29", &t), SGP32_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(arena_respects_cap_and_alignment),
        cmocka_unit_test(arena_fixed_never_uses_heap),
        cmocka_unit_test(buf_caps_growth),
        cmocka_unit_test(every_allocation_failure_is_reported),
        cmocka_unit_test(fsm_follows_table_only),
        cmocka_unit_test(hex_and_base64_round_trip_and_reject),
        cmocka_unit_test(log_levels_and_sink),
        cmocka_unit_test(every_error_has_a_name),
        cmocka_unit_test(eid_check_digits),
        cmocka_unit_test(civil_time_conversions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

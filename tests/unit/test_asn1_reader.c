/* lib/asn1 cursor: DER rules, bounds, depth, and inputs that hang or crash weaker readers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>

#include "sgp32/asn1.h"
#include "sgp32/asn1_types.h"

static int read(const char *bytes, size_t n, sgp32_asn1_tlv *tlv)
{
    return sgp32_asn1_read_tlv((const uint8_t *)bytes, n, tlv, NULL);
}

static void multi_byte_tags_and_long_lengths(void **state)
{
    (void)state;
    sgp32_asn1_tlv t;
    assert_int_equal(read("\xBF\x51\x00", 3, &t), SGP32_OK);
    assert_int_equal(t.tag, 0xBF51);
    assert_true(t.constructed);
    assert_int_equal(read("\x5F\x37\x01\xAA", 4, &t), SGP32_OK);
    assert_int_equal(t.tag, 0x5F37);
    assert_false(t.constructed);
    assert_int_equal(read("\x7F\x21\x00", 3, &t), SGP32_OK);
    assert_int_equal(t.tag, 0x7F21);
    assert_int_equal(read("\x9F\x81\x00\x00", 4, &t), SGP32_OK); /* tag number 128 */
    assert_int_equal(t.tag, 0x9F8100);

    uint8_t big[3 + 300] = {0x04, 0x82, 0x01, 0x2C};
    assert_int_equal(sgp32_asn1_read_tlv(big, 4 + 300 - 1, &t, NULL), SGP32_ERR_ASN1_TRUNCATED);
    uint8_t big2[4 + 300] = {0x04, 0x82, 0x01, 0x2C};
    size_t used;
    assert_int_equal(sgp32_asn1_read_tlv(big2, sizeof(big2), &t, &used), SGP32_OK);
    assert_int_equal(t.value.len, 300);
    assert_int_equal(used, sizeof(big2));
}

static void der_violations_are_errors(void **state)
{
    (void)state;
    sgp32_asn1_tlv t;
    assert_int_equal(read("\x30\x80\x00\x00", 4, &t), SGP32_ERR_ASN1_INDEFINITE);
    assert_int_equal(read("\x04\x81\x05hello", 8, &t), SGP32_ERR_ASN1_BAD_LENGTH); /* short form required */
    assert_int_equal(read("\x04\x82\x00\x05hello", 9, &t), SGP32_ERR_ASN1_BAD_LENGTH);
    assert_int_equal(read("\x04\x85\x01\x00\x00\x00\x00", 7, &t), SGP32_ERR_ASN1_BAD_LENGTH);
    assert_int_equal(read("\x1F\x05\x00", 3, &t), SGP32_ERR_ASN1_BAD_TAG);     /* < 31 in long form */
    assert_int_equal(read("\x1F\x80\x21\x00", 4, &t), SGP32_ERR_ASN1_BAD_TAG); /* leading zero septet */
    assert_int_equal(read("\x1F\x81\x81\x81\x01\x00", 6, &t), SGP32_ERR_ASN1_BAD_TAG); /* too long */
    assert_int_equal(read("\xBF", 1, &t), SGP32_ERR_ASN1_TRUNCATED);
    assert_int_equal(read("\xBF\x51", 2, &t), SGP32_ERR_ASN1_TRUNCATED);
    assert_int_equal(read("\x04\x05hel", 5, &t), SGP32_ERR_ASN1_TRUNCATED);
    assert_int_equal(read("", 0, &t), SGP32_ERR_ASN1_TRUNCATED);

    int64_t v;
    assert_int_equal(sgp32_asn1_parse_integer((sgp32_bytes){(const uint8_t *)"\x00\x7F", 2}, &v),
                     SGP32_ERR_ASN1_BAD_VALUE);
    assert_int_equal(sgp32_asn1_parse_integer((sgp32_bytes){(const uint8_t *)"\xFF\x80", 2}, &v),
                     SGP32_ERR_ASN1_BAD_VALUE);
    assert_int_equal(sgp32_asn1_parse_integer(
                         (sgp32_bytes){(const uint8_t *)"\x01\x00\x00\x00\x00\x00\x00\x00\x00", 9}, &v),
                     SGP32_ERR_ASN1_RANGE);
    assert_int_equal(sgp32_asn1_parse_integer((sgp32_bytes){(const uint8_t *)"\xFF", 1}, &v), SGP32_OK);
    assert_int_equal(v, -1);
    assert_int_equal(sgp32_asn1_parse_integer((sgp32_bytes){(const uint8_t *)"\x00\x80", 2}, &v), SGP32_OK);
    assert_int_equal(v, 128);
    bool b;
    assert_int_equal(sgp32_asn1_parse_boolean((sgp32_bytes){(const uint8_t *)"\x01", 1}, &b),
                     SGP32_ERR_ASN1_BAD_VALUE);
    uint32_t bits;
    assert_int_equal(sgp32_asn1_parse_named_bits((sgp32_bytes){(const uint8_t *)"\x07\x81", 2}, &bits),
                     SGP32_ERR_ASN1_BAD_VALUE); /* unused bit set */
    assert_int_equal(sgp32_asn1_parse_named_bits((sgp32_bytes){(const uint8_t *)"\x07\x80", 2}, &bits),
                     SGP32_OK);
    assert_int_equal(bits, 1);
    assert_int_equal(sgp32_asn1_check_oid((sgp32_bytes){(const uint8_t *)"\x80\x01", 2}),
                     SGP32_ERR_ASN1_BAD_VALUE);
    assert_int_equal(sgp32_asn1_check_utf8((sgp32_bytes){(const uint8_t *)"\xC0\x80", 2}, NULL),
                     SGP32_ERR_ASN1_BAD_VALUE); /* overlong NUL */
    size_t chars;
    assert_int_equal(
        sgp32_asn1_check_utf8((sgp32_bytes){(const uint8_t *)"a\xC3\xA9\xE2\x82\xAC", 6}, &chars), SGP32_OK);
    assert_int_equal(chars, 3);
}

/* The input that hangs an existing open IPA, and other truncated or self-referencing data. */
static void hostile_inputs_end_quickly_with_an_error(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t len;
    } cases[] = {
        {"\xBF\x4F\x80\x02\x01\x01\x00\x01\x00\x00", 10}, /* indefinite length + garbage */
        {"\xBF\x4F\x05\x30\x80\x00\x00\x00", 8},
        {"\xBF\x4F\x03\x02\x01", 5},
        {"\xBF\x4F\x7F\xBF\x4F\x7F", 6}, /* claims to contain itself */
        {"\xBF\x4F\x04\xBF\x4F\x04\xBF", 7},
        {"\xBF\x4F\x84\xFF\xFF\xFF\xFF", 7}, /* 4 GiB claimed */
        {"\xBF\x4F\x00\x00", 4},             /* trailing */
        {"\xBF\x4F\x03\x02\x00\x01", 6},     /* INTEGER with no contents, then junk */
    };
    for (size_t i = 0; i < SGP32_ARRAY_LEN(cases); i++) {
        _Alignas(max_align_t) uint8_t out[16384];
        assert_true(sgp32_type_esipa_message_from_eim_to_ipa.size <= sizeof(out));
        sgp32_arena arena;
        sgp32_arena_init(&arena, 1 << 16);
        int rc = sgp32_asn1_decode(&sgp32_type_get_eim_package_response, (const uint8_t *)cases[i].bytes,
                                   cases[i].len, &arena, out);
        assert_true(rc < 0);
        rc = sgp32_asn1_decode(&sgp32_type_esipa_message_from_eim_to_ipa, (const uint8_t *)cases[i].bytes,
                               cases[i].len, &arena, out);
        assert_true(rc < 0);
        assert_true(sgp32_asn1_walk((const uint8_t *)cases[i].bytes, cases[i].len, NULL, NULL) < 0);
        sgp32_arena_free(&arena);
    }
}

static void nesting_depth_is_bounded(void **state)
{
    (void)state;
    /* 60 nested SEQUENCEs (short-form lengths): past the depth limit, refused without deep recursion. */
    uint8_t deep[2 * 60];
    for (size_t i = 0; i < 60; i++) {
        deep[2 * i] = 0x30;
        deep[2 * i + 1] = (uint8_t)(2 * (60 - i - 1));
    }
    assert_int_equal(sgp32_asn1_walk(deep, sizeof(deep), NULL, NULL), SGP32_ERR_ASN1_TOO_DEEP);
    assert_int_equal(sgp32_asn1_walk(deep + 2 * 45, sizeof(deep) - 2 * 45, NULL, NULL), SGP32_OK);
}

static void writer_is_der(void **state)
{
    (void)state;
    sgp32_buf b;
    sgp32_buf_init(&b, 4096);
    static const struct {
        int64_t v;
        const char *der;
        size_t len;
    } ints[] = {{0, "\x02\x01\x00", 3},
                {127, "\x02\x01\x7F", 3},
                {128, "\x02\x02\x00\x80", 4},
                {-1, "\x02\x01\xFF", 3},
                {-129, "\x02\x02\xFF\x7F", 4},
                {256, "\x02\x02\x01\x00", 4},
                {INT64_MIN, "\x02\x08\x80\x00\x00\x00\x00\x00\x00\x00", 10}};
    for (size_t i = 0; i < SGP32_ARRAY_LEN(ints); i++) {
        sgp32_buf_reset(&b);
        assert_int_equal(sgp32_asn1_write_integer(&b, 0x02, ints[i].v), SGP32_OK);
        assert_int_equal(b.len, ints[i].len);
        assert_memory_equal(b.data, ints[i].der, ints[i].len);
    }
    /* Named bits drop trailing zero bits: NotificationEvent install/enable/disable/delete. */
    static const struct {
        uint32_t bits;
        const char *der;
    } bits[] = {
        {1, "\x80\x02\x07\x80"}, {2, "\x80\x02\x06\x40"}, {4, "\x80\x02\x05\x20"}, {8, "\x80\x02\x04\x10"}};
    for (size_t i = 0; i < SGP32_ARRAY_LEN(bits); i++) {
        sgp32_buf_reset(&b);
        assert_int_equal(sgp32_asn1_write_named_bits(&b, 0x80, bits[i].bits), SGP32_OK);
        assert_memory_equal(b.data, bits[i].der, 4);
    }
    sgp32_buf_reset(&b);
    assert_int_equal(sgp32_asn1_write_named_bits(&b, 0x03, 0), SGP32_OK);
    assert_memory_equal(b.data, "\x03\x01\x00", 3);

    /* begin/end inserts a long-form header once the contents outgrow 127 bytes. */
    sgp32_buf_reset(&b);
    size_t mark = sgp32_asn1_begin(&b);
    for (int i = 0; i < 100; i++)
        assert_int_equal(sgp32_asn1_write_integer(&b, 0x80, i), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&b, 0xBF53, mark), SGP32_OK);
    assert_memory_equal(b.data, "\xBF\x53\x82\x01\x2C\x80\x01\x00", 8);
    sgp32_asn1_tlv t;
    assert_int_equal(sgp32_asn1_expect(b.data, b.len, 0xBF53, &t), SGP32_OK);
    assert_int_equal(t.value.len, 300);

    char text[64];
    sgp32_buf_reset(&b);
    assert_int_equal(sgp32_asn1_oid_from_text("2.999.10", &b), SGP32_OK);
    assert_memory_equal(b.data, "\x88\x37\x0A", 3);
    assert_int_equal(sgp32_asn1_oid_to_text(sgp32_buf_bytes(&b), text, sizeof(text)), SGP32_OK);
    assert_string_equal(text, "2.999.10");
    sgp32_buf_reset(&b);
    assert_int_equal(sgp32_asn1_oid_from_text("2.23.146.1.2.1.4", &b), SGP32_OK);
    assert_int_equal(sgp32_asn1_oid_to_text(sgp32_buf_bytes(&b), text, sizeof(text)), SGP32_OK);
    assert_string_equal(text, "2.23.146.1.2.1.4");
    assert_int_equal(sgp32_asn1_oid_from_text("3.1", &b), SGP32_ERR_BAD_TEXT);
    assert_int_equal(sgp32_asn1_oid_from_text("1.2.", &b), SGP32_ERR_BAD_TEXT);
    assert_int_equal(sgp32_asn1_oid_from_text("1", &b), SGP32_ERR_BAD_TEXT);
    sgp32_buf_free(&b);
}

/* Found by fuzz_ber_reader: oid_to_text wrote arcs up to 2^64-1 that oid_from_text refused
 * (its overflow guard rejected 18446744073709551610 and above). */
static void oid_text_round_trips_64_bit_arcs(void **state)
{
    (void)state;
    static const uint8_t max_arc[] = {0x2A, 0x81, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F};
    char text[64];
    sgp32_buf b;
    sgp32_buf_init(&b, 64);
    assert_int_equal(sgp32_asn1_oid_to_text(SGP32_BYTES(max_arc, sizeof(max_arc)), text, sizeof(text)),
                     SGP32_OK);
    assert_string_equal(text, "1.2.18446744073709551615");
    assert_int_equal(sgp32_asn1_oid_from_text(text, &b), SGP32_OK);
    assert_int_equal(b.len, sizeof(max_arc));
    assert_memory_equal(b.data, max_arc, sizeof(max_arc));
    sgp32_buf_reset(&b);
    assert_int_equal(sgp32_asn1_oid_from_text("1.2.18446744073709551610", &b), SGP32_OK);
    assert_int_equal(sgp32_asn1_oid_from_text("1.2.18446744073709551616", &b), SGP32_ERR_BAD_TEXT);
    assert_int_equal(sgp32_asn1_oid_from_text("1.2.99999999999999999999", &b), SGP32_ERR_BAD_TEXT);
    sgp32_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(multi_byte_tags_and_long_lengths),
        cmocka_unit_test(der_violations_are_errors),
        cmocka_unit_test(hostile_inputs_end_quickly_with_an_error),
        cmocka_unit_test(nesting_depth_is_bounded),
        cmocka_unit_test(writer_is_der),
        cmocka_unit_test(oid_text_round_trips_64_bit_arcs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * lib/asn1 pretty-printer (include/sgp32/asn1_print.h):
 *  - real messages (NOTES.md [asn1c] vectors) print with the schema's names and the domain
 *    renderings: EID and ICCID digits, named numbers and bits, OIDs, MCC/MNC;
 *  - the whole text of an EuiccPackageRequest, so layout changes are deliberate;
 *  - every sample of every named type prints (and prints the same after a DER round trip),
 *    and so does every partial value a failed decode of a cut encoding leaves behind;
 *  - the buffer cap: any cap gives a prefix of the whole text, marked, never an overflow;
 *  - text escapes, the TLV tree, allocation failures.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "alloc_fail.h"
#include "asn1_sample.h"
#include "sgp32/asn1_print.h"
#include "sgp32/asn1_types.h"
#include "sgp32/text.h"

#define EID   "89049032123451234512345678901235"
#define ICCID "989444999999990971F1" /* 8949449999999990171, EF.ICCID coding */
#define TXID  "0102030405060708"
#define SIG64                                                                                                \
    "1111111111111111111111111111111111111111111111111111111111111111"                                       \
    "2222222222222222222222222222222222222222222222222222222222222222"
#define HEX_SMDP "736D64702E6578616D706C652E636F6D" /* "smdp.example.com" */

#define EUICC_PACKAGE_REQUEST                                                                                \
    "BF517B3036800365494D5A10" EID "810102 8208" TXID "A010A30E5A0A" ICCID "0500 5F3740" SIG64

static const char truncated_mark[] = "...(truncated)\n";

static sgp32_buf hex_to_buf(const char *hex)
{
    sgp32_buf b;
    sgp32_buf_init(&b, 1 << 16);
    assert_int_equal(sgp32_hex_decode(hex, strlen(hex), &b), SGP32_OK);
    return b;
}

/* Decode hex as type and print it with options; the text is returned in out (a C string). */
static void decode_and_print(const sgp32_asn1_type *type, const char *hex,
                             const sgp32_asn1_print_options *options, sgp32_buf *out)
{
    sgp32_buf in = hex_to_buf(hex);
    sgp32_arena arena;
    sgp32_arena_init(&arena, 1 << 20);
    void *value = sgp32_arena_alloc(&arena, type->size);
    sgp32_asn1_diag diag;
    int rc = sgp32_asn1_decode_diag(type, in.data, in.len, &arena, value, &diag);
    if (rc)
        fail_msg("%s: %s at %zu in %s", type->name, sgp32_err_str(rc), diag.offset, diag.path);
    sgp32_buf_init(out, 1 << 20);
    assert_int_equal(sgp32_asn1_print_ex(type, value, options, out), SGP32_OK);
    assert_int_equal(strlen((const char *)out->data), out->len);
    sgp32_arena_free(&arena);
    sgp32_buf_free(&in);
}

static void assert_contains(const sgp32_buf *text, const char *needle)
{
    if (!strstr((const char *)text->data, needle))
        fail_msg("expected \"%s\" in:\n%s", needle, (const char *)text->data);
}

static void assert_text(const sgp32_asn1_type *type, const char *hex, const char *expected)
{
    sgp32_buf out;
    decode_and_print(type, hex, NULL, &out);
    if (strcmp((const char *)out.data, expected) != 0)
        fail_msg("%s printed\n%s\nexpected\n%s", type->name, (const char *)out.data, expected);
    sgp32_buf_free(&out);
}

static void esipa_messages_print_with_names(void **state)
{
    (void)state;
    assert_text(&sgp32_type_get_eim_package_response, "BF4F03020101",
                "GetEimPackageResponse: eimPackageError: 1 (noEimPackageAvailable)\n");
    assert_text(
        &sgp32_type_esipa_message_from_eim_to_ipa, "BF4F03020101",
        "EsipaMessageFromEimToIpa: getEimPackageResponse: eimPackageError: 1 (noEimPackageAvailable)\n");
    assert_text(&sgp32_type_provide_eim_package_result_response, "BF5009BF5306800101800102",
                "ProvideEimPackageResultResponse: eimAcknowledgements [1, 2]\n");
    assert_text(&sgp32_type_provide_eim_package_result_response, "BF50023000",
                "ProvideEimPackageResultResponse: emptyResponse {}\n");
    assert_text(&sgp32_type_get_eim_package_request, "BF4F125A10" EID,
                "GetEimPackageRequest { eidValue: " EID " }\n");
    assert_text(&sgp32_type_euicc_package_result, "BF510AA208800365494D840101",
                "EuiccPackageResult: euiccPackageErrorUnsigned { eimId: \"eIM\", associationToken: 1 }\n");
    assert_text(&sgp32_type_authenticate_client_response_esipa, "BF3B0CA10A800101BF5404A0028100",
                "AuthenticateClientResponseEsipa: authenticateClientOkDSEsipa {\n"
                "  transactionId: 01\n"
                "  profileDownloadTrigger { profileDownloadData: contactDefaultSmdp }\n"
                "}\n");
}

static void named_bits_print_by_name(void **state)
{
    (void)state;
    assert_text(
        &sgp32_type_ipa_capabilities, "30088002026481020780",
        "IpaCapabilities {\n"
        "  ipaFeatures: {indirectRspServerCommunication, eimDownloadDataHandling, minimizeEsipaBytes}\n"
        "  ipaSupportedProtocols: {ipaRetrieveHttps}\n"
        "}\n");
    assert_text(
        &sgp32_type_sgp32_euicc_memory_reset_request, "BF6404820201 06",
        "SGP32-EuiccMemoryResetRequest { resetOptions: {resetEimConfigData, resetImmediateEnableConfig} }\n");
}

/* The whole text of a PSMO package: the layout is part of the interface (logs, tools, tests). */
static void euicc_package_request_prints_in_full(void **state)
{
    (void)state;
    assert_text(&sgp32_type_euicc_package_request, EUICC_PACKAGE_REQUEST,
                "EuiccPackageRequest {\n"
                "  euiccPackageSigned {\n"
                "    eimId: \"eIM\"\n"
                "    eidValue: " EID "\n"
                "    counterValue: 2\n"
                "    eimTransactionId: " TXID "\n"
                "    euiccPackage: psmoList [enable { iccid: 8949449999999990171, rollbackFlag }]\n"
                "  }\n"
                "  eimSignature: 11111111111111111111111111111111...(64 bytes)\n"
                "}\n");

    /* The same with every byte and no domain renderings. */
    sgp32_asn1_print_options o = {.full_hex = true, .no_domain = true};
    sgp32_buf out;
    decode_and_print(&sgp32_type_euicc_package_request, EUICC_PACKAGE_REQUEST, &o, &out);
    assert_contains(&out, "eidValue: " EID "\n"); /* plain BCD reads the same as hex */
    assert_contains(&out, "iccid: " ICCID ",");
    assert_contains(&out, "eimSignature: " SIG64 "\n");
    sgp32_buf_free(&out);

    /* A short hex limit. */
    o = (sgp32_asn1_print_options){.hex_limit = 4, .no_domain = true};
    decode_and_print(&sgp32_type_euicc_package_request, EUICC_PACKAGE_REQUEST, &o, &out);
    assert_contains(&out, "eimTransactionId: 01020304...(8 bytes)\n");
    assert_contains(&out, "iccid: 98944499...(10 bytes)");
    sgp32_buf_free(&out);

    /* One line, with a label and an indent. */
    o = (sgp32_asn1_print_options){.single_line = true, .label = "request", .indent = 1};
    decode_and_print(&sgp32_type_euicc_package_request, EUICC_PACKAGE_REQUEST, &o, &out);
    assert_string_equal((const char *)out.data,
                        "  request { euiccPackageSigned { eimId: \"eIM\", eidValue: " EID
                        ", counterValue: 2, eimTransactionId: " TXID
                        ", euiccPackage: psmoList [enable { iccid: 8949449999999990171, rollbackFlag }] }, "
                        "eimSignature: 11111111111111111111111111111111...(64 bytes) }\n");
    sgp32_buf_free(&out);
}

static void results_and_identifiers_print_in_domain_form(void **state)
{
    (void)state;
    sgp32_buf out;
    decode_and_print(&sgp32_type_euicc_package_result,
                     "BF5161A05F301A800365494D8101028208" TXID "830105 300383 0100 5F3740" SIG64, NULL, &out);
    assert_contains(&out, "EuiccPackageResult: euiccPackageResultSigned {\n");
    assert_contains(&out, "seqNumber: 5\n");
    assert_contains(&out, "euiccResult [enableResult: 0 (ok)]\n");
    assert_contains(&out, "euiccSignEPR: 11111111111111111111111111111111...(64 bytes)\n");
    sgp32_buf_free(&out);

    assert_text(
        &sgp32_type_enable_profile_request, "BF3111A00C5A0A" ICCID "8101FF",
        "EnableProfileRequest { profileIdentifier: iccid: 8949449999999990171, refreshFlag: true }\n");

    decode_and_print(&sgp32_type_get_rat_response, "BF4315A0133011800205 60A1073005800362F210 82020780", NULL,
                     &out);
    assert_contains(&out, "pprIds: {ppr1, ppr2}");
    assert_contains(&out, "mccMnc: 62F210 (MCC 262, MNC 01)");
    assert_contains(&out, "pprFlags: {consentRequired}");
    sgp32_buf_free(&out);

    /* An OID, an explicit-tag CHOICE inside a SEQUENCE, a named reason. */
    assert_text(&sgp32_type_euicc_cancel_session_signed, "300C8002010281038837 0A820105",
                "EuiccCancelSessionSigned {\n"
                "  transactionId: 0102\n"
                "  smdpOid: 2.999.10\n"
                "  reason: 5 (loadBppExecutionError)\n"
                "}\n");
    assert_text(&sgp32_type_cancel_session_request_esipa, "BF4109800212 34A103810105",
                "CancelSessionRequestEsipa {\n"
                "  transactionId: 1234\n"
                "  cancelSessionResponse: cancelSessionResponseError: 5 (invalidTransactionId)\n"
                "}\n");

    /* A compact notification: EID, ICCID, a named event bit, a UTF8 address. */
    decode_and_print(&sgp32_type_handle_notification_esipa,
                     "BF3D8181A07FA17D5A10" EID "BF2F25800107810206400C10" HEX_SMDP "5A0A" ICCID
                     "5F3740" SIG64,
                     NULL, &out);
    assert_contains(&out, "eidValue: " EID "\n");
    assert_contains(&out, "notificationAddress: \"smdp.example.com\"");
    assert_contains(&out, "iccid: 8949449999999990171");
    assert_contains(&out, "seqNumber: 7");
    sgp32_buf_free(&out);

    /* Bad check digits are pointed out; a non-BCD EID or ICCID falls back to hex. */
    assert_text(&sgp32_type_get_eim_package_request, "BF4F125A10 89049032123451234512345678901234",
                "GetEimPackageRequest { eidValue: 89049032123451234512345678901234 (check digits wrong) }\n");
    assert_text(&sgp32_type_get_eim_package_request, "BF4F125A10 8904903212345123451234567890123A",
                "GetEimPackageRequest { eidValue: 8904903212345123451234567890123A }\n");
    assert_text(
        &sgp32_type_enable_profile_request, "BF3111A00C5A0A 98F4449999999909 71F1 8101FF",
        "EnableProfileRequest { profileIdentifier: iccid: 98F444999999990971F1, refreshFlag: true }\n");
}

static void text_is_escaped(void **state)
{
    (void)state;
    /* quote, backslash, newline, a control, é, a C1 control (U+0085), a bidi override (U+202E),
       a stray continuation byte. */
    static const uint8_t raw[] = "a\"b\\c\nd\x01"
                                 "\xC3\xA9"
                                 "\xC2\x85"
                                 "\xE2\x80\xAE"
                                 "\x80z";
    sgp32_bytes text = {raw, sizeof(raw) - 1};
    sgp32_buf out;
    sgp32_buf_init(&out, 1024);
    assert_int_equal(sgp32_asn1_print(&sgp32_type_utf8_string, &text, &out), SGP32_OK);
    assert_string_equal((const char *)out.data,
                        "UTF8 STRING: \"a\\\"b\\\\c\\nd\\x01\xC3\xA9\\u0085\\u202E\\x80z\"\n");
    sgp32_buf_free(&out);
}

/* Every cap: the text is a prefix of the whole text, ends with the mark when there was room,
   always NUL-terminated, never beyond the cap. */
static void output_is_bounded_by_the_cap(void **state)
{
    (void)state;
    sgp32_buf full;
    decode_and_print(&sgp32_type_euicc_package_request, EUICC_PACKAGE_REQUEST, NULL, &full);
    size_t mark_len = strlen(truncated_mark);
    for (size_t cap = 1; cap <= full.len + 1; cap++) {
        uint8_t storage[1024];
        assert_true(cap < sizeof(storage));
        memset(storage, 0xEE, sizeof(storage));
        sgp32_buf out;
        sgp32_buf_init_fixed(&out, storage, cap);
        sgp32_buf in = hex_to_buf(EUICC_PACKAGE_REQUEST);
        sgp32_arena arena;
        sgp32_arena_init(&arena, 1 << 16);
        sgp32_euicc_package_request req;
        assert_int_equal(sgp32_asn1_decode(&sgp32_type_euicc_package_request, in.data, in.len, &arena, &req),
                         SGP32_OK);
        int rc = sgp32_asn1_print(&sgp32_type_euicc_package_request, &req, &out);
        assert_true(out.len < cap);
        assert_int_equal(storage[out.len], 0);
        assert_int_equal(storage[cap], 0xEE);
        if (cap > full.len) {
            assert_int_equal(rc, SGP32_OK);
            assert_string_equal((const char *)storage, (const char *)full.data);
        } else {
            assert_int_equal(rc, SGP32_ERR_CAPACITY);
            size_t body = out.len;
            if (cap > mark_len) {
                assert_true(out.len >= mark_len);
                assert_memory_equal(storage + out.len - mark_len, truncated_mark, mark_len);
                body -= mark_len;
            }
            assert_memory_equal(storage, full.data, body);
        }
        sgp32_arena_free(&arena);
        sgp32_buf_free(&in);
    }
    sgp32_buf_free(&full);

    /* Text already in the buffer is kept; a full buffer is refused. */
    uint8_t storage[8];
    sgp32_buf out;
    sgp32_buf_init_fixed(&out, storage, sizeof(storage));
    assert_int_equal(sgp32_buf_append(&out, "12345678", 8), SGP32_OK);
    int64_t n = 1;
    assert_int_equal(sgp32_asn1_print(&sgp32_type_integer, &n, &out), SGP32_ERR_CAPACITY);
    assert_int_equal(out.len, 8);
    assert_int_equal(sgp32_asn1_print(NULL, &n, &out), SGP32_ERR_INVALID_ARGUMENT);
    assert_int_equal(sgp32_asn1_print(&sgp32_type_integer, NULL, &out), SGP32_ERR_INVALID_ARGUMENT);
    assert_int_equal(sgp32_asn1_print(&sgp32_type_integer, &n, NULL), SGP32_ERR_INVALID_ARGUMENT);
}

/* Print in the default form and on one line (and, when full, with every byte: not compared
   across a round trip, as a Certificate keeps the tag it was received with). */
static void print_one(const sgp32_asn1_type *type, const void *value, sgp32_buf *out, const char *what,
                      size_t v, bool full)
{
    static const sgp32_asn1_print_options modes[] = {
        {0},
        {.single_line = true},
        {.full_hex = true, .no_domain = true, .width = 20},
    };
    sgp32_buf_reset(out);
    for (size_t m = 0; m < (full ? 3 : 2); m++) {
        size_t before = out->len;
        int rc = sgp32_asn1_print_ex(type, value, &modes[m], out);
        if (rc)
            fail_msg("%s %s variant %zu mode %zu: %s", type->name, what, v, m, sgp32_err_str(rc));
        assert_true(out->len > before + strlen(type->name));
        assert_int_equal(out->data[out->len - 1], '\n');
        assert_int_equal(out->data[out->len], 0);
        assert_memory_equal(out->data + before, type->name, strlen(type->name));
    }
}

/* Every sample of every named type prints, and prints the same after encode and decode. */
static void every_named_type_prints(void **state)
{
    (void)state;
    size_t printed = 0;
    sgp32_buf text, text2;
    sgp32_buf_init(&text, 1 << 22);
    sgp32_buf_init(&text2, 1 << 22);
    for (size_t t = 0; t < sgp32_asn1_named_type_count; t++) {
        const sgp32_asn1_type *type = sgp32_asn1_named_types[t];
        size_t variants = sample_variant_count(type);
        for (size_t v = 0; v < variants; v++) {
            sgp32_arena arena;
            sgp32_arena_init(&arena, 1 << 22);
            void *value = sgp32_arena_alloc(&arena, type->size);
            void *again = sgp32_arena_alloc(&arena, type->size);
            assert_int_equal(sample_build(type, v, &arena, value), SGP32_OK);
            print_one(type, value, &text, "sample", v, true);
            print_one(type, value, &text, "sample", v, false);

            sgp32_buf der;
            sgp32_buf_init(&der, 1 << 20);
            assert_int_equal(sgp32_asn1_encode(type, value, &der), SGP32_OK);
            assert_int_equal(sgp32_asn1_decode(type, der.data, der.len, &arena, again), SGP32_OK);
            print_one(type, again, &text2, "decoded", v, false);
            if (text.len != text2.len || memcmp(text.data, text2.data, text.len) != 0)
                fail_msg("%s variant %zu prints differently after a round trip:\n%s\n%s", type->name, v,
                         (const char *)text.data, (const char *)text2.data);

            /* An all-zero value (nothing chosen, empty lists) prints too. */
            void *zero = sgp32_arena_alloc(&arena, type->size);
            print_one(type, zero, &text, "zero", v, true);
            sgp32_buf_free(&der);
            sgp32_arena_free(&arena);
            printed++;
        }
    }
    sgp32_buf_free(&text);
    sgp32_buf_free(&text2);
    assert_true(printed > sgp32_asn1_named_type_count);
}

/* What a failed decode leaves behind (chosen alternatives without contents, counted lists
   without items) prints without a crash: cut every sample encoding at every length. */
static void partial_values_from_failed_decodes_print(void **state)
{
    (void)state;
    size_t printed = 0;
    sgp32_buf text;
    sgp32_buf_init(&text, 1 << 22);
    for (size_t t = 0; t < sgp32_asn1_named_type_count; t++) {
        const sgp32_asn1_type *type = sgp32_asn1_named_types[t];
        for (size_t v = 0; v < 2; v++) {
            sgp32_arena arena, small;
            sgp32_arena_init(&arena, 1 << 22);
            void *value = sgp32_arena_alloc(&arena, type->size);
            void *partial = sgp32_arena_alloc(&arena, type->size);
            assert_int_equal(sample_build(type, v, &arena, value), SGP32_OK);
            sgp32_buf der;
            sgp32_buf_init(&der, 1 << 20);
            assert_int_equal(sgp32_asn1_encode(type, value, &der), SGP32_OK);
            for (size_t cut = 0; cut <= der.len; cut++) {
                /* A tiny arena so that lists fail to allocate, too. */
                sgp32_arena_init(&small, cut % 3 ? 1 << 20 : 64);
                (void)sgp32_asn1_decode(type, der.data, cut, &small, partial);
                sgp32_buf_reset(&text);
                int rc = sgp32_asn1_print(type, partial, &text);
                assert_int_equal(rc, SGP32_OK);
                assert_true(text.len > 0);
                sgp32_arena_free(&small);
                printed++;
            }
            sgp32_buf_free(&der);
            sgp32_arena_free(&arena);
        }
    }
    sgp32_buf_free(&text);
    assert_true(printed > 1000);
}

static void tlv_tree_shows_structure_and_errors(void **state)
{
    (void)state;
    sgp32_buf in = hex_to_buf("BF4F03020101 8003 65494D"), out;
    sgp32_buf_init(&out, 4096);
    assert_int_equal(sgp32_asn1_print_tlv_tree(in.data, in.len, NULL, &out), SGP32_OK);
    assert_string_equal((const char *)out.data, "0000 BF4F len 3 {\n"
                                                "0003   02 len 1: 01\n"
                                                "     }\n"
                                                "0006 80 len 3: 65494D \"eIM\"\n");
    sgp32_buf_free(&in);
    sgp32_buf_reset(&out);

    /* Indefinite length (BER): reported in place, and the error returned. */
    in = hex_to_buf("BF4F80020101000100 00");
    assert_int_equal(sgp32_asn1_print_tlv_tree(in.data, in.len, NULL, &out), SGP32_ERR_ASN1_INDEFINITE);
    assert_contains(&out, "0000 <");
    sgp32_buf_free(&in);
    sgp32_buf_reset(&out);

    /* A length past the end inside a valid outer TLV. */
    in = hex_to_buf("3003 0205 01");
    assert_int_equal(sgp32_asn1_print_tlv_tree(in.data, in.len, NULL, &out), SGP32_ERR_ASN1_TRUNCATED);
    assert_contains(&out, "0000 30 len 3 {\n0002   <");
    sgp32_buf_free(&in);
    sgp32_buf_reset(&out);

    /* Nesting far deeper than any message: bounded, reported. */
    uint8_t deep[2 * 60];
    for (size_t i = 0; i < 60; i++) {
        deep[2 * i] = 0x30;
        deep[2 * i + 1] = (uint8_t)(2 * (60 - i - 1));
    }
    assert_int_equal(sgp32_asn1_print_tlv_tree(deep, sizeof(deep), NULL, &out), SGP32_ERR_ASN1_TOO_DEEP);
    sgp32_buf_reset(&out);

    assert_int_equal(sgp32_asn1_print_tlv_tree(NULL, 0, NULL, &out), SGP32_OK);
    assert_string_equal((const char *)out.data, "<empty>\n");
    sgp32_buf_free(&out);
}

static int print_with_heap(void *ctx)
{
    (void)ctx;
    static const char hex[] = EUICC_PACKAGE_REQUEST;
    uint8_t storage[1024], der[256];
    sgp32_buf in;
    sgp32_buf_init_fixed(&in, der, sizeof(der));
    sgp32_euicc_package_request req;
    sgp32_arena arena;
    sgp32_arena_init_fixed(&arena, storage, sizeof(storage));
    int rc = sgp32_hex_decode(hex, strlen(hex), &in);
    if (rc == SGP32_OK)
        rc = sgp32_asn1_decode(&sgp32_type_euicc_package_request, in.data, in.len, &arena, &req);
    if (rc == SGP32_OK) {
        sgp32_buf out;
        sgp32_buf_init(&out, 1 << 16);
        rc = sgp32_asn1_print(&sgp32_type_euicc_package_request, &req, &out);
        sgp32_buf_free(&out);
    }
    sgp32_buf_free(&in);
    return rc;
}

static void allocation_failures_are_reported(void **state)
{
    (void)state;
    /* The output buffer's growth steps: each failure is SGP32_ERR_NO_MEMORY, nothing leaks. */
    assert_true(test_alloc_fail_each(print_with_heap, NULL) >= 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(esipa_messages_print_with_names),
        cmocka_unit_test(named_bits_print_by_name),
        cmocka_unit_test(euicc_package_request_prints_in_full),
        cmocka_unit_test(results_and_identifiers_print_in_domain_form),
        cmocka_unit_test(text_is_escaped),
        cmocka_unit_test(output_is_bounded_by_the_cap),
        cmocka_unit_test(every_named_type_prints),
        cmocka_unit_test(partial_values_from_failed_decodes_print),
        cmocka_unit_test(tlv_tree_shows_structure_and_errors),
        cmocka_unit_test(allocation_failures_are_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

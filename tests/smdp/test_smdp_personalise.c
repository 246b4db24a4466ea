/*
 * SM-DP+ personalisation of a profile template (sgp32_smdp_personalise; lib/smdp/upp_header.c,
 * lib/smdp/upp_personalise.c) on both TS.48 test profiles: the order's ICCID in the ProfileHeader
 * (plain BCD), in EF.ICCID of the MF element (nibble-swapped; NOTES §9) and in the metadata, with
 * every other byte of the template unchanged; EF.IMSI (TS 31.102 §4.2.2, TS 24.008 mobile
 * identity) rewritten on request, and from inventory ranges with IMSIs (sgp32_smdp_inventory_add);
 * templates whose EF.ICCID is missing, split or of another size refused. The AKA keys: Ki and OPc in
 * both akaParameter elements (A4, PEDefinitions) of both TS.48 profiles, found again by a walk of
 * the result written here from the module (not the code under test), and nothing else changed;
 * templates whose akaParameters cannot take one pair refused; the profile_keys hook of the server
 * (sgp32_smdp_personalise_order): found, the template's, missing (refused), failing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "alloc_fail.h"
#include "euicc_fixture.h"
#include "sgp32/asn1.h"
#include "sgp32/profile_package.h"
#include "sgp32/smdp_server.h"

#define TS48_V1      SGP32_SPEC_DIR "/profiles/TS48V1-A-UNIQUE.der"
#define TS48_V2      SGP32_SPEC_DIR "/profiles/TS48V2-SAIP2-1-BERTLV-UNIQUE.der"
#define SMDP_ADDRESS "smdp.example.com"

static const char *const templates[2] = {TS48_V1, TS48_V2};

static sgp32_smdp_profile_template make_template(const sgp32_buf *upp)
{
    sgp32_smdp_profile_template t;
    memset(&t, 0, sizeof(t));
    strcpy(t.profile_type, "ts48");
    t.upp = sgp32_buf_bytes(upp);
    t.service_provider_name = "Test SP";
    t.profile_class = 2;
    return t;
}

/* Offset of the ProfileHeader's iccid 83 contents. */
static size_t header_iccid_at(const uint8_t *upp, size_t len)
{
    sgp32_asn1_tlv header, field;
    assert_int_equal(sgp32_asn1_read_tlv(upp, len, &header, NULL), SGP32_OK);
    sgp32_asn1_reader r;
    sgp32_asn1_reader_init(&r, header.value, 1);
    while (sgp32_asn1_reader_next(&r, &field) == SGP32_OK)
        if (field.tag == 0x83)
            return (size_t)(field.value.data - upp);
    fail_msg("no header iccid");
    return 0;
}

/* Every differing byte of a and b lies in one of the [at, at + size) regions. */
static void assert_same_except(const sgp32_buf *a, const sgp32_buf *b, const size_t *at, const size_t *size,
                               size_t regions)
{
    assert_int_equal(a->len, b->len);
    size_t changed = 0;
    for (size_t i = 0; i < a->len; i++) {
        bool masked = false;
        for (size_t k = 0; k < regions; k++)
            masked |= i >= at[k] && i < at[k] + size[k];
        if (!masked)
            assert_int_equal(a->data[i], b->data[i]);
        changed += a->data[i] != b->data[i];
    }
    assert_true(changed > 0);
}

/* The template: header and EF.ICCID agree; EF.IMSI decodes (a real TS 24.008 vector). */
static void templates_agree(void **state)
{
    (void)state;
    for (size_t v = 0; v < 2; v++) {
        sgp32_buf upp;
        assert_int_equal(test_read_file(templates[v], &upp), SGP32_OK);
        char header[21], ef[21], imsi[16];
        assert_int_equal(sgp32_upp_iccid(upp.data, upp.len, header), SGP32_OK);
        assert_int_equal(sgp32_upp_ef_iccid(upp.data, upp.len, ef), SGP32_OK);
        assert_string_equal(header, ef);
        assert_int_equal(sgp32_upp_ef_imsi(upp.data, upp.len, imsi), SGP32_OK);
        assert_string_equal(imsi, "001010123456063"); /* EF.IMSI 08 09 10 10 10 32 54 06 36 */
        size_t at, size;
        assert_int_equal(sgp32_upp_find_file(upp.data, upp.len, SGP32_UPP_EF_IMSI, &at, &size), SGP32_OK);
        static const uint8_t vector[9] = {0x08, 0x09, 0x10, 0x10, 0x10, 0x32, 0x54, 0x06, 0x36};
        assert_int_equal(size, 9);
        assert_memory_equal(upp.data + at, vector, 9);
        /* Writing the same identifiers back is a no-op: the encoders match the template. */
        sgp32_buf copy;
        sgp32_buf_init(&copy, 1 << 20);
        assert_int_equal(sgp32_buf_append(&copy, upp.data, upp.len), SGP32_OK);
        assert_int_equal(sgp32_upp_set_files(copy.data, copy.len, ef, imsi), SGP32_OK);
        assert_memory_equal(copy.data, upp.data, upp.len);
        sgp32_buf_free(&copy);
        sgp32_buf_free(&upp);
    }
}

/* Each order's UPP: header ICCID = EF.ICCID = metadata ICCID = the order's; nothing else changes. */
static void personalise_both_templates(void **state)
{
    (void)state;
    static const char *const iccids[] = {"89000123456789012341", "8949449999999990171", "894944999999999017"};
    for (size_t v = 0; v < 2; v++) {
        sgp32_buf tpl;
        assert_int_equal(test_read_file(templates[v], &tpl), SGP32_OK);
        sgp32_smdp_profile_template t = make_template(&tpl);
        size_t at[2], size[2] = {10, 10};
        at[0] = header_iccid_at(tpl.data, tpl.len);
        assert_int_equal(sgp32_upp_find_file(tpl.data, tpl.len, SGP32_UPP_EF_ICCID, &at[1], &size[1]),
                         SGP32_OK);
        assert_int_equal(size[1], 10);
        for (size_t i = 0; i < sizeof(iccids) / sizeof(iccids[0]); i++) {
            sgp32_buf upp, md;
            sgp32_buf_init(&upp, 1 << 20);
            sgp32_buf_init(&md, 1 << 16);
            assert_int_equal(sgp32_smdp_personalise(&t, iccids[i], NULL, NULL, SMDP_ADDRESS, &upp, &md),
                             SGP32_OK);
            char header[21], ef[21], imsi[16];
            assert_int_equal(sgp32_upp_iccid(upp.data, upp.len, header), SGP32_OK);
            assert_int_equal(sgp32_upp_ef_iccid(upp.data, upp.len, ef), SGP32_OK);
            assert_string_equal(header, iccids[i]);
            assert_string_equal(ef, iccids[i]);
            /* EF.ICCID bytes are exactly the metadata's Iccid 5A (both EF.ICCID coding). */
            uint8_t bcd[10];
            assert_int_equal(sgp32_smdp_iccid_to_bcd(iccids[i], bcd), SGP32_OK);
            assert_memory_equal(upp.data + at[1], bcd, 10);
            bool in_metadata = false;
            for (size_t k = 0; k + 12 <= md.len; k++)
                in_metadata |=
                    md.data[k] == 0x5A && md.data[k + 1] == 10 && !memcmp(md.data + k + 2, bcd, 10);
            assert_true(in_metadata);
            /* the metadata alone (AuthenticateClient's) is the same bytes */
            sgp32_buf alone;
            sgp32_buf_init(&alone, 1 << 16);
            assert_int_equal(sgp32_smdp_profile_metadata(&t, iccids[i], SMDP_ADDRESS, &alone), SGP32_OK);
            assert_int_equal(alone.len, md.len);
            assert_memory_equal(alone.data, md.data, md.len);
            sgp32_buf_free(&alone);
            assert_same_except(&upp, &tpl, at, size, 2);
            assert_int_equal(sgp32_upp_ef_imsi(upp.data, upp.len, imsi), SGP32_OK);
            assert_string_equal(imsi, "001010123456063"); /* orders carry no IMSI */
            sgp32_buf_free(&upp);
            sgp32_buf_free(&md);
        }
        sgp32_buf_free(&tpl);
    }
}

/* EF.IMSI on request: odd and even digit counts, the length byte, F filler, FF for unused bytes. */
static void set_imsi(void **state)
{
    (void)state;
    static const struct {
        const char *imsi;
        uint8_t ef[9];
    } cases[] = {
        {"234150999999999", {0x08, 0x29, 0x43, 0x51, 0x90, 0x99, 0x99, 0x99, 0x99}},
        {"23415099999999", {0x08, 0x21, 0x43, 0x51, 0x90, 0x99, 0x99, 0x99, 0xF9}},
        {"001011", {0x04, 0x01, 0x10, 0x10, 0xF1, 0xFF, 0xFF, 0xFF, 0xFF}},
        {"0010112", {0x04, 0x09, 0x10, 0x10, 0x21, 0xFF, 0xFF, 0xFF, 0xFF}},
    };
    for (size_t v = 0; v < 2; v++) {
        sgp32_buf tpl, upp;
        assert_int_equal(test_read_file(templates[v], &tpl), SGP32_OK);
        size_t at[2], size[2];
        assert_int_equal(sgp32_upp_find_file(tpl.data, tpl.len, SGP32_UPP_EF_ICCID, &at[0], &size[0]),
                         SGP32_OK);
        assert_int_equal(sgp32_upp_find_file(tpl.data, tpl.len, SGP32_UPP_EF_IMSI, &at[1], &size[1]),
                         SGP32_OK);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            sgp32_buf_init(&upp, 1 << 20);
            assert_int_equal(sgp32_buf_append(&upp, tpl.data, tpl.len), SGP32_OK);
            assert_int_equal(sgp32_upp_set_files(upp.data, upp.len, "89000123456789012341", cases[i].imsi),
                             SGP32_OK);
            assert_memory_equal(upp.data + at[1], cases[i].ef, 9);
            char imsi[16], ef[21];
            assert_int_equal(sgp32_upp_ef_imsi(upp.data, upp.len, imsi), SGP32_OK);
            assert_string_equal(imsi, cases[i].imsi);
            assert_int_equal(sgp32_upp_ef_iccid(upp.data, upp.len, ef), SGP32_OK);
            assert_string_equal(ef, "89000123456789012341");
            assert_same_except(&upp, &tpl, at, size, 2);
            sgp32_buf_free(&upp);
        }
        /* Bad digits: refused, nothing written. */
        static const char *const bad_imsi[] = {"12345", "1234567890123456", "23415099999999a"};
        for (size_t i = 0; i < sizeof(bad_imsi) / sizeof(bad_imsi[0]); i++) {
            sgp32_buf_init(&upp, 1 << 20);
            assert_int_equal(sgp32_buf_append(&upp, tpl.data, tpl.len), SGP32_OK);
            assert_int_equal(sgp32_upp_set_files(upp.data, upp.len, "89000123456789012341", bad_imsi[i]),
                             SGP32_ERR_BAD_TEXT);
            assert_memory_equal(upp.data, tpl.data, tpl.len);
            sgp32_buf_free(&upp);
        }
        static const char *const bad_iccid[] = {"89000123456789012", "890001234567890123456",
                                                "8900012345678901234x"};
        for (size_t i = 0; i < sizeof(bad_iccid) / sizeof(bad_iccid[0]); i++)
            assert_int_equal(sgp32_upp_set_files(tpl.data, tpl.len, bad_iccid[i], NULL), SGP32_ERR_BAD_TEXT);
        sgp32_buf_free(&tpl);
    }
}

/* An order's IMSI goes into EF.IMSI next to its ICCID; "" and NULL keep the template's; a bad one
 * fails the personalisation. */
static void personalise_with_imsi(void **state)
{
    (void)state;
    for (size_t v = 0; v < 2; v++) {
        sgp32_buf tpl;
        assert_int_equal(test_read_file(templates[v], &tpl), SGP32_OK);
        sgp32_smdp_profile_template t = make_template(&tpl);
        static const struct {
            const char *given, *expected;
        } cases[] = {
            {"234150999999977", "234150999999977"}, {"", "001010123456063"}, {NULL, "001010123456063"}};
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            sgp32_buf upp, md;
            sgp32_buf_init(&upp, 1 << 20);
            sgp32_buf_init(&md, 1 << 16);
            assert_int_equal(sgp32_smdp_personalise(&t, "89000123456789012341", cases[i].given, NULL,
                                                    SMDP_ADDRESS, &upp, &md),
                             SGP32_OK);
            char imsi[16], ef[21];
            assert_int_equal(sgp32_upp_ef_imsi(upp.data, upp.len, imsi), SGP32_OK);
            assert_string_equal(imsi, cases[i].expected);
            assert_int_equal(sgp32_upp_ef_iccid(upp.data, upp.len, ef), SGP32_OK);
            assert_string_equal(ef, "89000123456789012341");
            sgp32_buf_free(&upp);
            sgp32_buf_free(&md);
        }
        sgp32_buf upp, md;
        sgp32_buf_init(&upp, 1 << 20);
        sgp32_buf_init(&md, 1 << 16);
        assert_int_equal(
            sgp32_smdp_personalise(&t, "89000123456789012341", "12345", NULL, SMDP_ADDRESS, &upp, &md),
            SGP32_ERR_BAD_TEXT);
        assert_int_equal(upp.len, 0); /* nothing half-written left behind */
        sgp32_buf_free(&upp);
        sgp32_buf_free(&md);
        sgp32_buf_free(&tpl);
    }
}

/* An inventory range with IMSIs: each order gets the next IMSI with its ICCID; a range that would
 * run past the last number of its length, a malformed IMSI, or a template without an IMSI is refused
 * before anything is stored. */
static void inventory_with_imsis(void **state)
{
    (void)state;
    sgp32_buf tpl;
    assert_int_equal(test_read_file(TS48_V1, &tpl), SGP32_OK);
    sgp32_smdp_profile_template t = make_template(&tpl);
    sgp32_smdp_sqlite *db = NULL;
    assert_int_equal(sgp32_smdp_sqlite_open(":memory:", &db), SGP32_OK);
    /* sgp32_smdp_inventory_add needs the templates and the store only */
    sgp32_smdp_server srv;
    memset(&srv, 0, sizeof(srv));
    srv.config.templates = &t;
    srv.config.template_count = 1;
    srv.config.store = sgp32_smdp_sqlite_store(db);
    size_t added = 0;
    assert_int_equal(
        sgp32_smdp_inventory_add(&srv, "ts48", "894944999900000000", "001010000000098", 4, &added), SGP32_OK);
    assert_int_equal(added, 4);
    static const char *const expected[] = {"001010000000098", "001010000000099", "001010000000100",
                                           "001010000000101"};
    char iccid[] = "894944999900000000";
    for (size_t i = 0; i < 4; i++) {
        sgp32_smdp_order o;
        assert_int_equal(srv.config.store.order_find_available(srv.config.store.ctx, "ts48", &o), SGP32_OK);
        assert_int_equal(strncmp(o.iccid, iccid, 18), 0);
        assert_string_equal(o.imsi, expected[i]);
        o.state = SGP32_ORDER_ALLOCATED;
        assert_int_equal(srv.config.store.order_update(srv.config.store.ctx, &o), SGP32_OK);
        iccid[17]++;
    }
    /* refused, and nothing stored: past the last 15-digit number, malformed, too short, or a
     * template without an IMSI */
    assert_int_equal(
        sgp32_smdp_inventory_add(&srv, "ts48", "894944999900001000", "999999999999998", 3, &added),
        SGP32_ERR_BAD_TEXT);
    assert_int_equal(sgp32_smdp_inventory_add(&srv, "ts48", "894944999900001000", "0010x", 1, &added),
                     SGP32_ERR_BAD_TEXT);
    assert_int_equal(sgp32_smdp_inventory_add(&srv, "ts48", "894944999900001000", "12345", 1, &added),
                     SGP32_ERR_BAD_TEXT);
    /* a template whose EF.IMSI holds no IMSI (all FF) takes no IMSI range */
    sgp32_buf blank;
    sgp32_buf_init(&blank, 1 << 20);
    assert_int_equal(sgp32_buf_append(&blank, tpl.data, tpl.len), SGP32_OK);
    size_t at, size;
    assert_int_equal(sgp32_upp_find_file(blank.data, blank.len, SGP32_UPP_EF_IMSI, &at, &size), SGP32_OK);
    memset(blank.data + at, 0xFF, size);
    t.upp = sgp32_buf_bytes(&blank);
    assert_int_equal(
        sgp32_smdp_inventory_add(&srv, "ts48", "894944999900001000", "001010000000001", 1, &added),
        SGP32_ERR_BAD_TEXT);
    t.upp = sgp32_buf_bytes(&tpl);
    sgp32_buf_free(&blank);
    int64_t counts[SGP32_ORDER_STATE_COUNT];
    assert_int_equal(sgp32_smdp_sqlite_count(db, counts), SGP32_OK);
    assert_int_equal(counts[SGP32_ORDER_AVAILABLE], 0);
    /* the last numbers of the length are fine */
    assert_int_equal(
        sgp32_smdp_inventory_add(&srv, "ts48", "894944999900001000", "999999999999998", 2, &added), SGP32_OK);
    assert_int_equal(added, 2);
    sgp32_smdp_sqlite_close(db);
    sgp32_buf_free(&tpl);
}

/* The template with the bytes [at, at + n) replaced by repl[0..m), the MF element's length fixed, and
 * the short-form length of the TLV at inner (when not 0) too. */
static void splice(const sgp32_buf *tpl, size_t at, size_t n, const uint8_t *repl, size_t m, size_t inner,
                   sgp32_buf *out)
{
    sgp32_asn1_tlv pe;
    size_t pe_at = 0, used = 0;
    while (sgp32_asn1_read_tlv(tpl->data + pe_at, tpl->len - pe_at, &pe, &used) == SGP32_OK && pe.tag != 0xB0)
        pe_at += used;
    assert_int_equal(pe.tag, 0xB0);
    size_t value_at = (size_t)(pe.value.data - tpl->data);
    assert_true(at >= value_at && at + n <= value_at + pe.value.len);
    sgp32_buf_init(out, 1 << 20);
    assert_int_equal(sgp32_buf_append(out, tpl->data, pe_at), SGP32_OK);
    assert_int_equal(sgp32_asn1_write_header(out, 0xB0, pe.value.len - n + m), SGP32_OK);
    assert_int_equal(sgp32_buf_append(out, tpl->data + value_at, at - value_at), SGP32_OK);
    assert_int_equal(sgp32_buf_append(out, repl, m), SGP32_OK);
    size_t rest = at + n;
    assert_int_equal(sgp32_buf_append(out, tpl->data + rest, tpl->len - rest), SGP32_OK);
    if (inner) {
        size_t new_header = sgp32_asn1_tag_len(0xB0) + sgp32_asn1_length_len(pe.value.len - n + m);
        size_t moved = inner + new_header - (value_at - pe_at); /* the B0 header may have changed size */
        assert_true(tpl->data[inner + 1] < 0x80 && tpl->data[inner + 1] - n + m < 0x80);
        out->data[moved + 1] = (uint8_t)(tpl->data[inner + 1] - n + m);
    }
}

static void assert_refused(const sgp32_buf *bad, int expected)
{
    sgp32_smdp_profile_template t = make_template(bad);
    sgp32_buf upp, md;
    sgp32_buf_init(&upp, 1 << 20);
    sgp32_buf_init(&md, 1 << 16);
    assert_int_equal(sgp32_smdp_personalise(&t, "89000123456789012341", NULL, NULL, SMDP_ADDRESS, &upp, &md),
                     expected);
    assert_int_equal(upp.len, 0);
    assert_int_equal(md.len, 0);
    sgp32_buf_free(&upp);
    sgp32_buf_free(&md);
}

/* No EF.ICCID, no content, split content, another size, malformed DER: refused, never left as is. */
static void refuse_bad_ef_iccid(void **state)
{
    (void)state;
    for (size_t v = 0; v < 2; v++) {
        sgp32_buf tpl, bad;
        assert_int_equal(test_read_file(templates[v], &tpl), SGP32_OK);
        size_t at, size;
        assert_int_equal(sgp32_upp_find_file(tpl.data, tpl.len, SGP32_UPP_EF_ICCID, &at, &size), SGP32_OK);
        assert_int_equal(tpl.data[at - 2], 0x83);
        /* The ef-iccid A4 in the MF element, located from its content. */
        size_t ef_at = at;
        while (tpl.data[ef_at] != 0xA4 || ef_at + 2 + tpl.data[ef_at + 1] != at + 10)
            ef_at--;

        /* ef-iccid removed. */
        splice(&tpl, ef_at, at + 10 - ef_at, NULL, 0, 0, &bad);
        assert_refused(&bad, SGP32_ERR_ASN1_MISSING);
        sgp32_buf_free(&bad);

        /* ef-iccid without fillFileContent (its 83 becomes an 84). */
        sgp32_buf_init(&bad, 1 << 20);
        assert_int_equal(sgp32_buf_append(&bad, tpl.data, tpl.len), SGP32_OK);
        bad.data[at - 2] = 0x84;
        assert_refused(&bad, SGP32_ERR_ASN1_MISSING);

        /* 9 content bytes (83 09 .. 9 bytes, then doNotCreate 80 00 keeps the lengths). */
        memcpy(bad.data, tpl.data, tpl.len);
        bad.data[at - 1] = 8;
        bad.data[at + 8] = 0x80;
        bad.data[at + 9] = 0x00;
        assert_refused(&bad, SGP32_ERR_ASN1_SIZE);

        /* A longer content (11 bytes), every enclosing length fixed. */
        sgp32_buf_free(&bad);
        static const uint8_t eleven[] = {0x83, 0x0B, 0x98, 0x00, 0x10, 0x32, 0x54,
                                         0x76, 0x98, 0x10, 0x32, 0x14, 0xFF};
        splice(&tpl, at - 2, 12, eleven, sizeof(eleven), ef_at, &bad);
        assert_int_equal(sgp32_upp_find_file(bad.data, bad.len, SGP32_UPP_EF_ICCID, &ef_at, &size), SGP32_OK);
        assert_int_equal(size, 11);
        assert_refused(&bad, SGP32_ERR_ASN1_SIZE);
        sgp32_buf_free(&bad);

        /* fillFileOffset 1 then 7 bytes: split content. */
        sgp32_buf_init(&bad, 1 << 20);
        assert_int_equal(sgp32_buf_append(&bad, tpl.data, tpl.len), SGP32_OK);
        static const uint8_t split[] = {0x82, 0x01, 0x01, 0x83, 0x07};
        memcpy(bad.data + at - 2, split, sizeof(split));
        assert_refused(&bad, SGP32_ERR_UNSUPPORTED);
        /* fillFileOffset 0 then 7 bytes: not split, but 7 bytes. */
        bad.data[at] = 0x00;
        assert_refused(&bad, SGP32_ERR_ASN1_SIZE);

        /* Two fillFileContent (83 04 .., 83 04 ..). */
        memcpy(bad.data, tpl.data, tpl.len);
        bad.data[at - 1] = 4;
        bad.data[at + 4] = 0x83;
        bad.data[at + 5] = 4;
        assert_refused(&bad, SGP32_ERR_UNSUPPORTED);

        /* Two MF elements. */
        sgp32_buf_free(&bad);
        sgp32_buf_init(&bad, 1 << 20);
        sgp32_asn1_tlv header, mf;
        size_t header_len, mf_len;
        assert_int_equal(sgp32_asn1_read_tlv(tpl.data, tpl.len, &header, &header_len), SGP32_OK);
        assert_int_equal(sgp32_asn1_read_tlv(tpl.data + header_len, tpl.len - header_len, &mf, &mf_len),
                         SGP32_OK);
        assert_int_equal(sgp32_buf_append(&bad, tpl.data, header_len + mf_len), SGP32_OK);
        assert_int_equal(sgp32_buf_append(&bad, tpl.data + header_len, tpl.len - header_len), SGP32_OK);
        assert_refused(&bad, SGP32_ERR_ASN1_ORDER);
        sgp32_buf_free(&bad);

        /* Truncated package. */
        sgp32_buf_init(&bad, 1 << 20);
        assert_int_equal(sgp32_buf_append(&bad, tpl.data, tpl.len - 3), SGP32_OK);
        assert_refused(&bad, SGP32_ERR_ASN1_TRUNCATED);
        sgp32_buf_free(&bad);

        /* No USIM element: EF.IMSI missing only matters when an IMSI is asked for. */
        char ef[21];
        assert_int_equal(sgp32_upp_ef_iccid(tpl.data, tpl.len, ef), SGP32_OK);
        sgp32_buf_init(&bad, 1 << 20);
        assert_int_equal(sgp32_buf_append(&bad, tpl.data, header_len + mf_len), SGP32_OK);
        assert_int_equal(sgp32_upp_set_files(bad.data, bad.len, ef, NULL), SGP32_OK);
        assert_int_equal(sgp32_upp_set_files(bad.data, bad.len, ef, "001010123456063"),
                         SGP32_ERR_ASN1_MISSING);
        sgp32_buf_free(&bad);
        sgp32_buf_free(&tpl);
    }
}

/* ------------------------------------------------------------------ AKA keys */

static const sgp32_upp_aka_keys test_keys = {
    {0x46, 0x5B, 0x5C, 0xE8, 0xB1, 0x99, 0xB4, 0x9F, 0xAA, 0x5F, 0x0A, 0x2E, 0xE2, 0x38, 0xA6, 0xBC},
    {0xCD, 0x63, 0xCB, 0x71, 0x95, 0x4A, 0x9F, 0x4E, 0x48, 0xA5, 0x99, 0x4E, 0x37, 0xA0, 0x2B, 0xAF},
};
static const uint8_t ts48_key[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
static const uint8_t zeros[16];

/* An akaParameter as the test reads it, straight from PEDefinitions: ProfileElement akaParameter [4] A4
 * { aka-header [0] A0 {.. identification [1] 81}, algoConfiguration [1] A1 { algoParameter [1] A1 {
 * algorithmID [0] 80, algorithmOptions [1] 81, key [2] 82, opc [3] 83, ...} } }. */
typedef struct aka_seen {
    int64_t identification, algorithm;
    size_t key_at, opc_at; /* offsets of the contents */
    size_t key_len, opc_len;
} aka_seen;

/* Every akaParameter with an algoParameter of a package (at most 4), by a walk of its own; those with a
 * mappingParameter [0] A0 are skipped. */
static size_t walk_aka(const uint8_t *upp, size_t len, aka_seen *out)
{
    size_t n = 0, at = 0, used;
    sgp32_asn1_tlv pe;
    while (at < len) {
        assert_int_equal(sgp32_asn1_read_tlv(upp + at, len - at, &pe, &used), SGP32_OK);
        at += used;
        if (pe.tag != 0xA4)
            continue;
        assert_true(n < 4);
        aka_seen *a = &out[n];
        memset(a, 0, sizeof(*a));
        sgp32_asn1_tlv header, config, param, field;
        size_t h_used;
        assert_int_equal(sgp32_asn1_read_tlv(pe.value.data, pe.value.len, &header, &h_used), SGP32_OK);
        assert_int_equal(header.tag, 0xA0);
        sgp32_asn1_reader r;
        sgp32_asn1_reader_init(&r, header.value, 2);
        while (sgp32_asn1_reader_next(&r, &field) == SGP32_OK)
            if (field.tag == 0x81)
                assert_int_equal(sgp32_asn1_parse_integer(field.value, &a->identification), SGP32_OK);
        assert_int_equal(sgp32_asn1_read_tlv(pe.value.data + h_used, pe.value.len - h_used, &config, NULL),
                         SGP32_OK);
        assert_int_equal(config.tag, 0xA1);
        assert_int_equal(sgp32_asn1_read_tlv(config.value.data, config.value.len, &param, NULL), SGP32_OK);
        if (param.tag == 0xA0)
            continue; /* mappingParameter */
        assert_int_equal(param.tag, 0xA1);
        n++;
        sgp32_asn1_reader_init(&r, param.value, 3);
        while (sgp32_asn1_reader_next(&r, &field) == SGP32_OK) {
            if (field.tag == 0x80)
                assert_int_equal(sgp32_asn1_parse_integer(field.value, &a->algorithm), SGP32_OK);
            if (field.tag == 0x82) {
                a->key_at = (size_t)(field.value.data - upp);
                a->key_len = field.value.len;
            }
            if (field.tag == 0x83) {
                a->opc_at = (size_t)(field.value.data - upp);
                a->opc_len = field.value.len;
            }
        }
    }
    return n;
}

/* What the TS.48 files hold: two akaParameters (after the USIM, identification 11, and after the ISIM,
 * 20), usim-test-algorithm(3), key 00..0F, opc all zero; sgp32_upp_find_aka agrees with the walk. */
static void aka_in_templates(void **state)
{
    (void)state;
    for (size_t v = 0; v < 2; v++) {
        sgp32_buf tpl;
        assert_int_equal(test_read_file(templates[v], &tpl), SGP32_OK);
        aka_seen seen[4];
        assert_int_equal(walk_aka(tpl.data, tpl.len, seen), 2);
        assert_int_equal(seen[0].identification, 11);
        assert_int_equal(seen[1].identification, 20);
        sgp32_upp_aka aka;
        assert_int_equal(sgp32_upp_find_aka(tpl.data, tpl.len, &aka), SGP32_OK);
        assert_int_equal(aka.count, 2);
        assert_int_equal(aka.mapped, 0);
        assert_int_equal(aka.algorithm, SGP32_UPP_AKA_USIM_TEST_ALGORITHM);
        for (size_t i = 0; i < 2; i++) {
            assert_int_equal(seen[i].algorithm, 3);
            assert_int_equal(seen[i].key_len, 16);
            assert_int_equal(seen[i].opc_len, 16);
            assert_memory_equal(tpl.data + seen[i].key_at, ts48_key, 16);
            assert_memory_equal(tpl.data + seen[i].opc_at, zeros, 16);
            assert_int_equal(aka.key_at[i], seen[i].key_at);
            assert_int_equal(aka.opc_at[i], seen[i].opc_at);
        }
        sgp32_buf_free(&tpl);
    }
}

/* Ki and OPc in both akaParameters, next to the ICCID and IMSI; every other byte is the template's, and
 * the metadata is the same as without keys. */
static void personalise_with_keys(void **state)
{
    (void)state;
    for (size_t v = 0; v < 2; v++) {
        sgp32_buf tpl;
        assert_int_equal(test_read_file(templates[v], &tpl), SGP32_OK);
        sgp32_smdp_profile_template t = make_template(&tpl);
        aka_seen before[4], after[4];
        assert_int_equal(walk_aka(tpl.data, tpl.len, before), 2);
        size_t at[7], size[7] = {10, 10, 9, 16, 16, 16, 16};
        at[0] = header_iccid_at(tpl.data, tpl.len);
        size_t n;
        assert_int_equal(sgp32_upp_find_file(tpl.data, tpl.len, SGP32_UPP_EF_ICCID, &at[1], &n), SGP32_OK);
        assert_int_equal(sgp32_upp_find_file(tpl.data, tpl.len, SGP32_UPP_EF_IMSI, &at[2], &n), SGP32_OK);
        at[3] = before[0].key_at, at[4] = before[0].opc_at, at[5] = before[1].key_at,
        at[6] = before[1].opc_at;

        sgp32_buf upp, md, plain_upp, plain_md;
        sgp32_buf_init(&upp, 1 << 20);
        sgp32_buf_init(&md, 1 << 16);
        sgp32_buf_init(&plain_upp, 1 << 20);
        sgp32_buf_init(&plain_md, 1 << 16);
        assert_int_equal(sgp32_smdp_personalise(&t, "8949449999000000004", "234150999999977", &test_keys,
                                                SMDP_ADDRESS, &upp, &md),
                         SGP32_OK);
        assert_int_equal(walk_aka(upp.data, upp.len, after), 2);
        for (size_t i = 0; i < 2; i++) {
            assert_int_equal(after[i].identification, before[i].identification);
            assert_int_equal(after[i].algorithm, 3);
            assert_int_equal(after[i].key_at, before[i].key_at); /* in place: nothing moved */
            assert_int_equal(after[i].opc_at, before[i].opc_at);
            assert_int_equal(after[i].key_len, 16);
            assert_memory_equal(upp.data + after[i].key_at, test_keys.ki, 16);
            assert_memory_equal(upp.data + after[i].opc_at, test_keys.opc, 16);
        }
        char digits[21], imsi[16];
        assert_int_equal(sgp32_upp_iccid(upp.data, upp.len, digits), SGP32_OK);
        assert_string_equal(digits, "8949449999000000004");
        assert_int_equal(sgp32_upp_ef_iccid(upp.data, upp.len, digits), SGP32_OK);
        assert_string_equal(digits, "8949449999000000004");
        assert_int_equal(sgp32_upp_ef_imsi(upp.data, upp.len, imsi), SGP32_OK);
        assert_string_equal(imsi, "234150999999977");
        assert_same_except(&upp, &tpl, at, size, 7);
        /* the template's key is nowhere left in the package */
        for (size_t i = 0; i + 16 <= upp.len; i++)
            assert_true(memcmp(upp.data + i, ts48_key, 16) != 0);
        /* without keys: the same package but for the four key fields, the same metadata */
        assert_int_equal(sgp32_smdp_personalise(&t, "8949449999000000004", "234150999999977", NULL,
                                                SMDP_ADDRESS, &plain_upp, &plain_md),
                         SGP32_OK);
        assert_same_except(&upp, &plain_upp, at + 3, size + 3, 4);
        assert_int_equal(md.len, plain_md.len);
        assert_memory_equal(md.data, plain_md.data, md.len);
        assert_memory_equal(plain_upp.data + before[0].key_at, ts48_key, 16);
        /* the template itself is untouched */
        assert_memory_equal(tpl.data + before[1].key_at, ts48_key, 16);
        /* set_aka on its own, twice: the second is a no-op */
        assert_int_equal(sgp32_upp_set_aka(plain_upp.data, plain_upp.len, &test_keys), SGP32_OK);
        assert_memory_equal(plain_upp.data, upp.data, upp.len);
        assert_int_equal(sgp32_upp_set_aka(plain_upp.data, plain_upp.len, &test_keys), SGP32_OK);
        assert_memory_equal(plain_upp.data, upp.data, upp.len);
        sgp32_buf_free(&upp);
        sgp32_buf_free(&md);
        sgp32_buf_free(&plain_upp);
        sgp32_buf_free(&plain_md);
        sgp32_buf_free(&tpl);
    }
}

/* An akaParameter PE: identification id; algorithm < 0 gives a mappingParameter; key_len or opc_len 0
 * leaves the field out; alternative 0xA1 normally (another tag: an unknown CHOICE alternative). */
static void write_aka(sgp32_buf *out, int64_t id, int64_t algorithm, uint8_t fill, size_t key_len,
                      size_t opc_len, uint32_t alternative)
{
    uint8_t key[32], opc[32];
    memset(key, fill, sizeof(key));
    memset(opc, (uint8_t)~fill, sizeof(opc));
    size_t pe = sgp32_asn1_begin(out), h = sgp32_asn1_begin(out);
    assert_int_equal(sgp32_asn1_write_tlv(out, 0x80, NULL, 0), SGP32_OK);
    assert_int_equal(sgp32_asn1_write_integer(out, 0x81, id), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(out, 0xA0, h), SGP32_OK);
    size_t config = sgp32_asn1_begin(out), alt = sgp32_asn1_begin(out);
    if (algorithm < 0) {
        static const uint8_t aid[] = {0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02};
        assert_int_equal(sgp32_asn1_write_tlv(out, 0x80, (const uint8_t *)"\x01", 1), SGP32_OK);
        assert_int_equal(sgp32_asn1_write_tlv(out, 0x81, aid, sizeof(aid)), SGP32_OK);
        assert_int_equal(sgp32_asn1_end(out, 0xA0, alt), SGP32_OK);
    } else {
        assert_int_equal(sgp32_asn1_write_integer(out, 0x80, algorithm), SGP32_OK);
        assert_int_equal(sgp32_asn1_write_tlv(out, 0x81, (const uint8_t *)"\x02", 1), SGP32_OK);
        if (key_len)
            assert_int_equal(sgp32_asn1_write_tlv(out, 0x82, key, key_len), SGP32_OK);
        if (opc_len)
            assert_int_equal(sgp32_asn1_write_tlv(out, 0x83, opc, opc_len), SGP32_OK);
        assert_int_equal(sgp32_asn1_end(out, alternative, alt), SGP32_OK);
    }
    assert_int_equal(sgp32_asn1_end(out, 0xA1, config), SGP32_OK);
    assert_int_equal(sgp32_asn1_write_tlv(out, 0x82, (const uint8_t *)"\x02", 1), SGP32_OK); /* sqnOptions */
    assert_int_equal(sgp32_asn1_end(out, 0xA4, pe), SGP32_OK);
}

/* The template with its akaParameters replaced by the PEs in aka (at the place of the first). */
static void replace_aka(const sgp32_buf *tpl, const sgp32_buf *aka, sgp32_buf *out)
{
    sgp32_buf_init(out, 1 << 20);
    size_t at = 0, used;
    bool placed = false;
    sgp32_asn1_tlv pe;
    while (at < tpl->len) {
        assert_int_equal(sgp32_asn1_read_tlv(tpl->data + at, tpl->len - at, &pe, &used), SGP32_OK);
        if (pe.tag != 0xA4)
            assert_int_equal(sgp32_buf_append(out, tpl->data + at, used), SGP32_OK);
        else if (!placed)
            assert_int_equal(sgp32_buf_append(out, aka->data, aka->len), SGP32_OK);
        placed |= pe.tag == 0xA4;
        at += used;
    }
}

static void assert_keys_refused(const sgp32_buf *bad, int expected)
{
    sgp32_smdp_profile_template t = make_template(bad);
    sgp32_buf upp, md;
    sgp32_buf_init(&upp, 1 << 20);
    sgp32_buf_init(&md, 1 << 16);
    assert_int_equal(sgp32_smdp_personalise(&t, "89000123456789012341", "001010000000001", &test_keys,
                                            SMDP_ADDRESS, &upp, &md),
                     expected);
    assert_int_equal(upp.len, 0); /* never a package with the template's keys */
    assert_int_equal(md.len, 0);
    /* without keys (a type without profile data) the same template is fine */
    assert_int_equal(sgp32_smdp_personalise(&t, "89000123456789012341", NULL, NULL, SMDP_ADDRESS, &upp, &md),
                     SGP32_OK);
    sgp32_upp_aka aka;
    assert_int_equal(sgp32_upp_find_aka(bad->data, bad->len, &aka), expected);
    sgp32_buf copy;
    sgp32_buf_init(&copy, 1 << 20);
    assert_int_equal(sgp32_buf_append(&copy, bad->data, bad->len), SGP32_OK);
    assert_int_equal(sgp32_upp_set_aka(copy.data, copy.len, &test_keys), expected);
    assert_memory_equal(copy.data, bad->data, bad->len); /* nothing written */
    sgp32_buf_free(&copy);
    sgp32_buf_free(&upp);
    sgp32_buf_free(&md);
}

/* Templates that cannot take one Ki/OPc pair are refused; those that can (one NAA, or one with keys and
 * one mapped to it) take it. */
static void refuse_bad_aka(void **state)
{
    (void)state;
    sgp32_buf tpl;
    assert_int_equal(test_read_file(TS48_V2, &tpl), SGP32_OK);
    static const struct {
        const char *what;
        int64_t algorithm[2]; /* the second < -1: no second PE */
        uint8_t fill[2];
        size_t key_len, opc_len;
        uint32_t alternative;
        int expected;
    } cases[] = {
        {"no akaParameter", {-2, -2}, {0, 0}, 16, 16, 0xA1, SGP32_ERR_ASN1_MISSING},
        {"mappings only", {-1, -1}, {0, 0}, 16, 16, 0xA1, SGP32_ERR_ASN1_MISSING},
        {"15-byte key", {1, -2}, {1, 1}, 15, 16, 0xA1, SGP32_ERR_ASN1_SIZE},
        {"32-byte opc", {1, -2}, {1, 1}, 16, 32, 0xA1, SGP32_ERR_ASN1_SIZE},
        {"no opc", {1, -2}, {1, 1}, 16, 0, 0xA1, SGP32_ERR_ASN1_MISSING},
        {"no key", {1, -2}, {1, 1}, 0, 16, 0xA1, SGP32_ERR_ASN1_MISSING},
        {"TUAK", {2, -2}, {1, 1}, 16, 16, 0xA1, SGP32_ERR_UNSUPPORTED},
        {"two NAAs, different keys", {1, 1}, {1, 2}, 16, 16, 0xA1, SGP32_ERR_UNSUPPORTED},
        {"two NAAs, different algorithms", {1, 3}, {1, 1}, 16, 16, 0xA1, SGP32_ERR_UNSUPPORTED},
        {"unknown algoConfiguration", {1, -2}, {1, 1}, 16, 16, 0xA2, SGP32_ERR_ASN1_UNKNOWN_CHOICE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("%s\n", cases[i].what);
        sgp32_buf aka, bad;
        sgp32_buf_init(&aka, 4096);
        for (int k = 0; k < 2; k++)
            if (cases[i].algorithm[k] >= -1)
                write_aka(&aka, 11 + k, cases[i].algorithm[k], cases[i].fill[k], cases[i].key_len,
                          cases[i].opc_len, cases[i].alternative);
        replace_aka(&tpl, &aka, &bad);
        assert_keys_refused(&bad, cases[i].expected);
        sgp32_buf_free(&aka);
        sgp32_buf_free(&bad);
    }
    /* more NAAs with keys than SGP32_UPP_AKA_MAX */
    sgp32_buf aka, bad;
    sgp32_buf_init(&aka, 4096);
    for (int k = 0; k <= SGP32_UPP_AKA_MAX; k++)
        write_aka(&aka, 11 + k, 1, 7, 16, 16, 0xA1);
    replace_aka(&tpl, &aka, &bad);
    assert_keys_refused(&bad, SGP32_ERR_UNSUPPORTED);
    sgp32_buf_free(&bad);
    /* a malformed akaParameter (its length cut short) */
    sgp32_buf_reset(&aka);
    write_aka(&aka, 11, 1, 7, 16, 16, 0xA1);
    aka.data[1]--;
    aka.len--;
    replace_aka(&tpl, &aka, &bad);
    assert_keys_refused(&bad, SGP32_ERR_ASN1_TRUNCATED);
    sgp32_buf_free(&bad);

    /* accepted: a Milenage USIM alone; a USIM with keys and an ISIM mapped to them */
    for (int mapped = 0; mapped < 2; mapped++) {
        sgp32_buf_reset(&aka);
        write_aka(&aka, 11, 1, 7, 16, 16, 0xA1);
        if (mapped)
            write_aka(&aka, 20, -1, 0, 0, 0, 0xA0);
        replace_aka(&tpl, &aka, &bad);
        sgp32_upp_aka found;
        assert_int_equal(sgp32_upp_find_aka(bad.data, bad.len, &found), SGP32_OK);
        assert_int_equal(found.count, 1);
        assert_int_equal(found.mapped, (size_t)mapped);
        assert_int_equal(found.algorithm, SGP32_UPP_AKA_MILENAGE);
        sgp32_smdp_profile_template t = make_template(&bad);
        sgp32_buf upp, md;
        sgp32_buf_init(&upp, 1 << 20);
        sgp32_buf_init(&md, 1 << 16);
        assert_int_equal(
            sgp32_smdp_personalise(&t, "89000123456789012341", NULL, &test_keys, SMDP_ADDRESS, &upp, &md),
            SGP32_OK);
        aka_seen seen[4];
        assert_int_equal(walk_aka(upp.data, upp.len, seen), 1);
        assert_int_equal(seen[0].algorithm, 1);
        assert_memory_equal(upp.data + seen[0].key_at, test_keys.ki, 16);
        assert_memory_equal(upp.data + seen[0].opc_at, test_keys.opc, 16);
        sgp32_buf_free(&upp);
        sgp32_buf_free(&md);
        sgp32_buf_free(&bad);
    }
    sgp32_buf_free(&aka);
    sgp32_buf_free(&tpl);
}

/* The server's profile_keys hook, scripted. */
typedef struct hook_script {
    int answer;
    char type[65], iccid[21]; /* what it was asked */
    int calls;
} hook_script;

static int scripted_keys(void *ctx, const char *profile_type, const char *iccid, uint8_t ki[16],
                         uint8_t opc[16])
{
    hook_script *h = ctx;
    h->calls++;
    snprintf(h->type, sizeof(h->type), "%s", profile_type);
    snprintf(h->iccid, sizeof(h->iccid), "%s", iccid);
    if (h->answer == SGP32_SMDP_KEYS_FOUND) {
        memcpy(ki, test_keys.ki, 16);
        memcpy(opc, test_keys.opc, 16);
    }
    return h->answer;
}

/* sgp32_smdp_personalise_order: the hook's keys land in the package; "the template's" and no hook keep the
 * template's key; "missing" is SGP32_ERR_NOT_FOUND with nothing appended (GetBoundProfilePackage turns it
 * into 8.2/3.7); a failing hook's error comes back. */
static void personalise_order_with_hook(void **state)
{
    (void)state;
    sgp32_buf tpl;
    assert_int_equal(test_read_file(TS48_V1, &tpl), SGP32_OK);
    sgp32_smdp_profile_template t = make_template(&tpl);
    hook_script h;
    sgp32_smdp_server srv;
    memset(&srv, 0, sizeof(srv));
    srv.config.profile_keys_ctx = &h;
    sgp32_smdp_order order;
    memset(&order, 0, sizeof(order));
    strcpy(order.iccid, "8949449999000000012");
    strcpy(order.profile_type, "ts48");
    strcpy(order.imsi, "001010000000012");
    static const struct {
        bool hook;
        int answer, expected;
        const uint8_t *key; /* in the package; NULL: nothing appended */
    } cases[] = {
        {true, SGP32_SMDP_KEYS_FOUND, SGP32_OK, test_keys.ki},
        {true, SGP32_SMDP_KEYS_TEMPLATE, SGP32_OK, ts48_key},
        {false, 0, SGP32_OK, ts48_key},
        {true, SGP32_SMDP_KEYS_MISSING, SGP32_ERR_NOT_FOUND, NULL},
        {true, SGP32_ERR_IO, SGP32_ERR_IO, NULL},
        {true, 7, SGP32_ERR_INVALID_ARGUMENT, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&h, 0, sizeof(h));
        h.answer = cases[i].answer;
        srv.config.profile_keys = cases[i].hook ? scripted_keys : NULL;
        sgp32_buf upp, md;
        sgp32_buf_init(&upp, 1 << 20);
        sgp32_buf_init(&md, 1 << 16);
        assert_int_equal(sgp32_smdp_personalise_order(&srv, &t, &order, SMDP_ADDRESS, &upp, &md),
                         cases[i].expected);
        assert_int_equal(h.calls, cases[i].hook ? 1 : 0);
        if (cases[i].hook) {
            assert_string_equal(h.type, "ts48");
            assert_string_equal(h.iccid, "8949449999000000012");
        }
        if (cases[i].key) {
            aka_seen seen[4];
            assert_int_equal(walk_aka(upp.data, upp.len, seen), 2);
            assert_memory_equal(upp.data + seen[0].key_at, cases[i].key, 16);
            assert_memory_equal(upp.data + seen[1].key_at, cases[i].key, 16);
            assert_memory_equal(upp.data + seen[1].opc_at, cases[i].key == ts48_key ? zeros : test_keys.opc,
                                16);
            char imsi[16];
            assert_int_equal(sgp32_upp_ef_imsi(upp.data, upp.len, imsi), SGP32_OK);
            assert_string_equal(imsi, "001010000000012");
        } else {
            assert_int_equal(upp.len, 0);
            assert_int_equal(md.len, 0);
        }
        sgp32_buf_free(&upp);
        sgp32_buf_free(&md);
    }
    sgp32_buf_free(&tpl);
}

typedef struct alloc_ctx {
    sgp32_smdp_profile_template t;
} alloc_ctx;

static int personalise_once(void *ctx)
{
    alloc_ctx *c = ctx;
    sgp32_buf upp, md;
    sgp32_buf_init(&upp, 1 << 20);
    sgp32_buf_init(&md, 1 << 16);
    int rc = sgp32_smdp_personalise(&c->t, "89000123456789012341", "001010000000001", &test_keys,
                                    SMDP_ADDRESS, &upp, &md);
    sgp32_buf_free(&upp);
    sgp32_buf_free(&md);
    return rc;
}

static void allocation_failures(void **state)
{
    (void)state;
    sgp32_buf tpl;
    assert_int_equal(test_read_file(TS48_V2, &tpl), SGP32_OK);
    alloc_ctx c = {make_template(&tpl)};
    assert_true(test_alloc_fail_each(personalise_once, &c) > 0);
    sgp32_buf_free(&tpl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(templates_agree),
        cmocka_unit_test(personalise_both_templates),
        cmocka_unit_test(set_imsi),
        cmocka_unit_test(personalise_with_imsi),
        cmocka_unit_test(inventory_with_imsis),
        cmocka_unit_test(refuse_bad_ef_iccid),
        cmocka_unit_test(aka_in_templates),
        cmocka_unit_test(personalise_with_keys),
        cmocka_unit_test(refuse_bad_aka),
        cmocka_unit_test(personalise_order_with_hook),
        cmocka_unit_test(allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

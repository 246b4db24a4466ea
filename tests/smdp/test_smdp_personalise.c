/*
 * SM-DP+ personalisation of a profile template (sgp32_smdp_personalise; lib/smdp/upp_header.c,
 * lib/smdp/upp_personalise.c) on both TS.48 test profiles: the order's ICCID in the ProfileHeader
 * (plain BCD), in EF.ICCID of the MF element (nibble-swapped; NOTES §9) and in the metadata, with
 * every other byte of the template unchanged; EF.IMSI (TS 31.102 §4.2.2, TS 24.008 mobile
 * identity) rewritten on request, and from inventory ranges with IMSIs (sgp32_smdp_inventory_add);
 * templates whose EF.ICCID is missing, split or of another size refused.
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
            assert_int_equal(sgp32_smdp_personalise(&t, iccids[i], NULL, SMDP_ADDRESS, &upp, &md), SGP32_OK);
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
            assert_int_equal(
                sgp32_smdp_personalise(&t, "89000123456789012341", cases[i].given, SMDP_ADDRESS, &upp, &md),
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
        assert_int_equal(sgp32_smdp_personalise(&t, "89000123456789012341", "12345", SMDP_ADDRESS, &upp, &md),
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
    assert_int_equal(sgp32_smdp_personalise(&t, "89000123456789012341", NULL, SMDP_ADDRESS, &upp, &md),
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

typedef struct alloc_ctx {
    sgp32_smdp_profile_template t;
} alloc_ctx;

static int personalise_once(void *ctx)
{
    alloc_ctx *c = ctx;
    sgp32_buf upp, md;
    sgp32_buf_init(&upp, 1 << 20);
    sgp32_buf_init(&md, 1 << 16);
    int rc = sgp32_smdp_personalise(&c->t, "89000123456789012341", NULL, SMDP_ADDRESS, &upp, &md);
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
        cmocka_unit_test(allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Guards the BER/DER cursor (lib/asn1/ber_reader.c) that every decoder stands on:
 * sgp32_asn1_read_tlv, sgp32_asn1_expect, the reader and sgp32_asn1_walk over arbitrary bytes.
 * Beyond "no crash, no hang, no leak" it checks what the reader promises:
 *  - every TLV lies inside the input and inside its parent, depth stays under the limit;
 *  - DER: the header the writer produces for (tag, length) is byte for byte the one read;
 *  - primitive contents the reader accepts (INTEGER, BOOLEAN, named BIT STRING, OID, UTF-8)
 *    survive the writer's round trip (OID through its dotted text as well);
 *  - walk and a plain top-level reader loop agree, and a visitor's error stops the walk;
 *  - sgp32_asn1_print_tlv_tree (the schema-less dump of tools and logs) reports the error walk
 *    reports, and its text is NUL-terminated.
 */
#include <string.h>

#include "fuzz_common.h"
#include "sgp32/asn1_print.h"

enum { STOP_CODE = -4242 };

typedef struct walk_state {
    const uint8_t *data;
    size_t size;
    size_t visits;
    size_t stop_after; /* 0: never stop */
} walk_state;

static void fail(const char *what, const walk_state *w)
{
    sgp32_fuzz_fail(what, "ber_reader", w->data, w->size);
}

static void check_header(const sgp32_asn1_tlv *tlv, const walk_state *w)
{
    size_t header = tlv->whole.len - tlv->value.len;
    if (tlv->tag == 0)
        return; /* [UNIVERSAL 0] reads, but the writer refuses to produce it */
    uint8_t storage[16];
    sgp32_buf buf;
    sgp32_buf_init_fixed(&buf, storage, sizeof(storage));
    if (sgp32_asn1_write_header(&buf, tlv->tag, tlv->value.len) != SGP32_OK)
        fail("the writer refuses a header the reader accepted", w);
    if (buf.len != header || memcmp(buf.data, tlv->whole.data, header) != 0)
        fail("the header read is not the DER header of (tag, length)", w);
    if (sgp32_asn1_tag_len(tlv->tag) + sgp32_asn1_length_len(tlv->value.len) != header)
        fail("tag_len + length_len disagree with the header read", w);
}

static void check_primitive(sgp32_bytes v, const walk_state *w)
{
    uint8_t storage[64];
    sgp32_buf buf;
    sgp32_buf_init_fixed(&buf, storage, sizeof(storage));

    int64_t number;
    if (sgp32_asn1_parse_integer(v, &number) == SGP32_OK) {
        if (sgp32_asn1_write_integer(&buf, 0x02, number) != SGP32_OK || buf.len != 2 + v.len ||
            memcmp(buf.data + 2, v.data, v.len) != 0)
            fail("an accepted INTEGER does not re-encode to the same contents", w);
    }
    bool flag;
    sgp32_buf_reset(&buf);
    if (sgp32_asn1_parse_boolean(v, &flag) == SGP32_OK) {
        if (sgp32_asn1_write_boolean(&buf, 0x01, flag) != SGP32_OK || buf.len != 3 ||
            buf.data[2] != v.data[0])
            fail("an accepted BOOLEAN does not re-encode to the same contents", w);
    }
    uint32_t bits, again;
    sgp32_buf_reset(&buf);
    if (sgp32_asn1_parse_named_bits(v, &bits) == SGP32_OK) {
        if (sgp32_asn1_write_named_bits(&buf, 0x03, bits) != SGP32_OK || buf.len - 2 > v.len ||
            sgp32_asn1_parse_named_bits((sgp32_bytes){buf.data + 2, buf.len - 2}, &again) != SGP32_OK ||
            again != bits)
            fail("accepted named bits do not survive the writer", w);
    }
    size_t characters;
    if (sgp32_asn1_check_utf8(v, &characters) == SGP32_OK && characters > v.len)
        fail("more UTF-8 characters than bytes", w);
    if (sgp32_asn1_check_oid(v) == SGP32_OK) {
        char text[1024];
        int rc = sgp32_asn1_oid_to_text(v, text, sizeof(text));
        if (rc == SGP32_OK) {
            if (!memchr(text, '\0', sizeof(text)))
                fail("OID text is not terminated", w);
            sgp32_buf oid;
            sgp32_buf_init(&oid, 4096);
            rc = sgp32_asn1_oid_from_text(text, &oid);
            if (rc != SGP32_OK || oid.len != v.len || memcmp(oid.data, v.data, v.len) != 0)
                fail("OID contents -> text -> contents is not the identity", w);
            sgp32_buf_free(&oid);
        } else if (rc != SGP32_ERR_ASN1_RANGE && rc != SGP32_ERR_BUFFER_TOO_SMALL) {
            fail("an OID that passed check_oid fails oid_to_text", w);
        }
    }
}

static int visit(void *ctx, const sgp32_asn1_tlv *tlv, unsigned depth)
{
    walk_state *w = ctx;
    const uint8_t *end = w->data + w->size;
    if (depth >= SGP32_ASN1_MAX_DEPTH)
        fail("walk went past the depth limit", w);
    if (tlv->whole.data < w->data || tlv->whole.len > (size_t)(end - tlv->whole.data))
        fail("a TLV lies outside the input", w);
    if (tlv->value.data < tlv->whole.data ||
        tlv->value.data + tlv->value.len != tlv->whole.data + tlv->whole.len)
        fail("contents are not the tail of the TLV", w);
    if (tlv->constructed != ((tlv->whole.data[0] & 0x20) != 0))
        fail("constructed flag is not bit 6 of the tag", w);
    if (++w->visits > w->size / 2)
        fail("more TLVs than the input has room for", w);
    check_header(tlv, w);
    if (!tlv->constructed)
        check_primitive(tlv->value, w);
    if (w->stop_after && w->visits == w->stop_after)
        return STOP_CODE;
    return SGP32_OK;
}

int sgp32_fuzz_ber_reader(const uint8_t *data, size_t size)
{
    walk_state w = {data, size, 0, 0};

    /* One TLV at the start. */
    sgp32_asn1_tlv tlv, again;
    size_t used = 0;
    int first = sgp32_asn1_read_tlv(data, size, &tlv, &used);
    if (first == SGP32_OK) {
        if (used > size || tlv.whole.data != data || tlv.whole.len != used)
            fail("read_tlv consumed something other than the TLV", &w);
        check_header(&tlv, &w);
        if (sgp32_asn1_expect(data, used, tlv.tag, &again) != SGP32_OK || again.value.len != tlv.value.len)
            fail("expect refuses what read_tlv read", &w);
        int rc = sgp32_asn1_expect(data, size, tlv.tag, &again);
        if (rc != (used == size ? SGP32_OK : SGP32_ERR_ASN1_TRAILING))
            fail("expect does not report trailing bytes", &w);
        sgp32_buf retagged;
        sgp32_buf_init(&retagged, size + 16);
        if (sgp32_asn1_write_retagged(&retagged, 0x30, tlv.whole) != SGP32_OK ||
            sgp32_asn1_expect(retagged.data, retagged.len, 0x30, &again) != SGP32_OK ||
            !sgp32_bytes_equal(again.value, tlv.value))
            fail("retagging loses the contents", &w);
        sgp32_buf_free(&retagged);
        sgp32_asn1_reader top, child;
        sgp32_asn1_reader_init(&top, (sgp32_bytes){data, size}, 0);
        rc = sgp32_asn1_reader_enter(&top, &tlv, &child);
        if (!tlv.constructed && rc != SGP32_ERR_ASN1_PRIMITIVE)
            fail("entering a primitive TLV is not refused", &w);
    } else if (first > 0) {
        fail("read_tlv returned a positive code", &w);
    }

    /* The whole tree. */
    int walked = sgp32_asn1_walk(data, size, visit, &w);
    if (walked > 0)
        fail("walk returned a positive code", &w);
    if (walked == SGP32_OK && size > 0 && first != SGP32_OK)
        fail("walk accepts what read_tlv refuses", &w);

    /* The top level read with a plain reader must end cleanly whenever walk succeeded. */
    sgp32_asn1_reader r;
    sgp32_asn1_reader_init(&r, (sgp32_bytes){data, size}, 0);
    int rc;
    size_t top_level = 0;
    while ((rc = sgp32_asn1_reader_next(&r, &tlv)) == SGP32_OK)
        if (++top_level > size)
            fail("the reader does not advance", &w);
    if (walked == SGP32_OK && (rc != SGP32_ERR_NOT_FOUND || !sgp32_asn1_reader_done(&r)))
        fail("the top level does not read to the end although walk succeeded", &w);

    /* A visitor's error ends the walk with that error. */
    if (walked == SGP32_OK && w.visits > 0) {
        walk_state stop = {data, size, 0, (w.visits + 1) / 2};
        if (sgp32_asn1_walk(data, size, visit, &stop) != STOP_CODE || stop.visits != stop.stop_after)
            fail("walk does not stop at the visitor's error", &w);
    }

    /* The TLV dump: same verdict as walk whenever its text was not cut. */
    sgp32_buf text;
    sgp32_buf_init(&text, SGP32_FUZZ_PRINT_CAP);
    rc = sgp32_asn1_print_tlv_tree(data, size, NULL, &text);
    if (!text.data || text.len >= text.alloc || text.data[text.len] != '\0')
        fail("the TLV dump is not NUL-terminated", &w);
    if (rc != SGP32_ERR_CAPACITY && rc != walked)
        fail("the TLV dump and walk disagree on the structure", &w);
    sgp32_buf_free(&text);
    return walked;
}

SGP32_FUZZ_ENTRY(sgp32_fuzz_ber_reader);

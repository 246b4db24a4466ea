/*
 * BER/DER cursor reader (X.690 §8.1, DER restrictions of §10).
 * Zero-copy: TLVs are views into the caller's buffer. Every length is
 * checked against what encloses it; indefinite lengths are refused, so a
 * truncated or self-referencing input ends in an error, never a loop.
 */
#include <string.h>

#include "sgp32/asn1.h"

static int read_tag(const uint8_t *p, size_t avail, uint32_t *tag, size_t *tag_len)
{
    if (avail < 1)
        return SGP32_ERR_ASN1_TRUNCATED;
    uint32_t t = p[0];
    size_t n = 1;
    if ((p[0] & 0x1F) == 0x1F) {
        /* High tag number form: base-128, minimal, at least 31. */
        uint32_t number = 0;
        do {
            if (n >= avail)
                return SGP32_ERR_ASN1_TRUNCATED;
            if (n >= SGP32_ASN1_MAX_TAG_BYTES)
                return SGP32_ERR_ASN1_BAD_TAG;
            if (n == 1 && p[1] == 0x80)
                return SGP32_ERR_ASN1_BAD_TAG; /* leading zero septet */
            number = number << 7 | (p[n] & 0x7F);
            t = t << 8 | p[n];
        } while (p[n++] & 0x80);
        if (number < 31)
            return SGP32_ERR_ASN1_BAD_TAG; /* must have used the short form */
    }
    *tag = t;
    *tag_len = n;
    return SGP32_OK;
}

static int read_length(const uint8_t *p, size_t avail, size_t *len, size_t *len_len)
{
    if (avail < 1)
        return SGP32_ERR_ASN1_TRUNCATED;
    if (p[0] < 0x80) {
        *len = p[0];
        *len_len = 1;
        return SGP32_OK;
    }
    if (p[0] == 0x80)
        return SGP32_ERR_ASN1_INDEFINITE;
    size_t count = p[0] & 0x7F;
    if (count > 4)
        return SGP32_ERR_ASN1_BAD_LENGTH; /* no message here comes near 4 GiB */
    if (count >= avail)
        return SGP32_ERR_ASN1_TRUNCATED;
    if (p[1] == 0)
        return SGP32_ERR_ASN1_BAD_LENGTH; /* leading zero octet */
    size_t v = 0;
    for (size_t i = 1; i <= count; i++)
        v = v << 8 | p[i];
    if (v < 0x80)
        return SGP32_ERR_ASN1_BAD_LENGTH; /* should have used the short form */
    *len = v;
    *len_len = 1 + count;
    return SGP32_OK;
}

int sgp32_asn1_read_tlv(const uint8_t *data, size_t len, sgp32_asn1_tlv *tlv, size_t *consumed)
{
    uint32_t tag;
    size_t tag_len, value_len, len_len;
    int rc = read_tag(data, len, &tag, &tag_len);
    if (rc)
        return rc;
    rc = read_length(data + tag_len, len - tag_len, &value_len, &len_len);
    if (rc)
        return rc;
    size_t header = tag_len + len_len;
    if (value_len > len - header)
        return SGP32_ERR_ASN1_TRUNCATED;
    tlv->tag = tag;
    tlv->constructed = (data[0] & 0x20) != 0;
    tlv->value = (sgp32_bytes){data + header, value_len};
    tlv->whole = (sgp32_bytes){data, header + value_len};
    if (consumed)
        *consumed = header + value_len;
    return SGP32_OK;
}

void sgp32_asn1_reader_init(sgp32_asn1_reader *reader, sgp32_bytes contents, unsigned depth)
{
    reader->next = contents.data;
    reader->end = contents.data + contents.len;
    reader->depth = depth;
}

bool sgp32_asn1_reader_done(const sgp32_asn1_reader *reader)
{
    return reader->next >= reader->end;
}

int sgp32_asn1_reader_next(sgp32_asn1_reader *reader, sgp32_asn1_tlv *tlv)
{
    if (sgp32_asn1_reader_done(reader))
        return SGP32_ERR_NOT_FOUND;
    size_t used;
    int rc = sgp32_asn1_read_tlv(reader->next, (size_t)(reader->end - reader->next), tlv, &used);
    if (rc)
        return rc;
    reader->next += used;
    return SGP32_OK;
}

int sgp32_asn1_reader_enter(const sgp32_asn1_reader *parent, const sgp32_asn1_tlv *tlv,
                            sgp32_asn1_reader *child)
{
    if (!tlv->constructed)
        return SGP32_ERR_ASN1_PRIMITIVE;
    if (parent->depth + 1 >= SGP32_ASN1_MAX_DEPTH)
        return SGP32_ERR_ASN1_TOO_DEEP;
    sgp32_asn1_reader_init(child, tlv->value, parent->depth + 1);
    return SGP32_OK;
}

int sgp32_asn1_expect(const uint8_t *data, size_t len, uint32_t tag, sgp32_asn1_tlv *tlv)
{
    size_t used;
    int rc = sgp32_asn1_read_tlv(data, len, tlv, &used);
    if (rc)
        return rc;
    if (tlv->tag != tag)
        return SGP32_ERR_ASN1_UNEXPECTED_TAG;
    return used == len ? SGP32_OK : SGP32_ERR_ASN1_TRAILING;
}

static int walk(sgp32_asn1_reader *r, sgp32_asn1_visit visit, void *ctx)
{
    sgp32_asn1_tlv tlv;
    int rc;
    while ((rc = sgp32_asn1_reader_next(r, &tlv)) == SGP32_OK) {
        if (visit && (rc = visit(ctx, &tlv, r->depth)) != SGP32_OK)
            return rc;
        if (tlv.constructed) {
            sgp32_asn1_reader child;
            if ((rc = sgp32_asn1_reader_enter(r, &tlv, &child)) != SGP32_OK)
                return rc;
            if ((rc = walk(&child, visit, ctx)) != SGP32_OK)
                return rc;
        }
    }
    return rc == SGP32_ERR_NOT_FOUND ? SGP32_OK : rc;
}

int sgp32_asn1_walk(const uint8_t *data, size_t len, sgp32_asn1_visit visit, void *ctx)
{
    sgp32_asn1_reader r;
    sgp32_asn1_reader_init(&r, (sgp32_bytes){data, len}, 0);
    return walk(&r, visit, ctx);
}

/* ------------------------------------------------- primitive contents */

int sgp32_asn1_parse_integer(sgp32_bytes v, int64_t *out)
{
    if (v.len == 0)
        return SGP32_ERR_ASN1_BAD_VALUE;
    if (v.len > 1 &&
        ((v.data[0] == 0x00 && !(v.data[1] & 0x80)) || (v.data[0] == 0xFF && (v.data[1] & 0x80))))
        return SGP32_ERR_ASN1_BAD_VALUE; /* not minimal two's complement */
    if (v.len > 8)
        return SGP32_ERR_ASN1_RANGE;
    uint64_t u = (v.data[0] & 0x80) ? UINT64_MAX : 0;
    for (size_t i = 0; i < v.len; i++)
        u = u << 8 | v.data[i];
    memcpy(out, &u, sizeof(*out)); /* two's complement reinterpretation */
    return SGP32_OK;
}

int sgp32_asn1_parse_boolean(sgp32_bytes v, bool *out)
{
    if (v.len != 1 || (v.data[0] != 0x00 && v.data[0] != 0xFF))
        return SGP32_ERR_ASN1_BAD_VALUE;
    *out = v.data[0] == 0xFF;
    return SGP32_OK;
}

int sgp32_asn1_parse_named_bits(sgp32_bytes v, uint32_t *out)
{
    if (v.len == 0 || v.data[0] > 7 || (v.len == 1 && v.data[0] != 0))
        return SGP32_ERR_ASN1_BAD_VALUE;
    uint8_t unused = v.data[0];
    if (v.len > 1 && (v.data[v.len - 1] & ((1u << unused) - 1)))
        return SGP32_ERR_ASN1_BAD_VALUE; /* unused bits must be zero */
    uint32_t bits = 0;
    for (size_t i = 1; i < v.len; i++) {
        for (unsigned b = 0; b < 8; b++) {
            if (!(v.data[i] & (0x80 >> b)))
                continue;
            size_t n = (i - 1) * 8 + b;
            if (n < 32) /* bits past 31 are extensions no schema here names */
                bits |= 1u << n;
        }
    }
    *out = bits;
    return SGP32_OK;
}

int sgp32_asn1_check_oid(sgp32_bytes v)
{
    if (v.len == 0 || (v.data[v.len - 1] & 0x80))
        return SGP32_ERR_ASN1_BAD_VALUE;
    for (size_t i = 0; i < v.len; i++)
        if (v.data[i] == 0x80 && (i == 0 || !(v.data[i - 1] & 0x80)))
            return SGP32_ERR_ASN1_BAD_VALUE; /* sub-identifier with a leading zero septet */
    return SGP32_OK;
}

int sgp32_asn1_check_utf8(sgp32_bytes v, size_t *characters)
{
    size_t count = 0;
    for (size_t i = 0; i < v.len; count++) {
        uint8_t c = v.data[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return SGP32_ERR_ASN1_BAD_VALUE;
        }
        if (n >= v.len - i)
            return SGP32_ERR_ASN1_BAD_VALUE;
        for (size_t k = 1; k <= n; k++) {
            if ((v.data[i + k] & 0xC0) != 0x80)
                return SGP32_ERR_ASN1_BAD_VALUE;
            cp = cp << 6 | (v.data[i + k] & 0x3F);
        }
        /* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
        static const uint32_t min_for_len[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_for_len[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return SGP32_ERR_ASN1_BAD_VALUE;
        i += n + 1;
    }
    if (characters)
        *characters = count;
    return SGP32_OK;
}

/*
 * DER writer (X.690 §10): minimal lengths, minimal two's-complement
 * integers, named bit strings without trailing zero bits.
 * Values whose length is known only afterwards are written in place and
 * their header inserted at the end (sgp32_asn1_begin/end).
 */
#include <string.h>

#include "sgp32/asn1.h"

size_t sgp32_asn1_tag_len(uint32_t tag)
{
    return tag > 0xFFFFFF ? 4 : tag > 0xFFFF ? 3 : tag > 0xFF ? 2 : 1;
}

size_t sgp32_asn1_length_len(size_t len)
{
    size_t n = 1;
    if (len >= 0x80)
        for (size_t v = len; v; v >>= 8)
            n++;
    return n;
}

static size_t put_header(uint8_t *p, uint32_t tag, size_t len)
{
    size_t n = 0;
    for (size_t i = sgp32_asn1_tag_len(tag); i-- > 0;)
        p[n++] = (uint8_t)(tag >> (8 * i));
    size_t ll = sgp32_asn1_length_len(len);
    if (ll == 1) {
        p[n++] = (uint8_t)len;
    } else {
        p[n++] = (uint8_t)(0x80 | (ll - 1));
        for (size_t i = ll - 1; i-- > 0;)
            p[n++] = (uint8_t)(len >> (8 * i));
    }
    return n;
}

int sgp32_asn1_write_header(sgp32_buf *out, uint32_t tag, size_t len)
{
    uint8_t hdr[SGP32_ASN1_MAX_TAG_BYTES + 1 + sizeof(size_t)];
    if (tag == 0)
        return SGP32_ERR_INVALID_ARGUMENT;
    return sgp32_buf_append(out, hdr, put_header(hdr, tag, len));
}

int sgp32_asn1_write_tlv(sgp32_buf *out, uint32_t tag, const uint8_t *value, size_t len)
{
    int rc = sgp32_asn1_write_header(out, tag, len);
    return rc ? rc : sgp32_buf_append(out, value, len);
}

int sgp32_asn1_write_integer(sgp32_buf *out, uint32_t tag, int64_t value)
{
    uint8_t bytes[8];
    uint64_t u;
    memcpy(&u, &value, sizeof(u));
    for (int i = 7; i >= 0; i--, u >>= 8)
        bytes[i] = (uint8_t)u;
    size_t start = 0;
    /* Drop leading octets that only repeat the sign. */
    while (start < 7 && ((bytes[start] == 0x00 && !(bytes[start + 1] & 0x80)) ||
                         (bytes[start] == 0xFF && (bytes[start + 1] & 0x80))))
        start++;
    return sgp32_asn1_write_tlv(out, tag, bytes + start, 8 - start);
}

int sgp32_asn1_write_boolean(sgp32_buf *out, uint32_t tag, bool value)
{
    uint8_t b = value ? 0xFF : 0x00;
    return sgp32_asn1_write_tlv(out, tag, &b, 1);
}

int sgp32_asn1_write_named_bits(sgp32_buf *out, uint32_t tag, uint32_t bits)
{
    uint8_t v[5] = {0};
    size_t highest = 0; /* one past the highest set bit */
    for (size_t n = 0; n < 32; n++) {
        if (bits & (1u << n)) {
            v[1 + n / 8] |= (uint8_t)(0x80 >> (n % 8));
            highest = n + 1;
        }
    }
    size_t octets = (highest + 7) / 8;
    v[0] = (uint8_t)(octets * 8 - highest); /* unused bits in the last octet */
    return sgp32_asn1_write_tlv(out, tag, v, 1 + octets);
}

size_t sgp32_asn1_begin(const sgp32_buf *out)
{
    return out->len;
}

int sgp32_asn1_end(sgp32_buf *out, uint32_t tag, size_t mark)
{
    if (mark > out->len || tag == 0)
        return SGP32_ERR_INVALID_ARGUMENT;
    size_t content = out->len - mark;
    uint8_t hdr[SGP32_ASN1_MAX_TAG_BYTES + 1 + sizeof(size_t)];
    size_t hl = put_header(hdr, tag, content);
    int rc = sgp32_buf_extend(out, hl, NULL);
    if (rc)
        return rc;
    memmove(out->data + mark + hl, out->data + mark, content);
    memcpy(out->data + mark, hdr, hl);
    return SGP32_OK;
}

int sgp32_asn1_write_retagged(sgp32_buf *out, uint32_t tag, sgp32_bytes tlv)
{
    sgp32_asn1_tlv parsed;
    size_t used;
    int rc = sgp32_asn1_read_tlv(tlv.data, tlv.len, &parsed, &used);
    if (rc)
        return rc;
    if (used != tlv.len)
        return SGP32_ERR_ASN1_TRAILING;
    return sgp32_asn1_write_tlv(out, tag, parsed.value.data, parsed.value.len);
}

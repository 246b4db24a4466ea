/* OBJECT IDENTIFIER contents <-> dotted text (X.690 §8.19). */
#include <stdio.h>
#include <string.h>

#include "sgp32/asn1.h"

int sgp32_asn1_oid_to_text(sgp32_bytes v, char *out, size_t out_size)
{
    int rc = sgp32_asn1_check_oid(v);
    if (rc)
        return rc;
    size_t used = 0;
    uint64_t arc = 0;
    bool first = true;
    for (size_t i = 0; i < v.len; i++) {
        if (arc > (UINT64_MAX >> 7))
            return SGP32_ERR_ASN1_RANGE;
        arc = arc << 7 | (v.data[i] & 0x7F);
        if (v.data[i] & 0x80)
            continue;
        int n;
        if (first) {
            /* The first sub-identifier packs two arcs: 40*X + Y, X <= 2. */
            uint64_t x = arc < 40 ? 0 : arc < 80 ? 1 : 2;
            n = snprintf(out + used, out_size - used, "%llu.%llu", (unsigned long long)x,
                         (unsigned long long)(arc - 40 * x));
            first = false;
        } else {
            n = snprintf(out + used, out_size - used, ".%llu", (unsigned long long)arc);
        }
        if (n < 0 || (size_t)n >= out_size - used)
            return SGP32_ERR_BUFFER_TOO_SMALL;
        used += (size_t)n;
        arc = 0;
    }
    return SGP32_OK;
}

static int put_arc(sgp32_buf *out, uint64_t arc)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (uint8_t)(arc & 0x7F);
        arc >>= 7;
    } while (arc);
    while (n--) {
        int rc = sgp32_buf_append_byte(out, (uint8_t)(tmp[n] | (n ? 0x80 : 0)));
        if (rc)
            return rc;
    }
    return SGP32_OK;
}

int sgp32_asn1_oid_from_text(const char *text, sgp32_buf *out)
{
    uint64_t arcs[2] = {0, 0};
    size_t index = 0;
    const char *p = text;
    while (*p) {
        if (*p < '0' || *p > '9')
            return SGP32_ERR_BAD_TEXT;
        uint64_t arc = 0;
        while (*p >= '0' && *p <= '9') {
            uint64_t digit = (uint64_t)(*p++ - '0');
            if (arc > (UINT64_MAX - digit) / 10)
                return SGP32_ERR_BAD_TEXT; /* more than 64 bits */
            arc = arc * 10 + digit;
        }
        if (*p == '.' && p[1] == '\0')
            return SGP32_ERR_BAD_TEXT;
        if (*p == '.')
            p++;
        else if (*p)
            return SGP32_ERR_BAD_TEXT;
        if (index < 2) {
            arcs[index] = arc;
            if (index == 1) {
                if (arcs[0] > 2 || (arcs[0] < 2 && arcs[1] >= 40) || arcs[1] > UINT64_MAX - 80)
                    return SGP32_ERR_BAD_TEXT;
                int rc = put_arc(out, arcs[0] * 40 + arcs[1]);
                if (rc)
                    return rc;
            }
        } else {
            int rc = put_arc(out, arc);
            if (rc)
                return rc;
        }
        index++;
    }
    return index >= 2 ? SGP32_OK : SGP32_ERR_BAD_TEXT;
}

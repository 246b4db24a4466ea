/* Hex and base64 (include/sgp32/text.h). */

#include "sgp32/text.h"

static const char hex_digits[] = "0123456789ABCDEF";

void sgp32_hex_encode(const uint8_t *data, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex_digits[data[i] >> 4];
        out[2 * i + 1] = hex_digits[data[i] & 15];
    }
    out[2 * len] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool is_separator(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ':';
}

int sgp32_hex_decode(const char *text, size_t text_len, sgp32_buf *out)
{
    size_t i = 0;
    while (i < text_len) {
        if (is_separator(text[i])) {
            i++;
            continue;
        }
        if (i + 1 >= text_len)
            return SGP32_ERR_BAD_TEXT; /* odd number of digits */
        int hi = hex_value(text[i]), lo = hex_value(text[i + 1]);
        if (hi < 0 || lo < 0)
            return SGP32_ERR_BAD_TEXT;
        int rc = sgp32_buf_append_byte(out, (uint8_t)(hi << 4 | lo));
        if (rc)
            return rc;
        i += 2;
    }
    return SGP32_OK;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t sgp32_base64_encoded_len(size_t len)
{
    return (len + 2) / 3 * 4;
}

void sgp32_base64_encode(const uint8_t *data, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < len)
            v |= data[i + 2];
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = i + 1 < len ? b64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? b64[v & 63] : '=';
    }
    out[o] = '\0';
}

/* Decoding by table, not by searching the alphabet per character (JSON bodies carry whole BPPs). */
#define B64_ROW(c0)                                                                                          \
    b64_val(c0), b64_val(c0 + 1), b64_val(c0 + 2), b64_val(c0 + 3), b64_val(c0 + 4), b64_val(c0 + 5),        \
        b64_val(c0 + 6), b64_val(c0 + 7)
#define b64_val(c)                                                                                           \
    ((c) >= 'A' && (c) <= 'Z'   ? (c) - 'A'                                                                  \
     : (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26                                                             \
     : (c) >= '0' && (c) <= '9' ? (c) - '0' + 52                                                             \
     : (c) == '+'               ? 62                                                                         \
     : (c) == '/'               ? 63                                                                         \
                                : -1)
static const signed char b64_table[128] = {B64_ROW(0),  B64_ROW(8),   B64_ROW(16),  B64_ROW(24),
                                           B64_ROW(32), B64_ROW(40),  B64_ROW(48),  B64_ROW(56),
                                           B64_ROW(64), B64_ROW(72),  B64_ROW(80),  B64_ROW(88),
                                           B64_ROW(96), B64_ROW(104), B64_ROW(112), B64_ROW(120)};
#undef B64_ROW
#undef b64_val

static int b64_value(char c)
{
    unsigned char u = (unsigned char)c;
    return u < 128 ? b64_table[u] : -1;
}

int sgp32_base64_decode(const char *text, size_t text_len, sgp32_buf *out)
{
    uint32_t acc = 0;
    int bits = 0, quantum = 0, pad = 0;
    for (size_t i = 0; i < text_len; i++) {
        char c = text[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            continue;
        if (c == '=') {
            pad++;
            quantum++;
            continue;
        }
        if (pad)
            return SGP32_ERR_BAD_TEXT; /* data after padding */
        int v = b64_value(c);
        if (v < 0)
            return SGP32_ERR_BAD_TEXT;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        quantum++;
        if (bits >= 8) {
            bits -= 8;
            int rc = sgp32_buf_append_byte(out, (uint8_t)(acc >> bits));
            if (rc)
                return rc;
        }
    }
    /* Whole 4-character quanta only, at most two '=', no stray set bits. */
    if (quantum % 4 != 0 || pad > 2 || (acc & ((1u << bits) - 1)) != 0)
        return SGP32_ERR_BAD_TEXT;
    return SGP32_OK;
}

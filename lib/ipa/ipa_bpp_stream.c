/*
 * The GetBoundProfilePackage answer as a stream (design principle 7; NOTES §5.2, §7): the body
 * arrives in host chunks of any size and is cut into the LoadBoundProfilePackage segments while
 * it arrives. Only one segment is ever held (seg, capped by segment_max); the BPP never is.
 *
 * Body:      [A2 {]  BF3A { A0 { [80 transactionId]  BF36 {...} }  |  81 error }  [}]
 * Segments:  1 BF36 tag+length + the whole BF23       2 the whole A0
 *            3 the A1 tag+length                      4 each 88
 *            5 the whole A2 (if present)              6 the A3 tag+length
 *            7 each 86
 * Every length is checked against the TLV that encloses it and against the segment cap. This
 * is a parser, so a switch on the position in the grammar, not an FSM table.
 */
#include "ipa_internal.h"

enum {
    S_OUTER,    /* A2 (ES9+) or BF3A */
    S_FUNCTION, /* BF3A inside A2 */
    S_CHOICE,   /* A0 ok / 81 error */
    S_TXID_OR_BPP,
    S_SKIP_TXID,  /* the 80 value */
    S_ERROR_CODE, /* the 81 value */
    S_BF23,
    S_A0,
    S_A1,
    S_88,
    S_A2_OR_A3,
    S_A3,
    S_86,
    S_VALUE, /* copying a value into seg, then back to after_value */
    S_END,
};

void ipa_bpp_begin(sgp32_ipa *ipa, bool wrapped)
{
    ipa_bpp_stream *s = &ipa->bpp;
    memset(s, 0, sizeof(*s));
    (void)wrapped; /* detected from the first tag: A2 or BF3A */
    s->active = true;
    s->phase = S_OUTER;
    s->body_end = UINT64_MAX;
    sgp32_buf_reset(&ipa->seg);
}

void ipa_bpp_feed(sgp32_ipa *ipa, sgp32_bytes chunk, bool last)
{
    ipa->bpp.chunk = chunk;
    ipa->bpp.chunk_off = 0;
    ipa->bpp.last_chunk = last;
}

/* A DER tag+length at the start of p[0..n): SGP32_ERR_ASN1_TRUNCATED when more bytes are needed. */
static int parse_header(const uint8_t *p, size_t n, uint32_t *tag, uint64_t *len, size_t *hlen)
{
    size_t i = 0;
    if (n < 1)
        return SGP32_ERR_ASN1_TRUNCATED;
    uint32_t t = p[i++];
    if ((t & 0x1F) == 0x1F) {
        unsigned k = 0;
        do {
            if (i >= n)
                return SGP32_ERR_ASN1_TRUNCATED;
            if (++k > 3 || (k == 1 && p[i] == 0x80))
                return SGP32_ERR_ASN1_BAD_TAG;
            t = t << 8 | p[i];
        } while (p[i++] & 0x80);
    }
    if (i >= n)
        return SGP32_ERR_ASN1_TRUNCATED;
    uint8_t b = p[i++];
    uint64_t l;
    if (b < 0x80) {
        l = b;
    } else {
        unsigned k = b & 0x7F;
        if (k == 0)
            return SGP32_ERR_ASN1_INDEFINITE;
        if (k > 4)
            return SGP32_ERR_ASN1_BAD_LENGTH;
        if (n - i < k)
            return SGP32_ERR_ASN1_TRUNCATED;
        if (p[i] == 0)
            return SGP32_ERR_ASN1_BAD_LENGTH; /* not minimal */
        l = 0;
        for (unsigned j = 0; j < k; j++)
            l = l << 8 | p[i++];
        if (l < 0x80)
            return SGP32_ERR_ASN1_BAD_LENGTH;
    }
    *tag = t;
    *len = l;
    *hlen = i;
    return SGP32_OK;
}

/* Read the next header (possibly across chunks). SGP32_ERR_NOT_FOUND: the chunk is used up. */
static int read_header(ipa_bpp_stream *s, uint32_t *tag, uint64_t *len)
{
    for (;;) {
        size_t hlen;
        int rc = parse_header(s->hdr, s->hdr_len, tag, len, &hlen);
        if (rc == SGP32_OK) {
            s->pos += hlen;
            return SGP32_OK;
        }
        if (rc != SGP32_ERR_ASN1_TRUNCATED)
            return rc;
        if (s->hdr_len >= sizeof(s->hdr))
            return SGP32_ERR_ASN1_BAD_LENGTH;
        if (s->chunk_off >= s->chunk.len)
            return SGP32_ERR_NOT_FOUND;
        s->hdr[s->hdr_len++] = s->chunk.data[s->chunk_off++];
    }
}

/* Copy up to s->need value bytes into seg (or discard them when seg is NULL). */
static int copy_value(ipa_bpp_stream *s, sgp32_buf *seg)
{
    size_t avail = s->chunk.len - s->chunk_off;
    size_t n = s->need < avail ? s->need : avail;
    if (n && seg) {
        int rc = sgp32_buf_append(seg, s->chunk.data + s->chunk_off, n);
        if (rc)
            return rc;
    }
    s->chunk_off += n;
    s->need -= n;
    s->pos += n;
    return s->need ? SGP32_ERR_NOT_FOUND : SGP32_OK;
}

/* A TLV of len value bytes must end inside end. */
static int within(const ipa_bpp_stream *s, uint64_t len, uint64_t end)
{
    return len <= end - s->pos ? SGP32_OK : SGP32_ERR_ASN1_TRUNCATED;
}

int ipa_bpp_next(sgp32_ipa *ipa)
{
    ipa_bpp_stream *s = &ipa->bpp;
    sgp32_buf *seg = &ipa->seg;
    uint32_t tag;
    uint64_t len;
    int rc;
    if (s->phase == S_END)
        return 1;
    if (s->seg_done) { /* the last segment went to the card: start the next one */
        sgp32_buf_reset(seg);
        s->seg_done = false;
    }
    if (s->phase == S_VALUE || s->phase == S_SKIP_TXID || s->phase == S_ERROR_CODE)
        goto value;
    for (;;) {
        /* containers that end without another header */
        if (s->phase == S_88 && s->pos == s->container_end) {
            s->phase = S_A2_OR_A3;
            continue;
        }
        if (s->phase == S_86 && s->pos == s->container_end) {
            s->phase = S_END;
            return s->container_end == s->bpp_end ? 1 : SGP32_ERR_ASN1_TRAILING;
        }
        rc = read_header(s, &tag, &len);
        if (rc)
            return rc;
        s->hdr_len = 0;
        switch (s->phase) {
        case S_OUTER:
            if (tag == 0xA2) {
                s->wrapped = true;
                s->body_end = s->pos + len;
                s->phase = S_FUNCTION;
                continue;
            }
            /* BF3A unwrapped: the same as S_FUNCTION */
            if (tag != 0xBF3A)
                return SGP32_ERR_ASN1_UNEXPECTED_TAG;
            s->body_end = s->pos + len;
            s->phase = S_CHOICE;
            continue;
        case S_FUNCTION:
            if (tag != 0xBF3A || within(s, len, s->body_end))
                return SGP32_ERR_ASN1_UNEXPECTED_TAG;
            s->body_end = s->pos + len;
            s->phase = S_CHOICE;
            continue;
        case S_CHOICE:
            if (within(s, len, s->body_end))
                return SGP32_ERR_ASN1_TRUNCATED;
            if (tag == 0x81 && len >= 1 && len <= 8) {
                s->need = (size_t)len;
                s->error_code = 0;
                s->phase = S_ERROR_CODE;
                s->hdr_len = 0;
                goto value;
            }
            if (tag != 0xA0)
                return SGP32_ERR_ASN1_UNEXPECTED_TAG;
            s->phase = S_TXID_OR_BPP;
            continue;
        case S_TXID_OR_BPP:
            if (within(s, len, s->body_end))
                return SGP32_ERR_ASN1_TRUNCATED;
            if (tag == 0x80) {
                s->need = (size_t)len;
                s->phase = S_SKIP_TXID;
                goto value;
            }
            if (tag != 0xBF36)
                return SGP32_ERR_ASN1_UNEXPECTED_TAG;
            s->bpp_end = s->pos + len;
            /* segment 1 starts with the BF36 header: rebuild it (hdr was consumed) */
            rc = sgp32_asn1_write_header(seg, 0xBF36, (size_t)len);
            if (rc)
                return rc;
            s->phase = S_BF23;
            continue;
        case S_BF23:
        case S_A0:
        case S_88:
        case S_86:
        case S_A2_OR_A3:
        case S_A3: {
            uint64_t end = (s->phase == S_88 || s->phase == S_86) ? s->container_end : s->bpp_end;
            if (within(s, len, end))
                return SGP32_ERR_ASN1_TRUNCATED;
            uint32_t want;
            switch (s->phase) {
            case S_BF23: want = 0xBF23; break;
            case S_A0: want = 0xA0; break;
            case S_88: want = 0x88; break;
            case S_86: want = 0x86; break;
            case S_A3: want = 0xA3; break;
            default: want = tag == 0xA2 ? 0xA2 : 0xA3; break;
            }
            if (tag != want)
                return SGP32_ERR_ASN1_UNEXPECTED_TAG;
            if (tag == 0xA3) { /* header-only segment */
                rc = sgp32_asn1_write_header(seg, tag, (size_t)len);
                if (rc)
                    return rc;
                s->container_end = s->pos + len;
                s->phase = S_86;
                s->seg_done = true;
                return SGP32_OK;
            }
            if (sgp32_asn1_tag_len(tag) + sgp32_asn1_length_len((size_t)len) + len > seg->max - seg->len)
                return SGP32_ERR_CAPACITY;
            rc = sgp32_asn1_write_header(seg, tag, (size_t)len);
            if (rc)
                return rc;
            s->need = (size_t)len;
            switch (s->phase) {
            case S_BF23: s->after = S_A0; break;
            case S_A0: s->after = S_A1; break;
            case S_A2_OR_A3: s->after = S_A3; break;
            default: s->after = s->phase; break;
            }
            s->phase = S_VALUE;
            goto value;
        }
        case S_A1:
            if (tag != 0xA1 || within(s, len, s->bpp_end))
                return SGP32_ERR_ASN1_UNEXPECTED_TAG;
            rc = sgp32_asn1_write_header(seg, tag, (size_t)len);
            if (rc)
                return rc;
            s->container_end = s->pos + len;
            s->phase = S_88;
            s->seg_done = true;
            return SGP32_OK;
        default: return SGP32_ERR_STATE;
        }
    }
value:
    if (s->phase == S_ERROR_CODE) {
        while (s->need && s->chunk_off < s->chunk.len) {
            s->error_code = s->error_code << 8 | s->chunk.data[s->chunk_off++];
            s->need--;
            s->pos++;
        }
        if (s->need)
            return SGP32_ERR_NOT_FOUND;
        s->phase = S_END;
        return 2;
    }
    rc = copy_value(s, s->phase == S_SKIP_TXID ? NULL : seg);
    if (rc)
        return rc;
    if (s->phase == S_SKIP_TXID) {
        s->phase = S_TXID_OR_BPP;
        return ipa_bpp_next(ipa);
    }
    /* a whole-TLV segment is complete */
    s->phase = s->after;
    s->seg_done = true;
    return SGP32_OK;
}

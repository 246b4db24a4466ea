/*
 * Text rendering of decoded values and of raw TLV trees (include/sgp32/asn1_print.h).
 *
 * Everything goes through emit(), which enforces the caller's buffer cap (the text is cut,
 * marked and SGP32_ERR_CAPACITY returned). A block is first measured in its one-line form
 * (emit() only counts, and gives up past the line width), then written in the form that fits,
 * so a cut text is always a prefix of the whole text. Nothing here allocates; recursion is
 * bounded by MAX_PRINT_DEPTH whatever the value holds.
 */
#include <stdio.h>
#include <string.h>

#include "sgp32/asn1_print.h"
#include "sgp32/eid.h"
#include "sgp32/text.h"

enum {
    INDENT_SPACES = 2,
    DEFAULT_WIDTH = 96,
    DEFAULT_HEX_LIMIT = 32,
    HEX_HEAD = 16,        /* bytes shown of an abbreviated value */
    MAX_PRINT_DEPTH = 48, /* above SGP32_ASN1_MAX_DEPTH: decoded values never reach it */
    MAX_INDENT_LEVEL = 64,
    TREE_TEXT_MIN = 3, /* primitive TLVs this long and all printable also show as text */
};

static const char truncated_mark[] = "...(truncated)\n";

typedef struct printer {
    sgp32_buf *out;
    size_t start;      /* out->len on entry: the text before it is the caller's */
    size_t limit;      /* the text ends before out->data[limit]; that byte is for the NUL */
    size_t line_start; /* out->len where the current line began */
    unsigned base_indent;
    size_t width;
    size_t hex_limit;
    bool domain;
    int rc;         /* SGP32_ERR_CAPACITY / SGP32_ERR_NO_MEMORY once the text is cut */
    bool one_line;  /* writing (or measuring) the one-line form of a block */
    bool measuring; /* only counting: does the one-line form fit the width? */
    size_t measured;
    bool too_wide; /* ... it does not */
} printer;

#define AT_CONST(ptr, off, T) ((const T *)(const void *)((const uint8_t *)(ptr) + (off)))

static bool stopped(const printer *p)
{
    return p->rc != SGP32_OK || p->too_wide;
}

/* Keep as much text as fits before the mark, never half a UTF-8 sequence, then the mark. */
static void cut(printer *p, const char *s, size_t n)
{
    sgp32_buf *o = p->out;
    size_t mark_len = sizeof(truncated_mark) - 1;
    size_t keep_to = p->limit >= p->start + mark_len ? p->limit - mark_len : p->limit;
    p->rc = SGP32_ERR_CAPACITY;
    if (o->len < keep_to) {
        size_t part = keep_to - o->len < n ? keep_to - o->len : n;
        while (part > 0 && part < n && ((uint8_t)s[part] & 0xC0) == 0x80)
            part--;
        int rc = sgp32_buf_append(o, s, part);
        if (rc) {
            p->rc = rc; /* the buffer could not grow */
            return;
        }
    } else if (o->len > keep_to) {
        o->len = keep_to;
        while (o->len > p->start && (o->data[o->len] & 0xC0) == 0x80)
            o->len--;
    }
    if (keep_to + mark_len <= p->limit)
        (void)sgp32_buf_append(o, truncated_mark, mark_len);
}

static void emit(printer *p, const char *s, size_t n)
{
    if (stopped(p) || n == 0)
        return;
    if (p->measuring) {
        size_t column = p->out->len - p->line_start + p->measured;
        if (column > p->width || n > p->width - column)
            p->too_wide = true;
        p->measured += n;
        return;
    }
    if (n > p->limit - p->out->len) {
        cut(p, s, n);
        return;
    }
    int rc = sgp32_buf_append(p->out, s, n);
    if (rc)
        p->rc = rc;
}

static void emits(printer *p, const char *s)
{
    emit(p, s, strlen(s));
}

static void emit_u64(printer *p, unsigned long long v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%llu", v);
    if (n > 0)
        emit(p, tmp, (size_t)n);
}

static void emit_i64(printer *p, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
    if (n > 0)
        emit(p, tmp, (size_t)n);
}

static void emit_spaces(printer *p, size_t n)
{
    static const char spaces[] = "                                ";
    while (n && !stopped(p)) {
        size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;
        emit(p, spaces, k);
        n -= k;
    }
}

static void emit_indent(printer *p, unsigned level)
{
    size_t levels = (size_t)p->base_indent + level;
    emit_spaces(p, INDENT_SPACES * (levels < MAX_INDENT_LEVEL ? levels : MAX_INDENT_LEVEL));
}

static void newline(printer *p, unsigned level)
{
    emit(p, "\n", 1);
    p->line_start = p->out->len;
    emit_indent(p, level);
}

static void emit_hex(printer *p, const uint8_t *data, size_t len)
{
    char tmp[2 * 32 + 1];
    while (len && !stopped(p)) {
        size_t k = len < 32 ? len : 32;
        sgp32_hex_encode(data, k, tmp);
        emit(p, tmp, 2 * k);
        data += k;
        len -= k;
    }
}

/* Upper-case hex, abbreviated to its first bytes and the length when long. */
static void emit_bytes(printer *p, sgp32_bytes b)
{
    if (b.len == 0) {
        emits(p, "<empty>");
    } else if (!b.data) {
        emits(p, "<invalid>");
    } else if (b.len <= p->hex_limit) {
        emit_hex(p, b.data, b.len);
    } else {
        emit_hex(p, b.data, p->hex_limit < HEX_HEAD ? p->hex_limit : HEX_HEAD);
        emits(p, "...(");
        emit_u64(p, b.len);
        emits(p, " bytes)");
    }
}

/* ---------------------------------------------------------------- strings */

/* Length of the well-formed UTF-8 sequence at s (1..4) and its code point; 0 if malformed. */
static size_t utf8_sequence(const uint8_t *s, size_t len, uint32_t *cp)
{
    uint8_t c = s[0];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        n = 2, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n > len)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

/* Code points a terminal or a log viewer would act on: C1 controls, line separators, bidi controls. */
static bool unsafe_code_point(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E || cp == 0x200F || cp == 0xFEFF;
}

static void emit_quoted(printer *p, sgp32_bytes s)
{
    static const char hex[] = "0123456789ABCDEF";
    emit(p, "\"", 1);
    if (!s.data)
        s.len = 0;
    size_t run = 0; /* start of the bytes not yet written */
    for (size_t i = 0; i < s.len && !stopped(p);) {
        uint8_t c = s.data[i];
        if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
            i++;
            continue;
        }
        uint32_t cp = 0;
        size_t n = c >= 0x80 ? utf8_sequence(s.data + i, s.len - i, &cp) : 0;
        if (n > 1 && !unsafe_code_point(cp)) {
            i += n;
            continue;
        }
        emit(p, (const char *)s.data + run, i - run);
        char esc[12];
        size_t k = 0;
        esc[k++] = '\\';
        if (c == '"' || c == '\\') {
            esc[k++] = (char)c;
        } else if (c == '\n') {
            esc[k++] = 'n';
        } else if (c == '\r') {
            esc[k++] = 'r';
        } else if (c == '\t') {
            esc[k++] = 't';
        } else if (n > 1) {
            esc[k++] = 'u';
            for (int shift = 12; shift >= 0; shift -= 4)
                esc[k++] = hex[cp >> shift & 15];
        } else {
            esc[k++] = 'x';
            esc[k++] = hex[c >> 4];
            esc[k++] = hex[c & 15];
        }
        emit(p, esc, k);
        i += n > 1 ? n : 1;
        run = i;
    }
    if (run < s.len) /* (an empty string of a partial value has no data: no NULL + 0) */
        emit(p, (const char *)s.data + run, s.len - run);
    emit(p, "\"", 1);
}

/* ------------------------------------------------------ domain renderings */

static bool name_is(const char *a, const char *b)
{
    return a && strcmp(a, b) == 0;
}

/* EID: 16 bytes of plain BCD. */
static bool emit_eid(printer *p, sgp32_bytes b)
{
    char digits[SGP32_EID_DIGITS + 1];
    if (b.len != SGP32_EID_LEN || sgp32_eid_to_text(b.data, digits) != SGP32_OK)
        return false;
    emit(p, digits, SGP32_EID_DIGITS);
    if (sgp32_eid_check(b.data) != SGP32_OK)
        emits(p, " (check digits wrong)");
    return true;
}

/* RSP Iccid: EF.ICCID coding, low nibble first, F padding at the end only. */
static bool emit_iccid(printer *p, sgp32_bytes b)
{
    char digits[2 * 10 + 1];
    size_t n = 0;
    bool padding = false;
    if (b.len == 0 || b.len > 10)
        return false;
    for (size_t i = 0; i < 2 * b.len; i++) {
        uint8_t nibble = i % 2 ? b.data[i / 2] >> 4 : b.data[i / 2] & 15;
        if (nibble == 15)
            padding = true;
        else if (nibble > 9 || padding)
            return false;
        else
            digits[n++] = (char)('0' + nibble);
    }
    if (n == 0)
        return false;
    emit(p, digits, n);
    return true;
}

/* VersionType: major, minor, revision. */
static bool emit_version(printer *p, sgp32_bytes b)
{
    if (b.len != 3)
        return false;
    emit(p, "v", 1);
    for (size_t i = 0; i < 3; i++) {
        if (i)
            emit(p, ".", 1);
        emit_u64(p, b.data[i]);
    }
    return true;
}

/* MCC/MNC as in 3GPP TS 24.008 (MCC2 MCC1, MNC3 MCC3, MNC2 MNC1; MNC3 F for two digits). */
static bool emit_plmn(printer *p, sgp32_bytes b)
{
    if (b.len != 3)
        return false;
    uint8_t d[6] = {(uint8_t)(b.data[0] & 15), (uint8_t)(b.data[0] >> 4), (uint8_t)(b.data[1] & 15),
                    (uint8_t)(b.data[2] & 15), (uint8_t)(b.data[2] >> 4), (uint8_t)(b.data[1] >> 4)};
    char text[32];
    size_t n = 0;
    for (size_t i = 0; i < 6; i++) {
        if (i == 5 && d[i] == 15)
            break;
        if (d[i] > 9)
            return false;
        if (i == 0)
            n += (size_t)snprintf(text + n, sizeof(text) - n, " (MCC ");
        if (i == 3)
            n += (size_t)snprintf(text + n, sizeof(text) - n, ", MNC ");
        text[n++] = (char)('0' + d[i]);
    }
    text[n++] = ')';
    emit_hex(p, b.data, 3);
    emit(p, text, n);
    return true;
}

static void print_octets(printer *p, const sgp32_asn1_type *type, const char *name, sgp32_bytes b)
{
    if (p->domain && b.data && b.len) {
        if ((name_is(name, "eidValue") || name_is(name, "eid")) && emit_eid(p, b))
            return;
        if ((name_is(type->name, "Iccid") || name_is(name, "iccid")) && emit_iccid(p, b))
            return;
        if (name_is(type->name, "VersionType") && emit_version(p, b))
            return;
        if ((name_is(name, "mccMnc") || name_is(name, "rPLMN")) && emit_plmn(p, b))
            return;
    }
    emit_bytes(p, b);
}

/* ------------------------------------------------------------- primitives */

static void print_integer(printer *p, const sgp32_asn1_type *type, int64_t v)
{
    emit_i64(p, v);
    for (size_t i = 0; type->names && i < type->name_count; i++)
        if (type->names[i].value == v && type->names[i].name) {
            emits(p, " (");
            emits(p, type->names[i].name);
            emits(p, ")");
            return;
        }
}

static void print_named_bits(printer *p, const sgp32_asn1_type *type, uint32_t bits)
{
    bool first = true;
    emit(p, "{", 1);
    for (unsigned bit = 0; bit < 32; bit++) {
        if (!(bits & (UINT32_C(1) << bit)))
            continue;
        if (!first)
            emits(p, ", ");
        first = false;
        const char *name = NULL;
        for (size_t i = 0; type->names && i < type->name_count; i++)
            if (type->names[i].value == (int64_t)bit)
                name = type->names[i].name;
        if (name) {
            emits(p, name);
        } else {
            emits(p, "bit");
            emit_u64(p, bit);
        }
    }
    emit(p, "}", 1);
}

static void print_oid(printer *p, sgp32_bytes b)
{
    char text[160];
    if (!b.data || !b.len) {
        emit_bytes(p, b);
    } else if (sgp32_asn1_oid_to_text(b, text, sizeof(text)) == SGP32_OK) {
        emits(p, text);
    } else {
        emit_bytes(p, b);
        emits(p, " (not an OID)");
    }
}

static void print_bit_string(printer *p, sgp32_bytes b)
{
    if (!b.data || !b.len) {
        emit_bytes(p, b);
        return;
    }
    uint8_t unused = b.data[0];
    if (b.len == 1) {
        emits(p, unused ? "<bad unused-bits octet>" : "<empty>");
        return;
    }
    emit_bytes(p, (sgp32_bytes){b.data + 1, b.len - 1});
    if (unused > 7) {
        emits(p, " (bad unused-bits octet)");
        return;
    }
    emits(p, " (");
    emit_u64(p, (unsigned long long)(b.len - 1) * 8 - unused);
    emits(p, " bits)");
}

/* Certificates, CRLs, keys and open types: a summary, and the bytes when they are short. */
static void print_opaque(printer *p, const sgp32_asn1_type *type, sgp32_bytes b)
{
    emit(p, "<", 1);
    emits(p, type->name ? type->name : "opaque");
    if (type->kind == SGP32_ASN1_ANY && b.data && b.len) {
        sgp32_asn1_tlv tlv;
        if (sgp32_asn1_read_tlv(b.data, b.len, &tlv, NULL) == SGP32_OK) {
            char tag[2 * SGP32_ASN1_MAX_TAG_BYTES + 1];
            size_t tag_len = sgp32_asn1_tag_len(tlv.tag);
            sgp32_hex_encode(tlv.whole.data, tag_len, tag);
            emits(p, " tag ");
            emits(p, tag);
        }
    }
    emits(p, ", ");
    emit_u64(p, b.len);
    emits(p, " bytes>");
    if (b.data && b.len && b.len <= p->hex_limit) {
        emit(p, " ", 1);
        emit_hex(p, b.data, b.len);
    }
}

/* ----------------------------------------------------------- structures */

static void print_value(printer *p, const sgp32_asn1_type *type, const char *name, const void *value,
                        unsigned level);

static bool opens_block(const sgp32_asn1_type *type)
{
    return type && (type->kind == SGP32_ASN1_SEQUENCE || type->kind == SGP32_ASN1_SEQUENCE_OF);
}

/* "label: value", "label {...}", or the label alone for a NULL. */
static void print_labeled(printer *p, const char *label, const sgp32_asn1_type *type, const void *value,
                          unsigned level)
{
    emits(p, label ? label : "?");
    if (type && type->kind == SGP32_ASN1_NULL)
        return;
    emits(p, opens_block(type) ? " " : ": ");
    print_value(p, type, label, value, level);
}

static bool field_present(const sgp32_asn1_field *f, const void *value)
{
    return f->present_offset == SGP32_ASN1_NO_OFFSET || *AT_CONST(value, f->present_offset, uint8_t) != 0;
}

/* The components of a SEQUENCE or the items of a SEQUENCE OF, on one line or one per line. */
static void print_items(printer *p, const sgp32_asn1_type *type, const void *value, unsigned level)
{
    bool list = type->kind == SGP32_ASN1_SEQUENCE_OF;
    size_t written = 0;
    emit(p, list ? "[" : "{", 1);
    if (list) {
        const sgp32_asn1_list *l = value;
        const sgp32_asn1_type *elem = type->element;
        if (l->count && (!l->items || !elem || !elem->size)) {
            emits(p, "<missing items>");
        } else {
            for (size_t i = 0; i < l->count && !stopped(p); i++) {
                if (p->one_line)
                    emits(p, written ? ", " : "");
                else
                    newline(p, level + 1);
                print_value(p, elem, NULL, (const uint8_t *)l->items + i * elem->size, level + 1);
                written++;
            }
        }
    } else {
        for (size_t i = 0; type->fields && i < type->field_count && !stopped(p); i++) {
            const sgp32_asn1_field *f = &type->fields[i];
            if (!field_present(f, value))
                continue;
            if (p->one_line)
                emits(p, written ? ", " : " ");
            else
                newline(p, level + 1);
            print_labeled(p, f->name, f->type, AT_CONST(value, f->offset, void), level + 1);
            written++;
        }
    }
    if (written && !p->one_line)
        newline(p, level);
    else if (written && !list)
        emit(p, " ", 1);
    emit(p, list ? "]" : "}", 1);
}

static void print_block(printer *p, const sgp32_asn1_type *type, const void *value, unsigned level)
{
    if (p->one_line) {
        print_items(p, type, value, level);
        return;
    }
    /* One line when that fits the width, else one line per component. */
    p->one_line = p->measuring = true;
    p->measured = 0;
    print_items(p, type, value, level);
    bool fits = !p->too_wide;
    p->measuring = p->too_wide = false;
    p->one_line = fits;
    print_items(p, type, value, level);
    p->one_line = false;
}

static void print_value(printer *p, const sgp32_asn1_type *type, const char *name, const void *value,
                        unsigned level)
{
    if (!type || !value) {
        emits(p, "<?>");
        return;
    }
    if (level > MAX_PRINT_DEPTH) {
        emits(p, "...");
        return;
    }
    switch ((sgp32_asn1_kind)type->kind) {
    case SGP32_ASN1_INTEGER: print_integer(p, type, *(const int64_t *)value); return;
    case SGP32_ASN1_BOOLEAN: emits(p, *(const uint8_t *)value ? "true" : "false"); return;
    case SGP32_ASN1_NULL: emits(p, "NULL"); return;
    case SGP32_ASN1_OCTET_STRING: print_octets(p, type, name, *(const sgp32_bytes *)value); return;
    case SGP32_ASN1_UTF8_STRING: emit_quoted(p, *(const sgp32_bytes *)value); return;
    case SGP32_ASN1_OBJECT_ID: print_oid(p, *(const sgp32_bytes *)value); return;
    case SGP32_ASN1_BIT_STRING: print_bit_string(p, *(const sgp32_bytes *)value); return;
    case SGP32_ASN1_NAMED_BITS: print_named_bits(p, type, *(const uint32_t *)value); return;
    case SGP32_ASN1_ANY:
    case SGP32_ASN1_OPAQUE: print_opaque(p, type, *(const sgp32_bytes *)value); return;
    case SGP32_ASN1_SEQUENCE:
    case SGP32_ASN1_SEQUENCE_OF: print_block(p, type, value, level); return;
    case SGP32_ASN1_CHOICE: {
        int choice = *AT_CONST(value, sizeof(sgp32_bytes), int);
        if (choice < 1 || choice > type->field_count || !type->fields) {
            emits(p, "<none>");
            return;
        }
        const sgp32_asn1_field *f = &type->fields[choice - 1];
        print_labeled(p, f->name, f->type, AT_CONST(value, f->offset, void), level);
        return;
    }
    }
    emits(p, "<unknown kind>");
}

/* ------------------------------------------------------------ entry points */

static int printer_init(printer *p, const sgp32_asn1_print_options *options, sgp32_buf *out)
{
    static const sgp32_asn1_print_options defaults = {0};
    const sgp32_asn1_print_options *o = options ? options : &defaults;
    memset(p, 0, sizeof(*p));
    if (out->len >= out->max)
        return SGP32_ERR_CAPACITY; /* not even room for the NUL */
    p->out = out;
    p->start = p->line_start = out->len;
    p->limit = out->max - 1;
    p->base_indent = o->indent;
    p->width = o->single_line ? SIZE_MAX : o->width ? o->width : DEFAULT_WIDTH;
    p->hex_limit = o->full_hex ? SIZE_MAX : o->hex_limit ? o->hex_limit : DEFAULT_HEX_LIMIT;
    p->domain = !o->no_domain;
    p->one_line = o->single_line;
    return SGP32_OK;
}

static int printer_finish(printer *p)
{
    if (p->rc == SGP32_ERR_NO_MEMORY)
        return p->rc;
    /* out->len <= limit < max: the NUL fits under the cap. */
    if (sgp32_buf_append_byte(p->out, 0) != SGP32_OK)
        return SGP32_ERR_NO_MEMORY;
    p->out->len--;
    return p->rc;
}

int sgp32_asn1_print_ex(const sgp32_asn1_type *type, const void *value,
                        const sgp32_asn1_print_options *options, sgp32_buf *out)
{
    printer p;
    if (!type || !value || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    int rc = printer_init(&p, options, out);
    if (rc)
        return rc;
    const char *label = options && options->label ? options->label : type->name ? type->name : "value";
    emit_indent(&p, 0);
    print_labeled(&p, label, type, value, 0);
    emit(&p, "\n", 1);
    return printer_finish(&p);
}

int sgp32_asn1_print(const sgp32_asn1_type *type, const void *value, sgp32_buf *out)
{
    return sgp32_asn1_print_ex(type, value, NULL, out);
}

/* ---------------------------------------------------------------- TLV tree */

typedef struct tree {
    printer *p;
    const uint8_t *base;
    int digits; /* width of the offset column */
    int err;    /* the first structural error */
} tree;

static void tree_line_start(tree *t, size_t offset, bool show_offset, unsigned level)
{
    char col[24];
    int n = show_offset ? snprintf(col, sizeof(col), "%0*zu ", t->digits, offset)
                        : snprintf(col, sizeof(col), "%*s", t->digits + 1, "");
    emit_indent(t->p, 0);
    if (n > 0)
        emit(t->p, col, (size_t)n);
    emit_spaces(t->p, INDENT_SPACES * (size_t)(level < MAX_INDENT_LEVEL ? level : MAX_INDENT_LEVEL));
}

static bool printable_text(sgp32_bytes v)
{
    if (v.len < TREE_TEXT_MIN)
        return false;
    for (size_t i = 0; i < v.len; i++)
        if (v.data[i] < 0x20 || v.data[i] >= 0x7F)
            return false;
    return true;
}

static void tree_level(tree *t, const uint8_t *data, size_t len, unsigned level)
{
    printer *p = t->p;
    size_t pos = 0;
    while (pos < len && !stopped(p)) {
        sgp32_asn1_tlv tlv;
        size_t used = 0, offset = (size_t)(data + pos - t->base);
        int rc = sgp32_asn1_read_tlv(data + pos, len - pos, &tlv, &used);
        tree_line_start(t, offset, true, level);
        if (rc) {
            emit(p, "<", 1);
            emits(p, sgp32_err_str(rc));
            emits(p, ": ");
            emit_bytes(p, (sgp32_bytes){data + pos, len - pos});
            emits(p, ">\n");
            if (!t->err)
                t->err = rc;
            return;
        }
        char tag[2 * SGP32_ASN1_MAX_TAG_BYTES + 1];
        sgp32_hex_encode(data + pos, sgp32_asn1_tag_len(tlv.tag), tag);
        emits(p, tag);
        emits(p, " len ");
        emit_u64(p, tlv.value.len);
        if (tlv.constructed && level + 1 < SGP32_ASN1_MAX_DEPTH) {
            emits(p, " {\n");
            tree_level(t, tlv.value.data, tlv.value.len, level + 1);
            tree_line_start(t, 0, false, level);
            emits(p, "}\n");
        } else {
            if (tlv.constructed && !t->err)
                t->err = SGP32_ERR_ASN1_TOO_DEEP;
            if (tlv.value.len) {
                emits(p, ": ");
                emit_bytes(p, tlv.value);
                if (!tlv.constructed && printable_text(tlv.value)) {
                    emit(p, " ", 1);
                    emit_quoted(p, tlv.value);
                }
            }
            emit(p, "\n", 1);
        }
        pos += used;
    }
}

int sgp32_asn1_print_tlv_tree(const uint8_t *data, size_t len, const sgp32_asn1_print_options *options,
                              sgp32_buf *out)
{
    printer p;
    if (!out || (!data && len))
        return SGP32_ERR_INVALID_ARGUMENT;
    int rc = printer_init(&p, options, out);
    if (rc)
        return rc;
    p.one_line = false; /* one line per TLV whatever the options say */
    tree t = {&p, data, 4, SGP32_OK};
    for (size_t n = len; n >= 10000; n /= 10)
        t.digits++;
    if (len == 0) {
        emit_indent(&p, 0);
        emits(&p, "<empty>\n");
    }
    tree_level(&t, data, len, 0);
    rc = printer_finish(&p);
    return rc ? rc : t.err;
}

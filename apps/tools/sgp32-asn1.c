/*
 * sgp32-asn1: decode any SGP.32 / SGP.22 message and print it with the schema's names.
 * Run "sgp32-asn1 --help" for the usage; the exit status is documented there.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <unistd.h>

#include "sgp32/asn1_print.h"
#include "sgp32/asn1_types.h"
#include "sgp32/text.h"

enum {
    EXIT_DECODED = 0,     /* decoded and printed */
    EXIT_NOT_DECODED = 1, /* read, but not a valid value of any (or the given) schema type */
    EXIT_USAGE = 2,       /* bad options, unknown type, unreadable or unrecognisable input */
};

enum {
    MAX_INPUT = 16 << 20,  /* bytes of input (a BPP is around 100 KB) */
    MAX_OUTPUT = 64 << 20, /* bytes of text per printed value */
    ARENA_CAP = 64 << 20,
    MAX_SUGGESTIONS = 8,
    MAX_ALSO = 6,     /* other readings listed by name */
    MAX_DECODED = 64, /* other readings considered for that list */
    MAX_FAILED = 6,   /* failed readings reported */
};

static const char *prog = "sgp32-asn1";

static const char usage_text[] =
    "Usage: sgp32-asn1 [options] [INPUT...]\n"
    "\n"
    "Decode an SGP.32 v1.2 / SGP.22 ASN.1 message and print it with the schema's names\n"
    "(EIDs and ICCIDs as digits, named numbers and bits by name).\n"
    "\n"
    "Input (read from standard input when no INPUT is given, or INPUT is '-'):\n"
    "  INPUT...             the message as hex or base64 text; several arguments are joined,\n"
    "                       so 'BF4F 03 02 01 01' may be typed unquoted\n"
    "  -f, --file PATH      read the message from PATH: DER bytes, or text as above\n"
    "      --hex            the text is hex (spaces, colons and newlines between bytes are fine)\n"
    "      --base64         the text is base64 (standard or URL alphabet, padding optional)\n"
    "      --binary         the input is DER bytes, not text\n"
    "  Without these the format is detected. Also accepted as they are:\n"
    "  - the JSON bodies of ES9+ and of ESipa over HTTPS+JSON: every string that is\n"
    "    base64 DER is decoded, with the type named by its field where one is\n"
    "    (serverSigned1, euiccInfo1, smdpSigned2, profileMetadata, boundProfilePackage, ...);\n"
    "  - a quoted JSON string (\"v08DAgEB\", JSON escapes such as \\/ are undone);\n"
    "  - an HTTP request or response dump (the headers are skipped), e.g. an ESipa\n"
    "    HTTPS+ASN.1 body captured with its headers.\n"
    "\n"
    "Type:\n"
    "  -t, --type NAME      decode as this schema type (e.g. EuiccPackageRequest,\n"
    "                       SGP32-EUICCInfo2, Certificate); case and '-' do not matter\n"
    "  By default every named type whose tag matches the first TLV is tried. The winner\n"
    "  re-encodes to exactly the input (nothing skipped as an unknown extension), has only\n"
    "  named result codes and bits, is the message itself rather than an envelope CHOICE,\n"
    "  and is SGP.32's definition where SGP.22 has one too (SGP32-X over X, ...Esipa over\n"
    "  ...Es9).\n"
    "  The other types that also decode are listed (BF51 is both EuiccPackageRequest and\n"
    "  EuiccPackageResult, each message is also an alternative of an ESipa envelope).\n"
    "  -l, --list-types     list every named type with its tag and exit\n"
    "\n"
    "Output:\n"
    "      --full           print every byte of long values and certificates\n"
    "      --raw            EIDs, ICCIDs, versions and MCC/MNC as plain hex\n"
    "      --tlv            also print the TLV structure (offset, tag, length)\n"
    "  -q, --quiet          no '#' comment lines\n"
    "  -h, --help           this text\n"
    "\n"
    "When nothing decodes, the TLV structure is printed and the error of the type that got\n"
    "furthest is reported with its byte offset and schema path, e.g.\n"
    "  EuiccPackageRequest.euiccPackageSigned.counterValue: asn1: ... at byte 23\n"
    "\n"
    "Exit status:\n"
    "  0  decoded and printed\n"
    "  1  the input is not a valid value of any schema type (or of --type): not DER\n"
    "     (indefinite lengths, truncation, trailing bytes) or a schema mismatch\n"
    "  2  usage error, unknown type name, unreadable file, or text that is neither hex nor\n"
    "     base64\n"
    "\n"
    "Examples:\n"
    "  sgp32-asn1 BF4F03020101\n"
    "  sgp32-asn1 --type EuiccPackageResult BF510AA208800365494D840101\n"
    "  echo v08DAgEB | sgp32-asn1 --base64\n"
    "  sgp32-asn1 --file esipa-body.der --tlv\n"
    "  sgp32-asn1 --file initiateAuthentication-response.json\n"
    "  sgp32-asn1 --list-types | grep BF51\n";

typedef struct cli {
    const sgp32_asn1_type *forced; /* --type */
    enum { FORMAT_AUTO, FORMAT_HEX, FORMAT_BASE64, FORMAT_BINARY } format;
    bool full, raw, tlv, quiet;
    sgp32_buf out; /* text for stdout */
} cli;

static void error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fprintf(stderr, "%s: error: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void hint(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fprintf(stderr, "%s: hint: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void flush_out(cli *c)
{
    if (c->out.len)
        fwrite(c->out.data, 1, c->out.len, stdout);
    sgp32_buf_reset(&c->out);
}

/* A "# ..." line: what was detected, and from what (off with --quiet). */
static void comment(cli *c, const char *text)
{
    if (c->quiet)
        return;
    flush_out(c);
    printf("# %s\n", text);
}

/* ------------------------------------------------------------ type names */

static char fold(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/* Equal ignoring case and, when loose, the punctuation '-', '_', '.' and ' '. */
static bool name_eq(const char *a, const char *b, bool loose)
{
    for (;;) {
        if (loose) {
            while (*a == '-' || *a == '_' || *a == '.' || *a == ' ')
                a++;
            while (*b == '-' || *b == '_' || *b == '.' || *b == ' ')
                b++;
        }
        if (fold(*a) != fold(*b))
            return false;
        if (!*a)
            return true;
        a++, b++;
    }
}

static bool name_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && fold(hay[i]) == fold(needle[i]))
            i++;
        if (i == n)
            return true;
    }
    return n == 0;
}

/* Types that are not in sgp32_asn1_named_types (they are opaque PKIX objects) but can be asked for. */
static const sgp32_asn1_type *const extra_types[] = {
    &sgp32_type_certificate,
    &sgp32_type_certificate_list,
    &sgp32_type_subject_public_key_info,
};

static const sgp32_asn1_type *type_at(size_t i)
{
    return i < sgp32_asn1_named_type_count ? sgp32_asn1_named_types[i]
                                           : extra_types[i - sgp32_asn1_named_type_count];
}

static size_t type_total(void)
{
    return sgp32_asn1_named_type_count + SGP32_ARRAY_LEN(extra_types);
}

/* Exact name, then ignoring case, then ignoring case and punctuation; "SGP32-" + name first. */
static const sgp32_asn1_type *find_type(const char *name, bool prefer_sgp32)
{
    char prefixed[160];
    snprintf(prefixed, sizeof(prefixed), "SGP32-%s", name);
    for (int pass = 0; pass < 3; pass++)
        for (int variant = prefer_sgp32 ? 0 : 1; variant < 2; variant++)
            for (size_t i = 0; i < type_total(); i++) {
                const char *want = variant == 0 ? prefixed : name;
                const char *have = type_at(i)->name;
                if (pass == 0 ? strcmp(have, want) == 0 : name_eq(have, want, pass == 2))
                    return type_at(i);
            }
    return NULL;
}

static void tag_text(uint32_t tag, char out[12])
{
    snprintf(out, 12, "%02X", (unsigned)tag);
}

/* The tags an untagged CHOICE can start with, space-separated. */
static void choice_tags(const sgp32_asn1_type *type, char *out, size_t size, unsigned depth)
{
    for (size_t i = 0; i < type->field_count && depth < 8; i++) {
        const sgp32_asn1_field *f = &type->fields[i];
        if (!f->tag && f->type->kind == SGP32_ASN1_CHOICE) {
            choice_tags(f->type, out, size, depth + 1);
            continue;
        }
        char t[12];
        size_t used = strlen(out);
        tag_text(f->tag, t);
        snprintf(out + used, size - used, "%s%s", used ? " " : "", t);
    }
}

static bool tag_matches(const sgp32_asn1_type *type, uint32_t tag, unsigned depth)
{
    if (type->tag)
        return type->tag == tag;
    if (type->kind != SGP32_ASN1_CHOICE || depth > 8)
        return false;
    for (size_t i = 0; i < type->field_count; i++) {
        const sgp32_asn1_field *f = &type->fields[i];
        if (f->tag ? f->tag == tag : tag_matches(f->type, tag, depth + 1))
            return true;
    }
    return false;
}

static const char *kind_name(uint8_t kind)
{
    static const char *const names[] = {"?",
                                        "INTEGER",
                                        "BOOLEAN",
                                        "NULL",
                                        "OCTET STRING",
                                        "UTF8String",
                                        "OBJECT ID",
                                        "BIT STRING",
                                        "BIT STRING (named)",
                                        "ANY",
                                        "SEQUENCE (kept as bytes)",
                                        "SEQUENCE",
                                        "SEQUENCE OF",
                                        "CHOICE"};
    /* OPAQUE (a SEQUENCE kept as bytes) prints as SEQUENCE. */
    return kind < SGP32_ARRAY_LEN(names) ? names[kind] : "?";
}

static int list_types(void)
{
    printf("%-6s %-48s %s\n", "TAG", "TYPE", "KIND");
    for (size_t i = 0; i < type_total(); i++) {
        const sgp32_asn1_type *t = type_at(i);
        char tag[12] = "-", alts[512] = "";
        if (t->tag)
            tag_text(t->tag, tag);
        else if (t->kind == SGP32_ASN1_CHOICE)
            choice_tags(t, alts, sizeof(alts), 0);
        printf("%-6s %-48s %s%s%s\n", tag, t->name, kind_name(t->kind), alts[0] ? " of " : "", alts);
    }
    return EXIT_DECODED;
}

/* ------------------------------------------------------------- decoding */

typedef struct attempt {
    const sgp32_asn1_type *type;
    int rc;
    sgp32_asn1_diag diag;
    bool exact;        /* re-encodes to the input byte for byte: nothing was skipped */
    unsigned oddities; /* unnamed numbers and bits, control characters in text */
    bool pkix_shape;   /* a PKIX type and the bytes have its outline */
} attempt;

/*
 * How implausible a decoded value is as this type: a result code that is not one of the
 * type's named numbers, a bit without a name, text with control characters. Many small
 * SEQUENCEs share the tag 30; this tells IpaCapabilities {80 bits, 81 bits} from
 * ErrorResult {80 INTEGER, 81 INTEGER}.
 */
static unsigned oddities(const sgp32_asn1_type *type, const void *value, unsigned depth)
{
    const uint8_t *v = value;
    unsigned n = 0;
    if (depth > SGP32_ASN1_MAX_DEPTH + 8)
        return 0;
    switch ((sgp32_asn1_kind)type->kind) {
    case SGP32_ASN1_INTEGER:
        if (type->name_count) {
            int64_t x;
            memcpy(&x, v, sizeof(x));
            n = 1;
            for (size_t i = 0; i < type->name_count; i++)
                if (type->names[i].value == x)
                    n = 0;
        }
        return n;
    case SGP32_ASN1_NAMED_BITS: {
        uint32_t bits, named = 0;
        memcpy(&bits, v, sizeof(bits));
        for (size_t i = 0; i < type->name_count; i++)
            if (type->names[i].value >= 0 && type->names[i].value < 32)
                named |= UINT32_C(1) << type->names[i].value;
        return (bits & ~named) ? 1 : 0;
    }
    case SGP32_ASN1_UTF8_STRING: {
        sgp32_bytes b;
        memcpy(&b, v, sizeof(b));
        for (size_t i = 0; i < b.len; i++)
            if (b.data[i] < 0x20 || b.data[i] == 0x7F)
                return 1;
        return 0;
    }
    case SGP32_ASN1_SEQUENCE:
        for (size_t i = 0; i < type->field_count; i++) {
            const sgp32_asn1_field *f = &type->fields[i];
            if (f->present_offset == SGP32_ASN1_NO_OFFSET || v[f->present_offset])
                n += oddities(f->type, v + f->offset, depth + 1);
        }
        return n;
    case SGP32_ASN1_SEQUENCE_OF: {
        sgp32_asn1_list list;
        memcpy(&list, v, sizeof(list));
        for (size_t i = 0; list.items && i < list.count; i++)
            n += oddities(type->element, (const uint8_t *)list.items + i * type->element->size, depth + 1);
        return n;
    }
    case SGP32_ASN1_CHOICE: {
        int choice;
        memcpy(&choice, v + sizeof(sgp32_bytes), sizeof(choice));
        if (choice < 1 || choice > type->field_count)
            return 0;
        const sgp32_asn1_field *f = &type->fields[choice - 1];
        return oddities(f->type, v + f->offset, depth + 1);
    }
    default: return 0;
    }
}

static bool has_sgp32_twin(const sgp32_asn1_type *type)
{
    char twin[160];
    snprintf(twin, sizeof(twin), "SGP32-%s", type->name);
    for (size_t i = 0; i < sgp32_asn1_named_type_count; i++)
        if (strcmp(sgp32_asn1_named_types[i]->name, twin) == 0)
            return true;
    return false;
}

/*
 * Is the type defined by SGP32Definitions? The generator lists RSPDefinitions (SGP.22) first,
 * then SGP32Definitions, whose first type is AsnNull.
 */
static bool from_sgp32_module(const sgp32_asn1_type *type)
{
    static size_t first = SIZE_MAX;
    if (first == SIZE_MAX) {
        first = sgp32_asn1_named_type_count;
        for (size_t i = 0; i < sgp32_asn1_named_type_count; i++)
            if (sgp32_asn1_named_types[i] == &sgp32_type_asn_null)
                first = i;
    }
    for (size_t i = first; i < sgp32_asn1_named_type_count; i++)
        if (sgp32_asn1_named_types[i] == type)
            return true;
    return false;
}

/*
 * Is a a better reading than b? Nothing skipped; no unnamed result codes or bits; the
 * message itself rather than an envelope CHOICE; SGP32-X over X; SGP.32's own
 * definitions (CancelSessionRequestEsipa) over SGP.22's (CancelSessionRequestEs9).
 */
static bool better(const attempt *a, const attempt *b, uint32_t tag)
{
    if (a->exact != b->exact)
        return a->exact;
    if (a->pkix_shape != b->pkix_shape)
        return a->pkix_shape;
    if (a->oddities != b->oddities)
        return a->oddities < b->oddities;
    bool a_direct = a->type->tag == tag, b_direct = b->type->tag == tag;
    if (a_direct != b_direct)
        return a_direct;
    bool a_twin = has_sgp32_twin(a->type), b_twin = has_sgp32_twin(b->type);
    if (a_twin != b_twin)
        return b_twin;
    return from_sgp32_module(a->type) && !from_sgp32_module(b->type);
}

/*
 * The PKIX object these bytes look like, if any: a Certificate or CertificateList is
 * 30 { 30 tbs, 30 { 06 algorithm ... }, 03 signature } (a certificate's tbs starts with its
 * [0] version), a SubjectPublicKeyInfo 30 { 30 { 06 algorithm ... }, 03 key }. Such bytes
 * decode "exactly" as many small schema SEQUENCEs; this tells them apart.
 */
static const sgp32_asn1_type *pkix_shape(sgp32_bytes der)
{
    sgp32_asn1_tlv outer, item[4], inner;
    sgp32_asn1_reader r;
    size_t n = 0;
    if (sgp32_asn1_read_tlv(der.data, der.len, &outer, NULL) || outer.tag != 0x30)
        return NULL;
    sgp32_asn1_reader_init(&r, outer.value, 0);
    while (n < 4 && sgp32_asn1_reader_next(&r, &item[n]) == SGP32_OK)
        n++;
    if ((n != 2 && n != 3) || !sgp32_asn1_reader_done(&r) || item[n - 1].tag != 0x03 ||
        item[n - 2].tag != 0x30 ||
        sgp32_asn1_read_tlv(item[n - 2].value.data, item[n - 2].value.len, &inner, NULL) || inner.tag != 0x06)
        return NULL;
    if (n == 2)
        return &sgp32_type_subject_public_key_info;
    if (item[0].tag != 0x30)
        return NULL;
    bool versioned = sgp32_asn1_read_tlv(item[0].value.data, item[0].value.len, &inner, NULL) == SGP32_OK &&
                     inner.tag == 0xA0;
    return versioned ? &sgp32_type_certificate : &sgp32_type_certificate_list;
}

static attempt try_type(const sgp32_asn1_type *type, sgp32_bytes der)
{
    attempt a = {type, SGP32_OK, {0, ""}, false, 0, false};
    sgp32_arena arena;
    sgp32_arena_init(&arena, ARENA_CAP);
    void *value = sgp32_arena_alloc(&arena, type->size);
    if (!value) {
        a.rc = SGP32_ERR_NO_MEMORY;
    } else {
        a.rc = sgp32_asn1_decode_diag(type, der.data, der.len, &arena, value, &a.diag);
        if (a.rc == SGP32_OK) {
            sgp32_buf re;
            sgp32_buf_init(&re, der.len);
            a.exact = sgp32_asn1_encode(type, value, &re) == SGP32_OK && re.len == der.len &&
                      memcmp(re.data, der.data, der.len) == 0;
            sgp32_buf_free(&re);
            a.oddities = oddities(type, value, 0);
            a.pkix_shape = type->kind == SGP32_ASN1_OPAQUE && pkix_shape(der) == type;
        }
    }
    sgp32_arena_free(&arena);
    return a;
}

static sgp32_asn1_print_options print_options(const cli *c, const char *label, unsigned indent)
{
    sgp32_asn1_print_options o = {0};
    o.label = label;
    o.indent = indent;
    o.full_hex = c->full;
    o.no_domain = c->raw;
    return o;
}

static void print_tree(cli *c, sgp32_bytes der, unsigned indent)
{
    sgp32_asn1_print_options o = print_options(c, NULL, indent);
    (void)sgp32_asn1_print_tlv_tree(der.data, der.len, &o, &c->out);
    flush_out(c);
}

static int print_decoded(cli *c, const sgp32_asn1_type *type, sgp32_bytes der, const char *label,
                         unsigned indent)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, ARENA_CAP);
    void *value = sgp32_arena_alloc(&arena, type->size);
    int rc = value ? sgp32_asn1_decode(type, der.data, der.len, &arena, value) : SGP32_ERR_NO_MEMORY;
    if (rc == SGP32_OK) {
        sgp32_asn1_print_options o = print_options(c, label, indent);
        rc = sgp32_asn1_print_ex(type, value, &o, &c->out);
        flush_out(c);
        if (rc == SGP32_ERR_CAPACITY)
            rc = SGP32_OK; /* the text says it was cut */
    }
    sgp32_arena_free(&arena);
    return rc;
}

/* "EuiccPackageRequest.euiccPackageSigned.counterValue: asn1: integer out of range at byte 23" */
static void failure_text(const attempt *a, char *out, size_t size)
{
    snprintf(out, size, "%s%s%s at byte %zu", a->diag.path[0] ? a->diag.path : "",
             a->diag.path[0] ? ": " : "", sgp32_err_str(a->rc), a->diag.offset);
}

static void failure_hints(int rc)
{
    if (rc == SGP32_ERR_ASN1_INDEFINITE)
        hint("indefinite lengths are BER; SGP.32 and SGP.22 messages are DER");
    else if (rc == SGP32_ERR_ASN1_TRAILING)
        hint("the input holds more than one TLV; pass one message at a time");
}

/* Furthest first; on a tie a directly tagged type first (an envelope CHOICE says less). */
static bool failed_later(const attempt *a, const attempt *b, uint32_t tag)
{
    if (a->diag.offset != b->diag.offset)
        return a->diag.offset > b->diag.offset;
    return a->type->tag == tag && b->type->tag != tag;
}

/*
 * Decode der (forced type, or every type whose tag matches) and print the best reading.
 * label names the value (a JSON field); indent shifts everything (JSON bodies).
 */
static int inspect(cli *c, sgp32_bytes der, const char *label, const sgp32_asn1_type *forced,
                   const char *source, unsigned indent)
{
    char line[1536];
    char name[256];
    if (label)
        snprintf(name, sizeof(name), "%s", label);
    else
        snprintf(name, sizeof(name), "the input (%zu bytes%s%s)", der.len, source ? " from " : "",
                 source ? source : "");
    if (der.len == 0) {
        error("%s is empty: nothing to decode", name);
        return EXIT_USAGE;
    }
    sgp32_asn1_tlv first;
    size_t used = 0;
    int rc = sgp32_asn1_read_tlv(der.data, der.len, &first, &used);
    if (rc) {
        snprintf(line, sizeof(line), "%s%s%zu bytes%s%s: not a DER TLV; structure:", label ? label : "",
                 label ? ": " : "", der.len, source ? " from " : "", source ? source : "");
        comment(c, line);
        print_tree(c, der, indent);
        error("%s is not DER: %s at byte 0", name, sgp32_err_str(rc));
        failure_hints(rc);
        return EXIT_NOT_DECODED;
    }

    /* Try the candidates; the losers that decode too are listed. */
    attempt best_ok = {NULL, 0, {0, ""}, false, 0, false}, failed[MAX_FAILED];
    size_t n_failed = 0;
    struct {
        const sgp32_asn1_type *type;
        bool exact;
    } others[MAX_DECODED];
    size_t tried = 0, n_others = 0;
    const sgp32_asn1_type *pkix = forced ? NULL : pkix_shape(der);
    for (size_t i = 0; i < type_total(); i++) {
        const sgp32_asn1_type *t = type_at(i);
        /* The named types with this tag, and the PKIX type whose outline the bytes have. */
        bool candidate = forced
                             ? t == forced
                             : t == pkix || (i < sgp32_asn1_named_type_count && tag_matches(t, first.tag, 0));
        if (!candidate)
            continue;
        tried++;
        attempt a = try_type(t, der);
        if (a.rc == SGP32_OK) {
            attempt loser = a;
            if (!best_ok.type || better(&a, &best_ok, first.tag)) {
                loser = best_ok;
                best_ok = a;
            }
            if (loser.type && n_others < MAX_DECODED) {
                others[n_others].type = loser.type;
                others[n_others++].exact = loser.exact;
            }
        } else {
            /* Keep the failures sorted, furthest first. */
            size_t at = n_failed < MAX_FAILED ? n_failed++ : MAX_FAILED;
            while (at > 0 && failed_later(&a, &failed[at - 1], first.tag)) {
                if (at < MAX_FAILED)
                    failed[at] = failed[at - 1];
                at--;
            }
            if (at < MAX_FAILED)
                failed[at] = a;
        }
    }
    /* Readings that skipped components are listed only when the best one did too. */
    char also[1024] = "";
    size_t listed = 0, more = 0;
    for (size_t i = 0; i < n_others; i++) {
        if (best_ok.exact && !others[i].exact)
            continue;
        if (listed == MAX_ALSO) {
            more++;
            continue;
        }
        size_t n = strlen(also);
        snprintf(also + n, sizeof(also) - n, "%s%s", listed++ ? ", " : "", others[i].type->name);
    }
    if (more) {
        size_t n = strlen(also);
        snprintf(also + n, sizeof(also) - n, " and %zu more", more);
    }

    char tag[12];
    tag_text(first.tag, tag);
    if (best_ok.type) {
        snprintf(line, sizeof(line), "%s%s%s (tag %s, %zu bytes%s%s%s)", label ? label : "",
                 label ? ": " : "", best_ok.type->name, tag, der.len, source ? ", " : "",
                 source ? source : "",
                 forced && forced == c->forced ? ", --type"
                 : best_ok.exact               ? ""
                                               : ", some components skipped as unknown extensions");
        comment(c, line);
        if (also[0]) {
            snprintf(line, sizeof(line), "also decodes as: %s (choose with --type)", also);
            comment(c, line);
        }
        rc = print_decoded(c, best_ok.type, der, label, indent);
        if (rc) {
            error("printing failed: %s", sgp32_err_str(rc));
            return EXIT_NOT_DECODED;
        }
        if (c->tlv || best_ok.type->kind == SGP32_ASN1_OPAQUE) {
            comment(c, "TLV structure:");
            print_tree(c, der, indent);
        }
        return EXIT_DECODED;
    }

    snprintf(line, sizeof(line),
             "%s%snot decoded (tag %s, %zu bytes%s%s); TLV structure:", label ? label : "", label ? ": " : "",
             tag, der.len, source ? ", " : "", source ? source : "");
    comment(c, line);
    print_tree(c, der, indent);
    char why[512];
    if (forced) {
        failure_text(&failed[0], why, sizeof(why));
        error("%s is not a valid %s: %s", name, forced->name, why);
        failure_hints(failed[0].rc);
        attempt other = {NULL, 0, {0, ""}, false, 0, false};
        for (size_t i = 0; i < sgp32_asn1_named_type_count; i++) {
            const sgp32_asn1_type *t = sgp32_asn1_named_types[i];
            if (t == forced || !tag_matches(t, first.tag, 0))
                continue;
            attempt a = try_type(t, der);
            if (a.rc == SGP32_OK && (!other.type || better(&a, &other, first.tag)))
                other = a;
        }
        if (other.type)
            hint("it decodes as %s; leave out --type to detect the type", other.type->name);
    } else if (!tried) {
        error("%s: no schema type has tag %s", name, tag);
        hint("'sgp32-asn1 --list-types' lists the types and their tags; --type NAME forces one");
    } else {
        failure_text(&failed[0], why, sizeof(why));
        error("%s: none of the %zu types with tag %s decodes it; closest: %s", name, tried, tag, why);
        for (size_t i = 1; i < n_failed; i++) {
            failure_text(&failed[i], why, sizeof(why));
            fprintf(stderr, "  also tried: %s\n", why);
        }
        failure_hints(failed[0].rc);
    }
    return EXIT_NOT_DECODED;
}

/* ------------------------------------------------------------ text input */

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = fold(ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

/* Hex with separators; *bad is the position of the first character that is neither. */
static int decode_hex(const char *s, size_t n, sgp32_buf *out, size_t *bad)
{
    size_t digits = 0;
    if (n >= 2 && s[0] == '0' && fold(s[1]) == 'x')
        s += 2, n -= 2, *bad = 2;
    else
        *bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (hex_value(s[i]) >= 0)
            digits++;
        else if (!is_space(s[i]) && s[i] != ':') {
            *bad += i;
            return SGP32_ERR_BAD_TEXT;
        }
    }
    *bad = SIZE_MAX;
    if (digits % 2)
        return SGP32_ERR_BAD_TEXT;
    return sgp32_hex_decode(s, n, out);
}

/* Base64 as found in JSON: quotes, \/ and \n escapes, white space, URL alphabet, no padding. */
static int decode_base64(const char *s, size_t n, sgp32_buf *out, size_t *bad)
{
    sgp32_buf clean;
    sgp32_buf_init(&clean, n + 4);
    int rc = SGP32_OK;
    size_t i = 0, end = n, pad = 0;
    *bad = SIZE_MAX;
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"')
        i = 1, end = n - 1;
    for (; i < end && rc == SGP32_OK; i++) {
        char ch = s[i];
        if (ch == '\\' && i + 1 < end && (s[i + 1] == '/' || s[i + 1] == 'n' || s[i + 1] == 'r')) {
            if (s[++i] == '/')
                rc = sgp32_buf_append_byte(&clean, '/');
            continue;
        }
        if (is_space(ch))
            continue;
        if (ch == '-')
            ch = '+';
        else if (ch == '_')
            ch = '/';
        bool b64 = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                   ch == '+' || ch == '/';
        if (ch == '=' ? 0 : pad) { /* data after padding */
            *bad = i;
            rc = SGP32_ERR_BAD_TEXT;
        } else if (b64 || ch == '=') {
            pad += ch == '=';
            rc = sgp32_buf_append_byte(&clean, (uint8_t)ch);
        } else {
            *bad = i;
            rc = SGP32_ERR_BAD_TEXT;
        }
    }
    while (rc == SGP32_OK && clean.len % 4)
        rc = sgp32_buf_append_byte(&clean, '=');
    if (rc == SGP32_OK)
        rc = clean.len ? sgp32_base64_decode((const char *)clean.data, clean.len, out) : SGP32_ERR_BAD_TEXT;
    sgp32_buf_free(&clean);
    return rc;
}

static bool is_one_tlv(sgp32_bytes b)
{
    sgp32_asn1_tlv tlv;
    size_t used;
    return b.len >= 2 && sgp32_asn1_read_tlv(b.data, b.len, &tlv, &used) == SGP32_OK && used == b.len;
}

static void describe_bad_char(const char *s, size_t n, size_t pos, const char *otherwise, char *out,
                              size_t size)
{
    if (pos >= n) {
        snprintf(out, size, "%s", otherwise);
        return;
    }
    unsigned char ch = (unsigned char)s[pos];
    if (ch >= 0x20 && ch < 0x7F)
        snprintf(out, size, "'%c' at position %zu", ch, pos + 1);
    else
        snprintf(out, size, "byte 0x%02X at position %zu", ch, pos + 1);
}

/* ------------------------------------------------------------------ JSON */

/* JSON bodies are parsed by jansson; here we only walk them and decode the base64 DER values. */
typedef struct json {
    cli *c;
    int status; /* worst exit status so far */
    size_t values;
} json;

static void print_json_text(cli *c, const char *path, sgp32_bytes text, unsigned indent)
{
    sgp32_asn1_print_options o = print_options(c, path, indent);
    (void)sgp32_asn1_print_ex(&sgp32_type_utf8_string, &text, &o, &c->out);
    flush_out(c);
}

/* Field names that are raw bytes in base64, not DER. */
static bool raw_bytes_field(const char *key)
{
    return name_eq(key, "euiccChallenge", false) || name_eq(key, "serverChallenge", false);
}

/* Field names whose DER is not one of the named types (or names a different one). */
static const sgp32_asn1_type *json_field_type(const char *key, bool *generic)
{
    static const struct {
        const char *key;
        const sgp32_asn1_type *type; /* NULL: show the TLV structure */
    } aliases[] = {
        {"profileMetadata", &sgp32_type_sgp32_store_metadata_request},
        {"serverCertificate", &sgp32_type_certificate},
        {"smdpCertificate", &sgp32_type_certificate},
        {"eumCertificate", &sgp32_type_certificate},
        {"euiccCertificate", &sgp32_type_certificate},
        {"eimCertificate", &sgp32_type_certificate},
        {"serverSignature1", NULL},
        {"smdpSignature2", NULL},
        {"euiccSignature1", NULL},
        {"euiccSignature2", NULL},
        {"euiccCiPKIdToBeUsed", NULL},
        {"euiccCiPKIdentifierToBeUsed", NULL},
    };
    *generic = false;
    for (size_t i = 0; i < SGP32_ARRAY_LEN(aliases); i++)
        if (name_eq(key, aliases[i].key, false)) {
            *generic = aliases[i].type == NULL;
            return aliases[i].type;
        }
    return find_type(key, true);
}

static void json_string_value_print(json *j, const char *path, const char *key, sgp32_bytes text,
                                    unsigned indent)
{
    cli *c = j->c;
    sgp32_buf der;
    size_t bad;
    sgp32_buf_init(&der, text.len);
    j->values++;
    int rc = decode_base64((const char *)text.data, text.len, &der, &bad);
    if (rc == SGP32_OK && raw_bytes_field(key)) {
        sgp32_asn1_print_options o = print_options(c, path, indent);
        sgp32_bytes b = sgp32_buf_bytes(&der);
        (void)sgp32_asn1_print_ex(&sgp32_type_octet_string, &b, &o, &c->out);
        flush_out(c);
    } else if (rc == SGP32_OK && is_one_tlv(sgp32_buf_bytes(&der))) {
        bool generic;
        const sgp32_asn1_type *type = json_field_type(key, &generic);
        int status;
        if (generic) {
            char line[512];
            snprintf(line, sizeof(line), "%s: %zu bytes of base64 DER:", path, der.len);
            comment(c, line);
            print_tree(c, sgp32_buf_bytes(&der), indent);
            status = EXIT_DECODED;
        } else {
            /* The field name picks the type when it names one that decodes; else detect. */
            if (type && try_type(type, sgp32_buf_bytes(&der)).rc != SGP32_OK)
                type = NULL;
            status = inspect(c, sgp32_buf_bytes(&der), path, type, "base64", indent);
        }
        if (status > j->status)
            j->status = status;
    } else {
        print_json_text(c, path, text, indent);
    }
    sgp32_buf_free(&der);
}

static void json_value(json *j, const json_t *v, char *path, size_t path_len, size_t path_size,
                       const char *key)
{
    if (json_is_object(v)) {
        const char *name;
        json_t *member;
        json_object_foreach((json_t *)v, name, member)
        {
            snprintf(path + path_len, path_size - path_len, "%s%s", path_len ? "." : "", name);
            json_value(j, member, path, strlen(path), path_size, name);
            path[path_len] = '\0';
        }
    } else if (json_is_array(v)) {
        size_t index;
        json_t *item;
        json_array_foreach(v, index, item)
        {
            snprintf(path + path_len, path_size - path_len, "[%zu]", index);
            json_value(j, item, path, strlen(path), path_size, key);
            path[path_len] = '\0';
        }
    } else if (json_is_string(v)) {
        sgp32_bytes text = {(const uint8_t *)json_string_value(v), json_string_length(v)};
        json_string_value_print(j, path_len ? path : "value", key ? key : "", text, 0);
    } else {
        char *dump = json_dumps(v, JSON_ENCODE_ANY);
        flush_out(j->c);
        printf("%s: %s\n", path_len ? path : "value", dump ? dump : "?");
        free(dump);
    }
}

static int inspect_json(cli *c, const char *s, size_t n)
{
    json_error_t err;
    json_t *root = json_loadb(s, n, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        error("the input looks like JSON but is not: %s (line %d, column %d)", err.text, err.line,
              err.column);
        return EXIT_USAGE;
    }
    json j = {c, EXIT_DECODED, 0};
    char path[512] = "";
    json_value(&j, root, path, 0, sizeof(path), NULL);
    json_decref(root);
    return j.status;
}

/* ------------------------------------------------------------- the input */

static bool starts_with(const uint8_t *d, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(d, prefix, k) == 0;
}

/* An HTTP message dump: skip to the body. */
static sgp32_bytes http_body(sgp32_bytes in, bool *was_http)
{
    static const char *const starts[] = {"POST ", "GET ", "PUT ", "HTTP/"};
    *was_http = false;
    for (size_t i = 0; i < SGP32_ARRAY_LEN(starts); i++)
        if (starts_with(in.data, in.len, starts[i]))
            *was_http = true;
    if (!*was_http)
        return in;
    for (size_t i = 0; i + 1 < in.len; i++) {
        if (in.data[i] == '\n' && in.data[i + 1] == '\n')
            return (sgp32_bytes){in.data + i + 2, in.len - i - 2};
        if (i + 3 < in.len && memcmp(in.data + i, "\r\n\r\n", 4) == 0)
            return (sgp32_bytes){in.data + i + 4, in.len - i - 4};
    }
    return (sgp32_bytes){in.data + in.len, 0};
}

static bool looks_like_text(sgp32_bytes b)
{
    for (size_t i = 0; i < b.len; i++)
        if ((b.data[i] < 0x20 && !is_space((char)b.data[i])) || b.data[i] == 0x7F)
            return false;
    return true;
}

static int inspect_input(cli *c, sgp32_bytes in, const char *origin)
{
    bool http;
    in = http_body(in, &http);
    if (http) {
        char line[128];
        snprintf(line, sizeof(line), "HTTP message: the body is %zu bytes", in.len);
        comment(c, line);
        if (in.len == 0) {
            hint("the HTTP message has no body (a 204 answer, or the headers only)");
            return EXIT_DECODED;
        }
    }
    if (c->format == FORMAT_BINARY || (c->format == FORMAT_AUTO && !looks_like_text(in)))
        return inspect(c, in, NULL, c->forced, "DER", 0);

    /* Text: trim it. */
    const char *s = (const char *)in.data;
    size_t n = in.len;
    while (n && is_space(*s))
        s++, n--;
    while (n && is_space(s[n - 1]))
        n--;
    if (n == 0) {
        error("%s is empty: give the message as hex or base64 text, or --file PATH", origin);
        return EXIT_USAGE;
    }
    if (c->format == FORMAT_AUTO && (s[0] == '{' || s[0] == '['))
        return inspect_json(c, s, n);

    sgp32_buf hex, b64;
    size_t hex_bad = SIZE_MAX, b64_bad = SIZE_MAX;
    int hex_rc = SGP32_ERR_BAD_TEXT, b64_rc = SGP32_ERR_BAD_TEXT, status;
    sgp32_buf_init(&hex, n / 2 + 1);
    sgp32_buf_init(&b64, n);
    if (c->format != FORMAT_BASE64)
        hex_rc = decode_hex(s, n, &hex, &hex_bad);
    if (c->format != FORMAT_HEX)
        b64_rc = decode_base64(s, n, &b64, &b64_bad);
    /* Hex wins when both read (DER in base64 rarely uses only hex digits) unless only base64 gives DER. */
    bool use_hex = hex_rc == SGP32_OK && (b64_rc != SGP32_OK || is_one_tlv(sgp32_buf_bytes(&hex)) ||
                                          !is_one_tlv(sgp32_buf_bytes(&b64)));
    if (use_hex) {
        status = inspect(c, sgp32_buf_bytes(&hex), NULL, c->forced, "hex", 0);
    } else if (b64_rc == SGP32_OK) {
        status = inspect(c, sgp32_buf_bytes(&b64), NULL, c->forced, "base64", 0);
    } else {
        char why[160];
        if (c->format == FORMAT_HEX)
            describe_bad_char(s, n, hex_bad, "an odd number of hex digits", why, sizeof(why));
        else if (c->format == FORMAT_BASE64)
            describe_bad_char(s, n, b64_bad, "a length that is not whole base64 groups", why, sizeof(why));
        else
            describe_bad_char(s, n, b64_bad != SIZE_MAX ? b64_bad : hex_bad,
                              "an odd number of hex digits, and not whole base64 groups", why, sizeof(why));
        error(c->format == FORMAT_HEX      ? "%s is not hex: %s"
              : c->format == FORMAT_BASE64 ? "%s is not base64: %s"
                                           : "%s is neither hex nor base64: %s",
              origin, why);
        hint("give DER bytes with --file PATH; see --help for the accepted formats");
        status = EXIT_USAGE;
    }
    sgp32_buf_free(&hex);
    sgp32_buf_free(&b64);
    return status;
}

static int read_stream(FILE *f, sgp32_buf *buf)
{
    uint8_t chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (sgp32_buf_append(buf, chunk, n) != SGP32_OK)
            return SGP32_ERR_CAPACITY;
    return ferror(f) ? SGP32_ERR_IO : SGP32_OK;
}

static int need_arg(int argc, char **argv, int *i, const char **value)
{
    const char *arg = argv[*i], *eq = strchr(arg, '=');
    if (eq && strncmp(arg, "--", 2) == 0) {
        *value = eq + 1;
        return 0;
    }
    if (*i + 1 >= argc) {
        error("%s needs a value (see --help)", arg);
        return -1;
    }
    *value = argv[++*i];
    return 0;
}

static bool option_is(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || (arg[n] == '=' && name[1] == '-'));
}

static int run(int argc, char **argv, cli *c)
{
    const char *file = NULL, *type_name = NULL;
    sgp32_buf text; /* positional arguments, joined */
    sgp32_buf_init(&text, MAX_INPUT);
    bool positional = false, stdin_dash = false, options_done = false;
    int status = EXIT_USAGE;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!options_done && arg[0] == '-' && arg[1]) {
            if (strcmp(arg, "--") == 0) {
                options_done = true;
            } else if (option_is(arg, "-h") || option_is(arg, "--help")) {
                fputs(usage_text, stdout);
                status = EXIT_DECODED;
                goto done;
            } else if (option_is(arg, "-l") || option_is(arg, "--list-types")) {
                status = list_types();
                goto done;
            } else if (option_is(arg, "-t") || option_is(arg, "--type")) {
                if (need_arg(argc, argv, &i, &type_name))
                    goto done;
            } else if (option_is(arg, "-f") || option_is(arg, "--file")) {
                if (need_arg(argc, argv, &i, &file))
                    goto done;
            } else if (option_is(arg, "--hex")) {
                c->format = FORMAT_HEX;
            } else if (option_is(arg, "--base64")) {
                c->format = FORMAT_BASE64;
            } else if (option_is(arg, "--binary")) {
                c->format = FORMAT_BINARY;
            } else if (option_is(arg, "--full")) {
                c->full = true;
            } else if (option_is(arg, "--raw")) {
                c->raw = true;
            } else if (option_is(arg, "--tlv")) {
                c->tlv = true;
            } else if (option_is(arg, "-q") || option_is(arg, "--quiet")) {
                c->quiet = true;
            } else {
                error("unknown option %s (see --help)", arg);
                goto done;
            }
            continue;
        }
        if (strcmp(arg, "-") == 0) {
            stdin_dash = true;
            continue;
        }
        if ((positional && sgp32_buf_append_byte(&text, ' ')) || sgp32_buf_append(&text, arg, strlen(arg))) {
            error("the input is larger than 16 MiB");
            goto done;
        }
        positional = true;
    }

    if (type_name) {
        c->forced = find_type(type_name, false);
        if (!c->forced) {
            error("unknown type '%s'", type_name);
            size_t shown = 0;
            for (size_t i = 0; i < type_total() && shown < MAX_SUGGESTIONS; i++)
                if (name_contains(type_at(i)->name, type_name))
                    fprintf(stderr, "%s    %s\n", shown++ ? "" : "  types with that in their name:\n",
                            type_at(i)->name);
            hint("'sgp32-asn1 --list-types' lists every type");
            goto done;
        }
    }
    if ((file != NULL) + positional + stdin_dash > 1) {
        error("give one input: INPUT text, --file PATH or '-' for standard input");
        goto done;
    }
    if (file) {
        FILE *f = fopen(file, "rb");
        if (!f) {
            error("cannot open %s: %s", file, strerror(errno));
            goto done;
        }
        int rc = read_stream(f, &text);
        fclose(f);
        if (rc) {
            error(rc == SGP32_ERR_CAPACITY ? "%s is larger than 16 MiB" : "cannot read %s", file);
            goto done;
        }
        status = inspect_input(c, sgp32_buf_bytes(&text), file);
    } else if (positional) {
        status = inspect_input(c, sgp32_buf_bytes(&text), "the argument");
    } else {
        if (!stdin_dash && isatty(STDIN_FILENO)) {
            error("no input: give the message as an argument, with --file PATH, or on standard input");
            fprintf(stderr, "Try '%s --help'.\n", prog);
            goto done;
        }
        if (read_stream(stdin, &text)) {
            error("cannot read standard input (or it is larger than 16 MiB)");
            goto done;
        }
        status = inspect_input(c, sgp32_buf_bytes(&text), "standard input");
    }
done:
    sgp32_buf_free(&text);
    return status;
}

int main(int argc, char **argv)
{
    cli c;
    memset(&c, 0, sizeof(c));
    sgp32_buf_init(&c.out, MAX_OUTPUT);
    int status = run(argc, argv, &c);
    flush_out(&c);
    sgp32_buf_free(&c.out);
    if (fflush(stdout) != 0 && status == EXIT_DECODED)
        status = EXIT_USAGE;
    return status;
}

/*
 * Writes the seed corpora fuzz/corpus/<target>/ (see fuzz/README.md):
 *  - DER samples of every type a target covers: every CHOICE alternative, with and without the
 *    OPTIONAL components (tests/support/asn1_sample.c), duplicates dropped;
 *  - hand-made hostile inputs: the indefinite length that hangs an existing open IPA, truncated
 *    TLVs, self-referencing lengths, deep nesting, 4- and 5-byte lengths, bad tags, trailing bytes,
 *    unknown extensions;
 *  - for fuzz_text: hex, base64, EIDs and OIDs, good and bad.
 * The multi-type targets get the same selector prefix their fuzz function reads.
 *
 * Usage: fuzz_make_seeds <corpus dir>. Files already in the target directories are removed first.
 * Built on demand only: cmake --build build-fuzz --target fuzz_seeds
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "asn1_sample.h"
#include "fuzz_common.h"
#include "sgp32/asn1_types.h"
#include "sgp32/text.h"

typedef struct blob {
    uint8_t *data;
    size_t len;
} blob;

typedef struct corpus {
    char dir[1024];
    blob *seen;
    size_t count, cap, bytes;
} corpus;

static size_t total_files, total_bytes;

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "make_seeds: %s: %s\n", what, detail);
    exit(1);
}

static void corpus_open(corpus *c, const char *root, const char *target)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->dir, sizeof(c->dir), "%s/%s", root, target);
    if (mkdir(root, 0777) && errno != EEXIST)
        die(root, strerror(errno));
    if (mkdir(c->dir, 0777) && errno != EEXIST)
        die(c->dir, strerror(errno));
    DIR *d = opendir(c->dir);
    if (!d)
        die(c->dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[2048];
        snprintf(path, sizeof(path), "%s/%s", c->dir, e->d_name);
        if (unlink(path))
            die(path, strerror(errno));
    }
    closedir(d);
}

static void corpus_close(corpus *c)
{
    printf("  %-24s %5zu files %8zu bytes\n", strrchr(c->dir, '/') + 1, c->count, c->bytes);
    total_files += c->count;
    total_bytes += c->bytes;
    for (size_t i = 0; i < c->count; i++)
        free(c->seen[i].data);
    free(c->seen);
}

/* One seed: prefix (selector bytes) then data; a duplicate of an earlier seed is dropped. */
static void put(corpus *c, const char *name, const uint8_t *prefix, size_t prefix_len, const uint8_t *data,
                size_t len)
{
    size_t n = prefix_len + len;
    uint8_t *b = malloc(n ? n : 1);
    if (!b)
        die("put", "out of memory");
    if (prefix_len)
        memcpy(b, prefix, prefix_len);
    if (len)
        memcpy(b + prefix_len, data, len);
    for (size_t i = 0; i < c->count; i++)
        if (c->seen[i].len == n && memcmp(c->seen[i].data, b, n) == 0) {
            free(b);
            return;
        }
    if (c->count == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->seen = realloc(c->seen, c->cap * sizeof(*c->seen));
        if (!c->seen)
            die("put", "out of memory");
    }
    c->seen[c->count++] = (blob){b, n};
    c->bytes += n;

    char path[2048];
    snprintf(path, sizeof(path), "%s/%s", c->dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n || fclose(f))
        die(path, "cannot write");
}

static void put_text(corpus *c, const char *name, const char *text)
{
    put(c, name, NULL, 0, (const uint8_t *)text, strlen(text));
}

/* The DER of sample variant v of type, appended to out. */
static void encode_sample(const sgp32_asn1_type *type, size_t variant, sgp32_buf *out)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, 1 << 22);
    void *value = sgp32_arena_alloc(&arena, type->size);
    int rc = value ? sample_build(type, variant, &arena, value) : SGP32_ERR_NO_MEMORY;
    if (rc == SGP32_OK)
        rc = sgp32_asn1_encode(type, value, out);
    sgp32_arena_free(&arena);
    if (rc)
        die(type->name, sgp32_err_str(rc));
}

/* "<Type>" or, for a CHOICE, "<Type>.<alternative>", then "-v<variant>.der". */
static void seed_name(char *name, size_t size, const sgp32_asn1_type *type, size_t variant)
{
    if (type->kind == SGP32_ASN1_CHOICE)
        snprintf(name, size, "%s.%s-v%zu.der", type->name,
                 type->fields[(variant / 2) % type->field_count].name, variant);
    else
        snprintf(name, size, "%s-v%zu.der", type->name, variant);
}

/* Every sample variant of type. */
static void put_samples(corpus *c, const sgp32_asn1_type *type, const uint8_t *prefix, size_t prefix_len,
                        size_t max_variants)
{
    size_t variants = sample_variant_count(type);
    if (max_variants && variants > max_variants)
        variants = max_variants;
    for (size_t v = 0; v < variants; v++) {
        sgp32_buf der;
        sgp32_buf_init(&der, 1 << 20);
        encode_sample(type, v, &der);
        char name[512];
        seed_name(name, sizeof(name), type, v);
        put(c, name, prefix, prefix_len, der.data, der.len);
        sgp32_buf_free(&der);
    }
}

/* ------------------------------------------------------------ hostile inputs */

typedef struct hostile {
    const char *name;
    const char *hex;
} hostile;

static const hostile hostile_inputs[] = {
    {"indefinite-length-hangs-open-ipa", "BF4F80020101000100 00"},
    {"indefinite-inner", "BF4F05 3080000000"},
    {"truncated-value", "BF4F03 0201"},
    {"truncated-header", "BF"},
    {"truncated-long-length", "BF4F82 01"},
    {"claims-to-contain-itself", "BF4F7F BF4F7F"},
    {"self-referencing-chain", "BF4F04 BF4F04 BF"},
    {"self-reference-in-sequence", "3006 3006 3006"},
    {"length-4-gib", "BF4F84FFFFFFFF"},
    {"length-4-byte-truncated", "BF4F8401000000 300100"},
    {"length-4-byte-leading-zero", "BF4F8400000003 020101"},
    {"length-2-byte-non-minimal", "BF4F82007F 00"},
    {"length-1-byte-non-minimal", "BF4F8103 020101"},
    {"length-5-byte", "BF4F850000000003 020101"},
    {"length-overflow", "30847FFFFFFF 00"},
    {"trailing-bytes", "BF4F00 00"},
    {"empty-integer-then-junk", "BF4F03 020001"},
    {"tag-leading-zero-septet", "1F800100"},
    {"tag-should-be-short", "1F1E00"},
    {"tag-five-bytes", "BFFFFFFF7F00"},
    {"tag-four-bytes", "BFFFFF7F00"},
    {"tag-zero", "0000"},
    {"empty-sequence", "3000"},
    {"lone-sequence-tag", "30"},
    {"primitive-sequence", "1003020101"},
    {"constructed-integer", "2203020101"},
    {"integer-non-minimal", "3004 02020001"},
    {"integer-nine-bytes", "300B 0209010000000000000000"},
    {"boolean-not-ff", "3003 010101"},
    {"bitstring-unused-bits-set", "3004 03020701"},
    {"bitstring-unused-9", "3004 03020900"},
    {"oid-leading-zero", "3004 06028001"},
    {"oid-unterminated", "3003 060181"},
    {"oid-huge-arc", "300C 060A81FFFFFFFFFFFFFFFF7F"},
    {"utf8-overlong", "3004 0C02C080"},
    {"utf8-surrogate", "3005 0C03EDA080"},
    /* Unknown extensions are skipped; re-encoding drops them (GetEimPackageRequest, IpaCapabilities). */
    {"extension-after-rplmn", "BF4F1A5A1089049032123451234512345678901235820362F2108901AA"},
    {"extension-in-ipa-capabilities", "300C80020264810207808502 0000"},
    {"extension-repeated-field",
     "BF4F245A1089049032123451234512345678901235 5A1089049032123451234512345678901235"},
    /* The eIM's no-package answer, wrapped in more layers than any message has. */
    {"get-eim-package-response-no-package", "BF4F03810101"},
    {"eim-acknowledgements", "BF5009BF5306800101800102"},
    {"empty-response", "BF500281 00"},
};

static size_t hex_to_bytes(const char *hex, uint8_t *out, size_t cap)
{
    sgp32_buf b;
    sgp32_buf_init_fixed(&b, out, cap);
    if (sgp32_hex_decode(hex, strlen(hex), &b) != SGP32_OK)
        die("bad hex in the hostile table", hex);
    return b.len;
}

/* Nested constructed TLVs: depth levels of tag around an empty innermost one (minimal lengths). */
static size_t nest(uint8_t *out, size_t cap, const uint8_t *tag, size_t tag_len, size_t depth)
{
    size_t len = 0; /* built from the inside out at the end of out */
    uint8_t *end = out + cap;
    for (size_t i = 0; i < depth; i++) {
        uint8_t hdr[8];
        size_t h = 0;
        memcpy(hdr, tag, tag_len);
        h = tag_len;
        if (len < 0x80) {
            hdr[h++] = (uint8_t)len;
        } else if (len < 0x100) {
            hdr[h++] = 0x81;
            hdr[h++] = (uint8_t)len;
        } else {
            hdr[h++] = 0x82;
            hdr[h++] = (uint8_t)(len >> 8);
            hdr[h++] = (uint8_t)len;
        }
        if (len + h > cap)
            die("nest", "too deep for the buffer");
        memcpy(end - len - h, hdr, h);
        len += h;
    }
    memmove(out, end - len, len);
    return len;
}

static void put_hostile(corpus *c, const uint8_t *prefix, size_t prefix_len)
{
    uint8_t buf[4096];
    char name[256];
    for (size_t i = 0; i < SGP32_ARRAY_LEN(hostile_inputs); i++) {
        size_t n = hex_to_bytes(hostile_inputs[i].hex, buf, sizeof(buf));
        snprintf(name, sizeof(name), "hostile-%s.der", hostile_inputs[i].name);
        put(c, name, prefix, prefix_len, buf, n);
    }
    static const struct {
        const char *name;
        uint8_t tag[2];
        size_t tag_len, depth;
    } deep[] = {
        {"nested-sequence-23", {0x30}, 1, 23},   {"nested-sequence-24", {0x30}, 1, 24},
        {"nested-sequence-25", {0x30}, 1, 25},   {"nested-sequence-200", {0x30}, 1, 200},
        {"nested-context-a0-60", {0xA0}, 1, 60}, {"nested-bf4f-40", {0xBF, 0x4F}, 2, 40},
        {"nested-bf51-30", {0xBF, 0x51}, 2, 30},
    };
    for (size_t i = 0; i < SGP32_ARRAY_LEN(deep); i++) {
        size_t n = nest(buf, sizeof(buf), deep[i].tag, deep[i].tag_len, deep[i].depth);
        snprintf(name, sizeof(name), "hostile-%s.der", deep[i].name);
        put(c, name, prefix, prefix_len, buf, n);
    }
    put(c, "hostile-empty.der", prefix, prefix_len, NULL, 0);
}

/* Inputs a fuzz target once failed on (the bug is fixed in lib/asn1): kept as seeds of every
 * target that covers their type, so the replay test guards the fix in every build. */
static const struct {
    const sgp32_asn1_type *type;
    const char *name;
    const char *hex;
} regressions[] = {
    /* profileClass DEFAULT operational, absent before profilePolicyRules: was decoded as test(0). */
    {&sgp32_type_store_metadata_request, "default-before-later-component",
     "BF25185A0A989444999999990971F1910253509202505299020640"},
    {&sgp32_type_sgp32_store_metadata_request, "default-before-later-component",
     "BF25185A0A989444999999990971F191025350920250529F7B01FF"},
    /* iccidPresent DEFAULT TRUE, absent before compactFinalResult: was decoded as FALSE. */
    {&sgp32_type_sgp32_retrieve_notifications_list_response, "default-before-later-component",
     "BF2B44A042A020A01680051D2E3F5061020500BF3A0100A206A0044F021D2E5F37051D2E3F5061A11EBF2F13800201"
     "3B810205A00C097071727374757677785F37051F30415263"},
};

/* The regressions whose type is in types, each behind its selector (prefix_len 0, 1 or 2 bytes). */
static void put_regressions(corpus *c, const sgp32_asn1_type *const *types, size_t count, size_t prefix_len)
{
    uint8_t buf[1024];
    char name[256];
    for (size_t r = 0; r < SGP32_ARRAY_LEN(regressions); r++)
        for (size_t i = 0; i < count; i++) {
            if (types[i] != regressions[r].type)
                continue;
            uint8_t prefix[2] = {(uint8_t)(prefix_len == 2 ? i >> 8 : i), (uint8_t)i};
            size_t n = hex_to_bytes(regressions[r].hex, buf, sizeof(buf));
            snprintf(name, sizeof(name), "regression-%s-%s.der", regressions[r].type->name,
                     regressions[r].name);
            put(c, name, prefix, prefix_len, buf, n);
        }
}

/* ------------------------------------------------------------ per target */

static size_t index_of(const sgp32_asn1_type *const *types, size_t count, const sgp32_asn1_type *type)
{
    for (size_t i = 0; i < count; i++)
        if (types[i] == type)
            return i;
    die("index_of", type->name);
    return 0;
}

static void single_type_target(const char *root, const char *target, const sgp32_asn1_type *type)
{
    corpus c;
    corpus_open(&c, root, target);
    put_samples(&c, type, NULL, 0, 0);
    put_hostile(&c, NULL, 0);
    corpus_close(&c);
}

static void each_type_target(const char *root, const char *target, const sgp32_asn1_type *const *types,
                             size_t count)
{
    corpus c;
    corpus_open(&c, root, target);
    for (size_t i = 0; i < count; i++)
        put_samples(&c, types[i], NULL, 0, 0);
    put_hostile(&c, NULL, 0);
    put_regressions(&c, types, count, 0);
    corpus_close(&c);
}

static void es10_target(const char *root)
{
    corpus c;
    corpus_open(&c, root, "fuzz_es10");
    for (size_t i = 0; i < sgp32_fuzz_es10_type_count; i++) {
        uint8_t pick = (uint8_t)i;
        put_samples(&c, sgp32_fuzz_es10_types[i], &pick, 1, 0);
    }
    uint8_t pick = (uint8_t)index_of(sgp32_fuzz_es10_types, sgp32_fuzz_es10_type_count,
                                     &sgp32_type_euicc_package_request);
    put_hostile(&c, &pick, 1);
    put_regressions(&c, sgp32_fuzz_es10_types, sgp32_fuzz_es10_type_count, 1);
    corpus_close(&c);
}

static void any_type_target(const char *root)
{
    corpus c;
    corpus_open(&c, root, "fuzz_any_type");
    /* Two variants per type (all OPTIONALs present, then absent); the other targets carry the rest. */
    for (size_t i = 0; i < sgp32_asn1_named_type_count; i++) {
        uint8_t pick[2] = {(uint8_t)(i >> 8), (uint8_t)i};
        put_samples(&c, sgp32_asn1_named_types[i], pick, 2, 2);
    }
    size_t i =
        index_of(sgp32_asn1_named_types, sgp32_asn1_named_type_count, &sgp32_type_get_eim_package_request);
    uint8_t pick[2] = {(uint8_t)(i >> 8), (uint8_t)i};
    put_hostile(&c, pick, 2);
    put_regressions(&c, sgp32_asn1_named_types, sgp32_asn1_named_type_count, 2);
    corpus_close(&c);
}

static void ber_reader_target(const char *root)
{
    corpus c;
    corpus_open(&c, root, "fuzz_ber_reader");
    static const sgp32_asn1_type *const types[] = {
        &sgp32_type_esipa_message_from_ipa_to_eim,
        &sgp32_type_esipa_message_from_eim_to_ipa,
        &sgp32_type_euicc_package_request,
        &sgp32_type_bound_profile_package,
        &sgp32_type_sgp32_euicc_info2,
        &sgp32_type_load_crl_request,
    };
    for (size_t i = 0; i < SGP32_ARRAY_LEN(types); i++)
        put_samples(&c, types[i], NULL, 0, 2);
    put_hostile(&c, NULL, 0);
    /* Primitive contents the reader's helpers parse. */
    static const hostile primitives[] = {
        {"integers", "3025 020100 02017F 02020080 0201FF 0202FF7F 02087FFFFFFFFFFFFFFF 02088000000000000000"},
        {"booleans", "3006 010100 0101FF"},
        {"named-bits", "3011 030100 03020780 0303000000 030301FFFE"},
        {"oids", "3016 0603883703 06082A8648CE3D040302 0605 2B0601 0401"},
        /* Regression: oid_to_text wrote this arc, oid_from_text refused it. */
        {"oid-64-bit-arc", "060B2A81FFFFFFFFFFFFFFFF7F"},
        {"utf8", "3012 0C0161 0C02C3A9 0C03E282AC 0C04F09F9880"},
    };
    uint8_t buf[512];
    char name[256];
    for (size_t i = 0; i < SGP32_ARRAY_LEN(primitives); i++) {
        size_t n = hex_to_bytes(primitives[i].hex, buf, sizeof(buf));
        snprintf(name, sizeof(name), "primitives-%s.der", primitives[i].name);
        put(&c, name, NULL, 0, buf, n);
    }
    corpus_close(&c);
}

static void text_target(const char *root)
{
    corpus c;
    corpus_open(&c, root, "fuzz_text");
    static const sgp32_asn1_type *const types[] = {
        &sgp32_type_get_eim_package_request,
        &sgp32_type_euicc_package_request,
        &sgp32_type_esipa_message_from_eim_to_ipa,
    };
    for (size_t i = 0; i < SGP32_ARRAY_LEN(types); i++) {
        sgp32_buf der;
        sgp32_buf_init(&der, 1 << 20);
        encode_sample(types[i], 0, &der);
        char *text = malloc(4 * der.len + 8), name[256];
        if (!text)
            die("text", "out of memory");
        sgp32_hex_encode(der.data, der.len, text);
        snprintf(name, sizeof(name), "hex-%s.txt", types[i]->name);
        put_text(&c, name, text);
        for (char *p = text; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
        snprintf(name, sizeof(name), "hex-lower-%s.txt", types[i]->name);
        put_text(&c, name, text);
        sgp32_base64_encode(der.data, der.len, text);
        snprintf(name, sizeof(name), "base64-%s.txt", types[i]->name);
        put_text(&c, name, text);
        free(text);
        sgp32_buf_free(&der);
    }
    static const hostile texts[] = {
        {"hex-separators.txt", "BF:4F 03\t81\r\n01 01\n"},
        {"hex-odd.txt", "BF4F0"},
        {"hex-split-byte.txt", "B F4F"},
        {"hex-bad-digit.txt", "BF4G"},
        {"base64-lines.txt", "v08D\ngQEB\r\nv1AJv1MGgAEBgAEC\n"},
        {"base64-one-pad.txt", "YWI="},
        {"base64-two-pad.txt", "YQ=="},
        {"base64-three-pad.txt", "Y==="},
        {"base64-pad-only.txt", "===="},
        {"base64-data-after-pad.txt", "YQ==YQ=="},
        {"base64-stray-bits.txt", "YR=="},
        {"base64-short-quantum.txt", "YWJ"},
        {"base64-url-alphabet.txt", "-_-_"},
        {"eid-valid.txt", "89049032123451234512345678901235"},
        {"eid-bad-check.txt", "89049032123451234512345678901234"},
        {"eid-check-99.txt", "89049032123451234512345678901299"},
        {"eid-short.txt", "8904903212345123451234567890123"},
        {"eid-letters.txt", "8904903212345123451234567890123A"},
        {"oid-smdp.txt", "2.999.10"},
        {"oid-ecdsa-sha256.txt", "1.2.840.10045.4.3.2"},
        {"oid-big-second-arc.txt", "2.18446744073709551535"},
        {"oid-max-arc.txt", "1.2.18446744073709551615"},
        {"oid-overflow.txt", "1.2.18446744073709551616"},
        {"oid-leading-zeros.txt", "1.02.0003"},
        {"oid-trailing-dot.txt", "1.2."},
        {"oid-one-arc.txt", "1"},
        {"oid-first-arc-3.txt", "3.1"},
        {"oid-second-arc-40.txt", "1.40"},
    };
    for (size_t i = 0; i < SGP32_ARRAY_LEN(texts); i++)
        put_text(&c, texts[i].name, texts[i].hex);
    corpus_close(&c);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
        return 2;
    }
    const char *root = argv[1];
    printf("make_seeds: writing %s\n", root);
    ber_reader_target(root);
    single_type_target(root, "fuzz_esipa_ipa_to_eim", &sgp32_type_esipa_message_from_ipa_to_eim);
    single_type_target(root, "fuzz_esipa_eim_to_ipa", &sgp32_type_esipa_message_from_eim_to_ipa);
    each_type_target(root, "fuzz_es9plus_asn1", sgp32_fuzz_es9plus_types, sgp32_fuzz_es9plus_type_count);
    es10_target(root);
    each_type_target(root, "fuzz_bpp", sgp32_fuzz_bpp_types, sgp32_fuzz_bpp_type_count);
    any_type_target(root);
    text_target(root);
    printf("make_seeds: %zu files, %zu bytes\n", total_files, total_bytes);
    return 0;
}

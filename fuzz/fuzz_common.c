/* The codec oracle shared by the libFuzzer targets and the seed replay test (fuzz/fuzz_common.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "sgp32/asn1_print.h"

const char *sgp32_fuzz_label;

_Noreturn void sgp32_fuzz_fail(const char *what, const char *type_name, const uint8_t *data, size_t size)
{
    if (sgp32_fuzz_label)
        fprintf(stderr, "\nsgp32 fuzz oracle: while running %s", sgp32_fuzz_label);
    fprintf(stderr, "\nsgp32 fuzz oracle: %s [%s], input of %zu bytes:\n", what, type_name ? type_name : "-",
            size);
    size_t shown = size < 512 ? size : 512;
    for (size_t i = 0; i < shown; i++)
        fprintf(stderr, "%02X%s", data[i], (i + 1) % 32 == 0 ? "\n" : "");
    fprintf(stderr, "%s\n", size > shown ? " ..." : "");
    abort();
}

/* The pretty-printer must cope with whatever the decoder left, a partial value included. */
static void check_print(const sgp32_asn1_type *type, const void *value, const uint8_t *data, size_t size)
{
    sgp32_buf text;
    sgp32_buf_init(&text, SGP32_FUZZ_PRINT_CAP);
    int rc = sgp32_asn1_print(type, value, &text);
    if (rc != SGP32_OK && rc != SGP32_ERR_CAPACITY)
        sgp32_fuzz_fail("the printer fails on a decoded value", type->name, data, size);
    if (!text.data || text.len >= text.alloc || text.data[text.len] != '\0')
        sgp32_fuzz_fail("the printed text is not NUL-terminated", type->name, data, size);
    sgp32_buf_free(&text);
}

static bool has_der_member(const sgp32_asn1_type *type)
{
    return type->kind == SGP32_ASN1_SEQUENCE || type->kind == SGP32_ASN1_CHOICE;
}

int sgp32_fuzz_codec(const sgp32_asn1_type *type, const uint8_t *data, size_t size)
{
    const char *name = type->name;
    sgp32_arena first_arena, second_arena;
    sgp32_arena_init(&first_arena, SGP32_FUZZ_ARENA_CAP);
    sgp32_arena_init(&second_arena, SGP32_FUZZ_ARENA_CAP);
    sgp32_buf first_der, second_der;
    sgp32_buf_init(&first_der, SGP32_FUZZ_OUTPUT_CAP);
    sgp32_buf_init(&second_der, SGP32_FUZZ_OUTPUT_CAP);
    void *first = sgp32_arena_alloc(&first_arena, type->size);
    void *second = sgp32_arena_alloc(&second_arena, type->size);
    if (!first || !second)
        sgp32_fuzz_fail("no memory for the value itself", name, data, size);

    sgp32_asn1_diag diag;
    int rc = sgp32_asn1_decode_diag(type, data, size, &first_arena, first, &diag);
    if (rc > 0)
        sgp32_fuzz_fail("decode returned a positive code", name, data, size);
    if (rc < 0) {
        if (diag.offset > size)
            sgp32_fuzz_fail("error offset lies past the input", name, data, size);
        if (!memchr(diag.path, '\0', sizeof(diag.path)))
            sgp32_fuzz_fail("error path is not terminated", name, data, size);
        check_print(type, first, data, size); /* partial */
        if (sgp32_asn1_decode(type, data, size, &second_arena, second) != rc)
            sgp32_fuzz_fail("decode and decode_diag disagree", name, data, size);
        goto out;
    }

    if (has_der_member(type)) {
        const sgp32_bytes *der = first;
        if (der->data != data || der->len != size)
            sgp32_fuzz_fail("the der member is not the whole input", name, data, size);
    }
    if (!sgp32_asn1_equal(type, first, first))
        sgp32_fuzz_fail("a decoded value differs from itself", name, data, size);
    check_print(type, first, data, size);
    int erc = sgp32_asn1_encode(type, first, &first_der);
    if (erc) {
        fprintf(stderr, "encode: %s\n", sgp32_err_str(erc));
        sgp32_fuzz_fail("a decoded value does not encode", name, data, size);
    }
    if (first_der.len > size)
        sgp32_fuzz_fail("the re-encoding is longer than the input", name, data, size);
    erc = sgp32_asn1_decode_diag(type, first_der.data, first_der.len, &second_arena, second, &diag);
    if (erc) {
        fprintf(stderr, "re-decode: %s at %zu in %s\n", sgp32_err_str(erc), diag.offset, diag.path);
        sgp32_fuzz_fail("our own encoding of a decoded value does not decode", name, data, size);
    }
    if (!sgp32_asn1_equal(type, first, second))
        sgp32_fuzz_fail("decode(encode(decode(x))) != decode(x)", name, data, size);
    if (sgp32_asn1_encode(type, second, &second_der) != SGP32_OK)
        sgp32_fuzz_fail("the re-decoded value does not encode", name, data, size);
    if (second_der.len != first_der.len || memcmp(second_der.data, first_der.data, first_der.len) != 0)
        sgp32_fuzz_fail("encode(decode(encode(v))) != encode(v)", name, data, size);

out:
    sgp32_buf_free(&first_der);
    sgp32_buf_free(&second_der);
    sgp32_arena_free(&first_arena);
    sgp32_arena_free(&second_arena);
    return rc;
}

int sgp32_fuzz_codec_pick(const sgp32_asn1_type *const *types, size_t count, const uint8_t *data, size_t size)
{
    if (size < 1 || count == 0)
        return SGP32_ERR_INVALID_ARGUMENT;
    return sgp32_fuzz_codec(types[data[0] % count], data + 1, size - 1);
}

int sgp32_fuzz_codec_each(const sgp32_asn1_type *const *types, size_t count, const uint8_t *data, size_t size)
{
    int result = SGP32_ERR_ASN1_UNEXPECTED_TAG;
    for (size_t i = 0; i < count; i++)
        if (sgp32_fuzz_codec(types[i], data, size) == SGP32_OK)
            result = SGP32_OK;
    return result;
}

/*
 * Guards the text parsers that take DER or identifiers from JSON bindings and the command line
 * (lib/core/text.c, lib/core/eid.c, lib/asn1/oid_text.c). The whole input goes to each of:
 *  - sgp32_hex_decode: on success, the upper-case hex of the result is the input without its
 *    separators (every accepted hex text is canonical up to case and separators);
 *  - sgp32_base64_decode: on success, re-encoding gives the input without its white space
 *    (padded standard base64 with zero stray bits has exactly one spelling);
 *  - sgp32_eid_from_text: on success, sgp32_eid_to_text gives the text back and the check holds;
 *  - sgp32_asn1_oid_from_text: on success, the contents are a valid OID whose dotted text reads
 *    back to the same contents.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "sgp32/eid.h"
#include "sgp32/text.h"

static void fail(const char *what, const uint8_t *data, size_t size)
{
    sgp32_fuzz_fail(what, "text", data, size);
}

static int check_hex(const uint8_t *data, size_t size)
{
    sgp32_buf out;
    sgp32_buf_init(&out, size / 2 + 1);
    int rc = sgp32_hex_decode((const char *)data, size, &out);
    if (rc == SGP32_OK) {
        char *hex = malloc(2 * out.len + 1);
        char *bare = malloc(size + 1);
        if (!hex || !bare)
            abort();
        sgp32_hex_encode(out.data, out.len, hex);
        size_t n = 0;
        for (size_t i = 0; i < size; i++)
            if (data[i] != ' ' && data[i] != '\t' && data[i] != '\r' && data[i] != '\n' && data[i] != ':')
                bare[n++] = (char)toupper(data[i]);
        if (n != 2 * out.len || memcmp(hex, bare, n) != 0)
            fail("hex: decode then encode is not the input without separators", data, size);
        free(hex);
        free(bare);
    } else if (rc != SGP32_ERR_BAD_TEXT) {
        fail("hex: an error other than bad text", data, size);
    }
    sgp32_buf_free(&out);
    return rc;
}

static int check_base64(const uint8_t *data, size_t size)
{
    sgp32_buf out;
    sgp32_buf_init(&out, size + 1);
    int rc = sgp32_base64_decode((const char *)data, size, &out);
    if (rc == SGP32_OK) {
        size_t len = sgp32_base64_encoded_len(out.len);
        char *text = malloc(len + 1);
        char *bare = malloc(size + 1);
        if (!text || !bare)
            abort();
        sgp32_base64_encode(out.data, out.len, text);
        if (strlen(text) != len)
            fail("base64: encoded_len disagrees with encode", data, size);
        size_t n = 0;
        for (size_t i = 0; i < size; i++)
            if (data[i] != ' ' && data[i] != '\t' && data[i] != '\r' && data[i] != '\n')
                bare[n++] = (char)data[i];
        if (n != len || memcmp(text, bare, n) != 0)
            fail("base64: decode then encode is not the input without white space", data, size);
        free(text);
        free(bare);
    } else if (rc != SGP32_ERR_BAD_TEXT) {
        fail("base64: an error other than bad text", data, size);
    }
    sgp32_buf_free(&out);
    return rc;
}

static void check_eid(const char *text, const uint8_t *data, size_t size)
{
    uint8_t eid[SGP32_EID_LEN];
    char back[SGP32_EID_DIGITS + 1];
    int rc = sgp32_eid_from_text(text, eid);
    if (rc == SGP32_OK || rc == SGP32_ERR_EID_CHECK_DIGITS) {
        if (sgp32_eid_to_text(eid, back) != SGP32_OK || strcmp(back, text) != 0)
            fail("EID: text -> BCD -> text is not the identity", data, size);
        if (sgp32_eid_check(eid) != rc)
            fail("EID: eid_check disagrees with eid_from_text", data, size);
        char fixed[SGP32_EID_DIGITS + 1];
        memcpy(fixed, text, sizeof(fixed));
        if (sgp32_eid_set_check_digits(fixed) != SGP32_OK || sgp32_eid_from_text(fixed, eid) != SGP32_OK)
            fail("EID: set_check_digits does not give a valid EID", data, size);
        /* (Check digits 01 and 99 also give mod 97 == 1, so a valid EID need not have the computed ones.) */
        if (strcmp(fixed, text) == 0 && rc != SGP32_OK)
            fail("EID: the computed check digits are refused", data, size);
    } else if (rc != SGP32_ERR_BAD_TEXT) {
        fail("EID: an unexpected error", data, size);
    }
}

static void check_oid(const char *text, const uint8_t *data, size_t size)
{
    sgp32_buf oid, again;
    sgp32_buf_init(&oid, size + 16);
    sgp32_buf_init(&again, size + 16);
    int rc = sgp32_asn1_oid_from_text(text, &oid);
    if (rc == SGP32_OK) {
        sgp32_bytes contents = sgp32_buf_bytes(&oid);
        if (sgp32_asn1_check_oid(contents) != SGP32_OK)
            fail("OID: from_text produced invalid contents", data, size);
        size_t cap = 4 * size + 64;
        char *dotted = malloc(cap);
        if (!dotted)
            abort();
        if (sgp32_asn1_oid_to_text(contents, dotted, cap) != SGP32_OK ||
            sgp32_asn1_oid_from_text(dotted, &again) != SGP32_OK ||
            !sgp32_bytes_equal(contents, sgp32_buf_bytes(&again)))
            fail("OID: text -> contents -> text -> contents is not stable", data, size);
        free(dotted);
    } else if (rc != SGP32_ERR_BAD_TEXT) {
        fail("OID: an unexpected error", data, size);
    }
    sgp32_buf_free(&oid);
    sgp32_buf_free(&again);
}

int sgp32_fuzz_text(const uint8_t *data, size_t size)
{
    int hex = check_hex(data, size);
    int base64 = check_base64(data, size);
    /* The EID and OID parsers take C strings. */
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    check_eid(text, data, size);
    check_oid(text, data, size);
    free(text);
    return hex == SGP32_OK || base64 == SGP32_OK ? SGP32_OK : SGP32_ERR_BAD_TEXT;
}

SGP32_FUZZ_ENTRY(sgp32_fuzz_text);

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asn1_sample.h"

#define AT(ptr, off, T) ((T *)(void *)((uint8_t *)(ptr) + (off)))

/* Real PKIX objects so an independent decoder (asn1c) accepts the samples. */
static sgp32_bytes load_file(const char *path, sgp32_arena *arena)
{
    sgp32_bytes b = {NULL, 0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return b;
    uint8_t tmp[8192];
    size_t n = fread(tmp, 1, sizeof(tmp), f);
    fclose(f);
    uint8_t *p = sgp32_arena_alloc(arena, n);
    if (p) {
        memcpy(p, tmp, n);
        b = (sgp32_bytes){p, n};
    }
    return b;
}

/* The SubjectPublicKeyInfo inside a certificate: tbs [0] version, serial, sigAlg, issuer, validity, subject,
 * SPKI. */
static sgp32_bytes spki_of(sgp32_bytes cert)
{
    sgp32_asn1_tlv c, tbs, item;
    sgp32_asn1_reader r;
    if (sgp32_asn1_read_tlv(cert.data, cert.len, &c, NULL) ||
        sgp32_asn1_read_tlv(c.value.data, c.value.len, &tbs, NULL))
        return (sgp32_bytes){NULL, 0};
    sgp32_asn1_reader_init(&r, tbs.value, 0);
    for (int i = 0; i < 7; i++)
        if (sgp32_asn1_reader_next(&r, &item))
            return (sgp32_bytes){NULL, 0};
    return item.whole;
}

static size_t max_fanout(const sgp32_asn1_type *type, unsigned depth)
{
    if (depth > 12)
        return 1;
    size_t n = type->kind == SGP32_ASN1_CHOICE ? type->field_count : 1;
    for (size_t i = 0; i < type->field_count; i++) {
        size_t m = max_fanout(type->fields[i].type, depth + 1);
        if (m > n)
            n = m;
    }
    if (type->element) {
        size_t m = max_fanout(type->element, depth + 1);
        if (m > n)
            n = m;
    }
    return n;
}

size_t sample_variant_count(const sgp32_asn1_type *type)
{
    return 2 * max_fanout(type, 0);
}

static uint8_t *fill_bytes(sgp32_arena *arena, size_t n, uint8_t seed)
{
    uint8_t *p = sgp32_arena_alloc(arena, n ? n : 1);
    for (size_t i = 0; p && i < n; i++)
        p[i] = (uint8_t)(seed + 17 * i);
    return p;
}

static size_t pick_len(const sgp32_asn1_type *t, size_t wanted)
{
    if (wanted < t->min_size)
        wanted = t->min_size;
    if (wanted > t->max_size)
        wanted = t->max_size;
    return wanted;
}

static int build(const sgp32_asn1_type *t, size_t variant, sgp32_arena *arena, void *value, unsigned depth)
{
    sgp32_bytes *b = value;
    switch ((sgp32_asn1_kind)t->kind) {
    case SGP32_ASN1_INTEGER:
        *(int64_t *)value = t->name_count ? t->names[t->name_count - 1].value : 300 + (int64_t)variant;
        return SGP32_OK;
    case SGP32_ASN1_BOOLEAN: *(bool *)value = true; return SGP32_OK;
    case SGP32_ASN1_NULL: *(bool *)value = true; return SGP32_OK;
    case SGP32_ASN1_NAMED_BITS: {
        uint32_t bits = 0;
        for (size_t i = 0; i < t->name_count; i += 2)
            bits |= 1u << t->names[i].value;
        *(uint32_t *)value = bits ? bits : 1;
        return SGP32_OK;
    }
    case SGP32_ASN1_OCTET_STRING: {
        size_t n = pick_len(t, 5);
        *b = (sgp32_bytes){fill_bytes(arena, n, (uint8_t)(0x10 + variant)), n};
        return SGP32_OK;
    }
    case SGP32_ASN1_UTF8_STRING: {
        size_t n = pick_len(t, 9);
        uint8_t *p = sgp32_arena_alloc(arena, n ? n : 1);
        for (size_t i = 0; i < n; i++)
            p[i] = (uint8_t)('a' + (i + variant) % 26);
        *b = (sgp32_bytes){p, n};
        return SGP32_OK;
    }
    case SGP32_ASN1_OBJECT_ID:
        *b = (sgp32_bytes){(const uint8_t *)"\x88\x37\x0A", 3}; /* 2.999.10, the SGP.26 SM-DP+ OID */
        return SGP32_OK;
    case SGP32_ASN1_BIT_STRING: *b = (sgp32_bytes){(const uint8_t *)"\x06\x40", 2}; return SGP32_OK;
    case SGP32_ASN1_ANY: *b = (sgp32_bytes){(const uint8_t *)"\x04\x02\xCA\xFE", 4}; return SGP32_OK;
    case SGP32_ASN1_OPAQUE: {
        sgp32_bytes cert = load_file(SGP32_SPEC_DIR "/sgp26/eUICC/CERT_EUICC_ECDSA_NIST.der", arena);
        if (!cert.len)
            return SGP32_ERR_IO;
        if (strcmp(t->name, "SubjectPublicKeyInfo") == 0)
            *b = spki_of(cert);
        else if (strcmp(t->name, "CertificateList") == 0)
            *b = load_file(SGP32_SOURCE_DIR "/tests/vectors/test_crl.der", arena);
        else
            *b = cert;
        return b->len ? SGP32_OK : SGP32_ERR_IO;
    }
    case SGP32_ASN1_SEQUENCE:
        for (size_t i = 0; i < t->field_count; i++) {
            const sgp32_asn1_field *f = &t->fields[i];
            bool optional = f->flags & SGP32_ASN1_OPTIONAL;
            if (optional && (variant % 2 || depth > 6))
                continue;
            if (f->present_offset != SGP32_ASN1_NO_OFFSET)
                *AT(value, f->present_offset, bool) = true;
            int rc = build(f->type, variant, arena, AT(value, f->offset, void), depth + 1);
            if (rc)
                return rc;
            if (f->flags & SGP32_ASN1_DEFAULT) {
                /* A non-default value, so the component is really encoded. */
                if (f->type->kind == SGP32_ASN1_BOOLEAN)
                    *AT(value, f->offset, bool) = !f->default_value;
                else if (*AT(value, f->offset, int64_t) == f->default_value)
                    *AT(value, f->offset, int64_t) = f->default_value ? 0 : 1;
            }
        }
        return SGP32_OK;
    case SGP32_ASN1_SEQUENCE_OF: {
        sgp32_asn1_list *list = value;
        size_t n = pick_len(t, depth > 6 ? 1 : 2);
        list->count = n;
        list->items = n ? sgp32_arena_alloc(arena, n * t->element->size) : NULL;
        if (n && !list->items)
            return SGP32_ERR_NO_MEMORY;
        for (size_t i = 0; i < n; i++) {
            int rc = build(t->element, variant + 2 * i, arena, (uint8_t *)list->items + i * t->element->size,
                           depth + 1);
            if (rc)
                return rc;
        }
        return SGP32_OK;
    }
    case SGP32_ASN1_CHOICE: {
        size_t alt = (variant / 2) % t->field_count;
        *AT(value, sizeof(sgp32_bytes), int) = (int)alt + 1;
        const sgp32_asn1_field *f = &t->fields[alt];
        return build(f->type, variant, arena, AT(value, f->offset, void), depth + 1);
    }
    }
    return SGP32_ERR_INVALID_ARGUMENT;
}

int sample_build(const sgp32_asn1_type *type, size_t variant, sgp32_arena *arena, void *value)
{
    return build(type, variant, arena, value, 0);
}

/*
 * The table-driven DER <-> JSON mapping (json_binding.h) shared by the ESipa and ES9+ JSON
 * bindings. jansson does all JSON parsing and printing; lib/asn1 all DER reading and writing.
 */
#include <stdlib.h>
#include <string.h>

#include "json_binding.h"
#include "sgp32/text.h"

enum { JSON_DER_MAX = 4u << 20 }; /* a BPP is the largest value: far below this */

int sgp32_json_binding_validate(const sgp32_asn1_type *type, const uint8_t *der, size_t len)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, 4 * len + 65536);
    void *value = sgp32_alloc(type->size);
    int rc = value ? sgp32_asn1_decode(type, der, len, &arena, value) : SGP32_ERR_NO_MEMORY;
    sgp32_free(value, type->size);
    sgp32_arena_free(&arena);
    return rc;
}

int sgp32_json_binding_dump(const json_t *object, sgp32_buf *out)
{
    char *text = json_dumps(object, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text)
        return SGP32_ERR_NO_MEMORY;
    sgp32_buf_reset(out);
    size_t n = strlen(text);
    int rc = sgp32_buf_append(out, text, n + 1);
    if (rc == SGP32_OK)
        out->len = n; /* the NUL stays behind len */
    free(text);
    return rc;
}

/* ------------------------------------------------------------------ DER -> JSON */

static json_t *b64_string(const uint8_t *data, size_t len)
{
    size_t n = sgp32_base64_encoded_len(len);
    char *text = sgp32_alloc(n + 1);
    if (!text)
        return NULL;
    sgp32_base64_encode(data, len, text);
    json_t *s = json_stringn(text, n);
    sgp32_free(text, n + 1);
    return s;
}

static json_t *hex_string(const uint8_t *data, size_t len)
{
    char *text = sgp32_alloc(2 * len + 1);
    if (!text)
        return NULL;
    sgp32_hex_encode(data, len, text);
    json_t *s = json_stringn(text, 2 * len);
    sgp32_free(text, 2 * len + 1);
    return s;
}

static int field_to_json(const json_field *f, const sgp32_asn1_tlv *tlv, json_t *object)
{
    json_t *v = NULL;
    int rc = SGP32_OK;
    switch (f->kind) {
    case JF_B64_TLV: v = b64_string(tlv->whole.data, tlv->whole.len); break;
    case JF_B64_VALUE: v = b64_string(tlv->value.data, tlv->value.len); break;
    case JF_HEX_VALUE: v = hex_string(tlv->value.data, tlv->value.len); break;
    case JF_STRING:
        v = json_stringn((const char *)tlv->value.data, tlv->value.len);
        if (!v)
            return SGP32_ERR_ASN1_BAD_VALUE; /* not UTF-8, or a NUL jansson refuses */
        break;
    case JF_EID:
        if (tlv->value.len != 16)
            return SGP32_ERR_ASN1_SIZE;
        v = hex_string(tlv->value.data, tlv->value.len);
        break;
    case JF_INT: {
        int64_t i;
        rc = sgp32_asn1_parse_integer(tlv->value, &i);
        if (rc)
            return rc;
        v = json_integer((json_int_t)i);
        break;
    }
    case JF_TRUE_NULL: v = json_true(); break;
    case JF_B64_INNER:
    case JF_B64_RETAG: {
        if (f->kind == JF_B64_INNER) {
            sgp32_asn1_tlv inner;
            size_t used;
            rc = sgp32_asn1_read_tlv(tlv->value.data, tlv->value.len, &inner, &used);
            if (rc)
                return rc;
            if (used != tlv->value.len)
                return SGP32_ERR_ASN1_TRAILING;
            v = b64_string(inner.whole.data, inner.whole.len);
        } else {
            sgp32_buf b;
            sgp32_buf_init(&b, JSON_DER_MAX);
            rc = sgp32_asn1_write_retagged(&b, f->json_tag, tlv->whole);
            if (rc == SGP32_OK)
                v = b64_string(b.data, b.len);
            sgp32_buf_free(&b);
            if (rc)
                return rc;
        }
        break;
    }
    case JF_B64_LIST: {
        v = json_array();
        sgp32_asn1_reader r;
        sgp32_asn1_reader_init(&r, tlv->value, 1);
        sgp32_asn1_tlv item;
        while (v && (rc = sgp32_asn1_reader_next(&r, &item)) == SGP32_OK) {
            json_t *s = b64_string(item.whole.data, item.whole.len);
            if (!s || json_array_append_new(v, s) != 0)
                rc = SGP32_ERR_NO_MEMORY;
            if (rc)
                break;
        }
        if (rc == SGP32_ERR_NOT_FOUND)
            rc = SGP32_OK;
        if (rc) {
            json_decref(v);
            return rc;
        }
        break;
    }
    }
    if (!v)
        return SGP32_ERR_NO_MEMORY;
    return json_object_set_new(object, f->name, v) == 0 ? SGP32_OK : SGP32_ERR_NO_MEMORY;
}

/* The TLVs of contents matched to fields in schema order (unknown ones skipped). */
static int fields_to_json(const json_field *fields, size_t count, sgp32_bytes contents, json_t *object)
{
    sgp32_asn1_reader r;
    sgp32_asn1_reader_init(&r, contents, 1);
    size_t next = 0;
    sgp32_asn1_tlv tlv;
    int rc;
    while ((rc = sgp32_asn1_reader_next(&r, &tlv)) == SGP32_OK) {
        size_t i = next;
        while (i < count && fields[i].tag != 0 && fields[i].tag != tlv.tag)
            i++;
        if (i == count)
            continue; /* an extension we have no JSON name for */
        rc = field_to_json(&fields[i], &tlv, object);
        if (rc)
            return rc;
        next = i + 1;
    }
    return rc == SGP32_ERR_NOT_FOUND ? SGP32_OK : rc;
}

int sgp32_json_binding_from_der(const json_shape *shape, const uint8_t *der, size_t len, json_t **out)
{
    *out = NULL;
    int rc = sgp32_json_binding_validate(shape->type, der, len);
    if (rc)
        return rc;
    sgp32_asn1_tlv msg;
    rc = sgp32_asn1_expect(der, len, shape->tag, &msg);
    if (rc)
        return rc;
    json_t *object = json_object();
    if (!object)
        return SGP32_ERR_NO_MEMORY;
    if (!shape->choice) {
        rc = fields_to_json(shape->alternatives[0].fields, shape->alternatives[0].field_count, msg.value,
                            object);
    } else {
        sgp32_asn1_tlv alt;
        size_t used;
        rc = sgp32_asn1_read_tlv(msg.value.data, msg.value.len, &alt, &used);
        if (rc == SGP32_OK && used != msg.value.len)
            rc = SGP32_ERR_ASN1_TRAILING;
        const json_alternative *a = NULL;
        for (size_t i = 0; rc == SGP32_OK && i < shape->alternative_count && !a; i++) {
            const json_alternative *c = &shape->alternatives[i];
            if ((c->tag && c->tag == alt.tag) ||
                (!c->tag && c->field_count == 1 && c->fields[0].tag == alt.tag))
                a = c;
        }
        if (rc == SGP32_OK && !a)
            rc = SGP32_ERR_ASN1_UNKNOWN_CHOICE;
        if (rc == SGP32_OK) {
            json_t *target = object;
            if (a->object) {
                target = json_object();
                if (!target || json_object_set_new(object, a->object, target) != 0)
                    rc = SGP32_ERR_NO_MEMORY;
            }
            if (rc == SGP32_OK)
                rc = a->tag ? fields_to_json(a->fields, a->field_count, alt.value, target)
                            : field_to_json(&a->fields[0], &alt, target);
        }
    }
    if (rc) {
        json_decref(object);
        return rc;
    }
    *out = object;
    return SGP32_OK;
}

/* ------------------------------------------------------------------ JSON -> DER */

static int decode_text(const json_t *v, bool base64, sgp32_buf *out)
{
    if (!json_is_string(v))
        return SGP32_ERR_BAD_TEXT;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    return base64 ? sgp32_base64_decode(s, n, out) : sgp32_hex_decode(s, n, out);
}

/* Exactly one TLV in data (tag checked unless 0). */
static int one_tlv(const sgp32_buf *data, uint32_t tag, sgp32_asn1_tlv *tlv)
{
    size_t used;
    int rc = sgp32_asn1_read_tlv(data->data, data->len, tlv, &used);
    if (rc)
        return rc;
    if (used != data->len)
        return SGP32_ERR_ASN1_TRAILING;
    if (tag && tlv->tag != tag)
        return SGP32_ERR_ASN1_UNEXPECTED_TAG;
    return SGP32_OK;
}

static int field_to_der(const json_field *f, const json_t *v, sgp32_buf *out)
{
    sgp32_buf tmp;
    sgp32_buf_init(&tmp, JSON_DER_MAX);
    sgp32_asn1_tlv tlv;
    int rc = SGP32_OK;
    switch (f->kind) {
    case JF_B64_TLV:
        rc = decode_text(v, true, &tmp);
        if (rc == SGP32_OK)
            rc = one_tlv(&tmp, f->tag, &tlv);
        if (rc == SGP32_OK)
            rc = sgp32_buf_append(out, tmp.data, tmp.len);
        break;
    case JF_B64_VALUE:
    case JF_HEX_VALUE:
        rc = decode_text(v, f->kind == JF_B64_VALUE, &tmp);
        if (rc == SGP32_OK)
            rc = sgp32_asn1_write_tlv(out, f->tag, tmp.data, tmp.len);
        break;
    case JF_STRING:
        if (!json_is_string(v))
            rc = SGP32_ERR_BAD_TEXT;
        else
            rc = sgp32_asn1_write_tlv(out, f->tag, (const uint8_t *)json_string_value(v),
                                      json_string_length(v));
        break;
    case JF_EID:
        rc = decode_text(v, false, &tmp);
        if (rc == SGP32_OK && (tmp.len != 16 || json_string_length(v) != 32))
            rc = SGP32_ERR_BAD_TEXT;
        if (rc == SGP32_OK)
            rc = sgp32_asn1_write_tlv(out, f->tag, tmp.data, tmp.len);
        break;
    case JF_INT:
        if (!json_is_integer(v))
            rc = SGP32_ERR_BAD_TEXT;
        else
            rc = sgp32_asn1_write_integer(out, f->tag, (int64_t)json_integer_value(v));
        break;
    case JF_TRUE_NULL:
        if (!json_is_boolean(v))
            rc = SGP32_ERR_BAD_TEXT;
        else if (json_is_true(v))
            rc = sgp32_asn1_write_tlv(out, f->tag, NULL, 0);
        break;
    case JF_B64_INNER:
        rc = decode_text(v, true, &tmp);
        if (rc == SGP32_OK)
            rc = one_tlv(&tmp, 0, &tlv);
        if (rc == SGP32_OK)
            rc = sgp32_asn1_write_tlv(out, f->tag, tmp.data, tmp.len);
        break;
    case JF_B64_RETAG:
        rc = decode_text(v, true, &tmp);
        if (rc == SGP32_OK)
            rc = one_tlv(&tmp, f->json_tag, &tlv);
        if (rc == SGP32_OK)
            rc = sgp32_asn1_write_retagged(out, f->tag, tlv.whole);
        break;
    case JF_B64_LIST: {
        if (!json_is_array(v)) {
            rc = SGP32_ERR_BAD_TEXT;
            break;
        }
        size_t mark = sgp32_asn1_begin(out);
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            sgp32_buf_reset(&tmp);
            rc = decode_text(item, true, &tmp);
            if (rc == SGP32_OK)
                rc = one_tlv(&tmp, 0, &tlv);
            if (rc == SGP32_OK)
                rc = sgp32_buf_append(out, tmp.data, tmp.len);
            if (rc)
                break;
        }
        if (rc == SGP32_OK)
            rc = sgp32_asn1_end(out, f->tag, mark);
        break;
    }
    }
    sgp32_buf_free(&tmp);
    return rc;
}

static int fields_to_der(const json_field *fields, size_t count, const json_t *object, sgp32_buf *out)
{
    for (size_t i = 0; i < count; i++) {
        const json_t *v = json_object_get(object, fields[i].name);
        if (!v || json_is_null(v))
            continue; /* absent: the codec check below says whether it was mandatory */
        int rc = field_to_der(&fields[i], v, out);
        if (rc)
            return rc;
    }
    return SGP32_OK;
}

int sgp32_json_binding_to_der(const json_shape *shape, const json_t *object, sgp32_buf *der)
{
    if (!json_is_object(object))
        return SGP32_ERR_BAD_TEXT;
    size_t start = der->len;
    size_t mark = sgp32_asn1_begin(der);
    int rc;
    if (!shape->choice) {
        rc = fields_to_der(shape->alternatives[0].fields, shape->alternatives[0].field_count, object, der);
    } else {
        const json_alternative *a = NULL;
        const json_t *source = object;
        for (size_t i = 0; i < shape->alternative_count && !a; i++) {
            const json_alternative *c = &shape->alternatives[i];
            const json_t *scope = c->object ? json_object_get(object, c->object) : object;
            if (c->object && !json_is_object(scope))
                continue;
            if (!c->key || (scope && json_object_get(scope, c->key))) {
                a = c;
                source = scope;
            }
        }
        if (!a) {
            rc = SGP32_ERR_ASN1_MISSING; /* none of the alternatives' fields is there */
        } else if (a->tag) {
            size_t alt_mark = sgp32_asn1_begin(der);
            rc = fields_to_der(a->fields, a->field_count, source, der);
            if (rc == SGP32_OK)
                rc = sgp32_asn1_end(der, a->tag, alt_mark);
        } else {
            rc = fields_to_der(a->fields, a->field_count, source, der);
        }
    }
    if (rc == SGP32_OK)
        rc = sgp32_asn1_end(der, shape->tag, mark);
    if (rc == SGP32_OK)
        rc = sgp32_json_binding_validate(shape->type, der->data + start, der->len - start);
    if (rc)
        der->len = start;
    return rc;
}

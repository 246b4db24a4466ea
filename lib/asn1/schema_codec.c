/*
 * The table-driven DER codec: one decoder, one encoder and one comparator
 * for every message type, driven by the const descriptors generated from
 * the schema (lib/asn1/asn1_types.c). Tables belong in flash; code is
 * written once and fuzzed once.
 *
 * Tagging model (X.680 §31.2.7, AUTOMATIC TAGS): every field carries the
 * one tag that appears on the wire. A tag on a CHOICE or an open type (ANY)
 * wraps the inner TLV (explicit); on anything else it replaces the type's
 * own tag (implicit). The generator computes these tags from the schema.
 */
#include <stdio.h>
#include <string.h>

#include "sgp32/asn1.h"

typedef struct decoder {
    sgp32_arena *arena;
    const uint8_t *base;
    sgp32_asn1_diag *diag;
    bool diag_set;
} decoder;

#define AT(ptr, off, T)       ((T *)(void *)((uint8_t *)(ptr) + (off)))
#define AT_CONST(ptr, off, T) ((const T *)(const void *)((const uint8_t *)(ptr) + (off)))

/* On the way out of an error, record where it happened and the schema path. */
static int fail(decoder *d, int rc, const uint8_t *where)
{
    if (d->diag && !d->diag_set) {
        d->diag->offset = where && d->base ? (size_t)(where - d->base) : 0;
        d->diag->path[0] = '\0';
        d->diag_set = true;
    }
    return rc;
}

static void path_prepend(decoder *d, const char *name)
{
    if (!d->diag || !name)
        return;
    char *path = d->diag->path;
    size_t cap = sizeof(d->diag->path), old_len = strlen(path), name_len = strlen(name);
    size_t sep = old_len ? 1 : 0;
    if (name_len + sep + old_len >= cap)
        return; /* keep the innermost part rather than a cut one */
    memmove(path + name_len + sep, path, old_len + 1);
    memcpy(path, name, name_len);
    if (sep)
        path[name_len] = '.';
}

/* Does a TLV with this tag start a value of this type under this wire tag? */
static bool matches(const sgp32_asn1_type *type, uint32_t wire_tag, uint32_t tag)
{
    if (wire_tag)
        return wire_tag == tag;
    if (type->kind == SGP32_ASN1_ANY)
        return true;
    if (type->kind == SGP32_ASN1_CHOICE)
        for (size_t i = 0; i < type->field_count; i++)
            if (matches(type->fields[i].type, type->fields[i].tag, tag))
                return true;
    return false;
}

static bool is_constructed_kind(uint8_t kind)
{
    return kind == SGP32_ASN1_SEQUENCE || kind == SGP32_ASN1_SEQUENCE_OF || kind == SGP32_ASN1_CHOICE ||
           kind == SGP32_ASN1_ANY || kind == SGP32_ASN1_OPAQUE;
}

static int check_size(const sgp32_asn1_type *type, size_t n)
{
    return n < type->min_size || n > type->max_size ? SGP32_ERR_ASN1_SIZE : SGP32_OK;
}

/* The single TLV inside an explicit tag. */
static int unwrap(decoder *d, const sgp32_asn1_tlv *outer, sgp32_asn1_tlv *inner)
{
    size_t used;
    int rc = sgp32_asn1_read_tlv(outer->value.data, outer->value.len, inner, &used);
    if (rc)
        return fail(d, rc, outer->value.data);
    if (used != outer->value.len)
        return fail(d, SGP32_ERR_ASN1_TRAILING, outer->value.data + used);
    return SGP32_OK;
}

static int decode_value(decoder *d, const sgp32_asn1_type *type, uint32_t wire_tag, const sgp32_asn1_tlv *tlv,
                        void *out, unsigned depth);

static void set_default(const sgp32_asn1_field *f, void *out)
{
    if (f->type->kind == SGP32_ASN1_BOOLEAN)
        *AT(out, f->offset, bool) = f->default_value != 0;
    else
        *AT(out, f->offset, int64_t) = f->default_value;
}

static int decode_sequence(decoder *d, const sgp32_asn1_type *type, const sgp32_asn1_tlv *tlv, void *out,
                           unsigned depth)
{
    sgp32_asn1_reader r;
    sgp32_asn1_reader_init(&r, tlv->value, depth);
    size_t next_field = 0;
    sgp32_asn1_tlv child;
    int rc;
    while ((rc = sgp32_asn1_reader_next(&r, &child)) == SGP32_OK) {
        size_t j = next_field;
        while (j < type->field_count && !matches(type->fields[j].type, type->fields[j].tag, child.tag))
            j++;
        if (j == type->field_count) {
            for (size_t k = 0; k < next_field; k++)
                if (matches(type->fields[k].type, type->fields[k].tag, child.tag))
                    return fail(d, SGP32_ERR_ASN1_ORDER, child.whole.data);
            continue; /* an extension this schema version does not know: skip it */
        }
        for (size_t k = next_field; k < j; k++) {
            if (type->fields[k].flags & SGP32_ASN1_DEFAULT) {
                set_default(&type->fields[k], out); /* absent before a later component */
            } else if (!(type->fields[k].flags & SGP32_ASN1_OPTIONAL)) {
                rc = fail(d, SGP32_ERR_ASN1_MISSING, child.whole.data);
                path_prepend(d, type->fields[k].name);
                return rc;
            }
        }
        const sgp32_asn1_field *f = &type->fields[j];
        if (f->present_offset != SGP32_ASN1_NO_OFFSET)
            *AT(out, f->present_offset, bool) = true;
        rc = decode_value(d, f->type, f->tag, &child, AT(out, f->offset, void), depth + 1);
        if (rc) {
            path_prepend(d, f->name);
            return rc;
        }
        next_field = j + 1;
    }
    if (rc != SGP32_ERR_NOT_FOUND)
        return fail(d, rc, r.next);
    for (size_t k = next_field; k < type->field_count; k++) {
        const sgp32_asn1_field *f = &type->fields[k];
        if (f->flags & SGP32_ASN1_DEFAULT) {
            set_default(f, out);
        } else if (!(f->flags & SGP32_ASN1_OPTIONAL)) {
            rc = fail(d, SGP32_ERR_ASN1_MISSING, tlv->value.data + tlv->value.len);
            path_prepend(d, f->name);
            return rc;
        }
    }
    return SGP32_OK;
}

static int decode_sequence_of(decoder *d, const sgp32_asn1_type *type, const sgp32_asn1_tlv *tlv, void *out,
                              unsigned depth)
{
    const sgp32_asn1_type *elem = type->element;
    sgp32_asn1_reader r;
    sgp32_asn1_tlv child;
    size_t count = 0;
    int rc;
    sgp32_asn1_reader_init(&r, tlv->value, depth);
    while ((rc = sgp32_asn1_reader_next(&r, &child)) == SGP32_OK) {
        if (!matches(elem, elem->tag, child.tag))
            return fail(d, SGP32_ERR_ASN1_UNEXPECTED_TAG, child.whole.data);
        count++;
    }
    if (rc != SGP32_ERR_NOT_FOUND)
        return fail(d, rc, r.next);
    if ((rc = check_size(type, count)) != SGP32_OK)
        return fail(d, rc, tlv->whole.data);
    sgp32_asn1_list *list = out;
    list->count = count;
    list->items = NULL;
    if (count == 0)
        return SGP32_OK;
    if (count > SIZE_MAX / elem->size || !d->arena)
        return fail(d, SGP32_ERR_NO_MEMORY, tlv->whole.data);
    list->items = sgp32_arena_alloc(d->arena, count * elem->size);
    if (!list->items)
        return fail(d, SGP32_ERR_NO_MEMORY, tlv->whole.data);
    sgp32_asn1_reader_init(&r, tlv->value, depth);
    for (size_t i = 0; i < count; i++) {
        sgp32_asn1_reader_next(&r, &child);
        rc = decode_value(d, elem, elem->tag, &child, (uint8_t *)list->items + i * elem->size, depth + 1);
        if (rc) {
            char index[24];
            snprintf(index, sizeof(index), "[%zu]", i);
            path_prepend(d, index);
            return rc;
        }
    }
    return SGP32_OK;
}

static int decode_choice(decoder *d, const sgp32_asn1_type *type, const sgp32_asn1_tlv *tlv, void *out,
                         unsigned depth)
{
    for (size_t i = 0; i < type->field_count; i++) {
        const sgp32_asn1_field *f = &type->fields[i];
        if (!matches(f->type, f->tag, tlv->tag))
            continue;
        *AT(out, sizeof(sgp32_bytes), int) = (int)i + 1;
        int rc = decode_value(d, f->type, f->tag, tlv, AT(out, f->offset, void), depth + 1);
        if (rc)
            path_prepend(d, f->name);
        return rc;
    }
    return fail(d, SGP32_ERR_ASN1_UNKNOWN_CHOICE, tlv->whole.data);
}

static int decode_value(decoder *d, const sgp32_asn1_type *type, uint32_t wire_tag, const sgp32_asn1_tlv *tlv,
                        void *out, unsigned depth)
{
    int rc = SGP32_OK;
    if (depth >= SGP32_ASN1_MAX_DEPTH)
        return fail(d, SGP32_ERR_ASN1_TOO_DEEP, tlv->whole.data);
    if (wire_tag && tlv->tag != wire_tag)
        return fail(d, SGP32_ERR_ASN1_UNEXPECTED_TAG, tlv->whole.data);
    /* An explicit tag (on CHOICE or ANY) must be constructed; values follow their kind. */
    bool want_constructed = is_constructed_kind(type->kind);
    if (tlv->constructed != want_constructed && (wire_tag || type->kind != SGP32_ASN1_CHOICE) &&
        type->kind != SGP32_ASN1_ANY)
        return fail(d, SGP32_ERR_ASN1_PRIMITIVE, tlv->whole.data);

    sgp32_bytes v = tlv->value;
    switch ((sgp32_asn1_kind)type->kind) {
    case SGP32_ASN1_INTEGER: rc = sgp32_asn1_parse_integer(v, out); break;
    case SGP32_ASN1_BOOLEAN: rc = sgp32_asn1_parse_boolean(v, out); break;
    case SGP32_ASN1_NULL: rc = v.len == 0 ? SGP32_OK : SGP32_ERR_ASN1_BAD_VALUE; break;
    case SGP32_ASN1_NAMED_BITS: rc = sgp32_asn1_parse_named_bits(v, out); break;
    case SGP32_ASN1_UTF8_STRING: {
        size_t chars = 0;
        rc = sgp32_asn1_check_utf8(v, &chars);
        if (!rc)
            rc = check_size(type, chars);
        *(sgp32_bytes *)out = v;
        break;
    }
    case SGP32_ASN1_OBJECT_ID:
        rc = sgp32_asn1_check_oid(v);
        *(sgp32_bytes *)out = v;
        break;
    case SGP32_ASN1_BIT_STRING:
        rc = v.len == 0 || v.data[0] > 7 || (v.len == 1 && v.data[0]) ? SGP32_ERR_ASN1_BAD_VALUE : SGP32_OK;
        *(sgp32_bytes *)out = v;
        break;
    case SGP32_ASN1_OCTET_STRING:
        rc = check_size(type, v.len);
        *(sgp32_bytes *)out = v;
        break;
    case SGP32_ASN1_ANY:
        if (wire_tag) {
            if (!tlv->constructed)
                return fail(d, SGP32_ERR_ASN1_PRIMITIVE, tlv->whole.data);
            sgp32_asn1_tlv inner;
            if ((rc = unwrap(d, tlv, &inner)) != SGP32_OK)
                return rc;
            *(sgp32_bytes *)out = inner.whole;
        } else {
            *(sgp32_bytes *)out = tlv->whole;
        }
        /* Check the structure of what we keep as bytes, so users can trust it. */
        rc = sgp32_asn1_walk(((sgp32_bytes *)out)->data, ((sgp32_bytes *)out)->len, NULL, NULL);
        break;
    case SGP32_ASN1_OPAQUE:
        *(sgp32_bytes *)out = tlv->whole;
        rc = sgp32_asn1_walk(v.data, v.len, NULL, NULL);
        break;
    case SGP32_ASN1_SEQUENCE:
        *(sgp32_bytes *)out = tlv->whole;
        return decode_sequence(d, type, tlv, out, depth);
    case SGP32_ASN1_SEQUENCE_OF: return decode_sequence_of(d, type, tlv, out, depth);
    case SGP32_ASN1_CHOICE:
        *(sgp32_bytes *)out = tlv->whole;
        if (wire_tag) {
            sgp32_asn1_tlv inner;
            if ((rc = unwrap(d, tlv, &inner)) != SGP32_OK)
                return rc;
            return decode_choice(d, type, &inner, out, depth + 1);
        }
        return decode_choice(d, type, tlv, out, depth);
    }
    return rc ? fail(d, rc, tlv->whole.data) : SGP32_OK;
}

int sgp32_asn1_decode_diag(const sgp32_asn1_type *type, const uint8_t *data, size_t len, sgp32_arena *arena,
                           void *out, sgp32_asn1_diag *diag)
{
    decoder d = {arena, data, diag, false};
    if (diag) {
        diag->offset = 0;
        diag->path[0] = '\0';
    }
    if (!type || !out || (!data && len))
        return SGP32_ERR_INVALID_ARGUMENT;
    memset(out, 0, type->size);
    sgp32_asn1_tlv tlv;
    size_t used;
    int rc = sgp32_asn1_read_tlv(data, len, &tlv, &used);
    if (rc)
        rc = fail(&d, rc, data);
    else if (used != len)
        rc = fail(&d, SGP32_ERR_ASN1_TRAILING, data + used);
    else if (!matches(type, type->tag, tlv.tag))
        rc = fail(&d, SGP32_ERR_ASN1_UNEXPECTED_TAG, data);
    else
        rc = decode_value(&d, type, type->tag, &tlv, out, 0);
    if (rc)
        path_prepend(&d, type->name);
    return rc;
}

int sgp32_asn1_decode(const sgp32_asn1_type *type, const uint8_t *data, size_t len, sgp32_arena *arena,
                      void *out)
{
    return sgp32_asn1_decode_diag(type, data, len, arena, out, NULL);
}

/* ---------------------------------------------------------------- encoder */

static int encode_value(const sgp32_asn1_type *type, uint32_t wire_tag, const void *value, sgp32_buf *out);

static int encode_fields(const sgp32_asn1_type *type, const void *value, sgp32_buf *out)
{
    for (size_t i = 0; i < type->field_count; i++) {
        const sgp32_asn1_field *f = &type->fields[i];
        const void *v = AT_CONST(value, f->offset, void);
        if (f->present_offset != SGP32_ASN1_NO_OFFSET && !*AT_CONST(value, f->present_offset, bool))
            continue;
        if (f->flags & SGP32_ASN1_DEFAULT) {
            int64_t current = f->type->kind == SGP32_ASN1_BOOLEAN ? *(const bool *)v : *(const int64_t *)v;
            if (current == f->default_value)
                continue; /* DER: a DEFAULT value is never encoded */
        }
        int rc = encode_value(f->type, f->tag, v, out);
        if (rc)
            return rc;
    }
    return SGP32_OK;
}

static int encode_value(const sgp32_asn1_type *type, uint32_t wire_tag, const void *value, sgp32_buf *out)
{
    uint32_t tag = wire_tag ? wire_tag : type->tag;
    const sgp32_bytes *b = value;
    size_t mark;
    int rc;
    switch ((sgp32_asn1_kind)type->kind) {
    case SGP32_ASN1_INTEGER: return sgp32_asn1_write_integer(out, tag, *(const int64_t *)value);
    case SGP32_ASN1_BOOLEAN: return sgp32_asn1_write_boolean(out, tag, *(const bool *)value);
    case SGP32_ASN1_NULL: return sgp32_asn1_write_tlv(out, tag, NULL, 0);
    case SGP32_ASN1_NAMED_BITS: return sgp32_asn1_write_named_bits(out, tag, *(const uint32_t *)value);
    case SGP32_ASN1_UTF8_STRING: {
        size_t chars;
        if ((rc = sgp32_asn1_check_utf8(*b, &chars)) || (rc = check_size(type, chars)))
            return rc;
        return sgp32_asn1_write_tlv(out, tag, b->data, b->len);
    }
    case SGP32_ASN1_OBJECT_ID:
        if ((rc = sgp32_asn1_check_oid(*b)) != SGP32_OK)
            return rc;
        return sgp32_asn1_write_tlv(out, tag, b->data, b->len);
    case SGP32_ASN1_BIT_STRING:
        if (b->len == 0 || b->data[0] > 7)
            return SGP32_ERR_ASN1_BAD_VALUE;
        return sgp32_asn1_write_tlv(out, tag, b->data, b->len);
    case SGP32_ASN1_OCTET_STRING:
        if ((rc = check_size(type, b->len)) != SGP32_OK)
            return rc;
        return sgp32_asn1_write_tlv(out, tag, b->data, b->len);
    case SGP32_ASN1_ANY:
        if ((rc = sgp32_asn1_walk(b->data, b->len, NULL, NULL)) != SGP32_OK)
            return rc;
        if (b->len == 0)
            return SGP32_ERR_ASN1_MISSING;
        if (!tag)
            return sgp32_buf_append(out, b->data, b->len);
        return sgp32_asn1_write_tlv(out, tag, b->data, b->len);
    case SGP32_ASN1_OPAQUE:
        if (b->len == 0)
            return SGP32_ERR_ASN1_MISSING;
        return sgp32_asn1_write_retagged(out, tag, *b);
    case SGP32_ASN1_SEQUENCE:
        mark = sgp32_asn1_begin(out);
        if ((rc = encode_fields(type, value, out)) != SGP32_OK)
            return rc;
        return sgp32_asn1_end(out, tag, mark);
    case SGP32_ASN1_SEQUENCE_OF: {
        const sgp32_asn1_list *list = value;
        if ((rc = check_size(type, list->count)) != SGP32_OK)
            return rc;
        if (list->count && !list->items)
            return SGP32_ERR_INVALID_ARGUMENT;
        mark = sgp32_asn1_begin(out);
        for (size_t i = 0; i < list->count; i++)
            if ((rc = encode_value(type->element, type->element->tag,
                                   (const uint8_t *)list->items + i * type->element->size, out)) != SGP32_OK)
                return rc;
        return sgp32_asn1_end(out, tag, mark);
    }
    case SGP32_ASN1_CHOICE: {
        int choice = *AT_CONST(value, sizeof(sgp32_bytes), int);
        if (choice < 1 || choice > type->field_count)
            return SGP32_ERR_ASN1_UNKNOWN_CHOICE; /* nothing chosen */
        const sgp32_asn1_field *f = &type->fields[choice - 1];
        mark = sgp32_asn1_begin(out);
        if ((rc = encode_value(f->type, f->tag, AT_CONST(value, f->offset, void), out)) != SGP32_OK)
            return rc;
        return tag ? sgp32_asn1_end(out, tag, mark) : SGP32_OK;
    }
    }
    return SGP32_ERR_INVALID_ARGUMENT;
}

int sgp32_asn1_encode(const sgp32_asn1_type *type, const void *value, sgp32_buf *out)
{
    if (!type || !value || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    size_t start = out->len;
    int rc = encode_value(type, type->tag, value, out);
    if (rc)
        out->len = start; /* leave nothing half-written */
    return rc;
}

/* ------------------------------------------------------------- equality */

bool sgp32_asn1_equal(const sgp32_asn1_type *type, const void *a, const void *b)
{
    switch ((sgp32_asn1_kind)type->kind) {
    case SGP32_ASN1_INTEGER: return *(const int64_t *)a == *(const int64_t *)b;
    case SGP32_ASN1_BOOLEAN: return *(const bool *)a == *(const bool *)b;
    case SGP32_ASN1_NULL: return true;
    case SGP32_ASN1_NAMED_BITS: return *(const uint32_t *)a == *(const uint32_t *)b;
    case SGP32_ASN1_OCTET_STRING:
    case SGP32_ASN1_UTF8_STRING:
    case SGP32_ASN1_OBJECT_ID:
    case SGP32_ASN1_BIT_STRING:
    case SGP32_ASN1_ANY: return sgp32_bytes_equal(*(const sgp32_bytes *)a, *(const sgp32_bytes *)b);
    case SGP32_ASN1_OPAQUE: {
        /* The same object under another implicit tag (30 vs A5) is the same value. */
        const sgp32_bytes *ba = a, *bb = b;
        sgp32_asn1_tlv ta, tb;
        if (sgp32_asn1_read_tlv(ba->data, ba->len, &ta, NULL) ||
            sgp32_asn1_read_tlv(bb->data, bb->len, &tb, NULL))
            return sgp32_bytes_equal(*ba, *bb);
        return sgp32_bytes_equal(ta.value, tb.value);
    }
    case SGP32_ASN1_SEQUENCE:
        for (size_t i = 0; i < type->field_count; i++) {
            const sgp32_asn1_field *f = &type->fields[i];
            if (f->present_offset != SGP32_ASN1_NO_OFFSET) {
                bool pa = *AT_CONST(a, f->present_offset, bool), pb = *AT_CONST(b, f->present_offset, bool);
                if (pa != pb)
                    return false;
                if (!pa)
                    continue;
            }
            if (!sgp32_asn1_equal(f->type, AT_CONST(a, f->offset, void), AT_CONST(b, f->offset, void)))
                return false;
        }
        return true;
    case SGP32_ASN1_SEQUENCE_OF: {
        const sgp32_asn1_list *la = a, *lb = b;
        if (la->count != lb->count)
            return false;
        for (size_t i = 0; i < la->count; i++)
            if (!sgp32_asn1_equal(type->element, (const uint8_t *)la->items + i * type->element->size,
                                  (const uint8_t *)lb->items + i * type->element->size))
                return false;
        return true;
    }
    case SGP32_ASN1_CHOICE: {
        int ca = *AT_CONST(a, sizeof(sgp32_bytes), int), cb = *AT_CONST(b, sizeof(sgp32_bytes), int);
        if (ca != cb)
            return false;
        if (ca < 1 || ca > type->field_count)
            return true;
        const sgp32_asn1_field *f = &type->fields[ca - 1];
        return sgp32_asn1_equal(f->type, AT_CONST(a, f->offset, void), AT_CONST(b, f->offset, void));
    }
    }
    return false;
}

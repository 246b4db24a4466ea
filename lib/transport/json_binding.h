/*
 * lib/transport private: the table-driven DER <-> JSON mapping behind the ESipa JSON binding
 * (esipa_json.c) and the ES9+ JSON binding (es9_https.c).
 *
 * A shape describes one message: its outer tag, whether it is a SEQUENCE (fields directly in it) or
 * a CHOICE of alternatives, and per field the JSON name, the DER tag and how the value is written
 * in JSON. DER -> JSON walks the TLVs (after the typed codec has accepted the message); JSON -> DER
 * writes the TLVs in schema order and has the typed codec check the result, so nothing leaves this
 * module that the codec would not decode.
 */
#ifndef SGP32_TRANSPORT_JSON_BINDING_H
#define SGP32_TRANSPORT_JSON_BINDING_H

#include <jansson.h>

#include "sgp32/asn1.h"

typedef enum json_field_kind {
    JF_B64_TLV,   /* base64 of the whole TLV (tag checked; tag 0: any tag) */
    JF_B64_VALUE, /* base64 of the contents (euiccChallenge, hashCc) */
    JF_HEX_VALUE, /* upper-case hex of the contents (transactionId) */
    JF_STRING,    /* the UTF-8 contents as a JSON string */
    JF_EID,       /* the 16 BCD bytes as 32 digits */
    JF_INT,       /* INTEGER as a JSON integer */
    JF_TRUE_NULL, /* NULL present: JSON true */
    JF_B64_INNER, /* an explicit tag: base64 of the one TLV inside */
    JF_B64_RETAG, /* base64 of the TLV with the tag json_tag instead of the field tag */
    JF_B64_LIST,  /* a JSON array of base64 TLVs: the contents of a constructed field */
} json_field_kind;

typedef struct json_field {
    const char *name;
    uint32_t tag;
    json_field_kind kind;
    uint32_t json_tag; /* JF_B64_RETAG only */
} json_field;

typedef struct json_alternative {
    uint32_t tag;       /* a SEQUENCE alternative's tag; 0: the single field carries the alternative */
    const char *object; /* fields go into a nested JSON object of this name (NULL: top level) */
    const char *key;    /* JSON -> DER: chosen when this field is present; NULL: the fallback */
    const json_field *fields;
    size_t field_count;
} json_alternative;

typedef struct json_shape {
    const char *function; /* JSON path segment, "getEimPackage" */
    uint32_t tag;         /* the message's outer tag */
    bool choice;          /* CHOICE (alternatives) or SEQUENCE (alternatives[0] is the field list) */
    const json_alternative *alternatives;
    size_t alternative_count;
    const sgp32_asn1_type *type; /* the typed codec that validates the DER (whole message) */
} json_shape;

/* DER (one message of shape) -> a new JSON object (caller json_decref). */
int sgp32_json_binding_from_der(const json_shape *shape, const uint8_t *der, size_t len, json_t **out);
/* JSON object -> DER appended to der (checked by shape->type). */
int sgp32_json_binding_to_der(const json_shape *shape, const json_t *object, sgp32_buf *der);
/* Check der with the typed codec of type (a capped arena, nothing kept). */
int sgp32_json_binding_validate(const sgp32_asn1_type *type, const uint8_t *der, size_t len);
/* Compact JSON text of object into out (NUL-terminated; len excludes the NUL). */
int sgp32_json_binding_dump(const json_t *object, sgp32_buf *out);

#endif

/*
 * sgp32 ASN.1: a BER/DER cursor (reader and writer) and a table-driven DER
 * codec for the typed messages of include/sgp32/asn1_types.h.
 *
 * Tags are handled as the number formed by their bytes on the wire:
 * 0x30, 0x5A, 0xBF51, 0x5F37, 0x7F21 (up to 4 tag bytes).
 *
 * Reading is zero-copy: a TLV is a view into the caller's buffer. Every
 * length is checked against its enclosing TLV, indefinite lengths are
 * refused, and nesting depth is bounded (design principle 8).
 */
#ifndef SGP32_ASN1_H
#define SGP32_ASN1_H

#include "sgp32/alloc.h"

enum {
    SGP32_ASN1_MAX_DEPTH = 24, /* far above the deepest SGP.32/SGP.22 message */
    SGP32_ASN1_MAX_TAG_BYTES = 4,
};

/* ------------------------------------------------------------- reader */

typedef struct sgp32_asn1_tlv {
    uint32_t tag;      /* tag bytes as a number, e.g. 0xBF51 */
    bool constructed;  /* bit 6 of the first tag byte */
    sgp32_bytes value; /* the contents */
    sgp32_bytes whole; /* tag, length and contents */
} sgp32_asn1_tlv;

/*
 * Read one TLV at the start of data[0..len). *consumed (optional) receives
 * the TLV's total size. DER rules: minimal tag and length encodings, no
 * indefinite length.
 */
int sgp32_asn1_read_tlv(const uint8_t *data, size_t len, sgp32_asn1_tlv *tlv, size_t *consumed);

/* A cursor over the TLVs inside some contents. */
typedef struct sgp32_asn1_reader {
    const uint8_t *next;
    const uint8_t *end;
    unsigned depth;
} sgp32_asn1_reader;

void sgp32_asn1_reader_init(sgp32_asn1_reader *reader, sgp32_bytes contents, unsigned depth);
bool sgp32_asn1_reader_done(const sgp32_asn1_reader *reader);
/* The next TLV; SGP32_ERR_NOT_FOUND at the end. */
int sgp32_asn1_reader_next(sgp32_asn1_reader *reader, sgp32_asn1_tlv *tlv);
/* A reader over a constructed TLV's contents, one level deeper. */
int sgp32_asn1_reader_enter(const sgp32_asn1_reader *parent, const sgp32_asn1_tlv *tlv,
                            sgp32_asn1_reader *child);

/* Exactly one TLV with the given tag spanning all of data. */
int sgp32_asn1_expect(const uint8_t *data, size_t len, uint32_t tag, sgp32_asn1_tlv *tlv);

/* Walk every TLV of a BER/DER tree (depth-first), checking the structure only.
 * Constructed TLVs are entered; returns the first error. */
typedef int (*sgp32_asn1_visit)(void *ctx, const sgp32_asn1_tlv *tlv, unsigned depth);
int sgp32_asn1_walk(const uint8_t *data, size_t len, sgp32_asn1_visit visit, void *ctx);

/* Decode primitive contents (DER rules). */
int sgp32_asn1_parse_integer(sgp32_bytes value, int64_t *out);
int sgp32_asn1_parse_boolean(sgp32_bytes value, bool *out);
/* Named BIT STRING -> bit n of the result is named bit n. */
int sgp32_asn1_parse_named_bits(sgp32_bytes value, uint32_t *out);
int sgp32_asn1_check_oid(sgp32_bytes value);
int sgp32_asn1_check_utf8(sgp32_bytes value, size_t *characters);
/* Dotted text of OID contents ("2.999.10") into out; SGP32_ERR_BUFFER_TOO_SMALL if it doesn't fit. */
int sgp32_asn1_oid_to_text(sgp32_bytes value, char *out, size_t out_size);
/* Dotted text -> OID contents appended to out. */
int sgp32_asn1_oid_from_text(const char *text, sgp32_buf *out);

/* ------------------------------------------------------------- writer */

size_t sgp32_asn1_tag_len(uint32_t tag);
size_t sgp32_asn1_length_len(size_t len);
/* Tag and length only (for values written piecewise, e.g. BPP segments). */
int sgp32_asn1_write_header(sgp32_buf *out, uint32_t tag, size_t len);
int sgp32_asn1_write_tlv(sgp32_buf *out, uint32_t tag, const uint8_t *value, size_t len);
int sgp32_asn1_write_integer(sgp32_buf *out, uint32_t tag, int64_t value);
int sgp32_asn1_write_boolean(sgp32_buf *out, uint32_t tag, bool value);
int sgp32_asn1_write_named_bits(sgp32_buf *out, uint32_t tag, uint32_t bits);
/* A constructed value whose length is known only at the end:
 *   size_t mark = sgp32_asn1_begin(out); ...write contents...; sgp32_asn1_end(out, tag, mark); */
size_t sgp32_asn1_begin(const sgp32_buf *out);
int sgp32_asn1_end(sgp32_buf *out, uint32_t tag, size_t mark);
/* Write a TLV with its outer tag replaced (implicit re-tagging of a received value). */
int sgp32_asn1_write_retagged(sgp32_buf *out, uint32_t tag, sgp32_bytes tlv);

/* ------------------------------------------------------ schema codec */

typedef enum sgp32_asn1_kind {
    SGP32_ASN1_INTEGER = 1,  /* int64_t */
    SGP32_ASN1_BOOLEAN,      /* bool */
    SGP32_ASN1_NULL,         /* presence only */
    SGP32_ASN1_OCTET_STRING, /* sgp32_bytes (contents) */
    SGP32_ASN1_UTF8_STRING,  /* sgp32_bytes (contents, valid UTF-8) */
    SGP32_ASN1_OBJECT_ID,    /* sgp32_bytes (contents) */
    SGP32_ASN1_BIT_STRING,   /* sgp32_bytes (contents incl. the unused-bits octet) */
    SGP32_ASN1_NAMED_BITS,   /* uint32_t, bit n = named bit n */
    SGP32_ASN1_ANY,          /* sgp32_bytes (a whole TLV); a tag on it is explicit */
    SGP32_ASN1_OPAQUE,       /* sgp32_bytes: a SEQUENCE kept as bytes (Certificate, SubjectPublicKeyInfo).
                                A tag on it is implicit: the view holds the TLV as received, e.g. A5 for
                                a certificate in IpaEuiccData; sgp32_asn1_write_retagged(out, 0x30, v)
                                gives the plain DER. The encoder re-tags whatever it is given. */
    SGP32_ASN1_SEQUENCE,     /* struct with the fields */
    SGP32_ASN1_SEQUENCE_OF,  /* sgp32_asn1_list */
    SGP32_ASN1_CHOICE,       /* struct: int choice; then the alternatives */
} sgp32_asn1_kind;

typedef struct sgp32_asn1_named {
    int64_t value; /* number, or bit position for NAMED_BITS */
    const char *name;
} sgp32_asn1_named;

typedef struct sgp32_asn1_type sgp32_asn1_type;

enum {
    SGP32_ASN1_OPTIONAL = 1,
    SGP32_ASN1_DEFAULT = 2,
    SGP32_ASN1_NO_OFFSET = 0xFFFF,
};

typedef struct sgp32_asn1_field {
    const char *name;
    const sgp32_asn1_type *type;
    uint32_t tag;            /* tag on the wire; 0 for an untagged CHOICE or ANY */
    uint16_t offset;         /* value offset in the containing struct */
    uint16_t present_offset; /* offset of "bool has_x" for OPTIONAL, else NO_OFFSET */
    uint8_t flags;
    int64_t default_value; /* DEFAULT of an INTEGER or BOOLEAN */
} sgp32_asn1_field;

struct sgp32_asn1_type {
    const char *name; /* as in the schema */
    uint8_t kind;     /* sgp32_asn1_kind */
    uint32_t tag;     /* the type's own tag; 0 for an untagged CHOICE or ANY */
    uint16_t size;    /* sizeof the C value */
    uint16_t field_count;
    const sgp32_asn1_field *fields; /* SEQUENCE components or CHOICE alternatives */
    const sgp32_asn1_type *element; /* SEQUENCE OF element */
    uint32_t min_size, max_size;    /* SIZE constraint (bytes, characters or elements) */
    const sgp32_asn1_named *names;  /* named numbers or bits */
    uint16_t name_count;
};

/* SEQUENCE OF in C: items live in the decode arena (or the caller's memory). */
typedef struct sgp32_asn1_list {
    void *items;
    size_t count;
} sgp32_asn1_list;

/*
 * Decode one value of the given type spanning all of data into out (a zeroed
 * struct of type->size bytes). Views point into data; lists are allocated
 * from arena. SEQUENCE and CHOICE structs start with "sgp32_bytes der", the
 * exact received TLV (for signature checks and byte-exact forwarding).
 * Unknown components of a SEQUENCE (extensions) are skipped.
 */
int sgp32_asn1_decode(const sgp32_asn1_type *type, const uint8_t *data, size_t len, sgp32_arena *arena,
                      void *out);
/* Encode value as DER, appended to out. The "der" members are not used. */
int sgp32_asn1_encode(const sgp32_asn1_type *type, const void *value, sgp32_buf *out);
/* Field-by-field equality of two decoded/built values ("der" members ignored). */
bool sgp32_asn1_equal(const sgp32_asn1_type *type, const void *a, const void *b);

/* Where a decode failed: byte offset into data and the schema path,
 * e.g. "EuiccPackageRequest.euiccPackageSigned.counterValue". */
typedef struct sgp32_asn1_diag {
    size_t offset;
    char path[192];
} sgp32_asn1_diag;

int sgp32_asn1_decode_diag(const sgp32_asn1_type *type, const uint8_t *data, size_t len, sgp32_arena *arena,
                           void *out, sgp32_asn1_diag *diag);

#endif

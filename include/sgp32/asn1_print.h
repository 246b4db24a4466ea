/*
 * sgp32 ASN.1: a pretty-printer for decoded values, for debug logs and tools.
 *
 *   EuiccPackageRequest {
 *     euiccPackageSigned {
 *       eimId: "eIM"
 *       eidValue: 89049032123451234512345678901235
 *       counterValue: 2
 *       eimTransactionId: 0102030405060708
 *       euiccPackage: psmoList [enable { iccid: 8949449999999990171, rollbackFlag }]
 *     }
 *     eimSignature: 11111111111111111111111111111111...(64 bytes)
 *   }
 *
 * The layout is stable (tests and tools rely on it):
 *  - "name: value" for a component; a SEQUENCE or SEQUENCE OF opens a block "name {" / "name [",
 *    written on one line ("{ a: 1, b }", "[1, 2]") when that fits in the line width;
 *  - a CHOICE is "alternative: value" (or "alternative {" ...); a NULL is its name alone;
 *  - absent OPTIONAL components are left out;
 *  - INTEGER "2 (profileNotInDisabledState)" when the number is named; named BIT STRING
 *    "{bitA, bitC}"; BOOLEAN true/false; UTF8String quoted, with \" \\ \n \t \xNN escapes for
 *    anything that is not printable (the output is safe for a terminal); OBJECT IDENTIFIER
 *    dotted; OCTET STRING upper-case hex, long ones abbreviated as "0102...(64 bytes)";
 *  - Certificate, CertificateList, SubjectPublicKeyInfo and open types as
 *    "<Certificate, 512 bytes>", with the hex only when it is short (or with full_hex);
 *  - by name: eidValue is shown as its 32 EID digits (plain BCD), an Iccid as its digits
 *    (nibble-swapped BCD, F padding stripped), a VersionType as "v2.3.0", an MCC/MNC as hex
 *    followed by "(MCC 262, MNC 01)". Values that do not fit these codings fall back to hex.
 *
 * The printer reads only the value (never the "der" members) and never fails on any value
 * the decoder produced, including a partial one left by a failed decode: an unset CHOICE is
 * "<none>", a list without items "<missing items>". It allocates nothing itself.
 */
#ifndef SGP32_ASN1_PRINT_H
#define SGP32_ASN1_PRINT_H

#include "sgp32/asn1.h"

typedef struct sgp32_asn1_print_options {
    const char *label; /* the first word; NULL: the type's schema name */
    unsigned indent;   /* every line starts with 2*indent spaces */
    unsigned width;    /* longest line written in one-line form; 0: 96 */
    size_t hex_limit;  /* longer octet strings / opaque values are abbreviated; 0: 32 bytes */
    bool full_hex;     /* never abbreviate: every byte of every value */
    bool no_domain;    /* plain hex for EIDs, ICCIDs, versions and MCC/MNC */
    bool single_line;  /* everything on one line (for one-line log records) */
} sgp32_asn1_print_options;

/*
 * Append the text of value (a decoded or built value of type) to out, ending with a newline.
 * out->data[out->len] is then a NUL (not counted in out->len), so out->data is a C string.
 *
 * Bounded by out->max: when the text does not fit, as much as fits is kept, it ends with
 * "...(truncated)\n" and SGP32_ERR_CAPACITY is returned. SGP32_ERR_NO_MEMORY when the buffer
 * cannot grow; SGP32_ERR_INVALID_ARGUMENT for a NULL argument.
 */
int sgp32_asn1_print(const sgp32_asn1_type *type, const void *value, sgp32_buf *out);
/* The same with options; options NULL means all defaults. */
int sgp32_asn1_print_ex(const sgp32_asn1_type *type, const void *value,
                        const sgp32_asn1_print_options *options, sgp32_buf *out);

/*
 * A schema-less view of BER/DER bytes: one line per TLV with its offset, tag, length and, for
 * primitives, the contents in hex (and as text when printable), constructed TLVs nested:
 *
 *   0000 BF4F len 3 {
 *   0003   02 len 1: 01
 *        }
 *
 * Bytes that are not well-formed are reported in place ("0002 <asn1: indefinite length ...>")
 * and the structural error is returned after the text (same bounds and NUL as above);
 * SGP32_OK when the whole input is well-formed TLVs.
 */
int sgp32_asn1_print_tlv_tree(const uint8_t *data, size_t len, const sgp32_asn1_print_options *options,
                              sgp32_buf *out);

#endif

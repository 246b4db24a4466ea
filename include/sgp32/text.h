/*
 * Hex and base64 for the wire formats that carry DER as text (JSON bindings,
 * CLI input). Portable: the IPA core uses them without OpenSSL.
 */
#ifndef SGP32_TEXT_H
#define SGP32_TEXT_H

#include "sgp32/alloc.h"

/* Upper-case hex of data into out (2*len+1 bytes, NUL-terminated). */
void sgp32_hex_encode(const uint8_t *data, size_t len, char *out);
/* Hex text (either case; spaces, colons and newlines between bytes ignored). */
int sgp32_hex_decode(const char *text, size_t text_len, sgp32_buf *out);

size_t sgp32_base64_encoded_len(size_t len); /* without the NUL */
void sgp32_base64_encode(const uint8_t *data, size_t len, char *out);
/* Standard padded base64; ASCII white space is skipped, anything else rejected. */
int sgp32_base64_decode(const char *text, size_t text_len, sgp32_buf *out);

#endif

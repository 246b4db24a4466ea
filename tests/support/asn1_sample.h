/*
 * Test support: build a sample value of any schema type from its descriptor,
 * so codec properties can be checked for every message type, not a chosen few.
 * variant selects CHOICE alternatives (variant / 2) and whether OPTIONAL
 * components are present (even variants) or absent (odd variants).
 */
#ifndef SGP32_TEST_ASN1_SAMPLE_H
#define SGP32_TEST_ASN1_SAMPLE_H

#include "sgp32/asn1.h"

/* Largest CHOICE fan-out reachable from type: variants 0 .. 2*n-1 cover every alternative. */
size_t sample_variant_count(const sgp32_asn1_type *type);
/* Fill value (type->size bytes, zeroed) with a valid sample; memory from arena. */
int sample_build(const sgp32_asn1_type *type, size_t variant, sgp32_arena *arena, void *value);

#endif

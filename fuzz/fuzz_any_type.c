/*
 * Guards the table-driven codec (lib/asn1/schema_codec.c) for every named type of the schema:
 * the first two bytes (big-endian) pick sgp32_asn1_named_types[n % count], the rest is decoded
 * as that type under the codec oracle of fuzz_common.c. The other targets aim at the messages
 * that arrive from outside; this one makes sure no descriptor is left out.
 */
#include "fuzz_common.h"
#include "sgp32/asn1_types.h"

int sgp32_fuzz_any_type(const uint8_t *data, size_t size)
{
    if (size < 2)
        return SGP32_ERR_INVALID_ARGUMENT;
    size_t pick = ((size_t)data[0] << 8 | data[1]) % sgp32_asn1_named_type_count;
    return sgp32_fuzz_codec(sgp32_asn1_named_types[pick], data + 2, size - 2);
}

SGP32_FUZZ_ENTRY(sgp32_fuzz_any_type);

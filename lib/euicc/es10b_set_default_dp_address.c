/*
 * ES10b.SetDefaultDpAddress, the SGP.32 form (SGP.32 §5.9.25; NOTES §5.3):
 * BF65 {80 defaultDpAddress} -> BF65 {80 setDefaultDpAddressResult}.
 *
 * The address replaces the stored one (an empty one removes it) and is written to NVM before
 * the card answers ok, so an acknowledged address survives any power loss. An address the card
 * cannot keep (longer than EUICC_ADDRESS_MAX bytes, or holding a NUL character) and a failed
 * NVM write answer undefinedError (127) and leave the old address in place.
 * The SGP.22 form (BF3F) is es10a_set_default_dp_address.c.
 */
#include <stddef.h>
#include <string.h>

#include "euicc_local.h"

/* The SGP.22 and SGP.32 forms carry the same UTF8String and answer the same INTEGER; only
 * their tags differ, so one body serves both (es10a_set_default_dp_address.c calls it). */
_Static_assert(sizeof(sgp32_set_default_dp_address_request) ==
                       sizeof(sgp32_sgp32_set_default_dp_address_request) &&
                   offsetof(sgp32_set_default_dp_address_request, default_dp_address) ==
                       offsetof(sgp32_sgp32_set_default_dp_address_request, default_dp_address),
               "both SetDefaultDpAddress requests have one layout");

int euicc_set_default_dp_address(sgp32_euicc *euicc, const sgp32_asn1_type *request_type,
                                 uint32_t response_tag, const uint8_t *request, size_t len, sgp32_buf *out)
{
    enum {
        OK = SGP32_SGP32_SET_DEFAULT_DP_ADDRESS_RESPONSE_SET_DEFAULT_DP_ADDRESS_RESULT_OK,
        UNDEFINED_ERROR =
            SGP32_SGP32_SET_DEFAULT_DP_ADDRESS_RESPONSE_SET_DEFAULT_DP_ADDRESS_RESULT_UNDEFINED_ERROR
    };
    uint8_t storage[256];
    sgp32_arena arena;
    sgp32_arena_init_fixed(&arena, storage, sizeof(storage));
    sgp32_sgp32_set_default_dp_address_request req;
    int rc = euicc_decode(euicc, request_type, request, len, &arena, &req);
    if (rc)
        return rc;
    int64_t result = OK;
    const sgp32_bytes *addr = &req.default_dp_address;
    char *stored = euicc->state.default_dp_address;
    if (addr->len > EUICC_ADDRESS_MAX || (addr->len && memchr(addr->data, 0, addr->len))) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log,
                  "SetDefaultDpAddress: an address of %zu bytes cannot be stored", addr->len);
        result = UNDEFINED_ERROR;
    } else {
        char old[EUICC_ADDRESS_MAX + 1];
        memcpy(old, stored, sizeof(old));
        if (addr->len)
            memcpy(stored, addr->data, addr->len);
        stored[addr->len] = '\0';
        if (euicc_state_save(euicc) != SGP32_OK) {
            memcpy(stored, old, sizeof(old));
            result = UNDEFINED_ERROR;
        } else {
            sgp32_log(SGP32_LOG_INFO, SGP32_LOG_EUICC, &euicc->log, "default SM-DP+ address set to \"%s\"",
                      stored);
        }
    }
    return euicc_write_result(out, response_tag, result);
}

int es10b_set_default_dp_address(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    return euicc_set_default_dp_address(euicc, &sgp32_type_sgp32_set_default_dp_address_request,
                                        SGP32_TAG_SGP32_SET_DEFAULT_DP_ADDRESS_RESPONSE, request, len, out);
}

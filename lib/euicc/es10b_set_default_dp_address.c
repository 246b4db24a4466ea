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
#include <string.h>

#include "euicc_internal.h"

int es10b_set_default_dp_address(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    uint8_t storage[256];
    sgp32_arena arena;
    sgp32_arena_init_fixed(&arena, storage, sizeof(storage));
    sgp32_sgp32_set_default_dp_address_request req;
    int rc =
        euicc_decode(euicc, &sgp32_type_sgp32_set_default_dp_address_request, request, len, &arena, &req);
    if (rc) {
        sgp32_arena_free(&arena);
        return rc;
    }
    sgp32_sgp32_set_default_dp_address_response resp = {0};
    resp.set_default_dp_address_result =
        SGP32_SGP32_SET_DEFAULT_DP_ADDRESS_RESPONSE_SET_DEFAULT_DP_ADDRESS_RESULT_OK;
    const sgp32_bytes *addr = &req.default_dp_address;
    char *stored = euicc->state.default_dp_address;
    if (addr->len > EUICC_ADDRESS_MAX || (addr->len && memchr(addr->data, 0, addr->len))) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log,
                  "SetDefaultDpAddress: an address of %zu bytes cannot be stored", addr->len);
        resp.set_default_dp_address_result =
            SGP32_SGP32_SET_DEFAULT_DP_ADDRESS_RESPONSE_SET_DEFAULT_DP_ADDRESS_RESULT_UNDEFINED_ERROR;
    } else {
        char old[EUICC_ADDRESS_MAX + 1];
        memcpy(old, stored, sizeof(old));
        if (addr->len)
            memcpy(stored, addr->data, addr->len);
        stored[addr->len] = '\0';
        if (euicc_state_save(euicc) != SGP32_OK) {
            memcpy(stored, old, sizeof(old));
            resp.set_default_dp_address_result =
                SGP32_SGP32_SET_DEFAULT_DP_ADDRESS_RESPONSE_SET_DEFAULT_DP_ADDRESS_RESULT_UNDEFINED_ERROR;
        } else {
            sgp32_log(SGP32_LOG_INFO, SGP32_LOG_EUICC, &euicc->log, "default SM-DP+ address set to \"%s\"",
                      stored);
        }
    }
    rc = sgp32_asn1_encode(&sgp32_type_sgp32_set_default_dp_address_response, &resp, out);
    sgp32_arena_free(&arena);
    return rc;
}

/*
 * ES10a.SetDefaultDpAddress, the SGP.22 form (SGP.22 §5.7.4; NOTES §5.3):
 * BF3F {80 defaultDpAddress} -> BF3F {80 setDefaultDpAddressResult}.
 *
 * The address replaces the stored one (an empty one removes it) and is written to NVM before
 * the card answers ok, so an acknowledged address survives any power loss. An address the card
 * cannot keep (longer than EUICC_ADDRESS_MAX bytes, or holding a NUL character) and a failed
 * NVM write answer undefinedError (127) and leave the old address in place.
 * The SGP.32 form (BF65) is es10b_set_default_dp_address.c; both change the same address.
 */
#include "euicc_local.h"

int es10a_set_default_dp_address(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    return euicc_set_default_dp_address(euicc, &sgp32_type_set_default_dp_address_request,
                                        SGP32_TAG_SET_DEFAULT_DP_ADDRESS_RESPONSE, request, len, out);
}

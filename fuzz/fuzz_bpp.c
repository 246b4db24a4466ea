/*
 * Guards the Bound Profile Package decoders (SGP.22 §2.5.5, SGP.32 §3.1.3): BoundProfilePackage
 * itself and the parts an eUICC or a BPP inspector parses one by one: InitialiseSecureChannelRequest,
 * ConfigureISDPRequest, StoreMetadataRequest and SGP32-StoreMetadataRequest,
 * ReplaceSessionKeysRequest, and the results that come back, ProfileInstallationResult and
 * SGP32-ProfileInstallationResult. Every input is tried as each type (they are told apart by
 * their tags), under the codec oracle of fuzz_common.c.
 */
#include "fuzz_common.h"
#include "sgp32/asn1_types.h"

const sgp32_asn1_type *const sgp32_fuzz_bpp_types[] = {
    &sgp32_type_bound_profile_package,        &sgp32_type_initialise_secure_channel_request,
    &sgp32_type_configure_isdp_request,       &sgp32_type_store_metadata_request,
    &sgp32_type_sgp32_store_metadata_request, &sgp32_type_replace_session_keys_request,
    &sgp32_type_profile_installation_result,  &sgp32_type_sgp32_profile_installation_result,
};
const size_t sgp32_fuzz_bpp_type_count = SGP32_ARRAY_LEN(sgp32_fuzz_bpp_types);

int sgp32_fuzz_bpp(const uint8_t *data, size_t size)
{
    return sgp32_fuzz_codec_each(sgp32_fuzz_bpp_types, sgp32_fuzz_bpp_type_count, data, size);
}

SGP32_FUZZ_ENTRY(sgp32_fuzz_bpp);

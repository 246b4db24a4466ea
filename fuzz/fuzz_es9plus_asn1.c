/*
 * Guards the ES9+ ASN.1 binding (SGP.22 §6.6, used by SM-DP+ and by the eIM/IPA as its client):
 * every body is decoded both as RemoteProfileProvisioningRequest and as
 * RemoteProfileProvisioningResponse ([2] CHOICEs over InitiateAuthentication, AuthenticateClient,
 * GetBoundProfilePackage, CancelSession, HandleNotification), under the codec oracle of
 * fuzz_common.c. Both share the tag A2, so every input is tried as both.
 */
#include "fuzz_common.h"
#include "sgp32/asn1_types.h"

const sgp32_asn1_type *const sgp32_fuzz_es9plus_types[] = {
    &sgp32_type_remote_profile_provisioning_request,
    &sgp32_type_remote_profile_provisioning_response,
};
const size_t sgp32_fuzz_es9plus_type_count = SGP32_ARRAY_LEN(sgp32_fuzz_es9plus_types);

int sgp32_fuzz_es9plus_asn1(const uint8_t *data, size_t size)
{
    return sgp32_fuzz_codec_each(sgp32_fuzz_es9plus_types, sgp32_fuzz_es9plus_type_count, data, size);
}

SGP32_FUZZ_ENTRY(sgp32_fuzz_es9plus_asn1);

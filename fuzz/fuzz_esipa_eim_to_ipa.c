/*
 * Guards the IPA side of ESipa (ASN.1 binding, SGP.32 §6.1): every body an eIM sends is decoded as
 * EsipaMessageFromEimToIpa (InitiateAuthenticationResponseEsipa, AuthenticateClientResponseEsipa,
 * GetBoundProfilePackageResponseEsipa, CancelSessionResponseEsipa, TransferEimPackageRequest,
 * GetEimPackageResponse, ProvideEimPackageResultResponse), under the codec oracle of fuzz_common.c.
 * The IPA is the party that hangs in an existing open implementation on BF 4F 80 ...
 */
#include "fuzz_common.h"
#include "sgp32/asn1_types.h"

int sgp32_fuzz_esipa_eim_to_ipa(const uint8_t *data, size_t size)
{
    return sgp32_fuzz_codec(&sgp32_type_esipa_message_from_eim_to_ipa, data, size);
}

SGP32_FUZZ_ENTRY(sgp32_fuzz_esipa_eim_to_ipa);

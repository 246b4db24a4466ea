/*
 * Guards the eIM side of ESipa (ASN.1 binding, SGP.32 §6.1): every body an IPA sends is decoded as
 * EsipaMessageFromIpaToEim (InitiateAuthenticationRequestEsipa, AuthenticateClientRequestEsipa,
 * GetBoundProfilePackageRequestEsipa, CancelSessionRequestEsipa, HandleNotificationEsipa,
 * ProvideEimPackageResult, TransferEimPackageResponse, GetEimPackageRequest), under the codec
 * oracle of fuzz_common.c.
 */
#include "fuzz_common.h"
#include "sgp32/asn1_types.h"

int sgp32_fuzz_esipa_ipa_to_eim(const uint8_t *data, size_t size)
{
    return sgp32_fuzz_codec(&sgp32_type_esipa_message_from_ipa_to_eim, data, size);
}

SGP32_FUZZ_ENTRY(sgp32_fuzz_esipa_ipa_to_eim);

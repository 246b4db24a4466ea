/*
 * Guards the ES10a/b/c decoders (SGP.22 §5.7, SGP.32 §5.9): every request an eUICC receives from
 * its IPA/LPA and every response the IPA/LPA receives back. The first input byte picks one of
 * the types below (n % count), the rest is decoded as that type under the codec oracle of
 * fuzz_common.c. Includes the SGP.32 functions: LoadEuiccPackage (EuiccPackageRequest/Result),
 * GetEimConfigurationData, GetCerts, AddInitialEim, ProfileRollback, ImmediateEnable,
 * ConfigureImmediateProfileEnabling, the SGP.32 EuiccMemoryReset and RetrieveNotificationsList,
 * the fallback and emergency profile functions and GetConnectivityParameters.
 */
#include "fuzz_common.h"
#include "sgp32/asn1_types.h"

const sgp32_asn1_type *const sgp32_fuzz_es10_types[] = {
    /* ES10a */
    &sgp32_type_euicc_configured_addresses_request,
    &sgp32_type_euicc_configured_addresses_response,
    &sgp32_type_set_default_dp_address_request,
    &sgp32_type_set_default_dp_address_response,
    &sgp32_type_sgp32_set_default_dp_address_request,
    &sgp32_type_sgp32_set_default_dp_address_response,
    /* ES10b (SGP.22) */
    &sgp32_type_prepare_download_request,
    &sgp32_type_prepare_download_response,
    &sgp32_type_bound_profile_package,
    &sgp32_type_profile_installation_result,
    &sgp32_type_get_euicc_challenge_request,
    &sgp32_type_get_euicc_challenge_response,
    &sgp32_type_get_euicc_info1_request,
    &sgp32_type_euicc_info1,
    &sgp32_type_get_euicc_info2_request,
    &sgp32_type_euicc_info2,
    &sgp32_type_list_notification_request,
    &sgp32_type_list_notification_response,
    &sgp32_type_retrieve_notifications_list_request,
    &sgp32_type_retrieve_notifications_list_response,
    &sgp32_type_notification_sent_request,
    &sgp32_type_notification_sent_response,
    &sgp32_type_authenticate_server_request,
    &sgp32_type_authenticate_server_response,
    &sgp32_type_cancel_session_request,
    &sgp32_type_cancel_session_response,
    &sgp32_type_load_crl_request,
    &sgp32_type_load_crl_response,
    &sgp32_type_get_rat_request,
    &sgp32_type_get_rat_response,
    &sgp32_type_lpae_activation_request,
    &sgp32_type_lpae_activation_response,
    /* ES10b (SGP.32) */
    &sgp32_type_sgp32_prepare_download_response,
    &sgp32_type_sgp32_profile_installation_result,
    &sgp32_type_sgp32_euicc_info2,
    &sgp32_type_sgp32_retrieve_notifications_list_request,
    &sgp32_type_sgp32_retrieve_notifications_list_response,
    &sgp32_type_sgp32_authenticate_server_response,
    &sgp32_type_sgp32_cancel_session_response,
    &sgp32_type_ipae_activation_request,
    &sgp32_type_ipae_activation_response,
    &sgp32_type_euicc_package_request,
    &sgp32_type_euicc_package_result,
    &sgp32_type_get_eim_configuration_data_request,
    &sgp32_type_get_eim_configuration_data_response,
    &sgp32_type_get_certs_request,
    &sgp32_type_get_certs_response,
    &sgp32_type_add_initial_eim_request,
    &sgp32_type_add_initial_eim_response,
    &sgp32_type_profile_rollback_request,
    &sgp32_type_profile_rollback_response,
    &sgp32_type_immediate_enable_request,
    &sgp32_type_immediate_enable_response,
    &sgp32_type_configure_immediate_profile_enabling_request,
    &sgp32_type_configure_immediate_profile_enabling_response,
    &sgp32_type_execute_fallback_mechanism_request,
    &sgp32_type_execute_fallback_mechanism_response,
    &sgp32_type_return_from_fallback_request,
    &sgp32_type_return_from_fallback_response,
    &sgp32_type_enable_emergency_profile_request,
    &sgp32_type_enable_emergency_profile_response,
    &sgp32_type_disable_emergency_profile_request,
    &sgp32_type_disable_emergency_profile_response,
    &sgp32_type_get_connectivity_parameters_request,
    &sgp32_type_get_connectivity_parameters_response,
    &sgp32_type_sgp32_euicc_memory_reset_request,
    &sgp32_type_sgp32_euicc_memory_reset_response,
    /* ES10c */
    &sgp32_type_profile_info_list_request,
    &sgp32_type_profile_info_list_response,
    &sgp32_type_sgp32_profile_info_list_response,
    &sgp32_type_enable_profile_request,
    &sgp32_type_enable_profile_response,
    &sgp32_type_disable_profile_request,
    &sgp32_type_disable_profile_response,
    &sgp32_type_delete_profile_request,
    &sgp32_type_delete_profile_response,
    &sgp32_type_euicc_memory_reset_request,
    &sgp32_type_euicc_memory_reset_response,
    &sgp32_type_get_euicc_data_request,
    &sgp32_type_get_euicc_data_response,
    &sgp32_type_set_nickname_request,
    &sgp32_type_set_nickname_response,
};
const size_t sgp32_fuzz_es10_type_count = SGP32_ARRAY_LEN(sgp32_fuzz_es10_types);
_Static_assert(SGP32_ARRAY_LEN(sgp32_fuzz_es10_types) <= 256, "the first byte picks the type");

int sgp32_fuzz_es10(const uint8_t *data, size_t size)
{
    return sgp32_fuzz_codec_pick(sgp32_fuzz_es10_types, sgp32_fuzz_es10_type_count, data, size);
}

SGP32_FUZZ_ENTRY(sgp32_fuzz_es10);

/*
 * ES10 entry point: route one DER request (what STORE DATA carried) to the
 * function file for its tag (SGP.22 §5.7, SGP.32 §5.9). The segments of a
 * LoadBoundProfilePackage after the first (A0, A1, 88, A2, A3, 86) carry no
 * ES10 tag of their own and go to the ES8+ code while a download is loading.
 */
#include <string.h>

#include "euicc_internal.h"

static const struct {
    uint32_t tag;
    euicc_es10_handler handler;
    const char *name;
} functions[] = {
    {0xBF3C, es10a_get_euicc_configured_addresses, "GetEuiccConfiguredAddresses"},
    {0xBF3F, es10a_set_default_dp_address, "SetDefaultDpAddress"},
    {0xBF20, es10b_get_euicc_info1, "GetEUICCInfo1"},
    {0xBF22, es10b_get_euicc_info2, "GetEUICCInfo2"},
    {0xBF2E, es10b_get_euicc_challenge, "GetEUICCChallenge"},
    {0xBF38, es10b_authenticate_server, "AuthenticateServer"},
    {0xBF21, es10b_prepare_download, "PrepareDownload"},
    {0xBF36, es10b_load_bound_profile_package, "LoadBoundProfilePackage"},
    {0xBF41, es10b_cancel_session, "CancelSession"},
    {0xBF28, es10b_list_notification, "ListNotification"},
    {0xBF2B, es10b_retrieve_notifications_list, "RetrieveNotificationsList"},
    {0xBF30, es10b_remove_notification_from_list, "RemoveNotificationFromList"},
    {0xBF43, es10b_get_rat, "GetRAT"},
    {0xBF51, es10b_load_euicc_package, "LoadEuiccPackage"},
    {0xBF55, es10b_get_eim_configuration_data, "GetEimConfigurationData"},
    {0xBF56, es10b_get_certs, "GetCerts"},
    {0xBF57, es10b_add_initial_eim, "AddInitialEim"},
    {0xBF58, es10b_profile_rollback, "ProfileRollback"},
    {0xBF59, es10b_configure_immediate_profile_enabling, "ConfigureImmediateProfileEnabling"},
    {0xBF5A, es10b_immediate_enable, "ImmediateEnable"},
    {0xBF5B, es10b_enable_emergency_profile, "EnableEmergencyProfile"},
    {0xBF5C, es10b_disable_emergency_profile, "DisableEmergencyProfile"},
    {0xBF5D, es10b_execute_fallback_mechanism, "ExecuteFallbackMechanism"},
    {0xBF5E, es10b_return_from_fallback, "ReturnFromFallback"},
    {0xBF5F, es10b_get_connectivity_parameters, "GetConnectivityParameters"},
    {0xBF65, es10b_set_default_dp_address, "SetDefaultDpAddress (SGP.32)"},
    {0xBF42, es10b_ipae_activation, "IpaeActivation"},
    {0xBF2D, es10c_get_profiles_info, "GetProfilesInfo"},
    {0xBF31, es10c_enable_profile, "EnableProfile"},
    {0xBF32, es10c_disable_profile, "DisableProfile"},
    {0xBF33, es10c_delete_profile, "DeleteProfile"},
    {0xBF64, es10c_euicc_memory_reset, "EuiccMemoryReset"},
    {0xBF3E, es10c_get_eid, "GetEID"},
    {0xBF29, es10c_set_nickname, "SetNickname"},
};

/* The leading tag, read from the first bytes only: a BPP's first segment is not a whole TLV. */
static uint32_t leading_tag(const uint8_t *p, size_t len)
{
    if (len == 0)
        return 0;
    if ((p[0] & 0x1F) != 0x1F)
        return p[0];
    if (len < 2)
        return 0;
    if (!(p[1] & 0x80))
        return (uint32_t)p[0] << 8 | p[1];
    return len < 3 ? 0 : (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

/*
 * NOTES §2 rule 4: a lone untagged component gets [0], so ImmediateEnableRequest{TRUE} is
 * BF5A 03 80 01 FF and GetCertsRequest BF56 16 80 14 <SKI>. One public IPA sends the universal
 * tags instead (01 01 FF, 04 14 ...). A certified card is expected to take both, so such a
 * request is rewritten to the schema's form here, once, before any function sees it.
 */
static bool universal_tag_form(uint32_t tag, const uint8_t *p, size_t len, uint8_t *fixed)
{
    static const uint32_t boolean_requests[] = {0xBF58, 0xBF5A, 0xBF5B, 0xBF5C, 0xBF5D, 0xBF5E};
    bool lone_boolean = false;
    for (size_t i = 0; i < SGP32_ARRAY_LEN(boolean_requests); i++)
        lone_boolean = lone_boolean || boolean_requests[i] == tag;
    if (lone_boolean && len == 6 && p[2] == 0x03 && p[3] == 0x01 && p[4] == 0x01) {
        memcpy(fixed, p, len);
        fixed[3] = 0x80;
        return true;
    }
    if (tag == 0xBF56 && len == 25 && p[2] == 0x16 && p[3] == 0x04 && p[4] == 0x14) {
        memcpy(fixed, p, len);
        fixed[3] = 0x80;
        return true;
    }
    return false;
}

int sgp32_euicc_es10(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *response)
{
    if (!euicc || !response || (!request && len))
        return SGP32_ERR_INVALID_ARGUMENT;
    uint32_t tag = leading_tag(request, len);
    uint8_t fixed[32];
    if (universal_tag_form(tag, request, len, fixed)) {
        sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log,
                  "request %X uses a universal tag where the schema has [0]: accepted", (unsigned)tag);
        request = fixed;
    }
    if (tag != 0xBF36 && euicc_download_takes_segment(euicc, tag))
        return es10b_load_bound_profile_package(euicc, request, len, response);
    for (size_t i = 0; i < SGP32_ARRAY_LEN(functions); i++) {
        if (functions[i].tag != tag)
            continue;
        sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log, "ES10 %s (%zu bytes)", functions[i].name,
                  len);
        size_t before = response->len;
        int rc = functions[i].handler(euicc, request, len, response);
        if (rc)
            response->len = before;
        return rc;
    }
    sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log, "no ES10 function for tag %X", (unsigned)tag);
    return SGP32_ERR_NOT_FOUND;
}

/*
 * ES10c.EuiccMemoryReset, SGP.32 form (SGP.32 §5.9.5; SGP.22 §5.7.19): BF64 { 82 resetOptions } ->
 * BF64 { 80 resetResult, [81 resetEimResult], [82 resetImmediateEnableConfigResult] }.
 *   resetOptions       deleteOperationalProfiles 0, deleteFieldLoadedTestProfiles 1,
 *                      resetDefaultSmdpAddress 2, deletePreLoadedTestProfiles 3,
 *                      deleteProvisioningProfiles 4, resetEimConfigData 5, resetImmediateEnableConfig 6
 *   resetResult        ok 0, nothingToDelete 1, catBusy 5, ecallActive 104, undefinedError 127
 *   resetEimResult     ok 0, nothingToDelete 1, eimResetNotSupported 2 (present when bit 5 is asked)
 *   resetIECResult     ok 0, resetIECNotSupported 1 (present when bit 6 is asked)
 *
 * Why these rules:
 *   - profiles are deleted whatever their state, the enabled one included, by class; a test profile
 *     is "pre-loaded" when it was made with the card (a configured preloaded profile no SM-DP+
 *     installed) and "field-loaded" otherwise;
 *   - as in SGP.22, a memory reset sends no delete notifications, and the pending notifications
 *     (and PIRs) of the deleted profiles go with them; eUICC package results stay for their eIM;
 *   - resetResult covers bits 0-4: nothingToDelete when they were asked but found nothing (no
 *     matching profile, no default SM-DP+ address to clear); ok when only bits 5/6 were asked;
 *   - resetDefaultSmdpAddress leaves the card without a default SM-DP+ address (GetEuiccConfigured-
 *     Addresses then omits it);
 *   - resetEimConfigData removes every eIM (so AddInitialEim is possible again) and any pending
 *     rollback authorisation, which belonged to an eIM's package;
 *   - deleting profiles while an eCall holds the emergency profile is refused (ecallActive), and
 *     nothing is done;
 *   - everything is written to the NVM before the answer; when that fails nothing changed and
 *     every result is undefinedError. Stored profile elements are removed after the write.
 */
#include <string.h>

#include "euicc_local.h"

enum {
    OPT_OPERATIONAL = SGP32_SGP32_EUICC_MEMORY_RESET_REQUEST_RESET_OPTIONS_DELETE_OPERATIONAL_PROFILES,
    OPT_FIELD_TEST = SGP32_SGP32_EUICC_MEMORY_RESET_REQUEST_RESET_OPTIONS_DELETE_FIELD_LOADED_TEST_PROFILES,
    OPT_DEFAULT_SMDP = SGP32_SGP32_EUICC_MEMORY_RESET_REQUEST_RESET_OPTIONS_RESET_DEFAULT_SMDP_ADDRESS,
    OPT_PRELOADED_TEST = SGP32_SGP32_EUICC_MEMORY_RESET_REQUEST_RESET_OPTIONS_DELETE_PRE_LOADED_TEST_PROFILES,
    OPT_PROVISIONING = SGP32_SGP32_EUICC_MEMORY_RESET_REQUEST_RESET_OPTIONS_DELETE_PROVISIONING_PROFILES,
    OPT_EIM = SGP32_SGP32_EUICC_MEMORY_RESET_REQUEST_RESET_OPTIONS_RESET_EIM_CONFIG_DATA,
    OPT_IMMEDIATE_ENABLE = SGP32_SGP32_EUICC_MEMORY_RESET_REQUEST_RESET_OPTIONS_RESET_IMMEDIATE_ENABLE_CONFIG,
    OPT_PROFILES = OPT_OPERATIONAL | OPT_FIELD_TEST | OPT_PRELOADED_TEST | OPT_PROVISIONING,
};

static bool to_delete(const sgp32_euicc *euicc, const euicc_profile *p, uint32_t options)
{
    switch (p->profile_class) {
    case SGP32_PROFILE_CLASS_OPERATIONAL: return options & OPT_OPERATIONAL;
    case SGP32_PROFILE_CLASS_PROVISIONING: return options & OPT_PROVISIONING;
    case SGP32_PROFILE_CLASS_TEST:
        return options & (euicc_profile_preloaded(euicc, p) ? OPT_PRELOADED_TEST : OPT_FIELD_TEST);
    default: return false;
    }
}

int es10c_euicc_memory_reset(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, EUICC_LOCAL_ARENA);
    sgp32_sgp32_euicc_memory_reset_request req = {0};
    int rc = euicc_decode(euicc, &sgp32_type_sgp32_euicc_memory_reset_request, request, len, &arena, &req);
    sgp32_arena_free(&arena);
    if (rc)
        return rc;

    euicc_state *s = &euicc->state;
    uint32_t options = req.reset_options;
    sgp32_sgp32_euicc_memory_reset_response resp = {0};
    size_t deleted = 0;
    bool address_reset = false;
    euicc_change change;
    if (s->emergency_active && (options & OPT_PROFILES)) {
        resp.reset_result = SGP32_SGP32_EUICC_MEMORY_RESET_RESPONSE_RESET_RESULT_ECALL_ACTIVE;
    } else if (euicc_change_begin(euicc, &change) != SGP32_OK) {
        resp.reset_result = SGP32_SGP32_EUICC_MEMORY_RESET_RESPONSE_RESET_RESULT_UNDEFINED_ERROR;
    } else {
        for (size_t i = s->profile_count; i-- > 0;)
            if (to_delete(euicc, &s->profiles[i], options)) {
                euicc_change_delete_profile(euicc, &change, &s->profiles[i], true);
                deleted++;
            }
        euicc_settle_special_states(euicc);
        if ((options & OPT_DEFAULT_SMDP) && s->default_dp_address[0]) {
            memset(s->default_dp_address, 0, sizeof(s->default_dp_address));
            address_reset = true;
        }
        resp.reset_result = (options & (OPT_PROFILES | OPT_DEFAULT_SMDP)) && !deleted && !address_reset
                                ? SGP32_SGP32_EUICC_MEMORY_RESET_RESPONSE_RESET_RESULT_NOTHING_TO_DELETE
                                : SGP32_SGP32_EUICC_MEMORY_RESET_RESPONSE_RESET_RESULT_OK;
        if ((resp.has_reset_eim_result = options & OPT_EIM)) {
            resp.reset_eim_result =
                s->eim_count ? SGP32_SGP32_EUICC_MEMORY_RESET_RESPONSE_RESET_EIM_RESULT_OK
                             : SGP32_SGP32_EUICC_MEMORY_RESET_RESPONSE_RESET_EIM_RESULT_NOTHING_TO_DELETE;
            memset(s->eims, 0, sizeof(s->eims));
            s->eim_count = 0;
            s->rollback_allowed = false;
        }
        if ((resp.has_reset_immediate_enable_config_result = options & OPT_IMMEDIATE_ENABLE)) {
            resp.reset_immediate_enable_config_result =
                SGP32_SGP32_EUICC_MEMORY_RESET_RESPONSE_RESET_IMMEDIATE_ENABLE_CONFIG_RESULT_OK;
            s->immediate_enable_flag = false;
            memset(s->immediate_default_smdp_oid, 0, sizeof(s->immediate_default_smdp_oid));
            s->immediate_default_smdp_oid_len = 0;
            memset(s->immediate_default_smdp_address, 0, sizeof(s->immediate_default_smdp_address));
            s->has_immediate_default_smdp_address = false;
        }
        if (euicc_change_commit(euicc, &change) != SGP32_OK) {
            resp.reset_result = SGP32_SGP32_EUICC_MEMORY_RESET_RESPONSE_RESET_RESULT_UNDEFINED_ERROR;
            resp.reset_eim_result = SGP32_SGP32_EUICC_MEMORY_RESET_RESPONSE_RESET_EIM_RESULT_UNDEFINED_ERROR;
            resp.reset_immediate_enable_config_result =
                SGP32_SGP32_EUICC_MEMORY_RESET_RESPONSE_RESET_IMMEDIATE_ENABLE_CONFIG_RESULT_UNDEFINED_ERROR;
            deleted = 0;
            address_reset = false;
        }
    }
    sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log,
              "EuiccMemoryReset (options %02X): result %lld, %zu profile(s) deleted%s%s%s", (unsigned)options,
              (long long)resp.reset_result, deleted, address_reset ? ", default SM-DP+ address cleared" : "",
              resp.has_reset_eim_result ? ", eIM configuration reset" : "",
              resp.has_reset_immediate_enable_config_result ? ", immediate enable reset" : "");
    return sgp32_asn1_encode(&sgp32_type_sgp32_euicc_memory_reset_response, &resp, out);
}

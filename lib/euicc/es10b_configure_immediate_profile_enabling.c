/*
 * ES10b.ConfigureImmediateProfileEnabling (SGP.32 §5.9.17):
 * BF59 { [80 00 immediateEnableFlag] [81 defaultSmdpOid] [82 defaultSmdpAddress] } ->
 * BF59 { 80 result }: ok 0, insufficientMemory 1, associatedEimAlreadyExists 2, undefinedError 127.
 *
 * Why it is refused once an eIM exists: like AddInitialEim this is the local, unsigned way to set
 * up a card before it has a manager; afterwards only the eIM may change the setting, with the
 * signed configureImmediateEnable PSMO (associatedEimAlreadyExists). The request replaces the whole
 * configuration: an absent flag switches immediate enable off, absent OID/address clear them. The
 * configuration is written to the NVM before the answer.
 */
#include <string.h>

#include "euicc_local.h"

int es10b_configure_immediate_profile_enabling(sgp32_euicc *euicc, const uint8_t *request, size_t len,
                                               sgp32_buf *out)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, EUICC_LOCAL_ARENA);
    sgp32_configure_immediate_profile_enabling_request req = {0};
    int rc = euicc_decode(euicc, &sgp32_type_configure_immediate_profile_enabling_request, request, len,
                          &arena, &req);
    sgp32_arena_free(&arena);
    if (rc)
        return rc;

    euicc_state *s = &euicc->state;
    int64_t result = SGP32_CONFIGURE_IMMEDIATE_PROFILE_ENABLING_RESPONSE_CONFIG_IMMEDIATE_ENABLE_RESULT_OK;
    euicc_change change;
    if (s->eim_count > 0)
        result =
            SGP32_CONFIGURE_IMMEDIATE_PROFILE_ENABLING_RESPONSE_CONFIG_IMMEDIATE_ENABLE_RESULT_ASSOCIATED_EIM_ALREADY_EXISTS;
    else if ((req.has_default_smdp_oid && req.default_smdp_oid.len > sizeof(s->immediate_default_smdp_oid)) ||
             (req.has_default_smdp_address &&
              (req.default_smdp_address.len > EUICC_ADDRESS_MAX ||
               memchr(req.default_smdp_address.data, 0, req.default_smdp_address.len))))
        result =
            SGP32_CONFIGURE_IMMEDIATE_PROFILE_ENABLING_RESPONSE_CONFIG_IMMEDIATE_ENABLE_RESULT_INSUFFICIENT_MEMORY;
    else if (euicc_change_begin(euicc, &change) != SGP32_OK)
        result =
            SGP32_CONFIGURE_IMMEDIATE_PROFILE_ENABLING_RESPONSE_CONFIG_IMMEDIATE_ENABLE_RESULT_UNDEFINED_ERROR;
    else {
        s->immediate_enable_flag = req.immediate_enable_flag;
        memset(s->immediate_default_smdp_oid, 0, sizeof(s->immediate_default_smdp_oid));
        s->immediate_default_smdp_oid_len = 0;
        if (req.has_default_smdp_oid) {
            memcpy(s->immediate_default_smdp_oid, req.default_smdp_oid.data, req.default_smdp_oid.len);
            s->immediate_default_smdp_oid_len = (uint8_t)req.default_smdp_oid.len;
        }
        memset(s->immediate_default_smdp_address, 0, sizeof(s->immediate_default_smdp_address));
        s->has_immediate_default_smdp_address = req.has_default_smdp_address;
        if (req.has_default_smdp_address)
            memcpy(s->immediate_default_smdp_address, req.default_smdp_address.data,
                   req.default_smdp_address.len);
        if (euicc_change_commit(euicc, &change) != SGP32_OK)
            result =
                SGP32_CONFIGURE_IMMEDIATE_PROFILE_ENABLING_RESPONSE_CONFIG_IMMEDIATE_ENABLE_RESULT_UNDEFINED_ERROR;
    }
    sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log,
              "ConfigureImmediateProfileEnabling: result %lld (immediate enable %s%s%s)", (long long)result,
              s->immediate_enable_flag ? "on" : "off",
              s->immediate_default_smdp_oid_len ? ", SM-DP+ OID" : "",
              s->has_immediate_default_smdp_address ? ", SM-DP+ address" : "");
    return euicc_write_result(out, SGP32_TAG_CONFIGURE_IMMEDIATE_PROFILE_ENABLING_RESPONSE, result);
}

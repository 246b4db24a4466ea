/*
 * ES8+.StoreMetadata (SGP.22 §5.5.3, SGP.32 §2.5; NOTES §7): the A1 of the BPP, one or more 88
 * segments (MAC only, session keys) whose payloads join into SGP32-StoreMetadataRequest
 * BF25 {5A iccid, 91 serviceProviderName, 92 profileName, [93 iconType], [94 icon],
 *       [95 profileClass], [B6 notificationConfigurationInfo], [B7 profileOwner],
 *       [99 profilePolicyRules], [BF22/BF23 service-specific data], [9F7B ecallIndication],
 *       [9F67 fallbackAllowed]}.
 *
 * Errors (bppCommandId storeMetadata 2):
 *   a MAC failure                                              scp03tSecurityError (8)
 *   more than EUICC_DL_METADATA_MAX bytes of metadata           insufficientMemory (10)
 *   not one SGP32-StoreMetadataRequest, a malformed ICCID,
 *   a notification address longer than 255                      incorrectInputValues (1)
 *   an ICCID already installed                                  iccidAlreadyExists (9)
 *   profileClass other than test, provisioning, operational     unsupportedProfileClass (6)
 *   no room for one more profile or notification configuration  insufficientMemory (10)
 *   ppr1/ppr2 not authorised by the RAT for the profile owner    pprNotAllowed (15)
 * The eUICC only sees the BPP: whether the metadata matches what the eIM/IPA saw in
 * AuthenticateClient is their check (metadataMismatch is a CancelSession reason).
 */
#include <string.h>

#include "es8_download.h"

int64_t es8_store_metadata_segment(sgp32_euicc *euicc, euicc_download *dl, sgp32_bytes tlv88)
{
    sgp32_asn1_tlv tlv;
    if (sgp32_asn1_read_tlv(tlv88.data, tlv88.len, &tlv, NULL) != SGP32_OK ||
        tlv.value.len < SGP32_SCP03T_MAC_LEN)
        return SGP32_ERROR_REASON_SCP03T_STRUCTURE_ERROR;
    int rc = sgp32_bsp_unprotect(&dl->bsp, 0x88, false, tlv.value.data, tlv.value.len, &dl->metadata);
    if (rc) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log, "StoreMetadata segment refused: %s",
                  rc == SGP32_ERR_CAPACITY ? "metadata too large" : sgp32_err_str(rc));
        return es8_bsp_failure_reason(rc);
    }
    return 0;
}

/* An allowed operator (MCC/MNC nibbles, E = any; GID1/GID2 when the rule names them) covers owner. */
static bool operator_matches(const sgp32_operator_id *allowed, const sgp32_operator_id *owner)
{
    if (allowed->mcc_mnc.len != 3 || owner->mcc_mnc.len != 3)
        return false;
    for (size_t i = 0; i < 3; i++)
        for (int shift = 0; shift <= 4; shift += 4) {
            uint8_t a = (uint8_t)(allowed->mcc_mnc.data[i] >> shift & 0xF);
            uint8_t o = (uint8_t)(owner->mcc_mnc.data[i] >> shift & 0xF);
            if (a != 0xE && a != o)
                return false;
        }
    if (allowed->has_gid1 && (!owner->has_gid1 || !sgp32_bytes_equal(allowed->gid1, owner->gid1)))
        return false;
    if (allowed->has_gid2 && (!owner->has_gid2 || !sgp32_bytes_equal(allowed->gid2, owner->gid2)))
        return false;
    return true;
}

/* SGP.22 §2.9.2: each PPR set must be allowed for the profile owner by a rule of the RAT (what
 * GetRAT answers; no RAT means no PPR is allowed). pprUpdateControl is not a rule. */
static int64_t check_pprs(sgp32_euicc *euicc, const sgp32_sgp32_store_metadata_request *md)
{
    uint32_t pprs = md->has_profile_policy_rules
                        ? md->profile_policy_rules & (SGP32_PPR_IDS_PPR1 | SGP32_PPR_IDS_PPR2)
                        : 0;
    if (!pprs)
        return 0;
    if (!md->has_profile_owner)
        return SGP32_ERROR_REASON_PPR_NOT_ALLOWED;
    static const uint8_t request[] = {0xBF, 0x43, 0x00};
    sgp32_buf rat;
    sgp32_buf_init(&rat, 8 * 1024);
    sgp32_arena arena;
    sgp32_arena_init(&arena, 16 * 1024);
    sgp32_get_rat_response response;
    memset(&response, 0, sizeof(response));
    uint32_t allowed = 0;
    if (es10b_get_rat(euicc, request, sizeof(request), &rat) == SGP32_OK &&
        sgp32_asn1_decode(&sgp32_type_get_rat_response, rat.data, rat.len, &arena, &response) == SGP32_OK) {
        for (size_t i = 0; i < response.rat.count; i++) {
            const sgp32_profile_policy_authorisation_rule *rule = &response.rat.items[i];
            for (size_t j = 0; j < rule->allowed_operators.count; j++)
                if (operator_matches(&rule->allowed_operators.items[j], &md->profile_owner))
                    allowed |= rule->ppr_ids;
        }
    }
    sgp32_arena_free(&arena);
    sgp32_buf_free(&rat);
    return (pprs & ~allowed) ? SGP32_ERROR_REASON_PPR_NOT_ALLOWED : 0;
}

static bool iccid_well_formed(sgp32_bytes iccid)
{
    if (iccid.len != 10)
        return false;
    char digits[21];
    uint8_t again[10];
    euicc_iccid_to_text(iccid.data, digits);
    return euicc_iccid_from_text(digits, again) == SGP32_OK && memcmp(again, iccid.data, 10) == 0;
}

static void copy_text(char *dst, size_t cap, sgp32_bytes text)
{
    size_t n = text.len < cap - 1 ? text.len : cap - 1; /* the schema's SIZE already bounds it */
    memcpy(dst, text.data, n);
    dst[n] = '\0';
}

static int64_t keep(euicc_download *dl, const sgp32_sgp32_store_metadata_request *md)
{
    euicc_profile *p = &dl->pending;
    memset(p, 0, sizeof(*p));
    memcpy(p->iccid, md->iccid.data, 10);
    p->profile_class = md->profile_class;
    copy_text(p->service_provider_name, sizeof(p->service_provider_name), md->service_provider_name);
    copy_text(p->profile_name, sizeof(p->profile_name), md->profile_name);
    if (md->has_icon_type) {
        p->has_icon_type = true;
        p->icon_type = md->icon_type;
    }
    if (md->has_icon) {
        if (md->icon.len > sizeof(p->icon))
            return SGP32_ERROR_REASON_INCORRECT_INPUT_VALUES;
        memcpy(p->icon, md->icon.data, md->icon.len);
        p->icon_len = (uint16_t)md->icon.len;
    }
    if (md->has_notification_configuration_info) {
        if (md->notification_configuration_info.count > EUICC_MAX_NOTIFICATION_CONFIG)
            return SGP32_ERROR_REASON_INSTALL_FAILED_DUE_TO_INSUFFICIENT_MEMORY_FOR_PROFILE;
        for (size_t i = 0; i < md->notification_configuration_info.count; i++) {
            const sgp32_notification_configuration_information *n =
                &md->notification_configuration_info.items[i];
            if (n->notification_address.len > EUICC_ADDRESS_MAX)
                return SGP32_ERROR_REASON_INCORRECT_INPUT_VALUES;
            p->notification_config[i].events = n->profile_management_operation;
            copy_text(p->notification_config[i].address, sizeof(p->notification_config[i].address),
                      n->notification_address);
        }
        p->notification_config_count = (uint8_t)md->notification_configuration_info.count;
    }
    if (md->has_profile_owner) {
        p->has_owner = true;
        memcpy(p->owner_mcc_mnc, md->profile_owner.mcc_mnc.data, 3);
    }
    if (md->has_profile_policy_rules) {
        p->has_ppr = true;
        p->ppr = md->profile_policy_rules;
    }
    p->ecall_indication = md->has_ecall_indication && md->ecall_indication;
    if (md->has_fallback_allowed) {
        p->has_fallback_allowed = true;
        p->fallback_allowed = md->fallback_allowed;
    }
    memcpy(p->smdp_oid, dl->smdp_oid, dl->smdp_oid_len);
    p->smdp_oid_len = (uint8_t)dl->smdp_oid_len;
    dl->has_metadata = true;
    return 0;
}

int64_t es8_store_metadata_finish(sgp32_euicc *euicc, euicc_download *dl)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, 16 * 1024);
    sgp32_sgp32_store_metadata_request md;
    memset(&md, 0, sizeof(md));
    int64_t reason = 0;
    if (euicc_decode(euicc, &sgp32_type_sgp32_store_metadata_request, dl->metadata.data, dl->metadata.len,
                     &arena, &md) ||
        !iccid_well_formed(md.iccid))
        reason = SGP32_ERROR_REASON_INCORRECT_INPUT_VALUES;
    if (!reason && euicc_find_profile_by_iccid(euicc, md.iccid.data))
        reason = SGP32_ERROR_REASON_INSTALL_FAILED_DUE_TO_ICCID_ALREADY_EXISTS_ON_EUICC;
    if (!reason && md.profile_class != SGP32_PROFILE_CLASS_TEST &&
        md.profile_class != SGP32_PROFILE_CLASS_PROVISIONING &&
        md.profile_class != SGP32_PROFILE_CLASS_OPERATIONAL)
        reason = SGP32_ERROR_REASON_UNSUPPORTED_PROFILE_CLASS;
    if (!reason && euicc->state.profile_count >= EUICC_MAX_PROFILES)
        reason = SGP32_ERROR_REASON_INSTALL_FAILED_DUE_TO_INSUFFICIENT_MEMORY_FOR_PROFILE;
    if (!reason)
        reason = check_pprs(euicc, &md);
    if (!reason)
        reason = keep(dl, &md);
    if (reason)
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log, "StoreMetadata refused: reason %lld",
                  (long long)reason);
    sgp32_arena_free(&arena);
    sgp32_buf_free(&dl->metadata); /* kept as dl->pending from here on */
    return reason;
}

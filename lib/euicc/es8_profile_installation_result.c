/*
 * The end of a download (SGP.22 §5.7.6, §2.5.6 ProfileInstallationResult; NOTES §6.1, §7 PIR):
 * install the profile, then answer the PIR.
 *
 * On success the profile joins the state, disabled, with the next ISD-P AID
 * (A0000005591010FFFFFFFF8900 + next_isdp_number as two bytes, as at manufacture), the metadata
 * (names, icon, class, notification configuration, owner, PPRs, ecall, fallbackAllowed) and the
 * SM-DP+ OID of CERT.DPpb; its profile elements are saved as the store object
 * "profile-<ICCID digits>"; last_installed_iccid is set for ImmediateEnable.
 *
 * PIR = BF37 {BF27 {80 transactionId, BF2F {80 seqNumber, 81 02 07 80 (install),
 *                   0C notificationAddress, [5A iccid]}, 06 smdpOid,
 *                   A2 {A0 {4F isdpAid, 04 simaResponse} | A1 {80 bppCommandId, 81 errorReason}}},
 *             5F37 euiccSignPIR over the whole BF27 TLV}
 * notificationAddress is the SM-DP+ address of serverSigned1 (the PIR goes back to the SM-DP+
 * that did the download). Success and error PIRs both join the pending list
 * (EUICC_PENDING_PIR) until RemoveNotificationFromList, and the state is written before the
 * answer, so a power loss after the answer keeps the profile and its PIR.
 */
#include <stdio.h>
#include <string.h>

#include "es8_download.h"

static const uint8_t sima_success[EUICC_DL_SIMA_SUCCESS_LEN] = {0x30, 0x07, 0xA0, 0x05, 0x30,
                                                                0x03, 0x80, 0x01, 0x00};

static void object_name(const uint8_t iccid[10], char name[40])
{
    char digits[21];
    euicc_iccid_to_text(iccid, digits);
    snprintf(name, 40, "profile-%s", digits);
}

/* Add the profile to the state and save its elements. Nothing is left behind on failure. */
static int64_t install(sgp32_euicc *euicc, euicc_download *dl, euicc_profile **installed)
{
    euicc_state *s = &euicc->state;
    if (!dl->has_metadata || s->profile_count >= EUICC_MAX_PROFILES)
        return SGP32_ERROR_REASON_INSTALL_FAILED_DUE_TO_INSUFFICIENT_MEMORY_FOR_PROFILE;
    if (euicc_find_profile_by_iccid(euicc, dl->pending.iccid))
        return SGP32_ERROR_REASON_INSTALL_FAILED_DUE_TO_ICCID_ALREADY_EXISTS_ON_EUICC;
    char name[40];
    object_name(dl->pending.iccid, name);
    int rc = euicc->config.store.save(euicc->config.store.ctx, name, dl->elements.data, dl->parsed);
    if (rc) {
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_EUICC, &euicc->log, "saving %s failed: %s", name,
                  sgp32_err_str(rc));
        return rc == SGP32_ERR_CAPACITY
                   ? SGP32_ERROR_REASON_INSTALL_FAILED_DUE_TO_INSUFFICIENT_MEMORY_FOR_PROFILE
                   : SGP32_ERROR_REASON_INSTALL_FAILED_DUE_TO_UNKNOWN_ERROR;
    }
    static const uint8_t aid_prefix[14] = {0xA0, 0x00, 0x00, 0x05, 0x59, 0x10, 0x10,
                                           0xFF, 0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00};
    euicc_profile *p = &s->profiles[s->profile_count++];
    *p = dl->pending;
    p->enabled = false;
    memcpy(p->aid, aid_prefix, sizeof(aid_prefix));
    p->aid[14] = (uint8_t)(s->next_isdp_number >> 8);
    p->aid[15] = (uint8_t)s->next_isdp_number;
    p->aid_len = 16;
    s->next_isdp_number++;
    *installed = p;
    return 0;
}

/* Build and sign the PIR into n->der. */
static int build(sgp32_euicc *euicc, const euicc_download *dl, const euicc_profile *installed, int64_t reason,
                 euicc_pending *n)
{
    const sgp32_euicc_identity *identity = &euicc->config.identities[dl->identity_index];
    sgp32_profile_installation_result_data d;
    memset(&d, 0, sizeof(d));
    d.transaction_id = SGP32_BYTES(dl->transaction_id, dl->transaction_id_len);
    d.notification_metadata.seq_number = n->seq_number;
    d.notification_metadata.profile_management_operation = SGP32_NOTIFICATION_EVENT_NOTIFICATION_INSTALL;
    d.notification_metadata.notification_address = SGP32_BYTES(n->address, strlen(n->address));
    d.notification_metadata.has_iccid = n->has_iccid;
    d.notification_metadata.iccid = SGP32_BYTES(n->iccid, 10);
    d.smdp_oid = SGP32_BYTES(dl->smdp_oid, dl->smdp_oid_len);
    if (installed) {
        d.final_result.choice = SGP32_PROFILE_INSTALLATION_RESULT_DATA_FINAL_RESULT_SUCCESS_RESULT;
        d.final_result.u.success_result.aid = SGP32_BYTES(installed->aid, installed->aid_len);
        d.final_result.u.success_result.sima_response = SGP32_BYTES(sima_success, sizeof(sima_success));
    } else {
        d.final_result.choice = SGP32_PROFILE_INSTALLATION_RESULT_DATA_FINAL_RESULT_ERROR_RESULT;
        d.final_result.u.error_result.bpp_command_id = dl->command;
        d.final_result.u.error_result.error_reason = reason;
    }
    sgp32_buf out;
    sgp32_buf_init_fixed(&out, n->der, sizeof(n->der));
    size_t outer = sgp32_asn1_begin(&out);
    int rc = sgp32_asn1_encode(&sgp32_type_profile_installation_result_data, &d, &out);
    uint8_t sig[SGP32_EC_RAW_SIG_LEN];
    if (!rc) {
        sgp32_bytes part = sgp32_buf_bytes(&out);
        rc = euicc_sign(euicc, identity, &part, 1, sig);
    }
    if (!rc)
        rc = euicc_write_signature(&out, sig);
    if (!rc)
        rc = sgp32_asn1_end(&out, SGP32_TAG_PROFILE_INSTALLATION_RESULT, outer);
    n->der_len = rc ? 0 : (uint16_t)out.len;
    return rc;
}

static void describe(sgp32_euicc *euicc, euicc_pending *n, const euicc_download *dl, bool with_iccid)
{
    memset(n, 0, sizeof(*n));
    n->seq_number = euicc_next_seq_number(euicc);
    n->kind = EUICC_PENDING_PIR;
    n->event = SGP32_NOTIFICATION_EVENT_NOTIFICATION_INSTALL;
    memcpy(n->address, dl->server_address, sizeof(n->address));
    n->has_iccid = with_iccid;
    if (with_iccid)
        memcpy(n->iccid, dl->pending.iccid, 10);
}

int es8_profile_installation_result(sgp32_euicc *euicc, euicc_download *dl, int64_t reason, sgp32_buf *out)
{
    euicc_pending *n = sgp32_alloc(sizeof(*n)); /* first: after install() nothing may fail unanswered */
    if (!n)
        return SGP32_ERR_NO_MEMORY;
    euicc_profile *installed = NULL;
    if (!reason)
        reason = install(euicc, dl, &installed);
    describe(euicc, n, dl, dl->has_metadata);
    int rc = build(euicc, dl, installed, reason, n);
    if (!rc)
        rc = euicc_pending_add(euicc, n);
    if (!rc)
        rc = euicc_state_save(euicc);
    if (rc && installed) {
        /* The NVM write failed: the profile is not installed after all. */
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_EUICC, &euicc->log, "installation not persisted: %s",
                  sgp32_err_str(rc));
        euicc_state *s = &euicc->state;
        if (s->pending_count && s->pending[s->pending_count - 1].seq_number == n->seq_number)
            memset(&s->pending[--s->pending_count], 0, sizeof(euicc_pending));
        uint8_t iccid[10];
        memcpy(iccid, installed->iccid, 10);
        euicc_forget_profile(euicc, installed);
        (void)euicc_remove_profile_elements(euicc, iccid);
        installed = NULL;
        reason = SGP32_ERROR_REASON_INSTALL_FAILED_DUE_TO_UNKNOWN_ERROR;
        describe(euicc, n, dl, dl->has_metadata);
        rc = build(euicc, dl, NULL, reason, n); /* answered, not kept: the store is failing */
    }
    if (!rc)
        rc = sgp32_buf_append(out, n->der, n->der_len);
    if (!rc && installed) {
        memcpy(euicc->last_installed_iccid, installed->iccid, 10);
        euicc->has_last_installed = true;
        char digits[21];
        euicc_iccid_to_text(installed->iccid, digits);
        sgp32_log(SGP32_LOG_INFO, SGP32_LOG_EUICC, &euicc->log, "profile %s installed (PIR seqNumber %lld)",
                  digits, (long long)n->seq_number);
    } else if (!rc) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log,
                  "profile not installed: bppCommandId %lld errorReason %lld (PIR seqNumber %lld)",
                  (long long)dl->command, (long long)reason, (long long)n->seq_number);
    }
    sgp32_free(n, sizeof(*n));
    return rc;
}

/*
 * HandleNotification for a PIR, the SM-DP+ side (SGP.22 §5.6.4, §6.2 step 6): verify the
 * ProfileInstallationResult of this session.
 *
 * BF37 {BF27 {80 txid, BF2F notificationMetadata, 06 smdpOid, A2 finalResult}, 5F37 euiccSignPIR}
 * euiccSignPIR is PK.EUICC's signature over the whole BF27 TLV as received; smdpOid must be the
 * SM-DP+ OID of CERT.DPpb. An error PIR is ACCEPTED too (it is a valid report of a failure).
 */
#include <string.h>

#include "smdp_internal.h"

static int check_pir(sgp32_smdp_session *s, const sgp32_sgp32_profile_installation_result *pir,
                     sgp32_smdp_pir *out, sgp32_smdp_check *check)
{
    const sgp32_profile_installation_result_data *d = &pir->profile_installation_result_data;
    if (pir->euicc_sign_pir.len != SGP32_EC_RAW_SIG_LEN ||
        sgp32_ecdsa_verify(&s->euicc_key, &d->der, 1, pir->euicc_sign_pir.data) != SGP32_OK)
        return smdp_refuse(s, check, SGP32_SMDP_SIGNATURE_INVALID, 0, "euiccSignPIR");
    if (!smdp_txid_is(s, d->transaction_id))
        return smdp_refuse(s, check, SGP32_SMDP_TRANSACTION_MISMATCH, 0, "PIR");
    if (!sgp32_bytes_equal(d->smdp_oid, SGP32_BYTES(s->smdp_oid, s->smdp_oid_len)))
        return smdp_refuse(s, check, SGP32_SMDP_OID_MISMATCH, 0, "PIR");
    const sgp32_notification_metadata *n = &d->notification_metadata;
    out->seq_number = n->seq_number;
    size_t address = n->notification_address.len < SGP32_SMDP_ADDRESS_MAX ? n->notification_address.len
                                                                          : SGP32_SMDP_ADDRESS_MAX;
    memcpy(out->notification_address, n->notification_address.data, address);
    out->has_iccid = n->has_iccid && n->iccid.len == sizeof(out->iccid);
    if (out->has_iccid)
        memcpy(out->iccid, n->iccid.data, sizeof(out->iccid));
    if (d->final_result.choice == SGP32_PROFILE_INSTALLATION_RESULT_DATA_FINAL_RESULT_SUCCESS_RESULT) {
        const sgp32_success_result *ok = &d->final_result.u.success_result;
        out->success = true;
        out->aid_len = ok->aid.len <= sizeof(out->aid) ? ok->aid.len : sizeof(out->aid);
        memcpy(out->aid, ok->aid.data, out->aid_len);
    } else {
        out->bpp_command_id = d->final_result.u.error_result.bpp_command_id;
        out->error_reason = d->final_result.u.error_result.error_reason;
    }
    return SGP32_OK;
}

int sgp32_smdp_verify_pir(sgp32_smdp_session *s, const uint8_t *pir, size_t len, sgp32_smdp_pir *out,
                          sgp32_smdp_check *check)
{
    if (!s || !pir || !out || !check)
        return SGP32_ERR_INVALID_ARGUMENT;
    memset(check, 0, sizeof(*check));
    memset(out, 0, sizeof(*out));
    if (s->phase != SGP32_SMDP_BPP_BOUND)
        return SGP32_ERR_STATE;
    sgp32_arena arena;
    sgp32_arena_init(&arena, 4 * 1024);
    sgp32_sgp32_profile_installation_result r;
    memset(&r, 0, sizeof(r));
    int decoded = sgp32_asn1_decode(&sgp32_type_sgp32_profile_installation_result, pir, len, &arena, &r);
    int rc =
        decoded ? smdp_refuse(s, check, SGP32_SMDP_MALFORMED, decoded, "PIR") : check_pir(s, &r, out, check);
    sgp32_arena_free(&arena);
    if (!rc && check->verdict == SGP32_SMDP_ACCEPTED)
        s->phase = SGP32_SMDP_FINISHED;
    return rc;
}

/*
 * ES8+.InitialiseSecureChannel (SGP.22 §5.5.1, §2.6.4; NOTES §6.1, §7): the BF23 at the head of
 * the BPP.
 *
 * BF23 {82 01 01 remoteOpId, 80 transactionId, A6 {80 01 88, 81 01 10, 84 hostId},
 *       5F49 otPK.DP.ECKA, 5F37 smdpSign}
 *
 * Checks, in this order (bppCommandId initialiseSecureChannel 0):
 *   BF23 decodes                                                     incorrectInputValues (1)
 *   smdpSign (PK.DPpb) over the BF23 value before 5F37 || 5F 49 41 otPK.EUICC
 *                                                                     invalidSignature (2)
 *   remoteOpId is installBoundProfilePackage (1)                     unsupportedRemoteOperationType (5)
 *   transactionId is the session's                                   invalidTransactionId (3)
 *   CRT keyType 88 (AES), keyLen 10                                  unsupportedCrtValues (4)
 *   otPK.DP is a point on the curve of the one-time key              incorrectInputValues (1)
 * Then Z = ECKA(otSK.EUICC, otPK.DP), the KDF with hostId and the EID gives the initial MCV,
 * S-ENC and S-MAC, and the one-time private key is wiped: it has done its job.
 */
#include <string.h>

#include "es8_download.h"

static int64_t verify_signature(const euicc_download *dl, sgp32_bytes bf23)
{
    sgp32_asn1_tlv outer, tlv;
    if (sgp32_asn1_read_tlv(bf23.data, bf23.len, &outer, NULL) != SGP32_OK)
        return SGP32_ERROR_REASON_INCORRECT_INPUT_VALUES;
    sgp32_asn1_reader reader;
    sgp32_asn1_reader_init(&reader, outer.value, 1);
    const uint8_t *signature_start = NULL;
    sgp32_bytes signature = {NULL, 0};
    while (sgp32_asn1_reader_next(&reader, &tlv) == SGP32_OK)
        if (tlv.tag == 0x5F37) {
            signature_start = tlv.whole.data;
            signature = tlv.value;
        }
    if (!signature_start || signature.len != SGP32_EC_RAW_SIG_LEN)
        return SGP32_ERROR_REASON_INVALID_SIGNATURE;
    static const uint8_t otpk_header[3] = {0x5F, 0x49, 0x41};
    const sgp32_bytes parts[] = {{outer.value.data, (size_t)(signature_start - outer.value.data)},
                                 {otpk_header, sizeof(otpk_header)},
                                 {dl->otpk.point, SGP32_EC_POINT_LEN}};
    if (sgp32_ecdsa_verify(&dl->dppb_key, parts, SGP32_ARRAY_LEN(parts), signature.data) != SGP32_OK)
        return SGP32_ERROR_REASON_INVALID_SIGNATURE;
    return 0;
}

static int64_t derive_keys(sgp32_euicc *euicc, euicc_download *dl,
                           const sgp32_initialise_secure_channel_request *req)
{
    sgp32_ec_public_key peer = {dl->otpk.curve, {0}};
    if (req->smdp_otpk.len != SGP32_EC_POINT_LEN)
        return SGP32_ERROR_REASON_INCORRECT_INPUT_VALUES;
    memcpy(peer.point, req->smdp_otpk.data, SGP32_EC_POINT_LEN);
    if (sgp32_ec_public_validate(&peer) != SGP32_OK)
        return SGP32_ERROR_REASON_INCORRECT_INPUT_VALUES;
    uint8_t z[SGP32_EC_SCALAR_LEN];
    sgp32_bsp_keys keys;
    int rc = sgp32_ecka(&dl->otsk, &peer, z);
    if (!rc)
        rc = sgp32_bsp_derive_keys(z, req->control_ref_template.host_id.data,
                                   req->control_ref_template.host_id.len, euicc->eid, &keys);
    if (!rc)
        sgp32_bsp_init(&dl->bsp, &keys);
    sgp32_secure_zero(z, sizeof(z));
    sgp32_secure_zero(&keys, sizeof(keys));
    sgp32_secure_zero(&dl->otsk, sizeof(dl->otsk));
    dl->has_otk = false;
    return rc ? SGP32_ERROR_REASON_INSTALL_FAILED_DUE_TO_UNKNOWN_ERROR : 0;
}

int64_t es8_initialise_secure_channel(sgp32_euicc *euicc, euicc_download *dl, sgp32_bytes bf23)
{
    uint8_t storage[512];
    sgp32_arena arena;
    sgp32_arena_init_fixed(&arena, storage, sizeof(storage));
    sgp32_initialise_secure_channel_request req;
    memset(&req, 0, sizeof(req));
    int64_t reason = 0;
    if (euicc_decode(euicc, &sgp32_type_initialise_secure_channel_request, bf23.data, bf23.len, &arena, &req))
        reason = SGP32_ERROR_REASON_INCORRECT_INPUT_VALUES;
    if (!reason && !dl->has_otk)
        reason = SGP32_ERROR_REASON_INSTALL_FAILED_DUE_TO_UNKNOWN_ERROR;
    if (!reason)
        reason = verify_signature(dl, bf23);
    if (!reason && req.remote_op_id != EUICC_DL_REMOTE_OP_INSTALL_BPP)
        reason = SGP32_ERROR_REASON_UNSUPPORTED_REMOTE_OPERATION_TYPE;
    if (!reason && !euicc_download_txid_is(dl, req.transaction_id))
        reason = SGP32_ERROR_REASON_INVALID_TRANSACTION_ID;
    const sgp32_control_ref_template *crt = &req.control_ref_template;
    if (!reason && (crt->key_type.len != 1 || crt->key_type.data[0] != EUICC_DL_CRT_KEY_TYPE_AES ||
                    crt->key_len.len != 1 || crt->key_len.data[0] != EUICC_DL_CRT_KEY_LEN ||
                    crt->host_id.len == 0 || crt->host_id.len > EUICC_DL_HOST_ID_MAX))
        reason = SGP32_ERROR_REASON_UNSUPPORTED_CRT_VALUES;
    if (!reason)
        reason = derive_keys(euicc, dl, &req);
    if (reason)
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log,
                  "InitialiseSecureChannel refused: reason %lld", (long long)reason);
    sgp32_arena_free(&arena);
    return reason;
}

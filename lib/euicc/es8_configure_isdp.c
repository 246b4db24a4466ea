/*
 * ES8+.ConfigureISDP (SGP.22 §5.5.2; NOTES §7): the A0 of the BPP, one or more 87 segments
 * (encrypted and MACed with the session keys) whose plaintexts join into
 * ConfigureISDPRequest BF24 {[B8 DpProprietaryData {80 dpOid ...}]} (automatic tags: 80, not the
 * 06 of NOTES §7).
 *
 * Errors (bppCommandId configureISDP 1): a MAC or padding failure scp03tSecurityError (8), no
 * 87 or something else inside A0 scp03tStructureError (7), a plaintext that is not one BF24
 * incorrectInputValues (1). The ISD-P itself is created with the profile at the end (its AID
 * comes from the state then); dpProprietaryData is checked, not kept (ProfileInfo B8 is not in
 * the stored profile model).
 */
#include <string.h>

#include "es8_download.h"

int64_t es8_bsp_failure_reason(int rc)
{
    if (rc == SGP32_ERR_CRYPTO_BAD_MAC || rc == SGP32_ERR_CRYPTO_BAD_PADDING)
        return SGP32_ERROR_REASON_SCP03T_SECURITY_ERROR;
    if (rc == SGP32_ERR_CAPACITY || rc == SGP32_ERR_NO_MEMORY)
        return SGP32_ERROR_REASON_INSTALL_FAILED_DUE_TO_INSUFFICIENT_MEMORY_FOR_PROFILE;
    if (rc == SGP32_ERR_INVALID_ARGUMENT)
        return SGP32_ERROR_REASON_SCP03T_STRUCTURE_ERROR; /* a value shorter than its MAC */
    return SGP32_ERROR_REASON_INSTALL_FAILED_DUE_TO_UNKNOWN_ERROR;
}

int64_t es8_unprotect_87_list(euicc_download *dl, sgp32_bytes value)
{
    sgp32_buf_reset(&dl->command_plain);
    sgp32_asn1_reader reader;
    sgp32_asn1_reader_init(&reader, value, 1);
    sgp32_asn1_tlv tlv;
    size_t count = 0;
    int rc;
    while ((rc = sgp32_asn1_reader_next(&reader, &tlv)) == SGP32_OK) {
        if (tlv.tag != 0x87)
            return SGP32_ERROR_REASON_SCP03T_STRUCTURE_ERROR;
        if (tlv.value.len < SGP32_SCP03T_MAC_LEN)
            return SGP32_ERROR_REASON_SCP03T_STRUCTURE_ERROR;
        rc = sgp32_bsp_unprotect(&dl->bsp, 0x87, true, tlv.value.data, tlv.value.len, &dl->command_plain);
        if (rc)
            return es8_bsp_failure_reason(rc);
        count++;
    }
    if (rc != SGP32_ERR_NOT_FOUND || count == 0)
        return SGP32_ERROR_REASON_SCP03T_STRUCTURE_ERROR;
    return 0;
}

int64_t es8_configure_isdp(sgp32_euicc *euicc, euicc_download *dl, sgp32_bytes a0_value)
{
    int64_t reason = es8_unprotect_87_list(dl, a0_value);
    if (!reason) {
        uint8_t storage[256];
        sgp32_arena arena;
        sgp32_arena_init_fixed(&arena, storage, sizeof(storage));
        sgp32_configure_isdp_request req;
        memset(&req, 0, sizeof(req));
        if (euicc_decode(euicc, &sgp32_type_configure_isdp_request, dl->command_plain.data,
                         dl->command_plain.len, &arena, &req))
            reason = SGP32_ERROR_REASON_INCORRECT_INPUT_VALUES;
        sgp32_arena_free(&arena);
    }
    sgp32_buf_reset(&dl->command_plain);
    if (reason)
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log, "ConfigureISDP refused: reason %lld",
                  (long long)reason);
    return reason;
}

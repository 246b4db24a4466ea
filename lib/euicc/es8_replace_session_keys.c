/*
 * ES8+.ReplaceSessionKeys (SGP.22 §5.5.4; NOTES §7): the optional A2 of the BPP, 87 segments
 * under the session keys whose plaintexts join into
 * ReplaceSessionKeysRequest BF26 {04 initialMacChainingValue(16), 04 ppkEnc(16), 04 ppkCmac(16)}.
 * From then on the 86 segments use the PPKs: S-ENC = ppkEnc, S-MAC = ppkCmac,
 * MCV = initialMacChainingValue, block counter back to 1.
 *
 * Errors (bppCommandId replaceSessionKeys 4): MAC/padding scp03tSecurityError (8), structure
 * scp03tStructureError (7), anything but one BF26 with three 16-byte keys incorrectInputValues (1).
 */
#include <string.h>

#include "es8_download.h"

int64_t es8_replace_session_keys(sgp32_euicc *euicc, euicc_download *dl, sgp32_bytes a2_value)
{
    int64_t reason = es8_unprotect_87_list(dl, a2_value);
    if (!reason) {
        uint8_t storage[128];
        sgp32_arena arena;
        sgp32_arena_init_fixed(&arena, storage, sizeof(storage));
        sgp32_replace_session_keys_request req;
        memset(&req, 0, sizeof(req));
        if (euicc_decode(euicc, &sgp32_type_replace_session_keys_request, dl->command_plain.data,
                         dl->command_plain.len, &arena, &req) ||
            req.initial_mac_chaining_value.len != SGP32_AES_BLOCK || req.ppk_enc.len != SGP32_AES_BLOCK ||
            req.ppk_cmac.len != SGP32_AES_BLOCK)
            reason = SGP32_ERROR_REASON_INCORRECT_INPUT_VALUES;
        else
            sgp32_bsp_rekey(&dl->bsp, req.ppk_enc.data, req.ppk_cmac.data,
                            req.initial_mac_chaining_value.data);
        sgp32_arena_free(&arena);
    }
    if (dl->command_plain.data)
        sgp32_secure_zero(dl->command_plain.data, dl->command_plain.len); /* the PPKs */
    sgp32_buf_reset(&dl->command_plain);
    if (reason)
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log, "ReplaceSessionKeys refused: reason %lld",
                  (long long)reason);
    return reason;
}

/*
 * The download session context (SGP.22 §3.1.3; NOTES §5.2, §7): creation, ending with the keys
 * wiped, and which ES10 requests are BPP segments. The struct is in es8_download.h.
 *
 * A session that ends while the BPP is arriving (a reset, or the card closed: power off) leaves
 * an error PIR installFailedDueToInterruption in the pending list, so the SM-DP+ learns that the
 * installation did not happen (SGP.22 ErrorReason 11). Nothing of the profile is kept.
 */
#include <string.h>

#include "es8_download.h"

static void wipe(euicc_download *dl)
{
    sgp32_bsp_clear(&dl->bsp);
    sgp32_buf_free(&dl->command_plain);
    sgp32_buf_free(&dl->metadata);
    if (dl->elements.data)
        sgp32_secure_zero(dl->elements.data, dl->elements.alloc); /* may hold profile keys (Ki, OPc) */
    sgp32_buf_free(&dl->elements);
    sgp32_secure_zero(dl, sizeof(*dl));
    sgp32_free(dl, sizeof(*dl));
}

void euicc_download_discard(sgp32_euicc *euicc)
{
    if (!euicc->download)
        return;
    euicc_download *dl = euicc->download;
    euicc->download = NULL;
    wipe(dl);
}

void euicc_download_end(sgp32_euicc *euicc)
{
    euicc_download *dl = euicc->download;
    if (dl && dl->phase == EUICC_DL_LOADING) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log,
                  "profile download interrupted: queueing an error PIR (installFailedDueToInterruption)");
        sgp32_buf scratch;
        sgp32_buf_init(&scratch, EUICC_PENDING_DER_MAX);
        (void)es8_profile_installation_result(
            euicc, dl, SGP32_ERROR_REASON_INSTALL_FAILED_DUE_TO_INTERRUPTION, &scratch);
        sgp32_buf_free(&scratch);
    }
    euicc_download_discard(euicc);
}

euicc_download *euicc_download_begin(sgp32_euicc *euicc)
{
    euicc_download *old = euicc->download;
    euicc_download *dl = sgp32_alloc(sizeof(*dl));
    if (dl && old && old->has_otk && old->phase == EUICC_DL_PREPARED) {
        /* SGP.22 §5.7.5: a retry may name the one-time key already used for binding
         * (bppEuiccOtpk); keep it while the card stays powered and nothing was loaded. */
        dl->has_otk = true;
        dl->otsk = old->otsk;
        dl->otpk = old->otpk;
    }
    euicc_download_end(euicc);
    if (!dl)
        return NULL;
    sgp32_buf_init(&dl->command_plain, EUICC_DL_COMMAND_MAX);
    sgp32_buf_init(&dl->metadata, EUICC_DL_METADATA_MAX);
    sgp32_buf_init(&dl->elements, EUICC_DL_ELEMENTS_MAX);
    euicc->download = dl;
    return dl;
}

bool euicc_download_txid_is(const euicc_download *dl, sgp32_bytes txid)
{
    return dl && txid.len == dl->transaction_id_len && memcmp(txid.data, dl->transaction_id, txid.len) == 0;
}

bool euicc_download_takes_segment(const sgp32_euicc *euicc, uint32_t tag)
{
    const euicc_download *dl = euicc->download;
    if (!dl || dl->phase != EUICC_DL_LOADING)
        return false;
    /* Every BPP element tag goes to the loader while the BPP arrives, also one out of order:
     * the loader answers it with an error PIR rather than the dispatcher with "not found". */
    return tag == 0xA0 || tag == 0xA1 || tag == 0xA2 || tag == 0xA3 || tag == 0x86 || tag == 0x87 ||
           tag == 0x88 || tag == 0xBF23;
}

int euicc_dl_read_header(const uint8_t *p, size_t avail, uint32_t *tag, size_t *value_len, size_t *header_len)
{
    size_t n = 0;
    if (avail < 1)
        return SGP32_ERR_ASN1_TRUNCATED;
    uint32_t t = p[n++];
    if ((t & 0x1F) == 0x1F) {
        do {
            if (n >= avail)
                return SGP32_ERR_ASN1_TRUNCATED;
            if (n >= SGP32_ASN1_MAX_TAG_BYTES)
                return SGP32_ERR_ASN1_BAD_TAG;
            t = t << 8 | p[n];
        } while (p[n++] & 0x80);
    }
    if (n >= avail)
        return SGP32_ERR_ASN1_TRUNCATED;
    uint8_t first = p[n++];
    size_t len = first;
    if (first == 0x80)
        return SGP32_ERR_ASN1_INDEFINITE;
    if (first > 0x80) {
        size_t count = first & 0x7F;
        if (count > 3)
            return SGP32_ERR_ASN1_BAD_LENGTH; /* nothing in a BPP comes near 16 MiB */
        if (n + count > avail)
            return SGP32_ERR_ASN1_TRUNCATED;
        len = 0;
        for (size_t i = 0; i < count; i++)
            len = len << 8 | p[n++];
        if (len < 0x80 || (count > 1 && len >> (8 * (count - 1)) == 0))
            return SGP32_ERR_ASN1_BAD_LENGTH; /* not minimal */
    }
    *tag = t;
    *value_len = len;
    *header_len = n;
    return SGP32_OK;
}

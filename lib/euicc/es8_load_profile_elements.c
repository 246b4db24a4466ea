/*
 * ES8+.LoadProfileElements (SGP.22 §5.5.5, SAIP/PEDefinitions; NOTES §7, §9): the A3 of the BPP,
 * 86 segments (encrypted and MACed with the session keys or, after ReplaceSessionKeys, the PPKs)
 * whose plaintexts are the UPP cut at arbitrary byte boundaries: a plain concatenation of
 * ProfileElement TLVs, header (A0) first, end (AA) last.
 *
 * The plaintext stream is parsed as it arrives: each complete top-level PE is checked (a
 * constructed context-specific TLV, DER header); the ProfileHeader's iccid (83, plain BCD, not
 * the nibble-swapped EF.ICCID coding) must not be installed already and must be the metadata's;
 * nothing may follow PE-End. Bytes of an incomplete PE wait for the next segment.
 *
 * Errors (bppCommandId loadProfileElements 5):
 *   a MAC or padding failure                                   scp03tSecurityError (8)
 *   more than EUICC_DL_ELEMENTS_MAX bytes of elements          insufficientMemory (10)
 *   the header ICCID already installed                         iccidAlreadyExists (9)
 *   the header ICCID is not the metadata's                     installFailedDueToDataMismatch (13)
 *   a malformed PE, no header first, no ICCID, bytes after the
 *   end, no end by the end of A3                                installFailedDueToPEProcessingError (12)
 */
#include <string.h>

#include "es8_download.h"

enum { PE_HEADER = 0xA0, PE_END = 0xAA, HEADER_ICCID = 0x83 };

static int64_t check_header(sgp32_euicc *euicc, euicc_download *dl, const sgp32_asn1_tlv *header)
{
    sgp32_asn1_reader reader;
    sgp32_asn1_reader_init(&reader, header->value, 1);
    sgp32_asn1_tlv field;
    const uint8_t *plain = NULL;
    int rc;
    while ((rc = sgp32_asn1_reader_next(&reader, &field)) == SGP32_OK)
        if (field.tag == HEADER_ICCID && field.value.len == 10)
            plain = field.value.data;
    if (rc != SGP32_ERR_NOT_FOUND || !plain)
        return SGP32_ERROR_REASON_INSTALL_FAILED_DUE_TO_PE_PROCESSING_ERROR;
    uint8_t iccid[10]; /* plain BCD -> EF.ICCID coding: swap the nibbles of each byte */
    for (size_t i = 0; i < 10; i++)
        iccid[i] = (uint8_t)(plain[i] << 4 | plain[i] >> 4);
    char digits[21];
    euicc_iccid_to_text(iccid, digits);
    if (euicc_find_profile_by_iccid(euicc, iccid)) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log, "profile %s is installed already", digits);
        return SGP32_ERROR_REASON_INSTALL_FAILED_DUE_TO_ICCID_ALREADY_EXISTS_ON_EUICC;
    }
    if (!dl->has_metadata || memcmp(iccid, dl->pending.iccid, 10) != 0) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log,
                  "profile header ICCID %s is not the metadata's", digits);
        return SGP32_ERROR_REASON_INSTALL_FAILED_DUE_TO_DATA_MISMATCH;
    }
    return 0;
}

/* Consume every whole PE at elements[parsed..]. */
static int64_t parse(sgp32_euicc *euicc, euicc_download *dl)
{
    while (dl->parsed < dl->elements.len) {
        if (dl->has_end)
            return SGP32_ERROR_REASON_INSTALL_FAILED_DUE_TO_PE_PROCESSING_ERROR; /* after PE-End */
        const uint8_t *p = dl->elements.data + dl->parsed;
        sgp32_asn1_tlv pe;
        size_t used;
        int rc = sgp32_asn1_read_tlv(p, dl->elements.len - dl->parsed, &pe, &used);
        if (rc == SGP32_ERR_ASN1_TRUNCATED)
            return 0;                    /* the rest comes with the next segment */
        if (rc || (p[0] & 0xE0) != 0xA0) /* context-specific, constructed */
            return SGP32_ERROR_REASON_INSTALL_FAILED_DUE_TO_PE_PROCESSING_ERROR;
        if (!dl->has_header) {
            if (pe.tag != PE_HEADER)
                return SGP32_ERROR_REASON_INSTALL_FAILED_DUE_TO_PE_PROCESSING_ERROR;
            int64_t reason = check_header(euicc, dl, &pe);
            if (reason)
                return reason;
            dl->has_header = true;
        } else if (pe.tag == PE_HEADER) {
            return SGP32_ERROR_REASON_INSTALL_FAILED_DUE_TO_PE_PROCESSING_ERROR; /* a second header */
        }
        dl->has_end = pe.tag == PE_END;
        dl->parsed += used;
    }
    return 0;
}

int64_t es8_load_profile_elements_begin(sgp32_euicc *euicc, euicc_download *dl, size_t a3_len)
{
    /* The 86 values are longer than their plaintexts (padding, MAC), so a3_len bounds them. */
    size_t want = a3_len < EUICC_DL_ELEMENTS_MAX ? a3_len : EUICC_DL_ELEMENTS_MAX;
    uint8_t *room;
    if (sgp32_buf_extend(&dl->elements, want, &room) != SGP32_OK) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log, "no room for %zu bytes of profile elements",
                  want);
        return SGP32_ERROR_REASON_INSTALL_FAILED_DUE_TO_INSUFFICIENT_MEMORY_FOR_PROFILE;
    }
    dl->elements.len = 0;
    return 0;
}

int64_t es8_load_profile_elements_segment(sgp32_euicc *euicc, euicc_download *dl, sgp32_bytes tlv86)
{
    sgp32_asn1_tlv tlv;
    if (sgp32_asn1_read_tlv(tlv86.data, tlv86.len, &tlv, NULL) != SGP32_OK ||
        tlv.value.len < SGP32_SCP03T_MAC_LEN)
        return SGP32_ERROR_REASON_SCP03T_STRUCTURE_ERROR;
    int rc = sgp32_bsp_unprotect(&dl->bsp, 0x86, true, tlv.value.data, tlv.value.len, &dl->elements);
    if (rc) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log, "profile element segment refused: %s",
                  rc == SGP32_ERR_CAPACITY ? "profile too large" : sgp32_err_str(rc));
        return es8_bsp_failure_reason(rc);
    }
    int64_t reason = parse(euicc, dl);
    if (reason)
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log, "profile elements refused: reason %lld",
                  (long long)reason);
    return reason;
}

int64_t es8_load_profile_elements_finish(sgp32_euicc *euicc, euicc_download *dl)
{
    if (dl->parsed != dl->elements.len || !dl->has_header || !dl->has_end) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log,
                  "profile elements end without PE-End (%zu of %zu bytes parsed)", dl->parsed,
                  dl->elements.len);
        return SGP32_ERROR_REASON_INSTALL_FAILED_DUE_TO_PE_PROCESSING_ERROR;
    }
    return 0;
}

/*
 * ES10b.LoadBoundProfilePackage (SGP.22 §5.7.6, §2.5.5; NOTES §5.2, §7): the BPP arrives as a
 * stream of ES10 calls, each on an element boundary:
 *
 *   BF36 L BF23{...}       InitialiseSecureChannel   bppCommandId 0   es8_initialise_secure_channel.c
 *   A0 {87...}             ConfigureISDP             1                es8_configure_isdp.c
 *   A1 L                   StoreMetadata             2                es8_store_metadata.c
 *   88 ... (each)
 *   [A2 {87...}]           ReplaceSessionKeys        4                es8_replace_session_keys.c
 *   A3 L                   LoadProfileElements       5                es8_load_profile_elements.c
 *   86 ... (each)
 *
 * That is the IPA's segmentation; one call may also carry several consecutive elements (up to
 * the whole BPP): the stream is parsed the same way. Intermediate calls answer nothing; the
 * first answer is the PIR BF37 (es8_profile_installation_result.c), after the last 86 or at the
 * first error, and the session then ends. Structure errors (an element out of order, a length
 * running past its container, a segment cut in two calls) are scp03tStructureError (7) with
 * the bppCommandId of the step that was expected.
 */
#include <string.h>

#include "es8_download.h"

/* Consume n bytes of the BF36 value (and of the sequence being read); false when they do not fit. */
static bool take(euicc_download *dl, size_t n, size_t *container_left)
{
    if (n > dl->bpp_left || (container_left && n > *container_left))
        return false;
    dl->bpp_left -= n;
    if (container_left)
        *container_left -= n;
    return true;
}

static int64_t structure_error(sgp32_euicc *euicc, const char *what)
{
    sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log, "BPP structure: %s", what);
    return SGP32_ERROR_REASON_SCP03T_STRUCTURE_ERROR;
}

/* One element at data[0..avail): how much it used (*used), or an ErrorReason. */
static int64_t step(sgp32_euicc *euicc, euicc_download *dl, const uint8_t *data, size_t avail, size_t *used)
{
    uint32_t tag;
    size_t vlen, hlen;
    if (euicc_dl_read_header(data, avail, &tag, &vlen, &hlen) != SGP32_OK)
        return structure_error(euicc, "unreadable tag or length");
    bool whole = vlen <= avail - hlen; /* the value is in this call too */
    const sgp32_bytes tlv = {data, hlen + vlen}, value = {data + hlen, vlen};
    int64_t reason = 0;

    switch (dl->expect) {
    case EUICC_DL_EXPECT_BF36:
        dl->command = SGP32_BPP_COMMAND_ID_INITIALISE_SECURE_CHANNEL;
        if (tag != SGP32_TAG_BOUND_PROFILE_PACKAGE)
            return structure_error(euicc, "not a BF36");
        dl->bpp_left = vlen;
        dl->expect = EUICC_DL_EXPECT_BF23;
        *used = hlen;
        return 0;
    case EUICC_DL_EXPECT_BF23:
        if (tag != SGP32_TAG_INITIALISE_SECURE_CHANNEL_REQUEST || !whole || !take(dl, tlv.len, NULL))
            return structure_error(euicc, "expected a whole BF23");
        reason = es8_initialise_secure_channel(euicc, dl, tlv);
        dl->expect = EUICC_DL_EXPECT_A0;
        break;
    case EUICC_DL_EXPECT_A0:
        dl->command = SGP32_BPP_COMMAND_ID_CONFIGURE_ISDP;
        if (tag != 0xA0 || !whole || !take(dl, tlv.len, NULL))
            return structure_error(euicc, "expected a whole A0 (ConfigureISDP)");
        reason = es8_configure_isdp(euicc, dl, value);
        dl->expect = EUICC_DL_EXPECT_A1;
        break;
    case EUICC_DL_EXPECT_A1:
        dl->command = SGP32_BPP_COMMAND_ID_STORE_METADATA;
        if (tag != 0xA1 || vlen == 0 || !take(dl, hlen, NULL) || vlen > dl->bpp_left)
            return structure_error(euicc, "expected A1 (StoreMetadata)");
        dl->a1_left = vlen;
        dl->expect = EUICC_DL_EXPECT_88;
        *used = hlen;
        return 0;
    case EUICC_DL_EXPECT_88:
        if (tag != 0x88 || !whole || !take(dl, tlv.len, &dl->a1_left))
            return structure_error(euicc, "expected a whole 88 inside A1");
        reason = es8_store_metadata_segment(euicc, dl, tlv);
        if (!reason && dl->a1_left == 0) {
            reason = es8_store_metadata_finish(euicc, dl);
            dl->expect = EUICC_DL_EXPECT_A2_OR_A3;
        }
        break;
    case EUICC_DL_EXPECT_A2_OR_A3:
    case EUICC_DL_EXPECT_A3:
        if (tag == 0xA2 && dl->expect == EUICC_DL_EXPECT_A2_OR_A3) {
            dl->command = SGP32_BPP_COMMAND_ID_REPLACE_SESSION_KEYS;
            if (!whole || !take(dl, tlv.len, NULL))
                return structure_error(euicc, "expected a whole A2 (ReplaceSessionKeys)");
            reason = es8_replace_session_keys(euicc, dl, value);
            dl->expect = EUICC_DL_EXPECT_A3;
            break;
        }
        dl->command = SGP32_BPP_COMMAND_ID_LOAD_PROFILE_ELEMENTS;
        if (tag != 0xA3 || vlen == 0 || !take(dl, hlen, NULL) || vlen != dl->bpp_left)
            return structure_error(euicc, "expected A3 (LoadProfileElements) as the last element");
        dl->a3_left = vlen;
        dl->expect = EUICC_DL_EXPECT_86;
        *used = hlen;
        return es8_load_profile_elements_begin(euicc, dl, vlen);
    case EUICC_DL_EXPECT_86:
        if (tag != 0x86 || !whole || !take(dl, tlv.len, &dl->a3_left))
            return structure_error(euicc, "expected a whole 86 inside A3");
        reason = es8_load_profile_elements_segment(euicc, dl, tlv);
        if (!reason && dl->a3_left == 0) {
            reason = es8_load_profile_elements_finish(euicc, dl);
            dl->expect = EUICC_DL_EXPECT_NOTHING;
        }
        break;
    case EUICC_DL_EXPECT_NOTHING:
    default: return structure_error(euicc, "bytes after the end of the BPP");
    }
    *used = tlv.len;
    return reason;
}

int es10b_load_bound_profile_package(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    euicc_download *dl = euicc->download;
    if (!request || len == 0)
        return SGP32_ERR_INVALID_ARGUMENT;
    if (!dl || (dl->phase != EUICC_DL_PREPARED && dl->phase != EUICC_DL_LOADING)) {
        /* No PrepareDownload before: there is no transactionId or SM-DP+ to address a PIR to. */
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log,
                  "LoadBoundProfilePackage without a prepared download session: refused");
        return SGP32_ERR_STATE;
    }
    dl->phase = EUICC_DL_LOADING;

    int64_t reason = 0;
    size_t pos = 0;
    while (!reason && pos < len) {
        size_t used = 0;
        reason = step(euicc, dl, request + pos, len - pos, &used);
        pos += used;
    }
    if (!reason && dl->expect != EUICC_DL_EXPECT_NOTHING)
        return SGP32_OK; /* an intermediate segment: no answer */

    int rc = es8_profile_installation_result(euicc, dl, reason, out);
    euicc_download_discard(euicc);
    return rc;
}

/*
 * Indirect profile download: the ESipa messages the IPA sends the eIM, which relays them to the
 * SM-DP+ over ES9+' (SGP.32 §3.2.3.2, §5.14.1-§5.14.3, §5.14.8; NOTES §3.2, §2 rule 5).
 *
 *   InitiateAuthenticationRequestEsipa BF39 {81 euiccChallenge, [83 smdpAddress], [BF20 euiccInfo1],
 *                                           [82 eimTransactionId]}
 *   AuthenticateClientRequestEsipa     BF3B {80 transactionId, BF38 AuthenticateServerResponse}
 *   GetBoundProfilePackageRequestEsipa BF3A {80 transactionId, BF21 PrepareDownloadResponse}
 *   CancelSessionRequestEsipa          BF41 {80 transactionId, A1 <contents of the eUICC's BF41>}
 * The eUICC's answers go verbatim, or in their compact forms (ipa_compact.c) when enabled.
 * smdpAddress is left out when the eIM holds the download data (eimDownloadDataHandling).
 */
#include "ipa_internal.h"

int ipa_indirect_initiate_authentication(sgp32_ipa *ipa, sgp32_bytes euicc_info1, sgp32_buf *out)
{
    size_t mark = sgp32_asn1_begin(out);
    int rc = sgp32_asn1_write_tlv(out, 0x81, ipa->dl.challenge, 16);
    if (!rc && ipa->dl.has_smdp)
        rc = sgp32_asn1_write_tlv(out, 0x83, (const uint8_t *)ipa->dl.smdp_address,
                                  strlen(ipa->dl.smdp_address));
    if (!rc && euicc_info1.len)
        rc = sgp32_buf_append(out, euicc_info1.data, euicc_info1.len);
    if (!rc && ipa->st.eim_txid_len)
        rc = sgp32_asn1_write_tlv(out, 0x82, ipa->st.eim_txid, ipa->st.eim_txid_len);
    return rc ? rc : sgp32_asn1_end(out, 0xBF39, mark);
}

int ipa_indirect_wrap(sgp32_ipa *ipa, uint32_t tag, sgp32_bytes response, sgp32_buf *out)
{
    size_t mark = sgp32_asn1_begin(out);
    int rc = sgp32_asn1_write_tlv(out, 0x80, ipa->dl.txid, ipa->dl.txid_len);
    if (rc)
        return rc;
    switch (tag) {
    case 0xBF3B:
        rc = ipa_compact_authenticate_server_response(ipa, response, ipa->dl.ctx_from_eim, out);
        break;
    case 0xBF3A:
        rc = ipa_compact_prepare_download_response(ipa, response, ipa->dl.hash_cc_from_eim, out);
        break;
    case 0xBF41: rc = ipa_compact_cancel_session_response(ipa, response, 0xA1, out); break;
    default: rc = SGP32_ERR_INVALID_ARGUMENT; break;
    }
    return rc ? rc : sgp32_asn1_end(out, tag, mark);
}

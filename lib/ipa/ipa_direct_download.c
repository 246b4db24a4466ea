/*
 * Direct profile download: the IPA as an SGP.22 ES9+ client of the SM-DP+ (SGP.32 §3.2.3.1;
 * SGP.22 §5.6, ASN.1 binding §6.6; NOTES §3.3, §4.4). Bodies are RemoteProfileProvisioningRequest
 * (A2 {...}); the host's transport posts them as they are (ASN.1 binding) or maps them to JSON.
 * Responses may come wrapped in A2 or bare (ipa_server_response).
 *
 *   InitiateAuthenticationRequest A2 {BF39 {81 euiccChallenge, 83 smdpAddress, BF20 euiccInfo1}}
 *   AuthenticateClientRequest     A2 {BF3B {80 transactionId, BF38 ...}}
 *   GetBoundProfilePackageRequest A2 {BF3A {80 transactionId, BF21 ...}}
 *   CancelSessionRequestEs9       A2 {BF41 {80 transactionId, A1 <contents of the eUICC's BF41>}}
 *   HandleNotification            A2 {BF3D {A0 {BF37 PIR}}}  (the PIR goes to the SM-DP+ from the
 *                                 IPA itself; the eIM gets it with the trigger's result)
 * The activation code (SGP.22 §4.1): "1$<SM-DP+ address>$<matchingId>[$<OID>[$<CC flag>]]".
 */
#include "ipa_internal.h"

int ipa_activation_code_parse(sgp32_bytes code, char *address, size_t address_size, char *matching_id,
                              size_t matching_size, bool *has_matching_id)
{
    const uint8_t *p = code.data, *end = code.data + code.len;
    if (code.len < 3 || p[0] != '1' || p[1] != '$')
        return SGP32_ERR_BAD_TEXT;
    p += 2;
    const uint8_t *a = p;
    while (p < end && *p != '$')
        p++;
    size_t alen = (size_t)(p - a);
    if (!ipa_address_plausible((sgp32_bytes){a, alen}) || alen >= address_size)
        return SGP32_ERR_BAD_TEXT;
    memcpy(address, a, alen);
    address[alen] = 0;
    *has_matching_id = false;
    matching_id[0] = 0;
    if (p < end) {
        const uint8_t *m = ++p;
        while (p < end && *p != '$')
            p++;
        size_t mlen = (size_t)(p - m);
        if (mlen >= matching_size)
            return SGP32_ERR_BAD_TEXT;
        memcpy(matching_id, m, mlen);
        matching_id[mlen] = 0;
        *has_matching_id = mlen > 0;
    }
    return SGP32_OK;
}

int ipa_direct_initiate_authentication(sgp32_ipa *ipa, sgp32_bytes euicc_info1, sgp32_buf *out)
{
    size_t wrap = sgp32_asn1_begin(out);
    size_t mark = sgp32_asn1_begin(out);
    int rc = sgp32_asn1_write_tlv(out, 0x81, ipa->dl.challenge, 16);
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, 0x83, (const uint8_t *)ipa->dl.smdp_address,
                                  strlen(ipa->dl.smdp_address));
    if (!rc)
        rc = sgp32_buf_append(out, euicc_info1.data, euicc_info1.len);
    if (!rc)
        rc = sgp32_asn1_end(out, 0xBF39, mark);
    return rc ? rc : sgp32_asn1_end(out, 0xA2, wrap);
}

int ipa_direct_wrap(sgp32_ipa *ipa, uint32_t tag, sgp32_bytes response, sgp32_buf *out)
{
    size_t wrap = sgp32_asn1_begin(out);
    size_t mark = sgp32_asn1_begin(out);
    int rc = sgp32_asn1_write_tlv(out, 0x80, ipa->dl.txid, ipa->dl.txid_len);
    if (!rc)
        rc = tag == 0xBF41 ? sgp32_asn1_write_retagged(out, 0xA1, response)
                           : sgp32_buf_append(out, response.data, response.len);
    if (!rc)
        rc = sgp32_asn1_end(out, tag, mark);
    return rc ? rc : sgp32_asn1_end(out, 0xA2, wrap);
}

int ipa_direct_handle_notification(sgp32_ipa *ipa, sgp32_bytes pir, sgp32_buf *out)
{
    (void)ipa;
    size_t wrap = sgp32_asn1_begin(out);
    size_t mark = sgp32_asn1_begin(out);
    size_t choice = sgp32_asn1_begin(out);
    int rc = sgp32_buf_append(out, pir.data, pir.len);
    if (!rc)
        rc = sgp32_asn1_end(out, 0xA0, choice);
    if (!rc)
        rc = sgp32_asn1_end(out, 0xBF3D, mark);
    return rc ? rc : sgp32_asn1_end(out, 0xA2, wrap);
}

/*
 * ES10 request builders and response helpers used by the procedures (SGP.22 §5.7, SGP.32 §5.9;
 * NOTES §5.3). Every request is built into es10_req and sent with ipa_es10_call_buf.
 *
 *   BFxx 00                      GetEUICCInfo1/2, GetEUICCChallenge, GetEuiccConfiguredAddresses,
 *                                GetEimConfigurationData
 *   BF2B 00 / BF2B {A0 {80 seq | 81 event | 82 00}}   RetrieveNotificationsList (SGP.32 §5.9.11)
 *   BF30 {80 seq}                RemoveNotificationFromList
 *   BFxx {80 01 FF}              ProfileRollback, ImmediateEnable, ExecuteFallbackMechanism,
 *                                ReturnFromFallback (refreshFlag TRUE)
 */
#include "ipa_internal.h"

int ipa_es10_simple(sgp32_ipa *ipa, uint32_t tag)
{
    sgp32_buf_reset(&ipa->es10_req);
    int rc = sgp32_asn1_write_tlv(&ipa->es10_req, tag, NULL, 0);
    return rc ? rc : ipa_es10_call_buf(ipa);
}

int ipa_es10_retrieve_notifications(sgp32_ipa *ipa, int criterion, int64_t value)
{
    sgp32_buf *b = &ipa->es10_req;
    sgp32_buf_reset(b);
    size_t outer = sgp32_asn1_begin(b);
    int rc = SGP32_OK;
    if (criterion != RNL_ALL) {
        size_t inner = sgp32_asn1_begin(b);
        if (criterion == RNL_SEQ)
            rc = sgp32_asn1_write_integer(b, 0x80, value);
        else if (criterion == RNL_EVENT)
            rc = sgp32_asn1_write_named_bits(b, 0x81, (uint32_t)value);
        else
            rc = sgp32_asn1_write_tlv(b, 0x82, NULL, 0);
        if (!rc)
            rc = sgp32_asn1_end(b, 0xA0, inner);
    }
    if (!rc)
        rc = sgp32_asn1_end(b, 0xBF2B, outer);
    return rc ? rc : ipa_es10_call_buf(ipa);
}

int ipa_es10_remove_notification(sgp32_ipa *ipa, int64_t seq)
{
    sgp32_buf *b = &ipa->es10_req;
    sgp32_buf_reset(b);
    size_t outer = sgp32_asn1_begin(b);
    int rc = sgp32_asn1_write_integer(b, 0x80, seq);
    if (!rc)
        rc = sgp32_asn1_end(b, 0xBF30, outer);
    return rc ? rc : ipa_es10_call_buf(ipa);
}

int ipa_es10_flag_request(sgp32_ipa *ipa, uint32_t tag, bool flag)
{
    sgp32_buf *b = &ipa->es10_req;
    sgp32_buf_reset(b);
    size_t outer = sgp32_asn1_begin(b);
    int rc = sgp32_asn1_write_boolean(b, 0x80, flag);
    if (!rc)
        rc = sgp32_asn1_end(b, tag, outer);
    return rc ? rc : ipa_es10_call_buf(ipa);
}

int ipa_es10_response(sgp32_ipa *ipa, uint32_t tag, sgp32_asn1_tlv *tlv)
{
    return sgp32_asn1_expect(ipa->es10_rsp.data, ipa->es10_rsp.len, tag, tlv);
}

int64_t ipa_es10_result_code(sgp32_ipa *ipa, uint32_t tag)
{
    sgp32_asn1_tlv outer, first;
    if (ipa_es10_response(ipa, tag, &outer) || ipa_first(outer.value, &first))
        return -1;
    return ipa_int_or(first.value, -1);
}

/*
 * Small DER helpers for the IPA: find a component, read an INTEGER, the seqNumber of a
 * notification or eUICC package result. Views only, never copies (design principle 7).
 */
#include "ipa_internal.h"

int ipa_first(sgp32_bytes contents, sgp32_asn1_tlv *out)
{
    if (!contents.len)
        return SGP32_ERR_NOT_FOUND;
    return sgp32_asn1_read_tlv(contents.data, contents.len, out, NULL);
}

int ipa_find(sgp32_bytes contents, uint32_t tag, sgp32_asn1_tlv *out)
{
    sgp32_asn1_reader r;
    sgp32_asn1_reader_init(&r, contents, 1);
    int rc;
    while ((rc = sgp32_asn1_reader_next(&r, out)) == SGP32_OK)
        if (out->tag == tag)
            return SGP32_OK;
    return rc == SGP32_ERR_NOT_FOUND ? SGP32_ERR_NOT_FOUND : rc;
}

int64_t ipa_int_or(sgp32_bytes value, int64_t fallback)
{
    int64_t v;
    return sgp32_asn1_parse_integer(value, &v) == SGP32_OK ? v : fallback;
}

/* BF2F notificationMetadata {80 seq ...} -> seq */
static int64_t metadata_seq(sgp32_bytes contents)
{
    sgp32_asn1_tlv md, seq;
    if (ipa_find(contents, 0xBF2F, &md) || ipa_find(md.value, 0x80, &seq))
        return -1;
    return ipa_int_or(seq.value, -1);
}

int64_t ipa_seq_number(sgp32_bytes tlv_bytes)
{
    sgp32_asn1_tlv tlv, inner, field;
    if (sgp32_asn1_read_tlv(tlv_bytes.data, tlv_bytes.len, &tlv, NULL))
        return -1;
    switch (tlv.tag) {
    case 0xBF37: /* PIR: BF37 {BF27 {80 txid, BF2F {80 seq ..} ..} 5F37} */
        if (ipa_find(tlv.value, 0xBF27, &inner))
            return -1;
        return metadata_seq(inner.value);
    case 0x30: /* OtherSignedNotification: 30 {BF2F {80 seq ..} 5F37 ..} */ return metadata_seq(tlv.value);
    case 0xBF51: /* EPR: BF51 {A0 {30 {80 eimId, 81 counter, [82 txid], 83 seq, ..} 5F37}} */
        if (ipa_first(tlv.value, &inner) || inner.tag != 0xA0 || ipa_first(inner.value, &field) ||
            field.tag != 0x30 || ipa_find(field.value, 0x83, &inner))
            return -1;
        return ipa_int_or(inner.value, -1);
    default: return -1;
    }
}

int ipa_write_eid(sgp32_ipa *ipa, sgp32_buf *out)
{
    return sgp32_asn1_write_tlv(out, 0x5A, ipa->eid, sizeof(ipa->eid));
}

/* An address is host[:port]: letters, digits, '-', '.', ':' and '[' ']' for IPv6. Anything else
 * (a NUL above all, which would cut the C string) is a broken answer, not an address to dial. */
bool ipa_address_plausible(sgp32_bytes b)
{
    for (size_t i = 0; i < b.len; i++) {
        uint8_t c = b.data[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                  c == '.' || c == ':' || c == '[' || c == ']';
        if (!ok)
            return false;
    }
    return b.len > 0;
}

/*
 * EuiccPackageResult (SGP.32 §2.11.2.1; NOTES §8.3, §8.5): the signed result, the
 * signed error and the unsigned error the eUICC answers a package with, and the
 * stored EPRs waiting in the pending list for RemoveNotificationFromList.
 *
 * euiccSignEPR / euiccSignEPE = ECDSA(SK.EUICC) over the DER of the ...DataSigned
 * SEQUENCE as written || the associationToken object of the eIM (sgp32_eim_token_tlv:
 * `84 01 00` when the eIM has no token), the same rule the eIM signs packages with.
 */
#include <string.h>

#include "euicc_package.h"
#include "sgp32/eim_package.h"

const sgp32_euicc_identity *euicc_package_identity(const sgp32_euicc *euicc, const euicc_eim *eim)
{
    const sgp32_euicc_identity *id = NULL;
    if (eim && eim->euicc_ci_pkid_len)
        id = euicc_identity_for_ci(euicc, eim->euicc_ci_pkid, eim->euicc_ci_pkid_len);
    return id ? id : euicc_identity_for_ci(euicc, NULL, 0);
}

/* Sign out[mark..] (the ...DataSigned SEQUENCE) || token object and append 5F37. */
static int sign_tail(const sgp32_euicc *euicc, const euicc_epr_header *h, sgp32_buf *out, size_t mark)
{
    uint8_t token[SGP32_EIM_TOKEN_TLV_MAX], sig[SGP32_EC_RAW_SIG_LEN];
    size_t token_len;
    int rc = sgp32_eim_token_tlv(h->has_token, h->token, token, &token_len);
    if (!rc) {
        sgp32_bytes parts[2] = {{out->data + mark, out->len - mark}, {token, token_len}};
        rc = euicc_sign(euicc, h->identity, parts, 2, sig);
    }
    if (!rc)
        rc = euicc_write_signature(out, sig);
    return rc;
}

static int write_common(const euicc_epr_header *h, sgp32_buf *out)
{
    int rc = sgp32_asn1_write_tlv(out, 0x80, h->eim_id.data, h->eim_id.len);
    if (!rc && h->counter_raw.len) /* echoed as received, even when out of our range */
        rc = sgp32_asn1_write_tlv(out, 0x81, h->counter_raw.data, h->counter_raw.len);
    else if (!rc)
        rc = sgp32_asn1_write_integer(out, 0x81, h->counter_value);
    if (!rc && h->has_transaction_id)
        rc = sgp32_asn1_write_tlv(out, 0x82, h->transaction_id.data, h->transaction_id.len);
    return rc;
}

int euicc_package_write_result(const sgp32_euicc *euicc, const euicc_epr_header *h, int64_t seq_number,
                               sgp32_bytes results, sgp32_buf *out)
{
    size_t start = out->len;
    size_t outer = sgp32_asn1_begin(out), choice = sgp32_asn1_begin(out), data = sgp32_asn1_begin(out);
    int rc = write_common(h, out);
    if (!rc)
        rc = sgp32_asn1_write_integer(out, 0x83, seq_number);
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, 0x30, results.data, results.len);
    if (!rc)
        rc = sgp32_asn1_end(out, 0x30, data);
    if (!rc)
        rc = sign_tail(euicc, h, out, data);
    if (!rc)
        rc = sgp32_asn1_end(out, 0xA0, choice);
    if (!rc)
        rc = sgp32_asn1_end(out, SGP32_TAG_EUICC_PACKAGE_RESULT, outer);
    if (rc)
        out->len = start;
    return rc;
}

int euicc_package_write_signed_error(const sgp32_euicc *euicc, const euicc_epr_header *h, int64_t code,
                                     sgp32_buf *out)
{
    size_t start = out->len;
    size_t outer = sgp32_asn1_begin(out), choice = sgp32_asn1_begin(out), data = sgp32_asn1_begin(out);
    int rc = write_common(h, out);
    if (!rc)
        rc = sgp32_asn1_write_integer(out, 0x02, code);
    if (!rc)
        rc = sgp32_asn1_end(out, 0x30, data);
    if (!rc)
        rc = sign_tail(euicc, h, out, data);
    if (!rc)
        rc = sgp32_asn1_end(out, 0xA1, choice);
    if (!rc)
        rc = sgp32_asn1_end(out, SGP32_TAG_EUICC_PACKAGE_RESULT, outer);
    if (rc)
        out->len = start;
    return rc;
}

int euicc_package_write_unsigned_error(sgp32_bytes eim_id, bool has_transaction_id,
                                       sgp32_bytes transaction_id, bool has_token, int64_t token,
                                       sgp32_buf *out)
{
    size_t start = out->len;
    size_t outer = sgp32_asn1_begin(out), choice = sgp32_asn1_begin(out);
    int rc = sgp32_asn1_write_tlv(out, 0x80, eim_id.data, eim_id.len);
    if (!rc && has_transaction_id)
        rc = sgp32_asn1_write_tlv(out, 0x82, transaction_id.data, transaction_id.len);
    if (!rc && has_token)
        rc = sgp32_asn1_write_integer(out, 0x84, token);
    if (!rc)
        rc = sgp32_asn1_end(out, 0xA2, choice);
    if (!rc)
        rc = sgp32_asn1_end(out, SGP32_TAG_EUICC_PACKAGE_RESULT, outer);
    if (rc)
        out->len = start;
    return rc;
}

int euicc_package_store_result(sgp32_euicc *euicc, int64_t seq_number, const uint8_t *der, size_t len)
{
    if (len > EUICC_PENDING_DER_MAX)
        return SGP32_ERR_CAPACITY;
    euicc_pending *p = sgp32_alloc(sizeof(*p));
    if (!p)
        return SGP32_ERR_NO_MEMORY;
    p->seq_number = seq_number;
    p->kind = EUICC_PENDING_PACKAGE_RESULT;
    memcpy(p->der, der, len);
    p->der_len = (uint16_t)len;
    int rc = euicc_pending_add(euicc, p);
    sgp32_free(p, sizeof(*p));
    return rc;
}

/* The next TLV of r, which must carry tag. */
static int next_tag(sgp32_asn1_reader *r, uint32_t tag, sgp32_asn1_tlv *tlv)
{
    int rc = sgp32_asn1_reader_next(r, tlv);
    return rc ? rc : tlv->tag == tag ? SGP32_OK : SGP32_ERR_ASN1_UNEXPECTED_TAG;
}

int euicc_package_parse_stored(const uint8_t *der, size_t len, euicc_epr_view *view)
{
    sgp32_asn1_tlv outer, choice, data, tlv;
    sgp32_asn1_reader r, rc_reader, rd;
    int rc = sgp32_asn1_expect(der, len, SGP32_TAG_EUICC_PACKAGE_RESULT, &outer);
    if (rc)
        return rc;
    sgp32_asn1_reader_init(&r, outer.value, 0);
    if ((rc = next_tag(&r, 0xA0, &choice)) != SGP32_OK)
        return rc;
    if ((rc = sgp32_asn1_reader_enter(&r, &choice, &rc_reader)) != SGP32_OK ||
        (rc = next_tag(&rc_reader, 0x30, &data)) != SGP32_OK ||
        (rc = sgp32_asn1_reader_enter(&rc_reader, &data, &rd)) != SGP32_OK)
        return rc;
    memset(view, 0, sizeof(*view));
    if ((rc = next_tag(&rd, 0x80, &tlv)) != SGP32_OK)
        return rc;
    view->eim_id = tlv.value;
    if ((rc = next_tag(&rd, 0x81, &tlv)) != SGP32_OK ||
        (rc = sgp32_asn1_parse_integer(tlv.value, &view->counter_value)) != SGP32_OK)
        return rc;
    if ((rc = sgp32_asn1_reader_next(&rd, &tlv)) != SGP32_OK)
        return rc;
    if (tlv.tag == 0x82 && (rc = sgp32_asn1_reader_next(&rd, &tlv)) != SGP32_OK)
        return rc;
    if (tlv.tag != 0x83 || (rc = sgp32_asn1_parse_integer(tlv.value, &view->seq_number)) != SGP32_OK)
        return rc ? rc : SGP32_ERR_ASN1_UNEXPECTED_TAG;
    if ((rc = next_tag(&rd, 0x30, &tlv)) != SGP32_OK)
        return rc;
    view->results = tlv.value;
    return SGP32_OK;
}

int euicc_package_find_pending(const sgp32_euicc *euicc, sgp32_bytes eim_id, int64_t counter_value)
{
    for (size_t i = 0; i < euicc->state.pending_count; i++) {
        const euicc_pending *p = &euicc->state.pending[i];
        euicc_epr_view v;
        if (p->kind == EUICC_PENDING_PACKAGE_RESULT &&
            euicc_package_parse_stored(p->der, p->der_len, &v) == 0 && v.counter_value == counter_value &&
            sgp32_bytes_equal(v.eim_id, eim_id))
            return (int)i;
    }
    return -1;
}

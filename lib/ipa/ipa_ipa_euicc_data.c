/*
 * IpaEuiccDataRequest / IpaEuiccDataResponse (SGP.32 §2.11.1.2, §2.11.2.2; NOTES §8.8): collect
 * what the tagList asks for, field by field in the order of IpaEuiccData (DER wants definition
 * order), with one ES10 call per field that needs the card:
 *
 *   A0   notificationsList        BF2B (searchCriteriaNotification: 80 seq / 81 event, else all)
 *   81   defaultSmdpAddress       BF3C 80, re-tagged
 *   A2   euiccPackageResultList   BF2B {A0 {82 00}} (searchCriteriaEuiccPackageResult: 80 seq)
 *   BF20 euiccInfo1  BF22 euiccInfo2   verbatim
 *   83   rootSmdsAddress          BF3C 81, re-tagged
 *   84   associationToken         BF55: the first eIM entry's 84
 *   A5 / A6 certificates          BF56 {[80 euiccCiPKIdentifierToBeUsed]} -> A0 {A5, A6}
 *   87   eimTransactionId         from the request (always echoed)
 *   A8   ipaCapabilities  A9 deviceInfo   from the configuration
 * Any other tag (the obsolete v1.0 80, 88, BF2B too) gives incorrectTagList(1).
 */
#include "ipa_internal.h"

enum { F_A0, F_81, F_A2, F_BF20, F_BF22, F_83, F_84, F_A5, F_A6, F_87, F_A8, F_A9, F_COUNT };
static const uint32_t field_tags[F_COUNT] = {0xA0, 0x81, 0xA2, 0xBF20, 0xBF22, 0x83,
                                             0x84, 0xA5, 0xA6, 0x87,   0xA8,   0xA9};

enum { INCORRECT_TAG_LIST = 1, UNDEFINED_ERROR = 127 };

static int parse_tag_list(sgp32_bytes list, uint32_t *fields)
{
    *fields = 0;
    size_t i = 0;
    while (i < list.len) {
        uint32_t tag = list.data[i++];
        if ((tag & 0x1F) == 0x1F) {
            unsigned n = 0;
            do {
                if (i >= list.len || ++n > 3)
                    return SGP32_ERR_ASN1_BAD_TAG;
                tag = tag << 8 | list.data[i];
            } while (list.data[i++] & 0x80);
        }
        unsigned f;
        for (f = 0; f < F_COUNT; f++)
            if (field_tags[f] == tag && f != F_87)
                break;
        if (f == F_COUNT)
            return SGP32_ERR_ASN1_UNEXPECTED_TAG;
        *fields |= 1u << f;
    }
    return SGP32_OK;
}

int ipa_data_begin(sgp32_ipa *ipa, sgp32_bytes value)
{
    sgp32_asn1_reader r;
    sgp32_asn1_tlv tlv;
    bool have_list = false;
    ipa->data_error = 0;
    ipa->data_fields = 0;
    ipa->data_has_txid = false;
    ipa->data_ci_pkid = ipa->data_crit_notif = ipa->data_crit_epr = (sgp32_bytes){NULL, 0};
    sgp32_buf_reset(&ipa->work);
    sgp32_asn1_reader_init(&r, value, 1);
    while (sgp32_asn1_reader_next(&r, &tlv) == SGP32_OK) {
        switch (tlv.tag) {
        case 0x5C:
            have_list = true;
            if (parse_tag_list(tlv.value, &ipa->data_fields))
                ipa->data_error = INCORRECT_TAG_LIST;
            break;
        case 0x04: ipa->data_ci_pkid = tlv.value; break;
        case 0xA1:
            ipa_first(tlv.value, &tlv) == SGP32_OK ? (void)(ipa->data_crit_notif = tlv.whole) : (void)0;
            break;
        case 0xA2:
            ipa_first(tlv.value, &tlv) == SGP32_OK ? (void)(ipa->data_crit_epr = tlv.whole) : (void)0;
            break;
        case 0x83:
            if (tlv.value.len && tlv.value.len <= IPA_TXID_MAX) {
                memcpy(ipa->data_txid, tlv.value.data, tlv.value.len);
                ipa->data_txid_len = (uint8_t)tlv.value.len;
                ipa->data_has_txid = true;
            }
            break;
        default: break;
        }
    }
    if (!have_list)
        ipa->data_error = INCORRECT_TAG_LIST;
    if (ipa->data_has_txid)
        ipa->data_fields |= 1u << F_87;
    ipa->cursor = 0; /* the field being collected */
    if (ipa->data_error) {
        ipa_post(ipa, EV_DONE);
        return SGP32_OK;
    }
    return ipa_data_step(ipa, false);
}

static int criterion_call(sgp32_ipa *ipa, sgp32_bytes criterion, bool eprs)
{
    sgp32_asn1_tlv c;
    if (criterion.len && sgp32_asn1_read_tlv(criterion.data, criterion.len, &c, NULL) == SGP32_OK) {
        if (c.tag == 0x80)
            return ipa_es10_retrieve_notifications(ipa, RNL_SEQ, ipa_int_or(c.value, 0));
        if (c.tag == 0x81 && !eprs) {
            uint32_t bits = 0;
            sgp32_asn1_parse_named_bits(c.value, &bits);
            return ipa_es10_retrieve_notifications(ipa, RNL_EVENT, bits);
        }
    }
    return ipa_es10_retrieve_notifications(ipa, eprs ? RNL_EPRS : RNL_ALL, 0);
}

/* Start the ES10 call for field f; SGP32_ERR_NOT_FOUND when it needs none. */
static int start_field(sgp32_ipa *ipa, unsigned f)
{
    switch (f) {
    case F_A0: return criterion_call(ipa, ipa->data_crit_notif, false);
    case F_A2: return criterion_call(ipa, ipa->data_crit_epr, true);
    case F_81:
    case F_83: return ipa_es10_simple(ipa, 0xBF3C);
    case F_BF20: return ipa_es10_simple(ipa, 0xBF20);
    case F_BF22: return ipa_es10_simple(ipa, 0xBF22);
    case F_84: return ipa_es10_simple(ipa, 0xBF55);
    case F_A5:
    case F_A6: {
        sgp32_buf *b = &ipa->es10_req;
        sgp32_buf_reset(b);
        size_t mark = sgp32_asn1_begin(b);
        int rc = ipa->data_ci_pkid.len
                     ? sgp32_asn1_write_tlv(b, 0x80, ipa->data_ci_pkid.data, ipa->data_ci_pkid.len)
                     : SGP32_OK;
        if (!rc)
            rc = sgp32_asn1_end(b, 0xBF56, mark);
        return rc ? rc : ipa_es10_call_buf(ipa);
    }
    default: return SGP32_ERR_NOT_FOUND;
    }
}

static int append_retagged(sgp32_buf *out, uint32_t tag, const sgp32_asn1_tlv *tlv)
{
    return sgp32_asn1_write_retagged(out, tag, tlv->whole);
}

/* The card answered field f: append it to work. */
static int take_field(sgp32_ipa *ipa, unsigned f)
{
    sgp32_buf *w = &ipa->work;
    sgp32_asn1_tlv outer, tlv, inner;
    int rc = SGP32_OK;
    switch (f) {
    case F_A0:
    case F_A2:
        if (ipa_es10_response(ipa, 0xBF2B, &outer) == SGP32_OK &&
            ipa_find(outer.value, field_tags[f], &tlv) == SGP32_OK)
            return sgp32_buf_append(w, tlv.whole.data, tlv.whole.len);
        return sgp32_asn1_write_tlv(w, field_tags[f], NULL, 0); /* empty list */
    case F_81:
    case F_83:
        if (ipa_es10_response(ipa, 0xBF3C, &outer) == SGP32_OK &&
            ipa_find(outer.value, f == F_81 ? 0x80 : 0x81, &tlv) == SGP32_OK)
            rc = append_retagged(w, field_tags[f], &tlv);
        return rc;
    case F_BF20:
    case F_BF22:
        if (ipa_es10_response(ipa, field_tags[f], &outer) == SGP32_OK)
            rc = sgp32_buf_append(w, outer.whole.data, outer.whole.len);
        return rc;
    case F_84:
        if (ipa_es10_response(ipa, 0xBF55, &outer) == SGP32_OK &&
            ipa_find(outer.value, 0xA0, &tlv) == SGP32_OK && ipa_first(tlv.value, &inner) == SGP32_OK &&
            ipa_find(inner.value, 0x84, &tlv) == SGP32_OK)
            rc = sgp32_buf_append(w, tlv.whole.data, tlv.whole.len);
        return rc;
    case F_A5:
    case F_A6:
        if (ipa_es10_response(ipa, 0xBF56, &outer) == SGP32_OK &&
            ipa_find(outer.value, 0xA0, &inner) == SGP32_OK) {
            if ((ipa->data_fields & (1u << F_A5)) && ipa_find(inner.value, 0xA5, &tlv) == SGP32_OK)
                rc = sgp32_buf_append(w, tlv.whole.data, tlv.whole.len);
            if (!rc && (ipa->data_fields & (1u << F_A6)) && ipa_find(inner.value, 0xA6, &tlv) == SGP32_OK)
                rc = sgp32_buf_append(w, tlv.whole.data, tlv.whole.len);
        } else if (ipa_es10_response(ipa, 0xBF56, &outer) == SGP32_OK) {
            ipa->data_error = 5; /* euiccCiPKIdNotFound */
        }
        return rc;
    default: return SGP32_OK;
    }
}

/* A field that needs no card. */
static int local_field(sgp32_ipa *ipa, unsigned f)
{
    sgp32_buf *w = &ipa->work;
    switch (f) {
    case F_87: return sgp32_asn1_write_tlv(w, 0x87, ipa->data_txid, ipa->data_txid_len);
    case F_A8: {
        size_t mark = sgp32_asn1_begin(w);
        int rc = sgp32_asn1_write_named_bits(w, 0x80, ipa->config.ipa_features);
        if (!rc)
            rc = sgp32_asn1_write_named_bits(w, 0x81, ipa->config.ipa_protocols);
        return rc ? rc : sgp32_asn1_end(w, 0xA8, mark);
    }
    case F_A9: {
        static const uint8_t default_info[] = {0x30, 0x08, 0x80, 0x04, 0x00, 0x00, 0x00, 0x00, 0xA1, 0x00};
        sgp32_bytes info = ipa->config.device_info.len ? ipa->config.device_info
                                                       : (sgp32_bytes){default_info, sizeof(default_info)};
        return sgp32_asn1_write_retagged(w, 0xA9, info);
    }
    default: return SGP32_OK;
    }
}

int ipa_data_step(sgp32_ipa *ipa, bool card_answered)
{
    int rc;
    if (card_answered) {
        unsigned f = (unsigned)ipa->cursor;
        rc = take_field(ipa, f);
        if (rc)
            return rc;
        if (f == F_A5)
            ipa->cursor = F_A6; /* one GetCerts answered both */
        ipa->cursor++;
    }
    while (ipa->cursor < F_COUNT && !ipa->data_error) {
        unsigned f = (unsigned)ipa->cursor;
        if (!(ipa->data_fields & (1u << f))) {
            ipa->cursor++;
            continue;
        }
        rc = start_field(ipa, f);
        if (rc == SGP32_OK)
            return SGP32_OK; /* EV_CARD_OK brings us back */
        if (rc != SGP32_ERR_NOT_FOUND)
            return rc;
        rc = local_field(ipa, f);
        if (rc)
            return rc;
        ipa->cursor++;
    }
    ipa_post(ipa, EV_DONE);
    return SGP32_OK;
}

int ipa_data_finish(sgp32_ipa *ipa, sgp32_buf *out)
{
    size_t outer = sgp32_asn1_begin(out);
    size_t inner = sgp32_asn1_begin(out);
    int rc;
    if (ipa->data_error) {
        rc = ipa->data_has_txid ? sgp32_asn1_write_tlv(out, 0x80, ipa->data_txid, ipa->data_txid_len)
                                : SGP32_OK;
        if (!rc)
            rc = sgp32_asn1_write_integer(out, 0x02, ipa->data_error);
        if (!rc)
            rc = sgp32_asn1_end(out, 0xA1, inner);
    } else {
        rc = sgp32_buf_append(out, ipa->work.data, ipa->work.len);
        if (!rc)
            rc = sgp32_asn1_end(out, 0xA0, inner);
    }
    return rc ? rc : sgp32_asn1_end(out, 0xBF52, outer);
}

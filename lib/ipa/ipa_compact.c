/*
 * Compact forms of SGP.32 (feature minimizeEsipaBytes; NOTES §7 "Compact forms"): on ESipa, when
 * the IPA announces the feature and the eIM accepts them, what the eUICC signed travels without
 * what the eIM already knows. The eUICC still signs the full structures; the eIM rebuilds them
 * (cached certificates, session data) before verifying or forwarding.
 *
 *   AuthenticateServerResponse BF38 {A0 {30 euiccSigned1, 5F37, 30 CERT.EUICC, 30 CERT.EUM}}
 *     -> BF38 {A2 {A0 {84 extCardResource, [A2 ctxParams1]}, 5F37}}  (ctxParams1 left out when
 *        the eIM made it; the certificates left out: the eIM has them)
 *   PrepareDownloadResponse BF21 {A0 {30 {80 txid, 5F49 otpk, [04 hashCc]}, 5F37}}
 *     -> BF21 {A2 {30 {5F49 otpk, [04 hashCc unless the eIM provided it]}, 5F37}}
 *   CancelSessionResponse BF41 {A0 {30 {80 txid, 81 smdpOid, 82 reason}, 5F37}}
 *     -> A2 {30 {80 reason}, 5F37}
 *   OtherSignedNotification 30 {BF2F, 5F37, certs} -> A1 {BF2F, 5F37}
 *   PIR BF37 {BF27 {80 txid, BF2F {80 seq, .., [5A]}, 06 oid, A2 {A0 {4F aid, [04 sima]} | A1 err}}, 5F37}
 *     -> A0 {A0 {80 txid, 02 seq, [01 01 00 no ICCID], A2 {A0 {4F aid[14..15], [04 sima]} | A1 err}}, 5F37}
 * Error alternatives and anything unexpected go verbatim. ES9+ (direct download) never compacts.
 */
#include "ipa_internal.h"

static const uint8_t default_sima[] = {0x30, 0x07, 0xA0, 0x05, 0x30, 0x03, 0x80, 0x01, 0x00};

bool ipa_compact_enabled(const sgp32_ipa *ipa)
{
    return (ipa->config.ipa_features & SGP32_IPA_FEATURE_MINIMIZE_ESIPA_BYTES) &&
           ipa->config.eim_supports_compact;
}

static int verbatim(sgp32_bytes tlv, uint32_t out_tag, sgp32_buf *out)
{
    if (out_tag)
        return sgp32_asn1_write_retagged(out, out_tag, tlv);
    return sgp32_buf_append(out, tlv.data, tlv.len);
}

/* The "A0 {30 signed, 5F37 sig ...}" ok alternative of an ES10 response. */
static bool ok_branch(sgp32_bytes tlv, uint32_t tag, sgp32_asn1_tlv *signed_part, sgp32_asn1_tlv *signature)
{
    sgp32_asn1_tlv outer, ok;
    return sgp32_asn1_expect(tlv.data, tlv.len, tag, &outer) == SGP32_OK &&
           ipa_first(outer.value, &ok) == SGP32_OK && ok.tag == 0xA0 &&
           ipa_first(ok.value, signed_part) == SGP32_OK && signed_part->tag == 0x30 &&
           ipa_find(ok.value, 0x5F37, signature) == SGP32_OK;
}

int ipa_compact_authenticate_server_response(sgp32_ipa *ipa, sgp32_bytes tlv, bool ctx_from_eim,
                                             sgp32_buf *out)
{
    sgp32_asn1_tlv signed1, sig, info2, ext, ctx;
    if (!ipa_compact_enabled(ipa) || !ok_branch(tlv, 0xBF38, &signed1, &sig) ||
        ipa_find(signed1.value, 0xBF22, &info2) || ipa_find(info2.value, 0x84, &ext))
        return verbatim(tlv, 0, out);
    size_t outer = sgp32_asn1_begin(out);
    size_t a2 = sgp32_asn1_begin(out);
    size_t a0 = sgp32_asn1_begin(out);
    int rc = sgp32_buf_append(out, ext.whole.data, ext.whole.len);
    if (!rc && !ctx_from_eim && ipa_find(signed1.value, 0xA0, &ctx) == SGP32_OK) {
        size_t c = sgp32_asn1_begin(out);
        rc = sgp32_buf_append(out, ctx.whole.data, ctx.whole.len);
        if (!rc)
            rc = sgp32_asn1_end(out, 0xA2, c);
    }
    if (!rc)
        rc = sgp32_asn1_end(out, 0xA0, a0);
    if (!rc)
        rc = sgp32_buf_append(out, sig.whole.data, sig.whole.len);
    if (!rc)
        rc = sgp32_asn1_end(out, 0xA2, a2);
    return rc ? rc : sgp32_asn1_end(out, 0xBF38, outer);
}

int ipa_compact_prepare_download_response(sgp32_ipa *ipa, sgp32_bytes tlv, bool hash_cc_from_eim,
                                          sgp32_buf *out)
{
    sgp32_asn1_tlv signed2, sig, otpk, hash;
    if (!ipa_compact_enabled(ipa) || !ok_branch(tlv, 0xBF21, &signed2, &sig))
        return verbatim(tlv, 0, out);
    size_t outer = sgp32_asn1_begin(out);
    size_t a2 = sgp32_asn1_begin(out);
    size_t s = sgp32_asn1_begin(out);
    int rc = SGP32_OK;
    if (ipa_find(signed2.value, 0x5F49, &otpk) == SGP32_OK)
        rc = sgp32_buf_append(out, otpk.whole.data, otpk.whole.len);
    if (!rc && !hash_cc_from_eim && ipa_find(signed2.value, 0x04, &hash) == SGP32_OK)
        rc = sgp32_buf_append(out, hash.whole.data, hash.whole.len);
    if (!rc)
        rc = sgp32_asn1_end(out, 0x30, s);
    if (!rc)
        rc = sgp32_buf_append(out, sig.whole.data, sig.whole.len);
    if (!rc)
        rc = sgp32_asn1_end(out, 0xA2, a2);
    return rc ? rc : sgp32_asn1_end(out, 0xBF21, outer);
}

int ipa_compact_cancel_session_response(sgp32_ipa *ipa, sgp32_bytes tlv, uint32_t out_tag, sgp32_buf *out)
{
    sgp32_asn1_tlv signed_part, sig, reason;
    if (!ipa_compact_enabled(ipa) || !ok_branch(tlv, 0xBF41, &signed_part, &sig))
        return verbatim(tlv, out_tag, out);
    size_t outer = sgp32_asn1_begin(out);
    size_t a2 = sgp32_asn1_begin(out);
    size_t s = sgp32_asn1_begin(out);
    int rc = SGP32_OK;
    if (ipa_find(signed_part.value, 0x82, &reason) == SGP32_OK)
        rc = sgp32_asn1_write_tlv(out, 0x80, reason.value.data, reason.value.len);
    if (!rc)
        rc = sgp32_asn1_end(out, 0x30, s);
    if (!rc)
        rc = sgp32_buf_append(out, sig.whole.data, sig.whole.len);
    if (!rc)
        rc = sgp32_asn1_end(out, 0xA2, a2);
    return rc ? rc : sgp32_asn1_end(out, out_tag ? out_tag : 0xBF41, outer);
}

static int compact_pir(sgp32_bytes value, sgp32_buf *out)
{
    sgp32_asn1_tlv data, sig, txid, md, seq, iccid, final, choice, aid, sima;
    if (ipa_find(value, 0xBF27, &data) || ipa_find(value, 0x5F37, &sig) ||
        ipa_find(data.value, 0x80, &txid) || ipa_find(data.value, 0xBF2F, &md) ||
        ipa_find(md.value, 0x80, &seq) || ipa_find(data.value, 0xA2, &final) ||
        ipa_first(final.value, &choice))
        return SGP32_ERR_NOT_FOUND;
    size_t outer = sgp32_asn1_begin(out);
    size_t a0 = sgp32_asn1_begin(out);
    int rc = sgp32_buf_append(out, txid.whole.data, txid.whole.len);
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, 0x02, seq.value.data, seq.value.len);
    if (!rc && ipa_find(md.value, 0x5A, &iccid) != SGP32_OK)
        rc = sgp32_asn1_write_boolean(out, 0x01, false);
    size_t a2 = sgp32_asn1_begin(out);
    if (!rc && choice.tag == 0xA0 && ipa_find(choice.value, 0x4F, &aid) == SGP32_OK && aid.value.len >= 2) {
        size_t ok = sgp32_asn1_begin(out);
        rc = sgp32_asn1_write_tlv(out, 0x4F, aid.value.data + aid.value.len - 2, 2);
        if (!rc && ipa_find(choice.value, 0x04, &sima) == SGP32_OK &&
            !sgp32_bytes_equal(sima.value, (sgp32_bytes){default_sima, sizeof(default_sima)}))
            rc = sgp32_buf_append(out, sima.whole.data, sima.whole.len);
        if (!rc)
            rc = sgp32_asn1_end(out, 0xA0, ok);
    } else if (!rc) {
        rc = sgp32_buf_append(out, choice.whole.data, choice.whole.len);
    }
    if (!rc)
        rc = sgp32_asn1_end(out, 0xA2, a2);
    if (!rc)
        rc = sgp32_asn1_end(out, 0xA0, a0);
    if (!rc)
        rc = sgp32_buf_append(out, sig.whole.data, sig.whole.len);
    return rc ? rc : sgp32_asn1_end(out, 0xA0, outer);
}

int ipa_compact_notification(sgp32_ipa *ipa, sgp32_bytes tlv, sgp32_buf *out)
{
    sgp32_asn1_tlv n, md, sig;
    if (!ipa_compact_enabled(ipa) || sgp32_asn1_read_tlv(tlv.data, tlv.len, &n, NULL))
        return verbatim(tlv, 0, out);
    if (n.tag == 0xBF37) {
        size_t mark = out->len;
        int rc = compact_pir(n.value, out);
        if (rc == SGP32_OK)
            return SGP32_OK;
        out->len = mark;
        return verbatim(tlv, 0, out);
    }
    if (n.tag == 0x30 && ipa_find(n.value, 0xBF2F, &md) == SGP32_OK &&
        ipa_find(n.value, 0x5F37, &sig) == SGP32_OK) {
        size_t outer = sgp32_asn1_begin(out);
        int rc = sgp32_buf_append(out, md.whole.data, md.whole.len);
        if (!rc)
            rc = sgp32_buf_append(out, sig.whole.data, sig.whole.len);
        return rc ? rc : sgp32_asn1_end(out, 0xA1, outer);
    }
    return verbatim(tlv, 0, out);
}

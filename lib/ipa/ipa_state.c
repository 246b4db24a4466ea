/*
 * The IPA's persistent state (design principle 9; NOTES §8.5, §8.6): what is needed to finish a
 * procedure after a power loss. The host stores the blob atomically whenever SAVE_STATE asks.
 *
 * Encoding: DER, field by field, never a struct dump. Private context tags, so a newer IPA can
 * add fields and an older one skips what it does not know:
 *
 *   30 {
 *     80 version (1)                 81 generation
 *     82 flags BIT STRING: resultPending 0, rollbackArmed 1, downloadPending 2, notify 3,
 *                          inFallback 4
 *     83 pendingSeq (absent: unknown)  84 stateChangeCause
 *     85 eimTransactionId              86 smdpTransactionId
 *     87 failures                      88 nextAttempt (host clock)
 *     89 reportFailures
 *   }
 *
 * A blob whose version is newer than ours is refused (SGP32_ERR_STORE_VERSION); one that does not
 * decode is SGP32_ERR_STORE_CORRUPT. Either way the caller keeps a clean state.
 */
#include "ipa_internal.h"

enum {
    FLAG_RESULT_PENDING = 1u << 0,
    FLAG_ROLLBACK_ARMED = 1u << 1,
    FLAG_DOWNLOAD_PENDING = 1u << 2,
    FLAG_NOTIFY = 1u << 3,
    FLAG_IN_FALLBACK = 1u << 4,
};

int ipa_state_encode(const ipa_persist *st, sgp32_buf *out)
{
    uint32_t flags = (st->result_pending ? FLAG_RESULT_PENDING : 0) |
                     (st->rollback_armed ? FLAG_ROLLBACK_ARMED : 0) |
                     (st->download_pending ? FLAG_DOWNLOAD_PENDING : 0) | (st->notify ? FLAG_NOTIFY : 0) |
                     (st->in_fallback ? FLAG_IN_FALLBACK : 0);
    size_t mark = sgp32_asn1_begin(out);
    int rc = sgp32_asn1_write_integer(out, 0x80, IPA_STATE_VERSION);
    if (!rc)
        rc = sgp32_asn1_write_integer(out, 0x81, st->generation);
    if (!rc)
        rc = sgp32_asn1_write_named_bits(out, 0x82, flags);
    if (!rc && st->pending_seq >= 0)
        rc = sgp32_asn1_write_integer(out, 0x83, st->pending_seq);
    if (!rc && st->notify)
        rc = sgp32_asn1_write_integer(out, 0x84, st->cause);
    if (!rc && st->eim_txid_len)
        rc = sgp32_asn1_write_tlv(out, 0x85, st->eim_txid, st->eim_txid_len);
    if (!rc && st->smdp_txid_len)
        rc = sgp32_asn1_write_tlv(out, 0x86, st->smdp_txid, st->smdp_txid_len);
    if (!rc && st->failures)
        rc = sgp32_asn1_write_integer(out, 0x87, st->failures);
    if (!rc && st->next_attempt)
        rc = sgp32_asn1_write_integer(out, 0x88, st->next_attempt);
    if (!rc && st->report_failures)
        rc = sgp32_asn1_write_integer(out, 0x89, st->report_failures);
    return rc ? rc : sgp32_asn1_end(out, 0x30, mark);
}

static int get_uint(sgp32_bytes v, int64_t max, int64_t *out)
{
    int rc = sgp32_asn1_parse_integer(v, out);
    if (rc || *out < 0 || *out > max)
        return SGP32_ERR_STORE_CORRUPT;
    return SGP32_OK;
}

int ipa_state_decode(const uint8_t *blob, size_t len, ipa_persist *out)
{
    sgp32_asn1_tlv outer, tlv;
    if (sgp32_asn1_expect(blob, len, 0x30, &outer) != SGP32_OK)
        return SGP32_ERR_STORE_CORRUPT;
    ipa_persist st;
    memset(&st, 0, sizeof(st));
    st.pending_seq = -1;
    sgp32_asn1_reader r;
    sgp32_asn1_reader_init(&r, outer.value, 1);
    bool have_version = false;
    int64_t v;
    int rc;
    while ((rc = sgp32_asn1_reader_next(&r, &tlv)) == SGP32_OK) {
        switch (tlv.tag) {
        case 0x80:
            if (sgp32_asn1_parse_integer(tlv.value, &v))
                return SGP32_ERR_STORE_CORRUPT;
            if (v > IPA_STATE_VERSION || v < 1)
                return SGP32_ERR_STORE_VERSION;
            have_version = true;
            break;
        case 0x81:
            if (get_uint(tlv.value, UINT32_MAX, &v))
                return SGP32_ERR_STORE_CORRUPT;
            st.generation = (uint32_t)v;
            break;
        case 0x82: {
            uint32_t flags;
            if (sgp32_asn1_parse_named_bits(tlv.value, &flags))
                return SGP32_ERR_STORE_CORRUPT;
            st.result_pending = flags & FLAG_RESULT_PENDING;
            st.rollback_armed = flags & FLAG_ROLLBACK_ARMED;
            st.download_pending = flags & FLAG_DOWNLOAD_PENDING;
            st.notify = flags & FLAG_NOTIFY;
            st.in_fallback = flags & FLAG_IN_FALLBACK;
            break;
        }
        case 0x83:
            if (get_uint(tlv.value, INT64_MAX, &st.pending_seq))
                return SGP32_ERR_STORE_CORRUPT;
            break;
        case 0x84:
            if (get_uint(tlv.value, 127, &v))
                return SGP32_ERR_STORE_CORRUPT;
            st.cause = (uint8_t)v;
            break;
        case 0x85:
        case 0x86:
            if (tlv.value.len == 0 || tlv.value.len > IPA_TXID_MAX)
                return SGP32_ERR_STORE_CORRUPT;
            if (tlv.tag == 0x85) {
                memcpy(st.eim_txid, tlv.value.data, tlv.value.len);
                st.eim_txid_len = (uint8_t)tlv.value.len;
            } else {
                memcpy(st.smdp_txid, tlv.value.data, tlv.value.len);
                st.smdp_txid_len = (uint8_t)tlv.value.len;
            }
            break;
        case 0x87:
            if (get_uint(tlv.value, UINT32_MAX, &v))
                return SGP32_ERR_STORE_CORRUPT;
            st.failures = (uint32_t)v;
            break;
        case 0x88:
            if (sgp32_asn1_parse_integer(tlv.value, &st.next_attempt))
                return SGP32_ERR_STORE_CORRUPT;
            break;
        case 0x89:
            if (get_uint(tlv.value, UINT32_MAX, &v))
                return SGP32_ERR_STORE_CORRUPT;
            st.report_failures = (uint32_t)v;
            break;
        default: break; /* a field of a newer version of the same major format */
        }
    }
    if (rc != SGP32_ERR_NOT_FOUND || !have_version)
        return SGP32_ERR_STORE_CORRUPT;
    *out = st;
    return SGP32_OK;
}

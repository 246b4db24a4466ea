/*
 * ES10b.ProfileRollback (SGP.32 §5.9.x, §3.3.2; NOTES §8.6): `BF58 {80 refreshFlag}`.
 *
 * Allowed once, after an enable PSMO with rollbackFlag, while the EPR of that package is
 * still waiting in the pending list (the IPA could not deliver it): the profile enabled
 * before is enabled again (disable/enable notifications queued), and a new EPR, with the
 * original results followed by rollbackResult `8C 01 00`, replaces the original one (same
 * eimId, counterValue and eimTransactionId, a new seqNumber). Answer:
 * `BF58 {02 cmdResult, [BF51 new EPR]}`.
 *
 * rollbackNotAllowed(1) when no rollback was granted, when it was used already, when a
 * later package arrived (the eIM is reachable again) or when the original EPR was removed
 * (the eIM acknowledged it). refreshFlag asks for a REFRESH after the switch; this card has
 * no proactive channel, so the flag is only logged. The authorisation is consumed by the
 * call whatever the flag (CR111007 has refreshFlag TRUE clear a pending rollback
 * authorisation; with FALSE we clear it too, as rollback is allowed once).
 * The lenient form `BF58 {01 01 xx}` (untagged BOOLEAN, NOTES §2 rule 4) is accepted.
 */
#include <string.h>

#include "euicc_package.h"

enum { ROLLBACK_OK = 0, ROLLBACK_NOT_ALLOWED = 1, ROLLBACK_UNDEFINED_ERROR = 127 };

static int parse_request(sgp32_euicc *euicc, const uint8_t *request, size_t len, bool *refresh)
{
    sgp32_profile_rollback_request req;
    if (sgp32_asn1_decode(&sgp32_type_profile_rollback_request, request, len, NULL, &req) == SGP32_OK) {
        *refresh = req.refresh_flag;
        return SGP32_OK;
    }
    sgp32_asn1_tlv outer, flag;
    size_t used;
    int rc = sgp32_asn1_expect(request, len, SGP32_TAG_PROFILE_ROLLBACK_REQUEST, &outer);
    if (!rc)
        rc = sgp32_asn1_read_tlv(outer.value.data, outer.value.len, &flag, &used);
    if (!rc && (flag.tag != 0x01 || used != outer.value.len))
        rc = SGP32_ERR_ASN1_UNEXPECTED_TAG;
    if (!rc)
        rc = sgp32_asn1_parse_boolean(flag.value, refresh);
    if (rc)
        return euicc_decode(euicc, &sgp32_type_profile_rollback_request, request, len, NULL, &req);
    return SGP32_OK;
}

static int write_response(int64_t result, sgp32_bytes epr, sgp32_buf *out)
{
    size_t m = sgp32_asn1_begin(out);
    int rc = sgp32_asn1_write_integer(out, 0x02, result);
    if (!rc && epr.len)
        rc = sgp32_buf_append(out, epr.data, epr.len); /* eUICCPackageResult [81]: the BF51 as is */
    return rc ? rc : sgp32_asn1_end(out, SGP32_TAG_PROFILE_ROLLBACK_RESPONSE, m);
}

/* Switch back, build the new EPR into epr and replace the original one. */
static int roll_back(sgp32_euicc *euicc, int original, sgp32_buf *epr, int64_t *result)
{
    euicc_state *s = &euicc->state;
    euicc_profile *previous =
        s->has_rollback_iccid ? euicc_find_profile_by_iccid(euicc, s->rollback_iccid) : NULL;
    if (!previous || s->rollback_eim_index >= s->eim_count) {
        *result = ROLLBACK_UNDEFINED_ERROR;
        return SGP32_OK;
    }
    const euicc_eim *eim = &s->eims[s->rollback_eim_index];
    euicc_epr_view view;
    int rc = euicc_package_parse_stored(s->pending[original].der, s->pending[original].der_len, &view);
    if (rc)
        return rc;
    sgp32_buf results;
    sgp32_buf_init(&results, EUICC_PENDING_DER_MAX);
    rc = sgp32_buf_append(&results, view.results.data, view.results.len);
    if (!rc)
        rc = sgp32_asn1_write_integer(&results, 0x8C, SGP32_ROLLBACK_PROFILE_RESULT_OK);
    /* The new EPR answers the original package: take its header before the switch, which
     * ends the rollback authorisation and with it the recorded counter and transaction id. */
    uint8_t transaction_id[sizeof(s->rollback_transaction_id)];
    memcpy(transaction_id, s->rollback_transaction_id, sizeof(transaction_id));
    euicc_epr_header h = {
        .eim_id = {(const uint8_t *)eim->eim_id, strlen(eim->eim_id)},
        .counter_value = s->rollback_counter_value,
        .has_transaction_id = s->rollback_transaction_id_len > 0,
        .transaction_id = {transaction_id, s->rollback_transaction_id_len},
        .has_token = eim->has_association_token,
        .token = eim->association_token,
        .identity = euicc_package_identity(euicc, eim),
    };
    if (!rc)
        rc = euicc_switch_profile(euicc, previous);
    if (!rc)
        euicc_settle_special_states(euicc);
    int64_t seq = 0;
    if (!rc) {
        seq = euicc_next_seq_number(euicc);
        rc = euicc_package_write_result(euicc, &h, seq, sgp32_buf_bytes(&results), epr);
    }
    if (!rc) {
        /* The original EPR goes; the list has room for the new one then. */
        memmove(&s->pending[original], &s->pending[original + 1],
                (s->pending_count - (size_t)original - 1) * sizeof(euicc_pending));
        s->pending_count--;
        rc = euicc_package_store_result(euicc, seq, epr->data, epr->len);
    }
    sgp32_buf_free(&results);
    *result = ROLLBACK_OK;
    return rc;
}

int es10b_profile_rollback(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    bool refresh = false;
    int rc = parse_request(euicc, request, len, &refresh);
    if (rc)
        return rc;
    euicc_state *s = &euicc->state;
    int original = -1;
    if (s->rollback_allowed && s->rollback_eim_index < s->eim_count) {
        const euicc_eim *eim = &s->eims[s->rollback_eim_index];
        original = euicc_package_find_pending(
            euicc, (sgp32_bytes){(const uint8_t *)eim->eim_id, strlen(eim->eim_id)},
            s->rollback_counter_value);
    }
    if (original < 0) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log, "ProfileRollback: not allowed");
        return write_response(ROLLBACK_NOT_ALLOWED, (sgp32_bytes){NULL, 0}, out);
    }

    euicc_change change;
    if ((rc = euicc_change_begin(euicc, &change)) != SGP32_OK)
        return rc;
    sgp32_buf epr;
    sgp32_buf_init(&epr, EUICC_PENDING_DER_MAX);
    int64_t result = ROLLBACK_UNDEFINED_ERROR;
    rc = roll_back(euicc, original, &epr, &result);
    euicc_clear_rollback(euicc); /* once only, whatever the outcome */
    if (rc)
        euicc_change_abort(euicc, &change);
    else
        rc = euicc_change_commit(euicc, &change);
    if (!rc)
        rc = write_response(result, result == ROLLBACK_OK ? sgp32_buf_bytes(&epr) : (sgp32_bytes){NULL, 0},
                            out);
    if (!rc)
        sgp32_log(SGP32_LOG_INFO, SGP32_LOG_EUICC, &euicc->log,
                  "ProfileRollback: result %lld (refreshFlag %s)", (long long)result,
                  refresh ? "TRUE" : "FALSE");
    sgp32_buf_free(&epr);
    return rc;
}

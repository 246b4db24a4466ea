/*
 * ES10b.RetrieveNotificationsList, SGP.32 form (SGP.32 §5.9.11; SGP.22 §5.7.10):
 *   BF2B 00                    every pending notification           -> BF2B { A0 { BF37|30 .. } }
 *   BF2B { A0 { 80 seq } }     the object with that seqNumber       -> A0 list, or A2 if it is an EPR
 *   BF2B { A0 { 81 events } }  notifications of those events        -> A0 list
 *   BF2B { A0 { 82 00 } }      the stored eUICC package results     -> BF2B { A2 { BF51 .. } }
 *
 * Why byte for byte: the pending list keeps each signed object (PIR, OtherSignedNotification,
 * EuiccPackageResult) exactly as signed, and the IPA forwards it unchanged so the eIM and the
 * SM-DP+ can verify the eUICC's signature (NOTES §2 rule 7). Notifications and package results
 * share one seqNumber sequence; the response CHOICE cannot mix them, so a search by seqNumber
 * answers in the list its object belongs to, and an unknown number gives an empty A0 list.
 * After a reboot the IPA recovers unacknowledged EPRs with 82 00 (NOTES §8.5).
 */
#include "euicc_local.h"

static int write_list(sgp32_buf *out, const euicc_state *s, uint32_t list_tag, bool results, bool by_seq,
                      int64_t seq, bool by_event, uint32_t events, size_t *count)
{
    size_t mark = sgp32_asn1_begin(out);
    int rc = SGP32_OK;
    *count = 0;
    for (size_t i = 0; i < s->pending_count && !rc; i++) {
        const euicc_pending *p = &s->pending[i];
        if ((p->kind == EUICC_PENDING_PACKAGE_RESULT) != results)
            continue;
        if (by_seq && p->seq_number != seq)
            continue;
        uint32_t event =
            p->event ? p->event
                     : (p->kind == EUICC_PENDING_PIR ? SGP32_NOTIFICATION_EVENT_NOTIFICATION_INSTALL : 0);
        if (by_event && !(event & events))
            continue;
        rc = sgp32_buf_append(out, p->der, p->der_len);
        (*count)++;
    }
    return rc ? rc : sgp32_asn1_end(out, list_tag, mark);
}

int es10b_retrieve_notifications_list(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, EUICC_LOCAL_ARENA);
    sgp32_sgp32_retrieve_notifications_list_request req = {0};
    int rc = euicc_decode(euicc, &sgp32_type_sgp32_retrieve_notifications_list_request, request, len, &arena,
                          &req);
    sgp32_arena_free(&arena);
    if (rc)
        return rc;

    const euicc_state *s = &euicc->state;
    int criterion = req.has_search_criteria ? req.search_criteria.choice : 0;
    bool results =
        criterion == SGP32_SGP32_RETRIEVE_NOTIFICATIONS_LIST_REQUEST_SEARCH_CRITERIA_EUICC_PACKAGE_RESULTS;
    bool by_seq = criterion == SGP32_SGP32_RETRIEVE_NOTIFICATIONS_LIST_REQUEST_SEARCH_CRITERIA_SEQ_NUMBER;
    bool by_event =
        criterion ==
        SGP32_SGP32_RETRIEVE_NOTIFICATIONS_LIST_REQUEST_SEARCH_CRITERIA_PROFILE_MANAGEMENT_OPERATION;
    int64_t seq = by_seq ? req.search_criteria.u.seq_number : 0;
    if (by_seq)
        for (size_t i = 0; i < s->pending_count; i++)
            if (s->pending[i].seq_number == seq)
                results = s->pending[i].kind == EUICC_PENDING_PACKAGE_RESULT;

    size_t mark = sgp32_asn1_begin(out), count = 0;
    rc = write_list(out, s, results ? 0xA2 : 0xA0, results, by_seq, seq, by_event,
                    by_event ? req.search_criteria.u.profile_management_operation : 0, &count);
    if (!rc)
        rc = sgp32_asn1_end(out, SGP32_TAG_SGP32_RETRIEVE_NOTIFICATIONS_LIST_RESPONSE, mark);
    sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log, "RetrieveNotificationsList (%s): %zu %s",
              results && !by_seq ? "euiccPackageResults"
              : by_seq           ? "seqNumber"
              : by_event         ? "events"
                                 : "all",
              count, results ? "package result(s)" : "notification(s)");
    return rc;
}

/*
 * ES10b.RemoveNotificationFromList (SGP.22 §5.7.11, kept by SGP.32 §5.9): BF30 { 80 seqNumber } ->
 * BF30 { 80 deleteNotificationStatus }: ok 0, nothingToDelete 1, undefinedError 127.
 *
 * Why it also removes package results: notifications and eUICC package results share the
 * seqNumber sequence and the IPA removes each seqNumber the eIM acknowledged in BF53, EPRs
 * included (NOTES §8.6). The removal is written to the NVM before the answer; when that write
 * fails the object stays (undefinedError) and the IPA may try again.
 */
#include <string.h>

#include "euicc_local.h"

int es10b_remove_notification_from_list(sgp32_euicc *euicc, const uint8_t *request, size_t len,
                                        sgp32_buf *out)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, EUICC_LOCAL_ARENA);
    sgp32_notification_sent_request req = {0};
    int rc = euicc_decode(euicc, &sgp32_type_notification_sent_request, request, len, &arena, &req);
    sgp32_arena_free(&arena);
    if (rc)
        return rc;

    euicc_state *s = &euicc->state;
    size_t index = s->pending_count;
    for (size_t i = 0; i < s->pending_count && index == s->pending_count; i++)
        if (s->pending[i].seq_number == req.seq_number)
            index = i;
    int64_t status = SGP32_NOTIFICATION_SENT_RESPONSE_DELETE_NOTIFICATION_STATUS_NOTHING_TO_DELETE;
    if (index < s->pending_count) {
        euicc_change change;
        status = SGP32_NOTIFICATION_SENT_RESPONSE_DELETE_NOTIFICATION_STATUS_UNDEFINED_ERROR;
        if (euicc_change_begin(euicc, &change) == SGP32_OK) {
            memmove(&s->pending[index], &s->pending[index + 1],
                    (s->pending_count - index - 1) * sizeof(euicc_pending));
            s->pending_count--;
            memset(&s->pending[s->pending_count], 0, sizeof(euicc_pending));
            if (euicc_change_commit(euicc, &change) == SGP32_OK)
                status = SGP32_NOTIFICATION_SENT_RESPONSE_DELETE_NOTIFICATION_STATUS_OK;
        }
    }
    sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log, "RemoveNotificationFromList %lld: %s",
              (long long)req.seq_number,
              status == 0   ? "removed"
              : status == 1 ? "nothing to delete"
                            : "not stored");
    return euicc_write_result(out, SGP32_TAG_NOTIFICATION_SENT_RESPONSE, status);
}

/*
 * ES10b.ListNotification (SGP.22 §5.7.9): BF28 { [81 NotificationEvent] } ->
 * BF28 { A0 { BF2F NotificationMetadata.. } } or BF28 { 81 undefinedError }.
 *
 * Why it copies: the NotificationMetadata of each pending notification is taken from the signed
 * object as stored (the BF2F inside the OtherSignedNotification or the PIR), so the list says
 * exactly what RetrieveNotificationsList will hand out. eUICC package results are not
 * notifications and are not listed (they have their own search criterion in BF2B).
 */
#include <string.h>

#include "euicc_local.h"

/* The BF2F TLV of a stored PIR (BF37 { BF27 { 80 txid, BF2F .. } .. }) or OtherSignedNotification
 * (30 { BF2F .., 5F37 .. }). */
static bool find_metadata(const euicc_pending *p, sgp32_bytes *metadata)
{
    sgp32_asn1_tlv outer, tlv;
    if (sgp32_asn1_read_tlv(p->der, p->der_len, &outer, NULL))
        return false;
    sgp32_asn1_reader r;
    sgp32_asn1_reader_init(&r, outer.value, 1);
    if (outer.tag == SGP32_TAG_PROFILE_INSTALLATION_RESULT) {
        if (sgp32_asn1_reader_next(&r, &tlv) || tlv.tag != SGP32_TAG_PROFILE_INSTALLATION_RESULT_DATA)
            return false;
        sgp32_asn1_reader_init(&r, tlv.value, 2);
    }
    while (sgp32_asn1_reader_next(&r, &tlv) == SGP32_OK)
        if (tlv.tag == SGP32_TAG_NOTIFICATION_METADATA) {
            *metadata = tlv.whole;
            return true;
        }
    return false;
}

static uint32_t event_of(const euicc_pending *p)
{
    if (p->event)
        return p->event;
    return p->kind == EUICC_PENDING_PIR ? SGP32_NOTIFICATION_EVENT_NOTIFICATION_INSTALL : 0;
}

/* What the metadata would be when the stored object cannot be read (never for our own objects). */
static int write_metadata(sgp32_buf *out, const euicc_pending *p)
{
    size_t mark = sgp32_asn1_begin(out);
    int rc = sgp32_asn1_write_integer(out, 0x80, p->seq_number);
    if (!rc)
        rc = sgp32_asn1_write_named_bits(out, 0x81, event_of(p));
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, 0x0C, (const uint8_t *)p->address, strlen(p->address));
    if (!rc && p->has_iccid)
        rc = sgp32_asn1_write_tlv(out, 0x5A, p->iccid, 10);
    return rc ? rc : sgp32_asn1_end(out, SGP32_TAG_NOTIFICATION_METADATA, mark);
}

int es10b_list_notification(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, EUICC_LOCAL_ARENA);
    sgp32_list_notification_request req = {0};
    int rc = euicc_decode(euicc, &sgp32_type_list_notification_request, request, len, &arena, &req);
    sgp32_arena_free(&arena);
    if (rc)
        return rc;

    size_t outer = sgp32_asn1_begin(out), list = sgp32_asn1_begin(out), listed = 0;
    const euicc_state *s = &euicc->state;
    for (size_t i = 0; i < s->pending_count && !rc; i++) {
        const euicc_pending *p = &s->pending[i];
        if (p->kind == EUICC_PENDING_PACKAGE_RESULT)
            continue;
        if (req.has_profile_management_operation && !(event_of(p) & req.profile_management_operation))
            continue;
        sgp32_bytes metadata;
        rc = find_metadata(p, &metadata) ? sgp32_buf_append(out, metadata.data, metadata.len)
                                         : write_metadata(out, p);
        listed++;
    }
    if (!rc)
        rc = sgp32_asn1_end(out, 0xA0, list);
    if (!rc)
        rc = sgp32_asn1_end(out, SGP32_TAG_LIST_NOTIFICATION_RESPONSE, outer);
    sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log, "ListNotification: %zu notification(s)%s",
              listed, req.has_profile_management_operation ? " for the requested events" : "");
    return rc;
}

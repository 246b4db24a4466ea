/*
 * ESipa.HandleNotification (SGP.32 §5.14.7, §3.7; NOTES §3.2): the IPA delivers a notification
 * (a PIR or another signed notification, full or compact) or a ProvideEimPackageResult sent as a
 * notification (the result of a direct download). There is no answer message: HTTP 204 tells the
 * IPA it may delete the notification.
 *
 * Notifications update the eIM's view of the eUICC's profiles, are deduplicated on (EID,
 * seqNumber), and full forms addressed to an SM-DP+ are queued for it (ES9+ handleNotification,
 * eim_forward.c).
 */
#include <stdio.h>

#include "eim_internal.h"
#include "sgp32/asn1.h"
#include "sgp32/certificate.h"
#include "sgp32/eid.h"

/* Whose notification: a compact form names the EID, a full other notification carries
 * CERT.EUICC; a PIR is found through its relay session (eim_take_notification). */
static void notification_eid(const sgp32_sgp32_pending_notification *p, char eid[SGP32_EIM_EID_DIGITS + 1])
{
    eid[0] = '\0';
    if (p->choice == SGP32_SGP32_PENDING_NOTIFICATION_COMPACT_OTHER_SIGNED_NOTIFICATION &&
        p->u.compact_other_signed_notification.has_eid_value) {
        eim_eid_text(p->u.compact_other_signed_notification.eid_value, eid);
    } else if (p->choice == SGP32_SGP32_PENDING_NOTIFICATION_OTHER_SIGNED_NOTIFICATION) {
        sgp32_certificate *cert = sgp32_alloc(sizeof(*cert));
        sgp32_bytes der = p->u.other_signed_notification.euicc_certificate;
        if (cert && sgp32_cert_parse(der.data, der.len, cert) == SGP32_OK && cert->has_eid)
            eim_eid_text((sgp32_bytes){cert->eid, SGP32_EID_LEN}, eid);
        if (cert)
            sgp32_free(cert, sizeof(*cert));
    }
}

int sgp32_eim_handle_notification(const sgp32_eim_server *srv, const sgp32_handle_notification_esipa *req,
                                  sgp32_eim_esipa_info *info)
{
    eim_acks acks = {.count = 0};
    int rc;
    if (req->choice == SGP32_HANDLE_NOTIFICATION_ESIPA_PROVIDE_EIM_PACKAGE_RESULT) {
        const sgp32_provide_eim_package_result *p = &req->u.provide_eim_package_result;
        sgp32_eim_euicc euicc;
        sgp32_eim_euicc_init(&euicc);
        rc = SGP32_ERR_NOT_FOUND;
        if (p->has_eid_value && eim_eid_text(p->eid_value, info->eid) == SGP32_OK)
            rc = srv->config.store.euicc_get(srv->config.store.ctx, info->eid, &euicc);
        if (!rc)
            rc = eim_take_eim_package_result(srv, &euicc, &p->eim_package_result, &acks, info);
        sgp32_eim_euicc_free(&euicc);
        if (rc == SGP32_ERR_NOT_FOUND) {
            snprintf(info->outcome, sizeof(info->outcome), "result of an unknown eUICC");
            rc = SGP32_OK; /* nothing to keep it for: let the IPA drop it */
        }
        return rc;
    }
    const sgp32_sgp32_pending_notification *p = &req->u.pending_notification;
    eim_notification n;
    eim_notification_from(p, &n);
    notification_eid(p, info->eid);
    rc = eim_take_notification(srv, info->eid, &n, &acks);
    if (!rc)
        snprintf(info->outcome, sizeof(info->outcome), "%s seqNumber %lld taken",
                 n.is_pir ? "PIR" : "notification", (long long)n.seq_number);
    return rc;
}

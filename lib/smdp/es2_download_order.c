/*
 * ES2+.DownloadOrder (SGP.22 §5.3.1): reserve a profile for a download, by ICCID or by profile
 * type, optionally linked to an EID.
 *
 *   iccid or profileType present                              else 1.6/2.3
 *   EID, when given, 32 digits                                else 8.1.1/2.1
 *   ICCID known / Available / of the given profileType        else 8.2.1/3.9, 8.2.1/3.3, 8.2.5/3.8
 *   profileType known / a profile left                        else 8.2.5/3.9, 8.2.5/3.7
 * Available -> Linked (with EID) or Allocated; the answer is the ICCID.
 */
#include <stdio.h>
#include <string.h>

#include "smdp_server_internal.h"

bool es2_eid_valid(const char *eid)
{
    if (strlen(eid) != SGP32_SMDP_EID_DIGITS)
        return false;
    for (size_t i = 0; eid[i]; i++)
        if (eid[i] < '0' || eid[i] > '9')
            return false;
    return true;
}

int sgp32_smdp_es2_download_order(const sgp32_smdp_server *srv, const sgp32_smdp_es2_request *req,
                                  sgp32_smdp_es2_response *resp)
{
    if (!srv || !req || !resp)
        return SGP32_ERR_INVALID_ARGUMENT;
    const sgp32_smdp_store *st = &srv->config.store;
    sgp32_smdp_order order;
    int rc = SGP32_OK;
    if (!req->has_iccid && !req->has_profile_type) {
        sgp32_smdp_status_set(&resp->status, "1.6", "2.3", "iccid or profileType required");
        return SGP32_OK;
    }
    if (req->has_eid && !es2_eid_valid(req->eid)) {
        sgp32_smdp_status_set(&resp->status, "8.1.1", "2.1", "EID is not 32 digits");
        return SGP32_OK;
    }
    if (req->has_profile_type && !server_template(srv, req->profile_type)) {
        sgp32_smdp_status_set(&resp->status, "8.2.5", "3.9", "unknown profile type");
        return SGP32_OK;
    }
    if (req->has_iccid) {
        rc = st->order_get(st->ctx, req->iccid, &order);
        if (rc == SGP32_ERR_NOT_FOUND) {
            sgp32_smdp_status_set(&resp->status, "8.2.1", "3.9", "unknown ICCID");
            return SGP32_OK;
        }
        if (rc)
            return rc;
        if (req->has_profile_type && strcmp(req->profile_type, order.profile_type) != 0) {
            sgp32_smdp_status_set(&resp->status, "8.2.5", "3.8", "profile type does not match the ICCID");
            return SGP32_OK;
        }
        if (order.state != SGP32_ORDER_AVAILABLE) {
            sgp32_smdp_status_set(&resp->status, "8.2.1", "3.3", "profile not available");
            return SGP32_OK;
        }
    } else {
        rc = st->order_find_available(st->ctx, req->profile_type, &order);
        if (rc == SGP32_ERR_NOT_FOUND) {
            sgp32_smdp_status_set(&resp->status, "8.2.5", "3.7", "no profile left of this type");
            return SGP32_OK;
        }
        if (rc)
            return rc;
    }
    rc = sgp32_smdp_order_step(&order, req->has_eid ? SGP32_ORDER_EV_DOWNLOAD_ORDER_EID
                                                    : SGP32_ORDER_EV_DOWNLOAD_ORDER);
    if (rc)
        return rc;
    snprintf(order.eid, sizeof(order.eid), "%s", req->has_eid ? req->eid : "");
    order.matching_id[0] = '\0';
    order.cc_required = false;
    order.cc_failures = 0;
    order.download_attempts = 0;
    order.transaction_id[0] = '\0';
    rc = server_order_update(srv, &order, &resp->status);
    if (!rc && sgp32_smdp_status_ok(&resp->status)) {
        snprintf(resp->iccid, sizeof(resp->iccid), "%s", order.iccid);
        server_log(SGP32_LOG_INFO, NULL, order.eid, "downloadOrder: %s (%s) %s", order.iccid,
                   order.profile_type, sgp32_smdp_order_state_name(order.state));
    }
    return rc;
}

/*
 * ES2+.CancelOrder (SGP.22 §5.3.3): end an order that was not downloaded; the profile becomes
 * Available again or Unavailable (finalProfileStatusIndicator).
 *
 *   iccid and finalProfileStatusIndicator present / known     else 8.2.1/2.2, 8.2.1/3.9
 *   EID and matchingId, when given, those of the order        else 8.1.1/3.10, 8.2.6/3.10
 *   the order is not downloaded, installed or idle            else 8.2.1/3.3
 */
#include <stdio.h>
#include <string.h>

#include "smdp_server_internal.h"

int sgp32_smdp_es2_cancel_order(const sgp32_smdp_server *srv, const sgp32_smdp_es2_request *req,
                                sgp32_smdp_es2_response *resp)
{
    if (!srv || !req || !resp)
        return SGP32_ERR_INVALID_ARGUMENT;
    const sgp32_smdp_store *st = &srv->config.store;
    sgp32_smdp_order order;
    if (!req->has_iccid || !req->has_final_status) {
        sgp32_smdp_status_set(&resp->status, "8.2.1", "2.2", "iccid or finalProfileStatusIndicator missing");
        return SGP32_OK;
    }
    int rc = st->order_get(st->ctx, req->iccid, &order);
    if (rc == SGP32_ERR_NOT_FOUND) {
        sgp32_smdp_status_set(&resp->status, "8.2.1", "3.9", "unknown ICCID");
        return SGP32_OK;
    }
    if (rc)
        return rc;
    if (req->has_eid && order.eid[0] && strcmp(req->eid, order.eid) != 0) {
        sgp32_smdp_status_set(&resp->status, "8.1.1", "3.10",
                              "a different EID is associated with this ICCID");
        return SGP32_OK;
    }
    if (req->has_matching_id && strcmp(req->matching_id, order.matching_id) != 0) {
        sgp32_smdp_status_set(&resp->status, "8.2.6", "3.10",
                              "a different matchingId is associated with this ICCID");
        return SGP32_OK;
    }
    char old_txid[SGP32_SMDP_TXID_HEX + 1];
    snprintf(old_txid, sizeof(old_txid), "%s", order.transaction_id);
    if (sgp32_smdp_order_step(&order, req->final_available ? SGP32_ORDER_EV_CANCEL_AVAILABLE
                                                           : SGP32_ORDER_EV_CANCEL_UNAVAILABLE) != SGP32_OK) {
        sgp32_smdp_status_set(&resp->status, "8.2.1", "3.3", "the order cannot be cancelled in its state");
        return SGP32_OK;
    }
    order.eid[0] = order.matching_id[0] = order.transaction_id[0] = order.smds_address[0] = '\0';
    order.cc_required = false;
    memset(order.cc_sha256, 0, sizeof(order.cc_sha256));
    order.cc_failures = order.download_attempts = 0;
    rc = server_order_update(srv, &order, &resp->status);
    if (!rc && sgp32_smdp_status_ok(&resp->status)) {
        if (old_txid[0])
            server_session_end(srv, old_txid);
        server_log(SGP32_LOG_INFO, NULL, NULL, "cancelOrder: %s now %s", order.iccid,
                   sgp32_smdp_order_state_name(order.state));
    }
    return rc;
}

/*
 * ES2+.ReleaseProfile (SGP.22 §5.3.4): a Confirmed order becomes Released (downloadable).
 *
 *   iccid present / known                                     else 1.6/2.2, 8.2.1/3.9
 *   the order is Confirmed                                    else 8.2.1/3.5
 */
#include <stdio.h>
#include <string.h>

#include "smdp_server_internal.h"

int sgp32_smdp_es2_release_profile(const sgp32_smdp_server *srv, const sgp32_smdp_es2_request *req,
                                   sgp32_smdp_es2_response *resp)
{
    if (!srv || !req || !resp)
        return SGP32_ERR_INVALID_ARGUMENT;
    const sgp32_smdp_store *st = &srv->config.store;
    sgp32_smdp_order order;
    if (!req->has_iccid) {
        sgp32_smdp_status_set(&resp->status, "1.6", "2.2", "iccid missing");
        return SGP32_OK;
    }
    int rc = st->order_get(st->ctx, req->iccid, &order);
    if (rc == SGP32_ERR_NOT_FOUND) {
        sgp32_smdp_status_set(&resp->status, "8.2.1", "3.9", "unknown ICCID");
        return SGP32_OK;
    }
    if (rc)
        return rc;
    if (sgp32_smdp_order_step(&order, SGP32_ORDER_EV_RELEASE) != SGP32_OK) {
        sgp32_smdp_status_set(&resp->status, "8.2.1", "3.5", "the profile cannot be released in its state");
        return SGP32_OK;
    }
    rc = server_order_update(srv, &order, &resp->status);
    if (!rc && sgp32_smdp_status_ok(&resp->status))
        server_log(SGP32_LOG_INFO, NULL, order.eid, "releaseProfile: %s released", order.iccid);
    return rc;
}

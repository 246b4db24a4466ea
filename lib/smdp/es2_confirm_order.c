/*
 * ES2+.ConfirmOrder (SGP.22 §5.3.2): fix the EID, matchingId and confirmation code of an order
 * and, with releaseFlag, release it for download.
 *
 *   iccid present / known                                     else 1.6/2.2, 8.2.1/3.9
 *   EID 32 digits, and the one linked (if any)                else 8.1.1/2.1, 8.1.1/3.10
 *   matchingId: [0-9A-Za-z-], unique                          else 8.2.6/2.1, 8.2.6/3.3
 *   an empty matchingId needs an EID                          else 8.1.1/2.2
 *   the order is Allocated or Linked                          else 8.2.1/3.3
 * A missing matchingId is generated (5 groups of 5 characters). Only SHA-256 of the
 * confirmation code is kept.
 */
#include <stdio.h>
#include <string.h>

#include "smdp_server_internal.h"

static bool matching_id_valid(const char *m)
{
    for (; *m; m++)
        if (!((*m >= '0' && *m <= '9') || (*m >= 'A' && *m <= 'Z') || (*m >= 'a' && *m <= 'z') || *m == '-'))
            return false;
    return true;
}

static int generate_matching_id(char out[SGP32_SMDP_MATCHING_ID_MAX + 1])
{
    static const char alphabet[] = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    uint8_t r[25];
    int rc = sgp32_random_bytes(r, sizeof(r));
    size_t n = 0;
    for (size_t i = 0; !rc && i < sizeof(r); i++) {
        if (i && i % 5 == 0)
            out[n++] = '-';
        out[n++] = alphabet[r[i] % (sizeof(alphabet) - 1)];
    }
    out[n] = '\0';
    return rc;
}

int sgp32_smdp_es2_confirm_order(const sgp32_smdp_server *srv, const sgp32_smdp_es2_request *req,
                                 sgp32_smdp_es2_response *resp)
{
    if (!srv || !req || !resp)
        return SGP32_ERR_INVALID_ARGUMENT;
    const sgp32_smdp_store *st = &srv->config.store;
    sgp32_smdp_order order, other;
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
    if (req->has_eid && !es2_eid_valid(req->eid)) {
        sgp32_smdp_status_set(&resp->status, "8.1.1", "2.1", "EID is not 32 digits");
        return SGP32_OK;
    }
    if (req->has_eid && order.eid[0] && strcmp(req->eid, order.eid) != 0) {
        sgp32_smdp_status_set(&resp->status, "8.1.1", "3.10",
                              "a different EID is associated with this ICCID");
        return SGP32_OK;
    }
    if (order.state != SGP32_ORDER_ALLOCATED && order.state != SGP32_ORDER_LINKED) {
        sgp32_smdp_status_set(&resp->status, "8.2.1", "3.3", "profile not available for confirmation");
        return SGP32_OK;
    }
    char eid[SGP32_SMDP_EID_DIGITS + 1];
    snprintf(eid, sizeof(eid), "%s", req->has_eid ? req->eid : order.eid);
    char matching_id[SGP32_SMDP_MATCHING_ID_MAX + 1];
    if (req->has_matching_id) {
        if (!matching_id_valid(req->matching_id)) {
            sgp32_smdp_status_set(&resp->status, "8.2.6", "2.1", "invalid matchingId");
            return SGP32_OK;
        }
        if (!req->matching_id[0] && !eid[0]) {
            sgp32_smdp_status_set(&resp->status, "8.1.1", "2.2", "an empty matchingId needs an EID");
            return SGP32_OK;
        }
        if (req->matching_id[0]) {
            rc = st->order_find_by_matching_id(st->ctx, req->matching_id, &other);
            if (!rc && strcmp(other.iccid, order.iccid) != 0) {
                sgp32_smdp_status_set(&resp->status, "8.2.6", "3.3", "matchingId already in use");
                return SGP32_OK;
            }
            if (rc && rc != SGP32_ERR_NOT_FOUND)
                return rc;
        }
        snprintf(matching_id, sizeof(matching_id), "%s", req->matching_id);
    } else if (req->has_smds_address && !eid[0]) {
        sgp32_smdp_status_set(&resp->status, "8.1.1", "2.2", "an SM-DS event needs an EID");
        return SGP32_OK;
    } else {
        rc = generate_matching_id(matching_id);
        if (rc)
            return rc;
    }
    rc = sgp32_smdp_order_step(&order,
                               req->release_flag ? SGP32_ORDER_EV_CONFIRM_RELEASE : SGP32_ORDER_EV_CONFIRM);
    if (rc)
        return rc;
    snprintf(order.eid, sizeof(order.eid), "%s", eid);
    snprintf(order.matching_id, sizeof(order.matching_id), "%s", matching_id);
    order.cc_required = req->has_confirmation_code;
    memset(order.cc_sha256, 0, sizeof(order.cc_sha256));
    if (order.cc_required)
        rc = sgp32_sha256((const uint8_t *)req->confirmation_code, strlen(req->confirmation_code),
                          order.cc_sha256);
    snprintf(order.smds_address, sizeof(order.smds_address), "%s",
             req->has_smds_address ? req->smds_address : "");
    if (!rc)
        rc = server_order_update(srv, &order, &resp->status);
    if (!rc && sgp32_smdp_status_ok(&resp->status)) {
        snprintf(resp->eid, sizeof(resp->eid), "%s", order.eid);
        snprintf(resp->matching_id, sizeof(resp->matching_id), "%s", order.matching_id);
        snprintf(resp->smdp_address, sizeof(resp->smdp_address), "%s", srv->config.address);
        server_log(SGP32_LOG_INFO, NULL, order.eid, "confirmOrder: %s %s%s", order.iccid,
                   sgp32_smdp_order_state_name(order.state), order.cc_required ? " (confirmation code)" : "");
    }
    return rc;
}

/*
 * ESipa.GetEimPackage (SGP.32 §5.14.5; NOTES §3.2): the IPA asks for its next package.
 *
 * Which package, and when it is signed or sent again, is eim_delivery.c's (shared with the push,
 * TransferEimPackage): the oldest open operation, a PSMO/eCO signed once and redelivered byte for
 * byte, certificates or a lost result asked for first when needed. This file takes the request:
 * the EID, and notifyStateChange, stateChangeCause and rPLMN, recorded on every poll.
 */
#include <stdio.h>
#include <string.h>

#include "eim_internal.h"
#include "sgp32/asn1.h"

enum {
    PACKAGE_MAX = 64 << 10,
    LAST_SEEN_RESOLUTION = 60, /* seconds */
};

static int write_error(sgp32_buf *out, int64_t code)
{
    size_t mark = sgp32_asn1_begin(out);
    int rc = sgp32_asn1_write_integer(out, 0x02, code);
    return rc ? rc : sgp32_asn1_end(out, 0xBF4F, mark);
}

static int write_package(sgp32_buf *out, sgp32_bytes package)
{
    size_t mark = sgp32_asn1_begin(out);
    int rc = sgp32_buf_append(out, package.data, package.len);
    return rc ? rc : sgp32_asn1_end(out, 0xBF4F, mark);
}

int sgp32_eim_get_eim_package(const sgp32_eim_server *srv, const sgp32_get_eim_package_request *req,
                              sgp32_buf *out, sgp32_eim_esipa_info *info)
{
    const sgp32_eim_store *st = &srv->config.store;
    sgp32_eim_euicc euicc;
    sgp32_eim_euicc_init(&euicc);
    sgp32_buf package;
    sgp32_buf_init(&package, PACKAGE_MAX);
    int64_t now = sgp32_eim_now(srv);
    int rc;

    if (eim_eid_text(req->eid_value, info->eid)) {
        snprintf(info->outcome, sizeof(info->outcome), "invalid EID");
        rc = write_error(out, SGP32_GET_EIM_PACKAGE_RESPONSE_EIM_PACKAGE_ERROR_INVALID_EID);
        goto out;
    }
    rc = st->euicc_get(st->ctx, info->eid, &euicc);
    if (rc == SGP32_ERR_NOT_FOUND) {
        snprintf(info->outcome, sizeof(info->outcome), "unknown EID");
        rc = write_error(out, SGP32_GET_EIM_PACKAGE_RESPONSE_EIM_PACKAGE_ERROR_EID_NOT_FOUND);
        goto out;
    }
    if (rc)
        goto out;
    uint8_t rplmn[3];
    bool has_rplmn = req->has_r_plmn && req->r_plmn.len == 3;
    if (has_rplmn)
        memcpy(rplmn, req->r_plmn.data, 3);
    int64_t cause = req->has_state_change_cause ? req->state_change_cause : -1;
    /* A poll writes only when it has news (rPLMN, a cause) or last_seen is older than
     * LAST_SEEN_RESOLUTION: polls of idle devices cost no commit. */
    bool news = (has_rplmn && (!euicc.has_rplmn || memcmp(euicc.rplmn, rplmn, 3) != 0)) ||
                (cause >= 0 && cause != euicc.state_change_cause) || req->notify_state_change;
    if (st->euicc_touch && (news || now - euicc.last_seen >= LAST_SEEN_RESOLUTION) &&
        (rc = st->euicc_touch(st->ctx, info->eid, now, has_rplmn ? rplmn : NULL, cause)))
        goto out;
    if (req->notify_state_change) {
        char detail[64];
        snprintf(detail, sizeof(detail), "{\"stateChangeCause\":%lld}", (long long)cause);
        sgp32_eim_audit(srv, "esipa", "device.state_change", info->eid, 0, detail);
        sgp32_log(SGP32_LOG_INFO, SGP32_LOG_EIM, EIM_LOG_CONTEXT(info->eid),
                  "state change reported, cause %lld", (long long)cause);
    }
    rc = eim_delivery_next(srv, &euicc, &package, info);
    if (rc == SGP32_ERR_NOT_FOUND)
        rc = write_error(out, SGP32_GET_EIM_PACKAGE_RESPONSE_EIM_PACKAGE_ERROR_NO_EIM_PACKAGE_AVAILABLE);
    else if (!rc)
        rc = write_package(out, sgp32_buf_bytes(&package));
out:
    sgp32_buf_free(&package);
    sgp32_eim_euicc_free(&euicc);
    return rc;
}

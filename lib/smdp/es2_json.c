/*
 * ES2+ JSON binding (SGP.22 §6.5.2.1-6.5.2.5; NOTES §4.5). The request header object is
 * mandatory. ICCIDs are 19-20 characters (a 19-digit value may come F-padded), EIDs 32 digits,
 * releaseFlag a JSON boolean, finalProfileStatusIndicator "Available" or "Unavailable".
 */
#include <stdio.h>
#include <string.h>

#include "sgp32/text.h"
#include "sgp32/time.h"
#include "smdp_json.h"

int sgp32_smdp_es2_json_decode(sgp32_smdp_es2_function f, const char *body, size_t len,
                               sgp32_smdp_es2_request *req, sgp32_smdp_status *status)
{
    if (!req || !status)
        return SGP32_ERR_INVALID_ARGUMENT;
    memset(status, 0, sizeof(*status));
    memset(req, 0, sizeof(*req));
    req->function = f;
    json_t *root = smdp_json_parse(body, len, status);
    if (!root)
        return SGP32_OK;
    static const char *const download[] = {"header", "eid", "iccid", "profileType", NULL};
    static const char *const confirm[] = {"header",           "iccid",       "eid",         "matchingId",
                                          "confirmationCode", "smdsAddress", "releaseFlag", NULL};
    static const char *const cancel[] = {
        "header", "iccid", "eid", "matchingId", "finalProfileStatusIndicator", NULL};
    static const char *const release[] = {"header", "iccid", NULL};
    const char *const *known = f == SGP32_SMDP_ES2_DOWNLOAD_ORDER    ? download
                               : f == SGP32_SMDP_ES2_CONFIRM_ORDER   ? confirm
                               : f == SGP32_SMDP_ES2_CANCEL_ORDER    ? cancel
                               : f == SGP32_SMDP_ES2_RELEASE_PROFILE ? release
                                                                     : NULL;
    if (!known) {
        json_decref(root);
        return SGP32_ERR_INVALID_ARGUMENT;
    }
    char iccid[32];
    bool iccid_mandatory = f != SGP32_SMDP_ES2_DOWNLOAD_ORDER;
    int bad = !smdp_json_known_fields(root, known, status) ||
              smdp_json_request_header(
                  root, true, req->function_requester_identifier, sizeof(req->function_requester_identifier),
                  req->function_call_identifier, sizeof(req->function_call_identifier), status) ||
              smdp_json_string(root, "iccid", iccid_mandatory && f != SGP32_SMDP_ES2_CANCEL_ORDER,
                               sizeof(iccid) - 1, iccid, &req->has_iccid, status);
    if (!bad && req->has_iccid && sgp32_smdp_iccid_from_text(iccid, req->iccid) != SGP32_OK) {
        sgp32_smdp_status_set(status, "8.2.1", "2.1", "iccid: not 19-20 digits");
        bad = 1;
    }
    if (!bad && f != SGP32_SMDP_ES2_RELEASE_PROFILE)
        bad = smdp_json_string(root, "eid", false, SGP32_SMDP_EID_DIGITS, req->eid, &req->has_eid, status);
    if (!bad && f == SGP32_SMDP_ES2_DOWNLOAD_ORDER)
        bad = smdp_json_string(root, "profileType", false, SGP32_SMDP_PROFILE_TYPE_MAX, req->profile_type,
                               &req->has_profile_type, status);
    if (!bad && (f == SGP32_SMDP_ES2_CONFIRM_ORDER || f == SGP32_SMDP_ES2_CANCEL_ORDER))
        bad = smdp_json_string(root, "matchingId", false, SGP32_SMDP_MATCHING_ID_MAX, req->matching_id,
                               &req->has_matching_id, status);
    if (!bad && f == SGP32_SMDP_ES2_CONFIRM_ORDER) {
        bad = smdp_json_string(root, "confirmationCode", false, SGP32_SMDP_MATCHING_ID_MAX,
                               req->confirmation_code, &req->has_confirmation_code, status) ||
              smdp_json_string(root, "smdsAddress", false, SGP32_SMDP_ADDRESS_MAX, req->smds_address,
                               &req->has_smds_address, status);
        json_t *flag = json_object_get(root, "releaseFlag");
        if (!bad && !flag) {
            sgp32_smdp_status_set(status, "1.6", "2.2", "releaseFlag: mandatory field missing");
            bad = 1;
        } else if (!bad && !json_is_boolean(flag)) {
            sgp32_smdp_status_set(status, "1.6", "2.1", "releaseFlag: not a boolean");
            bad = 1;
        } else if (!bad) {
            req->release_flag = json_is_true(flag);
        }
        if (!bad && req->has_confirmation_code && !req->confirmation_code[0]) {
            sgp32_smdp_status_set(status, "8.2.7", "2.1", "confirmationCode: empty");
            bad = 1;
        }
    }
    if (!bad && f == SGP32_SMDP_ES2_CANCEL_ORDER) {
        char final[16];
        bad = smdp_json_string(root, "finalProfileStatusIndicator", false, sizeof(final) - 1, final,
                               &req->has_final_status, status);
        if (!bad && req->has_final_status) {
            req->final_available = strcmp(final, "Available") == 0;
            if (!req->final_available && strcmp(final, "Unavailable") != 0) {
                sgp32_smdp_status_set(status, "1.6", "2.1",
                                      "finalProfileStatusIndicator: Available or Unavailable");
                bad = 1;
            }
        }
    }
    json_decref(root);
    return SGP32_OK;
}

int sgp32_smdp_es2_json_encode(const sgp32_smdp_es2_response *resp, sgp32_buf *body)
{
    if (!resp || !body)
        return SGP32_ERR_INVALID_ARGUMENT;
    json_t *root = smdp_json_response(&resp->status);
    if (root && sgp32_smdp_status_ok(&resp->status)) {
        if (resp->function == SGP32_SMDP_ES2_DOWNLOAD_ORDER)
            json_object_set_new(root, "iccid", json_string(resp->iccid));
        if (resp->function == SGP32_SMDP_ES2_CONFIRM_ORDER) {
            if (resp->eid[0])
                json_object_set_new(root, "eid", json_string(resp->eid));
            json_object_set_new(root, "matchingId", json_string(resp->matching_id));
            if (resp->smdp_address[0])
                json_object_set_new(root, "smdpAddress", json_string(resp->smdp_address));
        }
    }
    return smdp_json_finish(root, body);
}

int sgp32_smdp_es2_json_download_progress(const sgp32_smdp_event *event, const char *function_requester,
                                          sgp32_buf *body)
{
    if (!event || !event->order || !body)
        return SGP32_ERR_INVALID_ARGUMENT;
    json_t *root = json_object(), *header = json_object(), *point = json_object();
    json_object_set_new(header, "functionRequesterIdentifier",
                        json_string(function_requester ? function_requester : ""));
    char call[48];
    snprintf(call, sizeof(call), "%s-%d-%lld", event->order->iccid, event->notification_point_id,
             (long long)event->timestamp);
    json_object_set_new(header, "functionCallIdentifier", json_string(call));
    json_object_set_new(root, "header", header);
    if (event->order->eid[0])
        json_object_set_new(root, "eid", json_string(event->order->eid));
    json_object_set_new(root, "iccid", json_string(event->order->iccid));
    json_object_set_new(root, "profileType", json_string(event->order->profile_type));
    char ts[SGP32_TIME_TEXT_LEN];
    sgp32_time_format(event->timestamp, ts);
    json_object_set_new(root, "timestamp", json_string(ts));
    json_object_set_new(root, "notificationPointId", json_integer(event->notification_point_id));
    bool ok = !event->status || sgp32_smdp_status_ok(event->status);
    json_object_set_new(point, "status", json_string(ok ? "Executed-Success" : "Failed"));
    if (!ok) {
        json_t *scd = json_object();
        json_object_set_new(scd, "subjectCode", json_string(event->status->subject));
        json_object_set_new(scd, "reasonCode", json_string(event->status->reason));
        if (event->status->message[0])
            json_object_set_new(scd, "message", json_string(event->status->message));
        json_object_set_new(point, "statusCodeData", scd);
    }
    json_object_set_new(root, "notificationPointStatus", point);
    return smdp_json_finish(root, body);
}

/*
 * ESipa dispatch (SGP.32 §5.14, bindings §6.3 and §6.4; NOTES §3): one EsipaMessageFromIpaToEim
 * in, decoded with the typed codec, handed to the function's file (esipa_<function>.c), one
 * EsipaMessageFromEimToIpa out. The JSON binding converts both ways with lib/transport's
 * converters, so both bindings run exactly the same code.
 */
#include <stdio.h>
#include <string.h>

#include "sgp32/asn1.h"
#include "sgp32/eim_server.h"
#include "sgp32/esipa_client.h"
#include "sgp32/log.h"

enum { ESIPA_ARENA_MAX = 8 << 20 };

int sgp32_eim_esipa_handle(const sgp32_eim_server *srv, const uint8_t *body, size_t len, sgp32_buf *response,
                           sgp32_eim_esipa_info *info)
{
    sgp32_eim_esipa_info local;
    if (!info)
        info = &local;
    memset(info, 0, sizeof(*info));
    info->http_status = 200;
    sgp32_buf_reset(response);

    sgp32_arena arena;
    sgp32_arena_init(&arena, ESIPA_ARENA_MAX);
    sgp32_esipa_message_from_ipa_to_eim *msg = sgp32_arena_alloc(&arena, sizeof(*msg));
    sgp32_asn1_diag diag;
    int rc =
        msg ? sgp32_asn1_decode_diag(&sgp32_type_esipa_message_from_ipa_to_eim, body, len, &arena, msg, &diag)
            : SGP32_ERR_NO_MEMORY;
    if (rc == SGP32_ERR_NO_MEMORY)
        goto out;
    if (rc) {
        /* Not an ESipa message: HTTP 400 (onomondo-eim and the test emulators do the same). */
        sgp32_asn1_tlv t;
        if (sgp32_asn1_read_tlv(body, len, &t, NULL) == SGP32_OK)
            info->function_tag = t.tag;
        info->http_status = 400;
        snprintf(info->outcome, sizeof(info->outcome), "not an ESipa message: %s at %.100s",
                 sgp32_err_str(rc), diag.path);
        rc = SGP32_OK;
        goto out;
    }
    sgp32_asn1_tlv outer;
    if (sgp32_asn1_read_tlv(body, len, &outer, NULL) == SGP32_OK)
        info->function_tag = outer.tag;

    switch (msg->choice) {
    case SGP32_ESIPA_MESSAGE_FROM_IPA_TO_EIM_GET_EIM_PACKAGE_REQUEST:
        rc = sgp32_eim_get_eim_package(srv, &msg->u.get_eim_package_request, response, info);
        break;
    case SGP32_ESIPA_MESSAGE_FROM_IPA_TO_EIM_PROVIDE_EIM_PACKAGE_RESULT:
        rc = sgp32_eim_provide_eim_package_result(srv, &msg->u.provide_eim_package_result, response, info);
        break;
    case SGP32_ESIPA_MESSAGE_FROM_IPA_TO_EIM_HANDLE_NOTIFICATION_ESIPA:
        rc = sgp32_eim_handle_notification(srv, &msg->u.handle_notification_esipa, info);
        if (!rc)
            info->http_status = 204;
        break;
    case SGP32_ESIPA_MESSAGE_FROM_IPA_TO_EIM_INITIATE_AUTHENTICATION_REQUEST_ESIPA:
        rc = sgp32_eim_initiate_authentication(srv, &msg->u.initiate_authentication_request_esipa, response,
                                               info);
        break;
    case SGP32_ESIPA_MESSAGE_FROM_IPA_TO_EIM_AUTHENTICATE_CLIENT_REQUEST_ESIPA:
        rc = sgp32_eim_authenticate_client(srv, &msg->u.authenticate_client_request_esipa, response, info);
        break;
    case SGP32_ESIPA_MESSAGE_FROM_IPA_TO_EIM_GET_BOUND_PROFILE_PACKAGE_REQUEST_ESIPA:
        rc = sgp32_eim_get_bound_profile_package(srv, &msg->u.get_bound_profile_package_request_esipa,
                                                 response, info);
        break;
    case SGP32_ESIPA_MESSAGE_FROM_IPA_TO_EIM_CANCEL_SESSION_REQUEST_ESIPA:
        rc = sgp32_eim_cancel_session(srv, &msg->u.cancel_session_request_esipa, response, info);
        break;
    default:
        /* transferEimPackageResponse only ever comes back on the eIM's own push request */
        info->http_status = 400;
        snprintf(info->outcome, sizeof(info->outcome), "message %X is not a request to the eIM",
                 (unsigned)info->function_tag);
        break;
    }
out:
    sgp32_arena_free(&arena);
    return rc;
}

int sgp32_eim_esipa_json_handle(const sgp32_eim_server *srv, const char *function, const char *body,
                                size_t len, sgp32_buf *response, sgp32_eim_esipa_info *info)
{
    sgp32_eim_esipa_info local;
    if (!info)
        info = &local;
    sgp32_buf der, answer;
    sgp32_buf_init(&der, ESIPA_ARENA_MAX);
    sgp32_buf_init(&answer, ESIPA_ARENA_MAX);
    sgp32_buf_reset(response);
    int rc = sgp32_esipa_json_to_der(SGP32_ESIPA_IPA_TO_EIM, function, body, len, &der);
    if (rc) {
        memset(info, 0, sizeof(*info));
        info->http_status = 400;
        snprintf(info->outcome, sizeof(info->outcome), "not an ESipa %s JSON body: %s",
                 function ? function : "?", sgp32_err_str(rc));
        rc = rc == SGP32_ERR_NO_MEMORY ? rc : SGP32_OK;
        goto out;
    }
    rc = sgp32_eim_esipa_handle(srv, der.data, der.len, &answer, info);
    if (rc || info->http_status != 200)
        goto out;
    const char *answered = NULL;
    rc = sgp32_esipa_json_from_der(SGP32_ESIPA_EIM_TO_IPA, answer.data, answer.len, &answered, response);
out:
    sgp32_buf_free(&der);
    sgp32_buf_free(&answer);
    return rc;
}

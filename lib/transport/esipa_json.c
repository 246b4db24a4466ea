/*
 * The ESipa HTTPS+JSON binding (SGP.32 §6.4; NOTES §3.4): which JSON field carries which part of
 * the DER messages, both directions, as tables for json_binding.c.
 *
 * Value encodings: DER objects as standard base64 of the whole TLV; transactionId and
 * eimTransactionId upper-case hex; eidValue 32 digits; euiccChallenge base64 of the 16 bytes;
 * smdpAddress / matchingId strings; integers (errors, stateChangeCause) as JSON integers;
 * notifyStateChange / eimPackageReceived as true. Choices made where NOTES §3.4 is silent
 * (unverified, documented in docs/transport.md):
 *   - cancelSessionResponse is the ES10b CancelSessionResponse as the eUICC gave it (BF41 ...),
 *     as in ES9+ JSON; the ASN.1 message carries the same contents under [1] (A1);
 *   - pendingNotification is the notification itself (BF37 / 30 / compact A0 / A1), without the
 *     [0] of HandleNotificationEsipa; a ProvideEimPackageResult sent as a notification is
 *     "provideEimPackageResult" (base64 of BF50);
 *   - ctxParams1 is the CtxParams1 CHOICE (A0 ...) without the [2] wrapper; hashCc is base64 of
 *     the 32 bytes; rPLMN is hex;
 *   - function errors come as JSON integers named after the ASN.1 alternative
 *     (initiateAuthenticationErrorEsipa, authenticateClientErrorEsipa,
 *     getBoundProfilePackageErrorEsipa, cancelSessionError, eimPackageError,
 *     provideEimPackageResultError);
 *   - ePRAndNotifications is an object {euiccPackageResult, notificationList: [base64, ...]}.
 */
#include <string.h>

#include "json_binding.h"
#include "sgp32/asn1_types.h"
#include "sgp32/esipa_client.h"

#define N(a) SGP32_ARRAY_LEN(a)

/* ------------------------------------------------------------------ IPA -> eIM */

static const json_field ia_req[] = {
    {"euiccChallenge", 0x81, JF_B64_VALUE, 0},
    {"smdpAddress", 0x83, JF_STRING, 0},
    {"euiccInfo1", 0xBF20, JF_B64_TLV, 0},
    {"eimTransactionId", 0x82, JF_HEX_VALUE, 0},
};
static const json_field ac_req[] = {
    {"transactionId", 0x80, JF_HEX_VALUE, 0},
    {"authenticateServerResponse", 0xBF38, JF_B64_TLV, 0},
};
static const json_field gbpp_req[] = {
    {"transactionId", 0x80, JF_HEX_VALUE, 0},
    {"prepareDownloadResponse", 0xBF21, JF_B64_TLV, 0},
};
static const json_field cs_req[] = {
    {"transactionId", 0x80, JF_HEX_VALUE, 0},
    {"cancelSessionResponse", 0xA1, JF_B64_RETAG, 0xBF41},
};
static const json_field hn_pending[] = {{"pendingNotification", 0xA0, JF_B64_INNER, 0}};
static const json_field hn_provide[] = {{"provideEimPackageResult", 0xBF50, JF_B64_TLV, 0}};
static const json_field gep_req[] = {
    {"eidValue", 0x5A, JF_EID, 0},
    {"notifyStateChange", 0x80, JF_TRUE_NULL, 0},
    {"stateChangeCause", 0x81, JF_INT, 0},
    {"rPLMN", 0x82, JF_HEX_VALUE, 0},
};
static const json_field pepr_req[] = {
    {"eidValue", 0x5A, JF_EID, 0},
    {"eimPackageResult", 0, JF_B64_TLV, 0}, /* an untagged CHOICE: any of its alternatives */
};
static const json_field tep_epr[] = {{"euiccPackageResult", 0xBF51, JF_B64_TLV, 0}};
static const json_field tep_epr_notifications[] = {
    {"euiccPackageResult", 0xBF51, JF_B64_TLV, 0},
    {"notificationList", 0xA0, JF_B64_LIST, 0},
};
static const json_field tep_ipa_data[] = {{"ipaEuiccDataResponse", 0xBF52, JF_B64_TLV, 0}};
static const json_field tep_received[] = {{"eimPackageReceived", 0x05, JF_TRUE_NULL, 0}};
static const json_field tep_error[] = {{"eimPackageError", 0x02, JF_INT, 0}};

static const json_alternative ia_req_alt[] = {{0, NULL, NULL, ia_req, N(ia_req)}};
static const json_alternative ac_req_alt[] = {{0, NULL, NULL, ac_req, N(ac_req)}};
static const json_alternative gbpp_req_alt[] = {{0, NULL, NULL, gbpp_req, N(gbpp_req)}};
static const json_alternative cs_req_alt[] = {{0, NULL, NULL, cs_req, N(cs_req)}};
static const json_alternative hn_alt[] = {
    {0, NULL, "pendingNotification", hn_pending, 1},
    {0, NULL, "provideEimPackageResult", hn_provide, 1},
};
static const json_alternative gep_req_alt[] = {{0, NULL, NULL, gep_req, N(gep_req)}};
static const json_alternative pepr_req_alt[] = {{0, NULL, NULL, pepr_req, N(pepr_req)}};
static const json_alternative tep_resp_alt[] = {
    {0, NULL, "eimPackageError", tep_error, 1},
    {0, NULL, "eimPackageReceived", tep_received, 1},
    {0x30, "ePRAndNotifications", "euiccPackageResult", tep_epr_notifications, N(tep_epr_notifications)},
    {0, NULL, "euiccPackageResult", tep_epr, 1},
    {0, NULL, "ipaEuiccDataResponse", tep_ipa_data, 1},
};

#define IPA (&sgp32_type_esipa_message_from_ipa_to_eim)
static const json_shape ipa_to_eim[] = {
    {"initiateAuthentication", 0xBF39, false, ia_req_alt, 1, IPA},
    {"authenticateClient", 0xBF3B, false, ac_req_alt, 1, IPA},
    {"getBoundProfilePackage", 0xBF3A, false, gbpp_req_alt, 1, IPA},
    {"cancelSession", 0xBF41, false, cs_req_alt, 1, IPA},
    {"handleNotification", 0xBF3D, true, hn_alt, N(hn_alt), IPA},
    {"transferEimPackage", 0xBF4E, true, tep_resp_alt, N(tep_resp_alt), IPA},
    {"getEimPackage", 0xBF4F, false, gep_req_alt, 1, IPA},
    {"provideEimPackageResult", 0xBF50, false, pepr_req_alt, 1, IPA},
};

/* ------------------------------------------------------------------ eIM -> IPA */

static const json_field ia_ok[] = {
    {"transactionId", 0x80, JF_HEX_VALUE, 0},    {"serverSigned1", 0x30, JF_B64_TLV, 0},
    {"serverSignature1", 0x5F37, JF_B64_TLV, 0}, {"euiccCiPKIdentifierToBeUsed", 0x04, JF_B64_TLV, 0},
    {"serverCertificate", 0x30, JF_B64_TLV, 0},  {"matchingId", 0x0C, JF_STRING, 0},
    {"ctxParams1", 0xA2, JF_B64_INNER, 0},
};
static const json_field ia_err[] = {{"initiateAuthenticationErrorEsipa", 0x81, JF_INT, 0}};
static const json_field ac_dp[] = {
    {"transactionId", 0x80, JF_HEX_VALUE, 0}, {"profileMetadata", 0xBF25, JF_B64_TLV, 0},
    {"smdpSigned2", 0x30, JF_B64_TLV, 0},     {"smdpSignature2", 0x5F37, JF_B64_TLV, 0},
    {"smdpCertificate", 0x30, JF_B64_TLV, 0}, {"hashCc", 0x04, JF_B64_VALUE, 0},
};
static const json_field ac_ds[] = {
    {"transactionId", 0x80, JF_HEX_VALUE, 0},
    {"profileDownloadTrigger", 0xBF54, JF_B64_TLV, 0},
};
static const json_field ac_err[] = {{"authenticateClientErrorEsipa", 0x82, JF_INT, 0}};
static const json_field gbpp_ok[] = {
    {"transactionId", 0x80, JF_HEX_VALUE, 0},
    {"boundProfilePackage", 0xBF36, JF_B64_TLV, 0},
};
static const json_field gbpp_err[] = {{"getBoundProfilePackageErrorEsipa", 0x81, JF_INT, 0}};
static const json_field cs_err[] = {{"cancelSessionError", 0x81, JF_INT, 0}};
static const json_field pkg_epr[] = {{"euiccPackageRequest", 0xBF51, JF_B64_TLV, 0}};
static const json_field pkg_ipa_data[] = {{"ipaEuiccDataRequest", 0xBF52, JF_B64_TLV, 0}};
static const json_field pkg_ack[] = {{"eimAcknowledgements", 0xBF53, JF_B64_TLV, 0}};
static const json_field pkg_pdt[] = {{"profileDownloadTriggerRequest", 0xBF54, JF_B64_TLV, 0}};
static const json_field gep_err[] = {{"eimPackageError", 0x02, JF_INT, 0}};
static const json_field pepr_err[] = {{"provideEimPackageResultError", 0x02, JF_INT, 0}};

static const json_alternative ia_resp_alt[] = {
    {0, NULL, "initiateAuthenticationErrorEsipa", ia_err, 1},
    {0xA0, NULL, NULL, ia_ok, N(ia_ok)},
};
static const json_alternative ac_resp_alt[] = {
    {0, NULL, "authenticateClientErrorEsipa", ac_err, 1},
    {0xA0, NULL, "smdpSigned2", ac_dp, N(ac_dp)},
    {0xA1, NULL, NULL, ac_ds, N(ac_ds)},
};
static const json_alternative gbpp_resp_alt[] = {
    {0, NULL, "getBoundProfilePackageErrorEsipa", gbpp_err, 1},
    {0xA0, NULL, NULL, gbpp_ok, N(gbpp_ok)},
};
static const json_alternative cs_resp_alt[] = {
    {0, NULL, "cancelSessionError", cs_err, 1},
    {0xA0, NULL, NULL, NULL, 0},
};
static const json_alternative tep_req_alt[] = {
    {0, NULL, "euiccPackageRequest", pkg_epr, 1},
    {0, NULL, "ipaEuiccDataRequest", pkg_ipa_data, 1},
    {0, NULL, "eimAcknowledgements", pkg_ack, 1},
    {0, NULL, "profileDownloadTriggerRequest", pkg_pdt, 1},
};
static const json_alternative gep_resp_alt[] = {
    {0, NULL, "euiccPackageRequest", pkg_epr, 1},
    {0, NULL, "ipaEuiccDataRequest", pkg_ipa_data, 1},
    {0, NULL, "profileDownloadTriggerRequest", pkg_pdt, 1},
    {0, NULL, "eimPackageError", gep_err, 1},
};
static const json_alternative pepr_resp_alt[] = {
    {0, NULL, "provideEimPackageResultError", pepr_err, 1},
    {0, NULL, "eimAcknowledgements", pkg_ack, 1},
    {0x30, NULL, NULL, NULL, 0},
};

#define EIM (&sgp32_type_esipa_message_from_eim_to_ipa)
static const json_shape eim_to_ipa[] = {
    {"initiateAuthentication", 0xBF39, true, ia_resp_alt, N(ia_resp_alt), EIM},
    {"authenticateClient", 0xBF3B, true, ac_resp_alt, N(ac_resp_alt), EIM},
    {"getBoundProfilePackage", 0xBF3A, true, gbpp_resp_alt, N(gbpp_resp_alt), EIM},
    {"cancelSession", 0xBF41, true, cs_resp_alt, N(cs_resp_alt), EIM},
    {"transferEimPackage", 0xBF4E, true, tep_req_alt, N(tep_req_alt), EIM},
    {"getEimPackage", 0xBF4F, true, gep_resp_alt, N(gep_resp_alt), EIM},
    {"provideEimPackageResult", 0xBF50, true, pepr_resp_alt, N(pepr_resp_alt), EIM},
};

static const json_shape *shapes(sgp32_esipa_direction direction, size_t *count)
{
    if (direction == SGP32_ESIPA_EIM_TO_IPA) {
        *count = N(eim_to_ipa);
        return eim_to_ipa;
    }
    *count = N(ipa_to_eim);
    return ipa_to_eim;
}

const char *sgp32_esipa_function_name(uint32_t tag)
{
    for (size_t i = 0; i < N(ipa_to_eim); i++)
        if (ipa_to_eim[i].tag == tag)
            return ipa_to_eim[i].function;
    return NULL;
}

int sgp32_esipa_json_from_der(sgp32_esipa_direction direction, const uint8_t *der, size_t len,
                              const char **function, sgp32_buf *json)
{
    if (!der || !json || (direction != SGP32_ESIPA_IPA_TO_EIM && direction != SGP32_ESIPA_EIM_TO_IPA))
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_asn1_tlv tlv;
    int rc = sgp32_asn1_read_tlv(der, len, &tlv, NULL);
    if (rc)
        return rc;
    size_t count;
    const json_shape *table = shapes(direction, &count);
    for (size_t i = 0; i < count; i++) {
        if (table[i].tag != tlv.tag)
            continue;
        json_t *object;
        rc = sgp32_json_binding_from_der(&table[i], der, len, &object);
        if (rc)
            return rc;
        rc = sgp32_json_binding_dump(object, json);
        json_decref(object);
        if (rc == SGP32_OK && function)
            *function = table[i].function;
        return rc;
    }
    return SGP32_ERR_ASN1_UNKNOWN_CHOICE;
}

int sgp32_esipa_json_to_der(sgp32_esipa_direction direction, const char *function, const char *json,
                            size_t json_len, sgp32_buf *der)
{
    if (!function || (!json && json_len) || !der ||
        (direction != SGP32_ESIPA_IPA_TO_EIM && direction != SGP32_ESIPA_EIM_TO_IPA))
        return SGP32_ERR_INVALID_ARGUMENT;
    size_t count;
    const json_shape *table = shapes(direction, &count);
    const json_shape *shape = NULL;
    for (size_t i = 0; i < count && !shape; i++)
        if (strcmp(table[i].function, function) == 0)
            shape = &table[i];
    if (!shape)
        return SGP32_ERR_NOT_FOUND;
    size_t start = 0;
    while (start < json_len &&
           (json[start] == ' ' || json[start] == '\t' || json[start] == '\r' || json[start] == '\n'))
        start++;
    json_t *object;
    if (start == json_len) {
        object = json_object(); /* no body */
    } else {
        json_error_t error;
        object = json_loadb(json, json_len, JSON_REJECT_DUPLICATES, &error);
        if (!object)
            return SGP32_ERR_BAD_TEXT;
    }
    if (!object)
        return SGP32_ERR_NO_MEMORY;
    int rc = sgp32_json_binding_to_der(shape, object, der);
    json_decref(object);
    return rc;
}

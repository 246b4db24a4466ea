/*
 * The IPA's ESipa client over HTTPS (SGP.32 §6.1, §6.3 ASN.1 binding, §6.4 JSON binding; NOTES §3.4).
 *
 * A session is one procedure: it keeps one TLS connection (curl keeps it alive between requests;
 * onomondo-eim correlates by connection) and closes it at the end. Each request is one DER
 * EsipaMessageFromIpaToEim; the answer is one DER EsipaMessageFromEimToIpa, whichever binding
 * carries it:
 *
 *   ASN.1  POST https://<eimFqdn>/gsma/rsp2/asn1, Content-Type application/x-gsma-rsp-asn1,
 *          X-Admin-Protocol gsma/rsp/v2.1.0, User-Agent gsma-rsp-ipad; the DER both ways.
 *   JSON   POST https://<eimFqdn>/gsma/rsp2/esipa/<function>, application/json;charset=UTF-8;
 *          the DER converted to the JSON fields of NOTES §3.4 and the JSON answer back to DER
 *          (jansson; the result is checked by the typed codec of asn1_types.h).
 *
 * HandleNotification has no response message: 204, or 200 with an empty body, is success with an
 * empty response (result->no_content); any other status means "not taken" (keep the notification).
 * Return codes: SGP32_OK; SGP32_ERR_TRANSPORT_CONNECT / _TLS / _TIMEOUT; _HTTP_STATUS (4xx/5xx or
 * another status the binding does not allow: result->http_status); _PROTOCOL (wrong content type,
 * a body that is not one DER message or does not convert); _TOO_LARGE (over max_response).
 */
#ifndef SGP32_ESIPA_CLIENT_H
#define SGP32_ESIPA_CLIENT_H

#include "sgp32/https_client.h"

typedef enum sgp32_esipa_binding {
    SGP32_ESIPA_BINDING_ASN1 = 0,
    SGP32_ESIPA_BINDING_JSON = 1,
} sgp32_esipa_binding;

typedef struct sgp32_esipa_config {
    const char *eim_fqdn; /* "eim.example.com" or "host:port" (eimFqdn of the eIM configuration) */
    sgp32_esipa_binding binding;
    sgp32_tls_trust tls;
    sgp32_https_limits limits;
    const char *x_admin_protocol;  /* NULL: "gsma/rsp/v2.1.0" */
    const char *user_agent_suffix; /* NULL: "gsma-rsp-ipad"; else "gsma-rsp-ipad; <suffix>" */
} sgp32_esipa_config;

typedef struct sgp32_esipa_session sgp32_esipa_session;

/* Check the configuration and prepare (no connection yet: the first send connects). */
int sgp32_esipa_session_open(const sgp32_esipa_config *config, sgp32_esipa_session **out);
/* One request/response. response is reset and receives the DER EsipaMessageFromEimToIpa (empty
 * for HandleNotification). result may be NULL. */
int sgp32_esipa_session_send(sgp32_esipa_session *session, const uint8_t *der, size_t len,
                             sgp32_buf *response, sgp32_https_result *result);
void sgp32_esipa_session_stats(const sgp32_esipa_session *session, sgp32_https_stats *stats);
/* End of the procedure: the connection is closed. NULL is fine. */
void sgp32_esipa_session_close(sgp32_esipa_session *session);

/* ------------------------------------------------------------------ JSON binding conversions */

typedef enum sgp32_esipa_direction {
    SGP32_ESIPA_IPA_TO_EIM = 0, /* EsipaMessageFromIpaToEim: requests (and the TransferEimPackage answer) */
    SGP32_ESIPA_EIM_TO_IPA = 1, /* EsipaMessageFromEimToIpa: answers (and the TransferEimPackage push) */
} sgp32_esipa_direction;

/* The JSON function name ("getEimPackage") of a message by its outer tag (0xBF4F); NULL if none. */
const char *sgp32_esipa_function_name(uint32_t tag);
/*
 * DER message -> JSON text (compact, NUL-terminated in json; json->len excludes the NUL) and the
 * function it belongs to. The DER must decode with the typed codec of its direction.
 */
int sgp32_esipa_json_from_der(sgp32_esipa_direction direction, const uint8_t *der, size_t len,
                              const char **function, sgp32_buf *json);
/*
 * JSON text of function -> DER message appended to der. An empty text or {} is the answer without
 * a body (cancelSession ok, provideEimPackageResult emptyResponse). Errors: SGP32_ERR_BAD_TEXT
 * (not JSON, wrong JSON types, bad base64/hex), SGP32_ERR_NOT_FOUND (unknown function, or
 * handleNotification's answer, which has no message), lib/asn1 errors (the result does not decode).
 */
int sgp32_esipa_json_to_der(sgp32_esipa_direction direction, const char *function, const char *json,
                            size_t json_len, sgp32_buf *der);

#endif

/*
 * ES9+ over HTTPS with the JSON binding (SGP.22 §6.5; NOTES §4.1, §4.3): the IPA's client for the
 * direct profile download (SGP.32 §3.2.3.1), talking to the SM-DP+ as an LPA does.
 *
 * The IPA core works with the DER objects of the ES9+ ASN.1 binding (without the A2 wrapper):
 * requests InitiateAuthenticationRequest BF39, AuthenticateClientRequest BF3B,
 * GetBoundProfilePackageRequest BF3A, HandleNotification BF3D, CancelSessionRequestEs9 BF41;
 * answers InitiateAuthenticationResponse BF39, AuthenticateClientResponseEs9 BF3B,
 * GetBoundProfilePackageResponse BF3A, CancelSessionResponseEs9 BF41. This client converts them to
 * and from the JSON fields (POST https://<smdpAddress>/gsma/rsp2/es9plus/<function>), sends
 * X-Admin-Protocol and User-Agent gsma-rsp-lpad, optionally the request header object, and reads
 * the response header's functionExecutionStatus into the result.
 *
 * Principle 6: a Failed or Expired status is a spec outcome, not a call failure: the call returns
 * SGP32_OK, result->status says so with subjectCode/reasonCode, and response stays empty. Return
 * codes are those of esipa_client.h (transport), plus SGP32_ERR_TRANSPORT_PROTOCOL for a body that
 * is not the function's JSON.
 */
#ifndef SGP32_ES9_CLIENT_H
#define SGP32_ES9_CLIENT_H

#include "sgp32/https_client.h"

typedef struct sgp32_es9_config {
    const char *smdp_address; /* "smdp.example.com" or "host:port" */
    sgp32_tls_trust tls;      /* CERT.DP.TLS chains to a GSMA CI or a public CA: give them here */
    sgp32_https_limits limits;
    const char *x_admin_protocol; /* NULL: "gsma/rsp/v2.1.0" */
    const char *user_agent;       /* NULL: "gsma-rsp-lpad" */
    /* Send "header":{"functionRequesterIdentifier":..., "functionCallIdentifier":...} (LPAs usually
     * do not; strict test SM-DP+s want it). The call identifier is a counter per session. */
    bool send_header;
    const char *function_requester_identifier;
} sgp32_es9_config;

typedef enum sgp32_es9_status {
    SGP32_ES9_STATUS_NONE = 0,  /* no header (handleNotification's 204) */
    SGP32_ES9_EXECUTED_SUCCESS, /* "Executed-Success" */
    SGP32_ES9_EXECUTED_WITH_WARNING,
    SGP32_ES9_FAILED,
    SGP32_ES9_EXPIRED,
} sgp32_es9_status;

typedef struct sgp32_es9_result {
    sgp32_https_result https;
    sgp32_es9_status status;
    char subject_code[32]; /* statusCodeData, "" when absent: "8.1.1" */
    char reason_code[32];  /* "3.8" */
    char subject_identifier[128];
    char message[256];
} sgp32_es9_result;

typedef struct sgp32_es9_session sgp32_es9_session;

int sgp32_es9_session_open(const sgp32_es9_config *config, sgp32_es9_session **out);
/* Any of the five requests (by its outer tag); response is reset and receives the answer's DER
 * (empty for handleNotification and for a failed function). result may be NULL. */
int sgp32_es9_session_call(sgp32_es9_session *session, const uint8_t *request, size_t len,
                           sgp32_buf *response, sgp32_es9_result *result);
/* The same, checking the request is the named function's. */
int sgp32_es9_initiate_authentication(sgp32_es9_session *session, sgp32_bytes request, sgp32_buf *response,
                                      sgp32_es9_result *result);
int sgp32_es9_authenticate_client(sgp32_es9_session *session, sgp32_bytes request, sgp32_buf *response,
                                  sgp32_es9_result *result);
int sgp32_es9_get_bound_profile_package(sgp32_es9_session *session, sgp32_bytes request, sgp32_buf *response,
                                        sgp32_es9_result *result);
int sgp32_es9_handle_notification(sgp32_es9_session *session, sgp32_bytes request, sgp32_es9_result *result);
int sgp32_es9_cancel_session(sgp32_es9_session *session, sgp32_bytes request, sgp32_buf *response,
                             sgp32_es9_result *result);
void sgp32_es9_session_stats(const sgp32_es9_session *session, sgp32_https_stats *stats);
void sgp32_es9_session_close(sgp32_es9_session *session);

/* ------------------------------------------------------------------ conversions (also for fuzzing) */

/* ES9+ function name ("initiateAuthentication") of a request/answer tag; NULL if none. */
const char *sgp32_es9_function_name(uint32_t tag);
/* Request DER -> JSON text (without the header object). */
int sgp32_es9_json_from_request(const uint8_t *der, size_t len, const char **function, sgp32_buf *json);
/* Answer JSON of function -> the answer's DER appended to der, and the header's status into result
 * (optional). A failed function appends nothing. handleNotification has no answer: SGP32_ERR_NOT_FOUND. */
int sgp32_es9_json_to_response(const char *function, const char *json, size_t json_len, sgp32_buf *der,
                               sgp32_es9_result *result);
/* Request JSON of function -> the request's DER appended to der (for SM-DP+ side tools and tests;
 * a "header" member is ignored). */
int sgp32_es9_json_to_request(const char *function, const char *json, size_t json_len, sgp32_buf *der);
/* The JSON answer text of a DER answer (for test servers and tools), with an Executed-Success header. */
int sgp32_es9_json_from_response(const uint8_t *der, size_t len, const char **function, sgp32_buf *json);

#endif

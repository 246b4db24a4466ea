/*
 * Private to the indirect-download relay of the eIM (ES9+', SGP.32 §3.2.3.2, §5.14.1-§5.14.3,
 * §5.14.8; NOTES §3.2, §4.2): what esipa_initiate_authentication.c, esipa_authenticate_client.c,
 * esipa_get_bound_profile_package.c, esipa_cancel_session.c and eim_forward.c share
 * (eim_relay_status.c): the ES9+ status -> ESipa error code table, the ES9+ call with its answer
 * split into "ok" or "error code", relay session lookup, and the log/info helpers.
 */
#ifndef SGP32_EIM_RELAY_H
#define SGP32_EIM_RELAY_H

#include "sgp32/eim_server.h"
#include "sgp32/log.h"

enum {
    EIM_RELAY_ANSWER_MAX = 64 << 10, /* an ES9+ answer other than the BPP */
    EIM_RELAY_BPP_MAX = 16 << 20,    /* GetBoundProfilePackage answer (when it is not read into out) */
    EIM_RELAY_UNDEFINED = 127,       /* undefinedError in every ESipa error list */
};

/* The four relayed ESipa functions: each has its own error list. */
typedef enum sgp32_eim_relay_function {
    SGP32_EIM_RELAY_INITIATE_AUTHENTICATION = 0, /* errors: BF39 {81 code} */
    SGP32_EIM_RELAY_AUTHENTICATE_CLIENT,         /* BF3B {82 code} */
    SGP32_EIM_RELAY_GET_BOUND_PROFILE_PACKAGE,   /* BF3A {81 code} */
    SGP32_EIM_RELAY_CANCEL_SESSION,              /* BF41 {81 code} */
} sgp32_eim_relay_function;

/* The ESipa message tag (BF39, ...) and the tag of its error alternative (81 or 82). */
uint32_t sgp32_eim_relay_tag(sgp32_eim_relay_function f);
uint32_t sgp32_eim_relay_error_tag(sgp32_eim_relay_function f);
/* The ESipa error code for an ES9+ failure of f given as subjectCode/reasonCode (JSON binding;
 * NOTES §4.2); 127 when none fits. */
int64_t sgp32_eim_relay_error_from_status(sgp32_eim_relay_function f, const char *subject,
                                          const char *reason);
/* The ESipa error code for the error alternative of an ES9+ ASN.1 answer (the same numbers where
 * both lists have them); 127 otherwise. */
int64_t sgp32_eim_relay_error_from_code(sgp32_eim_relay_function f, int64_t es9_code);
/* The error code's name in the ESipa list of f ("matchingIdRefused"); "undefinedError" if unknown. */
const char *sgp32_eim_relay_error_name(sgp32_eim_relay_function f, int64_t code);

/* One ES9+ exchange as the relay sees it. */
typedef struct sgp32_eim_relay_call {
    sgp32_eim_es9_status status; /* what es9_call reported */
    bool ok;                     /* the function succeeded: ok_content is the A0 contents */
    sgp32_bytes ok_content;      /* view into the response buffer */
    sgp32_bytes ok_whole;        /* the A0 TLV */
    sgp32_bytes answer;          /* the function's whole answer TLV (BF39 ...) inside any A2 wrapper */
    int64_t error;               /* the ESipa error code when !ok */
} sgp32_eim_relay_call;

/*
 * Send request (the ES9+ DER, without the A2 wrapper) to the SM-DP+ at address through
 * srv->config.es9_call; response receives the answer (reset first). The answer is split:
 * call->ok with the A0 contents of the function's answer, or call->error with the ESipa code of
 * the failure: a failed functionExecutionStatus, an error alternative, an answer that is not the
 * function's (127), or a transport failure (127, logged). An A2 wrapper around the answer is
 * accepted. Returns SGP32_OK whenever there is an outcome to answer the IPA with.
 */
int sgp32_eim_relay_es9(const sgp32_eim_server *srv, sgp32_eim_relay_function f, const char *address,
                        const char *eid, const uint8_t *request, size_t len, sgp32_buf *response,
                        sgp32_eim_relay_call *call);

/* Append the ESipa error answer of f: tag {error_tag code}. */
int sgp32_eim_relay_write_error(sgp32_eim_relay_function f, int64_t code, sgp32_buf *out);

/*
 * The relay session of an SM-DP+ transactionId: SGP32_ERR_NOT_FOUND when unknown or expired (an
 * expired one is deleted on the way).
 */
int sgp32_eim_relay_lookup(const sgp32_eim_server *srv, sgp32_bytes transaction_id, sgp32_eim_relay *out);
/* How every relayed call after InitiateAuthentication starts: the relay session of transaction_id
 * (sgp32_eim_relay_lookup), its EID put in ctx. An unknown or expired one is SGP32_OK with *error set
 * to unknown_code (the function's invalidTransactionId) and *why, for the caller to refuse; a store
 * error is returned. */
int sgp32_eim_relay_session(const sgp32_eim_server *srv, sgp32_bytes transaction_id, int64_t unknown_code,
                            sgp32_eim_relay *relay, sgp32_log_context *ctx, int64_t *error, const char **why);

/* Log context of a relay exchange (txid_hex: 2*16+1 bytes, filled from transaction_id). */
void sgp32_eim_relay_log_context(sgp32_log_context *ctx, const char *eid, sgp32_bytes transaction_id,
                                 char txid_hex[2 * SGP32_EIM_RELAY_TXID_MAX + 1]);

/* Fill info for the host's log line (any of eid, outcome may be NULL). */
void sgp32_eim_relay_info(sgp32_eim_esipa_info *info, uint32_t function_tag, const char *eid,
                          int64_t operation_id, const char *fmt, ...) SGP32_PRINTF(5, 6);

/* "relayed to ADDRESS: ok" / "relayed to ADDRESS: matchingIdRefused (8.2.6/3.8)" into info. */
void sgp32_eim_relay_info_outcome(sgp32_eim_esipa_info *info, sgp32_eim_relay_function f,
                                  const sgp32_eim_relay *relay, const char *address,
                                  const sgp32_eim_relay_call *call);

/*
 * The refusal every relayed function ends with: out is cut back to before and gets f's error
 * answer; with why, a warning and the info line say why, otherwise the info line says what the
 * SM-DP+ answered (call). eid names the eUICC in info.
 */
int sgp32_eim_relay_refuse(sgp32_eim_relay_function f, int64_t error, const char *why, const char *eid,
                           const sgp32_eim_relay *relay, const char *address,
                           const sgp32_eim_relay_call *call, const sgp32_log_context *ctx,
                           sgp32_eim_esipa_info *info, sgp32_buf *out, size_t before);

#endif

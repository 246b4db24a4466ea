/*
 * The indirect-download relay's shared part (SGP.32 §3.2.3.2, §5.14.1-§5.14.3, §5.14.8; SGP.22
 * §5.6, §6.5.1.4, §6.6; NOTES §3.2, §4.2, §4.4): one table from the SM-DP+'s ES9+ outcome to the
 * error code of each relayed ESipa function, the ES9+ call through the host's es9_call with the
 * answer split into "ok" or "error code", relay session lookup, log and info helpers.
 *
 * The SM-DP+ fails a function either with subjectCode/reasonCode (JSON binding: a Failed header)
 * or with the error alternative of the ASN.1 answer (81 code / 82 code in the ESipa lists). The
 * table below follows NOTES §4.2 and the subject/reason pairs lib/smdp sends for each ES9+ code.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "eim_relay.h"
#include "sgp32/text.h"

#define IA SGP32_EIM_RELAY_INITIATE_AUTHENTICATION
#define AC SGP32_EIM_RELAY_AUTHENTICATE_CLIENT
#define GB SGP32_EIM_RELAY_GET_BOUND_PROFILE_PACKAGE
#define CS SGP32_EIM_RELAY_CANCEL_SESSION

typedef struct status_entry {
    sgp32_eim_relay_function function;
    const char *subject;
    const char *reason;
    int64_t code; /* in the ESipa list of function */
} status_entry;

static const status_entry status_table[] = {
    /* InitiateAuthentication (ESipa §5.14.1; ES9+ §5.6.1) */
    {IA, "8.8.1", "3.8", 1}, /* invalid SM-DP+ address -> invalidDpAddress */
    {IA, "8.8.3", "3.1", 2}, /* SVN not supported -> euiccVersionNotSupportedByDp */
    {IA, "8.8.2", "3.1", 3}, /* no proposed CI PKID supported -> ciPKIdNotSupported */
    {IA, "8.8.4", "3.7", 3}, /* no DPauth chaining to a CI of the eUICC (ES9+ says ciPKNotSupported) */
    /* AuthenticateClient (ESipa §5.14.3; ES9+ §5.6.3) */
    {AC, "8.1.2", "6.1", 1},   /* eumCertificateInvalid */
    {AC, "8.1.2", "6.3", 2},   /* eumCertificateExpired */
    {AC, "8.1.3", "6.1", 3},   /* euiccCertificateInvalid */
    {AC, "8.1.3", "6.3", 4},   /* euiccCertificateExpired */
    {AC, "8.1", "6.1", 5},     /* euiccSignatureInvalid */
    {AC, "8.2.6", "3.8", 6},   /* matchingIdRefused */
    {AC, "8.2.6", "3.3", 6},   /* matchingId conflict */
    {AC, "8.2.6", "3.10", 6},  /* another matchingId is associated */
    {AC, "8.1.1", "3.9", 6},   /* no pending order for the EID (empty matchingId) */
    {AC, "8.1.1", "3.8", 7},   /* EID refused -> eidMismatch */
    {AC, "8.1.1", "3.10", 7},  /* another EID associated -> eidMismatch */
    {AC, "8.1.1", "3.1", 7},   /* (another EID associated, older numbering) */
    {AC, "8.2.5", "4.3", 8},   /* noEligibleProfile */
    {AC, "8.2.5", "3.7", 8},   /* profile type exhausted */
    {AC, "8.2.5", "3.9", 8},   /* profile type unknown */
    {AC, "8.2", "1.2", 8},     /* profile not released */
    {AC, "8.11.1", "3.9", 9},  /* ciPKUnknown */
    {AC, "8.10.1", "3.9", 10}, /* invalidTransactionId */
    {AC, "8.1", "4.8", 11},    /* insufficientMemory */
    /* GetBoundProfilePackage (ESipa §5.14.2; ES9+ §5.6.2) */
    {GB, "8.1", "6.1", 1},     /* euiccSignatureInvalid */
    {GB, "8.2.7", "2.2", 2},   /* confirmationCodeMissing */
    {GB, "8.2.7", "3.8", 3},   /* confirmationCodeRefused */
    {GB, "8.2.7", "6.4", 4},   /* confirmationCodeRetriesExceeded */
    {GB, "8.2", "3.7", 5},     /* BPP not available for a new binding -> bppRebindingRefused */
    {GB, "8.8.5", "4.10", 6},  /* downloadOrderExpired */
    {GB, "8.8.5", "4.1", 6},   /* (the same, as one SM-DP+ numbers it) */
    {GB, "8.10.1", "3.9", 95}, /* invalidTransactionId */
    /* CancelSession (ESipa §5.14.8; ES9+ §5.6.5) */
    {CS, "8.10.1", "3.9", 1}, /* invalidTransactionId */
    {CS, "8.1", "6.1", 2},    /* euiccSignatureInvalid */
};

typedef struct code_name {
    sgp32_eim_relay_function function;
    int64_t code;
    const char *name;
    bool in_es9; /* the ES9+ ASN.1 error list has the same number with the same meaning */
} code_name;

static const code_name code_names[] = {
    {IA, 1, "invalidDpAddress", true},
    {IA, 2, "euiccVersionNotSupportedByDp", true},
    {IA, 3, "ciPKIdNotSupported", true},
    {IA, 50, "smdpAddressMismatch", false},
    {IA, 51, "smdpOidMismatch", false},
    {IA, 52, "invalidEimTransactionId", false},
    {AC, 1, "eumCertificateInvalid", true},
    {AC, 2, "eumCertificateExpired", true},
    {AC, 3, "euiccCertificateInvalid", true},
    {AC, 4, "euiccCertificateExpired", true},
    {AC, 5, "euiccSignatureInvalid", true},
    {AC, 6, "matchingIdRefused", true},
    {AC, 7, "eidMismatch", true},
    {AC, 8, "noEligibleProfile", true},
    {AC, 9, "ciPKUnknown", true},
    {AC, 10, "invalidTransactionId", true},
    {AC, 11, "insufficientMemory", true},
    {AC, 50, "pprNotAllowed", false},
    {AC, 56, "eventIdUnknown", false},
    {GB, 1, "euiccSignatureInvalid", true},
    {GB, 2, "confirmationCodeMissing", true},
    {GB, 3, "confirmationCodeRefused", true},
    {GB, 4, "confirmationCodeRetriesExceeded", true},
    {GB, 5, "bppRebindingRefused", true},
    {GB, 6, "downloadOrderExpired", true},
    {GB, 50, "metadataMismatch", false},
    {GB, 95, "invalidTransactionId", true},
    {CS, 1, "invalidTransactionId", true},
    {CS, 2, "euiccSignatureInvalid", true},
};

static const struct {
    uint32_t tag, error_tag;
    const char *es9_name;
} functions[] = {
    [IA] = {0xBF39, 0x81, "initiateAuthentication"},
    [AC] = {0xBF3B, 0x82, "authenticateClient"},
    [GB] = {0xBF3A, 0x81, "getBoundProfilePackage"},
    [CS] = {0xBF41, 0x81, "cancelSession"},
};

uint32_t sgp32_eim_relay_tag(sgp32_eim_relay_function f)
{
    return (unsigned)f <= CS ? functions[f].tag : 0;
}

uint32_t sgp32_eim_relay_error_tag(sgp32_eim_relay_function f)
{
    return (unsigned)f <= CS ? functions[f].error_tag : 0;
}

int64_t sgp32_eim_relay_error_from_status(sgp32_eim_relay_function f, const char *subject, const char *reason)
{
    if (!subject || !reason)
        return EIM_RELAY_UNDEFINED;
    for (size_t i = 0; i < SGP32_ARRAY_LEN(status_table); i++) {
        const status_entry *e = &status_table[i];
        if (e->function == f && strcmp(e->subject, subject) == 0 && strcmp(e->reason, reason) == 0)
            return e->code;
    }
    return EIM_RELAY_UNDEFINED;
}

int64_t sgp32_eim_relay_error_from_code(sgp32_eim_relay_function f, int64_t es9_code)
{
    for (size_t i = 0; i < SGP32_ARRAY_LEN(code_names); i++)
        if (code_names[i].function == f && code_names[i].code == es9_code && code_names[i].in_es9)
            return es9_code;
    return EIM_RELAY_UNDEFINED;
}

const char *sgp32_eim_relay_error_name(sgp32_eim_relay_function f, int64_t code)
{
    for (size_t i = 0; i < SGP32_ARRAY_LEN(code_names); i++)
        if (code_names[i].function == f && code_names[i].code == code)
            return code_names[i].name;
    return "undefinedError";
}

int sgp32_eim_relay_write_error(sgp32_eim_relay_function f, int64_t code, sgp32_buf *out)
{
    size_t before = out->len;
    size_t mark = sgp32_asn1_begin(out);
    int rc = sgp32_asn1_write_integer(out, sgp32_eim_relay_error_tag(f), code);
    if (!rc)
        rc = sgp32_asn1_end(out, sgp32_eim_relay_tag(f), mark);
    if (rc)
        out->len = before;
    return rc;
}

void sgp32_eim_relay_log_context(sgp32_log_context *ctx, const char *eid, sgp32_bytes transaction_id,
                                 char txid_hex[2 * SGP32_EIM_RELAY_TXID_MAX + 1])
{
    txid_hex[0] = '\0';
    if (transaction_id.data && transaction_id.len && transaction_id.len <= SGP32_EIM_RELAY_TXID_MAX)
        sgp32_hex_encode(transaction_id.data, transaction_id.len, txid_hex);
    memset(ctx, 0, sizeof(*ctx));
    ctx->component = "eim";
    ctx->eid = eid && eid[0] ? eid : NULL;
    ctx->transaction = txid_hex[0] ? txid_hex : NULL;
}

/* Make sure es9_call left NUL-terminated texts. */
static void terminate_status(sgp32_eim_es9_status *st)
{
    st->subject_code[sizeof(st->subject_code) - 1] = '\0';
    st->reason_code[sizeof(st->reason_code) - 1] = '\0';
    st->message[sizeof(st->message) - 1] = '\0';
}

/* The answer's A0 contents or its error code; false when it is not the function's answer. */
static bool split_answer(sgp32_eim_relay_function f, const sgp32_buf *response, sgp32_eim_relay_call *call)
{
    sgp32_asn1_tlv outer, alt;
    sgp32_bytes body = sgp32_buf_bytes(response);
    if (sgp32_asn1_read_tlv(body.data, body.len, &outer, NULL) != SGP32_OK || outer.whole.len != body.len)
        return false;
    if (outer.tag == 0xA2) { /* RemoteProfileProvisioningResponse wrapper of the ES9+ ASN.1 binding */
        body = outer.value;
        if (sgp32_asn1_read_tlv(body.data, body.len, &outer, NULL) != SGP32_OK || outer.whole.len != body.len)
            return false;
    }
    if (outer.tag != sgp32_eim_relay_tag(f) ||
        sgp32_asn1_read_tlv(outer.value.data, outer.value.len, &alt, NULL) != SGP32_OK ||
        alt.whole.len != outer.value.len)
        return false;
    call->answer = outer.whole;
    if (alt.tag == 0xA0) {
        call->ok = true;
        call->ok_content = alt.value;
        call->ok_whole = alt.whole;
        return true;
    }
    int64_t code;
    if (alt.tag != 0x81 || sgp32_asn1_parse_integer(alt.value, &code) != SGP32_OK)
        return false;
    call->error = sgp32_eim_relay_error_from_code(f, code);
    snprintf(call->status.message, sizeof(call->status.message), "ES9+ error code %lld", (long long)code);
    return true;
}

int sgp32_eim_relay_es9(const sgp32_eim_server *srv, sgp32_eim_relay_function f, const char *address,
                        const char *eid, const uint8_t *request, size_t len, sgp32_buf *response,
                        sgp32_eim_relay_call *call)
{
    memset(call, 0, sizeof(*call));
    call->error = EIM_RELAY_UNDEFINED;
    sgp32_buf_reset(response);
    sgp32_log_context ctx = {.component = "eim", .eid = eid && eid[0] ? eid : NULL};
    const char *name = (unsigned)f <= CS ? functions[f].es9_name : "?";
    if (!srv->config.es9_call) {
        snprintf(call->status.message, sizeof(call->status.message), "no ES9+ client configured");
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EIM, &ctx, "ES9+ %s to %s: no ES9+ client configured", name,
                  address);
        return SGP32_OK;
    }
    sgp32_log_hex(SGP32_LOG_DEBUG, SGP32_LOG_EIM, &ctx, "ES9+ request", request, len);
    int rc = srv->config.es9_call(srv->config.es9_ctx, address, request, len, response, &call->status);
    terminate_status(&call->status);
    if (rc) {
        sgp32_buf_reset(response);
        memset(&call->status, 0, sizeof(call->status));
        snprintf(call->status.message, sizeof(call->status.message), "transport: %s", sgp32_err_str(rc));
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EIM, &ctx, "ES9+ %s to %s failed: %s", name, address,
                  sgp32_err_str(rc));
        return SGP32_OK;
    }
    if (call->status.subject_code[0]) {
        call->error =
            sgp32_eim_relay_error_from_status(f, call->status.subject_code, call->status.reason_code);
        sgp32_log(SGP32_LOG_INFO, SGP32_LOG_EIM, &ctx, "ES9+ %s at %s failed: %s/%s %s -> %s", name, address,
                  call->status.subject_code, call->status.reason_code, call->status.message,
                  sgp32_eim_relay_error_name(f, call->error));
        return SGP32_OK;
    }
    sgp32_log_hex(SGP32_LOG_DEBUG, SGP32_LOG_EIM, &ctx, "ES9+ answer", response->data, response->len);
    if (!split_answer(f, response, call)) {
        call->ok = false;
        call->error = EIM_RELAY_UNDEFINED;
        snprintf(call->status.message, sizeof(call->status.message), "malformed %s answer", name);
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EIM, &ctx,
                  "ES9+ %s at %s: the answer is not a %s answer (%zu bytes)", name, address, name,
                  response->len);
    } else if (!call->ok) {
        sgp32_log(SGP32_LOG_INFO, SGP32_LOG_EIM, &ctx, "ES9+ %s at %s failed: %s -> %s", name, address,
                  call->status.message, sgp32_eim_relay_error_name(f, call->error));
    }
    return SGP32_OK;
}

int sgp32_eim_relay_lookup(const sgp32_eim_server *srv, sgp32_bytes transaction_id, sgp32_eim_relay *out)
{
    const sgp32_eim_store *st = &srv->config.store;
    memset(out, 0, sizeof(*out));
    if (!transaction_id.data || !transaction_id.len || transaction_id.len > SGP32_EIM_RELAY_TXID_MAX)
        return SGP32_ERR_NOT_FOUND;
    if (!st->relay_get)
        return SGP32_ERR_UNSUPPORTED;
    int rc = st->relay_get(st->ctx, transaction_id.data, transaction_id.len, out);
    if (rc)
        return rc;
    if (out->expires && out->expires < sgp32_eim_now(srv)) {
        if (st->relay_delete)
            (void)st->relay_delete(st->ctx, transaction_id.data, transaction_id.len);
        return SGP32_ERR_NOT_FOUND;
    }
    return SGP32_OK;
}

int sgp32_eim_relay_session(const sgp32_eim_server *srv, sgp32_bytes transaction_id, int64_t unknown_code,
                            sgp32_eim_relay *relay, sgp32_log_context *ctx, int64_t *error, const char **why)
{
    int rc = sgp32_eim_relay_lookup(srv, transaction_id, relay);
    if (rc == SGP32_ERR_NOT_FOUND) {
        *error = unknown_code;
        *why = "unknown transactionId";
        return SGP32_OK;
    }
    if (!rc)
        ctx->eid = relay->eid[0] ? relay->eid : NULL;
    return rc;
}

void sgp32_eim_relay_info(sgp32_eim_esipa_info *info, uint32_t function_tag, const char *eid,
                          int64_t operation_id, const char *fmt, ...)
{
    if (!info)
        return;
    info->function_tag = function_tag;
    if (!info->http_status)
        info->http_status = 200;
    if (eid)
        snprintf(info->eid, sizeof(info->eid), "%s", eid);
    if (operation_id > 0)
        info->operation_id = operation_id;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(info->outcome, sizeof(info->outcome), fmt, ap);
        va_end(ap);
    }
}

void sgp32_eim_relay_info_outcome(sgp32_eim_esipa_info *info, sgp32_eim_relay_function f,
                                  const sgp32_eim_relay *relay, const char *address,
                                  const sgp32_eim_relay_call *call)
{
    const char *eid = relay ? relay->eid : NULL;
    int64_t op = relay ? relay->operation_id : 0;
    uint32_t tag = sgp32_eim_relay_tag(f);
    if (call->ok)
        sgp32_eim_relay_info(info, tag, eid, op, "relayed to %s: ok", address);
    else if (call->status.subject_code[0])
        sgp32_eim_relay_info(info, tag, eid, op, "relayed to %s: %s (%s/%s)", address,
                             sgp32_eim_relay_error_name(f, call->error), call->status.subject_code,
                             call->status.reason_code);
    else
        sgp32_eim_relay_info(info, tag, eid, op, "relayed to %s: %s (%s)", address,
                             sgp32_eim_relay_error_name(f, call->error), call->status.message);
}

int sgp32_eim_relay_refuse(sgp32_eim_relay_function f, int64_t error, const char *why, const char *eid,
                           const sgp32_eim_relay *relay, const char *address,
                           const sgp32_eim_relay_call *call, const sgp32_log_context *ctx,
                           sgp32_eim_esipa_info *info, sgp32_buf *out, size_t before)
{
    static const char *const names[] = {"InitiateAuthentication", "AuthenticateClient",
                                        "GetBoundProfilePackage", "CancelSession"};
    out->len = before;
    int rc = sgp32_eim_relay_write_error(f, error, out);
    if (why) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EIM, ctx, "%s refused (%s): %s", names[f],
                  sgp32_eim_relay_error_name(f, error), why);
        sgp32_eim_relay_info(info, sgp32_eim_relay_tag(f), eid, relay->operation_id, "%s: %s",
                             sgp32_eim_relay_error_name(f, error), why);
    } else {
        sgp32_eim_relay_info_outcome(info, f, relay, address, call);
    }
    return rc;
}

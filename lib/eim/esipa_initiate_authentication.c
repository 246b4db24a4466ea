/*
 * ESipa.InitiateAuthentication (SGP.32 §5.14.1; indirect download §3.2.3.2 step 3; NOTES §3.2,
 * §3.3, §6.2 step 1, §6.4), relayed to ES9+.InitiateAuthentication (SGP.22 §5.6.1).
 *
 *   IPA -> eIM   BF39 {81 euiccChallenge, [83 smdpAddress], [BF20 euiccInfo1], [82 eimTransactionId]}
 *   eIM -> DP    BF39 {81 euiccChallenge, 83 smdpAddress, BF20 euiccInfo1}
 *   DP -> eIM    BF39 {A0 {80 txid, 30 serverSigned1, 5F37, 04 euiccCiPKIdToBeUsed, 30 CERT.DPauth} | 81
 * code} eIM -> IPA   BF39 {A0 {80 txid, 30 serverSigned1, 5F37, 04, 30 CERT.DPauth, [0C matchingId]} | 81
 * code}
 *
 * Which SM-DP+: the request's smdpAddress, else the activation code of the download operation the
 * eimTransactionId names (its op->request {"download":{"activationCode":"1$ADDRESS$MID[$OID[$1]]"}}),
 * else the configured default SM-DP+; none: invalidDpAddress. An eimTransactionId that names no
 * pending download operation: invalidEimTransactionId.
 *
 * The eUICC (the request carries no EID) is the download operation's; its cached EUICCInfo1 stands
 * in when the IPA leaves euiccInfo1 out (the one in a request is cached for the next time).
 *
 * Checks on the answer: serverSigned1.serverAddress is the address asked, case-insensitively
 * (smdpAddressMismatch 50); when the activation code names the SM-DP+ OID, CERT.DPauth's
 * registeredID is that OID (smdpOidMismatch 51). Then the relay session (SM-DP+ transactionId ->
 * EID, address, operation) is recorded for the rest of the download.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "eim_relay.h"

enum {
    AC_TEXT_MAX = 255, /* BF54 activationCode: UTF8String (SIZE(0..255)) */
    ERR_SMDP_ADDRESS_MISMATCH = 50,
    ERR_SMDP_OID_MISMATCH = 51,
    ERR_INVALID_EIM_TRANSACTION_ID = 52,
    ERR_INVALID_DP_ADDRESS = 1,
    EUICC_UPDATE_TRIES = 3,
};

#define FN SGP32_EIM_RELAY_INITIATE_AUTHENTICATION

/* An activation code "[LPA:]1$address$matchingId[$oid[$1]]" (SGP.22 §4.1). */
typedef struct activation_code {
    char address[SGP32_EIM_ADDRESS_MAX + 1];
    char matching_id[AC_TEXT_MAX + 1]; /* "" when empty */
    char oid[SGP32_CERT_OID_TEXT_MAX]; /* "" when absent */
} activation_code;

/* The n-th '$'-separated field of text (n from 0) into out; false when absent or too long. */
static bool ac_field(const char *text, int n, char *out, size_t size)
{
    for (int i = 0; i < n; i++) {
        text = strchr(text, '$');
        if (!text)
            return false;
        text++;
    }
    const char *end = strchr(text, '$');
    size_t len = end ? (size_t)(end - text) : strlen(text);
    if (len >= size)
        return false;
    memcpy(out, text, len);
    out[len] = '\0';
    return true;
}

static bool parse_activation_code(const char *text, activation_code *ac)
{
    memset(ac, 0, sizeof(*ac));
    if (strncasecmp(text, "LPA:", 4) == 0)
        text += 4;
    char format[8];
    if (strlen(text) > AC_TEXT_MAX || !ac_field(text, 0, format, sizeof(format)) ||
        strcmp(format, "1") != 0 || !ac_field(text, 1, ac->address, sizeof(ac->address)) || !ac->address[0])
        return false;
    if (!ac_field(text, 2, ac->matching_id, sizeof(ac->matching_id)))
        ac->matching_id[0] = '\0';
    if (!ac_field(text, 3, ac->oid, sizeof(ac->oid)))
        ac->oid[0] = '\0';
    return true;
}

/* The activation code of a download operation's request JSON; false when it has none. */
static bool operation_activation_code(const sgp32_eim_operation *op, activation_code *ac)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)op->request.data, op->request.len, 0, &jerr);
    const json_t *code = json_object_get(json_object_get(root, "download"), "activationCode");
    bool ok = json_is_string(code) && parse_activation_code(json_string_value(code), ac);
    json_decref(root);
    return ok;
}

/* Cache the EUICCInfo1 of a request on the eUICC's record (best effort). */
static void cache_euicc_info1(const sgp32_eim_server *srv, const char *eid, sgp32_bytes info1,
                              const sgp32_log_context *ctx)
{
    const sgp32_eim_store *st = &srv->config.store;
    if (!eid[0] || !st->euicc_get || !st->euicc_update)
        return;
    sgp32_eim_euicc e;
    sgp32_eim_euicc_init(&e);
    int rc = SGP32_OK;
    for (int i = 0; i < EUICC_UPDATE_TRIES; i++) {
        sgp32_eim_euicc_free(&e);
        sgp32_eim_euicc_init(&e);
        rc = st->euicc_get(st->ctx, eid, &e);
        if (rc || sgp32_bytes_equal(sgp32_buf_bytes(&e.euicc_info1), info1))
            break;
        sgp32_buf_reset(&e.euicc_info1);
        rc = sgp32_buf_append(&e.euicc_info1, info1.data, info1.len);
        if (!rc)
            rc = st->euicc_update(st->ctx, &e);
        if (rc != SGP32_ERR_STATE)
            break;
    }
    if (rc && rc != SGP32_ERR_NOT_FOUND)
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EIM, ctx, "euiccInfo1 not cached: %s", sgp32_err_str(rc));
    sgp32_eim_euicc_free(&e);
}

/* The eUICC's cached EUICCInfo1 into out; false when there is none. */
static bool cached_euicc_info1(const sgp32_eim_server *srv, const char *eid, sgp32_buf *out)
{
    const sgp32_eim_store *st = &srv->config.store;
    if (!eid[0] || !st->euicc_get)
        return false;
    sgp32_eim_euicc e;
    sgp32_eim_euicc_init(&e);
    bool ok = st->euicc_get(st->ctx, eid, &e) == SGP32_OK && e.euicc_info1.len &&
              sgp32_buf_append(out, e.euicc_info1.data, e.euicc_info1.len) == SGP32_OK;
    sgp32_eim_euicc_free(&e);
    return ok;
}

/* The parts of InitiateAuthenticationOkEs9 the relay looks at. */
typedef struct ia_ok {
    sgp32_asn1_tlv txid, signed1, signature, ci_pkid, certificate;
    sgp32_bytes server_address;
} ia_ok;

static bool parse_ok(sgp32_bytes content, ia_ok *ok)
{
    static const uint32_t tags[] = {0x80, 0x30, 0x5F37, 0x04, 0x30};
    sgp32_asn1_tlv *slots[] = {&ok->txid, &ok->signed1, &ok->signature, &ok->ci_pkid, &ok->certificate};
    sgp32_asn1_reader r;
    sgp32_asn1_tlv t;
    size_t n = 0;
    memset(ok, 0, sizeof(*ok));
    sgp32_asn1_reader_init(&r, content, 2);
    while (sgp32_asn1_reader_next(&r, &t) == SGP32_OK) {
        if (n == 0 && t.tag != tags[0])
            n = 1; /* the outer transactionId may be left out: serverSigned1 has it */
        if (n == SGP32_ARRAY_LEN(tags) || t.tag != tags[n])
            return false;
        *slots[n++] = t;
    }
    if (!sgp32_asn1_reader_done(&r) || n != SGP32_ARRAY_LEN(tags))
        return false;
    /* serverSigned1 30 {80 transactionId, 81 euiccChallenge, 83 serverAddress, 84 serverChallenge, ...} */
    static const uint32_t signed_tags[] = {0x80, 0x81, 0x83, 0x84};
    sgp32_asn1_tlv part[SGP32_ARRAY_LEN(signed_tags)];
    n = 0;
    sgp32_asn1_reader_init(&r, ok->signed1.value, 3);
    while (n < SGP32_ARRAY_LEN(signed_tags) && sgp32_asn1_reader_next(&r, &t) == SGP32_OK) {
        if (t.tag != signed_tags[n])
            return false;
        part[n++] = t;
    }
    if (n != SGP32_ARRAY_LEN(signed_tags) || !part[0].value.len ||
        part[0].value.len > SGP32_EIM_RELAY_TXID_MAX)
        return false;
    if (ok->txid.whole.len && !sgp32_bytes_equal(ok->txid.value, part[0].value))
        return false;
    ok->txid = part[0];
    ok->server_address = part[2].value;
    return true;
}

static bool address_equal(sgp32_bytes got, const char *asked)
{
    size_t n = strlen(asked);
    return got.len == n && strncasecmp((const char *)got.data, asked, n) == 0;
}

/* CERT.DPauth's SAN registeredID as dotted text is oid. */
static bool oid_matches(sgp32_bytes certificate, const char *oid)
{
    sgp32_certificate *cert = sgp32_alloc(sizeof(*cert));
    bool ok = cert && sgp32_cert_parse(certificate.data, certificate.len, cert) == SGP32_OK &&
              strcmp(cert->registered_id.text, oid) == 0;
    if (cert)
        sgp32_free(cert, sizeof(*cert));
    return ok;
}

/* ESipa InitiateAuthenticationOkEsipa: A0 {80 txid, 30, 5F37, 04, 30, [0C matchingId]}. */
static int write_ok(const ia_ok *ok, const char *matching_id, sgp32_buf *out)
{
    size_t outer = sgp32_asn1_begin(out);
    size_t a0 = sgp32_asn1_begin(out);
    int rc = sgp32_asn1_write_tlv(out, 0x80, ok->txid.value.data, ok->txid.value.len);
    const sgp32_asn1_tlv *parts[] = {&ok->signed1, &ok->signature, &ok->ci_pkid, &ok->certificate};
    for (size_t i = 0; !rc && i < SGP32_ARRAY_LEN(parts); i++)
        rc = sgp32_buf_append(out, parts[i]->whole.data, parts[i]->whole.len);
    if (!rc && matching_id && matching_id[0])
        rc = sgp32_asn1_write_tlv(out, 0x0C, (const uint8_t *)matching_id, strlen(matching_id));
    if (!rc)
        rc = sgp32_asn1_end(out, 0xA0, a0);
    return rc ? rc : sgp32_asn1_end(out, 0xBF39, outer);
}

int sgp32_eim_initiate_authentication(const sgp32_eim_server *srv,
                                      const sgp32_initiate_authentication_request_esipa *req, sgp32_buf *out,
                                      sgp32_eim_esipa_info *info)
{
    if (!srv || !req || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    const sgp32_eim_store *st = &srv->config.store;
    size_t before = out->len;
    char address[SGP32_EIM_ADDRESS_MAX + 1] = "";
    char txid_hex[2 * SGP32_EIM_RELAY_TXID_MAX + 1];
    int64_t error = 0;
    const char *why = NULL;
    activation_code ac;
    bool has_ac = false;
    ia_ok ok;
    sgp32_eim_relay relay; /* who: the EID and operation as soon as known; the session at the end */
    sgp32_eim_operation op;
    sgp32_eim_relay_call call;
    sgp32_buf info1, request, answer;
    sgp32_log_context ctx;
    size_t mark;
    sgp32_eim_operation_init(&op);
    sgp32_buf_init(&info1, 1024);
    sgp32_buf_init(&request, 4096);
    sgp32_buf_init(&answer, EIM_RELAY_ANSWER_MAX);
    memset(&ac, 0, sizeof(ac));
    memset(&relay, 0, sizeof(relay));
    memset(&call, 0, sizeof(call));
    sgp32_eim_relay_log_context(&ctx, NULL, (sgp32_bytes){NULL, 0}, txid_hex);
    int rc = SGP32_OK;

    /* The download operation the eimTransactionId names, and with it the eUICC. */
    if (req->has_eim_transaction_id) {
        int64_t op_id = sgp32_eim_operation_id(req->eim_transaction_id.data, req->eim_transaction_id.len);
        rc = op_id > 0 && st->op_get ? st->op_get(st->ctx, op_id, &op) : SGP32_ERR_NOT_FOUND;
        if (rc == SGP32_ERR_NOT_FOUND ||
            (!rc && (op.kind != SGP32_EIM_OP_DOWNLOAD ||
                     (op.state != SGP32_EIM_OP_QUEUED && op.state != SGP32_EIM_OP_DELIVERED)))) {
            rc = SGP32_OK;
            error = ERR_INVALID_EIM_TRANSACTION_ID;
            why = "eimTransactionId names no pending download operation";
            goto refuse;
        }
        if (rc)
            goto out;
        relay.operation_id = op.id;
        snprintf(relay.eid, sizeof(relay.eid), "%s", op.eid);
        has_ac = operation_activation_code(&op, &ac);
    }
    ctx.eid = relay.eid[0] ? relay.eid : NULL;

    /* Which SM-DP+. */
    if (req->has_smdp_address) {
        if (!req->smdp_address.len || req->smdp_address.len > SGP32_EIM_ADDRESS_MAX ||
            memchr(req->smdp_address.data, 0, req->smdp_address.len)) {
            error = ERR_INVALID_DP_ADDRESS;
            why = "smdpAddress is not an address";
            goto refuse;
        }
        memcpy(address, req->smdp_address.data, req->smdp_address.len);
        address[req->smdp_address.len] = '\0';
    } else if (has_ac) {
        snprintf(address, sizeof(address), "%s", ac.address);
    } else if (srv->config.default_smdp_address && srv->config.default_smdp_address[0]) {
        snprintf(address, sizeof(address), "%s", srv->config.default_smdp_address);
    } else {
        error = ERR_INVALID_DP_ADDRESS;
        why = "no SM-DP+ address in the request, the operation or the configuration";
        goto refuse;
    }
    /* Not an open relay: an address only the request names (no operation's activation code, not
     * the default SM-DP+) must be one the operator allowed (smdp_allowed). */
    if (req->has_smdp_address && !(has_ac && strcasecmp(address, ac.address) == 0) &&
        !(srv->config.default_smdp_address && strcasecmp(address, srv->config.default_smdp_address) == 0) &&
        !sgp32_eim_smdp_allowed(srv, address)) {
        error = ERR_INVALID_DP_ADDRESS;
        why = "the SM-DP+ address is not allowed (smdp_allowed)";
        goto refuse;
    }
    /* The AC's matchingId and OID apply only when the download goes to the AC's SM-DP+. */
    if (has_ac && strcasecmp(address, ac.address) != 0) {
        ac.matching_id[0] = '\0';
        ac.oid[0] = '\0';
    }
    if (req->euicc_challenge.len != 16) {
        error = EIM_RELAY_UNDEFINED;
        why = "euiccChallenge is not 16 bytes";
        goto refuse;
    }

    /* euiccInfo1: the request's (cached for next time), else the cached one. */
    if (req->has_euicc_info1) {
        rc = sgp32_buf_append(&info1, req->euicc_info1.der.data, req->euicc_info1.der.len);
        if (rc)
            goto out;
        cache_euicc_info1(srv, relay.eid, req->euicc_info1.der, &ctx);
    } else if (!cached_euicc_info1(srv, relay.eid, &info1)) {
        error = EIM_RELAY_UNDEFINED;
        why = relay.eid[0] ? "no euiccInfo1 in the request and none cached for the eUICC"
                           : "no euiccInfo1 in the request and no download operation naming the eUICC";
        goto refuse;
    }

    /* ES9+ InitiateAuthenticationRequest BF39 {81, 83, BF20}. */
    mark = sgp32_asn1_begin(&request);
    rc = sgp32_asn1_write_tlv(&request, 0x81, req->euicc_challenge.data, 16);
    if (!rc)
        rc = sgp32_asn1_write_tlv(&request, 0x83, (const uint8_t *)address, strlen(address));
    if (!rc)
        rc = sgp32_buf_append(&request, info1.data, info1.len);
    if (!rc)
        rc = sgp32_asn1_end(&request, 0xBF39, mark);
    if (!rc)
        rc = sgp32_eim_relay_es9(srv, FN, address, relay.eid, request.data, request.len, &answer, &call);
    if (rc)
        goto out;
    if (!call.ok) {
        error = call.error;
        goto refuse;
    }

    if (!parse_ok(call.ok_content, &ok)) {
        error = EIM_RELAY_UNDEFINED;
        why = "the SM-DP+'s InitiateAuthentication answer is malformed";
        goto refuse;
    }
    sgp32_eim_relay_log_context(&ctx, relay.eid, ok.txid.value, txid_hex);
    if (!address_equal(ok.server_address, address)) {
        error = ERR_SMDP_ADDRESS_MISMATCH;
        why = "serverSigned1.serverAddress is not the SM-DP+ address asked";
        goto refuse;
    }
    if (ac.oid[0] && !oid_matches(ok.certificate.whole, ac.oid)) {
        error = ERR_SMDP_OID_MISMATCH;
        why = "CERT.DPauth does not carry the SM-DP+ OID of the activation code";
        goto refuse;
    }

    memcpy(relay.transaction_id, ok.txid.value.data, ok.txid.value.len);
    relay.transaction_id_len = ok.txid.value.len;
    snprintf(relay.smdp_address, sizeof(relay.smdp_address), "%s", address);
    relay.expires = sgp32_eim_now(srv) + (srv->config.relay_ttl > 0 ? srv->config.relay_ttl : 1800);
    rc = st->relay_put ? st->relay_put(st->ctx, &relay) : SGP32_ERR_UNSUPPORTED;
    if (rc) {
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_EIM, &ctx, "relay session not recorded: %s", sgp32_err_str(rc));
        goto out;
    }
    rc = write_ok(&ok, ac.matching_id, out);
    if (rc)
        goto out;
    sgp32_log(SGP32_LOG_INFO, SGP32_LOG_EIM, &ctx, "InitiateAuthentication relayed to %s", address);
    sgp32_eim_relay_info_outcome(info, FN, &relay, address, &call);
    goto out;

refuse:
    rc = sgp32_eim_relay_refuse(FN, error, why, relay.eid, &relay, address, &call, &ctx, info, out, before);
out:
    if (rc)
        out->len = before;
    sgp32_eim_operation_free(&op);
    sgp32_buf_free(&info1);
    sgp32_buf_free(&request);
    sgp32_buf_free(&answer);
    return rc;
}

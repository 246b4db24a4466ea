/*
 * eIM server core: configuration, record helpers, names, the clock and the audit log
 * (include/sgp32/eim_server.h). The ESipa functions live in esipa_*.c, one per spec function.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sgp32/eim_server.h"
#include "sgp32/log.h"

enum {
    CERTIFICATE_MAX = 4096,
    EUICC_INFO1_MAX = 1024,
    PACKAGE_MAX = 64 << 10,
    RESULT_JSON_MAX = 64 << 10,
    NOTIFICATION_MAX = 16 << 10,
    DEFAULT_OPERATION_TTL = 30 * 24 * 3600,
    DEFAULT_RELAY_TTL = 1800,
};

static const char *const state_names[SGP32_EIM_OP_STATE_COUNT] = {
    "queued", "delivered", "done", "failed", "expired", "cancelled",
};

const char *sgp32_eim_op_state_name(sgp32_eim_op_state state)
{
    return (unsigned)state < SGP32_EIM_OP_STATE_COUNT ? state_names[state] : "unknown";
}

int sgp32_eim_op_state_from_name(const char *name)
{
    for (int i = 0; name && i < SGP32_EIM_OP_STATE_COUNT; i++)
        if (strcmp(name, state_names[i]) == 0)
            return i;
    return -1;
}

const char *sgp32_eim_op_kind_name(sgp32_eim_op_kind kind)
{
    switch (kind) {
    case SGP32_EIM_OP_PSMO: return "psmo";
    case SGP32_EIM_OP_ECO: return "eco";
    case SGP32_EIM_OP_IPA_EUICC_DATA: return "ipaEuiccData";
    case SGP32_EIM_OP_DOWNLOAD: return "download";
    }
    return "unknown";
}

static const char *const role_names[] = {"read_only", "operator", "admin"};

const char *sgp32_eim_role_name(sgp32_eim_role role)
{
    return (unsigned)role <= SGP32_EIM_ROLE_ADMIN ? role_names[role] : "unknown";
}

int sgp32_eim_role_from_name(const char *name)
{
    for (int i = 0; name && i <= SGP32_EIM_ROLE_ADMIN; i++)
        if (strcmp(name, role_names[i]) == 0)
            return i;
    return -1;
}

void sgp32_eim_euicc_init(sgp32_eim_euicc *e)
{
    memset(e, 0, sizeof(*e));
    sgp32_buf_init(&e->euicc_certificate, CERTIFICATE_MAX);
    sgp32_buf_init(&e->eum_certificate, CERTIFICATE_MAX);
    sgp32_buf_init(&e->euicc_info1, EUICC_INFO1_MAX);
    e->associated = true;
    e->state_change_cause = -1;
}

void sgp32_eim_euicc_free(sgp32_eim_euicc *e)
{
    sgp32_buf_free(&e->euicc_certificate);
    sgp32_buf_free(&e->eum_certificate);
    sgp32_buf_free(&e->euicc_info1);
}

void sgp32_eim_operation_init(sgp32_eim_operation *op)
{
    memset(op, 0, sizeof(*op));
    sgp32_buf_init(&op->request, SGP32_EIM_OPERATION_JSON_MAX);
    sgp32_buf_init(&op->package, PACKAGE_MAX);
    sgp32_buf_init(&op->result, PACKAGE_MAX);
    sgp32_buf_init(&op->result_json, RESULT_JSON_MAX);
}

void sgp32_eim_operation_free(sgp32_eim_operation *op)
{
    sgp32_buf_free(&op->request);
    sgp32_buf_free(&op->package);
    sgp32_buf_free(&op->result);
    sgp32_buf_free(&op->result_json);
}

void sgp32_eim_outbox_item_init(sgp32_eim_outbox_item *item)
{
    memset(item, 0, sizeof(*item));
    sgp32_buf_init(&item->notification, NOTIFICATION_MAX);
}

void sgp32_eim_outbox_item_free(sgp32_eim_outbox_item *item)
{
    sgp32_buf_free(&item->notification);
}

/* The eimTransactionId is the operation id: results name their operation without a lookup table. */
void sgp32_eim_transaction_id(int64_t op_id, uint8_t out[SGP32_EIM_TXID_LEN])
{
    for (int i = SGP32_EIM_TXID_LEN - 1; i >= 0; i--, op_id >>= 8)
        out[i] = (uint8_t)(op_id & 0xFF);
}

int64_t sgp32_eim_operation_id(const uint8_t *txid, size_t len)
{
    if (!txid || len != SGP32_EIM_TXID_LEN || txid[0] & 0x80)
        return -1;
    int64_t id = 0;
    for (size_t i = 0; i < len; i++)
        id = (id << 8) | txid[i];
    return id > 0 ? id : -1;
}

int sgp32_eim_server_init(sgp32_eim_server *srv, const sgp32_eim_server_config *config)
{
    if (!srv || !config || !config->eim_id || !*config->eim_id || strlen(config->eim_id) > SGP32_EIM_ID_MAX ||
        !config->signing_key || !config->trusted_cis || !config->store.euicc_get || !config->store.op_next)
        return SGP32_ERR_INVALID_ARGUMENT;
    memset(srv, 0, sizeof(*srv));
    srv->config = *config;
    if (!srv->config.operation_ttl)
        srv->config.operation_ttl = DEFAULT_OPERATION_TTL;
    if (!srv->config.relay_ttl)
        srv->config.relay_ttl = DEFAULT_RELAY_TTL;
    if (!srv->config.eim_fqdn)
        srv->config.eim_fqdn = srv->config.eim_id;
    srv->signer.eim_id = srv->config.eim_id;
    srv->signer.key = srv->config.signing_key;
    if (srv->config.accept_unsigned_results_insecure_for_tests)
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EIM, NULL,
                  "INSECURE: results are accepted without a verified eUICC signature (test switch)");
    return SGP32_OK;
}

int64_t sgp32_eim_now(const sgp32_eim_server *srv)
{
    return srv->config.now ? srv->config.now() : (int64_t)time(NULL);
}

bool sgp32_eim_smdp_allowed(const sgp32_eim_server *srv, const char *address)
{
    for (size_t i = 0; address && i < srv->config.smdp_allowed_count; i++)
        if (srv->config.smdp_allowed[i] && strcasecmp(srv->config.smdp_allowed[i], address) == 0)
            return true;
    return false;
}

void sgp32_eim_audit(const sgp32_eim_server *srv, const char *actor, const char *action, const char *eid,
                     int64_t operation_id, const char *detail)
{
    if (!srv->config.store.event_append)
        return;
    sgp32_eim_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.time = sgp32_eim_now(srv);
    snprintf(ev.actor, sizeof(ev.actor), "%s", actor ? actor : "eimd");
    snprintf(ev.action, sizeof(ev.action), "%s", action ? action : "");
    snprintf(ev.eid, sizeof(ev.eid), "%s", eid ? eid : "");
    ev.operation_id = operation_id;
    snprintf(ev.detail, sizeof(ev.detail), "%s", detail ? detail : "");
    int rc = srv->config.store.event_append(srv->config.store.ctx, &ev);
    if (rc)
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_EIM, &(sgp32_log_context){.component = "eim", .eid = ev.eid},
                  "audit event %s not stored: %s", ev.action, sgp32_err_str(rc));
}

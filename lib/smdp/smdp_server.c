/*
 * The SM-DP+ server core (SGP.22 §5.3 ES2+, §5.6 ES9+; NOTES §4): configuration, the inventory,
 * session records in the store, and what the ES9+/ES2+ function files share. No I/O: the store
 * and the event callback are the host's.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sgp32/profile_package.h"
#include "sgp32/text.h"
#include "smdp_server_internal.h"

void sgp32_smdp_status_set(sgp32_smdp_status *st, const char *subject, const char *reason,
                           const char *message)
{
    st->subject = subject;
    st->reason = reason;
    snprintf(st->message, sizeof(st->message), "%s", message ? message : "");
}

int64_t server_now(const sgp32_smdp_server *srv)
{
    return srv->config.now ? srv->config.now() : (int64_t)time(NULL);
}

int server_cc_max(const sgp32_smdp_server *srv)
{
    return srv->config.cc_max_failures > 0 ? srv->config.cc_max_failures : 3;
}

bool server_address_ok(const sgp32_smdp_server *srv, const char *address)
{
    if (!address || !address[0])
        return false;
    if (strcasecmp(address, srv->config.address) == 0)
        return true;
    for (size_t i = 0; i < srv->config.alias_count; i++)
        if (strcasecmp(address, srv->config.address_aliases[i]) == 0)
            return true;
    return false;
}

const sgp32_smdp_profile_template *server_template(const sgp32_smdp_server *srv, const char *profile_type)
{
    for (size_t i = 0; i < srv->config.template_count; i++)
        if (strcmp(srv->config.templates[i].profile_type, profile_type) == 0)
            return &srv->config.templates[i];
    return NULL;
}

sgp32_bytes server_ci_pkid(const sgp32_smdp_server *srv, size_t i)
{
    if (i >= srv->config.credential_count)
        return (sgp32_bytes){NULL, 0};
    return (sgp32_bytes){srv->ci_pkid[i], srv->ci_pkid_len[i]};
}

int sgp32_smdp_server_init(sgp32_smdp_server *srv, const sgp32_smdp_server_config *config)
{
    if (!srv || !config || !config->address || !config->address[0] ||
        strlen(config->address) > SGP32_SMDP_ADDRESS_MAX || !config->credentials ||
        !config->credential_count || config->credential_count > SGP32_SMDP_CREDENTIALS_MAX ||
        !config->trusted_cis || !config->store.order_get || !config->store.session_get)
        return SGP32_ERR_INVALID_ARGUMENT;
    memset(srv, 0, sizeof(*srv));
    srv->config = *config;
    for (size_t i = 0; i < config->credential_count; i++) {
        sgp32_smdp_session probe;
        int rc =
            sgp32_smdp_session_init(&probe, &config->credentials[i], config->trusted_cis, config->address, 0);
        if (!rc) {
            memcpy(srv->ci_pkid[i], probe.ci_pkid, probe.ci_pkid_len);
            srv->ci_pkid_len[i] = probe.ci_pkid_len;
        }
        sgp32_smdp_session_clear(&probe);
        if (rc)
            return rc;
    }
    return SGP32_OK;
}

/* The digits of a number in place, plus one (all 9s wrap to all 0s). */
static void increment_digits(char *digits, size_t len)
{
    for (size_t i = len; i-- > 0;) {
        if (digits[i] != '9') {
            digits[i]++;
            return;
        }
        digits[i] = '0';
    }
}

static bool all_digits(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* An IMSI range first..first+count-1 that stays within its number of digits. */
static bool imsi_range_ok(const char *first, size_t count)
{
    size_t len = strlen(first);
    if (len < 6 || len > SGP32_SMDP_IMSI_MAX || !all_digits(first, len))
        return false;
    /* how far the number is from all 9s: at most 15 digits, so it fits in 64 bits */
    uint64_t headroom = 0;
    for (size_t i = 0; i < len; i++)
        headroom = headroom * 10 + (uint64_t)('9' - first[i]);
    return count == 0 || (uint64_t)(count - 1) <= headroom;
}

int sgp32_smdp_inventory_add(const sgp32_smdp_server *srv, const char *profile_type, const char *iccid,
                             const char *imsi, size_t count, size_t *added)
{
    if (added)
        *added = 0;
    if (!srv || !profile_type || !iccid || strlen(profile_type) > SGP32_SMDP_PROFILE_TYPE_MAX ||
        !srv->config.store.order_insert)
        return SGP32_ERR_INVALID_ARGUMENT;
    const sgp32_smdp_profile_template *t = server_template(srv, profile_type);
    if (!t)
        return SGP32_ERR_NOT_FOUND;
    size_t len = strlen(iccid);
    bool add_luhn = len == 18;
    if (len < 18 || len > 20 || !all_digits(iccid, len))
        return SGP32_ERR_BAD_TEXT;
    char base[SGP32_SMDP_ICCID_MAX + 1], next_imsi[SGP32_SMDP_IMSI_MAX + 1] = "", template_imsi[16];
    memcpy(base, iccid, len + 1);
    if (imsi) {
        /* checked before anything is inserted: the whole range, and a template that has an IMSI */
        if (!imsi_range_ok(imsi, count) || sgp32_upp_ef_imsi(t->upp.data, t->upp.len, template_imsi))
            return SGP32_ERR_BAD_TEXT;
        snprintf(next_imsi, sizeof(next_imsi), "%s", imsi);
    }
    for (size_t n = 0; n < count; n++) {
        sgp32_smdp_order o;
        memset(&o, 0, sizeof(o));
        memcpy(o.iccid, base, len + 1);
        if (add_luhn) {
            o.iccid[18] = sgp32_smdp_iccid_luhn(base, 18);
            o.iccid[19] = '\0';
        }
        snprintf(o.profile_type, sizeof(o.profile_type), "%s", profile_type);
        snprintf(o.imsi, sizeof(o.imsi), "%s", next_imsi);
        o.state = SGP32_ORDER_AVAILABLE;
        o.updated = server_now(srv);
        int rc = srv->config.store.order_insert(srv->config.store.ctx, &o);
        if (rc == SGP32_OK && added)
            (*added)++;
        else if (rc && rc != SGP32_ERR_STATE)
            return rc;
        /* the next numbers (the ICCID without its Luhn digit) */
        increment_digits(base, len);
        if (next_imsi[0] && n + 1 < count)
            increment_digits(next_imsi, strlen(next_imsi));
    }
    return SGP32_OK;
}

void server_hex(const uint8_t *data, size_t len, char *out)
{
    sgp32_hex_encode(data, len, out);
}

void server_log(sgp32_log_level level, const char *txid_hex, const char *eid, const char *fmt, ...)
{
    if (!sgp32_log_enabled(SGP32_LOG_SMDP, level))
        return;
    sgp32_log_context ctx = {"smdp", eid && eid[0] ? eid : NULL, txid_hex && txid_hex[0] ? txid_hex : NULL};
    va_list ap;
    va_start(ap, fmt);
    sgp32_logv(level, SGP32_LOG_SMDP, &ctx, fmt, ap);
    va_end(ap);
}

void sgp32_smdp_outbox_item_init(sgp32_smdp_outbox_item *item)
{
    memset(item, 0, sizeof(*item));
    sgp32_buf_init(&item->body, 1 << 20);
}

void sgp32_smdp_outbox_item_free(sgp32_smdp_outbox_item *item)
{
    if (item)
        sgp32_buf_free(&item->body);
}

void sgp32_smdp_session_record_init(sgp32_smdp_session_record *r)
{
    memset(r, 0, sizeof(*r));
    sgp32_buf_init(&r->state, 4096);
    sgp32_buf_init(&r->bpp, SGP32_SMDP_BPP_MAX);
}

void sgp32_smdp_session_record_free(sgp32_smdp_session_record *r)
{
    if (!r)
        return;
    sgp32_buf_free(&r->state);
    sgp32_buf_free(&r->bpp);
}

int server_session_load(const sgp32_smdp_server *srv, const uint8_t *txid, size_t txid_len,
                        sgp32_smdp_session_record *rec, sgp32_smdp_session *s, sgp32_smdp_status *status)
{
    char hex[SGP32_SMDP_TXID_HEX + 1];
    if (txid_len == 0 || txid_len > SGP32_SMDP_TXID_LEN) {
        sgp32_smdp_status_set(status, "8.10.1", "3.9", "unknown transactionId");
        return SGP32_OK;
    }
    server_hex(txid, txid_len, hex);
    int rc = srv->config.store.session_get(srv->config.store.ctx, hex, rec);
    if (rc == SGP32_ERR_NOT_FOUND || (!rc && rec->expires && rec->expires < server_now(srv))) {
        if (!rc)
            server_session_end(srv, hex);
        sgp32_smdp_status_set(status, "8.10.1", "3.9", "unknown transactionId");
        return SGP32_OK;
    }
    if (rc)
        return rc;
    if (rec->credential_index < 0 || (size_t)rec->credential_index >= srv->config.credential_count) {
        sgp32_smdp_status_set(status, "1.2", "4.2", "session record refers to unknown credentials");
        return SGP32_OK;
    }
    rc = sgp32_smdp_session_decode(s, rec->state.data, rec->state.len,
                                   &srv->config.credentials[rec->credential_index], srv->config.trusted_cis);
    if (rc) {
        server_log(SGP32_LOG_ERROR, hex, NULL, "session record unreadable: %s", sgp32_err_str(rc));
        sgp32_smdp_status_set(status, "1.2", "4.2", "session record unreadable");
        return SGP32_OK;
    }
    s->now = server_now(srv);
    return SGP32_OK;
}

int server_session_save(const sgp32_smdp_server *srv, sgp32_smdp_session_record *rec,
                        const sgp32_smdp_session *s)
{
    sgp32_buf_reset(&rec->state);
    int rc = sgp32_smdp_session_encode(s, &rec->state);
    if (!rc)
        rc = srv->config.store.session_put(srv->config.store.ctx, rec);
    return rc;
}

void server_session_end(const sgp32_smdp_server *srv, const char *txid_hex)
{
    if (srv->config.store.session_delete)
        srv->config.store.session_delete(srv->config.store.ctx, txid_hex);
}

void server_event(const sgp32_smdp_server *srv, const sgp32_smdp_order *order, int point,
                  const sgp32_smdp_status *status)
{
    if (!srv->config.on_event)
        return;
    sgp32_smdp_event ev = {order, point, status, server_now(srv)};
    srv->config.on_event(srv->config.event_ctx, &ev);
}

int server_order_report(const sgp32_smdp_server *srv, sgp32_smdp_order *order, bool update, int point,
                        const sgp32_smdp_status *status)
{
    int rc = server_tx_begin(srv);
    if (rc)
        return rc;
    sgp32_smdp_status ignored = {0};
    if (update)
        rc = server_order_update(srv, order, &ignored);
    server_event(srv, order, point, status);
    int end = server_tx_end(srv, true);
    return rc ? rc : end;
}

int server_tx_begin(const sgp32_smdp_server *srv)
{
    const sgp32_smdp_store *st = &srv->config.store;
    return st->tx_begin && st->tx_end ? st->tx_begin(st->ctx) : SGP32_OK;
}

int server_tx_end(const sgp32_smdp_server *srv, bool commit)
{
    const sgp32_smdp_store *st = &srv->config.store;
    return st->tx_begin && st->tx_end ? st->tx_end(st->ctx, commit) : SGP32_OK;
}

int server_order_update(const sgp32_smdp_server *srv, sgp32_smdp_order *order, sgp32_smdp_status *status)
{
    order->updated = server_now(srv);
    int rc = srv->config.store.order_update(srv->config.store.ctx, order);
    if (rc == SGP32_ERR_STATE) {
        sgp32_smdp_status_set(status, "1.2", "4.4", "the order changed meanwhile; retry");
        return SGP32_OK;
    }
    return rc;
}

/* ------------------------------------------------------------------ requests and responses */

static const char *const es9_names[] = {NULL,
                                        "initiateAuthentication",
                                        "authenticateClient",
                                        "getBoundProfilePackage",
                                        "handleNotification",
                                        "cancelSession"};

const char *sgp32_smdp_es9_function_name(sgp32_smdp_es9_function f)
{
    return (unsigned)f < SGP32_ARRAY_LEN(es9_names) && es9_names[f] ? es9_names[f] : "?";
}

sgp32_smdp_es9_function sgp32_smdp_es9_function_from_name(const char *name)
{
    for (size_t i = 1; name && i < SGP32_ARRAY_LEN(es9_names); i++)
        if (strcmp(name, es9_names[i]) == 0)
            return (sgp32_smdp_es9_function)i;
    return (sgp32_smdp_es9_function)0;
}

static const char *const es2_names[] = {NULL, "downloadOrder", "confirmOrder", "cancelOrder",
                                        "releaseProfile"};

const char *sgp32_smdp_es2_function_name(sgp32_smdp_es2_function f)
{
    return (unsigned)f < SGP32_ARRAY_LEN(es2_names) && es2_names[f] ? es2_names[f] : "?";
}

sgp32_smdp_es2_function sgp32_smdp_es2_function_from_name(const char *name)
{
    for (size_t i = 1; name && i < SGP32_ARRAY_LEN(es2_names); i++)
        if (strcmp(name, es2_names[i]) == 0)
            return (sgp32_smdp_es2_function)i;
    return (sgp32_smdp_es2_function)0;
}

void sgp32_smdp_es9_request_init(sgp32_smdp_es9_request *r)
{
    memset(r, 0, sizeof(*r));
    sgp32_buf_init(&r->der, SGP32_SMDP_REQUEST_DER_MAX);
}

void sgp32_smdp_es9_request_free(sgp32_smdp_es9_request *r)
{
    if (r)
        sgp32_buf_free(&r->der);
}

void sgp32_smdp_es9_response_init(sgp32_smdp_es9_response *r, sgp32_smdp_es9_function f)
{
    memset(r, 0, sizeof(*r));
    r->function = f;
    sgp32_buf_init(&r->signed_data, 1024);
    sgp32_buf_init(&r->signature, 128);
    sgp32_buf_init(&r->ci_pkid, 64);
    sgp32_buf_init(&r->certificate, 8192);
    sgp32_buf_init(&r->profile_metadata, 1 << 16);
    sgp32_buf_init(&r->bpp, SGP32_SMDP_BPP_MAX);
}

void sgp32_smdp_es9_response_free(sgp32_smdp_es9_response *r)
{
    if (!r)
        return;
    sgp32_buf_free(&r->signed_data);
    sgp32_buf_free(&r->signature);
    sgp32_buf_free(&r->ci_pkid);
    sgp32_buf_free(&r->certificate);
    sgp32_buf_free(&r->profile_metadata);
    sgp32_buf_free(&r->bpp);
}

int sgp32_smdp_es9_call(const sgp32_smdp_server *srv, const sgp32_smdp_es9_request *req,
                        sgp32_smdp_es9_response *resp)
{
    if (!srv || !req || !resp)
        return SGP32_ERR_INVALID_ARGUMENT;
    switch (req->function) {
    case SGP32_SMDP_ES9_INITIATE_AUTHENTICATION:
        return sgp32_smdp_es9_initiate_authentication(srv, req, resp);
    case SGP32_SMDP_ES9_AUTHENTICATE_CLIENT: return sgp32_smdp_es9_authenticate_client(srv, req, resp);
    case SGP32_SMDP_ES9_GET_BOUND_PROFILE_PACKAGE:
        return sgp32_smdp_es9_get_bound_profile_package(srv, req, resp);
    case SGP32_SMDP_ES9_HANDLE_NOTIFICATION: return sgp32_smdp_es9_handle_notification(srv, req, resp);
    case SGP32_SMDP_ES9_CANCEL_SESSION: return sgp32_smdp_es9_cancel_session(srv, req, resp);
    }
    return SGP32_ERR_INVALID_ARGUMENT;
}

int sgp32_smdp_es2_call(const sgp32_smdp_server *srv, const sgp32_smdp_es2_request *req,
                        sgp32_smdp_es2_response *resp)
{
    if (!srv || !req || !resp)
        return SGP32_ERR_INVALID_ARGUMENT;
    memset(resp, 0, sizeof(*resp));
    resp->function = req->function;
    switch (req->function) {
    case SGP32_SMDP_ES2_DOWNLOAD_ORDER: return sgp32_smdp_es2_download_order(srv, req, resp);
    case SGP32_SMDP_ES2_CONFIRM_ORDER: return sgp32_smdp_es2_confirm_order(srv, req, resp);
    case SGP32_SMDP_ES2_CANCEL_ORDER: return sgp32_smdp_es2_cancel_order(srv, req, resp);
    case SGP32_SMDP_ES2_RELEASE_PROFILE: return sgp32_smdp_es2_release_profile(srv, req, resp);
    }
    return SGP32_ERR_INVALID_ARGUMENT;
}

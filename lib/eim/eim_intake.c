/*
 * Taking results and notifications in (SGP.32 §3.1.1, §3.7, §2.11.2; NOTES §3.2, §8.4-8.6): what
 * ProvideEimPackageResult and HandleNotification share.
 *
 * A signed EuiccPackageResult is believed only once its signature verifies with the registered
 * CERT.EUICC; it is then matched to its operation (eimTransactionId = operation id, counterValue,
 * eimId), deduplicated on (EID, seqNumber) and recorded in one store transaction, and its
 * seqNumber acknowledged. A replayError for a delivered operation means the eUICC already ran it
 * and holds the result: the operation waits for that result (GetEimPackage asks the eUICC for its
 * EPR list) instead of failing or running again.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "eim_internal.h"
#include "sgp32/asn1.h"
#include "sgp32/eid.h"
#include "sgp32/eim_package.h"

enum { INTAKE_ARENA_MAX = 4 << 20 };

int eim_eid_text(sgp32_bytes eid_value, char text[SGP32_EIM_EID_DIGITS + 1])
{
    text[0] = '\0';
    if (eid_value.len != SGP32_EID_LEN)
        return SGP32_ERR_BAD_TEXT;
    int rc = sgp32_eid_to_text(eid_value.data, text);
    if (!rc)
        rc = sgp32_eid_check(eid_value.data);
    if (rc)
        text[0] = '\0';
    return rc;
}

int eim_euicc_key(const sgp32_eim_euicc *euicc, sgp32_ec_public_key *key)
{
    if (!euicc->euicc_certificate.len)
        return SGP32_ERR_NOT_FOUND;
    sgp32_certificate *cert = sgp32_alloc(sizeof(*cert));
    if (!cert)
        return SGP32_ERR_NO_MEMORY;
    int rc = sgp32_cert_parse(euicc->euicc_certificate.data, euicc->euicc_certificate.len, cert);
    if (!rc)
        *key = cert->public_key;
    sgp32_free(cert, sizeof(*cert));
    return rc;
}

/* ------------------------------------------------------------------ profiles */

enum { PROFILES_MAX = 32 };
typedef struct profile_list {
    sgp32_eim_profile p[PROFILES_MAX];
    size_t n;
} profile_list;

static int collect_profile(void *arg, const sgp32_eim_profile *p)
{
    profile_list *l = arg;
    if (l->n < PROFILES_MAX)
        l->p[l->n++] = *p;
    return 0;
}

static sgp32_eim_profile *find_profile(profile_list *l, const char *iccid)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->p[i].iccid, iccid) == 0)
            return &l->p[i];
    return NULL;
}

/* One change on the listed profiles; the whole list is written back. */
static int apply_change(const sgp32_eim_server *srv, const char *eid, const sgp32_eim_profile_update *u,
                        int64_t now)
{
    const sgp32_eim_store *st = &srv->config.store;
    if (u->change == SGP32_EIM_CHANGE_UPSERT) {
        sgp32_eim_profile p = u->profile;
        p.updated = now;
        return st->profile_put(st->ctx, eid, &p);
    }
    if (u->change == SGP32_EIM_CHANGE_DELETED) {
        int rc = st->profile_delete(st->ctx, eid, u->profile.iccid);
        return rc == SGP32_ERR_NOT_FOUND ? SGP32_OK : rc; /* the result and its notification both say so */
    }
    profile_list *l = sgp32_alloc(sizeof(*l));
    if (!l)
        return SGP32_ERR_NO_MEMORY;
    l->n = 0;
    int rc = st->profile_list(st->ctx, eid, collect_profile, l);
    if (!rc && u->change != SGP32_EIM_CHANGE_NO_FALLBACK && !find_profile(l, u->profile.iccid) &&
        l->n < PROFILES_MAX) {
        sgp32_eim_profile *p = &l->p[l->n++];
        memset(p, 0, sizeof(*p));
        snprintf(p->iccid, sizeof(p->iccid), "%s", u->profile.iccid);
        p->profile_class = -1;
    }
    for (size_t i = 0; !rc && i < l->n; i++) {
        sgp32_eim_profile *p = &l->p[i];
        bool self = strcmp(p->iccid, u->profile.iccid) == 0;
        sgp32_eim_profile before = *p;
        switch (u->change) {
        case SGP32_EIM_CHANGE_ENABLED:
            p->state = self ? SGP32_EIM_PROFILE_ENABLED : SGP32_EIM_PROFILE_DISABLED;
            break;
        case SGP32_EIM_CHANGE_DISABLED:
            if (self)
                p->state = SGP32_EIM_PROFILE_DISABLED;
            break;
        case SGP32_EIM_CHANGE_FALLBACK: p->fallback = self; break;
        case SGP32_EIM_CHANGE_NO_FALLBACK: p->fallback = false; break;
        default: break;
        }
        if (memcmp(&before, p, sizeof(before)) != 0 || (self && p->updated == 0)) {
            p->updated = now;
            rc = st->profile_put(st->ctx, eid, p);
        }
    }
    sgp32_free(l, sizeof(*l));
    return rc;
}

static bool same_profile(const sgp32_eim_profile *a, const sgp32_eim_profile *b)
{
    return strcmp(a->iccid, b->iccid) == 0 && a->state == b->state && a->profile_class == b->profile_class &&
           strcmp(a->name, b->name) == 0 && strcmp(a->service_provider, b->service_provider) == 0 &&
           a->fallback == b->fallback;
}

/* The eUICC's whole list (listProfileInfo): write only what differs from what is stored, so that
 * a repeated listing (the usual case) costs no page writes. */
static int replace_profiles(const sgp32_eim_server *srv, const char *eid, const sgp32_eim_result_summary *s,
                            int64_t now)
{
    const sgp32_eim_store *st = &srv->config.store;
    profile_list *l = sgp32_alloc(sizeof(*l));
    if (!l)
        return SGP32_ERR_NO_MEMORY;
    l->n = 0;
    int rc = st->profile_list(st->ctx, eid, collect_profile, l);
    if (!rc && l->n == PROFILES_MAX) { /* more than we can compare: start over */
        rc = st->profile_delete_all(st->ctx, eid);
        l->n = 0;
    }
    for (size_t i = 0; !rc && i < l->n; i++) {
        bool listed = false;
        for (size_t j = 0; j < s->update_count && !listed; j++)
            listed = s->updates[j].change == SGP32_EIM_CHANGE_UPSERT &&
                     strcmp(s->updates[j].profile.iccid, l->p[i].iccid) == 0;
        if (!listed)
            rc = st->profile_delete(st->ctx, eid, l->p[i].iccid);
    }
    for (size_t j = 0; !rc && j < s->update_count; j++) {
        const sgp32_eim_profile_update *u = &s->updates[j];
        sgp32_eim_profile *known =
            u->change == SGP32_EIM_CHANGE_UPSERT ? find_profile(l, u->profile.iccid) : NULL;
        if (!known || !same_profile(known, &u->profile))
            rc = apply_change(srv, eid, u, now);
    }
    sgp32_free(l, sizeof(*l));
    return rc;
}

int eim_apply_profile_updates(const sgp32_eim_server *srv, const char *eid, const sgp32_eim_result_summary *s)
{
    int64_t now = sgp32_eim_now(srv);
    if (s->profiles_listed)
        return replace_profiles(srv, eid, s, now);
    int rc = SGP32_OK;
    for (size_t i = 0; !rc && i < s->update_count; i++)
        rc = apply_change(srv, eid, &s->updates[i], now);
    return rc;
}

/* ------------------------------------------------------------------ operations */

static int tx_begin(const sgp32_eim_store *st)
{
    return st->tx_begin ? st->tx_begin(st->ctx) : SGP32_OK;
}

static int tx_end(const sgp32_eim_store *st, int rc)
{
    if (!st->tx_end)
        return rc;
    int end = st->tx_end(st->ctx, rc == SGP32_OK);
    return rc ? rc : end;
}

static void ack(eim_acks *acks, int64_t seq)
{
    for (size_t i = 0; i < acks->count; i++)
        if (acks->seq[i] == seq)
            return;
    if (acks->count < EIM_ACK_MAX)
        acks->seq[acks->count++] = seq;
}

/* The operation a result names: by eimTransactionId, else (no id) the delivered head of the
 * queue with that counterValue. SGP32_ERR_NOT_FOUND when it is none of ours. */
static int find_operation(const sgp32_eim_server *srv, const char *eid, bool has_txid, sgp32_bytes txid,
                          int64_t counter, sgp32_eim_operation *op)
{
    const sgp32_eim_store *st = &srv->config.store;
    int rc;
    if (has_txid) {
        int64_t id = sgp32_eim_operation_id(txid.data, txid.len);
        if (id < 0)
            return SGP32_ERR_NOT_FOUND;
        rc = st->op_get(st->ctx, id, op);
    } else {
        rc = st->op_next(st->ctx, eid, op);
    }
    if (rc)
        return rc;
    if (strcmp(op->eid, eid) != 0 || (counter >= 0 && op->counter_value != counter))
        return SGP32_ERR_NOT_FOUND;
    return SGP32_OK;
}

/* deleteEim of this very eIM succeeded: the eUICC no longer takes our packages. */
static int note_self_deleted(const sgp32_eim_server *srv, const sgp32_eim_operation *op,
                             const sgp32_euicc_package_result_data_signed *d)
{
    if (op->kind != SGP32_EIM_OP_ECO)
        return SGP32_OK;
    json_t *root = json_loadb((const char *)op->request.data, op->request.len, 0, NULL);
    json_t *list = json_object_get(root, "eco");
    bool self = false;
    for (size_t i = 0; i < json_array_size(list) && i < d->euicc_result.count; i++) {
        const char *id = json_string_value(
            json_object_get(json_object_get(json_array_get(list, i), "deleteEim"), "eimId"));
        const sgp32_euicc_result_data *r = &d->euicc_result.items[i];
        if (id && strcmp(id, srv->config.eim_id) == 0 &&
            r->choice == SGP32_EUICC_RESULT_DATA_DELETE_EIM_RESULT &&
            (r->u.delete_eim_result == 0 || r->u.delete_eim_result == 2 /* lastEimDeleted: also gone */))
            self = true;
    }
    json_decref(root);
    if (!self)
        return SGP32_OK;
    const sgp32_eim_store *st = &srv->config.store;
    sgp32_eim_euicc e;
    sgp32_eim_euicc_init(&e);
    int rc = st->euicc_get(st->ctx, op->eid, &e);
    if (!rc) {
        e.associated = false;
        rc = st->euicc_update(st->ctx, &e);
    }
    sgp32_eim_euicc_free(&e);
    if (!rc)
        sgp32_eim_audit(srv, "esipa", "device.disassociated", op->eid, op->id, "{\"deleteEim\":\"ok\"}");
    return rc;
}

/* Record a summary on op (state, result bytes and JSON) and the profile updates. In a tx. */
static int record(const sgp32_eim_server *srv, sgp32_eim_operation *op, sgp32_bytes result,
                  const sgp32_eim_result_summary *s)
{
    const sgp32_eim_store *st = &srv->config.store;
    op->state = s->success ? SGP32_EIM_OP_DONE : SGP32_EIM_OP_FAILED;
    op->completed = sgp32_eim_now(srv);
    op->awaiting_result = false;
    sgp32_buf_reset(&op->result);
    sgp32_buf_reset(&op->result_json);
    int rc = sgp32_buf_append(&op->result, result.data, result.len);
    if (!rc)
        rc = sgp32_buf_append(&op->result_json, s->json.data, s->json.len);
    if (!rc)
        rc = st->op_update(st->ctx, op);
    if (!rc)
        rc = eim_apply_profile_updates(srv, op->eid, s);
    if (!rc) {
        /* the audit event commits with the result: one transaction, and never one without the other */
        char detail[160];
        snprintf(detail, sizeof(detail), "{\"state\":\"%s\",\"counterValue\":%lld}",
                 sgp32_eim_op_state_name(op->state), (long long)op->counter_value);
        sgp32_eim_audit(srv, "esipa", "operation.result", op->eid, op->id, detail);
    }
    return rc;
}

/* One log line per recorded result, after its commit. */
static void log_result(const sgp32_eim_operation *op)
{
    sgp32_log(SGP32_LOG_INFO, SGP32_LOG_EIM, EIM_LOG_CONTEXT(op->eid), "operation %lld %s: %.*s",
              (long long)op->id, sgp32_eim_op_state_name(op->state),
              (int)(op->result_json.len > 200 ? 200 : op->result_json.len),
              (const char *)op->result_json.data);
}

static int decode_unverified(sgp32_bytes der, sgp32_arena *arena, sgp32_euicc_package_result *res)
{
    return sgp32_asn1_decode(&sgp32_type_euicc_package_result, der.data, der.len, arena, res);
}

int eim_take_package_result(const sgp32_eim_server *srv, const sgp32_eim_euicc *euicc, sgp32_bytes der,
                            eim_acks *acks, sgp32_eim_esipa_info *info)
{
    const sgp32_eim_store *st = &srv->config.store;
    sgp32_arena arena;
    sgp32_arena_init(&arena, INTAKE_ARENA_MAX);
    sgp32_eim_operation op;
    sgp32_eim_operation_init(&op);
    sgp32_eim_result_summary s;
    sgp32_eim_result_summary_init(&s);
    sgp32_euicc_package_result *res = sgp32_arena_alloc(&arena, sizeof(*res));
    sgp32_ec_public_key key;
    int rc = res ? eim_euicc_key(euicc, &key) : SGP32_ERR_NO_MEMORY;
    if (rc == SGP32_ERR_NOT_FOUND && srv->config.accept_unsigned_results_insecure_for_tests)
        rc = decode_unverified(der, &arena, res);
    else if (!rc)
        rc = sgp32_eim_package_result_verify(der.data, der.len, &key, euicc->has_token, euicc->token, &arena,
                                             res);
    if (rc) {
        snprintf(info->outcome, sizeof(info->outcome), "result refused: %s",
                 rc == SGP32_ERR_NOT_FOUND ? "no eUICC certificate to verify it" : sgp32_err_str(rc));
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EIM, EIM_LOG_CONTEXT(euicc->eid), "%s", info->outcome);
        char detail[128];
        snprintf(detail, sizeof(detail), "{\"reason\":\"%s\"}", sgp32_err_str(rc));
        sgp32_eim_audit(srv, "esipa", "result.rejected", euicc->eid, 0, detail);
        goto out;
    }

    bool has_txid = false, recorded = false;
    sgp32_bytes txid = {NULL, 0}, eim_id = {NULL, 0};
    int64_t counter = -1, seq = -1;
    switch (res->choice) {
    case SGP32_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED: {
        const sgp32_euicc_package_result_data_signed *d =
            &res->u.euicc_package_result_signed.euicc_package_result_data_signed;
        has_txid = d->has_eim_transaction_id, txid = d->eim_transaction_id, eim_id = d->eim_id;
        counter = d->counter_value, seq = d->seq_number;
        break;
    }
    case SGP32_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_ERROR_SIGNED: {
        const sgp32_euicc_package_error_data_signed *d =
            &res->u.euicc_package_error_signed.euicc_package_error_data_signed;
        has_txid = d->has_eim_transaction_id, txid = d->eim_transaction_id, eim_id = d->eim_id;
        counter = d->counter_value;
        break;
    }
    default: { /* unsigned error: a hint only */
        const sgp32_euicc_package_error_unsigned *d = &res->u.euicc_package_error_unsigned;
        has_txid = d->has_eim_transaction_id, txid = d->eim_transaction_id, eim_id = d->eim_id;
        break;
    }
    }
    if (eim_id.len != strlen(srv->config.eim_id) ||
        memcmp(eim_id.data, srv->config.eim_id, eim_id.len) != 0) {
        snprintf(info->outcome, sizeof(info->outcome), "result for another eIM (%.*s) ignored",
                 (int)(eim_id.len > 40 ? 40 : eim_id.len), (const char *)eim_id.data);
        goto out;
    }

    if ((rc = tx_begin(st)))
        goto out;
    if (seq >= 0) {
        bool seen = false;
        if ((rc = st->result_seen(st->ctx, euicc->eid, seq, &seen)))
            goto end;
        if (seen) {
            ack(acks, seq);
            snprintf(info->outcome, sizeof(info->outcome),
                     "duplicate result (seqNumber %lld) acknowledged again", (long long)seq);
            goto end;
        }
    }
    rc = find_operation(srv, euicc->eid, has_txid, txid, counter, &op);
    if (rc == SGP32_ERR_NOT_FOUND) {
        rc = SGP32_OK;
        if (seq >= 0)
            ack(acks, seq); /* verified and ours: let the eUICC free it */
        snprintf(info->outcome, sizeof(info->outcome), "verified result matches no operation");
        sgp32_eim_audit(srv, "esipa", "result.unmatched", euicc->eid, 0, NULL);
        goto end;
    }
    if (rc)
        goto end;
    info->operation_id = op.id;
    if (op.state == SGP32_EIM_OP_DONE || op.state == SGP32_EIM_OP_FAILED) {
        if (seq >= 0)
            ack(acks, seq);
        snprintf(info->outcome, sizeof(info->outcome), "operation %lld already has its result",
                 (long long)op.id);
        goto end;
    }
    if (res->choice == SGP32_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_ERROR_SIGNED &&
        res->u.euicc_package_error_signed.euicc_package_error_data_signed.euicc_package_error_code ==
            SGP32_EUICC_PACKAGE_ERROR_CODE_REPLAY_ERROR &&
        op.state == SGP32_EIM_OP_DELIVERED && op.delivery_count > 1) {
        /* our redelivery of a package the eUICC already ran: its result is on the card */
        op.awaiting_result = true;
        rc = st->op_update(st->ctx, &op);
        snprintf(info->outcome, sizeof(info->outcome), "operation %lld ran before: its result is requested",
                 (long long)op.id);
        goto end;
    }
    if ((rc = sgp32_eim_result_summarise_package(&op, res, &s)))
        goto end;
    if ((rc = record(srv, &op, der, &s)))
        goto end;
    recorded = true;
    if (res->choice == SGP32_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED &&
        (rc = note_self_deleted(srv, &op,
                                &res->u.euicc_package_result_signed.euicc_package_result_data_signed)))
        goto end;
    if (seq >= 0)
        ack(acks, seq);
    snprintf(info->outcome, sizeof(info->outcome), "operation %lld %s", (long long)op.id,
             sgp32_eim_op_state_name(op.state));
end:
    rc = tx_end(st, rc);
    if (!rc && recorded)
        log_result(&op);
out:
    sgp32_eim_result_summary_free(&s);
    sgp32_eim_operation_free(&op);
    sgp32_arena_free(&arena);
    return rc;
}

/* ------------------------------------------------------------------ notifications */

static bool is_own_address(const sgp32_eim_server *srv, sgp32_bytes address)
{
    const char *own[] = {srv->config.eim_fqdn, srv->config.eim_id};
    for (size_t i = 0; i < 2; i++)
        if (own[i] && address.len == strlen(own[i]) &&
            strncasecmp((const char *)address.data, own[i], address.len) == 0)
            return true;
    return false;
}

int eim_take_notification(const sgp32_eim_server *srv, const char *eid_in, const eim_notification *n,
                          eim_acks *acks)
{
    const sgp32_eim_store *st = &srv->config.store;
    char eid[SGP32_EIM_EID_DIGITS + 1];
    snprintf(eid, sizeof(eid), "%s", eid_in ? eid_in : "");
    sgp32_eim_result_summary s;
    sgp32_eim_result_summary_init(&s);
    sgp32_eim_outbox_item item;
    sgp32_eim_outbox_item_init(&item);
    int rc = SGP32_OK;

    if (!eid[0] && n->is_pir && n->pir_transaction_id.len) {
        sgp32_eim_relay relay;
        if (st->relay_get(st->ctx, n->pir_transaction_id.data, n->pir_transaction_id.len, &relay) == SGP32_OK)
            snprintf(eid, sizeof(eid), "%s", relay.eid);
    }
    if (!eid[0]) {
        /* nobody to file it under; still forwarded below when it is a full form */
        sgp32_log(SGP32_LOG_INFO, SGP32_LOG_EIM, NULL, "notification seqNumber %lld of an unknown eUICC",
                  (long long)n->seq_number);
    }
    if ((rc = tx_begin(st)))
        goto out;
    if (eid[0]) {
        bool seen = false;
        if ((rc = st->result_seen(st->ctx, eid, n->seq_number, &seen)))
            goto end;
        if (seen) {
            ack(acks, n->seq_number);
            goto end;
        }
        if (n->metadata) {
            if ((rc = sgp32_eim_result_summarise_notification(n->metadata, n->is_pir, n->pir_success, &s)))
                goto end;
            if ((rc = eim_apply_profile_updates(srv, eid, &s)))
                goto end;
        }
    }
    /* SM-DP+-bound full forms go to their SM-DP+ (ES9+ handleNotification, with retries). The
     * signature covers the full form: a compact one cannot be rebuilt here. */
    if (n->metadata && !n->compact && n->metadata->notification_address.len &&
        n->metadata->notification_address.len <= SGP32_EIM_ADDRESS_MAX &&
        !is_own_address(srv, n->metadata->notification_address)) {
        snprintf(item.eid, sizeof(item.eid), "%s", eid);
        snprintf(item.address, sizeof(item.address), "%.*s", (int)n->metadata->notification_address.len,
                 (const char *)n->metadata->notification_address.data);
        item.next_attempt = sgp32_eim_now(srv);
        if ((rc = sgp32_buf_append(&item.notification, n->pending.data, n->pending.len)) ||
            (rc = st->outbox_put(st->ctx, &item)))
            goto end;
    }
    ack(acks, n->seq_number);
end:
    rc = tx_end(st, rc);
    if (!rc && item.id)
        sgp32_log(SGP32_LOG_INFO, SGP32_LOG_EIM, EIM_LOG_CONTEXT(eid), "notification %lld queued for %s",
                  (long long)n->seq_number, item.address);
out:
    sgp32_eim_outbox_item_free(&item);
    sgp32_eim_result_summary_free(&s);
    return rc;
}

void eim_notification_from(const sgp32_sgp32_pending_notification *p, eim_notification *n)
{
    memset(n, 0, sizeof(*n));
    /* the alternative itself (BF37 / 30 / compact), never the [0] around it */
    switch (p->choice) {
    case SGP32_SGP32_PENDING_NOTIFICATION_PROFILE_INSTALLATION_RESULT: {
        const sgp32_profile_installation_result_data *d =
            &p->u.profile_installation_result.profile_installation_result_data;
        n->pending = p->u.profile_installation_result.der;
        n->metadata = &d->notification_metadata;
        n->is_pir = true;
        n->pir_success =
            d->final_result.choice == SGP32_PROFILE_INSTALLATION_RESULT_DATA_FINAL_RESULT_SUCCESS_RESULT;
        n->pir_transaction_id = d->transaction_id;
        break;
    }
    case SGP32_SGP32_PENDING_NOTIFICATION_OTHER_SIGNED_NOTIFICATION:
        n->pending = p->u.other_signed_notification.der;
        n->metadata = &p->u.other_signed_notification.tbs_other_notification;
        break;
    case SGP32_SGP32_PENDING_NOTIFICATION_COMPACT_PROFILE_INSTALLATION_RESULT: {
        const sgp32_compact_profile_installation_result_data *d =
            &p->u.compact_profile_installation_result.compact_profile_installation_result_data;
        n->pending = p->u.compact_profile_installation_result.der;
        n->is_pir = true;
        n->compact = true;
        n->seq_number = d->seq_number;
        n->pir_transaction_id = d->transaction_id;
        return;
    }
    default:
        n->pending = p->u.compact_other_signed_notification.der;
        n->metadata = &p->u.compact_other_signed_notification.tbs_other_notification;
        n->compact = true;
        break;
    }
    n->seq_number = n->metadata->seq_number;
}

static int take_notification_list(const sgp32_eim_server *srv, const char *eid,
                                  const sgp32_pending_notification_list *l, eim_acks *acks)
{
    int rc = SGP32_OK;
    for (size_t i = 0; !rc && i < l->count; i++) {
        eim_notification n;
        eim_notification_from(&l->items[i], &n);
        rc = eim_take_notification(srv, eid, &n, acks);
    }
    return rc;
}

/* ------------------------------------------------------------------ EimPackageResult */

static const char *package_error_name(int64_t code)
{
    switch (code) {
    case 1: return "invalidPackageFormat";
    case 2: return "unknownPackage";
    default: return "undefinedError";
    }
}

/* An operation named by txid that is still open, or NOT_FOUND. */
static int open_operation(const sgp32_eim_server *srv, const char *eid, bool has_txid, sgp32_bytes txid,
                          sgp32_eim_operation *op)
{
    if (!has_txid)
        return SGP32_ERR_NOT_FOUND;
    int rc = find_operation(srv, eid, true, txid, -1, op);
    if (!rc && op->state != SGP32_EIM_OP_DELIVERED && op->state != SGP32_EIM_OP_QUEUED &&
        op->state != SGP32_EIM_OP_CANCELLED && op->state != SGP32_EIM_OP_EXPIRED)
        rc = SGP32_ERR_NOT_FOUND; /* already has its result */
    return rc;
}

static int record_in_tx(const sgp32_eim_server *srv, sgp32_eim_operation *op, sgp32_bytes der,
                        const sgp32_eim_result_summary *s)
{
    const sgp32_eim_store *st = &srv->config.store;
    int rc = tx_begin(st);
    if (!rc)
        rc = tx_end(st, record(srv, op, der, s));
    if (!rc)
        log_result(op);
    return rc;
}

/* Learn CERT.EUM and CERT.EUICC (verified against the CIs and the EID) from IpaEuiccData. */
static int learn_certificates(const sgp32_eim_server *srv, const sgp32_eim_euicc *euicc,
                              const sgp32_ipa_euicc_data *d, sgp32_eim_esipa_info *info)
{
    if (!d->has_euicc_certificate || !d->has_eum_certificate)
        return SGP32_ERR_NOT_FOUND;
    const sgp32_eim_store *st = &srv->config.store;
    uint8_t eid[SGP32_EID_LEN];
    sgp32_buf eum, cert;
    sgp32_buf_init(&eum, 4096);
    sgp32_buf_init(&cert, 4096);
    sgp32_eim_euicc e;
    sgp32_eim_euicc_init(&e);
    /* IpaEuiccData carries them as [5] / [6]: back to the certificates' own SEQUENCE tag */
    int rc = sgp32_eid_from_text(euicc->eid, eid);
    if (!rc)
        rc = sgp32_asn1_write_retagged(&eum, 0x30, d->eum_certificate);
    if (!rc)
        rc = sgp32_asn1_write_retagged(&cert, 0x30, d->euicc_certificate);
    if (!rc)
        rc = sgp32_cert_verify_euicc_chain(srv->config.trusted_cis, sgp32_buf_bytes(&eum),
                                           sgp32_buf_bytes(&cert), sgp32_eim_now(srv), eid, NULL);
    if (rc) {
        snprintf(info->outcome, sizeof(info->outcome), "eUICC certificates refused: %s", sgp32_err_str(rc));
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EIM, EIM_LOG_CONTEXT(euicc->eid), "%s", info->outcome);
        goto out;
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        if ((rc = st->euicc_get(st->ctx, euicc->eid, &e)))
            break;
        sgp32_buf_reset(&e.euicc_certificate);
        sgp32_buf_reset(&e.eum_certificate);
        if ((rc = sgp32_buf_append(&e.euicc_certificate, cert.data, cert.len)) ||
            (rc = sgp32_buf_append(&e.eum_certificate, eum.data, eum.len)))
            break;
        if ((rc = st->euicc_update(st->ctx, &e)) != SGP32_ERR_STATE)
            break;
    }
    if (!rc) {
        snprintf(info->outcome, sizeof(info->outcome), "eUICC certificates verified and stored");
        sgp32_eim_audit(srv, "esipa", "device.certificate", euicc->eid, 0, NULL);
    }
out:
    sgp32_eim_euicc_free(&e);
    sgp32_buf_free(&eum);
    sgp32_buf_free(&cert);
    return rc;
}

/* The certificates could not be had: the operation that needed them fails instead of looping. */
static int fail_head(const sgp32_eim_server *srv, const char *eid, const char *why)
{
    const sgp32_eim_store *st = &srv->config.store;
    sgp32_eim_operation op;
    sgp32_eim_operation_init(&op);
    int rc = st->op_next(st->ctx, eid, &op);
    if (!rc) {
        sgp32_eim_result_summary s;
        sgp32_eim_result_summary_init(&s);
        s.success = false;
        rc = sgp32_buf_append(&s.json, why, strlen(why));
        if (!rc)
            rc = record_in_tx(srv, &op, (sgp32_bytes){NULL, 0}, &s);
        sgp32_eim_result_summary_free(&s);
    } else if (rc == SGP32_ERR_NOT_FOUND) {
        rc = SGP32_OK;
    }
    sgp32_eim_operation_free(&op);
    return rc;
}

static int take_ipa_euicc_data(const sgp32_eim_server *srv, const sgp32_eim_euicc *euicc,
                               const sgp32_ipa_euicc_data_response *r, eim_acks *acks,
                               sgp32_eim_esipa_info *info)
{
    bool ok = r->choice == SGP32_IPA_EUICC_DATA_RESPONSE_IPA_EUICC_DATA;
    const sgp32_ipa_euicc_data *d = ok ? &r->u.ipa_euicc_data : NULL;
    bool has_txid =
        ok ? d->has_eim_transaction_id : r->u.ipa_euicc_data_response_error.has_eim_transaction_id;
    sgp32_bytes txid = ok ? d->eim_transaction_id : r->u.ipa_euicc_data_response_error.eim_transaction_id;
    int rc = SGP32_OK;

    if (has_txid && txid.len == SGP32_EIM_TXID_LEN && txid.data[0] == EIM_TXID_CERTIFICATES) {
        rc = ok ? learn_certificates(srv, euicc, d, info) : SGP32_ERR_NOT_FOUND;
        if (rc && rc != SGP32_ERR_NO_MEMORY)
            rc = fail_head(srv, euicc->eid, "{\"error\":\"euiccCertificateUnavailable\"}");
        return rc;
    }
    if (has_txid && txid.len == SGP32_EIM_TXID_LEN && txid.data[0] == EIM_TXID_RECOVERY) {
        uint8_t id_bytes[SGP32_EIM_TXID_LEN];
        memcpy(id_bytes, txid.data, sizeof(id_bytes));
        id_bytes[0] = 0;
        int64_t id = sgp32_eim_operation_id(id_bytes, sizeof(id_bytes));
        for (size_t i = 0; ok && d->has_euicc_package_result_list && i < d->euicc_package_result_list.count;
             i++) {
            const sgp32_euicc_package_result *epr = &d->euicc_package_result_list.items[i];
            if ((rc = eim_take_package_result(srv, euicc, epr->der, acks, info)) &&
                rc != SGP32_ERR_CRYPTO_BAD_SIGNATURE)
                return rc;
        }
        /* Not among the results the eUICC still holds: it is lost for good, say so. */
        sgp32_eim_operation op;
        sgp32_eim_operation_init(&op);
        rc = SGP32_OK;
        if (id > 0 && srv->config.store.op_get(srv->config.store.ctx, id, &op) == SGP32_OK &&
            op.state == SGP32_EIM_OP_DELIVERED && op.awaiting_result && strcmp(op.eid, euicc->eid) == 0) {
            sgp32_eim_result_summary s;
            sgp32_eim_result_summary_init(&s);
            const char *why = "{\"error\":\"resultLost\"}";
            rc = sgp32_buf_append(&s.json, why, strlen(why));
            if (!rc)
                rc = record_in_tx(srv, &op, (sgp32_bytes){NULL, 0}, &s);
            sgp32_eim_result_summary_free(&s);
            snprintf(info->outcome, sizeof(info->outcome), "operation %lld: result lost on the device",
                     (long long)id);
        }
        sgp32_eim_operation_free(&op);
        return rc;
    }

    if (ok && d->has_euicc_certificate && d->has_eum_certificate && !euicc->euicc_certificate.len)
        learn_certificates(srv, euicc, d, info); /* opportunistic; a refusal is logged */
    sgp32_eim_operation op;
    sgp32_eim_operation_init(&op);
    sgp32_eim_result_summary s;
    sgp32_eim_result_summary_init(&s);
    rc = open_operation(srv, euicc->eid, has_txid, txid, &op);
    if (rc == SGP32_ERR_NOT_FOUND) {
        rc = SGP32_OK;
        snprintf(info->outcome, sizeof(info->outcome), "eUICC data matches no open operation");
        goto out;
    }
    if (rc || (rc = sgp32_eim_result_summarise_ipa_euicc_data(&op, r, &s)))
        goto out;
    info->operation_id = op.id;
    rc = record_in_tx(srv, &op, r->der, &s);
    snprintf(info->outcome, sizeof(info->outcome), "operation %lld %s", (long long)op.id,
             sgp32_eim_op_state_name(op.state));
out:
    sgp32_eim_result_summary_free(&s);
    sgp32_eim_operation_free(&op);
    return rc;
}

static int take_download_result(const sgp32_eim_server *srv, const sgp32_eim_euicc *euicc,
                                const sgp32_profile_download_trigger_result *r, sgp32_eim_esipa_info *info)
{
    sgp32_eim_operation op;
    sgp32_eim_operation_init(&op);
    sgp32_eim_result_summary s;
    sgp32_eim_result_summary_init(&s);
    int rc = open_operation(srv, euicc->eid, r->has_eim_transaction_id, r->eim_transaction_id, &op);
    if (rc == SGP32_ERR_NOT_FOUND) {
        rc = SGP32_OK;
        snprintf(info->outcome, sizeof(info->outcome), "download result matches no open operation");
        goto out;
    }
    if (rc || (rc = sgp32_eim_result_summarise_download(&op, r, &s)))
        goto out;
    info->operation_id = op.id;
    rc = record_in_tx(srv, &op, r->der, &s);
    snprintf(info->outcome, sizeof(info->outcome), "download operation %lld %s", (long long)op.id,
             sgp32_eim_op_state_name(op.state));
out:
    sgp32_eim_result_summary_free(&s);
    sgp32_eim_operation_free(&op);
    return rc;
}

static int take_package_error(const sgp32_eim_server *srv, const sgp32_eim_euicc *euicc,
                              const sgp32_eim_package_result_response_error *e, sgp32_eim_esipa_info *info)
{
    sgp32_eim_operation op;
    sgp32_eim_operation_init(&op);
    sgp32_eim_result_summary s;
    sgp32_eim_result_summary_init(&s);
    int rc = open_operation(srv, euicc->eid, e->has_eim_transaction_id, e->eim_transaction_id, &op);
    if (rc == SGP32_ERR_NOT_FOUND) {
        rc = SGP32_OK;
        goto out;
    }
    char json[96];
    snprintf(json, sizeof(json), "{\"error\":\"%s\",\"reportedBy\":\"ipa\"}",
             package_error_name(e->eim_package_result_error_code));
    if (rc || (rc = sgp32_buf_append(&s.json, json, strlen(json))))
        goto out;
    info->operation_id = op.id;
    rc = record_in_tx(srv, &op, e->der, &s);
    snprintf(info->outcome, sizeof(info->outcome), "operation %lld refused by the IPA: %s", (long long)op.id,
             package_error_name(e->eim_package_result_error_code));
out:
    sgp32_eim_result_summary_free(&s);
    sgp32_eim_operation_free(&op);
    return rc;
}

int eim_take_eim_package_result(const sgp32_eim_server *srv, const sgp32_eim_euicc *euicc,
                                const sgp32_eim_package_result *result, eim_acks *acks,
                                sgp32_eim_esipa_info *info)
{
    switch (result->choice) {
    case SGP32_EIM_PACKAGE_RESULT_EUICC_PACKAGE_RESULT:
        return eim_take_package_result(srv, euicc, result->u.euicc_package_result.der, acks, info);
    case SGP32_EIM_PACKAGE_RESULT_E_PR_AND_NOTIFICATIONS: {
        const sgp32_eim_package_result_e_pr_and_notifications *e = &result->u.e_pr_and_notifications;
        int rc = eim_take_package_result(srv, euicc, e->euicc_package_result.der, acks, info);
        if (rc)
            return rc; /* nothing acknowledged: the IPA sends it all again */
        return take_notification_list(srv, euicc->eid, &e->notification_list, acks);
    }
    case SGP32_EIM_PACKAGE_RESULT_IPA_EUICC_DATA_RESPONSE:
        return take_ipa_euicc_data(srv, euicc, &result->u.ipa_euicc_data_response, acks, info);
    case SGP32_EIM_PACKAGE_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT:
        return take_download_result(srv, euicc, &result->u.profile_download_trigger_result, info);
    case SGP32_EIM_PACKAGE_RESULT_EIM_PACKAGE_RESULT_RESPONSE_ERROR:
        return take_package_error(srv, euicc, &result->u.eim_package_result_response_error, info);
    default: return SGP32_ERR_UNSUPPORTED;
    }
}

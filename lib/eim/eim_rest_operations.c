/*
 * REST API v1, operations (docs/eim-api.yaml): create one operation for one EID or the same operation
 * for many EIDs (bulk), list them (keyset on the id), read one, cancel one.
 *
 * A create is checked completely before anything is stored: the operation JSON once
 * (sgp32_eim_operation_parse_json; its canonical form becomes every op->request), every EID (format,
 * check digits, no repeats, registered and associated), the Idempotency-Key. Then all operations and
 * their audit events go in one store transaction, rolled back on any failure: a bulk create of
 * 10,000 EIDs is one commit.
 *
 * Idempotency: operation i of a keyed batch stores the key "<key>:<eid i>" (a key too long for that
 * is replaced by "~" and its SHA-256 in hex), scoped to the token. A repeat finds every one of them
 * with the same operation and answers them again (200, "replayed": true); finding only some, or a
 * different operation, is a reuse of the key (422). Two identical requests racing: the second insert
 * collides in the store, rolls back and answers as a replay.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eim_rest_internal.h"
#include "sgp32/crypto.h"

enum {
    OP_CANCEL_TRIES = 4,
    LIST_BUDGET = 16 << 20, /* a page stops early past this many bytes of JSON (next says where to go on) */
    STORED_KEY_PREFIX_MAX = SGP32_EIM_KEY_MAX - SGP32_EIM_EID_DIGITS - 1,
    ERROR_TEXT_MAX = 256,
};

/* ------------------------------------------------------------------ rendering */

/* Stored JSON (request, result summary) as a value; text that does not parse stays a string. */
static json_t *stored_json(const sgp32_buf *b)
{
    if (!b->len)
        return json_null();
    json_t *v = json_loadb((const char *)b->data, b->len, JSON_DECODE_ANY, NULL);
    return v ? v : json_stringn((const char *)b->data, b->len);
}

json_t *sgp32_eim_rest_operation_json(const sgp32_eim_operation *op, bool with_der)
{
    uint8_t txid[SGP32_EIM_TXID_LEN];
    sgp32_eim_transaction_id(op->id, txid);
    json_t *o = json_object();
    json_t *created_by = json_string(op->created_by);
    bool ok = sgp32_eim_rest_set(o, "id", json_integer(op->id)) &&
              sgp32_eim_rest_set(o, "eid", json_string(op->eid)) &&
              sgp32_eim_rest_set(o, "kind", json_string(sgp32_eim_op_kind_name(op->kind))) &&
              sgp32_eim_rest_set(o, "state", json_string(sgp32_eim_op_state_name(op->state))) &&
              sgp32_eim_rest_set(o, "request", stored_json(&op->request)) &&
              sgp32_eim_rest_set(o, "eimTransactionId", sgp32_eim_rest_hex_value(txid, sizeof(txid))) &&
              sgp32_eim_rest_set(o, "counterValue",
                                 op->counter_value ? json_integer(op->counter_value) : json_null()) &&
              sgp32_eim_rest_set(o, "created", sgp32_eim_rest_time(op->created)) &&
              sgp32_eim_rest_set(o, "delivered", sgp32_eim_rest_time(op->delivered)) &&
              sgp32_eim_rest_set(o, "completed", sgp32_eim_rest_time(op->completed)) &&
              sgp32_eim_rest_set(o, "expires", sgp32_eim_rest_time(op->expires)) &&
              sgp32_eim_rest_set(o, "deliveryCount", json_integer(op->delivery_count)) &&
              sgp32_eim_rest_set(o, "awaitingResult", json_boolean(op->awaiting_result)) &&
              sgp32_eim_rest_set(o, "createdBy", created_by ? json_incref(created_by) : json_string("")) &&
              sgp32_eim_rest_set(o, "result", stored_json(&op->result_json));
    if (ok && with_der)
        ok = sgp32_eim_rest_set(o, "resultDer",
                                op->result.len ? sgp32_eim_rest_base64_value(op->result.data, op->result.len)
                                               : json_null());
    json_decref(created_by);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *operation_brief(int64_t id, const char *eid, sgp32_eim_op_state state)
{
    json_t *o = json_object();
    if (!(sgp32_eim_rest_set(o, "id", json_integer(id)) && sgp32_eim_rest_set(o, "eid", json_string(eid)) &&
          sgp32_eim_rest_set(o, "state", json_string(sgp32_eim_op_state_name(state))))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ------------------------------------------------------------------ POST /operations */

typedef struct eid_text {
    char eid[SGP32_EIM_EID_DIGITS + 1];
} eid_text;

typedef struct create_request {
    eid_text *eids;
    size_t count;
    bool bulk; /* "eids" (errors name eids[i]) rather than "eid" */
    sgp32_eim_operation_spec spec;
    int64_t expires_in;
    char key_prefix[STORED_KEY_PREFIX_MAX + 1]; /* "" without Idempotency-Key */
    int64_t *ids;                               /* per EID, once created or found */
    sgp32_eim_op_state *states;
} create_request;

static int compare_eid_ptr(const void *a, const void *b)
{
    const eid_text *x = *(const eid_text *const *)a, *y = *(const eid_text *const *)b;
    int d = memcmp(x->eid, y->eid, SGP32_EIM_EID_DIGITS);
    return d ? d : (x > y) - (x < y);
}

static bool eids_unique(eim_rest_ctx *c, const create_request *r, const char *field)
{
    const eid_text **order = sgp32_alloc(r->count * sizeof(*order));
    if (!order)
        return sgp32_eim_rest_internal(c, SGP32_ERR_NO_MEMORY, "checking for duplicates");
    for (size_t i = 0; i < r->count; i++)
        order[i] = &r->eids[i];
    qsort(order, r->count, sizeof(*order), compare_eid_ptr);
    bool ok = true;
    for (size_t k = 1; k < r->count && ok; k++)
        if (memcmp(order[k]->eid, order[k - 1]->eid, SGP32_EIM_EID_DIGITS) == 0)
            ok = sgp32_eim_rest_fail(
                c, 400, "invalid_field", "%s[%zu]: %s is also %s[%zu]; name each EID once", field,
                (size_t)(order[k] - r->eids), order[k]->eid, field, (size_t)(order[k - 1] - r->eids));
    sgp32_free((void *)order, r->count * sizeof(*order));
    return ok;
}

/* The Idempotency-Key header into r->key_prefix: 1..SGP32_EIM_KEY_MAX visible ASCII characters. */
static bool idempotency_key(eim_rest_ctx *c, create_request *r)
{
    const char *key = c->req->idempotency_key;
    r->key_prefix[0] = 0;
    if (!key)
        return true;
    size_t n = strlen(key);
    bool ok = n >= 1 && n <= SGP32_EIM_KEY_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = key[i] > 0x20 && key[i] < 0x7F;
    if (!ok)
        return sgp32_eim_rest_fail(c, 400, "invalid_header",
                                   "Idempotency-Key: must be 1 to %d visible ASCII characters (a UUID does)",
                                   (int)SGP32_EIM_KEY_MAX);
    if (n <= STORED_KEY_PREFIX_MAX && key[0] != '~') {
        memcpy(r->key_prefix, key, n + 1);
        return true;
    }
    uint8_t digest[SGP32_SHA256_LEN];
    int rc = sgp32_sha256((const uint8_t *)key, n, digest);
    if (rc)
        return sgp32_eim_rest_internal(c, rc, "hashing the Idempotency-Key");
    static const char hex[] = "0123456789abcdef";
    r->key_prefix[0] = '~';
    for (size_t i = 0; i < SGP32_SHA256_LEN; i++) {
        r->key_prefix[1 + 2 * i] = hex[digest[i] >> 4];
        r->key_prefix[2 + 2 * i] = hex[digest[i] & 15];
    }
    r->key_prefix[1 + 2 * SGP32_SHA256_LEN] = 0;
    return true;
}

static void stored_key(const create_request *r, size_t i, char out[SGP32_EIM_KEY_MAX + 1])
{
    snprintf(out, SGP32_EIM_KEY_MAX + 1, "%s:%s", r->key_prefix, r->eids[i].eid);
}

/* The parser's "psmo[1].enable.iccid: message" (or "operation: message") under the body's "operation". */
static bool operation_error(eim_rest_ctx *c, const char *error)
{
    size_t n = strlen(error);
    const char *code = "invalid_field";
    if (n > 13 && strcmp(error + n - 13, ": unknown key") == 0)
        code = "unknown_field";
    else if (n > 10 && strcmp(error + n - 10, ": required") == 0)
        code = "missing_field";
    if (!n)
        return sgp32_eim_rest_fail(c, 400, code, "operation: not a valid operation (see docs/eim-api.yaml)");
    bool rooted =
        strncmp(error, "operation", 9) == 0 && (error[9] == ':' || error[9] == '.' || error[9] == '[');
    return sgp32_eim_rest_fail(c, 400, code, "%s%s%s", rooted ? "" : "operation",
                               rooted || error[0] == '[' ? "" : ".", error);
}

/* The body into r: false after the error answer. */
static bool create_parse(eim_rest_ctx *c, json_t *root, create_request *r)
{
    static const char *const fields[] = {"eid", "eids", "operation", "expiresIn", NULL};
    if (!sgp32_eim_rest_known_fields(c, root, "", fields))
        return false;
    json_t *one = json_object_get(root, "eid"), *many = json_object_get(root, "eids");
    size_t max = c->config->max_bulk ? c->config->max_bulk : EIM_REST_MAX_BULK_DEFAULT;
    if (one && many)
        return sgp32_eim_rest_fail(c, 400, "invalid_field", "eid, eids: give one of them, not both");
    if (!one && !many)
        return sgp32_eim_rest_fail(c, 400, "missing_field", "eid: required field missing (or eids, a list)");
    if (many && (!json_is_array(many) || json_array_size(many) == 0 || json_array_size(many) > max))
        return sgp32_eim_rest_fail(c, 400, "invalid_field", "eids: must be an array of 1 to %zu EIDs", max);
    r->count = one ? 1 : json_array_size(many);
    r->bulk = many != NULL;
    r->eids = sgp32_alloc(r->count * sizeof(*r->eids));
    r->ids = sgp32_alloc(r->count * sizeof(*r->ids));
    r->states = sgp32_alloc(r->count * sizeof(*r->states));
    if (!r->eids || !r->ids || !r->states)
        return sgp32_eim_rest_internal(c, SGP32_ERR_NO_MEMORY, "reading the EIDs");
    if (one && !sgp32_eim_rest_eid_value(c, one, "eid", r->eids[0].eid))
        return false;
    for (size_t i = 0; many && i < r->count; i++) {
        char field[32];
        snprintf(field, sizeof(field), "eids[%zu]", i);
        if (!sgp32_eim_rest_eid_value(c, json_array_get(many, i), field, r->eids[i].eid))
            return false;
    }
    if (r->count > 1 && !eids_unique(c, r, "eids"))
        return false;
    int64_t ttl = c->srv->config.operation_ttl > 0 ? c->srv->config.operation_ttl : 30 * 24 * 3600;
    bool has_expiry = false;
    if (!sgp32_eim_rest_integer(c, root, "", "expiresIn", false, 1, EIM_REST_EXPIRES_MAX, &r->expires_in,
                                &has_expiry))
        return false;
    if (!has_expiry)
        r->expires_in = ttl;
    json_t *operation = json_object_get(root, "operation");
    if (!operation)
        return sgp32_eim_rest_fail(c, 400, "missing_field", "operation: required field missing");
    char error[ERROR_TEXT_MAX] = "";
    int rc = sgp32_eim_operation_parse_json(operation, &r->spec, error, sizeof(error));
    if (rc == SGP32_ERR_BAD_TEXT || rc == SGP32_ERR_INVALID_ARGUMENT)
        return operation_error(c, error);
    if (rc)
        return sgp32_eim_rest_internal(c, rc, "checking the operation");
    return idempotency_key(c, r);
}

typedef enum replay_outcome { REPLAY_NONE, REPLAY_ALL, REPLAY_REUSED, REPLAY_FAILED } replay_outcome;

/* Look for the operations of an earlier request with this key (REPLAY_FAILED: answer already set). */
static replay_outcome replay_find(eim_rest_ctx *c, create_request *r)
{
    if (!r->key_prefix[0])
        return REPLAY_NONE;
    size_t found = 0;
    bool same = true;
    for (size_t i = 0; i < r->count; i++) {
        char key[SGP32_EIM_KEY_MAX + 1];
        sgp32_eim_operation op;
        sgp32_eim_operation_init(&op);
        stored_key(r, i, key);
        int rc = c->store->op_find_idempotent(c->store->ctx, c->caller.name, key, &op);
        if (rc == SGP32_OK) {
            found++;
            same = same && op.kind == r->spec.kind && strcmp(op.eid, r->eids[i].eid) == 0 &&
                   op.request.len == r->spec.canonical.len &&
                   memcmp(op.request.data, r->spec.canonical.data, op.request.len) == 0;
            r->ids[i] = op.id;
            r->states[i] = op.state;
        }
        sgp32_eim_operation_free(&op);
        if (rc != SGP32_OK && rc != SGP32_ERR_NOT_FOUND) {
            sgp32_eim_rest_internal(c, rc, "looking up the Idempotency-Key");
            return REPLAY_FAILED;
        }
        if (found != i + 1 && found > 0)
            break; /* some found, this one not: reused */
        if (!same)
            break;
    }
    if (found == 0)
        return REPLAY_NONE;
    return found == r->count && same ? REPLAY_ALL : REPLAY_REUSED;
}

/* Every EID registered and still associated with this eIM (before the transaction: devices are never
 * removed, so the answer holds). */
static bool eids_registered(eim_rest_ctx *c, const create_request *r)
{
    for (size_t i = 0; i < r->count; i++) {
        sgp32_eim_euicc e;
        sgp32_eim_euicc_init(&e);
        int rc = c->store->euicc_get(c->store->ctx, r->eids[i].eid, &e);
        bool associated = e.associated;
        sgp32_eim_euicc_free(&e);
        char field[32];
        if (r->bulk)
            snprintf(field, sizeof(field), "eids[%zu]", i);
        else
            snprintf(field, sizeof(field), "eid");
        if (rc == SGP32_ERR_NOT_FOUND)
            return sgp32_eim_rest_fail(
                c, 404, "device_not_found",
                "%s: %s is not registered; register it (POST /api/v1/devices) first; nothing "
                "was created",
                field, r->eids[i].eid);
        if (rc)
            return sgp32_eim_rest_internal(c, rc, "reading a device");
        if (!associated)
            return sgp32_eim_rest_fail(
                c, 409, "device_disassociated",
                "%s: %s no longer has this eIM (deleteEim succeeded); nothing was created", field,
                r->eids[i].eid);
    }
    return true;
}

static void create_answer(eim_rest_ctx *c, const create_request *r, int status, bool replayed)
{
    json_t *items = json_array(), *root = json_object();
    bool ok = items && root;
    for (size_t i = 0; ok && i < r->count; i++) {
        json_t *item = operation_brief(r->ids[i], r->eids[i].eid, r->states[i]);
        ok = item && json_array_append_new(items, item) == 0;
    }
    ok = ok && sgp32_eim_rest_set(root, "operations", json_incref(items));
    if (ok && replayed)
        ok = sgp32_eim_rest_set(root, "replayed", json_true());
    json_decref(items);
    if (!ok) {
        json_decref(root);
        root = NULL;
    }
    sgp32_eim_rest_reply(c, status, root);
}

/* All operations and their audit events in one transaction. SGP32_ERR_STATE: an idempotency key
 * collided (a racing twin); otherwise the answer is set (201 once committed). */
static int create_store(eim_rest_ctx *c, create_request *r)
{
    sgp32_eim_operation op;
    sgp32_eim_operation_init(&op);
    int64_t now = sgp32_eim_now(c->srv);
    char detail[128];
    snprintf(detail, sizeof(detail), "{\"kind\":\"%s\",\"batch\":%zu}", sgp32_eim_op_kind_name(r->spec.kind),
             r->count);
    op.kind = r->spec.kind;
    op.state = SGP32_EIM_OP_QUEUED;
    op.created = now;
    op.expires = now + r->expires_in;
    snprintf(op.created_by, sizeof(op.created_by), "%s", c->caller.name);
    int rc = sgp32_buf_append(&op.request, r->spec.canonical.data, r->spec.canonical.len);
    if (rc) {
        sgp32_eim_rest_internal(c, rc, "preparing the operation");
        goto out;
    }
    rc = sgp32_eim_rest_tx_begin(c);
    if (rc) {
        sgp32_eim_rest_internal(c, rc, "starting a transaction");
        goto out;
    }
    for (size_t i = 0; i < r->count && !rc; i++) {
        memcpy(op.eid, r->eids[i].eid, sizeof(op.eid));
        if (r->key_prefix[0])
            stored_key(r, i, op.idempotency_key);
        op.id = 0;
        op.version = 0;
        rc = c->store->op_insert(c->store->ctx, &op);
        if (!rc) {
            r->ids[i] = op.id;
            r->states[i] = op.state;
            sgp32_eim_audit(c->srv, c->caller.name, "operation.create", op.eid, op.id, detail);
        }
    }
    if (rc) {
        (void)sgp32_eim_rest_tx_end(c, false);
        if (rc != SGP32_ERR_STATE || !r->key_prefix[0])
            sgp32_eim_rest_internal(c, rc, "storing the operations");
        goto out;
    }
    create_answer(c, r, 201, false); /* before the commit: no 500 for operations that exist */
    if (!sgp32_eim_rest_commit(c))
        rc = c->rc ? c->rc : SGP32_ERR_STORE;
out:
    sgp32_eim_operation_free(&op);
    return rc;
}

static bool reused(eim_rest_ctx *c)
{
    return sgp32_eim_rest_fail(
        c, 422, "idempotency_key_reused",
        "Idempotency-Key %.64s%s was used by token \"%s\" for a different request (another "
        "operation or other EIDs); send a new key for a new request",
        c->req->idempotency_key, strlen(c->req->idempotency_key) > 64 ? "..." : "", c->caller.name);
}

void sgp32_eim_rest_operations_create(eim_rest_ctx *c)
{
    create_request r;
    memset(&r, 0, sizeof(r));
    sgp32_eim_operation_spec_init(&r.spec);
    json_t *root = sgp32_eim_rest_body(c);
    if (!root || !create_parse(c, root, &r))
        goto out;
    json_decref(root); /* the canonical operation is all that is kept */
    root = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        switch (replay_find(c, &r)) {
        case REPLAY_FAILED: goto out;
        case REPLAY_REUSED: reused(c); goto out;
        case REPLAY_ALL: create_answer(c, &r, 200, true); goto out;
        case REPLAY_NONE: break;
        }
        if (attempt == 0 && !eids_registered(c, &r))
            goto out;
        int rc = create_store(c, &r);
        if (rc == SGP32_OK)
            goto out; /* answered */
        if (rc != SGP32_ERR_STATE || !r.key_prefix[0])
            goto out; /* answered */
        /* A twin with the same key committed first: answer as its replay. */
    }
    sgp32_eim_rest_fail(c, 409, "conflict", "a request with this Idempotency-Key is being created; retry it");
out:
    json_decref(root);
    sgp32_eim_operation_spec_free(&r.spec);
    if (r.eids)
        sgp32_free(r.eids, r.count * sizeof(*r.eids));
    if (r.ids)
        sgp32_free(r.ids, r.count * sizeof(*r.ids));
    if (r.states)
        sgp32_free(r.states, r.count * sizeof(*r.states));
}

/* ------------------------------------------------------------------ GET /operations */

typedef struct op_page {
    json_t *items;
    size_t limit, count, bytes;
    bool more, failed;
    int64_t last;
} op_page;

static int op_page_add(void *arg, const sgp32_eim_operation *op)
{
    op_page *page = arg;
    if (page->count == page->limit || (page->count && page->bytes > LIST_BUDGET)) {
        page->more = true;
        return 1;
    }
    json_t *item = sgp32_eim_rest_operation_json(op, false);
    if (!item || json_array_append_new(page->items, item)) {
        page->failed = true;
        return 1;
    }
    page->bytes += op->request.len + op->result_json.len + 512;
    page->last = op->id;
    page->count++;
    return 0;
}

void sgp32_eim_rest_operations_list(eim_rest_ctx *c)
{
    eim_rest_query q = {.known = (const char *const[]){"eid", "state", "after", "limit", NULL}};
    char eid[SGP32_EIM_EID_DIGITS + 1] = "";
    sgp32_eim_op_filter filter = {NULL, -1, 0, 0};
    op_page page = {0};
    if (!sgp32_eim_rest_query_parse(c, &q) ||
        !sgp32_eim_rest_query_limit(c, sgp32_eim_rest_query_get(&q, 3), &page.limit) ||
        !sgp32_eim_rest_query_id(c, "after", sgp32_eim_rest_query_get(&q, 2), &filter.after_id))
        return;
    if (sgp32_eim_rest_query_get(&q, 0)) {
        if (!sgp32_eim_rest_param_eid(c, "eid", sgp32_eim_rest_query_get(&q, 0), eid))
            return;
        filter.eid = eid;
    }
    if (sgp32_eim_rest_query_get(&q, 1)) {
        filter.state = sgp32_eim_op_state_from_name(sgp32_eim_rest_query_get(&q, 1));
        if (filter.state < 0) {
            sgp32_eim_rest_fail(c, 400, "invalid_parameter",
                                "state: must be queued, delivered, done, failed, expired or cancelled");
            return;
        }
    }
    filter.limit = page.limit + 1;
    page.items = json_array();
    if (!page.items) {
        sgp32_eim_rest_reply(c, 200, NULL);
        return;
    }
    int rc = c->store->op_list(c->store->ctx, &filter, op_page_add, &page);
    if (rc || page.failed) {
        json_decref(page.items);
        if (rc)
            sgp32_eim_rest_internal(c, rc, "listing operations");
        else
            sgp32_eim_rest_reply(c, 200, NULL);
        return;
    }
    json_t *root = json_object();
    bool ok = sgp32_eim_rest_set(root, "operations", page.items) &&
              sgp32_eim_rest_set(root, "next", page.more ? json_integer(page.last) : json_null());
    if (!ok) {
        json_decref(root);
        root = NULL;
    }
    sgp32_eim_rest_reply(c, 200, root);
}

/* ------------------------------------------------------------------ GET / DELETE /operations/{id} */

static bool operation_load(eim_rest_ctx *c, sgp32_eim_operation *op)
{
    int64_t id = 0;
    if (!sgp32_eim_rest_query_id(c, "id", c->param, &id))
        return false;
    int rc = id > 0 ? c->store->op_get(c->store->ctx, id, op) : SGP32_ERR_NOT_FOUND;
    if (rc == SGP32_ERR_NOT_FOUND)
        return sgp32_eim_rest_fail(c, 404, "operation_not_found", "no operation %s", c->param);
    if (rc)
        return sgp32_eim_rest_internal(c, rc, "reading the operation");
    return true;
}

void sgp32_eim_rest_operation_get(eim_rest_ctx *c)
{
    sgp32_eim_operation op;
    sgp32_eim_operation_init(&op);
    eim_rest_query q = {.known = (const char *const[]){NULL}};
    if (sgp32_eim_rest_query_parse(c, &q) && operation_load(c, &op))
        sgp32_eim_rest_reply(c, 200, sgp32_eim_rest_operation_json(&op, true));
    sgp32_eim_operation_free(&op);
}

void sgp32_eim_rest_operation_cancel(eim_rest_ctx *c)
{
    sgp32_eim_operation op;
    eim_rest_query q = {.known = (const char *const[]){NULL}};
    if (!sgp32_eim_rest_query_parse(c, &q))
        return;
    /* Compare and swap on the version: the ESipa side may deliver or complete it meanwhile. */
    for (int attempt = 0; attempt < OP_CANCEL_TRIES; attempt++) {
        sgp32_eim_operation_init(&op);
        if (!operation_load(c, &op))
            goto out;
        sgp32_eim_op_state was = op.state;
        if (was != SGP32_EIM_OP_QUEUED && was != SGP32_EIM_OP_DELIVERED) {
            sgp32_eim_rest_fail(
                c, 409, "operation_final",
                "operation %lld is already %s; only queued or delivered operations can be cancelled",
                (long long)op.id, sgp32_eim_op_state_name(was));
            goto out;
        }
        op.state = SGP32_EIM_OP_CANCELLED;
        op.completed = sgp32_eim_now(c->srv);
        int rc = sgp32_eim_rest_tx_begin(c);
        if (rc) {
            sgp32_eim_rest_internal(c, rc, "starting a transaction");
            goto out;
        }
        rc = c->store->op_update(c->store->ctx, &op);
        if (!rc) {
            char detail[64];
            snprintf(detail, sizeof(detail), "{\"from\":\"%s\"}", sgp32_eim_op_state_name(was));
            sgp32_eim_audit(c->srv, c->caller.name, "operation.cancel", op.eid, op.id, detail);
        }
        if (rc == SGP32_OK) {
            sgp32_eim_rest_reply(c, 200, sgp32_eim_rest_operation_json(&op, true));
            (void)sgp32_eim_rest_commit(c);
            goto out;
        }
        (void)sgp32_eim_rest_tx_end(c, false);
        if (rc != SGP32_ERR_STATE) {
            sgp32_eim_rest_internal(c, rc, "cancelling the operation");
            goto out;
        }
        sgp32_eim_operation_free(&op); /* changed meanwhile: read it again */
    }
    sgp32_eim_rest_fail(c, 409, "conflict",
                        "the operation keeps changing (being delivered); retry the cancel");
    return;
out:
    sgp32_eim_operation_free(&op);
}

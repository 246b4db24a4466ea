/*
 * REST API v1, tokens (admin only; docs/eim-api.yaml): list (names, roles, creation times, where each
 * comes from; never a secret), create (a fresh secret of 32 random bytes, shown once in the answer:
 * only its SHA-256 is stored), delete. Tokens of the config file are listed but belong to the file:
 * they cannot be created or deleted here.
 */
#include <stdio.h>
#include <string.h>

#include "eim_rest_internal.h"
#include "sgp32/crypto.h"

enum { SECRET_BYTES = 32 };

static json_t *token_json(const sgp32_eim_token *t, const char *source)
{
    json_t *o = json_object();
    json_t *name = json_string(t->name);
    bool ok = sgp32_eim_rest_set(o, "name", name ? json_incref(name) : json_string("(not UTF-8)")) &&
              sgp32_eim_rest_set(o, "role", json_string(sgp32_eim_role_name(t->role))) &&
              sgp32_eim_rest_set(o, "created", sgp32_eim_rest_time(t->created)) &&
              sgp32_eim_rest_set(o, "source", json_string(source));
    json_decref(name);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static const sgp32_eim_token *config_token(const eim_rest_ctx *c, const char *name)
{
    for (size_t i = 0; c->config->tokens && i < c->config->token_count; i++)
        if (strncmp(c->config->tokens[i].name, name, sizeof(c->config->tokens[i].name)) == 0)
            return &c->config->tokens[i];
    return NULL;
}

typedef struct token_page {
    json_t *items;
    bool failed;
} token_page;

static int token_add(void *arg, const sgp32_eim_token *t)
{
    token_page *page = arg;
    json_t *item = token_json(t, "api");
    if (!item || json_array_append_new(page->items, item)) {
        page->failed = true;
        return 1;
    }
    return 0;
}

void sgp32_eim_rest_tokens_list(eim_rest_ctx *c)
{
    eim_rest_query q = {.known = (const char *const[]){NULL}};
    if (!sgp32_eim_rest_query_parse(c, &q))
        return;
    token_page page = {json_array(), false};
    for (size_t i = 0; page.items && !page.failed && c->config->tokens && i < c->config->token_count; i++) {
        json_t *item = token_json(&c->config->tokens[i], "config");
        page.failed = !item || json_array_append_new(page.items, item) != 0;
    }
    if (!page.items || page.failed) {
        json_decref(page.items);
        sgp32_eim_rest_reply(c, 200, NULL);
        return;
    }
    int rc = c->store->token_list(c->store->ctx, token_add, &page);
    if (rc || page.failed) {
        json_decref(page.items);
        if (rc)
            sgp32_eim_rest_internal(c, rc, "listing tokens");
        else
            sgp32_eim_rest_reply(c, 200, NULL);
        return;
    }
    json_t *root = json_object();
    if (!sgp32_eim_rest_set(root, "tokens", page.items)) {
        json_decref(root);
        root = NULL;
    }
    sgp32_eim_rest_reply(c, 200, root);
}

static bool name_ok(const char *name)
{
    size_t n = strlen(name);
    return n > 0 && strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

void sgp32_eim_rest_tokens_create(eim_rest_ctx *c)
{
    static const char *const fields[] = {"name", "role", NULL};
    sgp32_eim_token t;
    uint8_t secret[SECRET_BYTES];
    char text[2 * SECRET_BYTES + 1];
    char role[16];
    bool in_tx = false;
    memset(&t, 0, sizeof(t));
    memset(text, 0, sizeof(text));
    json_t *root = sgp32_eim_rest_body(c);
    if (!root || !sgp32_eim_rest_known_fields(c, root, "", fields) ||
        !sgp32_eim_rest_string(c, root, "", "name", true, 1, SGP32_EIM_NAME_MAX, t.name, NULL) ||
        !sgp32_eim_rest_string(c, root, "", "role", true, 1, sizeof(role) - 1, role, NULL))
        goto out;
    if (!name_ok(t.name)) {
        sgp32_eim_rest_fail(c, 400, "invalid_field", "name: only letters, digits, '.', '_' and '-'");
        goto out;
    }
    if (strcmp(t.name, "esipa") == 0 || strcmp(t.name, "eimd") == 0) {
        sgp32_eim_rest_fail(c, 400, "invalid_field",
                            "name: \"%s\" is reserved for the audit log; pick another", t.name);
        goto out;
    }
    int r = sgp32_eim_role_from_name(role);
    if (r < 0) {
        sgp32_eim_rest_fail(c, 400, "invalid_field", "role: must be read_only, operator or admin");
        goto out;
    }
    t.role = (sgp32_eim_role)r;
    if (config_token(c, t.name)) {
        sgp32_eim_rest_fail(c, 409, "token_exists", "a token named \"%s\" exists (in the config file)",
                            t.name);
        goto out;
    }
    int rc = sgp32_random_bytes(secret, sizeof(secret));
    if (rc) {
        sgp32_eim_rest_internal(c, rc, "drawing a secret");
        goto out;
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < SECRET_BYTES; i++) {
        text[2 * i] = hex[secret[i] >> 4];
        text[2 * i + 1] = hex[secret[i] & 15];
    }
    rc = sgp32_sha256((const uint8_t *)text, 2 * SECRET_BYTES, t.secret_sha256);
    if (rc) {
        sgp32_eim_rest_internal(c, rc, "hashing the secret");
        goto out;
    }
    t.created = sgp32_eim_now(c->srv);
    rc = sgp32_eim_rest_tx_begin(c);
    if (rc) {
        sgp32_eim_rest_internal(c, rc, "starting a transaction");
        goto out;
    }
    in_tx = true;
    rc = c->store->token_insert(c->store->ctx, &t);
    if (rc == SGP32_ERR_STATE) {
        sgp32_eim_rest_fail(c, 409, "token_exists",
                            "a token named \"%s\" exists; delete it first or pick another name", t.name);
        goto out;
    }
    if (rc) {
        sgp32_eim_rest_internal(c, rc, "storing the token");
        goto out;
    }
    char detail[128];
    snprintf(detail, sizeof(detail), "{\"name\":\"%s\",\"role\":\"%s\"}", t.name,
             sgp32_eim_role_name(t.role));
    sgp32_eim_audit(c->srv, c->caller.name, "token.create", "", 0, detail);
    json_t *answer = token_json(&t, "api");
    if (!sgp32_eim_rest_set(answer, "token", json_string(text))) {
        json_decref(answer);
        answer = NULL;
    }
    sgp32_eim_rest_reply(c, 201, answer);
    in_tx = false;
    (void)sgp32_eim_rest_commit(c);
out:
    if (in_tx)
        (void)sgp32_eim_rest_tx_end(c, false);
    sgp32_secure_zero(secret, sizeof(secret));
    sgp32_secure_zero(text, sizeof(text));
    json_decref(root);
}

void sgp32_eim_rest_tokens_delete(eim_rest_ctx *c)
{
    eim_rest_query q = {.known = (const char *const[]){NULL}};
    if (!sgp32_eim_rest_query_parse(c, &q))
        return;
    if (strlen(c->param) > SGP32_EIM_NAME_MAX || !name_ok(c->param)) {
        sgp32_eim_rest_fail(c, 404, "token_not_found", "no token with that name");
        return;
    }
    if (config_token(c, c->param)) {
        sgp32_eim_rest_fail(c, 409, "token_in_config",
                            "token \"%s\" is defined in the config file; remove it there", c->param);
        return;
    }
    int rc = sgp32_eim_rest_tx_begin(c);
    if (rc) {
        sgp32_eim_rest_internal(c, rc, "starting a transaction");
        return;
    }
    rc = c->store->token_delete(c->store->ctx, c->param);
    if (!rc) {
        char detail[EIM_REST_PARAM_MAX + 16];
        snprintf(detail, sizeof(detail), "{\"name\":\"%s\"}", c->param);
        sgp32_eim_audit(c->srv, c->caller.name, "token.delete", "", 0, detail);
    }
    if (rc) {
        (void)sgp32_eim_rest_tx_end(c, false);
        if (rc == SGP32_ERR_NOT_FOUND)
            sgp32_eim_rest_fail(c, 404, "token_not_found", "no token \"%s\"", c->param);
        else
            sgp32_eim_rest_internal(c, rc, "deleting the token");
        return;
    }
    json_t *root = json_object();
    if (!(sgp32_eim_rest_set(root, "name", json_string(c->param)) &&
          sgp32_eim_rest_set(root, "deleted", json_true()))) {
        json_decref(root);
        root = NULL;
    }
    sgp32_eim_rest_reply(c, 200, root);
    (void)sgp32_eim_rest_commit(c);
}

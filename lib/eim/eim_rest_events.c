/*
 * REST API v1, events (docs/eim-api.yaml): the audit log, oldest first, keyset on the id, optionally
 * for one EID. Every mutation of the API, every registration and every ESipa outcome the core records
 * shows up here with its actor (token name, "esipa", "eimd").
 */
#include <string.h>

#include "eim_rest_internal.h"

typedef struct event_page {
    json_t *items;
    size_t limit, count;
    bool more, failed;
    int64_t last;
} event_page;

/* detail is short JSON or text: JSON stays JSON. */
static json_t *detail_value(const char *detail)
{
    if (!*detail)
        return json_null();
    json_t *v = json_loads(detail, JSON_DECODE_ANY, NULL);
    if (!v)
        v = json_string(detail);
    return v ? v : json_string("(not UTF-8)");
}

static int event_add(void *arg, const sgp32_eim_event *ev)
{
    event_page *page = arg;
    if (page->count == page->limit) {
        page->more = true;
        return 1;
    }
    json_t *o = json_object();
    json_t *actor = json_string(ev->actor), *action = json_string(ev->action);
    bool ok = sgp32_eim_rest_set(o, "id", json_integer(ev->id)) &&
              sgp32_eim_rest_set(o, "time", json_integer(ev->time)) &&
              sgp32_eim_rest_set(o, "actor", actor ? json_incref(actor) : json_string("")) &&
              sgp32_eim_rest_set(o, "action", action ? json_incref(action) : json_string("")) &&
              sgp32_eim_rest_set(o, "eid", ev->eid[0] ? json_string(ev->eid) : json_null()) &&
              sgp32_eim_rest_set(o, "operationId",
                                 ev->operation_id ? json_integer(ev->operation_id) : json_null()) &&
              sgp32_eim_rest_set(o, "detail", detail_value(ev->detail));
    json_decref(actor);
    json_decref(action);
    if (!ok) {
        json_decref(o);
        page->failed = true;
        return 1;
    }
    if (json_array_append_new(page->items, o)) {
        page->failed = true;
        return 1;
    }
    page->last = ev->id;
    page->count++;
    return 0;
}

void sgp32_eim_rest_events_list(eim_rest_ctx *c)
{
    eim_rest_query q = {.known = (const char *const[]){"eid", "after", "limit", NULL}};
    char eid[SGP32_EIM_EID_DIGITS + 1] = "";
    int64_t after = 0;
    event_page page = {0};
    if (!sgp32_eim_rest_query_parse(c, &q) ||
        !sgp32_eim_rest_query_limit(c, sgp32_eim_rest_query_get(&q, 2), &page.limit) ||
        !sgp32_eim_rest_query_id(c, "after", sgp32_eim_rest_query_get(&q, 1), &after))
        return;
    if (sgp32_eim_rest_query_get(&q, 0) &&
        !sgp32_eim_rest_param_eid(c, "eid", sgp32_eim_rest_query_get(&q, 0), eid))
        return;
    page.items = json_array();
    if (!page.items) {
        sgp32_eim_rest_reply(c, 200, NULL);
        return;
    }
    int rc = c->store->event_list(c->store->ctx, *eid ? eid : NULL, after, page.limit + 1, event_add, &page);
    if (rc || page.failed) {
        json_decref(page.items);
        if (rc)
            sgp32_eim_rest_internal(c, rc, "listing events");
        else
            sgp32_eim_rest_reply(c, 200, NULL);
        return;
    }
    json_t *root = json_object();
    bool ok = sgp32_eim_rest_set(root, "events", page.items) &&
              sgp32_eim_rest_set(root, "next", page.more ? json_integer(page.last) : json_null());
    if (!ok) {
        json_decref(root);
        root = NULL;
    }
    sgp32_eim_rest_reply(c, 200, root);
}

/*
 * REST API v1, devices (docs/eim-api.yaml): list (keyset on the EID), register one (certificates
 * verified by sgp32_eim_register), import many in one store transaction (all or nothing), read one,
 * its profiles as the eIM believes them, the association blobs a factory writes into it
 * (EimConfigurationData, AddInitialEim), and where the eIM pushes packages to it (pushAddress:
 * the IPA's HTTPS listener for TransferEimPackage, "" when it only polls).
 *
 * The import verifies every certificate chain before the transaction starts (the store forbids
 * crypto inside one: it would hold the database for the whole batch), then inserts and audits each
 * device inside it, as sgp32_eim_register does for one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eim_rest_internal.h"
#include "sgp32/eid.h"

enum { CONFIG_DER_MAX = 8192 };

static const char *device_state(const sgp32_eim_euicc *e)
{
    return !e->associated ? "disassociated" : e->last_seen ? "active" : "registered";
}

static json_t *device_json(const sgp32_eim_euicc *e)
{
    json_t *o = json_object();
    json_t *label = json_string(e->label);
    bool ok =
        sgp32_eim_rest_set(o, "eid", json_string(e->eid)) &&
        sgp32_eim_rest_set(o, "label", label ? label : json_string("")) &&
        sgp32_eim_rest_set(o, "state", json_string(device_state(e))) &&
        sgp32_eim_rest_set(o, "counterValue", json_integer(e->counter)) &&
        sgp32_eim_rest_set(o, "associated", json_boolean(e->associated)) &&
        sgp32_eim_rest_set(o, "associationToken", e->has_token ? json_integer(e->token) : json_null()) &&
        sgp32_eim_rest_set(o, "registered", sgp32_eim_rest_time(e->registered)) &&
        sgp32_eim_rest_set(o, "lastSeen", sgp32_eim_rest_time(e->last_seen)) &&
        sgp32_eim_rest_set(
            o, "rplmn", e->has_rplmn ? sgp32_eim_rest_hex_value(e->rplmn, sizeof(e->rplmn)) : json_null()) &&
        sgp32_eim_rest_set(o, "stateChangeCause",
                           e->state_change_cause >= 0 ? json_integer(e->state_change_cause) : json_null()) &&
        sgp32_eim_rest_set(o, "hasCertificate", json_boolean(e->euicc_certificate.len > 0)) &&
        sgp32_eim_rest_set(o, "pushAddress", e->push_address[0] ? json_string(e->push_address) : json_null());
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The record of the {eid} path parameter: false after 400 / 404 / 500. */
static bool device_load(eim_rest_ctx *c, sgp32_eim_euicc *e)
{
    char eid[SGP32_EIM_EID_DIGITS + 1];
    if (!sgp32_eim_rest_param_eid(c, "eid", c->param, eid))
        return false;
    int rc = c->store->euicc_get(c->store->ctx, eid, e);
    if (rc == SGP32_ERR_NOT_FOUND)
        return sgp32_eim_rest_fail(c, 404, "device_not_found",
                                   "no device %s; register it with POST /api/v1/devices", eid);
    if (rc)
        return sgp32_eim_rest_internal(c, rc, "reading the device");
    return true;
}

/* ------------------------------------------------------------------ GET /devices */

typedef struct device_page {
    json_t *items;
    size_t limit, count;
    bool more, failed;
    char last[SGP32_EIM_EID_DIGITS + 1];
} device_page;

static int device_page_add(void *arg, const sgp32_eim_euicc *e)
{
    device_page *page = arg;
    if (page->count == page->limit) {
        page->more = true;
        return 1;
    }
    json_t *item = device_json(e);
    if (!item || json_array_append_new(page->items, item)) {
        page->failed = true;
        return 1;
    }
    memcpy(page->last, e->eid, sizeof(page->last));
    page->count++;
    return 0;
}

void sgp32_eim_rest_devices_list(eim_rest_ctx *c)
{
    eim_rest_query q = {.known = (const char *const[]){"after", "limit", NULL}};
    char after[SGP32_EIM_EID_DIGITS + 1] = "";
    device_page page = {0};
    if (!sgp32_eim_rest_query_parse(c, &q) ||
        !sgp32_eim_rest_query_limit(c, sgp32_eim_rest_query_get(&q, 1), &page.limit))
        return;
    if (sgp32_eim_rest_query_get(&q, 0) &&
        !sgp32_eim_rest_param_eid(c, "after", sgp32_eim_rest_query_get(&q, 0), after))
        return;
    page.items = json_array();
    if (!page.items) {
        sgp32_eim_rest_reply(c, 200, NULL);
        return;
    }
    int rc =
        c->store->euicc_list(c->store->ctx, *after ? after : NULL, page.limit + 1, device_page_add, &page);
    if (rc || page.failed) {
        json_decref(page.items);
        if (rc)
            sgp32_eim_rest_internal(c, rc, "listing devices");
        else
            sgp32_eim_rest_reply(c, 200, NULL);
        return;
    }
    json_t *root = json_object();
    bool ok = sgp32_eim_rest_set(root, "devices", page.items) &&
              sgp32_eim_rest_set(root, "next", page.more ? json_string(page.last) : json_null());
    if (!ok) {
        json_decref(root);
        root = NULL;
    }
    sgp32_eim_rest_reply(c, 200, root);
}

/* ------------------------------------------------------------------ POST /devices, /devices/import */

static const char *const device_fields[] = {
    "eid",         "label", "euiccCertificate", "eumCertificate", "associationToken", "counterValue",
    "pushAddress", NULL};

/* host[:port]: a DNS name or IPv4 address, or [IPv6]; no scheme, path or user part. The eIM
 * connects there with TLS and checks the name against the IPA's certificate. */
static bool push_address_ok(const char *a)
{
    const char *host_end;
    if (*a == '[') {
        host_end = strchr(a, ']');
        if (!host_end || host_end == a + 1)
            return false;
        for (const char *p = a + 1; p < host_end; p++)
            if (!strchr("0123456789abcdefABCDEF:.", *p))
                return false;
        host_end++;
    } else {
        host_end = a + strcspn(a, ":");
        if (host_end == a || *a == '-' || *a == '.')
            return false;
        for (const char *p = a; p < host_end; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                  *p == '-' || *p == '.'))
                return false;
    }
    if (!*host_end)
        return true;
    if (*host_end != ':' || !host_end[1] || strlen(host_end + 1) > 5)
        return false;
    long port = 0;
    for (const char *p = host_end + 1; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        port = port * 10 + (*p - '0');
    }
    return port >= 1 && port <= 65535;
}

/* The optional pushAddress member ("" clears it) into out; false after the 400. */
static bool push_address_field(eim_rest_ctx *c, json_t *object, const char *path, bool required,
                               char out[SGP32_EIM_ADDRESS_MAX + 1])
{
    char field[192];
    bool present = false;
    if (!sgp32_eim_rest_string(c, object, path, "pushAddress", required, 0, SGP32_EIM_ADDRESS_MAX, out,
                               &present))
        return false;
    if (present && *out && !push_address_ok(out)) {
        sgp32_eim_rest_field_path(field, sizeof(field), path, "pushAddress");
        return sgp32_eim_rest_fail(c, 400, "invalid_field",
                                   "%s: must be host[:port] (a DNS name, IPv4 or [IPv6] address), or \"\"",
                                   field);
    }
    return true;
}

/* One device object of a request into e (initialised by the caller); path names it in errors. */
static bool device_parse(eim_rest_ctx *c, json_t *object, const char *path, sgp32_eim_euicc *e)
{
    char field[192];
    if (!json_is_object(object))
        return sgp32_eim_rest_fail(c, 400, "invalid_field", "%s: must be an object", *path ? path : "body");
    if (!sgp32_eim_rest_known_fields(c, object, path, device_fields))
        return false;
    json_t *eid = json_object_get(object, "eid");
    sgp32_eim_rest_field_path(field, sizeof(field), path, "eid");
    if (!eid)
        return sgp32_eim_rest_fail(c, 400, "missing_field", "%s: required field missing", field);
    if (!sgp32_eim_rest_eid_value(c, eid, field, e->eid))
        return false;
    bool has_token = false;
    if (!sgp32_eim_rest_string(c, object, path, "label", false, 0, SGP32_EIM_NAME_MAX, e->label, NULL) ||
        !sgp32_eim_rest_integer(c, object, path, "counterValue", false, 0, INT64_MAX - 1, &e->counter,
                                NULL) ||
        !sgp32_eim_rest_integer(c, object, path, "associationToken", false, 0, INT64_MAX, &e->token,
                                &has_token) ||
        !sgp32_eim_rest_base64(c, object, path, "euiccCertificate", &e->euicc_certificate) ||
        !sgp32_eim_rest_base64(c, object, path, "eumCertificate", &e->eum_certificate) ||
        !push_address_field(c, object, path, false, e->push_address))
        return false;
    e->has_token = has_token;
    if ((e->euicc_certificate.len > 0) != (e->eum_certificate.len > 0)) {
        sgp32_eim_rest_field_path(field, sizeof(field), path,
                                  e->euicc_certificate.len ? "eumCertificate" : "euiccCertificate");
        return sgp32_eim_rest_fail(
            c, 400, "missing_field",
            "%s: required with the other certificate (the chain is verified with both)", field);
    }
    return true;
}

static bool certificate_error(int rc)
{
    return rc <= SGP32_ERR_CRYPTO && rc > SGP32_ERR_CRYPTO - 100;
}

void sgp32_eim_rest_devices_create(eim_rest_ctx *c)
{
    sgp32_eim_euicc e, stored;
    sgp32_eim_euicc_init(&e);
    sgp32_eim_euicc_init(&stored);
    json_t *root = sgp32_eim_rest_body(c);
    if (!root || !device_parse(c, root, "", &e))
        goto out;
    int rc = c->store->euicc_get(c->store->ctx, e.eid, &stored);
    if (rc == SGP32_OK) {
        sgp32_eim_rest_fail(c, 409, "device_exists", "device %s is already registered", e.eid);
        goto out;
    }
    if (rc != SGP32_ERR_NOT_FOUND) {
        sgp32_eim_rest_internal(c, rc, "reading the device");
        goto out;
    }
    rc = sgp32_eim_register(c->srv, &e, c->caller.name);
    if (rc == SGP32_ERR_STATE) {
        sgp32_eim_rest_fail(c, 409, "device_exists", "device %s is already registered", e.eid);
    } else if (certificate_error(rc)) {
        sgp32_eim_rest_fail(c, 422, "certificate_invalid",
                            "the certificates do not verify for EID %s against the trusted CIs: %s", e.eid,
                            sgp32_err_str(rc));
    } else if (rc == SGP32_ERR_INVALID_ARGUMENT) {
        sgp32_eim_rest_fail(c, 400, "invalid_body", "the device was refused as malformed");
    } else if (rc) {
        sgp32_eim_rest_internal(c, rc, "registering the device");
    } else if ((rc = c->store->euicc_get(c->store->ctx, e.eid, &stored)) != SGP32_OK) {
        sgp32_eim_rest_internal(c, rc, "reading the registered device");
    } else {
        sgp32_eim_rest_reply(c, 201, device_json(&stored));
    }
out:
    json_decref(root);
    sgp32_eim_euicc_free(&e);
    sgp32_eim_euicc_free(&stored);
}

static int compare_eid(const void *a, const void *b)
{
    const sgp32_eim_euicc *x = *(const sgp32_eim_euicc *const *)a, *y = *(const sgp32_eim_euicc *const *)b;
    int d = memcmp(x->eid, y->eid, SGP32_EIM_EID_DIGITS);
    return d ? d : (x > y) - (x < y);
}

/* Duplicate EIDs in the batch (400 naming both places): sorted pointers, so equal EIDs are neighbours
 * and the earlier place comes first. */
static bool import_unique(eim_rest_ctx *c, const sgp32_eim_euicc *devices, size_t n)
{
    const sgp32_eim_euicc **order = sgp32_alloc(n * sizeof(*order));
    if (!order)
        return sgp32_eim_rest_internal(c, SGP32_ERR_NO_MEMORY, "checking for duplicates");
    for (size_t i = 0; i < n; i++)
        order[i] = &devices[i];
    qsort(order, n, sizeof(*order), compare_eid);
    bool ok = true;
    for (size_t k = 1; k < n && ok; k++)
        if (memcmp(order[k]->eid, order[k - 1]->eid, SGP32_EIM_EID_DIGITS) == 0)
            ok = sgp32_eim_rest_fail(c, 400, "invalid_field", "devices[%zu].eid: %s is also devices[%zu]",
                                     (size_t)(order[k] - devices), order[k]->eid,
                                     (size_t)(order[k - 1] - devices));
    sgp32_free((void *)order, n * sizeof(*order));
    return ok;
}

void sgp32_eim_rest_devices_import(eim_rest_ctx *c)
{
    static const char *const fields[] = {"devices", NULL};
    sgp32_eim_euicc *devices = NULL, probe;
    size_t n = 0, initialised = 0;
    bool in_tx = false;
    sgp32_eim_euicc_init(&probe);
    size_t max = c->config->max_bulk ? c->config->max_bulk : EIM_REST_MAX_BULK_DEFAULT;
    json_t *root = sgp32_eim_rest_body(c);
    if (!root || !sgp32_eim_rest_known_fields(c, root, "", fields))
        goto out;
    json_t *list = json_object_get(root, "devices");
    if (!list) {
        sgp32_eim_rest_fail(c, 400, "missing_field", "devices: required field missing");
        goto out;
    }
    if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > max) {
        sgp32_eim_rest_fail(c, 400, "invalid_field", "devices: must be an array of 1 to %zu device objects",
                            max);
        goto out;
    }
    n = json_array_size(list);
    devices = sgp32_alloc(n * sizeof(*devices));
    if (!devices) {
        sgp32_eim_rest_internal(c, SGP32_ERR_NO_MEMORY, "importing devices");
        goto out;
    }
    for (; initialised < n; initialised++) {
        char path[32];
        sgp32_eim_euicc_init(&devices[initialised]);
        snprintf(path, sizeof(path), "devices[%zu]", initialised);
        if (!device_parse(c, json_array_get(list, initialised), path, &devices[initialised])) {
            initialised++;
            goto out;
        }
    }
    if (!import_unique(c, devices, n))
        goto out;
    int64_t now = sgp32_eim_now(c->srv);
    /* Before the transaction: the devices that exist already, then every chain (crypto). */
    for (size_t i = 0; i < n; i++) {
        int rc = c->store->euicc_get(c->store->ctx, devices[i].eid, &probe);
        if (rc == SGP32_OK) {
            sgp32_eim_rest_fail(c, 409, "device_exists",
                                "devices[%zu].eid: %s is already registered; nothing was imported", i,
                                devices[i].eid);
            goto out;
        }
        if (rc != SGP32_ERR_NOT_FOUND) {
            sgp32_eim_rest_internal(c, rc, "reading a device");
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t eid[SGP32_EID_LEN];
        if (!devices[i].euicc_certificate.len)
            continue;
        int rc = sgp32_eid_from_text(devices[i].eid, eid);
        if (!rc)
            rc = sgp32_cert_verify_euicc_chain(
                c->srv->config.trusted_cis, sgp32_buf_bytes(&devices[i].eum_certificate),
                sgp32_buf_bytes(&devices[i].euicc_certificate), now, eid, NULL);
        if (rc) {
            sgp32_eim_rest_fail(
                c, 422, "certificate_invalid",
                "devices[%zu]: the certificates do not verify for EID %s against the trusted CIs: "
                "%s; nothing was imported",
                i, devices[i].eid, sgp32_err_str(rc));
            goto out;
        }
    }
    int rc = sgp32_eim_rest_tx_begin(c);
    if (rc) {
        sgp32_eim_rest_internal(c, rc, "starting a transaction");
        goto out;
    }
    in_tx = true;
    for (size_t i = 0; i < n; i++) {
        devices[i].registered = now;
        rc = c->store->euicc_insert(c->store->ctx, &devices[i]);
        if (rc == SGP32_ERR_STATE) {
            sgp32_eim_rest_fail(c, 409, "device_exists",
                                "devices[%zu].eid: %s is already registered; nothing was imported", i,
                                devices[i].eid);
            goto out;
        }
        if (rc) {
            sgp32_eim_rest_internal(c, rc, "storing a device");
            goto out;
        }
        sgp32_eim_audit(c->srv, c->caller.name, "device.register", devices[i].eid, 0,
                        devices[i].euicc_certificate.len ? "{\"certificate\":true,\"import\":true}"
                                                         : "{\"certificate\":false,\"import\":true}");
    }
    json_t *answer = json_object();
    if (!sgp32_eim_rest_set(answer, "imported", json_integer((json_int_t)n))) {
        json_decref(answer);
        answer = NULL;
    }
    sgp32_eim_rest_reply(c, 201, answer);
    in_tx = false;
    (void)sgp32_eim_rest_commit(c);
out:
    if (in_tx)
        (void)sgp32_eim_rest_tx_end(c, false);
    for (size_t i = 0; i < initialised; i++)
        sgp32_eim_euicc_free(&devices[i]);
    if (devices)
        sgp32_free(devices, n * sizeof(*devices));
    sgp32_eim_euicc_free(&probe);
    json_decref(root);
}

/* ------------------------------------------------------------------ GET /devices/{eid}[/...] */

void sgp32_eim_rest_device_get(eim_rest_ctx *c)
{
    sgp32_eim_euicc e;
    sgp32_eim_euicc_init(&e);
    eim_rest_query q = {.known = (const char *const[]){NULL}};
    if (sgp32_eim_rest_query_parse(c, &q) && device_load(c, &e))
        sgp32_eim_rest_reply(c, 200, device_json(&e));
    sgp32_eim_euicc_free(&e);
}

/* ------------------------------------------------------------------ POST /devices/{eid}/push-address */

enum { UPDATE_ATTEMPTS = 4 }; /* the record also changes when certificates are learned */

void sgp32_eim_rest_device_push_address(eim_rest_ctx *c)
{
    static const char *const fields[] = {"pushAddress", NULL};
    sgp32_eim_euicc e;
    sgp32_eim_euicc_init(&e);
    char address[SGP32_EIM_ADDRESS_MAX + 1] = "";
    json_t *root = sgp32_eim_rest_body(c);
    if (!root || !sgp32_eim_rest_known_fields(c, root, "", fields) ||
        !push_address_field(c, root, "", true, address))
        goto out;
    int rc = SGP32_ERR_STATE;
    for (int attempt = 0; rc == SGP32_ERR_STATE && attempt < UPDATE_ATTEMPTS; attempt++) {
        if (!device_load(c, &e))
            goto out;
        snprintf(e.push_address, sizeof(e.push_address), "%s", address);
        rc = c->store->euicc_update(c->store->ctx, &e);
    }
    if (rc == SGP32_ERR_NOT_FOUND) {
        sgp32_eim_rest_fail(c, 404, "device_not_found", "no device %s", e.eid);
        goto out;
    }
    if (rc == SGP32_ERR_STATE) {
        sgp32_eim_rest_fail(c, 409, "conflict", "device %s kept changing; try again", e.eid);
        goto out;
    }
    if (rc) {
        sgp32_eim_rest_internal(c, rc, "updating the device");
        goto out;
    }
    json_t *detail = json_pack("{s:s}", "pushAddress", address);
    char *text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    sgp32_eim_audit(c->srv, c->caller.name, "device.push_address", e.eid, 0, text);
    free(text);
    json_decref(detail);
    sgp32_eim_rest_reply(c, 200, device_json(&e));
out:
    json_decref(root);
    sgp32_eim_euicc_free(&e);
}

static const char *profile_class_name(int64_t cls)
{
    switch (cls) {
    case 0: return "test";
    case 1: return "provisioning";
    case 2: return "operational";
    default: return NULL;
    }
}

typedef struct profile_page {
    json_t *items;
    bool failed;
} profile_page;

static int profile_add(void *arg, const sgp32_eim_profile *p)
{
    profile_page *page = arg;
    json_t *o = json_object();
    const char *cls = profile_class_name(p->profile_class);
    json_t *name = json_string(p->name), *sp = json_string(p->service_provider);
    bool ok = sgp32_eim_rest_set(o, "iccid", json_string(p->iccid)) &&
              sgp32_eim_rest_set(
                  o, "state", json_string(p->state == SGP32_EIM_PROFILE_ENABLED ? "enabled" : "disabled")) &&
              sgp32_eim_rest_set(o, "profileClass", cls ? json_string(cls) : json_null()) &&
              sgp32_eim_rest_set(o, "name", name ? json_incref(name) : json_string("")) &&
              sgp32_eim_rest_set(o, "serviceProvider", sp ? json_incref(sp) : json_string("")) &&
              sgp32_eim_rest_set(o, "fallback", json_boolean(p->fallback)) &&
              sgp32_eim_rest_set(o, "updated", sgp32_eim_rest_time(p->updated));
    json_decref(name);
    json_decref(sp);
    if (!ok) {
        json_decref(o);
        page->failed = true;
        return 1;
    }
    if (json_array_append_new(page->items, o)) {
        page->failed = true;
        return 1;
    }
    return 0;
}

void sgp32_eim_rest_device_profiles(eim_rest_ctx *c)
{
    sgp32_eim_euicc e;
    sgp32_eim_euicc_init(&e);
    profile_page page = {NULL, false};
    eim_rest_query q = {.known = (const char *const[]){NULL}};
    if (!sgp32_eim_rest_query_parse(c, &q) || !device_load(c, &e))
        goto out;
    page.items = json_array();
    if (!page.items) {
        sgp32_eim_rest_reply(c, 200, NULL);
        goto out;
    }
    int rc = c->store->profile_list(c->store->ctx, e.eid, profile_add, &page);
    if (rc) {
        sgp32_eim_rest_internal(c, rc, "listing profiles");
        goto out;
    }
    if (page.failed) {
        sgp32_eim_rest_reply(c, 200, NULL);
        goto out;
    }
    json_t *root = json_object();
    bool ok = sgp32_eim_rest_set(root, "eid", json_string(e.eid)) &&
              sgp32_eim_rest_set(root, "profiles", json_incref(page.items));
    if (!ok) {
        json_decref(root);
        root = NULL;
    }
    sgp32_eim_rest_reply(c, 200, root);
out:
    json_decref(page.items);
    sgp32_eim_euicc_free(&e);
}

void sgp32_eim_rest_device_eim_configuration(eim_rest_ctx *c)
{
    sgp32_eim_euicc e;
    sgp32_buf config, add;
    sgp32_eim_euicc_init(&e);
    sgp32_buf_init(&config, CONFIG_DER_MAX);
    sgp32_buf_init(&add, CONFIG_DER_MAX);
    eim_rest_query q = {.known = (const char *const[]){NULL}};
    if (!sgp32_eim_rest_query_parse(c, &q) || !device_load(c, &e))
        goto out;
    int rc = sgp32_eim_configuration_data_encode(c->srv, &e, &config);
    if (!rc)
        rc = sgp32_eim_add_initial_eim_request(c->srv, &e, &add);
    if (rc) {
        sgp32_eim_rest_internal(c, rc, "encoding the eIM configuration");
        goto out;
    }
    json_t *root = json_object();
    bool ok = sgp32_eim_rest_set(root, "eid", json_string(e.eid)) &&
              sgp32_eim_rest_set(root, "eimConfigurationData",
                                 sgp32_eim_rest_base64_value(config.data, config.len)) &&
              sgp32_eim_rest_set(root, "addInitialEim", sgp32_eim_rest_base64_value(add.data, add.len));
    if (!ok) {
        json_decref(root);
        root = NULL;
    }
    sgp32_eim_rest_reply(c, 200, root);
out:
    sgp32_buf_free(&config);
    sgp32_buf_free(&add);
    sgp32_eim_euicc_free(&e);
}

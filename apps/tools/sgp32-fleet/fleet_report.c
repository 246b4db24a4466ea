/*
 * What the fleet reports: --report FILE, rewritten atomically (FILE.tmp + rename) every
 * --report-interval and at exit, and a progress line on stderr. Per device it shows what the
 * device's eUICC says (its last snapshot: profiles, enabled ICCID, eIMs), not what an eIM
 * believes, plus its counters; the totals add them up, with the HTTP bytes of every session.
 *
 * Layout (docs/fleet.md): one JSON document whose top-level members and each device are on lines
 * of their own, so that a shell script can grep a device's line and a program can parse it all.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fleet.h"

static const char *status_name(fleet_device_status s)
{
    switch (s) {
    case FLEET_DEV_BUSY: return "busy";
    case FLEET_DEV_IDLE: return "idle";
    case FLEET_DEV_BACKOFF: return "backoff";
    default: return "starting";
    }
}

static const char *class_name(int cls)
{
    switch (cls) {
    case 0: return "test";
    case 1: return "provisioning";
    case 2: return "operational";
    default: return "unknown";
    }
}

static bool settled(const fleet *f, const fleet_device *d)
{
    return d->settled_since_ms &&
           d->last_empty_ms - d->settled_since_ms >= (int64_t)(f->opt.idle_seconds * 1000.0);
}

size_t fleet_settled_count(fleet *f, int64_t now_ms)
{
    (void)now_ms;
    size_t n = 0;
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < f->count; i++)
        n += settled(f, &f->devices[i]);
    pthread_mutex_unlock(&f->lock);
    return n;
}

static bool set(json_t *o, const char *key, json_t *v)
{
    return v && json_object_set_new(o, key, v) == 0;
}

static bool set_counters(json_t *o, const fleet_counters *c)
{
    return set(o, "cycles", json_integer((json_int_t)c->cycles)) &&
           set(o, "procedures", json_integer((json_int_t)c->procedures)) &&
           set(o, "es9Sessions", json_integer((json_int_t)c->es9_sessions)) &&
           set(o, "requests", json_integer((json_int_t)c->requests)) &&
           set(o, "bytesSent", json_integer((json_int_t)c->bytes_sent)) &&
           set(o, "bytesReceived", json_integer((json_int_t)c->bytes_received)) &&
           set(o, "packages", json_integer((json_int_t)c->packages)) &&
           set(o, "resultsAcknowledged", json_integer((json_int_t)c->results_acknowledged)) &&
           set(o, "notificationsDelivered", json_integer((json_int_t)c->notifications_delivered)) &&
           set(o, "downloadsInstalled", json_integer((json_int_t)c->downloads_installed)) &&
           set(o, "downloadsFailed", json_integer((json_int_t)c->downloads_failed)) &&
           set(o, "rollbacks", json_integer((json_int_t)c->rollbacks)) &&
           set(o, "fallbacks", json_integer((json_int_t)c->fallbacks)) &&
           set(o, "cardResets", json_integer((json_int_t)c->card_resets)) &&
           set(o, "failures", json_integer((json_int_t)c->failures)) &&
           set(o, "hostErrors", json_integer((json_int_t)c->host_errors)) &&
           set(o, "attachFailures", json_integer((json_int_t)c->attach_failures));
}

static json_t *device_json(const fleet *f, const fleet_device *d)
{
    json_t *o = json_object(), *profiles = json_array(), *eims = json_array();
    const char *enabled = NULL;
    bool ok = o && profiles && eims;
    for (size_t i = 0; ok && i < d->snap.profile_count; i++) {
        const fleet_profile *p = &d->snap.profiles[i];
        json_t *po = json_object();
        ok = set(po, "iccid", json_string(p->iccid)) &&
             set(po, "state", json_string(p->enabled ? "enabled" : "disabled")) &&
             set(po, "class", json_string(class_name(p->profile_class))) &&
             !json_array_append_new(profiles, po);
        if (!ok)
            json_decref(po);
        if (p->enabled)
            enabled = p->iccid;
    }
    for (size_t i = 0; ok && i < d->snap.eim_count; i++) {
        json_t *eo = json_object();
        ok = set(eo, "eimId", json_string(d->snap.eim_ids[i])) &&
             set(eo, "eimFqdn", d->snap.eim_fqdns[i] ? json_string(d->snap.eim_fqdns[i]) : json_null()) &&
             !json_array_append_new(eims, eo);
        if (!ok)
            json_decref(eo);
    }
    bool direct = d->features & SGP32_IPA_FEATURE_DIRECT_RSP_SERVER_COMMUNICATION;
    ok = ok && set(o, "index", json_integer(d->index)) && set(o, "eid", json_string(d->eid)) &&
         set(o, "download", json_string(direct ? "direct" : "indirect")) &&
         set(o, "noAttach", json_boolean(d->no_attach)) &&
         set(o, "associated", json_boolean(d->associated)) &&
         set(o, "status", json_string(status_name(d->status))) &&
         set(o, "settled", json_boolean(settled(f, d))) && set(o, "cardRead", json_boolean(d->snap.valid)) &&
         set(o, "enabledIccid", enabled ? json_string(enabled) : json_null()) &&
         json_object_set(o, "profiles", profiles) == 0 && json_object_set(o, "eims", eims) == 0 &&
         set_counters(o, &d->counters) &&
         set(o, "lastError", d->last_error[0] ? json_string(d->last_error) : json_null());
    json_decref(profiles);
    json_decref(eims);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

typedef struct totals {
    size_t by_status[4];
    size_t settled, with_failures;
    int64_t settled_since; /* the latest settled_since: when the whole fleet had settled */
    fleet_counters c;
} totals;

static void add(fleet_counters *to, const fleet_counters *c)
{
    uint64_t *a = (uint64_t *)to;
    const uint64_t *b = (const uint64_t *)c;
    for (size_t i = 0; i < sizeof(*c) / sizeof(uint64_t); i++)
        a[i] += b[i];
}

/* under f->lock */
static void sum(const fleet *f, totals *t)
{
    memset(t, 0, sizeof(*t));
    for (size_t i = 0; i < f->count; i++) {
        const fleet_device *d = &f->devices[i];
        t->by_status[d->status]++;
        if (settled(f, d)) {
            t->settled++;
            if (d->settled_since_ms > t->settled_since)
                t->settled_since = d->settled_since_ms;
        }
        t->with_failures += d->counters.failures + d->counters.host_errors > 0;
        add(&t->c, &d->counters);
    }
}

static double seconds(const fleet *f, int64_t ms)
{
    return (double)(ms - f->started_ms) / 1000.0;
}

static json_t *totals_json(const fleet *f, const totals *t)
{
    json_t *o = json_object();
    bool all = t->settled == f->count;
    bool ok =
        o && set(o, "devices", json_integer((json_int_t)f->count)) &&
        set(o, "starting", json_integer((json_int_t)t->by_status[FLEET_DEV_STARTING])) &&
        set(o, "busy", json_integer((json_int_t)t->by_status[FLEET_DEV_BUSY])) &&
        set(o, "idle", json_integer((json_int_t)t->by_status[FLEET_DEV_IDLE])) &&
        set(o, "backoff", json_integer((json_int_t)t->by_status[FLEET_DEV_BACKOFF])) &&
        set(o, "settled", json_integer((json_int_t)t->settled)) && set(o, "allSettled", json_boolean(all)) &&
        set(o, "settledSince",
            all ? json_real(round(seconds(f, t->settled_since) * 1000) / 1000) : json_null()) &&
        set(o, "devicesWithFailures", json_integer((json_int_t)t->with_failures)) && set_counters(o, &t->c);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The document as text: "{", top-level members one per line, "devices":[ one device per line ]}. */
static int render(fleet *f, bool final, sgp32_buf *out)
{
    int rc = SGP32_ERR_NO_MEMORY;
    char head[256];
    totals t;
    int64_t now = fleet_now_ms();
    pthread_mutex_lock(&f->lock);
    sum(f, &t);
    json_t *tj = totals_json(f, &t);
    char *totals_text = tj ? json_dumps(tj, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(tj);
    int n = snprintf(
        head, sizeof(head),
        "{\"tool\":\"sgp32-fleet\",\"reportVersion\":1,\"final\":%s,\"uptime\":%.3f,\"idleSeconds\":%g,\n"
        "\"totals\":",
        final ? "true" : "false", seconds(f, now), f->opt.idle_seconds);
    if (!totals_text || sgp32_buf_append(out, head, (size_t)n) ||
        sgp32_buf_append(out, totals_text, strlen(totals_text)) ||
        sgp32_buf_append(out, ",\n\"devices\":[\n", 14))
        goto out;
    for (size_t i = 0; i < f->count; i++) {
        json_t *dj = device_json(f, &f->devices[i]);
        char *text = dj ? json_dumps(dj, JSON_COMPACT) : NULL;
        json_decref(dj);
        int bad = !text || sgp32_buf_append(out, text, strlen(text)) ||
                  sgp32_buf_append(out, i + 1 < f->count ? ",\n" : "\n", i + 1 < f->count ? 2 : 1);
        free(text);
        if (bad)
            goto out;
    }
    rc = sgp32_buf_append(out, "]}\n", 3);
out:
    pthread_mutex_unlock(&f->lock);
    free(totals_text);
    return rc;
}

int fleet_write_report(fleet *f, bool final)
{
    if (!f->opt.report_path)
        return SGP32_OK;
    sgp32_buf text;
    sgp32_buf_init(&text, (size_t)1 << 30);
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", f->opt.report_path);
    int rc = render(f, final, &text);
    FILE *out = rc ? NULL : fopen(tmp, "w");
    if (!rc && (!out || fwrite(text.data, 1, text.len, out) != text.len))
        rc = SGP32_ERR_IO;
    if (out && fclose(out) != 0)
        rc = SGP32_ERR_IO;
    if (!rc && rename(tmp, f->opt.report_path) != 0)
        rc = SGP32_ERR_IO;
    if (rc) {
        fprintf(stderr, "sgp32-fleet: cannot write the report %s: %s\n", f->opt.report_path,
                sgp32_err_str(rc));
        unlink(tmp);
    }
    sgp32_buf_free(&text);
    return rc;
}

static void human_bytes(uint64_t n, char *out, size_t size)
{
    if (n >= 10u * 1000 * 1000)
        snprintf(out, size, "%.1f MB", (double)n / 1e6);
    else if (n >= 10u * 1000)
        snprintf(out, size, "%.1f kB", (double)n / 1e3);
    else
        snprintf(out, size, "%llu B", (unsigned long long)n);
}

void fleet_progress(fleet *f, FILE *out)
{
    totals t;
    char example[SGP32_EID_DIGITS + 3 + FLEET_ERROR_TEXT] = "";
    pthread_mutex_lock(&f->lock);
    sum(f, &t);
    for (size_t i = 0; i < f->count && !example[0]; i++) /* what the failing devices run into */
        if (f->devices[i].status == FLEET_DEV_BACKOFF && f->devices[i].last_error[0])
            snprintf(example, sizeof(example), "%s: %s", f->devices[i].eid, f->devices[i].last_error);
    pthread_mutex_unlock(&f->lock);
    char sent[32], received[32];
    human_bytes(t.c.bytes_sent, sent, sizeof(sent));
    human_bytes(t.c.bytes_received, received, sizeof(received));
    fprintf(
        out,
        "sgp32-fleet: %.0f s: %zu devices: %zu idle (%zu settled), %zu busy, %zu in backoff, %zu starting; "
        "%llu procedures, %llu packages, %llu downloads, %llu rollbacks, %llu failures; HTTP %s sent, %s "
        "received\n",
        seconds(f, fleet_now_ms()), f->count, t.by_status[FLEET_DEV_IDLE], t.settled,
        t.by_status[FLEET_DEV_BUSY], t.by_status[FLEET_DEV_BACKOFF], t.by_status[FLEET_DEV_STARTING],
        (unsigned long long)t.c.procedures, (unsigned long long)t.c.packages,
        (unsigned long long)t.c.downloads_installed, (unsigned long long)t.c.rollbacks,
        (unsigned long long)(t.c.failures + t.c.host_errors), sent, received);
    if (example[0])
        fprintf(out, "sgp32-fleet:   in backoff, e.g. %s\n", example);
    fflush(out);
}

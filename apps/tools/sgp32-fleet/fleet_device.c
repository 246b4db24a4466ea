/*
 * One cycle of one simulated device, run by a worker thread: power up (open the card on its NVM,
 * associate it with the eIM at the factory the first time, restore the IPA core from its state
 * blob, start_boot), then the IPA step loop of ipad (apps/ipad/ipad.c) with in-process answers:
 *
 *   TRANSMIT_APDU  sgp32_euicc_transmit on the device's software eUICC
 *   RESET_CARD     sgp32_euicc_reset
 *   SEND_ESIPA     ESipa HTTPS session to the eIM (one per procedure: one TLS connection, kept alive)
 *   SEND_ES9PLUS   ES9+ JSON session to the SM-DP+ (direct download); A2 removed and put back
 *   SAVE_STATE     the blob kept in the device (the power-down state)
 *   WAIT / IDLE    end of the cycle: the scheduler wakes the device at the retry time / next poll
 *
 * until the core is IDLE or WAITs; then the sessions are closed, the card's answers to
 * GetProfilesInfo and GetEimConfigurationData become the device's snapshot, and the device powers
 * down. Booting every cycle also makes a device follow eIM changes (eCO) at its next poll.
 *
 * --no-attach: once the card runs a profile other than the bootstrap one, every exchange fails
 * before it leaves the device (no network), until the IPA's rollback brings the bootstrap back.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fleet.h"
#include "sgp32/asn1.h"
#include "sgp32/es9_client.h"
#include "sgp32/log.h"

typedef enum cycle_end {
    END_IDLE,
    END_WAIT,
    END_ERROR, /* a host-side failure (card, association, core refusal): retry with our own backoff */
    END_STOPPED,
} cycle_end;

typedef struct cycle {
    fleet *f;
    fleet_worker *w;
    fleet_device *d;
    sgp32_log_context log;
    sgp32_euicc *card;
    sgp32_ipa *ipa;
    sgp32_esipa_session *esipa;
    char esipa_address[256];
    sgp32_es9_session *es9;
    char es9_address[256];
    fleet_counters c; /* this cycle's */
    char error[FLEET_ERROR_TEXT];
} cycle;

static void add_http_stats(cycle *cy, const sgp32_https_stats *st)
{
    cy->c.requests += st->requests;
    cy->c.bytes_sent += st->bytes_sent;
    cy->c.bytes_received += st->bytes_received;
}

static void close_es9(cycle *cy)
{
    if (cy->es9) {
        sgp32_https_stats st;
        sgp32_es9_session_stats(cy->es9, &st);
        add_http_stats(cy, &st);
        sgp32_es9_session_close(cy->es9);
        cy->es9 = NULL;
    }
}

/* The end of a procedure (or a failed exchange): the connections close, their bytes are counted. */
static void close_sessions(cycle *cy)
{
    if (cy->esipa) {
        sgp32_https_stats st;
        sgp32_esipa_session_stats(cy->esipa, &st);
        add_http_stats(cy, &st);
        sgp32_esipa_session_close(cy->esipa);
        cy->esipa = NULL;
    }
    close_es9(cy);
}

static void tls_trust(const cycle *cy, sgp32_tls_trust *t)
{
    memset(t, 0, sizeof(*t));
    t->ca_file = cy->f->ca_path[0] ? cy->f->ca_path : NULL;
}

static void transport_error(cycle *cy, sgp32_ipa_event *ev, int rc, long http_status, const char *what,
                            const char *address, const char *message)
{
    ev->type = SGP32_IPA_EV_TRANSPORT_ERROR;
    ev->status = http_status ? (int)http_status : rc;
    fleet_set_error(cy->error, sizeof(cy->error), "%s to %s: %s%s%s", what, address, sgp32_err_str(rc),
                    message && *message ? ": " : "", message ? message : "");
    sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, &cy->log, "%s", cy->error);
}

/* --no-attach: the network is there only while the bootstrap profile runs. */
static bool cannot_attach(cycle *cy)
{
    if (!cy->d->no_attach)
        return false;
    char iccid[21];
    if (sgp32_euicc_enabled_iccid(cy->card, iccid) != SGP32_OK)
        return true;
    return strcmp(iccid, cy->f->opt.bootstrap_iccid) != 0;
}

static bool refused_by_network(cycle *cy, sgp32_ipa_event *ev, const sgp32_ipa_action *a)
{
    if (!cannot_attach(cy))
        return false;
    char iccid[21] = "none";
    (void)sgp32_euicc_enabled_iccid(cy->card, iccid);
    cy->c.attach_failures++;
    close_sessions(cy); /* no connection survives a lost network */
    char msg[96];
    snprintf(msg, sizeof(msg), "no network: profile %s cannot attach (--no-attach)", iccid);
    transport_error(cy, ev, SGP32_ERR_TRANSPORT_CONNECT, 0, sgp32_ipa_function_name(a->function), a->address,
                    msg);
    return true;
}

static void do_esipa(cycle *cy, const sgp32_ipa_action *a, sgp32_ipa_event *ev)
{
    if (refused_by_network(cy, ev, a))
        return;
    if (cy->esipa && strcmp(cy->esipa_address, a->address) != 0)
        close_sessions(cy);
    if (!cy->esipa) {
        sgp32_esipa_config ec = {
            .eim_fqdn = a->address, .binding = cy->f->opt.binding, .user_agent_suffix = "sgp32-fleet"};
        tls_trust(cy, &ec.tls);
        ec.limits.timeout_ms = cy->f->opt.http_timeout_ms;
        int rc = sgp32_esipa_session_open(&ec, &cy->esipa);
        if (rc) {
            cy->esipa = NULL;
            transport_error(cy, ev, rc, 0, "ESipa session", a->address, NULL);
            return;
        }
        snprintf(cy->esipa_address, sizeof(cy->esipa_address), "%s", a->address);
        cy->c.procedures++;
    }
    sgp32_https_result res;
    memset(&res, 0, sizeof(res));
    int rc = sgp32_esipa_session_send(cy->esipa, a->data.data, a->data.len, &cy->w->response, &res);
    if (rc) {
        transport_error(cy, ev, rc, res.http_status, sgp32_ipa_function_name(a->function), a->address,
                        res.message);
        close_sessions(cy); /* a failed connection is not reused */
        return;
    }
    ev->type = SGP32_IPA_EV_RESPONSE;
    ev->data = sgp32_buf_bytes(&cy->w->response);
    ev->more = false;
}

static void do_es9(cycle *cy, const sgp32_ipa_action *a, sgp32_ipa_event *ev)
{
    if (refused_by_network(cy, ev, a))
        return;
    /* The core sends RemoteProfileProvisioningRequest (A2 {request}); the ES9+ client takes the
     * inner request and answers the inner response, which goes back wrapped in A2. */
    sgp32_asn1_tlv wrap;
    if (sgp32_asn1_read_tlv(a->data.data, a->data.len, &wrap, NULL) != SGP32_OK || wrap.tag != 0xA2) {
        transport_error(cy, ev, SGP32_ERR_INVALID_ARGUMENT, 0, "ES9+", a->address, "not an A2 request");
        return;
    }
    if (cy->es9 && strcmp(cy->es9_address, a->address) != 0)
        close_es9(cy);
    if (!cy->es9) {
        sgp32_es9_config c = {.smdp_address = a->address};
        tls_trust(cy, &c.tls);
        c.limits.timeout_ms = cy->f->opt.http_timeout_ms;
        int rc = sgp32_es9_session_open(&c, &cy->es9);
        if (rc) {
            cy->es9 = NULL;
            transport_error(cy, ev, rc, 0, "ES9+ session", a->address, NULL);
            return;
        }
        snprintf(cy->es9_address, sizeof(cy->es9_address), "%s", a->address);
        cy->c.procedures++;
        cy->c.es9_sessions++;
    }
    sgp32_es9_result res;
    memset(&res, 0, sizeof(res));
    sgp32_buf *inner = &cy->w->es9_rsp;
    sgp32_buf_reset(inner);
    int rc = sgp32_es9_session_call(cy->es9, wrap.value.data, wrap.value.len, inner, &res);
    if (rc) {
        transport_error(cy, ev, rc, res.https.http_status, sgp32_ipa_function_name(a->function), a->address,
                        res.https.message);
        close_es9(cy); /* a failed connection is not reused */
        return;
    }
    if (res.status == SGP32_ES9_FAILED || res.status == SGP32_ES9_EXPIRED) {
        char msg[128];
        snprintf(msg, sizeof(msg), "function %s (subject %s, reason %s)",
                 res.status == SGP32_ES9_FAILED ? "failed" : "expired", res.subject_code, res.reason_code);
        transport_error(cy, ev, SGP32_ERR_TRANSPORT_PROTOCOL, 0, sgp32_ipa_function_name(a->function),
                        a->address, msg);
        return;
    }
    sgp32_buf *out = &cy->w->response;
    sgp32_buf_reset(out);
    if (inner->len) {
        size_t mark = sgp32_asn1_begin(out);
        if (sgp32_buf_append(out, inner->data, inner->len) != SGP32_OK ||
            sgp32_asn1_end(out, 0xA2, mark) != SGP32_OK) {
            transport_error(cy, ev, SGP32_ERR_CAPACITY, 0, "ES9+", a->address, "answer too large");
            return;
        }
    }
    ev->type = SGP32_IPA_EV_RESPONSE;
    ev->data = sgp32_buf_bytes(out);
    ev->more = false;
}

static void do_apdu(cycle *cy, const sgp32_ipa_action *a, sgp32_ipa_event *ev)
{
    sgp32_buf *rsp = &cy->w->apdu_rsp;
    sgp32_buf_reset(rsp);
    int rc = sgp32_euicc_transmit(cy->card, a->data.data, a->data.len, rsp);
    if (rc) {
        ev->type = SGP32_IPA_EV_TRANSPORT_ERROR;
        ev->status = rc;
        fleet_set_error(cy->error, sizeof(cy->error), "APDU: %s", sgp32_err_str(rc));
        return;
    }
    ev->type = SGP32_IPA_EV_APDU_RESPONSE;
    ev->data = sgp32_buf_bytes(rsp);
}

static int64_t ipa_now(void)
{
    return fleet_now_ms() / 1000;
}

/* The retry delay after the n-th failed cycle in a row: doubling from backoff_base to backoff_max,
 * half of it fixed and half jitter (the core's rule, main_backoff in lib/ipa/ipa.c). The core's own
 * count restarts with every boot, and a fleet device boots at every wake-up, so the host keeps the
 * count across cycles and waits at least this long. */
static int64_t backoff_ms(fleet_worker *w, uint32_t failures)
{
    const fleet *f = w->f;
    uint64_t delay = f->opt.backoff_base_s;
    for (uint32_t i = 1; i < failures && delay < f->opt.backoff_max_s; i++)
        delay <<= 1;
    if (delay > f->opt.backoff_max_s)
        delay = f->opt.backoff_max_s;
    uint64_t ms = delay * 1000, half = ms / 2;
    return (int64_t)(ms - half + fleet_random(&w->rng) % (half + 1));
}

/* The next regular poll: the interval with +-25 % jitter, so a fleet does not poll in waves. */
static int64_t poll_delay_ms(fleet_worker *w)
{
    double base = w->f->opt.poll_interval_s * 1000.0;
    double jitter = ((double)(fleet_random(&w->rng) % 1001) / 1000.0 - 0.5) * 0.5 * base;
    return (int64_t)(base + jitter);
}

static void add_ipa_stats(fleet_counters *c, const sgp32_ipa_stats *s)
{
    c->packages += s->packages;
    c->results_acknowledged += s->results_acknowledged;
    c->notifications_delivered += s->notifications_delivered;
    c->downloads_installed += s->downloads_installed;
    c->downloads_failed += s->downloads_failed;
    c->rollbacks += s->rollbacks;
    c->fallbacks += s->fallbacks;
    c->card_resets += s->card_resets;
    c->failures += s->failures;
}

static void add_counters(fleet_counters *to, const fleet_counters *c)
{
    uint64_t *a = (uint64_t *)to;
    const uint64_t *b = (const uint64_t *)c;
    for (size_t i = 0; i < sizeof(*c) / sizeof(uint64_t); i++)
        a[i] += b[i];
}

/* The IPA step loop until IDLE or WAIT; *until_ms receives WAIT's deadline. */
static cycle_end run_ipa(cycle *cy, int64_t *until_ms)
{
    fleet *f = cy->f;
    fleet_device *d = cy->d;
    sgp32_ipa_config ic = {
        .ipa_features = d->features,
        .ipa_protocols = SGP32_IPA_PROTOCOL_RETRIEVE_HTTPS,
        .eim_address = f->opt.eim_address,
        .rollback_after = f->opt.rollback_after,
        .backoff_base_s = f->opt.backoff_base_s,
        .backoff_max_s = f->opt.backoff_max_s,
        .poll_interval_s = (uint32_t)ceil(f->opt.poll_interval_s),
        /* as ipad: a backlog of notifications (each with two certificates) outgrows the core's
         * 8 KiB default; the IPA lives only for one cycle, so the cap costs nothing idle */
        .message_max = 256 << 10,
    };
    int rc = sgp32_ipa_init(&cy->ipa, &ic);
    if (rc) {
        cy->ipa = NULL;
        fleet_set_error(cy->error, sizeof(cy->error), "cannot create the IPA: %s", sgp32_err_str(rc));
        return END_ERROR;
    }
    if (d->blob_len && (rc = sgp32_ipa_load_state(cy->ipa, d->blob, d->blob_len)) != SGP32_OK)
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_APP, &cy->log, "IPA state not usable (%s): starting clean",
                  sgp32_err_str(rc));
    sgp32_ipa_start_boot(cy->ipa);
    sgp32_ipa_event ev = {.type = SGP32_IPA_EV_NONE, .now = ipa_now(), .random = fleet_random(&cy->w->rng)};
    sgp32_ipa_action act;
    for (;;) {
        if (atomic_load(&f->stop))
            return END_STOPPED; /* like a power cut: the blob holds what the core saved */
        if ((rc = sgp32_ipa_step(cy->ipa, &ev, &act)) != SGP32_OK) {
            fleet_set_error(cy->error, sizeof(cy->error), "the IPA core refused the event: %s",
                            sgp32_err_str(rc));
            return END_ERROR;
        }
        ev = (sgp32_ipa_event){
            .type = SGP32_IPA_EV_NONE, .now = ipa_now(), .random = fleet_random(&cy->w->rng)};
        switch (act.type) {
        case SGP32_IPA_ACT_TRANSMIT_APDU: do_apdu(cy, &act, &ev); break;
        case SGP32_IPA_ACT_RESET_CARD:
            sgp32_euicc_reset(cy->card);
            ev.type = SGP32_IPA_EV_CARD_RESET;
            ev.data = sgp32_euicc_atr();
            break;
        case SGP32_IPA_ACT_SEND_ESIPA: do_esipa(cy, &act, &ev); break;
        case SGP32_IPA_ACT_SEND_ES9PLUS: do_es9(cy, &act, &ev); break;
        case SGP32_IPA_ACT_RECEIVE_MORE: /* bodies are fed whole: never a next chunk */
            ev.type = SGP32_IPA_EV_RESPONSE;
            ev.data = (sgp32_bytes){NULL, 0};
            break;
        case SGP32_IPA_ACT_PUSH_RESPONSE: break; /* no push listener */
        case SGP32_IPA_ACT_SAVE_STATE:
            if (act.data.len > sizeof(d->blob)) {
                ev.type = SGP32_IPA_EV_STATE_SAVE_FAILED;
            } else {
                memcpy(d->blob, act.data.data, act.data.len);
                d->blob_len = (uint8_t)act.data.len;
                ev.type = SGP32_IPA_EV_STATE_SAVED;
            }
            break;
        case SGP32_IPA_ACT_WAIT: *until_ms = act.until * 1000; return END_WAIT;
        case SGP32_IPA_ACT_IDLE: return END_IDLE;
        }
    }
}

int64_t fleet_run_cycle(fleet_worker *w, fleet_device *d)
{
    fleet *f = w->f;
    cycle cy;
    memset(&cy, 0, sizeof(cy));
    cy.f = f;
    cy.w = w;
    cy.d = d;
    cy.log = (sgp32_log_context){"sgp32-fleet", d->eid, NULL};
    cy.c.cycles = 1;
    cycle_end end = END_ERROR;
    int64_t until_ms = 0;
    bool associated = d->associated; /* only this worker changes it; the report reads it under the lock */
    int rc = fleet_card_open(f, d, &cy.card);
    if (rc) {
        cy.card = NULL;
        fleet_set_error(cy.error, sizeof(cy.error), "cannot open the card: %s", sgp32_err_str(rc));
    } else if (!associated && fleet_associate(w, d, cy.card, cy.error, sizeof(cy.error)) != SGP32_OK) {
        /* END_ERROR: retried after the host backoff */
    } else {
        associated = true;
        end = run_ipa(&cy, &until_ms);
    }
    close_sessions(&cy);
    if (cy.ipa) {
        const sgp32_ipa_stats *s = sgp32_ipa_get_stats(cy.ipa);
        add_ipa_stats(&cy.c, s);
        if (end == END_WAIT && !cy.error[0])
            fleet_set_error(cy.error, sizeof(cy.error), "%s (card SW %04X, eIM error %lld)",
                            sgp32_err_str(s->last_error ? s->last_error : SGP32_ERR_IO), s->last_sw,
                            (long long)s->last_eim_error);
        sgp32_ipa_free(cy.ipa);
    }
    fleet_snapshot snap;
    memset(&snap, 0, sizeof(snap));
    if (cy.card) {
        (void)fleet_card_snapshot(cy.card, &w->es10_rsp, &snap);
        fleet_card_close(cy.card);
    }

    int64_t now = fleet_now_ms(), due = now;
    if (end == END_ERROR || end == END_WAIT) {
        d->failed_cycles++;
        due = now + backoff_ms(w, d->failed_cycles);
        if (end == END_WAIT && until_ms > due)
            due = until_ms; /* the core asked for more */
    } else if (end == END_IDLE) {
        d->failed_cycles = 0;
        due = now + poll_delay_ms(w);
    }
    if (end == END_ERROR) {
        cy.c.host_errors++;
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_APP, &cy.log, "%s; retry in %.1f s", cy.error,
                  (double)(due - now) / 1000.0);
    }
    bool worked = cy.c.packages || cy.c.results_acknowledged || cy.c.notifications_delivered ||
                  cy.c.downloads_installed || cy.c.downloads_failed || cy.c.rollbacks || cy.c.fallbacks ||
                  cy.c.failures || cy.c.host_errors || cy.c.attach_failures;

    pthread_mutex_lock(&f->lock);
    d->associated = associated;
    add_counters(&d->counters, &cy.c);
    if (end == END_IDLE && !worked) {
        if (!d->settled_since_ms)
            d->settled_since_ms = now;
        d->last_empty_ms = now;
    } else if (end != END_STOPPED) {
        d->settled_since_ms = d->last_empty_ms = 0;
    }
    if (end != END_STOPPED)
        d->status = end == END_IDLE ? FLEET_DEV_IDLE : FLEET_DEV_BACKOFF;
    if (cy.error[0]) /* kept after a recovery: the report says what went wrong last */
        memcpy(d->last_error, cy.error, sizeof(d->last_error));
    fleet_snapshot old = d->snap;
    if (snap.valid) {
        d->snap = snap;
        memset(&snap, 0, sizeof(snap));
    } else {
        memset(&old, 0, sizeof(old));
    }
    pthread_mutex_unlock(&f->lock);
    fleet_snapshot_free(&old);
    fleet_snapshot_free(&snap);
    return due;
}

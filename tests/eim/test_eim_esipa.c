/*
 * The eIM core end to end with the IPA core and a software eUICC (all in process, no network):
 * tests/unit/ipa_host.c runs the IPA (lib/ipa) against the card, and its ESipa requests go to
 * sgp32_eim_esipa_handle with a SQLite store. Every PSMO and eCO runs through the queue with its
 * result verified and stored; faults on the wire show that a tampered result is refused, a
 * replayed one deduplicated, and a lost answer redelivered and executed once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../unit/ipa_host.h"
#include "eim_test_support.h"
#include "sgp32/asn1.h"
#include "sgp32/eim_server.h"
#include "sgp32/text.h"

#define SECOND_EIM "eim2.example.com"

typedef struct eim_env {
    host h;
    eim_test_server s;
    char eid[SGP32_EIM_EID_DIGITS + 1];
    /* wire faults */
    bool tamper_result;       /* flip a bit of the next ProvideEimPackageResult's signature */
    bool replay_result;       /* hand every ProvideEimPackageResult to the eIM twice */
    bool drop_get_answer;     /* the eIM answers the next GetEimPackage, the IPA never sees it */
    bool drop_provide_answer; /* the same for the next ProvideEimPackageResult */
    int provide_answers_with_error;
    size_t es9_calls;
    sgp32_eim_server *second; /* a second eIM, reached at SECOND_EIM (eIM portability) */
    size_t second_requests;
    size_t provide_count;
} eim_env;

static eim_env *env_of(host *h)
{
    return (eim_env *)h->exchange_ctx;
}

static int exchange(host *h, const sgp32_ipa_action *a, sgp32_buf *response)
{
    eim_env *e = env_of(h);
    if (a->type == SGP32_IPA_ACT_SEND_ES9PLUS) {
        host_eim_answer(h, a, response); /* direct download: the scripted SM-DP+ */
        return SGP32_OK;
    }
    sgp32_buf body;
    sgp32_buf_init(&body, 1 << 20);
    assert_int_equal(sgp32_buf_append(&body, a->data.data, a->data.len), SGP32_OK);
    uint32_t tag = body.len > 1 ? (uint32_t)(body.data[0] << 8 | body.data[1]) : 0;
    if (tag == 0xBF50 && e->tamper_result) {
        /* flip the last byte of the EPR (BF51), the end of its signature 5F37 40 r||s */
        sgp32_asn1_tlv outer, eid, result, epr;
        assert_int_equal(sgp32_asn1_read_tlv(body.data, body.len, &outer, NULL), SGP32_OK);
        size_t used = 0;
        assert_int_equal(sgp32_asn1_read_tlv(outer.value.data, outer.value.len, &eid, &used), SGP32_OK);
        assert_int_equal(sgp32_asn1_read_tlv(outer.value.data + used, outer.value.len - used, &result, NULL),
                         SGP32_OK);
        if (result.tag == 0x30)
            assert_int_equal(sgp32_asn1_read_tlv(result.value.data, result.value.len, &epr, NULL), SGP32_OK);
        else
            epr = result;
        assert_int_equal(epr.tag, 0xBF51);
        body.data[(size_t)(epr.whole.data - body.data) + epr.whole.len - 1] ^= 0x01;
        e->tamper_result = false;
    }
    sgp32_eim_esipa_info info;
    const sgp32_eim_server *to = &e->s.srv;
    if (e->second && strcmp(a->address, SECOND_EIM) == 0) {
        to = e->second;
        e->second_requests++;
    } else {
        assert_string_equal(a->address, HOST_EIM_ID);
    }
    int rc = sgp32_eim_esipa_handle(to, body.data, body.len, response, &info);
    assert_int_equal(rc, SGP32_OK);
    if (info.http_status != 200 && info.http_status != 204)
        fail_msg("HTTP %d: %s", info.http_status, info.outcome);
    if (tag == 0xBF50) {
        e->provide_count++;
        if (response->len > 3 && response->data[3] == 0x02)
            e->provide_answers_with_error++;
        if (e->replay_result) {
            sgp32_buf again;
            sgp32_buf_init(&again, 1 << 16);
            assert_int_equal(sgp32_eim_esipa_handle(&e->s.srv, body.data, body.len, &again, &info), SGP32_OK);
            /* the same acknowledgements, nothing recorded twice */
            assert_int_equal(again.len, response->len);
            assert_memory_equal(again.data, response->data, again.len);
            sgp32_buf_free(&again);
        }
    }
    sgp32_buf_free(&body);
    if (tag == 0xBF4F && e->drop_get_answer) {
        e->drop_get_answer = false;
        return SGP32_ERR_TRANSPORT_CLOSED;
    }
    if (tag == 0xBF50 && e->drop_provide_answer) {
        e->drop_provide_answer = false;
        return SGP32_ERR_TRANSPORT_CLOSED;
    }
    return SGP32_OK;
}

/* The eIM's ES9+ leg to the scripted SM-DP+ of ipa_host (ES9+ ASN.1 binding, A2-wrapped). */
static int es9_to_host(void *ctx, const char *address, const uint8_t *request, size_t len,
                       sgp32_buf *response, sgp32_eim_es9_status *status)
{
    eim_env *e = ctx;
    memset(status, 0, sizeof(*status));
    sgp32_buf wrapped, answer;
    sgp32_buf_init(&wrapped, 1 << 20);
    sgp32_buf_init(&answer, 1 << 20);
    size_t mark = sgp32_asn1_begin(&wrapped);
    assert_int_equal(sgp32_buf_append(&wrapped, request, len), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&wrapped, 0xA2, mark), SGP32_OK);
    sgp32_ipa_action a = {
        .type = SGP32_IPA_ACT_SEND_ES9PLUS, .address = address, .data = sgp32_buf_bytes(&wrapped)};
    host_eim_answer(&e->h, &a, &answer);
    sgp32_buf_reset(response);
    if (answer.len) {
        sgp32_asn1_tlv wrap;
        assert_int_equal(sgp32_asn1_expect(answer.data, answer.len, 0xA2, &wrap), SGP32_OK);
        assert_int_equal(sgp32_buf_append(response, wrap.value.data, wrap.value.len), SGP32_OK);
    }
    e->es9_calls++;
    sgp32_buf_free(&wrapped);
    sgp32_buf_free(&answer);
    return SGP32_OK;
}

static void env_open_with(eim_env *e, bool register_certificates, uint32_t features)
{
    memset(e, 0, sizeof(*e));
    host_open(&e->h, features);
    e->h.exchange = exchange;
    e->h.exchange_ctx = e;
    sgp32_eim_server_config c = {
        .eim_id = HOST_EIM_ID,
        .signing_key = &e->h.eim_key,
        .es9_call = es9_to_host,
        .es9_ctx = e,
    };
    eim_test_server_open(&e->s, &c);
    snprintf(e->eid, sizeof(e->eid), "%s", EUICC_FIXTURE_EID);
    eim_test_register(&e->s.srv, e->eid, e->h.has_token, e->h.token, register_certificates, NULL);
}

static void env_open(eim_env *e, bool register_certificates)
{
    env_open_with(e, register_certificates, SGP32_IPA_FEATURE_DIRECT_RSP_SERVER_COMMUNICATION);
}

static void env_close(eim_env *e)
{
    host_close(&e->h);
    eim_test_server_close(&e->s);
}

static int64_t queue_op(eim_env *e, const char *json)
{
    return eim_test_queue(&e->s.srv, e->eid, json);
}

static void poll_until_idle(eim_env *e)
{
    assert_int_equal(sgp32_ipa_start_poll(e->h.ipa), SGP32_OK);
    assert_int_equal(host_run(&e->h, 5000), HOST_IDLE);
}

static eim_test_op get_op(eim_env *e, int64_t id)
{
    return eim_test_get_op(&e->s.srv, id);
}

static void assert_done(eim_env *e, int64_t id, const char *expect_in_json)
{
    eim_test_assert_op(&e->s.srv, id, SGP32_EIM_OP_DONE, expect_in_json);
    assert_true(get_op(e, id).result_len > 0); /* the eUICC-signed bytes are kept */
}

typedef struct profiles_seen {
    char iccid[8][21];
    int state[8];
    size_t n;
} profiles_seen;

static int collect(void *arg, const sgp32_eim_profile *p)
{
    profiles_seen *s = arg;
    if (s->n < 8) {
        snprintf(s->iccid[s->n], sizeof(s->iccid[0]), "%s", p->iccid);
        s->state[s->n++] = p->state;
    }
    return 0;
}

static int believed_state(eim_env *e, const char *iccid)
{
    profiles_seen s = {.n = 0};
    assert_int_equal(e->s.srv.config.store.profile_list(e->s.srv.config.store.ctx, e->eid, collect, &s),
                     SGP32_OK);
    for (size_t i = 0; i < s.n; i++)
        if (strcmp(s.iccid[i], iccid) == 0)
            return s.state[i];
    return -1; /* not there */
}

static size_t count_events(eim_env *e, const char *action)
{
    return eim_test_count_events(&e->s.srv, action);
}

/* ------------------------------------------------------------------ tests */

/* Every PSMO, each its own package, in queue order; results verified, stored, believed. */
static void test_every_psmo(void **state)
{
    (void)state;
    eim_env e;
    env_open(&e, true);
    int64_t list = queue_op(&e, "{\"psmo\":[{\"listProfileInfo\":{}}]}");
    int64_t enable = queue_op(&e, "{\"psmo\":[{\"enable\":{\"iccid\":\"" HOST_ICCID_B "\"}}]}");
    int64_t rat = queue_op(&e, "{\"psmo\":[{\"getRAT\":{}}]}");
    int64_t immediate =
        queue_op(&e, "{\"psmo\":[{\"configureImmediateEnable\":{\"immediateEnable\":true}}]}");
    int64_t dp = queue_op(&e, "{\"psmo\":[{\"setDefaultDpAddress\":{\"address\":\"dp2.example.com\"}}]}");
    int64_t disable = queue_op(&e, "{\"psmo\":[{\"disable\":{\"iccid\":\"" HOST_ICCID_B "\"}}]}");
    int64_t enable_a = queue_op(&e, "{\"psmo\":[{\"enable\":{\"iccid\":\"" HOST_ICCID_A "\"}}]}");
    int64_t del = queue_op(&e, "{\"psmo\":[{\"delete\":{\"iccid\":\"" HOST_ICCID_C "\"}}]}");
    int64_t fallback =
        queue_op(&e, "{\"psmo\":[{\"setFallbackAttribute\":{\"iccid\":\"" HOST_ICCID_A "\"}}]}");
    int64_t unset = queue_op(&e, "{\"psmo\":[{\"unsetFallbackAttribute\":{}}]}");
    poll_until_idle(&e);

    assert_done(&e, list, "\"listProfileInfo\"");
    assert_done(&e, enable, "\"enable\":\"ok\"");
    assert_done(&e, rat, "getRAT");
    assert_done(&e, immediate, "\"configureImmediateEnable\":\"ok\"");
    assert_done(&e, dp, "setDefaultDpAddress");
    assert_done(&e, disable, "\"disable\":\"ok\"");
    assert_done(&e, enable_a, "\"enable\":\"ok\"");
    assert_done(&e, del, "\"delete\":\"ok\"");
    /* fallback needs fallbackAllowed in the profile's metadata: the fixture's profiles have none */
    eim_test_op fb = get_op(&e, fallback);
    assert_true(fb.state == SGP32_EIM_OP_DONE || fb.state == SGP32_EIM_OP_FAILED);
    assert_true(fb.result_len > 0);
    eim_test_op un = get_op(&e, unset);
    assert_true(un.state == SGP32_EIM_OP_DONE || un.state == SGP32_EIM_OP_FAILED);

    /* counters strictly increase in queue order */
    assert_true(get_op(&e, list).counter < get_op(&e, enable).counter);
    assert_true(get_op(&e, enable).counter < get_op(&e, unset).counter);
    /* the card and the eIM's belief agree */
    assert_string_equal(host_enabled(&e.h), HOST_ICCID_A);
    assert_int_equal(believed_state(&e, HOST_ICCID_A), SGP32_EIM_PROFILE_ENABLED);
    assert_int_equal(believed_state(&e, HOST_ICCID_B), SGP32_EIM_PROFILE_DISABLED);
    assert_int_equal(believed_state(&e, HOST_ICCID_C), -1);
    /* every result was acknowledged: nothing left on the card */
    assert_int_equal(host_card_pending(&e.h), 0);
    assert_int_equal(e.provide_answers_with_error, 0);
    assert_int_equal(count_events(&e, "operation.result"), 10);
    env_close(&e);
}

/* A package of several PSMOs, and an enable with rollback allowed. */
static void test_multi_psmo_package(void **state)
{
    (void)state;
    eim_env e;
    env_open(&e, true);
    /* listProfileInfo after an enable in the same package answers profileChangeOngoing */
    int64_t id = queue_op(&e, "{\"psmo\":[{\"listProfileInfo\":{}},"
                              "{\"enable\":{\"iccid\":\"" HOST_ICCID_B "\",\"rollback\":true}}]}");
    poll_until_idle(&e);
    assert_done(&e, id, "\"enable\":\"ok\"");
    assert_string_equal(host_enabled(&e.h), HOST_ICCID_B);
    assert_int_equal(believed_state(&e, HOST_ICCID_B), SGP32_EIM_PROFILE_ENABLED);
    env_close(&e);
}

/* Every eCO: add a second eIM, list, update it, delete it. */
static void test_every_eco(void **state)
{
    (void)state;
    eim_env e;
    env_open(&e, true);
    sgp32_ec_private_key k2;
    sgp32_ec_public_key p2;
    assert_int_equal(sgp32_ec_generate(SGP32_CURVE_NIST_P256, &k2, &p2), SGP32_OK);
    sgp32_buf spki;
    sgp32_buf_init(&spki, 256);
    char b64[512];
    assert_int_equal(sgp32_ec_public_to_spki(&p2, &spki), SGP32_OK);
    assert_true(sgp32_base64_encoded_len(spki.len) < sizeof(b64));
    sgp32_base64_encode(spki.data, spki.len, b64);
    char json[1024];
    snprintf(json, sizeof(json),
             "{\"eco\":[{\"addEim\":{\"eimId\":\"eim2.example.com\",\"eimFqdn\":\"eim2.example.com\","
             "\"eimIdType\":\"fqdn\",\"counterValue\":5,\"associationToken\":77,\"eimPublicKey\":\"%s\","
             "\"protocols\":[\"retrieveHttps\"]}}]}",
             b64);
    int64_t add = queue_op(&e, json);
    int64_t list = queue_op(&e, "{\"eco\":[{\"listEim\":{}}]}");
    snprintf(
        json, sizeof(json),
        "{\"eco\":[{\"updateEim\":{\"eimId\":\"eim2.example.com\",\"eimFqdn\":\"eim2b.example.com\"}}]}");
    int64_t update = queue_op(&e, json);
    int64_t del = queue_op(&e, "{\"eco\":[{\"deleteEim\":{\"eimId\":\"eim2.example.com\"}}]}");
    poll_until_idle(&e);
    assert_done(&e, add, "addEim");
    assert_done(&e, list, "eim2.example.com");
    eim_test_op u = get_op(&e, update);
    assert_true(u.state == SGP32_EIM_OP_DONE || u.state == SGP32_EIM_OP_FAILED);
    assert_true(strstr(u.json, "updateEim") != NULL);
    assert_done(&e, del, "\"deleteEim\":\"ok\"");
    sgp32_buf_free(&spki);
    env_close(&e);
}

/* No certificate registered: the eIM asks the IPA for CERT.EUM and CERT.EUICC first, verifies
 * them, then sends the package in the same session. */
static void test_certificates_learned(void **state)
{
    (void)state;
    eim_env e;
    env_open(&e, false);
    int64_t id = queue_op(&e, "{\"psmo\":[{\"enable\":{\"iccid\":\"" HOST_ICCID_B "\"}}]}");
    poll_until_idle(&e);
    assert_done(&e, id, "\"enable\":\"ok\"");
    assert_int_equal(count_events(&e, "device.certificate"), 1);
    env_close(&e);
}

/* A result whose signature was tampered with is refused and not acknowledged; the IPA keeps it
 * and delivers it intact later: the operation completes, executed once. */
static void test_tampered_result_rejected(void **state)
{
    (void)state;
    eim_env e;
    env_open(&e, true);
    int64_t id = queue_op(&e, "{\"psmo\":[{\"enable\":{\"iccid\":\"" HOST_ICCID_B "\"}}]}");
    e.tamper_result = true;
    assert_int_equal(sgp32_ipa_start_poll(e.h.ipa), SGP32_OK);
    host_run(&e.h, 5000);
    assert_int_equal(e.provide_answers_with_error, 1);
    assert_true(count_events(&e, "result.rejected") >= 1);
    eim_test_op v = get_op(&e, id);
    if (v.state == SGP32_EIM_OP_DELIVERED) {
        assert_int_equal(v.result_len, 0);
        poll_until_idle(&e);
    }
    assert_done(&e, id, "\"enable\":\"ok\"");
    assert_int_equal(get_op(&e, id).delivery_count, 1); /* never sent to the card again */
    assert_string_equal(host_enabled(&e.h), HOST_ICCID_B);
    env_close(&e);
}

/* The same ProvideEimPackageResult twice: the second is acknowledged identically and changes
 * nothing (deduplicated on EID and seqNumber). */
static void test_replayed_result_deduplicated(void **state)
{
    (void)state;
    eim_env e;
    env_open(&e, true);
    e.replay_result = true;
    int64_t id = queue_op(&e, "{\"psmo\":[{\"disable\":{\"iccid\":\"" HOST_ICCID_A "\"}}]}");
    poll_until_idle(&e);
    assert_done(&e, id, "\"disable\":\"ok\"");
    assert_int_equal(count_events(&e, "operation.result"), 1);
    assert_int_equal(host_card_pending(&e.h), 0);
    env_close(&e);
}

/* The answer to GetEimPackage is lost: the next poll gets the same signed bytes (same counter)
 * and the card runs the package once. */
static void test_lost_package_redelivered(void **state)
{
    (void)state;
    eim_env e;
    env_open(&e, true);
    int64_t id = queue_op(&e, "{\"psmo\":[{\"enable\":{\"iccid\":\"" HOST_ICCID_B "\"}}]}");
    e.drop_get_answer = true;
    assert_int_equal(sgp32_ipa_start_poll(e.h.ipa), SGP32_OK);
    host_run(&e.h, 5000);
    eim_test_op v = get_op(&e, id);
    if (v.state != SGP32_EIM_OP_DONE)
        poll_until_idle(&e);
    v = get_op(&e, id);
    assert_done(&e, id, "\"enable\":\"ok\"");
    assert_int_equal(v.delivery_count, 2);
    assert_int_equal(v.counter, 1);
    assert_string_equal(host_enabled(&e.h), HOST_ICCID_B);
    env_close(&e);
}

/* The answer to ProvideEimPackageResult is lost: the eIM has the result, the IPA sends it again,
 * it is acknowledged again, recorded once, and the package is not run again. */
static void test_lost_acknowledgement(void **state)
{
    (void)state;
    eim_env e;
    env_open(&e, true);
    int64_t id = queue_op(&e, "{\"psmo\":[{\"enable\":{\"iccid\":\"" HOST_ICCID_B "\"}}]}");
    e.drop_provide_answer = true;
    assert_int_equal(sgp32_ipa_start_poll(e.h.ipa), SGP32_OK);
    host_run(&e.h, 5000);
    assert_done(&e, id, "\"enable\":\"ok\"");
    poll_until_idle(&e);
    assert_int_equal(count_events(&e, "operation.result"), 1);
    assert_int_equal(get_op(&e, id).delivery_count, 1);
    assert_int_equal(host_card_pending(&e.h), 0);
    assert_true(e.provide_count >= 2);
    env_close(&e);
}

/* The IPA loses everything (no state survives) after the card ran the package and before the
 * result reached the eIM: the new IPA finds the result on the card and reports it before it
 * asks for packages; the operation completes, executed once. */
static void test_result_recovered_after_replay(void **state)
{
    (void)state;
    eim_env e;
    env_open(&e, true);
    int64_t id = queue_op(&e, "{\"psmo\":[{\"enable\":{\"iccid\":\"" HOST_ICCID_B "\"}}]}");
    /* every ESipa exchange after GetEimPackage fails, then the device loses its IPA state */
    e.h.fail_esipa_from = 2;
    e.h.fail_esipa_to = 1000;
    assert_int_equal(sgp32_ipa_start_poll(e.h.ipa), SGP32_OK);
    host_run(&e.h, 300);
    assert_string_equal(host_enabled(&e.h), HOST_ICCID_B);
    assert_int_equal(get_op(&e, id).state, SGP32_EIM_OP_DELIVERED);
    e.h.fail_esipa_from = e.h.fail_esipa_to = 0;
    /* a fresh IPA without any saved state that polls at once (no boot recovery) */
    sgp32_ipa_free(e.h.ipa);
    e.h.ipa = NULL;
    e.h.has_blob = false;
    host_new_ipa(&e.h);
    poll_until_idle(&e);
    assert_done(&e, id, "\"enable\":\"ok\"");
    assert_int_equal(get_op(&e, id).delivery_count, 1);
    assert_int_equal(count_events(&e, "operation.result"), 1);
    assert_int_equal(host_card_pending(&e.h), 0);
    assert_string_equal(host_enabled(&e.h), HOST_ICCID_B);
    env_close(&e);
}

/* One ESipa exchange by hand (a scripted IPA). */
static void esipa(eim_env *e, const sgp32_buf *request, sgp32_buf *answer)
{
    sgp32_eim_esipa_info info;
    sgp32_buf_reset(answer);
    assert_int_equal(sgp32_eim_esipa_handle(&e->s.srv, request->data, request->len, answer, &info), SGP32_OK);
    if (info.http_status != 200)
        fail_msg("HTTP %d: %s", info.http_status, info.outcome);
}

static void get_eim_package(eim_env *e, sgp32_buf *answer)
{
    sgp32_buf req;
    sgp32_buf_init(&req, 64);
    size_t mark = sgp32_asn1_begin(&req);
    assert_int_equal(sgp32_asn1_write_tlv(&req, 0x5A, sgp32_euicc_eid(e->h.f.euicc), 16), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&req, 0xBF4F, mark), SGP32_OK);
    esipa(e, &req, answer);
    sgp32_buf_free(&req);
}

static void provide(eim_env *e, const uint8_t *result, size_t len, sgp32_buf *answer)
{
    sgp32_buf req;
    sgp32_buf_init(&req, 1 << 16);
    size_t mark = sgp32_asn1_begin(&req);
    assert_int_equal(sgp32_asn1_write_tlv(&req, 0x5A, sgp32_euicc_eid(e->h.f.euicc), 16), SGP32_OK);
    assert_int_equal(sgp32_buf_append(&req, result, len), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&req, 0xBF50, mark), SGP32_OK);
    esipa(e, &req, answer);
    sgp32_buf_free(&req);
}

/* An IPA that does not recover results on its own: the eIM redelivers (the result was lost),
 * the card refuses the replay, the eIM then asks for the card's stored results
 * (IpaEuiccDataRequest euiccPackageResultList) and completes the operation from them. */
static void test_replay_refused_result_recovered(void **state)
{
    (void)state;
    eim_env e;
    env_open(&e, true);
    int64_t id = queue_op(&e, "{\"psmo\":[{\"enable\":{\"iccid\":\"" HOST_ICCID_B "\"}}]}");
    sgp32_buf first, second, epr, answer;
    sgp32_buf_init(&first, 1 << 16);
    sgp32_buf_init(&second, 1 << 16);
    sgp32_buf_init(&epr, 1 << 16);
    sgp32_buf_init(&answer, 1 << 16);
    get_eim_package(&e, &first);
    sgp32_asn1_tlv outer, pkg;
    assert_int_equal(sgp32_asn1_expect(first.data, first.len, 0xBF4F, &outer), SGP32_OK);
    assert_int_equal(sgp32_asn1_expect(outer.value.data, outer.value.len, 0xBF51, &pkg), SGP32_OK);
    /* the card runs it; the result never reaches the eIM */
    assert_int_equal(sgp32_euicc_es10(e.h.f.euicc, pkg.whole.data, pkg.whole.len, &epr), SGP32_OK);
    assert_string_equal(host_enabled(&e.h), HOST_ICCID_B);
    /* redelivery: the same bytes, refused by the card as a replay (signed error) */
    get_eim_package(&e, &second);
    assert_int_equal(second.len, first.len);
    assert_memory_equal(second.data, first.data, first.len);
    sgp32_buf_reset(&epr);
    assert_int_equal(sgp32_euicc_es10(e.h.f.euicc, pkg.whole.data, pkg.whole.len, &epr), SGP32_OK);
    provide(&e, epr.data, epr.len, &answer);
    assert_true(get_op(&e, id).state == SGP32_EIM_OP_DELIVERED);
    /* next poll: the eIM asks for the results the card holds */
    get_eim_package(&e, &answer);
    sgp32_asn1_tlv req, tags, txid;
    assert_int_equal(sgp32_asn1_expect(answer.data, answer.len, 0xBF4F, &outer), SGP32_OK);
    assert_int_equal(sgp32_asn1_expect(outer.value.data, outer.value.len, 0xBF52, &req), SGP32_OK);
    size_t used;
    assert_int_equal(sgp32_asn1_read_tlv(req.value.data, req.value.len, &tags, &used), SGP32_OK);
    assert_int_equal(tags.tag, 0x5C);
    assert_int_equal(tags.value.len, 1);
    assert_int_equal(tags.value.data[0], 0xA2);
    assert_int_equal(sgp32_asn1_read_tlv(req.value.data + used, req.value.len - used, &txid, NULL), SGP32_OK);
    assert_int_equal(txid.tag, 0x83);
    uint8_t txid_copy[8];
    assert_int_equal(txid.value.len, 8);
    memcpy(txid_copy, txid.value.data, 8);
    /* what an IPA answers: BF52 { A0 { A2 <the card's EPR list>, 87 txid } } */
    static const uint8_t search[] = {0xBF, 0x2B, 0x04, 0xA0, 0x02, 0x82, 0x00};
    sgp32_buf list;
    sgp32_buf_init(&list, 1 << 16);
    assert_int_equal(sgp32_euicc_es10(e.h.f.euicc, search, sizeof(search), &list), SGP32_OK);
    sgp32_asn1_tlv bf2b, a2;
    assert_int_equal(sgp32_asn1_expect(list.data, list.len, 0xBF2B, &bf2b), SGP32_OK);
    assert_int_equal(sgp32_asn1_expect(bf2b.value.data, bf2b.value.len, 0xA2, &a2), SGP32_OK);
    sgp32_buf data;
    sgp32_buf_init(&data, 1 << 16);
    size_t m1 = sgp32_asn1_begin(&data);
    size_t m2 = sgp32_asn1_begin(&data);
    assert_int_equal(sgp32_buf_append(&data, a2.whole.data, a2.whole.len), SGP32_OK);
    assert_int_equal(sgp32_asn1_write_tlv(&data, 0x87, txid_copy, 8), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&data, 0xA0, m2), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&data, 0xBF52, m1), SGP32_OK);
    provide(&e, data.data, data.len, &answer);
    assert_done(&e, id, "\"enable\":\"ok\"");
    assert_int_equal(get_op(&e, id).delivery_count, 2);
    /* the EPR's seqNumber is acknowledged: BF50 { BF53 { 80 seq } } */
    assert_int_equal(answer.data[3], 0xBF);
    assert_int_equal(answer.data[4], 0x53);
    assert_int_equal(count_events(&e, "operation.result"), 1);
    /* and the queue is empty */
    get_eim_package(&e, &answer);
    static const uint8_t none[] = {0xBF, 0x4F, 0x03, 0x02, 0x01, 0x01};
    assert_int_equal(answer.len, sizeof(none));
    assert_memory_equal(answer.data, none, sizeof(none));
    sgp32_buf *bufs[] = {&first, &second, &epr, &answer, &list, &data};
    for (size_t i = 0; i < 6; i++)
        sgp32_buf_free(bufs[i]);
    env_close(&e);
}

static bool holds(const sgp32_buf *b, const char *text)
{
    size_t n = strlen(text);
    for (size_t i = 0; i + n <= b->len; i++)
        if (memcmp(b->data + i, text, n) == 0)
            return true;
    return false;
}

/* eIM portability (SGP.32 §3.5): the first eIM adds a second one by eCO and deletes itself; the
 * IPA then reads the eUICC's eIM configuration again and the second eIM manages the device. */
static void test_eim_portability(void **state)
{
    (void)state;
    eim_env e;
    env_open(&e, true);
    /* the second eIM: its own key, store, and association (the token it chose); no certificate:
     * it learns it */
    sgp32_ec_private_key k2;
    sgp32_ec_public_key p2;
    assert_int_equal(sgp32_ec_generate(SGP32_CURVE_NIST_P256, &k2, &p2), SGP32_OK);
    eim_test_server second;
    sgp32_eim_server_config c2 = {.eim_id = SECOND_EIM, .signing_key = &k2};
    eim_test_server_open(&second, &c2);
    sgp32_eim_server *srv2 = &second.srv;
    eim_test_register(srv2, e.eid, true, 4242, false, NULL);
    e.second = srv2;

    sgp32_buf spki;
    sgp32_buf_init(&spki, 256);
    assert_int_equal(sgp32_ec_public_to_spki(&p2, &spki), SGP32_OK);
    char b64[512], json[1024];
    sgp32_base64_encode(spki.data, spki.len, b64);
    snprintf(json, sizeof(json),
             "{\"eco\":[{\"addEim\":{\"eimId\":\"" SECOND_EIM "\",\"eimFqdn\":\"" SECOND_EIM
             "\",\"eimIdType\":\"fqdn\",\"counterValue\":0,\"associationToken\":4242,"
             "\"eimPublicKey\":\"%s\"}}]}",
             b64);
    int64_t add = queue_op(&e, json);
    int64_t del = queue_op(&e, "{\"eco\":[{\"deleteEim\":{\"eimId\":\"" HOST_EIM_ID "\"}}]}");
    int64_t list = eim_test_queue(srv2, e.eid, "{\"psmo\":[{\"listProfileInfo\":{}}]}");
    poll_until_idle(&e);
    assert_done(&e, add, "addEim");
    assert_done(&e, del, "\"deleteEim\":\"ok\"");
    sgp32_eim_euicc first;
    sgp32_eim_euicc_init(&first);
    assert_int_equal(e.s.srv.config.store.euicc_get(e.s.srv.config.store.ctx, e.eid, &first), SGP32_OK);
    assert_false(first.associated); /* the first eIM knows it let go */
    sgp32_eim_euicc_free(&first);

    /* the next procedure goes to the second eIM */
    poll_until_idle(&e);
    assert_true(e.second_requests > 0);
    sgp32_eim_operation op;
    sgp32_eim_operation_init(&op);
    assert_int_equal(srv2->config.store.op_get(srv2->config.store.ctx, list, &op), SGP32_OK);
    if (op.state != SGP32_EIM_OP_DONE)
        fail_msg("second eIM's operation is %s: %.*s", sgp32_eim_op_state_name(op.state),
                 (int)op.result_json.len, (const char *)op.result_json.data);
    sgp32_eim_operation_free(&op);
    /* the card holds the second eIM only */
    static const uint8_t get_config[] = {0xBF, 0x55, 0x00};
    sgp32_buf cfg;
    sgp32_buf_init(&cfg, 1 << 16);
    assert_int_equal(sgp32_euicc_es10(e.h.f.euicc, get_config, sizeof(get_config), &cfg), SGP32_OK);
    assert_true(holds(&cfg, SECOND_EIM));
    assert_false(holds(&cfg, HOST_EIM_ID));
    sgp32_buf_free(&cfg);
    sgp32_buf_free(&spki);
    e.second = NULL;
    eim_test_server_close(&second);
    env_close(&e);
}

/* IpaEuiccData and an unknown EID. */
static void test_ipa_euicc_data_and_unknown_eid(void **state)
{
    (void)state;
    eim_env e;
    env_open(&e, true);
    int64_t id = queue_op(&e, "{\"ipaEuiccData\":{\"tags\":[\"defaultSmdpAddress\",\"euiccInfo1\"]}}");
    poll_until_idle(&e);
    assert_done(&e, id, "defaultSmdpAddress");

    static const uint8_t unknown[] = {0xBF, 0x4F, 0x12, 0x5A, 0x10, 0x89, 0x04, 0x90, 0x32, 0x12, 0x34,
                                      0x51, 0x23, 0x45, 0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x00};
    uint8_t req[sizeof(unknown)];
    memcpy(req, unknown, sizeof(req));
    req[sizeof(req) - 1] = 0x41; /* some other EID (check digits are judged: invalidEid or not found) */
    sgp32_buf out;
    sgp32_buf_init(&out, 4096);
    sgp32_eim_esipa_info info;
    assert_int_equal(sgp32_eim_esipa_handle(&e.s.srv, req, sizeof(req), &out, &info), SGP32_OK);
    assert_int_equal(info.http_status, 200);
    assert_int_equal(out.len, 6);
    assert_int_equal(out.data[3], 0x02);
    assert_true(out.data[5] == 2 || out.data[5] == 3);
    /* not an ESipa message at all */
    static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    assert_int_equal(sgp32_eim_esipa_handle(&e.s.srv, junk, sizeof(junk), &out, &info), SGP32_OK);
    assert_int_equal(info.http_status, 400);
    sgp32_buf_free(&out);
    env_close(&e);
}

/* A download trigger: the IPA downloads directly from the (scripted) SM-DP+ and reports. */
static void test_download_trigger(void **state)
{
    (void)state;
    eim_env e;
    env_open(&e, true);
    host_load_profile(&e.h, SGP32_SPEC_DIR "/profiles/TS48V1-A-UNIQUE.der");
    int64_t id = queue_op(&e, "{\"download\":{\"activationCode\":\"LPA:" HOST_AC "\"}}");
    poll_until_idle(&e);
    assert_done(&e, id, "\"success\":true");
    env_close(&e);
}

/* A download trigger with an IPA that downloads through the eIM: the relay to the SM-DP+. */
static void test_indirect_download_relayed(void **state)
{
    (void)state;
    eim_env e;
    env_open_with(&e, true, SGP32_IPA_FEATURE_INDIRECT_RSP_SERVER_COMMUNICATION);
    host_load_profile(&e.h, SGP32_SPEC_DIR "/profiles/TS48V1-A-UNIQUE.der");
    int64_t id = queue_op(&e, "{\"download\":{\"activationCode\":\"" HOST_AC "\"}}");
    poll_until_idle(&e);
    assert_done(&e, id, "\"success\":true");
    assert_true(e.es9_calls >= 3); /* initiateAuthentication, authenticateClient, getBoundProfilePackage */
    /* the PIR waits in the outbox until it is forwarded to the SM-DP+, which verifies it */
    assert_false(e.h.pir_verified);
    size_t forwarded = 0;
    assert_int_equal(sgp32_eim_forward_notifications(&e.s.srv, 10, &forwarded), SGP32_OK);
    assert_true(forwarded >= 1);
    assert_true(e.h.pir_verified);
    assert_true(e.h.pir_success);
    env_close(&e);
}

/* The JSON binding runs the same code. */
static void test_json_binding(void **state)
{
    (void)state;
    eim_env e;
    env_open(&e, true);
    int64_t id = queue_op(&e, "{\"psmo\":[{\"listProfileInfo\":{}}]}");
    char body[128];
    snprintf(body, sizeof(body), "{\"eidValue\":\"%s\"}", e.eid);
    sgp32_buf out;
    sgp32_buf_init(&out, 1 << 16);
    sgp32_eim_esipa_info info;
    assert_int_equal(sgp32_eim_esipa_json_handle(&e.s.srv, "getEimPackage", body, strlen(body), &out, &info),
                     SGP32_OK);
    assert_int_equal(info.http_status, 200);
    assert_non_null(strstr((const char *)out.data, "euiccPackageRequest"));
    assert_int_equal(get_op(&e, id).state, SGP32_EIM_OP_DELIVERED);
    assert_int_equal(
        sgp32_eim_esipa_json_handle(&e.s.srv, "getEimPackage", "{\"eidValue\":", 12, &out, &info), SGP32_OK);
    assert_int_equal(info.http_status, 400);
    sgp32_buf_free(&out);
    env_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_psmo),
        cmocka_unit_test(test_multi_psmo_package),
        cmocka_unit_test(test_every_eco),
        cmocka_unit_test(test_certificates_learned),
        cmocka_unit_test(test_tampered_result_rejected),
        cmocka_unit_test(test_replayed_result_deduplicated),
        cmocka_unit_test(test_lost_package_redelivered),
        cmocka_unit_test(test_lost_acknowledgement),
        cmocka_unit_test(test_result_recovered_after_replay),
        cmocka_unit_test(test_replay_refused_result_recovered),
        cmocka_unit_test(test_ipa_euicc_data_and_unknown_eid),
        cmocka_unit_test(test_download_trigger),
        cmocka_unit_test(test_indirect_download_relayed),
        cmocka_unit_test(test_json_binding),
        cmocka_unit_test(test_eim_portability),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

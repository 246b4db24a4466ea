/*
 * TransferEimPackage, the push (SGP.32 §5.14.4, §3.1.1.2), with both cores in process: the eIM
 * (lib/eim) prepares the request, the IPA core (lib/ipa, driven by tests/unit/ipa_host.c with a
 * software eUICC) takes it with sgp32_ipa_start_push, its PUSH_RESPONSE goes back to
 * sgp32_eim_transfer_eim_package_response, and whatever the IPA sends on its own
 * (ProvideEimPackageResult) goes to sgp32_eim_esipa_handle, as over the wire.
 *
 * A pushed PSMO runs once and completes with its verified result; eUICC data comes back in the
 * push answer itself; certificates and a lost result are asked for by push too; a lost push (the
 * request or its answer, and the report after it) is delivered again by push or by the next poll
 * and the card runs it once; garbled answers are refused and change nothing.
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

typedef struct eim_env {
    host h;
    eim_test_server s;
    char eid[SGP32_EIM_EID_DIGITS + 1];
    sgp32_buf request;  /* the last TransferEimPackageRequest */
    bool answer_inline; /* hand the PUSH_RESPONSE to the eIM the moment the IPA emits it */
    bool drop_provide;  /* the next ProvideEimPackageResult never reaches the eIM */
    sgp32_eim_esipa_info push_info;
    int push_rc;
    size_t push_answers, provide_count, get_count;
} eim_env;

static eim_env *env_of(host *h)
{
    return (eim_env *)h->exchange_ctx;
}

/* The IPA's own ESipa requests (after a push: ProvideEimPackageResult) to the eIM core. */
static int exchange(host *h, const sgp32_ipa_action *a, sgp32_buf *response)
{
    eim_env *e = env_of(h);
    assert_int_equal(a->type, SGP32_IPA_ACT_SEND_ESIPA);
    uint32_t tag = a->data.len > 1 ? (uint32_t)(a->data.data[0] << 8 | a->data.data[1]) : 0;
    if (tag == 0xBF50 && e->drop_provide) {
        e->drop_provide = false;
        return SGP32_ERR_TRANSPORT_CLOSED; /* lost on the way: the eIM never sees it */
    }
    sgp32_eim_esipa_info info;
    assert_int_equal(sgp32_eim_esipa_handle(&e->s.srv, a->data.data, a->data.len, response, &info), SGP32_OK);
    if (info.http_status != 200 && info.http_status != 204)
        fail_msg("HTTP %d: %s", info.http_status, info.outcome);
    if (tag == 0xBF50)
        e->provide_count++;
    if (tag == 0xBF4F)
        e->get_count++;
    return SGP32_OK;
}

/* eimd's order: the push answer is handled as soon as it comes, before the IPA reports. */
static void record(host *h, const sgp32_ipa_action *a, const sgp32_ipa_event *ev)
{
    (void)ev;
    eim_env *e = env_of(h);
    if (a->type != SGP32_IPA_ACT_PUSH_RESPONSE || !e->answer_inline)
        return;
    e->push_rc =
        sgp32_eim_transfer_eim_package_response(&e->s.srv, e->eid, a->data.data, a->data.len, &e->push_info);
    e->push_answers++;
}

static void env_open(eim_env *e, bool register_certificates)
{
    memset(e, 0, sizeof(*e));
    host_open(&e->h, SGP32_IPA_FEATURE_DIRECT_RSP_SERVER_COMMUNICATION);
    e->h.exchange = exchange;
    e->h.exchange_ctx = e;
    e->h.record = record;
    e->answer_inline = true;
    sgp32_buf_init(&e->request, 1 << 16);
    sgp32_eim_server_config c = {.eim_id = HOST_EIM_ID, .signing_key = &e->h.eim_key, .push_https = true};
    eim_test_server_open(&e->s, &c);
    snprintf(e->eid, sizeof(e->eid), "%s", EUICC_FIXTURE_EID);
    eim_test_register(&e->s.srv, e->eid, e->h.has_token, e->h.token, register_certificates,
                      "device.example.com:9443");
    /* a running IPA: booted (EID, eIM address) and polled once, idle now */
    assert_int_equal(sgp32_ipa_start_boot(e->h.ipa), SGP32_OK);
    assert_int_equal(host_run(&e->h, 1000), HOST_IDLE);
    e->get_count = 0;
}

static void env_close(eim_env *e)
{
    host_close(&e->h);
    eim_test_server_close(&e->s);
    sgp32_buf_free(&e->request);
}

static int64_t queue_op(eim_env *e, const char *json)
{
    return eim_test_queue(&e->s.srv, e->eid, json);
}

static eim_test_op get_op(eim_env *e, int64_t id)
{
    return eim_test_get_op(&e->s.srv, id);
}

static void assert_state(eim_env *e, int64_t id, sgp32_eim_op_state want, const char *expect_in_json)
{
    eim_test_assert_op(&e->s.srv, id, want, expect_in_json);
}

static size_t count_events(eim_env *e, const char *action)
{
    return eim_test_count_events(&e->s.srv, action);
}

/* prepare -> BF4E {inner}; returns the operation id it serves. */
static int64_t prepare(eim_env *e, uint32_t inner)
{
    int64_t id = -1;
    sgp32_buf_reset(&e->request);
    assert_int_equal(sgp32_eim_transfer_eim_package_prepare(&e->s.srv, e->eid, &e->request, &id), SGP32_OK);
    sgp32_asn1_tlv outer, pkg;
    assert_int_equal(sgp32_asn1_expect(e->request.data, e->request.len, 0xBF4E, &outer), SGP32_OK);
    assert_int_equal(sgp32_asn1_read_tlv(outer.value.data, outer.value.len, &pkg, NULL), SGP32_OK);
    assert_int_equal(pkg.tag, inner);
    assert_int_equal(pkg.whole.len, outer.value.len);
    assert_true(id > 0);
    return id;
}

/* The IPA takes the request and runs until it has nothing left to do. */
static host_stop push(eim_env *e)
{
    assert_int_equal(sgp32_ipa_start_push(e->h.ipa, e->request.data, e->request.len), SGP32_OK);
    return host_run(&e->h, 5000);
}

static void answer_later(eim_env *e)
{
    e->push_rc = sgp32_eim_transfer_eim_package_response(&e->s.srv, e->eid, e->h.push_response.data,
                                                         e->h.push_response.len, &e->push_info);
    e->push_answers++;
}

static bool push_response_is(eim_env *e, const uint8_t *want, size_t len)
{
    return e->h.push_response.len == len && memcmp(e->h.push_response.data, want, len) == 0;
}

static const uint8_t received[] = {0xBF, 0x4E, 0x02, 0x05, 0x00};

/* ------------------------------------------------------------------ tests */

/* A pushed PSMO: eimPackageReceived at once, the card runs it, the IPA reports it by
 * ProvideEimPackageResult; the operation is done with the verified result, executed once, and no
 * poll was needed. */
static void test_push_psmo(void **state)
{
    (void)state;
    eim_env e;
    env_open(&e, true);
    int64_t id = queue_op(&e, "{\"psmo\":[{\"enable\":{\"iccid\":\"" HOST_ICCID_B "\"}}]}");
    assert_int_equal(prepare(&e, 0xBF51), id);
    assert_int_equal(get_op(&e, id).state, SGP32_EIM_OP_DELIVERED);
    assert_int_equal(push(&e), HOST_IDLE);
    assert_true(push_response_is(&e, received, sizeof(received)));
    /* the answer was taken while the operation still waited for its result */
    assert_int_equal(e.push_rc, SGP32_OK);
    assert_int_equal(e.push_info.function_tag, 0xBF4E);
    assert_int_equal(e.push_info.operation_id, id);
    assert_non_null(strstr(e.push_info.outcome, "received"));
    assert_int_equal(e.push_info.acknowledge_count, 0);
    assert_state(&e, id, SGP32_EIM_OP_DONE, "\"enable\":\"ok\"");
    eim_test_op v = get_op(&e, id);
    assert_int_equal(v.delivery_count, 1);
    assert_int_equal(v.counter, 1);
    assert_true(v.result_len > 0);
    assert_int_equal(e.provide_count, 1);
    assert_int_equal(e.get_count, 0); /* no poll */
    assert_string_equal(host_enabled(&e.h), HOST_ICCID_B);
    assert_int_equal(host_card_pending(&e.h), 0); /* acknowledged and removed */
    assert_int_equal(count_events(&e, "operation.result"), 1);
    assert_int_equal(count_events(&e, "operation.pushed"), 1);
    assert_int_equal(sgp32_ipa_get_stats(e.h.ipa)->packages, 1);
    /* the same answer handled again after the result: nothing open, nothing changes */
    answer_later(&e);
    assert_int_equal(e.push_rc, SGP32_OK);
    assert_state(&e, id, SGP32_EIM_OP_DONE, NULL);
    /* nothing left to push */
    int64_t none = 7;
    sgp32_buf_reset(&e.request);
    assert_int_equal(sgp32_eim_transfer_eim_package_prepare(&e.s.srv, e.eid, &e.request, &none),
                     SGP32_ERR_NOT_FOUND);
    assert_int_equal(none, 0);
    assert_int_equal(e.request.len, 0);
    assert_int_equal(sgp32_eim_transfer_eim_package_prepare(&e.s.srv, "89049032123451234512345678901234",
                                                            &e.request, &none),
                     SGP32_ERR_NOT_FOUND);
    env_close(&e);
}

/* Several operations, each pushed in turn: pull and push use one queue and one counter. */
static void test_push_queue_in_order(void **state)
{
    (void)state;
    eim_env e;
    env_open(&e, true);
    int64_t a = queue_op(&e, "{\"psmo\":[{\"enable\":{\"iccid\":\"" HOST_ICCID_B "\"}}]}");
    int64_t b = queue_op(&e, "{\"psmo\":[{\"listProfileInfo\":{}}]}");
    int64_t c = queue_op(&e, "{\"psmo\":[{\"delete\":{\"iccid\":\"" HOST_ICCID_C "\"}}]}");
    assert_int_equal(prepare(&e, 0xBF51), a);
    assert_int_equal(push(&e), HOST_IDLE);
    assert_int_equal(prepare(&e, 0xBF51), b);
    assert_int_equal(push(&e), HOST_IDLE);
    /* the third goes by poll: the same queue */
    assert_int_equal(sgp32_ipa_start_poll(e.h.ipa), SGP32_OK);
    assert_int_equal(host_run(&e.h, 5000), HOST_IDLE);
    assert_state(&e, a, SGP32_EIM_OP_DONE, "\"enable\":\"ok\"");
    assert_state(&e, b, SGP32_EIM_OP_DONE, "listProfileInfo");
    assert_state(&e, c, SGP32_EIM_OP_DONE, "\"delete\":\"ok\"");
    assert_true(get_op(&e, a).counter < get_op(&e, b).counter);
    assert_true(get_op(&e, b).counter < get_op(&e, c).counter);
    assert_int_equal(host_card_pending(&e.h), 0);
    env_close(&e);
}

/* eUICC data comes back in the push answer itself: taken in, the operation done. */
static void test_push_ipa_euicc_data(void **state)
{
    (void)state;
    eim_env e;
    env_open(&e, true);
    int64_t id = queue_op(&e, "{\"ipaEuiccData\":{\"tags\":[\"defaultSmdpAddress\",\"euiccInfo1\"]}}");
    assert_int_equal(prepare(&e, 0xBF52), id);
    assert_int_equal(push(&e), HOST_IDLE);
    assert_int_equal(e.h.push_response.data[0], 0xBF);
    assert_int_equal(e.h.push_response.data[1], 0x4E);
    assert_int_equal(e.push_rc, SGP32_OK);
    assert_int_equal(e.push_info.operation_id, id);
    assert_state(&e, id, SGP32_EIM_OP_DONE, "defaultSmdpAddress");
    assert_int_equal(e.provide_count, 0); /* the answer was the report */
    env_close(&e);
}

/* No certificate known: the eIM pushes the certificates request first, learns them from the
 * answer, then pushes the PSMO. */
static void test_push_learns_certificates(void **state)
{
    (void)state;
    eim_env e;
    env_open(&e, false);
    int64_t id = queue_op(&e, "{\"psmo\":[{\"disable\":{\"iccid\":\"" HOST_ICCID_A "\"}}]}");
    assert_int_equal(prepare(&e, 0xBF52), id);
    assert_int_equal(get_op(&e, id).state, SGP32_EIM_OP_QUEUED);
    assert_int_equal(push(&e), HOST_IDLE);
    assert_int_equal(e.push_rc, SGP32_OK);
    assert_int_equal(count_events(&e, "device.certificate"), 1);
    assert_int_equal(prepare(&e, 0xBF51), id);
    assert_int_equal(push(&e), HOST_IDLE);
    assert_state(&e, id, SGP32_EIM_OP_DONE, "\"disable\":\"ok\"");
    env_close(&e);
}

/* The push request never reaches the IPA (the connection failed): the operation was delivered,
 * so the next poll gets the same signed bytes, and the card runs it once. */
static void test_lost_push_redelivered_by_poll(void **state)
{
    (void)state;
    eim_env e;
    env_open(&e, true);
    int64_t id = queue_op(&e, "{\"psmo\":[{\"enable\":{\"iccid\":\"" HOST_ICCID_B "\"}}]}");
    assert_int_equal(prepare(&e, 0xBF51), id);
    sgp32_buf first;
    sgp32_buf_init(&first, 1 << 16);
    assert_int_equal(sgp32_buf_append(&first, e.request.data, e.request.len), SGP32_OK);
    /* a second push attempt sends the very same bytes */
    assert_int_equal(prepare(&e, 0xBF51), id);
    assert_int_equal(e.request.len, first.len);
    assert_memory_equal(e.request.data, first.data, first.len);
    assert_int_equal(get_op(&e, id).delivery_count, 2);
    assert_int_equal(sgp32_ipa_start_poll(e.h.ipa), SGP32_OK);
    assert_int_equal(host_run(&e.h, 5000), HOST_IDLE);
    assert_state(&e, id, SGP32_EIM_OP_DONE, "\"enable\":\"ok\"");
    eim_test_op v = get_op(&e, id);
    assert_int_equal(v.delivery_count, 3);
    assert_int_equal(v.counter, 1);
    assert_int_equal(count_events(&e, "operation.result"), 1);
    assert_int_equal(sgp32_ipa_get_stats(e.h.ipa)->packages, 1);
    assert_int_equal(host_card_pending(&e.h), 0);
    sgp32_buf_free(&first);
    env_close(&e);
}

/* The card ran the pushed package, but neither the push answer nor the report reached the eIM.
 * The next poll: the IPA reports the pending result first, and the operation completes without
 * running again. */
static void test_lost_push_answer_then_poll(void **state)
{
    (void)state;
    eim_env e;
    env_open(&e, true);
    int64_t id = queue_op(&e, "{\"psmo\":[{\"enable\":{\"iccid\":\"" HOST_ICCID_B "\"}}]}");
    assert_int_equal(prepare(&e, 0xBF51), id);
    e.answer_inline = false; /* the push answer is lost */
    e.h.auto_timer = false;
    e.drop_provide = true; /* and so is the report */
    assert_int_equal(push(&e), HOST_WAITING);
    assert_string_equal(host_enabled(&e.h), HOST_ICCID_B);
    assert_int_equal(e.push_answers, 0);
    assert_int_equal(get_op(&e, id).state, SGP32_EIM_OP_DELIVERED);
    assert_int_equal(sgp32_ipa_start_poll(e.h.ipa), SGP32_OK);
    assert_int_equal(host_run(&e.h, 5000), HOST_IDLE);
    assert_state(&e, id, SGP32_EIM_OP_DONE, "\"enable\":\"ok\"");
    assert_int_equal(get_op(&e, id).delivery_count, 1);
    assert_int_equal(count_events(&e, "operation.result"), 1);
    assert_int_equal(sgp32_ipa_get_stats(e.h.ipa)->packages, 1);
    assert_int_equal(host_card_pending(&e.h), 0);
    env_close(&e);
}

/* The same loss, recovered by push alone: the eIM pushes the same bytes again, the card refuses
 * them as a replay (the IPA reports that), so the eIM pushes a request for the card's stored
 * results, takes the EPR from that answer and pushes the acknowledgement. Executed once. */
static void test_lost_push_answer_then_push(void **state)
{
    (void)state;
    eim_env e;
    env_open(&e, true);
    int64_t id = queue_op(&e, "{\"psmo\":[{\"enable\":{\"iccid\":\"" HOST_ICCID_B "\"}}]}");
    assert_int_equal(prepare(&e, 0xBF51), id);
    sgp32_buf first;
    sgp32_buf_init(&first, 1 << 16);
    assert_int_equal(sgp32_buf_append(&first, e.request.data, e.request.len), SGP32_OK);
    e.answer_inline = false;
    e.h.auto_timer = false;
    e.drop_provide = true;
    assert_int_equal(push(&e), HOST_WAITING);
    e.answer_inline = true;
    assert_int_equal(prepare(&e, 0xBF51), id);
    assert_int_equal(e.request.len, first.len);
    assert_memory_equal(e.request.data, first.data, first.len);
    push(&e);
    assert_true(push_response_is(&e, received, sizeof(received)));
    eim_test_op v = get_op(&e, id);
    assert_int_equal(v.state, SGP32_EIM_OP_DELIVERED);
    assert_true(v.awaiting_result); /* the card has run it: its result is asked for, not the package */
    assert_int_equal(prepare(&e, 0xBF52), id);
    push(&e);
    assert_int_equal(e.push_rc, SGP32_OK);
    assert_state(&e, id, SGP32_EIM_OP_DONE, "\"enable\":\"ok\"");
    assert_true(e.push_info.acknowledge_count >= 1);
    sgp32_buf_reset(&e.request);
    assert_int_equal(sgp32_eim_transfer_eim_acknowledgements(e.push_info.acknowledge,
                                                             e.push_info.acknowledge_count, &e.request),
                     SGP32_OK);
    e.answer_inline = false;
    push(&e);
    assert_true(push_response_is(&e, received, sizeof(received)));
    v = get_op(&e, id);
    assert_int_equal(v.counter, 1);
    assert_int_equal(v.delivery_count, 2);
    assert_int_equal(count_events(&e, "operation.result"), 1);
    assert_string_equal(host_enabled(&e.h), HOST_ICCID_B);
    assert_int_equal(e.get_count, 0);
    /* the notifications the enable made go with the next poll */
    assert_int_equal(sgp32_ipa_start_poll(e.h.ipa), SGP32_OK);
    assert_int_equal(host_run(&e.h, 5000), HOST_IDLE);
    assert_int_equal(host_card_pending(&e.h), 0);
    assert_int_equal(count_events(&e, "operation.result"), 1);
    sgp32_buf_free(&first);
    env_close(&e);
}

/* An IPA that answers the redelivery with the card's replay refusal in the push answer itself:
 * the eIM asks for the card's stored results by push, takes the EPR from that answer, and pushes
 * the acknowledgement (eimAcknowledgements) that frees it on the card. */
static void test_push_recovers_result(void **state)
{
    (void)state;
    eim_env e;
    env_open(&e, true);
    int64_t id = queue_op(&e, "{\"psmo\":[{\"enable\":{\"iccid\":\"" HOST_ICCID_B "\"}}]}");
    assert_int_equal(prepare(&e, 0xBF51), id);
    e.answer_inline = false;
    e.h.auto_timer = false;
    e.drop_provide = true;
    assert_int_equal(push(&e), HOST_WAITING);
    e.answer_inline = true;
    size_t pending = host_card_pending(&e.h);
    assert_true(pending >= 1);

    /* the redelivery, run on the card and answered inline: BF4E {BF51 replayError} */
    assert_int_equal(prepare(&e, 0xBF51), id);
    sgp32_asn1_tlv outer, pkg;
    assert_int_equal(sgp32_asn1_expect(e.request.data, e.request.len, 0xBF4E, &outer), SGP32_OK);
    assert_int_equal(sgp32_asn1_expect(outer.value.data, outer.value.len, 0xBF51, &pkg), SGP32_OK);
    sgp32_buf epr, answer;
    sgp32_buf_init(&epr, 1 << 16);
    sgp32_buf_init(&answer, 1 << 16);
    assert_int_equal(sgp32_euicc_es10(e.h.f.euicc, pkg.whole.data, pkg.whole.len, &epr), SGP32_OK);
    size_t mark = sgp32_asn1_begin(&answer);
    assert_int_equal(sgp32_buf_append(&answer, epr.data, epr.len), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&answer, 0xBF4E, mark), SGP32_OK);
    sgp32_eim_esipa_info info;
    assert_int_equal(sgp32_eim_transfer_eim_package_response(&e.s.srv, e.eid, answer.data, answer.len, &info),
                     SGP32_OK);
    assert_int_equal(info.acknowledge_count, 0);
    eim_test_op v = get_op(&e, id);
    assert_int_equal(v.state, SGP32_EIM_OP_DELIVERED);
    assert_true(v.awaiting_result);

    /* the eIM pushes IpaEuiccDataRequest {euiccPackageResultList}; the IPA answers with the list
     * (and the IPA's own report of the result it holds does not get through this time) */
    e.h.fail_esipa_from = e.h.esipa + 1;
    e.h.fail_esipa_to = 100000;
    assert_int_equal(prepare(&e, 0xBF52), id);
    assert_int_equal(push(&e), HOST_WAITING);
    assert_int_equal(e.push_rc, SGP32_OK);
    assert_state(&e, id, SGP32_EIM_OP_DONE, "\"enable\":\"ok\"");
    assert_true(e.push_info.acknowledge_count >= 1);
    assert_int_equal(count_events(&e, "operation.result"), 1);

    /* the acknowledgement, pushed: the card frees the EPR */
    size_t before = host_card_pending(&e.h);
    sgp32_buf_reset(&e.request);
    assert_int_equal(sgp32_eim_transfer_eim_acknowledgements(e.push_info.acknowledge,
                                                             e.push_info.acknowledge_count, &e.request),
                     SGP32_OK);
    e.answer_inline = false;
    push(&e);
    assert_true(push_response_is(&e, received, sizeof(received)));
    assert_true(host_card_pending(&e.h) < before);

    /* the next poll finds nothing to run, and whatever is left goes */
    e.h.fail_esipa_from = e.h.fail_esipa_to = 0;
    assert_int_equal(sgp32_ipa_start_poll(e.h.ipa), SGP32_OK);
    assert_int_equal(host_run(&e.h, 5000), HOST_IDLE);
    assert_int_equal(host_card_pending(&e.h), 0);
    assert_int_equal(count_events(&e, "operation.result"), 1);
    assert_int_equal(get_op(&e, id).counter, 1);
    assert_string_equal(host_enabled(&e.h), HOST_ICCID_B);
    sgp32_buf_free(&epr);
    sgp32_buf_free(&answer);
    env_close(&e);
}

/* The IPA refuses the pushed package (eimPackageError): the operation fails with the name. */
static void test_push_package_error(void **state)
{
    (void)state;
    eim_env e;
    env_open(&e, true);
    int64_t id = queue_op(&e, "{\"psmo\":[{\"getRAT\":{}}]}");
    assert_int_equal(prepare(&e, 0xBF51), id);
    static const uint8_t unknown_package[] = {0xBF, 0x4E, 0x03, 0x02, 0x01, 0x02};
    sgp32_eim_esipa_info info;
    assert_int_equal(sgp32_eim_transfer_eim_package_response(&e.s.srv, e.eid, unknown_package,
                                                             sizeof(unknown_package), &info),
                     SGP32_OK);
    assert_int_equal(info.operation_id, id);
    assert_state(&e, id, SGP32_EIM_OP_FAILED, "\"error\":\"unknownPackage\"");
    /* the IPA core's own refusal of something that is no package */
    static const uint8_t junk_push[] = {0xBF, 0x4E, 0x03, 0x04, 0x01, 0x00};
    assert_int_equal(sgp32_ipa_start_push(e.h.ipa, junk_push, sizeof(junk_push)), SGP32_OK);
    e.answer_inline = false;
    assert_int_equal(host_run(&e.h, 100), HOST_IDLE);
    static const uint8_t invalid_format[] = {0xBF, 0x4E, 0x03, 0x02, 0x01, 0x01};
    assert_true(push_response_is(&e, invalid_format, sizeof(invalid_format)));
    env_close(&e);
}

/* Answers that are not what TransferEimPackage answers, or whose result does not verify: refused,
 * nothing recorded, the operation stays delivered and goes again. */
static void test_garbled_answers_refused(void **state)
{
    (void)state;
    eim_env e;
    env_open(&e, true);
    int64_t id = queue_op(&e, "{\"psmo\":[{\"enable\":{\"iccid\":\"" HOST_ICCID_B "\"}}]}");
    assert_int_equal(prepare(&e, 0xBF51), id);
    static const uint8_t empty[] = {0};
    static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    static const uint8_t unknown_choice[] = {0xBF, 0x4E, 0x03, 0x04, 0x01, 0x00};
    static const uint8_t truncated[] = {0xBF, 0x4E, 0x05, 0x05, 0x00};
    static const uint8_t trailing[] = {0xBF, 0x4E, 0x02, 0x05, 0x00, 0x00};
    static const uint8_t empty_outer[] = {0xBF, 0x4E, 0x00};
    static const uint8_t bad_epr[] = {0xBF, 0x4E, 0x05, 0xBF, 0x51, 0x02, 0x30, 0x00};
    const struct {
        const uint8_t *der;
        size_t len;
    } answers[] = {
        {empty, 0},
        {junk, sizeof(junk)},
        {unknown_choice, sizeof(unknown_choice)},
        {truncated, sizeof(truncated)},
        {trailing, sizeof(trailing)},
        {empty_outer, sizeof(empty_outer)},
        {bad_epr, sizeof(bad_epr)},
    };
    for (size_t i = 0; i < SGP32_ARRAY_LEN(answers); i++) {
        sgp32_eim_esipa_info info;
        int rc =
            sgp32_eim_transfer_eim_package_response(&e.s.srv, e.eid, answers[i].der, answers[i].len, &info);
        if (rc == SGP32_OK)
            fail_msg("answer %zu accepted: %s", i, info.outcome);
        assert_int_equal(get_op(&e, id).state, SGP32_EIM_OP_DELIVERED);
    }
    /* a real EPR with one bit of its signature flipped */
    assert_int_equal(push(&e), HOST_IDLE);
    assert_state(&e, id, SGP32_EIM_OP_DONE, NULL);
    sgp32_buf *epr_report = &e.h.sent[SGP32_IPA_FN_PROVIDE_EIM_PACKAGE_RESULT];
    sgp32_asn1_tlv outer, eid, result, epr;
    assert_int_equal(sgp32_asn1_expect(epr_report->data, epr_report->len, 0xBF50, &outer), SGP32_OK);
    size_t used = 0;
    assert_int_equal(sgp32_asn1_read_tlv(outer.value.data, outer.value.len, &eid, &used), SGP32_OK);
    assert_int_equal(sgp32_asn1_read_tlv(outer.value.data + used, outer.value.len - used, &result, NULL),
                     SGP32_OK);
    if (result.tag == 0x30)
        assert_int_equal(sgp32_asn1_read_tlv(result.value.data, result.value.len, &epr, NULL), SGP32_OK);
    else
        epr = result;
    assert_int_equal(epr.tag, 0xBF51);
    /* another operation, answered with a forged result: refused */
    int64_t next = queue_op(&e, "{\"psmo\":[{\"getRAT\":{}}]}");
    assert_int_equal(prepare(&e, 0xBF51), next);
    sgp32_buf forged;
    sgp32_buf_init(&forged, 1 << 16);
    size_t mark = sgp32_asn1_begin(&forged);
    assert_int_equal(sgp32_buf_append(&forged, epr.whole.data, epr.whole.len), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&forged, 0xBF4E, mark), SGP32_OK);
    forged.data[forged.len - 1] ^= 0x01;
    sgp32_eim_esipa_info info;
    assert_int_equal(sgp32_eim_transfer_eim_package_response(&e.s.srv, e.eid, forged.data, forged.len, &info),
                     SGP32_ERR_CRYPTO_BAD_SIGNATURE);
    assert_int_equal(info.acknowledge_count, 0);
    assert_int_equal(get_op(&e, next).state, SGP32_EIM_OP_DELIVERED);
    assert_int_equal(count_events(&e, "operation.result"), 1);
    /* the genuine old EPR again: a duplicate, acknowledged again, the new operation untouched */
    forged.data[forged.len - 1] ^= 0x01;
    assert_int_equal(sgp32_eim_transfer_eim_package_response(&e.s.srv, e.eid, forged.data, forged.len, &info),
                     SGP32_OK);
    assert_int_equal(info.acknowledge_count, 1);
    assert_int_equal(get_op(&e, next).state, SGP32_EIM_OP_DELIVERED);
    assert_int_equal(count_events(&e, "operation.result"), 1);
    /* an unknown eUICC, bad arguments */
    assert_int_equal(sgp32_eim_transfer_eim_package_response(&e.s.srv, "89049032123451234512345678901234",
                                                             received, sizeof(received), &info),
                     SGP32_ERR_NOT_FOUND);
    assert_int_equal(
        sgp32_eim_transfer_eim_package_response(&e.s.srv, NULL, received, sizeof(received), &info),
        SGP32_ERR_INVALID_ARGUMENT);
    sgp32_buf_free(&forged);
    env_close(&e);
}

/* eimAcknowledgements requests; EimConfigurationData announces eimInjectHttps with push on. */
static void test_acknowledgements_and_configuration(void **state)
{
    (void)state;
    eim_env e;
    env_open(&e, true);
    sgp32_buf out;
    sgp32_buf_init(&out, 4096);
    const int64_t seq[] = {1, 2, 300};
    assert_int_equal(sgp32_eim_transfer_eim_acknowledgements(seq, 3, &out), SGP32_OK);
    static const uint8_t want[] = {0xBF, 0x4E, 0x0D, 0xBF, 0x53, 0x0A, 0x80, 0x01,
                                   0x01, 0x80, 0x01, 0x02, 0x80, 0x02, 0x01, 0x2C};
    assert_int_equal(out.len, sizeof(want));
    assert_memory_equal(out.data, want, sizeof(want));
    sgp32_buf_reset(&out);
    assert_int_equal(sgp32_eim_transfer_eim_acknowledgements(seq, 0, &out), SGP32_ERR_INVALID_ARGUMENT);
    const int64_t negative[] = {-1};
    assert_int_equal(sgp32_eim_transfer_eim_acknowledgements(negative, 1, &out), SGP32_ERR_INVALID_ARGUMENT);
    sgp32_eim_euicc u;
    sgp32_eim_euicc_init(&u);
    assert_int_equal(e.s.srv.config.store.euicc_get(e.s.srv.config.store.ctx, e.eid, &u), SGP32_OK);
    assert_string_equal(u.push_address, "device.example.com:9443");
    sgp32_buf_reset(&out);
    assert_int_equal(sgp32_eim_configuration_data_encode(&e.s.srv, &u, &out), SGP32_OK);
    static const uint8_t protocols[] = {0x87, 0x02, 0x05, 0xA0}; /* retrieveHttps, injectHttps */
    bool found = false;
    for (size_t i = 0; i + sizeof(protocols) <= out.len; i++)
        found = found || memcmp(out.data + i, protocols, sizeof(protocols)) == 0;
    assert_true(found);
    sgp32_eim_euicc_free(&u);
    sgp32_buf_free(&out);
    env_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_push_psmo),
        cmocka_unit_test(test_push_queue_in_order),
        cmocka_unit_test(test_push_ipa_euicc_data),
        cmocka_unit_test(test_push_learns_certificates),
        cmocka_unit_test(test_lost_push_redelivered_by_poll),
        cmocka_unit_test(test_lost_push_answer_then_poll),
        cmocka_unit_test(test_lost_push_answer_then_push),
        cmocka_unit_test(test_push_recovers_result),
        cmocka_unit_test(test_push_package_error),
        cmocka_unit_test(test_garbled_answers_refused),
        cmocka_unit_test(test_acknowledgements_and_configuration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * IPA core (lib/ipa) transcript tests: the eIM package retrieval loop with every PSMO and eCO,
 * IpaEuiccData, ProvideEimPackageResult with acknowledgements and RemoveNotificationFromList,
 * notification delivery, push (TransferEimPackage), rollback, fallback, REFRESH/6985, the
 * persistent state, and a failure injected at every step of a package execution: eIM errors,
 * a dropped connection, card status words, power loss before and after each action; each must
 * end in the right place (finished, retried with backoff, or rolled back).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../lib/euicc/euicc_internal.h"
#include "ipa_host.h"

#define ALL_FEATURES                                                                                         \
    (SGP32_IPA_FEATURE_DIRECT_RSP_SERVER_COMMUNICATION | SGP32_IPA_FEATURE_INDIRECT_RSP_SERVER_COMMUNICATION)

static host *new_host(uint32_t features)
{
    host *h = calloc(1, sizeof(*h));
    assert_non_null(h);
    host_open(h, features);
    return h;
}

static void free_host(host *h)
{
    host_close(h);
    free(h);
}

static sgp32_psmo enable_psmo(host *h, const char *iccid, bool rollback)
{
    sgp32_psmo p;
    memset(&p, 0, sizeof(p));
    p.choice = SGP32_PSMO_ENABLE;
    p.u.enable.iccid = host_iccid(h, iccid);
    p.u.enable.rollback_flag = rollback;
    return p;
}

/* Boot, then the retrieval loop until IDLE. */
static void boot_and_run(host *h)
{
    assert_int_equal(sgp32_ipa_start_boot(h->ipa), SGP32_OK);
    assert_int_equal(host_run(h, 5000), HOST_IDLE);
}

static int64_t card_counter(host *h)
{
    return h->f.euicc->state.eims[0].counter_value;
}

/* The state blob the IPA saved last, decoded far enough to tell what is pending. */
static bool blob_flag(host *h, unsigned bit)
{
    sgp32_asn1_tlv outer, flags;
    uint32_t bits = 0;
    if (!h->has_blob)
        return false;
    assert_int_equal(sgp32_asn1_expect(h->blob.data, h->blob.len, 0x30, &outer), SGP32_OK);
    sgp32_asn1_reader r;
    sgp32_asn1_reader_init(&r, outer.value, 1);
    while (sgp32_asn1_reader_next(&r, &flags) == SGP32_OK)
        if (flags.tag == 0x82)
            assert_int_equal(sgp32_asn1_parse_named_bits(flags.value, &bits), SGP32_OK);
    return bits & (1u << bit);
}

enum { BLOB_RESULT_PENDING = 0, BLOB_ROLLBACK_ARMED = 1, BLOB_DOWNLOAD_PENDING = 2, BLOB_NOTIFY = 3 };

static void pull_enable_transcript(void **state)
{
    (void)state;
    host *h = new_host(ALL_FEATURES);
    sgp32_psmo p = enable_psmo(h, HOST_ICCID_B, true);
    host_queue_psmos(h, &p, 1);
    boot_and_run(h);
    assert_string_equal(h->transcript,
                        "SELECT;ES10 BF3E;ES10 BF55;ES10 BF2B;"                 /* boot */
                        "ESIPA GetEimPackage;SAVE;ES10 BF51;SAVE;RESET;SELECT;" /* execute + REFRESH */
                        "ES10 BF2B;ESIPA ProvideEimPackageResult;SAVE;"         /* EPR + notifications */
                        "ES10 BF30;ES10 BF30;ES10 BF30;"                        /* acks removed */
                        "ESIPA GetEimPackage;ES10 BF2B;IDLE");                  /* no more; notifications */
    assert_string_equal(host_enabled(h), HOST_ICCID_B);
    assert_int_equal(h->result_count, 1);
    assert_string_equal(host_result_hex(h, 0), "830100");
    assert_true(h->epr_verified_all);
    assert_int_equal(host_card_pending(h), 0);
    assert_int_equal(h->acked_count, 3); /* the EPR, disable A, enable B */
    assert_false(blob_flag(h, BLOB_RESULT_PENDING));
    const sgp32_ipa_stats *st = sgp32_ipa_get_stats(h->ipa);
    assert_int_equal(st->packages, 1);
    assert_int_equal(st->results_acknowledged, 3);
    assert_int_equal(st->card_resets, 1);
    assert_memory_equal(sgp32_ipa_eid(h->ipa), sgp32_euicc_eid(h->f.euicc), 16);
    /* the next poll: nothing to do */
    host_clear_transcript(h);
    assert_int_equal(sgp32_ipa_start_poll(h->ipa), SGP32_OK);
    assert_int_equal(host_run(h, 100), HOST_IDLE);
    assert_string_equal(h->transcript, "ESIPA GetEimPackage;ES10 BF2B;IDLE");
    free_host(h);
}

/* Every PSMO, one package each, all in one retrieval. */
static void every_psmo(void **state)
{
    (void)state;
    host *h = new_host(ALL_FEATURES);
    sgp32_psmo p[9];
    memset(p, 0, sizeof(p));
    p[0].choice = SGP32_PSMO_LIST_PROFILE_INFO;
    p[1].choice = SGP32_PSMO_GET_RAT;
    p[2].choice = SGP32_PSMO_CONFIGURE_IMMEDIATE_ENABLE;
    p[2].u.configure_immediate_enable.immediate_enable_flag = true;
    p[3].choice = SGP32_PSMO_SET_FALLBACK_ATTRIBUTE;
    p[3].u.set_fallback_attribute.iccid = host_iccid(h, HOST_ICCID_B);
    p[4].choice = SGP32_PSMO_UNSET_FALLBACK_ATTRIBUTE;
    p[5].choice = SGP32_PSMO_SET_DEFAULT_DP_ADDRESS;
    p[5].u.set_default_dp_address.default_dp_address = host_text(h, "dp2.example.com");
    p[6] = enable_psmo(h, HOST_ICCID_B, false);
    p[7].choice = SGP32_PSMO_DISABLE;
    p[7].u.disable.iccid = host_iccid(h, HOST_ICCID_B);
    p[8].choice = SGP32_PSMO_DELETE;
    p[8].u.delete.iccid = host_iccid(h, HOST_ICCID_C);
    for (size_t i = 0; i < 8; i++)
        host_queue_psmos(h, &p[i], 1);
    boot_and_run(h);
    host_queue_psmos(h, &p[8], 1);
    assert_int_equal(sgp32_ipa_start_poll(h->ipa), SGP32_OK);
    assert_int_equal(host_run(h, 5000), HOST_IDLE);
    assert_int_equal(h->result_count, 9);
    assert_memory_equal(host_result_hex(h, 0), "BF2D", 4);
    assert_memory_equal(host_result_hex(h, 1), "A6", 2);
    assert_string_equal(host_result_hex(h, 2), "870100");
    assert_string_equal(host_result_hex(h, 3), "8D0100");
    assert_string_equal(host_result_hex(h, 4), "8E0100");
    assert_string_equal(host_result_hex(h, 5), "BF6503800100");
    assert_string_equal(host_result_hex(h, 6), "830100");
    assert_string_equal(host_result_hex(h, 7), "840100");
    assert_string_equal(host_result_hex(h, 8), "850100");
    assert_true(h->epr_verified_all);
    assert_int_equal(host_card_pending(h), 0);
    assert_string_equal(host_enabled(h), "");
    /* the enable and the disable each needed a REFRESH */
    assert_int_equal(sgp32_ipa_get_stats(h->ipa)->card_resets, 2);
    assert_int_equal(card_counter(h), h->counter);
    free_host(h);
}

static sgp32_eim_configuration_data eim2(host *h, bool with_key)
{
    sgp32_eim_configuration_data c;
    memset(&c, 0, sizeof(c));
    c.eim_id = host_text(h, "eim2.example.com");
    c.has_eim_fqdn = true;
    c.eim_fqdn = host_text(h, "eim2.example.com");
    c.has_eim_id_type = true;
    c.eim_id_type = SGP32_EIM_ID_TYPE_EIM_ID_TYPE_FQDN;
    c.has_counter_value = true;
    if (with_key) {
        sgp32_buf spki;
        sgp32_buf_init(&spki, 256);
        assert_int_equal(sgp32_ec_public_to_spki(&h->eim_pub, &spki), SGP32_OK);
        sgp32_bytes kept = host_text(h, "");
        kept = (sgp32_bytes){sgp32_arena_alloc(&h->arena, spki.len), spki.len};
        memcpy((uint8_t *)kept.data, spki.data, spki.len);
        c.has_eim_public_key_data = true;
        c.eim_public_key_data.choice = SGP32_EIM_CONFIGURATION_DATA_EIM_PUBLIC_KEY_DATA_EIM_PUBLIC_KEY;
        c.eim_public_key_data.u.eim_public_key = kept;
        sgp32_buf_free(&spki);
    }
    return c;
}

static void every_eco(void **state)
{
    (void)state;
    host *h = new_host(ALL_FEATURES);
    sgp32_eco e[4];
    memset(e, 0, sizeof(e));
    e[0].choice = SGP32_ECO_ADD_EIM;
    e[0].u.add_eim = eim2(h, true);
    e[1].choice = SGP32_ECO_LIST_EIM;
    e[2].choice = SGP32_ECO_UPDATE_EIM;
    e[2].u.update_eim = eim2(h, true);
    e[2].u.update_eim.has_counter_value = false;
    e[3].choice = SGP32_ECO_DELETE_EIM;
    e[3].u.delete_eim.eim_id = host_text(h, "eim2.example.com");
    for (size_t i = 0; i < 4; i++)
        host_queue_ecos(h, &e[i], 1);
    boot_and_run(h);
    assert_int_equal(h->result_count, 4);
    assert_string_equal(host_result_hex(h, 0), "A803020100"); /* addEim ok (no token asked for) */
    assert_memory_equal(host_result_hex(h, 1), "AB", 2);
    assert_string_equal(host_result_hex(h, 2), "8A0100");
    assert_string_equal(host_result_hex(h, 3), "890100");
    assert_true(h->epr_verified_all);
    assert_int_equal(host_card_pending(h), 0);
    assert_int_equal(sgp32_ipa_get_stats(h->ipa)->card_resets, 0);
    free_host(h);
}

/* IpaEuiccDataResponse: which top-level tags came back. */
static void data_tags(host *h, size_t r, char *out, size_t out_size)
{
    sgp32_asn1_tlv resp, choice, t;
    const sgp32_buf *b = &h->results[r];
    assert_int_equal(sgp32_asn1_expect(b->data, b->len, 0xBF52, &resp), SGP32_OK);
    sgp32_arena arena;
    sgp32_arena_init(&arena, 1 << 20);
    void *v = sgp32_arena_alloc(&arena, sgp32_type_ipa_euicc_data_response.size);
    assert_int_equal(sgp32_asn1_decode(&sgp32_type_ipa_euicc_data_response, b->data, b->len, &arena, v),
                     SGP32_OK);
    sgp32_arena_free(&arena);
    assert_int_equal(sgp32_asn1_read_tlv(resp.value.data, resp.value.len, &choice, NULL), SGP32_OK);
    out[0] = 0;
    snprintf(out, out_size, "%X:", (unsigned)choice.tag);
    sgp32_asn1_reader rd;
    sgp32_asn1_reader_init(&rd, choice.value, 1);
    while (sgp32_asn1_reader_next(&rd, &t) == SGP32_OK)
        snprintf(out + strlen(out), out_size - strlen(out), " %X", (unsigned)t.tag);
}

static void ipa_euicc_data(void **state)
{
    (void)state;
    host *h = new_host(ALL_FEATURES);
    /* every v1.2 tag, a CI for the certificates, eimTransactionId */
    static const uint8_t good[] = {0xBF, 0x52, 0x13, 0x5C, 0x0D, 0xA0, 0x81, 0xA2, 0xBF, 0x20, 0xBF,
                                   0x22, 0x83, 0x84, 0xA5, 0xA6, 0xA8, 0xA9, 0x83, 0x02, 0x12, 0x34};
    host_queue(h, good, sizeof(good));
    /* an obsolete v1.0 tag (BF2B): incorrectTagList */
    static const uint8_t bad[] = {0xBF, 0x52, 0x09, 0x5C, 0x03, 0x80, 0xBF, 0x2B, 0x83, 0x02, 0x12, 0x34};
    host_queue(h, bad, sizeof(bad));
    boot_and_run(h);
    assert_int_equal(h->result_count, 2);
    char tags[256];
    data_tags(h, 0, tags, sizeof(tags));
    assert_string_equal(tags, "A0: A0 81 A2 BF20 BF22 83 84 A5 A6 87 A8 A9");
    data_tags(h, 1, tags, sizeof(tags));
    assert_string_equal(tags, "A1: 80 2");
    free_host(h);
}

static void push_packages(void **state)
{
    (void)state;
    host *h = new_host(ALL_FEATURES);
    boot_and_run(h);
    /* BF51 pushed: eimPackageReceived now, the result by ProvideEimPackageResult */
    sgp32_psmo p = enable_psmo(h, HOST_ICCID_B, false);
    host_queue_psmos(h, &p, 1);
    h->queue_count = 0; /* not for GetEimPackage: pushed instead */
    sgp32_buf body;
    sgp32_buf_init(&body, 1 << 16);
    size_t m = sgp32_asn1_begin(&body);
    assert_int_equal(sgp32_buf_append(&body, h->last_package.data, h->last_package.len), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&body, 0xBF4E, m), SGP32_OK);
    host_clear_transcript(h);
    assert_int_equal(sgp32_ipa_start_push(h->ipa, body.data, body.len), SGP32_OK);
    assert_int_equal(host_run(h, 1000), HOST_IDLE);
    assert_memory_equal(h->push_response.data, "\xBF\x4E\x02\x05\x00", 5);
    assert_true(host_transcript_has(h, "PUSH_RESPONSE;SAVE;ES10 BF51"));
    assert_string_equal(host_enabled(h), HOST_ICCID_B);
    assert_int_equal(h->result_count, 1);
    assert_int_equal(host_card_pending(h), 0);

    /* BF52 pushed: answered in the push response */
    static const uint8_t data[] = {0xBF, 0x4E, 0x0A, 0xBF, 0x52, 0x07, 0x5C,
                                   0x01, 0x81, 0x83, 0x02, 0x00, 0x01};
    assert_int_equal(sgp32_ipa_start_push(h->ipa, data, sizeof(data)), SGP32_OK);
    assert_int_equal(host_run(h, 1000), HOST_IDLE);
    void *v = sgp32_arena_alloc(&h->arena, sgp32_type_transfer_eim_package_response.size);
    assert_int_equal(sgp32_asn1_decode(&sgp32_type_transfer_eim_package_response, h->push_response.data,
                                       h->push_response.len, &h->arena, v),
                     SGP32_OK);
    assert_memory_equal(h->push_response.data + 3, "\xBF\x52", 2);

    /* BF53 pushed: acknowledgements remove what they name */
    h->eim_no_ack = true;
    sgp32_psmo back = enable_psmo(h, HOST_ICCID_A, false);
    host_queue_psmos(h, &back, 1);
    assert_int_equal(sgp32_ipa_start_poll(h->ipa), SGP32_OK);
    assert_int_equal(host_run(h, 1000), HOST_IDLE);
    size_t pending = host_card_pending(h);
    assert_int_equal(pending, 1); /* the EPR (notifications went by HandleNotification) */
    int64_t seq = h->f.euicc->state.pending[0].seq_number;
    uint8_t acks[] = {0xBF, 0x4E, 0x06, 0xBF, 0x53, 0x03, 0x80, 0x01, (uint8_t)seq};
    assert_int_equal(sgp32_ipa_start_push(h->ipa, acks, sizeof(acks)), SGP32_OK);
    assert_int_equal(host_run(h, 1000), HOST_IDLE);
    assert_int_equal(host_card_pending(h), 0);
    assert_memory_equal(h->push_response.data, "\xBF\x4E\x02\x05\x00", 5);

    /* garbage: invalidPackageFormat */
    static const uint8_t junk[] = {0xBF, 0x4E, 0x03, 0x04, 0x01, 0x00};
    assert_int_equal(sgp32_ipa_start_push(h->ipa, junk, sizeof(junk)), SGP32_OK);
    assert_int_equal(host_run(h, 1000), HOST_IDLE);
    assert_int_equal(h->push_response.len, 6);
    assert_memory_equal(h->push_response.data, "\xBF\x4E\x03\x02\x01\x01", 6);
    sgp32_buf_free(&body);
    free_host(h);
}

static void notifications_delivered(void **state)
{
    (void)state;
    host *h = new_host(ALL_FEATURES);
    h->eim_no_ack = true; /* the eIM takes the result without acknowledging anything */
    sgp32_psmo p = enable_psmo(h, HOST_ICCID_B, false);
    host_queue_psmos(h, &p, 1);
    boot_and_run(h);
    assert_true(host_transcript_has(h, "ESIPA GetEimPackage;ES10 BF2B;ESIPA HandleNotification;ES10 BF30;"
                                       "ESIPA HandleNotification;ES10 BF30;ES10 BF2B;IDLE") ||
                host_transcript_has(h,
                                    "ES10 BF2B;ESIPA HandleNotification;ES10 BF30;ESIPA HandleNotification;"
                                    "ES10 BF30;IDLE"));
    assert_int_equal(h->notification_count, 2);
    for (size_t i = 0; i < 2; i++) {
        void *v = sgp32_arena_alloc(&h->arena, sgp32_type_esipa_message_from_ipa_to_eim.size);
        assert_int_equal(sgp32_asn1_decode(&sgp32_type_esipa_message_from_ipa_to_eim,
                                           h->notifications[i].data, h->notifications[i].len, &h->arena, v),
                         SGP32_OK);
        assert_memory_equal(h->notifications[i].data, "\xBF\x3D", 2);
    }
    assert_int_equal(host_card_pending(h), 1); /* only the EPR: it goes again after a boot */
    host_power_cycle(h);
    h->eim_no_ack = false;
    assert_int_equal(host_run(h, 1000), HOST_IDLE);
    assert_int_equal(host_card_pending(h), 0);
    assert_int_equal(h->result_count, 2); /* reported again after the boot, then acknowledged */
    free_host(h);
}

static void compact_notifications(void **state)
{
    (void)state;
    host *h = new_host(ALL_FEATURES | SGP32_IPA_FEATURE_MINIMIZE_ESIPA_BYTES);
    sgp32_ipa_free(h->ipa);
    h->config.eim_supports_compact = true;
    host_new_ipa(h);
    h->eim_no_ack = true;
    sgp32_psmo p = enable_psmo(h, HOST_ICCID_B, false);
    host_queue_psmos(h, &p, 1);
    boot_and_run(h);
    assert_int_equal(h->notification_count, 2);
    /* BF3D {A0 {A1 compactOtherSignedNotification {BF2F .., 5F37 ..}}}: no certificates */
    for (size_t i = 0; i < 2; i++) {
        const sgp32_buf *n = &h->notifications[i];
        sgp32_asn1_tlv outer, a0, a1;
        assert_int_equal(sgp32_asn1_expect(n->data, n->len, 0xBF3D, &outer), SGP32_OK);
        assert_int_equal(sgp32_asn1_expect(outer.value.data, outer.value.len, 0xA0, &a0), SGP32_OK);
        assert_int_equal(sgp32_asn1_expect(a0.value.data, a0.value.len, 0xA1, &a1), SGP32_OK);
        assert_true(n->len < 200);
    }
    /* the ePRAndNotifications list went compact too */
    const sgp32_buf *r = &h->results[0];
    assert_int_equal(r->data[0], 0x30);
    free_host(h);
}

static void eim_error_backs_off(void **state)
{
    (void)state;
    host *h = new_host(ALL_FEATURES);
    h->get_error = 2; /* eidNotFound */
    h->auto_timer = false;
    assert_int_equal(sgp32_ipa_start_boot(h->ipa), SGP32_OK);
    assert_int_equal(host_run(h, 100), HOST_WAITING);
    assert_true(host_transcript_has(h, "ESIPA GetEimPackage;SAVE;WAIT"));
    assert_int_equal(sgp32_ipa_get_stats(h->ipa)->last_eim_error, 2);
    assert_int_equal(sgp32_ipa_get_stats(h->ipa)->failures, 1);
    /* the timer fires: the same poll again; the eIM is fine now */
    h->get_error = 0;
    h->auto_timer = true;
    h->now += 100;
    sgp32_ipa_event ev = {.type = SGP32_IPA_EV_TIMER, .now = h->now};
    sgp32_ipa_action a;
    assert_int_equal(sgp32_ipa_step(h->ipa, &ev, &a), SGP32_OK);
    assert_int_equal(a.type, SGP32_IPA_ACT_SEND_ESIPA);
    assert_int_equal(a.function, SGP32_IPA_FN_GET_EIM_PACKAGE);
    /* a host that answers with the wrong event is told so */
    ev.type = SGP32_IPA_EV_STATE_SAVED;
    assert_int_equal(sgp32_ipa_step(h->ipa, &ev, &a), SGP32_ERR_STATE);
    free_host(h);
}

static void backoff_grows_and_is_saved(void **state)
{
    (void)state;
    host *h = new_host(ALL_FEATURES);
    h->eim_unreachable = true;
    h->auto_timer = false;
    assert_int_equal(sgp32_ipa_start_boot(h->ipa), SGP32_OK);
    int64_t last = 0;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(host_run(h, 100), HOST_WAITING);
        /* the wait: at least half the nominal delay, at most the cap */
        sgp32_ipa_event ev = {.type = SGP32_IPA_EV_TIMER};
        (void)ev;
        int64_t next = 0;
        sgp32_asn1_tlv outer, t;
        assert_int_equal(sgp32_asn1_expect(h->blob.data, h->blob.len, 0x30, &outer), SGP32_OK);
        sgp32_asn1_reader r;
        sgp32_asn1_reader_init(&r, outer.value, 1);
        int64_t failures = 0;
        while (sgp32_asn1_reader_next(&r, &t) == SGP32_OK) {
            if (t.tag == 0x88)
                sgp32_asn1_parse_integer(t.value, &next);
            if (t.tag == 0x87)
                sgp32_asn1_parse_integer(t.value, &failures);
        }
        assert_int_equal(failures, i + 1);
        int64_t delay = next - h->now;
        int64_t nominal = 10LL << i > 100 ? 100 : 10LL << i;
        assert_true(delay >= nominal / 2 && delay <= nominal);
        assert_true(i == 0 || nominal >= last);
        last = nominal;
        h->now = next;
        /* the timer */
        h->auto_timer = false;
        sgp32_ipa_event tev = {.type = SGP32_IPA_EV_TIMER, .now = h->now};
        sgp32_ipa_action a;
        assert_int_equal(sgp32_ipa_step(h->ipa, &tev, &a), SGP32_OK);
        assert_int_equal(a.type, SGP32_IPA_ACT_SEND_ESIPA);
        /* answer it as the host would: transport error */
        sgp32_ipa_event err = {.type = SGP32_IPA_EV_TRANSPORT_ERROR, .now = h->now, .status = 503};
        assert_int_equal(sgp32_ipa_step(h->ipa, &err, &a), SGP32_OK);
        assert_int_equal(a.type, SGP32_IPA_ACT_SAVE_STATE);
        sgp32_buf_reset(&h->blob);
        assert_int_equal(sgp32_buf_append(&h->blob, a.data.data, a.data.len), SGP32_OK);
        sgp32_ipa_event saved = {.type = SGP32_IPA_EV_STATE_SAVED, .now = h->now};
        assert_int_equal(sgp32_ipa_step(h->ipa, &saved, &a), SGP32_OK);
        assert_int_equal(a.type, SGP32_IPA_ACT_WAIT);
        /* hand the WAIT back to host_run */
        h->transcript_len = 0;
        (void)a;
        break;
    }
    /* connectivity restored: poll now, not after the wait */
    h->eim_unreachable = false;
    h->auto_timer = true;
    assert_int_equal(sgp32_ipa_start_connectivity_restored(h->ipa), SGP32_OK);
    sgp32_ipa_event ev = {.type = SGP32_IPA_EV_NONE, .now = h->now};
    sgp32_ipa_action a;
    assert_int_equal(sgp32_ipa_step(h->ipa, &ev, &a), SGP32_OK);
    assert_int_equal(a.type, SGP32_IPA_ACT_SEND_ESIPA);
    free_host(h);
}

/* The report of an enable with rollbackFlag fails twice: ProfileRollback, REFRESH, and the new EPR
 * (enable ok + rollbackResult ok) goes to the eIM over the old profile. */
static void rollback_when_eim_unreachable(void **state)
{
    (void)state;
    host *h = new_host(ALL_FEATURES);
    sgp32_psmo p = enable_psmo(h, HOST_ICCID_B, true);
    host_queue_psmos(h, &p, 1);
    h->fail_esipa_from = 2; /* the report after the enable, and its retry */
    h->fail_esipa_to = 3;
    boot_and_run(h);
    assert_true(host_transcript_has(h, "ESIPA ProvideEimPackageResult;TRANSPORT_ERROR;SAVE;WAIT"));
    assert_true(
        host_transcript_has(h, "ES10 BF58;SAVE;RESET;SELECT;ES10 BF2B;ESIPA ProvideEimPackageResult"));
    assert_string_equal(host_enabled(h), HOST_ICCID_A);
    assert_int_equal(h->result_count, 1);
    assert_string_equal(host_result_hex(h, 0), "8301008C0100");
    assert_int_equal(sgp32_ipa_get_stats(h->ipa)->rollbacks, 1);
    assert_int_equal(host_card_pending(h), 0);
    assert_false(blob_flag(h, BLOB_ROLLBACK_ARMED));
    free_host(h);
}

/* Without rollbackFlag the same failures only retry (backoff) until the eIM is back. */
static void no_rollback_without_flag(void **state)
{
    (void)state;
    host *h = new_host(ALL_FEATURES);
    sgp32_psmo p = enable_psmo(h, HOST_ICCID_B, false);
    host_queue_psmos(h, &p, 1);
    h->fail_esipa_from = 2;
    h->fail_esipa_to = 5;
    boot_and_run(h);
    assert_false(host_transcript_has(h, "ES10 BF58"));
    assert_string_equal(host_enabled(h), HOST_ICCID_B);
    assert_int_equal(h->result_count, 1);
    assert_string_equal(host_result_hex(h, 0), "830100");
    assert_int_equal(host_card_pending(h), 0);
    free_host(h);
}

/* Connectivity lost while an enable with rollbackFlag waits to be reported: roll back at once. */
static void rollback_on_connectivity_loss(void **state)
{
    (void)state;
    host *h = new_host(ALL_FEATURES);
    sgp32_psmo p = enable_psmo(h, HOST_ICCID_B, true);
    host_queue_psmos(h, &p, 1);
    h->fail_esipa_from = 2;
    h->fail_esipa_to = 2;
    h->auto_timer = false;
    assert_int_equal(sgp32_ipa_start_boot(h->ipa), SGP32_OK);
    assert_int_equal(host_run(h, 1000), HOST_WAITING);
    assert_true(blob_flag(h, BLOB_ROLLBACK_ARMED));
    assert_true(blob_flag(h, BLOB_RESULT_PENDING));
    h->auto_timer = true;
    assert_int_equal(sgp32_ipa_start_connectivity_lost(h->ipa), SGP32_OK);
    host_clear_transcript(h);
    assert_int_equal(host_run(h, 1000), HOST_IDLE);
    assert_memory_equal(h->transcript, "ES10 BF58", 9);
    assert_string_equal(host_enabled(h), HOST_ICCID_A);
    assert_string_equal(host_result_hex(h, 0), "8301008C0100");
    free_host(h);
}

static void fallback_and_return(void **state)
{
    (void)state;
    host *h = new_host(ALL_FEATURES);
    sgp32_ipa_free(h->ipa);
    h->config.fallback = true;
    host_new_ipa(h);
    /* B is the fallback profile */
    sgp32_psmo p;
    memset(&p, 0, sizeof(p));
    p.choice = SGP32_PSMO_SET_FALLBACK_ATTRIBUTE;
    p.u.set_fallback_attribute.iccid = host_iccid(h, HOST_ICCID_B);
    host_queue_psmos(h, &p, 1);
    boot_and_run(h);
    assert_string_equal(host_result_hex(h, 0), "8D0100");
    host_clear_transcript(h);
    assert_int_equal(sgp32_ipa_start_connectivity_lost(h->ipa), SGP32_OK);
    assert_int_equal(host_run(h, 1000), HOST_IDLE);
    assert_true(host_transcript_has(h, "ES10 BF5D;SAVE;RESET;SELECT;ESIPA GetEimPackage"));
    assert_string_equal(host_enabled(h), HOST_ICCID_B);
    assert_true(h->last_notify || h->get_count > 1);
    assert_int_equal(sgp32_ipa_get_stats(h->ipa)->fallbacks, 1);
    host_clear_transcript(h);
    assert_int_equal(sgp32_ipa_start_return_from_fallback(h->ipa), SGP32_OK);
    assert_int_equal(host_run(h, 1000), HOST_IDLE);
    assert_true(host_transcript_has(h, "ES10 BF5E;SAVE;RESET;SELECT;ESIPA GetEimPackage"));
    assert_string_equal(host_enabled(h), HOST_ICCID_A);
    free_host(h);
}

static void notify_state_change_cause(void **state)
{
    (void)state;
    host *h = new_host(ALL_FEATURES);
    sgp32_ipa_free(h->ipa);
    h->config.fallback = true;
    host_new_ipa(h);
    h->f.euicc->state.profiles[1].fallback_attribute = true;
    boot_and_run(h);
    static const uint8_t plmn[3] = {0x62, 0xF2, 0x10};
    sgp32_ipa_set_rplmn(h->ipa, plmn);
    assert_int_equal(sgp32_ipa_start_connectivity_lost(h->ipa), SGP32_OK);
    assert_int_equal(host_run(h, 1000), HOST_IDLE);
    assert_true(h->last_notify);
    assert_int_equal(h->last_cause, SGP32_IPA_CAUSE_FALLBACK);
    const sgp32_buf *get = &h->sent[SGP32_IPA_FN_GET_EIM_PACKAGE];
    assert_memory_equal(get->data + get->len - 5, "\x82\x03\x62\xF2\x10", 5);
    /* the eIM heard it: the next poll does not repeat it */
    assert_int_equal(sgp32_ipa_start_poll(h->ipa), SGP32_OK);
    assert_int_equal(host_run(h, 1000), HOST_IDLE);
    assert_false(h->last_notify);
    free_host(h);
}

/* A card that answers 6985 after an enable until it is reset: the IPA resets and retries. */
static void refresh_6985(void **state)
{
    (void)state;
    host *h = new_host(ALL_FEATURES);
    h->force_6985 = true;
    boot_and_run(h);
    assert_memory_equal(h->transcript, "SELECT;ES10 BF3E;SW 6985;RESET;SELECT;ES10 BF3E;ES10 BF55", 57);
    free_host(h);
}

/* LoadEuiccPackage answered with an error status word: the eIM hears undefinedError. */
static void card_error_on_package(void **state)
{
    (void)state;
    host *h = new_host(ALL_FEATURES);
    boot_and_run(h);
    sgp32_psmo p = enable_psmo(h, HOST_ICCID_B, false);
    host_queue_psmos(h, &p, 1);
    h->fail_apdu_at = h->apdus + 1; /* the first STORE DATA block of BF51 */
    h->fail_apdu_sw = 0x6A80;
    assert_int_equal(sgp32_ipa_start_poll(h->ipa), SGP32_OK);
    assert_int_equal(host_run(h, 1000), HOST_IDLE);
    assert_int_equal(h->result_count, 1);
    assert_memory_equal(h->results[0].data, "\xA0\x09\x80\x04\xCA\xFE\x00\x01\x02\x01\x7F", 11);
    assert_int_equal(sgp32_ipa_get_stats(h->ipa)->last_sw, 0x6A80);
    assert_string_equal(host_enabled(h), HOST_ICCID_A);
    free_host(h);
}

static void state_blob(void **state)
{
    (void)state;
    host *h = new_host(ALL_FEATURES);
    /* garbage and a future version are refused; the IPA keeps a clean state */
    static const uint8_t junk[] = {0x31, 0x00};
    assert_int_equal(sgp32_ipa_load_state(h->ipa, junk, sizeof(junk)), SGP32_ERR_STORE_CORRUPT);
    static const uint8_t future[] = {0x30, 0x03, 0x80, 0x01, 0x02};
    assert_int_equal(sgp32_ipa_load_state(h->ipa, future, sizeof(future)), SGP32_ERR_STORE_VERSION);
    static const uint8_t truncated[] = {0x30, 0x05, 0x80, 0x01, 0x01, 0x85};
    assert_int_equal(sgp32_ipa_load_state(h->ipa, truncated, sizeof(truncated)), SGP32_ERR_STORE_CORRUPT);
    /* unknown fields of the same version are skipped */
    static const uint8_t extra[] = {0x30, 0x0B, 0x80, 0x01, 0x01, 0x82, 0x02,
                                    0x07, 0x80, 0x9F, 0x20, 0x01, 0x00};
    assert_int_equal(sgp32_ipa_load_state(h->ipa, extra, sizeof(extra)), SGP32_OK);
    /* result pending with no EPR on the card: RECOVER finds nothing, clears it */
    boot_and_run(h);
    assert_false(blob_flag(h, BLOB_RESULT_PENDING));
    free_host(h);
}

/* ---------------------------------------------------------------- failure at every step */

typedef enum fault { POWER_BEFORE, POWER_AFTER, TRANSPORT, CARD_SW, CARD_IO, SAVE_FAIL } fault;

/* One enable-with-rollbackFlag package, a fault at step k, then recovery: the package takes
 * effect exactly once, the eIM gets a verified result, nothing stays pending. */
static bool run_with_fault(fault f, size_t k, size_t *steps)
{
    host *h = new_host(ALL_FEATURES);
    boot_and_run(h);
    host_clear_transcript(h);
    sgp32_psmo p = enable_psmo(h, HOST_ICCID_B, true);
    host_queue_psmos(h, &p, 1);
    size_t base_actions = h->actions, base_apdus = h->apdus, base_esipa = h->esipa;
    switch (f) {
    case POWER_BEFORE:
    case POWER_AFTER:
        h->power_loss_at = base_actions + k;
        h->power_loss_after = f == POWER_AFTER;
        break;
    case TRANSPORT: h->fail_esipa_at = base_esipa + k; break;
    case CARD_SW:
    case CARD_IO:
        h->fail_apdu_at = base_apdus + k;
        h->fail_apdu_sw = 0x6F00;
        h->fail_apdu_io = f == CARD_IO;
        break;
    case SAVE_FAIL: h->save_fails = true; break;
    }
    assert_int_equal(sgp32_ipa_start_poll(h->ipa), SGP32_OK);
    host_stop stop = host_run(h, 3000);
    bool hit = true;
    if (stop == HOST_POWER_LOSS) {
        h->power_loss_at = 0;
        host_power_cycle(h);
        stop = host_run(h, 3000);
    }
    assert_int_equal(stop, HOST_IDLE);
    h->save_fails = false;
    size_t total = f == TRANSPORT ? h->esipa - base_esipa
                   : f >= CARD_SW ? h->apdus - base_apdus
                                  : h->actions - base_actions;
    if (steps)
        *steps = total;
    if ((f == TRANSPORT && k > h->esipa - base_esipa) ||
        ((f == CARD_SW || f == CARD_IO) && k > h->apdus - base_apdus))
        hit = false;
    /* A package the card never saw (lost before LoadEuiccPackage) comes again from the eIM. */
    if (card_counter(h) < h->counter) {
        host_queue(h, h->last_package.data, h->last_package.len);
        assert_int_equal(sgp32_ipa_start_poll(h->ipa), SGP32_OK);
        assert_int_equal(host_run(h, 3000), HOST_IDLE);
    }
    /* A result the card still holds goes with the next boot. */
    host_power_cycle(h);
    assert_int_equal(host_run(h, 3000), HOST_IDLE);
    if (card_counter(h) != h->counter || strcmp(host_enabled(h), HOST_ICCID_B) != 0 ||
        host_card_pending(h) != 0 || !h->epr_verified_all || h->verified_eprs < 1 ||
        blob_flag(h, BLOB_RESULT_PENDING)) {
        fail_msg("fault %d at step %zu: counter %lld/%lld enabled %s pending %zu verified %zu/%d\n%s", f, k,
                 (long long)card_counter(h), (long long)h->counter, host_enabled(h), host_card_pending(h),
                 h->verified_eprs, h->epr_verified_all, h->transcript);
    }
    free_host(h);
    return hit;
}

static void fault_at_every_step(fault f)
{
    size_t steps = 0;
    run_with_fault(f, 1000000, &steps); /* no fault: count the steps */
    assert_true(steps >= 3);
    for (size_t k = 1; k <= steps; k++)
        run_with_fault(f, k, NULL);
}

static void power_loss_before_each_action(void **state)
{
    (void)state;
    fault_at_every_step(POWER_BEFORE);
}

static void power_loss_after_each_action(void **state)
{
    (void)state;
    fault_at_every_step(POWER_AFTER);
}

static void transport_error_at_each_exchange(void **state)
{
    (void)state;
    fault_at_every_step(TRANSPORT);
}

static void card_error_at_each_apdu(void **state)
{
    (void)state;
    fault_at_every_step(CARD_SW);
    fault_at_every_step(CARD_IO);
}

static void state_save_failures(void **state)
{
    (void)state;
    run_with_fault(SAVE_FAIL, 0, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pull_enable_transcript),
        cmocka_unit_test(every_psmo),
        cmocka_unit_test(every_eco),
        cmocka_unit_test(ipa_euicc_data),
        cmocka_unit_test(push_packages),
        cmocka_unit_test(notifications_delivered),
        cmocka_unit_test(compact_notifications),
        cmocka_unit_test(eim_error_backs_off),
        cmocka_unit_test(backoff_grows_and_is_saved),
        cmocka_unit_test(rollback_when_eim_unreachable),
        cmocka_unit_test(no_rollback_without_flag),
        cmocka_unit_test(rollback_on_connectivity_loss),
        cmocka_unit_test(fallback_and_return),
        cmocka_unit_test(notify_state_change_cause),
        cmocka_unit_test(refresh_6985),
        cmocka_unit_test(card_error_on_package),
        cmocka_unit_test(state_blob),
        cmocka_unit_test(power_loss_before_each_action),
        cmocka_unit_test(power_loss_after_each_action),
        cmocka_unit_test(transport_error_at_each_exchange),
        cmocka_unit_test(card_error_at_each_apdu),
        cmocka_unit_test(state_save_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

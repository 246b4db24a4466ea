/*
 * IPA core (lib/ipa) profile download transcripts: indirect through the scripted eIM relaying to
 * lib/smdp (ESipa), direct to the SM-DP+ (ES9+ ASN.1 binding) from an activation code or the
 * default SM-DP+, the BPP relayed segment by segment while it arrives in chunks, ImmediateEnable,
 * compact forms, and failures: SM-DP+ errors, a dropped connection mid-BPP, power loss at every
 * step (the eIM always ends up with a ProfileDownloadTriggerResult that matches the card).
 * Both TS.48 test profiles of the specification pack are installed.
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
#include "sgp32/profile_package.h"

#define TS48_V1 SGP32_SPEC_DIR "/profiles/TS48V1-A-UNIQUE.der"
#define TS48_V2 SGP32_SPEC_DIR "/profiles/TS48V2-SAIP2-1-BERTLV-UNIQUE.der"

static const uint8_t eim_txid[2] = {0x01, 0x02};

static const void *find(const sgp32_buf *b, const void *needle, size_t n)
{
    for (size_t i = 0; i + n <= b->len; i++)
        if (memcmp(b->data + i, needle, n) == 0)
            return b->data + i;
    return NULL;
}

static host *new_host(uint32_t features, const char *profile)
{
    host *h = calloc(1, sizeof(*h));
    assert_non_null(h);
    host_open(h, features);
    host_load_profile(h, profile);
    return h;
}

static void free_host(host *h)
{
    host_close(h);
    free(h);
}

/* BF54 {[A0 {80 ac | 81 00}], 82 txid} */
static void queue_trigger(host *h, const char *ac, bool default_dp)
{
    sgp32_buf b;
    sgp32_buf_init(&b, 1024);
    size_t outer = sgp32_asn1_begin(&b);
    if (ac || default_dp) {
        size_t data = sgp32_asn1_begin(&b);
        if (ac)
            assert_int_equal(sgp32_asn1_write_tlv(&b, 0x80, (const uint8_t *)ac, strlen(ac)), SGP32_OK);
        else
            assert_int_equal(sgp32_asn1_write_tlv(&b, 0x81, NULL, 0), SGP32_OK);
        assert_int_equal(sgp32_asn1_end(&b, 0xA0, data), SGP32_OK);
    }
    assert_int_equal(sgp32_asn1_write_tlv(&b, 0x82, eim_txid, sizeof(eim_txid)), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&b, 0xBF54, outer), SGP32_OK);
    host_queue(h, b.data, b.len);
    sgp32_buf_free(&b);
}

static bool installed(host *h)
{
    char digits[21];
    uint8_t iccid[10];
    assert_int_equal(sgp32_upp_iccid(h->upp.data, h->upp.len, digits), SGP32_OK);
    assert_int_equal(euicc_iccid_from_text(digits, iccid), SGP32_OK);
    return euicc_find_profile_by_iccid(h->f.euicc, iccid) != NULL;
}

/* The ProfileDownloadTriggerResult the eIM got last: true for a PIR, false for an error. */
static bool trigger_result(host *h, bool *has)
{
    *has = false;
    for (size_t i = h->result_count; i-- > 0;) {
        const sgp32_buf *r = &h->results[i];
        if (r->len < 2 || r->data[0] != 0xBF || r->data[1] != 0x54)
            continue;
        void *v = sgp32_arena_alloc(&h->arena, sgp32_type_eim_package_result.size);
        assert_int_equal(sgp32_asn1_decode(&sgp32_type_eim_package_result, r->data, r->len, &h->arena, v),
                         SGP32_OK);
        sgp32_asn1_tlv outer, t;
        assert_int_equal(sgp32_asn1_expect(r->data, r->len, 0xBF54, &outer), SGP32_OK);
        assert_int_equal(sgp32_asn1_read_tlv(outer.value.data, outer.value.len, &t, NULL), SGP32_OK);
        assert_int_equal(t.tag, 0x82);
        assert_memory_equal(t.value.data, eim_txid, sizeof(eim_txid));
        assert_int_equal(
            sgp32_asn1_read_tlv(outer.value.data + t.whole.len, outer.value.len - t.whole.len, &t, NULL),
            SGP32_OK);
        *has = true;
        return t.tag == 0xBF37;
    }
    return false;
}

static void indirect_download(void **state)
{
    (void)state;
    const char *profiles[2] = {TS48_V1, TS48_V2};
    for (int i = 0; i < 2; i++) {
        host *h = new_host(SGP32_IPA_FEATURE_INDIRECT_RSP_SERVER_COMMUNICATION, profiles[i]);
        queue_trigger(h, HOST_AC, false);
        assert_int_equal(sgp32_ipa_start_boot(h->ipa), SGP32_OK);
        assert_int_equal(host_run(h, 5000), HOST_IDLE);
        assert_true(
            host_transcript_has(h, "ESIPA GetEimPackage;SAVE;ES10 BF20;ES10 BF2E;"
                                   "ESIPA InitiateAuthentication;SAVE;ES10 BF38;ESIPA AuthenticateClient;"
                                   "ES10 BF21;ESIPA GetBoundProfilePackage;ES10 BF36;ES10 A000;ES10 A100"));
        assert_true(host_transcript_has(h, "ESIPA ProvideEimPackageResult;SAVE;ES10 BF30"));
        assert_true(installed(h));
        assert_true(h->pir_verified && h->pir_success);
        bool has;
        assert_true(trigger_result(h, &has));
        assert_int_equal(host_card_pending(h), 0);
        assert_int_equal(h->es9_count, 0);
        const sgp32_ipa_stats *st = sgp32_ipa_get_stats(h->ipa);
        assert_int_equal(st->downloads_installed, 1);
        assert_true(st->bpp_segments >= 7);
        /* InitiateAuthentication carried the AC's address and the trigger's transaction id */
        const sgp32_buf *ia = &h->sent[SGP32_IPA_FN_INITIATE_AUTHENTICATION];
        assert_non_null(find(ia, "\x83\x10" HOST_SMDP, 18));
        assert_non_null(find(ia, "\x82\x02\x01\x02", 4));
        free_host(h);
    }
}

/* No download data in the trigger: the eIM holds it (eimDownloadDataHandling). */
static void indirect_eim_download_data(void **state)
{
    (void)state;
    host *h = new_host(SGP32_IPA_FEATURE_INDIRECT_RSP_SERVER_COMMUNICATION |
                           SGP32_IPA_FEATURE_EIM_DOWNLOAD_DATA_HANDLING,
                       TS48_V1);
    queue_trigger(h, NULL, false);
    assert_int_equal(sgp32_ipa_start_boot(h->ipa), SGP32_OK);
    assert_int_equal(host_run(h, 5000), HOST_IDLE);
    assert_true(installed(h));
    const sgp32_buf *ia = &h->sent[SGP32_IPA_FN_INITIATE_AUTHENTICATION];
    assert_null(find(ia, HOST_SMDP, strlen(HOST_SMDP)));
    free_host(h);
}

static void direct_download(void **state)
{
    (void)state;
    for (int dp = 0; dp < 2; dp++) {
        host *h = new_host(SGP32_IPA_FEATURE_DIRECT_RSP_SERVER_COMMUNICATION, TS48_V2);
        queue_trigger(h, dp ? NULL : HOST_AC, dp == 1);
        assert_int_equal(sgp32_ipa_start_boot(h->ipa), SGP32_OK);
        assert_int_equal(host_run(h, 5000), HOST_IDLE);
        assert_true(host_transcript_has(h, "ES9 InitiateAuthentication;SAVE;ES10 BF38;ES9 AuthenticateClient;"
                                           "ES10 BF21;ES9 GetBoundProfilePackage;ES10 BF36"));
        /* the PIR to the SM-DP+ by the IPA, removed, then the result to the eIM */
        assert_true(host_transcript_has(h, "ES9 HandleNotification;ES10 BF30;ESIPA ProvideEimPackageResult"));
        if (dp)
            assert_true(host_transcript_has(h, "ESIPA GetEimPackage;SAVE;ES10 BF3C;ES10 BF20"));
        assert_true(installed(h));
        assert_true(h->pir_verified && h->pir_success);
        bool has;
        assert_true(trigger_result(h, &has));
        assert_int_equal(host_card_pending(h), 0);
        assert_true(h->es9_count >= 4);
        free_host(h);
    }
}

/* The GetBoundProfilePackage answer arrives in small chunks; the IPA relays as it goes. */
static void chunked_bpp(void **state)
{
    (void)state;
    size_t chunks[] = {1, 7, 100, 1021};
    for (size_t i = 0; i < SGP32_ARRAY_LEN(chunks); i++) {
        host *h = new_host(SGP32_IPA_FEATURE_INDIRECT_RSP_SERVER_COMMUNICATION, TS48_V1);
        h->chunk = chunks[i];
        queue_trigger(h, HOST_AC, false);
        assert_int_equal(sgp32_ipa_start_boot(h->ipa), SGP32_OK);
        assert_int_equal(host_run(h, 200000), HOST_IDLE);
        assert_true(installed(h));
        assert_true(h->pir_verified && h->pir_success);
        free_host(h);
    }
}

static void immediate_enable(void **state)
{
    (void)state;
    host *h = new_host(SGP32_IPA_FEATURE_INDIRECT_RSP_SERVER_COMMUNICATION, TS48_V1);
    sgp32_ipa_free(h->ipa);
    h->config.immediate_enable = true;
    host_new_ipa(h);
    h->f.euicc->state.immediate_enable_flag = true;
    queue_trigger(h, HOST_AC, false);
    assert_int_equal(sgp32_ipa_start_boot(h->ipa), SGP32_OK);
    assert_int_equal(host_run(h, 5000), HOST_IDLE);
    assert_true(host_transcript_has(h, "ES10 BF5A;RESET;SELECT"));
    char digits[21];
    assert_int_equal(sgp32_upp_iccid(h->upp.data, h->upp.len, digits), SGP32_OK);
    assert_string_equal(host_enabled(h), digits);
    /* the eIM heard about it with the next GetEimPackage */
    assert_true(h->last_notify);
    assert_int_equal(h->last_cause, SGP32_IPA_CAUSE_IMMEDIATE_ENABLE_PROFILE);
    free_host(h);
}

static void smdp_refuses(void **state)
{
    (void)state;
    host *h = new_host(SGP32_IPA_FEATURE_INDIRECT_RSP_SERVER_COMMUNICATION, TS48_V1);
    h->smdp_refuse_bpp = true;
    queue_trigger(h, HOST_AC, false);
    assert_int_equal(sgp32_ipa_start_boot(h->ipa), SGP32_OK);
    assert_int_equal(host_run(h, 5000), HOST_IDLE);
    assert_true(host_transcript_has(h, "ESIPA GetBoundProfilePackage;ES10 BF41;ESIPA CancelSession;"
                                       "ESIPA ProvideEimPackageResult"));
    assert_false(installed(h));
    bool has;
    assert_false(trigger_result(h, &has));
    assert_true(has);
    assert_int_equal(h->cancel_count, 1);
    /* CancelSessionRequestEsipa: BF41 {80 txid, A1 {A0 {30 .., 5F37 ..}}} */
    const sgp32_buf *c = &h->sent[SGP32_IPA_FN_CANCEL_SESSION];
    sgp32_asn1_tlv outer, t;
    assert_int_equal(sgp32_asn1_expect(c->data, c->len, 0xBF41, &outer), SGP32_OK);
    assert_int_equal(sgp32_asn1_read_tlv(outer.value.data, outer.value.len, &t, NULL), SGP32_OK);
    assert_int_equal(t.tag, 0x80);
    assert_int_equal(outer.value.data[t.whole.len], 0xA1);
    assert_null(h->f.euicc->download);
    free_host(h);
}

static void connection_dropped_mid_bpp(void **state)
{
    (void)state;
    host *h = new_host(SGP32_IPA_FEATURE_INDIRECT_RSP_SERVER_COMMUNICATION, TS48_V1);
    h->chunk = 1000;
    h->drop_at_chunk = 4;
    queue_trigger(h, HOST_AC, false);
    assert_int_equal(sgp32_ipa_start_boot(h->ipa), SGP32_OK);
    assert_int_equal(host_run(h, 5000), HOST_IDLE);
    /* the eUICC session is cancelled (reason timeout), the server told, the eIM gets an error */
    assert_true(host_transcript_has(h, "DROPPED") || strstr(h->transcript, "DROPPED") != NULL);
    assert_true(strstr(h->transcript, "ES10 BF41;ESIPA CancelSession") != NULL);
    assert_false(installed(h));
    bool has;
    assert_false(trigger_result(h, &has));
    assert_true(has);
    assert_null(h->f.euicc->download);
    assert_int_equal(host_card_pending(h), 0);
    free_host(h);
}

static void compact_download(void **state)
{
    (void)state;
    host *h =
        new_host(SGP32_IPA_FEATURE_INDIRECT_RSP_SERVER_COMMUNICATION | SGP32_IPA_FEATURE_MINIMIZE_ESIPA_BYTES,
                 TS48_V1);
    sgp32_ipa_free(h->ipa);
    h->config.eim_supports_compact = true;
    host_new_ipa(h);
    queue_trigger(h, HOST_AC, false);
    assert_int_equal(sgp32_ipa_start_boot(h->ipa), SGP32_OK);
    assert_int_equal(host_run(h, 5000), HOST_IDLE);
    /* AuthenticateClientRequestEsipa {80 txid, BF38 {A2 compact}}: the scripted eIM cannot rebuild
     * the full form, so the SM-DP+ refuses and the IPA cancels (compact too) */
    const sgp32_buf *ac = &h->sent[SGP32_IPA_FN_AUTHENTICATE_CLIENT];
    sgp32_asn1_tlv outer, t, bf38;
    assert_int_equal(sgp32_asn1_expect(ac->data, ac->len, 0xBF3B, &outer), SGP32_OK);
    assert_int_equal(sgp32_asn1_read_tlv(outer.value.data, outer.value.len, &t, NULL), SGP32_OK);
    assert_int_equal(
        sgp32_asn1_read_tlv(outer.value.data + t.whole.len, outer.value.len - t.whole.len, &bf38, NULL),
        SGP32_OK);
    assert_int_equal(bf38.tag, 0xBF38);
    assert_int_equal(bf38.value.data[0], 0xA2);
    assert_true(ac->len < 300); /* no certificates */
    const sgp32_buf *c = &h->sent[SGP32_IPA_FN_CANCEL_SESSION];
    assert_true(c->len > 0);
    assert_non_null(find(c, "\xA1", 1));
    free_host(h);
}

/* Power loss before / after every action of a download: afterwards the eIM has a trigger result
 * that matches the card (a verified PIR when the profile is there, an error otherwise) and
 * nothing stays pending. */
static void power_loss_at_every_step(void **state)
{
    (void)state;
    size_t total;
    {
        host *h = new_host(SGP32_IPA_FEATURE_INDIRECT_RSP_SERVER_COMMUNICATION, TS48_V1);
        assert_int_equal(sgp32_ipa_start_boot(h->ipa), SGP32_OK);
        assert_int_equal(host_run(h, 5000), HOST_IDLE);
        size_t base = h->actions;
        queue_trigger(h, HOST_AC, false);
        assert_int_equal(sgp32_ipa_start_poll(h->ipa), SGP32_OK);
        assert_int_equal(host_run(h, 5000), HOST_IDLE);
        total = h->actions - base;
        free_host(h);
    }
    for (int after = 0; after < 2; after++) {
        for (size_t k = 1; k <= total; k++) {
            host *h = new_host(SGP32_IPA_FEATURE_INDIRECT_RSP_SERVER_COMMUNICATION, TS48_V1);
            assert_int_equal(sgp32_ipa_start_boot(h->ipa), SGP32_OK);
            assert_int_equal(host_run(h, 5000), HOST_IDLE);
            queue_trigger(h, HOST_AC, false);
            h->power_loss_at = h->actions + k;
            h->power_loss_after = after;
            assert_int_equal(sgp32_ipa_start_poll(h->ipa), SGP32_OK);
            host_stop stop = host_run(h, 5000);
            if (stop == HOST_POWER_LOSS) {
                h->power_loss_at = 0;
                host_power_cycle(h);
                stop = host_run(h, 5000);
            }
            assert_int_equal(stop, HOST_IDLE);
            bool has;
            bool pir = trigger_result(h, &has);
            bool lost_before_delivery = !has && h->queue_count == 0 && !installed(h);
            if (!(has || lost_before_delivery))
                fail_msg("after %d k %zu: no trigger result\n%s", after, k, h->transcript);
            /* an interrupted session may leave an error PIR (interruption): that is reported too */
            if (installed(h) != (pir && h->pir_verified && h->pir_success))
                fail_msg("after %d k %zu: installed %d, PIR result %d verified %d success %d\n%s", after, k,
                         installed(h), pir, h->pir_verified, h->pir_success, h->transcript);
            host_power_cycle(h);
            assert_int_equal(host_run(h, 5000), HOST_IDLE);
            assert_int_equal(host_card_pending(h), 0);
            assert_null(h->f.euicc->download);
            free_host(h);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(indirect_download),
        cmocka_unit_test(indirect_eim_download_data),
        cmocka_unit_test(direct_download),
        cmocka_unit_test(chunked_bpp),
        cmocka_unit_test(immediate_enable),
        cmocka_unit_test(smdp_refuses),
        cmocka_unit_test(connection_dropped_mid_bpp),
        cmocka_unit_test(compact_download),
        cmocka_unit_test(power_loss_at_every_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Records the sessions the IPA fuzzers (fuzz/fuzz_ipa_esipa.c, fuzz/fuzz_ipa_apdu.c) and the
 * footprint benchmark (bench/footprint) replay: each scenario runs the IPA core against the test
 * host of ipa_host.c (software eUICC, scripted eIM and SM-DP+) and writes every answer the host
 * gave as a script (format: fuzz/fuzz_ipa.h), then the seeds of both fuzz targets.
 *
 *   cmake --build build --target ipa_scripts   # rewrites fuzz/ipa_scripts/ and the two corpora
 *
 * The answers hold fresh signatures and keys, so every run writes different bytes; the IPA does
 * not check them (the eUICC and the servers do), so any recording replays.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "fuzz_ipa.h"
#include "ipa_host.h"

#define TS48_V1 SGP32_SPEC_DIR "/profiles/TS48V1-A-UNIQUE.der"
#define TS48_V2 SGP32_SPEC_DIR "/profiles/TS48V2-SAIP2-1-BERTLV-UNIQUE.der"
#define ALL_FEATURES                                                                                         \
    (SGP32_IPA_FEATURE_DIRECT_RSP_SERVER_COMMUNICATION | SGP32_IPA_FEATURE_INDIRECT_RSP_SERVER_COMMUNICATION)

static const char *out_dir;

typedef struct script {
    sgp32_buf b;
} script;

static void rec(script *s, uint8_t type, const uint8_t *prefix, size_t prefix_len, const uint8_t *data,
                size_t len)
{
    size_t n = prefix_len + len;
    uint8_t hdr[4] = {type, (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    assert_true(n < (1u << 24));
    assert_int_equal(sgp32_buf_append(&s->b, hdr, 4), SGP32_OK);
    if (prefix_len)
        assert_int_equal(sgp32_buf_append(&s->b, prefix, prefix_len), SGP32_OK);
    if (len)
        assert_int_equal(sgp32_buf_append(&s->b, data, len), SGP32_OK);
}

static void on_answer(host *h, const sgp32_ipa_action *a, const sgp32_ipa_event *ev)
{
    script *s = h->record_ctx;
    uint8_t fn = (uint8_t)a->function;
    switch (a->type) {
    case SGP32_IPA_ACT_TRANSMIT_APDU:
        if (ev->type == SGP32_IPA_EV_APDU_RESPONSE)
            rec(s, FUZZ_IPA_REC_APDU, NULL, 0, ev->data.data, ev->data.len);
        else
            rec(s, FUZZ_IPA_REC_APDU_ERROR, NULL, 0, NULL, 0);
        break;
    case SGP32_IPA_ACT_SEND_ESIPA:
    case SGP32_IPA_ACT_SEND_ES9PLUS:
        if (ev->type == SGP32_IPA_EV_RESPONSE)
            rec(s, FUZZ_IPA_REC_SERVER, &fn, 1, h->response.data, h->response.len);
        else
            rec(s, FUZZ_IPA_REC_SERVER_ERROR, &fn, 1, NULL, 0);
        break;
    default: break;
    }
}

static host *begin(script *s, uint32_t features, const char *profile)
{
    host *h = calloc(1, sizeof(*h));
    assert_non_null(h);
    host_open(h, features);
    if (profile)
        host_load_profile(h, profile);
    h->record = on_answer;
    h->record_ctx = s;
    sgp32_buf_init(&s->b, 1 << 22);
    static const uint8_t magic[FUZZ_IPA_HEADER - 4] = {'I', 'P', 'A', 'S', 1};
    assert_int_equal(sgp32_buf_append(&s->b, magic, sizeof(magic)), SGP32_OK);
    uint8_t f[4] = {(uint8_t)(features >> 24), (uint8_t)(features >> 16), (uint8_t)(features >> 8),
                    (uint8_t)features};
    assert_int_equal(sgp32_buf_append(&s->b, f, 4), SGP32_OK);
    return h;
}

static void boot(host *h, script *s)
{
    rec(s, FUZZ_IPA_REC_BOOT, NULL, 0, NULL, 0);
    assert_int_equal(sgp32_ipa_start_boot(h->ipa), SGP32_OK);
    assert_int_equal(host_run(h, 20000), HOST_IDLE);
}

static void push(host *h, script *s, const uint8_t *body, size_t len)
{
    rec(s, FUZZ_IPA_REC_PUSH, NULL, 0, body, len);
    assert_int_equal(sgp32_ipa_start_push(h->ipa, body, len), SGP32_OK);
    assert_int_equal(host_run(h, 20000), HOST_IDLE);
}

static void write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        fail_msg("cannot write %s: %s", path, strerror(errno));
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void finish(host *h, script *s, const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/ipa_scripts/%s.bin", out_dir, name);
    write_file(path, s->b.data, s->b.len);
    print_message("%-10s %7zu bytes: %s\n", name, s->b.len, h->transcript);
    host_close(h);
    free(h);
    sgp32_buf_free(&s->b);
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

/* BF54 {A0 {80 ac}, 82 txid} */
static void queue_trigger(host *h)
{
    static const uint8_t txid[2] = {0x01, 0x02};
    sgp32_buf b;
    sgp32_buf_init(&b, 1024);
    size_t outer = sgp32_asn1_begin(&b);
    size_t data = sgp32_asn1_begin(&b);
    assert_int_equal(sgp32_asn1_write_tlv(&b, 0x80, (const uint8_t *)HOST_AC, strlen(HOST_AC)), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&b, 0xA0, data), SGP32_OK);
    assert_int_equal(sgp32_asn1_write_tlv(&b, 0x82, txid, sizeof(txid)), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&b, 0xBF54, outer), SGP32_OK);
    host_queue(h, b.data, b.len);
    sgp32_buf_free(&b);
}

static void record_scripts(void **state)
{
    (void)state;
    script s;
    host *h;

    h = begin(&s, ALL_FEATURES, NULL);
    sgp32_psmo p = enable_psmo(h, HOST_ICCID_B, true);
    host_queue_psmos(h, &p, 1);
    boot(h, &s);
    finish(h, &s, "enable");

    h = begin(&s, ALL_FEATURES, NULL);
    static const uint8_t good[] = {0xBF, 0x52, 0x13, 0x5C, 0x0D, 0xA0, 0x81, 0xA2, 0xBF, 0x20, 0xBF,
                                   0x22, 0x83, 0x84, 0xA5, 0xA6, 0xA8, 0xA9, 0x83, 0x02, 0x12, 0x34};
    static const uint8_t bad[] = {0xBF, 0x52, 0x09, 0x5C, 0x03, 0x80, 0xBF, 0x2B, 0x83, 0x02, 0x12, 0x34};
    host_queue(h, good, sizeof(good));
    host_queue(h, bad, sizeof(bad));
    boot(h, &s);
    finish(h, &s, "data");

    h = begin(&s, ALL_FEATURES, NULL);
    boot(h, &s);
    p = enable_psmo(h, HOST_ICCID_B, false);
    host_queue_psmos(h, &p, 1);
    h->queue_count = 0; /* pushed instead */
    sgp32_buf body;
    sgp32_buf_init(&body, 1 << 16);
    size_t m = sgp32_asn1_begin(&body);
    assert_int_equal(sgp32_buf_append(&body, h->last_package.data, h->last_package.len), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&body, 0xBF4E, m), SGP32_OK);
    push(h, &s, body.data, body.len);
    sgp32_buf_free(&body);
    static const uint8_t data[] = {0xBF, 0x4E, 0x0A, 0xBF, 0x52, 0x07, 0x5C,
                                   0x01, 0x81, 0x83, 0x02, 0x00, 0x01};
    push(h, &s, data, sizeof(data));
    finish(h, &s, "push");

    h = begin(&s, SGP32_IPA_FEATURE_INDIRECT_RSP_SERVER_COMMUNICATION, TS48_V1);
    queue_trigger(h);
    boot(h, &s);
    finish(h, &s, "indirect");

    h = begin(&s, SGP32_IPA_FEATURE_DIRECT_RSP_SERVER_COMMUNICATION, TS48_V2);
    queue_trigger(h);
    boot(h, &s);
    finish(h, &s, "direct");

    h = begin(&s, SGP32_IPA_FEATURE_INDIRECT_RSP_SERVER_COMMUNICATION, TS48_V1);
    h->smdp_refuse_bpp = true;
    queue_trigger(h);
    boot(h, &s);
    finish(h, &s, "cancel");
}

/* ------------------------------------------------------------------ seeds */

typedef sgp32_buf loaded;

static loaded load(const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/ipa_scripts/%s.bin", out_dir, name);
    loaded b;
    assert_int_equal(test_read_file(path, &b), SGP32_OK);
    return b;
}

/* The next record at *off: its type, data; false at the end. */
static bool next_record(const loaded *l, size_t *off, uint8_t *type, const uint8_t **data, size_t *len)
{
    if (*off + 4 > l->len)
        return false;
    const uint8_t *r = l->data + *off;
    *type = r[0];
    *len = (size_t)r[1] << 16 | (size_t)r[2] << 8 | r[3];
    *data = r + 4;
    *off += 4 + *len;
    return *off <= l->len;
}

static void seed(const char *target, const char *name, const uint8_t *head, size_t head_len,
                 const uint8_t *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/corpus/%s/%s", out_dir, target, name);
    uint8_t *all = malloc(head_len + len + 1);
    assert_non_null(all);
    memcpy(all, head, head_len);
    if (len)
        memcpy(all + head_len, data, len);
    write_file(path, all, head_len + len);
    free(all);
}

static void esipa_seeds(void)
{
    for (size_t t = 0; t < FUZZ_IPA_ESIPA_TARGET_COUNT; t++) {
        const fuzz_ipa_target *tg = &fuzz_ipa_esipa_targets[t];
        loaded l = load(tg->script);
        size_t off = FUZZ_IPA_HEADER;
        uint8_t type;
        const uint8_t *data;
        size_t len;
        unsigned seen = 0;
        bool found = false;
        while (!found && next_record(&l, &off, &type, &data, &len)) {
            bool hit = false;
            if (tg->function == SGP32_IPA_FN_TRANSFER_EIM_PACKAGE)
                hit = type == FUZZ_IPA_REC_PUSH;
            else
                hit = type == FUZZ_IPA_REC_SERVER && len >= 1 && data[0] == tg->function;
            if (hit && seen++ == tg->nth) {
                found = true;
                if (type == FUZZ_IPA_REC_SERVER) {
                    data++;
                    len--;
                }
            }
        }
        if (!found)
            fail_msg("target %zu: no %s #%u in %s", t, sgp32_ipa_function_name(tg->function), tg->nth,
                     tg->script);
        char name[128];
        uint8_t head[2] = {(uint8_t)t, 0};
        snprintf(name, sizeof(name), "%02zu-%s-%s-%u", t, tg->script, sgp32_ipa_function_name(tg->function),
                 tg->nth);
        seed("fuzz_ipa_esipa", name, head, 2, data, len);
        if (tg->function == SGP32_IPA_FN_GET_BOUND_PROFILE_PACKAGE) {
            head[1] = 100; /* 100-byte chunks */
            snprintf(name, sizeof(name), "%02zu-%s-%s-chunked", t, tg->script,
                     sgp32_ipa_function_name(tg->function));
            seed("fuzz_ipa_esipa", name, head, 2, data, len);
        } else if (len > 4) {
            snprintf(name, sizeof(name), "%02zu-%s-%s-truncated", t, tg->script,
                     sgp32_ipa_function_name(tg->function));
            seed("fuzz_ipa_esipa", name, head, 2, data, len / 2);
        }
        sgp32_buf_free(&l);
    }
}

/* fuzz_ipa_apdu: byte 0 script, bytes 1-2 the first card answer replaced, then the answers:
 * a length byte (< FD) and the bytes, FD n: 253 + n bytes, FE: no answer, FF: the recorded one. */
static void apdu_seeds(void)
{
    for (size_t sc = 0; sc < FUZZ_IPA_SCRIPT_COUNT; sc++) {
        loaded l = load(fuzz_ipa_scripts[sc]);
        const uint8_t *answers[4096];
        size_t lens[4096], count = 0;
        size_t off = FUZZ_IPA_HEADER;
        uint8_t type;
        const uint8_t *data;
        size_t len;
        while (next_record(&l, &off, &type, &data, &len))
            if ((type == FUZZ_IPA_REC_APDU || type == FUZZ_IPA_REC_APDU_ERROR) && count < 4096) {
                answers[count] = type == FUZZ_IPA_REC_APDU ? data : NULL;
                lens[count++] = len;
            }
        assert_true(count > 4);
        size_t picks[] = {0, 3, count / 3, count / 2, count - 3};
        for (size_t p = 0; p < SGP32_ARRAY_LEN(picks); p++) {
            size_t k = picks[p];
            uint8_t buf[4096];
            size_t n = 0;
            buf[n++] = (uint8_t)sc;
            buf[n++] = (uint8_t)(k >> 8);
            buf[n++] = (uint8_t)k;
            for (size_t i = k; i < count && i < k + 3; i++) {
                if (!answers[i]) {
                    buf[n++] = 0xFE;
                } else if (lens[i] < 0xFD) {
                    buf[n++] = (uint8_t)lens[i];
                    memcpy(buf + n, answers[i], lens[i]);
                    n += lens[i];
                } else {
                    buf[n++] = 0xFD;
                    buf[n++] = (uint8_t)(lens[i] - 253);
                    memcpy(buf + n, answers[i], lens[i]);
                    n += lens[i];
                }
            }
            char name[128];
            snprintf(name, sizeof(name), "%s-at-%zu", fuzz_ipa_scripts[sc], k);
            seed("fuzz_ipa_apdu", name, buf, n, NULL, 0);
        }
        /* hostile answers at the first STORE DATA: 6985 until reset, 61 00 loop, nothing */
        static const uint8_t hostile[] = {3, 0, 4, 2, 0x69, 0x85, 2, 0x61, 0x00, 0xFE, 1, 0x90, 0xFF};
        uint8_t buf[sizeof(hostile)];
        memcpy(buf, hostile, sizeof(hostile));
        buf[0] = (uint8_t)sc;
        char name[128];
        snprintf(name, sizeof(name), "%s-hostile", fuzz_ipa_scripts[sc]);
        seed("fuzz_ipa_apdu", name, buf, sizeof(buf), NULL, 0);
        sgp32_buf_free(&l);
    }
}

static void write_seeds(void **state)
{
    (void)state;
    esipa_seeds();
    apdu_seeds();
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <fuzz directory>\n", argv[0]);
        return 2;
    }
    out_dir = argv[1];
    const char *dirs[] = {"ipa_scripts", "corpus/fuzz_ipa_esipa", "corpus/fuzz_ipa_apdu"};
    for (size_t i = 0; i < SGP32_ARRAY_LEN(dirs); i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", out_dir, dirs[i]);
        mkdir(path, 0755);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(record_scripts),
        cmocka_unit_test(write_seeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

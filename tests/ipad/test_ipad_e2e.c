/*
 * ipad end to end: euicc-sim on a unix socket (file store in a temp dir), a scripted eIM as an
 * HTTPS server on 127.0.0.1 (tests/transport/https_test_server + lib/eim), and `ipad --once`.
 *
 *   1. the eIM is associated with the card (AddInitialEim over euicc-sim's socket);
 *   2. the eIM hands out a signed setDefaultDpAddress PSMO and a listEim eCO; ipad --once runs
 *      them, the eIM gets ProvideEimPackageResult with EPRs whose signatures verify (lib/eim)
 *      and acknowledges them; the card then holds no EPR (RetrieveNotificationsList), the
 *      default SM-DP+ address changed (euicc-sim --check-state), a second run finds no package;
 *   3. eIM unreachable: ipad exits 1 with a clear message;
 *   4. the eIM takes a package but fails ProvideEimPackageResult (503): ipad exits 1, the state
 *      file is written, and the next run delivers the result exactly once;
 *   5. every PSMO and eCO, one per package, through ipad --once: listProfileInfo, getRAT,
 *      configureImmediateEnable, set/unsetFallbackAttribute, setDefaultDpAddress, disable,
 *      enable with rollbackFlag and without, delete (refused while enabled, then ok) of the
 *      preloaded bootstrap profile; addEim/listEim/updateEim/deleteEim of a second eIM. Every
 *      EPR verifies (lib/eim) and carries the expected result code; the card state is checked
 *      with GetProfilesInfo (BF2D) and GetEuiccConfiguredAddresses (BF3C) over the socket and
 *      euicc-sim --check-state.
 *
 * With IPAD_E2E_PCSC_READER set (tests/ipad/test_ipad_pcsc.sh: pcscd + vpcd + euicc-sim), the card
 * is that PC/SC reader instead (ipad's `card = pcsc:READER`, the test's own ES10 over
 * sgp32_apdu_pcsc) and pcsc_round_trip (setDefaultDpAddress + listProfileInfo) and
 * every_psmo_and_eco run; the simulator's state is memory-only there, so the default SM-DP+ address
 * is read with GetEuiccConfiguredAddresses (BF3C) over PC/SC and --check-state is left out.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../transport/https_test_server.h"
#include "euicc_fixture.h"
#include "ipad_test_support.h"
#include "sgp32/apdu_transport.h"
#include "sgp32/asn1.h"
#include "sgp32/asn1_types.h"
#include "sgp32/certificate.h"
#include "sgp32/eim_package.h"

#define EIM_ID "eim.ipad.test"

typedef struct eim {
    pthread_mutex_t lock;
    sgp32_ec_private_key key;
    sgp32_ec_public_key pub;
    sgp32_ec_public_key euicc_pub;
    bool has_token;
    int64_t token;
    int64_t counter;
    uint8_t eid[16];
    sgp32_buf queue[8];
    size_t queue_head, queue_count;
    size_t get_count;       /* GetEimPackage requests */
    size_t provide_count;   /* ProvideEimPackageResult requests answered 200 */
    size_t provide_refused; /* ... answered 503 (fail_provide) */
    size_t eprs, eprs_verified;
    int64_t acked[32];
    size_t acked_count;
    size_t notifications;
    bool fail_provide;  /* ProvideEimPackageResult answers 503 */
    sgp32_buf last_epr; /* the last verified EPR's DER */
    struct {
        int choice;   /* SGP32_EUICC_RESULT_DATA_* */
        int64_t code; /* the result code, or a list's length */
    } results[64];    /* the first euiccResult item of each verified EPR, in order */
    size_t result_count;
} eim;

static char tmp_dir[256];
static pid_t sim_pid = -1;
static test_pki pki;
static test_server server;
static bool server_up;
static eim e;
static const char *pcsc_reader; /* IPAD_E2E_PCSC_READER: the card is this PC/SC reader */

/* ------------------------------------------------------------------ helpers */

/* Run argv with stdout+stderr into log; its exit status (-1: killed). */

/* ------------------------------------------------------------------ card access (socket) */

static sgp32_apdu_transport *card_open(void)
{
    return ipad_test_card_open(tmp_dir, pcsc_reader);
}

/* APDU; 61xx is followed by GET RESPONSE; the data (without SW) appended to out; the last SW. */

/* One ES10 command (SELECT ISD-R on the basic channel, STORE DATA) -> response into out. */

/* AddInitialEim for our eIM at address; the EID. */
static void associate(const char *address)
{
    ipad_test_association a;
    sgp32_apdu_transport *t = card_open();
    ipad_test_associate(t, EIM_ID, address, &e.pub, &a);
    sgp32_apdu_transport_destroy(t);
    e.has_token = a.has_token;
    e.token = a.token;
    memcpy(e.eid, a.eid, sizeof(e.eid));
}

/* EPRs (BF51) the card still holds: RetrieveNotificationsList BF2B {A0 {82 00}} over the socket. */
static size_t card_pending_eprs(void)
{
    static const uint8_t list[] = {0xBF, 0x2B, 0x04, 0xA0, 0x02, 0x82, 0x00}; /* euiccPackageResults */
    sgp32_buf resp;
    sgp32_buf_init(&resp, 1 << 16);
    sgp32_apdu_transport *t = card_open();
    ipad_test_es10(t, list, sizeof(list), &resp);
    sgp32_apdu_transport_destroy(t);
    size_t n = 0;
    for (size_t i = 0; i + 1 < resp.len; i++)
        if (resp.data[i] == 0xBF && resp.data[i + 1] == 0x51)
            n++;
    sgp32_buf_free(&resp);
    return n;
}

/* ------------------------------------------------------------------ the eIM */

static void queue_package(sgp32_euicc_package_signed *s)
{
    static const uint8_t txid[4] = {0x1D, 0xAD, 0x00, 0x01};
    s->eim_id = (sgp32_bytes){(const uint8_t *)EIM_ID, strlen(EIM_ID)};
    s->eid_value = (sgp32_bytes){e.eid, 16};
    s->counter_value = ++e.counter;
    s->has_eim_transaction_id = true;
    s->eim_transaction_id = (sgp32_bytes){txid, 4};
    pthread_mutex_lock(&e.lock);
    sgp32_buf *q = &e.queue[(e.queue_head + e.queue_count) % 8];
    sgp32_buf_reset(q);
    assert_int_equal(sgp32_eim_package_sign(s, &e.key, e.has_token, e.token, q), SGP32_OK);
    e.queue_count++;
    pthread_mutex_unlock(&e.lock);
}

static void queue_set_default_dp(const char *address)
{
    sgp32_psmo p;
    memset(&p, 0, sizeof(p));
    p.choice = SGP32_PSMO_SET_DEFAULT_DP_ADDRESS;
    p.u.set_default_dp_address.default_dp_address = (sgp32_bytes){(const uint8_t *)address, strlen(address)};
    sgp32_euicc_package_signed s;
    memset(&s, 0, sizeof(s));
    s.euicc_package.choice = SGP32_EUICC_PACKAGE_PSMO_LIST;
    s.euicc_package.u.psmo_list.items = &p;
    s.euicc_package.u.psmo_list.count = 1;
    queue_package(&s);
}

static void queue_list_eim(void)
{
    sgp32_eco c;
    memset(&c, 0, sizeof(c));
    c.choice = SGP32_ECO_LIST_EIM;
    sgp32_euicc_package_signed s;
    memset(&s, 0, sizeof(s));
    s.euicc_package.choice = SGP32_EUICC_PACKAGE_ECO_LIST;
    s.euicc_package.u.eco_list.items = &c;
    s.euicc_package.u.eco_list.count = 1;
    queue_package(&s);
}

/* The first euiccResult item's kind and code (a list's length for list results). */
static void record_result(const sgp32_euicc_package_result_data_signed *d)
{
    if (!d->euicc_result.count || e.result_count == 64)
        return;
    const sgp32_euicc_result_data *r = &d->euicc_result.items[0];
    int64_t code = -1;
    switch (r->choice) {
    case SGP32_EUICC_RESULT_DATA_ENABLE_RESULT: code = r->u.enable_result; break;
    case SGP32_EUICC_RESULT_DATA_DISABLE_RESULT: code = r->u.disable_result; break;
    case SGP32_EUICC_RESULT_DATA_DELETE_RESULT: code = r->u.delete_result; break;
    case SGP32_EUICC_RESULT_DATA_LIST_PROFILE_INFO_RESULT:
        code = r->u.list_profile_info_result.choice ==
                       SGP32_SGP32_PROFILE_INFO_LIST_RESPONSE_PROFILE_INFO_LIST_OK
                   ? (int64_t)r->u.list_profile_info_result.u.profile_info_list_ok.count
                   : -2;
        break;
    case SGP32_EUICC_RESULT_DATA_GET_RAT_RESULT: code = 0; break;
    case SGP32_EUICC_RESULT_DATA_CONFIGURE_IMMEDIATE_ENABLE_RESULT:
        code = r->u.configure_immediate_enable_result;
        break;
    case SGP32_EUICC_RESULT_DATA_ADD_EIM_RESULT:
        code = r->u.add_eim_result.choice == SGP32_ADD_EIM_RESULT_ASSOCIATION_TOKEN
                   ? 0
                   : 1000 + r->u.add_eim_result.u.add_eim_result_code;
        break;
    case SGP32_EUICC_RESULT_DATA_DELETE_EIM_RESULT: code = r->u.delete_eim_result; break;
    case SGP32_EUICC_RESULT_DATA_UPDATE_EIM_RESULT: code = r->u.update_eim_result; break;
    case SGP32_EUICC_RESULT_DATA_LIST_EIM_RESULT:
        code = r->u.list_eim_result.choice == SGP32_LIST_EIM_RESULT_EIM_ID_LIST
                   ? (int64_t)r->u.list_eim_result.u.eim_id_list.count
                   : -2;
        break;
    case SGP32_EUICC_RESULT_DATA_SET_FALLBACK_ATTRIBUTE_RESULT:
        code = r->u.set_fallback_attribute_result;
        break;
    case SGP32_EUICC_RESULT_DATA_UNSET_FALLBACK_ATTRIBUTE_RESULT:
        code = r->u.unset_fallback_attribute_result;
        break;
    case SGP32_EUICC_RESULT_DATA_SET_DEFAULT_DP_ADDRESS_RESULT:
        code = r->u.set_default_dp_address_result.set_default_dp_address_result;
        break;
    default: break;
    }
    e.results[e.result_count].choice = r->choice;
    e.results[e.result_count].code = code;
    e.result_count++;
}

/* seqNumbers of a result (BF2F {80 seq} notifications, 83 of a signed EPR); EPRs verified. */
static void collect(sgp32_bytes contents, int64_t *seqs, size_t *count, int depth)
{
    sgp32_asn1_reader r;
    sgp32_asn1_tlv t, inner, data, seq;
    sgp32_asn1_reader_init(&r, contents, depth);
    while (sgp32_asn1_reader_next(&r, &t) == SGP32_OK) {
        int64_t v;
        if (t.tag == 0xBF2F) {
            sgp32_asn1_reader rr;
            sgp32_asn1_reader_init(&rr, t.value, depth + 1);
            if (sgp32_asn1_reader_next(&rr, &seq) == SGP32_OK && seq.tag == 0x80 &&
                sgp32_asn1_parse_integer(seq.value, &v) == SGP32_OK && *count < 32)
                seqs[(*count)++] = v;
        } else if (t.tag == 0xBF51) {
            sgp32_asn1_reader rr;
            sgp32_asn1_reader_init(&rr, t.value, depth + 1);
            if (sgp32_asn1_reader_next(&rr, &inner) == SGP32_OK && inner.tag == 0xA0) {
                sgp32_asn1_reader r3;
                sgp32_asn1_reader_init(&r3, inner.value, depth + 2);
                if (sgp32_asn1_reader_next(&r3, &data) == SGP32_OK && data.tag == 0x30) {
                    sgp32_asn1_reader r4;
                    sgp32_asn1_reader_init(&r4, data.value, depth + 3);
                    while (sgp32_asn1_reader_next(&r4, &seq) == SGP32_OK)
                        if (seq.tag == 0x83 && sgp32_asn1_parse_integer(seq.value, &v) == SGP32_OK &&
                            *count < 32)
                            seqs[(*count)++] = v;
                }
            }
            e.eprs++;
            sgp32_arena arena;
            sgp32_arena_init(&arena, 1 << 20);
            sgp32_euicc_package_result res;
            if (sgp32_eim_package_result_verify(t.whole.data, t.whole.len, &e.euicc_pub, e.has_token, e.token,
                                                &arena, &res) == SGP32_OK &&
                res.choice == SGP32_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED) {
                e.eprs_verified++;
                record_result(&res.u.euicc_package_result_signed.euicc_package_result_data_signed);
                sgp32_buf_reset(&e.last_epr);
                sgp32_buf_append(&e.last_epr, t.whole.data, t.whole.len);
            }
            sgp32_arena_free(&arena);
        } else if (t.constructed) {
            collect(t.value, seqs, count, depth + 1);
        }
    }
}

static void eim_handler(void *ctx, const test_request *req, test_answer *ans)
{
    (void)ctx;
    pthread_mutex_lock(&e.lock);
    sgp32_asn1_tlv msg;
    ans->status = 200;
    ans->content_type = "application/x-gsma-rsp-asn1";
    if (strcmp(req->path, "/gsma/rsp2/asn1") != 0 ||
        sgp32_asn1_read_tlv(req->body.data, req->body.len, &msg, NULL) != SGP32_OK) {
        ans->status = 400;
        ans->content_type = NULL;
        goto out;
    }
    sgp32_buf *out = &ans->body;
    if (msg.tag == 0xBF4F) {
        e.get_count++;
        size_t mark = sgp32_asn1_begin(out);
        if (e.queue_count) {
            const sgp32_buf *q = &e.queue[e.queue_head];
            sgp32_buf_append(out, q->data, q->len);
            e.queue_head = (e.queue_head + 1) % 8;
            e.queue_count--;
        } else {
            sgp32_asn1_write_integer(out, 0x02, 1); /* noEimPackageAvailable */
        }
        sgp32_asn1_end(out, 0xBF4F, mark);
    } else if (msg.tag == 0xBF50) {
        if (e.fail_provide) {
            e.provide_refused++;
            ans->status = 503;
            ans->content_type = NULL;
            goto out;
        }
        e.provide_count++;
        int64_t seqs[32];
        size_t n = 0;
        collect(msg.value, seqs, &n, 1);
        size_t mark = sgp32_asn1_begin(out);
        if (n) {
            size_t acks = sgp32_asn1_begin(out);
            for (size_t i = 0; i < n; i++) {
                sgp32_asn1_write_integer(out, 0x80, seqs[i]);
                if (e.acked_count < 32)
                    e.acked[e.acked_count++] = seqs[i];
            }
            sgp32_asn1_end(out, 0xBF53, acks);
        } else {
            sgp32_asn1_write_tlv(out, 0x30, NULL, 0);
        }
        sgp32_asn1_end(out, 0xBF50, mark);
    } else if (msg.tag == 0xBF3D) {
        e.notifications++;
        ans->status = 204;
        ans->content_type = NULL;
    } else {
        ans->status = 400;
        ans->content_type = NULL;
    }
out:
    pthread_mutex_unlock(&e.lock);
}

/* ------------------------------------------------------------------ set-up */

static char config_path[300], log_path[300], state_path[300];

static void write_config(const char *eim_override)
{
    char text[2048], card[400];
    if (pcsc_reader)
        snprintf(card, sizeof(card), "pcsc:%s", pcsc_reader);
    else
        snprintf(card, sizeof(card), "socket:unix:%s/card.sock", tmp_dir);
    snprintf(text, sizeof(text),
             "# ipad e2e\n"
             "card = %s\n"
             "binding = asn1\n"
             "ca_file = %s/ca.pem\n"
             "state_file = %s\n"
             "backoff_base = 5\n"
             "backoff_max = 60\n"
             "http_timeout_ms = 10000\n"
             "ipa_features = indirect\n"
             "log_level = debug\n"
             "%s%s\n",
             card, tmp_dir, state_path, eim_override ? "eim_address = " : "",
             eim_override ? eim_override : "");
    ipad_test_write_text(config_path, text);
}

static int ipad_once(void)
{
    char *argv[] = {(char *)SGP32_IPAD, (char *)"-c", config_path, (char *)"--once", NULL};
    return ipad_test_run(argv, log_path);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/ipad-e2e-XXXXXX");
    assert_non_null(mkdtemp(tmp_dir));
    snprintf(config_path, sizeof(config_path), "%s/ipad.conf", tmp_dir);
    snprintf(log_path, sizeof(log_path), "%s/ipad.log", tmp_dir);
    snprintf(state_path, sizeof(state_path), "%s/ipad.state", tmp_dir);
    memset(&e, 0, sizeof(e));
    pthread_mutex_init(&e.lock, NULL);
    for (size_t i = 0; i < 8; i++)
        sgp32_buf_init(&e.queue[i], 1 << 16);
    sgp32_buf_init(&e.last_epr, 1 << 16);
    assert_int_equal(sgp32_ec_generate(SGP32_CURVE_NIST_P256, &e.key, &e.pub), SGP32_OK);
    sgp32_buf der;
    assert_int_equal(test_read_file(SGP32_SPEC_DIR "/sgp26/eUICC/CERT_EUICC_ECDSA_NIST.der", &der), SGP32_OK);
    sgp32_certificate *cert = calloc(1, sizeof(*cert));
    assert_int_equal(sgp32_cert_parse(der.data, der.len, cert), SGP32_OK);
    e.euicc_pub = cert->public_key;
    free(cert);
    sgp32_buf_free(&der);

    assert_int_equal(test_pki_make(&pki), SGP32_OK);
    sgp32_buf pem;
    sgp32_buf_init(&pem, 1 << 16);
    assert_int_equal(test_pem_certificate(&pki.ci_der, &pem), SGP32_OK);
    char path[300];
    snprintf(path, sizeof(path), "%s/ca.pem", tmp_dir);
    ipad_test_write_text(path, (const char *)pem.data);
    sgp32_buf_free(&pem);
    assert_int_equal(test_server_start(&server, &pki, eim_handler, NULL), SGP32_OK);
    server_up = true;

    char card_dir[300], listen[320];
    snprintf(card_dir, sizeof(card_dir), "%s/card", tmp_dir);
    snprintf(listen, sizeof(listen), "unix:%s/card.sock", tmp_dir);
    if (pcsc_reader) { /* euicc-sim runs behind vpcd (test_ipad_pcsc.sh) */
        associate(server.host);
        return 0;
    }
    sim_pid = fork();
    assert_true(sim_pid >= 0);
    if (sim_pid == 0) {
        char simlog[320];
        snprintf(simlog, sizeof(simlog), "%s/euicc-sim.log", tmp_dir);
        int fd = open(simlog, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(SGP32_EUICC_SIM, "euicc-sim", "--state-dir", card_dir, "--sgp26", SGP32_SPEC_DIR "/sgp26",
              "--listen", listen, (char *)NULL);
        _exit(127);
    }
    associate(server.host);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (sim_pid > 0) {
        kill(sim_pid, SIGTERM);
        waitpid(sim_pid, NULL, 0);
        sim_pid = -1;
    }
    if (server_up)
        test_server_stop(&server);
    server_up = false;
    test_pki_free(&pki);
    for (size_t i = 0; i < 8; i++)
        sgp32_buf_free(&e.queue[i]);
    sgp32_buf_free(&e.last_epr);
    pthread_mutex_destroy(&e.lock);
    if (!getenv("IPAD_E2E_KEEP")) {
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", tmp_dir);
    }
    return 0;
}

static void show_log(void)
{
    fprintf(stderr, "---- ipad log ----\n%s------------------\n", ipad_test_read_text(log_path));
}

/* ------------------------------------------------------------------ the tests */

static void round_trip(void **state)
{
    (void)state;
    write_config(NULL);
    queue_set_default_dp("dp.ipad.test");
    queue_list_eim();
    int rc = ipad_once();
    if (rc != 0)
        show_log();
    assert_int_equal(rc, 0);
    pthread_mutex_lock(&e.lock);
    assert_int_equal(e.queue_count, 0);   /* both packages were fetched */
    assert_true(e.get_count >= 3);        /* two packages, then "no package" */
    assert_true(e.provide_count >= 1);    /* ProvideEimPackageResult */
    assert_int_equal(e.eprs, 2);          /* one EPR per package */
    assert_int_equal(e.eprs_verified, 2); /* signed by the eUICC, verified with lib/eim */
    assert_true(e.acked_count >= 2);
    /* the last EPR is listEim's: it names our eIM */
    assert_non_null(memmem(e.last_epr.data, e.last_epr.len, EIM_ID, strlen(EIM_ID)));
    pthread_mutex_unlock(&e.lock);
    /* the acknowledged EPRs are gone from the card */
    assert_int_equal(card_pending_eprs(), 0);
    /* the PSMO took effect (the card's stored state) */
    char card_dir[300];
    snprintf(card_dir, sizeof(card_dir), "%s/card", tmp_dir);
    char *argv[] = {(char *)SGP32_EUICC_SIM, (char *)"--check-state", card_dir, NULL};
    char check_log[320];
    snprintf(check_log, sizeof(check_log), "%s/check.log", tmp_dir);
    assert_int_equal(ipad_test_run(argv, check_log), 0);
    assert_non_null(strstr(ipad_test_read_text(check_log), "dp.ipad.test"));
    /* logs: per procedure at info, per step at debug */
    const char *log = ipad_test_read_text(log_path);
    assert_non_null(strstr(log, "ESipa session to"));
    assert_non_null(strstr(log, "action TRANSMIT_APDU"));

    /* a second run polls and finds nothing */
    size_t gets = e.get_count, provides = e.provide_count, eprs = e.eprs;
    rc = ipad_once();
    if (rc != 0)
        show_log();
    assert_int_equal(rc, 0);
    pthread_mutex_lock(&e.lock);
    assert_int_equal(e.get_count, gets + 1);
    assert_int_equal(e.provide_count, provides);
    assert_int_equal(e.eprs, eprs);
    pthread_mutex_unlock(&e.lock);
}

static void eim_unreachable(void **state)
{
    (void)state;
    write_config("localhost:1"); /* nothing listens there */
    int rc = ipad_once();
    const char *log = ipad_test_read_text(log_path);
    if (rc != 1)
        show_log();
    assert_int_equal(rc, 1);
    assert_non_null(strstr(log, "poll cycle failed"));
    assert_non_null(strstr(log, "localhost:1"));
}

static void result_kept_until_delivered(void **state)
{
    (void)state;
    write_config(NULL);
    unlink(state_path);
    queue_set_default_dp("dp2.ipad.test");
    pthread_mutex_lock(&e.lock);
    e.fail_provide = true;
    size_t eprs = e.eprs, provides = e.provide_count;
    pthread_mutex_unlock(&e.lock);
    int rc = ipad_once();
    if (rc != 1)
        show_log();
    assert_int_equal(rc, 1);
    assert_non_null(strstr(ipad_test_read_text(log_path), "poll cycle failed"));
    struct stat st;
    assert_int_equal(stat(state_path, &st), 0); /* the pending result was saved */
    assert_true(st.st_size > 0);
    pthread_mutex_lock(&e.lock);
    assert_true(e.provide_refused >= 1);
    assert_int_equal(e.queue_count, 0);
    e.fail_provide = false;
    pthread_mutex_unlock(&e.lock);
    assert_int_equal(card_pending_eprs(), 1); /* still on the card */

    rc = ipad_once();
    if (rc != 0)
        show_log();
    assert_int_equal(rc, 0);
    pthread_mutex_lock(&e.lock);
    assert_int_equal(e.eprs, eprs + 1); /* delivered exactly once */
    assert_int_equal(e.eprs_verified, e.eprs);
    assert_true(e.provide_count >= provides + 1);
    pthread_mutex_unlock(&e.lock);
    assert_int_equal(card_pending_eprs(), 0);

    /* and not again */
    rc = ipad_once();
    assert_int_equal(rc, 0);
    pthread_mutex_lock(&e.lock);
    assert_int_equal(e.eprs, eprs + 1);
    pthread_mutex_unlock(&e.lock);
}

/* ------------------------------------------------------------------ every PSMO and eCO */

/* euicc-sim's preloaded bootstrap profile: ICCID 8900000000000000001 (BCD, nibble-swapped) */
static const uint8_t bootstrap_iccid[10] = {0x98, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xF1};

static void queue_psmo(const sgp32_psmo *p)
{
    sgp32_euicc_package_signed s;
    memset(&s, 0, sizeof(s));
    s.euicc_package.choice = SGP32_EUICC_PACKAGE_PSMO_LIST;
    s.euicc_package.u.psmo_list.items = (sgp32_psmo *)p;
    s.euicc_package.u.psmo_list.count = 1;
    queue_package(&s);
}

static void queue_eco(const sgp32_eco *c)
{
    sgp32_euicc_package_signed s;
    memset(&s, 0, sizeof(s));
    s.euicc_package.choice = SGP32_EUICC_PACKAGE_ECO_LIST;
    s.euicc_package.u.eco_list.items = (sgp32_eco *)c;
    s.euicc_package.u.eco_list.count = 1;
    queue_package(&s);
}

static void queue_psmo_iccid(int choice, bool rollback)
{
    sgp32_psmo p;
    memset(&p, 0, sizeof(p));
    p.choice = choice;
    sgp32_bytes iccid = {bootstrap_iccid, 10};
    switch (choice) {
    case SGP32_PSMO_ENABLE:
        p.u.enable.iccid = iccid;
        p.u.enable.rollback_flag = rollback;
        break;
    case SGP32_PSMO_DISABLE: p.u.disable.iccid = iccid; break;
    case SGP32_PSMO_DELETE: p.u.delete.iccid = iccid; break;
    case SGP32_PSMO_SET_FALLBACK_ATTRIBUTE: p.u.set_fallback_attribute.iccid = iccid; break;
    default: break;
    }
    queue_psmo(&p);
}

static void queue_psmo_plain(int choice)
{
    sgp32_psmo p;
    memset(&p, 0, sizeof(p));
    p.choice = choice;
    if (choice == SGP32_PSMO_CONFIGURE_IMMEDIATE_ENABLE) {
        p.u.configure_immediate_enable.immediate_enable_flag = true;
        p.u.configure_immediate_enable.has_default_smdp_address = true;
        p.u.configure_immediate_enable.default_smdp_address =
            (sgp32_bytes){(const uint8_t *)"ie.ipad.test", 12};
    } else if (choice == SGP32_PSMO_SET_DEFAULT_DP_ADDRESS) {
        p.u.set_default_dp_address.default_dp_address = (sgp32_bytes){(const uint8_t *)"dp4.ipad.test", 13};
    }
    queue_psmo(&p);
}

#define EIM2_ID "eim2.ipad.test"

/* addEim / updateEim of a second eIM (our key), deleteEim, listEim */
static void queue_eco_op(int choice, const char *fqdn, sgp32_buf *spki)
{
    sgp32_eco c;
    memset(&c, 0, sizeof(c));
    c.choice = choice;
    sgp32_eim_configuration_data *d = choice == SGP32_ECO_ADD_EIM ? &c.u.add_eim : &c.u.update_eim;
    if (choice == SGP32_ECO_ADD_EIM || choice == SGP32_ECO_UPDATE_EIM) {
        d->eim_id = (sgp32_bytes){(const uint8_t *)EIM2_ID, strlen(EIM2_ID)};
        d->has_eim_fqdn = true;
        d->eim_fqdn = (sgp32_bytes){(const uint8_t *)fqdn, strlen(fqdn)};
        d->has_eim_id_type = true;
        d->eim_id_type = SGP32_EIM_ID_TYPE_EIM_ID_TYPE_FQDN;
        if (choice == SGP32_ECO_ADD_EIM) {
            d->has_counter_value = true;
            d->has_association_token = true;
            d->association_token = -1;
            d->has_eim_public_key_data = true;
            d->eim_public_key_data.choice = SGP32_EIM_CONFIGURATION_DATA_EIM_PUBLIC_KEY_DATA_EIM_PUBLIC_KEY;
            d->eim_public_key_data.u.eim_public_key = sgp32_buf_bytes(spki);
        }
    } else if (choice == SGP32_ECO_DELETE_EIM) {
        c.u.delete_eim.eim_id = (sgp32_bytes){(const uint8_t *)EIM2_ID, strlen(EIM2_ID)};
    }
    queue_eco(&c);
}

/* GetProfilesInfo (BF2D) over the socket: the profile state of the bootstrap profile
 * (1 enabled, 0 disabled), -1 when the card does not hold it. */
static int card_bootstrap_state(void)
{
    static const uint8_t get[] = {0xBF, 0x2D, 0x00};
    sgp32_buf resp;
    sgp32_buf_init(&resp, 1 << 16);
    sgp32_apdu_transport *t = card_open();
    ipad_test_es10(t, get, sizeof(get), &resp);
    sgp32_apdu_transport_destroy(t);
    assert_true(resp.len >= 2 && resp.data[0] == 0xBF && resp.data[1] == 0x2D);
    int state = -1;
    const uint8_t *at = memmem(resp.data, resp.len, bootstrap_iccid, 10);
    if (at) {
        static const uint8_t tag[] = {0x9F, 0x70, 0x01};
        const uint8_t *st = memmem(at, resp.len - (size_t)(at - resp.data), tag, 3);
        assert_non_null(st);
        state = st[3];
    }
    sgp32_buf_free(&resp);
    return state;
}

/* GetEuiccConfiguredAddresses (BF3C) over the card transport: whether the default SM-DP+ address
 * (80) is this one. */
static bool card_default_dp_is(const char *address)
{
    static const uint8_t get[] = {0xBF, 0x3C, 0x00};
    sgp32_buf resp;
    sgp32_buf_init(&resp, 4096);
    sgp32_apdu_transport *t = card_open();
    ipad_test_es10(t, get, sizeof(get), &resp);
    sgp32_apdu_transport_destroy(t);
    sgp32_asn1_tlv outer, dp;
    bool is = sgp32_asn1_expect(resp.data, resp.len, 0xBF3C, &outer) == SGP32_OK &&
              sgp32_asn1_read_tlv(outer.value.data, outer.value.len, &dp, NULL) == SGP32_OK &&
              dp.tag == 0x80 && dp.value.len == strlen(address) &&
              !memcmp(dp.value.data, address, dp.value.len);
    sgp32_buf_free(&resp);
    return is;
}

/* Runs ipad --once for the queued packages; the results recorded from first on. */
static void run_batch(size_t expected)
{
    pthread_mutex_lock(&e.lock);
    size_t verified = e.eprs_verified, eprs = e.eprs;
    pthread_mutex_unlock(&e.lock);
    int rc = ipad_once();
    if (rc != 0)
        show_log();
    assert_int_equal(rc, 0);
    pthread_mutex_lock(&e.lock);
    assert_int_equal(e.queue_count, 0);
    assert_int_equal(e.eprs, eprs + expected);
    assert_int_equal(e.eprs_verified, verified + expected); /* all signed by the eUICC, verified */
    pthread_mutex_unlock(&e.lock);
    assert_int_equal(card_pending_eprs(), 0); /* all acknowledged */
}

static void expect_result(size_t i, int choice, int64_t code)
{
    if (e.results[i].choice != choice || e.results[i].code != code)
        fprintf(stderr, "result %zu: choice %d code %lld, expected %d %lld\n", i, e.results[i].choice,
                (long long)e.results[i].code, choice, (long long)code);
    assert_int_equal(e.results[i].choice, choice);
    assert_int_equal(e.results[i].code, code);
}

static void every_psmo_and_eco(void **state)
{
    (void)state;
    write_config(NULL);
    unlink(state_path);
    assert_int_equal(card_bootstrap_state(), 1); /* the preloaded profile, enabled */
    assert_false(card_default_dp_is("dp4.ipad.test"));

    /* 1: the PSMOs that leave the profile in place, then disable it */
    size_t first = e.result_count;
    queue_psmo_plain(SGP32_PSMO_LIST_PROFILE_INFO);
    queue_psmo_plain(SGP32_PSMO_GET_RAT);
    queue_psmo_plain(SGP32_PSMO_CONFIGURE_IMMEDIATE_ENABLE);
    queue_psmo_iccid(SGP32_PSMO_SET_FALLBACK_ATTRIBUTE, false);
    queue_psmo_plain(SGP32_PSMO_UNSET_FALLBACK_ATTRIBUTE);
    queue_psmo_plain(SGP32_PSMO_SET_DEFAULT_DP_ADDRESS);
    queue_psmo_iccid(SGP32_PSMO_DISABLE, false);
    run_batch(7);
    assert_int_equal(e.result_count, first + 7);
    expect_result(first + 0, SGP32_EUICC_RESULT_DATA_LIST_PROFILE_INFO_RESULT, 1);
    expect_result(first + 1, SGP32_EUICC_RESULT_DATA_GET_RAT_RESULT, 0);
    expect_result(first + 2, SGP32_EUICC_RESULT_DATA_CONFIGURE_IMMEDIATE_ENABLE_RESULT,
                  SGP32_CONFIGURE_IMMEDIATE_ENABLE_RESULT_OK);
    /* the bootstrap profile's metadata does not allow fallback (no 9F67), so none is set */
    expect_result(first + 3, SGP32_EUICC_RESULT_DATA_SET_FALLBACK_ATTRIBUTE_RESULT,
                  SGP32_SET_FALLBACK_ATTRIBUTE_RESULT_FALLBACK_NOT_ALLOWED);
    expect_result(first + 4, SGP32_EUICC_RESULT_DATA_UNSET_FALLBACK_ATTRIBUTE_RESULT,
                  SGP32_UNSET_FALLBACK_ATTRIBUTE_RESULT_NO_FALLBACK_ATTRIBUTE);
    expect_result(first + 5, SGP32_EUICC_RESULT_DATA_SET_DEFAULT_DP_ADDRESS_RESULT,
                  SGP32_SGP32_SET_DEFAULT_DP_ADDRESS_RESPONSE_SET_DEFAULT_DP_ADDRESS_RESULT_OK);
    expect_result(first + 6, SGP32_EUICC_RESULT_DATA_DISABLE_RESULT, SGP32_DISABLE_PROFILE_RESULT_OK);
    assert_int_equal(card_bootstrap_state(), 0);      /* disabled */
    assert_true(card_default_dp_is("dp4.ipad.test")); /* over the card transport (BF3C) */
    if (!pcsc_reader) { /* and in the simulator's file store (PC/SC: memory-only, no store) */
        char card_dir[300], check_log[320];
        snprintf(card_dir, sizeof(card_dir), "%s/card", tmp_dir);
        snprintf(check_log, sizeof(check_log), "%s/check.log", tmp_dir);
        char *argv[] = {(char *)SGP32_EUICC_SIM, (char *)"--check-state", card_dir, NULL};
        assert_int_equal(ipad_test_run(argv, check_log), 0);
        assert_non_null(strstr(ipad_test_read_text(check_log), "dp4.ipad.test"));
    }

    /* 2: enable with rollbackFlag (no profile to return to: rollbackNotAvailable), enable,
     *    disable, delete, list (empty) */
    first = e.result_count;
    queue_psmo_iccid(SGP32_PSMO_ENABLE, true);
    run_batch(1);
    expect_result(first, SGP32_EUICC_RESULT_DATA_ENABLE_RESULT,
                  SGP32_ENABLE_PROFILE_RESULT_ROLLBACK_NOT_AVAILABLE);
    assert_int_equal(card_bootstrap_state(), 0);
    queue_psmo_iccid(SGP32_PSMO_ENABLE, false);
    run_batch(1);
    expect_result(first + 1, SGP32_EUICC_RESULT_DATA_ENABLE_RESULT, SGP32_ENABLE_PROFILE_RESULT_OK);
    assert_int_equal(card_bootstrap_state(), 1);
    queue_psmo_iccid(SGP32_PSMO_DELETE, false); /* enabled: refused */
    queue_psmo_iccid(SGP32_PSMO_DISABLE, false);
    queue_psmo_iccid(SGP32_PSMO_DELETE, false);
    queue_psmo_plain(SGP32_PSMO_LIST_PROFILE_INFO);
    run_batch(4);
    expect_result(first + 2, SGP32_EUICC_RESULT_DATA_DELETE_RESULT,
                  SGP32_DELETE_PROFILE_RESULT_PROFILE_NOT_IN_DISABLED_STATE);
    expect_result(first + 3, SGP32_EUICC_RESULT_DATA_DISABLE_RESULT, SGP32_DISABLE_PROFILE_RESULT_OK);
    expect_result(first + 4, SGP32_EUICC_RESULT_DATA_DELETE_RESULT, SGP32_DELETE_PROFILE_RESULT_OK);
    expect_result(first + 5, SGP32_EUICC_RESULT_DATA_LIST_PROFILE_INFO_RESULT, 0);
    assert_int_equal(card_bootstrap_state(), -1); /* gone from the card */

    /* 3: the eCOs on a second eIM */
    sgp32_buf spki;
    sgp32_buf_init(&spki, 256);
    assert_int_equal(sgp32_ec_public_to_spki(&e.pub, &spki), SGP32_OK);
    first = e.result_count;
    queue_eco_op(SGP32_ECO_ADD_EIM, "eim2.ipad.test", &spki);
    queue_eco_op(SGP32_ECO_LIST_EIM, NULL, NULL);
    queue_eco_op(SGP32_ECO_UPDATE_EIM, "eim2b.ipad.test", NULL);
    queue_eco_op(SGP32_ECO_DELETE_EIM, NULL, NULL);
    queue_eco_op(SGP32_ECO_LIST_EIM, NULL, NULL);
    run_batch(5);
    expect_result(first + 0, SGP32_EUICC_RESULT_DATA_ADD_EIM_RESULT, 0); /* an associationToken */
    expect_result(first + 1, SGP32_EUICC_RESULT_DATA_LIST_EIM_RESULT, 2);
    expect_result(first + 2, SGP32_EUICC_RESULT_DATA_UPDATE_EIM_RESULT, SGP32_UPDATE_EIM_RESULT_OK);
    expect_result(first + 3, SGP32_EUICC_RESULT_DATA_DELETE_EIM_RESULT, SGP32_DELETE_EIM_RESULT_OK);
    expect_result(first + 4, SGP32_EUICC_RESULT_DATA_LIST_EIM_RESULT, 1);
    sgp32_buf_free(&spki);
}

static void usage_errors(void **state)
{
    (void)state;
    char *help[] = {(char *)SGP32_IPAD, (char *)"--help", NULL};
    assert_int_equal(ipad_test_run(help, log_path), 0);
    assert_non_null(strstr(ipad_test_read_text(log_path), "insecure_skip_tls_verify_for_tests"));
    char bad[320];
    snprintf(bad, sizeof(bad), "%s/bad.conf", tmp_dir);
    ipad_test_write_text(bad, "card = socket:unix:/nonexistent\nbinding = xml\n");
    char *argv[] = {(char *)SGP32_IPAD, (char *)"-c", bad, (char *)"--once", NULL};
    assert_int_equal(ipad_test_run(argv, log_path), 2);
    assert_non_null(strstr(ipad_test_read_text(log_path), "binding"));
}

/* PC/SC: a PSMO round trip through ipad's `card = pcsc:READER` (pcscd + vpcd + euicc-sim). */
static void pcsc_round_trip(void **state)
{
    (void)state;
    write_config(NULL);
    size_t first = e.result_count;
    queue_set_default_dp("dp3.ipad.test");
    queue_psmo_plain(SGP32_PSMO_LIST_PROFILE_INFO);
    run_batch(2); /* both EPRs verified (lib/eim), acknowledged, gone from the card */
    assert_int_equal(e.result_count, first + 2);
    expect_result(first, SGP32_EUICC_RESULT_DATA_SET_DEFAULT_DP_ADDRESS_RESULT,
                  SGP32_SGP32_SET_DEFAULT_DP_ADDRESS_RESPONSE_SET_DEFAULT_DP_ADDRESS_RESULT_OK);
    expect_result(first + 1, SGP32_EUICC_RESULT_DATA_LIST_PROFILE_INFO_RESULT, 1); /* the bootstrap profile */
    assert_true(card_default_dp_is("dp3.ipad.test"));
    const char *log = ipad_test_read_text(log_path);
    assert_non_null(strstr(log, "ESipa session to"));
    assert_non_null(strstr(log, pcsc_reader));

    /* a second run polls and finds nothing */
    pthread_mutex_lock(&e.lock);
    size_t gets = e.get_count, eprs = e.eprs;
    pthread_mutex_unlock(&e.lock);
    int rc = ipad_once();
    if (rc != 0)
        show_log();
    assert_int_equal(rc, 0);
    pthread_mutex_lock(&e.lock);
    assert_int_equal(e.get_count, gets + 1);
    assert_int_equal(e.eprs, eprs);
    pthread_mutex_unlock(&e.lock);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    pcsc_reader = getenv("IPAD_E2E_PCSC_READER");
    if (pcsc_reader && *pcsc_reader) {
        const struct CMUnitTest pcsc_tests[] = {cmocka_unit_test(pcsc_round_trip),
                                                cmocka_unit_test(every_psmo_and_eco)};
        return cmocka_run_group_tests(pcsc_tests, setup, teardown);
    }
    pcsc_reader = NULL;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(eim_unreachable),
        cmocka_unit_test(result_kept_until_delivered),
        cmocka_unit_test(every_psmo_and_eco),
        cmocka_unit_test(usage_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * ipad end to end, indirect profile download (SGP.32 §3.2.3, ESipa relay): euicc-sim on a unix
 * socket (file store in a temp dir), the scripted eIM of the unit tests (tests/unit/ipa_host.c:
 * host_eim_answer, the relay to an in-process lib/smdp session binding the TS.48 profile) served
 * over the libmicrohttpd HTTPS test server (127.0.0.1, free port), and `ipad --once`.
 *
 *   1. the eIM is associated with euicc-sim (AddInitialEim over the simulator's socket, the
 *      host's eIM key);
 *   2. GetEimPackage answers a ProfileDownloadTriggerRequest (activation code); ipad relays
 *      InitiateAuthentication, AuthenticateClient, GetBoundProfilePackage through the eIM,
 *      installs the profile on the card and returns the ProfileDownloadTriggerResult with the
 *      PIR in ProvideEimPackageResult;
 *   3. the eIM received that result and the PIR verified (lib/smdp) as a success; the TS.48
 *      profile's ICCID is on the card (GetProfilesInfo BF2D over the socket), euicc-sim's stored
 *      state holds two profiles (--check-state); a second run finds no package.
 *
 * direct_download (its own euicc-sim and eIM, ipa_features = direct): the trigger's activation
 * code names a second HTTPS test server (localhost:<port>, 127.0.0.1; ipad's smdp_ca_file) that
 * serves ES9+ JSON (sgp32_es9_json_to_request / _from_response) from the host's lib/smdp session.
 * The ES9+ calls reach that SM-DP+ and not the eIM, the SM-DP+ verifies the PIR it gets by
 * handleNotification, the eIM gets the ProfileDownloadTriggerResult, the profile is on the card.
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
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "https_test_server.h"
#include "ipa_host.h"
#include "ipad_test_support.h"
#include "sgp32/apdu_transport.h"
#include "sgp32/asn1.h"
#include "sgp32/es9_client.h"
#include "sgp32/profile_package.h"

#define TS48_PROFILE SGP32_SPEC_DIR "/profiles/TS48V2-SAIP2-1-BERTLV-UNIQUE.der"

static char tmp_dir[256], config_path[300], log_path[300], state_path[300];
static pid_t sim_pid = -1;
static test_pki pki;
static test_server server, smdp_server; /* the eIM; the SM-DP+ (direct download) */
static bool server_up, smdp_server_up;
static bool direct; /* this group: ipa_features = direct, ES9+ JSON to smdp_server */
static host *h;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char functions[1024]; /* the ESipa requests the eIM got, by tag ("BF4F BF39 ...") */
static size_t bad_requests;
static char smdp_functions[1024]; /* the ES9+ functions the SM-DP+ got ("initiateAuthentication ...") */
static size_t smdp_bad_requests;

/* ------------------------------------------------------------------ helpers */

/* Run argv with stdout+stderr into log; its exit status (-1: killed). */

static void show_log(void)
{
    fprintf(stderr, "---- ipad log ----\n%s------------------\n", ipad_test_read_text(log_path));
}

/* ------------------------------------------------------------------ card access (socket) */

static sgp32_apdu_transport *card_open(void)
{
    return ipad_test_card_open(tmp_dir, NULL);
}

/* APDU; 61xx is followed by GET RESPONSE; the data (without SW) appended to out; the last SW. */

/* One ES10 command (SELECT ISD-R, STORE DATA) -> response into out. */

/* AddInitialEim over the socket: the host's eIM (its key) at address; the host takes the token. */
static void associate(const char *address)
{
    ipad_test_association a;
    sgp32_apdu_transport *t = card_open();
    ipad_test_associate(t, HOST_EIM_ID, address, &h->eim_pub, &a);
    sgp32_apdu_transport_destroy(t);
    h->has_token = a.has_token;
    h->token = a.token;
    h->counter = 0;
    /* the host's eIM checks the EID of ProvideEimPackageResult against its in-process card */
    assert_memory_equal(a.eid, sgp32_euicc_eid(h->f.euicc), 16);
}

/* GetProfilesInfo (BF2D) over the socket: whether the card holds the profile with this ICCID. */
static bool card_has_iccid(const uint8_t iccid[10])
{
    static const uint8_t get[] = {0xBF, 0x2D, 0x00};
    sgp32_buf resp;
    sgp32_buf_init(&resp, 1 << 16);
    sgp32_apdu_transport *t = card_open();
    ipad_test_es10(t, get, sizeof(get), &resp);
    sgp32_apdu_transport_destroy(t);
    assert_true(resp.len >= 2 && resp.data[0] == 0xBF && resp.data[1] == 0x2D);
    bool found = memmem(resp.data, resp.len, iccid, 10) != NULL;
    sgp32_buf_free(&resp);
    return found;
}

/* ICCID digits -> 10 bytes BCD, nibble-swapped, F-padded. */
static void iccid_bcd(const char *digits, uint8_t out[10])
{
    memset(out, 0xFF, 10);
    for (size_t i = 0; digits[i] && i < 20; i++) {
        uint8_t d = (uint8_t)(digits[i] - '0');
        if (i % 2)
            out[i / 2] = (uint8_t)((out[i / 2] & 0x0F) | d << 4);
        else
            out[i / 2] = (uint8_t)((out[i / 2] & 0xF0) | d);
    }
}

/* ------------------------------------------------------------------ the eIM over HTTPS */

/* ASN.1 binding: the body is the DER EsipaMessageFromIpaToEim; the host's eIM answers it. */
static void eim_handler(void *ctx, const test_request *req, test_answer *ans)
{
    (void)ctx;
    pthread_mutex_lock(&lock);
    sgp32_asn1_tlv msg;
    ans->status = 400;
    ans->content_type = NULL;
    if (strcmp(req->path, "/gsma/rsp2/asn1") != 0 ||
        sgp32_asn1_read_tlv(req->body.data, req->body.len, &msg, NULL) != SGP32_OK) {
        bad_requests++;
        goto out;
    }
    size_t n = strlen(functions);
    snprintf(functions + n, sizeof(functions) - n, "%s%X", n ? " " : "", (unsigned)msg.tag);
    sgp32_ipa_action a = {
        .type = SGP32_IPA_ACT_SEND_ESIPA, .data = sgp32_buf_bytes(&req->body), .address = HOST_EIM_ID};
    host_eim_answer(h, &a, &ans->body);
    if (!ans->body.len) { /* HandleNotification */
        ans->status = 204;
        goto out;
    }
    ans->status = 200;
    ans->content_type = "application/x-gsma-rsp-asn1";
out:
    pthread_mutex_unlock(&lock);
}

/* ES9+ JSON binding (POST /gsma/rsp2/es9plus/<function>): the request's DER, A2-wrapped, goes to
 * the host's scripted SM-DP+ (lib/smdp session); its A2-wrapped answer goes back as JSON. */
static void smdp_handler(void *ctx, const test_request *req, test_answer *ans)
{
    (void)ctx;
    static const char prefix[] = "/gsma/rsp2/es9plus/";
    pthread_mutex_lock(&lock);
    ans->status = 400;
    ans->content_type = NULL;
    sgp32_buf der, wrapped, json;
    sgp32_buf_init(&der, 1 << 16);
    sgp32_buf_init(&wrapped, 1 << 16);
    sgp32_buf_init(&json, 1 << 20);
    sgp32_buf out;
    sgp32_buf_init(&out, 1 << 20);
    const char *function = req->path + strlen(prefix);
    if (strncmp(req->path, prefix, strlen(prefix)) != 0 ||
        sgp32_es9_json_to_request(function, (const char *)req->body.data, req->body.len, &der) != SGP32_OK) {
        smdp_bad_requests++;
        goto out;
    }
    size_t n = strlen(smdp_functions);
    snprintf(smdp_functions + n, sizeof(smdp_functions) - n, "%s%s", n ? " " : "", function);
    size_t mark = sgp32_asn1_begin(&wrapped);
    sgp32_buf_append(&wrapped, der.data, der.len);
    sgp32_asn1_end(&wrapped, 0xA2, mark);
    sgp32_ipa_action a = {
        .type = SGP32_IPA_ACT_SEND_ES9PLUS, .data = sgp32_buf_bytes(&wrapped), .address = smdp_server.host};
    host_eim_answer(h, &a, &out);
    if (!out.len) { /* handleNotification */
        ans->status = 204;
        goto out;
    }
    sgp32_asn1_tlv wrap;
    const char *answer;
    if (sgp32_asn1_expect(out.data, out.len, 0xA2, &wrap) != SGP32_OK ||
        sgp32_es9_json_from_response(wrap.value.data, wrap.value.len, &answer, &json) != SGP32_OK) {
        smdp_bad_requests++;
        ans->status = 500;
        goto out;
    }
    sgp32_buf_append(&ans->body, json.data, json.len);
    ans->status = 200;
    ans->content_type = "application/json";
out:
    sgp32_buf_free(&der);
    sgp32_buf_free(&wrapped);
    sgp32_buf_free(&json);
    sgp32_buf_free(&out);
    pthread_mutex_unlock(&lock);
}

/* BF54 {A0 {80 activationCode}, 82 eimTransactionId}: a ProfileDownloadTriggerRequest. */
static void queue_trigger(const char *ac)
{
    static const uint8_t txid[2] = {0x01, 0x02};
    sgp32_buf t;
    sgp32_buf_init(&t, 1024);
    size_t outer = sgp32_asn1_begin(&t);
    size_t data = sgp32_asn1_begin(&t);
    assert_int_equal(sgp32_asn1_write_tlv(&t, 0x80, (const uint8_t *)ac, strlen(ac)), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&t, 0xA0, data), SGP32_OK);
    assert_int_equal(sgp32_asn1_write_tlv(&t, 0x82, txid, sizeof(txid)), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&t, 0xBF54, outer), SGP32_OK);
    pthread_mutex_lock(&lock);
    host_queue(h, t.data, t.len);
    pthread_mutex_unlock(&lock);
    sgp32_buf_free(&t);
}

/* ------------------------------------------------------------------ set-up */

static void write_config(void)
{
    char text[2048];
    snprintf(text, sizeof(text),
             "# ipad e2e download\n"
             "card = socket:unix:%s/card.sock\n"
             "binding = asn1\n"
             "ca_file = %s/ca.pem\n"
             "state_file = %s\n"
             "backoff_base = 5\n"
             "backoff_max = 60\n"
             "http_timeout_ms = 20000\n"
             "ipa_features = %s\n"
             "%s%s%s"
             "log_level = debug\n",
             tmp_dir, tmp_dir, state_path, direct ? "direct" : "indirect", direct ? "smdp_ca_file = " : "",
             direct ? tmp_dir : "", direct ? "/smdp-ca.pem\n" : "");
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
    functions[0] = smdp_functions[0] = 0;
    bad_requests = smdp_bad_requests = 0;
    snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/ipad-dl-XXXXXX");
    assert_non_null(mkdtemp(tmp_dir));
    snprintf(config_path, sizeof(config_path), "%s/ipad.conf", tmp_dir);
    snprintf(log_path, sizeof(log_path), "%s/ipad.log", tmp_dir);
    snprintf(state_path, sizeof(state_path), "%s/ipad.state", tmp_dir);
    h = calloc(1, sizeof(*h));
    assert_non_null(h);
    host_open(h, SGP32_IPA_FEATURE_INDIRECT_RSP_SERVER_COMMUNICATION);

    assert_int_equal(test_pki_make(&pki), SGP32_OK);
    sgp32_buf pem;
    sgp32_buf_init(&pem, 1 << 16);
    assert_int_equal(test_pem_certificate(&pki.ci_der, &pem), SGP32_OK);
    char path[300];
    snprintf(path, sizeof(path), "%s/ca.pem", tmp_dir);
    ipad_test_write_text(path, (const char *)pem.data);
    if (direct) { /* ipad's smdp_ca_file: the same test CI, in its own file */
        snprintf(path, sizeof(path), "%s/smdp-ca.pem", tmp_dir);
        ipad_test_write_text(path, (const char *)pem.data);
    }
    sgp32_buf_free(&pem);
    assert_int_equal(test_server_start(&server, &pki, eim_handler, NULL), SGP32_OK);
    server_up = true;
    if (direct) {
        assert_int_equal(test_server_start(&smdp_server, &pki, smdp_handler, NULL), SGP32_OK);
        smdp_server_up = true;
        h->smdp_address = smdp_server.host; /* serverAddress and the profile's notification address */
    }
    host_load_profile(h, TS48_PROFILE);

    char card_dir[300], listen[320];
    snprintf(card_dir, sizeof(card_dir), "%s/card", tmp_dir);
    snprintf(listen, sizeof(listen), "unix:%s/card.sock", tmp_dir);
    sim_pid = fork();
    assert_true(sim_pid >= 0);
    if (sim_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
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
    write_config();
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
    if (smdp_server_up)
        test_server_stop(&smdp_server);
    smdp_server_up = false;
    test_pki_free(&pki);
    if (h) {
        host_close(h);
        free(h);
        h = NULL;
    }
    if (!getenv("IPAD_E2E_KEEP")) {
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", tmp_dir);
    }
    return 0;
}

/* ------------------------------------------------------------------ the tests */

static void indirect_download(void **state)
{
    (void)state;
    char digits[21];
    assert_int_equal(sgp32_upp_iccid(h->upp.data, h->upp.len, digits), SGP32_OK);
    uint8_t iccid[10];
    iccid_bcd(digits, iccid);
    assert_false(card_has_iccid(iccid));

    queue_trigger(HOST_AC);
    int rc = ipad_once();
    if (rc != 0)
        show_log();
    assert_int_equal(rc, 0);

    pthread_mutex_lock(&lock);
    fprintf(stderr, "eIM requests: %s\n", functions);
    assert_int_equal(bad_requests, 0);
    assert_int_equal(h->queue_count, 0); /* the trigger was fetched */
    /* the relay, in order: trigger, InitiateAuthentication, AuthenticateClient,
     * GetBoundProfilePackage, ProvideEimPackageResult */
    assert_non_null(strstr(functions, "BF4F BF39 BF3B BF3A"));
    assert_non_null(strstr(functions, "BF50"));
    assert_int_equal(h->es9_count, 0); /* nothing went to the SM-DP+ directly */
    /* the eIM got the ProfileDownloadTriggerResult with the PIR; the PIR verified, success */
    assert_int_equal(h->result_count, 1);
    assert_true(h->results[0].len > 2); /* EimPackageResult: profileDownloadTriggerResult [84] */
    assert_int_equal(h->results[0].data[0], 0xBF);
    assert_int_equal(h->results[0].data[1], 0x54);
    assert_true(h->pir_verified);
    assert_true(h->pir_success);
    assert_true(h->epr_verified_all);
    pthread_mutex_unlock(&lock);

    /* the profile is on the card */
    assert_true(card_has_iccid(iccid));
    char card_dir[300], check_log[320];
    snprintf(card_dir, sizeof(card_dir), "%s/card", tmp_dir);
    snprintf(check_log, sizeof(check_log), "%s/check.log", tmp_dir);
    char *argv[] = {(char *)SGP32_EUICC_SIM, (char *)"--check-state", card_dir, NULL};
    assert_int_equal(ipad_test_run(argv, check_log), 0);
    /* the bootstrap profile and the TS.48 one (--check-state lists counts, not ICCIDs) */
    if (!strstr(ipad_test_read_text(check_log), "profiles: 2\n"))
        fprintf(stderr, "---- check-state ----\n%s\n", ipad_test_read_text(check_log));
    assert_non_null(strstr(ipad_test_read_text(check_log), "profiles: 2\n"));

    /* a second run: no package, the result is not delivered again */
    pthread_mutex_lock(&lock);
    size_t results = h->result_count, gets = h->get_count;
    pthread_mutex_unlock(&lock);
    rc = ipad_once();
    if (rc != 0)
        show_log();
    assert_int_equal(rc, 0);
    pthread_mutex_lock(&lock);
    assert_int_equal(h->result_count, results);
    assert_true(h->get_count > gets);
    pthread_mutex_unlock(&lock);
}

/* Direct download (SGP.32 §3.2.3.1): the trigger's activation code names the test SM-DP+
 * (localhost:<port>, 127.0.0.1); ipad (ipa_features = direct) runs ES9+ over HTTPS/JSON to it. */
static void direct_download(void **state)
{
    (void)state;
    char digits[21];
    assert_int_equal(sgp32_upp_iccid(h->upp.data, h->upp.len, digits), SGP32_OK);
    uint8_t iccid[10];
    iccid_bcd(digits, iccid);
    assert_false(card_has_iccid(iccid));

    char ac[128];
    snprintf(ac, sizeof(ac), "1$%s$MATCH-1", smdp_server.host);
    queue_trigger(ac);
    int rc = ipad_once();
    if (rc != 0)
        show_log();
    assert_int_equal(rc, 0);

    pthread_mutex_lock(&lock);
    fprintf(stderr, "eIM requests: %s\nSM-DP+ requests: %s\n", functions, smdp_functions);
    assert_int_equal(bad_requests, 0);
    assert_int_equal(smdp_bad_requests, 0);
    assert_int_equal(h->queue_count, 0); /* the trigger was fetched */
    /* ES9+ went to the SM-DP+, in order, the PIR last (handleNotification) */
    assert_non_null(
        strstr(smdp_functions, "initiateAuthentication authenticateClient getBoundProfilePackage"));
    assert_non_null(strstr(smdp_functions, "getBoundProfilePackage handleNotification"));
    assert_true(h->es9_count >= 4);
    /* ... and not through the eIM: it got GetEimPackage and ProvideEimPackageResult only */
    assert_null(strstr(functions, "BF39"));
    assert_null(strstr(functions, "BF3B"));
    assert_null(strstr(functions, "BF3A"));
    assert_non_null(strstr(functions, "BF4F"));
    assert_non_null(strstr(functions, "BF50"));
    /* the SM-DP+ verified the PIR (success); the eIM got the ProfileDownloadTriggerResult */
    assert_true(h->pir_verified);
    assert_true(h->pir_success);
    assert_int_equal(h->result_count, 1);
    assert_true(h->results[0].len > 2);
    assert_int_equal(h->results[0].data[0], 0xBF);
    assert_int_equal(h->results[0].data[1], 0x54);
    assert_true(h->epr_verified_all);
    pthread_mutex_unlock(&lock);

    assert_true(card_has_iccid(iccid)); /* installed (GetProfilesInfo over the socket) */

    /* a second run: no package, nothing to the SM-DP+, the result not delivered again */
    pthread_mutex_lock(&lock);
    size_t results = h->result_count, es9 = h->es9_count;
    pthread_mutex_unlock(&lock);
    rc = ipad_once();
    if (rc != 0)
        show_log();
    assert_int_equal(rc, 0);
    pthread_mutex_lock(&lock);
    assert_int_equal(h->result_count, results);
    assert_int_equal(h->es9_count, es9);
    pthread_mutex_unlock(&lock);
}

static int setup_indirect(void **state)
{
    direct = false;
    return setup(state);
}

static int setup_direct(void **state)
{
    direct = true;
    return setup(state);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest indirect_tests[] = {
        cmocka_unit_test(indirect_download),
    };
    const struct CMUnitTest direct_tests[] = {
        cmocka_unit_test(direct_download),
    };
    int failed = cmocka_run_group_tests_name("indirect", indirect_tests, setup_indirect, teardown);
    failed += cmocka_run_group_tests_name("direct", direct_tests, setup_direct, teardown);
    return failed;
}

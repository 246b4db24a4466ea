/*
 * The ESipa HTTPS client (lib/transport/esipa_https.c, esipa_json.c) against a local HTTPS server
 * (libmicrohttpd, 127.0.0.1, a certificate issued at test time):
 *   - the JSON binding tables: every EsipaMessageFromIpaToEim / FromEimToIpa alternative (sample
 *     values with and without OPTIONALs) DER -> JSON -> DER gives the same bytes;
 *   - ASN.1 binding: exact path and headers, DER both ways, 204 and 200-empty for
 *     HandleNotification, 4xx/5xx, a wrong Content-Type, an oversized answer;
 *   - JSON binding: the server converts the JSON request back to DER and compares it with what the
 *     client sent, answers in JSON; the client returns the DER answer;
 *   - TLS: the right CA / pin / certificate / trustedPublicKeyDataTls work, a wrong CA or pin
 *     fails, the test-only insecure switch;
 *   - one TCP connection per session (counted by the server), a new one for the next session.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "asn1_sample.h"
#include "https_test_server.h"
#include "sgp32/asn1_types.h"
#include "sgp32/esipa_client.h"
#include "sgp32/text.h"

#define ASN1_TYPE "application/x-gsma-rsp-asn1"
#define EID_HEX   "89049032123451234512345678901235"

static test_pki pki;

/* ------------------------------------------------------------------ JSON tables, no network */

static void round_trip_type(const sgp32_asn1_type *type, sgp32_esipa_direction direction)
{
    size_t variants = sample_variant_count(type);
    size_t checked = 0;
    for (size_t v = 0; v < 2 * variants + 2; v++) {
        sgp32_arena arena;
        sgp32_arena_init(&arena, 1 << 20);
        void *value = calloc(1, type->size);
        assert_non_null(value);
        assert_int_equal(sample_build(type, v, &arena, value), SGP32_OK);
        sgp32_buf der, json, back;
        sgp32_buf_init(&der, 1 << 20);
        sgp32_buf_init(&json, 4 << 20);
        sgp32_buf_init(&back, 1 << 20);
        assert_int_equal(sgp32_asn1_encode(type, value, &der), SGP32_OK);
        const char *function = NULL;
        int rc = sgp32_esipa_json_from_der(direction, der.data, der.len, &function, &json);
        if (rc != SGP32_OK)
            fail_msg("variant %zu: DER -> JSON: %s", v, sgp32_err_str(rc));
        rc = sgp32_esipa_json_to_der(direction, function, (const char *)json.data, json.len, &back);
        if (rc != SGP32_OK)
            fail_msg("variant %zu (%s): JSON -> DER: %s\n%s", v, function, sgp32_err_str(rc),
                     (char *)json.data);
        if (back.len != der.len || memcmp(back.data, der.data, der.len) != 0) {
            char *a = calloc(1, 2 * der.len + 1), *b = calloc(1, 2 * back.len + 1);
            sgp32_hex_encode(der.data, der.len, a);
            sgp32_hex_encode(back.data, back.len, b);
            fail_msg("variant %zu (%s): round trip differs\n  %s\n  %s\n  %s", v, function, a, b,
                     (char *)json.data);
        }
        checked++;
        sgp32_buf_free(&der);
        sgp32_buf_free(&json);
        sgp32_buf_free(&back);
        free(value);
        sgp32_arena_free(&arena);
    }
    assert_true(checked >= 16);
}

static void json_tables_round_trip(void **state)
{
    (void)state;
    round_trip_type(&sgp32_type_esipa_message_from_ipa_to_eim, SGP32_ESIPA_IPA_TO_EIM);
    round_trip_type(&sgp32_type_esipa_message_from_eim_to_ipa, SGP32_ESIPA_EIM_TO_IPA);
}

static void json_exact_fields(void **state)
{
    (void)state;
    sgp32_buf der, json;
    sgp32_buf_init(&der, 4096);
    sgp32_buf_init(&json, 4096);
    /* GetEimPackage: eidValue as 32 digits, notifyStateChange true, stateChangeCause integer. */
    assert_int_equal(sgp32_hex_decode("BF4F175A10" EID_HEX "8000810104", 52, &der), SGP32_OK);
    const char *fn;
    assert_int_equal(sgp32_esipa_json_from_der(SGP32_ESIPA_IPA_TO_EIM, der.data, der.len, &fn, &json),
                     SGP32_OK);
    assert_string_equal(fn, "getEimPackage");
    assert_string_equal((char *)json.data,
                        "{\"eidValue\":\"" EID_HEX "\",\"notifyStateChange\":true,\"stateChangeCause\":4}");
    /* No package: eimPackageError 1. */
    sgp32_buf_reset(&der);
    assert_int_equal(
        sgp32_esipa_json_to_der(SGP32_ESIPA_EIM_TO_IPA, "getEimPackage", "{\"eimPackageError\":1}", 21, &der),
        SGP32_OK);
    char hex[64];
    sgp32_hex_encode(der.data, der.len, hex);
    assert_string_equal(hex, "BF4F03020101");
    /* provideEimPackageResult without a body: emptyResponse. */
    sgp32_buf_reset(&der);
    assert_int_equal(sgp32_esipa_json_to_der(SGP32_ESIPA_EIM_TO_IPA, "provideEimPackageResult", "", 0, &der),
                     SGP32_OK);
    sgp32_hex_encode(der.data, der.len, hex);
    assert_string_equal(hex, "BF50023000");
    /* Bad JSON, wrong types, unknown function, a result the codec refuses. */
    sgp32_buf_reset(&der);
    assert_int_equal(sgp32_esipa_json_to_der(SGP32_ESIPA_EIM_TO_IPA, "getEimPackage", "{", 1, &der),
                     SGP32_ERR_BAD_TEXT);
    assert_int_equal(sgp32_esipa_json_to_der(SGP32_ESIPA_EIM_TO_IPA, "getEimPackage",
                                             "{\"eimPackageError\":\"1\"}", 23, &der),
                     SGP32_ERR_BAD_TEXT);
    assert_int_equal(sgp32_esipa_json_to_der(SGP32_ESIPA_EIM_TO_IPA, "nope", "{}", 2, &der),
                     SGP32_ERR_NOT_FOUND);
    assert_int_not_equal(sgp32_esipa_json_to_der(SGP32_ESIPA_EIM_TO_IPA, "getEimPackage",
                                                 "{\"euiccPackageRequest\":\"MAA=\"}", 30, &der),
                         SGP32_OK);
    assert_int_equal(der.len, 0);
    sgp32_buf_free(&der);
    sgp32_buf_free(&json);
}

/* ------------------------------------------------------------------ the server side of the tests */

typedef struct script {
    /* what to answer */
    unsigned status;
    const char *content_type;
    const char *body_hex; /* NULL: use body */
    sgp32_buf body;
    bool json_mode; /* convert the JSON request to DER, check against expect, answer answer_der as JSON */
    sgp32_buf expect_der;
    sgp32_buf answer_der;
    bool request_ok; /* the JSON request converted back to expect_der */
} script;

static void handler(void *ctx, const test_request *request, test_answer *answer)
{
    script *s = ctx;
    answer->status = s->status;
    answer->content_type = s->content_type;
    if (s->json_mode) {
        const char *fn = request->path + strlen("/gsma/rsp2/esipa/");
        sgp32_buf der;
        sgp32_buf_init(&der, 4 << 20);
        int rc = sgp32_esipa_json_to_der(SGP32_ESIPA_IPA_TO_EIM, fn, (const char *)request->body.data,
                                         request->body.len, &der);
        s->request_ok =
            rc == SGP32_OK && sgp32_bytes_equal(sgp32_buf_bytes(&der), sgp32_buf_bytes(&s->expect_der));
        sgp32_buf_free(&der);
        if (s->answer_der.len) {
            sgp32_buf json;
            sgp32_buf_init(&json, 4 << 20);
            if (sgp32_esipa_json_from_der(SGP32_ESIPA_EIM_TO_IPA, s->answer_der.data, s->answer_der.len, NULL,
                                          &json) == SGP32_OK)
                sgp32_buf_append(&answer->body, json.data, json.len);
            sgp32_buf_free(&json);
        }
        return;
    }
    if (s->body_hex)
        sgp32_hex_decode(s->body_hex, strlen(s->body_hex), &answer->body);
    else
        sgp32_buf_append(&answer->body, s->body.data, s->body.len);
}

static sgp32_buf hex_buf(const char *hex)
{
    sgp32_buf b;
    sgp32_buf_init(&b, 1 << 20);
    assert_int_equal(sgp32_hex_decode(hex, strlen(hex), &b), SGP32_OK);
    return b;
}

static sgp32_esipa_config config_for(const test_server *server, sgp32_esipa_binding binding)
{
    sgp32_esipa_config c = {.eim_fqdn = server->host, .binding = binding};
    c.tls.ca_der = sgp32_buf_bytes(&pki.ci_der);
    c.limits.timeout_ms = 5000;
    return c;
}

#define GET_EIM_PACKAGE "BF4F125A10" EID_HEX
#define NO_PACKAGE      "BF4F03020101"
#define NOTIFICATION                                                                                         \
    "BF3D08A006BF37033001"                                                                                   \
    "00"

static void asn1_binding(void **state)
{
    (void)state;
    script sc = {.status = 200, .content_type = ASN1_TYPE, .body_hex = NO_PACKAGE};
    test_server server;
    assert_int_equal(test_server_start(&server, &pki, handler, &sc), SGP32_OK);
    sgp32_esipa_config config = config_for(&server, SGP32_ESIPA_BINDING_ASN1);
    sgp32_esipa_session *s;
    assert_int_equal(sgp32_esipa_session_open(&config, &s), SGP32_OK);
    sgp32_buf request = hex_buf(GET_EIM_PACKAGE), response;
    sgp32_buf_init(&response, 1 << 20);
    sgp32_https_result result;

    for (int i = 0; i < 3; i++) {
        assert_int_equal(sgp32_esipa_session_send(s, request.data, request.len, &response, &result),
                         SGP32_OK);
        assert_int_equal(result.http_status, 200);
        char hex[64];
        sgp32_hex_encode(response.data, response.len, hex);
        assert_string_equal(hex, NO_PACKAGE);
    }
    /* Exact path and headers, the DER body as sent. */
    assert_string_equal(server.last.path, "/gsma/rsp2/asn1");
    assert_string_equal(server.last.content_type, "application/x-gsma-rsp-asn1");
    assert_string_equal(server.last.admin_protocol, "gsma/rsp/v2.1.0");
    assert_string_equal(server.last.user_agent, "gsma-rsp-ipad");
    assert_true(sgp32_bytes_equal(sgp32_buf_bytes(&server.last.body), sgp32_buf_bytes(&request)));

    /* HandleNotification: 204, and 200 with an empty body. */
    sgp32_buf notification = hex_buf(NOTIFICATION);
    sc.status = 204;
    sc.content_type = NULL;
    sc.body_hex = "";
    assert_int_equal(sgp32_esipa_session_send(s, notification.data, notification.len, &response, &result),
                     SGP32_OK);
    assert_true(result.no_content);
    assert_int_equal(response.len, 0);
    sc.status = 200;
    assert_int_equal(sgp32_esipa_session_send(s, notification.data, notification.len, &response, &result),
                     SGP32_OK);
    assert_true(result.no_content);
    /* Not taken: 500 for the notification, 400 / 415 for a request. */
    sc.status = 500;
    assert_int_equal(sgp32_esipa_session_send(s, notification.data, notification.len, &response, &result),
                     SGP32_ERR_TRANSPORT_HTTP_STATUS);
    assert_int_equal(result.http_status, 500);
    assert_non_null(strstr(result.message, "500"));
    sc.status = 415;
    assert_int_equal(sgp32_esipa_session_send(s, request.data, request.len, &response, &result),
                     SGP32_ERR_TRANSPORT_HTTP_STATUS);
    assert_int_equal(result.http_status, 415);
    /* 204 is no answer to GetEimPackage. */
    sc.status = 204;
    assert_int_equal(sgp32_esipa_session_send(s, request.data, request.len, &response, &result),
                     SGP32_ERR_TRANSPORT_HTTP_STATUS);
    /* 200 with the wrong Content-Type, with trailing garbage. */
    sc.status = 200;
    sc.content_type = "text/html";
    sc.body_hex = NO_PACKAGE;
    assert_int_equal(sgp32_esipa_session_send(s, request.data, request.len, &response, &result),
                     SGP32_ERR_TRANSPORT_PROTOCOL);
    sc.content_type = ASN1_TYPE;
    sc.body_hex = NO_PACKAGE "00";
    assert_int_equal(sgp32_esipa_session_send(s, request.data, request.len, &response, &result),
                     SGP32_ERR_TRANSPORT_PROTOCOL);
    /* Not a request at all. */
    assert_int_equal(sgp32_esipa_session_send(s, (const uint8_t *)"\x30\x00", 2, &response, &result),
                     SGP32_ERR_INVALID_ARGUMENT);

    /* All of that went over one connection; counters moved. */
    sgp32_https_stats stats;
    sgp32_esipa_session_stats(s, &stats);
    assert_int_equal(stats.connections, 1);
    assert_int_equal(server.connections, 1);
    assert_int_equal(stats.requests, 10);
    assert_true(stats.bytes_sent > 10 * request.len && stats.bytes_received > 100);
    sgp32_esipa_session_close(s);

    /* The next procedure is a new connection. */
    sc.body_hex = NO_PACKAGE;
    assert_int_equal(sgp32_esipa_session_open(&config, &s), SGP32_OK);
    assert_int_equal(sgp32_esipa_session_send(s, request.data, request.len, &response, &result), SGP32_OK);
    assert_int_equal(server.connections, 2);
    sgp32_esipa_session_close(s);

    /* An answer over the cap is refused (with and without Content-Length known in advance). */
    sgp32_buf_init(&sc.body, 1 << 20);
    sc.body_hex = NULL;
    uint8_t big[8000];
    memset(big, 0x5A, sizeof(big));
    sgp32_buf_append(&sc.body, big, sizeof(big));
    config.limits.max_response = 4096;
    assert_int_equal(sgp32_esipa_session_open(&config, &s), SGP32_OK);
    assert_int_equal(sgp32_esipa_session_send(s, request.data, request.len, &response, &result),
                     SGP32_ERR_TRANSPORT_TOO_LARGE);
    assert_int_equal(response.len, 0);
    sgp32_esipa_session_close(s);
    sgp32_buf_free(&sc.body);

    test_server_stop(&server);
    sgp32_buf_free(&request);
    sgp32_buf_free(&notification);
    sgp32_buf_free(&response);
}

/* Every IPA -> eIM sample request through the JSON binding; the server checks it converts back
 * to the same DER and answers with a sample of the matching response. */
static void json_binding(void **state)
{
    (void)state;
    script sc = {.status = 200, .content_type = "application/json", .json_mode = true};
    sgp32_buf_init(&sc.expect_der, 1 << 20);
    sgp32_buf_init(&sc.answer_der, 1 << 20);
    test_server server;
    assert_int_equal(test_server_start(&server, &pki, handler, &sc), SGP32_OK);
    sgp32_esipa_config config = config_for(&server, SGP32_ESIPA_BINDING_JSON);
    config.user_agent_suffix = "sgp32 test";
    sgp32_esipa_session *s;
    assert_int_equal(sgp32_esipa_session_open(&config, &s), SGP32_OK);
    sgp32_buf response;
    sgp32_buf_init(&response, 4 << 20);
    const sgp32_asn1_type *req_type = &sgp32_type_esipa_message_from_ipa_to_eim;
    const sgp32_asn1_type *resp_type = &sgp32_type_esipa_message_from_eim_to_ipa;
    size_t requests = 0;
    for (size_t v = 0; v < 2 * sample_variant_count(req_type); v++) {
        sgp32_arena arena;
        sgp32_arena_init(&arena, 1 << 20);
        void *value = calloc(1, req_type->size);
        assert_int_equal(sample_build(req_type, v, &arena, value), SGP32_OK);
        sgp32_buf_reset(&sc.expect_der);
        assert_int_equal(sgp32_asn1_encode(req_type, value, &sc.expect_der), SGP32_OK);
        uint32_t tag = sc.expect_der.data[0] << 8 | sc.expect_der.data[1];
        free(value);
        if (tag == 0xBF4E) { /* TransferEimPackage's answer is not sent by this client */
            sgp32_arena_free(&arena);
            continue;
        }
        /* A response sample with the same tag (none for HandleNotification: 204). */
        sgp32_buf_reset(&sc.answer_der);
        sc.status = tag == 0xBF3D ? 204 : 200;
        for (size_t w = 0; tag != 0xBF3D && w < 2 * sample_variant_count(resp_type) && !sc.answer_der.len;
             w++) {
            void *r = calloc(1, resp_type->size);
            assert_int_equal(sample_build(resp_type, w + v, &arena, r), SGP32_OK);
            sgp32_buf tmp;
            sgp32_buf_init(&tmp, 1 << 20);
            assert_int_equal(sgp32_asn1_encode(resp_type, r, &tmp), SGP32_OK);
            if ((uint32_t)(tmp.data[0] << 8 | tmp.data[1]) == tag)
                sgp32_buf_append(&sc.answer_der, tmp.data, tmp.len);
            sgp32_buf_free(&tmp);
            free(r);
        }
        assert_true(tag == 0xBF3D || sc.answer_der.len > 0);
        sgp32_https_result result;
        sc.request_ok = false;
        int rc = sgp32_esipa_session_send(s, sc.expect_der.data, sc.expect_der.len, &response, &result);
        if (rc)
            fail_msg("variant %zu (%04X): %s: %s", v, tag, sgp32_err_str(rc), result.message);
        assert_true(sc.request_ok);
        assert_string_equal(server.last.content_type, "application/json;charset=UTF-8");
        assert_string_equal(server.last.admin_protocol, "gsma/rsp/v2.1.0");
        assert_string_equal(server.last.user_agent, "gsma-rsp-ipad; sgp32 test");
        assert_non_null(strstr(server.last.path, "/gsma/rsp2/esipa/"));
        assert_string_equal(server.last.path + 17, sgp32_esipa_function_name(tag));
        if (tag == 0xBF3D) {
            assert_true(result.no_content);
            assert_int_equal(response.len, 0);
        } else {
            assert_true(sgp32_bytes_equal(sgp32_buf_bytes(&response), sgp32_buf_bytes(&sc.answer_der)));
        }
        requests++;
        sgp32_arena_free(&arena);
    }
    assert_true(requests >= 7);
    assert_int_equal(server.connections, 1);

    /* A JSON answer that does not convert, and one that is not JSON. */
    sgp32_buf_reset(&sc.expect_der);
    sgp32_hex_decode(GET_EIM_PACKAGE, strlen(GET_EIM_PACKAGE), &sc.expect_der);
    sgp32_buf_reset(&sc.answer_der);
    sc.json_mode = false;
    sc.status = 200;
    sc.body_hex = NULL;
    sgp32_buf_init(&sc.body, 4096);
    sgp32_buf_append(&sc.body, "{\"eimPackageError\":\"x\"}", 23);
    sgp32_https_result result;
    assert_int_equal(sgp32_esipa_session_send(s, sc.expect_der.data, sc.expect_der.len, &response, &result),
                     SGP32_ERR_TRANSPORT_PROTOCOL);
    sc.content_type = "text/plain";
    assert_int_equal(sgp32_esipa_session_send(s, sc.expect_der.data, sc.expect_der.len, &response, &result),
                     SGP32_ERR_TRANSPORT_PROTOCOL);
    sgp32_buf_free(&sc.body);

    sgp32_esipa_session_close(s);
    test_server_stop(&server);
    sgp32_buf_free(&sc.expect_der);
    sgp32_buf_free(&sc.answer_der);
    sgp32_buf_free(&response);
}

/* One request with the given trust; the return code. */
static int try_trust(const test_server *server, const sgp32_tls_trust *trust)
{
    sgp32_esipa_config config = config_for(server, SGP32_ESIPA_BINDING_ASN1);
    config.tls = *trust;
    sgp32_esipa_session *s;
    int rc = sgp32_esipa_session_open(&config, &s);
    if (rc)
        return rc;
    sgp32_buf request = hex_buf(GET_EIM_PACKAGE), response;
    sgp32_buf_init(&response, 4096);
    rc = sgp32_esipa_session_send(s, request.data, request.len, &response, NULL);
    sgp32_esipa_session_close(s);
    sgp32_buf_free(&request);
    sgp32_buf_free(&response);
    return rc;
}

static sgp32_buf wrap(uint32_t outer, uint32_t inner, const sgp32_buf *content)
{
    sgp32_buf b, in;
    sgp32_buf_init(&b, 1 << 16);
    sgp32_buf_init(&in, 1 << 16);
    assert_int_equal(sgp32_asn1_write_retagged(&in, inner, sgp32_buf_bytes(content)), SGP32_OK);
    assert_int_equal(sgp32_asn1_write_tlv(&b, outer, in.data, in.len), SGP32_OK);
    sgp32_buf_free(&in);
    return b;
}

static void tls_trust(void **state)
{
    (void)state;
    script sc = {.status = 200, .content_type = ASN1_TYPE, .body_hex = NO_PACKAGE};
    test_server server;
    assert_int_equal(test_server_start(&server, &pki, handler, &sc), SGP32_OK);
    sgp32_tls_trust t;

    /* The issuing CI as a DER blob: ok. The other CI: TLS failure. */
    t = (sgp32_tls_trust){.ca_der = sgp32_buf_bytes(&pki.ci_der)};
    assert_int_equal(try_trust(&server, &t), SGP32_OK);
    t = (sgp32_tls_trust){.ca_der = sgp32_buf_bytes(&pki.other_ci_der)};
    assert_int_equal(try_trust(&server, &t), SGP32_ERR_TRANSPORT_TLS);
    /* The system store does not know our test CI. */
    t = (sgp32_tls_trust){0};
    assert_int_equal(try_trust(&server, &t), SGP32_ERR_TRANSPORT_TLS);
    /* A CA file. */
    char path[] = "/tmp/sgp32-ca-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    sgp32_buf pem;
    sgp32_buf_init(&pem, 1 << 16);
    assert_int_equal(test_pem_certificate(&pki.ci_der, &pem), SGP32_OK);
    assert_int_equal(write(fd, pem.data, pem.len), (ssize_t)pem.len);
    close(fd);
    t = (sgp32_tls_trust){.ca_file = path};
    assert_int_equal(try_trust(&server, &t), SGP32_OK);
    unlink(path);
    sgp32_buf_free(&pem);
    /* Pinned key: the server's key works without any CA; another key fails. */
    t = (sgp32_tls_trust){.pinned_spki = sgp32_buf_bytes(&pki.server_spki)};
    assert_int_equal(try_trust(&server, &t), SGP32_OK);
    t = (sgp32_tls_trust){.pinned_spki = sgp32_buf_bytes(&pki.other_spki)};
    assert_int_equal(try_trust(&server, &t), SGP32_ERR_TRANSPORT_TLS);
    /* Pin and CA together: both must hold. */
    t = (sgp32_tls_trust){.pinned_spki = sgp32_buf_bytes(&pki.other_spki),
                          .ca_der = sgp32_buf_bytes(&pki.ci_der)};
    assert_int_equal(try_trust(&server, &t), SGP32_ERR_TRANSPORT_TLS);
    t = (sgp32_tls_trust){.pinned_spki = sgp32_buf_bytes(&pki.server_spki),
                          .ca_der = sgp32_buf_bytes(&pki.ci_der)};
    assert_int_equal(try_trust(&server, &t), SGP32_OK);
    /* The server's own certificate as the anchor. */
    t = (sgp32_tls_trust){.pinned_certificate = sgp32_buf_bytes(&pki.server_der)};
    assert_int_equal(try_trust(&server, &t), SGP32_OK);
    /* trustedPublicKeyDataTls from an eIM configuration: A6 { A0 SPKI } and A6 { A1 cert }. */
    sgp32_buf a0 = wrap(0xA6, 0xA0, &pki.server_spki);
    t = (sgp32_tls_trust){.trusted_public_key_data_tls = sgp32_buf_bytes(&a0)};
    assert_int_equal(try_trust(&server, &t), SGP32_OK);
    sgp32_buf a0_other = wrap(0xA6, 0xA0, &pki.other_spki);
    t = (sgp32_tls_trust){.trusted_public_key_data_tls = sgp32_buf_bytes(&a0_other)};
    assert_int_equal(try_trust(&server, &t), SGP32_ERR_TRANSPORT_TLS);
    sgp32_buf a1 = wrap(0xA6, 0xA1, &pki.ci_der);
    t = (sgp32_tls_trust){.trusted_public_key_data_tls = sgp32_buf_bytes(&a1)};
    assert_int_equal(try_trust(&server, &t), SGP32_OK);
    sgp32_buf a1_other = wrap(0xA6, 0xA1, &pki.other_ci_der);
    t = (sgp32_tls_trust){.trusted_public_key_data_tls = sgp32_buf_bytes(&a1_other)};
    assert_int_equal(try_trust(&server, &t), SGP32_ERR_TRANSPORT_TLS);
    t = (sgp32_tls_trust){.trusted_public_key_data_tls = SGP32_BYTES("\x04\x00", 2)};
    assert_int_equal(try_trust(&server, &t), SGP32_ERR_INVALID_ARGUMENT);
    /* The test-only switch. */
    t = (sgp32_tls_trust){.insecure_skip_tls_verify_for_tests = true};
    assert_int_equal(try_trust(&server, &t), SGP32_OK);
    sgp32_buf_free(&a0);
    sgp32_buf_free(&a0_other);
    sgp32_buf_free(&a1);
    sgp32_buf_free(&a1_other);
    /* No server at all. */
    unsigned short port = server.port;
    test_server_stop(&server);
    char host[32];
    snprintf(host, sizeof(host), "127.0.0.1:%u", port);
    sgp32_esipa_config config = {.eim_fqdn = host, .tls.ca_der = sgp32_buf_bytes(&pki.ci_der)};
    sgp32_esipa_session *s;
    assert_int_equal(sgp32_esipa_session_open(&config, &s), SGP32_OK);
    sgp32_buf request = hex_buf(GET_EIM_PACKAGE), response;
    sgp32_buf_init(&response, 4096);
    assert_int_equal(sgp32_esipa_session_send(s, request.data, request.len, &response, NULL),
                     SGP32_ERR_TRANSPORT_CONNECT);
    sgp32_esipa_session_close(s);
    sgp32_buf_free(&request);
    sgp32_buf_free(&response);
    /* Bad configurations. */
    config.eim_fqdn = "eim.example.com/path";
    assert_int_equal(sgp32_esipa_session_open(&config, &s), SGP32_ERR_INVALID_ARGUMENT);
    config.eim_fqdn = "eim.example.com";
    config.x_admin_protocol = "gsma/rsp/v2.1.0\r\nX-Evil: 1";
    assert_int_equal(sgp32_esipa_session_open(&config, &s), SGP32_ERR_INVALID_ARGUMENT);
}

static int group_setup(void **state)
{
    (void)state;
    return test_pki_make(&pki) == SGP32_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    test_pki_free(&pki);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_tables_round_trip),
        cmocka_unit_test(json_exact_fields),
        cmocka_unit_test(asn1_binding),
        cmocka_unit_test(json_binding),
        cmocka_unit_test(tls_trust),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/*
 * The ES9+ JSON client (lib/transport/es9_https.c) against a scripted local HTTPS server
 * (libmicrohttpd, 127.0.0.1): every request type (sample values) converted to JSON and back on the
 * server equals what the client sent; path /gsma/rsp2/es9plus/<function> and the headers; the
 * optional request header object; answers in JSON back to the DER the IPA core uses; a Failed
 * functionExecutionStatus with subject/reason codes; handleNotification's 204; cancelSession's
 * header-only answer; HTTP errors; one connection for the session.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "asn1_sample.h"
#include "https_test_server.h"
#include "sgp32/asn1_types.h"
#include "sgp32/es9_client.h"
#include "sgp32/text.h"

static test_pki pki;

typedef struct script {
    unsigned status;
    const char *content_type;
    const char *body; /* a fixed JSON answer, or NULL: the JSON of answer_der */
    sgp32_buf expect_der;
    sgp32_buf answer_der;
    bool request_ok;
    bool had_header;
} script;

static void handler(void *ctx, const test_request *request, test_answer *answer)
{
    script *s = ctx;
    answer->status = s->status;
    answer->content_type = s->content_type;
    const char *fn = request->path + strlen("/gsma/rsp2/es9plus/");
    sgp32_buf der;
    sgp32_buf_init(&der, 4 << 20);
    int rc = sgp32_es9_json_to_request(fn, (const char *)request->body.data, request->body.len, &der);
    s->request_ok =
        rc == SGP32_OK && sgp32_bytes_equal(sgp32_buf_bytes(&der), sgp32_buf_bytes(&s->expect_der));
    sgp32_buf_free(&der);
    json_error_t error;
    json_t *root = json_loadb((const char *)request->body.data, request->body.len, 0, &error);
    s->had_header =
        root && json_is_object(json_object_get(root, "header")) &&
        json_is_string(json_object_get(json_object_get(root, "header"), "functionCallIdentifier"));
    json_decref(root);
    if (s->body) {
        sgp32_buf_append(&answer->body, s->body, strlen(s->body));
    } else if (s->answer_der.len) {
        sgp32_buf json;
        sgp32_buf_init(&json, 4 << 20);
        if (sgp32_es9_json_from_response(s->answer_der.data, s->answer_der.len, NULL, &json) == SGP32_OK)
            sgp32_buf_append(&answer->body, json.data, json.len);
        sgp32_buf_free(&json);
    }
}

/* A sample of type that the JSON binding can carry (the ok alternative), DER into out. */
static void sample_der(const sgp32_asn1_type *type, size_t first, sgp32_buf *out,
                       bool (*usable)(const sgp32_buf *))
{
    for (size_t v = first; v < first + 2 * sample_variant_count(type) + 2; v++) {
        sgp32_arena arena;
        sgp32_arena_init(&arena, 1 << 20);
        void *value = calloc(1, type->size);
        assert_int_equal(sample_build(type, v, &arena, value), SGP32_OK);
        sgp32_buf_reset(out);
        assert_int_equal(sgp32_asn1_encode(type, value, out), SGP32_OK);
        free(value);
        sgp32_arena_free(&arena);
        if (!usable || usable(out))
            return;
    }
    fail_msg("no usable sample of %s", type->name);
}

static bool ok_alternative(const sgp32_buf *der)
{
    sgp32_buf json;
    sgp32_buf_init(&json, 4 << 20);
    int rc = sgp32_es9_json_from_response(der->data, der->len, NULL, &json);
    sgp32_buf_free(&json);
    return rc == SGP32_OK;
}

static void every_function(void **state)
{
    (void)state;
    script sc = {.status = 200, .content_type = "application/json;charset=UTF-8"};
    sgp32_buf_init(&sc.expect_der, 4 << 20);
    sgp32_buf_init(&sc.answer_der, 4 << 20);
    test_server server;
    assert_int_equal(test_server_start(&server, &pki, handler, &sc), SGP32_OK);
    sgp32_es9_config config = {.smdp_address = server.host,
                               .tls.ca_der = sgp32_buf_bytes(&pki.ci_der),
                               .send_header = true,
                               .function_requester_identifier = "eim.example.com"};
    sgp32_es9_session *s;
    assert_int_equal(sgp32_es9_session_open(&config, &s), SGP32_OK);
    sgp32_buf response;
    sgp32_buf_init(&response, 4 << 20);
    sgp32_es9_result result;

    const struct {
        const sgp32_asn1_type *request, *response;
        const char *function;
    } cases[] = {
        {&sgp32_type_initiate_authentication_request, &sgp32_type_initiate_authentication_response,
         "initiateAuthentication"},
        {&sgp32_type_authenticate_client_request, &sgp32_type_authenticate_client_response_es9,
         "authenticateClient"},
        {&sgp32_type_get_bound_profile_package_request, &sgp32_type_get_bound_profile_package_response,
         "getBoundProfilePackage"},
        {&sgp32_type_cancel_session_request_es9, &sgp32_type_cancel_session_response_es9, "cancelSession"},
        {&sgp32_type_handle_notification, NULL, "handleNotification"},
    };
    for (size_t round = 0; round < 2; round++) {
        for (size_t i = 0; i < SGP32_ARRAY_LEN(cases); i++) {
            sample_der(cases[i].request, round, &sc.expect_der, NULL);
            sgp32_buf_reset(&sc.answer_der);
            if (cases[i].response)
                sample_der(cases[i].response, round, &sc.answer_der, ok_alternative);
            sc.status = cases[i].response ? 200 : 204;
            int rc = sgp32_es9_session_call(s, sc.expect_der.data, sc.expect_der.len, &response, &result);
            if (rc)
                fail_msg("%s: %s: %s", cases[i].function, sgp32_err_str(rc), result.https.message);
            assert_true(sc.request_ok);
            assert_true(sc.had_header);
            assert_string_equal(server.last.path + strlen("/gsma/rsp2/es9plus/"), cases[i].function);
            assert_string_equal(server.last.content_type, "application/json;charset=UTF-8");
            assert_string_equal(server.last.admin_protocol, "gsma/rsp/v2.1.0");
            assert_string_equal(server.last.user_agent, "gsma-rsp-lpad");
            if (cases[i].response) {
                assert_int_equal(result.status, SGP32_ES9_EXECUTED_SUCCESS);
                assert_true(sgp32_bytes_equal(sgp32_buf_bytes(&response), sgp32_buf_bytes(&sc.answer_der)));
            } else {
                assert_true(result.https.no_content);
                assert_int_equal(response.len, 0);
            }
        }
    }

    /* cancelSession answered with the header only: cancelSessionOk. */
    sample_der(&sgp32_type_cancel_session_request_es9, 0, &sc.expect_der, NULL);
    sc.status = 200;
    sc.body = "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Executed-Success\"}}}";
    assert_int_equal(sgp32_es9_cancel_session(s, sgp32_buf_bytes(&sc.expect_der), &response, &result),
                     SGP32_OK);
    char hex[64];
    sgp32_hex_encode(response.data, response.len, hex);
    assert_string_equal(hex, "BF4102A000");

    /* A failed function: SGP32_OK, the status and codes in the result, no DER. */
    sample_der(&sgp32_type_authenticate_client_request, 0, &sc.expect_der, NULL);
    sc.body = "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Failed\",\"statusCodeData\":"
              "{\"subjectCode\":\"8.1.1\",\"reasonCode\":\"3.8\",\"subjectIdentifier\":\"89049032\","
              "\"message\":\"EID refused\"}}}}";
    assert_int_equal(sgp32_es9_authenticate_client(s, sgp32_buf_bytes(&sc.expect_der), &response, &result),
                     SGP32_OK);
    assert_int_equal(result.status, SGP32_ES9_FAILED);
    assert_string_equal(result.subject_code, "8.1.1");
    assert_string_equal(result.reason_code, "3.8");
    assert_string_equal(result.subject_identifier, "89049032");
    assert_string_equal(result.message, "EID refused");
    assert_int_equal(response.len, 0);
    /* The wrong function for the named call. */
    assert_int_equal(
        sgp32_es9_initiate_authentication(s, sgp32_buf_bytes(&sc.expect_der), &response, &result),
        SGP32_ERR_INVALID_ARGUMENT);
    /* A 200 without the header, a body that is not JSON, an HTTP error. */
    sc.body = "{\"transactionId\":\"01\"}";
    assert_int_equal(sgp32_es9_authenticate_client(s, sgp32_buf_bytes(&sc.expect_der), &response, &result),
                     SGP32_ERR_TRANSPORT_PROTOCOL);
    sc.body = "<html>";
    assert_int_equal(sgp32_es9_authenticate_client(s, sgp32_buf_bytes(&sc.expect_der), &response, &result),
                     SGP32_ERR_TRANSPORT_PROTOCOL);
    sc.status = 503;
    assert_int_equal(sgp32_es9_authenticate_client(s, sgp32_buf_bytes(&sc.expect_der), &response, &result),
                     SGP32_ERR_TRANSPORT_HTTP_STATUS);
    assert_int_equal(result.https.http_status, 503);
    /* handleNotification refused. */
    sample_der(&sgp32_type_handle_notification, 0, &sc.expect_der, NULL);
    sc.status = 400;
    sc.body = "";
    assert_int_equal(sgp32_es9_handle_notification(s, sgp32_buf_bytes(&sc.expect_der), &result),
                     SGP32_ERR_TRANSPORT_HTTP_STATUS);

    sgp32_https_stats stats;
    sgp32_es9_session_stats(s, &stats);
    assert_int_equal(stats.connections, 1);
    assert_int_equal(server.connections, 1);
    assert_true(stats.requests >= 16);
    sgp32_es9_session_close(s);

    /* Without the header object (what LPAs send). */
    config.send_header = false;
    assert_int_equal(sgp32_es9_session_open(&config, &s), SGP32_OK);
    sc.status = 204;
    assert_int_equal(sgp32_es9_handle_notification(s, sgp32_buf_bytes(&sc.expect_der), &result), SGP32_OK);
    assert_false(sc.had_header);
    assert_true(sc.request_ok);
    sgp32_es9_session_close(s);
    /* A wrong CA. */
    config.tls.ca_der = sgp32_buf_bytes(&pki.other_ci_der);
    assert_int_equal(sgp32_es9_session_open(&config, &s), SGP32_OK);
    assert_int_equal(sgp32_es9_handle_notification(s, sgp32_buf_bytes(&sc.expect_der), &result),
                     SGP32_ERR_TRANSPORT_TLS);
    sgp32_es9_session_close(s);

    test_server_stop(&server);
    sgp32_buf_free(&sc.expect_der);
    sgp32_buf_free(&sc.answer_der);
    sgp32_buf_free(&response);
}

static void json_conversions(void **state)
{
    (void)state;
    sgp32_buf der;
    sgp32_buf_init(&der, 4096);
    sgp32_es9_result result;
    assert_int_equal(sgp32_es9_json_to_response("handleNotification", "{}", 2, &der, &result),
                     SGP32_ERR_NOT_FOUND);
    assert_int_equal(sgp32_es9_json_to_response("nope", "{}", 2, &der, &result), SGP32_ERR_NOT_FOUND);
    assert_int_equal(sgp32_es9_json_to_response("cancelSession", "[]", 2, &der, &result), SGP32_ERR_BAD_TEXT);
    const char *bad_status = "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Maybe\"}}}";
    assert_int_equal(
        sgp32_es9_json_to_response("cancelSession", bad_status, strlen(bad_status), &der, &result),
        SGP32_ERR_BAD_TEXT);
    const char *expired = "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Expired\"}}}";
    assert_int_equal(
        sgp32_es9_json_to_response("getBoundProfilePackage", expired, strlen(expired), &der, &result),
        SGP32_OK);
    assert_int_equal(result.status, SGP32_ES9_EXPIRED);
    assert_int_equal(der.len, 0);
    /* Success without the mandatory fields: the codec says what is missing. */
    const char *empty = "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Executed-Success\"}}}";
    assert_int_not_equal(
        sgp32_es9_json_to_response("getBoundProfilePackage", empty, strlen(empty), &der, &result), SGP32_OK);
    assert_int_equal(der.len, 0);
    sgp32_buf_free(&der);
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
        cmocka_unit_test(json_conversions),
        cmocka_unit_test(every_function),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

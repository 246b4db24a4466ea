#include "https_test_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sgp32/certificate.h"
#include "sgp32/text.h"

int test_pem_certificate(const sgp32_buf *der, sgp32_buf *out)
{
    size_t n = sgp32_base64_encoded_len(der->len);
    char *b64 = sgp32_alloc(n + 1);
    if (!b64)
        return SGP32_ERR_NO_MEMORY;
    sgp32_base64_encode(der->data, der->len, b64);
    sgp32_buf_reset(out);
    int rc = sgp32_buf_append(out, "-----BEGIN CERTIFICATE-----\n", 28);
    for (size_t i = 0; rc == SGP32_OK && i < n; i += 64) {
        rc = sgp32_buf_append(out, b64 + i, n - i < 64 ? n - i : 64);
        if (rc == SGP32_OK)
            rc = sgp32_buf_append_byte(out, '\n');
    }
    if (rc == SGP32_OK)
        rc = sgp32_buf_append(out, "-----END CERTIFICATE-----\n", 27); /* with the NUL */
    if (rc == SGP32_OK)
        out->len--;
    sgp32_free(b64, n + 1);
    return rc;
}

static int issue_ci(const char *name, sgp32_ec_private_key *key, sgp32_buf *der)
{
    sgp32_ec_public_key pub;
    int rc = sgp32_ec_generate(SGP32_CURVE_NIST_P256, key, &pub);
    if (rc)
        return rc;
    sgp32_cert_request req = {.profile = SGP32_CERT_PROFILE_CI,
                              .country = "DE",
                              .organization = "sgp32 tests",
                              .common_name = name,
                              .not_before = 1700000000,
                              .not_after = 4102444800};
    return sgp32_cert_issue(&req, NULL, 0, key, der);
}

int test_pki_make(test_pki *pki)
{
    memset(pki, 0, sizeof(*pki));
    sgp32_buf *bufs[] = {&pki->ci_der,     &pki->other_ci_der,    &pki->server_der,    &pki->server_spki,
                         &pki->other_spki, &pki->server_cert_pem, &pki->server_key_pem};
    for (size_t i = 0; i < SGP32_ARRAY_LEN(bufs); i++)
        sgp32_buf_init(bufs[i], 64 * 1024);
    sgp32_ec_private_key ci_key, other_key, server_key, spare_key;
    sgp32_ec_public_key server_pub, spare_pub;
    int rc = issue_ci("Test CI", &ci_key, &pki->ci_der);
    if (rc == SGP32_OK)
        rc = issue_ci("Other CI", &other_key, &pki->other_ci_der);
    if (rc == SGP32_OK)
        rc = sgp32_ec_generate(SGP32_CURVE_NIST_P256, &server_key, &server_pub);
    if (rc == SGP32_OK)
        rc = sgp32_ec_generate(SGP32_CURVE_NIST_P256, &spare_key, &spare_pub);
    if (rc == SGP32_OK) {
        const char *names[] = {"localhost"};
        sgp32_cert_request req = {.profile = SGP32_CERT_PROFILE_EIM_TLS,
                                  .country = "DE",
                                  .organization = "sgp32 tests",
                                  .common_name = "localhost",
                                  .subject_key = &server_pub,
                                  .not_before = 1700000000,
                                  .not_after = 4102444800,
                                  .dns_names = names,
                                  .dns_count = 1};
        rc = sgp32_cert_issue(&req, pki->ci_der.data, pki->ci_der.len, &ci_key, &pki->server_der);
    }
    if (rc == SGP32_OK)
        rc = sgp32_ec_public_to_spki(&server_pub, &pki->server_spki);
    if (rc == SGP32_OK)
        rc = sgp32_ec_public_to_spki(&spare_pub, &pki->other_spki);
    if (rc == SGP32_OK)
        rc = test_pem_certificate(&pki->server_der, &pki->server_cert_pem);
    if (rc == SGP32_OK)
        rc = sgp32_ec_private_to_pem(&server_key, &pki->server_key_pem);
    return rc;
}

void test_pki_free(test_pki *pki)
{
    sgp32_buf *bufs[] = {&pki->ci_der,     &pki->other_ci_der,    &pki->server_der,    &pki->server_spki,
                         &pki->other_spki, &pki->server_cert_pem, &pki->server_key_pem};
    for (size_t i = 0; i < SGP32_ARRAY_LEN(bufs); i++)
        sgp32_buf_free(bufs[i]);
}

typedef struct request_state {
    test_request request;
} request_state;

static void copy_header(struct MHD_Connection *c, const char *name, char *dst, size_t cap)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    snprintf(dst, cap, "%s", v ? v : "");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    test_server *server = cls;
    (void)version;
    request_state *state = *con_cls;
    if (!state) {
        state = calloc(1, sizeof(*state));
        if (!state)
            return MHD_NO;
        sgp32_buf_init(&state->request.body, 16u << 20);
        snprintf(state->request.path, sizeof(state->request.path), "%s%s", strcmp(method, "POST") ? "!" : "",
                 url);
        copy_header(connection, "Content-Type", state->request.content_type,
                    sizeof(state->request.content_type));
        copy_header(connection, "X-Admin-Protocol", state->request.admin_protocol,
                    sizeof(state->request.admin_protocol));
        copy_header(connection, "User-Agent", state->request.user_agent, sizeof(state->request.user_agent));
        *con_cls = state;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (sgp32_buf_append(&state->request.body, upload_data, *upload_data_size) != SGP32_OK)
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    test_answer answer = {.status = 500, .content_type = NULL};
    sgp32_buf_init(&answer.body, 16u << 20);
    server->handler(server->ctx, &state->request, &answer);
    pthread_mutex_lock(&server->lock);
    server->requests++;
    sgp32_buf_free(&server->last.body);
    server->last = state->request;
    sgp32_buf_init(&state->request.body, 16u << 20); /* ownership moved to server->last */
    pthread_mutex_unlock(&server->lock);
    struct MHD_Response *response =
        MHD_create_response_from_buffer(answer.body.len, answer.body.data, MHD_RESPMEM_MUST_COPY);
    if (answer.content_type)
        MHD_add_response_header(response, "Content-Type", answer.content_type);
    MHD_add_response_header(response, "X-Admin-Protocol", "gsma/rsp/v2.1.0");
    enum MHD_Result r = MHD_queue_response(connection, answer.status, response);
    MHD_destroy_response(response);
    sgp32_buf_free(&answer.body);
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)connection, (void)toe;
    request_state *state = *con_cls;
    if (state) {
        sgp32_buf_free(&state->request.body);
        free(state);
        *con_cls = NULL;
    }
}

static void on_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    test_server *server = cls;
    (void)connection, (void)socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        pthread_mutex_lock(&server->lock);
        server->connections++;
        pthread_mutex_unlock(&server->lock);
    }
}

int test_server_start(test_server *server, const test_pki *pki, test_handler handler, void *ctx)
{
    memset(server, 0, sizeof(*server));
    pthread_mutex_init(&server->lock, NULL);
    sgp32_buf_init(&server->last.body, 16u << 20);
    server->handler = handler;
    server->ctx = ctx;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* 127.0.0.1 only */
    server->daemon =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS, 0, NULL, NULL, on_request, server,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_HTTPS_MEM_CERT,
                         (const char *)pki->server_cert_pem.data, MHD_OPTION_HTTPS_MEM_KEY,
                         (const char *)pki->server_key_pem.data, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
                         server, MHD_OPTION_NOTIFY_CONNECTION, on_connection, server,
                         MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (!server->daemon)
        return SGP32_ERR_IO;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT);
    server->port = info ? info->port : 0;
    snprintf(server->host, sizeof(server->host), "localhost:%u", server->port);
    return server->port ? SGP32_OK : SGP32_ERR_IO;
}

void test_server_stop(test_server *server)
{
    if (server->daemon)
        MHD_stop_daemon(server->daemon);
    server->daemon = NULL;
    sgp32_buf_free(&server->last.body);
    pthread_mutex_destroy(&server->lock);
}

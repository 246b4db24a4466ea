/*
 * The request body plumbing of the libmicrohttpd servers of apps/ (app_http.h).
 */
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdlib.h>

#include "app_http.h"

/* ------------------------------------------------------------------ client certificates */

static gnutls_typed_vdata_st client_purpose = {GNUTLS_DT_KEY_PURPOSE_OID,
                                               (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT, 0};

static gnutls_session_t tls_session(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    return ci ? (gnutls_session_t)ci->tls_session : NULL;
}

static void ask_client_certificate(struct MHD_Connection *c, enum MHD_ConnectionNotificationCode code,
                                   gnutls_certificate_request_t how)
{
    gnutls_session_t s = code == MHD_CONNECTION_NOTIFY_STARTED ? tls_session(c) : NULL;
    if (!s)
        return; /* not TLS, or closing: nothing to ask (sgp32_app_http_client_verified says no) */
    gnutls_certificate_server_set_request(s, how);
    /* verified in the handshake only when required: GnuTLS would also fail a client that sent
     * none; an optional one is checked per request (sgp32_app_http_client_verified) */
    if (how == GNUTLS_CERT_REQUIRE)
        gnutls_session_set_verify_cert2(s, &client_purpose, 1, 0);
}

void sgp32_app_http_require_client_certificate(void *cls, struct MHD_Connection *c, void **socket_context,
                                               enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    (void)socket_context;
    ask_client_certificate(c, code, GNUTLS_CERT_REQUIRE);
}

void sgp32_app_http_request_client_certificate(void *cls, struct MHD_Connection *c, void **socket_context,
                                               enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    (void)socket_context;
    ask_client_certificate(c, code, GNUTLS_CERT_REQUEST);
}

bool sgp32_app_http_client_verified(struct MHD_Connection *c)
{
    gnutls_session_t s = tls_session(c);
    unsigned count = 0, status = 0;
    if (!s || gnutls_certificate_type_get(s) != GNUTLS_CRT_X509 || !gnutls_certificate_get_peers(s, &count) ||
        count == 0)
        return false;
    return gnutls_certificate_verify_peers(s, &client_purpose, 1, &status) == GNUTLS_E_SUCCESS && status == 0;
}

/* ------------------------------------------------------------------ request bodies */

void *sgp32_app_http_request_new(void **con_cls, size_t size, size_t body_max)
{
    sgp32_app_http_request *rq = calloc(1, size);
    if (!rq)
        return NULL;
    sgp32_buf_init(&rq->body, body_max);
    *con_cls = rq;
    return rq;
}

unsigned long long sgp32_app_http_content_length(sgp32_app_http_request *rq, struct MHD_Connection *c)
{
    const char *length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long announced = length ? strtoull(length, NULL, 10) : 0;
    rq->too_large = announced > rq->body.max;
    return announced;
}

void sgp32_app_http_append(sgp32_app_http_request *rq, const char *upload_data, size_t *upload_size)
{
    if (!rq->too_large && sgp32_buf_append(&rq->body, upload_data, *upload_size) != SGP32_OK)
        rq->too_large = true;
    *upload_size = 0;
}

void sgp32_app_http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                              enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)c;
    (void)code;
    sgp32_app_http_request *rq = *con_cls;
    if (rq) {
        sgp32_buf_free(&rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

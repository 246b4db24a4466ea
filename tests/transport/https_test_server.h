/*
 * Test support for the HTTPS clients: a libmicrohttpd HTTPS server on 127.0.0.1 (free port) with
 * a certificate for "localhost" issued at test time by a test CI (sgp32_cert_issue), that records
 * each request (path, the headers the bindings fix, body) and answers through a callback. It
 * counts TCP connections so tests can check that a session keeps one.
 */
#ifndef SGP32_TEST_HTTPS_SERVER_H
#define SGP32_TEST_HTTPS_SERVER_H

#include <pthread.h>

#include "sgp32/alloc.h"

typedef struct test_pki {
    sgp32_buf ci_der;       /* the CI that issued the server certificate */
    sgp32_buf other_ci_der; /* a CI that did not */
    sgp32_buf server_der;   /* the server certificate (localhost) */
    sgp32_buf server_spki;  /* its SubjectPublicKeyInfo */
    sgp32_buf other_spki;   /* some other key */
    sgp32_buf server_cert_pem;
    sgp32_buf server_key_pem;
} test_pki;

int test_pki_make(test_pki *pki);
void test_pki_free(test_pki *pki);
/* PEM of a DER certificate into out (NUL-terminated). */
int test_pem_certificate(const sgp32_buf *der, sgp32_buf *out);

typedef struct test_request {
    char path[256];
    char content_type[128];
    char admin_protocol[128];
    char user_agent[128];
    sgp32_buf body;
} test_request;

typedef struct test_answer {
    unsigned status;
    const char *content_type; /* NULL: no Content-Type */
    sgp32_buf body;           /* the handler fills it (reset before each call) */
} test_answer;

typedef void (*test_handler)(void *ctx, const test_request *request, test_answer *answer);

typedef struct test_server {
    struct MHD_Daemon *daemon;
    unsigned short port;
    char host[32]; /* "localhost:<port>" */
    test_handler handler;
    void *ctx;
    pthread_mutex_t lock;
    unsigned connections; /* TCP connections accepted */
    unsigned requests;
    test_request last; /* copy of the last request */
} test_server;

int test_server_start(test_server *server, const test_pki *pki, test_handler handler, void *ctx);
void test_server_stop(test_server *server);

#endif

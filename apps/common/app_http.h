/*
 * The request body plumbing of the libmicrohttpd servers of apps/ (library sgp32_app_http): eimd,
 * smdpd and ipad's push listener.
 *
 * libmicrohttpd calls a server's access handler once with the headers and no data yet, then once
 * per chunk of the body, then once more with nothing left to read, when the server answers; the
 * body read so far has to live in *con_cls between those calls and be freed by the
 * MHD_OPTION_NOTIFY_COMPLETED callback. Every server did that the same way, so it is written once
 * here. Each server keeps its own per-request struct (a route, a start time: what only it needs)
 * whose FIRST member is an sgp32_app_http_request, which lets sgp32_app_http_completed free it
 * without knowing the rest. What to answer to a body too large (status, text) stays in the server.
 */
#ifndef SGP32_APP_HTTP_H
#define SGP32_APP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <microhttpd.h>

#include "sgp32/alloc.h"

/* The part of a request every server keeps: the first member of its own request struct. */
typedef struct sgp32_app_http_request {
    sgp32_buf body; /* what was read; its max is the limit */
    bool too_large; /* announced or sent more than the limit (or out of memory): refuse it */
} sgp32_app_http_request;

/* On the first call: a zeroed request of size bytes (the server's struct, an
 * sgp32_app_http_request first) with a body of up to body_max bytes, stored in *con_cls for the
 * calls that follow; NULL when out of memory (answer MHD_NO). */
void *sgp32_app_http_request_new(void **con_cls, size_t size, size_t body_max);

/* The Content-Length the client announced (0 when there is none, as with a chunked body); sets
 * rq->too_large when that is more than the body may hold, so the body is read and dropped. */
unsigned long long sgp32_app_http_content_length(sgp32_app_http_request *rq, struct MHD_Connection *c);

/* One chunk of the body (a call with *upload_size > 0): kept while the body has room, else
 * rq->too_large and dropped, like every chunk after it; *upload_size is set to 0 (consumed). The
 * handler then answers MHD_YES. */
void sgp32_app_http_append(sgp32_app_http_request *rq, const char *upload_data, size_t *upload_size);

/*
 * Client certificates (mutual TLS), for a server started with MHD_OPTION_HTTPS_MEM_TRUST (the CA
 * its clients' certificates chain to). One of these two as MHD_OPTION_NOTIFY_CONNECTION (cls
 * unused): each new TLS session asks for a client certificate, either as a must, verified in the
 * handshake against the CA with the clientAuth purpose (a client without a good one never gets
 * to send HTTP), or as an option (a client without one gets in, e.g. an LPA on a port it shares
 * with operators), which the handler checks with sgp32_app_http_client_verified where it matters.
 */
void sgp32_app_http_require_client_certificate(void *cls, struct MHD_Connection *c, void **socket_context,
                                               enum MHD_ConnectionNotificationCode code);
void sgp32_app_http_request_client_certificate(void *cls, struct MHD_Connection *c, void **socket_context,
                                               enum MHD_ConnectionNotificationCode code);
/* Whether the client of this request sent a certificate that verified (chain, clientAuth). */
bool sgp32_app_http_client_verified(struct MHD_Connection *c);

/* MHD_OPTION_NOTIFY_COMPLETED: frees the request of *con_cls (the body and the server's struct). */
void sgp32_app_http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                              enum MHD_RequestTerminationCode code);

#endif

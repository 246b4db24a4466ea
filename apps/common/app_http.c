/*
 * The request body plumbing of the libmicrohttpd servers of apps/ (app_http.h).
 */
#include <stdlib.h>

#include "app_http.h"

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

/*
 * lib/transport private: one libcurl easy handle per session (so one kept-alive connection per
 * procedure), the TLS trust set-up of https_client.h, response capping and byte counting. Used by
 * esipa_https.c and es9_https.c.
 */
#ifndef SGP32_TRANSPORT_HTTPS_SESSION_H
#define SGP32_TRANSPORT_HTTPS_SESSION_H

#include "sgp32/https_client.h"

typedef struct sgp32_https_session sgp32_https_session;

/* host: "name" or "name:port" (no scheme, no path). */
int sgp32_https_session_new(const char *host, const sgp32_tls_trust *trust, const sgp32_https_limits *limits,
                            const char *log_name, sgp32_https_session **out);
/*
 * POST body to https://host<path> with the given headers ("Name: value", NULL-terminated).
 * response receives the body (reset first); content_type (optional, cap bytes) the response's
 * Content-Type ("" when none). result (optional) gets the status and a message. Returns SGP32_OK
 * whenever an HTTP answer came (any status), else SGP32_ERR_TRANSPORT_*.
 */
int sgp32_https_session_post(sgp32_https_session *s, const char *path, const char *const *headers,
                             const uint8_t *body, size_t len, sgp32_buf *response, char *content_type,
                             size_t cap, sgp32_https_result *result);
void sgp32_https_session_stats(const sgp32_https_session *s, sgp32_https_stats *stats);
void sgp32_https_session_free(sgp32_https_session *s);

/* Fill result->message (printf-style) when result is not NULL. */
void sgp32_https_result_message(sgp32_https_result *result, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif

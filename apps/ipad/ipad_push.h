/*
 * ipad's push listener (ipad_push.c): the HTTPS server side of ESipa.TransferEimPackage
 * (SGP.32 §3.1.1.2, §5.14.4), where the eIM is the client. Mutual TLS is required: a client
 * without a certificate that chains to push_client_ca (with the clientAuth purpose) is refused in
 * the TLS handshake, because an IpaEuiccDataRequest or a ProfileDownloadTrigger is not signed and
 * must not be injectable by anyone who can reach the port.
 *
 * The listener's threads never touch the IPA core: a request waits in a one-slot mailbox until
 * ipad's loop thread (the core's only caller) takes it at its next idle or backoff point and hands
 * back the PUSH_RESPONSE bytes; the HTTP answer is 200 with them. A second push while one is in
 * the slot, or one the loop cannot take in time (a procedure is running), is answered 503 so that
 * the eIM tries again later.
 */
#ifndef IPAD_PUSH_H
#define IPAD_PUSH_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "sgp32/alloc.h"

typedef struct ipad_push_config {
    const char *listen;        /* host:port ([v6]:port); port 0 picks a free one */
    const char *cert_pem;      /* the listener's certificate chain, PEM text */
    const char *key_pem;       /* its key, PEM text */
    const char *client_ca_pem; /* the CAs whose client certificates are accepted, PEM text */
    int timeout_ms;            /* how long a push waits for the IPA to take and answer it */
} ipad_push_config;

typedef struct ipad_push ipad_push;

/* Bind and start; *port the port bound. A message on stderr and -1 on failure. */
int ipad_push_start(const ipad_push_config *config, ipad_push **out, unsigned *port);
void ipad_push_stop(ipad_push *p);

/* Loop thread: sleep up to seconds (monotonic), until a push waits or *stop is set. True when a
 * push waits: take it. */
bool ipad_push_wait(ipad_push *p, int64_t seconds, volatile sig_atomic_t *stop);
/* The waiting request's body (valid until answered or refused), NULL when none waits. */
const sgp32_buf *ipad_push_take(ipad_push *p);
/* The core's PUSH_RESPONSE for the request taken (dropped when the pusher gave up). */
void ipad_push_answer(ipad_push *p, const uint8_t *data, size_t len);
/* The core did not take the request: answered with this HTTP status. */
void ipad_push_refuse(ipad_push *p, unsigned status);

#endif

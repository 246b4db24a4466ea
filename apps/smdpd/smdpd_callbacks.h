/*
 * ES2+ handleDownloadProgressInfo to the operator (SGP.22 §5.3.5): a worker thread posts the
 * events in order, retrying a failed one with a doubling delay. The events wait in the store's
 * outbox (smdpd: its SQLite file), so those not delivered yet, and their retry state, outlive a
 * stop, a crash or a restart; delivery is at least once.
 */
#ifndef SMDPD_CALLBACKS_H
#define SMDPD_CALLBACKS_H

#include <stdbool.h>

#include "sgp32/smdp_server.h"

typedef struct smdpd_callbacks_config {
    const char *url;                /* the operator's handleDownloadProgressInfo endpoint */
    const char *ca;                 /* CA file (PEM) for its TLS certificate; NULL or "": the system CAs */
    const char *token;              /* sent as Authorization: Bearer <token>; NULL or "": none */
    const char *client_certificate; /* PEM file presented for mutual TLS; NULL or "": none */
    const char *client_key;         /* its private key (PEM file) */
    int attempts;                   /* posts per event before it is dropped (>= 1) */
    double first_delay;             /* seconds before the first retry; doubled each time, at most 60 */
    const sgp32_smdp_store *store;  /* with the outbox functions; shared with the server (copied) */
} smdpd_callbacks_config;

typedef struct smdpd_callbacks smdpd_callbacks;

/* The worker thread, which first takes up what an earlier one left in the outbox; NULL when it
 * cannot start (a message is logged). */
smdpd_callbacks *smdpd_callbacks_start(const smdpd_callbacks_config *config);
/* Store a JSON body in the outbox and wake the worker; false when the store refused it (logged). */
bool smdpd_callbacks_post(smdpd_callbacks *cb, const char *body);
/* Stop the worker and free it, within about 2 s (a post under way is cut off and stays in the
 * outbox, as everything not delivered does); NULL is fine. */
void smdpd_callbacks_stop(smdpd_callbacks *cb);

#endif

/*
 * ES2+ handleDownloadProgressInfo to the operator (SGP.22 §5.3.5): a worker thread posts the
 * events in order, retrying a failed one with a doubling delay. In memory: on stop each queued
 * event gets one last post, all within 5 s of the stop (a post still under way then is cut off);
 * what is not delivered by then is logged, not kept.
 */
#ifndef SMDPD_CALLBACKS_H
#define SMDPD_CALLBACKS_H

#include <stdbool.h>

typedef struct smdpd_callbacks_config {
    const char *url;    /* the operator's handleDownloadProgressInfo endpoint */
    const char *ca;     /* CA file (PEM) for its TLS certificate; NULL or "": the system CAs */
    const char *token;  /* sent as Authorization: Bearer <token>; NULL or "": none */
    int attempts;       /* posts per event before it is dropped (>= 1) */
    double first_delay; /* seconds before the first retry; doubled each time, at most 60 */
} smdpd_callbacks_config;

typedef struct smdpd_callbacks smdpd_callbacks;

/* The worker thread; NULL when it cannot start (a message is logged). */
smdpd_callbacks *smdpd_callbacks_start(const smdpd_callbacks_config *config);
/* Queue a JSON body (copied); false when the queue is full (the event is dropped and logged). */
bool smdpd_callbacks_post(smdpd_callbacks *cb, const char *body);
/* Stop the worker and free everything, within about 5 s (plus up to a second for curl to notice
 * a stalled post); NULL is fine. */
void smdpd_callbacks_stop(smdpd_callbacks *cb);

#endif

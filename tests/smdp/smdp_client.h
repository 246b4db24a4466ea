/*
 * Test and bench support: an LPA + eUICC that downloads profiles from a running smdpd over
 * HTTPS (libcurl, the CI as the only trust anchor), with the software eUICC of lib/euicc
 * in-process. ES9+ over the JSON or the ASN.1 binding; ES2+ with the bearer token.
 */
#ifndef SGP32_TEST_SMDP_CLIENT_H
#define SGP32_TEST_SMDP_CLIENT_H

#include <curl/curl.h>
#include <jansson.h>

#include "sgp32/euicc.h"

typedef struct smdp_client {
    CURL *curl;
    char base_url[128]; /* https://localhost:PORT */
    char ca_file[512];  /* PEM of the CI that issued DPtls */
    char token[128];    /* ES2+ bearer token */
    bool asn1;          /* ES9+ over the ASN.1 binding */
    sgp32_euicc *euicc;
} smdp_client;

/* What a function answered: HTTP status and functionExecutionStatus (or the ASN.1 error). */
typedef struct smdp_result {
    long http;
    bool ok;
    char subject[16], reason[16];
    long long asn1_error; /* ASN.1 binding: the 81 code, 0 when ok */
} smdp_result;

/* One download session as the LPA sees it. */
typedef struct lpa_session {
    uint8_t txid[16];
    size_t txid_len;
    char txid_hex[33];
    sgp32_buf server_auth;    /* serverSigned1 || serverSignature1 || ciPKId || CERT.DPauth */
    sgp32_buf euicc_response; /* the last ES10 answer (AuthenticateServer / PrepareDownload) */
    sgp32_buf smdp_part;      /* smdpSigned2 || smdpSignature2 (TLVs) */
    sgp32_buf smdp_cert;      /* CERT.DPpb */
    sgp32_buf metadata;       /* profileMetadata */
    sgp32_buf bpp;
    sgp32_buf pir;
} lpa_session;

int smdp_client_init(smdp_client *c, const char *base_url, const char *ca_file, const char *token,
                     sgp32_euicc *euicc);
void smdp_client_free(smdp_client *c);

/* Raw POST; out receives the body. */
int smdp_client_post(smdp_client *c, const char *path, const char *content_type, const void *body, size_t len,
                     const char *extra_header, sgp32_buf *out, long *http);

/* ES2+: fields is the request without header (consumed); *answer (optional) the parsed body. */
int smdp_es2(smdp_client *c, const char *function, json_t *fields, smdp_result *r, json_t **answer);

void lpa_session_init(lpa_session *s);
void lpa_session_free(lpa_session *s);

/* curve 0 NIST, 1 brainpool: euiccInfo1 offers only that CI. address: smdpAddress. */
int lpa_initiate(smdp_client *c, lpa_session *s, int curve, const char *address, smdp_result *r);
/* AuthenticateServer on the eUICC with this matchingId (NULL: none), then AuthenticateClient.
 * tamper (optional) may change the eUICC's answer before it is sent. */
int lpa_authenticate(smdp_client *c, lpa_session *s, const char *matching_id,
                     void (*tamper)(sgp32_buf *response, void *ctx), void *tamper_ctx, smdp_result *r);
/* PrepareDownload (hashCc from cc when not NULL) and GetBoundProfilePackage. */
int lpa_prepare(smdp_client *c, lpa_session *s, const char *cc);
int lpa_get_bpp(smdp_client *c, lpa_session *s, smdp_result *r);
/* Load the BPP segment by segment into the eUICC; the PIR in s->pir. */
int lpa_install(smdp_client *c, lpa_session *s);
int lpa_notify(smdp_client *c, lpa_session *s, smdp_result *r);
/* ES10 CancelSession with a reason, then ES9+ CancelSession. */
int lpa_cancel(smdp_client *c, lpa_session *s, int reason, smdp_result *r);

/* The whole download for an activation code's matchingId (curve 0/1, cc may be NULL). */
int lpa_download(smdp_client *c, int curve, const char *matching_id, const char *cc, smdp_result *r);

#endif

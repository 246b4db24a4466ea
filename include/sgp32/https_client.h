/*
 * What the HTTPS clients of lib/transport share (esipa_client.h, es9_client.h): how the server is
 * trusted, limits, and the byte counters the wire benchmark reads.
 *
 * TLS verification is on by default. Trust, in this order (docs/transport.md):
 *   trusted_public_key_data_tls  the eIM configuration's trustedPublicKeyDataTls (SGP.32 §2.11.1.1.1):
 *                                A6 { A0 SubjectPublicKeyInfo } pins the server's key (the chain is
 *                                then not judged: the key is the trust); A6 { A1 Certificate } is
 *                                the eIM's own certificate or its CA, used as the only trust anchor.
 *                                The inner A0/A1 TLV alone is accepted too.
 *   pinned_spki / pinned_certificate   the same, given directly (DER SubjectPublicKeyInfo / Certificate)
 *   ca_file / ca_der             CA certificates (PEM file; one DER certificate) as trust anchors
 *   nothing                      the system CA store
 * A pin together with a CA: both must hold. The host name is checked whenever a chain is.
 */
#ifndef SGP32_HTTPS_CLIENT_H
#define SGP32_HTTPS_CLIENT_H

#include "sgp32/alloc.h"

enum {
    SGP32_HTTPS_DEFAULT_TIMEOUT_MS = 30000, /* whole request */
    SGP32_HTTPS_DEFAULT_CONNECT_TIMEOUT_MS = 10000,
    SGP32_HTTPS_DEFAULT_MAX_RESPONSE = 2u << 20, /* a BPP fits many times */
};

typedef struct sgp32_tls_trust {
    sgp32_bytes trusted_public_key_data_tls; /* DER, see above */
    sgp32_bytes pinned_spki;                 /* DER SubjectPublicKeyInfo */
    sgp32_bytes pinned_certificate;          /* DER Certificate: trust anchor (leaf or CA) */
    const char *ca_file;                     /* PEM file */
    sgp32_bytes ca_der;                      /* one DER CA certificate */
    /* Tests only: no certificate or host name check at all. Logged as a warning at every open. */
    bool insecure_skip_tls_verify_for_tests;
} sgp32_tls_trust;

typedef struct sgp32_https_limits {
    int timeout_ms;         /* 0: SGP32_HTTPS_DEFAULT_TIMEOUT_MS */
    int connect_timeout_ms; /* 0: SGP32_HTTPS_DEFAULT_CONNECT_TIMEOUT_MS */
    size_t max_response;    /* response body cap; 0: SGP32_HTTPS_DEFAULT_MAX_RESPONSE */
} sgp32_https_limits;

/* Counted per session, HTTP level: request line + headers + body sent, status line + headers +
 * body received (TLS records and handshakes not included). */
typedef struct sgp32_https_stats {
    uint64_t requests;
    uint64_t connections; /* new TCP/TLS connections made (1 for a session that kept its connection) */
    uint64_t bytes_sent;
    uint64_t bytes_received;
} sgp32_https_stats;

/* How an exchange ended, beyond the return code. */
typedef struct sgp32_https_result {
    long http_status;  /* 0 when no HTTP answer came */
    bool no_content;   /* 204, or 200 with an empty body */
    char message[256]; /* what went wrong (curl's words or ours), "" on success */
} sgp32_https_result;

#endif

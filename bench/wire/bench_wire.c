/*
 * bench_wire: the bytes on the wire of the IPA's ESipa traffic, for one PSMO round trip and one
 * indirect profile download, with the ASN.1 and with the JSON binding (SGP.32 §6.3, §6.4).
 *
 * Set-up, all in this process: the IPA core (lib/ipa) with a software eUICC (lib/euicc) and the
 * scripted eIM of the unit tests (tests/unit/ipa_host: packages signed with lib/eim, results
 * verified, acknowledgements, the indirect-download relay to an in-process lib/smdp session).
 * The eIM is served over real HTTPS: tests/transport/https_test_server (libmicrohttpd on
 * 127.0.0.1, certificate for localhost issued at start by a test CI), behind a counting TCP relay
 * on 127.0.0.1. The IPA's ESipa actions go through the real ESipa HTTPS client
 * (lib/transport, one session per procedure, as ipad does), TLS verified against the test CI.
 *
 *   PSMO      GetEimPackage -> setDefaultDpAddress PSMO -> ProvideEimPackageResult (EPR) ->
 *             eimAcknowledgements -> GetEimPackage (noEimPackageAvailable)
 *   download  GetEimPackage (ProfileDownloadTrigger) -> InitiateAuthentication ->
 *             AuthenticateClient -> GetBoundProfilePackage (TS.48 profile) ->
 *             ProvideEimPackageResult (PIR) -> ... -> GetEimPackage (none)
 *
 * Per scenario and binding: HTTP requests, TCP/TLS connections, HTTP bytes sent and received
 * (request/status lines + headers + bodies, the client's own statistics), the sum of the DER
 * EsipaMessage bodies both ways (the ASN.1 payload; for the JSON binding the DER each JSON body
 * converts to), the overhead ratio wire / payload, and the TLS bytes the relay forwarded (TCP
 * payload: handshake, records, alerts; no TCP/IP headers), which the client statistics do not
 * count.
 *
 * The last line is one JSON object with these figures.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "https_test_server.h"
#include "ipa_host.h"
#include "sgp32/asn1.h"
#include "sgp32/esipa_client.h"

#define TS48_PROFILE SGP32_SPEC_DIR "/profiles/TS48V2-SAIP2-1-BERTLV-UNIQUE.der"
#define ASN1_TYPE    "application/x-gsma-rsp-asn1"
#define JSON_PREFIX  "/gsma/rsp2/esipa/"

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_wire: %s: %s\n", what, sgp32_err_str(rc));
    exit(1);
}

/* ------------------------------------------------------------------ counting TCP relay */

/* 127.0.0.1:port -> 127.0.0.1:upstream, one connection at a time, counting the bytes each way. */
typedef struct relay {
    int listen_fd;
    unsigned short port, upstream;
    pthread_t thread;
    pthread_mutex_t lock;
    volatile int stop;
    uint64_t up, down; /* client -> server, server -> client */
    int active;        /* a connection is being relayed */
} relay;

static int pump(relay *r, int from, int to, bool up)
{
    char buf[16384];
    ssize_t n = recv(from, buf, sizeof(buf), 0);
    if (n <= 0)
        return -1;
    for (ssize_t off = 0; off < n;) {
        ssize_t w = send(to, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        off += w;
    }
    pthread_mutex_lock(&r->lock);
    if (up)
        r->up += (uint64_t)n;
    else
        r->down += (uint64_t)n;
    pthread_mutex_unlock(&r->lock);
    return 0;
}

static void *relay_main(void *arg)
{
    relay *r = arg;
    while (!r->stop) {
        struct pollfd lp = {.fd = r->listen_fd, .events = POLLIN};
        if (poll(&lp, 1, 50) <= 0)
            continue;
        int c = accept(r->listen_fd, NULL, NULL);
        if (c < 0)
            continue;
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(r->upstream)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
            close(c);
            if (s >= 0)
                close(s);
            continue;
        }
        pthread_mutex_lock(&r->lock);
        r->active = 1;
        pthread_mutex_unlock(&r->lock);
        while (!r->stop) {
            struct pollfd p[2] = {{.fd = c, .events = POLLIN}, {.fd = s, .events = POLLIN}};
            if (poll(p, 2, 50) <= 0)
                continue;
            if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) && pump(r, c, s, true))
                break;
            if ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) && pump(r, s, c, false))
                break;
        }
        close(c);
        close(s);
        pthread_mutex_lock(&r->lock);
        r->active = 0;
        pthread_mutex_unlock(&r->lock);
    }
    return NULL;
}

static int relay_start(relay *r, unsigned short upstream)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
    r->upstream = upstream;
    r->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* 127.0.0.1 only */
    socklen_t len = sizeof(a);
    if (r->listen_fd < 0 || bind(r->listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(r->listen_fd, 8) != 0 || getsockname(r->listen_fd, (struct sockaddr *)&a, &len) != 0)
        return SGP32_ERR_IO;
    r->port = ntohs(a.sin_port);
    return pthread_create(&r->thread, NULL, relay_main, r) ? SGP32_ERR_IO : SGP32_OK;
}

static void relay_stop(relay *r)
{
    r->stop = 1;
    pthread_join(r->thread, NULL);
    close(r->listen_fd);
    pthread_mutex_destroy(&r->lock);
}

/* Wait (up to 2 s) for the relayed connection to end, then read and reset the counters. */
static void relay_take(relay *r, uint64_t *up, uint64_t *down)
{
    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(&r->lock);
        int active = r->active;
        pthread_mutex_unlock(&r->lock);
        if (!active)
            break;
        usleep(10000);
    }
    pthread_mutex_lock(&r->lock);
    *up = r->up;
    *down = r->down;
    r->up = r->down = 0;
    pthread_mutex_unlock(&r->lock);
}

/* ------------------------------------------------------------------ the eIM over HTTPS */

typedef struct bench {
    host *h;
    sgp32_esipa_binding binding;
    char address[40]; /* localhost:<relay port> */
    sgp32_buf ca;     /* the test CI: the only trust anchor */
    sgp32_esipa_session *session;
    /* per measured procedure */
    uint64_t payload;            /* DER bodies both ways (server side) */
    uint64_t req_body, rsp_body; /* HTTP bodies as sent (DER or JSON text) */
    size_t exchanges;
    char functions[512];
    bool failed;
} bench;

static bench B;

/* The server: body -> DER request (JSON converted) -> the scripted eIM -> DER answer -> body. */
static void eim_handler(void *ctx, const test_request *request, test_answer *answer)
{
    bench *b = ctx;
    sgp32_buf der, out;
    sgp32_buf_init(&der, 4u << 20);
    sgp32_buf_init(&out, 4u << 20);
    answer->status = 400;
    answer->content_type = NULL;
    bool json = strncmp(request->path, JSON_PREFIX, strlen(JSON_PREFIX)) == 0;
    int rc = SGP32_OK;
    if (json)
        rc = sgp32_esipa_json_to_der(SGP32_ESIPA_IPA_TO_EIM, request->path + strlen(JSON_PREFIX),
                                     (const char *)request->body.data, request->body.len, &der);
    else
        rc = sgp32_buf_append(&der, request->body.data, request->body.len);
    if (rc) {
        fprintf(stderr, "bench_wire: %s: request does not convert: %s\n", request->path, sgp32_err_str(rc));
        b->failed = true;
        goto out;
    }
    sgp32_ipa_action a = {
        .type = SGP32_IPA_ACT_SEND_ESIPA, .data = sgp32_buf_bytes(&der), .address = HOST_EIM_ID};
    host_eim_answer(b->h, &a, &out);
    b->payload += der.len + out.len;
    if (!out.len) { /* HandleNotification */
        answer->status = 204;
        goto out;
    }
    answer->status = 200;
    if (json) {
        sgp32_buf text;
        sgp32_buf_init(&text, 4u << 20);
        rc = sgp32_esipa_json_from_der(SGP32_ESIPA_EIM_TO_IPA, out.data, out.len, NULL, &text);
        if (rc == SGP32_OK)
            rc = sgp32_buf_append(&answer->body, text.data, text.len);
        sgp32_buf_free(&text);
        answer->content_type = "application/json";
        if (rc) {
            fprintf(stderr, "bench_wire: answer does not convert to JSON: %s\n", sgp32_err_str(rc));
            b->failed = true;
            answer->status = 500;
        }
    } else {
        answer->content_type = ASN1_TYPE;
        if (sgp32_buf_append(&answer->body, out.data, out.len) != SGP32_OK)
            answer->status = 500;
    }
out:
    b->req_body += request->body.len;
    b->rsp_body += answer->body.len;
    sgp32_buf_free(&der);
    sgp32_buf_free(&out);
}

/* The host's ESipa exchange: one ESipa HTTPS session per procedure (opened at its first request). */
static int exchange(host *h, const sgp32_ipa_action *a, sgp32_buf *response)
{
    bench *b = h->exchange_ctx;
    if (a->type != SGP32_IPA_ACT_SEND_ESIPA) {
        fprintf(stderr, "bench_wire: unexpected %s\n", sgp32_ipa_action_name(a->type));
        b->failed = true;
        return SGP32_ERR_STATE;
    }
    if (!b->session) {
        sgp32_esipa_config c = {.eim_fqdn = b->address, .binding = b->binding};
        c.tls.ca_der = sgp32_buf_bytes(&b->ca);
        int rc = sgp32_esipa_session_open(&c, &b->session);
        if (rc)
            die("ESipa session", rc);
    }
    sgp32_https_result res;
    memset(&res, 0, sizeof(res));
    int rc = sgp32_esipa_session_send(b->session, a->data.data, a->data.len, response, &res);
    if (rc) {
        fprintf(stderr, "bench_wire: %s: %s (HTTP %ld) %s\n", sgp32_ipa_function_name(a->function),
                sgp32_err_str(rc), res.http_status, res.message);
        b->failed = true;
        return rc;
    }
    b->exchanges++;
    size_t n = strlen(b->functions);
    snprintf(b->functions + n, sizeof(b->functions) - n, "%s%s", n ? " " : "",
             sgp32_ipa_function_name(a->function));
    return SGP32_OK;
}

/* ------------------------------------------------------------------ scenarios */

typedef struct figures {
    sgp32_https_stats http;
    uint64_t payload, req_body, rsp_body;
    uint64_t tls_up, tls_down;
    char functions[512];
} figures;

static void measure_start(bench *b, host *h)
{
    b->h = h;
    b->payload = b->req_body = b->rsp_body = 0;
    b->exchanges = 0;
    b->functions[0] = 0;
    h->exchange = exchange;
    h->exchange_ctx = b;
}

static void measure_end(bench *b, relay *r, figures *f)
{
    memset(f, 0, sizeof(*f));
    if (b->session) {
        sgp32_esipa_session_stats(b->session, &f->http);
        sgp32_esipa_session_close(b->session);
        b->session = NULL;
    }
    relay_take(r, &f->tls_up, &f->tls_down);
    f->payload = b->payload;
    f->req_body = b->req_body;
    f->rsp_body = b->rsp_body;
    snprintf(f->functions, sizeof(f->functions), "%s", b->functions);
}

static void psmo_round_trip(bench *b, relay *r, figures *f)
{
    host *h = calloc(1, sizeof(*h));
    host_open(h, 0);
    /* boot in process first (its GetEimPackage finds nothing), then measure one poll */
    if (sgp32_ipa_start_boot(h->ipa) || host_run(h, 5000) != HOST_IDLE)
        die("boot", SGP32_ERR_STATE);
    sgp32_psmo p;
    memset(&p, 0, sizeof(p));
    p.choice = SGP32_PSMO_SET_DEFAULT_DP_ADDRESS;
    p.u.set_default_dp_address.default_dp_address = host_text(h, "dp2.example.com");
    host_queue_psmos(h, &p, 1);
    measure_start(b, h);
    if (sgp32_ipa_start_poll(h->ipa) || host_run(h, 5000) != HOST_IDLE)
        die("PSMO round trip", SGP32_ERR_STATE);
    measure_end(b, r, f);
    if (h->verified_eprs != 1 || !h->epr_verified_all || h->acked_count < 1 || host_card_pending(h) != 0) {
        fprintf(stderr, "bench_wire: PSMO round trip incomplete (EPRs %zu, acks %zu)\n", h->verified_eprs,
                h->acked_count);
        b->failed = true;
    }
    host_close(h);
    free(h);
}

/* BF54 {A0 {80 activationCode}, 82 eimTransactionId} */
static void queue_trigger(host *h)
{
    static const uint8_t txid[2] = {0x01, 0x02};
    sgp32_buf t;
    sgp32_buf_init(&t, 1024);
    size_t outer = sgp32_asn1_begin(&t);
    size_t data = sgp32_asn1_begin(&t);
    int rc = sgp32_asn1_write_tlv(&t, 0x80, (const uint8_t *)HOST_AC, strlen(HOST_AC));
    if (rc == SGP32_OK)
        rc = sgp32_asn1_end(&t, 0xA0, data);
    if (rc == SGP32_OK)
        rc = sgp32_asn1_write_tlv(&t, 0x82, txid, sizeof(txid));
    if (rc == SGP32_OK)
        rc = sgp32_asn1_end(&t, 0xBF54, outer);
    if (rc)
        die("trigger", rc);
    host_queue(h, t.data, t.len);
    sgp32_buf_free(&t);
}

static void indirect_download(bench *b, relay *r, figures *f, size_t *bpp_len)
{
    host *h = calloc(1, sizeof(*h));
    host_open(h, SGP32_IPA_FEATURE_INDIRECT_RSP_SERVER_COMMUNICATION);
    host_load_profile(h, TS48_PROFILE);
    queue_trigger(h);
    measure_start(b, h);
    if (sgp32_ipa_start_boot(h->ipa) || host_run(h, 5000) != HOST_IDLE)
        die("indirect download", SGP32_ERR_STATE);
    measure_end(b, r, f);
    const sgp32_ipa_stats *st = sgp32_ipa_get_stats(h->ipa);
    if (st->downloads_installed != 1 || !h->pir_verified || !h->pir_success || h->es9_count) {
        fprintf(stderr, "bench_wire: download incomplete (installed %u, PIR %d)\n", st->downloads_installed,
                h->pir_verified);
        b->failed = true;
    }
    *bpp_len = h->bpp.len;
    host_close(h);
    free(h);
}

/* ------------------------------------------------------------------ report */

static double ratio(uint64_t a, uint64_t b)
{
    return b ? (double)a / (double)b : 0;
}

/* HTTP bytes sent, as the ESipa client counted what libcurl wrote (headers and bodies). */
static uint64_t http_sent(const figures *f)
{
    return f->http.bytes_sent;
}

static void print_row(const char *name, const char *binding, const figures *f)
{
    uint64_t sent = http_sent(f), wire = sent + f->http.bytes_received, tls = f->tls_up + f->tls_down;
    printf("%-8s %-4s %2llu req %llu conn | HTTP sent %5llu recv %6llu total %6llu (bodies %6llu) | "
           "DER %6llu | HTTP/DER %.3f | TLS %6llu, TLS/DER %.3f\n",
           name, binding, (unsigned long long)f->http.requests, (unsigned long long)f->http.connections,
           (unsigned long long)sent, (unsigned long long)f->http.bytes_received, (unsigned long long)wire,
           (unsigned long long)(f->req_body + f->rsp_body), (unsigned long long)f->payload,
           ratio(wire, f->payload), (unsigned long long)tls, ratio(tls, f->payload));
}

static void json_part(const char *prefix, const figures *f)
{
    uint64_t sent = http_sent(f), wire = sent + f->http.bytes_received, tls = f->tls_up + f->tls_down;
    printf(",\"%s_bytes\":%llu,\"%s_payload_bytes\":%llu,\"%s_ratio\":%.3f,\"%s_sent\":%llu,"
           "\"%s_received\":%llu,\"%s_requests\":%llu,\"%s_connections\":%llu,\"%s_body_bytes\":%llu,"
           "\"%s_tls_bytes\":%llu,\"%s_tls_ratio\":%.3f,\"%s_client_stat_sent\":%llu",
           prefix, (unsigned long long)wire, prefix, (unsigned long long)f->payload, prefix,
           ratio(wire, f->payload), prefix, (unsigned long long)sent, prefix,
           (unsigned long long)f->http.bytes_received, prefix, (unsigned long long)f->http.requests, prefix,
           (unsigned long long)f->http.connections, prefix, (unsigned long long)(f->req_body + f->rsp_body),
           prefix, (unsigned long long)tls, prefix, ratio(tls, f->payload), prefix,
           (unsigned long long)f->http.bytes_sent);
}

int main(void)
{
    test_pki pki;
    test_server server;
    relay r;
    int rc = test_pki_make(&pki);
    if (rc)
        die("test PKI", rc);
    if ((rc = test_server_start(&server, &pki, eim_handler, &B)) != SGP32_OK)
        die("HTTPS server", rc);
    if ((rc = relay_start(&r, server.port)) != SGP32_OK) {
        test_server_stop(&server);
        die("relay", rc);
    }
    snprintf(B.address, sizeof(B.address), "localhost:%u", r.port);
    sgp32_buf_init(&B.ca, 4096);
    sgp32_buf_append(&B.ca, pki.ci_der.data, pki.ci_der.len);

    figures psmo[2], dl[2];
    size_t bpp_len = 0;
    for (int i = 0; i < 2; i++) {
        B.binding = i ? SGP32_ESIPA_BINDING_JSON : SGP32_ESIPA_BINDING_ASN1;
        psmo_round_trip(&B, &r, &psmo[i]);
        indirect_download(&B, &r, &dl[i], &bpp_len);
    }
    relay_stop(&r);
    test_server_stop(&server);
    test_pki_free(&pki);
    sgp32_buf_free(&B.ca);

    printf("ESipa over loopback HTTPS (eIM %s, TLS verified against a test CI); one session per procedure\n",
           B.address);
    printf("PSMO:     %s\n", psmo[0].functions);
    printf("download: %s\n", dl[0].functions);
    printf("          TS.48 profile %s, BPP %zu bytes\n", strrchr(TS48_PROFILE, '/') + 1, bpp_len);
    printf("HTTP: request/status lines + headers + bodies, from the ESipa client's statistics;\n"
           "  bodies: the HTTP bodies alone (DER, or JSON text); DER: the DER EsipaMessages both ways.\n"
           "TLS: not counted by the client statistics; measured here as the TCP payload through a counting\n"
           "  relay (handshake, records, alerts; TCP/IP headers not counted).\n");
    print_row("PSMO", "asn1", &psmo[0]);
    print_row("PSMO", "json", &psmo[1]);
    print_row("download", "asn1", &dl[0]);
    print_row("download", "json", &dl[1]);
    printf("{\"bench\":\"wire\"");
    json_part("psmo_asn1", &psmo[0]);
    json_part("psmo_json", &psmo[1]);
    json_part("download_asn1", &dl[0]);
    json_part("download_json", &dl[1]);
    printf(",\"bpp_bytes\":%zu,\"ok\":%s}\n", bpp_len, B.failed ? "false" : "true");
    return B.failed ? 1 : 0;
}

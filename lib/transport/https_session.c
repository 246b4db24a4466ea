/*
 * The libcurl side of the HTTPS clients (https_session.h). One easy handle per session: curl keeps
 * the connection open between requests (HTTP/1.1 keep-alive), and freeing the handle at the end of
 * the procedure closes it. TLS: verification on unless the test switch says otherwise; trust from
 * trustedPublicKeyDataTls, a pinned key or certificate, a CA file or blob, or the system store.
 */
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "https_session.h"
#include "sgp32/asn1.h"
#include "sgp32/crypto.h"
#include "sgp32/log.h"
#include "sgp32/text.h"

struct sgp32_https_session {
    CURL *curl;
    char *base_url; /* "https://host" */
    size_t base_len;
    char log_name[32];
    sgp32_https_limits limits;
    char pin[8 + 64 + 1]; /* "sha256//<base64>" */
    sgp32_buf ca_pem;     /* PEM of the trust anchor certificate, when one was given as DER */
    sgp32_buf *response;  /* during a transfer */
    bool too_large;
    sgp32_https_stats stats;
    char error[CURL_ERROR_SIZE];
};

void sgp32_https_result_message(sgp32_https_result *result, const char *fmt, ...)
{
    if (!result)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(result->message, sizeof(result->message), fmt, ap);
    va_end(ap);
}

/* Byte counters from what libcurl really writes and reads (headers and bodies, before TLS):
 * CURLINFO_REQUEST_SIZE alone may or may not include a POST body, so it cannot be summed. */
static int on_debug(CURL *handle, curl_infotype type, char *data, size_t size, void *ctx)
{
    (void)handle;
    (void)data;
    sgp32_https_stats *stats = ctx;
    if (type == CURLINFO_HEADER_OUT || type == CURLINFO_DATA_OUT)
        stats->bytes_sent += size;
    else if (type == CURLINFO_HEADER_IN || type == CURLINFO_DATA_IN)
        stats->bytes_received += size;
    return 0;
}

static size_t on_data(char *data, size_t size, size_t n, void *ctx)
{
    sgp32_https_session *s = ctx;
    size_t len = size * n;
    if (s->response->len + len > s->limits.max_response) {
        s->too_large = true;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    return sgp32_buf_append(s->response, data, len) == SGP32_OK ? len : 0;
}

/* PEM "CERTIFICATE" of a DER certificate whose outer tag may be an implicit one (A1). */
static int certificate_pem(sgp32_bytes cert, sgp32_buf *pem)
{
    sgp32_buf der;
    sgp32_buf_init(&der, 64 * 1024);
    int rc = sgp32_asn1_write_retagged(&der, 0x30, cert);
    if (rc == SGP32_OK) {
        size_t b64_len = sgp32_base64_encoded_len(der.len);
        char *b64 = sgp32_alloc(b64_len + 1);
        rc = b64 ? SGP32_OK : SGP32_ERR_NO_MEMORY;
        if (b64) {
            sgp32_base64_encode(der.data, der.len, b64);
            rc = sgp32_buf_append(pem, "-----BEGIN CERTIFICATE-----\n", 28);
            for (size_t i = 0; rc == SGP32_OK && i < b64_len; i += 64) {
                size_t n = b64_len - i < 64 ? b64_len - i : 64;
                rc = sgp32_buf_append(pem, b64 + i, n);
                if (rc == SGP32_OK)
                    rc = sgp32_buf_append_byte(pem, '\n');
            }
            if (rc == SGP32_OK)
                rc = sgp32_buf_append(pem, "-----END CERTIFICATE-----\n", 26);
            sgp32_free(b64, b64_len + 1);
        }
    }
    sgp32_buf_free(&der);
    return rc;
}

/* "sha256//" + base64(SHA-256(SubjectPublicKeyInfo DER)), the outer tag made 30. */
static int spki_pin(sgp32_bytes spki, char *pin, size_t cap)
{
    sgp32_buf der;
    sgp32_buf_init(&der, 4096);
    int rc = sgp32_asn1_write_retagged(&der, 0x30, spki);
    uint8_t hash[SGP32_SHA256_LEN];
    if (rc == SGP32_OK)
        rc = sgp32_sha256(der.data, der.len, hash);
    sgp32_buf_free(&der);
    if (rc)
        return rc;
    if (cap < 8 + sgp32_base64_encoded_len(sizeof(hash)) + 1)
        return SGP32_ERR_BUFFER_TOO_SMALL;
    memcpy(pin, "sha256//", 8);
    sgp32_base64_encode(hash, sizeof(hash), pin + 8);
    return SGP32_OK;
}

/* trustedPublicKeyDataTls: A6 { A0 spki | A1 cert }, or the inner TLV alone. */
static int parse_trusted_key_data(sgp32_bytes data, sgp32_bytes *spki, sgp32_bytes *cert)
{
    sgp32_asn1_tlv tlv;
    size_t used;
    int rc = sgp32_asn1_read_tlv(data.data, data.len, &tlv, &used);
    if (rc)
        return rc;
    if (used != data.len)
        return SGP32_ERR_ASN1_TRAILING;
    if (tlv.tag == 0xA6) {
        sgp32_asn1_tlv inner;
        rc = sgp32_asn1_read_tlv(tlv.value.data, tlv.value.len, &inner, &used);
        if (rc)
            return rc;
        if (used != tlv.value.len)
            return SGP32_ERR_ASN1_TRAILING;
        tlv = inner;
    }
    if (tlv.tag == 0xA0)
        *spki = tlv.whole;
    else if (tlv.tag == 0xA1)
        *cert = tlv.whole;
    else
        return SGP32_ERR_ASN1_UNEXPECTED_TAG;
    return SGP32_OK;
}

static int setup_trust(sgp32_https_session *s, const sgp32_tls_trust *trust)
{
    CURL *c = s->curl;
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (trust->insecure_skip_tls_verify_for_tests) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_TRANSPORT, NULL,
                  "%s: insecure_skip_tls_verify_for_tests: the server is NOT authenticated", s->log_name);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
        return SGP32_OK;
    }
    sgp32_bytes spki = trust->pinned_spki, cert = trust->pinned_certificate;
    if (trust->trusted_public_key_data_tls.len) {
        int rc = parse_trusted_key_data(trust->trusted_public_key_data_tls, &spki, &cert);
        if (rc)
            return SGP32_ERR_INVALID_ARGUMENT;
    }
    bool have_ca = trust->ca_file || trust->ca_der.len || cert.len;
    if (cert.len || trust->ca_der.len) {
        int rc = certificate_pem(cert.len ? cert : trust->ca_der, &s->ca_pem);
        if (rc)
            return SGP32_ERR_INVALID_ARGUMENT;
        struct curl_blob blob = {.data = s->ca_pem.data, .len = s->ca_pem.len, .flags = CURL_BLOB_COPY};
        if (curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob) != CURLE_OK)
            return SGP32_ERR_UNSUPPORTED;
    } else if (trust->ca_file) {
        curl_easy_setopt(c, CURLOPT_CAINFO, trust->ca_file);
    }
    if (have_ca)
        curl_easy_setopt(c, CURLOPT_CAPATH, NULL); /* only the given anchors, not the system store */
    if (spki.len) {
        if (spki_pin(spki, s->pin, sizeof(s->pin)) != SGP32_OK)
            return SGP32_ERR_INVALID_ARGUMENT;
        if (curl_easy_setopt(c, CURLOPT_PINNEDPUBLICKEY, s->pin) != CURLE_OK)
            return SGP32_ERR_UNSUPPORTED;
        if (!have_ca) {
            /* The pinned key is the trust (trustedEimPkTls): no chain to judge. curl checks the
             * pin on every handshake whatever VERIFYPEER says. */
            curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
        }
    }
    return SGP32_OK;
}

int sgp32_https_session_new(const char *host, const sgp32_tls_trust *trust, const sgp32_https_limits *limits,
                            const char *log_name, sgp32_https_session **out)
{
    if (!out)
        return SGP32_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (!host || !*host || strpbrk(host, "/?#@ \t\r\n") || !trust)
        return SGP32_ERR_INVALID_ARGUMENT;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return SGP32_ERR_NO_MEMORY;
    sgp32_https_session *s = sgp32_alloc(sizeof(*s));
    if (!s) {
        curl_global_cleanup();
        return SGP32_ERR_NO_MEMORY;
    }
    snprintf(s->log_name, sizeof(s->log_name), "%s", log_name ? log_name : "https");
    sgp32_buf_init(&s->ca_pem, 256 * 1024);
    s->limits.timeout_ms =
        limits && limits->timeout_ms > 0 ? limits->timeout_ms : SGP32_HTTPS_DEFAULT_TIMEOUT_MS;
    s->limits.connect_timeout_ms = limits && limits->connect_timeout_ms > 0
                                       ? limits->connect_timeout_ms
                                       : SGP32_HTTPS_DEFAULT_CONNECT_TIMEOUT_MS;
    s->limits.max_response =
        limits && limits->max_response ? limits->max_response : SGP32_HTTPS_DEFAULT_MAX_RESPONSE;
    s->base_len = 8 + strlen(host);
    s->base_url = sgp32_alloc(s->base_len + 1);
    s->curl = curl_easy_init();
    int rc = s->base_url && s->curl ? SGP32_OK : SGP32_ERR_NO_MEMORY;
    if (rc == SGP32_OK) {
        memcpy(s->base_url, "https://", 8);
        memcpy(s->base_url + 8, host, strlen(host) + 1);
        CURL *c = s->curl;
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)s->limits.timeout_ms);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)s->limits.connect_timeout_ms);
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->limits.max_response);
        curl_easy_setopt(c, CURLOPT_MAXCONNECTS, 1L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, on_debug); /* counts bytes; prints nothing */
        curl_easy_setopt(c, CURLOPT_DEBUGDATA, &s->stats);
        curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->error);
        rc = setup_trust(s, trust);
    }
    if (rc) {
        sgp32_https_session_free(s);
        return rc;
    }
    *out = s;
    return SGP32_OK;
}

static int map_curl_error(CURLcode code)
{
    switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT: return SGP32_ERR_TRANSPORT_CONNECT;
    case CURLE_OPERATION_TIMEDOUT: return SGP32_ERR_TRANSPORT_TIMEOUT;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR: return SGP32_ERR_TRANSPORT_TLS;
    case CURLE_FILESIZE_EXCEEDED: return SGP32_ERR_TRANSPORT_TOO_LARGE;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR: return SGP32_ERR_TRANSPORT_CLOSED;
    case CURLE_OUT_OF_MEMORY: return SGP32_ERR_NO_MEMORY;
    default: return SGP32_ERR_TRANSPORT_PROTOCOL;
    }
}

int sgp32_https_session_post(sgp32_https_session *s, const char *path, const char *const *headers,
                             const uint8_t *body, size_t len, sgp32_buf *response, char *content_type,
                             size_t cap, sgp32_https_result *result)
{
    if (result)
        memset(result, 0, sizeof(*result));
    if (content_type && cap)
        content_type[0] = '\0';
    size_t path_len = strlen(path);
    char *url = sgp32_alloc(s->base_len + path_len + 1);
    if (!url)
        return SGP32_ERR_NO_MEMORY;
    memcpy(url, s->base_url, s->base_len);
    memcpy(url + s->base_len, path, path_len + 1);
    struct curl_slist *list = NULL;
    int rc = SGP32_OK;
    for (size_t i = 0; headers && headers[i]; i++) {
        struct curl_slist *next = curl_slist_append(list, headers[i]);
        if (!next) {
            rc = SGP32_ERR_NO_MEMORY;
            break;
        }
        list = next;
    }
    /* Without these curl would add "Expect: 100-continue" for larger bodies and its own Accept. */
    struct curl_slist *next = rc ? NULL : curl_slist_append(list, "Expect:");
    if (!rc && !next)
        rc = SGP32_ERR_NO_MEMORY;
    if (next)
        list = next;
    if (rc) {
        curl_slist_free_all(list);
        sgp32_free(url, s->base_len + path_len + 1);
        return rc;
    }
    CURL *c = s->curl;
    sgp32_buf_reset(response);
    s->response = response;
    s->too_large = false;
    s->error[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    CURLcode code = curl_easy_perform(c);
    s->response = NULL;

    long status = 0, connects = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
    s->stats.requests++;
    s->stats.connections += (uint64_t)connects;
    if (result)
        result->http_status = status;

    if (code != CURLE_OK) {
        rc = s->too_large ? SGP32_ERR_TRANSPORT_TOO_LARGE : map_curl_error(code);
        if (s->too_large)
            sgp32_https_result_message(result, "response over the cap of %zu bytes", s->limits.max_response);
        else
            sgp32_https_result_message(result, "%s", s->error[0] ? s->error : curl_easy_strerror(code));
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_TRANSPORT, NULL, "%s: POST %s: %s (%s)", s->log_name, url,
                  sgp32_err_str(rc), s->error[0] ? s->error : curl_easy_strerror(code));
        sgp32_buf_reset(response);
    } else {
        char *type = NULL;
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
        if (type && content_type && cap)
            snprintf(content_type, cap, "%s", type);
        sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_TRANSPORT, NULL, "%s: POST %s: %ld, %zu bytes", s->log_name, url,
                  status, response->len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(list);
    sgp32_free(url, s->base_len + path_len + 1);
    return rc;
}

void sgp32_https_session_stats(const sgp32_https_session *s, sgp32_https_stats *stats)
{
    *stats = s->stats;
}

void sgp32_https_session_free(sgp32_https_session *s)
{
    if (!s)
        return;
    if (s->curl)
        curl_easy_cleanup(s->curl); /* closes the kept-alive connection */
    if (s->base_url)
        sgp32_free(s->base_url, s->base_len + 1);
    sgp32_buf_free(&s->ca_pem);
    sgp32_free(s, sizeof(*s));
    curl_global_cleanup();
}

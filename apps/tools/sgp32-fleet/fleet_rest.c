/*
 * Factory association through the eIM's REST API (docs/eimd.md, docs/eim-api.yaml), as a device
 * maker would do it: register every device with its certificates (POST /api/v1/devices/import in
 * batches; a batch that meets an already registered device falls back to one POST /devices per
 * device, where 409 is fine), then, for each device before its IPA first runs, read
 * GET /api/v1/devices/{eid}/eim-configuration and write its addInitialEim (ES10b AddInitialEim,
 * BF57) into the card. libcurl (one kept-alive connection per worker) and jansson; TLS verified
 * with the fleet's CA bundle, never switched off.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fleet.h"
#include "sgp32/asn1.h"
#include "sgp32/text.h"

enum { REST_RESPONSE_MAX = 16 << 20, REST_CONNECT_TRIES = 10 };

int fleet_rest_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? SGP32_OK : SGP32_ERR_NO_MEMORY;
}

void fleet_rest_global_cleanup(void)
{
    curl_global_cleanup();
}

void *fleet_json_base64(const uint8_t *der, size_t len)
{
    size_t n = sgp32_base64_encoded_len(len);
    char *text = malloc(n + 1);
    if (!text)
        return NULL;
    sgp32_base64_encode(der, len, text);
    text[n] = 0;
    json_t *s = json_stringn(text, n);
    free(text);
    return s;
}

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    sgp32_buf *out = ctx;
    return sgp32_buf_append(out, data, size * n) == SGP32_OK ? size * n : 0;
}

/* One request; *status the HTTP status (0: no answer, error says why). The body (NUL-terminated)
 * lands in rsp. */
static int rest_call(fleet *f, CURL *c, const char *method, const char *path, const char *body, long *status,
                     sgp32_buf *rsp, char *error, size_t error_size)
{
    char url[1024], auth[600], curl_error[CURL_ERROR_SIZE] = "";
    snprintf(url, sizeof(url), "%s%s", f->opt.register_url, path);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", f->opt.token);
    struct curl_slist *headers = NULL, *next;
    const char *lines[] = {auth, "Content-Type: application/json", "Accept: application/json", "Expect:"};
    for (size_t i = 0; i < SGP32_ARRAY_LEN(lines); i++) {
        if (!(next = curl_slist_append(headers, lines[i]))) {
            curl_slist_free_all(headers);
            sgp32_secure_zero(auth, sizeof(auth));
            return SGP32_ERR_NO_MEMORY;
        }
        headers = next;
    }
    sgp32_secure_zero(auth, sizeof(auth));
    sgp32_buf_reset(rsp);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_error);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, rsp);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                     (long)(f->opt.http_timeout_ms > 60000 ? f->opt.http_timeout_ms : 60000));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    if (f->ca_path[0])
        curl_easy_setopt(c, CURLOPT_CAINFO, f->ca_path);
    if (!strcmp(method, "POST")) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    CURLcode code = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(headers);
    *status = 0;
    if (code != CURLE_OK) {
        fleet_set_error(error, error_size, "%s %s: %s", method, url,
                        curl_error[0] ? curl_error : curl_easy_strerror(code));
        switch (code) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT: return SGP32_ERR_TRANSPORT_CONNECT; /* maybe still starting: retried */
        case CURLE_OPERATION_TIMEDOUT: return SGP32_ERR_TRANSPORT_TIMEOUT;
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_SSL_CACERT_BADFILE: return SGP32_ERR_TRANSPORT_TLS;
        default: return SGP32_ERR_TRANSPORT_PROTOCOL;
        }
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    if (sgp32_buf_append_byte(rsp, 0) != SGP32_OK)
        return SGP32_ERR_NO_MEMORY;
    rsp->len--;
    return SGP32_OK;
}

/* The eIM's error message ({"error":{"code","message"}}) or the start of the body. */
static void server_message(const sgp32_buf *rsp, char *out, size_t size)
{
    json_t *root = json_loadb((const char *)rsp->data, rsp->len, 0, NULL);
    const char *msg = json_string_value(json_object_get(json_object_get(root, "error"), "message"));
    snprintf(out, size, "%.300s", msg ? msg : rsp->len ? (const char *)rsp->data : "(no body)");
    json_decref(root);
}

static const char *status_hint(long status)
{
    switch (status) {
    case 401: return " (the token was refused: check --token / --token-file)";
    case 403: return " (the token needs the operator role)";
    case 404: return " (is --register the eimd base URL, https://HOST:PORT?)";
    case 422: return " (the eIM does not trust this PKI's CI: add it to eimd as ci_certificate)";
    default: return "";
    }
}

static json_t *device_json(const fleet *f, const fleet_device *d)
{
    char label[32];
    snprintf(label, sizeof(label), "fleet-%u", d->index);
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (json_object_set_new(o, "eid", json_string(d->eid)) ||
        json_object_set_new(o, "label", json_string(label)) ||
        json_object_set_new(o, "euiccCertificate", fleet_json_base64(d->cert[0], d->cert_len[0])) ||
        json_object_set_new(o, "eumCertificate",
                            fleet_json_base64(f->issuers[0].eum_der.data, f->issuers[0].eum_der.len))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static char *devices_body(const fleet *f, size_t first, size_t end)
{
    json_t *list = json_array(), *root = json_object();
    char *text = NULL;
    if (!list || !root || json_object_set(root, "devices", list))
        goto out;
    for (size_t i = first; i < end; i++)
        if (json_array_append_new(list, device_json(f, &f->devices[i])))
            goto out;
    text = json_dumps(root, JSON_COMPACT);
out:
    json_decref(list);
    json_decref(root);
    return text;
}

/* A call that may meet an eIM still starting: connection failures are retried for a while. */
static int rest_call_retry(fleet *f, CURL *c, const char *method, const char *path, const char *body,
                           long *status, sgp32_buf *rsp, char *error, size_t size)
{
    int rc = SGP32_OK;
    for (int attempt = 0; attempt < REST_CONNECT_TRIES; attempt++) {
        rc = rest_call(f, c, method, path, body, status, rsp, error, size);
        if (rc != SGP32_ERR_TRANSPORT_CONNECT || atomic_load(&f->stop))
            break;
        struct timespec pause = {0, 500 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    return rc;
}

static int register_one(fleet *f, CURL *c, const fleet_device *d, sgp32_buf *rsp, size_t *known)
{
    char error[512];
    long status;
    json_t *o = device_json(f, d);
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!body)
        return SGP32_ERR_NO_MEMORY;
    int rc = rest_call_retry(f, c, "POST", "/devices", body, &status, rsp, error, sizeof(error));
    free(body);
    if (rc) {
        fprintf(stderr, "sgp32-fleet: registering %s: %s\n", d->eid, error);
        return rc;
    }
    if (status == 409)
        (*known)++;
    if (status == 201 || status == 409)
        return SGP32_OK;
    server_message(rsp, error, sizeof(error));
    fprintf(stderr, "sgp32-fleet: registering %s: HTTP %ld: %s%s\n", d->eid, status, error,
            status_hint(status));
    return SGP32_ERR_TRANSPORT_HTTP_STATUS;
}

int fleet_register_all(fleet *f)
{
    CURL *c = curl_easy_init();
    sgp32_buf rsp;
    sgp32_buf_init(&rsp, REST_RESPONSE_MAX);
    int rc = c ? SGP32_OK : SGP32_ERR_NO_MEMORY;
    size_t imported = 0, single = 0, known = 0;
    int64_t start = fleet_now_ms();
    for (size_t first = 0; first < f->count && !rc && !atomic_load(&f->stop);
         first += f->opt.register_batch) {
        size_t end = first + f->opt.register_batch < f->count ? first + f->opt.register_batch : f->count;
        char *body = devices_body(f, first, end), error[512];
        long status;
        if (!body) {
            rc = SGP32_ERR_NO_MEMORY;
            break;
        }
        rc = rest_call_retry(f, c, "POST", "/devices/import", body, &status, &rsp, error, sizeof(error));
        free(body);
        if (rc) {
            fprintf(
                stderr,
                "sgp32-fleet: cannot register the devices: %s (is eimd running there, and --ca its CA?)\n",
                error);
            break;
        }
        if (status == 201) {
            imported += end - first;
        } else if (status == 409) {
            /* some are registered already (an earlier run): one by one, 409 is fine */
            for (size_t i = first; i < end && !rc; i++)
                rc = register_one(f, c, &f->devices[i], &rsp, &known);
            single += end - first;
        } else {
            server_message(&rsp, error, sizeof(error));
            fprintf(stderr, "sgp32-fleet: POST %s/devices/import: HTTP %ld: %s%s\n", f->opt.register_url,
                    status, error, status_hint(status));
            rc = SGP32_ERR_TRANSPORT_HTTP_STATUS;
        }
    }
    if (!rc && !atomic_load(&f->stop))
        fprintf(stderr, "sgp32-fleet: %zu devices registered in %s in %.2f s (%zu were registered already)\n",
                imported + single, f->opt.register_url, (double)(fleet_now_ms() - start) / 1000.0, known);
    if (c)
        curl_easy_cleanup(c);
    sgp32_buf_free(&rsp);
    return rc;
}

void fleet_rest_close(fleet_worker *w)
{
    if (w->rest)
        curl_easy_cleanup(w->rest);
    w->rest = NULL;
}

int fleet_associate(fleet_worker *w, fleet_device *d, sgp32_euicc *card, char *error, size_t size)
{
    fleet *f = w->f;
    if (!w->rest && !(w->rest = curl_easy_init()))
        return SGP32_ERR_NO_MEMORY;
    char path[128], detail[400];
    long status;
    sgp32_buf rsp, der, answer;
    sgp32_buf_init(&rsp, REST_RESPONSE_MAX);
    sgp32_buf_init(&der, 1 << 16);
    sgp32_buf_init(&answer, 1 << 16);
    json_t *root = NULL;
    snprintf(path, sizeof(path), "/devices/%s/eim-configuration", d->eid);
    int rc = rest_call(f, w->rest, "GET", path, NULL, &status, &rsp, detail, sizeof(detail));
    if (rc) {
        fleet_set_error(error, size, "factory association: %s", detail);
        fleet_rest_close(w); /* a new connection next time */
        goto out;
    }
    if (status != 200) {
        server_message(&rsp, detail, sizeof(detail));
        fleet_set_error(error, size, "factory association: GET %s: HTTP %ld: %s%s", path, status, detail,
                        status == 404 ? " (the device is not registered in that eIM)" : status_hint(status));
        rc = SGP32_ERR_TRANSPORT_HTTP_STATUS;
        goto out;
    }
    root = json_loadb((const char *)rsp.data, rsp.len, 0, NULL);
    const char *b64 = json_string_value(json_object_get(root, "addInitialEim"));
    if (!b64 || sgp32_base64_decode(b64, strlen(b64), &der) != SGP32_OK || der.len == 0) {
        fleet_set_error(error, size, "factory association: GET %s: no addInitialEim (base64) in the answer",
                        path);
        rc = SGP32_ERR_TRANSPORT_PROTOCOL;
        goto out;
    }
    rc = sgp32_euicc_es10(card, der.data, der.len, &answer);
    sgp32_asn1_tlv outer, first;
    if (!rc)
        rc = sgp32_asn1_expect(answer.data, answer.len, 0xBF57, &outer);
    if (!rc)
        rc = sgp32_asn1_read_tlv(outer.value.data, outer.value.len, &first, NULL);
    if (rc) {
        fleet_set_error(error, size, "factory association: the card refused AddInitialEim: %s",
                        sgp32_err_str(rc));
        goto out;
    }
    if (first.tag != 0xA0) {
        int64_t code = -1;
        (void)sgp32_asn1_parse_integer(first.value, &code);
        if (code != 2) { /* associatedEimAlreadyExists: it is associated already */
            fleet_set_error(error, size, "factory association: AddInitialEim error %lld from the card",
                            (long long)code);
            rc = SGP32_ERR_IO;
            goto out;
        }
    }
    rc = SGP32_OK;
out:
    json_decref(root);
    sgp32_buf_free(&rsp);
    sgp32_buf_free(&der);
    sgp32_buf_free(&answer);
    return rc;
}

int fleet_write_import(fleet *f)
{
    char *body = devices_body(f, 0, f->count);
    if (!body) {
        fprintf(stderr, "sgp32-fleet: out of memory writing %s\n", f->opt.write_import);
        return SGP32_ERR_NO_MEMORY;
    }
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", f->opt.write_import);
    FILE *out = fopen(tmp, "w");
    int rc = out && fputs(body, out) >= 0 && fputc('\n', out) != EOF ? SGP32_OK : SGP32_ERR_IO;
    if (out && fclose(out) != 0)
        rc = SGP32_ERR_IO;
    if (!rc && rename(tmp, f->opt.write_import) != 0)
        rc = SGP32_ERR_IO;
    if (rc) {
        fprintf(stderr, "sgp32-fleet: cannot write %s\n", f->opt.write_import);
        unlink(tmp);
    }
    free(body);
    return rc;
}

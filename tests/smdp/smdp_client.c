/*
 * Test and bench support: LPA + eUICC against a running smdpd (see smdp_client.h).
 */
#include <stdio.h>
#include <string.h>

#include "sgp32/asn1.h"
#include "sgp32/crypto.h"
#include "sgp32/profile_package.h"
#include "sgp32/text.h"
#include "smdp_client.h"

static const uint8_t ci_pkid[2][20] = {
    {0xF5, 0x41, 0x72, 0xBD, 0xF9, 0x8A, 0x95, 0xD6, 0x5C, 0xBE,
     0xB8, 0x8A, 0x38, 0xA1, 0xC1, 0x1D, 0x80, 0x0A, 0x85, 0xC3}, /* SGP.26 NIST CI */
    {0xC0, 0xBC, 0x70, 0xBA, 0x36, 0x92, 0x9D, 0x43, 0xB4, 0x67,
     0xFF, 0x57, 0x57, 0x05, 0x30, 0xE5, 0x7A, 0xB8, 0xFC, 0xD8}, /* SGP.26 brainpool CI */
};

static size_t collect(char *p, size_t size, size_t n, void *ctx)
{
    sgp32_buf *out = ctx;
    return sgp32_buf_append(out, p, size * n) == SGP32_OK ? size * n : 0;
}

int smdp_client_init(smdp_client *c, const char *base_url, const char *ca_file, const char *token,
                     sgp32_euicc *euicc)
{
    memset(c, 0, sizeof(*c));
    c->curl = curl_easy_init();
    if (!c->curl)
        return SGP32_ERR_NO_MEMORY;
    snprintf(c->base_url, sizeof(c->base_url), "%s", base_url);
    snprintf(c->ca_file, sizeof(c->ca_file), "%s", ca_file);
    snprintf(c->token, sizeof(c->token), "%s", token ? token : "");
    c->euicc = euicc;
    return SGP32_OK;
}

void smdp_client_free(smdp_client *c)
{
    if (c->curl)
        curl_easy_cleanup(c->curl);
    c->curl = NULL;
}

int smdp_client_post(smdp_client *c, const char *path, const char *content_type, const void *body, size_t len,
                     const char *extra_header, sgp32_buf *out, long *http)
{
    char url[512], ctype[128];
    snprintf(url, sizeof(url), "%s%s", c->base_url, path);
    snprintf(ctype, sizeof(ctype), "Content-Type: %s", content_type);
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, ctype);
    h = curl_slist_append(h, "X-Admin-Protocol: gsma/rsp/v2.2.0");
    h = curl_slist_append(h, "User-Agent: gsma-rsp-lpad");
    h = curl_slist_append(h, "Expect:");
    if (extra_header)
        h = curl_slist_append(h, extra_header);
    sgp32_buf_reset(out);
    curl_easy_reset(c->curl);
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->ca_file);
    curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(c->curl);
    *http = 0;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, http);
    curl_slist_free_all(h);
    if (cc != CURLE_OK) {
        fprintf(stderr, "smdp_client: POST %s: %s\n", url, curl_easy_strerror(cc));
        return SGP32_ERR_IO;
    }
    return SGP32_OK;
}

/* functionExecutionStatus of a JSON answer into r. */
static void read_status(json_t *root, smdp_result *r)
{
    json_t *fes = json_object_get(json_object_get(root, "header"), "functionExecutionStatus");
    const char *status = json_string_value(json_object_get(fes, "status"));
    r->ok = status && strcmp(status, "Executed-Success") == 0;
    json_t *scd = json_object_get(fes, "statusCodeData");
    const char *subject = json_string_value(json_object_get(scd, "subjectCode"));
    const char *reason = json_string_value(json_object_get(scd, "reasonCode"));
    snprintf(r->subject, sizeof(r->subject), "%s", subject ? subject : "");
    snprintf(r->reason, sizeof(r->reason), "%s", reason ? reason : "");
}

static int post_json(smdp_client *c, const char *path, json_t *req, const char *extra, smdp_result *r,
                     json_t **answer)
{
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    sgp32_buf out;
    sgp32_buf_init(&out, 16 << 20);
    memset(r, 0, sizeof(*r));
    int rc = text ? smdp_client_post(c, path, "application/json", text, strlen(text), extra, &out, &r->http)
                  : SGP32_ERR_NO_MEMORY;
    free(text);
    if (answer)
        *answer = NULL;
    if (!rc && r->http == 204) {
        r->ok = true;
    } else if (!rc) {
        json_t *root = json_loadb((const char *)out.data, out.len, 0, NULL);
        if (!root) {
            rc = SGP32_ERR_BAD_TEXT;
        } else {
            read_status(root, r);
            if (answer)
                *answer = root;
            else
                json_decref(root);
        }
    }
    sgp32_buf_free(&out);
    return rc;
}

int smdp_es2(smdp_client *c, const char *function, json_t *fields, smdp_result *r, json_t **answer)
{
    json_t *header = json_object();
    json_object_set_new(header, "functionRequesterIdentifier", json_string("test-operator"));
    json_object_set_new(header, "functionCallIdentifier", json_string(function));
    json_object_set_new(fields, "header", header);
    char path[128], auth[192];
    snprintf(path, sizeof(path), "/gsma/rsp2/es2plus/%s", function);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
    return post_json(c, path, fields, auth, r, answer);
}

static int set_b64(json_t *o, const char *name, const uint8_t *data, size_t len)
{
    char *text = malloc(sgp32_base64_encoded_len(len) + 1);
    if (!text)
        return SGP32_ERR_NO_MEMORY;
    sgp32_base64_encode(data, len, text);
    json_object_set_new(o, name, json_string(text));
    free(text);
    return SGP32_OK;
}

static int get_b64(json_t *o, const char *name, sgp32_buf *out)
{
    const char *text = json_string_value(json_object_get(o, name));
    if (!text)
        return SGP32_ERR_NOT_FOUND;
    return sgp32_base64_decode(text, strlen(text), out);
}

/* ES9+ over the ASN.1 binding: A2 {function} in, the function's A0 contents (or error) out. */
static int post_asn1(smdp_client *c, const sgp32_buf *request, smdp_result *r, sgp32_buf *ok_contents)
{
    sgp32_buf out;
    sgp32_buf_init(&out, 16 << 20);
    memset(r, 0, sizeof(*r));
    int rc = smdp_client_post(c, "/gsma/rsp2/asn1", "application/x-gsma-rsp-asn1", request->data,
                              request->len, NULL, &out, &r->http);
    if (!rc && r->http == 204) {
        r->ok = true;
    } else if (!rc) {
        sgp32_asn1_tlv a2, fn, choice;
        rc = sgp32_asn1_expect(out.data, out.len, 0xA2, &a2);
        if (!rc)
            rc = sgp32_asn1_read_tlv(a2.value.data, a2.value.len, &fn, NULL);
        if (!rc)
            rc = sgp32_asn1_read_tlv(fn.value.data, fn.value.len, &choice, NULL);
        if (!rc && choice.tag == 0xA0) {
            r->ok = true;
            if (ok_contents)
                rc = sgp32_buf_append(ok_contents, choice.value.data, choice.value.len);
        } else if (!rc && choice.tag == 0x81) {
            int64_t code = 0;
            sgp32_asn1_parse_integer(choice.value, &code);
            r->asn1_error = code;
        } else if (!rc) {
            rc = SGP32_ERR_ASN1_UNEXPECTED_TAG;
        }
    }
    sgp32_buf_free(&out);
    return rc;
}

void lpa_session_init(lpa_session *s)
{
    memset(s, 0, sizeof(*s));
    sgp32_buf_init(&s->server_auth, 1 << 16);
    sgp32_buf_init(&s->euicc_response, 1 << 16);
    sgp32_buf_init(&s->smdp_part, 4096);
    sgp32_buf_init(&s->smdp_cert, 4096);
    sgp32_buf_init(&s->metadata, 1 << 16);
    sgp32_buf_init(&s->bpp, 4 << 20);
    sgp32_buf_init(&s->pir, 4096);
}

void lpa_session_free(lpa_session *s)
{
    sgp32_buf_free(&s->server_auth);
    sgp32_buf_free(&s->euicc_response);
    sgp32_buf_free(&s->smdp_part);
    sgp32_buf_free(&s->smdp_cert);
    sgp32_buf_free(&s->metadata);
    sgp32_buf_free(&s->bpp);
    sgp32_buf_free(&s->pir);
}

static int es10(smdp_client *c, const uint8_t *req, size_t len, sgp32_buf *out)
{
    sgp32_buf_reset(out);
    return sgp32_euicc_es10(c->euicc, req, len, out);
}

static int set_txid(lpa_session *s, const uint8_t *data, size_t len)
{
    if (len == 0 || len > sizeof(s->txid))
        return SGP32_ERR_INVALID_ARGUMENT;
    memcpy(s->txid, data, len);
    s->txid_len = len;
    sgp32_hex_encode(data, len, s->txid_hex);
    return SGP32_OK;
}

int lpa_initiate(smdp_client *c, lpa_session *s, int curve, const char *address, smdp_result *r)
{
    static const uint8_t info1_req[] = {0xBF, 0x20, 0x00}, challenge_req[] = {0xBF, 0x2E, 0x00};
    sgp32_buf tmp, info1;
    sgp32_buf_init(&tmp, 4096);
    sgp32_buf_init(&info1, 512);
    uint8_t challenge[16];
    int rc = es10(c, info1_req, sizeof(info1_req), &tmp);
    sgp32_asn1_tlv outer, svn;
    if (!rc)
        rc = sgp32_asn1_read_tlv(tmp.data, tmp.len, &outer, NULL);
    if (!rc)
        rc = sgp32_asn1_read_tlv(outer.value.data, outer.value.len, &svn, NULL); /* 82 svn first */
    /* BF20 {82 svn, A9 {04 pkid}, AA {04 pkid}}: only the CI of the wanted curve */
    size_t mark = sgp32_asn1_begin(&info1);
    if (!rc)
        rc = sgp32_buf_append(&info1, svn.whole.data, svn.whole.len);
    for (uint32_t tag = 0xA9; !rc && tag <= 0xAA; tag++) {
        size_t m = sgp32_asn1_begin(&info1);
        rc = sgp32_asn1_write_tlv(&info1, 0x04, ci_pkid[curve], 20);
        if (!rc)
            rc = sgp32_asn1_end(&info1, tag, m);
    }
    if (!rc)
        rc = sgp32_asn1_end(&info1, 0xBF20, mark);
    if (!rc)
        rc = es10(c, challenge_req, sizeof(challenge_req), &tmp);
    if (!rc && (tmp.len != 21 || tmp.data[3] != 0x80))
        rc = SGP32_ERR_ASN1_UNEXPECTED_TAG;
    if (!rc)
        memcpy(challenge, tmp.data + 5, 16);
    sgp32_buf_reset(&s->server_auth);
    if (!rc && !c->asn1) {
        json_t *req = json_object(), *ans = NULL;
        set_b64(req, "euiccChallenge", challenge, 16);
        set_b64(req, "euiccInfo1", info1.data, info1.len);
        json_object_set_new(req, "smdpAddress", json_string(address));
        rc = post_json(c, "/gsma/rsp2/es9plus/initiateAuthentication", req, NULL, r, &ans);
        if (!rc && r->ok) {
            const char *hex = json_string_value(json_object_get(ans, "transactionId"));
            sgp32_buf_reset(&tmp);
            rc = hex ? sgp32_hex_decode(hex, strlen(hex), &tmp) : SGP32_ERR_NOT_FOUND;
            if (!rc)
                rc = set_txid(s, tmp.data, tmp.len);
            static const char *const fields[] = {"serverSigned1", "serverSignature1", "euiccCiPKIdToBeUsed",
                                                 "serverCertificate"};
            for (size_t i = 0; !rc && i < 4; i++)
                rc = get_b64(ans, fields[i], &s->server_auth);
        }
        json_decref(ans);
    } else if (!rc) {
        sgp32_buf req, ok;
        sgp32_buf_init(&req, 4096);
        sgp32_buf_init(&ok, 1 << 16);
        size_t a2 = sgp32_asn1_begin(&req), fn = sgp32_asn1_begin(&req);
        rc = sgp32_asn1_write_tlv(&req, 0x81, challenge, 16);
        if (!rc)
            rc = sgp32_asn1_write_tlv(&req, 0x83, (const uint8_t *)address, strlen(address));
        if (!rc)
            rc = sgp32_buf_append(&req, info1.data, info1.len);
        if (!rc)
            rc = sgp32_asn1_end(&req, 0xBF39, fn);
        if (!rc)
            rc = sgp32_asn1_end(&req, 0xA2, a2);
        if (!rc)
            rc = post_asn1(c, &req, r, &ok);
        if (!rc && r->ok) {
            sgp32_asn1_tlv t;
            size_t used = 0;
            rc = sgp32_asn1_read_tlv(ok.data, ok.len, &t, &used);
            if (!rc && t.tag == 0x80)
                rc = set_txid(s, t.value.data, t.value.len);
            if (!rc)
                rc = sgp32_buf_append(&s->server_auth, ok.data + used, ok.len - used);
        }
        sgp32_buf_free(&req);
        sgp32_buf_free(&ok);
    }
    sgp32_buf_free(&tmp);
    sgp32_buf_free(&info1);
    return rc;
}

int lpa_authenticate(smdp_client *c, lpa_session *s, const char *matching_id,
                     void (*tamper)(sgp32_buf *response, void *ctx), void *tamper_ctx, smdp_result *r)
{
    static const uint8_t device_info[] = {0xA1, 0x08, 0x80, 0x04, 0x35, 0x29, 0x06, 0x11, 0xA1, 0x00};
    sgp32_buf req;
    sgp32_buf_init(&req, 1 << 16);
    size_t bf38 = sgp32_asn1_begin(&req);
    int rc = sgp32_buf_append(&req, s->server_auth.data, s->server_auth.len);
    size_t ctx = sgp32_asn1_begin(&req);
    if (!rc && matching_id)
        rc = sgp32_asn1_write_tlv(&req, 0x80, (const uint8_t *)matching_id, strlen(matching_id));
    if (!rc)
        rc = sgp32_buf_append(&req, device_info, sizeof(device_info));
    if (!rc)
        rc = sgp32_asn1_end(&req, 0xA0, ctx);
    if (!rc)
        rc = sgp32_asn1_end(&req, 0xBF38, bf38);
    if (!rc)
        rc = es10(c, req.data, req.len, &s->euicc_response);
    if (!rc && tamper)
        tamper(&s->euicc_response, tamper_ctx);
    sgp32_buf_reset(&s->smdp_part);
    sgp32_buf_reset(&s->smdp_cert);
    sgp32_buf_reset(&s->metadata);
    if (!rc && !c->asn1) {
        json_t *j = json_object(), *ans = NULL;
        json_object_set_new(j, "transactionId", json_string(s->txid_hex));
        set_b64(j, "authenticateServerResponse", s->euicc_response.data, s->euicc_response.len);
        rc = post_json(c, "/gsma/rsp2/es9plus/authenticateClient", j, NULL, r, &ans);
        if (!rc && r->ok) {
            rc = get_b64(ans, "profileMetadata", &s->metadata);
            if (!rc)
                rc = get_b64(ans, "smdpSigned2", &s->smdp_part);
            if (!rc)
                rc = get_b64(ans, "smdpSignature2", &s->smdp_part);
            if (!rc)
                rc = get_b64(ans, "smdpCertificate", &s->smdp_cert);
        }
        json_decref(ans);
    } else if (!rc) {
        sgp32_buf_reset(&req);
        sgp32_buf ok;
        sgp32_buf_init(&ok, 1 << 16);
        size_t a2 = sgp32_asn1_begin(&req), fn = sgp32_asn1_begin(&req);
        rc = sgp32_asn1_write_tlv(&req, 0x80, s->txid, s->txid_len);
        if (!rc)
            rc = sgp32_buf_append(&req, s->euicc_response.data, s->euicc_response.len);
        if (!rc)
            rc = sgp32_asn1_end(&req, 0xBF3B, fn);
        if (!rc)
            rc = sgp32_asn1_end(&req, 0xA2, a2);
        if (!rc)
            rc = post_asn1(c, &req, r, &ok);
        if (!rc && r->ok) {
            /* 80 txid, BF25 metadata, 30 smdpSigned2, 5F37, 30 CERT.DPpb */
            sgp32_asn1_reader rd;
            sgp32_asn1_tlv t;
            sgp32_asn1_reader_init(&rd, sgp32_buf_bytes(&ok), 1);
            for (int i = 0; !rc && i < 5; i++) {
                rc = sgp32_asn1_reader_next(&rd, &t);
                sgp32_buf *to = i == 1             ? &s->metadata
                                : i == 2 || i == 3 ? &s->smdp_part
                                : i == 4           ? &s->smdp_cert
                                                   : NULL;
                if (!rc && to)
                    rc = sgp32_buf_append(to, t.whole.data, t.whole.len);
            }
        }
        sgp32_buf_free(&ok);
    }
    sgp32_buf_free(&req);
    return rc;
}

int lpa_prepare(smdp_client *c, lpa_session *s, const char *cc)
{
    sgp32_buf req;
    sgp32_buf_init(&req, 1 << 16);
    size_t bf21 = sgp32_asn1_begin(&req);
    int rc = sgp32_buf_append(&req, s->smdp_part.data, s->smdp_part.len);
    if (!rc && cc) {
        uint8_t hash[SGP32_SHA256_LEN];
        rc = sgp32_hash_confirmation_code((const uint8_t *)cc, strlen(cc), s->txid, s->txid_len, hash);
        if (!rc)
            rc = sgp32_asn1_write_tlv(&req, 0x04, hash, sizeof(hash));
    }
    if (!rc)
        rc = sgp32_buf_append(&req, s->smdp_cert.data, s->smdp_cert.len);
    if (!rc)
        rc = sgp32_asn1_end(&req, 0xBF21, bf21);
    if (!rc)
        rc = es10(c, req.data, req.len, &s->euicc_response);
    sgp32_buf_free(&req);
    return rc;
}

int lpa_get_bpp(smdp_client *c, lpa_session *s, smdp_result *r)
{
    int rc;
    sgp32_buf_reset(&s->bpp);
    if (!c->asn1) {
        json_t *j = json_object(), *ans = NULL;
        json_object_set_new(j, "transactionId", json_string(s->txid_hex));
        set_b64(j, "prepareDownloadResponse", s->euicc_response.data, s->euicc_response.len);
        rc = post_json(c, "/gsma/rsp2/es9plus/getBoundProfilePackage", j, NULL, r, &ans);
        if (!rc && r->ok)
            rc = get_b64(ans, "boundProfilePackage", &s->bpp);
        json_decref(ans);
        return rc;
    }
    sgp32_buf req, ok;
    sgp32_buf_init(&req, 1 << 16);
    sgp32_buf_init(&ok, 4 << 20);
    size_t a2 = sgp32_asn1_begin(&req), fn = sgp32_asn1_begin(&req);
    rc = sgp32_asn1_write_tlv(&req, 0x80, s->txid, s->txid_len);
    if (!rc)
        rc = sgp32_buf_append(&req, s->euicc_response.data, s->euicc_response.len);
    if (!rc)
        rc = sgp32_asn1_end(&req, 0xBF3A, fn);
    if (!rc)
        rc = sgp32_asn1_end(&req, 0xA2, a2);
    if (!rc)
        rc = post_asn1(c, &req, r, &ok);
    if (!rc && r->ok) {
        sgp32_asn1_tlv t;
        size_t used = 0;
        rc = sgp32_asn1_read_tlv(ok.data, ok.len, &t, &used);
        if (!rc)
            rc = sgp32_buf_append(&s->bpp, ok.data + used, ok.len - used);
    }
    sgp32_buf_free(&req);
    sgp32_buf_free(&ok);
    return rc;
}

int lpa_install(smdp_client *c, lpa_session *s)
{
    sgp32_bpp_segmenter it;
    sgp32_bytes segment;
    int rc = sgp32_bpp_segmenter_init(&it, s->bpp.data, s->bpp.len);
    sgp32_buf_reset(&s->pir);
    while (!rc && (rc = sgp32_bpp_segmenter_next(&it, &segment)) == SGP32_OK) {
        rc = sgp32_euicc_es10(c->euicc, segment.data, segment.len, &s->pir);
        if (!rc && s->pir.len)
            break;
    }
    if (rc == SGP32_ERR_NOT_FOUND)
        rc = SGP32_OK;
    return !rc && !s->pir.len ? SGP32_ERR_STATE : rc;
}

static int notify_or_cancel(smdp_client *c, uint32_t fn_tag, const char *path, const char *field,
                            const lpa_session *s, const sgp32_buf *der, bool with_txid, smdp_result *r)
{
    int rc;
    if (!c->asn1) {
        json_t *j = json_object();
        if (with_txid)
            json_object_set_new(j, "transactionId", json_string(s->txid_hex));
        set_b64(j, field, der->data, der->len);
        return post_json(c, path, j, NULL, r, NULL);
    }
    sgp32_buf req;
    sgp32_buf_init(&req, 1 << 16);
    size_t a2 = sgp32_asn1_begin(&req), fn = sgp32_asn1_begin(&req);
    rc = with_txid ? sgp32_asn1_write_tlv(&req, 0x80, s->txid, s->txid_len) : SGP32_OK;
    if (!rc && fn_tag == 0xBF41) {
        rc = sgp32_asn1_write_retagged(&req, 0xA1, sgp32_buf_bytes(der));
    } else if (!rc) {
        size_t a0 = sgp32_asn1_begin(&req);
        rc = sgp32_buf_append(&req, der->data, der->len);
        if (!rc)
            rc = sgp32_asn1_end(&req, 0xA0, a0);
    }
    if (!rc)
        rc = sgp32_asn1_end(&req, fn_tag, fn);
    if (!rc)
        rc = sgp32_asn1_end(&req, 0xA2, a2);
    if (!rc)
        rc = post_asn1(c, &req, r, NULL);
    sgp32_buf_free(&req);
    return rc;
}

int lpa_notify(smdp_client *c, lpa_session *s, smdp_result *r)
{
    return notify_or_cancel(c, 0xBF3D, "/gsma/rsp2/es9plus/handleNotification", "pendingNotification", s,
                            &s->pir, false, r);
}

int lpa_cancel(smdp_client *c, lpa_session *s, int reason, smdp_result *r)
{
    sgp32_buf req;
    sgp32_buf_init(&req, 256);
    size_t m = sgp32_asn1_begin(&req);
    int rc = sgp32_asn1_write_tlv(&req, 0x80, s->txid, s->txid_len);
    if (!rc)
        rc = sgp32_asn1_write_integer(&req, 0x81, reason);
    if (!rc)
        rc = sgp32_asn1_end(&req, 0xBF41, m);
    if (!rc)
        rc = es10(c, req.data, req.len, &s->euicc_response);
    sgp32_buf_free(&req);
    if (!rc)
        rc = notify_or_cancel(c, 0xBF41, "/gsma/rsp2/es9plus/cancelSession", "cancelSessionResponse", s,
                              &s->euicc_response, true, r);
    return rc;
}

int lpa_download(smdp_client *c, int curve, const char *matching_id, const char *cc, smdp_result *r)
{
    lpa_session s;
    lpa_session_init(&s);
    int rc = lpa_initiate(c, &s, curve, "localhost", r);
    if (!rc && r->ok)
        rc = lpa_authenticate(c, &s, matching_id, NULL, NULL, r);
    if (!rc && r->ok)
        rc = lpa_prepare(c, &s, cc);
    if (!rc && r->ok)
        rc = lpa_get_bpp(c, &s, r);
    if (!rc && r->ok)
        rc = lpa_install(c, &s);
    if (!rc && r->ok)
        rc = lpa_notify(c, &s, r);
    lpa_session_free(&s);
    return rc;
}

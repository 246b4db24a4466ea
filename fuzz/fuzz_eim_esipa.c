/*
 * fuzz_eim_esipa: the eIM's ESipa server entry points (lib/eim: sgp32_eim_esipa_handle for the
 * ASN.1 binding, sgp32_eim_esipa_json_handle for the JSON binding) with what any client on the
 * network may send. Byte 0 picks the entry: 0 or 2 (mod 4) = the rest is an ESipa ASN.1 body;
 * 1 = byte 1 picks the JSON function and the rest is its body; 3 = the eIM pushes the next
 * package (TransferEimPackage) and the rest is the IPA's answer to that push. The server has an
 * in-memory SQLite store with one registered eUICC (the SGP.26 one, with its certificates) and
 * open operations (re-queued when earlier inputs finished them), so GetEimPackage really signs
 * and delivers, and results go through verification and matching.
 *
 * Properties: the call returns SGP32_OK (or no memory); the HTTP status is 200, 204 or 400; a 200
 * ASN.1 answer decodes as EsipaMessageFromEimToIpa, a 200 JSON answer is a JSON object, a 204 has
 * no body; a push answer is taken or refused with a clean error; no leak, crash or hang.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_common.h"
#include "sgp32/eim_server.h"
#include "sgp32/log.h"

static const char *const fuzz_functions[] = {
    "getEimPackage",      "provideEimPackageResult", "handleNotification", "initiateAuthentication",
    "authenticateClient", "getBoundProfilePackage",  "cancelSession",      "transferEimPackage"};

static int read_file(const char *path, sgp32_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return SGP32_ERR_IO;
    uint8_t chunk[4096];
    size_t n;
    int rc = SGP32_OK;
    while (!rc && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = sgp32_buf_append(out, chunk, n);
    fclose(f);
    return rc;
}

static void queue(const sgp32_eim_store *st, const char *eid, sgp32_eim_op_kind kind, const char *json)
{
    sgp32_eim_operation op;
    sgp32_eim_operation_init(&op);
    snprintf(op.eid, sizeof(op.eid), "%s", eid);
    op.kind = kind;
    op.created = 1700000000;
    op.expires = 1700000000 + 3600;
    if (sgp32_buf_append(&op.request, json, strlen(json)) || st->op_insert(st->ctx, &op))
        sgp32_fuzz_fail("cannot queue an operation", "eim_esipa", NULL, 0);
    sgp32_eim_operation_free(&op);
}

static int64_t fuzz_now(void)
{
    return 1700000000;
}

/* Setting a server up (schema, key, certificate chain) costs far more than a request: under
 * libFuzzer one context serves FUZZ_REUSE inputs; the seed replay builds one per input, so each
 * seed's outcome is its own. */
#ifdef SGP32_FUZZ_LIBFUZZER
enum { FUZZ_REUSE = 64 };
#else
enum { FUZZ_REUSE = 1 };
#endif

typedef struct fuzz_ctx {
    sgp32_eim_sqlite *db;
    sgp32_ci_set cis;
    sgp32_ec_private_key key;
    sgp32_eim_server srv;
    unsigned uses;
} fuzz_ctx;

static const char fuzz_eid[] = "89049032123451234512345678901235";

static void ctx_close(fuzz_ctx *x)
{
    sgp32_ci_set_free(&x->cis);
    sgp32_eim_sqlite_close(x->db);
    memset(x, 0, sizeof(*x));
}

static void ctx_open(fuzz_ctx *x)
{
    memset(x, 0, sizeof(*x));
    sgp32_ci_set_init(&x->cis);
    sgp32_buf ci;
    sgp32_buf_init(&ci, 4096);
    sgp32_eim_euicc e;
    sgp32_eim_euicc_init(&e);
    sgp32_ec_public_key pub;
    if (sgp32_eim_sqlite_open(":memory:", &x->db) ||
        sgp32_ec_generate(SGP32_CURVE_NIST_P256, &x->key, &pub) ||
        read_file(SGP32_SPEC_DIR "/sgp26/CertificateIssuer/CERT_CI_ECDSA_NIST.der", &ci) ||
        sgp32_ci_set_add(&x->cis, ci.data, ci.len) ||
        read_file(SGP32_SPEC_DIR "/sgp26/eUICC/CERT_EUICC_ECDSA_NIST.der", &e.euicc_certificate) ||
        read_file(SGP32_SPEC_DIR "/sgp26/EUM/CERT_EUM_ECDSA_NIST.der", &e.eum_certificate))
        sgp32_fuzz_fail("setup failed", "eim_esipa", NULL, 0);
    sgp32_eim_server_config c = {
        .eim_id = "eim.example.com",
        .signing_key = &x->key,
        .trusted_cis = &x->cis,
        .store = sgp32_eim_sqlite_store(x->db),
        .now = fuzz_now,
    };
    snprintf(e.eid, sizeof(e.eid), "%s", fuzz_eid);
    if (sgp32_eim_server_init(&x->srv, &c) || sgp32_eim_register(&x->srv, &e, "fuzz"))
        sgp32_fuzz_fail("setup failed", "eim_esipa", NULL, 0);
    sgp32_eim_euicc_free(&e);
    sgp32_buf_free(&ci);
}

int sgp32_fuzz_eim_esipa(const uint8_t *data, size_t size)
{
    static fuzz_ctx x;
    const char *eid = fuzz_eid;
    sgp32_log_set_level_all(SGP32_LOG_ERROR);
    if (size < 1)
        return SGP32_ERR_INVALID_ARGUMENT;
    if (!x.db)
        ctx_open(&x);
    const sgp32_eim_server *srv = &x.srv;
    const sgp32_eim_store *st = &srv->config.store;
    /* something to deliver, whatever earlier inputs did */
    sgp32_eim_operation head;
    sgp32_eim_operation_init(&head);
    if (st->op_next(st->ctx, eid, &head) == SGP32_ERR_NOT_FOUND) {
        queue(st, eid, SGP32_EIM_OP_PSMO, "{\"psmo\":[{\"listProfileInfo\":{}}]}");
        queue(st, eid, SGP32_EIM_OP_DOWNLOAD, "{\"download\":{\"activationCode\":\"1$smdp.example.com$M\"}}");
    }
    sgp32_eim_operation_free(&head);
    sgp32_buf response;
    sgp32_buf_init(&response, 16 << 20);

    sgp32_eim_esipa_info info;
    memset(&info, 0, sizeof(info));
    int rc;
    int mode = data[0] % 4;
    if (mode == 3) {
        /* a push, and the IPA's answer to it */
        sgp32_buf request;
        sgp32_buf_init(&request, 1 << 16);
        int64_t op = 0;
        if (sgp32_eim_transfer_eim_package_prepare(srv, eid, &request, &op))
            sgp32_fuzz_fail("nothing to push", "eim_esipa", data, size);
        sgp32_buf_free(&request);
        rc = sgp32_eim_transfer_eim_package_response(srv, eid, data + 1, size - 1, &info);
        bool refused = (rc <= -100 && rc > -300) || rc == SGP32_ERR_NOT_FOUND || rc == SGP32_ERR_UNSUPPORTED;
        if (rc != SGP32_OK && rc != SGP32_ERR_NO_MEMORY && rc != SGP32_ERR_CAPACITY && !refused)
            sgp32_fuzz_fail("the push answer was neither taken nor refused cleanly", "eim_esipa", data, size);
        rc = rc == SGP32_OK ? SGP32_OK : SGP32_ERR_INVALID_ARGUMENT;
        goto out;
    }
    if (mode == 1) {
        const char *function = size > 1 ? fuzz_functions[data[1] % 8] : "getEimPackage";
        size_t skip = size > 1 ? 2 : 1;
        rc = sgp32_eim_esipa_json_handle(srv, function, (const char *)data + skip, size - skip, &response,
                                         &info);
    } else {
        rc = sgp32_eim_esipa_handle(srv, data + 1, size - 1, &response, &info);
    }
    if (rc != SGP32_OK && rc != SGP32_ERR_NO_MEMORY && rc != SGP32_ERR_CAPACITY)
        sgp32_fuzz_fail("the server call failed", "eim_esipa", data, size);
    if (!rc && info.http_status != 200 && info.http_status != 204 && info.http_status != 400)
        sgp32_fuzz_fail("an HTTP status outside 200/204/400", "eim_esipa", data, size);
    if (!rc && info.http_status != 200 && response.len)
        sgp32_fuzz_fail("a body with a non-200 answer", "eim_esipa", data, size);
    if (!rc && info.http_status == 200) {
        if (mode == 1) {
            json_t *v = json_loadb((const char *)response.data, response.len, 0, NULL);
            if (response.len && !json_is_object(v))
                sgp32_fuzz_fail("a JSON answer that is not an object", "eim_esipa", data, size);
            json_decref(v);
        } else if (sgp32_fuzz_codec(&sgp32_type_esipa_message_from_eim_to_ipa, response.data, response.len)) {
            sgp32_fuzz_fail("an answer that is not an EsipaMessageFromEimToIpa", "eim_esipa", data, size);
        }
    }
    rc = rc == SGP32_OK && info.http_status == 200 ? SGP32_OK : SGP32_ERR_INVALID_ARGUMENT;
out:
    sgp32_buf_free(&response);
    if (++x.uses >= FUZZ_REUSE)
        ctx_close(&x);
    return rc;
}

SGP32_FUZZ_ENTRY(sgp32_fuzz_eim_esipa);

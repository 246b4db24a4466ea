/*
 * The eIM's indirect-download relay (ES9+', SGP.32 §3.2.3.2, §5.14.1-§5.14.3, §5.14.8) and its
 * notification forwarding (§3.7), end to end in one process: the software eUICC driven by hand
 * with ES10b calls (as an IPA does), the eIM core on SQLite ":memory:", and an es9_call that runs
 * the real SM-DP+ server core (ES9+ ASN.1 binding, SQLite ":memory:", the TS.48 template, an
 * order from ES2+ downloadOrder + confirmOrder).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cmocka.h>

#include "../../lib/eim/eim_relay.h"
#include "euicc_fixture.h"
#include "sgp32/eid.h"
#include "sgp32/eim_server.h"
#include "sgp32/profile_package.h"
#include "sgp32/smdp_server.h"

#define SMDP         "smdp.example.com"
#define PROFILE_TYPE "TS48"
#define TS48         SGP32_SPEC_DIR "/profiles/TS48V1-A-UNIQUE.der"
#define CI_DIR       SGP32_SPEC_DIR "/sgp26"

/* ------------------------------------------------------------------ the ES9+ leg */

static uint8_t *find_bytes(uint8_t *data, size_t len, const void *what, size_t what_len)
{
    for (size_t i = 0; what_len <= len && i <= len - what_len; i++)
        if (memcmp(data + i, what, what_len) == 0)
            return data + i;
    return NULL;
}

/* What the test's es9_call does: the SM-DP+ server core through its ES9+ ASN.1 binding. */
typedef struct es9_link {
    const sgp32_smdp_server *smdp;
    const char *route;   /* another host name that reaches the SM-DP+ (NULL: none) */
    int transport_error; /* es9_call fails with this (0: it works) */
    bool asn1_errors;    /* failures come back as the ASN.1 error alternative, not as a status */
    bool tamper_address; /* change serverSigned1.serverAddress in the answer */
    size_t calls;
    uint32_t last_tag;
    char last_address[SGP32_EIM_ADDRESS_MAX + 1];
} es9_link;

static int es9_call(void *vctx, const char *address, const uint8_t *request, size_t len, sgp32_buf *response,
                    sgp32_eim_es9_status *status)
{
    es9_link *link = vctx;
    link->calls++;
    snprintf(link->last_address, sizeof(link->last_address), "%s", address);
    memset(status, 0, sizeof(*status));
    sgp32_asn1_tlv t;
    link->last_tag = sgp32_asn1_read_tlv(request, len, &t, NULL) == SGP32_OK ? t.tag : 0;
    if (link->transport_error)
        return link->transport_error;
    if (strcasecmp(address, link->smdp->config.address) != 0 &&
        !(link->route && strcmp(address, link->route) == 0))
        return SGP32_ERR_TRANSPORT_CONNECT; /* no such host */

    sgp32_buf body;
    sgp32_buf_init(&body, 8 << 20);
    size_t a2 = sgp32_asn1_begin(&body);
    assert_int_equal(sgp32_buf_append(&body, request, len), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&body, 0xA2, a2), SGP32_OK);
    sgp32_smdp_es9_request req;
    sgp32_smdp_es9_response resp;
    sgp32_smdp_status decode_status;
    sgp32_smdp_es9_request_init(&req);
    assert_int_equal(sgp32_smdp_es9_asn1_decode(body.data, body.len, &req, &decode_status), SGP32_OK);
    sgp32_smdp_es9_response_init(&resp, req.function);
    if (!sgp32_smdp_status_ok(&decode_status)) {
        resp.status = decode_status;
        resp.asn1_error = 127;
    } else {
        assert_int_equal(sgp32_smdp_es9_call(link->smdp, &req, &resp), SGP32_OK);
    }
    sgp32_buf_reset(response);
    if (!sgp32_smdp_status_ok(&resp.status) && !link->asn1_errors) {
        snprintf(status->subject_code, sizeof(status->subject_code), "%s", resp.status.subject);
        snprintf(status->reason_code, sizeof(status->reason_code), "%s", resp.status.reason);
        snprintf(status->message, sizeof(status->message), "%s", resp.status.message);
    } else {
        sgp32_buf_reset(&body);
        assert_int_equal(sgp32_smdp_es9_asn1_encode(&resp, &body), SGP32_OK);
        if (body.len) { /* not HandleNotification: unwrap A2 */
            sgp32_asn1_tlv outer;
            assert_int_equal(sgp32_asn1_expect(body.data, body.len, 0xA2, &outer), SGP32_OK);
            assert_int_equal(sgp32_buf_append(response, outer.value.data, outer.value.len), SGP32_OK);
        }
        if (link->tamper_address) { /* "smdp.example.com" -> "smdq.example.com" inside serverSigned1 */
            uint8_t *p = find_bytes(response->data, response->len, SMDP, strlen(SMDP));
            assert_non_null(p);
            p[3] = 'q';
        }
    }
    sgp32_smdp_es9_request_free(&req);
    sgp32_smdp_es9_response_free(&resp);
    sgp32_buf_free(&body);
    return SGP32_OK;
}

/* ------------------------------------------------------------------ environment */

static int64_t g_now;

static int64_t test_now(void)
{
    return g_now;
}

typedef struct env {
    euicc_fixture f;
    char eid[SGP32_EIM_EID_DIGITS + 1];
    /* SM-DP+ */
    sgp32_ci_set cis;
    sgp32_smdp_credentials cred;
    sgp32_buf files[4];
    sgp32_buf upp;
    sgp32_smdp_profile_template tmpl;
    sgp32_smdp_sqlite *smdp_db;
    sgp32_smdp_server smdp;
    /* eIM */
    sgp32_eim_sqlite *eim_db;
    sgp32_eim_server eim;
    const sgp32_eim_store *st;
    sgp32_ec_private_key eim_key;
    es9_link link;
} env;

static void load_key(const char *path, sgp32_ec_private_key *key)
{
    sgp32_buf pem;
    assert_int_equal(test_read_file(path, &pem), SGP32_OK);
    assert_int_equal(sgp32_ec_private_from_pem((const char *)pem.data, pem.len, key), SGP32_OK);
    sgp32_secure_zero(pem.data, pem.len);
    sgp32_buf_free(&pem);
}

static void register_euicc(env *e, const char *eid)
{
    sgp32_eim_euicc rec;
    sgp32_eim_euicc_init(&rec);
    snprintf(rec.eid, sizeof(rec.eid), "%s", eid);
    rec.registered = g_now;
    assert_int_equal(e->st->euicc_insert(e->st->ctx, &rec), SGP32_OK);
    sgp32_eim_euicc_free(&rec);
}

/* SM-DP+s an IPA may name on its own (the eIM is no open relay). */
static const char *const allowed_smdps[] = {SMDP, "unreachable.example.com"};

static int setup(void **state)
{
    env *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    g_now = (int64_t)time(NULL);
    snprintf(e->eid, sizeof(e->eid), "%s", EUICC_FIXTURE_EID);
    assert_int_equal(euicc_fixture_open(&e->f), SGP32_OK);

    sgp32_ci_set_init(&e->cis);
    assert_int_equal(test_read_file(CI_DIR "/CertificateIssuer/CERT_CI_ECDSA_NIST.der", &e->files[0]),
                     SGP32_OK);
    assert_int_equal(test_read_file(CI_DIR "/CertificateIssuer/CERT_CI_ECDSA_BRP.der", &e->files[1]),
                     SGP32_OK);
    assert_int_equal(test_read_file(CI_DIR "/DPauth/CERT_S_SM_DPauth_ECDSA_NIST.der", &e->files[2]),
                     SGP32_OK);
    assert_int_equal(test_read_file(CI_DIR "/DPpb/CERT_S_SM_DPpb_ECDSA_NIST.der", &e->files[3]), SGP32_OK);
    assert_int_equal(sgp32_ci_set_add(&e->cis, e->files[0].data, e->files[0].len), SGP32_OK);
    assert_int_equal(sgp32_ci_set_add(&e->cis, e->files[1].data, e->files[1].len), SGP32_OK);
    e->cred.dpauth_certificate = sgp32_buf_bytes(&e->files[2]);
    e->cred.dppb_certificate = sgp32_buf_bytes(&e->files[3]);
    load_key(CI_DIR "/DPauth/SK_S_SM_DPauth_ECDSA_NIST.pem", &e->cred.dpauth_key);
    load_key(CI_DIR "/DPpb/SK_S_SM_DPpb_ECDSA_NIST.pem", &e->cred.dppb_key);
    assert_int_equal(test_read_file(TS48, &e->upp), SGP32_OK);
    snprintf(e->tmpl.profile_type, sizeof(e->tmpl.profile_type), "%s", PROFILE_TYPE);
    e->tmpl.upp = sgp32_buf_bytes(&e->upp);
    e->tmpl.service_provider_name = "GSMA Test";
    e->tmpl.profile_name = "TS.48 test profile";
    e->tmpl.profile_class = 2;

    assert_int_equal(sgp32_smdp_sqlite_open(":memory:", &e->smdp_db), SGP32_OK);
    sgp32_smdp_server_config sc = {
        .address = SMDP,
        .credentials = &e->cred,
        .credential_count = 1,
        .trusted_cis = &e->cis,
        .templates = &e->tmpl,
        .template_count = 1,
        .store = sgp32_smdp_sqlite_store(e->smdp_db),
        .now = test_now,
    };
    assert_int_equal(sgp32_smdp_server_init(&e->smdp, &sc), SGP32_OK);
    assert_int_equal(sgp32_smdp_inventory_add(&e->smdp, PROFILE_TYPE, "894400000000001000", NULL, 16, NULL),
                     SGP32_OK);

    e->link.smdp = &e->smdp;
    sgp32_ec_public_key pub;
    assert_int_equal(sgp32_ec_generate(SGP32_CURVE_NIST_P256, &e->eim_key, &pub), SGP32_OK);
    assert_int_equal(sgp32_eim_sqlite_open(":memory:", &e->eim_db), SGP32_OK);
    sgp32_eim_server_config ec = {
        .eim_id = "eim.example.com",
        .signing_key = &e->eim_key,
        .trusted_cis = &e->cis,
        .store = sgp32_eim_sqlite_store(e->eim_db),
        .now = test_now,
        .es9_call = es9_call,
        .es9_ctx = &e->link,
        .default_smdp_address = SMDP,
        .smdp_allowed = allowed_smdps,
        .smdp_allowed_count = 2,
    };
    assert_int_equal(sgp32_eim_server_init(&e->eim, &ec), SGP32_OK);
    e->st = &e->eim.config.store;
    register_euicc(e, e->eid);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    euicc_fixture_close(&e->f);
    sgp32_eim_sqlite_close(e->eim_db);
    sgp32_smdp_sqlite_close(e->smdp_db);
    sgp32_ci_set_free(&e->cis);
    for (size_t i = 0; i < SGP32_ARRAY_LEN(e->files); i++)
        sgp32_buf_free(&e->files[i]);
    sgp32_buf_free(&e->upp);
    sgp32_secure_zero(e, sizeof(*e));
    free(e);
    return 0;
}

/* ------------------------------------------------------------------ helpers */

/* ES2+ downloadOrder (profile type, linked to eid when given) + confirmOrder with release. */
static void make_order(env *e, const char *eid, char iccid[SGP32_SMDP_ICCID_MAX + 1],
                       char matching_id[SGP32_SMDP_MATCHING_ID_MAX + 1])
{
    sgp32_smdp_es2_request req;
    sgp32_smdp_es2_response resp;
    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));
    req.function = SGP32_SMDP_ES2_DOWNLOAD_ORDER;
    req.has_profile_type = true;
    snprintf(req.profile_type, sizeof(req.profile_type), "%s", PROFILE_TYPE);
    if (eid) {
        req.has_eid = true;
        snprintf(req.eid, sizeof(req.eid), "%s", eid);
    }
    assert_int_equal(sgp32_smdp_es2_download_order(&e->smdp, &req, &resp), SGP32_OK);
    assert_true(sgp32_smdp_status_ok(&resp.status));
    snprintf(iccid, SGP32_SMDP_ICCID_MAX + 1, "%s", resp.iccid);

    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));
    req.function = SGP32_SMDP_ES2_CONFIRM_ORDER;
    req.has_iccid = true;
    snprintf(req.iccid, sizeof(req.iccid), "%s", iccid);
    if (eid) {
        req.has_eid = true;
        snprintf(req.eid, sizeof(req.eid), "%s", eid);
    }
    req.release_flag = true;
    assert_int_equal(sgp32_smdp_es2_confirm_order(&e->smdp, &req, &resp), SGP32_OK);
    assert_true(sgp32_smdp_status_ok(&resp.status));
    snprintf(matching_id, SGP32_SMDP_MATCHING_ID_MAX + 1, "%s", resp.matching_id);
}

static sgp32_smdp_order_state order_state(env *e, const char *iccid)
{
    sgp32_smdp_order o;
    const sgp32_smdp_store *s = &e->smdp.config.store;
    assert_int_equal(s->order_get(s->ctx, iccid, &o), SGP32_OK);
    return o.state;
}

/* A download operation for eid (state delivered: its BF54 went out), with this request JSON. */
static int64_t download_op(env *e, const char *eid, const char *json)
{
    sgp32_eim_operation op;
    sgp32_eim_operation_init(&op);
    snprintf(op.eid, sizeof(op.eid), "%s", eid);
    op.kind = SGP32_EIM_OP_DOWNLOAD;
    op.state = SGP32_EIM_OP_DELIVERED;
    assert_int_equal(sgp32_buf_append(&op.request, json, strlen(json)), SGP32_OK);
    op.created = op.delivered = g_now;
    op.expires = g_now + 3600;
    snprintf(op.created_by, sizeof(op.created_by), "test");
    assert_int_equal(e->st->op_insert(e->st->ctx, &op), SGP32_OK);
    int64_t id = op.id;
    sgp32_eim_operation_free(&op);
    assert_true(id > 0);
    return id;
}

static int64_t ac_op(env *e, const char *eid, const char *address, const char *matching_id, const char *oid)
{
    char json[512];
    snprintf(json, sizeof(json), "{\"download\":{\"activationCode\":\"LPA:1$%s$%s%s%s\"}}", address,
             matching_id, oid ? "$" : "", oid ? oid : "");
    return download_op(e, eid, json);
}

static void es10(env *e, const uint8_t *request, size_t len, sgp32_buf *response)
{
    sgp32_buf_reset(response);
    assert_int_equal(sgp32_euicc_es10(e->f.euicc, request, len, response), SGP32_OK);
}

static void euicc_challenge(env *e, uint8_t challenge[16])
{
    static const uint8_t request[] = {0xBF, 0x2E, 0x00};
    sgp32_buf r;
    sgp32_buf_init(&r, 256);
    es10(e, request, sizeof(request), &r);
    assert_int_equal(r.len, 21);
    memcpy(challenge, r.data + 5, 16);
    sgp32_buf_free(&r);
}

static void euicc_info1(env *e, sgp32_buf *out)
{
    static const uint8_t request[] = {0xBF, 0x20, 0x00};
    es10(e, request, sizeof(request), out);
    assert_int_equal(out->data[0], 0xBF);
    assert_int_equal(out->data[1], 0x20);
}

/* The error code of an ESipa answer tag {error_tag code}; -1 when it is the ok alternative A0. */
static int64_t answer_error(const sgp32_buf *answer, uint32_t tag, uint32_t error_tag)
{
    sgp32_asn1_tlv outer, alt;
    assert_int_equal(sgp32_asn1_expect(answer->data, answer->len, tag, &outer), SGP32_OK);
    assert_int_equal(sgp32_asn1_read_tlv(outer.value.data, outer.value.len, &alt, NULL), SGP32_OK);
    if (alt.tag == 0xA0)
        return -1;
    assert_int_equal(alt.tag, error_tag);
    int64_t code;
    assert_int_equal(sgp32_asn1_parse_integer(alt.value, &code), SGP32_OK);
    return code;
}

/* The A0 contents of an ok ESipa answer, after checking it decodes as type. */
static sgp32_bytes answer_ok(const sgp32_buf *answer, const sgp32_asn1_type *type)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, 1 << 20);
    void *decoded = sgp32_arena_alloc(&arena, type->size);
    assert_non_null(decoded);
    assert_int_equal(sgp32_asn1_decode(type, answer->data, answer->len, &arena, decoded), SGP32_OK);
    sgp32_arena_free(&arena);
    sgp32_asn1_tlv outer, alt;
    assert_int_equal(sgp32_asn1_read_tlv(answer->data, answer->len, &outer, NULL), SGP32_OK);
    assert_int_equal(sgp32_asn1_read_tlv(outer.value.data, outer.value.len, &alt, NULL), SGP32_OK);
    assert_int_equal(alt.tag, 0xA0);
    return alt.value;
}

/* The n-th (0-based) TLV with this tag inside contents. */
static bool find_tlv(sgp32_bytes contents, uint32_t tag, int n, sgp32_asn1_tlv *out)
{
    sgp32_asn1_reader r;
    sgp32_asn1_tlv t;
    sgp32_asn1_reader_init(&r, contents, 1);
    while (sgp32_asn1_reader_next(&r, &t) == SGP32_OK)
        if (t.tag == tag && n-- == 0) {
            *out = t;
            return true;
        }
    return false;
}

/* Decode der as type (arena-backed) and hand it to the relay function. */
typedef int (*relay_fn)(const sgp32_eim_server *, const void *, sgp32_buf *, sgp32_eim_esipa_info *);

static int call_relay(env *e, const sgp32_asn1_type *type, const sgp32_buf *der, relay_fn fn, sgp32_buf *out,
                      sgp32_eim_esipa_info *info)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, 1 << 20);
    void *req = sgp32_arena_alloc(&arena, type->size);
    assert_non_null(req);
    assert_int_equal(sgp32_asn1_decode(type, der->data, der->len, &arena, req), SGP32_OK);
    memset(info, 0, sizeof(*info));
    sgp32_buf_reset(out);
    int rc = fn(&e->eim, req, out, info);
    sgp32_arena_free(&arena);
    return rc;
}

static int fn_ia(const sgp32_eim_server *s, const void *r, sgp32_buf *o, sgp32_eim_esipa_info *i)
{
    return sgp32_eim_initiate_authentication(s, r, o, i);
}
static int fn_ac(const sgp32_eim_server *s, const void *r, sgp32_buf *o, sgp32_eim_esipa_info *i)
{
    return sgp32_eim_authenticate_client(s, r, o, i);
}
static int fn_gbpp(const sgp32_eim_server *s, const void *r, sgp32_buf *o, sgp32_eim_esipa_info *i)
{
    return sgp32_eim_get_bound_profile_package(s, r, o, i);
}
static int fn_cs(const sgp32_eim_server *s, const void *r, sgp32_buf *o, sgp32_eim_esipa_info *i)
{
    return sgp32_eim_cancel_session(s, r, o, i);
}

/* One download as the IPA runs it. */
typedef struct flow {
    int64_t op_id;            /* eimTransactionId to send (0: none) */
    const char *smdp_address; /* smdpAddress to send (NULL: none) */
    bool with_info1;          /* send euiccInfo1 */
    const char *matching_id;  /* for ctxParams1 when the eIM sends none */
    bool via_dispatcher;      /* through sgp32_eim_esipa_handle instead of the function */
    bool compact_pdr;         /* send PrepareDownloadResponse in its compact form */
    uint8_t txid[16];
    size_t txid_len;
    char eim_matching_id[SGP32_SMDP_MATCHING_ID_MAX + 1]; /* 0C of the eIM's answer */
    sgp32_buf answer, es10, request;
    sgp32_eim_esipa_info info;
} flow;

static void flow_init(flow *fl)
{
    memset(fl, 0, sizeof(*fl));
    fl->with_info1 = true;
    sgp32_buf_init(&fl->answer, 8 << 20);
    sgp32_buf_init(&fl->es10, 1 << 16);
    sgp32_buf_init(&fl->request, 1 << 16);
}

static void flow_free(flow *fl)
{
    sgp32_buf_free(&fl->answer);
    sgp32_buf_free(&fl->es10);
    sgp32_buf_free(&fl->request);
}

static int relay(env *e, flow *fl, const sgp32_asn1_type *type, relay_fn fn)
{
    if (!fl->via_dispatcher)
        return call_relay(e, type, &fl->request, fn, &fl->answer, &fl->info);
    int rc = sgp32_eim_esipa_handle(&e->eim, fl->request.data, fl->request.len, &fl->answer, &fl->info);
    assert_int_equal(fl->info.http_status, 200);
    return rc;
}

/* ESipa InitiateAuthentication; the answer in fl->answer. */
static void initiate(env *e, flow *fl)
{
    uint8_t challenge[16];
    euicc_challenge(e, challenge);
    sgp32_buf info1;
    sgp32_buf_init(&info1, 4096);
    euicc_info1(e, &info1);
    sgp32_buf *b = &fl->request;
    sgp32_buf_reset(b);
    size_t mark = sgp32_asn1_begin(b);
    assert_int_equal(sgp32_asn1_write_tlv(b, 0x81, challenge, 16), SGP32_OK);
    if (fl->smdp_address)
        assert_int_equal(
            sgp32_asn1_write_tlv(b, 0x83, (const uint8_t *)fl->smdp_address, strlen(fl->smdp_address)),
            SGP32_OK);
    if (fl->with_info1)
        assert_int_equal(sgp32_buf_append(b, info1.data, info1.len), SGP32_OK);
    if (fl->op_id) {
        uint8_t txid[SGP32_EIM_TXID_LEN];
        sgp32_eim_transaction_id(fl->op_id, txid);
        assert_int_equal(sgp32_asn1_write_tlv(b, 0x82, txid, sizeof(txid)), SGP32_OK);
    }
    assert_int_equal(sgp32_asn1_end(b, 0xBF39, mark), SGP32_OK);
    sgp32_buf_free(&info1);
    assert_int_equal(relay(e, fl, &sgp32_type_initiate_authentication_request_esipa, fn_ia), SGP32_OK);
}

/* InitiateAuthentication ok -> the eUICC's AuthenticateServer answer in fl->es10. */
static void authenticate_server(env *e, flow *fl)
{
    sgp32_bytes ok = answer_ok(&fl->answer, &sgp32_type_initiate_authentication_response_esipa);
    sgp32_asn1_tlv txid, ss1, sig, pkid, cert, mid;
    assert_true(find_tlv(ok, 0x80, 0, &txid));
    assert_true(find_tlv(ok, 0x30, 0, &ss1));
    assert_true(find_tlv(ok, 0x5F37, 0, &sig));
    assert_true(find_tlv(ok, 0x04, 0, &pkid));
    assert_true(find_tlv(ok, 0x30, 1, &cert));
    memcpy(fl->txid, txid.value.data, txid.value.len);
    fl->txid_len = txid.value.len;
    fl->eim_matching_id[0] = '\0';
    if (find_tlv(ok, 0x0C, 0, &mid)) {
        memcpy(fl->eim_matching_id, mid.value.data, mid.value.len);
        fl->eim_matching_id[mid.value.len] = '\0';
    }
    const char *m = fl->eim_matching_id[0] ? fl->eim_matching_id : fl->matching_id;
    sgp32_buf req;
    sgp32_buf_init(&req, 1 << 16);
    size_t outer = sgp32_asn1_begin(&req);
    assert_int_equal(sgp32_buf_append(&req, ss1.whole.data, ss1.whole.len), SGP32_OK);
    assert_int_equal(sgp32_buf_append(&req, sig.whole.data, sig.whole.len), SGP32_OK);
    assert_int_equal(sgp32_buf_append(&req, pkid.whole.data, pkid.whole.len), SGP32_OK);
    assert_int_equal(sgp32_buf_append(&req, cert.whole.data, cert.whole.len), SGP32_OK);
    /* ctxParams1 A0 {80 matchingId, A1 deviceInfo {80 tac, A1 deviceCapabilities {}}} */
    static const uint8_t device_info[] = {0xA1, 0x08, 0x80, 0x04, 0x35, 0x29, 0x06, 0x11, 0xA1, 0x00};
    size_t ctx = sgp32_asn1_begin(&req);
    if (m && m[0])
        assert_int_equal(sgp32_asn1_write_tlv(&req, 0x80, (const uint8_t *)m, strlen(m)), SGP32_OK);
    assert_int_equal(sgp32_buf_append(&req, device_info, sizeof(device_info)), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&req, 0xA0, ctx), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&req, 0xBF38, outer), SGP32_OK);
    es10(e, req.data, req.len, &fl->es10);
    sgp32_buf_free(&req);
}

/* ESipa AuthenticateClient with the eUICC's answer in fl->es10. */
static void authenticate_client(env *e, flow *fl)
{
    sgp32_buf *b = &fl->request;
    sgp32_buf_reset(b);
    size_t mark = sgp32_asn1_begin(b);
    assert_int_equal(sgp32_asn1_write_tlv(b, 0x80, fl->txid, fl->txid_len), SGP32_OK);
    assert_int_equal(sgp32_buf_append(b, fl->es10.data, fl->es10.len), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(b, 0xBF3B, mark), SGP32_OK);
    assert_int_equal(relay(e, fl, &sgp32_type_authenticate_client_request_esipa, fn_ac), SGP32_OK);
}

/* AuthenticateClient ok -> the eUICC's PrepareDownload answer in fl->es10. */
static void prepare_download(env *e, flow *fl)
{
    sgp32_bytes ok = answer_ok(&fl->answer, &sgp32_type_authenticate_client_response_esipa);
    sgp32_asn1_tlv txid, md, signed2, sig, cert;
    assert_true(find_tlv(ok, 0x80, 0, &txid));
    assert_memory_equal(txid.value.data, fl->txid, fl->txid_len);
    assert_true(find_tlv(ok, 0xBF25, 0, &md));
    assert_true(find_tlv(ok, 0x30, 0, &signed2));
    assert_true(find_tlv(ok, 0x5F37, 0, &sig));
    assert_true(find_tlv(ok, 0x30, 1, &cert));
    sgp32_buf req;
    sgp32_buf_init(&req, 1 << 16);
    size_t outer = sgp32_asn1_begin(&req);
    assert_int_equal(sgp32_buf_append(&req, signed2.whole.data, signed2.whole.len), SGP32_OK);
    assert_int_equal(sgp32_buf_append(&req, sig.whole.data, sig.whole.len), SGP32_OK);
    assert_int_equal(sgp32_buf_append(&req, cert.whole.data, cert.whole.len), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&req, 0xBF21, outer), SGP32_OK);
    es10(e, req.data, req.len, &fl->es10);
    sgp32_buf_free(&req);
}

/* BF21 {A0 {30 {80 txid, 5F49 otpk, [04]}, 5F37}} -> BF21 {A2 {30 {5F49, [04]}, 5F37}} */
static void compact_prepare_download_response(sgp32_buf *pdr)
{
    sgp32_asn1_tlv outer, ok, signed2, sig, t;
    assert_int_equal(sgp32_asn1_expect(pdr->data, pdr->len, 0xBF21, &outer), SGP32_OK);
    assert_true(find_tlv(outer.value, 0xA0, 0, &ok));
    assert_true(find_tlv(ok.value, 0x30, 0, &signed2));
    assert_true(find_tlv(ok.value, 0x5F37, 0, &sig));
    sgp32_buf c;
    sgp32_buf_init(&c, 4096);
    size_t o = sgp32_asn1_begin(&c), a2 = sgp32_asn1_begin(&c), s = sgp32_asn1_begin(&c);
    sgp32_asn1_reader r;
    sgp32_asn1_reader_init(&r, signed2.value, 1);
    while (sgp32_asn1_reader_next(&r, &t) == SGP32_OK)
        if (t.tag != 0x80)
            assert_int_equal(sgp32_buf_append(&c, t.whole.data, t.whole.len), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&c, 0x30, s), SGP32_OK);
    assert_int_equal(sgp32_buf_append(&c, sig.whole.data, sig.whole.len), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&c, 0xA2, a2), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&c, 0xBF21, o), SGP32_OK);
    sgp32_buf_reset(pdr);
    assert_int_equal(sgp32_buf_append(pdr, c.data, c.len), SGP32_OK);
    sgp32_buf_free(&c);
}

/* ESipa GetBoundProfilePackage with the eUICC's answer in fl->es10. */
static void get_bound_profile_package(env *e, flow *fl)
{
    if (fl->compact_pdr)
        compact_prepare_download_response(&fl->es10);
    sgp32_buf *b = &fl->request;
    sgp32_buf_reset(b);
    size_t mark = sgp32_asn1_begin(b);
    assert_int_equal(sgp32_asn1_write_tlv(b, 0x80, fl->txid, fl->txid_len), SGP32_OK);
    assert_int_equal(sgp32_buf_append(b, fl->es10.data, fl->es10.len), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(b, 0xBF3A, mark), SGP32_OK);
    assert_int_equal(relay(e, fl, &sgp32_type_get_bound_profile_package_request_esipa, fn_gbpp), SGP32_OK);
}

/* GetBoundProfilePackage ok -> the BPP loaded segment by segment; the PIR into pir. */
static void load_bound_profile_package(env *e, flow *fl, sgp32_buf *pir)
{
    sgp32_bytes ok = answer_ok(&fl->answer, &sgp32_type_get_bound_profile_package_response_esipa);
    sgp32_asn1_tlv bpp;
    assert_true(find_tlv(ok, 0xBF36, 0, &bpp));
    sgp32_bpp_segmenter it;
    sgp32_bytes segment;
    assert_int_equal(sgp32_bpp_segmenter_init(&it, bpp.whole.data, bpp.whole.len), SGP32_OK);
    sgp32_buf_reset(pir);
    while (sgp32_bpp_segmenter_next(&it, &segment) == SGP32_OK) {
        assert_int_equal(sgp32_euicc_es10(e->f.euicc, segment.data, segment.len, pir), SGP32_OK);
        if (pir->len)
            break;
    }
    assert_true(pir->len > 0);
    assert_int_equal(pir->data[0], 0xBF);
    assert_int_equal(pir->data[1], 0x37);
}

/* Whether GetProfilesInfo lists the ICCID (digits). */
static bool profile_installed(env *e, const char *iccid)
{
    uint8_t bcd[12] = {0x5A, 0x0A};
    assert_int_equal(sgp32_smdp_iccid_to_bcd(iccid, bcd + 2), SGP32_OK);
    static const uint8_t request[] = {0xBF, 0x2D, 0x00};
    sgp32_buf r;
    sgp32_buf_init(&r, 1 << 16);
    es10(e, request, sizeof(request), &r);
    bool found = find_bytes(r.data, r.len, bcd, sizeof(bcd)) != NULL;
    sgp32_buf_free(&r);
    return found;
}

static bool relay_exists(env *e, const flow *fl, sgp32_eim_relay *out)
{
    sgp32_eim_relay r;
    int rc = e->st->relay_get(e->st->ctx, fl->txid, fl->txid_len, out ? out : &r);
    assert_true(rc == SGP32_OK || rc == SGP32_ERR_NOT_FOUND);
    return rc == SGP32_OK;
}

typedef struct event_counter {
    const char *action;
    size_t n;
} event_counter;

static int count_event(void *arg, const sgp32_eim_event *ev)
{
    event_counter *c = arg;
    if (strcmp(ev->action, c->action) == 0)
        c->n++;
    return 0;
}

static size_t count_events(env *e, const char *action)
{
    event_counter c = {action, 0};
    assert_int_equal(e->st->event_list(e->st->ctx, NULL, 0, 1000, count_event, &c), SGP32_OK);
    return c.n;
}

/* ------------------------------------------------------------------ tests */

/* The whole indirect download, then the PIR forwarded from the outbox to the SM-DP+. */
static void run_download(env *e, bool via_dispatcher, bool compact)
{
    char iccid[SGP32_SMDP_ICCID_MAX + 1], mid[SGP32_SMDP_MATCHING_ID_MAX + 1];
    make_order(e, e->eid, iccid, mid);
    flow fl;
    flow_init(&fl);
    fl.via_dispatcher = via_dispatcher;
    fl.compact_pdr = compact;
    fl.op_id = ac_op(e, e->eid, SMDP, mid, "2.999.10");

    /* InitiateAuthentication: address and matchingId from the operation's AC, OID checked */
    initiate(e, &fl);
    assert_int_equal(answer_error(&fl.answer, 0xBF39, 0x81), -1);
    assert_string_equal(e->link.last_address, SMDP);
    assert_int_equal(fl.info.function_tag, 0xBF39);
    assert_string_equal(fl.info.eid, e->eid);
    assert_int_equal(fl.info.operation_id, fl.op_id);
    assert_string_equal(fl.info.outcome, "relayed to " SMDP ": ok");
    authenticate_server(e, &fl);
    assert_string_equal(fl.eim_matching_id, mid);
    sgp32_eim_relay r;
    assert_true(relay_exists(e, &fl, &r));
    assert_string_equal(r.eid, e->eid);
    assert_string_equal(r.smdp_address, SMDP);
    assert_int_equal(r.operation_id, fl.op_id);
    assert_int_equal(r.expires, g_now + 1800);
    /* euiccInfo1 cached, no certificate known yet */
    sgp32_eim_euicc rec;
    sgp32_eim_euicc_init(&rec);
    assert_int_equal(e->st->euicc_get(e->st->ctx, e->eid, &rec), SGP32_OK);
    assert_true(rec.euicc_info1.len > 0);
    assert_int_equal(rec.euicc_certificate.len, 0);
    sgp32_eim_euicc_free(&rec);

    /* AuthenticateClient: certificates learned */
    authenticate_client(e, &fl);
    assert_int_equal(answer_error(&fl.answer, 0xBF3B, 0x82), -1);
    assert_string_equal(fl.info.outcome, "relayed to " SMDP ": ok");
    sgp32_eim_euicc_init(&rec);
    assert_int_equal(e->st->euicc_get(e->st->ctx, e->eid, &rec), SGP32_OK);
    assert_true(rec.euicc_certificate.len > 0);
    assert_true(rec.eum_certificate.len > 0);
    sgp32_eim_euicc_free(&rec);
    assert_int_equal(count_events(e, "euicc.certificates"), 1);

    /* GetBoundProfilePackage and the load */
    prepare_download(e, &fl);
    get_bound_profile_package(e, &fl);
    assert_int_equal(answer_error(&fl.answer, 0xBF3A, 0x81), -1);
    assert_int_equal(order_state(e, iccid), SGP32_ORDER_DOWNLOADED);
    sgp32_buf pir;
    sgp32_buf_init(&pir, 8192);
    load_bound_profile_package(e, &fl, &pir);
    assert_true(profile_installed(e, iccid));

    /* HandleNotification(PIR) put in the outbox (the lead's code does that); forwarded */
    sgp32_eim_outbox_item item;
    sgp32_eim_outbox_item_init(&item);
    snprintf(item.eid, sizeof(item.eid), "%s", e->eid);
    snprintf(item.address, sizeof(item.address), "%s", SMDP);
    if (via_dispatcher) { /* kept as the ESipa component A0 {BF37}: the wrapper is taken off */
        size_t a0 = sgp32_asn1_begin(&item.notification);
        assert_int_equal(sgp32_buf_append(&item.notification, pir.data, pir.len), SGP32_OK);
        assert_int_equal(sgp32_asn1_end(&item.notification, 0xA0, a0), SGP32_OK);
    } else {
        assert_int_equal(sgp32_buf_append(&item.notification, pir.data, pir.len), SGP32_OK);
    }
    item.next_attempt = g_now;
    assert_int_equal(e->st->outbox_put(e->st->ctx, &item), SGP32_OK);
    size_t forwarded = 0;
    assert_int_equal(sgp32_eim_forward_notifications(&e->eim, 10, &forwarded), SGP32_OK);
    assert_int_equal(forwarded, 1);
    assert_int_equal(e->link.last_tag, 0xBF3D);
    assert_int_equal(order_state(e, iccid), SGP32_ORDER_INSTALLED);
    sgp32_eim_outbox_item_free(&item);
    sgp32_eim_outbox_item_init(&item);
    assert_int_equal(e->st->outbox_next(e->st->ctx, g_now + 86400, &item), SGP32_ERR_NOT_FOUND);
    sgp32_eim_outbox_item_free(&item);
    sgp32_buf_free(&pir);
    flow_free(&fl);
}

static void test_indirect_download(void **state)
{
    run_download(*state, false, false);
}

/* The same through the ESipa dispatcher, with the compact PrepareDownloadResponse expanded. */
static void test_indirect_download_dispatcher_compact(void **state)
{
    run_download(*state, true, true);
}

/* No smdpAddress: the operation's AC gives it; no euiccInfo1: the cached one; no AC: the default. */
static void test_address_and_info1_sources(void **state)
{
    env *e = *state;
    char iccid[SGP32_SMDP_ICCID_MAX + 1], mid[SGP32_SMDP_MATCHING_ID_MAX + 1];
    make_order(e, e->eid, iccid, mid);
    flow fl;
    flow_init(&fl);

    /* no euiccInfo1 and nothing cached yet: undefinedError */
    fl.op_id = ac_op(e, e->eid, SMDP, mid, NULL);
    fl.with_info1 = false;
    initiate(e, &fl);
    assert_int_equal(answer_error(&fl.answer, 0xBF39, 0x81), 127);
    assert_int_equal(e->link.calls, 0);
    /* with it: cached */
    fl.with_info1 = true;
    initiate(e, &fl);
    assert_int_equal(answer_error(&fl.answer, 0xBF39, 0x81), -1);
    /* without it again: the cached one is used */
    fl.with_info1 = false;
    initiate(e, &fl);
    assert_int_equal(answer_error(&fl.answer, 0xBF39, 0x81), -1);
    authenticate_server(e, &fl);
    assert_string_equal(fl.eim_matching_id, mid);
    authenticate_client(e, &fl);
    assert_int_equal(answer_error(&fl.answer, 0xBF3B, 0x82), -1);

    /* download {} (the eIM holds the data): the default SM-DP+, no matchingId */
    fl.op_id = download_op(e, e->eid, "{\"download\":{}}");
    initiate(e, &fl);
    assert_int_equal(answer_error(&fl.answer, 0xBF39, 0x81), -1);
    assert_string_equal(e->link.last_address, SMDP);
    authenticate_server(e, &fl);
    assert_string_equal(fl.eim_matching_id, "");

    /* smdpAddress given, upper case: relayed as given, accepted case-insensitively */
    make_order(e, e->eid, iccid, mid);
    fl.matching_id = mid;
    fl.op_id = 0;
    fl.with_info1 = true;
    fl.smdp_address = "SMDP.Example.COM";
    initiate(e, &fl);
    assert_int_equal(answer_error(&fl.answer, 0xBF39, 0x81), -1);
    assert_string_equal(e->link.last_address, "SMDP.Example.COM");
    sgp32_eim_relay r;
    authenticate_server(e, &fl);
    assert_true(relay_exists(e, &fl, &r));
    assert_string_equal(r.eid, ""); /* no operation: the EID comes with AuthenticateClient */
    authenticate_client(e, &fl);
    assert_int_equal(answer_error(&fl.answer, 0xBF3B, 0x82), -1);
    assert_true(relay_exists(e, &fl, &r));
    assert_string_equal(r.eid, e->eid);
    assert_string_equal(fl.info.eid, e->eid);

    /* no operation, no euiccInfo1: nobody to take it from */
    fl.with_info1 = false;
    initiate(e, &fl);
    assert_int_equal(answer_error(&fl.answer, 0xBF39, 0x81), 127);

    /* no address anywhere: invalidDpAddress */
    e->eim.config.default_smdp_address = NULL;
    fl.with_info1 = true;
    fl.smdp_address = NULL;
    initiate(e, &fl);
    assert_int_equal(answer_error(&fl.answer, 0xBF39, 0x81), 1);
    flow_free(&fl);
}

static void test_unknown_transaction_ids(void **state)
{
    env *e = *state;
    flow fl;
    flow_init(&fl);
    memset(fl.txid, 0x42, 16);
    fl.txid_len = 16;

    /* AuthenticateClient: invalidTransactionId 10 (tag 82) */
    euicc_info1(e, &fl.es10); /* any BF38 would do: the txid is checked first */
    sgp32_buf_reset(&fl.es10);
    static const uint8_t asr_error[] = {0xBF, 0x38, 0x0A, 0xA1, 0x08, 0x80, 0x03, 1, 2, 3, 0x02, 0x01, 0x7F};
    assert_int_equal(sgp32_buf_append(&fl.es10, asr_error, sizeof(asr_error)), SGP32_OK);
    authenticate_client(e, &fl);
    assert_int_equal(answer_error(&fl.answer, 0xBF3B, 0x82), 10);
    /* GetBoundProfilePackage: 95 */
    sgp32_buf_reset(&fl.es10);
    static const uint8_t pdr_error[] = {0xBF, 0x21, 0x0A, 0xA1, 0x08, 0x80, 0x03, 1, 2, 3, 0x02, 0x01, 0x7F};
    assert_int_equal(sgp32_buf_append(&fl.es10, pdr_error, sizeof(pdr_error)), SGP32_OK);
    get_bound_profile_package(e, &fl);
    assert_int_equal(answer_error(&fl.answer, 0xBF3A, 0x81), 95);
    /* CancelSession: 1 */
    static const uint8_t cancel[] = {0xBF, 0x41, 0x17, 0x80, 0x10, 0x42, 0x42, 0x42, 0x42,
                                     0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
                                     0x42, 0x42, 0x42, 0xA1, 0x03, 0x81, 0x01, 0x05};
    sgp32_buf_reset(&fl.request);
    assert_int_equal(sgp32_buf_append(&fl.request, cancel, sizeof(cancel)), SGP32_OK);
    assert_int_equal(relay(e, &fl, &sgp32_type_cancel_session_request_esipa, fn_cs), SGP32_OK);
    assert_int_equal(answer_error(&fl.answer, 0xBF41, 0x81), 1);
    assert_int_equal(e->link.calls, 0);

    /* InitiateAuthentication with an eimTransactionId of no download operation: 52 */
    fl.op_id = 999;
    initiate(e, &fl);
    assert_int_equal(answer_error(&fl.answer, 0xBF39, 0x81), 52);
    int64_t psmo = download_op(e, e->eid, "{\"download\":{}}");
    sgp32_eim_operation op;
    sgp32_eim_operation_init(&op);
    assert_int_equal(e->st->op_get(e->st->ctx, psmo, &op), SGP32_OK);
    op.state = SGP32_EIM_OP_CANCELLED;
    assert_int_equal(e->st->op_update(e->st->ctx, &op), SGP32_OK);
    sgp32_eim_operation_free(&op);
    fl.op_id = psmo;
    initiate(e, &fl);
    assert_int_equal(answer_error(&fl.answer, 0xBF39, 0x81), 52);
    assert_int_equal(e->link.calls, 0);
    flow_free(&fl);
}

/* serverSigned1.serverAddress is not the address asked: smdpAddressMismatch, no relay session. */
static void test_server_address_mismatch(void **state)
{
    env *e = *state;
    flow fl;
    flow_init(&fl);
    fl.smdp_address = SMDP;
    e->link.tamper_address = true;
    initiate(e, &fl);
    assert_int_equal(answer_error(&fl.answer, 0xBF39, 0x81), 50);
    assert_int_equal(e->link.calls, 1);
    assert_non_null(strstr(fl.info.outcome, "smdpAddressMismatch"));
    flow_free(&fl);
}

/* The AC names another SM-DP+ OID than CERT.DPauth carries: smdpOidMismatch. */
static void test_oid_mismatch(void **state)
{
    env *e = *state;
    flow fl;
    flow_init(&fl);
    fl.op_id = ac_op(e, e->eid, SMDP, "X", "2.999.99");
    initiate(e, &fl);
    assert_int_equal(answer_error(&fl.answer, 0xBF39, 0x81), 51);
    flow_free(&fl);
}

/* SM-DP+ refusals mapped to the ESipa codes, as a status (JSON) and as an ASN.1 error code. */
static void run_matching_id_refused(env *e, bool asn1_errors)
{
    e->link.asn1_errors = asn1_errors;
    flow fl;
    flow_init(&fl);
    fl.op_id = ac_op(e, e->eid, SMDP, "NO-SUCH-ORDER", NULL);
    initiate(e, &fl);
    authenticate_server(e, &fl);
    authenticate_client(e, &fl);
    assert_int_equal(answer_error(&fl.answer, 0xBF3B, 0x82), 6);
    assert_non_null(strstr(fl.info.outcome, "matchingIdRefused"));
    /* the relay session stays for the IPA's CancelSession */
    assert_true(relay_exists(e, &fl, NULL));
    flow_free(&fl);

    /* InitiateAuthentication at an address the SM-DP+ does not own: invalidDpAddress */
    e->link.route = "alias.example.com";
    flow_init(&fl);
    fl.smdp_address = "alias.example.com";
    initiate(e, &fl);
    assert_int_equal(answer_error(&fl.answer, 0xBF39, 0x81), 1);
    assert_non_null(strstr(fl.info.outcome, "invalidDpAddress"));
    e->link.route = NULL;
    flow_free(&fl);
}

static void test_status_mapping(void **state)
{
    env *e = *state;
    run_matching_id_refused(e, false);
    run_matching_id_refused(e, true);
}

/* The table itself (eim_relay_status.c) with the SM-DP+'s pairs (lib/smdp, NOTES §4.2). */
static void test_status_table(void **state)
{
    (void)state;
    const sgp32_eim_relay_function IA = SGP32_EIM_RELAY_INITIATE_AUTHENTICATION,
                                   AC = SGP32_EIM_RELAY_AUTHENTICATE_CLIENT,
                                   GB = SGP32_EIM_RELAY_GET_BOUND_PROFILE_PACKAGE,
                                   CS = SGP32_EIM_RELAY_CANCEL_SESSION;
    static const struct {
        sgp32_eim_relay_function f;
        const char *subject, *reason;
        int64_t code;
    } cases[] = {
        {IA, "8.8.1", "3.8", 1},   {IA, "8.8.3", "3.1", 2},   {IA, "8.8.2", "3.1", 3},
        {IA, "8.8.4", "3.7", 3},   {IA, "1.6", "2.1", 127},   {AC, "8.1.2", "6.1", 1},
        {AC, "8.1.2", "6.3", 2},   {AC, "8.1.3", "6.1", 3},   {AC, "8.1.3", "6.3", 4},
        {AC, "8.1", "6.1", 5},     {AC, "8.2.6", "3.8", 6},   {AC, "8.1.1", "3.9", 6},
        {AC, "8.1.1", "3.8", 7},   {AC, "8.1.1", "3.10", 7},  {AC, "8.2.5", "4.3", 8},
        {AC, "8.2", "1.2", 8},     {AC, "8.11.1", "3.9", 9},  {AC, "8.10.1", "3.9", 10},
        {AC, "8.1", "4.8", 11},    {AC, "8.8.5", "6.4", 127}, {AC, "8.2.7", "6.4", 127},
        {GB, "8.1", "6.1", 1},     {GB, "8.2.7", "2.2", 2},   {GB, "8.2.7", "3.8", 3},
        {GB, "8.2.7", "6.4", 4},   {GB, "8.2", "3.7", 5},     {GB, "8.8.5", "4.10", 6},
        {GB, "8.10.1", "3.9", 95}, {GB, "8.1", "4.2", 127},   {CS, "8.10.1", "3.9", 1},
        {CS, "8.1", "6.1", 2},     {CS, "8.8", "3.10", 127},
    };
    for (size_t i = 0; i < SGP32_ARRAY_LEN(cases); i++)
        assert_int_equal(sgp32_eim_relay_error_from_status(cases[i].f, cases[i].subject, cases[i].reason),
                         cases[i].code);
    /* ES9+ ASN.1 codes carry over where both lists have them */
    assert_int_equal(sgp32_eim_relay_error_from_code(AC, 6), 6);
    assert_int_equal(sgp32_eim_relay_error_from_code(AC, 50), 127); /* pprNotAllowed is not ES9+'s */
    assert_int_equal(sgp32_eim_relay_error_from_code(GB, 95), 95);
    assert_int_equal(sgp32_eim_relay_error_from_code(GB, 50), 127);
    assert_int_equal(sgp32_eim_relay_error_from_code(IA, 3), 3);
    assert_int_equal(sgp32_eim_relay_error_from_code(CS, 2), 2);
    assert_int_equal(sgp32_eim_relay_error_from_code(CS, 3), 127);
}

/* es9_call fails (no route, timeout): undefinedError 127. */
static void test_transport_failure(void **state)
{
    env *e = *state;
    flow fl;
    flow_init(&fl);
    fl.smdp_address = "elsewhere.example.com"; /* not allowed: never contacted */
    initiate(e, &fl);
    assert_int_equal(answer_error(&fl.answer, 0xBF39, 0x81), 1);
    fl.smdp_address = "unreachable.example.com";
    initiate(e, &fl);
    assert_int_equal(answer_error(&fl.answer, 0xBF39, 0x81), 127);
    assert_non_null(strstr(fl.info.outcome, "unreachable.example.com"));
    e->link.transport_error = SGP32_ERR_TRANSPORT_TIMEOUT;
    fl.smdp_address = SMDP;
    initiate(e, &fl);
    assert_int_equal(answer_error(&fl.answer, 0xBF39, 0x81), 127);

    /* a transport failure in the middle of a session: 127 as well, the session stays */
    e->link.transport_error = 0;
    char iccid[SGP32_SMDP_ICCID_MAX + 1], mid[SGP32_SMDP_MATCHING_ID_MAX + 1];
    make_order(e, e->eid, iccid, mid);
    fl.smdp_address = NULL;
    fl.op_id = ac_op(e, e->eid, SMDP, mid, NULL);
    initiate(e, &fl);
    authenticate_server(e, &fl);
    e->link.transport_error = SGP32_ERR_TRANSPORT_CONNECT;
    authenticate_client(e, &fl);
    assert_int_equal(answer_error(&fl.answer, 0xBF3B, 0x82), 127);
    assert_true(relay_exists(e, &fl, NULL));
    /* no ES9+ client at all */
    e->link.transport_error = 0;
    e->eim.config.es9_call = NULL;
    initiate(e, &fl);
    assert_int_equal(answer_error(&fl.answer, 0xBF39, 0x81), 127);
    flow_free(&fl);
}

/* CancelSession after AuthenticateClient: relayed, the relay session removed, the order back. */
static void test_cancel_session(void **state)
{
    env *e = *state;
    char iccid[SGP32_SMDP_ICCID_MAX + 1], mid[SGP32_SMDP_MATCHING_ID_MAX + 1];
    make_order(e, e->eid, iccid, mid);
    flow fl;
    flow_init(&fl);
    fl.op_id = ac_op(e, e->eid, SMDP, mid, NULL);
    initiate(e, &fl);
    authenticate_server(e, &fl);
    authenticate_client(e, &fl);
    assert_int_equal(answer_error(&fl.answer, 0xBF3B, 0x82), -1);

    /* ES10b CancelSession BF41 {80 txid, 81 postponed} on the eUICC */
    sgp32_buf req;
    sgp32_buf_init(&req, 256);
    size_t mark = sgp32_asn1_begin(&req);
    assert_int_equal(sgp32_asn1_write_tlv(&req, 0x80, fl.txid, fl.txid_len), SGP32_OK);
    assert_int_equal(sgp32_asn1_write_integer(&req, 0x81, 1), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&req, 0xBF41, mark), SGP32_OK);
    es10(e, req.data, req.len, &fl.es10);
    /* ESipa BF41 {80 txid, A1 <contents of the eUICC's BF41>} */
    sgp32_buf_reset(&fl.request);
    mark = sgp32_asn1_begin(&fl.request);
    assert_int_equal(sgp32_asn1_write_tlv(&fl.request, 0x80, fl.txid, fl.txid_len), SGP32_OK);
    assert_int_equal(sgp32_asn1_write_retagged(&fl.request, 0xA1, sgp32_buf_bytes(&fl.es10)), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&fl.request, 0xBF41, mark), SGP32_OK);
    assert_int_equal(relay(e, &fl, &sgp32_type_cancel_session_request_esipa, fn_cs), SGP32_OK);
    static const uint8_t ok[] = {0xBF, 0x41, 0x02, 0xA0, 0x00};
    assert_int_equal(fl.answer.len, sizeof(ok));
    assert_memory_equal(fl.answer.data, ok, sizeof(ok));
    assert_int_equal(e->link.last_tag, 0xBF41);
    assert_false(relay_exists(e, &fl, NULL));
    assert_int_equal(order_state(e, iccid), SGP32_ORDER_RELEASED); /* postponed: may be retried */
    assert_string_equal(fl.info.outcome, "relayed to " SMDP ": ok");
    /* again: the relay no longer knows it */
    size_t calls = e->link.calls;
    assert_int_equal(relay(e, &fl, &sgp32_type_cancel_session_request_esipa, fn_cs), SGP32_OK);
    assert_int_equal(answer_error(&fl.answer, 0xBF41, 0x81), 1);
    assert_int_equal(e->link.calls, calls);
    sgp32_buf_free(&req);
    flow_free(&fl);
}

/* CERT.EUICC names another eUICC than the download operation's: eidMismatch, not relayed. */
static void test_eid_mismatch(void **state)
{
    env *e = *state;
    char other[SGP32_EIM_EID_DIGITS + 1] = "89049032123451234512345678999900";
    assert_int_equal(sgp32_eid_set_check_digits(other), SGP32_OK);
    register_euicc(e, other);
    flow fl;
    flow_init(&fl);
    fl.op_id = ac_op(e, other, SMDP, "ANY", NULL);
    initiate(e, &fl);
    assert_int_equal(answer_error(&fl.answer, 0xBF39, 0x81), -1);
    authenticate_server(e, &fl);
    size_t calls = e->link.calls;
    authenticate_client(e, &fl);
    assert_int_equal(answer_error(&fl.answer, 0xBF3B, 0x82), 7);
    assert_int_equal(e->link.calls, calls);
    /* nothing learned for either eUICC */
    sgp32_eim_euicc rec;
    sgp32_eim_euicc_init(&rec);
    assert_int_equal(e->st->euicc_get(e->st->ctx, other, &rec), SGP32_OK);
    assert_int_equal(rec.euicc_certificate.len, 0);
    sgp32_eim_euicc_free(&rec);
    flow_free(&fl);
}

/* Forwarding: a failing es9_call reschedules with backoff, a succeeding one deletes; refusals are
 * final; 20 failures drop the item. */
static void test_forward_backoff(void **state)
{
    env *e = *state;
    /* a notification the SM-DP+ will refuse (no session for it): taken and deleted */
    static const uint8_t other_notification[] = {0x30, 0x03, 0x02, 0x01, 0x00};
    sgp32_eim_outbox_item item;
    sgp32_eim_outbox_item_init(&item);
    snprintf(item.eid, sizeof(item.eid), "%s", e->eid);
    snprintf(item.address, sizeof(item.address), "%s", SMDP);
    assert_int_equal(sgp32_buf_append(&item.notification, other_notification, sizeof(other_notification)),
                     SGP32_OK);
    item.next_attempt = g_now;
    assert_int_equal(e->st->outbox_put(e->st->ctx, &item), SGP32_OK);
    int64_t id = item.id;

    e->link.transport_error = SGP32_ERR_TRANSPORT_TIMEOUT;
    size_t forwarded = 99;
    assert_int_equal(sgp32_eim_forward_notifications(&e->eim, 10, &forwarded), SGP32_OK);
    assert_int_equal(forwarded, 0);
    assert_int_equal(e->link.calls, 1);
    sgp32_eim_outbox_item_free(&item);
    sgp32_eim_outbox_item_init(&item);
    assert_int_equal(e->st->outbox_next(e->st->ctx, g_now, &item), SGP32_ERR_NOT_FOUND);
    assert_int_equal(e->st->outbox_next(e->st->ctx, g_now + 60, &item), SGP32_OK);
    assert_int_equal(item.id, id);
    assert_int_equal(item.attempts, 1);
    assert_int_equal(item.next_attempt, g_now + 60);
    /* not due: nothing happens */
    assert_int_equal(sgp32_eim_forward_notifications(&e->eim, 10, &forwarded), SGP32_OK);
    assert_int_equal(e->link.calls, 1);
    /* second failure: 120 s */
    g_now += 60;
    assert_int_equal(sgp32_eim_forward_notifications(&e->eim, 10, &forwarded), SGP32_OK);
    sgp32_eim_outbox_item_free(&item);
    sgp32_eim_outbox_item_init(&item);
    assert_int_equal(e->st->outbox_next(e->st->ctx, g_now + 120, &item), SGP32_OK);
    assert_int_equal(item.attempts, 2);
    assert_int_equal(item.next_attempt, g_now + 120);
    /* the SM-DP+ answers, refusing it: taken, deleted, audited */
    e->link.transport_error = 0;
    g_now += 120;
    assert_int_equal(sgp32_eim_forward_notifications(&e->eim, 10, &forwarded), SGP32_OK);
    assert_int_equal(forwarded, 0);
    assert_int_equal(e->link.last_tag, 0xBF3D);
    sgp32_eim_outbox_item_free(&item);
    sgp32_eim_outbox_item_init(&item);
    assert_int_equal(e->st->outbox_next(e->st->ctx, g_now + 86400, &item), SGP32_ERR_NOT_FOUND);
    assert_int_equal(count_events(e, "notification.refused"), 1);

    /* an unreachable SM-DP+: the delay grows to an hour, then the item is dropped after 20 */
    sgp32_eim_outbox_item_free(&item);
    sgp32_eim_outbox_item_init(&item);
    snprintf(item.eid, sizeof(item.eid), "%s", e->eid);
    snprintf(item.address, sizeof(item.address), "gone.example.com");
    assert_int_equal(sgp32_buf_append(&item.notification, other_notification, sizeof(other_notification)),
                     SGP32_OK);
    item.next_attempt = g_now;
    assert_int_equal(e->st->outbox_put(e->st->ctx, &item), SGP32_OK);
    for (int attempt = 1; attempt < 20; attempt++) {
        assert_int_equal(sgp32_eim_forward_notifications(&e->eim, 10, &forwarded), SGP32_OK);
        sgp32_eim_outbox_item_free(&item);
        sgp32_eim_outbox_item_init(&item);
        assert_int_equal(e->st->outbox_next(e->st->ctx, g_now + 7200, &item), SGP32_OK);
        assert_int_equal(item.attempts, attempt);
        int64_t delay = attempt >= 7 ? 3600 : (int64_t)30 << attempt;
        assert_int_equal(item.next_attempt - g_now, delay);
        g_now = item.next_attempt;
    }
    assert_int_equal(sgp32_eim_forward_notifications(&e->eim, 10, &forwarded), SGP32_OK);
    sgp32_eim_outbox_item_free(&item);
    sgp32_eim_outbox_item_init(&item);
    assert_int_equal(e->st->outbox_next(e->st->ctx, g_now + 86400, &item), SGP32_ERR_NOT_FOUND);
    assert_int_equal(count_events(e, "notification.dropped"), 1);
    sgp32_eim_outbox_item_free(&item);
}

/* An expired relay session is unknown. */
static void test_relay_expiry(void **state)
{
    env *e = *state;
    flow fl;
    flow_init(&fl);
    fl.smdp_address = SMDP;
    initiate(e, &fl);
    authenticate_server(e, &fl);
    assert_true(relay_exists(e, &fl, NULL));
    g_now += 1801;
    authenticate_client(e, &fl);
    assert_int_equal(answer_error(&fl.answer, 0xBF3B, 0x82), 10);
    assert_false(relay_exists(e, &fl, NULL));
    flow_free(&fl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_indirect_download, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indirect_download_dispatcher_compact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_address_and_info1_sources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_transaction_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_address_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oid_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_mapping, setup, teardown),
        cmocka_unit_test(test_status_table),
        cmocka_unit_test_setup_teardown(test_transport_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eid_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relay_expiry, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

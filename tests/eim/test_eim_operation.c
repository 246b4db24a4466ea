/*
 * eIM operations and results (lib/eim/eim_operation.c, eim_result.c; SGP.32 §2.11, NOTES §8):
 * every action kind parsed, made canonical, built into its package and decoded back with the
 * typed codec; PSMO and eCO packages executed by the software eUICC (AddInitialEim for the eIM
 * key, then ES10b LoadEuiccPackage), the results verified and summarised (JSON and profile
 * updates); summaries of IpaEuiccData, download and notification results; and a table of
 * malformed operations, each refused with the path of what is wrong.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../lib/euicc/euicc_internal.h"
#include "euicc_fixture.h"
#include "sgp32/asn1.h"
#include "sgp32/certificate.h"
#include "sgp32/eim_package.h"
#include "sgp32/eim_server.h"
#include "sgp32/text.h"

#define EIM_ID  "eim.example.com"
#define ICCID_A EUICC_FIXTURE_BOOTSTRAP_ICCID /* enabled at manufacture */
#define ICCID_B "8900000000000000012"
#define ICCID_C "8900000000000000023"

/* ------------------------------------------------------------ helpers */

typedef struct tctx {
    euicc_fixture f;
    sgp32_ec_private_key eim_key;
    sgp32_ec_public_key eim_pub;
    sgp32_ec_public_key euicc_key; /* PK.EUICC (SGP.26 NIST) */
    sgp32_eim_euicc euicc;         /* the eIM's record of the card */
    sgp32_eim_signer signer;
    int64_t counter;
    int64_t next_id;
    sgp32_arena arena;
} tctx;

static sgp32_bytes keep(tctx *t, const void *data, size_t len)
{
    uint8_t *p = sgp32_arena_alloc(&t->arena, len ? len : 1);
    assert_non_null(p);
    memcpy(p, data, len);
    return (sgp32_bytes){p, len};
}

static sgp32_bytes text_bytes(tctx *t, const char *s)
{
    return keep(t, s, strlen(s));
}

static void read_spec_file(const char *name, sgp32_buf *out)
{
    char path[512];
    snprintf(path, sizeof(path), SGP32_SPEC_DIR "/sgp26/%s", name);
    assert_int_equal(test_read_file(path, out), SGP32_OK);
}

static void cert_key(const char *name, sgp32_ec_public_key *key)
{
    sgp32_buf der;
    read_spec_file(name, &der);
    sgp32_certificate *cert = calloc(1, sizeof(*cert));
    assert_int_equal(sgp32_cert_parse(der.data, der.len, cert), SGP32_OK);
    *key = cert->public_key;
    free(cert);
    sgp32_buf_free(&der);
}

static char *base64_of(const uint8_t *data, size_t len)
{
    char *s = malloc(sgp32_base64_encoded_len(len) + 1);
    assert_non_null(s);
    sgp32_base64_encode(data, len, s);
    return s;
}

/* The canonical JSON of an accepted operation (caller frees). */
static char *canonical(const char *json, sgp32_eim_op_kind kind)
{
    sgp32_eim_operation_spec spec;
    char error[512];
    sgp32_eim_operation_spec_init(&spec);
    int rc = sgp32_eim_operation_parse(json, strlen(json), &spec, error, sizeof(error));
    if (rc)
        fail_msg("%s refused: %s", json, error);
    assert_int_equal(spec.kind, kind);
    assert_int_equal(spec.canonical.data[spec.canonical.len], '\0');
    char *copy = strdup((const char *)spec.canonical.data);
    sgp32_eim_operation_spec_free(&spec);
    return copy;
}

/* An operation record for the fixture's EID holding the canonical form of json. */
static void make_op(tctx *t, const char *json, sgp32_eim_op_kind kind, sgp32_eim_operation *op)
{
    char *c = canonical(json, kind);
    sgp32_eim_operation_init(op);
    op->id = ++t->next_id;
    op->kind = kind;
    strcpy(op->eid, EUICC_FIXTURE_EID);
    assert_int_equal(sgp32_buf_append(&op->request, c, strlen(c)), SGP32_OK);
    free(c);
}

static void expect_txid(const sgp32_eim_operation *op, sgp32_bytes txid)
{
    uint8_t want[SGP32_EIM_TXID_LEN];
    sgp32_eim_transaction_id(op->id, want);
    assert_int_equal(txid.len, SGP32_EIM_TXID_LEN);
    assert_memory_equal(txid.data, want, SGP32_EIM_TXID_LEN);
    assert_int_equal(sgp32_eim_operation_id(txid.data, txid.len), op->id);
}

static sgp32_bytes iccid_bcd(tctx *t, const char *digits)
{
    uint8_t b[10];
    assert_int_equal(euicc_iccid_from_text(digits, b), SGP32_OK);
    return keep(t, b, 10);
}

static void expect_iccid(tctx *t, sgp32_bytes got, const char *digits)
{
    sgp32_bytes want = iccid_bcd(t, digits);
    assert_int_equal(got.len, 10);
    assert_memory_equal(got.data, want.data, 10);
}

static void expect_text(sgp32_bytes got, const char *want)
{
    assert_int_equal(got.len, strlen(want));
    assert_memory_equal(got.data, want, got.len);
}

static void setup(tctx *t)
{
    memset(t, 0, sizeof(*t));
    sgp32_arena_init(&t->arena, 16 << 20);
    assert_int_equal(euicc_fixture_open(&t->f), SGP32_OK);
    cert_key("eUICC/CERT_EUICC_ECDSA_NIST.der", &t->euicc_key);
    assert_int_equal(sgp32_ec_generate(SGP32_CURVE_NIST_P256, &t->eim_key, &t->eim_pub), SGP32_OK);
    sgp32_eim_euicc_init(&t->euicc);
    strcpy(t->euicc.eid, EUICC_FIXTURE_EID);
    t->signer.eim_id = EIM_ID;
    t->signer.key = &t->eim_key;
    t->next_id = 1000;
}

static void teardown(tctx *t)
{
    sgp32_eim_euicc_free(&t->euicc);
    euicc_fixture_close(&t->f);
    sgp32_arena_free(&t->arena);
}

/* Associate the eIM with the card the way a factory does: AddInitialEim (BF57), token generated. */
static void associate(tctx *t)
{
    sgp32_buf spki;
    sgp32_buf_init(&spki, 256);
    assert_int_equal(sgp32_ec_public_to_spki(&t->eim_pub, &spki), SGP32_OK);
    sgp32_eim_configuration_data c;
    memset(&c, 0, sizeof(c));
    c.eim_id = text_bytes(t, EIM_ID);
    c.has_eim_fqdn = true;
    c.eim_fqdn = text_bytes(t, EIM_ID);
    c.has_eim_id_type = true;
    c.eim_id_type = SGP32_EIM_ID_TYPE_EIM_ID_TYPE_FQDN;
    c.has_counter_value = true;
    c.has_association_token = true;
    c.association_token = -1;
    c.has_eim_public_key_data = true;
    c.eim_public_key_data.choice = SGP32_EIM_CONFIGURATION_DATA_EIM_PUBLIC_KEY_DATA_EIM_PUBLIC_KEY;
    c.eim_public_key_data.u.eim_public_key = keep(t, spki.data, spki.len);
    sgp32_add_initial_eim_request req;
    memset(&req, 0, sizeof(req));
    req.eim_configuration_data_list.items = &c;
    req.eim_configuration_data_list.count = 1;
    sgp32_buf b, resp;
    sgp32_buf_init(&b, 4096);
    sgp32_buf_init(&resp, 4096);
    assert_int_equal(sgp32_asn1_encode(&sgp32_type_add_initial_eim_request, &req, &b), SGP32_OK);
    assert_int_equal(sgp32_euicc_es10(t->f.euicc, b.data, b.len, &resp), SGP32_OK);
    sgp32_bytes kept = keep(t, resp.data, resp.len);
    sgp32_add_initial_eim_response r;
    memset(&r, 0, sizeof(r));
    assert_int_equal(
        sgp32_asn1_decode(&sgp32_type_add_initial_eim_response, kept.data, kept.len, &t->arena, &r),
        SGP32_OK);
    assert_int_equal(r.choice, SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_OK);
    assert_int_equal(r.u.add_initial_eim_ok.items[0].choice,
                     SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_OK_ITEM_ASSOCIATION_TOKEN);
    t->euicc.has_token = true;
    t->euicc.token = r.u.add_initial_eim_ok.items[0].u.association_token;
    sgp32_buf_free(&b);
    sgp32_buf_free(&resp);
    sgp32_buf_free(&spki);
}

/* TEST HELPER: a disabled operational profile put into the card's state directly (no download). */
static void add_test_profile(tctx *t, const char *digits, const char *name)
{
    euicc_state *s = &t->f.euicc->state;
    euicc_profile *p = &s->profiles[s->profile_count++];
    memset(p, 0, sizeof(*p));
    assert_int_equal(euicc_iccid_from_text(digits, p->iccid), SGP32_OK);
    static const uint8_t aid[16] = {0xA0, 0x00, 0x00, 0x05, 0x59, 0x10, 0x10, 0xFF,
                                    0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00, 0x20, 0x00};
    memcpy(p->aid, aid, 16);
    p->aid[15] = (uint8_t)s->profile_count;
    p->aid_len = 16;
    p->profile_class = SGP32_PROFILE_CLASS_OPERATIONAL;
    snprintf(p->profile_name, sizeof(p->profile_name), "%s", name);
    p->has_fallback_allowed = true;
    p->fallback_allowed = true;
    assert_int_equal(euicc_state_save(t->f.euicc), SGP32_OK);
}

/* Build op's package (next counter), decode it as an EuiccPackageRequest and check the envelope. */
static sgp32_euicc_package_request *build_signed(tctx *t, const sgp32_eim_operation *op, sgp32_buf *der)
{
    sgp32_buf_init(der, 64 << 10);
    assert_int_equal(sgp32_eim_operation_build(&t->signer, op, &t->euicc, ++t->counter, der), SGP32_OK);
    sgp32_bytes kept = keep(t, der->data, der->len);
    sgp32_euicc_package_request *r = sgp32_arena_alloc(&t->arena, sizeof(*r));
    assert_int_equal(sgp32_asn1_decode(&sgp32_type_euicc_package_request, kept.data, kept.len, &t->arena, r),
                     SGP32_OK);
    const sgp32_euicc_package_signed *s = &r->euicc_package_signed;
    expect_text(s->eim_id, EIM_ID);
    uint8_t eid[16];
    assert_int_equal(sgp32_eid_from_text(EUICC_FIXTURE_EID, eid), SGP32_OK);
    assert_int_equal(s->eid_value.len, 16);
    assert_memory_equal(s->eid_value.data, eid, 16);
    assert_int_equal(s->counter_value, t->counter);
    assert_true(s->has_eim_transaction_id);
    expect_txid(op, s->eim_transaction_id);
    /* eimSignature over the received euiccPackageSigned || 84 associationToken (NOTES §8.3) */
    uint8_t tlv[SGP32_EIM_TOKEN_TLV_MAX];
    size_t tlv_len;
    assert_int_equal(sgp32_eim_token_tlv(t->euicc.has_token, t->euicc.token, tlv, &tlv_len), SGP32_OK);
    sgp32_bytes parts[2] = {s->der, {tlv, tlv_len}};
    assert_int_equal(r->eim_signature.len, SGP32_EC_RAW_SIG_LEN);
    assert_int_equal(sgp32_ecdsa_verify(&t->eim_pub, parts, 2, r->eim_signature.data), SGP32_OK);
    return r;
}

static const sgp32_psmo *build_psmos(tctx *t, const char *json, size_t count)
{
    sgp32_eim_operation op;
    sgp32_buf der;
    make_op(t, json, SGP32_EIM_OP_PSMO, &op);
    sgp32_euicc_package_request *r = build_signed(t, &op, &der);
    assert_int_equal(r->euicc_package_signed.euicc_package.choice, SGP32_EUICC_PACKAGE_PSMO_LIST);
    assert_int_equal(r->euicc_package_signed.euicc_package.u.psmo_list.count, count);
    sgp32_buf_free(&der);
    sgp32_eim_operation_free(&op);
    return r->euicc_package_signed.euicc_package.u.psmo_list.items;
}

static const sgp32_eco *build_ecos(tctx *t, const char *json, size_t count, sgp32_buf *der)
{
    sgp32_eim_operation op;
    make_op(t, json, SGP32_EIM_OP_ECO, &op);
    sgp32_euicc_package_request *r = build_signed(t, &op, der);
    assert_int_equal(r->euicc_package_signed.euicc_package.choice, SGP32_EUICC_PACKAGE_ECO_LIST);
    assert_int_equal(r->euicc_package_signed.euicc_package.u.eco_list.count, count);
    sgp32_eim_operation_free(&op);
    return r->euicc_package_signed.euicc_package.u.eco_list.items;
}

/* The DER of an unsigned package (BF52 / BF54), uppercase hex with the txid replaced by "<T>". */
static char *unsigned_hex(tctx *t, const sgp32_eim_operation *op)
{
    sgp32_buf der;
    sgp32_buf_init(&der, 4096);
    assert_int_equal(sgp32_eim_operation_build(&t->signer, op, &t->euicc, 0, &der), SGP32_OK);
    char *hex = calloc(1, 2 * der.len + 1);
    sgp32_hex_encode(der.data, der.len, hex);
    uint8_t txid[8];
    char txid_hex[17];
    sgp32_eim_transaction_id(op->id, txid);
    sgp32_hex_encode(txid, 8, txid_hex);
    char *at = strstr(hex, txid_hex);
    assert_non_null(at);
    memcpy(at, "<T>", 3);
    memmove(at + 3, at + 16, strlen(at + 16) + 1);
    sgp32_buf_free(&der);
    return hex;
}

/* ------------------------------------------------------------ PSMOs and eCOs built */

static void every_psmo_builds(void **state)
{
    (void)state;
    tctx t;
    setup(&t);
    associate(&t);
    const sgp32_psmo *p = build_psmos(
        &t,
        "{\"psmo\":[{\"enable\":{\"iccid\":\"" ICCID_B "\",\"rollback\":true}},"
        "{\"disable\":{\"iccid\":\"" ICCID_A "F\"}},"
        "{\"delete\":{\"iccid\":\"" ICCID_C "\"}},"
        "{\"listProfileInfo\":{}},"
        "{\"listProfileInfo\":{\"iccid\":\"" ICCID_B "\",\"tags\":\"5a9f70\"}},"
        "{\"listProfileInfo\":{\"isdpAid\":\"A0000005591010FFFFFFFF8900001000\"}},"
        "{\"listProfileInfo\":{\"profileClass\":2}},"
        "{\"getRAT\":{}},"
        "{\"configureImmediateEnable\":{\"immediateEnable\":true,\"defaultSmdpOid\":\"1.3.6.1.4.1.99\","
        "\"defaultSmdpAddress\":\"smdp.example.com:8443\"}},"
        "{\"configureImmediateEnable\":{}},"
        "{\"setFallbackAttribute\":{\"iccid\":\"" ICCID_C "\"}},"
        "{\"unsetFallbackAttribute\":{}},"
        "{\"setDefaultDpAddress\":{\"address\":\"dp.example.com\"}},"
        "{\"setDefaultDpAddress\":{\"address\":\"\"}},"
        "{\"enable\":{\"iccid\":\"89000000000000000345\",\"rollback\":false}}]}",
        15);
    assert_int_equal(p[0].choice, SGP32_PSMO_ENABLE);
    expect_iccid(&t, p[0].u.enable.iccid, ICCID_B);
    assert_true(p[0].u.enable.rollback_flag);
    assert_int_equal(p[1].choice, SGP32_PSMO_DISABLE);
    expect_iccid(&t, p[1].u.disable.iccid, ICCID_A);
    assert_int_equal(p[2].choice, SGP32_PSMO_DELETE);
    expect_iccid(&t, p[2].u.delete.iccid, ICCID_C);
    assert_int_equal(p[3].choice, SGP32_PSMO_LIST_PROFILE_INFO);
    assert_false(p[3].u.list_profile_info.has_search_criteria);
    assert_false(p[3].u.list_profile_info.has_tag_list);
    assert_true(p[4].u.list_profile_info.has_search_criteria);
    assert_int_equal(p[4].u.list_profile_info.search_criteria.choice,
                     SGP32_PROFILE_INFO_LIST_REQUEST_SEARCH_CRITERIA_ICCID);
    expect_iccid(&t, p[4].u.list_profile_info.search_criteria.u.iccid, ICCID_B);
    assert_true(p[4].u.list_profile_info.has_tag_list);
    assert_memory_equal(p[4].u.list_profile_info.tag_list.data, "\x5A\x9F\x70", 3);
    assert_int_equal(p[5].u.list_profile_info.search_criteria.choice,
                     SGP32_PROFILE_INFO_LIST_REQUEST_SEARCH_CRITERIA_ISDP_AID);
    assert_int_equal(p[5].u.list_profile_info.search_criteria.u.isdp_aid.len, 16);
    assert_memory_equal(p[5].u.list_profile_info.search_criteria.u.isdp_aid.data, "\xA0\x00\x00\x05\x59", 5);
    assert_int_equal(p[6].u.list_profile_info.search_criteria.choice,
                     SGP32_PROFILE_INFO_LIST_REQUEST_SEARCH_CRITERIA_PROFILE_CLASS);
    assert_int_equal(p[6].u.list_profile_info.search_criteria.u.profile_class, 2);
    assert_int_equal(p[7].choice, SGP32_PSMO_GET_RAT);
    assert_int_equal(p[8].choice, SGP32_PSMO_CONFIGURE_IMMEDIATE_ENABLE);
    assert_true(p[8].u.configure_immediate_enable.immediate_enable_flag);
    assert_true(p[8].u.configure_immediate_enable.has_default_smdp_oid);
    assert_int_equal(p[8].u.configure_immediate_enable.default_smdp_oid.len, 6);
    assert_memory_equal(p[8].u.configure_immediate_enable.default_smdp_oid.data, "\x2B\x06\x01\x04\x01\x63",
                        6);
    expect_text(p[8].u.configure_immediate_enable.default_smdp_address, "smdp.example.com:8443");
    assert_false(p[9].u.configure_immediate_enable.immediate_enable_flag);
    assert_false(p[9].u.configure_immediate_enable.has_default_smdp_oid);
    assert_false(p[9].u.configure_immediate_enable.has_default_smdp_address);
    assert_int_equal(p[10].choice, SGP32_PSMO_SET_FALLBACK_ATTRIBUTE);
    expect_iccid(&t, p[10].u.set_fallback_attribute.iccid, ICCID_C);
    assert_int_equal(p[11].choice, SGP32_PSMO_UNSET_FALLBACK_ATTRIBUTE);
    assert_int_equal(p[12].choice, SGP32_PSMO_SET_DEFAULT_DP_ADDRESS);
    expect_text(p[12].u.set_default_dp_address.default_dp_address, "dp.example.com");
    expect_text(p[13].u.set_default_dp_address.default_dp_address, "");
    expect_iccid(&t, p[14].u.enable.iccid, "89000000000000000345");
    assert_false(p[14].u.enable.rollback_flag);
    teardown(&t);
}

static void every_eco_builds(void **state)
{
    (void)state;
    tctx t;
    setup(&t);
    /* without a token the package is signed with 84 01 00 (build_signed checks the signature) */
    sgp32_buf spki, cert, der;
    sgp32_buf_init(&spki, 256);
    assert_int_equal(sgp32_ec_public_to_spki(&t.eim_pub, &spki), SGP32_OK);
    read_spec_file("eUICC/CERT_EUICC_ECDSA_NIST.der", &cert);
    char *spki64 = base64_of(spki.data, spki.len), *cert64 = base64_of(cert.data, cert.len);
    char json[8192];
    snprintf(json, sizeof(json),
             "{\"eco\":[{\"addEim\":{\"eimId\":\"eim2.example.com\",\"eimFqdn\":\"eim2.example.com:8443\","
             "\"eimIdType\":\"fqdn\",\"counterValue\":10,\"associationToken\":-1,\"eimPublicKey\":\"%s\","
             "\"trustedTls\":\"%s\",\"protocols\":[\"injectHttps\",\"retrieveHttps\"],\"euiccCiPKId\":"
             "\"f54172bdf98a95d65cbeb88a38a1c11d800a85c3\","
             "\"indirectProfileDownload\":true}},"
             "{\"updateEim\":{\"eimId\":\"eim3\",\"eimIdType\":\"proprietary\",\"eimPublicKey\":\"%s\","
             "\"trustedTls\":\"%s\"}},"
             "{\"deleteEim\":{\"eimId\":\"old.example.com\"}},{\"listEim\":{}}]}",
             spki64, cert64, cert64, spki64);
    const sgp32_eco *e = build_ecos(&t, json, 4, &der);
    assert_int_equal(e[0].choice, SGP32_ECO_ADD_EIM);
    const sgp32_eim_configuration_data *a = &e[0].u.add_eim;
    expect_text(a->eim_id, "eim2.example.com");
    expect_text(a->eim_fqdn, "eim2.example.com:8443");
    assert_int_equal(a->eim_id_type, SGP32_EIM_ID_TYPE_EIM_ID_TYPE_FQDN);
    assert_true(a->has_counter_value);
    assert_int_equal(a->counter_value, 10);
    assert_int_equal(a->association_token, -1);
    /* A5 {A0 SPKI}: the decoder keeps the A0-tagged TLV; re-tagged it is the SPKI we gave */
    assert_int_equal(a->eim_public_key_data.choice,
                     SGP32_EIM_CONFIGURATION_DATA_EIM_PUBLIC_KEY_DATA_EIM_PUBLIC_KEY);
    assert_int_equal(a->eim_public_key_data.u.eim_public_key.data[0], 0xA0);
    sgp32_buf plain;
    sgp32_buf_init(&plain, 4096);
    assert_int_equal(sgp32_asn1_write_retagged(&plain, 0x30, a->eim_public_key_data.u.eim_public_key),
                     SGP32_OK);
    assert_int_equal(plain.len, spki.len);
    assert_memory_equal(plain.data, spki.data, spki.len);
    /* A6 {A1 certificate} */
    assert_int_equal(a->trusted_public_key_data_tls.choice,
                     SGP32_EIM_CONFIGURATION_DATA_TRUSTED_PUBLIC_KEY_DATA_TLS_TRUSTED_CERTIFICATE_TLS);
    assert_int_equal(a->trusted_public_key_data_tls.u.trusted_certificate_tls.data[0], 0xA1);
    sgp32_buf_reset(&plain);
    assert_int_equal(
        sgp32_asn1_write_retagged(&plain, 0x30, a->trusted_public_key_data_tls.u.trusted_certificate_tls),
        SGP32_OK);
    assert_int_equal(plain.len, cert.len);
    assert_memory_equal(plain.data, cert.data, cert.len);
    assert_true(a->has_eim_supported_protocol);
    assert_int_equal(a->eim_supported_protocol, SGP32_EIM_SUPPORTED_PROTOCOL_EIM_RETRIEVE_HTTPS |
                                                    SGP32_EIM_SUPPORTED_PROTOCOL_EIM_INJECT_HTTPS);
    assert_int_equal(a->euicc_ci_pk_id.len, 20);
    assert_int_equal(a->euicc_ci_pk_id.data[0], 0xF5);
    assert_true(a->indirect_profile_download);
    /* updateEim: the certificate as eimPublicKey (A1), the key as trustedTls (A0) */
    assert_int_equal(e[1].choice, SGP32_ECO_UPDATE_EIM);
    const sgp32_eim_configuration_data *u = &e[1].u.update_eim;
    expect_text(u->eim_id, "eim3");
    assert_int_equal(u->eim_id_type, SGP32_EIM_ID_TYPE_EIM_ID_TYPE_PROPRIETARY);
    assert_false(u->has_eim_fqdn);
    assert_false(u->has_counter_value);
    assert_false(u->has_association_token);
    assert_false(u->has_eim_supported_protocol);
    assert_false(u->indirect_profile_download);
    assert_int_equal(u->eim_public_key_data.choice,
                     SGP32_EIM_CONFIGURATION_DATA_EIM_PUBLIC_KEY_DATA_EIM_CERTIFICATE);
    assert_int_equal(u->trusted_public_key_data_tls.choice,
                     SGP32_EIM_CONFIGURATION_DATA_TRUSTED_PUBLIC_KEY_DATA_TLS_TRUSTED_EIM_PK_TLS);
    assert_int_equal(e[2].choice, SGP32_ECO_DELETE_EIM);
    expect_text(e[2].u.delete_eim.eim_id, "old.example.com");
    assert_int_equal(e[3].choice, SGP32_ECO_LIST_EIM);
    /* on the wire: A5 A0 ... and A6 A1 ..., protocols 87 02 05 A0 (bits 0 and 2) */
    char *hex = calloc(1, 2 * der.len + 1);
    sgp32_hex_encode(der.data, der.len, hex);
    assert_non_null(strstr(hex, "870205A0"));
    assert_non_null(strstr(hex, "8401FF"));
    assert_non_null(strstr(hex, "8900"));
    free(hex);
    free(spki64);
    free(cert64);
    sgp32_buf_free(&plain);
    sgp32_buf_free(&der);
    sgp32_buf_free(&spki);
    sgp32_buf_free(&cert);
    teardown(&t);
}

static void ipa_euicc_data_and_download_build(void **state)
{
    (void)state;
    tctx t;
    setup(&t);
    sgp32_eim_operation op;
    /* tagList in the order given, v1.2 IpaEuiccData tags (NOTES §8.8), txid 83 */
    make_op(&t,
            "{\"ipaEuiccData\":{\"tags\":[\"euiccInfo1\",\"notificationsList\",\"defaultSmdpAddress\","
            "\"euiccPackageResultList\",\"euiccInfo2\",\"rootSmdsAddress\",\"associationToken\","
            "\"eumCertificate\","
            "\"euiccCertificate\",\"ipaCapabilities\",\"deviceInfo\"],\"notificationSeq\":5,\"resultSeq\":7,"
            "\"euiccCiPKId\":\"aabb\"}}",
            SGP32_EIM_OP_IPA_EUICC_DATA, &op);
    char *hex = unsigned_hex(&t, &op);
    assert_string_equal(hex, "BF52275C0DBF20A081A2BF228384A5A6A8A9"
                             "0402AABB"
                             "A1038001"
                             "05"
                             "A2038001"
                             "07"
                             "8308<T>");
    free(hex);
    sgp32_eim_operation_free(&op);
    make_op(&t, "{\"ipaEuiccData\":{\"tags\":[\"euiccCertificate\"],\"notificationEvent\":1}}",
            SGP32_EIM_OP_IPA_EUICC_DATA, &op);
    hex = unsigned_hex(&t, &op);
    assert_string_equal(hex, "BF52135C01A6A10481020640"
                             "8308<T>"); /* notificationEnable: bit 1 */
    free(hex);
    sgp32_eim_operation_free(&op);

    /* download: the AC without "LPA:", contactDefaultSmdp, contactSmds, or no data (NOTES §8.9) */
    make_op(&t, "{\"download\":{\"activationCode\":\"LPA:1$smdp.example.com$MID-1\"}}", SGP32_EIM_OP_DOWNLOAD,
            &op);
    hex = unsigned_hex(&t, &op);
    assert_string_equal(hex, "BF5426A01A8018"
                             "3124736D64702E6578616D706C652E636F6D244D49442D31"
                             "8208<T>");
    free(hex);
    sgp32_eim_operation_free(&op);
    make_op(&t, "{\"download\":{\"defaultSmdp\":true}}", SGP32_EIM_OP_DOWNLOAD, &op);
    hex = unsigned_hex(&t, &op);
    assert_string_equal(hex, "BF540EA0028100"
                             "8208<T>");
    free(hex);
    sgp32_eim_operation_free(&op);
    make_op(&t, "{\"download\":{\"smds\":\"smds.example.com\"}}", SGP32_EIM_OP_DOWNLOAD, &op);
    hex = unsigned_hex(&t, &op);
    assert_string_equal(hex, "BF5420A014A2128010736D64732E6578616D706C652E636F6D"
                             "8208<T>");
    free(hex);
    sgp32_eim_operation_free(&op);
    make_op(&t, "{\"download\":{\"smds\":\"\"}}", SGP32_EIM_OP_DOWNLOAD, &op);
    hex = unsigned_hex(&t, &op);
    assert_string_equal(hex, "BF540EA002A200"
                             "8208<T>");
    free(hex);
    sgp32_eim_operation_free(&op);
    make_op(&t, "{\"download\":{}}", SGP32_EIM_OP_DOWNLOAD, &op);
    hex = unsigned_hex(&t, &op);
    assert_string_equal(hex, "BF540A"
                             "8208<T>");
    free(hex);
    /* and it decodes with the typed codec */
    sgp32_buf der;
    sgp32_buf_init(&der, 256);
    assert_int_equal(sgp32_eim_operation_build(&t.signer, &op, &t.euicc, 0, &der), SGP32_OK);
    sgp32_profile_download_trigger_request dl;
    memset(&dl, 0, sizeof(dl));
    assert_int_equal(
        sgp32_asn1_decode(&sgp32_type_profile_download_trigger_request, der.data, der.len, &t.arena, &dl),
        SGP32_OK);
    assert_false(dl.has_profile_download_data);
    expect_txid(&op, dl.eim_transaction_id);
    sgp32_buf_free(&der);
    sgp32_eim_operation_free(&op);
    teardown(&t);
}

static void canonical_forms(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
        sgp32_eim_op_kind kind;
    } cases[] = {
        {"{\"psmo\":[{\"enable\":{\"rollback\":false,\"iccid\":\"" ICCID_B "F\"}}]}",
         "{\"psmo\":[{\"enable\":{\"iccid\":\"" ICCID_B "\"}}]}", SGP32_EIM_OP_PSMO},
        {"{\"psmo\":[{\"enable\":{\"rollback\":true,\"iccid\":\"" ICCID_B "f\"}},{\"getRAT\":{}}]}",
         "{\"psmo\":[{\"enable\":{\"iccid\":\"" ICCID_B "\",\"rollback\":true}},{\"getRAT\":{}}]}",
         SGP32_EIM_OP_PSMO},
        {" { \"psmo\" : [ "
         "{\"listProfileInfo\":{\"tags\":\"5a9f70\",\"isdpAid\":\"a0000005591010ffffffff8900001000\"}} ] } ",
         "{\"psmo\":[{\"listProfileInfo\":{\"isdpAid\":\"A0000005591010FFFFFFFF8900001000\",\"tags\":"
         "\"5A9F70\"}}]}",
         SGP32_EIM_OP_PSMO},
        {"{\"psmo\":[{\"configureImmediateEnable\":{\"immediateEnable\":false,\"defaultSmdpAddress\":\"a.b\"}"
         "}]}",
         "{\"psmo\":[{\"configureImmediateEnable\":{\"defaultSmdpAddress\":\"a.b\"}}]}", SGP32_EIM_OP_PSMO},
        {"{\"eco\":[{\"updateEim\":{\"protocols\":[\"injectHttps\",\"retrieveHttps\"],\"eimId\":\"x\","
         "\"indirectProfileDownload\":false,\"euiccCiPKId\":\"0a0b\"}}]}",
         "{\"eco\":[{\"updateEim\":{\"eimId\":\"x\",\"euiccCiPKId\":\"0A0B\",\"protocols\":["
         "\"retrieveHttps\","
         "\"injectHttps\"]}}]}",
         SGP32_EIM_OP_ECO},
        {"{\"ipaEuiccData\":{\"tags\":[\"euiccInfo2\",\"euiccInfo1\"],\"euiccCiPKId\":\"ab\"}}",
         "{\"ipaEuiccData\":{\"euiccCiPKId\":\"AB\",\"tags\":[\"euiccInfo2\",\"euiccInfo1\"]}}",
         SGP32_EIM_OP_IPA_EUICC_DATA},
        {"{\"download\":{\"activationCode\":\"lpa:1$SMDP.example.com$$1.2.3$1\"}}",
         "{\"download\":{\"activationCode\":\"1$SMDP.example.com$$1.2.3$1\"}}", SGP32_EIM_OP_DOWNLOAD},
        {"{\"download\":{}}", "{\"download\":{}}", SGP32_EIM_OP_DOWNLOAD},
    };
    for (size_t i = 0; i < SGP32_ARRAY_LEN(cases); i++) {
        char *c = canonical(cases[i].in, cases[i].kind);
        if (strcmp(c, cases[i].out) != 0)
            fail_msg("case %zu: %s\n  want %s", i, c, cases[i].out);
        /* canonical is a fixed point */
        char *again = canonical(c, cases[i].kind);
        assert_string_equal(again, c);
        free(again);
        free(c);
    }
    /* parse_json takes a jansson value directly */
    json_t *v = json_pack("{s:[{s:{s:s}}]}", "psmo", "delete", "iccid", ICCID_C);
    sgp32_eim_operation_spec spec;
    char error[256];
    sgp32_eim_operation_spec_init(&spec);
    assert_int_equal(sgp32_eim_operation_parse_json(v, &spec, error, sizeof(error)), SGP32_OK);
    assert_int_equal(spec.kind, SGP32_EIM_OP_PSMO);
    assert_string_equal((const char *)spec.canonical.data,
                        "{\"psmo\":[{\"delete\":{\"iccid\":\"" ICCID_C "\"}}]}");
    json_decref(v);
    v = json_pack("{s:i}", "psmo", 1);
    assert_int_equal(sgp32_eim_operation_parse_json(v, &spec, error, sizeof(error)), SGP32_ERR_BAD_TEXT);
    assert_string_equal(error, "psmo: expected a list of 1 to 16 actions");
    json_decref(v);
    sgp32_eim_operation_spec_free(&spec);
}

/* ------------------------------------------------------------ rejection table */

static void malformed_operations_are_refused(void **state)
{
    (void)state;
    char many[2048] = "{\"psmo\":[";
    for (int i = 0; i < 17; i++)
        strcat(many, i ? ",{\"getRAT\":{}}" : "{\"getRAT\":{}}");
    strcat(many, "]}");
    char long_address[400];
    snprintf(long_address, sizeof(long_address),
             "{\"psmo\":[{\"setDefaultDpAddress\":{\"address\":\"%0256d\"}}]}", 0);
    char long_id[400];
    snprintf(long_id, sizeof(long_id), "{\"eco\":[{\"deleteEim\":{\"eimId\":\"%0129d\"}}]}", 0);
    const char *not_a_key = "BAEC"; /* base64 of 04 01 00 */
    char bad_key[256];
    snprintf(bad_key, sizeof(bad_key), "{\"eco\":[{\"addEim\":{\"eimId\":\"e\",\"eimPublicKey\":\"%s\"}}]}",
             not_a_key);
    static const char *const ac_error =
        "expected 1$<SM-DP+ address>$<matching ID>[$<SM-DP+ OID>[$1]] (255 characters at most)";
    char ac1[256], ac2[256], ac3[256];
    snprintf(ac1, sizeof(ac1), "download.activationCode: %s", ac_error);
    memcpy(ac2, ac1, sizeof(ac1));
    memcpy(ac3, ac1, sizeof(ac1));
    const struct {
        const char *json, *error;
    } cases[] = {
        {"[]", "operation: expected an object with one of psmo, eco, ipaEuiccData, download"},
        {"{}", "operation: expected exactly one of psmo, eco, ipaEuiccData, download"},
        {"{\"psmo\":[{\"getRAT\":{}}],\"eco\":[{\"listEim\":{}}]}",
         "operation: psmo and eco cannot be mixed: a package is all PSMOs or all eCOs"},
        {"{\"psmo\":[{\"getRAT\":{}}],\"download\":{}}",
         "operation: expected exactly one of psmo, eco, ipaEuiccData, download"},
        {"{\"reboot\":{}}", "reboot: unknown operation (expected psmo, eco, ipaEuiccData or download)"},
        {"{\"psmo\":[]}", "psmo: expected a list of 1 to 16 actions"},
        {"{\"psmo\":{\"getRAT\":{}}}", "psmo: expected a list of 1 to 16 actions"},
        {many, "psmo: expected a list of 1 to 16 actions"},
        {"{\"psmo\":[{\"enable\":{\"iccid\":\"123\"}}]}", "psmo[0].enable.iccid: expected 19 or 20 digits"},
        {"{\"psmo\":[{\"getRAT\":{}},{\"enable\":{\"iccid\":\"89000000000000000AB\"}}]}",
         "psmo[1].enable.iccid: expected 19 or 20 digits"},
        {"{\"psmo\":[{\"disable\":{\"iccid\":\"890000000000000000123\"}}]}",
         "psmo[0].disable.iccid: expected 19 or 20 digits"},
        {"{\"psmo\":[{\"delete\":{\"iccid\":\"89000000000000000123F\"}}]}",
         "psmo[0].delete.iccid: expected 19 or 20 digits"},
        {"{\"psmo\":[{\"delete\":{\"iccid\":8900000000000000012}}]}",
         "psmo[0].delete.iccid: expected a string"},
        {"{\"psmo\":[{\"disable\":{}}]}", "psmo[0].disable.iccid: required"},
        {"{\"psmo\":[{\"enable\":{\"iccid\":\"" ICCID_B "\",\"rollback\":\"yes\"}}]}",
         "psmo[0].enable.rollback: expected true or false"},
        {"{\"psmo\":[{\"enable\":{\"iccid\":\"" ICCID_B "\",\"force\":true}}]}",
         "psmo[0].enable.force: unknown key"},
        {"{\"psmo\":[{\"enable\":{\"iccid\":\"" ICCID_B "\"},\"disable\":{\"iccid\":\"" ICCID_A "\"}}]}",
         "psmo[0]: expected an object with exactly one action key"},
        {"{\"psmo\":[\"getRAT\"]}", "psmo[0]: expected an object with exactly one action key"},
        {"{\"psmo\":[{\"getRAT\":{}},{\"addEim\":{\"eimId\":\"x\"}}]}",
         "psmo[1].addEim: an eCO in a psmo list: a package is all PSMOs or all eCOs"},
        {"{\"eco\":[{\"enable\":{\"iccid\":\"" ICCID_B "\"}}]}",
         "eco[0].enable: a PSMO in an eco list: a package is all PSMOs or all eCOs"},
        {"{\"psmo\":[{\"reboot\":{}}]}",
         "psmo[0].reboot: unknown PSMO (expected enable, disable, delete, listProfileInfo, getRAT, "
         "configureImmediateEnable, setFallbackAttribute, unsetFallbackAttribute or setDefaultDpAddress)"},
        {"{\"eco\":[{\"resetEim\":{}}]}",
         "eco[0].resetEim: unknown eCO (expected addEim, updateEim, deleteEim or listEim)"},
        {"{\"psmo\":[{\"listProfileInfo\":{\"iccid\":\"" ICCID_B "\",\"profileClass\":1}}]}",
         "psmo[0].listProfileInfo: iccid, isdpAid and profileClass are alternatives: give one at most"},
        {"{\"psmo\":[{\"listProfileInfo\":{\"profileClass\":3}}]}",
         "psmo[0].listProfileInfo.profileClass: expected an integer from 0 to 2"},
        {"{\"psmo\":[{\"listProfileInfo\":{\"profileClass\":true}}]}",
         "psmo[0].listProfileInfo.profileClass: expected an integer"},
        {"{\"psmo\":[{\"listProfileInfo\":{\"isdpAid\":\"A0000005XY\"}}]}",
         "psmo[0].listProfileInfo.isdpAid: expected 5 to 16 bytes of hex"},
        {"{\"psmo\":[{\"listProfileInfo\":{\"isdpAid\":\"A000000559\",\"tags\":\"\"}}]}",
         "psmo[0].listProfileInfo.tags: expected 1 to 32 bytes of hex"},
        {"{\"psmo\":[{\"getRAT\":{\"all\":true}}]}", "psmo[0].getRAT.all: unknown key"},
        {"{\"psmo\":[{\"getRAT\":[]}]}", "psmo[0].getRAT: expected an object"},
        {"{\"psmo\":[{\"unsetFallbackAttribute\":{\"iccid\":\"" ICCID_B "\"}}]}",
         "psmo[0].unsetFallbackAttribute.iccid: unknown key"},
        {"{\"psmo\":[{\"configureImmediateEnable\":{\"defaultSmdpOid\":\"1.2.x\"}}]}",
         "psmo[0].configureImmediateEnable.defaultSmdpOid: expected a dotted object identifier like "
         "1.3.6.1.4.1.99"},
        {"{\"psmo\":[{\"configureImmediateEnable\":{\"defaultSmdpAddress\":\"smdp.example.com/path\"}}]}",
         "psmo[0].configureImmediateEnable.defaultSmdpAddress: expected a host name (letters, digits, '.', "
         "'-', "
         "optional :port)"},
        {"{\"psmo\":[{\"configureImmediateEnable\":{\"immediateEnable\":1}}]}",
         "psmo[0].configureImmediateEnable.immediateEnable: expected true or false"},
        {"{\"psmo\":[{\"setDefaultDpAddress\":{}}]}", "psmo[0].setDefaultDpAddress.address: required"},
        {long_address, "psmo[0].setDefaultDpAddress.address: expected a string of 0 to 255 bytes"},
        {"{\"psmo\":[{\"enable\":{\"iccid\":"
         "\"89000000000000000000000000000000000000000000000000000000000000000000000\"}}]}",
         "psmo[0].enable.iccid: expected 19 or 20 digits"},
        {"{\"psmo\":[{\"listProfileInfo\":{\"isdpAid\":\"A0000005591010FFFFFFFF890000100000\"}}]}",
         "psmo[0].listProfileInfo.isdpAid: expected 5 to 16 bytes of hex"},
        {"{\"psmo\":[{\"setFallbackAttribute\":{\"iccid\":\"\"}}]}",
         "psmo[0].setFallbackAttribute.iccid: expected 19 or 20 digits"},
        {"{\"eco\":[{\"addEim\":{\"eimFqdn\":\"eim.example.com\"}}]}", "eco[0].addEim.eimId: required"},
        {"{\"eco\":[{\"addEim\":{\"eimId\":\"e\"}}]}",
         "eco[0].addEim.eimPublicKey: required for addEim (the key that verifies the new eIM's packages)"},
        {"{\"eco\":[{\"addEim\":{\"eimId\":\"e\",\"eimPublicKey\":\"!!!!\"}}]}",
         "eco[0].addEim.eimPublicKey: expected base64 DER of at most 1024 bytes"},
        {bad_key,
         "eco[0].addEim.eimPublicKey: expected a SubjectPublicKeyInfo or an X.509 certificate (DER)"},
        {"{\"eco\":[{\"updateEim\":{\"eimId\":\"e\",\"eimIdType\":\"dns\"}}]}",
         "eco[0].updateEim.eimIdType: expected oid, fqdn or proprietary"},
        {"{\"eco\":[{\"updateEim\":{\"eimId\":\"e\",\"counterValue\":-1}}]}",
         "eco[0].updateEim.counterValue: expected an integer from 0 to 2147483647"},
        {"{\"eco\":[{\"updateEim\":{\"eimId\":\"e\",\"counterValue\":1.5}}]}",
         "eco[0].updateEim.counterValue: expected an integer"},
        {"{\"eco\":[{\"updateEim\":{\"eimId\":\"e\",\"associationToken\":-1}}]}",
         "eco[0].updateEim.associationToken: expected an integer from 0 to 2147483647"},
        {"{\"eco\":[{\"updateEim\":{\"eimId\":\"e\",\"protocols\":[]}}]}",
         "eco[0].updateEim.protocols: expected a list of 1 to 5 protocol names"},
        {"{\"eco\":[{\"updateEim\":{\"eimId\":\"e\",\"protocols\":[\"retrieveHttps\",\"retrieveHttps\"]}}]}",
         "eco[0].updateEim.protocols[1]: listed twice"},
        {"{\"eco\":[{\"updateEim\":{\"eimId\":\"e\",\"protocols\":[\"ftp\"]}}]}",
         "eco[0].updateEim.protocols[0]: expected retrieveHttps, retrieveCoaps, injectHttps, injectCoaps or "
         "proprietary"},
        {"{\"eco\":[{\"updateEim\":{\"eimId\":\"e\",\"euiccCiPKId\":\"abc\"}}]}",
         "eco[0].updateEim.euiccCiPKId: expected 1 to 32 bytes of hex"},
        {"{\"eco\":[{\"updateEim\":{\"eimId\":\"e\",\"eimFqdn\":\"\"}}]}",
         "eco[0].updateEim.eimFqdn: expected a string of 1 to 255 bytes"},
        {"{\"eco\":[{\"deleteEim\":{\"eimId\":\"\"}}]}",
         "eco[0].deleteEim.eimId: expected a string of 1 to 128 bytes"},
        {long_id, "eco[0].deleteEim.eimId: expected a string of 1 to 128 bytes"},
        {"{\"eco\":[{\"deleteEim\":{\"eimId\":\"a\\u0001b\"}}]}",
         "eco[0].deleteEim.eimId: control characters are not allowed"},
        {"{\"eco\":[{\"listEim\":null}]}", "eco[0].listEim: expected an object"},
        {"{\"ipaEuiccData\":{}}", "ipaEuiccData.tags: required"},
        {"{\"ipaEuiccData\":{\"tags\":[]}}",
         "ipaEuiccData.tags: expected a list of 1 to 11 IpaEuiccData field names"},
        {"{\"ipaEuiccData\":{\"tags\":[\"euiccInfo1\",\"euiccInfo1\"]}}",
         "ipaEuiccData.tags[1]: listed twice"},
        {"{\"ipaEuiccData\":{\"tags\":[\"profileInfo\"]}}",
         "ipaEuiccData.tags[0]: unknown IpaEuiccData field (expected notificationsList, defaultSmdpAddress, "
         "euiccPackageResultList, euiccInfo1, euiccInfo2, rootSmdsAddress, associationToken, eumCertificate, "
         "euiccCertificate, ipaCapabilities or deviceInfo)"},
        {"{\"ipaEuiccData\":{\"tags\":[\"euiccInfo1\"],\"notificationSeq\":1,\"notificationEvent\":1}}",
         "ipaEuiccData: notificationSeq and notificationEvent are alternatives: give one at most"},
        {"{\"ipaEuiccData\":{\"tags\":[\"euiccInfo1\"],\"notificationEvent\":4}}",
         "ipaEuiccData.notificationEvent: expected an integer from 0 to 3"},
        {"{\"ipaEuiccData\":{\"tags\":[\"euiccInfo1\"],\"resultSeq\":-3}}",
         "ipaEuiccData.resultSeq: expected an integer from 0 to 2147483647"},
        {"{\"ipaEuiccData\":{\"tags\":[\"euiccInfo1\"],\"since\":0}}", "ipaEuiccData.since: unknown key"},
        {"{\"download\":[]}", "download: expected an object"},
        {"{\"download\":{\"defaultSmdp\":true,\"smds\":\"smds.example.com\"}}",
         "download: activationCode, defaultSmdp and smds are alternatives: give one at most"},
        {"{\"download\":{\"activationCode\":\"2$smdp.example.com$MID\"}}", ac1},
        {"{\"download\":{\"activationCode\":\"LPA:1$$MID\"}}", ac2},
        {"{\"download\":{\"activationCode\":\"1$smdp.example.com$MID$1.2.3$2\"}}", ac3},
        {"{\"download\":{\"activationCode\":\"\"}}",
         "download.activationCode: expected a string of 1 to 259 bytes"},
        {"{\"download\":{\"defaultSmdp\":false}}",
         "download.defaultSmdp: expected true (leave it out otherwise)"},
        {"{\"download\":{\"smds\":\"smds example\"}}",
         "download.smds: expected a host name (letters, digits, '.', '-', optional :port)"},
        {"{\"download\":{\"matchingId\":\"X\"}}", "download.matchingId: unknown key"},
    };
    size_t n = SGP32_ARRAY_LEN(cases);
    assert_true(n >= 30);
    for (size_t i = 0; i < n; i++) {
        sgp32_eim_operation_spec spec;
        char error[512];
        sgp32_eim_operation_spec_init(&spec);
        int rc = sgp32_eim_operation_parse(cases[i].json, strlen(cases[i].json), &spec, error, sizeof(error));
        if (rc != SGP32_ERR_BAD_TEXT)
            fail_msg("case %zu accepted: %s", i, cases[i].json);
        if (strcmp(error, cases[i].error) != 0)
            fail_msg("case %zu: %s\n  error: %s\n  want:  %s", i, cases[i].json, error, cases[i].error);
        assert_int_equal(spec.canonical.len, 0);
        sgp32_eim_operation_spec_free(&spec);
    }
    /* not JSON at all, duplicate keys, oversized */
    sgp32_eim_operation_spec spec;
    char error[512];
    sgp32_eim_operation_spec_init(&spec);
    assert_int_equal(sgp32_eim_operation_parse("{\"psmo\":", 8, &spec, error, sizeof(error)),
                     SGP32_ERR_BAD_TEXT);
    assert_memory_equal(error, "operation: malformed JSON", 25);
    const char *dup = "{\"download\":{},\"download\":{}}";
    assert_int_equal(sgp32_eim_operation_parse(dup, strlen(dup), &spec, error, sizeof(error)),
                     SGP32_ERR_BAD_TEXT);
    assert_non_null(strstr(error, "duplicate"));
    size_t big = SGP32_EIM_OPERATION_JSON_MAX + 1;
    char *huge = malloc(big);
    memset(huge, ' ', big);
    assert_int_equal(sgp32_eim_operation_parse(huge, big, &spec, error, sizeof(error)), SGP32_ERR_BAD_TEXT);
    free(huge);
    /* a tiny error buffer is cut, never overrun */
    char tiny[8];
    assert_int_equal(sgp32_eim_operation_parse("[]", 2, &spec, tiny, sizeof(tiny)), SGP32_ERR_BAD_TEXT);
    assert_string_equal(tiny, "operati");
    assert_int_equal(sgp32_eim_operation_parse("[]", 2, &spec, NULL, 0), SGP32_ERR_BAD_TEXT);
    assert_int_equal(sgp32_eim_operation_parse(NULL, 0, &spec, error, sizeof(error)),
                     SGP32_ERR_INVALID_ARGUMENT);
    sgp32_eim_operation_spec_free(&spec);
}

static void build_refuses_what_does_not_fit(void **state)
{
    (void)state;
    tctx t;
    setup(&t);
    sgp32_eim_operation op;
    sgp32_buf der;
    sgp32_buf_init(&der, 4096);
    make_op(&t, "{\"psmo\":[{\"getRAT\":{}}]}", SGP32_EIM_OP_PSMO, &op);
    op.kind = SGP32_EIM_OP_ECO; /* the record says eco, the request is psmo */
    assert_int_equal(sgp32_eim_operation_build(&t.signer, &op, &t.euicc, 1, &der),
                     SGP32_ERR_INVALID_ARGUMENT);
    op.kind = SGP32_EIM_OP_PSMO;
    assert_int_equal(sgp32_eim_operation_build(NULL, &op, &t.euicc, 1, &der), SGP32_ERR_INVALID_ARGUMENT);
    strcpy(op.eid, "8904903212345123451234567890123X");
    assert_int_equal(sgp32_eim_operation_build(&t.signer, &op, &t.euicc, 1, &der), SGP32_ERR_BAD_TEXT);
    sgp32_buf_reset(&op.request);
    assert_int_equal(sgp32_buf_append(&op.request, "{\"psmo\":[]}", 11), SGP32_OK);
    strcpy(op.eid, EUICC_FIXTURE_EID);
    assert_int_equal(sgp32_eim_operation_build(&t.signer, &op, &t.euicc, 1, &der), SGP32_ERR_BAD_TEXT);
    assert_int_equal(der.len, 0);
    sgp32_buf_free(&der);
    sgp32_eim_operation_free(&op);
    teardown(&t);
}

/* ------------------------------------------------------------ executed by the software eUICC */

/* Build op's package, run it on the card (ES10b LoadEuiccPackage), verify and summarise. */
static void execute(tctx *t, const sgp32_eim_operation *op, bool bump_counter, sgp32_eim_result_summary *s)
{
    sgp32_buf pkg, resp;
    sgp32_buf_init(&pkg, 64 << 10);
    sgp32_buf_init(&resp, 64 << 10);
    if (bump_counter)
        t->counter++;
    assert_int_equal(sgp32_eim_operation_build(&t->signer, op, &t->euicc, t->counter, &pkg), SGP32_OK);
    assert_int_equal(sgp32_euicc_es10(t->f.euicc, pkg.data, pkg.len, &resp), SGP32_OK);
    sgp32_bytes kept = keep(t, resp.data, resp.len);
    sgp32_euicc_package_result *r = sgp32_arena_alloc(&t->arena, sizeof(*r));
    assert_int_equal(sgp32_eim_package_result_verify(kept.data, kept.len, &t->euicc_key, t->euicc.has_token,
                                                     t->euicc.token, &t->arena, r),
                     SGP32_OK);
    assert_int_equal(sgp32_eim_result_summarise_package(op, r, s), SGP32_OK);
    assert_int_equal(s->json.data[s->json.len], '\0');
    sgp32_buf_free(&pkg);
    sgp32_buf_free(&resp);
}

static void expect_update(const sgp32_eim_result_summary *s, size_t i, sgp32_eim_profile_change change,
                          const char *iccid)
{
    assert_true(i < s->update_count);
    assert_int_equal(s->updates[i].change, change);
    assert_string_equal(s->updates[i].profile.iccid, iccid);
}

static void psmos_run_on_the_software_euicc(void **state)
{
    (void)state;
    tctx t;
    setup(&t);
    associate(&t);
    add_test_profile(&t, ICCID_B, "Operator B");
    add_test_profile(&t, ICCID_C, "Operator C");
    sgp32_eim_result_summary s;
    sgp32_eim_result_summary_init(&s);
    sgp32_eim_operation op;

    /* enable a second profile, then try to delete it (enabled now): the card stops at the failure */
    make_op(&t,
            "{\"psmo\":[{\"enable\":{\"iccid\":\"" ICCID_B "\"}},{\"delete\":{\"iccid\":\"" ICCID_B
            "\"}},{\"getRAT\":{}}]}",
            SGP32_EIM_OP_PSMO, &op);
    execute(&t, &op, true, &s);
    char want[2048];
    snprintf(want, sizeof(want),
             "{\"signed\":true,\"seqNumber\":%lld,\"counterValue\":1,\"results\":[{\"enable\":\"ok\"},"
             "{\"delete\":\"profileNotInDisabledState\"}]}",
             (long long)s.seq_number);
    assert_string_equal((const char *)s.json.data, want);
    assert_true(s.has_seq_number);
    assert_false(s.success);
    assert_false(s.profiles_listed);
    assert_int_equal(s.update_count, 1);
    expect_update(&s, 0, SGP32_EIM_CHANGE_ENABLED, ICCID_B);
    assert_int_equal(s.new_association_token, -1);
    char enabled[21];
    assert_int_equal(sgp32_euicc_enabled_iccid(t.f.euicc, enabled), SGP32_OK);
    assert_string_equal(enabled, ICCID_B);
    sgp32_eim_operation_free(&op);

    /* the whole list: every profile an UPSERT */
    make_op(&t, "{\"psmo\":[{\"listProfileInfo\":{}}]}", SGP32_EIM_OP_PSMO, &op);
    execute(&t, &op, true, &s);
    /* the bootstrap profile's AID is the card's: take it from the JSON, check the rest exactly */
    const char *aid_at = strstr((const char *)s.json.data, "\"isdpAid\":\"");
    assert_non_null(aid_at);
    char aid[33];
    memcpy(aid, aid_at + 11, 32);
    aid[32] = '\0';
    snprintf(
        want, sizeof(want),
        "{\"signed\":true,\"seqNumber\":%lld,\"counterValue\":2,\"results\":[{\"listProfileInfo\":{"
        "\"profiles\":["
        "{\"iccid\":\"" ICCID_A "\",\"isdpAid\":\"%s\",\"state\":\"disabled\",\"class\":\"provisioning\","
        "\"name\":\"Bootstrap\",\"serviceProvider\":\"sgp32 test\",\"fallback\":false},"
        "{\"iccid\":\"" ICCID_B "\",\"isdpAid\":\"A0000005591010FFFFFFFF8900002002\",\"state\":\"enabled\","
        "\"class\":\"operational\",\"name\":\"Operator B\",\"serviceProvider\":\"\",\"fallback\":false},"
        "{\"iccid\":\"" ICCID_C "\",\"isdpAid\":\"A0000005591010FFFFFFFF8900002003\",\"state\":\"disabled\","
        "\"class\":\"operational\",\"name\":\"Operator C\",\"serviceProvider\":\"\",\"fallback\":false}]}}]}",
        (long long)s.seq_number, aid);
    assert_string_equal((const char *)s.json.data, want);
    assert_true(s.success);
    assert_true(s.profiles_listed);
    assert_int_equal(s.update_count, 3);
    expect_update(&s, 0, SGP32_EIM_CHANGE_UPSERT, ICCID_A);
    assert_int_equal(s.updates[0].profile.state, SGP32_EIM_PROFILE_DISABLED);
    assert_int_equal(s.updates[0].profile.profile_class, 1);
    assert_string_equal(s.updates[0].profile.name, "Bootstrap");
    assert_string_equal(s.updates[0].profile.service_provider, "sgp32 test");
    expect_update(&s, 1, SGP32_EIM_CHANGE_UPSERT, ICCID_B);
    assert_int_equal(s.updates[1].profile.state, SGP32_EIM_PROFILE_ENABLED);
    assert_int_equal(s.updates[1].profile.profile_class, 2);
    assert_string_equal(s.updates[1].profile.name, "Operator B");
    expect_update(&s, 2, SGP32_EIM_CHANGE_UPSERT, ICCID_C);
    assert_false(s.updates[2].profile.fallback);
    sgp32_eim_operation_free(&op);

    /* fallback, a filtered list (not the whole list), disable, delete: every ok gives its update */
    make_op(&t,
            "{\"psmo\":[{\"setFallbackAttribute\":{\"iccid\":\"" ICCID_C
            "\"}},{\"listProfileInfo\":{\"profileClass\":2}},"
            "{\"unsetFallbackAttribute\":{}},{\"getRAT\":{}},{\"setDefaultDpAddress\":{\"address\":\"dp2."
            "example.com\"}},"
            "{\"configureImmediateEnable\":{\"immediateEnable\":true}},{\"disable\":{\"iccid\":\"" ICCID_B
            "\"}},"
            "{\"delete\":{\"iccid\":\"" ICCID_B "\"}}]}",
            SGP32_EIM_OP_PSMO, &op);
    execute(&t, &op, true, &s);
    assert_non_null(
        strstr((const char *)s.json.data,
               "\"results\":[{\"setFallbackAttribute\":\"ok\"},{\"listProfileInfo\":{\"profiles\":["
               "{\"iccid\":\"" ICCID_B "\""));
    assert_non_null(strstr((const char *)s.json.data,
                           "\"fallback\":true}]}},{\"unsetFallbackAttribute\":\"ok\"},"
                           "{\"getRAT\":{\"rat\":\""));
    assert_non_null(strstr((const char *)s.json.data,
                           "{\"setDefaultDpAddress\":\"ok\"},{\"configureImmediateEnable\":"
                           "\"ok\"},{\"disable\":\"ok\"},{\"delete\":\"ok\"}]}"));
    assert_true(s.success);
    assert_false(s.profiles_listed);
    assert_int_equal(s.update_count, 6);
    expect_update(&s, 0, SGP32_EIM_CHANGE_FALLBACK, ICCID_C);
    expect_update(&s, 1, SGP32_EIM_CHANGE_UPSERT, ICCID_B);
    expect_update(&s, 2, SGP32_EIM_CHANGE_UPSERT, ICCID_C);
    assert_true(s.updates[2].profile.fallback);
    expect_update(&s, 3, SGP32_EIM_CHANGE_NO_FALLBACK, "");
    expect_update(&s, 4, SGP32_EIM_CHANGE_DISABLED, ICCID_B);
    expect_update(&s, 5, SGP32_EIM_CHANGE_DELETED, ICCID_B);
    assert_int_not_equal(sgp32_euicc_enabled_iccid(t.f.euicc, enabled), SGP32_OK);

    /* the same bytes again: the card refuses the replay with a signed error */
    execute(&t, &op, false, &s);
    char replay[128];
    snprintf(replay, sizeof(replay), "{\"signed\":true,\"error\":\"replayError\",\"counterValue\":%lld}",
             (long long)t.counter);
    assert_string_equal((const char *)s.json.data, replay);
    assert_false(s.success);
    assert_false(s.has_seq_number);
    assert_int_equal(s.update_count, 0);
    sgp32_eim_operation_free(&op);

    /* an enable that fails, a disable of what is not enabled */
    make_op(&t,
            "{\"psmo\":[{\"enable\":{\"iccid\":\"8900000000000000999\"}},{\"disable\":{\"iccid\":\"" ICCID_C
            "\"}}]}",
            SGP32_EIM_OP_PSMO, &op);
    execute(&t, &op, true, &s);
    assert_non_null(strstr((const char *)s.json.data, "\"results\":[{\"enable\":\"iccidOrAidNotFound\"}"));
    assert_false(s.success);
    assert_int_equal(s.update_count, 0);
    sgp32_eim_operation_free(&op);

    /* another eIM key: the card does not know the signature, unsigned error */
    sgp32_ec_private_key other;
    sgp32_ec_public_key other_pub;
    assert_int_equal(sgp32_ec_generate(SGP32_CURVE_NIST_P256, &other, &other_pub), SGP32_OK);
    t.signer.key = &other;
    make_op(&t, "{\"psmo\":[{\"getRAT\":{}}]}", SGP32_EIM_OP_PSMO, &op);
    execute(&t, &op, true, &s);
    t.signer.key = &t.eim_key;
    assert_memory_equal(s.json.data, "{\"signed\":false,\"error\":\"euiccPackageErrorUnsigned\"", 51);
    assert_false(s.success);
    sgp32_eim_operation_free(&op);
    t.counter--; /* not taken by the card */

    sgp32_eim_result_summary_free(&s);
    teardown(&t);
}

static void ecos_run_on_the_software_euicc(void **state)
{
    (void)state;
    tctx t;
    setup(&t);
    associate(&t);
    sgp32_eim_result_summary s;
    sgp32_eim_result_summary_init(&s);
    sgp32_eim_operation op;
    sgp32_ec_private_key k2;
    sgp32_ec_public_key p2;
    assert_int_equal(sgp32_ec_generate(SGP32_CURVE_NIST_P256, &k2, &p2), SGP32_OK);
    sgp32_buf spki;
    sgp32_buf_init(&spki, 256);
    assert_int_equal(sgp32_ec_public_to_spki(&p2, &spki), SGP32_OK);
    char *spki64 = base64_of(spki.data, spki.len);
    char json[2048];
    snprintf(json, sizeof(json),
             "{\"eco\":[{\"addEim\":{\"eimId\":\"eim2.example.com\",\"eimFqdn\":\"eim2.example.com\","
             "\"eimIdType\":\"fqdn\",\"counterValue\":0,\"associationToken\":-1,\"eimPublicKey\":\"%s\"}},"
             "{\"listEim\":{}},{\"addEim\":{\"eimId\":\"eim2.example.com\",\"eimPublicKey\":\"%s\"}},"
             "{\"updateEim\":{\"eimId\":\"nobody\"}}]}",
             spki64, spki64);
    make_op(&t, json, SGP32_EIM_OP_ECO, &op);
    execute(&t, &op, true, &s);
    assert_true(s.new_association_token > 0);
    char want[1024];
    snprintf(want, sizeof(want),
             "{\"signed\":true,\"seqNumber\":%lld,\"counterValue\":1,\"results\":[{\"addEim\":{"
             "\"associationToken\":%lld}},"
             "{\"listEim\":{\"eims\":[{\"eimId\":\"" EIM_ID "\",\"eimIdType\":\"fqdn\"},"
             "{\"eimId\":\"eim2.example.com\",\"eimIdType\":\"fqdn\"}]}},{\"addEim\":"
             "\"associatedEimAlreadyExists\"}]}",
             (long long)s.seq_number, (long long)s.new_association_token);
    assert_string_equal((const char *)s.json.data, want);
    assert_false(s.success);
    assert_int_equal(s.update_count, 0);
    sgp32_eim_operation_free(&op);

    /* delete the new one: ok; an update of an unknown eIM: eimNotFound */
    make_op(
        &t,
        "{\"eco\":[{\"deleteEim\":{\"eimId\":\"eim2.example.com\"}},{\"updateEim\":{\"eimId\":\"nobody\"}}]}",
        SGP32_EIM_OP_ECO, &op);
    execute(&t, &op, true, &s);
    assert_non_null(strstr((const char *)s.json.data,
                           "\"results\":[{\"deleteEim\":\"ok\"},{\"updateEim\":\"eimNotFound\"}]}"));
    assert_false(s.success);
    assert_int_equal(s.new_association_token, -1);
    sgp32_eim_operation_free(&op);
    free(spki64);
    sgp32_buf_free(&spki);
    sgp32_eim_result_summary_free(&s);
    teardown(&t);
}

/* ------------------------------------------------------------ summaries of built results */

static void package_results_by_name(void **state)
{
    (void)state;
    sgp32_euicc_result_data items[6];
    memset(items, 0, sizeof(items));
    items[0].choice = SGP32_EUICC_RESULT_DATA_ROLLBACK_RESULT;
    items[1].choice = SGP32_EUICC_RESULT_DATA_ENABLE_RESULT;
    items[1].u.enable_result = 99; /* no name in the module: the number */
    items[2].choice = SGP32_EUICC_RESULT_DATA_LIST_PROFILE_INFO_RESULT;
    items[2].u.list_profile_info_result.choice =
        SGP32_SGP32_PROFILE_INFO_LIST_RESPONSE_PROFILE_INFO_LIST_ERROR;
    items[2].u.list_profile_info_result.u.profile_info_list_error = 11;
    items[3].choice = SGP32_EUICC_RESULT_DATA_LIST_EIM_RESULT;
    items[3].u.list_eim_result.choice = SGP32_LIST_EIM_RESULT_LIST_EIM_ERROR;
    items[3].u.list_eim_result.u.list_eim_error = 127;
    items[4].choice = SGP32_EUICC_RESULT_DATA_DELETE_EIM_RESULT;
    items[4].u.delete_eim_result = 2;
    items[5].choice = SGP32_EUICC_RESULT_DATA_PROCESSING_TERMINATED;
    items[5].u.processing_terminated = 3;
    sgp32_euicc_package_result r;
    memset(&r, 0, sizeof(r));
    r.choice = SGP32_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED;
    sgp32_euicc_package_result_data_signed *d =
        &r.u.euicc_package_result_signed.euicc_package_result_data_signed;
    d->seq_number = 5;
    d->counter_value = 3;
    d->euicc_result.items = items;
    d->euicc_result.count = 6;
    sgp32_eim_result_summary s;
    sgp32_eim_result_summary_init(&s);
    assert_int_equal(sgp32_eim_result_summarise_package(NULL, &r, &s), SGP32_OK);
    assert_string_equal(
        (const char *)s.json.data,
        "{\"signed\":true,\"seqNumber\":5,\"counterValue\":3,\"results\":[{\"rollback\":\"ok\"},"
        "{\"enable\":99},{\"listProfileInfo\":\"profileChangeOngoing\"},{\"listEim\":\"undefinedError\"},"
        "{\"deleteEim\":\"lastEimDeleted\"},{\"processingTerminated\":\"interruption\"}]}");
    assert_false(s.success);
    assert_int_equal(s.seq_number, 5);
    assert_int_equal(s.update_count, 0); /* a rollback names no ICCID */

    /* only rollback ok: success */
    d->euicc_result.count = 1;
    assert_int_equal(sgp32_eim_result_summarise_package(NULL, &r, &s), SGP32_OK);
    assert_true(s.success);

    /* signed error codes by name */
    memset(&r, 0, sizeof(r));
    r.choice = SGP32_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_ERROR_SIGNED;
    r.u.euicc_package_error_signed.euicc_package_error_data_signed.counter_value = 9;
    r.u.euicc_package_error_signed.euicc_package_error_data_signed.euicc_package_error_code = 104;
    assert_int_equal(sgp32_eim_result_summarise_package(NULL, &r, &s), SGP32_OK);
    assert_string_equal((const char *)s.json.data,
                        "{\"signed\":true,\"error\":\"ecallActive\",\"counterValue\":9}");
    memset(&r, 0, sizeof(r));
    r.choice = SGP32_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_ERROR_UNSIGNED;
    r.u.euicc_package_error_unsigned.has_association_token = true;
    r.u.euicc_package_error_unsigned.association_token = 4;
    assert_int_equal(sgp32_eim_result_summarise_package(NULL, &r, &s), SGP32_OK);
    assert_string_equal((const char *)s.json.data,
                        "{\"signed\":false,\"error\":\"euiccPackageErrorUnsigned\",\"associationToken\":4}");
    r.choice = 0;
    assert_int_equal(sgp32_eim_result_summarise_package(NULL, &r, &s), SGP32_ERR_INVALID_ARGUMENT);
    assert_int_equal(s.json.len, 0);
    sgp32_eim_result_summary_free(&s);
}

/* A listProfileInfo result is the whole list only for an unfiltered request; entries cut down by a
 * tagList are reported but never replace what the eIM knows. */
static void list_profile_info_updates_follow_the_request(void **state)
{
    (void)state;
    uint8_t bcd[10];
    assert_int_equal(euicc_iccid_from_text(ICCID_C, bcd), SGP32_OK);
    sgp32_sgp32_profile_info info;
    memset(&info, 0, sizeof(info));
    info.has_iccid = true;
    info.iccid = SGP32_BYTES(bcd, 10);
    sgp32_euicc_result_data item;
    memset(&item, 0, sizeof(item));
    item.choice = SGP32_EUICC_RESULT_DATA_LIST_PROFILE_INFO_RESULT;
    item.u.list_profile_info_result.choice = SGP32_SGP32_PROFILE_INFO_LIST_RESPONSE_PROFILE_INFO_LIST_OK;
    item.u.list_profile_info_result.u.profile_info_list_ok.items = &info;
    item.u.list_profile_info_result.u.profile_info_list_ok.count = 1;
    sgp32_euicc_package_result r;
    memset(&r, 0, sizeof(r));
    r.choice = SGP32_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED;
    r.u.euicc_package_result_signed.euicc_package_result_data_signed.euicc_result.items = &item;
    r.u.euicc_package_result_signed.euicc_package_result_data_signed.euicc_result.count = 1;
    static const struct {
        const char *request;
        bool listed;
        size_t updates;
    } cases[] = {
        {"{\"psmo\":[{\"listProfileInfo\":{}}]}", true, 1},
        {"{\"psmo\":[{\"listProfileInfo\":{\"profileClass\":2}}]}", false, 1},
        {"{\"psmo\":[{\"listProfileInfo\":{\"tags\":\"5A\"}}]}", false, 0},
        {"{\"psmo\":[{\"getRAT\":{}}]}", false, 1}, /* a result that is not the request's: reported */
    };
    tctx t;
    memset(&t, 0, sizeof(t));
    sgp32_eim_result_summary s;
    sgp32_eim_result_summary_init(&s);
    for (size_t i = 0; i < SGP32_ARRAY_LEN(cases); i++) {
        sgp32_eim_operation op;
        make_op(&t, cases[i].request, SGP32_EIM_OP_PSMO, &op);
        assert_int_equal(sgp32_eim_result_summarise_package(&op, &r, &s), SGP32_OK);
        assert_string_equal(
            (const char *)s.json.data,
            "{\"signed\":true,\"seqNumber\":0,\"counterValue\":0,\"results\":[{\"listProfileInfo\":"
            "{\"profiles\":[{\"iccid\":\"" ICCID_C "\",\"fallback\":false}]}}]}");
        assert_int_equal(s.profiles_listed, cases[i].listed);
        assert_int_equal(s.update_count, cases[i].updates);
        if (cases[i].updates) {
            expect_update(&s, 0, SGP32_EIM_CHANGE_UPSERT, ICCID_C);
            assert_int_equal(s.updates[0].profile.profile_class, -1);
        }
        sgp32_eim_operation_free(&op);
    }
    sgp32_eim_result_summary_free(&s);
}

static void ipa_euicc_data_summaries(void **state)
{
    (void)state;
    sgp32_buf cert, der;
    read_spec_file("eUICC/CERT_EUICC_ECDSA_NIST.der", &cert);
    sgp32_ipa_euicc_data_response resp;
    memset(&resp, 0, sizeof(resp));
    resp.choice = SGP32_IPA_EUICC_DATA_RESPONSE_IPA_EUICC_DATA;
    sgp32_ipa_euicc_data *d = &resp.u.ipa_euicc_data;
    d->has_default_smdp_address = true;
    d->default_smdp_address = SGP32_BYTES("dp.example.com", 14);
    d->has_association_token = true;
    d->association_token = 3;
    d->has_euicc_certificate = true;
    d->euicc_certificate = sgp32_buf_bytes(&cert);
    d->has_eim_transaction_id = true;
    d->eim_transaction_id = SGP32_BYTES("\x00\x00\x00\x00\x00\x00\x00\x07", 8);
    d->has_ipa_capabilities = true;
    d->ipa_capabilities.ipa_features = SGP32_IPA_CAPABILITIES_IPA_FEATURES_INDIRECT_RSP_SERVER_COMMUNICATION;
    /* through the wire and back, as the eIM gets it */
    sgp32_buf_init(&der, 8192);
    assert_int_equal(sgp32_asn1_encode(&sgp32_type_ipa_euicc_data_response, &resp, &der), SGP32_OK);
    sgp32_arena arena;
    sgp32_arena_init(&arena, 1 << 20);
    sgp32_ipa_euicc_data_response decoded;
    memset(&decoded, 0, sizeof(decoded));
    assert_int_equal(
        sgp32_asn1_decode(&sgp32_type_ipa_euicc_data_response, der.data, der.len, &arena, &decoded),
        SGP32_OK);
    sgp32_eim_result_summary s;
    sgp32_eim_result_summary_init(&s);
    assert_int_equal(sgp32_eim_result_summarise_ipa_euicc_data(NULL, &decoded, &s), SGP32_OK);
    char *cert64 = base64_of(cert.data, cert.len);
    char want[4096];
    snprintf(want, sizeof(want),
             "{\"data\":{\"defaultSmdpAddress\":\"dp.example.com\",\"associationToken\":3,"
             "\"euiccCertificate\":\"%s\","
             "\"eimTransactionId\":\"0000000000000007\",\"ipaCapabilities\":\"MASAAgZA\"}}",
             cert64);
    assert_string_equal((const char *)s.json.data, want);
    assert_true(s.success);
    /* the same summary from the built (never decoded) value */
    assert_int_equal(sgp32_eim_result_summarise_ipa_euicc_data(NULL, &resp, &s), SGP32_OK);
    assert_string_equal((const char *)s.json.data, want);

    memset(&resp, 0, sizeof(resp));
    resp.choice = SGP32_IPA_EUICC_DATA_RESPONSE_IPA_EUICC_DATA_RESPONSE_ERROR;
    resp.u.ipa_euicc_data_response_error.ipa_euicc_data_error_code = 1;
    assert_int_equal(sgp32_eim_result_summarise_ipa_euicc_data(NULL, &resp, &s), SGP32_OK);
    assert_string_equal((const char *)s.json.data, "{\"error\":\"incorrectTagList\"}");
    assert_false(s.success);
    free(cert64);
    sgp32_arena_free(&arena);
    sgp32_buf_free(&der);
    sgp32_buf_free(&cert);
    sgp32_eim_result_summary_free(&s);
}

static void download_and_notification_summaries(void **state)
{
    (void)state;
    uint8_t bcd[10];
    assert_int_equal(euicc_iccid_from_text(ICCID_B, bcd), SGP32_OK);
    static const uint8_t sig[64] = {1};
    sgp32_profile_download_trigger_result r;
    memset(&r, 0, sizeof(r));
    r.has_eim_transaction_id = true;
    r.eim_transaction_id = SGP32_BYTES("\x00\x00\x00\x00\x00\x00\x00\x08", 8);
    r.profile_download_trigger_result_data.choice =
        SGP32_PROFILE_DOWNLOAD_TRIGGER_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT_DATA_PROFILE_INSTALLATION_RESULT;
    sgp32_sgp32_profile_installation_result *pir =
        &r.profile_download_trigger_result_data.u.profile_installation_result;
    sgp32_profile_installation_result_data *pd = &pir->profile_installation_result_data;
    pd->transaction_id = SGP32_BYTES("\x01\x02\x03\x04", 4);
    pd->notification_metadata.seq_number = 4;
    pd->notification_metadata.profile_management_operation = SGP32_NOTIFICATION_EVENT_NOTIFICATION_INSTALL;
    pd->notification_metadata.notification_address = SGP32_BYTES("smdp.example.com", 16);
    pd->notification_metadata.has_iccid = true;
    pd->notification_metadata.iccid = SGP32_BYTES(bcd, 10);
    pd->smdp_oid = SGP32_BYTES("\x2B\x06\x01\x04\x01\x63", 6);
    pd->final_result.choice = SGP32_PROFILE_INSTALLATION_RESULT_DATA_FINAL_RESULT_SUCCESS_RESULT;
    pd->final_result.u.success_result.aid =
        SGP32_BYTES("\xA0\x00\x00\x05\x59\x10\x10\xFF\xFF\xFF\xFF\x89\x00\x00\x10\x00", 16);
    pd->final_result.u.success_result.sima_response = SGP32_BYTES("\x30\x00", 2);
    pir->euicc_sign_pir = SGP32_BYTES(sig, 64);
    sgp32_buf der;
    sgp32_buf_init(&der, 4096);
    assert_int_equal(sgp32_asn1_encode(&sgp32_type_profile_download_trigger_result, &r, &der), SGP32_OK);
    sgp32_arena arena;
    sgp32_arena_init(&arena, 1 << 20);
    sgp32_profile_download_trigger_result decoded;
    memset(&decoded, 0, sizeof(decoded));
    assert_int_equal(
        sgp32_asn1_decode(&sgp32_type_profile_download_trigger_result, der.data, der.len, &arena, &decoded),
        SGP32_OK);
    sgp32_eim_result_summary s;
    sgp32_eim_result_summary_init(&s);
    assert_int_equal(sgp32_eim_result_summarise_download(NULL, &decoded, &s), SGP32_OK);
    assert_string_equal((const char *)s.json.data,
                        "{\"iccid\":\"" ICCID_B "\",\"success\":true,\"seqNumber\":4}");
    assert_true(s.success);
    assert_int_equal(s.update_count, 1);
    expect_update(&s, 0, SGP32_EIM_CHANGE_UPSERT, ICCID_B);
    assert_int_equal(s.updates[0].profile.state, SGP32_EIM_PROFILE_DISABLED);
    assert_int_equal(s.updates[0].profile.profile_class, -1);

    /* an installation that failed: the command and the reason by name, no profile */
    pd->final_result.choice = SGP32_PROFILE_INSTALLATION_RESULT_DATA_FINAL_RESULT_ERROR_RESULT;
    pd->final_result.u.error_result.bpp_command_id = 5;
    pd->final_result.u.error_result.error_reason = 13;
    assert_int_equal(sgp32_eim_result_summarise_download(NULL, &r, &s), SGP32_OK);
    assert_string_equal((const char *)s.json.data,
                        "{\"iccid\":\"" ICCID_B "\",\"success\":false,\"seqNumber\":4,\"bppCommandId\":"
                        "\"loadProfileElements\",\"errorReason\":\"installFailedDueToDataMismatch\"}");
    assert_false(s.success);
    assert_int_equal(s.update_count, 0);

    /* the download did not start */
    r.profile_download_trigger_result_data.choice =
        SGP32_PROFILE_DOWNLOAD_TRIGGER_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT_DATA_PROFILE_DOWNLOAD_ERROR;
    r.profile_download_trigger_result_data.u.profile_download_error.profile_download_error_reason = 104;
    assert_int_equal(sgp32_eim_result_summarise_download(NULL, &r, &s), SGP32_OK);
    assert_string_equal((const char *)s.json.data, "{\"error\":\"ecallActive\"}");
    assert_false(s.success);

    /* notifications: PIR, enable/disable/delete, compact PIR (no metadata) */
    sgp32_notification_metadata md = pd->notification_metadata;
    assert_int_equal(sgp32_eim_result_summarise_notification(&md, true, true, &s), SGP32_OK);
    assert_string_equal((const char *)s.json.data,
                        "{\"seqNumber\":4,\"operation\":\"install\",\"iccid\":\"" ICCID_B
                        "\",\"success\":true}");
    expect_update(&s, 0, SGP32_EIM_CHANGE_UPSERT, ICCID_B);
    assert_int_equal(sgp32_eim_result_summarise_notification(&md, true, false, &s), SGP32_OK);
    assert_int_equal(s.update_count, 0);
    assert_false(s.success);
    static const struct {
        uint32_t bit;
        const char *name;
        sgp32_eim_profile_change change;
    } events[] = {
        {SGP32_NOTIFICATION_EVENT_NOTIFICATION_ENABLE, "enable", SGP32_EIM_CHANGE_ENABLED},
        {SGP32_NOTIFICATION_EVENT_NOTIFICATION_DISABLE, "disable", SGP32_EIM_CHANGE_DISABLED},
        {SGP32_NOTIFICATION_EVENT_NOTIFICATION_DELETE, "delete", SGP32_EIM_CHANGE_DELETED},
    };
    for (size_t i = 0; i < SGP32_ARRAY_LEN(events); i++) {
        md.profile_management_operation = events[i].bit;
        md.seq_number = 10 + (int64_t)i;
        assert_int_equal(sgp32_eim_result_summarise_notification(&md, false, false, &s), SGP32_OK);
        char want[160];
        snprintf(want, sizeof(want), "{\"seqNumber\":%zu,\"operation\":\"%s\",\"iccid\":\"" ICCID_B "\"}",
                 10 + i, events[i].name);
        assert_string_equal((const char *)s.json.data, want);
        assert_true(s.success);
        assert_int_equal(s.update_count, 1);
        expect_update(&s, 0, events[i].change, ICCID_B);
    }
    assert_int_equal(sgp32_eim_result_summarise_notification(NULL, true, true, &s), SGP32_OK);
    assert_string_equal((const char *)s.json.data, "{\"operation\":\"install\",\"success\":true}");
    assert_int_equal(s.update_count, 0);
    assert_int_equal(sgp32_eim_result_summarise_notification(NULL, false, false, &s),
                     SGP32_ERR_INVALID_ARGUMENT);
    sgp32_arena_free(&arena);
    sgp32_buf_free(&der);
    sgp32_eim_result_summary_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_psmo_builds),
        cmocka_unit_test(every_eco_builds),
        cmocka_unit_test(ipa_euicc_data_and_download_build),
        cmocka_unit_test(canonical_forms),
        cmocka_unit_test(malformed_operations_are_refused),
        cmocka_unit_test(build_refuses_what_does_not_fit),
        cmocka_unit_test(psmos_run_on_the_software_euicc),
        cmocka_unit_test(ecos_run_on_the_software_euicc),
        cmocka_unit_test(package_results_by_name),
        cmocka_unit_test(list_profile_info_updates_follow_the_request),
        cmocka_unit_test(ipa_euicc_data_summaries),
        cmocka_unit_test(download_and_notification_summaries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

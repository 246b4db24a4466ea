/*
 * lib/euicc local ES10 functions: eUICC information, notifications, eIM configuration
 * (AddInitialEim, GetEimConfigurationData, GetCerts), immediate enable, emergency, fallback,
 * memory reset, ProfileInfo lists and the ES10c profile functions. Every response is decoded
 * with the generated codec; NOTES' [asn1c] vectors are checked byte for byte; every state change
 * is checked to survive a power cycle and to be undone when the NVM write fails.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../lib/euicc/euicc_internal.h"
#include "alloc_fail.h"
#include "euicc_fixture.h"
#include "sgp32/text.h"

#define NIST_CI_PKID "F54172BDF98A95D65CBEB88A38A1C11D800A85C3"
#define BRP_CI_PKID  "C0BC70BA36929D43B467FF57570530E57AB8FCD8"
/* EF.ICCID coding of the fixture's bootstrap profile 8900000000000000001. */
#define BOOTSTRAP_ICCID_HEX "980000000000000000F1"

#define OPERATIONAL_ICCID "8949449999999990171"
#define SECOND_ICCID      "8949449999999990189"
#define TEST_ICCID        "8949449999999990197"

typedef struct ctx {
    euicc_fixture f;
    sgp32_arena arena;
    sgp32_buf resp;
} ctx;

static int setup(void **state)
{
    ctx *c = calloc(1, sizeof(*c));
    if (!c || euicc_fixture_open(&c->f) != SGP32_OK)
        return -1;
    sgp32_arena_init(&c->arena, 1 << 20);
    sgp32_buf_init(&c->resp, 1 << 16);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    ctx *c = *state;
    euicc_fixture_close(&c->f);
    sgp32_arena_free(&c->arena);
    sgp32_buf_free(&c->resp);
    free(c);
    return 0;
}

/* ------------------------------------------------------------------ helpers */

static int call_rc(ctx *c, const char *hex)
{
    sgp32_buf req;
    sgp32_buf_init(&req, 1 << 16);
    assert_int_equal(sgp32_hex_decode(hex, strlen(hex), &req), SGP32_OK);
    sgp32_buf_reset(&c->resp);
    int rc = sgp32_euicc_es10(c->f.euicc, req.data, req.len, &c->resp);
    sgp32_buf_free(&req);
    return rc;
}

static const sgp32_buf *call(ctx *c, const char *hex)
{
    int rc = call_rc(c, hex);
    if (rc != SGP32_OK)
        fail_msg("%s: %s", hex, sgp32_err_str(rc));
    return &c->resp;
}

static const sgp32_buf *call_bytes(ctx *c, const sgp32_buf *req)
{
    sgp32_buf_reset(&c->resp);
    assert_int_equal(sgp32_euicc_es10(c->f.euicc, req->data, req->len, &c->resp), SGP32_OK);
    return &c->resp;
}

static void decode(ctx *c, const sgp32_asn1_type *type, void *out)
{
    memset(out, 0, type->size);
    assert_int_equal(sgp32_asn1_decode(type, c->resp.data, c->resp.len, &c->arena, out), SGP32_OK);
}

/* Every one-result response (BFxx { 80 code }) is a SEQUENCE { der, int64 }. */
typedef struct one_result {
    sgp32_bytes der;
    int64_t code;
} one_result;

static int64_t call_result(ctx *c, const char *hex, const sgp32_asn1_type *type)
{
    call(c, hex);
    assert_int_equal(type->size, sizeof(one_result));
    one_result r;
    decode(c, type, &r);
    return r.code;
}

static void expect_hex(const sgp32_buf *b, const char *hex)
{
    sgp32_buf want;
    sgp32_buf_init(&want, 1 << 16);
    assert_int_equal(sgp32_hex_decode(hex, strlen(hex), &want), SGP32_OK);
    char *got = malloc(2 * b->len + 1);
    sgp32_hex_encode(b->data, b->len, got);
    if (b->len != want.len || memcmp(b->data, want.data, want.len) != 0)
        fail_msg("got %s, want %s", got, hex);
    free(got);
    sgp32_buf_free(&want);
}

static void iccid_hex(const char *digits, char out[21])
{
    uint8_t b[10];
    assert_int_equal(euicc_iccid_from_text(digits, b), SGP32_OK);
    sgp32_hex_encode(b, 10, out);
}

/* A profile as the download would leave it (an SM-DP+ OID, optionally notifications wanted). */
static void add_profile(ctx *c, const char *iccid, int64_t profile_class, bool notify)
{
    euicc_state *s = &c->f.euicc->state;
    assert_true(s->profile_count < EUICC_MAX_PROFILES);
    euicc_profile *p = &s->profiles[s->profile_count];
    memset(p, 0, sizeof(*p));
    assert_int_equal(euicc_iccid_from_text(iccid, p->iccid), SGP32_OK);
    static const uint8_t prefix[14] = {0xA0, 0x00, 0x00, 0x05, 0x59, 0x10, 0x10,
                                       0xFF, 0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00};
    memcpy(p->aid, prefix, 14);
    p->aid[14] = (uint8_t)(s->next_isdp_number >> 8);
    p->aid[15] = (uint8_t)s->next_isdp_number;
    p->aid_len = 16;
    s->next_isdp_number++;
    p->profile_class = profile_class;
    strcpy(p->profile_name, "Profile ");
    strcat(p->profile_name, iccid + 15);
    strcpy(p->service_provider_name, "Operator");
    p->smdp_oid_len = 3;
    memcpy(p->smdp_oid, "\x88\x37\x0A", 3); /* 2.999.10 */
    if (notify) {
        p->notification_config_count = 1;
        p->notification_config[0].events = 0xF;
        strcpy(p->notification_config[0].address, "smdp.example.com");
    }
    s->profile_count++;
    assert_int_equal(euicc_state_save(c->f.euicc), SGP32_OK);
}

static euicc_profile *profile(ctx *c, const char *iccid)
{
    uint8_t b[10];
    assert_int_equal(euicc_iccid_from_text(iccid, b), SGP32_OK);
    return euicc_find_profile_by_iccid(c->f.euicc, b);
}

static bool enabled(ctx *c, const char *iccid)
{
    char now[21];
    return sgp32_euicc_enabled_iccid(c->f.euicc, now) == SGP32_OK && strcmp(now, iccid) == 0;
}

static int failing_save(void *store_ctx, const char *name, const uint8_t *data, size_t len)
{
    (void)store_ctx;
    (void)name;
    (void)data;
    (void)len;
    return SGP32_ERR_IO;
}

static void break_store(ctx *c)
{
    c->f.euicc->config.store.save = failing_save;
}

static void mend_store(ctx *c)
{
    c->f.euicc->config.store.save = c->f.config.store.save;
}

static void reopen(ctx *c)
{
    assert_int_equal(euicc_fixture_reopen(&c->f), SGP32_OK);
}

/* An SPKI (P-256 by default) for eimPublicKeyData, as hex. */
static void spki_hex(sgp32_curve curve, char *out, size_t size)
{
    sgp32_ec_private_key priv;
    sgp32_ec_public_key pub;
    assert_int_equal(sgp32_ec_generate(curve, &priv, &pub), SGP32_OK);
    sgp32_buf der;
    sgp32_buf_init(&der, 512);
    assert_int_equal(sgp32_ec_public_to_spki(&pub, &der), SGP32_OK);
    assert_true(2 * der.len + 1 <= size);
    sgp32_hex_encode(der.data, der.len, out);
    sgp32_buf_free(&der);
}

/* DER of TLV(tag, hex contents) as hex, for building requests. */
static void tlv_hex(char *out, size_t size, uint32_t tag, const char *contents_hex)
{
    sgp32_buf v, o;
    sgp32_buf_init(&v, 1 << 16);
    sgp32_buf_init(&o, 1 << 16);
    assert_int_equal(sgp32_hex_decode(contents_hex, strlen(contents_hex), &v), SGP32_OK);
    assert_int_equal(sgp32_asn1_write_tlv(&o, tag, v.data, v.len), SGP32_OK);
    assert_true(2 * o.len + 1 <= size);
    sgp32_hex_encode(o.data, o.len, out);
    sgp32_buf_free(&v);
    sgp32_buf_free(&o);
}

/* AddInitialEim with one EimConfigurationData whose contents (after eimId) are given as hex. */
static void add_initial_eim_hex(char *out, size_t size, const char *eim_id, const char *fields_hex)
{
    char id_hex[300], id_tlv[310], body[4096], seq[4200], list[4300];
    sgp32_hex_encode((const uint8_t *)eim_id, strlen(eim_id), id_hex);
    tlv_hex(id_tlv, sizeof(id_tlv), 0x80, id_hex);
    snprintf(body, sizeof(body), "%s%s", id_tlv, fields_hex);
    tlv_hex(seq, sizeof(seq), 0x30, body);
    tlv_hex(list, sizeof(list), 0xA0, seq);
    tlv_hex(out, size, 0xBF57, list);
}

/* A5 { A0 <SPKI body> } for a fresh key on curve. */
static void key_field_hex(sgp32_curve curve, char *out, size_t size)
{
    char spki[400], body_hex[400];
    spki_hex(curve, spki, sizeof(spki));
    /* Replace the outer 30 by A0 (implicit tagging of the CHOICE alternative). */
    memcpy(body_hex, spki, strlen(spki) + 1);
    body_hex[0] = 'A';
    body_hex[1] = '0';
    tlv_hex(out, size, 0xA5, body_hex);
}

static int64_t add_eim(ctx *c, const char *eim_id, const char *extra_fields_hex)
{
    char key[400], fields[2048], req[4400];
    key_field_hex(SGP32_CURVE_NIST_P256, key, sizeof(key));
    snprintf(fields, sizeof(fields), "830101%s%s", key, extra_fields_hex);
    add_initial_eim_hex(req, sizeof(req), eim_id, fields);
    call(c, req);
    sgp32_add_initial_eim_response r;
    decode(c, &sgp32_type_add_initial_eim_response, &r);
    if (r.choice == SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_ERROR)
        return r.u.add_initial_eim_error;
    assert_int_equal(r.choice, SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_OK);
    return 0;
}

/* A pending OtherSignedNotification for a profile (signed by the card). */
static void queue(ctx *c, const char *iccid, uint32_t event)
{
    assert_int_equal(euicc_queue_notification(c->f.euicc, profile(c, iccid), event), SGP32_OK);
    assert_int_equal(euicc_state_save(c->f.euicc), SGP32_OK);
}

/* NOTES §8.5 unsigned EPR (BF51 { A2 { 80 "eIM", 84 01 } }) as a pending package result. */
static const uint8_t epr_der[] = {0xBF, 0x51, 0x0A, 0xA2, 0x08, 0x80, 0x03, 'e', 'I', 'M', 0x84, 0x01, 0x01};

static int64_t queue_epr(ctx *c)
{
    euicc_pending p;
    memset(&p, 0, sizeof(p));
    p.seq_number = euicc_next_seq_number(c->f.euicc);
    p.kind = EUICC_PENDING_PACKAGE_RESULT;
    memcpy(p.der, epr_der, sizeof(epr_der));
    p.der_len = sizeof(epr_der);
    assert_int_equal(euicc_pending_add(c->f.euicc, &p), SGP32_OK);
    assert_int_equal(euicc_state_save(c->f.euicc), SGP32_OK);
    return p.seq_number;
}

/* A PIR as the download would store it (BF37 { BF27 { 80 txid, BF2F {..}, 06 oid, A2 {..} }, 5F37 }). */
static int64_t queue_pir(ctx *c, const char *iccid)
{
    euicc_pending p;
    memset(&p, 0, sizeof(p));
    p.seq_number = euicc_next_seq_number(c->f.euicc);
    p.kind = EUICC_PENDING_PIR;
    p.event = SGP32_NOTIFICATION_EVENT_NOTIFICATION_INSTALL;
    strcpy(p.address, "smdp.example.com");
    assert_int_equal(euicc_iccid_from_text(iccid, p.iccid), SGP32_OK);
    p.has_iccid = true;
    sgp32_buf out;
    sgp32_buf_init_fixed(&out, p.der, sizeof(p.der));
    size_t pir = sgp32_asn1_begin(&out), data = sgp32_asn1_begin(&out), meta;
    static const uint8_t txid[2] = {0x01, 0x02}, oid[3] = {0x88, 0x37, 0x0A}, sig[64] = {0};
    static const uint8_t result[] = {0xA0, 0x1B, 0x4F, 0x10, 0xA0, 0x00, 0x00, 0x05, 0x59, 0x10,
                                     0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00, 0x10, 0x10,
                                     0x04, 0x07, 0x30, 0x05, 0xA0, 0x03, 0x80, 0x01, 0x00};
    assert_int_equal(sgp32_asn1_write_tlv(&out, 0x80, txid, 2), SGP32_OK);
    meta = sgp32_asn1_begin(&out);
    assert_int_equal(sgp32_asn1_write_integer(&out, 0x80, p.seq_number), SGP32_OK);
    assert_int_equal(sgp32_asn1_write_named_bits(&out, 0x81, p.event), SGP32_OK);
    assert_int_equal(sgp32_asn1_write_tlv(&out, 0x0C, (const uint8_t *)p.address, strlen(p.address)),
                     SGP32_OK);
    assert_int_equal(sgp32_asn1_write_tlv(&out, 0x5A, p.iccid, 10), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&out, 0xBF2F, meta), SGP32_OK);
    assert_int_equal(sgp32_asn1_write_tlv(&out, 0x06, oid, 3), SGP32_OK);
    assert_int_equal(sgp32_asn1_write_tlv(&out, 0xA2, result, sizeof(result)), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&out, 0xBF27, data), SGP32_OK);
    assert_int_equal(sgp32_asn1_write_tlv(&out, 0x5F37, sig, 64), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&out, 0xBF37, pir), SGP32_OK);
    p.der_len = (uint16_t)out.len;
    assert_int_equal(euicc_pending_add(c->f.euicc, &p), SGP32_OK);
    assert_int_equal(euicc_state_save(c->f.euicc), SGP32_OK);
    return p.seq_number;
}

static const euicc_pending *pending_by_seq(ctx *c, int64_t seq)
{
    for (size_t i = 0; i < c->f.euicc->state.pending_count; i++)
        if (c->f.euicc->state.pending[i].seq_number == seq)
            return &c->f.euicc->state.pending[i];
    return NULL;
}

/* ------------------------------------------------------- eUICC information */

static void configured_addresses(void **state)
{
    ctx *c = *state;
    /* BF3C { 80 "smdp.example.com", 81 "lpa.ds.gsma.com" } */
    expect_hex(call(c, "BF3C00"),
               "BF3C238010736D64702E6578616D706C652E636F6D810F6C70612E64732E67736D612E636F6D");
    sgp32_euicc_configured_addresses_response r;
    decode(c, &sgp32_type_euicc_configured_addresses_response, &r);
    assert_true(r.has_default_dp_address);
    assert_memory_equal(r.default_dp_address.data, EUICC_FIXTURE_DEFAULT_DP, r.default_dp_address.len);
    assert_memory_equal(r.root_ds_address.data, "lpa.ds.gsma.com", 15);
    /* Without a default address the field is left out. */
    c->f.euicc->state.default_dp_address[0] = '\0';
    call(c, "BF3C00");
    decode(c, &sgp32_type_euicc_configured_addresses_response, &r);
    assert_false(r.has_default_dp_address);
    /* Not an empty SEQUENCE of the right tag: not understood. */
    assert_int_not_equal(call_rc(c, "BF3C0380"), SGP32_OK);
}

static void euicc_info1_lists_the_cis(void **state)
{
    ctx *c = *state;
    call(c, "BF2000");
    sgp32_euicc_info1 info;
    decode(c, &sgp32_type_euicc_info1, &info);
    assert_int_equal(info.svn.len, 3);
    assert_memory_equal(info.svn.data, "\x02\x05\x00", 3);
    uint8_t nist[20], brp[20];
    sgp32_buf b;
    sgp32_buf_init_fixed(&b, nist, sizeof(nist));
    assert_int_equal(sgp32_hex_decode(NIST_CI_PKID, 40, &b), SGP32_OK);
    sgp32_buf_init_fixed(&b, brp, sizeof(brp));
    assert_int_equal(sgp32_hex_decode(BRP_CI_PKID, 40, &b), SGP32_OK);
    assert_int_equal(info.euicc_ci_pk_id_list_for_verification.count, 2);
    assert_int_equal(info.euicc_ci_pk_id_list_for_signing.count, 2);
    assert_memory_equal(info.euicc_ci_pk_id_list_for_verification.items[0].data, nist, 20);
    assert_memory_equal(info.euicc_ci_pk_id_list_for_verification.items[1].data, brp, 20);
    assert_memory_equal(info.euicc_ci_pk_id_list_for_signing.items[0].data, nist, 20);
    assert_memory_equal(info.euicc_ci_pk_id_list_for_signing.items[1].data, brp, 20);
    /* Wire form: 82 svn, A9 { 04 14 .. }, AA { 04 14 .. } */
    expect_hex(&c->resp,
               "BF2061820302050"
               "0A92C0414" NIST_CI_PKID "0414" BRP_CI_PKID "AA2C0414" NIST_CI_PKID "0414" BRP_CI_PKID);
}

static void euicc_info2_is_the_iot_form(void **state)
{
    ctx *c = *state;
    call(c, "BF2200");
    sgp32_sgp32_euicc_info2 info;
    decode(c, &sgp32_type_sgp32_euicc_info2, &info);
    assert_memory_equal(info.profile_version.data, "\x02\x03\x01", 3);
    assert_memory_equal(info.svn.data, "\x02\x05\x00", 3);
    assert_true(info.has_ipa_mode);
    assert_int_equal(info.ipa_mode, SGP32_IPA_MODE_IPAD);
    assert_true(info.has_iot_specific_info);
    assert_int_equal(info.iot_specific_info.iot_version.count, 1);
    assert_memory_equal(info.iot_specific_info.iot_version.items[0].data, "\x01\x02\x00", 3);
    assert_true(info.iot_specific_info.ecall_supported);
    assert_true(info.iot_specific_info.fallback_supported);
    assert_true(info.uicc_capability & SGP32_UICC_CAPABILITY_USIM_SUPPORT);
    assert_true(info.rsp_capability & SGP32_RSP_CAPABILITY_ADDITIONAL_PROFILE);
    assert_false(info.rsp_capability & SGP32_RSP_CAPABILITY_CRL_SUPPORT);
    assert_int_equal(info.euicc_ci_pk_id_list_for_verification.count, 2);
    assert_int_equal(info.euicc_ci_pk_id_list_for_signing.count, 2);
    assert_true(info.has_euicc_category);
    assert_memory_equal(info.pp_version.data, "\x01\x00\x00", 3);
    assert_true(info.sas_acreditation_number.len > 0);
    /* extCardResource: 81 01 00, 82 free NVM, 83 free RAM; one profile uses one of 16 slots. */
    expect_hex(&(sgp32_buf){(uint8_t *)info.ext_card_resource.data, info.ext_card_resource.len, 0, 0, true},
               "810100"
               "82030F0000"
               "83022400");
    /* ipaMode 90 01 00 and iotSpecificInfo B4 { A0 { 04 03 010200 } 81 00 82 00 } on the wire. */
    char *hex = malloc(2 * c->resp.len + 1);
    sgp32_hex_encode(c->resp.data, c->resp.len, hex);
    assert_non_null(strstr(hex, "900100"));
    assert_non_null(strstr(hex, "B40BA005040301020081008200"));
    free(hex);
    /* Another profile takes another slot; a full card has no additionalProfile. */
    add_profile(c, OPERATIONAL_ICCID, SGP32_PROFILE_CLASS_OPERATIONAL, false);
    call(c, "BF2200");
    decode(c, &sgp32_type_sgp32_euicc_info2, &info);
    expect_hex(&(sgp32_buf){(uint8_t *)info.ext_card_resource.data, info.ext_card_resource.len, 0, 0, true},
               "810100"
               "82030E0000"
               "83022400");
    c->f.euicc->state.profile_count = EUICC_MAX_PROFILES;
    call(c, "BF2200");
    decode(c, &sgp32_type_sgp32_euicc_info2, &info);
    assert_false(info.rsp_capability & SGP32_RSP_CAPABILITY_ADDITIONAL_PROFILE);
    c->f.euicc->state.profile_count = 2;
}

static void euicc_challenge_is_fresh_and_kept(void **state)
{
    ctx *c = *state;
    sgp32_get_euicc_challenge_response r;
    call(c, "BF2E00");
    decode(c, &sgp32_type_get_euicc_challenge_response, &r);
    assert_int_equal(r.euicc_challenge.len, 16);
    uint8_t first[16];
    memcpy(first, r.euicc_challenge.data, 16);
    assert_true(c->f.euicc->has_euicc_challenge);
    assert_memory_equal(c->f.euicc->euicc_challenge, first, 16);
    call(c, "BF2E00");
    decode(c, &sgp32_type_get_euicc_challenge_response, &r);
    assert_memory_not_equal(r.euicc_challenge.data, first, 16);
    assert_memory_equal(c->f.euicc->euicc_challenge, r.euicc_challenge.data, 16);
    assert_int_equal(c->resp.len, 21); /* BF2E 12 80 10 <16> */
    sgp32_euicc_reset(c->f.euicc);
    assert_false(c->f.euicc->has_euicc_challenge);
}

static void rat_is_the_permissive_default(void **state)
{
    ctx *c = *state;
    /* BF43 { A0 { 30 { 80 {ppr1, ppr2}, A1 { 30 { 80 EEEEEE } }, 82 {} } } } */
    expect_hex(call(c, "BF4300"), "BF4314A01230108002056"
                                  "0A1073005"
                                  "8003EEEEEE"
                                  "820100");
    sgp32_get_rat_response r;
    decode(c, &sgp32_type_get_rat_response, &r);
    assert_int_equal(r.rat.count, 1);
    assert_int_equal(r.rat.items[0].ppr_ids, SGP32_PPR_IDS_PPR1 | SGP32_PPR_IDS_PPR2);
    assert_int_equal(r.rat.items[0].allowed_operators.count, 1);
    assert_memory_equal(r.rat.items[0].allowed_operators.items[0].mcc_mnc.data, "\xEE\xEE\xEE", 3);
    assert_int_equal(r.rat.items[0].ppr_flags, 0);
    /* The NOTES [asn1c] RAT vector decodes with the same descriptor. */
    sgp32_buf v;
    sgp32_buf_init(&v, 256);
    const char *vec = "BF4315A0133011800205"
                      "60A107300580036"
                      "2F21082020780";
    assert_int_equal(sgp32_hex_decode(vec, strlen(vec), &v), SGP32_OK);
    assert_int_equal(sgp32_asn1_decode(&sgp32_type_get_rat_response, v.data, v.len, &c->arena, &r), SGP32_OK);
    assert_int_equal(r.rat.items[0].ppr_flags,
                     SGP32_PROFILE_POLICY_AUTHORISATION_RULE_PPR_FLAGS_CONSENT_REQUIRED);
    sgp32_buf_free(&v);
}

static void connectivity_parameters_and_ipae(void **state)
{
    ctx *c = *state;
    expect_hex(call(c, "BF5F00"), "BF5F03810101");
    sgp32_get_connectivity_parameters_response r;
    decode(c, &sgp32_type_get_connectivity_parameters_response, &r);
    assert_int_equal(r.choice, SGP32_GET_CONNECTIVITY_PARAMETERS_RESPONSE_CONNECTIVITY_PARAMETERS_ERROR);
    assert_int_equal(r.u.connectivity_parameters_error,
                     SGP32_CONNECTIVITY_PARAMETERS_ERROR_PARAMETERS_NOT_AVAILABLE);
    /* IpaeActivation {activateIpae} -> notSupported: this card is IPAd only. */
    assert_int_equal(call_result(c, "BF420480020780", &sgp32_type_ipae_activation_response),
                     SGP32_IPAE_ACTIVATION_RESPONSE_IPAE_ACTIVATION_RESULT_NOT_SUPPORTED);
    expect_hex(&c->resp, "BF4203800101");
    assert_int_not_equal(call_rc(c, "BF4200"), SGP32_OK); /* ipaeOption is mandatory */
}

/* ----------------------------------------------------------- notifications */

static void notifications_are_listed_retrieved_and_removed(void **state)
{
    ctx *c = *state;
    add_profile(c, OPERATIONAL_ICCID, SGP32_PROFILE_CLASS_OPERATIONAL, true);
    int64_t pir = queue_pir(c, OPERATIONAL_ICCID);
    queue(c, OPERATIONAL_ICCID, SGP32_NOTIFICATION_EVENT_NOTIFICATION_ENABLE);
    int64_t enable = c->f.euicc->state.next_seq_number - 1;
    int64_t epr = queue_epr(c);
    queue(c, OPERATIONAL_ICCID, SGP32_NOTIFICATION_EVENT_NOTIFICATION_DISABLE);
    int64_t disable = c->f.euicc->state.next_seq_number - 1;

    /* ListNotification: the three notifications, not the package result. */
    call(c, "BF2800");
    sgp32_list_notification_response list;
    decode(c, &sgp32_type_list_notification_response, &list);
    assert_int_equal(list.choice, SGP32_LIST_NOTIFICATION_RESPONSE_NOTIFICATION_METADATA_LIST);
    assert_int_equal(list.u.notification_metadata_list.count, 3);
    assert_int_equal(list.u.notification_metadata_list.items[0].seq_number, pir);
    assert_int_equal(list.u.notification_metadata_list.items[0].profile_management_operation,
                     SGP32_NOTIFICATION_EVENT_NOTIFICATION_INSTALL);
    assert_int_equal(list.u.notification_metadata_list.items[1].seq_number, enable);
    assert_int_equal(list.u.notification_metadata_list.items[2].seq_number, disable);
    assert_true(list.u.notification_metadata_list.items[2].has_iccid);
    /* Filter by event: enable only (81 02 06 40). */
    call(c, "BF2804810206"
            "40");
    decode(c, &sgp32_type_list_notification_response, &list);
    assert_int_equal(list.u.notification_metadata_list.count, 1);
    assert_int_equal(list.u.notification_metadata_list.items[0].seq_number, enable);

    /* RetrieveNotificationsList: everything is the notifications, byte for byte. */
    call(c, "BF2B00");
    sgp32_sgp32_retrieve_notifications_list_response r;
    decode(c, &sgp32_type_sgp32_retrieve_notifications_list_response, &r);
    assert_int_equal(r.choice, SGP32_SGP32_RETRIEVE_NOTIFICATIONS_LIST_RESPONSE_NOTIFICATION_LIST);
    assert_int_equal(r.u.notification_list.count, 3);
    assert_int_equal(r.u.notification_list.items[0].choice,
                     SGP32_SGP32_PENDING_NOTIFICATION_PROFILE_INSTALLATION_RESULT);
    assert_int_equal(r.u.notification_list.items[1].choice,
                     SGP32_SGP32_PENDING_NOTIFICATION_OTHER_SIGNED_NOTIFICATION);
    const euicc_pending *p = pending_by_seq(c, enable);
    assert_int_equal(r.u.notification_list.items[1].der.len, p->der_len);
    assert_memory_equal(r.u.notification_list.items[1].der.data, p->der, p->der_len);
    assert_int_equal(
        r.u.notification_list.items[1].u.other_signed_notification.tbs_other_notification.seq_number, enable);

    /* NOTES [asn1c] BF2B 04 A0 02 82 00: the stored EPRs in an A2 list, exactly as stored. */
    expect_hex(call(c, "BF2B04A0028200"), "BF2B0FA20D"
                                          "BF510AA208800365494D840101");
    decode(c, &sgp32_type_sgp32_retrieve_notifications_list_response, &r);
    assert_int_equal(r.choice, SGP32_SGP32_RETRIEVE_NOTIFICATIONS_LIST_RESPONSE_EUICC_PACKAGE_RESULT_LIST);
    assert_int_equal(r.u.euicc_package_result_list.count, 1);
    assert_int_equal(r.u.euicc_package_result_list.items[0].choice,
                     SGP32_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_ERROR_UNSIGNED);

    /* By seqNumber: an EPR answers in the A2 list, a notification in the A0 list, unknown empty. */
    char req[64];
    snprintf(req, sizeof(req), "BF2B05A0038001%02X", (unsigned)epr);
    call(c, req);
    decode(c, &sgp32_type_sgp32_retrieve_notifications_list_response, &r);
    assert_int_equal(r.choice, SGP32_SGP32_RETRIEVE_NOTIFICATIONS_LIST_RESPONSE_EUICC_PACKAGE_RESULT_LIST);
    assert_int_equal(r.u.euicc_package_result_list.count, 1);
    snprintf(req, sizeof(req), "BF2B05A0038001%02X", (unsigned)disable);
    call(c, req);
    decode(c, &sgp32_type_sgp32_retrieve_notifications_list_response, &r);
    assert_int_equal(r.choice, SGP32_SGP32_RETRIEVE_NOTIFICATIONS_LIST_RESPONSE_NOTIFICATION_LIST);
    assert_int_equal(r.u.notification_list.count, 1);
    assert_int_equal(
        r.u.notification_list.items[0].u.other_signed_notification.tbs_other_notification.seq_number,
        disable);
    expect_hex(call(c, "BF2B05A003800163"), "BF2B02A000");
    /* By event: install (81 02 07 80) is the PIR. */
    call(c, "BF2B06A00481020780");
    decode(c, &sgp32_type_sgp32_retrieve_notifications_list_response, &r);
    assert_int_equal(r.u.notification_list.count, 1);
    assert_int_equal(r.u.notification_list.items[0].choice,
                     SGP32_SGP32_PENDING_NOTIFICATION_PROFILE_INSTALLATION_RESULT);

    /* RemoveNotificationFromList: ok, then nothingToDelete; the EPR goes the same way. */
    snprintf(req, sizeof(req), "BF30038001%02X", (unsigned)enable);
    assert_int_equal(call_result(c, req, &sgp32_type_notification_sent_response),
                     SGP32_NOTIFICATION_SENT_RESPONSE_DELETE_NOTIFICATION_STATUS_OK);
    expect_hex(&c->resp, "BF3003800100");
    assert_int_equal(call_result(c, req, &sgp32_type_notification_sent_response),
                     SGP32_NOTIFICATION_SENT_RESPONSE_DELETE_NOTIFICATION_STATUS_NOTHING_TO_DELETE);
    expect_hex(&c->resp, "BF3003800101");
    snprintf(req, sizeof(req), "BF30038001%02X", (unsigned)epr);
    assert_int_equal(call_result(c, req, &sgp32_type_notification_sent_response), 0);
    assert_null(pending_by_seq(c, epr));
    expect_hex(call(c, "BF2B04A0028200"), "BF2B02A200");

    /* A failed NVM write removes nothing, now or after a power cycle. */
    break_store(c);
    snprintf(req, sizeof(req), "BF30038001%02X", (unsigned)disable);
    assert_int_equal(call_result(c, req, &sgp32_type_notification_sent_response),
                     SGP32_NOTIFICATION_SENT_RESPONSE_DELETE_NOTIFICATION_STATUS_UNDEFINED_ERROR);
    assert_non_null(pending_by_seq(c, disable));
    mend_store(c);
    /* The removals made survive a power cycle. */
    reopen(c);
    assert_null(pending_by_seq(c, enable));
    assert_null(pending_by_seq(c, epr));
    assert_non_null(pending_by_seq(c, disable));
    assert_non_null(pending_by_seq(c, pir));
    assert_int_equal(c->f.euicc->state.pending_count, 2);
}

/* ------------------------------------------------------ eIM configuration */

static void get_certs_by_pkid_and_default(void **state)
{
    ctx *c = *state;
    const sgp32_euicc_identity *nist = &c->f.config.identities[0], *brp = &c->f.config.identities[1];
    sgp32_get_certs_response r;

    call(c, "BF5600");
    decode(c, &sgp32_type_get_certs_response, &r);
    assert_int_equal(r.choice, SGP32_GET_CERTS_RESPONSE_CERTS);
    /* A5/A6 replace the SEQUENCE tag; the rest is the certificate as stored. */
    assert_int_equal(r.u.certs.eum_certificate.data[0], 0xA5);
    assert_int_equal(r.u.certs.euicc_certificate.data[0], 0xA6);
    assert_int_equal(r.u.certs.eum_certificate.len, nist->eum_certificate.len);
    assert_memory_equal(r.u.certs.eum_certificate.data + 1, nist->eum_certificate.data + 1,
                        nist->eum_certificate.len - 1);
    assert_memory_equal(r.u.certs.euicc_certificate.data + 1, nist->euicc_certificate.data + 1,
                        nist->euicc_certificate.len - 1);
    assert_int_equal(c->resp.data[c->resp.data[2] & 0x80 ? 3 + (c->resp.data[2] & 0x7F) : 3], 0xA0);

    call(c, "BF56168014" BRP_CI_PKID);
    decode(c, &sgp32_type_get_certs_response, &r);
    assert_int_equal(r.choice, SGP32_GET_CERTS_RESPONSE_CERTS);
    assert_memory_equal(r.u.certs.euicc_certificate.data + 1, brp->euicc_certificate.data + 1,
                        brp->euicc_certificate.len - 1);
    /* The 04 14 form a public IPA sends (NOTES §2 rule 4) gets the same answer. */
    sgp32_buf first;
    sgp32_buf_init(&first, 1 << 16);
    assert_int_equal(sgp32_buf_append(&first, c->resp.data, c->resp.len), SGP32_OK);
    call(c, "BF56160414" BRP_CI_PKID);
    assert_int_equal(c->resp.len, first.len);
    assert_memory_equal(c->resp.data, first.data, first.len);
    sgp32_buf_free(&first);

    /* Unknown CI: invalidCiPKId. */
    expect_hex(call(c, "BF56168014"
                       "0102030405060708090A0B0C0D0E0F1011121314"),
               "BF5603810101");
    decode(c, &sgp32_type_get_certs_response, &r);
    assert_int_equal(r.choice, SGP32_GET_CERTS_RESPONSE_GET_CERTS_ERROR);
    assert_int_equal(r.u.get_certs_error, SGP32_GET_CERTS_RESPONSE_GET_CERTS_ERROR_INVALID_CI_PK_ID);
}

/* NOTES §8.7 [asn1c] vector: no eimPublicKeyData. */
#define NOTES_ADD_INITIAL_EIM                                                                                \
    "BF5735A0333031800F65696D2E6578616D706C652E636F6D810F65696D2E6578616D706C652E636F6D820102830101840"      \
    "1FF870207808900"

static void add_initial_eim_checks_and_persists(void **state)
{
    ctx *c = *state;
    /* The vector decodes as NOTES describes it ... */
    sgp32_buf v;
    sgp32_buf_init(&v, 256);
    assert_int_equal(sgp32_hex_decode(NOTES_ADD_INITIAL_EIM, strlen(NOTES_ADD_INITIAL_EIM), &v), SGP32_OK);
    sgp32_add_initial_eim_request req;
    memset(&req, 0, sizeof(req));
    assert_int_equal(sgp32_asn1_decode(&sgp32_type_add_initial_eim_request, v.data, v.len, &c->arena, &req),
                     SGP32_OK);
    assert_int_equal(req.eim_configuration_data_list.count, 1);
    const sgp32_eim_configuration_data *cfg = &req.eim_configuration_data_list.items[0];
    assert_int_equal(cfg->association_token, -1);
    assert_int_equal(cfg->eim_supported_protocol, SGP32_EIM_SUPPORTED_PROTOCOL_EIM_RETRIEVE_HTTPS);
    assert_true(cfg->indirect_profile_download);
    assert_false(cfg->has_eim_public_key_data);
    /* ... and is refused: without eimPublicKeyData no package could ever be verified. */
    expect_hex(call_bytes(c, &v), "BF5703810107");
    assert_int_equal(c->f.euicc->state.eim_count, 0);

    /* The same entry with a key: accepted; -1 asks the card for a token. */
    char key[400], fields[2048], request[4400];
    key_field_hex(SGP32_CURVE_NIST_P256, key, sizeof(key));
    snprintf(fields, sizeof(fields),
             "810F65696D2E6578616D706C652E636F6D820102830101"
             "8401FF"
             "%s"
             "870207808900",
             key);
    add_initial_eim_hex(request, sizeof(request), "eim.example.com", fields);
    call(c, request);
    sgp32_add_initial_eim_response r;
    decode(c, &sgp32_type_add_initial_eim_response, &r);
    assert_int_equal(r.choice, SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_OK);
    assert_int_equal(r.u.add_initial_eim_ok.count, 1);
    assert_int_equal(r.u.add_initial_eim_ok.items[0].choice,
                     SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_OK_ITEM_ASSOCIATION_TOKEN);
    int64_t token = r.u.add_initial_eim_ok.items[0].u.association_token;
    assert_true(token > 0 && token <= EUICC_COUNTER_MAX);
    const euicc_eim *e = &c->f.euicc->state.eims[0];
    assert_int_equal(c->f.euicc->state.eim_count, 1);
    assert_string_equal(e->eim_id, "eim.example.com");
    assert_string_equal(e->eim_fqdn, "eim.example.com");
    assert_int_equal(e->counter_value, 1);
    assert_int_equal(e->association_token, token);
    assert_int_equal(e->public_key.curve, SGP32_CURVE_NIST_P256);
    assert_int_equal(e->public_key_data[0], 0xA5);

    /* A second AddInitialEim: associatedEimAlreadyExists. */
    expect_hex(call(c, request), "BF5703810102");
    decode(c, &sgp32_type_add_initial_eim_response, &r);
    assert_int_equal(r.u.add_initial_eim_error,
                     SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_ERROR_ASSOCIATED_EIM_ALREADY_EXISTS);

    /* It was on the NVM before the answer. */
    reopen(c);
    assert_int_equal(c->f.euicc->state.eim_count, 1);
    assert_int_equal(c->f.euicc->state.eims[0].association_token, token);
    sgp32_buf_free(&v);
}

static void add_initial_eim_refusals(void **state)
{
    ctx *c = *state;
    char key[400], fields[2048], request[8000];
    key_field_hex(SGP32_CURVE_BRAINPOOL_P256R1, key, sizeof(key));
    /* counterValue missing */
    add_initial_eim_hex(request, sizeof(request), "eim", key);
    expect_hex(call(c, request), "BF5703810107");
    /* counterValue out of range */
    snprintf(fields, sizeof(fields), "8301FF%s", key);
    add_initial_eim_hex(request, sizeof(request), "eim", fields);
    expect_hex(call(c, request), "BF5703810106");
    snprintf(fields, sizeof(fields), "830500FFFFFFFF%s", key);
    add_initial_eim_hex(request, sizeof(request), "eim", fields);
    expect_hex(call(c, request), "BF5703810106");
    /* associationToken negative but not -1 */
    snprintf(fields, sizeof(fields), "8301058401FE%s", key);
    add_initial_eim_hex(request, sizeof(request), "eim", fields);
    expect_hex(call(c, request), "BF5703810105");
    /* euiccCiPKId that is not one of ours: ciPKUnknown */
    snprintf(fields, sizeof(fields),
             "830105%s8814"
             "0102030405060708090A0B0C0D0E0F1011121314",
             key);
    add_initial_eim_hex(request, sizeof(request), "eim", fields);
    expect_hex(call(c, request), "BF5703810103");
    /* A key off the curve, a key on an unsupported curve (P-384), a certificate that is not one. */
    char point[2 * 97 + 1], spki[400];
    memset(point, '1', sizeof(point) - 1);
    point[sizeof(point) - 1] = '\0';
    point[0] = '0';
    point[1] = '4';
    point[2 * 65] = '\0'; /* 04 || 64 bytes of 11 */
    snprintf(spki, sizeof(spki), "830100A55BA059301306072A8648CE3D020106082A8648CE3D030107034200%s", point);
    add_initial_eim_hex(request, sizeof(request), "eim", spki);
    expect_hex(call(c, request), "BF5703810107");
    point[2 * 65] = '1'; /* 04 || 96 bytes */
    snprintf(spki, sizeof(spki), "830100A578A076301006072A8648CE3D020106052B81040022036200%s", point);
    add_initial_eim_hex(request, sizeof(request), "eim", spki);
    expect_hex(call(c, request), "BF5703810107");
    add_initial_eim_hex(request, sizeof(request), "eim", "830100A505A103020100");
    expect_hex(call(c, request), "BF5703810107");
    /* More entries than the card has room for; one eimId twice; an empty list. */
    char one[1024], list[7200], body[7000];
    {
        char id[20], seq[1100];
        tlv_hex(id, sizeof(id), 0x80, "41");
        snprintf(one, sizeof(one), "%s830100%s", id, key);
        tlv_hex(seq, sizeof(seq), 0x30, one);
        snprintf(body, sizeof(body), "%s%s%s%s%s", seq, seq, seq, seq, seq);
        tlv_hex(list, sizeof(list), 0xA0, body);
        tlv_hex(request, sizeof(request), 0xBF57, list);
        expect_hex(call(c, request), "BF5703810101");
        snprintf(body, sizeof(body), "%s%s", seq, seq);
        tlv_hex(list, sizeof(list), 0xA0, body);
        tlv_hex(request, sizeof(request), 0xBF57, list);
        expect_hex(call(c, request), "BF5703810107");
    }
    expect_hex(call(c, "BF5702A000"), "BF5703810107");
    assert_int_equal(c->f.euicc->state.eim_count, 0);

    /* Our own CI PKID, a certificate instead of an SPKI, two eIMs at once, no token: addOk each. */
    char cert_hex[2 * 1024 + 1], cert_field[2200];
    sgp32_buf cert;
    assert_int_equal(test_read_file(SGP32_SPEC_DIR "/sgp26/DPauth/CERT_S_SM_DPauth_ECDSA_NIST.der", &cert),
                     SGP32_OK);
    assert_true(cert.len < 1000);
    cert.data[0] = 0xA1; /* [1] eimCertificate */
    sgp32_hex_encode(cert.data, cert.len, cert_hex);
    tlv_hex(cert_field, sizeof(cert_field), 0xA5, cert_hex);
    sgp32_buf_free(&cert);
    {
        char id1[20], id2[20], e1[3000], e2[3000], s1[3100], s2[3100];
        tlv_hex(id1, sizeof(id1), 0x80, "41");
        tlv_hex(id2, sizeof(id2), 0x80, "42");
        snprintf(e1, sizeof(e1), "%s830107%s8814" NIST_CI_PKID, id1, cert_field);
        snprintf(e2, sizeof(e2), "%s830100%s8814" BRP_CI_PKID, id2, key);
        tlv_hex(s1, sizeof(s1), 0x30, e1);
        tlv_hex(s2, sizeof(s2), 0x30, e2);
        snprintf(body, sizeof(body), "%s%s", s1, s2);
        tlv_hex(list, sizeof(list), 0xA0, body);
        tlv_hex(request, sizeof(request), 0xBF57, list);
    }
    /* A failed NVM write associates nobody. */
    break_store(c);
    expect_hex(call(c, request), "BF570381017F");
    assert_int_equal(c->f.euicc->state.eim_count, 0);
    mend_store(c);
    expect_hex(call(c, request), "BF5706A00405000500");
    assert_int_equal(c->f.euicc->state.eim_count, 2);
    assert_int_equal(c->f.euicc->state.eims[0].counter_value, 7);
    assert_int_equal(c->f.euicc->state.eims[0].public_key.curve, SGP32_CURVE_NIST_P256);
    assert_int_equal(c->f.euicc->state.eims[1].public_key.curve, SGP32_CURVE_BRAINPOOL_P256R1);
    assert_int_equal(c->f.euicc->state.eims[1].euicc_ci_pkid_len, 20);
}

static void eim_configuration_data(void **state)
{
    ctx *c = *state;
    expect_hex(call(c, "BF5500"), "BF5502A000");
    char tls_spki[400], tls[500], extra[1200];
    spki_hex(SGP32_CURVE_NIST_P256, tls_spki, sizeof(tls_spki));
    tls_spki[0] = 'A';
    tls_spki[1] = '0';
    tlv_hex(tls, sizeof(tls), 0xA6, tls_spki);
    snprintf(extra, sizeof(extra),
             "%s8702078088"
             "14" NIST_CI_PKID "8900",
             tls);
    assert_int_equal(add_eim(c, "eim.example.com", extra), 0);

    call(c, "BF5500");
    sgp32_get_eim_configuration_data_response r;
    decode(c, &sgp32_type_get_eim_configuration_data_response, &r);
    assert_int_equal(r.eim_configuration_data_list.count, 1);
    const sgp32_eim_configuration_data *e = &r.eim_configuration_data_list.items[0];
    assert_memory_equal(e->eim_id.data, "eim.example.com", 15);
    assert_true(e->has_counter_value);
    assert_int_equal(e->counter_value, 1);
    assert_false(e->has_eim_public_key_data); /* the package-signature key stays inside */
    assert_true(e->has_trusted_public_key_data_tls);
    assert_int_equal(e->trusted_public_key_data_tls.choice,
                     SGP32_EIM_CONFIGURATION_DATA_TRUSTED_PUBLIC_KEY_DATA_TLS_TRUSTED_EIM_PK_TLS);
    char *got = malloc(2 * e->trusted_public_key_data_tls.der.len + 1);
    sgp32_hex_encode(e->trusted_public_key_data_tls.der.data, e->trusted_public_key_data_tls.der.len, got);
    assert_string_equal(got, tls);
    free(got);
    assert_int_equal(e->eim_supported_protocol, SGP32_EIM_SUPPORTED_PROTOCOL_EIM_RETRIEVE_HTTPS);
    assert_true(e->has_euicc_ci_pk_id);
    assert_true(e->indirect_profile_download);
    assert_false(e->has_association_token);

    /* By eimId: the one, or nobody. */
    call(c, "BF5513A0118"
            "00F65696D2E6578616D706C652E636F6D");
    decode(c, &sgp32_type_get_eim_configuration_data_response, &r);
    assert_int_equal(r.eim_configuration_data_list.count, 1);
    expect_hex(call(c, "BF5507A00580036F7468"), "BF5502A000");
}

/* ------------------------------------------------------- immediate enable */

static void configure_immediate_profile_enabling(void **state)
{
    ctx *c = *state;
    const sgp32_asn1_type *t = &sgp32_type_configure_immediate_profile_enabling_response;
    euicc_state *s = &c->f.euicc->state;
    /* flag, OID 2.999.10, address */
    assert_int_equal(call_result(c,
                                 "BF5919"
                                 "8000"
                                 "810388370A"
                                 "8210736D64702E6578616D706C652E636F6D",
                                 t),
                     0);
    expect_hex(&c->resp, "BF5903800100");
    assert_true(s->immediate_enable_flag);
    assert_int_equal(s->immediate_default_smdp_oid_len, 3);
    assert_string_equal(s->immediate_default_smdp_address, "smdp.example.com");
    reopen(c);
    s = &c->f.euicc->state;
    assert_true(s->immediate_enable_flag);
    /* The request replaces the whole configuration. */
    assert_int_equal(call_result(c, "BF5900", t), 0);
    assert_false(s->immediate_enable_flag);
    assert_int_equal(s->immediate_default_smdp_oid_len, 0);
    assert_false(s->has_immediate_default_smdp_address);
    /* An address longer than the card keeps: insufficientMemory. */
    char req[1200], addr[700];
    memset(addr, '6', 600);
    addr[600] = '\0';
    char inner[800];
    tlv_hex(inner, sizeof(inner), 0x82, addr);
    tlv_hex(req, sizeof(req), 0xBF59, inner);
    assert_int_equal(call_result(c, req, t), 1);
    /* NVM write failure: undefinedError, nothing changed. */
    break_store(c);
    assert_int_equal(call_result(c, "BF59028000", t), 127);
    assert_false(s->immediate_enable_flag);
    mend_store(c);
    /* Once an eIM is associated only its PSMO may change this. */
    assert_int_equal(add_eim(c, "eim", ""), 0);
    assert_int_equal(call_result(c, "BF59028000", t), 2);
    assert_false(s->immediate_enable_flag);
}

static void immediate_enable(void **state)
{
    ctx *c = *state;
    const sgp32_asn1_type *t = &sgp32_type_immediate_enable_response;
    add_profile(c, OPERATIONAL_ICCID, SGP32_PROFILE_CLASS_OPERATIONAL, true);
    sgp32_euicc *e = c->f.euicc;
    /* Not configured. */
    assert_int_equal(call_result(c, "BF5A038001FF", t), 1);
    assert_int_equal(call_result(c, "BF59028000", &sgp32_type_configure_immediate_profile_enabling_response),
                     0);
    /* Configured, but no download in this session: noSessionContext (wire form of NOTES §2). */
    expect_hex(call(c, "BF5A038001FF"), "BF5A03800104");
    /* The last download's profile. */
    assert_int_equal(euicc_iccid_from_text(OPERATIONAL_ICCID, e->last_installed_iccid), SGP32_OK);
    e->has_last_installed = true;
    /* A failed NVM write: undefinedError, the old profile stays enabled, the context stays. */
    break_store(c);
    assert_int_equal(call_result(c, "BF5A03800100", t), 127);
    assert_true(enabled(c, EUICC_FIXTURE_BOOTSTRAP_ICCID));
    assert_true(e->has_last_installed);
    mend_store(c);
    uint8_t pending_before = e->state.pending_count;
    /* The lenient 01 01 00 form is accepted too. */
    assert_int_equal(call_result(c, "BF5A03010100", t), 0);
    assert_true(enabled(c, OPERATIONAL_ICCID));
    assert_int_equal(e->state.pending_count, pending_before + 1); /* the enable notification */
    assert_false(e->has_last_installed);
    assert_int_equal(call_result(c, "BF5A03800100", t), 4); /* used up */
    reopen(c);
    assert_true(enabled(c, OPERATIONAL_ICCID));

    /* With a default SM-DP+ OID configured, a profile from another SM-DP+ does not qualify. */
    e = c->f.euicc;
    add_profile(c, SECOND_ICCID, SGP32_PROFILE_CLASS_OPERATIONAL, false);
    profile(c, SECOND_ICCID)->smdp_oid[2] = 0x0C; /* 2.999.12 */
    assert_int_equal(
        call_result(c, "BF59078000810388370A", &sgp32_type_configure_immediate_profile_enabling_response), 0);
    assert_int_equal(euicc_iccid_from_text(SECOND_ICCID, e->last_installed_iccid), SGP32_OK);
    e->has_last_installed = true;
    assert_int_equal(call_result(c, "BF5A03800100", t), 1);
    assert_true(enabled(c, OPERATIONAL_ICCID));
    /* A malformed request is not understood. */
    assert_int_not_equal(call_rc(c, "BF5A00"), SGP32_OK);
}

/* -------------------------------------------------- emergency and fallback */

static void emergency_profile(void **state)
{
    ctx *c = *state;
    const sgp32_asn1_type *en = &sgp32_type_enable_emergency_profile_response,
                          *dis = &sgp32_type_disable_emergency_profile_response;
    /* No emergency profile. */
    expect_hex(call(c, "BF5B038001FF"), "BF5B03800108");
    assert_int_equal(call_result(c, "BF5C038001FF", dis), 2);
    add_profile(c, SECOND_ICCID, SGP32_PROFILE_CLASS_OPERATIONAL, true);
    profile(c, SECOND_ICCID)->ecall_indication = true;
    assert_int_equal(euicc_state_save(c->f.euicc), SGP32_OK);
    /* A failed write changes nothing. */
    break_store(c);
    assert_int_equal(call_result(c, "BF5B03800100", en), 127);
    assert_true(enabled(c, EUICC_FIXTURE_BOOTSTRAP_ICCID));
    assert_false(c->f.euicc->state.emergency_active);
    mend_store(c);
    assert_int_equal(call_result(c, "BF5B03800100", en), 0);
    assert_true(enabled(c, SECOND_ICCID));
    assert_int_equal(call_result(c, "BF5B03800100", en), 2); /* already enabled */
    reopen(c);
    assert_true(c->f.euicc->state.emergency_active);
    /* During an eCall: fallback, memory reset of profiles and immediate enable are refused. */
    add_profile(c, OPERATIONAL_ICCID, SGP32_PROFILE_CLASS_OPERATIONAL, false);
    profile(c, OPERATIONAL_ICCID)->fallback_attribute = true;
    assert_int_equal(call_result(c, "BF5D03800100", &sgp32_type_execute_fallback_mechanism_response), 104);
    call(c, "BF6404820207"
            "80");
    sgp32_sgp32_euicc_memory_reset_response mr;
    decode(c, &sgp32_type_sgp32_euicc_memory_reset_response, &mr);
    assert_int_equal(mr.reset_result, SGP32_SGP32_EUICC_MEMORY_RESET_RESPONSE_RESET_RESULT_ECALL_ACTIVE);
    assert_int_equal(c->f.euicc->state.profile_count, 3);
    assert_int_equal(call_result(c, "BF59028000", &sgp32_type_configure_immediate_profile_enabling_response),
                     0);
    assert_int_equal(euicc_iccid_from_text(OPERATIONAL_ICCID, c->f.euicc->last_installed_iccid), SGP32_OK);
    c->f.euicc->has_last_installed = true;
    assert_int_equal(call_result(c, "BF5A03800100", &sgp32_type_immediate_enable_response), 1);
    assert_true(enabled(c, SECOND_ICCID));
    /* Back to the profile enabled before. */
    assert_int_equal(call_result(c, "BF5C03800100", dis), 0);
    assert_true(enabled(c, EUICC_FIXTURE_BOOTSTRAP_ICCID));
    assert_false(c->f.euicc->state.emergency_active);
    assert_int_equal(call_result(c, "BF5C03800100", dis), 2);
    reopen(c);
    assert_true(enabled(c, EUICC_FIXTURE_BOOTSTRAP_ICCID));
    assert_false(c->f.euicc->state.emergency_active);
}

static void fallback_mechanism(void **state)
{
    ctx *c = *state;
    const sgp32_asn1_type *ex = &sgp32_type_execute_fallback_mechanism_response,
                          *ret = &sgp32_type_return_from_fallback_response;
    /* No profile carries the Fallback Attribute. */
    expect_hex(call(c, "BF5D038001FF"), "BF5D03800106");
    assert_int_equal(call_result(c, "BF5E038001FF", ret), 6);
    add_profile(c, OPERATIONAL_ICCID, SGP32_PROFILE_CLASS_OPERATIONAL, true);
    profile(c, OPERATIONAL_ICCID)->fallback_attribute = true;
    assert_int_equal(euicc_state_save(c->f.euicc), SGP32_OK);
    /* Not executed yet: nothing to return from. */
    assert_int_equal(call_result(c, "BF5E03800100", ret), 7);
    break_store(c);
    assert_int_equal(call_result(c, "BF5D03800100", ex), 127);
    assert_true(enabled(c, EUICC_FIXTURE_BOOTSTRAP_ICCID));
    mend_store(c);
    assert_int_equal(call_result(c, "BF5D03800100", ex), 0);
    assert_true(enabled(c, OPERATIONAL_ICCID));
    assert_true(c->f.euicc->state.fallback_active);
    assert_int_equal(call_result(c, "BF5D03800100", ex), 2); /* the fallback profile is enabled */
    reopen(c);
    assert_true(c->f.euicc->state.fallback_active);
    /* The lenient form, then back. */
    assert_int_equal(call_result(c, "BF5E03010100", ret), 0);
    assert_true(enabled(c, EUICC_FIXTURE_BOOTSTRAP_ICCID));
    assert_false(c->f.euicc->state.fallback_active);
    assert_int_equal(call_result(c, "BF5E03800100", ret), 7);
    reopen(c);
    assert_true(enabled(c, EUICC_FIXTURE_BOOTSTRAP_ICCID));
    /* A fallback ended by another switch cannot be returned from. */
    c->f.euicc->config.allow_es10c_profile_management = true;
    assert_int_equal(call_result(c, "BF5D03800100", ex), 0);
    char hex[21], req[64];
    iccid_hex(EUICC_FIXTURE_BOOTSTRAP_ICCID, hex);
    snprintf(req, sizeof(req), "BF3111A00C5A0A%s8101FF", hex);
    assert_int_equal(call_result(c, req, &sgp32_type_enable_profile_response), 0);
    assert_false(c->f.euicc->state.fallback_active);
    assert_int_equal(call_result(c, "BF5E03800100", ret), 7);
}

/* ------------------------------------------------------- profile info list */

static void profiles_info_lists_and_filters(void **state)
{
    ctx *c = *state;
    add_profile(c, OPERATIONAL_ICCID, SGP32_PROFILE_CLASS_OPERATIONAL, true);
    add_profile(c, TEST_ICCID, SGP32_PROFILE_CLASS_TEST, false);
    euicc_profile *op = profile(c, OPERATIONAL_ICCID);
    op->fallback_attribute = true;
    op->has_fallback_allowed = true;
    op->fallback_allowed = true;
    op->has_ppr = true;
    op->ppr = SGP32_PPR_IDS_PPR2;
    op->has_owner = true;
    memcpy(op->owner_mcc_mnc, "\x62\xF2\x10", 3);
    profile(c, TEST_ICCID)->ecall_indication = true;
    assert_int_equal(euicc_state_save(c->f.euicc), SGP32_OK);

    sgp32_sgp32_profile_info_list_response r;
    call(c, "BF2D00");
    decode(c, &sgp32_type_sgp32_profile_info_list_response, &r);
    assert_int_equal(r.choice, SGP32_SGP32_PROFILE_INFO_LIST_RESPONSE_PROFILE_INFO_LIST_OK);
    assert_int_equal(r.u.profile_info_list_ok.count, 3);
    const sgp32_sgp32_profile_info *boot = &r.u.profile_info_list_ok.items[0];
    assert_memory_equal(boot->iccid.data, "\x98\x00\x00\x00\x00\x00\x00\x00\x00\xF1",
                        10); /* EF.ICCID coding */
    assert_int_equal(boot->profile_state, SGP32_PROFILE_STATE_ENABLED);
    assert_int_equal(boot->profile_class, SGP32_PROFILE_CLASS_PROVISIONING);
    assert_int_equal(boot->isdp_aid.len, 16);
    assert_false(boot->has_ecall_indication);
    assert_false(boot->fallback_attribute);
    assert_false(boot->has_profile_nickname);
    const sgp32_sgp32_profile_info *o = &r.u.profile_info_list_ok.items[1];
    assert_int_equal(o->profile_state, SGP32_PROFILE_STATE_DISABLED);
    assert_true(o->fallback_attribute);
    assert_true(o->has_fallback_allowed && o->fallback_allowed);
    assert_true(o->has_profile_policy_rules);
    assert_int_equal(o->profile_policy_rules, SGP32_PPR_IDS_PPR2);
    assert_true(o->has_profile_owner);
    assert_true(o->has_notification_configuration_info);
    assert_int_equal(o->notification_configuration_info.count, 1);
    assert_int_equal(o->notification_configuration_info.items[0].profile_management_operation, 0xF);
    const sgp32_sgp32_profile_info *t = &r.u.profile_info_list_ok.items[2];
    assert_true(t->has_ecall_indication && t->ecall_indication);
    assert_int_equal(t->profile_class, SGP32_PROFILE_CLASS_TEST);

    /* By ICCID (a profile's E3 carries 9F26 01 FF and 9F67 01 FF on the wire). */
    char hex[21], req[128];
    iccid_hex(OPERATIONAL_ICCID, hex);
    snprintf(req, sizeof(req), "BF2D0EA00C5A0A%s", hex);
    call(c, req);
    decode(c, &sgp32_type_sgp32_profile_info_list_response, &r);
    assert_int_equal(r.u.profile_info_list_ok.count, 1);
    char *wire = malloc(2 * c->resp.len + 1);
    sgp32_hex_encode(c->resp.data, c->resp.len, wire);
    assert_non_null(strstr(wire, "9F2601FF9F6701FF"));
    free(wire);
    /* By AID */
    char aid[33];
    sgp32_hex_encode(profile(c, TEST_ICCID)->aid, 16, aid);
    snprintf(req, sizeof(req), "BF2D14A0124F10%s", aid);
    call(c, req);
    decode(c, &sgp32_type_sgp32_profile_info_list_response, &r);
    assert_int_equal(r.u.profile_info_list_ok.count, 1);
    assert_true(r.u.profile_info_list_ok.items[0].ecall_indication);
    /* By class: the operational ones; none of a class nobody has. */
    call(c, "BF2D05A003950102");
    decode(c, &sgp32_type_sgp32_profile_info_list_response, &r);
    assert_int_equal(r.u.profile_info_list_ok.count, 1);
    snprintf(req, sizeof(req), "BF2D0EA00C5A0A%s", "98000000000000000099");
    expect_hex(call(c, req), "BF2D02A000");
    /* tagList: only ICCID and state; 9F7B on request shows FALSE too. */
    call(c, "BF2D045C025A95");
    decode(c, &sgp32_type_sgp32_profile_info_list_response, &r);
    assert_int_equal(r.u.profile_info_list_ok.count, 3);
    for (size_t i = 0; i < 3; i++) {
        const sgp32_sgp32_profile_info *p = &r.u.profile_info_list_ok.items[i];
        assert_true(p->has_iccid && p->has_profile_class);
        assert_false(p->has_profile_state || p->has_profile_name || p->has_isdp_aid ||
                     p->has_ecall_indication);
    }
    call(c, "BF2D075C055A9F709F7B");
    decode(c, &sgp32_type_sgp32_profile_info_list_response, &r);
    for (size_t i = 0; i < 3; i++) {
        const sgp32_sgp32_profile_info *p = &r.u.profile_info_list_ok.items[i];
        assert_true(p->has_iccid && p->has_profile_state && p->has_ecall_indication);
        assert_false(p->has_profile_name || p->has_isdp_aid || p->has_profile_class || p->fallback_attribute);
    }
    assert_false(r.u.profile_info_list_ok.items[0].ecall_indication);
    assert_true(r.u.profile_info_list_ok.items[2].ecall_indication);
    /* Bad input: a class that does not exist, a cut tag. */
    expect_hex(call(c, "BF2D05A003950107"), "BF2D03810101");
    expect_hex(call(c, "BF2D035C019F"), "BF2D03810101");
}

/* ----------------------------------------------------------- ES10c profiles */

static void es10c_profile_functions_are_refused_on_iot(void **state)
{
    ctx *c = *state;
    add_profile(c, OPERATIONAL_ICCID, SGP32_PROFILE_CLASS_OPERATIONAL, true);
    char hex[21], req[64];
    iccid_hex(OPERATIONAL_ICCID, hex);
    snprintf(req, sizeof(req), "BF3111A00C5A0A%s8101FF", hex);
    expect_hex(call(c, req), "BF3103800103");
    snprintf(req, sizeof(req), "BF3211A00C5A0A%s8101FF", hex);
    assert_int_equal(call_result(c, req, &sgp32_type_disable_profile_response), 3);
    snprintf(req, sizeof(req), "BF330C5A0A%s", hex);
    assert_int_equal(call_result(c, req, &sgp32_type_delete_profile_response), 3);
    assert_true(enabled(c, EUICC_FIXTURE_BOOTSTRAP_ICCID));
    assert_int_equal(c->f.euicc->state.profile_count, 2);
}

static void es10c_profile_functions_with_the_test_switch(void **state)
{
    ctx *c = *state;
    c->f.euicc->config.allow_es10c_profile_management = true;
    add_profile(c, OPERATIONAL_ICCID, SGP32_PROFILE_CLASS_OPERATIONAL, true);
    add_profile(c, SECOND_ICCID, SGP32_PROFILE_CLASS_OPERATIONAL, true);
    const sgp32_asn1_type *en = &sgp32_type_enable_profile_response,
                          *dis = &sgp32_type_disable_profile_response,
                          *del = &sgp32_type_delete_profile_response;
    char op[21], second[21], boot[21], req[128], aid[33];
    iccid_hex(OPERATIONAL_ICCID, op);
    iccid_hex(SECOND_ICCID, second);
    iccid_hex(EUICC_FIXTURE_BOOTSTRAP_ICCID, boot);

    /* Enable by ICCID (NOTES [asn1c] form), then by AID. */
    snprintf(req, sizeof(req), "BF3111A00C5A0A%s8101FF", op);
    assert_int_equal(call_result(c, req, en), 0);
    assert_true(enabled(c, OPERATIONAL_ICCID));
    assert_int_equal(call_result(c, req, en), 2);
    sgp32_hex_encode(profile(c, SECOND_ICCID)->aid, 16, aid);
    snprintf(req, sizeof(req), "BF3117A0124F10%s810100", aid);
    assert_int_equal(call_result(c, req, en), 0);
    assert_true(enabled(c, SECOND_ICCID));
    /* disable(op) and enable(second) notifications, then disable(second), enable(op)... */
    assert_int_equal(c->f.euicc->state.pending_count, 3);
    snprintf(req, sizeof(req), "BF3111A00C5A0A%s8101FF", "98000000000000000099");
    assert_int_equal(call_result(c, req, en), 1);
    /* ppr1 on the enabled profile forbids switching away and disabling it. */
    profile(c, SECOND_ICCID)->has_ppr = true;
    profile(c, SECOND_ICCID)->ppr = SGP32_PPR_IDS_PPR1;
    snprintf(req, sizeof(req), "BF3111A00C5A0A%s8101FF", op);
    assert_int_equal(call_result(c, req, en), 3);
    snprintf(req, sizeof(req), "BF3211A00C5A0A%s8101FF", second);
    assert_int_equal(call_result(c, req, dis), 3);
    profile(c, SECOND_ICCID)->has_ppr = false;
    assert_int_equal(call_result(c, req, dis), 0);
    assert_false(profile(c, SECOND_ICCID)->enabled);
    assert_int_equal(call_result(c, req, dis), 2);
    snprintf(req, sizeof(req), "BF3211A00C5A0A%s8101FF", "98000000000000000099");
    assert_int_equal(call_result(c, req, dis), 1);

    /* Delete: enabled -> 2; ppr2 -> 3; unknown -> 1; ok with a delete notification; stored elements go. */
    snprintf(req, sizeof(req), "BF3111A00C5A0A%s8101FF", boot);
    assert_int_equal(call_result(c, req, en), 0);
    snprintf(req, sizeof(req), "BF330C5A0A%s", boot);
    assert_int_equal(call_result(c, req, del), 2);
    profile(c, OPERATIONAL_ICCID)->has_ppr = true;
    profile(c, OPERATIONAL_ICCID)->ppr = SGP32_PPR_IDS_PPR2;
    snprintf(req, sizeof(req), "BF330C5A0A%s", op);
    assert_int_equal(call_result(c, req, del), 3);
    snprintf(req, sizeof(req), "BF330C5A0A%s", "98000000000000000099");
    assert_int_equal(call_result(c, req, del), 1);
    sgp32_euicc_store *store = &c->f.config.store;
    assert_int_equal(store->save(store->ctx, "profile-" SECOND_ICCID, (const uint8_t *)"PE", 2), SGP32_OK);
    uint8_t before = c->f.euicc->state.pending_count;
    snprintf(req, sizeof(req), "BF330C5A0A%s", second);
    break_store(c);
    assert_int_equal(call_result(c, req, del), 127);
    assert_non_null(profile(c, SECOND_ICCID));
    assert_int_equal(c->f.euicc->state.pending_count, before);
    sgp32_buf elements;
    sgp32_buf_init(&elements, 64);
    assert_int_equal(store->load(store->ctx, "profile-" SECOND_ICCID, &elements), SGP32_OK);
    mend_store(c);
    assert_int_equal(call_result(c, req, del), 0);
    assert_null(profile(c, SECOND_ICCID));
    assert_int_equal(c->f.euicc->state.pending_count, before + 1);
    assert_int_equal(c->f.euicc->state.pending[before].event, SGP32_NOTIFICATION_EVENT_NOTIFICATION_DELETE);
    assert_int_equal(store->load(store->ctx, "profile-" SECOND_ICCID, &elements), SGP32_ERR_NOT_FOUND);
    sgp32_buf_free(&elements);
    assert_int_equal(call_result(c, req, del), 1);
    reopen(c);
    assert_null(profile(c, SECOND_ICCID));
    assert_true(enabled(c, EUICC_FIXTURE_BOOTSTRAP_ICCID));
}

static void set_nickname(void **state)
{
    ctx *c = *state;
    const sgp32_asn1_type *t = &sgp32_type_set_nickname_response;
    /* BF29 { 5A iccid, 90 "tracker" } */
    assert_int_equal(call_result(c, "BF29155A0A" BOOTSTRAP_ICCID_HEX "9007747261636B6572", t), 0);
    expect_hex(&c->resp, "BF2903800100");
    assert_string_equal(profile(c, EUICC_FIXTURE_BOOTSTRAP_ICCID)->nickname, "tracker");
    assert_int_equal(call_result(c,
                                 "BF29155A0A"
                                 "98000000000000000099"
                                 "9007747261636B6572",
                                 t),
                     1);
    break_store(c);
    assert_int_equal(call_result(c, "BF290E5A0A" BOOTSTRAP_ICCID_HEX "9000", t), 127);
    assert_string_equal(profile(c, EUICC_FIXTURE_BOOTSTRAP_ICCID)->nickname, "tracker");
    mend_store(c);
    reopen(c);
    assert_string_equal(profile(c, EUICC_FIXTURE_BOOTSTRAP_ICCID)->nickname, "tracker");
    call(c, "BF2D045C0290"
            "5A");
    sgp32_sgp32_profile_info_list_response r;
    decode(c, &sgp32_type_sgp32_profile_info_list_response, &r);
    assert_true(r.u.profile_info_list_ok.items[0].has_profile_nickname);
    assert_memory_equal(r.u.profile_info_list_ok.items[0].profile_nickname.data, "tracker", 7);
    /* An empty nickname removes it. */
    assert_int_equal(call_result(c, "BF290E5A0A" BOOTSTRAP_ICCID_HEX "9000", t), 0);
    assert_string_equal(profile(c, EUICC_FIXTURE_BOOTSTRAP_ICCID)->nickname, "");
}

/* ----------------------------------------------------------- memory reset */

static sgp32_sgp32_euicc_memory_reset_response memory_reset(ctx *c, const char *hex)
{
    call(c, hex);
    sgp32_sgp32_euicc_memory_reset_response r;
    decode(c, &sgp32_type_sgp32_euicc_memory_reset_response, &r);
    return r;
}

static void memory_reset_options(void **state)
{
    ctx *c = *state;
    /* NOTES [asn1c] request: options {resetEimConfigData, resetImmediateEnableConfig}. */
    sgp32_buf v;
    sgp32_buf_init(&v, 64);
    assert_int_equal(sgp32_hex_decode("BF640482020106", 14, &v), SGP32_OK);
    sgp32_sgp32_euicc_memory_reset_request mreq;
    memset(&mreq, 0, sizeof(mreq));
    assert_int_equal(
        sgp32_asn1_decode(&sgp32_type_sgp32_euicc_memory_reset_request, v.data, v.len, &c->arena, &mreq),
        SGP32_OK);
    assert_int_equal(mreq.reset_options,
                     SGP32_SGP32_EUICC_MEMORY_RESET_REQUEST_RESET_OPTIONS_RESET_EIM_CONFIG_DATA |
                         SGP32_SGP32_EUICC_MEMORY_RESET_REQUEST_RESET_OPTIONS_RESET_IMMEDIATE_ENABLE_CONFIG);
    sgp32_buf_free(&v);

    /* resetEimConfigData alone, with an eIM: NOTES [asn1c] response BF64 06 80 01 00 81 01 00. */
    assert_int_equal(add_eim(c, "eim", ""), 0);
    expect_hex(call(c, "BF6404820202"
                       "04"),
               "BF6406800100810100");
    assert_int_equal(c->f.euicc->state.eim_count, 0);
    /* ... after which AddInitialEim is possible again. */
    assert_int_equal(add_eim(c, "eim2", ""), 0);
    /* Both: eIM and immediate enable configuration. */
    c->f.euicc->state.immediate_enable_flag = true;
    sgp32_sgp32_euicc_memory_reset_response r = memory_reset(c, "BF640482020106");
    expect_hex(&c->resp, "BF6409800100810100820100");
    assert_true(r.has_reset_eim_result && r.has_reset_immediate_enable_config_result);
    assert_false(c->f.euicc->state.immediate_enable_flag);
    /* No eIM left: nothingToDelete for the eIM part. */
    expect_hex(call(c, "BF640482020204"), "BF6406800100810101");

    /* resetDefaultSmdpAddress: ok, then nothing left to reset. */
    expect_hex(call(c, "BF640482020520"), "BF6403800100");
    assert_string_equal(c->f.euicc->state.default_dp_address, "");
    expect_hex(call(c, "BF640482020520"), "BF6403800101");
    expect_hex(call(c, "BF3C00"), "BF3C11810F6C70612E64732E67736D612E636F6D");

    /* Profiles by class; pre-loaded and field-loaded test profiles apart. */
    add_profile(c, OPERATIONAL_ICCID, SGP32_PROFILE_CLASS_OPERATIONAL, true);
    add_profile(c, SECOND_ICCID, SGP32_PROFILE_CLASS_OPERATIONAL, true);
    add_profile(c, TEST_ICCID, SGP32_PROFILE_CLASS_TEST, true);
    queue(c, OPERATIONAL_ICCID, SGP32_NOTIFICATION_EVENT_NOTIFICATION_ENABLE);
    int64_t pir = queue_pir(c, SECOND_ICCID);
    queue(c, TEST_ICCID, SGP32_NOTIFICATION_EVENT_NOTIFICATION_ENABLE);
    int64_t epr = queue_epr(c);
    assert_int_equal(c->f.euicc->state.pending_count, 4);
    /* deletePreLoadedTestProfiles: the test profile came from an SM-DP+, so nothing. */
    r = memory_reset(c, "BF640482020410");
    assert_int_equal(r.reset_result, SGP32_SGP32_EUICC_MEMORY_RESET_RESPONSE_RESET_RESULT_NOTHING_TO_DELETE);
    assert_false(r.has_reset_eim_result);
    /* A failed NVM write deletes nothing. */
    sgp32_euicc_store *store = &c->f.config.store;
    assert_int_equal(store->save(store->ctx, "profile-" OPERATIONAL_ICCID, (const uint8_t *)"PE", 2),
                     SGP32_OK);
    break_store(c);
    r = memory_reset(c, "BF640482020780");
    assert_int_equal(r.reset_result, SGP32_SGP32_EUICC_MEMORY_RESET_RESPONSE_RESET_RESULT_UNDEFINED_ERROR);
    assert_int_equal(c->f.euicc->state.profile_count, 4);
    assert_int_equal(c->f.euicc->state.pending_count, 4);
    mend_store(c);
    /* deleteOperationalProfiles: both operational profiles and their notifications (PIR included);
     * no delete notification; the EPR stays; stored elements are removed. */
    sgp32_buf elements;
    sgp32_buf_init(&elements, 64);
    assert_int_equal(store->load(store->ctx, "profile-" OPERATIONAL_ICCID, &elements), SGP32_OK);
    expect_hex(call(c, "BF640482020780"), "BF6403800100");
    assert_null(profile(c, OPERATIONAL_ICCID));
    assert_null(profile(c, SECOND_ICCID));
    assert_non_null(profile(c, TEST_ICCID));
    assert_null(pending_by_seq(c, pir));
    assert_non_null(pending_by_seq(c, epr));
    assert_int_equal(c->f.euicc->state.pending_count, 2);
    assert_int_equal(store->load(store->ctx, "profile-" OPERATIONAL_ICCID, &elements), SGP32_ERR_NOT_FOUND);
    sgp32_buf_free(&elements);
    expect_hex(call(c, "BF640482020780"), "BF6403800101");
    /* deleteFieldLoadedTestProfiles */
    expect_hex(call(c, "BF640482020640"), "BF6403800100");
    assert_null(profile(c, TEST_ICCID));
    assert_int_equal(c->f.euicc->state.pending_count, 1);
    /* deleteProvisioningProfiles: the enabled bootstrap profile goes too; no profile is enabled. */
    expect_hex(call(c, "BF640482020308"), "BF6403800100");
    assert_int_equal(c->f.euicc->state.profile_count, 0);
    char iccid[21];
    assert_int_equal(sgp32_euicc_enabled_iccid(c->f.euicc, iccid), SGP32_ERR_NOT_FOUND);
    reopen(c);
    assert_int_equal(c->f.euicc->state.profile_count, 0);
    assert_int_equal(c->f.euicc->state.pending_count, 1);
    assert_string_equal(c->f.euicc->state.default_dp_address, "");
    /* Everything asked, nothing there. */
    expect_hex(call(c, "BF6404820201FE"), "BF6409800101810101820100");
}

static void memory_reset_of_preloaded_test_profiles(void **state)
{
    ctx *c = *state;
    /* A card made with a pre-loaded test profile (no SM-DP+ installed it). */
    static const sgp32_euicc_preloaded_profile pre[2] = {
        {EUICC_FIXTURE_BOOTSTRAP_ICCID, "Bootstrap", "sgp32 test", SGP32_PROFILE_CLASS_PROVISIONING, true,
         false},
        {TEST_ICCID, "Test", "sgp32 test", SGP32_PROFILE_CLASS_TEST, false, false},
    };
    sgp32_euicc_close(c->f.euicc);
    sgp32_euicc_memory_store_free(c->f.memory);
    assert_int_equal(sgp32_euicc_memory_store_new(&c->f.memory, &c->f.config.store), SGP32_OK);
    c->f.config.preloaded = pre;
    c->f.config.preloaded_count = 2;
    assert_int_equal(sgp32_euicc_open(&c->f.config, &c->f.euicc), SGP32_OK);
    expect_hex(call(c, "BF640482020640"), "BF6403800101"); /* field-loaded: none */
    expect_hex(call(c, "BF640482020410"), "BF6403800100"); /* pre-loaded: the one */
    assert_null(profile(c, TEST_ICCID));
    assert_non_null(profile(c, EUICC_FIXTURE_BOOTSTRAP_ICCID));
}

/* Requests that do not decode are not understood (6A80 at the APDU level). */
static void malformed_requests_are_not_understood(void **state)
{
    ctx *c = *state;
    static const char *bad[] = {
        "BF2B05A003830100",   /* unknown search criterion */
        "BF3003800100FF",     /* trailing bytes */
        "BF3003810101",       /* seqNumber missing */
        "BF5503A00100",       /* eimId is [0] UTF8String */
        "BF570100",           /* cut */
        "BF6400",             /* resetOptions is mandatory */
        "BF5B00",             /* refreshFlag is mandatory */
        "BF3103A00100",       /* profileIdentifier */
        "BF29065A0101900100", /* ICCID is 10 bytes */
    };
    for (size_t i = 0; i < SGP32_ARRAY_LEN(bad); i++)
        if (call_rc(c, bad[i]) == SGP32_OK)
            fail_msg("%s was accepted", bad[i]);
    assert_int_equal(c->f.euicc->state.profile_count, 1);
}

/* ------------------------------------------------- allocation failures */

/* The card's memory says what the store says: the property a failed NVM write must keep. */
static void assert_memory_matches_store(ctx *c)
{
    sgp32_buf stored, now;
    sgp32_buf_init(&stored, 1 << 20);
    sgp32_buf_init(&now, 1 << 20);
    assert_int_equal(c->f.config.store.load(c->f.config.store.ctx, "state", &stored), SGP32_OK);
    assert_int_equal(euicc_state_encode(&c->f.euicc->state, &now), SGP32_OK);
    assert_int_equal(stored.len, now.len);
    assert_memory_equal(stored.data, now.data, now.len);
    sgp32_buf_free(&stored);
    sgp32_buf_free(&now);
}

static char eim_key_field[400];

static void prepare_add_initial_eim(ctx *c, char *req, size_t size)
{
    (void)c;
    char fields[600];
    snprintf(fields, sizeof(fields), "8301018401FF%s", eim_key_field);
    add_initial_eim_hex(req, size, "eim.example.com", fields);
}

static void prepare_memory_reset(ctx *c, char *req, size_t size)
{
    add_profile(c, OPERATIONAL_ICCID, SGP32_PROFILE_CLASS_OPERATIONAL, true);
    queue(c, OPERATIONAL_ICCID, SGP32_NOTIFICATION_EVENT_NOTIFICATION_ENABLE);
    c->f.euicc->state.immediate_enable_flag = true;
    assert_int_equal(euicc_state_save(c->f.euicc), SGP32_OK);
    snprintf(req, size, "BF6404820201FE");
}

static void prepare_fallback(ctx *c, char *req, size_t size)
{
    add_profile(c, OPERATIONAL_ICCID, SGP32_PROFILE_CLASS_OPERATIONAL, true);
    profile(c, OPERATIONAL_ICCID)->fallback_attribute = true;
    assert_int_equal(euicc_state_save(c->f.euicc), SGP32_OK);
    snprintf(req, size, "BF5D038001FF");
}

static void prepare_remove_notification(ctx *c, char *req, size_t size)
{
    add_profile(c, OPERATIONAL_ICCID, SGP32_PROFILE_CLASS_OPERATIONAL, true);
    queue(c, OPERATIONAL_ICCID, SGP32_NOTIFICATION_EVENT_NOTIFICATION_ENABLE);
    snprintf(req, size, "BF3003800101");
}

static void prepare_delete(ctx *c, char *req, size_t size)
{
    c->f.euicc->config.allow_es10c_profile_management = true;
    add_profile(c, OPERATIONAL_ICCID, SGP32_PROFILE_CLASS_OPERATIONAL, true);
    char hex[21];
    iccid_hex(OPERATIONAL_ICCID, hex);
    snprintf(req, size, "BF330C5A0A%s", hex);
}

static void prepare_immediate_enable(ctx *c, char *req, size_t size)
{
    add_profile(c, OPERATIONAL_ICCID, SGP32_PROFILE_CLASS_OPERATIONAL, true);
    c->f.euicc->state.immediate_enable_flag = true;
    assert_int_equal(euicc_state_save(c->f.euicc), SGP32_OK);
    assert_int_equal(euicc_iccid_from_text(OPERATIONAL_ICCID, c->f.euicc->last_installed_iccid), SGP32_OK);
    c->f.euicc->has_last_installed = true;
    snprintf(req, size, "BF5A038001FF");
}

static void prepare_nickname(ctx *c, char *req, size_t size)
{
    (void)c;
    snprintf(req, size, "BF29155A0A" BOOTSTRAP_ICCID_HEX "9007747261636B6572");
}

/* Run one state-changing function with each allocation failing in turn: whatever it answers,
 * the card's memory must equal the stored state, and a response must be one whole TLV. */
static void every_allocation_failure_leaves_memory_as_stored(void **state)
{
    ctx *c = *state;
    key_field_hex(SGP32_CURVE_NIST_P256, eim_key_field, sizeof(eim_key_field));
    static void (*const cases[])(ctx *, char *, size_t) = {
        prepare_add_initial_eim, prepare_memory_reset,     prepare_fallback, prepare_remove_notification,
        prepare_delete,          prepare_immediate_enable, prepare_nickname,
    };
    for (size_t i = 0; i < SGP32_ARRAY_LEN(cases); i++) {
        size_t total = 0;
        for (size_t k = 0; k == 0 || k <= total; k++) {
            euicc_fixture_close(&c->f);
            assert_int_equal(euicc_fixture_open(&c->f), SGP32_OK);
            char hex[4400];
            cases[i](c, hex, sizeof(hex));
            sgp32_buf req;
            sgp32_buf_init(&req, 1 << 16);
            assert_int_equal(sgp32_hex_decode(hex, strlen(hex), &req), SGP32_OK);
            assert_int_equal(sgp32_buf_extend(&c->resp, 4096, NULL), SGP32_OK); /* grown outside the count */
            sgp32_buf_reset(&c->resp);
            test_alloc_begin(k);
            int rc = sgp32_euicc_es10(c->f.euicc, req.data, req.len, &c->resp);
            if (k == 0)
                total = test_alloc_count();
            test_alloc_end();
            if (k == 0)
                assert_int_equal(rc, SGP32_OK);
            if (rc == SGP32_OK) {
                sgp32_asn1_tlv tlv;
                size_t used;
                assert_int_equal(sgp32_asn1_read_tlv(c->resp.data, c->resp.len, &tlv, &used), SGP32_OK);
                assert_int_equal(used, c->resp.len);
            }
            assert_memory_matches_store(c);
            sgp32_buf_free(&req);
        }
        assert_true(total > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(configured_addresses, setup, teardown),
        cmocka_unit_test_setup_teardown(euicc_info1_lists_the_cis, setup, teardown),
        cmocka_unit_test_setup_teardown(euicc_info2_is_the_iot_form, setup, teardown),
        cmocka_unit_test_setup_teardown(euicc_challenge_is_fresh_and_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(rat_is_the_permissive_default, setup, teardown),
        cmocka_unit_test_setup_teardown(connectivity_parameters_and_ipae, setup, teardown),
        cmocka_unit_test_setup_teardown(notifications_are_listed_retrieved_and_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(get_certs_by_pkid_and_default, setup, teardown),
        cmocka_unit_test_setup_teardown(add_initial_eim_checks_and_persists, setup, teardown),
        cmocka_unit_test_setup_teardown(add_initial_eim_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(eim_configuration_data, setup, teardown),
        cmocka_unit_test_setup_teardown(configure_immediate_profile_enabling, setup, teardown),
        cmocka_unit_test_setup_teardown(immediate_enable, setup, teardown),
        cmocka_unit_test_setup_teardown(emergency_profile, setup, teardown),
        cmocka_unit_test_setup_teardown(fallback_mechanism, setup, teardown),
        cmocka_unit_test_setup_teardown(profiles_info_lists_and_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(es10c_profile_functions_are_refused_on_iot, setup, teardown),
        cmocka_unit_test_setup_teardown(es10c_profile_functions_with_the_test_switch, setup, teardown),
        cmocka_unit_test_setup_teardown(set_nickname, setup, teardown),
        cmocka_unit_test_setup_teardown(memory_reset_options, setup, teardown),
        cmocka_unit_test_setup_teardown(memory_reset_of_preloaded_test_profiles, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_requests_are_not_understood, setup, teardown),
        cmocka_unit_test_setup_teardown(every_allocation_failure_leaves_memory_as_stored, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

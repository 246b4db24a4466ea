/*
 * eUICC packages: ES10b.LoadEuiccPackage (BF51) with every check, PSMO and eCO result,
 * ES10b.ProfileRollback (BF58), the pending EPRs (BF2B 82 00, BF30) across power cycles,
 * and the eIM side of ESep (lib/eim: sign a package, verify a result).
 *
 * The eIM is associated the way a real one is, with AddInitialEim (BF57). The extra profiles
 * are put into the state directly (add_test_profile): downloads are not what is tested here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../lib/euicc/euicc_internal.h"
#include "euicc_fixture.h"
#include "sgp32/asn1.h"
#include "sgp32/certificate.h"
#include "sgp32/eim_package.h"
#include "sgp32/text.h"

#define EIM_ID        "eim.example.com"
#define ICCID_A       EUICC_FIXTURE_BOOTSTRAP_ICCID /* enabled at manufacture */
#define ICCID_B       "8900000000000000012"
#define ICCID_C       "8900000000000000023"
#define ICCID_UNKNOWN "8900000000000000999"
#define NOTIFY_ADDR   "smdp.example.com"

static const uint8_t txid[4] = {0xCA, 0xFE, 0x00, 0x01};

typedef struct pkg {
    euicc_fixture f;
    sgp32_ec_private_key eim_key;
    sgp32_ec_public_key eim_pub;
    bool has_token;
    int64_t token;
    int64_t counter; /* the last counterValue sent */
    sgp32_ec_public_key euicc_nist, euicc_brp;
    sgp32_bytes brp_ci_pkid;
    uint8_t brp_ci_pkid_storage[32];
    sgp32_arena arena; /* everything decoded or built in one test */
} pkg;

/* ------------------------------------------------------------ helpers */

static void cert_key(const char *name, sgp32_ec_public_key *key, sgp32_certificate *out)
{
    char path[512];
    snprintf(path, sizeof(path), SGP32_SPEC_DIR "/sgp26/%s", name);
    sgp32_buf der;
    assert_int_equal(test_read_file(path, &der), SGP32_OK);
    sgp32_certificate *cert = calloc(1, sizeof(*cert));
    assert_int_equal(sgp32_cert_parse(der.data, der.len, cert), SGP32_OK);
    if (key)
        *key = cert->public_key;
    if (out)
        *out = *cert;
    free(cert);
    sgp32_buf_free(&der);
}

static sgp32_bytes copy(pkg *t, const void *data, size_t len)
{
    uint8_t *p = sgp32_arena_alloc(&t->arena, len ? len : 1);
    assert_non_null(p);
    memcpy(p, data, len);
    return (sgp32_bytes){p, len};
}

static sgp32_bytes text(pkg *t, const char *s)
{
    return copy(t, s, strlen(s));
}

static sgp32_bytes iccid(pkg *t, const char *digits)
{
    uint8_t b[10];
    assert_int_equal(euicc_iccid_from_text(digits, b), SGP32_OK);
    return copy(t, b, 10);
}

static sgp32_bytes spki(pkg *t, const sgp32_ec_public_key *pub)
{
    sgp32_buf b;
    sgp32_buf_init(&b, 256);
    assert_int_equal(sgp32_ec_public_to_spki(pub, &b), SGP32_OK);
    sgp32_bytes r = copy(t, b.data, b.len);
    sgp32_buf_free(&b);
    return r;
}

static sgp32_eim_configuration_data eim_config(pkg *t, const char *id, const sgp32_ec_public_key *pub)
{
    sgp32_eim_configuration_data c;
    memset(&c, 0, sizeof(c));
    c.eim_id = text(t, id);
    c.has_eim_fqdn = true;
    c.eim_fqdn = text(t, id);
    c.has_eim_id_type = true;
    c.eim_id_type = SGP32_EIM_ID_TYPE_EIM_ID_TYPE_FQDN;
    c.has_counter_value = true;
    c.counter_value = 0;
    if (pub) {
        c.has_eim_public_key_data = true;
        c.eim_public_key_data.choice = SGP32_EIM_CONFIGURATION_DATA_EIM_PUBLIC_KEY_DATA_EIM_PUBLIC_KEY;
        c.eim_public_key_data.u.eim_public_key = spki(t, pub);
    }
    return c;
}

static int es10(pkg *t, const uint8_t *req, size_t len, sgp32_buf *resp)
{
    sgp32_buf_init(resp, 1 << 16);
    return sgp32_euicc_es10(t->f.euicc, req, len, resp);
}

static void es10_hex(pkg *t, const char *hex, sgp32_buf *resp)
{
    assert_int_equal(euicc_fixture_es10_hex(&t->f, hex, resp), SGP32_OK);
}

/* AddInitialEim (BF57) with one eIM; returns the response's association token (or addOk). */
static int add_initial_eim(pkg *t, const char *id, const sgp32_ec_public_key *pub, bool want_token,
                           bool *has_token, int64_t *token)
{
    sgp32_eim_configuration_data c = eim_config(t, id, pub);
    c.has_association_token = want_token;
    c.association_token = -1; /* the card makes one */
    sgp32_add_initial_eim_request req;
    memset(&req, 0, sizeof(req));
    req.eim_configuration_data_list.items = &c;
    req.eim_configuration_data_list.count = 1;
    sgp32_buf b, resp;
    sgp32_buf_init(&b, 4096);
    assert_int_equal(sgp32_asn1_encode(&sgp32_type_add_initial_eim_request, &req, &b), SGP32_OK);
    assert_int_equal(es10(t, b.data, b.len, &resp), SGP32_OK);
    sgp32_add_initial_eim_response *r = sgp32_arena_alloc(&t->arena, sizeof(*r));
    sgp32_bytes kept = copy(t, resp.data, resp.len);
    assert_int_equal(
        sgp32_asn1_decode(&sgp32_type_add_initial_eim_response, kept.data, kept.len, &t->arena, r), SGP32_OK);
    sgp32_buf_free(&b);
    sgp32_buf_free(&resp);
    if (r->choice != SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_OK)
        return (int)r->u.add_initial_eim_error;
    assert_int_equal(r->u.add_initial_eim_ok.count, 1);
    *has_token = r->u.add_initial_eim_ok.items[0].choice ==
                 SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_OK_ITEM_ASSOCIATION_TOKEN;
    *token = *has_token ? r->u.add_initial_eim_ok.items[0].u.association_token : 0;
    return 0;
}

/* TEST HELPER: a disabled operational profile put into the state directly (no download). */
static euicc_profile *add_test_profile(pkg *t, const char *digits)
{
    euicc_state *s = &t->f.euicc->state;
    euicc_profile *p = &s->profiles[s->profile_count++];
    memset(p, 0, sizeof(*p));
    assert_int_equal(euicc_iccid_from_text(digits, p->iccid), SGP32_OK);
    static const uint8_t aid[16] = {0xA0, 0x00, 0x00, 0x05, 0x59, 0x10, 0x10, 0xFF,
                                    0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00, 0x20, 0x00};
    memcpy(p->aid, aid, 16);
    p->aid[15] = s->profile_count;
    p->aid_len = 16;
    p->profile_class = SGP32_PROFILE_CLASS_OPERATIONAL;
    snprintf(p->profile_name, sizeof(p->profile_name), "Test %s", digits);
    p->notification_config_count = 1;
    p->notification_config[0].events = SGP32_NOTIFICATION_EVENT_NOTIFICATION_ENABLE |
                                       SGP32_NOTIFICATION_EVENT_NOTIFICATION_DISABLE |
                                       SGP32_NOTIFICATION_EVENT_NOTIFICATION_DELETE;
    strcpy(p->notification_config[0].address, NOTIFY_ADDR);
    assert_int_equal(euicc_state_save(t->f.euicc), SGP32_OK);
    return p;
}

static euicc_profile *profile(pkg *t, const char *digits)
{
    uint8_t b[10];
    assert_int_equal(euicc_iccid_from_text(digits, b), SGP32_OK);
    return euicc_find_profile_by_iccid(t->f.euicc, b);
}

static void setup_card(pkg *t)
{
    memset(t, 0, sizeof(*t));
    sgp32_arena_init(&t->arena, 8 << 20);
    assert_int_equal(euicc_fixture_open(&t->f), SGP32_OK);
    cert_key("eUICC/CERT_EUICC_ECDSA_NIST.der", &t->euicc_nist, NULL);
    cert_key("eUICC/CERT_EUICC_ECDSA_BRP.der", &t->euicc_brp, NULL);
    sgp32_certificate *ci = calloc(1, sizeof(*ci));
    cert_key("CertificateIssuer/CERT_CI_ECDSA_BRP.der", NULL, ci);
    memcpy(t->brp_ci_pkid_storage, ci->ski.id, ci->ski.len);
    t->brp_ci_pkid = (sgp32_bytes){t->brp_ci_pkid_storage, ci->ski.len};
    free(ci);
    assert_int_equal(sgp32_ec_generate(SGP32_CURVE_NIST_P256, &t->eim_key, &t->eim_pub), SGP32_OK);
    assert_int_equal(add_initial_eim(t, EIM_ID, &t->eim_pub, true, &t->has_token, &t->token), 0);
    assert_true(t->has_token);
    /* The bootstrap profile reports its enable/disable/delete too, to see the notifications. */
    euicc_profile *a = profile(t, ICCID_A);
    a->notification_config_count = 1;
    a->notification_config[0].events = SGP32_NOTIFICATION_EVENT_NOTIFICATION_ENABLE |
                                       SGP32_NOTIFICATION_EVENT_NOTIFICATION_DISABLE |
                                       SGP32_NOTIFICATION_EVENT_NOTIFICATION_DELETE;
    strcpy(a->notification_config[0].address, NOTIFY_ADDR);
    add_test_profile(t, ICCID_B);
    add_test_profile(t, ICCID_C);
}

static void teardown_card(pkg *t)
{
    euicc_fixture_close(&t->f);
    sgp32_arena_free(&t->arena);
}

/* The signed part of a package from the default eIM to this card. */
static sgp32_euicc_package_signed package_signed(pkg *t, int64_t counter)
{
    sgp32_euicc_package_signed s;
    memset(&s, 0, sizeof(s));
    s.eim_id = text(t, EIM_ID);
    s.eid_value = copy(t, sgp32_euicc_eid(t->f.euicc), 16);
    s.counter_value = counter;
    s.has_eim_transaction_id = true;
    s.eim_transaction_id = SGP32_BYTES(txid, sizeof(txid));
    return s;
}

static void send_signed(pkg *t, const sgp32_euicc_package_signed *s, const sgp32_ec_private_key *key,
                        bool has_token, int64_t token, sgp32_buf *resp)
{
    sgp32_buf req;
    sgp32_buf_init(&req, 1 << 16);
    assert_int_equal(sgp32_eim_package_sign(s, key, has_token, token, &req), SGP32_OK);
    assert_int_equal(es10(t, req.data, req.len, resp), SGP32_OK);
    sgp32_buf_free(&req);
}

/* A PSMO package with the next counter from the default eIM. */
static void send_psmos(pkg *t, sgp32_psmo *psmos, size_t count, sgp32_buf *resp)
{
    sgp32_euicc_package_signed s = package_signed(t, ++t->counter);
    s.euicc_package.choice = SGP32_EUICC_PACKAGE_PSMO_LIST;
    s.euicc_package.u.psmo_list.items = psmos;
    s.euicc_package.u.psmo_list.count = count;
    send_signed(t, &s, &t->eim_key, t->has_token, t->token, resp);
}

static void send_ecos(pkg *t, sgp32_eco *ecos, size_t count, sgp32_buf *resp)
{
    sgp32_euicc_package_signed s = package_signed(t, ++t->counter);
    s.euicc_package.choice = SGP32_EUICC_PACKAGE_ECO_LIST;
    s.euicc_package.u.eco_list.items = ecos;
    s.euicc_package.u.eco_list.count = count;
    send_signed(t, &s, &t->eim_key, t->has_token, t->token, resp);
}

/* Decode and verify an EuiccPackageResult with lib/eim (key: the SGP.26 CERT.EUICC). */
static sgp32_euicc_package_result *verified(pkg *t, const sgp32_buf *resp, const sgp32_ec_public_key *key)
{
    sgp32_bytes kept = copy(t, resp->data, resp->len);
    sgp32_euicc_package_result *r = sgp32_arena_alloc(&t->arena, sizeof(*r));
    assert_int_equal(sgp32_eim_package_result_verify(kept.data, kept.len, key ? key : &t->euicc_nist,
                                                     t->has_token, t->token, &t->arena, r),
                     SGP32_OK);
    return r;
}

static const sgp32_euicc_package_result_data_signed *result_data(const sgp32_euicc_package_result *r)
{
    assert_int_equal(r->choice, SGP32_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED);
    return &r->u.euicc_package_result_signed.euicc_package_result_data_signed;
}

/* The EuiccResultData of a signed result as hex (the contents of euiccResult). */
static const char *results_hex(pkg *t, const sgp32_euicc_package_result *r)
{
    const sgp32_euicc_package_result_data_signed *d = result_data(r);
    sgp32_asn1_tlv whole, tlv;
    sgp32_asn1_reader rd;
    assert_int_equal(sgp32_asn1_expect(d->der.data, d->der.len, 0x30, &whole), SGP32_OK);
    sgp32_asn1_reader_init(&rd, whole.value, 0);
    sgp32_bytes results = {NULL, 0};
    while (sgp32_asn1_reader_next(&rd, &tlv) == SGP32_OK)
        if (tlv.tag == 0x30)
            results = tlv.value;
    char *hex = sgp32_arena_alloc(&t->arena, 2 * results.len + 1);
    sgp32_hex_encode(results.data, results.len, hex);
    return hex;
}

/* Send PSMOs and return the verified results as hex. */
static const char *psmo_results(pkg *t, sgp32_psmo *psmos, size_t count)
{
    sgp32_buf resp;
    send_psmos(t, psmos, count, &resp);
    const sgp32_euicc_package_result *r = verified(t, &resp, NULL);
    const sgp32_euicc_package_result_data_signed *d = result_data(r);
    assert_int_equal(d->counter_value, t->counter);
    assert_true(d->has_eim_transaction_id);
    assert_memory_equal(d->eim_transaction_id.data, txid, sizeof(txid));
    assert_int_equal(d->eim_id.len, strlen(EIM_ID));
    sgp32_buf_free(&resp);
    return results_hex(t, r);
}

static const char *eco_results(pkg *t, sgp32_eco *ecos, size_t count)
{
    sgp32_buf resp;
    send_ecos(t, ecos, count, &resp);
    const sgp32_euicc_package_result *r = verified(t, &resp, NULL);
    sgp32_buf_free(&resp);
    return results_hex(t, r);
}

/* The code of a signed error (eimTransactionId echoed when the package had one). */
static int64_t signed_error(pkg *t, const sgp32_buf *resp, int64_t counter, bool with_txid)
{
    const sgp32_euicc_package_result *r = verified(t, resp, NULL);
    assert_int_equal(r->choice, SGP32_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_ERROR_SIGNED);
    const sgp32_euicc_package_error_data_signed *e =
        &r->u.euicc_package_error_signed.euicc_package_error_data_signed;
    assert_int_equal(e->counter_value, counter);
    assert_int_equal(e->has_eim_transaction_id, with_txid);
    if (with_txid)
        assert_memory_equal(e->eim_transaction_id.data, txid, sizeof(txid));
    return e->euicc_package_error_code;
}

/* The EuiccPackageResult alternative's tag (A0, A1, A2). */
static uint32_t result_choice(const sgp32_buf *resp)
{
    sgp32_asn1_tlv outer, choice;
    assert_int_equal(sgp32_asn1_expect(resp->data, resp->len, 0xBF51, &outer), SGP32_OK);
    assert_int_equal(sgp32_asn1_expect(outer.value.data, outer.value.len, outer.value.data[0], &choice),
                     SGP32_OK);
    return choice.tag;
}

static sgp32_psmo psmo_enable(pkg *t, const char *digits, bool rollback)
{
    sgp32_psmo p = {.choice = SGP32_PSMO_ENABLE};
    p.u.enable.iccid = iccid(t, digits);
    p.u.enable.rollback_flag = rollback;
    return p;
}

static sgp32_psmo psmo_disable(pkg *t, const char *digits)
{
    sgp32_psmo p = {.choice = SGP32_PSMO_DISABLE};
    p.u.disable.iccid = iccid(t, digits);
    return p;
}

static sgp32_psmo psmo_delete(pkg *t, const char *digits)
{
    sgp32_psmo p = {.choice = SGP32_PSMO_DELETE};
    p.u.delete.iccid = iccid(t, digits);
    return p;
}

static sgp32_psmo psmo_simple(int choice)
{
    sgp32_psmo p = {.choice = choice};
    return p;
}

static char *enabled(pkg *t)
{
    static char out[21];
    if (sgp32_euicc_enabled_iccid(t->f.euicc, out) != SGP32_OK)
        strcpy(out, "none");
    return out;
}

/* The pending objects (seqNumber, kind, event) in order. */
static size_t pending_count(pkg *t, uint8_t kind)
{
    size_t n = 0;
    for (size_t i = 0; i < t->f.euicc->state.pending_count; i++)
        n += t->f.euicc->state.pending[i].kind == kind;
    return n;
}

/* RemoveNotificationFromList (BF30 {80 seqNumber}); returns its deleteNotificationStatus. */
static int remove_seq(pkg *t, int64_t seq)
{
    sgp32_buf req, resp;
    sgp32_buf_init(&req, 16);
    size_t m = sgp32_asn1_begin(&req);
    assert_int_equal(sgp32_asn1_write_integer(&req, 0x80, seq), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&req, 0xBF30, m), SGP32_OK);
    assert_int_equal(es10(t, req.data, req.len, &resp), SGP32_OK);
    assert_int_equal(resp.len, 6);
    int status = resp.data[5];
    sgp32_buf_free(&req);
    sgp32_buf_free(&resp);
    return status;
}

/* ------------------------------------------------------------ eIM side */

static void eim_sign_and_verify_are_exact(void **state)
{
    (void)state;
    pkg t;
    setup_card(&t);
    /* The token rule: no token signs like token 0 (84 01 00). */
    uint8_t tlv[SGP32_EIM_TOKEN_TLV_MAX];
    size_t n;
    assert_int_equal(sgp32_eim_token_tlv(false, 99, tlv, &n), SGP32_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(tlv, "\x84\x01\x00", 3);
    assert_int_equal(sgp32_eim_token_tlv(true, 200, tlv, &n), SGP32_OK);
    assert_memory_equal(tlv, "\x84\x02\x00\xC8", 4); /* DER INTEGER: a leading 00 for 200 */

    /* Signing: eimSignature verifies over the received euiccPackageSigned || 84 token. */
    sgp32_psmo ops[1] = {psmo_simple(SGP32_PSMO_GET_RAT)};
    sgp32_euicc_package_signed s = package_signed(&t, 7);
    s.euicc_package.choice = SGP32_EUICC_PACKAGE_PSMO_LIST;
    s.euicc_package.u.psmo_list.items = ops;
    s.euicc_package.u.psmo_list.count = 1;
    sgp32_buf req;
    sgp32_buf_init(&req, 4096);
    assert_int_equal(sgp32_eim_package_sign(&s, &t.eim_key, true, 200, &req), SGP32_OK);
    sgp32_euicc_package_request *decoded = sgp32_arena_alloc(&t.arena, sizeof(*decoded));
    assert_int_equal(
        sgp32_asn1_decode(&sgp32_type_euicc_package_request, req.data, req.len, &t.arena, decoded), SGP32_OK);
    assert_int_equal(decoded->eim_signature.len, 64);
    sgp32_bytes parts[2] = {decoded->euicc_package_signed.der, {(const uint8_t *)"\x84\x02\x00\xC8", 4}};
    assert_int_equal(sgp32_ecdsa_verify(&t.eim_pub, parts, 2, decoded->eim_signature.data), SGP32_OK);
    parts[1] = (sgp32_bytes){(const uint8_t *)"\x84\x01\x00", 3};
    assert_int_equal(sgp32_ecdsa_verify(&t.eim_pub, parts, 2, decoded->eim_signature.data),
                     SGP32_ERR_CRYPTO_BAD_SIGNATURE);
    assert_true(sgp32_asn1_equal(&sgp32_type_euicc_package_signed, &s, &decoded->euicc_package_signed));
    sgp32_buf_free(&req);

    /* Verifying: a real EPR verifies; any flipped byte of the signed part or of the signature,
     * or another token, does not. */
    sgp32_buf resp;
    send_psmos(&t, ops, 1, &resp);
    sgp32_euicc_package_result r;
    assert_int_equal(sgp32_eim_package_result_verify(resp.data, resp.len, &t.euicc_nist, t.has_token, t.token,
                                                     &t.arena, &r),
                     SGP32_OK);
    assert_int_equal(
        sgp32_eim_package_result_verify(resp.data, resp.len, &t.euicc_nist, true, t.token + 1, &t.arena, &r),
        SGP32_ERR_CRYPTO_BAD_SIGNATURE);
    assert_int_equal(sgp32_eim_package_result_verify(resp.data, resp.len, &t.euicc_brp, t.has_token, t.token,
                                                     &t.arena, &r),
                     SGP32_ERR_CRYPTO_BAD_SIGNATURE);
    for (size_t i = 12; i < resp.len; i += 5) {
        resp.data[i] ^= 0x01;
        int rc = sgp32_eim_package_result_verify(resp.data, resp.len, &t.euicc_nist, t.has_token, t.token,
                                                 &t.arena, &r);
        assert_int_not_equal(rc, SGP32_OK);
        resp.data[i] ^= 0x01;
    }
    /* The form without the CHOICE tag (BF51 {30 ...}, NOTES §8.5) is read as the signed result. */
    sgp32_asn1_tlv outer, choice;
    assert_int_equal(sgp32_asn1_expect(resp.data, resp.len, 0xBF51, &outer), SGP32_OK);
    assert_int_equal(sgp32_asn1_expect(outer.value.data, outer.value.len, 0xA0, &choice), SGP32_OK);
    sgp32_buf bare;
    sgp32_buf_init(&bare, 4096);
    assert_int_equal(sgp32_asn1_write_tlv(&bare, 0xBF51, choice.value.data, choice.value.len), SGP32_OK);
    assert_int_equal(sgp32_eim_package_result_verify(bare.data, bare.len, &t.euicc_nist, t.has_token, t.token,
                                                     &t.arena, &r),
                     SGP32_OK);
    assert_int_equal(r.choice, SGP32_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED);
    /* The independent check: euiccSignEPR over the received result data || 84 token. */
    uint8_t tok[SGP32_EIM_TOKEN_TLV_MAX];
    assert_int_equal(sgp32_eim_token_tlv(t.has_token, t.token, tok, &n), SGP32_OK);
    sgp32_bytes epr_parts[2] = {r.u.euicc_package_result_signed.euicc_package_result_data_signed.der,
                                {tok, n}};
    assert_int_equal(
        sgp32_ecdsa_verify(&t.euicc_nist, epr_parts, 2, r.u.euicc_package_result_signed.euicc_sign_epr.data),
        SGP32_OK);
    sgp32_buf_free(&bare);
    sgp32_buf_free(&resp);
    teardown_card(&t);
}

/* ------------------------------------------------------------ the checks */

static void unknown_eim_and_bad_signature_answer_unsigned_errors(void **state)
{
    (void)state;
    pkg t;
    setup_card(&t);
    sgp32_psmo ops[1] = {psmo_enable(&t, ICCID_B, false)};
    sgp32_buf resp;

    /* An eIM the card does not know: A2 {80 eimId, 82 txid}, no token. */
    sgp32_ec_private_key other;
    sgp32_ec_public_key other_pub;
    assert_int_equal(sgp32_ec_generate(SGP32_CURVE_NIST_P256, &other, &other_pub), SGP32_OK);
    sgp32_euicc_package_signed s = package_signed(&t, 1);
    s.eim_id = text(&t, "stranger.example.com");
    s.euicc_package.choice = SGP32_EUICC_PACKAGE_PSMO_LIST;
    s.euicc_package.u.psmo_list.items = ops;
    s.euicc_package.u.psmo_list.count = 1;
    send_signed(&t, &s, &other, false, 0, &resp);
    char hex[512];
    sgp32_hex_encode(resp.data, resp.len, hex);
    assert_string_equal(hex, "BF511EA21C801473747261"
                             "6E6765722E6578616D706C652E636F6D8204CAFE0001");
    sgp32_buf_free(&resp);

    /* Our eIM, signed with another key: A2 with the stored token, so the eIM sees it. */
    s.eim_id = text(&t, EIM_ID);
    send_signed(&t, &s, &other, t.has_token, t.token, &resp);
    sgp32_euicc_package_result r;
    assert_int_equal(sgp32_eim_package_result_verify(resp.data, resp.len, &t.euicc_nist, t.has_token, t.token,
                                                     &t.arena, &r),
                     SGP32_OK);
    assert_int_equal(r.choice, SGP32_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_ERROR_UNSIGNED);
    assert_true(r.u.euicc_package_error_unsigned.has_association_token);
    assert_int_equal(r.u.euicc_package_error_unsigned.association_token, t.token);
    assert_true(r.u.euicc_package_error_unsigned.has_eim_transaction_id);
    sgp32_buf_free(&resp);

    /* The right key but the wrong token (what a re-associated card sees), and a damaged signature. */
    send_signed(&t, &s, &t.eim_key, true, t.token + 1, &resp);
    assert_int_equal(result_choice(&resp), 0xA2);
    sgp32_buf_free(&resp);
    sgp32_buf req;
    sgp32_buf_init(&req, 4096);
    assert_int_equal(sgp32_eim_package_sign(&s, &t.eim_key, t.has_token, t.token, &req), SGP32_OK);
    req.data[req.len - 1] ^= 0x80;
    assert_int_equal(es10(&t, req.data, req.len, &resp), SGP32_OK);
    assert_int_equal(result_choice(&resp), 0xA2);
    sgp32_buf_free(&resp);
    /* Nothing happened, nothing was consumed: the same counter still works. */
    assert_string_equal(enabled(&t), ICCID_A);
    req.data[req.len - 1] ^= 0x80;
    assert_int_equal(es10(&t, req.data, req.len, &resp), SGP32_OK);
    assert_int_equal(result_choice(&resp), 0xA0);
    assert_string_equal(enabled(&t), ICCID_B);
    sgp32_buf_free(&resp);
    sgp32_buf_free(&req);

    /* Not a package at all: the request is refused (6A80 at the APDU layer). */
    sgp32_buf junk;
    assert_int_not_equal(es10(&t, (const uint8_t *)"\xBF\x51\x03\x30\x01\x00", 6, &junk), SGP32_OK);
    assert_int_equal(junk.len, 0);
    sgp32_buf_free(&junk);
    teardown_card(&t);
}

static void eid_and_counter_errors_are_signed_and_consume_nothing(void **state)
{
    (void)state;
    pkg t;
    setup_card(&t);
    sgp32_psmo ops[1] = {psmo_simple(SGP32_PSMO_GET_RAT)};
    sgp32_buf resp;

    /* Another card's EID: invalidEid(3). */
    sgp32_euicc_package_signed s = package_signed(&t, 5);
    uint8_t other_eid[16];
    memcpy(other_eid, sgp32_euicc_eid(t.f.euicc), 16);
    other_eid[15] ^= 0x11;
    s.eid_value = SGP32_BYTES(other_eid, 16);
    s.euicc_package.choice = SGP32_EUICC_PACKAGE_PSMO_LIST;
    s.euicc_package.u.psmo_list.items = ops;
    s.euicc_package.u.psmo_list.count = 1;
    send_signed(&t, &s, &t.eim_key, t.has_token, t.token, &resp);
    assert_int_equal(signed_error(&t, &resp, 5, true), SGP32_EUICC_PACKAGE_ERROR_CODE_INVALID_EID);
    sgp32_buf_free(&resp);

    /* Counter 5 was not consumed. */
    s.eid_value = copy(&t, sgp32_euicc_eid(t.f.euicc), 16);
    send_signed(&t, &s, &t.eim_key, t.has_token, t.token, &resp);
    assert_int_equal(verified(&t, &resp, NULL)->choice,
                     SGP32_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED);
    sgp32_buf_free(&resp);
    /* The same package again, and an older counter: replayError(4). */
    send_signed(&t, &s, &t.eim_key, t.has_token, t.token, &resp);
    assert_int_equal(signed_error(&t, &resp, 5, true), SGP32_EUICC_PACKAGE_ERROR_CODE_REPLAY_ERROR);
    sgp32_buf_free(&resp);
    s.counter_value = 3;
    send_signed(&t, &s, &t.eim_key, t.has_token, t.token, &resp);
    assert_int_equal(signed_error(&t, &resp, 3, true), SGP32_EUICC_PACKAGE_ERROR_CODE_REPLAY_ERROR);
    sgp32_buf_free(&resp);
    s.counter_value = -1;
    send_signed(&t, &s, &t.eim_key, t.has_token, t.token, &resp);
    assert_int_equal(signed_error(&t, &resp, -1, true), SGP32_EUICC_PACKAGE_ERROR_CODE_REPLAY_ERROR);
    sgp32_buf_free(&resp);

    /* Beyond the card's range: counterValueOutOfRange(6); the bound itself is fine. */
    s.counter_value = EUICC_COUNTER_MAX + 1;
    send_signed(&t, &s, &t.eim_key, t.has_token, t.token, &resp);
    assert_int_equal(signed_error(&t, &resp, EUICC_COUNTER_MAX + 1, true),
                     SGP32_EUICC_PACKAGE_ERROR_CODE_COUNTER_VALUE_OUT_OF_RANGE);
    sgp32_buf_free(&resp);
    s.counter_value = INT64_MAX;
    send_signed(&t, &s, &t.eim_key, t.has_token, t.token, &resp);
    assert_int_equal(signed_error(&t, &resp, INT64_MAX, true),
                     SGP32_EUICC_PACKAGE_ERROR_CODE_COUNTER_VALUE_OUT_OF_RANGE);
    sgp32_buf_free(&resp);

    /* A counter wider than 64 bits is echoed as received in the signed error. */
    sgp32_buf sp, req;
    sgp32_buf_init(&sp, 4096);
    sgp32_buf_init(&req, 4096);
    size_t m = sgp32_asn1_begin(&sp);
    assert_int_equal(sgp32_asn1_write_tlv(&sp, 0x80, (const uint8_t *)EIM_ID, strlen(EIM_ID)), SGP32_OK);
    assert_int_equal(sgp32_asn1_write_tlv(&sp, 0x5A, sgp32_euicc_eid(t.f.euicc), 16), SGP32_OK);
    static const uint8_t wide[9] = {0x01, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(sgp32_asn1_write_tlv(&sp, 0x81, wide, sizeof(wide)), SGP32_OK);
    assert_int_equal(sgp32_asn1_write_tlv(&sp, 0xA0, (const uint8_t *)"\xA6\x00", 2), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&sp, 0x30, m), SGP32_OK);
    uint8_t tok[SGP32_EIM_TOKEN_TLV_MAX], sig[64];
    size_t tok_len;
    assert_int_equal(sgp32_eim_token_tlv(t.has_token, t.token, tok, &tok_len), SGP32_OK);
    sgp32_bytes parts[2] = {sgp32_buf_bytes(&sp), {tok, tok_len}};
    assert_int_equal(sgp32_ecdsa_sign(&t.eim_key, parts, 2, sig), SGP32_OK);
    m = sgp32_asn1_begin(&req);
    assert_int_equal(sgp32_buf_append(&req, sp.data, sp.len), SGP32_OK);
    assert_int_equal(sgp32_asn1_write_tlv(&req, 0x5F37, sig, 64), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&req, 0xBF51, m), SGP32_OK);
    assert_int_equal(es10(&t, req.data, req.len, &resp), SGP32_OK);
    assert_int_equal(result_choice(&resp), 0xA1);
    char hex[4096];
    sgp32_hex_encode(resp.data, resp.len, hex);
    assert_non_null(strstr(hex, "8109010000000000000000"
                                "020106"));
    sgp32_buf_free(&resp);
    sgp32_buf_free(&sp);
    sgp32_buf_free(&req);

    /* While the emergency profile is enabled, packages fail with ecallActive(104). */
    t.f.euicc->state.emergency_active = true; /* TEST: as EnableEmergencyProfile leaves it */
    s.counter_value = 6;
    send_signed(&t, &s, &t.eim_key, t.has_token, t.token, &resp);
    assert_int_equal(signed_error(&t, &resp, 6, true), SGP32_EUICC_PACKAGE_ERROR_CODE_ECALL_ACTIVE);
    sgp32_buf_free(&resp);
    t.f.euicc->state.emergency_active = false;
    send_signed(&t, &s, &t.eim_key, t.has_token, t.token, &resp);
    assert_int_equal(verified(&t, &resp, NULL)->choice,
                     SGP32_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED);
    sgp32_buf_free(&resp);
    /* Signed errors are answers only: they have no seqNumber and are not kept. */
    assert_int_equal(pending_count(&t, EUICC_PENDING_PACKAGE_RESULT), 2);
    teardown_card(&t);
}

/* ------------------------------------------------------------ PSMOs */

static void enable_switches_profiles_notifies_and_keeps_the_epr(void **state)
{
    (void)state;
    pkg t;
    setup_card(&t);
    int64_t seq_before = t.f.euicc->state.next_seq_number;
    sgp32_psmo ops[1] = {psmo_enable(&t, ICCID_B, false)};
    sgp32_buf resp;
    send_psmos(&t, ops, 1, &resp);
    const sgp32_euicc_package_result *r = verified(&t, &resp, NULL);
    assert_string_equal(results_hex(&t, r), "830100");
    assert_string_equal(enabled(&t), ICCID_B);
    /* disable(A) and enable(B) notifications first, then the EPR, in one seqNumber sequence. */
    const euicc_state *s = &t.f.euicc->state;
    assert_int_equal(s->pending_count, 3);
    assert_int_equal(s->pending[0].event, SGP32_NOTIFICATION_EVENT_NOTIFICATION_DISABLE);
    assert_int_equal(s->pending[1].event, SGP32_NOTIFICATION_EVENT_NOTIFICATION_ENABLE);
    assert_int_equal(s->pending[2].kind, EUICC_PENDING_PACKAGE_RESULT);
    assert_int_equal(s->pending[0].seq_number, seq_before);
    assert_int_equal(s->pending[2].seq_number, seq_before + 2);
    assert_int_equal(result_data(r)->seq_number, seq_before + 2);
    assert_int_equal(s->pending[2].der_len, resp.len);
    assert_memory_equal(s->pending[2].der, resp.data, resp.len);
    sgp32_buf_free(&resp);

    /* Every enable failure. */
    sgp32_psmo again[1] = {psmo_enable(&t, ICCID_B, false)};
    assert_string_equal(psmo_results(&t, again, 1), "830102"); /* profileNotInDisabledState */
    sgp32_psmo unknown[1] = {psmo_enable(&t, ICCID_UNKNOWN, false)};
    assert_string_equal(psmo_results(&t, unknown, 1), "830101"); /* iccidOrAidNotFound */
    profile(&t, ICCID_B)->has_ppr = true;
    profile(&t, ICCID_B)->ppr = SGP32_PPR_IDS_PPR1; /* B may not be disabled */
    sgp32_psmo to_a[1] = {psmo_enable(&t, ICCID_A, false)};
    assert_string_equal(psmo_results(&t, to_a, 1), "830103"); /* disallowedByPolicy */
    profile(&t, ICCID_B)->has_ppr = false;
    /* One enable per package; processing stops at the failure (C stays disabled). */
    sgp32_psmo two[3] = {psmo_enable(&t, ICCID_A, false), psmo_enable(&t, ICCID_C, false),
                         psmo_disable(&t, ICCID_A)};
    assert_string_equal(psmo_results(&t, two, 3), "830100"
                                                  "83017F");
    assert_string_equal(enabled(&t), ICCID_A);
    /* rollbackFlag with no profile enabled to go back to: rollbackNotAvailable(20). */
    sgp32_psmo off[1] = {psmo_disable(&t, ICCID_A)};
    assert_string_equal(psmo_results(&t, off, 1), "840100");
    assert_string_equal(enabled(&t), "none");
    sgp32_psmo rb[1] = {psmo_enable(&t, ICCID_B, true)};
    assert_string_equal(psmo_results(&t, rb, 1), "830114");
    sgp32_psmo plain[1] = {psmo_enable(&t, ICCID_B, false)};
    assert_string_equal(psmo_results(&t, plain, 1), "830100");
    teardown_card(&t);
}

static void disable_and_delete_give_every_code(void **state)
{
    (void)state;
    pkg t;
    setup_card(&t);
    /* disable */
    sgp32_psmo d1[1] = {psmo_disable(&t, ICCID_UNKNOWN)};
    assert_string_equal(psmo_results(&t, d1, 1), "840101");
    sgp32_psmo d2[1] = {psmo_disable(&t, ICCID_B)};
    assert_string_equal(psmo_results(&t, d2, 1), "840102"); /* profileNotInEnabledState */
    profile(&t, ICCID_A)->has_ppr = true;
    profile(&t, ICCID_A)->ppr = SGP32_PPR_IDS_PPR1;
    sgp32_psmo d3[1] = {psmo_disable(&t, ICCID_A)};
    assert_string_equal(psmo_results(&t, d3, 1), "840103");
    profile(&t, ICCID_A)->has_ppr = false;
    /* No disable after an enable in the same package. */
    sgp32_psmo d4[2] = {psmo_enable(&t, ICCID_B, false), psmo_disable(&t, ICCID_B)};
    assert_string_equal(psmo_results(&t, d4, 2), "830100"
                                                 "84017F");
    assert_string_equal(enabled(&t), ICCID_B);

    /* delete */
    sgp32_psmo x1[1] = {psmo_delete(&t, ICCID_B)};
    assert_string_equal(psmo_results(&t, x1, 1), "850102"); /* the enabled profile */
    sgp32_psmo x2[1] = {psmo_delete(&t, ICCID_UNKNOWN)};
    assert_string_equal(psmo_results(&t, x2, 1), "850101");
    profile(&t, ICCID_C)->has_ppr = true;
    profile(&t, ICCID_C)->ppr = SGP32_PPR_IDS_PPR2;
    sgp32_psmo x3[1] = {psmo_delete(&t, ICCID_C)};
    assert_string_equal(psmo_results(&t, x3, 1), "850103");
    profile(&t, ICCID_C)->has_ppr = false;
    profile(&t, ICCID_A)->fallback_attribute = true;
    sgp32_psmo x4[1] = {psmo_delete(&t, ICCID_A)};
    assert_string_equal(psmo_results(&t, x4, 1), "850115"); /* returnFallbackProfile */
    profile(&t, ICCID_A)->fallback_attribute = false;
    /* The profile a rollback would return to: rollbackNotAvailable(20). */
    sgp32_psmo x5[2] = {psmo_enable(&t, ICCID_C, true), psmo_delete(&t, ICCID_B)};
    assert_string_equal(psmo_results(&t, x5, 2), "830100"
                                                 "850114");
    assert_non_null(profile(&t, ICCID_B));
    /* Success: the delete notification is queued and the profile is gone. */
    size_t before = pending_count(&t, EUICC_PENDING_OTHER);
    sgp32_psmo x6[1] = {psmo_delete(&t, ICCID_A)};
    assert_string_equal(psmo_results(&t, x6, 1), "850100");
    assert_null(profile(&t, ICCID_A));
    assert_int_equal(pending_count(&t, EUICC_PENDING_OTHER), before + 1);
    const euicc_state *s = &t.f.euicc->state;
    assert_int_equal(s->pending[s->pending_count - 2].event, SGP32_NOTIFICATION_EVENT_NOTIFICATION_DELETE);
    /* Processing stops at the first failure: the getRAT after it does not run. */
    sgp32_psmo x7[2] = {psmo_delete(&t, ICCID_UNKNOWN), psmo_simple(SGP32_PSMO_GET_RAT)};
    assert_string_equal(psmo_results(&t, x7, 2), "850101");
    /* The deletion survives a power cycle. */
    assert_int_equal(euicc_fixture_reopen(&t.f), SGP32_OK);
    assert_null(profile(&t, ICCID_A));
    teardown_card(&t);
}

static void list_rat_immediate_enable_and_default_dp(void **state)
{
    (void)state;
    pkg t;
    setup_card(&t);
    /* listProfileInfo answers BF2D (SGP32-ProfileInfoListResponse as its own result tag). */
    sgp32_psmo l1[1] = {psmo_simple(SGP32_PSMO_LIST_PROFILE_INFO)};
    sgp32_buf resp;
    send_psmos(&t, l1, 1, &resp);
    const sgp32_euicc_package_result_data_signed *d = result_data(verified(&t, &resp, NULL));
    assert_int_equal(d->euicc_result.count, 1);
    assert_int_equal(d->euicc_result.items[0].choice, SGP32_EUICC_RESULT_DATA_LIST_PROFILE_INFO_RESULT);
    const sgp32_sgp32_profile_info_list_response *list = &d->euicc_result.items[0].u.list_profile_info_result;
    assert_int_equal(list->choice, SGP32_SGP32_PROFILE_INFO_LIST_RESPONSE_PROFILE_INFO_LIST_OK);
    assert_int_equal(list->u.profile_info_list_ok.count, 3);
    sgp32_buf_free(&resp);
    /* Its own errors (here incorrectInputValues for profileClass 9) end the processing. */
    sgp32_psmo bad = psmo_simple(SGP32_PSMO_LIST_PROFILE_INFO);
    bad.u.list_profile_info.has_search_criteria = true;
    bad.u.list_profile_info.search_criteria.choice =
        SGP32_PROFILE_INFO_LIST_REQUEST_SEARCH_CRITERIA_PROFILE_CLASS;
    bad.u.list_profile_info.search_criteria.u.profile_class = 9;
    sgp32_psmo l3[2] = {bad, psmo_simple(SGP32_PSMO_GET_RAT)};
    assert_string_equal(psmo_results(&t, l3, 2), "BF2D03810101");
    const char *hex;
    /* After an enable in the same package the change is still ongoing: profileChangeOngoing(11). */
    sgp32_psmo l2[2] = {psmo_enable(&t, ICCID_B, false), psmo_simple(SGP32_PSMO_LIST_PROFILE_INFO)};
    assert_string_equal(psmo_results(&t, l2, 2), "830100"
                                                 "BF2D0381010B");

    /* getRAT: A6 { ProfilePolicyAuthorisationRule... } as GetRAT (ES10b) gives it. */
    sgp32_psmo g[1] = {psmo_simple(SGP32_PSMO_GET_RAT)};
    hex = psmo_results(&t, g, 1);
    assert_memory_equal(hex, "A6", 2);
    sgp32_buf rat;
    es10_hex(&t, "BF4300", &rat);
    sgp32_asn1_tlv rat_outer, rat_inner;
    assert_int_equal(sgp32_asn1_expect(rat.data, rat.len, 0xBF43, &rat_outer), SGP32_OK);
    assert_int_equal(sgp32_asn1_expect(rat_outer.value.data, rat_outer.value.len, 0xA0, &rat_inner),
                     SGP32_OK);
    char *rules = sgp32_arena_alloc(&t.arena, 2 * rat_inner.value.len + 1);
    sgp32_hex_encode(rat_inner.value.data, rat_inner.value.len, rules);
    assert_string_equal(hex + 4, rules); /* the same rules under A6 */
    sgp32_buf_free(&rat);

    /* configureImmediateEnable: the whole configuration; too long an address does not fit. */
    sgp32_psmo c = psmo_simple(SGP32_PSMO_CONFIGURE_IMMEDIATE_ENABLE);
    c.u.configure_immediate_enable.immediate_enable_flag = true;
    c.u.configure_immediate_enable.has_default_smdp_address = true;
    c.u.configure_immediate_enable.default_smdp_address = text(&t, "dp.example.com");
    c.u.configure_immediate_enable.has_default_smdp_oid = true;
    c.u.configure_immediate_enable.default_smdp_oid = copy(&t, "\x2B\x06\x01\x04\x01", 5);
    sgp32_psmo c1[1] = {c};
    assert_string_equal(psmo_results(&t, c1, 1), "870100");
    const euicc_state *s = &t.f.euicc->state;
    assert_true(s->immediate_enable_flag);
    assert_string_equal(s->immediate_default_smdp_address, "dp.example.com");
    assert_int_equal(s->immediate_default_smdp_oid_len, 5);
    char longest[300];
    memset(longest, 'a', 299);
    longest[299] = 0;
    c.u.configure_immediate_enable.default_smdp_address = text(&t, longest);
    sgp32_psmo c2[1] = {c};
    assert_string_equal(psmo_results(&t, c2, 1), "870101"); /* insufficientMemory */
    sgp32_psmo c3[1] = {psmo_simple(SGP32_PSMO_CONFIGURE_IMMEDIATE_ENABLE)};
    assert_string_equal(psmo_results(&t, c3, 1), "870100");
    assert_false(s->immediate_enable_flag);
    assert_false(s->has_immediate_default_smdp_address);

    /* setDefaultDpAddress: BF65 {80 result}. */
    sgp32_psmo dp = psmo_simple(SGP32_PSMO_SET_DEFAULT_DP_ADDRESS);
    dp.u.set_default_dp_address.default_dp_address = text(&t, "new-dp.example.com");
    sgp32_psmo dp1[1] = {dp};
    assert_string_equal(psmo_results(&t, dp1, 1), "BF6503800100");
    assert_string_equal(s->default_dp_address, "new-dp.example.com");
    /* All of it is on the NVM. */
    assert_int_equal(euicc_fixture_reopen(&t.f), SGP32_OK);
    s = &t.f.euicc->state;
    assert_string_equal(s->default_dp_address, "new-dp.example.com");
    teardown_card(&t);
}

static void fallback_attribute_codes(void **state)
{
    (void)state;
    pkg t;
    setup_card(&t);
    sgp32_psmo set = psmo_simple(SGP32_PSMO_SET_FALLBACK_ATTRIBUTE);
    set.u.set_fallback_attribute.iccid = iccid(&t, ICCID_UNKNOWN);
    sgp32_psmo s1[1] = {set};
    assert_string_equal(psmo_results(&t, s1, 1), "8D0101");
    set.u.set_fallback_attribute.iccid = iccid(&t, ICCID_B);
    sgp32_psmo s2[1] = {set};
    assert_string_equal(psmo_results(&t, s2, 1), "8D0102"); /* no fallbackAllowed 9F67 */
    profile(&t, ICCID_B)->has_fallback_allowed = true;
    profile(&t, ICCID_B)->fallback_allowed = true;
    profile(&t, ICCID_C)->has_fallback_allowed = true;
    profile(&t, ICCID_C)->fallback_allowed = true;
    assert_string_equal(psmo_results(&t, s2, 1), "8D0100");
    assert_true(profile(&t, ICCID_B)->fallback_attribute);
    /* Exactly one fallback profile: C takes it over. */
    set.u.set_fallback_attribute.iccid = iccid(&t, ICCID_C);
    sgp32_psmo s3[1] = {set};
    assert_string_equal(psmo_results(&t, s3, 1), "8D0100");
    assert_false(profile(&t, ICCID_B)->fallback_attribute);
    assert_true(profile(&t, ICCID_C)->fallback_attribute);
    /* Not while the fallback profile is enabled (fallbackProfileEnabled 3), for set and unset. */
    sgp32_psmo en[1] = {psmo_enable(&t, ICCID_C, false)};
    assert_string_equal(psmo_results(&t, en, 1), "830100");
    assert_string_equal(psmo_results(&t, s2, 1), "8D0103");
    sgp32_psmo unset[1] = {psmo_simple(SGP32_PSMO_UNSET_FALLBACK_ATTRIBUTE)};
    assert_string_equal(psmo_results(&t, unset, 1), "8E0103");
    sgp32_psmo back[1] = {psmo_enable(&t, ICCID_A, false)};
    assert_string_equal(psmo_results(&t, back, 1), "830100");
    assert_string_equal(psmo_results(&t, unset, 1), "8E0100");
    assert_false(profile(&t, ICCID_C)->fallback_attribute);
    assert_string_equal(psmo_results(&t, unset, 1), "8E0102"); /* noFallbackAttribute */
    teardown_card(&t);
}

/* A signed package whose EuiccPackage we cannot decode: processingTerminated(2), counter used. */
static void damaged_package_and_result_overflow_terminate_processing(void **state)
{
    (void)state;
    pkg t;
    setup_card(&t);
    sgp32_buf sp, req, resp;
    sgp32_buf_init(&sp, 4096);
    sgp32_buf_init(&req, 4096);
    size_t m = sgp32_asn1_begin(&sp);
    assert_int_equal(sgp32_asn1_write_tlv(&sp, 0x80, (const uint8_t *)EIM_ID, strlen(EIM_ID)), SGP32_OK);
    assert_int_equal(sgp32_asn1_write_tlv(&sp, 0x5A, sgp32_euicc_eid(t.f.euicc), 16), SGP32_OK);
    assert_int_equal(sgp32_asn1_write_integer(&sp, 0x81, ++t.counter), SGP32_OK);
    assert_int_equal(sgp32_asn1_write_tlv(&sp, 0xA0, (const uint8_t *)"\xBF\x7F\x00", 3), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&sp, 0x30, m), SGP32_OK);
    uint8_t tok[SGP32_EIM_TOKEN_TLV_MAX], sig[64];
    size_t tok_len;
    assert_int_equal(sgp32_eim_token_tlv(t.has_token, t.token, tok, &tok_len), SGP32_OK);
    sgp32_bytes parts[2] = {sgp32_buf_bytes(&sp), {tok, tok_len}};
    assert_int_equal(sgp32_ecdsa_sign(&t.eim_key, parts, 2, sig), SGP32_OK);
    m = sgp32_asn1_begin(&req);
    assert_int_equal(sgp32_buf_append(&req, sp.data, sp.len), SGP32_OK);
    assert_int_equal(sgp32_asn1_write_tlv(&req, 0x5F37, sig, 64), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&req, 0xBF51, m), SGP32_OK);
    assert_int_equal(es10(&t, req.data, req.len, &resp), SGP32_OK);
    const sgp32_euicc_package_result *r = verified(&t, &resp, NULL);
    assert_string_equal(results_hex(&t, r), "020102");
    sgp32_buf_free(&resp);
    /* The counter was consumed: the same bytes again are a replay. */
    assert_int_equal(es10(&t, req.data, req.len, &resp), SGP32_OK);
    assert_int_equal(signed_error(&t, &resp, t.counter, false), SGP32_EUICC_PACKAGE_ERROR_CODE_REPLAY_ERROR);
    sgp32_buf_free(&resp);
    /* The doubled BF51 BF51 of asn1tools-based eIMs is read too (new counter, re-signed). */
    sgp32_buf_reset(&sp);
    m = sgp32_asn1_begin(&sp);
    assert_int_equal(sgp32_asn1_write_tlv(&sp, 0x80, (const uint8_t *)EIM_ID, strlen(EIM_ID)), SGP32_OK);
    assert_int_equal(sgp32_asn1_write_tlv(&sp, 0x5A, sgp32_euicc_eid(t.f.euicc), 16), SGP32_OK);
    assert_int_equal(sgp32_asn1_write_integer(&sp, 0x81, ++t.counter), SGP32_OK);
    assert_int_equal(sgp32_asn1_write_tlv(&sp, 0xA0, (const uint8_t *)"\xA6\x00", 2), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&sp, 0x30, m), SGP32_OK);
    parts[0] = sgp32_buf_bytes(&sp);
    assert_int_equal(sgp32_ecdsa_sign(&t.eim_key, parts, 2, sig), SGP32_OK);
    sgp32_buf_reset(&req);
    m = sgp32_asn1_begin(&req);
    size_t m2 = sgp32_asn1_begin(&req);
    assert_int_equal(sgp32_buf_append(&req, sp.data, sp.len), SGP32_OK);
    assert_int_equal(sgp32_asn1_write_tlv(&req, 0x5F37, sig, 64), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&req, 0xBF51, m2), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(&req, 0xBF51, m), SGP32_OK);
    assert_int_equal(es10(&t, req.data, req.len, &resp), SGP32_OK);
    assert_memory_equal(results_hex(&t, verified(&t, &resp, NULL)), "A6", 2);
    sgp32_buf_free(&resp);
    sgp32_buf_free(&sp);
    sgp32_buf_free(&req);

    /* Results that would not fit the stored EPR end in processingTerminated(resultSizeOverflow). */
    sgp32_eco lists[120];
    for (size_t i = 0; i < 120; i++)
        lists[i] = (sgp32_eco){.choice = SGP32_ECO_LIST_EIM};
    const char *hex = eco_results(&t, lists, 120);
    size_t len = strlen(hex);
    assert_true(len / 2 < EUICC_PENDING_DER_MAX);
    assert_string_equal(hex + len - 6, "020101");
    assert_memory_equal(hex, "AB", 2);
    teardown_card(&t);
}

/* ------------------------------------------------------------ eCOs */

static sgp32_eco eco_add(pkg *t, const char *id, const sgp32_ec_public_key *pub, bool token, int64_t value)
{
    sgp32_eco e = {.choice = SGP32_ECO_ADD_EIM};
    e.u.add_eim = eim_config(t, id, pub);
    e.u.add_eim.has_association_token = token;
    e.u.add_eim.association_token = value;
    return e;
}

static void eim_configuration_operations(void **state)
{
    (void)state;
    pkg t;
    setup_card(&t);
    sgp32_ec_private_key k2;
    sgp32_ec_public_key p2;
    assert_int_equal(sgp32_ec_generate(SGP32_CURVE_BRAINPOOL_P256R1, &k2, &p2), SGP32_OK);

    /* listEim: AB {A0 {30 {80 eimId, 82 eimIdType}}}. */
    sgp32_eco list[1] = {{.choice = SGP32_ECO_LIST_EIM}};
    assert_string_equal(eco_results(&t, list, 1), "AB18A0163014800F65696D2E6578616D706C652E636F6D820102");

    /* addEim failures. */
    sgp32_eco a1[1] = {eco_add(&t, EIM_ID, &p2, false, 0)};
    assert_string_equal(eco_results(&t, a1, 1), "A803020102"); /* associatedEimAlreadyExists */
    sgp32_eco a2[1] = {eco_add(&t, "eim2.example.com", &p2, false, 0)};
    a2[0].u.add_eim.has_euicc_ci_pk_id = true;
    a2[0].u.add_eim.euicc_ci_pk_id = copy(&t, "\x01\x02\x03\x04", 4);
    assert_string_equal(eco_results(&t, a2, 1), "A803020103"); /* ciPKUnknown */
    sgp32_eco a3[1] = {eco_add(&t, "eim2.example.com", &p2, false, 0)};
    a3[0].u.add_eim.counter_value = EUICC_COUNTER_MAX + 1;
    assert_string_equal(eco_results(&t, a3, 1), "A803020106"); /* counterValueOutOfRange */
    sgp32_eco a4[1] = {eco_add(&t, "eim2.example.com", &p2, true, -5)};
    assert_string_equal(eco_results(&t, a4, 1), "A803020105"); /* invalidAssociationToken */
    sgp32_eco a5[1] = {eco_add(&t, "eim2.example.com", NULL, false, 0)};
    assert_string_equal(eco_results(&t, a5, 1), "A803020107"); /* commandError: no key */
    assert_int_equal(t.f.euicc->state.eim_count, 1);

    /* addEim with a token asked from the card, signing for the brainpool CI. */
    sgp32_eco a6[1] = {eco_add(&t, "eim2.example.com", &p2, true, -1)};
    a6[0].u.add_eim.has_euicc_ci_pk_id = true;
    a6[0].u.add_eim.euicc_ci_pk_id = t.brp_ci_pkid;
    const char *hex = eco_results(&t, a6, 1);
    assert_memory_equal(hex, "A8", 2);
    assert_memory_equal(hex + 4, "84", 2);
    assert_int_equal(t.f.euicc->state.eim_count, 2);
    const euicc_eim *e2 = &t.f.euicc->state.eims[1];
    assert_true(e2->has_association_token);
    assert_true(e2->association_token > 0);
    assert_string_equal(e2->eim_id, "eim2.example.com");

    /* The new eIM manages the card with its own key, counter and token; its EPRs are signed
     * with the brainpool identity (its euiccCiPKId). */
    sgp32_psmo ops[1] = {psmo_enable(&t, ICCID_B, false)};
    sgp32_euicc_package_signed s = package_signed(&t, 1);
    s.eim_id = text(&t, "eim2.example.com");
    s.euicc_package.choice = SGP32_EUICC_PACKAGE_PSMO_LIST;
    s.euicc_package.u.psmo_list.items = ops;
    s.euicc_package.u.psmo_list.count = 1;
    sgp32_buf resp;
    send_signed(&t, &s, &k2, true, e2->association_token, &resp);
    sgp32_euicc_package_result r;
    assert_int_equal(sgp32_eim_package_result_verify(resp.data, resp.len, &t.euicc_brp, true,
                                                     e2->association_token, &t.arena, &r),
                     SGP32_OK);
    assert_int_equal(r.choice, SGP32_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED);
    assert_string_equal(enabled(&t), ICCID_B);
    sgp32_buf_free(&resp);

    /* updateEim */
    sgp32_eco u = {.choice = SGP32_ECO_UPDATE_EIM};
    memset(&u.u.update_eim, 0, sizeof(u.u.update_eim));
    u.u.update_eim.eim_id = text(&t, "nobody.example.com");
    sgp32_eco u1[1] = {u};
    assert_string_equal(eco_results(&t, u1, 1), "8A0101"); /* eimNotFound */
    u.u.update_eim.eim_id = text(&t, "eim2.example.com");
    u.u.update_eim.has_euicc_ci_pk_id = true;
    u.u.update_eim.euicc_ci_pk_id = copy(&t, "\x09\x09", 2);
    sgp32_eco u2[1] = {u};
    assert_string_equal(eco_results(&t, u2, 1), "8A0103"); /* ciPKUnknown */
    u.u.update_eim.has_euicc_ci_pk_id = false;
    u.u.update_eim.has_counter_value = true;
    u.u.update_eim.counter_value = -3;
    sgp32_eco u3[1] = {u};
    assert_string_equal(eco_results(&t, u3, 1), "8A0106"); /* counterValueOutOfRange */
    u.u.update_eim.counter_value = 100;
    u.u.update_eim.has_eim_fqdn = true;
    u.u.update_eim.eim_fqdn = text(&t, "eim2.example.com:8443");
    sgp32_eco u4[1] = {u};
    assert_string_equal(eco_results(&t, u4, 1), "8A0100");
    e2 = &t.f.euicc->state.eims[1];
    assert_int_equal(e2->counter_value, 100);
    assert_string_equal(e2->eim_fqdn, "eim2.example.com:8443");
    assert_true(e2->has_association_token); /* fields not given are kept */

    /* deleteEim: not found, then the second eIM, then the last one (lastEimDeleted). */
    sgp32_eco d = {.choice = SGP32_ECO_DELETE_EIM};
    d.u.delete_eim.eim_id = text(&t, "nobody.example.com");
    sgp32_eco d1[1] = {d};
    assert_string_equal(eco_results(&t, d1, 1), "890101");
    d.u.delete_eim.eim_id = text(&t, "eim2.example.com");
    sgp32_eco d2[1] = {d};
    assert_string_equal(eco_results(&t, d2, 1), "890100");
    assert_int_equal(t.f.euicc->state.eim_count, 1);
    /* The eIM deletes itself: the EPR is still signed with the token it sent the package with. */
    d.u.delete_eim.eim_id = text(&t, EIM_ID);
    sgp32_eco d3[1] = {d};
    assert_string_equal(eco_results(&t, d3, 1), "890102");
    assert_int_equal(t.f.euicc->state.eim_count, 0);
    /* Nobody manages the card now; AddInitialEim works again. */
    sgp32_psmo g[1] = {psmo_simple(SGP32_PSMO_GET_RAT)};
    send_psmos(&t, g, 1, &resp);
    assert_int_equal(result_choice(&resp), 0xA2);
    sgp32_buf_free(&resp);
    bool has;
    int64_t token;
    assert_int_equal(add_initial_eim(&t, EIM_ID, &t.eim_pub, false, &has, &token), 0);
    assert_false(has);
    /* Without a token both signatures use 84 01 00. */
    t.has_token = false;
    t.counter = 0;
    assert_memory_equal(psmo_results(&t, g, 1), "A6", 2);

    /* The card holds at most EUICC_MAX_EIMS eIMs: insufficientMemory. */
    for (int i = 0; i < EUICC_MAX_EIMS - 1; i++) {
        char id[32];
        snprintf(id, sizeof(id), "extra%d.example.com", i);
        sgp32_eco a[1] = {eco_add(&t, id, &p2, false, 0)};
        assert_string_equal(eco_results(&t, a, 1), "A803020100");
    }
    sgp32_eco full[1] = {eco_add(&t, "one-too-many.example.com", &p2, false, 0)};
    assert_string_equal(eco_results(&t, full, 1), "A803020101");
    /* And it all survives a power cycle. */
    assert_int_equal(euicc_fixture_reopen(&t.f), SGP32_OK);
    assert_int_equal(t.f.euicc->state.eim_count, EUICC_MAX_EIMS);
    teardown_card(&t);
}

/* ------------------------------------------------------------ EPRs and power */

static void eprs_stay_until_removed_and_survive_power_loss(void **state)
{
    (void)state;
    pkg t;
    setup_card(&t);
    sgp32_psmo ops[1] = {psmo_enable(&t, ICCID_B, false)};
    sgp32_buf resp, lost;
    send_psmos(&t, ops, 1, &lost); /* the IPA loses the answer: power goes */
    int64_t seq = result_data(verified(&t, &lost, NULL))->seq_number;
    assert_int_equal(euicc_fixture_reopen(&t.f), SGP32_OK);
    assert_string_equal(enabled(&t), ICCID_B);

    /* After the reboot the IPA recovers it byte for byte with BF2B {A0 {82 00}}. */
    es10_hex(&t, "BF2B04A0028200", &resp);
    sgp32_asn1_tlv outer, list;
    assert_int_equal(sgp32_asn1_expect(resp.data, resp.len, 0xBF2B, &outer), SGP32_OK);
    assert_int_equal(sgp32_asn1_expect(outer.value.data, outer.value.len, 0xA2, &list), SGP32_OK);
    assert_int_equal(list.value.len, lost.len);
    assert_memory_equal(list.value.data, lost.data, lost.len);
    sgp32_buf_free(&resp);

    /* seqNumbers go on from where they were; counters never go back. */
    sgp32_psmo g[1] = {psmo_simple(SGP32_PSMO_GET_RAT)};
    send_psmos(&t, g, 1, &resp);
    int64_t seq2 = result_data(verified(&t, &resp, NULL))->seq_number;
    assert_true(seq2 > seq);
    sgp32_buf_free(&resp);
    assert_int_equal(euicc_fixture_reopen(&t.f), SGP32_OK);
    sgp32_euicc_package_signed s = package_signed(&t, t.counter); /* replayed after reboot */
    s.euicc_package.choice = SGP32_EUICC_PACKAGE_PSMO_LIST;
    s.euicc_package.u.psmo_list.items = g;
    s.euicc_package.u.psmo_list.count = 1;
    send_signed(&t, &s, &t.eim_key, t.has_token, t.token, &resp);
    assert_int_equal(signed_error(&t, &resp, t.counter, true), SGP32_EUICC_PACKAGE_ERROR_CODE_REPLAY_ERROR);
    sgp32_buf_free(&resp);
    send_psmos(&t, g, 1, &resp);
    assert_true(result_data(verified(&t, &resp, NULL))->seq_number > seq2);
    sgp32_buf_free(&resp);

    /* RemoveNotificationFromList takes an EPR away; then 82 00 no longer lists it. */
    assert_int_equal(pending_count(&t, EUICC_PENDING_PACKAGE_RESULT), 3);
    assert_int_equal(remove_seq(&t, seq), 0);
    assert_int_equal(remove_seq(&t, seq), 1); /* nothingToDelete */
    assert_int_equal(pending_count(&t, EUICC_PENDING_PACKAGE_RESULT), 2);
    assert_int_equal(euicc_fixture_reopen(&t.f), SGP32_OK);
    assert_int_equal(pending_count(&t, EUICC_PENDING_PACKAGE_RESULT), 2);
    for (size_t i = 0; i < t.f.euicc->state.pending_count; i++)
        assert_int_not_equal(t.f.euicc->state.pending[i].seq_number, seq);
    sgp32_buf_free(&lost);

    /* EPRs are never dropped: with every slot holding one, a package is refused with signed
     * undefinedError(127) and changes nothing; once one is removed the same package runs. */
    while (t.f.euicc->state.pending_count < EUICC_MAX_PENDING) {
        send_psmos(&t, g, 1, &resp);
        sgp32_buf_free(&resp);
    }
    while (pending_count(&t, EUICC_PENDING_PACKAGE_RESULT) < EUICC_MAX_PENDING) {
        send_psmos(&t, g, 1, &resp); /* pushes the oldest notifications out */
        sgp32_buf_free(&resp);
    }
    int64_t next_seq = t.f.euicc->state.next_seq_number;
    send_psmos(&t, g, 1, &resp);
    assert_int_equal(signed_error(&t, &resp, t.counter, true),
                     SGP32_EUICC_PACKAGE_ERROR_CODE_UNDEFINED_ERROR);
    sgp32_buf_free(&resp);
    assert_int_equal(t.f.euicc->state.next_seq_number, next_seq);
    assert_int_equal(remove_seq(&t, t.f.euicc->state.pending[0].seq_number), 0);
    t.counter--;
    send_psmos(&t, g, 1, &resp);
    assert_int_equal(result_choice(&resp), 0xA0);
    sgp32_buf_free(&resp);
    teardown_card(&t);
}

/* ------------------------------------------------------------ rollback */

static void rollback_once_then_not_allowed(void **state)
{
    (void)state;
    pkg t;
    setup_card(&t);
    sgp32_buf resp;
    /* Without a rollbackFlag there is nothing to roll back. */
    es10_hex(&t, "BF5803800100", &resp);
    assert_memory_equal(resp.data, "\xBF\x58\x03\x02\x01\x01", 6);
    sgp32_buf_free(&resp);

    sgp32_psmo ops[1] = {psmo_enable(&t, ICCID_B, true)};
    sgp32_buf original;
    send_psmos(&t, ops, 1, &original);
    const sgp32_euicc_package_result *r0 = verified(&t, &original, NULL);
    int64_t seq0 = result_data(r0)->seq_number;
    assert_string_equal(enabled(&t), ICCID_B);
    /* The authorisation survives a power cycle. */
    assert_int_equal(euicc_fixture_reopen(&t.f), SGP32_OK);

    /* The lenient untagged BOOLEAN form; the answer carries the new EPR. */
    es10_hex(&t, "BF5803010100", &resp);
    sgp32_asn1_tlv outer, cmd, epr;
    size_t used;
    assert_int_equal(sgp32_asn1_expect(resp.data, resp.len, 0xBF58, &outer), SGP32_OK);
    assert_int_equal(sgp32_asn1_read_tlv(outer.value.data, outer.value.len, &cmd, &used), SGP32_OK);
    assert_int_equal(cmd.tag, 0x02);
    assert_int_equal(cmd.value.data[0], 0);
    assert_int_equal(sgp32_asn1_expect(outer.value.data + used, outer.value.len - used, 0xBF51, &epr),
                     SGP32_OK);
    sgp32_buf eb;
    sgp32_buf_init(&eb, 4096);
    assert_int_equal(sgp32_buf_append(&eb, epr.whole.data, epr.whole.len), SGP32_OK);
    const sgp32_euicc_package_result *r1 = verified(&t, &eb, NULL);
    assert_string_equal(results_hex(&t, r1), "830100"
                                             "8C0100");
    assert_int_equal(result_data(r1)->counter_value, t.counter);
    assert_true(result_data(r1)->has_eim_transaction_id);
    assert_memory_equal(result_data(r1)->eim_transaction_id.data, txid, sizeof(txid));
    assert_true(result_data(r1)->seq_number > seq0);
    assert_string_equal(enabled(&t), ICCID_A);
    /* The new EPR replaced the original one in the pending list. */
    const euicc_state *s = &t.f.euicc->state;
    assert_int_equal(pending_count(&t, EUICC_PENDING_PACKAGE_RESULT), 1);
    for (size_t i = 0; i < s->pending_count; i++)
        if (s->pending[i].kind == EUICC_PENDING_PACKAGE_RESULT) {
            assert_int_equal(s->pending[i].seq_number, result_data(r1)->seq_number);
            assert_memory_equal(s->pending[i].der, eb.data, eb.len);
        }
    sgp32_buf_free(&resp);
    sgp32_buf_free(&eb);
    /* Once only. */
    es10_hex(&t, "BF58038001FF", &resp);
    assert_memory_equal(resp.data, "\xBF\x58\x03\x02\x01\x01", 6);
    sgp32_buf_free(&resp);

    /* Not after the eIM acknowledged the result (the EPR was removed)... */
    sgp32_psmo again[1] = {psmo_enable(&t, ICCID_B, true)};
    sgp32_buf epr2;
    send_psmos(&t, again, 1, &epr2);
    assert_int_equal(remove_seq(&t, result_data(verified(&t, &epr2, NULL))->seq_number), 0);
    es10_hex(&t, "BF5803800100", &resp);
    assert_memory_equal(resp.data, "\xBF\x58\x03\x02\x01\x01", 6);
    sgp32_buf_free(&resp);
    sgp32_buf_free(&epr2);
    /* ...nor once a later package arrived (the eIM is reachable). */
    sgp32_psmo third[1] = {psmo_enable(&t, ICCID_C, true)};
    assert_string_equal(psmo_results(&t, third, 1), "830100");
    sgp32_psmo g[1] = {psmo_simple(SGP32_PSMO_GET_RAT)};
    psmo_results(&t, g, 1);
    es10_hex(&t, "BF5803800100", &resp);
    assert_memory_equal(resp.data, "\xBF\x58\x03\x02\x01\x01", 6);
    sgp32_buf_free(&resp);
    assert_string_equal(enabled(&t), ICCID_C);
    sgp32_buf_free(&original);
    teardown_card(&t);
}

/* A switch outside the eIM's package (here the fallback mechanism) ends the authorisation:
 * the state the rollback would return from is gone. */
static void a_local_switch_ends_the_rollback_authorisation(void **state)
{
    (void)state;
    pkg t;
    setup_card(&t);
    sgp32_psmo ops[1] = {psmo_enable(&t, ICCID_B, true)};
    sgp32_buf original, resp;
    send_psmos(&t, ops, 1, &original);
    assert_string_equal(enabled(&t), ICCID_B);
    profile(&t, ICCID_A)->fallback_attribute = true;
    es10_hex(&t, "BF5D03800100", &resp);
    assert_memory_equal(resp.data, "\xBF\x5D\x03\x80\x01\x00", 6);
    sgp32_buf_free(&resp);
    assert_string_equal(enabled(&t), ICCID_A);
    es10_hex(&t, "BF5803800100", &resp);
    assert_memory_equal(resp.data, "\xBF\x58\x03\x02\x01\x01", 6); /* rollbackNotAllowed */
    sgp32_buf_free(&resp);
    sgp32_buf_free(&original);
    teardown_card(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(eim_sign_and_verify_are_exact),
        cmocka_unit_test(unknown_eim_and_bad_signature_answer_unsigned_errors),
        cmocka_unit_test(eid_and_counter_errors_are_signed_and_consume_nothing),
        cmocka_unit_test(enable_switches_profiles_notifies_and_keeps_the_epr),
        cmocka_unit_test(disable_and_delete_give_every_code),
        cmocka_unit_test(list_rat_immediate_enable_and_default_dp),
        cmocka_unit_test(fallback_attribute_codes),
        cmocka_unit_test(damaged_package_and_result_overflow_terminate_processing),
        cmocka_unit_test(eim_configuration_operations),
        cmocka_unit_test(eprs_stay_until_removed_and_survive_power_loss),
        cmocka_unit_test(rollback_once_then_not_allowed),
        cmocka_unit_test(a_local_switch_ends_the_rollback_authorisation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

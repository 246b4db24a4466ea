/*
 * The eUICC's profile download (ES10b AuthenticateServer, PrepareDownload, LoadBoundProfilePackage,
 * CancelSession; ES8+ inside the BPP) driven end to end by the SM-DP+ builder of lib/smdp, with the
 * SGP.26 PKI on both curves and the TS.48 test profiles. The BPP goes in exactly as an IPA sends
 * it (NOTES §5.2): one sgp32_euicc_es10 call per segment, no answer until the PIR.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "../../lib/euicc/euicc_internal.h"
#include "alloc_fail.h"
#include "euicc_fixture.h"
#include "sgp32/profile_package.h"
#include "sgp32/smdp_session.h"

#define SMDP_ADDRESS "smdp.example.com"
#define TS48_V1      SGP32_SPEC_DIR "/profiles/TS48V1-A-UNIQUE.der"
#define TS48_V2      SGP32_SPEC_DIR "/profiles/TS48V2-SAIP2-1-BERTLV-UNIQUE.der"

enum { NIST = 0, BRP = 1 };
static const char *const curve_names[2] = {"NIST", "BRP"};

/* ctxParams1 {80 "ABC" matchingId, A1 deviceInfo {80 tac, A1 deviceCapabilities {}}} */
static const uint8_t ctx_params1[] = {0xA0, 0x0F, 0x80, 0x03, 'A',  'B',  'C',  0xA1, 0x08,
                                      0x80, 0x04, 0x35, 0x29, 0x06, 0x11, 0xA1, 0x00};

typedef struct env {
    euicc_fixture f;
    sgp32_ci_set cis; /* the SM-DP+'s trusted CIs */
    sgp32_smdp_credentials cred[2];
    sgp32_buf files[8];
    sgp32_buf upp[2];
    bool via_apdu; /* es10() goes through SELECT / STORE DATA / GET RESPONSE */
} env;

typedef struct run {
    sgp32_smdp_session smdp;
    sgp32_buf response; /* the last ES10 answer */
    sgp32_buf bpp;
    sgp32_buf pir;
    sgp32_buf metadata;
} run;

/* ------------------------------------------------------------------ set-up */

static void load_key(const char *path, sgp32_ec_private_key *key)
{
    sgp32_buf pem;
    assert_int_equal(test_read_file(path, &pem), SGP32_OK);
    assert_int_equal(sgp32_ec_private_from_pem((const char *)pem.data, pem.len, key), SGP32_OK);
    sgp32_secure_zero(pem.data, pem.len);
    sgp32_buf_free(&pem);
}

static int setup(void **state)
{
    env *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    assert_int_equal(euicc_fixture_open(&e->f), SGP32_OK);
    sgp32_ci_set_init(&e->cis);
    char path[512];
    for (int c = 0; c < 2; c++) {
        snprintf(path, sizeof(path), SGP32_SPEC_DIR "/sgp26/CertificateIssuer/CERT_CI_ECDSA_%s.der",
                 curve_names[c]);
        assert_int_equal(test_read_file(path, &e->files[4 * c]), SGP32_OK);
        assert_int_equal(sgp32_ci_set_add(&e->cis, e->files[4 * c].data, e->files[4 * c].len), SGP32_OK);
        snprintf(path, sizeof(path), SGP32_SPEC_DIR "/sgp26/DPauth/CERT_S_SM_DPauth_ECDSA_%s.der",
                 curve_names[c]);
        assert_int_equal(test_read_file(path, &e->files[4 * c + 1]), SGP32_OK);
        snprintf(path, sizeof(path), SGP32_SPEC_DIR "/sgp26/DPpb/CERT_S_SM_DPpb_ECDSA_%s.der",
                 curve_names[c]);
        assert_int_equal(test_read_file(path, &e->files[4 * c + 2]), SGP32_OK);
        e->cred[c].dpauth_certificate = sgp32_buf_bytes(&e->files[4 * c + 1]);
        e->cred[c].dppb_certificate = sgp32_buf_bytes(&e->files[4 * c + 2]);
        snprintf(path, sizeof(path), SGP32_SPEC_DIR "/sgp26/DPauth/SK_S_SM_DPauth_ECDSA_%s.pem",
                 curve_names[c]);
        load_key(path, &e->cred[c].dpauth_key);
        snprintf(path, sizeof(path), SGP32_SPEC_DIR "/sgp26/DPpb/SK_S_SM_DPpb_ECDSA_%s.pem", curve_names[c]);
        load_key(path, &e->cred[c].dppb_key);
    }
    assert_int_equal(test_read_file(TS48_V1, &e->upp[0]), SGP32_OK);
    assert_int_equal(test_read_file(TS48_V2, &e->upp[1]), SGP32_OK);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    euicc_fixture_close(&e->f);
    sgp32_ci_set_free(&e->cis);
    for (size_t i = 0; i < SGP32_ARRAY_LEN(e->files); i++)
        sgp32_buf_free(&e->files[i]);
    sgp32_buf_free(&e->upp[0]);
    sgp32_buf_free(&e->upp[1]);
    sgp32_secure_zero(e, sizeof(*e));
    free(e);
    return 0;
}

static void run_init(run *r)
{
    memset(r, 0, sizeof(*r));
    sgp32_buf_init(&r->response, 1 << 16);
    sgp32_buf_init(&r->bpp, 1 << 20);
    sgp32_buf_init(&r->pir, 4096);
    sgp32_buf_init(&r->metadata, 1 << 16);
}

static void run_free(run *r)
{
    sgp32_buf_free(&r->response);
    sgp32_buf_free(&r->bpp);
    sgp32_buf_free(&r->pir);
    sgp32_buf_free(&r->metadata);
    sgp32_smdp_session_clear(&r->smdp);
}

/* ------------------------------------------------------------- helpers */

/* One APDU; returns SW1SW2 and appends the data to out. */
static unsigned transmit(env *e, const uint8_t *command, size_t len, sgp32_buf *out)
{
    sgp32_buf response;
    sgp32_buf_init(&response, 4096);
    assert_int_equal(sgp32_euicc_transmit(e->f.euicc, command, len, &response), SGP32_OK);
    assert_true(response.len >= 2);
    unsigned sw = (unsigned)response.data[response.len - 2] << 8 | response.data[response.len - 1];
    assert_int_equal(sgp32_buf_append(out, response.data, response.len - 2), SGP32_OK);
    sgp32_buf_free(&response);
    return sw;
}

/* An ES10 request as STORE DATA blocks of 255 bytes on the basic channel (NOTES §5.1). */
static int es10_over_apdus(env *e, const uint8_t *request, size_t len, sgp32_buf *response)
{
    static const uint8_t select[] = {0x00, 0xA4, 0x04, 0x00, 0x10, 0xA0, 0x00, 0x00, 0x05, 0x59, 0x10,
                                     0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00, 0x01, 0x00, 0x00};
    sgp32_buf ignored;
    sgp32_buf_init(&ignored, 4096);
    unsigned sw = transmit(e, select, sizeof(select), &ignored);
    assert_true(sw == 0x9000 || (sw >> 8) == 0x61);
    sgp32_buf_free(&ignored);
    size_t blocks = (len + 254) / 255;
    for (size_t b = 0; b < blocks; b++) {
        size_t n = len - b * 255 < 255 ? len - b * 255 : 255;
        uint8_t command[5 + 255 + 1] = {0x80, 0xE2, b + 1 == blocks ? 0x91 : 0x11, (uint8_t)b, (uint8_t)n};
        memcpy(command + 5, request + b * 255, n);
        command[5 + n] = 0x00; /* Le */
        sw = transmit(e, command, 6 + n, response);
        if (b + 1 < blocks)
            assert_int_equal(sw, 0x9000);
    }
    while ((sw >> 8) == 0x61) {
        const uint8_t get_response[] = {0x80, 0xC0, 0x00, 0x00, (uint8_t)sw};
        sw = transmit(e, get_response, sizeof(get_response), response);
    }
    return sw == 0x9000   ? SGP32_OK
           : sw == 0x6A88 ? SGP32_ERR_NOT_FOUND
           : sw == 0x6985 ? SGP32_ERR_STATE
                          : -(int)sw;
}

static int es10(env *e, const uint8_t *request, size_t len, sgp32_buf *response)
{
    sgp32_buf_reset(response);
    if (e->via_apdu)
        return es10_over_apdus(e, request, len, response);
    return sgp32_euicc_es10(e->f.euicc, request, len, response);
}

/* GetEUICCChallenge through ES10: BF2E 12 80 10 <16>. */
static void get_challenge(env *e, uint8_t challenge[16])
{
    static const uint8_t request[] = {0xBF, 0x2E, 0x00};
    sgp32_buf response;
    sgp32_buf_init(&response, 256);
    assert_int_equal(es10(e, request, sizeof(request), &response), SGP32_OK);
    assert_int_equal(response.len, 21);
    assert_memory_equal(response.data, "\xBF\x2E\x12\x80\x10", 5);
    memcpy(challenge, response.data + 5, 16);
    sgp32_buf_free(&response);
}

/* Whether GetProfilesInfo (BF2D, through ES10) lists the ICCID (digits); *enabled its state. */
static bool profile_listed(env *e, const char *digits, bool *enabled)
{
    uint8_t iccid[10];
    assert_int_equal(euicc_iccid_from_text(digits, iccid), SGP32_OK);
    static const uint8_t request[] = {0xBF, 0x2D, 0x00};
    sgp32_buf response;
    sgp32_buf_init(&response, 1 << 16);
    assert_int_equal(es10(e, request, sizeof(request), &response), SGP32_OK);
    sgp32_arena arena;
    sgp32_arena_init(&arena, 1 << 16);
    sgp32_sgp32_profile_info_list_response list;
    memset(&list, 0, sizeof(list));
    assert_int_equal(sgp32_asn1_decode(&sgp32_type_sgp32_profile_info_list_response, response.data,
                                       response.len, &arena, &list),
                     SGP32_OK);
    assert_int_equal(list.choice, SGP32_SGP32_PROFILE_INFO_LIST_RESPONSE_PROFILE_INFO_LIST_OK);
    bool found = false;
    for (size_t i = 0; i < list.u.profile_info_list_ok.count; i++) {
        const sgp32_sgp32_profile_info *p = &list.u.profile_info_list_ok.items[i];
        if (p->has_iccid && sgp32_bytes_equal(p->iccid, SGP32_BYTES(iccid, 10))) {
            found = true;
            if (enabled)
                *enabled = p->has_profile_state && p->profile_state == 1;
        }
    }
    sgp32_arena_free(&arena);
    sgp32_buf_free(&response);
    return found;
}

/* SGP32-StoreMetadataRequest for a profile with these ICCID digits (profile owner 262/01 or none). */
static void make_metadata_owner(const char *digits, int64_t profile_class, uint32_t pprs, size_t icon_len,
                                bool owner, sgp32_buf *out)
{
    static uint8_t icon[1024];
    memset(icon, 0x42, sizeof(icon));
    uint8_t iccid[10];
    assert_int_equal(euicc_iccid_from_text(digits, iccid), SGP32_OK);
    sgp32_notification_configuration_information notify[2] = {
        {{0},
         SGP32_NOTIFICATION_EVENT_NOTIFICATION_INSTALL | SGP32_NOTIFICATION_EVENT_NOTIFICATION_ENABLE,
         SGP32_BYTES(SMDP_ADDRESS, strlen(SMDP_ADDRESS))},
        {{0},
         SGP32_NOTIFICATION_EVENT_NOTIFICATION_DISABLE | SGP32_NOTIFICATION_EVENT_NOTIFICATION_DELETE,
         SGP32_BYTES("eim.example.com", 15)},
    };
    sgp32_sgp32_store_metadata_request md;
    memset(&md, 0, sizeof(md));
    md.iccid = SGP32_BYTES(iccid, 10);
    md.service_provider_name = SGP32_BYTES("GSMA Test", 9);
    md.profile_name = SGP32_BYTES("TS.48 test profile", 18);
    md.profile_class = profile_class;
    md.has_notification_configuration_info = true;
    md.notification_configuration_info.items = notify;
    md.notification_configuration_info.count = 2;
    md.has_profile_owner = owner;
    md.profile_owner.mcc_mnc = SGP32_BYTES("\x62\xF2\x10", 3);
    if (pprs) {
        md.has_profile_policy_rules = true;
        md.profile_policy_rules = pprs;
    }
    if (icon_len) {
        md.has_icon_type = true;
        md.icon_type = 1;
        md.has_icon = true;
        md.icon = SGP32_BYTES(icon, icon_len);
    }
    md.has_fallback_allowed = true;
    md.fallback_allowed = true;
    sgp32_buf_reset(out);
    assert_int_equal(sgp32_asn1_encode(&sgp32_type_sgp32_store_metadata_request, &md, out), SGP32_OK);
}

static void make_metadata(const char *digits, int64_t profile_class, uint32_t pprs, size_t icon_len,
                          sgp32_buf *out)
{
    make_metadata_owner(digits, profile_class, pprs, icon_len, true, out);
}

/* InitiateAuthentication + AuthenticateServer; returns the eUICC's answer in r->response. */
static void authenticate_server(env *e, run *r, const sgp32_smdp_credentials *cred, bool tamper_signature)
{
    uint8_t challenge[16];
    get_challenge(e, challenge);
    assert_int_equal(sgp32_smdp_session_init(&r->smdp, cred, &e->cis, SMDP_ADDRESS, (int64_t)time(NULL)),
                     SGP32_OK);
    assert_int_equal(sgp32_smdp_initiate_authentication(&r->smdp, challenge), SGP32_OK);
    sgp32_buf request;
    sgp32_buf_init(&request, 1 << 16);
    assert_int_equal(sgp32_smdp_write_authenticate_server_request(
                         &r->smdp, SGP32_BYTES(ctx_params1, sizeof(ctx_params1)), &request),
                     SGP32_OK);
    if (tamper_signature) {
        sgp32_asn1_tlv outer, signed1, signature;
        assert_int_equal(sgp32_asn1_read_tlv(request.data, request.len, &outer, NULL), SGP32_OK);
        assert_int_equal(sgp32_asn1_read_tlv(outer.value.data, outer.value.len, &signed1, NULL), SGP32_OK);
        assert_int_equal(sgp32_asn1_read_tlv(signed1.whole.data + signed1.whole.len,
                                             outer.value.len - signed1.whole.len, &signature, NULL),
                         SGP32_OK);
        assert_int_equal(signature.tag, 0x5F37);
        ((uint8_t *)signature.value.data)[10] ^= 0x01;
    }
    assert_int_equal(es10(e, request.data, request.len, &r->response), SGP32_OK);
    sgp32_buf_free(&request);
}

/* AuthenticateServerResponse error code, or 0 for authenticateResponseOk. */
static int64_t authenticate_error(const run *r)
{
    sgp32_asn1_tlv outer, choice, field;
    assert_int_equal(sgp32_asn1_read_tlv(r->response.data, r->response.len, &outer, NULL), SGP32_OK);
    assert_int_equal(outer.tag, 0xBF38);
    assert_int_equal(sgp32_asn1_read_tlv(outer.value.data, outer.value.len, &choice, NULL), SGP32_OK);
    if (choice.tag == 0xA0)
        return 0;
    /* A1 {80 txid, 02 code} */
    assert_int_equal(choice.tag, 0xA1);
    sgp32_asn1_reader reader;
    sgp32_asn1_reader_init(&reader, choice.value, 1);
    assert_int_equal(sgp32_asn1_reader_next(&reader, &field), SGP32_OK);
    assert_int_equal(field.tag, 0x80);
    assert_int_equal(sgp32_asn1_reader_next(&reader, &field), SGP32_OK);
    assert_int_equal(field.tag, 0x02);
    int64_t code;
    assert_int_equal(sgp32_asn1_parse_integer(field.value, &code), SGP32_OK);
    return code;
}

/* Up to the eUICC's PrepareDownload answer (in r->response). */
static void authenticate_and_prepare(env *e, run *r, int curve, const char *cc, const char *cc_typed)
{
    authenticate_server(e, r, &e->cred[curve], false);
    assert_int_equal(authenticate_error(r), 0);
    sgp32_smdp_check check;
    assert_int_equal(
        sgp32_smdp_authenticate_client(&r->smdp, r->response.data, r->response.len, cc, NULL, &check),
        SGP32_OK);
    assert_int_equal(check.verdict, SGP32_SMDP_ACCEPTED);
    uint8_t hash[SGP32_SHA256_LEN];
    if (cc_typed)
        assert_int_equal(sgp32_hash_confirmation_code((const uint8_t *)cc_typed, strlen(cc_typed),
                                                      r->smdp.transaction_id, r->smdp.transaction_id_len,
                                                      hash),
                         SGP32_OK);
    sgp32_buf request;
    sgp32_buf_init(&request, 1 << 16);
    assert_int_equal(sgp32_smdp_write_prepare_download_request(&r->smdp, cc_typed ? hash : NULL, &request),
                     SGP32_OK);
    assert_int_equal(es10(e, request.data, request.len, &r->response), SGP32_OK);
    sgp32_buf_free(&request);
}

/* The SM-DP+ binds the profile (r->bpp). */
static void bind(run *r, const sgp32_smdp_bpp_params *p, sgp32_smdp_verdict expected)
{
    sgp32_smdp_check check;
    sgp32_buf_reset(&r->bpp);
    assert_int_equal(
        sgp32_smdp_get_bound_profile_package(&r->smdp, r->response.data, r->response.len, p, &r->bpp, &check),
        SGP32_OK);
    assert_int_equal(check.verdict, expected);
}

/* Feed a BPP as an IPA does: intermediate answers must be empty; the first answer is the PIR.
 * Returns how many segments went in. */
static size_t load(env *e, const uint8_t *bpp, size_t len, sgp32_buf *pir)
{
    sgp32_bpp_segmenter it;
    sgp32_bytes segment;
    assert_int_equal(sgp32_bpp_segmenter_init(&it, bpp, len), SGP32_OK);
    sgp32_buf_reset(pir);
    size_t count = 0;
    int rc;
    while ((rc = sgp32_bpp_segmenter_next(&it, &segment)) == SGP32_OK) {
        count++;
        assert_int_equal(es10(e, segment.data, segment.len, pir), SGP32_OK);
        if (pir->len)
            break;
    }
    assert_true(rc == SGP32_OK || rc == SGP32_ERR_NOT_FOUND);
    assert_true(pir->len > 0);
    return count;
}

static size_t segment_count(const sgp32_buf *bpp)
{
    sgp32_bpp_segmenter it;
    sgp32_bytes segment;
    size_t n = 0;
    assert_int_equal(sgp32_bpp_segmenter_init(&it, bpp->data, bpp->len), SGP32_OK);
    while (sgp32_bpp_segmenter_next(&it, &segment) == SGP32_OK)
        n++;
    return n;
}

/* The index-th segment (0-based) of a BPP. */
static sgp32_bytes segment_at(const sgp32_buf *bpp, size_t index)
{
    sgp32_bpp_segmenter it;
    sgp32_bytes segment = {NULL, 0};
    assert_int_equal(sgp32_bpp_segmenter_init(&it, bpp->data, bpp->len), SGP32_OK);
    for (size_t i = 0; i <= index; i++)
        assert_int_equal(sgp32_bpp_segmenter_next(&it, &segment), SGP32_OK);
    return segment;
}

static sgp32_smdp_pir verify_pir(run *r)
{
    sgp32_smdp_pir pir;
    sgp32_smdp_check check;
    assert_int_equal(sgp32_smdp_verify_pir(&r->smdp, r->pir.data, r->pir.len, &pir, &check), SGP32_OK);
    assert_int_equal(check.verdict, SGP32_SMDP_ACCEPTED);
    assert_string_equal(pir.notification_address, SMDP_ADDRESS);
    return pir;
}

static void expect_error_pir(run *r, int64_t command, int64_t reason)
{
    sgp32_smdp_pir pir = verify_pir(r);
    assert_false(pir.success);
    assert_int_equal(pir.bpp_command_id, command);
    assert_int_equal(pir.error_reason, reason);
}

/* The whole download of upp (metadata from extra, or made for the header ICCID); the PIR in r->pir. */
static void download(env *e, run *r, int curve, const sgp32_buf *upp, const sgp32_smdp_bpp_params *extra)
{
    sgp32_smdp_bpp_params p = extra ? *extra : (sgp32_smdp_bpp_params){0};
    p.upp = sgp32_buf_bytes(upp);
    if (!p.metadata.data) {
        char digits[21];
        assert_int_equal(sgp32_upp_iccid(upp->data, upp->len, digits), SGP32_OK);
        make_metadata(digits, SGP32_PROFILE_CLASS_OPERATIONAL, 0, 0, &r->metadata);
        p.metadata = sgp32_buf_bytes(&r->metadata);
    }
    authenticate_and_prepare(e, r, curve, NULL, NULL);
    bind(r, &p, SGP32_SMDP_ACCEPTED);
    load(e, r->bpp.data, r->bpp.len, &r->pir);
}

static void assert_no_session(env *e)
{
    assert_null(e->f.euicc->download);
}

static const euicc_pending *pending_pir(env *e, int64_t seq)
{
    for (size_t i = 0; i < e->f.euicc->state.pending_count; i++)
        if (e->f.euicc->state.pending[i].seq_number == seq)
            return &e->f.euicc->state.pending[i];
    return NULL;
}

/* ------------------------------------------------------------------ tests */

static void downloads_on_both_curves(void **state)
{
    env *e = *state;
    for (int curve = NIST; curve <= BRP; curve++) {
        euicc_fixture_close(&e->f);
        assert_int_equal(euicc_fixture_open(&e->f), SGP32_OK);
        run r;
        run_init(&r);
        download(e, &r, curve, &e->upp[0], NULL);
        sgp32_smdp_pir pir = verify_pir(&r);
        assert_true(pir.success);
        assert_int_equal(pir.aid_len, 16);
        assert_memory_equal(pir.aid, "\xA0\x00\x00\x05\x59\x10\x10\xFF\xFF\xFF\xFF\x89\x00\x00", 14);
        assert_true(pir.has_iccid);
        assert_no_session(e);

        char digits[21];
        assert_int_equal(sgp32_upp_iccid(e->upp[0].data, e->upp[0].len, digits), SGP32_OK);
        assert_string_equal(digits, "8949449999999990023");
        bool enabled = true;
        assert_true(profile_listed(e, digits, &enabled));
        assert_false(enabled);

        /* The profile as stored: metadata, SM-DP+ OID 2.999.10, elements = the UPP. */
        uint8_t iccid[10];
        assert_int_equal(euicc_iccid_from_text(digits, iccid), SGP32_OK);
        assert_memory_equal(pir.iccid, iccid, 10);
        const euicc_profile *p = euicc_find_profile_by_iccid(e->f.euicc, iccid);
        assert_non_null(p);
        assert_string_equal(p->profile_name, "TS.48 test profile");
        assert_string_equal(p->service_provider_name, "GSMA Test");
        assert_int_equal(p->profile_class, SGP32_PROFILE_CLASS_OPERATIONAL);
        assert_int_equal(p->notification_config_count, 2);
        assert_string_equal(p->notification_config[1].address, "eim.example.com");
        assert_true(p->has_owner);
        assert_true(p->has_fallback_allowed && p->fallback_allowed);
        assert_int_equal(p->smdp_oid_len, 3);
        assert_memory_equal(p->smdp_oid, "\x88\x37\x0A", 3);
        assert_memory_equal(p->aid, pir.aid, 16);
        sgp32_buf stored;
        sgp32_buf_init(&stored, 1 << 20);
        char name[40];
        snprintf(name, sizeof(name), "profile-%s", digits);
        assert_int_equal(e->f.config.store.load(e->f.config.store.ctx, name, &stored), SGP32_OK);
        assert_int_equal(stored.len, e->upp[0].len);
        assert_memory_equal(stored.data, e->upp[0].data, stored.len);
        sgp32_buf_free(&stored);

        /* The PIR waits in the pending list, byte for byte; ImmediateEnable knows the profile. */
        const euicc_pending *n = pending_pir(e, pir.seq_number);
        assert_non_null(n);
        assert_int_equal(n->kind, EUICC_PENDING_PIR);
        assert_int_equal(n->der_len, r.pir.len);
        assert_memory_equal(n->der, r.pir.data, r.pir.len);
        assert_true(e->f.euicc->has_last_installed);
        assert_memory_equal(e->f.euicc->last_installed_iccid, iccid, 10);
        run_free(&r);
    }
}

static void confirmation_code(void **state)
{
    env *e = *state;
    run r;
    run_init(&r);
    char digits[21];
    assert_int_equal(sgp32_upp_iccid(e->upp[1].data, e->upp[1].len, digits), SGP32_OK);
    make_metadata(digits, SGP32_PROFILE_CLASS_OPERATIONAL, 0, 0, &r.metadata);
    sgp32_smdp_bpp_params p = {.metadata = sgp32_buf_bytes(&r.metadata), .upp = sgp32_buf_bytes(&e->upp[1])};

    /* A wrong code: the eUICC cannot tell, the SM-DP+ refuses it. */
    authenticate_and_prepare(e, &r, BRP, "1234", "4321");
    bind(&r, &p, SGP32_SMDP_CONFIRMATION_CODE_REFUSED);
    run_free(&r);

    /* Required but not given: the eUICC answers undefinedError (127) and the session is over. */
    run_init(&r);
    make_metadata(digits, SGP32_PROFILE_CLASS_OPERATIONAL, 0, 0, &r.metadata);
    authenticate_and_prepare(e, &r, NIST, "1234", NULL);
    assert_memory_equal(r.response.data, "\xBF\x21", 2);
    assert_int_equal(r.response.data[3], 0xA1);
    assert_int_equal(r.response.data[r.response.len - 1], 127);
    assert_no_session(e);
    run_free(&r);

    /* The right code. */
    run_init(&r);
    make_metadata(digits, SGP32_PROFILE_CLASS_OPERATIONAL, 0, 0, &r.metadata);
    p.metadata = sgp32_buf_bytes(&r.metadata);
    authenticate_and_prepare(e, &r, NIST, "1234", "1234");
    bind(&r, &p, SGP32_SMDP_ACCEPTED);
    load(e, r.bpp.data, r.bpp.len, &r.pir);
    assert_true(verify_pir(&r).success);
    assert_true(profile_listed(e, digits, NULL));
    run_free(&r);
}

/* Acceptance: a BPP made from each TS.48 profile installs; GetProfilesInfo lists its header ICCID. */
static void every_ts48_profile_installs_and_is_listed(void **state)
{
    env *e = *state;
    char digits[2][21];
    for (int i = 0; i < 2; i++) {
        run r;
        run_init(&r);
        download(e, &r, i % 2 ? BRP : NIST, &e->upp[i], NULL);
        assert_true(verify_pir(&r).success);
        run_free(&r);
        assert_int_equal(sgp32_upp_iccid(e->upp[i].data, e->upp[i].len, digits[i]), SGP32_OK);
    }
    assert_string_not_equal(digits[0], digits[1]);
    for (int i = 0; i < 2; i++)
        assert_true(profile_listed(e, digits[i], NULL));

    /* One TS.48 file under another ICCID (header rewritten) installs beside the first. */
    sgp32_buf other;
    sgp32_buf_init(&other, 1 << 20);
    assert_int_equal(sgp32_upp_set_iccid(e->upp[0].data, e->upp[0].len, "89000123456789012347", &other),
                     SGP32_OK);
    char check[21];
    assert_int_equal(sgp32_upp_iccid(other.data, other.len, check), SGP32_OK);
    assert_string_equal(check, "89000123456789012347");
    run r;
    run_init(&r);
    download(e, &r, NIST, &other, NULL);
    assert_true(verify_pir(&r).success);
    assert_true(profile_listed(e, "89000123456789012347", NULL));
    assert_true(profile_listed(e, digits[0], NULL));
    /* Distinct ISD-Ps. */
    uint8_t a[10], b[10];
    assert_int_equal(euicc_iccid_from_text(digits[0], a), SGP32_OK);
    assert_int_equal(euicc_iccid_from_text("89000123456789012347", b), SGP32_OK);
    assert_memory_not_equal(euicc_find_profile_by_iccid(e->f.euicc, a)->aid,
                            euicc_find_profile_by_iccid(e->f.euicc, b)->aid, 16);
    run_free(&r);
    sgp32_buf_free(&other);
}

/* PPKs (A2), metadata over several 88s, small segments, and the whole BPP in one call. */
static void ppk_small_segments_and_one_call(void **state)
{
    env *e = *state;
    char digits[21];
    assert_int_equal(sgp32_upp_iccid(e->upp[0].data, e->upp[0].len, digits), SGP32_OK);
    run r;
    run_init(&r);
    make_metadata(digits, SGP32_PROFILE_CLASS_TEST, 0, 1024, &r.metadata);
    sgp32_smdp_bpp_params p = {.metadata = sgp32_buf_bytes(&r.metadata),
                               .replace_session_keys = true,
                               .dp_oid_in_configure_isdp = true,
                               .host_id = SGP32_BYTES("mahlzeit", 8),
                               .segment_max = 200};
    download(e, &r, BRP, &e->upp[0], &p);
    assert_true(verify_pir(&r).success);
    /* Every segment within 200 bytes; the 1 KiB icon took several 88s. */
    size_t n = segment_count(&r.bpp), eighty_eights = 0;
    for (size_t i = 1; i < n; i++) {
        sgp32_bytes s = segment_at(&r.bpp, i);
        if (s.data[0] == 0x86 || s.data[0] == 0x88)
            assert_true(s.len <= 200);
        eighty_eights += s.data[0] == 0x88;
    }
    assert_true(eighty_eights >= 6);
    uint8_t iccid[10];
    assert_int_equal(euicc_iccid_from_text(digits, iccid), SGP32_OK);
    const euicc_profile *prof = euicc_find_profile_by_iccid(e->f.euicc, iccid);
    assert_non_null(prof);
    assert_int_equal(prof->icon_len, 1024);
    assert_int_equal(prof->profile_class, SGP32_PROFILE_CLASS_TEST);
    run_free(&r);

    /* The default 1020: no segment larger; the 1020-byte ones are 86 82 03 F8. */
    run_init(&r);
    download(e, &r, NIST, &e->upp[1], NULL);
    assert_true(verify_pir(&r).success);
    n = segment_count(&r.bpp);
    size_t full = 0;
    for (size_t i = 1; i < n; i++) {
        sgp32_bytes s = segment_at(&r.bpp, i);
        if (s.data[0] == 0x86) {
            assert_true(s.len <= 1020);
            if (s.len == 1020) {
                assert_memory_equal(s.data, "\x86\x82\x03\xF8", 4);
                full++;
            }
        }
    }
    assert_true(full >= 10);
    run_free(&r);

    /* The whole BPP in one ES10 call also installs. */
    sgp32_buf other;
    sgp32_buf_init(&other, 1 << 20);
    assert_int_equal(sgp32_upp_set_iccid(e->upp[1].data, e->upp[1].len, "8900000000000000123", &other),
                     SGP32_OK);
    run_init(&r);
    make_metadata("8900000000000000123", SGP32_PROFILE_CLASS_OPERATIONAL, 0, 0, &r.metadata);
    authenticate_and_prepare(e, &r, NIST, NULL, NULL);
    sgp32_smdp_bpp_params whole = {.metadata = sgp32_buf_bytes(&r.metadata), .upp = sgp32_buf_bytes(&other)};
    bind(&r, &whole, SGP32_SMDP_ACCEPTED);
    assert_int_equal(es10(e, r.bpp.data, r.bpp.len, &r.pir), SGP32_OK);
    assert_true(verify_pir(&r).success);
    run_free(&r);
    sgp32_buf_free(&other);
}

/* A flipped byte in a protected segment: error PIR scp03tSecurityError, nothing kept, and a new
 * download then works. */
static void tampered_segment(void **state)
{
    env *e = *state;
    char digits[21];
    assert_int_equal(sgp32_upp_iccid(e->upp[0].data, e->upp[0].len, digits), SGP32_OK);
    /* segment 1 = A0 (87 inside), 3 = the first 88, 5 = the first 86 (A1 header 2, A3 header 4). */
    const struct {
        size_t segment;
        int64_t command;
    } cases[] = {{1, SGP32_BPP_COMMAND_ID_CONFIGURE_ISDP},
                 {3, SGP32_BPP_COMMAND_ID_STORE_METADATA},
                 {5, SGP32_BPP_COMMAND_ID_LOAD_PROFILE_ELEMENTS},
                 {9, SGP32_BPP_COMMAND_ID_LOAD_PROFILE_ELEMENTS}};
    for (size_t c = 0; c < SGP32_ARRAY_LEN(cases); c++) {
        run r;
        run_init(&r);
        make_metadata(digits, SGP32_PROFILE_CLASS_OPERATIONAL, 0, 0, &r.metadata);
        authenticate_and_prepare(e, &r, c % 2 ? BRP : NIST, NULL, NULL);
        sgp32_smdp_bpp_params p = {.metadata = sgp32_buf_bytes(&r.metadata),
                                   .upp = sgp32_buf_bytes(&e->upp[0])};
        bind(&r, &p, SGP32_SMDP_ACCEPTED);
        sgp32_bytes s = segment_at(&r.bpp, cases[c].segment);
        r.bpp.data[(size_t)(s.data - r.bpp.data) + s.len - 1] ^= 0x80; /* the MAC's last byte */
        size_t sent = load(e, r.bpp.data, r.bpp.len, &r.pir);
        assert_int_equal(sent, cases[c].segment + 1); /* the PIR came at once */
        expect_error_pir(&r, cases[c].command, SGP32_ERROR_REASON_SCP03T_SECURITY_ERROR);
        assert_no_session(e);
        assert_false(profile_listed(e, digits, NULL));
        /* The rest of the BPP is not taken any more. */
        sgp32_bytes next = segment_at(&r.bpp, cases[c].segment + 1);
        assert_int_equal(es10(e, next.data, next.len, &r.response), SGP32_ERR_NOT_FOUND);
        run_free(&r);
    }
    char name[40];
    snprintf(name, sizeof(name), "profile-%s", digits);
    sgp32_buf none;
    sgp32_buf_init(&none, 1 << 20);
    assert_int_equal(e->f.config.store.load(e->f.config.store.ctx, name, &none), SGP32_ERR_NOT_FOUND);
    sgp32_buf_free(&none);

    run r;
    run_init(&r);
    download(e, &r, NIST, &e->upp[0], NULL);
    assert_true(verify_pir(&r).success);
    assert_true(profile_listed(e, digits, NULL));
    run_free(&r);
}

/* Replace BF23's transactionId / remoteOpId / CRT and re-sign it as the SM-DP+ would. */
static void resign_bf23(env *e, run *r, int curve, uint32_t field_tag, uint8_t xor_mask)
{
    sgp32_asn1_tlv bpp, bf23, field;
    assert_int_equal(sgp32_asn1_read_tlv(r->bpp.data, r->bpp.len, &bpp, NULL), SGP32_OK);
    assert_int_equal(sgp32_asn1_read_tlv(bpp.value.data, bpp.value.len, &bf23, NULL), SGP32_OK);
    sgp32_asn1_reader reader;
    sgp32_asn1_reader_init(&reader, bf23.value, 1);
    const uint8_t *sig = NULL;
    while (sgp32_asn1_reader_next(&reader, &field) == SGP32_OK) {
        if (field.tag == field_tag)
            ((uint8_t *)field.value.data)[0] ^= xor_mask;
        if (field.tag == 0xA6 && field_tag == 0x80A6) /* keyType inside the CRT */
            ((uint8_t *)field.value.data)[2] ^= xor_mask;
        if (field.tag == 0x5F37)
            sig = field.whole.data;
    }
    assert_non_null(sig);
    static const uint8_t otpk_header[3] = {0x5F, 0x49, 0x41};
    const sgp32_bytes parts[] = {{bf23.value.data, (size_t)(sig - bf23.value.data)},
                                 {otpk_header, 3},
                                 {r->smdp.euicc_otpk.point, SGP32_EC_POINT_LEN}};
    assert_int_equal(sgp32_ecdsa_sign(&e->cred[curve].dppb_key, parts, 3, (uint8_t *)sig + 3), SGP32_OK);
}

static void initialise_secure_channel_errors(void **state)
{
    env *e = *state;
    char digits[21];
    assert_int_equal(sgp32_upp_iccid(e->upp[0].data, e->upp[0].len, digits), SGP32_OK);
    const struct {
        uint32_t field;
        uint8_t mask;
        bool resign;
        int64_t reason;
    } cases[] = {
        {0x80, 0x01, true, SGP32_ERROR_REASON_INVALID_TRANSACTION_ID},
        {0x82, 0x02, true, SGP32_ERROR_REASON_UNSUPPORTED_REMOTE_OPERATION_TYPE},
        {0x80A6, 0x01, true, SGP32_ERROR_REASON_UNSUPPORTED_CRT_VALUES},
        {0x80, 0x01, false, SGP32_ERROR_REASON_INVALID_SIGNATURE},
    };
    for (size_t c = 0; c < SGP32_ARRAY_LEN(cases); c++) {
        run r;
        run_init(&r);
        make_metadata(digits, SGP32_PROFILE_CLASS_OPERATIONAL, 0, 0, &r.metadata);
        int curve = c % 2 ? BRP : NIST;
        authenticate_and_prepare(e, &r, curve, NULL, NULL);
        sgp32_smdp_bpp_params p = {.metadata = sgp32_buf_bytes(&r.metadata),
                                   .upp = sgp32_buf_bytes(&e->upp[0])};
        bind(&r, &p, SGP32_SMDP_ACCEPTED);
        if (cases[c].resign) {
            resign_bf23(e, &r, curve, cases[c].field, cases[c].mask);
        } else {
            sgp32_bytes first = segment_at(&r.bpp, 0);
            r.bpp.data[first.len - 1] ^= 0x01; /* smdpSign */
        }
        assert_int_equal(load(e, r.bpp.data, r.bpp.len, &r.pir), 1);
        expect_error_pir(&r, SGP32_BPP_COMMAND_ID_INITIALISE_SECURE_CHANNEL, cases[c].reason);
        assert_no_session(e);
        run_free(&r);
    }
}

static void authenticate_server_errors(void **state)
{
    env *e = *state;
    run r;

    /* A bad serverSignature1. */
    run_init(&r);
    authenticate_server(e, &r, &e->cred[NIST], true);
    assert_int_equal(authenticate_error(&r), SGP32_AUTHENTICATE_ERROR_CODE_INVALID_SIGNATURE);
    assert_no_session(e);
    run_free(&r);

    /* euiccCiPKIdToBeUsed names a CI the eUICC does not sign for. */
    run_init(&r);
    uint8_t challenge[16];
    get_challenge(e, challenge);
    assert_int_equal(
        sgp32_smdp_session_init(&r.smdp, &e->cred[BRP], &e->cis, SMDP_ADDRESS, (int64_t)time(NULL)),
        SGP32_OK);
    memset(r.smdp.ci_pkid, 0x5A, r.smdp.ci_pkid_len);
    assert_int_equal(sgp32_smdp_initiate_authentication(&r.smdp, challenge), SGP32_OK);
    sgp32_buf request;
    sgp32_buf_init(&request, 1 << 16);
    assert_int_equal(sgp32_smdp_write_authenticate_server_request(
                         &r.smdp, SGP32_BYTES(ctx_params1, sizeof(ctx_params1)), &request),
                     SGP32_OK);
    assert_int_equal(es10(e, request.data, request.len, &r.response), SGP32_OK);
    assert_int_equal(authenticate_error(&r), SGP32_AUTHENTICATE_ERROR_CODE_CI_PK_UNKNOWN);
    run_free(&r);

    /* An euiccChallenge that is not the last one issued; then a replay of a good request. */
    run_init(&r);
    get_challenge(e, challenge);
    challenge[0] ^= 1;
    assert_int_equal(
        sgp32_smdp_session_init(&r.smdp, &e->cred[NIST], &e->cis, SMDP_ADDRESS, (int64_t)time(NULL)),
        SGP32_OK);
    assert_int_equal(sgp32_smdp_initiate_authentication(&r.smdp, challenge), SGP32_OK);
    sgp32_buf_reset(&request);
    assert_int_equal(sgp32_smdp_write_authenticate_server_request(
                         &r.smdp, SGP32_BYTES(ctx_params1, sizeof(ctx_params1)), &request),
                     SGP32_OK);
    assert_int_equal(es10(e, request.data, request.len, &r.response), SGP32_OK);
    assert_int_equal(authenticate_error(&r), SGP32_AUTHENTICATE_ERROR_CODE_EUICC_CHALLENGE_MISMATCH);
    run_free(&r);
    run_init(&r);
    authenticate_server(e, &r, &e->cred[NIST], false);
    assert_int_equal(authenticate_error(&r), 0);
    sgp32_buf_reset(&request);
    assert_int_equal(sgp32_smdp_write_authenticate_server_request(
                         &r.smdp, SGP32_BYTES(ctx_params1, sizeof(ctx_params1)), &request),
                     SGP32_OK);
    assert_int_equal(es10(e, request.data, request.len, &r.response), SGP32_OK);
    assert_int_equal(authenticate_error(&r), SGP32_AUTHENTICATE_ERROR_CODE_EUICC_CHALLENGE_MISMATCH);
    assert_no_session(e);
    run_free(&r);

    /* CERT.DPpb offered as the authentication certificate: the wrong role. */
    sgp32_smdp_credentials wrong_role = e->cred[NIST];
    wrong_role.dpauth_certificate = e->cred[NIST].dppb_certificate;
    wrong_role.dpauth_key = e->cred[NIST].dppb_key;
    run_init(&r);
    authenticate_server(e, &r, &wrong_role, false);
    assert_int_equal(authenticate_error(&r), SGP32_AUTHENTICATE_ERROR_CODE_INVALID_OID);
    run_free(&r);

    /* A DPauth under a CI the eUICC does not trust. */
    sgp32_ec_private_key ci_key, auth_key;
    sgp32_ec_public_key ci_pub, auth_pub;
    assert_int_equal(sgp32_ec_generate(SGP32_CURVE_NIST_P256, &ci_key, &ci_pub), SGP32_OK);
    assert_int_equal(sgp32_ec_generate(SGP32_CURVE_NIST_P256, &auth_key, &auth_pub), SGP32_OK);
    sgp32_cert_request ci_req = {.profile = SGP32_CERT_PROFILE_CI,
                                 .country = "DE",
                                 .organization = "Rogue",
                                 .common_name = "Rogue CI",
                                 .not_before = 1577836800,
                                 .not_after = 4102444800,
                                 .registered_id = "2.999.1"};
    sgp32_buf rogue_ci, rogue_auth;
    sgp32_buf_init(&rogue_ci, 4096);
    sgp32_buf_init(&rogue_auth, 4096);
    assert_int_equal(sgp32_cert_issue(&ci_req, NULL, 0, &ci_key, &rogue_ci), SGP32_OK);
    sgp32_cert_request auth_req = {.profile = SGP32_CERT_PROFILE_DP_AUTH,
                                   .country = "DE",
                                   .organization = "Rogue",
                                   .common_name = "Rogue SM-DP+",
                                   .subject_key = &auth_pub,
                                   .not_before = 1577836800,
                                   .not_after = 4102444800,
                                   .registered_id = "2.999.10"};
    assert_int_equal(sgp32_cert_issue(&auth_req, rogue_ci.data, rogue_ci.len, &ci_key, &rogue_auth),
                     SGP32_OK);
    sgp32_smdp_credentials rogue = e->cred[NIST];
    rogue.dpauth_certificate = sgp32_buf_bytes(&rogue_auth);
    rogue.dpauth_key = auth_key;
    run_init(&r);
    get_challenge(e, challenge);
    assert_int_equal(sgp32_smdp_session_init(&r.smdp, &rogue, &e->cis, SMDP_ADDRESS, (int64_t)time(NULL)),
                     SGP32_OK);
    memcpy(r.smdp.ci_pkid, e->f.euicc->identity_eum_certs[0].aki.id, 20); /* a CI the eUICC signs for */
    r.smdp.ci_pkid_len = 20;
    assert_int_equal(sgp32_smdp_initiate_authentication(&r.smdp, challenge), SGP32_OK);
    sgp32_buf_reset(&request);
    assert_int_equal(sgp32_smdp_write_authenticate_server_request(
                         &r.smdp, SGP32_BYTES(ctx_params1, sizeof(ctx_params1)), &request),
                     SGP32_OK);
    assert_int_equal(es10(e, request.data, request.len, &r.response), SGP32_OK);
    assert_int_equal(authenticate_error(&r), SGP32_AUTHENTICATE_ERROR_CODE_INVALID_CERTIFICATE);
    assert_no_session(e);
    run_free(&r);
    sgp32_buf_free(&rogue_ci);
    sgp32_buf_free(&rogue_auth);
    sgp32_buf_free(&request);

    /* Not a request at all: the APDU layer's 6A80. */
    static const uint8_t junk[] = {0xBF, 0x38, 0x03, 0x80, 0x01, 0x00};
    assert_true(es10(e, junk, sizeof(junk), &r.response) < 0);
}

/* PrepareDownload with a wrong transactionId, a bad smdpSignature2, no session. */
static void prepare_download_errors(void **state)
{
    env *e = *state;
    for (int c = 0; c < 3; c++) {
        run r;
        run_init(&r);
        authenticate_server(e, &r, &e->cred[c == 1 ? BRP : NIST], false);
        assert_int_equal(authenticate_error(&r), 0);
        sgp32_smdp_check check;
        assert_int_equal(
            sgp32_smdp_authenticate_client(&r.smdp, r.response.data, r.response.len, NULL, NULL, &check),
            SGP32_OK);
        assert_int_equal(check.verdict, SGP32_SMDP_ACCEPTED);
        int64_t expected = SGP32_DOWNLOAD_ERROR_CODE_INVALID_TRANSACTION_ID;
        if (c == 0) {
            /* smdpSigned2 with another transactionId, properly signed. */
            r.smdp.smdp_signed2[4] ^= 0x01; /* 30 L 80 10 <txid> */
            static const uint8_t sig_header[3] = {0x5F, 0x37, 0x40};
            const sgp32_bytes parts[] = {{r.smdp.smdp_signed2, r.smdp.smdp_signed2_len},
                                         {sig_header, 3},
                                         {r.smdp.euicc_signature1, 64}};
            assert_int_equal(sgp32_ecdsa_sign(&e->cred[NIST].dppb_key, parts, 3, r.smdp.smdp_signature2),
                             SGP32_OK);
        } else if (c == 1) {
            r.smdp.smdp_signature2[7] ^= 0x10;
            expected = SGP32_DOWNLOAD_ERROR_CODE_INVALID_SIGNATURE;
        }
        sgp32_buf request;
        sgp32_buf_init(&request, 1 << 16);
        assert_int_equal(sgp32_smdp_write_prepare_download_request(&r.smdp, NULL, &request), SGP32_OK);
        if (c == 2) {
            /* After a CancelSession there is no session: noSessionContext. */
            uint8_t cancel[64] = {0xBF, 0x41, 0x00, 0x80, (uint8_t)r.smdp.transaction_id_len};
            memcpy(cancel + 5, r.smdp.transaction_id, r.smdp.transaction_id_len);
            size_t n = 5 + r.smdp.transaction_id_len;
            memcpy(cancel + n, "\x81\x01\x02", 3);
            cancel[2] = (uint8_t)(n + 3 - 3);
            assert_int_equal(es10(e, cancel, n + 3, &r.response), SGP32_OK);
            expected = SGP32_DOWNLOAD_ERROR_CODE_NO_SESSION_CONTEXT;
        }
        assert_int_equal(es10(e, request.data, request.len, &r.response), SGP32_OK);
        /* BF21 L A1 L 80 txid 02 01 code */
        assert_memory_equal(r.response.data, "\xBF\x21", 2);
        assert_int_equal(r.response.data[3], 0xA1);
        assert_int_equal(r.response.data[r.response.len - 1], expected);
        assert_no_session(e);
        sgp32_smdp_check bound;
        sgp32_smdp_bpp_params p = {.metadata = SGP32_BYTES("", 0), .upp = SGP32_BYTES("", 0)};
        sgp32_buf_reset(&r.bpp);
        assert_int_equal(sgp32_smdp_get_bound_profile_package(&r.smdp, r.response.data, r.response.len, &p,
                                                              &r.bpp, &bound),
                         SGP32_OK);
        assert_int_equal(bound.verdict, SGP32_SMDP_EUICC_ERROR);
        assert_int_equal(bound.euicc_error, expected);
        sgp32_buf_free(&request);
        run_free(&r);
    }
}

static void load_errors(void **state)
{
    env *e = *state;
    char digits[21];
    assert_int_equal(sgp32_upp_iccid(e->upp[1].data, e->upp[1].len, digits), SGP32_OK);
    run r;

    /* Segments out of order: A1 where A0 belongs. */
    run_init(&r);
    make_metadata(digits, SGP32_PROFILE_CLASS_OPERATIONAL, 0, 0, &r.metadata);
    authenticate_and_prepare(e, &r, NIST, NULL, NULL);
    sgp32_smdp_bpp_params p = {.metadata = sgp32_buf_bytes(&r.metadata), .upp = sgp32_buf_bytes(&e->upp[1])};
    bind(&r, &p, SGP32_SMDP_ACCEPTED);
    sgp32_bytes s0 = segment_at(&r.bpp, 0), s2 = segment_at(&r.bpp, 2);
    assert_int_equal(es10(e, s0.data, s0.len, &r.pir), SGP32_OK);
    assert_int_equal(r.pir.len, 0);
    assert_int_equal(es10(e, s2.data, s2.len, &r.pir), SGP32_OK);
    expect_error_pir(&r, SGP32_BPP_COMMAND_ID_CONFIGURE_ISDP, SGP32_ERROR_REASON_SCP03T_STRUCTURE_ERROR);
    assert_no_session(e);
    run_free(&r);

    /* Two 86 swapped: the MAC chain breaks. */
    run_init(&r);
    make_metadata(digits, SGP32_PROFILE_CLASS_OPERATIONAL, 0, 0, &r.metadata);
    p.metadata = sgp32_buf_bytes(&r.metadata);
    authenticate_and_prepare(e, &r, BRP, NULL, NULL);
    bind(&r, &p, SGP32_SMDP_ACCEPTED);
    for (size_t i = 0; i < 5; i++) {
        sgp32_bytes s = segment_at(&r.bpp, i);
        assert_int_equal(es10(e, s.data, s.len, &r.pir), SGP32_OK);
        assert_int_equal(r.pir.len, 0);
    }
    sgp32_bytes second = segment_at(&r.bpp, 6);
    assert_int_equal(es10(e, second.data, second.len, &r.pir), SGP32_OK);
    expect_error_pir(&r, SGP32_BPP_COMMAND_ID_LOAD_PROFILE_ELEMENTS,
                     SGP32_ERROR_REASON_SCP03T_SECURITY_ERROR);
    run_free(&r);

    /* Metadata larger than the eUICC keeps (a 5000-byte BF25). */
    run_init(&r);
    sgp32_buf_reset(&r.metadata);
    assert_int_equal(sgp32_asn1_write_header(&r.metadata, 0xBF25, 5000), SGP32_OK);
    uint8_t *filler;
    assert_int_equal(sgp32_buf_extend(&r.metadata, 5000, &filler), SGP32_OK);
    memset(filler, 0x00, 5000);
    p.metadata = sgp32_buf_bytes(&r.metadata);
    authenticate_and_prepare(e, &r, NIST, NULL, NULL);
    bind(&r, &p, SGP32_SMDP_ACCEPTED);
    load(e, r.bpp.data, r.bpp.len, &r.pir);
    expect_error_pir(&r, SGP32_BPP_COMMAND_ID_STORE_METADATA,
                     SGP32_ERROR_REASON_INSTALL_FAILED_DUE_TO_INSUFFICIENT_MEMORY_FOR_PROFILE);
    run_free(&r);

    /* Metadata that is not a StoreMetadataRequest; an unknown profile class; PPR1 without a profile
     * owner (no RAT rule can allow it). */
    const struct {
        int64_t profile_class;
        uint32_t pprs;
        bool garbage;
        int64_t reason;
    } md_cases[] = {
        {SGP32_PROFILE_CLASS_OPERATIONAL, 0, true, SGP32_ERROR_REASON_INCORRECT_INPUT_VALUES},
        {3, 0, false, SGP32_ERROR_REASON_UNSUPPORTED_PROFILE_CLASS},
        {SGP32_PROFILE_CLASS_OPERATIONAL, SGP32_PPR_IDS_PPR1, false, SGP32_ERROR_REASON_PPR_NOT_ALLOWED}};
    for (size_t c = 0; c < SGP32_ARRAY_LEN(md_cases); c++) {
        run_init(&r);
        make_metadata_owner(digits, md_cases[c].profile_class, md_cases[c].pprs, 0, md_cases[c].pprs == 0,
                            &r.metadata);
        if (md_cases[c].garbage)
            r.metadata.data[1] = 0x30; /* BF 30 ...: not BF25 */
        p.metadata = sgp32_buf_bytes(&r.metadata);
        authenticate_and_prepare(e, &r, NIST, NULL, NULL);
        bind(&r, &p, SGP32_SMDP_ACCEPTED);
        load(e, r.bpp.data, r.bpp.len, &r.pir);
        expect_error_pir(&r, SGP32_BPP_COMMAND_ID_STORE_METADATA, md_cases[c].reason);
        assert_false(profile_listed(e, digits, NULL));
        run_free(&r);
    }

    /* The metadata names another ICCID than the profile header: dataMismatch at the header. */
    run_init(&r);
    make_metadata("8900000000000000555", SGP32_PROFILE_CLASS_OPERATIONAL, 0, 0, &r.metadata);
    p.metadata = sgp32_buf_bytes(&r.metadata);
    authenticate_and_prepare(e, &r, NIST, NULL, NULL);
    bind(&r, &p, SGP32_SMDP_ACCEPTED);
    load(e, r.bpp.data, r.bpp.len, &r.pir);
    expect_error_pir(&r, SGP32_BPP_COMMAND_ID_LOAD_PROFILE_ELEMENTS,
                     SGP32_ERROR_REASON_INSTALL_FAILED_DUE_TO_DATA_MISMATCH);
    assert_false(profile_listed(e, "8900000000000000555", NULL));
    run_free(&r);

    /* A UPP without PE-End. */
    run_init(&r);
    make_metadata(digits, SGP32_PROFILE_CLASS_OPERATIONAL, 0, 0, &r.metadata);
    p.metadata = sgp32_buf_bytes(&r.metadata);
    p.upp = SGP32_BYTES(e->upp[1].data, e->upp[1].len - 9); /* AA 07 ... is the last PE */
    authenticate_and_prepare(e, &r, NIST, NULL, NULL);
    bind(&r, &p, SGP32_SMDP_ACCEPTED);
    load(e, r.bpp.data, r.bpp.len, &r.pir);
    expect_error_pir(&r, SGP32_BPP_COMMAND_ID_LOAD_PROFILE_ELEMENTS,
                     SGP32_ERROR_REASON_INSTALL_FAILED_DUE_TO_PE_PROCESSING_ERROR);
    run_free(&r);

    /* No download session (a reset ended it): no PIR can be addressed, the call is refused. */
    run_init(&r);
    authenticate_and_prepare(e, &r, NIST, NULL, NULL);
    make_metadata(digits, SGP32_PROFILE_CLASS_OPERATIONAL, 0, 0, &r.metadata);
    p.metadata = sgp32_buf_bytes(&r.metadata);
    p.upp = sgp32_buf_bytes(&e->upp[1]);
    bind(&r, &p, SGP32_SMDP_ACCEPTED);
    sgp32_euicc_reset(e->f.euicc);
    assert_true(es10(e, r.bpp.data, r.bpp.len, &r.pir) < 0);
    run_free(&r);
}

static void duplicate_iccid(void **state)
{
    env *e = *state;
    run r;
    run_init(&r);
    download(e, &r, NIST, &e->upp[0], NULL);
    assert_true(verify_pir(&r).success);
    run_free(&r);
    size_t profiles = e->f.euicc->state.profile_count;

    /* The same profile again: refused at StoreMetadata. */
    run_init(&r);
    download(e, &r, BRP, &e->upp[0], NULL);
    expect_error_pir(&r, SGP32_BPP_COMMAND_ID_STORE_METADATA,
                     SGP32_ERROR_REASON_INSTALL_FAILED_DUE_TO_ICCID_ALREADY_EXISTS_ON_EUICC);
    run_free(&r);

    /* Fresh metadata ICCID, but the header ICCID is installed: refused at the header. */
    run_init(&r);
    make_metadata("8900000000000000666", SGP32_PROFILE_CLASS_OPERATIONAL, 0, 0, &r.metadata);
    authenticate_and_prepare(e, &r, NIST, NULL, NULL);
    sgp32_smdp_bpp_params p = {.metadata = sgp32_buf_bytes(&r.metadata), .upp = sgp32_buf_bytes(&e->upp[0])};
    bind(&r, &p, SGP32_SMDP_ACCEPTED);
    load(e, r.bpp.data, r.bpp.len, &r.pir);
    expect_error_pir(&r, SGP32_BPP_COMMAND_ID_LOAD_PROFILE_ELEMENTS,
                     SGP32_ERROR_REASON_INSTALL_FAILED_DUE_TO_ICCID_ALREADY_EXISTS_ON_EUICC);
    assert_int_equal(e->f.euicc->state.profile_count, profiles);
    run_free(&r);
}

static void cancel_session(void **state)
{
    env *e = *state;
    run r;
    run_init(&r);
    authenticate_and_prepare(e, &r, BRP, NULL, NULL);
    uint8_t cancel[64] = {0xBF, 0x41, 0x00, 0x80, (uint8_t)r.smdp.transaction_id_len};
    memcpy(cancel + 5, r.smdp.transaction_id, r.smdp.transaction_id_len);
    size_t n = 5 + r.smdp.transaction_id_len;
    memcpy(cancel + n, "\x81\x01\x01", 3); /* postponed */
    n += 3;
    cancel[2] = (uint8_t)(n - 3);

    /* Another transactionId: invalidTransactionId, the session stays. */
    cancel[5] ^= 1;
    assert_int_equal(es10(e, cancel, n, &r.response), SGP32_OK);
    assert_int_equal(r.response.len, 6);
    assert_memory_equal(r.response.data, "\xBF\x41\x03\x81\x01\x05", 6);
    assert_non_null(e->f.euicc->download);
    cancel[5] ^= 1;

    assert_int_equal(es10(e, cancel, n, &r.response), SGP32_OK);
    int64_t reason = -1;
    sgp32_smdp_check check;
    assert_int_equal(
        sgp32_smdp_verify_cancel_session(&r.smdp, r.response.data, r.response.len, &reason, &check),
        SGP32_OK);
    assert_int_equal(check.verdict, SGP32_SMDP_ACCEPTED);
    assert_int_equal(reason, SGP32_CANCEL_SESSION_REASON_POSTPONED);
    assert_no_session(e);
    /* A tampered answer does not verify. */
    r.response.data[r.response.len - 5] ^= 1;
    r.smdp.phase = SGP32_SMDP_CLIENT_OK;
    assert_int_equal(
        sgp32_smdp_verify_cancel_session(&r.smdp, r.response.data, r.response.len, &reason, &check),
        SGP32_OK);
    assert_int_equal(check.verdict, SGP32_SMDP_SIGNATURE_INVALID);

    /* No session any more. */
    assert_int_equal(es10(e, cancel, n, &r.response), SGP32_OK);
    assert_memory_equal(r.response.data, "\xBF\x41\x03\x81\x01\x05", 6);
    run_free(&r);

    /* Cancel in the middle of loading: the session ends, nothing is installed. */
    char digits[21];
    assert_int_equal(sgp32_upp_iccid(e->upp[0].data, e->upp[0].len, digits), SGP32_OK);
    run_init(&r);
    make_metadata(digits, SGP32_PROFILE_CLASS_OPERATIONAL, 0, 0, &r.metadata);
    authenticate_and_prepare(e, &r, NIST, NULL, NULL);
    sgp32_smdp_bpp_params p = {.metadata = sgp32_buf_bytes(&r.metadata), .upp = sgp32_buf_bytes(&e->upp[0])};
    bind(&r, &p, SGP32_SMDP_ACCEPTED);
    for (size_t i = 0; i < 6; i++) {
        sgp32_bytes s = segment_at(&r.bpp, i);
        assert_int_equal(es10(e, s.data, s.len, &r.pir), SGP32_OK);
    }
    memcpy(cancel + 5, r.smdp.transaction_id, r.smdp.transaction_id_len);
    assert_int_equal(es10(e, cancel, n, &r.response), SGP32_OK);
    assert_int_equal(r.response.data[3], 0xA0);
    assert_no_session(e);
    assert_false(profile_listed(e, digits, NULL));
    run_free(&r);
}

static void reset_mid_download(void **state)
{
    env *e = *state;
    char digits[21];
    assert_int_equal(sgp32_upp_iccid(e->upp[0].data, e->upp[0].len, digits), SGP32_OK);
    run r;
    run_init(&r);
    make_metadata(digits, SGP32_PROFILE_CLASS_OPERATIONAL, 0, 0, &r.metadata);
    authenticate_and_prepare(e, &r, NIST, NULL, NULL);
    sgp32_smdp_bpp_params p = {.metadata = sgp32_buf_bytes(&r.metadata), .upp = sgp32_buf_bytes(&e->upp[0])};
    bind(&r, &p, SGP32_SMDP_ACCEPTED);
    for (size_t i = 0; i < 7; i++) {
        sgp32_bytes s = segment_at(&r.bpp, i);
        assert_int_equal(es10(e, s.data, s.len, &r.pir), SGP32_OK);
        assert_int_equal(r.pir.len, 0);
    }
    size_t pending = e->f.euicc->state.pending_count;
    sgp32_euicc_reset(e->f.euicc);
    assert_no_session(e);
    assert_false(profile_listed(e, digits, NULL));
    /* The rest goes nowhere. */
    sgp32_bytes s = segment_at(&r.bpp, 7);
    assert_int_equal(es10(e, s.data, s.len, &r.pir), SGP32_ERR_NOT_FOUND);
    /* An error PIR installFailedDueToInterruption waits for the SM-DP+. */
    assert_int_equal(e->f.euicc->state.pending_count, pending + 1);
    const euicc_pending *n = &e->f.euicc->state.pending[pending];
    assert_int_equal(n->kind, EUICC_PENDING_PIR);
    sgp32_buf_reset(&r.pir);
    assert_int_equal(sgp32_buf_append(&r.pir, n->der, n->der_len), SGP32_OK);
    expect_error_pir(&r, SGP32_BPP_COMMAND_ID_LOAD_PROFILE_ELEMENTS,
                     SGP32_ERROR_REASON_INSTALL_FAILED_DUE_TO_INTERRUPTION);
    run_free(&r);

    /* And a new download works. */
    run_init(&r);
    download(e, &r, BRP, &e->upp[0], NULL);
    assert_true(verify_pir(&r).success);
    run_free(&r);
}

static void power_loss_after_install(void **state)
{
    env *e = *state;
    run r;
    run_init(&r);
    download(e, &r, NIST, &e->upp[1], NULL);
    sgp32_smdp_pir pir = verify_pir(&r);
    assert_true(pir.success);
    assert_int_equal(euicc_fixture_reopen(&e->f), SGP32_OK);
    char digits[21];
    assert_int_equal(sgp32_upp_iccid(e->upp[1].data, e->upp[1].len, digits), SGP32_OK);
    assert_true(profile_listed(e, digits, NULL));
    const euicc_pending *n = pending_pir(e, pir.seq_number);
    assert_non_null(n);
    assert_int_equal(n->der_len, r.pir.len);
    assert_memory_equal(n->der, r.pir.data, r.pir.len);
    char name[40];
    snprintf(name, sizeof(name), "profile-%s", digits);
    sgp32_buf stored;
    sgp32_buf_init(&stored, 1 << 20);
    assert_int_equal(e->f.config.store.load(e->f.config.store.ctx, name, &stored), SGP32_OK);
    assert_int_equal(stored.len, e->upp[1].len);
    sgp32_buf_free(&stored);
    /* Power gone, session gone. */
    assert_no_session(e);
    assert_false(e->f.euicc->has_last_installed);
    run_free(&r);
}

/* A retry names the one-time key already used (bppEuiccOtpk): the eUICC keeps it while powered. */
static void one_time_key_reuse(void **state)
{
    env *e = *state;
    run first, second;
    run_init(&first);
    run_init(&second);
    authenticate_and_prepare(e, &first, NIST, NULL, NULL);
    sgp32_smdp_check check;
    sgp32_smdp_bpp_params p = {.metadata = SGP32_BYTES("", 0), .upp = SGP32_BYTES("", 0)};
    char digits[21];
    assert_int_equal(sgp32_upp_iccid(e->upp[0].data, e->upp[0].len, digits), SGP32_OK);
    make_metadata(digits, SGP32_PROFILE_CLASS_OPERATIONAL, 0, 0, &first.metadata);
    p.metadata = sgp32_buf_bytes(&first.metadata);
    p.upp = sgp32_buf_bytes(&e->upp[0]);
    bind(&first, &p, SGP32_SMDP_ACCEPTED);
    sgp32_ec_public_key used = first.smdp.euicc_otpk;

    /* The BPP never arrived; a new session asks for the same key. */
    authenticate_server(e, &second, &e->cred[NIST], false);
    assert_int_equal(authenticate_error(&second), 0);
    assert_int_equal(sgp32_smdp_authenticate_client(&second.smdp, second.response.data, second.response.len,
                                                    NULL, &used, &check),
                     SGP32_OK);
    assert_int_equal(check.verdict, SGP32_SMDP_ACCEPTED);
    sgp32_buf request;
    sgp32_buf_init(&request, 1 << 16);
    assert_int_equal(sgp32_smdp_write_prepare_download_request(&second.smdp, NULL, &request), SGP32_OK);
    assert_int_equal(es10(e, request.data, request.len, &second.response), SGP32_OK);
    bind(&second, &p, SGP32_SMDP_ACCEPTED);
    assert_memory_equal(second.smdp.euicc_otpk.point, used.point, SGP32_EC_POINT_LEN);
    load(e, second.bpp.data, second.bpp.len, &second.pir);
    assert_true(verify_pir(&second).success);

    /* After the installation (or a reset) the key is gone: a new one comes. */
    run third;
    run_init(&third);
    authenticate_server(e, &third, &e->cred[NIST], false);
    assert_int_equal(sgp32_smdp_authenticate_client(&third.smdp, third.response.data, third.response.len,
                                                    NULL, &used, &check),
                     SGP32_OK);
    sgp32_buf_reset(&request);
    assert_int_equal(sgp32_smdp_write_prepare_download_request(&third.smdp, NULL, &request), SGP32_OK);
    assert_int_equal(es10(e, request.data, request.len, &third.response), SGP32_OK);
    bind(&third, &p, SGP32_SMDP_ACCEPTED);
    assert_memory_not_equal(third.smdp.euicc_otpk.point, used.point, SGP32_EC_POINT_LEN);
    sgp32_buf_free(&request);
    run_free(&first);
    run_free(&second);
    run_free(&third);
}

/* ImmediateEnable (another ES10 function) enables what the last download installed. */
static void immediate_enable_after_download(void **state)
{
    env *e = *state;
    static const uint8_t configure[] = {0xBF, 0x59, 0x02, 0x80, 0x00};    /* immediateEnableFlag */
    static const uint8_t enable[] = {0xBF, 0x5A, 0x03, 0x80, 0x01, 0x00}; /* refreshFlag FALSE */
    sgp32_buf out;
    sgp32_buf_init(&out, 256);
    assert_int_equal(es10(e, configure, sizeof(configure), &out), SGP32_OK);
    assert_memory_equal(out.data, "\xBF\x59\x03\x80\x01\x00", 6);
    run r;
    run_init(&r);
    download(e, &r, NIST, &e->upp[0], NULL);
    assert_true(verify_pir(&r).success);
    assert_int_equal(es10(e, enable, sizeof(enable), &out), SGP32_OK);
    assert_memory_equal(out.data, "\xBF\x5A\x03\x80\x01\x00", 6);
    char digits[21];
    assert_int_equal(sgp32_upp_iccid(e->upp[0].data, e->upp[0].len, digits), SGP32_OK);
    bool enabled = false;
    assert_true(profile_listed(e, digits, &enabled));
    assert_true(enabled);
    sgp32_buf_free(&out);
    run_free(&r);
}

/* The same download through the APDU layer, as an IPAd drives a card. */
static void download_over_apdus(void **state)
{
    env *e = *state;
    e->via_apdu = true;
    run r;
    run_init(&r);
    download(e, &r, BRP, &e->upp[1], NULL);
    assert_true(verify_pir(&r).success);
    char digits[21];
    assert_int_equal(sgp32_upp_iccid(e->upp[1].data, e->upp[1].len, digits), SGP32_OK);
    assert_true(profile_listed(e, digits, NULL));
    run_free(&r);
    /* A segment with no session behind it: 6A88 (not an ES10 function). */
    static const uint8_t stray[] = {0x86, 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    sgp32_buf out;
    sgp32_buf_init(&out, 256);
    assert_int_equal(es10(e, stray, sizeof(stray), &out), SGP32_ERR_NOT_FOUND);
    sgp32_buf_free(&out);
}

/* Every allocation of AuthenticateServer, PrepareDownload and the BPP load failing in turn: the
 * eUICC answers an error (or an error PIR), never crashes or leaks (ASan), leaves no half-installed
 * profile, and ends the session when it answered. */
static void allocation_failures(void **state)
{
    env *e = *state;
    char digits[21];
    assert_int_equal(sgp32_upp_iccid(e->upp[0].data, e->upp[0].len, digits), SGP32_OK);
    uint8_t iccid[10];
    assert_int_equal(euicc_iccid_from_text(digits, iccid), SGP32_OK);
    size_t exercised = 0;
    for (int phase = 0; phase < 3; phase++) {
        for (size_t k = 1;; k++) {
            euicc_fixture_close(&e->f);
            assert_int_equal(euicc_fixture_open(&e->f), SGP32_OK);
            run r;
            run_init(&r);
            make_metadata(digits, SGP32_PROFILE_CLASS_OPERATIONAL, 0, 0, &r.metadata);
            uint8_t challenge[16];
            get_challenge(e, challenge);
            assert_int_equal(
                sgp32_smdp_session_init(&r.smdp, &e->cred[NIST], &e->cis, SMDP_ADDRESS, (int64_t)time(NULL)),
                SGP32_OK);
            assert_int_equal(sgp32_smdp_initiate_authentication(&r.smdp, challenge), SGP32_OK);
            sgp32_buf request;
            sgp32_buf_init(&request, 1 << 16);
            assert_int_equal(sgp32_smdp_write_authenticate_server_request(
                                 &r.smdp, SGP32_BYTES(ctx_params1, sizeof(ctx_params1)), &request),
                             SGP32_OK);
            sgp32_smdp_check check;
            if (phase >= 1) {
                assert_int_equal(es10(e, request.data, request.len, &r.response), SGP32_OK);
                assert_int_equal(sgp32_smdp_authenticate_client(&r.smdp, r.response.data, r.response.len,
                                                                NULL, NULL, &check),
                                 SGP32_OK);
                sgp32_buf_reset(&request);
                assert_int_equal(sgp32_smdp_write_prepare_download_request(&r.smdp, NULL, &request),
                                 SGP32_OK);
            }
            if (phase >= 2) {
                assert_int_equal(es10(e, request.data, request.len, &r.response), SGP32_OK);
                sgp32_smdp_bpp_params p = {.metadata = sgp32_buf_bytes(&r.metadata),
                                           .upp = sgp32_buf_bytes(&e->upp[0])};
                bind(&r, &p, SGP32_SMDP_ACCEPTED);
            }
            uint8_t storage[8192];
            sgp32_buf answer;
            sgp32_buf_init_fixed(&answer, storage, sizeof(storage));
            int rc = SGP32_OK;
            test_alloc_begin(k);
            if (phase < 2) {
                rc = sgp32_euicc_es10(e->f.euicc, request.data, request.len, &answer);
            } else {
                sgp32_bpp_segmenter it;
                sgp32_bytes segment;
                assert_int_equal(sgp32_bpp_segmenter_init(&it, r.bpp.data, r.bpp.len), SGP32_OK);
                while (!rc && !answer.len && sgp32_bpp_segmenter_next(&it, &segment) == SGP32_OK)
                    rc = sgp32_euicc_es10(e->f.euicc, segment.data, segment.len, &answer);
            }
            size_t used = test_alloc_count();
            test_alloc_end();
            sgp32_buf_free(&request);
            bool injected = k <= used;
            if (rc == SGP32_OK) {
                assert_true(answer.len > 0);
                sgp32_buf_reset(&r.response);
                assert_int_equal(sgp32_buf_append(&r.response, answer.data, answer.len), SGP32_OK);
            }
            if (phase == 0 && rc == SGP32_OK && authenticate_error(&r) != 0)
                assert_null(e->f.euicc->download);
            if (phase == 1 && rc == SGP32_OK && r.response.data[3] == 0xA1)
                assert_null(e->f.euicc->download);
            if (phase == 2) {
                assert_null(e->f.euicc->download); /* an answer or an error: the load is over */
                bool installed = false;
                if (rc == SGP32_OK) {
                    sgp32_buf_reset(&r.pir);
                    assert_int_equal(sgp32_buf_append(&r.pir, answer.data, answer.len), SGP32_OK);
                    installed = verify_pir(&r).success;
                }
                assert_true(installed == (euicc_find_profile_by_iccid(e->f.euicc, iccid) != NULL));
                if (!injected)
                    assert_true(installed);
            }
            run_free(&r);
            if (!injected) {
                assert_int_equal(rc, SGP32_OK);
                break;
            }
            exercised++;
        }
    }
    assert_true(exercised >= 10);
}

/* The SM-DP+ builder's own refusals. */
static void smdp_checks(void **state)
{
    env *e = *state;
    run r;
    run_init(&r);
    authenticate_server(e, &r, &e->cred[NIST], false);
    sgp32_smdp_check check;
    /* A tampered euiccSignature1. */
    sgp32_buf copy;
    sgp32_buf_init(&copy, 1 << 16);
    assert_int_equal(sgp32_buf_append(&copy, r.response.data, r.response.len), SGP32_OK);
    sgp32_asn1_tlv outer, ok, signed1, sig;
    assert_int_equal(sgp32_asn1_read_tlv(copy.data, copy.len, &outer, NULL), SGP32_OK);
    assert_int_equal(sgp32_asn1_read_tlv(outer.value.data, outer.value.len, &ok, NULL), SGP32_OK);
    assert_int_equal(sgp32_asn1_read_tlv(ok.value.data, ok.value.len, &signed1, NULL), SGP32_OK);
    assert_int_equal(sgp32_asn1_read_tlv(signed1.whole.data + signed1.whole.len,
                                         ok.value.len - signed1.whole.len, &sig, NULL),
                     SGP32_OK);
    ((uint8_t *)sig.value.data)[5] ^= 1;
    assert_int_equal(sgp32_smdp_authenticate_client(&r.smdp, copy.data, copy.len, NULL, NULL, &check),
                     SGP32_OK);
    assert_int_equal(check.verdict, SGP32_SMDP_SIGNATURE_INVALID);
    /* Garbage. */
    assert_int_equal(sgp32_smdp_authenticate_client(&r.smdp, copy.data, 10, NULL, NULL, &check), SGP32_OK);
    assert_int_equal(check.verdict, SGP32_SMDP_MALFORMED);
    /* The real one, then out of order. */
    assert_int_equal(
        sgp32_smdp_authenticate_client(&r.smdp, r.response.data, r.response.len, NULL, NULL, &check),
        SGP32_OK);
    assert_int_equal(check.verdict, SGP32_SMDP_ACCEPTED);
    assert_int_equal(
        sgp32_smdp_authenticate_client(&r.smdp, r.response.data, r.response.len, NULL, NULL, &check),
        SGP32_ERR_STATE);
    sgp32_buf_free(&copy);
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(downloads_on_both_curves, setup, teardown),
        cmocka_unit_test_setup_teardown(confirmation_code, setup, teardown),
        cmocka_unit_test_setup_teardown(every_ts48_profile_installs_and_is_listed, setup, teardown),
        cmocka_unit_test_setup_teardown(ppk_small_segments_and_one_call, setup, teardown),
        cmocka_unit_test_setup_teardown(tampered_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(initialise_secure_channel_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(authenticate_server_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(prepare_download_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(load_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(duplicate_iccid, setup, teardown),
        cmocka_unit_test_setup_teardown(cancel_session, setup, teardown),
        cmocka_unit_test_setup_teardown(reset_mid_download, setup, teardown),
        cmocka_unit_test_setup_teardown(power_loss_after_install, setup, teardown),
        cmocka_unit_test_setup_teardown(one_time_key_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(immediate_enable_after_download, setup, teardown),
        cmocka_unit_test_setup_teardown(download_over_apdus, setup, teardown),
        cmocka_unit_test_setup_teardown(allocation_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(smdp_checks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

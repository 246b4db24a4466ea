/* Test host for the IPA core: see ipa_host.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "../../lib/euicc/euicc_internal.h"
#include "ipa_host.h"
#include "sgp32/profile_package.h"

/* ------------------------------------------------------------------ small helpers */

static sgp32_bytes copy(host *h, const void *data, size_t len)
{
    uint8_t *p = sgp32_arena_alloc(&h->arena, len ? len : 1);
    assert_non_null(p);
    memcpy(p, data, len);
    return (sgp32_bytes){p, len};
}

sgp32_bytes host_text(host *h, const char *s)
{
    return copy(h, s, strlen(s));
}

sgp32_bytes host_iccid(host *h, const char *digits)
{
    uint8_t b[10];
    assert_int_equal(euicc_iccid_from_text(digits, b), SGP32_OK);
    return copy(h, b, 10);
}

static void note(host *h, const char *fmt, ...)
{
    va_list ap;
    if (h->transcript_len && h->transcript_len < sizeof(h->transcript) - 1)
        h->transcript[h->transcript_len++] = ';';
    va_start(ap, fmt);
    int n = vsnprintf(h->transcript + h->transcript_len, sizeof(h->transcript) - h->transcript_len, fmt, ap);
    va_end(ap);
    if (n > 0)
        h->transcript_len += (size_t)n;
    if (h->transcript_len >= sizeof(h->transcript))
        h->transcript_len = sizeof(h->transcript) - 1;
}

void host_clear_transcript(host *h)
{
    h->transcript_len = 0;
    h->transcript[0] = 0;
}

bool host_transcript_has(const host *h, const char *sequence)
{
    size_t n = strlen(sequence);
    const char *p = h->transcript;
    while ((p = strstr(p, sequence)) != NULL) {
        bool start = p == h->transcript || p[-1] == ';';
        bool end = p[n] == 0 || p[n] == ';';
        if (start && end)
            return true;
        p++;
    }
    return false;
}

static void load_key(const char *path, sgp32_ec_private_key *key)
{
    sgp32_buf pem;
    assert_int_equal(test_read_file(path, &pem), SGP32_OK);
    assert_int_equal(sgp32_ec_private_from_pem((const char *)pem.data, pem.len, key), SGP32_OK);
    sgp32_buf_free(&pem);
}

/* ------------------------------------------------------------------ set-up */

static void add_profile(host *h, const char *digits)
{
    euicc_state *s = &h->f.euicc->state;
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
    strcpy(p->notification_config[0].address, HOST_SMDP);
    p->has_fallback_allowed = true;
    p->fallback_allowed = true;
    assert_int_equal(euicc_state_save(h->f.euicc), SGP32_OK);
}

static void add_initial_eim(host *h)
{
    sgp32_eim_configuration_data c;
    memset(&c, 0, sizeof(c));
    c.eim_id = host_text(h, HOST_EIM_ID);
    c.has_eim_fqdn = true;
    c.eim_fqdn = host_text(h, HOST_EIM_ID);
    c.has_eim_id_type = true;
    c.eim_id_type = SGP32_EIM_ID_TYPE_EIM_ID_TYPE_FQDN;
    c.has_counter_value = true;
    c.has_association_token = true;
    c.association_token = -1;
    sgp32_buf spki;
    sgp32_buf_init(&spki, 256);
    assert_int_equal(sgp32_ec_public_to_spki(&h->eim_pub, &spki), SGP32_OK);
    c.has_eim_public_key_data = true;
    c.eim_public_key_data.choice = SGP32_EIM_CONFIGURATION_DATA_EIM_PUBLIC_KEY_DATA_EIM_PUBLIC_KEY;
    c.eim_public_key_data.u.eim_public_key = copy(h, spki.data, spki.len);
    sgp32_buf_free(&spki);
    sgp32_add_initial_eim_request req;
    memset(&req, 0, sizeof(req));
    req.eim_configuration_data_list.items = &c;
    req.eim_configuration_data_list.count = 1;
    sgp32_buf b, resp;
    sgp32_buf_init(&b, 4096);
    sgp32_buf_init(&resp, 4096);
    assert_int_equal(sgp32_asn1_encode(&sgp32_type_add_initial_eim_request, &req, &b), SGP32_OK);
    assert_int_equal(sgp32_euicc_es10(h->f.euicc, b.data, b.len, &resp), SGP32_OK);
    sgp32_add_initial_eim_response *r = sgp32_arena_alloc(&h->arena, sizeof(*r));
    sgp32_bytes kept = copy(h, resp.data, resp.len);
    assert_int_equal(
        sgp32_asn1_decode(&sgp32_type_add_initial_eim_response, kept.data, kept.len, &h->arena, r), SGP32_OK);
    assert_int_equal(r->choice, SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_OK);
    h->has_token = r->u.add_initial_eim_ok.items[0].choice ==
                   SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_OK_ITEM_ASSOCIATION_TOKEN;
    h->token = h->has_token ? r->u.add_initial_eim_ok.items[0].u.association_token : 0;
    sgp32_buf_free(&b);
    sgp32_buf_free(&resp);
}

void host_open(host *h, uint32_t features)
{
    memset(h, 0, sizeof(*h));
    sgp32_arena_init(&h->arena, 32 << 20);
    assert_int_equal(euicc_fixture_open(&h->f), SGP32_OK);
    /* the bootstrap profile reports enable/disable/delete too */
    euicc_profile *a = &h->f.euicc->state.profiles[0];
    a->notification_config_count = 1;
    a->notification_config[0].events = SGP32_NOTIFICATION_EVENT_NOTIFICATION_ENABLE |
                                       SGP32_NOTIFICATION_EVENT_NOTIFICATION_DISABLE |
                                       SGP32_NOTIFICATION_EVENT_NOTIFICATION_DELETE;
    strcpy(a->notification_config[0].address, HOST_SMDP);
    add_profile(h, HOST_ICCID_B);
    add_profile(h, HOST_ICCID_C);
    assert_int_equal(sgp32_ec_generate(SGP32_CURVE_NIST_P256, &h->eim_key, &h->eim_pub), SGP32_OK);
    add_initial_eim(h);
    sgp32_buf der;
    assert_int_equal(test_read_file(SGP32_SPEC_DIR "/sgp26/eUICC/CERT_EUICC_ECDSA_NIST.der", &der), SGP32_OK);
    sgp32_certificate *cert = calloc(1, sizeof(*cert));
    assert_int_equal(sgp32_cert_parse(der.data, der.len, cert), SGP32_OK);
    h->euicc_pub = cert->public_key;
    free(cert);
    sgp32_buf_free(&der);

    /* SM-DP+ (NIST) */
    sgp32_ci_set_init(&h->cis);
    assert_int_equal(
        test_read_file(SGP32_SPEC_DIR "/sgp26/CertificateIssuer/CERT_CI_ECDSA_NIST.der", &h->files[0]),
        SGP32_OK);
    assert_int_equal(sgp32_ci_set_add(&h->cis, h->files[0].data, h->files[0].len), SGP32_OK);
    assert_int_equal(
        test_read_file(SGP32_SPEC_DIR "/sgp26/DPauth/CERT_S_SM_DPauth_ECDSA_NIST.der", &h->files[1]),
        SGP32_OK);
    assert_int_equal(test_read_file(SGP32_SPEC_DIR "/sgp26/DPpb/CERT_S_SM_DPpb_ECDSA_NIST.der", &h->files[2]),
                     SGP32_OK);
    h->cred.dpauth_certificate = sgp32_buf_bytes(&h->files[1]);
    h->cred.dppb_certificate = sgp32_buf_bytes(&h->files[2]);
    load_key(SGP32_SPEC_DIR "/sgp26/DPauth/SK_S_SM_DPauth_ECDSA_NIST.pem", &h->cred.dpauth_key);
    load_key(SGP32_SPEC_DIR "/sgp26/DPpb/SK_S_SM_DPpb_ECDSA_NIST.pem", &h->cred.dppb_key);
    sgp32_buf_init(&h->upp, 1 << 20);
    sgp32_buf_init(&h->metadata, 1 << 16);
    sgp32_buf_init(&h->bpp, 1 << 20);
    sgp32_buf_init(&h->response, 1 << 20);
    sgp32_buf_init(&h->blob, 4096);
    sgp32_buf_init(&h->apdu_rsp, 4096);
    sgp32_buf_init(&h->push_response, 1 << 16);
    for (size_t i = 0; i < 8; i++)
        sgp32_buf_init(&h->queue[i], 1 << 16);
    for (size_t i = 0; i < 9; i++)
        sgp32_buf_init(&h->sent[i], 1 << 20);
    sgp32_buf_init(&h->last_package, 1 << 16);
    for (size_t i = 0; i < HOST_MAX_RESULTS; i++) {
        sgp32_buf_init(&h->results[i], 1 << 16);
        sgp32_buf_init(&h->notifications[i], 1 << 16);
    }
    h->epr_verified_all = true;
    h->auto_timer = true;
    h->now = 1000;
    h->config.ipa_features = features;
    h->config.backoff_base_s = 10;
    h->config.backoff_max_s = 100;
    h->config.rollback_after = 2;
    host_new_ipa(h);
}

void host_close(host *h)
{
    sgp32_ipa_free(h->ipa);
    euicc_fixture_close(&h->f);
    sgp32_ci_set_free(&h->cis);
    for (size_t i = 0; i < 3; i++)
        sgp32_buf_free(&h->files[i]);
    sgp32_buf *bufs[] = {&h->upp,  &h->metadata, &h->bpp,          &h->response,
                         &h->blob, &h->apdu_rsp, &h->push_response};
    for (size_t i = 0; i < SGP32_ARRAY_LEN(bufs); i++)
        sgp32_buf_free(bufs[i]);
    for (size_t i = 0; i < 8; i++)
        sgp32_buf_free(&h->queue[i]);
    for (size_t i = 0; i < 9; i++)
        sgp32_buf_free(&h->sent[i]);
    sgp32_buf_free(&h->last_package);
    for (size_t i = 0; i < HOST_MAX_RESULTS; i++) {
        sgp32_buf_free(&h->results[i]);
        sgp32_buf_free(&h->notifications[i]);
    }
    sgp32_smdp_session_clear(&h->smdp);
    sgp32_arena_free(&h->arena);
}

void host_new_ipa(host *h)
{
    assert_int_equal(sgp32_ipa_init(&h->ipa, &h->config), SGP32_OK);
    if (h->has_blob)
        assert_int_equal(sgp32_ipa_load_state(h->ipa, h->blob.data, h->blob.len), SGP32_OK);
}

void host_power_cycle(host *h)
{
    sgp32_ipa_free(h->ipa);
    h->ipa = NULL;
    assert_int_equal(euicc_fixture_reopen(&h->f), SGP32_OK);
    host_new_ipa(h);
    assert_int_equal(sgp32_ipa_start_boot(h->ipa), SGP32_OK);
}

static const char *smdp_address(const host *h)
{
    return h->smdp_address ? h->smdp_address : HOST_SMDP;
}

void host_load_profile(host *h, const char *path)
{
    sgp32_buf_free(&h->upp);
    assert_int_equal(test_read_file(path, &h->upp), SGP32_OK);
    char digits[21];
    assert_int_equal(sgp32_upp_iccid(h->upp.data, h->upp.len, digits), SGP32_OK);
    uint8_t iccid[10];
    assert_int_equal(euicc_iccid_from_text(digits, iccid), SGP32_OK);
    sgp32_notification_configuration_information notify[1] = {
        {{0},
         SGP32_NOTIFICATION_EVENT_NOTIFICATION_INSTALL | SGP32_NOTIFICATION_EVENT_NOTIFICATION_ENABLE,
         SGP32_BYTES(smdp_address(h), strlen(smdp_address(h)))},
    };
    sgp32_sgp32_store_metadata_request md;
    memset(&md, 0, sizeof(md));
    md.iccid = SGP32_BYTES(iccid, 10);
    md.service_provider_name = SGP32_BYTES("GSMA Test", 9);
    md.profile_name = SGP32_BYTES("TS.48 test profile", 18);
    md.profile_class = SGP32_PROFILE_CLASS_OPERATIONAL;
    md.has_notification_configuration_info = true;
    md.notification_configuration_info.items = notify;
    md.notification_configuration_info.count = 1;
    sgp32_buf_reset(&h->metadata);
    assert_int_equal(sgp32_asn1_encode(&sgp32_type_sgp32_store_metadata_request, &md, &h->metadata),
                     SGP32_OK);
}

/* ------------------------------------------------------------------ eIM packages */

void host_queue(host *h, const uint8_t *der, size_t len)
{
    assert_true(h->queue_count < 8);
    sgp32_buf *q = &h->queue[(h->queue_head + h->queue_count) % 8];
    sgp32_buf_reset(q);
    assert_int_equal(sgp32_buf_append(q, der, len), SGP32_OK);
    h->queue_count++;
}

static void queue_signed(host *h, sgp32_euicc_package_signed *s)
{
    static const uint8_t txid[4] = {0xCA, 0xFE, 0x00, 0x01};
    s->eim_id = host_text(h, HOST_EIM_ID);
    s->eid_value = copy(h, sgp32_euicc_eid(h->f.euicc), 16);
    s->counter_value = ++h->counter;
    s->has_eim_transaction_id = true;
    s->eim_transaction_id = SGP32_BYTES(txid, sizeof(txid));
    sgp32_buf b;
    sgp32_buf_init(&b, 1 << 16);
    assert_int_equal(sgp32_eim_package_sign(s, &h->eim_key, h->has_token, h->token, &b), SGP32_OK);
    host_queue(h, b.data, b.len);
    sgp32_buf_reset(&h->last_package);
    assert_int_equal(sgp32_buf_append(&h->last_package, b.data, b.len), SGP32_OK);
    sgp32_buf_free(&b);
}

void host_queue_psmos(host *h, sgp32_psmo *psmos, size_t count)
{
    sgp32_euicc_package_signed s;
    memset(&s, 0, sizeof(s));
    s.euicc_package.choice = SGP32_EUICC_PACKAGE_PSMO_LIST;
    s.euicc_package.u.psmo_list.items = psmos;
    s.euicc_package.u.psmo_list.count = count;
    queue_signed(h, &s);
}

void host_queue_ecos(host *h, sgp32_eco *ecos, size_t count)
{
    sgp32_euicc_package_signed s;
    memset(&s, 0, sizeof(s));
    s.euicc_package.choice = SGP32_EUICC_PACKAGE_ECO_LIST;
    s.euicc_package.u.eco_list.items = ecos;
    s.euicc_package.u.eco_list.count = count;
    queue_signed(h, &s);
}

const char *host_enabled(host *h)
{
    static char digits[21];
    if (sgp32_euicc_enabled_iccid(h->f.euicc, digits) != SGP32_OK)
        digits[0] = 0;
    return digits;
}

size_t host_card_pending(host *h)
{
    return h->f.euicc->state.pending_count;
}

/* ------------------------------------------------------------------ the eIM */

/* Every seqNumber in a result: BF2F {80 seq} of notifications and PIRs, 83 of a signed EPR. */
static void collect_seqs(host *h, sgp32_bytes contents, int64_t *seqs, size_t *count)
{
    sgp32_asn1_reader r;
    sgp32_asn1_tlv t, inner, data, seq;
    sgp32_asn1_reader_init(&r, contents, 1);
    while (sgp32_asn1_reader_next(&r, &t) == SGP32_OK) {
        int64_t v;
        if (t.tag == 0xBF2F) {
            sgp32_asn1_reader rr;
            sgp32_asn1_reader_init(&rr, t.value, 2);
            if (sgp32_asn1_reader_next(&rr, &seq) == SGP32_OK && seq.tag == 0x80 &&
                sgp32_asn1_parse_integer(seq.value, &v) == SGP32_OK && *count < 32)
                seqs[(*count)++] = v;
        } else if (t.tag == 0xBF51) {
            sgp32_asn1_reader rr;
            sgp32_asn1_reader_init(&rr, t.value, 2);
            if (sgp32_asn1_reader_next(&rr, &inner) == SGP32_OK && inner.tag == 0xA0) {
                sgp32_asn1_reader r3;
                sgp32_asn1_reader_init(&r3, inner.value, 3);
                if (sgp32_asn1_reader_next(&r3, &data) == SGP32_OK && data.tag == 0x30) {
                    sgp32_asn1_reader r4;
                    sgp32_asn1_reader_init(&r4, data.value, 4);
                    while (sgp32_asn1_reader_next(&r4, &seq) == SGP32_OK)
                        if (seq.tag == 0x83 && sgp32_asn1_parse_integer(seq.value, &v) == SGP32_OK &&
                            *count < 32)
                            seqs[(*count)++] = v;
                }
            }
            /* verify it as the eIM does */
            sgp32_euicc_package_result *res = sgp32_arena_alloc(&h->arena, sizeof(*res));
            sgp32_bytes kept = copy(h, t.whole.data, t.whole.len);
            if (sgp32_eim_package_result_verify(kept.data, kept.len, &h->euicc_pub, h->has_token, h->token,
                                                &h->arena, res) != SGP32_OK)
                h->epr_verified_all = false;
            else
                h->verified_eprs++;
        } else if (t.tag == 0xBF37) {
            sgp32_smdp_pir pir;
            sgp32_smdp_check check;
            if (h->smdp.phase == SGP32_SMDP_BPP_BOUND &&
                sgp32_smdp_verify_pir(&h->smdp, t.whole.data, t.whole.len, &pir, &check) == SGP32_OK &&
                check.verdict == SGP32_SMDP_ACCEPTED) {
                h->pir_verified = true;
                h->pir_success = pir.success;
            }
            if (sgp32_asn1_reader_enter(&r, &t, &r) == SGP32_OK)
                collect_seqs(h, t.value, seqs, count);
            return;
        } else if (t.constructed) {
            collect_seqs(h, t.value, seqs, count);
        }
    }
}

static void write_wrapped(sgp32_buf *out, bool es9, uint32_t tag, const sgp32_buf *contents)
{
    size_t wrap = sgp32_asn1_begin(out);
    size_t mark = sgp32_asn1_begin(out);
    assert_int_equal(sgp32_buf_append(out, contents->data, contents->len), SGP32_OK);
    assert_int_equal(sgp32_asn1_end(out, tag, mark), SGP32_OK);
    if (es9)
        assert_int_equal(sgp32_asn1_end(out, 0xA2, wrap), SGP32_OK);
}

/* The SM-DP+ side of InitiateAuthentication / AuthenticateClient / GetBoundProfilePackage,
 * for both the eIM relay (ESipa) and the direct path (ES9+). */
static void smdp_answer(host *h, bool es9, const sgp32_asn1_tlv *msg, sgp32_buf *out)
{
    sgp32_buf tmp;
    sgp32_buf_init(&tmp, 1 << 20);
    sgp32_asn1_tlv f;
    if (msg->tag == 0xBF39) {
        assert_int_equal(sgp32_asn1_expect(msg->value.data, 18, 0x81, &f), SGP32_OK);
        sgp32_smdp_session_clear(&h->smdp);
        assert_int_equal(
            sgp32_smdp_session_init(&h->smdp, &h->cred, &h->cis, smdp_address(h), (int64_t)time(NULL)),
            SGP32_OK);
        assert_int_equal(sgp32_smdp_initiate_authentication(&h->smdp, f.value.data), SGP32_OK);
        size_t ok = sgp32_asn1_begin(&tmp);
        assert_int_equal(sgp32_asn1_write_tlv(&tmp, 0x80, h->smdp.transaction_id, h->smdp.transaction_id_len),
                         SGP32_OK);
        assert_int_equal(sgp32_smdp_write_server_auth(&h->smdp, &tmp), SGP32_OK);
        assert_int_equal(sgp32_asn1_end(&tmp, 0xA0, ok), SGP32_OK);
    } else if (msg->tag == 0xBF3B) {
        sgp32_asn1_reader r;
        sgp32_asn1_tlv txid, resp;
        sgp32_asn1_reader_init(&r, msg->value, 1);
        assert_int_equal(sgp32_asn1_reader_next(&r, &txid), SGP32_OK);
        assert_int_equal(sgp32_asn1_reader_next(&r, &resp), SGP32_OK);
        assert_int_equal(resp.tag, 0xBF38);
        sgp32_smdp_check check;
        assert_int_equal(
            sgp32_smdp_authenticate_client(&h->smdp, resp.whole.data, resp.whole.len, NULL, NULL, &check),
            SGP32_OK);
        if (check.verdict != SGP32_SMDP_ACCEPTED) {
            assert_int_equal(sgp32_asn1_write_integer(&tmp, es9 ? 0x81 : 0x82, 127), SGP32_OK);
        } else {
            sgp32_buf pd;
            sgp32_buf_init(&pd, 1 << 16);
            assert_int_equal(sgp32_smdp_write_prepare_download_request(&h->smdp, NULL, &pd), SGP32_OK);
            sgp32_asn1_tlv bf21;
            assert_int_equal(sgp32_asn1_expect(pd.data, pd.len, 0xBF21, &bf21), SGP32_OK);
            size_t ok = sgp32_asn1_begin(&tmp);
            assert_int_equal(
                sgp32_asn1_write_tlv(&tmp, 0x80, h->smdp.transaction_id, h->smdp.transaction_id_len),
                SGP32_OK);
            if (es9)
                assert_int_equal(sgp32_buf_append(&tmp, h->metadata.data, h->metadata.len), SGP32_OK);
            assert_int_equal(sgp32_buf_append(&tmp, bf21.value.data, bf21.value.len), SGP32_OK);
            assert_int_equal(sgp32_asn1_end(&tmp, 0xA0, ok), SGP32_OK);
            sgp32_buf_free(&pd);
        }
    } else if (msg->tag == 0xBF3A) {
        sgp32_asn1_reader r;
        sgp32_asn1_tlv txid, resp;
        sgp32_asn1_reader_init(&r, msg->value, 1);
        assert_int_equal(sgp32_asn1_reader_next(&r, &txid), SGP32_OK);
        assert_int_equal(sgp32_asn1_reader_next(&r, &resp), SGP32_OK);
        assert_int_equal(resp.tag, 0xBF21);
        sgp32_smdp_bpp_params p = {.metadata = sgp32_buf_bytes(&h->metadata),
                                   .upp = sgp32_buf_bytes(&h->upp)};
        sgp32_smdp_check check;
        sgp32_buf_reset(&h->bpp);
        assert_int_equal(sgp32_smdp_get_bound_profile_package(&h->smdp, resp.whole.data, resp.whole.len, &p,
                                                              &h->bpp, &check),
                         SGP32_OK);
        if (check.verdict != SGP32_SMDP_ACCEPTED || h->smdp_refuse_bpp) {
            assert_int_equal(sgp32_asn1_write_integer(&tmp, 0x81, 127), SGP32_OK);
        } else {
            size_t ok = sgp32_asn1_begin(&tmp);
            assert_int_equal(
                sgp32_asn1_write_tlv(&tmp, 0x80, h->smdp.transaction_id, h->smdp.transaction_id_len),
                SGP32_OK);
            assert_int_equal(sgp32_buf_append(&tmp, h->bpp.data, h->bpp.len), SGP32_OK);
            assert_int_equal(sgp32_asn1_end(&tmp, 0xA0, ok), SGP32_OK);
        }
    } else if (msg->tag == 0xBF41) {
        h->cancel_count++;
        size_t ok = sgp32_asn1_begin(&tmp);
        assert_int_equal(sgp32_asn1_end(&tmp, 0xA0, ok), SGP32_OK);
    } else {
        fail_msg("unexpected server message %X", (unsigned)msg->tag);
    }
    write_wrapped(out, es9, msg->tag, &tmp);
    sgp32_buf_free(&tmp);
}

void host_eim_answer(host *h, const sgp32_ipa_action *a, sgp32_buf *out)
{
    sgp32_asn1_tlv msg;
    bool es9 = a->type == SGP32_IPA_ACT_SEND_ES9PLUS;
    sgp32_arena arena;
    sgp32_arena_init(&arena, 1 << 20);
    if (es9) {
        sgp32_asn1_tlv wrap;
        void *value = sgp32_arena_alloc(&arena, sgp32_type_remote_profile_provisioning_request.size);
        assert_int_equal(sgp32_asn1_decode(&sgp32_type_remote_profile_provisioning_request, a->data.data,
                                           a->data.len, &arena, value),
                         SGP32_OK);
        assert_int_equal(sgp32_asn1_expect(a->data.data, a->data.len, 0xA2, &wrap), SGP32_OK);
        assert_int_equal(sgp32_asn1_expect(wrap.value.data, wrap.value.len, 0, &msg) == SGP32_OK ||
                             sgp32_asn1_read_tlv(wrap.value.data, wrap.value.len, &msg, NULL) == SGP32_OK,
                         true);
        h->es9_count++;
        assert_string_equal(a->address, smdp_address(h));
    } else {
        /* every message the IPA sends must decode as EsipaMessageFromIpaToEim */
        void *value = sgp32_arena_alloc(&arena, sgp32_type_esipa_message_from_ipa_to_eim.size);
        sgp32_asn1_diag diag;
        int rc = sgp32_asn1_decode_diag(&sgp32_type_esipa_message_from_ipa_to_eim, a->data.data, a->data.len,
                                        &arena, value, &diag);
        if (rc)
            fail_msg("ESipa %s does not decode: %s at %s", sgp32_ipa_function_name(a->function),
                     sgp32_err_str(rc), diag.path);
        assert_int_equal(sgp32_asn1_read_tlv(a->data.data, a->data.len, &msg, NULL), SGP32_OK);
        assert_string_equal(a->address, HOST_EIM_ID);
    }
    sgp32_arena_free(&arena);

    switch (msg.tag) {
    case 0xBF4F: {
        h->get_count++;
        sgp32_asn1_tlv t;
        h->last_notify = false;
        h->last_cause = -1;
        sgp32_asn1_reader r;
        sgp32_asn1_reader_init(&r, msg.value, 1);
        while (sgp32_asn1_reader_next(&r, &t) == SGP32_OK) {
            if (t.tag == 0x80)
                h->last_notify = true;
            if (t.tag == 0x81)
                sgp32_asn1_parse_integer(t.value, &h->last_cause);
        }
        size_t mark = sgp32_asn1_begin(out);
        if (h->get_error) {
            assert_int_equal(sgp32_asn1_write_integer(out, 0x02, h->get_error), SGP32_OK);
        } else if (h->queue_count) {
            const sgp32_buf *q = &h->queue[h->queue_head];
            assert_int_equal(sgp32_buf_append(out, q->data, q->len), SGP32_OK);
            h->queue_head = (h->queue_head + 1) % 8;
            h->queue_count--;
        } else {
            assert_int_equal(sgp32_asn1_write_integer(out, 0x02, 1), SGP32_OK);
        }
        assert_int_equal(sgp32_asn1_end(out, 0xBF4F, mark), SGP32_OK);
        return;
    }
    case 0xBF50: {
        sgp32_asn1_reader r;
        sgp32_asn1_tlv eid, result;
        sgp32_asn1_reader_init(&r, msg.value, 1);
        assert_int_equal(sgp32_asn1_reader_next(&r, &eid), SGP32_OK);
        assert_int_equal(eid.tag, 0x5A);
        assert_memory_equal(eid.value.data, sgp32_euicc_eid(h->f.euicc), 16);
        assert_int_equal(sgp32_asn1_reader_next(&r, &result), SGP32_OK);
        assert_true(h->result_count < HOST_MAX_RESULTS);
        sgp32_buf_reset(&h->results[h->result_count]);
        assert_int_equal(sgp32_buf_append(&h->results[h->result_count], result.whole.data, result.whole.len),
                         SGP32_OK);
        h->result_count++;
        int64_t seqs[32];
        size_t n = 0;
        collect_seqs(h, (sgp32_bytes){result.whole.data, result.whole.len}, seqs, &n);
        size_t mark = sgp32_asn1_begin(out);
        if (h->provide_error) {
            assert_int_equal(sgp32_asn1_write_integer(out, 0x02, h->provide_error), SGP32_OK);
        } else if (n && !h->eim_no_ack) {
            size_t acks = sgp32_asn1_begin(out);
            for (size_t i = 0; i < n; i++) {
                assert_int_equal(sgp32_asn1_write_integer(out, 0x80, seqs[i]), SGP32_OK);
                if (h->acked_count < 64)
                    h->acked[h->acked_count++] = seqs[i];
            }
            assert_int_equal(sgp32_asn1_end(out, 0xBF53, acks), SGP32_OK);
        } else {
            assert_int_equal(sgp32_asn1_write_tlv(out, 0x30, NULL, 0), SGP32_OK);
        }
        assert_int_equal(sgp32_asn1_end(out, 0xBF50, mark), SGP32_OK);
        return;
    }
    case 0xBF3D:
        if (es9) {
            sgp32_asn1_tlv choice, pir;
            assert_int_equal(sgp32_asn1_read_tlv(msg.value.data, msg.value.len, &choice, NULL), SGP32_OK);
            assert_int_equal(sgp32_asn1_read_tlv(choice.value.data, choice.value.len, &pir, NULL), SGP32_OK);
            sgp32_smdp_pir p;
            sgp32_smdp_check check;
            assert_int_equal(sgp32_smdp_verify_pir(&h->smdp, pir.whole.data, pir.whole.len, &p, &check),
                             SGP32_OK);
            assert_int_equal(check.verdict, SGP32_SMDP_ACCEPTED);
            h->pir_verified = true;
            h->pir_success = p.success;
        } else {
            assert_true(h->notification_count < HOST_MAX_RESULTS);
            sgp32_buf_reset(&h->notifications[h->notification_count]);
            assert_int_equal(
                sgp32_buf_append(&h->notifications[h->notification_count], msg.whole.data, msg.whole.len),
                SGP32_OK);
            h->notification_count++;
        }
        return; /* 204: no body */
    default: smdp_answer(h, es9, &msg, out); return;
    }
}

const char *host_result_hex(host *h, size_t index)
{
    assert_true(index < h->result_count);
    sgp32_asn1_tlv t = {0}, epr;
    const sgp32_buf *r = &h->results[index];
    assert_int_equal(sgp32_asn1_read_tlv(r->data, r->len, &t, NULL), SGP32_OK);
    if (t.tag == 0x30)
        assert_int_equal(sgp32_asn1_read_tlv(t.value.data, t.value.len, &epr, NULL), SGP32_OK);
    else
        epr = t;
    assert_int_equal(epr.tag, 0xBF51);
    sgp32_euicc_package_result *res = sgp32_arena_alloc(&h->arena, sizeof(*res));
    sgp32_bytes kept = copy(h, epr.whole.data, epr.whole.len);
    assert_int_equal(sgp32_eim_package_result_verify(kept.data, kept.len, &h->euicc_pub, h->has_token,
                                                     h->token, &h->arena, res),
                     SGP32_OK);
    assert_int_equal(res->choice, SGP32_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED);
    const sgp32_euicc_package_result_data_signed *d =
        &res->u.euicc_package_result_signed.euicc_package_result_data_signed;
    sgp32_asn1_tlv whole, tlv;
    sgp32_asn1_reader rd;
    assert_int_equal(sgp32_asn1_expect(d->der.data, d->der.len, 0x30, &whole), SGP32_OK);
    sgp32_asn1_reader_init(&rd, whole.value, 0);
    sgp32_bytes results = {NULL, 0};
    while (sgp32_asn1_reader_next(&rd, &tlv) == SGP32_OK)
        if (tlv.tag == 0x30)
            results = tlv.value;
    char *hex = sgp32_arena_alloc(&h->arena, 2 * results.len + 1);
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < results.len; i++) {
        hex[2 * i] = digits[results.data[i] >> 4];
        hex[2 * i + 1] = digits[results.data[i] & 15];
    }
    hex[2 * results.len] = 0;
    return hex;
}

/* ------------------------------------------------------------------ the loop */

static void card_transmit(host *h, const sgp32_ipa_action *a, sgp32_ipa_event *ev)
{
    h->apdus++;
    const uint8_t *c = a->data.data;
    if (c[1] == 0xE2 && c[3] == 0x00)
        note(h, "ES10 %02X%02X", c[5], (c[5] & 0x1F) == 0x1F ? c[6] : 0);
    else if (c[1] == 0xA4)
        note(h, "SELECT");
    sgp32_buf_reset(&h->apdu_rsp);
    if (h->fail_apdu_at && h->apdus == h->fail_apdu_at) {
        if (h->fail_apdu_io) {
            ev->type = SGP32_IPA_EV_TRANSPORT_ERROR;
            ev->status = -6;
            note(h, "CARD_IO_ERROR");
            return;
        }
        uint8_t sw[2] = {(uint8_t)(h->fail_apdu_sw >> 8), (uint8_t)h->fail_apdu_sw};
        sgp32_buf_append(&h->apdu_rsp, sw, 2);
        note(h, "SW %04X", h->fail_apdu_sw);
    } else if (h->force_6985 && c[1] == 0xE2 && c[3] == 0x00) {
        static const uint8_t sw[2] = {0x69, 0x85};
        sgp32_buf_append(&h->apdu_rsp, sw, 2);
        note(h, "SW 6985");
    } else {
        assert_int_equal(sgp32_euicc_transmit(h->f.euicc, a->data.data, a->data.len, &h->apdu_rsp), SGP32_OK);
    }
    ev->type = SGP32_IPA_EV_APDU_RESPONSE;
    ev->data = sgp32_buf_bytes(&h->apdu_rsp);
}

host_stop host_run(host *h, size_t max_actions)
{
    sgp32_ipa_event ev = {.type = SGP32_IPA_EV_NONE, .now = h->now, .random = 12345};
    sgp32_ipa_action a;
    for (size_t i = 0; i < max_actions; i++) {
        ev.now = h->now;
        assert_int_equal(sgp32_ipa_step(h->ipa, &ev, &a), SGP32_OK);
        memset(&ev, 0, sizeof(ev));
        ev.now = h->now;
        ev.random = (uint32_t)(h->actions * 2654435761u);
        if (a.type == SGP32_IPA_ACT_RECEIVE_MORE) {
            /* the next chunk of the response being delivered */
            if (h->drop_at_chunk && ++h->chunks >= h->drop_at_chunk) {
                note(h, "DROPPED");
                h->drop_at_chunk = 0;
                ev.type = SGP32_IPA_EV_TRANSPORT_ERROR;
                ev.status = -6;
                continue;
            }
            size_t n = h->response.len - h->chunk_off;
            if (h->chunk && n > h->chunk)
                n = h->chunk;
            ev.type = SGP32_IPA_EV_RESPONSE;
            ev.data = (sgp32_bytes){h->response.data + h->chunk_off, n};
            h->chunk_off += n;
            ev.more = h->chunk_off < h->response.len;
            continue;
        }
        h->actions++;
        if (h->power_loss_at && h->actions == h->power_loss_at && !h->power_loss_after) {
            note(h, "POWER_LOSS");
            return HOST_POWER_LOSS;
        }
        switch (a.type) {
        case SGP32_IPA_ACT_IDLE: note(h, "IDLE"); return HOST_IDLE;
        case SGP32_IPA_ACT_TRANSMIT_APDU: card_transmit(h, &a, &ev); break;
        case SGP32_IPA_ACT_RESET_CARD:
            note(h, "RESET");
            h->resets++;
            h->force_6985 = false;
            sgp32_euicc_reset(h->f.euicc);
            ev.type = SGP32_IPA_EV_CARD_RESET;
            ev.data = sgp32_euicc_atr();
            break;
        case SGP32_IPA_ACT_SEND_ESIPA:
        case SGP32_IPA_ACT_SEND_ES9PLUS:
            h->esipa++;
            note(h, "%s %s", a.type == SGP32_IPA_ACT_SEND_ESIPA ? "ESIPA" : "ES9",
                 sgp32_ipa_function_name(a.function));
            if ((size_t)a.function < 9) {
                sgp32_buf_reset(&h->sent[a.function]);
                assert_int_equal(sgp32_buf_append(&h->sent[a.function], a.data.data, a.data.len), SGP32_OK);
            }
            if (h->eim_unreachable || (h->fail_esipa_at && h->esipa == h->fail_esipa_at) ||
                (h->fail_esipa_from && h->esipa >= h->fail_esipa_from && h->esipa <= h->fail_esipa_to)) {
                note(h, "TRANSPORT_ERROR");
                ev.type = SGP32_IPA_EV_TRANSPORT_ERROR;
                ev.status = 503;
                break;
            }
            sgp32_buf_reset(&h->response);
            if (h->exchange) {
                if (h->exchange(h, &a, &h->response) != SGP32_OK) {
                    note(h, "TRANSPORT_ERROR");
                    ev.type = SGP32_IPA_EV_TRANSPORT_ERROR;
                    ev.status = 503;
                    break;
                }
            } else {
                host_eim_answer(h, &a, &h->response);
            }
            if (!a.expect_body)
                assert_int_equal(h->response.len, 0);
            h->chunk_off = h->chunk && h->response.len > h->chunk ? h->chunk : h->response.len;
            ev.type = SGP32_IPA_EV_RESPONSE;
            ev.data = (sgp32_bytes){h->response.data, h->chunk_off};
            ev.more = h->chunk_off < h->response.len;
            break;
        case SGP32_IPA_ACT_PUSH_RESPONSE:
            note(h, "PUSH_RESPONSE");
            sgp32_buf_reset(&h->push_response);
            assert_int_equal(sgp32_buf_append(&h->push_response, a.data.data, a.data.len), SGP32_OK);
            ev.type = SGP32_IPA_EV_NONE;
            break;
        case SGP32_IPA_ACT_SAVE_STATE:
            note(h, "SAVE");
            h->saves++;
            if (h->save_fails) {
                ev.type = SGP32_IPA_EV_STATE_SAVE_FAILED;
                break;
            }
            sgp32_buf_reset(&h->blob);
            assert_int_equal(sgp32_buf_append(&h->blob, a.data.data, a.data.len), SGP32_OK);
            h->has_blob = true;
            ev.type = SGP32_IPA_EV_STATE_SAVED;
            break;
        case SGP32_IPA_ACT_WAIT:
            note(h, "WAIT");
            assert_true(a.until > h->now);
            assert_true(a.until - h->now <= 100);
            if (!h->auto_timer || ++h->waits > 50)
                return HOST_WAITING;
            h->now = a.until;
            ev.type = SGP32_IPA_EV_TIMER;
            ev.now = h->now;
            break;
        default: fail_msg("unexpected action %d", a.type);
        }
        if (h->record)
            h->record(h, &a, &ev);
        if (h->power_loss_at && h->actions == h->power_loss_at && h->power_loss_after) {
            note(h, "POWER_LOSS");
            return HOST_POWER_LOSS;
        }
    }
    return HOST_LIMIT;
}

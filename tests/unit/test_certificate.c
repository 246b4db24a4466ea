/*
 * lib/crypto certificates: parsing the SGP.26 test PKI, the eSIM chain checks
 * with one distinct error per broken rule, issuing full sets on both curves,
 * and OpenSSL accepting an issued DPtls certificate as a TLS server certificate.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "../../lib/crypto/certificate_internal.h" /* first: it sets the OpenSSL API level */
#include "alloc_fail.h"
#include "sgp32/certificate.h"
#include "sgp32/text.h"

#define SGP26 SGP32_SPEC_DIR "/sgp26/"

static const char SGP26_EID[] = "89049032123451234512345678901235";
static const char PKID_NIST[] = "F54172BDF98A95D65CBEB88A38A1C11D800A85C3";
static const char PKID_BRP[] = "C0BC70BA36929D43B467FF57570530E57AB8FCD8";
static const char EUM_SKI_NIST[] = "DD3DA24D350C1CC5D0AF0965F40EC34C5EE409F1";

/* 2027-01-15: inside every SGP.26 certificate used here (VARO DPtls: 2026-07 .. 2027-02). */
enum { NOW = 1800000000 };

/* ------------------------------------------------------------------ helpers */

static sgp32_buf load(const char *path)
{
    sgp32_buf b;
    sgp32_buf_init(&b, 1 << 20);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    uint8_t chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        assert_int_equal(sgp32_buf_append(&b, chunk, n), SGP32_OK);
    fclose(f);
    return b;
}

static sgp32_ec_private_key load_key(const char *path)
{
    sgp32_buf pem = load(path);
    sgp32_ec_private_key key;
    assert_int_equal(sgp32_ec_private_from_pem((const char *)pem.data, pem.len, &key), SGP32_OK);
    sgp32_buf_free(&pem);
    return key;
}

static void assert_hex(const uint8_t *data, size_t len, const char *hex)
{
    char text[2 * 64 + 1];
    assert_true(len <= 64);
    sgp32_hex_encode(data, len, text);
    assert_string_equal(text, hex);
}

static const char *curve_tag(sgp32_curve curve)
{
    return curve == SGP32_CURVE_NIST_P256 ? "NIST" : "BRP";
}

/* The SGP.26 files of one curve. */
typedef struct sgp26 {
    sgp32_buf ci, eum, euicc, dpauth, dppb;
} sgp26;

static sgp26 load_sgp26(sgp32_curve curve)
{
    char path[512];
    sgp26 s;
    const char *c = curve_tag(curve);
    snprintf(path, sizeof(path), SGP26 "CertificateIssuer/CERT_CI_ECDSA_%s.der", c);
    s.ci = load(path);
    snprintf(path, sizeof(path), SGP26 "EUM/CERT_EUM_ECDSA_%s.der", c);
    s.eum = load(path);
    snprintf(path, sizeof(path), SGP26 "eUICC/CERT_EUICC_ECDSA_%s.der", c);
    s.euicc = load(path);
    snprintf(path, sizeof(path), SGP26 "DPauth/CERT_S_SM_DPauth_ECDSA_%s.der", c);
    s.dpauth = load(path);
    snprintf(path, sizeof(path), SGP26 "DPpb/CERT_S_SM_DPpb_ECDSA_%s.der", c);
    s.dppb = load(path);
    return s;
}

static void free_sgp26(sgp26 *s)
{
    sgp32_buf_free(&s->ci);
    sgp32_buf_free(&s->eum);
    sgp32_buf_free(&s->euicc);
    sgp32_buf_free(&s->dpauth);
    sgp32_buf_free(&s->dppb);
}

static void trust(sgp32_ci_set *set, const sgp32_buf *ci)
{
    assert_int_equal(sgp32_ci_set_add(set, ci->data, ci->len), SGP32_OK);
}

/* ------------------------------------------------------- parsing (SGP.26) */

static void sgp26_ci_fields(void **state)
{
    (void)state;
    const sgp32_curve curves[] = {SGP32_CURVE_NIST_P256, SGP32_CURVE_BRAINPOOL_P256R1};
    const char *pkids[] = {PKID_NIST, PKID_BRP};
    for (size_t i = 0; i < 2; i++) {
        sgp26 s = load_sgp26(curves[i]);
        sgp32_certificate c;
        assert_int_equal(sgp32_cert_parse(s.ci.data, s.ci.len, &c), SGP32_OK);
        assert_int_equal(c.role, SGP32_CERT_ROLE_CI);
        assert_true(c.role_critical);
        assert_string_equal(c.policy, "2.23.146.1.2.1.0");
        assert_hex(c.ski.id, c.ski.len, pkids[i]);
        assert_int_equal(c.aki.len, 0);
        assert_true(c.self_issued);
        assert_true(c.is_ca);
        assert_int_equal(c.path_len, -1);
        assert_int_equal(c.public_key.curve, curves[i]);
        assert_int_equal(c.public_key.point[0], 0x04);
        assert_string_equal(c.subject.common_name, "Test CI");
        assert_string_equal(c.subject.organizational_unit, "TESTCERT");
        assert_string_equal(c.subject.organization, "RSPTEST");
        assert_string_equal(c.subject.country, "IT");
        assert_string_equal(c.registered_id.text, "2.999.1");
        assert_true(c.key_usage & SGP32_CERT_KU_KEY_CERT_SIGN);
        assert_false(c.unknown_critical_extension);
        free_sgp26(&s);
    }
}

static void sgp26_eum_and_euicc_fields(void **state)
{
    (void)state;
    sgp26 s = load_sgp26(SGP32_CURVE_NIST_P256);
    sgp32_certificate c;
    assert_int_equal(sgp32_cert_parse(s.eum.data, s.eum.len, &c), SGP32_OK);
    assert_int_equal(c.role, SGP32_CERT_ROLE_EUM);
    assert_hex(c.ski.id, c.ski.len, EUM_SKI_NIST);
    assert_hex(c.aki.id, c.aki.len, PKID_NIST);
    assert_string_equal(c.subject.country, "ES");
    assert_string_equal(c.subject.organization, "RSP Test EUM");
    assert_string_equal(c.subject.common_name, "EUM Test");
    assert_true(c.is_ca);
    assert_int_equal(c.path_len, 0);
    assert_true(c.name_constraint.present);
    assert_string_equal(c.name_constraint.organization, "RSP Test EUM");
    assert_string_equal(c.name_constraint.serial_number_prefix, "89049032");
    assert_int_equal(c.not_before, 1585733317);  /* 2020-04-01 09:28:37 */
    assert_int_equal(c.not_after, 2657957317LL); /* 2054-03-24 09:28:37 */
    assert_false(c.has_eid);

    assert_int_equal(sgp32_cert_parse(s.euicc.data, s.euicc.len, &c), SGP32_OK);
    assert_int_equal(c.role, SGP32_CERT_ROLE_EUICC);
    assert_hex(c.aki.id, c.aki.len, EUM_SKI_NIST);
    assert_string_equal(c.subject.serial_number, SGP26_EID);
    assert_string_equal(c.subject.common_name, "Test eUICC");
    assert_true(c.has_eid);
    uint8_t eid[SGP32_EID_LEN];
    assert_int_equal(sgp32_eid_from_text(SGP26_EID, eid), SGP32_OK);
    assert_memory_equal(c.eid, eid, SGP32_EID_LEN);
    assert_int_equal(c.not_after, 174385734538LL); /* 7496-01-24 09:48:58, GeneralizedTime */
    assert_true(c.key_usage & SGP32_CERT_KU_DIGITAL_SIGNATURE);
    assert_false(c.is_ca);

    /* The public key is the one of SK_EUICC. */
    sgp32_ec_private_key sk = load_key(SGP26 "eUICC/SK_EUICC_ECDSA_NIST.pem");
    sgp32_ec_public_key pk;
    assert_int_equal(sgp32_ec_public_from_private(&sk, &pk), SGP32_OK);
    assert_memory_equal(pk.point, c.public_key.point, SGP32_EC_POINT_LEN);
    free_sgp26(&s);

    s = load_sgp26(SGP32_CURVE_BRAINPOOL_P256R1);
    assert_int_equal(sgp32_cert_parse(s.euicc.data, s.euicc.len, &c), SGP32_OK);
    assert_int_equal(c.public_key.curve, SGP32_CURVE_BRAINPOOL_P256R1);
    assert_string_equal(c.subject.serial_number, SGP26_EID);
    free_sgp26(&s);
}

static void sgp26_dp_fields(void **state)
{
    (void)state;
    static const uint8_t oid_2_999_10[] = {0x88, 0x37, 0x0A};
    const char *files[] = {
        SGP26 "DPauth/CERT_S_SM_DPauth_ECDSA_NIST.der",
        SGP26 "DPauth/CERT_S_SM_DPauth_ECDSA_BRP.der",
        SGP26 "DPpb/CERT_S_SM_DPpb_ECDSA_NIST.der",
        SGP26 "DPpb/CERT_S_SM_DPpb_ECDSA_BRP.der",
    };
    for (size_t i = 0; i < SGP32_ARRAY_LEN(files); i++) {
        sgp32_buf b = load(files[i]);
        sgp32_certificate c;
        assert_int_equal(sgp32_cert_parse(b.data, b.len, &c), SGP32_OK);
        assert_int_equal(c.role, i < 2 ? SGP32_CERT_ROLE_DP_AUTH : SGP32_CERT_ROLE_DP_PB);
        assert_true(c.role_critical);
        assert_string_equal(c.registered_id.text, "2.999.10");
        assert_int_equal(c.registered_id.der_len, sizeof(oid_2_999_10));
        assert_memory_equal(c.registered_id.der, oid_2_999_10, sizeof(oid_2_999_10));
        assert_hex(c.aki.id, c.aki.len, i % 2 ? PKID_BRP : PKID_NIST);
        assert_string_equal(c.subject.common_name, "TEST SM-DP+");
        sgp32_buf_free(&b);
    }

    sgp32_buf b = load(SGP26 "DPauth/CERT_S_SM_DP2auth_ECDSA_NIST.der");
    sgp32_certificate c;
    assert_int_equal(sgp32_cert_parse(b.data, b.len, &c), SGP32_OK);
    assert_string_equal(c.registered_id.text, "2.999.12");
    sgp32_buf_free(&b);

    b = load(SGP26 "DPtls/CERT_S_SM_DP_VARO_TLS_NIST.der");
    assert_int_equal(sgp32_cert_parse(b.data, b.len, &c), SGP32_OK);
    assert_int_equal(c.role, SGP32_CERT_ROLE_DP_TLS);
    assert_false(c.role_critical); /* SGP.26 DPtls: non-critical policy */
    assert_int_equal(c.dns_count, 1);
    assert_string_equal(c.dns_names[0], "testsmdpplus1.example.com");
    assert_string_equal(c.registered_id.text, "2.999.10");
    assert_true(c.ext_key_usage & SGP32_CERT_EKU_SERVER_AUTH);
    assert_true(sgp32_cert_matches_host(&c, "TestSMDPplus1.example.com"));
    assert_true(sgp32_cert_matches_host(&c, "testsmdpplus1.example.com:8443"));
    assert_false(sgp32_cert_matches_host(&c, "testsmdpplus2.example.com"));
    sgp32_buf_free(&b);
}

static void parse_rejects_garbage(void **state)
{
    (void)state;
    sgp26 s = load_sgp26(SGP32_CURVE_NIST_P256);
    sgp32_certificate c;
    assert_int_equal(sgp32_cert_parse(s.ci.data, s.ci.len - 1, &c), SGP32_ERR_CERT_PARSE);
    uint8_t trailing[2048];
    memcpy(trailing, s.ci.data, s.ci.len);
    trailing[s.ci.len] = 0;
    assert_int_equal(sgp32_cert_parse(trailing, s.ci.len + 1, &c), SGP32_ERR_CERT_PARSE);
    assert_int_equal(sgp32_cert_parse((const uint8_t *)"\x30\x00", 2, &c), SGP32_ERR_CERT_PARSE);
    free_sgp26(&s);
}

/* A Name of one RDN: organizationName as a string of the given type (0x13 PrintableString,
 * 0x0C UTF8String). */
static size_t one_rdn_name(uint8_t *out, uint8_t string_type, const char *value)
{
    size_t v = strlen(value), attribute = 5 + 2 + v, set = 2 + attribute, name = 2 + set;
    uint8_t *p = out;
    *p++ = 0x30, *p++ = (uint8_t)name;      /* Name: SEQUENCE OF */
    *p++ = 0x31, *p++ = (uint8_t)set;       /* RelativeDistinguishedName: SET OF */
    *p++ = 0x30, *p++ = (uint8_t)attribute; /* AttributeTypeAndValue */
    *p++ = 0x06, *p++ = 0x03, *p++ = 0x55, *p++ = 0x04, *p++ = 0x0A;
    *p++ = string_type, *p++ = (uint8_t)v;
    memcpy(p, value, v);
    return 2 + name;
}

/* The issuer-to-subject link goes by the exact bytes first, then by RFC 5280 §7.1 comparison of the
 * canonical forms (as X509_NAME_cmp): another string type, case and inner spaces do not break it. */
static void names_link_by_canonical_form(void **state)
{
    (void)state;
    static sgp32_certi_signed child, parent;
    child.issuer_len = one_rdn_name(child.issuer, 0x13, "RSP Test EUM");
    parent.subject_len = one_rdn_name(parent.subject, 0x13, "RSP Test EUM");
    assert_true(sgp32_certi_names_link(&child, &parent));
    parent.subject_len = one_rdn_name(parent.subject, 0x0C, "rsp  test eum");
    assert_true(sgp32_certi_names_link(&child, &parent));
    parent.subject_len = one_rdn_name(parent.subject, 0x0C, "RSP Test EUM 2");
    assert_false(sgp32_certi_names_link(&child, &parent));
    parent.subject_len = 3; /* not a Name */
    assert_false(sgp32_certi_names_link(&child, &parent));
}

static void role_names(void **state)
{
    (void)state;
    sgp32_cert_role r;
    for (int i = SGP32_CERT_ROLE_NONE; i <= SGP32_CERT_ROLE_DS_AUTH; i++) {
        assert_int_equal(sgp32_cert_role_from_name(sgp32_cert_role_name((sgp32_cert_role)i), &r), SGP32_OK);
        assert_int_equal(r, i);
    }
    assert_string_equal(sgp32_cert_role_name(SGP32_CERT_ROLE_DP_AUTH), "dp-auth");
    assert_int_equal(sgp32_cert_role_from_name("dpauth", &r), SGP32_ERR_INVALID_ARGUMENT);
}

static void host_matching(void **state)
{
    (void)state;
    sgp32_certificate c;
    memset(&c, 0, sizeof(c));
    c.dns_count = 2;
    strcpy(c.dns_names[0], "eim.example.org");
    strcpy(c.dns_names[1], "*.smdp.example.org");
    assert_true(sgp32_cert_matches_host(&c, "EIM.example.org."));
    assert_true(sgp32_cert_matches_host(&c, "a.smdp.example.org"));
    assert_false(sgp32_cert_matches_host(&c, "smdp.example.org"));
    assert_false(sgp32_cert_matches_host(&c, "a.b.smdp.example.org"));
    assert_false(sgp32_cert_matches_host(&c, "example.org"));
    assert_false(sgp32_cert_matches_host(&c, ""));
    strcpy(c.dns_names[1], "*.org");
    assert_false(sgp32_cert_matches_host(&c, "example.org"));
}

/* -------------------------------------------------------------- trust set */

static void ci_set_rules(void **state)
{
    (void)state;
    sgp26 n = load_sgp26(SGP32_CURVE_NIST_P256), b = load_sgp26(SGP32_CURVE_BRAINPOOL_P256R1);
    sgp32_ci_set set;
    sgp32_ci_set_init(&set);
    trust(&set, &n.ci);
    trust(&set, &n.ci); /* again: no-op */
    trust(&set, &b.ci);
    assert_int_equal(set.count, 2);
    uint8_t pkid[20];
    sgp32_buf pk;
    sgp32_buf_init_fixed(&pk, pkid, sizeof(pkid));
    assert_int_equal(sgp32_hex_decode(PKID_BRP, strlen(PKID_BRP), &pk), SGP32_OK);
    const sgp32_ci_entry *e = sgp32_ci_set_find(&set, pkid, sizeof(pkid));
    assert_non_null(e);
    assert_int_equal(e->cert.public_key.curve, SGP32_CURVE_BRAINPOOL_P256R1);
    pkid[0] ^= 1;
    assert_null(sgp32_ci_set_find(&set, pkid, sizeof(pkid)));

    /* Not CIs, or a CI whose self-signature is broken. */
    assert_int_equal(sgp32_ci_set_add(&set, n.eum.data, n.eum.len), SGP32_ERR_CERT_POLICY);
    assert_int_equal(sgp32_ci_set_add(&set, n.dpauth.data, n.dpauth.len), SGP32_ERR_CERT_POLICY);
    n.ci.data[n.ci.len - 1] ^= 0x01;
    sgp32_ci_set empty;
    sgp32_ci_set_init(&empty);
    assert_int_equal(sgp32_ci_set_add(&empty, n.ci.data, n.ci.len), SGP32_ERR_CERT_SIGNATURE);
    assert_int_equal(empty.count, 0);
    assert_int_equal(set.count, 2);
    sgp32_ci_set_free(&set);
    sgp32_ci_set_free(&empty);
    free_sgp26(&n);
    free_sgp26(&b);
}

/* ------------------------------------------------- eUICC chain (SGP.26) */

static void sgp26_euicc_chain_verifies(void **state)
{
    (void)state;
    uint8_t eid[SGP32_EID_LEN];
    assert_int_equal(sgp32_eid_from_text(SGP26_EID, eid), SGP32_OK);
    sgp26 n = load_sgp26(SGP32_CURVE_NIST_P256), b = load_sgp26(SGP32_CURVE_BRAINPOOL_P256R1);
    sgp32_ci_set set;
    sgp32_ci_set_init(&set);
    trust(&set, &n.ci);
    trust(&set, &b.ci);
    sgp32_euicc_chain chain;
    assert_int_equal(sgp32_cert_verify_euicc_chain(&set, sgp32_buf_bytes(&n.eum), sgp32_buf_bytes(&n.euicc),
                                                   NOW, eid, &chain),
                     SGP32_OK);
    assert_int_equal(chain.ci_index, 0);
    assert_memory_equal(chain.euicc.eid, eid, SGP32_EID_LEN);
    assert_int_equal(chain.euicc.public_key.curve, SGP32_CURVE_NIST_P256);
    assert_int_equal(sgp32_cert_verify_euicc_chain(&set, sgp32_buf_bytes(&b.eum), sgp32_buf_bytes(&b.euicc),
                                                   NOW, eid, &chain),
                     SGP32_OK);
    assert_int_equal(chain.ci_index, 1);
    assert_int_equal(chain.euicc.public_key.curve, SGP32_CURVE_BRAINPOOL_P256R1);
    /* Without out, without an expected EID, without a clock. */
    assert_int_equal(sgp32_cert_verify_euicc_chain(&set, sgp32_buf_bytes(&b.eum), sgp32_buf_bytes(&b.euicc),
                                                   SGP32_CERT_NO_TIME_CHECK, NULL, NULL),
                     SGP32_OK);
    sgp32_ci_set_free(&set);
    free_sgp26(&n);
    free_sgp26(&b);
}

/* OpenSSL's generic path validation rejects this chain: the reason we check it ourselves. */
static void openssl_rejects_sgp26_name_constraints(void **state)
{
    (void)state;
    sgp26 s = load_sgp26(SGP32_CURVE_NIST_P256);
    const unsigned char *p;
    p = s.ci.data;
    X509 *ci = d2i_X509(NULL, &p, (long)s.ci.len);
    p = s.eum.data;
    X509 *eum = d2i_X509(NULL, &p, (long)s.eum.len);
    p = s.euicc.data;
    X509 *euicc = d2i_X509(NULL, &p, (long)s.euicc.len);
    assert_non_null(ci);
    assert_non_null(eum);
    assert_non_null(euicc);
    X509_STORE *store = X509_STORE_new();
    X509_STORE_add_cert(store, ci);
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    sk_X509_push(untrusted, eum);
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    assert_int_equal(X509_STORE_CTX_init(ctx, store, euicc, untrusted), 1);
    X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), NOW);
    assert_int_not_equal(X509_verify_cert(ctx), 1);
    assert_int_equal(X509_STORE_CTX_get_error(ctx), X509_V_ERR_PERMITTED_VIOLATION);
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted);
    X509_STORE_free(store);
    X509_free(ci);
    X509_free(eum);
    X509_free(euicc);
    free_sgp26(&s);
}

static void euicc_chain_errors(void **state)
{
    (void)state;
    uint8_t eid[SGP32_EID_LEN];
    assert_int_equal(sgp32_eid_from_text(SGP26_EID, eid), SGP32_OK);
    sgp26 n = load_sgp26(SGP32_CURVE_NIST_P256), b = load_sgp26(SGP32_CURVE_BRAINPOOL_P256R1);
    sgp32_ci_set set, brp_only;
    sgp32_ci_set_init(&set);
    sgp32_ci_set_init(&brp_only);
    trust(&set, &n.ci);
    trust(&set, &b.ci);
    trust(&brp_only, &b.ci);
    sgp32_bytes eum = sgp32_buf_bytes(&n.eum), euicc = sgp32_buf_bytes(&n.euicc);

    /* Wrong EID. */
    uint8_t other[SGP32_EID_LEN];
    char text[] = "89049032123451234512345678900000";
    assert_int_equal(sgp32_eid_set_check_digits(text), SGP32_OK);
    assert_int_equal(sgp32_eid_from_text(text, other), SGP32_OK);
    assert_int_equal(sgp32_cert_verify_euicc_chain(&set, eum, euicc, NOW, other, NULL),
                     SGP32_ERR_CERT_EID_MISMATCH);

    /* Dates: after the EUM's notAfter (2054), before everyone's notBefore (2020). */
    assert_int_equal(sgp32_cert_verify_euicc_chain(&set, eum, euicc, 2657957317LL + 1, eid, NULL),
                     SGP32_ERR_CERT_EXPIRED);
    assert_int_equal(sgp32_cert_verify_euicc_chain(&set, eum, euicc, 1500000000, eid, NULL),
                     SGP32_ERR_CERT_NOT_YET_VALID);

    /* Unknown CI. */
    assert_int_equal(sgp32_cert_verify_euicc_chain(&brp_only, eum, euicc, NOW, eid, NULL),
                     SGP32_ERR_CERT_UNKNOWN_CI);

    /* Wrong roles: a DPauth where the EUM belongs, the EUM as the eUICC. */
    assert_int_equal(sgp32_cert_verify_euicc_chain(&set, sgp32_buf_bytes(&n.dpauth), euicc, NOW, eid, NULL),
                     SGP32_ERR_CERT_POLICY);
    assert_int_equal(sgp32_cert_verify_euicc_chain(&set, eum, eum, NOW, eid, NULL), SGP32_ERR_CERT_POLICY);

    /* Broken linkage: the NIST EUM with the brainpool eUICC. */
    assert_int_equal(sgp32_cert_verify_euicc_chain(&set, eum, sgp32_buf_bytes(&b.euicc), NOW, eid, NULL),
                     SGP32_ERR_CERT_CHAIN);

    /* Tampered signatures: the last byte of the eUICC's, then of the EUM's. */
    n.euicc.data[n.euicc.len - 1] ^= 0x01;
    assert_int_equal(sgp32_cert_verify_euicc_chain(&set, eum, euicc, NOW, eid, NULL),
                     SGP32_ERR_CERT_SIGNATURE);
    n.euicc.data[n.euicc.len - 1] ^= 0x01;
    n.eum.data[n.eum.len - 1] ^= 0x01;
    assert_int_equal(sgp32_cert_verify_euicc_chain(&set, eum, euicc, NOW, eid, NULL),
                     SGP32_ERR_CERT_SIGNATURE);
    n.eum.data[n.eum.len - 1] ^= 0x01;
    /* A tampered body (the EID's last digit) breaks the signature too. */
    uint8_t *digit = NULL;
    for (size_t i = 0; i + 32 <= n.euicc.len && !digit; i++)
        if (memcmp(n.euicc.data + i, SGP26_EID, 32) == 0)
            digit = n.euicc.data + i;
    assert_non_null(digit);
    digit[31] = '6';
    assert_int_equal(sgp32_cert_verify_euicc_chain(&set, eum, euicc, NOW, NULL, NULL),
                     SGP32_ERR_CERT_SIGNATURE);
    digit[31] = '5';
    assert_int_equal(sgp32_cert_verify_euicc_chain(&set, eum, euicc, NOW, eid, NULL), SGP32_OK);
    /* The outer signatureAlgorithm (the last ecdsa-with-SHA256 OID) turned into ecdsa-with-SHA384:
     * it no longer matches the one inside tbsCertificate, so nothing verifies. */
    static const uint8_t ecdsa_sha256[] = {0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02};
    uint8_t *outer = NULL;
    for (size_t i = 0; i + sizeof(ecdsa_sha256) <= n.euicc.len; i++)
        if (memcmp(n.euicc.data + i, ecdsa_sha256, sizeof(ecdsa_sha256)) == 0)
            outer = n.euicc.data + i;
    assert_non_null(outer);
    outer[sizeof(ecdsa_sha256) - 1] = 0x03;
    assert_int_equal(sgp32_cert_verify_euicc_chain(&set, eum, euicc, NOW, eid, NULL),
                     SGP32_ERR_CERT_SIGNATURE);
    outer[sizeof(ecdsa_sha256) - 1] = 0x02;
    assert_int_equal(sgp32_cert_verify_euicc_chain(&set, eum, euicc, NOW, eid, NULL), SGP32_OK);

    assert_int_equal(sgp32_cert_verify_euicc_chain(&set, (sgp32_bytes){NULL, 0}, euicc, NOW, eid, NULL),
                     SGP32_ERR_INVALID_ARGUMENT);
    sgp32_ci_set_free(&set);
    sgp32_ci_set_free(&brp_only);
    free_sgp26(&n);
    free_sgp26(&b);
}

/* eUICC certificates issued here under the SGP.26 EUM key, for the rules a
 * genuine SGP.26 file cannot break. */
static int issue_under_sgp26_eum(sgp32_curve curve, const char *eid_text, const char *organization,
                                 int64_t not_after, sgp32_buf *out)
{
    char path[512];
    snprintf(path, sizeof(path), SGP26 "EUM/CERT_EUM_ECDSA_%s.der", curve_tag(curve));
    sgp32_buf eum = load(path);
    snprintf(path, sizeof(path), SGP26 "EUM/SK_EUM_ECDSA_%s.pem", curve_tag(curve));
    sgp32_ec_private_key eum_key = load_key(path);
    sgp32_ec_private_key sk;
    sgp32_ec_public_key pk;
    assert_int_equal(sgp32_ec_generate(curve, &sk, &pk), SGP32_OK);
    sgp32_cert_request req = {
        .profile = SGP32_CERT_PROFILE_EUICC,
        .country = "ES",
        .organization = organization,
        .serial_number = eid_text,
        .common_name = "Test eUICC",
        .subject_key = &pk,
        .not_before = 1585733317,
        .not_after = not_after,
    };
    int rc = sgp32_cert_issue(&req, eum.data, eum.len, &eum_key, out);
    sgp32_buf_free(&eum);
    return rc;
}

static void euicc_rules_on_issued_certificates(void **state)
{
    (void)state;
    const sgp32_curve curves[] = {SGP32_CURVE_NIST_P256, SGP32_CURVE_BRAINPOOL_P256R1};
    for (size_t i = 0; i < 2; i++) {
        sgp26 s = load_sgp26(curves[i]);
        sgp32_ci_set set;
        sgp32_ci_set_init(&set);
        trust(&set, &s.ci);
        sgp32_bytes eum = sgp32_buf_bytes(&s.eum);
        sgp32_buf cert;
        sgp32_buf_init(&cert, 4096);

        /* Inside the range, with notAfter in 2099 (GeneralizedTime): accepted. */
        char good[] = "89049032000000000000000000004200";
        assert_int_equal(sgp32_eid_set_check_digits(good), SGP32_OK);
        assert_int_equal(issue_under_sgp26_eum(curves[i], good, "RSP Test EUM", 4102444799LL, &cert),
                         SGP32_OK);
        sgp32_euicc_chain chain;
        assert_int_equal(sgp32_cert_verify_euicc_chain(&set, eum, sgp32_buf_bytes(&cert), NOW, NULL, &chain),
                         SGP32_OK);
        assert_int_equal(chain.euicc.not_after, 4102444799LL);
        assert_string_equal(chain.euicc.subject.serial_number, good);

        /* Expired (notAfter 2025-01-01) and checked at NOW. */
        sgp32_buf_reset(&cert);
        assert_int_equal(issue_under_sgp26_eum(curves[i], good, "RSP Test EUM", 1735689600, &cert), SGP32_OK);
        assert_int_equal(sgp32_cert_verify_euicc_chain(&set, eum, sgp32_buf_bytes(&cert), NOW, NULL, NULL),
                         SGP32_ERR_CERT_EXPIRED);

        /* EID outside the EUM's prefix 89049032. */
        char outside[] = "89049033000000000000000000004200";
        assert_int_equal(sgp32_eid_set_check_digits(outside), SGP32_OK);
        sgp32_buf_reset(&cert);
        assert_int_equal(issue_under_sgp26_eum(curves[i], outside, "RSP Test EUM", 4102444799LL, &cert),
                         SGP32_OK);
        assert_int_equal(sgp32_cert_verify_euicc_chain(&set, eum, sgp32_buf_bytes(&cert), NOW, NULL, NULL),
                         SGP32_ERR_CERT_NAME_CONSTRAINT);

        /* Organization other than the permitted one. */
        sgp32_buf_reset(&cert);
        assert_int_equal(issue_under_sgp26_eum(curves[i], good, "Other EUM", 4102444799LL, &cert), SGP32_OK);
        assert_int_equal(sgp32_cert_verify_euicc_chain(&set, eum, sgp32_buf_bytes(&cert), NOW, NULL, NULL),
                         SGP32_ERR_CERT_NAME_CONSTRAINT);

        /* Check digits wrong, and a serialNumber that is no EID at all. */
        char bad[sizeof(good)];
        strcpy(bad, good);
        bad[31] = bad[31] == '9' ? '0' : (char)(bad[31] + 1);
        sgp32_buf_reset(&cert);
        assert_int_equal(issue_under_sgp26_eum(curves[i], bad, "RSP Test EUM", 4102444799LL, &cert),
                         SGP32_OK);
        assert_int_equal(sgp32_cert_verify_euicc_chain(&set, eum, sgp32_buf_bytes(&cert), NOW, NULL, NULL),
                         SGP32_ERR_EID_CHECK_DIGITS);
        sgp32_buf_reset(&cert);
        assert_int_equal(issue_under_sgp26_eum(curves[i], "89049032", "RSP Test EUM", 4102444799LL, &cert),
                         SGP32_OK);
        assert_int_equal(sgp32_cert_verify_euicc_chain(&set, eum, sgp32_buf_bytes(&cert), NOW, NULL, NULL),
                         SGP32_ERR_CERT_EID_MISMATCH);

        sgp32_buf_free(&cert);
        sgp32_ci_set_free(&set);
        free_sgp26(&s);
    }
}

/* ------------------------------------------------------- DP chains (SGP.26) */

static void sgp26_dp_chains(void **state)
{
    (void)state;
    sgp26 n = load_sgp26(SGP32_CURVE_NIST_P256), b = load_sgp26(SGP32_CURVE_BRAINPOOL_P256R1);
    sgp32_ci_set set, brp_only;
    sgp32_ci_set_init(&set);
    sgp32_ci_set_init(&brp_only);
    trust(&set, &n.ci);
    trust(&set, &b.ci);
    trust(&brp_only, &b.ci);
    sgp32_certificate c;
    assert_int_equal(
        sgp32_cert_verify_dp(&set, sgp32_buf_bytes(&n.dpauth), SGP32_CERT_ROLE_DP_AUTH, NULL, NOW, &c),
        SGP32_OK);
    assert_string_equal(c.registered_id.text, "2.999.10");
    assert_int_equal(
        sgp32_cert_verify_dp(&set, sgp32_buf_bytes(&b.dpauth), SGP32_CERT_ROLE_DP_AUTH, NULL, NOW, NULL),
        SGP32_OK);
    assert_int_equal(
        sgp32_cert_verify_dp(&set, sgp32_buf_bytes(&n.dppb), SGP32_CERT_ROLE_DP_PB, NULL, NOW, NULL),
        SGP32_OK);
    assert_int_equal(
        sgp32_cert_verify_dp(&set, sgp32_buf_bytes(&b.dppb), SGP32_CERT_ROLE_DP_PB, NULL, NOW, NULL),
        SGP32_OK);
    /* The roles are not interchangeable. */
    assert_int_equal(
        sgp32_cert_verify_dp(&set, sgp32_buf_bytes(&n.dppb), SGP32_CERT_ROLE_DP_AUTH, NULL, NOW, NULL),
        SGP32_ERR_CERT_POLICY);
    assert_int_equal(
        sgp32_cert_verify_dp(&brp_only, sgp32_buf_bytes(&n.dpauth), SGP32_CERT_ROLE_DP_AUTH, NULL, NOW, NULL),
        SGP32_ERR_CERT_UNKNOWN_CI);
    /* Valid through notAfter (2030-03-30 08:31:30), expired one second later. */
    assert_int_equal(sgp32_cert_verify_dp(&set, sgp32_buf_bytes(&n.dpauth), SGP32_CERT_ROLE_DP_AUTH, NULL,
                                          c.not_after, NULL),
                     SGP32_OK);
    assert_int_equal(sgp32_cert_verify_dp(&set, sgp32_buf_bytes(&n.dpauth), SGP32_CERT_ROLE_DP_AUTH, NULL,
                                          c.not_after + 1, NULL),
                     SGP32_ERR_CERT_EXPIRED);
    n.dpauth.data[n.dpauth.len - 1] ^= 0x01;
    assert_int_equal(
        sgp32_cert_verify_dp(&set, sgp32_buf_bytes(&n.dpauth), SGP32_CERT_ROLE_DP_AUTH, NULL, NOW, NULL),
        SGP32_ERR_CERT_SIGNATURE);
    assert_int_equal(sgp32_cert_verify_dp(&set, sgp32_buf_bytes(&n.dpauth), SGP32_CERT_ROLE_DP_AUTH,
                                          "localhost", NOW, NULL),
                     SGP32_ERR_INVALID_ARGUMENT);
    assert_int_equal(
        sgp32_cert_verify_dp(&set, sgp32_buf_bytes(&n.dpauth), SGP32_CERT_ROLE_EUM, NULL, NOW, NULL),
        SGP32_ERR_INVALID_ARGUMENT);

    /* DPtls (VARO, valid 2026-07-21 .. 2027-02-06), with its host name. */
    const char *tls_files[] = {SGP26 "DPtls/CERT_S_SM_DP_VARO_TLS_NIST.der",
                               SGP26 "DPtls/CERT_S_SM_DP_VARO_TLS_BRP.der"};
    for (size_t i = 0; i < 2; i++) {
        sgp32_buf tls = load(tls_files[i]);
        assert_int_equal(sgp32_cert_verify_dp(&set, sgp32_buf_bytes(&tls), SGP32_CERT_ROLE_DP_TLS,
                                              "testsmdpplus1.example.com", NOW, NULL),
                         SGP32_OK);
        assert_int_equal(
            sgp32_cert_verify_dp(&set, sgp32_buf_bytes(&tls), SGP32_CERT_ROLE_DP_TLS, "localhost", NOW, NULL),
            SGP32_ERR_CERT_HOST_MISMATCH);
        sgp32_certificate t;
        assert_int_equal(sgp32_cert_parse(tls.data, tls.len, &t), SGP32_OK);
        assert_int_equal(sgp32_cert_verify_dp(&set, sgp32_buf_bytes(&tls), SGP32_CERT_ROLE_DP_TLS, NULL,
                                              t.not_before - 1, NULL),
                         SGP32_ERR_CERT_NOT_YET_VALID);
        sgp32_buf_free(&tls);
    }
    /* The expired SGP.26 DP2 TLS certificate (2025-08-11), and the same without a clock. */
    sgp32_buf tls = load(SGP26 "DPtls/CERT_S_SM_DP2_TLS.der");
    assert_int_equal(
        sgp32_cert_verify_dp(&set, sgp32_buf_bytes(&tls), SGP32_CERT_ROLE_DP_TLS, NULL, NOW, NULL),
        SGP32_ERR_CERT_EXPIRED);
    assert_int_equal(sgp32_cert_verify_dp(&set, sgp32_buf_bytes(&tls), SGP32_CERT_ROLE_DP_TLS,
                                          "testsmdpplus2.example.com", SGP32_CERT_NO_TIME_CHECK, NULL),
                     SGP32_OK);
    sgp32_buf_free(&tls);

    sgp32_ci_set_free(&set);
    sgp32_ci_set_free(&brp_only);
    free_sgp26(&n);
    free_sgp26(&b);
}

/* ------------------------------------------------------ a fresh full set */

typedef struct pki {
    sgp32_curve curve;
    sgp32_ec_private_key ci_key, eum_key;
    sgp32_buf ci, eum, euicc[2], dpauth, dppb, dptls, eim_sign, eim_tls;
    char eids[2][SGP32_EID_DIGITS + 1];
} pki;

static const int64_t T0 = 1767225600;       /* 2026-01-01 */
static const int64_t T_END = 2524608000LL;  /* 2050-01-01: GeneralizedTime */
static const int64_t T_LEAF = 2082758400LL; /* 2036-01-01 */

static void issue_leaf(pki *p, sgp32_cert_profile profile, const char *cn, const char *rid, const char *dns,
                       sgp32_buf *out)
{
    sgp32_ec_private_key sk;
    sgp32_ec_public_key pk;
    assert_int_equal(sgp32_ec_generate(p->curve, &sk, &pk), SGP32_OK);
    const char *names[1] = {dns};
    sgp32_cert_request req = {
        .profile = profile,
        .organization = "sgp32 test",
        .common_name = cn,
        .subject_key = &pk,
        .not_before = T0,
        .not_after = T_LEAF,
        .registered_id = rid,
        .dns_names = names,
        .dns_count = dns ? 1 : 0,
    };
    sgp32_buf_init(out, 4096);
    assert_int_equal(sgp32_cert_issue(&req, p->ci.data, p->ci.len, &p->ci_key, out), SGP32_OK);
}

static void make_pki(pki *p, sgp32_curve curve)
{
    memset(p, 0, sizeof(*p));
    p->curve = curve;
    sgp32_ec_public_key ci_pub, eum_pub;
    assert_int_equal(sgp32_ec_generate(curve, &p->ci_key, &ci_pub), SGP32_OK);
    sgp32_cert_request ci = {
        .profile = SGP32_CERT_PROFILE_CI,
        .country = "DE",
        .organization = "sgp32 test",
        .common_name = "sgp32 Test CI",
        .not_before = T0,
        .not_after = T_END,
        .registered_id = "2.999.1",
    };
    sgp32_buf_init(&p->ci, 4096);
    assert_int_equal(sgp32_cert_issue(&ci, NULL, 0, &p->ci_key, &p->ci), SGP32_OK);

    assert_int_equal(sgp32_ec_generate(curve, &p->eum_key, &eum_pub), SGP32_OK);
    sgp32_cert_request eum = {
        .profile = SGP32_CERT_PROFILE_EUM,
        .country = "DE",
        .organization = "sgp32 Test EUM",
        .common_name = "sgp32 Test EUM",
        .subject_key = &eum_pub,
        .not_before = T0,
        .not_after = T_END,
        .permitted_organization = "sgp32 Test EUM",
        .permitted_serial_prefix = "89049999",
    };
    sgp32_buf_init(&p->eum, 4096);
    assert_int_equal(sgp32_cert_issue(&eum, p->ci.data, p->ci.len, &p->ci_key, &p->eum), SGP32_OK);

    for (size_t i = 0; i < 2; i++) {
        strcpy(p->eids[i], "89049999000000000000000000000100");
        p->eids[i][28] = (char)('1' + i);
        assert_int_equal(sgp32_eid_set_check_digits(p->eids[i]), SGP32_OK);
        sgp32_ec_private_key sk;
        sgp32_ec_public_key pk;
        assert_int_equal(sgp32_ec_generate(curve, &sk, &pk), SGP32_OK);
        sgp32_cert_request req = {
            .profile = SGP32_CERT_PROFILE_EUICC,
            .country = "DE",
            .organization = "sgp32 Test EUM",
            .serial_number = p->eids[i],
            .common_name = "sgp32 Test eUICC",
            .subject_key = &pk,
            .not_before = T0,
            .not_after = 253402300799LL, /* 9999-12-31 23:59:59: "no expiry" */
        };
        sgp32_buf_init(&p->euicc[i], 4096);
        assert_int_equal(sgp32_cert_issue(&req, p->eum.data, p->eum.len, &p->eum_key, &p->euicc[i]),
                         SGP32_OK);
    }
    issue_leaf(p, SGP32_CERT_PROFILE_DP_AUTH, "sgp32 SM-DP+", "2.999.10", NULL, &p->dpauth);
    issue_leaf(p, SGP32_CERT_PROFILE_DP_PB, "sgp32 SM-DP+", "2.999.10", NULL, &p->dppb);
    issue_leaf(p, SGP32_CERT_PROFILE_DP_TLS, "localhost", "2.999.10", "localhost", &p->dptls);
    issue_leaf(p, SGP32_CERT_PROFILE_EIM_SIGNING, "eim-1", NULL, NULL, &p->eim_sign);
    issue_leaf(p, SGP32_CERT_PROFILE_EIM_TLS, "eim.localhost", NULL, "eim.localhost", &p->eim_tls);
}

static void free_pki(pki *p)
{
    sgp32_buf *bufs[] = {&p->ci,   &p->eum,   &p->euicc[0], &p->euicc[1], &p->dpauth,
                         &p->dppb, &p->dptls, &p->eim_sign, &p->eim_tls};
    for (size_t i = 0; i < SGP32_ARRAY_LEN(bufs); i++)
        sgp32_buf_free(bufs[i]);
    sgp32_secure_zero(&p->ci_key, sizeof(p->ci_key));
    sgp32_secure_zero(&p->eum_key, sizeof(p->eum_key));
}

static void fresh_set_verifies(void **state)
{
    (void)state;
    const sgp32_curve curves[] = {SGP32_CURVE_NIST_P256, SGP32_CURVE_BRAINPOOL_P256R1};
    pki p[2];
    sgp32_ci_set set;
    sgp32_ci_set_init(&set);
    for (size_t i = 0; i < 2; i++) {
        make_pki(&p[i], curves[i]);
        trust(&set, &p[i].ci);
    }
    const int64_t now = T0 + 86400;
    for (size_t i = 0; i < 2; i++) {
        sgp32_certificate c;
        assert_int_equal(sgp32_cert_parse(p[i].ci.data, p[i].ci.len, &c), SGP32_OK);
        assert_int_equal(c.role, SGP32_CERT_ROLE_CI);
        assert_int_equal(c.public_key.curve, curves[i]);
        assert_int_equal(c.not_before, T0);
        assert_int_equal(c.not_after, T_END);
        assert_int_equal(c.serial_len, 16);
        assert_int_equal(c.ski.len, 20);

        assert_int_equal(sgp32_cert_parse(p[i].eum.data, p[i].eum.len, &c), SGP32_OK);
        assert_int_equal(c.role, SGP32_CERT_ROLE_EUM);
        assert_true(c.role_critical);
        assert_true(c.is_ca);
        assert_int_equal(c.path_len, 0);
        assert_string_equal(c.name_constraint.organization, "sgp32 Test EUM");
        assert_string_equal(c.name_constraint.serial_number_prefix, "89049999");

        for (size_t k = 0; k < 2; k++) {
            uint8_t eid[SGP32_EID_LEN];
            assert_int_equal(sgp32_eid_from_text(p[i].eids[k], eid), SGP32_OK);
            sgp32_euicc_chain chain;
            assert_int_equal(sgp32_cert_verify_euicc_chain(&set, sgp32_buf_bytes(&p[i].eum),
                                                           sgp32_buf_bytes(&p[i].euicc[k]), now, eid, &chain),
                             SGP32_OK);
            assert_int_equal(chain.ci_index, i);
            assert_int_equal(chain.euicc.not_after, 253402300799LL);
        }
        /* Cross-curve mix-ups are caught. */
        assert_int_equal(sgp32_cert_verify_euicc_chain(&set, sgp32_buf_bytes(&p[i].eum),
                                                       sgp32_buf_bytes(&p[1 - i].euicc[0]), now, NULL, NULL),
                         SGP32_ERR_CERT_CHAIN);

        assert_int_equal(
            sgp32_cert_verify_dp(&set, sgp32_buf_bytes(&p[i].dpauth), SGP32_CERT_ROLE_DP_AUTH, NULL, now, &c),
            SGP32_OK);
        assert_string_equal(c.registered_id.text, "2.999.10");
        assert_int_equal(
            sgp32_cert_verify_dp(&set, sgp32_buf_bytes(&p[i].dppb), SGP32_CERT_ROLE_DP_PB, NULL, now, NULL),
            SGP32_OK);
        assert_int_equal(sgp32_cert_verify_dp(&set, sgp32_buf_bytes(&p[i].dptls), SGP32_CERT_ROLE_DP_TLS,
                                              "localhost", now, &c),
                         SGP32_OK);
        assert_false(c.role_critical);
        assert_true(c.ext_key_usage & SGP32_CERT_EKU_SERVER_AUTH);
        assert_int_equal(sgp32_cert_verify_dp(&set, sgp32_buf_bytes(&p[i].dptls), SGP32_CERT_ROLE_DP_TLS,
                                              NULL, T_LEAF + 1, NULL),
                         SGP32_ERR_CERT_EXPIRED);

        /* eIM certificates: no GSMA role, checked with the generic issuer check. */
        assert_int_equal(
            sgp32_cert_verify_issued_by(sgp32_buf_bytes(&p[i].eim_sign), sgp32_buf_bytes(&p[i].ci), now, &c),
            SGP32_OK);
        assert_int_equal(c.role, SGP32_CERT_ROLE_NONE);
        assert_string_equal(c.subject.common_name, "eim-1");
        assert_int_equal(
            sgp32_cert_verify_issued_by(sgp32_buf_bytes(&p[i].eim_tls), sgp32_buf_bytes(&p[i].ci), now, &c),
            SGP32_OK);
        assert_true(sgp32_cert_matches_host(&c, "eim.localhost"));
        assert_int_equal(sgp32_cert_verify_issued_by(sgp32_buf_bytes(&p[i].eim_sign),
                                                     sgp32_buf_bytes(&p[1 - i].ci), now, NULL),
                         SGP32_ERR_CERT_CHAIN);
        /* A leaf does not issue certificates; a CI vouches for itself. */
        assert_int_equal(sgp32_cert_verify_issued_by(sgp32_buf_bytes(&p[i].eim_sign),
                                                     sgp32_buf_bytes(&p[i].eim_sign), now, NULL),
                         SGP32_ERR_CERT_CHAIN);
        assert_int_equal(
            sgp32_cert_verify_issued_by(sgp32_buf_bytes(&p[i].ci), sgp32_buf_bytes(&p[i].ci), now, NULL),
            SGP32_OK);
        p[i].eim_sign.data[p[i].eim_sign.len - 1] ^= 0x01;
        assert_int_equal(sgp32_cert_verify_issued_by(sgp32_buf_bytes(&p[i].eim_sign),
                                                     sgp32_buf_bytes(&p[i].ci), now, NULL),
                         SGP32_ERR_CERT_SIGNATURE);
    }
    for (size_t i = 0; i < 2; i++)
        free_pki(&p[i]);
    sgp32_ci_set_free(&set);
}

static void issue_argument_checks(void **state)
{
    (void)state;
    pki p;
    make_pki(&p, SGP32_CURVE_NIST_P256);
    sgp32_ec_private_key sk;
    sgp32_ec_public_key pk;
    assert_int_equal(sgp32_ec_generate(SGP32_CURVE_NIST_P256, &sk, &pk), SGP32_OK);
    sgp32_buf out;
    sgp32_buf_init(&out, 4096);
    sgp32_cert_request req = {
        .profile = SGP32_CERT_PROFILE_DP_AUTH,
        .common_name = "x",
        .subject_key = &pk,
        .not_before = T0,
        .not_after = T_LEAF,
        .registered_id = "2.999.10",
    };
    /* Signed with a key that is not the issuer's. */
    assert_int_equal(sgp32_cert_issue(&req, p.ci.data, p.ci.len, &sk, &out), SGP32_ERR_CRYPTO_BAD_KEY);
    /* DPauth without the SM-DP+ OID, TLS without a host name, bad OID, bad dates, bad country. */
    req.registered_id = NULL;
    assert_int_equal(sgp32_cert_issue(&req, p.ci.data, p.ci.len, &p.ci_key, &out),
                     SGP32_ERR_INVALID_ARGUMENT);
    req.registered_id = "not an oid";
    assert_int_equal(sgp32_cert_issue(&req, p.ci.data, p.ci.len, &p.ci_key, &out),
                     SGP32_ERR_INVALID_ARGUMENT);
    req.registered_id = "2.999.10";
    req.profile = SGP32_CERT_PROFILE_DP_TLS;
    assert_int_equal(sgp32_cert_issue(&req, p.ci.data, p.ci.len, &p.ci_key, &out),
                     SGP32_ERR_INVALID_ARGUMENT);
    req.profile = SGP32_CERT_PROFILE_DP_AUTH;
    req.not_after = T0 - 1;
    assert_int_equal(sgp32_cert_issue(&req, p.ci.data, p.ci.len, &p.ci_key, &out),
                     SGP32_ERR_INVALID_ARGUMENT);
    req.not_after = 253402300800LL; /* year 10000 */
    assert_int_equal(sgp32_cert_issue(&req, p.ci.data, p.ci.len, &p.ci_key, &out),
                     SGP32_ERR_INVALID_ARGUMENT);
    req.not_after = T_LEAF;
    req.country = "DEU";
    assert_int_equal(sgp32_cert_issue(&req, p.ci.data, p.ci.len, &p.ci_key, &out),
                     SGP32_ERR_INVALID_ARGUMENT);
    req.country = NULL;
    assert_int_equal(out.len, 0);
    /* 1950 is the earliest date X.509 can carry as UTCTime. */
    req.not_before = -631152000LL;
    assert_int_equal(sgp32_cert_issue(&req, p.ci.data, p.ci.len, &p.ci_key, &out), SGP32_OK);
    sgp32_certificate c;
    assert_int_equal(sgp32_cert_parse(out.data, out.len, &c), SGP32_OK);
    assert_int_equal(c.not_before, -631152000LL);
    sgp32_buf_free(&out);
    free_pki(&p);
}

/* ------------------------------------------- OpenSSL as a TLS client would */

static X509 *x509_of(const sgp32_buf *b)
{
    const unsigned char *p = b->data;
    X509 *x = d2i_X509(NULL, &p, (long)b->len);
    assert_non_null(x);
    return x;
}

static int openssl_verify_server(const pki *p, const sgp32_buf *leaf, const char *host)
{
    X509 *ci = x509_of(&p->ci), *server = x509_of(leaf);
    X509_STORE *store = X509_STORE_new();
    assert_int_equal(X509_STORE_add_cert(store, ci), 1);
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    assert_int_equal(X509_STORE_CTX_init(ctx, store, server, NULL), 1);
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(param, (time_t)(T0 + 86400));
    X509_VERIFY_PARAM_set1_host(param, host, 0);
    X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
    int ok = X509_verify_cert(ctx);
    int err = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    X509_free(ci);
    X509_free(server);
    return err;
}

static void openssl_accepts_issued_tls_certificates(void **state)
{
    (void)state;
    const sgp32_curve curves[] = {SGP32_CURVE_NIST_P256, SGP32_CURVE_BRAINPOOL_P256R1};
    for (size_t i = 0; i < 2; i++) {
        pki p;
        make_pki(&p, curves[i]);
        assert_int_equal(openssl_verify_server(&p, &p.dptls, "localhost"), X509_V_OK);
        assert_int_equal(openssl_verify_server(&p, &p.eim_tls, "eim.localhost"), X509_V_OK);
        assert_int_equal(openssl_verify_server(&p, &p.dptls, "example.com"), X509_V_ERR_HOSTNAME_MISMATCH);
        /* DPauth is no TLS server certificate (no serverAuth). */
        assert_int_not_equal(openssl_verify_server(&p, &p.dpauth, "localhost"), X509_V_OK);
        free_pki(&p);
    }
}

/* The newer EUM variant: policy 2.23.146.1.2.1.0.0.0 and permittedEins
 * (2.23.146.1.2.2.0, SEQUENCE OF PrintableString) instead of nameConstraints.
 * Our issuer does not write it, so the EUM is built here with OpenSSL. */
static sgp32_buf make_eum_v2(const pki *p, const sgp32_ec_public_key *eum_pub)
{
    sgp32_buf pem, spki;
    sgp32_buf_init(&pem, 4096);
    sgp32_buf_init(&spki, 4096);
    assert_int_equal(sgp32_ec_private_to_pem(&p->ci_key, &pem), SGP32_OK);
    assert_int_equal(sgp32_ec_public_to_spki(eum_pub, &spki), SGP32_OK);
    BIO *bio = BIO_new_mem_buf(pem.data, (int)pem.len);
    EVP_PKEY *ci_key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    const unsigned char *q = spki.data;
    EVP_PKEY *eum_key = d2i_PUBKEY(NULL, &q, (long)spki.len);
    X509 *ci = x509_of(&p->ci);
    assert_non_null(ci_key);
    assert_non_null(eum_key);

    X509 *x = X509_new();
    assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"EUM v2", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)"EUM v2", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(ci));
    ASN1_TIME_set(X509_getm_notBefore(x), (time_t)T0);
    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)T_LEAF);
    X509_set_pubkey(x, eum_key);
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, ci, x, NULL, NULL, 0);
    const char *exts[][2] = {
        {"subjectKeyIdentifier", "hash"},
        {"authorityKeyIdentifier", "keyid"},
        {"basicConstraints", "critical,CA:TRUE,pathlen:0"},
        {"keyUsage", "critical,keyCertSign"},
        /* SEQUENCE { PolicyInformation { 2.23.146.1.2.1.0.0.0 } } */
        {"certificatePolicies", "critical,DER:300D300B0609678112010201000000"},
        /* SEQUENCE { PrintableString "89049011", PrintableString "8904902" } */
        {"2.23.146.1.2.2.0", "critical,DER:301313083839303439303131130738393034393032"},
    };
    for (size_t i = 0; i < SGP32_ARRAY_LEN(exts); i++) {
        X509_EXTENSION *ext = X509V3_EXT_nconf(NULL, &ctx, exts[i][0], exts[i][1]);
        assert_non_null(ext);
        assert_int_equal(X509_add_ext(x, ext, -1), 1);
        X509_EXTENSION_free(ext);
    }
    assert_true(X509_sign(x, ci_key, EVP_sha256()) > 0);
    sgp32_buf der;
    sgp32_buf_init(&der, 4096);
    uint8_t *out;
    int len = i2d_X509(x, NULL);
    assert_int_equal(sgp32_buf_extend(&der, (size_t)len, &out), SGP32_OK);
    assert_int_equal(i2d_X509(x, &out), len);
    X509_free(x);
    X509_free(ci);
    EVP_PKEY_free(eum_key);
    EVP_PKEY_free(ci_key);
    BIO_free(bio);
    sgp32_secure_zero(pem.data, pem.len);
    sgp32_buf_free(&pem);
    sgp32_buf_free(&spki);
    return der;
}

static void eum_v2_permitted_eins(void **state)
{
    (void)state;
    pki p;
    make_pki(&p, SGP32_CURVE_NIST_P256);
    sgp32_ci_set set;
    sgp32_ci_set_init(&set);
    trust(&set, &p.ci);
    sgp32_ec_private_key eum_key, sk;
    sgp32_ec_public_key eum_pub, pk;
    assert_int_equal(sgp32_ec_generate(SGP32_CURVE_NIST_P256, &eum_key, &eum_pub), SGP32_OK);
    sgp32_buf eum = make_eum_v2(&p, &eum_pub);

    sgp32_certificate c;
    assert_int_equal(sgp32_cert_parse(eum.data, eum.len, &c), SGP32_OK);
    assert_int_equal(c.role, SGP32_CERT_ROLE_EUM);
    assert_string_equal(c.policy, "2.23.146.1.2.1.0.0.0");
    assert_false(c.name_constraint.present);
    assert_int_equal(c.permitted_eins_count, 2);
    assert_string_equal(c.permitted_eins[0], "89049011");
    assert_string_equal(c.permitted_eins[1], "8904902");
    assert_false(c.unknown_critical_extension);

    const char *bodies[] = {"89049011000000000000000000000100", "89049029000000000000000000000100",
                            "89049032000000000000000000000100"};
    const int expected[] = {SGP32_OK, SGP32_OK, SGP32_ERR_CERT_NAME_CONSTRAINT};
    for (size_t i = 0; i < SGP32_ARRAY_LEN(bodies); i++) {
        char eid[SGP32_EID_DIGITS + 1];
        strcpy(eid, bodies[i]);
        assert_int_equal(sgp32_eid_set_check_digits(eid), SGP32_OK);
        assert_int_equal(sgp32_ec_generate(SGP32_CURVE_NIST_P256, &sk, &pk), SGP32_OK);
        sgp32_cert_request req = {
            .profile = SGP32_CERT_PROFILE_EUICC,
            .organization = "EUM v2",
            .serial_number = eid,
            .subject_key = &pk,
            .not_before = T0,
            .not_after = T_LEAF,
        };
        sgp32_buf euicc;
        sgp32_buf_init(&euicc, 4096);
        assert_int_equal(sgp32_cert_issue(&req, eum.data, eum.len, &eum_key, &euicc), SGP32_OK);
        assert_int_equal(sgp32_cert_verify_euicc_chain(&set, sgp32_buf_bytes(&eum), sgp32_buf_bytes(&euicc),
                                                       T0 + 1, NULL, NULL),
                         expected[i]);
        sgp32_buf_free(&euicc);
    }
    sgp32_buf_free(&eum);
    sgp32_ci_set_free(&set);
    free_pki(&p);
}

/* ------------------------------------------------------ allocation failures */

typedef struct alloc_ctx {
    const sgp26 *s;
} alloc_ctx;

static int verify_op(void *ctx)
{
    const sgp26 *s = ((alloc_ctx *)ctx)->s;
    sgp32_ci_set set;
    sgp32_ci_set_init(&set);
    int rc = sgp32_ci_set_add(&set, s->ci.data, s->ci.len);
    if (rc == SGP32_OK)
        rc = sgp32_cert_verify_euicc_chain(&set, sgp32_buf_bytes(&s->eum), sgp32_buf_bytes(&s->euicc), NOW,
                                           NULL, NULL);
    if (rc == SGP32_OK)
        rc =
            sgp32_cert_verify_dp(&set, sgp32_buf_bytes(&s->dpauth), SGP32_CERT_ROLE_DP_AUTH, NULL, NOW, NULL);
    if (rc == SGP32_OK)
        rc = sgp32_cert_verify_issued_by(sgp32_buf_bytes(&s->dppb), sgp32_buf_bytes(&s->ci), NOW, NULL);
    sgp32_ci_set_free(&set);
    return rc;
}

static void verify_survives_allocation_failures(void **state)
{
    (void)state;
    sgp26 s = load_sgp26(SGP32_CURVE_NIST_P256);
    alloc_ctx ctx = {&s};
    assert_true(test_alloc_fail_each(verify_op, &ctx) >= 4);
    free_sgp26(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sgp26_ci_fields),
        cmocka_unit_test(sgp26_eum_and_euicc_fields),
        cmocka_unit_test(sgp26_dp_fields),
        cmocka_unit_test(parse_rejects_garbage),
        cmocka_unit_test(names_link_by_canonical_form),
        cmocka_unit_test(role_names),
        cmocka_unit_test(host_matching),
        cmocka_unit_test(ci_set_rules),
        cmocka_unit_test(sgp26_euicc_chain_verifies),
        cmocka_unit_test(openssl_rejects_sgp26_name_constraints),
        cmocka_unit_test(euicc_chain_errors),
        cmocka_unit_test(euicc_rules_on_issued_certificates),
        cmocka_unit_test(sgp26_dp_chains),
        cmocka_unit_test(fresh_set_verifies),
        cmocka_unit_test(issue_argument_checks),
        cmocka_unit_test(openssl_accepts_issued_tls_certificates),
        cmocka_unit_test(eum_v2_permitted_eins),
        cmocka_unit_test(verify_survives_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

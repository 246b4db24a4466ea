/*
 * lib/crypto: SHA-256, EC keys (SGP.26 test PKI), ECDSA raw/DER, ECKA,
 * X9.63 KDF, AES-CMAC, BSP (SCP03t) and the confirmation code hash.
 *
 * Known-answer vectors and where they come from:
 * - SHA-256: FIPS 180-2 Appendix B.1 ("abc") and the empty-string digest.
 * - X9.63 KDF: NIST CAVP "ansx963_2001.rsp" (800-135 component test vectors), [SHA-256].
 * - AES-CMAC: RFC 4493 §4, examples 1-4.
 * - EC generator points: SEC 2 (P-256) and RFC 5639 §3.4 (brainpoolP256r1).
 * - BSP keys and segments: the fixed-key vectors of osmocom pySim's
 *   tests/unittests/test_esim_bsp.py (BSP_Test, BSP_Test_mode51), which that
 *   project took from a third-party SM-DP+ trace; only the bytes are used.
 * - Computed here with the openssl command line tool (OpenSSL 3.0), an
 *   independent path from this library's code:
 *     ECKA Z:  openssl pkeyutl -derive -inkey SK_EUICC_ECDSA_<c>.pem -peerkey PK_S_SM_DPpb_ECDSA_<c>.pem
 *              (and the reverse direction gives the same Z);
 *     ECDSA:   printf 'sgp32 crypto test message' | openssl dgst -sha256 -sign SK_EUICC_ECDSA_<c>.pem;
 *     BSP KDF: the X9.63 blocks by hand, printf Z||counter32||SharedInfo | xxd -r -p | openssl dgst -sha256;
 *     hashCc:  openssl dgst -sha256 of "12345678", then of that digest || transactionId.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc_fail.h"
#include "sgp32/certificate.h"
#include "sgp32/crypto.h"
#include "sgp32/text.h"
#include "../../lib/crypto/crypto_internal.h"

#include <openssl/obj_mac.h>

#define SGP26 SGP32_SPEC_DIR "/sgp26/"

/* ------------------------------------------------------------ helpers */

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    sgp32_buf b;
    sgp32_buf_init_fixed(&b, out, cap);
    assert_int_equal(sgp32_hex_decode(hex, strlen(hex), &b), SGP32_OK);
    return b.len;
}

static size_t read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    size_t n = fread(buf, 1, cap - 1, f);
    assert_true(feof(f));
    fclose(f);
    buf[n] = '\0';
    return n;
}

static void load_private(const char *path, sgp32_ec_private_key *priv)
{
    char pem[4096];
    size_t n = read_file(path, pem, sizeof(pem));
    assert_int_equal(sgp32_ec_private_from_pem(pem, n, priv), SGP32_OK);
}

/* The DER inside a "PUBLIC KEY" PEM file, decoded by the project's base64 (not by OpenSSL). */
static size_t load_spki(const char *path, uint8_t *der, size_t cap)
{
    char pem[4096];
    read_file(path, pem, sizeof(pem));
    const char *begin = strstr(pem, "-----BEGIN PUBLIC KEY-----");
    const char *end = strstr(pem, "-----END PUBLIC KEY-----");
    assert_non_null(begin);
    assert_non_null(end);
    begin += strlen("-----BEGIN PUBLIC KEY-----");
    sgp32_buf b;
    sgp32_buf_init_fixed(&b, der, cap);
    assert_int_equal(sgp32_base64_decode(begin, (size_t)(end - begin), &b), SGP32_OK);
    return b.len;
}

static void load_public(const char *path, sgp32_ec_public_key *pub)
{
    uint8_t der[256];
    size_t n = load_spki(path, der, sizeof(der));
    assert_int_equal(sgp32_ec_public_from_spki(der, n, pub), SGP32_OK);
}

/* Split a protected segment tag || BER length || value, checking the length covers the rest exactly. */
static void split_segment(const uint8_t *seg, size_t n, uint8_t *tag, const uint8_t **value, size_t *len)
{
    assert_true(n >= 2);
    *tag = seg[0];
    size_t hdr, vlen;
    if (seg[1] < 0x80) {
        hdr = 2;
        vlen = seg[1];
    } else if (seg[1] == 0x81) {
        hdr = 3;
        vlen = seg[2];
        assert_true(vlen >= 0x80); /* minimal */
    } else {
        assert_int_equal(seg[1], 0x82);
        hdr = 4;
        vlen = (size_t)seg[2] << 8 | seg[3];
        assert_true(vlen > 0xFF);
    }
    assert_int_equal(n, hdr + vlen);
    *value = seg + hdr;
    *len = vlen;
}

static void bsp_from_hex(sgp32_bsp *bsp, const char *enc, const char *mac, const char *mcv)
{
    uint8_t e[16], m[16], c[16];
    assert_int_equal(unhex(enc, e, 16), 16);
    assert_int_equal(unhex(mac, m, 16), 16);
    assert_int_equal(unhex(mcv, c, 16), 16);
    memset(bsp, 0xA5, sizeof(*bsp));
    sgp32_bsp_rekey(bsp, e, m, c);
}

/* ------------------------------------------------------------ hashes, random */

static void sha256_known_answers(void **state)
{
    (void)state;
    uint8_t expect[32], out[32];
    unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", expect, 32);
    assert_int_equal(sgp32_sha256((const uint8_t *)"abc", 3, out), SGP32_OK);
    assert_memory_equal(out, expect, 32);
    const sgp32_bytes parts[] = {SGP32_BYTES("a", 1), SGP32_BYTES(NULL, 0), SGP32_BYTES("bc", 2)};
    memset(out, 0, sizeof(out));
    assert_int_equal(sgp32_sha256_parts(parts, 3, out), SGP32_OK);
    assert_memory_equal(out, expect, 32);

    unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", expect, 32);
    assert_int_equal(sgp32_sha256(NULL, 0, out), SGP32_OK);
    assert_memory_equal(out, expect, 32);
    assert_int_equal(sgp32_sha256(NULL, 1, out), SGP32_ERR_INVALID_ARGUMENT);
}

static void random_bytes_are_fresh(void **state)
{
    (void)state;
    uint8_t a[32] = {0}, b[32] = {0}, zero[32] = {0};
    assert_int_equal(sgp32_random_bytes(a, sizeof(a)), SGP32_OK);
    assert_int_equal(sgp32_random_bytes(b, sizeof(b)), SGP32_OK);
    assert_memory_not_equal(a, b, sizeof(a));
    assert_memory_not_equal(a, zero, sizeof(a));
    assert_int_equal(sgp32_random_bytes(NULL, 0), SGP32_OK);
    assert_int_equal(sgp32_random_bytes(NULL, 1), SGP32_ERR_INVALID_ARGUMENT);
}

static void secure_zero_wipes(void **state)
{
    (void)state;
    uint8_t key[24];
    memset(key, 0x5A, sizeof(key));
    sgp32_secure_zero(key, sizeof(key));
    for (size_t i = 0; i < sizeof(key); i++)
        assert_int_equal(key[i], 0);
    sgp32_secure_zero(NULL, 5);
}

static void curve_names(void **state)
{
    (void)state;
    assert_string_equal(sgp32_curve_name(SGP32_CURVE_NIST_P256), "NIST P-256");
    assert_string_equal(sgp32_curve_name(SGP32_CURVE_BRAINPOOL_P256R1), "brainpoolP256r1");
    assert_string_equal(sgp32_curve_name((sgp32_curve)7), "unknown curve");
}

/* ------------------------------------------------------------ EC keys */

static const struct {
    sgp32_curve curve;
    const char *g;     /* 04 || Gx || Gy */
    const char *order; /* n */
} curves[] = {
    {SGP32_CURVE_NIST_P256,
     "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce3"
     "357"
     "6b315ececbb6406837bf51f5",
     "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"},
    {SGP32_CURVE_BRAINPOOL_P256R1,
     "048bd2aeb9cb7e57cb2c4b482ffc81b7afb9de27e1e3bd23c23a4453bd9ace3262547ef835c3dac4fd97f8461a14611dc9c2774"
     "513"
     "2ded8e545c1d54c72f046997",
     "a9fb57dba1eea9bc3e660a909d838d718c397aa3b561a6f7901e0e82974856a7"},
};

static void public_from_private_generator_and_range(void **state)
{
    (void)state;
    for (size_t c = 0; c < SGP32_ARRAY_LEN(curves); c++) {
        sgp32_ec_private_key priv = {curves[c].curve, {0}};
        sgp32_ec_public_key pub, g;
        g.curve = curves[c].curve;
        assert_int_equal(unhex(curves[c].g, g.point, sizeof(g.point)), SGP32_EC_POINT_LEN);

        priv.scalar[31] = 1; /* 1*G = G */
        assert_int_equal(sgp32_ec_public_from_private(&priv, &pub), SGP32_OK);
        assert_int_equal(pub.curve, curves[c].curve);
        assert_memory_equal(pub.point, g.point, SGP32_EC_POINT_LEN);
        assert_int_equal(sgp32_ec_public_validate(&g), SGP32_OK);

        /* (n-1)*G = -G: same x, y = p - Gy. */
        unhex(curves[c].order, priv.scalar, 32);
        priv.scalar[31] -= 1;
        assert_int_equal(sgp32_ec_public_from_private(&priv, &pub), SGP32_OK);
        assert_memory_equal(pub.point, g.point, 33);
        assert_memory_not_equal(pub.point + 33, g.point + 33, 32);

        /* Scalars outside [1, n-1] are refused. */
        priv.scalar[31] += 1; /* n */
        assert_int_equal(sgp32_ec_public_from_private(&priv, &pub), SGP32_ERR_CRYPTO_BAD_KEY);
        memset(priv.scalar, 0xFF, 32);
        assert_int_equal(sgp32_ec_public_from_private(&priv, &pub), SGP32_ERR_CRYPTO_BAD_KEY);
        memset(priv.scalar, 0, 32);
        assert_int_equal(sgp32_ec_public_from_private(&priv, &pub), SGP32_ERR_CRYPTO_BAD_KEY);
    }
    sgp32_ec_private_key bad = {(sgp32_curve)9, {1}};
    sgp32_ec_public_key pub;
    assert_int_equal(sgp32_ec_public_from_private(&bad, &pub), SGP32_ERR_CRYPTO_UNSUPPORTED_CURVE);
}

static void public_validate_rejects_bad_points(void **state)
{
    (void)state;
    sgp32_ec_public_key pub;
    load_public(SGP26 "eUICC/PK_EUICC_ECDSA_NIST.pem", &pub);
    assert_int_equal(sgp32_ec_public_validate(&pub), SGP32_OK);

    sgp32_ec_public_key bad = pub;
    bad.point[64] ^= 0x01; /* off the curve */
    assert_int_equal(sgp32_ec_public_validate(&bad), SGP32_ERR_CRYPTO_BAD_KEY);
    bad = pub;
    bad.point[0] = 0x02; /* compressed/hybrid prefixes are not our wire form */
    assert_int_equal(sgp32_ec_public_validate(&bad), SGP32_ERR_CRYPTO_BAD_KEY);
    bad = pub;
    bad.curve = SGP32_CURVE_BRAINPOOL_P256R1; /* a P-256 point is not on brainpoolP256r1 */
    assert_int_equal(sgp32_ec_public_validate(&bad), SGP32_ERR_CRYPTO_BAD_KEY);
    memset(bad.point, 0, sizeof(bad.point));
    bad.point[0] = 0x04;
    assert_int_equal(sgp32_ec_public_validate(&bad), SGP32_ERR_CRYPTO_BAD_KEY);
    bad = pub;
    memset(bad.point + 1, 0xFF, 32); /* x >= p */
    assert_int_equal(sgp32_ec_public_validate(&bad), SGP32_ERR_CRYPTO_BAD_KEY);
    bad = pub;
    bad.curve = (sgp32_curve)0;
    assert_int_equal(sgp32_ec_public_validate(&bad), SGP32_ERR_CRYPTO_UNSUPPORTED_CURVE);
}

/* Every SGP.26 private key loads (EC PARAMETERS in front) and derives exactly its PK_ file. */
static void sgp26_keys_match_their_public_keys(void **state)
{
    (void)state;
    static const struct {
        const char *sk, *pk;
        sgp32_curve curve;
    } pairs[] = {
        {"eUICC/SK_EUICC_ECDSA_NIST.pem", "eUICC/PK_EUICC_ECDSA_NIST.pem", SGP32_CURVE_NIST_P256},
        {"eUICC/SK_EUICC_ECDSA_BRP.pem", "eUICC/PK_EUICC_ECDSA_BRP.pem", SGP32_CURVE_BRAINPOOL_P256R1},
        {"EUM/SK_EUM_ECDSA_NIST.pem", "EUM/PK_EUM_ECDSA_NIST.pem", SGP32_CURVE_NIST_P256},
        {"EUM/SK_EUM_ECDSA_BRP.pem", "EUM/PK_EUM_ECDSA_BRP.pem", SGP32_CURVE_BRAINPOOL_P256R1},
        {"DPpb/SK_S_SM_DPpb_ECDSA_NIST.pem", "DPpb/PK_S_SM_DPpb_ECDSA_NIST.pem", SGP32_CURVE_NIST_P256},
        {"DPpb/SK_S_SM_DPpb_ECDSA_BRP.pem", "DPpb/PK_S_SM_DPpb_ECDSA_BRP.pem", SGP32_CURVE_BRAINPOOL_P256R1},
        {"DPauth/SK_S_SM_DPauth_ECDSA_NIST.pem", "DPauth/PK_S_SM_DPauth_ECDSA_NIST.pem",
         SGP32_CURVE_NIST_P256},
        {"DPauth/SK_S_SM_DPauth_ECDSA_BRP.pem", "DPauth/PK_S_SM_DPauth_ECDSA_BRP.pem",
         SGP32_CURVE_BRAINPOOL_P256R1},
    };
    char path[512];
    for (size_t i = 0; i < SGP32_ARRAY_LEN(pairs); i++) {
        sgp32_ec_private_key priv;
        sgp32_ec_public_key derived, filed;
        snprintf(path, sizeof(path), "%s%s", SGP26, pairs[i].sk);
        load_private(path, &priv);
        assert_int_equal(priv.curve, pairs[i].curve);
        assert_int_equal(sgp32_ec_public_from_private(&priv, &derived), SGP32_OK);

        uint8_t der[256], der_out[256];
        snprintf(path, sizeof(path), "%s%s", SGP26, pairs[i].pk);
        size_t der_len = load_spki(path, der, sizeof(der));
        assert_int_equal(sgp32_ec_public_from_spki(der, der_len, &filed), SGP32_OK);
        assert_int_equal(filed.curve, pairs[i].curve);
        assert_memory_equal(derived.point, filed.point, SGP32_EC_POINT_LEN);

        /* SPKI export reproduces the file byte for byte (named curve, uncompressed point). */
        sgp32_buf out;
        sgp32_buf_init_fixed(&out, der_out, sizeof(der_out));
        assert_int_equal(sgp32_ec_public_to_spki(&filed, &out), SGP32_OK);
        assert_int_equal(out.len, der_len);
        assert_memory_equal(der_out, der, der_len);
    }
    /* The first bytes of the SGP.26 eUICC NIST scalar, as printed by openssl ec -text. */
    sgp32_ec_private_key priv;
    load_private(SGP26 "eUICC/SK_EUICC_ECDSA_NIST.pem", &priv);
    uint8_t head[4] = {0x11, 0xe1, 0x54, 0x67};
    assert_memory_equal(priv.scalar, head, 4);
}

static void pem_export_round_trip_and_rejects(void **state)
{
    (void)state;
    for (size_t c = 0; c < SGP32_ARRAY_LEN(curves); c++) {
        sgp32_ec_private_key priv, back;
        sgp32_ec_public_key pub;
        assert_int_equal(sgp32_ec_generate(curves[c].curve, &priv, &pub), SGP32_OK);
        sgp32_buf pem;
        sgp32_buf_init(&pem, 4096);
        assert_int_equal(sgp32_buf_append(&pem, "x", 1), SGP32_OK); /* output is appended */
        assert_int_equal(sgp32_ec_private_to_pem(&priv, &pem), SGP32_OK);
        const char *text = (const char *)pem.data + 1;
        assert_int_equal(strlen(text), pem.len - 1); /* NUL-terminated, NUL not counted */
        assert_true(strncmp(text, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
        assert_non_null(strstr(text, "-----END PRIVATE KEY-----"));
        assert_int_equal(sgp32_ec_private_from_pem(text, pem.len - 1, &back), SGP32_OK);
        assert_int_equal(back.curve, priv.curve);
        assert_memory_equal(back.scalar, priv.scalar, 32);
        sgp32_secure_zero(pem.data, pem.len);
        sgp32_buf_free(&pem);
    }

    sgp32_ec_private_key priv;
    char pem[4096];
    size_t n = read_file(SGP26 "eUICC/SK_EUICC_ECDSA_BRP.pem", pem, sizeof(pem));
    /* Only the EC PARAMETERS block: no key. */
    const char *key = strstr(pem, "-----BEGIN EC PRIVATE KEY-----");
    assert_non_null(key);
    assert_int_equal(sgp32_ec_private_from_pem(pem, (size_t)(key - pem), &priv), SGP32_ERR_CRYPTO_BAD_KEY);
    /* A truncated key. */
    assert_int_equal(sgp32_ec_private_from_pem(pem, n - 60, &priv), SGP32_ERR_CRYPTO_BAD_KEY);
    /* A damaged base64 body. */
    char broken[4096];
    memcpy(broken, pem, n + 1);
    broken[(key - pem) + 40] = '*';
    assert_int_equal(sgp32_ec_private_from_pem(broken, n, &priv), SGP32_ERR_CRYPTO_BAD_KEY);
    /* A public key file is not a private key. */
    n = read_file(SGP26 "eUICC/PK_EUICC_ECDSA_BRP.pem", pem, sizeof(pem));
    assert_int_equal(sgp32_ec_private_from_pem(pem, n, &priv), SGP32_ERR_CRYPTO_BAD_KEY);
    assert_int_equal(sgp32_ec_private_from_pem("hello", 5, &priv), SGP32_ERR_CRYPTO_BAD_KEY);
    /* An encrypted key (a throwaway, openssl ec -aes128) fails without asking for a passphrase. */
    static const char encrypted[] = "-----BEGIN EC PRIVATE KEY-----\n"
                                    "Proc-Type: 4,ENCRYPTED\n"
                                    "DEK-Info: AES-128-CBC,A693E392298ECCA690F335F0ADB2AD52\n"
                                    "\n"
                                    "PQoNxr4AJpwVZSp7HmWSyVwpEJspO96ZcdY0pni0dWUORbYKp6p+YaWStYvtASbH\n"
                                    "nTd5R5Pmg0tZXKf58jKZgEFTE0eDpPZgWAnLQyhVVrM7eTBh9Kqd6bx4KWcuQEn5\n"
                                    "mVqNomPjpTnOoa+LCmjz6VI1gZ98YkJxY6tFMbIb7t4=\n"
                                    "-----END EC PRIVATE KEY-----\n";
    assert_int_equal(sgp32_ec_private_from_pem(encrypted, sizeof(encrypted) - 1, &priv),
                     SGP32_ERR_CRYPTO_BAD_KEY);
}

static const char explicit_brp_spki[] =
    "308201333081ec06072a8648ce3d02013081e0020101302c06072a8648ce3d0101022100a9fb57dba1eea9bc3e660a909d83"
    "8d726e3bf623d52620282013481d1f6e5377304404207d5a0975fc2c3057eef67530417affe7fb8055c126dc5c6ce94a4b44"
    "f330b5d9042026dc5c6ce94a4b44f330b5d9bbd77cbf958416295cf7e1ce6bccdc18ff8c07b60441048bd2aeb9cb7e57cb2c"
    "4b482ffc81b7afb9de27e1e3bd23c23a4453bd9ace3262547ef835c3dac4fd97f8461a14611dc9c27745132ded8e545c1d54"
    "c72f046997022100a9fb57dba1eea9bc3e660a909d838d718c397aa3b561a6f7901e0e82974856a7020101034200043e590c"
    "38a9c256315ecff3291416dd335409a666fd41b3b51e5e5114f343abf0a26774c6c26c48753afe283643227bb6608cd261cc"
    "972d374a479124ebf27722";

static void spki_rejects_malformed(void **state)
{
    (void)state;
    uint8_t der[257];
    sgp32_ec_public_key pub;
    size_t n = load_spki(SGP26 "eUICC/PK_EUICC_ECDSA_BRP.pem", der, sizeof(der) - 1);
    assert_int_equal(sgp32_ec_public_from_spki(der, n, &pub), SGP32_OK);
    assert_int_equal(pub.curve, SGP32_CURVE_BRAINPOOL_P256R1);
    der[n] = 0x00;
    assert_int_equal(sgp32_ec_public_from_spki(der, n + 1, &pub), SGP32_ERR_CRYPTO_BAD_KEY); /* trailing */
    assert_int_equal(sgp32_ec_public_from_spki(der, n - 1, &pub), SGP32_ERR_CRYPTO_BAD_KEY); /* truncated */
    assert_int_equal(sgp32_ec_public_from_spki(der, 0, &pub), SGP32_ERR_CRYPTO_BAD_KEY);
    der[n - 1] ^= 0x01; /* last byte of Y: off the curve */
    assert_int_equal(sgp32_ec_public_from_spki(der, n, &pub), SGP32_ERR_CRYPTO_BAD_KEY);
    /* A compressed point (openssl ec -pubin -conv_form compressed -outform DER) comes out uncompressed. */
    sgp32_ec_public_key nist, compressed;
    load_public(SGP26 "eUICC/PK_EUICC_ECDSA_NIST.pem", &nist);
    uint8_t cder[64];
    size_t cn =
        unhex("3039301306072a8648ce3d020106082a8648ce3d030107032200036db3f53adc87dc2ff10c7bfcd87ad13ae97009af"
              "a065a6757ee571b3f2ebb18f",
              cder, sizeof(cder));
    assert_int_equal(sgp32_ec_public_from_spki(cder, cn, &compressed), SGP32_OK);
    assert_int_equal(compressed.curve, SGP32_CURVE_NIST_P256);
    assert_memory_equal(compressed.point, nist.point, SGP32_EC_POINT_LEN);
    /* The same brainpool key with explicit curve parameters instead of the named-curve OID
     * (openssl ec -pubin -param_enc explicit -outform DER): refused. */
    uint8_t xder[400];
    size_t xn = unhex(explicit_brp_spki, xder, sizeof(xder));
    assert_int_equal(sgp32_ec_public_from_spki(xder, xn, &compressed), SGP32_ERR_CRYPTO_UNSUPPORTED_CURVE);
    /* Capacity errors are reported and leave the buffer as it was. */
    der[n - 1] ^= 0x01;
    assert_int_equal(sgp32_ec_public_from_spki(der, n, &pub), SGP32_OK);
    uint8_t small[40];
    sgp32_buf out;
    sgp32_buf_init_fixed(&out, small, sizeof(small));
    assert_int_equal(sgp32_ec_public_to_spki(&pub, &out), SGP32_ERR_CAPACITY);
    assert_int_equal(out.len, 0);
}

/* ------------------------------------------------------------ ECDSA */

static const char message[] = "sgp32 crypto test message";

static void ecdsa_sign_verify_sgp26_keys(void **state)
{
    (void)state;
    static const char *const sk[] = {SGP26 "eUICC/SK_EUICC_ECDSA_NIST.pem",
                                     SGP26 "eUICC/SK_EUICC_ECDSA_BRP.pem"};
    static const char *const pk[] = {SGP26 "eUICC/PK_EUICC_ECDSA_NIST.pem",
                                     SGP26 "eUICC/PK_EUICC_ECDSA_BRP.pem"};
    sgp32_ec_public_key pubs[2];
    for (int c = 0; c < 2; c++)
        load_public(pk[c], &pubs[c]);
    for (int c = 0; c < 2; c++) {
        sgp32_ec_private_key priv;
        load_private(sk[c], &priv);
        /* euiccSigned2 || smdpSignature2 TLV style: signed data given in pieces. */
        uint8_t tbs[100];
        for (size_t i = 0; i < sizeof(tbs); i++)
            tbs[i] = (uint8_t)(i * 7 + 3);
        const sgp32_bytes parts[] = {{tbs, 30}, {tbs + 30, 0}, {tbs + 30, 70}};
        const sgp32_bytes whole = {tbs, sizeof(tbs)};
        uint8_t sig[64];
        assert_int_equal(sgp32_ecdsa_sign(&priv, parts, 3, sig), SGP32_OK);
        assert_int_equal(sgp32_ecdsa_verify(&pubs[c], parts, 3, sig), SGP32_OK);
        assert_int_equal(sgp32_ecdsa_verify(&pubs[c], &whole, 1, sig), SGP32_OK);
        /* ECDSA is randomised: a second signature differs and also verifies. */
        uint8_t sig2[64];
        assert_int_equal(sgp32_ecdsa_sign(&priv, &whole, 1, sig2), SGP32_OK);
        assert_memory_not_equal(sig, sig2, 64);
        assert_int_equal(sgp32_ecdsa_verify(&pubs[c], parts, 3, sig2), SGP32_OK);

        for (size_t bit = 0; bit < sizeof(tbs) * 8; bit += 97) {
            tbs[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            assert_int_equal(sgp32_ecdsa_verify(&pubs[c], &whole, 1, sig), SGP32_ERR_CRYPTO_BAD_SIGNATURE);
            tbs[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        for (size_t bit = 0; bit < 512; bit += 61) { /* bits of r and of s */
            sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            assert_int_equal(sgp32_ecdsa_verify(&pubs[c], &whole, 1, sig), SGP32_ERR_CRYPTO_BAD_SIGNATURE);
            sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        /* A part missing, another key, zero and out-of-range r/s. */
        assert_int_equal(sgp32_ecdsa_verify(&pubs[c], parts, 2, sig), SGP32_ERR_CRYPTO_BAD_SIGNATURE);
        sgp32_ec_public_key other;
        assert_int_equal(sgp32_ec_generate(pubs[c].curve, &priv, &other), SGP32_OK);
        assert_int_equal(sgp32_ecdsa_verify(&other, &whole, 1, sig), SGP32_ERR_CRYPTO_BAD_SIGNATURE);
        uint8_t bad[64] = {0};
        assert_int_equal(sgp32_ecdsa_verify(&pubs[c], &whole, 1, bad), SGP32_ERR_CRYPTO_BAD_SIGNATURE);
        memcpy(bad, sig, 64);
        unhex(curves[c].order, bad, 32); /* r = n */
        assert_int_equal(sgp32_ecdsa_verify(&pubs[c], &whole, 1, bad), SGP32_ERR_CRYPTO_BAD_SIGNATURE);
        memset(bad, 0xFF, 64);
        assert_int_equal(sgp32_ecdsa_verify(&pubs[c], &whole, 1, bad), SGP32_ERR_CRYPTO_BAD_SIGNATURE);
        assert_int_equal(sgp32_ecdsa_verify(&pubs[c], &whole, 1, sig), SGP32_OK);
        sgp32_secure_zero(&priv, sizeof(priv));
    }
}

/* Signatures made by the openssl CLI with the SGP.26 eUICC keys (DER) verify as raw r||s. */
static void ecdsa_verifies_openssl_cli_signatures(void **state)
{
    (void)state;
    static const char *const pk[] = {SGP26 "eUICC/PK_EUICC_ECDSA_NIST.pem",
                                     SGP26 "eUICC/PK_EUICC_ECDSA_BRP.pem"};
    static const char *const der_hex[] = {
        "3046022100c94fa4172df4dcbdbfc6abac7612c87c890ff4efe2602026b0608e2633a546ce022100abf7c9fe159468390e3b"
        "5e3"
        "7a0864efe9a153b53347689441c034122934bb1c8",
        "304402207e1f6ec501501553fca257f876ab51450006ff02b17c5269276bf097925066fc02207df537841f62484f3642a198"
        "ec9"
        "b3ad3f34192f63c4a8800796105b81fe9921f",
    };
    const sgp32_bytes msg = {(const uint8_t *)message, strlen(message)};
    for (int c = 0; c < 2; c++) {
        sgp32_ec_public_key pub;
        load_public(pk[c], &pub);
        uint8_t der[80], raw[64], der2[80];
        size_t der_len = unhex(der_hex[c], der, sizeof(der));
        assert_int_equal(sgp32_ecdsa_der_to_raw(der, der_len, raw), SGP32_OK);
        assert_int_equal(sgp32_ecdsa_verify(&pub, &msg, 1, raw), SGP32_OK);
        size_t der2_len = sizeof(der2);
        assert_int_equal(sgp32_ecdsa_raw_to_der(raw, der2, &der2_len), SGP32_OK);
        assert_int_equal(der2_len, der_len);
        assert_memory_equal(der2, der, der_len);
        const sgp32_bytes other = {(const uint8_t *)message, strlen(message) - 1};
        assert_int_equal(sgp32_ecdsa_verify(&pub, &other, 1, raw), SGP32_ERR_CRYPTO_BAD_SIGNATURE);
    }
}

static void ecdsa_raw_der_conversion(void **state)
{
    (void)state;
    uint8_t raw[64], back[64], der[72];
    size_t der_len;
    uint8_t expect[80];
    size_t expect_len;

    /* r with two leading zero bytes and then a high byte; s with the high bit set. */
    memset(raw, 0x11, 64);
    raw[0] = 0x00;
    raw[1] = 0x00;
    raw[2] = 0x80;
    raw[32] = 0xF0;
    der_len = sizeof(der);
    assert_int_equal(sgp32_ecdsa_raw_to_der(raw, der, &der_len), SGP32_OK);
    expect_len = unhex("3044"
                       "021f00801111111111111111111111111111111111111111111111111111111111"
                       "022100f011111111111111111111111111111111111111111111111111111111111111",
                       expect, sizeof(expect));
    /* r: 30 significant bytes starting 80 -> 00 80 .. (31 bytes); s: 00 f0 .. (33 bytes). */
    assert_int_equal(der_len, expect_len);
    assert_memory_equal(der, expect, der_len);
    assert_int_equal(sgp32_ecdsa_der_to_raw(der, der_len, back), SGP32_OK);
    assert_memory_equal(back, raw, 64);

    /* Both halves 33 bytes: the longest form, 72 bytes. */
    memset(raw, 0xFF, 64);
    der_len = sizeof(der);
    assert_int_equal(sgp32_ecdsa_raw_to_der(raw, der, &der_len), SGP32_OK);
    assert_int_equal(der_len, SGP32_EC_DER_SIG_MAX);
    assert_int_equal(der[1], 70);
    assert_int_equal(sgp32_ecdsa_der_to_raw(der, der_len, back), SGP32_OK);
    assert_memory_equal(back, raw, 64);
    der_len = 71;
    assert_int_equal(sgp32_ecdsa_raw_to_der(raw, der, &der_len), SGP32_ERR_BUFFER_TOO_SMALL);

    /* Tiny values: r = 1, s = 0x7f. */
    memset(raw, 0, 64);
    raw[31] = 0x01;
    raw[63] = 0x7F;
    der_len = sizeof(der);
    assert_int_equal(sgp32_ecdsa_raw_to_der(raw, der, &der_len), SGP32_OK);
    expect_len = unhex("3006020101"
                       "02017f",
                       expect, sizeof(expect));
    assert_int_equal(der_len, expect_len);
    assert_memory_equal(der, expect, der_len);
    assert_int_equal(sgp32_ecdsa_der_to_raw(der, der_len, back), SGP32_OK);
    assert_memory_equal(back, raw, 64);

    /* r = 0 is no signature. */
    raw[31] = 0;
    der_len = sizeof(der);
    assert_int_equal(sgp32_ecdsa_raw_to_der(raw, der, &der_len), SGP32_ERR_CRYPTO_BAD_SIGNATURE);

    static const char *const malformed[] = {
        "",
        "30",
        "3006020101020180",     /* negative s */
        "300702020001020101",   /* non-minimal r (00 01) */
        "3007020101020200ff00", /* length says 7, 8 follow */
        "3006020101020101"
        "00",               /* trailing byte after the SEQUENCE */
        "3106020101020101", /* not a SEQUENCE */
        "3006030101020101", /* not an INTEGER */
        "3003020101",       /* s missing */
        "3008020101020101"
        "0200",               /* a third element */
        "308106020101020101", /* long-form length */
        "3006020100020101",   /* r = 0 */
        "3005020101020100",   /* length mismatch */
        "3006020001020101",   /* empty INTEGER, then junk */
        /* 33-byte r with a needless leading zero; 33 significant bytes; a 34-byte INTEGER. */
        "30260221000100000000000000000000000000000000000000000000000000000000000000020101",
        "30260221010000000000000000000000000000000000000000000000000000000000000000020101",
        "3027022200ff0000000000000000000000000000000000000000000000000000000000000000020101",
    };
    for (size_t i = 0; i < SGP32_ARRAY_LEN(malformed); i++) {
        uint8_t bad[80];
        size_t n = unhex(malformed[i], bad, sizeof(bad));
        memset(back, 0xEE, sizeof(back));
        int rc = sgp32_ecdsa_der_to_raw(bad, n, back);
        if (rc != SGP32_ERR_CRYPTO_BAD_SIGNATURE)
            fail_msg("malformed DER #%zu (%s) gave %d", i, malformed[i], rc);
        assert_int_equal(back[0], 0xEE); /* output untouched */
    }
}

/* ------------------------------------------------------------ ECKA, KDF, CMAC */

static void ecka_agrees_and_matches_openssl_cli(void **state)
{
    (void)state;
    static const struct {
        const char *euicc_sk, *euicc_pk, *dp_sk, *dp_pk, *z;
    } cases[] = {
        {SGP26 "eUICC/SK_EUICC_ECDSA_NIST.pem", SGP26 "eUICC/PK_EUICC_ECDSA_NIST.pem",
         SGP26 "DPpb/SK_S_SM_DPpb_ECDSA_NIST.pem", SGP26 "DPpb/PK_S_SM_DPpb_ECDSA_NIST.pem",
         "6a2123f047b9b4f202798c88ab0915e9751e1a5d798e8ab229557297b14daef3"},
        {SGP26 "eUICC/SK_EUICC_ECDSA_BRP.pem", SGP26 "eUICC/PK_EUICC_ECDSA_BRP.pem",
         SGP26 "DPpb/SK_S_SM_DPpb_ECDSA_BRP.pem", SGP26 "DPpb/PK_S_SM_DPpb_ECDSA_BRP.pem",
         "7eabf03a8ec7e70c060b50fa1bee7ff64276435db51a24f8365df4e200725cb5"},
    };
    for (size_t i = 0; i < SGP32_ARRAY_LEN(cases); i++) {
        sgp32_ec_private_key e_sk, d_sk;
        sgp32_ec_public_key e_pk, d_pk;
        load_private(cases[i].euicc_sk, &e_sk);
        load_private(cases[i].dp_sk, &d_sk);
        load_public(cases[i].euicc_pk, &e_pk);
        load_public(cases[i].dp_pk, &d_pk);
        uint8_t z1[32], z2[32], expect[32];
        unhex(cases[i].z, expect, 32);
        assert_int_equal(sgp32_ecka(&e_sk, &d_pk, z1), SGP32_OK);
        assert_int_equal(sgp32_ecka(&d_sk, &e_pk, z2), SGP32_OK);
        assert_memory_equal(z1, expect, 32);
        assert_memory_equal(z2, expect, 32);

        /* One-time keys as in PrepareDownload / GetBoundProfilePackage. */
        sgp32_ec_private_key ot_e, ot_d;
        sgp32_ec_public_key ot_e_pk, ot_d_pk;
        assert_int_equal(sgp32_ec_generate(e_sk.curve, &ot_e, &ot_e_pk), SGP32_OK);
        assert_int_equal(sgp32_ec_generate(e_sk.curve, &ot_d, &ot_d_pk), SGP32_OK);
        assert_int_equal(sgp32_ec_public_validate(&ot_e_pk), SGP32_OK);
        /* a one-time key is checked, not cached: it would push long-lived keys out */
        assert_false(sgp32_crypto_cache_holds_bytes(ot_e_pk.point, SGP32_EC_POINT_LEN));
        sgp32_ec_public_key derived;
        assert_int_equal(sgp32_ec_public_from_private(&ot_e, &derived), SGP32_OK);
        assert_memory_equal(derived.point, ot_e_pk.point, SGP32_EC_POINT_LEN);
        assert_memory_not_equal(ot_e.scalar, ot_d.scalar, SGP32_EC_SCALAR_LEN);
        assert_int_equal(sgp32_ecka(&ot_e, &ot_d_pk, z1), SGP32_OK);
        assert_int_equal(sgp32_ecka(&ot_d, &ot_e_pk, z2), SGP32_OK);
        assert_memory_equal(z1, z2, 32);
        assert_memory_not_equal(z1, expect, 32);

        /* A point off the curve, or on the other curve, is refused. */
        sgp32_ec_public_key bad = ot_d_pk;
        bad.point[40] ^= 0x10;
        assert_int_equal(sgp32_ecka(&ot_e, &bad, z1), SGP32_ERR_CRYPTO_BAD_KEY);
        bad = ot_d_pk;
        bad.curve = bad.curve == SGP32_CURVE_NIST_P256 ? SGP32_CURVE_BRAINPOOL_P256R1 : SGP32_CURVE_NIST_P256;
        assert_int_equal(sgp32_ecka(&ot_e, &bad, z1), SGP32_ERR_CRYPTO_BAD_KEY);
        /* only the uncompressed form, and never a private scalar out of [1, n-1] */
        bad = ot_d_pk;
        bad.point[0] = 0x02;
        assert_int_equal(sgp32_ecka(&ot_e, &bad, z1), SGP32_ERR_CRYPTO_BAD_KEY);
        sgp32_ec_private_key zero = {.curve = ot_e.curve};
        assert_int_equal(sgp32_ecka(&zero, &ot_d_pk, z1), SGP32_ERR_CRYPTO_BAD_KEY);
        sgp32_secure_zero(&ot_e, sizeof(ot_e));
        sgp32_secure_zero(&ot_d, sizeof(ot_d));
    }
}

/* NIST CAVP ansx963_2001.rsp, [SHA-256]. */
static void kdf_x963_nist_cavs(void **state)
{
    (void)state;
    uint8_t z[32], info[32], expect[128], out[128];
    size_t zl = unhex("96c05619d56c328ab95fe84b18264b08725b85e33fd34f08", z, sizeof(z));
    unhex("443024c3dae66b95e6f5670601558f71", expect, sizeof(expect));
    assert_int_equal(sgp32_kdf_x963_sha256(z, zl, NULL, 0, out, 16), SGP32_OK);
    assert_memory_equal(out, expect, 16);

    zl = unhex("22518b10e70f2a3f243810ae3254139efbee04aa57c7af7d", z, sizeof(z));
    size_t il = unhex("75eef81aa3041e33b80971203d2c0c52", info, sizeof(info));
    assert_int_equal(unhex("c498af77161cc59f2962b9a713e2b215152d139766ce34a776df11866a69bf2e"
                           "52a13d9c7c6fc878c50c5ea0bc7b00e0da2447cfd874f6cf92f30d0097111485"
                           "500c90c3af8b487872d04685d14c8d1dc8d7fa08beb0ce0ababc11f0bd496269"
                           "142d43525a78e5bc79a17f59676a5706dc54d54d4d1f0bd7e386128ec26afc21",
                           expect, sizeof(expect)),
                     128);
    assert_int_equal(sgp32_kdf_x963_sha256(z, zl, info, il, out, 128), SGP32_OK);
    assert_memory_equal(out, expect, 128);
    /* A shorter output is a prefix (the counter blocks do not depend on the length). */
    memset(out, 0, sizeof(out));
    assert_int_equal(sgp32_kdf_x963_sha256(z, zl, info, il, out, 48), SGP32_OK);
    assert_memory_equal(out, expect, 48);

    assert_int_equal(sgp32_kdf_x963_sha256(z, 0, info, il, out, 16), SGP32_ERR_INVALID_ARGUMENT);
    assert_int_equal(sgp32_kdf_x963_sha256(z, zl, NULL, 1, out, 16), SGP32_ERR_INVALID_ARGUMENT);
    assert_int_equal(sgp32_kdf_x963_sha256(z, zl, info, il, out, 0), SGP32_ERR_INVALID_ARGUMENT);
}

/* RFC 4493 §4, examples 1-4, with the message fed in uneven parts. */
static void aes_cmac_rfc4493(void **state)
{
    (void)state;
    uint8_t key[16], msg[64], expect[16], mac[16];
    unhex("2b7e151628aed2a6abf7158809cf4f3c", key, 16);
    unhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
          "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
          msg, 64);
    static const struct {
        size_t len;
        const char *mac;
    } ex[] = {
        {0, "bb1d6929e95937287fa37d129b756746"},
        {16, "070a16b46b4d4144f79bdd9dd04a287c"},
        {40, "dfa66747de9ae63030ca32611497c827"},
        {64, "51f0bebf7e3b9d92fc49741779363cfe"},
    };
    for (size_t i = 0; i < SGP32_ARRAY_LEN(ex); i++) {
        unhex(ex[i].mac, expect, 16);
        const sgp32_bytes one = {msg, ex[i].len};
        assert_int_equal(sgp32_crypto_aes_cmac(key, &one, 1, mac), SGP32_OK);
        assert_memory_equal(mac, expect, 16);
        size_t a = ex[i].len / 3, b = ex[i].len / 2;
        const sgp32_bytes split[] = {{msg, a}, {msg + a, b - a}, {NULL, 0}, {msg + b, ex[i].len - b}};
        memset(mac, 0, sizeof(mac));
        assert_int_equal(sgp32_crypto_aes_cmac(key, split, SGP32_ARRAY_LEN(split), mac), SGP32_OK);
        assert_memory_equal(mac, expect, 16);
    }
}

/* ------------------------------------------------------------ BSP */

static void bsp_key_derivation_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *z, *host_id, *eid, *mcv, *enc, *mac;
    } v[] = {
        /* pySim BSP_Test: hostId 80 x8. */
        {"8902dca391bbb22570fe60c176076246f568b1941265dff1d729e63039658089", "8080808080808080",
         "89049032123451234512345678901335", "734bc93ddb10c71c5ad13d420dc08b5b",
         "d782d575b22a38334556a3d9a1e2ae6b", "a35addc192ae8f934e2932116c7e89e7"},
        /* pySim BSP_Test_mode51 (third-party SM-DP+ trace). */
        {"c9a993dd4879a8f7161f2085410edd4f9652f1df37be097ba96ba2ca6be528fe", "8080808080808080",
         "89049032123451234512345678901235", "406d507b448a699e7a36a38494debbde",
         "472f5bfadd97f21d34f3ce9b51b92751", "9ec07f5b36a13e12a991d66e294e6242"},
        /* Z = ECKA of the SGP.26 NIST eUICC/DPpb keys, hostId "mahlzeit"; the two SHA-256 blocks computed
         * with the openssl CLI: SharedInfo = 88 10 08 6d61686c7a656974 10 89049032123451234512345678901235.
         */
        {"6a2123f047b9b4f202798c88ab0915e9751e1a5d798e8ab229557297b14daef3", "6d61686c7a656974",
         "89049032123451234512345678901235", "e082d4e80c3624865e6c3cd91d5f15df",
         "42f437574f5d26371a5fe4c389a51a2b", "5c2d820f42abca18d83f2238590c2b31"},
    };
    for (size_t i = 0; i < SGP32_ARRAY_LEN(v); i++) {
        uint8_t z[32], host[16], eid[16], mcv[16], enc[16], mac[16];
        unhex(v[i].z, z, 32);
        size_t hl = unhex(v[i].host_id, host, 16);
        unhex(v[i].eid, eid, 16);
        unhex(v[i].mcv, mcv, 16);
        unhex(v[i].enc, enc, 16);
        unhex(v[i].mac, mac, 16);
        sgp32_bsp_keys keys;
        assert_int_equal(sgp32_bsp_derive_keys(z, host, hl, eid, &keys), SGP32_OK);
        assert_memory_equal(keys.mac_chaining_value, mcv, 16);
        assert_memory_equal(keys.s_enc, enc, 16);
        assert_memory_equal(keys.s_mac, mac, 16);
    }
    uint8_t z[32] = {1}, host[17] = {0}, eid[16] = {0};
    sgp32_bsp_keys keys;
    assert_int_equal(sgp32_bsp_derive_keys(z, host, 0, eid, &keys), SGP32_ERR_INVALID_ARGUMENT);
    assert_int_equal(sgp32_bsp_derive_keys(z, host, 17, eid, &keys), SGP32_ERR_INVALID_ARGUMENT);
    assert_int_equal(sgp32_bsp_derive_keys(z, host, 16, eid, &keys), SGP32_OK);
}

/* pySim BSP_Test_mode51.test_ciphering: segments 87, 88, 87, then the PPK key set for 86. */
static const struct {
    uint8_t tag;
    bool encrypt;
    bool rekey_before;
    const char *plain, *wire;
} bsp_vectors[] = {
    {0x87, true, false, "bf2400", "8718f6fe031e4b9cfe87c8e1e62f3fde85c49412d7722a6a2d89"},
    {0x88, false, false,
     "bf252d5a0a98001032547698103214910947534d415f54455354921147534d415f544553545f50524f46494c45950100",
     "8838bf252d5a0a98001032547698103214910947534d415f54455354921147534d415f544553545f50524f46494c45950100"
     "8a62cc9adbb5ccbc"},
    {0x87, true, false,
     "bf26368010000102030405060708090a0b0c0d0e0f8110010102030405060708090a0b0c0d0e0f8210020102030405060708090"
     "a0b0c0"
     "d0e0f",
     "8748a14c800a001992351cd46ad2945654674369701d82b7b46567652bc8fbed234939fc57fba748015525fd6c651e9d3d13306"
     "52d42a0"
     "cfad950e912122af4ec5362d3c0bc535729c40"},
    {0x86, true, true,
     "a048800102810101821a53494d616c6c69616e63652053616d706c652050726f66696c65830a89000123456789012341a506810"
     "0840"
     "08b00a610060667810f010201060667810f010204b08201f8a0058000810101810667810f010201a207a105c60301020aa305a1"
     "038b01"
     "0fa40c830a98001032547698103214a527a109820442210026800198831a61184f10a0000000871002ff33ff018900000100500"
     "45553"
     "494da682019ea10a8204422100258002022b831b8001019000800102a406830101950108800158a40683010a95010882010a831"
     "680010"
     "1a40683010195010880015aa40683010a95010882010f830b80015ba40683010a95010882011a830a800101900080015a970082"
     "011b8"
     "316800103a406830101950108800158a40683010a95010882010f8316800111a40683010195010880014aa40683010a95010882"
     "010f8"
     "321800103a406830101950108800158a40683010a950108840132a4068301019501088201048321800101a40683010195010880"
     "0102a"
     "406830181950108800158a40683010a950108820104831b800101900080011aa406830101950108800140a40683010a95010882"
     "010a8"
     "310800101900080015aa40683010a95010882011583158001019000800118a40683010a95010880014297008201108310800101"
     "a4068"
     "3010195010880015a97008201158316800113a406830101950108800148a40683010a95010882010f830b80015ea40683010a95"
     "0108"
     "82011a83258001019000800102a010a406830101950108a406830102950108800158a40683010a950108a33fa0058000810102a"
     "136301"
     "18001018108303030303030303082020099300d8001028108313233343536373830128002008181083132333435363738820200"
     "88a24"
     "1a0058000810103a138a0363010800101810831323334ffffffff8201013010800102810830303030ffffffff82010230108001"
     "0a8108"
     "35363738ffffffff830101a182029ea0058000810104a18202933082028f62228202782183027ff18410a0000000871002ff33f"
     "f01890"
     "00001008b010ac60301810a62118202412183026f078b0102800109880138810908294301913487676562148204422100258302"
     "6f068b"
     "010a8801b8c7022f06621a8202412183026f088b0105800121880140a507c00180c10207ff621a8202412183026f098b0105800"
     "12188"
     "0148a507c00180c10207ff62168202412183026f318b0102800101880190a503c1010a62118202412183026f388b010280010e8"
     "80120"
     "810d0a2e178ce73204000000000000621982044221001a83026f3b8b0108800202088800a504c10200ff62198204422100b0830"
     "26f3c"
     "8b0105800206e08800a504c10200ff621282044221002683026f428b0105800126",
     "868203f80fd36b066b43e53906b33263c4141d18036fcac7bde47faed79e76514d39f1f405d9785ff04badf379a96bcf4685eb8"
     "61239da"
     "34eeb213d0cd1e0d85e96e36097a52f600907e08b6f01232eb3792a00cc6b3288cc832c7f30357edfe0818d1f39ad8d55b5bd5d"
     "9c6591"
     "7d0d16ee7e1421a44453714d66209bf441425bf6d153a85ba7e7406d58a4c46fb930bb14eefd6a853434619805429cbbb003bd5"
     "a56e7b"
     "ceaf4666eb352ad46f47ea572c6ad311683803db3bec4d783583858f2ecfbaec3ed780fb3e3a645b1bf5cfd1047e5862c4a8877"
     "382dab"
     "d6aef6fa72ec6378ce7b21502d3267514b29bd589703ee7bd5b1e6d868b6b7c55006bc32406a924f44bfdb6c801d490450a5463"
     "3bbd66"
     "bb0ece8b3a9be09433c537f3e3b2b8e45833365a94479b1895e9ba13387fca116565c267b6bc1274c82510b21ac9fa775744123"
     "51468f"
     "d1eac8928c9494e5eb8a909d9372476c62e8a2b556b557a79cdb47503ba5d9fd86d1962c23b3289f37df9a05668957df34c3780"
     "6359af"
     "1d8dfecedf9bbf4888be9753f2b449ce4e5cde510572f9be4fb506f329a848c4583ac9ac710e53d512ad504f2e3769c2911c34f"
     "84ad06"
     "22c5428446d1e9c59bb6b2029f231b05ef45d3ec60fceff121ba684a023037b753f855e1067b8ad02783c04eb81ba47fcec0947"
     "bbc966"
     "1d90c6f00c0f4e6f9c22e0b25905379f8b265b436a4a74253a64c5734f956d134cf5b6c0671125b20b735f405fee1fc1941ed14"
     "1734fa"
     "6856e898dc655fb91b045b3797d14b97a68ed3480ec137565d6c4d007f95ee705d452d0344ce9e9bbd0712f399ef8604f3f472b"
     "403ea6"
     "4f00c969fd30a012cb8be049c54556994117fc5f6043930107774910be5f47c780427de063a56d45400a814c86dfcc2465262ba"
     "f273a6"
     "ca89e77bb8c73efe2d22d975516b80c648404b10d3f329776a21251bedf445ade24b656e8635f0d7fe39772d942d9432766efb5"
     "152c6e"
     "990123c52744f1c402962a381ff2aaddaa1bd522a9b65a229f9adcd4099475b3f9ba45161ee35206365181e1d69d263d8d27444"
     "a7c3a2"
     "d7ddbb398ac5affea28cb0373057dad7741e52adb95822fee5157ce3c0ad978c5231a219ca0726d50eeb0c69d579094a5482019"
     "4aeef1"
     "3a365d85c52257f51cb65c567e0cdf1ce38b80eaa4d131ab7086e303c5728cf41a25df954d60ac12400d2a2990e67dbeff86673"
     "6937be"
     "b8fce526be1dd5dc5d77d00b8783b34691a3e9bda7e697eec4cfa70b25914795af23ec6d258530f71402b9230947dc99f9140b1"
     "6a54ba"
     "1291f54ef736de6711c1ae074b627dfc2fc5d5250f812b7ecd1d0f5020a3acf20ad5759cd9e761ce21882977f7db66aaba2d8f5"
     "190f6f"
     "23996af14b670ccac066c93af06a41f19d9ee712ce13fbe73b99e55401b208b991c8ced12d34c"},
    {0x86, true, false,
     "880062158202412183026f438b01058001028800a503c0018062128202412183026f468b036f060a8001118800810c0253494d6"
     "16c6c69"
     "616e636562118202412183026f568b0108800101880128810100621b8202412183026f5b8b0105800106880178a508c00180c20"
     "3f00000"
     "62168202412183026f5c8b0102800103880180a503c0018062168202412183026f738b010580010e880160a503c001800201078"
     "10700f1"
     "100000ff0162118202412183026f788b01028001028801308102004062118202412183026f7b8b010580010c880168621682024"
     "12183"
     "026f7e8b010580010b880158a503c0018002010781040000ff0162168202412183026fad8b010a800104880118a503c10100020"
     "10381"
     "0102621382044221000483026fb78b010a800104880108810419f1ff0162158202412183026fc48b01058001808800a503c0018"
     "06216"
     "8202412183026fe38b01058001128801f0a503c0018002010f810300000162168202412183026fe48b01058001508801c0a503c"
     "00180"
     "a225a0058000810105a11ca01a301880020081810831323334ffffffff82020081830101840122a43aa0058000810106a131a12"
     "f8001"
     "018101018210000102030405060708090a0b0c0d0e0f83100102030405060708090a0b0c0d0e0f008603010203a681bba005800"
     "081010"
     "7a1444f07a00000015153504f08a0000001515350414f08a000000151000000820382dc0083010fc90a810280008201f08701f0"
     "ea1180"
     "0f0100000100000002011203b2010000a26c3022950138820101830101301730158001808610112233445566778899aabbccdde"
     "eff1030"
     "22950134820102830101301730158001808610112233445566778899aabbccddeeff1030229501c882010383010130173015800"
     "18086"
     "10112233445566778899aabbccddeeff10a681c0a0058000810108a1494f07a00000015153504f08a0000001515350414f10a00"
     "0000559"
     "10100102736456616c7565820380800083010fc907810280008201f0ea11800f01000001000000020112036c756500a26c30229"
     "5013882"
     "0101830101301730158001808610881122334455667788112233445566773022950134820102830101301730158001808610881"
     "1223344"
     "556677881122334455667730229501c882010383010130173015800180861088112233445566778811223344556677a8820263a"
     "005800"
     "0810109a18202184f08a000000559101001c482020a01002edecaffed020204000108a0000005591010011b636f6d2f67736d61"
     "2f6575"
     "6963632f746573742f6170706c657431020021002e0021000f003b002a00210066000a000e0000008a040f00000000000004010"
     "004003b"
     "04030107a0000000620101000110a0000000090005ffffffff",
     "868203f8648e034ae0dc4ce022ee1e60b130dda95e13b21b0da3de7677677f47900c1beb3637b8aa35f3a9e096c0285ffe3e931"
     "983df90"
     "0b36b7e6bc4b9af14b0ee3d49637eb2d4cff314b5d00789a751dfd9554651fb2b7c66ad4e22a794d5b88cb71ccf4c05d53abeba"
     "8bd3b0c"
     "8209346f014cbdee62be4878e3fea09a96007135a6c584aa843c48972842bdbece1c439723021b3f0d535d557995beedbd2b56f"
     "416148d"
     "f90cb1a4d2fa26288801d56a2cbb0a404f2fd9a73042d7a3486bfb7256c1d274aae5b7ec24e8eba28b7dce69edc44189b24186b"
     "98397b4"
     "a74831f8ab46e8e46a2ed3077d4924f5d3f6e4c1de5ddffd194e7f0f97d94ea2801d1364835c9871bae6539e3e1355c5970711d"
     "845864f"
     "04d9c1dccac0d4068dcf4664e9976509fe43fec6beb3ddc96839aba6d89bb1593c5b6ebbc32fff39c4a5bb3e5c9df6a1abc0581"
     "8dbd514"
     "9733381e69521066e1bbd648eb19b00602767e90beaeb3b3b92679940a603c0500e37892d7b4fa44355c3deec8af207f89d04f8"
     "3cd8860"
     "3e9cb9c96f74643816e87af85a8a9d0283cdf535d1fbaefb930fd4a0dba2ae30ee9d2d9e2a31827a012a6380af42ac87f3bfd70"
     "79ddd8f"
     "a27d2299fb4d5879e9a17a5062e13cab4f7bed22ed54932fa53d630bca8592f957a7ed148e9d4f28075c2565a550694b876091a"
     "1181ba5"
     "12e70fde4f28ae6968a18d721396c0fee9cd7744dee90bf85f5adddb3417b3ede9ea3cfd5eae2d820b17600ce3b95f6df38a5bc"
     "39302c5"
     "155c3f241ddfc7cee527af7f6a67868a577c39e76e26c4ed5d6aca031a97c280da27ae8de20e57a1dbab40a31e96e054f9a6f50"
     "578fd00"
     "156e37b70eead71af3258075c1ba84282aea462553504a868443b301ed99dcd5f414b720ef67cf5c4d16f1f7b9df741c2343246"
     "dcb717f"
     "3fa62b633539bdcc0082d161499caad8d097be78133dafd19777559f77c6d7a8f61323ff660613aa47cee26a4f7515204eee3c7"
     "eaa00eb"
     "55529b0ddae3436ec679fc591fe2063de94db00b5d0f041beeb80a91f108f7cf4b3b1344b0fbb437630ee437b4c7744c54009a5"
     "9a90996"
     "81f3a3fa386f294c0eb4562581202a369772833efdc6e840695352de3864671e7fb0fd081ec162a2a62ea5b8a9da837f3920b41"
     "96fbe2e"
     "c912ade440537ae4a07dfc115c9c030539f278e0801bda4f15298ba50e329b18992af8b899686ec97175509d4a217d2eba8feef"
     "5f5732f"
     "c7be86370f7723896b784bd45517af86a7521e952b6be924d91a5190e3c2c65ce8924df43ddb25c529dde324a722a156df459f4"
     "b38bb06"
     "2975fad9fadd27f6425e422b1abd9a7259f0bd712a486e1aa25ca848cf65c5fb888bf61ae136b68cf55cb643c198537cd83df0d"
     "bb842c5"
     "f4982ca3088cc2d8e867c3049a84b515ec39b0b774a8482099327006acff"},
};

static void bsp_rekey_to_ppk(sgp32_bsp *bsp)
{
    /* pySim's fixed test PPKs: S-ENC 01 01 02 .. 0f, S-MAC 02 01 02 .. 0f, MCV 00 01 .. 0f. */
    bsp_from_hex(bsp, "010102030405060708090a0b0c0d0e0f", "020102030405060708090a0b0c0d0e0f",
                 "000102030405060708090a0b0c0d0e0f");
}

static void bsp_known_answer_pysim(void **state)
{
    (void)state;
    sgp32_bsp tx, rx;
    bsp_from_hex(&tx, "472f5bfadd97f21d34f3ce9b51b92751", "9ec07f5b36a13e12a991d66e294e6242",
                 "406d507b448a699e7a36a38494debbde");
    rx = tx;
    static uint8_t plain[1100], expect[1100];
    sgp32_buf wire, got;
    sgp32_buf_init(&wire, 2048);
    sgp32_buf_init(&got, 2048);
    for (size_t i = 0; i < SGP32_ARRAY_LEN(bsp_vectors); i++) {
        if (bsp_vectors[i].rekey_before) {
            bsp_rekey_to_ppk(&tx);
            bsp_rekey_to_ppk(&rx);
        }
        size_t plen = unhex(bsp_vectors[i].plain, plain, sizeof(plain));
        size_t elen = unhex(bsp_vectors[i].wire, expect, sizeof(expect));
        sgp32_buf_reset(&wire);
        assert_int_equal(
            sgp32_bsp_protect(&tx, bsp_vectors[i].tag, bsp_vectors[i].encrypt, plain, plen, &wire), SGP32_OK);
        if (wire.len != elen || memcmp(wire.data, expect, elen) != 0)
            fail_msg("BSP vector %zu: protected segment differs", i);

        uint8_t tag;
        const uint8_t *value;
        size_t vlen;
        split_segment(expect, elen, &tag, &value, &vlen);
        assert_int_equal(tag, bsp_vectors[i].tag);
        sgp32_buf_reset(&got);
        assert_int_equal(sgp32_bsp_unprotect(&rx, tag, bsp_vectors[i].encrypt, value, vlen, &got), SGP32_OK);
        assert_int_equal(got.len, plen);
        assert_memory_equal(got.data, plain, plen);
    }
    assert_memory_equal(&tx, &rx, sizeof(tx));
    assert_int_equal(tx.counter, 3); /* two 86 segments under the PPKs */
    sgp32_buf_free(&wire);
    sgp32_buf_free(&got);
    sgp32_bsp_clear(&tx);
    sgp32_bsp_clear(&rx);
}

static void bsp_round_trip_many_segments(void **state)
{
    (void)state;
    sgp32_bsp_keys keys;
    uint8_t z[32], host[8], eid[16];
    memcpy(host, "mahlzeit", 8);
    unhex("6a2123f047b9b4f202798c88ab0915e9751e1a5d798e8ab229557297b14daef3", z, 32);
    unhex("89049032123451234512345678901235", eid, 16);
    assert_int_equal(sgp32_bsp_derive_keys(z, host, sizeof(host), eid, &keys), SGP32_OK);
    sgp32_bsp tx, rx;
    sgp32_bsp_init(&tx, &keys);
    sgp32_bsp_init(&rx, &keys);
    assert_int_equal(tx.counter, 1);
    assert_memory_equal(tx.mcv, keys.mac_chaining_value, 16);

    static uint8_t data[1100];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 31 + 7);
    static const uint8_t tags[] = {0x87, 0x88, 0x86};
    sgp32_buf wire, got;
    sgp32_buf_init(&wire, 4096);
    sgp32_buf_init(&got, 4096);
    uint32_t segments = 0;
    for (size_t len = 0; len <= sizeof(data); len++) {
        if (len == 600) { /* ReplaceSessionKeys half way */
            uint8_t ppk[48];
            assert_int_equal(sgp32_random_bytes(ppk, sizeof(ppk)), SGP32_OK);
            sgp32_bsp_rekey(&tx, ppk, ppk + 16, ppk + 32);
            sgp32_bsp_rekey(&rx, ppk, ppk + 16, ppk + 32);
            assert_int_equal(tx.counter, 1);
            segments = 0;
        }
        uint8_t tag = tags[len % 3];
        bool enc = tag != 0x88;
        sgp32_buf_reset(&wire);
        assert_int_equal(sgp32_bsp_protect(&tx, tag, enc, data, len, &wire), SGP32_OK);
        segments++;
        assert_int_equal(tx.counter, segments + 1); /* one step per segment, 88 included */

        uint8_t t;
        const uint8_t *value;
        size_t vlen;
        split_segment(wire.data, wire.len, &t, &value, &vlen);
        assert_int_equal(t, tag);
        size_t payload = enc ? (len / 16 + 1) * 16 : len; /* padding always added */
        assert_int_equal(vlen, payload + SGP32_SCP03T_MAC_LEN);
        if (!enc)
            assert_memory_equal(value, data, len);
        else if (len >= 16)
            assert_memory_not_equal(value, data, 16);
        /* The new MCV starts with the MAC sent. */
        assert_memory_equal(tx.mcv, value + payload, SGP32_SCP03T_MAC_LEN);

        sgp32_buf_reset(&got);
        assert_int_equal(sgp32_bsp_unprotect(&rx, t, enc, value, vlen, &got), SGP32_OK);
        assert_int_equal(got.len, len);
        if (len)
            assert_memory_equal(got.data, data, len);
        assert_memory_equal(&tx, &rx, sizeof(tx));
    }
    /* The same plaintext twice gives different ciphertext (counter-derived ICV, chained MAC). */
    sgp32_buf_reset(&wire);
    assert_int_equal(sgp32_bsp_protect(&tx, 0x86, true, data, 32, &wire), SGP32_OK);
    assert_int_equal(sgp32_bsp_protect(&tx, 0x86, true, data, 32, &wire), SGP32_OK);
    assert_int_equal(wire.len, 2 * (2 + 48 + 8));
    assert_memory_not_equal(wire.data + 2, wire.data + 58 + 2, 48);
    sgp32_buf_free(&wire);
    sgp32_buf_free(&got);
    sgp32_bsp_clear(&tx);
    sgp32_bsp_clear(&rx);
}

static void expect_rejected(sgp32_bsp *rx, uint8_t tag, bool dec, const uint8_t *v, size_t n, int err)
{
    sgp32_bsp before = *rx;
    uint8_t store[1200];
    sgp32_buf out;
    sgp32_buf_init_fixed(&out, store, sizeof(store));
    assert_int_equal(sgp32_buf_append(&out, "keep", 4), SGP32_OK);
    assert_int_equal(sgp32_bsp_unprotect(rx, tag, dec, v, n, &out), err);
    assert_memory_equal(rx, &before, sizeof(before)); /* MCV and counter untouched */
    assert_int_equal(out.len, 4);                     /* nothing appended */
    assert_memory_equal(store, "keep", 4);
}

static void bsp_rejects_tampering_without_state_change(void **state)
{
    (void)state;
    sgp32_bsp tx, rx;
    bsp_from_hex(&tx, "472f5bfadd97f21d34f3ce9b51b92751", "9ec07f5b36a13e12a991d66e294e6242",
                 "406d507b448a699e7a36a38494debbde");
    rx = tx;
    uint8_t data[100];
    memset(data, 0x3C, sizeof(data));
    uint8_t seg[3][200];
    size_t seg_len[3];
    for (int i = 0; i < 3; i++) {
        sgp32_buf w;
        sgp32_buf_init_fixed(&w, seg[i], sizeof(seg[i]));
        assert_int_equal(sgp32_bsp_protect(&tx, 0x87, true, data, 20 + (size_t)i * 30, &w), SGP32_OK);
        seg_len[i] = w.len;
    }
    uint8_t buf[200], tag;
    const uint8_t *value;
    size_t vlen;
    split_segment(seg[0], seg_len[0], &tag, &value, &vlen);

    /* Every single bit flip of the value (ciphertext or MAC) is caught. */
    for (size_t bit = 0; bit < vlen * 8; bit++) {
        memcpy(buf, value, vlen);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        expect_rejected(&rx, tag, true, buf, vlen, SGP32_ERR_CRYPTO_BAD_MAC);
    }
    expect_rejected(&rx, 0x86, true, value, vlen, SGP32_ERR_CRYPTO_BAD_MAC);    /* other tag */
    expect_rejected(&rx, tag, true, value, vlen - 1, SGP32_ERR_CRYPTO_BAD_MAC); /* cut short */
    expect_rejected(&rx, tag, true, value, 7, SGP32_ERR_CRYPTO_BAD_MAC);        /* no room for a MAC */
    expect_rejected(&rx, tag, true, NULL, 0, SGP32_ERR_CRYPTO_BAD_MAC);         /* empty */
    split_segment(seg[1], seg_len[1], &tag, &value, &vlen);
    expect_rejected(&rx, tag, true, value, vlen, SGP32_ERR_CRYPTO_BAD_MAC); /* out of order */

    /* The genuine segments are still accepted, in order; a replay then fails. */
    sgp32_buf out;
    uint8_t store[300];
    sgp32_buf_init_fixed(&out, store, sizeof(store));
    for (int i = 0; i < 3; i++) {
        split_segment(seg[i], seg_len[i], &tag, &value, &vlen);
        assert_int_equal(sgp32_bsp_unprotect(&rx, tag, true, value, vlen, &out), SGP32_OK);
    }
    assert_int_equal(out.len, 20 + 50 + 80);
    assert_memory_equal(&rx, &tx, sizeof(tx));
    split_segment(seg[2], seg_len[2], &tag, &value, &vlen);
    expect_rejected(&rx, tag, true, value, vlen, SGP32_ERR_CRYPTO_BAD_MAC);

    /* Correct MAC, bad padding: MAC a ciphertext block that decrypts to 16 x 'A' (no 80). */
    sgp32_bsp probe = tx;
    uint8_t a16[16], enc_out[64], mac_out[64];
    memset(a16, 'A', sizeof(a16));
    sgp32_buf w;
    sgp32_buf_init_fixed(&w, enc_out, sizeof(enc_out));
    assert_int_equal(sgp32_bsp_protect(&probe, 0x87, true, a16, 16, &w), SGP32_OK); /* 87 28 C1 C2 MAC */
    probe = tx;
    sgp32_buf_init_fixed(&w, mac_out, sizeof(mac_out));
    assert_int_equal(sgp32_bsp_protect(&probe, 0x87, false, enc_out + 2, 16, &w), SGP32_OK); /* C1 only */
    split_segment(mac_out, w.len, &tag, &value, &vlen);
    expect_rejected(&rx, tag, true, value, vlen, SGP32_ERR_CRYPTO_BAD_PADDING);
    /* Correct MAC, payload not a whole number of blocks. */
    probe = tx;
    sgp32_buf_init_fixed(&w, mac_out, sizeof(mac_out));
    assert_int_equal(sgp32_bsp_protect(&probe, 0x87, false, a16, 5, &w), SGP32_OK);
    split_segment(mac_out, w.len, &tag, &value, &vlen);
    expect_rejected(&rx, tag, true, value, vlen, SGP32_ERR_CRYPTO_BAD_PADDING);
    /* ...and the same MAC-only segment is fine as an 88. */
    sgp32_buf_init_fixed(&out, store, sizeof(store));
    assert_int_equal(sgp32_bsp_unprotect(&rx, tag, false, value, vlen, &out), SGP32_OK);
    assert_int_equal(out.len, 5);
    assert_memory_equal(&rx, &probe, sizeof(rx));

    /* No room in the output: reported, nothing changes. */
    probe = rx;
    sgp32_buf_init_fixed(&w, mac_out, sizeof(mac_out));
    assert_int_equal(sgp32_bsp_protect(&probe, 0x86, true, data, 40, &w), SGP32_OK);
    split_segment(mac_out, w.len, &tag, &value, &vlen);
    uint8_t tiny[10];
    sgp32_buf_init_fixed(&out, tiny, sizeof(tiny));
    sgp32_bsp before = rx;
    assert_int_equal(sgp32_bsp_unprotect(&rx, tag, true, value, vlen, &out), SGP32_ERR_CAPACITY);
    assert_memory_equal(&rx, &before, sizeof(rx));
    sgp32_buf_init_fixed(&w, tiny, sizeof(tiny));
    assert_int_equal(sgp32_bsp_protect(&rx, 0x86, true, data, 40, &w), SGP32_ERR_CAPACITY);
    assert_int_equal(w.len, 0);
    assert_memory_equal(&rx, &before, sizeof(rx));
}

static void bsp_rekey_and_clear(void **state)
{
    (void)state;
    sgp32_bsp tx, rx;
    bsp_from_hex(&tx, "472f5bfadd97f21d34f3ce9b51b92751", "9ec07f5b36a13e12a991d66e294e6242",
                 "406d507b448a699e7a36a38494debbde");
    rx = tx;
    uint8_t store[64], out_store[64], tag;
    const uint8_t *value;
    size_t vlen;
    sgp32_buf w, out;
    sgp32_buf_init_fixed(&w, store, sizeof(store));
    assert_int_equal(sgp32_bsp_protect(&tx, 0x87, true, (const uint8_t *)"abc", 3, &w), SGP32_OK);
    sgp32_buf_init_fixed(&out, out_store, sizeof(out_store));
    split_segment(store, w.len, &tag, &value, &vlen);
    assert_int_equal(sgp32_bsp_unprotect(&rx, tag, true, value, vlen, &out), SGP32_OK);

    /* After ReplaceSessionKeys the counter restarts at 1 and the PPK MCV is used. */
    bsp_rekey_to_ppk(&tx);
    bsp_rekey_to_ppk(&rx);
    assert_int_equal(tx.counter, 1);
    uint8_t mcv[16];
    unhex("000102030405060708090a0b0c0d0e0f", mcv, 16);
    assert_memory_equal(tx.mcv, mcv, 16);

    /* A segment still protected with the session keys is refused by the rekeyed side. */
    sgp32_bsp_keys old = {{0}, {0}, {0}};
    unhex("472f5bfadd97f21d34f3ce9b51b92751", old.s_enc, 16);
    unhex("9ec07f5b36a13e12a991d66e294e6242", old.s_mac, 16);
    unhex("000102030405060708090a0b0c0d0e0f", old.mac_chaining_value, 16);
    sgp32_bsp stale;
    sgp32_bsp_init(&stale, &old);
    sgp32_buf_init_fixed(&w, store, sizeof(store));
    assert_int_equal(sgp32_bsp_protect(&stale, 0x86, true, (const uint8_t *)"abc", 3, &w), SGP32_OK);
    split_segment(store, w.len, &tag, &value, &vlen);
    expect_rejected(&rx, tag, true, value, vlen, SGP32_ERR_CRYPTO_BAD_MAC);
    sgp32_buf_init_fixed(&w, store, sizeof(store));
    assert_int_equal(sgp32_bsp_protect(&tx, 0x86, true, (const uint8_t *)"abc", 3, &w), SGP32_OK);
    split_segment(store, w.len, &tag, &value, &vlen);
    sgp32_buf_reset(&out);
    assert_int_equal(sgp32_bsp_unprotect(&rx, tag, true, value, vlen, &out), SGP32_OK);
    assert_memory_equal(out.data, "abc", 3);

    /* A cleared context holds no key and refuses to work. */
    sgp32_bsp_clear(&tx);
    sgp32_bsp zero;
    memset(&zero, 0, sizeof(zero));
    assert_memory_equal(&tx, &zero, sizeof(tx));
    sgp32_buf_init_fixed(&w, store, sizeof(store));
    assert_int_equal(sgp32_bsp_protect(&tx, 0x86, true, (const uint8_t *)"abc", 3, &w), SGP32_ERR_STATE);
    assert_int_equal(sgp32_bsp_unprotect(&tx, tag, true, value, vlen, &out), SGP32_ERR_STATE);

    /* The counter cannot wrap: after 2^32 - 1 the context is spent. */
    rx.counter = UINT32_MAX;
    assert_int_equal(sgp32_bsp_protect(&rx, 0x88, false, (const uint8_t *)"x", 1, &w), SGP32_OK);
    assert_int_equal(rx.counter, 0);
    assert_int_equal(sgp32_bsp_protect(&rx, 0x88, false, (const uint8_t *)"x", 1, &w), SGP32_ERR_STATE);
}

/* ------------------------------------------------------------ confirmation code */

static void confirmation_code_hash(void **state)
{
    (void)state;
    uint8_t txid[16], expect[32], out[32];
    unhex("0102030405060708090a0b0c0d0e0f10", txid, 16);
    unhex("87b0215c5d8f952804b1c92d5f2ae9966568b47cd659519536d862e7a9470d2d", expect, 32);
    assert_int_equal(sgp32_hash_confirmation_code((const uint8_t *)"12345678", 8, txid, 16, out), SGP32_OK);
    assert_memory_equal(out, expect, 32);
    /* Bound to the transaction: another transactionId, another hash. */
    txid[15] ^= 1;
    assert_int_equal(sgp32_hash_confirmation_code((const uint8_t *)"12345678", 8, txid, 16, out), SGP32_OK);
    assert_memory_not_equal(out, expect, 32);
    assert_int_equal(sgp32_hash_confirmation_code((const uint8_t *)"1", 1, txid, 0, out),
                     SGP32_ERR_INVALID_ARGUMENT);
    uint8_t long_id[17] = {0};
    assert_int_equal(sgp32_hash_confirmation_code((const uint8_t *)"1", 1, long_id, 17, out),
                     SGP32_ERR_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------ allocation failures */

static int heap_outputs_op(void *ctx)
{
    const sgp32_ec_private_key *priv = ctx;
    sgp32_ec_public_key pub;
    int rc = sgp32_ec_public_from_private(priv, &pub);
    sgp32_buf a, b, c;
    sgp32_buf_init(&a, 1 << 16);
    sgp32_buf_init(&b, 1 << 16);
    sgp32_buf_init(&c, 1 << 16);
    if (rc == SGP32_OK)
        rc = sgp32_ec_public_to_spki(&pub, &a);
    if (rc == SGP32_OK)
        rc = sgp32_ec_private_to_pem(priv, &a);
    sgp32_bsp tx, rx;
    bsp_from_hex(&tx, "472f5bfadd97f21d34f3ce9b51b92751", "9ec07f5b36a13e12a991d66e294e6242",
                 "406d507b448a699e7a36a38494debbde");
    rx = tx;
    static uint8_t data[700];
    for (int i = 0; i < 3 && rc == SGP32_OK; i++) {
        sgp32_buf_reset(&b);
        rc = sgp32_bsp_protect(&tx, 0x86, true, data, 200 + 250 * (size_t)i, &b);
        uint8_t tag;
        const uint8_t *value;
        size_t vlen;
        if (rc == SGP32_OK) {
            split_segment(b.data, b.len, &tag, &value, &vlen);
            sgp32_bsp before = rx;
            rc = sgp32_bsp_unprotect(&rx, tag, true, value, vlen, &c);
            if (rc != SGP32_OK)
                assert_memory_equal(&rx, &before, sizeof(rx));
        }
    }
    sgp32_secure_zero(a.data, a.len);
    sgp32_buf_free(&a);
    sgp32_buf_free(&b);
    sgp32_buf_free(&c);
    return rc;
}

static void every_allocation_failure_is_reported(void **state)
{
    (void)state;
    sgp32_ec_private_key priv;
    load_private(SGP26 "eUICC/SK_EUICC_ECDSA_NIST.pem", &priv);
    size_t n = test_alloc_fail_each(heap_outputs_op, &priv);
    assert_true(n >= 4);
}

/* ------------------------------------------------------------ caches (crypto_cache.c) */

static size_t read_der(const char *path, uint8_t *buf, size_t cap)
{
    return read_file(path, (char *)buf, cap);
}

static void cache_hit_gives_identical_results(void **state)
{
    (void)state;
    sgp32_crypto_cache_flush();
    sgp32_ec_private_key priv;
    sgp32_ec_public_key pub;
    load_private(SGP26 "eUICC/SK_EUICC_ECDSA_NIST.pem", &priv);
    load_public(SGP26 "eUICC/PK_EUICC_ECDSA_NIST.pem", &pub);
    sgp32_bytes part = {(const uint8_t *)message, strlen(message)};
    sgp32_crypto_cache_stats before, after;
    sgp32_crypto_cache_get_stats(&before);
    uint8_t sig1[SGP32_EC_RAW_SIG_LEN], sig2[SGP32_EC_RAW_SIG_LEN];
    assert_int_equal(sgp32_ecdsa_sign(&priv, &part, 1, sig1), SGP32_OK);
    assert_int_equal(sgp32_ecdsa_sign(&priv, &part, 1, sig2), SGP32_OK); /* cached key */
    assert_int_equal(sgp32_ecdsa_verify(&pub, &part, 1, sig1), SGP32_OK);
    assert_int_equal(sgp32_ecdsa_verify(&pub, &part, 1, sig2), SGP32_OK); /* cached key */
    sgp32_crypto_cache_get_stats(&after);
    assert_true(after.key_hits >= before.key_hits + 2);
    assert_true(sgp32_crypto_cache_holds_bytes(priv.scalar, sizeof(priv.scalar)));

    /* A certificate parse from the cache equals the first one, field for field. */
    static uint8_t der[4096];
    size_t n = read_der(SGP26 "eUICC/CERT_EUICC_ECDSA_NIST.der", der, sizeof(der));
    sgp32_certificate *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    assert_non_null(a);
    assert_non_null(b);
    sgp32_crypto_cache_get_stats(&before);
    assert_int_equal(sgp32_cert_parse(der, n, a), SGP32_OK);
    assert_int_equal(sgp32_cert_parse(der, n, b), SGP32_OK);
    sgp32_crypto_cache_get_stats(&after);
    assert_int_equal(after.cert_hits, before.cert_hits + 1);
    assert_memory_equal(a, b, sizeof(*a));
    assert_memory_equal(a->public_key.point, pub.point, SGP32_EC_POINT_LEN);
    /* One byte different (in the signature, which parsing does not judge) is another certificate: a miss. */
    der[n - 1] ^= 1;
    sgp32_crypto_cache_get_stats(&before);
    assert_int_equal(sgp32_cert_parse(der, n, b), SGP32_OK);
    sgp32_crypto_cache_get_stats(&after);
    assert_int_equal(after.cert_misses, before.cert_misses + 1);
    der[n - 1] ^= 1;
    /* Trailing bytes are still refused, even though the prefix is cached. */
    assert_int_equal(sgp32_cert_parse(der, n + 1, b), SGP32_ERR_CERT_PARSE);
    free(a);
    free(b);
}

static void cached_key_still_rejects_wrong_signatures(void **state)
{
    (void)state;
    sgp32_ec_private_key priv;
    sgp32_ec_public_key pub, other;
    load_private(SGP26 "DPpb/SK_S_SM_DPpb_ECDSA_BRP.pem", &priv);
    load_public(SGP26 "DPpb/PK_S_SM_DPpb_ECDSA_BRP.pem", &pub);
    load_public(SGP26 "eUICC/PK_EUICC_ECDSA_BRP.pem", &other);
    sgp32_bytes part = {(const uint8_t *)message, strlen(message)};
    uint8_t sig[SGP32_EC_RAW_SIG_LEN];
    assert_int_equal(sgp32_ecdsa_sign(&priv, &part, 1, sig), SGP32_OK);
    for (int round = 0; round < 2; round++) { /* the second round with every key cached */
        assert_int_equal(sgp32_ecdsa_verify(&pub, &part, 1, sig), SGP32_OK);
        assert_int_equal(sgp32_ecdsa_verify(&other, &part, 1, sig), SGP32_ERR_CRYPTO_BAD_SIGNATURE);
        sgp32_bytes shorter = {part.data, part.len - 1};
        assert_int_equal(sgp32_ecdsa_verify(&pub, &shorter, 1, sig), SGP32_ERR_CRYPTO_BAD_SIGNATURE);
        sig[10] ^= 0x40;
        assert_int_equal(sgp32_ecdsa_verify(&pub, &part, 1, sig), SGP32_ERR_CRYPTO_BAD_SIGNATURE);
        sig[10] ^= 0x40;
    }
    /* The same point claimed on the other curve is another key (and not a valid one there). */
    sgp32_ec_public_key wrong_curve = pub;
    wrong_curve.curve = SGP32_CURVE_NIST_P256;
    assert_int_not_equal(sgp32_ecdsa_verify(&wrong_curve, &part, 1, sig), SGP32_OK);
}

/* Distinct valid P-256 public keys, cheaply: G, 2G, 3G, ... by one point addition each (key
 * generation would cost a scalar multiplication per key; the cache tests need thousands). */
static void next_point(sgp32_ec_public_key *out)
{
    static EC_GROUP *group;
    static EC_POINT *point;
    static BN_CTX *bn;
    if (!group) {
        group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
        point = EC_POINT_new(group);
        bn = BN_CTX_new();
        assert_non_null(group);
        assert_non_null(point);
        assert_int_equal(EC_POINT_copy(point, EC_GROUP_get0_generator(group)), 1);
    }
    assert_int_equal(EC_POINT_add(group, point, point, EC_GROUP_get0_generator(group), bn), 1);
    out->curve = SGP32_CURVE_NIST_P256;
    assert_int_equal(
        EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, out->point, SGP32_EC_POINT_LEN, bn),
        SGP32_EC_POINT_LEN);
}

static void cache_evicts_least_recently_used_and_wipes_private_keys(void **state)
{
    (void)state;
    sgp32_crypto_cache_flush();
    sgp32_crypto_cache_stats st;
    sgp32_crypto_cache_get_stats(&st);
    assert_int_equal(st.keys, 0);
    unsigned long evictions = st.key_evictions;

    sgp32_ec_private_key priv;
    sgp32_ec_public_key pub;
    assert_int_equal(sgp32_ec_generate(SGP32_CURVE_NIST_P256, &priv, &pub), SGP32_OK);
    sgp32_bytes part = {(const uint8_t *)message, strlen(message)};
    uint8_t sig[SGP32_EC_RAW_SIG_LEN];
    assert_int_equal(sgp32_ecdsa_sign(&priv, &part, 1, sig), SGP32_OK);
    assert_true(sgp32_crypto_cache_holds_bytes(priv.scalar, sizeof(priv.scalar)));

    /* A busy key stays: used between every two new keys, it is always the most recent of its set,
     * however many others pass through the table (sets of 4, LRU within a set). */
    enum { BUSY_ROUNDS = 3000, TABLE = 2048 };
    for (int i = 0; i < BUSY_ROUNDS; i++) {
        sgp32_ec_public_key other;
        next_point(&other); /* a verification under it caches it (it fails: sig is priv's) */
        assert_int_equal(sgp32_ecdsa_verify(&other, &part, 1, sig), SGP32_ERR_CRYPTO_BAD_SIGNATURE);
        assert_int_equal(sgp32_ecdsa_sign(&priv, &part, 1, sig), SGP32_OK);
        assert_true(sgp32_crypto_cache_holds_bytes(priv.scalar, sizeof(priv.scalar)));
    }
    sgp32_crypto_cache_get_stats(&st);
    assert_true(st.keys <= TABLE);
    assert_true(st.key_evictions > evictions); /* 3001 keys do not fit: others went */

    /* Left alone, it is pushed out of its set by the keys that follow (least recently used). */
    bool evicted = false;
    for (int i = 0; i < 20 * TABLE && !evicted; i++) {
        sgp32_ec_public_key other;
        next_point(&other);
        assert_int_equal(sgp32_ecdsa_verify(&other, &part, 1, sig), SGP32_ERR_CRYPTO_BAD_SIGNATURE);
        assert_true(sgp32_crypto_cache_holds_bytes(other.point, SGP32_EC_POINT_LEN)); /* the newest stays */
        evicted = !sgp32_crypto_cache_holds_bytes(priv.scalar, sizeof(priv.scalar));
    }
    assert_true(evicted);

    /* Evicted keys still work (rebuilt), and the signature made before still verifies. */
    assert_int_equal(sgp32_ecdsa_verify(&pub, &part, 1, sig), SGP32_OK);
    assert_int_equal(sgp32_ecdsa_sign(&priv, &part, 1, sig), SGP32_OK);
    assert_int_equal(sgp32_ecdsa_verify(&pub, &part, 1, sig), SGP32_OK);
    assert_true(sgp32_crypto_cache_holds_bytes(priv.scalar, sizeof(priv.scalar)));

    /* A flush wipes it too. */
    sgp32_crypto_cache_flush();
    assert_false(sgp32_crypto_cache_holds_bytes(priv.scalar, sizeof(priv.scalar)));
    sgp32_crypto_cache_get_stats(&st);
    assert_int_equal(st.keys + st.certs + st.links, 0);
    sgp32_secure_zero(&priv, sizeof(priv));
}

static void chain_links_are_cached_but_every_check_still_runs(void **state)
{
    (void)state;
    static uint8_t ci_der[4096], eum_der[4096], euicc_der[4096];
    size_t ci_n = read_der(SGP26 "CertificateIssuer/CERT_CI_ECDSA_NIST.der", ci_der, sizeof(ci_der));
    size_t eum_n = read_der(SGP26 "EUM/CERT_EUM_ECDSA_NIST.der", eum_der, sizeof(eum_der));
    size_t euicc_n = read_der(SGP26 "eUICC/CERT_EUICC_ECDSA_NIST.der", euicc_der, sizeof(euicc_der));
    sgp32_ci_set cis;
    sgp32_ci_set_init(&cis);
    assert_int_equal(sgp32_ci_set_add(&cis, ci_der, ci_n), SGP32_OK);
    sgp32_crypto_cache_flush();
    sgp32_euicc_chain *first = calloc(1, sizeof(*first)), *second = calloc(1, sizeof(*second));
    assert_non_null(first);
    assert_non_null(second);
    sgp32_bytes eum = {eum_der, eum_n}, euicc = {euicc_der, euicc_n};
    assert_int_equal(sgp32_cert_verify_euicc_chain(&cis, eum, euicc, SGP32_CERT_NO_TIME_CHECK, NULL, first),
                     SGP32_OK);
    sgp32_crypto_cache_stats before, after;
    sgp32_crypto_cache_get_stats(&before);
    assert_int_equal(before.links, 2);
    assert_int_equal(sgp32_cert_verify_euicc_chain(&cis, eum, euicc, SGP32_CERT_NO_TIME_CHECK, NULL, second),
                     SGP32_OK);
    sgp32_crypto_cache_get_stats(&after);
    assert_int_equal(after.link_hits, before.link_hits + 2);
    assert_memory_equal(first, second, sizeof(*first));

    /* Checks that are not about the links are made again: dates, expected EID. */
    assert_int_equal(sgp32_cert_verify_euicc_chain(&cis, eum, euicc, first->euicc.not_after + 1, NULL, NULL),
                     SGP32_ERR_CERT_EXPIRED);
    uint8_t eid[SGP32_EID_LEN];
    memcpy(eid, first->euicc.eid, sizeof(eid));
    eid[15] ^= 0x01;
    assert_int_equal(sgp32_cert_verify_euicc_chain(&cis, eum, euicc, SGP32_CERT_NO_TIME_CHECK, eid, NULL),
                     SGP32_ERR_CERT_EID_MISMATCH);
    /* Another CI set without that CI: unknown CI, whatever the cache holds. */
    sgp32_ci_set empty;
    sgp32_ci_set_init(&empty);
    assert_int_equal(sgp32_cert_verify_euicc_chain(&empty, eum, euicc, SGP32_CERT_NO_TIME_CHECK, NULL, NULL),
                     SGP32_ERR_CERT_UNKNOWN_CI);
    /* A changed signature byte of the eUICC certificate is a different DER: verified afresh, refused. */
    euicc_der[euicc_n - 5] ^= 0x01;
    int rc = sgp32_cert_verify_euicc_chain(&cis, eum, euicc, SGP32_CERT_NO_TIME_CHECK, NULL, NULL);
    assert_true(rc == SGP32_ERR_CERT_SIGNATURE || rc == SGP32_ERR_CERT_PARSE);
    euicc_der[euicc_n - 5] ^= 0x01;
    /* Swapped roles: the EUM as the leaf is refused by policy before any link is looked at. */
    assert_int_equal(sgp32_cert_verify_euicc_chain(&cis, eum, eum, SGP32_CERT_NO_TIME_CHECK, NULL, NULL),
                     SGP32_ERR_CERT_POLICY);
    free(first);
    free(second);
    sgp32_ci_set_free(&cis);
}

typedef struct cache_thread {
    const sgp32_ec_private_key *priv;
    const sgp32_ec_public_key *pub;
    const sgp32_ec_public_key *wrong;
    int index, failures;
} cache_thread;

static void *cache_worker(void *arg)
{
    cache_thread *t = arg;
    for (int i = 0; i < 40; i++) {
        char text[64];
        int len = snprintf(text, sizeof(text), "thread %d message %d", t->index, i);
        sgp32_bytes part = {(const uint8_t *)text, (size_t)len};
        uint8_t sig[SGP32_EC_RAW_SIG_LEN];
        if (sgp32_ecdsa_sign(t->priv, &part, 1, sig) != SGP32_OK ||
            sgp32_ecdsa_verify(t->pub, &part, 1, sig) != SGP32_OK ||
            sgp32_ecdsa_verify(t->wrong, &part, 1, sig) != SGP32_ERR_CRYPTO_BAD_SIGNATURE)
            t->failures++;
        sig[0] ^= 0x80;
        if (sgp32_ecdsa_verify(t->pub, &part, 1, sig) != SGP32_ERR_CRYPTO_BAD_SIGNATURE)
            t->failures++;
        if (i % 8 == 0) { /* churn: fresh keys push shared ones out while others use them */
            sgp32_ec_private_key tmp;
            sgp32_ec_public_key tmp_pub;
            if (sgp32_ec_generate(SGP32_CURVE_NIST_P256, &tmp, &tmp_pub) != SGP32_OK ||
                sgp32_ec_public_validate(&tmp_pub) != SGP32_OK ||
                sgp32_ecdsa_verify(&tmp_pub, &part, 1, sig) != SGP32_ERR_CRYPTO_BAD_SIGNATURE)
                t->failures++;
        }
        if (t->index == 0 && i % 10 == 9)
            sgp32_crypto_cache_flush();
    }
    return NULL;
}

static void cache_is_safe_across_threads(void **state)
{
    (void)state;
    sgp32_ec_private_key priv[2];
    sgp32_ec_public_key pub[2];
    load_private(SGP26 "eUICC/SK_EUICC_ECDSA_NIST.pem", &priv[0]);
    load_public(SGP26 "eUICC/PK_EUICC_ECDSA_NIST.pem", &pub[0]);
    load_private(SGP26 "eUICC/SK_EUICC_ECDSA_BRP.pem", &priv[1]);
    load_public(SGP26 "eUICC/PK_EUICC_ECDSA_BRP.pem", &pub[1]);
    enum { THREADS = 6 };
    cache_thread t[THREADS];
    pthread_t id[THREADS];
    for (int i = 0; i < THREADS; i++) {
        t[i] = (cache_thread){&priv[i % 2], &pub[i % 2], &pub[(i + 1) % 2], i, 0};
        assert_int_equal(pthread_create(&id[i], NULL, cache_worker, &t[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(id[i], NULL), 0);
        assert_int_equal(t[i].failures, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sha256_known_answers),
        cmocka_unit_test(random_bytes_are_fresh),
        cmocka_unit_test(secure_zero_wipes),
        cmocka_unit_test(curve_names),
        cmocka_unit_test(public_from_private_generator_and_range),
        cmocka_unit_test(public_validate_rejects_bad_points),
        cmocka_unit_test(sgp26_keys_match_their_public_keys),
        cmocka_unit_test(pem_export_round_trip_and_rejects),
        cmocka_unit_test(spki_rejects_malformed),
        cmocka_unit_test(ecdsa_sign_verify_sgp26_keys),
        cmocka_unit_test(ecdsa_verifies_openssl_cli_signatures),
        cmocka_unit_test(ecdsa_raw_der_conversion),
        cmocka_unit_test(ecka_agrees_and_matches_openssl_cli),
        cmocka_unit_test(kdf_x963_nist_cavs),
        cmocka_unit_test(aes_cmac_rfc4493),
        cmocka_unit_test(bsp_key_derivation_vectors),
        cmocka_unit_test(bsp_known_answer_pysim),
        cmocka_unit_test(bsp_round_trip_many_segments),
        cmocka_unit_test(bsp_rejects_tampering_without_state_change),
        cmocka_unit_test(bsp_rekey_and_clear),
        cmocka_unit_test(confirmation_code_hash),
        cmocka_unit_test(every_allocation_failure_is_reported),
        cmocka_unit_test(cache_hit_gives_identical_results),
        cmocka_unit_test(cached_key_still_rejects_wrong_signatures),
        cmocka_unit_test(cache_evicts_least_recently_used_and_wipes_private_keys),
        cmocka_unit_test(chain_links_are_cached_but_every_check_still_runs),
        cmocka_unit_test(cache_is_safe_across_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

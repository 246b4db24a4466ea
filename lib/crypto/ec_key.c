/*
 * EC keys on the two curves of SGP.22 §2.6.5 / SGP.32 §2.6: NIST P-256 and
 * brainpoolP256r1. Keys cross the public API as raw bytes (04||X||Y and the
 * 32-byte scalar, NOTES §6.1); this file is the one place that turns them into
 * validated OpenSSL keys and back.
 *
 * - generate: the one-time key pairs of the BPP key agreement (§3.1.3, §5.7.6);
 * - public from private / validate: every received point is checked to lie on
 *   the curve before ECDSA or ECKA uses it (invalid-curve attacks);
 * - PEM: the SGP.26 test keys are SEC1 "EC PRIVATE KEY" preceded by an
 *   "EC PARAMETERS" block (NOTES §6.3); PKCS#8 "PRIVATE KEY" is accepted too
 *   and is what we write;
 * - SPKI: the eIM public keys in the eIM configuration data (SGP.32 §2.11).
 */
#include <limits.h>
#include <string.h>

#include "crypto_internal.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

const char *sgp32_curve_name(sgp32_curve curve)
{
    switch (curve) {
    case SGP32_CURVE_NIST_P256: return "NIST P-256";
    case SGP32_CURVE_BRAINPOOL_P256R1: return "brainpoolP256r1";
    }
    return "unknown curve";
}

int sgp32_crypto_curve_nid(sgp32_curve curve)
{
    switch (curve) {
    case SGP32_CURVE_NIST_P256: return NID_X9_62_prime256v1;
    case SGP32_CURVE_BRAINPOOL_P256R1: return NID_brainpoolP256r1;
    }
    return NID_undef;
}

const char *sgp32_crypto_curve_group(sgp32_curve curve)
{
    switch (curve) {
    case SGP32_CURVE_NIST_P256: return SN_X9_62_prime256v1;
    case SGP32_CURVE_BRAINPOOL_P256R1: return SN_brainpoolP256r1;
    }
    return NULL;
}

int sgp32_crypto_curve_from_pkey(const EVP_PKEY *pkey, sgp32_curve *curve)
{
    if (!pkey || !curve)
        return SGP32_ERR_INVALID_ARGUMENT;
    if (!EVP_PKEY_is_a(pkey, "EC"))
        return SGP32_ERR_CRYPTO_BAD_KEY;
    char name[80];
    size_t name_len = 0;
    /* SGP.22 keys name their curve by OID; explicit parameters are refused even when they match. */
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_ENCODING, name, sizeof(name), &name_len) ==
            1 &&
        strcmp(name, OSSL_PKEY_EC_ENCODING_GROUP) != 0)
        return SGP32_ERR_CRYPTO_UNSUPPORTED_CURVE;
    if (EVP_PKEY_get_group_name(pkey, name, sizeof(name), &name_len) != 1)
        return sgp32_crypto_result(SGP32_ERR_CRYPTO_UNSUPPORTED_CURVE);
    int nid = OBJ_sn2nid(name);
    if (nid == NID_undef)
        nid = EC_curve_nist2nid(name);
    if (nid == NID_X9_62_prime256v1)
        *curve = SGP32_CURVE_NIST_P256;
    else if (nid == NID_brainpoolP256r1)
        *curve = SGP32_CURVE_BRAINPOOL_P256R1;
    else
        return sgp32_crypto_result(SGP32_ERR_CRYPTO_UNSUPPORTED_CURVE);
    return SGP32_OK;
}

/* Build an EC EVP_PKEY from an OSSL_PARAM list of group, public point and (optionally) scalar. */
static int pkey_from_params(const char *group, const uint8_t point[SGP32_EC_POINT_LEN], const BIGNUM *d,
                            EVP_PKEY **out)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    int rc = SGP32_ERR_CRYPTO;
    if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, SGP32_EC_POINT_LEN) != 1 ||
        (d && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) != 1))
        goto done;
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1)
        goto done;
    if (EVP_PKEY_fromdata(ctx, &pkey, d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) != 1) {
        rc = SGP32_ERR_CRYPTO_BAD_KEY; /* the point does not decode on this curve */
        goto done;
    }
    *out = pkey;
    pkey = NULL;
    rc = SGP32_OK;
done:
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params); /* the scalar sits in secure memory, cleared on free */
    OSSL_PARAM_BLD_free(bld);
    return sgp32_crypto_result(rc);
}

int sgp32_crypto_pkey_from_public(const sgp32_ec_public_key *pub, EVP_PKEY **out)
{
    if (!pub || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    *out = NULL;
    const char *group = sgp32_crypto_curve_group(pub->curve);
    if (!group)
        return SGP32_ERR_CRYPTO_UNSUPPORTED_CURVE;
    if (pub->point[0] != 0x04) /* only the uncompressed form crosses the API */
        return SGP32_ERR_CRYPTO_BAD_KEY;
    EVP_PKEY *pkey = NULL;
    int rc = pkey_from_params(group, pub->point, NULL, &pkey);
    if (rc != SGP32_OK)
        return rc;
    /* On the curve and not the point at infinity. The order check of the full check (one more
     * scalar multiplication) adds nothing here: P-256 and brainpoolP256r1 have cofactor 1, so
     * every point on the curve but infinity has order n. */
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (!ctx)
        rc = SGP32_ERR_CRYPTO;
    else if (EVP_PKEY_public_check_quick(ctx) != 1)
        rc = SGP32_ERR_CRYPTO_BAD_KEY;
    EVP_PKEY_CTX_free(ctx);
    if (rc != SGP32_OK) {
        EVP_PKEY_free(pkey);
        return sgp32_crypto_result(rc);
    }
    *out = pkey;
    return SGP32_OK;
}

int sgp32_crypto_scalar_to_bn(const EC_GROUP *group, const uint8_t scalar[SGP32_EC_SCALAR_LEN], BIGNUM **out)
{
    BIGNUM *d = BN_secure_new();
    if (!d)
        return SGP32_ERR_CRYPTO;
    if (!BN_bin2bn(scalar, SGP32_EC_SCALAR_LEN, d)) {
        BN_clear_free(d);
        return SGP32_ERR_CRYPTO;
    }
    BN_set_flags(d, BN_FLG_CONSTTIME);
    if (BN_is_zero(d) || BN_cmp(d, EC_GROUP_get0_order(group)) >= 0) {
        BN_clear_free(d);
        return SGP32_ERR_CRYPTO_BAD_KEY;
    }
    *out = d;
    return SGP32_OK;
}

/* d*G as 04||X||Y, and (when d_out is set) the scalar as a BIGNUM for the caller. */
static int derive_point(const sgp32_ec_private_key *priv, uint8_t point[SGP32_EC_POINT_LEN], BIGNUM **d_out)
{
    if (sgp32_crypto_curve_nid(priv->curve) == NID_undef)
        return SGP32_ERR_CRYPTO_UNSUPPORTED_CURVE;
    const EC_GROUP *group = sgp32_crypto_ec_group(priv->curve); /* shared, read-only */
    BN_CTX *bnctx = BN_CTX_secure_new();
    BIGNUM *d = NULL;
    EC_POINT *q = NULL;
    int rc = SGP32_ERR_CRYPTO;
    if (!group || !bnctx)
        goto done;
    rc = sgp32_crypto_scalar_to_bn(group, priv->scalar, &d);
    if (rc != SGP32_OK)
        goto done;
    rc = SGP32_ERR_CRYPTO;
    q = EC_POINT_new(group);
    /* Generator-only multiplication takes OpenSSL's constant-time ladder. */
    if (!q || EC_POINT_mul(group, q, d, NULL, NULL, bnctx) != 1 ||
        EC_POINT_point2oct(group, q, POINT_CONVERSION_UNCOMPRESSED, point, SGP32_EC_POINT_LEN, bnctx) !=
            SGP32_EC_POINT_LEN)
        goto done;
    if (d_out) {
        *d_out = d;
        d = NULL;
    }
    rc = SGP32_OK;
done:
    EC_POINT_clear_free(q);
    BN_clear_free(d);
    BN_CTX_free(bnctx);
    return sgp32_crypto_result(rc);
}

int sgp32_ec_public_from_private(const sgp32_ec_private_key *priv, sgp32_ec_public_key *pub)
{
    if (!priv || !pub)
        return SGP32_ERR_INVALID_ARGUMENT;
    uint8_t point[SGP32_EC_POINT_LEN];
    int rc = derive_point(priv, point, NULL);
    if (rc != SGP32_OK)
        return rc;
    pub->curve = priv->curve;
    memcpy(pub->point, point, sizeof(point));
    return SGP32_OK;
}

int sgp32_crypto_pkey_from_private(const sgp32_ec_private_key *priv, EVP_PKEY **out)
{
    if (!priv || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    *out = NULL;
    uint8_t point[SGP32_EC_POINT_LEN];
    BIGNUM *d = NULL;
    int rc = derive_point(priv, point, &d);
    if (rc != SGP32_OK)
        return rc;
    rc = pkey_from_params(sgp32_crypto_curve_group(priv->curve), point, d, out);
    BN_clear_free(d);
    return rc;
}

int sgp32_crypto_point_decode(const EC_GROUP *group, const sgp32_ec_public_key *pub, EC_POINT *out)
{
    /* only the uncompressed form crosses the API; OpenSSL refuses a point off the curve */
    if (pub->point[0] != 0x04 || EC_POINT_oct2point(group, out, pub->point, SGP32_EC_POINT_LEN, NULL) != 1 ||
        EC_POINT_is_at_infinity(group, out))
        return SGP32_ERR_CRYPTO_BAD_KEY;
    return SGP32_OK;
}

/* The check of sgp32_crypto_pkey_from_public (cofactor 1), on the shared group: mostly one-time
 * keys, which must neither build an EVP_PKEY nor take a slot of the key cache from the long-lived
 * ones. */
int sgp32_ec_public_validate(const sgp32_ec_public_key *pub)
{
    if (!pub)
        return SGP32_ERR_INVALID_ARGUMENT;
    const EC_GROUP *group = sgp32_crypto_ec_group(pub->curve);
    if (!group)
        return SGP32_ERR_CRYPTO_UNSUPPORTED_CURVE;
    EC_POINT *q = EC_POINT_new(group);
    int rc = q ? sgp32_crypto_point_decode(group, pub, q) : SGP32_ERR_CRYPTO;
    EC_POINT_free(q);
    return sgp32_crypto_result(rc);
}

static int bn_param(const EVP_PKEY *pkey, const char *name, uint8_t out[SGP32_EC_SCALAR_LEN])
{
    BIGNUM *bn = NULL;
    if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1)
        return SGP32_ERR_CRYPTO_BAD_KEY;
    int ok = BN_bn2binpad(bn, out, SGP32_EC_SCALAR_LEN) == SGP32_EC_SCALAR_LEN;
    BN_clear_free(bn);
    return ok ? SGP32_OK : SGP32_ERR_CRYPTO_BAD_KEY;
}

/* The curve and the point of an EC EVP_PKEY, not yet validated. */
static int raw_public_from_pkey(const EVP_PKEY *pkey, sgp32_ec_public_key *pub)
{
    sgp32_ec_public_key tmp = {0};
    int rc = sgp32_crypto_curve_from_pkey(pkey, &tmp.curve);
    /* X and Y separately, so a key decoded from a compressed point still comes out uncompressed. */
    if (rc == SGP32_OK)
        rc = bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, tmp.point + 1);
    if (rc == SGP32_OK)
        rc = bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, tmp.point + 1 + SGP32_EC_SCALAR_LEN);
    tmp.point[0] = 0x04;
    if (rc == SGP32_OK)
        *pub = tmp;
    return rc;
}

int sgp32_crypto_public_from_pkey(const EVP_PKEY *pkey, sgp32_ec_public_key *pub)
{
    if (!pkey || !pub)
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_ec_public_key tmp = {0};
    int rc = raw_public_from_pkey(pkey, &tmp);
    if (rc == SGP32_OK)
        rc = sgp32_ec_public_validate(&tmp);
    if (rc != SGP32_OK)
        return sgp32_crypto_result(rc);
    *pub = tmp;
    return SGP32_OK;
}

/*
 * The scalar of a decoded key pair; the key's own public point must match d*G. d lies in
 * [1, n-1], so d*G is a valid point of order n and an embedded point equal to it needs no
 * separate public-key check. pub (optional) receives that point.
 */
static int private_from_pkey(const EVP_PKEY *pkey, sgp32_ec_private_key *priv, sgp32_ec_public_key *pub)
{
    sgp32_ec_private_key tmp = {0};
    sgp32_ec_public_key embedded, derived;
    int rc = sgp32_crypto_curve_from_pkey(pkey, &tmp.curve);
    if (rc == SGP32_OK)
        rc = bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, tmp.scalar);
    if (rc == SGP32_OK)
        rc = sgp32_ec_public_from_private(&tmp, &derived);
    if (rc == SGP32_OK)
        rc = raw_public_from_pkey(pkey, &embedded);
    if (rc == SGP32_OK &&
        (embedded.curve != derived.curve || memcmp(embedded.point, derived.point, SGP32_EC_POINT_LEN) != 0))
        rc = SGP32_ERR_CRYPTO_BAD_KEY;
    if (rc == SGP32_OK) {
        *priv = tmp;
        if (pub)
            *pub = derived;
    }
    sgp32_secure_zero(&tmp, sizeof(tmp));
    return rc;
}

/*
 * A one-time key pair: d uniform in [1, n-1] (candidates from OpenSSL's private DRBG, out-of-range
 * ones drawn again, FIPS 186-5 A.2.2), Q = d*G on the shared group. One scalar multiplication:
 * EVP keygen would build a new EC_GROUP and the round trip through EVP_PKEY would need another
 * multiplication to check the point, which doubled the cost of a session's one-time key.
 */
int sgp32_ec_generate(sgp32_curve curve, sgp32_ec_private_key *priv, sgp32_ec_public_key *pub)
{
    if (!priv)
        return SGP32_ERR_INVALID_ARGUMENT;
    const EC_GROUP *group = sgp32_crypto_ec_group(curve);
    if (!group)
        return SGP32_ERR_CRYPTO_UNSUPPORTED_CURVE;
    sgp32_ec_private_key tmp = {.curve = curve};
    uint8_t point[SGP32_EC_POINT_LEN];
    int rc = SGP32_ERR_CRYPTO;
    /* n is close to 2^256 for both curves: a candidate is out of range with probability < 2^-32
     * (P-256) or about 0.33 (brainpoolP256r1), so a few draws always suffice. */
    for (int attempt = 0; attempt < 64 && rc != SGP32_OK; attempt++) {
        if (RAND_priv_bytes(tmp.scalar, sizeof(tmp.scalar)) != 1)
            break;
        rc = derive_point(&tmp, point, NULL);
        if (rc != SGP32_OK && rc != SGP32_ERR_CRYPTO_BAD_KEY)
            break;
    }
    if (rc == SGP32_OK) {
        *priv = tmp;
        if (pub) {
            pub->curve = curve;
            memcpy(pub->point, point, sizeof(point));
        }
    }
    sgp32_secure_zero(&tmp, sizeof(tmp));
    return rc == SGP32_OK ? rc : sgp32_crypto_result(SGP32_ERR_CRYPTO);
}

static const char *find_text(const char *hay, size_t hay_len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; n <= hay_len && i <= hay_len - n; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return hay + i;
    return NULL;
}

int sgp32_ec_private_from_pem(const char *pem, size_t pem_len, sgp32_ec_private_key *priv)
{
    if (!pem || !priv)
        return SGP32_ERR_INVALID_ARGUMENT;
    /* Skip an "EC PARAMETERS" block (or anything else) in front of the key. */
    const char *start = find_text(pem, pem_len, "-----BEGIN EC PRIVATE KEY-----");
    if (!start)
        start = find_text(pem, pem_len, "-----BEGIN PRIVATE KEY-----");
    if (!start)
        return SGP32_ERR_CRYPTO_BAD_KEY;
    const unsigned char *p = (const unsigned char *)start;
    size_t left = pem_len - (size_t)(start - pem);

    EVP_PKEY *pkey = NULL;
    /* No passphrase callback: an encrypted key fails instead of prompting. */
    OSSL_DECODER_CTX *dctx =
        OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, "EC", EVP_PKEY_KEYPAIR, NULL, NULL);
    int rc = SGP32_ERR_CRYPTO_BAD_KEY;
    if (!dctx)
        rc = SGP32_ERR_CRYPTO;
    else if (OSSL_DECODER_from_data(dctx, &p, &left) == 1 && pkey)
        rc = private_from_pkey(pkey, priv, NULL);
    OSSL_DECODER_CTX_free(dctx);
    EVP_PKEY_free(pkey);
    return sgp32_crypto_result(rc);
}

int sgp32_ec_private_to_pem(const sgp32_ec_private_key *priv, sgp32_buf *out)
{
    if (!priv || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    EVP_PKEY *pkey = NULL;
    int rc = sgp32_crypto_pkey_from_private(priv, &pkey);
    if (rc != SGP32_OK)
        return rc;
    OSSL_ENCODER_CTX *ectx =
        OSSL_ENCODER_CTX_new_for_pkey(pkey, EVP_PKEY_KEYPAIR, "PEM", "PrivateKeyInfo", NULL);
    unsigned char *text = NULL;
    size_t text_len = 0;
    rc = SGP32_ERR_CRYPTO;
    if (ectx && OSSL_ENCODER_CTX_get_num_encoders(ectx) > 0 &&
        OSSL_ENCODER_to_data(ectx, &text, &text_len) == 1) {
        size_t start = out->len;
        uint8_t *dst;
        rc = sgp32_buf_extend(out, text_len + 1, &dst);
        if (rc == SGP32_OK) {
            memcpy(dst, text, text_len);
            dst[text_len] = '\0';
            out->len = start + text_len; /* the NUL follows the text but is not counted */
        }
    }
    if (text)
        OPENSSL_clear_free(text, text_len);
    OSSL_ENCODER_CTX_free(ectx);
    EVP_PKEY_free(pkey);
    return sgp32_crypto_result(rc);
}

int sgp32_ec_public_from_spki(const uint8_t *der, size_t len, sgp32_ec_public_key *pub)
{
    if (!der || !pub)
        return SGP32_ERR_INVALID_ARGUMENT;
    if (len == 0 || len > LONG_MAX)
        return SGP32_ERR_CRYPTO_BAD_KEY;
    const unsigned char *p = der;
    EVP_PKEY *pkey = d2i_PUBKEY_ex(NULL, &p, (long)len, NULL, NULL);
    int rc = SGP32_ERR_CRYPTO_BAD_KEY;
    if (pkey && p == der + len) /* no trailing bytes */
        rc = sgp32_crypto_public_from_pkey(pkey, pub);
    EVP_PKEY_free(pkey);
    return sgp32_crypto_result(rc);
}

int sgp32_ec_public_to_spki(const sgp32_ec_public_key *pub, sgp32_buf *out)
{
    if (!pub || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    EVP_PKEY *pkey = NULL;
    int rc = sgp32_crypto_pkey_from_public(pub, &pkey);
    if (rc != SGP32_OK)
        return rc;
    int len = i2d_PUBKEY(pkey, NULL);
    rc = SGP32_ERR_CRYPTO;
    if (len > 0) {
        size_t start = out->len;
        uint8_t *dst;
        rc = sgp32_buf_extend(out, (size_t)len, &dst);
        if (rc == SGP32_OK && i2d_PUBKEY(pkey, &dst) != len) {
            out->len = start;
            rc = SGP32_ERR_CRYPTO;
        }
    }
    EVP_PKEY_free(pkey);
    return sgp32_crypto_result(rc);
}

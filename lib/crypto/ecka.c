/*
 * ECKA-DH (BSI TR-03111 §4.3.1), SGP.22 §3.1.3 / §5.7.6 (NOTES §7): the
 * eUICC and the SM-DP+ each contribute a one-time key pair and derive the
 * shared secret Z, the 32-byte x-coordinate of d*Q, from which the X9.63 KDF
 * makes the BSP session keys.
 *
 * Straight on the shared EC_GROUP rather than through EVP_PKEY_derive: both
 * keys are one-time, so the EVP route built two keys (a new group each, and a
 * scalar multiplication to rebuild the private key's point) around the one
 * multiplication that matters. The peer point is decoded on the curve (OpenSSL
 * refuses a point off it) and must not be infinity; both curves have cofactor
 * 1, so that is all ECKA needs. The multiplication is constant-time in d.
 */
#include <string.h>

#include "crypto_internal.h"

#include <openssl/bn.h>
#include <openssl/ec.h>

int sgp32_ecka(const sgp32_ec_private_key *priv, const sgp32_ec_public_key *peer,
               uint8_t z[SGP32_EC_SCALAR_LEN])
{
    if (!priv || !peer || !z)
        return SGP32_ERR_INVALID_ARGUMENT;
    if (priv->curve != peer->curve)
        return SGP32_ERR_CRYPTO_BAD_KEY;
    const EC_GROUP *group = sgp32_crypto_ec_group(priv->curve);
    if (!group)
        return SGP32_ERR_CRYPTO_UNSUPPORTED_CURVE;
    BN_CTX *bnctx = BN_CTX_secure_new();
    EC_POINT *q = EC_POINT_new(group), *shared = EC_POINT_new(group);
    BIGNUM *d = NULL, *x = BN_secure_new();
    int rc = SGP32_ERR_CRYPTO;
    if (!bnctx || !q || !shared || !x)
        goto done;
    rc = sgp32_crypto_point_decode(group, peer, q);
    if (rc == SGP32_OK)
        rc = sgp32_crypto_scalar_to_bn(group, priv->scalar, &d);
    if (rc != SGP32_OK)
        goto done;
    rc = SGP32_ERR_CRYPTO;
    if (EC_POINT_mul(group, shared, NULL, q, d, bnctx) != 1 || EC_POINT_is_at_infinity(group, shared) ||
        EC_POINT_get_affine_coordinates(group, shared, x, NULL, bnctx) != 1)
        goto done;
    /* Z is the x-coordinate padded to the field size, as ECKA requires */
    if (BN_bn2binpad(x, z, SGP32_EC_SCALAR_LEN) != SGP32_EC_SCALAR_LEN)
        goto done;
    rc = SGP32_OK;
done:
    BN_clear_free(x);
    BN_clear_free(d);
    EC_POINT_clear_free(shared);
    EC_POINT_free(q);
    BN_CTX_free(bnctx);
    return sgp32_crypto_result(rc);
}

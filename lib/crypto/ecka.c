/*
 * ECKA-DH (BSI TR-03111 §4.3.1), SGP.22 §3.1.3 / §5.7.6 (NOTES §7): the
 * eUICC and the SM-DP+ each contribute a one-time key pair and derive the
 * shared secret Z, the 32-byte x-coordinate of d*Q, from which the X9.63 KDF
 * makes the BSP session keys. The peer point is validated first (both curves
 * have cofactor 1, so an on-curve point of order n is all ECKA needs).
 */
#include <string.h>

#include "crypto_internal.h"

#include <openssl/evp.h>

int sgp32_ecka(const sgp32_ec_private_key *priv, const sgp32_ec_public_key *peer,
               uint8_t z[SGP32_EC_SCALAR_LEN])
{
    if (!priv || !peer || !z)
        return SGP32_ERR_INVALID_ARGUMENT;
    if (priv->curve != peer->curve)
        return SGP32_ERR_CRYPTO_BAD_KEY;
    EVP_PKEY *mine = NULL, *theirs = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    uint8_t secret[SGP32_EC_SCALAR_LEN];
    size_t secret_len = sizeof(secret);
    /* The one-time private key is not cached (it must not outlive the session); the peer's
     * point is, as a key that passed the full public-key check (sgp32_ec_public_validate). */
    int rc = sgp32_crypto_pkey_from_private(priv, &mine);
    if (rc == SGP32_OK)
        rc = sgp32_crypto_pkey_public_cached(peer, &theirs);
    if (rc != SGP32_OK)
        goto done;
    rc = SGP32_ERR_CRYPTO;
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, mine, NULL);
    if (!ctx || EVP_PKEY_derive_init(ctx) != 1)
        goto done;
    /* Already fully checked above (on the curve, order n); OpenSSL still matches the groups. */
    if (EVP_PKEY_derive_set_peer_ex(ctx, theirs, 0) != 1) {
        rc = SGP32_ERR_CRYPTO_BAD_KEY;
        goto done;
    }
    /* OpenSSL pads the x-coordinate to the field size, as ECKA requires. */
    if (EVP_PKEY_derive(ctx, secret, &secret_len) != 1 || secret_len != sizeof(secret))
        goto done;
    memcpy(z, secret, sizeof(secret));
    rc = SGP32_OK;
done:
    sgp32_secure_zero(secret, sizeof(secret));
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(theirs);
    EVP_PKEY_free(mine);
    return sgp32_crypto_result(rc);
}

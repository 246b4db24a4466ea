/*
 * The ANSI X9.63 key derivation function with SHA-256 (SGP.22 Annex G,
 * NOTES §7): KeyData = SHA256(Z || counter32be || SharedInfo) for counter =
 * 1, 2, ..., concatenated and truncated to the requested length. The BSP
 * derives its initial MAC chaining value, S-ENC and S-MAC with it (bsp.c).
 */
#include "crypto_internal.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

int sgp32_kdf_x963_sha256(const uint8_t *z, size_t z_len, const uint8_t *shared_info, size_t info_len,
                          uint8_t *out, size_t out_len)
{
    if (!z || z_len == 0 || (!shared_info && info_len) || !out || out_len == 0)
        return SGP32_ERR_INVALID_ARGUMENT;
    EVP_KDF *kdf = sgp32_crypto_x963_kdf(); /* fetched once, shared */
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[4];
    size_t n = 0;
    params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)z, z_len);
    if (info_len)
        params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)shared_info, info_len);
    params[n] = OSSL_PARAM_construct_end();
    int rc = SGP32_ERR_CRYPTO;
    if (ctx && EVP_KDF_derive(ctx, out, out_len, params) == 1)
        rc = SGP32_OK;
    EVP_KDF_CTX_free(ctx); /* clears the copied key */
    if (rc != SGP32_OK)
        sgp32_secure_zero(out, out_len);
    return sgp32_crypto_result(rc);
}

/*
 * SHA-256 (FIPS 180-4), the only hash of the eSIM protocol: ECDSA-SHA256
 * signatures (SGP.22 §2.6.5), the X9.63 KDF (Annex G), the confirmation code
 * hash (§3.1.3) and the hashes of cached certificates. The parts variant
 * hashes signed data that is a concatenation (NOTES §6.1) without copying it.
 */
#include "crypto_internal.h"

#include <openssl/evp.h>

int sgp32_sha256_parts(const sgp32_bytes *parts, size_t count, uint8_t out[SGP32_SHA256_LEN])
{
    if (!out || (!parts && count))
        return SGP32_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < count; i++)
        if (!parts[i].data && parts[i].len)
            return SGP32_ERR_INVALID_ARGUMENT;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = SGP32_ERR_CRYPTO;
    unsigned int len = 0;
    const EVP_MD *md = sgp32_crypto_sha256_md(); /* fetched once */
    if (!ctx || !md || EVP_DigestInit_ex2(ctx, md, NULL) != 1)
        goto done;
    for (size_t i = 0; i < count; i++)
        if (parts[i].len && EVP_DigestUpdate(ctx, parts[i].data, parts[i].len) != 1)
            goto done;
    if (EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != SGP32_SHA256_LEN)
        goto done;
    rc = SGP32_OK;
done:
    EVP_MD_CTX_free(ctx);
    return sgp32_crypto_result(rc);
}

int sgp32_sha256(const uint8_t *data, size_t len, uint8_t out[SGP32_SHA256_LEN])
{
    sgp32_bytes part = {data, len};
    return sgp32_sha256_parts(&part, 1, out);
}

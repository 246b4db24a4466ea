/*
 * Randomness for challenges, transaction ids and one-time keys
 * (SGP.22 §3.1.2 euiccChallenge/serverChallenge, §3.1.3 transactionId).
 *
 * SGP.22 requires these values to be unpredictable; they come from
 * OpenSSL's DRBG, which OpenSSL seeds and reseeds from the OS CSPRNG.
 * This file also holds sgp32_crypto_result, the shared "drop OpenSSL's
 * error queue on failure" helper of lib/crypto.
 */
#include <limits.h>

#include "crypto_internal.h"

#include <openssl/err.h>
#include <openssl/rand.h>

int sgp32_random_bytes(uint8_t *out, size_t len)
{
    if (!out && len)
        return SGP32_ERR_INVALID_ARGUMENT;
    while (len) {
        int chunk = len > (size_t)INT_MAX ? INT_MAX : (int)len;
        if (RAND_bytes(out, chunk) != 1)
            return sgp32_crypto_result(SGP32_ERR_CRYPTO);
        out += chunk;
        len -= (size_t)chunk;
    }
    return SGP32_OK;
}

int sgp32_crypto_result(int rc)
{
    if (rc != SGP32_OK)
        ERR_clear_error();
    return rc;
}

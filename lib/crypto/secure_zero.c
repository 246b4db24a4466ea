/*
 * Wiping secrets: session keys (SGP.22 §2.6.4.4), one-time private keys and
 * ECDH shared secrets (§3.1.3) must not outlive their use. A plain memset
 * before free is dead code to the optimiser; OPENSSL_cleanse is not.
 */
#include "crypto_internal.h"

#include <openssl/crypto.h>

void sgp32_secure_zero(void *p, size_t len)
{
    if (p && len)
        OPENSSL_cleanse(p, len);
}

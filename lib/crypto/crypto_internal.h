/*
 * lib/crypto private helpers, shared by the files of this directory only.
 *
 * The public API (include/sgp32/crypto.h) speaks raw bytes; these helpers
 * convert between those raw forms and OpenSSL EVP_PKEY objects, so that every
 * file builds keys the same validated way. They also expose AES-CMAC, which
 * the BSP (SGP.22 §2.6.4.4) needs and the unit tests check against RFC 4493.
 *
 * Include this before any OpenSSL header: it hides the APIs OpenSSL 3
 * deprecates, so the compiler rejects any use of them in this directory.
 */
#ifndef SGP32_CRYPTO_INTERNAL_H
#define SGP32_CRYPTO_INTERNAL_H

#ifndef OPENSSL_API_COMPAT
#define OPENSSL_API_COMPAT 30000
#endif
#ifndef OPENSSL_NO_DEPRECATED
#define OPENSSL_NO_DEPRECATED
#endif

#include <openssl/types.h>

#include "sgp32/crypto.h"

/* The OpenSSL NID of a supported curve, or NID_undef (0). */
int sgp32_crypto_curve_nid(sgp32_curve curve);
/* The OpenSSL group name ("prime256v1", "brainpoolP256r1"), or NULL. */
const char *sgp32_crypto_curve_group(sgp32_curve curve);
/* The curve of an EC key: SGP32_ERR_CRYPTO_BAD_KEY when not EC, _UNSUPPORTED_CURVE for other curves. */
int sgp32_crypto_curve_from_pkey(const EVP_PKEY *pkey, sgp32_curve *curve);

/* A validated public EVP_PKEY (on the curve, not infinity). Free with EVP_PKEY_free. */
int sgp32_crypto_pkey_from_public(const sgp32_ec_public_key *pub, EVP_PKEY **out);
/* A key-pair EVP_PKEY from the scalar (the public point is recomputed). */
int sgp32_crypto_pkey_from_private(const sgp32_ec_private_key *priv, EVP_PKEY **out);
/* The uncompressed public point of any supported EC EVP_PKEY (e.g. from an X.509 certificate). */
int sgp32_crypto_public_from_pkey(const EVP_PKEY *pkey, sgp32_ec_public_key *pub);

/* AES-128-CMAC (NIST SP 800-38B, RFC 4493) over the concatenation of parts. */
int sgp32_crypto_aes_cmac(const uint8_t key[SGP32_AES_BLOCK], const sgp32_bytes *parts, size_t count,
                          uint8_t mac[SGP32_AES_BLOCK]);

/* Drop whatever OpenSSL queued on a failed call and return rc unchanged. */
int sgp32_crypto_result(int rc);

#endif

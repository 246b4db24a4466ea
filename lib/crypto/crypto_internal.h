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

#include <openssl/ec.h>
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

/* pub (uncompressed, 04||X||Y) as a point of group into out: on the curve and not infinity, which
 * with cofactor 1 is all a peer's key needs; else SGP32_ERR_CRYPTO_BAD_KEY. */
int sgp32_crypto_point_decode(const EC_GROUP *group, const sgp32_ec_public_key *pub, EC_POINT *out);

/* The scalar as a constant-time secure BIGNUM (BN_clear_free it), checked to lie in [1, n-1]:
 * else SGP32_ERR_CRYPTO_BAD_KEY. */
int sgp32_crypto_scalar_to_bn(const EC_GROUP *group, const uint8_t scalar[SGP32_EC_SCALAR_LEN], BIGNUM **out);

/* sgp32_ecdsa_verify of a SHA-256 value already computed. */
int sgp32_crypto_ecdsa_verify_digest(const sgp32_ec_public_key *pub, const uint8_t digest[SGP32_SHA256_LEN],
                                     const uint8_t sig[SGP32_EC_RAW_SIG_LEN]);

/* AES-128-CMAC (NIST SP 800-38B, RFC 4493) over the concatenation of parts. */
int sgp32_crypto_aes_cmac(const uint8_t key[SGP32_AES_BLOCK], const sgp32_bytes *parts, size_t count,
                          uint8_t mac[SGP32_AES_BLOCK]);

/*
 * Caches (crypto_cache.c, docs/crypto.md "Caches"). The algorithms and groups are fetched once
 * and shared read-only by all threads; NULL only if OpenSSL could not provide them.
 */
const EVP_MD *sgp32_crypto_sha256_md(void);
EVP_MAC *sgp32_crypto_cmac_mac(void);
const EVP_CIPHER *sgp32_crypto_aes128(bool cbc); /* AES-128-CBC, or -ECB when !cbc */
EVP_KDF *sgp32_crypto_x963_kdf(void);
const EC_GROUP *sgp32_crypto_ec_group(sgp32_curve curve);

/* As sgp32_crypto_pkey_from_public / _from_private, through the key cache: *out is a reference
 * of the caller's (EVP_PKEY_free it); the shared key must not be modified. Long-lived keys only:
 * one-time keys would just push the long-lived ones out (and should not outlive their use). */
int sgp32_crypto_pkey_public_cached(const sgp32_ec_public_key *pub, EVP_PKEY **out);
int sgp32_crypto_pkey_private_cached(const sgp32_ec_private_key *priv, EVP_PKEY **out);

typedef struct sgp32_crypto_cache_stats {
    unsigned long key_hits, key_misses, key_evictions;
    unsigned long cert_hits, cert_misses, cert_evictions;
    unsigned long link_hits, link_misses, link_evictions;
    size_t keys, certs, links; /* entries held now */
} sgp32_crypto_cache_stats;

/* Empty every cache (private keys wiped). Correctness never depends on calling it. */
void sgp32_crypto_cache_flush(void);
/* Test hooks: the counters since start, and whether the key table holds these bytes anywhere. */
void sgp32_crypto_cache_get_stats(sgp32_crypto_cache_stats *out);
bool sgp32_crypto_cache_holds_bytes(const uint8_t *p, size_t n);

/* Drop whatever OpenSSL queued on a failed call and return rc unchanged. */
int sgp32_crypto_result(int rc);

#endif

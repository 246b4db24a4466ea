/*
 * sgp32 crypto: the eSIM primitives (lib/crypto is the only OpenSSL user).
 *
 * Keys cross this API as raw bytes so no OpenSSL type leaks into the rest of
 * the tree: public keys as the 65-byte uncompressed point 04||X||Y, private
 * keys as the 32-byte scalar. Signatures on the wire (tag 5F37) are the
 * 64-byte raw r||s of BSI TR-03111; X.509 keeps DER signatures.
 */
#ifndef SGP32_CRYPTO_H
#define SGP32_CRYPTO_H

#include "sgp32/alloc.h"

typedef enum sgp32_curve {
    SGP32_CURVE_NIST_P256 = 1,
    SGP32_CURVE_BRAINPOOL_P256R1 = 2,
} sgp32_curve;

enum {
    SGP32_EC_POINT_LEN = 65, /* 04 || X || Y */
    SGP32_EC_SCALAR_LEN = 32,
    SGP32_EC_RAW_SIG_LEN = 64, /* r || s */
    SGP32_EC_DER_SIG_MAX = 72,
    SGP32_SHA256_LEN = 32,
    SGP32_AES_BLOCK = 16,
    SGP32_SCP03T_MAC_LEN = 8,
};

typedef struct sgp32_ec_public_key {
    sgp32_curve curve;
    uint8_t point[SGP32_EC_POINT_LEN];
} sgp32_ec_public_key;

typedef struct sgp32_ec_private_key {
    sgp32_curve curve;
    uint8_t scalar[SGP32_EC_SCALAR_LEN];
} sgp32_ec_private_key;

const char *sgp32_curve_name(sgp32_curve curve); /* "NIST P-256", "brainpoolP256r1" */

/* --- randomness (OS CSPRNG) --- */
int sgp32_random_bytes(uint8_t *out, size_t len);

/* --- SHA-256 --- */
int sgp32_sha256(const uint8_t *data, size_t len, uint8_t out[SGP32_SHA256_LEN]);
/* SHA-256 over the concatenation of parts (no copy). */
int sgp32_sha256_parts(const sgp32_bytes *parts, size_t count, uint8_t out[SGP32_SHA256_LEN]);

/* --- keys --- */
int sgp32_ec_generate(sgp32_curve curve, sgp32_ec_private_key *priv, sgp32_ec_public_key *pub);
/* Derive the public point of a private key (also validates the scalar). */
int sgp32_ec_public_from_private(const sgp32_ec_private_key *priv, sgp32_ec_public_key *pub);
/* Check that a received point lies on the curve. */
int sgp32_ec_public_validate(const sgp32_ec_public_key *pub);
/* PEM "EC PRIVATE KEY" / "PRIVATE KEY" (the SGP.26 files, with or without EC PARAMETERS). */
int sgp32_ec_private_from_pem(const char *pem, size_t pem_len, sgp32_ec_private_key *priv);
/* Append PKCS#8 PEM ("PRIVATE KEY") to out, followed by a NUL that out->len does not count.
 * The text holds the private key: wipe it (sgp32_secure_zero) before freeing out. */
int sgp32_ec_private_to_pem(const sgp32_ec_private_key *priv, sgp32_buf *out);
/* SubjectPublicKeyInfo DER <-> public key (used by eIM configuration data). Import takes exactly one
 * SPKI (no trailing bytes) on a supported named curve; export appends DER to out. */
int sgp32_ec_public_from_spki(const uint8_t *der, size_t len, sgp32_ec_public_key *pub);
int sgp32_ec_public_to_spki(const sgp32_ec_public_key *pub, sgp32_buf *out);

/* --- ECDSA with SHA-256 --- */
/* Sign the concatenation of parts; sig is raw r||s. */
int sgp32_ecdsa_sign(const sgp32_ec_private_key *priv, const sgp32_bytes *parts, size_t count,
                     uint8_t sig[SGP32_EC_RAW_SIG_LEN]);
/* Verify a raw r||s signature over the concatenation of parts.
 * Returns SGP32_OK or SGP32_ERR_CRYPTO_BAD_SIGNATURE (SGP32_ERR_CRYPTO_BAD_KEY when pub is not
 * a valid point on its curve). */
int sgp32_ecdsa_verify(const sgp32_ec_public_key *pub, const sgp32_bytes *parts, size_t count,
                       const uint8_t sig[SGP32_EC_RAW_SIG_LEN]);
/* Raw r||s <-> DER ECDSA-Sig-Value. der_len in: capacity, out: length. Strict both ways: minimal DER,
 * positive INTEGERs, r and s in 1..2^256-1, nothing trailing; else SGP32_ERR_CRYPTO_BAD_SIGNATURE. */
int sgp32_ecdsa_raw_to_der(const uint8_t raw[SGP32_EC_RAW_SIG_LEN], uint8_t *der, size_t *der_len);
int sgp32_ecdsa_der_to_raw(const uint8_t *der, size_t der_len, uint8_t raw[SGP32_EC_RAW_SIG_LEN]);

/* --- ECKA (ECDH with one-time keys): shared secret Z = x-coordinate --- */
int sgp32_ecka(const sgp32_ec_private_key *priv, const sgp32_ec_public_key *peer,
               uint8_t z[SGP32_EC_SCALAR_LEN]);

/* --- X9.63 KDF with SHA-256 (SGP.22 Annex G) --- */
int sgp32_kdf_x963_sha256(const uint8_t *z, size_t z_len, const uint8_t *shared_info, size_t info_len,
                          uint8_t *out, size_t out_len);

/* --- SCP03t / BSP session keys (SGP.22 §2.6.4.4) --- */
typedef struct sgp32_bsp_keys {
    uint8_t mac_chaining_value[SGP32_AES_BLOCK]; /* initial MCV */
    uint8_t s_enc[SGP32_AES_BLOCK];
    uint8_t s_mac[SGP32_AES_BLOCK];
} sgp32_bsp_keys;

/* Z, hostId (1..16 bytes) and the 16-byte EID -> initial MCV, S-ENC, S-MAC (keyType 88, keyLen 10). */
int sgp32_bsp_derive_keys(const uint8_t z[SGP32_EC_SCALAR_LEN], const uint8_t *host_id, size_t host_id_len,
                          const uint8_t eid[16], sgp32_bsp_keys *keys);

/* A running BSP context: keys, MAC chaining value, block counter. */
typedef struct sgp32_bsp {
    uint8_t s_enc[SGP32_AES_BLOCK];
    uint8_t s_mac[SGP32_AES_BLOCK];
    uint8_t mcv[SGP32_AES_BLOCK];
    uint32_t counter; /* next block counter value; starts at 1 */
} sgp32_bsp;

void sgp32_bsp_init(sgp32_bsp *bsp, const sgp32_bsp_keys *keys);
/* Replace keys (ReplaceSessionKeys / PPK): new keys and MCV, counter back to 1. */
void sgp32_bsp_rekey(sgp32_bsp *bsp, const uint8_t ppk_enc[16], const uint8_t ppk_mac[16],
                     const uint8_t initial_mcv[16]);
/* Wipe key material; the context then refuses to work (SGP32_ERR_STATE) until init/rekey. */
void sgp32_bsp_clear(sgp32_bsp *bsp);

/*
 * Protect one segment: out receives tag || BER length || payload' || MAC8,
 * where payload' is the AES-CBC encryption (ICV from the block counter,
 * 80 00.. padding) when encrypt is true (tags 87 and 86), or the plain
 * payload when false (tag 88, MAC only). data must not point into out.
 * SGP32_ERR_STATE once the context is cleared or its 2^32-1 block counter values are used up.
 */
int sgp32_bsp_protect(sgp32_bsp *bsp, uint8_t tag, bool encrypt, const uint8_t *data, size_t len,
                      sgp32_buf *out);
/*
 * Unprotect one segment given as its tag and its value (payload' || MAC8):
 * checks the MAC (SGP32_ERR_CRYPTO_BAD_MAC), decrypts and strips padding
 * (SGP32_ERR_CRYPTO_BAD_PADDING) when decrypt is true, and appends the
 * plaintext to out. A failed check leaves the chaining state and out
 * unchanged. value must not point into out.
 */
int sgp32_bsp_unprotect(sgp32_bsp *bsp, uint8_t tag, bool decrypt, const uint8_t *value, size_t len,
                        sgp32_buf *out);

/* --- confirmation code (SGP.22 §3.1.3): SHA256(SHA256(cc) || transactionId) --- */
/* cc: the UTF-8 bytes of the code; transaction_id: the raw 1..16 bytes. */
int sgp32_hash_confirmation_code(const uint8_t *cc, size_t cc_len, const uint8_t *transaction_id,
                                 size_t transaction_id_len, uint8_t out[SGP32_SHA256_LEN]);

/* Overwrite secrets in a way the compiler keeps. */
void sgp32_secure_zero(void *p, size_t len);

#endif

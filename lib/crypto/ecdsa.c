/*
 * ECDSA with SHA-256 (SGP.22 §2.6.5; NOTES §6.1).
 *
 * Every eSIM signature (serverSignature1, euiccSignature1/2, smdpSignature2,
 * the PIR and notification signatures, eimSignature...) is computed over a
 * concatenation of DER pieces, so sign and verify take a list of parts and
 * stream them into the digest. On the wire (tag 5F37) a signature is the
 * 64-byte plain r||s of BSI TR-03111, not DER; OpenSSL speaks DER
 * ECDSA-Sig-Value, so the conversion lives here. Both directions are strict:
 * only minimal DER with r, s in [1, 2^256) is accepted or produced.
 */
#include <string.h>

#include "crypto_internal.h"

#include <openssl/evp.h>

enum { HALF = SGP32_EC_RAW_SIG_LEN / 2 };

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* Length of the DER INTEGER content for a 32-byte unsigned big-endian value; *skip = leading zeros dropped.
 */
static size_t int_content_len(const uint8_t v[HALF], size_t *skip)
{
    size_t i = 0;
    while (i < HALF - 1 && v[i] == 0)
        i++;
    *skip = i;
    return (size_t)(HALF - i) + ((v[i] & 0x80) ? 1 : 0);
}

int sgp32_ecdsa_raw_to_der(const uint8_t raw[SGP32_EC_RAW_SIG_LEN], uint8_t *der, size_t *der_len)
{
    if (!raw || !der || !der_len)
        return SGP32_ERR_INVALID_ARGUMENT;
    if (all_zero(raw, HALF) || all_zero(raw + HALF, HALF))
        return SGP32_ERR_CRYPTO_BAD_SIGNATURE;
    size_t skip[2], clen[2];
    clen[0] = int_content_len(raw, &skip[0]);
    clen[1] = int_content_len(raw + HALF, &skip[1]);
    size_t body = 2 + clen[0] + 2 + clen[1]; /* at most 70: short-form length */
    if (*der_len < 2 + body)
        return SGP32_ERR_BUFFER_TOO_SMALL;
    size_t o = 0;
    der[o++] = 0x30;
    der[o++] = (uint8_t)body;
    for (int k = 0; k < 2; k++) {
        const uint8_t *v = raw + k * HALF;
        der[o++] = 0x02;
        der[o++] = (uint8_t)clen[k];
        if (clen[k] > (size_t)(HALF - skip[k]))
            der[o++] = 0x00; /* keep the INTEGER positive */
        memcpy(der + o, v + skip[k], HALF - skip[k]);
        o += HALF - skip[k];
    }
    *der_len = o;
    return SGP32_OK;
}

/* One minimal, positive DER INTEGER of at most 32 significant bytes, left-padded into out. */
static int parse_int(const uint8_t **p, const uint8_t *end, uint8_t out[HALF])
{
    const uint8_t *q = *p;
    if (end - q < 2 || q[0] != 0x02)
        return SGP32_ERR_CRYPTO_BAD_SIGNATURE;
    size_t n = q[1]; /* long form is never needed for 33 bytes; 0x80.. lengths fail the range check */
    q += 2;
    if (n == 0 || n > HALF + 1 || (size_t)(end - q) < n)
        return SGP32_ERR_CRYPTO_BAD_SIGNATURE;
    if (q[0] & 0x80)
        return SGP32_ERR_CRYPTO_BAD_SIGNATURE; /* negative */
    if (n > 1 && q[0] == 0x00 && !(q[1] & 0x80))
        return SGP32_ERR_CRYPTO_BAD_SIGNATURE; /* non-minimal leading zero */
    const uint8_t *v = q;
    size_t vlen = n;
    if (vlen > 1 && v[0] == 0x00) {
        v++;
        vlen--;
    }
    if (vlen > HALF)
        return SGP32_ERR_CRYPTO_BAD_SIGNATURE;
    memset(out, 0, HALF);
    memcpy(out + HALF - vlen, v, vlen);
    if (all_zero(out, HALF))
        return SGP32_ERR_CRYPTO_BAD_SIGNATURE;
    *p = q + n;
    return SGP32_OK;
}

int sgp32_ecdsa_der_to_raw(const uint8_t *der, size_t der_len, uint8_t raw[SGP32_EC_RAW_SIG_LEN])
{
    if (!raw || (!der && der_len))
        return SGP32_ERR_INVALID_ARGUMENT;
    /* SEQUENCE, short-form length covering exactly the rest of the input. */
    if (der_len < 2 || der[0] != 0x30 || (der[1] & 0x80) || (size_t)der[1] != der_len - 2)
        return SGP32_ERR_CRYPTO_BAD_SIGNATURE;
    const uint8_t *p = der + 2, *end = der + der_len;
    uint8_t tmp[SGP32_EC_RAW_SIG_LEN];
    int rc = parse_int(&p, end, tmp);
    if (rc == SGP32_OK)
        rc = parse_int(&p, end, tmp + HALF);
    if (rc == SGP32_OK && p != end)
        rc = SGP32_ERR_CRYPTO_BAD_SIGNATURE;
    if (rc == SGP32_OK)
        memcpy(raw, tmp, sizeof(tmp));
    return rc;
}

static int check_parts(const sgp32_bytes *parts, size_t count)
{
    if (!parts && count)
        return SGP32_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < count; i++)
        if (!parts[i].data && parts[i].len)
            return SGP32_ERR_INVALID_ARGUMENT;
    return SGP32_OK;
}

/* An ECDSA context on a (possibly shared) key; the key itself is never modified. */
static EVP_PKEY_CTX *pkey_ctx(EVP_PKEY *pkey, bool sign)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    /* No signature digest is set: the input is the SHA-256 value itself (setting one would
     * only make the provider fetch SHA-256 again to learn its size). */
    if (ctx && (sign ? EVP_PKEY_sign_init(ctx) : EVP_PKEY_verify_init(ctx)) == 1)
        return ctx;
    EVP_PKEY_CTX_free(ctx);
    return NULL;
}

int sgp32_ecdsa_sign(const sgp32_ec_private_key *priv, const sgp32_bytes *parts, size_t count,
                     uint8_t sig[SGP32_EC_RAW_SIG_LEN])
{
    if (!priv || !sig || check_parts(parts, count) != SGP32_OK)
        return SGP32_ERR_INVALID_ARGUMENT;
    uint8_t digest[SGP32_SHA256_LEN];
    int rc = sgp32_sha256_parts(parts, count, digest);
    if (rc != SGP32_OK)
        return rc;
    EVP_PKEY *pkey = NULL;
    rc = sgp32_crypto_pkey_private_cached(priv, &pkey);
    if (rc != SGP32_OK)
        return rc;
    EVP_PKEY_CTX *ctx = pkey_ctx(pkey, true);
    uint8_t der[SGP32_EC_DER_SIG_MAX];
    size_t der_len = sizeof(der);
    rc = SGP32_ERR_CRYPTO;
    if (ctx && EVP_PKEY_sign(ctx, der, &der_len, digest, sizeof(digest)) == 1)
        rc = sgp32_ecdsa_der_to_raw(der, der_len, sig) == SGP32_OK ? SGP32_OK : SGP32_ERR_CRYPTO;
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return sgp32_crypto_result(rc);
}

int sgp32_crypto_ecdsa_verify_digest(const sgp32_ec_public_key *pub, const uint8_t digest[SGP32_SHA256_LEN],
                                     const uint8_t sig[SGP32_EC_RAW_SIG_LEN])
{
    uint8_t der[SGP32_EC_DER_SIG_MAX];
    size_t der_len = sizeof(der);
    if (sgp32_ecdsa_raw_to_der(sig, der, &der_len) != SGP32_OK)
        return SGP32_ERR_CRYPTO_BAD_SIGNATURE; /* r or s is zero */
    EVP_PKEY *pkey = NULL;
    int rc = sgp32_crypto_pkey_public_cached(pub, &pkey);
    if (rc != SGP32_OK)
        return rc;
    EVP_PKEY_CTX *ctx = pkey_ctx(pkey, false);
    /* 1 valid; 0 wrong; negative for a signature OpenSSL cannot even use (r or s >= n). */
    rc = !ctx                                                                ? SGP32_ERR_CRYPTO
         : EVP_PKEY_verify(ctx, der, der_len, digest, SGP32_SHA256_LEN) == 1 ? SGP32_OK
                                                                             : SGP32_ERR_CRYPTO_BAD_SIGNATURE;
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return sgp32_crypto_result(rc);
}

int sgp32_ecdsa_verify(const sgp32_ec_public_key *pub, const sgp32_bytes *parts, size_t count,
                       const uint8_t sig[SGP32_EC_RAW_SIG_LEN])
{
    if (!pub || !sig || check_parts(parts, count) != SGP32_OK)
        return SGP32_ERR_INVALID_ARGUMENT;
    uint8_t digest[SGP32_SHA256_LEN];
    int rc = sgp32_sha256_parts(parts, count, digest);
    return rc ? rc : sgp32_crypto_ecdsa_verify_digest(pub, digest, sig);
}

/*
 * BSP, the SCP03t-derived protection of the Bound Profile Package
 * (SGP.22 §2.5.4, §2.6.4, §5.5; NOTES §7). The SM-DP+ protects and the eUICC
 * unprotects, so both directions live here.
 *
 * Keys: X9.63-KDF(Z, SharedInfo = 88 10 len(hostId) hostId len(EID) EID) gives
 * 48 bytes: initial MCV | S-ENC | S-MAC.
 *
 * Per segment (tag 87/86 encrypt+MAC, 88 MAC only), with block counter n
 * starting at 1 per key set and advancing once per segment, 88 included:
 *   ICV      = AES-128-ECB(S-ENC, n as a 16-byte big-endian block)
 *   payload' = AES-128-CBC(S-ENC, ICV, data || 80 00..)   (padding always added)
 *   full     = AES-CMAC(S-MAC, MCV || tag || BER-len(len(payload') + 8) || payload')
 *   wire     = tag || BER-len(len(payload') + 8) || payload' || full[0..7]
 *   MCV      = full (all 16 bytes)
 * A segment that fails its checks changes nothing: MCV and n are only
 * committed once a segment is accepted, so the next correct one still fits.
 */
#include <string.h>

#include "crypto_internal.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

enum {
    BSP_KEY_TYPE = 0x88,  /* keyType: AES */
    BSP_KEY_LEN = 0x10,   /* keyLength: 16 bytes */
    HOST_ID_MAX = 16,     /* hostId OCTET STRING (SIZE(1..16)) */
    EID_LEN = 16,         /* EID, 16 raw bytes */
    BER_LEN_MAX = 4,      /* 83 xx xx xx */
    VALUE_MAX = 0xFFFFFF, /* largest segment value we encode: 3-byte BER length */
    PAD_BYTE = 0x80,
};

int sgp32_crypto_aes_cmac(const uint8_t key[SGP32_AES_BLOCK], const sgp32_bytes *parts, size_t count,
                          uint8_t mac[SGP32_AES_BLOCK])
{
    if (!key || !mac || (!parts && count))
        return SGP32_ERR_INVALID_ARGUMENT;
    EVP_MAC *alg = sgp32_crypto_cmac_mac(); /* fetched once, shared */
    EVP_MAC_CTX *ctx = alg ? EVP_MAC_CTX_new(alg) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, (char *)"AES-128-CBC", 0),
        OSSL_PARAM_construct_end(),
    };
    size_t len = 0;
    int rc = SGP32_ERR_CRYPTO;
    if (!ctx || EVP_MAC_init(ctx, key, SGP32_AES_BLOCK, params) != 1)
        goto done;
    for (size_t i = 0; i < count; i++) {
        if (!parts[i].len)
            continue;
        if (!parts[i].data) {
            rc = SGP32_ERR_INVALID_ARGUMENT;
            goto done;
        }
        if (EVP_MAC_update(ctx, parts[i].data, parts[i].len) != 1)
            goto done;
    }
    if (EVP_MAC_final(ctx, mac, &len, SGP32_AES_BLOCK) != 1 || len != SGP32_AES_BLOCK)
        goto done;
    rc = SGP32_OK;
done:
    EVP_MAC_CTX_free(ctx);
    return sgp32_crypto_result(rc);
}

int sgp32_bsp_derive_keys(const uint8_t z[SGP32_EC_SCALAR_LEN], const uint8_t *host_id, size_t host_id_len,
                          const uint8_t eid[16], sgp32_bsp_keys *keys)
{
    if (!z || !host_id || host_id_len == 0 || host_id_len > HOST_ID_MAX || !eid || !keys)
        return SGP32_ERR_INVALID_ARGUMENT;
    uint8_t info[2 + 1 + HOST_ID_MAX + 1 + EID_LEN];
    size_t n = 0;
    info[n++] = BSP_KEY_TYPE;
    info[n++] = BSP_KEY_LEN;
    info[n++] = (uint8_t)host_id_len;
    memcpy(info + n, host_id, host_id_len);
    n += host_id_len;
    info[n++] = EID_LEN;
    memcpy(info + n, eid, EID_LEN);
    n += EID_LEN;

    uint8_t okm[3 * SGP32_AES_BLOCK];
    int rc = sgp32_kdf_x963_sha256(z, SGP32_EC_SCALAR_LEN, info, n, okm, sizeof(okm));
    if (rc == SGP32_OK) {
        memcpy(keys->mac_chaining_value, okm, SGP32_AES_BLOCK);
        memcpy(keys->s_enc, okm + SGP32_AES_BLOCK, SGP32_AES_BLOCK);
        memcpy(keys->s_mac, okm + 2 * SGP32_AES_BLOCK, SGP32_AES_BLOCK);
    }
    sgp32_secure_zero(okm, sizeof(okm));
    return rc;
}

void sgp32_bsp_init(sgp32_bsp *bsp, const sgp32_bsp_keys *keys)
{
    sgp32_bsp_rekey(bsp, keys->s_enc, keys->s_mac, keys->mac_chaining_value);
}

void sgp32_bsp_rekey(sgp32_bsp *bsp, const uint8_t ppk_enc[16], const uint8_t ppk_mac[16],
                     const uint8_t initial_mcv[16])
{
    memcpy(bsp->s_enc, ppk_enc, SGP32_AES_BLOCK);
    memcpy(bsp->s_mac, ppk_mac, SGP32_AES_BLOCK);
    memcpy(bsp->mcv, initial_mcv, SGP32_AES_BLOCK);
    bsp->counter = 1;
}

void sgp32_bsp_clear(sgp32_bsp *bsp)
{
    if (bsp)
        sgp32_secure_zero(bsp, sizeof(*bsp)); /* counter 0: unusable until init/rekey */
}

/* tag || BER length of value_len into hdr; returns the header size. */
static size_t segment_header(uint8_t tag, size_t value_len, uint8_t hdr[1 + BER_LEN_MAX])
{
    size_t n = 0;
    hdr[n++] = tag;
    if (value_len < 0x80) {
        hdr[n++] = (uint8_t)value_len;
    } else if (value_len <= 0xFF) {
        hdr[n++] = 0x81;
        hdr[n++] = (uint8_t)value_len;
    } else if (value_len <= 0xFFFF) {
        hdr[n++] = 0x82;
        hdr[n++] = (uint8_t)(value_len >> 8);
        hdr[n++] = (uint8_t)value_len;
    } else {
        hdr[n++] = 0x83;
        hdr[n++] = (uint8_t)(value_len >> 16);
        hdr[n++] = (uint8_t)(value_len >> 8);
        hdr[n++] = (uint8_t)value_len;
    }
    return n;
}

/* AES-128 over whole blocks, no OpenSSL padding: CBC with iv, or ECB when iv is NULL. */
static int aes_cbc(const uint8_t key[SGP32_AES_BLOCK], const uint8_t iv[SGP32_AES_BLOCK], bool encrypt,
                   const sgp32_bytes *chunks, size_t count, uint8_t *out)
{
    const EVP_CIPHER *cipher = sgp32_crypto_aes128(iv != NULL); /* fetched once, shared */
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int rc = SGP32_ERR_CRYPTO;
    int n = 0;
    if (!ctx || !cipher || EVP_CipherInit_ex2(ctx, cipher, key, iv, encrypt ? 1 : 0, NULL) != 1 ||
        EVP_CIPHER_CTX_set_padding(ctx, 0) != 1)
        goto done;
    for (size_t i = 0; i < count; i++) {
        if (!chunks[i].len)
            continue;
        if (EVP_CipherUpdate(ctx, out, &n, chunks[i].data, (int)chunks[i].len) != 1 ||
            (size_t)n != chunks[i].len)
            goto done;
        out += n;
    }
    if (EVP_CipherFinal_ex(ctx, out, &n) != 1 || n != 0)
        goto done;
    rc = SGP32_OK;
done:
    EVP_CIPHER_CTX_free(ctx); /* clears the key schedule */
    return rc;
}

/* ICV = AES-128-ECB(S-ENC, counter as a 16-byte big-endian block). */
static int make_icv(const sgp32_bsp *bsp, uint8_t icv[SGP32_AES_BLOCK])
{
    uint8_t block[SGP32_AES_BLOCK] = {0};
    block[12] = (uint8_t)(bsp->counter >> 24);
    block[13] = (uint8_t)(bsp->counter >> 16);
    block[14] = (uint8_t)(bsp->counter >> 8);
    block[15] = (uint8_t)bsp->counter;
    const sgp32_bytes in = {block, sizeof(block)};
    return aes_cbc(bsp->s_enc, NULL, true, &in, 1, icv);
}

/* full = CMAC(S-MAC, MCV || header || payload'). */
static int segment_mac(const sgp32_bsp *bsp, const uint8_t *hdr, size_t hdr_len, const uint8_t *payload,
                       size_t payload_len, uint8_t full[SGP32_AES_BLOCK])
{
    const sgp32_bytes parts[] = {{bsp->mcv, SGP32_AES_BLOCK}, {hdr, hdr_len}, {payload, payload_len}};
    return sgp32_crypto_aes_cmac(bsp->s_mac, parts, SGP32_ARRAY_LEN(parts), full);
}

/* Accept a segment: its full CMAC becomes the chaining value, the counter advances (0 = exhausted). */
static void commit(sgp32_bsp *bsp, const uint8_t full[SGP32_AES_BLOCK])
{
    memcpy(bsp->mcv, full, SGP32_AES_BLOCK);
    bsp->counter++;
}

int sgp32_bsp_protect(sgp32_bsp *bsp, uint8_t tag, bool encrypt, const uint8_t *data, size_t len,
                      sgp32_buf *out)
{
    if (!bsp || !out || (!data && len))
        return SGP32_ERR_INVALID_ARGUMENT;
    if (bsp->counter == 0)
        return SGP32_ERR_STATE;
    if (len > VALUE_MAX - SGP32_SCP03T_MAC_LEN - SGP32_AES_BLOCK)
        return SGP32_ERR_INVALID_ARGUMENT;
    size_t payload_len = encrypt ? (len / SGP32_AES_BLOCK + 1) * SGP32_AES_BLOCK : len;
    uint8_t hdr[1 + BER_LEN_MAX];
    size_t hdr_len = segment_header(tag, payload_len + SGP32_SCP03T_MAC_LEN, hdr);

    size_t start = out->len;
    uint8_t *w;
    int rc = sgp32_buf_extend(out, hdr_len + payload_len + SGP32_SCP03T_MAC_LEN, &w);
    if (rc != SGP32_OK)
        return rc;
    memcpy(w, hdr, hdr_len);
    uint8_t *payload = w + hdr_len;
    uint8_t icv[SGP32_AES_BLOCK], last[SGP32_AES_BLOCK], full[SGP32_AES_BLOCK];
    if (encrypt) {
        /* Whole blocks straight from data, then the tail with 80 00.. in a local block. */
        size_t whole = len - len % SGP32_AES_BLOCK;
        size_t tail = len - whole;
        memset(last, 0, sizeof(last));
        if (tail)
            memcpy(last, data + whole, tail);
        last[tail] = PAD_BYTE;
        const sgp32_bytes chunks[] = {{data, whole}, {last, sizeof(last)}};
        rc = make_icv(bsp, icv);
        if (rc == SGP32_OK)
            rc = aes_cbc(bsp->s_enc, icv, true, chunks, SGP32_ARRAY_LEN(chunks), payload);
    } else if (len) {
        memcpy(payload, data, len);
    }
    if (rc == SGP32_OK)
        rc = segment_mac(bsp, hdr, hdr_len, payload, payload_len, full);
    if (rc == SGP32_OK) {
        memcpy(payload + payload_len, full, SGP32_SCP03T_MAC_LEN);
        commit(bsp, full);
    } else {
        out->len = start;
    }
    sgp32_secure_zero(last, sizeof(last));
    sgp32_secure_zero(icv, sizeof(icv));
    return sgp32_crypto_result(rc);
}

int sgp32_bsp_unprotect(sgp32_bsp *bsp, uint8_t tag, bool decrypt, const uint8_t *value, size_t len,
                        sgp32_buf *out)
{
    if (!bsp || !out || (!value && len))
        return SGP32_ERR_INVALID_ARGUMENT;
    if (bsp->counter == 0)
        return SGP32_ERR_STATE;
    if (len > VALUE_MAX)
        return SGP32_ERR_INVALID_ARGUMENT;
    if (len < SGP32_SCP03T_MAC_LEN)
        return SGP32_ERR_CRYPTO_BAD_MAC; /* no room for a MAC */
    size_t payload_len = len - SGP32_SCP03T_MAC_LEN;
    uint8_t hdr[1 + BER_LEN_MAX], full[SGP32_AES_BLOCK];
    size_t hdr_len = segment_header(tag, len, hdr);

    /* MAC first (encrypt-then-MAC): nothing is decrypted or kept before it checks out. */
    int rc = segment_mac(bsp, hdr, hdr_len, value, payload_len, full);
    if (rc != SGP32_OK)
        return sgp32_crypto_result(rc);
    if (CRYPTO_memcmp(full, value + payload_len, SGP32_SCP03T_MAC_LEN) != 0)
        return SGP32_ERR_CRYPTO_BAD_MAC;

    if (!decrypt) {
        rc = sgp32_buf_append(out, value, payload_len);
        if (rc == SGP32_OK)
            commit(bsp, full);
        return rc;
    }
    if (payload_len == 0 || payload_len % SGP32_AES_BLOCK != 0)
        return SGP32_ERR_CRYPTO_BAD_PADDING;
    size_t start = out->len;
    uint8_t *w;
    rc = sgp32_buf_extend(out, payload_len, &w);
    if (rc != SGP32_OK)
        return rc;
    uint8_t icv[SGP32_AES_BLOCK];
    const sgp32_bytes in = {value, payload_len};
    rc = make_icv(bsp, icv);
    if (rc == SGP32_OK)
        rc = aes_cbc(bsp->s_enc, icv, false, &in, 1, w);
    sgp32_secure_zero(icv, sizeof(icv));
    if (rc == SGP32_OK) {
        /* Strip 80 00..: at most one block of padding, ending the last block. */
        size_t i = payload_len - 1;
        while (i > payload_len - SGP32_AES_BLOCK && w[i] == 0x00)
            i--;
        if (w[i] == PAD_BYTE) {
            sgp32_secure_zero(w + i, payload_len - i);
            out->len = start + i;
            commit(bsp, full);
            return SGP32_OK;
        }
        rc = SGP32_ERR_CRYPTO_BAD_PADDING;
    }
    sgp32_secure_zero(w, payload_len);
    out->len = start;
    return sgp32_crypto_result(rc);
}

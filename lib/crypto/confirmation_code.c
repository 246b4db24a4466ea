/*
 * The confirmation code hash, SGP.22 §3.1.3 (NOTES §6.4):
 *   hashCc = SHA-256(SHA-256(CC) || transactionId)
 * with CC as its UTF-8 bytes and the raw transactionId. Binding the hash to
 * the transaction stops a captured hashCc from being replayed in another
 * session. The eUICC echoes it in euiccSigned2 and the SM-DP+ recomputes it.
 */
#include "crypto_internal.h"

enum { TRANSACTION_ID_MAX = 16 }; /* TransactionId ::= OCTET STRING (SIZE(1..16)) */

int sgp32_hash_confirmation_code(const uint8_t *cc, size_t cc_len, const uint8_t *transaction_id,
                                 size_t transaction_id_len, uint8_t out[SGP32_SHA256_LEN])
{
    if (!out || (!cc && cc_len) || !transaction_id || transaction_id_len == 0 ||
        transaction_id_len > TRANSACTION_ID_MAX)
        return SGP32_ERR_INVALID_ARGUMENT;
    uint8_t inner[SGP32_SHA256_LEN];
    int rc = sgp32_sha256(cc, cc_len, inner);
    if (rc == SGP32_OK) {
        const sgp32_bytes parts[] = {{inner, sizeof(inner)}, {transaction_id, transaction_id_len}};
        rc = sgp32_sha256_parts(parts, SGP32_ARRAY_LEN(parts), out);
    }
    sgp32_secure_zero(inner, sizeof(inner));
    return rc;
}

/*
 * eIM side of ESep (SGP.32 §2.11.1.1, §2.11.2.1; NOTES §8.3): sign an
 * EuiccPackageRequest and verify the EuiccPackageResult that comes back.
 *
 * Both signatures (eimSignature by the eIM, euiccSignEPR/EPE by the eUICC) are
 * ECDSA-SHA256 over the DER of the signed SEQUENCE followed by the
 * associationToken data object `84 L token`. When no token is configured for the
 * eIM, the object with value zero (`84 01 00`) is used (SGP.32 v1.2 §2.11.1.1).
 * sgp32_eim_token_tlv is the one place that rule lives; the software eUICC uses
 * it too, so both ends sign the same bytes.
 */
#ifndef SGP32_EIM_PACKAGE_H
#define SGP32_EIM_PACKAGE_H

#include "sgp32/asn1_types.h"
#include "sgp32/crypto.h"

enum { SGP32_EIM_TOKEN_TLV_MAX = 11 }; /* 84 L and up to 9 INTEGER content bytes */

/* The associationToken data object appended to the signed bytes: `84 L token` (minimal DER
 * INTEGER) when has_token, else `84 01 00`. */
int sgp32_eim_token_tlv(bool has_token, int64_t token, uint8_t out[SGP32_EIM_TOKEN_TLV_MAX], size_t *len);

/*
 * Encode package (the typed EuiccPackageSigned: eimId, eidValue, counterValue, optional
 * eimTransactionId, psmoList or ecoList), sign it with the eIM key and append the whole
 * EuiccPackageRequest `BF51 {30 euiccPackageSigned, 5F37 eimSignature}` to out.
 * has_token/token: the associationToken the eUICC holds for this eIM (AddInitialEim / addEim).
 */
int sgp32_eim_package_sign(const sgp32_euicc_package_signed *package, const sgp32_ec_private_key *eim_key,
                           bool has_token, int64_t token, sgp32_buf *out);

/*
 * Decode an EuiccPackageResult (`BF51`) into *result (views into der, lists from arena) and
 * check its signature with the eUICC key (PK.EUICC from a verified CERT.EUICC), over the
 * received bytes of euiccPackageResultDataSigned / euiccPackageErrorDataSigned || token object.
 *
 * SGP32_OK for a signed result or signed error whose signature verifies, and for an unsigned
 * error (result->choice == SGP32_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_ERROR_UNSIGNED): that one
 * carries no signature and is only a hint (unknown eIM, bad eimSignature). The caller still
 * matches eimId, counterValue and eimTransactionId against what it sent.
 * SGP32_ERR_CRYPTO_BAD_SIGNATURE when the signature does not verify; ASN.1 errors when the
 * bytes do not decode. The form without the CHOICE tag (`BF51 {30 ...}`, sent by one public
 * implementation) is accepted as euiccPackageResultSigned.
 */
int sgp32_eim_package_result_verify(const uint8_t *der, size_t len, const sgp32_ec_public_key *euicc_key,
                                    bool has_token, int64_t token, sgp32_arena *arena,
                                    sgp32_euicc_package_result *result);

#endif

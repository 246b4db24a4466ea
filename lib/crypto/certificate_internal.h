/*
 * Private glue between the certificate files of lib/crypto and OpenSSL:
 * ASN1_TIME <-> int64 unix seconds, whole-DER decoding, signature checks and
 * the GSMA OIDs. Keys go through crypto_internal.h like everywhere else in
 * lib/crypto. Not installed, not for use outside lib/crypto.
 */
#ifndef SGP32_CERTIFICATE_INTERNAL_H
#define SGP32_CERTIFICATE_INTERNAL_H

#include "crypto_internal.h" /* first: it hides the OpenSSL APIs 3.0 deprecates */

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "sgp32/certificate.h"

/* id-rspRole 2.23.146.1.2.1 (SGP.22 RSPDefinitions) and its extensions. */
#define SGP32_CERTI_OID_ROLE_PREFIX    "2.23.146.1.2.1."
#define SGP32_CERTI_OID_EUM_V2         "2.23.146.1.2.1.0.0.0"
#define SGP32_CERTI_OID_PERMITTED_EINS "2.23.146.1.2.2.0"

/* ASN1_TIME (UTCTime or GeneralizedTime) -> unix seconds. */
int sgp32_certi_time_to_unix(const ASN1_TIME *t, int64_t *out);
/* unix seconds (years 1950 .. 9999) -> ASN1_TIME in the RFC 5280 form (UTCTime before 2050). */
ASN1_TIME *sgp32_certi_time_from_unix(int64_t t);

/* d2i a whole DER certificate; NULL when it does not parse or has trailing bytes. */
X509 *sgp32_certi_x509_from_der(const uint8_t *der, size_t len);

/*
 * What placing a certificate in a chain needs besides sgp32_certificate: its signature and the
 * exact encodings of its two names. Like the parse, a pure function of the DER bytes.
 */
enum { SGP32_CERTI_NAME_DER_MAX = 512 };
typedef struct sgp32_certi_signed {
    uint8_t tbs_sha256[SGP32_SHA256_LEN];    /* of the tbsCertificate bytes as received */
    uint8_t signature[SGP32_EC_RAW_SIG_LEN]; /* r||s */
    /* signatureAlgorithm is ecdsa-with-SHA256 and equal to the one inside tbsCertificate, and the
     * signature a strict DER ECDSA-Sig-Value: otherwise no key verifies it */
    bool ecdsa_sha256;
    size_t issuer_len, subject_len;
    uint8_t issuer[SGP32_CERTI_NAME_DER_MAX], subject[SGP32_CERTI_NAME_DER_MAX]; /* Name DER */
} sgp32_certi_signed;

/* sgp32_cert_parse, also giving what sgp32_certi_signed holds (signed may be NULL). */
int sgp32_certi_parse(const uint8_t *der, size_t len, sgp32_certificate *cert,
                      sgp32_certi_signed *signed_part);
/* child's signature verifies under issuer_key: SGP32_OK, SGP32_ERR_CERT_SIGNATURE (also for
 * another algorithm). */
int sgp32_certi_check_signature(const sgp32_certi_signed *child, const sgp32_ec_public_key *issuer_key);
/* child's issuer name is parent's subject name, matched as RFC 5280 §7.1 and X509_NAME_cmp do. */
bool sgp32_certi_names_link(const sgp32_certi_signed *child, const sgp32_certi_signed *parent);

/* The parse cache (crypto_cache.c): a copy of the parse of exactly these DER bytes, if kept
 * (signed_part may be NULL). */
bool sgp32_certi_parse_cache_get(const uint8_t *der, size_t len, sgp32_certificate *cert,
                                 sgp32_certi_signed *signed_part);
void sgp32_certi_parse_cache_put(const uint8_t *der, size_t len, const sgp32_certificate *cert,
                                 const sgp32_certi_signed *signed_part);
/* The link cache: child's issuer name equals parent's subject name and child's signature
 * verifies under parent's key, already established for exactly these two DER strings. */
bool sgp32_certi_link_known(sgp32_bytes child, sgp32_bytes parent);
void sgp32_certi_link_remember(sgp32_bytes child, sgp32_bytes parent);

#endif

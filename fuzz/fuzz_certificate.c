/*
 * Guards the eSIM certificate parser and checkers (lib/crypto/certificate_*.c): certificates
 * reach us from the network (CERT.EUICC and CERT.EUM in AuthenticateServerResponse, IpaEuiccData,
 * GetCerts; CERT.DPauth/DPpb from an SM-DP+). Any input must end in a parse error or a parsed
 * certificate; a parsed one must read the same through OpenSSL's d2i_X509 (serial, key, names),
 * and is then run through every check (as its own issuer and as a CI), which must answer with a
 * result code, never crash or leak.
 */
#include "../lib/crypto/certificate_internal.h" /* first: it sets the OpenSSL API level */
#include "fuzz_common.h"
#include "sgp32/certificate.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>

static bool coordinate_equal(const EVP_PKEY *pkey, const char *name,
                             const uint8_t expected[SGP32_EC_SCALAR_LEN])
{
    BIGNUM *bn = NULL;
    uint8_t got[SGP32_EC_SCALAR_LEN];
    bool same = EVP_PKEY_get_bn_param(pkey, name, &bn) == 1 &&
                BN_bn2binpad(bn, got, sizeof(got)) == sizeof(got) && memcmp(got, expected, sizeof(got)) == 0;
    BN_free(bn);
    return same;
}

static bool name_equal(const X509_NAME *openssl, const uint8_t *der, size_t len)
{
    const unsigned char *p = der;
    X509_NAME *ours = d2i_X509_NAME(NULL, &p, (long)len);
    bool same = ours && X509_NAME_cmp(openssl, ours) == 0;
    X509_NAME_free(ours);
    return same;
}

/* The oracle: lib/crypto reads certificates with its own ASN.1 template (not d2i_X509, which is
 * slow on OpenSSL 3.0). What it accepts, d2i_X509 must accept too, with the same serial, key and
 * names: our template may be stricter, never looser or different. */
static void agrees_with_openssl(const uint8_t *data, size_t size, const sgp32_certificate *cert,
                                const sgp32_certi_signed *signed_part)
{
    const unsigned char *p = data;
    X509 *x = d2i_X509(NULL, &p, (long)size);
    const char *wrong = NULL;
    if (!x || (size_t)(p - data) != size)
        wrong = "d2i_X509 refuses a certificate sgp32_cert_parse accepted";
    const ASN1_INTEGER *serial = x ? X509_get0_serialNumber(x) : NULL;
    const EVP_PKEY *key = x ? X509_get0_pubkey(x) : NULL;
    if (!wrong && ((size_t)ASN1_STRING_length(serial) != cert->serial_len ||
                   memcmp(ASN1_STRING_get0_data(serial), cert->serial, cert->serial_len) != 0))
        wrong = "serial differs from d2i_X509's";
    if (!wrong &&
        (!key || !coordinate_equal(key, OSSL_PKEY_PARAM_EC_PUB_X, cert->public_key.point + 1) ||
         !coordinate_equal(key, OSSL_PKEY_PARAM_EC_PUB_Y, cert->public_key.point + 1 + SGP32_EC_SCALAR_LEN)))
        wrong = "public key differs from d2i_X509's";
    if (!wrong && (!name_equal(X509_get_subject_name(x), signed_part->subject, signed_part->subject_len) ||
                   !name_equal(X509_get_issuer_name(x), signed_part->issuer, signed_part->issuer_len)))
        wrong = "subject or issuer differs from d2i_X509's";
    X509_free(x);
    ERR_clear_error();
    if (wrong)
        sgp32_fuzz_fail(wrong, "Certificate", data, size);
}

int sgp32_fuzz_certificate(const uint8_t *data, size_t size)
{
    sgp32_certificate cert;
    static sgp32_certi_signed signed_part;
    int rc = sgp32_certi_parse(data, size, &cert, &signed_part);
    if (rc != SGP32_OK)
        return rc;
    agrees_with_openssl(data, size, &cert, &signed_part);
    sgp32_bytes der = {data, size};
    (void)sgp32_cert_matches_host(&cert, "localhost");
    (void)sgp32_cert_matches_host(&cert, "smdp.example.com:8443");
    (void)sgp32_cert_verify_issued_by(der, der, SGP32_CERT_NO_TIME_CHECK, NULL);
    sgp32_ci_set cis;
    sgp32_ci_set_init(&cis);
    if (sgp32_ci_set_add(&cis, data, size) == SGP32_OK) {
        (void)sgp32_cert_verify_euicc_chain(&cis, der, der, SGP32_CERT_NO_TIME_CHECK, NULL, NULL);
        (void)sgp32_cert_verify_dp(&cis, der, SGP32_CERT_ROLE_DP_AUTH, NULL, 0, NULL);
        (void)sgp32_cert_verify_dp(&cis, der, SGP32_CERT_ROLE_DP_TLS, "localhost", 0, NULL);
    }
    sgp32_ci_set_free(&cis);
    return SGP32_OK;
}

SGP32_FUZZ_ENTRY(sgp32_fuzz_certificate);

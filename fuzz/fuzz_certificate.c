/*
 * Guards the eSIM certificate parser and checkers (lib/crypto/certificate_*.c): certificates
 * reach us from the network (CERT.EUICC and CERT.EUM in AuthenticateServerResponse, IpaEuiccData,
 * GetCerts; CERT.DPauth/DPpb from an SM-DP+). Any input must end in a parse error or a parsed
 * certificate; a parsed one is then run through every check (as its own issuer and as a CI),
 * which must answer with a result code, never crash or leak.
 */
#include "fuzz_common.h"
#include "sgp32/certificate.h"

int sgp32_fuzz_certificate(const uint8_t *data, size_t size)
{
    sgp32_certificate cert;
    int rc = sgp32_cert_parse(data, size, &cert);
    if (rc != SGP32_OK)
        return rc;
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

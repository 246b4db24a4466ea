/*
 * ES10b.GetCerts (SGP.32 §5.9.10): BF56 { [80 euiccCiPKId] } ->
 * BF56 { A0 { A5 CERT.EUM, A6 CERT.EUICC } } or BF56 { 81 invalidCiPKId(1) }.
 *
 * Why: the eIM verifies eUICC package results with PK.EUICC and needs the chain for the CI it
 * trusts (IpaEuiccData A5/A6). The PKID selects the identity whose CERT.EUM names that CI as its
 * authority (AKI); with none the first identity's chain is returned. The certificates are sent
 * as stored with their SEQUENCE tag replaced by [5]/[6] (implicit tagging, NOTES §5.3). The
 * `04 14 <SKI>` form one public IPA sends (NOTES §2 rule 4) is rewritten to `80 14` by the
 * dispatcher before this function sees it.
 */
#include "euicc_local.h"

int es10b_get_certs(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, EUICC_LOCAL_ARENA);
    sgp32_get_certs_request req = {0};
    int rc = euicc_decode(euicc, &sgp32_type_get_certs_request, request, len, &arena, &req);
    sgp32_arena_free(&arena);
    if (rc)
        return rc;

    const sgp32_euicc_identity *id =
        req.has_euicc_ci_pk_id ? euicc_identity_for_ci(euicc, req.euicc_ci_pk_id.data, req.euicc_ci_pk_id.len)
                               : euicc_identity_for_ci(euicc, NULL, 0);
    sgp32_get_certs_response resp = {0};
    if (id) {
        resp.choice = SGP32_GET_CERTS_RESPONSE_CERTS;
        resp.u.certs.eum_certificate = id->eum_certificate;
        resp.u.certs.euicc_certificate = id->euicc_certificate;
    } else {
        resp.choice = SGP32_GET_CERTS_RESPONSE_GET_CERTS_ERROR;
        resp.u.get_certs_error = SGP32_GET_CERTS_RESPONSE_GET_CERTS_ERROR_INVALID_CI_PK_ID;
    }
    sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log, "GetCerts%s: %s",
              req.has_euicc_ci_pk_id ? " for a CI PKID" : " (default CI)",
              id ? "CERT.EUM and CERT.EUICC" : "invalidCiPKId");
    return sgp32_asn1_encode(&sgp32_type_get_certs_response, &resp, out);
}

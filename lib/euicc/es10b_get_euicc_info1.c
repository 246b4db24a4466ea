/*
 * ES10b.GetEUICCInfo1 (SGP.22 §5.7.8, used as is by SGP.32 §5.9): BF20 00 ->
 * BF20 { 82 svn, A9 { 04 CI PKID.. } (verification), AA { 04 CI PKID.. } (signing) }.
 *
 * Why these lists: the SM-DP+ and the eIM pick the CI from them. For verification the eUICC
 * offers the CIs it trusts (the SubjectKeyIdentifier of each trusted CI certificate); for
 * signing, the CIs its own chains end in, which is the AuthorityKeyIdentifier of each
 * CERT.EUM (one identity per CI). The svn is the one GetEUICCInfo2 reports.
 */
#include "euicc_local.h"

int es10b_get_euicc_info1(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, EUICC_LOCAL_ARENA);
    sgp32_get_euicc_info1_request req = {0};
    int rc = euicc_decode(euicc, &sgp32_type_get_euicc_info1_request, request, len, &arena, &req);
    if (!rc) {
        euicc_ci_lists cis;
        euicc_get_ci_lists(euicc, &cis);
        sgp32_euicc_info1 info = {0};
        info.svn = SGP32_BYTES(euicc_svn, sizeof(euicc_svn));
        info.euicc_ci_pk_id_list_for_verification.items = cis.verification;
        info.euicc_ci_pk_id_list_for_verification.count = cis.verification_count;
        info.euicc_ci_pk_id_list_for_signing.items = cis.signing;
        info.euicc_ci_pk_id_list_for_signing.count = cis.signing_count;
        rc = sgp32_asn1_encode(&sgp32_type_euicc_info1, &info, out);
        sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log,
                  "GetEUICCInfo1: svn 2.5.0, %zu CI(s) for verification, %zu for signing",
                  cis.verification_count, cis.signing_count);
    }
    sgp32_arena_free(&arena);
    return rc;
}

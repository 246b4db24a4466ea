/*
 * ES10b.GetConnectivityParameters (SGP.32 §5.9.24): BF5F 00 -> BF5F { A0 { [81 httpParams] } } or
 * BF5F { 81 connectivityParametersError }: parametersNotAvailable 1, undefinedError 127.
 *
 * Why it always says parametersNotAvailable: the parameters (how the IPA reaches the eIM over the
 * enabled profile's bearer) come from the profile or the eIM, and this card has no configured
 * value: neither the profile metadata it stores nor its configuration carries one, and NOTES §5.3
 * leaves the httpParams format unverified. Answering "not available" is what a card without the
 * data must do; inventing bytes would mislead the IPA.
 */
#include "euicc_local.h"

int es10b_get_connectivity_parameters(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, EUICC_LOCAL_ARENA);
    sgp32_get_connectivity_parameters_request req = {0};
    int rc = euicc_decode(euicc, &sgp32_type_get_connectivity_parameters_request, request, len, &arena, &req);
    sgp32_arena_free(&arena);
    if (rc)
        return rc;
    sgp32_get_connectivity_parameters_response resp = {0};
    resp.choice = SGP32_GET_CONNECTIVITY_PARAMETERS_RESPONSE_CONNECTIVITY_PARAMETERS_ERROR;
    resp.u.connectivity_parameters_error = SGP32_CONNECTIVITY_PARAMETERS_ERROR_PARAMETERS_NOT_AVAILABLE;
    sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log,
              "GetConnectivityParameters: parametersNotAvailable (none configured)");
    return sgp32_asn1_encode(&sgp32_type_get_connectivity_parameters_response, &resp, out);
}

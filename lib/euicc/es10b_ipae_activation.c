/*
 * ES10b.IpaeActivation (SGP.32 §5.9, the IPAe functions): BF42 { 80 ipaeOption {activateIpae} } ->
 * BF42 { 80 ipaeActivationResult }: ok 0, notSupported 1.
 *
 * Why notSupported: this card has no IPA inside (no IPAe); the IPA runs in the device (IPAd),
 * which is what EUICCInfo2.ipaMode says and what the ISD-R's E1 euiccConfiguration (ipaeSupported
 * not set) advertises. Any well-formed request, activating or not, gets the same answer.
 */
#include "euicc_local.h"

int es10b_ipae_activation(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, EUICC_LOCAL_ARENA);
    sgp32_ipae_activation_request req = {0};
    int rc = euicc_decode(euicc, &sgp32_type_ipae_activation_request, request, len, &arena, &req);
    sgp32_arena_free(&arena);
    if (rc)
        return rc;
    sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log, "IpaeActivation (%s): notSupported, IPAd only",
              req.ipae_option & SGP32_IPAE_ACTIVATION_REQUEST_IPAE_OPTION_ACTIVATE_IPAE ? "activate"
                                                                                        : "no option");
    return euicc_write_result(out, SGP32_TAG_IPAE_ACTIVATION_RESPONSE,
                              SGP32_IPAE_ACTIVATION_RESPONSE_IPAE_ACTIVATION_RESULT_NOT_SUPPORTED);
}

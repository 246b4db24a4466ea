/*
 * ES10a.GetEuiccConfiguredAddresses (SGP.22 §5.7.3; SGP.32 §5.9 keeps it): BF3C 00 ->
 * BF3C { [80 defaultDpAddress] 81 rootDsAddress }.
 *
 * Why: the IPA reads the default SM-DP+ (contactDefaultSmdp, IpaEuiccData 81) and the root
 * SM-DS (IpaEuiccData 83) from here. The default address is left out when none is set (after
 * a memory reset with resetDefaultSmdpAddress, or a card made without one), as SGP.22 allows.
 */
#include <string.h>

#include "euicc_local.h"

int es10a_get_euicc_configured_addresses(sgp32_euicc *euicc, const uint8_t *request, size_t len,
                                         sgp32_buf *out)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, EUICC_LOCAL_ARENA);
    sgp32_euicc_configured_addresses_request req = {0};
    int rc = euicc_decode(euicc, &sgp32_type_euicc_configured_addresses_request, request, len, &arena, &req);
    if (!rc) {
        const euicc_state *s = &euicc->state;
        sgp32_euicc_configured_addresses_response resp = {0};
        resp.has_default_dp_address = s->default_dp_address[0] != '\0';
        resp.default_dp_address = SGP32_BYTES(s->default_dp_address, strlen(s->default_dp_address));
        resp.root_ds_address = SGP32_BYTES(s->root_ds_address, strlen(s->root_ds_address));
        rc = sgp32_asn1_encode(&sgp32_type_euicc_configured_addresses_response, &resp, out);
        sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log,
                  "GetEuiccConfiguredAddresses: default SM-DP+ %s, root SM-DS %s",
                  resp.has_default_dp_address ? s->default_dp_address : "(none)", s->root_ds_address);
    }
    sgp32_arena_free(&arena);
    return rc;
}

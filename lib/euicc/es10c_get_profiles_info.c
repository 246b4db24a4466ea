/*
 * ES10c.GetProfilesInfo (SGP.22 §5.7.15; SGP.32 §5.9 answers with SGP32-ProfileInfo):
 * BF2D { [A0 { 4F aid | 5A iccid | 95 class }] [5C tagList] } -> BF2D { A0 { E3 .. } } | BF2D { 81 code }.
 *
 * Why a thin wrapper: the listProfileInfo PSMO answers the same question inside an eUICC package
 * result, so the list itself is built by euicc_write_profile_info_list (euicc_profile_info.c);
 * here the request is only decoded. A request that does not decode is refused at the APDU level.
 */
#include "euicc_local.h"

int es10c_get_profiles_info(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, EUICC_LOCAL_ARENA);
    sgp32_profile_info_list_request req = {0};
    int rc = euicc_decode(euicc, &sgp32_type_profile_info_list_request, request, len, &arena, &req);
    if (!rc)
        rc = euicc_write_profile_info_list(euicc, &req, out);
    sgp32_arena_free(&arena);
    return rc;
}

/* ProfileInfo lists (GetProfilesInfo and the listProfileInfo PSMO): placeholder. */
#include "euicc_internal.h"

int euicc_write_profile_info_list(sgp32_euicc *euicc, const sgp32_profile_info_list_request *request,
                                  sgp32_buf *out)
{
    (void)euicc;
    (void)request;
    (void)out;
    return SGP32_ERR_UNSUPPORTED;
}

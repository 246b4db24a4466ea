/* es10c_set_nickname: not implemented yet (answers as an unsupported function). */
#include "euicc_internal.h"

int es10c_set_nickname(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    (void)euicc;
    (void)request;
    (void)len;
    (void)out;
    return SGP32_ERR_UNSUPPORTED;
}

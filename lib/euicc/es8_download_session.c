/* The download session context: placeholder until ES8+ lands. */
#include "euicc_internal.h"

void euicc_download_end(sgp32_euicc *euicc)
{
    euicc->download = NULL;
}

bool euicc_download_takes_segment(const sgp32_euicc *euicc, uint32_t tag)
{
    (void)euicc;
    (void)tag;
    return false;
}

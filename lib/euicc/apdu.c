/* ISO 7816 front of the ISD-R: placeholder until the APDU layer lands. */
#include "euicc_internal.h"

static const uint8_t atr[] = {0x3B, 0x9F, 0x96, 0x80, 0x1F, 0xC7, 0x80, 0x31, 0xE0, 0x73, 0xFE,
                              0x21, 0x1B, 0x63, 0x3A, 0x20, 0x4E, 0x83, 0x00, 0x90, 0x00, 0x31};

sgp32_bytes sgp32_euicc_atr(void)
{
    return (sgp32_bytes){atr, sizeof(atr)};
}

int sgp32_euicc_transmit(sgp32_euicc *euicc, const uint8_t *command, size_t command_len, sgp32_buf *response)
{
    (void)euicc;
    (void)command;
    (void)command_len;
    return sgp32_buf_append(response, "\x6D\x00", 2);
}

/* EID check digits (SGP.29 / ISO 7064 MOD 97-10), include/sgp32/eid.h. */
#include <string.h>

#include "sgp32/eid.h"

static bool all_digits(const char *text, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (text[i] < '0' || text[i] > '9')
            return false;
    return true;
}

/* The 32-digit number mod 97, digit by digit (no big integers needed). */
static unsigned mod97(const char *digits)
{
    unsigned r = 0;
    for (size_t i = 0; i < SGP32_EID_DIGITS; i++)
        r = (r * 10 + (unsigned)(digits[i] - '0')) % 97;
    return r;
}

int sgp32_eid_set_check_digits(char digits[SGP32_EID_DIGITS + 1])
{
    if (strlen(digits) != SGP32_EID_DIGITS || !all_digits(digits, SGP32_EID_DIGITS))
        return SGP32_ERR_BAD_TEXT;
    digits[30] = digits[31] = '0';
    unsigned check = 98 - mod97(digits);
    digits[30] = (char)('0' + check / 10);
    digits[31] = (char)('0' + check % 10);
    return SGP32_OK;
}

int sgp32_eid_to_text(const uint8_t eid[SGP32_EID_LEN], char text[SGP32_EID_DIGITS + 1])
{
    for (size_t i = 0; i < SGP32_EID_LEN; i++) {
        uint8_t hi = eid[i] >> 4, lo = eid[i] & 15;
        if (hi > 9 || lo > 9)
            return SGP32_ERR_BAD_TEXT;
        text[2 * i] = (char)('0' + hi);
        text[2 * i + 1] = (char)('0' + lo);
    }
    text[SGP32_EID_DIGITS] = '\0';
    return SGP32_OK;
}

int sgp32_eid_check(const uint8_t eid[SGP32_EID_LEN])
{
    char text[SGP32_EID_DIGITS + 1];
    int rc = sgp32_eid_to_text(eid, text);
    if (rc)
        return rc;
    return mod97(text) == 1 ? SGP32_OK : SGP32_ERR_EID_CHECK_DIGITS;
}

int sgp32_eid_from_text(const char *text, uint8_t eid[SGP32_EID_LEN])
{
    if (!text || strlen(text) != SGP32_EID_DIGITS || !all_digits(text, SGP32_EID_DIGITS))
        return SGP32_ERR_BAD_TEXT;
    for (size_t i = 0; i < SGP32_EID_LEN; i++)
        eid[i] = (uint8_t)((text[2 * i] - '0') << 4 | (text[2 * i + 1] - '0'));
    return mod97(text) == 1 ? SGP32_OK : SGP32_ERR_EID_CHECK_DIGITS;
}

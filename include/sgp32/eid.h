/*
 * EID (SGP.29): 32 decimal digits, carried as 16 bytes of plain BCD
 * (no nibble swap). Valid when the 32-digit number mod 97 == 1.
 */
#ifndef SGP32_EID_H
#define SGP32_EID_H

#include "sgp32/core.h"

enum { SGP32_EID_LEN = 16, SGP32_EID_DIGITS = 32 };

/* 32 digits -> 16 BCD bytes; SGP32_ERR_BAD_TEXT or SGP32_ERR_EID_CHECK_DIGITS. */
int sgp32_eid_from_text(const char *text, uint8_t eid[SGP32_EID_LEN]);
/* 16 BCD bytes -> 32 digits + NUL; SGP32_ERR_BAD_TEXT if a nibble is not a digit. */
int sgp32_eid_to_text(const uint8_t eid[SGP32_EID_LEN], char text[SGP32_EID_DIGITS + 1]);
/* SGP32_OK when the BCD digits are valid and the check digits hold. */
int sgp32_eid_check(const uint8_t eid[SGP32_EID_LEN]);
/* Replace the last two of 32 digits with the check digits (98 - N mod 97). */
int sgp32_eid_set_check_digits(char digits[SGP32_EID_DIGITS + 1]);

#endif

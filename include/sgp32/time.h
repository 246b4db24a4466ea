/*
 * UTC calendar time <-> unix seconds, 64-bit and proleptic Gregorian:
 * certificates run past 2050 (the SGP.26 eUICC to the year 7496), which
 * time_t and timegm do not promise everywhere. Portable, no libc time zones.
 */
#ifndef SGP32_TIME_H
#define SGP32_TIME_H

#include "sgp32/core.h"

typedef struct sgp32_civil_time {
    int64_t year;
    int month, day; /* 1..12, 1..31 */
    int hour, minute, second;
} sgp32_civil_time;

enum { SGP32_TIME_TEXT_LEN = 32 };

int64_t sgp32_time_from_civil(const sgp32_civil_time *civil);
void sgp32_time_to_civil(int64_t t, sgp32_civil_time *civil);
/* "YYYY-MM-DDTHH:MM:SSZ" (RFC 3339, UTC). */
void sgp32_time_format(int64_t t, char out[SGP32_TIME_TEXT_LEN]);
/* "YYYY-MM-DD" (midnight UTC) or "YYYY-MM-DDTHH:MM:SSZ"; SGP32_ERR_BAD_TEXT otherwise. */
int sgp32_time_parse(const char *text, int64_t *out);

#endif

/* Calendar arithmetic by days since 1970-01-01 (H. Hinnant's civil-date algorithms). */
#include <stdio.h>
#include <string.h>

#include "sgp32/time.h"

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

int64_t sgp32_time_from_civil(const sgp32_civil_time *c)
{
    int64_t y = c->year - (c->month <= 2);
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (c->month + (c->month > 2 ? -3 : 9)) + 2) / 5 + c->day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    return days * 86400 + c->hour * 3600 + c->minute * 60 + c->second;
}

void sgp32_time_to_civil(int64_t t, sgp32_civil_time *c)
{
    int64_t days = floor_div(t, 86400), secs = t - days * 86400;
    int64_t z = days + 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    c->day = (int)(doy - (153 * mp + 2) / 5 + 1);
    c->month = (int)(mp < 10 ? mp + 3 : mp - 9);
    c->year = yoe + era * 400 + (c->month <= 2);
    c->hour = (int)(secs / 3600);
    c->minute = (int)(secs / 60 % 60);
    c->second = (int)(secs % 60);
}

void sgp32_time_format(int64_t t, char out[SGP32_TIME_TEXT_LEN])
{
    sgp32_civil_time c;
    sgp32_time_to_civil(t, &c);
    snprintf(out, SGP32_TIME_TEXT_LEN, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)c.year, c.month, c.day,
             c.hour, c.minute, c.second);
}

static bool digits(const char *p, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return true;
}

int sgp32_time_parse(const char *text, int64_t *out)
{
    size_t len = text ? strlen(text) : 0;
    int y, mo, d, h = 0, mi = 0, s = 0;
    if (len != 10 && len != 20)
        return SGP32_ERR_BAD_TEXT;
    if (!digits(text, 4, &y) || text[4] != '-' || !digits(text + 5, 2, &mo) || text[7] != '-' ||
        !digits(text + 8, 2, &d))
        return SGP32_ERR_BAD_TEXT;
    if (len == 20 &&
        (text[10] != 'T' || !digits(text + 11, 2, &h) || text[13] != ':' || !digits(text + 14, 2, &mi) ||
         text[16] != ':' || !digits(text + 17, 2, &s) || text[19] != 'Z'))
        return SGP32_ERR_BAD_TEXT;
    static const int month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > month_days[mo - 1] || (mo == 2 && d == 29 && !leap) || h > 23 ||
        mi > 59 || s > 59)
        return SGP32_ERR_BAD_TEXT;
    sgp32_civil_time c = {y, mo, d, h, mi, s};
    *out = sgp32_time_from_civil(&c);
    return SGP32_OK;
}

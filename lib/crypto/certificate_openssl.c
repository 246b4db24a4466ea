/*
 * OpenSSL glue for the certificate code (certificate_internal.h).
 *
 * Times: SGP.26 eUICC certificates end
 * in year 7496, so ASN1_TIME is converted with our own calendar arithmetic to
 * int64 seconds instead of time_t, which is 32-bit on some targets. When
 * issuing, RFC 5280 §4.1.2.5 wants UTCTime up to 2049 and GeneralizedTime from
 * 2050 on; ASN1_TIME_set_string_X509 picks that form for us.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "certificate_internal.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int sgp32_certi_time_to_unix(const ASN1_TIME *t, int64_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return SGP32_ERR_CERT_PARSE;
    int64_t days = days_from_civil((int64_t)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    *out = days * 86400 + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
    return SGP32_OK;
}

ASN1_TIME *sgp32_certi_time_from_unix(int64_t t)
{
    /* 1950-01-01 .. 9999-12-31T23:59:59Z */
    const int64_t min = days_from_civil(1950, 1, 1) * 86400;
    const int64_t max = days_from_civil(10000, 1, 1) * 86400 - 1;
    if (t < min || t > max)
        return NULL;
    int64_t days = t / 86400, secs = t % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    int64_t year;
    int month, day;
    civil_from_days(days, &year, &month, &day);
    char text[64];
    snprintf(text, sizeof(text), "%04d%02d%02d%02d%02d%02dZ", (int)year, month, day, (int)(secs / 3600),
             (int)(secs / 60 % 60), (int)(secs % 60));
    ASN1_TIME *out = ASN1_TIME_new();
    if (out && ASN1_TIME_set_string_X509(out, text) != 1) {
        ASN1_TIME_free(out);
        out = NULL;
    }
    return out;
}

X509 *sgp32_certi_x509_from_der(const uint8_t *der, size_t len)
{
    if (!der || len == 0 || len > (size_t)LONG_MAX)
        return NULL;
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (x && (size_t)(p - der) != len) {
        X509_free(x);
        x = NULL;
    }
    return x;
}

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
#include "sgp32/time.h"

int sgp32_certi_time_to_unix(const ASN1_TIME *t, int64_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return SGP32_ERR_CERT_PARSE;
    sgp32_civil_time c = {
        (int64_t)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec};
    *out = sgp32_time_from_civil(&c);
    return SGP32_OK;
}

ASN1_TIME *sgp32_certi_time_from_unix(int64_t t)
{
    /* 1950-01-01 .. 9999-12-31T23:59:59Z */
    const sgp32_civil_time first = {1950, 1, 1, 0, 0, 0}, after_last = {10000, 1, 1, 0, 0, 0};
    const int64_t min = sgp32_time_from_civil(&first), max = sgp32_time_from_civil(&after_last) - 1;
    if (t < min || t > max)
        return NULL;
    sgp32_civil_time c;
    sgp32_time_to_civil(t, &c);
    char text[64];
    snprintf(text, sizeof(text), "%04d%02d%02d%02d%02d%02dZ", (int)c.year, c.month, c.day, c.hour, c.minute,
             c.second);
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

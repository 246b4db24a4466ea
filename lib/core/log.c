/* Logging: per-category thresholds and one replaceable sink (include/sgp32/log.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sgp32/log.h"
#include "sgp32/text.h"

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};
static const char *const category_names[SGP32_LOG_CATEGORY_COUNT] = {
    "core", "asn1", "crypto", "euicc", "ipa", "eim", "smdp", "transport", "store", "app"};

static sgp32_log_level thresholds[SGP32_LOG_CATEGORY_COUNT] = {
    SGP32_LOG_INFO, SGP32_LOG_INFO, SGP32_LOG_INFO, SGP32_LOG_INFO, SGP32_LOG_INFO,
    SGP32_LOG_INFO, SGP32_LOG_INFO, SGP32_LOG_INFO, SGP32_LOG_INFO, SGP32_LOG_INFO};

static void stderr_sink(void *ctx, const sgp32_log_record *r)
{
    (void)ctx;
    char stamp[32];
    struct timespec ts;
    struct tm tm;
    timespec_get(&ts, TIME_UTC);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    const sgp32_log_context *c = r->context;
    fprintf(stderr, "%s.%03ldZ %-5s %s%s%s%s%s%s%s: %s\n", stamp, ts.tv_nsec / 1000000, level_names[r->level],
            category_names[r->category], c && c->component ? " " : "", c && c->component ? c->component : "",
            c && c->eid ? " eid=" : "", c && c->eid ? c->eid : "", c && c->transaction ? " tx=" : "",
            c && c->transaction ? c->transaction : "", r->message);
}

static sgp32_log_sink sink = stderr_sink;
static void *sink_ctx;

void sgp32_log_set_sink(sgp32_log_sink new_sink, void *ctx)
{
    sink = new_sink ? new_sink : stderr_sink;
    sink_ctx = new_sink ? ctx : NULL;
}

void sgp32_log_set_level(sgp32_log_category category, sgp32_log_level level)
{
    if ((unsigned)category < SGP32_LOG_CATEGORY_COUNT)
        thresholds[category] = level;
}

void sgp32_log_set_level_all(sgp32_log_level level)
{
    for (size_t i = 0; i < SGP32_LOG_CATEGORY_COUNT; i++)
        thresholds[i] = level;
}

bool sgp32_log_enabled(sgp32_log_category category, sgp32_log_level level)
{
    return (unsigned)category < SGP32_LOG_CATEGORY_COUNT && level <= thresholds[category];
}

int sgp32_log_level_parse(const char *text)
{
    for (size_t i = 0; i < SGP32_ARRAY_LEN(level_names); i++)
        if (text && strcmp(text, level_names[i]) == 0)
            return (int)i;
    return -1;
}

const char *sgp32_log_level_name(sgp32_log_level level)
{
    return (unsigned)level < SGP32_ARRAY_LEN(level_names) ? level_names[level] : "?";
}

const char *sgp32_log_category_name(sgp32_log_category category)
{
    return (unsigned)category < SGP32_LOG_CATEGORY_COUNT ? category_names[category] : "?";
}

void sgp32_logv(sgp32_log_level level, sgp32_log_category category, const sgp32_log_context *context,
                const char *fmt, va_list ap)
{
    if (!sgp32_log_enabled(category, level))
        return;
    char message[1024];
    vsnprintf(message, sizeof(message), fmt, ap);
    sgp32_log_record record = {level, category, context, message};
    sink(sink_ctx, &record);
}

void sgp32_log(sgp32_log_level level, sgp32_log_category category, const sgp32_log_context *context,
               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sgp32_logv(level, category, context, fmt, ap);
    va_end(ap);
}

void sgp32_log_hex(sgp32_log_level level, sgp32_log_category category, const sgp32_log_context *context,
                   const char *label, const uint8_t *data, size_t len)
{
    enum { MAX_SHOWN = 256 };
    if (!sgp32_log_enabled(category, level))
        return;
    char hex[2 * MAX_SHOWN + 1];
    size_t shown = len < MAX_SHOWN ? len : MAX_SHOWN;
    sgp32_hex_encode(data, shown, hex);
    sgp32_log(level, category, context, "%s (%zu bytes): %s%s", label, len, hex, shown < len ? " ..." : "");
}

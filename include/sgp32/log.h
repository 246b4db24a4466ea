/*
 * Logging with categories, levels and a replaceable sink (design principle 10).
 * Every line carries its context: component, EID and transaction when known.
 * Secrets are never passed to the logger; hex dumps are debug level only.
 */
#ifndef SGP32_LOG_H
#define SGP32_LOG_H

#include <stdarg.h>

#include "sgp32/core.h"

typedef enum sgp32_log_level {
    SGP32_LOG_ERROR = 0,
    SGP32_LOG_WARN = 1,
    SGP32_LOG_INFO = 2,
    SGP32_LOG_DEBUG = 3,
    SGP32_LOG_TRACE = 4,
} sgp32_log_level;

typedef enum sgp32_log_category {
    SGP32_LOG_CORE = 0,
    SGP32_LOG_ASN1,
    SGP32_LOG_CRYPTO,
    SGP32_LOG_EUICC,
    SGP32_LOG_IPA,
    SGP32_LOG_EIM,
    SGP32_LOG_SMDP,
    SGP32_LOG_TRANSPORT,
    SGP32_LOG_STORE,
    SGP32_LOG_APP,
    SGP32_LOG_CATEGORY_COUNT
} sgp32_log_category;

/* Who a line is about. Any member may be NULL. */
typedef struct sgp32_log_context {
    const char *component;   /* "eimd", "euicc-sim", ... */
    const char *eid;         /* 32 digits */
    const char *transaction; /* upper-case hex */
} sgp32_log_context;

typedef struct sgp32_log_record {
    sgp32_log_level level;
    sgp32_log_category category;
    const sgp32_log_context *context; /* may be NULL */
    const char *message;              /* formatted, no trailing newline */
} sgp32_log_record;

typedef void (*sgp32_log_sink)(void *sink_ctx, const sgp32_log_record *record);

/* NULL sink restores the default (one line per record on stderr). */
void sgp32_log_set_sink(sgp32_log_sink sink, void *sink_ctx);
void sgp32_log_set_level(sgp32_log_category category, sgp32_log_level level);
void sgp32_log_set_level_all(sgp32_log_level level);
bool sgp32_log_enabled(sgp32_log_category category, sgp32_log_level level);
/* Parse "error|warn|info|debug|trace"; returns -1 on unknown text. */
int sgp32_log_level_parse(const char *text);
const char *sgp32_log_level_name(sgp32_log_level level);
const char *sgp32_log_category_name(sgp32_log_category category);

#if defined(__GNUC__)
#define SGP32_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SGP32_PRINTF(a, b)
#endif

void sgp32_log(sgp32_log_level level, sgp32_log_category category, const sgp32_log_context *context,
               const char *fmt, ...) SGP32_PRINTF(4, 5);
void sgp32_logv(sgp32_log_level level, sgp32_log_category category, const sgp32_log_context *context,
                const char *fmt, va_list ap);
/* "label (N bytes): 0A0B..." at debug level; long data is cut with a note. */
void sgp32_log_hex(sgp32_log_level level, sgp32_log_category category, const sgp32_log_context *context,
                   const char *label, const uint8_t *data, size_t len);

#endif

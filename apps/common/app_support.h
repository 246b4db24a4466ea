/*
 * What the daemons and tools of apps/ share (library sgp32_app_support): the `key = value` config
 * file format, numbers and strings from it, reading certificates, keys and PEM text, and
 * libmicrohttpd's log lines into sgp32 logging. Messages go to stderr, prefixed with the program
 * name given to sgp32_app_init, and say what to do.
 */
#ifndef SGP32_APP_SUPPORT_H
#define SGP32_APP_SUPPORT_H

#include <stdarg.h>

#include "sgp32/crypto.h"

enum { SGP32_APP_FILE_MAX = 4 << 20 };

/* The program name that prefixes every message ("eimd"). */
void sgp32_app_init(const char *program);
/* For the long-running, multi-threaded daemons: keep freed memory for reuse instead of giving it
 * back to the kernel on every free (see app_support.c). */
void sgp32_app_server_allocator(void);

/* ------------------------------------------------------------------ config files */

/* Set key to value; 0 or -1 (and a message). */
typedef int (*sgp32_app_config_set)(void *ctx, const char *key, const char *value);

/* One `key = value` line ('#' starts a comment, blank lines are fine); where names it in
 * messages ("file:line", "--set"). The line is modified. */
int sgp32_app_config_line(char *line, const char *where, sgp32_app_config_set set, void *ctx);
/* Every line of a file; *readable_by_others (optional) says whether others may read it (secrets
 * in it would be everybody's). */
int sgp32_app_config_load(const char *path, sgp32_app_config_set set, void *ctx, bool *readable_by_others);
/* value into dst[size] (a message when it does not fit). */
int sgp32_app_config_copy(char *dst, size_t size, const char *value, const char *key);
/* A decimal number in min..max. */
int sgp32_app_config_number(const char *value, const char *key, long min, long max, long *out);

/* ------------------------------------------------------------------ files */

/* The whole file (up to SGP32_APP_FILE_MAX); out is initialised here. */
int sgp32_app_read_file(const char *path, sgp32_buf *out);
/* A certificate, DER or PEM (the first one), as DER; checked to parse. der is initialised here. */
int sgp32_app_read_certificate(const char *path, sgp32_buf *der);
/* Every certificate of a file (PEM, one or more, or one DER) appended to pem as PEM; *count of them. */
int sgp32_app_append_pem_certificates(const char *path, sgp32_buf *pem, size_t *count);
/* An EC private key (PEM); the file's bytes are wiped after use. */
int sgp32_app_read_key(const char *path, sgp32_ec_private_key *key);
/* A text file with a NUL (libmicrohttpd's PEM options); NULL on failure. Free with
 * sgp32_app_free_text: it may hold a key. */
char *sgp32_app_read_text(const char *path);
void sgp32_app_free_text(char *text);

/* ------------------------------------------------------------------ libmicrohttpd */

/* MHD_OPTION_EXTERNAL_LOGGER: libmicrohttpd's lines at debug level; cls is the
 * sgp32_log_context to use (may be NULL). */
void sgp32_app_mhd_log(void *cls, const char *fmt, va_list ap);

#endif

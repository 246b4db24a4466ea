/*
 * What the daemons and tools of apps/ share (app_support.h).
 */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "app_support.h"
#include "sgp32/certificate.h"
#include "sgp32/log.h"
#include "sgp32/text.h"

static const char *program = "sgp32";

void sgp32_app_init(const char *name)
{
    program = name;
}

/*
 * glibc trims a thread's heap as soon as a free leaves more than the trim threshold unused at its
 * top, with madvise; in a process whose threads run on several CPUs each such call also flushes
 * the other CPUs' TLBs (an interrupt per CPU). eimd hit it on every ESipa round trip (SQLite frees
 * its statement journal after the counter update), about 7% of its CPU. A server needs that
 * memory again a moment later, so it keeps up to 64 MiB, and blocks up to 4 MiB come from the heap
 * rather than from mmap (whose munmap flushes the TLBs too).
 */
void sgp32_app_server_allocator(void)
{
#ifdef __GLIBC__
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
#endif
}

/* ------------------------------------------------------------------ config files */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

int sgp32_app_config_line(char *line, const char *where, sgp32_app_config_set set, void *ctx)
{
    char *hash = strchr(line, '#');
    if (hash)
        *hash = '\0';
    char *s = trim(line);
    if (!*s)
        return 0;
    char *eq = strchr(s, '=');
    if (!eq) {
        fprintf(stderr, "%s: %s: expected 'key = value'\n", program, where);
        return -1;
    }
    *eq = '\0';
    return set(ctx, trim(s), trim(eq + 1));
}

int sgp32_app_config_load(const char *path, sgp32_app_config_set set, void *ctx, bool *readable_by_others)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: cannot open config %s: %s\n", program, path, strerror(errno));
        return -1;
    }
    char line[2048], where[600];
    int n = 0, rc = 0;
    while (!rc && fgets(line, sizeof(line), f)) {
        snprintf(where, sizeof(where), "%.500s:%d", path, ++n);
        rc = sgp32_app_config_line(line, where, set, ctx);
    }
    sgp32_secure_zero(line, sizeof(line)); /* a line may hold a secret */
    struct stat st;
    if (readable_by_others)
        *readable_by_others = fstat(fileno(f), &st) == 0 && (st.st_mode & S_IROTH);
    fclose(f);
    return rc;
}

int sgp32_app_config_copy(char *dst, size_t size, const char *value, const char *key)
{
    size_t n = strlen(value);
    if (n >= size) {
        fprintf(stderr, "%s: value of '%s' too long (at most %zu characters)\n", program, key, size - 1);
        return -1;
    }
    memcpy(dst, value, n + 1);
    return 0;
}

int sgp32_app_config_number(const char *value, const char *key, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end || v < min || v > max) {
        fprintf(stderr, "%s: '%s' must be a number in %ld..%ld\n", program, key, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

/* ------------------------------------------------------------------ files */

int sgp32_app_read_file(const char *path, sgp32_buf *out)
{
    sgp32_buf_init(out, SGP32_APP_FILE_MAX);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open %s: %s\n", program, path, strerror(errno));
        return SGP32_ERR_IO;
    }
    uint8_t chunk[8192];
    size_t n;
    int rc = SGP32_OK;
    while (!rc && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = sgp32_buf_append(out, chunk, n);
    if (!rc && ferror(f))
        rc = SGP32_ERR_IO;
    fclose(f);
    sgp32_secure_zero(chunk, sizeof(chunk));
    if (rc)
        fprintf(stderr, "%s: %s: %s\n", program, path, rc == SGP32_ERR_IO ? "read error" : "too large");
    return rc;
}

static const char pem_begin[] = "-----BEGIN CERTIFICATE-----", pem_end[] = "-----END CERTIFICATE-----";

static const char *find(const char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return hay + i;
    return NULL;
}

/* The next PEM certificate of text[*pos..n) decoded into der; SGP32_ERR_NOT_FOUND when none is left. */
static int next_pem(const char *text, size_t n, size_t *pos, sgp32_buf *der)
{
    const char *b = find(text + *pos, n - *pos, pem_begin);
    if (!b)
        return SGP32_ERR_NOT_FOUND;
    b += strlen(pem_begin);
    const char *e = find(b, n - (size_t)(b - text), pem_end);
    if (!e)
        return SGP32_ERR_BAD_TEXT;
    *pos = (size_t)(e - text) + strlen(pem_end);
    return sgp32_base64_decode(b, (size_t)(e - b), der);
}

int sgp32_app_read_certificate(const char *path, sgp32_buf *der)
{
    sgp32_buf raw;
    sgp32_buf_init(der, SGP32_APP_FILE_MAX);
    int rc = sgp32_app_read_file(path, &raw);
    if (rc)
        goto out;
    size_t pos = 0;
    rc = next_pem((const char *)raw.data, raw.len, &pos, der);
    if (rc == SGP32_ERR_NOT_FOUND) /* no PEM armour: DER */
        rc = sgp32_buf_append(der, raw.data, raw.len);
    if (!rc) {
        sgp32_certificate cert;
        rc = sgp32_cert_parse(der->data, der->len, &cert);
    }
    if (rc)
        fprintf(stderr, "%s: %s: not a certificate (%s)\n", program, path, sgp32_err_str(rc));
out:
    sgp32_buf_free(&raw);
    return rc;
}

static int append_pem(const uint8_t *der, size_t len, sgp32_buf *pem)
{
    size_t b64_len = sgp32_base64_encoded_len(len);
    char *b64 = malloc(b64_len + 1);
    if (!b64)
        return SGP32_ERR_NO_MEMORY;
    sgp32_base64_encode(der, len, b64);
    int rc = sgp32_buf_append(pem, pem_begin, strlen(pem_begin));
    for (size_t i = 0; !rc && i < b64_len; i += 64) {
        rc = sgp32_buf_append_byte(pem, '\n');
        if (!rc)
            rc = sgp32_buf_append(pem, b64 + i, b64_len - i < 64 ? b64_len - i : 64);
    }
    if (!rc)
        rc = sgp32_buf_append_byte(pem, '\n');
    if (!rc)
        rc = sgp32_buf_append(pem, pem_end, strlen(pem_end));
    if (!rc)
        rc = sgp32_buf_append_byte(pem, '\n');
    free(b64);
    return rc;
}

int sgp32_app_append_pem_certificates(const char *path, sgp32_buf *pem, size_t *count)
{
    sgp32_buf raw, der;
    sgp32_buf_init(&der, SGP32_APP_FILE_MAX);
    int rc = sgp32_app_read_file(path, &raw);
    size_t pos = 0, found = 0;
    while (!rc) {
        sgp32_buf_reset(&der);
        rc = next_pem((const char *)raw.data, raw.len, &pos, &der);
        if (rc == SGP32_ERR_NOT_FOUND && !found && raw.len) { /* no PEM armour: one DER certificate */
            rc = sgp32_buf_append(&der, raw.data, raw.len);
            pos = raw.len;
        }
        if (rc)
            break;
        sgp32_certificate cert;
        rc = sgp32_cert_parse(der.data, der.len, &cert);
        if (!rc)
            rc = append_pem(der.data, der.len, pem);
        if (!rc)
            found++;
    }
    if (rc == SGP32_ERR_NOT_FOUND && found)
        rc = SGP32_OK;
    if (rc && rc != SGP32_ERR_IO)
        fprintf(stderr, "%s: %s: not a certificate file (%s)\n", program, path, sgp32_err_str(rc));
    *count += found;
    sgp32_buf_free(&der);
    sgp32_buf_free(&raw);
    return rc;
}

int sgp32_app_read_key(const char *path, sgp32_ec_private_key *key)
{
    sgp32_buf pem;
    int rc = sgp32_app_read_file(path, &pem);
    if (!rc)
        rc = sgp32_ec_private_from_pem((const char *)pem.data, pem.len, key);
    if (rc)
        fprintf(stderr, "%s: %s: not an EC private key (%s)\n", program, path, sgp32_err_str(rc));
    if (pem.data)
        sgp32_secure_zero(pem.data, pem.alloc);
    sgp32_buf_free(&pem);
    return rc;
}

char *sgp32_app_read_text(const char *path)
{
    sgp32_buf b;
    char *text = NULL;
    if (sgp32_app_read_file(path, &b) == SGP32_OK && sgp32_buf_append_byte(&b, 0) == SGP32_OK) {
        text = malloc(b.len);
        if (text)
            memcpy(text, b.data, b.len);
    }
    if (b.data)
        sgp32_secure_zero(b.data, b.alloc);
    sgp32_buf_free(&b);
    return text;
}

void sgp32_app_free_text(char *text)
{
    if (text) {
        sgp32_secure_zero(text, strlen(text));
        free(text);
    }
}

/* ------------------------------------------------------------------ libmicrohttpd */

void sgp32_app_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = '\0';
    sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_TRANSPORT, (const sgp32_log_context *)cls, "libmicrohttpd: %s",
              line);
}

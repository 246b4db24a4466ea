/*
 * smdpd profile data: the operator's per-profile Ki and OPc (format in smdpd_profile_data.h). The
 * parser is pure (text in, entries or `file:line: message` out) and fuzzed by fuzz/fuzz_config.c;
 * loading adds the file checks ssh makes of a private key: a regular file that neither group nor
 * others may read or write.
 *
 * Keys never leave this memory but for the profile_keys hook's copy (smdpd.c): messages name the
 * file, the line and the field, never a key's characters, and every buffer that held one is wiped
 * before it is freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sgp32/alloc.h"
#include "sgp32/crypto.h"
#include "sgp32/smdp_server.h"
#include "sgp32/text.h"
#include "smdpd_profile_data.h"

enum {
    ENTRIES_MAX = 1 << 24, /* in all files */
    QUOTE_MAX = 20,        /* a longer bad ICCID or IMSI is not quoted: it may be a key in the wrong column */
};

#define FIELDS "ICCID IMSI KI OPC"

void smdpd_profile_data_init(smdpd_profile_data *pd)
{
    memset(pd, 0, sizeof(*pd));
}

void smdpd_profile_data_free(smdpd_profile_data *pd)
{
    if (pd->entries) {
        sgp32_secure_zero(pd->entries, pd->capacity * sizeof(*pd->entries));
        sgp32_free(pd->entries, pd->capacity * sizeof(*pd->entries));
    }
    smdpd_profile_data_init(pd);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

/* 32 hex digits into 16 bytes; false (out untouched) otherwise. */
static bool key_from_hex(const char *s, size_t n, uint8_t out[SGP32_UPP_AKA_KEY_LEN])
{
    uint8_t key[SGP32_UPP_AKA_KEY_LEN];
    sgp32_buf b;
    sgp32_buf_init_fixed(&b, key, sizeof(key)); /* no heap copy of a key */
    bool ok =
        n == 2 * SGP32_UPP_AKA_KEY_LEN && sgp32_hex_decode(s, n, &b) == SGP32_OK && b.len == sizeof(key);
    if (ok)
        memcpy(out, key, sizeof(key));
    sgp32_secure_zero(key, sizeof(key));
    return ok;
}

/* A bad ICCID or IMSI for a message: 'text' (anything unprintable as '?') when it is short, else only how
 * long it is, since a long one may be a key in the wrong column. */
static void quote(const char *s, size_t n, char out[QUOTE_MAX + 32])
{
    if (n > QUOTE_MAX) {
        snprintf(out, QUOTE_MAX + 32, "(%zu characters)", n);
        return;
    }
    size_t k = 0;
    out[k++] = '\'';
    for (size_t i = 0; i < n; i++)
        out[k++] = s[i] >= 0x20 && s[i] < 0x7F ? s[i] : '?';
    out[k++] = '\'';
    out[k] = '\0';
}

/* Room for one more entry: a new array, the old one wiped and freed (no key left behind in a
 * block realloc would have given back). */
static int grow(smdpd_profile_data *pd)
{
    if (pd->count < pd->capacity)
        return 0;
    if (pd->capacity >= ENTRIES_MAX)
        return -1;
    size_t capacity = pd->capacity ? 2 * pd->capacity : 256;
    if (capacity > ENTRIES_MAX)
        capacity = ENTRIES_MAX;
    smdpd_profile_entry *entries = sgp32_alloc(capacity * sizeof(*entries));
    if (!entries)
        return -1;
    if (pd->entries) {
        memcpy(entries, pd->entries, pd->count * sizeof(*entries));
        sgp32_secure_zero(pd->entries, pd->capacity * sizeof(*entries));
        sgp32_free(pd->entries, pd->capacity * sizeof(*entries));
    }
    pd->entries = entries;
    pd->capacity = capacity;
    return 0;
}

typedef struct word {
    const char *at;
    size_t len;
} word;

/* One line (no '\n'): 0 (an entry appended, or nothing on a blank or comment line) or -1 and error. */
static int parse_line(smdpd_profile_data *pd, uint32_t file, const char *path, uint32_t line, const char *s,
                      size_t n, char *error, size_t error_size)
{
    const char *hash = memchr(s, '#', n);
    if (hash)
        n = (size_t)(hash - s);
    if (memchr(s, ',', n)) {
        snprintf(error, error_size, "%s:%u: fields are separated by spaces or tabs, not commas (" FIELDS ")",
                 path, line);
        return -1;
    }
    word w[5];
    size_t count = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r') {
            i++;
            continue;
        }
        size_t start = i;
        while (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            i++;
        if (count == 5)
            break;
        w[count++] = (word){s + start, i - start};
    }
    if (count == 0)
        return 0;
    if (count != 4) {
        if (count == 5)
            snprintf(error, error_size, "%s:%u: more than 4 fields, expected " FIELDS, path, line);
        else
            snprintf(error, error_size, "%s:%u: %zu field%s, expected 4: " FIELDS, path, line, count,
                     count == 1 ? "" : "s");
        return -1;
    }
    char q[QUOTE_MAX + 32];
    if (w[0].len < 18 || w[0].len > SGP32_SMDP_ICCID_MAX || !all_digits(w[0].at, w[0].len)) {
        quote(w[0].at, w[0].len, q);
        snprintf(error, error_size, "%s:%u: ICCID %s is not 18 to 20 digits", path, line, q);
        return -1;
    }
    if (w[1].len < 6 || w[1].len > SGP32_SMDP_IMSI_MAX || !all_digits(w[1].at, w[1].len)) {
        quote(w[1].at, w[1].len, q);
        snprintf(error, error_size, "%s:%u: IMSI %s is not 6 to 15 digits", path, line, q);
        return -1;
    }
    if (grow(pd)) {
        snprintf(error, error_size, "%s:%u: out of memory, or more than %d profiles in all files", path, line,
                 ENTRIES_MAX);
        return -1;
    }
    smdpd_profile_entry *e = &pd->entries[pd->count];
    memset(e, 0, sizeof(*e));
    static const char *const names[2] = {"KI", "OPC"};
    uint8_t *keys[2] = {e->ki, e->opc};
    for (int k = 0; k < 2; k++) {
        const word *f = &w[2 + k];
        if (!key_from_hex(f->at, f->len, keys[k])) {
            sgp32_secure_zero(e, sizeof(*e));
            /* never the characters: a near miss is still most of a key */
            snprintf(error, error_size, "%s:%u: %s is not 32 hex digits (%zu characters%s)", path, line,
                     names[k], f->len, f->len == 32 ? ", not all hex" : "");
            return -1;
        }
    }
    memcpy(e->iccid, w[0].at, w[0].len);
    if (w[0].len == 18)
        e->iccid[18] = sgp32_smdp_iccid_luhn(e->iccid, 18);
    memcpy(e->imsi, w[1].at, w[1].len);
    e->file = file;
    e->line = line;
    pd->count++;
    return 0;
}

int smdpd_profile_data_parse(smdpd_profile_data *pd, const char *type, const char *path, const char *text,
                             size_t len, char *error, size_t error_size)
{
    if (!pd || !type || !path || (!text && len) || !error || !error_size)
        return -1;
    if (pd->file_count == SMDPD_LIST_MAX) {
        snprintf(error, error_size, "%s: too many profile_data files (at most %d)", path, SMDPD_LIST_MAX);
        return -1;
    }
    if (!type[0] || strlen(type) > SGP32_SMDP_PROFILE_TYPE_MAX || strlen(path) >= SMDPD_PATH_LEN) {
        snprintf(error, error_size, "%.*s: bad profile type or path", SMDPD_PATH_LEN, path);
        return -1;
    }
    size_t first = pd->count;
    uint32_t file = (uint32_t)pd->file_count, line = 0;
    int rc = 0;
    for (size_t pos = 0; !rc && pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        if (line == UINT32_MAX) {
            snprintf(error, error_size, "%s: too many lines", path);
            rc = -1;
            break;
        }
        rc = parse_line(pd, file, path, ++line, text + pos, end - pos, error, error_size);
        pos = end + 1;
    }
    if (rc) {
        if (pd->count > first)
            sgp32_secure_zero(pd->entries + first, (pd->count - first) * sizeof(*pd->entries));
        pd->count = first;
        return -1;
    }
    smdpd_profile_file *f = &pd->files[pd->file_count++];
    snprintf(f->type, sizeof(f->type), "%s", type);
    snprintf(f->path, sizeof(f->path), "%s", path);
    f->count = pd->count - first;
    pd->indexed = false;
    return 0;
}

int smdpd_profile_data_load(smdpd_profile_data *pd, const char *type, const char *path, char *error,
                            size_t error_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(error, error_size, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    int rc = -1;
    char *text = NULL;
    size_t size = 0, got = 0, allocated = 0;
    if (fstat(fd, &st) != 0) {
        snprintf(error, error_size, "%s: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        snprintf(error, error_size, "%s: not a regular file", path);
    } else if (st.st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)) {
        /* the keys of every profile: as private as an ssh key */
        snprintf(error, error_size,
                 "%s: mode %04o lets group or others read or write the keys: chmod 600 %s (or 400)", path,
                 (unsigned)(st.st_mode & 07777), path);
    } else if (st.st_size > SMDPD_PROFILE_DATA_FILE_MAX) {
        snprintf(error, error_size, "%s: larger than %d MiB; split it into several profile_data files", path,
                 SMDPD_PROFILE_DATA_FILE_MAX >> 20);
    } else {
        size = (size_t)st.st_size;
        allocated = size ? size : 1;
        text = sgp32_alloc(allocated);
        if (!text)
            snprintf(error, error_size, "%s: out of memory", path);
        /* read(2), not stdio: no library buffer keeps a copy of the keys */
        while (text && got < size) {
            ssize_t n = read(fd, text + got, size - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                snprintf(error, error_size, "%s: %s", path, strerror(errno));
                break;
            }
            if (n == 0)
                size = got; /* shrunk while read */
            got += (size_t)n;
        }
        if (text && got == size)
            rc = smdpd_profile_data_parse(pd, type, path, text, size, error, error_size);
    }
    close(fd);
    if (text) {
        sgp32_secure_zero(text, allocated);
        sgp32_free(text, allocated);
    }
    return rc;
}

/* Orders of entries: by a field, then by place (file, line), so that of two entries that agree on
 * the field the earlier comes first. */
typedef int (*field_order)(const smdpd_profile_entry *x, const smdpd_profile_entry *y);

static int place_order(const smdpd_profile_entry *x, const smdpd_profile_entry *y)
{
    if (x->file != y->file)
        return x->file < y->file ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* By ICCID, then by place (file, line), so that of two entries with one ICCID the earlier comes first. */
static int compare(const smdpd_profile_entry *x, const smdpd_profile_entry *y)
{
    int c = strcmp(x->iccid, y->iccid);
    return c ? c : place_order(x, y);
}

static int imsi_order(const smdpd_profile_entry *x, const smdpd_profile_entry *y)
{
    int c = strcmp(x->imsi, y->imsi);
    return c ? c : place_order(x, y);
}

static int ki_order(const smdpd_profile_entry *x, const smdpd_profile_entry *y)
{
    int c = memcmp(x->ki, y->ki, sizeof(x->ki));
    return c ? c : place_order(x, y);
}

static void swap(smdpd_profile_entry *a, smdpd_profile_entry *b, smdpd_profile_entry *tmp)
{
    *tmp = *a;
    *a = *b;
    *b = *tmp;
}

/* Heapsort in place, not qsort: glibc's qsort copies the array into a scratch buffer it frees unwiped, and
 * that would leave every key behind. The one temporary entry is wiped here. */
static void sort_entries(smdpd_profile_entry *e, size_t n)
{
    smdpd_profile_entry tmp;
    for (size_t end = n, start = n / 2; end > 1;) {
        size_t root;
        if (start > 0) {
            root = --start; /* building the heap */
        } else {
            swap(&e[0], &e[--end], &tmp); /* the largest to its place */
            root = 0;
        }
        for (size_t child; (child = 2 * root + 1) < end; root = child) {
            if (child + 1 < end && compare(&e[child], &e[child + 1]) < 0)
                child++;
            if (compare(&e[root], &e[child]) >= 0)
                break;
            swap(&e[root], &e[child], &tmp);
        }
    }
    sgp32_secure_zero(&tmp, sizeof(tmp));
}

/* Heapsort of idx[] (positions in e) by order: the entries stay where they are, so no key is copied. */
static void sort_positions(const smdpd_profile_entry *e, size_t *idx, size_t n, field_order order)
{
    for (size_t end = n, start = n / 2; end > 1;) {
        size_t root, tmp;
        if (start > 0) {
            root = --start;
        } else {
            tmp = idx[0], idx[0] = idx[--end], idx[end] = tmp;
            root = 0;
        }
        for (size_t child; (child = 2 * root + 1) < end; root = child) {
            if (child + 1 < end && order(&e[idx[child]], &e[idx[child + 1]]) < 0)
                child++;
            if (order(&e[idx[root]], &e[idx[child]]) >= 0)
                break;
            tmp = idx[root], idx[root] = idx[child], idx[child] = tmp;
        }
    }
}

/* No two profiles with one IMSI, nor with one Ki: each is a subscription of its own in the HSS, and a
 * shared value is a mistake in the batch (the message names the lines, never the key). */
static int check_unique(const smdpd_profile_data *pd, char *error, size_t error_size)
{
    size_t *idx = pd->count > 1 ? sgp32_alloc(pd->count * sizeof(*idx)) : NULL;
    if (pd->count > 1 && !idx) {
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    int rc = 0;
    for (int field = 0; field < 2 && !rc && idx; field++) {
        for (size_t i = 0; i < pd->count; i++)
            idx[i] = i;
        sort_positions(pd->entries, idx, pd->count, field ? ki_order : imsi_order);
        for (size_t i = 1; i < pd->count && !rc; i++) {
            const smdpd_profile_entry *a = &pd->entries[idx[i - 1]], *b = &pd->entries[idx[i]];
            if (field == 0 && !strcmp(a->imsi, b->imsi)) {
                snprintf(error, error_size, "%s:%u: IMSI %s is already at %s:%u", pd->files[b->file].path,
                         b->line, b->imsi, pd->files[a->file].path, a->line);
                rc = -1;
            } else if (field == 1 && !memcmp(a->ki, b->ki, sizeof(a->ki))) {
                snprintf(error, error_size, "%s:%u: KI is already at %s:%u (every profile needs its own)",
                         pd->files[b->file].path, b->line, pd->files[a->file].path, a->line);
                rc = -1;
            }
        }
    }
    if (idx) /* positions, not keys; zeroed anyway, like every block this file frees */
        sgp32_secure_zero(idx, pd->count * sizeof(*idx));
    sgp32_free(idx, pd->count * sizeof(*idx));
    return rc;
}

int smdpd_profile_data_index(smdpd_profile_data *pd, char *error, size_t error_size)
{
    if (pd->count)
        sort_entries(pd->entries, pd->count);
    for (size_t i = 1; i < pd->count; i++) {
        const smdpd_profile_entry *a = &pd->entries[i - 1], *b = &pd->entries[i];
        if (!strcmp(a->iccid, b->iccid)) {
            snprintf(error, error_size, "%s:%u: ICCID %s is already at %s:%u", pd->files[b->file].path,
                     b->line, b->iccid, pd->files[a->file].path, a->line);
            return -1;
        }
    }
    if (check_unique(pd, error, error_size))
        return -1;
    pd->indexed = true;
    return 0;
}

bool smdpd_profile_data_has_type(const smdpd_profile_data *pd, const char *type)
{
    for (size_t i = 0; i < pd->file_count; i++)
        if (!strcmp(pd->files[i].type, type))
            return true;
    return false;
}

const smdpd_profile_entry *smdpd_profile_data_find(const smdpd_profile_data *pd, const char *iccid)
{
    if (!pd->indexed || !iccid)
        return NULL;
    size_t lo = 0, hi = pd->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(pd->entries[mid].iccid, iccid);
        if (!c)
            return &pd->entries[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/*
 * smdpd profile data (smdpd_profile_data.c): the operator's per-profile AKA keys, from the text
 * files of the `profile_data = TYPE PATH` config lines. One profile per line:
 *
 *     ICCID IMSI KI OPC
 *
 * fields separated by spaces or tabs (a comma is refused with a message saying so); ICCID 18 to 20
 * digits (an 18-digit one gets its Luhn check digit, as inventory lines do), IMSI 6 to 15 digits,
 * KI and OPC 32 hex digits each; `#` starts a comment, blank lines are fine, CRLF too. Every error is
 * `file:line: what is wrong`, and never quotes a key.
 *
 * The keys live in memory only: smdpd_profile_data_free wipes them, and so does every path that
 * drops a copy (a refused file, a grown array, the file's text once parsed).
 */
#ifndef SMDPD_PROFILE_DATA_H
#define SMDPD_PROFILE_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smdpd_config.h"

enum {
    SMDPD_PROFILE_DATA_FILE_MAX = 128 << 20, /* bytes of one file (over a million profiles) */
    SMDPD_PROFILE_DATA_ERROR_LEN = 256,
};

typedef struct smdpd_profile_entry {
    char iccid[SGP32_SMDP_ICCID_MAX + 1]; /* 19 or 20 digits (Luhn added to 18) */
    char imsi[SGP32_SMDP_IMSI_MAX + 1];
    uint8_t ki[SGP32_UPP_AKA_KEY_LEN];
    uint8_t opc[SGP32_UPP_AKA_KEY_LEN];
    uint32_t file; /* index into smdpd_profile_data.files */
    uint32_t line;
} smdpd_profile_entry;

typedef struct smdpd_profile_file {
    char type[SGP32_SMDP_PROFILE_TYPE_MAX + 1];
    char path[SMDPD_PATH_LEN];
    size_t count; /* profiles it holds */
} smdpd_profile_file;

typedef struct smdpd_profile_data {
    smdpd_profile_entry *entries; /* after smdpd_profile_data_index: sorted by ICCID */
    size_t count, capacity;
    smdpd_profile_file files[SMDPD_LIST_MAX];
    size_t file_count;
    bool indexed;
} smdpd_profile_data;

void smdpd_profile_data_init(smdpd_profile_data *pd);
/* Wipe every key and free. */
void smdpd_profile_data_free(smdpd_profile_data *pd);

/* Parse the text of one file (len bytes, no NUL needed; no I/O) named path, whose profiles are of type, and
 * append its entries. 0, or -1 with error set ("path:line: what is wrong") and nothing appended. */
int smdpd_profile_data_parse(smdpd_profile_data *pd, const char *type, const char *path, const char *text,
                             size_t len, char *error, size_t error_size);
/* Read and parse a file: refused unless a regular file that neither group nor others may read or write
 * (the message says which mode to set), at most SMDPD_PROFILE_DATA_FILE_MAX bytes. */
int smdpd_profile_data_load(smdpd_profile_data *pd, const char *type, const char *path, char *error,
                            size_t error_size);
/* After the last file: sort by ICCID for the lookups; two entries with one ICCID, one IMSI or one Ki (in one
 * file or two) are refused, naming both places (never the key). */
int smdpd_profile_data_index(smdpd_profile_data *pd, char *error, size_t error_size);

/* Whether a file gave profiles of this type (then each of them needs its keys). */
bool smdpd_profile_data_has_type(const smdpd_profile_data *pd, const char *type);
/* The entry of an ICCID (digits as stored on the order), or NULL. Only after _index. */
const smdpd_profile_entry *smdpd_profile_data_find(const smdpd_profile_data *pd, const char *iccid);

#endif

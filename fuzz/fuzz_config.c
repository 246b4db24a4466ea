/*
 * fuzz_config: the daemons' config format (apps/common: sgp32_app_config_line, `key = value`,
 * comments, blank lines) with the keys of both daemons behind it: eimd's (apps/eimd/eimd_config.c:
 * numbers and their ranges, api_token NAME ROLE SECRET, repeatable lists) and smdpd's
 * (apps/smdpd/smdpd_config.c: credentials A B C D, template TYPE PATH, inventory TYPE FIRST_ICCID
 * COUNT [FIRST_IMSI], profile_data TYPE PATH, numbers, repeatable lists). A config file is local
 * input, but operators edit it by hand and --set takes it from the command line: a bad line must
 * give a clear message and -1, never a crash, an overflow or a half-written field.
 *
 * The whole input is also the text of one smdpd profile_data file (apps/smdpd/smdpd_profile_data.c:
 * `ICCID IMSI KI OPC` lines, the operator's per-profile keys; its seeds are profile_data_*), parsed
 * and indexed as smdpd does. It is refused with a `fuzz.txt:LINE: message` that never holds a key
 * (no run of more than 20 hex digits), and nothing kept; or accepted with every entry well formed
 * (ICCID 19..20 digits, IMSI 6..15, a line of the file), and the index refuses a duplicate ICCID with
 * both places or sorts them so that each is found again.
 *
 * The input is split at newlines; each line goes through eimd_config_line on one eimd config and
 * through smdpd_config_line on one smdpd config, as the daemons' config loading does (the keys both
 * know, such as port or log_level, reach both). Properties, for each config after every line:
 * every call returns 0 or -1; every text field stays NUL-terminated within its array; counts of
 * repeatable keys stay within their arrays; numbers stay within the ranges --help documents (or
 * keep their defaults).
 */
#include <stdlib.h>
#include <string.h>

#include "eimd.h"
#include "fuzz_common.h"
#include "sgp32/log.h"
#include "smdpd_config.h"
#include "smdpd_profile_data.h"

#define IN_RANGE(v, lo, hi) ((v) >= (lo) && (v) <= (hi))

static const uint8_t *input;
static size_t input_size;

static void check(bool ok, const char *what, const char *field)
{
    if (!ok)
        sgp32_fuzz_fail(what, field, input, input_size);
}

static void check_text(const char *field, size_t size, const char *name)
{
    check(memchr(field, '\0', size) != NULL, "a text field lost its NUL", name);
}

#define TEXT(field) check_text(field, sizeof(field), #field)

static void check_eimd(const eimd_config *c)
{
    TEXT(c->listen);
    TEXT(c->eim_id);
    TEXT(c->eim_fqdn);
    TEXT(c->tls_certificate);
    TEXT(c->tls_key);
    TEXT(c->tls_trust_certificate);
    TEXT(c->signing_key);
    TEXT(c->signing_certificate);
    TEXT(c->database);
    TEXT(c->default_smdp_address);
    TEXT(c->push_client_certificate);
    TEXT(c->push_client_key);
    TEXT(c->log_level);
    for (size_t i = 0; i < EIMD_LIST_MAX; i++) {
        TEXT(c->ci[i]);
        TEXT(c->smdp_ca[i]);
        TEXT(c->push_ca[i]);
    }
    check(c->ci_count <= EIMD_LIST_MAX && c->smdp_ca_count <= EIMD_LIST_MAX &&
              c->push_ca_count <= EIMD_LIST_MAX && c->token_count <= EIMD_TOKENS_MAX,
          "a list count past its array", "eimd_config");
    for (size_t i = 0; i < c->token_count; i++) {
        TEXT(c->tokens[i].name);
        TEXT(c->tokens[i].secret);
    }
    check(IN_RANGE(c->port, 0, 65535), "a number out of range", "eimd port");
    check(IN_RANGE(c->operation_ttl, 60, 10L * 365 * 86400), "a number out of range", "eimd operation_ttl");
    check(IN_RANGE(c->relay_ttl, 10, 7 * 86400), "a number out of range", "eimd relay_ttl");
    check(IN_RANGE(c->forward_interval, 1, 3600), "a number out of range", "eimd forward_interval");
    check(IN_RANGE(c->push_interval, 0, 86400), "a number out of range", "eimd push_interval");
    check(IN_RANGE(c->push_timeout, 1, 600), "a number out of range", "eimd push_timeout");
    check(IN_RANGE(c->push_redeliver, 1, 7 * 86400), "a number out of range", "eimd push_redeliver");
    check(IN_RANGE(c->push_batch, 1, 100000), "a number out of range", "eimd push_batch");
    check(IN_RANGE(c->push_parallel, 1, 256), "a number out of range", "eimd push_parallel");
    check(IN_RANGE(c->threads, 1, 256), "a number out of range", "eimd threads");
    check(IN_RANGE(c->max_body, (size_t)1024, (size_t)64 << 20), "a number out of range", "eimd max_body");
    check(sgp32_log_level_parse(c->log_level) >= 0, "an unknown log level kept", "eimd log_level");
}

/* threads: 1..256 when set; the default (the number of CPUs) is not capped. */
static void check_smdpd(const smdpd_config *c, int default_threads)
{
    TEXT(c->listen);
    TEXT(c->address);
    TEXT(c->tls_certificate);
    TEXT(c->tls_key);
    TEXT(c->database);
    TEXT(c->service_provider_name);
    TEXT(c->es2_token);
    TEXT(c->es2_client_ca);
    TEXT(c->es2_callback_url);
    TEXT(c->es2_callback_ca);
    TEXT(c->es2_callback_token);
    TEXT(c->es2_requester);
    TEXT(c->log_level);
    for (size_t i = 0; i < SMDPD_LIST_MAX; i++) {
        TEXT(c->aliases[i]);
        TEXT(c->ci[i]);
        TEXT(c->templates[i].type);
        TEXT(c->templates[i].path);
        TEXT(c->inventory[i].type);
        TEXT(c->inventory[i].first);
        TEXT(c->inventory[i].first_imsi);
        TEXT(c->profile_data[i].type);
        TEXT(c->profile_data[i].path);
    }
    for (size_t i = 0; i < SGP32_SMDP_CREDENTIALS_MAX; i++) {
        TEXT(c->credentials[i].dpauth_certificate);
        TEXT(c->credentials[i].dpauth_key);
        TEXT(c->credentials[i].dppb_certificate);
        TEXT(c->credentials[i].dppb_key);
    }
    check(c->alias_count <= SMDPD_LIST_MAX && c->ci_count <= SMDPD_LIST_MAX &&
              c->credential_count <= SGP32_SMDP_CREDENTIALS_MAX && c->template_count <= SMDPD_LIST_MAX &&
              c->inventory_count <= SMDPD_LIST_MAX && c->profile_data_count <= SMDPD_LIST_MAX,
          "a list count past its array", "smdpd_config");
    for (size_t i = 0; i < c->profile_data_count; i++)
        check(c->profile_data[i].type[0] && c->profile_data[i].path[0],
              "an accepted entry with an empty field", "smdpd profile_data");
    for (size_t i = 0; i < c->credential_count; i++)
        check(c->credentials[i].dpauth_certificate[0] && c->credentials[i].dpauth_key[0] &&
                  c->credentials[i].dppb_certificate[0] && c->credentials[i].dppb_key[0],
              "an accepted entry with an empty field", "smdpd credentials");
    for (size_t i = 0; i < c->template_count; i++)
        check(c->templates[i].type[0] && c->templates[i].path[0], "an accepted entry with an empty field",
              "smdpd template");
    for (size_t i = 0; i < c->inventory_count; i++) {
        check(c->inventory[i].type[0] && c->inventory[i].first[0], "an accepted entry with an empty field",
              "smdpd inventory");
        check(c->inventory[i].count <= SMDPD_INVENTORY_COUNT_MAX, "a number out of range", "smdpd inventory");
    }
    check(IN_RANGE(c->port, 0, 65535), "a number out of range", "smdpd port");
    check(IN_RANGE(c->profile_class, 0, 2), "a number out of range", "smdpd profile_class");
    check(IN_RANGE(c->es2_callback_attempts, 1, 100), "a number out of range", "smdpd es2_callback_attempts");
    /* 0 until set: lib/smdp's defaults */
    check(c->cc_max_failures == 0 || IN_RANGE(c->cc_max_failures, 1, 100), "a number out of range",
          "smdpd cc_max_failures");
    check(c->max_download_attempts == 0 || IN_RANGE(c->max_download_attempts, 1, 1000),
          "a number out of range", "smdpd max_download_attempts");
    check(c->session_ttl == 0 || IN_RANGE(c->session_ttl, 10, 7 * 86400), "a number out of range",
          "smdpd session_ttl");
    check(c->threads == default_threads || IN_RANGE(c->threads, 1, 256), "a number out of range",
          "smdpd threads");
    check(IN_RANGE(c->max_body, (size_t)1024, (size_t)64 << 20), "a number out of range", "smdpd max_body");
    check(sgp32_log_level_parse(c->log_level) >= 0, "an unknown log level kept", "smdpd log_level");
}

static bool digits(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* A message: "fuzz.txt:" first, NUL-terminated, no run of more than 20 hex digits (a key is 32). */
static void check_message(const char *error, size_t size)
{
    check(memchr(error, '\0', size) != NULL, "a message lost its NUL", "profile_data");
    check(!strncmp(error, "fuzz.txt:", 9), "a message without the file name", "profile_data");
    size_t run = 0;
    for (const char *p = error; *p; p++) {
        bool hex = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F');
        run = hex ? run + 1 : 0;
        check(run <= 20, "a message that may quote a key", "profile_data");
    }
}

/* The input as one profile_data file: 1 when it gave profiles. */
static int fuzz_profile_data(const uint8_t *data, size_t size)
{
    smdpd_profile_data pd;
    smdpd_profile_data_init(&pd);
    char error[SMDPD_PROFILE_DATA_ERROR_LEN];
    memset(error, 'x', sizeof(error));
    int rc =
        smdpd_profile_data_parse(&pd, "fuzz", "fuzz.txt", (const char *)data, size, error, sizeof(error));
    check(rc == 0 || rc == -1, "parse returned neither 0 nor -1", "profile_data");
    if (rc) {
        check_message(error, sizeof(error));
        check(pd.count == 0 && pd.file_count == 0, "a refused file left entries", "profile_data");
        smdpd_profile_data_free(&pd);
        return 0;
    }
    check(pd.file_count == 1 && pd.files[0].count == pd.count, "file count", "profile_data");
    for (size_t i = 0; i < pd.count; i++) {
        const smdpd_profile_entry *e = &pd.entries[i];
        check(digits(e->iccid, 19, 20), "an entry's ICCID", "profile_data");
        check(digits(e->imsi, 6, 15), "an entry's IMSI", "profile_data");
        check(e->file == 0 && e->line >= 1 && (i == 0 || e->line > pd.entries[i - 1].line), "an entry's line",
              "profile_data");
    }
    memset(error, 'x', sizeof(error));
    rc = smdpd_profile_data_index(&pd, error, sizeof(error));
    check(rc == 0 || rc == -1, "index returned neither 0 nor -1", "profile_data");
    if (rc) {
        check_message(error, sizeof(error));
        check(strstr(error, " is already at fuzz.txt:") != NULL, "a duplicate without both places",
              "profile_data");
    } else {
        for (size_t i = 0; i < pd.count; i++) {
            check(i == 0 || strcmp(pd.entries[i - 1].iccid, pd.entries[i].iccid) < 0, "index not sorted",
                  "profile_data");
            check(smdpd_profile_data_find(&pd, pd.entries[i].iccid) == &pd.entries[i], "an entry not found",
                  "profile_data");
        }
    }
    int gave = rc == 0 && pd.count > 0;
    smdpd_profile_data_free(&pd);
    return gave;
}

int sgp32_fuzz_config(const uint8_t *data, size_t size)
{
    static eimd_config eimd; /* large: not on the stack */
    static smdpd_config smdpd;
    input = data;
    input_size = size;
    eimd_config_defaults(&eimd);
    smdpd_config_defaults(&smdpd);
    int smdpd_threads = smdpd.threads;
    char line[4096];
    size_t start = 0;
    int accepted = 0;
    while (start < size) {
        size_t end = start;
        while (end < size && data[end] != '\n')
            end++;
        size_t n = end - start < sizeof(line) - 1 ? end - start : sizeof(line) - 1;
        /* sgp32_app_config_line cuts the line in place: a fresh copy for each daemon */
        memcpy(line, data + start, n);
        line[n] = '\0';
        int rc = eimd_config_line(&eimd, line, "fuzz");
        check(rc == 0 || rc == -1, "a config line returned neither 0 nor -1", "eimd_config");
        accepted += rc == 0;
        memcpy(line, data + start, n);
        line[n] = '\0';
        rc = smdpd_config_line(&smdpd, line, "fuzz");
        check(rc == 0 || rc == -1, "a config line returned neither 0 nor -1", "smdpd_config");
        accepted += rc == 0;
        check_eimd(&eimd); /* after every line: a later line may hide what an earlier one broke */
        check_smdpd(&smdpd, smdpd_threads);
        start = end + 1;
    }
    eimd_config_wipe_secrets(&eimd);
    accepted += fuzz_profile_data(data, size);
    return accepted ? SGP32_OK : SGP32_ERR_BAD_TEXT;
}

SGP32_FUZZ_ENTRY(sgp32_fuzz_config);

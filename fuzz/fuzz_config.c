/*
 * fuzz_config: the daemons' config format (apps/common: sgp32_app_config_line, `key = value`,
 * comments, blank lines) with eimd's keys behind it (apps/eimd/eimd_config.c: every key, numbers
 * and their ranges, api_token NAME ROLE SECRET, repeatable lists). A config file is local input,
 * but operators edit it by hand and --set takes it from the command line: a bad line must give a
 * clear message and -1, never a crash, an overflow or a half-written field.
 *
 * The input is split at newlines; each line goes through eimd_config_line on one config, as
 * eimd_config_load does. Properties: every call returns 0 or -1; every text field of the config
 * stays NUL-terminated within its array; counts of repeatable keys stay within their arrays.
 */
#include <stdlib.h>
#include <string.h>

#include "eimd.h"
#include "fuzz_common.h"

static bool terminated(const char *field, size_t size)
{
    return memchr(field, '\0', size) != NULL;
}

int sgp32_fuzz_config(const uint8_t *data, size_t size)
{
    static eimd_config conf; /* large: not on the stack */
    eimd_config_defaults(&conf);
    char line[4096];
    size_t start = 0;
    int accepted = 0;
    while (start < size) {
        size_t end = start;
        while (end < size && data[end] != '\n')
            end++;
        size_t n = end - start < sizeof(line) - 1 ? end - start : sizeof(line) - 1;
        memcpy(line, data + start, n);
        line[n] = '\0';
        int rc = eimd_config_line(&conf, line, "fuzz");
        if (rc != 0 && rc != -1)
            sgp32_fuzz_fail("a config line returned neither 0 nor -1", "config", data, size);
        accepted += rc == 0;
        start = end + 1;
    }
    if (!terminated(conf.listen, sizeof(conf.listen)) || !terminated(conf.eim_id, sizeof(conf.eim_id)) ||
        !terminated(conf.eim_fqdn, sizeof(conf.eim_fqdn)) ||
        !terminated(conf.tls_certificate, sizeof(conf.tls_certificate)) ||
        !terminated(conf.database, sizeof(conf.database)) ||
        !terminated(conf.default_smdp_address, sizeof(conf.default_smdp_address)) ||
        !terminated(conf.log_level, sizeof(conf.log_level)))
        sgp32_fuzz_fail("a text field lost its NUL", "config", data, size);
    if (conf.ci_count > EIMD_LIST_MAX || conf.smdp_ca_count > EIMD_LIST_MAX ||
        conf.push_ca_count > EIMD_LIST_MAX || conf.token_count > EIMD_TOKENS_MAX)
        sgp32_fuzz_fail("a list count past its array", "config", data, size);
    for (size_t i = 0; i < conf.token_count; i++)
        if (!terminated(conf.tokens[i].name, sizeof(conf.tokens[i].name)) ||
            !terminated(conf.tokens[i].secret, sizeof(conf.tokens[i].secret)))
            sgp32_fuzz_fail("a token field lost its NUL", "config", data, size);
    eimd_config_wipe_secrets(&conf);
    return accepted ? SGP32_OK : SGP32_ERR_BAD_TEXT;
}

SGP32_FUZZ_ENTRY(sgp32_fuzz_config);

/*
 * Every committed fuzz seed (every file of fuzz/corpus/<target>/) through its target's code and the codec
 * oracle of fuzz/fuzz_common.c, in the normal and the ASan builds too, not only under libFuzzer.
 * A violated property aborts with the seed's bytes on stderr. Each target directory must exist,
 * hold seeds, and (for all but the hostile-only cases) have some seeds its decoders accept.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "fuzz_common.h"

#define CORPUS_DIR SGP32_SOURCE_DIR "/fuzz/corpus"

static const struct {
    const char *name;
    int (*run)(const uint8_t *data, size_t size);
} targets[] = {
    {"fuzz_ber_reader", sgp32_fuzz_ber_reader},
    {"fuzz_esipa_ipa_to_eim", sgp32_fuzz_esipa_ipa_to_eim},
    {"fuzz_esipa_eim_to_ipa", sgp32_fuzz_esipa_eim_to_ipa},
    {"fuzz_es9plus_asn1", sgp32_fuzz_es9plus_asn1},
    {"fuzz_es10", sgp32_fuzz_es10},
    {"fuzz_bpp", sgp32_fuzz_bpp},
    {"fuzz_any_type", sgp32_fuzz_any_type},
    {"fuzz_text", sgp32_fuzz_text},
    {"fuzz_certificate", sgp32_fuzz_certificate},
    {"fuzz_apdu", sgp32_fuzz_apdu},
    {"fuzz_esipa_json", sgp32_fuzz_esipa_json},
    {"fuzz_es9_json", sgp32_fuzz_es9_json},
    {"fuzz_es2_json", sgp32_fuzz_es2_json},
    {"fuzz_ipa_esipa", sgp32_fuzz_ipa_esipa},
    {"fuzz_ipa_apdu", sgp32_fuzz_ipa_apdu},
    {"fuzz_eim_operation", sgp32_fuzz_eim_operation},
    {"fuzz_eim_rest", sgp32_fuzz_eim_rest},
    {"fuzz_eim_esipa", sgp32_fuzz_eim_esipa},
    {"fuzz_config", sgp32_fuzz_config},
};

static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0 && n <= (1 << 20));
    rewind(f);
    uint8_t *data = malloc((size_t)n + 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return data;
}

static void every_seed_passes_its_target(void **state)
{
    (void)state;
    size_t total = 0;
    for (size_t t = 0; t < SGP32_ARRAY_LEN(targets); t++) {
        char dir[1024];
        snprintf(dir, sizeof(dir), "%s/%s", CORPUS_DIR, targets[t].name);
        DIR *d = opendir(dir);
        if (!d)
            fail_msg("no seed corpus %s", dir);
        size_t seeds = 0, accepted = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            char path[2048];
            struct stat st;
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            if (e->d_name[0] == '.' || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
                continue;
            size_t size;
            uint8_t *data = read_file(path, &size);
            sgp32_fuzz_label = path; /* the oracle names it when it aborts */
            if (targets[t].run(data, size) == SGP32_OK)
                accepted++;
            sgp32_fuzz_label = NULL;
            free(data);
            seeds++;
        }
        closedir(d);
        print_message("%-24s %5zu seeds, %5zu accepted\n", targets[t].name, seeds, accepted);
        if (seeds == 0 || accepted == 0)
            fail_msg("%s: %zu seeds, %zu accepted", targets[t].name, seeds, accepted);
        total += seeds;
    }
    assert_true(total > 500);
}

/* A corpus directory without a replay entry here would go unchecked. */
static void every_corpus_has_a_target(void **state)
{
    (void)state;
    DIR *d = opendir(CORPUS_DIR);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        bool known = false;
        for (size_t t = 0; t < SGP32_ARRAY_LEN(targets); t++)
            known = known || strcmp(e->d_name, targets[t].name) == 0;
        if (!known)
            fail_msg("fuzz/corpus/%s has no entry in tests/unit/test_fuzz_seeds.c", e->d_name);
    }
    closedir(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_seed_passes_its_target),
        cmocka_unit_test(every_corpus_has_a_target),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

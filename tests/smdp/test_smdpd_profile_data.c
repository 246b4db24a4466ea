/*
 * smdpd's profile data files (apps/smdpd/smdpd_profile_data.c): the operator's per-profile Ki and
 * OPc, one `ICCID IMSI KI OPC` line each. A good file with comments, blank lines, tabs and CRLF; each
 * kind of bad line with its exact `file:line: message` (never quoting a key) and nothing kept of the
 * refused file; duplicate ICCIDs in one file and across two; a shared IMSI or Ki; the file modes refused
 * (group or others may read or write) and accepted (600, 400); every block the module frees was wiped first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sgp32/alloc.h"
#include "smdpd_profile_data.h"

#define KI_1  "465B5CE8B199B49FAA5F0A2EE238A6BC"
#define OPC_1 "cd63cb71954a9f4e48a5994e37a02baf"
#define KI_2  "0123456789ABCDEF0123456789ABCDEF"

static const uint8_t ki_1[16] = {0x46, 0x5B, 0x5C, 0xE8, 0xB1, 0x99, 0xB4, 0x9F,
                                 0xAA, 0x5F, 0x0A, 0x2E, 0xE2, 0x38, 0xA6, 0xBC};
static const uint8_t opc_1[16] = {0xCD, 0x63, 0xCB, 0x71, 0x95, 0x4A, 0x9F, 0x4E,
                                  0x48, 0xA5, 0x99, 0x4E, 0x37, 0xA0, 0x2B, 0xAF};

/* ------------------------------------------------------------------ allocation hooks: freed blocks are zero
 */

static size_t frees, dirty_frees;

static void *hook_alloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size);
}

static void *hook_realloc(void *ctx, void *p, size_t old_size, size_t new_size)
{
    (void)ctx;
    (void)old_size;
    return realloc(p, new_size);
}

static void hook_free(void *ctx, void *p, size_t size)
{
    (void)ctx;
    if (!p)
        return;
    frees++;
    const uint8_t *b = p;
    for (size_t i = 0; i < size; i++)
        if (b[i]) {
            dirty_frees++;
            break;
        }
    free(p);
}

static const sgp32_alloc_hooks wiping_check = {hook_alloc, hook_realloc, hook_free, NULL};

static int setup(void **state)
{
    (void)state;
    frees = dirty_frees = 0;
    sgp32_alloc_set_hooks(&wiping_check);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sgp32_alloc_set_hooks(NULL);
    assert_int_equal(dirty_frees, 0); /* no key left in freed memory */
    return 0;
}

static int parse(smdpd_profile_data *pd, const char *type, const char *path, const char *text, char *error)
{
    return smdpd_profile_data_parse(pd, type, path, text, strlen(text), error, SMDPD_PROFILE_DATA_ERROR_LEN);
}

/* ------------------------------------------------------------------ tests */

static void good_file(void **state)
{
    (void)state;
    static const char text[] =
        "# operator batch 42: ICCID IMSI KI OPC\n"
        "\n"
        "8949449999300000017 234150999900001 " KI_1 " " OPC_1 "\n"
        "   # an indented comment\n"
        "894944999930000000\t234150999900000\t" OPC_1 "\t" KI_1 "   # trailing comment\r\n"
        "89494499993000000251 001010000000002 00000000000000000000000000000000 "
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF\r\n"
        "\t \r\n"
        "894944999930000003 001011 " KI_2 " " OPC_1; /* no final newline */
    smdpd_profile_data pd;
    smdpd_profile_data_init(&pd);
    char error[SMDPD_PROFILE_DATA_ERROR_LEN] = "";
    assert_int_equal(parse(&pd, "keyed", "batch42.txt", text, error), 0);
    assert_string_equal(error, "");
    assert_int_equal(pd.count, 4);
    assert_int_equal(pd.file_count, 1);
    assert_string_equal(pd.files[0].type, "keyed");
    assert_string_equal(pd.files[0].path, "batch42.txt");
    assert_int_equal(pd.files[0].count, 4);
    /* in file order before the index */
    assert_string_equal(pd.entries[0].iccid, "8949449999300000017");
    assert_string_equal(pd.entries[0].imsi, "234150999900001");
    assert_memory_equal(pd.entries[0].ki, ki_1, 16);
    assert_memory_equal(pd.entries[0].opc, opc_1, 16);
    assert_int_equal(pd.entries[0].line, 3);
    assert_string_equal(pd.entries[1].iccid, "8949449999300000009"); /* 18 digits: Luhn digit added */
    assert_memory_equal(pd.entries[1].ki, opc_1, 16);
    assert_memory_equal(pd.entries[1].opc, ki_1, 16);
    assert_int_equal(pd.entries[1].line, 5);
    assert_string_equal(pd.entries[2].iccid, "89494499993000000251"); /* 20 digits as given */
    for (int i = 0; i < 16; i++) {
        assert_int_equal(pd.entries[2].ki[i], 0x00);
        assert_int_equal(pd.entries[2].opc[i], 0xFF);
    }
    assert_string_equal(pd.entries[3].iccid, "8949449999300000033");
    assert_string_equal(pd.entries[3].imsi, "001011");
    assert_int_equal(pd.entries[3].line, 8);

    assert_null(smdpd_profile_data_find(&pd, "8949449999300000017")); /* not indexed yet */
    assert_int_equal(smdpd_profile_data_index(&pd, error, sizeof(error)), 0);
    const smdpd_profile_entry *e = smdpd_profile_data_find(&pd, "8949449999300000017");
    assert_non_null(e);
    assert_memory_equal(e->ki, ki_1, 16);
    assert_int_equal(e->line, 3);
    assert_non_null(smdpd_profile_data_find(&pd, "8949449999300000009"));
    assert_non_null(smdpd_profile_data_find(&pd, "89494499993000000251"));
    assert_null(smdpd_profile_data_find(&pd, "894944999930000000")); /* stored with its Luhn digit */
    assert_null(smdpd_profile_data_find(&pd, "8949449999300000041"));
    assert_true(smdpd_profile_data_has_type(&pd, "keyed"));
    assert_false(smdpd_profile_data_has_type(&pd, "ts48"));

    /* an empty file (only comments) still marks its type as one that needs keys */
    assert_int_equal(parse(&pd, "empty", "empty.txt", "# nothing yet\n\n", error), 0);
    assert_int_equal(pd.files[1].count, 0);
    assert_true(smdpd_profile_data_has_type(&pd, "empty"));
    assert_int_equal(smdpd_profile_data_index(&pd, error, sizeof(error)), 0);
    smdpd_profile_data_free(&pd);
    assert_null(pd.entries);
    assert_int_equal(pd.count, 0);
    assert_true(frees > 0);
}

/* Each kind of bad line: the exact message, at its line; nothing of the file is kept. */
static void bad_lines(void **state)
{
    (void)state;
    static const struct {
        const char *line, *message;
    } cases[] = {
        {"8949449999300000017,234150999900001," KI_1 "," OPC_1,
         "keys.txt:3: fields are separated by spaces or tabs, not commas (ICCID IMSI KI OPC)"},
        {"8949449999300000017, 234150999900001 " KI_1 " " OPC_1,
         "keys.txt:3: fields are separated by spaces or tabs, not commas (ICCID IMSI KI OPC)"},
        {"8949449999300000017 234150999900001 " KI_1, "keys.txt:3: 3 fields, expected 4: ICCID IMSI KI OPC"},
        {"8949449999300000017", "keys.txt:3: 1 field, expected 4: ICCID IMSI KI OPC"},
        {"8949449999300000017 234150999900001 " KI_1 " " OPC_1 " extra",
         "keys.txt:3: more than 4 fields, expected ICCID IMSI KI OPC"},
        {"89494499993 234150999900001 " KI_1 " " OPC_1,
         "keys.txt:3: ICCID '89494499993' is not 18 to 20 digits"},
        {"89494499993000000X7 234150999900001 " KI_1 " " OPC_1,
         "keys.txt:3: ICCID '89494499993000000X7' is not 18 to 20 digits"},
        {"894944999930000001700 234150999900001 " KI_1 " " OPC_1,
         "keys.txt:3: ICCID (21 characters) is not 18 to 20 digits"},
        /* a key in the ICCID column is not quoted */
        {KI_1 " 234150999900001 " KI_1 " " OPC_1, "keys.txt:3: ICCID (32 characters) is not 18 to 20 digits"},
        {"8949449999300000017 23415 " KI_1 " " OPC_1, "keys.txt:3: IMSI '23415' is not 6 to 15 digits"},
        {"8949449999300000017 2341509999000011 " KI_1 " " OPC_1,
         "keys.txt:3: IMSI '2341509999000011' is not 6 to 15 digits"},
        {"8949449999300000017 23415099990000a " KI_1 " " OPC_1,
         "keys.txt:3: IMSI '23415099990000a' is not 6 to 15 digits"},
        {"8949449999300000017 " OPC_1 " " KI_1 " " OPC_1,
         "keys.txt:3: IMSI (32 characters) is not 6 to 15 digits"},
        {"8949449999300000017 234150999900001 465B5CE8B199B49FAA5F0A2EE238A6B " OPC_1,
         "keys.txt:3: KI is not 32 hex digits (31 characters)"},
        {"8949449999300000017 234150999900001 465B5CE8B199B49FAA5F0A2EE238A6BG " OPC_1,
         "keys.txt:3: KI is not 32 hex digits (32 characters, not all hex)"},
        {"8949449999300000017 234150999900001 0x465B5CE8B199B49FAA5F0A2EE238A6 " OPC_1,
         "keys.txt:3: KI is not 32 hex digits (32 characters, not all hex)"},
        {"8949449999300000017 234150999900001 " KI_1 " cd63cb71954a9f4e48a5994e37a02bafa",
         "keys.txt:3: OPC is not 32 hex digits (33 characters)"},
        {"8949449999300000017 234150999900001 " KI_1 " " KI_1 KI_1,
         "keys.txt:3: OPC is not 32 hex digits (64 characters)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[512], error[SMDPD_PROFILE_DATA_ERROR_LEN] = "";
        snprintf(text, sizeof(text), "# batch\n8949449999300000025 234150999900002 %s %s\n%s\n", KI_1, OPC_1,
                 cases[i].line);
        smdpd_profile_data pd;
        smdpd_profile_data_init(&pd);
        assert_int_equal(parse(&pd, "keyed", "keys.txt", text, error), -1);
        assert_string_equal(error, cases[i].message);
        /* never a key's characters in a message */
        assert_null(strstr(error, "465B5CE8B199"));
        assert_null(strstr(error, "cd63cb71954a"));
        assert_int_equal(pd.count, 0); /* the good line 2 was dropped with the file */
        assert_int_equal(pd.file_count, 0);
        assert_false(smdpd_profile_data_has_type(&pd, "keyed"));
        smdpd_profile_data_free(&pd);
    }
    /* unprintable bytes are shown as '?'; a NUL does not end the text */
    static const char nul[] = "8949449999300000017 2341\00050999900001 " KI_1 " " OPC_1 "\n";
    smdpd_profile_data pd;
    smdpd_profile_data_init(&pd);
    char error[SMDPD_PROFILE_DATA_ERROR_LEN];
    assert_int_equal(
        smdpd_profile_data_parse(&pd, "keyed", "nul.txt", nul, sizeof(nul) - 1, error, sizeof(error)), -1);
    assert_string_equal(error, "nul.txt:1: IMSI '2341?50999900001' is not 6 to 15 digits");
    /* a bad file after a good one: the good one's entries stay */
    assert_int_equal(
        parse(&pd, "keyed", "a.txt", "8949449999300000017 234150999900001 " KI_1 " " OPC_1 "\n", error), 0);
    assert_int_equal(
        parse(&pd, "keyed", "b.txt", "8949449999300000025 234150999900002 " KI_1 " " OPC_1 "\nbad\n", error),
        -1);
    assert_string_equal(error, "b.txt:2: 1 field, expected 4: ICCID IMSI KI OPC");
    assert_int_equal(pd.count, 1);
    assert_int_equal(pd.file_count, 1);
    smdpd_profile_data_free(&pd);
}

/* One ICCID twice: in one file, across two files, and as 18 digits next to the same with its Luhn digit. */
static void duplicates(void **state)
{
    (void)state;
    char error[SMDPD_PROFILE_DATA_ERROR_LEN];
    smdpd_profile_data pd;
    smdpd_profile_data_init(&pd);
    assert_int_equal(parse(&pd, "keyed", "a.txt",
                           "8949449999300000017 234150999900001 " KI_1 " " OPC_1 "\n"
                           "8949449999300000025 234150999900002 " KI_1 " " OPC_1 "\n"
                           "# a comment\n"
                           "8949449999300000017 234150999900009 " OPC_1 " " KI_1 "\n",
                           error),
                     0);
    assert_int_equal(smdpd_profile_data_index(&pd, error, sizeof(error)), -1);
    assert_string_equal(error, "a.txt:4: ICCID 8949449999300000017 is already at a.txt:1");
    smdpd_profile_data_free(&pd);

    smdpd_profile_data_init(&pd);
    assert_int_equal(parse(&pd, "keyed", "a.txt",
                           "8949449999300000017 234150999900001 " KI_1 " " OPC_1 "\n"
                           "8949449999300000025 234150999900002 " KI_1 " " OPC_1 "\n",
                           error),
                     0);
    assert_int_equal(parse(&pd, "other", "b.txt",
                           "8949449999300000033 234150999900003 " KI_1 " " OPC_1 "\n"
                           "8949449999300000025 234150999900002 " KI_1 " " OPC_1 "\n",
                           error),
                     0);
    assert_int_equal(smdpd_profile_data_index(&pd, error, sizeof(error)), -1);
    assert_string_equal(error, "b.txt:2: ICCID 8949449999300000025 is already at a.txt:2");
    smdpd_profile_data_free(&pd);

    smdpd_profile_data_init(&pd);
    assert_int_equal(parse(&pd, "keyed", "a.txt",
                           "8949449999300000017 234150999900001 " KI_1 " " OPC_1 "\n"
                           "894944999930000001 234150999900002 " KI_1 " " OPC_1 "\n",
                           error),
                     0);
    assert_int_equal(smdpd_profile_data_index(&pd, error, sizeof(error)), -1);
    assert_string_equal(error, "a.txt:2: ICCID 8949449999300000017 is already at a.txt:1");
    smdpd_profile_data_free(&pd);
}

/* Two profiles may not share an IMSI or a Ki, in one file or across two; the message names both lines
 * and never the key. */
static void shared_imsi_or_ki(void **state)
{
    (void)state;
    char error[SMDPD_PROFILE_DATA_ERROR_LEN];
    smdpd_profile_data pd;
    smdpd_profile_data_init(&pd);
    assert_int_equal(parse(&pd, "keyed", "a.txt",
                           "8949449999300000017 234150999900001 " KI_1 " " OPC_1 "\n"
                           "8949449999300000025 234150999900002 " KI_2 " " OPC_1 "\n",
                           error),
                     0);
    assert_int_equal(parse(&pd, "keyed", "b.txt",
                           "8949449999300000033 234150999900003 " OPC_1 " " KI_1 "\n"
                           "8949449999300000041 234150999900001 " KI_1 "0 " OPC_1 "\n",
                           error),
                     -1); /* a 33-digit KI: refused at parse, nothing appended */
    assert_int_equal(parse(&pd, "keyed", "b.txt",
                           "8949449999300000033 234150999900003 " OPC_1 " " KI_1 "\n"
                           "8949449999300000041 234150999900001 00000000000000000000000000000001 " OPC_1 "\n",
                           error),
                     0);
    assert_int_equal(smdpd_profile_data_index(&pd, error, sizeof(error)), -1);
    assert_string_equal(error, "b.txt:2: IMSI 234150999900001 is already at a.txt:1");
    smdpd_profile_data_free(&pd);

    smdpd_profile_data_init(&pd);
    assert_int_equal(parse(&pd, "keyed", "a.txt",
                           "8949449999300000017 234150999900001 " KI_1 " " OPC_1 "\n"
                           "8949449999300000025 234150999900002 " KI_2 " " OPC_1 "\n"
                           "8949449999300000033 234150999900003 " KI_1 " " KI_2 "\n",
                           error),
                     0);
    assert_int_equal(smdpd_profile_data_index(&pd, error, sizeof(error)), -1);
    assert_string_equal(error, "a.txt:3: KI is already at a.txt:1 (every profile needs its own)");
    assert_null(strstr(error, KI_1));
    assert_false(pd.indexed);
    smdpd_profile_data_free(&pd);
}

/* A large file: the array grows many times (each old copy wiped), every entry found by its ICCID. */
static void many_profiles(void **state)
{
    (void)state;
    enum { N = 5000 };
    size_t size = (size_t)N * 128; /* lines of 102 bytes */
    char *text = malloc(size), error[SMDPD_PROFILE_DATA_ERROR_LEN];
    assert_non_null(text);
    size_t len = 0;
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(text + len, size - len, "89494499994%08d 00101%010d %08X%024X %032X\n",
                                i * 2003 % N, i, (unsigned)i, 0u, (unsigned)(i * 7)); /* ICCIDs shuffled */
    smdpd_profile_data pd;
    smdpd_profile_data_init(&pd);
    assert_int_equal(smdpd_profile_data_parse(&pd, "bulk", "bulk.txt", text, len, error, sizeof(error)), 0);
    assert_int_equal(pd.count, N);
    assert_int_equal(smdpd_profile_data_index(&pd, error, sizeof(error)), 0);
    for (size_t i = 1; i < pd.count; i++)
        assert_true(strcmp(pd.entries[i - 1].iccid, pd.entries[i].iccid) < 0);
    for (int i = 0; i < N; i++) {
        char iccid[32];
        snprintf(iccid, sizeof(iccid), "89494499994%08d", i * 2003 % N);
        const smdpd_profile_entry *e = smdpd_profile_data_find(&pd, iccid);
        assert_non_null(e);
        assert_int_equal(e->line, (uint32_t)i + 1);
        assert_int_equal(e->ki[3], (uint8_t)i);
        assert_int_equal(e->opc[15], (uint8_t)(i * 7));
    }
    smdpd_profile_data_free(&pd);
    free(text);
    assert_true(frees >= 5); /* grown several times */
}

/* The file: readable or writable by group or others is refused with the mode to set; 600 and 400 load. */
static void file_modes(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_smdpd_profile_data.XXXXXX", path[128], error[SMDPD_PROFILE_DATA_ERROR_LEN];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/keys.txt", dir);
    static const struct {
        mode_t mode;
        bool ok;
    } cases[] = {{0600, true},  {0400, true},  {0644, false}, {0640, false}, {0604, false},
                 {0620, false}, {0602, false}, {0660, false}, {0666, false}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fprintf(f, "8949449999300000017 234150999900001 %s %s\n", KI_1, OPC_1);
        fclose(f);
        assert_int_equal(chmod(path, cases[i].mode), 0);
        smdpd_profile_data pd;
        smdpd_profile_data_init(&pd);
        int rc = smdpd_profile_data_load(&pd, "keyed", path, error, sizeof(error));
        if (cases[i].ok) {
            assert_int_equal(rc, 0);
            assert_int_equal(pd.count, 1);
            assert_memory_equal(pd.entries[0].ki, ki_1, 16);
        } else {
            assert_int_equal(rc, -1);
            char expected[400];
            snprintf(expected, sizeof(expected),
                     "%s: mode %04o lets group or others read or write the keys: chmod 600 %s (or 400)", path,
                     (unsigned)cases[i].mode, path);
            assert_string_equal(error, expected);
            assert_int_equal(pd.count, 0);
        }
        smdpd_profile_data_free(&pd);
        unlink(path);
    }
    /* no such file; a directory; a bad line names the file's path */
    smdpd_profile_data pd;
    smdpd_profile_data_init(&pd);
    assert_int_equal(smdpd_profile_data_load(&pd, "keyed", path, error, sizeof(error)), -1);
    assert_non_null(strstr(error, "keys.txt: cannot open: "));
    assert_int_equal(chmod(dir, 0700), 0);
    assert_int_equal(smdpd_profile_data_load(&pd, "keyed", dir, error, sizeof(error)), -1);
    assert_non_null(strstr(error, ": not a regular file"));
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "# keys\n8949449999300000017;234150999900001\n");
    fclose(f);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(smdpd_profile_data_load(&pd, "keyed", path, error, sizeof(error)), -1);
    char expected[300];
    snprintf(expected, sizeof(expected), "%s:2: 1 field, expected 4: ICCID IMSI KI OPC", path);
    assert_string_equal(error, expected);
    /* an empty file is fine */
    f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(chmod(path, 0400), 0);
    assert_int_equal(smdpd_profile_data_load(&pd, "keyed", path, error, sizeof(error)), 0);
    assert_int_equal(pd.count, 0);
    assert_int_equal(pd.file_count, 1);
    smdpd_profile_data_free(&pd);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(good_file, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(shared_imsi_or_ki, setup, teardown),
        cmocka_unit_test_setup_teardown(many_profiles, setup, teardown),
        cmocka_unit_test_setup_teardown(file_modes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

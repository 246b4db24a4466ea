/*
 * Test support: a software eUICC with the SGP.26 identities (NIST and brainpool,
 * EID 89049032123451234512345678901235), the SGP.26 CIs trusted, a memory store
 * and a preloaded, enabled bootstrap profile (EUICC_FIXTURE_BOOTSTRAP_ICCID).
 */
#ifndef SGP32_TEST_EUICC_FIXTURE_H
#define SGP32_TEST_EUICC_FIXTURE_H

#include "sgp32/euicc.h"

#define EUICC_FIXTURE_EID             "89049032123451234512345678901235"
#define EUICC_FIXTURE_BOOTSTRAP_ICCID "8900000000000000001"
#define EUICC_FIXTURE_DEFAULT_DP      "smdp.example.com"

typedef struct euicc_fixture {
    sgp32_euicc *euicc;
    sgp32_euicc_memory_store *memory;
    sgp32_euicc_config config;
    sgp32_euicc_preloaded_profile bootstrap;
    sgp32_buf files[8]; /* certificates and CIs the config points into */
} euicc_fixture;

/* Open a fresh card (a new memory store). */
int euicc_fixture_open(euicc_fixture *f);
/* Power cycle: close the card and open it again on the same store. */
int euicc_fixture_reopen(euicc_fixture *f);
void euicc_fixture_close(euicc_fixture *f);

/* ES10 with hex in and the response as a buffer (caller frees). */
int euicc_fixture_es10_hex(euicc_fixture *f, const char *request_hex, sgp32_buf *response);

/* Read a whole file into a buffer (1 MiB cap). */
int test_read_file(const char *path, sgp32_buf *out);

#endif

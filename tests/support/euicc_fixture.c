#include <stdio.h>
#include <string.h>

#include "euicc_fixture.h"
#include "sgp32/text.h"

int test_read_file(const char *path, sgp32_buf *out)
{
    sgp32_buf_init(out, 1 << 20);
    FILE *f = fopen(path, "rb");
    if (!f)
        return SGP32_ERR_IO;
    uint8_t chunk[4096];
    size_t n;
    int rc = SGP32_OK;
    while (rc == SGP32_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = sgp32_buf_append(out, chunk, n);
    fclose(f);
    return rc;
}

static int load_identity(euicc_fixture *f, size_t slot, const char *curve)
{
    char path[512];
    sgp32_euicc_identity *id = &f->config.identities[f->config.identity_count];
    snprintf(path, sizeof(path), SGP32_SPEC_DIR "/sgp26/eUICC/CERT_EUICC_ECDSA_%s.der", curve);
    int rc = test_read_file(path, &f->files[slot]);
    if (!rc) {
        snprintf(path, sizeof(path), SGP32_SPEC_DIR "/sgp26/EUM/CERT_EUM_ECDSA_%s.der", curve);
        rc = test_read_file(path, &f->files[slot + 1]);
    }
    if (!rc) {
        snprintf(path, sizeof(path), SGP32_SPEC_DIR "/sgp26/eUICC/SK_EUICC_ECDSA_%s.pem", curve);
        rc = test_read_file(path, &f->files[slot + 2]);
    }
    if (!rc)
        rc = sgp32_ec_private_from_pem((const char *)f->files[slot + 2].data, f->files[slot + 2].len,
                                       &id->key);
    if (!rc) {
        id->euicc_certificate = sgp32_buf_bytes(&f->files[slot]);
        id->eum_certificate = sgp32_buf_bytes(&f->files[slot + 1]);
        f->config.identity_count++;
    }
    snprintf(path, sizeof(path), SGP32_SPEC_DIR "/sgp26/CertificateIssuer/CERT_CI_ECDSA_%s.der", curve);
    if (!rc)
        rc = test_read_file(path, &f->files[slot + 3]);
    if (!rc)
        f->config.trusted_cis[f->config.trusted_ci_count++] = sgp32_buf_bytes(&f->files[slot + 3]);
    return rc;
}

int euicc_fixture_open(euicc_fixture *f)
{
    memset(f, 0, sizeof(*f));
    int rc = sgp32_euicc_memory_store_new(&f->memory, &f->config.store);
    if (!rc)
        rc = load_identity(f, 0, "NIST");
    if (!rc)
        rc = load_identity(f, 4, "BRP");
    f->bootstrap = (sgp32_euicc_preloaded_profile){EUICC_FIXTURE_BOOTSTRAP_ICCID, "Bootstrap", "sgp32 test",
                                                   1 /* provisioning */,          true,        false};
    f->config.preloaded = &f->bootstrap;
    f->config.preloaded_count = 1;
    f->config.default_dp_address = EUICC_FIXTURE_DEFAULT_DP;
    if (!rc)
        rc = sgp32_euicc_open(&f->config, &f->euicc);
    return rc;
}

int euicc_fixture_reopen(euicc_fixture *f)
{
    sgp32_euicc_close(f->euicc);
    f->euicc = NULL;
    return sgp32_euicc_open(&f->config, &f->euicc);
}

void euicc_fixture_close(euicc_fixture *f)
{
    sgp32_euicc_close(f->euicc);
    sgp32_euicc_memory_store_free(f->memory);
    for (size_t i = 0; i < SGP32_ARRAY_LEN(f->files); i++)
        sgp32_buf_free(&f->files[i]);
    memset(f, 0, sizeof(*f));
}

int euicc_fixture_es10_hex(euicc_fixture *f, const char *request_hex, sgp32_buf *response)
{
    sgp32_buf request;
    sgp32_buf_init(&request, 1 << 16);
    sgp32_buf_init(response, 1 << 16);
    int rc = sgp32_hex_decode(request_hex, strlen(request_hex), &request);
    if (!rc)
        rc = sgp32_euicc_es10(f->euicc, request.data, request.len, response);
    sgp32_buf_free(&request);
    return rc;
}

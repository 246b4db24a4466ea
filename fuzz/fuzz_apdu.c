/*
 * Guards the software eUICC's APDU entry point, sgp32_euicc_transmit (lib/euicc/apdu.c), and
 * through STORE DATA every ES10 function behind it: whatever a host sends, the card answers
 * with a well-formed response APDU and keeps working.
 *
 * Input: a stream of records for one card session. A record is a length byte n and n bytes of
 * command APDU (cut short at the end of the input); n = FF is a card reset instead. The card
 * is opened once (first call) on a memory store with the SGP.26 identities (NIST and
 * brainpool, the SGP.26 CIs trusted) and a bootstrap profile, and reset before each input.
 *
 * Checked on every answer: transmit succeeds, the response holds SW1 SW2 with SW1 in 61..6F or
 * 90..9F, at most 256 data bytes come before it, and 61xx announces what GET RESPONSE then
 * hands out. Returns SGP32_OK when some APDU was answered 9000 or 61xx.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "sgp32/euicc.h"
#include "sgp32/log.h"

#ifndef SGP32_SPEC_DIR
#error "fuzz_apdu needs SGP32_SPEC_DIR (the spec pack with the SGP.26 identities)"
#endif

enum { RECORD_RESET = 0xFF };

static struct {
    sgp32_euicc *card;
    sgp32_euicc_memory_store *memory;
    sgp32_euicc_config config;
    sgp32_euicc_preloaded_profile bootstrap;
    sgp32_buf files[8];
    size_t file_count;
    sgp32_buf response;
} fuzz_card;

static const uint8_t *read_spec_file(const char *relative, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/sgp26/%s", SGP32_SPEC_DIR, relative);
    sgp32_buf *b = &fuzz_card.files[fuzz_card.file_count++];
    sgp32_buf_init(b, 1 << 20);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz_apdu: cannot read %s\n", path);
        abort();
    }
    uint8_t chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (sgp32_buf_append(b, chunk, n) != SGP32_OK)
            abort();
    fclose(f);
    *len = b->len;
    return b->data;
}

static void open_card(void)
{
    static const char *const curves[] = {"NIST", "BRP"};
    sgp32_log_set_level_all(SGP32_LOG_ERROR); /* hostile requests are logged as warnings: too many */
    if (sgp32_euicc_memory_store_new(&fuzz_card.memory, &fuzz_card.config.store) != SGP32_OK)
        abort();
    for (size_t i = 0; i < 2; i++) {
        char name[128];
        size_t len;
        const uint8_t *data;
        sgp32_euicc_identity *id = &fuzz_card.config.identities[i];
        snprintf(name, sizeof(name), "eUICC/CERT_EUICC_ECDSA_%s.der", curves[i]);
        data = read_spec_file(name, &len);
        id->euicc_certificate = (sgp32_bytes){data, len};
        snprintf(name, sizeof(name), "EUM/CERT_EUM_ECDSA_%s.der", curves[i]);
        data = read_spec_file(name, &len);
        id->eum_certificate = (sgp32_bytes){data, len};
        snprintf(name, sizeof(name), "eUICC/SK_EUICC_ECDSA_%s.pem", curves[i]);
        data = read_spec_file(name, &len);
        if (sgp32_ec_private_from_pem((const char *)data, len, &id->key) != SGP32_OK)
            abort();
        snprintf(name, sizeof(name), "CertificateIssuer/CERT_CI_ECDSA_%s.der", curves[i]);
        data = read_spec_file(name, &len);
        fuzz_card.config.trusted_cis[i] = (sgp32_bytes){data, len};
    }
    fuzz_card.config.identity_count = 2;
    fuzz_card.config.trusted_ci_count = 2;
    fuzz_card.bootstrap =
        (sgp32_euicc_preloaded_profile){"8900000000000000001", "Bootstrap", "fuzz", 1, true, false};
    fuzz_card.config.preloaded = &fuzz_card.bootstrap;
    fuzz_card.config.preloaded_count = 1;
    fuzz_card.config.default_dp_address = "smdp.example.com";
    if (sgp32_euicc_open(&fuzz_card.config, &fuzz_card.card) != SGP32_OK)
        abort();
    sgp32_buf_init(&fuzz_card.response, 70 * 1024);
}

int sgp32_fuzz_apdu(const uint8_t *data, size_t size)
{
    if (!fuzz_card.card)
        open_card();
    sgp32_euicc *card = fuzz_card.card;
    sgp32_euicc_reset(card);
    bool accepted = false;
    size_t announced = 0; /* what the last 61xx promised (0 = nothing) */
    size_t i = 0;
    while (i < size) {
        size_t n = data[i++];
        if (n == RECORD_RESET) {
            sgp32_euicc_reset(card);
            announced = 0;
            continue;
        }
        if (n > size - i)
            n = size - i;
        const uint8_t *apdu = data + i;
        i += n;
        sgp32_buf *r = &fuzz_card.response;
        sgp32_buf_reset(r);
        if (sgp32_euicc_transmit(card, apdu, n, r) != SGP32_OK)
            sgp32_fuzz_fail("transmit failed", "APDU", data, size);
        if (r->len < 2)
            sgp32_fuzz_fail("a response without SW1 SW2", "APDU", data, size);
        uint8_t sw1 = r->data[r->len - 2], sw2 = r->data[r->len - 1];
        size_t body = r->len - 2;
        if (!((sw1 >= 0x61 && sw1 <= 0x6F) || (sw1 >= 0x90 && sw1 <= 0x9F)))
            sgp32_fuzz_fail("SW1 outside 6x/9x", "APDU", data, size);
        if (body > 256)
            sgp32_fuzz_fail("more than 256 data bytes in one response", "APDU", data, size);
        if (body && sw1 != 0x90 && sw1 != 0x61)
            sgp32_fuzz_fail("data with an error status word", "APDU", data, size);
        /* A GET RESPONSE right after 61xx gets what was announced (up to its Le). */
        bool get_response = n == 5 && apdu[1] == 0xC0 && apdu[2] == 0 && apdu[3] == 0;
        if (get_response && announced) {
            size_t le = apdu[4] ? apdu[4] : 256;
            size_t expected = announced < le ? announced : le;
            if ((sw1 == 0x90 || sw1 == 0x61) && body != expected)
                sgp32_fuzz_fail("GET RESPONSE does not hand out what 61xx announced", "APDU", data, size);
        }
        announced = sw1 == 0x61 ? (sw2 ? sw2 : 256) : 0;
        if (sw1 == 0x90 || sw1 == 0x61)
            accepted = true;
    }
    return accepted ? SGP32_OK : SGP32_ERR_INVALID_ARGUMENT;
}

SGP32_FUZZ_ENTRY(sgp32_fuzz_apdu);

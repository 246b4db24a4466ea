/*
 * lib/euicc/apdu.c: the ISD-R behind ISO 7816 APDUs. SELECT (FCI, FCP, no data; T=1 and T=0
 * styles), GET RESPONSE, logical channels 0-19 and their CLA codings, STORE DATA chaining
 * (long requests, sequence errors, channel switches), every status word for a malformed APDU,
 * GetEID and SetDefaultDpAddress end to end, reset.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../lib/euicc/euicc_internal.h"
#include "euicc_fixture.h"
#include "sgp32/text.h"

#define ISDR_AID     "A0000005591010FFFFFFFF8900000100"
#define GET_EID      "BF3E035C015A"
#define EID_RESPONSE "BF3E125A10" EUICC_FIXTURE_EID

static euicc_fixture fx;

static int setup(void **state)
{
    (void)state;
    return euicc_fixture_open(&fx) == SGP32_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    euicc_fixture_close(&fx);
    return 0;
}

/* Send bytes, return the response as upper-case hex (static buffer). */
static const char *send_bytes(const uint8_t *apdu, size_t len)
{
    static char text[2 * 4096 + 1];
    sgp32_buf response;
    sgp32_buf_init(&response, 4096);
    assert_int_equal(sgp32_euicc_transmit(fx.euicc, apdu, len, &response), SGP32_OK);
    assert_true(response.len >= 2);
    sgp32_hex_encode(response.data, response.len, text);
    sgp32_buf_free(&response);
    return text;
}

/* Send an APDU given in hex (spaces allowed). */
static const char *send(const char *hex)
{
    char compact[2 * 1024 + 1];
    size_t n = 0;
    for (const char *p = hex; *p; p++)
        if (*p != ' ')
            compact[n++] = *p;
    compact[n] = '\0';
    sgp32_buf apdu;
    sgp32_buf_init(&apdu, 1024);
    assert_int_equal(sgp32_hex_decode(compact, n, &apdu), SGP32_OK);
    const char *r = send_bytes(apdu.data, apdu.len);
    sgp32_buf_free(&apdu);
    return r;
}

static void expect(const char *apdu_hex, const char *response_hex)
{
    const char *r = send(apdu_hex);
    if (strcmp(r, response_hex) != 0)
        fail_msg("APDU %s\n  answered %s\n  expected %s", apdu_hex, r, response_hex);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static uint8_t cla_for(unsigned channel, bool proprietary)
{
    uint8_t cla = channel < 4 ? (uint8_t)channel : (uint8_t)(0x40 | (channel - 4));
    return proprietary ? (uint8_t)(cla | 0x80) : cla;
}

/* One ES10 request as STORE DATA blocks of at most block bytes, on channel; returns the
 * response of the last block (hex). Intermediate blocks must answer 9000. */
static const char *store_data(unsigned channel, const uint8_t *request, size_t len, size_t block,
                              bool with_le)
{
    size_t offset = 0;
    unsigned number = 0;
    const char *r = NULL;
    while (offset < len) {
        size_t n = len - offset < block ? len - offset : block;
        uint8_t apdu[6 + 255];
        bool last = offset + n == len;
        apdu[0] = cla_for(channel, true);
        apdu[1] = 0xE2;
        apdu[2] = last ? 0x91 : 0x11;
        apdu[3] = (uint8_t)number++;
        apdu[4] = (uint8_t)n;
        memcpy(apdu + 5, request + offset, n);
        size_t apdu_len = 5 + n;
        if (last && with_le)
            apdu[apdu_len++] = 0x00;
        r = send_bytes(apdu, apdu_len);
        if (!last && strcmp(r, "9000") != 0)
            fail_msg("intermediate block %u answered %s", number - 1, r);
        offset += n;
    }
    return r;
}

static const char *store_data_hex(unsigned channel, const char *request_hex, size_t block, bool with_le)
{
    sgp32_buf req;
    sgp32_buf_init(&req, 1 << 16);
    assert_int_equal(sgp32_hex_decode(request_hex, strlen(request_hex), &req), SGP32_OK);
    static char copy[2 * 4096 + 1];
    snprintf(copy, sizeof(copy), "%s", store_data(channel, req.data, req.len, block, with_le));
    sgp32_buf_free(&req);
    return copy;
}

static void select_isdr(unsigned channel)
{
    char apdu[64];
    snprintf(apdu, sizeof(apdu), "%02XA4040C10" ISDR_AID, cla_for(channel, false));
    expect(apdu, "9000");
}

/* ------------------------------------------------------------------ tests */

static void atr_offers_t0_and_t1(void **state)
{
    (void)state;
    sgp32_bytes atr = sgp32_euicc_atr();
    assert_true(atr.len >= 4 && atr.len <= 33);
    assert_int_equal(atr.data[0], 0x3B);
    /* Walk the interface bytes, collect the protocols, check TCK. */
    size_t i = 1;
    uint8_t y = atr.data[i] >> 4, k = atr.data[i] & 15;
    i++;
    unsigned protocols = 0;
    while (true) {
        i += (y & 1) + ((y >> 1) & 1) + ((y >> 2) & 1);
        if (!(y & 8))
            break;
        uint8_t td = atr.data[i++];
        protocols |= 1u << (td & 15);
        y = td >> 4;
    }
    assert_true(protocols & 1);           /* T=0 */
    assert_true(protocols & 2);           /* T=1 */
    assert_int_equal(i + k + 1, atr.len); /* historical bytes and TCK */
    uint8_t x = 0;
    for (size_t j = 1; j < atr.len; j++)
        x ^= atr.data[j];
    assert_int_equal(x, 0);
}

static void select_answers_fci_fcp_or_nothing(void **state)
{
    (void)state;
    /* T=1 style (Le present): data 9000. */
    const char *r = send("00A4040010" ISDR_AID "00");
    assert_true(strncmp(r, "6F", 2) == 0);
    assert_non_null(strstr(r, "8410" ISDR_AID));
    assert_non_null(strstr(r, "E005820302050")); /* svn 2.5.0 */
    assert_non_null(strstr(r, "E1048002064"));   /* enabledProfile: the bootstrap profile */
    assert_true(ends_with(r, "9000"));
    char fci[512];
    snprintf(fci, sizeof(fci), "%s", r);
    /* FCP */
    r = send("00A4040410" ISDR_AID "00");
    assert_true(strncmp(r, "62", 2) == 0);
    assert_non_null(strstr(r, "8A0105"));
    assert_true(ends_with(r, "9000"));
    /* No data */
    expect("00A4040C10" ISDR_AID, "9000");
    expect("80A4040C10" ISDR_AID "00", "9000");
    /* Right-truncated AID (at least the RID + 1) */
    r = send("00A4040007A000000559101000");
    assert_string_equal(r, fci);
    /* Unknown application, too short an AID: 6A82 */
    expect("00A4040010A0000005591010FFFFFFFF8900000200", "6A82");
    expect("00A4040004A0000005", "6A82");
    expect("00A4040011" ISDR_AID "00", "6A82");
    /* P1 other than by-name, P2 not 00/04/0C */
    expect("00A4000002 3F00", "6A86");
    expect("00A4040810" ISDR_AID, "6A86");
    expect("00A4040210" ISDR_AID, "6A86");
    /* No AID */
    expect("00A40400", "6700");
    expect("00A4040000", "6700");
}

static void select_t0_style_and_get_response(void **state)
{
    (void)state;
    char fci[512];
    snprintf(fci, sizeof(fci), "%s", send("00A4040010" ISDR_AID "00"));
    size_t fci_len = strlen(fci) / 2 - 2;
    fci[2 * fci_len] = '\0';

    /* Le absent: 61xx, then GET RESPONSE with exactly xx. */
    char t0[8], rest[8];
    snprintf(t0, sizeof(t0), "61%02zX", fci_len);
    snprintf(rest, sizeof(rest), "61%02zX", fci_len - 16);
    expect("00A4040010" ISDR_AID, t0);
    char get[16];
    snprintf(get, sizeof(get), "00C00000%02zX", fci_len);
    const char *r = send(get);
    assert_true(ends_with(r, "9000"));
    assert_int_equal(strncmp(r, fci, 2 * fci_len), 0);
    /* Nothing left. */
    expect("00C0000000", "6985");

    /* In pieces, GET RESPONSE with class 8x too; Le larger than what is left is fine. */
    expect("00A4040010" ISDR_AID, t0);
    r = send("80C0000010");
    assert_true(ends_with(r, rest));
    assert_int_equal(strncmp(r, fci, 32), 0);
    r = send("00C0000000");
    assert_true(ends_with(r, "9000"));
    assert_int_equal(strncmp(r, fci + 32, 2 * fci_len - 32), 0);

    /* Waiting data is dropped by another command, and GET RESPONSE elsewhere finds nothing. */
    expect("00A4040010" ISDR_AID, t0);
    expect("80AA000005A903830107", "9000");
    expect("00C0000000", "6985");
    expect("00A4040010" ISDR_AID, t0);
    expect("0070000001", "019000");
    expect("01C0000000", "6985");
    expect("0070800100", "9000");
    /* GET RESPONSE format errors */
    expect("00A4040010" ISDR_AID, t0);
    expect("00C00100 00", "6A86");
    expect("00A4040010" ISDR_AID, t0);
    expect("00C00000", "6700");
    expect("00C0000001 AA 00", "6700");
}

static void manage_channel_open_close(void **state)
{
    (void)state;
    /* Card-assigned, lowest free first. */
    expect("0070000001", "019000");
    expect("0070000001", "029000");
    expect("0070000000", "039000"); /* Le 00 is taken too */
    /* By number. */
    expect("0070000500", "9000");
    expect("0070000500", "6A86"); /* already open */
    expect("0070000001", "049000");
    expect("0070000001", "069000");
    /* Close all, also from another open channel and with class 8x. */
    expect("0170800200", "9000");
    expect("0070800100", "9000");
    expect("8070800300", "9000");
    for (int ch = 4; ch <= 6; ch++) {
        char apdu[16];
        snprintf(apdu, sizeof(apdu), "007080%02X00", ch);
        expect(apdu, "9000");
    }
    expect("0070800700", "9000"); /* not open: nothing to do */
    /* Errors */
    expect("0070800000", "6A81"); /* the basic channel */
    expect("0070001400", "6881"); /* channel 20 */
    expect("0070801400", "6881");
    expect("0070400000", "6A81"); /* P1 */
    expect("0070000001 00 01", "6700");
    expect("0170000001", "6881"); /* from a channel that is not open */
    expect("4F70000001", "6881"); /* channel 19 */
    expect("0070000100", "9000");
    expect("0170000001", "029000"); /* from channel 1 */
    expect("0070800100", "9000");
    expect("0070800200", "9000");
}

static void every_channel_with_its_class_byte(void **state)
{
    (void)state;
    for (unsigned ch = 1; ch < 20; ch++) {
        char apdu[128];
        snprintf(apdu, sizeof(apdu), "007000%02X00", ch);
        expect(apdu, "9000");
        /* Not selected yet (opened from the basic channel). */
        snprintf(apdu, sizeof(apdu), "%02XE29100 06 " GET_EID, cla_for(ch, true));
        expect(apdu, "6985");
        snprintf(apdu, sizeof(apdu), "%02XA4040010" ISDR_AID "00", cla_for(ch, false));
        assert_true(ends_with(send(apdu), "9000"));
        assert_string_equal(store_data_hex(ch, GET_EID, 255, true), EID_RESPONSE "9000");
        /* Proprietary class SELECT too */
        snprintf(apdu, sizeof(apdu), "%02XA4040C10" ISDR_AID, cla_for(ch, true));
        expect(apdu, "9000");
    }
    expect("0070000001", "6A81"); /* all 19 in use */
    /* A channel opened from channel 7 inherits its selection: close 19, reopen it from 7. */
    expect("0070801300", "9000");
    expect("4370000001", "139000");
    assert_string_equal(store_data_hex(19, GET_EID, 255, true), EID_RESPONSE "9000");
    /* Close 1-18 from channel 19 (CLA 4F), then 19 from the basic channel. */
    for (unsigned ch = 1; ch < 20; ch++) {
        char apdu[32];
        snprintf(apdu, sizeof(apdu), "%02X7080%02X00", cla_for(ch == 19 ? 0 : 19, false), ch);
        expect(apdu, "9000");
    }
    /* Every channel closed again. */
    for (unsigned ch = 1; ch < 20; ch++) {
        char apdu[64];
        snprintf(apdu, sizeof(apdu), "%02XA4040C10" ISDR_AID, cla_for(ch, false));
        expect(apdu, "6881");
    }
}

static void get_eid_and_response_styles(void **state)
{
    (void)state;
    select_isdr(0);
    /* T=1 style */
    expect("80E2910006" GET_EID "00", EID_RESPONSE "9000");
    /* T=0 style: 61 15, GET RESPONSE */
    expect("80E2910006" GET_EID, "6115");
    expect("00C0000015", EID_RESPONSE "9000");
    /* Le smaller than the response */
    const char *r = send("80E2910006" GET_EID "05");
    assert_string_equal(r, "BF3E125A106110");
    expect("80C0000000", EUICC_FIXTURE_EID "9000");
    /* One byte per block */
    assert_string_equal(store_data_hex(0, GET_EID, 1, true), EID_RESPONSE "9000");
    /* Another tag list is not understood */
    expect("80E2910006BF3E035C015B00", "6A80");
    expect("80E2910003BF3E0000", "6A80");
}

static void store_data_chaining_long_requests(void **state)
{
    (void)state;
    select_isdr(0);
    /* SetDefaultDpAddress (SGP.32) with a 255-byte address in blocks of 120 (lpac) and 255. */
    char address[256];
    memset(address, 'a', 255);
    memcpy(address + 240, ".example.com", 13); /* 252 + NUL: 252 bytes */
    size_t alen = strlen(address);
    uint8_t request[1024];
    size_t n = 0;
    request[n++] = 0xBF;
    request[n++] = 0x65;
    request[n++] = 0x81;
    request[n++] = (uint8_t)(alen + 3);
    request[n++] = 0x80;
    request[n++] = 0x81;
    request[n++] = (uint8_t)alen;
    memcpy(request + n, address, alen);
    n += alen;
    assert_string_equal(store_data(0, request, n, 120, true), "BF6503800100"
                                                              "9000");
    assert_string_equal(fx.euicc->state.default_dp_address, address);
    /* It was written before the answer: a power cycle keeps it. */
    assert_int_equal(euicc_fixture_reopen(&fx), SGP32_OK);
    assert_string_equal(fx.euicc->state.default_dp_address, address);
    select_isdr(0);

    /* A 700-byte request in 3 blocks of 255: an address the card cannot hold, undefinedError. */
    n = 0;
    size_t big = 694;
    request[n++] = 0xBF;
    request[n++] = 0x65;
    request[n++] = 0x82;
    request[n++] = (uint8_t)((big + 4) >> 8);
    request[n++] = (uint8_t)(big + 4);
    request[n++] = 0x80;
    request[n++] = 0x82;
    request[n++] = (uint8_t)(big >> 8);
    request[n++] = (uint8_t)big;
    memset(request + n, 'b', big);
    n += big;
    assert_int_equal(n, 703);
    assert_string_equal(store_data(0, request, n, 255, false), "6106");
    expect("00C0000006", "BF650380017F9000");
    assert_string_equal(fx.euicc->state.default_dp_address, address);

    /* SGP.22 SetDefaultDpAddress (BF3F) over a short chain, then empty (removes it). */
    assert_string_equal(store_data_hex(0, "BF3F0C800A64702E6578616D706C65", 4, true), "BF3F03800100"
                                                                                      "9000");
    assert_string_equal(fx.euicc->state.default_dp_address, "dp.example");
    assert_string_equal(store_data_hex(0, "BF3F028000", 255, true), "BF3F03800100"
                                                                    "9000");
    assert_string_equal(fx.euicc->state.default_dp_address, "");
}

static void store_data_sequence_errors(void **state)
{
    (void)state;
    /* Without the ISD-R selected. */
    expect("80E2910006" GET_EID "00", "6985");
    select_isdr(0);
    /* A first block that is not 00. */
    expect("80E2910106" GET_EID "00", "6A86");
    /* A gap: 00, 02. The chain is gone after it. */
    expect("80E2110003BF3E03", "9000");
    expect("80E2910203 5C015A", "6A86");
    expect("80E2910103 5C015A", "6A86");
    /* A repeated block number. */
    expect("80E2110003BF3E03", "9000");
    expect("80E2110101 5C", "9000");
    expect("80E2910102 015A", "6A86");
    /* Block 00 restarts: an unfinished chain is dropped. */
    expect("80E2110003BF3E03", "9000");
    expect("80E2110003BF3E03", "9000");
    expect("80E2910103 5C015A00", EID_RESPONSE "9000");
    /* Chaining must stay on one channel. */
    expect("0070000100", "9000");
    select_isdr(1);
    expect("80E2110003BF3E03", "9000");
    expect("81E2910103 5C015A00", "6A86");
    /* ... and a chain on channel 1 is dropped when channel 0 starts one. */
    expect("81E2110003BF3E03", "9000");
    expect("80E2110003BF3E03", "9000");
    expect("81E2910103 5C015A00", "6A86");
    expect("80E2910103 5C015A00", EID_RESPONSE "9000");
    /* SELECT drops a chain on its channel; closing the channel too. */
    expect("81E2110003BF3E03", "9000");
    select_isdr(1);
    expect("81E2910103 5C015A00", "6A86");
    expect("81E2110003BF3E03", "9000");
    expect("0070800100", "9000");
    expect("0070000100", "9000");
    select_isdr(1);
    expect("81E2910103 5C015A00", "6A86");
    expect("0070800100", "9000");
    /* P1 other than 11/91 */
    expect("80E2900006" GET_EID, "6A86");
    expect("80E2010006" GET_EID, "6A86");
    /* No data */
    expect("80E29100", "6700");
    expect("80E2910000", "6700");
}

static void store_data_request_cap(void **state)
{
    (void)state;
    select_isdr(0);
    uint8_t apdu[5 + 255];
    apdu[0] = 0x80;
    apdu[1] = 0xE2;
    apdu[2] = 0x11;
    apdu[4] = 255;
    memset(apdu + 5, 0x30, 255);
    /* 256 blocks (00-FF) of 255 bytes: 65280 bytes, under EUICC_REQUEST_MAX, so the block
     * numbering is the limit. The request is a 30 (no ES10 tag): 6A88 after reassembly. */
    for (unsigned b = 0; b < 255; b++) {
        apdu[3] = (uint8_t)b;
        assert_string_equal(send_bytes(apdu, sizeof(apdu)), "9000");
    }
    apdu[2] = 0x91;
    apdu[3] = 0xFF;
    assert_string_equal(send_bytes(apdu, sizeof(apdu)), "6A88");
    /* A 257th block cannot be numbered: FF again is out of sequence. */
    for (unsigned b = 0; b < 256; b++) {
        apdu[2] = 0x11;
        apdu[3] = (uint8_t)b;
        assert_string_equal(send_bytes(apdu, sizeof(apdu)), "9000");
    }
    apdu[3] = 0xFF;
    assert_string_equal(send_bytes(apdu, sizeof(apdu)), "6A86");
}

static void malformed_apdus(void **state)
{
    (void)state;
    assert_string_equal(send_bytes(NULL, 0), "6700");
    expect("00", "6700");
    expect("00A404", "6700");
    /* Lc and the length disagree */
    expect("80E2910007" GET_EID, "6700");
    expect("80E2910005" GET_EID "00", "6700");
    expect("80E2910006" GET_EID "0000", "6700");
    /* Extended length */
    expect("80E291000000 06" GET_EID, "6700");
    expect("80E2910000000006" GET_EID "0000", "6700");
    expect("00C0000000 0100", "6700");
    /* Unknown INS */
    expect("80CA9F7F00", "6D00");
    expect("00B0000000", "6D00");
    expect("80F2000C00", "6D00");
    expect("0070", "6700");
    /* Unknown CLA, secure messaging, command chaining */
    expect("20A4040C10" ISDR_AID, "6E00");
    expect("A0A4040C10" ISDR_AID, "6E00");
    expect("FFA4040C10" ISDR_AID, "6E00");
    expect("04A4040C10" ISDR_AID, "6882");
    expect("0CA4040C10" ISDR_AID, "6882");
    expect("60A4040C10" ISDR_AID, "6882");
    expect("10A4040C10" ISDR_AID, "6884");
    expect("90E2910006" GET_EID, "6884");
    expect("50A4040C10" ISDR_AID, "6884");
    /* STORE DATA and TERMINAL CAPABILITY need the proprietary class */
    select_isdr(0);
    expect("00E2910006" GET_EID "00", "6E00");
    expect("00AA000005A903830107", "6E00");
    /* TERMINAL CAPABILITY */
    expect("80AA000005A903830107", "9000");
    expect("80AA00000AA9088100820101830107", "9000");
    expect("80AA000105A903830107", "6A86");
    expect("80AA0000", "6700");
    expect("80AA000002A905", "6A80");
    /* Channels not open */
    expect("01A4040C10" ISDR_AID, "6881");
    expect("43A4040C10" ISDR_AID, "6881");
    expect("CFE2910006" GET_EID, "6881");
    /* An ES10 tag that names no function: 6A88; a request that does not parse: 6A80 */
    expect("80E2910003BF7F0000", "6A88");
    expect("80E29100023000", "6A88");
    expect("80E2910004BF3E035C", "6A80");
    expect("80E2910007BF65048002FFFF00", "6A80"); /* not UTF-8 */
    /* After all that, the card still works. */
    expect("80E2910006" GET_EID "00", EID_RESPONSE "9000");
}

static void reset_clears_the_apdu_state(void **state)
{
    (void)state;
    expect("0070000001", "019000");
    select_isdr(1);
    select_isdr(0);
    /* Waiting response data */
    expect("81E2910006" GET_EID, "6115");
    sgp32_euicc_reset(fx.euicc);
    expect("01C0000015", "6881"); /* channel 1 closed */
    expect("00C0000015", "6985"); /* nothing waiting */
    /* A STORE DATA chain and the selection */
    select_isdr(0);
    expect("80E2110003BF3E03", "9000");
    sgp32_euicc_reset(fx.euicc);
    expect("80E2910103 5C015A00", "6985"); /* ISD-R not selected */
    select_isdr(0);
    expect("80E2910103 5C015A00", "6A86"); /* the chain is gone */
    expect("0070000001", "019000");        /* channel numbers start over */
    expect("0070800100", "9000");
    expect("80E2910006" GET_EID "00", EID_RESPONSE "9000");
}

/* A response of more than 256 bytes comes in 61 00 rounds. Needs an ES10 function with a long
 * answer (GetCerts, GetEUICCInfo2: other files); skipped while they are not there. */
static void long_response_in_rounds(void **state)
{
    (void)state;
    select_isdr(0);
    static const char *requests[] = {"BF5600", "BF2200", "BF2000"};
    for (size_t i = 0; i < SGP32_ARRAY_LEN(requests); i++) {
        const char *first = store_data_hex(0, requests[i], 255, false);
        if (strncmp(first, "61", 2) != 0)
            continue;
        size_t total = 0, rounds = 0;
        char sw[5];
        snprintf(sw, sizeof(sw), "%s", first);
        char *collected = calloc(1, 2 * EUICC_RESPONSE_MAX + 1);
        while (strncmp(sw, "61", 2) == 0) {
            const char *r = send("00C0000000");
            size_t len = strlen(r);
            assert_true(len >= 4);
            memcpy(collected + 2 * total, r, len - 4);
            total += (len - 4) / 2;
            snprintf(sw, sizeof(sw), "%s", r + len - 4);
            rounds++;
            assert_true((len - 4) / 2 == 256 || strcmp(sw, "9000") == 0);
        }
        assert_string_equal(sw, "9000");
        /* Le 00 on the last block: the first 256 bytes right away. */
        sgp32_buf req;
        sgp32_buf_init(&req, 64);
        assert_int_equal(sgp32_hex_decode(requests[i], strlen(requests[i]), &req), SGP32_OK);
        const char *r = store_data(0, req.data, req.len, 255, true);
        sgp32_buf_free(&req);
        if (total > 256) {
            assert_true(strlen(r) == 2 * 256 + 4 && strncmp(r + 512, "61", 2) == 0);
            print_message("%s: %zu bytes in %zu GET RESPONSE rounds\n", requests[i], total, rounds);
        }
        free(collected);
        if (total > 256)
            return;
    }
    print_message("no ES10 function with a response over 256 bytes yet: skipped\n");
}

/* Whatever arrives, an answer of at least SW1 SW2 and no crash (ASan/UBSan watch). */
static void random_bytes_never_break_the_card(void **state)
{
    (void)state;
    uint32_t seed = 12345;
    uint8_t apdu[300];
    static const uint8_t classes[] = {0x00, 0x80, 0x01, 0x81, 0x40, 0xC3};
    static const uint8_t ins[] = {0x70, 0xA4, 0xAA, 0xC0, 0xE2};
    for (int i = 0; i < 20000; i++) {
        seed = seed * 1103515245u + 12345u;
        size_t len = (seed >> 8) % sizeof(apdu);
        for (size_t j = 0; j < len; j++) {
            seed = seed * 1103515245u + 12345u;
            apdu[j] = (uint8_t)(seed >> 16);
        }
        if (len >= 2 && (seed & 3) != 0) { /* mostly commands the card knows */
            apdu[0] = classes[(seed >> 4) % sizeof(classes)];
            apdu[1] = ins[(seed >> 12) % sizeof(ins)];
        }
        if (len >= 5 && (seed & 4))
            apdu[4] = (uint8_t)(len - 5);
        if (i % 1000 == 999)
            sgp32_euicc_reset(fx.euicc);
        (void)send_bytes(apdu, len);
    }
    expect("00A4040C10" ISDR_AID, "9000");
    expect("80E2910006" GET_EID "00", EID_RESPONSE "9000");
}

static void bad_host_arguments(void **state)
{
    (void)state;
    sgp32_buf response;
    sgp32_buf_init(&response, 16);
    assert_int_equal(sgp32_euicc_transmit(NULL, (const uint8_t *)"\0\0\0\0", 4, &response),
                     SGP32_ERR_INVALID_ARGUMENT);
    assert_int_equal(sgp32_euicc_transmit(fx.euicc, NULL, 4, &response), SGP32_ERR_INVALID_ARGUMENT);
    assert_int_equal(sgp32_euicc_transmit(fx.euicc, (const uint8_t *)"\0\0\0\0", 4, NULL),
                     SGP32_ERR_INVALID_ARGUMENT);
    /* A response buffer too small for the answer: an error, the buffer as it was. */
    uint8_t small[4];
    sgp32_buf tiny;
    sgp32_buf_init_fixed(&tiny, small, sizeof(small));
    static const uint8_t select[] = {0x00, 0xA4, 0x04, 0x00, 0x10, 0xA0, 0x00, 0x00, 0x05, 0x59, 0x10,
                                     0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00, 0x01, 0x00, 0x00};
    assert_int_not_equal(sgp32_euicc_transmit(fx.euicc, select, sizeof(select), &tiny), SGP32_OK);
    assert_int_equal(tiny.len, 0);
    sgp32_buf_free(&response);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(atr_offers_t0_and_t1),
        cmocka_unit_test_setup_teardown(select_answers_fci_fcp_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(select_t0_style_and_get_response, setup, teardown),
        cmocka_unit_test_setup_teardown(manage_channel_open_close, setup, teardown),
        cmocka_unit_test_setup_teardown(every_channel_with_its_class_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(get_eid_and_response_styles, setup, teardown),
        cmocka_unit_test_setup_teardown(store_data_chaining_long_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(store_data_sequence_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(store_data_request_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_apdus, setup, teardown),
        cmocka_unit_test_setup_teardown(reset_clears_the_apdu_state, setup, teardown),
        cmocka_unit_test_setup_teardown(long_response_in_rounds, setup, teardown),
        cmocka_unit_test_setup_teardown(random_bytes_never_break_the_card, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_host_arguments, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * The PC/SC APDU transport against euicc-sim behind vpcd (run by test_transport_pcsc.sh, which
 * starts pcscd and the simulator): open by reader-name substring over T=0 and over T=1, SELECT
 * ISD-R + GetEID, the T=0 terminal transport layer (a case 4 SELECT answered 61xx becomes the FCI
 * through an automatic GET RESPONSE; a case 3 one keeps its 61xx), reset by SCardReconnect,
 * close and reopen. Prints "ok" and exits 0, or says what failed and exits 1.
 *
 *   pcsc_transport_client READER_SUBSTRING
 */
#include <stdio.h>
#include <string.h>

#include "apdu_check.h"
#include "sgp32/text.h"

#define CHECK(cond, ...)                                                                                     \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "FAIL line %d: ", __LINE__);                                                     \
            fprintf(stderr, __VA_ARGS__);                                                                    \
            fprintf(stderr, "\n");                                                                           \
            return 1;                                                                                        \
        }                                                                                                    \
    } while (0)

static int session(const char *reader, sgp32_apdu_pcsc_protocol protocol, int expect_t /* -1: either */)
{
    sgp32_apdu_pcsc_config config = {.reader = reader, .protocol = protocol, .card_wait_ms = 20000};
    sgp32_apdu_transport *t;
    CHECK(sgp32_apdu_pcsc_new(&config, &t) == SGP32_OK, "new");
    sgp32_buf atr;
    sgp32_buf_init(&atr, SGP32_APDU_ATR_MAX);
    int rc = sgp32_apdu_transport_open(t, &atr);
    CHECK(rc == SGP32_OK, "open: %s", sgp32_err_str(rc));
    char atr_hex[2 * SGP32_APDU_ATR_MAX + 1];
    sgp32_hex_encode(atr.data, atr.len, atr_hex);
    CHECK(strcmp(atr_hex, "3B9F9680811FC78031E073FE211F633A204E8300900016") == 0, "ATR %s", atr_hex);
    CHECK(strstr(sgp32_apdu_pcsc_reader(t), reader) != NULL, "reader %s", sgp32_apdu_pcsc_reader(t));
    int in_use = sgp32_apdu_pcsc_protocol_in_use(t);
    CHECK(in_use == expect_t || (expect_t < 0 && in_use >= 0), "T=%d", in_use);
    printf("reader \"%s\", T=%d\n", sgp32_apdu_pcsc_reader(t), in_use);

    const char *eid = apdu_check_read_eid(t, 0);
    CHECK(eid && strcmp(eid, APDU_CHECK_EID) == 0, "EID on the basic channel");
    /* A logical channel. */
    const char *r = apdu_check_send(t, "0070000001", &rc);
    CHECK(r && strcmp(r, "019000") == 0, "MANAGE CHANNEL: %s", r ? r : sgp32_err_str(rc));
    eid = apdu_check_read_eid(t, 1);
    CHECK(eid && strcmp(eid, APDU_CHECK_EID) == 0, "EID on channel 1");
    r = apdu_check_send(t, "0070800100", &rc);
    CHECK(r && strcmp(r, "9000") == 0, "MANAGE CHANNEL close: %s", r ? r : sgp32_err_str(rc));
    /* Case 3 SELECT keeps 61xx on both protocols; case 4 gets the FCI (directly over T=1 and
     * through vpcd, or by the automatic GET RESPONSE over T=0 with a real T=0 card). */
    r = apdu_check_send(t, "00A4040010A0000005591010FFFFFFFF8900000100", &rc);
    CHECK(r && strncmp(r, "61", 2) == 0 && strlen(r) == 4, "case 3 SELECT: %s", r ? r : sgp32_err_str(rc));
    r = apdu_check_send(t, "00A4040010A0000005591010FFFFFFFF890000010000", &rc);
    CHECK(r && strncmp(r, "6F", 2) == 0 && strcmp(r + strlen(r) - 4, "9000") == 0, "case 4 SELECT: %s",
          r ? r : sgp32_err_str(rc));

    /* Reset: the ATR again, nothing selected. */
    rc = sgp32_apdu_transport_reset(t, &atr);
    CHECK(rc == SGP32_OK && atr.len > 0, "reset: %s", sgp32_err_str(rc));
    r = apdu_check_send(t, "80E2910006BF3E035C015A", &rc);
    CHECK(r && strcmp(r, "6985") == 0, "STORE DATA after reset: %s", r ? r : sgp32_err_str(rc));
    /* Close and open again. */
    sgp32_apdu_transport_close(t);
    rc = sgp32_apdu_transport_open(t, &atr);
    CHECK(rc == SGP32_OK, "reopen: %s", sgp32_err_str(rc));
    eid = apdu_check_read_eid(t, 0);
    CHECK(eid && strcmp(eid, APDU_CHECK_EID) == 0, "EID after reopen");
    sgp32_apdu_transport_destroy(t);
    sgp32_buf_free(&atr);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: pcsc_transport_client READER_SUBSTRING\n");
        return 2;
    }
    if (session(argv[1], SGP32_APDU_PCSC_T0, 0) || session(argv[1], SGP32_APDU_PCSC_T1, 1) ||
        session(argv[1], SGP32_APDU_PCSC_T0, 0) || session(argv[1], SGP32_APDU_PCSC_ANY, -1))
        return 1;
    /* No such reader: a clear error, quickly. */
    sgp32_apdu_pcsc_config none = {.reader = "no such reader here"};
    sgp32_apdu_transport *t;
    sgp32_buf atr;
    sgp32_buf_init(&atr, SGP32_APDU_ATR_MAX);
    CHECK(sgp32_apdu_pcsc_new(&none, &t) == SGP32_OK, "new");
    int rc = sgp32_apdu_transport_open(t, &atr);
    CHECK(rc == SGP32_ERR_TRANSPORT_CONNECT || rc == SGP32_ERR_TRANSPORT_DEVICE,
          "open of a missing reader: %s", sgp32_err_str(rc));
    sgp32_apdu_transport_destroy(t);
    sgp32_buf_free(&atr);
    printf("ok\n");
    return 0;
}

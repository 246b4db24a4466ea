#include "apdu_check.h"

#include <stdio.h>
#include <string.h>

#include "sgp32/text.h"

const char *apdu_check_send(sgp32_apdu_transport *t, const char *hex, int *rc)
{
    static char text[2 * 1024 + 1];
    sgp32_buf cmd, resp;
    sgp32_buf_init(&cmd, 512);
    sgp32_buf_init(&resp, 1024);
    const char *result = NULL;
    *rc = sgp32_hex_decode(hex, strlen(hex), &cmd);
    if (*rc == SGP32_OK)
        *rc = sgp32_apdu_transport_transmit(t, cmd.data, cmd.len, &resp);
    if (*rc == SGP32_OK) {
        sgp32_hex_encode(resp.data, resp.len, text);
        result = text;
    }
    sgp32_buf_free(&cmd);
    sgp32_buf_free(&resp);
    return result;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

const char *apdu_check_read_eid(sgp32_apdu_transport *t, int channel)
{
    static char eid[33];
    char apdu[128];
    int rc;
    /* SELECT ISD-R without Le: 61xx (T=0 style), or FCI + 9000 where the link fetched it. */
    snprintf(apdu, sizeof(apdu), "%02XA4040010A0000005591010FFFFFFFF8900000100", channel);
    const char *r = apdu_check_send(t, apdu, &rc);
    if (!r) {
        fprintf(stderr, "SELECT: %s\n", sgp32_err_str(rc));
        return NULL;
    }
    if (strncmp(r, "61", 2) == 0 && strlen(r) == 4) {
        snprintf(apdu, sizeof(apdu), "%02XC00000%s", channel, r + 2);
        r = apdu_check_send(t, apdu, &rc);
        if (!r) {
            fprintf(stderr, "GET RESPONSE: %s\n", sgp32_err_str(rc));
            return NULL;
        }
    }
    if (strncmp(r, "6F", 2) != 0 || !ends_with(r, "9000")) {
        fprintf(stderr, "SELECT answered %s\n", r);
        return NULL;
    }
    /* STORE DATA GetEID, last block, no Le. */
    snprintf(apdu, sizeof(apdu), "%02XE2910006BF3E035C015A", 0x80 | channel);
    r = apdu_check_send(t, apdu, &rc);
    if (!r) {
        fprintf(stderr, "STORE DATA: %s\n", sgp32_err_str(rc));
        return NULL;
    }
    if (strncmp(r, "61", 2) == 0 && strlen(r) == 4) {
        snprintf(apdu, sizeof(apdu), "%02XC00000%s", 0x80 | channel, r + 2);
        r = apdu_check_send(t, apdu, &rc);
        if (!r) {
            fprintf(stderr, "GET RESPONSE: %s\n", sgp32_err_str(rc));
            return NULL;
        }
    }
    if (strlen(r) != 10 + 32 + 4 || strncmp(r, "BF3E125A10", 10) != 0 || !ends_with(r, "9000")) {
        fprintf(stderr, "GetEID answered %s\n", r);
        return NULL;
    }
    memcpy(eid, r + 10, 32);
    eid[32] = '\0';
    return eid;
}

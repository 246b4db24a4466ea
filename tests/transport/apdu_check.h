/*
 * Shared by the APDU transport tests: the same short card session through any transport —
 * SELECT ISD-R (T=0 style, 61xx then GET RESPONSE) and STORE DATA GetEID — checked byte by byte.
 */
#ifndef SGP32_TEST_APDU_CHECK_H
#define SGP32_TEST_APDU_CHECK_H

#include "sgp32/apdu_transport.h"

#define APDU_CHECK_EID "89049032123451234512345678901235"

/* Transmit hex, return the response as upper-case hex (static storage), or NULL on a transport
 * error (*rc set). */
const char *apdu_check_send(sgp32_apdu_transport *t, const char *hex, int *rc);
/* SELECT ISD-R and GetEID on the basic channel (cla 0x80 | channel for STORE DATA). Returns the
 * EID as 32 digits (static storage) or NULL with a message on stderr. */
const char *apdu_check_read_eid(sgp32_apdu_transport *t, int channel);

#endif

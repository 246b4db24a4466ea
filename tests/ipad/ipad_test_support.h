/*
 * Shared by the ipad end-to-end tests: writing config files, running ipad and euicc-sim as child
 * processes, reaching the card through an APDU transport (euicc-sim's socket or a PC/SC reader),
 * ES10 over STORE DATA, and associating the test's eIM with the card (AddInitialEim).
 */
#ifndef SGP32_TEST_IPAD_SUPPORT_H
#define SGP32_TEST_IPAD_SUPPORT_H

#include "sgp32/apdu_transport.h"
#include "sgp32/crypto.h"

void ipad_test_write_text(const char *path, const char *text);
/* The file's text (a static buffer; empty when it cannot be read). */
char *ipad_test_read_text(const char *path);
/* Run argv[0] with stdout and stderr to log; the child dies with the test. Its exit status. */
int ipad_test_run(char *const argv[], const char *log);
/* An open transport to the card: the PC/SC reader when pcsc_reader is set, else euicc-sim's unix
 * socket card.sock in socket_dir. */
sgp32_apdu_transport *ipad_test_card_open(const char *socket_dir, const char *pcsc_reader);
/* One APDU, following 61xx with GET RESPONSE; data appended to out (may be NULL); the SW. */
unsigned ipad_test_apdu(sgp32_apdu_transport *t, const uint8_t *cmd, size_t len, sgp32_buf *out);
/* SELECT ISD-R, then the ES10 request in STORE DATA blocks; the response in out. */
void ipad_test_es10(sgp32_apdu_transport *t, const uint8_t *cmd, size_t len, sgp32_buf *out);

/* AddInitialEim of eim_id at address with pub; the token the card gave and the card's EID. */
typedef struct ipad_test_association {
    bool has_token;
    int64_t token;
    uint8_t eid[16];
} ipad_test_association;
void ipad_test_associate(sgp32_apdu_transport *t, const char *eim_id, const char *address,
                         const sgp32_ec_public_key *pub, ipad_test_association *out);

#endif

/* Shared by the lib/smdp files; not installed. */
#ifndef SGP32_SMDP_INTERNAL_H
#define SGP32_SMDP_INTERNAL_H

#include "sgp32/asn1_types.h"
#include "sgp32/log.h"
#include "sgp32/smdp_session.h"

/* Set a verdict (and its detail); returns SGP32_OK, the call itself went fine. */
int smdp_refuse(const sgp32_smdp_session *s, sgp32_smdp_check *check, sgp32_smdp_verdict verdict, int detail,
                const char *what);
/* Whether txid is the session's transactionId. */
bool smdp_txid_is(const sgp32_smdp_session *s, sgp32_bytes txid);
/* The log context of a session (transaction id in hex). */
void smdp_log_context(const sgp32_smdp_session *s, sgp32_log_context *ctx,
                      char txid_hex[2 * SGP32_SMDP_TXID_LEN + 1]);

#endif

/* Shared by the SM-DP+ server files of lib/smdp; not installed. */
#ifndef SGP32_SMDP_SERVER_INTERNAL_H
#define SGP32_SMDP_SERVER_INTERNAL_H

#include "sgp32/asn1_types.h"
#include "sgp32/log.h"
#include "sgp32/smdp_server.h"

int64_t server_now(const sgp32_smdp_server *srv);
int server_cc_max(const sgp32_smdp_server *srv);
bool server_address_ok(const sgp32_smdp_server *srv, const char *address);
const sgp32_smdp_profile_template *server_template(const sgp32_smdp_server *srv, const char *profile_type);
/* The CI PKID (AKI of CERT.DPauth) of credential i. */
sgp32_bytes server_ci_pkid(const sgp32_smdp_server *srv, size_t i);

/* Load the session of a transaction into s (and rec); on a miss, an expired session or a bad
 * record the status is set (8.10.1/3.9, or 1.2/4.2) and SGP32_OK returned. */
int server_session_load(const sgp32_smdp_server *srv, const uint8_t *txid, size_t txid_len,
                        sgp32_smdp_session_record *rec, sgp32_smdp_session *s, sgp32_smdp_status *status);
/* Encode s into rec->state and store rec. */
int server_session_save(const sgp32_smdp_server *srv, sgp32_smdp_session_record *rec,
                        const sgp32_smdp_session *s);
/* Forget a session (and unbind it from its order when the order still points at it). */
void server_session_end(const sgp32_smdp_server *srv, const char *txid_hex);

/* Tell the host (ES2+ handleDownloadProgressInfo). */
void server_event(const sgp32_smdp_server *srv, const sgp32_smdp_order *order, int point,
                  const sgp32_smdp_status *status);

/* Logging with the transaction (and EID) as context. */
void server_log(sgp32_log_level level, const char *txid_hex, const char *eid, const char *fmt, ...)
    SGP32_PRINTF(4, 5);

/* An order update that lost a race: 1.2/4.4. Other store failures: the sgp32_err. */
int server_order_update(const sgp32_smdp_server *srv, sgp32_smdp_order *order, sgp32_smdp_status *status);
/* One store transaction around a few writes when the store offers it (else no-ops). server_tx_end
 * commits when commit is true (and returns its error), else rolls back (and returns SGP32_OK). */
int server_tx_begin(const sgp32_smdp_server *srv);
int server_tx_end(const sgp32_smdp_server *srv, bool commit);
/* The order written (when update) and its event raised, in one transaction, so that the host's
 * record of the event commits with the change; the event is raised even when the write fails. */
int server_order_report(const sgp32_smdp_server *srv, sgp32_smdp_order *order, bool update, int point,
                        const sgp32_smdp_status *status);

/* An EID as ES2+ carries it: 32 decimal digits. */
bool es2_eid_valid(const char *eid);

/* Upper-case hex of raw bytes into out (2*len+1). */
void server_hex(const uint8_t *data, size_t len, char *out);

#endif

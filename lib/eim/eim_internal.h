/*
 * Private helpers shared by the ESipa functions of lib/eim (not part of the public API).
 */
#ifndef SGP32_EIM_INTERNAL_H
#define SGP32_EIM_INTERNAL_H

#include "sgp32/eim_server.h"
#include "sgp32/log.h"

/* eimTransactionIds of requests the eIM makes on its own, outside the operation queue. Their
 * first byte has the top bit set, so sgp32_eim_operation_id() never takes them for an operation:
 *   80 'C' 'E' 'R' 'T' 'S' 00 00   IpaEuiccDataRequest for CERT.EUM and CERT.EUICC
 *   81 <7 bytes op id>             IpaEuiccDataRequest for the EPR list of an operation whose
 *                                  redelivery the eUICC refused as a replay (the result is on it) */
enum { EIM_TXID_CERTIFICATES = 0x80, EIM_TXID_RECOVERY = 0x81 };

/* Log context for one eUICC. */
#define EIM_LOG_CONTEXT(eid_text) (&(sgp32_log_context){.component = "eim", .eid = (eid_text)})

/* The 32 digits of a 16-byte eidValue; SGP32_ERR_EID_CHECK_DIGITS / _BAD_TEXT when invalid. */
int eim_eid_text(sgp32_bytes eid_value, char text[SGP32_EIM_EID_DIGITS + 1]);

/* PK.EUICC from the eUICC's registered certificate; SGP32_ERR_NOT_FOUND when none is known. */
int eim_euicc_key(const sgp32_eim_euicc *euicc, sgp32_ec_public_key *key);

/* Apply a summary's profile updates to the store (the eIM's belief about the eUICC). */
int eim_apply_profile_updates(const sgp32_eim_server *srv, const char *eid,
                              const sgp32_eim_result_summary *s);

/* Sequence numbers to acknowledge in one ProvideEimPackageResult answer. */
enum { EIM_ACK_MAX = 64 };
typedef struct eim_acks {
    int64_t seq[EIM_ACK_MAX];
    size_t count;
} eim_acks;

/* Take one EuiccPackageResult BF51 (der: its TLV) from euicc: verify its signature, match it to
 * its operation, deduplicate on seqNumber, record the result. *ack gets seqNumber when the eUICC
 * may delete the result (verified and stored, or a duplicate). SGP32_ERR_CRYPTO_BAD_SIGNATURE
 * when it does not verify (nothing is recorded). */
int eim_take_package_result(const sgp32_eim_server *srv, const sgp32_eim_euicc *euicc, sgp32_bytes der,
                            eim_acks *acks, sgp32_eim_esipa_info *info);

/* Take one notification: deduplicate, update profiles, queue it for its SM-DP+ when it is a
 * full form addressed elsewhere. eid may be "" (then it is looked up from the PIR's relay
 * session). pending: the PendingNotification TLV as received (BF37 / 30 / compact). */
typedef struct eim_notification {
    const sgp32_notification_metadata *metadata; /* NULL for a compact PIR */
    int64_t seq_number;
    bool is_pir, pir_success, compact;
    sgp32_bytes pir_transaction_id; /* PIR only */
    sgp32_bytes pending;            /* the TLV to forward */
} eim_notification;
/* A notification of either form as an eim_notification (views into p). */
void eim_notification_from(const sgp32_sgp32_pending_notification *p, eim_notification *n);
int eim_take_notification(const sgp32_eim_server *srv, const char *eid, const eim_notification *n,
                          eim_acks *acks);

/* The next package of euicc's queue as its own TLV (BF51 / BF52 / BF54), appended to out, for
 * GetEimPackage and TransferEimPackage alike (eim_delivery.c): the oldest open operation; a
 * queued PSMO/eCO is signed with the next counter and becomes delivered, a delivered one is sent
 * again byte for byte; CERT.EUICC or a lost result is asked for first when needed. euicc->counter
 * follows the counter used. info->operation_id and info->outcome say what was chosen.
 * SGP32_ERR_NOT_FOUND (nothing appended) when no operation is open. */
int eim_delivery_next(const sgp32_eim_server *srv, sgp32_eim_euicc *euicc, sgp32_buf *out,
                      sgp32_eim_esipa_info *info);

/* Take the content of ProvideEimPackageResult (also when HandleNotification carries one). */
int eim_take_eim_package_result(const sgp32_eim_server *srv, const sgp32_eim_euicc *euicc,
                                const sgp32_eim_package_result *result, eim_acks *acks,
                                sgp32_eim_esipa_info *info);

#endif

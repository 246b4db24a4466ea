/*
 * sgp32 eIM server core (lib/eim, library sgp32_eim_server), sans I/O like lib/smdp: the ESipa
 * functions of SGP.32 §5.14 over decoded messages, per-eUICC operation queues, package building
 * and signing, result verification, the indirect-download relay and the fleet REST API. The
 * HTTP server (apps/eimd) only moves bytes:
 *
 *   ESipa ASN.1 body --sgp32_eim_esipa_handle--> answer DER (empty: HTTP 204)
 *   ESipa JSON body  --sgp32_eim_esipa_json_handle--> answer JSON (converted with lib/transport)
 *   REST request     --sgp32_eim_rest_handle--> HTTP status + JSON body
 *
 * The host owns persistence (sgp32_eim_store; SQLite in lib/eim/eim_store_sqlite.c), the clock
 * and the ES9+ leg to SM-DP+s (sgp32_eim_es9_call_fn: smdp requests as DER of the ES9+ ASN.1
 * binding, like es9_client.h).
 *
 * An operation is one eIM package for one eUICC (docs/eimd.md):
 *
 *   queued --GetEimPackage / TransferEimPackage--> delivered --verified result--> done / failed
 *   queued/delivered --cancel (REST)--> cancelled      queued/delivered --expiry--> expired
 *
 * Pull (the IPA polls, GetEimPackage) and push (the host POSTs TransferEimPackage to the IPA's
 * push address) hand out the same queue the same way (lib/eim/eim_delivery.c).
 *
 * At-least-once delivery with exactly-once effect: a PSMO/eCO package is signed once, at its
 * first delivery, with the next counterValue of the eUICC; until a result arrives every
 * GetEimPackage redelivers the same bytes, so the eUICC (counter replay protection) executes it
 * at most once. Results are deduplicated on (EID, seqNumber) and acknowledged again.
 */
#ifndef SGP32_EIM_SERVER_H
#define SGP32_EIM_SERVER_H

#include "sgp32/asn1_types.h"
#include "sgp32/certificate.h"
#include "sgp32/crypto.h"

enum {
    SGP32_EIM_EID_DIGITS = 32,
    SGP32_EIM_ICCID_MAX = 20,
    SGP32_EIM_ID_MAX = 128,      /* eimId */
    SGP32_EIM_ADDRESS_MAX = 255, /* an FQDN[:port] */
    SGP32_EIM_NAME_MAX = 64,     /* labels, token names, actors */
    SGP32_EIM_KEY_MAX = 128,     /* idempotency keys */
    SGP32_EIM_TXID_LEN = 8,      /* eimTransactionId: the operation id, 8 bytes big-endian */
    SGP32_EIM_RELAY_TXID_MAX = 16,
    SGP32_EIM_PROFILE_UPDATES_MAX = 32,
    SGP32_EIM_OPERATION_JSON_MAX = 16 << 10, /* one operation as the API accepted it */
    SGP32_EIM_REST_BODY_MAX = 8 << 20,       /* a bulk create of 10,000+ EIDs fits */
    SGP32_EIM_PUSH_ACKS_MAX = 32,            /* seqNumbers one push answer can free */
};

/* ------------------------------------------------------------------ records */

typedef enum sgp32_eim_op_state {
    SGP32_EIM_OP_QUEUED = 0,
    SGP32_EIM_OP_DELIVERED = 1,
    SGP32_EIM_OP_DONE = 2,
    SGP32_EIM_OP_FAILED = 3,
    SGP32_EIM_OP_EXPIRED = 4,
    SGP32_EIM_OP_CANCELLED = 5,
    SGP32_EIM_OP_STATE_COUNT
} sgp32_eim_op_state;

/* Which package an operation becomes. */
typedef enum sgp32_eim_op_kind {
    SGP32_EIM_OP_PSMO = 1,           /* EuiccPackageRequest BF51, psmoList */
    SGP32_EIM_OP_ECO = 2,            /* EuiccPackageRequest BF51, ecoList */
    SGP32_EIM_OP_IPA_EUICC_DATA = 3, /* IpaEuiccDataRequest BF52 */
    SGP32_EIM_OP_DOWNLOAD = 4,       /* ProfileDownloadTriggerRequest BF54 */
} sgp32_eim_op_kind;

/* "queued", "delivered", ...; "psmo", "eco", "ipaEuiccData", "download". */
const char *sgp32_eim_op_state_name(sgp32_eim_op_state state);
const char *sgp32_eim_op_kind_name(sgp32_eim_op_kind kind);
/* -1 when unknown. */
int sgp32_eim_op_state_from_name(const char *name);

/* An eUICC the eIM manages. Owns its buffers (sgp32_eim_euicc_init / _free). */
typedef struct sgp32_eim_euicc {
    char eid[SGP32_EIM_EID_DIGITS + 1];
    char label[SGP32_EIM_NAME_MAX + 1]; /* the fleet owner's name for it, may be "" */
    sgp32_buf euicc_certificate;        /* CERT.EUICC DER, empty until known */
    sgp32_buf eum_certificate;          /* CERT.EUM DER */
    sgp32_buf euicc_info1;              /* the last EUICCInfo1 BF20 seen (InitiateAuthentication) */
    int64_t counter;                    /* the last counterValue signed for it */
    bool has_token;                     /* associationToken the eUICC holds for this eIM */
    int64_t token;
    bool associated;               /* false after a deleteEim of this eIM succeeded */
    int64_t registered, last_seen; /* unix seconds; last_seen 0: never */
    uint8_t rplmn[3];              /* last rPLMN reported */
    bool has_rplmn;
    int64_t state_change_cause; /* last stateChangeCause reported, -1 none */
    /* Where the eIM pushes packages (TransferEimPackage), host:port of the IPA's HTTPS listener;
     * "": the IPA does not accept injection, it polls. */
    char push_address[SGP32_EIM_ADDRESS_MAX + 1];
    int64_t version; /* optimistic concurrency: euicc_update compares and bumps it */
} sgp32_eim_euicc;

void sgp32_eim_euicc_init(sgp32_eim_euicc *e);
void sgp32_eim_euicc_free(sgp32_eim_euicc *e);

typedef enum sgp32_eim_profile_state {
    SGP32_EIM_PROFILE_DISABLED = 0,
    SGP32_EIM_PROFILE_ENABLED = 1,
} sgp32_eim_profile_state;

/* What the eIM believes about one profile of an eUICC. */
typedef struct sgp32_eim_profile {
    char iccid[SGP32_EIM_ICCID_MAX + 1]; /* digits, no F padding */
    sgp32_eim_profile_state state;
    int64_t profile_class; /* 0 test, 1 provisioning, 2 operational, -1 unknown */
    char name[SGP32_EIM_NAME_MAX + 1];
    char service_provider[SGP32_EIM_NAME_MAX + 1];
    bool fallback;
    int64_t updated;
} sgp32_eim_profile;

/* One operation: one package for one eUICC. Owns its buffers (_init / _free). */
typedef struct sgp32_eim_operation {
    int64_t id; /* assigned by op_insert; eimTransactionId is its 8-byte big-endian form */
    char eid[SGP32_EIM_EID_DIGITS + 1];
    sgp32_eim_op_kind kind;
    sgp32_eim_op_state state;
    sgp32_buf request;     /* the operation as the API accepted it: canonical JSON (see below) */
    int64_t counter_value; /* 0 until signed */
    sgp32_buf package;     /* the package delivered (BF51 / BF52 / BF54), kept for redelivery */
    sgp32_buf result;      /* the result as received (EuiccPackageResult BF51, BF52, BF54 ...) */
    sgp32_buf result_json; /* sgp32_eim_result_summary.json */
    bool awaiting_result;  /* the eUICC refused a redelivery as a replay: the result is on the card */
    int64_t created, delivered, completed, expires; /* unix seconds; 0: not yet / never */
    int delivery_count;
    char created_by[SGP32_EIM_NAME_MAX + 1];     /* API token name */
    char idempotency_key[SGP32_EIM_KEY_MAX + 1]; /* "" none */
    int64_t version;
} sgp32_eim_operation;

void sgp32_eim_operation_init(sgp32_eim_operation *op);
void sgp32_eim_operation_free(sgp32_eim_operation *op);
/* eimTransactionId <-> operation id. */
void sgp32_eim_transaction_id(int64_t op_id, uint8_t out[SGP32_EIM_TXID_LEN]);
/* -1 when txid is not one of ours. */
int64_t sgp32_eim_operation_id(const uint8_t *txid, size_t len);

/* An indirect-download session the eIM relays (ES9+ transactionId -> who and where). */
typedef struct sgp32_eim_relay {
    uint8_t transaction_id[SGP32_EIM_RELAY_TXID_MAX];
    size_t transaction_id_len;
    char eid[SGP32_EIM_EID_DIGITS + 1];
    char smdp_address[SGP32_EIM_ADDRESS_MAX + 1];
    int64_t operation_id; /* the download operation, 0 none */
    int64_t expires;
} sgp32_eim_relay;

/* A notification waiting to be forwarded to an SM-DP+ (ES9+ handleNotification). */
typedef struct sgp32_eim_outbox_item {
    int64_t id;
    char eid[SGP32_EIM_EID_DIGITS + 1];
    char address[SGP32_EIM_ADDRESS_MAX + 1];
    sgp32_buf notification; /* PendingNotification: BF37 PIR or 30 OtherSignedNotification */
    int attempts;
    int64_t next_attempt;
} sgp32_eim_outbox_item;

void sgp32_eim_outbox_item_init(sgp32_eim_outbox_item *item);
void sgp32_eim_outbox_item_free(sgp32_eim_outbox_item *item);

/* An audit/event log entry: who did what, when (results keep the eUICC-signed bytes in the
 * operation; detail points at it). */
typedef struct sgp32_eim_event {
    int64_t id;
    int64_t time;
    char actor[SGP32_EIM_NAME_MAX + 1];  /* token name, "esipa" for devices, "eimd" */
    char action[SGP32_EIM_NAME_MAX + 1]; /* "operation.create", "operation.result", "device.register", ... */
    char eid[SGP32_EIM_EID_DIGITS + 1];  /* "" none */
    int64_t operation_id;                /* 0 none */
    char detail[512];                    /* short JSON or text */
} sgp32_eim_event;

typedef enum sgp32_eim_role {
    SGP32_EIM_ROLE_READ_ONLY = 0, /* GET only */
    SGP32_EIM_ROLE_OPERATOR = 1,  /* + devices and operations */
    SGP32_EIM_ROLE_ADMIN = 2,     /* + tokens */
} sgp32_eim_role;

const char *sgp32_eim_role_name(sgp32_eim_role role);
int sgp32_eim_role_from_name(const char *name); /* -1 unknown */

/* An API token: only the SHA-256 of the secret is kept. */
typedef struct sgp32_eim_token {
    char name[SGP32_EIM_NAME_MAX + 1];
    sgp32_eim_role role;
    uint8_t secret_sha256[SGP32_SHA256_LEN];
    int64_t created;
} sgp32_eim_token;

/* Listing filter and page (keyset pagination: ids > after_id, ascending). */
typedef struct sgp32_eim_op_filter {
    const char *eid;  /* NULL: all */
    int state;        /* -1: all */
    int64_t after_id; /* 0: from the start */
    size_t limit;     /* 0: 100 */
} sgp32_eim_op_filter;

/* ------------------------------------------------------------------ store */

/*
 * The store (design principle 9). Every call is atomic on its own and safe from several threads.
 * Missing rows are SGP32_ERR_NOT_FOUND; *_update return SGP32_ERR_STATE when the row changed since
 * it was read (version) and *_insert when it already exists. List calls stop early when the
 * callback returns non-zero (and return SGP32_OK). No call scans a table for the ESipa path:
 * op_next, result_seen, relay_get are indexed lookups whatever the backlog.
 */
typedef struct sgp32_eim_store {
    void *ctx;
    /* eUICCs */
    int (*euicc_insert)(void *ctx, const sgp32_eim_euicc *e);
    int (*euicc_get)(void *ctx, const char *eid, sgp32_eim_euicc *out);
    int (*euicc_update)(void *ctx, sgp32_eim_euicc *e); /* bumps e->version */
    /* Cheap path of every poll: last_seen, rPLMN, stateChangeCause only (no version check). */
    int (*euicc_touch)(void *ctx, const char *eid, int64_t now, const uint8_t *rplmn, int64_t cause);
    /* Durably increment the eUICC's counter and return the new value (strictly increasing). */
    int (*euicc_counter_next)(void *ctx, const char *eid, int64_t *value);
    int (*euicc_list)(void *ctx, const char *after_eid, size_t limit,
                      int (*fn)(void *arg, const sgp32_eim_euicc *e), void *arg);
    /* Optional (NULL: nobody is pushed to): the EIDs after after_eid, in order, at most limit, of
     * the eUICCs that have a push_address and an open (queued or delivered) operation. */
    int (*euicc_push_candidates)(void *ctx, const char *after_eid, size_t limit,
                                 int (*fn)(void *arg, const char *eid), void *arg);
    /* profiles (the eIM's belief, from results and notifications) */
    int (*profile_put)(void *ctx, const char *eid, const sgp32_eim_profile *p); /* insert or replace */
    int (*profile_delete)(void *ctx, const char *eid, const char *iccid);
    int (*profile_delete_all)(void *ctx, const char *eid);
    int (*profile_list)(void *ctx, const char *eid, int (*fn)(void *arg, const sgp32_eim_profile *p),
                        void *arg);
    /* operations */
    int (*op_insert)(void *ctx, sgp32_eim_operation *op); /* sets op->id, op->version */
    int (*op_get)(void *ctx, int64_t id, sgp32_eim_operation *out);
    /* The oldest queued or delivered operation of the eUICC (FIFO); SGP32_ERR_NOT_FOUND: none. */
    int (*op_next)(void *ctx, const char *eid, sgp32_eim_operation *out);
    int (*op_update)(void *ctx, sgp32_eim_operation *op); /* bumps op->version */
    int (*op_list)(void *ctx, const sgp32_eim_op_filter *filter,
                   int (*fn)(void *arg, const sgp32_eim_operation *op), void *arg);
    /* The operation created earlier with this idempotency key by this token; NOT_FOUND: none. */
    int (*op_find_idempotent)(void *ctx, const char *created_by, const char *key, sgp32_eim_operation *out);
    /* Queued/delivered operations whose expiry passed become expired; *count how many. */
    int (*op_expire)(void *ctx, int64_t now, size_t *count);
    /* Operations per state (counts[SGP32_EIM_OP_STATE_COUNT]), for status and logs. */
    int (*op_count)(void *ctx, int64_t counts[SGP32_EIM_OP_STATE_COUNT]);
    /* Results already taken, for deduplication: records (eid, seq); *seen true if it was there. */
    int (*result_seen)(void *ctx, const char *eid, int64_t seq_number, bool *seen);
    /* indirect-download relay sessions */
    int (*relay_put)(void *ctx, const sgp32_eim_relay *r); /* insert or replace */
    int (*relay_get)(void *ctx, const uint8_t *txid, size_t len, sgp32_eim_relay *out);
    int (*relay_delete)(void *ctx, const uint8_t *txid, size_t len);
    /* Relay sessions whose expiry passed (never looked up again: no status, no cancel) are deleted;
     * *count how many. Optional. */
    int (*relay_purge)(void *ctx, int64_t now, size_t *count);
    /* notifications to forward */
    int (*outbox_put)(void *ctx, sgp32_eim_outbox_item *item); /* sets item->id */
    /* The first item due at now (next_attempt <= now); NOT_FOUND: none. */
    int (*outbox_next)(void *ctx, int64_t now, sgp32_eim_outbox_item *out);
    int (*outbox_update)(void *ctx, const sgp32_eim_outbox_item *item); /* attempts, next_attempt */
    int (*outbox_delete)(void *ctx, int64_t id);
    /* audit log */
    int (*event_append)(void *ctx, sgp32_eim_event *ev); /* sets ev->id */
    int (*event_list)(void *ctx, const char *eid, int64_t after_id, size_t limit,
                      int (*fn)(void *arg, const sgp32_eim_event *ev), void *arg);
    /* API tokens (beside those of the config file) */
    int (*token_insert)(void *ctx, const sgp32_eim_token *t);
    int (*token_find)(void *ctx, const uint8_t secret_sha256[SGP32_SHA256_LEN], sgp32_eim_token *out);
    int (*token_delete)(void *ctx, const char *name);
    int (*token_list)(void *ctx, int (*fn)(void *arg, const sgp32_eim_token *t), void *arg);
    /* Optional (both NULL: every call stands alone): the calls this thread makes between tx_begin
     * and tx_end are one transaction; tx_end(commit=false) rolls back. No crypto in between. */
    int (*tx_begin)(void *ctx);
    int (*tx_end)(void *ctx, bool commit);
} sgp32_eim_store;

/* SQLite implementation (lib/eim/eim_store_sqlite.c): WAL, prepared statements, one connection
 * behind a mutex. path ":memory:" works for tests. */
typedef struct sgp32_eim_sqlite sgp32_eim_sqlite;
int sgp32_eim_sqlite_open(const char *path, sgp32_eim_sqlite **out);
void sgp32_eim_sqlite_close(sgp32_eim_sqlite *db);
sgp32_eim_store sgp32_eim_sqlite_store(sgp32_eim_sqlite *db);
/* PRAGMA synchronous FULL (fsync per commit) instead of NORMAL. */
int sgp32_eim_sqlite_synchronous(sgp32_eim_sqlite *db, bool full);

/* ------------------------------------------------------------------ operations (JSON) */

/*
 * The operation JSON of the REST API (docs/eim-api.yaml), exactly one key:
 *
 *   {"psmo": [ACTION, ...]}  ACTION is one of
 *       {"enable": {"iccid": "8944...", "rollback": true}}      rollback optional, default false
 *       {"disable": {"iccid": ...}}   {"delete": {"iccid": ...}}
 *       {"listProfileInfo": {}}  or with one of "iccid", "isdpAid" (hex), "profileClass" (0..2),
 *                                and optional "tags" (hex tag list)
 *       {"getRAT": {}}
 *       {"configureImmediateEnable": {"immediateEnable": true, "defaultSmdpOid": "1.2.3",
 *                                     "defaultSmdpAddress": "smdp.example.com"}}  (each optional)
 *       {"setFallbackAttribute": {"iccid": ...}}   {"unsetFallbackAttribute": {}}
 *       {"setDefaultDpAddress": {"address": "smdp.example.com"}}   ("" clears it)
 *   {"eco": [ACTION, ...]}   ACTION is one of
 *       {"addEim": EIMCONFIG}   {"updateEim": EIMCONFIG}   {"deleteEim": {"eimId": ...}}
 *       {"listEim": {}}
 *     EIMCONFIG: {"eimId": str (required), "eimFqdn": str, "eimIdType": "oid"|"fqdn"|"proprietary",
 *                 "counterValue": int, "associationToken": int, "eimPublicKey": base64 DER of a
 *                 SubjectPublicKeyInfo or a certificate, "trustedTls": the same, "protocols":
 *                 ["retrieveHttps","retrieveCoaps","injectHttps","injectCoaps","proprietary"],
 *                 "euiccCiPKId": hex, "indirectProfileDownload": bool}
 *   {"ipaEuiccData": {"tags": [NAME, ...], "notificationSeq": int, "notificationEvent": int,
 *                     "resultSeq": int, "euiccCiPKId": hex}}        tags required, rest optional;
 *     NAME: notificationsList defaultSmdpAddress euiccPackageResultList euiccInfo1 euiccInfo2
 *           rootSmdsAddress associationToken eumCertificate euiccCertificate ipaCapabilities
 *           deviceInfo
 *   {"download": {"activationCode": "LPA:1$smdp.example.com$MATCHING-ID"}}  ("LPA:" optional)
 *   {"download": {"defaultSmdp": true}}   {"download": {"smds": "smds.example.com"}}
 *   {"download": {}}   (the eIM holds the data: eimDownloadDataHandling)
 *
 * A psmo or eco list has 1..16 actions. Unknown keys, wrong types, bad values: rejected.
 */
typedef struct sgp32_eim_operation_spec {
    sgp32_eim_op_kind kind;
    sgp32_buf canonical; /* compact JSON of the accepted operation (stored as op->request) */
} sgp32_eim_operation_spec;

void sgp32_eim_operation_spec_init(sgp32_eim_operation_spec *spec);
void sgp32_eim_operation_spec_free(sgp32_eim_operation_spec *spec);
/* Check an operation JSON value (jansson json_t *, passed as void * to keep jansson out of this
 * header) or text. On SGP32_ERR_BAD_TEXT error[] says what is wrong ("psmo[1].enable.iccid: ..."). */
int sgp32_eim_operation_parse_json(const void *json_value, sgp32_eim_operation_spec *spec, char *error,
                                   size_t error_size);
int sgp32_eim_operation_parse(const char *text, size_t len, sgp32_eim_operation_spec *spec, char *error,
                              size_t error_size);

/* What the eIM signs with (its eimId, key, token rule): see sgp32_eim_server_config. */
typedef struct sgp32_eim_signer {
    const char *eim_id;
    const sgp32_ec_private_key *key;
} sgp32_eim_signer;

/*
 * The package of op (its kind and op->request) for euicc, appended to out:
 *   PSMO / ECO: EuiccPackageRequest BF51 {eimId, EID, counter_value, eimTransactionId = op id,
 *               the list}, signed with signer->key and the eUICC's association token;
 *   IPA_EUICC_DATA: IpaEuiccDataRequest BF52 with eimTransactionId;
 *   DOWNLOAD: ProfileDownloadTriggerRequest BF54 with eimTransactionId.
 */
int sgp32_eim_operation_build(const sgp32_eim_signer *signer, const sgp32_eim_operation *op,
                              const sgp32_eim_euicc *euicc, int64_t counter_value, sgp32_buf *out);

/* A change to the eIM's belief about an eUICC's profiles, taken from a result or notification. */
typedef enum sgp32_eim_profile_change {
    SGP32_EIM_CHANGE_UPSERT = 1,  /* insert or replace profile (listProfileInfo entry, installed) */
    SGP32_EIM_CHANGE_ENABLED,     /* profile.iccid enabled (every other one disabled) */
    SGP32_EIM_CHANGE_DISABLED,    /* profile.iccid disabled */
    SGP32_EIM_CHANGE_DELETED,     /* profile.iccid gone */
    SGP32_EIM_CHANGE_FALLBACK,    /* profile.iccid has the fallback attribute (others not) */
    SGP32_EIM_CHANGE_NO_FALLBACK, /* no profile has it */
} sgp32_eim_profile_change;

typedef struct sgp32_eim_profile_update {
    sgp32_eim_profile_change change;
    sgp32_eim_profile profile; /* iccid always; the rest for UPSERT */
} sgp32_eim_profile_update;

/* What a result says, for the operation record, the API and the profile table. */
typedef struct sgp32_eim_result_summary {
    bool success;        /* every action reported ok (or the data / PIR came back) */
    bool has_seq_number; /* EuiccPackageResult seqNumber */
    int64_t seq_number;
    sgp32_buf
        json; /* e.g. {"seqNumber":5,"results":[{"enable":"ok"},{"delete":"profileNotInDisabledState"}]} */
    bool profiles_listed; /* a listProfileInfo result: the UPSERT updates are the eUICC's whole list */
    sgp32_eim_profile_update updates[SGP32_EIM_PROFILE_UPDATES_MAX];
    size_t update_count;
    int64_t new_association_token; /* addEim ok returned a token (-1: none) */
} sgp32_eim_result_summary;

void sgp32_eim_result_summary_init(sgp32_eim_result_summary *s);
void sgp32_eim_result_summary_free(sgp32_eim_result_summary *s);

/*
 * Summarise a decoded result of op. For PSMO/ECO: the EuiccPackageResult (already verified);
 * enable/disable/delete/setFallback results give profile updates for the ICCIDs op->request
 * named, listProfileInfo the whole list. For IPA_EUICC_DATA: the IpaEuiccDataResponse (data as
 * base64 / text fields). For DOWNLOAD: the ProfileDownloadTriggerResult (PIR ICCID and result).
 */
int sgp32_eim_result_summarise_package(const sgp32_eim_operation *op,
                                       const sgp32_euicc_package_result *result,
                                       sgp32_eim_result_summary *out);
int sgp32_eim_result_summarise_ipa_euicc_data(const sgp32_eim_operation *op,
                                              const sgp32_ipa_euicc_data_response *response,
                                              sgp32_eim_result_summary *out);
int sgp32_eim_result_summarise_download(const sgp32_eim_operation *op,
                                        const sgp32_profile_download_trigger_result *result,
                                        sgp32_eim_result_summary *out);
/* Profile updates from a notification the IPA passed on, by its metadata (full or compact form):
 * a PIR (is_pir) that succeeded -> UPSERT of its ICCID; profileManagementOperation enable /
 * disable / delete -> ENABLED / DISABLED / DELETED. json: {"seqNumber":..,"operation":"enable",...}. */
int sgp32_eim_result_summarise_notification(const sgp32_notification_metadata *metadata, bool is_pir,
                                            bool pir_success, sgp32_eim_result_summary *out);

/* ------------------------------------------------------------------ server */

/* The ES9+ leg to an SM-DP+ (ES9+' of the indirect download, notification forwarding). request:
 * DER of InitiateAuthenticationRequest BF39 / AuthenticateClientRequest BF3B /
 * GetBoundProfilePackageRequest BF3A / CancelSessionRequestEs9 BF41 / HandleNotification BF3D,
 * as es9_client.h takes them. On SGP32_OK: either *subject_code == "" and response holds the
 * answer's DER (empty for handleNotification), or the function failed with subject/reason. */
typedef struct sgp32_eim_es9_status {
    char subject_code[32];
    char reason_code[32];
    char message[160];
} sgp32_eim_es9_status;
typedef int (*sgp32_eim_es9_call_fn)(void *ctx, const char *smdp_address, const uint8_t *request, size_t len,
                                     sgp32_buf *response, sgp32_eim_es9_status *status);

typedef struct sgp32_eim_server_config {
    const char *eim_id;                      /* eimId in every package (e.g. "eim.example.com") */
    const char *eim_fqdn;                    /* where IPAs reach us (host[:port]), for EimConfigurationData */
    const sgp32_ec_private_key *signing_key; /* signs packages */
    sgp32_bytes signing_certificate;         /* its certificate (DER): eimPublicKeyData */
    sgp32_bytes tls_certificate;             /* TLS server or CA certificate (DER): trustedPublicKeyDataTls */
    const sgp32_ci_set *trusted_cis;         /* verify eUICC/EUM certificates */
    sgp32_eim_store store;
    int64_t (*now)(void);           /* NULL: time(NULL) */
    int64_t operation_ttl;          /* seconds an operation waits before it expires; 0: 30 days */
    int64_t relay_ttl;              /* seconds a relay session lives; 0: 1800 */
    sgp32_eim_es9_call_fn es9_call; /* NULL: no indirect download (InitiateAuthentication fails 127) */
    void *es9_ctx;
    const char *default_smdp_address; /* for download {} and ProfileDownloadTrigger without data */
    /* SM-DP+s an IPA may name on its own in InitiateAuthentication (beside the activation code of
     * its download operation and the default): the eIM is not an open relay. */
    const char *const *smdp_allowed;
    size_t smdp_allowed_count;
    bool accept_unsigned_results_insecure_for_tests; /* never in production */
    /* The host pushes packages (TransferEimPackage over HTTPS): EimConfigurationData announces
     * eimInjectHttps beside eimRetrieveHttps. */
    bool push_https;
} sgp32_eim_server_config;

typedef struct sgp32_eim_server {
    sgp32_eim_server_config config;
    sgp32_eim_signer signer;
} sgp32_eim_server;

int sgp32_eim_server_init(sgp32_eim_server *srv, const sgp32_eim_server_config *config);
int64_t sgp32_eim_now(const sgp32_eim_server *srv);
/* Whether address is in config.smdp_allowed (case-insensitive). */
bool sgp32_eim_smdp_allowed(const sgp32_eim_server *srv, const char *address);
/* Append an audit event (best effort: a failure is logged, not returned). */
void sgp32_eim_audit(const sgp32_eim_server *srv, const char *actor, const char *action, const char *eid,
                     int64_t operation_id, const char *detail);

/* Register an eUICC (REST and import). Certificates, when given, are verified against the CIs
 * and the EID before anything is stored: SGP32_ERR_CRYPTO_* on failure. */
int sgp32_eim_register(const sgp32_eim_server *srv, const sgp32_eim_euicc *euicc, const char *actor);

/*
 * The EimConfigurationData of this eIM for an eUICC (counterValue and associationToken as
 * recorded for it) as DER 30 {...}, and the AddInitialEim request BF57 carrying it: what a factory
 * writes into a new eUICC, or what an addEim eCO on another eIM carries.
 */
int sgp32_eim_configuration_data_encode(const sgp32_eim_server *srv, const sgp32_eim_euicc *euicc,
                                        sgp32_buf *out);
int sgp32_eim_add_initial_eim_request(const sgp32_eim_server *srv, const sgp32_eim_euicc *euicc,
                                      sgp32_buf *out);

/* What one ESipa exchange did, for the host's log line. */
typedef struct sgp32_eim_esipa_info {
    uint32_t function_tag;              /* BF4F, BF50, ... of the request; 0 if undecodable */
    char eid[SGP32_EIM_EID_DIGITS + 1]; /* "" when unknown */
    int64_t operation_id;               /* 0 none */
    char outcome[192];                  /* "package delivered", "no package", "result verified" ... */
    int http_status;                    /* 200, 204 (HandleNotification) or 400 (not ESipa) */
    /* TransferEimPackage answers only: the seqNumbers the eUICC may now delete. A push answer has
     * no way back to the IPA: push them (sgp32_eim_transfer_eim_acknowledgements), or they are
     * acknowledged again when the IPA reports them by ProvideEimPackageResult. */
    int64_t acknowledge[SGP32_EIM_PUSH_ACKS_MAX];
    size_t acknowledge_count;
} sgp32_eim_esipa_info;

/* ASN.1 binding: one EsipaMessageFromIpaToEim in, the EsipaMessageFromEimToIpa out (empty with
 * http_status 204 for HandleNotification). A body that is not an ESipa message: SGP32_OK with
 * http_status 400 and an empty response. Function errors are the spec's error alternatives. */
int sgp32_eim_esipa_handle(const sgp32_eim_server *srv, const uint8_t *body, size_t len, sgp32_buf *response,
                           sgp32_eim_esipa_info *info);
/* JSON binding (POST /gsma/rsp2/esipa/<function>): the same through lib/transport's converters.
 * response: JSON text (empty for 204). */
int sgp32_eim_esipa_json_handle(const sgp32_eim_server *srv, const char *function, const char *body,
                                size_t len, sgp32_buf *response, sgp32_eim_esipa_info *info);

/* One per ESipa function (SGP.32 §5.14), each in its own file; out receives the whole answer. */
int sgp32_eim_get_eim_package(const sgp32_eim_server *srv, const sgp32_get_eim_package_request *req,
                              sgp32_buf *out, sgp32_eim_esipa_info *info);
int sgp32_eim_provide_eim_package_result(const sgp32_eim_server *srv,
                                         const sgp32_provide_eim_package_result *req, sgp32_buf *out,
                                         sgp32_eim_esipa_info *info);
int sgp32_eim_handle_notification(const sgp32_eim_server *srv, const sgp32_handle_notification_esipa *req,
                                  sgp32_eim_esipa_info *info);
int sgp32_eim_initiate_authentication(const sgp32_eim_server *srv,
                                      const sgp32_initiate_authentication_request_esipa *req, sgp32_buf *out,
                                      sgp32_eim_esipa_info *info);
int sgp32_eim_authenticate_client(const sgp32_eim_server *srv,
                                  const sgp32_authenticate_client_request_esipa *req, sgp32_buf *out,
                                  sgp32_eim_esipa_info *info);
int sgp32_eim_get_bound_profile_package(const sgp32_eim_server *srv,
                                        const sgp32_get_bound_profile_package_request_esipa *req,
                                        sgp32_buf *out, sgp32_eim_esipa_info *info);
int sgp32_eim_cancel_session(const sgp32_eim_server *srv, const sgp32_cancel_session_request_esipa *req,
                             sgp32_buf *out, sgp32_eim_esipa_info *info);

/*
 * ESipa.TransferEimPackage, the push (SGP.32 §5.14.4, §3.1.1.2; esipa_transfer_eim_package.c):
 * the eIM is the HTTP client and POSTs to the IPA's push address; the host moves the bytes.
 *
 * prepare: TransferEimPackageRequest BF4E {package} for the eUICC's next package into request,
 * chosen as GetEimPackage chooses it (the same queue, the same bytes: a pushed operation that is
 * then polled is redelivered, not signed again); *operation_id the operation it serves.
 * SGP32_ERR_NOT_FOUND when no operation is open or the EID is unknown.
 *
 * response: the IPA's answer (the HTTP body), eid the eUICC pushed to:
 *   EPR / ePRAndNotifications / IpaEuiccDataResponse: taken in as ProvideEimPackageResult takes
 *     them (verified, deduplicated, recorded); info->acknowledge lists what the eUICC may delete;
 *   eimPackageReceived: the IPA runs the package, its result follows by ProvideEimPackageResult
 *     (the operation stays delivered);
 *   eimPackageError: the operation at the head of the queue (the one pushed) fails with the
 *     error's name.
 * An answer that does not decode is refused (SGP32_ERR_ASN1_*, nothing recorded); a result
 * whose signature does not verify is refused as ProvideEimPackageResult refuses it
 * (SGP32_ERR_CRYPTO_BAD_SIGNATURE, SGP32_ERR_NOT_FOUND without a certificate). Either way the
 * operation stays open and is delivered again.
 */
int sgp32_eim_transfer_eim_package_prepare(const sgp32_eim_server *srv, const char *eid, sgp32_buf *request,
                                           int64_t *operation_id);
int sgp32_eim_transfer_eim_package_response(const sgp32_eim_server *srv, const char *eid, const uint8_t *der,
                                            size_t len, sgp32_eim_esipa_info *info);
/* TransferEimPackageRequest BF4E {BF53 eimAcknowledgements {80 seq ...}}: frees results a push
 * answer carried (1..SGP32_EIM_PUSH_ACKS_MAX seqNumbers). The IPA answers eimPackageReceived. */
int sgp32_eim_transfer_eim_acknowledgements(const int64_t *seq, size_t count, sgp32_buf *request);

/* Forward due notifications of the outbox to their SM-DP+ (ES9+ handleNotification through
 * es9_call), with backoff on failure; at most max items. *forwarded (optional) counts successes. */
int sgp32_eim_forward_notifications(const sgp32_eim_server *srv, size_t max, size_t *forwarded);

/* ------------------------------------------------------------------ REST API v1 */

/* One REST request, already authenticated or not: the core checks the bearer token itself. */
typedef struct sgp32_eim_rest_request {
    const char *method;          /* "GET", "POST", "DELETE" */
    const char *path;            /* "/api/v1/operations" (no query) */
    const char *query;           /* "eid=...&state=queued&after=10&limit=100" or NULL */
    const char *authorization;   /* the Authorization header, NULL when absent */
    const char *idempotency_key; /* the Idempotency-Key header, NULL when absent */
    const char *body;
    size_t body_len;
} sgp32_eim_rest_request;

typedef struct sgp32_eim_rest_response {
    int status;     /* HTTP status */
    sgp32_buf body; /* JSON (errors: {"error":{"code":"...","message":"..."}}) */
} sgp32_eim_rest_response;

void sgp32_eim_rest_response_init(sgp32_eim_rest_response *r);
void sgp32_eim_rest_response_free(sgp32_eim_rest_response *r);

/* Tokens from the config file (kept in memory, hashed); the store holds those made by the API. */
typedef struct sgp32_eim_rest_config {
    const sgp32_eim_token *tokens;
    size_t token_count;
    size_t max_bulk; /* EIDs in one create; 0: 100000 */
} sgp32_eim_rest_config;

int sgp32_eim_rest_handle(const sgp32_eim_server *srv, const sgp32_eim_rest_config *config,
                          const sgp32_eim_rest_request *req, sgp32_eim_rest_response *resp);

#endif

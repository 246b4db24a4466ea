/*
 * sgp32 SM-DP+ server core (lib/smdp, library sgp32_smdp_server), sans I/O: the ES9+ functions
 * (SGP.22 §5.6) and the ES2+ functions (SGP.22 §5.3) over decoded requests, a store of download
 * orders and sessions, and the profile inventory. The HTTP server (apps/smdpd) only moves bytes:
 *
 *   body --sgp32_smdp_es9_json_decode / sgp32_smdp_es9_asn1_decode--> sgp32_smdp_es9_request
 *        --sgp32_smdp_es9_<function>(server, request, response)--> sgp32_smdp_es9_response
 *        --sgp32_smdp_es9_json_encode / sgp32_smdp_es9_asn1_encode--> body
 *
 * and the same for ES2+ (JSON only). Spec outcomes travel in sgp32_smdp_status (subjectCode /
 * reasonCode, NOTES §4.2); return values are sgp32_err for "the call could not be made".
 *
 * Orders (one per profile, keyed by ICCID) follow the order FSM (sgp32_smdp_order_state):
 *
 *   Available --downloadOrder--> Allocated (no EID) / Linked (EID)
 *   Allocated/Linked --confirmOrder--> Confirmed (releaseFlag false) / Released (true)
 *   Confirmed --releaseProfile--> Released
 *   Released --GetBoundProfilePackage--> Downloaded --PIR ok--> Installed
 *   Downloaded --PIR error / CancelSession (final reasons)--> Error
 *   Downloaded --CancelSession postponed/timeout--> Released (a new download may follow)
 *   any but Downloaded/Installed --cancelOrder--> Available / Unavailable
 */
#ifndef SGP32_SMDP_SERVER_H
#define SGP32_SMDP_SERVER_H

#include "sgp32/profile_package.h"
#include "sgp32/smdp_session.h"

enum {
    SGP32_SMDP_ICCID_MAX = 20,  /* digits */
    SGP32_SMDP_IMSI_MAX = 15,   /* digits (TS 23.003) */
    SGP32_SMDP_EID_DIGITS = 32, /* digits */
    SGP32_SMDP_PROFILE_TYPE_MAX = 64,
    SGP32_SMDP_MESSAGE_MAX = 160,
    SGP32_SMDP_TXID_HEX = 2 * SGP32_SMDP_TXID_LEN,
    SGP32_SMDP_BPP_MAX = 4 << 20,          /* a bound profile package */
    SGP32_SMDP_REQUEST_DER_MAX = 64 << 10, /* the DER object of one ES9+ request */
};

/* ------------------------------------------------------------------ status */

/* functionExecutionStatus: success when subject is NULL. */
typedef struct sgp32_smdp_status {
    const char *subject; /* "8.1.1" */
    const char *reason;  /* "3.8" */
    char message[SGP32_SMDP_MESSAGE_MAX];
} sgp32_smdp_status;

static inline bool sgp32_smdp_status_ok(const sgp32_smdp_status *st)
{
    return st->subject == NULL;
}
/* Set a failure (message may be NULL). */
void sgp32_smdp_status_set(sgp32_smdp_status *st, const char *subject, const char *reason,
                           const char *message);

/* ------------------------------------------------------------------ orders */

typedef enum sgp32_smdp_order_state {
    SGP32_ORDER_AVAILABLE = 0,
    SGP32_ORDER_ALLOCATED,
    SGP32_ORDER_LINKED,
    SGP32_ORDER_CONFIRMED,
    SGP32_ORDER_RELEASED,
    SGP32_ORDER_DOWNLOADED,
    SGP32_ORDER_INSTALLED,
    SGP32_ORDER_ERROR,
    SGP32_ORDER_UNAVAILABLE,
    SGP32_ORDER_STATE_COUNT
} sgp32_smdp_order_state;

typedef enum sgp32_smdp_order_event {
    SGP32_ORDER_EV_DOWNLOAD_ORDER_EID = 0, /* ES2+ downloadOrder with an EID */
    SGP32_ORDER_EV_DOWNLOAD_ORDER,         /* ... without */
    SGP32_ORDER_EV_CONFIRM,                /* confirmOrder releaseFlag false */
    SGP32_ORDER_EV_CONFIRM_RELEASE,        /* confirmOrder releaseFlag true */
    SGP32_ORDER_EV_RELEASE,                /* releaseProfile */
    SGP32_ORDER_EV_BPP_BOUND,              /* GetBoundProfilePackage made a BPP */
    SGP32_ORDER_EV_INSTALLED,              /* PIR success */
    SGP32_ORDER_EV_FAILED,                 /* PIR error, final CancelSession, attempts exhausted */
    SGP32_ORDER_EV_RETRY,                  /* CancelSession postponed/timeout: back to Released */
    SGP32_ORDER_EV_CANCEL_AVAILABLE,       /* cancelOrder Available */
    SGP32_ORDER_EV_CANCEL_UNAVAILABLE,     /* cancelOrder Unavailable */
    SGP32_ORDER_EVENT_COUNT
} sgp32_smdp_order_event;

typedef struct sgp32_smdp_order {
    char iccid[SGP32_SMDP_ICCID_MAX + 1]; /* digits, no F padding */
    char profile_type[SGP32_SMDP_PROFILE_TYPE_MAX + 1];
    char imsi[SGP32_SMDP_IMSI_MAX + 1]; /* written into EF.IMSI; "" keeps the template's */
    sgp32_smdp_order_state state;
    char eid[SGP32_SMDP_EID_DIGITS + 1];              /* "" when not linked */
    char matching_id[SGP32_SMDP_MATCHING_ID_MAX + 1]; /* "" when none yet */
    bool cc_required;
    uint8_t cc_sha256[SGP32_SHA256_LEN]; /* SHA-256 of the confirmation code (never the code) */
    int cc_failures;                     /* wrong codes so far */
    int download_attempts;               /* AuthenticateClient calls that picked this order */
    char smds_address[SGP32_SMDP_ADDRESS_MAX + 1];
    char transaction_id[SGP32_SMDP_TXID_HEX + 1]; /* the session bound to the order, "" none */
    int64_t updated;                              /* unix seconds */
    int64_t version; /* optimistic concurrency: order_update compares and bumps it */
} sgp32_smdp_order;

/* "Available", "Allocated", ... */
const char *sgp32_smdp_order_state_name(sgp32_smdp_order_state state);
/* Apply an event to order->state by the order FSM; SGP32_ERR_STATE when not allowed. */
int sgp32_smdp_order_step(sgp32_smdp_order *order, sgp32_smdp_order_event event);

/* One session record: the encoded sgp32_smdp_session, the order it picked, the BPP made. */
typedef struct sgp32_smdp_session_record {
    char transaction_id[SGP32_SMDP_TXID_HEX + 1];
    char iccid[SGP32_SMDP_ICCID_MAX + 1]; /* "" before AuthenticateClient */
    int credential_index;                 /* which sgp32_smdp_credentials of the server */
    int64_t expires;                      /* unix seconds */
    uint8_t pdr_sha256[SGP32_SHA256_LEN]; /* PrepareDownloadResponse the BPP answered (retries) */
    sgp32_buf state;                      /* sgp32_smdp_session_encode */
    sgp32_buf bpp;                        /* the bound profile package, once made */
} sgp32_smdp_session_record;

void sgp32_smdp_session_record_init(sgp32_smdp_session_record *r);
void sgp32_smdp_session_record_free(sgp32_smdp_session_record *r);

/*
 * The store (design principle 9: the host owns persistence). Every call is atomic on its own
 * and safe from several threads. Missing rows are SGP32_ERR_NOT_FOUND; order_update and
 * order_insert return SGP32_ERR_STATE when the row changed since it was read (version) or
 * already exists.
 */
/* A message of the host's outbox (smdpd: an ES2+ callback body): kept until delivered. */
typedef struct sgp32_smdp_outbox_item {
    int64_t id;           /* increasing: the order messages were put */
    int attempts;         /* posts so far */
    int64_t next_attempt; /* unix milliseconds: not before */
    sgp32_buf body;
} sgp32_smdp_outbox_item;

void sgp32_smdp_outbox_item_init(sgp32_smdp_outbox_item *item);
void sgp32_smdp_outbox_item_free(sgp32_smdp_outbox_item *item);

typedef struct sgp32_smdp_store {
    void *ctx;
    int (*order_insert)(void *ctx, const sgp32_smdp_order *order);
    int (*order_get)(void *ctx, const char *iccid, sgp32_smdp_order *out);
    int (*order_find_by_matching_id)(void *ctx, const char *matching_id, sgp32_smdp_order *out);
    /* A Released order for this EID with an empty matchingId (default SM-DP+ / SM-DS). */
    int (*order_find_default)(void *ctx, const char *eid, sgp32_smdp_order *out);
    /* The first Available order of a profile type. */
    int (*order_find_available)(void *ctx, const char *profile_type, sgp32_smdp_order *out);
    int (*order_update)(void *ctx, sgp32_smdp_order *order); /* bumps order->version */
    int (*session_put)(void *ctx, const sgp32_smdp_session_record *record);
    int (*session_get)(void *ctx, const char *transaction_id, sgp32_smdp_session_record *out);
    int (*session_delete)(void *ctx, const char *transaction_id);
    /* Optional (both NULL: every call stands alone). The store calls this thread makes between
     * tx_begin and tx_end are one transaction; other threads' calls wait. tx_end(commit=true)
     * commits (on failure: rolled back, an error); tx_end(commit=false) rolls back. No crypto or
     * host callback in between. */
    int (*tx_begin)(void *ctx);
    int (*tx_end)(void *ctx, bool commit);
    /* Optional: the host's durable outbox (smdpd puts its ES2+ callbacks there from on_event, in
     * the transaction of the change they report). outbox_first: the oldest message, due or not
     * (SGP32_ERR_NOT_FOUND: none), so that they go out in order. */
    int (*outbox_put)(void *ctx, const char *body, size_t len);
    int (*outbox_first)(void *ctx, sgp32_smdp_outbox_item *out);
    int (*outbox_retry)(void *ctx, int64_t id, int attempts, int64_t next_attempt);
    int (*outbox_delete)(void *ctx, int64_t id);
} sgp32_smdp_store;

/* SQLite implementation (lib/smdp/smdp_store_sqlite.c): WAL, prepared statements, one connection
 * behind a mutex. path ":memory:" works for tests. */
typedef struct sgp32_smdp_sqlite sgp32_smdp_sqlite;
int sgp32_smdp_sqlite_open(const char *path, sgp32_smdp_sqlite **out);
void sgp32_smdp_sqlite_close(sgp32_smdp_sqlite *db);
sgp32_smdp_store sgp32_smdp_sqlite_store(sgp32_smdp_sqlite *db);
/* PRAGMA synchronous: false NORMAL (the default: in WAL a commit is not fsynced, so a power loss
 * can lose the last commits but never corrupts), true FULL (fsync per commit). */
int sgp32_smdp_sqlite_synchronous(sgp32_smdp_sqlite *db, bool full);
/* Orders per state, for logs and status (counts[SGP32_ORDER_STATE_COUNT]). */
int sgp32_smdp_sqlite_count(sgp32_smdp_sqlite *db, int64_t counts[SGP32_ORDER_STATE_COUNT]);

/* ------------------------------------------------------------------ inventory */

/* A profile type: the UPP template and the metadata its profiles carry. */
typedef struct sgp32_smdp_profile_template {
    char profile_type[SGP32_SMDP_PROFILE_TYPE_MAX + 1];
    sgp32_bytes upp; /* SAIP DER; its header ICCID and EF.ICCID are replaced per order */
    const char *service_provider_name;
    const char *profile_name;
    int64_t profile_class; /* 0 test, 1 provisioning, 2 operational */
    uint32_t pprs;         /* profilePolicyRules bits (0: none) */
} sgp32_smdp_profile_template;

/* The personalised UPP of an order (appended to upp: header ICCID and EF.ICCID, EF.IMSI when imsi is
 * neither NULL nor "", Ki and OPc in every akaParameter when keys is not NULL (sgp32_upp_set_aka), the rest
 * of the template byte for byte) and its StoreMetadataRequest BF25. A template without a 10-byte EF.ICCID
 * (for an IMSI, a 9-byte EF.IMSI; for keys, akaParameters sgp32_upp_find_aka accepts) is refused, and
 * nothing is appended. */
int sgp32_smdp_personalise(const sgp32_smdp_profile_template *t, const char *iccid, const char *imsi,
                           const sgp32_upp_aka_keys *keys, const char *smdp_address, sgp32_buf *upp,
                           sgp32_buf *metadata);
/* The StoreMetadataRequest BF25 of an order alone (what AuthenticateClient answers with): the
 * metadata part of sgp32_smdp_personalise, without copying and patching the UPP. */
int sgp32_smdp_profile_metadata(const sgp32_smdp_profile_template *t, const char *iccid,
                                const char *smdp_address, sgp32_buf *metadata);
/* ICCID digits from ES2+ text (19..20 characters, a trailing F allowed); Luhn is not judged. */
int sgp32_smdp_iccid_from_text(const char *text, char digits[SGP32_SMDP_ICCID_MAX + 1]);
/* The Luhn check digit of the first len digits of an ICCID (what an 18-digit one is completed with). */
char sgp32_smdp_iccid_luhn(const char *digits, size_t len);
/* The ICCID in EF.ICCID coding (nibble-swapped BCD, F padded), as metadata and PIRs carry it. */
int sgp32_smdp_iccid_to_bcd(const char *digits, uint8_t out[10]);
/* The activation code LPA:1$address$matchingId[$$1] (the last when a code is required). */
int sgp32_smdp_activation_code(const char *address, const sgp32_smdp_order *order, char *out, size_t size);

/* ------------------------------------------------------------------ server */

/* What the server tells its host, e.g. to run ES2+ handleDownloadProgressInfo. */
typedef struct sgp32_smdp_event {
    const sgp32_smdp_order *order;
    int notification_point_id; /* 1 eligibility, 2 confirmation failure, 3 BPP download, 4 installation */
    const sgp32_smdp_status *status; /* failure of that point, or success */
    int64_t timestamp;
} sgp32_smdp_event;
typedef void (*sgp32_smdp_event_fn)(void *ctx, const sgp32_smdp_event *event);

/* What the host's profile_keys hook found for a profile. */
typedef enum sgp32_smdp_keys_result {
    SGP32_SMDP_KEYS_FOUND = 0,    /* ki and opc are written */
    SGP32_SMDP_KEYS_TEMPLATE = 1, /* the profile type has no per-profile keys: the template's stay */
    SGP32_SMDP_KEYS_MISSING = 2,  /* the type requires per-profile keys and the host has none for the ICCID */
} sgp32_smdp_keys_result;
/* The Ki and OPc of a profile (the operator's batch "profile data", which its HSS holds as well): one
 * of sgp32_smdp_keys_result, or a negative sgp32_err. Called from several threads at once. */
typedef int (*sgp32_smdp_profile_keys_fn)(void *ctx, const char *profile_type, const char *iccid,
                                          uint8_t ki[SGP32_UPP_AKA_KEY_LEN],
                                          uint8_t opc[SGP32_UPP_AKA_KEY_LEN]);

typedef struct sgp32_smdp_server_config {
    const char *address;                /* the SM-DP+ FQDN (host or host:port) */
    const char *const *address_aliases; /* also accepted as smdpAddress (case-insensitive) */
    size_t alias_count;
    const sgp32_smdp_credentials *credentials; /* one per CI / curve */
    size_t credential_count;
    const sgp32_ci_set *trusted_cis;
    const sgp32_smdp_profile_template *templates;
    size_t template_count;
    sgp32_smdp_store store;
    int cc_max_failures;       /* wrong confirmation codes before 8.2.7/6.4; 0: 3 */
    int max_download_attempts; /* AuthenticateClient per order before 8.8.5/6.4; 0: 10 */
    int64_t session_ttl;       /* seconds; 0: 1800 */
    int64_t (*now)(void);      /* NULL: time(NULL) */
    /* Runs inside the store transaction of the change it reports (with the store's lock held):
     * store calls it makes (an outbox_put) commit or roll back with that change; it must not
     * block. */
    sgp32_smdp_event_fn on_event;
    void *event_ctx;
    /* Optional (NULL: every profile keeps its template's Ki and OPc). GetBoundProfilePackage asks it for
     * the order's keys: KEYS_MISSING refuses the download (8.2/3.7) rather than bind the template's. */
    sgp32_smdp_profile_keys_fn profile_keys;
    void *profile_keys_ctx;
} sgp32_smdp_server_config;

enum { SGP32_SMDP_CREDENTIALS_MAX = 8 };

typedef struct sgp32_smdp_server {
    sgp32_smdp_server_config config;
    /* set by _init: the CI PKID (AKI of CERT.DPauth) of each credential */
    uint8_t ci_pkid[SGP32_SMDP_CREDENTIALS_MAX][SGP32_CERT_KEY_ID_MAX];
    size_t ci_pkid_len[SGP32_SMDP_CREDENTIALS_MAX];
} sgp32_smdp_server;

int sgp32_smdp_server_init(sgp32_smdp_server *srv, const sgp32_smdp_server_config *config);
/* Insert Available orders for ICCIDs first..first+count-1 (Luhn digit appended when first has
 * 18 digits) of a profile type; existing ones are left alone. imsi (NULL: none) gives the first
 * order's IMSI, the next ones counting up with the ICCIDs (6..15 digits; the range must not run
 * past the last number of that length, and the template must have an EF.IMSI: else
 * SGP32_ERR_BAD_TEXT, nothing inserted). *added (optional) counts new rows. */
int sgp32_smdp_inventory_add(const sgp32_smdp_server *srv, const char *profile_type, const char *iccid,
                             const char *imsi, size_t count, size_t *added);
/* sgp32_smdp_personalise for an order: its ICCID, its IMSI and, when the server's profile_keys hook has them,
 * its Ki and OPc (wiped from the stack after use). SGP32_ERR_NOT_FOUND, nothing appended, when the hook says
 * the order's type requires keys and it has none for the ICCID (logged); other errors as
 * sgp32_smdp_personalise, or the hook's. */
int sgp32_smdp_personalise_order(const sgp32_smdp_server *srv, const sgp32_smdp_profile_template *t,
                                 const sgp32_smdp_order *order, const char *smdp_address, sgp32_buf *upp,
                                 sgp32_buf *metadata);

/* ------------------------------------------------------------------ ES9+ */

typedef enum sgp32_smdp_es9_function {
    SGP32_SMDP_ES9_INITIATE_AUTHENTICATION = 1,
    SGP32_SMDP_ES9_AUTHENTICATE_CLIENT,
    SGP32_SMDP_ES9_GET_BOUND_PROFILE_PACKAGE,
    SGP32_SMDP_ES9_HANDLE_NOTIFICATION,
    SGP32_SMDP_ES9_CANCEL_SESSION,
} sgp32_smdp_es9_function;

/* "initiateAuthentication", ... (the JSON path's last segment); from_name returns 0 if unknown. */
const char *sgp32_smdp_es9_function_name(sgp32_smdp_es9_function f);
sgp32_smdp_es9_function sgp32_smdp_es9_function_from_name(const char *name);

typedef struct sgp32_smdp_es9_request {
    sgp32_smdp_es9_function function;
    uint8_t transaction_id[SGP32_SMDP_TXID_LEN]; /* not InitiateAuthentication / HandleNotification */
    size_t transaction_id_len;
    uint8_t euicc_challenge[16]; /* InitiateAuthentication */
    char smdp_address[SGP32_SMDP_ADDRESS_MAX + 1];
    /* euiccInfo1 BF20 / authenticateServerResponse BF38 / prepareDownloadResponse BF21 /
     * pendingNotification BF37 or 30 / cancelSessionResponse BF41, as received */
    sgp32_buf der;
} sgp32_smdp_es9_request;

/* Which fields a function fills, in the order of its JSON response (NOTES §4.3):
 *   initiateAuthentication  transaction_id, signed (serverSigned1), signature (5F37 TLV),
 *                           ci_pkid (04 TLV), certificate (CERT.DPauth)
 *   authenticateClient      transaction_id, profile_metadata (BF25), signed (smdpSigned2),
 *                           signature (5F37 TLV), certificate (CERT.DPpb)
 *   getBoundProfilePackage  transaction_id, bpp (BF36)
 *   handleNotification, cancelSession: status only. */
typedef struct sgp32_smdp_es9_response {
    sgp32_smdp_es9_function function;
    sgp32_smdp_status status;
    int64_t asn1_error; /* the ASN.1 binding's error alternative when status is a failure */
    uint8_t transaction_id[SGP32_SMDP_TXID_LEN];
    size_t transaction_id_len;
    sgp32_buf signed_data;
    sgp32_buf signature;
    sgp32_buf ci_pkid;
    sgp32_buf certificate;
    sgp32_buf profile_metadata;
    sgp32_buf bpp;
} sgp32_smdp_es9_response;

void sgp32_smdp_es9_request_init(sgp32_smdp_es9_request *r);
void sgp32_smdp_es9_request_free(sgp32_smdp_es9_request *r);
void sgp32_smdp_es9_response_init(sgp32_smdp_es9_response *r, sgp32_smdp_es9_function f);
void sgp32_smdp_es9_response_free(sgp32_smdp_es9_response *r);

/* One per spec function (SGP.22 §5.6.1-5.6.5); each in its own file. */
int sgp32_smdp_es9_initiate_authentication(const sgp32_smdp_server *srv, const sgp32_smdp_es9_request *req,
                                           sgp32_smdp_es9_response *resp);
int sgp32_smdp_es9_authenticate_client(const sgp32_smdp_server *srv, const sgp32_smdp_es9_request *req,
                                       sgp32_smdp_es9_response *resp);
int sgp32_smdp_es9_get_bound_profile_package(const sgp32_smdp_server *srv, const sgp32_smdp_es9_request *req,
                                             sgp32_smdp_es9_response *resp);
int sgp32_smdp_es9_handle_notification(const sgp32_smdp_server *srv, const sgp32_smdp_es9_request *req,
                                       sgp32_smdp_es9_response *resp);
int sgp32_smdp_es9_cancel_session(const sgp32_smdp_server *srv, const sgp32_smdp_es9_request *req,
                                  sgp32_smdp_es9_response *resp);
/* Dispatch on req->function. */
int sgp32_smdp_es9_call(const sgp32_smdp_server *srv, const sgp32_smdp_es9_request *req,
                        sgp32_smdp_es9_response *resp);

/* JSON binding (SGP.22 §6.5; jansson). decode: SGP32_OK with status set on a request that is
 * not acceptable (malformed JSON, wrong types, unknown or missing fields, oversized values: 1.6
 * with 2.1 or 2.2); encode writes the response body (HandleNotification: nothing, HTTP 204). */
int sgp32_smdp_es9_json_decode(sgp32_smdp_es9_function f, const char *body, size_t len,
                               sgp32_smdp_es9_request *req, sgp32_smdp_status *status);
int sgp32_smdp_es9_json_encode(const sgp32_smdp_es9_response *resp, sgp32_buf *body);
/* A body with only the header (a failure or an empty success). */
int sgp32_smdp_json_status_body(const sgp32_smdp_status *status, sgp32_buf *body);

/* ASN.1 binding (SGP.22 §6.6): RemoteProfileProvisioningRequest A2 in, ...Response A2 out.
 * HandleNotification has no response (HTTP 204). */
int sgp32_smdp_es9_asn1_decode(const uint8_t *body, size_t len, sgp32_smdp_es9_request *req,
                               sgp32_smdp_status *status);
int sgp32_smdp_es9_asn1_encode(const sgp32_smdp_es9_response *resp, sgp32_buf *body);

/* ------------------------------------------------------------------ ES2+ */

typedef enum sgp32_smdp_es2_function {
    SGP32_SMDP_ES2_DOWNLOAD_ORDER = 1,
    SGP32_SMDP_ES2_CONFIRM_ORDER,
    SGP32_SMDP_ES2_CANCEL_ORDER,
    SGP32_SMDP_ES2_RELEASE_PROFILE,
} sgp32_smdp_es2_function;

const char *sgp32_smdp_es2_function_name(sgp32_smdp_es2_function f);
sgp32_smdp_es2_function sgp32_smdp_es2_function_from_name(const char *name);

typedef struct sgp32_smdp_es2_request {
    sgp32_smdp_es2_function function;
    char function_requester_identifier[SGP32_SMDP_PROFILE_TYPE_MAX + 1];
    char function_call_identifier[SGP32_SMDP_PROFILE_TYPE_MAX + 1];
    bool has_eid, has_iccid, has_profile_type, has_matching_id, has_confirmation_code, has_smds_address;
    char eid[SGP32_SMDP_EID_DIGITS + 1];
    char iccid[SGP32_SMDP_ICCID_MAX + 1]; /* digits */
    char profile_type[SGP32_SMDP_PROFILE_TYPE_MAX + 1];
    char matching_id[SGP32_SMDP_MATCHING_ID_MAX + 1];
    char confirmation_code[SGP32_SMDP_MATCHING_ID_MAX + 1];
    char smds_address[SGP32_SMDP_ADDRESS_MAX + 1];
    bool release_flag;
    bool has_final_status; /* cancelOrder finalProfileStatusIndicator */
    bool final_available;  /* "Available" (else "Unavailable") */
} sgp32_smdp_es2_request;

typedef struct sgp32_smdp_es2_response {
    sgp32_smdp_es2_function function;
    sgp32_smdp_status status;
    char iccid[SGP32_SMDP_ICCID_MAX + 1];             /* downloadOrder */
    char eid[SGP32_SMDP_EID_DIGITS + 1];              /* confirmOrder, "" when none */
    char matching_id[SGP32_SMDP_MATCHING_ID_MAX + 1]; /* confirmOrder */
    char smdp_address[SGP32_SMDP_ADDRESS_MAX + 1];    /* confirmOrder */
} sgp32_smdp_es2_response;

int sgp32_smdp_es2_download_order(const sgp32_smdp_server *srv, const sgp32_smdp_es2_request *req,
                                  sgp32_smdp_es2_response *resp);
int sgp32_smdp_es2_confirm_order(const sgp32_smdp_server *srv, const sgp32_smdp_es2_request *req,
                                 sgp32_smdp_es2_response *resp);
int sgp32_smdp_es2_cancel_order(const sgp32_smdp_server *srv, const sgp32_smdp_es2_request *req,
                                sgp32_smdp_es2_response *resp);
int sgp32_smdp_es2_release_profile(const sgp32_smdp_server *srv, const sgp32_smdp_es2_request *req,
                                   sgp32_smdp_es2_response *resp);
int sgp32_smdp_es2_call(const sgp32_smdp_server *srv, const sgp32_smdp_es2_request *req,
                        sgp32_smdp_es2_response *resp);

int sgp32_smdp_es2_json_decode(sgp32_smdp_es2_function f, const char *body, size_t len,
                               sgp32_smdp_es2_request *req, sgp32_smdp_status *status);
int sgp32_smdp_es2_json_encode(const sgp32_smdp_es2_response *resp, sgp32_buf *body);
/* The handleDownloadProgressInfo body (SM-DP+ -> operator) for an event. */
int sgp32_smdp_es2_json_download_progress(const sgp32_smdp_event *event, const char *function_requester,
                                          sgp32_buf *body);

#endif

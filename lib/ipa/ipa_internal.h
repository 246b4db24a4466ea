/*
 * IPA core internals (lib/ipa). Not a public header.
 *
 * Layers, innermost first:
 *   card     ipa_es10_apdu.c   one ES10 call = STORE DATA blocks + GET RESPONSE on an open
 *                              session (TERMINAL CAPABILITY, MANAGE CHANNEL, SELECT ISD-R),
 *                              card resets (REFRESH) and the 6985-after-enable retry
 *   jobs     one FSM per procedure, on a small stack: MAIN (scheduler, ipa.c) at the bottom,
 *            then BOOT, RECOVER, RETRIEVE, EXECUTE, PROVIDE, NOTIFY, DOWNLOAD, ROLLBACK,
 *            FALLBACK, PUSH. A job's actions either emit one host action or post one
 *            decision event; a finished job posts CHILD_DONE / CHILD_FAILED to its parent.
 *            An error event a job has no row for fails the job (the table lists the
 *            recoveries; everything else is refused, design principle 3).
 */
#ifndef SGP32_IPA_INTERNAL_H
#define SGP32_IPA_INTERNAL_H

#include <string.h>

#include "sgp32/asn1.h"
#include "sgp32/fsm.h"
#include "sgp32/ipa.h"
#include "sgp32/log.h"

#ifdef SGP32_IPA_NO_LOG
#define IPA_LOG(ipa, level, ...) ((void)(ipa))
#else
#define IPA_LOG(ipa, level, ...) sgp32_log(level, SGP32_LOG_IPA, &(ipa)->log, __VA_ARGS__)
#endif

enum {
    IPA_ADDRESS_MAX = 255,
    IPA_TXID_MAX = 16,
    IPA_EIM_ID_MAX = 128,
    IPA_JOB_DEPTH = 6,
    IPA_POST_MAX = 8,
    IPA_APDU_MAX = 5 + 255 + 1,
    IPA_ACK_MAX = 32,
};

/* Job-level events (names in ipa.c for transcripts). */
typedef enum ipa_ev {
    EV_START = 0,
    EV_CARD_OK,
    EV_CARD_ERROR,
    EV_EIM_OK,
    EV_EIM_ERROR,
    EV_SAVED,
    EV_SAVE_ERROR,
    EV_TIMER,
    EV_CHILD_DONE,
    EV_CHILD_FAILED,
    /* decisions posted by actions */
    EV_NEXT,
    EV_DONE,
    EV_SKIP,
    EV_FAIL,
    EV_RESET,
    EV_EUICC_PACKAGE,
    EV_DATA_REQUEST,
    EV_DOWNLOAD_TRIGGER,
    EV_ACKNOWLEDGEMENTS,
    EV_NO_PACKAGE,
    EV_REJECTED,
    EV_CANCEL,
    EV_PIR,
    EV_RUN_BOOT,
    EV_RUN_RECOVER,
    EV_RUN_RETRIEVE,
    EV_RUN_ROLLBACK,
    EV_RUN_FALLBACK,
    EV_RUN_RETURN,
    EV_RUN_PUSH,
    EV_BACKOFF,
    EV_IDLE,
    EV_COUNT
} ipa_ev;

extern const char *const ipa_event_names[EV_COUNT];

/* Card-layer events. */
typedef enum ipa_card_ev {
    CE_CALL = 0,   /* an ES10 request to send */
    CE_RESET,      /* a job asks for a card reset */
    CE_SW_OK,      /* 9000 (or 91xx: ok, proactive command pending) */
    CE_SW_MORE,    /* 61xx */
    CE_SW_6985,    /* conditions not satisfied (IoT eUICC after an enable until reset) */
    CE_SW_ERROR,   /* anything else */
    CE_IO_ERROR,   /* the host could not reach the card */
    CE_RESET_DONE, /* the host reset the card */
    CE_SKIP,       /* no MANAGE CHANNEL on the basic channel */
    CE_NEXT_BLOCK,
    CE_COMPLETE,
    CE_FAIL,
    CE_COUNT
} ipa_card_ev;

typedef enum ipa_job_kind {
    JOB_MAIN = 0,
    JOB_BOOT,
    JOB_RECOVER,
    JOB_RETRIEVE,
    JOB_EXECUTE,
    JOB_PROVIDE,
    JOB_NOTIFY,
    JOB_DOWNLOAD,
    JOB_ROLLBACK,
    JOB_FALLBACK,
    JOB_PUSH,
    JOB_KIND_COUNT
} ipa_job_kind;

/* What survives a power loss (ipa_state.c; the host stores it atomically). */
typedef struct ipa_persist {
    uint32_t generation;   /* incremented by every save */
    bool result_pending;   /* an EPR not yet taken by the eIM */
    int64_t pending_seq;   /* its seqNumber (-1 unknown) */
    bool rollback_armed;   /* the package enabled a profile with rollbackFlag */
    bool download_pending; /* a ProfileDownloadTrigger whose result is not yet reported */
    uint8_t eim_txid[IPA_TXID_MAX];
    uint8_t eim_txid_len;
    uint8_t smdp_txid[IPA_TXID_MAX]; /* the SM-DP+ session of that download */
    uint8_t smdp_txid_len;
    bool notify;   /* notifyStateChange on the next GetEimPackage */
    uint8_t cause; /* its stateChangeCause */
    bool in_fallback;
    uint32_t failures;        /* consecutive failed procedures (backoff exponent) */
    int64_t next_attempt;     /* host clock of the next retry (0 none) */
    uint32_t report_failures; /* failed reports while result_pending */
} ipa_persist;

enum { IPA_STATE_VERSION = 1 };

int ipa_state_encode(const ipa_persist *st, sgp32_buf *out);
int ipa_state_decode(const uint8_t *blob, size_t len, ipa_persist *st);

/* Card layer state (ipa_es10_apdu.c). */
typedef struct ipa_card {
    sgp32_fsm fsm;
    uint8_t channel;     /* the open channel */
    sgp32_bytes request; /* the ES10 request in flight (owned by the caller until done) */
    size_t offset;       /* request bytes sent */
    uint8_t block;       /* STORE DATA P2 */
    bool last_block;     /* the block in flight is the last */
    bool call_pending;   /* a CALL waits for the session set-up */
    bool retried;        /* the one 6985 -> reset -> retry was used */
    bool refresh;        /* 91xx seen: reset after the call */
    sgp32_bytes rsp;     /* response data of the APDU being handled (the host's buffer) */
    uint8_t sw2;
    uint8_t apdu[IPA_APDU_MAX];
} ipa_card;

/* BPP stream walker (ipa_bpp_stream.c). */
typedef struct ipa_bpp_stream {
    uint8_t phase;
    uint8_t after; /* the phase after the value being copied */
    bool seg_done; /* seg holds a segment already handed out */
    bool active;
    bool wrapped;           /* ES9+: A2 {BF3A ...} */
    uint64_t pos;           /* bytes of the body consumed */
    uint64_t bpp_end;       /* end of the BF36 value */
    uint64_t container_end; /* end of the A1 / A3 being walked */
    uint64_t body_end;      /* end of the outermost TLV */
    uint8_t hdr[12];        /* a tag+length split across chunks */
    uint8_t hdr_len;
    size_t need;       /* value bytes still to copy into the segment */
    sgp32_bytes chunk; /* the host's chunk being walked */
    size_t chunk_off;
    bool last_chunk;
    int64_t error_code; /* getBoundProfilePackageError */
} ipa_bpp_stream;

/* Download session (ipa_download.c). */
typedef struct ipa_download {
    bool direct;         /* ES9+ to the SM-DP+ (else ESipa through the eIM) */
    bool has_smdp;       /* smdp_address known */
    bool use_default_dp; /* contactDefaultSmdp: read it from the eUICC (BF3C) */
    char smdp_address[IPA_ADDRESS_MAX + 1];
    char matching_id[IPA_ADDRESS_MAX + 1];
    bool has_matching_id;
    uint8_t challenge[16];
    uint8_t txid[IPA_TXID_MAX];
    uint8_t txid_len;
    bool have_txid; /* InitiateAuthentication succeeded: cancel on failure */
    bool hash_cc_from_eim;
    bool ctx_from_eim;
    int64_t cancel_reason;
    bool success; /* PIR with success */
    bool pir_removed;
    int64_t pir_seq;
    int64_t error_reason; /* ProfileDownloadTriggerResult error (127 undefined) */
} ipa_download;

typedef struct ipa_job {
    sgp32_fsm fsm;
    uint8_t kind;
} ipa_job;

struct sgp32_ipa {
    sgp32_ipa_config config;
    sgp32_log_context log;
    sgp32_ipa_stats stats;
    ipa_persist st;

    /* identity and addresses */
    uint8_t eid[16];
    bool have_eid;
    char eid_text[33];
    char eim_address[IPA_ADDRESS_MAX + 1];
    bool have_eim_address;
    uint8_t rplmn[3];
    bool has_rplmn;

    /* requests from the host */
    bool want_boot, want_poll, want_fallback, want_return, want_push;

    /* the step machinery */
    ipa_job jobs[IPA_JOB_DEPTH];
    size_t depth;
    struct {
        uint8_t card; /* 1: for the card layer, 0: for the top job */
        uint8_t event;
    } post[IPA_POST_MAX];
    size_t post_count;
    sgp32_ipa_action out;
    bool has_out;
    sgp32_ipa_action_type expect; /* what the host is answering */
    int64_t now;
    uint32_t random;
    int job_error; /* why the last job failed */

    ipa_card card;
    ipa_bpp_stream bpp;
    ipa_download dl;

    /* buffers (heap through the hook, capped) */
    sgp32_buf tx;       /* ESipa / ES9+ request, push response, state blob */
    sgp32_buf rx;       /* ESipa / ES9+ response */
    sgp32_buf es10_req; /* ES10 request built here */
    sgp32_buf es10_rsp; /* ES10 response */
    sgp32_buf pkg;      /* the eIM package being executed */
    sgp32_buf work;     /* lists (EPRs, notifications), IpaEuiccData being collected */
    sgp32_buf seg;      /* one BPP segment */
    sgp32_buf blob;     /* the state blob (fixed storage below: no heap) */
    uint8_t blob_storage[128];

    int push_kind;        /* a child job an action asked for (-1 none) */
    int finish;           /* the top job asked to end (ok / failed) */
    uint8_t running;      /* the job MAIN runs */
    bool fallback_return; /* FALLBACK job: ReturnFromFallback instead */

    /* per-procedure scratch */
    size_t cursor; /* position in a list being walked */
    size_t cursor2;
    uint32_t data_fields; /* IpaEuiccData fields still to collect */
    uint8_t data_txid[IPA_TXID_MAX];
    uint8_t data_txid_len;
    bool data_has_txid;
    int64_t data_error;                         /* IpaEuiccDataResponseError code (0 none) */
    sgp32_bytes data_ci_pkid;                   /* into pkg */
    sgp32_bytes data_crit_notif, data_crit_epr; /* into pkg: TLVs of the search criteria */
    int provide_kind;                           /* what PROVIDE reports (ipa_provide_kind) */
    bool pushed;                                /* the package came by TransferEimPackage */
    bool push_execute;                          /* the pushed package runs after eimPackageReceived */
    uint16_t packages_this_poll;
    bool reset_after; /* the package switched profiles: reset the card */
    bool eco_package; /* the package is eCOs: the eIM configuration may have changed */
    int64_t epr_seq;
};

typedef enum ipa_provide_kind {
    PROVIDE_EPR = 0,
    PROVIDE_DATA,
    PROVIDE_DOWNLOAD,
    PROVIDE_ERROR,
} ipa_provide_kind;

/* ----- engine (ipa.c) */
void ipa_emit(sgp32_ipa *ipa, sgp32_ipa_action_type type, sgp32_bytes data);
int ipa_emit_esipa(sgp32_ipa *ipa, sgp32_ipa_function function, bool expect_body);
int ipa_emit_save(sgp32_ipa *ipa);
void ipa_post(sgp32_ipa *ipa, int event);
void ipa_post_card(sgp32_ipa *ipa, int event);
int ipa_job_push(sgp32_ipa *ipa, ipa_job_kind kind);
/* End the top job: CHILD_DONE or CHILD_FAILED to its parent. */
int ipa_job_finish(sgp32_ipa *ipa, bool ok);
int ipa_job_fail_with(sgp32_ipa *ipa, int err);
const sgp32_fsm_def *ipa_job_def(ipa_job_kind kind);

extern const sgp32_fsm_def ipa_boot_fsm, ipa_recover_fsm, ipa_retrieve_fsm, ipa_execute_fsm, ipa_provide_fsm,
    ipa_notify_fsm, ipa_download_fsm, ipa_rollback_fsm, ipa_fallback_fsm, ipa_push_fsm, ipa_main_fsm;

/* ----- card layer (ipa_es10_apdu.c) */
extern const sgp32_fsm_def ipa_card_fsm;
void ipa_card_init(sgp32_ipa *ipa);
/* Send one ES10 request (the view must stay valid until EV_CARD_OK / EV_CARD_ERROR). */
int ipa_es10_call(sgp32_ipa *ipa, sgp32_bytes request);
/* Build into es10_req and call. */
int ipa_es10_call_buf(sgp32_ipa *ipa);
/* Reset the card and reopen the session; EV_CARD_OK when done. */
int ipa_card_reset(sgp32_ipa *ipa);
/* The host answered TRANSMIT_APDU / RESET_CARD. */
int ipa_card_on_event(sgp32_ipa *ipa, const sgp32_ipa_event *in);
int ipa_card_dispatch(sgp32_ipa *ipa, int event);

/* ----- ES10 request helpers (ipa_es10.c) */
int ipa_es10_simple(sgp32_ipa *ipa, uint32_t tag); /* "BFxx 00" */
int ipa_es10_retrieve_notifications(sgp32_ipa *ipa, int criterion, int64_t value);
enum { RNL_ALL = 0, RNL_SEQ, RNL_EVENT, RNL_EPRS };
int ipa_es10_remove_notification(sgp32_ipa *ipa, int64_t seq);
int ipa_es10_flag_request(sgp32_ipa *ipa, uint32_t tag, bool flag); /* BFxx {80 01 FF|00} */
/* The response TLV in es10_rsp with the expected tag (value view). */
int ipa_es10_response(sgp32_ipa *ipa, uint32_t tag, sgp32_asn1_tlv *tlv);
/* BFxx {80 result} style: the first INTEGER inside; -1 when absent. */
int64_t ipa_es10_result_code(sgp32_ipa *ipa, uint32_t tag);

/* ----- ASN.1 helpers (ipa_asn1.c) */
/* The TLV of the first element with tag inside contents; SGP32_ERR_NOT_FOUND. */
int ipa_find(sgp32_bytes contents, uint32_t tag, sgp32_asn1_tlv *out);
int ipa_first(sgp32_bytes contents, sgp32_asn1_tlv *out);
int64_t ipa_int_or(sgp32_bytes value, int64_t fallback);
/* seqNumber of a notification (BF37 PIR / 30 other) or of an EPR (BF51); -1 when unknown. */
int64_t ipa_seq_number(sgp32_bytes tlv);
int ipa_write_eid(sgp32_ipa *ipa, sgp32_buf *out);

/* ----- compact forms (ipa_compact.c) */
bool ipa_compact_enabled(const sgp32_ipa *ipa);
/* Append the form to send (compact when enabled and possible, else verbatim, with the outer
 * tag replaced by out_tag when out_tag != 0). */
int ipa_compact_authenticate_server_response(sgp32_ipa *ipa, sgp32_bytes tlv, bool ctx_from_eim,
                                             sgp32_buf *out);
int ipa_compact_prepare_download_response(sgp32_ipa *ipa, sgp32_bytes tlv, bool hash_cc_from_eim,
                                          sgp32_buf *out);
int ipa_compact_cancel_session_response(sgp32_ipa *ipa, sgp32_bytes tlv, uint32_t out_tag, sgp32_buf *out);
int ipa_compact_notification(sgp32_ipa *ipa, sgp32_bytes tlv, sgp32_buf *out);

/* ----- package helpers */
/* Build ProvideEimPackageResult into tx with the given EimPackageResult (whole TLV(s)). */
int ipa_provide_begin(sgp32_ipa *ipa, size_t *mark);
int ipa_provide_end(sgp32_ipa *ipa, size_t mark);
/* EPR + the notifications in list_value (A0 value; may be empty) as ePRAndNotifications. */
int ipa_provide_build_epr(sgp32_ipa *ipa, sgp32_bytes epr, sgp32_bytes notifications);
int ipa_provide_build_error(sgp32_ipa *ipa, const uint8_t *txid, size_t txid_len, int64_t code);
/* ProfileDownloadTriggerResult: the PIR (may be empty) or error reason. */
int ipa_provide_build_download(sgp32_ipa *ipa, sgp32_bytes pir, int64_t reason);
/* Whether an EPR has a successful enable (83 00) or disable (84 00) or rollback (8C 00). */
bool ipa_epr_switched_profile(sgp32_bytes epr);

/* ----- IpaEuiccData (ipa_ipa_euicc_data.c) */
int ipa_data_begin(sgp32_ipa *ipa, sgp32_bytes request_value);
/* Collect the next field: posts EV_NEXT, or issues an ES10 call (EV_CARD_OK), or EV_DONE. */
int ipa_data_step(sgp32_ipa *ipa, bool card_answered);
int ipa_data_finish(sgp32_ipa *ipa, sgp32_buf *out); /* BF52 IpaEuiccDataResponse */

/* ----- download (ipa_download.c, ipa_indirect_download.c, ipa_direct_download.c) */
/* Set up from a ProfileDownloadTriggerRequest value; SGP32_ERR_UNSUPPORTED for SM-DS. */
int ipa_download_setup(sgp32_ipa *ipa, sgp32_bytes trigger_value);
int ipa_indirect_initiate_authentication(sgp32_ipa *ipa, sgp32_bytes euicc_info1, sgp32_buf *out);
int ipa_indirect_wrap(sgp32_ipa *ipa, uint32_t tag, sgp32_bytes es10_response, sgp32_buf *out);
int ipa_direct_initiate_authentication(sgp32_ipa *ipa, sgp32_bytes euicc_info1, sgp32_buf *out);
int ipa_direct_wrap(sgp32_ipa *ipa, uint32_t tag, sgp32_bytes es10_response, sgp32_buf *out);
int ipa_direct_handle_notification(sgp32_ipa *ipa, sgp32_bytes pir, sgp32_buf *out);
/* "1$SM-DP+ address$matchingId[$...]" */
int ipa_activation_code_parse(sgp32_bytes code, char *address, size_t address_size, char *matching_id,
                              size_t matching_size, bool *has_matching_id);
/* The response body (rx) with an optional ES9+ A2 wrapper removed; the function's TLV. */
int ipa_server_response(sgp32_ipa *ipa, uint32_t tag, sgp32_asn1_tlv *tlv);

/* ----- BPP stream (ipa_bpp_stream.c) */
void ipa_bpp_begin(sgp32_ipa *ipa, bool wrapped);
/* Feed a chunk (view kept until the next call). */
void ipa_bpp_feed(sgp32_ipa *ipa, sgp32_bytes chunk, bool last);
/* The next complete segment into seg: SGP32_OK; SGP32_ERR_NOT_FOUND when the chunk is used up
 * (ask for more, or end); 1 when the BPP ended; 2 when the server answered an error
 * (error_code); negative on a malformed body. */
int ipa_bpp_next(sgp32_ipa *ipa);

/* host[:port] made of the characters a DNS name, an IP address and a port use (ipa_asn1.c). */
bool ipa_address_plausible(sgp32_bytes address);

/* FSM actions shared by procedures that change the card's profiles (ipa_shared_actions.c). */
int ipa_act_reset_if_switched(void *ctx, int event, void *arg);
int ipa_act_list_notifications(void *ctx, int event, void *arg);
int ipa_act_report_epr(void *ctx, int event, void *arg);
int ipa_act_finish_ok(void *ctx, int event, void *arg);

#endif

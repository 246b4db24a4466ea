/*
 * sgp32 IPA core (lib/ipa, libsgp32-ipa): the IoT Profile Assistant of SGP.32 v1.2 as a
 * sans-I/O poll/step engine (design principle 2). It never blocks, never sleeps, has no
 * globals and makes no OS call: it tells its host what it needs next and the host answers.
 *
 *   sgp32_ipa_init / _free            one IPA per eUICC; config below
 *   sgp32_ipa_load_state              the last state blob the host saved (after power loss)
 *   sgp32_ipa_start_*                 work requests: boot, poll the eIM, a pushed eIM package,
 *                                     connectivity lost / restored, return from fallback
 *   sgp32_ipa_step                    feed the answer to the last action, get the next action
 *
 * The step loop (docs/ipa.md):
 *
 *   sgp32_ipa_event ev = {.type = SGP32_IPA_EV_NONE, .now = clock()};
 *   for (;;) {
 *       sgp32_ipa_step(ipa, &ev, &act);
 *       switch (act.type) {
 *       case SGP32_IPA_ACT_TRANSMIT_APDU:   send act.data to the card; ev = APDU_RESPONSE (data||SW)
 *       case SGP32_IPA_ACT_RESET_CARD:      reset the card (REFRESH); ev = CARD_RESET
 *       case SGP32_IPA_ACT_SEND_ESIPA:      POST act.data to act.address; ev = RESPONSE (body)
 *       case SGP32_IPA_ACT_SEND_ES9PLUS:    POST act.data to the SM-DP+ act.address; ev = RESPONSE
 *       case SGP32_IPA_ACT_RECEIVE_MORE:    ev = RESPONSE with the next chunk of the same body
 *       case SGP32_IPA_ACT_PUSH_RESPONSE:   answer the pushed TransferEimPackage; ev = NONE
 *       case SGP32_IPA_ACT_SAVE_STATE:      store act.data atomically; ev = STATE_SAVED
 *       case SGP32_IPA_ACT_WAIT:            ev = TIMER once the clock reaches act.until
 *       case SGP32_IPA_ACT_IDLE:            nothing to do: call a start_* function later
 *       }
 *   }
 *
 * Every byte view in an action stays valid until the next sgp32_ipa_step call; every byte view
 * in an event must stay valid for the duration of that call only (the core copies what it keeps),
 * except a RESPONSE chunk of a GetBoundProfilePackage answer, which the core walks in place and
 * relays to the card segment by segment: the host keeps it until it feeds the next chunk.
 */
#ifndef SGP32_IPA_H
#define SGP32_IPA_H

#include "sgp32/alloc.h"

/* IpaCapabilities.ipaFeatures (SGP.32 §2.11.2.2; NOTES §3.4). */
enum {
    SGP32_IPA_FEATURE_DIRECT_RSP_SERVER_COMMUNICATION = 1u << 0,
    SGP32_IPA_FEATURE_INDIRECT_RSP_SERVER_COMMUNICATION = 1u << 1,
    SGP32_IPA_FEATURE_EIM_DOWNLOAD_DATA_HANDLING = 1u << 2,
    SGP32_IPA_FEATURE_EIM_CTX_PARAMS1_GENERATION = 1u << 3,
    SGP32_IPA_FEATURE_EIM_PROFILE_METADATA_VERIFICATION = 1u << 4,
    SGP32_IPA_FEATURE_MINIMIZE_ESIPA_BYTES = 1u << 5,
};

/* IpaCapabilities.ipaSupportedProtocols. */
enum {
    SGP32_IPA_PROTOCOL_RETRIEVE_HTTPS = 1u << 0,
    SGP32_IPA_PROTOCOL_RETRIEVE_COAPS = 1u << 1,
    SGP32_IPA_PROTOCOL_INJECT_HTTPS = 1u << 2,
    SGP32_IPA_PROTOCOL_INJECT_COAPS = 1u << 3,
    SGP32_IPA_PROTOCOL_PROPRIETARY = 1u << 4,
};

/* Which logical channel carries ES10 (NOTES §5.1). */
enum {
    SGP32_IPA_CHANNEL_CARD_ASSIGNED = -1, /* MANAGE CHANNEL 00 70 00 00 01: the card picks */
    SGP32_IPA_CHANNEL_BASIC = 0,          /* no MANAGE CHANNEL; SELECT on channel 0 */
    /* 1..19: MANAGE CHANNEL open of exactly that channel (00 70 00 ch 00) */
};

/* stateChangeCause of GetEimPackage (SGP.32 §5.14.5). */
typedef enum sgp32_ipa_state_change_cause {
    SGP32_IPA_CAUSE_OTHER_EIM = 0,
    SGP32_IPA_CAUSE_FALLBACK = 1,
    SGP32_IPA_CAUSE_EMERGENCY_PROFILE = 2,
    SGP32_IPA_CAUSE_LOCAL = 3,
    SGP32_IPA_CAUSE_RESET = 4,
    SGP32_IPA_CAUSE_IMMEDIATE_ENABLE_PROFILE = 5,
    SGP32_IPA_CAUSE_DEVICE_CHANGE = 6,
    SGP32_IPA_CAUSE_UNDEFINED = 127,
} sgp32_ipa_state_change_cause;

/* One FSM transition, for transcripts and debugging (a time-free host callback). */
typedef void (*sgp32_ipa_trace)(void *ctx, const char *machine, const char *from, const char *event,
                                const char *to);

typedef struct sgp32_ipa_config {
    uint32_t ipa_features;  /* SGP32_IPA_FEATURE_*: what IpaCapabilities announces and what is used */
    uint32_t ipa_protocols; /* SGP32_IPA_PROTOCOL_*; 0: retrieve over HTTPS */
    /* The eIM accepts the compact forms of SGP.32 (AuthenticateServerResponse, PrepareDownload,
     * CancelSession, notifications). Used only with SGP32_IPA_FEATURE_MINIMIZE_ESIPA_BYTES. */
    bool eim_supports_compact;
    /* eIM address (host[:port]); NULL: eimFqdn of the first eIM the eUICC lists (BF55). */
    const char *eim_address;
    /* DeviceInfo (SGP.22), DER "30 {80 tac, A1 capabilities, [82 imei]}"; empty: TAC 00000000. */
    sgp32_bytes device_info;
    int channel;              /* SGP32_IPA_CHANNEL_*; default basic */
    uint8_t store_data_block; /* STORE DATA block size 1..255; 0: 255 */
    bool immediate_enable;    /* ES10b ImmediateEnable after a successful download */
    bool fallback;            /* connectivity lost: ES10b ExecuteFallbackMechanism */
    uint8_t rollback_after;   /* failed reports after an enable with rollbackFlag before
                                 ProfileRollback; 0: 2 */
    uint32_t backoff_base_s;  /* first retry delay; 0: 30 s */
    uint32_t backoff_max_s;   /* cap; 0: 3600 s */
    uint32_t poll_interval_s; /* IDLE's "until": next regular poll; 0: none */
    uint16_t max_packages;    /* eIM packages per retrieval before notifications; 0: 16 */
    size_t message_max;       /* cap of one ESipa/ES9+ message or ES10 response; 0: 8192 */
    size_t segment_max;       /* cap of one BPP segment (NOTES §5.2); 0: 2048 */
    sgp32_ipa_trace trace;    /* may be NULL */
    void *trace_ctx;
} sgp32_ipa_config;

/* ESipa and ES9+ functions (SGP.32 §5.14; SGP.22 §5.6). */
typedef enum sgp32_ipa_function {
    SGP32_IPA_FN_NONE = 0,
    SGP32_IPA_FN_INITIATE_AUTHENTICATION,
    SGP32_IPA_FN_AUTHENTICATE_CLIENT,
    SGP32_IPA_FN_GET_BOUND_PROFILE_PACKAGE,
    SGP32_IPA_FN_CANCEL_SESSION,
    SGP32_IPA_FN_HANDLE_NOTIFICATION,
    SGP32_IPA_FN_TRANSFER_EIM_PACKAGE,
    SGP32_IPA_FN_GET_EIM_PACKAGE,
    SGP32_IPA_FN_PROVIDE_EIM_PACKAGE_RESULT,
} sgp32_ipa_function;

typedef enum sgp32_ipa_action_type {
    SGP32_IPA_ACT_IDLE = 0,      /* nothing to do; until: next regular poll (0: none) */
    SGP32_IPA_ACT_TRANSMIT_APDU, /* data: command APDU; answer APDU_RESPONSE or TRANSPORT_ERROR */
    SGP32_IPA_ACT_RESET_CARD,    /* reset/REFRESH the card; answer CARD_RESET or TRANSPORT_ERROR */
    SGP32_IPA_ACT_SEND_ESIPA,    /* data: DER body for function, to the eIM at address */
    SGP32_IPA_ACT_SEND_ES9PLUS,  /* data: RemoteProfileProvisioningRequest DER (A2 {...}) to the SM-DP+ */
    SGP32_IPA_ACT_RECEIVE_MORE,  /* the next chunk of the response body being received */
    SGP32_IPA_ACT_PUSH_RESPONSE, /* data: TransferEimPackageResponse DER for the pushing eIM */
    SGP32_IPA_ACT_SAVE_STATE,    /* data: the state blob; answer STATE_SAVED or STATE_SAVE_FAILED */
    SGP32_IPA_ACT_WAIT,          /* answer TIMER once now >= until (or call a start_* function) */
} sgp32_ipa_action_type;

typedef struct sgp32_ipa_action {
    sgp32_ipa_action_type type;
    sgp32_bytes data;
    sgp32_ipa_function function; /* SEND_ESIPA / SEND_ES9PLUS */
    const char *address;         /* SEND_*: eIM or SM-DP+ address (host[:port]) */
    bool expect_body;            /* SEND_*: false for HandleNotification (204 / empty 200 is fine) */
    int64_t until;               /* WAIT / IDLE, in the host clock of sgp32_ipa_event.now */
} sgp32_ipa_action;

typedef enum sgp32_ipa_event_type {
    SGP32_IPA_EV_NONE = 0,        /* a kick (after start_*), or PUSH_RESPONSE sent */
    SGP32_IPA_EV_APDU_RESPONSE,   /* data: response APDU (data || SW1 SW2) */
    SGP32_IPA_EV_CARD_RESET,      /* the card was reset (data: ATR, unused) */
    SGP32_IPA_EV_RESPONSE,        /* data: (a chunk of) the response body; more: chunks follow */
    SGP32_IPA_EV_TRANSPORT_ERROR, /* the APDU, card reset, or ESipa/ES9+ exchange failed; status */
    SGP32_IPA_EV_STATE_SAVED,
    SGP32_IPA_EV_STATE_SAVE_FAILED,
    SGP32_IPA_EV_TIMER,
} sgp32_ipa_event_type;

typedef struct sgp32_ipa_event {
    sgp32_ipa_event_type type;
    sgp32_bytes data;
    bool more;       /* RESPONSE: more chunks of this body follow */
    int status;      /* TRANSPORT_ERROR: HTTP status or a negative sgp32_err, for the log */
    int64_t now;     /* host clock in seconds (any epoch, monotonic) */
    uint32_t random; /* host randomness for backoff jitter */
} sgp32_ipa_event;

/* What happened so far (for hosts, logs and tests). */
typedef struct sgp32_ipa_stats {
    uint32_t packages;             /* eIM packages executed (pulled or pushed) */
    uint32_t results_acknowledged; /* seqNumbers removed after eimAcknowledgements */
    uint32_t notifications_delivered;
    uint32_t downloads_installed; /* PIR with success */
    uint32_t downloads_failed;
    uint32_t rollbacks;
    uint32_t fallbacks;
    uint32_t card_resets;
    uint32_t failures; /* procedures that ended in backoff */
    uint32_t bpp_segments;
    int last_error;         /* sgp32_err of the last failure */
    unsigned last_sw;       /* last card status word that was not 9000/61xx */
    int64_t last_eim_error; /* last eIM error code (eimPackageError, ...), 0 none */
} sgp32_ipa_stats;

typedef struct sgp32_ipa sgp32_ipa;

/* A new IPA (memory through the allocation hook). The config is copied; its byte views
 * (device_info) and strings (eim_address) must outlive the IPA. */
int sgp32_ipa_init(sgp32_ipa **out, const sgp32_ipa_config *config);
void sgp32_ipa_free(sgp32_ipa *ipa);

/* Restore the state blob of the last SAVE_STATE (before the first step). SGP32_ERR_STORE_CORRUPT
 * or SGP32_ERR_STORE_VERSION when it cannot be used; the IPA then starts clean. */
int sgp32_ipa_load_state(sgp32_ipa *ipa, const uint8_t *blob, size_t len);

/* Work requests. They return SGP32_ERR_STATE only when they cannot be taken now (a push while
 * a procedure runs); otherwise the work runs as soon as the current procedure ends. Then call
 * sgp32_ipa_step with SGP32_IPA_EV_NONE (or with the answer to the action in progress). */
int sgp32_ipa_start_boot(sgp32_ipa *ipa); /* device boot / card inserted: recover, then poll */
int sgp32_ipa_start_poll(sgp32_ipa *ipa); /* GetEimPackage loop now */
/* A TransferEimPackageRequest (BF4E) the eIM pushed; copied. */
int sgp32_ipa_start_push(sgp32_ipa *ipa, const uint8_t *body, size_t len);
int sgp32_ipa_start_connectivity_lost(sgp32_ipa *ipa);     /* fallback (or rollback) */
int sgp32_ipa_start_connectivity_restored(sgp32_ipa *ipa); /* retry now instead of after backoff */
int sgp32_ipa_start_return_from_fallback(sgp32_ipa *ipa);
/* rPLMN for the next GetEimPackage (3 bytes, TS 24.008); NULL clears. */
void sgp32_ipa_set_rplmn(sgp32_ipa *ipa, const uint8_t *plmn);

/* Feed the answer to the previous action (or NONE / TIMER) and get the next action.
 * SGP32_ERR_STATE when the event does not answer the action in progress (host bug). */
int sgp32_ipa_step(sgp32_ipa *ipa, const sgp32_ipa_event *in, sgp32_ipa_action *out);

const sgp32_ipa_stats *sgp32_ipa_get_stats(const sgp32_ipa *ipa);
/* The EID read from the card (NULL before the first boot procedure). */
const uint8_t *sgp32_ipa_eid(const sgp32_ipa *ipa);
const char *sgp32_ipa_function_name(sgp32_ipa_function function);
const char *sgp32_ipa_action_name(sgp32_ipa_action_type type);

/* IpaCapabilities DER (30 {80 features, 81 protocols}) for these bits, appended to out. */
int sgp32_ipa_capabilities_encode(uint32_t features, uint32_t protocols, sgp32_buf *out);

#endif

/*
 * Test host for the IPA core (lib/ipa): it answers every action of sgp32_ipa_step with an
 * in-process software eUICC (sgp32_euicc_transmit), a scripted eIM (packages signed with lib/eim,
 * results verified, acknowledgements, notifications; the indirect-download relay to lib/smdp), a
 * scripted SM-DP+ for direct download (ES9+ ASN.1 binding), a state store, a clock, and fault
 * injection at any action: transport errors, eIM error codes, card status words, 6985 until
 * reset, power loss before or after an action.
 *
 * Each action is written to a transcript ("ESIPA GetEimPackage;ES10 BF51;SAVE;RESET;...") that
 * the tests compare with what the procedure must do.
 */
#ifndef SGP32_TEST_IPA_HOST_H
#define SGP32_TEST_IPA_HOST_H

#include "euicc_fixture.h"
#include "sgp32/asn1_types.h"
#include "sgp32/certificate.h"
#include "sgp32/eim_package.h"
#include "sgp32/ipa.h"
#include "sgp32/smdp_session.h"

#define HOST_EIM_ID  "eim.example.com"
#define HOST_SMDP    "smdp.example.com"
#define HOST_ICCID_A EUICC_FIXTURE_BOOTSTRAP_ICCID
#define HOST_ICCID_B "8900000000000000012"
#define HOST_ICCID_C "8900000000000000023"
#define HOST_AC      "1$smdp.example.com$MATCH-1"

enum { HOST_MAX_RESULTS = 16, HOST_TRANSCRIPT = 1 << 16 };

typedef enum host_stop {
    HOST_IDLE = 0,   /* the IPA went IDLE */
    HOST_WAITING,    /* the IPA asked to WAIT and auto_timer is off (or the wait budget is used) */
    HOST_POWER_LOSS, /* power_loss_at reached */
    HOST_LIMIT,      /* too many actions */
} host_stop;

typedef struct host {
    euicc_fixture f;
    sgp32_ipa *ipa;
    sgp32_ipa_config config;
    sgp32_arena arena;

    /* eIM */
    sgp32_ec_private_key eim_key;
    sgp32_ec_public_key eim_pub;
    sgp32_ec_public_key euicc_pub; /* CERT.EUICC NIST: verifies EPRs */
    bool has_token;
    int64_t token;
    int64_t counter;
    sgp32_buf queue[8]; /* packages GetEimPackage hands out, in order */
    size_t queue_head, queue_count;
    sgp32_buf results[HOST_MAX_RESULTS]; /* EimPackageResult TLVs the eIM received */
    size_t result_count;
    sgp32_buf notifications[HOST_MAX_RESULTS]; /* HandleNotification bodies */
    size_t notification_count;
    int64_t acked[64]; /* every seqNumber acknowledged */
    size_t acked_count;
    bool eim_no_ack;       /* answer ProvideEimPackageResult with emptyResponse */
    bool eim_unreachable;  /* every ESipa exchange fails */
    int64_t get_error;     /* GetEimPackage answers eimPackageError (0: no) */
    int64_t provide_error; /* ProvideEimPackageResult answers this error (0: no) */
    bool last_notify;      /* the last GetEimPackage carried notifyStateChange */
    int64_t last_cause;
    size_t get_count;
    bool epr_verified_all; /* every EPR the eIM got verified with lib/eim */
    size_t verified_eprs;
    size_t cancel_count;
    sgp32_buf push_response; /* the last PUSH_RESPONSE */

    /* SM-DP+ */
    const char *smdp_address; /* its address (serverAddress, the metadata's); NULL: HOST_SMDP */
    sgp32_ci_set cis;
    sgp32_smdp_credentials cred;
    sgp32_buf files[3];
    sgp32_buf upp, metadata, bpp, response;
    sgp32_smdp_session smdp;
    bool pir_verified; /* a PIR reached the SM-DP+ (direct) or the eIM (indirect) and verified */
    bool pir_success;
    size_t es9_count;
    size_t chunk; /* deliver responses in chunks of this size (0: whole) */
    size_t chunk_off;
    size_t drop_at_chunk; /* the connection drops instead of delivering this chunk (RECEIVE_MORE) */
    size_t chunks;
    bool smdp_refuse_bpp; /* GetBoundProfilePackage answers an error */

    /* card faults */
    unsigned fail_apdu_sw; /* the fail_apdu_at-th APDU is answered with this SW */
    size_t fail_apdu_at;
    bool fail_apdu_io; /* ... or a transport error */
    bool force_6985;   /* the next STORE DATA chain start answers 6985 until a reset */

    /* transport and power faults */
    size_t fail_esipa_at;                  /* the n-th ESipa/ES9+ exchange fails (transport) */
    size_t fail_esipa_from, fail_esipa_to; /* ... and every exchange in this range (1-based) */
    sgp32_buf sent[9];                     /* the last body sent per sgp32_ipa_function */
    sgp32_buf last_package;                /* the last package queued (to queue it again) */
    size_t power_loss_at;                  /* stop before (or after, power_loss_after) the n-th action */
    bool power_loss_after;

    /* state store and clock */
    sgp32_buf blob;
    bool has_blob;
    bool save_fails;
    int64_t now;
    bool auto_timer; /* WAIT: advance the clock and answer TIMER */
    size_t waits;

    /* counters and transcript */
    size_t actions, apdus, esipa, resets, saves;
    char transcript[HOST_TRANSCRIPT];
    size_t transcript_len;
    sgp32_buf apdu_rsp;

    /* Called with every answer the host feeds the IPA (the action it answers, the event),
     * before RECEIVE_MORE chunks; for SEND_*, response holds the whole body. May be NULL. */
    void (*record)(struct host *h, const sgp32_ipa_action *a, const sgp32_ipa_event *ev);
    void *record_ctx;
    /* When set, SEND_ESIPA / SEND_ES9PLUS go through it instead of the in-process eIM (the wire
     * benchmark posts them over HTTPS to a server that calls host_eim_answer). It fills response
     * with the whole body; an error becomes TRANSPORT_ERROR. May be NULL. */
    int (*exchange)(struct host *h, const sgp32_ipa_action *a, sgp32_buf *response);
    void *exchange_ctx;
} host;

/* A card with the eIM associated (AddInitialEim, token), profiles A (enabled), B and C, and an
 * IPA with these features. */
void host_open(host *h, uint32_t features);
void host_close(host *h);
/* A new IPA from config and the stored blob (if any). */
void host_new_ipa(host *h);
/* Power loss: the IPA is gone, the card is power cycled, a new IPA starts from the blob. */
void host_power_cycle(host *h);
host_stop host_run(host *h, size_t max_actions);
/* Feed an event and perform one action (low level). */
void host_clear_transcript(host *h);
/* Whether the transcript contains the ;-separated sequence as consecutive entries. */
bool host_transcript_has(const host *h, const char *sequence);

/* The scripted eIM's (or, for SEND_ES9PLUS, SM-DP+'s) answer to one request, appended to out
 * (nothing for HandleNotification). */
void host_eim_answer(host *h, const sgp32_ipa_action *a, sgp32_buf *out);

/* eIM packages */
void host_queue(host *h, const uint8_t *der, size_t len);
void host_queue_psmos(host *h, sgp32_psmo *psmos, size_t count);
void host_queue_ecos(host *h, sgp32_eco *ecos, size_t count);
sgp32_bytes host_iccid(host *h, const char *digits);
sgp32_bytes host_text(host *h, const char *s);
/* The enabled profile's ICCID digits ("" when none). */
const char *host_enabled(host *h);
/* Pending objects on the card (notifications and EPRs). */
size_t host_card_pending(host *h);
/* The EPR the eIM received as result r: verified, its euiccResult contents as hex. */
const char *host_result_hex(host *h, size_t r);

/* The profile download: the TS.48 profile the SM-DP+ binds. */
void host_load_profile(host *h, const char *path);

#endif

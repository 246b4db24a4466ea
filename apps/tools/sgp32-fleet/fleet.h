/*
 * sgp32-fleet internals (docs/fleet.md): many simulated devices (software eUICC + IPA core) in
 * one process, driven by a pool of worker threads against a real eIM (and SM-DP+) over HTTPS.
 *
 *   sgp32-fleet.c      options, setup, the main loop (progress, report, --until-idle), shutdown
 *   fleet_identity.c   PKI, EIDs, eUICC certificates per device, card open/close, card snapshot
 *   fleet_device.c     one cycle of one device: the IPA step loop and its actions
 *   fleet_scheduler.c  the min-heap of due devices and the worker threads
 *   fleet_rest.c       factory association: REST registration in eimd and AddInitialEim
 *   fleet_report.c     the JSON report and the progress line
 *
 * A device between two cycles is "powered down": its card exists only as its NVM (a memory
 * store) and its IPA only as its 128-byte state blob. A cycle powers it up (card open, IPA
 * restored from the blob, start_boot), runs until the IPA is IDLE or WAITs, takes a snapshot of
 * what the card says, and powers it down again. That keeps an idle device at a few KB.
 */
#ifndef SGP32_FLEET_H
#define SGP32_FLEET_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>

#include "sgp32/certificate.h"
#include "sgp32/esipa_client.h"
#include "sgp32/euicc.h"
#include "sgp32/ipa.h"
#include "sgp32/log.h"

enum {
    FLEET_MAX_CURVES = 2,
    FLEET_MAX_PROFILES = 16, /* what the software eUICC holds */
    FLEET_MAX_EIMS = 4,
    FLEET_STATE_MAX = 128, /* the IPA state blob */
    FLEET_ERROR_TEXT = 160,
};

enum { FLEET_EXIT_OK = 0, FLEET_EXIT_NOT_IDLE = 1, FLEET_EXIT_USAGE = 2, FLEET_EXIT_SETUP = 3 };

/* One curve of the PKI: the EUM that issues the devices' certificates, and its CI. */
typedef struct fleet_issuer {
    sgp32_curve curve;
    const char *tag; /* "NIST" / "BRP" */
    sgp32_buf eum_der;
    sgp32_certificate eum; /* parsed: name constraints, validity */
    sgp32_ec_private_key eum_key;
    sgp32_buf ci_der;
} fleet_issuer;

typedef struct fleet_options {
    const char *pki_dir;
    bool curve_nist, curve_brp; /* both false: every curve the PKI has */
    size_t devices;
    const char *first_eid;
    const char **eids; /* --eid, in order */
    size_t eid_count;
    const char *bootstrap_iccid;
    const char *default_smdp;
    const char *register_url; /* the REST base, ending in /api/v1 */
    char *token;              /* owned; wiped at exit */
    size_t register_batch;
    const char *write_import;
    const char **ca_files;
    size_t ca_count;
    const char *eim_address; /* overrides the card's eimFqdn */
    sgp32_esipa_binding binding;
    size_t threads;
    double indirect_fraction;
    uint32_t extra_features;
    double poll_interval_s;
    uint32_t backoff_base_s, backoff_max_s;
    uint8_t rollback_after;
    int http_timeout_ms;
    const char **no_attach; /* EIDs or device indexes */
    size_t no_attach_count;
    const char *report_path;
    double report_interval_s;
    bool until_idle;
    double idle_seconds;
    double max_seconds;
    double progress_s;
    int log_level;
} fleet_options;

/* A profile as the card reports it (GetProfilesInfo). */
typedef struct fleet_profile {
    char iccid[21];
    bool enabled;
    int8_t profile_class; /* -1 unknown */
} fleet_profile;

/* What the card said at the end of the device's last cycle. */
typedef struct fleet_snapshot {
    bool valid;
    uint8_t profile_count;
    fleet_profile profiles[FLEET_MAX_PROFILES];
    uint8_t eim_count;
    char *eim_ids[FLEET_MAX_EIMS]; /* heap strings (sgp32_alloc) */
    char *eim_fqdns[FLEET_MAX_EIMS];
} fleet_snapshot;

typedef enum fleet_device_status {
    FLEET_DEV_STARTING = 0, /* no cycle finished yet */
    FLEET_DEV_BUSY,         /* a worker runs its cycle */
    FLEET_DEV_IDLE,         /* the last cycle ended IDLE (no package) */
    FLEET_DEV_BACKOFF,      /* the last cycle failed: WAIT until the IPA's retry time */
} fleet_device_status;

/* Counters kept per device and summed for the fleet. */
typedef struct fleet_counters {
    uint64_t cycles;       /* wake-ups */
    uint64_t procedures;   /* HTTPS sessions (one TLS connection each) */
    uint64_t es9_sessions; /* of which ES9+ to an SM-DP+ (direct download) */
    uint64_t requests;     /* HTTP requests */
    uint64_t bytes_sent, bytes_received;
    uint64_t packages, results_acknowledged, notifications_delivered;
    uint64_t downloads_installed, downloads_failed;
    uint64_t rollbacks, fallbacks, card_resets;
    uint64_t failures;        /* procedures that ended in backoff */
    uint64_t host_errors;     /* association failures, core refusals */
    uint64_t attach_failures; /* exchanges refused by --no-attach */
} fleet_counters;

typedef struct fleet_device {
    uint32_t index;
    char eid[SGP32_EID_DIGITS + 1];
    uint32_t features; /* IpaCapabilities.ipaFeatures */
    bool no_attach;
    /* identity, one per curve */
    uint8_t *cert[FLEET_MAX_CURVES];
    size_t cert_len[FLEET_MAX_CURVES];
    sgp32_ec_private_key key[FLEET_MAX_CURVES];
    /* the card's NVM and the IPA's state blob: the device while it is powered down */
    sgp32_euicc_memory_store *memory;
    sgp32_euicc_store store;
    uint8_t blob[FLEET_STATE_MAX];
    uint8_t blob_len;
    bool associated;
    uint32_t failed_cycles; /* in a row (the IPA WAITed, or association/card failed): the backoff */

    /* scheduling (under fleet.lock) */
    int64_t due_ms;
    size_t heap_pos;
    /* public state (under fleet.lock; written by the worker at the end of a cycle) */
    fleet_device_status status;
    int64_t settled_since_ms; /* first of the empty polls in a row (0: the last cycle did work or failed) */
    int64_t last_empty_ms;    /* the last of them */
    fleet_counters counters;
    char last_error[FLEET_ERROR_TEXT];
    fleet_snapshot snap;
} fleet_device;

typedef struct fleet fleet;

/* What a worker thread owns: buffers and its REST connection, reused from device to device. */
typedef struct fleet_worker {
    fleet *f;
    pthread_t thread;
    unsigned id;
    uint64_t rng;
    sgp32_buf apdu_rsp, response, es9_rsp, es10_rsp;
    void *rest; /* CURL * for REST calls (fleet_rest.c), opened on first use */
} fleet_worker;

struct fleet {
    fleet_options opt;
    fleet_issuer issuers[FLEET_MAX_CURVES];
    size_t issuer_count;
    sgp32_euicc_preloaded_profile bootstrap;
    char ca_path[4096]; /* the PEM bundle every HTTPS client trusts ("" = system store) */
    char ca_tmp[4096];  /* a temporary bundle made from several --ca files, removed at exit */
    fleet_device *devices;
    size_t count;

    pthread_mutex_t lock;
    pthread_cond_t wake;
    size_t *heap; /* device indexes by due_ms */
    size_t heap_len;
    fleet_worker *workers;
    size_t worker_count;
    atomic_bool stop;

    int64_t started_ms;
};

/* ------------------------------------------------------------------ shared helpers */

int64_t fleet_now_ms(void);             /* CLOCK_MONOTONIC */
uint32_t fleet_random(uint64_t *state); /* xorshift */
/* printf into a fixed buffer, cut when too long */
void fleet_set_error(char *dst, size_t size, const char *fmt, ...) SGP32_PRINTF(3, 4);
int fleet_read_file(const char *path, sgp32_buf *out, size_t max);

/* fleet_identity.c */
int fleet_load_pki(fleet *f);
int fleet_make_eids(fleet *f);
int fleet_issue_identities(fleet *f, size_t first, size_t end);
int fleet_issue_all(fleet *f);
int fleet_check_first_identity(fleet *f);
int fleet_card_open(fleet *f, fleet_device *d, sgp32_euicc **card);
void fleet_card_close(sgp32_euicc *card);
int fleet_card_snapshot(sgp32_euicc *card, sgp32_buf *scratch, fleet_snapshot *out);
void fleet_snapshot_free(fleet_snapshot *s);
void fleet_device_free(fleet_device *d);

/* fleet_device.c: one cycle of d; returns when it is due again (fleet_now_ms clock) */
int64_t fleet_run_cycle(fleet_worker *w, fleet_device *d);

/* fleet_scheduler.c */
int fleet_scheduler_start(fleet *f);
void fleet_scheduler_stop(fleet *f);
/* Every device due now, idleness forgotten (SIGUSR1: "the eIM has work for you"). */
void fleet_poll_all_now(fleet *f);
void fleet_worker_init(fleet_worker *w, fleet *f, unsigned id);
void fleet_worker_free(fleet_worker *w);

/* fleet_rest.c */
int fleet_rest_global_init(void);
void fleet_rest_global_cleanup(void);
int fleet_register_all(fleet *f);
int fleet_associate(fleet_worker *w, fleet_device *d, sgp32_euicc *card, char *error, size_t error_size);
void fleet_rest_close(fleet_worker *w);
int fleet_write_import(fleet *f);
/* base64 of DER into a new jansson string (NULL on failure) */
void *fleet_json_base64(const uint8_t *der, size_t len);

/* fleet_report.c */
int fleet_write_report(fleet *f, bool final);
void fleet_progress(fleet *f, FILE *out);
/* Devices that have been idle (no package, no failure) for the idle time, and whether all are. */
size_t fleet_settled_count(fleet *f, int64_t now_ms);

#endif

/*
 * sgp32 software eUICC (lib/euicc): an ISD-R that behaves like a certified
 * SGP.32 v1.2 eUICC, for tests, labs and demos.
 *
 * Three ways in, one card:
 *   sgp32_euicc_transmit  ISO 7816 command APDU -> response APDU (SELECT, MANAGE CHANNEL,
 *                         TERMINAL CAPABILITY, STORE DATA chaining, GET RESPONSE)
 *   sgp32_euicc_es10      one ES10 request (the DER carried by STORE DATA) -> its response
 *   sgp32_euicc_reset     a card reset (power cycle or REFRESH): channels and sessions end
 *
 * Persistent state goes through a store (sgp32_euicc_store): the eUICC writes
 * one versioned state object after every change that must survive power loss,
 * plus one object per installed profile (its profile elements).
 */
#ifndef SGP32_EUICC_H
#define SGP32_EUICC_H

#include "sgp32/alloc.h"
#include "sgp32/crypto.h"

/* Where the eUICC keeps what survives a reset. save must be atomic: after a crash the
 * object holds the old or the new bytes, never a mix. */
typedef struct sgp32_euicc_store {
    /* SGP32_ERR_NOT_FOUND when there is no such object. */
    int (*load)(void *ctx, const char *name, sgp32_buf *out);
    int (*save)(void *ctx, const char *name, const uint8_t *data, size_t len);
    int (*remove)(void *ctx, const char *name);
    void *ctx;
} sgp32_euicc_store;

/* A store in a directory: each object is a file written with write, fsync, rename, fsync(dir). */
typedef struct sgp32_euicc_file_store {
    char dir[512];
} sgp32_euicc_file_store;
int sgp32_euicc_file_store_init(sgp32_euicc_file_store *fs, const char *dir, sgp32_euicc_store *store);

/* A store in memory (tests, in-process fleets). Free with sgp32_euicc_memory_store_free. */
typedef struct sgp32_euicc_memory_store sgp32_euicc_memory_store;
int sgp32_euicc_memory_store_new(sgp32_euicc_memory_store **ms, sgp32_euicc_store *store);
void sgp32_euicc_memory_store_free(sgp32_euicc_memory_store *ms);

/* One signing identity: CERT.EUICC + CERT.EUM issued under one CI, and SK.EUICC. */
typedef struct sgp32_euicc_identity {
    sgp32_bytes euicc_certificate; /* DER */
    sgp32_bytes eum_certificate;   /* DER */
    sgp32_ec_private_key key;
} sgp32_euicc_identity;

enum { SGP32_EUICC_MAX_IDENTITIES = 2, SGP32_EUICC_MAX_TRUSTED_CIS = 4 };

/* A profile present at "manufacture" (the bootstrap/provisioning profile). */
typedef struct sgp32_euicc_preloaded_profile {
    const char *iccid; /* digits */
    const char *name;  /* profileName */
    const char *service_provider_name;
    int profile_class; /* SGP32_PROFILE_CLASS_* (0 test, 1 provisioning, 2 operational) */
    bool enabled;
    bool fallback_attribute; /* the fallback profile */
} sgp32_euicc_preloaded_profile;

typedef struct sgp32_euicc_config {
    /* Identities, one per CI the eUICC signs for (e.g. NIST and brainpool). */
    sgp32_euicc_identity identities[SGP32_EUICC_MAX_IDENTITIES];
    size_t identity_count;
    /* CI certificates (DER) for verifying SM-DP+ certificates (euiccCiPKIdListForVerification). */
    sgp32_bytes trusted_cis[SGP32_EUICC_MAX_TRUSTED_CIS];
    size_t trusted_ci_count;
    sgp32_euicc_store store;
    /* Used only when the store holds no state yet ("manufacture"). */
    const char *default_dp_address; /* may be NULL */
    const char *root_ds_address;    /* may be NULL: "lpa.ds.gsma.com" */
    const sgp32_euicc_preloaded_profile *preloaded;
    size_t preloaded_count;
    /* Test switch: allow ES10c Enable/Disable/Delete (consumer-style) besides PSMOs. */
    bool allow_es10c_profile_management;
} sgp32_euicc_config;

typedef struct sgp32_euicc sgp32_euicc;

/* Open the card: load its state from the store, or manufacture it. */
int sgp32_euicc_open(const sgp32_euicc_config *config, sgp32_euicc **out);
void sgp32_euicc_close(sgp32_euicc *euicc);

/* The EID (16 BCD bytes, from CERT.EUICC). */
const uint8_t *sgp32_euicc_eid(const sgp32_euicc *euicc);

/* One command APDU in, one response APDU (data || SW1 SW2) out. Returns an error only when
 * the host misbehaves (bad arguments); card-level problems are status words. */
int sgp32_euicc_transmit(sgp32_euicc *euicc, const uint8_t *command, size_t command_len, sgp32_buf *response);

/* One ES10 function: the DER request as carried in STORE DATA, the DER response appended to
 * response (empty for the intermediate LoadBoundProfilePackage segments). Returns an error
 * when the request cannot be parsed at all (the APDU layer answers 6A80). */
int sgp32_euicc_es10(sgp32_euicc *euicc, const uint8_t *request, size_t request_len, sgp32_buf *response);

/* A card reset: logical channels closed, the download session and pending data dropped. */
void sgp32_euicc_reset(sgp32_euicc *euicc);

/* The ATR the card answers with (offers T=0 and T=1). */
sgp32_bytes sgp32_euicc_atr(void);

/* --- test switches (they say so) --- */

/* Make a profile "unable to attach" (true) or able again: the network side of the demo and of
 * IPA rollback/fallback tests asks sgp32_euicc_test_can_attach before it lets traffic through. */
int sgp32_euicc_test_set_unable_to_attach(sgp32_euicc *euicc, const char *iccid, bool unable);
/* Whether the currently enabled profile could attach to a network (false with no profile). */
bool sgp32_euicc_test_can_attach(const sgp32_euicc *euicc);
/* The ICCID digits of the enabled profile into out (21 bytes); SGP32_ERR_NOT_FOUND if none. */
int sgp32_euicc_enabled_iccid(const sgp32_euicc *euicc, char out[21]);

#endif

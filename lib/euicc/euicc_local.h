/*
 * Helpers of the local ES10 functions (GetEUICCInfo, notifications, eIM configuration,
 * fallback, emergency, immediate enable, memory reset, ES10c profile functions).
 *
 * Why a change object: every state change must reach the NVM (euicc_state_save) before the
 * response is produced, and a failed write must leave the card's memory equal to what is stored
 * (the store keeps the old bytes, so the old state is the truth). A change takes a copy of the
 * state first; commit writes the new state and restores the copy when the write fails.
 *
 * Profile deletion is split the same way: the state forgets the profile now, its stored
 * profile elements are removed only once the new state is on the NVM, so a failed write never
 * leaves a profile in the state whose elements are gone.
 */
#ifndef SGP32_EUICC_LOCAL_H
#define SGP32_EUICC_LOCAL_H

#include "euicc_internal.h"

typedef struct euicc_change {
    euicc_state *before; /* the state as stored when the change began */
    uint8_t deleted_iccids[EUICC_MAX_PROFILES][10];
    size_t deleted_count;
} euicc_change;

/* Start a change: SGP32_ERR_NO_MEMORY when no copy can be taken (nothing changed). */
int euicc_change_begin(sgp32_euicc *euicc, euicc_change *change);
/* Write the state; on failure restore the copy and return the error. Frees the copy. */
int euicc_change_commit(sgp32_euicc *euicc, euicc_change *change);
/* Give up: restore the copy and free it. */
void euicc_change_abort(sgp32_euicc *euicc, euicc_change *change);

/* Remove a profile from the state as part of a change: references to it (fallback/emergency
 * return, rollback target) are cleared; with drop_notifications its pending notifications and
 * PIRs go too (eUICC memory reset). Its stored elements are removed at commit. */
void euicc_change_delete_profile(sgp32_euicc *euicc, euicc_change *change, euicc_profile *profile,
                                 bool drop_notifications);

/* After a profile switch: a fallback or emergency whose profile is no longer enabled is over. */
void euicc_settle_special_states(sgp32_euicc *euicc);

/* The profile with ecallIndication / fallbackAttribute set; NULL when there is none. */
euicc_profile *euicc_emergency_profile(sgp32_euicc *euicc);
euicc_profile *euicc_fallback_profile(sgp32_euicc *euicc);

/* SetDefaultDpAddress in either form (es10b_set_default_dp_address.c). */
int euicc_set_default_dp_address(sgp32_euicc *euicc, const sgp32_asn1_type *request_type,
                                 uint32_t response_tag, const uint8_t *request, size_t len, sgp32_buf *out);

/* Append tag { 80 code }: the one-result responses of ES10b/ES10c. */
int euicc_write_result(sgp32_buf *out, uint32_t tag, int64_t code);

/* Whether a profile was loaded at manufacture (SGP.22 pre-loaded) rather than downloaded. */
bool euicc_profile_preloaded(const sgp32_euicc *euicc, const euicc_profile *profile);

/* The CI lists of GetEUICCInfo1/2: for verification the SKIs of the trusted CIs (what the
 * eUICC can check an SM-DP+ chain against), for signing the CIs its own chains end in (the AKI
 * of each CERT.EUM), without duplicates. Views into the eUICC. */
typedef struct euicc_ci_lists {
    sgp32_bytes verification[SGP32_CI_SET_MAX];
    size_t verification_count;
    sgp32_bytes signing[SGP32_EUICC_MAX_IDENTITIES];
    size_t signing_count;
} euicc_ci_lists;
void euicc_get_ci_lists(const sgp32_euicc *euicc, euicc_ci_lists *lists);

/* The SGP.22 version (svn) this card reports: SGP.32 v1.2 builds on SGP.22 v2.5 (its ASN.1
 * imports RSPDefinitions V2.5). */
extern const uint8_t euicc_svn[3];

/* Decode arena size for the small requests. */
enum { EUICC_LOCAL_ARENA = 16 * 1024 };

#endif

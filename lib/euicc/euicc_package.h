/*
 * eUICC packages inside the software eUICC (SGP.32 §2.11, §3.3, §3.4, §5.9.x;
 * NOTES §8): what es10b_load_euicc_package.c, euicc_psmo.c, euicc_eco.c,
 * euicc_package_result.c and es10b_profile_rollback.c share. Private to lib/euicc.
 */
#ifndef SGP32_EUICC_PACKAGE_H
#define SGP32_EUICC_PACKAGE_H

#include "euicc_local.h"

/* Room the EPR header and signature take around the results (a stored eimId has at most
 * EUICC_EIM_ID_MAX bytes, the transaction id 16): results beyond EUICC_PENDING_DER_MAX -
 * EUICC_EPR_OVERHEAD end in processingTerminated(resultSizeOverflow). */
enum { EUICC_EPR_OVERHEAD = 256 };

/* Who an EuiccPackageResult is for and how it is signed. */
typedef struct euicc_epr_header {
    sgp32_bytes eim_id;
    int64_t counter_value;
    sgp32_bytes counter_raw; /* the INTEGER contents as received (echoed as is), or empty */
    bool has_transaction_id;
    sgp32_bytes transaction_id;
    /* associationToken of the eIM as the package was received (both signatures cover it). */
    bool has_token;
    int64_t token;
    const sgp32_euicc_identity *identity; /* SK.EUICC for the eIM's euiccCiPKId */
} euicc_epr_header;

/* One package being executed. */
typedef struct euicc_package_run {
    sgp32_euicc *euicc;
    euicc_change *change; /* the package's state change (written once, undone on failure) */
    euicc_epr_header header;
    size_t eim_index; /* the sending eIM (PSMO packages: the eIM list does not change) */
    /* §3.4.1/§3.4.2 step 1: one enable, and no disable after an enable or disable. */
    bool enable_done;
    bool disable_done;
    sgp32_buf results; /* EuiccResultData TLVs in operation order */
} euicc_package_run;

/* Execute one operation and append its EuiccResultData to run->results. *failed tells whether
 * the operation failed (processing then stops). A negative return is an internal failure
 * (store, memory, signing): the whole package is undone. */
int euicc_psmo_execute(euicc_package_run *run, const sgp32_psmo *psmo, bool *failed);
int euicc_eco_execute(euicc_package_run *run, const sgp32_eco *eco, bool *failed);

/* The identity that signs for an eIM (its euiccCiPKId, else the first). */
const sgp32_euicc_identity *euicc_package_identity(const sgp32_euicc *euicc, const euicc_eim *eim);

/* BF51 {A0 {30 {80, 81, [82], 83 seq, 30 results}, 5F37 euiccSignEPR}} appended to out. */
int euicc_package_write_result(const sgp32_euicc *euicc, const euicc_epr_header *h, int64_t seq_number,
                               sgp32_bytes results, sgp32_buf *out);
/* BF51 {A1 {30 {80, 81, [82], 02 code}, 5F37 euiccSignEPE}} appended to out. */
int euicc_package_write_signed_error(const sgp32_euicc *euicc, const euicc_epr_header *h, int64_t code,
                                     sgp32_buf *out);
/* BF51 {A2 {80 eimId, [82 txid], [84 token]}} appended to out. */
int euicc_package_write_unsigned_error(sgp32_bytes eim_id, bool has_transaction_id,
                                       sgp32_bytes transaction_id, bool has_token, int64_t token,
                                       sgp32_buf *out);

/* Queue a signed EPR (kind EUICC_PENDING_PACKAGE_RESULT) until RemoveNotificationFromList. */
int euicc_package_store_result(sgp32_euicc *euicc, int64_t seq_number, const uint8_t *der, size_t len);

/* The fields of a stored EPR (views into its der). */
typedef struct euicc_epr_view {
    sgp32_bytes eim_id;
    int64_t counter_value;
    int64_t seq_number;
    sgp32_bytes results; /* contents of euiccResult */
} euicc_epr_view;
int euicc_package_parse_stored(const uint8_t *der, size_t len, euicc_epr_view *view);
/* The pending EPR of eim_id for counter_value, or -1. */
int euicc_package_find_pending(const sgp32_euicc *euicc, sgp32_bytes eim_id, int64_t counter_value);

#endif

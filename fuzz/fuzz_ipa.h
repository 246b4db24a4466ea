/*
 * The IPA core (lib/ipa) under the fuzzers fuzz_ipa_esipa and fuzz_ipa_apdu.
 *
 * An IPA is driven by a recorded session ("script", fuzz/ipa_scripts/<name>.bin): every answer
 * a real host gave it (the software eUICC of lib/euicc behind its APDUs, the scripted eIM and
 * SM-DP+ of tests/unit/ipa_host.c behind ESipa/ES9+) in the order it gave them. The IPA is
 * deterministic, so replaying the answers walks it through the same states; the fuzzers replace
 * one eIM/SM-DP+ response (fuzz_ipa_esipa) or a run of APDU responses (fuzz_ipa_apdu) by the
 * fuzz input and replay the rest as far as it still fits. The scripts are written by
 * tests/unit/make_ipa_scripts.c (with the seeds of both targets); bench/footprint replays one
 * on a Cortex-M build.
 *
 * Script file: "IPAS" 01, ipa_features (4 bytes, big endian), then records:
 *   type (1 byte) | length (3 bytes, big endian) | data
 * with type one of the FUZZ_IPA_REC_* below.
 *
 * Header-only on purpose: the generator (a cmocka program) and the fuzz targets share it.
 */
#ifndef SGP32_FUZZ_IPA_H
#define SGP32_FUZZ_IPA_H

#include "sgp32/ipa.h"

enum {
    FUZZ_IPA_REC_BOOT = 'B',         /* sgp32_ipa_start_boot, then step with EV_NONE */
    FUZZ_IPA_REC_POLL = 'P',         /* sgp32_ipa_start_poll */
    FUZZ_IPA_REC_PUSH = 'U',         /* sgp32_ipa_start_push(data) */
    FUZZ_IPA_REC_APDU = 'A',         /* response APDU (data || SW) */
    FUZZ_IPA_REC_APDU_ERROR = 'a',   /* the card did not answer (TRANSPORT_ERROR) */
    FUZZ_IPA_REC_SERVER = 'E',       /* data: sgp32_ipa_function (1 byte) || response body */
    FUZZ_IPA_REC_SERVER_ERROR = 'e', /* data: sgp32_ipa_function; the exchange failed */
    FUZZ_IPA_HEADER = 9,
};

/* Every script the generator writes, and which fuzz_ipa_apdu byte 0 picks from. */
static const char *const fuzz_ipa_scripts[] = {
    "enable",   /* boot, GetEimPackage: enable PSMO (rollbackFlag), REFRESH, results, acks */
    "data",     /* GetEimPackage: IpaEuiccDataRequest with every tag, then a bad one */
    "push",     /* boot, then a pushed enable package and a pushed IpaEuiccDataRequest */
    "indirect", /* profile download relayed by the eIM (TS.48 v1, 12 KB BPP) */
    "direct",   /* profile download from the SM-DP+ over ES9+ (TS.48 v2) */
    "cancel",   /* the SM-DP+ refuses the BPP: CancelSession through the eIM */
};
enum { FUZZ_IPA_SCRIPT_COUNT = sizeof(fuzz_ipa_scripts) / sizeof(fuzz_ipa_scripts[0]) };

/* What fuzz_ipa_esipa byte 0 picks: the nth response (0-based) of function in script, or the
 * pushed TransferEimPackageRequest (function TRANSFER_EIM_PACKAGE). */
typedef struct fuzz_ipa_target {
    const char *script;
    sgp32_ipa_function function;
    unsigned nth;
} fuzz_ipa_target;

static const fuzz_ipa_target fuzz_ipa_esipa_targets[] = {
    {"enable", SGP32_IPA_FN_GET_EIM_PACKAGE, 0},
    {"enable", SGP32_IPA_FN_PROVIDE_EIM_PACKAGE_RESULT, 0},
    {"enable", SGP32_IPA_FN_GET_EIM_PACKAGE, 1},
    {"data", SGP32_IPA_FN_GET_EIM_PACKAGE, 0},
    {"data", SGP32_IPA_FN_PROVIDE_EIM_PACKAGE_RESULT, 0},
    {"push", SGP32_IPA_FN_TRANSFER_EIM_PACKAGE, 0},
    {"push", SGP32_IPA_FN_TRANSFER_EIM_PACKAGE, 1},
    {"indirect", SGP32_IPA_FN_GET_EIM_PACKAGE, 0},
    {"indirect", SGP32_IPA_FN_INITIATE_AUTHENTICATION, 0},
    {"indirect", SGP32_IPA_FN_AUTHENTICATE_CLIENT, 0},
    {"indirect", SGP32_IPA_FN_GET_BOUND_PROFILE_PACKAGE, 0},
    {"indirect", SGP32_IPA_FN_PROVIDE_EIM_PACKAGE_RESULT, 0},
    {"direct", SGP32_IPA_FN_INITIATE_AUTHENTICATION, 0},
    {"direct", SGP32_IPA_FN_AUTHENTICATE_CLIENT, 0},
    {"direct", SGP32_IPA_FN_GET_BOUND_PROFILE_PACKAGE, 0},
    {"direct", SGP32_IPA_FN_HANDLE_NOTIFICATION, 0},
    {"cancel", SGP32_IPA_FN_GET_BOUND_PROFILE_PACKAGE, 0},
    {"cancel", SGP32_IPA_FN_CANCEL_SESSION, 0},
    {"cancel", SGP32_IPA_FN_PROVIDE_EIM_PACKAGE_RESULT, 0},
};
enum {
    FUZZ_IPA_ESIPA_TARGET_COUNT = sizeof(fuzz_ipa_esipa_targets) / sizeof(fuzz_ipa_esipa_targets[0]),
};

/* One replay (fuzz/fuzz_ipa_common.c). */
typedef struct fuzz_ipa_run {
    const char *script; /* one of fuzz_ipa_scripts */
    /* fuzz_ipa_esipa: the nth response of function (or the nth push) is body, in chunks of
     * chunk bytes (0: whole); function NONE: no replacement */
    sgp32_ipa_function function;
    unsigned nth;
    const uint8_t *body;
    size_t body_len;
    size_t chunk;
    /* fuzz_ipa_apdu: card answers from apdu_from on come from this stream (fuzz/fuzz_ipa_apdu.c) */
    bool apdu_override;
    size_t apdu_from;
    const uint8_t *apdu;
    size_t apdu_len;
} fuzz_ipa_run;

/* Replays the script with the replacement. Properties (sgp32_fuzz_fail when violated): every
 * answer is taken (sgp32_ipa_step never refuses a well-formed answer), actions are well formed
 * (APDU <= 261 bytes, messages <= message_max, state blob <= 128 bytes and loadable), the session
 * ends (IDLE, or a backoff WAIT) within the step budget, heap use through the allocation hook
 * stays within the IPA struct + 6 x message_max + segment_max with no block above message_max
 * (besides the struct), every free matches its allocation, and nothing is left after
 * sgp32_ipa_free. SGP32_OK when the session ended IDLE without a failed procedure. */
int sgp32_fuzz_ipa_run(const fuzz_ipa_run *run);
/* The number of card answers a script holds (fuzz_ipa_apdu picks its start with it). */
size_t sgp32_fuzz_ipa_card_answers(const char *script);

#endif

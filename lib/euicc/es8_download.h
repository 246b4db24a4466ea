/*
 * The eUICC's download session (SGP.22 §3.1.2-§3.1.3, §5.5, §5.7.5-§5.7.6; NOTES §5.2, §6, §7):
 * what the ISD-R keeps from AuthenticateServer to the Profile Installation Result. Private to
 * the download files: es10b_authenticate_server.c, es10b_prepare_download.c,
 * es10b_load_bound_profile_package.c, es10b_cancel_session.c and the es8_*.c ES8+ steps.
 *
 * Lifetime: AuthenticateServer creates it, PrepareDownload adds the one-time key, the BPP's
 * BF23 adds the BSP keys, and the PIR, CancelSession, any error, a reset or a new
 * AuthenticateServer end it. Everything secret is wiped when it ends.
 *
 * Memory (all capped, allocated only while a session exists):
 *   the struct itself (keys, ids, the metadata being built as an euicc_profile)   ~3 KiB
 *   command     ConfigureISDP / ReplaceSessionKeys plaintext                      <= 1 KiB
 *   metadata    StoreMetadata plaintext (BF25), which may span several 88s        <= 4 KiB
 *   elements    the decrypted profile elements (see below)                        <= 256 KiB
 * The profile elements are parsed as they arrive (header ICCID, end element); because the
 * store saves whole objects only, the parsed elements stay in `elements` until the final save.
 */
#ifndef SGP32_EUICC_ES8_DOWNLOAD_H
#define SGP32_EUICC_ES8_DOWNLOAD_H

#include "euicc_internal.h"

enum {
    EUICC_DL_TXID_MAX = 16,             /* TransactionId SIZE(1..16) */
    EUICC_DL_OID_MAX = 32,              /* euicc_profile.smdp_oid */
    EUICC_DL_COMMAND_MAX = 1024,        /* BF24 / BF26 plaintext */
    EUICC_DL_METADATA_MAX = 4096,       /* BF25 plaintext */
    EUICC_DL_ELEMENTS_MAX = 256 * 1024, /* one profile's elements */
    EUICC_DL_SIMA_SUCCESS_LEN = 9,      /* 30 07 A0 05 30 03 80 01 00 */
    EUICC_DL_REMOTE_OP_INSTALL_BPP = 1, /* RemoteOpId installBoundProfilePackage */
    EUICC_DL_CRT_KEY_TYPE_AES = 0x88,   /* CRT keyType */
    EUICC_DL_CRT_KEY_LEN = 0x10,        /* CRT keyLen */
    EUICC_DL_HOST_ID_MAX = 16,          /* hostId OctetTo16 */
};

typedef enum euicc_dl_phase {
    EUICC_DL_AUTHENTICATED = 1, /* AuthenticateServer answered OK */
    EUICC_DL_PREPARED,          /* PrepareDownload answered OK: otSK.EUICC exists */
    EUICC_DL_LOADING,           /* the BPP is arriving (BF36 header seen) */
} euicc_dl_phase;

/* What the next element of the BPP stream must be (NOTES §5.2). */
typedef enum euicc_dl_expect {
    EUICC_DL_EXPECT_BF36 = 0,
    EUICC_DL_EXPECT_BF23,
    EUICC_DL_EXPECT_A0,
    EUICC_DL_EXPECT_A1,
    EUICC_DL_EXPECT_88,
    EUICC_DL_EXPECT_A2_OR_A3,
    EUICC_DL_EXPECT_A3,
    EUICC_DL_EXPECT_86,
    EUICC_DL_EXPECT_NOTHING, /* the whole BPP is in */
} euicc_dl_expect;

struct euicc_download {
    euicc_dl_phase phase;
    size_t identity_index; /* the CERT.EUICC/EUM/SK.EUICC for euiccCiPKIdToBeUsed */
    uint8_t transaction_id[EUICC_DL_TXID_MAX];
    size_t transaction_id_len;
    char server_address[EUICC_ADDRESS_MAX + 1]; /* serverSigned1.serverAddress: the PIR goes there */
    uint8_t auth_smdp_oid[EUICC_DL_OID_MAX];    /* from CERT.DPauth (CancelSession) */
    size_t auth_smdp_oid_len;
    uint8_t euicc_signature1[SGP32_EC_RAW_SIG_LEN]; /* smdpSignature2 covers it */

    /* PrepareDownload */
    uint8_t smdp_oid[EUICC_DL_OID_MAX]; /* from CERT.DPpb (PIR, the profile's SM-DP+) */
    size_t smdp_oid_len;
    sgp32_ec_public_key dppb_key; /* verifies smdpSign in BF23 */
    bool has_otk;
    sgp32_ec_private_key otsk; /* otSK.EUICC.ECKA */
    sgp32_ec_public_key otpk;  /* otPK.EUICC.ECKA */

    /* LoadBoundProfilePackage */
    euicc_dl_expect expect;
    int64_t command;         /* bppCommandId of the step under way (for an error PIR) */
    size_t bpp_left;         /* BF36 value bytes still to come */
    size_t a1_left;          /* sequenceOf88 value bytes still to come */
    size_t a3_left;          /* sequenceOf86 value bytes still to come */
    sgp32_bsp bsp;           /* session keys, then the PPKs after ReplaceSessionKeys */
    sgp32_buf command_plain; /* ConfigureISDP / ReplaceSessionKeys */
    sgp32_buf metadata;      /* StoreMetadata BF25 */
    sgp32_buf elements;      /* decrypted profile elements */
    size_t parsed;           /* elements[0..parsed) are whole profile elements */
    bool has_header;         /* ProfileHeader seen (ICCID checked) */
    bool has_end;            /* PE-End seen */
    bool has_metadata;       /* pending holds the metadata */
    euicc_profile pending;   /* the profile being installed (metadata; AID at the end) */
};

/* ------------------------------------------------ es8_download_session.c */

/* Start a new session (ending any previous one; a one-time key pair of an unfinished previous
 * session is kept for a bppEuiccOtpk retry). NULL when out of memory. */
euicc_download *euicc_download_begin(sgp32_euicc *euicc);
/* End the session without the interruption PIR (normal ends: PIR answered, CancelSession,
 * an error answered). */
void euicc_download_discard(sgp32_euicc *euicc);
/* Whether txid is the session's transactionId. */
bool euicc_download_txid_is(const euicc_download *dl, sgp32_bytes txid);
/* Tag and length of the TLV starting at p (no value needed): SGP32_ERR_ASN1_TRUNCATED when the
 * header itself is cut, other SGP32_ERR_ASN1_* when it is malformed. */
int euicc_dl_read_header(const uint8_t *p, size_t avail, uint32_t *tag, size_t *value_len,
                         size_t *header_len);

/* ------------------------------------------------ ES8+ steps (one file each)
 * Each returns 0 when the step succeeded or the ErrorReason (SGP32_ERROR_REASON_*) of the
 * error PIR the eUICC answers. */

/* es8_initialise_secure_channel.c: BF23 (the whole TLV). */
int64_t es8_initialise_secure_channel(sgp32_euicc *euicc, euicc_download *dl, sgp32_bytes bf23);
/* es8_configure_isdp.c: the whole A0 {87...}. */
int64_t es8_configure_isdp(sgp32_euicc *euicc, euicc_download *dl, sgp32_bytes a0_value);
/* es8_store_metadata.c: one 88 TLV; then the end of sequenceOf88. */
int64_t es8_store_metadata_segment(sgp32_euicc *euicc, euicc_download *dl, sgp32_bytes tlv88);
int64_t es8_store_metadata_finish(sgp32_euicc *euicc, euicc_download *dl);
/* es8_replace_session_keys.c: the whole A2 {87...}. */
int64_t es8_replace_session_keys(sgp32_euicc *euicc, euicc_download *dl, sgp32_bytes a2_value);
/* es8_load_profile_elements.c: the A3 header (its length bounds the plaintext: the buffer is
 * reserved once, so no reallocation leaves copies of profile keys behind), one 86 TLV, then the
 * end of sequenceOf86. */
int64_t es8_load_profile_elements_begin(sgp32_euicc *euicc, euicc_download *dl, size_t a3_len);
int64_t es8_load_profile_elements_segment(sgp32_euicc *euicc, euicc_download *dl, sgp32_bytes tlv86);
int64_t es8_load_profile_elements_finish(sgp32_euicc *euicc, euicc_download *dl);
/* Unprotect the 87 TLVs of an A0/A2 value into dl->command_plain (shared by ConfigureISDP and
 * ReplaceSessionKeys; es8_configure_isdp.c). */
int64_t es8_unprotect_87_list(euicc_download *dl, sgp32_bytes value);
/* Map a BSP unprotect failure to an ErrorReason. */
int64_t es8_bsp_failure_reason(int rc);

/* es8_profile_installation_result.c: install the profile (reason 0) or not, then build, sign,
 * queue and persist the PIR and append it to out. The caller ends the session. Returns an
 * error only when not even an unsigned answer could be produced. */
int es8_profile_installation_result(sgp32_euicc *euicc, euicc_download *dl, int64_t reason, sgp32_buf *out);

#endif

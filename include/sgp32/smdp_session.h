/*
 * sgp32 SM-DP+ download session (lib/smdp): the SM-DP+'s half of the profile download of
 * SGP.22 §3.1.2-§3.1.3 (NOTES §6, §7), sans I/O. It builds and signs what the SM-DP+ sends
 * (serverSigned1, smdpSigned2, the Bound Profile Package) and checks what comes back from the
 * eUICC (AuthenticateServerResponse, PrepareDownloadResponse, PIR, CancelSession response).
 * Transport bindings (ES9+ JSON/ASN.1), orders and ES2+ are the SM-DP+ server's business.
 *
 *   sgp32_smdp_session_init                            credentials, trusted CIs, own address
 *   sgp32_smdp_initiate_authentication                 InitiateAuthentication: txid, serverSigned1
 *   sgp32_smdp_authenticate_client                     AuthenticateClient: eUICC checks, smdpSigned2
 *   sgp32_smdp_get_bound_profile_package               GetBoundProfilePackage: euiccSigned2 check, BPP
 *   sgp32_smdp_verify_pir / _verify_cancel_session     HandleNotification / CancelSession
 *
 * Spec-level outcomes come back in sgp32_smdp_check (design principle 6); the return value
 * says only whether the call could be made (arguments, order, memory).
 */
#ifndef SGP32_SMDP_SESSION_H
#define SGP32_SMDP_SESSION_H

#include "sgp32/certificate.h"

enum {
    SGP32_SMDP_TXID_LEN = 16, /* the transactionIds this SM-DP+ makes (1..16 allowed) */
    SGP32_SMDP_ADDRESS_MAX = 255,
    SGP32_SMDP_OID_MAX = 32,
    SGP32_SMDP_SIGNED_MAX = 400,     /* serverSigned1 / smdpSigned2 TLVs */
    SGP32_SMDP_MATCHING_ID_MAX = 64, /* matchingId (AC_Token) kept from ctxParams1 */
    SGP32_SMDP_SEGMENT_MAX = 1020,   /* SGP.22: a BPP segment incl. tag, length and MAC */
    SGP32_SMDP_SEGMENT_MIN = 64,     /* smallest segment size the builder accepts */
};

/* One SM-DP+ identity under one CI: CERT.DPauth and CERT.DPpb (DER) with their keys. */
typedef struct sgp32_smdp_credentials {
    sgp32_bytes dpauth_certificate;
    sgp32_ec_private_key dpauth_key;
    sgp32_bytes dppb_certificate;
    sgp32_ec_private_key dppb_key;
} sgp32_smdp_credentials;

typedef enum sgp32_smdp_phase {
    SGP32_SMDP_NEW = 0,
    SGP32_SMDP_AUTH_STARTED,    /* serverSigned1 made */
    SGP32_SMDP_CLIENT_VERIFIED, /* eUICC authenticated, smdpSigned2 not yet made */
    SGP32_SMDP_CLIENT_OK,       /* eUICC authenticated, smdpSigned2 made */
    SGP32_SMDP_BPP_BOUND,       /* euiccSigned2 accepted, BPP built */
    SGP32_SMDP_FINISHED,        /* PIR or CancelSession received */
} sgp32_smdp_phase;

/* Why a message from the eUICC was not accepted (the SM-DP+ server maps these to ES9+ codes). */
typedef enum sgp32_smdp_verdict {
    SGP32_SMDP_ACCEPTED = 0,
    SGP32_SMDP_MALFORMED,            /* does not decode (detail: the sgp32_err) */
    SGP32_SMDP_EUICC_ERROR,          /* the eUICC answered an error (euicc_error) */
    SGP32_SMDP_TRANSACTION_MISMATCH, /* another session's transactionId */
    SGP32_SMDP_CHALLENGE_MISMATCH,   /* serverChallenge or serverAddress is not ours */
    SGP32_SMDP_CERTIFICATE_INVALID,  /* CERT.EUM/CERT.EUICC refused (detail: the sgp32_err) */
    SGP32_SMDP_CI_MISMATCH,          /* CERT.EUM is not under the CI we asked for */
    SGP32_SMDP_SIGNATURE_INVALID,    /* euiccSignature1/2, euiccSignPIR, cancel signature */
    SGP32_SMDP_CONFIRMATION_CODE_MISSING,
    SGP32_SMDP_CONFIRMATION_CODE_REFUSED,
    SGP32_SMDP_OTPK_INVALID, /* otPK.EUICC not a point on the DPpb curve */
    SGP32_SMDP_OID_MISMATCH, /* smdpOid in the PIR / cancel response is not ours */
} sgp32_smdp_verdict;

typedef struct sgp32_smdp_check {
    sgp32_smdp_verdict verdict;
    int64_t euicc_error; /* with SGP32_SMDP_EUICC_ERROR: authenticate/downloadErrorCode */
    int detail;          /* the sgp32_err behind MALFORMED / CERTIFICATE_INVALID */
} sgp32_smdp_check;

typedef struct sgp32_smdp_session {
    /* set by sgp32_smdp_session_init */
    const sgp32_smdp_credentials *credentials;
    const sgp32_ci_set *trusted_cis; /* verify CERT.EUM / CERT.EUICC */
    int64_t now;                     /* certificate dates; SGP32_CERT_NO_TIME_CHECK skips them */
    char server_address[SGP32_SMDP_ADDRESS_MAX + 1];
    uint8_t smdp_oid[SGP32_SMDP_OID_MAX]; /* SAN registeredID of CERT.DPpb (= DPauth's) */
    size_t smdp_oid_len;
    sgp32_curve dppb_curve;
    sgp32_smdp_phase phase;

    /* InitiateAuthentication */
    uint8_t transaction_id[SGP32_SMDP_TXID_LEN];
    size_t transaction_id_len;
    uint8_t server_challenge[16];
    uint8_t ci_pkid[SGP32_CERT_KEY_ID_MAX]; /* euiccCiPKIdToBeUsed: the AKI of CERT.DPauth */
    size_t ci_pkid_len;
    uint8_t server_signed1[SGP32_SMDP_SIGNED_MAX]; /* the TLV as signed */
    size_t server_signed1_len;
    uint8_t server_signature1[SGP32_EC_RAW_SIG_LEN];

    /* AuthenticateClient */
    bool has_matching_id; /* ctxParams1 carried a matchingId (it may be empty) */
    char matching_id[SGP32_SMDP_MATCHING_ID_MAX + 1];
    uint8_t eid[16];
    sgp32_ec_public_key euicc_key; /* from CERT.EUICC */
    uint8_t euicc_signature1[SGP32_EC_RAW_SIG_LEN];
    bool cc_required;
    uint8_t hash_cc[SGP32_SHA256_LEN]; /* expected, when cc_required */
    uint8_t smdp_signed2[SGP32_SMDP_SIGNED_MAX];
    size_t smdp_signed2_len;
    uint8_t smdp_signature2[SGP32_EC_RAW_SIG_LEN];

    /* GetBoundProfilePackage */
    sgp32_ec_public_key euicc_otpk;
} sgp32_smdp_session;

/* server_address: the FQDN (or host:port) in serverSigned1 and the PIR's notificationAddress.
 * credentials and trusted_cis must outlive the session. */
int sgp32_smdp_session_init(sgp32_smdp_session *s, const sgp32_smdp_credentials *credentials,
                            const sgp32_ci_set *trusted_cis, const char *server_address, int64_t now);
/* Wipe the session (it holds no private key, but the transaction is over). */
void sgp32_smdp_session_clear(sgp32_smdp_session *s);

/* InitiateAuthentication (NOTES §6.2 step 1): a new 16-byte transactionId and serverChallenge,
 * serverSigned1 {80 txid, 81 euiccChallenge, 83 serverAddress, 84 serverChallenge} signed with
 * SK.DPauth; euiccCiPKIdToBeUsed is the CI of CERT.DPauth. */
int sgp32_smdp_initiate_authentication(sgp32_smdp_session *s, const uint8_t euicc_challenge[16]);
/* The four TLVs of the InitiateAuthentication answer, in AuthenticateServerRequest order:
 * 30 serverSigned1, 5F37 serverSignature1, 04 euiccCiPKIdToBeUsed, 30 CERT.DPauth. */
int sgp32_smdp_write_server_auth(const sgp32_smdp_session *s, sgp32_buf *out);
/* What an IPA then sends the eUICC: BF38 {the four TLVs, ctxParams1 (its A0 TLV)}. */
int sgp32_smdp_write_authenticate_server_request(const sgp32_smdp_session *s, sgp32_bytes ctx_params1,
                                                 sgp32_buf *out);

/*
 * AuthenticateClient (NOTES §6.2 step 3): check the eUICC's AuthenticateServerResponse (BF38, as
 * received): an error answer (EUICC_ERROR), transactionId, serverAddress and serverChallenge,
 * CERT.EUM -> CERT.EUICC under a trusted CI, CERT.EUM's AKI = euiccCiPKIdToBeUsed (CI_MISMATCH),
 * euiccSignature1 over euiccSigned1 as received. On ACCEPTED the EID and PK.EUICC are kept and
 * smdpSigned2 {80 txid, 01 ccRequiredFlag, [5F49 bppEuiccOtpk]} is signed with SK.DPpb over
 * smdpSigned2 || 5F 37 40 || euiccSignature1. confirmation_code (UTF-8, may be NULL) sets
 * ccRequiredFlag; bpp_euicc_otpk (may be NULL) asks the eUICC to reuse a one-time key.
 */
int sgp32_smdp_authenticate_client(sgp32_smdp_session *s, const uint8_t *response, size_t len,
                                   const char *confirmation_code, const sgp32_ec_public_key *bpp_euicc_otpk,
                                   sgp32_smdp_check *check);
/*
 * The same in two steps, for an SM-DP+ that picks the download order from what the eUICC sent
 * (the EID of CERT.EUICC, the matchingId of ctxParams1) before it signs:
 *   _verify  every check above; on ACCEPTED s->eid, s->matching_id (has_matching_id) are set
 *            and the phase is SGP32_SMDP_CLIENT_VERIFIED (a matchingId longer than
 *            SGP32_SMDP_MATCHING_ID_MAX is MALFORMED);
 *   _finish  smdpSigned2 and its signature; cc_sha256 is SHA-256(confirmation code) (so a server
 *            need not keep the code itself) or NULL when no code is required.
 */
int sgp32_smdp_authenticate_client_verify(sgp32_smdp_session *s, const uint8_t *response, size_t len,
                                          sgp32_smdp_check *check);
int sgp32_smdp_authenticate_client_finish(sgp32_smdp_session *s, const uint8_t *cc_sha256,
                                          const sgp32_ec_public_key *bpp_euicc_otpk);

/* What an IPA then sends the eUICC: BF21 {30 smdpSigned2, 5F37 smdpSignature2, [04 hashCc],
 * 30 CERT.DPpb}. hash_cc may be NULL. */
int sgp32_smdp_write_prepare_download_request(const sgp32_smdp_session *s, const uint8_t *hash_cc,
                                              sgp32_buf *out);

/* What the BPP carries besides the profile. */
typedef struct sgp32_smdp_bpp_params {
    sgp32_bytes metadata;          /* SGP32-StoreMetadataRequest BF25, DER (sgp32_asn1_encode) */
    sgp32_bytes upp;               /* the unprotected profile package: SAIP profile elements, DER */
    sgp32_bytes host_id;           /* CRT hostId, 1..16 bytes; empty: "sgp32-smdp" */
    bool dp_oid_in_configure_isdp; /* ConfigureISDP BF24 {B8 {80 smdpOid}} (the module's automatic tag); else
                                      BF24 00 */
    bool replace_session_keys;     /* A2 with random PPKs; the 86 segments then use them */
    size_t segment_max;            /* largest segment incl. tag, length, MAC; 0: 1020 */
} sgp32_smdp_bpp_params;

/*
 * GetBoundProfilePackage (NOTES §6.2 step 5, §7): check the PrepareDownloadResponse (BF21 as
 * received): an error answer, transactionId, euiccSignature2 over euiccSigned2 || the
 * smdpSignature2 TLV, hashCc when a confirmation code is required, otPK.EUICC on the DPpb curve.
 * On ACCEPTED the BPP is appended to out: a fresh one-time key pair, Z = ECKA, the BSP keys,
 * BF23 signed with SK.DPpb, ConfigureISDP (87), StoreMetadata (88, as many as needed),
 * [ReplaceSessionKeys (87)], and the UPP cut into 86 segments, none larger than segment_max.
 */
int sgp32_smdp_get_bound_profile_package(sgp32_smdp_session *s, const uint8_t *response, size_t len,
                                         const sgp32_smdp_bpp_params *params, sgp32_buf *out,
                                         sgp32_smdp_check *check);

/* What a PIR says (valid when check.verdict is ACCEPTED). */
typedef struct sgp32_smdp_pir {
    bool success;
    int64_t seq_number;
    uint8_t aid[16]; /* ISD-P AID on success */
    size_t aid_len;
    int64_t bpp_command_id; /* on error */
    int64_t error_reason;
    bool has_iccid;
    uint8_t iccid[10]; /* EF.ICCID coding */
    char notification_address[SGP32_SMDP_ADDRESS_MAX + 1];
} sgp32_smdp_pir;

/* HandleNotification(PIR) (NOTES §6.2 step 6): the PIR BF37 as received; euiccSignPIR with
 * PK.EUICC over the BF27 TLV, transactionId, smdpOid = ours. */
int sgp32_smdp_verify_pir(sgp32_smdp_session *s, const uint8_t *pir, size_t len, sgp32_smdp_pir *out,
                          sgp32_smdp_check *check);

/* CancelSession: the eUICC's CancelSessionResponse (BF41 as received); the signature over
 * euiccCancelSessionSigned, transactionId, smdpOid. *reason receives the reason signed. */
int sgp32_smdp_verify_cancel_session(sgp32_smdp_session *s, const uint8_t *response, size_t len,
                                     int64_t *reason, sgp32_smdp_check *check);

/*
 * A session as bytes, for a server that keeps sessions in a store across requests and restarts
 * (design principle 9: a versioned, field-by-field encoding, never a struct dump). The
 * encoding holds no private key; it does hold the session's public material and state.
 * _decode needs the credentials and trusted CIs the session was made with (they are not
 * encoded); SGP32_ERR_STORE_VERSION for another encoding version, SGP32_ERR_STORE_CORRUPT for
 * bytes that do not decode.
 */
int sgp32_smdp_session_encode(const sgp32_smdp_session *s, sgp32_buf *out);
int sgp32_smdp_session_decode(sgp32_smdp_session *s, const uint8_t *data, size_t len,
                              const sgp32_smdp_credentials *credentials, const sgp32_ci_set *trusted_cis);

#endif

/*
 * Inside the software eUICC: the persistent state (what a real card keeps in
 * NVM), the session context (what a reset drops), and the helpers every ES10
 * function file shares. Not installed; for lib/euicc only.
 *
 * Each ES10 function lives in its own file named after the spec function
 * (es10b_load_euicc_package.c, ...) and registers in es10_dispatch.c.
 */
#ifndef SGP32_EUICC_INTERNAL_H
#define SGP32_EUICC_INTERNAL_H

#include "sgp32/asn1_types.h"
#include "sgp32/certificate.h"
#include "sgp32/euicc.h"
#include "sgp32/log.h"

enum {
    EUICC_MAX_PROFILES = 16,
    EUICC_MAX_EIMS = 4,
    EUICC_MAX_PENDING = 32, /* notifications + eUICC package results awaiting removal */
    EUICC_MAX_NOTIFICATION_CONFIG = 4,
    EUICC_ADDRESS_MAX = 255,
    EUICC_EIM_ID_MAX = 128,
    EUICC_EIM_KEY_DATA_MAX = 1024, /* eimPublicKeyData / trustedPublicKeyDataTls as received */
    EUICC_PENDING_DER_MAX = 2048,  /* one signed notification or EPR */
    EUICC_REQUEST_MAX = 64 * 1024, /* one reassembled ES10 request */
    EUICC_RESPONSE_MAX = 64 * 1024,
    EUICC_STATE_VERSION = 1,
};

/* Counter values the eUICC accepts (NOTES §8.4: the bound is not fixed by the spec; 2^31-1
 * keeps every value a 4-byte INTEGER). */
#define EUICC_COUNTER_MAX INT64_C(0x7FFFFFFF)

/* ------------------------------------------------------------ persistent */

typedef struct euicc_notification_config {
    uint32_t events; /* NotificationEvent bits */
    char address[EUICC_ADDRESS_MAX + 1];
} euicc_notification_config;

typedef struct euicc_profile {
    uint8_t iccid[10]; /* EF.ICCID coding (nibble-swapped), as on the wire */
    uint8_t aid[16];   /* ISD-P AID */
    uint8_t aid_len;
    bool enabled;
    int64_t profile_class; /* SGP32_PROFILE_CLASS_* */
    char nickname[65];
    char service_provider_name[33];
    char profile_name[65];
    int64_t icon_type;
    bool has_icon_type;
    uint8_t icon[1024];
    uint16_t icon_len;
    uint32_t ppr; /* PprIds bits */
    bool has_ppr;
    uint8_t owner_mcc_mnc[3];
    bool has_owner;
    euicc_notification_config notification_config[EUICC_MAX_NOTIFICATION_CONFIG];
    uint8_t notification_config_count;
    uint8_t smdp_oid[32]; /* of the SM-DP+ that installed it (PIR, notifications) */
    uint8_t smdp_oid_len;
    bool ecall_indication;   /* the emergency profile (9F7B) */
    bool fallback_attribute; /* 9F26 */
    bool fallback_allowed;   /* 9F67 from the metadata */
    bool has_fallback_allowed;
    bool unable_to_attach; /* test switch */
} euicc_profile;

typedef struct euicc_eim {
    char eim_id[EUICC_EIM_ID_MAX + 1];
    char eim_fqdn[EUICC_ADDRESS_MAX + 1];
    bool has_eim_fqdn;
    int64_t eim_id_type;
    bool has_eim_id_type;
    int64_t counter_value; /* the last accepted counterValue; packages need more */
    int64_t association_token;
    bool has_association_token;
    sgp32_ec_public_key public_key; /* verifies eimSignature */
    /* The configuration as received, for GetEimConfigurationData (DER of the CHOICEs). */
    uint8_t public_key_data[EUICC_EIM_KEY_DATA_MAX];
    uint16_t public_key_data_len;
    uint8_t trusted_tls_data[EUICC_EIM_KEY_DATA_MAX];
    uint16_t trusted_tls_data_len;
    uint32_t supported_protocol;
    bool has_supported_protocol;
    uint8_t euicc_ci_pkid[20];
    uint8_t euicc_ci_pkid_len;
    bool indirect_profile_download;
} euicc_eim;

typedef enum euicc_pending_kind {
    EUICC_PENDING_PIR = 1,           /* ProfileInstallationResult BF37 */
    EUICC_PENDING_OTHER = 2,         /* OtherSignedNotification 30 */
    EUICC_PENDING_PACKAGE_RESULT = 3 /* EuiccPackageResult BF51 */
} euicc_pending_kind;

/* A signed object waiting for RemoveNotificationFromList (by its seqNumber). */
typedef struct euicc_pending {
    int64_t seq_number;
    uint8_t kind;   /* euicc_pending_kind */
    uint32_t event; /* NotificationEvent bit of a notification */
    char address[EUICC_ADDRESS_MAX + 1];
    uint8_t iccid[10];
    bool has_iccid;
    uint8_t der[EUICC_PENDING_DER_MAX]; /* the signed object, byte for byte */
    uint16_t der_len;
} euicc_pending;

typedef struct euicc_state {
    euicc_profile profiles[EUICC_MAX_PROFILES];
    uint8_t profile_count;
    euicc_eim eims[EUICC_MAX_EIMS];
    uint8_t eim_count;
    euicc_pending pending[EUICC_MAX_PENDING];
    uint8_t pending_count;
    int64_t next_seq_number; /* shared by notifications and package results; never goes back */
    int64_t next_isdp_number;
    char default_dp_address[EUICC_ADDRESS_MAX + 1];
    char root_ds_address[EUICC_ADDRESS_MAX + 1];
    /* configureImmediateEnable / ConfigureImmediateProfileEnabling */
    bool immediate_enable_flag;
    uint8_t immediate_default_smdp_oid[32];
    uint8_t immediate_default_smdp_oid_len;
    char immediate_default_smdp_address[EUICC_ADDRESS_MAX + 1];
    bool has_immediate_default_smdp_address;
    /* Rollback (SGP.32 §3.3.2): set by an enable PSMO with rollbackFlag. */
    bool rollback_allowed;
    uint8_t rollback_iccid[10]; /* the profile enabled before */
    bool has_rollback_iccid;
    uint8_t rollback_eim_index; /* the eIM whose package it was (for the new EPR) */
    int64_t rollback_counter_value;
    uint8_t rollback_transaction_id[16];
    uint8_t rollback_transaction_id_len;
    /* Fallback and emergency remember which profile to return to. */
    bool fallback_active;
    uint8_t fallback_return_iccid[10];
    bool has_fallback_return_iccid;
    bool emergency_active;
    uint8_t emergency_return_iccid[10];
    bool has_emergency_return_iccid;
} euicc_state;

/* ------------------------------------------------------------- session */

/* The download session context (AuthenticateServer .. LoadBoundProfilePackage). A reset,
 * CancelSession or any failure ends it. Defined in es8 files. */
typedef struct euicc_download euicc_download;

struct sgp32_euicc {
    sgp32_euicc_config config;
    sgp32_ci_set trusted_cis;
    sgp32_certificate identity_certs[SGP32_EUICC_MAX_IDENTITIES];     /* CERT.EUICC per identity */
    sgp32_certificate identity_eum_certs[SGP32_EUICC_MAX_IDENTITIES]; /* CERT.EUM (AKI = CI PKID) */
    uint8_t eid[16];
    euicc_state state;

    /* GetEUICCChallenge: the last challenge handed out (AuthenticateServer checks it). */
    uint8_t euicc_challenge[16];
    bool has_euicc_challenge;
    euicc_download *download; /* NULL outside a download session */
    /* Immediate enable: the profile installed by the last download, if any. */
    uint8_t last_installed_iccid[10];
    bool has_last_installed;

    /* APDU layer (apdu.c). */
    bool channel_open[20];
    bool isdr_selected[20];
    sgp32_buf store_data;   /* STORE DATA blocks being chained */
    int store_data_channel; /* -1 when none */
    unsigned store_data_next_block;
    sgp32_buf pending_response; /* what GET RESPONSE hands out */
    size_t pending_offset;
    int pending_channel;

    sgp32_log_context log;
    char eid_text[33];
};

/* --------------------------------------------------------- shared helpers */

/* Write the state to the store (the eUICC's NVM write). Every change that must survive power
 * loss calls it before answering. */
int euicc_state_save(sgp32_euicc *euicc);
/* State <-> bytes (versioned, field by field; euicc_state_codec.c). */
int euicc_state_encode(const euicc_state *state, sgp32_buf *out);
int euicc_state_decode(const uint8_t *data, size_t len, euicc_state *state);
/* The state of a new card (config defaults, preloaded profiles). */
int euicc_state_manufacture(sgp32_euicc *euicc);

/* Profiles. */
euicc_profile *euicc_find_profile_by_iccid(sgp32_euicc *euicc, const uint8_t iccid[10]);
euicc_profile *euicc_find_profile_by_aid(sgp32_euicc *euicc, const uint8_t *aid, size_t aid_len);
euicc_profile *euicc_enabled_profile(sgp32_euicc *euicc);
/* Deleting a profile is two steps so that a failed state write never leaves a profile whose
 * elements are gone: forget it in the state, and once the state is stored, remove its elements
 * (the store object "profile-<ICCID digits>"). */
void euicc_forget_profile(sgp32_euicc *euicc, euicc_profile *profile);
int euicc_remove_profile_elements(sgp32_euicc *euicc, const uint8_t iccid[10]);
/* Forget a pending rollback authorisation (SGP.32 §3.3.2). */
void euicc_clear_rollback(sgp32_euicc *euicc);
/* Enable target (disabling the current one); ends any rollback authorisation; queues the disable/enable
 * notifications of the profiles' notificationConfigurationInfo. Policy checks are the caller's. */
int euicc_switch_profile(sgp32_euicc *euicc, euicc_profile *target);
/* Disable the enabled profile; queues its disable notification. */
int euicc_disable_profile(sgp32_euicc *euicc, euicc_profile *profile);

/* eIMs. */
euicc_eim *euicc_find_eim(sgp32_euicc *euicc, const uint8_t *eim_id, size_t eim_id_len);

/* Sequence numbers and the pending list. */
int64_t euicc_next_seq_number(sgp32_euicc *euicc);
/* Append a signed object; when the list is full the oldest notification is dropped
 * (package results are never dropped: SGP32_ERR_CAPACITY). */
int euicc_pending_add(sgp32_euicc *euicc, const euicc_pending *pending);
/* Build, sign and queue an OtherSignedNotification for event on profile (if the profile's
 * notification configuration asks for that event). */
int euicc_queue_notification(sgp32_euicc *euicc, const euicc_profile *profile, uint32_t event);

/* Signing with SK.EUICC of the identity for ci_pkid (NULL: the first identity). */
const sgp32_euicc_identity *euicc_identity_for_ci(const sgp32_euicc *euicc, const uint8_t *ci_pkid,
                                                  size_t ci_pkid_len);
int euicc_sign(const sgp32_euicc *euicc, const sgp32_euicc_identity *identity, const sgp32_bytes *parts,
               size_t count, uint8_t signature[SGP32_EC_RAW_SIG_LEN]);
/* Append 5F37 40 r||s. */
int euicc_write_signature(sgp32_buf *out, const uint8_t signature[SGP32_EC_RAW_SIG_LEN]);

/* Decode a request with the schema; on failure log it with its path. */
int euicc_decode(sgp32_euicc *euicc, const sgp32_asn1_type *type, const uint8_t *der, size_t len,
                 sgp32_arena *arena, void *out);

/* ICCID helpers: EF.ICCID bytes <-> digits. */
void euicc_iccid_to_text(const uint8_t iccid[10], char out[21]);
int euicc_iccid_from_text(const char *digits, uint8_t iccid[10]);

/* End the download session (wipes keys). */
void euicc_download_end(sgp32_euicc *euicc);
/* Whether a LoadBoundProfilePackage is under way and a segment starting with tag belongs to
 * it (A0, A1, 88, A2, A3, 86: segments after the first carry no ES10 tag). */
bool euicc_download_takes_segment(const sgp32_euicc *euicc, uint32_t tag);

/* ------------------------------------------------------- ES10 functions */

/* One ES10 function: the whole DER request in, the DER response appended to out. A negative
 * return means the request was not understood at all (the APDU layer answers 6A80; an unknown
 * tag, SGP32_ERR_NOT_FOUND from sgp32_euicc_es10, 6A88); spec-level errors are encoded in the
 * response. */
typedef int (*euicc_es10_handler)(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out);

/* Handlers, one file each (named after the spec function). */
int es10a_get_euicc_configured_addresses(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10a_set_default_dp_address(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10b_get_euicc_info1(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10b_get_euicc_info2(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10b_get_euicc_challenge(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10b_authenticate_server(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10b_prepare_download(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10b_load_bound_profile_package(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10b_cancel_session(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10b_list_notification(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10b_retrieve_notifications_list(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10b_remove_notification_from_list(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10b_get_rat(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10b_load_euicc_package(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10b_get_eim_configuration_data(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10b_get_certs(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10b_add_initial_eim(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10b_profile_rollback(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10b_configure_immediate_profile_enabling(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10b_immediate_enable(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10b_enable_emergency_profile(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10b_disable_emergency_profile(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10b_execute_fallback_mechanism(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10b_return_from_fallback(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10b_get_connectivity_parameters(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10b_set_default_dp_address(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10b_ipae_activation(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10c_get_profiles_info(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10c_enable_profile(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10c_disable_profile(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10c_delete_profile(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10c_euicc_memory_reset(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10c_get_eid(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);
int es10c_set_nickname(sgp32_euicc *, const uint8_t *, size_t, sgp32_buf *);

/* Shared by GetProfilesInfo (ES10c) and the listProfileInfo PSMO: the SGP32-ProfileInfoListResponse
 * (BF2D) for a decoded request. */
int euicc_write_profile_info_list(sgp32_euicc *euicc, const sgp32_profile_info_list_request *request,
                                  sgp32_buf *out);

#endif

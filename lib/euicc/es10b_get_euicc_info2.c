/*
 * ES10b.GetEUICCInfo2 (SGP.32 §5.9.2; SGP.22 §5.7.8): BF22 00 -> SGP32-EUICCInfo2 BF22.
 *
 * Why this content: the SGP.32 form must carry ipaMode (90) and iotSpecificInfo (B4), and the
 * same BF22 is signed inside euiccSigned1, so it has to look like a certified IoT eUICC's:
 *   profileVersion 2.3.1   the SAIP (TCA Interoperable Profile) version it installs; TS.48 v5
 *                          profiles are SAIP 2.3, the 5G-capable 2.3.1 is what current cards report
 *   svn 2.5.0              SGP.32 v1.2 is built on SGP.22 v2.5 (its ASN.1 imports RSPDefinitions
 *                          V2.5; SGP32-EUICCInfo2.svn is "the SGP.22 version referenced by SGP.32")
 *   euiccFirmwareVer       this software's version
 *   extCardResource        ETSI TS 102 226 TLVs: 81 installed applications (none besides the
 *                          ISD-Ps), 82 free NVM, 83 free RAM; free NVM shrinks with every profile
 *                          (EUICC_MAX_PROFILES slots of 64 KiB)
 *   uiccCapability         USIM/ISIM, Milenage and TUAK, test algorithm, Java Card, BER-TLV files,
 *                          DF link, CAT-TP, GET IDENTITY and the SUCI profiles A/B (5G)
 *   rspCapability          additionalProfile while a slot is free, testProfileSupport,
 *                          deviceInfoExtensibilitySupport (no CRL, no RPM)
 *   CI lists               as in GetEUICCInfo1
 *   euiccCategory          basicEuicc; ppVersion 1.0.0 (SGP.25); an SAS-UP accreditation number
 *   ipaMode ipad           the IPA runs in the device (IpaeActivation answers notSupported)
 *   iotSpecificInfo        iotVersion {1.2.0}, ecallSupported, fallbackSupported
 */
#include <string.h>

#include "euicc_local.h"

enum {
    PROFILE_NVM_SLOT = 64 * 1024, /* what one installed profile is accounted for */
    FREE_RAM = 9 * 1024,
};

static const uint8_t profile_version[3] = {2, 3, 1};
static const uint8_t firmware_version[3] = {0, 1, 0};
static const uint8_t ts102241_version[3] = {15, 1, 0};
static const uint8_t globalplatform_version[3] = {2, 3, 1};
static const uint8_t pp_version[3] = {1, 0, 0};
static const uint8_t iot_version[3] = {1, 2, 0};
static const char sas_accreditation[] = "SW-EU-IC-0001";

/* Minimal big-endian unsigned contents (at least one byte). */
static int write_unsigned(sgp32_buf *out, uint32_t tag, uint32_t value)
{
    uint8_t v[4];
    size_t n = 0;
    for (int shift = 24; shift >= 0; shift -= 8)
        if (n || (value >> shift) & 0xFF || shift == 0)
            v[n++] = (uint8_t)(value >> shift);
    return sgp32_asn1_write_tlv(out, tag, v, n);
}

int es10b_get_euicc_info2(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, EUICC_LOCAL_ARENA);
    sgp32_get_euicc_info2_request req = {0};
    int rc = euicc_decode(euicc, &sgp32_type_get_euicc_info2_request, request, len, &arena, &req);
    if (rc) {
        sgp32_arena_free(&arena);
        return rc;
    }

    size_t profiles = euicc->state.profile_count;
    uint32_t free_nvm = (uint32_t)((EUICC_MAX_PROFILES - profiles) * PROFILE_NVM_SLOT);
    uint8_t ext_storage[24];
    sgp32_buf ext;
    sgp32_buf_init_fixed(&ext, ext_storage, sizeof(ext_storage));
    rc = write_unsigned(&ext, 0x81, 0);
    if (!rc)
        rc = write_unsigned(&ext, 0x82, free_nvm);
    if (!rc)
        rc = write_unsigned(&ext, 0x83, FREE_RAM);

    euicc_ci_lists cis;
    euicc_get_ci_lists(euicc, &cis);

    sgp32_bytes iot_versions[1] = {SGP32_BYTES(iot_version, sizeof(iot_version))};
    sgp32_sgp32_euicc_info2 info = {0};
    info.profile_version = SGP32_BYTES(profile_version, 3);
    info.svn = SGP32_BYTES(euicc_svn, 3);
    info.euicc_firmware_ver = SGP32_BYTES(firmware_version, 3);
    info.ext_card_resource = sgp32_buf_bytes(&ext);
    info.uicc_capability = SGP32_UICC_CAPABILITY_USIM_SUPPORT | SGP32_UICC_CAPABILITY_ISIM_SUPPORT |
                           SGP32_UICC_CAPABILITY_AKA_MILENAGE | SGP32_UICC_CAPABILITY_AKA_TUAK128 |
                           SGP32_UICC_CAPABILITY_AKA_TUAK256 | SGP32_UICC_CAPABILITY_USIM_TEST_ALGORITHM |
                           SGP32_UICC_CAPABILITY_JAVACARD | SGP32_UICC_CAPABILITY_MULTIPLE_USIM_SUPPORT |
                           SGP32_UICC_CAPABILITY_MULTIPLE_ISIM_SUPPORT |
                           SGP32_UICC_CAPABILITY_BER_TLV_FILE_SUPPORT |
                           SGP32_UICC_CAPABILITY_DF_LINK_SUPPORT | SGP32_UICC_CAPABILITY_CAT_TP |
                           SGP32_UICC_CAPABILITY_GET_IDENTITY | SGP32_UICC_CAPABILITY_PROFILE_A_X25519 |
                           SGP32_UICC_CAPABILITY_PROFILE_B_P256 | SGP32_UICC_CAPABILITY_SUCI_CALCULATOR_API;
    info.has_ts102241_version = true;
    info.ts102241_version = SGP32_BYTES(ts102241_version, 3);
    info.has_globalplatform_version = true;
    info.globalplatform_version = SGP32_BYTES(globalplatform_version, 3);
    info.rsp_capability =
        SGP32_RSP_CAPABILITY_TEST_PROFILE_SUPPORT | SGP32_RSP_CAPABILITY_DEVICE_INFO_EXTENSIBILITY_SUPPORT;
    if (profiles < EUICC_MAX_PROFILES)
        info.rsp_capability |= SGP32_RSP_CAPABILITY_ADDITIONAL_PROFILE;
    info.euicc_ci_pk_id_list_for_verification.items = cis.verification;
    info.euicc_ci_pk_id_list_for_verification.count = cis.verification_count;
    info.euicc_ci_pk_id_list_for_signing.items = cis.signing;
    info.euicc_ci_pk_id_list_for_signing.count = cis.signing_count;
    info.has_euicc_category = true;
    info.euicc_category = SGP32_SGP32_EUICC_INFO2_EUICC_CATEGORY_BASIC_EUICC;
    info.pp_version = SGP32_BYTES(pp_version, 3);
    info.sas_acreditation_number = SGP32_BYTES(sas_accreditation, strlen(sas_accreditation));
    info.has_ipa_mode = true;
    info.ipa_mode = SGP32_IPA_MODE_IPAD;
    info.has_iot_specific_info = true;
    info.iot_specific_info.iot_version.items = iot_versions;
    info.iot_specific_info.iot_version.count = 1;
    info.iot_specific_info.ecall_supported = true;
    info.iot_specific_info.fallback_supported = true;
    if (!rc)
        rc = sgp32_asn1_encode(&sgp32_type_sgp32_euicc_info2, &info, out);
    sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log,
              "GetEUICCInfo2: svn 2.5.0, IoT 1.2.0, ipad, %zu profile(s), %u bytes NVM free", profiles,
              (unsigned)free_nvm);
    sgp32_arena_free(&arena);
    return rc;
}

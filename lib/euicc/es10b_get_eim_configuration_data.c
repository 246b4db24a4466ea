/*
 * ES10b.GetEimConfigurationData (SGP.32 §5.9.18): BF55 00 (every eIM) or BF55 { A0 { 80 eimId } }
 * -> BF55 { A0 { 30 EimConfigurationData.. } } (an unknown eimId gives an empty list).
 *
 * Why these fields: the IPA needs what lets it reach and trust its eIMs: eimId, eimFqdn,
 * eimIdType, eimSupportedProtocol, indirectProfileDownload, trustedPublicKeyDataTls (the TLS/DTLS
 * anchor, NOTES §3.4) and associationToken (IpaEuiccData 84, NOTES §8.8). counterValue (the last
 * accepted one) and euiccCiPKId are public values an eIM may use to resynchronise. Left out:
 * eimPublicKeyData, the package-signature key, which only the eUICC uses (NOTES leaves the field
 * set open). No private key material is ever stored, so none can be returned.
 */
#include <string.h>

#include "euicc_local.h"

/* trustedPublicKeyDataTls as received: the whole [6] TLV, or its CHOICE alternative (A0/A1). */
static int write_tls_data(sgp32_buf *out, const euicc_eim *e)
{
    sgp32_asn1_tlv tlv;
    if (!e->trusted_tls_data_len ||
        sgp32_asn1_expect(e->trusted_tls_data, e->trusted_tls_data_len, 0xA6, &tlv) == SGP32_OK)
        return e->trusted_tls_data_len ? sgp32_buf_append(out, e->trusted_tls_data, e->trusted_tls_data_len)
                                       : SGP32_OK;
    size_t mark = sgp32_asn1_begin(out);
    int rc = sgp32_buf_append(out, e->trusted_tls_data, e->trusted_tls_data_len);
    return rc ? rc : sgp32_asn1_end(out, 0xA6, mark);
}

static int write_eim(sgp32_buf *out, const euicc_eim *e)
{
    size_t mark = sgp32_asn1_begin(out);
    int rc = sgp32_asn1_write_tlv(out, 0x80, (const uint8_t *)e->eim_id, strlen(e->eim_id));
    if (!rc && e->has_eim_fqdn)
        rc = sgp32_asn1_write_tlv(out, 0x81, (const uint8_t *)e->eim_fqdn, strlen(e->eim_fqdn));
    if (!rc && e->has_eim_id_type)
        rc = sgp32_asn1_write_integer(out, 0x82, e->eim_id_type);
    if (!rc)
        rc = sgp32_asn1_write_integer(out, 0x83, e->counter_value);
    if (!rc && e->has_association_token)
        rc = sgp32_asn1_write_integer(out, 0x84, e->association_token);
    if (!rc)
        rc = write_tls_data(out, e);
    if (!rc && e->has_supported_protocol)
        rc = sgp32_asn1_write_named_bits(out, 0x87, e->supported_protocol);
    if (!rc && e->euicc_ci_pkid_len)
        rc = sgp32_asn1_write_tlv(out, 0x88, e->euicc_ci_pkid, e->euicc_ci_pkid_len);
    if (!rc && e->indirect_profile_download)
        rc = sgp32_asn1_write_tlv(out, 0x89, NULL, 0);
    return rc ? rc : sgp32_asn1_end(out, 0x30, mark);
}

int es10b_get_eim_configuration_data(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, EUICC_LOCAL_ARENA);
    sgp32_get_eim_configuration_data_request req = {0};
    int rc = euicc_decode(euicc, &sgp32_type_get_eim_configuration_data_request, request, len, &arena, &req);
    if (rc) {
        sgp32_arena_free(&arena);
        return rc;
    }
    bool by_id =
        req.has_search_criteria &&
        req.search_criteria.choice == SGP32_GET_EIM_CONFIGURATION_DATA_REQUEST_SEARCH_CRITERIA_EIM_ID;
    size_t outer = sgp32_asn1_begin(out), list = sgp32_asn1_begin(out), listed = 0;
    const euicc_state *s = &euicc->state;
    for (size_t i = 0; i < s->eim_count && !rc; i++) {
        const euicc_eim *e = &s->eims[i];
        if (by_id &&
            !sgp32_bytes_equal(req.search_criteria.u.eim_id, SGP32_BYTES(e->eim_id, strlen(e->eim_id))))
            continue;
        rc = write_eim(out, e);
        listed++;
    }
    if (!rc)
        rc = sgp32_asn1_end(out, 0xA0, list);
    if (!rc)
        rc = sgp32_asn1_end(out, SGP32_TAG_GET_EIM_CONFIGURATION_DATA_RESPONSE, outer);
    sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log, "GetEimConfigurationData%s: %zu eIM(s)",
              by_id ? " by eimId" : "", listed);
    sgp32_arena_free(&arena);
    return rc;
}

/*
 * Device boot (SGP.32 §3.1.1.1 preconditions, §3.3.1; NOTES §8.5): open the card session, read
 * the EID (ES10c GetEID BF3E), the eIM address when the host did not configure one (ES10b
 * GetEimConfigurationData BF55: the first eIM with an eimFqdn), and whether eUICC package
 * results wait on the card (RetrieveNotificationsList BF2B {A0 {82 00}}): a power loss after
 * LoadEuiccPackage and before the eIM acknowledged its result leaves one there; MAIN then
 * reports it before anything else.
 */
#include "ipa_internal.h"

enum { B_START, B_EID, B_EIM, B_EPRS, B_END, B_STATE_COUNT };
static const char *const boot_states[B_STATE_COUNT] = {"START", "GET_EID", "GET_EIM_CONFIGURATION",
                                                       "RETRIEVE_EPRS", "END"};

static int get_eid(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    static const uint8_t request[] = {0xBF, 0x3E, 0x03, 0x5C, 0x01, 0x5A};
    sgp32_buf_reset(&ipa->es10_req);
    int rc = sgp32_buf_append(&ipa->es10_req, request, sizeof(request));
    return rc ? rc : ipa_es10_call_buf(ipa);
}

static int get_eim_configuration(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    sgp32_asn1_tlv outer, eid;
    if (ipa_es10_response(ipa, 0xBF3E, &outer) || ipa_find(outer.value, 0x5A, &eid) || eid.value.len != 16)
        return SGP32_ERR_ASN1_BAD_VALUE;
    memcpy(ipa->eid, eid.value.data, 16);
    ipa->have_eid = true;
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < 16; i++) {
        ipa->eid_text[2 * i] = hex[ipa->eid[i] >> 4];
        ipa->eid_text[2 * i + 1] = hex[ipa->eid[i] & 15];
    }
    ipa->eid_text[32] = 0;
    ipa->log.eid = ipa->eid_text;
    if (ipa->config.eim_address) {
        ipa_post(ipa, EV_SKIP);
        return SGP32_OK;
    }
    return ipa_es10_simple(ipa, 0xBF55);
}

/* BF55 {A0 {30 {80 eimId, [81 eimFqdn], ...} ...}} */
static int take_eim_address(sgp32_ipa *ipa)
{
    sgp32_asn1_tlv outer, list, entry, fqdn;
    if (ipa_es10_response(ipa, 0xBF55, &outer) || ipa_find(outer.value, 0xA0, &list))
        return SGP32_ERR_NOT_FOUND;
    sgp32_asn1_reader r;
    sgp32_asn1_reader_init(&r, list.value, 2);
    while (sgp32_asn1_reader_next(&r, &entry) == SGP32_OK) {
        if (entry.tag != 0x30 || ipa_find(entry.value, 0x81, &fqdn) || !ipa_address_plausible(fqdn.value) ||
            fqdn.value.len > IPA_ADDRESS_MAX)
            continue;
        memcpy(ipa->eim_address, fqdn.value.data, fqdn.value.len);
        ipa->eim_address[fqdn.value.len] = 0;
        ipa->have_eim_address = true;
        return SGP32_OK;
    }
    return SGP32_ERR_NOT_FOUND;
}

static int retrieve_eprs(void *ctx, int event, void *arg)
{
    (void)arg;
    sgp32_ipa *ipa = ctx;
    if (event == EV_CARD_OK) {
        int rc = take_eim_address(ipa);
        if (rc) {
            IPA_LOG(ipa, SGP32_LOG_WARN, "no eIM with an address on the eUICC");
            return rc;
        }
    }
    return ipa_es10_retrieve_notifications(ipa, RNL_EPRS, 0);
}

static int boot_done(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    sgp32_asn1_tlv outer, list, epr;
    if (ipa_es10_response(ipa, 0xBF2B, &outer) == SGP32_OK &&
        ipa_find(outer.value, 0xA2, &list) == SGP32_OK && ipa_first(list.value, &epr) == SGP32_OK) {
        IPA_LOG(ipa, SGP32_LOG_INFO, "eUICC package results wait on the card: reporting them first");
        ipa->st.result_pending = true;
        if (ipa->st.pending_seq < 0)
            ipa->st.pending_seq = ipa_seq_number(epr.whole);
    }
    return ipa_job_finish(ipa, true);
}

static const sgp32_fsm_transition boot_rows[] = {
    {B_START, EV_START, B_EID, get_eid},     {B_EID, EV_CARD_OK, B_EIM, get_eim_configuration},
    {B_EIM, EV_SKIP, B_EPRS, retrieve_eprs}, {B_EIM, EV_CARD_OK, B_EPRS, retrieve_eprs},
    {B_EPRS, EV_CARD_OK, B_END, boot_done},
};

const sgp32_fsm_def ipa_boot_fsm = {
    "boot", boot_states, B_STATE_COUNT, ipa_event_names, EV_COUNT, boot_rows, SGP32_ARRAY_LEN(boot_rows),
};

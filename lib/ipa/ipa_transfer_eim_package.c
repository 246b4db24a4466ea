/*
 * ESipa.TransferEimPackage, the push procedure (SGP.32 §5.14.4, §3.1.1.2; NOTES §3.2): the eIM is
 * the HTTP client and POSTs a TransferEimPackageRequest; the host hands the body to
 * sgp32_ipa_start_push and sends back what PUSH_RESPONSE carries.
 *
 *   BF4E {BF51 EuiccPackageRequest}        -> BF4E {05 00 eimPackageReceived}, then the package
 *   BF4E {BF54 ProfileDownloadTrigger}        runs as a pulled one would (EXECUTE) and its result
 *                                             goes by ProvideEimPackageResult: executing may
 *                                             switch profiles, which an open HTTP exchange would
 *                                             not survive
 *   BF4E {BF52 IpaEuiccDataRequest}        -> BF4E {BF52 IpaEuiccDataResponse} (collected first)
 *   BF4E {BF53 eimAcknowledgements}        -> BF30 for each seqNumber, then BF4E {05 00}
 *   anything else                          -> BF4E {02 01 invalidPackageFormat}
 */
#include "ipa_internal.h"

enum { PU_START, PU_CLASSIFY, PU_ACKS, PU_EXECUTE, PU_END, PU_STATE_COUNT };
static const char *const push_states[PU_STATE_COUNT] = {"START", "RESPOND", "REMOVE_ACKNOWLEDGED", "EXECUTE",
                                                        "END"};

static int respond(sgp32_ipa *ipa, const uint8_t *body, size_t len)
{
    sgp32_buf_reset(&ipa->tx);
    int rc = sgp32_buf_append(&ipa->tx, body, len);
    if (rc)
        return rc;
    ipa_emit(ipa, SGP32_IPA_ACT_PUSH_RESPONSE, sgp32_buf_bytes(&ipa->tx));
    return SGP32_OK;
}

static const uint8_t received[] = {0xBF, 0x4E, 0x02, 0x05, 0x00};
static const uint8_t invalid_format[] = {0xBF, 0x4E, 0x03, 0x02, 0x01, 0x01};

/* pkg := the inner package TLV */
static int unwrap(sgp32_ipa *ipa, sgp32_asn1_tlv *inner)
{
    sgp32_asn1_tlv outer;
    if (sgp32_asn1_expect(ipa->pkg.data, ipa->pkg.len, 0xBF4E, &outer) || ipa_first(outer.value, inner) ||
        inner->whole.len != outer.value.len)
        return SGP32_ERR_ASN1_BAD_VALUE;
    size_t offset = (size_t)(inner->whole.data - ipa->pkg.data);
    memmove(ipa->pkg.data, ipa->pkg.data + offset, inner->whole.len);
    ipa->pkg.len = inner->whole.len;
    return sgp32_asn1_read_tlv(ipa->pkg.data, ipa->pkg.len, inner, NULL);
}

static int classify(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    sgp32_asn1_tlv inner;
    ipa->pushed = true;
    ipa->push_execute = false;
    if (unwrap(ipa, &inner) != SGP32_OK) {
        IPA_LOG(ipa, SGP32_LOG_WARN, "TransferEimPackage: the request does not decode");
        return respond(ipa, invalid_format, sizeof(invalid_format));
    }
    switch (inner.tag) {
    case 0xBF51:
    case 0xBF54: ipa->push_execute = true; return respond(ipa, received, sizeof(received));
    case 0xBF52: ipa_post(ipa, EV_DATA_REQUEST); return SGP32_OK;
    case 0xBF53:
        ipa->cursor = (size_t)(inner.value.data - ipa->pkg.data);
        ipa->cursor2 = ipa->cursor + inner.value.len;
        ipa_post(ipa, EV_ACKNOWLEDGEMENTS);
        return SGP32_OK;
    default: return respond(ipa, invalid_format, sizeof(invalid_format));
    }
}

static int after_response(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    if (ipa->push_execute)
        return ipa_job_push(ipa, JOB_EXECUTE);
    return ipa_job_finish(ipa, true);
}

static int execute(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    return ipa_job_push(ctx, JOB_EXECUTE);
}

static int remove_next(void *ctx, int event, void *arg)
{
    (void)arg;
    sgp32_ipa *ipa = ctx;
    if (event == EV_CARD_OK)
        ipa->stats.results_acknowledged++;
    while (ipa->cursor < ipa->cursor2) {
        sgp32_asn1_tlv ack;
        size_t used;
        if (sgp32_asn1_read_tlv(ipa->pkg.data + ipa->cursor, ipa->cursor2 - ipa->cursor, &ack, &used))
            break;
        ipa->cursor += used;
        int64_t seq;
        if (ack.tag == 0x80 && sgp32_asn1_parse_integer(ack.value, &seq) == SGP32_OK && seq >= 0)
            return ipa_es10_remove_notification(ipa, seq);
    }
    return respond(ipa, received, sizeof(received));
}

static int finish(void *ctx, int event, void *arg)
{
    (void)arg;
    return ipa_job_finish(ctx, event == EV_CHILD_DONE || event == EV_EIM_OK);
}

static const sgp32_fsm_transition push_rows[] = {
    {PU_START, EV_START, PU_CLASSIFY, classify},
    {PU_CLASSIFY, EV_EIM_OK, PU_EXECUTE, after_response},
    {PU_CLASSIFY, EV_DATA_REQUEST, PU_EXECUTE, execute},
    {PU_CLASSIFY, EV_ACKNOWLEDGEMENTS, PU_ACKS, remove_next},
    {PU_ACKS, EV_CARD_OK, PU_ACKS, remove_next},
    {PU_ACKS, EV_CARD_ERROR, PU_ACKS, remove_next},
    {PU_ACKS, EV_EIM_OK, PU_END, finish},
    {PU_EXECUTE, EV_CHILD_DONE, PU_END, finish},
    {PU_EXECUTE, EV_CHILD_FAILED, PU_END, finish},
};

const sgp32_fsm_def ipa_push_fsm = {
    "push", push_states, PU_STATE_COUNT, ipa_event_names, EV_COUNT, push_rows, SGP32_ARRAY_LEN(push_rows),
};

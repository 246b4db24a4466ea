/*
 * ESipa.GetEimPackage and the eIM package retrieval loop (SGP.32 §5.14.5, §3.1.1.1; NOTES §3.2,
 * §3.3 "Pull"). The IPA asks for the next package until the eIM answers noEimPackageAvailable,
 * executes each one (EXECUTE job: ipa_euicc_package.c), then delivers the remaining
 * notifications (NOTIFY job).
 *
 *   Request  BF4F {5A EID, [80 00 notifyStateChange], [81 stateChangeCause], [82 rPLMN]}
 *   Response BF4F {BF51 EuiccPackageRequest | BF52 IpaEuiccDataRequest |
 *                  BF54 ProfileDownloadTriggerRequest | 02 eimPackageError}
 *
 * notifyStateChange and its cause (fallback, immediate enable, ...) are cleared once an eIM has
 * answered a request that carried them. Errors other than noEimPackageAvailable (eidNotFound,
 * invalidEid, missingEid, undefinedError) end the procedure with a backoff.
 */
#include "ipa_internal.h"

enum { R_START, R_GET, R_DECODE, R_EXECUTE, R_AFTER, R_NOTIFY, R_END, R_STATE_COUNT };
static const char *const retrieve_states[R_STATE_COUNT] = {"START", "GET_EIM_PACKAGE", "DECODE", "EXECUTE",
                                                           "AFTER", "NOTIFY",          "END"};

enum { NO_EIM_PACKAGE_AVAILABLE = 1 };

static int send_get(void *ctx, int event, void *arg)
{
    (void)arg;
    sgp32_ipa *ipa = ctx;
    if (event == EV_START)
        ipa->packages_this_poll = 0;
    sgp32_buf *b = &ipa->tx;
    sgp32_buf_reset(b);
    size_t mark = sgp32_asn1_begin(b);
    int rc = ipa_write_eid(ipa, b);
    if (!rc && ipa->st.notify) {
        rc = sgp32_asn1_write_tlv(b, 0x80, NULL, 0);
        if (!rc)
            rc = sgp32_asn1_write_integer(b, 0x81, ipa->st.cause);
    }
    if (!rc && ipa->has_rplmn)
        rc = sgp32_asn1_write_tlv(b, 0x82, ipa->rplmn, 3);
    if (!rc)
        rc = sgp32_asn1_end(b, 0xBF4F, mark);
    return rc ? rc : ipa_emit_esipa(ipa, SGP32_IPA_FN_GET_EIM_PACKAGE, true);
}

static int decode(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    sgp32_asn1_tlv outer, choice;
    int rc = sgp32_asn1_expect(ipa->rx.data, ipa->rx.len, 0xBF4F, &outer);
    if (!rc)
        rc = ipa_first(outer.value, &choice);
    if (!rc && choice.whole.len != outer.value.len)
        rc = SGP32_ERR_ASN1_TRAILING;
    if (rc) {
        IPA_LOG(ipa, SGP32_LOG_WARN, "GetEimPackage: answer does not decode: %s", sgp32_err_str(rc));
        ipa->job_error = rc;
        ipa_post(ipa, EV_REJECTED);
        return SGP32_OK;
    }
    if (ipa->st.notify) {
        ipa->st.notify = false; /* the eIM has heard about the state change */
        ipa->st.cause = 0;
    }
    switch (choice.tag) {
    case 0xBF51:
    case 0xBF52:
    case 0xBF54:
        sgp32_buf_reset(&ipa->pkg);
        rc = sgp32_buf_append(&ipa->pkg, choice.whole.data, choice.whole.len);
        if (rc)
            return rc;
        ipa->pushed = false;
        ipa_post(ipa, EV_NEXT);
        return SGP32_OK;
    case 0x02: {
        int64_t code = ipa_int_or(choice.value, 127);
        if (code == NO_EIM_PACKAGE_AVAILABLE) {
            ipa_post(ipa, EV_NO_PACKAGE);
            return SGP32_OK;
        }
        IPA_LOG(ipa, SGP32_LOG_WARN, "GetEimPackage: eimPackageError %lld", (long long)code);
        ipa->stats.last_eim_error = code;
        ipa->job_error = SGP32_ERR_NOT_FOUND;
        ipa_post(ipa, EV_REJECTED);
        return SGP32_OK;
    }
    default:
        ipa->job_error = SGP32_ERR_ASN1_UNKNOWN_CHOICE;
        ipa_post(ipa, EV_REJECTED);
        return SGP32_OK;
    }
}

static int execute(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    ipa->packages_this_poll++;
    return ipa_job_push(ipa, JOB_EXECUTE);
}

static int after_execute(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    uint16_t max = ipa->config.max_packages ? ipa->config.max_packages : 16;
    ipa_post(ipa, ipa->packages_this_poll < max ? EV_NEXT : EV_SKIP);
    return SGP32_OK;
}

static int notify(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    return ipa_job_push(ctx, JOB_NOTIFY);
}

static int done(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    return ipa_job_finish(ctx, true);
}

static int rejected(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    return ipa_job_fail_with(ipa, ipa->job_error ? ipa->job_error : SGP32_ERR_IO);
}

static const sgp32_fsm_transition retrieve_rows[] = {
    {R_START, EV_START, R_GET, send_get},     {R_GET, EV_EIM_OK, R_DECODE, decode},
    {R_DECODE, EV_NEXT, R_EXECUTE, execute},  {R_DECODE, EV_NO_PACKAGE, R_NOTIFY, notify},
    {R_DECODE, EV_REJECTED, R_END, rejected}, {R_EXECUTE, EV_CHILD_DONE, R_AFTER, after_execute},
    {R_AFTER, EV_NEXT, R_GET, send_get},      {R_AFTER, EV_SKIP, R_NOTIFY, notify},
    {R_NOTIFY, EV_CHILD_DONE, R_END, done},
};

const sgp32_fsm_def ipa_retrieve_fsm = {
    "retrieve",
    retrieve_states,
    R_STATE_COUNT,
    ipa_event_names,
    EV_COUNT,
    retrieve_rows,
    SGP32_ARRAY_LEN(retrieve_rows),
};

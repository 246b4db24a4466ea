/*
 * ESipa.TransferEimPackage, the push (SGP.32 §5.14.4, §3.1.1.2; NOTES §3.2, §3.3 "Push"): the
 * eIM is the HTTP client and POSTs a package to the IPA's push address instead of waiting for a
 * poll. The host (apps/eimd) moves the bytes; this file builds the request and takes the answer.
 *
 *   Request  BF4E {BF51 EuiccPackageRequest | BF52 IpaEuiccDataRequest | BF53 eimAcknowledgements |
 *                  BF54 ProfileDownloadTriggerRequest}
 *   Response BF4E {BF51 EPR | 30 {BF51, A0 notifications} ePRAndNotifications |
 *                  BF52 IpaEuiccDataResponse | 05 00 eimPackageReceived | 02 eimPackageError}
 *
 * The package is the one GetEimPackage would hand out (eim_delivery.c): push and pull share one
 * queue, one counter and one redelivery rule, so a push whose answer is lost is simply delivered
 * again (by the next push or poll, the same bytes) and the eUICC's replay protection runs it once.
 * Results in the answer go through eim_intake.c like ProvideEimPackageResult's. The answer cannot
 * acknowledge anything back: the seqNumbers to free are handed to the host (info->acknowledge),
 * which pushes them as eimAcknowledgements; the IPA removes notifications only then, or when it
 * reports the same objects again by ProvideEimPackageResult (deduplicated, acknowledged there).
 * An IPA that runs the package after answering (eimPackageReceived, which is what lib/ipa does for
 * BF51 and BF54: executing may switch profiles under the open connection) reports by
 * ProvideEimPackageResult; the operation stays delivered until then.
 */
#include <stdio.h>
#include <string.h>

#include "eim_internal.h"
#include "sgp32/asn1.h"

enum { PACKAGE_MAX = 64 << 10, RESPONSE_ARENA_MAX = 4 << 20 };

int sgp32_eim_transfer_eim_package_prepare(const sgp32_eim_server *srv, const char *eid, sgp32_buf *request,
                                           int64_t *operation_id)
{
    if (!srv || !eid || !request)
        return SGP32_ERR_INVALID_ARGUMENT;
    const sgp32_eim_store *st = &srv->config.store;
    sgp32_eim_euicc euicc;
    sgp32_eim_euicc_init(&euicc);
    sgp32_buf package;
    sgp32_buf_init(&package, PACKAGE_MAX);
    sgp32_eim_esipa_info info;
    memset(&info, 0, sizeof(info));
    if (operation_id)
        *operation_id = 0;
    int rc = st->euicc_get(st->ctx, eid, &euicc);
    if (!rc)
        rc = eim_delivery_next(srv, &euicc, &package, &info);
    if (rc)
        goto out;
    size_t mark = sgp32_asn1_begin(request);
    rc = sgp32_buf_append(request, package.data, package.len);
    if (!rc)
        rc = sgp32_asn1_end(request, 0xBF4E, mark);
    if (rc)
        goto out;
    if (operation_id)
        *operation_id = info.operation_id;
    sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EIM, EIM_LOG_CONTEXT(eid), "push: %s", info.outcome);
out:
    sgp32_buf_free(&package);
    sgp32_eim_euicc_free(&euicc);
    return rc;
}

/* eimPackageReceived: the operation at the head of the queue is running on the device. */
static int take_received(const sgp32_eim_server *srv, const char *eid, sgp32_eim_esipa_info *info)
{
    const sgp32_eim_store *st = &srv->config.store;
    sgp32_eim_operation op;
    sgp32_eim_operation_init(&op);
    int rc = st->op_next(st->ctx, eid, &op);
    if (rc == SGP32_ERR_NOT_FOUND) {
        /* its result came by ProvideEimPackageResult before this answer was handled */
        snprintf(info->outcome, sizeof(info->outcome), "eimPackageReceived");
        rc = SGP32_OK;
        goto out;
    }
    if (rc)
        goto out;
    info->operation_id = op.id;
    snprintf(info->outcome, sizeof(info->outcome),
             "operation %lld received by the IPA: its result follows by ProvideEimPackageResult",
             (long long)op.id);
    sgp32_eim_audit(srv, "esipa", "operation.pushed", eid, op.id, "{\"answer\":\"eimPackageReceived\"}");
out:
    sgp32_eim_operation_free(&op);
    return rc;
}

/* eimPackageError: the IPA refused what was pushed, the head of the queue; it fails with the
 * error's name, as an eimPackageResultResponseError by ProvideEimPackageResult would. */
static int take_error(const sgp32_eim_server *srv, const sgp32_eim_euicc *euicc, sgp32_bytes der,
                      int64_t code, sgp32_eim_esipa_info *info)
{
    const sgp32_eim_store *st = &srv->config.store;
    sgp32_eim_operation op;
    sgp32_eim_operation_init(&op);
    eim_acks acks = {.count = 0};
    uint8_t txid[SGP32_EIM_TXID_LEN];
    int rc = st->op_next(st->ctx, euicc->eid, &op);
    if (rc == SGP32_ERR_NOT_FOUND) {
        snprintf(info->outcome, sizeof(info->outcome), "eimPackageError %lld for no open operation",
                 (long long)code);
        rc = SGP32_OK;
        goto out;
    }
    if (rc)
        goto out;
    sgp32_eim_transaction_id(op.id, txid);
    sgp32_eim_package_result result = {
        .der = der,
        .choice = SGP32_EIM_PACKAGE_RESULT_EIM_PACKAGE_RESULT_RESPONSE_ERROR,
        .u.eim_package_result_response_error =
            {
                .der = der,
                .has_eim_transaction_id = true,
                .eim_transaction_id = {txid, sizeof(txid)},
                .eim_package_result_error_code = code,
            },
    };
    rc = eim_take_eim_package_result(srv, euicc, &result, &acks, info);
out:
    sgp32_eim_operation_free(&op);
    return rc;
}

int sgp32_eim_transfer_eim_package_response(const sgp32_eim_server *srv, const char *eid, const uint8_t *der,
                                            size_t len, sgp32_eim_esipa_info *info)
{
    sgp32_eim_esipa_info local;
    if (!info)
        info = &local;
    memset(info, 0, sizeof(*info));
    info->function_tag = 0xBF4E;
    info->http_status = 200;
    if (!srv || !eid || (!der && len))
        return SGP32_ERR_INVALID_ARGUMENT;
    snprintf(info->eid, sizeof(info->eid), "%.*s", SGP32_EIM_EID_DIGITS, eid);
    const sgp32_eim_store *st = &srv->config.store;
    sgp32_eim_euicc euicc;
    sgp32_eim_euicc_init(&euicc);
    sgp32_arena arena;
    sgp32_arena_init(&arena, RESPONSE_ARENA_MAX);
    eim_acks acks = {.count = 0};
    sgp32_transfer_eim_package_response *res = sgp32_arena_alloc(&arena, sizeof(*res));
    int rc = res ? st->euicc_get(st->ctx, eid, &euicc) : SGP32_ERR_NO_MEMORY;
    if (rc)
        goto out;
    sgp32_asn1_diag diag;
    rc = sgp32_asn1_decode_diag(&sgp32_type_transfer_eim_package_response, der, len, &arena, res, &diag);
    if (rc) {
        snprintf(info->outcome, sizeof(info->outcome), "push answer refused: %s at %.80s", sgp32_err_str(rc),
                 diag.path);
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EIM, EIM_LOG_CONTEXT(eid), "%s", info->outcome);
        goto out;
    }
    if (st->euicc_touch && (rc = st->euicc_touch(st->ctx, eid, sgp32_eim_now(srv), NULL, -1)))
        goto out;
    sgp32_eim_package_result result = {.der = res->der};
    switch (res->choice) {
    case SGP32_TRANSFER_EIM_PACKAGE_RESPONSE_EUICC_PACKAGE_RESULT:
        result.choice = SGP32_EIM_PACKAGE_RESULT_EUICC_PACKAGE_RESULT;
        result.u.euicc_package_result = res->u.euicc_package_result;
        break;
    case SGP32_TRANSFER_EIM_PACKAGE_RESPONSE_E_PR_AND_NOTIFICATIONS:
        result.choice = SGP32_EIM_PACKAGE_RESULT_E_PR_AND_NOTIFICATIONS;
        result.u.e_pr_and_notifications.der = res->u.e_pr_and_notifications.der;
        result.u.e_pr_and_notifications.euicc_package_result =
            res->u.e_pr_and_notifications.euicc_package_result;
        result.u.e_pr_and_notifications.notification_list = res->u.e_pr_and_notifications.notification_list;
        break;
    case SGP32_TRANSFER_EIM_PACKAGE_RESPONSE_IPA_EUICC_DATA_RESPONSE:
        result.choice = SGP32_EIM_PACKAGE_RESULT_IPA_EUICC_DATA_RESPONSE;
        result.u.ipa_euicc_data_response = res->u.ipa_euicc_data_response;
        break;
    case SGP32_TRANSFER_EIM_PACKAGE_RESPONSE_EIM_PACKAGE_RECEIVED:
        rc = take_received(srv, eid, info);
        goto out;
    case SGP32_TRANSFER_EIM_PACKAGE_RESPONSE_EIM_PACKAGE_ERROR:
        rc = take_error(srv, &euicc, res->der, res->u.eim_package_error, info);
        goto out;
    default: rc = SGP32_ERR_ASN1_UNKNOWN_CHOICE; goto out;
    }
    rc = eim_take_eim_package_result(srv, &euicc, &result, &acks, info);
    if (!rc) {
        for (size_t i = 0; i < acks.count && info->acknowledge_count < SGP32_EIM_PUSH_ACKS_MAX; i++)
            info->acknowledge[info->acknowledge_count++] = acks.seq[i];
    }
out:
    sgp32_arena_free(&arena);
    sgp32_eim_euicc_free(&euicc);
    return rc;
}

int sgp32_eim_transfer_eim_acknowledgements(const int64_t *seq, size_t count, sgp32_buf *request)
{
    if (!seq || !count || count > SGP32_EIM_PUSH_ACKS_MAX || !request)
        return SGP32_ERR_INVALID_ARGUMENT;
    size_t outer = sgp32_asn1_begin(request);
    size_t inner = sgp32_asn1_begin(request);
    int rc = SGP32_OK;
    for (size_t i = 0; !rc && i < count; i++)
        rc = seq[i] < 0 ? SGP32_ERR_INVALID_ARGUMENT : sgp32_asn1_write_integer(request, 0x80, seq[i]);
    if (!rc)
        rc = sgp32_asn1_end(request, 0xBF53, inner);
    return rc ? rc : sgp32_asn1_end(request, 0xBF4E, outer);
}

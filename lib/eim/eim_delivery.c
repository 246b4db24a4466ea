/*
 * Which package an eUICC gets next (SGP.32 §3.1.1; NOTES §3.3): the queue logic that pull
 * (GetEimPackage, esipa_get_eim_package.c) and push (TransferEimPackage,
 * esipa_transfer_eim_package.c) share, so both deliver exactly the same bytes.
 *
 * The answer is the oldest open operation of the eUICC (FIFO). A queued PSMO/eCO is signed here,
 * once, with the next counterValue (durable, strictly increasing); a delivered one is sent again
 * byte for byte until its result arrives, so a lost answer costs a redelivery and the eUICC's
 * replay protection makes sure it runs once. Before the first PSMO/eCO of an eUICC whose
 * certificate is unknown, the eIM asks for CERT.EUM and CERT.EUICC (IpaEuiccDataRequest): results
 * are only believed when their signature verifies. An operation whose redelivery the eUICC
 * refused as a replay gets its result asked for (IpaEuiccDataRequest euiccPackageResultList).
 */
#include <stdio.h>
#include <string.h>

#include "eim_internal.h"
#include "sgp32/asn1.h"

enum { MAX_ATTEMPTS = 4 }; /* version conflicts with a concurrent delivery to the same eUICC */

/* IpaEuiccDataRequest BF52 {5C tagList, 83 eimTransactionId}. */
static int write_data_request(sgp32_buf *out, const uint8_t *tags, size_t tag_len, const uint8_t txid[8])
{
    size_t req = sgp32_asn1_begin(out);
    int rc = sgp32_asn1_write_tlv(out, 0x5C, tags, tag_len);
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, 0x83, txid, SGP32_EIM_TXID_LEN);
    return rc ? rc : sgp32_asn1_end(out, 0xBF52, req);
}

static int certificates_request(sgp32_buf *out)
{
    static const uint8_t tags[] = {0xA5, 0xA6}; /* eumCertificate, euiccCertificate */
    static const uint8_t txid[8] = {EIM_TXID_CERTIFICATES, 'C', 'E', 'R', 'T', 'S', 0, 0};
    return write_data_request(out, tags, sizeof(tags), txid);
}

static int recovery_request(sgp32_buf *out, int64_t op_id)
{
    static const uint8_t tags[] = {0xA2}; /* euiccPackageResultList */
    uint8_t txid[8];
    sgp32_eim_transaction_id(op_id, txid);
    txid[0] = EIM_TXID_RECOVERY;
    return write_data_request(out, tags, sizeof(tags), txid);
}

static bool needs_certificate(const sgp32_eim_server *srv, const sgp32_eim_euicc *e,
                              const sgp32_eim_operation *op)
{
    return (op->kind == SGP32_EIM_OP_PSMO || op->kind == SGP32_EIM_OP_ECO) && e->euicc_certificate.len == 0 &&
           !srv->config.accept_unsigned_results_insecure_for_tests;
}

/* Take the counter the package was signed with and store the delivered operation, in one
 * transaction. SGP32_ERR_STATE (nothing kept) when another delivery took that counter or the
 * operation first: euicc->counter is then re-read for the next attempt. */
static int store_delivery(const sgp32_eim_store *st, sgp32_eim_euicc *euicc, sgp32_eim_operation *op,
                          bool counted)
{
    if (!counted)
        return st->op_update(st->ctx, op);
    int rc = st->tx_begin ? st->tx_begin(st->ctx) : SGP32_OK;
    if (rc)
        return rc;
    int64_t taken = 0;
    rc = st->euicc_counter_next(st->ctx, euicc->eid, &taken);
    if (!rc && taken != op->counter_value)
        rc = SGP32_ERR_STATE;
    if (!rc)
        rc = st->op_update(st->ctx, op);
    if (st->tx_end) {
        int end = st->tx_end(st->ctx, rc == SGP32_OK);
        rc = rc ? rc : end;
    }
    if (rc == SGP32_ERR_STATE) {
        sgp32_eim_euicc fresh;
        sgp32_eim_euicc_init(&fresh);
        if (st->euicc_get(st->ctx, euicc->eid, &fresh) == SGP32_OK)
            euicc->counter = fresh.counter;
        sgp32_eim_euicc_free(&fresh);
    }
    return rc;
}

int eim_delivery_next(const sgp32_eim_server *srv, sgp32_eim_euicc *euicc, sgp32_buf *out,
                      sgp32_eim_esipa_info *info)
{
    const sgp32_eim_store *st = &srv->config.store;
    sgp32_eim_operation op;
    sgp32_eim_operation_init(&op);
    int64_t now = sgp32_eim_now(srv);
    int rc;

    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        rc = st->op_next(st->ctx, euicc->eid, &op);
        if (rc == SGP32_ERR_NOT_FOUND) {
            snprintf(info->outcome, sizeof(info->outcome), "no package");
            goto out;
        }
        if (rc)
            goto out;
        info->operation_id = op.id;
        if (op.state == SGP32_EIM_OP_QUEUED && op.expires && op.expires <= now) {
            op.state = SGP32_EIM_OP_EXPIRED;
            op.completed = now;
            if ((rc = st->op_update(st->ctx, &op)) && rc != SGP32_ERR_STATE)
                goto out;
            continue;
        }
        if (needs_certificate(srv, euicc, &op)) {
            snprintf(info->outcome, sizeof(info->outcome), "certificates requested before operation %lld",
                     (long long)op.id);
            rc = certificates_request(out);
            goto out;
        }
        if (op.state == SGP32_EIM_OP_DELIVERED && op.awaiting_result) {
            snprintf(info->outcome, sizeof(info->outcome),
                     "result of operation %lld requested from the eUICC", (long long)op.id);
            rc = recovery_request(out, op.id);
            goto out;
        }
        if (op.state == SGP32_EIM_OP_QUEUED) {
            /* Signed with the counter after the last one, taken for good in the same transaction
             * that stores the package (one commit; signing stays outside the transaction). */
            bool counted = op.kind == SGP32_EIM_OP_PSMO || op.kind == SGP32_EIM_OP_ECO;
            int64_t counter = counted ? euicc->counter + 1 : 0;
            sgp32_buf_reset(&op.package);
            if ((rc = sgp32_eim_operation_build(&srv->signer, &op, euicc, counter, &op.package))) {
                sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_EIM, EIM_LOG_CONTEXT(euicc->eid),
                          "operation %lld cannot be built: %s", (long long)op.id, sgp32_err_str(rc));
                op.state = SGP32_EIM_OP_FAILED;
                op.completed = now;
                sgp32_buf_reset(&op.result_json);
                const char *why = "{\"error\":\"packageNotBuilt\"}";
                sgp32_buf_append(&op.result_json, why, strlen(why));
                if ((rc = st->op_update(st->ctx, &op)) && rc != SGP32_ERR_STATE)
                    goto out;
                continue;
            }
            op.counter_value = counter;
            op.state = SGP32_EIM_OP_DELIVERED;
            op.delivered = now;
            op.delivery_count = 1;
            rc = store_delivery(st, euicc, &op, counted);
            if (rc == SGP32_ERR_STATE)
                continue; /* a concurrent delivery was first: send what it stored */
            if (rc)
                goto out;
            snprintf(info->outcome, sizeof(info->outcome), "operation %lld delivered (counter %lld)",
                     (long long)op.id, (long long)counter);
        } else {
            op.delivery_count++;
            if ((rc = st->op_update(st->ctx, &op)) && rc != SGP32_ERR_STATE)
                goto out;
            snprintf(info->outcome, sizeof(info->outcome), "operation %lld redelivered (%d)",
                     (long long)op.id, op.delivery_count);
        }
        rc = sgp32_buf_append(out, op.package.data, op.package.len);
        goto out;
    }
    rc = SGP32_ERR_STATE; /* the operation kept changing under us */
out:
    sgp32_eim_operation_free(&op);
    return rc;
}

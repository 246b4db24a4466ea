/*
 * ES10b.LoadEuiccPackage (SGP.32 §5.9.1, §3.3.1, §2.11.1.1; NOTES §8.1-§8.5): the
 * eIM's signed EuiccPackageRequest `BF51`, forwarded unchanged by the IPA, in;
 * an EuiccPackageResult `BF51` out.
 *
 * Checks, in this order (the first that fails answers):
 *   1. eimId is an associated eIM            else unsigned error A2 {80 eimId, [82 txid]}
 *   2. eimSignature verifies with the eIM key over the received DER(euiccPackageSigned)
 *      || 84 L associationToken (84 01 00 without a token)
 *                                            else unsigned error A2 {80, [82], [84 token]}
 *   3. eidValue is this eUICC's EID          else signed error invalidEid(3)
 *   4. counterValue > the stored counter     else signed error replayError(4)
 *   5. counterValue <= EUICC_COUNTER_MAX     else signed error counterValueOutOfRange(6)
 *   6. no emergency profile enabled          else signed error ecallActive(104)
 * None of these consumes the counter. Then the counter is stored, a pending rollback
 * authorisation ends, and the operations run in order; the first one that fails ends the
 * processing (its result is the last one). An EuiccPackage that does not decode gives the
 * single result processingTerminated(unknownOrDamagedCommand); results that would not fit
 * the stored EPR end in processingTerminated(resultSizeOverflow). The signed EPR gets the
 * next seqNumber and waits in the pending list until RemoveNotificationFromList; the state
 * (counter, profile changes, notifications, EPR) is written once, before the answer, so a
 * power loss leaves either the whole package applied or none of it.
 */
#include <string.h>

#include "euicc_package.h"
#include "sgp32/eim_package.h"

/* The parts of EuiccPackageRequest read by hand: the EuiccPackage is decoded separately so a
 * signed package with an operation we cannot decode still gets a signed answer. */
typedef struct package_request {
    sgp32_bytes signed_part; /* 30 euiccPackageSigned, as received */
    sgp32_bytes eim_id;
    sgp32_bytes eid;
    sgp32_bytes counter_raw;
    int64_t counter_value;
    bool counter_out_of_range; /* more than 64 bits */
    bool has_transaction_id;
    sgp32_bytes transaction_id;
    sgp32_bytes package; /* the EuiccPackage TLV (A0 psmoList / A1 ecoList) */
    sgp32_bytes signature;
} package_request;

static int parse_signed(sgp32_asn1_reader *parent, const sgp32_asn1_tlv *signed_tlv, package_request *req)
{
    sgp32_asn1_reader r;
    sgp32_asn1_tlv tlv;
    size_t chars;
    int rc = sgp32_asn1_reader_enter(parent, signed_tlv, &r);
    if (rc || (rc = sgp32_asn1_reader_next(&r, &tlv)) != SGP32_OK)
        return rc;
    if (tlv.tag != 0x80 || sgp32_asn1_check_utf8(tlv.value, &chars) || chars < 1 || chars > 128)
        return SGP32_ERR_ASN1_BAD_VALUE;
    req->eim_id = tlv.value;
    if ((rc = sgp32_asn1_reader_next(&r, &tlv)) != SGP32_OK)
        return rc;
    if (tlv.tag != 0x5A)
        return SGP32_ERR_ASN1_UNEXPECTED_TAG;
    req->eid = tlv.value; /* its size is judged by the EID check (invalidEid) */
    if ((rc = sgp32_asn1_reader_next(&r, &tlv)) != SGP32_OK)
        return rc;
    if (tlv.tag != 0x81)
        return SGP32_ERR_ASN1_UNEXPECTED_TAG;
    req->counter_raw = tlv.value;
    rc = sgp32_asn1_parse_integer(tlv.value, &req->counter_value);
    if (rc == SGP32_ERR_ASN1_RANGE)
        req->counter_out_of_range = true;
    else if (rc)
        return rc;
    if ((rc = sgp32_asn1_reader_next(&r, &tlv)) != SGP32_OK)
        return rc;
    if (tlv.tag == 0x82) {
        if (tlv.value.len < 1 || tlv.value.len > 16)
            return SGP32_ERR_ASN1_SIZE;
        req->has_transaction_id = true;
        req->transaction_id = tlv.value;
        if ((rc = sgp32_asn1_reader_next(&r, &tlv)) != SGP32_OK)
            return rc;
    }
    req->package = tlv.whole; /* later components (extensions) are ignored */
    return SGP32_OK;
}

static int parse_request(const uint8_t *request, size_t len, package_request *req)
{
    sgp32_asn1_tlv outer, tlv;
    sgp32_asn1_reader r;
    memset(req, 0, sizeof(*req));
    int rc = sgp32_asn1_expect(request, len, SGP32_TAG_EUICC_PACKAGE_REQUEST, &outer);
    if (rc)
        return rc;
    sgp32_asn1_reader_init(&r, outer.value, 0);
    if ((rc = sgp32_asn1_reader_next(&r, &tlv)) != SGP32_OK)
        return rc;
    if (tlv.tag == SGP32_TAG_EUICC_PACKAGE_REQUEST && sgp32_asn1_reader_done(&r)) {
        /* Leniency: the doubled BF51 BF51 of asn1tools-based eIMs (NOTES §2 rule 2). */
        sgp32_asn1_reader inner;
        if ((rc = sgp32_asn1_reader_enter(&r, &tlv, &inner)) != SGP32_OK)
            return rc;
        r = inner;
        if ((rc = sgp32_asn1_reader_next(&r, &tlv)) != SGP32_OK)
            return rc;
    }
    if (tlv.tag != 0x30)
        return SGP32_ERR_ASN1_UNEXPECTED_TAG;
    req->signed_part = tlv.whole;
    if ((rc = parse_signed(&r, &tlv, req)) != SGP32_OK)
        return rc;
    if ((rc = sgp32_asn1_reader_next(&r, &tlv)) != SGP32_OK)
        return rc;
    if (tlv.tag != 0x5F37)
        return SGP32_ERR_ASN1_UNEXPECTED_TAG;
    req->signature = tlv.value;
    return SGP32_OK;
}

static bool signature_ok(const euicc_eim *eim, const package_request *req)
{
    uint8_t token[SGP32_EIM_TOKEN_TLV_MAX];
    size_t token_len;
    if (req->signature.len != SGP32_EC_RAW_SIG_LEN ||
        sgp32_eim_token_tlv(eim->has_association_token, eim->association_token, token, &token_len))
        return false;
    sgp32_bytes parts[2] = {req->signed_part, {token, token_len}};
    return sgp32_ecdsa_verify(&eim->public_key, parts, 2, req->signature.data) == SGP32_OK;
}

static int run_operations(euicc_package_run *run, const package_request *req)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, EUICC_REQUEST_MAX);
    sgp32_euicc_package package;
    int rc = euicc_decode(run->euicc, &sgp32_type_euicc_package, req->package.data, req->package.len, &arena,
                          &package);
    if (rc) {
        sgp32_arena_free(&arena);
        return sgp32_asn1_write_integer(
            &run->results, 0x02, SGP32_EUICC_RESULT_DATA_PROCESSING_TERMINATED_UNKNOWN_OR_DAMAGED_COMMAND);
    }
    bool psmos = package.choice == SGP32_EUICC_PACKAGE_PSMO_LIST;
    size_t count = psmos ? package.u.psmo_list.count : package.u.eco_list.count;
    const size_t room = EUICC_PENDING_DER_MAX - EUICC_EPR_OVERHEAD - 3;
    bool failed = false;
    for (size_t i = 0; i < count && !failed && !rc; i++) {
        size_t before = run->results.len;
        rc = psmos ? euicc_psmo_execute(run, &package.u.psmo_list.items[i], &failed)
                   : euicc_eco_execute(run, &package.u.eco_list.items[i], &failed);
        if (!rc && run->results.len > room) {
            run->results.len = before;
            rc = sgp32_asn1_write_integer(&run->results, 0x02,
                                          SGP32_EUICC_RESULT_DATA_PROCESSING_TERMINATED_RESULT_SIZE_OVERFLOW);
            failed = true;
        }
        if (failed && i + 1 < count)
            sgp32_log(SGP32_LOG_INFO, SGP32_LOG_EUICC, &run->euicc->log,
                      "operation %zu of %zu failed: the remaining ones are not executed", i + 1, count);
    }
    sgp32_arena_free(&arena);
    return rc;
}

/* Counter stored, operations run, EPR signed and queued, state written; *out gets the EPR.
 * On failure the state is as before (the counter is not consumed). */
static int execute(sgp32_euicc *euicc, euicc_eim *eim, const package_request *req, const euicc_epr_header *h,
                   sgp32_buf *out, bool *capacity)
{
    euicc_change change;
    int rc = euicc_change_begin(euicc, &change);
    if (rc)
        return rc;
    euicc_package_run run = {
        .euicc = euicc, .change = &change, .header = *h, .eim_index = (size_t)(eim - euicc->state.eims)};
    sgp32_buf_init(&run.results, EUICC_RESPONSE_MAX);
    sgp32_buf epr;
    sgp32_buf_init(&epr, EUICC_PENDING_DER_MAX);

    eim->counter_value = req->counter_value;
    euicc_clear_rollback(euicc); /* the eIM reached us: no rollback is pending any more */
    rc = run_operations(&run, req);
    int64_t seq = rc ? 0 : euicc_next_seq_number(euicc);
    if (!rc)
        rc = euicc_package_write_result(euicc, h, seq, sgp32_buf_bytes(&run.results), &epr);
    if (!rc)
        rc = euicc_package_store_result(euicc, seq, epr.data, epr.len);
    *capacity = rc == SGP32_ERR_CAPACITY;
    if (rc)
        euicc_change_abort(euicc, &change);
    else
        rc = euicc_change_commit(euicc, &change); /* undone when the write fails */
    if (!rc)
        rc = sgp32_buf_append(out, epr.data, epr.len);
    if (rc)
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_EUICC, &euicc->log, "eUICC package not applied: %s",
                  sgp32_err_str(rc));
    else
        sgp32_log(SGP32_LOG_INFO, SGP32_LOG_EUICC, &euicc->log,
                  "eUICC package %lld executed, EPR seqNumber %lld", (long long)req->counter_value,
                  (long long)seq);
    sgp32_buf_free(&run.results);
    sgp32_buf_free(&epr);
    return rc;
}

int es10b_load_euicc_package(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    package_request req;
    int rc = parse_request(request, len, &req);
    if (rc) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log, "EuiccPackageRequest rejected: %s",
                  sgp32_err_str(rc));
        return rc;
    }
    euicc_eim *eim = euicc_find_eim(euicc, req.eim_id.data, req.eim_id.len);
    if (!eim) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log, "eUICC package from an unknown eIM");
        return euicc_package_write_unsigned_error(req.eim_id, req.has_transaction_id, req.transaction_id,
                                                  false, 0, out);
    }
    if (!signature_ok(eim, &req)) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log, "eUICC package from %s: bad eimSignature",
                  eim->eim_id);
        return euicc_package_write_unsigned_error(req.eim_id, req.has_transaction_id, req.transaction_id,
                                                  eim->has_association_token, eim->association_token, out);
    }
    euicc_epr_header h = {
        .eim_id = req.eim_id,
        .counter_value = req.counter_value,
        .counter_raw = req.counter_raw,
        .has_transaction_id = req.has_transaction_id,
        .transaction_id = req.transaction_id,
        .has_token = eim->has_association_token,
        .token = eim->association_token,
        .identity = euicc_package_identity(euicc, eim),
    };
    int64_t error = 0;
    if (req.eid.len != 16 || memcmp(req.eid.data, euicc->eid, 16) != 0)
        error = SGP32_EUICC_PACKAGE_ERROR_CODE_INVALID_EID;
    else if (!req.counter_out_of_range && req.counter_value <= eim->counter_value)
        error = SGP32_EUICC_PACKAGE_ERROR_CODE_REPLAY_ERROR;
    else if (req.counter_out_of_range || req.counter_value > EUICC_COUNTER_MAX)
        error = SGP32_EUICC_PACKAGE_ERROR_CODE_COUNTER_VALUE_OUT_OF_RANGE;
    else if (euicc->state.emergency_active)
        error = SGP32_EUICC_PACKAGE_ERROR_CODE_ECALL_ACTIVE;
    if (!error) {
        bool capacity = false;
        rc = execute(euicc, eim, &req, &h, out, &capacity);
        if (rc != SGP32_OK && !capacity)
            return rc;
        if (capacity) /* the pending list holds nothing but unacknowledged EPRs */
            error = SGP32_EUICC_PACKAGE_ERROR_CODE_UNDEFINED_ERROR;
    }
    if (error) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log, "eUICC package from %s refused: error %lld",
                  eim->eim_id, (long long)error);
        rc = euicc_package_write_signed_error(euicc, &h, error, out);
    }
    return rc;
}

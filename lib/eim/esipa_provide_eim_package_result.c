/*
 * ESipa.ProvideEimPackageResult (SGP.32 §5.14.6; NOTES §3.2, §8.5, §8.6): the IPA hands in what
 * a package produced: an EuiccPackageResult (alone or with the notifications it caused), eUICC
 * data, a profile download result, or its own refusal of the package.
 *
 * Everything is taken in by eim_intake.c (verified, matched, deduplicated, recorded); the answer
 * acknowledges the seqNumbers the eUICC may now delete (eimAcknowledgements), or is empty. A
 * result whose signature does not verify is not acknowledged and gets undefinedError, so the
 * eUICC keeps it.
 */
#include <stdio.h>

#include "eim_internal.h"
#include "sgp32/asn1.h"

static int write_error(sgp32_buf *out, int64_t code)
{
    size_t mark = sgp32_asn1_begin(out);
    int rc = sgp32_asn1_write_integer(out, 0x02, code);
    return rc ? rc : sgp32_asn1_end(out, 0xBF50, mark);
}

/* BF50 { BF53 {80 seq ...} } or BF50 { 30 00 } */
static int write_acks(sgp32_buf *out, const eim_acks *acks)
{
    size_t outer = sgp32_asn1_begin(out);
    size_t inner = sgp32_asn1_begin(out);
    int rc = SGP32_OK;
    for (size_t i = 0; !rc && i < acks->count; i++)
        rc = sgp32_asn1_write_integer(out, 0x80, acks->seq[i]);
    if (!rc)
        rc = sgp32_asn1_end(out, acks->count ? 0xBF53 : 0x30, inner);
    return rc ? rc : sgp32_asn1_end(out, 0xBF50, outer);
}

int sgp32_eim_provide_eim_package_result(const sgp32_eim_server *srv,
                                         const sgp32_provide_eim_package_result *req, sgp32_buf *out,
                                         sgp32_eim_esipa_info *info)
{
    const sgp32_eim_store *st = &srv->config.store;
    sgp32_eim_euicc euicc;
    sgp32_eim_euicc_init(&euicc);
    eim_acks acks = {.count = 0};
    int rc;
    if (!req->has_eid_value) {
        snprintf(info->outcome, sizeof(info->outcome), "missing EID");
        rc = write_error(
            out, SGP32_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_PROVIDE_EIM_PACKAGE_RESULT_ERROR_MISSING_EID);
        goto out;
    }
    if (eim_eid_text(req->eid_value, info->eid)) {
        snprintf(info->outcome, sizeof(info->outcome), "invalid EID");
        rc = write_error(
            out, SGP32_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_PROVIDE_EIM_PACKAGE_RESULT_ERROR_INVALID_EID);
        goto out;
    }
    rc = st->euicc_get(st->ctx, info->eid, &euicc);
    if (rc == SGP32_ERR_NOT_FOUND) {
        snprintf(info->outcome, sizeof(info->outcome), "unknown EID");
        rc = write_error(
            out, SGP32_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_PROVIDE_EIM_PACKAGE_RESULT_ERROR_EID_NOT_FOUND);
        goto out;
    }
    if (rc)
        goto out;
    rc = eim_take_eim_package_result(srv, &euicc, &req->eim_package_result, &acks, info);
    if (rc == SGP32_ERR_CRYPTO_BAD_SIGNATURE || rc == SGP32_ERR_NOT_FOUND || (rc <= -100 && rc > -300)) {
        /* not verifiable (bad signature, no certificate, bytes that do not decode): keep it on the card */
        rc = write_error(
            out, SGP32_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_PROVIDE_EIM_PACKAGE_RESULT_ERROR_UNDEFINED_ERROR);
        goto out;
    }
    if (rc)
        goto out;
    rc = write_acks(out, &acks);
out:
    sgp32_eim_euicc_free(&euicc);
    return rc;
}

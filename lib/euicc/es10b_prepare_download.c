/*
 * ES10b.PrepareDownload (SGP.22 §5.7.5; NOTES §5.3, §6.1, §6.2 step 4).
 *
 * BF21 {30 smdpSigned2 {80 txid, 01 ccRequiredFlag, [5F49 bppEuiccOtpk]}, 5F37 smdpSignature2,
 *       [04 hashCc], 30 CERT.DPpb}
 *   -> BF21 {A0 {30 euiccSigned2 {80 txid, 5F49 otPK.EUICC, [04 hashCc]}, 5F37 euiccSignature2}}
 *   or BF21 {A1 {80 txid, 02 downloadErrorCode}}
 *
 * Checks, in this order:
 *   a session from AuthenticateServer, not yet prepared          noSessionContext (4)
 *   CERT.DPpb parses on a supported curve                        unsupportedCurve (3) / invalidCertificate
 * (1) CERT.DPpb is dp-pb, chains to a trusted CI, names the same SM-DP+ OID as CERT.DPauth invalidCertificate
 * (1) smdpSignature2 over smdpSigned2 || 5F 37 40 || euiccSignature1 invalidSignature (2)
 *   smdpSigned2.transactionId is the session's                   invalidTransactionId (5)
 *   ccRequiredFlag TRUE but no hashCc                            undefinedError (127)
 * Then the one-time key pair on the curve of CERT.DPpb (the kept one when bppEuiccOtpk names
 * it) and euiccSignature2 over euiccSigned2 || the whole smdpSignature2 TLV. hashCc is echoed
 * only when ccRequiredFlag is TRUE. An error answer ends the session.
 */
#include <string.h>

#include "es8_download.h"

static int write_error(sgp32_buf *out, sgp32_bytes txid, int64_t code)
{
    size_t outer = sgp32_asn1_begin(out), inner = sgp32_asn1_begin(out);
    int rc = sgp32_asn1_write_tlv(out, 0x80, txid.data, txid.len);
    if (!rc)
        rc = sgp32_asn1_write_integer(out, 0x02, code);
    if (!rc)
        rc = sgp32_asn1_end(out, 0xA1, inner);
    if (!rc)
        rc = sgp32_asn1_end(out, SGP32_TAG_PREPARE_DOWNLOAD_RESPONSE, outer);
    return rc;
}

static int64_t check(sgp32_euicc *euicc, const euicc_download *dl, const sgp32_prepare_download_request *req,
                     sgp32_certificate *cert)
{
    if (!dl || dl->phase != EUICC_DL_AUTHENTICATED)
        return SGP32_DOWNLOAD_ERROR_CODE_NO_SESSION_CONTEXT;
    int rc = sgp32_cert_parse(req->smdp_certificate.data, req->smdp_certificate.len, cert);
    if (rc == SGP32_ERR_CRYPTO_UNSUPPORTED_CURVE)
        return SGP32_DOWNLOAD_ERROR_CODE_UNSUPPORTED_CURVE;
    if (!rc)
        rc = sgp32_cert_verify_dp(&euicc->trusted_cis, req->smdp_certificate, SGP32_CERT_ROLE_DP_PB, NULL,
                                  SGP32_CERT_NO_TIME_CHECK, cert);
    if (!rc && (cert->registered_id.der_len != dl->auth_smdp_oid_len ||
                memcmp(cert->registered_id.der, dl->auth_smdp_oid, dl->auth_smdp_oid_len) != 0))
        rc = SGP32_ERR_CERT_CHAIN; /* DPauth and DPpb of two different SM-DP+s */
    if (rc) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log, "PrepareDownload: CERT.DPpb: %s",
                  sgp32_err_str(rc));
        return SGP32_DOWNLOAD_ERROR_CODE_INVALID_CERTIFICATE;
    }
    static const uint8_t sig_header[3] = {0x5F, 0x37, 0x40};
    const sgp32_bytes parts[] = {
        req->smdp_signed2.der, {sig_header, 3}, {dl->euicc_signature1, SGP32_EC_RAW_SIG_LEN}};
    if (req->smdp_signature2.len != SGP32_EC_RAW_SIG_LEN ||
        sgp32_ecdsa_verify(&cert->public_key, parts, 3, req->smdp_signature2.data) != SGP32_OK)
        return SGP32_DOWNLOAD_ERROR_CODE_INVALID_SIGNATURE;
    if (!euicc_download_txid_is(dl, req->smdp_signed2.transaction_id))
        return SGP32_DOWNLOAD_ERROR_CODE_INVALID_TRANSACTION_ID;
    if (req->smdp_signed2.cc_required_flag && !req->has_hash_cc)
        return SGP32_DOWNLOAD_ERROR_CODE_UNDEFINED_ERROR;
    return 0;
}

/* otPK.EUICC: reuse the kept pair when bppEuiccOtpk names it (and the curve fits), else a new one. */
static int one_time_key(euicc_download *dl, const sgp32_smdp_signed2 *ss2, sgp32_curve curve, bool *reused)
{
    *reused = dl->has_otk && ss2->has_bpp_euicc_otpk && dl->otpk.curve == curve &&
              ss2->bpp_euicc_otpk.len == SGP32_EC_POINT_LEN &&
              memcmp(ss2->bpp_euicc_otpk.data, dl->otpk.point, SGP32_EC_POINT_LEN) == 0;
    if (*reused)
        return SGP32_OK;
    sgp32_secure_zero(&dl->otsk, sizeof(dl->otsk));
    dl->has_otk = false;
    int rc = sgp32_ec_generate(curve, &dl->otsk, &dl->otpk);
    dl->has_otk = rc == SGP32_OK;
    return rc;
}

static int write_ok(sgp32_euicc *euicc, euicc_download *dl, const sgp32_prepare_download_request *req,
                    sgp32_buf *out)
{
    const sgp32_euicc_identity *identity = &euicc->config.identities[dl->identity_index];
    size_t outer = sgp32_asn1_begin(out), ok = sgp32_asn1_begin(out), signed2 = sgp32_asn1_begin(out);
    int rc = sgp32_asn1_write_tlv(out, 0x80, dl->transaction_id, dl->transaction_id_len);
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, 0x5F49, dl->otpk.point, SGP32_EC_POINT_LEN);
    if (!rc && req->smdp_signed2.cc_required_flag)
        rc = sgp32_asn1_write_tlv(out, 0x04, req->hash_cc.data, req->hash_cc.len);
    if (!rc)
        rc = sgp32_asn1_end(out, 0x30, signed2);
    uint8_t sig[SGP32_EC_RAW_SIG_LEN];
    if (!rc) {
        static const uint8_t sig_header[3] = {0x5F, 0x37, 0x40};
        const sgp32_bytes parts[] = {
            {out->data + signed2, out->len - signed2}, {sig_header, 3}, req->smdp_signature2};
        rc = euicc_sign(euicc, identity, parts, 3, sig);
    }
    if (!rc)
        rc = euicc_write_signature(out, sig);
    if (!rc)
        rc = sgp32_asn1_end(out, 0xA0, ok);
    if (!rc)
        rc = sgp32_asn1_end(out, SGP32_TAG_PREPARE_DOWNLOAD_RESPONSE, outer);
    return rc;
}

int es10b_prepare_download(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, 4 * 1024);
    sgp32_prepare_download_request req;
    memset(&req, 0, sizeof(req));
    sgp32_certificate *cert = sgp32_alloc(sizeof(*cert));
    int rc = cert ? euicc_decode(euicc, &sgp32_type_prepare_download_request, request, len, &arena, &req)
                  : SGP32_ERR_NO_MEMORY;
    if (rc)
        goto out;

    euicc_download *dl = euicc->download;
    int64_t code = check(euicc, dl, &req, cert);
    bool reused = false;
    if (!code) {
        rc = one_time_key(dl, &req.smdp_signed2, cert->public_key.curve, &reused);
        size_t before = out->len;
        if (!rc)
            rc = write_ok(euicc, dl, &req, out);
        if (rc) {
            out->len = before;
            sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_EUICC, &euicc->log, "PrepareDownload failed: %s",
                      sgp32_err_str(rc));
            code = SGP32_DOWNLOAD_ERROR_CODE_UNDEFINED_ERROR;
        }
    }
    if (code) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log, "PrepareDownload refused: error %lld",
                  (long long)code);
        euicc_download_end(euicc);
        rc = write_error(out, req.smdp_signed2.transaction_id, code);
        goto out;
    }
    dl->phase = EUICC_DL_PREPARED;
    dl->dppb_key = cert->public_key;
    memcpy(dl->smdp_oid, cert->registered_id.der, cert->registered_id.der_len);
    dl->smdp_oid_len = cert->registered_id.der_len;
    sgp32_log(SGP32_LOG_INFO, SGP32_LOG_EUICC, &euicc->log, "PrepareDownload: %s one-time key on %s",
              reused ? "kept" : "new", sgp32_curve_name(dl->otpk.curve));
out:
    if (cert)
        sgp32_free(cert, sizeof(*cert));
    sgp32_arena_free(&arena);
    return rc;
}

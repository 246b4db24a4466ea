/*
 * ES10b.AuthenticateServer (SGP.22 §5.7.13, SGP.32 §5.9; NOTES §5.3, §6.1, §6.2 step 2).
 *
 * BF38 {30 serverSigned1, 5F37 serverSignature1, 04 euiccCiPKIdToBeUsed, 30 CERT.XXauth,
 *       A0 ctxParams1}
 *   -> BF38 {A0 {30 euiccSigned1, 5F37 euiccSignature1, 30 CERT.EUICC, 30 CERT.EUM}}
 *   or BF38 {A1 {80 transactionId, 02 authenticateErrorCode}}
 *
 * Checks, in this order (the first failure is the answer):
 *   CERT.XXauth parses, on a supported curve                  unsupportedCurve (3) / invalidCertificate (1)
 *   its role is dp-auth or ds-auth (critical policy)          invalidOid (5)
 *   it chains to a trusted CI (no date check: no clock)       invalidCertificate (1)
 *   serverSignature1 over serverSigned1 as received           invalidSignature (2)
 *   euiccChallenge is the last one GetEUICCChallenge issued   euiccChallengeMismatch (6)
 *   euiccCiPKIdToBeUsed names a CI the eUICC signs for        ciPKUnknown (7)
 * The challenge is single use: any AuthenticateServer consumes it. A success starts the
 * download session (es8_download.h); any answer ends the previous one.
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
        rc = sgp32_asn1_end(out, SGP32_TAG_AUTHENTICATE_SERVER_RESPONSE, outer);
    return rc;
}

/* euiccInfo2: exactly what GetEUICCInfo2 answers (SGP32-EUICCInfo2 BF22), appended to out. */
static int euicc_info2(sgp32_euicc *euicc, sgp32_buf *out)
{
    static const uint8_t request[] = {0xBF, 0x22, 0x00};
    size_t before = out->len;
    int rc = es10b_get_euicc_info2(euicc, request, sizeof(request), out);
    sgp32_asn1_tlv tlv;
    if (!rc &&
        sgp32_asn1_expect(out->data + before, out->len - before, SGP32_TAG_EUICC_INFO2, &tlv) != SGP32_OK)
        rc = SGP32_ERR_STATE;
    return rc;
}

static int64_t check_server(sgp32_euicc *euicc, const sgp32_authenticate_server_request *req,
                            sgp32_certificate *cert)
{
    int rc = sgp32_cert_parse(req->server_certificate.data, req->server_certificate.len, cert);
    if (rc == SGP32_ERR_CRYPTO_UNSUPPORTED_CURVE)
        return SGP32_AUTHENTICATE_ERROR_CODE_UNSUPPORTED_CURVE;
    if (rc)
        return SGP32_AUTHENTICATE_ERROR_CODE_INVALID_CERTIFICATE;
    if ((cert->role != SGP32_CERT_ROLE_DP_AUTH && cert->role != SGP32_CERT_ROLE_DS_AUTH) ||
        !cert->role_critical)
        return SGP32_AUTHENTICATE_ERROR_CODE_INVALID_OID;
    rc = sgp32_cert_verify_dp(&euicc->trusted_cis, req->server_certificate, cert->role, NULL,
                              SGP32_CERT_NO_TIME_CHECK, cert);
    if (rc) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log, "AuthenticateServer: server certificate: %s",
                  sgp32_err_str(rc));
        return rc == SGP32_ERR_CERT_POLICY ? SGP32_AUTHENTICATE_ERROR_CODE_INVALID_OID
                                           : SGP32_AUTHENTICATE_ERROR_CODE_INVALID_CERTIFICATE;
    }
    if (req->server_signature1.len != SGP32_EC_RAW_SIG_LEN ||
        sgp32_ecdsa_verify(&cert->public_key, &req->server_signed1.der, 1, req->server_signature1.data) !=
            SGP32_OK)
        return SGP32_AUTHENTICATE_ERROR_CODE_INVALID_SIGNATURE;
    return 0;
}

/* euiccSigned1 {80 txid, 83 serverAddress, 84 serverChallenge, BF22 euiccInfo2, ctxParams1}. */
static int write_euicc_signed1(sgp32_euicc *euicc, const sgp32_authenticate_server_request *req,
                               sgp32_buf *out)
{
    const sgp32_server_signed1 *ss1 = &req->server_signed1;
    size_t mark = sgp32_asn1_begin(out);
    int rc = sgp32_asn1_write_tlv(out, 0x80, ss1->transaction_id.data, ss1->transaction_id.len);
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, 0x83, ss1->server_address.data, ss1->server_address.len);
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, 0x84, ss1->server_challenge.data, ss1->server_challenge.len);
    if (!rc)
        rc = euicc_info2(euicc, out);
    if (!rc)
        rc = sgp32_buf_append(out, req->ctx_params1.der.data, req->ctx_params1.der.len);
    if (!rc)
        rc = sgp32_asn1_end(out, 0x30, mark);
    return rc;
}

int es10b_authenticate_server(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, 16 * 1024);
    sgp32_authenticate_server_request req;
    memset(&req, 0, sizeof(req));
    sgp32_certificate *cert = sgp32_alloc(sizeof(*cert));
    sgp32_buf signed1;
    sgp32_buf_init(&signed1, EUICC_RESPONSE_MAX);
    int rc = cert ? euicc_decode(euicc, &sgp32_type_authenticate_server_request, request, len, &arena, &req)
                  : SGP32_ERR_NO_MEMORY;
    if (rc)
        goto out;

    /* Whatever happens now, the challenge is spent and an earlier session is over (on success
     * euicc_download_begin ends it, keeping an unused one-time key for a bppEuiccOtpk retry). */
    bool challenge_ok = euicc->has_euicc_challenge && req.server_signed1.euicc_challenge.len == 16 &&
                        memcmp(req.server_signed1.euicc_challenge.data, euicc->euicc_challenge, 16) == 0;
    euicc->has_euicc_challenge = false;

    sgp32_bytes txid = req.server_signed1.transaction_id;
    const sgp32_bytes pkid = req.euicc_ci_pk_id_to_be_used;
    const sgp32_euicc_identity *identity = euicc_identity_for_ci(euicc, pkid.data, pkid.len);
    int64_t code = check_server(euicc, &req, cert);
    if (!code && !challenge_ok)
        code = SGP32_AUTHENTICATE_ERROR_CODE_EUICC_CHALLENGE_MISMATCH;
    if (!code && (!identity || !pkid.len))
        code = SGP32_AUTHENTICATE_ERROR_CODE_CI_PK_UNKNOWN;
    if (!code && (req.server_signed1.server_address.len > EUICC_ADDRESS_MAX ||
                  cert->registered_id.der_len > EUICC_DL_OID_MAX))
        code = SGP32_AUTHENTICATE_ERROR_CODE_UNDEFINED_ERROR; /* more than we can keep for the PIR */
    if (code) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log, "AuthenticateServer refused: error %lld",
                  (long long)code);
        euicc_download_end(euicc);
        rc = write_error(out, txid, code);
        goto out;
    }

    uint8_t sig[SGP32_EC_RAW_SIG_LEN];
    rc = write_euicc_signed1(euicc, &req, &signed1);
    if (!rc) {
        sgp32_bytes part = sgp32_buf_bytes(&signed1);
        rc = euicc_sign(euicc, identity, &part, 1, sig);
    }
    euicc_download *dl = rc ? NULL : euicc_download_begin(euicc);
    if (!rc && !dl)
        rc = SGP32_ERR_NO_MEMORY;
    if (rc) {
        /* Could not answer OK (GetEUICCInfo2 failed, memory): still a spec-level answer. */
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_EUICC, &euicc->log, "AuthenticateServer failed: %s",
                  sgp32_err_str(rc));
        euicc_download_end(euicc);
        rc = write_error(out, txid, SGP32_AUTHENTICATE_ERROR_CODE_UNDEFINED_ERROR);
        goto out;
    }
    dl->phase = EUICC_DL_AUTHENTICATED;
    dl->identity_index = (size_t)(identity - euicc->config.identities);
    memcpy(dl->transaction_id, txid.data, txid.len);
    dl->transaction_id_len = txid.len;
    memcpy(dl->server_address, req.server_signed1.server_address.data, req.server_signed1.server_address.len);
    memcpy(dl->auth_smdp_oid, cert->registered_id.der, cert->registered_id.der_len);
    dl->auth_smdp_oid_len = cert->registered_id.der_len;
    memcpy(dl->euicc_signature1, sig, sizeof(sig));

    size_t outer = sgp32_asn1_begin(out), ok = sgp32_asn1_begin(out);
    rc = sgp32_buf_append(out, signed1.data, signed1.len);
    if (!rc)
        rc = euicc_write_signature(out, sig);
    if (!rc)
        rc = sgp32_buf_append(out, identity->euicc_certificate.data, identity->euicc_certificate.len);
    if (!rc)
        rc = sgp32_buf_append(out, identity->eum_certificate.data, identity->eum_certificate.len);
    if (!rc)
        rc = sgp32_asn1_end(out, 0xA0, ok);
    if (!rc)
        rc = sgp32_asn1_end(out, SGP32_TAG_AUTHENTICATE_SERVER_RESPONSE, outer);
    if (rc)
        euicc_download_discard(euicc);
    else
        sgp32_log(SGP32_LOG_INFO, SGP32_LOG_EUICC, &euicc->log,
                  "AuthenticateServer: session started with %.*s", (int)req.server_signed1.server_address.len,
                  (const char *)req.server_signed1.server_address.data);
out:
    sgp32_buf_free(&signed1);
    if (cert)
        sgp32_free(cert, sizeof(*cert));
    sgp32_arena_free(&arena);
    return rc;
}

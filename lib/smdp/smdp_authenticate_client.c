/*
 * AuthenticateClient, the SM-DP+ side (SGP.22 §5.6.3; NOTES §6.1, §6.2 step 3): check the eUICC's
 * AuthenticateServerResponse and sign smdpSigned2.
 *
 * The compact form (SGP.32 minimizeEsipaBytes) must be rebuilt into the full one by the eIM before
 * it gets here; it is refused as MALFORMED (detail SGP32_ERR_UNSUPPORTED).
 */
#include <string.h>

#include "smdp_internal.h"

static int write_smdp_signed2(sgp32_smdp_session *s, const sgp32_ec_public_key *bpp_euicc_otpk)
{
    sgp32_buf out;
    sgp32_buf_init_fixed(&out, s->smdp_signed2, sizeof(s->smdp_signed2));
    size_t mark = sgp32_asn1_begin(&out);
    int rc = sgp32_asn1_write_tlv(&out, 0x80, s->transaction_id, s->transaction_id_len);
    if (!rc)
        rc = sgp32_asn1_write_boolean(&out, 0x01, s->cc_required);
    if (!rc && bpp_euicc_otpk)
        rc = sgp32_asn1_write_tlv(&out, 0x5F49, bpp_euicc_otpk->point, SGP32_EC_POINT_LEN);
    if (!rc)
        rc = sgp32_asn1_end(&out, 0x30, mark);
    if (!rc) {
        static const uint8_t sig_header[3] = {0x5F, 0x37, 0x40};
        const sgp32_bytes parts[] = {
            {out.data, out.len}, {sig_header, 3}, {s->euicc_signature1, SGP32_EC_RAW_SIG_LEN}};
        s->smdp_signed2_len = out.len;
        rc = sgp32_ecdsa_sign(&s->credentials->dppb_key, parts, 3, s->smdp_signature2);
    }
    return rc;
}

static int check_response(sgp32_smdp_session *s, const sgp32_sgp32_authenticate_server_response *r,
                          sgp32_euicc_chain *chain, sgp32_smdp_check *check)
{
    if (r->choice == SGP32_SGP32_AUTHENTICATE_SERVER_RESPONSE_AUTHENTICATE_RESPONSE_ERROR) {
        check->euicc_error = r->u.authenticate_response_error.authenticate_error_code;
        return smdp_refuse(s, check, SGP32_SMDP_EUICC_ERROR, 0, "AuthenticateServerResponse (eUICC error)");
    }
    if (r->choice != SGP32_SGP32_AUTHENTICATE_SERVER_RESPONSE_AUTHENTICATE_RESPONSE_OK)
        return smdp_refuse(s, check, SGP32_SMDP_MALFORMED, SGP32_ERR_UNSUPPORTED,
                           "AuthenticateServerResponse (compact form)");
    const sgp32_sgp32_authenticate_response_ok *ok = &r->u.authenticate_response_ok;
    const sgp32_sgp32_euicc_signed1 *signed1 = &ok->euicc_signed1;
    if (!smdp_txid_is(s, signed1->transaction_id))
        return smdp_refuse(s, check, SGP32_SMDP_TRANSACTION_MISMATCH, 0, "euiccSigned1");
    if (!sgp32_bytes_equal(signed1->server_challenge, SGP32_BYTES(s->server_challenge, 16)) ||
        !sgp32_bytes_equal(signed1->server_address,
                           SGP32_BYTES(s->server_address, strlen(s->server_address))))
        return smdp_refuse(s, check, SGP32_SMDP_CHALLENGE_MISMATCH, 0, "euiccSigned1");
    int rc = sgp32_cert_verify_euicc_chain(s->trusted_cis, ok->eum_certificate, ok->euicc_certificate, s->now,
                                           NULL, chain);
    if (rc)
        return smdp_refuse(s, check, SGP32_SMDP_CERTIFICATE_INVALID, rc, "eUICC certificates");
    if (!sgp32_bytes_equal(SGP32_BYTES(chain->eum.aki.id, chain->eum.aki.len),
                           SGP32_BYTES(s->ci_pkid, s->ci_pkid_len)))
        return smdp_refuse(s, check, SGP32_SMDP_CI_MISMATCH, 0, "CERT.EUM");
    if (ok->euicc_signature1.len != SGP32_EC_RAW_SIG_LEN ||
        sgp32_ecdsa_verify(&chain->euicc.public_key, &signed1->der, 1, ok->euicc_signature1.data) != SGP32_OK)
        return smdp_refuse(s, check, SGP32_SMDP_SIGNATURE_INVALID, 0, "euiccSignature1");
    memcpy(s->eid, chain->euicc.eid, sizeof(s->eid));
    s->euicc_key = chain->euicc.public_key;
    memcpy(s->euicc_signature1, ok->euicc_signature1.data, SGP32_EC_RAW_SIG_LEN);
    return SGP32_OK;
}

/* ctxParams1's matchingId, kept for the server's order lookup. */
static int keep_matching_id(sgp32_smdp_session *s, const sgp32_ctx_params1 *ctx, sgp32_smdp_check *check)
{
    s->has_matching_id = false;
    s->matching_id[0] = '\0';
    if (ctx->choice != SGP32_CTX_PARAMS1_CTX_PARAMS_FOR_COMMON_AUTHENTICATION)
        return SGP32_OK;
    const sgp32_ctx_params_for_common_authentication *common = &ctx->u.ctx_params_for_common_authentication;
    if (!common->has_matching_id)
        return SGP32_OK;
    if (common->matching_id.len > SGP32_SMDP_MATCHING_ID_MAX ||
        memchr(common->matching_id.data, 0, common->matching_id.len))
        return smdp_refuse(s, check, SGP32_SMDP_MALFORMED, SGP32_ERR_CAPACITY, "ctxParams1 matchingId");
    memcpy(s->matching_id, common->matching_id.data, common->matching_id.len);
    s->matching_id[common->matching_id.len] = '\0';
    s->has_matching_id = true;
    return SGP32_OK;
}

int sgp32_smdp_authenticate_client_verify(sgp32_smdp_session *s, const uint8_t *response, size_t len,
                                          sgp32_smdp_check *check)
{
    if (!s || !response || !check)
        return SGP32_ERR_INVALID_ARGUMENT;
    memset(check, 0, sizeof(*check));
    if (s->phase != SGP32_SMDP_AUTH_STARTED)
        return SGP32_ERR_STATE;
    sgp32_arena arena;
    sgp32_arena_init(&arena, 32 * 1024);
    sgp32_sgp32_authenticate_server_response *r = sgp32_alloc(sizeof(*r));
    sgp32_euicc_chain *chain = sgp32_alloc(sizeof(*chain));
    int rc = r && chain ? SGP32_OK : SGP32_ERR_NO_MEMORY;
    if (!rc) {
        int decoded =
            sgp32_asn1_decode(&sgp32_type_sgp32_authenticate_server_response, response, len, &arena, r);
        rc = decoded ? smdp_refuse(s, check, SGP32_SMDP_MALFORMED, decoded, "AuthenticateServerResponse")
                     : check_response(s, r, chain, check);
    }
    if (!rc && check->verdict == SGP32_SMDP_ACCEPTED)
        rc = keep_matching_id(s, &r->u.authenticate_response_ok.euicc_signed1.ctx_params1, check);
    if (!rc && check->verdict == SGP32_SMDP_ACCEPTED)
        s->phase = SGP32_SMDP_CLIENT_VERIFIED;
    if (chain)
        sgp32_free(chain, sizeof(*chain));
    if (r)
        sgp32_free(r, sizeof(*r));
    sgp32_arena_free(&arena);
    return rc;
}

int sgp32_smdp_authenticate_client_finish(sgp32_smdp_session *s, const uint8_t *cc_sha256,
                                          const sgp32_ec_public_key *bpp_euicc_otpk)
{
    if (!s || !s->credentials)
        return SGP32_ERR_INVALID_ARGUMENT;
    if (s->phase != SGP32_SMDP_CLIENT_VERIFIED)
        return SGP32_ERR_STATE;
    int rc = SGP32_OK;
    s->cc_required = cc_sha256 != NULL;
    if (s->cc_required) {
        /* hashCc = SHA-256(SHA-256(CC) || transactionId) (SGP.22 §3.1.3) */
        const sgp32_bytes parts[] = {{cc_sha256, SGP32_SHA256_LEN},
                                     {s->transaction_id, s->transaction_id_len}};
        rc = sgp32_sha256_parts(parts, 2, s->hash_cc);
    }
    if (!rc)
        rc = write_smdp_signed2(s, bpp_euicc_otpk);
    if (!rc)
        s->phase = SGP32_SMDP_CLIENT_OK;
    return rc;
}

int sgp32_smdp_authenticate_client(sgp32_smdp_session *s, const uint8_t *response, size_t len,
                                   const char *confirmation_code, const sgp32_ec_public_key *bpp_euicc_otpk,
                                   sgp32_smdp_check *check)
{
    int rc = sgp32_smdp_authenticate_client_verify(s, response, len, check);
    if (rc || check->verdict != SGP32_SMDP_ACCEPTED)
        return rc;
    uint8_t cc_sha256[SGP32_SHA256_LEN];
    if (confirmation_code)
        rc = sgp32_sha256((const uint8_t *)confirmation_code, strlen(confirmation_code), cc_sha256);
    if (!rc)
        rc = sgp32_smdp_authenticate_client_finish(s, confirmation_code ? cc_sha256 : NULL, bpp_euicc_otpk);
    sgp32_secure_zero(cc_sha256, sizeof(cc_sha256));
    return rc;
}

int sgp32_smdp_write_prepare_download_request(const sgp32_smdp_session *s, const uint8_t *hash_cc,
                                              sgp32_buf *out)
{
    if (!s || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    if (s->phase < SGP32_SMDP_CLIENT_OK)
        return SGP32_ERR_STATE;
    size_t mark = sgp32_asn1_begin(out);
    int rc = sgp32_buf_append(out, s->smdp_signed2, s->smdp_signed2_len);
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, 0x5F37, s->smdp_signature2, SGP32_EC_RAW_SIG_LEN);
    if (!rc && hash_cc)
        rc = sgp32_asn1_write_tlv(out, 0x04, hash_cc, SGP32_SHA256_LEN);
    if (!rc)
        rc = sgp32_buf_append(out, s->credentials->dppb_certificate.data,
                              s->credentials->dppb_certificate.len);
    if (!rc)
        rc = sgp32_asn1_end(out, SGP32_TAG_PREPARE_DOWNLOAD_REQUEST, mark);
    return rc;
}

/*
 * The SM-DP+ download session: set-up, and InitiateAuthentication (SGP.22 §5.6.1; NOTES §6.1,
 * §6.2 step 1): transactionId, serverChallenge, serverSigned1 signed with SK.DPauth.
 */
#include <string.h>

#include "sgp32/text.h"
#include "smdp_internal.h"

int smdp_refuse(const sgp32_smdp_session *s, sgp32_smdp_check *check, sgp32_smdp_verdict verdict, int detail,
                const char *what)
{
    check->verdict = verdict;
    check->detail = detail;
    sgp32_log_context ctx;
    char hex[2 * SGP32_SMDP_TXID_LEN + 1];
    smdp_log_context(s, &ctx, hex);
    sgp32_log(SGP32_LOG_WARN, SGP32_LOG_SMDP, &ctx, "%s refused (verdict %d%s%s)", what, (int)verdict,
              detail ? ": " : "", detail ? sgp32_err_str(detail) : "");
    return SGP32_OK;
}

bool smdp_txid_is(const sgp32_smdp_session *s, sgp32_bytes txid)
{
    return txid.len == s->transaction_id_len && memcmp(txid.data, s->transaction_id, txid.len) == 0;
}

void smdp_log_context(const sgp32_smdp_session *s, sgp32_log_context *ctx,
                      char txid_hex[2 * SGP32_SMDP_TXID_LEN + 1])
{
    sgp32_hex_encode(s->transaction_id, s->transaction_id_len, txid_hex);
    *ctx = (sgp32_log_context){"smdp", NULL, txid_hex};
}

int sgp32_smdp_session_init(sgp32_smdp_session *s, const sgp32_smdp_credentials *credentials,
                            const sgp32_ci_set *trusted_cis, const char *server_address, int64_t now)
{
    if (!s || !credentials || !trusted_cis || !server_address || !server_address[0] ||
        strlen(server_address) > SGP32_SMDP_ADDRESS_MAX)
        return SGP32_ERR_INVALID_ARGUMENT;
    memset(s, 0, sizeof(*s));
    sgp32_certificate *auth = sgp32_alloc(sizeof(*auth)), *pb = sgp32_alloc(sizeof(*pb));
    int rc = auth && pb ? SGP32_OK : SGP32_ERR_NO_MEMORY;
    if (!rc)
        rc =
            sgp32_cert_parse(credentials->dpauth_certificate.data, credentials->dpauth_certificate.len, auth);
    if (!rc)
        rc = sgp32_cert_parse(credentials->dppb_certificate.data, credentials->dppb_certificate.len, pb);
    /* The SM-DP+ OID travels in the PIR and the cancel response; both certificates carry it. */
    if (!rc && (pb->registered_id.der_len == 0 || pb->registered_id.der_len > SGP32_SMDP_OID_MAX ||
                auth->aki.len == 0 || auth->aki.len > SGP32_CERT_KEY_ID_MAX))
        rc = SGP32_ERR_CERT_EXTENSION;
    if (!rc) {
        s->credentials = credentials;
        s->trusted_cis = trusted_cis;
        s->now = now;
        strcpy(s->server_address, server_address);
        memcpy(s->smdp_oid, pb->registered_id.der, pb->registered_id.der_len);
        s->smdp_oid_len = pb->registered_id.der_len;
        s->dppb_curve = pb->public_key.curve;
        memcpy(s->ci_pkid, auth->aki.id, auth->aki.len);
        s->ci_pkid_len = auth->aki.len;
    }
    sgp32_free(auth, sizeof(*auth));
    sgp32_free(pb, sizeof(*pb));
    return rc;
}

void sgp32_smdp_session_clear(sgp32_smdp_session *s)
{
    if (s)
        sgp32_secure_zero(s, sizeof(*s));
}

int sgp32_smdp_initiate_authentication(sgp32_smdp_session *s, const uint8_t euicc_challenge[16])
{
    if (!s || !s->credentials || !euicc_challenge)
        return SGP32_ERR_INVALID_ARGUMENT;
    if (s->phase != SGP32_SMDP_NEW)
        return SGP32_ERR_STATE;
    int rc = sgp32_random_bytes(s->transaction_id, SGP32_SMDP_TXID_LEN);
    if (!rc)
        rc = sgp32_random_bytes(s->server_challenge, sizeof(s->server_challenge));
    s->transaction_id_len = SGP32_SMDP_TXID_LEN;
    sgp32_buf out;
    sgp32_buf_init_fixed(&out, s->server_signed1, sizeof(s->server_signed1));
    size_t mark = sgp32_asn1_begin(&out);
    if (!rc)
        rc = sgp32_asn1_write_tlv(&out, 0x80, s->transaction_id, s->transaction_id_len);
    if (!rc)
        rc = sgp32_asn1_write_tlv(&out, 0x81, euicc_challenge, 16);
    if (!rc)
        rc = sgp32_asn1_write_tlv(&out, 0x83, (const uint8_t *)s->server_address, strlen(s->server_address));
    if (!rc)
        rc = sgp32_asn1_write_tlv(&out, 0x84, s->server_challenge, sizeof(s->server_challenge));
    if (!rc)
        rc = sgp32_asn1_end(&out, 0x30, mark);
    if (!rc) {
        s->server_signed1_len = out.len;
        sgp32_bytes part = sgp32_buf_bytes(&out);
        rc = sgp32_ecdsa_sign(&s->credentials->dpauth_key, &part, 1, s->server_signature1);
    }
    if (!rc)
        s->phase = SGP32_SMDP_AUTH_STARTED;
    return rc;
}

int sgp32_smdp_write_server_auth(const sgp32_smdp_session *s, sgp32_buf *out)
{
    if (!s || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    if (s->phase < SGP32_SMDP_AUTH_STARTED)
        return SGP32_ERR_STATE;
    int rc = sgp32_buf_append(out, s->server_signed1, s->server_signed1_len);
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, 0x5F37, s->server_signature1, SGP32_EC_RAW_SIG_LEN);
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, 0x04, s->ci_pkid, s->ci_pkid_len);
    if (!rc)
        rc = sgp32_buf_append(out, s->credentials->dpauth_certificate.data,
                              s->credentials->dpauth_certificate.len);
    return rc;
}

int sgp32_smdp_write_authenticate_server_request(const sgp32_smdp_session *s, sgp32_bytes ctx_params1,
                                                 sgp32_buf *out)
{
    if (!s || !out || !ctx_params1.data)
        return SGP32_ERR_INVALID_ARGUMENT;
    size_t mark = sgp32_asn1_begin(out);
    int rc = sgp32_smdp_write_server_auth(s, out);
    if (!rc)
        rc = sgp32_buf_append(out, ctx_params1.data, ctx_params1.len);
    if (!rc)
        rc = sgp32_asn1_end(out, SGP32_TAG_AUTHENTICATE_SERVER_REQUEST, mark);
    return rc;
}

/*
 * ES9+.InitiateAuthentication (SGP.22 §5.6.1; NOTES §6.2 step 1).
 *
 *   smdpAddress is ours or an alias (case-insensitive)        else 8.8.1/3.8  (invalidDpAddress 1)
 *   euiccInfo1 decodes, euiccChallenge is 16 bytes            else 1.6/2.1
 *   SVN major version 2                                       else 8.8.3/3.1  (euiccVersionNotSupportedByDp
 * 2) a credential whose CI is in euiccCiPKIdListForSigning     else 8.8.2/3.1  (ciPKNotSupported 3)
 *   ... and in euiccCiPKIdListForVerification                 else 8.8.4/3.7  (ciPKNotSupported 3)
 * Then a new session: fresh transactionId and serverChallenge, serverSigned1 signed with SK.DPauth,
 * kept in the store until AuthenticateClient.
 */
#include <string.h>

#include "smdp_server_internal.h"

static bool listed(const sgp32_bytes *items, size_t count, sgp32_bytes pkid)
{
    for (size_t i = 0; i < count; i++)
        if (sgp32_bytes_equal(items[i], pkid))
            return true;
    return false;
}

static void fail(sgp32_smdp_es9_response *resp, const char *subject, const char *reason, int64_t code,
                 const char *msg)
{
    sgp32_smdp_status_set(&resp->status, subject, reason, msg);
    resp->asn1_error = code;
}

int sgp32_smdp_es9_initiate_authentication(const sgp32_smdp_server *srv, const sgp32_smdp_es9_request *req,
                                           sgp32_smdp_es9_response *resp)
{
    if (!srv || !req || !resp)
        return SGP32_ERR_INVALID_ARGUMENT;
    if (!server_address_ok(srv, req->smdp_address)) {
        server_log(SGP32_LOG_WARN, NULL, NULL, "initiateAuthentication: smdpAddress '%s' is not ours",
                   req->smdp_address);
        fail(resp, "8.8.1", "3.8", 1, "invalid SM-DP+ address");
        return SGP32_OK;
    }
    sgp32_arena arena;
    sgp32_arena_init(&arena, 8 * 1024);
    sgp32_euicc_info1 info;
    memset(&info, 0, sizeof(info));
    int decoded = sgp32_asn1_decode(&sgp32_type_euicc_info1, req->der.data, req->der.len, &arena, &info);
    int rc = SGP32_OK;
    size_t chosen = SIZE_MAX;
    if (decoded) {
        fail(resp, "1.6", "2.1", 127, "euiccInfo1 does not decode");
        goto out;
    }
    if (info.svn.len != 3 || info.svn.data[0] != 2) {
        fail(resp, "8.8.3", "3.1", 2, "SVN not supported");
        goto out;
    }
    bool any_signing = false;
    for (size_t i = 0; i < srv->config.credential_count && chosen == SIZE_MAX; i++) {
        sgp32_bytes pkid = server_ci_pkid(srv, i);
        if (!listed(info.euicc_ci_pk_id_list_for_signing.items, info.euicc_ci_pk_id_list_for_signing.count,
                    pkid))
            continue;
        any_signing = true;
        if (listed(info.euicc_ci_pk_id_list_for_verification.items,
                   info.euicc_ci_pk_id_list_for_verification.count, pkid))
            chosen = i;
    }
    if (chosen == SIZE_MAX) {
        if (any_signing)
            fail(resp, "8.8.4", "3.7", 3, "no SM-DP+ certificate chaining to a CI the eUICC verifies");
        else
            fail(resp, "8.8.2", "3.1", 3, "none of the proposed CI public keys is supported");
        goto out;
    }

    sgp32_smdp_session s;
    rc = sgp32_smdp_session_init(&s, &srv->config.credentials[chosen], srv->config.trusted_cis,
                                 req->smdp_address, server_now(srv));
    if (!rc)
        rc = sgp32_smdp_initiate_authentication(&s, req->euicc_challenge);
    sgp32_smdp_session_record rec;
    sgp32_smdp_session_record_init(&rec);
    if (!rc) {
        server_hex(s.transaction_id, s.transaction_id_len, rec.transaction_id);
        rec.credential_index = (int)chosen;
        int64_t ttl = srv->config.session_ttl > 0 ? srv->config.session_ttl : 1800;
        rec.expires = server_now(srv) + ttl;
        rc = server_session_save(srv, &rec, &s);
    }
    if (!rc) {
        memcpy(resp->transaction_id, s.transaction_id, s.transaction_id_len);
        resp->transaction_id_len = s.transaction_id_len;
        rc = sgp32_buf_append(&resp->signed_data, s.server_signed1, s.server_signed1_len);
    }
    if (!rc)
        rc = sgp32_asn1_write_tlv(&resp->signature, 0x5F37, s.server_signature1, SGP32_EC_RAW_SIG_LEN);
    if (!rc)
        rc = sgp32_asn1_write_tlv(&resp->ci_pkid, 0x04, s.ci_pkid, s.ci_pkid_len);
    if (!rc)
        rc = sgp32_buf_append(&resp->certificate, srv->config.credentials[chosen].dpauth_certificate.data,
                              srv->config.credentials[chosen].dpauth_certificate.len);
    if (!rc)
        server_log(SGP32_LOG_INFO, rec.transaction_id, NULL, "initiateAuthentication: session opened (%s)",
                   sgp32_curve_name(s.dppb_curve));
    sgp32_smdp_session_record_free(&rec);
    sgp32_smdp_session_clear(&s);
out:
    sgp32_arena_free(&arena);
    return rc;
}

/*
 * GetBoundProfilePackage, the SM-DP+ side (SGP.22 §5.6.2, §2.5.4, §2.6.4, §5.5; NOTES §6.1,
 * §6.2 step 5, §7): check the eUICC's PrepareDownloadResponse, then bind the profile.
 *
 * BF36 {BF23 {82 01 01, 80 txid, A6 {80 01 88, 81 01 10, 84 hostId}, 5F49 otPK.DP, 5F37 smdpSign},
 *       A0 {87 ConfigureISDP BF24}, A1 {88 StoreMetadata BF25 ...}, [A2 {87 ReplaceSessionKeys BF26}],
 *       A3 {86 UPP ...}}
 *
 * Segment sizes: every 87/88/86 TLV is at most segment_max bytes including its tag, length and
 * 8-byte MAC (SGP.22's 1020 by default). An encrypted segment of 1020 bytes is 86 82 03 F8 with
 * 1008 bytes of ciphertext (1007 plaintext bytes and the 80 padding byte) and the MAC; a MAC-only
 * 88 of 1020 bytes carries 1008 plaintext bytes. The UPP and the metadata are cut at arbitrary
 * byte boundaries.
 */
#include <string.h>

#include "smdp_internal.h"

enum { HOST_ID_MAX = 16 };

static const uint8_t default_host_id[] = "sgp32-smdp";

/* The wire size of one segment carrying plain bytes. */
static size_t segment_size(size_t plain, bool encrypt)
{
    size_t value = (encrypt ? (plain / SGP32_AES_BLOCK + 1) * SGP32_AES_BLOCK : plain) + SGP32_SCP03T_MAC_LEN;
    return 1 + sgp32_asn1_length_len(value) + value;
}

/* The most plaintext bytes a segment of at most max bytes can carry. */
static size_t plain_per_segment(size_t max, bool encrypt)
{
    size_t p = max;
    while (p > 0 && segment_size(p, encrypt) > max)
        p--;
    return p;
}

static int protect_all(sgp32_bsp *bsp, uint8_t tag, bool encrypt, sgp32_bytes data, size_t segment_max,
                       sgp32_buf *out)
{
    size_t chunk = plain_per_segment(segment_max, encrypt);
    size_t pos = 0;
    int rc = SGP32_OK;
    do { /* at least one segment, also for empty data */
        size_t n = data.len - pos < chunk ? data.len - pos : chunk;
        rc = sgp32_bsp_protect(bsp, tag, encrypt, data.data + pos, n, out);
        pos += n;
    } while (!rc && pos < data.len);
    return rc;
}

static int check_response(sgp32_smdp_session *s, const sgp32_sgp32_prepare_download_response *r,
                          sgp32_smdp_check *check)
{
    if (r->choice == SGP32_SGP32_PREPARE_DOWNLOAD_RESPONSE_DOWNLOAD_RESPONSE_ERROR) {
        check->euicc_error = r->u.download_response_error.download_error_code;
        return smdp_refuse(s, check, SGP32_SMDP_EUICC_ERROR, 0, "PrepareDownloadResponse (eUICC error)");
    }
    if (r->choice != SGP32_SGP32_PREPARE_DOWNLOAD_RESPONSE_DOWNLOAD_RESPONSE_OK)
        return smdp_refuse(s, check, SGP32_SMDP_MALFORMED, SGP32_ERR_UNSUPPORTED,
                           "PrepareDownloadResponse (compact form)");
    const sgp32_prepare_download_response_ok *ok = &r->u.download_response_ok;
    const sgp32_euicc_signed2 *signed2 = &ok->euicc_signed2;
    if (!smdp_txid_is(s, signed2->transaction_id))
        return smdp_refuse(s, check, SGP32_SMDP_TRANSACTION_MISMATCH, 0, "euiccSigned2");
    static const uint8_t sig_header[3] = {0x5F, 0x37, 0x40};
    const sgp32_bytes parts[] = {signed2->der, {sig_header, 3}, {s->smdp_signature2, SGP32_EC_RAW_SIG_LEN}};
    if (ok->euicc_signature2.len != SGP32_EC_RAW_SIG_LEN ||
        sgp32_ecdsa_verify(&s->euicc_key, parts, 3, ok->euicc_signature2.data) != SGP32_OK)
        return smdp_refuse(s, check, SGP32_SMDP_SIGNATURE_INVALID, 0, "euiccSignature2");
    if (s->cc_required && !signed2->has_hash_cc)
        return smdp_refuse(s, check, SGP32_SMDP_CONFIRMATION_CODE_MISSING, 0, "euiccSigned2");
    if (s->cc_required && !sgp32_bytes_equal(signed2->hash_cc, SGP32_BYTES(s->hash_cc, SGP32_SHA256_LEN)))
        return smdp_refuse(s, check, SGP32_SMDP_CONFIRMATION_CODE_REFUSED, 0, "euiccSigned2");
    sgp32_ec_public_key otpk = {s->dppb_curve, {0}};
    if (signed2->euicc_otpk.len != SGP32_EC_POINT_LEN)
        return smdp_refuse(s, check, SGP32_SMDP_OTPK_INVALID, 0, "otPK.EUICC");
    memcpy(otpk.point, signed2->euicc_otpk.data, SGP32_EC_POINT_LEN);
    if (sgp32_ec_public_validate(&otpk) != SGP32_OK)
        return smdp_refuse(s, check, SGP32_SMDP_OTPK_INVALID, 0, "otPK.EUICC");
    s->euicc_otpk = otpk;
    return SGP32_OK;
}

/* BF23, signed over its value before 5F37 || 5F 49 41 otPK.EUICC. */
static int write_bf23(const sgp32_smdp_session *s, sgp32_bytes host_id, const sgp32_ec_public_key *otpk_dp,
                      sgp32_buf *out)
{
    size_t mark = sgp32_asn1_begin(out);
    int rc = sgp32_asn1_write_integer(out, 0x82, 1); /* installBoundProfilePackage */
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, 0x80, s->transaction_id, s->transaction_id_len);
    size_t crt = sgp32_asn1_begin(out);
    static const uint8_t key_type = 0x88, key_len = 0x10;
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, 0x80, &key_type, 1);
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, 0x81, &key_len, 1);
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, 0x84, host_id.data, host_id.len);
    if (!rc)
        rc = sgp32_asn1_end(out, 0xA6, crt);
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, 0x5F49, otpk_dp->point, SGP32_EC_POINT_LEN);
    uint8_t sig[SGP32_EC_RAW_SIG_LEN];
    if (!rc) {
        static const uint8_t otpk_header[3] = {0x5F, 0x49, 0x41};
        const sgp32_bytes parts[] = {
            {out->data + mark, out->len - mark}, {otpk_header, 3}, {s->euicc_otpk.point, SGP32_EC_POINT_LEN}};
        rc = sgp32_ecdsa_sign(&s->credentials->dppb_key, parts, 3, sig);
    }
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, 0x5F37, sig, sizeof(sig));
    if (!rc)
        rc = sgp32_asn1_end(out, SGP32_TAG_INITIALISE_SECURE_CHANNEL_REQUEST, mark);
    return rc;
}

static int write_sequence(sgp32_bsp *bsp, uint32_t container, uint8_t tag, bool encrypt, sgp32_bytes data,
                          size_t segment_max, sgp32_buf *out)
{
    size_t mark = sgp32_asn1_begin(out);
    int rc = protect_all(bsp, tag, encrypt, data, segment_max, out);
    return rc ? rc : sgp32_asn1_end(out, container, mark);
}

static int build(sgp32_smdp_session *s, const sgp32_smdp_bpp_params *p, sgp32_buf *out)
{
    sgp32_bytes host_id =
        p->host_id.len ? p->host_id : SGP32_BYTES(default_host_id, sizeof(default_host_id) - 1);
    size_t segment_max = p->segment_max ? p->segment_max : SGP32_SMDP_SEGMENT_MAX;
    if (host_id.len > HOST_ID_MAX || segment_max < SGP32_SMDP_SEGMENT_MIN || !p->metadata.data ||
        !p->upp.data)
        return SGP32_ERR_INVALID_ARGUMENT;

    sgp32_ec_private_key otsk;
    sgp32_ec_public_key otpk;
    uint8_t z[SGP32_EC_SCALAR_LEN], ppk[3 * SGP32_AES_BLOCK], small[160];
    sgp32_bsp_keys keys;
    sgp32_bsp bsp;
    memset(&bsp, 0, sizeof(bsp));
    int rc = sgp32_ec_generate(s->dppb_curve, &otsk, &otpk);
    if (!rc)
        rc = sgp32_ecka(&otsk, &s->euicc_otpk, z);
    if (!rc)
        rc = sgp32_bsp_derive_keys(z, host_id.data, host_id.len, s->eid, &keys);
    if (!rc)
        sgp32_bsp_init(&bsp, &keys);

    size_t bpp = sgp32_asn1_begin(out);
    if (!rc)
        rc = write_bf23(s, host_id, &otpk, out);

    /* ConfigureISDP BF24 {[B8 DpProprietaryData {dpOid}]}: the schema's automatic tags make dpOid
     * [0] (80), not the 06 of NOTES §7; the module is authoritative (NOTES §0). */
    sgp32_buf cmd;
    sgp32_buf_init_fixed(&cmd, small, sizeof(small));
    sgp32_configure_isdp_request configure;
    memset(&configure, 0, sizeof(configure));
    configure.has_dp_proprietary_data = p->dp_oid_in_configure_isdp;
    configure.dp_proprietary_data.dp_oid = SGP32_BYTES(s->smdp_oid, s->smdp_oid_len);
    if (!rc)
        rc = sgp32_asn1_encode(&sgp32_type_configure_isdp_request, &configure, &cmd);
    if (!rc)
        rc = write_sequence(&bsp, 0xA0, 0x87, true, sgp32_buf_bytes(&cmd), segment_max, out);

    if (!rc)
        rc = write_sequence(&bsp, 0xA1, 0x88, false, p->metadata, segment_max, out);

    if (!rc && p->replace_session_keys) {
        /* BF26 {04 initialMacChainingValue, 04 ppkEnc, 04 ppkCmac}, random PPKs */
        rc = sgp32_random_bytes(ppk, sizeof(ppk));
        sgp32_replace_session_keys_request replace = {
            .initial_mac_chaining_value = {ppk, SGP32_AES_BLOCK},
            .ppk_enc = {ppk + SGP32_AES_BLOCK, SGP32_AES_BLOCK},
            .ppk_cmac = {ppk + 2 * SGP32_AES_BLOCK, SGP32_AES_BLOCK},
        };
        sgp32_buf_reset(&cmd);
        if (!rc)
            rc = sgp32_asn1_encode(&sgp32_type_replace_session_keys_request, &replace, &cmd);
        if (!rc)
            rc = write_sequence(&bsp, 0xA2, 0x87, true, sgp32_buf_bytes(&cmd), segment_max, out);
        if (!rc)
            sgp32_bsp_rekey(&bsp, ppk + SGP32_AES_BLOCK, ppk + 2 * SGP32_AES_BLOCK, ppk);
    }

    if (!rc)
        rc = write_sequence(&bsp, 0xA3, 0x86, true, p->upp, segment_max, out);
    if (!rc)
        rc = sgp32_asn1_end(out, SGP32_TAG_BOUND_PROFILE_PACKAGE, bpp);

    sgp32_secure_zero(&otsk, sizeof(otsk));
    sgp32_secure_zero(z, sizeof(z));
    sgp32_secure_zero(&keys, sizeof(keys));
    sgp32_secure_zero(ppk, sizeof(ppk));
    sgp32_secure_zero(small, sizeof(small));
    sgp32_bsp_clear(&bsp);
    return rc;
}

int sgp32_smdp_get_bound_profile_package(sgp32_smdp_session *s, const uint8_t *response, size_t len,
                                         const sgp32_smdp_bpp_params *params, sgp32_buf *out,
                                         sgp32_smdp_check *check)
{
    if (!s || !response || !params || !out || !check)
        return SGP32_ERR_INVALID_ARGUMENT;
    memset(check, 0, sizeof(*check));
    if (s->phase != SGP32_SMDP_CLIENT_OK)
        return SGP32_ERR_STATE;
    sgp32_arena arena;
    sgp32_arena_init(&arena, 4 * 1024);
    sgp32_sgp32_prepare_download_response r;
    memset(&r, 0, sizeof(r));
    int decoded = sgp32_asn1_decode(&sgp32_type_sgp32_prepare_download_response, response, len, &arena, &r);
    int rc = decoded ? smdp_refuse(s, check, SGP32_SMDP_MALFORMED, decoded, "PrepareDownloadResponse")
                     : check_response(s, &r, check);
    sgp32_arena_free(&arena);
    if (!rc && check->verdict == SGP32_SMDP_ACCEPTED) {
        size_t before = out->len;
        rc = build(s, params, out);
        if (rc)
            out->len = before;
        else
            s->phase = SGP32_SMDP_BPP_BOUND;
    }
    return rc;
}

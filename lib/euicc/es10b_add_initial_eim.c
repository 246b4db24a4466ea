/*
 * ES10b.AddInitialEim (SGP.32 §5.9.4, procedure §3.5.2): BF57 { A0 { 30 EimConfigurationData.. } }
 * -> BF57 { A0 { 84 associationToken | 05 00 addOk, one per eIM } } or BF57 { 81 error }:
 * insufficientMemory 1, associatedEimAlreadyExists 2, ciPKUnknown 3, invalidAssociationToken 5,
 * counterValueOutOfRange 6, commandError 7, undefinedError 127.
 *
 * Why it is strict: this unsigned, local command decides who may manage the card, so it is
 * accepted only while no eIM is associated (again after a memory reset with resetEimConfigData or
 * after the last eIM was deleted), and only for entries the card can use: a counterValue (the
 * replay floor) and an eimPublicKeyData (the key that verifies every package) are required
 * (NOTES §8.7), the key must be an EC key on a curve the card supports (from the SPKI, or from
 * the certificate), and euiccCiPKId, when given, must name a CI the card signs for (ciPKUnknown,
 * validated since v1.2). The command is all or nothing: one bad entry rejects the whole list.
 * associationToken -1 asks the card to make one (onomondo's convention, NOTES §8.7): a random
 * positive 31-bit value, returned in the answer. Another negative token is invalid. Entries with
 * a token are answered with it, the others with addOk. The new eIMs are written to the NVM
 * before the answer (undefinedError and nothing added when that fails). There is no lenient form
 * to accept: NOTES lists the `01 01`/`04 14` variants only for the lone-component requests.
 */
#include <string.h>

#include "euicc_local.h"

enum { ADD_EIM_ARENA = 64 * 1024 };

static int64_t new_association_token(void)
{
    uint8_t r[4];
    if (sgp32_random_bytes(r, sizeof(r)))
        return -1;
    int64_t token = ((int64_t)(r[0] & 0x7F) << 24) | ((int64_t)r[1] << 16) | ((int64_t)r[2] << 8) | r[3];
    return token ? token : 1;
}

/* The eIM's signature key from eimPublicKeyData (A5 { A0 SPKI | A1 certificate }). */
static int eim_key(const sgp32_eim_configuration_data_eim_public_key_data *data, sgp32_ec_public_key *key)
{
    bool spki = data->choice == SGP32_EIM_CONFIGURATION_DATA_EIM_PUBLIC_KEY_DATA_EIM_PUBLIC_KEY;
    sgp32_bytes as_received = spki ? data->u.eim_public_key : data->u.eim_certificate;
    sgp32_buf der;
    sgp32_buf_init(&der, EUICC_EIM_KEY_DATA_MAX + 16);
    int rc = sgp32_asn1_write_retagged(&der, 0x30, as_received); /* A0/A1 back to SEQUENCE */
    if (!rc && spki) {
        rc = sgp32_ec_public_from_spki(der.data, der.len, key);
    } else if (!rc) {
        sgp32_certificate *cert = sgp32_alloc(sizeof(*cert));
        rc = cert ? sgp32_cert_parse(der.data, der.len, cert) : SGP32_ERR_NO_MEMORY;
        if (!rc)
            *key = cert->public_key;
        if (cert)
            sgp32_free(cert, sizeof(*cert));
    }
    if (!rc)
        rc = sgp32_ec_public_validate(key);
    sgp32_buf_free(&der);
    return rc;
}

/* Check one entry and fill e; returns 0 or an addInitialEimError code. */
static int64_t stage_eim(sgp32_euicc *euicc, const sgp32_eim_configuration_data *cfg, euicc_eim *e)
{
    memset(e, 0, sizeof(*e));
    if (!cfg->has_counter_value || !cfg->has_eim_public_key_data)
        return SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_ERROR_COMMAND_ERROR;
    if (memchr(cfg->eim_id.data, 0, cfg->eim_id.len) ||
        (cfg->has_eim_fqdn && memchr(cfg->eim_fqdn.data, 0, cfg->eim_fqdn.len)))
        return SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_ERROR_COMMAND_ERROR;
    if (cfg->eim_id.len > EUICC_EIM_ID_MAX || (cfg->has_eim_fqdn && cfg->eim_fqdn.len > EUICC_ADDRESS_MAX) ||
        cfg->eim_public_key_data.der.len > EUICC_EIM_KEY_DATA_MAX ||
        (cfg->has_trusted_public_key_data_tls &&
         cfg->trusted_public_key_data_tls.der.len > EUICC_EIM_KEY_DATA_MAX))
        return SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_ERROR_INSUFFICIENT_MEMORY;
    if (cfg->counter_value < 0 || cfg->counter_value > EUICC_COUNTER_MAX)
        return SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_ERROR_COUNTER_VALUE_OUT_OF_RANGE;
    if (cfg->has_association_token && cfg->association_token != -1 &&
        (cfg->association_token < 0 || cfg->association_token > EUICC_COUNTER_MAX))
        return SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_ERROR_INVALID_ASSOCIATION_TOKEN;
    if (cfg->has_euicc_ci_pk_id &&
        (cfg->euicc_ci_pk_id.len > sizeof(e->euicc_ci_pkid) ||
         !euicc_identity_for_ci(euicc, cfg->euicc_ci_pk_id.data, cfg->euicc_ci_pk_id.len)))
        return SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_ERROR_CI_PK_UNKNOWN;
    int rc = eim_key(&cfg->eim_public_key_data, &e->public_key);
    if (rc) {
        sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log, "AddInitialEim: eIM key refused: %s",
                  sgp32_err_str(rc));
        return rc == SGP32_ERR_NO_MEMORY
                   ? SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_ERROR_UNDEFINED_ERROR
                   : SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_ERROR_COMMAND_ERROR;
    }

    memcpy(e->eim_id, cfg->eim_id.data, cfg->eim_id.len);
    if ((e->has_eim_fqdn = cfg->has_eim_fqdn))
        memcpy(e->eim_fqdn, cfg->eim_fqdn.data, cfg->eim_fqdn.len);
    e->has_eim_id_type = cfg->has_eim_id_type;
    e->eim_id_type = cfg->eim_id_type;
    e->counter_value = cfg->counter_value;
    if ((e->has_association_token = cfg->has_association_token)) {
        e->association_token =
            cfg->association_token == -1 ? new_association_token() : cfg->association_token;
        if (e->association_token < 0)
            return SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_ERROR_UNDEFINED_ERROR;
    }
    memcpy(e->public_key_data, cfg->eim_public_key_data.der.data, cfg->eim_public_key_data.der.len);
    e->public_key_data_len = (uint16_t)cfg->eim_public_key_data.der.len;
    if (cfg->has_trusted_public_key_data_tls) {
        memcpy(e->trusted_tls_data, cfg->trusted_public_key_data_tls.der.data,
               cfg->trusted_public_key_data_tls.der.len);
        e->trusted_tls_data_len = (uint16_t)cfg->trusted_public_key_data_tls.der.len;
    }
    e->has_supported_protocol = cfg->has_eim_supported_protocol;
    e->supported_protocol = cfg->eim_supported_protocol;
    if (cfg->has_euicc_ci_pk_id) {
        memcpy(e->euicc_ci_pkid, cfg->euicc_ci_pk_id.data, cfg->euicc_ci_pk_id.len);
        e->euicc_ci_pkid_len = (uint8_t)cfg->euicc_ci_pk_id.len;
    }
    e->indirect_profile_download = cfg->indirect_profile_download;
    return 0;
}

static int write_error(sgp32_euicc *euicc, sgp32_buf *out, int64_t code)
{
    sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log, "AddInitialEim: refused with error %lld",
              (long long)code);
    sgp32_add_initial_eim_response resp = {0};
    resp.choice = SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_ERROR;
    resp.u.add_initial_eim_error = code;
    return sgp32_asn1_encode(&sgp32_type_add_initial_eim_response, &resp, out);
}

int es10b_add_initial_eim(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, ADD_EIM_ARENA);
    sgp32_add_initial_eim_request req = {0};
    int rc = euicc_decode(euicc, &sgp32_type_add_initial_eim_request, request, len, &arena, &req);
    if (rc) {
        sgp32_arena_free(&arena);
        return rc;
    }

    size_t n = req.eim_configuration_data_list.count;
    const sgp32_eim_configuration_data *cfgs = req.eim_configuration_data_list.items;
    int64_t code = 0;
    euicc_eim *staged = NULL;
    if (euicc->state.eim_count > 0)
        code = SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_ERROR_ASSOCIATED_EIM_ALREADY_EXISTS;
    else if (n == 0)
        code = SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_ERROR_COMMAND_ERROR;
    else if (n > EUICC_MAX_EIMS)
        code = SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_ERROR_INSUFFICIENT_MEMORY;
    else if (!(staged = sgp32_alloc(n * sizeof(euicc_eim))))
        code = SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_ERROR_UNDEFINED_ERROR;
    for (size_t i = 0; i < n && !code; i++) {
        code = stage_eim(euicc, &cfgs[i], &staged[i]);
        for (size_t j = 0; j < i && !code; j++)
            if (strcmp(staged[i].eim_id, staged[j].eim_id) == 0)
                code =
                    SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_ERROR_COMMAND_ERROR; /* one eimId twice */
    }

    euicc_change change;
    if (!code && euicc_change_begin(euicc, &change) != SGP32_OK)
        code = SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_ERROR_UNDEFINED_ERROR;
    if (!code) {
        memcpy(euicc->state.eims, staged, n * sizeof(euicc_eim));
        euicc->state.eim_count = (uint8_t)n;
        if (euicc_change_commit(euicc, &change) != SGP32_OK)
            code = SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_ERROR_UNDEFINED_ERROR;
    }

    if (code) {
        rc = write_error(euicc, out, code);
    } else {
        sgp32_add_initial_eim_response_add_initial_eim_ok_item items[EUICC_MAX_EIMS];
        memset(items, 0, sizeof(items));
        for (size_t i = 0; i < n; i++) {
            const euicc_eim *e = &euicc->state.eims[i];
            items[i].choice = e->has_association_token
                                  ? SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_OK_ITEM_ASSOCIATION_TOKEN
                                  : SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_OK_ITEM_ADD_OK;
            items[i].u.association_token = e->association_token;
            sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log,
                      "AddInitialEim: eIM \"%s\" associated (counter %lld, %s key%s)", e->eim_id,
                      (long long)e->counter_value, sgp32_curve_name(e->public_key.curve),
                      e->has_association_token ? ", with an association token" : "");
        }
        sgp32_add_initial_eim_response resp = {0};
        resp.choice = SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_OK;
        resp.u.add_initial_eim_ok.items = items;
        resp.u.add_initial_eim_ok.count = n;
        rc = sgp32_asn1_encode(&sgp32_type_add_initial_eim_response, &resp, out);
    }
    if (staged) {
        sgp32_secure_zero(staged, n * sizeof(euicc_eim));
        sgp32_free(staged, n * sizeof(euicc_eim));
    }
    sgp32_arena_free(&arena);
    return rc;
}

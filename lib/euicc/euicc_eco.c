/*
 * eIM Configuration Operations inside an eUICC package (SGP.32 §2.11.1.1,
 * §2.11.2.1, §3.5; NOTES §8.1, §8.2): addEim (result A8 {84 token | 02 code}),
 * deleteEim (89), updateEim (8A), listEim (AB {A0 {30 {80 eimId, [82 type]}...}}).
 *
 * Decisions where the spec text we have is silent (see docs/euicc-packages.md):
 *  - associationToken in addEim: -1 asks the eUICC to generate one (onomondo's
 *    convention, as AddInitialEim), a value outside -1..EUICC_COUNTER_MAX is
 *    invalidAssociationToken, others are taken as given; absent means the eIM has no token
 *    (addEimResultCode ok, signatures then use 84 01 00). A generated token is a random
 *    value in 1..2^31-1 that no other eIM holds.
 *  - counterValue is optional in addEim (the new eIM starts at 0): unlike AddInitialEim the
 *    package is already signed by an associated eIM.
 *  - eimPublicKeyData is required to add an eIM (nothing could verify its packages
 *    otherwise): absent or unusable is commandError.
 *  - deleteEim of the last eIM deletes it and answers lastEimDeleted(2); that is not a
 *    failure (AddInitialEim is possible again).
 *  - updateEim changes the fields present and keeps the others; a negative token, a bad
 *    key or data too large for the card is commandError.
 */
#include <string.h>

#include "euicc_package.h"

/* The eIM key from eimPublicKeyData: A5 {A0 SPKI-content} or A5 {A1 certificate-content}. */
static int parse_key(const sgp32_eim_configuration_data_eim_public_key_data *data, sgp32_ec_public_key *key)
{
    uint8_t storage[EUICC_EIM_KEY_DATA_MAX];
    sgp32_buf plain;
    sgp32_buf_init_fixed(&plain, storage, sizeof(storage));
    bool certificate = data->choice == SGP32_EIM_CONFIGURATION_DATA_EIM_PUBLIC_KEY_DATA_EIM_CERTIFICATE;
    int rc = sgp32_asn1_write_retagged(&plain, 0x30,
                                       certificate ? data->u.eim_certificate : data->u.eim_public_key);
    if (rc)
        return rc;
    if (!certificate) {
        rc = sgp32_ec_public_from_spki(plain.data, plain.len, key);
    } else {
        sgp32_certificate *cert = sgp32_alloc(sizeof(*cert));
        if (!cert)
            return SGP32_ERR_NO_MEMORY;
        rc = sgp32_cert_parse(plain.data, plain.len, cert);
        if (!rc)
            *key = cert->public_key;
        sgp32_free(cert, sizeof(*cert));
    }
    return rc ? rc : sgp32_ec_public_validate(key);
}

static bool ci_known(const sgp32_euicc *euicc, const sgp32_eim_configuration_data *c)
{
    return !c->has_euicc_ci_pk_id ||
           (c->euicc_ci_pk_id.len <= sizeof(((euicc_eim *)0)->euicc_ci_pkid) &&
            euicc_identity_for_ci(euicc, c->euicc_ci_pk_id.data, c->euicc_ci_pk_id.len));
}

static bool counter_in_range(const sgp32_eim_configuration_data *c)
{
    return !c->has_counter_value || (c->counter_value >= 0 && c->counter_value <= EUICC_COUNTER_MAX);
}

/* Whether the fields fit the card's storage (kept as C strings: no NUL inside). */
static bool fits(const sgp32_eim_configuration_data *c)
{
    return !memchr(c->eim_id.data, 0, c->eim_id.len) &&
           (!c->has_eim_fqdn ||
            (c->eim_fqdn.len <= EUICC_ADDRESS_MAX && !memchr(c->eim_fqdn.data, 0, c->eim_fqdn.len))) &&
           (!c->has_eim_public_key_data || c->eim_public_key_data.der.len <= EUICC_EIM_KEY_DATA_MAX) &&
           (!c->has_trusted_public_key_data_tls ||
            c->trusted_public_key_data_tls.der.len <= EUICC_EIM_KEY_DATA_MAX);
}

/* Copy the present fields (checked before) into e. */
static void apply(euicc_eim *e, const sgp32_eim_configuration_data *c, const sgp32_ec_public_key *key)
{
    if (c->has_eim_fqdn) {
        memset(e->eim_fqdn, 0, sizeof(e->eim_fqdn));
        memcpy(e->eim_fqdn, c->eim_fqdn.data, c->eim_fqdn.len);
        e->has_eim_fqdn = true;
    }
    if (c->has_eim_id_type) {
        e->has_eim_id_type = true;
        e->eim_id_type = c->eim_id_type;
    }
    if (c->has_counter_value)
        e->counter_value = c->counter_value;
    if (c->has_eim_public_key_data) {
        e->public_key = *key;
        memcpy(e->public_key_data, c->eim_public_key_data.der.data, c->eim_public_key_data.der.len);
        e->public_key_data_len = (uint16_t)c->eim_public_key_data.der.len;
    }
    if (c->has_trusted_public_key_data_tls) {
        memcpy(e->trusted_tls_data, c->trusted_public_key_data_tls.der.data,
               c->trusted_public_key_data_tls.der.len);
        e->trusted_tls_data_len = (uint16_t)c->trusted_public_key_data_tls.der.len;
    }
    if (c->has_eim_supported_protocol) {
        e->has_supported_protocol = true;
        e->supported_protocol = c->eim_supported_protocol;
    }
    if (c->has_euicc_ci_pk_id) {
        memcpy(e->euicc_ci_pkid, c->euicc_ci_pk_id.data, c->euicc_ci_pk_id.len);
        e->euicc_ci_pkid_len = (uint8_t)c->euicc_ci_pk_id.len;
    }
    if (c->indirect_profile_download)
        e->indirect_profile_download = true;
}

static int generate_token(const sgp32_euicc *euicc, int64_t *token)
{
    for (int attempt = 0; attempt < 16; attempt++) {
        uint8_t r[4];
        int rc = sgp32_random_bytes(r, sizeof(r));
        if (rc)
            return rc;
        int64_t t = (int64_t)(((uint32_t)r[0] << 24 | (uint32_t)r[1] << 16 | (uint32_t)r[2] << 8 | r[3]) &
                              0x7FFFFFFF);
        bool used = t == 0;
        for (size_t i = 0; i < euicc->state.eim_count && !used; i++)
            used = euicc->state.eims[i].has_association_token && euicc->state.eims[i].association_token == t;
        if (!used) {
            *token = t;
            return SGP32_OK;
        }
    }
    return SGP32_ERR_CRYPTO;
}

static int write_add_result(euicc_package_run *run, bool token_result, int64_t value, bool *failed)
{
    *failed = !token_result && value != SGP32_ADD_EIM_RESULT_ADD_EIM_RESULT_CODE_OK;
    size_t m = sgp32_asn1_begin(&run->results);
    int rc = sgp32_asn1_write_integer(&run->results, token_result ? 0x84 : 0x02, value);
    return rc ? rc : sgp32_asn1_end(&run->results, 0xA8, m);
}

static int add_eim(euicc_package_run *run, const sgp32_eim_configuration_data *c, bool *failed)
{
    sgp32_euicc *euicc = run->euicc;
    euicc_state *s = &euicc->state;
    sgp32_ec_public_key key;
    int64_t code = SGP32_ADD_EIM_RESULT_ADD_EIM_RESULT_CODE_OK;
    if (euicc_find_eim(euicc, c->eim_id.data, c->eim_id.len))
        code = SGP32_ADD_EIM_RESULT_ADD_EIM_RESULT_CODE_ASSOCIATED_EIM_ALREADY_EXISTS;
    else if (s->eim_count == EUICC_MAX_EIMS || c->eim_id.len > EUICC_EIM_ID_MAX || !fits(c))
        code = SGP32_ADD_EIM_RESULT_ADD_EIM_RESULT_CODE_INSUFFICIENT_MEMORY;
    else if (!ci_known(euicc, c))
        code = SGP32_ADD_EIM_RESULT_ADD_EIM_RESULT_CODE_CI_PK_UNKNOWN;
    else if (!counter_in_range(c))
        code = SGP32_ADD_EIM_RESULT_ADD_EIM_RESULT_CODE_COUNTER_VALUE_OUT_OF_RANGE;
    else if (c->has_association_token &&
             (c->association_token < -1 || c->association_token > EUICC_COUNTER_MAX))
        code = SGP32_ADD_EIM_RESULT_ADD_EIM_RESULT_CODE_INVALID_ASSOCIATION_TOKEN;
    else if (!c->has_eim_public_key_data || parse_key(&c->eim_public_key_data, &key) != SGP32_OK)
        code = SGP32_ADD_EIM_RESULT_ADD_EIM_RESULT_CODE_COMMAND_ERROR;
    if (code)
        return write_add_result(run, false, code, failed);
    int64_t token = c->has_association_token ? c->association_token : 0;
    if (token == -1) {
        int rc = generate_token(euicc, &token);
        if (rc)
            return rc;
    }
    euicc_eim *e = &s->eims[s->eim_count++];
    memset(e, 0, sizeof(*e));
    memcpy(e->eim_id, c->eim_id.data, c->eim_id.len);
    e->has_association_token = c->has_association_token;
    e->association_token = token;
    apply(e, c, &key);
    sgp32_log(SGP32_LOG_INFO, SGP32_LOG_EUICC, &euicc->log, "eIM %s added", e->eim_id);
    return c->has_association_token ? write_add_result(run, true, token, failed)
                                    : write_add_result(run, false, code, failed);
}

static int update_eim(euicc_package_run *run, const sgp32_eim_configuration_data *c, bool *failed)
{
    euicc_eim *e = euicc_find_eim(run->euicc, c->eim_id.data, c->eim_id.len);
    sgp32_ec_public_key key;
    int64_t code = SGP32_UPDATE_EIM_RESULT_OK;
    if (!e)
        code = SGP32_UPDATE_EIM_RESULT_EIM_NOT_FOUND;
    else if (!ci_known(run->euicc, c))
        code = SGP32_UPDATE_EIM_RESULT_CI_PK_UNKNOWN;
    else if (!counter_in_range(c))
        code = SGP32_UPDATE_EIM_RESULT_COUNTER_VALUE_OUT_OF_RANGE;
    else if (!fits(c) ||
             (c->has_association_token &&
              (c->association_token < 0 || c->association_token > EUICC_COUNTER_MAX)) ||
             (c->has_eim_public_key_data && parse_key(&c->eim_public_key_data, &key) != SGP32_OK))
        code = SGP32_UPDATE_EIM_RESULT_COMMAND_ERROR;
    if (!code) {
        if (c->has_association_token) {
            e->has_association_token = true;
            e->association_token = c->association_token;
        }
        apply(e, c, &key);
    }
    *failed = code != 0;
    return sgp32_asn1_write_integer(&run->results, 0x8A, code);
}

static int delete_eim(euicc_package_run *run, const sgp32_eco_delete_eim *op, bool *failed)
{
    euicc_state *s = &run->euicc->state;
    euicc_eim *e = euicc_find_eim(run->euicc, op->eim_id.data, op->eim_id.len);
    int64_t code = SGP32_DELETE_EIM_RESULT_EIM_NOT_FOUND;
    if (e) {
        size_t index = (size_t)(e - s->eims);
        sgp32_log(SGP32_LOG_INFO, SGP32_LOG_EUICC, &run->euicc->log, "eIM %s deleted", e->eim_id);
        memmove(&s->eims[index], &s->eims[index + 1], (s->eim_count - index - 1) * sizeof(euicc_eim));
        s->eim_count--;
        memset(&s->eims[s->eim_count], 0, sizeof(euicc_eim));
        code = s->eim_count ? SGP32_DELETE_EIM_RESULT_OK : SGP32_DELETE_EIM_RESULT_LAST_EIM_DELETED;
    }
    *failed = code == SGP32_DELETE_EIM_RESULT_EIM_NOT_FOUND;
    return sgp32_asn1_write_integer(&run->results, 0x89, code);
}

/* ListEimResult [11] is an explicit CHOICE: AB {A0 {EimIdInfo...}}. */
static int list_eim(euicc_package_run *run, bool *failed)
{
    const euicc_state *s = &run->euicc->state;
    sgp32_buf *out = &run->results;
    size_t outer = sgp32_asn1_begin(out), list = sgp32_asn1_begin(out);
    int rc = SGP32_OK;
    for (size_t i = 0; i < s->eim_count && !rc; i++) {
        const euicc_eim *e = &s->eims[i];
        size_t m = sgp32_asn1_begin(out);
        rc = sgp32_asn1_write_tlv(out, 0x80, (const uint8_t *)e->eim_id, strlen(e->eim_id));
        /* eimIdType is present for the OID and FQDN types only. */
        if (!rc && e->has_eim_id_type &&
            (e->eim_id_type == SGP32_EIM_ID_TYPE_EIM_ID_TYPE_OID ||
             e->eim_id_type == SGP32_EIM_ID_TYPE_EIM_ID_TYPE_FQDN))
            rc = sgp32_asn1_write_integer(out, 0x82, e->eim_id_type);
        if (!rc)
            rc = sgp32_asn1_end(out, 0x30, m);
    }
    if (!rc)
        rc = sgp32_asn1_end(out, 0xA0, list);
    if (!rc)
        rc = sgp32_asn1_end(out, 0xAB, outer);
    *failed = false;
    return rc;
}

int euicc_eco_execute(euicc_package_run *run, const sgp32_eco *eco, bool *failed)
{
    switch (eco->choice) {
    case SGP32_ECO_ADD_EIM: return add_eim(run, &eco->u.add_eim, failed);
    case SGP32_ECO_DELETE_EIM: return delete_eim(run, &eco->u.delete_eim, failed);
    case SGP32_ECO_UPDATE_EIM: return update_eim(run, &eco->u.update_eim, failed);
    case SGP32_ECO_LIST_EIM: return list_eim(run, failed);
    default:
        *failed = true;
        return sgp32_asn1_write_integer(
            &run->results, 0x02, SGP32_EUICC_RESULT_DATA_PROCESSING_TERMINATED_UNKNOWN_OR_DAMAGED_COMMAND);
    }
}

/*
 * The software eUICC's life cycle and the helpers its ES10 functions share:
 * opening (load the state or "manufacture" the card), identities and signing,
 * profiles, the pending list of signed notifications and package results.
 */
#include <stdio.h>
#include <string.h>

#include "euicc_internal.h"
#include "sgp32/eid.h"

static int load_state(sgp32_euicc *euicc)
{
    sgp32_buf blob;
    sgp32_buf_init(&blob, 4u << 20);
    int rc = euicc->config.store.load(euicc->config.store.ctx, "state", &blob);
    if (rc == SGP32_ERR_NOT_FOUND) {
        sgp32_buf_free(&blob);
        sgp32_log(SGP32_LOG_INFO, SGP32_LOG_EUICC, &euicc->log, "no stored state: manufacturing a new card");
        rc = euicc_state_manufacture(euicc);
        return rc ? rc : euicc_state_save(euicc);
    }
    if (rc == SGP32_OK)
        rc = euicc_state_decode(blob.data, blob.len, &euicc->state);
    if (rc)
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_EUICC, &euicc->log, "cannot load the stored state: %s",
                  sgp32_err_str(rc));
    sgp32_buf_free(&blob);
    return rc;
}

int sgp32_euicc_open(const sgp32_euicc_config *config, sgp32_euicc **out)
{
    if (!config || !out || config->identity_count == 0 ||
        config->identity_count > SGP32_EUICC_MAX_IDENTITIES ||
        config->trusted_ci_count > SGP32_EUICC_MAX_TRUSTED_CIS || !config->store.load || !config->store.save)
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_euicc *e = sgp32_alloc(sizeof(*e));
    if (!e)
        return SGP32_ERR_NO_MEMORY;
    e->config = *config;
    e->store_data_channel = -1;
    e->pending_channel = -1;
    e->channel_open[0] = true; /* the basic channel is always open */
    sgp32_buf_init(&e->store_data, EUICC_REQUEST_MAX);
    sgp32_buf_init(&e->pending_response, EUICC_RESPONSE_MAX);
    sgp32_ci_set_init(&e->trusted_cis);
    int rc = SGP32_OK;
    for (size_t i = 0; i < config->trusted_ci_count && !rc; i++)
        rc = sgp32_ci_set_add(&e->trusted_cis, config->trusted_cis[i].data, config->trusted_cis[i].len);
    for (size_t i = 0; i < config->identity_count && !rc; i++) {
        const sgp32_euicc_identity *id = &config->identities[i];
        rc = sgp32_cert_parse(id->euicc_certificate.data, id->euicc_certificate.len, &e->identity_certs[i]);
        if (!rc)
            rc = sgp32_cert_parse(id->eum_certificate.data, id->eum_certificate.len,
                                  &e->identity_eum_certs[i]);
        if (!rc && !e->identity_certs[i].has_eid)
            rc = SGP32_ERR_CERT_EXTENSION;
        if (!rc && i > 0 && memcmp(e->identity_certs[i].eid, e->identity_certs[0].eid, 16) != 0)
            rc = SGP32_ERR_CERT_EID_MISMATCH; /* one card, one EID */
    }
    if (rc) {
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_EUICC, NULL, "eUICC identity or trusted CI rejected: %s",
                  sgp32_err_str(rc));
        sgp32_euicc_close(e);
        return rc;
    }
    memcpy(e->eid, e->identity_certs[0].eid, 16);
    sgp32_eid_to_text(e->eid, e->eid_text);
    e->log = (sgp32_log_context){"euicc", e->eid_text, NULL};
    if ((rc = load_state(e)) != SGP32_OK) {
        sgp32_euicc_close(e);
        return rc;
    }
    *out = e;
    return SGP32_OK;
}

void sgp32_euicc_close(sgp32_euicc *euicc)
{
    if (!euicc)
        return;
    euicc_download_end(euicc);
    sgp32_buf_free(&euicc->store_data);
    sgp32_buf_free(&euicc->pending_response);
    sgp32_ci_set_free(&euicc->trusted_cis);
    sgp32_secure_zero(euicc, sizeof(*euicc)); /* the config holds SK.EUICC */
    sgp32_free(euicc, sizeof(*euicc));
}

const uint8_t *sgp32_euicc_eid(const sgp32_euicc *euicc)
{
    return euicc->eid;
}

void sgp32_euicc_reset(sgp32_euicc *euicc)
{
    euicc_download_end(euicc);
    memset(euicc->channel_open, 0, sizeof(euicc->channel_open));
    memset(euicc->isdr_selected, 0, sizeof(euicc->isdr_selected));
    euicc->channel_open[0] = true; /* the basic channel is always there */
    sgp32_buf_reset(&euicc->store_data);
    euicc->store_data_channel = -1;
    sgp32_buf_reset(&euicc->pending_response);
    euicc->pending_offset = 0;
    euicc->pending_channel = -1;
    euicc->has_euicc_challenge = false;
    euicc->has_last_installed = false;
}

int euicc_state_save(sgp32_euicc *euicc)
{
    sgp32_buf blob;
    sgp32_buf_init(&blob, 4u << 20);
    int rc = euicc_state_encode(&euicc->state, &blob);
    if (!rc)
        rc = euicc->config.store.save(euicc->config.store.ctx, "state", blob.data, blob.len);
    if (rc)
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_EUICC, &euicc->log, "state write failed: %s", sgp32_err_str(rc));
    sgp32_buf_free(&blob);
    return rc;
}

/* -------------------------------------------------------------- ICCIDs */

void euicc_iccid_to_text(const uint8_t iccid[10], char out[21])
{
    size_t n = 0;
    for (size_t i = 0; i < 10; i++) {
        uint8_t lo = iccid[i] & 15, hi = iccid[i] >> 4; /* EF.ICCID: low nibble first */
        if (lo <= 9)
            out[n++] = (char)('0' + lo);
        if (hi <= 9)
            out[n++] = (char)('0' + hi);
    }
    out[n] = '\0';
}

int euicc_iccid_from_text(const char *digits, uint8_t iccid[10])
{
    size_t len = digits ? strlen(digits) : 0;
    if (len < 18 || len > 20)
        return SGP32_ERR_BAD_TEXT;
    for (size_t i = 0; i < 10; i++) {
        uint8_t lo = 0xF, hi = 0xF;
        if (2 * i < len) {
            if (digits[2 * i] < '0' || digits[2 * i] > '9')
                return SGP32_ERR_BAD_TEXT;
            lo = (uint8_t)(digits[2 * i] - '0');
        }
        if (2 * i + 1 < len) {
            if (digits[2 * i + 1] < '0' || digits[2 * i + 1] > '9')
                return SGP32_ERR_BAD_TEXT;
            hi = (uint8_t)(digits[2 * i + 1] - '0');
        }
        iccid[i] = (uint8_t)(hi << 4 | lo);
    }
    return SGP32_OK;
}

/* ------------------------------------------------------------- profiles */

euicc_profile *euicc_find_profile_by_iccid(sgp32_euicc *euicc, const uint8_t iccid[10])
{
    for (size_t i = 0; i < euicc->state.profile_count; i++)
        if (memcmp(euicc->state.profiles[i].iccid, iccid, 10) == 0)
            return &euicc->state.profiles[i];
    return NULL;
}

euicc_profile *euicc_find_profile_by_aid(sgp32_euicc *euicc, const uint8_t *aid, size_t aid_len)
{
    for (size_t i = 0; i < euicc->state.profile_count; i++) {
        euicc_profile *p = &euicc->state.profiles[i];
        if (p->aid_len == aid_len && memcmp(p->aid, aid, aid_len) == 0)
            return p;
    }
    return NULL;
}

euicc_profile *euicc_enabled_profile(sgp32_euicc *euicc)
{
    for (size_t i = 0; i < euicc->state.profile_count; i++)
        if (euicc->state.profiles[i].enabled)
            return &euicc->state.profiles[i];
    return NULL;
}

int euicc_remove_profile_elements(sgp32_euicc *euicc, const uint8_t iccid[10])
{
    char digits[21], name[40];
    euicc_iccid_to_text(iccid, digits);
    snprintf(name, sizeof(name), "profile-%s", digits);
    if (!euicc->config.store.remove)
        return SGP32_OK;
    int rc = euicc->config.store.remove(euicc->config.store.ctx, name);
    return rc == SGP32_ERR_NOT_FOUND ? SGP32_OK : rc;
}

void euicc_forget_profile(sgp32_euicc *euicc, euicc_profile *profile)
{
    size_t index = (size_t)(profile - euicc->state.profiles);
    memmove(&euicc->state.profiles[index], &euicc->state.profiles[index + 1],
            (euicc->state.profile_count - index - 1) * sizeof(euicc_profile));
    euicc->state.profile_count--;
    memset(&euicc->state.profiles[euicc->state.profile_count], 0, sizeof(euicc_profile));
}

int euicc_disable_profile(sgp32_euicc *euicc, euicc_profile *profile)
{
    if (!profile->enabled)
        return SGP32_OK;
    profile->enabled = false;
    return euicc_queue_notification(euicc, profile, SGP32_NOTIFICATION_EVENT_NOTIFICATION_DISABLE);
}

void euicc_clear_rollback(sgp32_euicc *euicc)
{
    euicc_state *s = &euicc->state;
    s->rollback_allowed = false;
    s->has_rollback_iccid = false;
    memset(s->rollback_iccid, 0, sizeof(s->rollback_iccid));
    s->rollback_eim_index = 0;
    s->rollback_counter_value = 0;
    s->rollback_transaction_id_len = 0;
    memset(s->rollback_transaction_id, 0, sizeof(s->rollback_transaction_id));
}

int euicc_switch_profile(sgp32_euicc *euicc, euicc_profile *target)
{
    /* Any switch ends a rollback authorisation: the state it would return from is gone
     * (the enable PSMO sets a new one after switching). */
    euicc_clear_rollback(euicc);
    euicc_profile *current = euicc_enabled_profile(euicc);
    int rc = SGP32_OK;
    if (current && current != target)
        rc = euicc_disable_profile(euicc, current);
    if (!rc && !target->enabled) {
        target->enabled = true;
        rc = euicc_queue_notification(euicc, target, SGP32_NOTIFICATION_EVENT_NOTIFICATION_ENABLE);
    }
    return rc;
}

/* ------------------------------------------------------------------ eIMs */

euicc_eim *euicc_find_eim(sgp32_euicc *euicc, const uint8_t *eim_id, size_t eim_id_len)
{
    for (size_t i = 0; i < euicc->state.eim_count; i++) {
        euicc_eim *e = &euicc->state.eims[i];
        if (strlen(e->eim_id) == eim_id_len && memcmp(e->eim_id, eim_id, eim_id_len) == 0)
            return e;
    }
    return NULL;
}

/* ------------------------------------------------------- pending list */

int64_t euicc_next_seq_number(sgp32_euicc *euicc)
{
    return euicc->state.next_seq_number++;
}

int euicc_pending_add(sgp32_euicc *euicc, const euicc_pending *pending)
{
    euicc_state *s = &euicc->state;
    if (s->pending_count == EUICC_MAX_PENDING) {
        /* Make room by dropping the oldest notification; results are kept for their eIM. */
        size_t victim = EUICC_MAX_PENDING;
        for (size_t i = 0; i < s->pending_count && victim == EUICC_MAX_PENDING; i++)
            if (s->pending[i].kind != EUICC_PENDING_PACKAGE_RESULT)
                victim = i;
        if (victim == EUICC_MAX_PENDING)
            return SGP32_ERR_CAPACITY;
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log,
                  "notification list full: dropping seqNumber %lld",
                  (long long)s->pending[victim].seq_number);
        memmove(&s->pending[victim], &s->pending[victim + 1],
                (s->pending_count - victim - 1) * sizeof(euicc_pending));
        s->pending_count--;
    }
    s->pending[s->pending_count++] = *pending;
    return SGP32_OK;
}

int euicc_queue_notification(sgp32_euicc *euicc, const euicc_profile *profile, uint32_t event)
{
    const euicc_notification_config *cfg = NULL;
    for (size_t i = 0; i < profile->notification_config_count && !cfg; i++)
        if (profile->notification_config[i].events & event)
            cfg = &profile->notification_config[i];
    if (!cfg)
        return SGP32_OK; /* the profile owner asked for no notification of this event */

    euicc_pending *n = sgp32_alloc(sizeof(*n));
    if (!n)
        return SGP32_ERR_NO_MEMORY;
    n->seq_number = euicc_next_seq_number(euicc);
    n->kind = EUICC_PENDING_OTHER;
    n->event = event;
    memcpy(n->address, cfg->address, sizeof(n->address));
    memcpy(n->iccid, profile->iccid, 10);
    n->has_iccid = true;

    /* OtherSignedNotification: 30 { BF2F tbs, 5F37 sig, CERT.EUICC, CERT.EUM } (SGP.22 §5.7.9). */
    const sgp32_euicc_identity *id = euicc_identity_for_ci(euicc, NULL, 0);
    sgp32_buf out;
    sgp32_buf_init_fixed(&out, n->der, sizeof(n->der));
    size_t outer = sgp32_asn1_begin(&out), tbs = sgp32_asn1_begin(&out);
    uint8_t sig[SGP32_EC_RAW_SIG_LEN];
    int rc = sgp32_asn1_write_integer(&out, 0x80, n->seq_number);
    if (!rc)
        rc = sgp32_asn1_write_named_bits(&out, 0x81, event);
    if (!rc)
        rc = sgp32_asn1_write_tlv(&out, 0x0C, (const uint8_t *)cfg->address, strlen(cfg->address));
    if (!rc)
        rc = sgp32_asn1_write_tlv(&out, 0x5A, profile->iccid, 10);
    if (!rc)
        rc = sgp32_asn1_end(&out, SGP32_TAG_NOTIFICATION_METADATA, tbs);
    if (!rc) {
        sgp32_bytes part = {out.data + tbs, out.len - tbs};
        rc = euicc_sign(euicc, id, &part, 1, sig);
    }
    if (!rc)
        rc = euicc_write_signature(&out, sig);
    if (!rc)
        rc = sgp32_buf_append(&out, id->euicc_certificate.data, id->euicc_certificate.len);
    if (!rc)
        rc = sgp32_buf_append(&out, id->eum_certificate.data, id->eum_certificate.len);
    if (!rc)
        rc = sgp32_asn1_end(&out, 0x30, outer);
    if (!rc) {
        n->der_len = (uint16_t)out.len;
        rc = euicc_pending_add(euicc, n);
    }
    sgp32_free(n, sizeof(*n));
    return rc;
}

/* -------------------------------------------------------------- signing */

const sgp32_euicc_identity *euicc_identity_for_ci(const sgp32_euicc *euicc, const uint8_t *ci_pkid,
                                                  size_t ci_pkid_len)
{
    for (size_t i = 0; ci_pkid && i < euicc->config.identity_count; i++) {
        /* CERT.EUM's AKI names the CI of the chain. */
        const sgp32_cert_key_id *aki = &euicc->identity_eum_certs[i].aki;
        if (aki->len == ci_pkid_len && memcmp(aki->id, ci_pkid, ci_pkid_len) == 0)
            return &euicc->config.identities[i];
    }
    return ci_pkid ? NULL : &euicc->config.identities[0];
}

int euicc_sign(const sgp32_euicc *euicc, const sgp32_euicc_identity *identity, const sgp32_bytes *parts,
               size_t count, uint8_t signature[SGP32_EC_RAW_SIG_LEN])
{
    (void)euicc;
    return sgp32_ecdsa_sign(&identity->key, parts, count, signature);
}

int euicc_write_signature(sgp32_buf *out, const uint8_t signature[SGP32_EC_RAW_SIG_LEN])
{
    return sgp32_asn1_write_tlv(out, 0x5F37, signature, SGP32_EC_RAW_SIG_LEN);
}

int euicc_decode(sgp32_euicc *euicc, const sgp32_asn1_type *type, const uint8_t *der, size_t len,
                 sgp32_arena *arena, void *out)
{
    sgp32_asn1_diag diag;
    int rc = sgp32_asn1_decode_diag(type, der, len, arena, out, &diag);
    if (rc)
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log, "%s rejected: %s at byte %zu (%s)",
                  type->name, sgp32_err_str(rc), diag.offset, diag.path);
    return rc;
}

/* --------------------------------------------------------- test switches */

int sgp32_euicc_test_set_unable_to_attach(sgp32_euicc *euicc, const char *iccid, bool unable)
{
    uint8_t bytes[10];
    int rc = euicc_iccid_from_text(iccid, bytes);
    if (rc)
        return rc;
    euicc_profile *p = euicc_find_profile_by_iccid(euicc, bytes);
    if (!p)
        return SGP32_ERR_NOT_FOUND;
    p->unable_to_attach = unable;
    return euicc_state_save(euicc);
}

bool sgp32_euicc_test_can_attach(const sgp32_euicc *euicc)
{
    for (size_t i = 0; i < euicc->state.profile_count; i++)
        if (euicc->state.profiles[i].enabled)
            return !euicc->state.profiles[i].unable_to_attach;
    return false;
}

int sgp32_euicc_enabled_iccid(const sgp32_euicc *euicc, char out[21])
{
    for (size_t i = 0; i < euicc->state.profile_count; i++)
        if (euicc->state.profiles[i].enabled) {
            euicc_iccid_to_text(euicc->state.profiles[i].iccid, out);
            return SGP32_OK;
        }
    return SGP32_ERR_NOT_FOUND;
}

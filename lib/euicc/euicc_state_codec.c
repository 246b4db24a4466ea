/*
 * The eUICC's persistent state as bytes: a versioned, field-by-field DER
 * encoding (design principle 9), never a struct dump, so a newer build reads an
 * older file and skips fields it does not know. A trailing SHA-256 detects a
 * damaged file (SGP32_ERR_STORE_CORRUPT); a newer major version is refused
 * (SGP32_ERR_STORE_VERSION) rather than misread.
 *
 *   state  ::= 30 { 80 version, A1 profiles {30 profile..}, A2 eims {30 eim..},
 *                   A3 pending {30 item..}, 84.. scalars, ... } || 04 20 sha256(state)
 */
#include <stdio.h>
#include <string.h>

#include "euicc_internal.h"

/* ---------------------------------------------------------------- writer */

typedef struct writer {
    sgp32_buf *out;
    int rc;
} writer;

static void w_int(writer *w, uint32_t tag, int64_t v)
{
    if (!w->rc)
        w->rc = sgp32_asn1_write_integer(w->out, tag, v);
}

static void w_bool(writer *w, uint32_t tag, bool v)
{
    if (!w->rc && v) /* absent means false */
        w->rc = sgp32_asn1_write_boolean(w->out, tag, true);
}

static void w_bytes(writer *w, uint32_t tag, const uint8_t *p, size_t n)
{
    if (!w->rc)
        w->rc = sgp32_asn1_write_tlv(w->out, tag, p, n);
}

static void w_text(writer *w, uint32_t tag, const char *s)
{
    if (s[0])
        w_bytes(w, tag, (const uint8_t *)s, strlen(s));
}

static size_t w_begin(writer *w)
{
    return sgp32_asn1_begin(w->out);
}

static void w_end(writer *w, uint32_t tag, size_t mark)
{
    if (!w->rc)
        w->rc = sgp32_asn1_end(w->out, tag, mark);
}

static void write_profile(writer *w, const euicc_profile *p)
{
    size_t m = w_begin(w);
    w_bytes(w, 0x80, p->iccid, 10);
    w_bytes(w, 0x81, p->aid, p->aid_len);
    w_bool(w, 0x82, p->enabled);
    w_int(w, 0x83, p->profile_class);
    w_text(w, 0x84, p->nickname);
    w_text(w, 0x85, p->service_provider_name);
    w_text(w, 0x86, p->profile_name);
    if (p->has_icon_type)
        w_int(w, 0x87, p->icon_type);
    if (p->icon_len)
        w_bytes(w, 0x88, p->icon, p->icon_len);
    if (p->has_ppr)
        w_int(w, 0x89, p->ppr);
    if (p->has_owner)
        w_bytes(w, 0x8A, p->owner_mcc_mnc, 3);
    for (size_t i = 0; i < p->notification_config_count; i++) {
        size_t c = w_begin(w);
        w_int(w, 0x80, p->notification_config[i].events);
        w_text(w, 0x81, p->notification_config[i].address);
        w_end(w, 0xAB, c);
    }
    if (p->smdp_oid_len)
        w_bytes(w, 0x8C, p->smdp_oid, p->smdp_oid_len);
    w_bool(w, 0x8D, p->ecall_indication);
    w_bool(w, 0x8E, p->fallback_attribute);
    if (p->has_fallback_allowed)
        w_int(w, 0x8F, p->fallback_allowed);
    w_bool(w, 0x90, p->unable_to_attach);
    w_end(w, 0x30, m);
}

static void write_eim(writer *w, const euicc_eim *e)
{
    size_t m = w_begin(w);
    w_text(w, 0x80, e->eim_id);
    if (e->has_eim_fqdn)
        w_bytes(w, 0x81, (const uint8_t *)e->eim_fqdn, strlen(e->eim_fqdn));
    if (e->has_eim_id_type)
        w_int(w, 0x82, e->eim_id_type);
    w_int(w, 0x83, e->counter_value);
    if (e->has_association_token)
        w_int(w, 0x84, e->association_token);
    w_bytes(w, 0x85, e->public_key.point, SGP32_EC_POINT_LEN);
    w_int(w, 0x86, e->public_key.curve);
    if (e->public_key_data_len)
        w_bytes(w, 0x87, e->public_key_data, e->public_key_data_len);
    if (e->trusted_tls_data_len)
        w_bytes(w, 0x88, e->trusted_tls_data, e->trusted_tls_data_len);
    if (e->has_supported_protocol)
        w_int(w, 0x89, e->supported_protocol);
    if (e->euicc_ci_pkid_len)
        w_bytes(w, 0x8A, e->euicc_ci_pkid, e->euicc_ci_pkid_len);
    w_bool(w, 0x8B, e->indirect_profile_download);
    w_end(w, 0x30, m);
}

static void write_pending(writer *w, const euicc_pending *p)
{
    size_t m = w_begin(w);
    w_int(w, 0x80, p->seq_number);
    w_int(w, 0x81, p->kind);
    w_int(w, 0x82, p->event);
    w_text(w, 0x83, p->address);
    if (p->has_iccid)
        w_bytes(w, 0x84, p->iccid, 10);
    w_bytes(w, 0x85, p->der, p->der_len);
    w_end(w, 0x30, m);
}

int euicc_state_encode(const euicc_state *s, sgp32_buf *out)
{
    writer w = {out, SGP32_OK};
    size_t start = out->len, m = w_begin(&w), list;
    w_int(&w, 0x80, EUICC_STATE_VERSION);
    list = w_begin(&w);
    for (size_t i = 0; i < s->profile_count; i++)
        write_profile(&w, &s->profiles[i]);
    w_end(&w, 0xA1, list);
    list = w_begin(&w);
    for (size_t i = 0; i < s->eim_count; i++)
        write_eim(&w, &s->eims[i]);
    w_end(&w, 0xA2, list);
    list = w_begin(&w);
    for (size_t i = 0; i < s->pending_count; i++)
        write_pending(&w, &s->pending[i]);
    w_end(&w, 0xA3, list);
    w_int(&w, 0x84, s->next_seq_number);
    w_int(&w, 0x85, s->next_isdp_number);
    w_text(&w, 0x86, s->default_dp_address);
    w_text(&w, 0x87, s->root_ds_address);
    w_bool(&w, 0x88, s->immediate_enable_flag);
    if (s->immediate_default_smdp_oid_len)
        w_bytes(&w, 0x89, s->immediate_default_smdp_oid, s->immediate_default_smdp_oid_len);
    if (s->has_immediate_default_smdp_address)
        w_bytes(&w, 0x8A, (const uint8_t *)s->immediate_default_smdp_address,
                strlen(s->immediate_default_smdp_address));
    w_bool(&w, 0x8B, s->rollback_allowed);
    if (s->has_rollback_iccid)
        w_bytes(&w, 0x8C, s->rollback_iccid, 10);
    w_int(&w, 0x8D, s->rollback_eim_index);
    w_int(&w, 0x8E, s->rollback_counter_value);
    if (s->rollback_transaction_id_len)
        w_bytes(&w, 0x8F, s->rollback_transaction_id, s->rollback_transaction_id_len);
    w_bool(&w, 0x90, s->fallback_active);
    if (s->has_fallback_return_iccid)
        w_bytes(&w, 0x91, s->fallback_return_iccid, 10);
    w_bool(&w, 0x92, s->emergency_active);
    if (s->has_emergency_return_iccid)
        w_bytes(&w, 0x93, s->emergency_return_iccid, 10);
    w_end(&w, 0x30, m);
    if (!w.rc) {
        uint8_t digest[SGP32_SHA256_LEN];
        w.rc = sgp32_sha256(out->data + start, out->len - start, digest);
        w_bytes(&w, 0x04, digest, sizeof(digest));
    }
    if (w.rc)
        out->len = start;
    return w.rc;
}

/* ---------------------------------------------------------------- reader */

typedef struct reader {
    sgp32_asn1_reader r;
    sgp32_asn1_tlv t;
    int rc;
} reader;

/* Fixed-size destinations: anything that does not fit means a damaged file. */
static int r_int(const sgp32_asn1_tlv *t, int64_t *v)
{
    return sgp32_asn1_parse_integer(t->value, v) ? SGP32_ERR_STORE_CORRUPT : SGP32_OK;
}

static int r_u32(const sgp32_asn1_tlv *t, uint32_t *v)
{
    int64_t x;
    if (r_int(t, &x) || x < 0 || x > UINT32_MAX)
        return SGP32_ERR_STORE_CORRUPT;
    *v = (uint32_t)x;
    return SGP32_OK;
}

static int r_bool(const sgp32_asn1_tlv *t, bool *v)
{
    return sgp32_asn1_parse_boolean(t->value, v) ? SGP32_ERR_STORE_CORRUPT : SGP32_OK;
}

static int r_fixed(const sgp32_asn1_tlv *t, uint8_t *p, size_t n)
{
    if (t->value.len != n)
        return SGP32_ERR_STORE_CORRUPT;
    memcpy(p, t->value.data, n);
    return SGP32_OK;
}

static int r_var(const sgp32_asn1_tlv *t, uint8_t *p, size_t cap, void *len, size_t len_size)
{
    if (t->value.len > cap)
        return SGP32_ERR_STORE_CORRUPT;
    memcpy(p, t->value.data, t->value.len);
    if (len_size == 1)
        *(uint8_t *)len = (uint8_t)t->value.len;
    else
        *(uint16_t *)len = (uint16_t)t->value.len;
    return SGP32_OK;
}

static int r_text(const sgp32_asn1_tlv *t, char *s, size_t cap)
{
    if (t->value.len >= cap || memchr(t->value.data, 0, t->value.len))
        return SGP32_ERR_STORE_CORRUPT;
    memcpy(s, t->value.data, t->value.len);
    s[t->value.len] = '\0';
    return SGP32_OK;
}

#define R_VAR(t, arr, lenfield) r_var(t, arr, sizeof(arr), &(lenfield), sizeof(lenfield))

static int read_profile(const sgp32_asn1_tlv *seq, euicc_profile *p)
{
    sgp32_asn1_reader r;
    sgp32_asn1_tlv t;
    int rc;
    sgp32_asn1_reader_init(&r, seq->value, 2);
    while ((rc = sgp32_asn1_reader_next(&r, &t)) == SGP32_OK) {
        int64_t v;
        switch (t.tag) {
        case 0x80: rc = r_fixed(&t, p->iccid, 10); break;
        case 0x81: rc = R_VAR(&t, p->aid, p->aid_len); break;
        case 0x82: rc = r_bool(&t, &p->enabled); break;
        case 0x83: rc = r_int(&t, &p->profile_class); break;
        case 0x84: rc = r_text(&t, p->nickname, sizeof(p->nickname)); break;
        case 0x85: rc = r_text(&t, p->service_provider_name, sizeof(p->service_provider_name)); break;
        case 0x86: rc = r_text(&t, p->profile_name, sizeof(p->profile_name)); break;
        case 0x87: rc = r_int(&t, &p->icon_type), p->has_icon_type = true; break;
        case 0x88: rc = R_VAR(&t, p->icon, p->icon_len); break;
        case 0x89: rc = r_u32(&t, &p->ppr), p->has_ppr = true; break;
        case 0x8A: rc = r_fixed(&t, p->owner_mcc_mnc, 3), p->has_owner = true; break;
        case 0xAB: {
            if (p->notification_config_count == EUICC_MAX_NOTIFICATION_CONFIG)
                return SGP32_ERR_STORE_CORRUPT;
            euicc_notification_config *c = &p->notification_config[p->notification_config_count++];
            sgp32_asn1_reader cr;
            sgp32_asn1_tlv ct;
            sgp32_asn1_reader_init(&cr, t.value, 3);
            while (!rc && (rc = sgp32_asn1_reader_next(&cr, &ct)) == SGP32_OK) {
                if (ct.tag == 0x80)
                    rc = r_u32(&ct, &c->events);
                else if (ct.tag == 0x81)
                    rc = r_text(&ct, c->address, sizeof(c->address));
            }
            if (rc == SGP32_ERR_NOT_FOUND)
                rc = SGP32_OK;
            break;
        }
        case 0x8C: rc = R_VAR(&t, p->smdp_oid, p->smdp_oid_len); break;
        case 0x8D: rc = r_bool(&t, &p->ecall_indication); break;
        case 0x8E: rc = r_bool(&t, &p->fallback_attribute); break;
        case 0x8F:
            rc = r_int(&t, &v);
            p->fallback_allowed = v != 0;
            p->has_fallback_allowed = true;
            break;
        case 0x90: rc = r_bool(&t, &p->unable_to_attach); break;
        default: break; /* a field of a newer version */
        }
        if (rc)
            return SGP32_ERR_STORE_CORRUPT;
    }
    return rc == SGP32_ERR_NOT_FOUND ? SGP32_OK : SGP32_ERR_STORE_CORRUPT;
}

static int read_eim(const sgp32_asn1_tlv *seq, euicc_eim *e)
{
    sgp32_asn1_reader r;
    sgp32_asn1_tlv t;
    int rc;
    int64_t curve = 0;
    sgp32_asn1_reader_init(&r, seq->value, 2);
    while ((rc = sgp32_asn1_reader_next(&r, &t)) == SGP32_OK) {
        switch (t.tag) {
        case 0x80: rc = r_text(&t, e->eim_id, sizeof(e->eim_id)); break;
        case 0x81: rc = r_text(&t, e->eim_fqdn, sizeof(e->eim_fqdn)), e->has_eim_fqdn = true; break;
        case 0x82: rc = r_int(&t, &e->eim_id_type), e->has_eim_id_type = true; break;
        case 0x83: rc = r_int(&t, &e->counter_value); break;
        case 0x84: rc = r_int(&t, &e->association_token), e->has_association_token = true; break;
        case 0x85: rc = r_fixed(&t, e->public_key.point, SGP32_EC_POINT_LEN); break;
        case 0x86: rc = r_int(&t, &curve); break;
        case 0x87: rc = R_VAR(&t, e->public_key_data, e->public_key_data_len); break;
        case 0x88: rc = R_VAR(&t, e->trusted_tls_data, e->trusted_tls_data_len); break;
        case 0x89: rc = r_u32(&t, &e->supported_protocol), e->has_supported_protocol = true; break;
        case 0x8A: rc = R_VAR(&t, e->euicc_ci_pkid, e->euicc_ci_pkid_len); break;
        case 0x8B: rc = r_bool(&t, &e->indirect_profile_download); break;
        default: break;
        }
        if (rc)
            return SGP32_ERR_STORE_CORRUPT;
    }
    if (curve != SGP32_CURVE_NIST_P256 && curve != SGP32_CURVE_BRAINPOOL_P256R1)
        return SGP32_ERR_STORE_CORRUPT;
    e->public_key.curve = (sgp32_curve)curve;
    return rc == SGP32_ERR_NOT_FOUND ? SGP32_OK : SGP32_ERR_STORE_CORRUPT;
}

static int read_pending(const sgp32_asn1_tlv *seq, euicc_pending *p)
{
    sgp32_asn1_reader r;
    sgp32_asn1_tlv t;
    int rc;
    int64_t kind = 0;
    sgp32_asn1_reader_init(&r, seq->value, 2);
    while ((rc = sgp32_asn1_reader_next(&r, &t)) == SGP32_OK) {
        switch (t.tag) {
        case 0x80: rc = r_int(&t, &p->seq_number); break;
        case 0x81: rc = r_int(&t, &kind); break;
        case 0x82: rc = r_u32(&t, &p->event); break;
        case 0x83: rc = r_text(&t, p->address, sizeof(p->address)); break;
        case 0x84: rc = r_fixed(&t, p->iccid, 10), p->has_iccid = true; break;
        case 0x85: rc = R_VAR(&t, p->der, p->der_len); break;
        default: break;
        }
        if (rc)
            return SGP32_ERR_STORE_CORRUPT;
    }
    if (kind < EUICC_PENDING_PIR || kind > EUICC_PENDING_PACKAGE_RESULT || p->der_len == 0)
        return SGP32_ERR_STORE_CORRUPT;
    p->kind = (uint8_t)kind;
    return rc == SGP32_ERR_NOT_FOUND ? SGP32_OK : SGP32_ERR_STORE_CORRUPT;
}

/* Each element of a list TLV in turn, into a fixed array. */
static int read_list(const sgp32_asn1_tlv *list, void *items, size_t item_size, size_t max, uint8_t *count,
                     int (*read_one)(const sgp32_asn1_tlv *, void *))
{
    sgp32_asn1_reader r;
    sgp32_asn1_tlv t;
    int rc;
    sgp32_asn1_reader_init(&r, list->value, 1);
    while ((rc = sgp32_asn1_reader_next(&r, &t)) == SGP32_OK) {
        if (*count == max || t.tag != 0x30)
            return SGP32_ERR_STORE_CORRUPT;
        if ((rc = read_one(&t, (uint8_t *)items + *count * item_size)) != SGP32_OK)
            return rc;
        (*count)++;
    }
    return rc == SGP32_ERR_NOT_FOUND ? SGP32_OK : SGP32_ERR_STORE_CORRUPT;
}

static int read_profile_any(const sgp32_asn1_tlv *t, void *p)
{
    return read_profile(t, p);
}
static int read_eim_any(const sgp32_asn1_tlv *t, void *p)
{
    return read_eim(t, p);
}
static int read_pending_any(const sgp32_asn1_tlv *t, void *p)
{
    return read_pending(t, p);
}

int euicc_state_decode(const uint8_t *data, size_t len, euicc_state *s)
{
    sgp32_asn1_tlv state, digest;
    size_t used;
    memset(s, 0, sizeof(*s));
    if (sgp32_asn1_read_tlv(data, len, &state, &used) || state.tag != 0x30 ||
        sgp32_asn1_expect(data + used, len - used, 0x04, &digest) || digest.value.len != SGP32_SHA256_LEN)
        return SGP32_ERR_STORE_CORRUPT;
    uint8_t check[SGP32_SHA256_LEN];
    int rc = sgp32_sha256(state.whole.data, state.whole.len, check);
    if (rc)
        return rc;
    if (memcmp(check, digest.value.data, sizeof(check)) != 0)
        return SGP32_ERR_STORE_CORRUPT;

    sgp32_asn1_reader r;
    sgp32_asn1_tlv t;
    int64_t version = 0, v;
    sgp32_asn1_reader_init(&r, state.value, 0);
    while ((rc = sgp32_asn1_reader_next(&r, &t)) == SGP32_OK) {
        switch (t.tag) {
        case 0x80:
            rc = r_int(&t, &version);
            if (!rc && version != EUICC_STATE_VERSION)
                return SGP32_ERR_STORE_VERSION;
            break;
        case 0xA1:
            rc = read_list(&t, s->profiles, sizeof(s->profiles[0]), EUICC_MAX_PROFILES, &s->profile_count,
                           read_profile_any);
            break;
        case 0xA2:
            rc = read_list(&t, s->eims, sizeof(s->eims[0]), EUICC_MAX_EIMS, &s->eim_count, read_eim_any);
            break;
        case 0xA3:
            rc = read_list(&t, s->pending, sizeof(s->pending[0]), EUICC_MAX_PENDING, &s->pending_count,
                           read_pending_any);
            break;
        case 0x84: rc = r_int(&t, &s->next_seq_number); break;
        case 0x85: rc = r_int(&t, &s->next_isdp_number); break;
        case 0x86: rc = r_text(&t, s->default_dp_address, sizeof(s->default_dp_address)); break;
        case 0x87: rc = r_text(&t, s->root_ds_address, sizeof(s->root_ds_address)); break;
        case 0x88: rc = r_bool(&t, &s->immediate_enable_flag); break;
        case 0x89: rc = R_VAR(&t, s->immediate_default_smdp_oid, s->immediate_default_smdp_oid_len); break;
        case 0x8A:
            rc = r_text(&t, s->immediate_default_smdp_address, sizeof(s->immediate_default_smdp_address));
            s->has_immediate_default_smdp_address = true;
            break;
        case 0x8B: rc = r_bool(&t, &s->rollback_allowed); break;
        case 0x8C: rc = r_fixed(&t, s->rollback_iccid, 10), s->has_rollback_iccid = true; break;
        case 0x8D:
            rc = r_int(&t, &v);
            if (!rc && (v < 0 || v >= EUICC_MAX_EIMS))
                rc = SGP32_ERR_STORE_CORRUPT;
            s->rollback_eim_index = (uint8_t)v;
            break;
        case 0x8E: rc = r_int(&t, &s->rollback_counter_value); break;
        case 0x8F: rc = R_VAR(&t, s->rollback_transaction_id, s->rollback_transaction_id_len); break;
        case 0x90: rc = r_bool(&t, &s->fallback_active); break;
        case 0x91: rc = r_fixed(&t, s->fallback_return_iccid, 10), s->has_fallback_return_iccid = true; break;
        case 0x92: rc = r_bool(&t, &s->emergency_active); break;
        case 0x93:
            rc = r_fixed(&t, s->emergency_return_iccid, 10), s->has_emergency_return_iccid = true;
            break;
        default: break;
        }
        if (rc)
            return rc == SGP32_ERR_STORE_VERSION ? rc : SGP32_ERR_STORE_CORRUPT;
    }
    if (rc != SGP32_ERR_NOT_FOUND || version == 0)
        return SGP32_ERR_STORE_CORRUPT;
    return SGP32_OK;
}

int euicc_state_manufacture(sgp32_euicc *euicc)
{
    euicc_state *s = &euicc->state;
    memset(s, 0, sizeof(*s));
    s->next_seq_number = 1;
    s->next_isdp_number = 0x10;
    const sgp32_euicc_config *c = &euicc->config;
    if (c->default_dp_address && strlen(c->default_dp_address) <= EUICC_ADDRESS_MAX)
        strcpy(s->default_dp_address, c->default_dp_address);
    strcpy(s->root_ds_address, c->root_ds_address && strlen(c->root_ds_address) <= EUICC_ADDRESS_MAX
                                   ? c->root_ds_address
                                   : "lpa.ds.gsma.com");
    if (c->preloaded_count > EUICC_MAX_PROFILES)
        return SGP32_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < c->preloaded_count; i++) {
        const sgp32_euicc_preloaded_profile *pre = &c->preloaded[i];
        euicc_profile *p = &s->profiles[s->profile_count];
        int rc = euicc_iccid_from_text(pre->iccid, p->iccid);
        if (rc || euicc_find_profile_by_iccid(euicc, p->iccid))
            return SGP32_ERR_INVALID_ARGUMENT;
        /* ISD-P AIDs A0000005591010FFFFFFFF89000010xx, in installation order. */
        static const uint8_t aid_prefix[14] = {0xA0, 0x00, 0x00, 0x05, 0x59, 0x10, 0x10,
                                               0xFF, 0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00};
        memcpy(p->aid, aid_prefix, sizeof(aid_prefix));
        p->aid[14] = (uint8_t)(s->next_isdp_number >> 8);
        p->aid[15] = (uint8_t)s->next_isdp_number;
        p->aid_len = 16;
        s->next_isdp_number++;
        p->enabled = pre->enabled;
        p->profile_class = pre->profile_class;
        snprintf(p->profile_name, sizeof(p->profile_name), "%s", pre->name ? pre->name : "");
        snprintf(p->service_provider_name, sizeof(p->service_provider_name), "%s",
                 pre->service_provider_name ? pre->service_provider_name : "");
        p->fallback_attribute = pre->fallback_attribute;
        s->profile_count++;
    }
    return SGP32_OK;
}

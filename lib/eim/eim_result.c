/*
 * eIM results: what an eUICC's answer to a package says, for API users (compact JSON), the
 * operation record (success, seqNumber) and the eIM's profile table (SGP.32 §2.11.2; NOTES §8.1,
 * §8.5, §8.8, §8.9, §3.3 notifications):
 *
 *   EuiccPackageResult BF51          {"signed":true,"seqNumber":5,"counterValue":3,"results":[
 *                                      {"enable":"ok"},{"delete":"profileNotInDisabledState"},...]}
 *                                    {"signed":true,"error":"replayError","counterValue":3}
 *                                    {"signed":false,"error":"euiccPackageErrorUnsigned"}
 *   IpaEuiccDataResponse BF52        {"data":{"defaultSmdpAddress":"...","euiccInfo1":"<base64>"}}
 *                                    {"error":"incorrectTagList"}
 *   ProfileDownloadTriggerResult BF54 {"iccid":"...","success":true,"seqNumber":4} / {"error":...}
 *
 * Every result code is written with its name from the ASN.1 modules (the generated descriptors
 * carry the named numbers), a number only when the module has no name for it. A PSMO result
 * says nothing about which profile it concerns, so the ICCID comes from the action at the same
 * position of the operation's canonical request (op->request).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "sgp32/asn1_types.h"
#include "sgp32/eim_server.h"
#include "sgp32/text.h"

enum {
    RESULT_JSON_MAX = 64 << 10, /* what an operation record keeps (op->result_json) */
    RESULT_ICCID_BCD_LEN = 10,
};

/* ------------------------------------------------------------ helpers */

/* The name of value in a type's named numbers; NULL when it has none. */
static const char *code_name(const sgp32_asn1_type *type, int64_t value)
{
    for (size_t i = 0; type && i < type->name_count; i++)
        if (type->names[i].value == value)
            return type->names[i].name;
    return NULL;
}

/* A result code as JSON: its spec name, or the number when the module does not name it. */
static json_t *code_json(const sgp32_asn1_type *type, int64_t value)
{
    const char *name = code_name(type, value);
    return name ? json_string(name) : json_integer(value);
}

/* Set key to value (which is consumed); SGP32_ERR_NO_MEMORY when value is NULL or cannot be set. */
static int put(json_t *obj, const char *key, json_t *value)
{
    if (!value)
        return SGP32_ERR_NO_MEMORY;
    return json_object_set_new(obj, key, value) ? SGP32_ERR_NO_MEMORY : SGP32_OK;
}

static int append(json_t *array, json_t *value)
{
    if (!value)
        return SGP32_ERR_NO_MEMORY;
    return json_array_append_new(array, value) ? SGP32_ERR_NO_MEMORY : SGP32_OK;
}

/* A UTF8String view as a JSON string (invalid UTF-8, which the decoder never lets through: "") */
static json_t *utf8_json(sgp32_bytes b)
{
    json_t *s = json_stringn(b.len ? (const char *)b.data : "", b.len);
    return s ? s : json_string("");
}

static json_t *base64_json(const uint8_t *data, size_t len)
{
    char *text = malloc(sgp32_base64_encoded_len(len) + 1);
    if (!text)
        return NULL;
    sgp32_base64_encode(data, len, text);
    json_t *s = json_string(text);
    free(text);
    return s;
}

static json_t *hex_json(sgp32_bytes b)
{
    char *text = malloc(2 * b.len + 1);
    if (!text)
        return NULL;
    sgp32_hex_encode(b.data, b.len, text);
    json_t *s = json_string(text);
    free(text);
    return s;
}

/* EF.ICCID coding (nibble-swapped BCD, F padding) -> digits; SGP32_ERR_BAD_TEXT if malformed. */
static int iccid_text(sgp32_bytes bcd, char out[SGP32_EIM_ICCID_MAX + 1])
{
    size_t n = 0;
    bool padded = false;
    if (bcd.len != RESULT_ICCID_BCD_LEN)
        return SGP32_ERR_BAD_TEXT;
    for (size_t i = 0; i < bcd.len; i++) {
        uint8_t nibbles[2] = {(uint8_t)(bcd.data[i] & 0x0F), (uint8_t)(bcd.data[i] >> 4)};
        for (int k = 0; k < 2; k++) {
            if (nibbles[k] == 0xF) {
                padded = true;
            } else if (nibbles[k] > 9 || padded) {
                return SGP32_ERR_BAD_TEXT;
            } else {
                out[n++] = (char)('0' + nibbles[k]);
            }
        }
    }
    out[n] = '\0';
    return n >= 18 ? SGP32_OK : SGP32_ERR_BAD_TEXT;
}

/* UTF-8 text into a fixed field: cut at a NUL or at a character boundary when too long. */
static void copy_text(char *dst, size_t size, sgp32_bytes src)
{
    size_t n = src.len;
    const uint8_t *nul = n ? memchr(src.data, 0, n) : NULL;
    if (nul)
        n = (size_t)(nul - src.data);
    if (n >= size) {
        n = size - 1;
        while (n > 0 && (src.data[n] & 0xC0) == 0x80)
            n--;
    }
    if (n)
        memcpy(dst, src.data, n);
    dst[n] = '\0';
}

/* The next profile update slot for iccid (digits); NULL when the summary is full. */
static sgp32_eim_profile *add_update(sgp32_eim_result_summary *out, sgp32_eim_profile_change change,
                                     const char *iccid)
{
    if (out->update_count >= SGP32_EIM_PROFILE_UPDATES_MAX)
        return NULL;
    sgp32_eim_profile_update *u = &out->updates[out->update_count++];
    memset(u, 0, sizeof(*u));
    u->change = change;
    u->profile.profile_class = -1;
    u->profile.state = SGP32_EIM_PROFILE_DISABLED;
    if (iccid && strlen(iccid) <= SGP32_EIM_ICCID_MAX)
        memcpy(u->profile.iccid, iccid, strlen(iccid) + 1);
    return &u->profile;
}

static void reset(sgp32_eim_result_summary *out)
{
    out->success = false;
    out->has_seq_number = false;
    out->seq_number = 0;
    out->profiles_listed = false;
    out->update_count = 0;
    out->new_association_token = -1;
    sgp32_buf_reset(&out->json);
}

/* The summary text: compact, members in the order they were set, NUL-terminated (len excludes it). */
static int finish(json_t *root, sgp32_eim_result_summary *out)
{
    char *text = json_dumps(root, JSON_COMPACT);
    if (!text)
        return SGP32_ERR_NO_MEMORY;
    size_t n = strlen(text);
    sgp32_buf_reset(&out->json);
    int rc = sgp32_buf_append(&out->json, text, n + 1);
    if (!rc)
        out->json.len = n;
    free(text);
    return rc;
}

void sgp32_eim_result_summary_init(sgp32_eim_result_summary *s)
{
    if (!s)
        return;
    memset(s, 0, sizeof(*s));
    s->new_association_token = -1;
    sgp32_buf_init(&s->json, RESULT_JSON_MAX);
}

void sgp32_eim_result_summary_free(sgp32_eim_result_summary *s)
{
    if (!s)
        return;
    sgp32_buf_free(&s->json);
    sgp32_eim_result_summary_init(s);
}

/* ------------------------------------------------------------ EuiccPackageResult */

/* JSON keys of the EuiccResultData alternatives (choice 1..15): the action they answer. */
static const char *const result_keys[] = {
    "enable",
    "disable",
    "delete",
    "listProfileInfo",
    "getRAT",
    "configureImmediateEnable",
    "addEim",
    "deleteEim",
    "updateEim",
    "listEim",
    "rollback",
    "setFallbackAttribute",
    "unsetFallbackAttribute",
    "processingTerminated",
    "setDefaultDpAddress",
};

/* The action at index of the operation's canonical request: its name and ICCID (when it names one),
 * and whether a listProfileInfo asked for every profile. */
typedef struct request_action {
    const char *name;
    char iccid[SGP32_EIM_ICCID_MAX + 1];
    bool unfiltered; /* listProfileInfo of every profile */
    bool partial;    /* listProfileInfo with a tagList: entries carry only some fields */
} request_action;

static void request_action_at(json_t *actions, size_t index, request_action *a)
{
    memset(a, 0, sizeof(*a));
    json_t *action = json_array_get(actions, index);
    if (!json_is_object(action) || json_object_size(action) != 1)
        return;
    void *it = json_object_iter(action);
    json_t *body = json_object_iter_value(it);
    a->name = json_object_iter_key(it);
    const char *iccid = json_string_value(json_object_get(body, "iccid"));
    if (iccid && strlen(iccid) <= SGP32_EIM_ICCID_MAX && strspn(iccid, "0123456789") == strlen(iccid))
        strcpy(a->iccid, iccid);
    a->partial = json_object_get(body, "tags") != NULL;
    a->unfiltered = json_is_object(body) && !json_object_get(body, "iccid") &&
                    !json_object_get(body, "isdpAid") && !json_object_get(body, "profileClass") &&
                    !a->partial;
}

static bool action_is(const request_action *a, const char *name)
{
    return a->name && strcmp(a->name, name) == 0;
}

/* One ProfileInfo as JSON, and its UPSERT (when it is complete, has an ICCID and there is room). */
static int profile_info(const sgp32_sgp32_profile_info *p, bool partial, json_t *profiles,
                        sgp32_eim_result_summary *out, bool *all_recorded)
{
    json_t *o = json_object();
    char iccid[SGP32_EIM_ICCID_MAX + 1];
    bool has_iccid = p->has_iccid && iccid_text(p->iccid, iccid) == SGP32_OK;
    int rc = o ? SGP32_OK : SGP32_ERR_NO_MEMORY;
    if (!rc && has_iccid)
        rc = put(o, "iccid", json_string(iccid));
    if (!rc && p->has_isdp_aid)
        rc = put(o, "isdpAid", hex_json(p->isdp_aid));
    if (!rc && p->has_profile_state)
        rc = put(o, "state", code_json(&sgp32_type_profile_state, p->profile_state));
    if (!rc && p->has_profile_class)
        rc = put(o, "class", code_json(&sgp32_type_profile_class, p->profile_class));
    if (!rc && p->has_profile_name)
        rc = put(o, "name", utf8_json(p->profile_name));
    if (!rc && p->has_service_provider_name)
        rc = put(o, "serviceProvider", utf8_json(p->service_provider_name));
    if (!rc && p->has_profile_nickname)
        rc = put(o, "nickname", utf8_json(p->profile_nickname));
    if (!rc)
        rc = put(o, "fallback", json_boolean(p->fallback_attribute));
    if (!rc) {
        rc = append(profiles, o);
        o = NULL;
    }
    json_decref(o);
    if (rc)
        return rc;
    /* an entry cut down by a tagList would replace what the eIM knows with defaults: no UPSERT */
    sgp32_eim_profile *prof = has_iccid && !partial ? add_update(out, SGP32_EIM_CHANGE_UPSERT, iccid) : NULL;
    if (!prof) {
        *all_recorded = false;
        return SGP32_OK;
    }
    prof->state = p->has_profile_state && p->profile_state == SGP32_PROFILE_STATE_ENABLED
                      ? SGP32_EIM_PROFILE_ENABLED
                      : SGP32_EIM_PROFILE_DISABLED;
    prof->profile_class = p->has_profile_class ? p->profile_class : -1;
    if (p->has_profile_name)
        copy_text(prof->name, sizeof(prof->name), p->profile_name);
    if (p->has_service_provider_name)
        copy_text(prof->service_provider, sizeof(prof->service_provider), p->service_provider_name);
    prof->fallback = p->fallback_attribute;
    return SGP32_OK;
}

/* One EuiccResultData as {"<action>": code | {...}}; *ok when it reports success. */
static int result_entry(const sgp32_euicc_result_data *r, const request_action *a, json_t *results,
                        sgp32_eim_result_summary *out, bool *ok)
{
    if (r->choice < 1 || (size_t)r->choice > SGP32_ARRAY_LEN(result_keys))
        return SGP32_ERR_INVALID_ARGUMENT;
    const sgp32_asn1_field *field = &sgp32_type_euicc_result_data.fields[r->choice - 1];
    const char *key = result_keys[r->choice - 1];
    json_t *value = NULL;
    int rc = SGP32_OK;
    *ok = false;
    switch (r->choice) {
    case SGP32_EUICC_RESULT_DATA_LIST_PROFILE_INFO_RESULT: {
        const sgp32_sgp32_profile_info_list_response *l = &r->u.list_profile_info_result;
        if (l->choice != SGP32_SGP32_PROFILE_INFO_LIST_RESPONSE_PROFILE_INFO_LIST_OK) {
            value = code_json(&sgp32_type_sgp32_profile_info_list_error, l->u.profile_info_list_error);
            break;
        }
        *ok = true;
        value = json_object();
        json_t *profiles = json_array();
        bool all_recorded = true;
        rc = value && profiles ? SGP32_OK : SGP32_ERR_NO_MEMORY;
        for (size_t i = 0; !rc && i < l->u.profile_info_list_ok.count; i++)
            rc = profile_info(&l->u.profile_info_list_ok.items[i], a->partial, profiles, out, &all_recorded);
        if (!rc) {
            rc = put(value, "profiles", profiles);
            profiles = NULL;
        }
        json_decref(profiles);
        /* the whole list only when nothing filtered it and every entry was recorded */
        if (!rc && action_is(a, "listProfileInfo") && a->unfiltered && all_recorded)
            out->profiles_listed = true;
        break;
    }
    case SGP32_EUICC_RESULT_DATA_GET_RAT_RESULT: {
        sgp32_buf der;
        sgp32_buf_init(&der, RESULT_JSON_MAX);
        *ok = true;
        value = json_object();
        rc = value ? sgp32_asn1_encode(&sgp32_type_rules_authorisation_table, &r->u.get_rat_result, &der)
                   : SGP32_ERR_NO_MEMORY;
        if (!rc)
            rc = put(value, "rat", base64_json(der.data, der.len));
        sgp32_buf_free(&der);
        break;
    }
    case SGP32_EUICC_RESULT_DATA_ADD_EIM_RESULT:
        if (r->u.add_eim_result.choice == SGP32_ADD_EIM_RESULT_ASSOCIATION_TOKEN) {
            *ok = true;
            out->new_association_token = r->u.add_eim_result.u.association_token;
            value = json_object();
            rc = value ? put(value, "associationToken", json_integer(r->u.add_eim_result.u.association_token))
                       : SGP32_ERR_NO_MEMORY;
        } else {
            *ok = r->u.add_eim_result.u.add_eim_result_code == SGP32_ADD_EIM_RESULT_ADD_EIM_RESULT_CODE_OK;
            value = code_json(&sgp32_type_add_eim_result_add_eim_result_code,
                              r->u.add_eim_result.u.add_eim_result_code);
        }
        break;
    case SGP32_EUICC_RESULT_DATA_LIST_EIM_RESULT:
        if (r->u.list_eim_result.choice != SGP32_LIST_EIM_RESULT_EIM_ID_LIST) {
            value =
                code_json(&sgp32_type_list_eim_result_list_eim_error, r->u.list_eim_result.u.list_eim_error);
            break;
        }
        *ok = true;
        value = json_object();
        json_t *eims = json_array();
        rc = value && eims ? SGP32_OK : SGP32_ERR_NO_MEMORY;
        for (size_t i = 0; !rc && i < r->u.list_eim_result.u.eim_id_list.count; i++) {
            static const char *const types[] = {"oid", "fqdn", "proprietary"};
            const sgp32_eim_id_info *e = &r->u.list_eim_result.u.eim_id_list.items[i];
            json_t *o = json_object();
            rc = o ? put(o, "eimId", utf8_json(e->eim_id)) : SGP32_ERR_NO_MEMORY;
            if (!rc && e->has_eim_id_type)
                rc = put(o, "eimIdType",
                         e->eim_id_type >= 1 && e->eim_id_type <= 3 ? json_string(types[e->eim_id_type - 1])
                                                                    : json_integer(e->eim_id_type));
            if (!rc) {
                rc = append(eims, o);
                o = NULL;
            }
            json_decref(o);
        }
        if (!rc) {
            rc = put(value, "eims", eims);
            eims = NULL;
        }
        json_decref(eims);
        break;
    case SGP32_EUICC_RESULT_DATA_SET_DEFAULT_DP_ADDRESS_RESULT: {
        int64_t code = r->u.set_default_dp_address_result.set_default_dp_address_result;
        *ok = code == 0;
        value =
            code_json(&sgp32_type_sgp32_set_default_dp_address_response_set_default_dp_address_result, code);
        break;
    }
    default: {
        /* every other alternative is an INTEGER code, ok (0) or a named error */
        int64_t code = *(const int64_t *)((const uint8_t *)r + field->offset);
        *ok = r->choice != SGP32_EUICC_RESULT_DATA_PROCESSING_TERMINATED && code == 0;
        value = code_json(field->type, code);
        break;
    }
    }
    json_t *entry = json_object();
    if (!rc && entry && value) {
        rc = put(entry, key, value);
        value = NULL;
    } else if (!rc) {
        rc = SGP32_ERR_NO_MEMORY;
    }
    if (!rc) {
        rc = append(results, entry);
        entry = NULL;
    }
    json_decref(entry);
    json_decref(value);
    if (rc || !*ok)
        return rc;
    /* What an ok says about the profiles, with the ICCID the request named at this position. */
    static const struct {
        int choice;
        const char *action;
        sgp32_eim_profile_change change;
    } changes[] = {
        {SGP32_EUICC_RESULT_DATA_ENABLE_RESULT, "enable", SGP32_EIM_CHANGE_ENABLED},
        {SGP32_EUICC_RESULT_DATA_DISABLE_RESULT, "disable", SGP32_EIM_CHANGE_DISABLED},
        {SGP32_EUICC_RESULT_DATA_DELETE_RESULT, "delete", SGP32_EIM_CHANGE_DELETED},
        {SGP32_EUICC_RESULT_DATA_SET_FALLBACK_ATTRIBUTE_RESULT, "setFallbackAttribute",
         SGP32_EIM_CHANGE_FALLBACK},
    };
    for (size_t i = 0; i < SGP32_ARRAY_LEN(changes); i++)
        if (r->choice == changes[i].choice && action_is(a, changes[i].action) && a->iccid[0])
            (void)add_update(out, changes[i].change, a->iccid);
    if (r->choice == SGP32_EUICC_RESULT_DATA_UNSET_FALLBACK_ATTRIBUTE_RESULT)
        (void)add_update(out, SGP32_EIM_CHANGE_NO_FALLBACK, NULL);
    return SGP32_OK;
}

int sgp32_eim_result_summarise_package(const sgp32_eim_operation *op,
                                       const sgp32_euicc_package_result *result,
                                       sgp32_eim_result_summary *out)
{
    if (!result || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    reset(out);
    json_t *root = json_object(), *request = NULL, *results = NULL;
    int rc = root ? SGP32_OK : SGP32_ERR_NO_MEMORY;
    if (rc)
        goto out;
    switch (result->choice) {
    case SGP32_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED: {
        const sgp32_euicc_package_result_data_signed *d =
            &result->u.euicc_package_result_signed.euicc_package_result_data_signed;
        out->has_seq_number = true;
        out->seq_number = d->seq_number;
        if (op && op->request.data && op->request.len)
            request = json_loadb((const char *)op->request.data, op->request.len, 0, NULL);
        json_t *actions = json_object_get(request, "psmo");
        if (!actions)
            actions = json_object_get(request, "eco");
        results = json_array();
        rc = put(root, "signed", json_true());
        if (!rc)
            rc = put(root, "seqNumber", json_integer(d->seq_number));
        if (!rc)
            rc = put(root, "counterValue", json_integer(d->counter_value));
        if (!rc && !results)
            rc = SGP32_ERR_NO_MEMORY;
        bool all_ok = d->euicc_result.count > 0;
        for (size_t i = 0; !rc && i < d->euicc_result.count; i++) {
            request_action a;
            bool ok;
            request_action_at(actions, i, &a);
            rc = result_entry(&d->euicc_result.items[i], &a, results, out, &ok);
            all_ok = all_ok && ok;
        }
        if (!rc) {
            rc = put(root, "results", results);
            results = NULL;
        }
        out->success = !rc && all_ok;
        break;
    }
    case SGP32_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_ERROR_SIGNED: {
        const sgp32_euicc_package_error_data_signed *e =
            &result->u.euicc_package_error_signed.euicc_package_error_data_signed;
        rc = put(root, "signed", json_true());
        if (!rc)
            rc = put(root, "error",
                     code_json(&sgp32_type_euicc_package_error_code, e->euicc_package_error_code));
        if (!rc)
            rc = put(root, "counterValue", json_integer(e->counter_value));
        break;
    }
    case SGP32_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_ERROR_UNSIGNED: {
        /* no code: the eUICC did not know the eIM or the signature did not verify (NOTES §8.4) */
        const sgp32_euicc_package_error_unsigned *e = &result->u.euicc_package_error_unsigned;
        rc = put(root, "signed", json_false());
        if (!rc)
            rc = put(root, "error", json_string("euiccPackageErrorUnsigned"));
        if (!rc && e->has_association_token)
            rc = put(root, "associationToken", json_integer(e->association_token));
        break;
    }
    default: rc = SGP32_ERR_INVALID_ARGUMENT; break;
    }
    if (!rc)
        rc = finish(root, out);
out:
    if (rc)
        reset(out);
    json_decref(results);
    json_decref(request);
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------ IpaEuiccDataResponse */

/* A SEQUENCE/CHOICE value (its struct starts with the received "der") as base64 DER with the
 * type's own tag (the field's implicit tag replaced); encoded afresh when it was not decoded. */
static json_t *value_base64(const sgp32_asn1_type *type, const void *value)
{
    sgp32_bytes der = *(const sgp32_bytes *)value;
    sgp32_buf b;
    sgp32_buf_init(&b, RESULT_JSON_MAX);
    int rc;
    if (type->kind == SGP32_ASN1_OPAQUE)
        rc = sgp32_asn1_write_retagged(&b, 0x30, der); /* certificates: the plain DER */
    else if (der.len && type->tag)
        rc = sgp32_asn1_write_retagged(&b, type->tag, der);
    else if (der.len)
        rc = sgp32_buf_append(&b, der.data, der.len);
    else
        rc = sgp32_asn1_encode(type, value, &b);
    json_t *s = rc ? NULL : base64_json(b.data, b.len);
    sgp32_buf_free(&b);
    return s;
}

/* Every present IpaEuiccData field by its schema name: text, numbers, hex for the transaction id,
 * base64 DER for structures and certificates, a list of base64 DER for the two lists. */
static int ipa_euicc_data(const sgp32_ipa_euicc_data *d, json_t *data)
{
    const sgp32_asn1_type *t = &sgp32_type_ipa_euicc_data;
    int rc = SGP32_OK;
    for (size_t i = 0; !rc && i < t->field_count; i++) {
        const sgp32_asn1_field *f = &t->fields[i];
        const uint8_t *base = (const uint8_t *)d;
        if (f->present_offset != SGP32_ASN1_NO_OFFSET && !*(const bool *)(base + f->present_offset))
            continue;
        const void *value = base + f->offset;
        switch (f->type->kind) {
        case SGP32_ASN1_UTF8_STRING: rc = put(data, f->name, utf8_json(*(const sgp32_bytes *)value)); break;
        case SGP32_ASN1_INTEGER: rc = put(data, f->name, json_integer(*(const int64_t *)value)); break;
        case SGP32_ASN1_OCTET_STRING: rc = put(data, f->name, hex_json(*(const sgp32_bytes *)value)); break;
        case SGP32_ASN1_OPAQUE:
        case SGP32_ASN1_SEQUENCE:
        case SGP32_ASN1_CHOICE: rc = put(data, f->name, value_base64(f->type, value)); break;
        case SGP32_ASN1_SEQUENCE_OF: {
            const sgp32_asn1_list *list = value;
            const sgp32_asn1_type *e = f->type->element;
            json_t *items = json_array();
            rc = items ? SGP32_OK : SGP32_ERR_NO_MEMORY;
            for (size_t k = 0; !rc && k < list->count; k++)
                rc = append(items, value_base64(e, (const uint8_t *)list->items + k * e->size));
            if (!rc)
                rc = put(data, f->name, items);
            else
                json_decref(items);
            break;
        }
        default: break;
        }
    }
    return rc;
}

int sgp32_eim_result_summarise_ipa_euicc_data(const sgp32_eim_operation *op,
                                              const sgp32_ipa_euicc_data_response *response,
                                              sgp32_eim_result_summary *out)
{
    (void)op;
    if (!response || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    reset(out);
    json_t *root = json_object(), *data = json_object();
    int rc = root && data ? SGP32_OK : SGP32_ERR_NO_MEMORY;
    if (!rc && response->choice == SGP32_IPA_EUICC_DATA_RESPONSE_IPA_EUICC_DATA) {
        rc = ipa_euicc_data(&response->u.ipa_euicc_data, data);
        if (!rc) {
            rc = put(root, "data", data);
            data = NULL;
        }
        out->success = !rc;
    } else if (!rc && response->choice == SGP32_IPA_EUICC_DATA_RESPONSE_IPA_EUICC_DATA_RESPONSE_ERROR) {
        rc = put(root, "error",
                 code_json(&sgp32_type_ipa_euicc_data_error_code,
                           response->u.ipa_euicc_data_response_error.ipa_euicc_data_error_code));
    } else if (!rc) {
        rc = SGP32_ERR_INVALID_ARGUMENT;
    }
    if (!rc)
        rc = finish(root, out);
    if (rc)
        reset(out);
    json_decref(data);
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------ PIRs and notifications */

/* A ProfileInstallationResultData: "iccid", "success", "seqNumber" and the error's names; the
 * installed profile (disabled, as every fresh download) as an UPSERT. */
static int pir_summary(const sgp32_profile_installation_result_data *d, json_t *root,
                       sgp32_eim_result_summary *out)
{
    const sgp32_notification_metadata *md = &d->notification_metadata;
    char iccid[SGP32_EIM_ICCID_MAX + 1];
    bool has_iccid = md->has_iccid && iccid_text(md->iccid, iccid) == SGP32_OK;
    bool success =
        d->final_result.choice == SGP32_PROFILE_INSTALLATION_RESULT_DATA_FINAL_RESULT_SUCCESS_RESULT;
    int rc = has_iccid ? put(root, "iccid", json_string(iccid)) : SGP32_OK;
    if (!rc)
        rc = put(root, "success", json_boolean(success));
    if (!rc)
        rc = put(root, "seqNumber", json_integer(md->seq_number));
    if (!rc && d->final_result.choice == SGP32_PROFILE_INSTALLATION_RESULT_DATA_FINAL_RESULT_ERROR_RESULT) {
        const sgp32_error_result *e = &d->final_result.u.error_result;
        rc = put(root, "bppCommandId", code_json(&sgp32_type_bpp_command_id, e->bpp_command_id));
        if (!rc)
            rc = put(root, "errorReason", code_json(&sgp32_type_error_reason, e->error_reason));
    }
    out->success = !rc && success;
    if (!rc && success && has_iccid)
        (void)add_update(out, SGP32_EIM_CHANGE_UPSERT, iccid);
    return rc;
}

int sgp32_eim_result_summarise_download(const sgp32_eim_operation *op,
                                        const sgp32_profile_download_trigger_result *result,
                                        sgp32_eim_result_summary *out)
{
    (void)op;
    if (!result || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    reset(out);
    const sgp32_profile_download_trigger_result_profile_download_trigger_result_data *d =
        &result->profile_download_trigger_result_data;
    json_t *root = json_object();
    int rc = root ? SGP32_OK : SGP32_ERR_NO_MEMORY;
    if (!rc &&
        d->choice ==
            SGP32_PROFILE_DOWNLOAD_TRIGGER_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT_DATA_PROFILE_INSTALLATION_RESULT) {
        rc = pir_summary(&d->u.profile_installation_result.profile_installation_result_data, root, out);
    } else if (
        !rc &&
        d->choice ==
            SGP32_PROFILE_DOWNLOAD_TRIGGER_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT_DATA_PROFILE_DOWNLOAD_ERROR) {
        const sgp32_profile_download_trigger_result_profile_download_trigger_result_data_profile_download_error
            *e = &d->u.profile_download_error;
        rc = put(
            root, "error",
            code_json(
                &sgp32_type_profile_download_trigger_result_profile_download_trigger_result_data_profile_download_error_profile_download_error_reason,
                e->profile_download_error_reason));
        if (!rc && e->has_error_response)
            rc = put(root, "errorResponse", base64_json(e->error_response.data, e->error_response.len));
    } else if (!rc) {
        rc = SGP32_ERR_INVALID_ARGUMENT;
    }
    if (!rc)
        rc = finish(root, out);
    if (rc)
        reset(out);
    json_decref(root);
    return rc;
}

int sgp32_eim_result_summarise_notification(const sgp32_notification_metadata *metadata, bool is_pir,
                                            bool pir_success, sgp32_eim_result_summary *out)
{
    if (!out || (!metadata && !is_pir))
        return SGP32_ERR_INVALID_ARGUMENT;
    reset(out);
    /* NotificationEvent bits, the one an "other" notification reports */
    static const struct {
        uint32_t bit;
        const char *name;
        sgp32_eim_profile_change change;
    } events[] = {
        {SGP32_NOTIFICATION_EVENT_NOTIFICATION_ENABLE, "enable", SGP32_EIM_CHANGE_ENABLED},
        {SGP32_NOTIFICATION_EVENT_NOTIFICATION_DISABLE, "disable", SGP32_EIM_CHANGE_DISABLED},
        {SGP32_NOTIFICATION_EVENT_NOTIFICATION_DELETE, "delete", SGP32_EIM_CHANGE_DELETED},
        {SGP32_NOTIFICATION_EVENT_NOTIFICATION_INSTALL, "install", SGP32_EIM_CHANGE_UPSERT},
    };
    char iccid[SGP32_EIM_ICCID_MAX + 1];
    /* a compact PIR has no metadata (and no ICCID): nothing to believe about a profile */
    bool has_iccid = metadata && metadata->has_iccid && iccid_text(metadata->iccid, iccid) == SGP32_OK;
    size_t k = SGP32_ARRAY_LEN(events) - 1; /* install for a PIR */
    if (!is_pir)
        for (k = 0; k < SGP32_ARRAY_LEN(events) && !(metadata->profile_management_operation & events[k].bit);
             k++)
            ;
    json_t *root = json_object();
    int rc = root ? SGP32_OK : SGP32_ERR_NO_MEMORY;
    if (!rc && metadata)
        rc = put(root, "seqNumber", json_integer(metadata->seq_number));
    if (!rc)
        rc = put(root, "operation",
                 k < SGP32_ARRAY_LEN(events) ? json_string(events[k].name)
                                             : json_integer(metadata->profile_management_operation));
    if (!rc && has_iccid)
        rc = put(root, "iccid", json_string(iccid));
    if (!rc && is_pir)
        rc = put(root, "success", json_boolean(pir_success));
    if (!rc)
        rc = finish(root, out);
    if (!rc) {
        out->success = is_pir ? pir_success : true;
        /* an install reported as an "other" notification carries no result: only a PIR counts */
        if (has_iccid && k < SGP32_ARRAY_LEN(events) &&
            (is_pir ? pir_success : events[k].change != SGP32_EIM_CHANGE_UPSERT))
            (void)add_update(out, events[k].change, iccid);
    } else {
        reset(out);
    }
    json_decref(root);
    return rc;
}

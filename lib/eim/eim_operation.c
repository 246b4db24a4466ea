/*
 * eIM operations: the REST API's operation JSON (include/sgp32/eim_server.h) checked, made
 * canonical and turned into the package the eUICC gets (SGP.32 §2.11.1; NOTES §8.1, §8.2, §8.8,
 * §8.9):
 *
 *   {"psmo": [...]}         -> EuiccPackageRequest BF51 {30 {80 eimId, 5A EID, 81 counter,
 *   {"eco": [...]}              82 eimTransactionId, A0 psmoList | A1 ecoList}, 5F37 signature}
 *   {"ipaEuiccData": {...}} -> IpaEuiccDataRequest BF52 {5C tagList, ..., 83 eimTransactionId}
 *   {"download": {...}}     -> ProfileDownloadTriggerRequest BF54 {[A0 data], 82 eimTransactionId}
 *
 * One walker does both jobs: parse checks a JSON value and records its canonical form (compact,
 * keys sorted, ICCIDs as digits, hex upper-case, "LPA:" dropped, false flags left out); build walks
 * the stored canonical text again and fills the typed ASN.1 structs the codec encodes. Errors
 * name where the input is wrong ("psmo[1].enable.iccid: expected 19 or 20 digits") because API
 * users read them; anything not in the grammar is refused rather than guessed at.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sgp32/asn1_types.h"
#include "sgp32/eim_package.h"
#include "sgp32/eim_server.h"
#include "sgp32/text.h"

enum {
    OP_ACTIONS_MAX = 16,
    OP_ARENA_CAP = 1 << 20,
    OP_ICCID_BCD_LEN = 10,
    OP_EIM_ID_MAX = 128,
    OP_ADDRESS_MAX = 255,
    OP_AC_MAX = 255,
    OP_KEY_DER_MAX = 1024, /* eimPublicKeyData / trustedPublicKeyDataTls: what an eUICC keeps */
    OP_HEX_MAX = 64,
    OP_COUNTER_MAX = 0x7FFFFFFF,
    OP_PATH_MAX = 160,
    OP_TEXT_MAX = 4096, /* a string member we then check by its own rule (digits, hex) */
};

typedef struct op_ctx {
    sgp32_arena *arena;
    char path[OP_PATH_MAX];
    size_t path_len;
    char *error;
    size_t error_size;
    sgp32_eim_op_kind kind;
    json_t *canonical; /* the accepted operation, normalised */
    /* the typed package content */
    sgp32_psmo *psmos;
    sgp32_eco *ecos;
    size_t count;
    sgp32_ipa_euicc_data_request ipa;
    sgp32_profile_download_trigger_request download;
} op_ctx;

/* ------------------------------------------------------------ errors and paths */

#if defined(__GNUC__)
static int fail(op_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#endif

/* Write "path: message" into the caller's error buffer; always SGP32_ERR_BAD_TEXT. */
static int fail(op_ctx *c, const char *fmt, ...)
{
    if (c->error && c->error_size) {
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        snprintf(c->error, c->error_size, "%s: %s", c->path_len ? c->path : "operation", msg);
    }
    return SGP32_ERR_BAD_TEXT;
}

/* Append ".key" (or "key" at the root) to the path; returns the length to restore. */
static size_t push_key(op_ctx *c, const char *key)
{
    size_t old = c->path_len;
    int n = snprintf(c->path + old, sizeof(c->path) - old, "%s%.40s", old ? "." : "", key);
    if (n > 0)
        c->path_len = strlen(c->path);
    return old;
}

static size_t push_index(op_ctx *c, size_t index)
{
    size_t old = c->path_len;
    int n = snprintf(c->path + old, sizeof(c->path) - old, "[%zu]", index);
    if (n > 0)
        c->path_len = strlen(c->path);
    return old;
}

static void pop(op_ctx *c, size_t old)
{
    c->path_len = old;
    c->path[old] = '\0';
}

/* Every key of obj is one of allowed (NULL-terminated). */
static int check_keys(op_ctx *c, json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value)
    {
        bool known = false;
        for (size_t i = 0; allowed[i] && !known; i++)
            known = strcmp(key, allowed[i]) == 0;
        if (!known) {
            size_t old = push_key(c, key);
            int rc = fail(c, "unknown key");
            pop(c, old);
            return rc;
        }
    }
    return SGP32_OK;
}

static int expect_object(op_ctx *c, json_t *v, const char *const *allowed)
{
    if (!json_is_object(v))
        return fail(c, "expected an object");
    return check_keys(c, v, allowed);
}

/* obj[key] = value (consumed); SGP32_ERR_NO_MEMORY when value is NULL or cannot be set. */
static int set(json_t *obj, const char *key, json_t *value)
{
    if (!value || json_object_set_new(obj, key, value) != 0)
        return SGP32_ERR_NO_MEMORY;
    return SGP32_OK;
}

static sgp32_bytes arena_copy(op_ctx *c, const void *data, size_t len)
{
    uint8_t *p = sgp32_arena_alloc(c->arena, len ? len : 1);
    if (!p)
        return (sgp32_bytes){NULL, 0};
    if (len)
        memcpy(p, data, len);
    return (sgp32_bytes){p, len};
}

/* ------------------------------------------------------------ typed fields */

/* A string member (NULL *out when absent and optional): min..max bytes, no control characters. */
static int get_string(op_ctx *c, json_t *obj, const char *key, bool required, size_t min, size_t max,
                      const char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    json_t *v = json_object_get(obj, key);
    size_t old = push_key(c, key);
    int rc = SGP32_OK;
    if (!v) {
        rc = required ? fail(c, "required") : SGP32_OK;
        goto out;
    }
    if (!json_is_string(v)) {
        rc = fail(c, "expected a string");
        goto out;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n < min || n > max) {
        rc = min == max ? fail(c, "expected %zu characters", min)
                        : fail(c, "expected a string of %zu to %zu bytes", min, max);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F) {
            rc = fail(c, "control characters are not allowed");
            goto out;
        }
    *out = s;
    *len = n;
out:
    pop(c, old);
    return rc;
}

static int get_bool(op_ctx *c, json_t *obj, const char *key, bool *present, bool *out)
{
    json_t *v = json_object_get(obj, key);
    *present = v != NULL;
    *out = false;
    if (!v)
        return SGP32_OK;
    if (!json_is_boolean(v)) {
        size_t old = push_key(c, key);
        int rc = fail(c, "expected true or false");
        pop(c, old);
        return rc;
    }
    *out = json_is_true(v);
    return SGP32_OK;
}

static int get_int(op_ctx *c, json_t *obj, const char *key, int64_t min, int64_t max, bool *present,
                   int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    *present = v != NULL;
    *out = 0;
    if (!v)
        return SGP32_OK;
    size_t old = push_key(c, key);
    int rc = SGP32_OK;
    if (!json_is_integer(v))
        rc = fail(c, "expected an integer");
    else if (json_integer_value(v) < min || json_integer_value(v) > max)
        rc = fail(c, "expected an integer from %lld to %lld", (long long)min, (long long)max);
    else
        *out = json_integer_value(v);
    pop(c, old);
    return rc;
}

/* Hex text of min..max bytes into the arena; *upper receives the canonical upper-case text. */
static int get_hex(op_ctx *c, json_t *obj, const char *key, size_t min, size_t max, bool *present,
                   sgp32_bytes *out, json_t **upper)
{
    const char *s;
    size_t n;
    *present = false;
    *upper = NULL;
    int rc = get_string(c, obj, key, false, 0, OP_TEXT_MAX, &s, &n);
    if (rc || !s)
        return rc;
    size_t old = push_key(c, key);
    if (n % 2 || n < 2 * min || n > 2 * max || strspn(s, "0123456789abcdefABCDEF") != n) {
        rc = fail(c, "expected %zu to %zu bytes of hex", min, max);
        goto out;
    }
    uint8_t bytes[OP_HEX_MAX];
    sgp32_buf b;
    sgp32_buf_init_fixed(&b, bytes, sizeof(bytes));
    rc = sgp32_hex_decode(s, n, &b);
    if (rc) {
        rc = fail(c, "expected hex");
        goto out;
    }
    *out = arena_copy(c, b.data, b.len);
    char text[2 * OP_HEX_MAX + 1];
    sgp32_hex_encode(b.data, b.len, text);
    *upper = json_string(text);
    if (!out->data || !*upper) {
        json_decref(*upper);
        *upper = NULL;
        rc = SGP32_ERR_NO_MEMORY;
        goto out;
    }
    *present = true;
out:
    pop(c, old);
    return rc;
}

/* An ICCID: 19 or 20 digits, a 19-digit one may carry its padding F. EF.ICCID coding (nibble-swapped
 * BCD, F-padded to 10 bytes) into the arena, the digits into the canonical object. */
static int get_iccid(op_ctx *c, json_t *obj, const char *key, json_t *canon, sgp32_bytes *out)
{
    const char *s;
    size_t n;
    int rc = get_string(c, obj, key, true, 0, OP_TEXT_MAX, &s, &n);
    if (rc)
        return rc;
    size_t old = push_key(c, key);
    if (n == 20 && (s[19] == 'F' || s[19] == 'f'))
        n = 19;
    if ((n != 19 && n != 20) || strspn(s, "0123456789") < n) {
        rc = fail(c, "expected 19 or 20 digits");
        goto out;
    }
    uint8_t bcd[OP_ICCID_BCD_LEN];
    for (size_t i = 0; i < OP_ICCID_BCD_LEN; i++) {
        uint8_t lo = 2 * i < n ? (uint8_t)(s[2 * i] - '0') : 0xF;
        uint8_t hi = 2 * i + 1 < n ? (uint8_t)(s[2 * i + 1] - '0') : 0xF;
        bcd[i] = (uint8_t)(hi << 4 | lo);
    }
    *out = arena_copy(c, bcd, sizeof(bcd));
    rc = out->data ? set(canon, key, json_stringn(s, n)) : SGP32_ERR_NO_MEMORY;
out:
    pop(c, old);
    return rc;
}

/* host[:port] or an IP literal: letters, digits and . - _ : [ ] only. */
static bool address_chars_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '.' || ch == '-' || ch == '_' || ch == ':' || ch == '[' || ch == ']';
        if (!ok)
            return false;
    }
    return true;
}

/* An address member (min..255 characters) into *out (an arena view) and the canonical object. */
static int get_address(op_ctx *c, json_t *obj, const char *key, bool required, size_t min, json_t *canon,
                       bool *present, sgp32_bytes *out)
{
    const char *s;
    size_t n;
    *present = false;
    int rc = get_string(c, obj, key, required, min, OP_ADDRESS_MAX, &s, &n);
    if (rc || !s)
        return rc;
    if (!address_chars_ok(s, n)) {
        size_t old = push_key(c, key);
        rc = fail(c, "expected a host name (letters, digits, '.', '-', optional :port)");
        pop(c, old);
        return rc;
    }
    *out = arena_copy(c, s, n);
    if (!out->data)
        return SGP32_ERR_NO_MEMORY;
    *present = true;
    return set(canon, key, json_stringn(s, n));
}

/* Dotted OID text -> OID contents. */
static int get_oid(op_ctx *c, json_t *obj, const char *key, json_t *canon, bool *present, sgp32_bytes *out)
{
    const char *s;
    size_t n;
    *present = false;
    int rc = get_string(c, obj, key, false, 1, 128, &s, &n);
    if (rc || !s)
        return rc;
    char text[129];
    memcpy(text, s, n);
    text[n] = '\0';
    uint8_t storage[128];
    sgp32_buf b;
    sgp32_buf_init_fixed(&b, storage, sizeof(storage));
    if (memchr(s, 0, n) || sgp32_asn1_oid_from_text(text, &b) != SGP32_OK || b.len == 0) {
        size_t old = push_key(c, key);
        rc = fail(c, "expected a dotted object identifier like 1.3.6.1.4.1.99");
        pop(c, old);
        return rc;
    }
    *out = arena_copy(c, b.data, b.len);
    if (!out->data)
        return SGP32_ERR_NO_MEMORY;
    *present = true;
    return set(canon, key, json_stringn(s, n));
}

/* ------------------------------------------------------------ PSMOs */

static const char *const iccid_keys[] = {"iccid", NULL};
static const char *const no_keys[] = {NULL};

static int psmo_enable(op_ctx *c, json_t *v, json_t *canon, sgp32_psmo *p)
{
    static const char *const keys[] = {"iccid", "rollback", NULL};
    bool present, rollback = false;
    int rc = expect_object(c, v, keys);
    if (!rc)
        rc = get_iccid(c, v, "iccid", canon, &p->u.enable.iccid);
    if (!rc)
        rc = get_bool(c, v, "rollback", &present, &rollback);
    if (!rc && rollback)
        rc = set(canon, "rollback", json_true());
    p->u.enable.rollback_flag = rollback;
    return rc;
}

static int psmo_iccid_only(op_ctx *c, json_t *v, json_t *canon, sgp32_bytes *iccid)
{
    int rc = expect_object(c, v, iccid_keys);
    return rc ? rc : get_iccid(c, v, "iccid", canon, iccid);
}

static int psmo_list_profile_info(op_ctx *c, json_t *v, json_t *canon, sgp32_psmo *p)
{
    static const char *const keys[] = {"iccid", "isdpAid", "profileClass", "tags", NULL};
    sgp32_profile_info_list_request *r = &p->u.list_profile_info;
    int rc = expect_object(c, v, keys);
    if (rc)
        return rc;
    int criteria = !!json_object_get(v, "iccid") + !!json_object_get(v, "isdpAid") +
                   !!json_object_get(v, "profileClass");
    if (criteria > 1)
        return fail(c, "iccid, isdpAid and profileClass are alternatives: give one at most");
    bool present;
    json_t *text = NULL;
    if (json_object_get(v, "iccid")) {
        r->has_search_criteria = true;
        r->search_criteria.choice = SGP32_PROFILE_INFO_LIST_REQUEST_SEARCH_CRITERIA_ICCID;
        rc = get_iccid(c, v, "iccid", canon, &r->search_criteria.u.iccid);
    } else if (json_object_get(v, "isdpAid")) {
        rc = get_hex(c, v, "isdpAid", 5, 16, &present, &r->search_criteria.u.isdp_aid, &text);
        if (!rc) {
            r->has_search_criteria = true;
            r->search_criteria.choice = SGP32_PROFILE_INFO_LIST_REQUEST_SEARCH_CRITERIA_ISDP_AID;
            rc = set(canon, "isdpAid", text);
        }
    } else if (json_object_get(v, "profileClass")) {
        int64_t cls;
        rc = get_int(c, v, "profileClass", 0, 2, &present, &cls);
        if (!rc) {
            r->has_search_criteria = true;
            r->search_criteria.choice = SGP32_PROFILE_INFO_LIST_REQUEST_SEARCH_CRITERIA_PROFILE_CLASS;
            r->search_criteria.u.profile_class = cls;
            rc = set(canon, "profileClass", json_integer(cls));
        }
    }
    if (!rc)
        rc = get_hex(c, v, "tags", 1, 32, &r->has_tag_list, &r->tag_list, &text);
    if (!rc && r->has_tag_list)
        rc = set(canon, "tags", text);
    return rc;
}

static int psmo_configure_immediate_enable(op_ctx *c, json_t *v, json_t *canon, sgp32_psmo *p)
{
    static const char *const keys[] = {"immediateEnable", "defaultSmdpOid", "defaultSmdpAddress", NULL};
    sgp32_psmo_configure_immediate_enable *r = &p->u.configure_immediate_enable;
    bool present;
    int rc = expect_object(c, v, keys);
    if (!rc)
        rc = get_bool(c, v, "immediateEnable", &present, &r->immediate_enable_flag);
    if (!rc && r->immediate_enable_flag)
        rc = set(canon, "immediateEnable", json_true());
    if (!rc)
        rc = get_oid(c, v, "defaultSmdpOid", canon, &r->has_default_smdp_oid, &r->default_smdp_oid);
    if (!rc)
        rc = get_address(c, v, "defaultSmdpAddress", false, 1, canon, &r->has_default_smdp_address,
                         &r->default_smdp_address);
    return rc;
}

static int psmo_set_default_dp_address(op_ctx *c, json_t *v, json_t *canon, sgp32_psmo *p)
{
    static const char *const keys[] = {"address", NULL};
    bool present;
    int rc = expect_object(c, v, keys);
    if (!rc)
        rc = get_address(c, v, "address", true, 0, canon, &present,
                         &p->u.set_default_dp_address.default_dp_address);
    return rc;
}

static int psmo_empty(op_ctx *c, json_t *v, json_t *canon, sgp32_psmo *p)
{
    (void)canon;
    (void)p;
    return expect_object(c, v, no_keys);
}

static int psmo_disable(op_ctx *c, json_t *v, json_t *canon, sgp32_psmo *p)
{
    return psmo_iccid_only(c, v, canon, &p->u.disable.iccid);
}

static int psmo_delete(op_ctx *c, json_t *v, json_t *canon, sgp32_psmo *p)
{
    return psmo_iccid_only(c, v, canon, &p->u.delete.iccid);
}

static int psmo_set_fallback(op_ctx *c, json_t *v, json_t *canon, sgp32_psmo *p)
{
    return psmo_iccid_only(c, v, canon, &p->u.set_fallback_attribute.iccid);
}

static const struct {
    const char *name;
    int choice;
    int (*parse)(op_ctx *c, json_t *v, json_t *canon, sgp32_psmo *p);
} psmo_actions[] = {
    {"enable", SGP32_PSMO_ENABLE, psmo_enable},
    {"disable", SGP32_PSMO_DISABLE, psmo_disable},
    {"delete", SGP32_PSMO_DELETE, psmo_delete},
    {"listProfileInfo", SGP32_PSMO_LIST_PROFILE_INFO, psmo_list_profile_info},
    {"getRAT", SGP32_PSMO_GET_RAT, psmo_empty},
    {"configureImmediateEnable", SGP32_PSMO_CONFIGURE_IMMEDIATE_ENABLE, psmo_configure_immediate_enable},
    {"setFallbackAttribute", SGP32_PSMO_SET_FALLBACK_ATTRIBUTE, psmo_set_fallback},
    {"unsetFallbackAttribute", SGP32_PSMO_UNSET_FALLBACK_ATTRIBUTE, psmo_empty},
    {"setDefaultDpAddress", SGP32_PSMO_SET_DEFAULT_DP_ADDRESS, psmo_set_default_dp_address},
};

/* ------------------------------------------------------------ eCOs */

/* DER of a SubjectPublicKeyInfo (SEQUENCE {AlgorithmIdentifier SEQUENCE {OID ...}, BIT STRING}) or
 * a certificate (SEQUENCE {tbsCertificate SEQUENCE, AlgorithmIdentifier SEQUENCE, BIT STRING}).
 * *is_certificate tells which; anything else is refused. */
static int key_data_shape(const uint8_t *der, size_t len, bool *is_certificate)
{
    sgp32_asn1_tlv top, tlv[4];
    sgp32_asn1_reader r;
    size_t n = 0;
    int rc = sgp32_asn1_expect(der, len, 0x30, &top);
    if (!rc) /* every nested TLV well formed, as the eUICC's decoder (and ours) will check */
        rc = sgp32_asn1_walk(der, len, NULL, NULL);
    if (rc)
        return rc;
    sgp32_asn1_reader_init(&r, top.value, 1);
    while (n < 4 && sgp32_asn1_reader_next(&r, &tlv[n]) == SGP32_OK)
        n++;
    if (!sgp32_asn1_reader_done(&r))
        return SGP32_ERR_ASN1_TRAILING;
    if (n == 2 && tlv[0].tag == 0x30 && tlv[1].tag == 0x03 && tlv[0].value.len &&
        tlv[0].value.data[0] == 0x06) {
        *is_certificate = false;
        return SGP32_OK;
    }
    if (n == 3 && tlv[0].tag == 0x30 && tlv[1].tag == 0x30 && tlv[2].tag == 0x03) {
        *is_certificate = true;
        return SGP32_OK;
    }
    return SGP32_ERR_ASN1_UNEXPECTED_TAG;
}

/* Base64 DER of a key or certificate. signing: the eIM's package key, which must be a usable EC
 * key (an eUICC refuses anything else with commandError); the TLS anchor is only checked for form. */
static int get_key_data(op_ctx *c, json_t *obj, const char *key, bool signing, json_t *canon, bool *present,
                        bool *is_certificate, sgp32_bytes *out)
{
    const char *s;
    size_t n;
    *present = false;
    int rc = get_string(c, obj, key, false, 1, 4 * OP_KEY_DER_MAX, &s, &n);
    if (rc || !s)
        return rc;
    size_t old = push_key(c, key);
    sgp32_buf der;
    sgp32_buf_init(&der, OP_KEY_DER_MAX);
    if (sgp32_base64_decode(s, n, &der) != SGP32_OK || der.len == 0) {
        rc = fail(c, "expected base64 DER of at most %d bytes", OP_KEY_DER_MAX);
        goto out;
    }
    if (key_data_shape(der.data, der.len, is_certificate) != SGP32_OK) {
        rc = fail(c, "expected a SubjectPublicKeyInfo or an X.509 certificate (DER)");
        goto out;
    }
    if (signing && !*is_certificate) {
        sgp32_ec_public_key pub;
        if (sgp32_ec_public_from_spki(der.data, der.len, &pub) != SGP32_OK) {
            rc = fail(c, "not an EC public key on a supported curve");
            goto out;
        }
    } else if (signing) {
        sgp32_certificate *cert = sgp32_alloc(sizeof(*cert));
        if (!cert) {
            rc = SGP32_ERR_NO_MEMORY;
            goto out;
        }
        int prc = sgp32_cert_parse(der.data, der.len, cert);
        sgp32_free(cert, sizeof(*cert));
        if (prc) {
            rc = fail(c, "certificate does not parse: %s", sgp32_err_str(prc));
            goto out;
        }
    }
    *out = arena_copy(c, der.data, der.len);
    if (!out->data) {
        rc = SGP32_ERR_NO_MEMORY;
        goto out;
    }
    /* canonical: base64 re-encoded (no white space) */
    char *text = sgp32_arena_alloc(c->arena, sgp32_base64_encoded_len(der.len) + 1);
    if (!text) {
        rc = SGP32_ERR_NO_MEMORY;
        goto out;
    }
    sgp32_base64_encode(der.data, der.len, text);
    rc = set(canon, key, json_string(text));
    *present = !rc;
out:
    sgp32_buf_free(&der);
    pop(c, old);
    return rc;
}

static const char *const protocol_names[] = {"retrieveHttps", "retrieveCoaps", "injectHttps", "injectCoaps",
                                             "proprietary"};
static const char *const eim_id_type_names[] = {"oid", "fqdn", "proprietary"};

static int get_protocols(op_ctx *c, json_t *obj, json_t *canon, bool *present, uint32_t *bits)
{
    json_t *v = json_object_get(obj, "protocols");
    *present = false;
    *bits = 0;
    if (!v)
        return SGP32_OK;
    size_t old = push_key(c, "protocols");
    int rc = SGP32_OK;
    json_t *list = json_array();
    if (!list) {
        rc = SGP32_ERR_NO_MEMORY;
        goto out;
    }
    if (!json_is_array(v) || json_array_size(v) == 0 ||
        json_array_size(v) > SGP32_ARRAY_LEN(protocol_names)) {
        rc = fail(c, "expected a list of 1 to %zu protocol names", SGP32_ARRAY_LEN(protocol_names));
        goto out;
    }
    for (size_t i = 0; i < json_array_size(v) && !rc; i++) {
        json_t *e = json_array_get(v, i);
        size_t at = push_index(c, i);
        size_t bit = SGP32_ARRAY_LEN(protocol_names);
        for (size_t k = 0; json_is_string(e) && k < SGP32_ARRAY_LEN(protocol_names); k++)
            if (strcmp(json_string_value(e), protocol_names[k]) == 0)
                bit = k;
        if (bit == SGP32_ARRAY_LEN(protocol_names))
            rc = fail(c, "expected retrieveHttps, retrieveCoaps, injectHttps, injectCoaps or proprietary");
        else if (*bits & (1u << bit))
            rc = fail(c, "listed twice");
        else
            *bits |= 1u << bit;
        pop(c, at);
    }
    /* canonical: in bit order */
    for (size_t k = 0; !rc && k < SGP32_ARRAY_LEN(protocol_names); k++)
        if ((*bits & (1u << k)) && json_array_append_new(list, json_string(protocol_names[k])) != 0)
            rc = SGP32_ERR_NO_MEMORY;
    if (!rc) {
        rc = set(canon, "protocols", list);
        list = NULL;
        *present = !rc;
    }
out:
    json_decref(list);
    pop(c, old);
    return rc;
}

static int eco_eim_config(op_ctx *c, json_t *v, json_t *canon, bool add, sgp32_eim_configuration_data *d)
{
    static const char *const keys[] = {"eimId",
                                       "eimFqdn",
                                       "eimIdType",
                                       "counterValue",
                                       "associationToken",
                                       "eimPublicKey",
                                       "trustedTls",
                                       "protocols",
                                       "euiccCiPKId",
                                       "indirectProfileDownload",
                                       NULL};
    const char *s;
    size_t n;
    bool present, cert;
    json_t *text = NULL;
    int rc = expect_object(c, v, keys);
    if (!rc)
        rc = get_string(c, v, "eimId", true, 1, OP_EIM_ID_MAX, &s, &n);
    if (!rc) {
        d->eim_id = arena_copy(c, s, n);
        rc = d->eim_id.data ? set(canon, "eimId", json_stringn(s, n)) : SGP32_ERR_NO_MEMORY;
    }
    if (!rc)
        rc = get_address(c, v, "eimFqdn", false, 1, canon, &d->has_eim_fqdn, &d->eim_fqdn);
    if (!rc)
        rc = get_string(c, v, "eimIdType", false, 1, 32, &s, &n);
    if (!rc && s) {
        for (size_t k = 0; k < SGP32_ARRAY_LEN(eim_id_type_names) && !d->has_eim_id_type; k++)
            if (strcmp(s, eim_id_type_names[k]) == 0) {
                d->has_eim_id_type = true;
                d->eim_id_type = (int64_t)k + 1;
            }
        if (!d->has_eim_id_type) {
            size_t old = push_key(c, "eimIdType");
            rc = fail(c, "expected oid, fqdn or proprietary");
            pop(c, old);
        } else {
            rc = set(canon, "eimIdType", json_string(s));
        }
    }
    if (!rc)
        rc = get_int(c, v, "counterValue", 0, OP_COUNTER_MAX, &d->has_counter_value, &d->counter_value);
    if (!rc && d->has_counter_value)
        rc = set(canon, "counterValue", json_integer(d->counter_value));
    /* addEim: -1 asks the eUICC to generate the token (NOTES §8.7) */
    if (!rc)
        rc = get_int(c, v, "associationToken", add ? -1 : 0, OP_COUNTER_MAX, &d->has_association_token,
                     &d->association_token);
    if (!rc && d->has_association_token)
        rc = set(canon, "associationToken", json_integer(d->association_token));
    if (!rc) {
        sgp32_bytes der = {NULL, 0};
        rc = get_key_data(c, v, "eimPublicKey", true, canon, &present, &cert, &der);
        if (!rc && present) {
            d->has_eim_public_key_data = true;
            d->eim_public_key_data.choice =
                cert ? SGP32_EIM_CONFIGURATION_DATA_EIM_PUBLIC_KEY_DATA_EIM_CERTIFICATE
                     : SGP32_EIM_CONFIGURATION_DATA_EIM_PUBLIC_KEY_DATA_EIM_PUBLIC_KEY;
            if (cert)
                d->eim_public_key_data.u.eim_certificate = der;
            else
                d->eim_public_key_data.u.eim_public_key = der;
        } else if (!rc && add) {
            size_t old = push_key(c, "eimPublicKey");
            rc = fail(c, "required for addEim (the key that verifies the new eIM's packages)");
            pop(c, old);
        }
    }
    if (!rc) {
        sgp32_bytes der = {NULL, 0};
        rc = get_key_data(c, v, "trustedTls", false, canon, &present, &cert, &der);
        if (!rc && present) {
            d->has_trusted_public_key_data_tls = true;
            d->trusted_public_key_data_tls.choice =
                cert ? SGP32_EIM_CONFIGURATION_DATA_TRUSTED_PUBLIC_KEY_DATA_TLS_TRUSTED_CERTIFICATE_TLS
                     : SGP32_EIM_CONFIGURATION_DATA_TRUSTED_PUBLIC_KEY_DATA_TLS_TRUSTED_EIM_PK_TLS;
            if (cert)
                d->trusted_public_key_data_tls.u.trusted_certificate_tls = der;
            else
                d->trusted_public_key_data_tls.u.trusted_eim_pk_tls = der;
        }
    }
    if (!rc)
        rc = get_protocols(c, v, canon, &d->has_eim_supported_protocol, &d->eim_supported_protocol);
    if (!rc)
        rc = get_hex(c, v, "euiccCiPKId", 1, 32, &d->has_euicc_ci_pk_id, &d->euicc_ci_pk_id, &text);
    if (!rc && d->has_euicc_ci_pk_id)
        rc = set(canon, "euiccCiPKId", text);
    if (!rc)
        rc = get_bool(c, v, "indirectProfileDownload", &present, &d->indirect_profile_download);
    if (!rc && d->indirect_profile_download)
        rc = set(canon, "indirectProfileDownload", json_true());
    return rc;
}

static int eco_add_eim(op_ctx *c, json_t *v, json_t *canon, sgp32_eco *e)
{
    return eco_eim_config(c, v, canon, true, &e->u.add_eim);
}

static int eco_update_eim(op_ctx *c, json_t *v, json_t *canon, sgp32_eco *e)
{
    return eco_eim_config(c, v, canon, false, &e->u.update_eim);
}

static int eco_delete_eim(op_ctx *c, json_t *v, json_t *canon, sgp32_eco *e)
{
    static const char *const keys[] = {"eimId", NULL};
    const char *s;
    size_t n;
    int rc = expect_object(c, v, keys);
    if (!rc)
        rc = get_string(c, v, "eimId", true, 1, OP_EIM_ID_MAX, &s, &n);
    if (!rc) {
        e->u.delete_eim.eim_id = arena_copy(c, s, n);
        rc = e->u.delete_eim.eim_id.data ? set(canon, "eimId", json_stringn(s, n)) : SGP32_ERR_NO_MEMORY;
    }
    return rc;
}

static int eco_list_eim(op_ctx *c, json_t *v, json_t *canon, sgp32_eco *e)
{
    (void)canon;
    (void)e;
    return expect_object(c, v, no_keys);
}

static const struct {
    const char *name;
    int choice;
    int (*parse)(op_ctx *c, json_t *v, json_t *canon, sgp32_eco *e);
} eco_actions[] = {
    {"addEim", SGP32_ECO_ADD_EIM, eco_add_eim},
    {"deleteEim", SGP32_ECO_DELETE_EIM, eco_delete_eim},
    {"updateEim", SGP32_ECO_UPDATE_EIM, eco_update_eim},
    {"listEim", SGP32_ECO_LIST_EIM, eco_list_eim},
};

/* ------------------------------------------------------------ action lists */

static int psmo_index(const char *name)
{
    for (size_t i = 0; i < SGP32_ARRAY_LEN(psmo_actions); i++)
        if (strcmp(name, psmo_actions[i].name) == 0)
            return (int)i;
    return -1;
}

static int eco_index(const char *name)
{
    for (size_t i = 0; i < SGP32_ARRAY_LEN(eco_actions); i++)
        if (strcmp(name, eco_actions[i].name) == 0)
            return (int)i;
    return -1;
}

/* One action {"name": {...}} of a psmo or eco list. */
static int parse_action(op_ctx *c, json_t *action, bool eco, size_t index, json_t *canon_list)
{
    if (!json_is_object(action) || json_object_size(action) != 1)
        return fail(c, "expected an object with exactly one action key");
    const char *name = json_object_iter_key(json_object_iter(action));
    json_t *body = json_object_iter_value(json_object_iter(action));
    size_t old = push_key(c, name);
    int rc = SGP32_OK;
    json_t *canon = json_object(), *wrapper = json_object();
    if (!canon || !wrapper) {
        rc = SGP32_ERR_NO_MEMORY;
        goto out;
    }
    int p = psmo_index(name), e = eco_index(name);
    if (eco && e < 0) {
        rc = p >= 0 ? fail(c, "a PSMO in an eco list: a package is all PSMOs or all eCOs")
                    : fail(c, "unknown eCO (expected addEim, updateEim, deleteEim or listEim)");
    } else if (!eco && p < 0) {
        rc = e >= 0 ? fail(c, "an eCO in a psmo list: a package is all PSMOs or all eCOs")
                    : fail(c, "unknown PSMO (expected enable, disable, delete, listProfileInfo, getRAT, "
                              "configureImmediateEnable, setFallbackAttribute, unsetFallbackAttribute or "
                              "setDefaultDpAddress)");
    } else if (eco) {
        c->ecos[index].choice = eco_actions[e].choice;
        rc = eco_actions[e].parse(c, body, canon, &c->ecos[index]);
    } else {
        c->psmos[index].choice = psmo_actions[p].choice;
        rc = psmo_actions[p].parse(c, body, canon, &c->psmos[index]);
    }
    if (!rc) {
        rc = set(wrapper, name, canon);
        canon = NULL;
    }
    if (!rc) {
        rc = json_array_append_new(canon_list, wrapper) ? SGP32_ERR_NO_MEMORY : SGP32_OK;
        wrapper = NULL;
    }
out:
    json_decref(canon);
    json_decref(wrapper);
    pop(c, old);
    return rc;
}

static int parse_list(op_ctx *c, json_t *list, bool eco, json_t *canon_list)
{
    if (!json_is_array(list) || json_array_size(list) < 1 || json_array_size(list) > OP_ACTIONS_MAX)
        return fail(c, "expected a list of 1 to %d actions", OP_ACTIONS_MAX);
    size_t count = json_array_size(list);
    if (eco)
        c->ecos = sgp32_arena_alloc(c->arena, count * sizeof(sgp32_eco));
    else
        c->psmos = sgp32_arena_alloc(c->arena, count * sizeof(sgp32_psmo));
    if (!c->ecos && !c->psmos)
        return SGP32_ERR_NO_MEMORY;
    c->count = count;
    for (size_t i = 0; i < count; i++) {
        size_t old = push_index(c, i);
        int rc = parse_action(c, json_array_get(list, i), eco, i, canon_list);
        pop(c, old);
        if (rc)
            return rc;
    }
    return SGP32_OK;
}

/* ------------------------------------------------------------ ipaEuiccData */

/* IpaEuiccData fields a v1.2 tagList may name (SGP32Definitions IpaEuiccData; NOTES §8.8). */
static const struct {
    const char *name;
    uint16_t tag;
} ipa_tags[] = {
    {"notificationsList", 0xA0}, {"defaultSmdpAddress", 0x81}, {"euiccPackageResultList", 0xA2},
    {"euiccInfo1", 0xBF20},      {"euiccInfo2", 0xBF22},       {"rootSmdsAddress", 0x83},
    {"associationToken", 0x84},  {"eumCertificate", 0xA5},     {"euiccCertificate", 0xA6},
    {"ipaCapabilities", 0xA8},   {"deviceInfo", 0xA9},
};

static int parse_ipa_euicc_data(op_ctx *c, json_t *v, json_t *canon)
{
    static const char *const keys[] = {"tags",      "notificationSeq", "notificationEvent",
                                       "resultSeq", "euiccCiPKId",     NULL};
    sgp32_ipa_euicc_data_request *r = &c->ipa;
    int rc = expect_object(c, v, keys);
    if (rc)
        return rc;
    json_t *tags = json_object_get(v, "tags");
    size_t old = push_key(c, "tags");
    if (!tags)
        rc = fail(c, "required");
    else if (!json_is_array(tags) || json_array_size(tags) < 1 ||
             json_array_size(tags) > SGP32_ARRAY_LEN(ipa_tags))
        rc = fail(c, "expected a list of 1 to %zu IpaEuiccData field names", SGP32_ARRAY_LEN(ipa_tags));
    uint8_t list[2 * SGP32_ARRAY_LEN(ipa_tags)];
    size_t len = 0;
    uint32_t seen = 0;
    json_t *names = rc ? NULL : json_array();
    if (!rc && !names)
        rc = SGP32_ERR_NO_MEMORY;
    for (size_t i = 0; !rc && i < json_array_size(tags); i++) {
        json_t *e = json_array_get(tags, i);
        size_t at = push_index(c, i);
        size_t k = SGP32_ARRAY_LEN(ipa_tags);
        for (size_t j = 0; json_is_string(e) && j < SGP32_ARRAY_LEN(ipa_tags); j++)
            if (strcmp(json_string_value(e), ipa_tags[j].name) == 0)
                k = j;
        if (k == SGP32_ARRAY_LEN(ipa_tags)) {
            rc = fail(c, "unknown IpaEuiccData field (expected notificationsList, defaultSmdpAddress, "
                         "euiccPackageResultList, euiccInfo1, euiccInfo2, rootSmdsAddress, associationToken, "
                         "eumCertificate, euiccCertificate, ipaCapabilities or deviceInfo)");
        } else if (seen & (1u << k)) {
            rc = fail(c, "listed twice");
        } else {
            seen |= 1u << k;
            if (ipa_tags[k].tag > 0xFF)
                list[len++] = (uint8_t)(ipa_tags[k].tag >> 8);
            list[len++] = (uint8_t)ipa_tags[k].tag;
            if (json_array_append_new(names, json_string(ipa_tags[k].name)) != 0)
                rc = SGP32_ERR_NO_MEMORY;
        }
        pop(c, at);
    }
    pop(c, old);
    if (!rc) {
        r->tag_list = arena_copy(c, list, len);
        rc = r->tag_list.data ? set(canon, "tags", names) : SGP32_ERR_NO_MEMORY;
        names = NULL;
    }
    json_decref(names);
    bool has_seq = false, has_event = false, has_result = false;
    int64_t seq = 0, event = 0, result = 0;
    if (!rc)
        rc = get_int(c, v, "notificationSeq", 0, OP_COUNTER_MAX, &has_seq, &seq);
    /* a NotificationEvent bit: install 0, enable 1, disable 2, delete 3 */
    if (!rc)
        rc = get_int(c, v, "notificationEvent", 0, 3, &has_event, &event);
    if (!rc && has_seq && has_event)
        rc = fail(c, "notificationSeq and notificationEvent are alternatives: give one at most");
    if (!rc && has_seq) {
        r->has_search_criteria_notification = true;
        r->search_criteria_notification.choice =
            SGP32_IPA_EUICC_DATA_REQUEST_SEARCH_CRITERIA_NOTIFICATION_SEQ_NUMBER;
        r->search_criteria_notification.u.seq_number = seq;
        rc = set(canon, "notificationSeq", json_integer(seq));
    } else if (!rc && has_event) {
        r->has_search_criteria_notification = true;
        r->search_criteria_notification.choice =
            SGP32_IPA_EUICC_DATA_REQUEST_SEARCH_CRITERIA_NOTIFICATION_PROFILE_MANAGEMENT_OPERATION;
        r->search_criteria_notification.u.profile_management_operation = 1u << event;
        rc = set(canon, "notificationEvent", json_integer(event));
    }
    if (!rc)
        rc = get_int(c, v, "resultSeq", 0, OP_COUNTER_MAX, &has_result, &result);
    if (!rc && has_result) {
        r->has_search_criteria_euicc_package_result = true;
        r->search_criteria_euicc_package_result.choice =
            SGP32_IPA_EUICC_DATA_REQUEST_SEARCH_CRITERIA_EUICC_PACKAGE_RESULT_SEQ_NUMBER;
        r->search_criteria_euicc_package_result.u.seq_number = result;
        rc = set(canon, "resultSeq", json_integer(result));
    }
    json_t *text = NULL;
    if (!rc)
        rc = get_hex(c, v, "euiccCiPKId", 1, 32, &r->has_euicc_ci_pk_identifier_to_be_used,
                     &r->euicc_ci_pk_identifier_to_be_used, &text);
    if (!rc && r->has_euicc_ci_pk_identifier_to_be_used)
        rc = set(canon, "euiccCiPKId", text);
    return rc;
}

/* ------------------------------------------------------------ download */

/* An activation code without "LPA:": 1$address$matchingId[$oid[$1]] (SGP.22 §4.1; NOTES §6.4). */
static bool activation_code_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7E)
            return false;
    const char *field[6];
    size_t flen[6], count = 0;
    const char *p = s, *end = s + n;
    while (count < 6) {
        const char *d = memchr(p, '$', (size_t)(end - p));
        field[count] = p;
        flen[count++] = (size_t)((d ? d : end) - p);
        if (!d)
            break;
        p = d + 1;
    }
    if (count < 3 || count > 5 || flen[0] != 1 || field[0][0] != '1')
        return false;
    if (flen[1] == 0 || !address_chars_ok(field[1], flen[1]))
        return false;
    if (count >= 4 && flen[3]) {
        char oid[128];
        uint8_t storage[128];
        sgp32_buf b;
        sgp32_buf_init_fixed(&b, storage, sizeof(storage));
        if (flen[3] >= sizeof(oid))
            return false;
        memcpy(oid, field[3], flen[3]);
        oid[flen[3]] = '\0';
        if (sgp32_asn1_oid_from_text(oid, &b) != SGP32_OK || b.len == 0)
            return false;
    }
    return count < 5 || (flen[4] == 1 && field[4][0] == '1');
}

static int parse_download(op_ctx *c, json_t *v, json_t *canon)
{
    static const char *const keys[] = {"activationCode", "defaultSmdp", "smds", NULL};
    sgp32_profile_download_trigger_request *r = &c->download;
    int rc = expect_object(c, v, keys);
    if (rc)
        return rc;
    if (json_object_size(v) > 1)
        return fail(c, "activationCode, defaultSmdp and smds are alternatives: give one at most");
    const char *s;
    size_t n;
    bool present, flag;
    rc = get_string(c, v, "activationCode", false, 1, OP_AC_MAX + 4, &s, &n);
    if (!rc && s) {
        if (n >= 4 && (s[0] == 'L' || s[0] == 'l') && (s[1] == 'P' || s[1] == 'p') &&
            (s[2] == 'A' || s[2] == 'a') && s[3] == ':') {
            s += 4;
            n -= 4;
        }
        size_t old = push_key(c, "activationCode");
        if (n > OP_AC_MAX || !activation_code_ok(s, n))
            rc = fail(
                c, "expected 1$<SM-DP+ address>$<matching ID>[$<SM-DP+ OID>[$1]] (255 characters at most)");
        pop(c, old);
        if (!rc) {
            r->has_profile_download_data = true;
            r->profile_download_data.choice = SGP32_PROFILE_DOWNLOAD_DATA_ACTIVATION_CODE;
            r->profile_download_data.u.activation_code = arena_copy(c, s, n);
            rc = r->profile_download_data.u.activation_code.data
                     ? set(canon, "activationCode", json_stringn(s, n))
                     : SGP32_ERR_NO_MEMORY;
        }
    }
    if (!rc)
        rc = get_bool(c, v, "defaultSmdp", &present, &flag);
    if (!rc && present) {
        if (!flag) {
            size_t old = push_key(c, "defaultSmdp");
            rc = fail(c, "expected true (leave it out otherwise)");
            pop(c, old);
        } else {
            r->has_profile_download_data = true;
            r->profile_download_data.choice = SGP32_PROFILE_DOWNLOAD_DATA_CONTACT_DEFAULT_SMDP;
            rc = set(canon, "defaultSmdp", json_true());
        }
    }
    /* smds: "" asks for contactSmds without an address (the eUICC's root SM-DS) */
    sgp32_profile_download_data_contact_smds *smds = &r->profile_download_data.u.contact_smds;
    if (!rc && json_object_get(v, "smds")) {
        rc = get_address(c, v, "smds", true, 0, canon, &smds->has_smds_address, &smds->smds_address);
        smds->has_smds_address = smds->has_smds_address && smds->smds_address.len > 0;
        if (!rc) {
            r->has_profile_download_data = true;
            r->profile_download_data.choice = SGP32_PROFILE_DOWNLOAD_DATA_CONTACT_SMDS;
        }
    }
    return rc;
}

/* ------------------------------------------------------------ the operation */

static int walk(op_ctx *c, json_t *root)
{
    static const char *const kinds[] = {"psmo", "eco", "ipaEuiccData", "download"};
    if (!json_is_object(root))
        return fail(c, "expected an object with one of psmo, eco, ipaEuiccData, download");
    if (json_object_get(root, "psmo") && json_object_get(root, "eco"))
        return fail(c, "psmo and eco cannot be mixed: a package is all PSMOs or all eCOs");
    if (json_object_size(root) != 1)
        return fail(c, "expected exactly one of psmo, eco, ipaEuiccData, download");
    const char *key = json_object_iter_key(json_object_iter(root));
    json_t *value = json_object_iter_value(json_object_iter(root));
    size_t k = 0;
    while (k < SGP32_ARRAY_LEN(kinds) && strcmp(key, kinds[k]) != 0)
        k++;
    size_t old = push_key(c, key);
    int rc = SGP32_OK;
    json_t *body = k < 2 ? json_array() : json_object();
    c->canonical = json_object();
    if (!body || !c->canonical) {
        rc = SGP32_ERR_NO_MEMORY;
        goto out;
    }
    switch (k) {
    case 0:
        c->kind = SGP32_EIM_OP_PSMO;
        rc = parse_list(c, value, false, body);
        break;
    case 1:
        c->kind = SGP32_EIM_OP_ECO;
        rc = parse_list(c, value, true, body);
        break;
    case 2:
        c->kind = SGP32_EIM_OP_IPA_EUICC_DATA;
        rc = parse_ipa_euicc_data(c, value, body);
        break;
    case 3:
        c->kind = SGP32_EIM_OP_DOWNLOAD;
        rc = parse_download(c, value, body);
        break;
    default: rc = fail(c, "unknown operation (expected psmo, eco, ipaEuiccData or download)"); break;
    }
    if (!rc) {
        rc = set(c->canonical, key, body);
        body = NULL;
    }
out:
    json_decref(body);
    pop(c, old);
    return rc;
}

static void ctx_init(op_ctx *c, sgp32_arena *arena, char *error, size_t error_size)
{
    memset(c, 0, sizeof(*c));
    c->arena = arena;
    c->error = error;
    c->error_size = error_size;
    if (error && error_size)
        error[0] = '\0';
}

void sgp32_eim_operation_spec_init(sgp32_eim_operation_spec *spec)
{
    if (!spec)
        return;
    memset(spec, 0, sizeof(*spec));
    sgp32_buf_init(&spec->canonical, SGP32_EIM_OPERATION_JSON_MAX + 1);
}

void sgp32_eim_operation_spec_free(sgp32_eim_operation_spec *spec)
{
    if (!spec)
        return;
    sgp32_buf_free(&spec->canonical);
    sgp32_eim_operation_spec_init(spec);
}

int sgp32_eim_operation_parse_json(const void *json_value, sgp32_eim_operation_spec *spec, char *error,
                                   size_t error_size)
{
    if (!json_value || !spec)
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_arena arena;
    sgp32_arena_init(&arena, OP_ARENA_CAP);
    op_ctx c;
    ctx_init(&c, &arena, error, error_size);
    char *text = NULL;
    int rc = walk(&c, (json_t *)json_value);
    if (rc)
        goto out;
    text = json_dumps(c.canonical, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text) {
        rc = SGP32_ERR_NO_MEMORY;
        goto out;
    }
    size_t n = strlen(text);
    if (n > SGP32_EIM_OPERATION_JSON_MAX) {
        rc = fail(&c, "the operation is larger than %d bytes", SGP32_EIM_OPERATION_JSON_MAX);
        goto out;
    }
    sgp32_buf_reset(&spec->canonical);
    rc = sgp32_buf_append(&spec->canonical, text, n + 1); /* NUL-terminated; len excludes it */
    if (rc)
        goto out;
    spec->canonical.len = n;
    spec->kind = c.kind;
out:
    free(text);
    json_decref(c.canonical);
    sgp32_arena_free(&arena);
    return rc;
}

int sgp32_eim_operation_parse(const char *text, size_t len, sgp32_eim_operation_spec *spec, char *error,
                              size_t error_size)
{
    if (!text || !spec)
        return SGP32_ERR_INVALID_ARGUMENT;
    if (error && error_size)
        error[0] = '\0';
    if (len > SGP32_EIM_OPERATION_JSON_MAX) {
        if (error && error_size)
            snprintf(error, error_size, "operation: larger than %d bytes", SGP32_EIM_OPERATION_JSON_MAX);
        return SGP32_ERR_BAD_TEXT;
    }
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (error && error_size)
            snprintf(error, error_size, "operation: malformed JSON at line %d column %d: %.100s", jerr.line,
                     jerr.column, jerr.text);
        return SGP32_ERR_BAD_TEXT;
    }
    int rc = sgp32_eim_operation_parse_json(root, spec, error, error_size);
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------ build */

/* 32 EID digits -> 16 bytes of plain BCD. */
static int eid_bytes(const char *eid, uint8_t out[16])
{
    if (strlen(eid) != SGP32_EIM_EID_DIGITS || strspn(eid, "0123456789") != SGP32_EIM_EID_DIGITS)
        return SGP32_ERR_BAD_TEXT;
    for (size_t i = 0; i < 16; i++)
        out[i] = (uint8_t)((eid[2 * i] - '0') << 4 | (eid[2 * i + 1] - '0'));
    return SGP32_OK;
}

int sgp32_eim_operation_build(const sgp32_eim_signer *signer, const sgp32_eim_operation *op,
                              const sgp32_eim_euicc *euicc, int64_t counter_value, sgp32_buf *out)
{
    if (!op || !euicc || !out || !op->request.data)
        return SGP32_ERR_INVALID_ARGUMENT;
    bool signed_package = op->kind == SGP32_EIM_OP_PSMO || op->kind == SGP32_EIM_OP_ECO;
    if (signed_package && (!signer || !signer->key || !signer->eim_id || !signer->eim_id[0] ||
                           strlen(signer->eim_id) > OP_EIM_ID_MAX || counter_value < 0))
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_arena arena;
    sgp32_arena_init(&arena, OP_ARENA_CAP);
    op_ctx c;
    ctx_init(&c, &arena, NULL, 0);
    size_t start = out->len;
    uint8_t txid[SGP32_EIM_TXID_LEN], eid[16];
    sgp32_eim_transaction_id(op->id, txid);
    int rc = SGP32_OK;
    json_t *root = json_loadb((const char *)op->request.data, op->request.len, JSON_REJECT_DUPLICATES, NULL);
    if (!root) {
        rc = SGP32_ERR_BAD_TEXT;
        goto out;
    }
    rc = walk(&c, root);
    if (rc)
        goto out;
    if (c.kind != op->kind) {
        rc = SGP32_ERR_INVALID_ARGUMENT;
        goto out;
    }
    switch (op->kind) {
    case SGP32_EIM_OP_PSMO:
    case SGP32_EIM_OP_ECO: {
        rc = eid_bytes(op->eid, eid);
        if (rc)
            goto out;
        sgp32_euicc_package_signed p;
        memset(&p, 0, sizeof(p));
        p.eim_id = SGP32_BYTES(signer->eim_id, strlen(signer->eim_id));
        p.eid_value = SGP32_BYTES(eid, sizeof(eid));
        p.counter_value = counter_value;
        p.has_eim_transaction_id = true;
        p.eim_transaction_id = SGP32_BYTES(txid, sizeof(txid));
        if (op->kind == SGP32_EIM_OP_PSMO) {
            p.euicc_package.choice = SGP32_EUICC_PACKAGE_PSMO_LIST;
            p.euicc_package.u.psmo_list.items = c.psmos;
            p.euicc_package.u.psmo_list.count = c.count;
        } else {
            p.euicc_package.choice = SGP32_EUICC_PACKAGE_ECO_LIST;
            p.euicc_package.u.eco_list.items = c.ecos;
            p.euicc_package.u.eco_list.count = c.count;
        }
        rc = sgp32_eim_package_sign(&p, signer->key, euicc->has_token, euicc->token, out);
        break;
    }
    case SGP32_EIM_OP_IPA_EUICC_DATA:
        c.ipa.has_eim_transaction_id = true;
        c.ipa.eim_transaction_id = SGP32_BYTES(txid, sizeof(txid));
        rc = sgp32_asn1_encode(&sgp32_type_ipa_euicc_data_request, &c.ipa, out);
        break;
    case SGP32_EIM_OP_DOWNLOAD:
        c.download.has_eim_transaction_id = true;
        c.download.eim_transaction_id = SGP32_BYTES(txid, sizeof(txid));
        rc = sgp32_asn1_encode(&sgp32_type_profile_download_trigger_request, &c.download, out);
        break;
    default: rc = SGP32_ERR_INVALID_ARGUMENT; break;
    }
out:
    if (rc)
        out->len = start;
    json_decref(root);
    json_decref(c.canonical);
    sgp32_arena_free(&arena);
    return rc;
}

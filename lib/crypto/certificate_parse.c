/*
 * Parse an eSIM certificate into sgp32_certificate (include/sgp32/certificate.h).
 *
 * SGP.22 §4.5 fixes what the RSP certificates carry: the role as a critical
 * certificatePolicies OID 2.23.146.1.2.1.x, SKI/AKI for chain building (CI
 * PKID = CI SKI), the SM-DP+ OID as SAN registeredID, the EID as the eUICC
 * subject serialNumber and, in the EUM, the permitted EID range as critical
 * nameConstraints (variant O) or the permittedEins extension (newer variants).
 * We extract exactly those facts into a plain struct so the checks of
 * certificate_verify.c (and callers outside lib/crypto) need no OpenSSL type.
 * Parsing judges nothing: a wrong role or an expired date is the verifier's call.
 */
#include <limits.h>
#include <string.h>

#include "certificate_internal.h"
#include "sgp32/alloc.h"
#include "sgp32/asn1.h"

#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

/*
 * The Certificate (RFC 5280 §4.1) for OpenSSL's template decoder, with the subjectPublicKeyInfo as
 * its two plain fields. d2i_X509 would also turn the key into an EVP_PKEY through the provider
 * decoder framework, which costs OpenSSL 3.0 a few hundred microseconds per certificate: more than
 * verifying its signature, and an SM-DP+ meets a new CERT.EUICC at every download. The key is
 * read here directly (named curve, point validated), names, times and extensions stay OpenSSL's.
 */
typedef struct certi_spki {
    X509_ALGOR *algorithm;
    ASN1_BIT_STRING *key;
} CERTI_SPKI;

typedef struct certi_tbs {
    ASN1_INTEGER *version;
    ASN1_INTEGER *serial;
    X509_ALGOR *signature;
    X509_NAME *issuer;
    X509_VAL *validity;
    X509_NAME *subject;
    CERTI_SPKI *key;
    ASN1_BIT_STRING *issuer_uid, *subject_uid;
    STACK_OF(X509_EXTENSION) * extensions;
} CERTI_TBS;

typedef struct certi_cert {
    CERTI_TBS *tbs;
    X509_ALGOR *signature_algorithm;
    ASN1_BIT_STRING *signature;
} CERTI_CERT;

/* The templates are at the end of the file (clang-format cannot lay out OpenSSL's macros, and
 * stops formatting what follows them). */
static const ASN1_ITEM *CERTI_CERT_it(void);

static const char *const role_names[] = {"ci",      "euicc", "eum",    "dp-tls",
                                         "dp-auth", "dp-pb", "ds-tls", "ds-auth"};

const char *sgp32_cert_role_name(sgp32_cert_role role)
{
    if (role >= SGP32_CERT_ROLE_CI && role <= SGP32_CERT_ROLE_DS_AUTH)
        return role_names[role];
    return "none";
}

int sgp32_cert_role_from_name(const char *name, sgp32_cert_role *role)
{
    if (!name || !role)
        return SGP32_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < SGP32_ARRAY_LEN(role_names); i++) {
        if (strcmp(name, role_names[i]) == 0) {
            *role = (sgp32_cert_role)i;
            return SGP32_OK;
        }
    }
    if (strcmp(name, "none") == 0) {
        *role = SGP32_CERT_ROLE_NONE;
        return SGP32_OK;
    }
    return SGP32_ERR_INVALID_ARGUMENT;
}

/* Copy an ASN1 string as UTF-8 text; embedded NULs and overlong values are parse errors. */
static int copy_string(const ASN1_STRING *s, char *out, size_t out_size, int err)
{
    unsigned char *utf8 = NULL;
    int n = ASN1_STRING_to_UTF8(&utf8, s);
    if (n < 0)
        return err;
    int rc = SGP32_OK;
    if ((size_t)n >= out_size || memchr(utf8, 0, (size_t)n))
        rc = err;
    else {
        memcpy(out, utf8, (size_t)n);
        out[n] = '\0';
    }
    OPENSSL_free(utf8);
    return rc;
}

static int parse_name(const X509_NAME *name, sgp32_cert_name *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < X509_NAME_entry_count(name); i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        char *field;
        switch (OBJ_obj2nid(X509_NAME_ENTRY_get_object(e))) {
        case NID_countryName: field = out->country; break;
        case NID_organizationName: field = out->organization; break;
        case NID_organizationalUnitName: field = out->organizational_unit; break;
        case NID_commonName: field = out->common_name; break;
        case NID_serialNumber: field = out->serial_number; break;
        default: continue;
        }
        /* A second O or serialNumber would make the name constraint check ambiguous. */
        if (field[0] != '\0')
            return SGP32_ERR_CERT_PARSE;
        int rc = copy_string(X509_NAME_ENTRY_get_data(e), field, SGP32_CERT_TEXT_MAX, SGP32_ERR_CERT_PARSE);
        if (rc)
            return rc;
        if (field[0] == '\0')
            return SGP32_ERR_CERT_PARSE;
    }
    return SGP32_OK;
}

/* Decode one extension by NID: *value NULL when absent, SGP32_ERR_CERT_EXTENSION
 * when it is repeated or does not decode. */
static int get_ext(const STACK_OF(X509_EXTENSION) * x, int nid, void **value, int *critical)
{
    int crit = -1;
    *value = X509V3_get_d2i(x, nid, &crit, NULL);
    if (critical)
        *critical = crit == 1;
    if (*value)
        return SGP32_OK;
    return crit == -1 ? SGP32_OK : SGP32_ERR_CERT_EXTENSION;
}

static int copy_key_id(const ASN1_OCTET_STRING *s, sgp32_cert_key_id *out)
{
    int n = ASN1_STRING_length(s);
    if (n <= 0 || n > SGP32_CERT_KEY_ID_MAX)
        return SGP32_ERR_CERT_EXTENSION;
    out->len = (size_t)n;
    memcpy(out->id, ASN1_STRING_get0_data(s), out->len);
    return SGP32_OK;
}

static int oid_text(const ASN1_OBJECT *obj, char *out, size_t size)
{
    int n = OBJ_obj2txt(out, (int)size, obj, 1);
    if (n <= 0 || (size_t)n >= size)
        return SGP32_ERR_CERT_EXTENSION;
    return SGP32_OK;
}

/* certificatePolicies -> GSMA role (RSPDefinitions id-rspRole). */
static int parse_policies(const STACK_OF(X509_EXTENSION) * x, sgp32_certificate *cert)
{
    CERTIFICATEPOLICIES *policies;
    int critical;
    int rc = get_ext(x, NID_certificate_policies, (void **)&policies, &critical);
    if (rc || !policies)
        return rc;
    const size_t prefix_len = strlen(SGP32_CERTI_OID_ROLE_PREFIX);
    for (int i = 0; i < sk_POLICYINFO_num(policies) && rc == SGP32_OK; i++) {
        char text[SGP32_CERT_OID_TEXT_MAX];
        rc = oid_text(sk_POLICYINFO_value(policies, i)->policyid, text, sizeof(text));
        if (rc || strncmp(text, SGP32_CERTI_OID_ROLE_PREFIX, prefix_len) != 0)
            continue;
        const char *arc = text + prefix_len;
        sgp32_cert_role role;
        if (strcmp(text, SGP32_CERTI_OID_EUM_V2) == 0)
            role = SGP32_CERT_ROLE_EUM;
        else if (arc[0] >= '0' && arc[0] <= '7' && arc[1] == '\0')
            role = (sgp32_cert_role)(arc[0] - '0');
        else
            continue; /* some other GSMA policy */
        if (cert->role != SGP32_CERT_ROLE_NONE && cert->role != role)
            rc = SGP32_ERR_CERT_EXTENSION; /* two different roles */
        else if (cert->role == SGP32_CERT_ROLE_NONE) {
            cert->role = role;
            cert->role_critical = critical;
            memcpy(cert->policy, text, sizeof(cert->policy));
        }
    }
    CERTIFICATEPOLICIES_free(policies);
    return rc;
}

static int parse_san(const STACK_OF(X509_EXTENSION) * x, sgp32_certificate *cert)
{
    GENERAL_NAMES *names;
    int rc = get_ext(x, NID_subject_alt_name, (void **)&names, NULL);
    if (rc || !names)
        return rc;
    for (int i = 0; i < sk_GENERAL_NAME_num(names) && rc == SGP32_OK; i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        if (gn->type == GEN_RID && cert->registered_id.text[0] == '\0') {
            const ASN1_OBJECT *rid = gn->d.registeredID;
            size_t len = OBJ_length(rid);
            rc = oid_text(rid, cert->registered_id.text, sizeof(cert->registered_id.text));
            if (rc == SGP32_OK && (len == 0 || len > SGP32_CERT_OID_DER_MAX))
                rc = SGP32_ERR_CERT_EXTENSION;
            if (rc == SGP32_OK) {
                memcpy(cert->registered_id.der, OBJ_get0_data(rid), len);
                cert->registered_id.der_len = len;
            }
        } else if (gn->type == GEN_DNS) {
            if (cert->dns_count == SGP32_CERT_DNS_NAMES_MAX)
                rc = SGP32_ERR_CERT_EXTENSION;
            else
                rc = copy_string(gn->d.dNSName, cert->dns_names[cert->dns_count++], SGP32_CERT_DNS_NAME_MAX,
                                 SGP32_ERR_CERT_EXTENSION);
        }
    }
    GENERAL_NAMES_free(names);
    return rc;
}

/* The EUM's permitted directoryName subtree (variant O, NOTES §6.3). Only
 * the first directoryName subtree is kept: an eUICC outside it is refused. */
static int parse_name_constraints(const STACK_OF(X509_EXTENSION) * x, sgp32_certificate *cert)
{
    NAME_CONSTRAINTS *nc;
    int rc = get_ext(x, NID_name_constraints, (void **)&nc, NULL);
    if (rc || !nc)
        return rc;
    for (int i = 0; i < sk_GENERAL_SUBTREE_num(nc->permittedSubtrees); i++) {
        const GENERAL_SUBTREE *st = sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, i);
        if (st->base->type != GEN_DIRNAME)
            continue;
        sgp32_cert_name permitted;
        rc = parse_name(st->base->d.directoryName, &permitted);
        if (rc) {
            rc = SGP32_ERR_CERT_EXTENSION;
            break;
        }
        cert->name_constraint.present = true;
        memcpy(cert->name_constraint.organization, permitted.organization, SGP32_CERT_TEXT_MAX);
        memcpy(cert->name_constraint.serial_number_prefix, permitted.serial_number, SGP32_CERT_TEXT_MAX);
        break;
    }
    NAME_CONSTRAINTS_free(nc);
    return rc;
}

/* permittedEins 2.23.146.1.2.2.0: SEQUENCE OF PrintableString (newer EUM variants). */
static int parse_permitted_eins(const X509_EXTENSION *ext, sgp32_certificate *cert)
{
    const ASN1_OCTET_STRING *value = X509_EXTENSION_get_data((X509_EXTENSION *)ext);
    const unsigned char *p = ASN1_STRING_get0_data(value);
    long len = ASN1_STRING_length(value);
    const unsigned char *start = p;
    ASN1_SEQUENCE_ANY *seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, len);
    if (!seq)
        return SGP32_ERR_CERT_EXTENSION;
    int rc = p - start == len ? SGP32_OK : SGP32_ERR_CERT_EXTENSION;
    for (int i = 0; i < sk_ASN1_TYPE_num(seq) && rc == SGP32_OK; i++) {
        const ASN1_TYPE *t = sk_ASN1_TYPE_value(seq, i);
        if (t->type != V_ASN1_PRINTABLESTRING ||
            cert->permitted_eins_count == SGP32_CERT_PERMITTED_EINS_MAX) {
            rc = SGP32_ERR_CERT_EXTENSION;
            break;
        }
        char *ein = cert->permitted_eins[cert->permitted_eins_count++];
        rc = copy_string(t->value.printablestring, ein, SGP32_CERT_EIN_MAX, SGP32_ERR_CERT_EXTENSION);
        if (rc == SGP32_OK && ein[0] == '\0')
            rc = SGP32_ERR_CERT_EXTENSION;
    }
    sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
    return rc;
}

static bool is_known_extension(const ASN1_OBJECT *obj)
{
    switch (OBJ_obj2nid(obj)) {
    case NID_basic_constraints:
    case NID_key_usage:
    case NID_ext_key_usage:
    case NID_certificate_policies:
    case NID_name_constraints:
    case NID_subject_alt_name:
    case NID_subject_key_identifier:
    case NID_authority_key_identifier:
    case NID_crl_distribution_points: return true;
    default: break;
    }
    return false;
}

static int parse_extensions(const STACK_OF(X509_EXTENSION) * x, sgp32_certificate *cert)
{
    void *v;
    int rc;

    if ((rc = get_ext(x, NID_subject_key_identifier, &v, NULL)))
        return rc;
    if (v) {
        rc = copy_key_id(v, &cert->ski);
        ASN1_OCTET_STRING_free(v);
        if (rc)
            return rc;
    }

    if ((rc = get_ext(x, NID_authority_key_identifier, &v, NULL)))
        return rc;
    if (v) {
        AUTHORITY_KEYID *aki = v;
        if (aki->keyid)
            rc = copy_key_id(aki->keyid, &cert->aki);
        AUTHORITY_KEYID_free(aki);
        if (rc)
            return rc;
    }

    if ((rc = get_ext(x, NID_basic_constraints, &v, NULL)))
        return rc;
    if (v) {
        BASIC_CONSTRAINTS *bc = v;
        cert->has_basic_constraints = true;
        cert->is_ca = bc->ca != 0;
        if (bc->pathlen) {
            long n = ASN1_INTEGER_get(bc->pathlen);
            if (n < 0 || n > 255)
                rc = SGP32_ERR_CERT_EXTENSION;
            cert->path_len = (int)n;
        }
        BASIC_CONSTRAINTS_free(bc);
        if (rc)
            return rc;
    }

    if ((rc = get_ext(x, NID_key_usage, &v, NULL)))
        return rc;
    if (v) {
        cert->has_key_usage = true;
        for (int bit = 0; bit < 9; bit++)
            if (ASN1_BIT_STRING_get_bit(v, bit))
                cert->key_usage |= 1u << bit;
        ASN1_BIT_STRING_free(v);
    }

    if ((rc = get_ext(x, NID_ext_key_usage, &v, NULL)))
        return rc;
    if (v) {
        EXTENDED_KEY_USAGE *eku = v;
        cert->has_ext_key_usage = true;
        for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
            int nid = OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i));
            if (nid == NID_server_auth)
                cert->ext_key_usage |= SGP32_CERT_EKU_SERVER_AUTH;
            else if (nid == NID_client_auth)
                cert->ext_key_usage |= SGP32_CERT_EKU_CLIENT_AUTH;
        }
        EXTENDED_KEY_USAGE_free(eku);
    }

    if ((rc = parse_policies(x, cert)) || (rc = parse_san(x, cert)) || (rc = parse_name_constraints(x, cert)))
        return rc;

    ASN1_OBJECT *eins_oid = OBJ_txt2obj(SGP32_CERTI_OID_PERMITTED_EINS, 1);
    if (!eins_oid)
        return SGP32_ERR_CRYPTO;
    for (int i = 0; i < X509v3_get_ext_count(x) && rc == SGP32_OK; i++) {
        const X509_EXTENSION *ext = X509v3_get_ext(x, i);
        const ASN1_OBJECT *obj = X509_EXTENSION_get_object((X509_EXTENSION *)ext);
        if (OBJ_cmp(obj, eins_oid) == 0) {
            if (cert->permitted_eins_count)
                rc = SGP32_ERR_CERT_EXTENSION; /* repeated */
            else
                rc = parse_permitted_eins(ext, cert);
        } else if (X509_EXTENSION_get_critical(ext) && !is_known_extension(obj)) {
            cert->unknown_critical_extension = true;
        }
    }
    ASN1_OBJECT_free(eins_oid);
    return rc;
}

/* The subjectPublicKeyInfo: id-ecPublicKey on a named supported curve, a valid point (compressed or
 * not; kept uncompressed). */
static int parse_key(const CERTI_SPKI *spki, sgp32_ec_public_key *pub)
{
    const ASN1_OBJECT *algorithm, *curve_oid;
    int ptype;
    const void *pval;
    X509_ALGOR_get0(&algorithm, &ptype, &pval, spki->algorithm);
    if (OBJ_obj2nid(algorithm) != NID_X9_62_id_ecPublicKey)
        return SGP32_ERR_CRYPTO_BAD_KEY;
    if (ptype != V_ASN1_OBJECT)
        return SGP32_ERR_CRYPTO_UNSUPPORTED_CURVE; /* explicit or implicit parameters */
    curve_oid = pval;
    int nid = OBJ_obj2nid(curve_oid);
    sgp32_curve curve = nid == NID_X9_62_prime256v1  ? SGP32_CURVE_NIST_P256
                        : nid == NID_brainpoolP256r1 ? SGP32_CURVE_BRAINPOOL_P256R1
                                                     : (sgp32_curve)-1;
    const EC_GROUP *group = (int)curve >= 0 ? sgp32_crypto_ec_group(curve) : NULL;
    if ((int)curve < 0)
        return SGP32_ERR_CRYPTO_UNSUPPORTED_CURVE;
    if (!group)
        return SGP32_ERR_CRYPTO;
    if (spki->key->flags & 0x07)
        return SGP32_ERR_CRYPTO_BAD_KEY; /* a point is whole bytes */
    EC_POINT *point = EC_POINT_new(group);
    int rc = point &&
                     EC_POINT_oct2point(group, point, ASN1_STRING_get0_data(spki->key),
                                        (size_t)ASN1_STRING_length(spki->key), NULL) == 1 &&
                     EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, pub->point,
                                        sizeof(pub->point), NULL) == sizeof(pub->point)
                 ? SGP32_OK
                 : SGP32_ERR_CRYPTO_BAD_KEY;
    EC_POINT_free(point);
    pub->curve = curve;
    return rc ? rc : sgp32_ec_public_validate(pub);
}

static int parse_tbs(const CERTI_TBS *tbs, sgp32_certificate *cert)
{
    const ASN1_INTEGER *serial = tbs->serial;
    int n = ASN1_STRING_length(serial);
    if (n <= 0 || n > SGP32_CERT_SERIAL_MAX)
        return SGP32_ERR_CERT_PARSE;
    cert->serial_len = (size_t)n;
    memcpy(cert->serial, ASN1_STRING_get0_data(serial), cert->serial_len);

    int rc;
    if ((rc = parse_name(tbs->subject, &cert->subject)) || (rc = parse_name(tbs->issuer, &cert->issuer)))
        return rc;
    cert->self_issued = X509_NAME_cmp(tbs->subject, tbs->issuer) == 0;

    if ((rc = sgp32_certi_time_to_unix(tbs->validity->notBefore, &cert->not_before)) ||
        (rc = sgp32_certi_time_to_unix(tbs->validity->notAfter, &cert->not_after)))
        return rc;

    if ((rc = parse_key(tbs->key, &cert->public_key)) || (rc = parse_extensions(tbs->extensions, cert)))
        return rc;

    /* The EID: 32 digits in the subject serialNumber (check digits judged by the verifier). */
    const char *sn = cert->subject.serial_number;
    if (strlen(sn) == SGP32_EID_DIGITS && strspn(sn, "0123456789") == SGP32_EID_DIGITS) {
        int eid_rc = sgp32_eid_from_text(sn, cert->eid);
        cert->has_eid = eid_rc == SGP32_OK || eid_rc == SGP32_ERR_EID_CHECK_DIGITS;
    }
    return SGP32_OK;
}

static int copy_name_der(const X509_NAME *name, uint8_t *out, size_t *out_len)
{
    const unsigned char *der;
    size_t len;
    if (X509_NAME_get0_der((X509_NAME *)name, &der, &len) != 1 || len > SGP32_CERTI_NAME_DER_MAX)
        return SGP32_ERR_CERT_PARSE;
    memcpy(out, der, len);
    *out_len = len;
    return SGP32_OK;
}

/* The signature and the names as signed: tbsCertificate is the first element of the Certificate
 * SEQUENCE, hashed exactly as received. */
static int parse_signed(const uint8_t *der, size_t len, const CERTI_CERT *c, sgp32_certi_signed *out)
{
    memset(out, 0, sizeof(*out));
    sgp32_asn1_tlv whole, tbs;
    size_t used;
    int rc = sgp32_asn1_read_tlv(der, len, &whole, &used);
    if (!rc)
        rc = sgp32_asn1_read_tlv(whole.value.data, whole.value.len, &tbs, &used);
    if (!rc)
        rc = sgp32_sha256(whole.value.data, used, out->tbs_sha256);
    if (rc)
        return SGP32_ERR_CERT_PARSE;
    if ((rc = copy_name_der(c->tbs->issuer, out->issuer, &out->issuer_len)) ||
        (rc = copy_name_der(c->tbs->subject, out->subject, &out->subject_len)))
        return rc;
    const ASN1_BIT_STRING *sig = c->signature;
    out->ecdsa_sha256 =
        OBJ_obj2nid(c->signature_algorithm->algorithm) == NID_ecdsa_with_SHA256 &&
        X509_ALGOR_cmp(c->signature_algorithm, c->tbs->signature) == 0 && !(sig->flags & 0x07) &&
        sgp32_ecdsa_der_to_raw(ASN1_STRING_get0_data(sig), (size_t)ASN1_STRING_length(sig), out->signature) ==
            SGP32_OK;
    return SGP32_OK;
}

int sgp32_certi_parse(const uint8_t *der, size_t len, sgp32_certificate *cert,
                      sgp32_certi_signed *signed_part)
{
    if (!der || !cert)
        return SGP32_ERR_INVALID_ARGUMENT;
    /* The parse is a pure function of the bytes: a kept copy for exactly these bytes is the answer. */
    if (sgp32_certi_parse_cache_get(der, len, cert, signed_part))
        return SGP32_OK;
    memset(cert, 0, sizeof(*cert));
    cert->role = SGP32_CERT_ROLE_NONE;
    cert->path_len = -1;
    if (len == 0 || len > (size_t)LONG_MAX)
        return SGP32_ERR_CERT_PARSE;
    const unsigned char *p = der;
    CERTI_CERT *c = (CERTI_CERT *)ASN1_item_d2i(NULL, &p, (long)len, ASN1_ITEM_rptr(CERTI_CERT));
    int rc = c && (size_t)(p - der) == len ? SGP32_OK : SGP32_ERR_CERT_PARSE;
    sgp32_certi_signed *scratch = rc ? NULL : sgp32_alloc(sizeof(*scratch));
    if (!rc && !scratch)
        rc = SGP32_ERR_NO_MEMORY;
    if (!rc)
        rc = parse_tbs(c->tbs, cert);
    if (!rc)
        rc = parse_signed(der, len, c, scratch);
    ASN1_item_free((ASN1_VALUE *)c, ASN1_ITEM_rptr(CERTI_CERT));
    ERR_clear_error();
    if (rc) {
        memset(cert, 0, sizeof(*cert));
        cert->role = SGP32_CERT_ROLE_NONE;
        cert->path_len = -1;
    } else {
        sgp32_certi_parse_cache_put(der, len, cert, scratch); /* failures are not kept */
        if (signed_part)
            *signed_part = *scratch;
    }
    sgp32_free(scratch, sizeof(*scratch));
    return rc;
}

int sgp32_cert_parse(const uint8_t *der, size_t len, sgp32_certificate *cert)
{
    return sgp32_certi_parse(der, len, cert, NULL);
}

/* ASCII case-insensitive equality of two strings of which a has length a_len. */
static bool equal_nocase(const char *a, size_t a_len, const char *b)
{
    if (strlen(b) != a_len)
        return false;
    for (size_t i = 0; i < a_len; i++) {
        char ca = a[i], cb = b[i];
        if (ca >= 'A' && ca <= 'Z')
            ca = (char)(ca - 'A' + 'a');
        if (cb >= 'A' && cb <= 'Z')
            cb = (char)(cb - 'A' + 'a');
        if (ca != cb)
            return false;
    }
    return true;
}

bool sgp32_cert_matches_host(const sgp32_certificate *cert, const char *host)
{
    if (!cert || !host || host[0] == '\0')
        return false;
    size_t len = strlen(host);
    const char *colon = strchr(host, ':');
    if (colon && !strchr(colon + 1, ':'))
        len = (size_t)(colon - host); /* host:port */
    if (len > 0 && host[len - 1] == '.')
        len--; /* absolute name */
    if (len == 0)
        return false;
    const char *dot = memchr(host, '.', len);
    for (size_t i = 0; i < cert->dns_count; i++) {
        const char *name = cert->dns_names[i];
        if (equal_nocase(host, len, name))
            return true;
        /* "*.example.com" covers "a.example.com", not "example.com" nor "a.b.example.com". */
        if (name[0] == '*' && name[1] == '.' && strchr(name + 2, '.') && dot && dot != host)
            if (equal_nocase(dot + 1, len - (size_t)(dot + 1 - host), name + 2))
                return true;
    }
    return false;
}

/* OpenSSL's template macros, laid out by hand (to the end of the file). */
/* clang-format off */
ASN1_SEQUENCE(CERTI_SPKI) = {
    ASN1_SIMPLE(CERTI_SPKI, algorithm, X509_ALGOR),
    ASN1_SIMPLE(CERTI_SPKI, key, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(CERTI_SPKI)

ASN1_SEQUENCE(CERTI_TBS) = {
    ASN1_EXP_OPT(CERTI_TBS, version, ASN1_INTEGER, 0),
    ASN1_SIMPLE(CERTI_TBS, serial, ASN1_INTEGER),
    ASN1_SIMPLE(CERTI_TBS, signature, X509_ALGOR),
    ASN1_SIMPLE(CERTI_TBS, issuer, X509_NAME),
    ASN1_SIMPLE(CERTI_TBS, validity, X509_VAL),
    ASN1_SIMPLE(CERTI_TBS, subject, X509_NAME),
    ASN1_SIMPLE(CERTI_TBS, key, CERTI_SPKI),
    ASN1_IMP_OPT(CERTI_TBS, issuer_uid, ASN1_BIT_STRING, 1),
    ASN1_IMP_OPT(CERTI_TBS, subject_uid, ASN1_BIT_STRING, 2),
    ASN1_EXP_SEQUENCE_OF_OPT(CERTI_TBS, extensions, X509_EXTENSION, 3),
} static_ASN1_SEQUENCE_END(CERTI_TBS)

ASN1_SEQUENCE(CERTI_CERT) = {
    ASN1_SIMPLE(CERTI_CERT, tbs, CERTI_TBS),
    ASN1_SIMPLE(CERTI_CERT, signature_algorithm, X509_ALGOR),
    ASN1_SIMPLE(CERTI_CERT, signature, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(CERTI_CERT)

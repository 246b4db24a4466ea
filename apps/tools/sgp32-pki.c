/*
 * sgp32-pki: make and check eSIM test certificates.
 *
 * generate  a complete SGP.26-style test PKI (CI, EUM, eUICCs, DPauth, DPpb,
 *           DPtls, eIM signing and TLS) on NIST P-256 and/or brainpoolP256r1,
 *           or issued under the SGP.26 CI, as DER + PEM with PKCS#8 keys and
 *           a manifest;
 * show      the eSIM-relevant fields of a certificate;
 * verify    an eUICC chain (CI -> EUM -> eUICC), a CI-issued SM-DP+ certificate
 *           or an eIM certificate with the project's own checker.
 *
 * Test keys only. Private keys are written to files (mode 0600) and never
 * printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sgp32/certificate.h"
#include "sgp32/text.h"
#include "sgp32/time.h"

enum { EXIT_VERIFY_FAILED = 1, EXIT_USAGE = 2, EXIT_ERROR = 3 };
enum { MAX_EIDS = 16, MAX_CIS = SGP32_CI_SET_MAX, FILE_MAX = 1 << 20 };

static const char *prog = "sgp32-pki";

/* ------------------------------------------------------------------ usage */

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: %s COMMAND [OPTIONS]\n"
            "\n"
            "Make and check eSIM test certificates (GSMA SGP.22/SGP.32 PKI, SGP.26 style).\n"
            "\n"
            "Commands:\n"
            "  generate --out DIR [OPTIONS]   issue a complete test PKI into DIR\n"
            "  show FILE                      print a certificate's eSIM fields (DER or PEM)\n"
            "  verify OPTIONS                 check a chain with the sgp32 checker (see below)\n"
            "  eid DIGITS                     print an EID with its check digits (30 or 32 digits)\n"
            "\n"
            "generate options:\n"
            "  --out DIR            output directory (created if missing)\n"
            "  --curve C            nist, brp or both (default both)\n"
            "  --sgp26 DIR          issue under the SGP.26 test CI in DIR (the spec pack's sgp26/\n"
            "                       folder) instead of creating a new CI\n"
            "  --eid EID            an eUICC to issue; repeatable (default\n"
            "                       89049032123451234512345678901235, the SGP.26 EID)\n"
            "  --fix-check-digits   replace wrong or missing EID check digits instead of stopping\n"
            "  --eum-prefix DIGITS  the EUM's EIN: the permitted EID prefix (default 89049032)\n"
            "  --eum-org TEXT       the EUM's organization, also the eUICCs' O (default \"sgp32 Test EUM\")\n"
            "  --smdp-oid OID       SM-DP+ OID in DPauth/DPpb/DPtls (default 2.999.10, as SGP.26)\n"
            "  --dp-host HOST       dNSName of the DPtls certificate; repeatable (default localhost)\n"
            "  --eim-id ID          eIM identifier, CN of the eIM signing certificate (default sgp32-eim)\n"
            "  --eim-host HOST      dNSName of the eIM TLS certificate; repeatable (default localhost)\n"
            "  --valid-from DATE    YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or @UNIXSECONDS (default: now - 1 day)\n"
            "  --valid-until DATE   same forms (default: valid-from + 3650 days)\n"
            "  --force              overwrite existing files in DIR\n"
            "\n"
            "verify forms:\n"
            "  verify --ci CI.der [--ci CI2.der] --eum EUM.der --euicc EUICC.der [--eid EID]\n"
            "  verify --ci CI.der [--ci ...] --cert CERT.der --role dp-auth|dp-pb|dp-tls|ds-auth|ds-tls\n"
            "         [--host HOST]\n"
            "  verify --issuer ISSUER.der --cert CERT.der            (eIM certificates)\n"
            "  common: --at DATE (check dates at DATE instead of now), --no-time (skip date checks)\n"
            "\n"
            "Files are DER or PEM. Exit status: 0 ok, 1 verification failed, 2 usage error, 3 other error.\n"
            "Example:\n"
            "  %s generate --out /tmp/pki --eid 89049032123451234512345678901235 --dp-host localhost\n"
            "  %s verify --ci /tmp/pki/CERT_CI_NIST.der --eum /tmp/pki/CERT_EUM_NIST.der \\\n"
            "      --euicc /tmp/pki/CERT_EUICC_89049032123451234512345678901235_NIST.der\n",
            prog, prog, prog);
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", prog);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nRun '%s --help' for the options.\n", prog);
    return EXIT_USAGE;
}

/* ------------------------------------------------------------------ dates */

static void format_time(int64_t t, char out[SGP32_TIME_TEXT_LEN])
{
    sgp32_time_format(t, out);
}

/* "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SSZ" or "@seconds". */
static bool parse_time(const char *text, int64_t *out)
{
    if (text[0] == '@') {
        char *end;
        errno = 0;
        long long v = strtoll(text + 1, &end, 10);
        if (errno || end == text + 1 || *end)
            return false;
        *out = v;
        return true;
    }
    return sgp32_time_parse(text, out) == SGP32_OK;
}

/* ------------------------------------------------------------------ files */

static int read_file(const char *path, sgp32_buf *out)
{
    sgp32_buf_init(out, FILE_MAX);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot read %s: %s\n", prog, path, strerror(errno));
        return SGP32_ERR_IO;
    }
    uint8_t chunk[4096];
    size_t n;
    int rc = SGP32_OK;
    while (rc == SGP32_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = sgp32_buf_append(out, chunk, n);
    if (rc == SGP32_OK && ferror(f))
        rc = SGP32_ERR_IO;
    fclose(f);
    if (rc) {
        fprintf(stderr, "%s: cannot read %s: %s\n", prog, path,
                rc == SGP32_ERR_CAPACITY ? "larger than 1 MiB" : "read error");
        sgp32_buf_free(out);
    }
    return rc;
}

static const char *find_text(const uint8_t *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; n <= len && i <= len - n; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return (const char *)hay + i;
    return NULL;
}

/* A certificate file as DER: DER as is, or the first PEM CERTIFICATE block. */
static int read_certificate(const char *path, sgp32_buf *der)
{
    sgp32_buf raw;
    int rc = read_file(path, &raw);
    if (rc)
        return rc;
    static const char begin[] = "-----BEGIN CERTIFICATE-----", end[] = "-----END CERTIFICATE-----";
    const char *b = find_text(raw.data, raw.len, begin);
    if (!b) {
        *der = raw;
        return SGP32_OK;
    }
    b += strlen(begin);
    const char *e = find_text((const uint8_t *)b, raw.len - (size_t)((const uint8_t *)b - raw.data), end);
    sgp32_buf_init(der, FILE_MAX);
    rc = e ? sgp32_base64_decode(b, (size_t)(e - b), der) : SGP32_ERR_BAD_TEXT;
    sgp32_buf_free(&raw);
    if (rc) {
        fprintf(stderr, "%s: %s: malformed PEM certificate\n", prog, path);
        sgp32_buf_free(der);
    }
    return rc;
}

typedef struct outdir {
    const char *dir;
    bool force;
    FILE *manifest;
} outdir;

static int write_file(const outdir *o, const char *name, const void *data, size_t len, mode_t mode)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", o->dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | (o->force ? O_TRUNC : O_EXCL), mode);
    if (fd < 0) {
        if (errno == EEXIST)
            fprintf(stderr, "%s: %s already exists; pass --force to overwrite or choose another --out\n",
                    prog, path);
        else
            fprintf(stderr, "%s: cannot write %s: %s\n", prog, path, strerror(errno));
        return SGP32_ERR_IO;
    }
    if (o->force)
        (void)fchmod(fd, mode);
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "%s: cannot write %s: %s\n", prog, path, strerror(errno));
            close(fd);
            return SGP32_ERR_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    if (close(fd) != 0) {
        fprintf(stderr, "%s: cannot write %s: %s\n", prog, path, strerror(errno));
        return SGP32_ERR_IO;
    }
    return SGP32_OK;
}

/* base.der and base.pem */
static int write_certificate(const outdir *o, const char *base, const sgp32_buf *der)
{
    char name[512];
    snprintf(name, sizeof(name), "%s.der", base);
    int rc = write_file(o, name, der->data, der->len, 0644);
    if (rc)
        return rc;
    size_t b64_len = sgp32_base64_encoded_len(der->len);
    char *b64 = malloc(b64_len + 1);
    sgp32_buf pem;
    sgp32_buf_init(&pem, FILE_MAX);
    if (!b64)
        return SGP32_ERR_NO_MEMORY;
    sgp32_base64_encode(der->data, der->len, b64);
    rc = sgp32_buf_append(&pem, "-----BEGIN CERTIFICATE-----\n", 28);
    for (size_t i = 0; rc == SGP32_OK && i < b64_len; i += 64) {
        size_t n = b64_len - i < 64 ? b64_len - i : 64;
        rc = sgp32_buf_append(&pem, b64 + i, n);
        if (rc == SGP32_OK)
            rc = sgp32_buf_append_byte(&pem, '\n');
    }
    if (rc == SGP32_OK)
        rc = sgp32_buf_append(&pem, "-----END CERTIFICATE-----\n", 26);
    free(b64);
    snprintf(name, sizeof(name), "%s.pem", base);
    if (rc == SGP32_OK)
        rc = write_file(o, name, pem.data, pem.len, 0644);
    sgp32_buf_free(&pem);
    return rc;
}

static int write_key(const outdir *o, const char *name, const sgp32_ec_private_key *key)
{
    sgp32_buf pem;
    sgp32_buf_init(&pem, 4096);
    int rc = sgp32_ec_private_to_pem(key, &pem);
    if (rc == SGP32_OK)
        rc = write_file(o, name, pem.data, pem.len, 0600);
    else
        fprintf(stderr, "%s: cannot encode a private key: %s\n", prog, sgp32_err_str(rc));
    if (pem.data)
        sgp32_secure_zero(pem.data, pem.alloc);
    sgp32_buf_free(&pem);
    return rc;
}

/* Letters, digits, '.', '-' and '_' survive in file names; the rest becomes '_'. */
static void sanitize(const char *in, char *out, size_t size)
{
    size_t i = 0;
    for (; in[i] && i + 1 < size; i++) {
        char c = in[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '-' || c == '_';
        out[i] = ok ? c : '_';
    }
    out[i] = '\0';
}

/* ------------------------------------------------------------------ EIDs */

static bool all_digits(const char *s)
{
    return s[0] && strspn(s, "0123456789") == strlen(s);
}

/* Validate an EID argument; with fix, repair its check digits (or add them to 30 digits). */
static bool accept_eid(const char *arg, bool fix, char out[SGP32_EID_DIGITS + 1])
{
    size_t len = strlen(arg);
    if (!all_digits(arg) || (len != SGP32_EID_DIGITS && len != SGP32_EID_DIGITS - 2)) {
        fprintf(stderr,
                "%s: '%s' is not an EID: an EID is 32 decimal digits (or 30 digits to have the check "
                "digits computed with --fix-check-digits)\n",
                prog, arg);
        return false;
    }
    memset(out, '0', SGP32_EID_DIGITS);
    memcpy(out, arg, len);
    out[SGP32_EID_DIGITS] = '\0';
    uint8_t bcd[SGP32_EID_LEN];
    if (len == SGP32_EID_DIGITS && sgp32_eid_from_text(out, bcd) == SGP32_OK)
        return true;
    char fixed[SGP32_EID_DIGITS + 1];
    memcpy(fixed, out, sizeof(fixed));
    sgp32_eid_set_check_digits(fixed);
    if (!fix) {
        fprintf(stderr,
                "%s: EID %s %s; with correct check digits it is %s.\n"
                "Use that EID, or pass --fix-check-digits to have it replaced.\n",
                prog, arg,
                len == SGP32_EID_DIGITS ? "has wrong check digits (mod 97 != 1)" : "lacks check digits",
                fixed);
        return false;
    }
    fprintf(stderr, "%s: note: EID %s -> %s (check digits fixed)\n", prog, arg, fixed);
    memcpy(out, fixed, sizeof(fixed));
    return true;
}

static int cmd_eid(int argc, char **argv)
{
    if (argc != 2)
        return usage_error("%s", "eid takes one argument: 30 or 32 digits");
    size_t len = strlen(argv[1]);
    if (!all_digits(argv[1]) || (len != 30 && len != 32))
        return usage_error("'%s' is not 30 or 32 decimal digits", argv[1]);
    char digits[SGP32_EID_DIGITS + 1];
    memset(digits, '0', SGP32_EID_DIGITS);
    memcpy(digits, argv[1], len);
    digits[SGP32_EID_DIGITS] = '\0';
    uint8_t bcd[SGP32_EID_LEN];
    if (len == 32 && sgp32_eid_from_text(digits, bcd) == SGP32_OK) {
        printf("%s (check digits ok)\n", digits);
        return 0;
    }
    sgp32_eid_set_check_digits(digits);
    printf("%s\n", digits);
    if (len == 32) {
        fprintf(stderr, "%s: the check digits of %s were wrong; corrected above\n", prog, argv[1]);
        return EXIT_VERIFY_FAILED;
    }
    return 0;
}

/* ------------------------------------------------------------------ show */

static void hex_line(const char *label, const uint8_t *data, size_t len)
{
    char text[2 * 128 + 1];
    if (len > 128)
        len = 128;
    sgp32_hex_encode(data, len, text);
    printf("%-16s%s\n", label, len ? text : "(absent)");
}

static void format_name(const sgp32_cert_name *n, char *out, size_t size)
{
    const char *labels[] = {"C", "O", "OU", "serialNumber", "CN"};
    const char *values[] = {n->country, n->organization, n->organizational_unit, n->serial_number,
                            n->common_name};
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < 5; i++) {
        if (!values[i][0] || used >= size)
            continue;
        int w = snprintf(out + used, size - used, "%s%s=%s", used ? ", " : "", labels[i], values[i]);
        if (w > 0)
            used += (size_t)w;
    }
}

static void print_certificate(const sgp32_certificate *c, int64_t now)
{
    char text[1024], t1[64], t2[64];
    format_name(&c->subject, text, sizeof(text));
    printf("%-16s%s\n", "subject:", text);
    format_name(&c->issuer, text, sizeof(text));
    printf("%-16s%s\n", "issuer:", text);
    hex_line("serial:", c->serial, c->serial_len);
    format_time(c->not_before, t1);
    format_time(c->not_after, t2);
    const char *state = now < c->not_before ? "not yet valid" : now > c->not_after ? "EXPIRED" : "valid now";
    printf("%-16s%s .. %s (%s)\n", "validity:", t1, t2, state);
    if (c->role == SGP32_CERT_ROLE_NONE)
        printf("%-16snone (no GSMA role policy 2.23.146.1.2.1.x)\n", "role:");
    else
        printf("%-16s%s (policy %s, %s)\n", "role:", sgp32_cert_role_name(c->role), c->policy,
               c->role_critical ? "critical" : "NOT critical");
    printf("%-16s%s\n", "curve:", sgp32_curve_name(c->public_key.curve));
    hex_line("public key:", c->public_key.point, SGP32_EC_POINT_LEN);
    hex_line(c->role == SGP32_CERT_ROLE_CI ? "SKI (CI PKID):" : "SKI:", c->ski.id, c->ski.len);
    hex_line("AKI:", c->aki.id, c->aki.len);
    if (c->has_basic_constraints && c->is_ca) {
        if (c->path_len >= 0)
            printf("%-16sCA, pathlen %d\n", "basic constr.:", c->path_len);
        else
            printf("%-16sCA\n", "basic constr.:");
    } else
        printf("%-16s%s\n", "basic constr.:", c->has_basic_constraints ? "not a CA" : "(absent)");
    if (c->has_key_usage) {
        static const struct {
            unsigned bit;
            const char *name;
        } ku[] = {{SGP32_CERT_KU_DIGITAL_SIGNATURE, "digitalSignature"},
                  {SGP32_CERT_KU_KEY_AGREEMENT, "keyAgreement"},
                  {SGP32_CERT_KU_KEY_CERT_SIGN, "keyCertSign"},
                  {SGP32_CERT_KU_CRL_SIGN, "cRLSign"}};
        printf("%-16s", "key usage:");
        for (size_t i = 0, n = 0; i < SGP32_ARRAY_LEN(ku); i++)
            if (c->key_usage & ku[i].bit)
                printf("%s%s", n++ ? ", " : "", ku[i].name);
        printf("\n");
    }
    if (c->has_ext_key_usage) {
        bool server = c->ext_key_usage & SGP32_CERT_EKU_SERVER_AUTH,
             client = c->ext_key_usage & SGP32_CERT_EKU_CLIENT_AUTH;
        printf("%-16s%s%s%s\n", "ext key usage:", server ? "serverAuth" : "", server && client ? ", " : "",
               client ? "clientAuth" : "");
    }
    if (c->registered_id.der_len) {
        char der_hex[2 * SGP32_CERT_OID_DER_MAX + 1];
        sgp32_hex_encode(c->registered_id.der, c->registered_id.der_len, der_hex);
        bool dp = c->role == SGP32_CERT_ROLE_DP_AUTH || c->role == SGP32_CERT_ROLE_DP_PB ||
                  c->role == SGP32_CERT_ROLE_DP_TLS;
        printf("%-16s%s (content %s)%s\n", "SAN RID:", c->registered_id.text, der_hex,
               dp ? " = SM-DP+ OID" : "");
    }
    for (size_t i = 0; i < c->dns_count; i++)
        printf("%-16s%s\n", "SAN dNSName:", c->dns_names[i]);
    if (c->name_constraint.present)
        printf("%-16sO=\"%s\", serialNumber prefix \"%s\"\n", "permitted:", c->name_constraint.organization,
               c->name_constraint.serial_number_prefix);
    for (size_t i = 0; i < c->permitted_eins_count; i++)
        printf("%-16s%s\n", "permittedEin:", c->permitted_eins[i]);
    if (c->has_eid) {
        char eid[SGP32_EID_DIGITS + 1];
        sgp32_eid_to_text(c->eid, eid);
        printf("%-16s%s (check digits %s)\n", "EID:", eid,
               sgp32_eid_check(c->eid) == SGP32_OK ? "ok" : "WRONG");
    }
    if (c->unknown_critical_extension)
        printf("%-16sthe certificate has an unknown critical extension\n", "warning:");
}

static int cmd_show(int argc, char **argv)
{
    if (argc != 2)
        return usage_error("%s", "show takes one argument: a certificate file (DER or PEM)");
    sgp32_buf der;
    if (read_certificate(argv[1], &der))
        return EXIT_ERROR;
    sgp32_certificate c;
    int rc = sgp32_cert_parse(der.data, der.len, &c);
    sgp32_buf_free(&der);
    if (rc) {
        fprintf(stderr, "%s: %s: not an eSIM certificate: %s\n", prog, argv[1], sgp32_err_str(rc));
        return EXIT_ERROR;
    }
    printf("%-16s%s\n", "file:", argv[1]);
    print_certificate(&c, (int64_t)time(NULL));
    return 0;
}

/* ------------------------------------------------------------------ verify */

/* "--name value" or "--name=value"; advances *i past a consumed value. */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    const char *arg = argv[*i];
    if (strncmp(arg, name, n) != 0)
        return NULL;
    if (arg[n] == '=')
        return arg + n + 1;
    if (arg[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        usage_error("%s needs a value", name);
        exit(EXIT_USAGE);
    }
    return argv[++*i];
}

static const char *hint(int rc)
{
    switch (rc) {
    case SGP32_ERR_CERT_UNKNOWN_CI:
        return "the certificate's AKI is none of the --ci PKIDs; pass the CI that issued it";
    case SGP32_ERR_CERT_CHAIN:
        return "AKI/SKI or issuer name do not link; are the files from the same set and curve?";
    case SGP32_ERR_CERT_SIGNATURE:
        return "a signature does not verify: the file was altered or issued by another key";
    case SGP32_ERR_CERT_POLICY:
        return "a certificate has the wrong role policy for its place (check the argument order)";
    case SGP32_ERR_CERT_EXPIRED:
    case SGP32_ERR_CERT_NOT_YET_VALID: return "use --at DATE to check at another time, or --no-time";
    case SGP32_ERR_CERT_NAME_CONSTRAINT:
        return "the eUICC's O/EID is outside the EUM's permitted range, or the host is not in the TLS "
               "certificate";
    case SGP32_ERR_CERT_EID_MISMATCH: return "the eUICC certificate is for another EID";
    default: return NULL;
    }
}

/* For an unknown CI: which PKID the certificate asks for, and which ones were given. */
static void explain_unknown_ci(const sgp32_ci_set *set, const sgp32_buf *der)
{
    sgp32_certificate c;
    char hex[2 * SGP32_CERT_KEY_ID_MAX + 1];
    if (sgp32_cert_parse(der->data, der->len, &c) != SGP32_OK)
        return;
    sgp32_hex_encode(c.aki.id, c.aki.len, hex);
    printf("        issued by CI PKID %s; trusted:", c.aki.len ? hex : "(no AKI)");
    for (size_t i = 0; i < set->count; i++) {
        sgp32_hex_encode(set->entries[i].cert.ski.id, set->entries[i].cert.ski.len, hex);
        printf(" %s", hex);
    }
    printf("\n");
}

static int report(const char *what, int rc)
{
    if (rc == SGP32_OK) {
        printf("OK      %s\n", what);
        return 0;
    }
    printf("FAILED  %s: %s\n", what, sgp32_err_str(rc));
    const char *h = hint(rc);
    if (h)
        printf("        hint: %s\n", h);
    return EXIT_VERIFY_FAILED;
}

typedef struct verify_args {
    const char *cis[MAX_CIS];
    size_t ci_count;
    const char *eum, *euicc, *eid, *cert, *role, *host, *issuer;
    int64_t now;
} verify_args;

static int verify_run(const verify_args *a)
{
    int status = EXIT_ERROR;
    sgp32_ci_set set;
    sgp32_ci_set_init(&set);
    sgp32_buf b1 = {0}, b2 = {0};
    char what[512], eid_text[SGP32_EID_DIGITS + 1];

    if (a->issuer) {
        if (read_certificate(a->cert, &b1) || read_certificate(a->issuer, &b2))
            goto done;
        sgp32_certificate c;
        int rc = sgp32_cert_verify_issued_by(sgp32_buf_bytes(&b1), sgp32_buf_bytes(&b2), a->now, &c);
        snprintf(what, sizeof(what), "%s issued by %s%s%s", a->cert, a->issuer,
                 rc == SGP32_OK ? ", subject CN=" : "", rc == SGP32_OK ? c.subject.common_name : "");
        status = report(what, rc);
        goto done;
    }

    for (size_t i = 0; i < a->ci_count; i++) {
        sgp32_buf ci;
        if (read_certificate(a->cis[i], &ci))
            goto done;
        int rc = sgp32_ci_set_add(&set, ci.data, ci.len);
        sgp32_buf_free(&ci);
        if (rc) {
            fprintf(stderr, "%s: %s is not usable as a CI: %s\n", prog, a->cis[i], sgp32_err_str(rc));
            goto done;
        }
    }

    if (a->euicc) {
        uint8_t eid[SGP32_EID_LEN];
        if (a->eid && sgp32_eid_from_text(a->eid, eid) != SGP32_OK) {
            fprintf(stderr, "%s: --eid %s is not a valid EID (32 digits, check digits mod 97 == 1)\n", prog,
                    a->eid);
            status = EXIT_USAGE;
            goto done;
        }
        if (read_certificate(a->eum, &b1) || read_certificate(a->euicc, &b2))
            goto done;
        sgp32_euicc_chain *chain = malloc(sizeof(*chain));
        if (!chain)
            goto done;
        int rc = sgp32_cert_verify_euicc_chain(&set, sgp32_buf_bytes(&b1), sgp32_buf_bytes(&b2), a->now,
                                               a->eid ? eid : NULL, chain);
        if (rc == SGP32_OK) {
            char pkid[2 * SGP32_CERT_KEY_ID_MAX + 1];
            const sgp32_ci_entry *ci = &set.entries[chain->ci_index];
            sgp32_hex_encode(ci->cert.ski.id, ci->cert.ski.len, pkid);
            sgp32_eid_to_text(chain->euicc.eid, eid_text);
            snprintf(what, sizeof(what), "eUICC chain: CI %s -> EUM \"%s\" -> eUICC EID %s (%s)", pkid,
                     chain->eum.subject.common_name, eid_text,
                     sgp32_curve_name(chain->euicc.public_key.curve));
        } else
            snprintf(what, sizeof(what), "eUICC chain %s -> %s", a->eum, a->euicc);
        free(chain);
        status = report(what, rc);
        if (rc == SGP32_ERR_CERT_UNKNOWN_CI)
            explain_unknown_ci(&set, &b1);
        goto done;
    }

    sgp32_cert_role role;
    if (sgp32_cert_role_from_name(a->role, &role) != SGP32_OK) {
        status = usage_error("unknown --role '%s' (dp-auth, dp-pb, dp-tls, ds-auth or ds-tls)", a->role);
        goto done;
    }
    if (read_certificate(a->cert, &b1))
        goto done;
    sgp32_certificate c;
    int rc = sgp32_cert_verify_dp(&set, sgp32_buf_bytes(&b1), role, a->host, a->now, &c);
    if (rc == SGP32_ERR_INVALID_ARGUMENT) {
        status = usage_error("--role %s cannot be checked this way (use dp-auth, dp-pb, dp-tls, ds-auth or "
                             "ds-tls; --host only with the TLS roles)",
                             a->role);
        goto done;
    }
    snprintf(what, sizeof(what), "%s certificate %s%s%s%s%s", a->role, a->cert, a->host ? " for host " : "",
             a->host ? a->host : "", rc == SGP32_OK && c.registered_id.der_len ? ", SM-DP+ OID " : "",
             rc == SGP32_OK ? c.registered_id.text : "");
    status = report(what, rc);
    if (rc == SGP32_ERR_CERT_UNKNOWN_CI)
        explain_unknown_ci(&set, &b1);
done:
    sgp32_buf_free(&b1);
    sgp32_buf_free(&b2);
    sgp32_ci_set_free(&set);
    return status;
}

static int cmd_verify(int argc, char **argv)
{
    verify_args a;
    memset(&a, 0, sizeof(a));
    a.now = (int64_t)time(NULL);
    for (int i = 1; i < argc; i++) {
        const char *v;
        if ((v = option_value(argc, argv, &i, "--ci"))) {
            if (a.ci_count == MAX_CIS)
                return usage_error("at most %s --ci files", "8");
            a.cis[a.ci_count++] = v;
        } else if ((v = option_value(argc, argv, &i, "--eum")))
            a.eum = v;
        else if ((v = option_value(argc, argv, &i, "--euicc")))
            a.euicc = v;
        else if ((v = option_value(argc, argv, &i, "--eid")))
            a.eid = v;
        else if ((v = option_value(argc, argv, &i, "--cert")))
            a.cert = v;
        else if ((v = option_value(argc, argv, &i, "--role")))
            a.role = v;
        else if ((v = option_value(argc, argv, &i, "--host")))
            a.host = v;
        else if ((v = option_value(argc, argv, &i, "--issuer")))
            a.issuer = v;
        else if ((v = option_value(argc, argv, &i, "--at"))) {
            if (!parse_time(v, &a.now))
                return usage_error("--at '%s': use YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or @UNIXSECONDS", v);
        } else if (strcmp(argv[i], "--no-time") == 0)
            a.now = SGP32_CERT_NO_TIME_CHECK;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else
            return usage_error("verify: unknown argument '%s'", argv[i]);
    }
    if (a.issuer) {
        if (!a.cert || a.ci_count || a.eum || a.euicc || a.role)
            return usage_error("%s", "verify --issuer takes exactly --cert (and --at/--no-time)");
    } else if (a.euicc || a.eum) {
        if (!a.euicc || !a.eum || !a.ci_count || a.cert || a.role || a.host)
            return usage_error("%s", "an eUICC chain needs --ci, --eum and --euicc (and optionally --eid)");
    } else if (a.cert) {
        if (!a.role || !a.ci_count || a.eid)
            return usage_error("%s",
                               "an SM-DP+ certificate needs --ci, --cert and --role (and --host for dp-tls)");
    } else
        return usage_error("%s", "verify: give --eum/--euicc, --cert/--role or --cert/--issuer");
    return verify_run(&a);
}

/* ------------------------------------------------------------------ generate */

#define MAX_HOSTS SGP32_CERT_DNS_NAMES_MAX

typedef struct gen_args {
    const char *out;
    bool nist, brp;
    const char *sgp26;
    char eids[MAX_EIDS][SGP32_EID_DIGITS + 1];
    size_t eid_count;
    const char *eum_prefix, *eum_org, *smdp_oid, *eim_id;
    const char *dp_hosts[MAX_HOSTS], *eim_hosts[MAX_HOSTS];
    size_t dp_host_count, eim_host_count;
    int64_t valid_from, valid_until;
    bool force;
} gen_args;

typedef struct gen_ctx {
    const gen_args *a;
    outdir o;
    sgp32_curve curve;
    const char *tag; /* NIST / BRP */
    sgp32_buf ci, eum;
    sgp32_ec_private_key ci_key, eum_key;
} gen_ctx;

static void manifest_line(gen_ctx *g, const char *role, const char *base, bool has_key, const sgp32_buf *der,
                          const char *extra)
{
    sgp32_certificate c;
    char ski[2 * SGP32_CERT_KEY_ID_MAX + 1] = "", t1[64] = "?", t2[64] = "?", files[300], key[300] = "-";
    if (sgp32_cert_parse(der->data, der->len, &c) == SGP32_OK) {
        sgp32_hex_encode(c.ski.id, c.ski.len, ski);
        format_time(c.not_before, t1);
        format_time(c.not_after, t2);
    }
    snprintf(files, sizeof(files), "CERT_%s.der/.pem", base);
    if (has_key)
        snprintf(key, sizeof(key), "SK_%s.pem", base);
    fprintf(g->o.manifest, "%-5s %-9s %-52s key=%s  SKI=%s  valid %s .. %s%s%s\n", g->tag, role, files, key,
            ski, t1, t2, extra ? "  " : "", extra ? extra : "");
}

/* Issue one certificate with a fresh key pair; writes CERT_<base>.{der,pem} and SK_<base>.pem. */
static int issue_one(gen_ctx *g, sgp32_cert_request *req, const sgp32_buf *issuer,
                     const sgp32_ec_private_key *issuer_key, const char *base, sgp32_buf *der,
                     sgp32_ec_private_key *key_out)
{
    sgp32_ec_private_key key;
    sgp32_ec_public_key pub;
    int rc = sgp32_ec_generate(g->curve, &key, &pub);
    if (rc) {
        fprintf(stderr, "%s: key generation failed: %s\n", prog, sgp32_err_str(rc));
        return rc;
    }
    req->subject_key = &pub;
    req->not_before = g->a->valid_from;
    req->not_after = g->a->valid_until;
    sgp32_buf_init(der, 8192);
    rc = sgp32_cert_issue(req, issuer ? issuer->data : NULL, issuer ? issuer->len : 0,
                          issuer ? issuer_key : &key, der);
    if (rc) {
        fprintf(stderr, "%s: issuing %s failed: %s\n", prog, base, sgp32_err_str(rc));
    } else {
        char name[512];
        snprintf(name, sizeof(name), "CERT_%s", base);
        rc = write_certificate(&g->o, name, der);
        snprintf(name, sizeof(name), "SK_%s.pem", base);
        if (rc == SGP32_OK)
            rc = write_key(&g->o, name, &key);
    }
    if (rc == SGP32_OK && key_out)
        *key_out = key;
    sgp32_secure_zero(&key, sizeof(key));
    return rc;
}

static int load_sgp26_ci(gen_ctx *g)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/CertificateIssuer/CERT_CI_ECDSA_%s.der", g->a->sgp26, g->tag);
    if (read_certificate(path, &g->ci)) {
        fprintf(stderr, "%s: --sgp26 should name the spec pack's sgp26 folder (with CertificateIssuer/)\n",
                prog);
        return SGP32_ERR_IO;
    }
    snprintf(path, sizeof(path), "%s/CertificateIssuer/SK_CI_ECDSA_%s.pem", g->a->sgp26, g->tag);
    sgp32_buf pem;
    if (read_file(path, &pem))
        return SGP32_ERR_IO;
    int rc = sgp32_ec_private_from_pem((const char *)pem.data, pem.len, &g->ci_key);
    if (pem.data)
        sgp32_secure_zero(pem.data, pem.alloc);
    sgp32_buf_free(&pem);
    if (rc) {
        fprintf(stderr, "%s: %s: not a usable private key: %s\n", prog, path, sgp32_err_str(rc));
        return rc;
    }
    char base[64];
    snprintf(base, sizeof(base), "CERT_CI_SGP26_%s", g->tag);
    if ((rc = write_certificate(&g->o, base, &g->ci)))
        return rc;
    manifest_line(g, "ci", base + strlen("CERT_"), false, &g->ci,
                  "the SGP.26 test CI; its key stays in the spec pack");
    return SGP32_OK;
}

static int generate_curve(gen_ctx *g)
{
    const gen_args *a = g->a;
    char base[256], extra[512];
    int rc;

    /* CI */
    if (a->sgp26) {
        if ((rc = load_sgp26_ci(g)))
            return rc;
    } else {
        sgp32_cert_request req = {
            .profile = SGP32_CERT_PROFILE_CI,
            .country = "DE",
            .organization = "sgp32 test",
            .organizational_unit = "TESTCERT",
            .common_name = "sgp32 Test CI",
            .registered_id = "2.999.1",
        };
        snprintf(base, sizeof(base), "CI_%s", g->tag);
        if ((rc = issue_one(g, &req, NULL, NULL, base, &g->ci, &g->ci_key)))
            return rc;
        manifest_line(g, "ci", base, true, &g->ci, "self-signed; SKI = CI PKID");
    }
    /* EUM */
    sgp32_cert_request eum = {
        .profile = SGP32_CERT_PROFILE_EUM,
        .country = "DE",
        .organization = a->eum_org,
        .common_name = a->eum_org,
        .permitted_organization = a->eum_org,
        .permitted_serial_prefix = a->eum_prefix,
        .registered_id = "2.999.5",
    };
    snprintf(base, sizeof(base), "EUM_%s", g->tag);
    if ((rc = issue_one(g, &eum, &g->ci, &g->ci_key, base, &g->eum, &g->eum_key)))
        return rc;
    snprintf(extra, sizeof(extra), "permitted O=\"%s\" EID prefix %s", a->eum_org, a->eum_prefix);
    manifest_line(g, "eum", base, true, &g->eum, extra);

    sgp32_ci_set set;
    sgp32_ci_set_init(&set);
    if ((rc = sgp32_ci_set_add(&set, g->ci.data, g->ci.len))) {
        fprintf(stderr, "%s: the CI certificate is not usable: %s\n", prog, sgp32_err_str(rc));
        return rc;
    }
    /* Self-check of every issued certificate; the dates are the caller's choice. */
    const int64_t check_at = SGP32_CERT_NO_TIME_CHECK;

    /* eUICCs */
    for (size_t i = 0; i < a->eid_count && rc == SGP32_OK; i++) {
        sgp32_cert_request req = {
            .profile = SGP32_CERT_PROFILE_EUICC,
            .country = "DE",
            .organization = a->eum_org,
            .serial_number = a->eids[i],
            .common_name = "sgp32 Test eUICC",
        };
        sgp32_buf der;
        snprintf(base, sizeof(base), "EUICC_%s_%s", a->eids[i], g->tag);
        rc = issue_one(g, &req, &g->eum, &g->eum_key, base, &der, NULL);
        if (rc == SGP32_OK) {
            uint8_t eid[SGP32_EID_LEN];
            sgp32_eid_from_text(a->eids[i], eid);
            rc = sgp32_cert_verify_euicc_chain(&set, sgp32_buf_bytes(&g->eum), sgp32_buf_bytes(&der),
                                               check_at, eid, NULL);
            if (rc)
                fprintf(stderr, "%s: self-check of %s failed: %s\n", prog, base, sgp32_err_str(rc));
            snprintf(extra, sizeof(extra), "EID %s", a->eids[i]);
            manifest_line(g, "euicc", base, true, &der, extra);
        }
        sgp32_buf_free(&der);
    }

    /* SM-DP+: DPauth, DPpb, DPtls */
    struct {
        sgp32_cert_profile profile;
        sgp32_cert_role role;
        const char *name;
    } dp[] = {
        {SGP32_CERT_PROFILE_DP_AUTH, SGP32_CERT_ROLE_DP_AUTH, "DPauth"},
        {SGP32_CERT_PROFILE_DP_PB, SGP32_CERT_ROLE_DP_PB, "DPpb"},
        {SGP32_CERT_PROFILE_DP_TLS, SGP32_CERT_ROLE_DP_TLS, "DPtls"},
    };
    for (size_t i = 0; i < SGP32_ARRAY_LEN(dp) && rc == SGP32_OK; i++) {
        bool tls = dp[i].profile == SGP32_CERT_PROFILE_DP_TLS;
        sgp32_cert_request req = {
            .profile = dp[i].profile,
            .organization = "sgp32 test",
            .common_name = tls ? a->dp_hosts[0] : "sgp32 Test SM-DP+",
            .registered_id = a->smdp_oid,
            .dns_names = tls ? a->dp_hosts : NULL,
            .dns_count = tls ? a->dp_host_count : 0,
        };
        char host[128];
        sanitize(a->dp_hosts[0], host, sizeof(host));
        if (tls)
            snprintf(base, sizeof(base), "%s_%s_%s", dp[i].name, host, g->tag);
        else
            snprintf(base, sizeof(base), "%s_%s", dp[i].name, g->tag);
        sgp32_buf der;
        rc = issue_one(g, &req, &g->ci, &g->ci_key, base, &der, NULL);
        if (rc == SGP32_OK) {
            rc = sgp32_cert_verify_dp(&set, sgp32_buf_bytes(&der), dp[i].role, tls ? a->dp_hosts[0] : NULL,
                                      check_at, NULL);
            if (rc)
                fprintf(stderr, "%s: self-check of %s failed: %s\n", prog, base, sgp32_err_str(rc));
            int w = snprintf(extra, sizeof(extra), "SM-DP+ OID %s", a->smdp_oid);
            for (size_t h = 0; tls && h < a->dp_host_count && w > 0 && (size_t)w < sizeof(extra); h++)
                w += snprintf(extra + w, sizeof(extra) - (size_t)w, " DNS:%s", a->dp_hosts[h]);
            manifest_line(g, sgp32_cert_role_name(dp[i].role), base, true, &der, extra);
        }
        sgp32_buf_free(&der);
    }

    /* eIM: signing certificate and TLS server certificate, issued by the CI. */
    for (int tls = 0; tls < 2 && rc == SGP32_OK; tls++) {
        char id[128];
        sanitize(tls ? a->eim_hosts[0] : a->eim_id, id, sizeof(id));
        sgp32_cert_request req = {
            .profile = tls ? SGP32_CERT_PROFILE_EIM_TLS : SGP32_CERT_PROFILE_EIM_SIGNING,
            .organization = "sgp32 test",
            .common_name = tls ? a->eim_hosts[0] : a->eim_id,
            .dns_names = tls ? a->eim_hosts : NULL,
            .dns_count = tls ? a->eim_host_count : 0,
        };
        snprintf(base, sizeof(base), "%s_%s_%s", tls ? "EIMtls" : "EIMsign", id, g->tag);
        sgp32_buf der;
        rc = issue_one(g, &req, &g->ci, &g->ci_key, base, &der, NULL);
        if (rc == SGP32_OK) {
            rc = sgp32_cert_verify_issued_by(sgp32_buf_bytes(&der), sgp32_buf_bytes(&g->ci), check_at, NULL);
            if (rc)
                fprintf(stderr, "%s: self-check of %s failed: %s\n", prog, base, sgp32_err_str(rc));
            if (tls) {
                int w = snprintf(extra, sizeof(extra), "issued by the CI;");
                for (size_t h = 0; h < a->eim_host_count && w > 0 && (size_t)w < sizeof(extra); h++)
                    w += snprintf(extra + w, sizeof(extra) - (size_t)w, " DNS:%s", a->eim_hosts[h]);
            } else
                snprintf(extra, sizeof(extra), "issued by the CI; eimId %s", a->eim_id);
            manifest_line(g, tls ? "eim-tls" : "eim-sign", base, true, &der, extra);
        }
        sgp32_buf_free(&der);
    }
    sgp32_ci_set_free(&set);
    return rc;
}

static bool add_host(const char *v, const char **hosts, size_t *count)
{
    if (*count == MAX_HOSTS) {
        usage_error("at most %s host names per certificate", "4");
        return false;
    }
    if (!v[0] || strlen(v) >= SGP32_CERT_DNS_NAME_MAX || strpbrk(v, " /:@")) {
        usage_error("'%s' is not a host name (no port, no URL)", v);
        return false;
    }
    hosts[(*count)++] = v;
    return true;
}

static int cmd_generate(int argc, char **argv)
{
    gen_args a;
    memset(&a, 0, sizeof(a));
    a.nist = a.brp = true;
    a.eum_prefix = "89049032";
    a.eum_org = "sgp32 Test EUM";
    a.smdp_oid = "2.999.10";
    a.eim_id = "sgp32-eim";
    bool fix = false, have_from = false, have_until = false;
    const char *eid_args[MAX_EIDS];
    size_t eid_arg_count = 0;

    for (int i = 1; i < argc; i++) {
        const char *v;
        if ((v = option_value(argc, argv, &i, "--out")))
            a.out = v;
        else if ((v = option_value(argc, argv, &i, "--curve"))) {
            a.nist = strcmp(v, "nist") == 0 || strcmp(v, "both") == 0;
            a.brp = strcmp(v, "brp") == 0 || strcmp(v, "both") == 0;
            if (!a.nist && !a.brp)
                return usage_error("--curve '%s': use nist, brp or both", v);
        } else if ((v = option_value(argc, argv, &i, "--sgp26")))
            a.sgp26 = v;
        else if ((v = option_value(argc, argv, &i, "--eid"))) {
            if (eid_arg_count == MAX_EIDS)
                return usage_error("at most %s --eid", "16");
            eid_args[eid_arg_count++] = v;
        } else if (strcmp(argv[i], "--fix-check-digits") == 0)
            fix = true;
        else if ((v = option_value(argc, argv, &i, "--eum-prefix"))) {
            if (!all_digits(v) || strlen(v) > SGP32_EID_DIGITS)
                return usage_error("--eum-prefix '%s': the EIN is up to 32 decimal digits, e.g. 89049032", v);
            a.eum_prefix = v;
        } else if ((v = option_value(argc, argv, &i, "--eum-org"))) {
            if (!v[0] || strlen(v) > 64)
                return usage_error("--eum-org '%s': 1 to 64 characters", v);
            a.eum_org = v;
        } else if ((v = option_value(argc, argv, &i, "--smdp-oid"))) {
            size_t n = strlen(v);
            if (strspn(v, "0123456789.") != n || v[0] == '.' || v[n - 1] == '.' || !strchr(v, '.') ||
                strstr(v, ".."))
                return usage_error("--smdp-oid '%s': a dotted OID such as 2.999.10", v);
            a.smdp_oid = v;
        } else if ((v = option_value(argc, argv, &i, "--dp-host"))) {
            if (!add_host(v, a.dp_hosts, &a.dp_host_count))
                return EXIT_USAGE;
        } else if ((v = option_value(argc, argv, &i, "--eim-host"))) {
            if (!add_host(v, a.eim_hosts, &a.eim_host_count))
                return EXIT_USAGE;
        } else if ((v = option_value(argc, argv, &i, "--eim-id"))) {
            if (!v[0] || strlen(v) > 64)
                return usage_error("--eim-id '%s': 1 to 64 characters (it becomes a certificate CN)", v);
            a.eim_id = v;
        } else if ((v = option_value(argc, argv, &i, "--valid-from"))) {
            if (!parse_time(v, &a.valid_from))
                return usage_error("--valid-from '%s': use YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or @UNIXSECONDS",
                                   v);
            have_from = true;
        } else if ((v = option_value(argc, argv, &i, "--valid-until"))) {
            if (!parse_time(v, &a.valid_until))
                return usage_error("--valid-until '%s': use YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or @UNIXSECONDS",
                                   v);
            have_until = true;
        } else if (strcmp(argv[i], "--force") == 0)
            a.force = true;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else
            return usage_error("generate: unknown argument '%s'", argv[i]);
    }
    if (!a.out)
        return usage_error("%s", "generate needs --out DIR");
    if (!have_from)
        a.valid_from = (int64_t)time(NULL) - 86400;
    if (!have_until)
        a.valid_until = a.valid_from + 3650LL * 86400;
    if (a.valid_until <= a.valid_from)
        return usage_error("%s", "--valid-until must be after --valid-from");
    /* X.509 dates run from 1950 to 9999. */
    const sgp32_civil_time first = {1950, 1, 1, 0, 0, 0}, after_last = {10000, 1, 1, 0, 0, 0};
    if (a.valid_from < sgp32_time_from_civil(&first) || a.valid_until >= sgp32_time_from_civil(&after_last))
        return usage_error("%s", "validity must lie between 1950-01-01 and 9999-12-31");
    if (a.dp_host_count == 0)
        a.dp_hosts[a.dp_host_count++] = "localhost";
    if (a.eim_host_count == 0)
        a.eim_hosts[a.eim_host_count++] = "localhost";
    if (eid_arg_count == 0)
        eid_args[eid_arg_count++] = "89049032123451234512345678901235";

    /* Every EID is checked before anything is written. */
    for (size_t i = 0; i < eid_arg_count; i++) {
        if (!accept_eid(eid_args[i], fix, a.eids[i]))
            return EXIT_USAGE;
        if (strncmp(a.eids[i], a.eum_prefix, strlen(a.eum_prefix)) != 0) {
            fprintf(
                stderr,
                "%s: EID %s does not start with the EUM prefix %s; an EUM may only issue EIDs in its range.\n"
                "Pass --eum-prefix with the EIDs' leading digits (e.g. %.8s).\n",
                prog, a.eids[i], a.eum_prefix, a.eids[i]);
            return EXIT_USAGE;
        }
    }
    a.eid_count = eid_arg_count;

    if (mkdir(a.out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "%s: cannot create %s: %s\n", prog, a.out, strerror(errno));
        return EXIT_ERROR;
    }
    gen_ctx g;
    memset(&g, 0, sizeof(g));
    g.a = &a;
    g.o.dir = a.out;
    g.o.force = a.force;
    char path[4096];
    snprintf(path, sizeof(path), "%s/manifest.txt", a.out);
    int fd = open(path, O_WRONLY | O_CREAT | (a.force ? O_TRUNC : O_EXCL), 0644);
    if (fd < 0 || !(g.o.manifest = fdopen(fd, "w"))) {
        if (errno == EEXIST)
            fprintf(stderr, "%s: %s already exists; pass --force to overwrite or choose another --out\n",
                    prog, path);
        else
            fprintf(stderr, "%s: cannot write %s: %s\n", prog, path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return EXIT_ERROR;
    }
    char t1[64];
    format_time((int64_t)time(NULL), t1);
    fprintf(
        g.o.manifest,
        "# sgp32-pki test PKI, made %s. TEST KEYS ONLY.\n"
        "# Certificates: CERT_<what>.der and .pem; private keys: SK_<what>.pem (PKCS#8, mode 0600).\n"
        "# The CI issues the EUM, DPauth, DPpb, DPtls and the eIM certificates; the EUM issues the eUICCs.\n"
        "# Check a chain: sgp32-pki verify --ci CERT_CI_<curve>.der --eum CERT_EUM_<curve>.der "
        "--euicc CERT_EUICC_<EID>_<curve>.der\n"
        "# curve role       files                                key   SKI   validity   notes\n",
        t1);

    int rc = SGP32_OK;
    const sgp32_curve curves[] = {SGP32_CURVE_NIST_P256, SGP32_CURVE_BRAINPOOL_P256R1};
    const bool wanted[] = {a.nist, a.brp};
    size_t made = 0;
    for (size_t i = 0; i < 2 && rc == SGP32_OK; i++) {
        if (!wanted[i])
            continue;
        g.curve = curves[i];
        g.tag = i == 0 ? "NIST" : "BRP";
        rc = generate_curve(&g);
        sgp32_buf_free(&g.ci);
        sgp32_buf_free(&g.eum);
        sgp32_secure_zero(&g.ci_key, sizeof(g.ci_key));
        sgp32_secure_zero(&g.eum_key, sizeof(g.eum_key));
        made++;
    }
    if (fclose(g.o.manifest) != 0 && rc == SGP32_OK) {
        fprintf(stderr, "%s: cannot write %s\n", prog, path);
        rc = SGP32_ERR_IO;
    }
    if (rc) {
        fprintf(stderr, "%s: stopped; %s is incomplete\n", prog, a.out);
        return EXIT_ERROR;
    }
    printf("%s: wrote a test PKI (%zu curve%s, %zu eUICC%s) to %s; see %s\n", prog, made,
           made == 1 ? "" : "s", a.eid_count, a.eid_count == 1 ? "" : "s", a.out, path);
    printf("%s: every certificate passed the sgp32 chain checks (dates aside)\n", prog);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "generate") == 0)
        return cmd_generate(argc - 1, argv + 1);
    if (strcmp(cmd, "show") == 0)
        return cmd_show(argc - 1, argv + 1);
    if (strcmp(cmd, "verify") == 0)
        return cmd_verify(argc - 1, argv + 1);
    if (strcmp(cmd, "eid") == 0)
        return cmd_eid(argc - 1, argv + 1);
    return usage_error("unknown command '%s' (generate, show, verify, eid)", cmd);
}

/*
 * Who the simulated devices are: the PKI made by `sgp32-pki generate` (per curve CERT_EUM_<C>.der,
 * SK_EUM_<C>.pem and the CI CERT_CI[_SGP26]_<C>.der), the EIDs (derived from --first-eid with
 * check digits, or listed), and per device an eUICC certificate issued by the EUM (SGP.26 style:
 * O = the EUM's permitted organisation, serialNumber = the EID, which must start with the EUM's
 * permitted prefix). The key pair is derived from the EUM key and the EID, so a fleet restarted
 * with the same EIDs has the same keys and the certificates an eIM already stored still verify.
 *
 * Also the card itself: opening a device's software eUICC on its memory store (the first open
 * manufactures it with the enabled bootstrap profile) and reading what it says (GetProfilesInfo,
 * GetEimConfigurationData) into the snapshot the report shows.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fleet.h"
#include "sgp32/asn1.h"
#include "sgp32/log.h"
#include "sgp32/text.h"

static const sgp32_log_context fleet_log = {.component = "sgp32-fleet"};

/* ------------------------------------------------------------------ PKI */

static bool file_exists(const char *path)
{
    return access(path, R_OK) == 0;
}

/* A certificate file as DER (DER as is, or the first PEM CERTIFICATE block). */
static int read_certificate(const char *path, sgp32_buf *der)
{
    sgp32_buf raw;
    int rc = fleet_read_file(path, &raw, 1 << 20);
    if (rc)
        return rc;
    static const char begin[] = "-----BEGIN CERTIFICATE-----", end[] = "-----END CERTIFICATE-----";
    const char *text = (const char *)raw.data;
    const char *b = raw.len ? strstr(text, begin) : NULL;
    if (!b) {
        *der = raw;
        return SGP32_OK;
    }
    b += strlen(begin);
    const char *e = strstr(b, end);
    sgp32_buf_init(der, 1 << 20);
    rc = e ? sgp32_base64_decode(b, (size_t)(e - b), der) : SGP32_ERR_BAD_TEXT;
    sgp32_buf_free(&raw);
    if (rc)
        sgp32_buf_free(der);
    return rc;
}

static int load_issuer(fleet *f, sgp32_curve curve, const char *tag, bool required)
{
    const char *dir = f->opt.pki_dir;
    char path[4096];
    fleet_issuer *is = &f->issuers[f->issuer_count];
    memset(is, 0, sizeof(*is));
    snprintf(path, sizeof(path), "%s/CERT_EUM_%s.der", dir, tag);
    if (!file_exists(path)) {
        if (!required)
            return SGP32_OK;
        fprintf(stderr,
                "sgp32-fleet: %s is missing: make the PKI with sgp32-pki generate --out %s --curve %s\n",
                path, dir, curve == SGP32_CURVE_NIST_P256 ? "nist" : "brp");
        return SGP32_ERR_NOT_FOUND;
    }
    int rc = read_certificate(path, &is->eum_der);
    if (!rc && (rc = sgp32_cert_parse(is->eum_der.data, is->eum_der.len, &is->eum)) != SGP32_OK)
        fprintf(stderr, "sgp32-fleet: %s is not an EUM certificate: %s\n", path, sgp32_err_str(rc));
    if (!rc && !is->eum.name_constraint.present && is->eum.permitted_eins_count == 0) {
        fprintf(stderr, "sgp32-fleet: %s has no permitted EID range (name constraints)\n", path);
        rc = SGP32_ERR_CERT_EXTENSION;
    }
    if (rc)
        goto out;
    snprintf(path, sizeof(path), "%s/SK_EUM_%s.pem", dir, tag);
    sgp32_buf pem;
    if ((rc = fleet_read_file(path, &pem, 1 << 16)) != SGP32_OK) {
        fprintf(stderr, "sgp32-fleet: cannot read the EUM key %s: it issues the devices' certificates\n",
                path);
        goto out;
    }
    rc = sgp32_ec_private_from_pem((const char *)pem.data, pem.len, &is->eum_key);
    sgp32_secure_zero(pem.data, pem.alloc);
    sgp32_buf_free(&pem);
    sgp32_ec_public_key pub;
    if (!rc)
        rc = sgp32_ec_public_from_private(&is->eum_key, &pub);
    if (!rc &&
        (pub.curve != is->eum.public_key.curve || memcmp(pub.point, is->eum.public_key.point, 65) != 0))
        rc = SGP32_ERR_CRYPTO_BAD_KEY;
    if (rc) {
        fprintf(stderr, "sgp32-fleet: %s is not the key of CERT_EUM_%s.der: %s\n", path, tag,
                sgp32_err_str(rc));
        goto out;
    }
    snprintf(path, sizeof(path), "%s/CERT_CI_%s.der", dir, tag);
    if (!file_exists(path))
        snprintf(path, sizeof(path), "%s/CERT_CI_SGP26_%s.der", dir, tag);
    if ((rc = read_certificate(path, &is->ci_der)) != SGP32_OK) {
        fprintf(stderr, "sgp32-fleet: no CI certificate (CERT_CI_%s.der or CERT_CI_SGP26_%s.der) in %s\n",
                tag, tag, dir);
        goto out;
    }
    is->curve = curve;
    is->tag = tag;
    f->issuer_count++;
    return SGP32_OK;
out:
    sgp32_buf_free(&is->eum_der);
    sgp32_buf_free(&is->ci_der);
    sgp32_secure_zero(&is->eum_key, sizeof(is->eum_key));
    return rc ? rc : SGP32_ERR_INVALID_ARGUMENT;
}

/* One PEM bundle of several files: written to a private temporary file. */
static int make_ca_bundle(fleet *f, const char **files, size_t n)
{
    if (n == 1) {
        snprintf(f->ca_path, sizeof(f->ca_path), "%s", files[0]);
        if (file_exists(files[0]))
            return SGP32_OK;
        fprintf(stderr, "sgp32-fleet: cannot read the CA file %s\n", files[0]);
        return SGP32_ERR_NOT_FOUND;
    }
    const char *tmpdir = getenv("TMPDIR");
    snprintf(f->ca_tmp, sizeof(f->ca_tmp), "%s/sgp32-fleet-ca-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    int fd = mkstemp(f->ca_tmp);
    if (fd < 0) {
        fprintf(stderr, "sgp32-fleet: cannot make a CA bundle in %s: %s\n", f->ca_tmp, strerror(errno));
        f->ca_tmp[0] = 0;
        return SGP32_ERR_IO;
    }
    FILE *out = fdopen(fd, "w");
    int rc = out ? SGP32_OK : SGP32_ERR_IO;
    for (size_t i = 0; i < n && !rc; i++) {
        sgp32_buf pem;
        if ((rc = fleet_read_file(files[i], &pem, 1 << 20)) != SGP32_OK) {
            fprintf(stderr, "sgp32-fleet: cannot read --ca %s\n", files[i]);
            break;
        }
        if (fwrite(pem.data, 1, pem.len, out) != pem.len || fputc('\n', out) == EOF)
            rc = SGP32_ERR_IO;
        sgp32_buf_free(&pem);
    }
    if (out ? fclose(out) != 0 : close(fd) != 0)
        rc = rc ? rc : SGP32_ERR_IO;
    snprintf(f->ca_path, sizeof(f->ca_path), "%s", f->ca_tmp);
    return rc;
}

int fleet_load_pki(fleet *f)
{
    bool any = !f->opt.curve_nist && !f->opt.curve_brp;
    int rc = SGP32_OK;
    if (any || f->opt.curve_nist)
        rc = load_issuer(f, SGP32_CURVE_NIST_P256, "NIST", !any);
    if (!rc && (any || f->opt.curve_brp))
        rc = load_issuer(f, SGP32_CURVE_BRAINPOOL_P256R1, "BRP", !any);
    if (rc)
        return rc;
    if (f->issuer_count == 0) {
        fprintf(stderr,
                "sgp32-fleet: %s holds no CERT_EUM_NIST.der or CERT_EUM_BRP.der: make the PKI with "
                "sgp32-pki generate --out %s\n",
                f->opt.pki_dir, f->opt.pki_dir);
        return SGP32_ERR_NOT_FOUND;
    }
    /* Trust for every HTTPS client: --ca, or the PKI's CIs (they issue the eIM and DPtls certs). */
    if (f->opt.ca_count)
        return make_ca_bundle(f, f->opt.ca_files, f->opt.ca_count);
    const char *files[FLEET_MAX_CURVES];
    static char paths[FLEET_MAX_CURVES][4096];
    size_t n = 0;
    for (size_t i = 0; i < f->issuer_count; i++) {
        snprintf(paths[n], sizeof(paths[n]), "%s/CERT_CI_%s.pem", f->opt.pki_dir, f->issuers[i].tag);
        if (!file_exists(paths[n]))
            snprintf(paths[n], sizeof(paths[n]), "%s/CERT_CI_SGP26_%s.pem", f->opt.pki_dir,
                     f->issuers[i].tag);
        if (file_exists(paths[n])) {
            files[n] = paths[n];
            n++;
        }
    }
    if (n == 0) {
        fprintf(stderr, "sgp32-fleet: no CI PEM in %s to trust the servers with: give --ca FILE\n",
                f->opt.pki_dir);
        return SGP32_ERR_NOT_FOUND;
    }
    return make_ca_bundle(f, files, n);
}

/* ------------------------------------------------------------------ EIDs */

static bool all_digits(const char *s)
{
    return *s && strspn(s, "0123456789") == strlen(s);
}

/* The EID lies in the EUM's permitted range (prefix, or one of the permittedEins). */
static bool eid_permitted(const fleet_issuer *is, const char *eid)
{
    const char *prefix = is->eum.name_constraint.serial_number_prefix;
    if (is->eum.name_constraint.present && *prefix && strncmp(eid, prefix, strlen(prefix)) == 0)
        return true;
    for (size_t i = 0; i < is->eum.permitted_eins_count; i++)
        if (strncmp(eid, is->eum.permitted_eins[i], strlen(is->eum.permitted_eins[i])) == 0)
            return true;
    return is->eum.name_constraint.present && !*prefix && is->eum.permitted_eins_count == 0;
}

static const char *eum_prefix(const fleet_issuer *is)
{
    if (is->eum.name_constraint.present && is->eum.name_constraint.serial_number_prefix[0])
        return is->eum.name_constraint.serial_number_prefix;
    return is->eum.permitted_eins_count ? is->eum.permitted_eins[0] : "";
}

/* digits (30) + n, in place; false on overflow */
static bool add_decimal(char *digits, size_t len, uint64_t n)
{
    for (size_t i = len; i-- > 0 && n;) {
        uint64_t v = (uint64_t)(digits[i] - '0') + n % 10;
        n /= 10;
        if (v >= 10) {
            v -= 10;
            n += 1;
        }
        digits[i] = (char)('0' + v);
    }
    return n == 0;
}

static int compare_text(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int fleet_make_eids(fleet *f)
{
    const fleet_options *o = &f->opt;
    if (o->eid_count && o->devices > o->eid_count) {
        fprintf(stderr,
                "sgp32-fleet: --devices %zu but only %zu --eid given: list them all, or use --first-eid\n",
                o->devices, o->eid_count);
        return SGP32_ERR_INVALID_ARGUMENT;
    }
    f->count = o->eid_count ? (o->devices ? o->devices : o->eid_count) : o->devices;
    f->devices = calloc(f->count, sizeof(*f->devices));
    if (!f->devices) {
        fprintf(stderr, "sgp32-fleet: out of memory for %zu devices\n", f->count);
        return SGP32_ERR_NO_MEMORY;
    }
    char base[SGP32_EID_DIGITS + 1];
    size_t indirect = (size_t)(o->indirect_fraction * (double)f->count + 0.5); /* the first ones */
    if (!o->eid_count) {
        const char *first = o->first_eid;
        char fallback[SGP32_EID_DIGITS + 1];
        if (!first) {
            /* the EUM's prefix, then zeros */
            memset(fallback, '0', SGP32_EID_DIGITS);
            fallback[SGP32_EID_DIGITS] = 0;
            const char *prefix = eum_prefix(&f->issuers[0]);
            size_t n = strlen(prefix);
            memcpy(fallback, prefix, n < 30 ? n : 30);
            first = fallback;
        }
        size_t n = strlen(first);
        if (!all_digits(first) || (n != 30 && n != 32)) {
            fprintf(stderr,
                    "sgp32-fleet: --first-eid '%s': give 30 digits (or 32; the check digits are redone)\n",
                    first);
            return SGP32_ERR_INVALID_ARGUMENT;
        }
        memcpy(base, first, 30);
        base[30] = base[31] = '0';
        base[32] = 0;
    }
    for (size_t i = 0; i < f->count; i++) {
        fleet_device *d = &f->devices[i];
        d->index = (uint32_t)i;
        if (o->eid_count) {
            uint8_t bcd[SGP32_EID_LEN];
            if (strlen(o->eids[i]) != SGP32_EID_DIGITS || sgp32_eid_from_text(o->eids[i], bcd) != SGP32_OK) {
                char fixed[SGP32_EID_DIGITS + 1] = "";
                if (strlen(o->eids[i]) == SGP32_EID_DIGITS && all_digits(o->eids[i])) {
                    memcpy(fixed, o->eids[i], sizeof(fixed));
                    sgp32_eid_set_check_digits(fixed);
                }
                fprintf(stderr, "sgp32-fleet: --eid %s is not an EID (32 digits, mod 97 == 1)%s%s\n",
                        o->eids[i], *fixed ? "; with check digits it is " : "", fixed);
                return SGP32_ERR_EID_CHECK_DIGITS;
            }
            memcpy(d->eid, o->eids[i], sizeof(d->eid));
        } else {
            memcpy(d->eid, base, sizeof(d->eid));
            if (!add_decimal(d->eid, 30, i)) {
                fprintf(stderr, "sgp32-fleet: --first-eid + %zu devices runs past 30 digits\n", f->count);
                return SGP32_ERR_INVALID_ARGUMENT;
            }
            sgp32_eid_set_check_digits(d->eid);
        }
        for (size_t k = 0; k < f->issuer_count; k++)
            if (!eid_permitted(&f->issuers[k], d->eid)) {
                fprintf(
                    stderr,
                    "sgp32-fleet: EID %s is outside the range of CERT_EUM_%s (EIDs starting with %s): choose "
                    "--first-eid with that prefix\n",
                    d->eid, f->issuers[k].tag, eum_prefix(&f->issuers[k]));
                return SGP32_ERR_CERT_NAME_CONSTRAINT;
            }
        d->features = (i < indirect ? SGP32_IPA_FEATURE_INDIRECT_RSP_SERVER_COMMUNICATION
                                    : SGP32_IPA_FEATURE_DIRECT_RSP_SERVER_COMMUNICATION) |
                      o->extra_features;
    }
    if (o->eid_count > 1) {
        const char **sorted = malloc(f->count * sizeof(*sorted));
        if (!sorted)
            return SGP32_ERR_NO_MEMORY;
        for (size_t i = 0; i < f->count; i++)
            sorted[i] = f->devices[i].eid;
        qsort(sorted, f->count, sizeof(*sorted), compare_text);
        int rc = SGP32_OK;
        for (size_t i = 1; i < f->count && !rc; i++)
            if (!strcmp(sorted[i], sorted[i - 1])) {
                fprintf(stderr, "sgp32-fleet: --eid %s is given twice\n", sorted[i]);
                rc = SGP32_ERR_INVALID_ARGUMENT;
            }
        free(sorted);
        if (rc)
            return rc;
    }
    /* --no-attach: an EID of the fleet or a device index */
    for (size_t k = 0; k < o->no_attach_count; k++) {
        const char *v = o->no_attach[k];
        fleet_device *hit = NULL;
        if (all_digits(v) && strlen(v) < 10) {
            unsigned long index = strtoul(v, NULL, 10);
            if (index < f->count)
                hit = &f->devices[index];
        } else {
            for (size_t i = 0; i < f->count && !hit; i++)
                if (!strcmp(f->devices[i].eid, v))
                    hit = &f->devices[i];
        }
        if (!hit) {
            fprintf(
                stderr,
                "sgp32-fleet: --no-attach %s is neither an EID of the fleet nor a device index (0..%zu)\n", v,
                f->count - 1);
            return SGP32_ERR_INVALID_ARGUMENT;
        }
        hit->no_attach = true;
    }
    return SGP32_OK;
}

/* ------------------------------------------------------------------ identities */

/* The device key: SHA-256(label, EUM key, curve, EID, counter) until it is a valid scalar. */
static int derive_key(const fleet_issuer *is, const char *eid, sgp32_ec_private_key *key,
                      sgp32_ec_public_key *pub)
{
    static const char label[] = "sgp32-fleet eUICC key";
    for (uint8_t counter = 0; counter < 64; counter++) {
        sgp32_bytes parts[] = {SGP32_BYTES(label, sizeof(label)),
                               SGP32_BYTES(is->eum_key.scalar, SGP32_EC_SCALAR_LEN),
                               SGP32_BYTES(is->tag, strlen(is->tag)), SGP32_BYTES(eid, SGP32_EID_DIGITS),
                               SGP32_BYTES(&counter, 1)};
        key->curve = is->curve;
        int rc = sgp32_sha256_parts(parts, SGP32_ARRAY_LEN(parts), key->scalar);
        if (rc)
            return rc;
        rc = sgp32_ec_public_from_private(key, pub);
        if (rc != SGP32_ERR_CRYPTO_BAD_KEY)
            return rc;
    }
    return SGP32_ERR_CRYPTO_BAD_KEY;
}

int fleet_issue_identities(fleet *f, size_t first, size_t end)
{
    int64_t now = (int64_t)time(NULL);
    sgp32_buf der;
    sgp32_buf_init(&der, 8192);
    int rc = SGP32_OK;
    for (size_t i = first; i < end && !rc; i++) {
        fleet_device *d = &f->devices[i];
        for (size_t k = 0; k < f->issuer_count && !rc; k++) {
            const fleet_issuer *is = &f->issuers[k];
            sgp32_ec_public_key pub;
            if ((rc = derive_key(is, d->eid, &d->key[k], &pub)) != SGP32_OK)
                break;
            const char *org = is->eum.name_constraint.organization[0] ? is->eum.name_constraint.organization
                                                                      : is->eum.subject.organization;
            int64_t not_before = now - 86400 > is->eum.not_before ? now - 86400 : is->eum.not_before;
            sgp32_cert_request req = {
                .profile = SGP32_CERT_PROFILE_EUICC,
                .country = is->eum.subject.country,
                .organization = org,
                .serial_number = d->eid,
                .common_name = "sgp32-fleet eUICC",
                .subject_key = &pub,
                .not_before = not_before,
                .not_after = is->eum.not_after,
            };
            sgp32_buf_reset(&der);
            if ((rc = sgp32_cert_issue(&req, is->eum_der.data, is->eum_der.len, &is->eum_key, &der)) !=
                SGP32_OK)
                break;
            d->cert[k] = malloc(der.len);
            if (!d->cert[k]) {
                rc = SGP32_ERR_NO_MEMORY;
                break;
            }
            memcpy(d->cert[k], der.data, der.len);
            d->cert_len[k] = der.len;
        }
        if (!rc && (rc = sgp32_euicc_memory_store_new(&d->memory, &d->store)) != SGP32_OK)
            break;
    }
    sgp32_buf_free(&der);
    return rc;
}

typedef struct issue_job {
    fleet *f;
    size_t first, end;
    pthread_t thread;
    int rc;
} issue_job;

static void *issue_thread(void *arg)
{
    issue_job *j = arg;
    j->rc = fleet_issue_identities(j->f, j->first, j->end);
    return NULL;
}

/* Every device's identity, on --threads threads (key derivation and signing dominate setup). */
int fleet_issue_all(fleet *f)
{
    size_t n = f->opt.threads < f->count ? f->opt.threads : f->count;
    issue_job *jobs = calloc(n, sizeof(*jobs));
    if (!jobs)
        return SGP32_ERR_NO_MEMORY;
    size_t started = 0;
    int rc = SGP32_OK;
    for (size_t i = 0; i < n; i++) {
        jobs[i] = (issue_job){.f = f, .first = f->count * i / n, .end = f->count * (i + 1) / n};
        if (pthread_create(&jobs[i].thread, NULL, issue_thread, &jobs[i]) != 0) {
            rc = SGP32_ERR_NO_MEMORY;
            break;
        }
        started++;
    }
    for (size_t i = 0; i < started; i++) {
        pthread_join(jobs[i].thread, NULL);
        if (!rc)
            rc = jobs[i].rc;
    }
    free(jobs);
    return rc;
}

int fleet_check_first_identity(fleet *f)
{
    const fleet_device *d = &f->devices[0];
    uint8_t eid[SGP32_EID_LEN];
    int rc = sgp32_eid_from_text(d->eid, eid);
    for (size_t k = 0; k < f->issuer_count && !rc; k++) {
        sgp32_ci_set set;
        sgp32_ci_set_init(&set);
        rc = sgp32_ci_set_add(&set, f->issuers[k].ci_der.data, f->issuers[k].ci_der.len);
        if (!rc)
            rc = sgp32_cert_verify_euicc_chain(&set, sgp32_buf_bytes(&f->issuers[k].eum_der),
                                               SGP32_BYTES(d->cert[k], d->cert_len[k]), (int64_t)time(NULL),
                                               eid, NULL);
        sgp32_ci_set_free(&set);
        if (rc)
            fprintf(stderr,
                    "sgp32-fleet: the eUICC certificate issued for %s does not verify against CERT_EUM_%s "
                    "and its CI: "
                    "%s (is %s one PKI made by sgp32-pki generate?)\n",
                    d->eid, f->issuers[k].tag, sgp32_err_str(rc), f->opt.pki_dir);
    }
    return rc;
}

void fleet_device_free(fleet_device *d)
{
    for (size_t k = 0; k < FLEET_MAX_CURVES; k++) {
        free(d->cert[k]);
        d->cert[k] = NULL;
        sgp32_secure_zero(&d->key[k], sizeof(d->key[k]));
    }
    sgp32_euicc_memory_store_free(d->memory);
    d->memory = NULL;
    fleet_snapshot_free(&d->snap);
}

/* ------------------------------------------------------------------ the card */

int fleet_card_open(fleet *f, fleet_device *d, sgp32_euicc **card)
{
    sgp32_euicc_config c;
    memset(&c, 0, sizeof(c));
    for (size_t k = 0; k < f->issuer_count; k++) {
        c.identities[k].euicc_certificate = SGP32_BYTES(d->cert[k], d->cert_len[k]);
        c.identities[k].eum_certificate = sgp32_buf_bytes(&f->issuers[k].eum_der);
        c.identities[k].key = d->key[k];
        c.trusted_cis[k] = sgp32_buf_bytes(&f->issuers[k].ci_der);
    }
    c.identity_count = c.trusted_ci_count = f->issuer_count;
    c.store = d->store;
    c.default_dp_address = f->opt.default_smdp;
    c.preloaded = &f->bootstrap;
    c.preloaded_count = 1;
    int rc = sgp32_euicc_open(&c, card);
    sgp32_secure_zero(&c, sizeof(c)); /* the copy of SK.EUICC */
    return rc;
}

void fleet_card_close(sgp32_euicc *card)
{
    sgp32_euicc_close(card);
}

void fleet_snapshot_free(fleet_snapshot *s)
{
    for (size_t i = 0; i < FLEET_MAX_EIMS; i++) {
        if (s->eim_ids[i])
            sgp32_free(s->eim_ids[i], strlen(s->eim_ids[i]) + 1);
        if (s->eim_fqdns[i])
            sgp32_free(s->eim_fqdns[i], strlen(s->eim_fqdns[i]) + 1);
    }
    memset(s, 0, sizeof(*s));
}

static char *copy_text(sgp32_bytes v)
{
    char *s = sgp32_alloc(v.len + 1);
    if (s) {
        memcpy(s, v.data, v.len);
        for (size_t i = 0; i < v.len; i++)
            if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
                s[i] = '?';
    }
    return s;
}

static bool find_tlv(sgp32_bytes contents, uint32_t tag, sgp32_asn1_tlv *out)
{
    sgp32_asn1_reader r;
    sgp32_asn1_reader_init(&r, contents, 2);
    while (sgp32_asn1_reader_next(&r, out) == SGP32_OK)
        if (out->tag == tag)
            return true;
    return false;
}

/* EF.ICCID coding (nibble-swapped, F padding) -> digits */
static void iccid_text(sgp32_bytes v, char out[21])
{
    size_t n = 0;
    for (size_t i = 0; i < v.len && i < 10; i++) {
        uint8_t lo = v.data[i] & 15, hi = v.data[i] >> 4;
        if (lo > 9)
            break;
        out[n++] = (char)('0' + lo);
        if (hi > 9)
            break;
        out[n++] = (char)('0' + hi);
    }
    out[n] = 0;
}

static int es10(sgp32_euicc *card, const uint8_t *req, size_t len, sgp32_buf *rsp, uint32_t tag,
                sgp32_asn1_tlv *out)
{
    sgp32_buf_reset(rsp);
    int rc = sgp32_euicc_es10(card, req, len, rsp);
    if (!rc)
        rc = sgp32_asn1_expect(rsp->data, rsp->len, tag, out);
    return rc;
}

int fleet_card_snapshot(sgp32_euicc *card, sgp32_buf *scratch, fleet_snapshot *out)
{
    /* GetProfilesInfo with tagList {5A iccid, 9F70 state, 95 class} */
    static const uint8_t profiles_req[] = {0xBF, 0x2D, 0x06, 0x5C, 0x04, 0x5A, 0x9F, 0x70, 0x95};
    static const uint8_t eims_req[] = {0xBF, 0x55, 0x00};
    fleet_snapshot s;
    memset(&s, 0, sizeof(s));
    sgp32_asn1_tlv outer, list, item, v;
    int rc = es10(card, profiles_req, sizeof(profiles_req), scratch, 0xBF2D, &outer);
    if (!rc && find_tlv(outer.value, 0xA0, &list)) {
        sgp32_asn1_reader r;
        sgp32_asn1_reader_init(&r, list.value, 3);
        while (sgp32_asn1_reader_next(&r, &item) == SGP32_OK && s.profile_count < FLEET_MAX_PROFILES) {
            if (item.tag != 0xE3)
                continue;
            fleet_profile *p = &s.profiles[s.profile_count++];
            int64_t x;
            p->profile_class = -1;
            if (find_tlv(item.value, 0x5A, &v))
                iccid_text(v.value, p->iccid);
            if (find_tlv(item.value, 0x9F70, &v) && sgp32_asn1_parse_integer(v.value, &x) == SGP32_OK)
                p->enabled = x == 1;
            if (find_tlv(item.value, 0x95, &v) && sgp32_asn1_parse_integer(v.value, &x) == SGP32_OK &&
                x >= 0 && x <= 2)
                p->profile_class = (int8_t)x;
        }
    }
    if (!rc)
        rc = es10(card, eims_req, sizeof(eims_req), scratch, 0xBF55, &outer);
    if (!rc && find_tlv(outer.value, 0xA0, &list)) {
        sgp32_asn1_reader r;
        sgp32_asn1_reader_init(&r, list.value, 3);
        while (sgp32_asn1_reader_next(&r, &item) == SGP32_OK && s.eim_count < FLEET_MAX_EIMS) {
            if (item.tag != 0x30 || !find_tlv(item.value, 0x80, &v))
                continue;
            size_t k = s.eim_count++;
            s.eim_ids[k] = copy_text(v.value);
            if (find_tlv(item.value, 0x81, &v))
                s.eim_fqdns[k] = copy_text(v.value);
            if (!s.eim_ids[k]) {
                rc = SGP32_ERR_NO_MEMORY;
                break;
            }
        }
    }
    if (rc) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_APP, &fleet_log, "card snapshot failed: %s", sgp32_err_str(rc));
        fleet_snapshot_free(&s);
        return rc;
    }
    s.valid = true;
    *out = s; /* the caller swaps it in under the fleet lock */
    return SGP32_OK;
}

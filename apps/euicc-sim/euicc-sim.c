/*
 * euicc-sim: the software eUICC (lib/euicc) as a card other programs can talk to.
 *
 * Frontends (both may run at once; they share the one card):
 *   --listen unix:PATH | tcp:[HOST:]PORT   a local socket speaking APDUs, one client at a time.
 *       Framing (both ways): 2-byte big-endian length, then that many bytes.
 *         length >= 2: a command APDU; the answer frame is the response APDU (data SW1 SW2)
 *         length 0:    card reset; the answer frame is the ATR
 *         length 1:    a control byte as vpcd's: 00 power off (answer: empty frame), 01 power
 *                      on, 02 reset, 04 get ATR (answer: the ATR); anything else: empty frame
 *       Each new client starts with a reset card (as if the card had just been inserted).
 *   --vpcd [HOST:]PORT   connect to vsmartcard's vpcd (the pcscd driver of the Debian package
 *       vsmartcard-vpcd; default 127.0.0.1:35963) so that PC/SC shows a reader with this card.
 *       Same 2-byte framing; 1-byte controls 00 off, 01 on, 02 reset, 04 ATR (only 04 is
 *       answered). Reconnects when vpcd goes away.
 * Test mode:
 *   --check-state DIR   decode the state in DIR, print the default SM-DP+ address, exit
 *                       (0 ok, 1 missing or corrupt state).
 *
 * Settings come from a "key = value" file (--config) and/or the command line (which wins);
 * see usage() and docs/euicc-sim.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/euicc/euicc_internal.h" /* --check-state decodes the state as the card does */
#include "sgp32/eid.h"
#include "sgp32/euicc.h"
#include "sgp32/log.h"
#include "sgp32/text.h"

#ifndef SGP32_SPEC_DIR
#define SGP32_SPEC_DIR "../shared/spec"
#endif

enum { EXIT_USAGE = 2, EXIT_SETUP = 3 };
enum { PATH_MAX_LEN = 512, FRAME_MAX = 65535, VPCD_DEFAULT_PORT = 35963, MAX_IDENTITIES = 2 };

static const char *prog = "euicc-sim";
static const sgp32_log_context app_log = {"euicc-sim", NULL, NULL};

/* ------------------------------------------------------------------ options */

/* A directory (PATH_MAX_LEN) plus a file name. */
typedef struct identity_files {
    char certificate[PATH_MAX_LEN + 128];
    char key[PATH_MAX_LEN + 128];
    char eum[PATH_MAX_LEN + 128];
} identity_files;

typedef struct options {
    char state_dir[PATH_MAX_LEN];
    bool memory_store;
    char sgp26[PATH_MAX_LEN];
    char pki[PATH_MAX_LEN];
    char eid[SGP32_EID_DIGITS + 1];
    identity_files identities[MAX_IDENTITIES];
    size_t identity_count;
    char cis[SGP32_EUICC_MAX_TRUSTED_CIS][PATH_MAX_LEN];
    size_t ci_count;
    char bootstrap_iccid[21];
    char bootstrap_name[65];
    char bootstrap_provider[33];
    bool no_bootstrap;
    char default_dp[EUICC_ADDRESS_MAX + 1];
    bool has_default_dp;
    char root_ds[EUICC_ADDRESS_MAX + 1];
    char listen[PATH_MAX_LEN];
    char vpcd[PATH_MAX_LEN];
    bool test_allow_es10c;
    char check_state[PATH_MAX_LEN];
} options;

static void usage(FILE *f)
{
    fprintf(
        f,
        "Usage: %s [OPTIONS]\n"
        "\n"
        "A software eUICC (SGP.32 v1.2 ISD-R) behind ISO 7816 APDUs: on a local socket and/or\n"
        "as a PC/SC card through vsmartcard's vpcd.\n"
        "\n"
        "Card state:\n"
        "  --state-dir DIR          keep the card's NVM in DIR (created if missing); the state\n"
        "                           survives restarts and crashes\n"
        "  --memory-store           keep the state in memory only (lost at exit)\n"
        "Identity (one of; default: --sgp26 %s/sgp26):\n"
        "  --sgp26 DIR              the SGP.26 test eUICC (NIST and brainpool) and CIs from DIR\n"
        "                           (the spec pack's sgp26/ folder): EID 89049032123451234512345678901235\n"
        "  --pki DIR [--eid EID]    files made by 'sgp32-pki generate --out DIR': CERT_EUICC_<EID>_<curve>,\n"
        "                           SK_EUICC_<EID>_<curve>.pem, CERT_EUM_<curve>, CERT_CI[_SGP26]_<curve>\n"
        "                           (--eid picks one eUICC when DIR holds several)\n"
        "  --identity CERT,KEY,EUM  CERT.EUICC, SK.EUICC (PEM) and CERT.EUM files; repeat for a\n"
        "                           second curve (at most %d; one EID)\n"
        "  --ci FILE                a trusted CI certificate (repeatable, at most %d in all)\n"
        "Certificates may be DER or PEM.\n"
        "Manufacture (used only when the state directory holds no card yet):\n"
        "  --bootstrap-iccid DIGITS the preloaded, enabled provisioning profile (default "
        "8900000000000000001)\n"
        "  --bootstrap-name TEXT    its profile name (default \"Bootstrap\")\n"
        "  --bootstrap-provider TEXT  its service provider name (default \"sgp32 euicc-sim\")\n"
        "  --no-bootstrap           no preloaded profile\n"
        "  --default-dp-address FQDN  the default SM-DP+ address (default: none)\n"
        "  --root-ds-address FQDN   the root SM-DS address (default lpa.ds.gsma.com)\n"
        "Frontends (at least one):\n"
        "  --listen unix:PATH       serve APDUs on a unix socket (one client at a time)\n"
        "  --listen tcp:[HOST:]PORT ... on TCP (HOST default 127.0.0.1)\n"
        "  --vpcd [[HOST:]PORT]     connect to vpcd (default 127.0.0.1:%d) so pcscd shows the card\n"
        "Other:\n"
        "  -c, --config FILE        read settings from FILE first (see below)\n"
        "  --log-level LEVEL        error, warn, info (default), debug, trace (trace dumps APDUs)\n"
        "  --test-allow-es10c-profile-management\n"
        "                           test switch: accept ES10c Enable/Disable/Delete besides PSMOs\n"
        "  --check-state DIR        test mode: load the state in DIR, print the default SM-DP+\n"
        "                           address and exit (0 ok, 1 missing or corrupt)\n"
        "  -h, --help               this text\n"
        "\n"
        "Socket framing, both ways: 2-byte big-endian length + bytes. A frame of 2 bytes or more\n"
        "is an APDU (answer: the response APDU); an empty frame resets the card (answer: the ATR);\n"
        "a 1-byte frame is a vpcd-style control: 00 power off, 01 power on, 02 reset, 04 ATR.\n"
        "\n"
        "Config file: one 'key = value' per line, '#' starts a comment; keys are the long option\n"
        "names without '--' ('-' or '_' alike); switches take yes/no; identity and ci repeat.\n"
        "Command-line options override the file; repeatable ones add to it. Example:\n"
        "  state-dir = /var/lib/euicc-sim\n"
        "  sgp26 = /opt/spec/sgp26\n"
        "  listen = unix:/run/euicc-sim.sock\n"
        "  vpcd = 127.0.0.1:35963\n"
        "  log-level = info\n"
        "\n"
        "Examples:\n"
        "  %s --state-dir /tmp/card --listen unix:/tmp/card.sock\n"
        "  %s --state-dir /tmp/card --pki /tmp/pki --vpcd     # then: pcsc_scan, lpac, ...\n"
        "Exit status: 0 after SIGINT/SIGTERM, 2 usage error, 3 setup error (files, sockets).\n",
        prog, SGP32_SPEC_DIR, MAX_IDENTITIES, SGP32_EUICC_MAX_TRUSTED_CIS, VPCD_DEFAULT_PORT, prog, prog);
}

static bool copy_text(char *dst, size_t size, const char *value)
{
    size_t n = strlen(value);
    if (n >= size)
        return false;
    memcpy(dst, value, n + 1);
    return true;
}

static int parse_switch(const char *value)
{
    if (!value || !*value || !strcasecmp(value, "yes") || !strcasecmp(value, "true") || !strcmp(value, "1") ||
        !strcasecmp(value, "on"))
        return 1;
    if (!strcasecmp(value, "no") || !strcasecmp(value, "false") || !strcmp(value, "0") ||
        !strcasecmp(value, "off"))
        return 0;
    return -1;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* One setting (from the file or a flag). key uses '-'; value NULL for a bare switch.
 * Returns NULL or an error message. */
static const char *set_option(options *o, const char *key, const char *value)
{
#define NEED_VALUE()                                                                                         \
    do {                                                                                                     \
        if (!value || !*value)                                                                               \
            return "needs a value";                                                                          \
    } while (0)
#define TEXT(field)                                                                                          \
    do {                                                                                                     \
        NEED_VALUE();                                                                                        \
        if (!copy_text(field, sizeof(field), value))                                                         \
            return "value too long";                                                                         \
        return NULL;                                                                                         \
    } while (0)
#define SWITCH(field)                                                                                        \
    do {                                                                                                     \
        int b = parse_switch(value);                                                                         \
        if (b < 0)                                                                                           \
            return "takes yes or no";                                                                        \
        field = b == 1;                                                                                      \
        return NULL;                                                                                         \
    } while (0)

    if (!strcmp(key, "state-dir"))
        TEXT(o->state_dir);
    if (!strcmp(key, "memory-store"))
        SWITCH(o->memory_store);
    if (!strcmp(key, "sgp26"))
        TEXT(o->sgp26);
    if (!strcmp(key, "pki"))
        TEXT(o->pki);
    if (!strcmp(key, "eid")) {
        NEED_VALUE();
        uint8_t bcd[SGP32_EID_LEN];
        if (strlen(value) != SGP32_EID_DIGITS || sgp32_eid_from_text(value, bcd) != SGP32_OK)
            return "is not a valid 32-digit EID";
        TEXT(o->eid);
    }
    if (!strcmp(key, "identity")) {
        NEED_VALUE();
        if (o->identity_count == MAX_IDENTITIES)
            return "given too often (at most 2)";
        identity_files *id = &o->identities[o->identity_count];
        char copy[3 * PATH_MAX_LEN];
        if (!copy_text(copy, sizeof(copy), value))
            return "value too long";
        char *parts[3] = {0};
        char *p = copy;
        for (int i = 0; i < 3; i++) {
            parts[i] = p;
            char *comma = i < 2 ? strchr(p, ',') : NULL;
            if (i < 2 && !comma)
                return "takes three comma-separated files: CERT.EUICC,SK.EUICC,CERT.EUM";
            if (comma) {
                *comma = '\0';
                p = comma + 1;
            }
        }
        if (!copy_text(id->certificate, sizeof(id->certificate), trim(parts[0])) ||
            !copy_text(id->key, sizeof(id->key), trim(parts[1])) ||
            !copy_text(id->eum, sizeof(id->eum), trim(parts[2])))
            return "a file name is too long";
        o->identity_count++;
        return NULL;
    }
    if (!strcmp(key, "ci")) {
        NEED_VALUE();
        if (o->ci_count == SGP32_EUICC_MAX_TRUSTED_CIS)
            return "given too often (at most 4)";
        if (!copy_text(o->cis[o->ci_count], sizeof(o->cis[0]), value))
            return "value too long";
        o->ci_count++;
        return NULL;
    }
    if (!strcmp(key, "bootstrap-iccid")) {
        NEED_VALUE();
        uint8_t iccid[10];
        if (euicc_iccid_from_text(value, iccid) != SGP32_OK)
            return "is not an ICCID (18 to 20 digits)";
        TEXT(o->bootstrap_iccid);
    }
    if (!strcmp(key, "bootstrap-name"))
        TEXT(o->bootstrap_name);
    if (!strcmp(key, "bootstrap-provider"))
        TEXT(o->bootstrap_provider);
    if (!strcmp(key, "no-bootstrap"))
        SWITCH(o->no_bootstrap);
    if (!strcmp(key, "default-dp-address")) {
        NEED_VALUE();
        o->has_default_dp = true;
        TEXT(o->default_dp);
    }
    if (!strcmp(key, "root-ds-address"))
        TEXT(o->root_ds);
    if (!strcmp(key, "listen")) {
        NEED_VALUE();
        if (strncmp(value, "unix:", 5) != 0 && strncmp(value, "tcp:", 4) != 0)
            return "takes unix:PATH or tcp:[HOST:]PORT";
        TEXT(o->listen);
    }
    if (!strcmp(key, "vpcd")) {
        if (!value || !*value || parse_switch(value) == 1) {
            snprintf(o->vpcd, sizeof(o->vpcd), "127.0.0.1:%d", VPCD_DEFAULT_PORT);
            return NULL;
        }
        if (parse_switch(value) == 0) {
            o->vpcd[0] = '\0';
            return NULL;
        }
        TEXT(o->vpcd);
    }
    if (!strcmp(key, "log-level")) {
        NEED_VALUE();
        int level = sgp32_log_level_parse(value);
        if (level < 0)
            return "takes error, warn, info, debug or trace";
        sgp32_log_set_level_all((sgp32_log_level)level);
        return NULL;
    }
    if (!strcmp(key, "test-allow-es10c-profile-management"))
        SWITCH(o->test_allow_es10c);
    return "is not a known setting";
#undef NEED_VALUE
#undef TEXT
#undef SWITCH
}

static bool is_switch(const char *key)
{
    return !strcmp(key, "memory-store") || !strcmp(key, "no-bootstrap") ||
           !strcmp(key, "test-allow-es10c-profile-management");
}

static int load_config(options *o, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: cannot read the config file %s: %s\n", prog, path, strerror(errno));
        return EXIT_USAGE;
    }
    char line[2048];
    int number = 0, rc = 0;
    while (!rc && fgets(line, sizeof(line), f)) {
        number++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        char *key = s, *value = NULL;
        if (eq) {
            *eq = '\0';
            value = trim(eq + 1);
        }
        key = trim(key);
        for (char *k = key; *k; k++)
            if (*k == '_')
                *k = '-';
        if (!eq && !is_switch(key)) {
            fprintf(stderr, "%s: %s:%d: expected 'key = value'\n", prog, path, number);
            rc = EXIT_USAGE;
            break;
        }
        if (!strcmp(key, "config") || !strcmp(key, "check-state")) {
            fprintf(stderr, "%s: %s:%d: '%s' is a command-line option only\n", prog, path, number, key);
            rc = EXIT_USAGE;
            break;
        }
        const char *error = set_option(o, key, value);
        if (error) {
            fprintf(stderr, "%s: %s:%d: %s %s (see %s --help)\n", prog, path, number, key, error, prog);
            rc = EXIT_USAGE;
        }
    }
    fclose(f);
    return rc;
}

static int parse_arguments(options *o, int argc, char **argv)
{
    /* The config file first, so that flags override it wherever they stand. */
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config"))) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: %s needs a file (try --help)\n", prog, argv[i]);
                return EXIT_USAGE;
            }
            int rc = load_config(o, argv[++i]);
            if (rc)
                return rc;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-c") || !strcmp(arg, "--config")) {
            i++;
            continue;
        }
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            usage(stdout);
            exit(0);
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "%s: unexpected argument '%s' (try --help)\n", prog, arg);
            return EXIT_USAGE;
        }
        char key[64];
        const char *value = NULL;
        const char *eq = strchr(arg, '=');
        size_t klen = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if (klen >= sizeof(key)) {
            fprintf(stderr, "%s: unknown option '%s' (try --help)\n", prog, arg);
            return EXIT_USAGE;
        }
        memcpy(key, arg + 2, klen);
        key[klen] = '\0';
        if (eq)
            value = eq + 1;
        if (!strcmp(key, "check-state")) {
            if (!value && i + 1 < argc)
                value = argv[++i];
            if (!value || !copy_text(o->check_state, sizeof(o->check_state), value)) {
                fprintf(stderr, "%s: --check-state needs a directory\n", prog);
                return EXIT_USAGE;
            }
            continue;
        }
        if (!eq && !is_switch(key)) {
            /* --vpcd takes an optional value: only when the next word is not an option. */
            bool optional = !strcmp(key, "vpcd");
            if (i + 1 < argc && (!optional || strncmp(argv[i + 1], "-", 1) != 0))
                value = argv[++i];
            else if (!optional) {
                const char *error = set_option(o, key, NULL);
                fprintf(stderr, "%s: --%s %s (try --help)\n", prog, key, error ? error : "needs a value");
                return EXIT_USAGE;
            }
        }
        const char *error = set_option(o, key, value);
        if (error) {
            fprintf(stderr, "%s: --%s %s (try --help)\n", prog, key, error);
            return EXIT_USAGE;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ identity files */

typedef struct loaded {
    sgp32_buf files[3 * MAX_IDENTITIES + SGP32_EUICC_MAX_TRUSTED_CIS];
    size_t file_count;
} loaded;

static int read_file(const char *path, sgp32_buf *out)
{
    sgp32_buf_init(out, 1 << 20);
    FILE *f = fopen(path, "rb");
    if (!f)
        return SGP32_ERR_IO;
    uint8_t chunk[4096];
    size_t n;
    int rc = SGP32_OK;
    while (rc == SGP32_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = sgp32_buf_append(out, chunk, n);
    if (ferror(f))
        rc = SGP32_ERR_IO;
    fclose(f);
    return rc;
}

/* A certificate file, DER or PEM, as DER. */
static int load_certificate(loaded *l, const char *path, sgp32_bytes *out)
{
    if (l->file_count == SGP32_ARRAY_LEN(l->files))
        return SGP32_ERR_CAPACITY;
    sgp32_buf raw;
    int rc = read_file(path, &raw);
    if (rc) {
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &app_log, "cannot read %s: %s", path, strerror(errno));
        sgp32_buf_free(&raw);
        return rc;
    }
    sgp32_buf *der = &l->files[l->file_count];
    sgp32_buf_init(der, 1 << 20);
    const char *text = (const char *)raw.data;
    const char *begin = raw.len > 10 ? strstr(text, "-----BEGIN CERTIFICATE-----") : NULL;
    if (begin && memchr(raw.data, 0, raw.len) == NULL) {
        begin += strlen("-----BEGIN CERTIFICATE-----");
        const char *end = strstr(begin, "-----END CERTIFICATE-----");
        rc = end ? sgp32_base64_decode(begin, (size_t)(end - begin), der) : SGP32_ERR_BAD_TEXT;
    } else {
        rc = sgp32_buf_append(der, raw.data, raw.len);
    }
    sgp32_buf_free(&raw);
    if (rc) {
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &app_log, "%s is neither a DER nor a PEM certificate",
                  path);
        sgp32_buf_free(der);
        return rc;
    }
    l->file_count++;
    *out = sgp32_buf_bytes(der);
    return SGP32_OK;
}

static int load_key(const char *path, sgp32_ec_private_key *key)
{
    sgp32_buf pem;
    int rc = read_file(path, &pem);
    if (rc) {
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &app_log, "cannot read %s: %s", path, strerror(errno));
    } else {
        rc = sgp32_ec_private_from_pem((const char *)pem.data, pem.len, key);
        if (rc)
            sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &app_log, "%s holds no usable EC private key: %s", path,
                      sgp32_err_str(rc));
    }
    if (pem.data)
        sgp32_secure_zero(pem.data, pem.len);
    sgp32_buf_free(&pem);
    return rc;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int add_identity(sgp32_euicc_config *c, loaded *l, const identity_files *f)
{
    if (c->identity_count == SGP32_EUICC_MAX_IDENTITIES) {
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &app_log, "at most %d identities", MAX_IDENTITIES);
        return SGP32_ERR_CAPACITY;
    }
    sgp32_euicc_identity *id = &c->identities[c->identity_count];
    int rc = load_certificate(l, f->certificate, &id->euicc_certificate);
    if (!rc)
        rc = load_certificate(l, f->eum, &id->eum_certificate);
    if (!rc)
        rc = load_key(f->key, &id->key);
    if (!rc) {
        c->identity_count++;
        sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_APP, &app_log, "identity: %s (key %s, EUM %s)", f->certificate,
                  f->key, f->eum);
    }
    return rc;
}

static int add_ci(sgp32_euicc_config *c, loaded *l, const char *path)
{
    if (c->trusted_ci_count == SGP32_EUICC_MAX_TRUSTED_CIS) {
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &app_log, "at most %d trusted CIs: %s is one too many",
                  SGP32_EUICC_MAX_TRUSTED_CIS, path);
        return SGP32_ERR_CAPACITY;
    }
    int rc = load_certificate(l, path, &c->trusted_cis[c->trusted_ci_count]);
    if (!rc)
        c->trusted_ci_count++;
    return rc;
}

static const char *const curves[] = {"NIST", "BRP"};

static int identity_from_sgp26(sgp32_euicc_config *c, loaded *l, const char *dir)
{
    for (size_t i = 0; i < SGP32_ARRAY_LEN(curves); i++) {
        identity_files f;
        char ci[PATH_MAX_LEN + 64];
        snprintf(f.certificate, sizeof(f.certificate), "%s/eUICC/CERT_EUICC_ECDSA_%s.der", dir, curves[i]);
        snprintf(f.key, sizeof(f.key), "%s/eUICC/SK_EUICC_ECDSA_%s.pem", dir, curves[i]);
        snprintf(f.eum, sizeof(f.eum), "%s/EUM/CERT_EUM_ECDSA_%s.der", dir, curves[i]);
        snprintf(ci, sizeof(ci), "%s/CertificateIssuer/CERT_CI_ECDSA_%s.der", dir, curves[i]);
        if (!file_exists(f.certificate)) {
            sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &app_log,
                      "%s not found: --sgp26 must name the spec pack's sgp26/ folder", f.certificate);
            return SGP32_ERR_NOT_FOUND;
        }
        int rc = add_identity(c, l, &f);
        if (!rc)
            rc = add_ci(c, l, ci);
        if (rc)
            return rc;
    }
    return SGP32_OK;
}

/* The one EID of CERT_EUICC_<EID>_<curve>.der files in dir. */
static int find_pki_eid(const char *dir, char eid[SGP32_EID_DIGITS + 1])
{
    DIR *d = opendir(dir);
    if (!d) {
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &app_log, "cannot open --pki %s: %s", dir, strerror(errno));
        return SGP32_ERR_IO;
    }
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (strncmp(n, "CERT_EUICC_", 11) != 0 || strlen(n) < 11 + SGP32_EID_DIGITS + 1 ||
            n[11 + SGP32_EID_DIGITS] != '_')
            continue;
        if (found && strncmp(eid, n + 11, SGP32_EID_DIGITS) == 0)
            continue;
        memcpy(eid, n + 11, SGP32_EID_DIGITS);
        eid[SGP32_EID_DIGITS] = '\0';
        found++;
    }
    closedir(d);
    if (found == 1)
        return SGP32_OK;
    sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &app_log,
              found ? "%s holds several eUICCs: choose one with --eid"
                    : "%s holds no CERT_EUICC_<EID>_<curve> file: make one with sgp32-pki generate --out DIR",
              dir);
    return SGP32_ERR_NOT_FOUND;
}

static int identity_from_pki(sgp32_euicc_config *c, loaded *l, const char *dir, const char *wanted_eid)
{
    char eid[SGP32_EID_DIGITS + 1];
    if (wanted_eid[0])
        memcpy(eid, wanted_eid, sizeof(eid));
    else if (find_pki_eid(dir, eid) != SGP32_OK)
        return SGP32_ERR_NOT_FOUND;
    size_t before = c->identity_count;
    for (size_t i = 0; i < SGP32_ARRAY_LEN(curves); i++) {
        identity_files f;
        char ci[PATH_MAX_LEN + 64];
        snprintf(f.certificate, sizeof(f.certificate), "%s/CERT_EUICC_%s_%s.der", dir, eid, curves[i]);
        snprintf(f.key, sizeof(f.key), "%s/SK_EUICC_%s_%s.pem", dir, eid, curves[i]);
        snprintf(f.eum, sizeof(f.eum), "%s/CERT_EUM_%s.der", dir, curves[i]);
        if (!file_exists(f.certificate))
            continue;
        int rc = add_identity(c, l, &f);
        if (rc)
            return rc;
        snprintf(ci, sizeof(ci), "%s/CERT_CI_%s.der", dir, curves[i]);
        if (!file_exists(ci))
            snprintf(ci, sizeof(ci), "%s/CERT_CI_SGP26_%s.der", dir, curves[i]);
        if (file_exists(ci) && (rc = add_ci(c, l, ci)) != SGP32_OK)
            return rc;
    }
    if (c->identity_count == before) {
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &app_log, "%s holds no CERT_EUICC_%s_<NIST|BRP>.der", dir,
                  eid);
        return SGP32_ERR_NOT_FOUND;
    }
    return SGP32_OK;
}

static int build_config(const options *o, sgp32_euicc_config *c, loaded *l)
{
    int rc = SGP32_OK;
    if (o->identity_count) {
        for (size_t i = 0; i < o->identity_count && !rc; i++)
            rc = add_identity(c, l, &o->identities[i]);
    } else if (o->pki[0]) {
        rc = identity_from_pki(c, l, o->pki, o->eid);
    } else {
        char dir[PATH_MAX_LEN];
        snprintf(dir, sizeof(dir), "%s", o->sgp26[0] ? o->sgp26 : SGP32_SPEC_DIR "/sgp26");
        struct stat st;
        if (!o->sgp26[0] && stat(dir, &st) != 0) {
            sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &app_log,
                      "no identity: give --sgp26 DIR (the spec pack's sgp26/ folder), --pki DIR (made by "
                      "sgp32-pki generate) or --identity CERT,KEY,EUM (%s does not exist)",
                      dir);
            return SGP32_ERR_NOT_FOUND;
        }
        rc = identity_from_sgp26(c, l, dir);
    }
    for (size_t i = 0; i < o->ci_count && !rc; i++)
        rc = add_ci(c, l, o->cis[i]);
    if (!rc && c->trusted_ci_count == 0)
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_APP, &app_log,
                  "no trusted CI (--ci FILE): the card will refuse every SM-DP+");
    return rc;
}

/* ------------------------------------------------------------ --check-state */

static int check_state(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: %s is not a directory\n", prog, dir);
        return 1;
    }
    sgp32_euicc_file_store fs;
    sgp32_euicc_store store;
    if (sgp32_euicc_file_store_init(&fs, dir, &store) != SGP32_OK) {
        fprintf(stderr, "%s: cannot use %s as a state directory\n", prog, dir);
        return 1;
    }
    sgp32_buf blob;
    sgp32_buf_init(&blob, 4u << 20);
    int rc = store.load(store.ctx, "state", &blob);
    euicc_state *state = sgp32_alloc(sizeof(*state));
    if (!state)
        rc = SGP32_ERR_NO_MEMORY;
    if (rc == SGP32_ERR_NOT_FOUND)
        fprintf(stderr, "%s: %s holds no card state\n", prog, dir);
    else if (rc)
        fprintf(stderr, "%s: cannot read the state in %s: %s\n", prog, dir, sgp32_err_str(rc));
    if (!rc && (rc = euicc_state_decode(blob.data, blob.len, state)) != SGP32_OK)
        fprintf(stderr, "%s: the state in %s is corrupt: %s\n", prog, dir, sgp32_err_str(rc));
    if (!rc) {
        printf("state: ok (%zu bytes)\n", blob.len);
        printf("default-dp-address: %s\n", state->default_dp_address);
        printf("profiles: %u\n", (unsigned)state->profile_count);
        printf("eims: %u\n", (unsigned)state->eim_count);
    }
    sgp32_free(state, sizeof(*state));
    sgp32_buf_free(&blob);
    return rc ? 1 : 0;
}

/* ------------------------------------------------------------------ signals */

static int signal_pipe[2] = {-1, -1};
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    int saved = errno;
    stop_signal = sig;
    if (signal_pipe[1] >= 0) {
        char c = 1;
        ssize_t n = write(signal_pipe[1], &c, 1);
        (void)n;
    }
    errno = saved;
}

static int install_signals(void)
{
    if (pipe(signal_pipe) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(signal_pipe[i], F_SETFD, FD_CLOEXEC);
        fcntl(signal_pipe[i], F_SETFL, O_NONBLOCK);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    return 0;
}

/* ------------------------------------------------------------- connections */

typedef enum conn_kind { CONN_CLIENT, CONN_VPCD } conn_kind;

typedef struct conn {
    int fd;
    conn_kind kind;
    char peer[300];
    uint8_t in[2 + FRAME_MAX];
    size_t in_len;
} conn;

typedef struct sim {
    sgp32_euicc *card;
    int listen_fd;
    char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    conn client;
    conn vpcd;
    char vpcd_host[256];
    char vpcd_port[16];
    time_t vpcd_next_attempt;
    unsigned vpcd_failures;
    sgp32_buf response;
} sim;

static int send_all(int fd, const uint8_t *data, size_t len)
{
    while (len) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* One frame in one send (one segment / socket buffer entry, not two). */
static int send_frame(int fd, const uint8_t *data, size_t len)
{
    static uint8_t frame[2 + FRAME_MAX];
    if (len > FRAME_MAX)
        return -1;
    frame[0] = (uint8_t)(len >> 8);
    frame[1] = (uint8_t)len;
    if (len)
        memcpy(frame + 2, data, len);
    return send_all(fd, frame, 2 + len);
}

static void conn_close(sim *s, conn *c, const char *why)
{
    if (c->fd < 0)
        return;
    sgp32_log(c->kind == CONN_VPCD ? SGP32_LOG_WARN : SGP32_LOG_INFO, SGP32_LOG_APP, &app_log, "%s: %s",
              c->peer, why);
    close(c->fd);
    c->fd = -1;
    c->in_len = 0;
    if (c->kind == CONN_VPCD) {
        s->vpcd_next_attempt = time(NULL) + 1;
        s->vpcd_failures = 0;
    }
}

static void card_reset(sim *s, const char *why)
{
    sgp32_euicc_reset(s->card);
    sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_APP, &app_log, "card reset (%s)", why);
}

/* One complete frame from c. Returns -1 when the connection must go. */
static int handle_frame(sim *s, conn *c, const uint8_t *frame, size_t len)
{
    sgp32_bytes atr = sgp32_euicc_atr();
    if (len == 0) {
        if (c->kind == CONN_VPCD)
            return 0; /* not part of vpcd's protocol: ignore */
        card_reset(s, "empty frame");
        return send_frame(c->fd, atr.data, atr.len);
    }
    if (len == 1) {
        switch (frame[0]) {
        case 0x00: card_reset(s, "power off"); return c->kind == CONN_VPCD ? 0 : send_frame(c->fd, NULL, 0);
        case 0x01:
            card_reset(s, "power on");
            return c->kind == CONN_VPCD ? 0 : send_frame(c->fd, atr.data, atr.len);
        case 0x02:
            card_reset(s, "reset");
            return c->kind == CONN_VPCD ? 0 : send_frame(c->fd, atr.data, atr.len);
        case 0x04: return send_frame(c->fd, atr.data, atr.len);
        default:
            sgp32_log(SGP32_LOG_WARN, SGP32_LOG_APP, &app_log, "unknown control byte %02X from %s", frame[0],
                      c->peer);
            return c->kind == CONN_VPCD ? 0 : send_frame(c->fd, NULL, 0);
        }
    }
    sgp32_buf_reset(&s->response);
    int rc = sgp32_euicc_transmit(s->card, frame, len, &s->response);
    if (rc) {
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &app_log, "transmit failed: %s", sgp32_err_str(rc));
        static const uint8_t technical_problem[] = {0x6F, 0x00};
        return send_frame(c->fd, technical_problem, 2);
    }
    return send_frame(c->fd, s->response.data, s->response.len);
}

/* Read what is there, handle every complete frame. */
static void conn_readable(sim *s, conn *c)
{
    ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (n <= 0) {
        conn_close(s, c, n == 0 ? "disconnected" : strerror(errno));
        return;
    }
    c->in_len += (size_t)n;
    size_t used = 0;
    while (c->in_len - used >= 2) {
        size_t len = (size_t)c->in[used] << 8 | c->in[used + 1];
        if (c->in_len - used < 2 + len)
            break;
        if (handle_frame(s, c, c->in + used + 2, len) != 0) {
            conn_close(s, c, "cannot send the answer");
            return;
        }
        used += 2 + len;
    }
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
}

static void set_socket_options(int fd)
{
    struct timeval tv = {5, 0}; /* a peer that stops reading does not hang the card */
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static int open_listener(sim *s, const char *spec)
{
    if (!strncmp(spec, "unix:", 5)) {
        const char *path = spec + 5;
        struct sockaddr_un addr;
        memset(&addr, 0, sizeof(addr));
        addr.sun_family = AF_UNIX;
        if (!*path || strlen(path) >= sizeof(addr.sun_path)) {
            sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &app_log, "unix socket path '%s' is empty or too long",
                      path);
            return -1;
        }
        strcpy(addr.sun_path, path);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0)
            return -1;
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
            /* A socket left by a killed simulator: remove it if nobody answers there. */
            int probe = socket(AF_UNIX, SOCK_STREAM, 0);
            if (probe >= 0 && connect(probe, (struct sockaddr *)&addr, sizeof(addr)) != 0 &&
                errno == ECONNREFUSED)
                unlink(path);
            if (probe >= 0)
                close(probe);
        }
        if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 8) != 0) {
            sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &app_log,
                      "cannot listen on unix:%s: %s (another euicc-sim running? a directory missing?)", path,
                      strerror(errno));
            close(fd);
            return -1;
        }
        snprintf(s->unix_path, sizeof(s->unix_path), "%s", path);
        s->listen_fd = fd;
        set_socket_options(fd);
        sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, &app_log, "listening on unix:%s", path);
        return 0;
    }
    /* tcp:[HOST:]PORT */
    char host[256] = "127.0.0.1", port[16];
    const char *rest = spec + 4, *colon = strrchr(rest, ':');
    if (colon) {
        size_t hl = (size_t)(colon - rest);
        if (hl == 0 || hl >= sizeof(host)) {
            sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &app_log, "bad --listen %s", spec);
            return -1;
        }
        memcpy(host, rest, hl);
        host[hl] = '\0';
        rest = colon + 1;
    }
    if (!*rest || strlen(rest) >= sizeof(port) || strspn(rest, "0123456789") != strlen(rest)) {
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &app_log, "bad port in --listen %s", spec);
        return -1;
    }
    strcpy(port, rest);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &app_log, "cannot resolve %s: %s", host, gai_strerror(gai));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 8) != 0) {
            sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &app_log, "cannot listen on %s:%s: %s", host, port,
                      strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        return -1;
    set_socket_options(fd);
    s->listen_fd = fd;
    sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, &app_log, "listening on tcp:%s:%s", host, port);
    return 0;
}

static void accept_client(sim *s)
{
    int fd = accept(s->listen_fd, NULL, NULL);
    if (fd < 0)
        return;
    set_socket_options(fd);
    s->client.fd = fd;
    s->client.in_len = 0;
    snprintf(s->client.peer, sizeof(s->client.peer), "client (%s)", s->unix_path[0] ? "unix socket" : "TCP");
    card_reset(s, "new client");
    sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, &app_log, "client connected");
}

static int parse_host_port(const char *spec, char *host, size_t host_size, char *port, size_t port_size)
{
    const char *colon = strrchr(spec, ':');
    const char *p = colon ? colon + 1 : spec;
    if (colon) {
        size_t hl = (size_t)(colon - spec);
        if (hl == 0 || hl >= host_size)
            return -1;
        memcpy(host, spec, hl);
        host[hl] = '\0';
    } else {
        snprintf(host, host_size, "127.0.0.1");
    }
    if (!*p || strlen(p) >= port_size || strspn(p, "0123456789") != strlen(p))
        return -1;
    strcpy(port, p);
    return 0;
}

static void vpcd_connect(sim *s)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(s->vpcd_host, s->vpcd_port, &hints, &res);
    int fd = -1, error = 0;
    for (struct addrinfo *a = gai == 0 ? res : NULL; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            error = errno;
            close(fd);
            fd = -1;
        }
    }
    if (res)
        freeaddrinfo(res);
    if (fd < 0) {
        /* Say it once loudly, then quietly; back off to 5 s. */
        sgp32_log(s->vpcd_failures == 0 ? SGP32_LOG_WARN : SGP32_LOG_DEBUG, SGP32_LOG_APP, &app_log,
                  "cannot reach vpcd at %s:%s (%s): is pcscd running with the vpcd driver (Debian package "
                  "vsmartcard-vpcd, /etc/reader.conf.d/vpcd)? retrying",
                  s->vpcd_host, s->vpcd_port, gai ? gai_strerror(gai) : strerror(error));
        s->vpcd_failures++;
        s->vpcd_next_attempt = time(NULL) + (s->vpcd_failures < 5 ? 1 : 5);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    set_socket_options(fd);
    s->vpcd.fd = fd;
    s->vpcd.in_len = 0;
    s->vpcd_failures = 0;
    snprintf(s->vpcd.peer, sizeof(s->vpcd.peer), "vpcd %s:%s", s->vpcd_host, s->vpcd_port);
    card_reset(s, "vpcd connected");
    sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, &app_log,
              "connected to vpcd at %s:%s: the card is in the reader", s->vpcd_host, s->vpcd_port);
}

static void run(sim *s, bool use_vpcd)
{
    while (!stop_signal) {
        if (use_vpcd && s->vpcd.fd < 0 && time(NULL) >= s->vpcd_next_attempt)
            vpcd_connect(s);
        struct pollfd fds[4];
        int count = 0, i_listen = -1, i_client = -1, i_vpcd = -1;
        fds[count++] = (struct pollfd){signal_pipe[0], POLLIN, 0};
        if (s->listen_fd >= 0 && s->client.fd < 0) {
            i_listen = count;
            fds[count++] = (struct pollfd){s->listen_fd, POLLIN, 0};
        }
        if (s->client.fd >= 0) {
            i_client = count;
            fds[count++] = (struct pollfd){s->client.fd, POLLIN, 0};
        }
        if (s->vpcd.fd >= 0) {
            i_vpcd = count;
            fds[count++] = (struct pollfd){s->vpcd.fd, POLLIN, 0};
        }
        int timeout = -1;
        if (use_vpcd && s->vpcd.fd < 0) {
            time_t now = time(NULL);
            timeout = s->vpcd_next_attempt > now ? (int)(s->vpcd_next_attempt - now) * 1000 : 0;
        }
        int n = poll(fds, (nfds_t)count, timeout);
        if (n < 0 && errno != EINTR) {
            sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &app_log, "poll: %s", strerror(errno));
            break;
        }
        if (n <= 0)
            continue;
        if (fds[0].revents)
            break; /* a signal */
        if (i_client >= 0 && fds[i_client].revents)
            conn_readable(s, &s->client);
        if (i_vpcd >= 0 && fds[i_vpcd].revents)
            conn_readable(s, &s->vpcd);
        if (i_listen >= 0 && (fds[i_listen].revents & POLLIN))
            accept_client(s);
    }
}

/* -------------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    options *o = calloc(1, sizeof(*o));
    sim *s = calloc(1, sizeof(*s));
    loaded *l = calloc(1, sizeof(*l));
    sgp32_euicc_config *config = calloc(1, sizeof(*config));
    int status = EXIT_SETUP;
    sgp32_euicc_file_store file_store;
    sgp32_euicc_memory_store *memory = NULL;
    if (!o || !s || !l || !config) {
        fprintf(stderr, "%s: out of memory\n", prog);
        goto out;
    }
    snprintf(o->bootstrap_iccid, sizeof(o->bootstrap_iccid), "8900000000000000001");
    snprintf(o->bootstrap_name, sizeof(o->bootstrap_name), "Bootstrap");
    snprintf(o->bootstrap_provider, sizeof(o->bootstrap_provider), "sgp32 euicc-sim");
    snprintf(o->root_ds, sizeof(o->root_ds), "lpa.ds.gsma.com");
    s->listen_fd = -1;
    s->client = (conn){.fd = -1, .kind = CONN_CLIENT};
    s->vpcd = (conn){.fd = -1, .kind = CONN_VPCD};

    if ((status = parse_arguments(o, argc, argv)) != 0)
        goto out;
    if (o->check_state[0]) {
        status = check_state(o->check_state);
        goto out;
    }
    status = EXIT_USAGE;
    if (!o->listen[0] && !o->vpcd[0]) {
        fprintf(stderr,
                "%s: no frontend: give --listen unix:PATH, --listen tcp:[HOST:]PORT and/or --vpcd "
                "(try --help)\n",
                prog);
        goto out;
    }
    if (!o->state_dir[0] && !o->memory_store) {
        fprintf(stderr,
                "%s: where does the card keep its state? give --state-dir DIR (or --memory-store for "
                "a card that forgets everything at exit)\n",
                prog);
        goto out;
    }
    if (o->state_dir[0] && o->memory_store) {
        fprintf(stderr, "%s: --state-dir and --memory-store exclude each other\n", prog);
        goto out;
    }
    if (o->vpcd[0] && parse_host_port(o->vpcd, s->vpcd_host, sizeof(s->vpcd_host), s->vpcd_port,
                                      sizeof(s->vpcd_port)) != 0) {
        fprintf(stderr, "%s: --vpcd takes [HOST:]PORT, not '%s'\n", prog, o->vpcd);
        goto out;
    }

    status = EXIT_SETUP;
    if (build_config(o, config, l) != SGP32_OK)
        goto out;
    int rc = o->memory_store ? sgp32_euicc_memory_store_new(&memory, &config->store)
                             : sgp32_euicc_file_store_init(&file_store, o->state_dir, &config->store);
    if (rc) {
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &app_log, "cannot use the state directory %s: %s",
                  o->state_dir, sgp32_err_str(rc));
        goto out;
    }
    sgp32_euicc_preloaded_profile bootstrap = {
        o->bootstrap_iccid, o->bootstrap_name, o->bootstrap_provider, 1 /* provisioning */, true, false};
    if (!o->no_bootstrap) {
        config->preloaded = &bootstrap;
        config->preloaded_count = 1;
    }
    config->default_dp_address = o->has_default_dp ? o->default_dp : NULL;
    config->root_ds_address = o->root_ds;
    config->allow_es10c_profile_management = o->test_allow_es10c;
    if ((rc = sgp32_euicc_open(config, &s->card)) != SGP32_OK) {
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &app_log,
                  "cannot open the card: %s (a corrupt state? move %s away to start with a new card)",
                  sgp32_err_str(rc), o->state_dir[0] ? o->state_dir : "the state");
        goto out;
    }
    char eid[SGP32_EID_DIGITS + 1];
    sgp32_eid_to_text(sgp32_euicc_eid(s->card), eid);
    sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, &app_log,
              "card EID %s, %zu identit%s, %zu trusted CI%s, state in %s", eid, config->identity_count,
              config->identity_count == 1 ? "y" : "ies", config->trusted_ci_count,
              config->trusted_ci_count == 1 ? "" : "s", o->memory_store ? "memory" : o->state_dir);
    sgp32_buf_init(&s->response, 2 + FRAME_MAX);

    if (install_signals() != 0 || (o->listen[0] && open_listener(s, o->listen) != 0))
        goto out;
    run(s, o->vpcd[0] != '\0');
    if (stop_signal)
        sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, &app_log, "signal %d: stopping", (int)stop_signal);
    status = stop_signal ? 0 : EXIT_SETUP;

out:
    if (s) {
        if (s->client.fd >= 0)
            close(s->client.fd);
        if (s->vpcd.fd >= 0)
            close(s->vpcd.fd);
        if (s->listen_fd >= 0) {
            close(s->listen_fd);
            if (s->unix_path[0])
                unlink(s->unix_path);
        }
        sgp32_euicc_close(s->card);
        sgp32_buf_free(&s->response);
    }
    sgp32_euicc_memory_store_free(memory);
    if (l)
        for (size_t i = 0; i < l->file_count; i++)
            sgp32_buf_free(&l->files[i]);
    if (config)
        sgp32_secure_zero(config, sizeof(*config)); /* SK.EUICC */
    free(config);
    free(l);
    free(s);
    free(o);
    for (int i = 0; i < 2; i++)
        if (signal_pipe[i] >= 0)
            close(signal_pipe[i]);
    return status;
}

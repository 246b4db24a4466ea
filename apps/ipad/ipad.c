/*
 * ipad: the SGP.32 IPA daemon for Linux devices (docs/ipad.md).
 *
 * It runs the sans-I/O IPA core of lib/ipa and maps its actions to the transports of
 * lib/transport: APDUs to the card (euicc-sim socket, PC/SC, AT+CSIM), ESipa to the eIM over
 * HTTPS (ASN.1 or JSON binding, one session per procedure), ES9+ to the SM-DP+ (direct
 * download), the state blob to a file written atomically (write, fsync, rename, fsync dir).
 * With push_listen, packages the eIM pushes (TransferEimPackage, mutual TLS: ipad_push.c) are
 * fed to the core at its next idle or backoff point, and its PUSH_RESPONSE is the HTTP answer.
 * With connectivity_check, an operator command says after each card reset (a profile switch)
 * whether the device can attach with the profile now enabled; while it cannot, nothing goes to
 * the network and the core rolls back an enable with rollbackFlag (start_connectivity_lost).
 *
 *   ipad -c /etc/ipad.conf --once   one poll cycle: boot, poll until no package, notifications
 *   ipad -c /etc/ipad.conf          daemon: poll every poll_interval, take pushes, backoff,
 *                                   SIGTERM/SIGINT
 *
 * Exit status: 0 idle (--once) or clean stop, 1 a procedure failed (--once; results stay pending),
 * 2 usage / config error, 3 setup error (card, state file).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipad_push.h"
#include "sgp32/apdu_transport.h"
#include "sgp32/asn1.h"
#include "sgp32/es9_client.h"
#include "sgp32/esipa_client.h"
#include "sgp32/ipa.h"
#include "sgp32/log.h"
#include "sgp32/text.h"

enum { EXIT_PROCEDURE = 1, EXIT_USAGE = 2, EXIT_SETUP = 3 };
enum { IPAD_CA_MAX = 8 };
/* The core's cap on one ESipa/ES9+ message or ES10 response (its default is 8 KiB, for small
 * devices). A RetrieveNotificationsList answer holds every pending notification, each with
 * CERT.EUICC and CERT.EUM (about 1.3 KiB): past the cap every poll cycle would fail there for
 * ever. 256 KiB is more than a card keeps (euicc-sim: 32 entries of at most 2 KiB); the buffers
 * grow only as far as they are used. */
enum { IPAD_MESSAGE_MAX = 256 << 10 };

static const sgp32_log_context app_log = {.component = "ipad"};

/* ------------------------------------------------------------------ configuration */

typedef struct ipad_config {
    char card[512];
    char eim_address[256];
    sgp32_esipa_binding binding;
    char ca_file[512];
    char pinned_key[512]; /* file: DER or PEM SubjectPublicKeyInfo of the eIM's TLS key */
    char smdp_ca_file[512];
    bool insecure;
    char state_file[512];
    uint32_t poll_interval_s;
    uint32_t backoff_base_s;
    uint32_t backoff_max_s;
    uint32_t features;
    uint32_t protocols;
    bool eim_supports_compact;
    int http_timeout_ms;
    int card_timeout_ms;
    int log_level;
    char push_listen[264]; /* "": no push listener */
    char push_tls_certificate[512], push_tls_key[512];
    char push_client_ca[IPAD_CA_MAX][512];
    size_t push_client_ca_count;
    uint32_t push_timeout_s;
    char connectivity_check[512]; /* "": none; run with /bin/sh -c */
    uint32_t connectivity_check_timeout_s;
} ipad_config;

static void usage(FILE *out, const char *prog)
{
    fprintf(out,
            "usage: %s -c FILE [--once] [--log-level LEVEL]\n"
            "The SGP.32 IoT Profile Assistant daemon: polls the eIM, runs eUICC packages and\n"
            "profile downloads on the card, reports results and notifications.\n"
            "\n"
            "  -c, --config FILE   the configuration (below); required\n"
            "  --once              one poll cycle (boot, poll until no package, notifications),\n"
            "                      then exit: 0 idle, 1 a procedure failed (results stay pending)\n"
            "  --log-level LEVEL   error, warn, info, debug (every step), trace; overrides the file\n"
            "  -h, --help          this text\n"
            "\n"
            "Config file: one 'key = value' per line, '#' starts a comment.\n"
            "  card = URI                  socket:unix:PATH | socket:tcp:[HOST:]PORT | pcsc:[READER]\n"
            "                              | at:/dev/ttyUSB2[@BAUD]   (required)\n"
            "  eim_address = HOST[:PORT]   eIM override (default: eimFqdn of the card's first eIM)\n"
            "  binding = asn1|json         ESipa binding (default asn1)\n"
            "  ca_file = FILE              PEM CA certificates trusted for the eIM's TLS certificate\n"
            "  pinned_key = FILE           pin the eIM's TLS key (DER or PEM SubjectPublicKeyInfo)\n"
            "  smdp_ca_file = FILE         PEM CAs for the SM-DP+ (direct download); default ca_file\n"
            "  insecure_skip_tls_verify_for_tests = yes|no   no TLS checks at all (tests only)\n"
            "  state_file = FILE           the IPA's state (default /var/lib/ipad/state)\n"
            "  poll_interval = SECONDS     daemon: poll the eIM this often (default 3600)\n"
            "  backoff_base = SECONDS      first retry delay after a failure (default 30)\n"
            "  backoff_max = SECONDS       retry delay cap (default 3600)\n"
            "  ipa_features = LIST         comma list of: direct, indirect, eim_download_data,\n"
            "                              eim_ctx_params1, eim_metadata_verification,\n"
            "                              minimize_esipa_bytes (default indirect)\n"
            "  ipa_protocols = LIST        retrieve_https, retrieve_coaps, inject_https,\n"
            "                              inject_coaps, proprietary (default retrieve_https)\n"
            "  eim_supports_compact = yes|no  the eIM takes SGP.32's compact forms (default no)\n"
            "  http_timeout_ms = MS        per HTTP request (default 30000)\n"
            "  card_timeout_ms = MS        per APDU (default 30000)\n"
            "  log_level = LEVEL           error, warn, info (default), debug, trace\n"
            "  push_listen = HOST:PORT     take pushed eIM packages (TransferEimPackage) over HTTPS\n"
            "                              on this address ([IPv6]:PORT; port 0: any free one);\n"
            "                              off by default; daemon only; announces inject_https\n"
            "  push_tls_certificate = FILE the listener's certificate chain, PEM (required with\n"
            "                              push_listen; its name is what the eIM's pushAddress uses)\n"
            "  push_tls_key = FILE         its private key, PEM (required with push_listen)\n"
            "  push_client_ca = FILE       PEM CA certificates whose client certificates (clientAuth)\n"
            "                              may push; repeatable; required with push_listen: mutual\n"
            "                              TLS, a pusher without such a certificate is refused in the\n"
            "                              TLS handshake\n"
            "  push_timeout = SECONDS      how long a push waits for the IPA to take and answer it\n"
            "                              before 503 (busy) or 504 (default 30)\n"
            "  connectivity_check = CMD    run with /bin/sh -c at start and after every card reset\n"
            "                              (a profile switch); environment: IPAD_ICCID = the enabled\n"
            "                              profile's ICCID, IPAD_EVENT = start|card-reset|retry.\n"
            "                              Non-zero exit: the device cannot attach with that profile;\n"
            "                              no ESipa or ES9+ until a check passes (re-run before each\n"
            "                              retry), an enable with rollbackFlag is rolled back\n"
            "                              (ProfileRollback). Default: none (always attached)\n"
            "  connectivity_check_timeout = SECONDS\n"
            "                              a check running longer fails (default 60)\n"
            "\n"
            "Exit status: 0 idle / clean stop, 1 a procedure failed (--once), 2 usage or config\n"
            "error, 3 setup error (card, state file).\n",
            prog);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = 0;
    return s;
}

static int parse_uint(const char *v, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long x = strtoul(v, &end, 10);
    if (!*v || *end || errno || x > 0xFFFFFFFFul || *v == '-')
        return -1;
    *out = (uint32_t)x;
    return 0;
}

static int parse_bool(const char *v, bool *out)
{
    if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "on"))
        *out = true;
    else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "off"))
        *out = false;
    else
        return -1;
    return 0;
}

static int parse_list(const char *v, const char *const *names, size_t count, uint32_t *out)
{
    char tmp[512];
    snprintf(tmp, sizeof(tmp), "%s", v);
    *out = 0;
    for (char *save = NULL, *w = strtok_r(tmp, ", ", &save); w; w = strtok_r(NULL, ", ", &save)) {
        size_t i;
        for (i = 0; i < count && strcmp(w, names[i]); i++)
            ;
        if (i == count)
            return -1;
        *out |= 1u << i;
    }
    return 0;
}

static const char *const feature_names[] = {"direct",
                                            "indirect",
                                            "eim_download_data",
                                            "eim_ctx_params1",
                                            "eim_metadata_verification",
                                            "minimize_esipa_bytes"};
static const char *const protocol_names[] = {"retrieve_https", "retrieve_coaps", "inject_https",
                                             "inject_coaps", "proprietary"};

static int set_string(char *dst, size_t size, const char *v)
{
    if (strlen(v) >= size)
        return -1;
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

/* One key; a message into err on failure. */
static int config_set(ipad_config *c, const char *key, const char *v)
{
    int lvl;
    if (!strcmp(key, "card"))
        return set_string(c->card, sizeof(c->card), v);
    if (!strcmp(key, "eim_address"))
        return set_string(c->eim_address, sizeof(c->eim_address), v);
    if (!strcmp(key, "binding")) {
        if (!strcmp(v, "asn1"))
            c->binding = SGP32_ESIPA_BINDING_ASN1;
        else if (!strcmp(v, "json"))
            c->binding = SGP32_ESIPA_BINDING_JSON;
        else
            return -1;
        return 0;
    }
    if (!strcmp(key, "ca_file"))
        return set_string(c->ca_file, sizeof(c->ca_file), v);
    if (!strcmp(key, "pinned_key"))
        return set_string(c->pinned_key, sizeof(c->pinned_key), v);
    if (!strcmp(key, "smdp_ca_file"))
        return set_string(c->smdp_ca_file, sizeof(c->smdp_ca_file), v);
    if (!strcmp(key, "insecure_skip_tls_verify_for_tests"))
        return parse_bool(v, &c->insecure);
    if (!strcmp(key, "state_file"))
        return set_string(c->state_file, sizeof(c->state_file), v);
    if (!strcmp(key, "poll_interval"))
        return parse_uint(v, &c->poll_interval_s);
    if (!strcmp(key, "backoff_base"))
        return parse_uint(v, &c->backoff_base_s);
    if (!strcmp(key, "backoff_max"))
        return parse_uint(v, &c->backoff_max_s);
    if (!strcmp(key, "ipa_features"))
        return parse_list(v, feature_names, SGP32_ARRAY_LEN(feature_names), &c->features);
    if (!strcmp(key, "ipa_protocols"))
        return parse_list(v, protocol_names, SGP32_ARRAY_LEN(protocol_names), &c->protocols);
    if (!strcmp(key, "eim_supports_compact"))
        return parse_bool(v, &c->eim_supports_compact);
    if (!strcmp(key, "http_timeout_ms") || !strcmp(key, "card_timeout_ms")) {
        uint32_t x;
        if (parse_uint(v, &x) || x > 3600000)
            return -1;
        *(!strcmp(key, "http_timeout_ms") ? &c->http_timeout_ms : &c->card_timeout_ms) = (int)x;
        return 0;
    }
    if (!strcmp(key, "push_listen"))
        return set_string(c->push_listen, sizeof(c->push_listen), v);
    if (!strcmp(key, "push_tls_certificate"))
        return set_string(c->push_tls_certificate, sizeof(c->push_tls_certificate), v);
    if (!strcmp(key, "push_tls_key"))
        return set_string(c->push_tls_key, sizeof(c->push_tls_key), v);
    if (!strcmp(key, "push_client_ca")) {
        if (c->push_client_ca_count == IPAD_CA_MAX)
            return -1;
        return set_string(c->push_client_ca[c->push_client_ca_count++], sizeof(c->push_client_ca[0]), v);
    }
    if (!strcmp(key, "push_timeout")) {
        uint32_t x;
        if (parse_uint(v, &x) || x == 0 || x > 3600)
            return -1;
        c->push_timeout_s = x;
        return 0;
    }
    if (!strcmp(key, "connectivity_check"))
        return set_string(c->connectivity_check, sizeof(c->connectivity_check), v);
    if (!strcmp(key, "connectivity_check_timeout")) {
        uint32_t x;
        if (parse_uint(v, &x) || x == 0 || x > 3600)
            return -1;
        c->connectivity_check_timeout_s = x;
        return 0;
    }
    if (!strcmp(key, "log_level")) {
        if ((lvl = sgp32_log_level_parse(v)) < 0)
            return -1;
        c->log_level = lvl;
        return 0;
    }
    return -2;
}

static int config_load(ipad_config *c, const char *path, const char *prog)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: cannot read config %s: %s\n", prog, path, strerror(errno));
        return -1;
    }
    char line[1024];
    int number = 0, rc = 0;
    while (fgets(line, sizeof(line), f)) {
        number++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *s = trim(line);
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            fprintf(stderr, "%s: %s:%d: expected 'key = value'\n", prog, path, number);
            rc = -1;
            continue;
        }
        *eq = 0;
        char *key = trim(s), *value = trim(eq + 1);
        for (char *k = key; *k; k++)
            if (*k == '-')
                *k = '_';
        int r = config_set(c, key, value);
        if (r == -2)
            fprintf(stderr, "%s: %s:%d: unknown key '%s' (see --help)\n", prog, path, number, key);
        else if (r)
            fprintf(stderr, "%s: %s:%d: bad value '%s' for %s (see --help)\n", prog, path, number, value,
                    key);
        if (r)
            rc = -1;
    }
    fclose(f);
    return rc;
}

/* ------------------------------------------------------------------ files */

static int read_file(const char *path, sgp32_buf *out, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? SGP32_ERR_NOT_FOUND : SGP32_ERR_IO;
    sgp32_buf_init(out, max);
    uint8_t chunk[4096];
    ssize_t n;
    int rc = SGP32_OK;
    while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = SGP32_ERR_IO;
            break;
        }
        if ((rc = sgp32_buf_append(out, chunk, (size_t)n)) != SGP32_OK)
            break;
    }
    close(fd);
    if (rc)
        sgp32_buf_free(out);
    return rc;
}

/* write to PATH.tmp, fsync, rename over PATH, fsync the directory */
static int write_atomic(const char *path, const uint8_t *data, size_t len)
{
    char tmp[600], dir[600];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == dir)
        dir[1] = 0;
    else
        *slash = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            unlink(tmp);
            return -1;
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -1;
    int rc = fsync(dfd);
    close(dfd);
    return rc;
}

/* ------------------------------------------------------------------ clocks, signals, randomness */

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* The core's clock: seconds of CLOCK_REALTIME, so that a backoff deadline in the state blob
 * still means something after a reboot. Sleeping uses CLOCK_MONOTONIC. */
static int64_t now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

static uint32_t random32(void)
{
    uint32_t r = 0;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        r = (uint32_t)ts.tv_nsec ^ (uint32_t)getpid();
    }
    return r;
}

/* Sleep up to seconds (monotonic); false when a stop was requested. */
static bool sleep_s(int64_t seconds)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (!stop_requested) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t left = seconds - (int64_t)(now.tv_sec - start.tv_sec);
        if (left <= 0)
            return true;
        struct timespec ts = {.tv_sec = left > 1 ? 1 : left, .tv_nsec = 0};
        nanosleep(&ts, NULL); /* EINTR: the loop checks the flag */
    }
    return false;
}

/* ------------------------------------------------------------------ the host */

typedef struct ipad {
    ipad_config cfg;
    sgp32_apdu_transport *card;
    sgp32_ipa *ipa;
    sgp32_esipa_session *esipa;
    char esipa_address[256];
    sgp32_es9_session *es9;
    char es9_address[256];
    sgp32_buf pin;
    sgp32_buf apdu_rsp, response, es9_req, atr;
    ipad_push *push;    /* NULL: no push listener */
    unsigned procedure; /* counts procedures (session open .. close) */
    uint64_t http_sent, http_received;
    char last_transport_error[320];
    bool offline;   /* connectivity_check failed: no ESipa / ES9+ until one passes */
    char iccid[21]; /* the enabled profile at the last check ("" none or unknown) */
} ipad;

static void close_sessions(ipad *d)
{
    if (d->esipa) {
        sgp32_https_stats st;
        sgp32_esipa_session_stats(d->esipa, &st);
        d->http_sent += st.bytes_sent;
        d->http_received += st.bytes_received;
        sgp32_log(
            SGP32_LOG_DEBUG, SGP32_LOG_APP, &app_log,
            "ESipa session to %s closed: %llu requests, %llu connections, %llu bytes sent, %llu received",
            d->esipa_address, (unsigned long long)st.requests, (unsigned long long)st.connections,
            (unsigned long long)st.bytes_sent, (unsigned long long)st.bytes_received);
        sgp32_esipa_session_close(d->esipa);
        d->esipa = NULL;
    }
    if (d->es9) {
        sgp32_https_stats st;
        sgp32_es9_session_stats(d->es9, &st);
        d->http_sent += st.bytes_sent;
        d->http_received += st.bytes_received;
        sgp32_es9_session_close(d->es9);
        d->es9 = NULL;
    }
}

static void tls_trust(const ipad *d, sgp32_tls_trust *t, bool smdp)
{
    memset(t, 0, sizeof(*t));
    t->insecure_skip_tls_verify_for_tests = d->cfg.insecure;
    if (smdp) {
        const char *ca = d->cfg.smdp_ca_file[0] ? d->cfg.smdp_ca_file : d->cfg.ca_file;
        t->ca_file = ca[0] ? ca : NULL;
        return;
    }
    t->ca_file = d->cfg.ca_file[0] ? d->cfg.ca_file : NULL;
    if (d->pin.len)
        t->pinned_spki = sgp32_buf_bytes(&d->pin);
}

static void transport_error(ipad *d, sgp32_ipa_event *ev, int rc, long http_status, const char *what,
                            const char *address, const char *message)
{
    ev->type = SGP32_IPA_EV_TRANSPORT_ERROR;
    ev->status = http_status ? (int)http_status : rc;
    /* a long address or message is cut: the log line still says what failed */
    int n = snprintf(d->last_transport_error, sizeof(d->last_transport_error), "%s to %s: %s%s%s", what,
                     address, sgp32_err_str(rc), message && *message ? ": " : "", message ? message : "");
    if (n < 0 || (size_t)n >= sizeof(d->last_transport_error))
        d->last_transport_error[sizeof(d->last_transport_error) - 1] = 0;
    sgp32_log(SGP32_LOG_WARN, SGP32_LOG_APP, &app_log, "%s", d->last_transport_error);
}

/* ------------------------------------------------------------------ connectivity check */

/* One APDU of ipad's own: data || SW in d->apdu_rsp; the SW, or -1. */
static int own_apdu(ipad *d, const uint8_t *command, size_t len)
{
    if (sgp32_apdu_transport_transmit(d->card, command, len, &d->apdu_rsp) != SGP32_OK || d->apdu_rsp.len < 2)
        return -1;
    return (d->apdu_rsp.data[d->apdu_rsp.len - 2] << 8) | d->apdu_rsp.data[d->apdu_rsp.len - 1];
}

/* The enabled profile's ICCID from ProfileInfoListResponse BF2D {A0 {E3 {5A, 9F70} ...}}. */
static void find_enabled_iccid(sgp32_bytes der, char out[21])
{
    sgp32_asn1_tlv top, list, entry, field;
    if (sgp32_asn1_expect(der.data, der.len, 0xBF2D, &top) ||
        sgp32_asn1_read_tlv(top.value.data, top.value.len, &list, NULL) || list.tag != 0xA0)
        return;
    sgp32_asn1_reader entries, fields;
    sgp32_asn1_reader_init(&entries, list.value, 2);
    while (sgp32_asn1_reader_next(&entries, &entry) == SGP32_OK) {
        sgp32_bytes iccid = {NULL, 0};
        bool enabled = false;
        sgp32_asn1_reader_init(&fields, entry.value, 3);
        while (sgp32_asn1_reader_next(&fields, &field) == SGP32_OK) {
            if (field.tag == 0x5A)
                iccid = field.value;
            else if (field.tag == 0x9F70)
                enabled = field.value.len == 1 && field.value.data[0] == 1;
        }
        if (!enabled || !iccid.len || iccid.len > 10)
            continue;
        size_t n = 0; /* BCD, low nibble first, F padding */
        for (size_t i = 0; i < iccid.len; i++)
            for (int k = 0; k < 2; k++) {
                unsigned digit = k ? iccid.data[i] >> 4 : iccid.data[i] & 0x0F;
                if (digit <= 9)
                    out[n++] = (char)('0' + digit);
            }
        out[n] = 0;
        return;
    }
}

/* The enabled profile's ICCID into d->iccid ("" none or unknown): right after a card reset, before
 * the core's own session set-up (which selects the ISD-R again), SELECT ISD-R and ES10c
 * GetProfilesInfo (tags ICCID and profileState) on the basic channel, GET RESPONSE on 61xx. */
static void read_enabled_iccid(ipad *d)
{
    static const uint8_t select[] = {0x00, 0xA4, 0x04, 0x00, 0x10, 0xA0, 0x00, 0x00, 0x05, 0x59, 0x10,
                                     0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00, 0x01, 0x00};
    static const uint8_t info[] = {0x80, 0xE2, 0x91, 0x00, 0x08, 0xBF, 0x2D,
                                   0x05, 0x5C, 0x03, 0x5A, 0x9F, 0x70};
    d->iccid[0] = 0;
    int sw = own_apdu(d, select, sizeof(select));
    if (sw != 0x9000 && (sw >> 8) != 0x61)
        return;
    sgp32_buf all;
    sgp32_buf_init(&all, 1 << 16);
    sw = own_apdu(d, info, sizeof(info));
    while (sw >= 0 && sgp32_buf_append(&all, d->apdu_rsp.data, d->apdu_rsp.len - 2) == SGP32_OK &&
           (sw >> 8) == 0x61) {
        const uint8_t get_response[] = {0x00, 0xC0, 0x00, 0x00, (uint8_t)(sw & 0xFF)};
        sw = own_apdu(d, get_response, sizeof(get_response));
    }
    if (sw == 0x9000)
        find_enabled_iccid(sgp32_buf_bytes(&all), d->iccid);
    sgp32_buf_free(&all);
}

/* Run connectivity_check (/bin/sh -c) with IPAD_ICCID and IPAD_EVENT; true: it exited 0. */
static bool run_connectivity_check(ipad *d, const char *event)
{
    /* the environment is built before fork: the child of a threaded process only calls execve */
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 3, sizeof(*env));
    char iccid_var[40], event_var[40];
    snprintf(iccid_var, sizeof(iccid_var), "IPAD_ICCID=%s", d->iccid);
    snprintf(event_var, sizeof(event_var), "IPAD_EVENT=%s", event);
    if (!env) { /* the check cannot run: nothing is known, nothing changes */
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &app_log,
                  "connectivity check: out of memory: assuming attached");
        return true;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "IPAD_ICCID=", 11) && strncmp(environ[i], "IPAD_EVENT=", 11))
            env[m++] = environ[i];
    env[m++] = iccid_var;
    env[m++] = event_var;
    char *argv[] = {"sh", "-c", d->cfg.connectivity_check, NULL};
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);                      /* a timeout kills the command and its children */
        dup2(STDERR_FILENO, STDOUT_FILENO); /* its output goes to ipad's log, not stdout */
        signal(SIGPIPE, SIG_DFL);
        execve("/bin/sh", argv, env);
        _exit(127);
    }
    free(env);
    if (pid < 0) {
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &app_log,
                  "connectivity check: cannot fork: %s: assuming attached", strerror(errno));
        return true;
    }
    setpgid(pid, pid);
    uint32_t limit = d->cfg.connectivity_check_timeout_s ? d->cfg.connectivity_check_timeout_s : 60;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int status = 0;
    bool killed = false;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR))
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (stop_requested || now.tv_sec - start.tv_sec >= (time_t)limit) {
            killed = true;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            break;
        }
        struct timespec tick = {.tv_sec = 0, .tv_nsec = 20 * 1000 * 1000};
        nanosleep(&tick, NULL);
    }
    bool attached = !killed && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    char how[64];
    if (killed && !stop_requested)
        snprintf(how, sizeof(how), "timed out after %u s", limit);
    else if (killed)
        snprintf(how, sizeof(how), "stop requested");
    else if (WIFEXITED(status))
        snprintf(how, sizeof(how), "exit %d", WEXITSTATUS(status));
    else
        snprintf(how, sizeof(how), "signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    sgp32_log(attached ? SGP32_LOG_INFO : SGP32_LOG_WARN, SGP32_LOG_APP, &app_log,
              "connectivity check (%s, profile %s): %s (%s)", event, d->iccid[0] ? d->iccid : "none",
              attached ? "attached" : "cannot attach", how);
    return attached;
}

/* At start and after every card reset (a profile switch): which profile runs now, and can the
 * device attach with it? If not: the connections are gone, nothing goes to the network until a
 * check passes, and the core hears of it (an enable with rollbackFlag is rolled back). */
static void check_connectivity(ipad *d, const char *event)
{
    if (!d->cfg.connectivity_check[0])
        return;
    close_sessions(d); /* a new profile: the next exchange opens a new connection */
    read_enabled_iccid(d);
    d->offline = !run_connectivity_check(d, event);
    if (d->offline) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_APP, &app_log,
                  "no connectivity with profile %s: ESipa and ES9+ wait until a check passes",
                  d->iccid[0] ? d->iccid : "none");
        sgp32_ipa_start_connectivity_lost(d->ipa);
    }
}

/* Before an exchange while offline: check again (the network may be back). false: still offline,
 * the exchange fails at once. */
static bool connectivity_back(ipad *d, const sgp32_ipa_action *a, sgp32_ipa_event *ev)
{
    if (!d->offline || run_connectivity_check(d, "retry")) {
        d->offline = false;
        return true;
    }
    char msg[96];
    snprintf(msg, sizeof(msg), "no connectivity: profile %s cannot attach (connectivity_check)",
             d->iccid[0] ? d->iccid : "none");
    transport_error(d, ev, SGP32_ERR_TRANSPORT_CONNECT, 0, sgp32_ipa_function_name(a->function), a->address,
                    msg);
    return false;
}

static void do_esipa(ipad *d, const sgp32_ipa_action *a, sgp32_ipa_event *ev)
{
    if (!connectivity_back(d, a, ev))
        return;
    if (d->esipa && strcmp(d->esipa_address, a->address) != 0)
        close_sessions(d);
    if (!d->esipa) {
        sgp32_esipa_config ec = {.eim_fqdn = a->address, .binding = d->cfg.binding};
        tls_trust(d, &ec.tls, false);
        ec.limits.timeout_ms = d->cfg.http_timeout_ms;
        int rc = sgp32_esipa_session_open(&ec, &d->esipa);
        if (rc) {
            d->esipa = NULL;
            transport_error(d, ev, rc, 0, "ESipa session", a->address, NULL);
            return;
        }
        snprintf(d->esipa_address, sizeof(d->esipa_address), "%s", a->address);
        d->procedure++;
        sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, &app_log, "procedure %u: ESipa session to %s (%s binding)",
                  d->procedure, a->address, d->cfg.binding == SGP32_ESIPA_BINDING_JSON ? "json" : "asn1");
    }
    sgp32_https_result res;
    memset(&res, 0, sizeof(res));
    int rc = sgp32_esipa_session_send(d->esipa, a->data.data, a->data.len, &d->response, &res);
    if (rc) {
        transport_error(d, ev, rc, res.http_status, sgp32_ipa_function_name(a->function), a->address,
                        res.message);
        close_sessions(d); /* a failed connection is not reused */
        return;
    }
    sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_APP, &app_log, "ESipa %s: %zu bytes sent, HTTP %ld, %zu bytes back",
              sgp32_ipa_function_name(a->function), a->data.len, res.http_status, d->response.len);
    ev->type = SGP32_IPA_EV_RESPONSE;
    ev->data = sgp32_buf_bytes(&d->response);
    ev->more = false;
}

static void do_es9(ipad *d, const sgp32_ipa_action *a, sgp32_ipa_event *ev)
{
    if (!connectivity_back(d, a, ev))
        return;
    /* The core sends RemoteProfileProvisioningRequest (A2 {request}); the ES9+ client takes the
     * inner request and answers the inner response, which goes back wrapped in A2. */
    sgp32_asn1_tlv wrap;
    if (sgp32_asn1_read_tlv(a->data.data, a->data.len, &wrap, NULL) != SGP32_OK || wrap.tag != 0xA2) {
        transport_error(d, ev, SGP32_ERR_INVALID_ARGUMENT, 0, "ES9+", a->address, "not an A2 request");
        return;
    }
    if (d->es9 && strcmp(d->es9_address, a->address) != 0) {
        sgp32_es9_session_close(d->es9);
        d->es9 = NULL;
    }
    if (!d->es9) {
        sgp32_es9_config c = {.smdp_address = a->address};
        tls_trust(d, &c.tls, true);
        c.limits.timeout_ms = d->cfg.http_timeout_ms;
        int rc = sgp32_es9_session_open(&c, &d->es9);
        if (rc) {
            d->es9 = NULL;
            transport_error(d, ev, rc, 0, "ES9+ session", a->address, NULL);
            return;
        }
        snprintf(d->es9_address, sizeof(d->es9_address), "%s", a->address);
        sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, &app_log, "ES9+ session to %s (direct download)",
                  a->address);
    }
    sgp32_es9_result res;
    memset(&res, 0, sizeof(res));
    sgp32_buf_reset(&d->es9_req);
    int rc = sgp32_es9_session_call(d->es9, wrap.value.data, wrap.value.len, &d->es9_req, &res);
    if (rc) {
        transport_error(d, ev, rc, res.https.http_status, sgp32_ipa_function_name(a->function), a->address,
                        res.https.message);
        sgp32_es9_session_close(d->es9);
        d->es9 = NULL;
        return;
    }
    if (res.status == SGP32_ES9_FAILED || res.status == SGP32_ES9_EXPIRED) {
        char msg[128];
        snprintf(msg, sizeof(msg), "function %s (subject %s, reason %s)",
                 res.status == SGP32_ES9_FAILED ? "failed" : "expired", res.subject_code, res.reason_code);
        transport_error(d, ev, SGP32_ERR_TRANSPORT_PROTOCOL, 0, sgp32_ipa_function_name(a->function),
                        a->address, msg);
        return;
    }
    sgp32_buf_reset(&d->response);
    if (d->es9_req.len) {
        size_t mark = sgp32_asn1_begin(&d->response);
        if (sgp32_buf_append(&d->response, d->es9_req.data, d->es9_req.len) != SGP32_OK ||
            sgp32_asn1_end(&d->response, 0xA2, mark) != SGP32_OK) {
            transport_error(d, ev, SGP32_ERR_CAPACITY, 0, "ES9+", a->address, "answer too large");
            return;
        }
    }
    ev->type = SGP32_IPA_EV_RESPONSE;
    ev->data = sgp32_buf_bytes(&d->response);
    ev->more = false;
}

static void do_apdu(ipad *d, const sgp32_ipa_action *a, sgp32_ipa_event *ev)
{
    int rc = SGP32_OK;
    if (!d->card->is_open)
        rc = sgp32_apdu_transport_open(d->card, &d->atr);
    if (rc == SGP32_OK)
        rc = sgp32_apdu_transport_transmit(d->card, a->data.data, a->data.len, &d->apdu_rsp);
    if (rc) {
        transport_error(d, ev, rc, 0, "APDU", d->cfg.card, NULL);
        sgp32_apdu_transport_close(d->card); /* reopened at the next APDU */
        return;
    }
    if (sgp32_log_enabled(SGP32_LOG_APP, SGP32_LOG_TRACE)) {
        char c[2 * 64 + 1], r[2 * 64 + 1];
        sgp32_hex_encode(a->data.data, a->data.len < 64 ? a->data.len : 64, c);
        sgp32_hex_encode(d->apdu_rsp.data, d->apdu_rsp.len < 64 ? d->apdu_rsp.len : 64, r);
        sgp32_log(SGP32_LOG_TRACE, SGP32_LOG_APP, &app_log, "APDU %s -> %s", c, r);
    }
    ev->type = SGP32_IPA_EV_APDU_RESPONSE;
    ev->data = sgp32_buf_bytes(&d->apdu_rsp);
}

static void do_reset(ipad *d, sgp32_ipa_event *ev)
{
    int rc = d->card->is_open ? sgp32_apdu_transport_reset(d->card, &d->atr)
                              : sgp32_apdu_transport_open(d->card, &d->atr);
    if (rc) {
        transport_error(d, ev, rc, 0, "card reset", d->cfg.card, NULL);
        return;
    }
    sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, &app_log, "card reset");
    check_connectivity(d, "card-reset");
    ev->type = SGP32_IPA_EV_CARD_RESET;
    ev->data = sgp32_buf_bytes(&d->atr);
}

/* A whole PEM file as NUL-terminated text for libmicrohttpd, appended to out. */
static int append_pem(const char *path, const char *what, sgp32_buf *out, const char *prog)
{
    sgp32_buf raw;
    int rc = read_file(path, &raw, 1 << 20);
    if (rc) {
        fprintf(stderr, "%s: cannot read %s %s\n", prog, what, path);
        return -1;
    }
    if (!memmem(raw.data, raw.len, "-----BEGIN ", 11)) {
        fprintf(stderr, "%s: %s %s is not PEM\n", prog, what, path);
        rc = SGP32_ERR_BAD_TEXT;
    }
    if (!rc && out->len && out->data[out->len - 1] == 0)
        out->len--; /* join: one NUL at the very end */
    if (!rc)
        rc = sgp32_buf_append(out, raw.data, raw.len);
    if (!rc)
        rc = sgp32_buf_append_byte(out, '\n');
    if (!rc)
        rc = sgp32_buf_append_byte(out, 0);
    explicit_bzero(raw.data, raw.len);
    sgp32_buf_free(&raw);
    return rc ? -1 : 0;
}

static int start_push_listener(ipad *d, const char *prog)
{
    sgp32_buf cert, key, ca;
    sgp32_buf_init(&cert, 1 << 20);
    sgp32_buf_init(&key, 1 << 20);
    sgp32_buf_init(&ca, 1 << 20);
    int rc = append_pem(d->cfg.push_tls_certificate, "push_tls_certificate", &cert, prog);
    if (!rc)
        rc = append_pem(d->cfg.push_tls_key, "push_tls_key", &key, prog);
    for (size_t i = 0; !rc && i < d->cfg.push_client_ca_count; i++)
        rc = append_pem(d->cfg.push_client_ca[i], "push_client_ca", &ca, prog);
    unsigned port = 0;
    if (!rc) {
        ipad_push_config pc = {
            .listen = d->cfg.push_listen,
            .cert_pem = (const char *)cert.data,
            .key_pem = (const char *)key.data,
            .client_ca_pem = (const char *)ca.data,
            .timeout_ms = (int)(d->cfg.push_timeout_s ? d->cfg.push_timeout_s : 30) * 1000,
        };
        rc = ipad_push_start(&pc, &d->push, &port);
    }
    if (!rc) {
        printf("ipad: push listener on port %u\n", port);
        fflush(stdout);
        sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, &app_log,
                  "push listener on %s (port %u), client certificates from %zu CA file(s)",
                  d->cfg.push_listen, port, d->cfg.push_client_ca_count);
    }
    /* libmicrohttpd has its own copies of what it needs by now */
    if (key.data)
        explicit_bzero(key.data, key.len);
    sgp32_buf_free(&cert);
    sgp32_buf_free(&key);
    sgp32_buf_free(&ca);
    return rc;
}

static void log_summary(const ipad *d, const char *what)
{
    const sgp32_ipa_stats *s = sgp32_ipa_get_stats(d->ipa);
    sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, &app_log,
              "%s: packages %u, results acknowledged %u, notifications delivered %u, downloads %u ok / %u "
              "failed, failures %u, HTTP bytes %llu sent / %llu received",
              what, s->packages, s->results_acknowledged, s->notifications_delivered, s->downloads_installed,
              s->downloads_failed, s->failures, (unsigned long long)d->http_sent,
              (unsigned long long)d->http_received);
}

/* Sleep up to seconds; a push that arrives meanwhile goes to the core (the loop thread is its only
 * caller). 1: a push was taken (step the core with NONE), 0: the time is up, -1: stop. */
static int wait_or_push(ipad *d, int64_t seconds)
{
    if (!d->push)
        return sleep_s(seconds) ? 0 : -1;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t left = seconds - (int64_t)(now.tv_sec - start.tv_sec);
        if (left <= 0)
            return 0;
        if (!ipad_push_wait(d->push, left, &stop_requested))
            return stop_requested ? -1 : 0;
        const sgp32_buf *request = ipad_push_take(d->push);
        if (!request)
            continue; /* the pusher gave up just now */
        int rc = sgp32_ipa_start_push(d->ipa, request->data, request->len);
        if (rc == SGP32_OK) {
            sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, &app_log, "pushed eIM package taken (%zu bytes)",
                      request->len);
            return 1;
        }
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_APP, &app_log, "pushed eIM package refused: %s",
                  sgp32_err_str(rc));
        ipad_push_refuse(d->push, rc == SGP32_ERR_STATE ? 503 : rc == SGP32_ERR_CAPACITY ? 413 : 400);
    }
}

static int run(ipad *d, bool once)
{
    sgp32_ipa_event ev = {.type = SGP32_IPA_EV_NONE, .now = now_s(), .random = random32()};
    sgp32_ipa_action act;
    int rc;
    if ((rc = sgp32_ipa_start_boot(d->ipa)) != SGP32_OK) {
        sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &app_log, "cannot start: %s", sgp32_err_str(rc));
        return EXIT_SETUP;
    }
    for (;;) {
        if (stop_requested) {
            sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, &app_log, "stop requested: exiting");
            return 0;
        }
        rc = sgp32_ipa_step(d->ipa, &ev, &act);
        if (rc) {
            sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &app_log, "IPA core refused the event: %s",
                      sgp32_err_str(rc));
            return EXIT_SETUP;
        }
        ev = (sgp32_ipa_event){.type = SGP32_IPA_EV_NONE, .now = now_s(), .random = random32()};
        sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_APP, &app_log, "action %s%s%s (%zu bytes)",
                  sgp32_ipa_action_name(act.type), act.function ? " " : "",
                  act.function ? sgp32_ipa_function_name(act.function) : "", act.data.len);
        switch (act.type) {
        case SGP32_IPA_ACT_TRANSMIT_APDU: do_apdu(d, &act, &ev); break;
        case SGP32_IPA_ACT_RESET_CARD: do_reset(d, &ev); break;
        case SGP32_IPA_ACT_SEND_ESIPA: do_esipa(d, &act, &ev); break;
        case SGP32_IPA_ACT_SEND_ES9PLUS: do_es9(d, &act, &ev); break;
        case SGP32_IPA_ACT_RECEIVE_MORE:
            /* bodies are fed whole: there is never a next chunk */
            ev.type = SGP32_IPA_EV_RESPONSE;
            ev.data = (sgp32_bytes){NULL, 0};
            break;
        case SGP32_IPA_ACT_PUSH_RESPONSE:
            if (d->push)
                ipad_push_answer(d->push, act.data.data, act.data.len);
            else
                sgp32_log(SGP32_LOG_WARN, SGP32_LOG_APP, &app_log,
                          "push response dropped (ipad has no push listener)");
            break;
        case SGP32_IPA_ACT_SAVE_STATE:
            if (write_atomic(d->cfg.state_file, act.data.data, act.data.len) != 0) {
                sgp32_log(SGP32_LOG_ERROR, SGP32_LOG_APP, &app_log, "cannot save the state to %s: %s",
                          d->cfg.state_file, strerror(errno));
                ev.type = SGP32_IPA_EV_STATE_SAVE_FAILED;
            } else {
                sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_APP, &app_log, "state saved (%zu bytes)", act.data.len);
                ev.type = SGP32_IPA_EV_STATE_SAVED;
            }
            break;
        case SGP32_IPA_ACT_WAIT: {
            close_sessions(d);
            const sgp32_ipa_stats *s = sgp32_ipa_get_stats(d->ipa);
            if (once) {
                fprintf(stderr, "ipad: poll cycle failed: %s%s%s; results stay pending (state file %s)\n",
                        s->last_error ? sgp32_err_str(s->last_error) : "error",
                        d->last_transport_error[0] ? ": " : "", d->last_transport_error, d->cfg.state_file);
                log_summary(d, "poll cycle failed");
                return EXIT_PROCEDURE;
            }
            int64_t left = act.until - now_s();
            sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, &app_log, "procedure failed (%s): retry in %lld s",
                      s->last_error ? sgp32_err_str(s->last_error) : "error",
                      (long long)(left > 0 ? left : 0));
            d->last_transport_error[0] = 0;
            int w = left > 0 ? wait_or_push(d, left) : 0;
            if (w < 0)
                return 0;
            ev.type = w ? SGP32_IPA_EV_NONE : SGP32_IPA_EV_TIMER; /* a push runs before the retry */
            ev.now = now_s();
            break;
        }
        case SGP32_IPA_ACT_IDLE: {
            close_sessions(d);
            if (once) {
                log_summary(d, "idle");
                return 0;
            }
            int64_t left = act.until ? act.until - now_s() : (int64_t)d->cfg.poll_interval_s;
            sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, &app_log, "idle: next poll in %lld s",
                      (long long)(left > 0 ? left : 0));
            int w = left > 0 ? wait_or_push(d, left) : 0;
            if (w < 0)
                return 0;
            if (!w)
                sgp32_ipa_start_poll(d->ipa);
            ev.now = now_s();
            break;
        }
        }
    }
}

int main(int argc, char **argv)
{
    const char *prog = "ipad", *config_path = NULL, *level_override = NULL;
    bool once = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout, prog);
            return 0;
        } else if (!strcmp(argv[i], "--once")) {
            once = true;
        } else if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc) {
            config_path = argv[++i];
        } else if (!strcmp(argv[i], "--log-level") && i + 1 < argc) {
            level_override = argv[++i];
        } else {
            fprintf(stderr, "%s: unexpected argument '%s' (try --help)\n", prog, argv[i]);
            return EXIT_USAGE;
        }
    }
    if (!config_path) {
        fprintf(stderr, "%s: give the configuration with -c FILE (try --help)\n", prog);
        return EXIT_USAGE;
    }
    static ipad d; /* large; zeroed */
    d.cfg.poll_interval_s = 3600;
    d.cfg.backoff_base_s = 30;
    d.cfg.backoff_max_s = 3600;
    d.cfg.features = SGP32_IPA_FEATURE_INDIRECT_RSP_SERVER_COMMUNICATION;
    d.cfg.protocols = SGP32_IPA_PROTOCOL_RETRIEVE_HTTPS;
    d.cfg.log_level = SGP32_LOG_INFO;
    snprintf(d.cfg.state_file, sizeof(d.cfg.state_file), "/var/lib/ipad/state");
    if (config_load(&d.cfg, config_path, prog) != 0)
        return EXIT_USAGE;
    if (level_override) {
        int lvl = sgp32_log_level_parse(level_override);
        if (lvl < 0) {
            fprintf(stderr, "%s: bad --log-level '%s'\n", prog, level_override);
            return EXIT_USAGE;
        }
        d.cfg.log_level = lvl;
    }
    if (!d.cfg.card[0]) {
        fprintf(stderr, "%s: %s: 'card = URI' is required (see --help)\n", prog, config_path);
        return EXIT_USAGE;
    }
    if (d.cfg.backoff_base_s == 0 || d.cfg.backoff_max_s < d.cfg.backoff_base_s) {
        fprintf(stderr, "%s: backoff_base must be > 0 and <= backoff_max\n", prog);
        return EXIT_USAGE;
    }
    bool push = d.cfg.push_listen[0] && !once;
    if (d.cfg.push_listen[0] &&
        (!d.cfg.push_tls_certificate[0] || !d.cfg.push_tls_key[0] || !d.cfg.push_client_ca_count)) {
        fprintf(stderr,
                "%s: push_listen needs push_tls_certificate, push_tls_key and push_client_ca (mutual TLS: "
                "only the eIM may push)\n",
                prog);
        return EXIT_USAGE;
    }
    if (push)
        d.cfg.protocols |= SGP32_IPA_PROTOCOL_INJECT_HTTPS; /* IpaCapabilities: ipaInjectHttps */
    sgp32_log_set_level_all((sgp32_log_level)d.cfg.log_level);
    if (d.cfg.insecure)
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_APP, &app_log,
                  "insecure_skip_tls_verify_for_tests is on: eIM and SM-DP+ are NOT authenticated");

    int status = EXIT_SETUP, rc;
    sgp32_buf_init(&d.apdu_rsp, SGP32_APDU_RESPONSE_MAX);
    sgp32_buf_init(&d.atr, SGP32_APDU_ATR_MAX + 1);
    sgp32_buf_init(&d.response, SGP32_HTTPS_DEFAULT_MAX_RESPONSE + 16);
    sgp32_buf_init(&d.es9_req, SGP32_HTTPS_DEFAULT_MAX_RESPONSE);
    if (d.cfg.pinned_key[0]) {
        sgp32_buf raw;
        if (read_file(d.cfg.pinned_key, &raw, 1 << 16) != SGP32_OK) {
            fprintf(stderr, "%s: cannot read pinned_key %s\n", prog, d.cfg.pinned_key);
            goto out;
        }
        sgp32_buf_init(&d.pin, 1 << 16);
        const char *begin = raw.len > 11 ? memmem(raw.data, raw.len, "-----BEGIN", 10) : NULL;
        if (begin) {
            const char *body = memchr(begin, '\n', raw.len - (size_t)((const uint8_t *)begin - raw.data));
            const char *end =
                body ? memmem(body, raw.len - (size_t)((const uint8_t *)body - raw.data), "-----END", 8)
                     : NULL;
            rc = body && end ? sgp32_base64_decode(body, (size_t)(end - body), &d.pin) : SGP32_ERR_BAD_TEXT;
        } else {
            rc = sgp32_buf_append(&d.pin, raw.data, raw.len);
        }
        sgp32_buf_free(&raw);
        if (rc) {
            fprintf(stderr, "%s: pinned_key %s is not a DER or PEM public key\n", prog, d.cfg.pinned_key);
            goto out;
        }
    }

    sgp32_ipa_config ic = {
        .ipa_features = d.cfg.features,
        .ipa_protocols = d.cfg.protocols,
        .eim_supports_compact = d.cfg.eim_supports_compact,
        .eim_address = d.cfg.eim_address[0] ? d.cfg.eim_address : NULL,
        .backoff_base_s = d.cfg.backoff_base_s,
        .backoff_max_s = d.cfg.backoff_max_s,
        .poll_interval_s = d.cfg.poll_interval_s,
        .message_max = IPAD_MESSAGE_MAX,
    };
    if ((rc = sgp32_ipa_init(&d.ipa, &ic)) != SGP32_OK) {
        fprintf(stderr, "%s: cannot create the IPA: %s\n", prog, sgp32_err_str(rc));
        goto out;
    }
    sgp32_buf blob;
    rc = read_file(d.cfg.state_file, &blob, 1 << 16);
    if (rc == SGP32_OK) {
        int lr = sgp32_ipa_load_state(d.ipa, blob.data, blob.len);
        if (lr)
            sgp32_log(SGP32_LOG_WARN, SGP32_LOG_APP, &app_log,
                      "state file %s not usable (%s): starting clean", d.cfg.state_file, sgp32_err_str(lr));
        else
            sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, &app_log, "state restored from %s (%zu bytes)",
                      d.cfg.state_file, blob.len);
        sgp32_buf_free(&blob);
    } else if (rc != SGP32_ERR_NOT_FOUND) {
        fprintf(stderr, "%s: cannot read the state file %s: %s\n", prog, d.cfg.state_file, strerror(errno));
        goto out;
    }

    if ((rc = sgp32_apdu_transport_new_from_uri(d.cfg.card, d.cfg.card_timeout_ms, &d.card)) != SGP32_OK) {
        fprintf(stderr, "%s: bad card URI '%s': %s\n", prog, d.cfg.card, sgp32_err_str(rc));
        status = EXIT_USAGE;
        goto out;
    }
    if ((rc = sgp32_apdu_transport_open(d.card, &d.atr)) != SGP32_OK) {
        fprintf(stderr, "%s: cannot open the card %s: %s\n", prog, d.cfg.card, sgp32_err_str(rc));
        goto out;
    }
    sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, &app_log, "card %s open (%s), %s", d.cfg.card,
              sgp32_apdu_transport_name(d.card), once ? "one poll cycle" : "daemon");

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (d.cfg.push_listen[0] && once)
        sgp32_log(SGP32_LOG_INFO, SGP32_LOG_APP, &app_log, "--once: push_listen not started");
    if (push && start_push_listener(&d, prog) != 0)
        goto out;
    check_connectivity(&d, "start");

    status = run(&d, once);
out:
    ipad_push_stop(d.push); /* before the core goes: its handlers wait on the loop */
    d.push = NULL;
    close_sessions(&d);
    sgp32_apdu_transport_destroy(d.card);
    sgp32_ipa_free(d.ipa);
    sgp32_buf_free(&d.pin);
    sgp32_buf_free(&d.apdu_rsp);
    sgp32_buf_free(&d.atr);
    sgp32_buf_free(&d.response);
    sgp32_buf_free(&d.es9_req);
    return status;
}

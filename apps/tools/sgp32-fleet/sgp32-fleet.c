/*
 * sgp32-fleet: thousands of simulated IoT devices (a software eUICC and an IPA core each) in one
 * process, against a real eIM (eimd) and SM-DP+ (smdpd) over HTTPS: for demos and load tests
 * (docs/fleet.md).
 *
 *   sgp32-fleet --pki DIR --devices 1000 --register https://localhost:8443 --token-file T \
 *               --report fleet.json [--until-idle]
 *
 * Setup (factory): an eUICC certificate per EID issued by the PKI's EUM, registration in the eIM
 * (REST), AddInitialEim on each card. Then a pool of worker threads runs the devices' cycles as
 * they fall due (fleet_scheduler.c) until SIGINT/SIGTERM, or with --until-idle until every device
 * has polled without work for --idle-seconds. SIGUSR1 makes every device poll at once.
 *
 * Exit status: 0 stopped by a signal or settled (--until-idle), 1 not settled within --max-seconds,
 * 2 usage error, 3 setup error (PKI, registration, threads).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "fleet.h"

static const char *prog = "sgp32-fleet";

static volatile sig_atomic_t stop_signal, poll_signal;

static void on_stop(int sig)
{
    stop_signal = sig;
}

static void on_poll(int sig)
{
    (void)sig;
    poll_signal = 1;
}

/* ------------------------------------------------------------------ helpers */

int64_t fleet_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint32_t fleet_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return (uint32_t)(x >> 32);
}

void fleet_set_error(char *dst, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size)
        dst[size - 1] = 0;
}

int fleet_read_file(const char *path, sgp32_buf *out, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? SGP32_ERR_NOT_FOUND : SGP32_ERR_IO;
    sgp32_buf_init(out, max + 1);
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
    if (!rc && (rc = sgp32_buf_append_byte(out, 0)) == SGP32_OK)
        out->len--; /* NUL-terminated for text files, not counted */
    if (rc)
        sgp32_buf_free(out);
    return rc;
}

/* ------------------------------------------------------------------ options */

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: %s --pki DIR --register URL --token-file FILE [OPTIONS]\n"
        "A fleet of simulated IoT devices (software eUICC + IPA each) in one process, against a real\n"
        "eIM (eimd) and SM-DP+ (smdpd) over HTTPS. See docs/fleet.md.\n"
        "\n"
        "Devices and their identity:\n"
        "  --pki DIR                a PKI made by 'sgp32-pki generate --out DIR': the EUM "
        "(CERT_EUM_<C>.der,\n"
        "                           SK_EUM_<C>.pem) issues one eUICC certificate per device; CERT_CI_*_<C>\n"
        "                           is the CI the cards trust (required)\n"
        "  --curve nist|brp|both    identities per card (default: every curve the PKI has an EUM for)\n"
        "  --devices N              how many devices (default 10, or the number of --eid)\n"
        "  --first-eid DIGITS       30 (or 32) digits: device i gets it + i, with check digits (default:\n"
        "                           the EUM's EID prefix followed by zeros); must lie in the EUM's range\n"
        "  --eid EID                a device's EID instead (repeatable, in order)\n"
        "  --bootstrap-iccid ICCID  the preloaded, enabled bootstrap profile of every card\n"
        "                           (default 8900000000000000001)\n"
        "  --default-smdp ADDRESS   the cards' default SM-DP+ address (default none)\n"
        "\n"
        "Factory association (the eIM, eimd's REST API):\n"
        "  --register URL           eimd's base URL (https://HOST:PORT); every device is registered there\n"
        "                           (POST /api/v1/devices/import with its certificates; already registered\n"
        "                           is fine) and gets the eIM's addInitialEim on its card (required)\n"
        "  --token-file FILE        the REST token (role operator), first line of FILE\n"
        "  --token TOKEN            the same on the command line (visible in ps); or $SGP32_FLEET_TOKEN\n"
        "  --register-batch N       devices per import request (default 500)\n"
        "  --write-import FILE      also write the import body ({\"devices\":[...]}) to FILE, to register\n"
        "                           the same devices in another eIM (curl -d @FILE .../devices/import)\n"
        "\n"
        "Network:\n"
        "  --ca FILE                PEM CA certificates trusted for the eIM, the SM-DP+ and the REST API\n"
        "                           (repeatable; default: the PKI's CI certificates CERT_CI*_<C>.pem)\n"
        "  --eim-address HOST:PORT  use this eIM address instead of the eimFqdn on the cards\n"
        "  --binding asn1|json      ESipa binding (default asn1)\n"
        "  --http-timeout-ms MS     per HTTP request (default 30000)\n"
        "\n"
        "Behaviour:\n"
        "  --threads N              worker threads = concurrent procedures (default 8)\n"
        "  --indirect-fraction F    the first F of the devices download through the eIM\n"
        "                           (indirectRspServerCommunication), the others from the SM-DP+ directly\n"
        "                           (directRspServerCommunication) (default 0.5)\n"
        "  --extra-features LIST    more IpaFeatures for all: eim_download_data, eim_ctx_params1,\n"
        "                           eim_metadata_verification, minimize_esipa_bytes (comma list)\n"
        "  --poll-interval S        seconds between polls of an idle device, +-25%% jitter (default 2)\n"
        "  --backoff-base S         first retry delay after a failed procedure (default 5)\n"
        "  --backoff-max S          retry delay cap (default 300)\n"
        "  --rollback-after N       failed reports after an enable with rollback before the IPA rolls\n"
        "                           back (default 2)\n"
        "  --no-attach EID|INDEX    fault: once that device runs a profile other than its bootstrap\n"
        "                           profile, its network exchanges fail (repeatable)\n"
        "\n"
        "Reporting and ending:\n"
        "  --report FILE            a JSON report of what each card says, rewritten atomically (FILE.tmp,\n"
        "                           rename) while running and at exit\n"
        "  --report-interval S      seconds between report rewrites (default 1)\n"
        "  --until-idle             exit 0 once every device has settled: polled without work (no\n"
        "                           package, no failure) for --idle-seconds; otherwise run until\n"
        "                           SIGINT/SIGTERM\n"
        "  --idle-seconds S         how long a run of empty polls settles a device (default 5)\n"
        "  --max-seconds S          with --until-idle: give up after S seconds, exit 1 (default none)\n"
        "  --progress S             a progress line on stderr every S seconds (default 5; 0 none)\n"
        "  --log-level LEVEL        error, warn (default), info, debug, trace\n"
        "  -h, --help               this text\n"
        "\n"
        "Signals: SIGINT/SIGTERM stop (report written, exit 0); SIGUSR1 makes every device poll now.\n"
        "Exit status: 0 stopped or settled, 1 not settled within --max-seconds, 2 usage error,\n"
        "3 setup error (PKI, registration).\n",
        prog);
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", prog);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (try --help)\n");
    return FLEET_EXIT_USAGE;
}

static bool parse_size(const char *v, size_t min, size_t max, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (!*v || *end || errno || *v == '-' || x < min || x > max)
        return false;
    *out = (size_t)x;
    return true;
}

static bool parse_seconds(const char *v, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (!*v || *end || errno || !isfinite(x) || x < min || x > max)
        return false;
    *out = x;
    return true;
}

static bool parse_features(const char *v, uint32_t *out)
{
    static const struct {
        const char *name;
        uint32_t bit;
    } names[] = {{"eim_download_data", SGP32_IPA_FEATURE_EIM_DOWNLOAD_DATA_HANDLING},
                 {"eim_ctx_params1", SGP32_IPA_FEATURE_EIM_CTX_PARAMS1_GENERATION},
                 {"eim_metadata_verification", SGP32_IPA_FEATURE_EIM_PROFILE_METADATA_VERIFICATION},
                 {"minimize_esipa_bytes", SGP32_IPA_FEATURE_MINIMIZE_ESIPA_BYTES}};
    char tmp[256];
    snprintf(tmp, sizeof(tmp), "%s", v);
    *out = 0;
    for (char *save = NULL, *w = strtok_r(tmp, ", ", &save); w; w = strtok_r(NULL, ", ", &save)) {
        size_t i = 0;
        while (i < SGP32_ARRAY_LEN(names) && strcmp(w, names[i].name))
            i++;
        if (i == SGP32_ARRAY_LEN(names))
            return false;
        *out |= names[i].bit;
    }
    return true;
}

/* "--name value" or "--name=value"; advances *i past a consumed value. */
static const char *option_value(int argc, char **argv, int *i, const char *name, bool *missing)
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
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

static bool push(const char ***list, size_t *count, const char *v)
{
    const char **grown = realloc(*list, (*count + 1) * sizeof(**list));
    if (!grown)
        return false;
    grown[(*count)++] = v;
    *list = grown;
    return true;
}

static char *read_token_file(const char *path)
{
    sgp32_buf raw;
    if (fleet_read_file(path, &raw, 4096) != SGP32_OK) {
        fprintf(stderr, "%s: cannot read --token-file %s: %s\n", prog, path, strerror(errno));
        return NULL;
    }
    size_t n = strcspn((const char *)raw.data, "\r\n");
    char *token = malloc(n + 1);
    if (token) {
        memcpy(token, raw.data, n);
        token[n] = 0;
    }
    sgp32_secure_zero(raw.data, raw.alloc);
    sgp32_buf_free(&raw);
    return token;
}

static int parse_arguments(fleet_options *o, int argc, char **argv)
{
    static char register_url[1024];
    const char *token = NULL, *token_file = NULL, *curve = NULL;
    bool devices_given = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        bool missing = false;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        }
#define OPT(name) ((v = option_value(argc, argv, &i, name, &missing)) != NULL || missing)
        if (OPT("--pki"))
            o->pki_dir = v;
        else if (OPT("--curve"))
            curve = v;
        else if (OPT("--devices")) {
            if (v && !parse_size(v, 1, 1000000, &o->devices))
                return usage_error("--devices '%s': a number from 1 to 1000000", v);
            devices_given = true;
        } else if (OPT("--first-eid"))
            o->first_eid = v;
        else if (OPT("--eid")) {
            if (v && !push(&o->eids, &o->eid_count, v))
                return FLEET_EXIT_SETUP;
        } else if (OPT("--bootstrap-iccid"))
            o->bootstrap_iccid = v;
        else if (OPT("--default-smdp"))
            o->default_smdp = v;
        else if (OPT("--register"))
            o->register_url = v;
        else if (OPT("--token"))
            token = v;
        else if (OPT("--token-file"))
            token_file = v;
        else if (OPT("--register-batch")) {
            if (v && !parse_size(v, 1, 100000, &o->register_batch))
                return usage_error("--register-batch '%s': 1 to 100000", v);
        } else if (OPT("--write-import"))
            o->write_import = v;
        else if (OPT("--ca")) {
            if (v && !push(&o->ca_files, &o->ca_count, v))
                return FLEET_EXIT_SETUP;
        } else if (OPT("--eim-address"))
            o->eim_address = v;
        else if (OPT("--binding")) {
            if (v && !strcmp(v, "asn1"))
                o->binding = SGP32_ESIPA_BINDING_ASN1;
            else if (v && !strcmp(v, "json"))
                o->binding = SGP32_ESIPA_BINDING_JSON;
            else if (v)
                return usage_error("--binding '%s': asn1 or json", v);
        } else if (OPT("--http-timeout-ms")) {
            size_t ms;
            if (v && !parse_size(v, 100, 3600000, &ms))
                return usage_error("--http-timeout-ms '%s': 100 to 3600000", v);
            if (v)
                o->http_timeout_ms = (int)ms;
        } else if (OPT("--threads")) {
            if (v && !parse_size(v, 1, 1024, &o->threads))
                return usage_error("--threads '%s': 1 to 1024", v);
        } else if (OPT("--indirect-fraction")) {
            if (v && !parse_seconds(v, 0, 1, &o->indirect_fraction))
                return usage_error("--indirect-fraction '%s': a number from 0 to 1", v);
        } else if (OPT("--extra-features")) {
            if (v && !parse_features(v, &o->extra_features))
                return usage_error("--extra-features '%s': comma list of eim_download_data, eim_ctx_params1, "
                                   "eim_metadata_verification, minimize_esipa_bytes",
                                   v);
        } else if (OPT("--poll-interval")) {
            if (v && !parse_seconds(v, 0.05, 86400, &o->poll_interval_s))
                return usage_error("--poll-interval '%s': seconds, 0.05 to 86400", v);
        } else if (OPT("--backoff-base") || OPT("--backoff-max")) {
            size_t s;
            if (v && !parse_size(v, 1, 86400, &s))
                return usage_error("--backoff-base/--backoff-max '%s': whole seconds, 1 to 86400", v);
            if (v)
                *(strncmp(a, "--backoff-base", 14) == 0 ? &o->backoff_base_s : &o->backoff_max_s) =
                    (uint32_t)s;
        } else if (OPT("--rollback-after")) {
            size_t n;
            if (v && !parse_size(v, 1, 255, &n))
                return usage_error("--rollback-after '%s': 1 to 255", v);
            if (v)
                o->rollback_after = (uint8_t)n;
        } else if (OPT("--no-attach")) {
            if (v && !push(&o->no_attach, &o->no_attach_count, v))
                return FLEET_EXIT_SETUP;
        } else if (OPT("--report"))
            o->report_path = v;
        else if (OPT("--report-interval")) {
            if (v && !parse_seconds(v, 0.1, 3600, &o->report_interval_s))
                return usage_error("--report-interval '%s': seconds, 0.1 to 3600", v);
        } else if (!strcmp(a, "--until-idle"))
            o->until_idle = true;
        else if (OPT("--idle-seconds")) {
            if (v && !parse_seconds(v, 0, 86400, &o->idle_seconds))
                return usage_error("--idle-seconds '%s': seconds, 0 to 86400", v);
        } else if (OPT("--max-seconds")) {
            if (v && !parse_seconds(v, 0, 1e9, &o->max_seconds))
                return usage_error("--max-seconds '%s': seconds", v);
        } else if (OPT("--progress")) {
            if (v && !parse_seconds(v, 0, 86400, &o->progress_s))
                return usage_error("--progress '%s': seconds (0: none)", v);
        } else if (OPT("--log-level")) {
            if (v && (o->log_level = sgp32_log_level_parse(v)) < 0)
                return usage_error("--log-level '%s': error, warn, info, debug or trace", v);
        } else
            return usage_error("unknown argument '%s'", a);
#undef OPT
        if (missing)
            return usage_error("%s needs a value", a);
    }
    if (!o->pki_dir)
        return usage_error("%s", "--pki DIR is required: a PKI made by sgp32-pki generate --out DIR");
    if (curve) {
        o->curve_nist = !strcmp(curve, "nist") || !strcmp(curve, "both");
        o->curve_brp = !strcmp(curve, "brp") || !strcmp(curve, "both");
        if (!o->curve_nist && !o->curve_brp)
            return usage_error("--curve '%s': nist, brp or both", curve);
    }
    if (!devices_given)
        o->devices = o->eid_count ? 0 : 10;
    if (o->eid_count && o->first_eid)
        return usage_error("%s", "--eid and --first-eid exclude each other");
    if (o->backoff_max_s < o->backoff_base_s)
        return usage_error("%s", "--backoff-max must be at least --backoff-base");
    size_t n = strlen(o->bootstrap_iccid);
    if (n < 18 || n > 20 || strspn(o->bootstrap_iccid, "0123456789") != n)
        return usage_error("--bootstrap-iccid '%s': 18 to 20 digits", o->bootstrap_iccid);
    if (!o->register_url)
        return usage_error("%s",
                           "--register URL is required: the eimd the devices are associated with at the "
                           "factory (https://HOST:PORT)");
    if (strncmp(o->register_url, "https://", 8) != 0)
        return usage_error("--register '%s': an https:// URL (TLS is never switched off)", o->register_url);
    /* the REST base: URL without a trailing '/', with /api/v1 */
    snprintf(register_url, sizeof(register_url), "%s", o->register_url);
    size_t len = strlen(register_url);
    while (len > 8 && register_url[len - 1] == '/')
        register_url[--len] = 0;
    if (len < 7 || strcmp(register_url + len - 7, "/api/v1") != 0)
        snprintf(register_url + len, sizeof(register_url) - len, "/api/v1");
    o->register_url = register_url;
    if (token_file)
        o->token = read_token_file(token_file);
    else if (token || getenv("SGP32_FLEET_TOKEN"))
        o->token = strdup(token ? token : getenv("SGP32_FLEET_TOKEN"));
    else
        return usage_error("%s",
                           "give the eIM's REST token: --token-file FILE (or --token, $SGP32_FLEET_TOKEN)");
    if (!o->token)
        return FLEET_EXIT_SETUP;
    if (!o->token[0])
        return usage_error("%s", "the REST token is empty");
    if (o->until_idle && o->idle_seconds < 2 * o->poll_interval_s)
        fprintf(stderr,
                "%s: note: --idle-seconds %g is less than two poll intervals (%g s): a device counts as idle "
                "after its first empty polls\n",
                prog, o->idle_seconds, o->poll_interval_s);
    return 0;
}

/* ------------------------------------------------------------------ main */

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_poll;
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static long max_rss_kb(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

/* Runs until a signal, --until-idle or --max-seconds. Returns the exit status. */
static int main_loop(fleet *f)
{
    const fleet_options *o = &f->opt;
    int64_t start = fleet_now_ms(), next_report = start,
            next_progress = start + (int64_t)(o->progress_s * 1000);
    for (;;) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
        int64_t now = fleet_now_ms();
        if (stop_signal) {
            fprintf(stderr, "%s: signal %d: stopping\n", prog, (int)stop_signal);
            return FLEET_EXIT_OK;
        }
        if (poll_signal) {
            poll_signal = 0;
            fleet_poll_all_now(f);
            fprintf(stderr, "%s: SIGUSR1: every device polls now\n", prog);
            next_report = now; /* at once: a script waiting for allSettled must not read the old one */
        }
        if (o->report_path && now >= next_report) {
            fleet_write_report(f, false);
            next_report = now + (int64_t)(o->report_interval_s * 1000);
        }
        if (o->progress_s > 0 && now >= next_progress) {
            fleet_progress(f, stderr);
            next_progress = now + (int64_t)(o->progress_s * 1000);
        }
        if (o->until_idle && fleet_settled_count(f, now) == f->count) {
            fprintf(stderr, "%s: all %zu devices settled (no work for %g s) after %.1f s\n", prog, f->count,
                    o->idle_seconds, (double)(now - start) / 1000.0);
            return FLEET_EXIT_OK;
        }
        if (o->until_idle && o->max_seconds > 0 && now - start >= (int64_t)(o->max_seconds * 1000)) {
            size_t n = fleet_settled_count(f, now);
            fprintf(stderr,
                    "%s: not settled after %g s: %zu of %zu devices still have work or fail (see the "
                    "report%s%s)\n",
                    prog, o->max_seconds, f->count - n, f->count, o->report_path ? " " : "",
                    o->report_path ? o->report_path : "");
            return FLEET_EXIT_NOT_IDLE;
        }
    }
}

int main(int argc, char **argv)
{
    static fleet f; /* large; zeroed */
    fleet_options *o = &f.opt;
    o->bootstrap_iccid = "8900000000000000001";
    o->register_batch = 500;
    o->binding = SGP32_ESIPA_BINDING_ASN1;
    o->http_timeout_ms = 30000;
    o->threads = 8;
    o->indirect_fraction = 0.5;
    o->poll_interval_s = 2;
    o->backoff_base_s = 5;
    o->backoff_max_s = 300;
    o->rollback_after = 2;
    o->report_interval_s = 1;
    o->idle_seconds = 5;
    o->progress_s = 5;
    o->log_level = SGP32_LOG_WARN;
    int status = parse_arguments(o, argc, argv);
    if (status) {
        free(o->eids);
        free(o->ca_files);
        free(o->no_attach);
        if (o->token) {
            sgp32_secure_zero(o->token, strlen(o->token));
            free(o->token);
        }
        return status;
    }
    sgp32_log_set_level_all((sgp32_log_level)o->log_level);
    f.bootstrap = (sgp32_euicc_preloaded_profile){o->bootstrap_iccid,   "Bootstrap", "sgp32-fleet",
                                                  1 /* provisioning */, true,        false};
    bool locks = false, curl = false;
    status = FLEET_EXIT_SETUP;
    f.started_ms = fleet_now_ms();
    if (fleet_rest_global_init() != SGP32_OK) {
        fprintf(stderr, "%s: cannot initialise libcurl\n", prog);
        goto out;
    }
    curl = true;
    install_signals();
    if (fleet_load_pki(&f) || fleet_make_eids(&f))
        goto out;
    int64_t t0 = fleet_now_ms();
    int rc = fleet_issue_all(&f);
    if (rc) {
        fprintf(stderr, "%s: issuing the eUICC certificates failed: %s\n", prog, sgp32_err_str(rc));
        goto out;
    }
    if (fleet_check_first_identity(&f))
        goto out;
    int64_t t1 = fleet_now_ms();
    fprintf(stderr, "%s: %zu devices (%s .. %s), %zu identit%s each, certificates issued in %.2f s\n", prog,
            f.count, f.devices[0].eid, f.devices[f.count - 1].eid, f.issuer_count,
            f.issuer_count == 1 ? "y" : "ies", (double)(t1 - t0) / 1000.0);
    if (o->write_import && fleet_write_import(&f))
        goto out;
    if (fleet_register_all(&f))
        goto out;
    if (stop_signal) {
        status = FLEET_EXIT_OK;
        goto out;
    }
    fprintf(stderr, "%s: starting %zu worker threads\n", prog, o->threads);

    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (pthread_mutex_init(&f.lock, NULL) != 0 || pthread_cond_init(&f.wake, &ca) != 0) {
        pthread_condattr_destroy(&ca);
        goto out;
    }
    pthread_condattr_destroy(&ca);
    locks = true;
    f.started_ms = fleet_now_ms();
    if (fleet_scheduler_start(&f) != SGP32_OK) {
        fleet_scheduler_stop(&f);
        goto out;
    }
    status = main_loop(&f);
    fleet_scheduler_stop(&f);
    fleet_write_report(&f, true);
    if (o->progress_s > 0)
        fleet_progress(&f, stderr);
    fprintf(stderr, "%s: peak RSS %ld kB for %zu devices\n", prog, max_rss_kb(), f.count);
out:
    if (locks) {
        pthread_cond_destroy(&f.wake);
        pthread_mutex_destroy(&f.lock);
    }
    for (size_t i = 0; f.devices && i < f.count; i++)
        fleet_device_free(&f.devices[i]);
    free(f.devices);
    for (size_t k = 0; k < f.issuer_count; k++) {
        sgp32_buf_free(&f.issuers[k].eum_der);
        sgp32_buf_free(&f.issuers[k].ci_der);
        sgp32_secure_zero(&f.issuers[k].eum_key, sizeof(f.issuers[k].eum_key));
    }
    if (f.ca_tmp[0])
        unlink(f.ca_tmp);
    if (curl)
        fleet_rest_global_cleanup();
    free(o->eids);
    free(o->ca_files);
    free(o->no_attach);
    sgp32_secure_zero(o->token, strlen(o->token));
    free(o->token);
    return status;
}

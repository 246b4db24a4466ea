/*
 * lib/transport APDU transports end to end:
 *   - socket: a real euicc-sim process on a temporary unix socket (SELECT ISD-R, GetEID, reset,
 *     reconnect, a dead peer, bad endpoints);
 *   - loopback: an in-process software eUICC;
 *   - AT+CSIM: a fake modem on a pseudo-terminal that answers AT+CSIM from an in-process
 *     software eUICC, with echo until ATE0, unsolicited result codes between answers, ERROR and
 *     +CME ERROR answers, and a modem that never answers (timeout).
 * PC/SC is tested by test_transport_pcsc.sh (it needs pcscd and vpcd).
 */
#define _XOPEN_SOURCE 700 /* posix_openpt, grantpt, unlockpt, ptsname */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "apdu_check.h"
#include "euicc_fixture.h"
#include "sgp32/text.h"

static const char ATR_HEX[] = "3B9F9680811FC78031E073FE211F633A204E8300900016";

static char *buf_hex(const sgp32_buf *b)
{
    static char text[2 * 256 + 1];
    assert_true(b->len <= 256);
    sgp32_hex_encode(b->data, b->len, text);
    return text;
}

/* ------------------------------------------------------------------ euicc-sim over the socket */

typedef struct sim_process {
    pid_t pid;
    char dir[256];
    char endpoint[300];
} sim_process;

static void sim_start(sim_process *sim)
{
    snprintf(sim->dir, sizeof(sim->dir), "%s/sgp32-tr-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(sim->dir));
    snprintf(sim->endpoint, sizeof(sim->endpoint), "unix:%s/card.sock", sim->dir);
    char log[300];
    snprintf(log, sizeof(log), "%s/sim.log", sim->dir);
    sim->pid = fork();
    assert_true(sim->pid >= 0);
    if (sim->pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
        }
        execl(SGP32_EUICC_SIM, SGP32_EUICC_SIM, "--memory-store", "--sgp26", SGP32_SPEC_DIR "/sgp26",
              "--listen", sim->endpoint, "--log-level", "debug", (char *)NULL);
        _exit(127);
    }
}

static void sim_stop(sim_process *sim)
{
    if (sim->pid > 0) {
        kill(sim->pid, SIGTERM);
        int status = 0;
        assert_int_equal(waitpid(sim->pid, &status, 0), sim->pid);
        sim->pid = 0;
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    char path[400];
    snprintf(path, sizeof(path), "%s/sim.log", sim->dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/card.sock", sim->dir);
    unlink(path);
    rmdir(sim->dir);
    sim->dir[0] = '\0';
}

/* The simulator of the running test: stopped by the teardown even when an assertion fails. */
static sim_process running_sim;

static int sim_teardown(void **state)
{
    (void)state;
    if (running_sim.pid > 0) {
        kill(running_sim.pid, SIGKILL);
        waitpid(running_sim.pid, NULL, 0);
        running_sim.pid = 0;
    }
    if (running_sim.dir[0]) {
        char path[400];
        snprintf(path, sizeof(path), "%s/sim.log", running_sim.dir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/card.sock", running_sim.dir);
        unlink(path);
        rmdir(running_sim.dir);
        running_sim.dir[0] = '\0';
    }
    return 0;
}

static void socket_against_euicc_sim(void **state)
{
    (void)state;
    sim_start(&running_sim);
    sgp32_apdu_socket_config config = {
        .endpoint = running_sim.endpoint, .timeout_ms = 5000, .connect_wait_ms = 10000};
    sgp32_apdu_transport *t = NULL;
    assert_int_equal(sgp32_apdu_socket_new(&config, &t), SGP32_OK);
    assert_string_equal(sgp32_apdu_transport_name(t), "socket");
    sgp32_buf atr, resp;
    sgp32_buf_init(&atr, SGP32_APDU_ATR_MAX);
    sgp32_buf_init(&resp, 1024);
    int rc;
    assert_int_equal(sgp32_apdu_transport_transmit(t, (const uint8_t *)"\0\0\0\0", 4, &resp),
                     SGP32_ERR_STATE);
    assert_int_equal(sgp32_apdu_transport_open(t, &atr), SGP32_OK);
    assert_string_equal(buf_hex(&atr), ATR_HEX);
    assert_int_equal(sgp32_apdu_transport_open(t, &atr), SGP32_ERR_STATE);

    const char *eid = apdu_check_read_eid(t, 0);
    assert_non_null(eid);
    assert_string_equal(eid, APDU_CHECK_EID);
    /* SELECT with Le (T=1 style): the FCI at once. */
    const char *r = apdu_check_send(t, "00A4040010A0000005591010FFFFFFFF890000010000", &rc);
    assert_non_null(r);
    assert_memory_equal(r, "6F", 2);
    /* Logical channel 1 through the same link. */
    r = apdu_check_send(t, "0070000001", &rc);
    assert_non_null(r);
    assert_string_equal(r, "019000");
    eid = apdu_check_read_eid(t, 1);
    assert_non_null(eid);

    /* Reset: the ATR again, the channel is gone and nothing is selected on channel 0. */
    assert_int_equal(sgp32_apdu_transport_reset(t, &atr), SGP32_OK);
    assert_string_equal(buf_hex(&atr), ATR_HEX);
    r = apdu_check_send(t, "81E2910006BF3E035C015A", &rc);
    assert_non_null(r);
    assert_string_equal(r, "6881");
    r = apdu_check_send(t, "80E2910006BF3E035C015A", &rc);
    assert_string_equal(r, "6985");
    assert_true(t->commands >= 8);
    assert_true(t->bytes_sent > 0 && t->bytes_received > 0);

    /* Close and open again: a new connection, a freshly reset card. */
    sgp32_apdu_transport_close(t);
    assert_int_equal(sgp32_apdu_transport_open(t, &atr), SGP32_OK);
    assert_non_null(apdu_check_read_eid(t, 0));

    /* The simulator goes away: the next APDU fails cleanly. */
    kill(running_sim.pid, SIGTERM);
    int status = 0;
    assert_int_equal(waitpid(running_sim.pid, &status, 0), running_sim.pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    running_sim.pid = 0;
    rc = sgp32_apdu_transport_transmit(t, (const uint8_t *)"\x00\x70\x00\x00\x01", 5, &resp);
    assert_true(rc == SGP32_ERR_TRANSPORT_CLOSED || rc == SGP32_ERR_IO);
    sgp32_apdu_transport_destroy(t);
    /* Nobody listens any more. */
    assert_int_equal(sgp32_apdu_socket_new(&config, &t), SGP32_OK);
    config.connect_wait_ms = 0;
    sgp32_apdu_transport_destroy(t);
    assert_int_equal(sgp32_apdu_socket_new(&config, &t), SGP32_OK);
    assert_int_equal(sgp32_apdu_transport_open(t, &atr), SGP32_ERR_TRANSPORT_CONNECT);
    sgp32_apdu_transport_destroy(t);

    sim_stop(&running_sim);
    sgp32_buf_free(&atr);
    sgp32_buf_free(&resp);
}

static void socket_bad_config(void **state)
{
    (void)state;
    sgp32_apdu_transport *t = (sgp32_apdu_transport *)1;
    sgp32_apdu_socket_config c = {.endpoint = "file:/x"};
    assert_int_equal(sgp32_apdu_socket_new(&c, &t), SGP32_ERR_INVALID_ARGUMENT);
    assert_null(t);
    assert_int_equal(sgp32_apdu_socket_new(NULL, &t), SGP32_ERR_INVALID_ARGUMENT);
    assert_int_equal(sgp32_apdu_transport_new_from_uri("nonsense", 0, &t), SGP32_ERR_INVALID_ARGUMENT);
    assert_int_equal(sgp32_apdu_transport_new_from_uri("at:/dev/x@12", 0, &t), SGP32_ERR_INVALID_ARGUMENT);
    assert_int_equal(sgp32_apdu_transport_new_from_uri("socket:tcp:127.0.0.1:1", 1000, &t), SGP32_OK);
    sgp32_buf atr;
    sgp32_buf_init(&atr, SGP32_APDU_ATR_MAX);
    assert_int_equal(sgp32_apdu_transport_open(t, &atr), SGP32_ERR_TRANSPORT_CONNECT);
    sgp32_apdu_transport_destroy(t);
    assert_int_equal(sgp32_apdu_transport_new_from_uri("at:/dev/null-does-not-exist@9600", 100, &t),
                     SGP32_OK);
    assert_int_equal(sgp32_apdu_transport_open(t, &atr), SGP32_ERR_TRANSPORT_CONNECT);
    sgp32_apdu_transport_destroy(t);
    sgp32_buf_free(&atr);
    sgp32_apdu_transport_destroy(NULL);
}

/* ------------------------------------------------------------------ loopback */

static int fixture_transmit(void *ctx, const uint8_t *command, size_t len, sgp32_buf *response)
{
    return sgp32_euicc_transmit(((euicc_fixture *)ctx)->euicc, command, len, response);
}

static void fixture_reset(void *ctx)
{
    sgp32_euicc_reset(((euicc_fixture *)ctx)->euicc);
}

static void loopback_in_process(void **state)
{
    (void)state;
    euicc_fixture fx;
    assert_int_equal(euicc_fixture_open(&fx), SGP32_OK);
    sgp32_apdu_transport *t;
    assert_int_equal(sgp32_apdu_loopback_new(fixture_transmit, fixture_reset, &fx, sgp32_euicc_atr(), &t),
                     SGP32_OK);
    sgp32_buf atr;
    sgp32_buf_init(&atr, SGP32_APDU_ATR_MAX);
    assert_int_equal(sgp32_apdu_transport_open(t, &atr), SGP32_OK);
    assert_string_equal(buf_hex(&atr), ATR_HEX);
    const char *eid = apdu_check_read_eid(t, 0);
    assert_non_null(eid);
    assert_string_equal(eid, APDU_CHECK_EID);
    assert_int_equal(sgp32_apdu_transport_reset(t, &atr), SGP32_OK);
    int rc;
    assert_string_equal(apdu_check_send(t, "80E2910006BF3E035C015A", &rc), "6985");
    /* Too short / too long commands never reach the card. */
    sgp32_buf resp;
    sgp32_buf_init(&resp, 64);
    assert_int_equal(sgp32_apdu_transport_transmit(t, (const uint8_t *)"\0\0", 2, &resp),
                     SGP32_ERR_INVALID_ARGUMENT);
    sgp32_buf_free(&resp);
    sgp32_apdu_transport_destroy(t);
    sgp32_buf_free(&atr);
    euicc_fixture_close(&fx);
}

/* ------------------------------------------------------------------ AT+CSIM: a fake modem */

typedef struct fake_modem {
    int master;
    int slave_keepalive; /* keeps the pty alive while the transport is closed */
    char slave_path[128];
    int stop_pipe[2];
    pthread_t thread;
    euicc_fixture fx;
    bool echo;
    bool mute;         /* never answer (timeouts) */
    unsigned commands; /* AT+CSIM seen */
    unsigned resets;
    char last_line[1200];
} fake_modem;

static void modem_write(fake_modem *m, const char *text)
{
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t n = write(m->master, text + done, len - done);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return;
        }
        done += (size_t)n;
    }
}

static void modem_line(fake_modem *m, const char *line)
{
    snprintf(m->last_line, sizeof(m->last_line), "%s", line);
    if (m->echo)
        modem_write(m, line), modem_write(m, "\r");
    if (m->mute)
        return;
    if (strcmp(line, "AT") == 0) {
        modem_write(m, "\r\nOK\r\n");
    } else if (strcmp(line, "ATE0") == 0) {
        m->echo = false;
        modem_write(m, "\r\nOK\r\n");
    } else if (strcmp(line, "AT+CFUN=4;+CFUN=1") == 0) {
        sgp32_euicc_reset(m->fx.euicc);
        m->resets++;
        modem_write(m, "\r\nOK\r\n\r\n+CPIN: READY\r\n");
    } else if (strncmp(line, "AT+CSIM=", 8) == 0) {
        m->commands++;
        char *end;
        unsigned long n = strtoul(line + 8, &end, 10);
        if (*end != ',' || end[1] != '"' || strlen(end + 2) != n + 1 || end[2 + n] != '"') {
            modem_write(m, "\r\nERROR\r\n");
            return;
        }
        sgp32_buf cmd, resp;
        sgp32_buf_init(&cmd, 600);
        sgp32_buf_init(&resp, 70000);
        if (sgp32_hex_decode(end + 2, n, &cmd) != SGP32_OK || cmd.len < 4) {
            modem_write(m, "\r\n+CME ERROR: 50\r\n");
        } else if (cmd.len == 4 && cmd.data[1] == 0xEE) { /* our "SIM busy" trigger */
            modem_write(m, "\r\n+CME ERROR: 14\r\n");
        } else if (sgp32_euicc_transmit(m->fx.euicc, cmd.data, cmd.len, &resp) == SGP32_OK) {
            if (m->commands % 3 == 1) /* an unsolicited result code before the answer */
                modem_write(m, "\r\n+CREG: 1,\"00C3\",\"0102A3F4\",7\r\n");
            char *text = malloc(2 * resp.len + 64);
            int k = sprintf(text, "\r\n+CSIM: %zu,\"", 2 * resp.len);
            sgp32_hex_encode(resp.data, resp.len, text + k);
            strcat(text, "\"\r\n\r\nOK\r\n");
            modem_write(m, text);
            free(text);
            if (m->commands % 4 == 2) /* and one after it, before the next command */
                modem_write(m, "\r\nRING\r\n");
        } else {
            modem_write(m, "\r\nERROR\r\n");
        }
        sgp32_buf_free(&cmd);
        sgp32_buf_free(&resp);
    } else {
        modem_write(m, "\r\nERROR\r\n");
    }
}

static void *modem_main(void *arg)
{
    fake_modem *m = arg;
    char line[1200];
    size_t len = 0;
    for (;;) {
        struct pollfd p[2] = {{.fd = m->master, .events = POLLIN}, {.fd = m->stop_pipe[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break;
        if (!(p[0].revents & POLLIN))
            continue;
        char chunk[512];
        ssize_t n = read(m->master, chunk, sizeof(chunk));
        if (n <= 0)
            continue;
        for (ssize_t i = 0; i < n; i++) {
            char c = chunk[i];
            if (c == '\r' || c == '\n') {
                if (len) {
                    line[len] = '\0';
                    modem_line(m, line);
                    len = 0;
                }
            } else if (len < sizeof(line) - 1) {
                line[len++] = c;
            }
        }
    }
    return NULL;
}

static void modem_start(fake_modem *m)
{
    memset(m, 0, sizeof(*m));
    assert_int_equal(euicc_fixture_open(&m->fx), SGP32_OK);
    m->master = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(m->master >= 0);
    assert_int_equal(grantpt(m->master), 0);
    assert_int_equal(unlockpt(m->master), 0);
    snprintf(m->slave_path, sizeof(m->slave_path), "%s", ptsname(m->master));
    m->slave_keepalive = open(m->slave_path, O_RDWR | O_NOCTTY);
    assert_true(m->slave_keepalive >= 0);
    m->echo = true; /* modems power up echoing */
    assert_int_equal(pipe(m->stop_pipe), 0);
    assert_int_equal(pthread_create(&m->thread, NULL, modem_main, m), 0);
}

static void modem_stop(fake_modem *m)
{
    assert_int_equal(write(m->stop_pipe[1], "x", 1), 1);
    pthread_join(m->thread, NULL);
    close(m->stop_pipe[0]);
    close(m->stop_pipe[1]);
    close(m->slave_keepalive);
    close(m->master);
    euicc_fixture_close(&m->fx);
}

static void at_csim_fake_modem(void **state)
{
    (void)state;
    fake_modem m;
    modem_start(&m);
    sgp32_apdu_at_csim_config config = {
        .device = m.slave_path, .baud = 115200, .timeout_ms = 3000, .reset_command = "AT+CFUN=4;+CFUN=1"};
    sgp32_apdu_transport *t;
    assert_int_equal(sgp32_apdu_at_csim_new(&config, &t), SGP32_OK);
    sgp32_buf atr;
    sgp32_buf_init(&atr, SGP32_APDU_ATR_MAX);
    assert_int_equal(sgp32_apdu_transport_open(t, &atr), SGP32_OK);
    assert_int_equal(atr.len, 0); /* no ATR over AT+CSIM */
    assert_false(m.echo);         /* ATE0 was sent */
    for (int round = 0; round < 3; round++) {
        const char *eid = apdu_check_read_eid(t, 0);
        assert_non_null(eid);
        assert_string_equal(eid, APDU_CHECK_EID);
    }
    assert_true(m.commands >= 12);
    int rc;
    /* A logical channel through AT+CSIM. */
    assert_string_equal(apdu_check_send(t, "0070000001", &rc), "019000");
    assert_non_null(apdu_check_read_eid(t, 1));
    /* The modem refuses: a clear device error, and the link keeps working. */
    assert_null(apdu_check_send(t, "00EE0000", &rc));
    assert_int_equal(rc, SGP32_ERR_TRANSPORT_DEVICE);
    assert_non_null(apdu_check_read_eid(t, 0));
    /* A long response (FCI with Le, 256 bytes would need GET RESPONSE; this is what fits). */
    const char *r = apdu_check_send(t, "00A4040410A0000005591010FFFFFFFF890000010000", &rc);
    assert_non_null(r);
    assert_memory_equal(r, "62", 2);
    /* Reset through the configured command. */
    assert_int_equal(sgp32_apdu_transport_reset(t, &atr), SGP32_OK);
    assert_int_equal(m.resets, 1);
    assert_string_equal(apdu_check_send(t, "80E2910006BF3E035C015A", &rc), "6985");
    sgp32_apdu_transport_close(t);

    /* A modem that keeps its echo (keep_echo) works too. */
    m.echo = true;
    config.keep_echo = true;
    sgp32_apdu_transport *t2;
    assert_int_equal(sgp32_apdu_at_csim_new(&config, &t2), SGP32_OK);
    assert_int_equal(sgp32_apdu_transport_open(t2, &atr), SGP32_OK);
    assert_true(m.echo);
    assert_non_null(apdu_check_read_eid(t2, 0));
    sgp32_apdu_transport_destroy(t2);

    /* A modem that stops answering: a timeout, not a hang. */
    sgp32_apdu_transport_destroy(t);
    config.keep_echo = false;
    config.timeout_ms = 300;
    assert_int_equal(sgp32_apdu_at_csim_new(&config, &t), SGP32_OK);
    assert_int_equal(sgp32_apdu_transport_open(t, &atr), SGP32_OK);
    m.mute = true;
    assert_null(apdu_check_send(t, "0070000001", &rc));
    assert_int_equal(rc, SGP32_ERR_TRANSPORT_TIMEOUT);
    sgp32_apdu_transport_destroy(t);
    sgp32_apdu_transport *t3;
    assert_int_equal(sgp32_apdu_at_csim_new(&config, &t3), SGP32_OK);
    assert_int_equal(sgp32_apdu_transport_open(t3, &atr), SGP32_ERR_TRANSPORT_TIMEOUT);
    sgp32_apdu_transport_destroy(t3);

    /* Without a reset command, reset is unsupported. */
    m.mute = false;
    config.reset_command = NULL;
    config.timeout_ms = 3000;
    assert_int_equal(sgp32_apdu_at_csim_new(&config, &t3), SGP32_OK);
    assert_int_equal(sgp32_apdu_transport_open(t3, &atr), SGP32_OK);
    assert_int_equal(sgp32_apdu_transport_reset(t3, &atr), SGP32_ERR_UNSUPPORTED);
    sgp32_apdu_transport_destroy(t3);

    sgp32_buf_free(&atr);
    modem_stop(&m);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(socket_against_euicc_sim, sim_teardown),
        cmocka_unit_test(socket_bad_config),
        cmocka_unit_test(loopback_in_process),
        cmocka_unit_test(at_csim_fake_modem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

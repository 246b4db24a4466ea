/*
 * APDU transport through a cellular modem's AT command port: AT+CSIM (3GPP TS 27.007 §8.17)
 *
 *   -> AT+CSIM=<length>,"<command hex>"        length = number of hex characters
 *   <- +CSIM: <length>,"<response hex>"         then OK (or ERROR / +CME ERROR: n)
 *
 * The serial line is set raw (8N1, no flow control, the configured speed) and read with a
 * deadline per command. Lines are split on CR/LF; empty lines, the echo of our own command and
 * anything that is not the final result or the +CSIM line (unsolicited result codes such as
 * +CREG, RING, ^SYSSTART) are skipped, so URCs arriving between commands do no harm. Open sends
 * AT (sync, up to three tries) and ATE0 (echo off, unless keep_echo); there is no ATR over
 * AT+CSIM (it is empty). Reset sends the configured reset command, if any.
 *
 * Logical channels: the IPA's own MANAGE CHANNEL / SELECT APDUs go through AT+CSIM like any
 * other APDU. Modems that refuse MANAGE CHANNEL in AT+CSIM need AT+CCHO/AT+CGLA (not implemented;
 * docs/transport.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "sgp32/text.h"
#include "transport_internal.h"

enum {
    AT_LINE_MAX = 2 * SGP32_APDU_RESPONSE_MAX + 64, /* "+CSIM: n,"<hex>"" of the longest answer */
    AT_COMMAND_MAX = 2 * (5 + 255 + 1) + 32,        /* short APDUs: AT+CSIM=522,"..." */
};

typedef struct at_transport {
    sgp32_apdu_transport base;
    sgp32_apdu_at_csim_config config;
    char *device;
    char *reset_command;
    int fd;
    char *rx; /* bytes read, not yet consumed (AT_LINE_MAX) */
    size_t rx_len;
    char *line; /* the current line */
    char *info; /* the +CSIM line of the last command */
} at_transport;

static speed_t baud_constant(unsigned baud)
{
    switch (baud) {
    case 9600: return B9600;
    case 19200: return B19200;
    case 38400: return B38400;
    case 57600: return B57600;
    case 115200: return B115200;
    case 230400: return B230400;
    case 460800: return B460800;
    case 921600: return B921600;
    default: return 0;
    }
}

static int configure_line(int fd, unsigned baud)
{
    if (!isatty(fd))
        return SGP32_OK; /* a socket or FIFO in a test: nothing to set */
    struct termios tio;
    if (tcgetattr(fd, &tio) != 0)
        return SGP32_ERR_IO;
    tio.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON | IXOFF);
    tio.c_oflag &= ~(tcflag_t)OPOST;
    tio.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
    tio.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | CSTOPB);
    tio.c_cflag |= CS8 | CLOCAL | CREAD;
    tio.c_cc[VMIN] = 0;
    tio.c_cc[VTIME] = 0;
    speed_t speed = baud_constant(baud);
    if (!speed)
        return SGP32_ERR_INVALID_ARGUMENT;
    cfsetispeed(&tio, speed);
    cfsetospeed(&tio, speed);
    if (tcsetattr(fd, TCSANOW, &tio) != 0)
        return SGP32_ERR_IO;
    tcflush(fd, TCIOFLUSH);
    return SGP32_OK;
}

/* The next non-empty line into a->line (NUL-terminated, without CR/LF). */
static int read_line(at_transport *a, int64_t deadline)
{
    for (;;) {
        size_t start = 0;
        while (start < a->rx_len && (a->rx[start] == '\r' || a->rx[start] == '\n'))
            start++;
        size_t end = start;
        while (end < a->rx_len && a->rx[end] != '\r' && a->rx[end] != '\n')
            end++;
        if (end < a->rx_len) { /* a complete line */
            memcpy(a->line, a->rx + start, end - start);
            a->line[end - start] = '\0';
            memmove(a->rx, a->rx + end, a->rx_len - end);
            a->rx_len -= end;
            return SGP32_OK;
        }
        if (start) {
            memmove(a->rx, a->rx + start, a->rx_len - start);
            a->rx_len -= start;
        }
        if (a->rx_len >= AT_LINE_MAX - 1)
            return SGP32_ERR_TRANSPORT_TOO_LARGE;
        size_t got;
        int rc = sgp32_transport_read_some(a->fd, (uint8_t *)a->rx + a->rx_len, AT_LINE_MAX - 1 - a->rx_len,
                                           &got, deadline);
        if (rc)
            return rc;
        a->rx_len += got;
    }
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/*
 * Send one command line and wait for its final result. With prefix, the first line starting
 * with it is copied into info (SGP32_ERR_TRANSPORT_PROTOCOL when OK comes without it).
 */
static int at_command(at_transport *a, const char *command, const char *prefix, char *info, size_t info_cap)
{
    int64_t deadline = sgp32_transport_now_ms() + a->config.timeout_ms;
    a->rx_len = 0; /* whatever came before (URCs) is not an answer to this command */
    char line[AT_COMMAND_MAX + 2];
    int n = snprintf(line, sizeof(line), "%s\r", command);
    if (n < 0 || (size_t)n >= sizeof(line))
        return SGP32_ERR_INVALID_ARGUMENT;
    int rc = sgp32_transport_write_all(a->fd, (const uint8_t *)line, (size_t)n, deadline);
    if (rc)
        return rc;
    bool have_info = false;
    for (;;) {
        rc = read_line(a, deadline);
        if (rc)
            return rc;
        const char *l = a->line;
        if (strcmp(l, command) == 0)
            continue; /* echo */
        if (strcmp(l, "OK") == 0) {
            if (prefix && !have_info) {
                sgp32_log(SGP32_LOG_WARN, SGP32_LOG_TRANSPORT, NULL, "at_csim: OK without %s", prefix);
                return SGP32_ERR_TRANSPORT_PROTOCOL;
            }
            return SGP32_OK;
        }
        if (strcmp(l, "ERROR") == 0 || starts_with(l, "+CME ERROR") || starts_with(l, "+CMS ERROR")) {
            sgp32_log(SGP32_LOG_WARN, SGP32_LOG_TRANSPORT, NULL, "at_csim: %.40s answered %s", command, l);
            return SGP32_ERR_TRANSPORT_DEVICE;
        }
        if (prefix && !have_info && starts_with(l, prefix)) {
            size_t len = strlen(l);
            if (len >= info_cap)
                return SGP32_ERR_TRANSPORT_TOO_LARGE;
            memcpy(info, l, len + 1);
            have_info = true;
            continue;
        }
        sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_TRANSPORT, NULL, "at_csim: skipped line \"%.60s\"", l);
    }
}

static int at_open(sgp32_apdu_transport *t, sgp32_buf *atr)
{
    at_transport *a = (at_transport *)t;
    (void)atr; /* AT+CSIM has no ATR */
    a->fd = open(a->device, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (a->fd < 0) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_TRANSPORT, NULL, "at_csim: cannot open %s: %s", a->device,
                  strerror(errno));
        return SGP32_ERR_TRANSPORT_CONNECT;
    }
    int rc = configure_line(a->fd, a->config.baud);
    for (int i = 0; rc == SGP32_OK && i < 3; i++) {
        rc = at_command(a, "AT", NULL, NULL, 0);
        if (rc != SGP32_ERR_TRANSPORT_TIMEOUT && rc != SGP32_ERR_TRANSPORT_PROTOCOL)
            break;
        if (i < 2)
            rc = SGP32_OK;
    }
    if (rc == SGP32_OK && !a->config.keep_echo)
        rc = at_command(a, "ATE0", NULL, NULL, 0);
    if (rc) {
        close(a->fd);
        a->fd = -1;
    }
    return rc;
}

static int at_transmit(sgp32_apdu_transport *t, const uint8_t *command, size_t len, sgp32_buf *response)
{
    at_transport *a = (at_transport *)t;
    if (len > 5 + 255 + 1)
        return SGP32_ERR_INVALID_ARGUMENT; /* extended APDUs are not sent through AT+CSIM here */
    char cmd[AT_COMMAND_MAX];
    int n = snprintf(cmd, sizeof(cmd), "AT+CSIM=%zu,\"", 2 * len);
    if (n < 0 || (size_t)n + 2 * len + 2 > sizeof(cmd))
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_hex_encode(command, len, cmd + n);
    strcat(cmd + n, "\"");
    int rc = at_command(a, cmd, "+CSIM:", a->info, AT_LINE_MAX);
    if (rc)
        return rc;
    /* +CSIM: <length>,"<hex>" (quotes optional, blanks tolerated) */
    const char *p = a->info + 6;
    while (*p == ' ')
        p++;
    char *end;
    errno = 0;
    unsigned long declared = strtoul(p, &end, 10);
    if (end == p || errno)
        return SGP32_ERR_TRANSPORT_PROTOCOL;
    p = end;
    while (*p == ' ')
        p++;
    if (*p++ != ',')
        return SGP32_ERR_TRANSPORT_PROTOCOL;
    while (*p == ' ')
        p++;
    bool quoted = *p == '"';
    if (quoted)
        p++;
    size_t hex_len = strspn(p, "0123456789ABCDEFabcdef");
    const char *rest = p + hex_len;
    if (quoted && *rest++ != '"')
        return SGP32_ERR_TRANSPORT_PROTOCOL;
    while (*rest == ' ')
        rest++;
    if (*rest || hex_len != declared || hex_len < 4 || hex_len % 2)
        return SGP32_ERR_TRANSPORT_PROTOCOL;
    sgp32_buf_reset(response);
    rc = sgp32_hex_decode(p, hex_len, response);
    return rc == SGP32_ERR_BAD_TEXT ? SGP32_ERR_TRANSPORT_PROTOCOL : rc;
}

static int at_reset(sgp32_apdu_transport *t, sgp32_buf *atr)
{
    at_transport *a = (at_transport *)t;
    (void)atr;
    if (!a->reset_command)
        return SGP32_ERR_UNSUPPORTED;
    return at_command(a, a->reset_command, NULL, NULL, 0);
}

static void at_close(sgp32_apdu_transport *t)
{
    at_transport *a = (at_transport *)t;
    if (a->fd >= 0)
        close(a->fd);
    a->fd = -1;
    a->rx_len = 0;
}

static char *copy_string(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *c = sgp32_alloc(n);
    if (c)
        memcpy(c, s, n);
    return c;
}

static void free_string(char *s)
{
    if (s)
        sgp32_free(s, strlen(s) + 1);
}

static void at_destroy(sgp32_apdu_transport *t)
{
    at_transport *a = (at_transport *)t;
    free_string(a->device);
    free_string(a->reset_command);
    sgp32_free(a->rx, AT_LINE_MAX);
    sgp32_free(a->line, AT_LINE_MAX);
    sgp32_free(a->info, AT_LINE_MAX);
    sgp32_free(a, sizeof(*a));
}

static const sgp32_apdu_transport_ops at_ops = {
    .name = "at_csim",
    .open = at_open,
    .transmit = at_transmit,
    .reset = at_reset,
    .close = at_close,
    .destroy = at_destroy,
};

int sgp32_apdu_at_csim_new(const sgp32_apdu_at_csim_config *config, sgp32_apdu_transport **out)
{
    if (!out)
        return SGP32_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (!config || !config->device || !*config->device || config->timeout_ms < 0 ||
        (config->baud && !baud_constant(config->baud)) ||
        (config->reset_command && strlen(config->reset_command) > AT_COMMAND_MAX - 2))
        return SGP32_ERR_INVALID_ARGUMENT;
    at_transport *a = sgp32_alloc(sizeof(*a));
    if (!a)
        return SGP32_ERR_NO_MEMORY;
    a->base.ops = &at_ops;
    a->fd = -1;
    a->config = *config;
    a->config.baud = config->baud ? config->baud : 115200;
    a->config.timeout_ms = config->timeout_ms ? config->timeout_ms : SGP32_APDU_DEFAULT_TIMEOUT_MS;
    a->device = copy_string(config->device);
    a->reset_command = copy_string(config->reset_command);
    a->rx = sgp32_alloc(AT_LINE_MAX);
    a->line = sgp32_alloc(AT_LINE_MAX);
    a->info = sgp32_alloc(AT_LINE_MAX);
    if (!a->device || !a->rx || !a->line || !a->info || (config->reset_command && !a->reset_command)) {
        at_destroy(&a->base);
        return SGP32_ERR_NO_MEMORY;
    }
    a->config.device = a->device;
    a->config.reset_command = a->reset_command;
    *out = &a->base;
    return SGP32_OK;
}

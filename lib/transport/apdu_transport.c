/*
 * The APDU transport vtable calls (include/sgp32/apdu_transport.h), the shared fd helpers and the
 * "by name" constructor. Each implementation is one file: apdu_socket.c, apdu_pcsc.c,
 * apdu_at_csim.c, apdu_loopback.c.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "transport_internal.h"

int64_t sgp32_transport_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sgp32_transport_left_ms(int64_t deadline)
{
    int64_t left = deadline - sgp32_transport_now_ms();
    if (left < 0)
        return 0;
    return left > INT32_MAX ? INT32_MAX : (int)left;
}

static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, sgp32_transport_left_ms(deadline));
        if (n > 0)
            return SGP32_OK; /* readable, writable, or an error/hang-up the next call reports */
        if (n == 0)
            return SGP32_ERR_TRANSPORT_TIMEOUT;
        if (errno != EINTR)
            return SGP32_ERR_IO;
    }
}

int sgp32_transport_write_all(int fd, const uint8_t *data, size_t len, int64_t deadline)
{
    size_t done = 0;
    while (done < len) {
        int rc = wait_fd(fd, POLLOUT, deadline);
        if (rc)
            return rc;
        /* send() with MSG_NOSIGNAL: a peer that went away is an error, not a SIGPIPE. */
        ssize_t n = send(fd, data + done, len - done, MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK)
            n = write(fd, data + done, len - done); /* serial devices, ptys */
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                continue;
            return (errno == EPIPE || errno == ECONNRESET) ? SGP32_ERR_TRANSPORT_CLOSED : SGP32_ERR_IO;
        }
        done += (size_t)n;
    }
    return SGP32_OK;
}

int sgp32_transport_read_some(int fd, uint8_t *data, size_t cap, size_t *got, int64_t deadline)
{
    *got = 0;
    for (;;) {
        int rc = wait_fd(fd, POLLIN, deadline);
        if (rc)
            return rc;
        ssize_t n = read(fd, data, cap);
        if (n > 0) {
            *got = (size_t)n;
            return SGP32_OK;
        }
        if (n == 0)
            return SGP32_ERR_TRANSPORT_CLOSED;
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
            continue;
        return (errno == ECONNRESET || errno == EIO) ? SGP32_ERR_TRANSPORT_CLOSED : SGP32_ERR_IO;
    }
}

int sgp32_transport_read_exact(int fd, uint8_t *data, size_t len, int64_t deadline)
{
    size_t done = 0;
    while (done < len) {
        size_t got;
        int rc = sgp32_transport_read_some(fd, data + done, len - done, &got, deadline);
        if (rc)
            return rc;
        done += got;
    }
    return SGP32_OK;
}

int sgp32_transport_set_buf(sgp32_buf *buf, const uint8_t *data, size_t len)
{
    sgp32_buf_reset(buf);
    return len ? sgp32_buf_append(buf, data, len) : SGP32_OK;
}

int sgp32_apdu_transport_open(sgp32_apdu_transport *t, sgp32_buf *atr)
{
    if (!t || !atr)
        return SGP32_ERR_INVALID_ARGUMENT;
    if (t->is_open)
        return SGP32_ERR_STATE;
    sgp32_buf_reset(atr);
    int rc = t->ops->open(t, atr);
    if (rc == SGP32_OK) {
        t->is_open = true;
        sgp32_log_hex(SGP32_LOG_DEBUG, SGP32_LOG_TRANSPORT, NULL, t->ops->name, atr->data, atr->len);
    } else {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_TRANSPORT, NULL, "%s: open failed: %s", t->ops->name,
                  sgp32_err_str(rc));
    }
    return rc;
}

int sgp32_apdu_transport_transmit(sgp32_apdu_transport *t, const uint8_t *command, size_t len,
                                  sgp32_buf *response)
{
    if (!t || !response || !command || len < 4 || len > SGP32_APDU_MAX)
        return SGP32_ERR_INVALID_ARGUMENT;
    if (!t->is_open)
        return SGP32_ERR_STATE;
    sgp32_buf_reset(response);
    if (sgp32_log_enabled(SGP32_LOG_TRANSPORT, SGP32_LOG_TRACE))
        sgp32_log_hex(SGP32_LOG_TRACE, SGP32_LOG_TRANSPORT, NULL, "C-APDU", command, len);
    int rc = t->ops->transmit(t, command, len, response);
    if (rc == SGP32_OK && response->len < 2)
        rc = SGP32_ERR_TRANSPORT_PROTOCOL; /* every response APDU ends in SW1 SW2 */
    if (rc == SGP32_OK) {
        t->commands++;
        t->bytes_sent += len;
        t->bytes_received += response->len;
        if (sgp32_log_enabled(SGP32_LOG_TRANSPORT, SGP32_LOG_TRACE))
            sgp32_log_hex(SGP32_LOG_TRACE, SGP32_LOG_TRANSPORT, NULL, "R-APDU", response->data,
                          response->len);
    } else {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_TRANSPORT, NULL, "%s: transmit failed: %s", t->ops->name,
                  sgp32_err_str(rc));
    }
    return rc;
}

int sgp32_apdu_transport_reset(sgp32_apdu_transport *t, sgp32_buf *atr)
{
    if (!t || !atr)
        return SGP32_ERR_INVALID_ARGUMENT;
    if (!t->is_open)
        return SGP32_ERR_STATE;
    sgp32_buf_reset(atr);
    if (!t->ops->reset)
        return SGP32_ERR_UNSUPPORTED;
    int rc = t->ops->reset(t, atr);
    sgp32_log(rc ? SGP32_LOG_WARN : SGP32_LOG_DEBUG, SGP32_LOG_TRANSPORT, NULL, "%s: card reset: %s",
              t->ops->name, rc ? sgp32_err_str(rc) : "ok");
    return rc;
}

void sgp32_apdu_transport_close(sgp32_apdu_transport *t)
{
    if (t && t->is_open) {
        t->ops->close(t);
        t->is_open = false;
    }
}

void sgp32_apdu_transport_destroy(sgp32_apdu_transport *t)
{
    if (!t)
        return;
    sgp32_apdu_transport_close(t);
    t->ops->destroy(t);
}

const char *sgp32_apdu_transport_name(const sgp32_apdu_transport *t)
{
    return t ? t->ops->name : "none";
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int sgp32_apdu_transport_new_from_uri(const char *uri, int timeout_ms, sgp32_apdu_transport **out)
{
    if (!uri || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (starts_with(uri, "socket:")) {
        sgp32_apdu_socket_config c = {.endpoint = uri + 7, .timeout_ms = timeout_ms};
        return sgp32_apdu_socket_new(&c, out);
    }
    if (starts_with(uri, "pcsc:")) {
        sgp32_apdu_pcsc_config c = {.reader = uri + 5};
        if (starts_with(c.reader, "t0:")) {
            c.protocol = SGP32_APDU_PCSC_T0;
            c.reader += 3;
        } else if (starts_with(c.reader, "t1:")) {
            c.protocol = SGP32_APDU_PCSC_T1;
            c.reader += 3;
        }
        return sgp32_apdu_pcsc_new(&c, out);
    }
    if (starts_with(uri, "at:")) {
        char device[256];
        const char *at = strrchr(uri + 3, '@');
        size_t n = at ? (size_t)(at - (uri + 3)) : strlen(uri + 3);
        if (n == 0 || n >= sizeof(device))
            return SGP32_ERR_INVALID_ARGUMENT;
        memcpy(device, uri + 3, n);
        device[n] = '\0';
        sgp32_apdu_at_csim_config c = {.device = device, .timeout_ms = timeout_ms};
        if (at) {
            char *end;
            unsigned long baud = strtoul(at + 1, &end, 10);
            if (*end || baud == 0 || baud > 4000000)
                return SGP32_ERR_INVALID_ARGUMENT;
            c.baud = (unsigned)baud;
        }
        return sgp32_apdu_at_csim_new(&c, out); /* the config is copied */
    }
    return SGP32_ERR_INVALID_ARGUMENT;
}

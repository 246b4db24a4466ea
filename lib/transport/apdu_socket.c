/*
 * APDU transport over euicc-sim's socket (docs/euicc-sim.md "Socket framing"): a unix socket or
 * TCP (127.0.0.1 by default); both directions carry frames of a 2-byte big-endian length and that
 * many bytes. A command APDU frame is answered by the response APDU; an empty frame resets the
 * card and is answered by the ATR. A new connection starts with a freshly reset card, so open
 * asks for the ATR with the 1-byte control 04.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "transport_internal.h"

typedef struct socket_transport {
    sgp32_apdu_transport base;
    char *endpoint;
    int timeout_ms;
    int connect_wait_ms;
    int fd;
} socket_transport;

static int connect_once(const char *endpoint, int *fd_out)
{
    *fd_out = -1;
    if (strncmp(endpoint, "unix:", 5) == 0) {
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        const char *path = endpoint + 5;
        if (!*path || strlen(path) >= sizeof(addr.sun_path))
            return SGP32_ERR_INVALID_ARGUMENT;
        memcpy(addr.sun_path, path, strlen(path) + 1);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return SGP32_ERR_IO;
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
            close(fd);
            return SGP32_ERR_TRANSPORT_CONNECT;
        }
        *fd_out = fd;
        return SGP32_OK;
    }
    if (strncmp(endpoint, "tcp:", 4) != 0)
        return SGP32_ERR_INVALID_ARGUMENT;
    char host[256] = "127.0.0.1";
    const char *spec = endpoint + 4;
    const char *colon = strrchr(spec, ':');
    const char *port = spec;
    if (colon) {
        size_t n = (size_t)(colon - spec);
        if (n == 0 || n >= sizeof(host))
            return SGP32_ERR_INVALID_ARGUMENT;
        memcpy(host, spec, n);
        host[n] = '\0';
        port = colon + 1;
    }
    if (!*port)
        return SGP32_ERR_INVALID_ARGUMENT;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *list = NULL;
    if (getaddrinfo(host, port, &hints, &list) != 0)
        return SGP32_ERR_TRANSPORT_CONNECT;
    int rc = SGP32_ERR_TRANSPORT_CONNECT;
    for (struct addrinfo *a = list; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            int one = 1;
            (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            *fd_out = fd;
            rc = SGP32_OK;
            break;
        }
        close(fd);
    }
    freeaddrinfo(list);
    return rc;
}

/* Send one frame and read the answer frame into out. */
static int exchange(socket_transport *s, const uint8_t *payload, size_t len, sgp32_buf *out)
{
    if (len > 0xFFFF)
        return SGP32_ERR_INVALID_ARGUMENT;
    int64_t deadline = sgp32_transport_now_ms() + s->timeout_ms;
    uint8_t head[2] = {(uint8_t)(len >> 8), (uint8_t)len};
    int rc = sgp32_transport_write_all(s->fd, head, 2, deadline);
    if (rc == SGP32_OK && len)
        rc = sgp32_transport_write_all(s->fd, payload, len, deadline);
    if (rc == SGP32_OK)
        rc = sgp32_transport_read_exact(s->fd, head, 2, deadline);
    if (rc)
        return rc;
    size_t n = (size_t)head[0] << 8 | head[1];
    sgp32_buf_reset(out);
    uint8_t *dst;
    rc = sgp32_buf_extend(out, n, &dst);
    if (rc)
        return rc;
    return sgp32_transport_read_exact(s->fd, dst, n, deadline);
}

static int socket_open(sgp32_apdu_transport *t, sgp32_buf *atr)
{
    socket_transport *s = (socket_transport *)t;
    int64_t deadline = sgp32_transport_now_ms() + s->connect_wait_ms;
    int rc;
    for (;;) {
        rc = connect_once(s->endpoint, &s->fd);
        if (rc != SGP32_ERR_TRANSPORT_CONNECT || sgp32_transport_now_ms() >= deadline)
            break;
        struct timespec pause = {.tv_nsec = 50 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    if (rc) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_TRANSPORT, NULL, "socket: cannot connect to %s: %s", s->endpoint,
                  strerror(errno));
        return rc;
    }
    static const uint8_t get_atr = 0x04;
    rc = exchange(s, &get_atr, 1, atr);
    if (rc == SGP32_OK && atr->len == 0)
        rc = SGP32_ERR_TRANSPORT_PROTOCOL;
    if (rc) {
        close(s->fd);
        s->fd = -1;
    }
    return rc;
}

static int socket_transmit(sgp32_apdu_transport *t, const uint8_t *command, size_t len, sgp32_buf *response)
{
    socket_transport *s = (socket_transport *)t;
    if (len > 0xFFFF)
        return SGP32_ERR_INVALID_ARGUMENT;
    return exchange(s, command, len, response);
}

static int socket_reset(sgp32_apdu_transport *t, sgp32_buf *atr)
{
    socket_transport *s = (socket_transport *)t;
    int rc = exchange(s, NULL, 0, atr); /* the empty frame: reset, answered by the ATR */
    if (rc == SGP32_OK && atr->len == 0)
        rc = SGP32_ERR_TRANSPORT_PROTOCOL;
    return rc;
}

static void socket_close(sgp32_apdu_transport *t)
{
    socket_transport *s = (socket_transport *)t;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

static void socket_destroy(sgp32_apdu_transport *t)
{
    socket_transport *s = (socket_transport *)t;
    sgp32_free(s->endpoint, strlen(s->endpoint) + 1);
    sgp32_free(s, sizeof(*s));
}

static const sgp32_apdu_transport_ops socket_ops = {
    .name = "socket",
    .open = socket_open,
    .transmit = socket_transmit,
    .reset = socket_reset,
    .close = socket_close,
    .destroy = socket_destroy,
};

int sgp32_apdu_socket_new(const sgp32_apdu_socket_config *config, sgp32_apdu_transport **out)
{
    if (!out)
        return SGP32_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (!config || !config->endpoint ||
        (strncmp(config->endpoint, "unix:", 5) != 0 && strncmp(config->endpoint, "tcp:", 4) != 0))
        return SGP32_ERR_INVALID_ARGUMENT;
    socket_transport *s = sgp32_alloc(sizeof(*s));
    if (!s)
        return SGP32_ERR_NO_MEMORY;
    size_t n = strlen(config->endpoint) + 1;
    s->endpoint = sgp32_alloc(n);
    if (!s->endpoint) {
        sgp32_free(s, sizeof(*s));
        return SGP32_ERR_NO_MEMORY;
    }
    memcpy(s->endpoint, config->endpoint, n);
    s->base.ops = &socket_ops;
    s->timeout_ms = config->timeout_ms > 0 ? config->timeout_ms : SGP32_APDU_DEFAULT_TIMEOUT_MS;
    s->connect_wait_ms = config->connect_wait_ms > 0 ? config->connect_wait_ms : 0;
    s->fd = -1;
    *out = &s->base;
    return SGP32_OK;
}

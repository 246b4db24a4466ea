/*
 * euicc_client: a small client for euicc-sim's socket frontend (tests, manual poking).
 *
 *   euicc_client [--wait SECONDS] ENDPOINT COMMAND [ARGS]
 *   ENDPOINT   unix:PATH or tcp:HOST:PORT
 *   apdu HEX...     send each command APDU, print each response APDU (hex), one per line
 *   reset           reset the card (an empty frame), print the ATR
 *   es10 HEX        one ES10 function the way an IPA sends it: MANAGE CHANNEL, SELECT ISD-R,
 *                   STORE DATA blocks of 120 bytes, GET RESPONSE; prints the response (hex)
 *   dp-loop START [COUNT]
 *                   SetDefaultDpAddress (BF65) with "dp<N>.example.com" for N = START, START+1,
 *                   ... (COUNT times, default until the card goes away); after each ok answer
 *                   prints "ack N" (flushed), so a test that kills the card knows what the card
 *                   acknowledged
 *
 * --wait: keep trying to connect for that long (the simulator may still be starting).
 * Exit status: 0 ok, 1 the card answered something unexpected or went away, 2 usage.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sgp32/text.h"

static int fd = -1;

static int connect_endpoint(const char *endpoint)
{
    if (!strncmp(endpoint, "unix:", 5)) {
        struct sockaddr_un addr;
        memset(&addr, 0, sizeof(addr));
        addr.sun_family = AF_UNIX;
        if (strlen(endpoint + 5) >= sizeof(addr.sun_path))
            return -1;
        strcpy(addr.sun_path, endpoint + 5);
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        if (s >= 0 && connect(s, (struct sockaddr *)&addr, sizeof(addr)) == 0)
            return s;
        if (s >= 0)
            close(s);
        return -1;
    }
    if (!strncmp(endpoint, "tcp:", 4)) {
        char host[256];
        const char *rest = endpoint + 4, *colon = strrchr(rest, ':');
        if (!colon || (size_t)(colon - rest) >= sizeof(host))
            return -1;
        memcpy(host, rest, (size_t)(colon - rest));
        host[colon - rest] = '\0';
        struct addrinfo hints, *res = NULL;
        memset(&hints, 0, sizeof(hints));
        hints.ai_socktype = SOCK_STREAM;
        if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
            return -1;
        int s = -1;
        for (struct addrinfo *a = res; a && s < 0; a = a->ai_next) {
            s = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
            if (s >= 0 && connect(s, a->ai_addr, a->ai_addrlen) != 0) {
                close(s);
                s = -1;
            }
        }
        freeaddrinfo(res);
        return s;
    }
    return -1;
}

static int io_all(bool out, uint8_t *data, size_t len)
{
    while (len) {
        ssize_t n = out ? send(fd, data, len, MSG_NOSIGNAL) : recv(fd, data, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* One frame out, one frame in. */
static int exchange(const uint8_t *frame, size_t len, uint8_t *answer, size_t *answer_len)
{
    uint8_t header[2] = {(uint8_t)(len >> 8), (uint8_t)len};
    if (io_all(true, header, 2) || (len && io_all(true, (uint8_t *)frame, len)) || io_all(false, header, 2))
        return -1;
    *answer_len = (size_t)header[0] << 8 | header[1];
    return io_all(false, answer, *answer_len);
}

static void print_hex(const uint8_t *data, size_t len)
{
    char *text = malloc(2 * len + 1);
    if (!text)
        exit(1);
    sgp32_hex_encode(data, len, text);
    printf("%s\n", text);
    free(text);
}

/* An APDU; 61xx answers are collected with GET RESPONSE on the same channel. Returns SW. */
static int transmit(const uint8_t *apdu, size_t len, uint8_t *data, size_t *data_len, size_t data_max)
{
    uint8_t answer[65536];
    size_t n;
    *data_len = 0;
    if (exchange(apdu, len, answer, &n) || n < 2)
        return -1;
    for (;;) {
        unsigned sw = (unsigned)answer[n - 2] << 8 | answer[n - 1];
        if (*data_len + n - 2 > data_max)
            return -1;
        memcpy(data + *data_len, answer, n - 2);
        *data_len += n - 2;
        if ((sw >> 8) != 0x61)
            return (int)sw;
        /* GET RESPONSE on the command's channel, interindustry class. */
        uint8_t cla = (apdu[0] & 0x40) ? (uint8_t)(0x40 | (apdu[0] & 0x0F)) : (uint8_t)(apdu[0] & 0x03);
        uint8_t get[5] = {cla, 0xC0, 0x00, 0x00, (uint8_t)sw};
        if (exchange(get, 5, answer, &n) || n < 2)
            return -1;
    }
}

static uint8_t cla_for(int channel, bool proprietary)
{
    uint8_t cla = channel < 4 ? (uint8_t)channel : (uint8_t)(0x40 | (channel - 4));
    return proprietary ? (uint8_t)(cla | 0x80) : cla;
}

static int open_and_select(void)
{
    static const uint8_t open_channel[] = {0x00, 0x70, 0x00, 0x00, 0x01};
    uint8_t data[256];
    size_t n;
    int sw = transmit(open_channel, sizeof(open_channel), data, &n, sizeof(data));
    if (sw != 0x9000 || n != 1) {
        fprintf(stderr, "euicc_client: MANAGE CHANNEL answered %04X\n", sw);
        return -1;
    }
    int channel = data[0];
    uint8_t select[] = {cla_for(channel, false),
                        0xA4,
                        0x04,
                        0x00,
                        0x10,
                        0xA0,
                        0x00,
                        0x00,
                        0x05,
                        0x59,
                        0x10,
                        0x10,
                        0xFF,
                        0xFF,
                        0xFF,
                        0xFF,
                        0x89,
                        0x00,
                        0x00,
                        0x01,
                        0x00};
    sw = transmit(select, sizeof(select), data, &n, sizeof(data));
    if (sw != 0x9000) {
        fprintf(stderr, "euicc_client: SELECT ISD-R answered %04X\n", sw);
        return -1;
    }
    return channel;
}

/* One ES10 request by STORE DATA; returns SW, the response in out. */
static int es10(int channel, const uint8_t *request, size_t len, uint8_t *out, size_t *out_len,
                size_t out_max)
{
    enum { BLOCK = 120 };
    size_t offset = 0;
    unsigned block = 0;
    int sw = -1;
    *out_len = 0;
    do {
        size_t n = len - offset < BLOCK ? len - offset : BLOCK;
        bool last = offset + n == len;
        uint8_t apdu[5 + BLOCK];
        apdu[0] = cla_for(channel, true);
        apdu[1] = 0xE2;
        apdu[2] = last ? 0x91 : 0x11;
        apdu[3] = (uint8_t)block++;
        apdu[4] = (uint8_t)n;
        memcpy(apdu + 5, request + offset, n);
        sw = transmit(apdu, 5 + n, out, out_len, out_max);
        if (!last && sw != 0x9000)
            return sw;
        offset += n;
    } while (offset < len);
    return sw;
}

static int hex_arg(const char *text, sgp32_buf *out)
{
    sgp32_buf_init(out, 1 << 16);
    if (sgp32_hex_decode(text, strlen(text), out) != SGP32_OK) {
        fprintf(stderr, "euicc_client: '%s' is not hex\n", text);
        return -1;
    }
    return 0;
}

static int dp_loop(long start, long count)
{
    int channel = open_and_select();
    if (channel < 0)
        return 1;
    for (long n = start; count < 0 || n < start + count; n++) {
        char address[64];
        int alen = snprintf(address, sizeof(address), "dp%ld.example.com", n);
        uint8_t request[80] = {0xBF, 0x65, (uint8_t)(alen + 2), 0x80, (uint8_t)alen};
        memcpy(request + 5, address, (size_t)alen);
        uint8_t out[256];
        size_t out_len;
        int sw = es10(channel, request, 5 + (size_t)alen, out, &out_len, sizeof(out));
        static const uint8_t ok[] = {0xBF, 0x65, 0x03, 0x80, 0x01, 0x00};
        if (sw != 0x9000 || out_len != sizeof(ok) || memcmp(out, ok, sizeof(ok)) != 0) {
            fprintf(stderr, "euicc_client: SetDefaultDpAddress %ld answered SW %04X\n", n, sw & 0xFFFF);
            return 1;
        }
        printf("ack %ld\n", n);
        fflush(stdout);
    }
    return 0;
}

int main(int argc, char **argv)
{
    int i = 1;
    double wait = 0;
    if (i + 1 < argc && !strcmp(argv[i], "--wait")) {
        wait = atof(argv[i + 1]);
        i += 2;
    }
    if (argc - i < 2) {
        fprintf(stderr,
                "usage: euicc_client [--wait SECONDS] unix:PATH|tcp:HOST:PORT apdu HEX... | reset | es10 HEX "
                "| dp-loop START [COUNT]\n");
        return 2;
    }
    const char *endpoint = argv[i++], *command = argv[i++];
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while ((fd = connect_endpoint(endpoint)) < 0) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9 >= wait) {
            fprintf(stderr, "euicc_client: cannot connect to %s: %s\n", endpoint, strerror(errno));
            return 1;
        }
        struct timespec pause = {0, 5 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    int status = 0;
    if (!strcmp(command, "apdu")) {
        for (; i < argc && !status; i++) {
            sgp32_buf apdu;
            uint8_t answer[65536];
            size_t n;
            if (hex_arg(argv[i], &apdu) || exchange(apdu.data, apdu.len, answer, &n))
                status = 1;
            else
                print_hex(answer, n);
            sgp32_buf_free(&apdu);
        }
    } else if (!strcmp(command, "reset")) {
        uint8_t answer[256];
        size_t n;
        if (exchange(NULL, 0, answer, &n))
            status = 1;
        else
            print_hex(answer, n);
    } else if (!strcmp(command, "es10") && i < argc) {
        sgp32_buf request;
        static uint8_t out[65536];
        size_t out_len = 0;
        int channel = hex_arg(argv[i], &request) ? -1 : open_and_select();
        int sw = channel < 0 ? -1 : es10(channel, request.data, request.len, out, &out_len, sizeof(out));
        if (sw != 0x9000) {
            fprintf(stderr, "euicc_client: STORE DATA answered %04X\n", sw & 0xFFFF);
            status = 1;
        } else {
            print_hex(out, out_len);
        }
        sgp32_buf_free(&request);
    } else if (!strcmp(command, "dp-loop") && i < argc) {
        status = dp_loop(atol(argv[i]), i + 1 < argc ? atol(argv[i + 1]) : -1);
    } else {
        fprintf(stderr, "euicc_client: unknown command %s\n", command);
        status = 2;
    }
    close(fd);
    return status;
}

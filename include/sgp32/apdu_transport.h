/*
 * APDU transports: how the IPA host reaches its eUICC (design principle 1).
 *
 * One small vtable, chosen at run time; the IPA core never sees which one:
 *
 *   socket    euicc-sim's socket (unix path or TCP on 127.0.0.1), 2-byte big-endian length framing
 *   pcsc      a PC/SC reader through pcsclite (a real card, or euicc-sim behind vsmartcard's vpcd)
 *   at_csim   a cellular modem on a serial device: AT+CSIM (3GPP TS 27.007 §8.17)
 *   loopback  an in-process callback (a software eUICC linked into the same program)
 *
 * Calls block for at most the configured timeout. A transport moves bytes: it never interprets
 * ES10, and it handles 61xx/6Cxx only where the link layer requires it (PC/SC over T=0, see
 * sgp32_apdu_pcsc_config). See docs/transport.md.
 */
#ifndef SGP32_APDU_TRANSPORT_H
#define SGP32_APDU_TRANSPORT_H

#include "sgp32/alloc.h"

enum {
    SGP32_APDU_MAX = 4 + 3 + 65535 + 3,   /* the longest command APDU (extended Lc and Le) */
    SGP32_APDU_RESPONSE_MAX = 65536 + 2,  /* the longest response APDU */
    SGP32_APDU_ATR_MAX = 33,              /* ISO 7816-3 */
    SGP32_APDU_DEFAULT_TIMEOUT_MS = 30000 /* a card may compute (key agreement, BPP segments) */
};

typedef struct sgp32_apdu_transport sgp32_apdu_transport;

typedef struct sgp32_apdu_transport_ops {
    const char *name; /* "socket", "pcsc", "at_csim", "loopback" */
    /* Connect and power the card; the ATR (possibly empty: AT+CSIM has none) into atr. */
    int (*open)(sgp32_apdu_transport *t, sgp32_buf *atr);
    /* One command APDU; the response APDU (data, SW1, SW2) into response. */
    int (*transmit)(sgp32_apdu_transport *t, const uint8_t *command, size_t len, sgp32_buf *response);
    /* Reset the card (warm reset); the new ATR into atr. */
    int (*reset)(sgp32_apdu_transport *t, sgp32_buf *atr);
    /* Disconnect (the transport may be opened again). */
    void (*close)(sgp32_apdu_transport *t);
    /* Release everything (closes first when open). */
    void (*destroy)(sgp32_apdu_transport *t);
} sgp32_apdu_transport_ops;

/* Every implementation starts with this header. */
struct sgp32_apdu_transport {
    const sgp32_apdu_transport_ops *ops;
    bool is_open;
    uint64_t commands;       /* APDUs transmitted (after open) */
    uint64_t bytes_sent;     /* command APDU bytes */
    uint64_t bytes_received; /* response APDU bytes */
};

/*
 * The calls. atr and response are reset (len = 0) and then filled; both may be capped buffers
 * (SGP32_ERR_CAPACITY when the answer does not fit). Errors: SGP32_ERR_STATE (not open / already
 * open), SGP32_ERR_INVALID_ARGUMENT (empty or over-long command), SGP32_ERR_TRANSPORT_* (link
 * failures), SGP32_ERR_UNSUPPORTED (reset on a link that cannot reset).
 */
int sgp32_apdu_transport_open(sgp32_apdu_transport *t, sgp32_buf *atr);
int sgp32_apdu_transport_transmit(sgp32_apdu_transport *t, const uint8_t *command, size_t len,
                                  sgp32_buf *response);
int sgp32_apdu_transport_reset(sgp32_apdu_transport *t, sgp32_buf *atr);
void sgp32_apdu_transport_close(sgp32_apdu_transport *t);
void sgp32_apdu_transport_destroy(sgp32_apdu_transport *t); /* NULL is fine */
const char *sgp32_apdu_transport_name(const sgp32_apdu_transport *t);

/* ---------------------------------------------------------------- socket (euicc-sim) */

typedef struct sgp32_apdu_socket_config {
    const char *endpoint; /* "unix:PATH" or "tcp:[HOST:]PORT" (HOST defaults to 127.0.0.1) */
    int timeout_ms;       /* per answer; 0 = SGP32_APDU_DEFAULT_TIMEOUT_MS */
    int connect_wait_ms;  /* keep retrying the connection this long (the simulator may be starting) */
} sgp32_apdu_socket_config;

int sgp32_apdu_socket_new(const sgp32_apdu_socket_config *config, sgp32_apdu_transport **out);

/* ---------------------------------------------------------------- PC/SC (pcsclite) */

typedef enum sgp32_apdu_pcsc_protocol {
    SGP32_APDU_PCSC_ANY = 0, /* what the card and reader agree on (T=0 first with pcscd) */
    SGP32_APDU_PCSC_T0,
    SGP32_APDU_PCSC_T1,
} sgp32_apdu_pcsc_protocol;

typedef struct sgp32_apdu_pcsc_config {
    const char *reader; /* the first reader whose name contains this (NULL or "": any with a card) */
    sgp32_apdu_pcsc_protocol protocol;
    int card_wait_ms; /* wait this long for a reader with a card at open (0: do not wait) */
    bool exclusive;   /* SCARD_SHARE_EXCLUSIVE instead of SHARED */
    /* Over T=0 only (ISO 7816-3 §12.2, the terminal transport layer PC/SC leaves to the
     * application): a case 2/4 command (Le present) answered with a bare 61xx gets GET RESPONSE
     * (Le = xx) and a bare 6Cxx gets the command again with Le = xx. A command without Le keeps its
     * 61xx (the IPA decides whether to fetch). Set to disable this. */
    bool t0_no_auto_get_response;
} sgp32_apdu_pcsc_config;

/* SGP32_ERR_UNSUPPORTED when the library was built without pcsclite. */
int sgp32_apdu_pcsc_new(const sgp32_apdu_pcsc_config *config, sgp32_apdu_transport **out);
/* After open: the reader name and the protocol in use (0 or 1; -1 when not open). */
const char *sgp32_apdu_pcsc_reader(const sgp32_apdu_transport *t);
int sgp32_apdu_pcsc_protocol_in_use(const sgp32_apdu_transport *t);

/* ---------------------------------------------------------------- AT+CSIM (modem) */

typedef struct sgp32_apdu_at_csim_config {
    const char *device;        /* "/dev/ttyUSB2", a pty, ... */
    unsigned baud;             /* 0 = 115200; ignored by ptys and USB ACM ports */
    int timeout_ms;            /* per AT command; 0 = SGP32_APDU_DEFAULT_TIMEOUT_MS */
    bool keep_echo;            /* do not send ATE0 at open (echoed lines are skipped either way) */
    const char *reset_command; /* e.g. "AT+CFUN=4;+CFUN=1" (answered OK); NULL: reset unsupported */
} sgp32_apdu_at_csim_config;

int sgp32_apdu_at_csim_new(const sgp32_apdu_at_csim_config *config, sgp32_apdu_transport **out);

/* ---------------------------------------------------------------- loopback (in process) */

/* Answer one command APDU into response (the caller resets it); reset may be NULL. */
typedef int (*sgp32_apdu_loopback_transmit)(void *ctx, const uint8_t *command, size_t len,
                                            sgp32_buf *response);
typedef void (*sgp32_apdu_loopback_reset)(void *ctx);

int sgp32_apdu_loopback_new(sgp32_apdu_loopback_transmit transmit, sgp32_apdu_loopback_reset reset, void *ctx,
                            sgp32_bytes atr, sgp32_apdu_transport **out);

/* ---------------------------------------------------------------- by name */

/*
 * One string for config files and command lines:
 *   socket:unix:/run/euicc-sim.sock   socket:tcp:127.0.0.1:7000
 *   pcsc:                             pcsc:Virtual PCD   pcsc:t1:Virtual PCD   pcsc:t0:...
 *   at:/dev/ttyUSB2                   at:/dev/ttyUSB2@9600
 * SGP32_ERR_INVALID_ARGUMENT for anything else.
 */
int sgp32_apdu_transport_new_from_uri(const char *uri, int timeout_ms, sgp32_apdu_transport **out);

#endif

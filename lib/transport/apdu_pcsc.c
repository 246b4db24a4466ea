/*
 * APDU transport through PC/SC (pcsclite): a real reader, or euicc-sim behind vsmartcard's vpcd
 * ("Virtual PCD 00 00"). The reader is the first whose name contains the configured substring and
 * holds a card; the protocol is what the card offers (T=0 and/or T=1) restricted by the config.
 *
 * PC/SC passes APDUs through unchanged, so over T=0 the terminal transport layer of ISO 7816-3
 * §12.2 is ours: a case 2/4 command answered with a bare 61xx is followed by GET RESPONSE, a bare
 * 6Cxx by the command again with the right Le. A case 1/3 command keeps its 61xx: the IPA decides
 * whether to fetch (SGP.32 test tools expect an IPA *not* to fetch the FCI after SELECT).
 * Reset: SCardReconnect with SCARD_RESET_CARD.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "transport_internal.h"

#ifdef SGP32_HAVE_PCSC
#include <winscard.h>

typedef struct pcsc_transport {
    sgp32_apdu_transport base;
    sgp32_apdu_pcsc_config config;
    char reader_filter[256];
    char reader[256];
    SCARDCONTEXT context;
    bool has_context;
    SCARDHANDLE card;
    DWORD protocol; /* SCARD_PROTOCOL_T0 / T1 */
    BYTE answer[SGP32_APDU_RESPONSE_MAX];
} pcsc_transport;

/* Bounded copy (reader names are short; a longer one is cut). */
static void copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int map_error(LONG rc)
{
    switch (rc) {
    case SCARD_S_SUCCESS: return SGP32_OK;
    case SCARD_E_NO_SERVICE:
    case SCARD_E_SERVICE_STOPPED:
    case SCARD_E_NO_READERS_AVAILABLE:
    case SCARD_E_UNKNOWN_READER: return SGP32_ERR_TRANSPORT_CONNECT;
    case SCARD_E_TIMEOUT: return SGP32_ERR_TRANSPORT_TIMEOUT;
    case SCARD_W_REMOVED_CARD:
    case SCARD_E_NO_SMARTCARD:
    case SCARD_W_UNPOWERED_CARD:
    case SCARD_W_RESET_CARD:
    case SCARD_E_READER_UNAVAILABLE: return SGP32_ERR_TRANSPORT_CLOSED;
    case SCARD_E_INSUFFICIENT_BUFFER: return SGP32_ERR_BUFFER_TOO_SMALL;
    case SCARD_E_NO_MEMORY: return SGP32_ERR_NO_MEMORY;
    default: return SGP32_ERR_TRANSPORT_DEVICE;
    }
}

static DWORD wanted_protocols(const pcsc_transport *p)
{
    switch (p->config.protocol) {
    case SGP32_APDU_PCSC_T0: return SCARD_PROTOCOL_T0;
    case SGP32_APDU_PCSC_T1: return SCARD_PROTOCOL_T1;
    default: return SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1;
    }
}

static int read_atr(pcsc_transport *p, sgp32_buf *atr)
{
    BYTE buf[MAX_ATR_SIZE];
    DWORD atr_len = sizeof(buf), state = 0, proto = 0;
    char name[512];
    DWORD name_len = sizeof(name);
    LONG rc = SCardStatus(p->card, name, &name_len, &state, &proto, buf, &atr_len);
    if (rc != SCARD_S_SUCCESS)
        return map_error(rc);
    return sgp32_transport_set_buf(atr, buf, atr_len);
}

/* One pass over the readers: connect to the first matching one with a card. */
static LONG try_connect(pcsc_transport *p)
{
    char readers[4096];
    DWORD size = sizeof(readers);
    LONG rc = SCardListReaders(p->context, NULL, readers, &size);
    if (rc != SCARD_S_SUCCESS)
        return rc;
    LONG last = SCARD_E_UNKNOWN_READER;
    for (const char *r = readers; *r; r += strlen(r) + 1) {
        if (p->reader_filter[0] && !strstr(r, p->reader_filter))
            continue;
        DWORD proto = 0, share = p->config.exclusive ? SCARD_SHARE_EXCLUSIVE : SCARD_SHARE_SHARED;
        rc = SCardConnect(p->context, r, share, wanted_protocols(p), &p->card, &proto);
        if (rc == SCARD_E_PROTO_MISMATCH) {
            /* The card is powered with the other protocol (a previous user asked for it): connect
             * with that one and reset the card into the protocol we want. */
            rc = SCardConnect(p->context, r, share, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &p->card, &proto);
            if (rc == SCARD_S_SUCCESS) {
                rc = SCardReconnect(p->card, share, wanted_protocols(p), SCARD_RESET_CARD, &proto);
                if (rc != SCARD_S_SUCCESS)
                    SCardDisconnect(p->card, SCARD_LEAVE_CARD);
            }
        }
        if (rc == SCARD_S_SUCCESS) {
            copy_text(p->reader, sizeof(p->reader), r);
            p->protocol = proto;
            return SCARD_S_SUCCESS;
        }
        if (last == SCARD_E_UNKNOWN_READER || rc != SCARD_E_NO_SMARTCARD)
            last = rc; /* the most telling error of the matching readers */
    }
    return last;
}

static int pcsc_open(sgp32_apdu_transport *t, sgp32_buf *atr)
{
    pcsc_transport *p = (pcsc_transport *)t;
    LONG rc = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &p->context);
    if (rc != SCARD_S_SUCCESS) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_TRANSPORT, NULL, "pcsc: no PC/SC service: %s",
                  pcsc_stringify_error(rc));
        return map_error(rc);
    }
    p->has_context = true;
    int64_t deadline = sgp32_transport_now_ms() + p->config.card_wait_ms;
    for (;;) {
        rc = try_connect(p);
        if (rc == SCARD_S_SUCCESS || sgp32_transport_now_ms() >= deadline)
            break;
        struct timespec pause = {.tv_nsec = 100 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    if (rc != SCARD_S_SUCCESS) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_TRANSPORT, NULL,
                  "pcsc: no reader matching \"%s\" with a card: %s", p->reader_filter,
                  pcsc_stringify_error(rc));
        SCardReleaseContext(p->context);
        p->has_context = false;
        return rc == SCARD_E_NO_SMARTCARD || rc == SCARD_W_REMOVED_CARD ? SGP32_ERR_TRANSPORT_DEVICE
                                                                        : map_error(rc);
    }
    sgp32_log(SGP32_LOG_INFO, SGP32_LOG_TRANSPORT, NULL, "pcsc: reader \"%s\", T=%d", p->reader,
              p->protocol == SCARD_PROTOCOL_T0 ? 0 : 1);
    int r = read_atr(p, atr);
    if (r) {
        SCardDisconnect(p->card, SCARD_LEAVE_CARD);
        SCardReleaseContext(p->context);
        p->has_context = false;
    }
    return r;
}

static int raw_transmit(pcsc_transport *p, const uint8_t *command, size_t len, sgp32_buf *response)
{
    DWORD n = sizeof(p->answer);
    const SCARD_IO_REQUEST *pci = p->protocol == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
    LONG rc = SCardTransmit(p->card, pci, command, (DWORD)len, NULL, p->answer, &n);
    if (rc != SCARD_S_SUCCESS) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_TRANSPORT, NULL, "pcsc: SCardTransmit: %s",
                  pcsc_stringify_error(rc));
        return map_error(rc);
    }
    return sgp32_transport_set_buf(response, p->answer, n);
}

/* Short APDU with Le (case 2 or 4)? */
static bool short_with_le(const uint8_t *c, size_t len)
{
    if (len == 5)
        return true;
    return len > 5 && c[4] != 0 && len == 6u + c[4];
}

static int pcsc_transmit(sgp32_apdu_transport *t, const uint8_t *command, size_t len, sgp32_buf *response)
{
    pcsc_transport *p = (pcsc_transport *)t;
    int rc = raw_transmit(p, command, len, response);
    if (rc || p->protocol != SCARD_PROTOCOL_T0 || p->config.t0_no_auto_get_response ||
        !short_with_le(command, len) || response->len != 2)
        return rc;
    uint8_t sw1 = response->data[0], sw2 = response->data[1];
    if (sw1 == 0x6C) { /* wrong Le: the card says how many */
        uint8_t again[5 + 255 + 1];
        memcpy(again, command, len);
        again[len - 1] = sw2;
        return raw_transmit(p, again, len, response);
    }
    if (sw1 == 0x61) {
        uint8_t cla = command[0];
        uint8_t gr_cla = (cla & 0x40) ? (uint8_t)(0x40 | (cla & 0x0F)) : (uint8_t)(cla & 0x03);
        uint8_t get_response[5] = {gr_cla, 0xC0, 0x00, 0x00, sw2};
        return raw_transmit(p, get_response, sizeof(get_response), response);
    }
    return rc;
}

static int pcsc_reset(sgp32_apdu_transport *t, sgp32_buf *atr)
{
    pcsc_transport *p = (pcsc_transport *)t;
    DWORD proto = 0;
    LONG rc = SCardReconnect(p->card, p->config.exclusive ? SCARD_SHARE_EXCLUSIVE : SCARD_SHARE_SHARED,
                             wanted_protocols(p), SCARD_RESET_CARD, &proto);
    if (rc != SCARD_S_SUCCESS) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_TRANSPORT, NULL, "pcsc: SCardReconnect: %s",
                  pcsc_stringify_error(rc));
        return map_error(rc);
    }
    p->protocol = proto;
    return read_atr(p, atr);
}

static void pcsc_close(sgp32_apdu_transport *t)
{
    pcsc_transport *p = (pcsc_transport *)t;
    SCardDisconnect(p->card, SCARD_LEAVE_CARD);
    if (p->has_context)
        SCardReleaseContext(p->context);
    p->has_context = false;
    p->reader[0] = '\0';
}

static void pcsc_destroy(sgp32_apdu_transport *t)
{
    sgp32_free(t, sizeof(pcsc_transport));
}

static const sgp32_apdu_transport_ops pcsc_ops = {
    .name = "pcsc",
    .open = pcsc_open,
    .transmit = pcsc_transmit,
    .reset = pcsc_reset,
    .close = pcsc_close,
    .destroy = pcsc_destroy,
};

int sgp32_apdu_pcsc_new(const sgp32_apdu_pcsc_config *config, sgp32_apdu_transport **out)
{
    if (!out)
        return SGP32_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (!config ||
        (config->reader && strlen(config->reader) >= sizeof(((pcsc_transport *)0)->reader_filter)) ||
        config->protocol < SGP32_APDU_PCSC_ANY || config->protocol > SGP32_APDU_PCSC_T1 ||
        config->card_wait_ms < 0)
        return SGP32_ERR_INVALID_ARGUMENT;
    pcsc_transport *p = sgp32_alloc(sizeof(*p));
    if (!p)
        return SGP32_ERR_NO_MEMORY;
    p->base.ops = &pcsc_ops;
    p->config = *config;
    if (config->reader)
        copy_text(p->reader_filter, sizeof(p->reader_filter), config->reader);
    p->config.reader = p->reader_filter;
    *out = &p->base;
    return SGP32_OK;
}

const char *sgp32_apdu_pcsc_reader(const sgp32_apdu_transport *t)
{
    if (!t || t->ops != &pcsc_ops || !t->is_open)
        return NULL;
    return ((const pcsc_transport *)t)->reader;
}

int sgp32_apdu_pcsc_protocol_in_use(const sgp32_apdu_transport *t)
{
    if (!t || t->ops != &pcsc_ops || !t->is_open)
        return -1;
    return ((const pcsc_transport *)t)->protocol == SCARD_PROTOCOL_T0 ? 0 : 1;
}

#else /* no pcsclite */

int sgp32_apdu_pcsc_new(const sgp32_apdu_pcsc_config *config, sgp32_apdu_transport **out)
{
    (void)config;
    if (out)
        *out = NULL;
    return SGP32_ERR_UNSUPPORTED;
}

const char *sgp32_apdu_pcsc_reader(const sgp32_apdu_transport *t)
{
    (void)t;
    return NULL;
}

int sgp32_apdu_pcsc_protocol_in_use(const sgp32_apdu_transport *t)
{
    (void)t;
    return -1;
}

#endif

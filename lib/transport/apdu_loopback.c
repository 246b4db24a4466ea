/*
 * APDU transport to an in-process card: a callback answers each command APDU (for example
 * sgp32_euicc_transmit of a software eUICC linked into the same program). Used by end-to-end
 * tests and the fleet simulator, where many IPA+eUICC pairs share one process and no sockets.
 */
#include <string.h>

#include "transport_internal.h"

typedef struct loopback_transport {
    sgp32_apdu_transport base;
    sgp32_apdu_loopback_transmit transmit;
    sgp32_apdu_loopback_reset reset;
    void *ctx;
    uint8_t atr[SGP32_APDU_ATR_MAX];
    size_t atr_len;
} loopback_transport;

static int loopback_open(sgp32_apdu_transport *t, sgp32_buf *atr)
{
    loopback_transport *l = (loopback_transport *)t;
    if (l->reset)
        l->reset(l->ctx); /* a freshly inserted card */
    return sgp32_transport_set_buf(atr, l->atr, l->atr_len);
}

static int loopback_transmit(sgp32_apdu_transport *t, const uint8_t *command, size_t len, sgp32_buf *response)
{
    loopback_transport *l = (loopback_transport *)t;
    return l->transmit(l->ctx, command, len, response);
}

static int loopback_reset(sgp32_apdu_transport *t, sgp32_buf *atr)
{
    loopback_transport *l = (loopback_transport *)t;
    if (!l->reset)
        return SGP32_ERR_UNSUPPORTED;
    l->reset(l->ctx);
    return sgp32_transport_set_buf(atr, l->atr, l->atr_len);
}

static void loopback_close(sgp32_apdu_transport *t)
{
    (void)t;
}

static void loopback_destroy(sgp32_apdu_transport *t)
{
    sgp32_free(t, sizeof(loopback_transport));
}

static const sgp32_apdu_transport_ops loopback_ops = {
    .name = "loopback",
    .open = loopback_open,
    .transmit = loopback_transmit,
    .reset = loopback_reset,
    .close = loopback_close,
    .destroy = loopback_destroy,
};

int sgp32_apdu_loopback_new(sgp32_apdu_loopback_transmit transmit, sgp32_apdu_loopback_reset reset, void *ctx,
                            sgp32_bytes atr, sgp32_apdu_transport **out)
{
    if (!out)
        return SGP32_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (!transmit || atr.len > SGP32_APDU_ATR_MAX || (atr.len && !atr.data))
        return SGP32_ERR_INVALID_ARGUMENT;
    loopback_transport *l = sgp32_alloc(sizeof(*l));
    if (!l)
        return SGP32_ERR_NO_MEMORY;
    l->base.ops = &loopback_ops;
    l->transmit = transmit;
    l->reset = reset;
    l->ctx = ctx;
    if (atr.len)
        memcpy(l->atr, atr.data, atr.len);
    l->atr_len = atr.len;
    *out = &l->base;
    return SGP32_OK;
}

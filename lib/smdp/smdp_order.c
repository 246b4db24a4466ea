/*
 * The download order's life (SGP.22 §3.1.1 ES2+ and §3.1.3 ES9+; NOTES §4.5): one table for the
 * whole SM-DP+, run by the project's FSM helper. Every allowed move is a row; anything else is
 * SGP32_ERR_STATE, which the ES2+/ES9+ functions turn into their spec status.
 */
#include "sgp32/fsm.h"
#include "sgp32/smdp_server.h"

static const char *const state_names[SGP32_ORDER_STATE_COUNT] = {
    "Available",  "Allocated", "Linked", "Confirmed",   "Released",
    "Downloaded", "Installed", "Error",  "Unavailable",
};

static const char *const event_names[SGP32_ORDER_EVENT_COUNT] = {
    "downloadOrder(eid)",
    "downloadOrder",
    "confirmOrder",
    "confirmOrder(release)",
    "releaseProfile",
    "bppBound",
    "installed",
    "failed",
    "retry",
    "cancelOrder(Available)",
    "cancelOrder(Unavailable)",
};

#define ROW(from, event, to)                                                                                 \
    {                                                                                                        \
        SGP32_ORDER_##from, SGP32_ORDER_EV_##event, SGP32_ORDER_##to, NULL                                   \
    }

static const sgp32_fsm_transition rows[] = {
    ROW(AVAILABLE, DOWNLOAD_ORDER_EID, LINKED),
    ROW(AVAILABLE, DOWNLOAD_ORDER, ALLOCATED),
    ROW(ALLOCATED, CONFIRM, CONFIRMED),
    ROW(ALLOCATED, CONFIRM_RELEASE, RELEASED),
    ROW(LINKED, CONFIRM, CONFIRMED),
    ROW(LINKED, CONFIRM_RELEASE, RELEASED),
    ROW(CONFIRMED, RELEASE, RELEASED),
    ROW(RELEASED, BPP_BOUND, DOWNLOADED),
    /* a new session rebinding for an order whose BPP was never installed (download retry) */
    ROW(DOWNLOADED, BPP_BOUND, DOWNLOADED),
    ROW(DOWNLOADED, INSTALLED, INSTALLED),
    ROW(DOWNLOADED, FAILED, ERROR),
    ROW(RELEASED, FAILED, ERROR),
    ROW(DOWNLOADED, RETRY, RELEASED),
    ROW(RELEASED, RETRY, RELEASED),
    ROW(ALLOCATED, CANCEL_AVAILABLE, AVAILABLE),
    ROW(LINKED, CANCEL_AVAILABLE, AVAILABLE),
    ROW(CONFIRMED, CANCEL_AVAILABLE, AVAILABLE),
    ROW(RELEASED, CANCEL_AVAILABLE, AVAILABLE),
    ROW(ERROR, CANCEL_AVAILABLE, AVAILABLE),
    ROW(ALLOCATED, CANCEL_UNAVAILABLE, UNAVAILABLE),
    ROW(LINKED, CANCEL_UNAVAILABLE, UNAVAILABLE),
    ROW(CONFIRMED, CANCEL_UNAVAILABLE, UNAVAILABLE),
    ROW(RELEASED, CANCEL_UNAVAILABLE, UNAVAILABLE),
    ROW(ERROR, CANCEL_UNAVAILABLE, UNAVAILABLE),
};

static const sgp32_fsm_def order_fsm = {
    "order", state_names,           SGP32_ORDER_STATE_COUNT, event_names, SGP32_ORDER_EVENT_COUNT,
    rows,    SGP32_ARRAY_LEN(rows),
};

const char *sgp32_smdp_order_state_name(sgp32_smdp_order_state state)
{
    return (unsigned)state < SGP32_ORDER_STATE_COUNT ? state_names[state] : "?";
}

int sgp32_smdp_order_step(sgp32_smdp_order *order, sgp32_smdp_order_event event)
{
    if (!order)
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_fsm fsm;
    sgp32_fsm_init(&fsm, &order_fsm, (int)order->state);
    int rc = sgp32_fsm_dispatch(&fsm, (int)event, NULL, NULL);
    if (!rc)
        order->state = (sgp32_smdp_order_state)fsm.state;
    return rc;
}

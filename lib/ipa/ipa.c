/*
 * The IPA engine (SGP.32 §3; NOTES §3.3): the public poll/step API of include/sgp32/ipa.h,
 * the job stack, and the MAIN scheduler FSM that decides which procedure runs next.
 *
 * How a step works: the host's event answers the action in progress; it becomes a card-layer
 * event (TRANSMIT_APDU, RESET_CARD) or a job event (everything else). Events are dispatched
 * until some action emits the next host action. Job actions never call each other: they emit
 * one host action or post one decision event, and ask for a child job or for their own end,
 * which the engine applies after the FSM move (so a job's table is the whole story of it).
 *
 * MAIN decides, in this order: boot (EID, eIM address, pending EPRs), a pushed package, a
 * connectivity loss (rollback when an enable with rollbackFlag is not yet reported, else
 * fallback), a rollback that is due, return from fallback, reporting pending results, the
 * eIM package retrieval loop; else IDLE. A failed procedure leads to a backoff WAIT whose
 * delay doubles (base .. max, half of it jitter from the host's random value) and is saved.
 */
#include "ipa_internal.h"

const char *const ipa_event_names[EV_COUNT] = {
    "START",
    "CARD_OK",
    "CARD_ERROR",
    "EIM_OK",
    "EIM_ERROR",
    "SAVED",
    "SAVE_ERROR",
    "TIMER",
    "CHILD_DONE",
    "CHILD_FAILED",
    "NEXT",
    "DONE",
    "SKIP",
    "FAIL",
    "RESET",
    "EUICC_PACKAGE",
    "DATA_REQUEST",
    "DOWNLOAD_TRIGGER",
    "ACKNOWLEDGEMENTS",
    "NO_PACKAGE",
    "REJECTED",
    "CANCEL",
    "PIR",
    "RUN_BOOT",
    "RUN_RECOVER",
    "RUN_RETRIEVE",
    "RUN_ROLLBACK",
    "RUN_FALLBACK",
    "RUN_RETURN",
    "RUN_PUSH",
    "BACKOFF",
    "IDLE",
};

/* Deferred job-stack changes requested by an action (applied after the FSM move). */
enum { FINISH_NONE = 0, FINISH_OK, FINISH_FAIL };

/* ------------------------------------------------------------------ helpers */

static size_t cap(size_t v, size_t dflt)
{
    return v ? v : dflt;
}

void ipa_emit(sgp32_ipa *ipa, sgp32_ipa_action_type type, sgp32_bytes data)
{
    memset(&ipa->out, 0, sizeof(ipa->out));
    ipa->out.type = type;
    ipa->out.data = data;
    ipa->has_out = true;
}

int ipa_emit_esipa(sgp32_ipa *ipa, sgp32_ipa_function function, bool expect_body)
{
    sgp32_buf_reset(&ipa->rx);
    ipa_emit(ipa,
             ipa->dl.direct && ipa->jobs[ipa->depth - 1].kind == JOB_DOWNLOAD ? SGP32_IPA_ACT_SEND_ES9PLUS
                                                                              : SGP32_IPA_ACT_SEND_ESIPA,
             sgp32_buf_bytes(&ipa->tx));
    ipa->out.function = function;
    ipa->out.expect_body = expect_body;
    ipa->out.address = ipa->out.type == SGP32_IPA_ACT_SEND_ES9PLUS ? ipa->dl.smdp_address : ipa->eim_address;
    IPA_LOG(ipa, SGP32_LOG_DEBUG, "%s %s (%zu bytes)",
            ipa->out.type == SGP32_IPA_ACT_SEND_ES9PLUS ? "ES9+" : "ESipa", sgp32_ipa_function_name(function),
            ipa->tx.len);
    return SGP32_OK;
}

int ipa_emit_save(sgp32_ipa *ipa)
{
    ipa->st.generation++;
    sgp32_buf *b = &ipa->blob;
    sgp32_buf_reset(b);
    int rc = ipa_state_encode(&ipa->st, b);
    if (rc)
        return rc;
    ipa_emit(ipa, SGP32_IPA_ACT_SAVE_STATE, sgp32_buf_bytes(b));
    return SGP32_OK;
}

static void post(sgp32_ipa *ipa, bool card, int event)
{
    if (ipa->post_count < IPA_POST_MAX) {
        ipa->post[ipa->post_count].card = card;
        ipa->post[ipa->post_count].event = (uint8_t)event;
        ipa->post_count++;
    }
}

void ipa_post(sgp32_ipa *ipa, int event)
{
    post(ipa, false, event);
}

void ipa_post_card(sgp32_ipa *ipa, int event)
{
    post(ipa, true, event);
}

int ipa_job_push(sgp32_ipa *ipa, ipa_job_kind kind)
{
    if (ipa->depth >= IPA_JOB_DEPTH)
        return SGP32_ERR_STATE;
    ipa->push_kind = (int)kind;
    return SGP32_OK;
}

int ipa_job_finish(sgp32_ipa *ipa, bool ok)
{
    ipa->finish = ok ? FINISH_OK : FINISH_FAIL;
    return SGP32_OK;
}

int ipa_job_fail_with(sgp32_ipa *ipa, int err)
{
    ipa->job_error = err;
    return ipa_job_finish(ipa, false);
}

const sgp32_fsm_def *ipa_job_def(ipa_job_kind kind)
{
    static const sgp32_fsm_def *const defs[JOB_KIND_COUNT] = {
        &ipa_main_fsm,     &ipa_boot_fsm,     &ipa_recover_fsm, &ipa_retrieve_fsm,
        &ipa_execute_fsm,  &ipa_provide_fsm,  &ipa_notify_fsm,  &ipa_download_fsm,
        &ipa_rollback_fsm, &ipa_fallback_fsm, &ipa_push_fsm,
    };
    return defs[kind];
}

static void apply_stack_changes(sgp32_ipa *ipa)
{
    if (ipa->finish != FINISH_NONE) {
        bool ok = ipa->finish == FINISH_OK;
        ipa->finish = FINISH_NONE;
        if (ipa->depth > 1) {
            ipa->depth--;
            ipa_post(ipa, ok ? EV_CHILD_DONE : EV_CHILD_FAILED);
        }
    }
    if (ipa->push_kind >= 0) {
        ipa_job *j = &ipa->jobs[ipa->depth++];
        j->kind = (uint8_t)ipa->push_kind;
        sgp32_fsm_init(&j->fsm, ipa_job_def((ipa_job_kind)ipa->push_kind), 0);
        ipa->push_kind = -1;
        ipa_post(ipa, EV_START);
    }
}

static void trace(sgp32_ipa *ipa, const sgp32_fsm *fsm, int from, int event, int to)
{
    if (ipa->config.trace)
        ipa->config.trace(ipa->config.trace_ctx, fsm->def->name, sgp32_fsm_state_name(fsm, from),
                          sgp32_fsm_event_name(fsm, event), sgp32_fsm_state_name(fsm, to));
}

static void dispatch_job(sgp32_ipa *ipa, int event)
{
    ipa_job *j = &ipa->jobs[ipa->depth - 1];
    int from = j->fsm.state;
    int rc = sgp32_fsm_dispatch(&j->fsm, event, ipa, NULL);
    if (rc == SGP32_OK) {
        trace(ipa, &j->fsm, from, event, j->fsm.state);
    } else {
        if (rc == SGP32_ERR_STATE)
            IPA_LOG(ipa,
                    event == EV_CARD_ERROR || event == EV_EIM_ERROR || event == EV_CHILD_FAILED ||
                            event == EV_SAVE_ERROR
                        ? SGP32_LOG_INFO
                        : SGP32_LOG_WARN,
                    "%s: %s in %s ends the procedure", j->fsm.def->name, ipa_event_names[event],
                    sgp32_fsm_state_name(&j->fsm, from));
        else
            IPA_LOG(ipa, SGP32_LOG_WARN, "%s: %s in %s failed: %s", j->fsm.def->name, ipa_event_names[event],
                    sgp32_fsm_state_name(&j->fsm, from), sgp32_err_str(rc));
        if (ipa->config.trace)
            ipa->config.trace(ipa->config.trace_ctx, j->fsm.def->name, sgp32_fsm_state_name(&j->fsm, from),
                              ipa_event_names[event], "(failed)");
        ipa->has_out = false;
        ipa->push_kind = -1;
        if (ipa->depth > 1) {
            if (rc != SGP32_ERR_STATE)
                ipa->job_error = rc; /* the action failed */
            else if (event == EV_EIM_ERROR || event == EV_CARD_ERROR)
                ipa->job_error = SGP32_ERR_IO;
            else if (event != EV_CHILD_FAILED || !ipa->job_error)
                ipa->job_error = rc; /* a child's failure keeps its reason */
            ipa->finish = FINISH_FAIL;
        }
    }
    apply_stack_changes(ipa);
}

void ipa_card_trace(sgp32_ipa *ipa, int from, int event, int to);
void ipa_card_trace(sgp32_ipa *ipa, int from, int event, int to)
{
    trace(ipa, &ipa->card.fsm, from, event, to);
}

/* ------------------------------------------------------------------ MAIN */

enum { M_IDLE, M_RUNNING, M_BACKOFF_SAVE, M_WAIT, M_STATE_COUNT };
static const char *const main_states[M_STATE_COUNT] = {"IDLE", "RUNNING", "BACKOFF_SAVE", "WAIT"};

static bool need_identity(const sgp32_ipa *ipa)
{
    return !ipa->have_eid || !ipa->have_eim_address;
}

static int main_schedule(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    const ipa_persist *st = &ipa->st;
    uint8_t rollback_after = ipa->config.rollback_after ? ipa->config.rollback_after : 2;
    bool any = ipa->want_boot || ipa->want_poll || ipa->want_fallback || ipa->want_return || ipa->want_push ||
               st->result_pending || st->download_pending;
    if (any && (ipa->want_boot || need_identity(ipa))) {
        ipa_post(ipa, EV_RUN_BOOT);
    } else if (ipa->want_push) {
        ipa_post(ipa, EV_RUN_PUSH);
    } else if (ipa->want_fallback && st->result_pending && st->rollback_armed) {
        ipa->want_fallback = false;
        ipa_post(ipa, EV_RUN_ROLLBACK);
    } else if (ipa->want_fallback && ipa->config.fallback && !st->in_fallback) {
        ipa_post(ipa, EV_RUN_FALLBACK);
    } else if (st->result_pending && st->rollback_armed && st->report_failures >= rollback_after) {
        ipa_post(ipa, EV_RUN_ROLLBACK);
    } else if (ipa->want_return && st->in_fallback) {
        ipa_post(ipa, EV_RUN_RETURN);
    } else if (st->result_pending || st->download_pending) {
        ipa_post(ipa, EV_RUN_RECOVER);
    } else if (ipa->want_poll) {
        ipa_post(ipa, EV_RUN_RETRIEVE);
    } else {
        ipa->want_fallback = false;
        ipa->want_return = false;
        ipa_post(ipa, EV_IDLE);
    }
    return SGP32_OK;
}

static int main_run(void *ctx, int event, void *arg)
{
    (void)arg;
    sgp32_ipa *ipa = ctx;
    ipa_job_kind kind;
    ipa->fallback_return = false;
    switch (event) {
    case EV_RUN_BOOT: kind = JOB_BOOT; break;
    case EV_RUN_PUSH: kind = JOB_PUSH; break;
    case EV_RUN_ROLLBACK: kind = JOB_ROLLBACK; break;
    case EV_RUN_FALLBACK: kind = JOB_FALLBACK; break;
    case EV_RUN_RETURN:
        kind = JOB_FALLBACK;
        ipa->fallback_return = true;
        break;
    case EV_RUN_RECOVER: kind = JOB_RECOVER; break;
    default: kind = JOB_RETRIEVE; break;
    }
    ipa->running = (uint8_t)kind;
    ipa->job_error = SGP32_OK;
    return ipa_job_push(ipa, kind);
}

static int main_idle(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    ipa_emit(ipa, SGP32_IPA_ACT_IDLE, (sgp32_bytes){NULL, 0});
    ipa->out.until = ipa->config.poll_interval_s ? ipa->now + ipa->config.poll_interval_s : 0;
    return SGP32_OK;
}

static int main_child_done(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    switch (ipa->running) {
    case JOB_BOOT:
        ipa->want_boot = false;
        ipa->want_poll = true;
        break;
    case JOB_RETRIEVE: ipa->want_poll = false; break;
    case JOB_FALLBACK:
        if (ipa->fallback_return)
            ipa->want_return = false;
        else
            ipa->want_fallback = false;
        ipa->want_poll = true;
        break;
    case JOB_ROLLBACK: ipa->want_poll = true; break;
    case JOB_PUSH: ipa->want_push = false; break;
    default: break;
    }
    /* Backoff counts failures to reach the eIM: a boot (card only) neither proves it reachable
     * nor may restart the count, or a device that reboots often would never back off. */
    if (ipa->running != JOB_BOOT) {
        ipa->st.failures = 0;
        ipa->st.next_attempt = 0;
    }
    return main_schedule(ctx, event, arg);
}

static int main_child_failed(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    ipa_persist *st = &ipa->st;
    uint8_t rollback_after = ipa->config.rollback_after ? ipa->config.rollback_after : 2;
    ipa->stats.failures++;
    ipa->stats.last_error = ipa->job_error ? ipa->job_error : SGP32_ERR_IO;
    IPA_LOG(ipa, SGP32_LOG_INFO, "procedure %u failed: %s", ipa->running,
            sgp32_err_str(ipa->stats.last_error));
    if (ipa->running == JOB_PUSH)
        ipa->want_push = false; /* a push is not repeated: the eIM pushes again or we pull */
    if (ipa->running == JOB_ROLLBACK)
        st->rollback_armed = false; /* once */
    if (ipa->running == JOB_FALLBACK) {
        if (ipa->fallback_return)
            ipa->want_return = false;
        else
            ipa->want_fallback = false;
    }
    st->failures++;
    if (st->result_pending)
        st->report_failures++;
    if (st->result_pending && st->rollback_armed && st->report_failures >= rollback_after)
        ipa_post(ipa, EV_RUN_ROLLBACK);
    else
        ipa_post(ipa, EV_BACKOFF);
    return SGP32_OK;
}

static int main_backoff(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    uint32_t base = ipa->config.backoff_base_s ? ipa->config.backoff_base_s : 30;
    uint32_t max = ipa->config.backoff_max_s ? ipa->config.backoff_max_s : 3600;
    uint32_t shift = ipa->st.failures ? ipa->st.failures - 1 : 0;
    uint64_t delay = base;
    while (shift-- && delay < max)
        delay <<= 1;
    if (delay > max)
        delay = max;
    /* half fixed, half jitter: two IPAs that failed together do not retry together */
    uint64_t half = delay / 2;
    delay = delay - half + (half ? ipa->random % (half + 1) : 0);
    ipa->st.next_attempt = ipa->now + (int64_t)delay;
    return ipa_emit_save(ipa);
}

static int main_wait(void *ctx, int event, void *arg)
{
    (void)event;
    (void)arg;
    sgp32_ipa *ipa = ctx;
    ipa_emit(ipa, SGP32_IPA_ACT_WAIT, (sgp32_bytes){NULL, 0});
    ipa->out.until = ipa->st.next_attempt;
    return SGP32_OK;
}

static const sgp32_fsm_transition main_rows[] = {
    {M_IDLE, EV_START, M_IDLE, main_schedule},
    {M_IDLE, EV_RUN_BOOT, M_RUNNING, main_run},
    {M_IDLE, EV_RUN_PUSH, M_RUNNING, main_run},
    {M_IDLE, EV_RUN_ROLLBACK, M_RUNNING, main_run},
    {M_IDLE, EV_RUN_FALLBACK, M_RUNNING, main_run},
    {M_IDLE, EV_RUN_RETURN, M_RUNNING, main_run},
    {M_IDLE, EV_RUN_RECOVER, M_RUNNING, main_run},
    {M_IDLE, EV_RUN_RETRIEVE, M_RUNNING, main_run},
    {M_IDLE, EV_IDLE, M_IDLE, main_idle},
    {M_IDLE, EV_BACKOFF, M_BACKOFF_SAVE, main_backoff},
    {M_RUNNING, EV_CHILD_DONE, M_IDLE, main_child_done},
    {M_RUNNING, EV_CHILD_FAILED, M_IDLE, main_child_failed},
    {M_BACKOFF_SAVE, EV_SAVED, M_WAIT, main_wait},
    {M_BACKOFF_SAVE, EV_SAVE_ERROR, M_WAIT, main_wait},
    {M_WAIT, EV_TIMER, M_IDLE, main_schedule},
    {M_WAIT, EV_START, M_IDLE, main_schedule},
};

const sgp32_fsm_def ipa_main_fsm = {
    "ipa", main_states, M_STATE_COUNT, ipa_event_names, EV_COUNT, main_rows, SGP32_ARRAY_LEN(main_rows),
};

/* ------------------------------------------------------------------ API */

int sgp32_ipa_init(sgp32_ipa **out, const sgp32_ipa_config *config)
{
    if (!out || !config)
        return SGP32_ERR_INVALID_ARGUMENT;
    if (config->channel < SGP32_IPA_CHANNEL_CARD_ASSIGNED || config->channel > 19)
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_ipa *ipa = sgp32_alloc(sizeof(*ipa));
    if (!ipa)
        return SGP32_ERR_NO_MEMORY;
    ipa->config = *config;
    if (!ipa->config.ipa_protocols)
        ipa->config.ipa_protocols = SGP32_IPA_PROTOCOL_RETRIEVE_HTTPS;
    ipa->log.component = "ipa";
    size_t message_max = cap(config->message_max, 8192);
    size_t segment_max = cap(config->segment_max, 2048);
    sgp32_buf_init(&ipa->tx, message_max);
    sgp32_buf_init(&ipa->rx, message_max);
    sgp32_buf_init(&ipa->es10_req, message_max);
    sgp32_buf_init(&ipa->es10_rsp, message_max);
    sgp32_buf_init(&ipa->pkg, message_max);
    sgp32_buf_init(&ipa->work, message_max);
    sgp32_buf_init(&ipa->seg, segment_max);
    sgp32_buf_init_fixed(&ipa->blob, ipa->blob_storage, sizeof(ipa->blob_storage));
    if (config->eim_address) {
        size_t n = strlen(config->eim_address);
        if (n == 0 || n > IPA_ADDRESS_MAX) {
            sgp32_free(ipa, sizeof(*ipa));
            return SGP32_ERR_INVALID_ARGUMENT;
        }
        memcpy(ipa->eim_address, config->eim_address, n + 1);
        ipa->have_eim_address = true;
    }
    ipa->st.pending_seq = -1;
    ipa->push_kind = -1;
    ipa->depth = 1;
    ipa->jobs[0].kind = JOB_MAIN;
    sgp32_fsm_init(&ipa->jobs[0].fsm, &ipa_main_fsm, M_IDLE);
    ipa->expect = SGP32_IPA_ACT_IDLE;
    ipa_card_init(ipa);
    *out = ipa;
    return SGP32_OK;
}

static void free_buffers(sgp32_ipa *ipa)
{
    sgp32_buf *bufs[] = {&ipa->tx,  &ipa->rx,   &ipa->es10_req, &ipa->es10_rsp,
                         &ipa->pkg, &ipa->work, &ipa->seg};
    for (size_t i = 0; i < SGP32_ARRAY_LEN(bufs); i++) {
        size_t max = bufs[i]->max;
        sgp32_buf_free(bufs[i]);
        sgp32_buf_init(bufs[i], max);
    }
}

void sgp32_ipa_free(sgp32_ipa *ipa)
{
    if (!ipa)
        return;
    free_buffers(ipa);
    sgp32_free(ipa, sizeof(*ipa));
}

int sgp32_ipa_load_state(sgp32_ipa *ipa, const uint8_t *blob, size_t len)
{
    if (!ipa || (!blob && len))
        return SGP32_ERR_INVALID_ARGUMENT;
    ipa_persist st;
    int rc = ipa_state_decode(blob, len, &st);
    if (rc)
        return rc;
    ipa->st = st;
    return SGP32_OK;
}

static bool busy(const sgp32_ipa *ipa)
{
    return ipa->depth > 1;
}

int sgp32_ipa_start_boot(sgp32_ipa *ipa)
{
    ipa->want_boot = true;
    return SGP32_OK;
}

int sgp32_ipa_start_poll(sgp32_ipa *ipa)
{
    ipa->want_poll = true;
    return SGP32_OK;
}

int sgp32_ipa_start_push(sgp32_ipa *ipa, const uint8_t *body, size_t len)
{
    if (!body || !len)
        return SGP32_ERR_INVALID_ARGUMENT;
    if (busy(ipa) || ipa->want_push)
        return SGP32_ERR_STATE;
    sgp32_buf_reset(&ipa->pkg);
    int rc = sgp32_buf_append(&ipa->pkg, body, len);
    if (rc)
        return rc;
    ipa->want_push = true;
    return SGP32_OK;
}

int sgp32_ipa_start_connectivity_lost(sgp32_ipa *ipa)
{
    ipa->want_fallback = true;
    return SGP32_OK;
}

int sgp32_ipa_start_connectivity_restored(sgp32_ipa *ipa)
{
    /* Retry what waits (results, the poll) now rather than after the backoff: MAIN reports
     * pending results before it polls. */
    ipa->want_poll = true;
    return SGP32_OK;
}

int sgp32_ipa_start_return_from_fallback(sgp32_ipa *ipa)
{
    ipa->want_return = true;
    return SGP32_OK;
}

void sgp32_ipa_set_rplmn(sgp32_ipa *ipa, const uint8_t *plmn)
{
    ipa->has_rplmn = plmn != NULL;
    if (plmn)
        memcpy(ipa->rplmn, plmn, 3);
}

const sgp32_ipa_stats *sgp32_ipa_get_stats(const sgp32_ipa *ipa)
{
    return &ipa->stats;
}

const uint8_t *sgp32_ipa_eid(const sgp32_ipa *ipa)
{
    return ipa->have_eid ? ipa->eid : NULL;
}

/* The host's event -> a card or job event. */
static int route(sgp32_ipa *ipa, const sgp32_ipa_event *in)
{
    switch (ipa->expect) {
    case SGP32_IPA_ACT_TRANSMIT_APDU:
    case SGP32_IPA_ACT_RESET_CARD: return ipa_card_on_event(ipa, in);
    case SGP32_IPA_ACT_SEND_ESIPA:
    case SGP32_IPA_ACT_SEND_ES9PLUS:
    case SGP32_IPA_ACT_RECEIVE_MORE:
        if (in->type == SGP32_IPA_EV_TRANSPORT_ERROR) {
            IPA_LOG(ipa, SGP32_LOG_INFO, "transport error %d", in->status);
            ipa->bpp.active = false;
            ipa_post(ipa, EV_EIM_ERROR);
            return SGP32_OK;
        }
        if (in->type != SGP32_IPA_EV_RESPONSE)
            return SGP32_ERR_STATE;
        if (ipa->bpp.active) {
            ipa_bpp_feed(ipa, in->data, !in->more);
            ipa_post(ipa, EV_EIM_OK);
            return SGP32_OK;
        }
        if (sgp32_buf_append(&ipa->rx, in->data.data, in->data.len) != SGP32_OK) {
            IPA_LOG(ipa, SGP32_LOG_WARN, "response larger than %zu bytes", ipa->rx.max);
            ipa_post(ipa, EV_EIM_ERROR);
            return SGP32_OK;
        }
        if (in->more)
            ipa_emit(ipa, SGP32_IPA_ACT_RECEIVE_MORE, (sgp32_bytes){NULL, 0});
        else
            ipa_post(ipa, EV_EIM_OK);
        return SGP32_OK;
    case SGP32_IPA_ACT_PUSH_RESPONSE:
        if (in->type == SGP32_IPA_EV_NONE)
            ipa_post(ipa, EV_EIM_OK);
        else if (in->type == SGP32_IPA_EV_TRANSPORT_ERROR)
            ipa_post(ipa, EV_EIM_ERROR);
        else
            return SGP32_ERR_STATE;
        return SGP32_OK;
    case SGP32_IPA_ACT_SAVE_STATE:
        if (in->type == SGP32_IPA_EV_STATE_SAVED)
            ipa_post(ipa, EV_SAVED);
        else if (in->type == SGP32_IPA_EV_STATE_SAVE_FAILED)
            ipa_post(ipa, EV_SAVE_ERROR);
        else
            return SGP32_ERR_STATE;
        return SGP32_OK;
    case SGP32_IPA_ACT_WAIT:
        if (in->type == SGP32_IPA_EV_TIMER)
            ipa_post(ipa, EV_TIMER);
        else if (in->type == SGP32_IPA_EV_NONE)
            ipa_post(ipa, EV_START);
        else
            return SGP32_ERR_STATE;
        return SGP32_OK;
    case SGP32_IPA_ACT_IDLE:
        if (in->type != SGP32_IPA_EV_NONE && in->type != SGP32_IPA_EV_TIMER)
            return SGP32_ERR_STATE;
        ipa_post(ipa, EV_START);
        return SGP32_OK;
    }
    return SGP32_ERR_STATE;
}

int sgp32_ipa_step(sgp32_ipa *ipa, const sgp32_ipa_event *in, sgp32_ipa_action *out)
{
    if (!ipa || !in || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    ipa->now = in->now;
    ipa->random = in->random;
    ipa->has_out = false;
    ipa->post_count = 0;
    int rc = route(ipa, in);
    if (rc)
        return rc;
    /* Run posted events until one of them produces a host action. */
    for (unsigned guard = 0; !ipa->has_out && ipa->post_count && guard < 10000; guard++) {
        bool card = ipa->post[0].card;
        int event = ipa->post[0].event;
        memmove(ipa->post, ipa->post + 1, (ipa->post_count - 1) * sizeof(ipa->post[0]));
        ipa->post_count--;
        if (card)
            ipa_card_dispatch(ipa, event);
        else
            dispatch_job(ipa, event);
    }
    if (!ipa->has_out) {
        /* Nothing asked for the host: the scheduler's IDLE. */
        ipa_emit(ipa, SGP32_IPA_ACT_IDLE, (sgp32_bytes){NULL, 0});
    }
    ipa->expect = ipa->out.type;
    *out = ipa->out;
    return SGP32_OK;
}

const char *sgp32_ipa_function_name(sgp32_ipa_function function)
{
    static const char *const names[] = {
        "none",
        "InitiateAuthentication",
        "AuthenticateClient",
        "GetBoundProfilePackage",
        "CancelSession",
        "HandleNotification",
        "TransferEimPackage",
        "GetEimPackage",
        "ProvideEimPackageResult",
    };
    return (size_t)function < SGP32_ARRAY_LEN(names) ? names[function] : "?";
}

const char *sgp32_ipa_action_name(sgp32_ipa_action_type type)
{
    static const char *const names[] = {
        "IDLE",         "TRANSMIT_APDU", "RESET_CARD", "SEND_ESIPA", "SEND_ES9PLUS",
        "RECEIVE_MORE", "PUSH_RESPONSE", "SAVE_STATE", "WAIT",
    };
    return (size_t)type < SGP32_ARRAY_LEN(names) ? names[type] : "?";
}

int sgp32_ipa_capabilities_encode(uint32_t features, uint32_t protocols, sgp32_buf *out)
{
    size_t mark = sgp32_asn1_begin(out);
    int rc = sgp32_asn1_write_named_bits(out, 0x80, features);
    if (!rc)
        rc = sgp32_asn1_write_named_bits(out, 0x81, protocols);
    return rc ? rc : sgp32_asn1_end(out, 0x30, mark);
}

/* The table-driven state machine helper (include/sgp32/fsm.h). */
#include "sgp32/fsm.h"

void sgp32_fsm_init(sgp32_fsm *fsm, const sgp32_fsm_def *def, int initial_state)
{
    fsm->def = def;
    fsm->state = initial_state;
}

static const sgp32_fsm_transition *find_row(const sgp32_fsm *fsm, int event)
{
    for (size_t i = 0; i < fsm->def->transition_count; i++) {
        const sgp32_fsm_transition *t = &fsm->def->transitions[i];
        if (t->state == fsm->state && t->event == event)
            return t;
    }
    return NULL;
}

bool sgp32_fsm_allows(const sgp32_fsm *fsm, int event)
{
    return find_row(fsm, event) != NULL;
}

int sgp32_fsm_dispatch(sgp32_fsm *fsm, int event, void *ctx, void *arg)
{
    const sgp32_fsm_transition *t = find_row(fsm, event);
    if (!t)
        return SGP32_ERR_STATE;
    if (t->action) {
        int rc = t->action(ctx, event, arg);
        if (rc < 0)
            return rc;
    }
    fsm->state = t->next;
    return SGP32_OK;
}

const char *sgp32_fsm_state_name(const sgp32_fsm *fsm, int state)
{
    if (state >= 0 && (size_t)state < fsm->def->state_count && fsm->def->state_names)
        return fsm->def->state_names[state];
    return "?";
}

const char *sgp32_fsm_event_name(const sgp32_fsm *fsm, int event)
{
    if (event >= 0 && (size_t)event < fsm->def->event_count && fsm->def->event_names)
        return fsm->def->event_names[event];
    return "?";
}

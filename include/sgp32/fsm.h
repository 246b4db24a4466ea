/*
 * A small table-driven state machine (design principle 3).
 *
 * A procedure is a const table of (state, event) -> (next state, action).
 * Dispatching an event that has no row is an error (SGP32_ERR_STATE), so
 * every allowed move is written down and everything else is refused.
 */
#ifndef SGP32_FSM_H
#define SGP32_FSM_H

#include "sgp32/core.h"

/* An action runs before the move; a negative return cancels the move. */
typedef int (*sgp32_fsm_action)(void *ctx, int event, void *arg);

typedef struct sgp32_fsm_transition {
    int state;
    int event;
    int next;
    sgp32_fsm_action action; /* may be NULL */
} sgp32_fsm_transition;

typedef struct sgp32_fsm_def {
    const char *name;
    const char *const *state_names; /* indexed by state */
    size_t state_count;
    const char *const *event_names; /* indexed by event */
    size_t event_count;
    const sgp32_fsm_transition *transitions;
    size_t transition_count;
} sgp32_fsm_def;

typedef struct sgp32_fsm {
    const sgp32_fsm_def *def;
    int state;
} sgp32_fsm;

void sgp32_fsm_init(sgp32_fsm *fsm, const sgp32_fsm_def *def, int initial_state);
/* Run the row for (current state, event): its action, then the move. */
int sgp32_fsm_dispatch(sgp32_fsm *fsm, int event, void *ctx, void *arg);
bool sgp32_fsm_allows(const sgp32_fsm *fsm, int event);
const char *sgp32_fsm_state_name(const sgp32_fsm *fsm, int state);
const char *sgp32_fsm_event_name(const sgp32_fsm *fsm, int event);

#endif

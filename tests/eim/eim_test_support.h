/*
 * Test support for the eIM core (tests/eim): an eIM server on an in-memory SQLite store with the
 * SGP.26 NIST CI trusted and a fixed clock, eUICC registration, queueing operations in the REST
 * grammar, and reading operations and audit events back.
 */
#ifndef SGP32_TEST_EIM_SUPPORT_H
#define SGP32_TEST_EIM_SUPPORT_H

#include "sgp32/eim_server.h"

/* Inside the SGP.26 certificates' validity. */
int64_t eim_test_now(void);

typedef struct eim_test_server {
    sgp32_eim_sqlite *db;
    sgp32_ci_set cis;
    sgp32_buf ci;
    sgp32_eim_server srv;
} eim_test_server;

/* config: what the test sets (eim_id, signing_key, es9_call, push_https, ...); the store, the
 * trusted CIs and the clock are filled in when the test left them empty. */
void eim_test_server_open(eim_test_server *s, const sgp32_eim_server_config *config);
void eim_test_server_close(eim_test_server *s);

/* Register eid with an association token (has_token), with the SGP.26 NIST certificates when
 * certificates, and a push address (NULL: none). */
void eim_test_register(const sgp32_eim_server *srv, const char *eid, bool has_token, int64_t token,
                       bool certificates, const char *push_address);

/* Queue one operation (the REST grammar) for eid; returns its id. */
int64_t eim_test_queue(const sgp32_eim_server *srv, const char *eid, const char *json);

typedef struct eim_test_op {
    sgp32_eim_op_state state;
    int delivery_count;
    int64_t counter;
    bool awaiting_result;
    char json[4096];
    size_t result_len;
} eim_test_op;

eim_test_op eim_test_get_op(const sgp32_eim_server *srv, int64_t id);
/* Fails the test unless the operation is in state want and its result JSON holds expect (if any). */
void eim_test_assert_op(const sgp32_eim_server *srv, int64_t id, sgp32_eim_op_state want, const char *expect);
/* Audit events with this action. */
size_t eim_test_count_events(const sgp32_eim_server *srv, const char *action);

#endif

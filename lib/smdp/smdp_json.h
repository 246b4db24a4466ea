/* JSON helpers shared by es9_json.c and es2_json.c (jansson); not installed. */
#ifndef SGP32_SMDP_JSON_H
#define SGP32_SMDP_JSON_H

#include <jansson.h>
#include <stdlib.h>

#include "sgp32/smdp_server.h"

/* The body as a JSON object, or NULL with the status set (1.6/2.1). */
json_t *smdp_json_parse(const char *body, size_t len, sgp32_smdp_status *status);
/* Whether every key of object is in known (NULL-terminated); else the status (1.6/2.1). */
bool smdp_json_known_fields(json_t *object, const char *const *known, sgp32_smdp_status *status);
/* A string field of at most max bytes into out (max+1); 0 ok, -1 with the status set. */
int smdp_json_string(json_t *object, const char *name, bool mandatory, size_t max, char *out, bool *present,
                     sgp32_smdp_status *status);
/* A mandatory base64 field decoded into out (out's cap bounds it). */
int smdp_json_base64(json_t *object, const char *name, sgp32_buf *out, sgp32_smdp_status *status);
/* The request header object (SGP.22 §6.5.1.3). */
int smdp_json_request_header(json_t *root, bool mandatory, char *requester, size_t requester_size, char *call,
                             size_t call_size, sgp32_smdp_status *status);
/* {"header":{"functionExecutionStatus":{...}}} */
json_t *smdp_json_response(const sgp32_smdp_status *status);
void smdp_json_set_base64(json_t *object, const char *name, const sgp32_buf *data);
/* Serialise root (consumed) and append it to body. */
int smdp_json_finish(json_t *root, sgp32_buf *body);

#endif

/* The eUICC's NVM in memory: for tests and for fleets of simulated cards in one process. */
#include <string.h>

#include "euicc_internal.h"

enum { MEMORY_STORE_OBJECTS = EUICC_MAX_PROFILES + 2, OBJECT_NAME_MAX = 40 };

struct sgp32_euicc_memory_store {
    struct {
        char name[OBJECT_NAME_MAX];
        sgp32_buf data;
    } objects[MEMORY_STORE_OBJECTS];
};

static int find(sgp32_euicc_memory_store *ms, const char *name)
{
    for (int i = 0; i < MEMORY_STORE_OBJECTS; i++)
        if (strcmp(ms->objects[i].name, name) == 0)
            return i;
    return -1;
}

static int memory_load(void *ctx, const char *name, sgp32_buf *out)
{
    sgp32_euicc_memory_store *ms = ctx;
    int i = find(ms, name);
    if (i < 0)
        return SGP32_ERR_NOT_FOUND;
    return sgp32_buf_append(out, ms->objects[i].data.data, ms->objects[i].data.len);
}

static int memory_save(void *ctx, const char *name, const uint8_t *data, size_t len)
{
    sgp32_euicc_memory_store *ms = ctx;
    if (strlen(name) >= OBJECT_NAME_MAX)
        return SGP32_ERR_INVALID_ARGUMENT;
    int i = find(ms, name);
    if (i < 0)
        i = find(ms, "");
    if (i < 0)
        return SGP32_ERR_CAPACITY;
    /* Build the new value aside, then swap: a failed save leaves the old one. */
    sgp32_buf fresh;
    sgp32_buf_init(&fresh, 4u << 20);
    int rc = sgp32_buf_append(&fresh, data, len);
    if (rc) {
        sgp32_buf_free(&fresh);
        return rc;
    }
    sgp32_buf_free(&ms->objects[i].data);
    ms->objects[i].data = fresh;
    strcpy(ms->objects[i].name, name);
    return SGP32_OK;
}

static int memory_remove(void *ctx, const char *name)
{
    sgp32_euicc_memory_store *ms = ctx;
    int i = find(ms, name);
    if (i < 0 || !name[0])
        return SGP32_ERR_NOT_FOUND;
    sgp32_buf_free(&ms->objects[i].data);
    ms->objects[i].name[0] = '\0';
    return SGP32_OK;
}

int sgp32_euicc_memory_store_new(sgp32_euicc_memory_store **out, sgp32_euicc_store *store)
{
    sgp32_euicc_memory_store *ms = sgp32_alloc(sizeof(*ms));
    if (!ms)
        return SGP32_ERR_NO_MEMORY;
    *out = ms;
    *store = (sgp32_euicc_store){memory_load, memory_save, memory_remove, ms};
    return SGP32_OK;
}

void sgp32_euicc_memory_store_free(sgp32_euicc_memory_store *ms)
{
    if (!ms)
        return;
    for (int i = 0; i < MEMORY_STORE_OBJECTS; i++)
        sgp32_buf_free(&ms->objects[i].data);
    sgp32_free(ms, sizeof(*ms));
}

/*
 * ES10c.SetNickname (SGP.22 §5.7.21): BF29 { 5A iccid, 90 profileNickname } ->
 * BF29 { 80 setNicknameResult }: ok 0, iccidNotFound 1, undefinedError 127.
 *
 * Why it is allowed on an IoT card: the nickname is a local label with no effect on profile
 * state, policy or the eIM, so SGP.32 leaves it to the device. An empty nickname removes it. The
 * card keeps up to 64 bytes (the schema bounds characters: a 64-character nickname with multi-byte
 * UTF-8 does not fit and is answered undefinedError). Written to the NVM before the answer.
 */
#include <string.h>

#include "euicc_local.h"

int es10c_set_nickname(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, EUICC_LOCAL_ARENA);
    sgp32_set_nickname_request req = {0};
    int rc = euicc_decode(euicc, &sgp32_type_set_nickname_request, request, len, &arena, &req);
    sgp32_arena_free(&arena);
    if (rc)
        return rc;

    euicc_profile *profile = req.iccid.len == 10 ? euicc_find_profile_by_iccid(euicc, req.iccid.data) : NULL;
    int64_t result = SGP32_SET_NICKNAME_RESPONSE_SET_NICKNAME_RESULT_OK;
    euicc_change change;
    if (!profile)
        result = SGP32_SET_NICKNAME_RESPONSE_SET_NICKNAME_RESULT_ICCID_NOT_FOUND;
    else if (req.profile_nickname.len >= sizeof(profile->nickname) ||
             memchr(req.profile_nickname.data, 0, req.profile_nickname.len))
        result = SGP32_SET_NICKNAME_RESPONSE_SET_NICKNAME_RESULT_UNDEFINED_ERROR;
    else if (euicc_change_begin(euicc, &change) != SGP32_OK)
        result = SGP32_SET_NICKNAME_RESPONSE_SET_NICKNAME_RESULT_UNDEFINED_ERROR;
    else {
        memset(profile->nickname, 0, sizeof(profile->nickname));
        memcpy(profile->nickname, req.profile_nickname.data, req.profile_nickname.len);
        if (euicc_change_commit(euicc, &change) != SGP32_OK)
            result = SGP32_SET_NICKNAME_RESPONSE_SET_NICKNAME_RESULT_UNDEFINED_ERROR;
    }
    sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log, "SetNickname: result %lld (%zu bytes)",
              (long long)result, req.profile_nickname.len);
    return euicc_write_result(out, SGP32_TAG_SET_NICKNAME_RESPONSE, result);
}

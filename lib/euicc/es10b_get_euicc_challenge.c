/*
 * ES10b.GetEUICCChallenge (SGP.22 §5.7.7): BF2E 00 -> BF2E { 80 euiccChallenge(16) }.
 *
 * Why it is kept: the challenge is the eUICC's freshness for mutual authentication; the
 * SM-DP+ signs it in serverSigned1 and AuthenticateServer refuses any other value
 * (euiccChallengeMismatch), so the last one handed out is remembered in the session (a card
 * reset forgets it). Each call replaces the previous challenge.
 */
#include "euicc_local.h"

int es10b_get_euicc_challenge(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, EUICC_LOCAL_ARENA);
    sgp32_get_euicc_challenge_request req = {0};
    int rc = euicc_decode(euicc, &sgp32_type_get_euicc_challenge_request, request, len, &arena, &req);
    if (!rc) {
        euicc->has_euicc_challenge = false;
        rc = sgp32_random_bytes(euicc->euicc_challenge, sizeof(euicc->euicc_challenge));
    }
    if (!rc) {
        euicc->has_euicc_challenge = true;
        sgp32_get_euicc_challenge_response resp = {0};
        resp.euicc_challenge = SGP32_BYTES(euicc->euicc_challenge, sizeof(euicc->euicc_challenge));
        rc = sgp32_asn1_encode(&sgp32_type_get_euicc_challenge_response, &resp, out);
        sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log, "GetEUICCChallenge: new 16-byte challenge");
    }
    sgp32_arena_free(&arena);
    return rc;
}

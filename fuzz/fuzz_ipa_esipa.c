/*
 * fuzz_ipa_esipa: every eIM and SM-DP+ response parser of the IPA core (lib/ipa). Byte 0 picks a
 * state that waits for a response (fuzz_ipa_esipa_targets in fuzz/fuzz_ipa.h: GetEimPackage,
 * ProvideEimPackageResult, InitiateAuthentication, AuthenticateClient, GetBoundProfilePackage,
 * CancelSession and HandleNotification over ESipa or ES9+, and a pushed TransferEimPackageRequest),
 * byte 1 the chunk size the body arrives in (0: one piece; the GetBoundProfilePackage answer is
 * relayed to the card while it arrives), the rest is the body. The IPA reaches that state by
 * replaying a recorded session (fuzz/fuzz_ipa_common.c), takes the fuzz body there and replays
 * the rest of the session as far as it still fits: it must take every answer, end, and stay
 * inside its memory caps with nothing leaked.
 */
#include "fuzz_common.h"
#include "fuzz_ipa.h"

int sgp32_fuzz_ipa_esipa(const uint8_t *data, size_t size)
{
    if (size < 2)
        return SGP32_ERR_INVALID_ARGUMENT;
    const fuzz_ipa_target *t = &fuzz_ipa_esipa_targets[data[0] % FUZZ_IPA_ESIPA_TARGET_COUNT];
    fuzz_ipa_run run = {
        .script = t->script,
        .function = t->function,
        .nth = t->nth,
        .body = data + 2,
        .body_len = size - 2,
        .chunk = data[1],
    };
    return sgp32_fuzz_ipa_run(&run);
}

SGP32_FUZZ_ENTRY(sgp32_fuzz_ipa_esipa);

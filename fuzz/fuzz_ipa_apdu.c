/*
 * fuzz_ipa_apdu: the APDU response parsers of the IPA core (lib/ipa): the card layer (status
 * words, 61xx / GET RESPONSE, 6985 reset-and-retry, 91xx REFRESH, MANAGE CHANNEL) and every ES10
 * response a procedure reads (GetEID, eIM configuration, notification and EPR lists, package
 * results, IpaEuiccData, the download responses, BPP segment answers, the PIR).
 *
 * Byte 0 picks a recorded session (fuzz_ipa_scripts in fuzz/fuzz_ipa.h), bytes 1-2 (big endian,
 * modulo the session's number of card answers) the first card answer to replace; then the
 * replacements, one per APDU the IPA sends from there: a length byte below FD and that many
 * bytes (data || SW), FD n for 253 + n bytes, FE for a card that does not answer, FF for the
 * recorded answer. When the input ends the recorded answers continue. Same properties as
 * fuzz_ipa_esipa (fuzz/fuzz_ipa_common.c).
 */
#include "fuzz_common.h"
#include "fuzz_ipa.h"

int sgp32_fuzz_ipa_apdu(const uint8_t *data, size_t size)
{
    if (size < 3)
        return SGP32_ERR_INVALID_ARGUMENT;
    const char *name = fuzz_ipa_scripts[data[0] % FUZZ_IPA_SCRIPT_COUNT];
    size_t answers = sgp32_fuzz_ipa_card_answers(name);
    size_t from = ((size_t)data[1] << 8 | data[2]) % (answers ? answers : 1);
    fuzz_ipa_run run = {
        .script = name,
        .apdu_override = true,
        .apdu_from = from,
        .apdu = data + 3,
        .apdu_len = size - 3,
    };
    return sgp32_fuzz_ipa_run(&run);
}

SGP32_FUZZ_ENTRY(sgp32_fuzz_ipa_apdu);

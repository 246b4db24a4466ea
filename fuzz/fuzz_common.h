/*
 * Shared by the libFuzzer targets (fuzz/fuzz_*.c), the seed generator (fuzz/make_seeds.c) and the
 * seed replay test (tests/unit/test_fuzz_seeds.c): the codec oracle and every target's entry point.
 *
 * Each target is a plain function sgp32_fuzz_<name>(data, size). Compiled with
 * SGP32_FUZZ_LIBFUZZER (fuzz/CMakeLists.txt), SGP32_FUZZ_ENTRY also defines LLVMFuzzerTestOneInput
 * for it; without, the same code is an ordinary function the replay test calls on every seed.
 *
 * A violated property is reported by sgp32_fuzz_fail: a message on stderr, then abort(), which
 * libFuzzer turns into a crash report and a reproducer file.
 */
#ifndef SGP32_FUZZ_COMMON_H
#define SGP32_FUZZ_COMMON_H

#include "sgp32/asn1.h"

enum {
    SGP32_FUZZ_ARENA_CAP = 1 << 20,   /* per decode: a hostile input may not make us allocate more */
    SGP32_FUZZ_OUTPUT_CAP = 4u << 20, /* re-encodings are never longer than the input */
    SGP32_FUZZ_PRINT_CAP = 1u << 18,  /* pretty-printed text: cut (and so checked) past this */
};

/* Printed with a failure when set (the replay test names the seed file here). */
extern const char *sgp32_fuzz_label;

/* Print what went wrong, the type and the input (hex, shortened), then abort(). */
_Noreturn void sgp32_fuzz_fail(const char *what, const char *type_name, const uint8_t *data, size_t size);

/*
 * The codec oracle. Decoding any input must end in an error code or a value; for a value:
 *  - its "der" member is the whole input, and it equals itself;
 *  - it encodes, and the encoding is no longer than the input (DER is the minimal form);
 *  - the encoding decodes to an equal value, which encodes to identical bytes;
 *  - sgp32_asn1_print renders it (and the partial value a failed decode leaves) without error.
 * Returns the first decode's result (so callers can count accepted inputs).
 */
int sgp32_fuzz_codec(const sgp32_asn1_type *type, const uint8_t *data, size_t size);
/* types[data[0] % count] over data + 1. */
int sgp32_fuzz_codec_pick(const sgp32_asn1_type *const *types, size_t count, const uint8_t *data,
                          size_t size);
/* Every one of types over the whole input; SGP32_OK if any accepted it. */
int sgp32_fuzz_codec_each(const sgp32_asn1_type *const *types, size_t count, const uint8_t *data,
                          size_t size);

/* The targets (one file each). */
int sgp32_fuzz_ber_reader(const uint8_t *data, size_t size);
int sgp32_fuzz_esipa_ipa_to_eim(const uint8_t *data, size_t size);
int sgp32_fuzz_esipa_eim_to_ipa(const uint8_t *data, size_t size);
int sgp32_fuzz_es9plus_asn1(const uint8_t *data, size_t size);
int sgp32_fuzz_es10(const uint8_t *data, size_t size);
int sgp32_fuzz_bpp(const uint8_t *data, size_t size);
int sgp32_fuzz_any_type(const uint8_t *data, size_t size);
int sgp32_fuzz_text(const uint8_t *data, size_t size);
int sgp32_fuzz_certificate(const uint8_t *data, size_t size);
int sgp32_fuzz_apdu(const uint8_t *data, size_t size);       /* links sgp32_euicc */
int sgp32_fuzz_esipa_json(const uint8_t *data, size_t size); /* links sgp32_transport */
int sgp32_fuzz_es9_json(const uint8_t *data, size_t size);   /* links sgp32_smdp_server */
int sgp32_fuzz_es2_json(const uint8_t *data, size_t size);   /* links sgp32_smdp_server */
int sgp32_fuzz_ipa_esipa(const uint8_t *data, size_t size);  /* links sgp32_ipa, fuzz_ipa_common.c */
int sgp32_fuzz_ipa_apdu(const uint8_t *data, size_t size);   /* links sgp32_ipa, fuzz_ipa_common.c */
/* links sgp32_eim_server */
int sgp32_fuzz_eim_operation(const uint8_t *data, size_t size);
/* links sgp32_eim_server */
int sgp32_fuzz_eim_rest(const uint8_t *data, size_t size);
/* links sgp32_eim_server */
int sgp32_fuzz_eim_esipa(const uint8_t *data, size_t size);
/* links apps/eimd/eimd_config.c, apps/smdpd/smdpd_config.c, sgp32_app_support */
int sgp32_fuzz_config(const uint8_t *data, size_t size);

/* The type lists of the multi-type targets (the seed generator encodes samples of each). */
extern const sgp32_asn1_type *const sgp32_fuzz_es9plus_types[];
extern const size_t sgp32_fuzz_es9plus_type_count;
extern const sgp32_asn1_type *const sgp32_fuzz_es10_types[];
extern const size_t sgp32_fuzz_es10_type_count;
extern const sgp32_asn1_type *const sgp32_fuzz_bpp_types[];
extern const size_t sgp32_fuzz_bpp_type_count;

#ifdef SGP32_FUZZ_LIBFUZZER
#define SGP32_FUZZ_ENTRY(fn)                                                                                 \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);                                            \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)                                             \
    {                                                                                                        \
        (void)fn(data, size);                                                                                \
        return 0;                                                                                            \
    }                                                                                                        \
    _Static_assert(1, #fn)
#else
#define SGP32_FUZZ_ENTRY(fn) _Static_assert(1, #fn)
#endif

#endif

/*
 * ./bench/run asn1: throughput of the typed DER codec on messages an eIM and
 * an eUICC handle all day, and what the typed layer costs over a bare TLV walk.
 * Last line: one JSON object. Figures are per core (single thread).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sgp32/asn1_types.h"
#include "sgp32/text.h"

#define EID   "89049032123451234512345678901235"
#define ICCID "989444999999990971F1"
#define SIG64                                                                                                \
    "1111111111111111111111111111111111111111111111111111111111111111"                                       \
    "2222222222222222222222222222222222222222222222222222222222222222"

typedef struct message {
    const char *label;
    const sgp32_asn1_type *type;
    const char *hex;
} message;

static const message messages[] = {
    {"EuiccPackageRequest(enable)", &sgp32_type_euicc_package_request,
     "BF517B3036800365494D5A10" EID "81010282080102030405060708A010A30E5A0A" ICCID "05005F3740" SIG64},
    {"EuiccPackageResult(signed)", &sgp32_type_euicc_package_result,
     "BF5161A05F301A800365494D8101028208010203040506070883010530038301005F3740" SIG64},
    {"GetEimPackageRequest", &sgp32_type_get_eim_package_request, "BF4F125A10" EID},
    {"ProvideEimPackageResultResponse", &sgp32_type_provide_eim_package_result_response,
     "BF5009BF5306800101800102"},
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int count_tlv(void *ctx, const sgp32_asn1_tlv *tlv, unsigned depth)
{
    (void)tlv;
    (void)depth;
    ++*(size_t *)ctx;
    return SGP32_OK;
}

int main(void)
{
    enum { ROUNDS = 200000 };
    double total_decode = 0, total_encode = 0, total_walk = 0;
    size_t total_bytes = 0;
    printf("%-34s %8s %14s %14s %14s\n", "message", "bytes", "decode/s", "encode/s", "walk/s");
    for (size_t m = 0; m < sizeof(messages) / sizeof(messages[0]); m++) {
        sgp32_buf in, out;
        sgp32_buf_init(&in, 1 << 16);
        sgp32_buf_init(&out, 1 << 16);
        if (sgp32_hex_decode(messages[m].hex, strlen(messages[m].hex), &in)) {
            fprintf(stderr, "bad hex in %s\n", messages[m].label);
            return 1;
        }
        _Alignas(max_align_t) uint8_t value[8192];
        _Alignas(max_align_t) uint8_t storage[16384];
        sgp32_arena arena;
        double t0 = now();
        for (int i = 0; i < ROUNDS; i++) {
            sgp32_arena_init_fixed(&arena, storage, sizeof(storage));
            if (sgp32_asn1_decode(messages[m].type, in.data, in.len, &arena, value)) {
                fprintf(stderr, "decode failed: %s\n", messages[m].label);
                return 1;
            }
        }
        double t1 = now();
        for (int i = 0; i < ROUNDS; i++) {
            out.len = 0;
            if (sgp32_asn1_encode(messages[m].type, value, &out)) {
                fprintf(stderr, "encode failed: %s\n", messages[m].label);
                return 1;
            }
        }
        double t2 = now();
        size_t tlvs = 0;
        for (int i = 0; i < ROUNDS; i++)
            sgp32_asn1_walk(in.data, in.len, count_tlv, &tlvs);
        double t3 = now();
        double dec = ROUNDS / (t1 - t0), enc = ROUNDS / (t2 - t1), walk = ROUNDS / (t3 - t2);
        printf("%-34s %8zu %14.0f %14.0f %14.0f\n", messages[m].label, in.len, dec, enc, walk);
        total_decode += t1 - t0;
        total_encode += t2 - t1;
        total_walk += t3 - t2;
        total_bytes += in.len * ROUNDS;
        sgp32_buf_free(&in);
        sgp32_buf_free(&out);
    }
    size_t n = sizeof(messages) / sizeof(messages[0]) * ROUNDS;
    printf("{\"bench\":\"asn1\",\"decode_msgs_per_s\":%.0f,\"encode_msgs_per_s\":%.0f,"
           "\"decode_mb_per_s\":%.1f,\"walk_msgs_per_s\":%.0f,\"decode_vs_walk_ratio\":%.2f}\n",
           n / total_decode, n / total_encode, total_bytes / total_decode / 1e6, n / total_walk,
           total_walk / total_decode);
    return 0;
}

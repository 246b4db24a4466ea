/*
 * fuzz_eim_operation: the eIM's operation JSON (lib/eim/eim_operation.c, jansson), the body of
 * POST /api/v1/operations, from API users (authenticated, but parsed before anything is trusted).
 * Properties: the parser ends in SGP32_OK or SGP32_ERR_BAD_TEXT (or no memory) with a
 * "path: message" error; an accepted operation has a NUL-terminated canonical form within
 * SGP32_EIM_OPERATION_JSON_MAX that parses again to itself (a fixed point), and always builds: the
 * package (signed with a fixed test key for PSMO/eCO) goes through the codec oracle as its ASN.1
 * type, its eimSignature verifies and it carries the operation's eimTransactionId; no leak.
 */
#include <string.h>

#include "fuzz_common.h"
#include "sgp32/eim_package.h"
#include "sgp32/eim_server.h"

/* A fixed NIST P-256 test key (scalar 01 02 ... 20), the same in every run. */
static int test_key(sgp32_ec_private_key *key, sgp32_ec_public_key *pub)
{
    memset(key, 0, sizeof(*key));
    key->curve = SGP32_CURVE_NIST_P256;
    for (size_t i = 0; i < sizeof(key->scalar); i++)
        key->scalar[i] = (uint8_t)(i + 1);
    return sgp32_ec_public_from_private(key, pub);
}

/* The built package: it decodes as its type (oracle), names the operation, and a signed one verifies. */
static void check_package(const sgp32_eim_operation *op, const sgp32_eim_euicc *euicc,
                          const sgp32_ec_public_key *pub, const sgp32_buf *pkg, const uint8_t *data,
                          size_t size)
{
    const sgp32_asn1_type *type = op->kind == SGP32_EIM_OP_IPA_EUICC_DATA ? &sgp32_type_ipa_euicc_data_request
                                  : op->kind == SGP32_EIM_OP_DOWNLOAD
                                      ? &sgp32_type_profile_download_trigger_request
                                      : &sgp32_type_euicc_package_request;
    if (sgp32_fuzz_codec(type, pkg->data, pkg->len) != SGP32_OK)
        sgp32_fuzz_fail("built package does not decode", type->name, data, size);
    uint8_t txid[SGP32_EIM_TXID_LEN];
    sgp32_eim_transaction_id(op->id, txid);
    sgp32_arena arena;
    sgp32_arena_init(&arena, SGP32_FUZZ_ARENA_CAP);
    void *value = sgp32_arena_alloc(&arena, type->size);
    if (!value || sgp32_asn1_decode(type, pkg->data, pkg->len, &arena, value) != SGP32_OK)
        sgp32_fuzz_fail("built package does not decode", type->name, data, size);
    sgp32_bytes got = {NULL, 0};
    if (op->kind == SGP32_EIM_OP_IPA_EUICC_DATA) {
        got = ((const sgp32_ipa_euicc_data_request *)value)->eim_transaction_id;
    } else if (op->kind == SGP32_EIM_OP_DOWNLOAD) {
        got = ((const sgp32_profile_download_trigger_request *)value)->eim_transaction_id;
    } else {
        const sgp32_euicc_package_request *r = value;
        got = r->euicc_package_signed.eim_transaction_id;
        uint8_t tlv[SGP32_EIM_TOKEN_TLV_MAX];
        size_t tlv_len = 0;
        if (sgp32_eim_token_tlv(euicc->has_token, euicc->token, tlv, &tlv_len) != SGP32_OK ||
            r->eim_signature.len != SGP32_EC_RAW_SIG_LEN)
            sgp32_fuzz_fail("no eimSignature", type->name, data, size);
        sgp32_bytes parts[2] = {r->euicc_package_signed.der, {tlv, tlv_len}};
        if (sgp32_ecdsa_verify(pub, parts, 2, r->eim_signature.data) != SGP32_OK)
            sgp32_fuzz_fail("eimSignature does not verify", type->name, data, size);
    }
    if (got.len != SGP32_EIM_TXID_LEN || memcmp(got.data, txid, SGP32_EIM_TXID_LEN) != 0)
        sgp32_fuzz_fail("eimTransactionId is not the operation's", type->name, data, size);
    sgp32_arena_free(&arena);
}

int sgp32_fuzz_eim_operation(const uint8_t *data, size_t size)
{
    static sgp32_ec_private_key key;
    static sgp32_ec_public_key pub;
    static bool have_key;
    if (!have_key) {
        if (test_key(&key, &pub) != SGP32_OK)
            sgp32_fuzz_fail("test key", "P-256", data, size);
        have_key = true;
    }
    sgp32_eim_operation_spec spec, again;
    sgp32_eim_operation_spec_init(&spec);
    sgp32_eim_operation_spec_init(&again);
    char error[256];
    memset(error, 'x', sizeof(error));
    int rc = sgp32_eim_operation_parse((const char *)data, size, &spec, error, sizeof(error));
    if (rc != SGP32_OK && rc != SGP32_ERR_BAD_TEXT && rc != SGP32_ERR_NO_MEMORY)
        sgp32_fuzz_fail("parser returned an unexpected error", "operation JSON", data, size);
    if (rc == SGP32_ERR_BAD_TEXT && (!memchr(error, 0, sizeof(error)) || !strstr(error, ": ")))
        sgp32_fuzz_fail("refusal without a \"path: message\" error", "operation JSON", data, size);
    if (rc == SGP32_OK) {
        const sgp32_buf *c = &spec.canonical;
        if (c->len == 0 || c->len > SGP32_EIM_OPERATION_JSON_MAX || c->data[c->len] != '\0' ||
            strlen((const char *)c->data) != c->len)
            sgp32_fuzz_fail("canonical form empty, oversized or not terminated", "operation JSON", data,
                            size);
        if (spec.kind < SGP32_EIM_OP_PSMO || spec.kind > SGP32_EIM_OP_DOWNLOAD)
            sgp32_fuzz_fail("accepted without a kind", "operation JSON", data, size);
        if (sgp32_eim_operation_parse((const char *)c->data, c->len, &again, error, sizeof(error)) !=
                SGP32_OK ||
            again.kind != spec.kind || again.canonical.len != c->len ||
            memcmp(again.canonical.data, c->data, c->len) != 0)
            sgp32_fuzz_fail("canonical form is not a fixed point", "operation JSON", data, size);
        sgp32_eim_operation op;
        sgp32_eim_euicc euicc;
        sgp32_eim_operation_init(&op);
        sgp32_eim_euicc_init(&euicc);
        op.id = 0x0102030405060708;
        op.kind = spec.kind;
        memcpy(op.eid, "89049032123451234512345678901235", SGP32_EIM_EID_DIGITS + 1);
        euicc.has_token = size % 2 == 0;
        euicc.token = (int64_t)size;
        sgp32_eim_signer signer = {"eim.example.com", &key};
        sgp32_buf pkg;
        sgp32_buf_init(&pkg, SGP32_FUZZ_OUTPUT_CAP);
        int brc = sgp32_buf_append(&op.request, c->data, c->len);
        if (!brc)
            brc = sgp32_eim_operation_build(&signer, &op, &euicc, 1 + (int64_t)(size % 1000), &pkg);
        if (brc != SGP32_OK && brc != SGP32_ERR_NO_MEMORY)
            sgp32_fuzz_fail("an accepted operation does not build", "operation JSON", data, size);
        if (brc == SGP32_OK)
            check_package(&op, &euicc, &pub, &pkg, data, size);
        sgp32_buf_free(&pkg);
        sgp32_eim_euicc_free(&euicc);
        sgp32_eim_operation_free(&op);
    }
    sgp32_eim_operation_spec_free(&again);
    sgp32_eim_operation_spec_free(&spec);
    return rc == SGP32_OK ? SGP32_OK : SGP32_ERR_INVALID_ARGUMENT;
}

SGP32_FUZZ_ENTRY(sgp32_fuzz_eim_operation);

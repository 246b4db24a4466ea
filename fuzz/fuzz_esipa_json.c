/*
 * fuzz_esipa_json: the JSON -> DER conversion of the answers an IPA receives over the JSON
 * bindings (lib/transport/esipa_json.c, es9_https.c): untrusted text from an eIM or an SM-DP+.
 * Byte 0 picks the function (7 ESipa answers, 4 ES9+ answers), the rest is the JSON body.
 * Properties: the conversion ends in an error or in DER the typed codec accepts; that DER converts
 * back to JSON, and that JSON to identical DER (the mapping is stable); no leak, no overflow.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "sgp32/es9_client.h"
#include "sgp32/esipa_client.h"

static const char *const esipa_functions[] = {
    "initiateAuthentication", "authenticateClient", "getBoundProfilePackage",  "cancelSession",
    "transferEimPackage",     "getEimPackage",      "provideEimPackageResult",
};
static const char *const es9_functions[] = {
    "initiateAuthentication",
    "authenticateClient",
    "getBoundProfilePackage",
    "cancelSession",
};

int sgp32_fuzz_esipa_json(const uint8_t *data, size_t size)
{
    if (size < 1)
        return SGP32_ERR_INVALID_ARGUMENT;
    size_t pick = data[0] % (SGP32_ARRAY_LEN(esipa_functions) + SGP32_ARRAY_LEN(es9_functions));
    const char *json = (const char *)data + 1;
    size_t len = size - 1;
    sgp32_buf der, text, again;
    sgp32_buf_init(&der, SGP32_FUZZ_OUTPUT_CAP);
    sgp32_buf_init(&text, SGP32_FUZZ_OUTPUT_CAP);
    sgp32_buf_init(&again, SGP32_FUZZ_OUTPUT_CAP);
    int rc;
    if (pick < SGP32_ARRAY_LEN(esipa_functions)) {
        const char *fn = esipa_functions[pick];
        rc = sgp32_esipa_json_to_der(SGP32_ESIPA_EIM_TO_IPA, fn, json, len, &der);
        if (rc == SGP32_OK) {
            const char *fn2 = NULL;
            if (sgp32_esipa_json_from_der(SGP32_ESIPA_EIM_TO_IPA, der.data, der.len, &fn2, &text) !=
                    SGP32_OK ||
                strcmp(fn, fn2) != 0)
                sgp32_fuzz_fail("converted DER does not convert back", fn, data, size);
            if (sgp32_esipa_json_to_der(SGP32_ESIPA_EIM_TO_IPA, fn, (const char *)text.data, text.len,
                                        &again) != SGP32_OK ||
                !sgp32_bytes_equal(sgp32_buf_bytes(&der), sgp32_buf_bytes(&again)))
                sgp32_fuzz_fail("JSON -> DER -> JSON -> DER is not stable", fn, data, size);
        }
    } else {
        const char *fn = es9_functions[pick - SGP32_ARRAY_LEN(esipa_functions)];
        sgp32_es9_result result;
        rc = sgp32_es9_json_to_response(fn, json, len, &der, &result);
        if (rc == SGP32_OK && der.len) {
            const char *fn2 = NULL;
            if (sgp32_es9_json_from_response(der.data, der.len, &fn2, &text) != SGP32_OK ||
                strcmp(fn, fn2) != 0)
                sgp32_fuzz_fail("converted ES9+ DER does not convert back", fn, data, size);
            if (sgp32_es9_json_to_response(fn, (const char *)text.data, text.len, &again, &result) !=
                    SGP32_OK ||
                !sgp32_bytes_equal(sgp32_buf_bytes(&der), sgp32_buf_bytes(&again)))
                sgp32_fuzz_fail("ES9+ JSON -> DER -> JSON -> DER is not stable", fn, data, size);
        }
    }
    sgp32_buf_free(&der);
    sgp32_buf_free(&text);
    sgp32_buf_free(&again);
    return rc;
}

SGP32_FUZZ_ENTRY(sgp32_fuzz_esipa_json);

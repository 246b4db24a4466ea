/*
 * ES10c.GetEID (SGP.22 §5.7.20; NOTES §5.3): BF3E 03 5C 01 5A -> BF3E 12 5A 10 <EID>.
 *
 * The schema makes tagList one byte ("the value SHALL be set to '5A'"); a request asking for
 * anything else is not understood (the APDU layer answers 6A80): the card has no other data to
 * give and no error code to say so.
 */
#include "euicc_internal.h"

int es10c_get_eid(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    uint8_t storage[256];
    sgp32_arena arena;
    sgp32_arena_init_fixed(&arena, storage, sizeof(storage));
    sgp32_get_euicc_data_request req;
    int rc = euicc_decode(euicc, &sgp32_type_get_euicc_data_request, request, len, &arena, &req);
    if (!rc && (req.tag_list.len != 1 || req.tag_list.data[0] != 0x5A)) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log, "GetEID: tagList %02X is not 5A (EID)",
                  req.tag_list.len ? req.tag_list.data[0] : 0);
        rc = SGP32_ERR_ASN1_BAD_VALUE;
    }
    if (!rc) {
        sgp32_get_euicc_data_response resp = {0};
        resp.eid_value = (sgp32_bytes){euicc->eid, sizeof(euicc->eid)};
        rc = sgp32_asn1_encode(&sgp32_type_get_euicc_data_response, &resp, out);
    }
    sgp32_arena_free(&arena);
    return rc;
}

/*
 * The associationToken data object that both ESep signatures cover (SGP.32 v1.2
 * §2.11.1.1, §2.11.2.1): eimSignature over DER(euiccPackageSigned) || 84 L token,
 * euiccSignEPR/EPE over DER(...DataSigned) || 84 L token. With no token configured
 * for the eIM, the data object with value zero, `84 01 00`, is used.
 */
#include "sgp32/asn1.h"
#include "sgp32/eim_package.h"

int sgp32_eim_token_tlv(bool has_token, int64_t token, uint8_t out[SGP32_EIM_TOKEN_TLV_MAX], size_t *len)
{
    if (!out || !len)
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_buf b;
    sgp32_buf_init_fixed(&b, out, SGP32_EIM_TOKEN_TLV_MAX);
    int rc = sgp32_asn1_write_integer(&b, 0x84, has_token ? token : 0);
    *len = rc ? 0 : b.len;
    return rc;
}

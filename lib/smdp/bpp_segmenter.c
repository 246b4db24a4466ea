/*
 * A BPP as ES10 LoadBoundProfilePackage calls (SGP.22 §5.7.6, §2.5.5; NOTES §5.2): what an IPA
 * sends, one call per segment. The eUICC answers nothing until the PIR.
 */
#include <string.h>

#include "sgp32/asn1.h"
#include "sgp32/profile_package.h"

int sgp32_bpp_segmenter_init(sgp32_bpp_segmenter *it, const uint8_t *bpp, size_t len)
{
    if (!it || !bpp)
        return SGP32_ERR_INVALID_ARGUMENT;
    memset(it, 0, sizeof(*it));
    it->bpp = bpp;
    it->len = len;
    sgp32_asn1_tlv whole;
    size_t used;
    int rc = sgp32_asn1_read_tlv(bpp, len, &whole, &used);
    if (rc)
        return rc;
    if (whole.tag != 0xBF36)
        return SGP32_ERR_ASN1_UNEXPECTED_TAG;
    if (used != len)
        return SGP32_ERR_ASN1_TRAILING;
    it->bpp_end = used;
    return SGP32_OK;
}

int sgp32_bpp_segmenter_next(sgp32_bpp_segmenter *it, sgp32_bytes *segment)
{
    if (!it || !segment || !it->bpp)
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_asn1_tlv tlv;
    size_t used;
    int rc;
    if (it->pos == 0) {
        /* BF36 tag and length, then the whole BF23. */
        sgp32_asn1_tlv bpp;
        if ((rc = sgp32_asn1_read_tlv(it->bpp, it->len, &bpp, NULL)))
            return rc;
        size_t header = (size_t)(bpp.value.data - it->bpp);
        if ((rc = sgp32_asn1_read_tlv(bpp.value.data, bpp.value.len, &tlv, &used)))
            return rc;
        if (tlv.tag != 0xBF23)
            return SGP32_ERR_ASN1_UNEXPECTED_TAG;
        *segment = (sgp32_bytes){it->bpp, header + used};
        it->pos = header + used;
        return SGP32_OK;
    }
    size_t end = it->container_end ? it->container_end : it->bpp_end;
    if (it->pos >= end)
        return SGP32_ERR_NOT_FOUND;
    if ((rc = sgp32_asn1_read_tlv(it->bpp + it->pos, end - it->pos, &tlv, &used)))
        return rc;
    if (!it->container_end && (tlv.tag == 0xA1 || tlv.tag == 0xA3)) {
        /* A1 / A3: tag and length alone, then each child on its own. */
        size_t header = (size_t)(tlv.value.data - tlv.whole.data);
        *segment = (sgp32_bytes){it->bpp + it->pos, header};
        it->container_end = it->pos + used;
        it->pos += header;
        if (it->pos >= it->container_end)
            it->container_end = 0; /* an empty sequence */
        return SGP32_OK;
    }
    *segment = (sgp32_bytes){it->bpp + it->pos, used};
    it->pos += used;
    if (it->container_end && it->pos >= it->container_end)
        it->container_end = 0;
    return SGP32_OK;
}

/*
 * The ICCID of an unprotected profile package (SAIP ProfileHeader, PEDefinitions; NOTES §9):
 * the first ProfileElement is the header A0 {80 major, 81 minor, [82 profileType], 83 iccid ...},
 * and its iccid is 10 bytes of PLAIN BCD, F-padded: 89 49 44 99 99 99 99 90 17 1F is
 * 8949449999999990171 (the RSP Iccid 5A swaps the nibbles; the header does not).
 */
#include <string.h>

#include "sgp32/asn1.h"
#include "sgp32/profile_package.h"

/* Where the header's 10 ICCID bytes are. */
static int find_iccid(const uint8_t *upp, size_t len, size_t *offset)
{
    if (!upp)
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_asn1_tlv header, field;
    int rc = sgp32_asn1_read_tlv(upp, len, &header, NULL);
    if (rc)
        return rc;
    if (header.tag != 0xA0)
        return SGP32_ERR_ASN1_UNEXPECTED_TAG;
    sgp32_asn1_reader reader;
    sgp32_asn1_reader_init(&reader, header.value, 1);
    while ((rc = sgp32_asn1_reader_next(&reader, &field)) == SGP32_OK)
        if (field.tag == 0x83) {
            if (field.value.len != 10)
                return SGP32_ERR_ASN1_SIZE;
            *offset = (size_t)(field.value.data - upp);
            return SGP32_OK;
        }
    return rc == SGP32_ERR_NOT_FOUND ? SGP32_ERR_ASN1_MISSING : rc;
}

int sgp32_upp_iccid(const uint8_t *upp, size_t len, char digits[21])
{
    size_t at;
    int rc = find_iccid(upp, len, &at);
    if (rc)
        return rc;
    size_t n = 0;
    for (size_t i = 0; i < 10; i++) {
        uint8_t nibbles[2] = {(uint8_t)(upp[at + i] >> 4), (uint8_t)(upp[at + i] & 0xF)};
        for (size_t j = 0; j < 2; j++) {
            if (nibbles[j] <= 9 && (n == 0 || digits[n - 1] != 'F'))
                digits[n++] = (char)('0' + nibbles[j]);
            else if (nibbles[j] == 0xF)
                digits[n++] = 'F'; /* padding: only at the end (checked below) */
            else
                return SGP32_ERR_BAD_TEXT;
        }
    }
    size_t count = 0;
    while (count < n && digits[count] != 'F')
        count++;
    for (size_t i = count; i < n; i++)
        if (digits[i] != 'F')
            return SGP32_ERR_BAD_TEXT;
    digits[count] = '\0';
    return count >= 18 ? SGP32_OK : SGP32_ERR_BAD_TEXT;
}

int sgp32_upp_set_iccid(const uint8_t *upp, size_t len, const char *digits, sgp32_buf *out)
{
    size_t count = digits ? strlen(digits) : 0;
    if (count < 18 || count > 20 || !out)
        return SGP32_ERR_INVALID_ARGUMENT;
    uint8_t bcd[10];
    for (size_t i = 0; i < 20; i++) {
        uint8_t nibble = 0xF;
        if (i < count) {
            if (digits[i] < '0' || digits[i] > '9')
                return SGP32_ERR_BAD_TEXT;
            nibble = (uint8_t)(digits[i] - '0');
        }
        if (i % 2 == 0)
            bcd[i / 2] = (uint8_t)(nibble << 4);
        else
            bcd[i / 2] |= nibble;
    }
    size_t at;
    int rc = find_iccid(upp, len, &at);
    size_t before = out->len;
    if (!rc)
        rc = sgp32_buf_append(out, upp, len);
    if (!rc)
        memcpy(out->data + before + at, bcd, sizeof(bcd));
    return rc;
}

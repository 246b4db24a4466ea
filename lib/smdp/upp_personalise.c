/*
 * The identifiers inside a profile's file system (SAIP PEDefinitions v3; NOTES §9): the content of
 * EF.ICCID (PE-MF `mf` B0, component ef-iccid [4] A4) and of EF.IMSI (PE-USIM `usim` B3, component
 * ef-imsi [3] A3). A File is a SEQUENCE OF CHOICE {doNotCreate 80, fileDescriptor A1,
 * fillFileOffset 82, fillFileContent 83} (automatic tags); the file's bytes are its fillFileContent.
 *
 *   EF.ICCID (TS 102 221 §13.2): 10 bytes, nibble-swapped BCD, F-padded (the RSP Iccid coding;
 *            the ProfileHeader's iccid 83 is plain BCD instead, see upp_header.c).
 *   EF.IMSI  (TS 31.102 §4.2.2): 9 bytes, a length byte (bytes of IMSI that follow) and the IMSI
 *            as a TS 24.008 mobile identity: low nibble of the first byte = odd/even bit (8) +
 *            identity type IMSI (1), then the digits low nibble first, F filler, FF for unused bytes.
 *
 * Rewriting is in place and keeps every length, so the rest of the package stays byte-identical.
 * A file is accepted only with exactly one fillFileContent of the expected length and no non-zero
 * fillFileOffset; anything else is refused rather than left unpersonalised.
 *
 * The AKA keys (PEDefinitions PE-AKAParameter; ProfileElement alternative akaParameter [4] A4):
 *
 *   A4 { A0 aka-header, A1 algoConfiguration (a CHOICE, so explicitly tagged) {
 *          A0 mappingParameter { 80 mappingOptions, 81 mappingSource }    -- another NAA's keys
 *        | A1 algoParameter { 80 algorithmID, 81 algorithmOptions, 82 key, 83 opc, 84.. 87 } },
 *        82 sqnOptions, 83 sqnDelta, 84 sqnAgeLimit, A5 sqnInit }
 *
 * One akaParameter follows each NAA (USIM, ISIM) that has its own keys. The TS.48 test profiles have
 * two (identification 11 after the USIM, 20 after the ISIM), both usim-test-algorithm(3) with the
 * same key 000102..0F and an all-zero opc. One subscription has one Ki/OPc in the operator's HSS, so
 * every akaParameter with an algoParameter gets the same pair, and no template key is left anywhere;
 * a template whose NAAs carry different keys (or algorithms) is refused, since one pair cannot say
 * what each should get. Milenage(1) and the USIM test algorithm(3) take a 16-byte key and opc; TUAK
 * (2: 16 or 32-byte key, 32-byte TOPc) is refused.
 */
#include <string.h>

#include "sgp32/asn1.h"
#include "sgp32/profile_package.h"

enum {
    PE_MF = 0xB0,
    PE_USIM = 0xB3,
    MF_EF_ICCID = 0xA4,
    USIM_EF_IMSI = 0xA3,
    FILE_OFFSET = 0x82,
    FILE_CONTENT = 0x83,
    EF_ICCID_LEN = 10,
    EF_IMSI_LEN = 9,
    PE_AKA = 0xA4,
    AKA_ALGO_CONFIGURATION = 0xA1,
    ALGO_MAPPING_PARAMETER = 0xA0,
    ALGO_PARAMETER = 0xA1,
    ALGO_ID = 0x80,
    ALGO_KEY = 0x82,
    ALGO_OPC = 0x83,
};

int sgp32_upp_find_file(const uint8_t *upp, size_t len, sgp32_upp_file file, size_t *offset, size_t *size)
{
    if (!upp || !offset || !size || (file != SGP32_UPP_EF_ICCID && file != SGP32_UPP_EF_IMSI))
        return SGP32_ERR_INVALID_ARGUMENT;
    uint32_t pe_tag = file == SGP32_UPP_EF_ICCID ? PE_MF : PE_USIM;
    uint32_t ef_tag = file == SGP32_UPP_EF_ICCID ? MF_EF_ICCID : USIM_EF_IMSI;
    sgp32_asn1_reader pes, fields, items;
    sgp32_asn1_tlv pe, field, item;
    const uint8_t *content = NULL;
    size_t content_len = 0;
    bool pe_seen = false;
    int rc;
    sgp32_asn1_reader_init(&pes, SGP32_BYTES(upp, len), 0);
    while ((rc = sgp32_asn1_reader_next(&pes, &pe)) == SGP32_OK) {
        if (pe.tag != pe_tag)
            continue;
        if (pe_seen)
            return SGP32_ERR_ASN1_ORDER; /* two MF (USIM) elements: which one is the profile's? */
        pe_seen = true;
        if ((rc = sgp32_asn1_reader_enter(&pes, &pe, &fields)) != SGP32_OK)
            return rc;
        while ((rc = sgp32_asn1_reader_next(&fields, &field)) == SGP32_OK && field.tag != ef_tag)
            ;
        if (rc)
            return rc == SGP32_ERR_NOT_FOUND ? SGP32_ERR_ASN1_MISSING : rc;
        if ((rc = sgp32_asn1_reader_enter(&fields, &field, &items)) != SGP32_OK)
            return rc;
        while ((rc = sgp32_asn1_reader_next(&items, &item)) == SGP32_OK) {
            if (item.tag == FILE_OFFSET) {
                int64_t skip;
                if ((rc = sgp32_asn1_parse_integer(item.value, &skip)) != SGP32_OK)
                    return rc;
                if (skip != 0)
                    return SGP32_ERR_UNSUPPORTED; /* content split over offsets */
            } else if (item.tag == FILE_CONTENT) {
                if (content)
                    return SGP32_ERR_UNSUPPORTED; /* content split over several fills */
                content = item.value.data;
                content_len = item.value.len;
            }
        }
        if (rc != SGP32_ERR_NOT_FOUND)
            return rc;
    }
    if (rc != SGP32_ERR_NOT_FOUND)
        return rc;
    if (!content)
        return SGP32_ERR_ASN1_MISSING; /* no such element, or the file has no content */
    *offset = (size_t)(content - upp);
    *size = content_len;
    return SGP32_OK;
}

/* The file's content, checked to be `want` bytes long. */
static int find_exact(const uint8_t *upp, size_t len, sgp32_upp_file file, size_t want, size_t *offset)
{
    size_t size;
    int rc = sgp32_upp_find_file(upp, len, file, offset, &size);
    if (!rc && size != want)
        rc = SGP32_ERR_ASN1_SIZE;
    return rc;
}

/* Digits, checked: count in [min, max], decimal only. */
static int check_digits(const char *digits, size_t min, size_t max, size_t *count)
{
    if (!digits)
        return SGP32_ERR_INVALID_ARGUMENT;
    size_t n = strlen(digits);
    if (n < min || n > max)
        return SGP32_ERR_BAD_TEXT;
    for (size_t i = 0; i < n; i++)
        if (digits[i] < '0' || digits[i] > '9')
            return SGP32_ERR_BAD_TEXT;
    *count = n;
    return SGP32_OK;
}

/* Nibbles (value 0..15 each) into bytes, low nibble first; odd counts end with an F filler. */
static void pack_swapped(const uint8_t *nibbles, size_t count, uint8_t *out)
{
    for (size_t i = 0; i < count; i += 2)
        out[i / 2] = (uint8_t)(nibbles[i] | (i + 1 < count ? nibbles[i + 1] : 0xF) << 4);
}

int sgp32_upp_ef_iccid(const uint8_t *upp, size_t len, char digits[21])
{
    if (!digits)
        return SGP32_ERR_INVALID_ARGUMENT;
    size_t at;
    int rc = find_exact(upp, len, SGP32_UPP_EF_ICCID, EF_ICCID_LEN, &at);
    if (rc)
        return rc;
    size_t n = 0;
    bool padding = false;
    for (size_t i = 0; i < 2 * EF_ICCID_LEN; i++) {
        uint8_t b = upp[at + i / 2];
        uint8_t nibble = i % 2 ? b >> 4 : b & 0xF;
        if (nibble == 0xF)
            padding = true;
        else if (nibble > 9 || padding)
            return SGP32_ERR_BAD_TEXT;
        else
            digits[n++] = (char)('0' + nibble);
    }
    digits[n] = '\0';
    return n >= 18 ? SGP32_OK : SGP32_ERR_BAD_TEXT;
}

int sgp32_upp_ef_imsi(const uint8_t *upp, size_t len, char digits[16])
{
    if (!digits)
        return SGP32_ERR_INVALID_ARGUMENT;
    size_t at;
    int rc = find_exact(upp, len, SGP32_UPP_EF_IMSI, EF_IMSI_LEN, &at);
    if (rc)
        return rc;
    const uint8_t *ef = upp + at;
    if (ef[0] < 1 || ef[0] > EF_IMSI_LEN - 1 || (ef[1] & 0x7) != 1)
        return SGP32_ERR_BAD_TEXT; /* no IMSI (e.g. FF..FF), or not the IMSI identity type */
    bool odd = ef[1] & 0x8;
    size_t count = 2 * (size_t)ef[0] - (odd ? 1 : 2), n = 0;
    for (size_t i = 1; i <= count; i++) {
        uint8_t b = ef[1 + i / 2];
        uint8_t nibble = i % 2 ? b >> 4 : b & 0xF;
        if (nibble > 9)
            return SGP32_ERR_BAD_TEXT;
        digits[n++] = (char)('0' + nibble);
    }
    if (!odd && ef[1 + (count + 1) / 2] >> 4 != 0xF)
        return SGP32_ERR_BAD_TEXT; /* an even count ends with an F filler */
    digits[n] = '\0';
    return SGP32_OK;
}

int sgp32_upp_set_files(uint8_t *upp, size_t len, const char *iccid, const char *imsi)
{
    size_t iccid_count, imsi_count = 0, iccid_at, imsi_at = 0;
    int rc = check_digits(iccid, 18, 20, &iccid_count);
    if (!rc && imsi)
        rc = check_digits(imsi, 6, 15, &imsi_count);
    /* Find both before writing either: a refused template is left untouched. */
    if (!rc)
        rc = find_exact(upp, len, SGP32_UPP_EF_ICCID, EF_ICCID_LEN, &iccid_at);
    if (!rc && imsi)
        rc = find_exact(upp, len, SGP32_UPP_EF_IMSI, EF_IMSI_LEN, &imsi_at);
    if (rc)
        return rc;

    uint8_t nibbles[20], ef[EF_ICCID_LEN];
    memset(ef, 0xFF, sizeof(ef));
    for (size_t i = 0; i < iccid_count; i++)
        nibbles[i] = (uint8_t)(iccid[i] - '0');
    pack_swapped(nibbles, iccid_count, ef);
    memcpy(upp + iccid_at, ef, EF_ICCID_LEN);

    if (imsi) {
        /* Nibble 0: odd/even bit and type 1 (IMSI); then the digits. */
        nibbles[0] = (uint8_t)((imsi_count % 2 ? 0x8 : 0x0) | 0x1);
        for (size_t i = 0; i < imsi_count; i++)
            nibbles[1 + i] = (uint8_t)(imsi[i] - '0');
        memset(ef, 0xFF, sizeof(ef));
        ef[0] = (uint8_t)((imsi_count + 2) / 2); /* bytes of mobile identity */
        pack_swapped(nibbles, imsi_count + 1, ef + 1);
        memcpy(upp + imsi_at, ef, EF_IMSI_LEN);
    }
    return SGP32_OK;
}

/* One algoParameter: its algorithmID and where its 16-byte key and opc are. */
static int read_algo_parameter(const uint8_t *upp, sgp32_asn1_reader *parent, const sgp32_asn1_tlv *param,
                               int64_t *algorithm, size_t *key_at, size_t *opc_at)
{
    sgp32_asn1_reader fields;
    sgp32_asn1_tlv field;
    sgp32_asn1_tlv found[3]; /* algorithmID, key, opc */
    bool seen[3] = {false, false, false};
    int rc = sgp32_asn1_reader_enter(parent, param, &fields);
    if (rc)
        return rc;
    while ((rc = sgp32_asn1_reader_next(&fields, &field)) == SGP32_OK) {
        int i = field.tag == ALGO_ID ? 0 : field.tag == ALGO_KEY ? 1 : field.tag == ALGO_OPC ? 2 : -1;
        if (i < 0)
            continue; /* algorithmOptions, rotation and xoring constants, ...: not ours */
        if (seen[i])
            return SGP32_ERR_ASN1_ORDER;
        found[i] = field;
        seen[i] = true;
    }
    if (rc != SGP32_ERR_NOT_FOUND)
        return rc;
    if (!seen[0] || !seen[1] || !seen[2])
        return SGP32_ERR_ASN1_MISSING;
    if ((rc = sgp32_asn1_parse_integer(found[0].value, algorithm)) != SGP32_OK)
        return rc;
    if (*algorithm != SGP32_UPP_AKA_MILENAGE && *algorithm != SGP32_UPP_AKA_USIM_TEST_ALGORITHM)
        return SGP32_ERR_UNSUPPORTED;
    if (found[1].value.len != SGP32_UPP_AKA_KEY_LEN || found[2].value.len != SGP32_UPP_AKA_KEY_LEN)
        return SGP32_ERR_ASN1_SIZE;
    *key_at = (size_t)(found[1].value.data - upp);
    *opc_at = (size_t)(found[2].value.data - upp);
    return SGP32_OK;
}

/* One akaParameter element: counted in aka as an algoParameter (with its offsets) or a mapping. */
static int read_aka_parameter(const uint8_t *upp, sgp32_asn1_reader *pes, const sgp32_asn1_tlv *pe,
                              sgp32_upp_aka *aka)
{
    sgp32_asn1_reader fields, choice;
    sgp32_asn1_tlv field, config, alternative;
    bool have_config = false;
    int rc = sgp32_asn1_reader_enter(pes, pe, &fields);
    if (rc)
        return rc;
    while ((rc = sgp32_asn1_reader_next(&fields, &field)) == SGP32_OK) {
        if (field.tag != AKA_ALGO_CONFIGURATION)
            continue;
        if (have_config)
            return SGP32_ERR_ASN1_ORDER;
        config = field;
        have_config = true;
    }
    if (rc != SGP32_ERR_NOT_FOUND)
        return rc;
    if (!have_config)
        return SGP32_ERR_ASN1_MISSING;
    if ((rc = sgp32_asn1_reader_enter(&fields, &config, &choice)) != SGP32_OK ||
        (rc = sgp32_asn1_reader_next(&choice, &alternative)) != SGP32_OK)
        return rc == SGP32_ERR_NOT_FOUND ? SGP32_ERR_ASN1_MISSING : rc;
    sgp32_asn1_tlv extra;
    if ((rc = sgp32_asn1_reader_next(&choice, &extra)) != SGP32_ERR_NOT_FOUND)
        return rc ? rc : SGP32_ERR_ASN1_TRAILING; /* a CHOICE holds one alternative */
    if (alternative.tag == ALGO_MAPPING_PARAMETER) {
        aka->mapped++;
        return SGP32_OK;
    }
    if (alternative.tag != ALGO_PARAMETER)
        return SGP32_ERR_ASN1_UNKNOWN_CHOICE;
    if (aka->count == SGP32_UPP_AKA_MAX)
        return SGP32_ERR_UNSUPPORTED;
    int64_t algorithm = 0;
    size_t key_at, opc_at;
    if ((rc = read_algo_parameter(upp, &choice, &alternative, &algorithm, &key_at, &opc_at)) != SGP32_OK)
        return rc;
    if (aka->count) {
        /* one pair for the subscription: the NAAs of the template must agree (as TS.48's do) */
        if (algorithm != aka->algorithm ||
            memcmp(upp + key_at, upp + aka->key_at[0], SGP32_UPP_AKA_KEY_LEN) != 0 ||
            memcmp(upp + opc_at, upp + aka->opc_at[0], SGP32_UPP_AKA_KEY_LEN) != 0)
            return SGP32_ERR_UNSUPPORTED;
    }
    aka->algorithm = algorithm;
    aka->key_at[aka->count] = key_at;
    aka->opc_at[aka->count] = opc_at;
    aka->count++;
    return SGP32_OK;
}

int sgp32_upp_find_aka(const uint8_t *upp, size_t len, sgp32_upp_aka *aka)
{
    if (!upp || !aka)
        return SGP32_ERR_INVALID_ARGUMENT;
    memset(aka, 0, sizeof(*aka));
    sgp32_asn1_reader pes;
    sgp32_asn1_tlv pe;
    int rc;
    sgp32_asn1_reader_init(&pes, SGP32_BYTES(upp, len), 0);
    while ((rc = sgp32_asn1_reader_next(&pes, &pe)) == SGP32_OK)
        if (pe.tag == PE_AKA && (rc = read_aka_parameter(upp, &pes, &pe, aka)) != SGP32_OK)
            break;
    if (rc != SGP32_ERR_NOT_FOUND) {
        memset(aka, 0, sizeof(*aka));
        return rc;
    }
    return aka->count ? SGP32_OK : SGP32_ERR_ASN1_MISSING;
}

int sgp32_upp_set_aka(uint8_t *upp, size_t len, const sgp32_upp_aka_keys *keys)
{
    if (!keys)
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_upp_aka aka;
    int rc = sgp32_upp_find_aka(upp, len, &aka); /* every element checked before any is written */
    if (rc)
        return rc;
    for (size_t i = 0; i < aka.count; i++) {
        memcpy(upp + aka.key_at[i], keys->ki, SGP32_UPP_AKA_KEY_LEN);
        memcpy(upp + aka.opc_at[i], keys->opc, SGP32_UPP_AKA_KEY_LEN);
    }
    return SGP32_OK;
}

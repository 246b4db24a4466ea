/*
 * sgp32 profile packages (lib/smdp): small helpers around the two package forms.
 *
 *   UPP  the unprotected profile package: SAIP ProfileElement TLVs, ProfileHeader (A0) first
 *        (NOTES §9). Its header ICCID (tag 83) is PLAIN BCD, unlike the nibble-swapped
 *        EF.ICCID coding of the RSP Iccid (5A).
 *   BPP  the Bound Profile Package BF36 (NOTES §7) and how an IPA hands it to the eUICC: one
 *        ES10 LoadBoundProfilePackage call per segment (NOTES §5.2).
 */
#ifndef SGP32_PROFILE_PACKAGE_H
#define SGP32_PROFILE_PACKAGE_H

#include "sgp32/alloc.h"

/* The ICCID digits (18..20, NUL-terminated) of the UPP's ProfileHeader. */
int sgp32_upp_iccid(const uint8_t *upp, size_t len, char digits[21]);
/* A copy of the UPP, appended to out, whose ProfileHeader carries the ICCID digits instead. Only the
 * header changes (EF.ICCID inside the profile is left as it is: sgp32_upp_set_files writes it, and
 * sgp32_smdp_personalise does both). */
int sgp32_upp_set_iccid(const uint8_t *upp, size_t len, const char *digits, sgp32_buf *out);

/* Files of the profile's file system whose content the SM-DP+ personalises (lib/smdp/upp_personalise.c):
 * EF.ICCID in the MF element (PE-MF ef-iccid), EF.IMSI in the USIM element (PE-USIM ef-imsi). */
typedef enum sgp32_upp_file {
    SGP32_UPP_EF_ICCID,
    SGP32_UPP_EF_IMSI,
} sgp32_upp_file;
/* Where the file's content (its one fillFileContent) is: offset into upp and size. SGP32_ERR_ASN1_MISSING
 * when the element, the file or its content is absent; SGP32_ERR_UNSUPPORTED when the content is split
 * (several fillFileContent, a non-zero fillFileOffset); SGP32_ERR_ASN1_* when the DER is malformed. */
int sgp32_upp_find_file(const uint8_t *upp, size_t len, sgp32_upp_file file, size_t *offset, size_t *size);
/* The digits of EF.ICCID (10 bytes, nibble-swapped BCD, F padded); SGP32_ERR_ASN1_SIZE for another size. */
int sgp32_upp_ef_iccid(const uint8_t *upp, size_t len, char digits[21]);
/* The digits of EF.IMSI (9 bytes: length, TS 24.008 mobile identity of type IMSI). */
int sgp32_upp_ef_imsi(const uint8_t *upp, size_t len, char digits[16]);
/* Rewrite in place EF.ICCID to the ICCID digits (18..20) and, when imsi is not NULL, EF.IMSI to the IMSI
 * digits (6..15). Only those content bytes change; every length stays. A package whose file is missing,
 * split or not 10 (EF.IMSI: 9) bytes is refused and left untouched. */
int sgp32_upp_set_files(uint8_t *upp, size_t len, const char *iccid, const char *imsi);

/* The AKA keys of one subscription (lib/smdp/upp_personalise.c): Ki and OPc, 16 bytes each (Milenage, 3GPP
 * TS 35.206; the USIM test algorithm of TS 34.108 §8.1.2 uses Ki and ignores OPc). */
enum {
    SGP32_UPP_AKA_KEY_LEN = 16,
    SGP32_UPP_AKA_MAX = 8, /* akaParameter elements with their own keys in one profile (USIM, ISIM, ...) */
    SGP32_UPP_AKA_MILENAGE = 1,            /* AlgoParameter algorithmID milenage(1) */
    SGP32_UPP_AKA_USIM_TEST_ALGORITHM = 3, /* ... usim-test-algorithm(3) (the TS.48 test profiles') */
};
typedef struct sgp32_upp_aka_keys {
    uint8_t ki[SGP32_UPP_AKA_KEY_LEN];
    uint8_t opc[SGP32_UPP_AKA_KEY_LEN];
} sgp32_upp_aka_keys;
/* Where the AKA keys of a profile are: the akaParameter elements (PE-AKAParameter A4) whose algoConfiguration
 * is an algoParameter (A1 {80 algorithmID, 81 algorithmOptions, 82 key, 83 opc, ...}), one per NAA that has
 * its own keys (the TS.48 profiles have two: the USIM's and the ISIM's, with the same Ki and OPc). Elements
 * with a mappingParameter (an NAA that uses another one's keys) carry no key and are only counted. */
typedef struct sgp32_upp_aka {
    size_t count;      /* akaParameter elements with an algoParameter */
    size_t mapped;     /* akaParameter elements with a mappingParameter */
    int64_t algorithm; /* the algorithmID they all share: SGP32_UPP_AKA_MILENAGE or ..._USIM_TEST_ALGORITHM */
    size_t key_at[SGP32_UPP_AKA_MAX], opc_at[SGP32_UPP_AKA_MAX]; /* offsets of the 16 bytes of each */
} sgp32_upp_aka;
/* Find the keys. Refused (the profile cannot take one Ki/OPc pair):
 *   SGP32_ERR_ASN1_MISSING   no akaParameter with an algoParameter, or one without algorithmID, key or opc
 *   SGP32_ERR_ASN1_SIZE      a key or an opc that is not 16 bytes
 *   SGP32_ERR_UNSUPPORTED    an algorithm other than Milenage or the USIM test algorithm (TUAK), NAAs with
 *                            different keys or algorithms (one pair cannot fill them), more than
 *                            SGP32_UPP_AKA_MAX elements
 *   SGP32_ERR_ASN1_*         malformed DER, an unknown algoConfiguration alternative, a repeated field */
int sgp32_upp_find_aka(const uint8_t *upp, size_t len, sgp32_upp_aka *aka);
/* Rewrite in place the key and opc of every akaParameter with an algoParameter (sgp32_upp_find_aka) to keys.
 * Only those bytes change; a refused package is left untouched. */
int sgp32_upp_set_aka(uint8_t *upp, size_t len, const sgp32_upp_aka_keys *keys);

/* The ES10 segments of a BPP, in the order an IPA sends them (NOTES §5.2):
 *   BF36 tag+length with the whole BF23; the whole A0; the A1 tag+length; each 88; the whole A2
 *   (if present); the A3 tag+length; each 86. Segments are views into the BPP. */
typedef struct sgp32_bpp_segmenter {
    const uint8_t *bpp;
    size_t len;
    size_t pos;           /* next byte to hand out */
    size_t bpp_end;       /* end of the BF36 value */
    size_t container_end; /* end of the A1/A3 being walked; 0 outside */
} sgp32_bpp_segmenter;

int sgp32_bpp_segmenter_init(sgp32_bpp_segmenter *it, const uint8_t *bpp, size_t len);
/* The next segment; SGP32_ERR_NOT_FOUND after the last, SGP32_ERR_ASN1_* when the BPP is malformed. */
int sgp32_bpp_segmenter_next(sgp32_bpp_segmenter *it, sgp32_bytes *segment);

#endif

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
 * header changes (EF.ICCID inside the profile is left as it is: personalising it is the SM-DP+'s
 * profile generation, not this helper). */
int sgp32_upp_set_iccid(const uint8_t *upp, size_t len, const char *digits, sgp32_buf *out);

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

/*
 * The ISD-R behind ISO 7816 APDUs (ISO/IEC 7816-4, ETSI TS 102 221, GlobalPlatform
 * STORE DATA as profiled by SGP.22 §5.7 and SGP.32 §5.9; NOTES §5.1).
 *
 * What the card understands:
 *
 *   MANAGE CHANNEL     0x 70 00 00 [Le]      open, the card picks the channel: <ch> 9000
 *                      0x 70 00 ch           open channel ch (1-19): 9000
 *                      0x 70 80 ch           close channel ch (1-19): 9000
 *   SELECT             0x/8x A4 04 P2 Lc AID [Le]  P2 00 FCI, 04 FCP, 0C no data; the AID may be
 *                      right-truncated (at least 5 bytes)
 *   TERMINAL CAPABILITY  8x AA 00 00 Lc TLVs: 9000
 *   STORE DATA         8x E2 11|91 block Lc data [Le]  one ES10 request in 1..256 blocks
 *   GET RESPONSE       0x/8x C0 00 00 Le     the rest of the last response
 *
 * CLA: 0x-3x / 8x-Bx code channels 0-3 in b2-b1, 4x-7x / Cx-Fx channels 4-19 in b4-b1; b8 set
 * is the proprietary (GlobalPlatform) class that STORE DATA and TERMINAL CAPABILITY need.
 * Secure messaging and command chaining bits are not supported.
 *
 * When does a response come as "61xx, then GET RESPONSE" (T=0 style) and when as "data 9000"
 * (T=1 style)? The rule, the same for every command that has data to return:
 *   - Le absent (case 1/3 APDU, which is what a T=0 terminal sends): the card answers 61xx
 *     (xx = the bytes waiting, 00 when 256 or more) and keeps the data for GET RESPONSE.
 *   - Le present (case 2/4, a T=1 or APDU-level terminal): the card answers up to Le bytes
 *     (Le 00 = 256) followed by 9000, or by 61xx when more is waiting.
 * GET RESPONSE hands out up to Le bytes (more than waiting is fine: the rest comes with 9000),
 * and 61xx again while data remains. Waiting data is dropped by any command other than GET
 * RESPONSE on the same channel, and by a reset.
 *
 * Status words (and the choices made where standards leave room):
 *   9000  ok                           61xx  more data (GET RESPONSE)
 *   6700  wrong length: shorter than 4 bytes, Lc/Le inconsistent with the length, extended
 *         length (Lc byte 00 followed by data), data missing or present where the command
 *         has none, GET RESPONSE without Le
 *   6881  the channel in CLA is not open; MANAGE CHANNEL asks for a channel above 19
 *   6882  secure messaging bits set in CLA       6884  command chaining bit set in CLA
 *   6A81  MANAGE CHANNEL: P1 not 00/80, closing channel 0, no free channel (as a Java Card
 *         runtime answers)
 *   6A82  SELECT: no such application (the selection stays as it was)
 *   6A84  STORE DATA: the request would exceed EUICC_REQUEST_MAX (the chain is dropped; with
 *         256 blocks of at most 255 bytes this cannot happen today, the check guards the cap)
 *   6A86  wrong P1/P2: SELECT P1 not 04 or P2 not 00/04/0C, GET RESPONSE / TERMINAL CAPABILITY
 *         P1P2 not 0000, STORE DATA P1 not 11/91, MANAGE CHANNEL opening a channel that is
 *         open; and a STORE DATA block out of sequence (P2 is not the next block number of
 *         the chain on this channel, or not 00 when no chain is open): the chain of that
 *         channel is dropped
 *   6A80  bad data: the ES10 request cannot be parsed; TERMINAL CAPABILITY data not BER-TLV
 *   6A88  the ES10 tag names no function (or one this card does not implement)
 *   6985  conditions not satisfied: STORE DATA when the ISD-R is not selected on the channel,
 *         GET RESPONSE with nothing waiting on the channel; an ES10 function refusing in the
 *         current state (SGP32_ERR_STATE)
 *   6D00  unknown INS                            6E00  unknown CLA; STORE DATA or TERMINAL
 *                                                      CAPABILITY with an interindustry CLA
 *   6F00  the card failed internally (no memory, NVM write failure)
 * Checks run in that order: length, CLA, channel open, INS, lengths of the command, P1/P2,
 * conditions.
 *
 * STORE DATA chaining: block 00 always starts a new ES10 request (a chain left unfinished, on
 * this or another channel, is dropped); later blocks must continue the chain of the same
 * channel with consecutive numbers. P1 91 ends it: the reassembled request goes to
 * sgp32_euicc_es10. An empty ES10 response (intermediate LoadBoundProfilePackage segments)
 * answers 9000. SELECT or closing the channel drops a chain on that channel.
 *
 * Channels: the basic channel 0 is always open. A channel opened from channel 0 has nothing
 * selected (the default application of an eUICC is the enabled profile's, not the ISD-R); one
 * opened from channel n inherits n's selection (ISO 7816-4). Closing a channel that is not open
 * answers 9000. A reset (sgp32_euicc_reset) closes channels 1-19 and drops chains and waiting
 * data; the download session belongs to the ISD-R, not to a channel, and ends only with a reset
 * (or its own rules).
 */
#include <string.h>

#include "euicc_internal.h"

enum {
    INS_MANAGE_CHANNEL = 0x70,
    INS_SELECT = 0xA4,
    INS_TERMINAL_CAPABILITY = 0xAA,
    INS_GET_RESPONSE = 0xC0,
    INS_STORE_DATA = 0xE2,
    CHANNEL_COUNT = 20,
    MAX_SHORT_LE = 256,
    STORE_DATA_MORE = 0x11,
    STORE_DATA_LAST = 0x91,
};

enum {
    SW_OK = 0x9000,
    SW_MORE = 0x6100,
    SW_WRONG_LENGTH = 0x6700,
    SW_CHANNEL_NOT_SUPPORTED = 0x6881,
    SW_SECURE_MESSAGING_NOT_SUPPORTED = 0x6882,
    SW_CHAINING_NOT_SUPPORTED = 0x6884,
    SW_CONDITIONS_NOT_SATISFIED = 0x6985,
    SW_BAD_DATA = 0x6A80,
    SW_FUNCTION_NOT_SUPPORTED = 0x6A81,
    SW_FILE_NOT_FOUND = 0x6A82,
    SW_NOT_ENOUGH_MEMORY = 0x6A84,
    SW_WRONG_P1P2 = 0x6A86,
    SW_REFERENCED_DATA_NOT_FOUND = 0x6A88,
    SW_INS_NOT_SUPPORTED = 0x6D00,
    SW_CLA_NOT_SUPPORTED = 0x6E00,
    SW_TECHNICAL_PROBLEM = 0x6F00,
};

/* ISD-R AID (SGP.22 §2.2.3). */
static const uint8_t isdr_aid[16] = {0xA0, 0x00, 0x00, 0x05, 0x59, 0x10, 0x10, 0xFF,
                                     0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00, 0x01, 0x00};
enum { MIN_PARTIAL_AID = 5 }; /* RID: a shorter AID selects nothing */

/* The SGP.22 version announced in the ISD-R's proprietary template (E0). */
static const uint8_t isdr_svn[3] = {2, 5, 0};

/*
 * ATR: direct convention; TA1 96 (Fi 512, Di 32); TD1 80: T=0, TD2 follows; TD2 81: T=1, TD3
 * follows; TD3 1F: T=15, TA4 follows; TA4 C7 (clock stop any, classes A, B and C). Historical
 * bytes (compact TLV): 80, 31 E0 (card service data), 73 FE 21 1F (card capabilities: logical
 * channels assigned by the card, 8 or more), 63 3A 20 4E, 83 00 90 00 (status). TCK.
 */
static const uint8_t atr[] = {0x3B, 0x9F, 0x96, 0x80, 0x81, 0x1F, 0xC7, 0x80, 0x31, 0xE0, 0x73, 0xFE,
                              0x21, 0x1F, 0x63, 0x3A, 0x20, 0x4E, 0x83, 0x00, 0x90, 0x00, 0x16};

sgp32_bytes sgp32_euicc_atr(void)
{
    return (sgp32_bytes){atr, sizeof(atr)};
}

/* One command APDU, split (short APDUs only). */
typedef struct command {
    uint8_t cla, ins, p1, p2;
    const uint8_t *data;
    size_t lc;        /* 0 when there is no data field */
    bool has_le;      /* case 2 or 4 */
    size_t le;        /* 1..256 when has_le */
    int channel;      /* from CLA */
    bool proprietary; /* CLA b8 */
} command;

static int put_sw(sgp32_buf *response, unsigned sw)
{
    uint8_t b[2] = {(uint8_t)(sw >> 8), (uint8_t)sw};
    return sgp32_buf_append(response, b, 2);
}

/* ISO 7816-3 §12.1: cases 1, 2S, 3S, 4S; an Lc byte 00 with more bytes is extended length. */
static bool parse_lengths(const uint8_t *apdu, size_t len, command *c)
{
    c->data = NULL;
    c->lc = 0;
    c->has_le = false;
    c->le = 0;
    if (len == 4)
        return true;
    if (len == 5) {
        c->has_le = true;
        c->le = apdu[4] ? apdu[4] : MAX_SHORT_LE;
        return true;
    }
    size_t lc = apdu[4];
    if (lc == 0)
        return false; /* extended length: not supported */
    if (len == 5 + lc) {
        c->lc = lc;
        c->data = apdu + 5;
        return true;
    }
    if (len == 6 + lc) {
        c->lc = lc;
        c->data = apdu + 5;
        c->has_le = true;
        c->le = apdu[5 + lc] ? apdu[5 + lc] : MAX_SHORT_LE;
        return true;
    }
    return false;
}

/* CLA -> channel; 0 when valid, else the status word. */
static unsigned parse_cla(uint8_t cla, command *c)
{
    c->proprietary = (cla & 0x80) != 0;
    if ((cla & 0x40) == 0) { /* first interindustry values: 000x xxxx / 100x xxxx */
        if (cla & 0x20)
            return SW_CLA_NOT_SUPPORTED;
        if (cla & 0x10)
            return SW_CHAINING_NOT_SUPPORTED;
        if (cla & 0x0C)
            return SW_SECURE_MESSAGING_NOT_SUPPORTED;
        c->channel = cla & 0x03;
        return 0;
    }
    /* further interindustry values: 01xx xxxx / 11xx xxxx */
    if (cla == 0xFF)
        return SW_CLA_NOT_SUPPORTED; /* PPS, never a command */
    if (cla & 0x20)
        return SW_SECURE_MESSAGING_NOT_SUPPORTED;
    if (cla & 0x10)
        return SW_CHAINING_NOT_SUPPORTED;
    c->channel = 4 + (cla & 0x0F);
    return 0;
}

/* ------------------------------------------------------------ state helpers */

static void drop_chain(sgp32_euicc *euicc)
{
    sgp32_buf_reset(&euicc->store_data);
    euicc->store_data_channel = -1;
    euicc->store_data_next_block = 0;
}

static void drop_pending(sgp32_euicc *euicc)
{
    sgp32_buf_reset(&euicc->pending_response);
    euicc->pending_offset = 0;
    euicc->pending_channel = -1;
}

/*
 * Hand out what pending_response holds from pending_offset, by the Le rule of the header.
 * Returns the status word after appending any data to response.
 */
static int deliver(sgp32_euicc *euicc, const command *c, sgp32_buf *response, unsigned *sw)
{
    size_t waiting = euicc->pending_response.len - euicc->pending_offset;
    if (waiting == 0) {
        drop_pending(euicc);
        *sw = SW_OK;
        return SGP32_OK;
    }
    if (c->has_le) {
        size_t n = waiting < c->le ? waiting : c->le;
        int rc = sgp32_buf_append(response, euicc->pending_response.data + euicc->pending_offset, n);
        if (rc)
            return rc;
        euicc->pending_offset += n;
        waiting -= n;
        if (waiting == 0) {
            drop_pending(euicc);
            *sw = SW_OK;
            return SGP32_OK;
        }
    }
    euicc->pending_channel = c->channel;
    *sw = SW_MORE | (waiting >= MAX_SHORT_LE ? 0 : (unsigned)waiting);
    return SGP32_OK;
}

/* ------------------------------------------------------------ MANAGE CHANNEL */

static void close_channel(sgp32_euicc *euicc, int channel)
{
    euicc->channel_open[channel] = false;
    euicc->isdr_selected[channel] = false;
    if (euicc->store_data_channel == channel)
        drop_chain(euicc);
    if (euicc->pending_channel == channel)
        drop_pending(euicc);
}

static int manage_channel(sgp32_euicc *euicc, const command *c, sgp32_buf *response, unsigned *sw)
{
    if (c->lc) {
        *sw = SW_WRONG_LENGTH;
        return SGP32_OK;
    }
    if (c->p1 != 0x00 && c->p1 != 0x80) {
        *sw = SW_FUNCTION_NOT_SUPPORTED;
        return SGP32_OK;
    }
    if (c->p2 >= CHANNEL_COUNT) {
        *sw = SW_CHANNEL_NOT_SUPPORTED;
        return SGP32_OK;
    }
    if (c->p1 == 0x80) { /* close */
        if (c->p2 == 0) {
            *sw = SW_FUNCTION_NOT_SUPPORTED; /* the basic channel never closes */
            return SGP32_OK;
        }
        close_channel(euicc, c->p2);
        sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log, "logical channel %u closed", c->p2);
        *sw = SW_OK;
        return SGP32_OK;
    }
    int target = c->p2;
    if (target == 0) { /* the card assigns */
        for (int i = 1; i < CHANNEL_COUNT && target == 0; i++)
            if (!euicc->channel_open[i])
                target = i;
        if (target == 0) {
            *sw = SW_FUNCTION_NOT_SUPPORTED;
            return SGP32_OK;
        }
    } else if (euicc->channel_open[target]) {
        *sw = SW_WRONG_P1P2;
        return SGP32_OK;
    }
    euicc->channel_open[target] = true;
    euicc->isdr_selected[target] = c->channel != 0 && euicc->isdr_selected[c->channel];
    sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log, "logical channel %d opened", target);
    *sw = SW_OK;
    return c->p2 == 0 ? sgp32_buf_append_byte(response, (uint8_t)target) : SGP32_OK;
}

/* ------------------------------------------------------------------- SELECT */

/* The ISD-R's own templates: E0 (SGP.22 ISDRProprietaryApplicationTemplate) and E1 (SGP.32
 * ISDRProprietaryApplicationTemplateIoT). Placed after A5 in the FCI/FCP (placement per the
 * public traces we know of; unverified against a certified card). */
static int write_isdr_templates(sgp32_euicc *euicc, sgp32_buf *out)
{
    sgp32_isdr_proprietary_application_template e0 = {0};
    e0.svn = (sgp32_bytes){isdr_svn, sizeof(isdr_svn)};
    int rc = sgp32_asn1_encode(&sgp32_type_isdr_proprietary_application_template, &e0, out);
    if (rc)
        return rc;
    sgp32_isdr_proprietary_application_template_io_t e1 = {0};
    if (euicc_enabled_profile(euicc))
        e1.euicc_configuration |=
            SGP32_ISDR_PROPRIETARY_APPLICATION_TEMPLATE_IO_T_EUICC_CONFIGURATION_ENABLED_PROFILE;
    return sgp32_asn1_encode(&sgp32_type_isdr_proprietary_application_template_io_t, &e1, out);
}

/* FCI (6F) or FCP (62): 84 AID, A5 {9F65 max command data}, E0, E1; the FCP adds a file
 * descriptor (82 01 38: DF) and the life cycle (8A 01 05: operational, activated). */
static int write_select_response(sgp32_euicc *euicc, bool fcp, sgp32_buf *out)
{
    static const uint8_t max_data[] = {0xFF};
    size_t outer = sgp32_asn1_begin(out);
    int rc = SGP32_OK;
    if (fcp)
        rc = sgp32_asn1_write_tlv(out, 0x82, (const uint8_t *)"\x38", 1);
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, 0x84, isdr_aid, sizeof(isdr_aid));
    size_t a5 = sgp32_asn1_begin(out);
    if (!rc)
        rc = sgp32_asn1_write_tlv(out, 0x9F65, max_data, sizeof(max_data));
    if (!rc)
        rc = sgp32_asn1_end(out, 0xA5, a5);
    if (!rc && fcp)
        rc = sgp32_asn1_write_tlv(out, 0x8A, (const uint8_t *)"\x05", 1);
    if (!rc)
        rc = write_isdr_templates(euicc, out);
    if (!rc)
        rc = sgp32_asn1_end(out, fcp ? 0x62 : 0x6F, outer);
    return rc;
}

static int select_application(sgp32_euicc *euicc, const command *c, sgp32_buf *response, unsigned *sw)
{
    if (c->lc == 0) {
        *sw = SW_WRONG_LENGTH;
        return SGP32_OK;
    }
    if (c->p1 != 0x04 || (c->p2 != 0x00 && c->p2 != 0x04 && c->p2 != 0x0C)) {
        *sw = SW_WRONG_P1P2;
        return SGP32_OK;
    }
    if (c->lc < MIN_PARTIAL_AID || c->lc > sizeof(isdr_aid) || memcmp(c->data, isdr_aid, c->lc) != 0) {
        sgp32_log_hex(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log, "SELECT of an unknown application",
                      c->data, c->lc);
        *sw = SW_FILE_NOT_FOUND;
        return SGP32_OK;
    }
    euicc->isdr_selected[c->channel] = true;
    if (euicc->store_data_channel == c->channel)
        drop_chain(euicc);
    sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log, "ISD-R selected on channel %d", c->channel);
    if (c->p2 == 0x0C) {
        *sw = SW_OK;
        return SGP32_OK;
    }
    drop_pending(euicc);
    if (write_select_response(euicc, c->p2 == 0x04, &euicc->pending_response) != SGP32_OK) {
        drop_pending(euicc);
        *sw = SW_TECHNICAL_PROBLEM;
        return SGP32_OK;
    }
    return deliver(euicc, c, response, sw);
}

/* ------------------------------------------------------ TERMINAL CAPABILITY */

/* BER-TLV well-formedness only (ETSI TS 102 221 §11.1.19: A9 {80 .., 81 .., 82 .., 83 ..}); the
 * content is informative for this card. */
static bool ber_tlvs_ok(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (p[i] == 0x00 || p[i] == 0xFF) { /* padding between TLVs */
            i++;
            continue;
        }
        if ((p[i++] & 0x1F) == 0x1F) {
            size_t tag_bytes = 0;
            do {
                if (i >= len || ++tag_bytes > 3)
                    return false;
            } while (p[i++] & 0x80);
        }
        if (i >= len)
            return false;
        size_t value_len = p[i++];
        if (value_len & 0x80) {
            size_t n = value_len & 0x7F;
            if (n == 0 || n > 3 || len - i < n)
                return false;
            value_len = 0;
            while (n--)
                value_len = value_len << 8 | p[i++];
        }
        if (len - i < value_len)
            return false;
        i += value_len;
    }
    return true;
}

static unsigned terminal_capability(sgp32_euicc *euicc, const command *c)
{
    if (c->lc == 0)
        return SW_WRONG_LENGTH;
    if (c->p1 != 0 || c->p2 != 0)
        return SW_WRONG_P1P2;
    if (!ber_tlvs_ok(c->data, c->lc))
        return SW_BAD_DATA;
    sgp32_log_hex(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log, "TERMINAL CAPABILITY", c->data, c->lc);
    return SW_OK;
}

/* ---------------------------------------------------------------- STORE DATA */

/* An ES10 failure as a status word (sgp32_euicc_es10 and euicc_internal.h). */
static unsigned es10_error_sw(int rc)
{
    switch (rc) {
    case SGP32_ERR_NOT_FOUND:
    case SGP32_ERR_UNSUPPORTED: return SW_REFERENCED_DATA_NOT_FOUND;
    case SGP32_ERR_STATE: return SW_CONDITIONS_NOT_SATISFIED;
    case SGP32_ERR_NO_MEMORY:
    case SGP32_ERR_IO:
    case SGP32_ERR_STORE:
    case SGP32_ERR_STORE_CORRUPT:
    case SGP32_ERR_STORE_VERSION:
    case SGP32_ERR_CRYPTO: return SW_TECHNICAL_PROBLEM;
    default: return SW_BAD_DATA;
    }
}

static int store_data(sgp32_euicc *euicc, const command *c, sgp32_buf *response, unsigned *sw)
{
    if (c->lc == 0) {
        *sw = SW_WRONG_LENGTH;
        return SGP32_OK;
    }
    if (c->p1 != STORE_DATA_MORE && c->p1 != STORE_DATA_LAST) {
        *sw = SW_WRONG_P1P2;
        return SGP32_OK;
    }
    if (!euicc->isdr_selected[c->channel]) {
        *sw = SW_CONDITIONS_NOT_SATISFIED;
        return SGP32_OK;
    }
    if (c->p2 == 0) {
        if (euicc->store_data_channel >= 0)
            sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log,
                      "STORE DATA block 00 on channel %d: the unfinished request of channel %d (%zu bytes) "
                      "is dropped",
                      c->channel, euicc->store_data_channel, euicc->store_data.len);
        drop_chain(euicc);
        euicc->store_data_channel = c->channel;
    } else if (euicc->store_data_channel != c->channel || c->p2 != euicc->store_data_next_block) {
        if (euicc->store_data_channel < 0)
            sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log,
                      "STORE DATA block %02X on channel %d: no request is being chained (first block 00)",
                      c->p2, c->channel);
        else if (euicc->store_data_channel != c->channel)
            sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log,
                      "STORE DATA block %02X on channel %d: the request being chained is channel %d's", c->p2,
                      c->channel, euicc->store_data_channel);
        else
            sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log,
                      "STORE DATA block %02X on channel %d out of sequence (block %u expected)", c->p2,
                      c->channel, euicc->store_data_next_block);
        if (euicc->store_data_channel == c->channel)
            drop_chain(euicc); /* a chain of another channel is not this block's business */
        *sw = SW_WRONG_P1P2;
        return SGP32_OK;
    }
    int rc = sgp32_buf_append(&euicc->store_data, c->data, c->lc);
    if (rc) {
        sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EUICC, &euicc->log, "STORE DATA request over %d bytes: dropped",
                  (int)EUICC_REQUEST_MAX);
        drop_chain(euicc);
        *sw = rc == SGP32_ERR_CAPACITY ? SW_NOT_ENOUGH_MEMORY : SW_TECHNICAL_PROBLEM;
        return SGP32_OK;
    }
    euicc->store_data_next_block = c->p2 + 1u;
    if (c->p1 == STORE_DATA_MORE) {
        *sw = SW_OK;
        return SGP32_OK;
    }

    /* The last block: one ES10 function, its response kept for delivery. */
    drop_pending(euicc);
    sgp32_log_hex(SGP32_LOG_TRACE, SGP32_LOG_EUICC, &euicc->log, "ES10 request", euicc->store_data.data,
                  euicc->store_data.len);
    rc = sgp32_euicc_es10(euicc, euicc->store_data.data, euicc->store_data.len, &euicc->pending_response);
    drop_chain(euicc);
    if (rc) {
        drop_pending(euicc);
        *sw = es10_error_sw(rc);
        sgp32_log(SGP32_LOG_INFO, SGP32_LOG_EUICC, &euicc->log, "ES10 request refused (%s): SW %04X",
                  sgp32_err_str(rc), *sw);
        return SGP32_OK;
    }
    sgp32_log_hex(SGP32_LOG_TRACE, SGP32_LOG_EUICC, &euicc->log, "ES10 response",
                  euicc->pending_response.data, euicc->pending_response.len);
    return deliver(euicc, c, response, sw);
}

/* -------------------------------------------------------------- GET RESPONSE */

static int get_response(sgp32_euicc *euicc, const command *c, sgp32_buf *response, unsigned *sw)
{
    if (c->lc || !c->has_le) {
        *sw = SW_WRONG_LENGTH;
        return SGP32_OK;
    }
    if (c->p1 != 0 || c->p2 != 0) {
        *sw = SW_WRONG_P1P2;
        return SGP32_OK;
    }
    if (euicc->pending_channel != c->channel || euicc->pending_offset >= euicc->pending_response.len) {
        *sw = SW_CONDITIONS_NOT_SATISFIED;
        return SGP32_OK;
    }
    return deliver(euicc, c, response, sw);
}

/* ------------------------------------------------------------------- transmit */

static int dispatch(sgp32_euicc *euicc, const uint8_t *apdu, size_t len, sgp32_buf *response, unsigned *sw)
{
    command c = {0};
    if (len < 4) {
        *sw = SW_WRONG_LENGTH;
        return SGP32_OK;
    }
    c.cla = apdu[0];
    c.ins = apdu[1];
    c.p1 = apdu[2];
    c.p2 = apdu[3];
    bool lengths_ok = parse_lengths(apdu, len, &c);

    /* Waiting response data lives until the next command that is not its GET RESPONSE. */
    if (c.ins != INS_GET_RESPONSE)
        drop_pending(euicc);

    if ((*sw = parse_cla(c.cla, &c)) != 0)
        return SGP32_OK;
    if (c.channel >= CHANNEL_COUNT || !euicc->channel_open[c.channel]) {
        *sw = SW_CHANNEL_NOT_SUPPORTED;
        return SGP32_OK;
    }
    switch (c.ins) {
    case INS_MANAGE_CHANNEL:
    case INS_SELECT:
    case INS_GET_RESPONSE: break; /* both classes (NOTES §5.1: 0x and 8x are both seen) */
    case INS_TERMINAL_CAPABILITY:
    case INS_STORE_DATA:
        if (!c.proprietary) {
            *sw = SW_CLA_NOT_SUPPORTED;
            return SGP32_OK;
        }
        break;
    default: *sw = SW_INS_NOT_SUPPORTED; return SGP32_OK;
    }
    if (!lengths_ok) {
        *sw = SW_WRONG_LENGTH;
        return SGP32_OK;
    }
    switch (c.ins) {
    case INS_MANAGE_CHANNEL: return manage_channel(euicc, &c, response, sw);
    case INS_SELECT: return select_application(euicc, &c, response, sw);
    case INS_TERMINAL_CAPABILITY: *sw = terminal_capability(euicc, &c); return SGP32_OK;
    case INS_STORE_DATA: return store_data(euicc, &c, response, sw);
    default: return get_response(euicc, &c, response, sw);
    }
}

int sgp32_euicc_transmit(sgp32_euicc *euicc, const uint8_t *command_apdu, size_t command_len,
                         sgp32_buf *response)
{
    if (!euicc || !response || (!command_apdu && command_len))
        return SGP32_ERR_INVALID_ARGUMENT;
    euicc->channel_open[0] = true; /* the basic channel is always there (also before any reset) */
    sgp32_log_hex(SGP32_LOG_TRACE, SGP32_LOG_EUICC, &euicc->log, "C-APDU", command_apdu, command_len);
    size_t before = response->len;
    unsigned sw = SW_OK;
    /* dispatch fails only when the caller's response buffer cannot take the answer. */
    int rc = dispatch(euicc, command_apdu, command_len, response, &sw);
    if (!rc)
        rc = put_sw(response, sw);
    if (rc) {
        response->len = before;
        return rc;
    }
    sgp32_log_hex(SGP32_LOG_TRACE, SGP32_LOG_EUICC, &euicc->log, "R-APDU", response->data + before,
                  response->len - before);
    return SGP32_OK;
}

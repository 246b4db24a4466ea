/*
 * pcsc_read_eid: read an eUICC's EID through PC/SC (pcsclite), as an IPA would.
 *
 *   pcsc_read_eid [--reader TEXT] [--wait SECONDS] [--protocol t0|t1|any] [--basic] [--unpower]
 *
 * Lists the readers, takes the first whose name contains TEXT (default: any) and holds a
 * card, connects (T=0 or T=1, as offered), opens a logical channel (--basic: uses channel 0),
 * SELECTs the ISD-R, sends STORE DATA GetEID (BF3E 03 5C 01 5A), collects 61xx answers with
 * GET RESPONSE and prints "EID <32 digits>". --wait keeps looking for the reader and card for
 * that long (pcscd may still be starting). --unpower powers the card down at the end (pcscd
 * keeps the protocol it negotiated until then). Exit status 0 ok, 1 failure, 2 usage.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <winscard.h>

static SCARDCONTEXT context;
static SCARDHANDLE card;
static DWORD protocol;

static void print_hex(const char *label, const BYTE *data, DWORD len)
{
    printf("%s", label);
    for (DWORD i = 0; i < len; i++)
        printf("%02X", data[i]);
    printf("\n");
}

/* One APDU; 61xx answers collected with GET RESPONSE, 6Cxx repeated with Le xx. Returns SW. */
static long transmit(const BYTE *apdu, DWORD len, BYTE *out, DWORD *out_len, DWORD out_max)
{
    BYTE command[261], answer[258];
    memcpy(command, apdu, len);
    *out_len = 0;
    const SCARD_IO_REQUEST *pci = protocol == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
    for (int rounds = 0; rounds < 300; rounds++) {
        DWORD n = sizeof(answer);
        print_hex("> ", command, len);
        LONG rc = SCardTransmit(card, pci, command, len, NULL, answer, &n);
        if (rc != SCARD_S_SUCCESS) {
            fprintf(stderr, "pcsc_read_eid: SCardTransmit: %s\n", pcsc_stringify_error(rc));
            return -1;
        }
        print_hex("< ", answer, n);
        if (n < 2 || *out_len + n - 2 > out_max)
            return -1;
        memcpy(out + *out_len, answer, n - 2);
        *out_len += n - 2;
        BYTE sw1 = answer[n - 2], sw2 = answer[n - 1];
        BYTE cla = (apdu[0] & 0x40) ? (BYTE)(0x40 | (apdu[0] & 0x0F)) : (BYTE)(apdu[0] & 0x03);
        if (sw1 == 0x61) {
            BYTE get[5] = {cla, 0xC0, 0x00, 0x00, sw2};
            memcpy(command, get, 5);
            len = 5;
        } else if (sw1 == 0x6C && len == 5) {
            command[4] = sw2;
        } else {
            return (long)sw1 << 8 | sw2;
        }
    }
    return -1;
}

static int connect_card(const char *wanted, double wait, DWORD protocols, char *reader_name, size_t name_size)
{
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    LONG last = SCARD_S_SUCCESS;
    for (;;) {
        char readers[4096];
        DWORD size = sizeof(readers);
        last = SCardListReaders(context, NULL, readers, &size);
        if (last == SCARD_S_SUCCESS) {
            for (char *r = readers; *r; r += strlen(r) + 1) {
                if (wanted && !strstr(r, wanted))
                    continue;
                LONG rc = SCardConnect(context, r, SCARD_SHARE_SHARED, protocols, &card, &protocol);
                if (rc == SCARD_S_SUCCESS) {
                    size_t n = strlen(r) < name_size - 1 ? strlen(r) : name_size - 1;
                    memcpy(reader_name, r, n); /* the name is only shown: cutting it is fine */
                    reader_name[n] = '\0';
                    return 0;
                }
                if (rc != SCARD_E_NO_SMARTCARD || last == SCARD_S_SUCCESS)
                    last = rc; /* an empty second slot says less than a real refusal */
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9 >= wait)
            break;
        struct timespec pause = {0, 100 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    fprintf(stderr, "pcsc_read_eid: no reader%s%s%s with a card: %s\n", wanted ? " matching '" : "",
            wanted ? wanted : "", wanted ? "'" : "", pcsc_stringify_error(last));
    return -1;
}

int main(int argc, char **argv)
{
    const char *wanted = NULL;
    double wait = 0;
    DWORD protocols = SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1;
    bool basic = false;
    DWORD disposition = SCARD_LEAVE_CARD;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reader") && i + 1 < argc)
            wanted = argv[++i];
        else if (!strcmp(argv[i], "--wait") && i + 1 < argc)
            wait = atof(argv[++i]);
        else if (!strcmp(argv[i], "--protocol") && i + 1 < argc) {
            const char *p = argv[++i];
            protocols = !strcmp(p, "t0")   ? SCARD_PROTOCOL_T0
                        : !strcmp(p, "t1") ? SCARD_PROTOCOL_T1
                                           : SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1;
        } else if (!strcmp(argv[i], "--basic"))
            basic = true;
        else if (!strcmp(argv[i], "--unpower"))
            disposition = SCARD_UNPOWER_CARD;
        else {
            fprintf(stderr, "usage: pcsc_read_eid [--reader TEXT] [--wait SECONDS] [--protocol t0|t1|any] "
                            "[--basic] [--unpower]\n");
            return 2;
        }
    }
    LONG rc = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &context);
    if (rc != SCARD_S_SUCCESS) {
        fprintf(stderr, "pcsc_read_eid: no PC/SC service (is pcscd running?): %s\n",
                pcsc_stringify_error(rc));
        return 1;
    }
    int status = 1;
    char reader[512];
    if (connect_card(wanted, wait, protocols, reader, sizeof(reader)) != 0)
        goto out_context;
    BYTE atr[64];
    DWORD atr_len = sizeof(atr), state, proto, name_len = 0;
    if (SCardStatus(card, NULL, &name_len, &state, &proto, atr, &atr_len) == SCARD_S_SUCCESS)
        print_hex("ATR ", atr, atr_len);
    printf("reader %s, protocol T=%d\n", reader, protocol == SCARD_PROTOCOL_T0 ? 0 : 1);

    BYTE data[1024];
    DWORD n;
    int channel = 0;
    if (!basic) {
        static const BYTE open_channel[] = {0x00, 0x70, 0x00, 0x00, 0x01};
        long sw = transmit(open_channel, sizeof(open_channel), data, &n, sizeof(data));
        if (sw != 0x9000 || n != 1) {
            fprintf(stderr, "pcsc_read_eid: MANAGE CHANNEL answered %04lX\n", sw & 0xFFFF);
            goto out_card;
        }
        channel = data[0];
    }
    BYTE cla = channel < 4 ? (BYTE)channel : (BYTE)(0x40 | (channel - 4));
    BYTE select[] = {cla,  0xA4, 0x04, 0x00, 0x10, 0xA0, 0x00, 0x00, 0x05, 0x59, 0x10,
                     0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00, 0x01, 0x00};
    long sw = transmit(select, sizeof(select), data, &n, sizeof(data));
    if (sw != 0x9000) {
        fprintf(stderr, "pcsc_read_eid: SELECT ISD-R answered %04lX\n", sw & 0xFFFF);
        goto out_channel;
    }
    BYTE get_eid[] = {(BYTE)(cla | 0x80), 0xE2, 0x91, 0x00, 0x06, 0xBF, 0x3E, 0x03, 0x5C, 0x01, 0x5A};
    sw = transmit(get_eid, sizeof(get_eid), data, &n, sizeof(data));
    if (sw != 0x9000 || n != 21 || data[0] != 0xBF || data[1] != 0x3E || data[3] != 0x5A || data[4] != 0x10) {
        fprintf(stderr, "pcsc_read_eid: GetEID answered %04lX with %lu bytes\n", sw & 0xFFFF,
                (unsigned long)n);
        goto out_channel;
    }
    printf("EID ");
    for (int i = 5; i < 21; i++)
        printf("%02X", data[i]);
    printf("\n");
    status = 0;
out_channel:
    if (channel) {
        BYTE close_channel[] = {0x00, 0x70, 0x80, (BYTE)channel, 0x00};
        if (transmit(close_channel, sizeof(close_channel), data, &n, sizeof(data)) != 0x9000)
            status = 1;
    }
out_card:
    SCardDisconnect(card, disposition);
out_context:
    SCardReleaseContext(context);
    return status;
}

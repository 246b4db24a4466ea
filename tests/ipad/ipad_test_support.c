#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ipad_test_support.h"
#include "sgp32/asn1_types.h"

void ipad_test_write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

char *ipad_test_read_text(const char *path)
{
    static char text[1 << 16];
    FILE *f = fopen(path, "r");
    text[0] = 0;
    if (!f)
        return text;
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = 0;
    fclose(f);
    return text;
}

int ipad_test_run(char *const argv[], const char *log)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

sgp32_apdu_transport *ipad_test_card_open(const char *socket_dir, const char *pcsc_reader)
{
    if (pcsc_reader) {
        sgp32_apdu_pcsc_config pc = {.reader = pcsc_reader, .card_wait_ms = 10000};
        sgp32_apdu_transport *t;
        assert_int_equal(sgp32_apdu_pcsc_new(&pc, &t), SGP32_OK);
        sgp32_buf atr;
        sgp32_buf_init(&atr, 64);
        assert_int_equal(sgp32_apdu_transport_open(t, &atr), SGP32_OK);
        sgp32_buf_free(&atr);
        return t;
    }
    char endpoint[300];
    snprintf(endpoint, sizeof(endpoint), "unix:%s/card.sock", socket_dir);
    sgp32_apdu_socket_config c = {.endpoint = endpoint, .connect_wait_ms = 10000};
    sgp32_apdu_transport *t;
    assert_int_equal(sgp32_apdu_socket_new(&c, &t), SGP32_OK);
    sgp32_buf atr;
    sgp32_buf_init(&atr, 64);
    assert_int_equal(sgp32_apdu_transport_open(t, &atr), SGP32_OK);
    sgp32_buf_free(&atr);
    return t;
}

unsigned ipad_test_apdu(sgp32_apdu_transport *t, const uint8_t *cmd, size_t len, sgp32_buf *out)
{
    sgp32_buf rsp;
    sgp32_buf_init(&rsp, SGP32_APDU_RESPONSE_MAX);
    assert_int_equal(sgp32_apdu_transport_transmit(t, cmd, len, &rsp), SGP32_OK);
    for (;;) {
        assert_true(rsp.len >= 2);
        unsigned sw = (unsigned)rsp.data[rsp.len - 2] << 8 | rsp.data[rsp.len - 1];
        if (out)
            assert_int_equal(sgp32_buf_append(out, rsp.data, rsp.len - 2), SGP32_OK);
        if ((sw & 0xFF00) != 0x6100) {
            sgp32_buf_free(&rsp);
            return sw;
        }
        uint8_t gr[5] = {0x00, 0xC0, 0x00, 0x00, (uint8_t)sw};
        assert_int_equal(sgp32_apdu_transport_transmit(t, gr, 5, &rsp), SGP32_OK);
    }
}

void ipad_test_es10(sgp32_apdu_transport *t, const uint8_t *cmd, size_t len, sgp32_buf *out)
{
    static const uint8_t select[] = {0x00, 0xA4, 0x04, 0x00, 0x10, 0xA0, 0x00, 0x00, 0x05, 0x59, 0x10,
                                     0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00, 0x01, 0x00};
    assert_int_equal(ipad_test_apdu(t, select, sizeof(select), NULL), 0x9000);
    size_t off = 0;
    uint8_t block = 0;
    sgp32_buf_reset(out);
    do {
        size_t n = len - off > 255 ? 255 : len - off;
        bool last = off + n == len;
        uint8_t c[5 + 255];
        c[0] = 0x80;
        c[1] = 0xE2;
        c[2] = last ? 0x91 : 0x11;
        c[3] = block++;
        c[4] = (uint8_t)n;
        memcpy(c + 5, cmd + off, n);
        off += n;
        unsigned sw = ipad_test_apdu(t, c, 5 + n, last ? out : NULL);
        assert_int_equal(sw, 0x9000);
    } while (off < len);
}

void ipad_test_associate(sgp32_apdu_transport *t, const char *eim_id, const char *address,
                         const sgp32_ec_public_key *pub, ipad_test_association *out)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, 1 << 20);
    sgp32_eim_configuration_data c;
    memset(&c, 0, sizeof(c));
    c.eim_id = (sgp32_bytes){(const uint8_t *)eim_id, strlen(eim_id)};
    c.has_eim_fqdn = true;
    c.eim_fqdn = (sgp32_bytes){(const uint8_t *)address, strlen(address)};
    c.has_eim_id_type = true;
    c.eim_id_type = SGP32_EIM_ID_TYPE_EIM_ID_TYPE_FQDN;
    c.has_counter_value = true;
    c.has_association_token = true;
    c.association_token = -1;
    sgp32_buf spki, b, resp;
    sgp32_buf_init(&spki, 256);
    sgp32_buf_init(&b, 4096);
    sgp32_buf_init(&resp, 1 << 16);
    assert_int_equal(sgp32_ec_public_to_spki(pub, &spki), SGP32_OK);
    c.has_eim_public_key_data = true;
    c.eim_public_key_data.choice = SGP32_EIM_CONFIGURATION_DATA_EIM_PUBLIC_KEY_DATA_EIM_PUBLIC_KEY;
    c.eim_public_key_data.u.eim_public_key = sgp32_buf_bytes(&spki);
    sgp32_add_initial_eim_request req;
    memset(&req, 0, sizeof(req));
    req.eim_configuration_data_list.items = &c;
    req.eim_configuration_data_list.count = 1;
    assert_int_equal(sgp32_asn1_encode(&sgp32_type_add_initial_eim_request, &req, &b), SGP32_OK);

    ipad_test_es10(t, b.data, b.len, &resp);
    sgp32_add_initial_eim_response r;
    assert_int_equal(sgp32_asn1_decode(&sgp32_type_add_initial_eim_response, resp.data, resp.len, &arena, &r),
                     SGP32_OK);
    assert_int_equal(r.choice, SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_OK);
    out->has_token = r.u.add_initial_eim_ok.items[0].choice ==
                     SGP32_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_OK_ITEM_ASSOCIATION_TOKEN;
    out->token = out->has_token ? r.u.add_initial_eim_ok.items[0].u.association_token : 0;

    static const uint8_t get_eid[] = {0xBF, 0x3E, 0x03, 0x5C, 0x01, 0x5A};
    ipad_test_es10(t, get_eid, sizeof(get_eid), &resp);
    assert_true(resp.len >= 21);
    assert_int_equal(resp.data[3], 0x5A);
    memcpy(out->eid, resp.data + 5, 16);
    sgp32_buf_free(&spki);
    sgp32_buf_free(&b);
    sgp32_buf_free(&resp);
    sgp32_arena_free(&arena);
}

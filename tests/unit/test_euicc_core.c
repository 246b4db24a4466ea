/* lib/euicc core: opening, manufacture, state persistence (codec, stores, power cycles). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../lib/euicc/euicc_internal.h"
#include "euicc_fixture.h"
#include "sgp32/eid.h"

static void opens_with_the_sgp26_identity_and_a_bootstrap_profile(void **state)
{
    (void)state;
    euicc_fixture f;
    assert_int_equal(euicc_fixture_open(&f), SGP32_OK);
    char eid[33];
    assert_int_equal(sgp32_eid_to_text(sgp32_euicc_eid(f.euicc), eid), SGP32_OK);
    assert_string_equal(eid, EUICC_FIXTURE_EID);
    char iccid[21];
    assert_int_equal(sgp32_euicc_enabled_iccid(f.euicc, iccid), SGP32_OK);
    assert_string_equal(iccid, EUICC_FIXTURE_BOOTSTRAP_ICCID);
    assert_true(sgp32_euicc_test_can_attach(f.euicc));
    assert_int_equal(sgp32_euicc_test_set_unable_to_attach(f.euicc, EUICC_FIXTURE_BOOTSTRAP_ICCID, true),
                     SGP32_OK);
    assert_false(sgp32_euicc_test_can_attach(f.euicc));
    /* The switch is state: it survives a power cycle. */
    assert_int_equal(euicc_fixture_reopen(&f), SGP32_OK);
    assert_false(sgp32_euicc_test_can_attach(f.euicc));
    assert_int_equal(sgp32_euicc_test_set_unable_to_attach(f.euicc, "8900000000000000999", true),
                     SGP32_ERR_NOT_FOUND);
    euicc_fixture_close(&f);
}

static void state_codec_round_trips_every_field(void **state)
{
    (void)state;
    euicc_state *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    a->profile_count = 2;
    for (int i = 0; i < 2; i++) {
        euicc_profile *p = &a->profiles[i];
        memset(p->iccid, 0x10 + i, 10);
        p->aid_len = 16;
        memset(p->aid, 0xA0, 16);
        p->enabled = i == 0;
        p->profile_class = 2;
        strcpy(p->nickname, "nick");
        strcpy(p->service_provider_name, "op");
        strcpy(p->profile_name, "name");
        p->has_icon_type = true;
        p->icon_type = 1;
        p->icon_len = 3;
        memcpy(p->icon, "\x89PN", 3);
        p->has_ppr = true;
        p->ppr = 6;
        p->has_owner = true;
        memcpy(p->owner_mcc_mnc, "\x62\xF2\x10", 3);
        p->notification_config_count = 1;
        p->notification_config[0].events = 0xF;
        strcpy(p->notification_config[0].address, "smdp.example.com");
        p->smdp_oid_len = 3;
        memcpy(p->smdp_oid, "\x88\x37\x0A", 3);
        p->ecall_indication = i == 1;
        p->fallback_attribute = i == 1;
        p->has_fallback_allowed = true;
        p->fallback_allowed = true;
        p->unable_to_attach = i == 0;
    }
    a->eim_count = 1;
    strcpy(a->eims[0].eim_id, "eim.example.com");
    a->eims[0].has_eim_fqdn = true;
    strcpy(a->eims[0].eim_fqdn, "eim.example.com:8443");
    a->eims[0].counter_value = 41;
    a->eims[0].has_association_token = true;
    a->eims[0].association_token = 7;
    a->eims[0].public_key.curve = SGP32_CURVE_BRAINPOOL_P256R1;
    memset(a->eims[0].public_key.point, 4, SGP32_EC_POINT_LEN);
    a->eims[0].public_key_data_len = 5;
    a->eims[0].indirect_profile_download = true;
    a->pending_count = 1;
    a->pending[0].seq_number = 9;
    a->pending[0].kind = EUICC_PENDING_PACKAGE_RESULT;
    a->pending[0].der_len = 4;
    memcpy(a->pending[0].der, "\xBF\x51\x00\x00", 4);
    a->next_seq_number = 10;
    a->next_isdp_number = 0x12;
    strcpy(a->default_dp_address, "smdp.example.com");
    strcpy(a->root_ds_address, "lpa.ds.gsma.com");
    a->rollback_allowed = true;
    a->has_rollback_iccid = true;
    memset(a->rollback_iccid, 0x33, 10);
    a->rollback_eim_index = 0;
    a->rollback_counter_value = 41;
    a->rollback_transaction_id_len = 2;
    a->fallback_active = true;

    sgp32_buf out;
    sgp32_buf_init(&out, 1 << 20);
    assert_int_equal(euicc_state_encode(a, &out), SGP32_OK);
    assert_int_equal(euicc_state_decode(out.data, out.len, b), SGP32_OK);
    assert_memory_equal(a, b, sizeof(*a)); /* every field, including padding left zero */

    /* Any flipped bit is caught by the digest; a cut file is refused. */
    for (size_t i = 0; i < out.len; i += 7) {
        out.data[i] ^= 0x01;
        assert_int_not_equal(euicc_state_decode(out.data, out.len, b), SGP32_OK);
        out.data[i] ^= 0x01;
    }
    for (size_t cut = 0; cut < out.len; cut += 11)
        assert_int_equal(euicc_state_decode(out.data, cut, b), SGP32_ERR_STORE_CORRUPT);
    sgp32_buf_free(&out);
    free(a);
    free(b);
}

static void file_store_is_atomic_and_survives_reopen(void **state)
{
    (void)state;
    char dir[] = "/tmp/sgp32-euicc-store-XXXXXX";
    assert_non_null(mkdtemp(dir));
    sgp32_euicc_file_store fs;
    sgp32_euicc_store store;
    assert_int_equal(sgp32_euicc_file_store_init(&fs, dir, &store), SGP32_OK);
    sgp32_buf b;
    sgp32_buf_init(&b, 1024);
    assert_int_equal(store.load(store.ctx, "state", &b), SGP32_ERR_NOT_FOUND);
    assert_int_equal(store.save(store.ctx, "state", (const uint8_t *)"one", 3), SGP32_OK);
    assert_int_equal(store.save(store.ctx, "state", (const uint8_t *)"second", 6), SGP32_OK);
    assert_int_equal(store.load(store.ctx, "state", &b), SGP32_OK);
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.data, "second", 6);
    assert_int_equal(store.save(store.ctx, "../escape", (const uint8_t *)"x", 1), SGP32_ERR_INVALID_ARGUMENT);
    assert_int_equal(store.remove(store.ctx, "state"), SGP32_OK);
    assert_int_equal(store.remove(store.ctx, "state"), SGP32_ERR_NOT_FOUND);
    sgp32_buf_free(&b);
    char path[600];
    snprintf(path, sizeof(path), "%s", dir);
    rmdir(path);
}

static void a_damaged_state_is_refused_not_misread(void **state)
{
    (void)state;
    euicc_fixture f;
    assert_int_equal(euicc_fixture_open(&f), SGP32_OK);
    sgp32_euicc_close(f.euicc);
    f.euicc = NULL;
    sgp32_buf b;
    sgp32_buf_init(&b, 1 << 20);
    assert_int_equal(f.config.store.load(f.config.store.ctx, "state", &b), SGP32_OK);
    b.data[b.len / 2] ^= 0x40;
    assert_int_equal(f.config.store.save(f.config.store.ctx, "state", b.data, b.len), SGP32_OK);
    assert_int_equal(sgp32_euicc_open(&f.config, &f.euicc), SGP32_ERR_STORE_CORRUPT);
    assert_null(f.euicc);
    sgp32_buf_free(&b);
    euicc_fixture_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(opens_with_the_sgp26_identity_and_a_bootstrap_profile),
        cmocka_unit_test(state_codec_round_trips_every_field),
        cmocka_unit_test(file_store_is_atomic_and_survives_reopen),
        cmocka_unit_test(a_damaged_state_is_refused_not_misread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

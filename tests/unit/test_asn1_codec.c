/*
 * lib/asn1 typed codec:
 *  - exact wire vectors (NOTES.md [asn1c] vectors: X.680/X.690 output of a real ASN.1 compiler)
 *    decode to the expected values and re-encode byte for byte;
 *  - every named type of the schema, every CHOICE alternative, with and without OPTIONAL
 *    components: decode(encode(x)) == x and encode(decode(b)) == b;
 *  - the same encodings are written to a manifest that asn1c re-encodes independently
 *    (tests/asn1c, ctest fixture our_encodings);
 *  - every truncation and single-byte corruption of those encodings is rejected or decoded
 *    cleanly, never a crash; every allocation failure is reported without leaks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "alloc_fail.h"
#include "asn1_sample.h"
#include "sgp32/asn1_types.h"
#include "sgp32/text.h"

#define EID   "89049032123451234512345678901235"
#define ICCID "989444999999990971F1" /* 8949449999999990171, EF.ICCID coding */
#define TXID  "0102030405060708"
#define SIG64                                                                                                \
    "1111111111111111111111111111111111111111111111111111111111111111"                                       \
    "2222222222222222222222222222222222222222222222222222222222222222"
#define HEX_EIM  "65494D"                           /* "eIM" */
#define HEX_SMDP "736D64702E6578616D706C652E636F6D" /* "smdp.example.com" */

typedef struct vector {
    const sgp32_asn1_type *type;
    const char *hex;
    void (*check)(const void *value);
} vector;

static void check_no_package(const void *v)
{
    const sgp32_get_eim_package_response *r = v;
    assert_int_equal(r->choice, SGP32_GET_EIM_PACKAGE_RESPONSE_EIM_PACKAGE_ERROR);
    assert_int_equal(r->u.eim_package_error,
                     SGP32_GET_EIM_PACKAGE_RESPONSE_EIM_PACKAGE_ERROR_NO_EIM_PACKAGE_AVAILABLE);
}

static void check_get_eim_package_request(const void *v)
{
    const sgp32_get_eim_package_request *r = v;
    assert_int_equal(r->eid_value.len, 16);
    assert_int_equal(r->eid_value.data[0], 0x89);
    assert_false(r->notify_state_change);
    assert_false(r->has_state_change_cause);
}

static void check_acks(const void *v)
{
    const sgp32_provide_eim_package_result_response *r = v;
    assert_int_equal(r->choice, SGP32_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_EIM_ACKNOWLEDGEMENTS);
    assert_int_equal(r->u.eim_acknowledgements.count, 2);
    assert_int_equal(r->u.eim_acknowledgements.items[0], 1);
    assert_int_equal(r->u.eim_acknowledgements.items[1], 2);
}

static void check_empty_response(const void *v)
{
    const sgp32_provide_eim_package_result_response *r = v;
    assert_int_equal(r->choice, SGP32_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_EMPTY_RESPONSE);
}

static void check_ipa_capabilities(const void *v)
{
    const sgp32_ipa_capabilities *c = v;
    assert_int_equal(c->ipa_features, SGP32_IPA_CAPABILITIES_IPA_FEATURES_INDIRECT_RSP_SERVER_COMMUNICATION |
                                          SGP32_IPA_CAPABILITIES_IPA_FEATURES_EIM_DOWNLOAD_DATA_HANDLING |
                                          SGP32_IPA_CAPABILITIES_IPA_FEATURES_MINIMIZE_ESIPA_BYTES);
    assert_true(c->has_ipa_supported_protocols);
    assert_int_equal(c->ipa_supported_protocols,
                     SGP32_IPA_CAPABILITIES_IPA_SUPPORTED_PROTOCOLS_IPA_RETRIEVE_HTTPS);
}

static void check_cancel_session_esipa(const void *v)
{
    const sgp32_cancel_session_request_esipa *r = v;
    assert_int_equal(r->transaction_id.len, 2);
    assert_int_equal(r->cancel_session_response.choice,
                     SGP32_SGP32_CANCEL_SESSION_RESPONSE_CANCEL_SESSION_RESPONSE_ERROR);
    assert_int_equal(r->cancel_session_response.u.cancel_session_response_error, 5);
}

static void check_euicc_package_request(const void *v)
{
    const sgp32_euicc_package_request *r = v;
    const sgp32_euicc_package_signed *s = &r->euicc_package_signed;
    assert_int_equal(s->eim_id.len, 3);
    assert_memory_equal(s->eim_id.data, "eIM", 3);
    assert_int_equal(s->counter_value, 2);
    assert_true(s->has_eim_transaction_id);
    assert_int_equal(s->eim_transaction_id.len, 8);
    assert_int_equal(s->euicc_package.choice, SGP32_EUICC_PACKAGE_PSMO_LIST);
    assert_int_equal(s->euicc_package.u.psmo_list.count, 1);
    const sgp32_psmo *p = &s->euicc_package.u.psmo_list.items[0];
    assert_int_equal(p->choice, SGP32_PSMO_ENABLE);
    assert_true(p->u.enable.rollback_flag);
    assert_int_equal(p->u.enable.iccid.data[0], 0x98);
    /* The signed part is the exact received "30 36 ..." TLV, for the signature check. */
    assert_int_equal(s->der.len, 56);
    assert_int_equal(s->der.data[0], 0x30);
    assert_int_equal(r->eim_signature.len, 64);
}

static void check_epr(const void *v)
{
    const sgp32_euicc_package_result *r = v;
    assert_int_equal(r->choice, SGP32_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED);
    const sgp32_euicc_package_result_data_signed *d =
        &r->u.euicc_package_result_signed.euicc_package_result_data_signed;
    assert_int_equal(d->seq_number, 5);
    assert_int_equal(d->euicc_result.count, 1);
    assert_int_equal(d->euicc_result.items[0].choice, SGP32_EUICC_RESULT_DATA_ENABLE_RESULT);
    assert_int_equal(d->euicc_result.items[0].u.enable_result, SGP32_ENABLE_PROFILE_RESULT_OK);
    assert_int_equal(d->der.len, 28);
}

static void check_epr_unsigned(const void *v)
{
    const sgp32_euicc_package_result *r = v;
    assert_int_equal(r->choice, SGP32_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_ERROR_UNSIGNED);
    assert_true(r->u.euicc_package_error_unsigned.has_association_token);
    assert_int_equal(r->u.euicc_package_error_unsigned.association_token, 1);
}

static void check_add_eim_token(const void *v)
{
    const sgp32_euicc_result_data *r = v;
    assert_int_equal(r->choice, SGP32_EUICC_RESULT_DATA_ADD_EIM_RESULT);
    assert_int_equal(r->u.add_eim_result.choice, SGP32_ADD_EIM_RESULT_ASSOCIATION_TOKEN);
    assert_int_equal(r->u.add_eim_result.u.association_token, 7);
}

static void check_processing_terminated(const void *v)
{
    const sgp32_euicc_result_data *r = v;
    assert_int_equal(r->choice, SGP32_EUICC_RESULT_DATA_PROCESSING_TERMINATED);
    assert_int_equal(r->u.processing_terminated, SGP32_EUICC_RESULT_DATA_PROCESSING_TERMINATED_INTERRUPTION);
}

static void check_immediate_enable(const void *v)
{
    const sgp32_immediate_enable_request *r = v;
    assert_true(r->refresh_flag);
}

static void check_add_initial_eim(const void *v)
{
    const sgp32_add_initial_eim_request *r = v;
    assert_int_equal(r->eim_configuration_data_list.count, 1);
    const sgp32_eim_configuration_data *c = &r->eim_configuration_data_list.items[0];
    assert_int_equal(c->eim_id.len, 15);
    assert_true(c->has_eim_id_type);
    assert_int_equal(c->eim_id_type, SGP32_EIM_ID_TYPE_EIM_ID_TYPE_FQDN);
    assert_int_equal(c->association_token, -1);
    assert_int_equal(c->eim_supported_protocol, SGP32_EIM_SUPPORTED_PROTOCOL_EIM_RETRIEVE_HTTPS);
    assert_true(c->indirect_profile_download);
    assert_false(c->has_eim_public_key_data);
}

static void check_memory_reset(const void *v)
{
    const sgp32_sgp32_euicc_memory_reset_request *r = v;
    assert_int_equal(r->reset_options,
                     SGP32_SGP32_EUICC_MEMORY_RESET_REQUEST_RESET_OPTIONS_RESET_EIM_CONFIG_DATA |
                         SGP32_SGP32_EUICC_MEMORY_RESET_REQUEST_RESET_OPTIONS_RESET_IMMEDIATE_ENABLE_CONFIG);
}

static void check_download_trigger(const void *v)
{
    const sgp32_profile_download_trigger_request *r = v;
    assert_true(r->has_profile_download_data);
    assert_int_equal(r->profile_download_data.choice, SGP32_PROFILE_DOWNLOAD_DATA_ACTIVATION_CODE);
    assert_memory_equal(r->profile_download_data.u.activation_code.data, "1$a$b", 5);
}

static void check_compact_notification(const void *v)
{
    const sgp32_handle_notification_esipa *r = v;
    assert_int_equal(r->choice, SGP32_HANDLE_NOTIFICATION_ESIPA_PENDING_NOTIFICATION);
    const sgp32_sgp32_pending_notification *n = &r->u.pending_notification;
    assert_int_equal(n->choice, SGP32_SGP32_PENDING_NOTIFICATION_COMPACT_OTHER_SIGNED_NOTIFICATION);
    const sgp32_notification_metadata *m = &n->u.compact_other_signed_notification.tbs_other_notification;
    assert_int_equal(m->seq_number, 7);
    assert_int_equal(m->profile_management_operation, SGP32_NOTIFICATION_EVENT_NOTIFICATION_ENABLE);
    assert_true(m->has_iccid);
    assert_int_equal(m->der.data[0], 0xBF); /* BF2F as signed */
}

static const vector vectors[] = {
    {&sgp32_type_get_eim_package_request, "BF4F125A10" EID, check_get_eim_package_request},
    {&sgp32_type_get_eim_package_response, "BF4F03020101", check_no_package},
    {&sgp32_type_esipa_message_from_eim_to_ipa, "BF4F03020101", NULL},
    {&sgp32_type_provide_eim_package_result_response, "BF5009BF5306800101800102", check_acks},
    {&sgp32_type_provide_eim_package_result_response, "BF50023000", check_empty_response},
    {&sgp32_type_transfer_eim_package_request, "BF4E06BF5303800103", NULL},
    {&sgp32_type_initiate_authentication_request_esipa,
     "BF39278110000102030405060708090A0B0C0D0E0F8310" HEX_SMDP "820101", NULL},
    {&sgp32_type_authenticate_client_response_esipa, "BF3B0CA10A800101BF5404A0028100", NULL},
    {&sgp32_type_ipa_capabilities, "30088002026481020780", check_ipa_capabilities},
    {&sgp32_type_cancel_session_request_esipa, "BF4109800212 34A103810105", check_cancel_session_esipa},
    {&sgp32_type_remote_profile_provisioning_request, "A20BBF4108800101A103810105", NULL},
    {&sgp32_type_get_rat_response, "BF4315A0133011800205 60A1073005800362F210 82020780", NULL},
    {&sgp32_type_enable_profile_request, "BF3111A00C5A0A" ICCID "8101FF", NULL},
    {&sgp32_type_cancel_session_request, "BF410780020102810101", NULL},
    {&sgp32_type_euicc_cancel_session_signed, "300C8002010281038837 0A820105", NULL},
    {&sgp32_type_sgp32_retrieve_notifications_list_request, "BF2B04A0028200", NULL},
    {&sgp32_type_sgp32_euicc_memory_reset_request, "BF6404820201 06", check_memory_reset},
    {&sgp32_type_sgp32_euicc_memory_reset_response, "BF6406800100810100", NULL},
    {&sgp32_type_add_initial_eim_request,
     "BF5735A0333031800F65696D2E6578616D706C652E636F6D810F65696D2E6578616D706C652E636F6D"
     "8201028301018401FF870207808900",
     check_add_initial_eim},
    {&sgp32_type_immediate_enable_request, "BF5A038001FF", check_immediate_enable},
    {&sgp32_type_profile_rollback_request, "BF5803800100", NULL},
    {&sgp32_type_get_certs_request, "BF5616 8014F54172BDF98A95D65CBEB88A38A1C11D800A85C3", NULL},
    {&sgp32_type_ipa_euicc_data_request, "BF52155C0380BF200401AAA103800101A203800102830101", NULL},
    {&sgp32_type_ipa_euicc_data_response, "BF5218A016810E64702E6578616D706C652E636F6D840101870101", NULL},
    {&sgp32_type_profile_download_trigger_request, "BF540DA00780053124612462 82020102",
     check_download_trigger},
    {&sgp32_type_profile_download_trigger_result, "BF54088201013003 80017F", NULL},
    {&sgp32_type_euicc_package_result, "BF510AA208800365494D840101", check_epr_unsigned},
    {&sgp32_type_euicc_result_data, "A803840107", check_add_eim_token},
    {&sgp32_type_euicc_result_data, "A803020102", NULL},
    {&sgp32_type_euicc_result_data, "AB0AA008300680017882 0102", NULL},
    {&sgp32_type_euicc_result_data, "AB0381017F", NULL},
    {&sgp32_type_euicc_result_data, "BF2D0381010B", NULL},
    {&sgp32_type_euicc_result_data, "020103", check_processing_terminated},
    {&sgp32_type_eim_configuration_data, "30178002 6531 A511A00F3009 06072A8648CE3D0201 03020400", NULL},
    /* Built here with lengths computed by hand from the NOTES.md layouts (their excerpts elide the
       signature). */
    {&sgp32_type_euicc_package_request,
     "BF517B3036800365494D5A10" EID "810102 8208" TXID "A010A30E5A0A" ICCID "0500 5F3740" SIG64,
     check_euicc_package_request},
    {&sgp32_type_euicc_package_result,
     "BF5161A05F301A800365494D8101028208" TXID "830105 300383 0100 5F3740" SIG64, check_epr},
    {&sgp32_type_handle_notification_esipa,
     "BF3D8181A07FA17D5A10" EID "BF2F25800107810206400C10" HEX_SMDP "5A0A" ICCID "5F3740" SIG64,
     check_compact_notification},
};

static sgp32_buf hex_to_buf(const char *hex)
{
    sgp32_buf b;
    sgp32_buf_init(&b, 1 << 16);
    assert_int_equal(sgp32_hex_decode(hex, strlen(hex), &b), SGP32_OK);
    return b;
}

static void wire_vectors_decode_and_reencode_exactly(void **state)
{
    (void)state;
    for (size_t i = 0; i < SGP32_ARRAY_LEN(vectors); i++) {
        sgp32_buf in = hex_to_buf(vectors[i].hex), out;
        sgp32_buf_init(&out, 1 << 16);
        sgp32_arena arena;
        sgp32_arena_init(&arena, 1 << 16);
        void *value = sgp32_arena_alloc(&arena, vectors[i].type->size);
        sgp32_asn1_diag diag;
        int rc = sgp32_asn1_decode_diag(vectors[i].type, in.data, in.len, &arena, value, &diag);
        if (rc)
            fail_msg("vector %zu (%s): %s at %zu in %s", i, vectors[i].type->name, sgp32_err_str(rc),
                     diag.offset, diag.path);
        if (vectors[i].check)
            vectors[i].check(value);
        assert_int_equal(sgp32_asn1_encode(vectors[i].type, value, &out), SGP32_OK);
        if (out.len != in.len || memcmp(out.data, in.data, in.len) != 0)
            fail_msg("vector %zu (%s) re-encodes differently", i, vectors[i].type->name);
        sgp32_arena_free(&arena);
        sgp32_buf_free(&in);
        sgp32_buf_free(&out);
    }
}

/* Wrong tags, lengths and values inside otherwise valid messages name the rule and the place. */
static void bad_messages_get_clear_errors(void **state)
{
    (void)state;
    static const struct {
        const sgp32_asn1_type *type;
        const char *hex;
        int rc;
        const char *path;
    } bad[] = {
        {&sgp32_type_get_eim_package_request, "BF4F025A00", SGP32_ERR_ASN1_SIZE,
         "GetEimPackageRequest.eidValue"},
        {&sgp32_type_get_eim_package_request, "BF4F00", SGP32_ERR_ASN1_MISSING,
         "GetEimPackageRequest.eidValue"},
        {&sgp32_type_get_eim_package_response, "BF4F03040101", SGP32_ERR_ASN1_UNKNOWN_CHOICE,
         "GetEimPackageResponse"},
        {&sgp32_type_get_eim_package_response, "BF4E03020101", SGP32_ERR_ASN1_UNEXPECTED_TAG,
         "GetEimPackageResponse"},
        {&sgp32_type_immediate_enable_request, "BF5A03800102", SGP32_ERR_ASN1_BAD_VALUE,
         "ImmediateEnableRequest.refreshFlag"},
        /* A constructed [0] is another tag than the primitive [0] the schema wants. */
        {&sgp32_type_immediate_enable_request, "BF5A03A00100", SGP32_ERR_ASN1_MISSING,
         "ImmediateEnableRequest.refreshFlag"},
        {&sgp32_type_provide_eim_package_result_response, "BF5009BF5306800101800102 00",
         SGP32_ERR_ASN1_TRAILING, "ProvideEimPackageResultResponse"},
        {&sgp32_type_euicc_package_result, "BF510BA209800365494D84020001", SGP32_ERR_ASN1_BAD_VALUE,
         "EuiccPackageResult.euiccPackageErrorUnsigned.associationToken"},
        {&sgp32_type_profile_rollback_request, "BF58068001008001FF", SGP32_ERR_ASN1_ORDER,
         "ProfileRollbackRequest"},
        {&sgp32_type_euicc_package_result, "BF510AA208800380FF4D840101", SGP32_ERR_ASN1_BAD_VALUE,
         "EuiccPackageResult.euiccPackageErrorUnsigned.eimId"},
    };
    for (size_t i = 0; i < SGP32_ARRAY_LEN(bad); i++) {
        sgp32_buf in = hex_to_buf(bad[i].hex);
        sgp32_arena arena;
        sgp32_arena_init(&arena, 1 << 16);
        void *value = sgp32_arena_alloc(&arena, bad[i].type->size);
        sgp32_asn1_diag diag;
        int rc = sgp32_asn1_decode_diag(bad[i].type, in.data, in.len, &arena, value, &diag);
        if (rc != bad[i].rc || strcmp(diag.path, bad[i].path) != 0)
            fail_msg("bad %zu: got %s at '%s', want %s at '%s'", i, sgp32_err_str(rc), diag.path,
                     sgp32_err_str(bad[i].rc), bad[i].path);
        sgp32_arena_free(&arena);
        sgp32_buf_free(&in);
    }
}

/* Extension components a newer peer adds are skipped, not rejected. */
static void unknown_extensions_are_skipped(void **state)
{
    (void)state;
    /* GetEimPackageRequest with an unknown [9] after rPLMN, and IpaCapabilities with an unknown [5]. */
    sgp32_buf in = hex_to_buf("BF4F1A5A10" EID "820362F210 8901AA");
    sgp32_arena arena;
    sgp32_arena_init(&arena, 1 << 16);
    sgp32_get_eim_package_request req;
    assert_int_equal(sgp32_asn1_decode(&sgp32_type_get_eim_package_request, in.data, in.len, &arena, &req),
                     SGP32_OK);
    assert_true(req.has_r_plmn);
    assert_int_equal(req.r_plmn.len, 3);
    sgp32_buf_free(&in);
    in = hex_to_buf("300C80020264 81020780 85020000");
    sgp32_ipa_capabilities caps;
    assert_int_equal(sgp32_asn1_decode(&sgp32_type_ipa_capabilities, in.data, in.len, &arena, &caps),
                     SGP32_OK);
    assert_true(caps.has_ipa_supported_protocols);
    sgp32_buf_free(&in);
    sgp32_arena_free(&arena);
}

/* Found by fuzz_es10: a DEFAULT component absent before a later component was left zeroed instead of
 * taking its default (profileClass read as test instead of operational; iccidPresent as FALSE), and
 * re-encoding then wrote the wrong value out explicitly. */
static void absent_default_before_a_later_component_takes_its_default(void **state)
{
    (void)state;
    sgp32_arena arena;
    sgp32_arena_init(&arena, 1 << 16);
    /* StoreMetadataRequest: iccid, names, then profilePolicyRules [25] after the absent profileClass. */
    sgp32_buf in = hex_to_buf("BF2518 5A0A" ICCID " 91025350 92025052 99020640"), out;
    sgp32_buf_init(&out, 1 << 16);
    sgp32_store_metadata_request smr;
    assert_int_equal(sgp32_asn1_decode(&sgp32_type_store_metadata_request, in.data, in.len, &arena, &smr),
                     SGP32_OK);
    assert_int_equal(smr.profile_class, SGP32_PROFILE_CLASS_OPERATIONAL);
    assert_true(smr.has_profile_policy_rules);
    assert_int_equal(sgp32_asn1_encode(&sgp32_type_store_metadata_request, &smr, &out), SGP32_OK);
    assert_int_equal(out.len, in.len);
    assert_memory_equal(out.data, in.data, in.len);
    sgp32_buf_free(&in);
    sgp32_buf_reset(&out);

    /* CompactProfileInstallationResultData: iccidPresent (DEFAULT TRUE) absent before compactFinalResult. */
    in = hex_to_buf("3015 8008" TXID " 020105 A206A0044F02AABB");
    sgp32_compact_profile_installation_result_data pir;
    assert_int_equal(sgp32_asn1_decode(&sgp32_type_compact_profile_installation_result_data, in.data, in.len,
                                       &arena, &pir),
                     SGP32_OK);
    assert_true(pir.iccid_present);
    assert_int_equal(sgp32_asn1_encode(&sgp32_type_compact_profile_installation_result_data, &pir, &out),
                     SGP32_OK);
    assert_int_equal(out.len, in.len);
    assert_memory_equal(out.data, in.data, in.len);
    sgp32_buf_free(&in);
    sgp32_buf_free(&out);
    sgp32_arena_free(&arena);
}

static FILE *open_manifest(void)
{
    FILE *f = fopen(SGP32_BINARY_DIR "/tests/vectors/our_encodings.txt", "w");
    assert_non_null(f);
    fprintf(f,
            "# Written by test_asn1_codec: every named type and CHOICE alternative as sgp32 encodes it.\n");
    return f;
}

static void every_named_type_round_trips(void **state)
{
    (void)state;
    FILE *manifest = open_manifest();
    size_t encodings = 0;
    for (size_t t = 0; t < sgp32_asn1_named_type_count; t++) {
        const sgp32_asn1_type *type = sgp32_asn1_named_types[t];
        size_t variants = sample_variant_count(type);
        for (size_t v = 0; v < variants; v++) {
            sgp32_arena arena;
            sgp32_arena_init(&arena, 1 << 20);
            void *value = sgp32_arena_alloc(&arena, type->size);
            void *again = sgp32_arena_alloc(&arena, type->size);
            assert_int_equal(sample_build(type, v, &arena, value), SGP32_OK);
            sgp32_buf der, der2;
            sgp32_buf_init(&der, 1 << 20);
            sgp32_buf_init(&der2, 1 << 20);
            int rc = sgp32_asn1_encode(type, value, &der);
            if (rc)
                fail_msg("%s variant %zu: encode: %s", type->name, v, sgp32_err_str(rc));
            sgp32_asn1_diag diag;
            rc = sgp32_asn1_decode_diag(type, der.data, der.len, &arena, again, &diag);
            if (rc)
                fail_msg("%s variant %zu: decode: %s at %zu in %s", type->name, v, sgp32_err_str(rc),
                         diag.offset, diag.path);
            if (!sgp32_asn1_equal(type, value, again))
                fail_msg("%s variant %zu: decode(encode(x)) != x", type->name, v);
            assert_int_equal(sgp32_asn1_encode(type, again, &der2), SGP32_OK);
            assert_int_equal(der.len, der2.len);
            assert_memory_equal(der.data, der2.data, der.len);

            char *hex = sgp32_arena_alloc(&arena, 2 * der.len + 1);
            sgp32_hex_encode(der.data, der.len, hex);
            fprintf(manifest, "%s %s\n", type->name, hex);
            encodings++;
            sgp32_buf_free(&der);
            sgp32_buf_free(&der2);
            sgp32_arena_free(&arena);
        }
    }
    fclose(manifest);
    assert_true(sgp32_asn1_named_type_count > 150);
    assert_true(encodings > sgp32_asn1_named_type_count);
}

/* Cut and corrupt every sample encoding: errors or clean decodes, never a crash (ASan watches). */
static void truncated_and_corrupted_input_is_handled(void **state)
{
    (void)state;
    size_t rejected = 0;
    for (size_t t = 0; t < sgp32_asn1_named_type_count; t++) {
        const sgp32_asn1_type *type = sgp32_asn1_named_types[t];
        sgp32_arena arena;
        sgp32_arena_init(&arena, 1 << 22);
        void *value = sgp32_arena_alloc(&arena, type->size);
        assert_int_equal(sample_build(type, 0, &arena, value), SGP32_OK);
        sgp32_buf der;
        sgp32_buf_init(&der, 1 << 20);
        assert_int_equal(sgp32_asn1_encode(type, value, &der), SGP32_OK);
        for (size_t cut = 0; cut < der.len; cut++) {
            assert_true(sgp32_asn1_decode(type, der.data, cut, &arena, value) < 0);
            rejected++;
        }
        for (size_t pos = 0; pos < der.len && pos < 64; pos++) {
            uint8_t saved = der.data[pos];
            der.data[pos] ^= 0x5A;
            (void)sgp32_asn1_decode(type, der.data, der.len, &arena, value);
            der.data[pos] = saved;
        }
        sgp32_buf_free(&der);
        sgp32_arena_free(&arena);
    }
    assert_true(rejected > 1000);
}

static const uint8_t *alloc_input;
static size_t alloc_input_len;

static int decode_with_heap_arena(void *ctx)
{
    (void)ctx;
    sgp32_arena arena;
    sgp32_arena_init(&arena, 1 << 20);
    sgp32_euicc_package_result value;
    int rc = SGP32_OK;
    /* Several decodes into one arena so it needs more than one chunk. */
    for (int i = 0; i < 40 && rc == SGP32_OK; i++)
        rc =
            sgp32_asn1_decode(&sgp32_type_euicc_package_result, alloc_input, alloc_input_len, &arena, &value);
    sgp32_arena_free(&arena);
    return rc;
}

static void allocation_failures_are_reported(void **state)
{
    (void)state;
    sgp32_buf in = hex_to_buf("BF5161A05F301A800365494D8101028208" TXID "830105 300383 0100 5F3740" SIG64);
    alloc_input = in.data;
    alloc_input_len = in.len;
    assert_true(test_alloc_fail_each(decode_with_heap_arena, NULL) >= 1);
    sgp32_buf_free(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wire_vectors_decode_and_reencode_exactly),
        cmocka_unit_test(bad_messages_get_clear_errors),
        cmocka_unit_test(unknown_extensions_are_skipped),
        cmocka_unit_test(absent_default_before_a_later_component_takes_its_default),
        cmocka_unit_test(every_named_type_round_trips),
        cmocka_unit_test(truncated_and_corrupted_input_is_handled),
        cmocka_unit_test(allocation_failures_are_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * The profile inventory (SGP.22 §3.1.1, §4.1; NOTES §6.4, §9): profile-type templates personalised
 * per order, ICCID forms, activation codes.
 *
 * Personalisation writes the order's ICCID into the UPP's ProfileHeader (plain BCD), into EF.ICCID
 * of the MF element (nibble-swapped, upp_personalise.c) and into the metadata (StoreMetadataRequest
 * BF25: ICCID, names, class, notification addresses, PPRs). A template without a 10-byte EF.ICCID
 * content is refused. An order from an inventory range with IMSIs also gets its IMSI into EF.IMSI
 * of the USIM element; orders without one keep the template's.
 *
 * The AKA keys (Ki, OPc) come from the host (sgp32_smdp_server_config.profile_keys: smdpd's
 * profile_data files, the operator's batch that its HSS holds too) and go into every akaParameter
 * with an algoParameter (upp_personalise.c). A type the host has keys for needs them for each of its
 * profiles: an order without is refused, never bound with the template's keys; a type it has none
 * for keeps the template's, and so does a server without the hook.
 */
#include <stdio.h>
#include <string.h>

#include "sgp32/asn1_types.h"
#include "sgp32/crypto.h"
#include "sgp32/profile_package.h"
#include "smdp_server_internal.h"

int sgp32_smdp_iccid_from_text(const char *text, char digits[SGP32_SMDP_ICCID_MAX + 1])
{
    if (!text || !digits)
        return SGP32_ERR_INVALID_ARGUMENT;
    size_t len = strlen(text);
    if (len == 20 && (text[19] == 'F' || text[19] == 'f'))
        len = 19;
    if (len < 18 || len > SGP32_SMDP_ICCID_MAX)
        return SGP32_ERR_BAD_TEXT;
    for (size_t i = 0; i < len; i++)
        if (text[i] < '0' || text[i] > '9')
            return SGP32_ERR_BAD_TEXT;
    memcpy(digits, text, len);
    digits[len] = '\0';
    return SGP32_OK;
}

char sgp32_smdp_iccid_luhn(const char *digits, size_t len)
{
    int sum = 0;
    for (size_t i = 0; i < len; i++) {
        int d = digits[len - 1 - i] - '0';
        if (i % 2 == 0) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return (char)('0' + (10 - sum % 10) % 10);
}

int sgp32_smdp_iccid_to_bcd(const char *digits, uint8_t out[10])
{
    char d[SGP32_SMDP_ICCID_MAX + 1];
    int rc = sgp32_smdp_iccid_from_text(digits, d);
    if (rc)
        return rc;
    size_t len = strlen(d);
    for (size_t i = 0; i < 10; i++) {
        uint8_t lo = 2 * i < len ? (uint8_t)(d[2 * i] - '0') : 0xF;
        uint8_t hi = 2 * i + 1 < len ? (uint8_t)(d[2 * i + 1] - '0') : 0xF;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return SGP32_OK;
}

int sgp32_smdp_personalise(const sgp32_smdp_profile_template *t, const char *iccid, const char *imsi,
                           const sgp32_upp_aka_keys *keys, const char *smdp_address, sgp32_buf *upp,
                           sgp32_buf *metadata)
{
    if (!t || !iccid || !smdp_address || !upp || !metadata)
        return SGP32_ERR_INVALID_ARGUMENT;
    size_t before = upp->len;
    int rc = sgp32_upp_set_iccid(t->upp.data, t->upp.len, iccid, upp);
    /* The same ICCID in the file system: EF.ICCID agrees with the header and the metadata. */
    if (!rc)
        rc = sgp32_upp_set_files(upp->data + before, t->upp.len, iccid, imsi && imsi[0] ? imsi : NULL);
    /* Last: a refusal before it leaves no key in the copy, and this one writes nothing when it refuses. */
    if (!rc && keys)
        rc = sgp32_upp_set_aka(upp->data + before, t->upp.len, keys);
    if (rc && upp->len > before)
        upp->len = before;
    return rc ? rc : sgp32_smdp_profile_metadata(t, iccid, smdp_address, metadata);
}

int sgp32_smdp_personalise_order(const sgp32_smdp_server *srv, const sgp32_smdp_profile_template *t,
                                 const sgp32_smdp_order *order, const char *smdp_address, sgp32_buf *upp,
                                 sgp32_buf *metadata)
{
    if (!srv || !order)
        return SGP32_ERR_INVALID_ARGUMENT;
    sgp32_upp_aka_keys keys;
    const sgp32_upp_aka_keys *use = NULL;
    int rc = SGP32_OK;
    if (srv->config.profile_keys) {
        int found = srv->config.profile_keys(srv->config.profile_keys_ctx, order->profile_type, order->iccid,
                                             keys.ki, keys.opc);
        if (found == SGP32_SMDP_KEYS_FOUND) {
            use = &keys;
        } else if (found == SGP32_SMDP_KEYS_MISSING) {
            server_log(SGP32_LOG_WARN, order->transaction_id, order->eid,
                       "order %s: profile type %s requires per-profile AKA keys and the host has none for "
                       "this ICCID: not bound with the template's",
                       order->iccid, order->profile_type);
            rc = SGP32_ERR_NOT_FOUND;
        } else if (found != SGP32_SMDP_KEYS_TEMPLATE) {
            rc = found < 0 ? found : SGP32_ERR_INVALID_ARGUMENT;
        }
    }
    if (!rc) {
        rc = sgp32_smdp_personalise(t, order->iccid, order->imsi, use, smdp_address, upp, metadata);
        if (rc == SGP32_ERR_NOT_FOUND)
            rc = SGP32_ERR_ASN1_MISSING; /* NOT_FOUND says "no keys" to the caller, and only that */
    }
    sgp32_secure_zero(&keys, sizeof(keys));
    return rc;
}

int sgp32_smdp_profile_metadata(const sgp32_smdp_profile_template *t, const char *iccid,
                                const char *smdp_address, sgp32_buf *metadata)
{
    if (!t || !iccid || !smdp_address || !metadata)
        return SGP32_ERR_INVALID_ARGUMENT;
    uint8_t bcd[10];
    int rc = sgp32_smdp_iccid_to_bcd(iccid, bcd);
    if (rc)
        return rc;
    sgp32_notification_configuration_information notify[1] = {
        {{0},
         SGP32_NOTIFICATION_EVENT_NOTIFICATION_INSTALL | SGP32_NOTIFICATION_EVENT_NOTIFICATION_ENABLE |
             SGP32_NOTIFICATION_EVENT_NOTIFICATION_DISABLE | SGP32_NOTIFICATION_EVENT_NOTIFICATION_DELETE,
         SGP32_BYTES(smdp_address, strlen(smdp_address))},
    };
    const char *sp = t->service_provider_name ? t->service_provider_name : "";
    const char *name = t->profile_name ? t->profile_name : t->profile_type;
    sgp32_sgp32_store_metadata_request md;
    memset(&md, 0, sizeof(md));
    md.iccid = SGP32_BYTES(bcd, 10);
    md.service_provider_name = SGP32_BYTES(sp, strlen(sp));
    md.profile_name = SGP32_BYTES(name, strlen(name));
    md.profile_class = t->profile_class;
    md.has_notification_configuration_info = true;
    md.notification_configuration_info.items = notify;
    md.notification_configuration_info.count = 1;
    if (t->pprs) {
        md.has_profile_policy_rules = true;
        md.profile_policy_rules = t->pprs;
    }
    return sgp32_asn1_encode(&sgp32_type_sgp32_store_metadata_request, &md, metadata);
}

int sgp32_smdp_activation_code(const char *address, const sgp32_smdp_order *order, char *out, size_t size)
{
    if (!address || !order || !out || size == 0)
        return SGP32_ERR_INVALID_ARGUMENT;
    int n =
        snprintf(out, size, "LPA:1$%s$%s%s", address, order->matching_id, order->cc_required ? "$$1" : "");
    return n < 0 || (size_t)n >= size ? SGP32_ERR_BUFFER_TOO_SMALL : SGP32_OK;
}

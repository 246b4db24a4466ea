/*
 * eUICC registry: registering an eUICC (its certificates verified before anything is stored) and
 * the association blobs this eIM hands out for it: EimConfigurationData (SGP.32 §2.11.1.1.1,
 * NOTES §8.2), carried by AddInitialEim BF57 at the factory (§5.9.4) or by an addEim eCO of the
 * eIM that manages the eUICC today (eIM portability, §3.5).
 */
#include <stdio.h>
#include <string.h>

#include "sgp32/asn1.h"
#include "sgp32/eid.h"
#include "sgp32/eim_server.h"
#include "sgp32/log.h"

int sgp32_eim_register(const sgp32_eim_server *srv, const sgp32_eim_euicc *euicc, const char *actor)
{
    uint8_t eid[SGP32_EID_LEN];
    if (!srv || !euicc || sgp32_eid_from_text(euicc->eid, eid) || sgp32_eid_check(eid))
        return SGP32_ERR_INVALID_ARGUMENT;
    bool has_euicc = euicc->euicc_certificate.len > 0, has_eum = euicc->eum_certificate.len > 0;
    if (has_euicc != has_eum)
        return SGP32_ERR_INVALID_ARGUMENT; /* the chain needs both */
    if (has_euicc) {
        int rc = sgp32_cert_verify_euicc_chain(
            srv->config.trusted_cis, sgp32_buf_bytes(&euicc->eum_certificate),
            sgp32_buf_bytes(&euicc->euicc_certificate), sgp32_eim_now(srv), eid, NULL);
        if (rc) {
            sgp32_log(SGP32_LOG_WARN, SGP32_LOG_EIM,
                      &(sgp32_log_context){.component = "eim", .eid = euicc->eid},
                      "registration refused: certificate chain: %s", sgp32_err_str(rc));
            return rc;
        }
    }
    sgp32_eim_euicc e = *euicc; /* the buffers are only read */
    e.registered = sgp32_eim_now(srv);
    int rc = srv->config.store.euicc_insert(srv->config.store.ctx, &e);
    if (!rc) {
        char detail[96];
        snprintf(detail, sizeof(detail), "{\"certificate\":%s}", has_euicc ? "true" : "false");
        sgp32_eim_audit(srv, actor, "device.register", euicc->eid, 0, detail);
    }
    return rc;
}

int sgp32_eim_configuration_data_encode(const sgp32_eim_server *srv, const sgp32_eim_euicc *euicc,
                                        sgp32_buf *out)
{
    sgp32_ec_public_key pub;
    sgp32_buf spki;
    sgp32_buf_init(&spki, 256);
    int rc = sgp32_ec_public_from_private(srv->config.signing_key, &pub);
    if (!rc)
        rc = sgp32_ec_public_to_spki(&pub, &spki);
    if (rc)
        goto out;
    sgp32_eim_configuration_data c;
    memset(&c, 0, sizeof(c));
    c.eim_id = (sgp32_bytes){(const uint8_t *)srv->config.eim_id, strlen(srv->config.eim_id)};
    c.has_eim_fqdn = true;
    c.eim_fqdn = (sgp32_bytes){(const uint8_t *)srv->config.eim_fqdn, strlen(srv->config.eim_fqdn)};
    c.has_eim_id_type = true;
    c.eim_id_type = SGP32_EIM_ID_TYPE_EIM_ID_TYPE_FQDN;
    c.has_counter_value = true;
    c.counter_value = euicc->counter; /* the eUICC accepts packages above it */
    c.has_association_token = euicc->has_token;
    c.association_token = euicc->token;
    /* The key itself, not a certificate: every eUICC accepts A5 {A0 SPKI}. */
    c.has_eim_public_key_data = true;
    c.eim_public_key_data.choice = SGP32_EIM_CONFIGURATION_DATA_EIM_PUBLIC_KEY_DATA_EIM_PUBLIC_KEY;
    c.eim_public_key_data.u.eim_public_key = sgp32_buf_bytes(&spki);
    if (srv->config.tls_certificate.len) {
        c.has_trusted_public_key_data_tls = true;
        c.trusted_public_key_data_tls.choice =
            SGP32_EIM_CONFIGURATION_DATA_TRUSTED_PUBLIC_KEY_DATA_TLS_TRUSTED_CERTIFICATE_TLS;
        c.trusted_public_key_data_tls.u.trusted_certificate_tls = srv->config.tls_certificate;
    }
    c.has_eim_supported_protocol = true;
    c.eim_supported_protocol = 1u << 0; /* eimRetrieveHttps */
    if (srv->config.push_https)
        c.eim_supported_protocol |= 1u << 2; /* eimInjectHttps */
    c.indirect_profile_download = srv->config.es9_call != NULL;
    rc = sgp32_asn1_encode(&sgp32_type_eim_configuration_data, &c, out);
out:
    sgp32_buf_free(&spki);
    return rc;
}

int sgp32_eim_add_initial_eim_request(const sgp32_eim_server *srv, const sgp32_eim_euicc *euicc,
                                      sgp32_buf *out)
{
    sgp32_buf data;
    sgp32_buf_init(&data, 8192);
    int rc = sgp32_eim_configuration_data_encode(srv, euicc, &data);
    if (rc)
        goto out;
    /* BF57 { A0 { EimConfigurationData } } */
    size_t outer = sgp32_asn1_begin(out);
    size_t list = sgp32_asn1_begin(out);
    rc = sgp32_buf_append(out, data.data, data.len);
    if (!rc)
        rc = sgp32_asn1_end(out, 0xA0, list);
    if (!rc)
        rc = sgp32_asn1_end(out, 0xBF57, outer);
out:
    sgp32_buf_free(&data);
    return rc;
}

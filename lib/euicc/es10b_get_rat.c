/*
 * ES10b.GetRAT (SGP.22 §5.7.22): BF43 00 -> BF43 { A0 { 30 ProfilePolicyAuthorisationRule.. } }.
 *
 * Why this RAT: the Rules Authorisation Table is set at manufacture and says which operators may
 * put which Profile Policy Rules in their profiles. A certified card with no operator-specific
 * provisioning ships the permissive default: one rule allowing every operator (MCC/MNC wildcard
 * 'EEEEEE', SGP.22 §2.9.2.2) to use ppr1 ("disable not allowed") and ppr2 ("delete not allowed").
 * pprFlags is empty: consentRequired would ask for End User consent, and an IoT device has no End
 * User interface to give it. The getRAT PSMO returns the same table.
 */
#include "euicc_local.h"

int es10b_get_rat(sgp32_euicc *euicc, const uint8_t *request, size_t len, sgp32_buf *out)
{
    sgp32_arena arena;
    sgp32_arena_init(&arena, EUICC_LOCAL_ARENA);
    sgp32_get_rat_request req = {0};
    int rc = euicc_decode(euicc, &sgp32_type_get_rat_request, request, len, &arena, &req);
    sgp32_arena_free(&arena);
    if (rc)
        return rc;

    static const uint8_t any_operator[3] = {0xEE, 0xEE, 0xEE};
    sgp32_operator_id operators[1] = {{.mcc_mnc = SGP32_BYTES(any_operator, sizeof(any_operator))}};
    sgp32_profile_policy_authorisation_rule rules[1] = {{
        .ppr_ids = SGP32_PPR_IDS_PPR1 | SGP32_PPR_IDS_PPR2,
        .allowed_operators = {operators, 1},
        .ppr_flags = 0,
    }};
    sgp32_get_rat_response resp = {0};
    resp.rat.items = rules;
    resp.rat.count = 1;
    rc = sgp32_asn1_encode(&sgp32_type_get_rat_response, &resp, out);
    sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log,
              "GetRAT: default table (any operator may use ppr1 and ppr2, no consent)");
    return rc;
}

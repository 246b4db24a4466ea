/*
 * ProfileInfo lists, shared by ES10c.GetProfilesInfo (SGP.22 §5.7.15, SGP.32 §5.9) and the
 * listProfileInfo PSMO (SGP.32 §2.11.1.1): SGP32-ProfileInfoListResponse BF2D { A0 { E3 .. } }
 * or BF2D { 81 code } (incorrectInputValues 1, undefinedError 127).
 *
 * Why in one place: both answer with the same SGP.32 ProfileInfo (E3), which adds the IoT fields
 * ecallIndication 9F7B, fallbackAttribute 9F26 and fallbackAllowed 9F67 to SGP.22's. Rules:
 *   - searchCriteria selects by ISD-P AID (4F), ICCID (5A, EF.ICCID coding as stored and as on
 *     the wire, NOTES §9) or profileClass (95, a value outside test/provisioning/operational is
 *     incorrectInputValues); no criteria: every profile, in installation order;
 *   - tagList (5C) lists the data objects wanted (one- to three-byte tags, concatenated); tags
 *     this card does not keep are ignored, a cut tag is incorrectInputValues. Without tagList
 *     every data object the card has is returned;
 *   - optional objects appear only when the profile has them (nickname, icon, owner, PPRs,
 *     notification configuration, fallbackAllowed); ecallIndication is shown when TRUE, or on
 *     request; fallbackAttribute is DEFAULT FALSE and so, in DER, shown only when TRUE.
 */
#include <string.h>

#include "euicc_local.h"

enum { PROFILE_INFO_ARENA = 64 * 1024, TAG_LIST_MAX = 64 };

typedef struct tag_filter {
    bool all;
    uint32_t tags[TAG_LIST_MAX];
    size_t count;
} tag_filter;

static bool parse_tag_list(sgp32_bytes list, tag_filter *filter)
{
    size_t i = 0;
    filter->count = 0;
    while (i < list.len) {
        uint32_t tag = list.data[i++];
        if ((tag & 0x1F) == 0x1F) {
            size_t more = 0;
            do {
                if (i >= list.len || ++more > 2)
                    return false;
                tag = tag << 8 | list.data[i];
            } while (list.data[i++] & 0x80);
        }
        if (filter->count < TAG_LIST_MAX)
            filter->tags[filter->count++] = tag;
    }
    return true;
}

static bool wants(const tag_filter *filter, uint32_t tag)
{
    if (filter->all)
        return true;
    for (size_t i = 0; i < filter->count; i++)
        if (filter->tags[i] == tag)
            return true;
    return false;
}

static bool matches(const euicc_profile *p, const sgp32_profile_info_list_request *request)
{
    if (!request->has_search_criteria)
        return true;
    const sgp32_profile_info_list_request_search_criteria *c = &request->search_criteria;
    switch (c->choice) {
    case SGP32_PROFILE_INFO_LIST_REQUEST_SEARCH_CRITERIA_ISDP_AID:
        return c->u.isdp_aid.len == p->aid_len && memcmp(c->u.isdp_aid.data, p->aid, p->aid_len) == 0;
    case SGP32_PROFILE_INFO_LIST_REQUEST_SEARCH_CRITERIA_ICCID:
        return c->u.iccid.len == 10 && memcmp(c->u.iccid.data, p->iccid, 10) == 0;
    case SGP32_PROFILE_INFO_LIST_REQUEST_SEARCH_CRITERIA_PROFILE_CLASS:
        return c->u.profile_class == p->profile_class;
    default: return false;
    }
}

static int fill_info(const euicc_profile *p, const tag_filter *f, sgp32_arena *arena,
                     sgp32_sgp32_profile_info *info)
{
    memset(info, 0, sizeof(*info));
    if ((info->has_iccid = wants(f, 0x5A)))
        info->iccid = SGP32_BYTES(p->iccid, 10);
    if ((info->has_isdp_aid = wants(f, 0x4F) && p->aid_len))
        info->isdp_aid = SGP32_BYTES(p->aid, p->aid_len);
    if ((info->has_profile_state = wants(f, 0x9F70)))
        info->profile_state = p->enabled ? SGP32_PROFILE_STATE_ENABLED : SGP32_PROFILE_STATE_DISABLED;
    if ((info->has_profile_nickname = wants(f, 0x90) && p->nickname[0]))
        info->profile_nickname = SGP32_BYTES(p->nickname, strlen(p->nickname));
    if ((info->has_service_provider_name = wants(f, 0x91)))
        info->service_provider_name = SGP32_BYTES(p->service_provider_name, strlen(p->service_provider_name));
    if ((info->has_profile_name = wants(f, 0x92)))
        info->profile_name = SGP32_BYTES(p->profile_name, strlen(p->profile_name));
    if ((info->has_icon_type = wants(f, 0x93) && p->has_icon_type))
        info->icon_type = p->icon_type;
    if ((info->has_icon = wants(f, 0x94) && p->icon_len))
        info->icon = SGP32_BYTES(p->icon, p->icon_len);
    if ((info->has_profile_class = wants(f, 0x95)))
        info->profile_class = p->profile_class;
    if ((info->has_notification_configuration_info = wants(f, 0xB6) && p->notification_config_count)) {
        size_t n = p->notification_config_count;
        sgp32_notification_configuration_information *items = sgp32_arena_alloc(arena, n * sizeof(*items));
        if (!items)
            return SGP32_ERR_NO_MEMORY;
        for (size_t i = 0; i < n; i++) {
            items[i].profile_management_operation = p->notification_config[i].events;
            items[i].notification_address =
                SGP32_BYTES(p->notification_config[i].address, strlen(p->notification_config[i].address));
        }
        info->notification_configuration_info.items = items;
        info->notification_configuration_info.count = n;
    }
    if ((info->has_profile_owner = wants(f, 0xB7) && p->has_owner))
        info->profile_owner.mcc_mnc = SGP32_BYTES(p->owner_mcc_mnc, 3);
    if ((info->has_profile_policy_rules = wants(f, 0x99) && p->has_ppr))
        info->profile_policy_rules = p->ppr;
    if ((info->has_ecall_indication = p->ecall_indication ? wants(f, 0x9F7B) : (!f->all && wants(f, 0x9F7B))))
        info->ecall_indication = p->ecall_indication;
    info->fallback_attribute = p->fallback_attribute && wants(f, 0x9F26);
    if ((info->has_fallback_allowed = wants(f, 0x9F67) && p->has_fallback_allowed))
        info->fallback_allowed = p->fallback_allowed;
    return SGP32_OK;
}

static int write_error(sgp32_buf *out, int64_t code)
{
    sgp32_sgp32_profile_info_list_response resp = {0};
    resp.choice = SGP32_SGP32_PROFILE_INFO_LIST_RESPONSE_PROFILE_INFO_LIST_ERROR;
    resp.u.profile_info_list_error = code;
    return sgp32_asn1_encode(&sgp32_type_sgp32_profile_info_list_response, &resp, out);
}

int euicc_write_profile_info_list(sgp32_euicc *euicc, const sgp32_profile_info_list_request *request,
                                  sgp32_buf *out)
{
    tag_filter *filter = sgp32_alloc(sizeof(*filter));
    if (!filter)
        return write_error(out, SGP32_SGP32_PROFILE_INFO_LIST_ERROR_UNDEFINED_ERROR);
    filter->all = !request->has_tag_list;
    bool valid = filter->all || parse_tag_list(request->tag_list, filter);
    if (valid && request->has_search_criteria &&
        request->search_criteria.choice == SGP32_PROFILE_INFO_LIST_REQUEST_SEARCH_CRITERIA_PROFILE_CLASS) {
        int64_t c = request->search_criteria.u.profile_class;
        valid = c == SGP32_PROFILE_CLASS_TEST || c == SGP32_PROFILE_CLASS_PROVISIONING ||
                c == SGP32_PROFILE_CLASS_OPERATIONAL;
    }
    if (!valid) {
        sgp32_free(filter, sizeof(*filter));
        sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log, "ProfileInfo list: incorrectInputValues");
        return write_error(out, SGP32_SGP32_PROFILE_INFO_LIST_ERROR_INCORRECT_INPUT_VALUES);
    }

    sgp32_arena arena;
    sgp32_arena_init(&arena, PROFILE_INFO_ARENA);
    const euicc_state *s = &euicc->state;
    sgp32_sgp32_profile_info *items = sgp32_arena_alloc(&arena, EUICC_MAX_PROFILES * sizeof(*items));
    size_t n = 0;
    int rc = items ? SGP32_OK : SGP32_ERR_NO_MEMORY;
    for (size_t i = 0; i < s->profile_count && !rc; i++)
        if (matches(&s->profiles[i], request))
            rc = fill_info(&s->profiles[i], filter, &arena, &items[n++]);
    if (!rc) {
        sgp32_sgp32_profile_info_list_response resp = {0};
        resp.choice = SGP32_SGP32_PROFILE_INFO_LIST_RESPONSE_PROFILE_INFO_LIST_OK;
        resp.u.profile_info_list_ok.items = items;
        resp.u.profile_info_list_ok.count = n;
        rc = sgp32_asn1_encode(&sgp32_type_sgp32_profile_info_list_response, &resp, out);
    } else if (rc == SGP32_ERR_NO_MEMORY) {
        rc = write_error(out, SGP32_SGP32_PROFILE_INFO_LIST_ERROR_UNDEFINED_ERROR);
    }
    sgp32_log(SGP32_LOG_DEBUG, SGP32_LOG_EUICC, &euicc->log, "ProfileInfo list: %zu of %u profile(s)%s", n,
              (unsigned)s->profile_count, filter->all ? "" : ", selected data objects");
    sgp32_arena_free(&arena);
    sgp32_free(filter, sizeof(*filter));
    return rc;
}

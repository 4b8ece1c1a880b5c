/*
 * policy.c: may this user use this application? Authentik's PolicyEngine reduced to what an
 * application binds here: users and groups, each binding enabled or not and maybe negated,
 * combined with policy_engine_mode any | all.
 */
#include "oidc/oidc.h"

#include <string.h>

static bool binding_passes(const struct store_binding *b, int64_t user_id, const int64_t *group_ids,
                           size_t ngroups)
{
    if (b->user_id == 0 && b->group_id == 0) {
        return false; /* its user or group was deleted: it matches nobody, negated or not */
    }
    bool match = false;
    if (b->user_id != 0) {
        match = b->user_id == user_id;
    } else {
        for (size_t i = 0; i < ngroups && !match; i++) {
            match = group_ids[i] == b->group_id;
        }
    }
    return match != b->negate;
}

bool oidc_policy_allows(const char *mode_z, const struct store_binding *b, size_t n,
                        int64_t user_id, const int64_t *group_ids, size_t ngroups)
{
    bool all = mode_z != NULL && strcmp(mode_z, "all") == 0;
    size_t counted = 0;
    size_t passed = 0;
    for (size_t i = 0; i < n; i++) {
        if (!b[i].enabled) {
            continue;
        }
        counted++;
        if (binding_passes(&b[i], user_id, group_ids, ngroups)) {
            passed++;
        }
    }
    if (counted == 0) {
        return true; /* nothing bound: everyone (Authentik's empty result) */
    }
    return all ? passed == counted : passed > 0;
}

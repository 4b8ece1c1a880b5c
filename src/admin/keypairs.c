/* `certificate_keypairs`: named signing keys made by Postern (Authentik's certificate-key
 * pairs). A pair is generated once and never replaced by applying the file again. */
#include "admin/admin_int.h"

#include <stdlib.h>
#include <string.h>

#include "idp/idp.h"
#include "store/store.h"

static const char *const algorithms[] = {"RS256", "ES256", "EdDSA", NULL};

int admin_apply_keypair(const struct admin_ctx *x, struct store *s, const json_t *obj,
                        const char *field, struct admin_apply_stats *st)
{
    static const char *const known[] = {"name", "algorithm", NULL};
    char *name = NULL;
    char *alg = xstrdup("RS256");
    struct store_keypair k = {0};
    int rc = -1;
    if (!json_is_object(obj)) {
        admin_bad(x, obj, field, "expected { name, algorithm: RS256 | ES256 | EdDSA }");
        goto done;
    }
    if (admin_check_keys(x, obj, field, known) != 0 ||
        admin_get_string(x, obj, "name", field, &name) != 0 ||
        admin_opt_enum(x, obj, "algorithm", field, algorithms, &alg) != 0) {
        goto done;
    }
    int found = store_keypair_get_by_name(s, name, &k, x->e);
    if (found < 0) {
        goto done;
    }
    if (found == 0) {
        if (strcmp(k.alg, alg) != 0) {
            char f[ADMIN_FIELD_MAX];
            admin_field(f, field, "algorithm");
            admin_bad(x, json_object_get(obj, "algorithm"), f,
                      "the pair \"%s\" exists with %s; keys are never replaced in place: "
                      "give the new one another name",
                      name, k.alg);
            goto done;
        }
        rc = 0;
        goto done;
    }
    bool created = false;
    if (idp_keypair_create(s, name, jose_alg_from_name(slice_z(alg)), &created, x->e) != 0) {
        admin_prefix(x, obj, field);
        goto done;
    }
    st->created += created;
    rc = 0;
done:
    store_keypair_free(&k);
    free(name);
    free(alg);
    return rc;
}

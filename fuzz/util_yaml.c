/* Fuzz target: YAML to JSON (config files and `postern apply` input). */
#include <stdint.h>
#include <stdlib.h>

#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct yaml_doc doc;
    struct err e;
    if (util_yaml_parse((struct slice){(const char *)data, size}, "fuzz.yaml", &doc, &e) == 0) {
        char *s = util_json_dump(doc.root);
        free(s);
    }
    util_yaml_free(&doc);
    return 0;
}

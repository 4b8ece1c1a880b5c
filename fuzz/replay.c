/*
 * Replays a libFuzzer corpus through LLVMFuzzerTestOneInput without libFuzzer, so that
 * `make test` runs every seed under the build's sanitizers (gcc, ASan+UBSan).
 * Usage: fuzz_NAME DIR_OR_FILE...   Prints one TAP line per argument.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_INPUT (4 * 1024 * 1024)

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return -1;
    }
    uint8_t *data = malloc(REPLAY_MAX_INPUT);
    size_t n = data ? fread(data, 1, REPLAY_MAX_INPUT, f) : 0;
    fclose(f);
    if (data == NULL) {
        return -1;
    }
    /* A copy of exactly n bytes, so that ASan sees any read past the input. */
    uint8_t *exact = malloc(n ? n : 1);
    if (exact == NULL) {
        free(data);
        return -1;
    }
    memcpy(exact, data, n);
    free(data);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

static int replay_path(const char *path, size_t *count)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        (*count)++;
        return replay_file(path);
    }
    DIR *d = opendir(path);
    if (d == NULL) {
        return -1;
    }
    int rc = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        if (ent->d_name[0] == '.') {
            continue;
        }
        char child[4096];
        int len = snprintf(child, sizeof child, "%s/%s", path, ent->d_name);
        if (len < 0 || (size_t)len >= sizeof child || replay_path(child, count) != 0) {
            rc = -1;
        }
    }
    closedir(d);
    return rc;
}

int main(int argc, char **argv)
{
    printf("1..%d\n", argc - 1);
    int failed = 0;
    for (int i = 1; i < argc; i++) {
        size_t count = 0;
        int rc = replay_path(argv[i], &count);
        if (rc != 0 || count == 0) {
            printf("not ok %d - %s (unreadable or empty corpus)\n", i, argv[i]);
            failed++;
        } else {
            printf("ok %d - %s: %zu inputs replayed\n", i, argv[i], count);
        }
    }
    return failed ? 1 : 0;
}

#include "util/util.h"

#include <stdatomic.h>

static _Atomic int64_t fake_now;

int64_t util_now(void)
{
    int64_t f = atomic_load_explicit(&fake_now, memory_order_relaxed);
    if (f != 0) {
        return f;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

int64_t util_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void util_set_fake_now(int64_t t)
{
    atomic_store(&fake_now, t);
}

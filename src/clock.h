/* clock — monotonic and wall time in the units encore uses. */
#ifndef ENC_CLOCK_H
#define ENC_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t enc_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline int64_t enc_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif

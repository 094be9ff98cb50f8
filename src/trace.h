/* trace — an optional timeline of the pipeline's steps, for latency work.
 *
 * With ENC_TRACE=FILE in the environment, each traced step appends one line to FILE:
 * `thread step start_us dur_us a b` (wall-clock µs, the clock of --commit-log and
 * bench_drop; a and b are the step's counts, e.g. rows and files). Off (the default)
 * a traced step costs one load and a branch. Lines are written under a lock, unbuffered
 * beyond the line, so a killed process leaves whole lines. Never fails the pipeline:
 * a trace that cannot be written is dropped.
 */
#ifndef ENC_TRACE_H
#define ENC_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#include "clock.h"

extern bool enc_trace_enabled;

/* Reads ENC_TRACE once (later calls do nothing). */
void enc_trace_init(void);

void enc_trace_write(const char *step, int64_t start_us, int64_t dur_us, int64_t a, int64_t b);

/* The start of a traced step: 0 when tracing is off. */
static inline int64_t enc_trace_start(void)
{
    return enc_trace_enabled ? enc_wall_us() : 0;
}

/* Ends a step begun at t0 (enc_trace_start). */
static inline void enc_trace_end(const char *step, int64_t t0, int64_t a, int64_t b)
{
    if (t0)
        enc_trace_write(step, t0, enc_wall_us() - t0, a, b);
}

#endif

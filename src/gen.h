/* gen — a realistic, seeded sample for encore: songs.csv, users.csv, events/part-NNNNN.json.
 *
 * Owns the synthetic world: catalogue (artists, genres, log-normal durations), user base
 * (countries, plans, devices, skewed activity) and the play stream (Zipf song popularity,
 * daily and weekly rhythm, rare imperfect events). Called by `encore gen` and by tests.
 * Same options → byte-identical files on any machine: own PRNG, no libm, no rand().
 * Never prints; all errors come back in enc_err.
 */
#ifndef ENC_GEN_H
#define ENC_GEN_H

#include <stdint.h>

#include "status.h"

/* Upper bounds, checked by enc_gen_run (ids index 32-bit tables). */
#define ENC_GEN_MAX_SONGS 100000000
#define ENC_GEN_MAX_USERS 100000000
#define ENC_GEN_MAX_FILES 1000000

typedef struct {
    const char *out_dir; /* created (with parents) if missing; files in it are overwritten */
    int64_t events;      /* total play events, > 0 */
    int64_t files;       /* event files, > 0; clamped to `events` so none is empty */
    int64_t songs;
    int64_t users;
    int64_t seed;
    int64_t year; /* 1970..9999: events fall in [Y-01-01T00:00:00Z, Y+1-01-01T00:00:00Z) */
    int64_t days; /* 0..366: only the first `days` days of the year (0 = all of it) */
} enc_gen_opts;

typedef struct {
    int64_t files;  /* event files written */
    int64_t events; /* event lines written, imperfect ones included */
    double seconds; /* wall time of the whole run */
} enc_gen_stats;

/* Writes out_dir/songs.csv, out_dir/users.csv, then out_dir/events/part-00000.json … in
 * time order. Each file is written as a hidden ".NAME.tmp" and renamed when complete, so
 * a watcher never sees a half-written file. st may be NULL. */
enc_status enc_gen_run(const enc_gen_opts *o, enc_gen_stats *st, enc_err *err);

#endif

/* pipeline — the loop that drives a source, enrichment and a sink in micro-batches.
 *
 * Two threads: the caller's thread reads and enriches batches; a writer thread commits
 * them to the sink. A bounded queue of batches between them is the backpressure (at
 * most ENC_PIPELINE_QUEUE batches in flight). The reader hands a batch over when it is
 * full (--batch-events) or the writer is idle; while the writer is busy, records that
 * land join the batch being filled, enriched as they come (group commit: one commit for
 * everything that arrived during the previous one). Positions come back from the sink at
 * start, so a restart resumes exactly after the last committed batch. A stop request
 * (SIGINT/SIGTERM via *stop) drops the batch being filled and any batch queued but not
 * yet being written: none of them is committed, and a restart reads their records again.
 * Only a batch the writer is already writing is finished (or rolled back) first.
 */
#ifndef ENC_PIPELINE_H
#define ENC_PIPELINE_H

#include <signal.h>
#include <stdbool.h>

#include "dim.h"
#include "quality.h"
#include "sink.h"
#include "source.h"
#include "status.h"

#define ENC_PIPELINE_QUEUE 2

typedef struct {
    int64_t files;       /* distinct files (or partitions) read */
    int64_t events;
    int64_t rows;
    int64_t quarantined;
    int64_t rescued;
    int64_t duplicates;
    int64_t bytes;
    int64_t batches;     /* committed */
    double seconds;
    bool started;        /* sink and source opened: a failure after this is a runtime one */
    char pending[160];   /* the source's note on work left undone (incomplete tails), or "" */
} enc_pipeline_stats;

typedef struct {
    const enc_source_ops *source;
    enc_source_config source_cfg;
    const enc_sink_ops *sink;
    const char *sink_target;
    enc_sink_config sink_cfg;
    const enc_songs *songs;
    const enc_users *users;
    bool aggregates;      /* maintain the daily aggregates */
    int64_t watermark_us; /* drop repeated plays within this much event time; 0 = keep all */
    enc_quality *quality; /* data-quality rules run on every batch (reader thread); NULL = none */
    volatile sig_atomic_t *stop; /* set asynchronously to ask for a clean stop */
    /* Called about once a second from the reader thread with committed totals. */
    void (*progress)(void *arg, const enc_pipeline_stats *st);
    void *progress_arg;
    /* Called from the writer thread after a batch's COMMIT returned (so it is durable),
     * with the positions the batch advanced and the wall-clock time then (µs). Never
     * called for a batch that was not committed. NULL = none. */
    void (*committed)(void *arg, const enc_position *pos, size_t npos, int64_t wall_us);
    void *committed_arg;
} enc_pipeline_config;

enc_status enc_pipeline_run(const enc_pipeline_config *cfg, enc_pipeline_stats *st, enc_err *err);

#endif

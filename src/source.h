/* source — the interface every input implements (directory now; Kafka, S3 later).
 *
 * A source discovers input and frames it into raw records, advancing its in-memory
 * position as it fills a batch. It never writes anything durable: the sink stores the
 * positions with the batch's rows, and at start the pipeline hands the committed
 * positions back through `resume`, so after a crash the source re-reads exactly what
 * was not committed. Adding a source is one new file with one enc_source_ops value and
 * one line in the registry (source.c).
 */
#ifndef ENC_SOURCE_H
#define ENC_SOURCE_H

#include <stdbool.h>

#include "batch.h"
#include "status.h"

typedef struct {
    const char *location;     /* directory path, or broker list for Kafka */
    bool once;                /* process what is there, then report done (Trigger.AvailableNow) */
    bool allow_overwrites;    /* re-read a file whose inode changed or that shrank */
    int64_t settle_ms;        /* a final line without newline is taken after this much quiet */
    int64_t poll_ms;          /* rescan interval (the safety net under inotify) */
    int64_t batch_events;     /* at most this many records per batch */
    int64_t batch_bytes;      /* and about this many bytes */
    int64_t max_record;       /* longest record accepted; longer ones are quarantined */
    void (*warn)(void *arg, const char *msg); /* reports (overwritten file, unreadable file) */
    void *warn_arg;
} enc_source_config;

typedef struct {
    const char *name; /* "dir" */
    size_t ctx_size;  /* the pipeline allocates this much, zeroed, and passes it back */
    enc_status (*open)(void *ctx, const enc_source_config *cfg, enc_err *err);
    /* Positions committed in the sink for this pipeline, before the first poll. */
    enc_status (*resume)(void *ctx, const enc_position *pos, size_t n, enc_err *err);
    /* Adds records and positions to b (up to the batch limits). Waits at most wait_ms
     * for new input when there is none. Sets *done when in once mode nothing is left. */
    enc_status (*poll)(void *ctx, enc_batch *b, int64_t wait_ms, bool *done, enc_err *err);
    /* A short human line on work left undone at the end (incomplete tails), or NULL. */
    const char *(*pending)(void *ctx);
    void (*close)(void *ctx);
} enc_source_ops;

extern const enc_source_ops enc_source_dir;

#endif

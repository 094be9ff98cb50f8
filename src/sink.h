/* sink — the interface every warehouse implements (SQLite now; PostgreSQL, Snowflake).
 *
 * The exactly-once rule lives here: everything a batch produces — rows, quarantined
 * records and the source positions it consumed — is written between one `begin` and
 * one `commit`. After a crash the sink's committed positions are the truth. A sink owns
 * the DDL of its dialect and quotes every identifier it is given. Functions return
 * ENC_RETRY when the warehouse is away for now (the pipeline backs off and retries the
 * whole batch) and ENC_ERROR when retrying cannot help (bad schema, disk full).
 * Adding a sink is one new file with one enc_sink_ops value and one registry line.
 */
#ifndef ENC_SINK_H
#define ENC_SINK_H

#include <stdbool.h>

#include "agg.h"
#include "batch.h"
#include "status.h"

typedef struct {
    const char *table;    /* validated identifier, e.g. MUSIC_EVENTS */
    const char *pipeline; /* names this pipeline's positions (the table name by default) */
    bool durable;         /* fsync every commit (synchronous=FULL) */
} enc_sink_config;

typedef struct {
    const char *name;   /* URL scheme: "sqlite" in sqlite:PATH */
    size_t ctx_size;
    enc_status (*open)(void *ctx, const char *target, const enc_sink_config *cfg, enc_err *err);
    /* Committed positions of cfg->pipeline; *out owned by the sink until close. */
    enc_status (*load_positions)(void *ctx, enc_position **out, size_t *n, enc_err *err);
    enc_status (*begin)(void *ctx, enc_err *err);
    enc_status (*write_rows)(void *ctx, const enc_row *rows, size_t n, enc_err *err);
    enc_status (*write_quarantine)(void *ctx, const enc_quarantine *q, size_t n, enc_err *err);
    enc_status (*record_positions)(void *ctx, const enc_position *p, size_t n, enc_err *err);
    /* Adds the batch's aggregate deltas to the daily aggregates. */
    enc_status (*write_aggregates)(void *ctx, const enc_agg *a, enc_err *err);
    /* Stores the plays first seen in this batch; forgets those older than horizon. */
    enc_status (*write_dedup)(void *ctx, const enc_dedup_key *k, size_t n, int64_t horizon, enc_err *err);
    /* Stores the batch's data-quality results (QUALITY_RESULTS). */
    enc_status (*write_quality)(void *ctx, const enc_quality_result *r, size_t n, enc_err *err);
    /* Hands every stored dedup key to fn (at start, before the first batch). */
    enc_status (*load_dedup)(void *ctx, enc_status (*fn)(void *arg, enc_dedup_key k), void *arg, enc_err *err);
    enc_status (*commit)(void *ctx, const enc_batch_stats *st, enc_err *err);
    void (*rollback)(void *ctx);
    void (*close)(void *ctx);
} enc_sink_ops;

extern const enc_sink_ops enc_sink_sqlite;
extern const enc_sink_ops enc_sink_null;

/* Finds the sink for "scheme:target"; *target points into spec. NULL when unknown. */
const enc_sink_ops *enc_sink_lookup(const char *spec, const char **target);

/* True when s is a safe SQL identifier: [A-Za-z_][A-Za-z0-9_]{0,62}. */
bool enc_sql_identifier_ok(const char *s);

#endif

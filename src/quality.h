/* quality — evaluates a compiled rule set (rules.h) over each micro-batch's rows.
 *
 * Called by the pipeline's reader thread after enrichment and dedup, before the
 * aggregates: rules run in file order; a row failing a `quarantine` rule leaves the
 * rows for the batch's quarantine (reason = the rule's name) and later rules do not see
 * it; a `warn` rule only counts; a failing `fail` rule makes enc_quality_check_batch
 * return ENC_ERROR so the batch is never committed (or, in a dry run, only counts).
 * Each rule's outcome goes into the batch (enc_quality_result → QUALITY_RESULTS, same
 * transaction) and into running totals for `encore check`. Uniqueness is remembered
 * within the watermark of event time, in memory only. Owned by one thread at a time;
 * the rule set and dimension tables are borrowed and must outlive it.
 */
#ifndef ENC_QUALITY_H
#define ENC_QUALITY_H

#include <stdbool.h>
#include <stdint.h>

#include "batch.h"
#include "dim.h"
#include "rules.h"
#include "status.h"

#define ENC_QUALITY_SAMPLES 3 /* failing values kept per rule and batch */

typedef struct {
    const enc_rules *rules;
    const enc_songs *songs; /* for exist_in; NULL = every value fails */
    const enc_users *users;
    int64_t watermark_us;   /* uniqueness window in event time; 0 = within one batch */
    bool stop_on_fail;      /* true: a failing `fail` rule stops; false (dry run): it only counts */
} enc_quality_config;

/* One rule's (or reference check's) results summed over the batches seen. */
typedef struct {
    const char *rule;   /* rule name */
    const char *column; /* as written; "songs.song_id" etc. for reference checks */
    const char *action; /* "warn", "quarantine", "fail" */
    int64_t batches;
    int64_t evaluated;
    int64_t failed;
    char samples[256];  /* JSON array: the first failing values seen */
} enc_quality_total;

typedef struct enc_quality enc_quality;

enc_status enc_quality_new(enc_quality **out, const enc_quality_config *cfg, enc_err *err);
void enc_quality_free(enc_quality *q);

/* Checks the reference data as loaded: ids unique and non-empty, the other required
 * columns non-empty, duration > 0. Results are warn-only: they join the totals (the dry
 * run's report) and each failing check is passed to warn (may be NULL) as one line.
 * They are not batch results: QUALITY_RESULTS stays exactly-once across restarts.
 * Returns the number of failing checks. */
int enc_quality_check_reference(enc_quality *q, enc_warn_fn warn, void *warn_arg);

/* Runs every rule over b->rows (and moves quarantined rows to b->quar, fixing b->stats),
 * adding one enc_quality_result per rule to b. now_us anchors bounds such as now+1d.
 * ENC_ERROR: out of memory, or a `fail` rule failed with stop_on_fail (then
 * enc_quality_stopped is true and err is "rule NAME failed on FILE:LINE (...)"). */
enc_status enc_quality_check_batch(enc_quality *q, enc_batch *b, int64_t now_us, enc_err *err);

bool enc_quality_stopped(const enc_quality *q);

/* True when a rule may move rows to the quarantine (a `quarantine` action): only then
 * can the check change which rows a batch writes (warn only counts; fail stops the whole
 * batch), so a pipeline may aggregate rows before the check when this is false. */
bool enc_quality_may_quarantine(const enc_quality *q);

/* Totals so far: the rules in file order, then the reference checks. */
const enc_quality_total *enc_quality_totals(const enc_quality *q, size_t *n);

/* True when a `fail` rule has failed at least once (dry run: the gate's answer). */
bool enc_quality_any_fail(const enc_quality *q);

#endif

/* sink_null — `--sink null:` accepts every batch and keeps nothing.
 *
 * For dry runs (`encore check --events`) and benchmarks of everything but the
 * warehouse. It has no positions, so every run starts from the beginning.
 */
#include "sink.h"

typedef struct {
    char unused;
} null_ctx;

static enc_status nul_open(void *ctx, const char *target, const enc_sink_config *cfg, enc_err *err)
{
    return ENC_OK;
}

static enc_status nul_load_positions(void *ctx, enc_position **out, size_t *n, enc_err *err)
{
    *out = NULL;
    *n = 0;
    return ENC_OK;
}

static enc_status nul_ok(void *ctx, enc_err *err)
{
    return ENC_OK;
}

static enc_status nul_rows(void *ctx, const enc_row *rows, size_t n, enc_err *err)
{
    return ENC_OK;
}

static enc_status nul_quarantine(void *ctx, const enc_quarantine *q, size_t n, enc_err *err)
{
    return ENC_OK;
}

static enc_status nul_positions(void *ctx, const enc_position *p, size_t n, enc_err *err)
{
    return ENC_OK;
}

static enc_status nul_aggregates(void *ctx, const enc_agg *a, enc_err *err)
{
    return ENC_OK;
}

static enc_status nul_dedup(void *ctx, const enc_dedup_key *k, size_t n, int64_t horizon, enc_err *err)
{
    return ENC_OK;
}

static enc_status nul_quality(void *ctx, const enc_quality_result *r, size_t n, enc_err *err)
{
    return ENC_OK;
}

static enc_status nul_load_dedup(void *ctx, enc_status (*fn)(void *arg, enc_dedup_key k), void *arg, enc_err *err)
{
    return ENC_OK;
}

static enc_status nul_commit(void *ctx, const enc_batch_stats *st, enc_err *err)
{
    return ENC_OK;
}

static void nul_void(void *ctx)
{
}

const enc_sink_ops enc_sink_null = {
    .name = "null",
    .ctx_size = sizeof(null_ctx),
    .open = nul_open,
    .load_positions = nul_load_positions,
    .begin = nul_ok,
    .write_rows = nul_rows,
    .write_quarantine = nul_quarantine,
    .record_positions = nul_positions,
    .write_aggregates = nul_aggregates,
    .write_dedup = nul_dedup,
    .write_quality = nul_quality,
    .load_dedup = nul_load_dedup,
    .commit = nul_commit,
    .rollback = nul_void,
    .close = nul_void,
};

/* batch — growable arrays of a micro-batch; memory reused across batches. */
#include "batch.h"

#include <stdint.h>
#include <string.h>

#include "agg.h"
#include "alloc.h"

void enc_batch_init(enc_batch *b)
{
    memset(b, 0, sizeof *b);
    enc_arena_init(&b->arena, 4u << 20);
}

void enc_batch_reset(enc_batch *b)
{
    enc_arena_reset(&b->arena);
    b->nrecs = b->nrows = b->nquar = b->npos = b->ndkeys = b->nqres = 0;
    if (b->agg)
        enc_agg_reset(b->agg);
    memset(&b->stats, 0, sizeof b->stats);
    b->files = 0;
    b->read_at_us = 0;
}

void enc_batch_free(enc_batch *b)
{
    enc_arena_free(&b->arena);
    enc_free(b->recs);
    enc_free(b->rows);
    enc_free(b->quar);
    enc_free(b->pos);
    enc_free(b->dkeys);
    enc_free(b->qres);
    enc_agg_free(b->agg);
    memset(b, 0, sizeof *b);
}

/* Makes room for `want` elements in *arr (of `size` bytes each); -1 when out of memory. */
static int reserve(void **arr, size_t *cap, size_t want, size_t size)
{
    if (want <= *cap)
        return 0;
    if (want > SIZE_MAX / size)
        return -1;
    void *p = enc_realloc(*arr, want * size);
    if (!p)
        return -1;
    *arr = p;
    *cap = want;
    return 0;
}

/* Grows *arr (of elements of size `size`) so one more fits; NULL when out of memory. */
static void *grow(void **arr, size_t *n, size_t *cap, size_t size)
{
    if (*n == *cap && reserve(arr, cap, *cap ? *cap * 2 : 1024, size) != 0)
        return NULL;
    return (char *)*arr + (*n)++ * size;
}

enc_status enc_batch_reserve_rows(enc_batch *b, size_t more)
{
    if (more > SIZE_MAX - b->nrows)
        return ENC_ERROR;
    return reserve((void **)&b->rows, &b->cap_rows, b->nrows + more, sizeof *b->rows) == 0 ? ENC_OK : ENC_ERROR;
}

/* Rows made from earlier records point at them (enc_row.rec), and a batch may take records
 * after some were enriched (pipeline.c fills a batch while the writer is busy): growing
 * moves the array by hand so those pointers can follow while the old one is still valid. */
static int recs_resize(enc_batch *b, size_t ncap)
{
    if (ncap > SIZE_MAX / sizeof *b->recs)
        return -1;
    enc_record *nr = enc_malloc(ncap * sizeof *nr);
    if (!nr)
        return -1;
    if (b->nrecs)
        memcpy(nr, b->recs, b->nrecs * sizeof *nr);
    for (size_t i = 0; i < b->nrows; i++)
        if (b->rows[i].rec)
            b->rows[i].rec = nr + (b->rows[i].rec - b->recs);
    enc_free(b->recs);
    b->recs = nr;
    b->cap_recs = ncap;
    return 0;
}

enc_record *enc_batch_add_record(enc_batch *b)
{
    if (b->nrecs == b->cap_recs && recs_resize(b, b->cap_recs ? b->cap_recs * 2 : 1024) != 0)
        return NULL;
    return &b->recs[b->nrecs++];
}

enc_status enc_batch_reserve_records(enc_batch *b, size_t more)
{
    if (more > SIZE_MAX - b->nrecs)
        return ENC_ERROR;
    if (b->nrecs + more <= b->cap_recs)
        return ENC_OK;
    return recs_resize(b, b->nrecs + more) == 0 ? ENC_OK : ENC_ERROR;
}

enc_row *enc_batch_add_row(enc_batch *b)
{
    return grow((void **)&b->rows, &b->nrows, &b->cap_rows, sizeof *b->rows);
}

enc_quarantine *enc_batch_add_quarantine(enc_batch *b)
{
    return grow((void **)&b->quar, &b->nquar, &b->cap_quar, sizeof *b->quar);
}

enc_dedup_key *enc_batch_add_dedup_key(enc_batch *b)
{
    return grow((void **)&b->dkeys, &b->ndkeys, &b->cap_dkeys, sizeof *b->dkeys);
}

enc_quality_result *enc_batch_add_quality_result(enc_batch *b)
{
    return grow((void **)&b->qres, &b->nqres, &b->cap_qres, sizeof *b->qres);
}

enc_status enc_batch_set_position(enc_batch *b, const enc_position *p)
{
    for (size_t i = 0; i < b->npos; i++) {
        if (strcmp(b->pos[i].key, p->key) == 0) {
            b->pos[i] = *p;
            return ENC_OK;
        }
    }
    enc_position *slot = grow((void **)&b->pos, &b->npos, &b->cap_pos, sizeof *b->pos);
    if (!slot)
        return ENC_ERROR;
    *slot = *p;
    b->files++;
    return ENC_OK;
}

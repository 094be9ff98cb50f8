/* enrich — turns a batch's raw records into MUSIC_EVENTS rows or quarantine entries.
 *
 * For each record: parse (event_json), check the required fields, derive event_time
 * (timestamp), left-join the song and the user (dim), fill the device from the user
 * when the event has none, and wrap rescued fields with _file_path. Everything it
 * makes lives in the batch arena; dimension strings are borrowed from the tables,
 * which outlive every batch. Runs on the reader thread; touches no sink.
 */
#ifndef ENC_ENRICH_H
#define ENC_ENRICH_H

#include "batch.h"
#include "dim.h"
#include "status.h"

typedef struct {
    const enc_songs *songs; /* may be NULL: no song enrichment */
    const enc_users *users; /* may be NULL */
} enc_enrich_ctx;

/* Converts b->recs into b->rows and b->quar, updating b->stats. ENC_ERROR only when
 * memory runs out (err says so); bad records are quarantined, never an error. */
enc_status enc_enrich_batch(const enc_enrich_ctx *ctx, enc_batch *b, enc_err *err);
/* The same for b->recs[from..] only: the records a batch took since its last enrichment. */
enc_status enc_enrich_records(const enc_enrich_ctx *ctx, enc_batch *b, size_t from, enc_err *err);

#endif

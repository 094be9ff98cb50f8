/* dedup — drops the same play seen twice within a watermark of event time.
 *
 * A play is identified by (user_id, song_id, event_time) hashed to 64 bits. The set
 * remembers each play's event time and forgets those older than the newest event time
 * seen minus the watermark, like Spark's dropDuplicatesWithinWatermark; memory is
 * bounded by the plays inside one watermark: expiry frees slots in place, and the table
 * doubles only when what is left inside the watermark fills it, so in a steady stream
 * its size stops growing. Expiry and growth are spread over the inserts, a few slots
 * each, so no check stalls on a pass over the set (only enc_dedup_expire makes one).
 * The keys a batch adds travel with the batch to the sink, which stores them in the
 * batch's transaction, so the state survives restarts (enc_dedup_restore). Owned by the pipeline's reader thread.
 */
#ifndef ENC_DEDUP_H
#define ENC_DEDUP_H

#include <stdbool.h>
#include <stdint.h>

#include "slice.h"
#include "status.h"

typedef struct {
    uint64_t hash;
    int64_t time_us;
} enc_dedup_key;

typedef struct enc_dedup enc_dedup;

enc_dedup *enc_dedup_new(int64_t watermark_us);
/* A hint: brings the slot where a key with this hash would be into the cache, so that
 * checking a run of keys overlaps their cache misses. */
void enc_dedup_prefetch(const enc_dedup *d, uint64_t hash);
void enc_dedup_free(enc_dedup *d);
uint64_t enc_dedup_hash(enc_slice user_id, enc_slice song_id, int64_t time_us);
/* *dup = true when the key is already known within the watermark; otherwise it is
 * remembered. ENC_ERROR only when out of memory. */
enc_status enc_dedup_check(enc_dedup *d, enc_dedup_key k, bool *dup);
/* Adds a key remembered by an earlier run (no duplicate check). */
enc_status enc_dedup_restore(enc_dedup *d, enc_dedup_key k);
/* Forgets every key older than the watermark now, in one pass over the table (O(table):
 * for start-up and tests). Checks need not call it: inserts sweep the set a few slots
 * at a time once keys may have expired. */
enc_status enc_dedup_expire(enc_dedup *d);
/* Event time below which keys are forgotten (INT64_MIN before any key). */
int64_t enc_dedup_horizon(const enc_dedup *d);
size_t enc_dedup_size(const enc_dedup *d);
/* Slots allocated (16 bytes each): what the set costs in memory. */
size_t enc_dedup_capacity(const enc_dedup *d);

#endif

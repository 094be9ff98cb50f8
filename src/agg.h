/* agg — one batch's aggregate deltas: plays, seconds and listeners per day and key.
 *
 * For each MUSIC_EVENTS row the batch keeps, agg adds one play to (song, day),
 * (artist, day), (genre, day), (country, day) and (device, day) — skipping a dimension
 * whose value is NULL, so an unknown song still counts under its id and for country
 * and device — with the song's duration (0 when unknown) and the user in a HyperLogLog
 * sketch. The sink adds the deltas to its daily table in the batch's transaction, which
 * makes the aggregates exactly-once with the rows. Keys are slices borrowed from the
 * batch or the dimension tables. Owned by one batch; reset with it (an agg keeps its
 * memory across resets, so the next batch reuses it instead of touching fresh pages).
 *
 * Most of an agg's memory is needed only while its rows come and are sorted: the key
 * tables, the groups, the (group, listener) pairs and the sort's arrays, together about
 * three times the sorted entries and packs the sink reads afterwards. That part is an
 * enc_agg_scratch, which aggs may share when one thread at a time fills and sorts them
 * (the pipeline's batches: one is aggregated while the others wait or are written), so
 * its pages are touched once per run instead of once per batch slot. An agg holds its
 * scratch from its first enc_agg_add_rows after a reset to its enc_agg_sort; an add to
 * an agg whose scratch another agg holds fails.
 */
#ifndef ENC_AGG_H
#define ENC_AGG_H

#include <stdint.h>

#include "batch.h"
#include "status.h"

typedef enum {
    ENC_AGG_SONG,
    ENC_AGG_ARTIST,
    ENC_AGG_GENRE,
    ENC_AGG_COUNTRY,
    ENC_AGG_DEVICE,
    ENC_AGG_NDIMS
} enc_agg_dim;

/* One (dimension, day, key)'s delta, complete after enc_agg_sort. */
typedef struct {
    enc_agg_dim dim;
    int64_t day;        /* days since 1970-01-01 (UTC) */
    enc_slice key;
    int64_t plays;
    int64_t seconds;
    enc_slice listeners_blob; /* the sketch serialized (hll.h), owned by the agg */
    enc_slice title, artist; /* ENC_AGG_SONG only; both NULL when an earlier batch of the
                                run wrote them (enc_agg_scratch_remember) or the song is unknown */
    uint32_t song_ix;        /* ENC_AGG_SONG: enc_row.song_ix of its rows (0: unknown) */
} enc_agg_entry;

/* After enc_agg_sort: the entries of one (dimension, day) as one pack (pack.h), which the
 * sink stores instead of upserting each entry when the day is after its rollup horizon. */
typedef struct {
    enc_agg_dim dim;
    int64_t day;
    enc_slice blob; /* owned by the agg */
} enc_agg_pack;

typedef struct enc_agg enc_agg;
typedef struct enc_agg_scratch enc_agg_scratch;

#define ENC_AGG_SHARED_OUTPUTS 2

enc_agg_scratch *enc_agg_scratch_new(void);
/* Frees w; every agg sharing it must be freed first. */
void enc_agg_scratch_free(enc_agg_scratch *w);
/* Makes the aggs sharing w leave out what an earlier batch's deltas already wrote
 * (agg_known.h): a song's names after its first entry of a day, and the listeners that a
 * dense sketch already written counts. For a sink that merges the deltas and commits the
 * batches in the order their aggs were sorted, none skipped (the pipeline's). ENC_ERROR
 * when out of memory. */
enc_status enc_agg_scratch_remember(enc_agg_scratch *w);
/* Makes the aggs made from now on with w share its ENC_AGG_SHARED_OUTPUTS outputs too:
 * the entries and packs a sort makes, which an agg then holds from its enc_agg_sort to
 * its enc_agg_reset (a sort while others hold them all fails). For a pipeline that writes
 * the batches' aggregates in order and has at most two sorted and not yet reset (--once:
 * pipeline.c, the batch being written and the next, sorted ahead), so that their pages
 * are touched once per run instead of once per batch slot. */
void enc_agg_scratch_share_output(enc_agg_scratch *w);
/* An agg using the shared scratch (borrowed: it must outlive the agg), or with a scratch
 * of its own when shared is NULL. */
enc_agg *enc_agg_new(enc_agg_scratch *shared);
void enc_agg_free(enc_agg *a);
void enc_agg_reset(enc_agg *a);
enc_status enc_agg_add_rows(enc_agg *a, const enc_row *rows, size_t n, enc_err *err);
/* The number of (dimension, day, key) entries. */
size_t enc_agg_count(const enc_agg *a);
/* After enc_agg_sort: entry i in the sink's key order (see there). */
const enc_agg_entry *enc_agg_at(const enc_agg *a, size_t i);
const char *enc_agg_dim_name(enc_agg_dim d); /* "song", "artist", ... */
/* Orders the entries (as enc_agg_at sees them) by (dimension name, day, key), the
 * sink's primary-key order, so its B-tree is written front to back instead of at
 * random (a time-ordered stream appends), totals them, serializes each sketch and packs
 * each (dimension, day)'s entries (each entry's listeners_blob is its bytes in the
 * pack), so the sink's thread only binds bytes. Call only when the batch is complete:
 * no rows may be added after it. ENC_ERROR when out of memory, or when the shared outputs
 * (enc_agg_scratch_share_output) are all other aggs'; a second call returns what the
 * first did. */
enc_status enc_agg_sort(enc_agg *a);
/* After enc_agg_sort: the packs, in the entries' order. */
size_t enc_agg_pack_count(const enc_agg *a);
const enc_agg_pack *enc_agg_pack_at(const enc_agg *a, size_t i);

#endif

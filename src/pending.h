/* pending — aggregate deltas of days after the rollup horizon, kept as packs until folded.
 *
 * Owns TABLE_PENDING (dimension, day 'YYYY-MM-DD', deltas BLOB: one pack.h blob, level) in
 * the sink's database. A batch appends one level-0 pack per (dimension, day) after the
 * horizon R (one insert instead of one daily upsert per key). When a (dimension, day) holds
 * ENC_PENDING_FOLD_AT packs of one level (twice as many big ones at level 0, below), they
 * are merged in C into one pack of the next
 * level (compaction, an LSM tree: each delta is rewritten once per level, and a batch's
 * cost is the size of the packs it merges, not the number of keys of the day); the packs
 * of a day are in age order by rowid, their levels non-increasing. A day's packs are folded
 * into TABLE_DAILY (one upsert per key, in key order) when R passes the day, when its
 * top level fills (ENC_PENDING_LEVELS), or when the writer closes. So the daily rows of a
 * day plus its pending packs are the day's aggregates; charts (plan.c) merge both. Called
 * by sink_sqlite and rollup inside the batch's transaction (exactly-once like the rows),
 * and by plan.c to read. Never prints.
 *
 * A compaction's merge runs on a thread of its own: the writer copies the level's packs
 * out, and a later append of that (dimension, day) replaces them by the merged pack once
 * it is done (pending.c: the order and levels stay those of a compaction in place). So a
 * level may hold ENC_PENDING_FOLD_AT packs or more for a while (level 0 up to 8 times as
 * many, then the writer waits for the merge), and the writer must call
 * enc_pending_rollback when it rolls a transaction back.
 */
#ifndef ENC_PENDING_H
#define ENC_PENDING_H

#include <stdbool.h>
#include <stdint.h>
#include <sqlite3.h>

#include "pack.h"
#include "status.h"

#define ENC_PENDING_FOLD_AT 8 /* packs of one (dimension, day) and level that are merged into one */
/* ... or, at level 0, this many when the pack appended has ENC_PENDING_BIG_PACK bytes or
 * more (the song packs of --once batches of 100k events, 0.65-0.8 MB each since a song's
 * names come once a day, agg_known.h; level 0's packs are batch-sized, so the last says
 * how big they are): the same bytes merged, and a 10M-event day needs no level-2 merge
 * (tens of MB), while watch mode's small packs (tens of KB), and every higher level, keep
 * the merges of 8 whose copies its latency wants small (bench/RESULTS.md, session 8). */
#define ENC_PENDING_FOLD_AT_BIG 16
#define ENC_PENDING_BIG_PACK (1 << 19)
#define ENC_PENDING_LEVELS 5   /* levels 0..4; 8 packs of the top level fold the day instead */

typedef struct enc_pending enc_pending;

/* Creates TABLE_PENDING if missing (outside a transaction) and prepares the writer's
 * statements. TABLE_DAILY must exist. *out is the caller's (enc_pending_free). */
enc_status enc_pending_open(sqlite3 *db, const char *table, enc_pending **out, enc_err *err);
void enc_pending_free(enc_pending *p); /* p may be NULL */

/* Appends one level-0 pack of (dim, day), then compacts each full level (see above).
 * ENC_RETRY when busy. */
enc_status enc_pending_append(enc_pending *p, const char *dim, int64_t day, enc_slice pack, enc_err *err);

/* Forgets every merge in flight (waiting for their threads): the transaction that read
 * their packs may be the one rolled back. The packs stay, and are merged again. */
void enc_pending_rollback(enc_pending *p); /* p may be NULL */

/* Folds every (dimension, day) with day <= through into TABLE_DAILY and deletes its packs. */
enc_status enc_pending_fold_through(enc_pending *p, int64_t through, enc_err *err);

/* Copies result column i, a day 'YYYY-MM-DD' or NULL (then ""), into out; ENC_ERROR when
 * it is text of another length. For the readers of day columns here and in plan.c. */
enc_status enc_pending_day_column(sqlite3_stmt *st, int i, char out[11]);

/* Reading: calls fn for every entry of every pack of dimension dim on the days in [lo, hi]
 * ('YYYY-MM-DD'), days ascending, a day's packs oldest first (age counts packs up from 0
 * over the scan), each pack's keys ascending; a key may come once per pack. The entry's
 * slices live until fn returns. A database without TABLE_PENDING has none. */
typedef enc_status (*enc_pending_fn)(void *arg, const char day[11], int64_t age, const enc_pack_entry *e,
                                     enc_err *err);
enc_status enc_pending_scan(sqlite3 *db, const char *table, const char *dim, const char *lo, const char *hi,
                            enc_pending_fn fn, void *arg, enc_err *err);

/* The first and last day ('' when none) that dimension dim has packs on. */
enc_status enc_pending_span(sqlite3 *db, const char *table, const char *dim, char first[11], char last[11],
                            enc_err *err);

#endif

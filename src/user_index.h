/* user_index — the events table's per-user index, TABLE_BY_USER, which `encore wrapped`
 * reads, and the one query shape that uses it.
 *
 * A table created by this encore has `event_id INTEGER PRIMARY KEY` (the rowid, assigned
 * in insert order, never bound) and the index ("event_id" >> bits, user_id, event_time):
 * the rows sorted by user within each ingestion generation of 2^bits rows. A batch lands
 * in the last one or two generations, so a commit rewrites a bounded run of index pages
 * instead of leaves all over a (user_id, event_time) index, whose whole width every batch
 * of random users touched. A reader seeks each generation once (~6100 at 100M rows). A table from an older encore (no event_id) keeps its (user_id, event_time)
 * index and is never rewritten. Called by sink_sqlite.c (creates the index) and
 * wrapped.c (reads the layout back, builds the query). Never prints.
 */
#ifndef ENC_USER_INDEX_H
#define ENC_USER_INDEX_H

#include <stdbool.h>
#include <stddef.h>

#include <sqlite3.h>

#include "status.h"

/* 2^14 rows a generation: a small watch-mode commit rewrites at most one generation's
 * index pages (~16 of 64 KiB; ~0.25 MB a commit on average), and a wrapped on 100M rows
 * seeks ~6100 generations, once (~80 ms). 2^12, 2^16 and 2^18 were measured too
 * (bench/RESULTS.md, session 4). Kept in the index's definition, so a database keeps the
 * value it was created with. */
#ifndef ENC_USER_INDEX_GEN_BITS /* a benchmark build may set another */
#define ENC_USER_INDEX_GEN_BITS 14
#endif
#define ENC_USER_INDEX_GEN_BITS_MAX 40

typedef struct {
    bool generations; /* ("event_id" >> gen_bits, user_id, event_time); false: (user_id, event_time) */
    int gen_bits;
} enc_user_index;

/* Creates TABLE_BY_USER when missing, in the table's layout: generations of 2^gen_bits
 * rows (1..ENC_USER_INDEX_GEN_BITS_MAX) when the table has event_id, (user_id,
 * event_time) when not. An existing index is left as it is. `table` is a checked
 * identifier. Returns an SQLite result code, for the caller to map (disk full, busy). */
int enc_user_index_create(sqlite3 *db, const char *table, int gen_bits);

/* Reads the layout from TABLE_BY_USER's definition. A missing index, or one of another
 * shape, reads as generations == false: that query is correct on any table, only slower. */
enc_status enc_user_index_read(sqlite3 *db, const char *table, enc_user_index *out, enc_err *err);

/* Writes into out the FROM … WHERE of a query over one user's rows with ?1 = user_id and
 * ?2 <= event_time < ?3, shaped to use the index `ix` describes: one range per
 * generation, the generations 0 .. max(event_id) >> bits from a recursive CTE. Columns
 * of `table` are named bare; more conditions may follow with AND. ENC_ERROR when out is
 * too small. */
enc_status enc_user_index_from(const enc_user_index *ix, const char *table, char *out, size_t size, enc_err *err);

#endif

/* rollup — monthly and yearly totals beside TABLE_DAILY, so a chart of a month, a year or
 * all time reads one row per key instead of one per key and day.
 *
 * Owns, in the sink's database: TABLE_MONTHLY (dimension, month 'YYYY-MM', key, plays,
 * seconds) and TABLE_YEARLY (dimension, year 'YYYY', key, plays, seconds), both WITHOUT
 * ROWID with the period before the key in the primary key (a period's keys are one range).
 * A month's keys also lead a chart of some of its days to their daily rows (one seek per
 * key; TABLE_DAILY needs no second index). No sketches: unique listeners stay in
 * TABLE_DAILY.
 * Called by sink_sqlite only, inside the batch's transaction, so the totals are
 * exactly-once like the daily rows. Read by report.c. Never prints.
 */
#ifndef ENC_ROLLUP_H
#define ENC_ROLLUP_H

#include <sqlite3.h>

#include "agg.h"
#include "status.h"

typedef struct enc_rollup enc_rollup;

/* Makes sure the rollup tables exist for events table `table` (a
 * checked identifier, whose TABLE_DAILY exists). When the tables are new they are filled
 * from TABLE_DAILY in the same transaction, so a database written before rollups existed
 * gets complete totals on its next `encore run`. Then prepares the upserts. *out is the
 * caller's, freed with enc_rollup_free. Must not be called inside a transaction. */
enc_status enc_rollup_open(sqlite3 *db, const char *table, enc_rollup **out, enc_err *err);

/* Adds one batch's daily deltas to the monthly and yearly totals, inside the caller's
 * transaction. Deltas in (dimension, key, day) order (enc_agg_sort) collapse into one
 * upsert per key and month or year; any order is correct. ENC_RETRY when the database is
 * busy, else ENC_ERROR with err set. */
enc_status enc_rollup_add(enc_rollup *r, const enc_agg *a, enc_err *err);

void enc_rollup_free(enc_rollup *r); /* r may be NULL */

#endif

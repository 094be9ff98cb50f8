/* rollup — monthly and yearly totals beside TABLE_DAILY, so a chart of a month, a year or
 * all time reads one row per key instead of one per key and day.
 *
 * Owns, in the sink's database: TABLE_MONTHLY (dimension, month 'YYYY-MM', key, plays,
 * seconds, listeners, title, artist), TABLE_YEARLY (dimension, year 'YYYY', key, plays,
 * seconds, listeners), both WITHOUT ROWID with the period before the key in the primary
 * key, and one row of _ENCORE_ROLLUP (events_table, rolled_through) per events table.
 *
 * The totals are rolled lazily, so a batch upserts the daily rows only, not three rows per
 * delta. rolled_through is the horizon R (a day, or NULL before the first roll):
 *   TABLE_MONTHLY of month M = the sum of M's daily rows with day <= R;
 *   TABLE_YEARLY of year Y   = the sum of Y's monthly rows whose month ended by R.
 * Each batch moves R up to the day before the day most of its plays fall on (a live stream:
 * yesterday), rolling the days it passes into their months and the months that end by it
 * into their years: a key and day is rolled once, not once per batch. A late delta (its day
 * <= R) is added to its month, and to its year when that month ended by R. A chart reads
 * the totals up to R and the daily rows after it (enc_period_segments).
 * Called by sink_sqlite only, inside the batch's transaction, so the totals and R are
 * exactly-once like the daily rows. Read by chart.c. Never prints.
 */
#ifndef ENC_ROLLUP_H
#define ENC_ROLLUP_H

#include <stdbool.h>
#include <sqlite3.h>

#include "agg.h"
#include "pending.h"
#include "status.h"

/* R before anything is rolled: a day before 0001-01-01, so R + 1 stays a valid number. */
#define ENC_ROLLUP_NONE (-1000000)

typedef struct enc_rollup enc_rollup;

/* Makes sure the rollup tables exist for events table `table` (a checked identifier, whose
 * TABLE_DAILY exists, in (dimension, day, key) order). A database without them, or with
 * totals from an older encore (no listeners column, no horizon), gets them rebuilt from
 * TABLE_DAILY in one transaction (pending deltas folded into it first), rolled up to the
 * day before its latest day. pending (borrowed, outlives r; NULL: none) is folded into the daily rows
 * of the days the horizon passes. Then prepares
 * the statements. *out is the caller's, freed with enc_rollup_free. Must not be called
 * inside a transaction. */
enc_status enc_rollup_open(sqlite3 *db, const char *table, enc_pending *pending, enc_rollup **out, enc_err *err);

/* The horizon R (ENC_ROLLUP_NONE before the first roll), read inside the caller's
 * transaction: a batch's deltas of days <= R go to TABLE_DAILY one by one, the others
 * to the pending packs. */
enc_status enc_rollup_through(enc_rollup *r, int64_t *through, enc_err *err);

/* Inside the caller's transaction, after the batch's deltas went into TABLE_DAILY or the
 * pending packs: adds late deltas to the totals, then moves the horizon (see above),
 * folding the pending packs of the days it passes into TABLE_DAILY first. ENC_RETRY when
 * the database is busy, else ENC_ERROR with err set. */
enc_status enc_rollup_add(enc_rollup *r, const enc_agg *a, enc_err *err);

/* The horizon of `table` in db: *present is false when the database has no lazily rolled
 * totals (never opened by an `encore run` that keeps them, or its monthly or yearly table
 * dropped); else *through is R, or ENC_ROLLUP_NONE. */
enc_status enc_rollup_horizon(sqlite3 *db, const char *table, bool *present, int64_t *through, enc_err *err);

/* The last day of the last month that ended by day r: TABLE_YEARLY covers its year's
 * months up to there when r is the horizon. */
int64_t enc_rollup_months_ended_by(int64_t r);

void enc_rollup_free(enc_rollup *r); /* r may be NULL */

#endif

/* plan — where a chart reads each part of its period, and one key's cells in it.
 *
 * The totals (rollup.h) cover days up to the rollup horizon R; TABLE_DAILY covers every day.
 * enc_period_segments cuts a period into runs read from the coarsest table that covers
 * them (days after R: TABLE_DAILY plus the pending packs, loaded into a temp table when
 * the plan opens); an enc_plan then answers, for one key, the union of its listener sketches and its
 * latest song names over those runs by primary-key lookups (one per year, month or day
 * with data), never by scanning other keys. Owned by chart.c's query; reads only.
 */
#ifndef ENC_PLAN_H
#define ENC_PLAN_H

#include <stdbool.h>
#include <stdint.h>
#include <sqlite3.h>

#include "status.h"

/* Where a chart reads a run of its period from: TABLE_DAILY (lo/hi 'YYYY-MM-DD'),
 * TABLE_MONTHLY ('YYYY-MM') or TABLE_YEARLY ('YYYY'), both ends inclusive. */
typedef enum { ENC_GRAIN_DAY, ENC_GRAIN_MONTH, ENC_GRAIN_YEAR } enc_grain;
typedef struct {
    enc_grain grain;
    char lo[11];
    char hi[11];
} enc_segment;
#define ENC_SEGMENTS_MAX 8

/* Cuts the days [from, to] ('YYYY-MM-DD') into time-ordered runs: years whose totals
 * cover what they hold of the period (TABLE_YEARLY holds a year's months that ended by
 * the horizon), then months (TABLE_MONTHLY holds a month's days up to the horizon), then
 * days. Without rollups, or with nothing rolled (horizon ENC_ROLLUP_NONE), the whole
 * period is one run of days. Returns how many runs (0 for dates that do not parse). */
size_t enc_period_segments(const char *from, const char *to, bool rollups, int64_t horizon,
                           enc_segment out[ENC_SEGMENTS_MAX]);

typedef struct enc_plan enc_plan;

/* A plan for dimension `dim` ("song", ...) of events table `table` (checked) over
 * [from, to], narrowed to the days the dimension has rows on. *out is the caller's (free
 * with enc_plan_free); (*out)->nseg may be 0 when no day of the period has rows. */
enc_status enc_plan_open(sqlite3 *db, const char *table, const char *dim, const char *from, const char *to,
                         enc_plan **out, enc_err *err);
void enc_plan_free(enc_plan *p); /* p may be NULL */

size_t enc_plan_segments(const enc_plan *p, const enc_segment **seg);

/* Whether days of the plan's day runs have pending packs (pending.h), loaded into the
 * connection's temp.enc_live (dimension, day, key, age, plays, seconds, listeners, title,
 * artist; a key once per pack): a chart's day runs then read it beside TABLE_DAILY. */
bool enc_plan_live(const enc_plan *p);

/* Estimated distinct listeners of key over the plan's period. */
enc_status enc_plan_listeners(enc_plan *p, const char *key, int64_t *out, enc_err *err);

/* The song's title and artist from the latest run of the period that has them; both NULL
 * when none has. *title and *artist are the caller's (enc_free). */
enc_status enc_plan_names(enc_plan *p, const char *key, char **title, char **artist, enc_err *err);

#endif

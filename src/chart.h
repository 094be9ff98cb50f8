/* chart — ranked charts over a SQLite sink's aggregates (`encore top`): the query and the
 * chart it fills. Rendering is render.h.
 */
#ifndef ENC_CHART_H
#define ENC_CHART_H

#include "plan.h"
#include "report.h"

typedef struct {
    char *key;    /* song_id, artist, genre, country or device */
    char *title;  /* song charts only: from songs.csv; NULL when unknown or not a song chart */
    char *artist; /* likewise */
    int64_t plays;
    int64_t listeners; /* HyperLogLog estimate of distinct users over the period */
    int64_t seconds;   /* sum of song durations (unknown durations count 0) */
} enc_chart_row;

typedef struct {
    enc_chart_by by;
    enc_chart_metric metric;
    enc_period period;
    char title[160];     /* "Song of the Year 2025 — by plays", set by enc_chart_query */
    enc_chart_row *rows; /* owned; free with enc_chart_free */
    size_t n;
} enc_chart;

/* Ranks the keys of dimension c->by over c->period by c->metric (`table` is the events
 * table name, already checked with enc_sql_identifier_ok): metric desc, then plays desc,
 * then key asc (bytewise); at most `limit` rows. Plays and minutes come from TABLE_YEARLY,
 * TABLE_MONTHLY and TABLE_DAILY (enc_plan); listeners from the same rows' sketches
 * of each key shown (and, ranking by listeners, of the keys whose plays could still place
 * them). Fills c->title, c->rows and c->n. On ENC_ERROR c holds no rows. */
enc_status enc_chart_query(sqlite3 *db, const char *table, int64_t limit, enc_chart *c, enc_err *err);
void enc_chart_free(enc_chart *c);

/* Heading for a chart, e.g. "Artist of the Month 2025-04 — by listeners",
 * "Top genres 2025-04-01 … 2025-04-30 — by minutes", "Top countries, all time — by plays". */
void enc_chart_title(enc_chart_by by, enc_chart_metric m, const enc_period *p, char *out, size_t size);

#endif

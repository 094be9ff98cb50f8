/* report — read-only reports over a SQLite sink: charts (`encore top`) and a user's year
 * (`encore wrapped`).
 *
 * Owns opening the warehouse read-only with the HLL functions registered, the period
 * flags (--year/--month/--day/--from --to), the chart and wrapped queries (every value
 * bound as a parameter; table names only after enc_sql_identifier_ok, double-quoted) and
 * rendering them as table, CSV or JSON text into an enc_buf. Called by cmd_top.c and
 * cmd_wrapped.c. Never prints and never writes to the database: a report can run while
 * `encore run` is writing (WAL readers see the last committed batch).
 */
#ifndef ENC_REPORT_H
#define ENC_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "buf.h"
#include "plan.h"
#include "status.h"

#define ENC_REPORT_LIMIT_MAX 10000               /* most rows a chart returns */
#define ENC_WRAPPED_TOP 5                        /* songs and artists listed in a wrapped */
#define ENC_REPORT_OUTPUT_MAX ((size_t)64 << 20) /* cap on one rendered report */

typedef enum { ENC_BY_SONG, ENC_BY_ARTIST, ENC_BY_GENRE, ENC_BY_COUNTRY, ENC_BY_DEVICE } enc_chart_by;
typedef enum { ENC_METRIC_PLAYS, ENC_METRIC_LISTENERS, ENC_METRIC_MINUTES } enc_chart_metric;
typedef enum { ENC_FORMAT_TABLE, ENC_FORMAT_CSV, ENC_FORMAT_JSON } enc_report_format;

/* Each parses one flag value ("song", "listeners", "csv") into *out; ENC_ERROR when it
 * is not one of the names. The *_names strings list them for messages: "song, artist…". */
enc_status enc_chart_by_parse(const char *s, enc_chart_by *out);
enc_status enc_chart_metric_parse(const char *s, enc_chart_metric *out);
enc_status enc_report_format_parse(const char *s, enc_report_format *out);
extern const char enc_chart_by_names[];
extern const char enc_chart_metric_names[];
const char *enc_chart_by_name(enc_chart_by by);        /* "song" */
const char *enc_chart_metric_name(enc_chart_metric m); /* "plays" */

typedef enum {
    ENC_PERIOD_ALL,
    ENC_PERIOD_YEAR,
    ENC_PERIOD_MONTH,
    ENC_PERIOD_DAY,
    ENC_PERIOD_RANGE,
} enc_period_kind;

/* A span of whole UTC days. from/to are inclusive 'YYYY-MM-DD'; for ALL they are
 * 0001-01-01 and 9999-12-31 (every day an event can have). label is what the period is
 * called in headings: "2025", "2025-04", "2025-04-09", "2025-04-01 … 2025-04-30" or "". */
typedef struct {
    enc_period_kind kind;
    char from[11];
    char to[11];
    char label[40];
} enc_period;

/* The period flags as given (NULL when absent). */
typedef struct {
    const char *year;  /* YYYY */
    const char *month; /* YYYY-MM */
    const char *day;   /* YYYY-MM-DD */
    const char *from;  /* YYYY-MM-DD, with to */
    const char *to;
} enc_period_flags;

/* Checks the flags (at most one form; --from with --to; valid dates; from <= to) and fills
 * *out. err names the flag and how to fix it, without a command prefix. */
enc_status enc_period_parse(const enc_period_flags *f, enc_period *out, enc_err *err);

/* Parses "YYYY" (exactly four digits, 0001-9999). */
enc_status enc_report_year_parse(const char *s, int *year);

/* Opens the SQLite database at path read-only (never creating it), with the encore_hll_*
 * functions registered and a busy timeout. The file must exist. *db is the caller's, to
 * close with sqlite3_close. On ENC_ERROR *db is NULL and err says why. */
enc_status enc_report_open(const char *path, sqlite3 **db, enc_err *err);

/* *exists = whether db has a table named `table` (exact name). ENC_ERROR when the file is
 * not a database or cannot be read. */
enc_status enc_report_table_exists(sqlite3 *db, const char *table, bool *exists, enc_err *err);

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

/* Appends the chart to out: table (heading, aligned columns, "no plays in this period"
 * when empty), CSV (a header row and RFC 4180 quoting, LF line ends) or JSON (one object
 * with title, by, metric, from, to, rows). ENC_ERROR only when out's cap is reached or
 * memory runs out. */
enc_status enc_chart_render(const enc_chart *c, enc_report_format f, enc_buf *out);

typedef struct {
    char *song_id;
    char *title;  /* NULL for a song not in songs.csv */
    char *artist; /* likewise */
    int64_t plays;
} enc_wrapped_song;

typedef struct {
    char *name;
    int64_t plays;
} enc_wrapped_item;

typedef struct {
    const char *user; /* borrowed from the caller for the life of the struct */
    int year;
    int64_t plays;
    int64_t seconds;                             /* sum of durations; unknown durations count 0 */
    int64_t songs;                               /* distinct song ids */
    int64_t artists;                             /* distinct known artists */
    enc_wrapped_song top_songs[ENC_WRAPPED_TOP]; /* plays desc, song_id asc */
    size_t n_songs;
    enc_wrapped_item top_artists[ENC_WRAPPED_TOP]; /* plays desc, artist asc */
    size_t n_artists;
    char *top_genre;  /* most played known genre (ties: name asc), NULL when none */
    char *top_device; /* most used device (ties: name asc), NULL when none */
} enc_wrapped;

/* One user's plays in one calendar year (UTC) from `table` (checked identifier), read
 * through TABLE_BY_USER in the table's layout (user_index.h): one range per ingestion
 * generation of ("event_id" >> bits, user_id, event_time), or one range of an older
 * table's (user_id, event_time). user is bound, never pasted into SQL. A user with no
 * plays gives ENC_OK and w->plays == 0. Free with enc_wrapped_free. */
enc_status enc_wrapped_query(sqlite3 *db, const char *table, const char *user, int year, enc_wrapped *w, enc_err *err);
void enc_wrapped_free(enc_wrapped *w);

/* Appends the wrapped as a small readable report (or one friendly line when the user has
 * no plays that year) or as one JSON object. Only ENC_FORMAT_TABLE and ENC_FORMAT_JSON. */
enc_status enc_wrapped_render(const enc_wrapped *w, enc_report_format f, enc_buf *out);

#endif

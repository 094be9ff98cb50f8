/* report — what the read-only reports over a SQLite sink share: charts (`encore top`,
 * chart.h) and a user's year (`encore wrapped`, wrapped.h), rendered by render.h.
 *
 * Owns opening the warehouse read-only with the HLL functions registered, the flag values
 * (--by, --metric, --format, --year/--month/--day/--from --to) and SQL error text. Reports
 * bind every value as a parameter and paste table names only after
 * enc_sql_identifier_ok, double-quoted. They never print and never write to the database:
 * a report can run while `encore run` is writing (WAL readers see the last committed batch).
 */
#ifndef ENC_REPORT_H
#define ENC_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "status.h"

#define ENC_REPORT_LIMIT_MAX 10000               /* most rows a chart returns */
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

/* enc_err_set(err, "WHAT: sqlite's message for db"); returns ENC_ERROR. */
enc_status enc_report_sql_fail(sqlite3 *db, const char *what, enc_err *err);

/* A copy of text column i of the current row (enc_free), NULL for SQL NULL; sets *oom
 * when memory runs out. */
char *enc_report_column_dup(sqlite3_stmt *st, int i, bool *oom);

#endif

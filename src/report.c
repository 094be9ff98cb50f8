/* report — what every report over the SQLite sink shares: the flag values (--by, --metric,
 * --format, the period flags), opening the database read-only with the HLL functions,
 * and SQL error text. The chart is chart.c, a user's year wrapped.c, the text render.c.
 */
#include "report.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "sql_hll.h"
#include "timestamp.h"

enum { BUSY_TIMEOUT_MS = 5000 }; /* a writer's commit holds the WAL lock only briefly */

/* ---- names ---------------------------------------------------------------------- */

static const char *const by_names[] = {"song", "artist", "genre", "country", "device"};
static const char *const metric_names[] = {"plays", "listeners", "minutes"};
static const char *const format_names[] = {"table", "csv", "json"};
const char enc_chart_by_names[] = "song, artist, genre, country or device";
const char enc_chart_metric_names[] = "plays, listeners or minutes";

static enc_status pick(const char *s, const char *const *names, size_t n, int *out)
{
    for (size_t i = 0; s && i < n; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (int)i;
            return ENC_OK;
        }
    }
    return ENC_ERROR;
}

enc_status enc_chart_by_parse(const char *s, enc_chart_by *out)
{
    int i;
    if (pick(s, by_names, sizeof by_names / sizeof by_names[0], &i) != ENC_OK)
        return ENC_ERROR;
    *out = (enc_chart_by)i;
    return ENC_OK;
}

enc_status enc_chart_metric_parse(const char *s, enc_chart_metric *out)
{
    int i;
    if (pick(s, metric_names, sizeof metric_names / sizeof metric_names[0], &i) != ENC_OK)
        return ENC_ERROR;
    *out = (enc_chart_metric)i;
    return ENC_OK;
}

enc_status enc_report_format_parse(const char *s, enc_report_format *out)
{
    int i;
    if (pick(s, format_names, sizeof format_names / sizeof format_names[0], &i) != ENC_OK)
        return ENC_ERROR;
    *out = (enc_report_format)i;
    return ENC_OK;
}

const char *enc_chart_by_name(enc_chart_by by)
{
    return by_names[by];
}

const char *enc_chart_metric_name(enc_chart_metric m)
{
    return metric_names[m];
}

/* ---- periods -------------------------------------------------------------------- */

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

enc_status enc_report_year_parse(const char *s, int *year)
{
    if (!s || strlen(s) != 4 || !all_digits(s, 4))
        return ENC_ERROR;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    if (y < 1)
        return ENC_ERROR;
    *year = y;
    return ENC_OK;
}

static enc_status parse_day_flag(const char *flag, const char *s, int64_t *days, enc_err *err)
{
    if (enc_ts_parse_date(s, strlen(s), days) != ENC_OK)
        return enc_err_set(err, "--%s '%s' is not a valid date; give YYYY-MM-DD such as 2025-04-09", flag, s);
    return ENC_OK;
}

enc_status enc_period_parse(const enc_period_flags *f, enc_period *out, enc_err *err)
{
    memset(out, 0, sizeof *out);
    int forms = (f->year != NULL) + (f->month != NULL) + (f->day != NULL) + (f->from != NULL || f->to != NULL);
    if (forms > 1)
        return enc_err_set(err, "give only one period: --year, --month, --day or --from with --to");
    int64_t from = enc_ts_days_from_civil(1, 1, 1), to = enc_ts_days_from_civil(9999, 12, 31);
    if (f->year) {
        int y;
        if (enc_report_year_parse(f->year, &y) != ENC_OK)
            return enc_err_set(err, "--year '%s' is not valid; give four digits such as 2025", f->year);
        out->kind = ENC_PERIOD_YEAR;
        from = enc_ts_days_from_civil(y, 1, 1);
        to = enc_ts_days_from_civil(y, 12, 31);
        snprintf(out->label, sizeof out->label, "%04d", y);
    } else if (f->month) {
        char first[11];
        int64_t d;
        int y = 0, m = 0, dd;
        bool shape = strlen(f->month) == 7 && f->month[4] == '-';
        if (shape) {
            snprintf(first, sizeof first, "%.7s-01", f->month);
            shape = enc_ts_parse_date(first, 10, &d) == ENC_OK;
        }
        if (!shape)
            return enc_err_set(err, "--month '%s' is not valid; give YYYY-MM with a month 01-12, such as 2025-04",
                               f->month);
        enc_ts_civil(d, &y, &m, &dd);
        out->kind = ENC_PERIOD_MONTH;
        from = d;
        to = m == 12 ? enc_ts_days_from_civil(y + 1, 1, 1) - 1 : enc_ts_days_from_civil(y, m + 1, 1) - 1;
        snprintf(out->label, sizeof out->label, "%04d-%02d", y, m);
    } else if (f->day) {
        if (parse_day_flag("day", f->day, &from, err) != ENC_OK)
            return ENC_ERROR;
        to = from;
        out->kind = ENC_PERIOD_DAY;
        enc_ts_format_day(from, out->label);
    } else if (f->from || f->to) {
        if (!f->to)
            return enc_err_set(err, "--from needs --to: give both ends of the period (YYYY-MM-DD, inclusive)");
        if (!f->from)
            return enc_err_set(err, "--to needs --from: give both ends of the period (YYYY-MM-DD, inclusive)");
        if (parse_day_flag("from", f->from, &from, err) != ENC_OK || parse_day_flag("to", f->to, &to, err) != ENC_OK)
            return ENC_ERROR;
        if (from > to)
            return enc_err_set(err, "--from %s is after --to %s; swap them", f->from, f->to);
        out->kind = ENC_PERIOD_RANGE;
    }
    enc_ts_format_day(from, out->from);
    enc_ts_format_day(to, out->to);
    if (out->kind == ENC_PERIOD_RANGE)
        snprintf(out->label, sizeof out->label, "%s \u2026 %s", out->from, out->to);
    return ENC_OK;
}

/* ---- the database --------------------------------------------------------------- */

enc_status enc_report_sql_fail(sqlite3 *db, const char *what, enc_err *err)
{
    return enc_err_set(err, "%s: %s", what, sqlite3_errmsg(db));
}

/* ENCORE_TRACE_SQL=1: each statement a report runs, once per run of it, on stderr as one
 * line "encore: sql: TEXT" (parameters as written, never their values), so a slow chart's
 * queries can be given to EXPLAIN QUERY PLAN (bench/reports.sh does). */
static int trace_statement(unsigned type, void *ctx, void *stmt, void *text)
{
    const char *sql = text;
    if (type != SQLITE_TRACE_STMT || !sql || strncmp(sql, "--", 2) == 0)
        return 0;
    fputs("encore: sql: ", stderr);
    for (; *sql; sql++)
        fputc(*sql == '\n' ? ' ' : *sql, stderr);
    fputc('\n', stderr);
    return 0;
}

enc_status enc_report_open(const char *path, sqlite3 **db, enc_err *err)
{
    *db = NULL;
    struct stat st;
    if (stat(path, &st) != 0)
        return enc_err_set(err, "database '%s' not found; pass --sink sqlite:PATH of a database `encore run` wrote",
                           path);
    if (!S_ISREG(st.st_mode))
        return enc_err_set(err, "'%s' is not a database file; pass --sink sqlite:PATH of a database file", path);
    sqlite3 *d = NULL;
    enc_status rc = ENC_ERROR;
    if (sqlite3_open_v2(path, &d, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        enc_err_set(err, "cannot open '%s': %s", path, d ? sqlite3_errmsg(d) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(d, BUSY_TIMEOUT_MS);
    if (enc_sql_hll_register(d) != SQLITE_OK) {
        enc_err_set(err, "cannot register the encore_hll functions: %s", sqlite3_errmsg(d));
        goto out;
    }
    /* Reading the schema is what finds out whether the file is a database at all. */
    if (sqlite3_exec(d, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL) != SQLITE_OK) {
        enc_err_set(err, "cannot read '%s': %s", path, sqlite3_errmsg(d));
        goto out;
    }
    const char *trace = getenv("ENCORE_TRACE_SQL");
    if (trace && strcmp(trace, "1") == 0)
        sqlite3_trace_v2(d, SQLITE_TRACE_STMT, trace_statement, NULL);
    *db = d;
    d = NULL;
    rc = ENC_OK;
out:
    sqlite3_close(d);
    return rc;
}

enc_status enc_report_table_exists(sqlite3 *db, const char *table, bool *exists, enc_err *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return enc_report_sql_fail(db, "reading the schema", err);
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *exists = rc == SQLITE_ROW;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return enc_report_sql_fail(db, "reading the schema", err);
    return ENC_OK;
}

char *enc_report_column_dup(sqlite3_stmt *st, int i, bool *oom)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    if (!s)
        return NULL;
    char *d = enc_strndup((const char *)s, (size_t)sqlite3_column_bytes(st, i));
    if (!d)
        *oom = true;
    return d;
}

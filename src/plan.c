/* plan — a chart period cut into yearly, monthly and daily runs, and per-key lookups. */
#include "plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "hll.h"
#include "pending.h"
#include "rollup.h"
#include "timestamp.h"

enum { SQL_MAX = 512 };

struct enc_plan {
    sqlite3 *db; /* borrowed */
    char dim[16];
    enc_segment seg[ENC_SEGMENTS_MAX];
    size_t nseg;
    char (*days)[11]; /* the days with rows or pending packs in the day runs, ascending */
    size_t ndays, days_cap;
    bool live;           /* temp.enc_live holds the period's pending packs, merged */
    sqlite3_stmt *at[4]; /* by enc_grain, then LIVE: (listeners, title, artist) of ?1 dimension, ?2 period, ?3 key */
};

enum { LIVE = 3 }; /* at[LIVE] reads temp.enc_live */

static enc_status sql_fail(sqlite3 *db, const char *what, enc_err *err)
{
    return enc_err_set(err, "%s: %s", what, sqlite3_errmsg(db));
}

/* ---- the runs ------------------------------------------------------------------------ */

static int64_t month_end(int y, int m)
{
    return (m == 12 ? enc_ts_days_from_civil(y + 1, 1, 1) : enc_ts_days_from_civil(y, m + 1, 1)) - 1;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* A run of years from Jan 1 of y: each year's totals hold its months ended by `ended`;
 * the run goes on while a year is whole and the next one's totals end within the period. */
static int64_t year_run(int y, int64_t ended, int64_t to, int *y2)
{
    int64_t end = min64(enc_ts_days_from_civil(y, 12, 31), ended);
    *y2 = y;
    while (*y2 < 9999 && end == enc_ts_days_from_civil(*y2, 12, 31)) {
        int64_t next = min64(enc_ts_days_from_civil(*y2 + 1, 12, 31), ended);
        if (next < enc_ts_days_from_civil(*y2 + 1, 1, 1) || next > to)
            break;
        ++*y2;
        end = next;
    }
    return end;
}

/* A run of months from the 1st of y-m, within year y: each month's totals hold its days up
 * to the horizon r. */
static int64_t month_run(int y, int m, int64_t r, int64_t to, int *m2)
{
    int64_t end = min64(month_end(y, m), r);
    *m2 = m;
    while (*m2 < 12 && end == month_end(y, *m2)) {
        int64_t next = min64(month_end(y, *m2 + 1), r);
        if (next < enc_ts_days_from_civil(y, *m2 + 1, 1) || next > to)
            break;
        ++*m2;
        end = next;
    }
    return end;
}

size_t enc_period_segments(const char *from_s, const char *to_s, bool rollups, int64_t r,
                           enc_segment out[ENC_SEGMENTS_MAX])
{
    int64_t from, to;
    if (enc_ts_parse_date(from_s, strlen(from_s), &from) != ENC_OK || enc_ts_parse_date(to_s, strlen(to_s), &to) != ENC_OK)
        return 0;
    if (!rollups || r == ENC_ROLLUP_NONE)
        r = from - 1; /* nothing rolled: one run of days */
    int64_t ended = enc_rollup_months_ended_by(r);
    size_t n = 0;
    for (int64_t d = from; d <= to;) {
        if (n == ENC_SEGMENTS_MAX)
            return 0; /* cannot happen: at most six runs */
        int y, m, dd, last;
        enc_ts_civil(d, &y, &m, &dd);
        enc_segment *s = &out[n++];
        int64_t end;
        if (m == 1 && dd == 1 && (end = min64(enc_ts_days_from_civil(y, 12, 31), ended)) >= d && end <= to) {
            end = year_run(y, ended, to, &last);
            *s = (enc_segment){.grain = ENC_GRAIN_YEAR};
            snprintf(s->lo, sizeof s->lo, "%04d", y % 10000);
            snprintf(s->hi, sizeof s->hi, "%04d", last % 10000);
        } else if (dd == 1 && (end = min64(month_end(y, m), r)) >= d && end <= to) {
            end = month_run(y, m, r, to, &last);
            *s = (enc_segment){.grain = ENC_GRAIN_MONTH};
            snprintf(s->lo, sizeof s->lo, "%04d-%02d", y % 10000, m % 100);
            snprintf(s->hi, sizeof s->hi, "%04d-%02d", y % 10000, last % 100);
        } else {
            end = d > r ? to : min64(to, month_end(y, m));
            *s = (enc_segment){.grain = ENC_GRAIN_DAY};
            enc_ts_format_day(d, s->lo);
            enc_ts_format_day(end, s->hi);
        }
        d = end + 1;
    }
    return n;
}

/* ---- opening a plan ---------------------------------------------------------------------- */

static enc_status prepare(enc_plan *p, const char *table, const char *fmt, sqlite3_stmt **st, enc_err *err)
{
    char sql[SQL_MAX];
    snprintf(sql, sizeof sql, fmt, table);
    if (sqlite3_prepare_v2(p->db, sql, -1, st, NULL) != SQLITE_OK)
        return sql_fail(p->db, "preparing the chart", err);
    sqlite3_bind_text(*st, 1, p->dim, -1, SQLITE_STATIC);
    return ENC_OK;
}

/* The first and last day the dimension has rows on ("" when none). */
static enc_status data_span(enc_plan *p, const char *table, char first[11], char last[11], enc_err *err)
{
    sqlite3_stmt *st = NULL;
    if (prepare(p, table,
                "SELECT (SELECT min(day) FROM \"%1$s_DAILY\" WHERE dimension = ?1), "
                "(SELECT max(day) FROM \"%1$s_DAILY\" WHERE dimension = ?1)",
                &st, err) != ENC_OK)
        return ENC_ERROR;
    enc_status s = ENC_OK;
    if (sqlite3_step(st) != SQLITE_ROW)
        s = sql_fail(p->db, "reading the chart", err);
    else if (enc_pending_day_column(st, 0, first) != ENC_OK || enc_pending_day_column(st, 1, last) != ENC_OK)
        s = enc_err_set(err, "reading the chart: a daily row's day is not YYYY-MM-DD");
    sqlite3_finalize(st);
    char pfirst[11], plast[11];
    if (s == ENC_OK && (s = enc_pending_span(p->db, table, p->dim, pfirst, plast, err)) == ENC_OK && pfirst[0]) {
        if (!first[0] || strcmp(pfirst, first) < 0)
            memcpy(first, pfirst, 11);
        if (!last[0] || strcmp(plast, last) > 0)
            memcpy(last, plast, 11);
    }
    return s;
}

static enc_status push_day(enc_plan *p, const char day[11], enc_err *err)
{
    if (p->ndays == p->days_cap) {
        size_t ncap = p->days_cap ? p->days_cap * 2 : 32;
        char(*d)[11] = enc_realloc(p->days, ncap * sizeof *d);
        if (!d)
            return enc_err_set(err, "out of memory reading the chart");
        p->days = d;
        p->days_cap = ncap;
    }
    memcpy(p->days[p->ndays++], day, 11);
    return ENC_OK;
}

static int cmp_day(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* ---- pending packs ------------------------------------------------------------------------ */

static enc_status live_row(void *arg, const char day[11], int64_t age, const enc_pack_entry *e, enc_err *err)
{
    enc_plan *p = arg;
    sqlite3_stmt *st = p->at[LIVE];
    sqlite3_bind_text(st, 1, p->dim, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, day, 10, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, e->key.p, (int)e->key.n, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, age);
    sqlite3_bind_int64(st, 5, e->plays);
    sqlite3_bind_int64(st, 6, e->seconds);
    sqlite3_bind_blob(st, 7, e->sketch.p, (int)e->sketch.n, SQLITE_STATIC);
    for (int i = 0; i < 2; i++) {
        enc_slice t = i ? e->artist : e->title;
        if (t.p)
            sqlite3_bind_text(st, 8 + i, t.p, (int)t.n, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 8 + i);
    }
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sql_fail(p->db, "merging pending deltas for the chart", err);
    p->live = true;
    if (p->ndays == 0 || strcmp(p->days[p->ndays - 1], day) != 0)
        return push_day(p, day, err);
    return ENC_OK;
}

/* The entries of the packs of the period's days (all after the rollup horizon) into
 * temp.enc_live, a table like TABLE_DAILY with one row per key and pack (age), which the
 * day runs read beside it. Not merged here: the totals query sums plays and seconds, and
 * only the keys a chart shows have their sketches united (enc_plan_listeners). */
static enc_status load_live(enc_plan *p, const char *table, const char *lo, const char *hi, enc_err *err)
{
    static const char ddl[] = /* in memory: a read-only connection's temp tables are files by default */
        "PRAGMA temp_store = MEMORY; CREATE TEMP TABLE IF NOT EXISTS enc_live (dimension TEXT NOT NULL, key TEXT NOT NULL, day TEXT NOT NULL, "
        "age INTEGER NOT NULL, plays INTEGER NOT NULL, seconds INTEGER NOT NULL, listeners BLOB NOT NULL, title TEXT, "
        "artist TEXT, PRIMARY KEY (dimension, day, key, age)) WITHOUT ROWID; DELETE FROM temp.enc_live";
    if (sqlite3_exec(p->db, ddl, NULL, NULL, NULL) != SQLITE_OK)
        return sql_fail(p->db, "preparing the chart", err);
    if (sqlite3_prepare_v2(p->db,
                           "INSERT INTO temp.enc_live (dimension, day, key, age, plays, seconds, listeners, title, artist) "
                           "VALUES (?,?,?,?,?,?,?,?,?)",
                           -1, &p->at[LIVE], NULL) != SQLITE_OK)
        return sql_fail(p->db, "preparing the chart", err);
    enc_status s = enc_pending_scan(p->db, table, p->dim, lo, hi, live_row, p, err);
    sqlite3_finalize(p->at[LIVE]);
    p->at[LIVE] = NULL;
    if (s != ENC_OK)
        return s;
    if (!p->live)
        return ENC_OK;
    if (sqlite3_prepare_v2(p->db,
                           "SELECT listeners, title, artist FROM temp.enc_live WHERE dimension = ?1 AND day = ?2 "
                           "AND key = ?3 ORDER BY age DESC",
                           -1, &p->at[LIVE], NULL) != SQLITE_OK)
        return sql_fail(p->db, "preparing the chart", err);
    sqlite3_bind_text(p->at[LIVE], 1, p->dim, -1, SQLITE_STATIC);
    return ENC_OK;
}

/* The days of find_days and load_live in one ascending list without repeats. */
static void unique_days(enc_plan *p)
{
    if (p->ndays < 2)
        return;
    qsort(p->days, p->ndays, sizeof *p->days, cmp_day);
    size_t k = 1;
    for (size_t i = 1; i < p->ndays; i++)
        if (strcmp(p->days[i], p->days[k - 1]) != 0)
            memcpy(p->days[k++], p->days[i], 11);
    p->ndays = k;
}

/* The days that have rows in the day runs: one seek each. */
static enc_status find_days(enc_plan *p, const char *table, enc_err *err)
{
    sqlite3_stmt *st = NULL;
    if (prepare(p, table, "SELECT min(day) FROM \"%s_DAILY\" WHERE dimension = ?1 AND day >= ?2 AND day <= ?3", &st,
                err) != ENC_OK)
        return ENC_ERROR;
    enc_status s = ENC_OK;
    for (size_t i = 0; i < p->nseg && s == ENC_OK; i++) {
        if (p->seg[i].grain != ENC_GRAIN_DAY)
            continue;
        char at[11];
        memcpy(at, p->seg[i].lo, 11);
        for (;;) {
            sqlite3_reset(st);
            sqlite3_bind_text(st, 2, at, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 3, p->seg[i].hi, -1, SQLITE_STATIC);
            char day[11];
            int64_t d;
            if (sqlite3_step(st) != SQLITE_ROW) {
                s = sql_fail(p->db, "reading the chart", err);
                break;
            }
            if (enc_pending_day_column(st, 0, day) != ENC_OK || (day[0] && enc_ts_parse_date(day, 10, &d) != ENC_OK)) {
                s = enc_err_set(err, "reading the chart: a daily row's day is not YYYY-MM-DD");
                break;
            }
            if (!day[0] || (s = push_day(p, day, err)) != ENC_OK || strcmp(day, p->seg[i].hi) >= 0)
                break; /* the run's last day: no day after 9999-12-31 to look from */
            enc_ts_format_day(d + 1, at);
        }
    }
    sqlite3_finalize(st);
    return s;
}

static enc_status plan_build(enc_plan *p, const char *table, const char *from, const char *to, enc_err *err)
{
    char first[11], last[11];
    bool rollups;
    int64_t horizon;
    if (data_span(p, table, first, last, err) != ENC_OK ||
        enc_rollup_horizon(p->db, table, &rollups, &horizon, err) != ENC_OK)
        return ENC_ERROR;
    const char *lo = strcmp(from, first) > 0 ? from : first, *hi = strcmp(to, last) < 0 ? to : last;
    if (!first[0] || strcmp(lo, hi) > 0)
        return ENC_OK; /* no rows in the period */
    p->nseg = enc_period_segments(lo, hi, rollups, horizon, p->seg);
    if (p->nseg == 0)
        return enc_err_set(err, "internal error: the period has no days");
    static const char *const at_sql[] = {
        "SELECT listeners, title, artist FROM \"%s_DAILY\" WHERE dimension = ?1 AND day = ?2 AND key = ?3",
        "SELECT listeners, title, artist FROM \"%s_MONTHLY\" WHERE dimension = ?1 AND month = ?2 AND key = ?3",
        "SELECT listeners, NULL, NULL FROM \"%s_YEARLY\" WHERE dimension = ?1 AND year = ?2 AND key = ?3",
    };
    for (int g = 0; g < 3; g++)
        if ((g == ENC_GRAIN_DAY || rollups) && prepare(p, table, at_sql[g], &p->at[g], err) != ENC_OK)
            return ENC_ERROR;
    if (find_days(p, table, err) != ENC_OK || load_live(p, table, lo, hi, err) != ENC_OK)
        return ENC_ERROR;
    unique_days(p);
    return ENC_OK;
}

enc_status enc_plan_open(sqlite3 *db, const char *table, const char *dim, const char *from, const char *to,
                         enc_plan **out, enc_err *err)
{
    *out = NULL;
    enc_plan *p = enc_calloc(1, sizeof *p);
    if (!p)
        return enc_err_set(err, "out of memory reading the chart");
    p->db = db;
    snprintf(p->dim, sizeof p->dim, "%s", dim);
    if (plan_build(p, table, from, to, err) != ENC_OK) {
        enc_plan_free(p);
        return ENC_ERROR;
    }
    *out = p;
    return ENC_OK;
}

void enc_plan_free(enc_plan *p)
{
    if (!p)
        return;
    for (int g = 0; g < 4; g++)
        sqlite3_finalize(p->at[g]);
    enc_free(p->days);
    enc_free(p);
}

size_t enc_plan_segments(const enc_plan *p, const enc_segment **seg)
{
    *seg = p->seg;
    return p->nseg;
}

bool enc_plan_live(const enc_plan *p)
{
    return p->live;
}

/* ---- one key's cells ---------------------------------------------------------------------- */

/* Called with a cell's row (listeners, title, artist); returns true to stop. */
typedef bool (*cell_fn)(sqlite3_stmt *row, void *ctx, enc_status *s, enc_err *err);

/* Looks the key up in one cell; *stop when fn says so or on an error (*s). */
static bool visit(enc_plan *p, int g, const char *period, const char *key, cell_fn fn, void *ctx,
                  enc_status *s, enc_err *err)
{
    sqlite3_stmt *st = p->at[g];
    sqlite3_reset(st);
    sqlite3_bind_text(st, 2, period, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) /* one row, but one per pack (newest first) for LIVE */
        if (fn(st, ctx, s, err))
            return true;
    if (rc != SQLITE_DONE) {
        *s = sql_fail(p->db, "reading the chart", err);
        return true;
    }
    return false;
}

/* Visits every cell of the key's period, in time order or (reverse) latest first. Years
 * are visited as their months when `months_for_years` (the monthly rows hold names). */
static enc_status each_cell(enc_plan *p, const char *key, bool reverse, bool months_for_years, cell_fn fn, void *ctx,
                            enc_err *err)
{
    enc_status s = ENC_OK;
    for (size_t k = 0; k < p->nseg; k++) {
        const enc_segment *seg = &p->seg[reverse ? p->nseg - 1 - k : k];
        char cell[11];
        if (seg->grain == ENC_GRAIN_DAY) {
            for (size_t j = 0; j < p->ndays; j++) {
                const char *d = p->days[reverse ? p->ndays - 1 - j : j];
                if (strcmp(d, seg->lo) < 0 || strcmp(d, seg->hi) > 0)
                    continue;
                /* a day's pending packs are newer than its daily rows: read them first when
                 * looking for the latest */
                int first = reverse && p->live ? LIVE : ENC_GRAIN_DAY, second = first == LIVE ? ENC_GRAIN_DAY : LIVE;
                if (visit(p, first, d, key, fn, ctx, &s, err) ||
                    (p->live && visit(p, second, d, key, fn, ctx, &s, err)))
                    return s;
            }
            continue;
        }
        int y1 = 0, y2 = 0, m1 = 1, m2 = 12;
        sscanf(seg->lo, "%d-%d", &y1, &m1);
        sscanf(seg->hi, "%d-%d", &y2, &m2);
        bool by_month = seg->grain == ENC_GRAIN_MONTH || months_for_years;
        int first = y1 * 12 + (seg->grain == ENC_GRAIN_MONTH ? m1 : 1) - 1;
        int last = y2 * 12 + (seg->grain == ENC_GRAIN_MONTH ? m2 : 12) - 1;
        if (!by_month) {
            first = y1;
            last = y2;
        }
        for (int i = 0; i <= last - first; i++) {
            int v = reverse ? last - i : first + i;
            if (by_month)
                snprintf(cell, sizeof cell, "%04d-%02d", v / 12 % 10000, v % 12 + 1);
            else
                snprintf(cell, sizeof cell, "%04d", v % 10000);
            if (visit(p, by_month ? ENC_GRAIN_MONTH : ENC_GRAIN_YEAR, cell, key, fn, ctx, &s, err))
                return s;
        }
    }
    return s;
}

static bool merge_cell(sqlite3_stmt *row, void *ctx, enc_status *s, enc_err *err)
{
    enc_hll *acc = ctx, *h = NULL;
    enc_err why;
    *s = enc_hll_deserialize(sqlite3_column_blob(row, 0), (size_t)sqlite3_column_bytes(row, 0), &h, &why);
    if (*s != ENC_OK)
        enc_err_set(err, "reading the chart: a listener sketch is corrupt: %s", why.msg);
    else if (enc_hll_merge(acc, h) != ENC_OK)
        *s = enc_err_set(err, "out of memory reading the chart");
    enc_hll_free(h);
    return *s != ENC_OK;
}

enc_status enc_plan_listeners(enc_plan *p, const char *key, int64_t *out, enc_err *err)
{
    *out = 0;
    enc_hll *acc = enc_hll_new();
    if (!acc)
        return enc_err_set(err, "out of memory reading the chart");
    enc_status s = each_cell(p, key, false, false, merge_cell, acc, err);
    if (s == ENC_OK)
        *out = (int64_t)enc_hll_count(acc);
    enc_hll_free(acc);
    return s;
}

typedef struct {
    char **title, **artist;
} names_ctx;

static bool take_names(sqlite3_stmt *row, void *ctx, enc_status *s, enc_err *err)
{
    names_ctx *n = ctx;
    if (sqlite3_column_type(row, 1) == SQLITE_NULL && sqlite3_column_type(row, 2) == SQLITE_NULL)
        return false;
    for (int i = 1; i <= 2; i++) {
        const unsigned char *t = sqlite3_column_text(row, i);
        char **dst = i == 1 ? n->title : n->artist;
        if (t && !(*dst = enc_strndup((const char *)t, (size_t)sqlite3_column_bytes(row, i))))
            *s = enc_err_set(err, "out of memory reading the chart");
    }
    return true;
}

enc_status enc_plan_names(enc_plan *p, const char *key, char **title, char **artist, enc_err *err)
{
    *title = *artist = NULL;
    names_ctx n = {title, artist};
    enc_status s = each_cell(p, key, true, true, take_names, &n, err);
    if (s != ENC_OK) {
        enc_free(*title);
        enc_free(*artist);
        *title = *artist = NULL;
    }
    return s;
}

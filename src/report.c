/* report — chart and wrapped queries over the SQLite sink, rendered as table, CSV or JSON.
 *
 * Charts read only the aggregates: the yearly and monthly totals up to the rollup horizon
 * and the daily rows after it (plan.c chooses), each with HyperLogLog sketches of
 * listeners, so they never touch the events. A wrapped reads one user's events through
 * TABLE_BY_USER, in whichever layout the table has (user_index.c shapes the query).
 * Rendering goes into an enc_buf; table output is sanitised for a terminal (control
 * bytes become spaces, invalid UTF-8 becomes U+FFFD, long names are cut with "…").
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
#include "user_index.h"

enum {
    BUSY_TIMEOUT_MS = 5000, /* a writer's commit holds the WAL lock only briefly */
    CELL_MAX_WIDTH = 40,    /* widest name column in table output, in terminal columns */
    SQL_MAX = 2048,
};

/* ---- names ---------------------------------------------------------------------- */

static const char *const by_names[] = {"song", "artist", "genre", "country", "device"};
static const char *const by_plural[] = {"songs", "artists", "genres", "countries", "devices"};
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

static enc_status sql_fail(sqlite3 *db, const char *what, enc_err *err)
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
        return sql_fail(db, "reading the schema", err);
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *exists = rc == SQLITE_ROW;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sql_fail(db, "reading the schema", err);
    return ENC_OK;
}

static char *dup_column(sqlite3_stmt *st, int i, bool *oom)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    if (!s)
        return NULL;
    char *d = enc_strndup((const char *)s, (size_t)sqlite3_column_bytes(st, i));
    if (!d)
        *oom = true;
    return d;
}

/* ---- charts --------------------------------------------------------------------- */

void enc_chart_title(enc_chart_by by, enc_chart_metric m, const enc_period *p, char *out, size_t size)
{
    static const char *const kind_word[] = {"", "Year", "Month", "Day", ""};
    const char *metric = metric_names[m];
    bool named = by == ENC_BY_SONG || by == ENC_BY_ARTIST;
    switch (p->kind) {
    case ENC_PERIOD_YEAR:
    case ENC_PERIOD_MONTH:
    case ENC_PERIOD_DAY:
        if (named)
            snprintf(out, size, "%s of the %s %s \u2014 by %s", by == ENC_BY_SONG ? "Song" : "Artist",
                     kind_word[p->kind], p->label, metric);
        else
            snprintf(out, size, "Top %s of %s \u2014 by %s", by_plural[by], p->label, metric);
        break;
    case ENC_PERIOD_RANGE:
        snprintf(out, size, "Top %s %s \u2014 by %s", by_plural[by], p->label, metric);
        break;
    case ENC_PERIOD_ALL:
        snprintf(out, size, "Top %s, all time \u2014 by %s", by_plural[by], metric);
        break;
    }
}

/* A chart is built in three steps, each reading as little as it can:
 *   1. totals: plays and seconds per key over the period, from the coarsest tables that
 *      cover it (enc_plan, enc_period_segments), ranked; only the top `limit` unless
 *      ranking by listeners;
 *   2. listeners: per key, the union of its sketches in the plan's cells (a primary-key
 *      lookup per year, month or day with rows);
 *   3. song title and artist: per key, from the latest cell of the period that has them.
 * Ranking by listeners visits keys by plays, descending, and stops when a key's plays
 * cannot beat the current last place: a key's listeners are at most its plays, and its
 * estimate at most LISTENERS_BOUND(plays) (exact below 4097 distinct users, where the
 * sketch stays sparse; above, 6.25 % is 7.7 standard errors of the dense estimate). */
#define LISTENERS_BOUND(plays) ((plays) + (plays) / 16)

static const char *const grain_table[] = {"DAILY", "MONTHLY", "YEARLY"};
static const char *const grain_col[] = {"day", "month", "year"};

static void chart_rows_free(enc_chart_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        enc_free(rows[i].key);
        enc_free(rows[i].title);
        enc_free(rows[i].artist);
    }
    enc_free(rows);
}

void enc_chart_free(enc_chart *c)
{
    chart_rows_free(c->rows, c->n);
    c->rows = NULL;
    c->n = 0;
}

/* The totals query: one UNION ALL branch per run, parameters ?2, ?3 … per branch. A run
 * of one period is `=`, so its rows come in key order. */
static enc_status totals_sql(const char *table, enc_chart_metric metric, const enc_segment *seg, size_t nseg,
                             bool live, int64_t limit, char *sql, size_t size, enc_err *err)
{
    static const char *const order_col[] = {"plays", "listeners", "seconds"};
    size_t len = (size_t)snprintf(sql, size, "SELECT key, sum(plays) AS plays, sum(seconds) AS seconds FROM (");
    for (size_t i = 0; i < nseg && len < size; i++) {
        const char *col = grain_col[seg[i].grain], *op = strcmp(seg[i].lo, seg[i].hi) == 0 ? "=" : ">=";
        size_t lo = 2 * i + 2, hi = 2 * i + 3;
        /* a day run reads the daily rows and, when the plan has them, the pending packs */
        for (int from_live = 0; from_live < 1 + (live && seg[i].grain == ENC_GRAIN_DAY) && len < size; from_live++) {
            char src[96];
            snprintf(src, sizeof src, from_live ? "temp.enc_live" : "\"%s_%s\"", table, grain_table[seg[i].grain]);
            len += (size_t)snprintf(sql + len, size - len, "%sSELECT key, plays, seconds FROM %s "
                                    "WHERE dimension = ?1 AND %s %s ?%zu", i || from_live ? " UNION ALL " : "", src,
                                    col, op, lo);
            if (len < size && *op == '>')
                len += (size_t)snprintf(sql + len, size - len, " AND %s <= ?%zu", col, hi);
        }
    }
    if (len < size && metric == ENC_METRIC_LISTENERS)
        len += (size_t)snprintf(sql + len, size - len, ") GROUP BY key ORDER BY plays DESC, key");
    else if (len < size)
        len += (size_t)snprintf(sql + len, size - len, ") GROUP BY key ORDER BY %s DESC, plays DESC, key LIMIT %" PRId64,
                                order_col[metric], limit);
    if (len >= size)
        return enc_err_set(err, "internal error: query too long");
    return ENC_OK;
}

static enc_status push_row(sqlite3_stmt *st, enc_chart_row **rows, size_t *n, size_t *cap, enc_err *err)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        enc_chart_row *r = enc_realloc(*rows, ncap * sizeof *r);
        if (!r)
            return enc_err_set(err, "out of memory reading the chart");
        *rows = r;
        *cap = ncap;
    }
    enc_chart_row *r = &(*rows)[(*n)++];
    bool oom = false;
    memset(r, 0, sizeof *r);
    r->key = dup_column(st, 0, &oom);
    r->plays = sqlite3_column_int64(st, 1);
    r->seconds = sqlite3_column_int64(st, 2);
    if (oom || !r->key)
        return enc_err_set(err, oom ? "out of memory reading the chart" : "a daily row has no key");
    return ENC_OK;
}

/* Step 1: the ranked totals into *rows (owned by the caller, also on ENC_ERROR). */
static enc_status chart_totals(sqlite3 *db, const char *table, const enc_chart *c, const enc_plan *plan,
                               int64_t limit, enc_chart_row **rows, size_t *n, enc_err *err)
{
    const enc_segment *seg;
    size_t nseg = enc_plan_segments(plan, &seg), cap = 0;
    if (nseg == 0)
        return ENC_OK; /* no rows in the period */
    char sql[SQL_MAX];
    if (totals_sql(table, c->metric, seg, nseg, enc_plan_live(plan), limit, sql, sizeof sql, err) != ENC_OK)
        return ENC_ERROR;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return sql_fail(db, "preparing the query", err);
    sqlite3_bind_text(st, 1, by_names[c->by], -1, SQLITE_STATIC);
    for (size_t i = 0; i < nseg; i++) {
        sqlite3_bind_text(st, (int)(2 * i + 2), seg[i].lo, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, (int)(2 * i + 3), seg[i].hi, -1, SQLITE_STATIC); /* unused when = lo */
    }
    enc_status rc = ENC_OK;
    int s;
    while (rc == ENC_OK && (s = sqlite3_step(st)) == SQLITE_ROW)
        rc = push_row(st, rows, n, &cap, err);
    if (rc == ENC_OK && s != SQLITE_DONE)
        rc = sql_fail(db, "reading the chart", err);
    sqlite3_finalize(st);
    return rc;
}

/* Whether a ranks before b by listeners: listeners desc, plays desc, key asc. */
static bool ranks_before(const enc_chart_row *a, const enc_chart_row *b)
{
    if (a->listeners != b->listeners)
        return a->listeners > b->listeners;
    if (a->plays != b->plays)
        return a->plays > b->plays;
    return strcmp(a->key, b->key) < 0;
}

static int cmp_rank(const void *x, const void *y)
{
    const enc_chart_row *a = x, *b = y;
    return ranks_before(a, b) ? -1 : ranks_before(b, a) ? 1 : 0;
}

/* A heap of the best `limit` rows so far with the last-ranked at the root; rows are
 * moved in (ownership of their strings too). */
static void heap_sift_down(enc_chart_row *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && ranks_before(&h[w], &h[l]))
            w = l;
        if (r < n && ranks_before(&h[w], &h[r]))
            w = r;
        if (w == i)
            return;
        enc_chart_row t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

static void heap_push(enc_chart_row *h, size_t *n, enc_chart_row r)
{
    size_t i = (*n)++;
    h[i] = r;
    while (i > 0 && ranks_before(&h[(i - 1) / 2], &h[i])) {
        enc_chart_row t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

/* Step 2 when ranking by listeners: all[] (by plays desc, key asc) → the best `limit` into
 * all[0..*kept), ranked; the rest freed. */
static enc_status rank_by_listeners(enc_plan *plan, int64_t limit, enc_chart_row *all, size_t n, size_t *kept,
                                    enc_err *err)
{
    size_t lim = (size_t)limit, nh = 0, i;
    enc_chart_row *heap = enc_malloc((n < lim ? n : lim) * sizeof *heap + 1);
    enc_status rc = ENC_OK;
    if (!heap)
        rc = enc_err_set(err, "out of memory reading the chart");
    for (i = 0; rc == ENC_OK && i < n; i++) {
        if (nh == lim && LISTENERS_BOUND(all[i].plays) <= heap[0].listeners)
            break; /* neither this key nor any after it (fewer plays) can make the chart */
        if ((rc = enc_plan_listeners(plan, all[i].key, &all[i].listeners, err)) != ENC_OK)
            break;
        if (nh < lim) {
            heap_push(heap, &nh, all[i]);
        } else if (ranks_before(&all[i], &heap[0])) {
            enc_free(heap[0].key);
            heap[0] = all[i];
            heap_sift_down(heap, nh, 0);
        } else {
            enc_free(all[i].key);
        }
        all[i].key = NULL; /* moved or freed */
    }
    for (; i < n; i++)
        enc_free(all[i].key);
    if (heap && nh > 0) { /* nh == 0: `all` may be NULL, which memcpy must not get */
        qsort(heap, nh, sizeof *heap, cmp_rank);
        memcpy(all, heap, nh * sizeof *heap);
    }
    *kept = nh;
    enc_free(heap);
    if (rc != ENC_OK) {
        for (size_t k = 0; k < nh; k++)
            enc_free(all[k].key);
        *kept = 0;
    }
    return rc;
}

/* Steps 2 and 3 for rows already chosen: listeners (unless known) and song names. */
static enc_status fill_rows(enc_plan *plan, const enc_chart *c, enc_chart_row *rows, size_t n, bool need_listeners,
                            enc_err *err)
{
    for (size_t i = 0; i < n; i++) {
        if (need_listeners && enc_plan_listeners(plan, rows[i].key, &rows[i].listeners, err) != ENC_OK)
            return ENC_ERROR;
        if (c->by == ENC_BY_SONG && enc_plan_names(plan, rows[i].key, &rows[i].title, &rows[i].artist, err) != ENC_OK)
            return ENC_ERROR;
    }
    return ENC_OK;
}

enc_status enc_chart_query(sqlite3 *db, const char *table, int64_t limit, enc_chart *c, enc_err *err)
{
    c->rows = NULL;
    c->n = 0;
    enc_chart_title(c->by, c->metric, &c->period, c->title, sizeof c->title);
    if (limit < 1 || limit > ENC_REPORT_LIMIT_MAX)
        return enc_err_set(err, "limit %" PRId64 " is out of range 1-%d", limit, ENC_REPORT_LIMIT_MAX);

    bool by_listeners = c->metric == ENC_METRIC_LISTENERS;
    enc_plan *plan = NULL;
    enc_chart_row *rows = NULL;
    size_t n = 0;
    enc_status rc = ENC_ERROR;
    /* One read transaction: a writer that moves the horizon or folds pending packs between
     * two of the chart's statements must not make it count a day twice or not at all. */
    bool own_tx = sqlite3_get_autocommit(db) && sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    if (enc_plan_open(db, table, by_names[c->by], c->period.from, c->period.to, &plan, err) != ENC_OK ||
        chart_totals(db, table, c, plan, limit, &rows, &n, err) != ENC_OK)
        goto out;
    if (by_listeners) {
        size_t all = n;
        n = 0; /* rank_by_listeners owns the keys of rows[0..all) until it returns */
        if (rank_by_listeners(plan, limit, rows, all, &n, err) != ENC_OK)
            goto out;
    }
    if (fill_rows(plan, c, rows, n, !by_listeners, err) != ENC_OK)
        goto out;
    c->rows = rows;
    c->n = n;
    rows = NULL;
    n = 0;
    rc = ENC_OK;
out:
    chart_rows_free(rows, n);
    enc_plan_free(plan);
    if (own_tx)
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL); /* a read: nothing to lose */
    return rc;
}

/* ---- text helpers --------------------------------------------------------------- */

/* Renderers take `enc_status *rc` and OR each append's status into it (ENC_OK is 0): one
 * check at the end instead of one per append. A failed append leaves the buffer as it
 * was, and the caller discards the whole text when *rc is not ENC_OK. */

/* Minutes with one decimal, rounded half up, from whole seconds: exact integer arithmetic
 * so 135 s is always "2.3" (printf("%.1f", 2.25) would say "2.2"). */
static void format_minutes(int64_t seconds, char out[32])
{
    bool neg = seconds < 0;
    uint64_t s = neg ? (uint64_t)0 - (uint64_t)seconds : (uint64_t)seconds;
    uint64_t tenths = s / 6 + (s % 6 >= 3);
    snprintf(out, 32, "%s%" PRIu64 ".%" PRIu64, neg ? "-" : "", tenths / 10, tenths % 10);
}

/* Decodes one UTF-8 sequence at s (n > 0 bytes left): the code point, or -1 for an
 * invalid or overlong sequence (which then counts as its first byte). */
static int32_t utf8_next(const unsigned char *s, size_t n, size_t *len)
{
    unsigned c = s[0];
    int need;
    int32_t cp, min;
    if (c < 0x80) {
        *len = 1;
        return (int32_t)c;
    } else if ((c & 0xe0) == 0xc0) {
        need = 1, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        need = 2, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        need = 3, cp = c & 0x07, min = 0x10000;
    } else {
        *len = 1;
        return -1;
    }
    *len = 1;
    if ((size_t)need >= n)
        return -1;
    for (int i = 1; i <= need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return -1;
    *len = (size_t)need + 1;
    return cp;
}

/* Terminal columns of a code point: 0 for combining marks, 2 for East Asian wide and
 * emoji, else 1. An approximation of wcwidth without the locale. */
static int cp_width(int32_t cp)
{
    if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0xfe00 && cp <= 0xfe0f))
        return 0;
    if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) || (cp >= 0xac00 && cp <= 0xd7a3) ||
        (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
        (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f) || (cp >= 0x1f900 && cp <= 0x1f9ff) ||
        (cp >= 0x20000 && cp <= 0x3fffd))
        return 2;
    return 1;
}

/* Appends s for a terminal (out may be NULL to measure only): control bytes as spaces,
 * invalid UTF-8 as U+FFFD, cut with "…" when wider than max columns. Returns the width. */
static size_t text_put(enc_buf *out, const char *s, size_t max, enc_status *rc)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), width = 0, full = 0;
    for (size_t i = 0, len; i < n; i += len) { /* first pass: the full width */
        int32_t cp = utf8_next(p + i, n - i, &len);
        full += cp < 0 ? 1 : (size_t)cp_width(cp);
    }
    size_t room = full > max ? max - 1 : full; /* leave a column for the ellipsis */
    for (size_t i = 0, len; i < n; i += len) {
        int32_t cp = utf8_next(p + i, n - i, &len);
        size_t w = cp < 0 ? 1 : (size_t)cp_width(cp);
        if (width + w > room)
            break;
        width += w;
        if (!out)
            continue;
        if (cp < 0)
            *rc |= enc_buf_append(out, "\xef\xbf\xbd", 3);
        else if (cp < 0x20 || cp == 0x7f)
            *rc |= enc_buf_appendc(out, ' ');
        else
            *rc |= enc_buf_append(out, p + i, len);
    }
    if (full > max) {
        width++;
        if (out)
            *rc |= enc_buf_append(out, "\u2026", 3);
    }
    return width;
}

static void pad(enc_buf *out, size_t n, enc_status *rc)
{
    while (n--)
        *rc |= enc_buf_appendc(out, ' ');
}

/* One cell of an aligned table: text at most `width` columns, padded to it. */
static void cell(enc_buf *out, const char *s, size_t width, bool right, bool last, enc_status *rc)
{
    size_t w = text_put(NULL, s, width, rc);
    if (right)
        pad(out, width - w, rc);
    text_put(out, s, width, rc);
    if (!right && !last)
        pad(out, width - w, rc);
    *rc |= last ? enc_buf_appendc(out, '\n') : enc_buf_append(out, "  ", 2);
}

static void csv_field(enc_buf *out, const char *s, bool last, enc_status *rc)
{
    if (s && strpbrk(s, ",\"\r\n")) {
        *rc |= enc_buf_appendc(out, '"');
        for (const char *p = s; *p; p++) {
            if (*p == '"')
                *rc |= enc_buf_appendc(out, '"');
            *rc |= enc_buf_appendc(out, *p);
        }
        *rc |= enc_buf_appendc(out, '"');
    } else if (s) {
        *rc |= enc_buf_append(out, s, strlen(s));
    }
    *rc |= enc_buf_appendc(out, last ? '\n' : ',');
}

/* A JSON string, or null for NULL. */
static void json_str(enc_buf *out, const char *s, enc_status *rc)
{
    if (s)
        *rc |= enc_buf_append_json_string(out, s, strlen(s));
    else
        *rc |= enc_buf_append(out, "null", 4);
}

/* ---- chart rendering ------------------------------------------------------------ */

enum { COL_RANK, COL_KEY, COL_TITLE, COL_ARTIST, COL_PLAYS, COL_LISTENERS, COL_MINUTES, NCOLS };

typedef struct {
    char rank[24], plays[24], listeners[24], minutes[32];
    const char *text[NCOLS];
} chart_cells;

static const char unknown_name[] = "(unknown)";

static void fill_cells(const enc_chart *c, size_t i, bool for_table, chart_cells *cc)
{
    const enc_chart_row *r = &c->rows[i];
    snprintf(cc->rank, sizeof cc->rank, "%zu", i + 1);
    snprintf(cc->plays, sizeof cc->plays, "%" PRId64, r->plays);
    snprintf(cc->listeners, sizeof cc->listeners, "%" PRId64, r->listeners);
    format_minutes(r->seconds, cc->minutes);
    const char *unk = for_table ? unknown_name : NULL;
    cc->text[COL_RANK] = cc->rank;
    cc->text[COL_KEY] = r->key;
    cc->text[COL_TITLE] = r->title ? r->title : unk;
    cc->text[COL_ARTIST] = r->artist ? r->artist : unk;
    cc->text[COL_PLAYS] = cc->plays;
    cc->text[COL_LISTENERS] = cc->listeners;
    cc->text[COL_MINUTES] = cc->minutes;
}

/* The columns shown for this chart, in order; returns how many. */
static size_t chart_columns(const enc_chart *c, int cols[NCOLS], const char *names[NCOLS])
{
    size_t n = 0;
    cols[n] = COL_RANK, names[n++] = "rank";
    if (c->by == ENC_BY_SONG) {
        cols[n] = COL_KEY, names[n++] = "song_id";
        cols[n] = COL_TITLE, names[n++] = "title";
        cols[n] = COL_ARTIST, names[n++] = "artist";
    } else {
        cols[n] = COL_KEY, names[n++] = by_names[c->by];
    }
    cols[n] = COL_PLAYS, names[n++] = "plays";
    cols[n] = COL_LISTENERS, names[n++] = "listeners";
    cols[n] = COL_MINUTES, names[n++] = "minutes";
    return n;
}

static bool numeric(int col)
{
    return col == COL_RANK || col == COL_PLAYS || col == COL_LISTENERS || col == COL_MINUTES;
}

static void render_table(const enc_chart *c, enc_buf *out, enc_status *rc)
{
    *rc |= enc_buf_appendf(out, "%s\n\n", c->title);
    if (c->n == 0) {
        *rc |= enc_buf_appendf(out, "no plays in this period\n");
        return;
    }
    int cols[NCOLS];
    const char *names[NCOLS];
    size_t ncols = chart_columns(c, cols, names), width[NCOLS];
    for (size_t k = 0; k < ncols; k++)
        width[k] = text_put(NULL, names[k], CELL_MAX_WIDTH, rc);
    chart_cells cc;
    for (size_t i = 0; i < c->n; i++) {
        fill_cells(c, i, true, &cc);
        for (size_t k = 0; k < ncols; k++) {
            size_t w = text_put(NULL, cc.text[cols[k]], CELL_MAX_WIDTH, rc);
            if (w > width[k])
                width[k] = w;
        }
    }
    for (size_t k = 0; k < ncols; k++)
        cell(out, names[k], width[k], numeric(cols[k]), k + 1 == ncols, rc);
    for (size_t i = 0; i < c->n; i++) {
        fill_cells(c, i, true, &cc);
        for (size_t k = 0; k < ncols; k++)
            cell(out, cc.text[cols[k]], width[k], numeric(cols[k]), k + 1 == ncols, rc);
    }
}

static void render_csv(const enc_chart *c, enc_buf *out, enc_status *rc)
{
    int cols[NCOLS];
    const char *names[NCOLS];
    size_t ncols = chart_columns(c, cols, names);
    for (size_t k = 0; k < ncols; k++)
        csv_field(out, names[k], k + 1 == ncols, rc);
    chart_cells cc;
    for (size_t i = 0; i < c->n; i++) {
        fill_cells(c, i, false, &cc);
        for (size_t k = 0; k < ncols; k++)
            csv_field(out, cc.text[cols[k]], k + 1 == ncols, rc);
    }
}

static void render_json(const enc_chart *c, enc_buf *out, enc_status *rc)
{
    bool all = c->period.kind == ENC_PERIOD_ALL;
    *rc |= enc_buf_append(out, "{\"title\":", 9);
    json_str(out, c->title, rc);
    *rc |= enc_buf_appendf(out, ",\"by\":\"%s\",\"metric\":\"%s\",\"from\":", by_names[c->by], metric_names[c->metric]);
    json_str(out, all ? NULL : c->period.from, rc);
    *rc |= enc_buf_append(out, ",\"to\":", 6);
    json_str(out, all ? NULL : c->period.to, rc);
    *rc |= enc_buf_append(out, ",\"rows\":[", 9);
    int cols[NCOLS];
    const char *names[NCOLS];
    size_t ncols = chart_columns(c, cols, names);
    chart_cells cc;
    for (size_t i = 0; i < c->n; i++) {
        fill_cells(c, i, false, &cc);
        *rc |= enc_buf_append(out, i ? ",\n{" : "\n{", i ? 3 : 2);
        for (size_t k = 0; k < ncols; k++) {
            *rc |= enc_buf_appendf(out, "%s\"%s\":", k ? "," : "", names[k]);
            if (numeric(cols[k]))
                *rc |= enc_buf_append(out, cc.text[cols[k]], strlen(cc.text[cols[k]]));
            else
                json_str(out, cc.text[cols[k]], rc);
        }
        *rc |= enc_buf_appendc(out, '}');
    }
    *rc |= enc_buf_append(out, c->n ? "\n]}\n" : "]}\n", c->n ? 4 : 3);
}

enc_status enc_chart_render(const enc_chart *c, enc_report_format f, enc_buf *out)
{
    enc_status rc = ENC_OK;
    switch (f) {
    case ENC_FORMAT_TABLE:
        render_table(c, out, &rc);
        break;
    case ENC_FORMAT_CSV:
        render_csv(c, out, &rc);
        break;
    case ENC_FORMAT_JSON:
        render_json(c, out, &rc);
        break;
    }
    return rc == ENC_OK ? ENC_OK : ENC_ERROR;
}

/* ---- wrapped -------------------------------------------------------------------- */

/* One statement reads the user's rows of the year once, through TABLE_BY_USER ("%s" is
 * the FROM … WHERE that enc_user_index_from shapes for the table's layout: one range per
 * ingestion generation, or one range of an older table's (user_id, event_time) index),
 * into `mine`, and answers every part of the wrapped from it. Each row is (part, key,
 * title, artist, plays, seconds, songs, artists); part 0 is the totals, the others the
 * top songs, artists, genre and device in rank order. Five queries, one per part, each
 * seeking every generation, took twice as long on 1519 and on 24000 generations
 * (bench/RESULTS.md, session 4). */
enum { PART_TOTALS, PART_SONGS, PART_ARTISTS, PART_GENRE, PART_DEVICE };
static const char wrapped_sql[] =
    "WITH mine AS MATERIALIZED (SELECT song_id, title, artist, genre, device, duration %s) "
    "SELECT 0, NULL, NULL, NULL, count(*), coalesce(sum(duration), 0), count(DISTINCT song_id), "
    "count(DISTINCT artist) FROM mine "
    "UNION ALL SELECT * FROM (SELECT 1, song_id, max(title), max(artist), count(*) AS plays, 0, 0, 0 FROM mine "
    "WHERE song_id IS NOT NULL GROUP BY song_id ORDER BY plays DESC, song_id LIMIT 5) "
    "UNION ALL SELECT * FROM (SELECT 2, artist, NULL, NULL, count(*) AS plays, 0, 0, 0 FROM mine "
    "WHERE artist IS NOT NULL GROUP BY artist ORDER BY plays DESC, artist LIMIT 5) "
    "UNION ALL SELECT * FROM (SELECT 3, genre, NULL, NULL, count(*) AS plays, 0, 0, 0 FROM mine "
    "WHERE genre IS NOT NULL GROUP BY genre ORDER BY plays DESC, genre LIMIT 1) "
    "UNION ALL SELECT * FROM (SELECT 4, device, NULL, NULL, count(*) AS plays, 0, 0, 0 FROM mine "
    "WHERE device IS NOT NULL GROUP BY device ORDER BY plays DESC, device LIMIT 1) "
    "ORDER BY 1, 5 DESC, 2";

static enc_status oom(enc_err *err)
{
    return enc_err_set(err, "out of memory reading the user's plays");
}

/* Takes one row of wrapped_sql into w. */
static enc_status wrapped_row(sqlite3_stmt *st, enc_wrapped *w, enc_err *err)
{
    bool fail = false;
    switch (sqlite3_column_int(st, 0)) {
    case PART_TOTALS:
        w->plays = sqlite3_column_int64(st, 4);
        w->seconds = sqlite3_column_int64(st, 5);
        w->songs = sqlite3_column_int64(st, 6);
        w->artists = sqlite3_column_int64(st, 7);
        return ENC_OK;
    case PART_SONGS: {
        if (w->n_songs >= ENC_WRAPPED_TOP)
            return ENC_OK;
        enc_wrapped_song *s = &w->top_songs[w->n_songs++];
        s->song_id = dup_column(st, 1, &fail);
        s->title = dup_column(st, 2, &fail);
        s->artist = dup_column(st, 3, &fail);
        s->plays = sqlite3_column_int64(st, 4);
        return fail || !s->song_id ? oom(err) : ENC_OK;
    }
    case PART_ARTISTS: {
        if (w->n_artists >= ENC_WRAPPED_TOP)
            return ENC_OK;
        enc_wrapped_item *a = &w->top_artists[w->n_artists++];
        a->name = dup_column(st, 1, &fail);
        a->plays = sqlite3_column_int64(st, 4);
        return fail || !a->name ? oom(err) : ENC_OK;
    }
    case PART_GENRE:
        if (!w->top_genre)
            w->top_genre = dup_column(st, 1, &fail);
        return fail ? oom(err) : ENC_OK;
    case PART_DEVICE:
        if (!w->top_device)
            w->top_device = dup_column(st, 1, &fail);
        return fail ? oom(err) : ENC_OK;
    }
    return ENC_OK;
}

void enc_wrapped_free(enc_wrapped *w)
{
    for (size_t i = 0; i < w->n_songs; i++) {
        enc_free(w->top_songs[i].song_id);
        enc_free(w->top_songs[i].title);
        enc_free(w->top_songs[i].artist);
    }
    for (size_t i = 0; i < w->n_artists; i++)
        enc_free(w->top_artists[i].name);
    enc_free(w->top_genre);
    enc_free(w->top_device);
    w->n_songs = w->n_artists = 0;
    w->top_genre = w->top_device = NULL;
}

/* Runs wrapped_sql over `source` (enc_user_index_from's text) for ?1 = user and
 * ?2 <= event_time < ?3. */
static enc_status wrapped_run(sqlite3 *db, const char *source, const char *user, const char *from, const char *to,
                              enc_wrapped *w, enc_err *err)
{
    char sql[SQL_MAX];
    int len = snprintf(sql, sizeof sql, wrapped_sql, source);
    if (len < 0 || (size_t)len >= sizeof sql)
        return enc_err_set(err, "internal error: query too long");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return sql_fail(db, "preparing the query", err);
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, from, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, to, -1, SQLITE_STATIC);
    enc_status rc = ENC_OK;
    int s = SQLITE_DONE;
    while (rc == ENC_OK && (s = sqlite3_step(st)) == SQLITE_ROW)
        rc = wrapped_row(st, w, err);
    if (rc == ENC_OK && s != SQLITE_DONE)
        rc = sql_fail(db, "reading the user's plays", err);
    sqlite3_finalize(st);
    return rc;
}

enc_status enc_wrapped_query(sqlite3 *db, const char *table, const char *user, int year, enc_wrapped *w, enc_err *err)
{
    memset(w, 0, sizeof *w);
    w->user = user;
    w->year = year;
    if (year < 1 || year > 9999)
        return enc_err_set(err, "year %d is out of range 0001-9999", year);
    /* event_time is 'YYYY-MM-DD HH:MM:SS…': 'YYYY-13' sorts after every time of year
     * YYYY and before year YYYY+1, and works for 9999 too. */
    char from[16], to[16], source[SQL_MAX / 2];
    snprintf(from, sizeof from, "%04d-01-01", year);
    snprintf(to, sizeof to, "%04d-13", year);
    enc_user_index ix;
    enc_status rc = enc_user_index_read(db, table, &ix, err);
    if (rc == ENC_OK)
        rc = enc_user_index_from(&ix, table, source, sizeof source, err);
    if (rc == ENC_OK)
        rc = wrapped_run(db, source, user, from, to, w, err);
    if (rc != ENC_OK)
        enc_wrapped_free(w);
    return rc;
}

static const char *plural(int64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

/* "label" padded to a fixed column, then the value, for the report's summary block. */
static void line_kv(enc_buf *out, const char *label, const char *value, enc_status *rc)
{
    *rc |= enc_buf_appendf(out, "  %-18s ", label);
    text_put(out, value, SIZE_MAX, rc);
    *rc |= enc_buf_appendc(out, '\n');
}

static void render_wrapped_text(const enc_wrapped *w, enc_buf *out, enc_status *rc)
{
    if (w->plays == 0) {
        *rc |= enc_buf_append(out, "No plays by ", 12);
        text_put(out, w->user, CELL_MAX_WIDTH, rc);
        *rc |= enc_buf_appendf(out, " in %04d: nothing to wrap yet.\n", w->year);
        return;
    }
    char num[32];
    text_put(out, w->user, CELL_MAX_WIDTH, rc);
    *rc |= enc_buf_appendf(out, "'s %04d, wrapped\n\n", w->year);
    format_minutes(w->seconds, num);
    line_kv(out, "minutes listened", num, rc);
    snprintf(num, sizeof num, "%" PRId64, w->plays);
    line_kv(out, "plays", num, rc);
    snprintf(num, sizeof num, "%" PRId64, w->songs);
    line_kv(out, "different songs", num, rc);
    snprintf(num, sizeof num, "%" PRId64, w->artists);
    line_kv(out, "different artists", num, rc);
    line_kv(out, "top genre", w->top_genre ? w->top_genre : unknown_name, rc);
    line_kv(out, "most-used device", w->top_device ? w->top_device : unknown_name, rc);

    *rc |= enc_buf_append(out, "\n  top songs\n", 13);
    for (size_t i = 0; i < w->n_songs; i++) {
        const enc_wrapped_song *s = &w->top_songs[i];
        *rc |= enc_buf_appendf(out, "    %zu. ", i + 1);
        if (s->title) {
            text_put(out, s->title, CELL_MAX_WIDTH, rc);
            *rc |= enc_buf_append(out, " \u2014 ", 5);
            text_put(out, s->artist ? s->artist : unknown_name, CELL_MAX_WIDTH, rc);
        } else {
            text_put(out, s->song_id, CELL_MAX_WIDTH, rc);
            *rc |= enc_buf_append(out, " (not in songs.csv)", 19);
        }
        *rc |= enc_buf_appendf(out, " \u00b7 %" PRId64 " %s\n", s->plays, plural(s->plays, "play", "plays"));
    }
    if (w->n_artists) {
        *rc |= enc_buf_append(out, "\n  top artists\n", 15);
        for (size_t i = 0; i < w->n_artists; i++) {
            const enc_wrapped_item *a = &w->top_artists[i];
            *rc |= enc_buf_appendf(out, "    %zu. ", i + 1);
            text_put(out, a->name, CELL_MAX_WIDTH, rc);
            *rc |= enc_buf_appendf(out, " \u00b7 %" PRId64 " %s\n", a->plays, plural(a->plays, "play", "plays"));
        }
    }
}

static void render_wrapped_json(const enc_wrapped *w, enc_buf *out, enc_status *rc)
{
    char minutes[32];
    format_minutes(w->seconds, minutes);
    *rc |= enc_buf_append(out, "{\"user\":", 8);
    json_str(out, w->user, rc);
    *rc |= enc_buf_appendf(out,
                           ",\"year\":%d,\"minutes\":%s,\"plays\":%" PRId64 ",\"songs\":%" PRId64
                           ",\"artists\":%" PRId64 ",\"top_genre\":",
                           w->year, minutes, w->plays, w->songs, w->artists);
    json_str(out, w->top_genre, rc);
    *rc |= enc_buf_append(out, ",\"top_device\":", 14);
    json_str(out, w->top_device, rc);
    *rc |= enc_buf_append(out, ",\"top_songs\":[", 14);
    for (size_t i = 0; i < w->n_songs; i++) {
        const enc_wrapped_song *s = &w->top_songs[i];
        *rc |= enc_buf_appendf(out, "%s{\"rank\":%zu,\"song_id\":", i ? "," : "", i + 1);
        json_str(out, s->song_id, rc);
        *rc |= enc_buf_append(out, ",\"title\":", 9);
        json_str(out, s->title, rc);
        *rc |= enc_buf_append(out, ",\"artist\":", 10);
        json_str(out, s->artist, rc);
        *rc |= enc_buf_appendf(out, ",\"plays\":%" PRId64 "}", s->plays);
    }
    *rc |= enc_buf_append(out, "],\"top_artists\":[", 17);
    for (size_t i = 0; i < w->n_artists; i++) {
        const enc_wrapped_item *a = &w->top_artists[i];
        *rc |= enc_buf_appendf(out, "%s{\"rank\":%zu,\"artist\":", i ? "," : "", i + 1);
        json_str(out, a->name, rc);
        *rc |= enc_buf_appendf(out, ",\"plays\":%" PRId64 "}", a->plays);
    }
    *rc |= enc_buf_append(out, "]}\n", 3);
}

enc_status enc_wrapped_render(const enc_wrapped *w, enc_report_format f, enc_buf *out)
{
    enc_status rc = ENC_OK;
    if (f == ENC_FORMAT_JSON)
        render_wrapped_json(w, out, &rc);
    else if (f == ENC_FORMAT_TABLE)
        render_wrapped_text(w, out, &rc);
    else
        return ENC_ERROR;
    return rc == ENC_OK ? ENC_OK : ENC_ERROR;
}

/* chart — ranked charts (`encore top`) over the SQLite sink's aggregates.
 *
 * Charts read only the aggregates: the yearly and monthly totals up to the rollup horizon
 * and the daily rows (and pending packs) after it, as plan.c chooses, each with
 * HyperLogLog sketches of listeners, so they never touch the events.
 */
#include "chart.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

enum { SQL_MAX = 2048 };

static const char *const by_plural[] = {"songs", "artists", "genres", "countries", "devices"};

void enc_chart_title(enc_chart_by by, enc_chart_metric m, const enc_period *p, char *out, size_t size)
{
    static const char *const kind_word[] = {"", "Year", "Month", "Day", ""};
    const char *metric = enc_chart_metric_name(m);
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
    r->key = enc_report_column_dup(st, 0, &oom);
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
        return enc_report_sql_fail(db, "preparing the query", err);
    sqlite3_bind_text(st, 1, enc_chart_by_name(c->by), -1, SQLITE_STATIC);
    for (size_t i = 0; i < nseg; i++) {
        sqlite3_bind_text(st, (int)(2 * i + 2), seg[i].lo, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, (int)(2 * i + 3), seg[i].hi, -1, SQLITE_STATIC); /* unused when = lo */
    }
    enc_status rc = ENC_OK;
    int s;
    while (rc == ENC_OK && (s = sqlite3_step(st)) == SQLITE_ROW)
        rc = push_row(st, rows, n, &cap, err);
    if (rc == ENC_OK && s != SQLITE_DONE)
        rc = enc_report_sql_fail(db, "reading the chart", err);
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
    if (enc_plan_open(db, table, enc_chart_by_name(c->by), c->period.from, c->period.to, &plan, err) != ENC_OK ||
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

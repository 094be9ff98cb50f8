/* rollup — TABLE_MONTHLY and TABLE_YEARLY: plays and seconds per key and month or year,
 * kept in the batch's transaction from the same deltas as TABLE_DAILY. */
#include "rollup.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "timestamp.h"

enum { SQL_MAX = 1536 };

struct enc_rollup {
    sqlite3 *db; /* borrowed from the sink */
    sqlite3_stmt *put[2]; /* [0] month, [1] year */
};

/* One pending upsert: a run of deltas with the same dimension, key and period. */
typedef struct {
    bool used;
    enc_agg_dim dim;
    enc_slice key;
    int period; /* y * 100 + m for months, y for years */
    int64_t plays, seconds;
} pending;

static enc_status fail(sqlite3 *db, int rc, const char *what, enc_err *err)
{
    enc_err_set(err, "sqlite: %s: %s", what, sqlite3_errmsg(db));
    int prim = rc & 0xff;
    return prim == SQLITE_BUSY || prim == SQLITE_LOCKED ? ENC_RETRY : ENC_ERROR;
}

static bool table_exists(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st = NULL;
    bool yes = false;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        yes = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    return yes;
}

/* Creates both tables and fills the totals from TABLE_DAILY, all in one
 * transaction: after it, the totals are complete or the tables do not exist. */
static enc_status create_and_fill(sqlite3 *db, const char *t, enc_err *err)
{
    char sql[SQL_MAX * 2];
    int len = snprintf(
        sql, sizeof sql,
        "BEGIN IMMEDIATE;"
        "CREATE TABLE IF NOT EXISTS \"%s_MONTHLY\" (dimension TEXT NOT NULL, month TEXT NOT NULL, key TEXT NOT NULL, "
        "plays INTEGER NOT NULL, seconds INTEGER NOT NULL, PRIMARY KEY (dimension, month, key)) WITHOUT ROWID;"
        "CREATE TABLE IF NOT EXISTS \"%s_YEARLY\" (dimension TEXT NOT NULL, year TEXT NOT NULL, key TEXT NOT NULL, "
        "plays INTEGER NOT NULL, seconds INTEGER NOT NULL, PRIMARY KEY (dimension, year, key)) WITHOUT ROWID;"
        "DELETE FROM \"%s_MONTHLY\"; DELETE FROM \"%s_YEARLY\";"
        "INSERT INTO \"%s_MONTHLY\" SELECT dimension, substr(day, 1, 7), key, sum(plays), sum(seconds) "
        "FROM \"%s_DAILY\" GROUP BY 1, 2, 3;"
        "INSERT INTO \"%s_YEARLY\" SELECT dimension, substr(month, 1, 4), key, sum(plays), sum(seconds) "
        "FROM \"%s_MONTHLY\" GROUP BY 1, 2, 3;"
        "COMMIT;",
        t, t, t, t, t, t, t, t);
    if (len < 0 || (size_t)len >= sizeof sql)
        return enc_err_set(err, "internal error: rollup DDL too long");
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        enc_status s = fail(db, rc, "creating the monthly and yearly totals", err);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return s;
    }
    return ENC_OK;
}

static enc_status prepare_put(sqlite3 *db, const char *t, const char *suffix, const char *col, sqlite3_stmt **st,
                              enc_err *err)
{
    char sql[SQL_MAX];
    snprintf(sql, sizeof sql,
             "INSERT INTO \"%s_%s\" (dimension, %s, key, plays, seconds) VALUES (?,?,?,?,?) "
             "ON CONFLICT (dimension, %s, key) DO UPDATE SET plays = plays + excluded.plays, "
             "seconds = seconds + excluded.seconds",
             t, suffix, col, col);
    int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
    return rc == SQLITE_OK ? ENC_OK : fail(db, rc, "preparing the totals upsert", err);
}

enc_status enc_rollup_open(sqlite3 *db, const char *table, enc_rollup **out, enc_err *err)
{
    *out = NULL;
    char month[80], year[80];
    snprintf(month, sizeof month, "%s_MONTHLY", table);
    snprintf(year, sizeof year, "%s_YEARLY", table);
    if (!(table_exists(db, month) && table_exists(db, year)) && create_and_fill(db, table, err) != ENC_OK)
        return ENC_ERROR;
    enc_rollup *r = enc_calloc(1, sizeof *r);
    if (!r)
        return enc_err_set(err, "out of memory");
    r->db = db;
    if (prepare_put(db, table, "MONTHLY", "month", &r->put[0], err) != ENC_OK ||
        prepare_put(db, table, "YEARLY", "year", &r->put[1], err) != ENC_OK) {
        enc_rollup_free(r);
        return ENC_ERROR;
    }
    *out = r;
    return ENC_OK;
}

static enc_status flush(enc_rollup *r, int which, pending *p, enc_err *err)
{
    if (!p->used)
        return ENC_OK;
    char period[16];
    if (which == 0)
        snprintf(period, sizeof period, "%04d-%02d", p->period / 100 % 10000, p->period % 100);
    else
        snprintf(period, sizeof period, "%04d", p->period % 10000);
    sqlite3_stmt *st = r->put[which];
    sqlite3_bind_text(st, 1, enc_agg_dim_name(p->dim), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, period, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, p->key.p, (int)p->key.n, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, p->plays);
    sqlite3_bind_int64(st, 5, p->seconds);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    p->used = false;
    return rc == SQLITE_DONE ? ENC_OK : fail(r->db, rc, "update monthly and yearly totals", err);
}

/* Adds e to p, first flushing p when e belongs to another dimension, key or period. */
static enc_status accumulate(enc_rollup *r, int which, pending *p, const enc_agg_entry *e, int period, enc_err *err)
{
    bool same = p->used && p->dim == e->dim && p->period == period && p->key.n == e->key.n &&
                memcmp(p->key.p, e->key.p, e->key.n) == 0;
    if (!same) {
        enc_status s = flush(r, which, p, err);
        if (s != ENC_OK)
            return s;
        *p = (pending){.used = true, .dim = e->dim, .key = e->key, .period = period};
    }
    p->plays += e->plays;
    p->seconds += e->seconds;
    return ENC_OK;
}

enc_status enc_rollup_add(enc_rollup *r, const enc_agg *a, enc_err *err)
{
    pending p[2] = {{0}};
    size_t n = enc_agg_count(a);
    enc_status s = ENC_OK;
    for (size_t i = 0; i < n && s == ENC_OK; i++) {
        const enc_agg_entry *e = enc_agg_at(a, i);
        if (!e->key.p)
            continue; /* the daily table has no NULL keys either */
        int y, m, d;
        enc_ts_civil(e->day, &y, &m, &d);
        s = accumulate(r, 0, &p[0], e, y * 100 + m, err);
        if (s == ENC_OK)
            s = accumulate(r, 1, &p[1], e, y, err);
    }
    for (int k = 0; k < 2 && s == ENC_OK; k++)
        s = flush(r, k, &p[k], err);
    return s;
}

void enc_rollup_free(enc_rollup *r)
{
    if (!r)
        return;
    sqlite3_finalize(r->put[0]);
    sqlite3_finalize(r->put[1]);
    enc_free(r);
}

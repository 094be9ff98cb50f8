/* rollup — TABLE_MONTHLY and TABLE_YEARLY, rolled lazily from TABLE_DAILY up to a
 * horizon kept in _ENCORE_ROLLUP, all in the batch's transaction (see rollup.h). */
#include "rollup.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "timestamp.h"

enum { SQL_MAX = 1536, NAME_MAX_LEN = 80 };

/* Every dimension, so a range on the second primary-key column is five index ranges. */
#define ALL_DIMS "('artist', 'country', 'device', 'genre', 'song')"

struct enc_rollup {
    sqlite3 *db; /* borrowed from the sink */
    enc_pending *pending; /* borrowed from the sink */
    char table[NAME_MAX_LEN];
    sqlite3_stmt *get_horizon, *set_horizon;
    sqlite3_stmt *late_month, *late_year;  /* one late delta */
    sqlite3_stmt *roll_days, *roll_months; /* ?1 < period <= ?2 (days), ?1 <= month <= ?2 */
};

static enc_status fail(sqlite3 *db, int rc, const char *what, enc_err *err)
{
    enc_err_set(err, "sqlite: %s: %s", what, sqlite3_errmsg(db));
    int prim = rc & 0xff;
    return prim == SQLITE_BUSY || prim == SQLITE_LOCKED ? ENC_RETRY : ENC_ERROR;
}

/* ---- days, months and the horizon as text ------------------------------------------- */

static void month_text(int64_t day, char out[8])
{
    char t[11];
    enc_ts_format_day(day, t);
    memcpy(out, t, 7);
    out[7] = '\0';
}

static int64_t month_last_day(int64_t day)
{
    int y, m, d;
    enc_ts_civil(day, &y, &m, &d);
    return (m == 12 ? enc_ts_days_from_civil(y + 1, 1, 1) : enc_ts_days_from_civil(y, m + 1, 1)) - 1;
}

int64_t enc_rollup_months_ended_by(int64_t r)
{
    if (month_last_day(r) == r)
        return r;
    int y, m, d;
    enc_ts_civil(r, &y, &m, &d);
    return enc_ts_days_from_civil(y, m, 1) - 1;
}

static enc_status read_horizon_row(sqlite3 *db, sqlite3_stmt *st, bool *present, int64_t *through, enc_err *err)
{
    int rc = sqlite3_step(st);
    *present = rc == SQLITE_ROW;
    *through = ENC_ROLLUP_NONE;
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        if (!t || enc_ts_parse_date(t, (size_t)sqlite3_column_bytes(st, 0), through) != ENC_OK)
            rc = SQLITE_CORRUPT;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_CORRUPT)
        return enc_err_set(err, "sqlite: _ENCORE_ROLLUP.rolled_through is not a YYYY-MM-DD day");
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(db, rc, "reading the rollup horizon", err);
    return ENC_OK;
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

enc_status enc_rollup_horizon(sqlite3 *db, const char *table, bool *present, int64_t *through, enc_err *err)
{
    *present = false;
    *through = ENC_ROLLUP_NONE;
    if (!table_exists(db, "_ENCORE_ROLLUP"))
        return ENC_OK;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT rolled_through FROM \"_ENCORE_ROLLUP\" WHERE events_table = ?", -1, &st,
                                NULL);
    if (rc != SQLITE_OK)
        return fail(db, rc, "reading the rollup horizon", err);
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    enc_status s = read_horizon_row(db, st, present, through, err);
    sqlite3_finalize(st);
    char monthly[NAME_MAX_LEN + 16], yearly[NAME_MAX_LEN + 16];
    snprintf(monthly, sizeof monthly, "%s_MONTHLY", table);
    snprintf(yearly, sizeof yearly, "%s_YEARLY", table);
    if (s == ENC_OK && *present && !(table_exists(db, monthly) && table_exists(db, yearly)))
        *present = false; /* totals dropped by hand: the daily rows still answer */
    return s;
}

/* ---- statements ----------------------------------------------------------------------- */

static enc_status prepare(enc_rollup *r, sqlite3_stmt **st, enc_err *err, const char *fmt)
{
    char sql[SQL_MAX];
    const char *t = r->table;
    int len = snprintf(sql, sizeof sql, fmt, t, t, t, t);
    if (len < 0 || (size_t)len >= sizeof sql)
        return enc_err_set(err, "internal error: rollup statement too long");
    int rc = sqlite3_prepare_v3(r->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
    return rc == SQLITE_OK ? ENC_OK : fail(r->db, rc, "preparing the rollups", err);
}

#define MERGE_TOTALS                                                                                                   \
    "plays = plays + excluded.plays, seconds = seconds + excluded.seconds, "                                            \
    "listeners = encore_hll_merge(listeners, excluded.listeners)"
#define MERGE_NAMES ", title = coalesce(excluded.title, title), artist = coalesce(excluded.artist, artist)"

static enc_status prepare_all(enc_rollup *r, enc_err *err)
{
    if (prepare(r, &r->get_horizon, err, "SELECT rolled_through FROM \"_ENCORE_ROLLUP\" WHERE events_table = ?") ||
        prepare(r, &r->set_horizon, err, "UPDATE \"_ENCORE_ROLLUP\" SET rolled_through = ?1 WHERE events_table = ?2") ||
        prepare(r, &r->late_month, err,
                "INSERT INTO \"%s_MONTHLY\" (dimension, month, key, plays, seconds, listeners, title, artist) "
                "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (dimension, month, key) DO UPDATE SET " MERGE_TOTALS
                    MERGE_NAMES) ||
        prepare(r, &r->late_year, err,
                "INSERT INTO \"%s_YEARLY\" (dimension, year, key, plays, seconds, listeners) VALUES (?,?,?,?,?,?) "
                "ON CONFLICT (dimension, year, key) DO UPDATE SET " MERGE_TOTALS) ||
        prepare(r, &r->roll_days, err,
                "INSERT INTO \"%s_MONTHLY\" (dimension, month, key, plays, seconds, listeners, title, artist) "
                "SELECT dimension, substr(day, 1, 7), key, sum(plays), sum(seconds), encore_hll_union(listeners), "
                "max(title), max(artist) FROM \"%s_DAILY\" WHERE dimension IN " ALL_DIMS " AND day > ?1 AND day <= ?2 "
                "GROUP BY 1, 2, 3 ON CONFLICT (dimension, month, key) DO UPDATE SET " MERGE_TOTALS MERGE_NAMES) ||
        prepare(r, &r->roll_months, err,
                "INSERT INTO \"%s_YEARLY\" (dimension, year, key, plays, seconds, listeners) "
                "SELECT dimension, substr(month, 1, 4), key, sum(plays), sum(seconds), encore_hll_union(listeners) "
                "FROM \"%s_MONTHLY\" WHERE dimension IN " ALL_DIMS " AND month >= ?1 AND month <= ?2 "
                "GROUP BY 1, 2, 3 ON CONFLICT (dimension, year, key) DO UPDATE SET " MERGE_TOTALS))
        return ENC_ERROR;
    return ENC_OK;
}

static enc_status step_done(enc_rollup *r, sqlite3_stmt *st, const char *what, enc_err *err)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? ENC_OK : fail(r->db, rc, what, err);
}

/* ---- rolling ---------------------------------------------------------------------------- */

/* Rolls the days (from, to] into their months, then the months that ended in (from, to]
 * into their years, and sets the horizon to `to`. from may be ENC_ROLLUP_NONE. */
static enc_status roll(enc_rollup *r, int64_t from, int64_t to, enc_err *err)
{
    char lo[11] = "", hi[11];
    if (from != ENC_ROLLUP_NONE)
        enc_ts_format_day(from, lo);
    enc_ts_format_day(to, hi);
    sqlite3_bind_text(r->roll_days, 1, lo, -1, SQLITE_STATIC);
    sqlite3_bind_text(r->roll_days, 2, hi, -1, SQLITE_STATIC);
    enc_status s = step_done(r, r->roll_days, "rolling days into monthly totals", err);
    if (s != ENC_OK)
        return s;
    int64_t ended = enc_rollup_months_ended_by(to); /* months ending in (from, ended] are new to the years */
    if (ended > from) {
        char mlo[8] = "", mhi[8];
        if (from != ENC_ROLLUP_NONE)
            month_text(from + 1, mlo);
        month_text(ended, mhi);
        sqlite3_bind_text(r->roll_months, 1, mlo, -1, SQLITE_STATIC);
        sqlite3_bind_text(r->roll_months, 2, mhi, -1, SQLITE_STATIC);
        if ((s = step_done(r, r->roll_months, "rolling months into yearly totals", err)) != ENC_OK)
            return s;
    }
    sqlite3_bind_text(r->set_horizon, 1, hi, -1, SQLITE_STATIC);
    sqlite3_bind_text(r->set_horizon, 2, r->table, -1, SQLITE_STATIC);
    return step_done(r, r->set_horizon, "moving the rollup horizon", err);
}

static enc_status bind_late(enc_rollup *r, sqlite3_stmt *st, const enc_agg_entry *e, const char *period, enc_err *err)
{
    sqlite3_bind_text(st, 1, enc_agg_dim_name(e->dim), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, period, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, e->key.p, (int)e->key.n, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, e->plays);
    sqlite3_bind_int64(st, 5, e->seconds);
    sqlite3_bind_blob(st, 6, e->listeners_blob.p, (int)e->listeners_blob.n, SQLITE_STATIC);
    return ENC_OK;
}

/* A delta for a day already rolled (day <= horizon): into its month, and into its year
 * when the month ended by the horizon. */
static enc_status add_late(enc_rollup *r, const enc_agg_entry *e, int64_t horizon, enc_err *err)
{
    char month[8];
    month_text(e->day, month);
    if (bind_late(r, r->late_month, e, month, err) != ENC_OK)
        return ENC_ERROR;
    if (e->title.p)
        sqlite3_bind_text(r->late_month, 7, e->title.p, (int)e->title.n, SQLITE_STATIC);
    if (e->artist.p)
        sqlite3_bind_text(r->late_month, 8, e->artist.p, (int)e->artist.n, SQLITE_STATIC);
    enc_status s = step_done(r, r->late_month, "adding a late day to monthly totals", err);
    if (s != ENC_OK || month_last_day(e->day) > horizon)
        return s;
    month[4] = '\0';
    if (bind_late(r, r->late_year, e, month, err) != ENC_OK)
        return ENC_ERROR;
    return step_done(r, r->late_year, "adding a late day to yearly totals", err);
}

/* The day most of the batch's plays fall on (counted on the song deltas, which every kept
 * row has). Deltas sorted by enc_agg_sort give each day one run; in another order a day
 * split into runs may be missed, which only makes rolling later, never wrong. */
static int64_t busiest_day(const enc_agg *a)
{
    int64_t best = ENC_ROLLUP_NONE, best_plays = 0, day = ENC_ROLLUP_NONE, plays = 0;
    size_t n = enc_agg_count(a);
    for (size_t i = 0; i <= n; i++) {
        const enc_agg_entry *e = i < n ? enc_agg_at(a, i) : NULL;
        if (e && e->dim != ENC_AGG_SONG)
            continue;
        if (!e || e->day != day) {
            if (plays > best_plays) {
                best = day;
                best_plays = plays;
            }
            if (!e)
                break;
            day = e->day;
            plays = 0;
        }
        plays += e->plays;
    }
    return best;
}

enc_status enc_rollup_through(enc_rollup *r, int64_t *horizon, enc_err *err)
{
    bool present;
    sqlite3_bind_text(r->get_horizon, 1, r->table, -1, SQLITE_STATIC);
    enc_status s = read_horizon_row(r->db, r->get_horizon, &present, horizon, err);
    if (s == ENC_OK && !present)
        return enc_err_set(err, "sqlite: the rollup horizon of %s is missing from _ENCORE_ROLLUP", r->table);
    return s;
}

enc_status enc_rollup_add(enc_rollup *r, const enc_agg *a, enc_err *err)
{
    int64_t horizon;
    enc_status s = enc_rollup_through(r, &horizon, err);
    if (s != ENC_OK)
        return s;
    size_t n = enc_agg_count(a);
    for (size_t i = 0; i < n && horizon != ENC_ROLLUP_NONE; i++) {
        const enc_agg_entry *e = enc_agg_at(a, i);
        if (e->key.p && e->day <= horizon && (s = add_late(r, e, horizon, err)) != ENC_OK)
            return s; /* the daily table has no NULL keys either */
    }
    int64_t busiest = busiest_day(a);
    if (busiest == ENC_ROLLUP_NONE || busiest - 1 <= horizon)
        return ENC_OK;
    if (r->pending && (s = enc_pending_fold_through(r->pending, busiest - 1, err)) != ENC_OK)
        return s;
    return roll(r, horizon, busiest - 1, err);
}

/* ---- opening ---------------------------------------------------------------------------- */

/* Whether the totals are this version's: a horizon row for the table and a listeners
 * column in the monthly table. */
static bool rollups_current(enc_rollup *r)
{
    bool present = false;
    int64_t through;
    enc_err ignored;
    if (enc_rollup_horizon(r->db, r->table, &present, &through, &ignored) != ENC_OK || !present)
        return false;
    char sql[SQL_MAX];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pragma_table_info('%s_MONTHLY') WHERE name = 'listeners';"
             "SELECT count(*) FROM pragma_table_info('%s_YEARLY') WHERE name = 'listeners'",
             r->table, r->table);
    sqlite3_stmt *st = NULL;
    const char *tail = sql;
    int found = 0;
    while (tail && *tail && sqlite3_prepare_v2(r->db, tail, -1, &st, &tail) == SQLITE_OK && st) {
        if (sqlite3_step(st) == SQLITE_ROW)
            found += sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    return found == 2;
}

/* The latest day in TABLE_DAILY, or ENC_ROLLUP_NONE when it is empty. */
static enc_status latest_day(enc_rollup *r, int64_t *out, enc_err *err)
{
    char sql[SQL_MAX];
    const char *dims[] = {"artist", "country", "device", "genre", "song"};
    int len = snprintf(sql, sizeof sql, "SELECT max(d) FROM (");
    for (size_t i = 0; i < 5; i++) /* max(day) per dimension: a seek each, not a scan */
        len += snprintf(sql + len, sizeof sql - (size_t)len,
                        "%sSELECT (SELECT max(day) FROM \"%s_DAILY\" WHERE dimension = '%s') AS d", i ? " UNION ALL " : "",
                        r->table, dims[i]);
    snprintf(sql + len, sizeof sql - (size_t)len, ")");
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(r->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fail(r->db, rc, "finding the latest daily row", err);
    *out = ENC_ROLLUP_NONE;
    rc = sqlite3_step(st);
    const char *t = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    enc_status s = ENC_OK;
    if (rc != SQLITE_ROW)
        s = fail(r->db, rc, "finding the latest daily row", err);
    else if (t && enc_ts_parse_date(t, (size_t)sqlite3_column_bytes(st, 0), out) != ENC_OK)
        s = enc_err_set(err, "sqlite: %s_DAILY has a day that is not YYYY-MM-DD: %.20s", r->table, t);
    sqlite3_finalize(st);
    return s;
}

/* (Re)creates the totals from TABLE_DAILY, rolled up to the day before its latest day.
 * Inside the caller's transaction. */
static enc_status rebuild(enc_rollup *r, enc_err *err)
{
    char sql[SQL_MAX * 2];
    const char *t = r->table;
    int len = snprintf(
        sql, sizeof sql,
        "DROP TABLE IF EXISTS \"%s_MONTHLY\"; DROP TABLE IF EXISTS \"%s_YEARLY\";"
        "CREATE TABLE \"%s_MONTHLY\" (dimension TEXT NOT NULL, month TEXT NOT NULL, key TEXT NOT NULL, "
        "plays INTEGER NOT NULL, seconds INTEGER NOT NULL, listeners BLOB NOT NULL, title TEXT, artist TEXT, "
        "PRIMARY KEY (dimension, month, key)) WITHOUT ROWID;"
        "CREATE TABLE \"%s_YEARLY\" (dimension TEXT NOT NULL, year TEXT NOT NULL, key TEXT NOT NULL, "
        "plays INTEGER NOT NULL, seconds INTEGER NOT NULL, listeners BLOB NOT NULL, "
        "PRIMARY KEY (dimension, year, key)) WITHOUT ROWID;"
        "CREATE TABLE IF NOT EXISTS \"_ENCORE_ROLLUP\" (events_table TEXT PRIMARY KEY, rolled_through TEXT);"
        "INSERT OR REPLACE INTO \"_ENCORE_ROLLUP\" (events_table, rolled_through) VALUES ('%s', NULL);",
        t, t, t, t, t);
    if (len < 0 || (size_t)len >= sizeof sql)
        return enc_err_set(err, "internal error: rollup DDL too long");
    int rc = sqlite3_exec(r->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return fail(r->db, rc, "creating the monthly and yearly totals", err);
    enc_status s = r->pending ? enc_pending_fold_through(r->pending, enc_ts_days_from_civil(9999, 12, 31), err) : ENC_OK;
    if (s != ENC_OK)
        return s;
    int64_t latest;
    if (prepare_all(r, err) != ENC_OK || latest_day(r, &latest, err) != ENC_OK)
        return ENC_ERROR;
    return latest == ENC_ROLLUP_NONE ? ENC_OK : roll(r, ENC_ROLLUP_NONE, latest - 1, err);
}

static void finalize_all(enc_rollup *r)
{
    sqlite3_stmt **all[] = {&r->get_horizon, &r->set_horizon, &r->late_month,
                            &r->late_year,   &r->roll_days,   &r->roll_months};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        sqlite3_finalize(*all[i]);
        *all[i] = NULL;
    }
}

static enc_status open_tables(enc_rollup *r, enc_err *err)
{
    if (rollups_current(r))
        return prepare_all(r, err);
    int rc = sqlite3_exec(r->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return fail(r->db, rc, "creating the monthly and yearly totals", err);
    enc_status s = rebuild(r, err);
    if (s == ENC_OK && (rc = sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
        s = fail(r->db, rc, "creating the monthly and yearly totals", err);
    if (s != ENC_OK) {
        finalize_all(r); /* prepared against tables the rollback takes away */
        sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
    }
    return s;
}

enc_status enc_rollup_open(sqlite3 *db, const char *table, enc_pending *pending, enc_rollup **out, enc_err *err)
{
    *out = NULL;
    if (strlen(table) + sizeof "_MONTHLY" > NAME_MAX_LEN)
        return enc_err_set(err, "internal error: table name too long for the rollups");
    enc_rollup *r = enc_calloc(1, sizeof *r);
    if (!r)
        return enc_err_set(err, "out of memory");
    r->db = db;
    r->pending = pending;
    snprintf(r->table, sizeof r->table, "%s", table);
    if (open_tables(r, err) != ENC_OK) {
        enc_rollup_free(r);
        return ENC_ERROR;
    }
    *out = r;
    return ENC_OK;
}

void enc_rollup_free(enc_rollup *r)
{
    if (!r)
        return;
    finalize_all(r);
    enc_free(r);
}

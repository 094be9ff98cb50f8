/* pending — TABLE_PENDING: packs appended per batch, merged in C, folded into TABLE_DAILY
 * (see pending.h). */
#include "pending.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "hll.h"
#include "timestamp.h"
#include "trace.h"

enum { SQL_MAX = 1024, NAME_MAX_LEN = 80, DAY_PACKS_CAP = 1 << 30 };

typedef struct merge_job merge_job;

struct enc_pending {
    sqlite3 *db; /* borrowed from the sink */
    char table[NAME_MAX_LEN];
    sqlite3_stmt *ins, *count, *del, *days_upto;
    sqlite3_stmt *day_packs, *daily_rows, *daily_del, *daily_ins; /* folding one (dimension, day) */
    sqlite3_stmt *daily_ins_many; /* FOLD_ROWS_PER_INSERT daily rows in one statement */
    sqlite3_stmt *level_rows, *del_row, *ins_at;                    /* merging one level (below) */
    sqlite3_stmt *sizes; /* the packs of (dimension, day[, level]): how many, how many bytes */
    merge_job *jobs; /* the merge in flight (at most one; a list for the cancelling code) */
};

static enc_status fail(sqlite3 *db, int rc, const char *what, enc_err *err)
{
    enc_err_set(err, "sqlite: %s: %s", what, sqlite3_errmsg(db));
    int prim = rc & 0xff;
    return prim == SQLITE_BUSY || prim == SQLITE_LOCKED ? ENC_RETRY : ENC_ERROR;
}

static enc_status prepare(sqlite3 *db, const char *table, sqlite3_stmt **st, bool persistent, enc_err *err,
                          const char *fmt)
{
    char sql[SQL_MAX];
    int len = snprintf(sql, sizeof sql, fmt, table, table);
    if (len < 0 || (size_t)len >= sizeof sql)
        return enc_err_set(err, "internal error: pending statement too long");
    int rc = sqlite3_prepare_v3(db, sql, -1, persistent ? SQLITE_PREPARE_PERSISTENT : 0, st, NULL);
    return rc == SQLITE_OK ? ENC_OK : fail(db, rc, "preparing the pending deltas", err);
}

static enc_status step_done(sqlite3 *db, sqlite3_stmt *st, const char *what, enc_err *err)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? ENC_OK : fail(db, rc, what, err);
}

/* ---- merging a day's packs ------------------------------------------------------------ */

/* The packs of one (dimension, day), copied out of SQLite (its blob pointers live only
 * until the next step). */
typedef struct {
    enc_buf bytes;
    size_t *end; /* pack i is bytes[end[i-1], end[i]) */
    size_t n, cap;
} day_packs;

/* Makes room for n more packs of bytes in all, so that reading them copies each once
 * into one block (a 40 MB level's packs appended by doubling would touch 124 MiB). */
static enc_status packs_reserve(day_packs *d, size_t n, size_t bytes, enc_err *err)
{
    if (d->n + n > d->cap) {
        size_t *ne = enc_realloc(d->end, (d->n + n) * sizeof *ne);
        if (!ne)
            return enc_err_set(err, "out of memory merging pending deltas");
        d->end = ne;
        d->cap = d->n + n;
    }
    return enc_buf_reserve(&d->bytes, bytes) == ENC_OK ? ENC_OK
                                                       : enc_err_set(err, "out of memory merging pending deltas");
}

static enc_status packs_push(day_packs *d, const void *p, size_t n, enc_err *err)
{
    if (d->n == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 16;
        size_t *ne = enc_realloc(d->end, ncap * sizeof *ne);
        if (!ne)
            return enc_err_set(err, "out of memory merging pending deltas");
        d->end = ne;
        d->cap = ncap;
    }
    if (n && enc_buf_append(&d->bytes, p, n) != ENC_OK)
        return enc_err_set(err, "out of memory merging pending deltas");
    d->end[d->n++] = d->bytes.len;
    return ENC_OK;
}

typedef struct {
    enc_pack_reader *rd;
    enc_pack_entry *head;
    bool *live;
    enc_slice *sketches; /* of the current key's sources */
    size_t k;
    enc_buf sketch; /* the merged key's sketch */
} merger;

static enc_status advance(merger *m, size_t i, enc_err *err)
{
    int r = enc_pack_next(&m->rd[i], &m->head[i], err);
    m->live[i] = r == 1;
    return r < 0 ? ENC_ERROR : ENC_OK;
}

/* The next key over all packs merged into *out; false at the end or on an error (*s). */
static bool merge_next(merger *m, enc_pack_entry *out, enc_status *s, enc_err *err)
{
    size_t lo = m->k;
    for (size_t i = 0; i < m->k; i++)
        if (m->live[i] && (lo == m->k || enc_pack_key_cmp(m->head[i].key, m->head[lo].key) < 0))
            lo = i;
    if (lo == m->k)
        return false;
    *out = (enc_pack_entry){.key = m->head[lo].key};
    size_t sources = 0;
    for (size_t i = lo; i < m->k; i++)
        sources += m->live[i] && enc_pack_key_cmp(m->head[i].key, out->key) == 0;
    if (sources == 1) { /* most keys of a day: the sketch's bytes as they are */
        *out = m->head[lo];
        *s = advance(m, lo, err);
        return *s == ENC_OK;
    }
    size_t ns = 0;
    for (size_t i = lo; i < m->k && *s == ENC_OK; i++) { /* packs before lo are past this key */
        const enc_pack_entry *e = &m->head[i];
        if (!m->live[i] || enc_pack_key_cmp(e->key, out->key) != 0)
            continue;
        out->plays += e->plays;
        out->seconds += e->seconds;
        if (e->title.p) /* later packs are newer: their names win */
            out->title = e->title;
        if (e->artist.p)
            out->artist = e->artist;
        m->sketches[ns++] = e->sketch;
        *s = advance(m, i, err); /* the slices stay valid: they point into the blobs */
    }
    enc_buf_reset(&m->sketch);
    enc_err why;
    if (*s == ENC_OK && enc_hll_union_blobs(m->sketches, ns, &m->sketch, &why) != ENC_OK)
        *s = enc_err_set(err, "pending deltas: merging listener sketches: %s", why.msg);
    out->sketch = (enc_slice){m->sketch.data, m->sketch.len};
    return *s == ENC_OK;
}

/* Calls fn for each key of the packs in d merged, in key order. */
typedef enc_status (*merged_fn)(void *arg, const char day[11], const enc_pack_entry *e, enc_err *err);

static enc_status merge_packs(const day_packs *d, const char day[11], merged_fn fn, void *arg, enc_err *err)
{
    merger m = {.k = d->n};
    enc_buf_init(&m.sketch, ENC_HLL_BLOB_MAX + 64);
    m.rd = enc_calloc(d->n, sizeof *m.rd);
    m.head = enc_calloc(d->n, sizeof *m.head);
    m.live = enc_calloc(d->n, sizeof *m.live);
    m.sketches = enc_calloc(d->n, sizeof *m.sketches);
    enc_status s = ENC_OK;
    if (!m.rd || !m.head || !m.live || !m.sketches)
        s = enc_err_set(err, "out of memory merging pending deltas");
    for (size_t i = 0; i < d->n && s == ENC_OK; i++) {
        size_t at = i ? d->end[i - 1] : 0;
        s = enc_pack_open(&m.rd[i], d->bytes.data + at, d->end[i] - at, err);
        if (s == ENC_OK)
            s = advance(&m, i, err);
    }
    enc_pack_entry e;
    while (s == ENC_OK && merge_next(&m, &e, &s, err))
        s = fn(arg, day, &e, err);
    enc_buf_free(&m.sketch);
    enc_free(m.rd);
    enc_free(m.head);
    enc_free(m.live);
    enc_free(m.sketches);
    return s;
}

/* Steps st (day, deltas rows ordered by day, then age) and calls fn for every entry of
 * every pack, the pack's position in the scan as its age. */
static enc_status scan_rows(sqlite3 *db, sqlite3_stmt *st, enc_pending_fn fn, void *arg, enc_err *err)
{
    enc_status s = ENC_OK;
    int rc = SQLITE_DONE;
    int64_t age = 0;
    while (s == ENC_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        if (!t || sqlite3_column_bytes(st, 0) != 10) {
            s = enc_err_set(err, "pending deltas: a day is not YYYY-MM-DD");
            break;
        }
        char day[11];
        memcpy(day, t, 11);
        enc_pack_reader r;
        enc_pack_entry e;
        s = enc_pack_open(&r, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1), err);
        int got = 0;
        while (s == ENC_OK && (got = enc_pack_next(&r, &e, err)) == 1)
            s = fn(arg, day, age, &e, err);
        if (got < 0)
            s = ENC_ERROR;
        age++;
    }
    if (s == ENC_OK && rc != SQLITE_DONE)
        s = fail(db, rc, "reading pending deltas", err);
    sqlite3_reset(st);
    return s;
}

static bool pending_exists(sqlite3 *db, const char *table)
{
    char name[NAME_MAX_LEN + 16];
    snprintf(name, sizeof name, "%s_PENDING", table);
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

#define SCAN_SQL                                                                                                       \
    "SELECT day, deltas FROM \"%s_PENDING\" WHERE dimension = ?1 AND day >= ?2 AND day <= ?3 ORDER BY day, rowid"

enc_status enc_pending_scan(sqlite3 *db, const char *table, const char *dim, const char *lo, const char *hi,
                            enc_pending_fn fn, void *arg, enc_err *err)
{
    if (!pending_exists(db, table))
        return ENC_OK;
    sqlite3_stmt *st = NULL;
    if (prepare(db, table, &st, false, err, SCAN_SQL) != ENC_OK)
        return ENC_ERROR;
    sqlite3_bind_text(st, 1, dim, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, lo, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, hi, -1, SQLITE_STATIC);
    enc_status s = scan_rows(db, st, fn, arg, err);
    sqlite3_finalize(st);
    return s;
}

enc_status enc_pending_day_column(sqlite3_stmt *st, int i, char out[11])
{
    const unsigned char *t = sqlite3_column_text(st, i);
    out[0] = '\0';
    if (t && sqlite3_column_bytes(st, i) != 10)
        return ENC_ERROR;
    if (t)
        memcpy(out, t, 11);
    return ENC_OK;
}

enc_status enc_pending_span(sqlite3 *db, const char *table, const char *dim, char first[11], char last[11],
                            enc_err *err)
{
    first[0] = last[0] = '\0';
    if (!pending_exists(db, table))
        return ENC_OK;
    sqlite3_stmt *st = NULL;
    if (prepare(db, table, &st, false, err,
                "SELECT (SELECT min(day) FROM \"%1$s_PENDING\" WHERE dimension = ?1), "
                "(SELECT max(day) FROM \"%1$s_PENDING\" WHERE dimension = ?1)") != ENC_OK)
        return ENC_ERROR;
    sqlite3_bind_text(st, 1, dim, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    enc_status s = ENC_OK;
    if (rc != SQLITE_ROW)
        s = fail(db, rc, "reading pending deltas", err);
    else if (enc_pending_day_column(st, 0, first) != ENC_OK || enc_pending_day_column(st, 1, last) != ENC_OK)
        s = enc_err_set(err, "pending deltas: a day is not YYYY-MM-DD");
    sqlite3_finalize(st);
    return s;
}

/* ---- the writer ----------------------------------------------------------------------------- */

/* A TABLE_PENDING from before levels (session 4) gets the column; its packs are level 0. */
static enc_status add_level_column(sqlite3 *db, const char *table, enc_err *err)
{
    sqlite3_stmt *st = NULL;
    if (prepare(db, table, &st, false, err,
                "SELECT count(*) FROM pragma_table_info('%s_PENDING') WHERE name = 'level'") != ENC_OK)
        return ENC_ERROR;
    int rc = sqlite3_step(st);
    bool has = rc == SQLITE_ROW && sqlite3_column_int(st, 0) > 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return fail(db, rc, "reading the pending deltas' columns", err);
    if (has)
        return ENC_OK;
    char sql[SQL_MAX];
    snprintf(sql, sizeof sql, "ALTER TABLE \"%s_PENDING\" ADD COLUMN level INTEGER NOT NULL DEFAULT 0", table);
    rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? ENC_OK : fail(db, rc, "adding levels to the pending deltas", err);
}

/* A fold inserts its daily rows FOLD_ROWS_PER_INSERT at a time: one statement step and
 * reset per 16 rows instead of one per row (the rows of a stop fold were ~65 % of its
 * time, bench/RESULTS.md, session 6); a day's last rows go in one by one (daily_ins). */
#define FOLD_ROWS_PER_INSERT 16
#define DAILY_INSERT_COLS 8
#define DAILY_INSERT "INSERT OR FAIL INTO \"%s_DAILY\" (dimension, key, day, plays, seconds, listeners, title, artist) "

static enc_status prepare_insert_many(enc_pending *p, enc_err *err)
{
    char fmt[SQL_MAX];
    int n = snprintf(fmt, sizeof fmt, "%s", DAILY_INSERT "VALUES ");
    for (int i = 0; i < FOLD_ROWS_PER_INSERT && n > 0 && (size_t)n < sizeof fmt; i++)
        n += snprintf(fmt + n, sizeof fmt - (size_t)n, "%s(?,?,?,?,?,?,?,?)", i ? "," : "");
    if (n < 0 || (size_t)n >= sizeof fmt)
        return enc_err_set(err, "internal error: pending statement too long");
    return prepare(p->db, p->table, &p->daily_ins_many, true, err, fmt);
}

enc_status enc_pending_open(sqlite3 *db, const char *table, enc_pending **out, enc_err *err)
{
    *out = NULL;
    if (strlen(table) + sizeof "_PENDING_BY_DAY" > NAME_MAX_LEN)
        return enc_err_set(err, "internal error: table name too long for the pending deltas");
    char sql[SQL_MAX];
    snprintf(sql, sizeof sql,
             "CREATE TABLE IF NOT EXISTS \"%s_PENDING\" (dimension TEXT NOT NULL, day TEXT NOT NULL, "
             "deltas BLOB NOT NULL, level INTEGER NOT NULL DEFAULT 0);"
             "CREATE INDEX IF NOT EXISTS \"%s_PENDING_BY_DAY\" ON \"%s_PENDING\" (dimension, day)",
             table, table, table);
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return fail(db, rc, "creating the pending deltas table", err);
    if (add_level_column(db, table, err) != ENC_OK)
        return ENC_ERROR;
    enc_pending *p = enc_calloc(1, sizeof *p);
    if (!p)
        return enc_err_set(err, "out of memory");
    p->db = db;
    snprintf(p->table, sizeof p->table, "%s", table);
    if (prepare(db, table, &p->ins, true, err,
                "INSERT INTO \"%s_PENDING\" (dimension, day, level, deltas) VALUES (?,?,?,?)") ||
        prepare(db, table, &p->count, true, err,
                "SELECT level, count(*) FROM \"%s_PENDING\" WHERE dimension = ?1 AND day = ?2 GROUP BY level") ||
        prepare(db, table, &p->level_rows, true, err,
                "SELECT rowid, deltas FROM \"%s_PENDING\" WHERE dimension = ?1 AND day = ?2 AND level = ?3 "
                "ORDER BY rowid") ||
        prepare(db, table, &p->del_row, true, err,
                "DELETE FROM \"%s_PENDING\" WHERE rowid = ?1 AND dimension = ?2 AND day = ?3 AND level = ?4") ||
        prepare(db, table, &p->ins_at, true, err,
                "INSERT INTO \"%s_PENDING\" (rowid, dimension, day, level, deltas) VALUES (?,?,?,?,?)") ||
        prepare(db, table, &p->del, true, err, "DELETE FROM \"%s_PENDING\" WHERE dimension = ?1 AND day = ?2") ||
        prepare(db, table, &p->sizes, true, err,
                "SELECT count(*), total(length(deltas)) FROM \"%s_PENDING\" WHERE dimension = ?1 AND day = ?2 "
                "AND (?3 < 0 OR level = ?3)") ||
        prepare(db, table, &p->days_upto, true, err,
                "SELECT DISTINCT dimension, day FROM \"%s_PENDING\" WHERE day <= ?1 ORDER BY 1, 2") ||
        prepare(db, table, &p->day_packs, true, err,
                "SELECT day, deltas FROM \"%s_PENDING\" WHERE dimension = ?1 AND day = ?2 ORDER BY rowid") ||
        prepare(db, table, &p->daily_rows, true, err,
                "SELECT key, plays, seconds, listeners, title, artist FROM \"%s_DAILY\" WHERE dimension = ?1 "
                "AND day = ?2 ORDER BY key") ||
        prepare(db, table, &p->daily_del, true, err, "DELETE FROM \"%s_DAILY\" WHERE dimension = ?1 AND day = ?2") ||
        prepare(db, table, &p->daily_ins, true, err,
                DAILY_INSERT "VALUES (?,?,?,?,?,?,?,?)") ||
        prepare_insert_many(p, err)) {
        enc_pending_free(p);
        return ENC_ERROR;
    }
    *out = p;
    return ENC_OK;
}

static void cancel_jobs(enc_pending *p);

void enc_pending_free(enc_pending *p)
{
    if (!p)
        return;
    cancel_jobs(p);
    sqlite3_stmt *all[] = {p->ins,       p->count,     p->del,       p->days_upto,  p->day_packs, p->daily_rows,
                           p->daily_del, p->daily_ins, p->level_rows, p->del_row, p->ins_at, p->daily_ins_many, p->sizes};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        sqlite3_finalize(all[i]);
    enc_free(p);
}

/* The rows of a fold not yet inserted: their keys and names point into the fold's packs,
 * which outlive them; their sketches are copied (a merged key's sketch is the merger's
 * buffer, reused by the next key). */
typedef struct {
    enc_pending *p;
    const char *dim;
    enc_pack_entry rows[FOLD_ROWS_PER_INSERT];
    size_t sketch_at[FOLD_ROWS_PER_INSERT]; /* offsets in sketches */
    size_t n;
    enc_buf sketches;
} fold_ctx;

static void bind_nullable(sqlite3_stmt *st, int i, enc_slice s)
{
    if (s.p)
        sqlite3_bind_text(st, i, s.p, (int)s.n, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* Binds row e of day as the daily row at parameter base + 1 of st. */
static void bind_daily(sqlite3_stmt *st, int base, const char *dim, const char day[11], const enc_pack_entry *e,
                       const void *sketch)
{
    sqlite3_bind_text(st, base + 1, dim, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, base + 2, e->key.p, (int)e->key.n, SQLITE_STATIC);
    sqlite3_bind_text(st, base + 3, day, 10, SQLITE_STATIC);
    sqlite3_bind_int64(st, base + 4, e->plays);
    sqlite3_bind_int64(st, base + 5, e->seconds);
    sqlite3_bind_blob(st, base + 6, sketch, (int)e->sketch.n, SQLITE_STATIC);
    bind_nullable(st, base + 7, e->title);
    bind_nullable(st, base + 8, e->artist);
}

/* Inserts the rows held in f: FOLD_ROWS_PER_INSERT in one statement, fewer one by one. */
static enc_status flush_daily(fold_ctx *f, const char day[11], enc_err *err)
{
    enc_status s = ENC_OK;
    const char *sk = f->sketches.data ? f->sketches.data : ""; /* "": empty sketches only, bound as X'' */
    if (f->n == FOLD_ROWS_PER_INSERT) {
        sqlite3_stmt *st = f->p->daily_ins_many;
        for (size_t i = 0; i < f->n; i++)
            bind_daily(st, (int)i * DAILY_INSERT_COLS, f->dim, day, &f->rows[i], sk + f->sketch_at[i]);
        s = step_done(f->p->db, st, "folding pending deltas into the daily rows", err);
    } else {
        for (size_t i = 0; i < f->n && s == ENC_OK; i++) {
            bind_daily(f->p->daily_ins, 0, f->dim, day, &f->rows[i], sk + f->sketch_at[i]);
            s = step_done(f->p->db, f->p->daily_ins, "folding pending deltas into the daily rows", err);
        }
    }
    f->n = 0;
    enc_buf_reset(&f->sketches);
    return s;
}

static enc_status insert_daily(void *arg, const char day[11], const enc_pack_entry *e, enc_err *err)
{
    fold_ctx *f = arg;
    f->sketch_at[f->n] = f->sketches.len;
    if (e->sketch.n && enc_buf_append(&f->sketches, e->sketch.p, e->sketch.n) != ENC_OK)
        return enc_err_set(err, "out of memory folding pending deltas");
    f->rows[f->n++] = *e;
    return f->n == FOLD_ROWS_PER_INSERT ? flush_daily(f, day, err) : ENC_OK;
}

static enc_slice column_slice(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return (enc_slice){NULL, 0};
    const void *b = sqlite3_column_blob(st, i);
    return (enc_slice){b ? b : "", (size_t)sqlite3_column_bytes(st, i)};
}

/* The daily rows of (dim, day), in key order, as one pack at the front of d: the oldest
 * source of the fold's merge. None: d unchanged. */
static enc_status daily_as_pack(enc_pending *p, const char *dim, const char day[11], day_packs *d, enc_err *err)
{
    sqlite3_stmt *st = p->daily_rows;
    sqlite3_bind_text(st, 1, dim, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, day, 10, SQLITE_STATIC);
    enc_buf body;
    enc_buf_init(&body, DAY_PACKS_CAP);
    size_t n = 0;
    enc_status s = ENC_OK;
    int rc = SQLITE_DONE;
    while (s == ENC_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        enc_pack_entry e = {column_slice(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
                            column_slice(st, 3), column_slice(st, 4), column_slice(st, 5)};
        if (!e.key.p || e.plays < 0 || e.seconds < 0)
            s = enc_err_set(err, "folding pending deltas: a daily row of %s %s has no key or a negative count", dim,
                            day);
        else if (enc_pack_put(&body, &e) != ENC_OK)
            s = enc_err_set(err, "out of memory folding pending deltas");
        n++;
    }
    if (s == ENC_OK && rc != SQLITE_DONE)
        s = fail(p->db, rc, "reading daily rows to fold", err);
    sqlite3_reset(st);
    if (s == ENC_OK && n > 0) {
        enc_buf head;
        enc_buf_init(&head, 16);
        if (enc_pack_begin(&head, n) != ENC_OK || enc_buf_append(&d->bytes, head.data, head.len) != ENC_OK ||
            packs_push(d, body.data, body.len, err) != ENC_OK)
            s = enc_err_set(err, "out of memory folding pending deltas");
        enc_buf_free(&head);
    }
    enc_buf_free(&body);
    return s;
}

/* Makes room in d for the packs of (dim, day[, level when >= 0]). */
static enc_status reserve_packs(enc_pending *p, const char *dim, const char day[11], int level, day_packs *d,
                                enc_err *err)
{
    sqlite3_stmt *st = p->sizes;
    sqlite3_bind_text(st, 1, dim, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, day, 10, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, level);
    int rc = sqlite3_step(st);
    int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    double bytes = rc == SQLITE_ROW ? sqlite3_column_double(st, 1) : 0; /* total(): exact below 2^53 */
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return fail(p->db, rc, "sizing pending deltas", err);
    if (n <= 0 || bytes < 0 || bytes > DAY_PACKS_CAP)
        return ENC_OK; /* nothing to read, or more than a day may hold: packs_push says so */
    return packs_reserve(d, (size_t)n, (size_t)bytes, err);
}

/* Pushes the packs st selects for (dim, day[, level when >= 0]) onto d, oldest first. */
static enc_status read_packs(enc_pending *p, sqlite3_stmt *st, const char *dim, const char day[11], int level,
                             day_packs *d, enc_err *err)
{
    if (reserve_packs(p, dim, day, level, d, err) != ENC_OK)
        return ENC_ERROR;
    sqlite3_bind_text(st, 1, dim, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, day, 10, SQLITE_STATIC);
    if (level >= 0)
        sqlite3_bind_int(st, 3, level);
    enc_status s = ENC_OK;
    int rc = SQLITE_DONE;
    while (s == ENC_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        s = packs_push(d, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1), err);
    if (s == ENC_OK && rc != SQLITE_DONE)
        s = fail(p->db, rc, "reading pending deltas", err);
    sqlite3_reset(st);
    return s;
}

/* Folds (dim, day): its daily rows (the oldest source) and its packs, merged in C, replace
 * the day's daily rows, written in key order; the packs are deleted. */
static void cancel_job(enc_pending *p, const char *dim, const char day[11]);

static enc_status fold(enc_pending *p, const char *dim, const char day[11], enc_err *err)
{
    cancel_job(p, dim, day); /* the fold merges every pack of the day, those of the merge too */
    day_packs d = {0};
    enc_buf_init(&d.bytes, DAY_PACKS_CAP);
    enc_status s = daily_as_pack(p, dim, day, &d, err);
    if (s == ENC_OK)
        s = read_packs(p, p->day_packs, dim, day, -1, &d, err);
    sqlite3_stmt *dels[] = {p->daily_del, p->del};
    for (int i = 0; i < 2 && s == ENC_OK; i++) {
        sqlite3_bind_text(dels[i], 1, dim, -1, SQLITE_STATIC);
        sqlite3_bind_text(dels[i], 2, day, 10, SQLITE_STATIC);
        s = step_done(p->db, dels[i], "deleting folded rows", err);
    }
    fold_ctx f = {.p = p, .dim = dim};
    enc_buf_init(&f.sketches, FOLD_ROWS_PER_INSERT * ENC_HLL_BLOB_MAX);
    if (s == ENC_OK && d.n > 0)
        s = merge_packs(&d, day, insert_daily, &f, err);
    if (s == ENC_OK && f.n > 0)
        s = flush_daily(&f, day, err);
    enc_buf_free(&f.sketches);
    enc_buf_free(&d.bytes);
    enc_free(d.end);
    return s;
}

static enc_status insert_pack(enc_pending *p, const char *dim, const char day[11], int level, enc_slice pack,
                              enc_err *err)
{
    sqlite3_bind_text(p->ins, 1, dim, -1, SQLITE_STATIC);
    sqlite3_bind_text(p->ins, 2, day, 10, SQLITE_STATIC);
    sqlite3_bind_int(p->ins, 3, level);
    sqlite3_bind_blob64(p->ins, 4, pack.p, pack.n, SQLITE_STATIC);
    return step_done(p->db, p->ins, "appending pending deltas", err);
}

/* The number of packs of (dim, day) at each level. */
static enc_status count_levels(enc_pending *p, const char *dim, const char day[11], int64_t n[ENC_PENDING_LEVELS],
                               enc_err *err)
{
    memset(n, 0, ENC_PENDING_LEVELS * sizeof *n);
    sqlite3_bind_text(p->count, 1, dim, -1, SQLITE_STATIC);
    sqlite3_bind_text(p->count, 2, day, 10, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(p->count)) == SQLITE_ROW) {
        int64_t level = sqlite3_column_int64(p->count, 0);
        if (level >= 0 && level < ENC_PENDING_LEVELS)
            n[level] = sqlite3_column_int64(p->count, 1);
    }
    sqlite3_reset(p->count);
    return rc == SQLITE_DONE ? ENC_OK : fail(p->db, rc, "counting pending deltas", err);
}

/* A merged pack being built: its entries' bytes, counted. */
typedef struct {
    enc_buf body;
    size_t n;
} pack_out;

static enc_status put_merged(void *arg, const char day[11], const enc_pack_entry *e, enc_err *err)
{
    pack_out *o = arg;
    o->n++;
    return enc_pack_put(&o->body, e) == ENC_OK ? ENC_OK : enc_err_set(err, "out of memory compacting pending deltas");
}

/* ---- merges on a thread of their own -------------------------------------------------- *
 *
 * In watch mode each batch appends a pack per (dimension, day), so compactions come every 8
 * batches, and the big ones (a level-2 merge of the song dimension: ~6.8 MB of packs, ~30 ms
 * of merging) held that batch's commit, and the files waiting behind it, for tens of ms
 * (bench/RESULTS.md, session 6). So the writer copies the level's packs out, a thread
 * merges them, and a later append, once the merge is done, replaces the packs by the
 * merged one in its own transaction: the merged pack takes the
 * rowid of the newest pack it replaces, so the day's packs stay in age order and their
 * levels non-increasing, exactly as a compaction in place leaves them. Until then the packs
 * stay as they are (readers and a kill -9 see them unmerged, which is a valid state), and
 * no other merge starts: one at a time, so the copies of packs stay one merge's worth of
 * memory (the five dimensions' level-0 merges fall due in the same batch: they start one
 * after the other, and their copies out of SQLite are spread over batches too). A
 * rollback cancels every merge (one started
 * in the rolled-back transaction read a pack that is gone); a fold of the day cancels its
 * merge. The job is the writer's; the thread only reads `in` and fills `out`, rc, err. */
#define MERGE_NICE 10

struct merge_job {
    char dim[16];
    char day[11];
    int level;
    int64_t *rowids; /* the packs merged, oldest first */
    day_packs in;
    enc_buf out;     /* the merged pack (rc ENC_OK) from out_at: its entries written after */
    size_t out_at;   /* PACK_HEADER_MAX bytes, its header then put in front of them */
    size_t nout;     /* its entries */
    enc_status rc;
    enc_err err;
    bool threaded;
    atomic_bool done;
    pthread_t thread;
    merge_job *next;
};

static void job_free(merge_job *j)
{
    enc_buf_free(&j->in.bytes);
    enc_free(j->in.end);
    enc_buf_free(&j->out);
    enc_free(j->rowids);
    enc_free(j);
}

/* A pack's header: its version byte and its entry count as a varint (pack.h). */
#define PACK_HEADER_MAX 11

/* Writes the merged entries into j->out after room for the header, then the header just
 * before them: the pack is built in place, in one block as large as the packs merged
 * (merging only shrinks them, but for sketches turning dense). */
static enc_status merge_into_out(merge_job *j)
{
    static const char room[PACK_HEADER_MAX];
    if (enc_buf_reserve(&j->out, PACK_HEADER_MAX + j->in.bytes.len) != ENC_OK ||
        enc_buf_append(&j->out, room, sizeof room) != ENC_OK)
        return enc_err_set(&j->err, "out of memory compacting pending deltas");
    pack_out o = {.body = j->out, .n = 0};
    enc_status s = merge_packs(&j->in, j->day, put_merged, &o, &j->err);
    j->out = o.body;
    j->nout = o.n;
    if (s != ENC_OK || o.n == 0)
        return s;
    enc_buf head;
    enc_buf_init(&head, PACK_HEADER_MAX);
    if (enc_pack_begin(&head, o.n) != ENC_OK) {
        enc_buf_free(&head);
        return enc_err_set(&j->err, "internal error: a pack header over %d bytes", PACK_HEADER_MAX);
    }
    j->out_at = PACK_HEADER_MAX - head.len;
    memcpy(j->out.data + j->out_at, head.data, head.len);
    enc_buf_free(&head);
    return ENC_OK;
}

static void merge_job_run(merge_job *j)
{
    int64_t t = enc_trace_start();
    j->rc = merge_into_out(j);
    enc_trace_end("m.merge", t, j->level, (int64_t)j->dim[0]);
    atomic_store_explicit(&j->done, true, memory_order_release);
}

static void *job_main(void *arg)
{
    /* Behind the reader and the writer, whose waits are the latency, when they want the
     * cores (2 here): the merge has until the next appends of its day to finish. */
    prctl(PR_SET_NAME, "encore-merge");
    setpriority(PRIO_PROCESS, (id_t)gettid(), MERGE_NICE);
    merge_job_run(arg);
    return NULL;
}

/* Unlinks j from the list, waits for its thread and frees it. */
static void job_drop(enc_pending *p, merge_job *j)
{
    for (merge_job **at = &p->jobs; *at; at = &(*at)->next)
        if (*at == j) {
            *at = j->next;
            break;
        }
    if (j->threaded)
        pthread_join(j->thread, NULL);
    job_free(j);
}

static merge_job *find_job(enc_pending *p, const char *dim, const char day[11])
{
    for (merge_job *j = p->jobs; j; j = j->next)
        if (strcmp(j->dim, dim) == 0 && memcmp(j->day, day, 10) == 0)
            return j;
    return NULL;
}

static void cancel_job(enc_pending *p, const char *dim, const char day[11])
{
    merge_job *j = find_job(p, dim, day);
    if (j)
        job_drop(p, j);
}

static void cancel_jobs(enc_pending *p)
{
    while (p->jobs)
        job_drop(p, p->jobs);
}

void enc_pending_rollback(enc_pending *p)
{
    if (p)
        cancel_jobs(p);
}

/* Copies the packs of (dim, day, level) with their rowids into a new job (*out) and
 * starts its thread; without a thread, the merge is done here (*out is then done). */
static enc_status start_job(enc_pending *p, const char *dim, const char day[11], int level, merge_job **out,
                            enc_err *err)
{
    *out = NULL;
    merge_job *j = strlen(dim) < sizeof ((merge_job *)0)->dim ? enc_calloc(1, sizeof *j) : NULL;
    if (!j)
        return enc_err_set(err, "out of memory compacting pending deltas");
    snprintf(j->dim, sizeof j->dim, "%s", dim);
    memcpy(j->day, day, 11);
    j->level = level;
    enc_buf_init(&j->in.bytes, DAY_PACKS_CAP);
    enc_buf_init(&j->out, DAY_PACKS_CAP);
    if (reserve_packs(p, dim, day, level, &j->in, err) != ENC_OK) {
        job_free(j);
        return ENC_ERROR;
    }
    sqlite3_stmt *st = p->level_rows;
    sqlite3_bind_text(st, 1, dim, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, day, 10, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, level);
    enc_status s = ENC_OK;
    int rc = SQLITE_DONE;
    size_t cap = 0;
    while (s == ENC_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (j->in.n == cap) {
            cap = cap ? cap * 2 : 16;
            int64_t *nr = enc_realloc(j->rowids, cap * sizeof *nr);
            if (!nr) {
                s = enc_err_set(err, "out of memory compacting pending deltas");
                break;
            }
            j->rowids = nr;
        }
        j->rowids[j->in.n] = sqlite3_column_int64(st, 0);
        s = packs_push(&j->in, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1), err);
    }
    if (s == ENC_OK && rc != SQLITE_DONE)
        s = fail(p->db, rc, "reading pending deltas", err);
    sqlite3_reset(st);
    if (s != ENC_OK || j->in.n == 0) {
        job_free(j);
        return s;
    }
    j->threaded = pthread_create(&j->thread, NULL, job_main, j) == 0;
    if (!j->threaded)
        merge_job_run(j);
    j->next = p->jobs;
    p->jobs = j;
    *out = j;
    return ENC_OK;
}

/* Replaces the job's packs by its merged pack, at the newest one's rowid (see above). */
static enc_status apply_job(enc_pending *p, const merge_job *j, enc_err *err)
{
    sqlite3_stmt *st = p->del_row;
    for (size_t i = 0; i < j->in.n; i++) {
        sqlite3_bind_int64(st, 1, j->rowids[i]);
        sqlite3_bind_text(st, 2, j->dim, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, j->day, 10, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, j->level);
        enc_status s = step_done(p->db, st, "deleting compacted pending deltas", err);
        if (s != ENC_OK)
            return s;
        if (sqlite3_changes(p->db) != 1)
            return enc_err_set(err, "internal error: a pending pack being merged (%s %s) is gone", j->dim, j->day);
    }
    if (j->nout == 0)
        return ENC_OK;
    st = p->ins_at;
    sqlite3_bind_int64(st, 1, j->rowids[j->in.n - 1]);
    sqlite3_bind_text(st, 2, j->dim, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, j->day, 10, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, j->level + 1);
    sqlite3_bind_blob64(st, 5, j->out.data + j->out_at, j->out.len - j->out_at, SQLITE_STATIC);
    return step_done(p->db, st, "appending pending deltas", err);
}

/* Waits for the job's thread; replaces its packs by the merged one (a failed merge is
 * dropped: the packs stay and are merged again). */
static enc_status settle_job(enc_pending *p, merge_job *j, enc_err *err)
{
    if (j->threaded) {
        pthread_join(j->thread, NULL);
        j->threaded = false;
    }
    int64_t t = enc_trace_start();
    enc_status s = j->rc == ENC_OK ? apply_job(p, j, err) : ENC_OK;
    enc_trace_end("w.mapply", t, j->level, (int64_t)j->dim[0]);
    job_drop(p, j);
    return s;
}

/* While a merge runs, a day waiting for it (its own or another day's) may gather up to
 * this many level-0 packs: then the writer waits for it (a merge starved of CPU must not
 * let a day's packs grow without bound). */
#define MERGE_WAIT_PACKS (8 * ENC_PENDING_FOLD_AT)

enc_status enc_pending_append(enc_pending *p, const char *dim, int64_t day, enc_slice pack, enc_err *err)
{
    char d[11];
    enc_ts_format_day(day, d);
    enc_status s = ENC_OK;
    merge_job *j = p->jobs; /* one merge at a time, of any (dimension, day) (see below) */
    if (j && atomic_load_explicit(&j->done, memory_order_acquire)) {
        s = settle_job(p, j, err);
        j = NULL;
    }
    if (j && (strcmp(j->dim, dim) != 0 || memcmp(j->day, d, 10) != 0))
        j = NULL; /* another day's: it only defers this one's merges */
    if (s == ENC_OK)
        s = insert_pack(p, dim, d, 0, pack, err);
    int64_t n[ENC_PENDING_LEVELS];
    if (s == ENC_OK)
        s = count_levels(p, dim, d, n, err);
    if (s != ENC_OK || (j && n[0] < MERGE_WAIT_PACKS)) /* the day's levels wait for its merge */
        return s;
    if (j) { /* MERGE_WAIT_PACKS reached */
        if ((s = settle_job(p, j, err)) != ENC_OK || (s = count_levels(p, dim, d, n, err)) != ENC_OK)
            return s;
        j = NULL;
    }
    /* Level 0's packs are batch-sized: this one says how big (pending.h). */
    int64_t full0 = pack.n >= ENC_PENDING_BIG_PACK ? ENC_PENDING_FOLD_AT_BIG : ENC_PENDING_FOLD_AT;
    for (int level = 0; s == ENC_OK && level < ENC_PENDING_LEVELS; level++) {
        if (n[level] < (level == 0 ? full0 : ENC_PENDING_FOLD_AT))
            continue;
        if (level + 1 == ENC_PENDING_LEVELS)
            return fold(p, dim, d, err);
        if (p->jobs && n[0] < MERGE_WAIT_PACKS)
            break; /* another day's merge runs: this one starts at a later append */
        if (p->jobs && (s = settle_job(p, p->jobs, err)) != ENC_OK)
            break;
        int64_t t = enc_trace_start();
        s = start_job(p, dim, d, level, &j, err);
        enc_trace_end("w.mstart", t, level, (int64_t)dim[0]);
        if (s != ENC_OK || !j || !atomic_load_explicit(&j->done, memory_order_acquire))
            break; /* on its thread: the other levels are looked at once it is applied */
        s = settle_job(p, j, err); /* merged here (no thread): applied now, then the next level */
        n[level + 1]++;
    }
    return s;
}

typedef struct {
    char dim[16];
    char day[11];
} dim_day;

enc_status enc_pending_fold_through(enc_pending *p, int64_t through, enc_err *err)
{
    char hi[11];
    enc_ts_format_day(through, hi);
    sqlite3_bind_text(p->days_upto, 1, hi, 10, SQLITE_STATIC);
    dim_day *list = NULL;
    size_t n = 0, cap = 0;
    enc_status s = ENC_OK;
    int rc = SQLITE_DONE;
    while (s == ENC_OK && (rc = sqlite3_step(p->days_upto)) == SQLITE_ROW) {
        const unsigned char *dim = sqlite3_column_text(p->days_upto, 0);
        const unsigned char *day = sqlite3_column_text(p->days_upto, 1);
        if (!dim || !day || sqlite3_column_bytes(p->days_upto, 0) >= 16 || sqlite3_column_bytes(p->days_upto, 1) != 10) {
            s = enc_err_set(err, "pending deltas: a row's dimension or day is malformed");
            break;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            dim_day *nl = enc_realloc(list, ncap * sizeof *nl);
            if (!nl) {
                s = enc_err_set(err, "out of memory folding pending deltas");
                break;
            }
            list = nl;
            cap = ncap;
        }
        snprintf(list[n].dim, sizeof list[n].dim, "%s", (const char *)dim);
        memcpy(list[n].day, day, 11);
        n++;
    }
    if (s == ENC_OK && rc != SQLITE_DONE)
        s = fail(p->db, rc, "listing pending deltas", err);
    sqlite3_reset(p->days_upto);
    for (size_t i = 0; i < n && s == ENC_OK; i++)
        s = fold(p, list[i].dim, list[i].day, err);
    enc_free(list);
    return s;
}

/* sink_sqlite — the embedded default warehouse: MUSIC_EVENTS in one SQLite file.
 *
 * Owns the connection, the DDL (events, quarantine, checkpoint and batch log tables;
 * the events table's user index comes from user_index.c, in the table's layout: a new
 * table has event_id INTEGER PRIMARY KEY, the rowid, never bound on insert) and the
 * prepared statements. One batch is one `BEGIN IMMEDIATE … COMMIT`: rows,
 * quarantine, positions and the batch log entry commit together or not at all, which
 * is the whole exactly-once argument. WAL journal with synchronous=FULL by default (a
 * committed batch survives power loss; readers such as `encore top` run during
 * writes). Used by the pipeline's writer thread only; never prints.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <sqlite3.h>

#include "alloc.h"
#include "clock.h"
#include "buf.h"
#include "pending.h"
#include "rollup.h"
#include "sink.h"
#include "sql_hll.h"
#include "sqlite_ckpt.h"
#include "timestamp.h"
#include "trace.h"
#include "user_index.h"

typedef struct {
    sqlite3 *db;
    enc_sink_config cfg;
    char table[64];
    sqlite3_stmt *ins_row;
    sqlite3_stmt *ins_rows; /* ROWS_PER_INSERT rows in one statement */
    sqlite3_stmt *ins_quar;
    sqlite3_stmt *put_pos;
    sqlite3_stmt *ins_batch;
    sqlite3_stmt *put_agg;
    sqlite3_stmt *ins_dedup;
    sqlite3_stmt *del_dedup;
    sqlite3_stmt *ins_quality;
    enc_pending *pending; /* packs of deltas of days after the rollup horizon */
    enc_rollup *rollup; /* monthly and yearly totals beside the daily rows */
    enc_ckpt *ckpt;     /* WAL checkpoints on their own thread; NULL for a database without a file */
    enc_position *positions; /* from load_positions, owned here */
    size_t npositions;
    bool in_tx;
    int lock_fd; /* flock held while open: one writer per pipeline and database */
} sqlite_ctx;

/* Maps an SQLite failure to RETRY (locked by another process) or ERROR. */
static enc_status db_fail(sqlite_ctx *c, int rc, const char *what, enc_err *err)
{
    int sys_errno = errno; /* the failed write's, before anything below can change it */
    const char *msg = c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc);
    enc_err_set(err, "sqlite: %s: %s", what, msg);
    int prim = rc & 0xff;
    if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED)
        return ENC_RETRY;
    if (prim == SQLITE_FULL)
        enc_err_set(err, "sqlite: %s: disk full (%s); free space and run again: committed batches are intact",
                    what, msg);
    else if (prim == SQLITE_IOERR && sys_errno == EFBIG) /* SQLite says only "disk I/O error" */
        enc_err_set(err, "sqlite: %s: file size limit reached (%s); raise the limit (ulimit -f) or free space and "
                    "run again: committed batches are intact", what, strerror(EFBIG));
    return ENC_ERROR;
}

static enc_status exec(sqlite_ctx *c, const char *sql, enc_err *err)
{
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? ENC_OK : db_fail(c, rc, sql, err);
}

static enc_status prepare(sqlite_ctx *c, sqlite3_stmt **st, enc_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static enc_status prepare(sqlite_ctx *c, sqlite3_stmt **st, enc_err *err, const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
    return rc == SQLITE_OK ? ENC_OK : db_fail(c, rc, "prepare", err);
}

/* _ENCORE_CHECKPOINT.committed_at_us came after the first release: a checkpoint made
 * before it gets the column (NULL for its old rows). */
static enc_status add_committed_at(sqlite_ctx *c, enc_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c->db, "SELECT committed_at_us FROM \"_ENCORE_CHECKPOINT\" LIMIT 0", -1, &st, NULL);
    sqlite3_finalize(st);
    if (rc == SQLITE_OK)
        return ENC_OK;
    return exec(c, "ALTER TABLE \"_ENCORE_CHECKPOINT\" ADD COLUMN committed_at_us INTEGER", err);
}

/* TABLE_DAILY's columns and key: day before key, so a time-ordered stream appends and a
 * day's rows are one range (rollup.c rolls them up, charts read them). */
#define DAILY_COLUMNS                                                                                                  \
    "(dimension TEXT NOT NULL, key TEXT NOT NULL, day TEXT NOT NULL, plays INTEGER NOT NULL, "                          \
    "seconds INTEGER NOT NULL, listeners BLOB NOT NULL, title TEXT, artist TEXT, "                                      \
    "PRIMARY KEY (dimension, day, key)) WITHOUT ROWID"

/* Daily rows written before the (dimension, day, key) order are copied into it once, in
 * one transaction; the monthly and yearly totals are then rebuilt by enc_rollup_open. */
static enc_status upgrade_daily(sqlite_ctx *c, enc_err *err)
{
    char sql[2048];
    const char *t = c->table;
    snprintf(sql, sizeof sql, "SELECT 1 FROM sqlite_schema WHERE name = '%s_DAILY' AND sql LIKE "
             "'%%PRIMARY KEY (dimension, key, day)%%'", t);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    bool old = rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return db_fail(c, rc, "reading the schema", err);
    if (!old)
        return ENC_OK;
    snprintf(sql, sizeof sql,
             "BEGIN IMMEDIATE; ALTER TABLE \"%s_DAILY\" RENAME TO \"%s_DAILY_OLD\";"
             "CREATE TABLE \"%s_DAILY\" " DAILY_COLUMNS ";"
             "INSERT INTO \"%s_DAILY\" (dimension, key, day, plays, seconds, listeners, title, artist) "
             "SELECT dimension, key, day, plays, seconds, listeners, title, artist FROM \"%s_DAILY_OLD\";"
             "DROP TABLE \"%s_DAILY_OLD\"; DROP TABLE IF EXISTS \"%s_MONTHLY\"; DROP TABLE IF EXISTS \"%s_YEARLY\";"
             "COMMIT;",
             t, t, t, t, t, t, t, t);
    if (exec(c, sql, err) == ENC_OK)
        return ENC_OK;
    sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    return ENC_ERROR;
}

static enc_status create_schema(sqlite_ctx *c, enc_err *err)
{
    if (upgrade_daily(c, err) != ENC_OK)
        return ENC_ERROR;
    char sql[2048];
    const char *t = c->table;
    snprintf(sql, sizeof sql,
             "CREATE TABLE IF NOT EXISTS \"%s\" (song_id TEXT, user_id TEXT, device TEXT, timestamp TEXT, "
             "_rescued_data TEXT, country TEXT, subscription TEXT, title TEXT, artist TEXT, genre TEXT, "
             "duration INTEGER, event_time TEXT, event_id INTEGER PRIMARY KEY);"
             "CREATE TABLE IF NOT EXISTS \"%s_QUARANTINE\" (source_file TEXT, line INTEGER, reason TEXT, "
             "raw TEXT, ingested_at TEXT);"
             "CREATE TABLE IF NOT EXISTS \"_ENCORE_CHECKPOINT\" (pipeline TEXT NOT NULL, source_key TEXT NOT NULL, "
             "identity INTEGER, offset INTEGER, line INTEGER, state INTEGER, updated_at TEXT, "
             "committed_at_us INTEGER, PRIMARY KEY (pipeline, source_key));"
             "CREATE TABLE IF NOT EXISTS \"_ENCORE_BATCHES\" (batch_id INTEGER PRIMARY KEY, pipeline TEXT, "
             "committed_at TEXT, events INTEGER, rows INTEGER, quarantined INTEGER, rescued INTEGER, "
             "bytes INTEGER, duplicates INTEGER);"
             "CREATE TABLE IF NOT EXISTS \"%s_DAILY\" " DAILY_COLUMNS ";"
             "CREATE TABLE IF NOT EXISTS \"_ENCORE_DEDUP\" (pipeline TEXT NOT NULL, max_time INTEGER NOT NULL, "
             "keys BLOB NOT NULL);"
             /* Every commit expires old keys: without this index that DELETE read the whole
              * table, one row per batch of the last watermark, ~6 µs a row (10k rows: 58 ms). */
             "CREATE INDEX IF NOT EXISTS \"_ENCORE_DEDUP_BY_TIME\" ON \"_ENCORE_DEDUP\" (pipeline, max_time);"
             "CREATE TABLE IF NOT EXISTS \"QUALITY_RESULTS\" (batch_id INTEGER NOT NULL, pipeline TEXT NOT NULL, "
             "rule TEXT NOT NULL, column_name TEXT, action TEXT NOT NULL, evaluated INTEGER NOT NULL, "
             "failed INTEGER NOT NULL, samples TEXT, checked_at TEXT NOT NULL);",
             t, t, t);
    if (exec(c, sql, err) != ENC_OK)
        return ENC_ERROR;
    int rc = enc_user_index_create(c->db, t, ENC_USER_INDEX_GEN_BITS);
    if (rc != SQLITE_OK)
        return db_fail(c, rc, "create the user index", err);
    return add_committed_at(c, err);
}

#define ROWS_PER_INSERT 16

/* INSERT of ROWS_PER_INSERT rows at once: one step and one reset per 16 rows, which cut
 * the writer thread's CPU time by about 10-15 % on 1M events (bench/RESULTS.md,
 * session 3). The rows go in in order, as with one row per statement. */
static enc_status prepare_multi_insert(sqlite_ctx *c, enc_err *err)
{
    char sql[4096];
    int n = snprintf(sql, sizeof sql,
                     "INSERT INTO \"%s\" (song_id, user_id, device, timestamp, _rescued_data, country, "
                     "subscription, title, artist, genre, duration, event_time) VALUES ",
                     c->table);
    for (int i = 0; i < ROWS_PER_INSERT; i++)
        n += snprintf(sql + n, sizeof sql - (size_t)n, "%s(?,?,?,?,?,?,?,?,?,?,?,?)", i ? "," : "");
    int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->ins_rows, NULL);
    return rc == SQLITE_OK ? ENC_OK : db_fail(c, rc, "prepare", err);
}

static enc_status prepare_all(sqlite_ctx *c, enc_err *err)
{
    const char *t = c->table;
    if (prepare_multi_insert(c, err) != ENC_OK)
        return ENC_ERROR;
    if (prepare(c, &c->ins_row, err,
                "INSERT INTO \"%s\" (song_id, user_id, device, timestamp, _rescued_data, country, subscription, "
                "title, artist, genre, duration, event_time) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                t) != ENC_OK)
        return ENC_ERROR;
    if (prepare(c, &c->ins_quar, err,
                "INSERT INTO \"%s_QUARANTINE\" (source_file, line, reason, raw, ingested_at) VALUES (?,?,?,?,?)",
                t) != ENC_OK)
        return ENC_ERROR;
    if (prepare(c, &c->put_pos, err,
                "INSERT INTO \"_ENCORE_CHECKPOINT\" (pipeline, source_key, identity, offset, line, state, "
                "updated_at, committed_at_us) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (pipeline, source_key) DO UPDATE "
                "SET identity = excluded.identity, offset = excluded.offset, line = excluded.line, "
                "state = excluded.state, updated_at = excluded.updated_at, "
                "committed_at_us = excluded.committed_at_us") != ENC_OK)
        return ENC_ERROR;
    if (prepare(c, &c->put_agg, err,
                "INSERT INTO \"%s_DAILY\" (dimension, key, day, plays, seconds, listeners, title, artist) "
                "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (dimension, day, key) DO UPDATE SET "
                "plays = plays + excluded.plays, seconds = seconds + excluded.seconds, "
                "listeners = encore_hll_merge(listeners, excluded.listeners), "
                "title = coalesce(excluded.title, title), artist = coalesce(excluded.artist, artist)",
                t) != ENC_OK)
        return ENC_ERROR;
    if (prepare(c, &c->ins_dedup, err,
                "INSERT INTO \"_ENCORE_DEDUP\" (pipeline, max_time, keys) VALUES (?,?,?)") != ENC_OK)
        return ENC_ERROR;
    if (prepare(c, &c->ins_quality, err,
                "INSERT INTO \"QUALITY_RESULTS\" (batch_id, pipeline, rule, column_name, action, evaluated, failed, "
                "samples, checked_at) VALUES ((SELECT coalesce(max(batch_id), 0) + 1 FROM \"_ENCORE_BATCHES\"), "
                "?,?,?,?,?,?,?,?)") != ENC_OK)
        return ENC_ERROR;
    if (prepare(c, &c->del_dedup, err, "DELETE FROM \"_ENCORE_DEDUP\" WHERE pipeline = ? AND max_time < ?") != ENC_OK)
        return ENC_ERROR;
    return prepare(c, &c->ins_batch, err,
                   "INSERT INTO \"_ENCORE_BATCHES\" (pipeline, committed_at, events, rows, quarantined, rescued, "
                   "bytes, duplicates) VALUES (?,?,?,?,?,?,?,?)");
}

/* Two processes writing one pipeline would each resume from the same checkpoint and
 * write the same rows: an exclusive lock on DB.TABLE.lock makes the second one refuse.
 * The kernel drops the lock when the process dies, kill -9 included. */
static enc_status take_lock(sqlite_ctx *c, const char *target, enc_err *err)
{
    char path[4200];
    if ((size_t)snprintf(path, sizeof path, "%s.%s.lock", target, c->table) >= sizeof path)
        return enc_err_set(err, "database path too long: '%s'", target);
    c->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (c->lock_fd < 0)
        return enc_err_set(err, "cannot create lock file '%s': %s", path, strerror(errno));
    if (flock(c->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return enc_err_set(err, "another encore run is writing table %s in '%s' (lock '%s' is held); stop it first",
                           c->table, target, path);
    return ENC_OK;
}

/* Before SQLite's first use in the process: no allocation statistics, which would take
 * a global mutex on every allocation. Too late (SQLITE_MISUSE) changes nothing. */
static void configure_sqlite(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

#define PAGE_CACHE_KIB 8192 /* see sq_open */

/* WAL checkpoints off the commit path (sqlite_ckpt.h): due at 1,000 pages (64 MiB, SQLite's
 * own threshold), done by the writer itself only past 8,000 (512 MiB). */
#define CKPT_PAGES 1000
#define CKPT_HARD_PAGES 8000

static enc_status start_checkpointer(sqlite_ctx *c, enc_err *err)
{
    const char *path = sqlite3_db_filename(c->db, "main");
    if (!path || !*path)
        return ENC_OK; /* in memory: no WAL */
    return enc_ckpt_start(&c->ckpt, c->db, path, c->cfg.durable ? "FULL" : "NORMAL", CKPT_PAGES, CKPT_HARD_PAGES,
                          err);
}

static enc_status sq_open(void *ctx, const char *target, const enc_sink_config *cfg, enc_err *err)
{
    static pthread_once_t configured = PTHREAD_ONCE_INIT;
    pthread_once(&configured, configure_sqlite);
    sqlite_ctx *c = ctx;
    c->cfg = *cfg;
    c->lock_fd = -1;
    if (!enc_sql_identifier_ok(cfg->table))
        return enc_err_set(err, "table name '%s' is not a plain identifier (letters, digits, _; at most 63)",
                           cfg->table);
    snprintf(c->table, sizeof c->table, "%s", cfg->table);
    if (!target || !*target)
        return enc_err_set(err, "--sink sqlite:PATH needs a database path, e.g. sqlite:music.db");
    if (take_lock(c, target, err) != ENC_OK)
        return ENC_ERROR;
    int rc = sqlite3_open_v2(target, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        enc_err_set(err, "cannot open SQLite database '%s': %s", target,
                    c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        return ENC_ERROR;
    }
    sqlite3_busy_timeout(c->db, 5000);
    /* 64 KiB pages (taken when the file is created): bulk appends and the user index
     * cost about 30 % less CPU per event than with 4 KiB pages (task-clock, 1M events).
     * WAL lets charts read while the pipeline writes; synchronous=FULL makes every
     * committed batch durable. Debian builds SQLite with secure_delete on, which zeroes
     * every freed cell of the upserted aggregate rows: off, as nothing secret is deleted.
     * An 8 MiB page cache (128 pages): a batch's dirty pages beyond it spill into the WAL
     * before COMMIT, which writes them there anyway; the pages it keeps stay in the CPU's
     * caches and are not first-touched again. 64 MiB cost the writer ~35 % more CPU on
     * 1M events (bench/RESULTS.md, session 5). */
    char pragmas[256];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA page_size=65536; PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA cache_size=-%d; "
             "PRAGMA temp_store=MEMORY; PRAGMA secure_delete=OFF;",
             cfg->durable ? "FULL" : "NORMAL", PAGE_CACHE_KIB);
    if (exec(c, pragmas, err) != ENC_OK)
        return ENC_ERROR;
    if (enc_sql_hll_register(c->db) != SQLITE_OK)
        return db_fail(c, SQLITE_ERROR, "register functions", err);
    if (create_schema(c, err) != ENC_OK || enc_pending_open(c->db, c->table, &c->pending, err) != ENC_OK ||
        enc_rollup_open(c->db, c->table, c->pending, &c->rollup, err) != ENC_OK)
        return ENC_ERROR;
    if (prepare_all(c, err) != ENC_OK)
        return ENC_ERROR;
    return start_checkpointer(c, err);
}

static enc_status sq_load_positions(void *ctx, enc_position **out, size_t *n, enc_err *err)
{
    sqlite_ctx *c = ctx;
    sqlite3_stmt *st = NULL;
    enc_status status = ENC_OK;
    *out = NULL;
    *n = 0;
    if (prepare(c, &st, err,
                "SELECT source_key, identity, offset, line, state FROM \"_ENCORE_CHECKPOINT\" WHERE pipeline = ?") !=
        ENC_OK)
        return ENC_ERROR;
    sqlite3_bind_text(st, 1, c->cfg.pipeline, -1, SQLITE_STATIC);
    int rc;
    size_t cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (c->npositions == cap) {
            cap = cap ? cap * 2 : 64;
            enc_position *np = enc_realloc(c->positions, cap * sizeof *np);
            if (!np) {
                status = enc_err_set(err, "out of memory loading checkpoint");
                goto out;
            }
            c->positions = np;
        }
        enc_position *p = &c->positions[c->npositions];
        p->key = enc_strdup((const char *)sqlite3_column_text(st, 0));
        if (!p->key) {
            status = enc_err_set(err, "out of memory loading checkpoint");
            goto out;
        }
        p->identity = sqlite3_column_int64(st, 1);
        p->offset = sqlite3_column_int64(st, 2);
        p->line = sqlite3_column_int64(st, 3);
        p->state = sqlite3_column_int64(st, 4);
        c->npositions++;
    }
    if (rc != SQLITE_DONE)
        status = db_fail(c, rc, "read checkpoint", err);
out:
    sqlite3_finalize(st);
    *out = c->positions;
    *n = c->npositions;
    return status;
}

static enc_status sq_begin(void *ctx, enc_err *err)
{
    sqlite_ctx *c = ctx;
    enc_status s = exec(c, "BEGIN IMMEDIATE", err);
    c->in_tx = s == ENC_OK;
    return s;
}

static void bind_slice(sqlite3_stmt *st, int i, enc_slice s)
{
    if (s.p)
        sqlite3_bind_text(st, i, s.p, (int)s.n, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static enc_status step_reset(sqlite_ctx *c, sqlite3_stmt *st, const char *what, enc_err *err)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? ENC_OK : db_fail(c, rc, what, err);
}

/* Binds row r to parameters base+1 .. base+12 of st. */
static void bind_row(sqlite3_stmt *st, int base, const enc_row *r)
{
    for (int k = 0; k < ENC_COL_NTEXT; k++)
        bind_slice(st, base + k + 1, r->text[k]);
    if (r->duration >= 0)
        sqlite3_bind_int(st, base + 11, r->duration);
    else
        sqlite3_bind_null(st, base + 11);
    bind_slice(st, base + 12, r->event_time);
}

/* Asks for the cache lines of rows[from .. to)'s values. */
static void prefetch_rows(const enc_row *rows, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        for (int k = 0; k < ENC_COL_NTEXT; k++)
            if (rows[i].text[k].p)
                __builtin_prefetch(rows[i].text[k].p);
        __builtin_prefetch(rows[i].event_time.p);
    }
}

/* Only binding and stepping: every value is ready in the batch (the reader thread made
 * them), bound SQLITE_STATIC since the batch outlives the statement's use of it. */
static enc_status sq_write_rows(void *ctx, const enc_row *rows, size_t n, enc_err *err)
{
    sqlite_ctx *c = ctx;
    size_t i = 0;
    prefetch_rows(rows, 0, n < ROWS_PER_INSERT ? n : ROWS_PER_INSERT);
    for (; i + ROWS_PER_INSERT <= n; i += ROWS_PER_INSERT) {
        size_t ahead = i + 2 * ROWS_PER_INSERT;
        prefetch_rows(rows, i + ROWS_PER_INSERT, ahead < n ? ahead : n);
        for (int k = 0; k < ROWS_PER_INSERT; k++)
            bind_row(c->ins_rows, k * 12, &rows[i + (size_t)k]);
        enc_status s = step_reset(c, c->ins_rows, "insert row", err);
        if (s != ENC_OK)
            return s;
    }
    for (; i < n; i++) {
        bind_row(c->ins_row, 0, &rows[i]);
        enc_status s = step_reset(c, c->ins_row, "insert row", err);
        if (s != ENC_OK)
            return s;
    }
    return ENC_OK;
}

static void now_text(char out[ENC_TS_FORMAT_MAX])
{
    enc_ts_format(enc_wall_us() / 1000000 * 1000000, out);
}

/* Deltas of days up to the rollup horizon (late data) are upserted one by one into the
 * daily rows and the totals; those after it are appended as one pack per (dimension,
 * day), folded into the daily rows once when the horizon passes the day (pending.h). */
static enc_status sq_write_aggregates(void *ctx, const enc_agg *a, enc_err *err)
{
    sqlite_ctx *c = ctx;
    sqlite3_stmt *st = c->put_agg;
    int64_t horizon;
    enc_status s = enc_rollup_through(c->rollup, &horizon, err);
    if (s != ENC_OK)
        return s;
    for (size_t i = 0, np = enc_agg_pack_count(a); i < np; i++) {
        const enc_agg_pack *pk = enc_agg_pack_at(a, i);
        if (pk->day > horizon &&
            (s = enc_pending_append(c->pending, enc_agg_dim_name(pk->dim), pk->day, pk->blob, err)) != ENC_OK)
            return s;
    }
    size_t n = enc_agg_count(a);
    for (size_t i = 0; i < n; i++) {
        const enc_agg_entry *e = enc_agg_at(a, i);
        if (e->day > horizon)
            continue;
        char day[ENC_TS_FORMAT_MAX];
        enc_ts_format(e->day * ENC_US_PER_DAY, day);
        sqlite3_bind_text(st, 1, enc_agg_dim_name(e->dim), -1, SQLITE_STATIC);
        bind_slice(st, 2, e->key);
        sqlite3_bind_text(st, 3, day, 10, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, e->plays);
        sqlite3_bind_int64(st, 5, e->seconds);
        sqlite3_bind_blob(st, 6, e->listeners_blob.p, (int)e->listeners_blob.n, SQLITE_STATIC);
        bind_slice(st, 7, e->title);
        bind_slice(st, 8, e->artist);
        if ((s = step_reset(c, st, "update aggregates", err)) != ENC_OK)
            return s;
    }
    return enc_rollup_add(c->rollup, a, err);
}

/* The batch id is the next _ENCORE_BATCHES id: safe because one process writes a
 * pipeline at a time (the lock) and the batch row is inserted in this transaction. */
static enc_status sq_write_quality(void *ctx, const enc_quality_result *r, size_t n, enc_err *err)
{
    sqlite_ctx *c = ctx;
    sqlite3_stmt *st = c->ins_quality;
    char now[ENC_TS_FORMAT_MAX];
    now_text(now);
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_text(st, 1, c->cfg.pipeline, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, r[i].rule, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, r[i].column, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, r[i].action, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, r[i].evaluated);
        sqlite3_bind_int64(st, 6, r[i].failed);
        sqlite3_bind_text(st, 7, r[i].samples, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, now, -1, SQLITE_STATIC);
        enc_status s = step_reset(c, st, "store quality results", err);
        if (s != ENC_OK)
            return s;
    }
    return ENC_OK;
}

/* Dedup keys are stored per batch as one blob of native (hash, time) pairs. */
static enc_status sq_write_dedup(void *ctx, const enc_dedup_key *k, size_t n, int64_t horizon, enc_err *err)
{
    sqlite_ctx *c = ctx;
    enc_status s;
    if (horizon != INT64_MIN) {
        sqlite3_bind_text(c->del_dedup, 1, c->cfg.pipeline, -1, SQLITE_STATIC);
        sqlite3_bind_int64(c->del_dedup, 2, horizon);
        if ((s = step_reset(c, c->del_dedup, "expire dedup state", err)) != ENC_OK)
            return s;
    }
    if (n == 0)
        return ENC_OK;
    int64_t max_time = INT64_MIN;
    for (size_t i = 0; i < n; i++)
        if (k[i].time_us > max_time)
            max_time = k[i].time_us;
    sqlite3_stmt *st = c->ins_dedup;
    sqlite3_bind_text(st, 1, c->cfg.pipeline, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, max_time);
    sqlite3_bind_blob64(st, 3, k, n * sizeof *k, SQLITE_STATIC);
    return step_reset(c, st, "store dedup state", err);
}

static enc_status sq_load_dedup(void *ctx, enc_status (*fn)(void *arg, enc_dedup_key k), void *arg, enc_err *err)
{
    sqlite_ctx *c = ctx;
    sqlite3_stmt *st = NULL;
    if (prepare(c, &st, err, "SELECT keys FROM \"_ENCORE_DEDUP\" WHERE pipeline = ?") != ENC_OK)
        return ENC_ERROR;
    sqlite3_bind_text(st, 1, c->cfg.pipeline, -1, SQLITE_STATIC);
    enc_status status = ENC_OK;
    int rc = SQLITE_DONE;
    while (status == ENC_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *p = sqlite3_column_blob(st, 0);
        size_t n = (size_t)sqlite3_column_bytes(st, 0) / sizeof(enc_dedup_key);
        for (size_t i = 0; i < n && status == ENC_OK; i++) {
            enc_dedup_key k;
            memcpy(&k, p + i * sizeof k, sizeof k);
            if (fn(arg, k) != ENC_OK)
                status = enc_err_set(err, "out of memory loading dedup state");
        }
    }
    if (status == ENC_OK && rc != SQLITE_DONE)
        status = db_fail(c, rc, "read dedup state", err);
    sqlite3_finalize(st);
    return status;
}


static enc_status sq_write_quarantine(void *ctx, const enc_quarantine *q, size_t n, enc_err *err)
{
    sqlite_ctx *c = ctx;
    sqlite3_stmt *st = c->ins_quar;
    char now[ENC_TS_FORMAT_MAX];
    now_text(now);
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_text(st, 1, q[i].origin, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, q[i].line);
        sqlite3_bind_text(st, 3, q[i].reason, -1, SQLITE_STATIC);
        bind_slice(st, 4, q[i].raw);
        sqlite3_bind_text(st, 5, now, -1, SQLITE_STATIC);
        enc_status s = step_reset(c, st, "insert quarantine", err);
        if (s != ENC_OK)
            return s;
    }
    return ENC_OK;
}

static enc_status sq_record_positions(void *ctx, const enc_position *p, size_t n, enc_err *err)
{
    sqlite_ctx *c = ctx;
    sqlite3_stmt *st = c->put_pos;
    char now[ENC_TS_FORMAT_MAX];
    now_text(now);
    int64_t now_us = enc_wall_us(); /* the pipeline records positions last, just before COMMIT */
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_text(st, 1, c->cfg.pipeline, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, p[i].key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, p[i].identity);
        sqlite3_bind_int64(st, 4, p[i].offset);
        sqlite3_bind_int64(st, 5, p[i].line);
        sqlite3_bind_int64(st, 6, p[i].state);
        sqlite3_bind_text(st, 7, now, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 8, now_us);
        enc_status s = step_reset(c, st, "record checkpoint", err);
        if (s != ENC_OK)
            return s;
    }
    return ENC_OK;
}

static enc_status sq_commit(void *ctx, const enc_batch_stats *bs, enc_err *err)
{
    sqlite_ctx *c = ctx;
    sqlite3_stmt *st = c->ins_batch;
    char now[ENC_TS_FORMAT_MAX];
    now_text(now);
    sqlite3_bind_text(st, 1, c->cfg.pipeline, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, now, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, bs->events);
    sqlite3_bind_int64(st, 4, bs->rows);
    sqlite3_bind_int64(st, 5, bs->quarantined);
    sqlite3_bind_int64(st, 6, bs->rescued);
    sqlite3_bind_int64(st, 7, bs->bytes);
    sqlite3_bind_int64(st, 8, bs->duplicates);
    enc_status s = step_reset(c, st, "log batch", err);
    if (s != ENC_OK)
        return s;
    enc_status rc = exec(c, "COMMIT", err);
    if (rc == ENC_OK)
        c->in_tx = false;
    return rc;
}

static void sq_rollback(void *ctx)
{
    sqlite_ctx *c = ctx;
    if (c->in_tx && c->db)
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    c->in_tx = false;
    enc_pending_rollback(c->pending); /* a merge may have read a pack of the rolled-back batch */
}

/* A writer that stops folds what it left pending into the daily rows, in one transaction
 * of its own, so a stopped pipeline leaves TABLE_DAILY whole for plain SQL readers. When
 * that fails (busy, disk full) the packs stay: charts read them, the next run folds them. */
static void fold_pending(sqlite_ctx *c)
{
    if (!c->pending || !c->db || sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return;
    enc_err ignored;
    if (enc_pending_fold_through(c->pending, enc_ts_days_from_civil(9999, 12, 31), &ignored) == ENC_OK &&
        sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
        return;
    sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

static void sq_close(void *ctx)
{
    sqlite_ctx *c = ctx;
    sq_rollback(c);
    /* The WAL's committed frames are copied into the database on the checkpointer's
     * thread while this one folds; sqlite3_close then checkpoints only the fold's pages. */
    enc_ckpt_request(c->ckpt);
    int64_t t = enc_trace_start();
    fold_pending(c);
    enc_trace_end("s.fold", t, 0, 0);
    enc_ckpt_stop(c->ckpt); /* before the close, whose own final checkpoint then finds no other connection */
    c->ckpt = NULL;
    sqlite3_finalize(c->ins_row);
    sqlite3_finalize(c->ins_rows);
    sqlite3_finalize(c->ins_quar);
    sqlite3_finalize(c->put_pos);
    sqlite3_finalize(c->ins_batch);
    sqlite3_finalize(c->put_agg);
    sqlite3_finalize(c->ins_dedup);
    sqlite3_finalize(c->del_dedup);
    sqlite3_finalize(c->ins_quality);
    enc_rollup_free(c->rollup);
    c->rollup = NULL;
    enc_pending_free(c->pending);
    c->pending = NULL;
    for (size_t i = 0; i < c->npositions; i++)
        enc_free((char *)c->positions[i].key);
    enc_free(c->positions);
    t = enc_trace_start();
    if (c->db)
        sqlite3_close(c->db); /* checkpoints the fold's pages */
    enc_trace_end("s.close", t, 0, 0);
    c->db = NULL;
    if (c->lock_fd > 0)
        close(c->lock_fd); /* releases the flock */
    c->lock_fd = -1;
}

const enc_sink_ops enc_sink_sqlite = {
    .name = "sqlite",
    .ctx_size = sizeof(sqlite_ctx),
    .open = sq_open,
    .load_positions = sq_load_positions,
    .begin = sq_begin,
    .write_rows = sq_write_rows,
    .write_quarantine = sq_write_quarantine,
    .record_positions = sq_record_positions,
    .write_aggregates = sq_write_aggregates,
    .write_dedup = sq_write_dedup,
    .write_quality = sq_write_quality,
    .load_dedup = sq_load_dedup,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .close = sq_close,
};

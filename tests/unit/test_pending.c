/* Unit tests for pending: compaction merges made on a thread of their own (pending.c)
 * leave the same sums, the same age order and levels as in place; a rollback forgets a
 * merge that read a rolled-back pack; a fold cancels the day's merge; a fold's multi-row
 * inserts land every row, and a failed one rolls back whole. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "hll.h"
#include "pack.h"
#include "pending.h"

enum { KEYS = 10, DAY = 20000 };
static const char DAY_TEXT[] = "2024-10-04"; /* day 20000 since 1970-01-01 */

static sqlite3 *open_db(void)
{
    sqlite3 *db = NULL;
    sqlite3_open(":memory:", &db);
    sqlite3_exec(db,
                 "CREATE TABLE T_DAILY (dimension TEXT NOT NULL, key TEXT NOT NULL, day TEXT NOT NULL, "
                 "plays INTEGER NOT NULL, seconds INTEGER NOT NULL, listeners BLOB NOT NULL, title TEXT, artist TEXT, "
                 "PRIMARY KEY (dimension, day, key)) WITHOUT ROWID",
                 NULL, NULL, NULL);
    return db;
}

/* One batch's pack: keys k0..k9, one play each, a listener per batch. */
static void make_pack(enc_buf *out, int batch)
{
    enc_buf_init(out, 1 << 20);
    enc_pack_begin(out, KEYS);
    for (int k = 0; k < KEYS; k++) {
        char key[8];
        snprintf(key, sizeof key, "k%d", k);
        enc_buf sk;
        enc_buf_init(&sk, 1 << 16);
        enc_hll_serialize_one(0x9e3779b97f4a7c15ull * (uint64_t)(batch + 1), &sk);
        enc_pack_entry e = {{key, strlen(key)}, 1, 1, {sk.data, sk.len}, {NULL, 0}, {NULL, 0}};
        enc_pack_put(out, &e);
        enc_buf_free(&sk);
    }
}

/* Appends batch's pack of each of ndims dimensions (song, artist) in a transaction of its
 * own; commit false: rolled back. */
static enc_status append_dims(sqlite3 *db, enc_pending *p, int batch, bool commit, int ndims)
{
    static const char *const dims[] = {"song", "artist"};
    enc_buf b;
    make_pack(&b, batch);
    enc_err err;
    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    enc_status s = ENC_OK;
    for (int i = 0; i < ndims && s == ENC_OK; i++)
        s = enc_pending_append(p, dims[i], DAY, (enc_slice){b.data, b.len}, &err);
    if (s != ENC_OK)
        fprintf(stderr, "  append %d: %s\n", batch, err.msg);
    if (commit && s == ENC_OK) {
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    } else {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        enc_pending_rollback(p);
    }
    enc_buf_free(&b);
    usleep(5000); /* room for a merge thread to finish */
    return s;
}

static enc_status append(sqlite3 *db, enc_pending *p, int batch, bool commit)
{
    return append_dims(db, p, batch, commit, 1);
}

static enc_status sum_plays(void *arg, const char day[11], int64_t age, const enc_pack_entry *e, enc_err *err)
{
    *(int64_t *)arg += e->plays;
    return ENC_OK;
}

static int64_t dim_plays(sqlite3 *db, const char *dim)
{
    int64_t n = 0;
    enc_err err;
    enc_pending_scan(db, "T", dim, DAY_TEXT, DAY_TEXT, sum_plays, &n, &err);
    return n;
}

static int64_t pending_plays(sqlite3 *db)
{
    return dim_plays(db, "song");
}

static int64_t sql_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void check_order(sqlite3 *db)
{
    T_CHECK(sql_int(db, "SELECT count(*) FROM T_PENDING a JOIN T_PENDING b ON a.dimension = b.dimension "
                        "AND a.day = b.day AND a.rowid < b.rowid AND a.level < b.level") == 0);
    T_CHECK(sql_int(db, "SELECT max(n) FROM (SELECT count(*) AS n FROM T_PENDING GROUP BY dimension, level)") <=
            8 * ENC_PENDING_FOLD_AT);
}

static void test_merges_keep_sums_and_order(void)
{
    sqlite3 *db = open_db();
    enc_pending *p = NULL;
    enc_err err;
    T_CHECK(enc_pending_open(db, "T", &p, &err) == ENC_OK);
    int batches = 8 * 8 + 2; /* 8 level-1 packs merged into a level-2 pack, applied */
    for (int i = 0; i < batches; i++) {
        T_CHECK(append(db, p, i, true) == ENC_OK);
        check_order(db);
    }
    T_CHECK(pending_plays(db) == (int64_t)batches * KEYS);
    T_CHECK(sql_int(db, "SELECT count(*) FROM T_PENDING WHERE level = 2") == 1);
    T_CHECK(sql_int(db, "SELECT count(*) FROM T_PENDING") < 8);
    T_CHECK(enc_pending_fold_through(p, DAY, &err) == ENC_OK);
    T_CHECK(sql_int(db, "SELECT sum(plays) FROM T_DAILY") == (int64_t)batches * KEYS);
    enc_pending_free(p);
    sqlite3_close(db);
}

/* Two dimensions fill their levels in the same batches; one merge runs at a time, the
 * other dimension's waits for a later batch: both end merged, nothing lost or doubled. */
static void test_two_dimensions_take_turns(void)
{
    sqlite3 *db = open_db();
    enc_pending *p = NULL;
    enc_err err;
    T_CHECK(enc_pending_open(db, "T", &p, &err) == ENC_OK);
    int batches = 8 * 8 + 4;
    for (int i = 0; i < batches; i++) {
        T_CHECK(append_dims(db, p, i, true, 2) == ENC_OK);
        check_order(db);
    }
    T_CHECK(dim_plays(db, "song") == (int64_t)batches * KEYS);
    T_CHECK(dim_plays(db, "artist") == (int64_t)batches * KEYS);
    T_CHECK(sql_int(db, "SELECT count(DISTINCT dimension) FROM T_PENDING WHERE level = 2") == 2);
    T_CHECK(sql_int(db, "SELECT count(*) FROM T_PENDING") < 2 * 12);
    enc_pending_free(p);
    sqlite3_close(db);
}

/* The 8th pack starts a merge, then its transaction rolls back: the merge must not put
 * the rolled-back pack's plays back (nor fail on its missing row). */
static void test_rollback_forgets_merge(void)
{
    sqlite3 *db = open_db();
    enc_pending *p = NULL;
    enc_err err;
    T_CHECK(enc_pending_open(db, "T", &p, &err) == ENC_OK);
    for (int i = 0; i < 7; i++)
        T_CHECK(append(db, p, i, true) == ENC_OK);
    T_CHECK(append(db, p, 7, false) == ENC_OK);
    for (int i = 8; i < 20; i++)
        T_CHECK(append(db, p, i, true) == ENC_OK);
    T_CHECK(pending_plays(db) == 19 * KEYS);
    T_CHECK(sql_int(db, "SELECT count(*) FROM T_PENDING WHERE level = 1") >= 1);
    check_order(db);
    enc_pending_free(p);
    sqlite3_close(db);
}

/* A fold of the day while its merge is in flight: the fold takes every pack, once. */
static void test_fold_cancels_merge(void)
{
    sqlite3 *db = open_db();
    enc_pending *p = NULL;
    enc_err err;
    T_CHECK(enc_pending_open(db, "T", &p, &err) == ENC_OK);
    for (int i = 0; i < 8; i++) /* the 8th starts a merge */
        T_CHECK(append(db, p, i, true) == ENC_OK);
    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    T_CHECK(enc_pending_fold_through(p, DAY, &err) == ENC_OK);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    T_CHECK(sql_int(db, "SELECT count(*) FROM T_PENDING") == 0);
    T_CHECK(sql_int(db, "SELECT sum(plays) FROM T_DAILY") == 8 * KEYS);
    T_CHECK(append(db, p, 8, true) == ENC_OK); /* nothing of the cancelled merge is applied */
    T_CHECK(pending_plays(db) == KEYS);
    enc_pending_free(p);
    sqlite3_close(db);
}

/* A pack of n keys k000.. (k00000.. past 1000, to stay in order) on DAY: key i has i + 1
 * plays, a title when i is odd. */
static void make_wide_pack(enc_buf *out, int n)
{
    enc_buf_init(out, 1 << 24);
    enc_pack_begin(out, (size_t)n);
    for (int k = 0; k < n; k++) {
        char key[16];
        snprintf(key, sizeof key, n > 1000 ? "k%05d" : "k%03d", k);
        enc_buf sk;
        enc_buf_init(&sk, 1 << 16);
        enc_hll_serialize_one(0x9e3779b97f4a7c15ull * (uint64_t)(k + 1), &sk);
        enc_pack_entry e = {{key, strlen(key)}, k + 1, 2 * k, {sk.data, sk.len}, {NULL, 0}, {NULL, 0}};
        if (k % 2)
            e.title = (enc_slice){"t", 1};
        enc_pack_put(out, &e);
        enc_buf_free(&sk);
    }
}

/* Appends pack b to (song, DAY) in a transaction of its own; then room for a merge thread. */
static void append_pack(sqlite3 *db, enc_pending *p, const enc_buf *b, useconds_t wait)
{
    enc_err err;
    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    T_CHECK(enc_pending_append(p, "song", DAY, (enc_slice){b->data, b->len}, &err) == ENC_OK);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    usleep(wait);
}

/* A merged pack is built in place behind room for its header (pending.c): with 200 keys
 * (a 2-byte count) and 20,000 (3 bytes) the merged pack reads back whole. */
static void test_merge_of_wide_packs(void)
{
    static const int widths[] = {200, 20000};
    for (size_t w = 0; w < sizeof widths / sizeof *widths; w++) {
        int n = widths[w];
        sqlite3 *db = open_db();
        enc_pending *p = NULL;
        enc_err err;
        T_CHECK(enc_pending_open(db, "T", &p, &err) == ENC_OK);
        enc_buf b;
        make_wide_pack(&b, n);
        int batches = 0;
        while (batches < ENC_PENDING_FOLD_AT + 6 &&
               (batches <= ENC_PENDING_FOLD_AT || sql_int(db, "SELECT count(*) FROM T_PENDING WHERE level = 1") == 0)) {
            append_pack(db, p, &b, 50000);
            batches++;
        }
        enc_buf_free(&b);
        T_CHECK(sql_int(db, "SELECT count(*) FROM T_PENDING WHERE level = 1") == 1);
        int64_t per_pack = (int64_t)n * (n + 1) / 2;
        T_CHECK(pending_plays(db) == batches * per_pack); /* every pack decodes */
        sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        T_CHECK(enc_pending_fold_through(p, DAY, &err) == ENC_OK);
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        T_CHECK(sql_int(db, "SELECT count(*) FROM T_DAILY") == n);
        T_CHECK(sql_int(db, "SELECT sum(plays) FROM T_DAILY") == batches * per_pack);
        enc_pending_free(p);
        sqlite3_close(db);
    }
}

/* Level 0 merges ENC_PENDING_FOLD_AT_BIG packs of half a megabyte or more at a time (a --once
 * batch's songs), not ENC_PENDING_FOLD_AT: 15 such packs wait unmerged, the 16th starts the
 * merge, and the merged pack holds every play. */
static void test_big_packs_merge_later(void)
{
    sqlite3 *db = open_db();
    enc_pending *p = NULL;
    enc_err err;
    T_CHECK(enc_pending_open(db, "T", &p, &err) == ENC_OK);
    enc_buf b;
    int n = 70000;
    make_wide_pack(&b, n);
    T_CHECK(b.len >= ENC_PENDING_BIG_PACK);
    int batches = 0;
    for (; batches < ENC_PENDING_FOLD_AT_BIG - 1; batches++)
        append_pack(db, p, &b, 20000);
    T_CHECK(sql_int(db, "SELECT count(*) FROM T_PENDING WHERE level = 0") == ENC_PENDING_FOLD_AT_BIG - 1);
    T_CHECK(sql_int(db, "SELECT count(*) FROM T_PENDING WHERE level > 0") == 0);
    while (batches < ENC_PENDING_FOLD_AT_BIG + 8 &&
           (batches <= ENC_PENDING_FOLD_AT_BIG || sql_int(db, "SELECT count(*) FROM T_PENDING WHERE level = 1") == 0)) {
        append_pack(db, p, &b, 200000);
        batches++;
    }
    enc_buf_free(&b);
    T_CHECK(sql_int(db, "SELECT count(*) FROM T_PENDING WHERE level = 1") == 1);
    T_CHECK(pending_plays(db) == batches * ((int64_t)n * (n + 1) / 2));
    enc_pending_free(p);
    sqlite3_close(db);
}

/* A daily row of DAY in dimension song with a one-listener sketch. */
static void put_daily(sqlite3 *db, const char *key, int64_t plays, const char *title)
{
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "INSERT INTO T_DAILY VALUES ('song', ?1, '2024-10-04', ?2, 0, ?3, ?4, NULL)", -1, &st,
                       NULL);
    enc_buf sk;
    enc_buf_init(&sk, 1 << 16);
    enc_hll_serialize_one(12345, &sk);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, plays);
    sqlite3_bind_blob(st, 3, sk.data, (int)sk.len, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, title, -1, SQLITE_STATIC);
    T_CHECK(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_finalize(st);
    enc_buf_free(&sk);
}

/* A fold inserts its rows 16 per statement and the rest one by one (pending.c): every
 * count around those sizes lands whole, with the daily rows already there merged in. */
static void test_fold_inserts_every_row(void)
{
    static const int counts[] = {1, 15, 16, 17, 31, 32, 33, 300};
    for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
        int n = counts[c];
        sqlite3 *db = open_db();
        enc_pending *p = NULL;
        enc_err err;
        T_CHECK(enc_pending_open(db, "T", &p, &err) == ENC_OK);
        put_daily(db, "k000", 100, NULL);
        put_daily(db, "zzz", 7, "old");
        enc_buf b;
        make_wide_pack(&b, n);
        sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        T_CHECK(enc_pending_append(p, "song", DAY, (enc_slice){b.data, b.len}, &err) == ENC_OK);
        T_CHECK(enc_pending_fold_through(p, DAY, &err) == ENC_OK);
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        enc_buf_free(&b);
        T_CHECK(sql_int(db, "SELECT count(*) FROM T_PENDING") == 0);
        T_CHECK(sql_int(db, "SELECT count(*) FROM T_DAILY") == n + 1);
        T_CHECK(sql_int(db, "SELECT count(*) FROM T_DAILY WHERE key <> 'zzz' AND key <> 'k000' AND "
                            "(plays <> CAST(substr(key, 2) AS INTEGER) + 1 OR seconds <> 2 * CAST(substr(key, 2) "
                            "AS INTEGER) OR (title IS NULL) = (CAST(substr(key, 2) AS INTEGER) % 2 = 1) "
                            "OR length(listeners) = 0)") == 0);
        T_CHECK(sql_int(db, "SELECT plays FROM T_DAILY WHERE key = 'k000'") == 101);
        T_CHECK(sql_int(db, "SELECT plays FROM T_DAILY WHERE key = 'zzz' AND title = 'old'") == 7);
        enc_pending_free(p);
        sqlite3_close(db);
    }
}

/* An insert failing in the middle of a 16-row statement (INSERT OR FAIL keeps the rows
 * before it): the fold reports it, and the rollback of its transaction leaves the day's
 * daily rows and packs as they were. */
static void test_failed_fold_rolls_back_whole(void)
{
    sqlite3 *db = open_db();
    enc_pending *p = NULL;
    enc_err err;
    T_CHECK(enc_pending_open(db, "T", &p, &err) == ENC_OK);
    put_daily(db, "k000", 100, NULL);
    enc_buf b;
    make_wide_pack(&b, 40);
    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    T_CHECK(enc_pending_append(p, "song", DAY, (enc_slice){b.data, b.len}, &err) == ENC_OK);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    enc_buf_free(&b);
    T_CHECK(sqlite3_exec(db, "CREATE TRIGGER no_k020 BEFORE INSERT ON T_DAILY WHEN new.key = 'k020' "
                             "BEGIN SELECT RAISE(FAIL, 'refused'); END",
                         NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    T_CHECK(enc_pending_fold_through(p, DAY, &err) != ENC_OK);
    T_CHECK(sql_int(db, "SELECT count(*) FROM T_DAILY WHERE key BETWEEN 'k016' AND 'k019'") == 4); /* kept by FAIL */
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    enc_pending_rollback(p);
    T_CHECK(sql_int(db, "SELECT count(*) FROM T_DAILY") == 1);
    T_CHECK(sql_int(db, "SELECT plays FROM T_DAILY") == 100);
    T_CHECK(pending_plays(db) == 40 * 41 / 2);
    T_CHECK(sqlite3_exec(db, "DROP TRIGGER no_k020", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    enc_status s = enc_pending_fold_through(p, DAY, &err);
    if (s != ENC_OK)
        fprintf(stderr, "  fold: %s\n", err.msg);
    T_CHECK(s == ENC_OK);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    T_CHECK(sql_int(db, "SELECT count(*) FROM T_DAILY") == 40);
    T_CHECK(sql_int(db, "SELECT sum(plays) FROM T_DAILY") == 100 + 40 * 41 / 2);
    enc_pending_free(p);
    sqlite3_close(db);
}

int main(void)
{
    T_RUN(test_merges_keep_sums_and_order);
    T_RUN(test_two_dimensions_take_turns);
    T_RUN(test_rollback_forgets_merge);
    T_RUN(test_fold_cancels_merge);
    T_RUN(test_fold_inserts_every_row);
    T_RUN(test_merge_of_wide_packs);
    T_RUN(test_big_packs_merge_later);
    T_RUN(test_failed_fold_rolls_back_whole);
    return t_summary("test_pending");
}

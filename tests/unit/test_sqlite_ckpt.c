/* Unit tests for sqlite_ckpt: the thread checkpoints when the WAL passes its threshold,
 * the writer checkpoints itself past the hard limit (and the log then stops growing), and
 * the committed data is what it was. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "sqlite_ckpt.h"

static char dir[64];
static char path[128];

static long long file_size(const char *suffix)
{
    char p[160];
    snprintf(p, sizeof p, "%s%s", path, suffix);
    struct stat st;
    return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

/* A fresh WAL database (4 KiB pages) with one table; NULL on failure. */
static sqlite3 *open_db(const char *name)
{
    snprintf(path, sizeof path, "%s/%s", dir, name);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA page_size=4096; PRAGMA journal_mode=WAL; CREATE TABLE t(b BLOB)", NULL, NULL,
                     NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

/* One commit of a 40 KB blob: about 10 pages into the WAL. */
static int commit_blob(sqlite3 *db)
{
    return sqlite3_exec(db, "INSERT INTO t VALUES (zeroblob(40000))", NULL, NULL, NULL);
}

static long long rows(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    long long n = -1;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* Waits (up to a generous deadline, never a fixed sleep) for the thread's first checkpoint. */
static enc_ckpt_stats wait_background(enc_ckpt *c)
{
    enc_ckpt_stats s = enc_ckpt_stats_get(c);
    for (int i = 0; i < 20000 && s.background == 0; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        s = enc_ckpt_stats_get(c);
    }
    return s;
}

static void test_thread_checkpoints_past_threshold(void)
{
    sqlite3 *db = open_db("bg.db");
    T_CHECK(db != NULL);
    if (!db)
        return;
    enc_ckpt *c = NULL;
    enc_err err = {{0}};
    T_CHECK(enc_ckpt_start(&c, db, path, "FULL", 5, INT_MAX, &err) == ENC_OK);
    if (!c) {
        sqlite3_close(db);
        return;
    }
    long long db_before = file_size("");
    T_CHECK(db_before < 40000); /* the blob is only in the WAL so far */
    T_CHECK(commit_blob(db) == SQLITE_OK);
    enc_ckpt_stats s = wait_background(c);
    T_CHECK(s.background >= 1);
    T_CHECK(s.inline_ == 0);
    T_CHECK(file_size("") >= 40000); /* the checkpoint copied it into the database file */
    enc_ckpt_stop(c);
    T_CHECK(commit_blob(db) == SQLITE_OK); /* no hook left behind */
    T_CHECK(rows(db) == 2);
    sqlite3_close(db);
}

static void test_request_checkpoints_below_threshold(void)
{
    sqlite3 *db = open_db("req.db");
    T_CHECK(db != NULL);
    if (!db)
        return;
    enc_ckpt *c = NULL;
    enc_err err = {{0}};
    T_CHECK(enc_ckpt_start(&c, db, path, "FULL", INT_MAX, INT_MAX, &err) == ENC_OK);
    if (!c) {
        sqlite3_close(db);
        return;
    }
    T_CHECK(commit_blob(db) == SQLITE_OK);
    T_CHECK(enc_ckpt_stats_get(c).background == 0); /* far below the threshold */
    T_CHECK(file_size("") < 40000);
    enc_ckpt_request(c);
    enc_ckpt_stats s = wait_background(c);
    T_CHECK(s.background == 1);
    T_CHECK(s.inline_ == 0);
    T_CHECK(file_size("") >= 40000); /* the requested checkpoint copied the blob */
    enc_ckpt_stop(c);
    enc_ckpt_request(NULL); /* NULL is fine */
    T_CHECK(rows(db) == 1);
    sqlite3_close(db);
}

static void test_writer_checkpoints_past_hard_limit(void)
{
    sqlite3 *db = open_db("hard.db");
    T_CHECK(db != NULL);
    if (!db)
        return;
    enc_ckpt *c = NULL;
    enc_err err = {{0}};
    T_CHECK(enc_ckpt_start(&c, db, path, "NORMAL", INT_MAX, 4, &err) == ENC_OK);
    if (!c) {
        sqlite3_close(db);
        return;
    }
    T_CHECK(commit_blob(db) == SQLITE_OK);
    enc_ckpt_stats s = enc_ckpt_stats_get(c);
    T_CHECK(s.inline_ == 1); /* done inside that COMMIT, before it returned */
    T_CHECK(s.background == 0);
    T_CHECK(file_size("") >= 40000);
    long long wal_one = file_size("-wal");
    for (int i = 0; i < 20; i++)
        T_CHECK(commit_blob(db) == SQLITE_OK);
    s = enc_ckpt_stats_get(c);
    T_CHECK(s.inline_ == 21);
    T_CHECK(s.background == 0);
    /* Each commit starts the log over: it holds one commit's pages, not 21. */
    T_CHECK(wal_one > 0 && file_size("-wal") <= 2 * wal_one);
    T_CHECK(file_size("") >= 21 * 40000);
    enc_ckpt_stop(c);
    T_CHECK(rows(db) == 21);
    sqlite3_close(db);
}

static void test_bad_path_is_an_error(void)
{
    sqlite3 *db = open_db("ok.db");
    T_CHECK(db != NULL);
    if (!db)
        return;
    enc_ckpt *c = (enc_ckpt *)1;
    enc_err err = {{0}};
    T_CHECK(enc_ckpt_start(&c, db, "/nonexistent/dir/x.db", "FULL", 5, 10, &err) == ENC_ERROR);
    T_CHECK(c == NULL);
    T_CHECK(strstr(err.msg, "for checkpoints") != NULL);
    enc_ckpt_stop(NULL);
    T_CHECK(commit_blob(db) == SQLITE_OK);
    sqlite3_close(db);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/encore-ckpt.XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    T_RUN(test_thread_checkpoints_past_threshold);
    T_RUN(test_request_checkpoints_below_threshold);
    T_RUN(test_writer_checkpoints_past_hard_limit);
    T_RUN(test_bad_path_is_an_error);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return t_summary("test_sqlite_ckpt");
}

/* Tests for pipeline: the --once runs whose aggregates are made on a thread beside the
 * writer, and started ahead for the next queued batch while a batch commits, against a
 * SQLite sink that fails some steps on purpose. A batch that is retried must write the same
 * aggregates again although the next batch's were made meanwhile; a batch that fails for
 * good must leave only whole batches. Each retried run's daily table is compared with that
 * of a run with no failures. Works in a mkdtemp directory under /tmp. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "gen.h"
#include "harness.h"
#include "pipeline.h"
#include "sink.h"

static char root[] = "/tmp/encore-test-pipeline-XXXXXX";
static char events_dir[PATH_MAX];
static enc_songs *songs;
static enc_users *users;

/* ---- a SQLite sink that fails on purpose ----------------------------------------------- */

typedef enum { STEP_AGGREGATES, STEP_COMMIT } step;

/* Which calls fail: call number `at` of `where` (counted from 1) and, when `every` > 0,
 * every `every`-th after it; with `status` (ENC_RETRY: the pipeline tries the batch again). */
typedef struct {
    step where;
    int at, every;
    enc_status status;
    int calls, failed;
    int commit_sleep_us; /* a slow warehouse: the reader queues batches ahead of it */
} fail_plan;

static fail_plan plan;

static const enc_sink_ops *real = &enc_sink_sqlite;

static enc_status maybe_fail(step s, enc_err *err)
{
    if (plan.at == 0 || plan.where != s)
        return ENC_OK;
    int n = ++plan.calls;
    bool fail = n == plan.at || (plan.every > 0 && n > plan.at && (n - plan.at) % plan.every == 0);
    if (!fail)
        return ENC_OK;
    plan.failed++;
    return plan.status == ENC_RETRY ? (enc_err_set(err, "injected: busy"), ENC_RETRY)
                                    : enc_err_set(err, "injected: disk full");
}

static enc_status flaky_aggregates(void *ctx, const enc_agg *a, enc_err *err)
{
    enc_status s = real->write_aggregates(ctx, a, err);
    return s == ENC_OK ? maybe_fail(STEP_AGGREGATES, err) : s;
}

static enc_status flaky_commit(void *ctx, const enc_batch_stats *st, enc_err *err)
{
    if (plan.commit_sleep_us)
        usleep((useconds_t)plan.commit_sleep_us);
    enc_status s = maybe_fail(STEP_COMMIT, err);
    return s == ENC_OK ? real->commit(ctx, st, err) : s;
}

static enc_sink_ops flaky;

/* ---- runs --------------------------------------------------------------------------- */

static enc_status run(const char *db, bool aggregates, enc_pipeline_stats *st, enc_err *err)
{
    flaky = *real;
    flaky.write_aggregates = flaky_aggregates;
    flaky.commit = flaky_commit;
    plan.calls = plan.failed = 0;
    enc_pipeline_config cfg = {
        .source = &enc_source_dir,
        .source_cfg = {.location = events_dir, .once = true, .poll_ms = 1, .batch_events = 150,
                       .batch_bytes = 64 << 20, .max_record = 1 << 20},
        .sink = &flaky,
        .sink_target = db,
        .sink_cfg = {.table = "MUSIC_EVENTS", .pipeline = "MUSIC_EVENTS", .durable = false},
        .songs = songs,
        .users = users,
        .aggregates = aggregates,
        .watermark_us = 0,
    };
    return enc_pipeline_run(&cfg, st, err);
}

/* One string of every daily row, sketches in hex; NULL on a SQLite error. */
static char *query_text(const char *db, const char *sql)
{
    sqlite3 *h;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_stmt *st;
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(st); c++) {
                const unsigned char *t = sqlite3_column_text(st, c);
                fprintf(f, "%s|", t ? (const char *)t : "NULL");
            }
            fputc('\n', f);
        }
        sqlite3_finalize(st);
    }
    fclose(f);
    sqlite3_close(h);
    return out;
}

static const char daily_sql[] = "SELECT dimension, key, day, plays, seconds, hex(listeners), title, artist "
                                "FROM MUSIC_EVENTS_DAILY ORDER BY 1, 2, 3";

/* The daily table recomputed from the rows (plays and minutes: sketches cannot be). */
static const char stored_sql[] = "SELECT dimension, key, sum(plays), sum(seconds) FROM MUSIC_EVENTS_DAILY "
                                 "GROUP BY 1, 2 ORDER BY 1, 2";
static const char recomputed_sql[] =
    "SELECT d, k, count(*), sum(coalesce(duration, 0)) FROM ("
    " SELECT 'song' d, song_id k, duration FROM MUSIC_EVENTS UNION ALL"
    " SELECT 'artist', artist, duration FROM MUSIC_EVENTS WHERE artist IS NOT NULL UNION ALL"
    " SELECT 'genre', genre, duration FROM MUSIC_EVENTS WHERE genre IS NOT NULL UNION ALL"
    " SELECT 'country', country, duration FROM MUSIC_EVENTS WHERE country IS NOT NULL UNION ALL"
    " SELECT 'device', device, duration FROM MUSIC_EVENTS WHERE device IS NOT NULL"
    ") GROUP BY 1, 2 ORDER BY 1, 2";

static char *clean_daily; /* the daily table of a run with no failures */
static int64_t clean_batches;

static void path_of(char *out, const char *name)
{
    snprintf(out, PATH_MAX, "%s/%s", root, name);
}

static char trace_path[PATH_MAX]; /* ENC_TRACE: the first run's steps (the clean one) */

/* Of the clean run's batches, those whose rows were being aggregated before the writer
 * finished the batch before: the k-th a.add and the k-th w.batch are the k-th batch's
 * (no retries). -1 when the trace cannot be read. */
static int count_started_ahead(void)
{
    FILE *f = fopen(trace_path, "r");
    if (!f)
        return -1;
    long long add_at[256], batch_end[256], t, d, a, b;
    int nadd = 0, nbatch = 0, ahead = 0;
    char thread[32], name[32];
    while (fscanf(f, "%31s %31s %lld %lld %lld %lld", thread, name, &t, &d, &a, &b) == 6) {
        if (strcmp(name, "a.add") == 0 && nadd < 256)
            add_at[nadd++] = t;
        if (strcmp(name, "w.batch") == 0 && nbatch < 256)
            batch_end[nbatch++] = t + d;
    }
    fclose(f);
    for (int k = 1; k < nadd && k < nbatch; k++)
        ahead += add_at[k] < batch_end[k - 1];
    return nadd == nbatch ? ahead : -1;
}

static void test_clean_run(void)
{
    char db[PATH_MAX];
    path_of(db, "clean.db");
    plan = (fail_plan){.commit_sleep_us = 3000};
    enc_pipeline_stats st;
    enc_err err = {{0}};
    T_CHECK(run(db, true, &st, &err) == ENC_OK);
    clean_batches = st.batches;
    T_CHECK(st.batches > 10);
    T_CHECK(count_started_ahead() > 0); /* batches queued behind the writer: their jobs ran ahead */
    clean_daily = query_text(db, daily_sql);
    T_CHECK(clean_daily && strlen(clean_daily) > 1000);
    char *stored = query_text(db, stored_sql), *recomputed = query_text(db, recomputed_sql);
    T_CHECK(stored && recomputed && strcmp(stored, recomputed) == 0);
    free(stored);
    free(recomputed);
}

/* Retried batches, whose next batch's aggregates were being made meanwhile: the same table. */
static void check_retried(const char *name, step where)
{
    char db[PATH_MAX];
    path_of(db, name);
    plan = (fail_plan){.where = where, .at = 2, .every = 4, .status = ENC_RETRY};
    enc_pipeline_stats st;
    enc_err err = {{0}};
    T_CHECK(run(db, true, &st, &err) == ENC_OK);
    T_CHECK(plan.failed >= 2);
    T_CHECK(st.batches == clean_batches);
    char *daily = query_text(db, daily_sql);
    T_CHECK(daily && clean_daily && strcmp(daily, clean_daily) == 0);
    free(daily);
}

static void test_retry_at_commit(void)
{
    check_retried("retry-commit.db", STEP_COMMIT);
}

static void test_retry_after_aggregates(void)
{
    check_retried("retry-agg.db", STEP_AGGREGATES);
}

/* A batch that fails for good, its successor's aggregates already being made: the run stops
 * with the error, and what was committed is whole batches whose daily rows add up. */
static void test_failure_stops_cleanly(void)
{
    char db[PATH_MAX];
    path_of(db, "fail.db");
    plan = (fail_plan){.where = STEP_COMMIT, .at = 4, .status = ENC_ERROR};
    enc_pipeline_stats st;
    enc_err err = {{0}};
    T_CHECK(run(db, true, &st, &err) == ENC_ERROR);
    T_CHECK_STR(err.msg, "injected: disk full");
    T_CHECK(st.batches == 3);
    char *stored = query_text(db, stored_sql), *recomputed = query_text(db, recomputed_sql);
    T_CHECK(stored && recomputed && strlen(stored) > 100 && strcmp(stored, recomputed) == 0);
    free(stored);
    free(recomputed);
    char *n = query_text(db, "SELECT (SELECT count(*) FROM MUSIC_EVENTS) = (SELECT sum(rows) FROM _ENCORE_BATCHES)");
    T_CHECK_STR(n, "1|\n");
    free(n);
}

static int setup(void)
{
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return -1;
    }
    enc_gen_opts o = {.out_dir = root, .events = 3000, .files = 4, .songs = 60, .users = 40, .seed = 11,
                      .year = 2025, .days = 3};
    enc_gen_stats gs;
    enc_err err = {{0}};
    char path[PATH_MAX];
    if (enc_gen_run(&o, &gs, &err) != ENC_OK)
        return fprintf(stderr, "gen: %s\n", err.msg), -1;
    path_of(events_dir, "events");
    path_of(trace_path, "trace");
    setenv("ENC_TRACE", trace_path, 1);
    path_of(path, "songs.csv");
    if (enc_songs_load(&songs, path, NULL, NULL, &err) != ENC_OK)
        return fprintf(stderr, "songs: %s\n", err.msg), -1;
    path_of(path, "users.csv");
    if (enc_users_load(&users, path, NULL, NULL, &err) != ENC_OK)
        return fprintf(stderr, "users: %s\n", err.msg), -1;
    return 0;
}

int main(void)
{
    if (setup() != 0)
        return 1;
    T_RUN(test_clean_run);
    T_RUN(test_retry_at_commit);
    T_RUN(test_retry_after_aggregates);
    T_RUN(test_failure_stops_cleanly);
    free(clean_daily);
    enc_songs_free(songs);
    enc_users_free(users);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    return t_summary("pipeline");
}

/* test_report — unit tests for src/report.c: period flags, headings, chart and wrapped
 * queries on in-memory fixture tables (daily rows with real HLL sketches), rendering
 * (table sanitising and alignment, CSV quoting, JSON escaping, minute rounding), opening
 * files read-only, corrupt sketches, and every allocation failing in turn.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "harness.h"
#include "fixture_sql.h"
#include "hash.h"
#include "hll.h"
#include "pack.h"
#include "pending.h"
#include "chart.h"
#include "render.h"
#include "wrapped.h"
#include "rollup.h"
#include "timestamp.h"
#include "sql_hll.h"
#include "user_index.h"

/* ---- periods ---- */

static enc_status period(const char *y, const char *m, const char *d, const char *from, const char *to, enc_period *p,
                         enc_err *err)
{
    enc_period_flags f = {.year = y, .month = m, .day = d, .from = from, .to = to};
    return enc_period_parse(&f, p, err);
}

static void test_period_forms(void)
{
    enc_period p;
    enc_err err;
    T_CHECK(period(NULL, NULL, NULL, NULL, NULL, &p, &err) == ENC_OK);
    T_CHECK(p.kind == ENC_PERIOD_ALL);
    T_CHECK_STR(p.from, "0001-01-01");
    T_CHECK_STR(p.to, "9999-12-31");
    T_CHECK_STR(p.label, "");

    T_CHECK(period("2025", NULL, NULL, NULL, NULL, &p, &err) == ENC_OK);
    T_CHECK(p.kind == ENC_PERIOD_YEAR);
    T_CHECK_STR(p.from, "2025-01-01");
    T_CHECK_STR(p.to, "2025-12-31");
    T_CHECK_STR(p.label, "2025");

    T_CHECK(period(NULL, "2024-02", NULL, NULL, NULL, &p, &err) == ENC_OK);
    T_CHECK(p.kind == ENC_PERIOD_MONTH);
    T_CHECK_STR(p.from, "2024-02-01");
    T_CHECK_STR(p.to, "2024-02-29");
    T_CHECK_STR(p.label, "2024-02");
    T_CHECK(period(NULL, "2100-02", NULL, NULL, NULL, &p, &err) == ENC_OK);
    T_CHECK_STR(p.to, "2100-02-28");
    T_CHECK(period(NULL, "2025-12", NULL, NULL, NULL, &p, &err) == ENC_OK);
    T_CHECK_STR(p.to, "2025-12-31");
    T_CHECK(period(NULL, "9999-12", NULL, NULL, NULL, &p, &err) == ENC_OK);
    T_CHECK_STR(p.to, "9999-12-31");

    T_CHECK(period(NULL, NULL, "2025-04-09", NULL, NULL, &p, &err) == ENC_OK);
    T_CHECK(p.kind == ENC_PERIOD_DAY);
    T_CHECK_STR(p.from, "2025-04-09");
    T_CHECK_STR(p.to, "2025-04-09");
    T_CHECK_STR(p.label, "2025-04-09");

    T_CHECK(period(NULL, NULL, NULL, "2025-04-01", "2025-04-30", &p, &err) == ENC_OK);
    T_CHECK(p.kind == ENC_PERIOD_RANGE);
    T_CHECK_STR(p.from, "2025-04-01");
    T_CHECK_STR(p.to, "2025-04-30");
    T_CHECK_STR(p.label, "2025-04-01 \u2026 2025-04-30");
    T_CHECK(period(NULL, NULL, NULL, "2025-04-01", "2025-04-01", &p, &err) == ENC_OK);
}

static void expect_period_error(const char *y, const char *m, const char *d, const char *from, const char *to,
                                const char *want_prefix)
{
    enc_period p;
    enc_err err = {{0}};
    T_CHECK(period(y, m, d, from, to, &p, &err) == ENC_ERROR);
    if (strncmp(err.msg, want_prefix, strlen(want_prefix)) != 0)
        T_CHECK_STR(err.msg, want_prefix);
}

static void test_period_errors(void)
{
    expect_period_error("25", NULL, NULL, NULL, NULL, "--year '25' is not valid");
    expect_period_error("20255", NULL, NULL, NULL, NULL, "--year '20255' is not valid");
    expect_period_error("0000", NULL, NULL, NULL, NULL, "--year '0000' is not valid");
    expect_period_error("+202", NULL, NULL, NULL, NULL, "--year '+202' is not valid");
    expect_period_error("", NULL, NULL, NULL, NULL, "--year '' is not valid");
    expect_period_error(NULL, "2025-13", NULL, NULL, NULL, "--month '2025-13' is not valid");
    expect_period_error(NULL, "2025-00", NULL, NULL, NULL, "--month '2025-00' is not valid");
    expect_period_error(NULL, "2025-4", NULL, NULL, NULL, "--month '2025-4' is not valid");
    expect_period_error(NULL, "2025/04", NULL, NULL, NULL, "--month '2025/04' is not valid");
    expect_period_error(NULL, "2025-04-01", NULL, NULL, NULL, "--month '2025-04-01' is not valid");
    expect_period_error(NULL, NULL, "2025-02-29", NULL, NULL, "--day '2025-02-29' is not a valid date");
    expect_period_error(NULL, NULL, "2025-04-9", NULL, NULL, "--day '2025-04-9' is not a valid date");
    expect_period_error(NULL, NULL, "2025-04-09T00", NULL, NULL, "--day '2025-04-09T00' is not a valid date");
    expect_period_error(NULL, NULL, NULL, "2025-04-01", NULL, "--from needs --to");
    expect_period_error(NULL, NULL, NULL, NULL, "2025-04-01", "--to needs --from");
    expect_period_error(NULL, NULL, NULL, "x", "2025-04-01", "--from 'x' is not a valid date");
    expect_period_error(NULL, NULL, NULL, "2025-04-01", "y", "--to 'y' is not a valid date");
    expect_period_error(NULL, NULL, NULL, "2025-04-02", "2025-04-01", "--from 2025-04-02 is after --to 2025-04-01");
    expect_period_error("2025", "2025-04", NULL, NULL, NULL, "give only one period");
    expect_period_error(NULL, NULL, "2025-04-01", "2025-04-01", "2025-04-02", "give only one period");
    expect_period_error("2025", NULL, NULL, NULL, "2025-04-02", "give only one period");
}

static void test_names(void)
{
    enc_chart_by by;
    enc_chart_metric m;
    enc_report_format f;
    T_CHECK(enc_chart_by_parse("country", &by) == ENC_OK && by == ENC_BY_COUNTRY);
    T_CHECK(enc_chart_by_parse("Song", &by) == ENC_ERROR);
    T_CHECK(enc_chart_by_parse("", &by) == ENC_ERROR);
    T_CHECK(enc_chart_metric_parse("minutes", &m) == ENC_OK && m == ENC_METRIC_MINUTES);
    T_CHECK(enc_chart_metric_parse("seconds", &m) == ENC_ERROR);
    T_CHECK(enc_report_format_parse("json", &f) == ENC_OK && f == ENC_FORMAT_JSON);
    T_CHECK(enc_report_format_parse("tsv", &f) == ENC_ERROR);
    T_CHECK_STR(enc_chart_by_name(ENC_BY_DEVICE), "device");
    T_CHECK_STR(enc_chart_metric_name(ENC_METRIC_LISTENERS), "listeners");
}

static void test_titles(void)
{
    enc_period p;
    enc_err err;
    char t[160];
    period("2025", NULL, NULL, NULL, NULL, &p, &err);
    enc_chart_title(ENC_BY_SONG, ENC_METRIC_PLAYS, &p, t, sizeof t);
    T_CHECK_STR(t, "Song of the Year 2025 \u2014 by plays");
    enc_chart_title(ENC_BY_GENRE, ENC_METRIC_PLAYS, &p, t, sizeof t);
    T_CHECK_STR(t, "Top genres of 2025 \u2014 by plays");
    period(NULL, "2025-04", NULL, NULL, NULL, &p, &err);
    enc_chart_title(ENC_BY_ARTIST, ENC_METRIC_LISTENERS, &p, t, sizeof t);
    T_CHECK_STR(t, "Artist of the Month 2025-04 \u2014 by listeners");
    period(NULL, NULL, "2025-04-09", NULL, NULL, &p, &err);
    enc_chart_title(ENC_BY_SONG, ENC_METRIC_MINUTES, &p, t, sizeof t);
    T_CHECK_STR(t, "Song of the Day 2025-04-09 \u2014 by minutes");
    period(NULL, NULL, NULL, "2025-04-01", "2025-04-30", &p, &err);
    enc_chart_title(ENC_BY_GENRE, ENC_METRIC_MINUTES, &p, t, sizeof t);
    T_CHECK_STR(t, "Top genres 2025-04-01 \u2026 2025-04-30 \u2014 by minutes");
    period(NULL, NULL, NULL, NULL, NULL, &p, &err);
    enc_chart_title(ENC_BY_COUNTRY, ENC_METRIC_PLAYS, &p, t, sizeof t);
    T_CHECK_STR(t, "Top countries, all time \u2014 by plays");
    enc_chart_title(ENC_BY_DEVICE, ENC_METRIC_LISTENERS, &p, t, sizeof t);
    T_CHECK_STR(t, "Top devices, all time \u2014 by listeners");
}

/* ---- chart plan: periods cut into years, months and days ---- */

/* The runs of a period as "Y:lo..hi M:lo..hi D:lo..hi". */
static void expect_rolled(const char *from, const char *to, bool rollups, const char *horizon, const char *want)
{
    int64_t r = ENC_ROLLUP_NONE;
    if (horizon)
        T_CHECK(enc_ts_parse_date(horizon, 10, &r) == ENC_OK);
    enc_segment seg[ENC_SEGMENTS_MAX];
    size_t n = enc_period_segments(from, to, rollups, r, seg);
    char got[512] = "";
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(got + len, sizeof got - len, "%s%c:%s..%s", i ? " " : "", "DMY"[seg[i].grain],
                                seg[i].lo, seg[i].hi);
    T_CHECK_STR(got, want);
}

/* Everything rolled: the totals cover every day. */
static void expect_segments(const char *from, const char *to, bool rollups, const char *want)
{
    expect_rolled(from, to, rollups, "9999-12-31", want);
}

static void test_period_segments(void)
{
    expect_segments("2025-01-01", "2025-12-31", true, "Y:2025..2025");
    expect_segments("2025-04-01", "2025-04-30", true, "M:2025-04..2025-04");
    expect_segments("2025-04-09", "2025-04-09", true, "D:2025-04-09..2025-04-09");
    expect_segments("2025-04-09", "2025-04-09", false, "D:2025-04-09..2025-04-09");
    expect_segments("2020-01-15", "2025-12-31", false, "D:2020-01-15..2025-12-31");
    /* every kind of run: days, months to the year's end, years, months, days */
    expect_segments("2020-12-15", "2024-03-10", true,
                    "D:2020-12-15..2020-12-31 Y:2021..2023 M:2024-01..2024-02 D:2024-03-01..2024-03-10");
    expect_segments("2020-01-15", "2022-03-10", true,
                    "D:2020-01-15..2020-01-31 M:2020-02..2020-12 Y:2021..2021 M:2022-01..2022-02 "
                    "D:2022-03-01..2022-03-10");
    /* a leap February is whole; a range within one month stays days */
    expect_segments("2024-02-01", "2024-02-29", true, "M:2024-02..2024-02");
    expect_segments("2024-02-01", "2024-02-28", true, "D:2024-02-01..2024-02-28");
    /* months across New Year when neither year is whole */
    expect_segments("2024-11-01", "2025-01-31", true, "M:2024-11..2024-12 M:2025-01..2025-01");
    expect_segments("0001-01-01", "9999-12-31", true, "Y:0001..9999");
}

/* Totals rolled up to a horizon: the year holds its ended months, the month its days up
 * to the horizon, and the days after it come from the daily rows. */
static void test_period_segments_horizon(void)
{
    expect_rolled("2025-01-01", "2025-12-31", true, "2025-07-15",
                  "Y:2025..2025 M:2025-07..2025-07 D:2025-07-16..2025-12-31");
    expect_rolled("2025-01-01", "2025-12-31", true, "2025-06-30", "Y:2025..2025 D:2025-07-01..2025-12-31");
    expect_rolled("2025-01-01", "2025-12-31", true, "2025-01-20", "M:2025-01..2025-01 D:2025-01-21..2025-12-31");
    expect_rolled("2025-04-01", "2025-04-30", true, "2025-04-09", "M:2025-04..2025-04 D:2025-04-10..2025-04-30");
    expect_rolled("2025-04-01", "2025-04-30", true, "2025-03-31", "D:2025-04-01..2025-04-30");
    /* a period ending inside the rolled part of a month reads that month's days */
    expect_rolled("2025-04-01", "2025-04-05", true, "2025-04-09", "D:2025-04-01..2025-04-05");
    /* years before the horizon's year are whole */
    expect_rolled("2023-01-01", "2025-12-31", true, "2025-03-02",
                  "Y:2023..2025 M:2025-03..2025-03 D:2025-03-03..2025-12-31");
    /* the year's totals hold just January: they are the run for it */
    expect_rolled("2024-12-15", "2025-02-10", true, "2025-01-31",
                  "D:2024-12-15..2024-12-31 Y:2025..2025 D:2025-02-01..2025-02-10");
    /* nothing rolled, or no rollups: one run of days */
    expect_rolled("2025-01-01", "2025-12-31", true, NULL, "D:2025-01-01..2025-12-31");
    expect_rolled("2025-01-01", "2025-12-31", false, "2025-07-15", "D:2025-01-01..2025-12-31");
}

/* ---- a daily-table fixture ---- */

/* gen_bits 0: the events table as an older encore made it (no event_id, index on
 * (user_id, event_time)); otherwise with event_id and generations of 2^gen_bits rows. */
static sqlite3 *fixture_db_layout(int gen_bits)
{
    sqlite3 *db = NULL;
    T_CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
    T_CHECK(enc_sql_hll_register(db) == SQLITE_OK);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "CREATE TABLE \"EV_DAILY\" (dimension TEXT NOT NULL, key TEXT NOT NULL, day TEXT NOT NULL, "
             "plays INTEGER NOT NULL, seconds INTEGER NOT NULL, listeners BLOB NOT NULL, title TEXT, "
             "artist TEXT, PRIMARY KEY (dimension, day, key)) WITHOUT ROWID;"
             "CREATE TABLE \"EV\" (song_id TEXT, user_id TEXT, device TEXT, timestamp TEXT, "
             "_rescued_data TEXT, country TEXT, subscription TEXT, title TEXT, artist TEXT, genre TEXT, "
             "duration INTEGER, event_time TEXT%s);",
             gen_bits ? ", event_id INTEGER PRIMARY KEY" : "");
    T_CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
    T_CHECK(enc_user_index_create(db, "EV", gen_bits ? gen_bits : ENC_USER_INDEX_GEN_BITS) == SQLITE_OK);
    return db;
}

static sqlite3 *fixture_db(void)
{
    return fixture_db_layout(0);
}

/* A daily row whose sketch holds users "u<first>" .. "u<first+count-1>". */
static void daily(sqlite3 *db, const char *dim, const char *key, const char *day, int plays, int seconds, int first,
                  int count, const char *title, const char *artist)
{
    enc_hll *h = enc_hll_new();
    T_CHECK(h != NULL);
    for (int i = first; i < first + count; i++) {
        char u[32];
        int n = snprintf(u, sizeof u, "u%d", i);
        T_CHECK(enc_hll_add(h, enc_hash_bytes(u, (size_t)n, 0)) == ENC_OK);
    }
    enc_buf b;
    enc_buf_init(&b, ENC_HLL_BLOB_MAX + 64);
    T_CHECK(enc_hll_serialize(h, &b) == ENC_OK);
    sqlite3_stmt *st;
    T_CHECK(sqlite3_prepare_v2(db, "INSERT INTO \"EV_DAILY\" VALUES (?,?,?,?,?,?,?,?)", -1, &st, NULL) == SQLITE_OK);
    sqlite3_bind_text(st, 1, dim, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, day, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, plays);
    sqlite3_bind_int(st, 5, seconds);
    sqlite3_bind_blob(st, 6, b.data, (int)b.len, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, title, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, artist, -1, SQLITE_STATIC);
    T_CHECK(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_finalize(st);
    enc_buf_free(&b);
    enc_hll_free(h);
}

/* Songs A, B, C, D over April and May 2025, built so each metric ranks differently:
 *   A: 6 plays, users u0..u1 (2), 600 s          B: 4 plays, u0..u3 (4), 400 s
 *   C: 4 plays, u10..u13 (4), 1200 s              D: 2 plays, u0 (1), 0 s (unknown song)
 * A's title changed in May: the chart shows the latest. Users repeat across days, so
 * listeners must come from the union of the day sketches, not their sum. */
static sqlite3 *chart_fixture(void)
{
    sqlite3 *db = fixture_db();
    daily(db, "song", "A", "2025-04-01", 3, 300, 0, 2, "Old A", "Art");
    daily(db, "song", "A", "2025-05-01", 3, 300, 0, 2, "New A", "Art");
    daily(db, "song", "B", "2025-04-02", 2, 200, 0, 3, "Bee", "Art");
    daily(db, "song", "B", "2025-05-02", 2, 200, 1, 3, "Bee", "Art");
    daily(db, "song", "C", "2025-04-30", 4, 1200, 10, 4, "Sea, \"the\"", "Other");
    daily(db, "song", "D", "2025-05-31", 2, 0, 0, 1, NULL, NULL);
    daily(db, "artist", "Art", "2025-04-01", 7, 700, 0, 3, NULL, NULL);
    daily(db, "song", "Z", "2024-12-31", 9, 900, 0, 9, "Last year", "Old");
    return db;
}

static enc_chart chart_of(enc_chart_by by, enc_chart_metric m, const char *month)
{
    enc_chart c = {.by = by, .metric = m};
    enc_err err;
    T_CHECK(period(month ? NULL : "2025", month, NULL, NULL, NULL, &c.period, &err) == ENC_OK);
    return c;
}

static char *render(const enc_chart *c, enc_report_format f)
{
    enc_buf b;
    enc_buf_init(&b, 1 << 20);
    T_CHECK(enc_chart_render(c, f, &b) == ENC_OK);
    char *s = strdup(b.data ? b.data : "");
    enc_buf_free(&b);
    return s;
}

static void test_chart_query_metrics(void)
{
    sqlite3 *db = chart_fixture();
    enc_err err;
    const char *want[] = {
        /* plays: A 6; B and C 4 (tie on plays → key); D 2 */
        "rank,song_id,title,artist,plays,listeners,minutes\n"
        "1,A,New A,Art,6,2,10.0\n2,B,Bee,Art,4,4,6.7\n3,C,\"Sea, \"\"the\"\"\",Other,4,4,20.0\n4,D,,,2,1,0.0\n",
        /* listeners: B and C 4 with 4 plays each (→ key); A 2; D 1 */
        "rank,song_id,title,artist,plays,listeners,minutes\n"
        "1,B,Bee,Art,4,4,6.7\n2,C,\"Sea, \"\"the\"\"\",Other,4,4,20.0\n3,A,New A,Art,6,2,10.0\n4,D,,,2,1,0.0\n",
        /* minutes: C 1200 s; A 600; B 400; D 0 */
        "rank,song_id,title,artist,plays,listeners,minutes\n"
        "1,C,\"Sea, \"\"the\"\"\",Other,4,4,20.0\n2,A,New A,Art,6,2,10.0\n3,B,Bee,Art,4,4,6.7\n4,D,,,2,1,0.0\n",
    };
    for (int m = 0; m < 3; m++) {
        enc_chart c = chart_of(ENC_BY_SONG, (enc_chart_metric)m, NULL);
        T_CHECK(enc_chart_query(db, "EV", 10, &c, &err) == ENC_OK);
        char *s = render(&c, ENC_FORMAT_CSV);
        T_CHECK_STR(s, want[m]);
        free(s);
        enc_chart_free(&c);
    }
    enc_chart c = chart_of(ENC_BY_SONG, ENC_METRIC_LISTENERS, NULL);
    T_CHECK(enc_chart_query(db, "EV", 1, &c, &err) == ENC_OK);
    T_CHECK(c.n == 1 && strcmp(c.rows[0].key, "B") == 0);
    enc_chart_free(&c);

    c = chart_of(ENC_BY_SONG, ENC_METRIC_PLAYS, "2025-04");
    T_CHECK(enc_chart_query(db, "EV", 10, &c, &err) == ENC_OK);
    T_CHECK(c.n == 3);
    if (c.n == 3) {
        T_CHECK_STR(c.rows[0].key, "C"); /* April only: C 4, A 3 (title of April), B 2 */
        T_CHECK_STR(c.rows[1].title, "Old A");
        T_CHECK(c.rows[1].listeners == 2 && c.rows[2].listeners == 3);
    }
    enc_chart_free(&c);

    c = chart_of(ENC_BY_ARTIST, ENC_METRIC_PLAYS, NULL);
    T_CHECK(enc_chart_query(db, "EV", 10, &c, &err) == ENC_OK);
    T_CHECK(c.n == 1 && c.rows[0].title == NULL && c.rows[0].artist == NULL);
    T_CHECK_STR(c.title, "Artist of the Year 2025 \u2014 by plays");
    enc_chart_free(&c);

    c = chart_of(ENC_BY_GENRE, ENC_METRIC_PLAYS, NULL);
    T_CHECK(enc_chart_query(db, "EV", 10, &c, &err) == ENC_OK);
    T_CHECK(c.n == 0);
    char *s = render(&c, ENC_FORMAT_TABLE);
    T_CHECK_STR(s, "Top genres of 2025 \u2014 by plays\n\nno plays in this period\n");
    free(s);
    s = render(&c, ENC_FORMAT_JSON);
    T_CHECK_STR(s, "{\"title\":\"Top genres of 2025 \u2014 by plays\",\"by\":\"genre\",\"metric\":\"plays\","
                   "\"from\":\"2025-01-01\",\"to\":\"2025-12-31\",\"rows\":[]}\n");
    free(s);
    enc_chart_free(&c);
    sqlite3_close(db);
}

/* Every chart of the fixture, with and without the monthly and yearly totals (filled by
 * enc_rollup_open from the daily rows, as on a database's first open by `encore run`),
 * renders the same: the rollups change where totals come from, never the answer. */
static void test_chart_rollups_same_answer(void)
{
    sqlite3 *plain = chart_fixture(), *rolled = chart_fixture();
    daily(rolled, "song", "E", "2026-01-01", 1, 60, 50, 1, "Next", "Art");
    daily(plain, "song", "E", "2026-01-01", 1, 60, 50, 1, "Next", "Art");
    enc_rollup *r = NULL;
    enc_err err = {{0}};
    T_CHECK(enc_rollup_open(rolled, "EV", NULL, &r, &err) == ENC_OK);
    enc_rollup_free(r);
    sqlite3_stmt *st;
    T_CHECK(sqlite3_prepare_v2(rolled, "SELECT plays FROM \"EV_YEARLY\" WHERE dimension = 'song' AND key = 'A'", -1, &st,
                               NULL) == SQLITE_OK);
    T_CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 6);
    sqlite3_finalize(st);
    const char *spans[][2] = {{NULL, NULL},           {"2025-01-01", "2025-12-31"}, {"2025-04-01", "2025-04-30"},
                              {"2025-04-30", "2025-04-30"}, {"2024-12-31", "2025-05-01"}, {"2025-04-02", "2026-01-01"},
                              {"2024-01-01", "2026-12-31"}};
    for (size_t k = 0; k < sizeof spans / sizeof spans[0]; k++) {
        for (int by = 0; by < 2; by++) {
            for (int m = 0; m < 3; m++) {
                enc_chart a = {.by = (enc_chart_by)by, .metric = (enc_chart_metric)m}, b;
                T_CHECK(period(NULL, NULL, NULL, spans[k][0], spans[k][1], &a.period, &err) == ENC_OK);
                b = a;
                for (int64_t limit = 1; limit <= 10; limit += 9) {
                    T_CHECK(enc_chart_query(plain, "EV", limit, &a, &err) == ENC_OK);
                    T_CHECK(enc_chart_query(rolled, "EV", limit, &b, &err) == ENC_OK);
                    char *x = render(&a, ENC_FORMAT_CSV), *y = render(&b, ENC_FORMAT_CSV);
                    T_CHECK_STR(y, x);
                    T_CHECK(a.n > 0 || k == 3 || by == 1); /* every span but one day has song plays */
                    free(x);
                    free(y);
                    enc_chart_free(&a);
                    enc_chart_free(&b);
                }
            }
        }
    }
    sqlite3_close(plain);
    sqlite3_close(rolled);
}

/* Moves the daily rows of days >= from into EV_PENDING as two packs per (dimension, day),
 * as two batches would have appended them: the first with one play, no seconds and a stale
 * title (when the row has one), the second with the rest and the row's names; both with
 * the row's sketch (a union of the same set). Every fixture row has >= 2 plays. */
static void to_pending(sqlite3 *db, const char *from)
{
    enc_pending *pend = NULL;
    enc_err err = {{0}};
    T_CHECK(enc_pending_open(db, "EV", &pend, &err) == ENC_OK);
    enc_pending_free(pend);
    sqlite3_stmt *sel, *ins;
    T_CHECK(sqlite3_prepare_v2(db, "SELECT dimension, day, count(*) FROM \"EV_DAILY\" WHERE day >= ?1 GROUP BY 1, 2",
                               -1, &sel, NULL) == SQLITE_OK);
    T_CHECK(sqlite3_prepare_v2(db, "INSERT INTO \"EV_PENDING\" (dimension, day, deltas) VALUES (?,?,?)", -1, &ins,
                               NULL) == SQLITE_OK);
    sqlite3_bind_text(sel, 1, from, -1, SQLITE_STATIC);
    while (sqlite3_step(sel) == SQLITE_ROW) {
        const char *dim = (const char *)sqlite3_column_text(sel, 0), *day = (const char *)sqlite3_column_text(sel, 1);
        for (int half = 0; half < 2; half++) {
            sqlite3_stmt *rows;
            T_CHECK(sqlite3_prepare_v2(db, "SELECT key, plays, seconds, listeners, title, artist FROM \"EV_DAILY\" "
                                           "WHERE dimension = ?1 AND day = ?2 ORDER BY key", -1, &rows, NULL) == SQLITE_OK);
            sqlite3_bind_text(rows, 1, dim, -1, SQLITE_STATIC);
            sqlite3_bind_text(rows, 2, day, -1, SQLITE_STATIC);
            enc_buf b;
            enc_buf_init(&b, 1 << 20);
            T_CHECK(enc_pack_begin(&b, (size_t)sqlite3_column_int(sel, 2)) == ENC_OK);
            while (sqlite3_step(rows) == SQLITE_ROW) {
                enc_slice col[6];
                for (int i = 0; i < 6; i++)
                    col[i] = (enc_slice){sqlite3_column_blob(rows, i), (size_t)sqlite3_column_bytes(rows, i)};
                int64_t plays = sqlite3_column_int64(rows, 1), seconds = sqlite3_column_int64(rows, 2);
                enc_pack_entry e = {col[0], half ? plays - 1 : 1, half ? seconds : 0, col[3], col[4], col[5]};
                if (!half) {
                    e.title = col[4].p ? (enc_slice){"stale", 5} : col[4];
                    e.artist = (enc_slice){NULL, 0};
                }
                T_CHECK(enc_pack_put(&b, &e) == ENC_OK);
            }
            sqlite3_finalize(rows);
            sqlite3_bind_text(ins, 1, dim, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(ins, 2, day, -1, SQLITE_TRANSIENT);
            sqlite3_bind_blob(ins, 3, b.data, (int)b.len, SQLITE_TRANSIENT);
            T_CHECK(sqlite3_step(ins) == SQLITE_DONE);
            sqlite3_reset(ins);
            enc_buf_free(&b);
        }
    }
    sqlite3_finalize(sel);
    sqlite3_finalize(ins);
    char sql[128];
    snprintf(sql, sizeof sql, "DELETE FROM \"EV_DAILY\" WHERE day >= '%s'", from);
    T_CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
}

static char *daily_digest(sqlite3 *db)
{
    enc_buf b;
    enc_buf_init(&b, 1 << 20);
    sqlite3_stmt *st;
    T_CHECK(sqlite3_prepare_v2(db, "SELECT dimension || '|' || key || '|' || day || '|' || plays || '|' || seconds || "
                                   "'|' || hex(listeners) || '|' || quote(title) || '|' || quote(artist) "
                                   "FROM \"EV_DAILY\" ORDER BY dimension, day, key", -1, &st, NULL) == SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW)
        enc_buf_appendf(&b, "%s\n", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    char *s = strdup(b.data ? b.data : "");
    enc_buf_free(&b);
    return s;
}

/* Charts over days whose deltas wait in pending packs (a day with packs only, a day with
 * packs beside daily rows) equal the charts over the same deltas as daily rows; folding
 * the packs gives exactly those daily rows, sketches and latest names included. */
static void test_chart_pending_same_answer(void)
{
    sqlite3 *plain = chart_fixture(), *pend = chart_fixture();
    to_pending(pend, "2025-04-30");
    daily(pend, "song", "A", "2025-05-01", 1, 0, 0, 1, "Older A", NULL); /* beside its packs */
    sqlite3_exec(plain, "UPDATE \"EV_DAILY\" SET plays = plays + 1 WHERE day = '2025-05-01' AND key = 'A'", NULL, NULL,
                 NULL);
    const char *spans[][2] = {{NULL, NULL}, {"2025-01-01", "2025-12-31"}, {"2025-05-01", "2025-05-01"},
                              {"2025-04-30", "2025-05-02"}, {"2025-05-31", "2025-05-31"}, {"2024-01-01", "2025-04-29"}};
    enc_err err = {{0}};
    for (size_t k = 0; k < sizeof spans / sizeof spans[0]; k++) {
        for (int by = 0; by < 2; by++) {
            for (int m = 0; m < 3; m++) {
                enc_chart a = {.by = (enc_chart_by)by, .metric = (enc_chart_metric)m}, b;
                T_CHECK(period(NULL, NULL, NULL, spans[k][0], spans[k][1], &a.period, &err) == ENC_OK);
                b = a;
                T_CHECK(enc_chart_query(plain, "EV", 10, &a, &err) == ENC_OK);
                T_CHECK(enc_chart_query(pend, "EV", 10, &b, &err) == ENC_OK);
                char *x = render(&a, ENC_FORMAT_CSV), *y = render(&b, ENC_FORMAT_CSV);
                T_CHECK_STR(y, x);
                free(x);
                free(y);
                enc_chart_free(&a);
                enc_chart_free(&b);
            }
        }
    }
    enc_pending *p = NULL;
    T_CHECK(enc_pending_open(pend, "EV", &p, &err) == ENC_OK);
    T_CHECK(sqlite3_exec(pend, "BEGIN", NULL, NULL, NULL) == SQLITE_OK);
    T_CHECK(enc_pending_fold_through(p, enc_ts_days_from_civil(2025, 5, 1), &err) == ENC_OK);
    T_CHECK(sqlite3_exec(pend, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_stmt *st;
    T_CHECK(sqlite3_prepare_v2(pend, "SELECT min(day), count(*) FROM \"EV_PENDING\"", -1, &st, NULL) == SQLITE_OK);
    T_CHECK(sqlite3_step(st) == SQLITE_ROW);
    T_CHECK_STR((const char *)sqlite3_column_text(st, 0), "2025-05-02"); /* folded through 05-01 only */
    sqlite3_finalize(st);
    T_CHECK(enc_pending_fold_through(p, enc_ts_days_from_civil(9999, 12, 31), &err) == ENC_OK);
    enc_pending_free(p);
    char *x = daily_digest(plain), *y = daily_digest(pend);
    T_CHECK_STR(y, x);
    T_CHECK(strstr(y, "New A") != NULL && strstr(y, "stale") == NULL && strstr(y, "Older A") == NULL);
    free(x);
    free(y);
    sqlite3_close(plain);
    sqlite3_close(pend);
}

/* A corrupt pack fails the chart with a reason, never a crash or a wrong answer. */
static void test_chart_corrupt_pack(void)
{
    sqlite3 *db = chart_fixture();
    to_pending(db, "2025-05-01");
    T_CHECK(sqlite3_exec(db, "UPDATE \"EV_PENDING\" SET deltas = x'0102' WHERE rowid = (SELECT max(rowid) FROM "
                             "\"EV_PENDING\")", NULL, NULL, NULL) == SQLITE_OK);
    enc_chart c = chart_of(ENC_BY_SONG, ENC_METRIC_PLAYS, "2025-05");
    enc_err err = {{0}};
    T_CHECK(enc_chart_query(db, "EV", 10, &c, &err) == ENC_ERROR);
    T_CHECK(strstr(err.msg, "pack") != NULL);
    enc_chart_free(&c);
    sqlite3_close(db);
}

/* Ranking by listeners stops at the first key whose plays cannot place; the keys it
 * skips would not have placed. 200 songs, song k with k + 1 plays by k + 1 users. */
static void test_chart_listeners_pruned(void)
{
    sqlite3 *db = fixture_db();
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    for (int k = 0; k < 200; k++) {
        char key[16];
        snprintf(key, sizeof key, "K%03d", k);
        daily(db, "song", key, "2025-03-03", k + 1, 0, 1000 * k, k + 1, NULL, NULL);
    }
    /* one song with the most plays, all by one user: visited first, ranked near last */
    daily(db, "song", "ZZ", "2025-03-03", 5000, 0, 0, 1, NULL, NULL);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    enc_chart c = chart_of(ENC_BY_SONG, ENC_METRIC_LISTENERS, "2025-03");
    enc_err err;
    T_CHECK(enc_chart_query(db, "EV", 3, &c, &err) == ENC_OK);
    T_CHECK(c.n == 3);
    if (c.n == 3) {
        T_CHECK_STR(c.rows[0].key, "K199");
        T_CHECK_STR(c.rows[1].key, "K198");
        T_CHECK_STR(c.rows[2].key, "K197");
        T_CHECK(c.rows[0].listeners == 200 && c.rows[2].plays == 198);
    }
    enc_chart_free(&c);
    T_CHECK(enc_chart_query(db, "EV", 250, &c, &err) == ENC_OK);
    T_CHECK(c.n == 201);
    if (c.n == 201) {
        T_CHECK_STR(c.rows[199].key, "ZZ"); /* 1 listener, 5000 plays: before K000 (1, 1) */
        T_CHECK_STR(c.rows[200].key, "K000");
    }
    enc_chart_free(&c);
    sqlite3_close(db);
}

static void test_chart_listeners_estimate(void)
{
    /* 30 days of 2000 users each, sliding by 500 a day: 16500 distinct in all (dense). */
    sqlite3 *db = fixture_db();
    char day[16];
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    for (int d = 0; d < 30; d++) {
        snprintf(day, sizeof day, "2025-06-%02d", d + 1);
        daily(db, "country", "SE", day, 2000, 0, d * 500, 2000, NULL, NULL);
    }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    enc_chart c = chart_of(ENC_BY_COUNTRY, ENC_METRIC_LISTENERS, "2025-06");
    enc_err err;
    T_CHECK(enc_chart_query(db, "EV", 10, &c, &err) == ENC_OK);
    T_CHECK(c.n == 1);
    if (c.n == 1) {
        double rel = ((double)c.rows[0].listeners - 16500.0) / 16500.0;
        printf("  report: 30 daily sketches, 16500 distinct users: estimate %" PRId64 " (%+.2f %%)\n",
               c.rows[0].listeners, rel * 100);
        T_CHECK(rel > -0.04 && rel < 0.04);
        T_CHECK(c.rows[0].plays == 60000);
    }
    enc_chart_free(&c);
    sqlite3_close(db);
}

static void test_chart_corrupt_sketch(void)
{
    sqlite3 *db = fixture_db();
    T_CHECK(sqlite3_exec(db,
                         "INSERT INTO \"EV_DAILY\" VALUES ('song','A','2025-01-01',1,1,x'0102ff',NULL,NULL);"
                         "INSERT INTO \"EV_DAILY\" VALUES ('song','B','2025-01-01',2,1,x'',NULL,NULL);",
                         NULL, NULL, NULL) == SQLITE_OK);
    for (int m = 0; m < 2; m++) {
        enc_chart c = chart_of(ENC_BY_SONG, (enc_chart_metric)m, NULL);
        enc_err err = {{0}};
        T_CHECK(enc_chart_query(db, "EV", 10, &c, &err) == ENC_ERROR);
        T_CHECK(c.n == 0 && c.rows == NULL);
        T_CHECK(strstr(err.msg, "reading the chart") != NULL);
    }
    enc_chart c = chart_of(ENC_BY_SONG, ENC_METRIC_PLAYS, NULL);
    enc_err err = {{0}};
    T_CHECK(enc_chart_query(db, "NOPE", 10, &c, &err) == ENC_ERROR);
    T_CHECK(strstr(err.msg, "no such table") != NULL);
    T_CHECK(enc_chart_query(db, "EV", 0, &c, &err) == ENC_ERROR);
    T_CHECK(enc_chart_query(db, "EV", ENC_REPORT_LIMIT_MAX + 1, &c, &err) == ENC_ERROR);
    sqlite3_close(db);
}

/* ---- rendering ---- */

static enc_chart_row row(const char *key, const char *title, const char *artist, int64_t plays, int64_t l, int64_t s)
{
    enc_chart_row r = {.key = (char *)key,
                       .title = (char *)title,
                       .artist = (char *)artist,
                       .plays = plays,
                       .listeners = l,
                       .seconds = s};
    return r;
}

static void test_render_table(void)
{
    enc_chart_row rows[] = {
        row("S1", "Caf\xc3\xa9 \xe6\x9d\xb1\xe4\xba\xac", "A\tB", 1234, 56, 135), /* é, 東京 (wide), a tab */
        row("S2", "bad \xff utf8\n", NULL, 7, 7, 3),                              /* invalid byte, newline */
        row("S3", "0123456789012345678901234567890123456789ABCDEF", "\x1b[31mred", 2, 1, 2), /* too long, ESC */
    };
    enc_chart c = chart_of(ENC_BY_SONG, ENC_METRIC_PLAYS, NULL);
    c.rows = rows;
    c.n = 3;
    snprintf(c.title, sizeof c.title, "T");
    char *s = render(&c, ENC_FORMAT_TABLE);
    T_CHECK_STR(
        s,
        "T\n\n"
        "rank  song_id  title                                     artist     plays  listeners  minutes\n"
        "   1  S1       Caf\xc3\xa9 \xe6\x9d\xb1\xe4\xba\xac                                 A B         1234         "
        "56      2.3\n"
        "   2  S2       bad \xef\xbf\xbd utf8                                (unknown)      7          7      0.1\n"
        "   3  S3       012345678901234567890123456789012345678\xe2\x80\xa6   [31mred       2          1      0.0\n");
    free(s);
}

static void test_render_csv_json(void)
{
    enc_chart_row rows[] = {
        row("a,b", "say \"hi\"\r\n", NULL, 1, 1, 59),
        row("plain", "x", "y", 0, 0, 0),
    };
    enc_chart c = chart_of(ENC_BY_SONG, ENC_METRIC_MINUTES, NULL);
    c.rows = rows;
    c.n = 2;
    snprintf(c.title, sizeof c.title, "Q \"t\"");
    char *s = render(&c, ENC_FORMAT_CSV);
    T_CHECK_STR(s, "rank,song_id,title,artist,plays,listeners,minutes\n"
                   "1,\"a,b\",\"say \"\"hi\"\"\r\n\",,1,1,1.0\n"
                   "2,plain,x,y,0,0,0.0\n");
    free(s);
    s = render(&c, ENC_FORMAT_JSON);
    T_CHECK_STR(s, "{\"title\":\"Q \\\"t\\\"\",\"by\":\"song\",\"metric\":\"minutes\",\"from\":\"2025-01-01\","
                   "\"to\":\"2025-12-31\",\"rows\":[\n"
                   "{\"rank\":1,\"song_id\":\"a,b\",\"title\":\"say \\\"hi\\\"\\r\\n\",\"artist\":null,\"plays\":1,"
                   "\"listeners\":1,\"minutes\":1.0},\n"
                   "{\"rank\":2,\"song_id\":\"plain\",\"title\":\"x\",\"artist\":\"y\",\"plays\":0,\"listeners\":0,"
                   "\"minutes\":0.0}\n]}\n");
    free(s);

    enc_chart_row one[] = {row("pop", NULL, NULL, 3, 2, 90)};
    enc_chart g = chart_of(ENC_BY_GENRE, ENC_METRIC_PLAYS, NULL);
    g.rows = one;
    g.n = 1;
    s = render(&g, ENC_FORMAT_CSV);
    T_CHECK_STR(s, "rank,genre,plays,listeners,minutes\n1,pop,3,2,1.5\n");
    free(s);
}

static void test_minutes_rounding(void)
{
    /* seconds → one-decimal minutes, half up: 3 s = 0.05 → 0.1; 2 s → 0.0; 135 s = 2.25 → 2.3 */
    static const struct {
        int64_t s;
        const char *want;
    } cases[] = {{0, "0.0"},     {2, "0.0"},   {3, "0.1"},
                 {59, "1.0"},    {60, "1.0"},  {135, "2.3"},
                 {3597, "60.0"}, {-3, "-0.1"}, {INT64_MAX, "153722867280912930.1"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enc_chart_row r[] = {row("k", NULL, NULL, 1, 1, cases[i].s)};
        enc_chart c = chart_of(ENC_BY_DEVICE, ENC_METRIC_PLAYS, NULL);
        c.rows = r;
        c.n = 1;
        char *s = render(&c, ENC_FORMAT_CSV);
        char want[128];
        snprintf(want, sizeof want, "rank,device,plays,listeners,minutes\n1,k,1,1,%s\n", cases[i].want);
        T_CHECK_STR(s, want);
        free(s);
    }
}

static void test_render_cap(void)
{
    enc_chart_row rows[] = {row("k", NULL, NULL, 1, 1, 1)};
    enc_chart c = chart_of(ENC_BY_GENRE, ENC_METRIC_PLAYS, NULL);
    c.rows = rows;
    c.n = 1;
    for (int f = 0; f < 3; f++) {
        enc_buf b;
        enc_buf_init(&b, 20);
        T_CHECK(enc_chart_render(&c, (enc_report_format)f, &b) == ENC_ERROR);
        enc_buf_free(&b);
    }
}

/* ---- wrapped ---- */

/* The wrapped fixture in a layout (see fixture_db_layout). Between "me"'s plays come
 * plays of other users, so that with small generations "me" has rows in many of them. */
static sqlite3 *wrapped_fixture_layout(int gen_bits)
{
    sqlite3 *db = fixture_db_layout(gen_bits);
    static const char *const others[] = {"a", "zz", "mf", "me ", "m"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        fixture_play(db, others[i], "s1", "Ann", "pop", "mobile", 200, "2025-02-01 00:00:00");
    fixture_play(db, "me", "s1", "Ann", "pop", "mobile", 200, "2025-01-01 00:00:00");
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        fixture_play(db, others[i], "s2", "Bob", "rock", "web", 100, "2025-03-01 00:00:00");
    fixture_play(db, "me", "s1", "Ann", "pop", "mobile", 200, "2025-03-01 10:00:00");
    fixture_play(db, "me", "s2", "Bob", "rock", "web", 100, "2025-03-02 10:00:00");
    fixture_play(db, "me", "s2", "Bob", "rock", "web", 100, "2025-03-03 10:00:00");
    fixture_play(db, "me", "s3", "Bob", "jazz", "tv", -1, "2025-06-01 10:00:00.5");   /* unknown duration */
    fixture_play(db, "me", "s9", NULL, NULL, "tv", -1, "2025-12-31 23:59:59.999999"); /* unknown song */
    fixture_play(db, "me", "s4", "Cy", "jazz", "mobile", 60, "2025-07-01 10:00:00");
    fixture_play(db, "me", "s5", "Di", "pop", "tv", 60, "2025-07-02 10:00:00");
    fixture_play(db, "me", "s6", "Ed", "pop", "web", 60, "2025-07-03 10:00:00");
    fixture_play(db, "me", "s7", "Fa", "pop", "web", 60, "2025-07-04 10:00:00");
    fixture_play(db, "me", "s1", "Ann", "pop", "mobile", 200, "2024-12-31 23:59:59.999999"); /* other years */
    fixture_play(db, "me", "s1", "Ann", "pop", "mobile", 200, "2026-01-01 00:00:00");
    fixture_play(db, "you", "s1", "Ann", "pop", "mobile", 200, "2025-05-05 05:05:05");
    fixture_play(db, "max", "s1", "Ann", "pop", "mobile", 90, "9999-12-31 23:59:59");
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        fixture_play(db, others[i], "s3", "Bob", "jazz", "tv", 60, "2025-12-01 00:00:00");
    return db;
}

static sqlite3 *wrapped_fixture(void)
{
    return wrapped_fixture_layout(0);
}

/* The same answers in every layout: the old index, generations of 2 and 8 rows (the
 * user's plays in several), and the default (all in one). */
static void wrapped_query_in(int gen_bits)
{
    sqlite3 *db = wrapped_fixture_layout(gen_bits);
    enc_user_index ix;
    enc_err err;
    T_CHECK(enc_user_index_read(db, "EV", &ix, &err) == ENC_OK);
    T_CHECK(ix.generations == (gen_bits != 0) && ix.gen_bits == gen_bits);
    enc_wrapped w;
    T_CHECK(enc_wrapped_query(db, "EV", "me", 2025, &w, &err) == ENC_OK);
    T_CHECK(w.plays == 10);
    T_CHECK(w.seconds == 200 * 2 + 100 * 2 + 60 * 4);
    T_CHECK(w.songs == 8);
    T_CHECK(w.artists == 6);
    T_CHECK_STR(w.top_genre, "pop");  /* pop 5, rock 2, jazz 2 */
    T_CHECK_STR(w.top_device, "web"); /* web 4, mobile 3, tv 3 */
    T_CHECK(w.n_songs == 5 && w.n_artists == 5);
    if (w.n_songs == 5 && w.n_artists == 5) {
        T_CHECK_STR(w.top_songs[0].song_id, "s1");
        T_CHECK_STR(w.top_songs[0].title, "Ts1");
        T_CHECK(w.top_songs[0].plays == 2);
        T_CHECK_STR(w.top_songs[1].song_id, "s2");
        T_CHECK_STR(w.top_songs[2].song_id, "s3"); /* ties at 1 play: by song_id */
        T_CHECK_STR(w.top_songs[4].song_id, "s5");
        T_CHECK_STR(w.top_artists[0].name, "Bob"); /* Bob 3 */
        T_CHECK(w.top_artists[0].plays == 3);
        T_CHECK_STR(w.top_artists[1].name, "Ann");
        T_CHECK_STR(w.top_artists[2].name, "Cy");
        T_CHECK_STR(w.top_artists[4].name, "Ed");
    }
    enc_buf b;
    enc_buf_init(&b, 1 << 16);
    T_CHECK(enc_wrapped_render(&w, ENC_FORMAT_TABLE, &b) == ENC_OK);
    T_CHECK_STR(b.data, "me's 2025, wrapped\n\n"
                        "  minutes listened   14.0\n"
                        "  plays              10\n"
                        "  different songs    8\n"
                        "  different artists  6\n"
                        "  top genre          pop\n"
                        "  most-used device   web\n\n"
                        "  top songs\n"
                        "    1. Ts1 \u2014 Ann \u00b7 2 plays\n"
                        "    2. Ts2 \u2014 Bob \u00b7 2 plays\n"
                        "    3. Ts3 \u2014 Bob \u00b7 1 play\n"
                        "    4. Ts4 \u2014 Cy \u00b7 1 play\n"
                        "    5. Ts5 \u2014 Di \u00b7 1 play\n\n"
                        "  top artists\n"
                        "    1. Bob \u00b7 3 plays\n"
                        "    2. Ann \u00b7 2 plays\n"
                        "    3. Cy \u00b7 1 play\n"
                        "    4. Di \u00b7 1 play\n"
                        "    5. Ed \u00b7 1 play\n");
    enc_buf_free(&b);
    enc_wrapped_free(&w);

    T_CHECK(enc_wrapped_query(db, "EV", "max", 9999, &w, &err) == ENC_OK);
    T_CHECK(w.plays == 1 && w.seconds == 90);
    enc_buf_init(&b, 1 << 16);
    T_CHECK(enc_wrapped_render(&w, ENC_FORMAT_JSON, &b) == ENC_OK);
    T_CHECK_STR(b.data, "{\"user\":\"max\",\"year\":9999,\"minutes\":1.5,\"plays\":1,\"songs\":1,\"artists\":1,"
                        "\"top_genre\":\"pop\",\"top_device\":\"mobile\",\"top_songs\":[{\"rank\":1,\"song_id\":"
                        "\"s1\",\"title\":\"Ts1\",\"artist\":\"Ann\",\"plays\":1}],\"top_artists\":[{\"rank\":1,"
                        "\"artist\":\"Ann\",\"plays\":1}]}\n");
    enc_buf_free(&b);
    enc_wrapped_free(&w);

    T_CHECK(enc_wrapped_query(db, "EV", "me", 2024, &w, &err) == ENC_OK);
    T_CHECK(w.plays == 1);
    enc_wrapped_free(&w);
    T_CHECK(enc_wrapped_query(db, "EV", "me'--", 2025, &w, &err) == ENC_OK);
    T_CHECK(w.plays == 0 && w.n_songs == 0 && w.top_genre == NULL);
    enc_buf_init(&b, 1 << 16);
    T_CHECK(enc_wrapped_render(&w, ENC_FORMAT_TABLE, &b) == ENC_OK);
    T_CHECK_STR(b.data, "No plays by me'-- in 2025: nothing to wrap yet.\n");
    enc_buf_free(&b);
    enc_wrapped_free(&w);
    T_CHECK(enc_wrapped_query(db, "NOPE", "me", 2025, &w, &err) == ENC_ERROR);
    T_CHECK(strstr(err.msg, "no such table") != NULL);
    T_CHECK(enc_wrapped_query(db, "EV", "me", 0, &w, &err) == ENC_ERROR);

    sqlite3_close(db);
}

static void test_wrapped_query(void)
{
    wrapped_query_in(0);
    wrapped_query_in(1);
    wrapped_query_in(3);
    wrapped_query_in(ENC_USER_INDEX_GEN_BITS);
}

/* ---- files ---- */

static void test_open(void)
{
    char dir[] = "/tmp/encore-report.XXXXXX";
    T_CHECK(mkdtemp(dir) != NULL);
    char path[256];
    sqlite3 *db = NULL;
    enc_err err = {{0}};

    snprintf(path, sizeof path, "%s/none.db", dir);
    T_CHECK(enc_report_open(path, &db, &err) == ENC_ERROR && db == NULL);
    T_CHECK(strstr(err.msg, "not found") != NULL);
    T_CHECK(access(path, F_OK) != 0);

    T_CHECK(enc_report_open(dir, &db, &err) == ENC_ERROR && db == NULL);
    T_CHECK(strstr(err.msg, "is not a database file") != NULL);

    snprintf(path, sizeof path, "%s/text.db", dir);
    FILE *f = fopen(path, "w");
    fputs("this is not an sqlite file, but it is long enough to have a header.....................", f);
    fclose(f);
    T_CHECK(enc_report_open(path, &db, &err) == ENC_ERROR && db == NULL);
    T_CHECK(strstr(err.msg, "file is not a database") != NULL);
    unlink(path);

    snprintf(path, sizeof path, "%s/ok.db", dir);
    sqlite3 *w;
    T_CHECK(sqlite3_open(path, &w) == SQLITE_OK);
    T_CHECK(sqlite3_exec(w, "PRAGMA journal_mode=WAL; CREATE TABLE \"EV_DAILY\" (a)", NULL, NULL, NULL) == SQLITE_OK);
    T_CHECK(enc_report_open(path, &db, &err) == ENC_OK && db != NULL);
    bool exists = false;
    T_CHECK(enc_report_table_exists(db, "EV_DAILY", &exists, &err) == ENC_OK && exists);
    T_CHECK(enc_report_table_exists(db, "ev_daily", &exists, &err) == ENC_OK);
    T_CHECK(enc_report_table_exists(db, "EV", &exists, &err) == ENC_OK && !exists);
    T_CHECK(sqlite3_exec(db, "SELECT encore_hll_count(NULL)", NULL, NULL, NULL) == SQLITE_OK);
    T_CHECK(sqlite3_exec(db, "CREATE TABLE x (a)", NULL, NULL, NULL) == SQLITE_READONLY);
    sqlite3_close(db);
    sqlite3_close(w);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    T_CHECK(system(cmd) == 0);
}

/* ---- allocation failures ---- */

static void test_alloc_failures(void)
{
    sqlite3 *db = chart_fixture();
    sqlite3 *wdb = wrapped_fixture();
    int ok_chart = 0, ok_wrapped = 0;
    long n;
    for (n = 0; n < 2000 && !(ok_chart && ok_wrapped); n++) {
        for (int m = 0; m < 3; m++) {
            enc_chart c = chart_of(ENC_BY_SONG, (enc_chart_metric)m, NULL);
            enc_err err;
            enc_alloc_fail_after(n);
            enc_status rc = enc_chart_query(db, "EV", 10, &c, &err);
            enc_buf b;
            enc_buf_init(&b, 1 << 16);
            if (rc == ENC_OK)
                rc = enc_chart_render(&c, ENC_FORMAT_TABLE, &b);
            enc_alloc_fail_after(-1);
            if (rc == ENC_OK && m == 2)
                ok_chart = 1;
            T_CHECK(rc == ENC_OK || rc == ENC_ERROR);
            enc_buf_free(&b);
            enc_chart_free(&c);
        }
        enc_wrapped w;
        enc_err err;
        enc_alloc_fail_after(n);
        enc_status rc = enc_wrapped_query(wdb, "EV", "me", 2025, &w, &err);
        enc_alloc_fail_after(-1);
        if (rc == ENC_OK) {
            ok_wrapped = 1;
            T_CHECK(w.plays == 10 && w.n_songs == 5);
        }
        enc_wrapped_free(&w);
    }
    T_CHECK(ok_chart && ok_wrapped);
    sqlite3_close(db);
    sqlite3_close(wdb);
}

int main(void)
{
    T_RUN(test_period_forms);
    T_RUN(test_period_errors);
    T_RUN(test_names);
    T_RUN(test_titles);
    T_RUN(test_period_segments);
    T_RUN(test_chart_query_metrics);
    T_RUN(test_chart_rollups_same_answer);
    T_RUN(test_period_segments_horizon);
    T_RUN(test_chart_pending_same_answer);
    T_RUN(test_chart_corrupt_pack);
    T_RUN(test_chart_listeners_pruned);
    T_RUN(test_chart_listeners_estimate);
    T_RUN(test_chart_corrupt_sketch);
    T_RUN(test_render_table);
    T_RUN(test_render_csv_json);
    T_RUN(test_minutes_rounding);
    T_RUN(test_render_cap);
    T_RUN(test_wrapped_query);
    T_RUN(test_open);
    T_RUN(test_alloc_failures);
    return t_summary("report");
}

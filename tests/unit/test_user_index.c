/* test_user_index — unit tests for src/user_index.c: creating TABLE_BY_USER in the
 * table's layout, reading the layout back, the query plan of its query shape (index
 * ranges, no table scan), and `encore wrapped` giving the same answers on the
 * generations layout, the old (user_id, event_time) layout and a recomputation from the
 * rows without any index, over many generations of random plays.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "fixture_sql.h"
#include "wrapped.h"
#include "user_index.h"

/* gen_bits 0: no event_id column (a table an older encore made). */
static sqlite3 *events_db(int gen_bits, bool with_index)
{
    sqlite3 *db = NULL;
    T_CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
    char sql[512];
    snprintf(sql, sizeof sql,
             "CREATE TABLE \"EV\" (song_id TEXT, user_id TEXT, device TEXT, timestamp TEXT, _rescued_data TEXT, "
             "country TEXT, subscription TEXT, title TEXT, artist TEXT, genre TEXT, duration INTEGER, "
             "event_time TEXT%s)",
             gen_bits ? ", event_id INTEGER PRIMARY KEY" : "");
    T_CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
    if (with_index)
        T_CHECK(enc_user_index_create(db, "EV", gen_bits ? gen_bits : ENC_USER_INDEX_GEN_BITS) == SQLITE_OK);
    return db;
}

static enc_user_index read_layout(sqlite3 *db)
{
    enc_user_index ix = {.generations = true, .gen_bits = -5};
    enc_err err;
    T_CHECK(enc_user_index_read(db, "EV", &ix, &err) == ENC_OK);
    return ix;
}

static void test_layouts(void)
{
    sqlite3 *db = events_db(16, true);
    enc_user_index ix = read_layout(db);
    T_CHECK(ix.generations && ix.gen_bits == 16);
    /* an existing index is kept: the value the database was made with stays */
    T_CHECK(enc_user_index_create(db, "EV", 8) == SQLITE_OK);
    ix = read_layout(db);
    T_CHECK(ix.generations && ix.gen_bits == 16);
    /* --table names a table case-insensitively, as SQLite does */
    enc_err err;
    T_CHECK(enc_user_index_read(db, "ev", &ix, &err) == ENC_OK);
    T_CHECK(ix.generations && ix.gen_bits == 16);
    sqlite3_close(db);

    db = events_db(0, true); /* old table: old index */
    ix = read_layout(db);
    T_CHECK(!ix.generations && ix.gen_bits == 0);
    sqlite3_stmt *st;
    T_CHECK(sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_schema WHERE name = 'EV_BY_USER'", -1, &st, NULL) ==
            SQLITE_OK);
    T_CHECK(sqlite3_step(st) == SQLITE_ROW);
    T_CHECK_STR((const char *)sqlite3_column_text(st, 0), "CREATE INDEX \"EV_BY_USER\" ON \"EV\" (user_id, event_time)");
    sqlite3_finalize(st);
    sqlite3_close(db);

    db = events_db(4, false); /* no index at all */
    ix = read_layout(db);
    T_CHECK(!ix.generations);
    /* an index of another shape under the name: not the generations layout */
    T_CHECK(sqlite3_exec(db, "CREATE INDEX \"EV_BY_USER\" ON \"EV\" (\"event_id\" >> 4, user_id)", NULL, NULL,
                         NULL) == SQLITE_OK);
    ix = read_layout(db);
    T_CHECK(!ix.generations);
    sqlite3_close(db);

    db = events_db(4, false);
    T_CHECK(enc_user_index_create(db, "EV", 0) == SQLITE_MISUSE);
    T_CHECK(enc_user_index_create(db, "EV", ENC_USER_INDEX_GEN_BITS_MAX + 1) == SQLITE_MISUSE);
    T_CHECK(enc_user_index_create(db, "EV", ENC_USER_INDEX_GEN_BITS_MAX) == SQLITE_OK);
    ix = read_layout(db);
    T_CHECK(ix.generations && ix.gen_bits == ENC_USER_INDEX_GEN_BITS_MAX);
    sqlite3_close(db);

    char small[40];
    ix = (enc_user_index){.generations = true, .gen_bits = 16};
    T_CHECK(enc_user_index_from(&ix, "EV", small, sizeof small, &err) == ENC_ERROR);
}

/* EXPLAIN QUERY PLAN of the wrapped query's read: every row through TABLE_BY_USER. */
static void expect_plan(int gen_bits, const char *search)
{
    sqlite3 *db = events_db(gen_bits, true);
    enc_user_index ix = read_layout(db);
    char from[1024], sql[1400];
    enc_err err;
    T_CHECK(enc_user_index_from(&ix, "EV", from, sizeof from, &err) == ENC_OK);
    /* what report.c's wrapped reads into its `mine` */
    snprintf(sql, sizeof sql, "EXPLAIN QUERY PLAN SELECT song_id, title, artist, genre, device, duration %s", from);
    sqlite3_stmt *st;
    T_CHECK(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
    bool searched = false, scanned = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *line = (const char *)sqlite3_column_text(st, 3);
        searched |= strcmp(line, search) == 0;
        scanned |= strncmp(line, "SCAN EV", 7) == 0;
    }
    sqlite3_finalize(st);
    T_CHECK(searched);
    T_CHECK(!scanned);
    sqlite3_close(db);
}

static void test_plans(void)
{
    expect_plan(0, "SEARCH EV USING INDEX EV_BY_USER (user_id=? AND event_time>? AND event_time<?)");
    expect_plan(16, "SEARCH EV USING INDEX EV_BY_USER (<expr>=? AND user_id=? AND event_time>? AND event_time<?)");
}

/* ---- the same wrapped in every layout ---- */

static uint64_t rng = 88172645463325252ull;
static unsigned next_rand(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

/* NPLAYS random plays by NUSERS users over 2024..2026, the same into each database. */
enum { NPLAYS = 3000, NUSERS = 12 };
static void insert_plays(sqlite3 **dbs, size_t ndb)
{
    static const char *const artists[] = {"Ann", "Bob", "Cy", "Di", NULL};
    static const char *const genres[] = {"pop", "rock", "jazz", NULL};
    static const char *const devices[] = {"web", "tv", "mobile", NULL};
    for (size_t d = 0; d < ndb; d++)
        T_CHECK(sqlite3_exec(dbs[d], "BEGIN", NULL, NULL, NULL) == SQLITE_OK);
    for (int i = 0; i < NPLAYS; i++) {
        char user[16], song[16], time[32];
        snprintf(user, sizeof user, "u%u", next_rand(NUSERS));
        unsigned s = next_rand(40);
        snprintf(song, sizeof song, "s%u", s);
        snprintf(time, sizeof time, "%u-%02u-%02u %02u:00:00", 2024 + next_rand(3), 1 + next_rand(12),
                 1 + next_rand(28), next_rand(24));
        const char *artist = artists[s % 5], *genre = genres[next_rand(4)], *device = devices[next_rand(4)];
        int duration = next_rand(5) == 0 ? -1 : (int)next_rand(400);
        for (size_t d = 0; d < ndb; d++)
            fixture_play(dbs[d], user, song, artist, genre, device, duration, time);
    }
    for (size_t d = 0; d < ndb; d++)
        T_CHECK(sqlite3_exec(dbs[d], "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool same_wrapped(const enc_wrapped *a, const enc_wrapped *b)
{
    bool same = a->plays == b->plays && a->seconds == b->seconds && a->songs == b->songs &&
                a->artists == b->artists && a->n_songs == b->n_songs && a->n_artists == b->n_artists &&
                same_str(a->top_genre, b->top_genre) && same_str(a->top_device, b->top_device);
    for (size_t i = 0; same && i < a->n_songs; i++)
        same = same_str(a->top_songs[i].song_id, b->top_songs[i].song_id) &&
               same_str(a->top_songs[i].title, b->top_songs[i].title) &&
               same_str(a->top_songs[i].artist, b->top_songs[i].artist) && a->top_songs[i].plays == b->top_songs[i].plays;
    for (size_t i = 0; same && i < a->n_artists; i++)
        same = same_str(a->top_artists[i].name, b->top_artists[i].name) &&
               a->top_artists[i].plays == b->top_artists[i].plays;
    return same;
}

/* One text line of the user's year computed from every row, no index: plays, seconds,
 * distinct songs, distinct artists, the top song and its plays. */
static void recompute(sqlite3 *db, const char *user, int year, char *out, size_t size)
{
    sqlite3_stmt *st;
    T_CHECK(sqlite3_prepare_v2(
                db,
                "WITH mine AS (SELECT * FROM \"EV\" NOT INDEXED WHERE user_id = ?1 AND "
                "CAST(strftime('%Y', event_time) AS INTEGER) = ?2), "
                "top AS (SELECT song_id, count(*) AS n FROM mine GROUP BY song_id ORDER BY n DESC, song_id LIMIT 1) "
                "SELECT (SELECT count(*) FROM mine) || '|' || (SELECT coalesce(sum(duration), 0) FROM mine) || '|' || "
                "(SELECT count(DISTINCT song_id) FROM mine) || '|' || (SELECT count(DISTINCT artist) FROM mine) || "
                "'|' || coalesce((SELECT song_id || ':' || n FROM top), '-')",
                -1, &st, NULL) == SQLITE_OK);
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, year);
    T_CHECK(sqlite3_step(st) == SQLITE_ROW);
    snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

static void summary_of(const enc_wrapped *w, char *out, size_t size)
{
    char top[64] = "-";
    if (w->n_songs)
        snprintf(top, sizeof top, "%s:%lld", w->top_songs[0].song_id, (long long)w->top_songs[0].plays);
    snprintf(out, size, "%lld|%lld|%lld|%lld|%s", (long long)w->plays, (long long)w->seconds, (long long)w->songs,
             (long long)w->artists, top);
}

static void test_layouts_agree(void)
{
    /* 3000 rows: generations of 32 rows (94 of them, every user in most) and 1024 (3) */
    sqlite3 *dbs[3] = {events_db(0, true), events_db(5, true), events_db(10, true)};
    insert_plays(dbs, 3);
    enc_user_index ix = read_layout(dbs[1]);
    T_CHECK(ix.generations && ix.gen_bits == 5);
    int compared = 0, with_plays = 0;
    for (int u = 0; u <= NUSERS; u++) { /* u == NUSERS: a user with no plays */
        char user[16];
        snprintf(user, sizeof user, "u%d", u);
        for (int year = 2023; year <= 2027; year++) {
            enc_wrapped w[3];
            enc_err err;
            for (int d = 0; d < 3; d++)
                T_CHECK(enc_wrapped_query(dbs[d], "EV", user, year, &w[d], &err) == ENC_OK);
            T_CHECK(same_wrapped(&w[0], &w[1]));
            T_CHECK(same_wrapped(&w[0], &w[2]));
            char want[128], got[128];
            recompute(dbs[0], user, year, want, sizeof want);
            summary_of(&w[1], got, sizeof got);
            T_CHECK_STR(got, want);
            compared++;
            with_plays += w[1].plays > 0;
            for (int d = 0; d < 3; d++)
                enc_wrapped_free(&w[d]);
        }
    }
    T_CHECK(compared == (NUSERS + 1) * 5);
    T_CHECK(with_plays == NUSERS * 3);
    for (int d = 0; d < 3; d++)
        sqlite3_close(dbs[d]);
}

int main(void)
{
    T_RUN(test_layouts);
    T_RUN(test_plans);
    T_RUN(test_layouts_agree);
    return t_summary("user_index");
}

/* wrapped — one user's year (`encore wrapped`), read through TABLE_BY_USER in whichever
 * layout the table has (user_index.c shapes the query).
 */
#include "wrapped.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "user_index.h"

enum { SQL_MAX = 2048 };

/* One statement reads the user's rows of the year once, through TABLE_BY_USER ("%s" is
 * the FROM … WHERE that enc_user_index_from shapes for the table's layout: one range per
 * ingestion generation, or one range of an older table's (user_id, event_time) index),
 * into `mine`, and answers every part of the wrapped from it. Each row is (part, key,
 * title, artist, plays, seconds, songs, artists); part 0 is the totals, the others the
 * top songs, artists, genre and device in rank order. Five queries, one per part, each
 * seeking every generation, took twice as long on 1519 and on 24000 generations
 * (bench/RESULTS.md, session 4). */
enum { PART_TOTALS, PART_SONGS, PART_ARTISTS, PART_GENRE, PART_DEVICE };
static const char wrapped_sql[] =
    "WITH mine AS MATERIALIZED (SELECT song_id, title, artist, genre, device, duration %s) "
    "SELECT 0, NULL, NULL, NULL, count(*), coalesce(sum(duration), 0), count(DISTINCT song_id), "
    "count(DISTINCT artist) FROM mine "
    "UNION ALL SELECT * FROM (SELECT 1, song_id, max(title), max(artist), count(*) AS plays, 0, 0, 0 FROM mine "
    "WHERE song_id IS NOT NULL GROUP BY song_id ORDER BY plays DESC, song_id LIMIT 5) "
    "UNION ALL SELECT * FROM (SELECT 2, artist, NULL, NULL, count(*) AS plays, 0, 0, 0 FROM mine "
    "WHERE artist IS NOT NULL GROUP BY artist ORDER BY plays DESC, artist LIMIT 5) "
    "UNION ALL SELECT * FROM (SELECT 3, genre, NULL, NULL, count(*) AS plays, 0, 0, 0 FROM mine "
    "WHERE genre IS NOT NULL GROUP BY genre ORDER BY plays DESC, genre LIMIT 1) "
    "UNION ALL SELECT * FROM (SELECT 4, device, NULL, NULL, count(*) AS plays, 0, 0, 0 FROM mine "
    "WHERE device IS NOT NULL GROUP BY device ORDER BY plays DESC, device LIMIT 1) "
    "ORDER BY 1, 5 DESC, 2";

static enc_status oom(enc_err *err)
{
    return enc_err_set(err, "out of memory reading the user's plays");
}

/* Takes one row of wrapped_sql into w. */
static enc_status wrapped_row(sqlite3_stmt *st, enc_wrapped *w, enc_err *err)
{
    bool fail = false;
    switch (sqlite3_column_int(st, 0)) {
    case PART_TOTALS:
        w->plays = sqlite3_column_int64(st, 4);
        w->seconds = sqlite3_column_int64(st, 5);
        w->songs = sqlite3_column_int64(st, 6);
        w->artists = sqlite3_column_int64(st, 7);
        return ENC_OK;
    case PART_SONGS: {
        if (w->n_songs >= ENC_WRAPPED_TOP)
            return ENC_OK;
        enc_wrapped_song *s = &w->top_songs[w->n_songs++];
        s->song_id = enc_report_column_dup(st, 1, &fail);
        s->title = enc_report_column_dup(st, 2, &fail);
        s->artist = enc_report_column_dup(st, 3, &fail);
        s->plays = sqlite3_column_int64(st, 4);
        return fail || !s->song_id ? oom(err) : ENC_OK;
    }
    case PART_ARTISTS: {
        if (w->n_artists >= ENC_WRAPPED_TOP)
            return ENC_OK;
        enc_wrapped_item *a = &w->top_artists[w->n_artists++];
        a->name = enc_report_column_dup(st, 1, &fail);
        a->plays = sqlite3_column_int64(st, 4);
        return fail || !a->name ? oom(err) : ENC_OK;
    }
    case PART_GENRE:
        if (!w->top_genre)
            w->top_genre = enc_report_column_dup(st, 1, &fail);
        return fail ? oom(err) : ENC_OK;
    case PART_DEVICE:
        if (!w->top_device)
            w->top_device = enc_report_column_dup(st, 1, &fail);
        return fail ? oom(err) : ENC_OK;
    }
    return ENC_OK;
}

void enc_wrapped_free(enc_wrapped *w)
{
    for (size_t i = 0; i < w->n_songs; i++) {
        enc_free(w->top_songs[i].song_id);
        enc_free(w->top_songs[i].title);
        enc_free(w->top_songs[i].artist);
    }
    for (size_t i = 0; i < w->n_artists; i++)
        enc_free(w->top_artists[i].name);
    enc_free(w->top_genre);
    enc_free(w->top_device);
    w->n_songs = w->n_artists = 0;
    w->top_genre = w->top_device = NULL;
}

/* Runs wrapped_sql over `source` (enc_user_index_from's text) for ?1 = user and
 * ?2 <= event_time < ?3. */
static enc_status wrapped_run(sqlite3 *db, const char *source, const char *user, const char *from, const char *to,
                              enc_wrapped *w, enc_err *err)
{
    char sql[SQL_MAX];
    int len = snprintf(sql, sizeof sql, wrapped_sql, source);
    if (len < 0 || (size_t)len >= sizeof sql)
        return enc_err_set(err, "internal error: query too long");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return enc_report_sql_fail(db, "preparing the query", err);
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, from, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, to, -1, SQLITE_STATIC);
    enc_status rc = ENC_OK;
    int s = SQLITE_DONE;
    while (rc == ENC_OK && (s = sqlite3_step(st)) == SQLITE_ROW)
        rc = wrapped_row(st, w, err);
    if (rc == ENC_OK && s != SQLITE_DONE)
        rc = enc_report_sql_fail(db, "reading the user's plays", err);
    sqlite3_finalize(st);
    return rc;
}

enc_status enc_wrapped_query(sqlite3 *db, const char *table, const char *user, int year, enc_wrapped *w, enc_err *err)
{
    memset(w, 0, sizeof *w);
    w->user = user;
    w->year = year;
    if (year < 1 || year > 9999)
        return enc_err_set(err, "year %d is out of range 0001-9999", year);
    /* event_time is 'YYYY-MM-DD HH:MM:SS…': 'YYYY-13' sorts after every time of year
     * YYYY and before year YYYY+1, and works for 9999 too. */
    char from[16], to[16], source[SQL_MAX / 2];
    snprintf(from, sizeof from, "%04d-01-01", year);
    snprintf(to, sizeof to, "%04d-13", year);
    enc_user_index ix;
    enc_status rc = enc_user_index_read(db, table, &ix, err);
    if (rc == ENC_OK)
        rc = enc_user_index_from(&ix, table, source, sizeof source, err);
    if (rc == ENC_OK)
        rc = wrapped_run(db, source, user, from, to, w, err);
    if (rc != ENC_OK)
        enc_wrapped_free(w);
    return rc;
}

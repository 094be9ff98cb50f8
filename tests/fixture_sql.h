/* fixture_sql.h — for unit tests that put plays into an events table named "EV" (the
 * MUSIC_EVENTS columns): one play per call, title 'T' || song_id when the artist is
 * known, NULL otherwise; duration < 0 stores NULL. Include after harness.h. */
#ifndef ENC_FIXTURE_SQL_H
#define ENC_FIXTURE_SQL_H

#include <sqlite3.h>

static inline void fixture_play(sqlite3 *db, const char *user, const char *song, const char *artist,
                                const char *genre, const char *device, int duration, const char *time)
{
    sqlite3_stmt *st;
    T_CHECK(sqlite3_prepare_v2(db,
                               "INSERT INTO \"EV\" (song_id, user_id, device, title, artist, genre, duration, "
                               "event_time) VALUES (?1, ?2, ?3, CASE WHEN ?4 IS NULL THEN NULL ELSE 'T' || ?1 END, "
                               "?4, ?5, ?6, ?7)",
                               -1, &st, NULL) == SQLITE_OK);
    sqlite3_bind_text(st, 1, song, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, device, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, artist, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, genre, -1, SQLITE_STATIC);
    if (duration >= 0)
        sqlite3_bind_int(st, 6, duration);
    sqlite3_bind_text(st, 7, time, -1, SQLITE_STATIC);
    T_CHECK(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_finalize(st);
}

#endif

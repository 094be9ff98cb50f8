/* wrapped — one user's year over a SQLite sink (`encore wrapped`): the query and the
 * summary it fills. Rendering is render.h.
 */
#ifndef ENC_WRAPPED_H
#define ENC_WRAPPED_H

#include "report.h"

#define ENC_WRAPPED_TOP 5 /* songs and artists listed in a wrapped */

typedef struct {
    char *song_id;
    char *title;  /* NULL for a song not in songs.csv */
    char *artist; /* likewise */
    int64_t plays;
} enc_wrapped_song;

typedef struct {
    char *name;
    int64_t plays;
} enc_wrapped_item;

typedef struct {
    const char *user; /* borrowed from the caller for the life of the struct */
    int year;
    int64_t plays;
    int64_t seconds;                             /* sum of durations; unknown durations count 0 */
    int64_t songs;                               /* distinct song ids */
    int64_t artists;                             /* distinct known artists */
    enc_wrapped_song top_songs[ENC_WRAPPED_TOP]; /* plays desc, song_id asc */
    size_t n_songs;
    enc_wrapped_item top_artists[ENC_WRAPPED_TOP]; /* plays desc, artist asc */
    size_t n_artists;
    char *top_genre;  /* most played known genre (ties: name asc), NULL when none */
    char *top_device; /* most used device (ties: name asc), NULL when none */
} enc_wrapped;

/* One user's plays in one calendar year (UTC) from `table` (checked identifier), read
 * through TABLE_BY_USER in the table's layout (user_index.h): one range per ingestion
 * generation of ("event_id" >> bits, user_id, event_time), or one range of an older
 * table's (user_id, event_time). user is bound, never pasted into SQL. A user with no
 * plays gives ENC_OK and w->plays == 0. Free with enc_wrapped_free. */
enc_status enc_wrapped_query(sqlite3 *db, const char *table, const char *user, int year, enc_wrapped *w, enc_err *err);
void enc_wrapped_free(enc_wrapped *w);

#endif

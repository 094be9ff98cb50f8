/* dim — the dimension tables (songs, users): loaded once from CSV, then read-only.
 *
 * A table owns every byte it hands out: rows in one array, strings in a few large
 * blocks, each distinct artist/genre/country/subscription/device stored once. Lookups
 * by id go through an open-addressing hash table whose slots carry a hash tag and the
 * first 8 bytes of the key, so a miss almost never touches a row and a hit on an id of
 * up to 8 bytes needs no string compare. Lookups never allocate, copy or lock: after
 * loading, a table may be read from any number of threads at once.
 * Loading never prints; problems with single rows go to the warn callback.
 */
#ifndef ENC_DIM_H
#define ENC_DIM_H

#include <stddef.h>
#include <stdint.h>

#include "slice.h"
#include "status.h"

#define ENC_DIM_MAX_ROWS 0x7fffffffu /* distinct ids per table */
#define ENC_DIM_MAX_WARNINGS 100     /* warnings per load; the rest are counted in one last warning */

/* Receives one warning, e.g. "songs.csv:7: duplicate song_id 'S001' (first at line 3);
 * the last row wins". msg lives only during the call. */
typedef void (*enc_warn_fn)(void *arg, const char *msg);

/* Slices point into the table's storage; p == NULL is SQL NULL (an empty CSV field). */
typedef struct {
    enc_slice song_id, title, artist, genre;
    int32_t duration; /* seconds; -1 = NULL */
} enc_song;

typedef struct {
    enc_slice user_id, country, subscription, device;
} enc_user;

typedef struct enc_songs enc_songs;
typedef struct enc_users enc_users;

/* What loading folded away, for the reference-data checks (quality.c): rows repeating
 * an earlier id (the last row won) and rows skipped for an empty id. */
typedef struct {
    size_t duplicate_ids;
    size_t empty_ids;
    char first_duplicate[48]; /* the first repeated id, truncated; "" when none */
} enc_dim_load_report;

/* Loads songs.csv: a header row naming at least song_id,title,artist,genre,duration
 * (any order and case, surrounding spaces ignored, other columns ignored), then one
 * row per song. Values are kept as written (not trimmed); an empty one is NULL.
 * duration must be a whole number of seconds >= 0, spaces around it allowed; anything
 * else is stored as NULL with a warning. Rows with an empty id are skipped, a repeated
 * id replaces the earlier row in place (the last row wins), a short row gets NULLs; each
 * with a warning. Extra fields beyond the header are ignored, with a warning only if one
 * holds data. Warnings about repeated ids come after the others (ids are matched once
 * all rows are read); at most ENC_DIM_MAX_WARNINGS are passed on, then one that counts
 * the rest. warn may be NULL. Errors (ENC_ERROR, err set): the file cannot be read,
 * it is empty, a required column is missing or named twice, a CSV syntax error (with
 * path and line), more than ENC_DIM_MAX_ROWS ids, out of memory. */
enc_status enc_songs_load(enc_songs **out, const char *path, enc_warn_fn warn, void *warn_arg, enc_err *err);
/* The same from memory (copied; data may be NULL when n == 0); name stands for the path
 * in messages. */
enc_status enc_songs_load_mem(enc_songs **out, const char *data, size_t n, const char *name, enc_warn_fn warn,
                              void *warn_arg, enc_err *err);
/* The song with this id, or NULL. id need not be NUL-terminated. The pointer and the
 * slices in it stay valid until enc_songs_free. */
const enc_song *enc_songs_get(const enc_songs *t, const char *id, size_t n);
/* out[i] = enc_songs_get(t, ids[i].p, ids[i].n) for i < n, faster than n calls: the
 * lookups' cache misses overlap. t may be NULL (every out[i] is then NULL). */
void enc_songs_get_many(const enc_songs *t, const enc_slice *ids, size_t n, const enc_song **out);
/* Rows in the order their ids first appeared in the file; i < enc_songs_count(t). */
size_t enc_songs_count(const enc_songs *t);
const enc_song *enc_songs_at(const enc_songs *t, size_t i);
/* i such that enc_songs_at(t, i) == s, for s from enc_songs_get of t. */
size_t enc_songs_index(const enc_songs *t, const enc_song *s);
void enc_songs_free(enc_songs *t);
const enc_dim_load_report *enc_songs_load_report(const enc_songs *t);

/* users.csv: header with at least user_id,country,subscription,device; otherwise as songs. */
enc_status enc_users_load(enc_users **out, const char *path, enc_warn_fn warn, void *warn_arg, enc_err *err);
enc_status enc_users_load_mem(enc_users **out, const char *data, size_t n, const char *name, enc_warn_fn warn,
                              void *warn_arg, enc_err *err);
const enc_user *enc_users_get(const enc_users *t, const char *id, size_t n);
void enc_users_get_many(const enc_users *t, const enc_slice *ids, size_t n, const enc_user **out);
/* For joins: like enc_users_get_many, but out[i] may point at a shared record holding
 * only the columns (country, subscription, device) of the user found, whose user_id is
 * NULL: users with the same three values share one, and finding it touches only the
 * user's index slot, not the user's row. Valid until enc_users_free. */
void enc_users_join_many(const enc_users *t, const enc_slice *ids, size_t n, const enc_user **out);
size_t enc_users_count(const enc_users *t);
const enc_user *enc_users_at(const enc_users *t, size_t i);
void enc_users_free(enc_users *t);
const enc_dim_load_report *enc_users_load_report(const enc_users *t);

/* Tests only, not thread-safe: tables loaded afterwards keep just the low `bits` bits of
 * each key hash (0 restores all 64), so that many ids share a hash and the collision
 * paths get exercised. */
void enc_dim_test_hash_bits(unsigned bits);

#endif

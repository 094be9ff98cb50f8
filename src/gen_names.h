/* gen_names — the words gen builds artist names and song titles from, and the genres
 * (names, weights, and the enum the name styles depend on). Names are drawn from the
 * caller's random stream, so they are as deterministic as the rest of gen.
 */
#ifndef ENC_GEN_NAMES_H
#define ENC_GEN_NAMES_H

#include <stddef.h>

#include "gen_rand.h"

#define ENC_GEN_NAME_MAX 200 /* longest generated title or artist, in bytes */

typedef struct {
    char s[ENC_GEN_NAME_MAX + 1];
    size_t n;
} enc_gen_name;

enum {
    ENC_GENRE_POP,
    ENC_GENRE_HIPHOP,
    ENC_GENRE_ROCK,
    ENC_GENRE_ELECTRONIC,
    ENC_GENRE_LATIN,
    ENC_GENRE_RNB,
    ENC_GENRE_INDIE,
    ENC_GENRE_COUNTRY,
    ENC_GENRE_KPOP,
    ENC_GENRE_JAZZ,
    ENC_GENRE_CLASSICAL,
    ENC_GEN_GENRES = 15
};
extern const char *const enc_gen_genre_name[ENC_GEN_GENRES];
extern const double enc_gen_genre_weight[ENC_GEN_GENRES]; /* relative share of artists */

/* A name in the style of the genre: b is overwritten. */
void enc_gen_artist_name(enc_gen_name *b, enc_rng *r, int genre);
void enc_gen_song_title(enc_gen_name *b, enc_rng *r, int genre);

#endif

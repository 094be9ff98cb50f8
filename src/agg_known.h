/* agg_known — what earlier batches of this run already wrote to the daily aggregates.
 *
 * A batch's aggregate deltas are packs (pack.h) that the sink merges: plays and seconds
 * add up, a song's title and artist are taken from whichever pack has them, listener
 * sketches unite. So a batch need not repeat what an earlier batch of the run wrote for
 * the same (dimension, day, key):
 *   - names: a song's title and artist, once per (day, song) and run; they were ~half of
 *     the song packs' bytes (one bit per song and day here);
 *   - listeners: once a batch has written a sketch dense (a genre, a country or a device
 *     of a busy day: thousands of listeners a batch), later batches need write only the
 *     listeners that raise one of its registers (hll.h, enc_hll_entries_filter): a
 *     genre's day of a million plays writes its 16384 registers once, then a few hundred
 *     entries a batch instead of 12 KiB of registers a batch.
 * Every merged result (daily rows, charts) is the same, byte for byte. This holds only
 * while batches commit in the order their deltas were made, each or none of the rest:
 * the pipeline's writer never skips a batch (a batch that fails ends the run), and a run
 * starts knowing nothing. Memory is bounded: names for ENC_KNOWN_DAYS days, at most
 * ENC_KNOWN_MAX sketches (then the oldest day's go). Owned by the aggs' shared scratch;
 * one thread at a time. Never prints.
 */
#ifndef ENC_AGG_KNOWN_H
#define ENC_AGG_KNOWN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENC_KNOWN_DAYS 4 /* days whose song names are kept: one bit per song each */
#define ENC_KNOWN_MAX 256 /* sketches of ENC_HLL_REGS = 16 KiB: 4 MiB at most */

typedef struct enc_known enc_known;

enc_known *enc_known_new(void);    /* NULL when out of memory */
void enc_known_free(enc_known *k); /* k may be NULL */

/* Whether song number ix (enc_row.song_ix, > 0) has had its names written for day by an
 * earlier batch; when not, they are taken as written by this one (false: write them).
 * Out of memory, or a day older than the ENC_KNOWN_DAYS kept, gives false. */
bool enc_known_names(enc_known *k, int32_t day, uint32_t ix);

/* Whether any sketch of dimension dim is known (a cheap test before enc_known_regs). */
bool enc_known_any(const enc_known *k, int dim);

/* The registers (ENC_HLL_REGS bytes) of (dim, day, key)'s dense sketch already written,
 * or NULL. */
uint8_t *enc_known_regs(enc_known *k, int dim, int32_t day, const char *key, size_t n);

/* New zeroed registers for (dim, day, key), which must have none; NULL when none can be
 * kept (out of memory, or every kept sketch is of `day` or later). */
uint8_t *enc_known_regs_add(enc_known *k, int dim, int32_t day, const char *key, size_t n);

/* Forgets everything: what the next batch writes is then complete. */
void enc_known_clear(enc_known *k);

#endif

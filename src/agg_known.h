/* agg_known — the dense listener sketches that earlier batches of this run already wrote.
 *
 * A batch's aggregate deltas are packs (pack.h) that the sink unites: a (dimension, day,
 * key)'s listener sketch in the daily rows is the union of its sketch in every batch. Once
 * a batch has written such a sketch dense (a genre, a country or a device of a busy day:
 * thousands of listeners a batch), later batches need write only the listeners that raise
 * one of its registers (hll.h, enc_hll_entries_filter): the union is the same dense blob,
 * byte for byte, and a genre's day of a million plays writes its 16384 registers once and
 * then a few hundred entries a batch instead of 12 KiB of registers a batch, which the
 * sink would also merge again level by level. This holds only while batches commit in
 * the order their deltas were made, each or none of the rest: the pipeline's writer never
 * skips a batch (a batch that fails ends the run), and a run starts knowing nothing.
 * At most ENC_KNOWN_MAX sketches are kept (then the oldest day's go). Owned by the aggs'
 * shared scratch; one thread at a time. Never prints.
 */
#ifndef ENC_AGG_KNOWN_H
#define ENC_AGG_KNOWN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENC_KNOWN_MAX 256 /* sketches of ENC_HLL_REGS = 16 KiB: 4 MiB at most */

typedef struct enc_known enc_known;

enc_known *enc_known_new(void);    /* NULL when out of memory */
void enc_known_free(enc_known *k); /* k may be NULL */

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

/* radix — sorting many small records fast: LSD radix sort on a 64-bit key.
 *
 * The batch's hot sorts (rows by user, aggregate deltas by primary key) order a few
 * hundred thousand records whose leading bytes say almost everything. Callers give each
 * record a 64-bit key that orders like the real key as far as it goes, radix-sort the
 * (key, index) pairs, then settle ties with their full comparison. Byte positions where
 * every key agrees cost one counting pass and no scatter.
 */
#ifndef ENC_RADIX_H
#define ENC_RADIX_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t key;
    uint32_t idx; /* the caller's record */
    uint32_t aux; /* free for the caller */
} enc_sort_item;

/* Stable sort of items[0..n) by key; tmp must hold n items. */
void enc_radix_sort(enc_sort_item *items, enc_sort_item *tmp, size_t n);

/* Orders each run of items with equal keys by cmp(idx_a, idx_b, arg) (a full
 * comparison of the records), leaving the order between runs alone. */
void enc_sort_ties(enc_sort_item *items, size_t n, int (*cmp)(uint32_t a, uint32_t b, void *arg), void *arg);

/* The first 8 bytes of s as a big-endian number, zero-padded: keys compare as memcmp
 * compares the bytes (strings holding no NUL byte). */
uint64_t enc_sort_prefix(const char *s, size_t n);

#endif

/* hll — HyperLogLog sketches of unique listeners, stored as blobs beside daily rows.
 *
 * One enc_hll counts the distinct 64-bit hashes (of user ids) seen for one (day, song),
 * (day, artist), ... row; sketches are merged over days, months and years for charts.
 * Most rows have few listeners, so a sketch starts sparse (HLL++ style: a sorted array of
 * 32-bit entries at precision 25, near-exact counts, a few bytes per listener) and turns
 * into 2^ENC_HLL_P dense registers only past ENC_HLL_SPARSE_MAX entries, where dense is
 * no bigger. Dense counts use Ertl's improved raw estimator (no bias tables, no range
 * switch). Callers: agg (add per event), the sinks (serialize), chart queries (merge,
 * count). A sketch belongs to one thread at a time, even to read (a read may put pending adds
 * in order); nothing here prints or aborts.
 *
 * Blob format, version 1, all multi-byte values little-endian:
 *   byte 0  version (1)
 *   byte 1  kind: 1 sparse, 2 dense
 *   sparse  varint(n), then n entries in increasing index order, each
 *             varint(index - previous index)   (the first: the index itself; 0 < delta)
 *             [1 byte rho in 1..40]             only when index % 2048 == 0
 *           index = top 25 bits of the hash; rho = 1 + leading zeros of the other 39
 *           bits; n <= ENC_HLL_SPARSE_MAX. varints are LEB128, minimal, at most 5 bytes.
 *   dense   16384 registers of 6 bits (values 0..51), register i in bits 6i..6i+5 of
 *           the 12288-byte little-endian bit string.
 * Decoding accepts only this canonical form, so decode(b) re-encodes to exactly b. There
 * is no checksum: a flipped bit that keeps the blob well formed decodes to another valid
 * sketch (the database protects stored bytes; this protects memory safety and invariants).
 */
#ifndef ENC_HLL_H
#define ENC_HLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "slice.h"
#include "status.h"

typedef struct enc_hll enc_hll; /* opaque */

#define ENC_HLL_P 14            /* dense precision: 16384 registers, std error 1.04/sqrt(2^14) ~ 0.81 % */
#define ENC_HLL_SPARSE_MAX 4096 /* sparse entries (4 bytes each) before a sketch goes dense */
#define ENC_HLL_BLOB_MAX (2 + 5 + ENC_HLL_SPARSE_MAX * 5) /* no valid blob is longer */

/* A new, empty, sparse sketch (40 bytes), or NULL when out of memory. Free with
 * enc_hll_free. */
enc_hll *enc_hll_new(void);
void enc_hll_free(enc_hll *h); /* h may be NULL */

/* Adds one hash (of a user id: the same id added twice counts once). Hashes must be well
 * mixed over all 64 bits. ENC_ERROR only when out of memory; h is then unchanged. */
enc_status enc_hll_add(enc_hll *h, uint64_t hash);

/* dst becomes the union of dst and src. The result depends only on the union of the
 * hashes added, never on the order of adds and merges: sketches of the same set are
 * identical, blob for blob. ENC_ERROR only when out of memory; dst is then unchanged. */
enc_status enc_hll_merge(enc_hll *dst, const enc_hll *src);

/* Estimated number of distinct hashes: near-exact while sparse (up to a few thousand),
 * ~0.8 % standard error when dense. */
uint64_t enc_hll_count(const enc_hll *h);

/* Appends the blob described above to out. On ENC_ERROR (out of memory, or out's cap
 * reached) out is left as it was. */
enc_status enc_hll_serialize(const enc_hll *h, enc_buf *out);

/* Appends the blob of a sketch holding only `hash` (as enc_hll_serialize of a new sketch
 * after enc_hll_add(hash)), without allocating a sketch. */
enc_status enc_hll_serialize_one(uint64_t hash, enc_buf *out);

/* ---- building and uniting blobs without a sketch object (aggregates, pending packs) ---- */

/* The sparse entry (an internal 32-bit form: index and, when needed, rank) that a hash
 * contributes to a sketch. A sketch is a function of its set of entries. */
uint32_t enc_hll_entry(uint64_t hash);

/* Appends the blob of the sketch whose entries are e[0..n) (repeats allowed, any order):
 * the same bytes as enc_hll_serialize of a new sketch after enc_hll_add of the hashes
 * they came from. Reorders e; tmp is scratch for n entries (unused when n <= 64, may
 * then be NULL). ENC_ERROR (out left as it was) when out's cap is reached or out of
 * memory. */
enc_status enc_hll_serialize_entries(uint32_t *e, size_t n, uint32_t *tmp, enc_buf *out);

/* Dense registers as an array of ENC_HLL_REGS bytes (one register each, 0 when empty): the
 * state a writer keeps of a dense sketch it has already written (agg_known.h). */
#define ENC_HLL_REGS (1u << ENC_HLL_P)

/* Raises regs to hold the entries e[0..n) too. */
void enc_hll_entries_raise(uint8_t *regs, const uint32_t *e, size_t n);

/* Keeps at the front of e[0..n), in order, only the entries that raise a register of regs,
 * raising it, and returns how many. The others add nothing to any dense sketch that holds
 * regs: a dense blob of every entry and the blob of the entries kept, each united with a
 * dense sketch that holds regs, give the same blob. */
size_t enc_hll_entries_filter(uint8_t *regs, uint32_t *e, size_t n);

/* Whether the n bytes at p are a dense blob (by its kind byte; not otherwise checked). */
static inline bool enc_hll_blob_is_dense(const void *p, size_t n)
{
    return n >= 2 && ((const uint8_t *)p)[1] == 2;
}

/* Appends the blob of the union of the k blobs b[0..k): the same bytes as deserializing,
 * merging and serializing them, without a sketch per blob. A malformed blob gives
 * ENC_ERROR with the decoder's reason in err (out left as it was), as does out of
 * memory. */
enc_status enc_hll_union_blobs(const enc_slice *b, size_t k, enc_buf *out, enc_err *err);

/* Decodes a blob of n bytes at p into a new sketch in *out (owned by the caller). Any blob
 * that is not exactly the canonical form (bad version or kind, truncated, trailing
 * bytes, non-minimal varint, index out of order or range, register out of range, ...)
 * gives ENC_ERROR, *out = NULL and a reason with the byte offset in err. */
enc_status enc_hll_deserialize(const void *p, size_t n, enc_hll **out, enc_err *err);

/* Bytes held by the sketch (struct plus arrays, without allocator overhead). */
size_t enc_hll_memory(const enc_hll *h);

#endif

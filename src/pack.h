/* pack — one batch's aggregate deltas of one (dimension, day), packed into one blob.
 *
 * A batch appends its deltas for days after the rollup horizon as one pack per
 * (dimension, day) (pending.c stores them) instead of upserting one daily row per key;
 * the packs of a day are merged in C when the day is folded into TABLE_DAILY or read by
 * a chart. agg.c encodes packs on the reader thread; pending.c decodes them. Pure bytes:
 * no SQLite, no printing.
 *
 * Blob format, version 1 (varints are unsigned LEB128, minimal, at most 10 bytes):
 *   byte 0   version (1)
 *   varint   n, the number of entries (>= 1)
 *   n entries in strictly increasing key order (bytewise, a prefix first), each
 *     varint key length, key bytes
 *     varint plays, varint seconds (both < 2^63)
 *     varint sketch length, sketch bytes (an hll.h blob; checked by its own decoder)
 *     varint title length + 1 (0: NULL), title bytes; the same for artist
 * Nothing may follow the last entry. Decoding accepts only this form.
 */
#ifndef ENC_PACK_H
#define ENC_PACK_H

#include <stdint.h>

#include "buf.h"
#include "slice.h"
#include "status.h"

typedef struct {
    enc_slice key;
    int64_t plays, seconds;
    enc_slice sketch;        /* hll.h blob */
    enc_slice title, artist; /* p == NULL: NULL */
} enc_pack_entry;

/* Appends the header of a pack of n >= 1 entries to out; then exactly n enc_pack_put
 * in increasing key order. ENC_ERROR when out's cap is reached. */
enc_status enc_pack_begin(enc_buf *out, size_t n);
enc_status enc_pack_put(enc_buf *out, const enc_pack_entry *e);
/* enc_pack_put that also gives the offset in out where the entry's sketch bytes went. */
enc_status enc_pack_put_at(enc_buf *out, const enc_pack_entry *e, size_t *sketch_at);

/* Reads a pack in place: the entries' slices point into the blob. */
typedef struct {
    const uint8_t *start, *p, *end;
    uint64_t left;
    enc_slice prev; /* the last key read, for the order check */
} enc_pack_reader;

/* ENC_ERROR with err set (byte offset included) when the header is malformed. */
enc_status enc_pack_open(enc_pack_reader *r, const void *blob, size_t n, enc_err *err);
/* 1 with *e filled, 0 at the end (trailing bytes are an error), -1 on a malformed entry
 * (err set). */
int enc_pack_next(enc_pack_reader *r, enc_pack_entry *e, enc_err *err);

/* Bytewise key order with a prefix first (SQLite's BINARY collation on TEXT). */
int enc_pack_key_cmp(enc_slice a, enc_slice b);

#endif

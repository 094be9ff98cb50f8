/* arena — bump allocation for per-batch data.
 *
 * A micro-batch's unescaped strings, rescued-data JSON and formatted timestamps live in
 * one arena that is reset after the batch commits, so the steady state makes no heap
 * call per event. Memory is kept in chunks; enc_arena_reset keeps about as many as the
 * batch used for the next batch and frees the rest. Pointers from an arena live until the next reset or free.
 * One arena belongs to one thread at a time.
 */
#ifndef ENC_ARENA_H
#define ENC_ARENA_H

#include <stddef.h>

typedef struct enc_arena_chunk enc_arena_chunk;

typedef struct {
    enc_arena_chunk *head;  /* chunks in use, newest first */
    enc_arena_chunk *spare; /* chunks kept by the last reset, free for reuse */
    size_t chunk_size;     /* default size of new chunks */
    size_t used_total;     /* bytes handed out since the last reset */
} enc_arena;

void enc_arena_init(enc_arena *a, size_t chunk_size);
/* Returns n bytes aligned to 8, or NULL when out of memory. */
void *enc_arena_alloc(enc_arena *a, size_t n);
/* Copies n bytes into the arena (no terminator added). */
char *enc_arena_dup(enc_arena *a, const char *p, size_t n);
void enc_arena_reset(enc_arena *a);
/* Bytes held in chunks, in use or kept for reuse. */
size_t enc_arena_capacity(const enc_arena *a);
void enc_arena_free(enc_arena *a);

#endif

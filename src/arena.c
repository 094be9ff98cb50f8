/* arena — chunked bump allocator, reset per batch. */
#include "arena.h"

#include <stdint.h>
#include <string.h>

#include "alloc.h"

struct enc_arena_chunk {
    enc_arena_chunk *next;
    size_t cap;
    size_t used;
    _Alignas(16) unsigned char data[];
};

void enc_arena_init(enc_arena *a, size_t chunk_size)
{
    a->head = a->spare = NULL;
    a->chunk_size = chunk_size ? chunk_size : 64 * 1024;
    a->used_total = 0;
}

static enc_arena_chunk *chunk_new(size_t cap)
{
    if (cap > SIZE_MAX - sizeof(enc_arena_chunk))
        return NULL;
    enc_arena_chunk *c = enc_malloc(sizeof *c + cap);
    if (!c)
        return NULL;
    c->next = NULL;
    c->cap = cap;
    c->used = 0;
    return c;
}

/* A kept chunk with room for need bytes, unlinked from the spare list; NULL if none. */
static enc_arena_chunk *take_spare(enc_arena *a, size_t need)
{
    for (enc_arena_chunk **link = &a->spare; *link; link = &(*link)->next) {
        enc_arena_chunk *c = *link;
        if (c->cap >= need) {
            *link = c->next;
            c->next = NULL;
            c->used = 0;
            return c;
        }
    }
    return NULL;
}

void *enc_arena_alloc(enc_arena *a, size_t n)
{
    size_t need = (n + 7) & ~(size_t)7;
    if (need < n)
        return NULL;
    enc_arena_chunk *c = a->head;
    if (!c || c->cap - c->used < need) {
        enc_arena_chunk *fresh = take_spare(a, need);
        /* A default chunk's header counts in chunk_size: a 4 MiB chunk is 4 MiB of heap,
         * not 4 MiB and 24 bytes, which alloc.c would round up to 6 MiB of huge pages. */
        size_t room =
            a->chunk_size > 2 * sizeof(enc_arena_chunk) ? a->chunk_size - sizeof(enc_arena_chunk) : a->chunk_size;
        if (!fresh)
            fresh = chunk_new(need > room ? need : room);
        if (!fresh)
            return NULL;
        fresh->next = a->head;
        a->head = fresh;
        c = fresh;
    }
    void *p = c->data + c->used;
    c->used += need;
    a->used_total += need;
    return p;
}

char *enc_arena_dup(enc_arena *a, const char *p, size_t n)
{
    char *d = enc_arena_alloc(a, n ? n : 1);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

static void free_chunks(enc_arena_chunk *c)
{
    while (c) {
        enc_arena_chunk *next = c->next;
        enc_free(c);
        c = next;
    }
}

/* Keeps as many chunks as this batch used (plus one default chunk of slack) for the
 * next one, so a steady stream reuses warm memory instead of faulting in fresh pages;
 * one huge batch does not pin its memory beyond the next reset. */
void enc_arena_reset(enc_arena *a)
{
    size_t budget = a->used_total + a->chunk_size, kept = 0;
    enc_arena_chunk *c = a->head, *keep = NULL;
    free_chunks(a->spare);
    while (c) {
        enc_arena_chunk *next = c->next;
        if (kept + c->cap <= budget) {
            kept += c->cap;
            c->used = 0;
            c->next = keep;
            keep = c;
        } else {
            enc_free(c);
        }
        c = next;
    }
    a->head = NULL;
    a->spare = keep;
    a->used_total = 0;
}

size_t enc_arena_capacity(const enc_arena *a)
{
    size_t n = 0;
    for (const enc_arena_chunk *c = a->head; c; c = c->next)
        n += c->cap;
    for (const enc_arena_chunk *c = a->spare; c; c = c->next)
        n += c->cap;
    return n;
}

void enc_arena_free(enc_arena *a)
{
    free_chunks(a->head);
    free_chunks(a->spare);
    a->head = a->spare = NULL;
    a->used_total = 0;
}

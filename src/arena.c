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
    a->head = NULL;
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

void *enc_arena_alloc(enc_arena *a, size_t n)
{
    size_t need = (n + 7) & ~(size_t)7;
    if (need < n)
        return NULL;
    enc_arena_chunk *c = a->head;
    if (!c || c->cap - c->used < need) {
        size_t cap = need > a->chunk_size ? need : a->chunk_size;
        enc_arena_chunk *fresh = chunk_new(cap);
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

void enc_arena_reset(enc_arena *a)
{
    /* Keep the largest chunk: a batch's size is a good guess for the next one. */
    enc_arena_chunk *keep = NULL;
    enc_arena_chunk *c = a->head;
    while (c) {
        enc_arena_chunk *next = c->next;
        if (!keep || c->cap > keep->cap) {
            if (keep)
                enc_free(keep);
            keep = c;
        } else {
            enc_free(c);
        }
        c = next;
    }
    if (keep) {
        keep->next = NULL;
        keep->used = 0;
    }
    a->head = keep;
    a->used_total = 0;
}

void enc_arena_free(enc_arena *a)
{
    enc_arena_chunk *c = a->head;
    while (c) {
        enc_arena_chunk *next = c->next;
        enc_free(c);
        c = next;
    }
    a->head = NULL;
    a->used_total = 0;
}

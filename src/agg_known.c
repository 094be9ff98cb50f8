/* agg_known — what earlier batches wrote: bit sets and a small hash table (agg_known.h).
 *
 * Song names: for each of ENC_KNOWN_DAYS days, one bit per song number. Sketches: a table
 * that maps (dimension, day, key bytes) to the index of the sketch's registers in a
 * pool of ENC_KNOWN_MAX blocks; open addressing at a load of at most one half; keys are
 * copied into the table's arena, so they outlive the batch that brought them.
 */
#include "agg_known.h"

#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "hash.h"
#include "hll.h"

enum { NDIMS = 16 };          /* dimensions are small numbers (enc_agg_dim) */
enum { ARENA_MAX = 1 << 30 }; /* key bytes: far beyond ENC_KNOWN_MAX keys */

typedef struct {
    uint64_t h; /* 0: free */
    int32_t day;
    uint32_t dim;
    uint32_t off, n; /* the key's bytes in the arena */
    uint32_t val;
} kslot;

typedef struct {
    kslot *s;
    size_t cap; /* a power of two, or 0 */
    size_t used;
    enc_buf keys;
} ktable;

/* One day's song names written: bit ix of bits. */
typedef struct {
    int32_t day;
    bool used;
    uint64_t *bits;
    size_t nwords;
} name_day;

struct enc_known {
    name_day names[ENC_KNOWN_DAYS];
    ktable regs;
    size_t per_dim[NDIMS];        /* sketches kept by dimension */
    uint8_t *pool[ENC_KNOWN_MAX]; /* allocated on first use */
    int32_t pool_day[ENC_KNOWN_MAX];
    bool pool_used[ENC_KNOWN_MAX];
};

static void table_init(ktable *t)
{
    *t = (ktable){0};
    enc_buf_init(&t->keys, ARENA_MAX);
}

static void table_clear(ktable *t)
{
    if (t->s)
        memset(t->s, 0, t->cap * sizeof *t->s);
    t->used = 0;
    enc_buf_reset(&t->keys);
}

static void table_free(ktable *t)
{
    enc_free(t->s);
    enc_buf_free(&t->keys);
}

static uint64_t key_hash(int dim, int32_t day, const char *key, size_t n)
{
    return enc_hash_bytes(key, n, (uint64_t)(uint32_t)day << 8 | (uint64_t)dim) | 1;
}

/* The slot holding (dim, day, key), or the free slot where it would go. t->cap > 0. */
static kslot *find(ktable *t, uint64_t h, int dim, int32_t day, const char *key, size_t n)
{
    size_t mask = t->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        kslot *s = &t->s[i];
        if (s->h == 0 || (s->h == h && s->day == day && s->dim == (uint32_t)dim && s->n == n &&
                          memcmp(t->keys.data + s->off, key, n) == 0))
            return s;
    }
}

static kslot *lookup(ktable *t, int dim, int32_t day, const char *key, size_t n)
{
    if (t->used == 0)
        return NULL;
    kslot *s = find(t, key_hash(dim, day, key, n), dim, day, key, n);
    return s->h ? s : NULL;
}

/* Doubles t's slots (or makes the first 1024). */
static bool grow(ktable *t)
{
    size_t cap = t->cap ? t->cap * 2 : 1024;
    kslot *s = enc_calloc(cap, sizeof *s);
    if (!s)
        return false;
    for (size_t i = 0; i < t->cap; i++) {
        const kslot *o = &t->s[i];
        if (!o->h)
            continue;
        size_t j = o->h & (cap - 1);
        while (s[j].h)
            j = (j + 1) & (cap - 1);
        s[j] = *o;
    }
    enc_free(t->s);
    t->s = s;
    t->cap = cap;
    return true;
}

/* Adds (dim, day, key), which t does not hold; NULL when out of memory or arena. */
static kslot *insert(ktable *t, int dim, int32_t day, const char *key, size_t n, uint32_t val)
{
    if ((t->used + 1) * 2 > t->cap && !grow(t))
        return NULL;
    size_t off = t->keys.len;
    if (n > UINT32_MAX || enc_buf_append(&t->keys, key, n) != ENC_OK)
        return NULL;
    uint64_t h = key_hash(dim, day, key, n);
    kslot *s = find(t, h, dim, day, key, n);
    *s = (kslot){h, day, (uint32_t)dim, (uint32_t)off, (uint32_t)n, val};
    t->used++;
    return s;
}

enc_known *enc_known_new(void)
{
    enc_known *k = enc_calloc(1, sizeof *k);
    if (!k)
        return NULL;
    table_init(&k->regs);
    return k;
}

void enc_known_free(enc_known *k)
{
    if (!k)
        return;
    table_free(&k->regs);
    for (size_t i = 0; i < ENC_KNOWN_DAYS; i++)
        enc_free(k->names[i].bits);
    for (size_t i = 0; i < ENC_KNOWN_MAX; i++)
        enc_free(k->pool[i]);
    enc_free(k);
}

void enc_known_clear(enc_known *k)
{
    table_clear(&k->regs);
    for (size_t i = 0; i < ENC_KNOWN_DAYS; i++)
        k->names[i].used = false;
    memset(k->pool_used, 0, sizeof k->pool_used);
    memset(k->per_dim, 0, sizeof k->per_dim);
}

/* day's bit set, taking the oldest day's (or a free one) when day has none; NULL when day
 * is older than every day kept and none is free. Its bits start cleared. */
static name_day *names_of(enc_known *k, int32_t day)
{
    name_day *pick = NULL;
    for (size_t i = 0; i < ENC_KNOWN_DAYS; i++) {
        name_day *d = &k->names[i];
        if (d->used && d->day == day)
            return d;
        if (!pick || (pick->used && (!d->used || d->day < pick->day)))
            pick = d;
    }
    if (pick->used && pick->day > day)
        return NULL;
    if (pick->bits)
        memset(pick->bits, 0, pick->nwords * sizeof *pick->bits);
    pick->day = day;
    pick->used = true;
    return pick;
}

bool enc_known_names(enc_known *k, int32_t day, uint32_t ix)
{
    name_day *d = names_of(k, day);
    if (!d)
        return false;
    size_t w = ix / 64;
    if (w >= d->nwords) {
        size_t n = d->nwords ? d->nwords : 256;
        while (n <= w)
            n *= 2;
        uint64_t *b = enc_realloc(d->bits, n * sizeof *b);
        if (!b)
            return false;
        memset(b + d->nwords, 0, (n - d->nwords) * sizeof *b);
        d->bits = b;
        d->nwords = n;
    }
    uint64_t bit = 1ull << (ix % 64);
    bool seen = d->bits[w] & bit;
    d->bits[w] |= bit;
    return seen;
}

static bool dim_ok(int dim)
{
    return dim >= 0 && dim < NDIMS;
}

bool enc_known_any(const enc_known *k, int dim)
{
    return dim_ok(dim) && k->per_dim[dim] > 0;
}

uint8_t *enc_known_regs(enc_known *k, int dim, int32_t day, const char *key, size_t n)
{
    kslot *s = lookup(&k->regs, dim, day, key, n);
    return s ? k->pool[s->val] : NULL;
}

/* Drops the sketches of the oldest day kept, when it is before `day`, rebuilding the table
 * from those left. false: nothing could go. */
static bool evict_oldest(enc_known *k, int32_t day)
{
    int32_t oldest = day;
    for (size_t i = 0; i < ENC_KNOWN_MAX; i++)
        if (k->pool_used[i] && k->pool_day[i] < oldest)
            oldest = k->pool_day[i];
    if (oldest == day)
        return false;
    ktable old = k->regs;
    table_init(&k->regs);
    bool ok = true;
    for (size_t i = 0; i < old.cap; i++) {
        const kslot *s = &old.s[i];
        if (!s->h)
            continue;
        if (s->day == oldest) {
            k->pool_used[s->val] = false;
            k->per_dim[s->dim]--;
        } else if (ok && !insert(&k->regs, (int)s->dim, s->day, old.keys.data + s->off, s->n, s->val))
            ok = false;
    }
    table_free(&old);
    if (!ok) /* out of memory rebuilding: forget them all, which is always right */
        enc_known_clear(k);
    return true;
}

uint8_t *enc_known_regs_add(enc_known *k, int dim, int32_t day, const char *key, size_t n)
{
    if (!dim_ok(dim))
        return NULL;
    size_t free_at = ENC_KNOWN_MAX;
    for (size_t i = 0; i < ENC_KNOWN_MAX && free_at == ENC_KNOWN_MAX; i++)
        if (!k->pool_used[i])
            free_at = i;
    if (free_at == ENC_KNOWN_MAX) {
        if (!evict_oldest(k, day))
            return NULL;
        return enc_known_regs_add(k, dim, day, key, n);
    }
    if (!k->pool[free_at] && !(k->pool[free_at] = enc_malloc(ENC_HLL_REGS)))
        return NULL;
    if (!insert(&k->regs, dim, day, key, n, (uint32_t)free_at))
        return NULL;
    memset(k->pool[free_at], 0, ENC_HLL_REGS);
    k->pool_used[free_at] = true;
    k->pool_day[free_at] = day;
    k->per_dim[dim]++;
    return k->pool[free_at];
}

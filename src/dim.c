/* dim — loading and looking up the songs and users tables.
 *
 * Owns: each table's row array, its string blocks and its id index. Both tables share
 * one implementation driven by a table_spec (which columns, of what kind, at which
 * offset in the row struct), in the spirit of Redis's dictType. Loading runs once, at
 * startup; enc_songs_get/enc_users_get run per event and must stay allocation-free.
 *
 * Index: open addressing with linear probing over a power-of-two array of 16-byte
 * slots, load factor <= 0.7. A slot holds the row number, a 16-bit tag (12 bits of the
 * hash's top plus the key length, capped at 15), the key's first 8 bytes (`pre`,
 * zero-padded) and the row's join profile number. For keys of up to 8 bytes, tag and pre
 * together decide equality exactly, so a hit never reads the id's bytes; longer keys
 * compare in full once tag and pre match. The slot index comes from the hash's low bits.
 *
 * Join profiles (users): the distinct (country, subscription, device) triples, each kept
 * once, and in each user's index slot the number of its triple, so enc_users_join_many
 * touches one cache line per user (the slot) instead of the slot and the user's 64-byte
 * row (bench/RESULTS.md, sessions 4 and 5).
 */
#include "dim.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "csv.h"
#include "hash.h"

#define DIM_SEED 0x656e636f72652e31ull /* "encore.1" */
#define BLOCK_MIN ((size_t)4 * 1024)
#define BLOCK_MAX ((size_t)32 * 1024 * 1024)
#define PRESIZE_MAX ((size_t)4 * 1024 * 1024) /* rows */
#define PROFILES_MAX 65536                    /* join profiles per table: numbered in 16 bits */

typedef struct {
    uint64_t pre;  /* the key as one word, see enc_key_word */
    uint16_t tag;  /* see key_tag */
    uint16_t prof; /* the row's join profile number (tables with profiles), else 0 */
    uint32_t row;  /* row index + 1; 0 = empty slot */
} slot;

/* An open-addressing index over an array of elements that each begin with their key
 * as an enc_slice: the rows of a table, or the distinct values of the intern set. */
typedef struct {
    slot *slots;
    size_t mask; /* number of slots - 1 */
} keyindex;

typedef struct block {
    struct block *next;
    size_t cap, used;
    char data[];
} block;

typedef enum { COL_ID, COL_TEXT, COL_INTERN, COL_SECONDS } col_kind;

typedef struct {
    const char *name;
    col_kind kind;
    size_t offset; /* of the enc_slice or int32_t in the row struct */
} col_spec;

enum { MAX_COLS = 8 };

typedef struct {
    const char *file;  /* "songs.csv", for messages */
    const char *needs; /* the required columns, for messages */
    size_t row_size;
    const col_spec *cols; /* cols[0] is the id */
    size_t ncols;
    bool profiles; /* every other column is COL_INTERN: build the join profiles (below) */
} table_spec;

typedef struct {
    const table_spec *spec;
    char *rows; /* count rows of spec->row_size bytes: enc_song or enc_user */
    size_t count;
    keyindex ix;
    uint64_t hmask; /* applied to every hash; ~0 except under enc_dim_test_hash_bits */
    block *blocks;  /* string storage, newest first */
    enc_dim_load_report report;
    /* Join profiles (spec->profiles): the distinct rows but for the id, each stored once
     * as a row with a NULL id; each row's profile number is in its index slot (slot.prof).
     * A join then reads nothing beyond the slot the lookup reads anyway, instead of the
     * row itself (64 MB for 1M users, a cache miss each). NULL for other tables, and for
     * a table with too many profiles (profile_limit). */
    char *prof_rows;
    size_t nprof;
} dimtab;

struct enc_songs {
    dimtab t;
};

struct enc_users {
    dimtab t;
};

static const col_spec song_cols[] = {
    {"song_id", COL_ID, offsetof(enc_song, song_id)},
    {"title", COL_TEXT, offsetof(enc_song, title)},
    {"artist", COL_INTERN, offsetof(enc_song, artist)},
    {"genre", COL_INTERN, offsetof(enc_song, genre)},
    {"duration", COL_SECONDS, offsetof(enc_song, duration)},
};

static const col_spec user_cols[] = {
    {"user_id", COL_ID, offsetof(enc_user, user_id)},
    {"country", COL_INTERN, offsetof(enc_user, country)},
    {"subscription", COL_INTERN, offsetof(enc_user, subscription)},
    {"device", COL_INTERN, offsetof(enc_user, device)},
};

static const table_spec song_spec = {"songs.csv", "song_id,title,artist,genre,duration", sizeof(enc_song), song_cols,
                                     sizeof song_cols / sizeof song_cols[0], false};
static const table_spec user_spec = {"users.csv", "user_id,country,subscription,device", sizeof(enc_user), user_cols,
                                     sizeof user_cols / sizeof user_cols[0], true};

static unsigned test_hash_bits; /* 0 = full hashes */

void enc_dim_test_hash_bits(unsigned bits)
{
    test_hash_bits = bits < 64 ? bits : 0;
}

/* ---- keys and the index ---------------------------------------------------------- */

/* 12 bits of the hash's top and the key length capped at 15. For keys of up to 8 bytes
 * the length and `pre` decide equality; for longer ones the hash bits spare most
 * compares of keys that share their first 8 bytes (1 in 4,096 of those reads the row). */
static inline uint16_t key_tag(uint64_t h, size_t n)
{
    return (uint16_t)(((uint16_t)(h >> 48) & ~(uint16_t)15) | (uint16_t)(n < 15 ? n : 15));
}

static inline uint64_t key_hash(const char *p, size_t n, uint64_t hmask)
{
    return enc_hash_bytes(p, n, DIM_SEED) & hmask;
}

/* Finds key in ix over elements of `stride` bytes at base. Returns the element index + 1,
 * or 0 when absent; *at receives the slot where it is or would go. Inline so that the
 * lookups, which pass a constant stride, compile to a tight loop. */
static inline uint32_t index_find(const keyindex *ix, const char *base, size_t stride, const char *key, size_t n,
                                  uint64_t h, size_t *at)
{
    uint16_t tag = key_tag(h, n);
    uint64_t pre = enc_key_word(key, n);
    const slot *slots = ix->slots;
    size_t mask = ix->mask;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        const slot *s = &slots[i];
        if (s->row == 0) {
            *at = i;
            return 0;
        }
        if (s->tag == tag && s->pre == pre) {
            const enc_slice *k = (const enc_slice *)(base + (size_t)(s->row - 1) * stride);
            if (n <= 8 || (k->n == n && memcmp(k->p, key, n) == 0)) {
                *at = i;
                return s->row;
            }
        }
    }
}

static void index_put(keyindex *ix, size_t at, const char *key, size_t n, uint64_t h, size_t elem)
{
    ix->slots[at] = (slot){enc_key_word(key, n), key_tag(h, n), 0, (uint32_t)(elem + 1)};
}

/* The slot count that holds `need` elements at a load factor <= 0.7. */
static size_t slots_for(size_t need)
{
    size_t n = 1024;
    while (need * 10 > n * 7)
        n *= 2;
    return n;
}

#if defined(__GNUC__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)0)
#endif

/* Called when element e has the key of element f (< e), which is already indexed. */
typedef void (*dup_fn)(void *ctx, size_t e, size_t f);

/* Indexes elements [from, count) in order, after [0, from); a repeated key is not
 * indexed but handed to on_dup (which must be given when repeats are possible). Returns
 * the number of repeats. The slot each key lands in is prefetched AHEAD keys early: for a
 * million ids the slot array is far bigger than the cache and every insert is a miss. */
static size_t index_fill(keyindex *ix, const char *base, size_t stride, size_t from, size_t count, uint64_t hmask,
                         dup_fn on_dup, void *ctx)
{
    enum { AHEAD = 8 };
    uint64_t ring[AHEAD];
    size_t ndup = 0;
    for (size_t e = from; e < count && e < from + AHEAD; e++) {
        const enc_slice *k = (const enc_slice *)(base + e * stride);
        ring[e % AHEAD] = key_hash(k->p, k->n, hmask);
        PREFETCH(&ix->slots[ring[e % AHEAD] & ix->mask]);
    }
    for (size_t e = from; e < count; e++) {
        uint64_t h = ring[e % AHEAD];
        if (e + AHEAD < count) {
            const enc_slice *k = (const enc_slice *)(base + (e + AHEAD) * stride);
            ring[e % AHEAD] = key_hash(k->p, k->n, hmask);
            PREFETCH(&ix->slots[ring[e % AHEAD] & ix->mask]);
        }
        const enc_slice *k = (const enc_slice *)(base + e * stride);
        size_t at;
        uint32_t f = index_find(ix, base, stride, k->p, k->n, h, &at);
        if (f) {
            ndup++;
            on_dup(ctx, e, f - 1);
        } else {
            index_put(ix, at, k->p, k->n, h, e);
        }
    }
    return ndup;
}

/* Replaces the slot array with one of nslots slots, filled from the `count` elements
 * themselves (so no hash needs to be stored), which must have distinct keys. */
static enc_status index_build(keyindex *ix, const char *base, size_t stride, size_t count, size_t nslots,
                              uint64_t hmask)
{
    slot *slots = enc_calloc(nslots, sizeof *slots);
    if (!slots)
        return ENC_ERROR;
    enc_free(ix->slots);
    ix->slots = slots;
    ix->mask = nslots - 1;
    index_fill(ix, base, stride, 0, count, hmask, NULL, NULL);
    return ENC_OK;
}

/* Makes room for one more of `count` elements, at least doubling when it must grow.
 * *rebuilt tells the caller that a slot position it holds is stale. */
static enc_status index_reserve_one(keyindex *ix, const char *base, size_t stride, size_t count, uint64_t hmask,
                                    bool *rebuilt)
{
    size_t nslots = ix->mask + 1;
    *rebuilt = false;
    if ((count + 1) * 10 <= nslots * 7)
        return ENC_OK;
    if (index_build(ix, base, stride, count, nslots * 2, hmask) != ENC_OK)
        return ENC_ERROR;
    *rebuilt = true;
    return ENC_OK;
}

/* ---- string storage --------------------------------------------------------------- */

/* Copies n bytes into the table's blocks, unaligned and without terminator. Blocks
 * start at a size guessed from the input and double up to BLOCK_MAX; the unused tail
 * of a large block is never touched, so it costs address space, not memory. A string
 * too big to share a block gets its own, kept behind the current one. */
static const char *store(dimtab *t, size_t *next_block, const char *p, size_t n)
{
    block *b = t->blocks;
    if (!b || b->cap - b->used < n) {
        bool own = n > *next_block / 4;
        size_t cap = own ? n : *next_block;
        b = enc_malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->cap = cap;
        b->used = 0;
        if (own && t->blocks) {
            b->next = t->blocks->next;
            t->blocks->next = b;
        } else {
            b->next = t->blocks;
            t->blocks = b;
            if (*next_block < BLOCK_MAX)
                *next_block *= 2;
        }
    }
    char *d = b->data + b->used;
    memcpy(d, p, n);
    b->used += n;
    return d;
}

/* ---- a helper thread for big tables ------------------------------------------------ */

/* A big table's arrays are fresh memory, and on a VM the first touch of a page costs
 * more than the loading does with it (the kernel zeroes it, and the host may have to back
 * it first: bench/RESULTS.md, session 6). While the loader reads rows into the arrays
 * front to back, a helper thread faults them in from the back (MADV_POPULATE_WRITE, which
 * never changes what a page holds, so it may run beside the writes) until it meets the
 * loader; then it zeroes the index array, allocated up front for the row bound, and
 * indexes the ids of the rows read so far, following the loader as it publishes them
 * (every HELPER_PUBLISH rows). It finds repeated ids exactly as index_fill would, in row
 * order, and only lists them: index_rows folds them in on the loader's thread (the
 * warnings come from there, in order). Once all rows are read the loader stops the helper
 * and indexes what it has not reached (on a busy machine the helper may have had little
 * of the other core). When the helper's index does not fit the final row count (blank
 * lines made the bound too high) or it ran out of memory, index_rows builds the index
 * itself, as it did before (bench/RESULTS.md, session 6). */
#define PREFAULT_STEP ((size_t)2 << 20)
#define HELPER_PUBLISH 4096

typedef struct {
    char *base;          /* page-aligned start of the region */
    size_t len;          /* whole pages */
    size_t per_row;      /* bytes of it per row */
} prefault_region;

typedef struct {
    size_t e, f; /* row e repeats the id of row f */
} dup_pair;

typedef struct {
    pthread_t thread;
    bool running;
    prefault_region reg[2];   /* the rows, the rows' first lines */
    atomic_size_t published;  /* rows the loader has finished with the id of */
    atomic_bool all_read;     /* published is final */
    atomic_bool stop;         /* the loader takes over (or failed): return */
    const char *rows;
    size_t row_size;
    uint64_t hmask;
    keyindex ix;              /* slots for the bound, or NULL */
    bool zeroed;              /* ix.slots are all zero but for the rows indexed */
    size_t indexed;           /* rows the helper has indexed */
    bool failed;              /* out of memory for the pairs, or the rows moved: no index */
    dup_pair *dups;
    size_t ndups, cap_dups;
} helper;

static bool stopped(helper *h)
{
    return atomic_load_explicit(&h->stop, memory_order_relaxed);
}

static prefault_region page_region(const void *p, size_t n, size_t per_row)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)p + page - 1) & ~(page - 1), b = ((uintptr_t)p + n) & ~(page - 1);
    return (prefault_region){(char *)a, b > a ? b - a : 0, per_row};
}

/* Faults reg in from its end, a step at a time, while it stays ahead of the loader. */
static void populate_back(helper *h, const prefault_region *reg)
{
#ifdef MADV_POPULATE_WRITE
    size_t end = reg->len;
    while (end > 0 && !stopped(h)) {
        size_t start = end > PREFAULT_STEP ? end - PREFAULT_STEP : 0;
        size_t reached = atomic_load_explicit(&h->published, memory_order_relaxed) * reg->per_row;
        if (start <= reached + PREFAULT_STEP)
            break;
        if (madvise(reg->base + start, end - start, MADV_POPULATE_WRITE) != 0)
            break; /* an older kernel: the loader faults the pages in itself */
        end = start;
    }
#else
    (void)h;
    (void)reg;
#endif
}

static void on_dup_pair(void *ctx, size_t e, size_t f)
{
    helper *h = ctx;
    if (h->ndups == h->cap_dups) {
        size_t cap = h->cap_dups ? h->cap_dups * 2 : 64;
        dup_pair *grown = enc_realloc(h->dups, cap * sizeof *grown);
        if (!grown) {
            h->failed = true;
            return;
        }
        h->dups = grown;
        h->cap_dups = cap;
    }
    h->dups[h->ndups++] = (dup_pair){e, f};
}

/* Indexes the rows as the loader publishes them, a few thousand at a time, until all are
 * in or the loader says stop (it then indexes the rest itself: helper_finish). */
static void index_follow(helper *h)
{
    while (!stopped(h) && !h->failed) {
        bool last = atomic_load_explicit(&h->all_read, memory_order_acquire);
        size_t n = atomic_load_explicit(&h->published, memory_order_acquire);
        if (h->indexed < n) {
            size_t to = n - h->indexed > HELPER_PUBLISH ? h->indexed + HELPER_PUBLISH : n;
            index_fill(&h->ix, h->rows, h->row_size, h->indexed, to, h->hmask, on_dup_pair, h);
            h->indexed = to;
        } else if (last) {
            return;
        } else { /* the loader publishes a few thousand rows every few tenths of a ms */
            struct timespec ts = {0, 50 * 1000};
            nanosleep(&ts, NULL);
        }
    }
}

static void *helper_main(void *arg)
{
    helper *h = arg;
    for (int i = 0; i < 2; i++)
        populate_back(h, &h->reg[i]);
    if (!h->ix.slots)
        return NULL;
    char *z = (char *)h->ix.slots;
    size_t len = (h->ix.mask + 1) * sizeof *h->ix.slots;
    for (size_t o = 0; o < len; o += PREFAULT_STEP) {
        if (stopped(h))
            return NULL; /* not zeroed: the loader makes its own index */
        memset(z + o, 0, len - o < PREFAULT_STEP ? len - o : PREFAULT_STEP);
    }
    h->zeroed = true;
    index_follow(h);
    return NULL;
}

/* Allocates the index array for `bound` rows and starts the helper on it and on the row
 * arrays, for tables big enough to matter. Nothing changes when either fails. */
static void helper_start(helper *h, const dimtab *t, size_t *lines, size_t bound)
{
    memset(h, 0, sizeof *h);
    atomic_init(&h->published, 0);
    atomic_init(&h->all_read, false);
    atomic_init(&h->stop, false);
    size_t rs = t->spec->row_size;
    if (bound * rs < ENC_ALLOC_HUGE)
        return;
    h->rows = t->rows;
    h->row_size = rs;
    h->hmask = t->hmask;
    h->ix.slots = enc_malloc(slots_for(bound) * sizeof *h->ix.slots);
    h->ix.mask = slots_for(bound) - 1;
    h->reg[0] = page_region(t->rows, bound * rs, rs);
    h->reg[1] = page_region(lines, bound * sizeof *lines, sizeof *lines);
    h->running = pthread_create(&h->thread, NULL, helper_main, h) == 0;
}

/* The loader has read `rows` rows (ids in place). */
static inline void helper_progress(helper *h, size_t rows)
{
    if (rows % HELPER_PUBLISH == 0)
        atomic_store_explicit(&h->published, rows, memory_order_release);
}

/* Tells the helper to stop, and waits for it. */
static void helper_stop(helper *h)
{
    if (h->running) {
        atomic_store_explicit(&h->stop, true, memory_order_relaxed);
        pthread_join(h->thread, NULL);
        h->running = false;
    }
}

/* The row arrays are about to move (never, as the bound is exact, but cheap to be sure
 * of): the helper stops and its index is dropped. */
static void helper_abandon(helper *h)
{
    helper_stop(h);
    h->failed = true;
}

static void helper_all_read(helper *h, size_t rows)
{
    atomic_store_explicit(&h->published, rows, memory_order_release);
    atomic_store_explicit(&h->all_read, true, memory_order_release);
}

/* Stops and joins the helper; the loader has read all `count` rows. When the helper's
 * index is zeroed and has slots_for(count) slots, indexes the rows the helper has not
 * reached (on a busy machine it may have had little of the other core), and returns true:
 * *ix is the index and *dups (*ndups) the repeats found, both the caller's to free.
 * Else frees everything and returns false. count == SIZE_MAX: just stop and free. */
static bool helper_finish(helper *h, size_t count, keyindex *ix, dup_pair **dups, size_t *ndups)
{
    helper_stop(h);
    bool ok = h->ix.slots && h->zeroed && !h->failed && count != SIZE_MAX && h->ix.mask + 1 == slots_for(count);
    if (ok && h->indexed < count) {
        index_fill(&h->ix, h->rows, h->row_size, h->indexed, count, h->hmask, on_dup_pair, h);
        h->indexed = count;
        ok = !h->failed;
    }
    if (ok) {
        *ix = h->ix;
        *dups = h->dups;
        *ndups = h->ndups;
    } else {
        enc_free(h->ix.slots);
        enc_free(h->dups);
    }
    h->ix.slots = NULL;
    h->dups = NULL;
    return ok;
}

/* ---- loading ---------------------------------------------------------------------- */

typedef struct {
    dimtab *t;
    const char *name;
    enc_warn_fn warn;
    void *warn_arg;
    size_t nwarn;
    size_t next_block;
    size_t row_cap;     /* rows allocated in t->rows */
    size_t *first_line; /* per row: the line where its id first appeared */
    enc_slice *vals;    /* the intern set: distinct values, and their index */
    size_t nvals, vals_cap;
    keyindex vix;
    /* Join profiles, numbered as the rows are read (spec->profiles; profiles_begin):
     * the set of profiles seen (entries are profile numbers + 1) and each row's number. */
    uint32_t *phs;
    size_t pmask, pcap, plimit;
    uint16_t *prof_of; /* row_cap entries while profiling, else NULL */
    helper help;
} loader;

static void warnf(loader *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warnf(loader *L, const char *fmt, ...)
{
    if (!L->warn || ++L->nwarn > ENC_DIM_MAX_WARNINGS)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    L->warn(L->warn_arg, msg);
}

/* Renders a value for a message: at most 40 bytes, control bytes and quotes escaped. */
static const char *show(char out[200], enc_slice v)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, lim = v.n < 40 ? v.n : 40;
    for (size_t i = 0; i < lim; i++) {
        unsigned char c = (unsigned char)v.p[i];
        if (c < 0x20 || c == 0x7f || c == '\'' || c == '\\') {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    if (v.n > lim) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

static int ieq_trimmed(enc_slice f, const char *name)
{
    size_t a = 0, b = f.n;
    while (a < b && (f.p[a] == ' ' || f.p[a] == '\t'))
        a++;
    while (b > a && (f.p[b - 1] == ' ' || f.p[b - 1] == '\t'))
        b--;
    size_t len = strlen(name);
    if (b - a != len)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = f.p[a + i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != name[i])
            return 0;
    }
    return 1;
}

/* Whole seconds: optional spaces, digits, optional spaces. Empty or blank is NULL
 * without a warning; anything else that is not a number in 0..INT32_MAX warns. */
static int32_t parse_seconds(loader *L, enc_slice f, size_t line)
{
    size_t a = 0, b = f.n;
    while (a < b && (f.p[a] == ' ' || f.p[a] == '\t'))
        a++;
    while (b > a && (f.p[b - 1] == ' ' || f.p[b - 1] == '\t'))
        b--;
    if (a == b)
        return -1;
    int64_t v = 0;
    char shown[200];
    for (size_t i = a; i < b; i++) {
        if (f.p[i] < '0' || f.p[i] > '9') {
            warnf(L, "%s:%zu: duration '%s' is not a whole number of seconds; stored as NULL", L->name, line,
                  show(shown, f));
            return -1;
        }
        v = v * 10 + (f.p[i] - '0');
        if (v > INT32_MAX) {
            warnf(L, "%s:%zu: duration '%s' is out of range (more than %d seconds); stored as NULL", L->name, line,
                  show(shown, f), INT32_MAX);
            return -1;
        }
    }
    return (int32_t)v;
}

static const char *intern(loader *L, enc_slice v)
{
    uint64_t h = key_hash(v.p, v.n, L->t->hmask);
    size_t at;
    uint32_t e = index_find(&L->vix, (const char *)L->vals, sizeof *L->vals, v.p, v.n, h, &at);
    if (e)
        return L->vals[e - 1].p;
    if (L->nvals == L->vals_cap) {
        size_t cap = L->vals_cap ? L->vals_cap * 2 : 256;
        enc_slice *grown = enc_realloc(L->vals, cap * sizeof *grown);
        if (!grown)
            return NULL;
        L->vals = grown;
        L->vals_cap = cap;
    }
    bool rebuilt;
    if (index_reserve_one(&L->vix, (const char *)L->vals, sizeof *L->vals, L->nvals, L->t->hmask, &rebuilt) !=
        ENC_OK)
        return NULL;
    const char *p = store(L->t, &L->next_block, v.p, v.n);
    if (!p)
        return NULL;
    if (rebuilt) /* the index grew: find the new free slot */
        index_find(&L->vix, (const char *)L->vals, sizeof *L->vals, v.p, v.n, h, &at);
    L->vals[L->nvals] = (enc_slice){p, v.n};
    index_put(&L->vix, at, v.p, v.n, h, L->nvals);
    L->nvals++;
    return p;
}

/* ---- join profiles ------------------------------------------------------------------ */

/* Interned values are stored once, so two rows hold the same values exactly when the
 * bytes of their slices after the id are equal. */
static inline const char *row_attrs(const char *row)
{
    return row + sizeof(enc_slice);
}

/* A row's interned values are told apart by their pointers alone: a multiply-xor over
 * the words of the slices is hash enough for the few profiles there are, and cheaper
 * per row than hashing the bytes (an 8-byte tail, which enc_user has not, is left out). */
static inline uint64_t attrs_hash(const char *a, size_t an)
{
    uint64_t h = DIM_SEED;
    for (size_t i = 0; i + 8 <= an; i += 8) {
        uint64_t w;
        memcpy(&w, a + i, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    return h;
}

/* Adds row's profile unless an equal one is in the open-addressing set hs (entries are
 * profile numbers + 1). Returns its number, or -1 when out of memory. */
static long profile_find_or_add(dimtab *t, uint32_t *hs, size_t mask, size_t *cap, const char *row)
{
    size_t rs = t->spec->row_size, an = rs - sizeof(enc_slice);
    const char *a = row_attrs(row);
    for (size_t i = (size_t)attrs_hash(a, an) & mask;; i = (i + 1) & mask) {
        if (hs[i] == 0) {
            if (t->nprof == *cap) {
                char *grown = enc_realloc(t->prof_rows, *cap * 2 * rs);
                if (!grown)
                    return -1;
                t->prof_rows = grown;
                *cap *= 2;
            }
            char *p = t->prof_rows + t->nprof * rs;
            memset(p, 0, sizeof(enc_slice)); /* the id: NULL */
            memcpy(p + sizeof(enc_slice), a, an);
            hs[i] = (uint32_t)++t->nprof;
            return (long)(t->nprof - 1);
        }
        if (memcmp(row_attrs(t->prof_rows + (size_t)(hs[i] - 1) * rs), a, an) == 0)
            return (long)hs[i] - 1;
    }
}

/* The most profiles a table of `rows` rows may have: past it joins read the rows. */
static size_t profile_limit(size_t rows)
{
    return rows / 2 + 16 < PROFILES_MAX ? rows / 2 + 16 : PROFILES_MAX;
}

/* Gives up the profiles: the table's joins will read the rows. */
static void profiles_drop(loader *L)
{
    dimtab *t = L->t;
    enc_free(L->phs);
    enc_free(L->prof_of);
    enc_free(t->prof_rows);
    L->phs = NULL;
    L->prof_of = NULL;
    t->prof_rows = NULL;
    t->nprof = 0;
}

/* Numbers the profiles as the rows are read (until session 6 a pass of its own came
 * over the rows, 64 MB for 1M users, once they were out of the cache: a quarter of the
 * load's time), for a table of at most `bound` rows whose spec asks for them. */
static enc_status profiles_begin(loader *L, size_t bound)
{
    dimtab *t = L->t;
    if (!t->spec->profiles)
        return ENC_OK;
    L->plimit = profile_limit(bound);
    size_t nslots = slots_for(2 * L->plimit);
    L->pmask = nslots - 1;
    L->pcap = 64;
    L->phs = enc_calloc(nslots, sizeof *L->phs);
    t->prof_rows = enc_malloc(L->pcap * t->spec->row_size);
    L->prof_of = enc_malloc((L->row_cap ? L->row_cap : 1) * sizeof *L->prof_of);
    if (L->phs && t->prof_rows && L->prof_of)
        return ENC_OK;
    profiles_drop(L);
    return ENC_ERROR;
}

/* Row e, just filled: its profile number. Past plimit profiles there will be none. */
static enc_status profiles_add(loader *L, size_t e)
{
    dimtab *t = L->t;
    if (!L->prof_of)
        return ENC_OK;
    long p = profile_find_or_add(t, L->phs, L->pmask, &L->pcap, t->rows + e * t->spec->row_size);
    if (p < 0)
        return ENC_ERROR;
    if (t->nprof >= L->plimit)
        profiles_drop(L);
    else
        L->prof_of[e] = (uint16_t)p;
    return ENC_OK;
}

/* Once the rows are final (repeats folded, index built): keeps the profiles when there
 * are fewer than profile_limit(count), and writes each row's number into its slot. */
static void profiles_finish(loader *L)
{
    dimtab *t = L->t;
    if (L->prof_of && t->count > 0 && t->nprof < profile_limit(t->count)) {
        for (size_t i = 0; i <= t->ix.mask; i++)
            if (t->ix.slots[i].row)
                t->ix.slots[i].prof = L->prof_of[t->ix.slots[i].row - 1];
        enc_free(L->phs);
        enc_free(L->prof_of);
        L->phs = NULL;
        L->prof_of = NULL;
    } else {
        profiles_drop(L);
    }
}

/* Fills every column but the id of `row` from the CSV fields. */
static enc_status fill_row(loader *L, char *row, const size_t *colidx, const enc_csv_row *r)
{
    const table_spec *spec = L->t->spec;
    for (size_t c = 1; c < spec->ncols; c++) {
        const col_spec *cs = &spec->cols[c];
        enc_slice f = colidx[c] < r->nfields ? r->fields[colidx[c]] : ENC_SLICE_NULL;
        if (cs->kind == COL_SECONDS) {
            int32_t secs = f.p ? parse_seconds(L, f, r->line) : -1;
            memcpy(row + cs->offset, &secs, sizeof secs);
            continue;
        }
        enc_slice v = ENC_SLICE_NULL;
        if (f.p && f.n) {
            v.p = cs->kind == COL_INTERN ? intern(L, f) : store(L->t, &L->next_block, f.p, f.n);
            if (!v.p)
                return ENC_ERROR;
            v.n = f.n;
        }
        memcpy(row + cs->offset, &v, sizeof v);
    }
    return ENC_OK;
}

/* Reads the header; fills colidx[c] with the field index of spec column c. */
static enc_status read_header(loader *L, enc_csv *csv, size_t *colidx, size_t *header_n, enc_err *err)
{
    const table_spec *spec = L->t->spec;
    enc_csv_row r;
    enc_err cerr;
    int got = enc_csv_next(csv, &r, &cerr);
    if (got < 0)
        return enc_err_set(err, "%s '%s': %s", spec->file, L->name, cerr.msg);
    if (got == 0)
        return enc_err_set(err, "%s '%s' is empty (needs a header row: %s)", spec->file, L->name, spec->needs);
    for (size_t c = 0; c < spec->ncols; c++) {
        colidx[c] = SIZE_MAX;
        for (size_t i = 0; i < r.nfields; i++) {
            if (!ieq_trimmed(r.fields[i], spec->cols[c].name))
                continue;
            if (colidx[c] != SIZE_MAX)
                return enc_err_set(err, "%s '%s' has column '%s' twice (fields %zu and %zu of the header)",
                                   spec->file, L->name, spec->cols[c].name, colidx[c] + 1, i + 1);
            colidx[c] = i;
        }
        if (colidx[c] == SIZE_MAX)
            return enc_err_set(err, "%s '%s' has no column '%s' (needs %s)", spec->file, L->name,
                               spec->cols[c].name, spec->needs);
    }
    *header_n = r.nfields;
    return ENC_OK;
}

/* Makes room for `need` rows: exactly that many when presizing, doubling otherwise. */
static enc_status reserve_rows(loader *L, size_t need)
{
    dimtab *t = L->t;
    if (need <= L->row_cap)
        return ENC_OK;
    size_t cap = L->row_cap * 2 > need ? L->row_cap * 2 : need;
    helper_abandon(&L->help);
    char *rows = enc_realloc(t->rows, cap * t->spec->row_size);
    if (!rows)
        return ENC_ERROR;
    t->rows = rows;
    size_t *lines = enc_realloc(L->first_line, cap * sizeof *lines);
    if (!lines)
        return ENC_ERROR;
    L->first_line = lines;
    if (L->prof_of) {
        uint16_t *prof = enc_realloc(L->prof_of, cap * sizeof *prof);
        if (!prof)
            return ENC_ERROR;
        L->prof_of = prof;
    }
    L->row_cap = cap;
    return ENC_OK;
}

/* Pass 1: every row with an id, in file order, repeated ids included. */
static enc_status read_rows(loader *L, enc_csv *csv, enc_err *err)
{
    dimtab *t = L->t;
    const table_spec *spec = t->spec;
    size_t colidx[MAX_COLS], header_n = 0;
    if (read_header(L, csv, colidx, &header_n, err) != ENC_OK)
        return ENC_ERROR;

    /* Size the row array once from the line count (an overestimate when there are
     * blank lines or quoted line breaks; trimmed at the end). Beyond PRESIZE_MAX rows
     * the guess is not trusted with memory and the array doubles as needed. */
    size_t bound = enc_csv_rows_bound(csv);
    if (reserve_rows(L, bound < PRESIZE_MAX ? bound : PRESIZE_MAX) != ENC_OK ||
        profiles_begin(L, bound) != ENC_OK)
        goto oom;
    if (bound <= PRESIZE_MAX) /* then the row arrays never move */
        helper_start(&L->help, t, L->first_line, bound);

    for (;;) {
        enc_csv_row r;
        enc_err cerr;
        int got = enc_csv_next(csv, &r, &cerr);
        if (got < 0)
            return enc_err_set(err, "%s '%s': %s", spec->file, L->name, cerr.msg);
        if (got == 0)
            break;

        enc_slice id = colidx[0] < r.nfields ? r.fields[colidx[0]] : ENC_SLICE_NULL;
        if (id.n == 0) {
            t->report.empty_ids++;
            warnf(L, "%s:%zu: empty %s; row skipped", L->name, r.line, spec->cols[0].name);
            continue;
        }
        if (r.nfields < header_n) {
            warnf(L, "%s:%zu: row has %zu fields, the header has %zu; the missing ones are NULL", L->name, r.line,
                  r.nfields, header_n);
        } else if (r.nfields > header_n) {
            for (size_t i = header_n; i < r.nfields; i++) {
                if (r.fields[i].n) {
                    warnf(L, "%s:%zu: row has %zu fields, the header has %zu; the extra ones are ignored", L->name,
                          r.line, r.nfields, header_n);
                    break;
                }
            }
        }
        if (t->count >= ENC_DIM_MAX_ROWS)
            return enc_err_set(err, "%s '%s' has more than %u rows (ENC_DIM_MAX_ROWS)", spec->file, L->name,
                               ENC_DIM_MAX_ROWS);
        if (reserve_rows(L, t->count + 1) != ENC_OK)
            goto oom;
        char *row = t->rows + t->count * spec->row_size;
        enc_slice key = {store(t, &L->next_block, id.p, id.n), id.n};
        if (!key.p)
            goto oom;
        memcpy(row, &key, sizeof key);
        L->first_line[t->count] = r.line;
        t->count++;
        helper_progress(&L->help, t->count);
        if (fill_row(L, row, colidx, &r) != ENC_OK || profiles_add(L, t->count - 1) != ENC_OK)
            goto oom;
    }
    helper_all_read(&L->help, t->count);
    return ENC_OK;
oom:
    return enc_err_set(err, "out of memory loading %s '%s' (%zu rows so far)", spec->file, L->name, t->count);
}

/* Row e repeats the id of row f: e's values replace f's (the last row wins, in the
 * place of the first), and e is marked dead by an empty id. */
static void on_dup_row(void *ctx, size_t e, size_t f)
{
    loader *L = ctx;
    dimtab *t = L->t;
    size_t rs = t->spec->row_size;
    char *re = t->rows + e * rs, *rf = t->rows + f * rs;
    enc_slice id;
    char shown[200];
    memcpy(&id, re, sizeof id);
    if (t->report.duplicate_ids++ == 0)
        snprintf(t->report.first_duplicate, sizeof t->report.first_duplicate, "%.*s", (int)id.n, id.p);
    warnf(L, "%s:%zu: duplicate %s '%s' (first at line %zu); the last row wins", L->name, L->first_line[e],
          t->spec->cols[0].name, show(shown, id), L->first_line[f]);
    memcpy(rf + sizeof id, re + sizeof id, rs - sizeof id);
    if (L->prof_of)
        L->prof_of[f] = L->prof_of[e];
    id = ENC_SLICE_NULL;
    memcpy(re, &id, sizeof id);
}

/* Pass 2: the id index, built in one go now that the row count is known. Repeated ids
 * found on the way are folded into their first row, and the dead rows squeezed out. */
static enc_status index_rows(loader *L, enc_err *err)
{
    dimtab *t = L->t;
    size_t rs = t->spec->row_size, ndup;
    dup_pair *dups = NULL;
    if (helper_finish(&L->help, t->count, &t->ix, &dups, &ndup)) {
        for (size_t i = 0; i < ndup; i++) /* as index_fill would have, in the same order */
            on_dup_row(L, dups[i].e, dups[i].f);
        enc_free(dups);
    } else {
        t->ix.slots = enc_calloc(slots_for(t->count), sizeof *t->ix.slots);
        if (!t->ix.slots)
            goto oom;
        t->ix.mask = slots_for(t->count) - 1;
        ndup = index_fill(&t->ix, t->rows, rs, 0, t->count, t->hmask, on_dup_row, L);
    }
    if (ndup > 0) {
        size_t live = 0;
        for (size_t e = 0; e < t->count; e++) {
            enc_slice id;
            memcpy(&id, t->rows + e * rs, sizeof id);
            if (id.n == 0)
                continue;
            if (live != e) {
                memcpy(t->rows + live * rs, t->rows + e * rs, rs);
                if (L->prof_of)
                    L->prof_of[live] = L->prof_of[e];
            }
            live++;
        }
        t->count = live;
        if (index_build(&t->ix, t->rows, rs, t->count, slots_for(t->count), t->hmask) != ENC_OK)
            goto oom;
    }
    if (t->count < L->row_cap) {
        /* The index refers to rows by number, so the array may move. If shrinking
         * fails the larger array is kept. */
        char *rows = enc_realloc(t->rows, (t->count ? t->count : 1) * rs);
        if (rows)
            t->rows = rows;
    }
    return ENC_OK;
oom:
    return enc_err_set(err, "out of memory indexing %s '%s' (%zu rows)", t->spec->file, L->name, t->count);
}

static void dimtab_release(dimtab *t)
{
    block *b = t->blocks;
    while (b) {
        block *next = b->next;
        enc_free(b);
        b = next;
    }
    enc_free(t->rows);
    enc_free(t->ix.slots);
    enc_free(t->prof_rows);
}

/* Loads into *t from an open reader, which it closes. On error *t holds nothing. */
static enc_status dimtab_load(dimtab *t, const table_spec *spec, enc_csv *csv, const char *name, enc_warn_fn warn,
                              void *warn_arg, enc_err *err)
{
    memset(t, 0, sizeof *t);
    t->spec = spec;
    t->hmask = test_hash_bits ? ((uint64_t)1 << test_hash_bits) - 1 : ~(uint64_t)0;
    loader L = {.t = t, .name = name, .warn = warn, .warn_arg = warn_arg};
    size_t guess = enc_csv_size(csv) / 4;
    L.next_block = guess < BLOCK_MIN ? BLOCK_MIN : guess > BLOCK_MAX ? BLOCK_MAX : guess;

    enc_status st;
    L.vix.slots = enc_calloc(slots_for(0), sizeof *L.vix.slots);
    L.vix.mask = slots_for(0) - 1;
    if (!L.vix.slots)
        st = enc_err_set(err, "out of memory loading %s '%s'", spec->file, name);
    else
        st = read_rows(&L, csv, err);
    enc_csv_close(csv); /* before the index is finished: the mapping is not needed past the read */
    enc_free(L.vals);
    enc_free(L.vix.slots);
    enc_free(L.phs); /* the profiles are numbered */
    L.phs = NULL;
    if (st == ENC_OK)
        st = index_rows(&L, err);
    if (st != ENC_OK) { /* read_rows failed: the helper's work is dropped */
        keyindex none;
        dup_pair *nodups;
        size_t n;
        helper_finish(&L.help, SIZE_MAX, &none, &nodups, &n);
    }
    if (st == ENC_OK)
        profiles_finish(&L);
    if (st == ENC_OK && L.warn && L.nwarn > ENC_DIM_MAX_WARNINGS) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s: %zu more warnings not shown", name, L.nwarn - ENC_DIM_MAX_WARNINGS);
        L.warn(L.warn_arg, msg);
    }
    enc_free(L.first_line);
    enc_free(L.prof_of);
    if (st != ENC_OK) {
        dimtab_release(t);
        memset(t, 0, sizeof *t);
    }
    return st;
}

/* Opens the reader (from a file when data is NULL) and loads a table of `spec` into a
 * new object of `size` bytes that begins with its dimtab. */
static enc_status load_any(void **out, size_t size, const table_spec *spec, const char *path, const char *data,
                           size_t n, enc_warn_fn warn, void *warn_arg, enc_err *err)
{
    *out = NULL;
    const char *name = path ? path : "(memory)";
    enc_csv *csv = NULL;
    enc_err cerr;
    enc_status st = data || !path ? enc_csv_open_mem(&csv, data, n, &cerr) : enc_csv_open(&csv, path, &cerr);
    if (st != ENC_OK)
        return enc_err_set(err, "%s: %s", spec->file, cerr.msg);
    dimtab *t = enc_malloc(size);
    if (!t) {
        enc_csv_close(csv);
        return enc_err_set(err, "out of memory loading %s '%s'", spec->file, name);
    }
    if (dimtab_load(t, spec, csv, name, warn, warn_arg, err) != ENC_OK) {
        enc_free(t);
        return ENC_ERROR;
    }
    *out = t;
    return ENC_OK;
}

/* The lookup, inlined into the two typed wrappers with their constant row size. */
static inline const char *dimtab_get(const dimtab *t, const char *id, size_t n, size_t row_size)
{
    if (!t || n == 0)
        return NULL;
    size_t at;
    uint32_t e = index_find(&t->ix, t->rows, row_size, id, n, key_hash(id, n, t->hmask), &at);
    return e ? t->rows + (size_t)(e - 1) * row_size : NULL;
}

/* One lookup of a key whose hash is known: the row, or with `profiles` the row's join
 * profile (read from the slot the probe ends on). A found row is prefetched for the
 * caller, who reads it a little later (a row may straddle two cache lines). */
static inline const void *dimtab_find(const dimtab *t, const enc_slice *id, uint64_t h, size_t row_size,
                                      bool profiles)
{
    size_t at;
    uint32_t e = id->n ? index_find(&t->ix, t->rows, row_size, id->p, id->n, h, &at) : 0;
    if (!e)
        return NULL;
    if (profiles)
        return t->prof_rows + (size_t)t->ix.slots[at].prof * row_size;
    const char *row = t->rows + (size_t)(e - 1) * row_size;
    PREFETCH(row);
    PREFETCH(row + row_size - 1);
    return row;
}

/* Many lookups at once, the way index_fill inserts: the slot of key i + AHEAD is
 * prefetched while key i is probed, so the cache misses of a batch overlap instead of
 * queueing one behind the other. With `profiles`, out[i] is the row's join profile
 * instead of the row. (Prefetching the slots earlier, as enrich parses each event, was
 * measured slower: bench/RESULTS.md, session 5.) */
static inline void dimtab_get_many(const dimtab *t, const enc_slice *ids, size_t n, size_t row_size, bool profiles,
                                   const void **out)
{
    enum { AHEAD = 16 };
    uint64_t ring[AHEAD];
    if (!t || t->count == 0) {
        memset(out, 0, n * sizeof *out);
        return;
    }
    for (size_t i = 0; i < n && i < AHEAD; i++) {
        ring[i] = key_hash(ids[i].p, ids[i].n, t->hmask);
        PREFETCH(&t->ix.slots[ring[i] & t->ix.mask]);
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t h = ring[i % AHEAD];
        if (i + AHEAD < n) {
            const enc_slice *k = &ids[i + AHEAD];
            ring[i % AHEAD] = key_hash(k->p, k->n, t->hmask);
            PREFETCH(&t->ix.slots[ring[i % AHEAD] & t->ix.mask]);
        }
        out[i] = dimtab_find(t, &ids[i], h, row_size, profiles);
    }
}

/* ---- the typed API ---------------------------------------------------------------- */

enc_status enc_songs_load(enc_songs **out, const char *path, enc_warn_fn warn, void *warn_arg, enc_err *err)
{
    return load_any((void **)out, sizeof **out, &song_spec, path, NULL, 0, warn, warn_arg, err);
}

enc_status enc_songs_load_mem(enc_songs **out, const char *data, size_t n, const char *name, enc_warn_fn warn,
                              void *warn_arg, enc_err *err)
{
    *out = NULL;
    enc_songs *t = NULL;
    enc_status st = load_any((void **)&t, sizeof *t, &song_spec, name, data ? data : "", n, warn, warn_arg, err);
    *out = t;
    return st;
}

const enc_song *enc_songs_get(const enc_songs *t, const char *id, size_t n)
{
    return (const enc_song *)dimtab_get(t ? &t->t : NULL, id, n, sizeof(enc_song));
}

void enc_songs_get_many(const enc_songs *t, const enc_slice *ids, size_t n, const enc_song **out)
{
    dimtab_get_many(t ? &t->t : NULL, ids, n, sizeof(enc_song), false, (const void **)out);
}

size_t enc_songs_count(const enc_songs *t)
{
    return t ? t->t.count : 0;
}

size_t enc_songs_index(const enc_songs *t, const enc_song *s)
{
    return (size_t)(s - (const enc_song *)t->t.rows);
}

const enc_song *enc_songs_at(const enc_songs *t, size_t i)
{
    return t && i < t->t.count ? (const enc_song *)t->t.rows + i : NULL;
}

void enc_songs_free(enc_songs *t)
{
    if (!t)
        return;
    dimtab_release(&t->t);
    enc_free(t);
}

enc_status enc_users_load(enc_users **out, const char *path, enc_warn_fn warn, void *warn_arg, enc_err *err)
{
    return load_any((void **)out, sizeof **out, &user_spec, path, NULL, 0, warn, warn_arg, err);
}

enc_status enc_users_load_mem(enc_users **out, const char *data, size_t n, const char *name, enc_warn_fn warn,
                              void *warn_arg, enc_err *err)
{
    *out = NULL;
    enc_users *t = NULL;
    enc_status st = load_any((void **)&t, sizeof *t, &user_spec, name, data ? data : "", n, warn, warn_arg, err);
    *out = t;
    return st;
}

const enc_user *enc_users_get(const enc_users *t, const char *id, size_t n)
{
    return (const enc_user *)dimtab_get(t ? &t->t : NULL, id, n, sizeof(enc_user));
}

void enc_users_get_many(const enc_users *t, const enc_slice *ids, size_t n, const enc_user **out)
{
    dimtab_get_many(t ? &t->t : NULL, ids, n, sizeof(enc_user), false, (const void **)out);
}

void enc_users_join_many(const enc_users *t, const enc_slice *ids, size_t n, const enc_user **out)
{
    bool profiles = t && t->t.prof_rows;
    dimtab_get_many(t ? &t->t : NULL, ids, n, sizeof(enc_user), profiles, (const void **)out);
}

size_t enc_users_count(const enc_users *t)
{
    return t ? t->t.count : 0;
}

const enc_user *enc_users_at(const enc_users *t, size_t i)
{
    return t && i < t->t.count ? (const enc_user *)t->t.rows + i : NULL;
}

const enc_dim_load_report *enc_songs_load_report(const enc_songs *t)
{
    return &t->t.report;
}

const enc_dim_load_report *enc_users_load_report(const enc_users *t)
{
    return &t->t.report;
}

void enc_users_free(enc_users *t)
{
    if (!t)
        return;
    dimtab_release(&t->t);
    enc_free(t);
}

/* agg — per-batch aggregate deltas: a key table per dimension, then one sort (see agg.h).
 *
 * Adding a row costs, per dimension, one probe of that dimension's table of 32-byte
 * slots (the key as one word, its pointer, length and day, the group id), prefetched a
 * few rows ahead so the misses overlap, then two writes: the group's tally (plays,
 * seconds: a compact array) and one (group, sketch entry) pair appended to an array. No
 * sketch exists while rows come. enc_agg_sort buckets the pairs by group (a group's
 * plays are its bucket's size), orders the groups by the sink's key, and writes each
 * group's sketch from its bucket of entries (enc_hll_serialize_entries) straight into
 * its (dimension, day)'s pack. Every array is kept across resets (the next batch reuses
 * warm memory), those of the scratch across the aggs that share it; a slot is in use only
 * while it carries the current generation, so taking the scratch clears no table.
 */
#include "agg.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "agg_known.h"
#include "alloc.h"
#include "buf.h"
#include "hash.h"
#include "hll.h"
#include "pack.h"
#include "radix.h"
#include "timestamp.h"

typedef struct {
    uint64_t word; /* enc_key_word() of the key */
    const char *p; /* the key's bytes, as the group's first row had them */
    uint32_t n;
    int32_t day;
    uint32_t gid;
    uint32_t gen; /* in use iff it equals the agg's generation */
} slot;

typedef struct {
    slot *slots;
    size_t nslots; /* a power of two, or 0 */
    size_t used;
} key_table;

/* A (dimension, day, key) as its first row made it: 48 bytes, read once more when packed. */
typedef struct {
    const char *key, *title, *artist; /* title and artist: songs only; NULL: SQL NULL */
    uint32_t key_n, title_n, artist_n;
    uint32_t song_ix; /* songs only: enc_row.song_ix */
    int32_t day;
    enc_agg_dim dim;
} group;

/* A group's counters, apart: every row touches them. */
typedef struct {
    uint32_t plays;
    uint32_t start; /* after enc_agg_sort: the group's bucket in ents */
    int64_t seconds;
} tally;

/* What a sort makes and the sink reads until the agg is reset: the entries in key order,
 * the packs, and the packs' bytes. An agg's own, or one of the scratch's
 * (enc_agg_scratch_share_output). */
typedef struct {
    enc_agg_entry *out; /* out_cap */
    size_t out_cap;
    enc_buf packed; /* every pack's blob */
    enc_agg_pack *packs;
    size_t packs_cap;
    const enc_agg *owner; /* shared: the agg from its sort to its reset, or NULL */
} agg_output;

static void output_init(agg_output *o);
static void output_free(agg_output *o);

/* The arrays an agg needs from its first enc_agg_add_rows after a reset to its
 * enc_agg_sort: everything but the sorted entries and packs the writer reads later
 * (and those too, when shared_out). */
struct enc_agg_scratch {
    key_table tab[ENC_AGG_NDIMS];
    uint32_t gen;
    group *groups; /* by group id, in first-seen order */
    tally *tally;  /* by group id */
    size_t cap;
    uint64_t *pairs; /* group id << 32 | sketch entry, one per (row, dimension) */
    size_t pairs_cap;
    uint32_t *ents; /* during the sort: the pairs' entries bucketed by group; then as much scratch */
    size_t ents_cap;
    enc_sort_item *order; /* during the sort: groups in key order (2 * order_cap items) */
    size_t order_cap;
    size_t *blob_at; /* during the sort: where entry i's sketch went in packed */
    size_t blob_at_cap;
    enc_buf sketch;   /* one group's sketch */
    enc_known *known; /* dense sketches earlier batches wrote (enc_agg_scratch_remember), or NULL */
    const enc_agg *owner; /* the agg between its first add and its sort, or NULL */
    bool share_out;       /* aggs made from now on use out (enc_agg_scratch_share_output) */
    agg_output out[ENC_AGG_SHARED_OUTPUTS];
};

struct enc_agg {
    enc_agg_scratch *ws; /* shared, or own_ws */
    bool own_ws;
    size_t n;      /* groups */
    size_t npairs; /* pairs in ws */
    agg_output own, *o; /* o: &own, or the scratch's shared output */
    size_t npacks;      /* after sort: packs in o */
    bool sorted;
    enc_status sort_rc; /* what the sort returned: a second call returns it again (the
                           scratch may be another agg's by then) */
};

static const char *const dim_names[ENC_AGG_NDIMS] = {"song", "artist", "genre", "country", "device"};

const char *enc_agg_dim_name(enc_agg_dim d)
{
    return d < ENC_AGG_NDIMS ? dim_names[d] : "?";
}

enum { BLOBS_CAP = 1 << 30 }; /* a batch's packs: far below this (a dense sketch is 12 KiB) */

enc_agg_scratch *enc_agg_scratch_new(void)
{
    enc_agg_scratch *w = enc_calloc(1, sizeof *w);
    if (w) {
        enc_buf_init(&w->sketch, BLOBS_CAP);
        for (int i = 0; i < ENC_AGG_SHARED_OUTPUTS; i++)
            output_init(&w->out[i]);
    }
    return w;
}

void enc_agg_scratch_free(enc_agg_scratch *w)
{
    if (!w)
        return;
    for (int d = 0; d < ENC_AGG_NDIMS; d++)
        enc_free(w->tab[d].slots);
    enc_free(w->groups);
    enc_free(w->tally);
    enc_free(w->pairs);
    enc_free(w->ents);
    enc_free(w->order);
    enc_free(w->blob_at);
    enc_buf_free(&w->sketch);
    enc_known_free(w->known);
    for (int i = 0; i < ENC_AGG_SHARED_OUTPUTS; i++)
        output_free(&w->out[i]);
    enc_free(w);
}

void enc_agg_scratch_share_output(enc_agg_scratch *w)
{
    w->share_out = true;
}

static void output_init(agg_output *o)
{
    *o = (agg_output){0};
    enc_buf_init(&o->packed, BLOBS_CAP);
}

static void output_free(agg_output *o)
{
    enc_free(o->out);
    enc_buf_free(&o->packed);
    enc_free(o->packs);
}

enc_status enc_agg_scratch_remember(enc_agg_scratch *w)
{
    if (!w->known && !(w->known = enc_known_new()))
        return ENC_ERROR;
    return ENC_OK;
}

enc_agg *enc_agg_new(enc_agg_scratch *shared)
{
    enc_agg *a = enc_calloc(1, sizeof(enc_agg));
    if (!a)
        return NULL;
    a->ws = shared ? shared : enc_agg_scratch_new();
    a->own_ws = !shared;
    if (!a->ws) {
        enc_free(a);
        return NULL;
    }
    output_init(&a->own);
    a->o = a->ws->share_out ? NULL : &a->own; /* shared: one free at the sort */
    return a;
}

/* Takes the scratch for a's rows: its tables start empty (a new generation; after 2^32 - 1
 * of them the tables are cleared once). false: another agg holds it. */
static bool acquire(enc_agg *a)
{
    enc_agg_scratch *w = a->ws;
    if (w->owner == a)
        return true;
    if (w->owner)
        return false;
    w->owner = a;
    for (int d = 0; d < ENC_AGG_NDIMS; d++)
        w->tab[d].used = 0;
    if (++w->gen == 0) {
        for (int d = 0; d < ENC_AGG_NDIMS; d++)
            if (w->tab[d].slots)
                memset(w->tab[d].slots, 0, w->tab[d].nslots * sizeof(slot));
        w->gen = 1;
    }
    return true;
}

static void release(enc_agg *a)
{
    if (a->ws->owner == a)
        a->ws->owner = NULL;
}

/* Gives back the output a's sort made: the next sort may overwrite it. */
static void release_output(enc_agg *a)
{
    if (!a->o || a->o->owner != a)
        return;
    a->o->owner = NULL;
    enc_buf_reset(&a->o->packed);
    if (a->o != &a->own)
        a->o = NULL;
}

/* A shared output no agg holds, or NULL. */
static agg_output *free_output(enc_agg_scratch *w)
{
    for (int i = 0; i < ENC_AGG_SHARED_OUTPUTS; i++)
        if (!w->out[i].owner)
            return &w->out[i];
    return NULL;
}

void enc_agg_reset(enc_agg *a)
{
    release(a);
    release_output(a);
    a->n = 0;
    a->npairs = 0;
    a->npacks = 0;
    a->sorted = false;
}

void enc_agg_free(enc_agg *a)
{
    if (!a)
        return;
    release(a);
    release_output(a);
    if (a->own_ws)
        enc_agg_scratch_free(a->ws);
    output_free(&a->own);
    enc_free(a);
}

size_t enc_agg_count(const enc_agg *a)
{
    return a->n;
}

const enc_agg_entry *enc_agg_at(const enc_agg *a, size_t i)
{
    return &a->o->out[i];
}

size_t enc_agg_pack_count(const enc_agg *a)
{
    return a->npacks;
}

const enc_agg_pack *enc_agg_pack_at(const enc_agg *a, size_t i)
{
    return &a->o->packs[i];
}

/* ---- adding rows ---------------------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* The slot hash of (key, day) in dimension d's table. */
static uint64_t key_hash(uint64_t word, const char *p, size_t n, int32_t day, int d)
{
    uint64_t seed = (uint64_t)(uint32_t)day << 8 | (uint64_t)d;
    if (n > 8)
        return enc_hash_bytes(p, n, seed);
    return mix64(word ^ mix64(seed << 4 | n));
}

/* Makes room in d's table for `more` new keys at a load of at most one half. */
static enc_status reserve_slots(enc_agg *a, int d, size_t more)
{
    key_table *t = &a->ws->tab[d];
    size_t ns = t->nslots ? t->nslots : 1024;
    while ((t->used + more) * 2 > ns)
        ns *= 2;
    if (ns == t->nslots)
        return ENC_OK;
    slot *s = enc_calloc(ns, sizeof *s); /* generation 0: free */
    if (!s)
        return ENC_ERROR;
    for (size_t i = 0; i < t->nslots; i++) {
        const slot *o = &t->slots[i];
        if (o->gen != a->ws->gen)
            continue;
        size_t j = key_hash(o->word, o->p, o->n, o->day, d) & (ns - 1);
        while (s[j].gen == a->ws->gen)
            j = (j + 1) & (ns - 1);
        s[j] = *o;
    }
    enc_free(t->slots);
    t->slots = s;
    t->nslots = ns;
    return ENC_OK;
}

static enc_status grow_groups(enc_agg *a)
{
    size_t cap = a->ws->cap ? a->ws->cap * 2 : 4096;
    group *g = enc_realloc(a->ws->groups, cap * sizeof *g);
    if (g)
        a->ws->groups = g;
    tally *t = g ? enc_realloc(a->ws->tally, cap * sizeof *t) : NULL;
    if (!t)
        return ENC_ERROR;
    a->ws->tally = t;
    a->ws->cap = cap;
    return ENC_OK;
}

/* One (row, dimension) to look up: the key, its word and its slot hash. */
typedef struct {
    enc_slice key;
    uint64_t word, hash;
} probe;

/* The group of (d, day, key), created for row r when new; UINT32_MAX when out of memory. */
static uint32_t find_or_add(enc_agg *a, int d, const probe *pr, int32_t day, const enc_row *r)
{
    key_table *t = &a->ws->tab[d];
    size_t mask = t->nslots - 1, n = pr->key.n;
    const char *p = pr->key.p;
    slot *s;
    for (size_t i = pr->hash & mask;; i = (i + 1) & mask) {
        s = &t->slots[i];
        if (s->gen != a->ws->gen)
            break;
        if (s->word == pr->word && s->n == n && s->day == day &&
            (n <= 8 || s->p == p || memcmp(s->p + 8, p + 8, n - 8) == 0))
            return s->gid;
    }
    if (a->n == a->ws->cap && grow_groups(a) != ENC_OK)
        return UINT32_MAX;
    uint32_t gid = (uint32_t)a->n++;
    group *g = &a->ws->groups[gid];
    *g = (group){.key = p, .key_n = (uint32_t)n, .day = day, .dim = (enc_agg_dim)d};
    if (d == ENC_AGG_SONG) {
        enc_slice ti = r->text[ENC_COL_TITLE], ar = r->text[ENC_COL_ARTIST];
        g->title = ti.p;
        g->title_n = (uint32_t)ti.n;
        g->artist = ar.p;
        g->artist_n = (uint32_t)ar.n;
        g->song_ix = r->song_ix;
    }
    a->ws->tally[gid] = (tally){0, 0, 0};
    *s = (slot){pr->word, p, (uint32_t)n, day, gid, a->ws->gen};
    t->used++;
    return gid;
}

static enc_status reserve_pairs(enc_agg *a, size_t more)
{
    if (a->npairs + more <= a->ws->pairs_cap)
        return ENC_OK;
    size_t cap = a->ws->pairs_cap ? a->ws->pairs_cap : 4096;
    while (cap < a->npairs + more)
        cap *= 2;
    uint64_t *p = enc_realloc(a->ws->pairs, cap * sizeof *p);
    if (!p)
        return ENC_ERROR;
    a->ws->pairs = p;
    a->ws->pairs_cap = cap;
    return ENC_OK;
}

enum { CHUNK = 16 }; /* rows whose slots are prefetched before any is looked up */

static const int dim_col[ENC_AGG_NDIMS] = {ENC_COL_SONG_ID, ENC_COL_ARTIST, ENC_COL_GENRE, ENC_COL_COUNTRY,
                                           ENC_COL_DEVICE};

/* Adds rows[0..m), m <= CHUNK; the tables have room for m new keys each. */
static enc_status add_chunk(enc_agg *a, const enc_row *rows, size_t m)
{
    probe pr[CHUNK][ENC_AGG_NDIMS];
    int32_t day[CHUNK];
    uint32_t entry[CHUNK];
    for (size_t i = 0; i < m; i++) {
        const enc_row *r = &rows[i];
        day[i] = (int32_t)enc_ts_days(r->event_time_us);
        enc_slice uid = r->text[ENC_COL_USER_ID];
        entry[i] = enc_hll_entry(enc_hash_bytes(uid.p, uid.n, 0));
        for (int d = 0; d < ENC_AGG_NDIMS; d++) {
            probe *q = &pr[i][d];
            q->key = r->text[dim_col[d]];
            if (!q->key.p)
                continue;
            q->word = enc_key_word(q->key.p, q->key.n);
            q->hash = key_hash(q->word, q->key.p, q->key.n, day[i], d);
            __builtin_prefetch(&a->ws->tab[d].slots[q->hash & (a->ws->tab[d].nslots - 1)]);
        }
    }
    for (size_t i = 0; i < m; i++) {
        const enc_row *r = &rows[i];
        int64_t secs = r->duration > 0 ? r->duration : 0;
        for (int d = 0; d < ENC_AGG_NDIMS; d++) {
            if (!pr[i][d].key.p)
                continue;
            uint32_t gid = find_or_add(a, d, &pr[i][d], day[i], r);
            if (gid == UINT32_MAX)
                return ENC_ERROR;
            a->ws->tally[gid].plays++;
            a->ws->tally[gid].seconds += secs;
            a->ws->pairs[a->npairs++] = (uint64_t)gid << 32 | entry[i];
        }
    }
    return ENC_OK;
}

enc_status enc_agg_add_rows(enc_agg *a, const enc_row *rows, size_t n, enc_err *err)
{
    if (a->sorted)
        return enc_err_set(err, "aggregate deltas added after they were sorted");
    if (n > UINT32_MAX / ENC_AGG_NDIMS || a->npairs + n * ENC_AGG_NDIMS > UINT32_MAX)
        return enc_err_set(err, "too many rows in one batch to aggregate");
    if (n && !acquire(a))
        return enc_err_set(err, "internal error: aggregate scratch shared by two batches at once");
    if (reserve_pairs(a, n * ENC_AGG_NDIMS) != ENC_OK)
        return enc_err_set(err, "out of memory aggregating a batch");
    for (size_t i = 0; i < n; i += CHUNK) {
        size_t m = n - i < CHUNK ? n - i : CHUNK;
        for (int d = 0; d < ENC_AGG_NDIMS; d++)
            if (reserve_slots(a, d, m) != ENC_OK)
                return enc_err_set(err, "out of memory aggregating a batch");
        for (size_t j = i + CHUNK; j < i + 2 * CHUNK && j < n; j++) /* the next chunk's key bytes */
            for (int d = 0; d < ENC_AGG_NDIMS; d++)
                __builtin_prefetch(rows[j].text[dim_col[d]].p);
        if (add_chunk(a, rows + i, m) != ENC_OK)
            return enc_err_set(err, "out of memory aggregating a batch");
    }
    return ENC_OK;
}

/* ---- sorting, sketches, packs --------------------------------------------------------- */

/* Dimensions in the order of their names, the sink's primary-key order. */
static const uint8_t dim_rank[ENC_AGG_NDIMS] = {
    [ENC_AGG_ARTIST] = 0, [ENC_AGG_COUNTRY] = 1, [ENC_AGG_DEVICE] = 2, [ENC_AGG_GENRE] = 3, [ENC_AGG_SONG] = 4,
};

static int cmp_groups(uint32_t ia, uint32_t ib, void *arg)
{
    const group *a = (const group *)arg + ia, *b = (const group *)arg + ib;
    if (a->dim != b->dim)
        return dim_rank[a->dim] < dim_rank[b->dim] ? -1 : 1;
    if (a->day != b->day)
        return a->day < b->day ? -1 : 1;
    return enc_pack_key_cmp((enc_slice){a->key, a->key_n}, (enc_slice){b->key, b->key_n});
}

/* Days since 1970 plus this are positive and below 2^23 for years 0001-9999. */
#define DAY_BIAS 719163

/* The sink's key order by two stable radix sorts: on the key's first 8 bytes, then on
 * (dimension rank, day, the number of the first group with those 8 bytes), so that
 * items with equal sort keys are exactly the groups that share (dimension, day, first 8
 * bytes), which enc_sort_ties orders by cmp_groups. aux keeps (dimension rank, day). */
static void sort_order(enc_agg *a)
{
    enc_sort_item *o = a->ws->order;
    for (size_t i = 0; i < a->n; i++) {
        const group *g = &a->ws->groups[i];
        if (i + 8 < a->n)
            __builtin_prefetch(a->ws->groups[i + 8].key);
        uint32_t dim_day = (uint32_t)dim_rank[g->dim] << 24 | ((uint32_t)(g->day + DAY_BIAS) & 0xffffff);
        o[i] = (enc_sort_item){enc_sort_prefix(g->key, g->key_n), (uint32_t)i, dim_day};
    }
    enc_radix_sort(o, o + a->n, a->n);
    uint64_t prev = 0;
    uint32_t run = 0;
    for (size_t i = 0; i < a->n; i++) {
        if (i == 0 || o[i].key != prev)
            run = (uint32_t)i;
        prev = o[i].key;
        o[i].key = (uint64_t)o[i].aux << 32 | run;
    }
    enc_radix_sort(o, o + a->n, a->n);
    enc_sort_ties(o, a->n, cmp_groups, a->ws->groups);
}

/* The groups' totals and names into out, in key order (a gather with nothing between the
 * loads, so their misses overlap), each group's bucket placed in that order too; then
 * every pair's entry into its group's bucket, so the buckets are read front to back. */
static void gather_and_bucket(enc_agg *a)
{
    uint32_t at = 0;
    for (size_t k = 0; k < a->n; k++) {
        uint32_t gi = a->ws->order[k].idx;
        const group *g = &a->ws->groups[gi];
        tally *t = &a->ws->tally[gi];
        a->o->out[k] = (enc_agg_entry){.dim = g->dim, .day = g->day, .key = {g->key, g->key_n}, .plays = t->plays,
                                    .seconds = t->seconds, .title = {g->title, g->title ? g->title_n : 0},
                                    .artist = {g->artist, g->artist ? g->artist_n : 0}, .song_ix = g->song_ix};
        t->start = at;
        at += t->plays;
    }
    for (size_t i = 0; i < a->npairs; i++) {
        uint64_t p = a->ws->pairs[i];
        a->ws->ents[a->ws->tally[p >> 32].start++] = (uint32_t)p;
    }
}

static enc_status push_pack(enc_agg *a, enc_agg_dim dim, int64_t day, size_t end)
{
    agg_output *o = a->o;
    if (a->npacks == o->packs_cap) {
        size_t ncap = o->packs_cap ? o->packs_cap * 2 : 16;
        enc_agg_pack *np = enc_realloc(o->packs, ncap * sizeof *np);
        if (!np)
            return ENC_ERROR;
        o->packs = np;
        o->packs_cap = ncap;
    }
    o->packs[a->npacks++] = (enc_agg_pack){dim, day, {NULL, end}}; /* n: end offset until pack_all ends */
    return ENC_OK;
}

/* Leaves out of e what an earlier batch wrote (agg_known.h): the song's names, and, of
 * ents[0..*n), e's listeners, those that raise no register of e's dense sketch already
 * written, whose registers go to *regs (NULL: none). */
static void skip_known(enc_known *kn, enc_agg_entry *e, uint32_t *ents, size_t *n, uint8_t **regs)
{
    if (e->song_ix && enc_known_names(kn, (int32_t)e->day, e->song_ix))
        e->title = e->artist = (enc_slice){0};
    *regs = NULL;
    if (enc_known_any(kn, (int)e->dim) &&
        (*regs = enc_known_regs(kn, (int)e->dim, (int32_t)e->day, e->key.p, e->key.n)))
        *n = enc_hll_entries_filter(*regs, ents, *n);
}

/* After e's sketch was made from ents[0..n) (reordered): when it is dense, its registers
 * are remembered. */
static void remember_dense(enc_known *kn, const enc_agg_entry *e, const uint32_t *ents, size_t n, enc_slice sketch)
{
    uint8_t *regs;
    if (enc_hll_blob_is_dense(sketch.p, sketch.n) &&
        (regs = enc_known_regs_add(kn, (int)e->dim, (int32_t)e->day, e->key.p, e->key.n)))
        enc_hll_entries_raise(regs, ents, n);
}

/* Entry k of the key order, whose bucket of sketch entries starts at ents[at]: its
 * sketch, and the entry into the pack being written. */
static enc_status put_entry(enc_agg *a, size_t k, size_t at)
{
    enc_agg_entry *e = &a->o->out[k];
    enc_agg_scratch *w = a->ws;
    uint32_t *ents = w->ents + at;
    size_t n = (size_t)e->plays;
    uint8_t *regs = NULL;
    if (w->known)
        skip_known(w->known, e, ents, &n, &regs);
    enc_buf_reset(&w->sketch);
    if (enc_hll_serialize_entries(ents, n, w->ents + w->ents_cap + at, &w->sketch) != ENC_OK)
        return ENC_ERROR;
    if (w->known && !regs) /* ents[0..n) still holds the set serialized, reordered */
        remember_dense(w->known, e, ents, n, (enc_slice){w->sketch.data, w->sketch.len});
    enc_pack_entry pe = {e->key, e->plays, e->seconds, {a->ws->sketch.data, a->ws->sketch.len}, e->title, e->artist};
    e->listeners_blob.n = a->ws->sketch.len;
    return enc_pack_put_at(&a->o->packed, &pe, &a->ws->blob_at[k]);
}

/* One pack per run of sorted groups with the same (dimension, day); slices are set once
 * the buffer stops moving. */
static enc_status pack_all(enc_agg *a)
{
    size_t at = 0;
    for (size_t i = 0, j; i < a->n; i = j) {
        for (j = i + 1; j < a->n && a->ws->order[j].aux == a->ws->order[i].aux; j++)
            ;
        if (enc_pack_begin(&a->o->packed, j - i) != ENC_OK)
            return ENC_ERROR;
        for (size_t k = i; k < j; k++) {
            __builtin_prefetch(k + 8 < a->n ? a->o->out[k + 8].key.p : NULL);
            if (put_entry(a, k, at) != ENC_OK)
                return ENC_ERROR;
            at += (size_t)a->o->out[k].plays;
        }
        if (push_pack(a, a->o->out[i].dim, a->o->out[i].day, a->o->packed.len) != ENC_OK)
            return ENC_ERROR;
    }
    at = 0;
    for (size_t i = 0; i < a->npacks; i++) {
        size_t end = a->o->packs[i].blob.n;
        a->o->packs[i].blob = (enc_slice){a->o->packed.data + at, end - at};
        at = end;
    }
    for (size_t k = 0; k < a->n; k++)
        a->o->out[k].listeners_blob.p = a->o->packed.data + a->ws->blob_at[k];
    return ENC_OK;
}

/* Makes *p hold at least n items of size sz (its contents are not kept), with a quarter
 * to spare: batches differ by a few groups, and each growth by a few would be a new
 * block of fresh pages (the page faults were a third of aggregation's cost). */
static bool reserve(void **p, size_t *cap, size_t n, size_t sz)
{
    if (*cap >= n)
        return true;
    enc_free(*p);
    n += n / 4;
    *p = enc_malloc(n * sz);
    *cap = *p ? n : 0;
    return *p != NULL;
}

static enc_status reserve_sort(enc_agg *a)
{
    enc_agg_scratch *w = a->ws;
    size_t ents = 2 * w->ents_cap, order = 2 * w->order_cap;
    bool ok = reserve((void **)&w->ents, &ents, 2 * a->npairs, sizeof *w->ents) &&
              reserve((void **)&w->order, &order, 2 * a->n, sizeof *w->order) &&
              reserve((void **)&w->blob_at, &w->blob_at_cap, a->n, sizeof *w->blob_at) &&
              reserve((void **)&a->o->out, &a->o->out_cap, a->n, sizeof *a->o->out);
    w->ents_cap = ents / 2; /* two halves: the buckets, then the serializer's scratch */
    w->order_cap = order / 2;
    return ok ? ENC_OK : ENC_ERROR;
}

enc_status enc_agg_sort(enc_agg *a)
{
    if (a->sorted)
        return a->sort_rc;
    a->sorted = true;
    enc_status s = ENC_OK;
    if (!a->o && !(a->o = free_output(a->ws))) { /* the sink still reads every shared one */
        release(a);
        return a->sort_rc = ENC_ERROR;
    }
    a->o->owner = a;
    if (a->n > 0 && (s = reserve_sort(a)) == ENC_OK) { /* none: no order array, and NULL + 0 is UB */
        sort_order(a);
        gather_and_bucket(a);
        s = pack_all(a);
    }
    release(a); /* from here the agg reads only its own entries and packs */
    return a->sort_rc = s;
}

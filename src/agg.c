/* agg — per-batch aggregate deltas in an open-addressing hash table (see agg.h). */
#include "agg.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "hash.h"
#include "pack.h"
#include "radix.h"
#include "timestamp.h"

struct enc_agg {
    enc_agg_entry *entries; /* dense, in insertion order */
    size_t n, cap;
    uint32_t *slots;        /* index + 1 into entries; 0 = empty */
    size_t nslots;          /* power of two */
    enc_sort_item *order;   /* after enc_agg_sort: entries in key order (2 * order_cap items) */
    enc_buf blobs;          /* after enc_agg_sort: every entry's listeners_blob */
    size_t order_cap;
    enc_buf packed;         /* after enc_agg_sort: every pack's blob */
    enc_agg_pack *packs;
    size_t npacks, packs_cap;
    bool sorted;
};

static const char *const dim_names[ENC_AGG_NDIMS] = {"song", "artist", "genre", "country", "device"};

const char *enc_agg_dim_name(enc_agg_dim d)
{
    return d < ENC_AGG_NDIMS ? dim_names[d] : "?";
}

enum { BLOBS_CAP = 1 << 30 }; /* a batch's sketches: far below this (a dense one is 12 KiB) */

enc_agg *enc_agg_new(void)
{
    enc_agg *a = enc_calloc(1, sizeof(enc_agg));
    if (a) {
        enc_buf_init(&a->blobs, BLOBS_CAP);
        enc_buf_init(&a->packed, BLOBS_CAP);
    }
    return a;
}

void enc_agg_reset(enc_agg *a)
{
    for (size_t i = 0; i < a->n; i++)
        enc_hll_free(a->entries[i].listeners);
    a->n = 0;
    a->sorted = false;
    a->npacks = 0;
    enc_buf_reset(&a->blobs);
    enc_buf_reset(&a->packed);
    if (a->slots)
        memset(a->slots, 0, a->nslots * sizeof *a->slots);
}

void enc_agg_free(enc_agg *a)
{
    if (!a)
        return;
    enc_agg_reset(a);
    enc_free(a->entries);
    enc_free(a->slots);
    enc_free(a->order);
    enc_buf_free(&a->blobs);
    enc_buf_free(&a->packed);
    enc_free(a->packs);
    enc_free(a);
}

size_t enc_agg_count(const enc_agg *a)
{
    return a->n;
}

const enc_agg_entry *enc_agg_at(const enc_agg *a, size_t i)
{
    return &a->entries[a->sorted ? a->order[i].idx : i];
}

/* Dimensions in the order of their names, the sink's primary-key order. */
static const uint8_t dim_rank[ENC_AGG_NDIMS] = {
    [ENC_AGG_ARTIST] = 0, [ENC_AGG_COUNTRY] = 1, [ENC_AGG_DEVICE] = 2, [ENC_AGG_GENRE] = 3, [ENC_AGG_SONG] = 4,
};

static int cmp_entries(uint32_t ia, uint32_t ib, void *arg)
{
    const enc_agg_entry *a = (const enc_agg_entry *)arg + ia, *b = (const enc_agg_entry *)arg + ib;
    if (a->dim != b->dim)
        return dim_rank[a->dim] < dim_rank[b->dim] ? -1 : 1;
    if (a->day != b->day)
        return a->day < b->day ? -1 : 1;
    size_t n = a->key.n < b->key.n ? a->key.n : b->key.n;
    int c = n ? memcmp(a->key.p, b->key.p, n) : 0;
    if (c)
        return c;
    return (a->key.n > b->key.n) - (a->key.n < b->key.n);
}

/* Every sketch into a->blobs, in entry order; slices are set once the buffer stops moving. */
static enc_status serialize_all(enc_agg *a)
{
    enc_buf_reset(&a->blobs);
    for (size_t i = 0; i < a->n; i++) {
        size_t at = a->blobs.len;
        const enc_agg_entry *e = &a->entries[i];
        if ((e->listeners ? enc_hll_serialize(e->listeners, &a->blobs)
                          : enc_hll_serialize_one(e->first_user, &a->blobs)) != ENC_OK)
            return ENC_ERROR;
        a->entries[i].listeners_blob.n = a->blobs.len - at;
    }
    size_t at = 0;
    for (size_t i = 0; i < a->n; i++) {
        a->entries[i].listeners_blob.p = a->blobs.data + at;
        at += a->entries[i].listeners_blob.n;
    }
    return ENC_OK;
}

size_t enc_agg_pack_count(const enc_agg *a)
{
    return a->npacks;
}

const enc_agg_pack *enc_agg_pack_at(const enc_agg *a, size_t i)
{
    return &a->packs[i];
}

static enc_status push_pack(enc_agg *a, enc_agg_dim dim, int64_t day, size_t end)
{
    if (a->npacks == a->packs_cap) {
        size_t ncap = a->packs_cap ? a->packs_cap * 2 : 16;
        enc_agg_pack *np = enc_realloc(a->packs, ncap * sizeof *np);
        if (!np)
            return ENC_ERROR;
        a->packs = np;
        a->packs_cap = ncap;
    }
    a->packs[a->npacks++] = (enc_agg_pack){dim, day, {NULL, end}}; /* n: end offset until pack_all ends */
    return ENC_OK;
}

/* One pack per run of sorted entries with the same (dimension, day); slices are set once
 * the buffer stops moving. */
static enc_status pack_all(enc_agg *a)
{
    enc_buf_reset(&a->packed);
    a->npacks = 0;
    for (size_t i = 0, j; i < a->n; i = j) {
        const enc_agg_entry *first = enc_agg_at(a, i);
        for (j = i + 1; j < a->n; j++) {
            const enc_agg_entry *e = enc_agg_at(a, j);
            if (e->dim != first->dim || e->day != first->day)
                break;
        }
        if (enc_pack_begin(&a->packed, j - i) != ENC_OK)
            return ENC_ERROR;
        for (size_t k = i; k < j; k++) {
            const enc_agg_entry *e = enc_agg_at(a, k);
            enc_pack_entry pe = {e->key, e->plays, e->seconds, e->listeners_blob, e->title, e->artist};
            if (enc_pack_put(&a->packed, &pe) != ENC_OK)
                return ENC_ERROR;
        }
        if (push_pack(a, first->dim, first->day, a->packed.len) != ENC_OK)
            return ENC_ERROR;
    }
    size_t at = 0;
    for (size_t i = 0; i < a->npacks; i++) {
        size_t end = a->packs[i].blob.n;
        a->packs[i].blob = (enc_slice){a->packed.data + at, end - at};
        at = end;
    }
    return ENC_OK;
}

/* Days since 1970 plus this are positive and below 2^23 for years 0001-9999. */
#define DAY_BIAS 719163

/* The sink's key order by two stable radix sorts, on the key's first 8 bytes, then on
 * (dimension rank, day); then each run of equal (dimension, day, first 8 bytes), numbered
 * alike, ordered by cmp_entries. Entries stay where they are and enc_agg_at follows the
 * order array. */
static void sort_order(enc_agg *a)
{
    for (size_t i = 0; i < a->n; i++) {
        const enc_agg_entry *e = &a->entries[i];
        uint32_t group = (uint32_t)dim_rank[e->dim] << 24 | ((uint32_t)(e->day + DAY_BIAS) & 0xffffff);
        a->order[i] = (enc_sort_item){enc_sort_prefix(e->key.p, e->key.n), (uint32_t)i, group};
    }
    enc_radix_sort(a->order, a->order + a->n, a->n);
    for (size_t i = 0; i < a->n; i++)
        a->order[i].key = a->order[i].aux;
    enc_radix_sort(a->order, a->order + a->n, a->n);
    uint64_t prev = 0;
    for (size_t i = 0; i < a->n; i++) {
        const enc_agg_entry *e = &a->entries[a->order[i].idx];
        uint64_t prefix = enc_sort_prefix(e->key.p, e->key.n);
        bool same = i > 0 && a->order[i].aux == a->order[i - 1].aux && prefix == prev;
        prev = prefix;
        a->order[i].key = same ? a->order[i - 1].key : i;
    }
    enc_sort_ties(a->order, a->n, cmp_entries, a->entries);
}

enc_status enc_agg_sort(enc_agg *a)
{
    if (a->n == 0) { /* an empty batch: no order array yet, and NULL + 0 is UB */
        a->sorted = true;
        return ENC_OK;
    }
    if (a->slots)
        memset(a->slots, 0, a->nslots * sizeof *a->slots);
    if (a->order_cap < a->n) {
        enc_free(a->order);
        a->order = enc_malloc(2 * a->n * sizeof *a->order);
        a->order_cap = a->order ? a->n : 0;
        if (!a->order)
            return ENC_ERROR;
    }
    sort_order(a);
    a->sorted = true;
    if (serialize_all(a) != ENC_OK)
        return ENC_ERROR;
    return pack_all(a);
}

static enc_status grow_slots(enc_agg *a)
{
    size_t nslots = a->nslots ? a->nslots * 2 : 4096;
    uint32_t *slots = enc_calloc(nslots, sizeof *slots);
    if (!slots)
        return ENC_ERROR;
    for (size_t i = 0; i < a->n; i++) {
        size_t s = a->entries[i].hash & (nslots - 1);
        while (slots[s])
            s = (s + 1) & (nslots - 1);
        slots[s] = (uint32_t)(i + 1);
    }
    enc_free(a->slots);
    a->slots = slots;
    a->nslots = nslots;
    return ENC_OK;
}

/* Finds or creates the entry for (dim, day, key). */
static enc_agg_entry *upsert(enc_agg *a, enc_agg_dim dim, int64_t day, enc_slice key)
{
    uint64_t h = enc_hash_bytes(key.p, key.n, ((uint64_t)day << 3) | (uint64_t)dim);
    if ((a->n + 1) * 10 > a->nslots * 7 && grow_slots(a) != ENC_OK)
        return NULL;
    size_t s = h & (a->nslots - 1);
    while (a->slots[s]) {
        enc_agg_entry *e = &a->entries[a->slots[s] - 1];
        if (e->hash == h && e->dim == dim && e->day == day && enc_slice_eq(e->key, key.p, key.n))
            return e;
        s = (s + 1) & (a->nslots - 1);
    }
    if (a->n == a->cap) {
        size_t ncap = a->cap ? a->cap * 2 : 1024;
        enc_agg_entry *ne = enc_realloc(a->entries, ncap * sizeof *ne);
        if (!ne)
            return NULL;
        a->entries = ne;
        a->cap = ncap;
    }
    enc_agg_entry *e = &a->entries[a->n];
    memset(e, 0, sizeof *e);
    e->hash = h;
    e->dim = dim;
    e->day = day;
    e->key = key;
    a->slots[s] = (uint32_t)++a->n;
    return e;
}

static enc_status add(enc_agg *a, enc_agg_dim dim, int64_t day, enc_slice key, const enc_row *r, uint64_t user)
{
    if (!key.p)
        return ENC_OK;
    enc_agg_entry *e = upsert(a, dim, day, key);
    if (!e)
        return ENC_ERROR;
    e->seconds += r->duration > 0 ? r->duration : 0;
    if (dim == ENC_AGG_SONG && !e->title.p) {
        e->title = r->text[ENC_COL_TITLE];
        e->artist = r->text[ENC_COL_ARTIST];
    }
    if (e->plays++ == 0) { /* most keys of a batch have one listener: no sketch for them */
        e->first_user = user;
        return ENC_OK;
    }
    if (e->listeners)
        return enc_hll_add(e->listeners, user);
    if (user == e->first_user)
        return ENC_OK;
    enc_hll *hll = enc_hll_new();
    if (!hll || enc_hll_add(hll, e->first_user) != ENC_OK || enc_hll_add(hll, user) != ENC_OK) {
        enc_hll_free(hll);
        return ENC_ERROR;
    }
    e->listeners = hll;
    return ENC_OK;
}

enc_status enc_agg_add_rows(enc_agg *a, const enc_row *rows, size_t n, enc_err *err)
{
    static const int col[ENC_AGG_NDIMS] = {ENC_COL_SONG_ID, ENC_COL_ARTIST, ENC_COL_GENRE, ENC_COL_COUNTRY,
                                           ENC_COL_DEVICE};
    if (a->sorted)
        return enc_err_set(err, "aggregate deltas added after they were sorted");
    for (size_t i = 0; i < n; i++) {
        const enc_row *r = &rows[i];
        int64_t day = enc_ts_days(r->event_time_us);
        enc_slice uid = r->text[ENC_COL_USER_ID];
        uint64_t user = enc_hash_bytes(uid.p, uid.n, 0);
        for (int d = 0; d < ENC_AGG_NDIMS; d++)
            if (add(a, (enc_agg_dim)d, day, r->text[col[d]], r, user) != ENC_OK)
                return enc_err_set(err, "out of memory aggregating a batch");
    }
    return ENC_OK;
}

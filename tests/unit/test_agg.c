/* test_agg — unit tests for src/agg.c against a naive recomputation.
 *
 * Rows are made from random keys over a tiny alphabet (lengths 0..12, NUL bytes included,
 * many sharing their first 4 or 8 bytes, equal keys at different addresses), over a few
 * days, with NULL keys and unknown durations. After enc_agg_sort every entry must equal
 * the naive totals of its (dimension, day, key), its sketch the blob of a sketch built by
 * adding its listeners one by one; entries must come in the sink's key order, each
 * exactly once; every pack must hold exactly its run of entries. Run twice on one agg
 * (reset between), in one call and in many, so kept tables and their growth are used.
 * Two aggs sharing one scratch take turns: each one's entries survive the other's use of
 * it, and an add while the other holds it fails.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"
#include "buf.h"
#include "harness.h"
#include "hash.h"
#include "hll.h"
#include "pack.h"

#define NROWS 3000
#define KEYLEN 12

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Key bytes live in two copies, so equal keys come at different addresses. */
static char store[2][NROWS * ENC_AGG_NDIMS][KEYLEN];
static char users[NROWS][8];

static enc_slice random_key(int copy, size_t slot, unsigned spread)
{
    static const char alpha[] = {'a', 'b', '\0'};
    size_t n = next() % (KEYLEN + 1);
    uint64_t pick = next() % spread;
    char *k = store[copy][slot];
    for (size_t i = 0; i < n; i++) /* the key depends only on (n, pick): repeats are common */
        k[i] = i < 8 && n > 8 ? 'p' : alpha[(pick >> (i % 10)) % 3];
    if (n > 8)
        k[8 + pick % (n - 8)] = (char)('0' + pick % 10);
    return (enc_slice){k, n};
}

static const int dim_col[ENC_AGG_NDIMS] = {ENC_COL_SONG_ID, ENC_COL_ARTIST, ENC_COL_GENRE, ENC_COL_COUNTRY,
                                           ENC_COL_DEVICE};

static void make_rows(enc_row *rows, size_t n)
{
    memset(rows, 0, n * sizeof *rows);
    for (size_t i = 0; i < n; i++) {
        enc_row *r = &rows[i];
        for (int d = 0; d < ENC_AGG_NDIMS; d++) {
            unsigned spread = d == ENC_AGG_SONG ? 4000 : d == ENC_AGG_ARTIST ? 300 : 7;
            if (next() % 50 == 0)
                r->text[dim_col[d]] = ENC_SLICE_NULL;
            else
                r->text[dim_col[d]] = random_key((int)(next() & 1), i * ENC_AGG_NDIMS + (size_t)d, spread);
        }
        snprintf(users[i], sizeof users[i], "u%u", (unsigned)(next() % 900));
        r->text[ENC_COL_USER_ID] = (enc_slice){users[i], strlen(users[i])};
        r->text[ENC_COL_TITLE] = (enc_slice){"T", 1};
        r->duration = next() % 7 == 0 ? -1 : (int32_t)(next() % 400);
        r->event_time_us = (int64_t)(20000 + next() % 3) * 86400 * 1000000 + (int64_t)(next() % 86400000000ull);
    }
}

static const char *dim_order = "acdgs"; /* artist country device genre song: by name */

static int cmp_key(const enc_agg_entry *a, const enc_agg_entry *b)
{
    const char *na = enc_agg_dim_name(a->dim), *nb = enc_agg_dim_name(b->dim);
    if (a->dim != b->dim)
        return strchr(dim_order, na[0]) < strchr(dim_order, nb[0]) ? -1 : 1;
    if (a->day != b->day)
        return a->day < b->day ? -1 : 1;
    return enc_pack_key_cmp(a->key, b->key);
}

/* Checks entry e against the rows: totals and sketch recomputed naively. */
static void check_entry(const enc_agg_entry *e, const enc_row *rows, size_t n)
{
    int64_t plays = 0, seconds = 0;
    enc_hll *h = enc_hll_new();
    for (size_t i = 0; i < n; i++) {
        const enc_row *r = &rows[i];
        enc_slice k = r->text[dim_col[e->dim]];
        if (!k.p || r->event_time_us / (86400ll * 1000000) != e->day || enc_pack_key_cmp(k, e->key) != 0)
            continue;
        plays++;
        seconds += r->duration > 0 ? r->duration : 0;
        enc_slice u = r->text[ENC_COL_USER_ID];
        T_CHECK(enc_hll_add(h, enc_hash_bytes(u.p, u.n, 0)) == ENC_OK);
    }
    enc_buf want;
    enc_buf_init(&want, 1 << 20);
    T_CHECK(enc_hll_serialize(h, &want) == ENC_OK);
    T_CHECK(e->plays == plays && e->seconds == seconds && plays > 0);
    T_CHECK(e->listeners_blob.n == want.len && memcmp(e->listeners_blob.p, want.data, want.len) == 0);
    T_CHECK(e->dim == ENC_AGG_SONG ? e->title.p != NULL : e->title.p == NULL);
    enc_buf_free(&want);
    enc_hll_free(h);
}

/* Every (dimension, day, key) of the rows is an entry: as many distinct triples as entries. */
static size_t distinct_triples(const enc_row *rows, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < ENC_AGG_NDIMS; d++) {
            enc_slice k = rows[i].text[dim_col[d]];
            if (!k.p)
                continue;
            int64_t day = rows[i].event_time_us / (86400ll * 1000000);
            size_t j = 0;
            for (; j < i; j++) {
                enc_slice kj = rows[j].text[dim_col[d]];
                if (kj.p && rows[j].event_time_us / (86400ll * 1000000) == day && enc_pack_key_cmp(k, kj) == 0)
                    break;
            }
            count += j == i;
        }
    return count;
}

static void check_agg(const enc_agg *a, const enc_row *rows, size_t n)
{
    size_t count = enc_agg_count(a);
    T_CHECK(count == distinct_triples(rows, n));
    for (size_t i = 0; i < count; i++) {
        const enc_agg_entry *e = enc_agg_at(a, i);
        if (i > 0)
            T_CHECK(cmp_key(enc_agg_at(a, i - 1), e) < 0);
        check_entry(e, rows, n);
    }
    size_t at = 0;
    for (size_t p = 0; p < enc_agg_pack_count(a); p++) {
        const enc_agg_pack *pk = enc_agg_pack_at(a, p);
        enc_pack_reader rd;
        enc_pack_entry pe;
        enc_err err = {{0}};
        T_CHECK(enc_pack_open(&rd, pk->blob.p, pk->blob.n, &err) == ENC_OK);
        int got;
        while ((got = enc_pack_next(&rd, &pe, &err)) == 1 && at < count) {
            const enc_agg_entry *e = enc_agg_at(a, at++);
            T_CHECK(e->dim == pk->dim && e->day == pk->day && enc_pack_key_cmp(e->key, pe.key) == 0);
            T_CHECK(pe.plays == e->plays && pe.seconds == e->seconds);
            T_CHECK(pe.sketch.n == e->listeners_blob.n &&
                    memcmp(pe.sketch.p, e->listeners_blob.p, pe.sketch.n) == 0);
        }
        T_CHECK(got == 0);
    }
    T_CHECK(at == count);
}

static void test_against_naive(void)
{
    enc_row *rows = malloc(NROWS * sizeof *rows);
    T_CHECK(rows != NULL);
    enc_agg *a = enc_agg_new(NULL);
    T_CHECK(a != NULL);
    enc_err err = {{0}};
    for (int round = 0; round < 3; round++) {
        size_t n = round == 0 ? 300 : NROWS; /* the second round grows the kept tables */
        make_rows(rows, n);
        if (round == 2) { /* in many calls */
            for (size_t i = 0; i < n; i += 77)
                T_CHECK(enc_agg_add_rows(a, rows + i, n - i < 77 ? n - i : 77, &err) == ENC_OK);
        } else {
            T_CHECK(enc_agg_add_rows(a, rows, n, &err) == ENC_OK);
        }
        T_CHECK(enc_agg_sort(a) == ENC_OK);
        check_agg(a, rows, n);
        T_CHECK(enc_agg_add_rows(a, rows, 1, &err) == ENC_ERROR); /* after the sort */
        enc_agg_reset(a);
    }
    T_CHECK(enc_agg_sort(a) == ENC_OK && enc_agg_count(a) == 0 && enc_agg_pack_count(a) == 0);
    enc_agg_free(a);
    free(rows);
}

static void test_shared_scratch(void)
{
    enc_row *rows = malloc(NROWS * sizeof *rows);
    T_CHECK(rows != NULL);
    make_rows(rows, NROWS);
    size_t half = NROWS / 2;
    enc_agg_scratch *w = enc_agg_scratch_new();
    enc_agg *a = enc_agg_new(w), *b = enc_agg_new(w);
    T_CHECK(w && a && b);
    enc_err err = {{0}};
    for (int round = 0; round < 2; round++) {
        T_CHECK(enc_agg_add_rows(a, rows, 100, &err) == ENC_OK);
        T_CHECK(enc_agg_add_rows(b, rows + half, 10, &err) == ENC_ERROR); /* a holds the scratch */
        T_CHECK(strstr(err.msg, "two batches") != NULL);
        T_CHECK(enc_agg_add_rows(a, rows + 100, half - 100, &err) == ENC_OK);
        T_CHECK(enc_agg_sort(a) == ENC_OK); /* and lets it go */
        T_CHECK(enc_agg_add_rows(b, rows + half, NROWS - half, &err) == ENC_OK);
        T_CHECK(enc_agg_sort(a) == ENC_OK); /* again, while b holds the scratch: a no-op */
        T_CHECK(enc_agg_sort(b) == ENC_OK);
        check_agg(a, rows, half); /* a's entries and packs are its own */
        check_agg(b, rows + half, NROWS - half);
        enc_agg_reset(a);
        enc_agg_reset(b);
    }
    T_CHECK(enc_agg_add_rows(a, rows, 10, &err) == ENC_OK);
    enc_agg_reset(a); /* a reset lets the scratch go too */
    T_CHECK(enc_agg_add_rows(b, rows + 10, 20, &err) == ENC_OK && enc_agg_sort(b) == ENC_OK);
    check_agg(b, rows + 10, 20);
    enc_agg_free(a);
    enc_agg_free(b);
    enc_agg_scratch_free(w);
    free(rows);
}

/* Batch i of test_remembered_dense: 6000 plays by users i*3000 .. i*3000+5999 (half of
 * them the previous batch's), of genre "g" (dense), songs "s0".."s9" (sparse; s9 unknown), on day 20000
 * or, for batch 2, day 20001. */
static void make_dense_batch(enc_row *rows, int batch)
{
    static char ids[6000][12];
    static const char *songs[] = {"s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9"};
    memset(rows, 0, 6000 * sizeof *rows);
    for (size_t i = 0; i < 6000; i++) {
        enc_row *r = &rows[i];
        snprintf(ids[i], sizeof ids[i], "u%zu", (size_t)batch * 3000 + i);
        r->text[ENC_COL_USER_ID] = (enc_slice){ids[i], strlen(ids[i])};
        r->text[ENC_COL_GENRE] = (enc_slice){"g", 1};
        r->text[ENC_COL_SONG_ID] = (enc_slice){songs[i % 10], 2};
        if (i % 10 != 9) { /* s9: a song not in songs.csv */
            r->song_ix = (uint32_t)(i % 10) + 1;
            r->text[ENC_COL_TITLE] = (enc_slice){"T", 1};
            r->text[ENC_COL_ARTIST] = (enc_slice){"A", 1};
        }
        r->duration = 60;
        r->event_time_us = (batch == 2 ? 20001 : 20000) * 86400LL * 1000000 + (int64_t)i;
    }
}

static const enc_agg_entry *find_entry(const enc_agg *a, enc_agg_dim dim, const char *key)
{
    for (size_t i = 0; i < enc_agg_count(a); i++) {
        const enc_agg_entry *e = enc_agg_at(a, i);
        if (e->dim == dim && e->key.n == strlen(key) && memcmp(e->key.p, key, e->key.n) == 0)
            return e;
    }
    return NULL;
}

/* With a remembering scratch (agg_known.h) a key whose sketch an earlier batch wrote dense
 * writes only the listeners that raise a register: its later blob is smaller, and its
 * union with the first is the union a plain agg's blobs give, byte for byte. Sparse keys,
 * and the same key on another day, are written in full; plays and seconds are not
 * touched. A song's names come with its first entry of a day only. */
static void test_remembered_dense(void)
{
    enc_row *rows = malloc(6000 * sizeof *rows);
    enc_agg_scratch *w = enc_agg_scratch_new();
    T_CHECK(rows && w && enc_agg_scratch_remember(w) == ENC_OK);
    enc_agg *mem[3], *plain[3];
    enc_err err = {{0}};
    for (int b = 0; b < 3; b++) {
        mem[b] = enc_agg_new(w);
        plain[b] = enc_agg_new(NULL);
        T_CHECK(mem[b] && plain[b]);
        make_dense_batch(rows, b);
        T_CHECK(enc_agg_add_rows(mem[b], rows, 6000, &err) == ENC_OK && enc_agg_sort(mem[b]) == ENC_OK);
        T_CHECK(enc_agg_add_rows(plain[b], rows, 6000, &err) == ENC_OK && enc_agg_sort(plain[b]) == ENC_OK);
        T_CHECK(enc_agg_count(mem[b]) == enc_agg_count(plain[b]));
        for (size_t i = 0; i < enc_agg_count(mem[b]); i++) {
            const enc_agg_entry *m = enc_agg_at(mem[b], i), *p = enc_agg_at(plain[b], i);
            T_CHECK(m->dim == p->dim && m->day == p->day && m->plays == p->plays && m->seconds == p->seconds);
            bool filtered = b == 1 && (m->dim == ENC_AGG_GENRE || m->dim == ENC_AGG_ARTIST); /* "g", "A": dense */
            bool named = m->song_ix && b != 1;
            T_CHECK(m->song_ix == p->song_ix && (m->dim == ENC_AGG_SONG || m->song_ix == 0));
            T_CHECK(named ? m->title.n == 1 && m->artist.n == 1 && m->title.p[0] == 'T' && m->artist.p[0] == 'A'
                          : m->title.p == NULL && m->artist.p == NULL);
            T_CHECK(p->song_ix == 0 || (p->title.p != NULL && p->artist.p != NULL)); /* a plain agg: always */
            T_CHECK(filtered || (m->listeners_blob.n == p->listeners_blob.n &&
                                 memcmp(m->listeners_blob.p, p->listeners_blob.p, p->listeners_blob.n) == 0));
        }
    }
    const enc_agg_entry *m0 = find_entry(mem[0], ENC_AGG_GENRE, "g"), *m1 = find_entry(mem[1], ENC_AGG_GENRE, "g");
    const enc_agg_entry *p1 = find_entry(plain[1], ENC_AGG_GENRE, "g"), *m2 = find_entry(mem[2], ENC_AGG_GENRE, "g");
    T_CHECK(m0 && m1 && p1 && m2);
    if (m0 && m1 && p1 && m2) {
        T_CHECK(enc_hll_blob_is_dense(m0->listeners_blob.p, m0->listeners_blob.n));
        T_CHECK(!enc_hll_blob_is_dense(m1->listeners_blob.p, m1->listeners_blob.n)); /* a few entries */
        T_CHECK(m1->listeners_blob.n < p1->listeners_blob.n);
        T_CHECK(enc_hll_blob_is_dense(m2->listeners_blob.p, m2->listeners_blob.n)); /* another day: whole */
        enc_slice mine[2] = {m0->listeners_blob, m1->listeners_blob}, all[2] = {m0->listeners_blob, p1->listeners_blob};
        enc_buf got, want;
        enc_buf_init(&got, ENC_HLL_BLOB_MAX);
        enc_buf_init(&want, ENC_HLL_BLOB_MAX);
        T_CHECK(enc_hll_union_blobs(mine, 2, &got, &err) == ENC_OK && enc_hll_union_blobs(all, 2, &want, &err) == ENC_OK);
        T_CHECK(got.len == want.len && memcmp(got.data, want.data, got.len) == 0);
        enc_buf_free(&got);
        enc_buf_free(&want);
    }
    for (int b = 0; b < 3; b++) {
        enc_agg_free(mem[b]);
        enc_agg_free(plain[b]);
    }
    enc_agg_scratch_free(w);
    free(rows);
}

/* Three aggs over two shared outputs: two sorted aggs hold both, so a third sort fails
 * until one of them is reset; each still reads its own entries meanwhile. */
static void test_shared_output(void)
{
    enc_row *rows = malloc(NROWS * sizeof *rows);
    T_CHECK(rows != NULL);
    make_rows(rows, NROWS);
    size_t third = NROWS / 3;
    const enc_row *part[3] = {rows, rows + third, rows + 2 * third};
    size_t len[3] = {third, third, NROWS - 2 * third};
    enc_agg_scratch *w = enc_agg_scratch_new();
    T_CHECK(w != NULL);
    enc_agg_scratch_share_output(w);
    enc_agg *a[3] = {enc_agg_new(w), enc_agg_new(w), enc_agg_new(w)};
    T_CHECK(a[0] && a[1] && a[2]);
    enc_err err = {{0}};
    for (int round = 0; round < 3; round++) {
        int x = round % 3, y = (round + 1) % 3, z = (round + 2) % 3; /* each takes each role */
        T_CHECK(enc_agg_add_rows(a[x], part[x], len[x], &err) == ENC_OK && enc_agg_sort(a[x]) == ENC_OK);
        T_CHECK(enc_agg_add_rows(a[y], part[y], len[y], &err) == ENC_OK && enc_agg_sort(a[y]) == ENC_OK);
        T_CHECK(enc_agg_add_rows(a[z], part[z], len[z], &err) == ENC_OK);
        T_CHECK(enc_agg_sort(a[z]) == ENC_ERROR); /* both outputs are still being read */
        check_agg(a[x], part[x], len[x]);
        check_agg(a[y], part[y], len[y]);
        enc_agg_reset(a[x]);
        enc_agg_reset(a[z]);
        T_CHECK(enc_agg_add_rows(a[z], part[z], len[z], &err) == ENC_OK && enc_agg_sort(a[z]) == ENC_OK);
        check_agg(a[z], part[z], len[z]);
        check_agg(a[y], part[y], len[y]); /* untouched by z's sort */
        enc_agg_reset(a[y]);
        enc_agg_reset(a[z]);
    }
    for (int i = 0; i < 3; i++)
        enc_agg_free(a[i]);
    enc_agg_scratch_free(w);
    free(rows);
}

int main(void)
{
    T_RUN(test_against_naive);
    T_RUN(test_shared_scratch);
    T_RUN(test_remembered_dense);
    T_RUN(test_shared_output);
    return t_summary("agg");
}

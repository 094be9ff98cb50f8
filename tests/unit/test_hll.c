/* test_hll — unit tests for the HyperLogLog sketches (src/hll.c).
 *
 * Hashes of "user i" are splitmix64(i): well mixed, reproducible, no dependency on hash.h.
 * Sketch state is compared through serialized blobs, which hold every register and
 * entry, so "same blob" means "same sketch". Measured errors, sizes and speeds are
 * printed as "  hll: ..." lines. `test_hll --write-corpus DIR` writes the seed blobs of
 * fuzz/corpus/hll/ (ok_* must decode, bad_* must be rejected); the test reads them back.
 */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "alloc.h"
#include "buf.h"
#include "harness.h"
#include "hll.h"

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* The hash of user i in "universe" u (independent trials use different universes). */
static uint64_t user(uint64_t u, uint64_t i)
{
    return mix64(i ^ mix64(u));
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double rel_err(uint64_t est, uint64_t n)
{
    return ((double)est - (double)n) / (double)n;
}

/* A sketch of users [from, to) of universe 0. */
static enc_hll *build(uint64_t from, uint64_t to)
{
    enc_hll *h = enc_hll_new();
    T_CHECK(h != NULL);
    for (uint64_t i = from; i < to; i++)
        T_CHECK(enc_hll_add(h, user(0, i)) == ENC_OK);
    return h;
}

static void blob_of(const enc_hll *h, enc_buf *b)
{
    enc_buf_init(b, ENC_HLL_BLOB_MAX);
    T_CHECK(enc_hll_serialize(h, b) == ENC_OK);
}

static int same_sketch(const enc_hll *x, const enc_hll *y)
{
    enc_buf a, b;
    blob_of(x, &a);
    blob_of(y, &b);
    int same = a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
    enc_buf_free(&a);
    enc_buf_free(&b);
    return same;
}

static char blob_kind(const enc_hll *h)
{
    enc_buf b;
    blob_of(h, &b);
    char k = b.len >= 2 ? b.data[1] : 0;
    enc_buf_free(&b);
    return k;
}

static enc_hll *copy_of(const enc_hll *h)
{
    enc_buf b;
    enc_hll *c = NULL;
    blob_of(h, &b);
    T_CHECK(enc_hll_deserialize(b.data, b.len, &c, NULL) == ENC_OK);
    enc_buf_free(&b);
    return c;
}

/* Adds users of universe 0 from *next on until the (sparse) sketch holds `entries`
 * entries; while sparse, the count is exact for the number of entries up to ~5000. */
static void fill_entries(enc_hll *h, uint64_t *next, uint64_t entries)
{
    while (enc_hll_count(h) < entries)
        T_CHECK(enc_hll_add(h, user(0, (*next)++)) == ENC_OK);
}

/* ---- counting ---------------------------------------------------------------------- */

static void test_empty(void)
{
    enc_hll *h = enc_hll_new();
    T_CHECK(enc_hll_count(h) == 0);
    enc_buf b;
    blob_of(h, &b);
    T_CHECK(b.len == 3 && b.data[0] == 1 && b.data[1] == 1 && b.data[2] == 0);
    T_CHECK(enc_hll_memory(h) <= 48);
    enc_buf_free(&b);
    enc_hll_free(h);
    enc_hll_free(NULL);
}

static void test_small_exact(void)
{
    enc_hll *h = enc_hll_new();
    long worst = 0;
    uint64_t n = 0;
    while (blob_kind(h) == 1) {
        T_CHECK(enc_hll_add(h, user(0, n)) == ENC_OK);
        n++;
        long d = labs((long)enc_hll_count(h) - (long)n);
        if (d > worst)
            worst = d;
        if (blob_kind(h) == 1 && n <= 1000)
            T_CHECK(d <= 1);
        else if (blob_kind(h) == 1)
            T_CHECK(d <= 1 || d <= (long)n / 100);
    }
    /* The switch to dense happens just past ENC_HLL_SPARSE_MAX distinct values. */
    T_CHECK(n > ENC_HLL_SPARSE_MAX && n < ENC_HLL_SPARSE_MAX + 10);
    double e = rel_err(enc_hll_count(h), n);
    T_CHECK(fabs(e) < 0.02);
    printf("  hll: sparse counts 1..%llu: worst abs error %ld; dense at %llu distinct: %+.3f %%\n",
           (unsigned long long)n - 1, worst, (unsigned long long)n, 100 * e);
    enc_hll_free(h);
}

static void test_duplicates_ignored(void)
{
    const uint64_t sizes[] = {1, 500, 50000};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        uint64_t n = sizes[s];
        enc_hll *once = build(0, n);
        enc_hll *many = enc_hll_new();
        for (uint64_t i = n; i-- > 0;)
            T_CHECK(enc_hll_add(many, user(0, i)) == ENC_OK);
        for (int round = 0; round < 2; round++)
            for (uint64_t i = 0; i < n; i++)
                T_CHECK(enc_hll_add(many, user(0, (i * 7919) % n)) == ENC_OK);
        T_CHECK(enc_hll_count(once) == enc_hll_count(many));
        T_CHECK(same_sketch(once, many));
        enc_hll_free(once);
        enc_hll_free(many);
    }
}

static void test_million(void)
{
    const uint64_t n = 1000000;
    enc_hll *h = build(0, n);
    double e = rel_err(enc_hll_count(h), n);
    printf("  hll: 1M distinct -> %llu (%+.3f %%)\n", (unsigned long long)enc_hll_count(h), 100 * e);
    T_CHECK(fabs(e) < 0.02);
    enc_hll_free(h);
}

static void test_ten_million(void)
{
    const uint64_t n = 10000000;
    enc_hll *h = enc_hll_new();
    double t0 = now();
    for (uint64_t i = 0; i < n; i++)
        enc_hll_add(h, user(1, i)); /* dense from the 4097th on: cannot fail */
    double t = now() - t0;
    double e = rel_err(enc_hll_count(h), n);
    printf("  hll: 10M distinct -> %llu (%+.3f %%), %.1f M adds/s (hash mixing included)\n",
           (unsigned long long)enc_hll_count(h), 100 * e, n / t / 1e6);
    T_CHECK(fabs(e) < 0.02);
    enc_hll_free(h);
}

/* Many independent sketches per cardinality: the estimator's bias and spread, across the
 * sparse range, the old linear-counting/raw-HLL crossover (~2.5 m = 41k) and above. */
static void test_error_sweep(void)
{
    const uint64_t sizes[] = {100, 3000, 5000, 20000, 50000, 200000};
    const int trials = 16;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        double sum = 0, sq = 0, worst = 0;
        for (int t = 0; t < trials; t++) {
            enc_hll *h = enc_hll_new();
            for (uint64_t i = 0; i < sizes[s]; i++)
                T_CHECK(enc_hll_add(h, user(100 + (uint64_t)t, i)) == ENC_OK);
            double e = rel_err(enc_hll_count(h), sizes[s]);
            sum += e;
            sq += e * e;
            if (fabs(e) > worst)
                worst = fabs(e);
            enc_hll_free(h);
        }
        double bias = sum / trials, rms = sqrt(sq / trials);
        printf("  hll: n=%-7llu %d trials: mean %+.3f %%, rms %.3f %%, worst %.3f %%\n",
               (unsigned long long)sizes[s], trials, 100 * bias, 100 * rms, 100 * worst);
        T_CHECK(rms < 0.013);  /* theory: 0.81 % dense, ~0 sparse */
        T_CHECK(worst < 0.03); /* 3.7 sigma */
    }
}

/* ---- merge ------------------------------------------------------------------------- */

static void check_halves(uint64_t n, uint64_t a_to, uint64_t b_from)
{
    enc_hll *whole = build(0, n);
    enc_hll *a = build(0, a_to), *b = build(b_from, n);
    enc_hll *ab = copy_of(a), *ba = copy_of(b);
    T_CHECK(enc_hll_merge(ab, b) == ENC_OK);
    T_CHECK(enc_hll_merge(ba, a) == ENC_OK);
    T_CHECK(same_sketch(ab, whole));
    T_CHECK(same_sketch(ba, whole));
    T_CHECK(enc_hll_count(ab) == enc_hll_count(whole));
    enc_hll_free(whole);
    enc_hll_free(a);
    enc_hll_free(b);
    enc_hll_free(ab);
    enc_hll_free(ba);
}

static void test_merge_halves(void)
{
    check_halves(100, 50, 50);           /* sparse + sparse -> sparse */
    check_halves(6000, 3000, 3000);      /* sparse + sparse -> dense */
    check_halves(100100, 100, 100);      /* sparse + dense */
    check_halves(1000000, 500000, 500000); /* dense + dense */
    check_halves(10000, 6000, 4000);     /* overlapping halves */
    check_halves(4000, 2500, 1500);      /* overlapping, stays sparse */
    check_halves(20, 20, 0);             /* one inside the other */
    check_halves(20, 5, 5);              /* inline + heap */

    enc_hll *h = build(0, 1000), *empty = enc_hll_new(), *ref = build(0, 1000);
    T_CHECK(enc_hll_merge(h, h) == ENC_OK); /* self-union */
    T_CHECK(enc_hll_merge(h, empty) == ENC_OK);
    T_CHECK(same_sketch(h, ref));
    T_CHECK(enc_hll_merge(empty, h) == ENC_OK);
    T_CHECK(same_sketch(empty, ref));
    enc_hll_free(h);
    enc_hll_free(empty);
    enc_hll_free(ref);
}

static void test_merge_order(void)
{
    /* Ranges overlap on purpose; sizes cover inline, heap sparse and dense. */
    const uint64_t r[4][2] = {{0, 3}, {2, 2002}, {1500, 4500}, {4000, 54000}};
    enc_hll *s[4];
    for (int i = 0; i < 4; i++)
        s[i] = build(r[i][0], r[i][1]);
    enc_hll *whole = build(0, 54000);
    static const int orders[][4] = {{0, 1, 2, 3}, {3, 2, 1, 0}, {1, 3, 0, 2}, {2, 0, 3, 1}, {0, 2, 1, 3}};
    for (size_t o = 0; o < sizeof orders / sizeof *orders; o++) {
        enc_hll *acc = enc_hll_new();
        for (int i = 0; i < 4; i++)
            T_CHECK(enc_hll_merge(acc, s[orders[o][i]]) == ENC_OK);
        T_CHECK(same_sketch(acc, whole));
        enc_hll_free(acc);
    }
    /* Associativity: (s0 u s2) u (s1 u s3) versus s3 u (s1 u (s2 u s0)). */
    enc_hll *x = copy_of(s[0]), *y = copy_of(s[1]), *z = copy_of(s[2]);
    T_CHECK(enc_hll_merge(x, s[2]) == ENC_OK);
    T_CHECK(enc_hll_merge(y, s[3]) == ENC_OK);
    T_CHECK(enc_hll_merge(x, y) == ENC_OK);
    T_CHECK(enc_hll_merge(z, s[0]) == ENC_OK);
    enc_hll *w = copy_of(s[1]);
    T_CHECK(enc_hll_merge(w, z) == ENC_OK);
    enc_hll *v = copy_of(s[3]);
    T_CHECK(enc_hll_merge(v, w) == ENC_OK);
    T_CHECK(same_sketch(x, v));
    T_CHECK(same_sketch(x, whole));
    enc_hll_free(x);
    enc_hll_free(y);
    enc_hll_free(z);
    enc_hll_free(w);
    enc_hll_free(v);
    enc_hll_free(whole);
    for (int i = 0; i < 4; i++)
        enc_hll_free(s[i]);
}

/* Adds in any order, repeated, with reads (count, serialize, merge) between them, give
 * the sketch of the set: pending adds are put in order before anything reads them. Sizes
 * around the sparse limit (4096 distinct indexes) included. */
static void test_add_order_and_reads(void)
{
    const uint64_t sizes[] = {1, 9, 100, 4095, 4096, 4097, 5000, 20000};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        uint64_t n = sizes[k];
        enc_hll *ref = build(0, n), *h = enc_hll_new(), *sink = enc_hll_new();
        T_CHECK(h != NULL && sink != NULL);
        enc_buf b;
        enc_buf_init(&b, ENC_HLL_BLOB_MAX + 64);
        for (uint64_t i = 0; i < n; i++) {
            uint64_t u = (i * 7919) % n; /* a permutation: 7919 is prime and no size's factor */
            T_CHECK(enc_hll_add(h, user(0, u)) == ENC_OK);
            if (i % 3 == 0)
                T_CHECK(enc_hll_add(h, user(0, (i / 3) % n)) == ENC_OK); /* a repeat, or early */
            if (i % 997 == 0) {
                T_CHECK(enc_hll_count(h) <= n + n / 16 + 1);
                enc_buf_reset(&b);
                T_CHECK(enc_hll_serialize(h, &b) == ENC_OK);
                T_CHECK(enc_hll_merge(sink, h) == ENC_OK);
            }
        }
        T_CHECK(same_sketch(h, ref));
        T_CHECK(enc_hll_merge(sink, h) == ENC_OK);
        T_CHECK(same_sketch(sink, ref));
        if (n <= 4095 || n >= 5000) /* 4096 users may share a sparse index */
            T_CHECK(blob_kind(h) == (n <= 4095 ? 1 : 2));
        enc_buf_free(&b);
        enc_hll_free(ref);
        enc_hll_free(h);
        enc_hll_free(sink);
    }
}

/* ---- blobs ------------------------------------------------------------------------- */

static void test_roundtrip(void)
{
    const uint64_t sizes[] = {0, 1, 8, 9, 10, 100, 1000, 4000, 5000, 100000};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        enc_hll *h = build(0, sizes[s]), *g = NULL;
        enc_buf a, b;
        enc_err err = {{0}};
        blob_of(h, &a);
        T_CHECK(enc_hll_deserialize(a.data, a.len, &g, &err) == ENC_OK);
        if (!g) {
            fprintf(stderr, "  n=%llu: %s\n", (unsigned long long)sizes[s], err.msg);
            enc_buf_free(&a);
            enc_hll_free(h);
            continue;
        }
        T_CHECK(enc_hll_count(g) == enc_hll_count(h));
        blob_of(g, &b);
        T_CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
        /* The decoded sketch keeps working like the original. */
        T_CHECK(enc_hll_add(g, user(0, sizes[s])) == ENC_OK);
        T_CHECK(enc_hll_add(h, user(0, sizes[s])) == ENC_OK);
        T_CHECK(same_sketch(g, h));
        enc_buf_free(&a);
        enc_buf_free(&b);
        enc_hll_free(h);
        enc_hll_free(g);
    }
}

static void test_blob_sizes(void)
{
    const uint64_t sizes[] = {1, 5, 10, 100, 1000, 4000, 100000};
    printf("  hll: blob bytes:");
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        enc_hll *h = build(0, sizes[s]);
        enc_buf b;
        blob_of(h, &b);
        printf(" %llu->%zu", (unsigned long long)sizes[s], b.len);
        if (sizes[s] == 10)
            T_CHECK(b.len <= 64);
        if (sizes[s] == 100000)
            T_CHECK(b.len == 2 + 12288);
        if (sizes[s] <= 4000)
            T_CHECK(b.len < 2 + 12288); /* sparse is never bigger than dense */
        enc_buf_free(&b);
        enc_hll_free(h);
    }
    /* The largest sparse sketch. */
    enc_hll *h = enc_hll_new();
    uint64_t next = 0;
    fill_entries(h, &next, ENC_HLL_SPARSE_MAX);
    enc_buf b;
    blob_of(h, &b);
    T_CHECK(b.data[1] == 1);
    T_CHECK(b.len <= 2 + 12288);
    printf(" full-sparse(%d)->%zu\n", ENC_HLL_SPARSE_MAX, b.len);
    enc_buf_free(&b);
    enc_hll_free(h);
}

/* Hand-made bad blobs, shared with --write-corpus. Returns 0 past the last one. */
static int bad_blob(int i, enc_buf *b, const char **name)
{
    static const struct {
        const char *name;
        const char *bytes;
        size_t n;
    } fixed[] = {
        {"empty", "", 0},
        {"header_only_version", "\x01", 1},
        {"version_0", "\x00\x01\x00", 3},
        {"version_2", "\x02\x01\x00", 3},
        {"kind_0", "\x01\x00\x00", 3},
        {"kind_3", "\x01\x03\x00", 3},
        {"sparse_no_count", "\x01\x01", 2},
        {"count_overlong", "\x01\x01\x80\x00", 4},
        {"count_6_bytes", "\x01\x01\x80\x80\x80\x80\x80\x01", 8},
        {"count_4097", "\x01\x01\x81\x20\x01", 5},
        {"count_exceeds_bytes", "\x01\x01\x03\x01\x01", 5},
        {"entry_truncated_varint", "\x01\x01\x01\x81", 4},
        {"entry_overlong", "\x01\x01\x01\x81\x00", 5},
        {"entry_zero_delta", "\x01\x01\x02\x01\x00", 5},
        {"index_2pow25", "\x01\x01\x01\x80\x80\x80\x10", 7},
        {"index_wraps", "\x01\x01\x02\xff\xff\xff\x0f\x01", 8},
        {"missing_rho", "\x01\x01\x01\x00", 4},
        {"rho_0", "\x01\x01\x01\x00\x00", 5},
        {"rho_41", "\x01\x01\x01\x00\x29", 5},
        {"trailing_byte", "\x01\x01\x01\x01\xff", 5},
        {"dense_empty", "\x01\x02", 2},
        {"dense_short", "\x01\x02\x00\x00\x00", 5},
    };
    size_t nfixed = sizeof fixed / sizeof *fixed;
    enc_buf_init(b, ENC_HLL_BLOB_MAX + 16);
    if ((size_t)i < nfixed) {
        *name = fixed[i].name;
        enc_buf_append(b, fixed[i].bytes, fixed[i].n);
        return 1;
    }
    i -= (int)nfixed;
    if (i > 5) {
        enc_buf_free(b);
        return 0;
    }
    enc_hll *h = build(0, i < 2 ? 1000 : 100000);
    T_CHECK(enc_hll_serialize(h, b) == ENC_OK);
    enc_hll_free(h);
    switch (i) {
    case 0: *name = "sparse_truncated"; b->len--; return 1;
    case 1: *name = "sparse_trailing"; enc_buf_appendc(b, 0); return 1;
    case 2: *name = "dense_truncated"; b->len -= 3; return 1;
    case 3: *name = "dense_trailing"; enc_buf_appendc(b, 0); return 1;
    case 4: *name = "dense_register_52"; b->data[2] = 52; return 1;
    default: *name = "dense_register_63"; b->data[2 + 12287] |= (char)0xfc; return 1;
    }
}

static void test_bad_blobs(void)
{
    const char *name;
    enc_buf b;
    int count = 0;
    for (int i = 0; bad_blob(i, &b, &name); i++, count++) {
        enc_hll *sentinel = enc_hll_new(), *h = sentinel; /* must be overwritten with NULL */
        enc_err err = {{0}};
        T_CHECK(enc_hll_deserialize(b.data ? b.data : "", b.len, &h, &err) == ENC_ERROR);
        T_CHECK(h == NULL);
        T_CHECK(strncmp(err.msg, "hll blob: ", 10) == 0);
        if (h || !err.msg[0])
            fprintf(stderr, "  accepted bad blob %s\n", name);
        if (h != sentinel)
            enc_hll_free(h);
        enc_hll_free(sentinel);
        enc_buf_free(&b);
    }
    T_CHECK(count > 20);
    T_CHECK(enc_hll_deserialize(NULL, 0, &(enc_hll *){NULL}, NULL) == ENC_ERROR);
}

/* Every proper prefix of a valid blob is rejected, sparse and dense. */
static void test_truncated(void)
{
    const uint64_t sizes[] = {1, 10, 1000, 100000};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        enc_hll *h = build(0, sizes[s]);
        enc_buf b;
        blob_of(h, &b);
        for (size_t len = 0; len < b.len; len++) {
            enc_hll *g = NULL;
            enc_err err;
            T_CHECK(enc_hll_deserialize(b.data, len, &g, &err) == ENC_ERROR);
            enc_hll_free(g);
        }
        enc_buf_free(&b);
        enc_hll_free(h);
    }
}

/* Every single-bit flip of a sparse blob is either rejected or decodes to a sketch that
 * re-encodes to exactly the flipped bytes (the format has one encoding per sketch). There
 * is no checksum, so some flips are valid sketches; the share rejected is reported. */
static void test_bit_flips(void)
{
    enc_hll *h = build(0, 200);
    enc_buf b;
    blob_of(h, &b);
    int flips = 0, rejected = 0;
    for (size_t pos = 0; pos < b.len; pos++) {
        for (int bit = 0; bit < 8; bit++, flips++) {
            b.data[pos] ^= (char)(1 << bit);
            enc_hll *g = NULL;
            if (enc_hll_deserialize(b.data, b.len, &g, NULL) != ENC_OK) {
                rejected++;
            } else {
                enc_buf r;
                blob_of(g, &r);
                T_CHECK(r.len == b.len && memcmp(r.data, b.data, b.len) == 0);
                enc_buf_free(&r);
                enc_hll_free(g);
            }
            b.data[pos] ^= (char)(1 << bit);
        }
    }
    printf("  hll: bit flips of a 200-value sparse blob: %d of %d rejected, the rest canonical\n", rejected,
           flips);
    T_CHECK(rejected > 0);
    enc_buf_free(&b);
    enc_hll_free(h);
}

/* Reads fuzz/corpus/hll/: ok_* must decode and re-encode byte for byte, bad_* must fail. */
static void test_corpus(void)
{
    static const char *dirs[] = {"fuzz/corpus/hll", "../fuzz/corpus/hll", "../../fuzz/corpus/hll"};
    DIR *d = NULL;
    const char *dir = NULL;
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs && !d; i++)
        if ((d = opendir(dirs[i])) != NULL)
            dir = dirs[i];
    T_CHECK(d != NULL); /* run from the repository root */
    if (!d)
        return;
    int ok = 0, bad = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int want_ok = strncmp(de->d_name, "ok_", 3) == 0;
        if (!want_ok && strncmp(de->d_name, "bad_", 4) != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "rb");
        T_CHECK(f != NULL);
        if (!f)
            continue;
        static char data[ENC_HLL_BLOB_MAX + 64];
        size_t n = fread(data, 1, sizeof data, f);
        fclose(f);
        enc_hll *h = NULL;
        enc_err err = {{0}};
        enc_status st = enc_hll_deserialize(data, n, &h, &err);
        if (want_ok) {
            ok++;
            T_CHECK(st == ENC_OK);
            if (h) {
                enc_buf r;
                blob_of(h, &r);
                T_CHECK(r.len == n && memcmp(r.data, data, n) == 0);
                enc_buf_free(&r);
            }
        } else {
            bad++;
            T_CHECK(st == ENC_ERROR);
        }
        if ((st == ENC_OK) != want_ok)
            fprintf(stderr, "  corpus %s: %s\n", de->d_name, st == ENC_OK ? "accepted" : err.msg);
        enc_hll_free(h);
    }
    closedir(d);
    T_CHECK(ok >= 5 && bad >= 20);
}

/* ---- memory and failure paths -------------------------------------------------------- */

static void test_memory_small(void)
{
    const size_t count = 100000;
    enc_hll **v = malloc(count * sizeof *v);
    T_CHECK(v != NULL);
    if (!v)
        return;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
    size_t heap0 = mallinfo2().uordblks;
#endif
    size_t held = 0, blob_bytes = 0, adds = 0;
    double t0 = now();
    for (size_t i = 0; i < count; i++) {
        v[i] = enc_hll_new();
        T_CHECK(v[i] != NULL);
        size_t listeners = 3 + i % 5; /* 3..7, mean 5 */
        for (size_t j = 0; j < listeners; j++, adds++)
            T_CHECK(enc_hll_add(v[i], user(7, i * 8 + j)) == ENC_OK);
        T_CHECK(enc_hll_add(v[i], user(7, i * 8)) == ENC_OK); /* a repeat listener */
        adds++;
    }
    double t = now() - t0;
    for (size_t i = 0; i < count; i++) {
        held += enc_hll_memory(v[i]);
        T_CHECK(enc_hll_count(v[i]) == 3 + i % 5);
        enc_buf b;
        blob_of(v[i], &b);
        blob_bytes += b.len;
        enc_buf_free(&b);
    }
    printf("  hll: 100k sketches of 3..7 listeners: %zu bytes held (%.1f per sketch)", held,
           (double)held / count);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
    size_t heap1 = mallinfo2().uordblks;
    if (heap1 > heap0)
        printf(", malloc in use +%zu (%.1f per sketch)", heap1 - heap0, (double)(heap1 - heap0) / count);
#endif
    printf(", blobs %.1f bytes avg, %.1f M sparse adds/s incl. new()\n", (double)blob_bytes / count,
           adds / t / 1e6);
    T_CHECK(held <= count * 48);
    T_CHECK(blob_bytes <= count * 32);
    for (size_t i = 0; i < count; i++)
        enc_hll_free(v[i]);
    free(v);

    /* Sparse never holds more than dense would. */
    enc_hll *h = enc_hll_new();
    size_t prev = enc_hll_memory(h), dense_mem = 0;
    for (uint64_t i = 0; i < 20000; i++) {
        enc_hll_add(h, user(0, i));
        size_t m = enc_hll_memory(h);
        T_CHECK(m >= prev);
        prev = m;
        if (blob_kind(h) == 2 && !dense_mem)
            dense_mem = m;
    }
    T_CHECK(dense_mem > 0 && prev == dense_mem);
    T_CHECK(dense_mem <= 16384 + 64);
    enc_hll_free(h);
}

/* Fails the Nth allocation inside each operation, for every N until it succeeds: a
 * failing call returns ENC_ERROR and leaves its sketch exactly as it was. */
typedef enc_status (*op_fn)(enc_hll *h, const enc_hll *arg);

static enc_status op_add_new(enc_hll *h, const enc_hll *arg)
{
    return enc_hll_add(h, user(9, 1));
}

static enc_status op_merge(enc_hll *h, const enc_hll *arg)
{
    return enc_hll_merge(h, arg);
}

static void torture(const enc_hll *start, op_fn op, const enc_hll *arg)
{
    enc_hll *want = copy_of(start);
    T_CHECK(op(want, arg) == ENC_OK);
    int failures = 0;
    for (long k = 0;; k++) {
        enc_hll *h = copy_of(start);
        enc_alloc_fail_after(k);
        enc_status st = op(h, arg);
        enc_alloc_fail_after(-1);
        T_CHECK(same_sketch(h, st == ENC_OK ? want : start));
        enc_hll_free(h);
        if (st == ENC_OK)
            break;
        failures++;
        T_CHECK(k < 10);
        if (k >= 10)
            break;
    }
    enc_hll_free(want);
}

static void test_out_of_memory(void)
{
    uint64_t next = 0;
    enc_hll *inl = enc_hll_new(); /* 8 entries: the next add leaves the inline array */
    fill_entries(inl, &next, 8);
    enc_hll *full = enc_hll_new(); /* the next distinct add goes dense */
    next = 0;
    fill_entries(full, &next, ENC_HLL_SPARSE_MAX);
    enc_hll *mid = build(100000, 102000), *dense = build(200000, 300000), *tiny = build(500000, 500005);

    torture(inl, op_add_new, NULL);
    torture(full, op_add_new, NULL);
    torture(inl, op_merge, mid);   /* inline -> heap */
    torture(mid, op_merge, tiny);  /* fits in place */
    torture(mid, op_merge, full);  /* -> dense */
    torture(mid, op_merge, dense); /* sparse + dense */
    torture(dense, op_merge, mid);

    /* Serialize leaves the buffer untouched on failure; deserialize leaks nothing. */
    enc_buf b;
    enc_buf_init(&b, 100);
    T_CHECK(enc_buf_append(&b, "xyz", 3) == ENC_OK);
    T_CHECK(enc_hll_serialize(dense, &b) == ENC_ERROR); /* over the cap */
    T_CHECK_MEM(b.data, b.len, "xyz");
    enc_buf_free(&b);
    enc_buf blob;
    blob_of(mid, &blob);
    for (long k = 0; k < 5; k++) {
        enc_buf_init(&b, ENC_HLL_BLOB_MAX);
        enc_alloc_fail_after(k);
        enc_status st = enc_hll_serialize(full, &b);
        enc_alloc_fail_after(-1);
        T_CHECK(st == ENC_OK || b.len == 0);
        enc_buf_free(&b);

        enc_hll *g = NULL;
        enc_err err;
        enc_alloc_fail_after(k);
        st = enc_hll_deserialize(blob.data, blob.len, &g, &err);
        enc_alloc_fail_after(-1);
        T_CHECK(st == ENC_OK ? g != NULL : g == NULL);
        enc_hll_free(g);
    }
    enc_buf_free(&blob);
    enc_hll_free(inl);
    enc_hll_free(full);
    enc_hll_free(mid);
    enc_hll_free(dense);
    enc_hll_free(tiny);
}

/* ---- corpus writer ------------------------------------------------------------------- */

static int write_file(const char *dir, const char *name, const void *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        return 1;
    }
    return 0;
}

static int write_corpus(const char *dir)
{
    static const struct {
        const char *name;
        uint64_t n;
    } ok[] = {{"ok_empty", 0},        {"ok_one", 1},         {"ok_ten", 10},
              {"ok_300", 300},        {"ok_4000", 4000},     {"ok_dense_5000", 5000},
              {"ok_dense_1m", 1000000}};
    int rc = 0;
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        enc_hll *h = build(0, ok[i].n);
        enc_buf b;
        blob_of(h, &b);
        rc |= write_file(dir, ok[i].name, b.data, b.len);
        enc_buf_free(&b);
        enc_hll_free(h);
    }
    const char *name;
    enc_buf b;
    for (int i = 0; bad_blob(i, &b, &name); i++) {
        char fname[128];
        snprintf(fname, sizeof fname, "bad_%s", name);
        rc |= write_file(dir, fname, b.data ? b.data : "", b.len);
        enc_buf_free(&b);
    }
    return rc;
}

/* enc_hll_serialize_one(h) is the blob of a new sketch after one add of h, for hashes
 * with and without a stored sparse rho (middle bits zero). */
static void test_serialize_one(void)
{
    uint64_t hashes[] = {0, 1, ~0ull, 0x123456789abcdef0ull, 0xffffff8000000000ull, 0x0000007fffffffffull,
                         (uint64_t)2048 << 39, (uint64_t)4096 << 39 | 5};
    for (size_t i = 0; i < sizeof hashes / sizeof *hashes; i++) {
        enc_hll *h = enc_hll_new();
        T_CHECK(h && enc_hll_add(h, hashes[i]) == ENC_OK);
        enc_buf a, b;
        enc_buf_init(&a, 1 << 16);
        enc_buf_init(&b, 1 << 16);
        T_CHECK(enc_hll_serialize(h, &a) == ENC_OK);
        T_CHECK(enc_hll_serialize_one(hashes[i], &b) == ENC_OK);
        T_CHECK(a.len == b.len && a.len > 0 && memcmp(a.data, b.data, a.len) == 0);
        enc_buf_free(&a);
        enc_buf_free(&b);
        enc_hll_free(h);
    }
}

/* The blob of the sketch made by adding hashes h[0..n) one by one. */
static void blob_by_adds(const uint64_t *h, size_t n, enc_buf *out)
{
    enc_hll *s = enc_hll_new();
    T_CHECK(s != NULL);
    for (size_t i = 0; i < n; i++)
        T_CHECK(enc_hll_add(s, h[i]) == ENC_OK);
    blob_of(s, out);
    enc_hll_free(s);
}

/* enc_hll_serialize_entries gives the blob the adds give, for sets small and large, with
 * repeats, in any order; past ENC_HLL_SPARSE_MAX entries both when the distinct indexes
 * make it dense and when repeats keep them at the sparse limit or below. */
static void test_serialize_entries(void)
{
    static const size_t sizes[] = {0, 1, 2, 7, 8, 9, 63, 64, 65, 300, 4095, 4096, 4097, 5000, 20000};
    static const size_t distinct[] = {1, 3, 4096, 0}; /* 0: all distinct */
    uint64_t *h = malloc(20000 * sizeof *h);
    uint32_t *e = malloc(20000 * sizeof *e), *tmp = malloc(20000 * sizeof *tmp);
    T_CHECK(h && e && tmp);
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++)
        for (size_t di = 0; di < sizeof distinct / sizeof *distinct; di++) {
            size_t n = sizes[si], d = distinct[di];
            for (size_t i = 0; i < n; i++) {
                h[i] = user(7 + di, d ? (i * 2654435761u) % d : i);
                if (i % 97 == 5) /* middle index bits zero: a stored rank */
                    h[i] &= ~((uint64_t)0x7ff << 39);
                e[i] = enc_hll_entry(h[i]);
            }
            enc_buf want, got;
            blob_by_adds(h, n, &want);
            enc_buf_init(&got, ENC_HLL_BLOB_MAX);
            T_CHECK(enc_hll_serialize_entries(e, n, tmp, &got) == ENC_OK);
            T_CHECK(got.len == want.len && memcmp(got.data, want.data, got.len) == 0);
            enc_buf_free(&want);
            enc_buf_free(&got);
        }
    free(h);
    free(e);
    free(tmp);
}

/* enc_hll_union_blobs equals deserialize + merge + serialize for unions of sparse and
 * dense blobs (sparse ones whose union goes dense too), and refuses a bad blob. */
static void test_union_blobs(void)
{
    static const uint64_t sizes[][3] = {{1, 1, 1}, {5, 0, 5}, {3000, 3000, 10}, {20000, 5, 0}, {9, 20000, 30000}, {0, 0, 0}};
    for (size_t t = 0; t < sizeof sizes / sizeof *sizes; t++) {
        enc_buf b[3];
        enc_slice sl[3];
        enc_hll *acc = enc_hll_new();
        uint64_t from = 0;
        for (int i = 0; i < 3; i++) {
            enc_hll *h = build(from, from + sizes[t][i]);
            from += sizes[t][i] / 2; /* overlapping sets */
            blob_of(h, &b[i]);
            sl[i] = (enc_slice){b[i].data, b[i].len};
            T_CHECK(enc_hll_merge(acc, h) == ENC_OK);
            enc_hll_free(h);
        }
        enc_buf want, got;
        blob_of(acc, &want);
        enc_buf_init(&got, ENC_HLL_BLOB_MAX);
        enc_err err = {{0}};
        T_CHECK(enc_hll_union_blobs(sl, 3, &got, &err) == ENC_OK);
        T_CHECK(got.len == want.len && memcmp(got.data, want.data, got.len) == 0);
        enc_buf_reset(&got);
        T_CHECK(enc_hll_union_blobs(sl, 1, &got, &err) == ENC_OK); /* one blob: itself */
        T_CHECK(got.len == sl[0].n && memcmp(got.data, sl[0].p, got.len) == 0);
        enc_buf_reset(&got);
        sl[1].n--; /* truncated */
        T_CHECK(enc_hll_union_blobs(sl, 3, &got, &err) == ENC_ERROR);
        T_CHECK(strstr(err.msg, "hll blob") != NULL && got.len == 0);
        enc_buf_free(&want);
        enc_buf_free(&got);
        for (int i = 0; i < 3; i++)
            enc_buf_free(&b[i]);
        enc_hll_free(acc);
    }
}

/* Once a dense blob of A is written, the entries of B that raise no register of A's
 * (enc_hll_entries_filter) add nothing: the union of A's blob with the blob of the entries
 * kept is the union with all of B's, byte for byte, for B small, large, overlapping A or
 * not; and the registers end as A's raised by all of B. */
static void test_entries_filter(void)
{
    static const size_t sizes[] = {0, 1, 10, 3000, 5000, 60000};
    enum { NA = 20000, NMAX = 60000 };
    uint32_t *a = malloc(NA * sizeof *a), *b = malloc(NMAX * sizeof *b), *kept = malloc(NMAX * sizeof *kept);
    uint32_t *tmp = malloc(NMAX * sizeof *tmp);
    uint8_t *regs = calloc(ENC_HLL_REGS, 1), *want_regs = calloc(ENC_HLL_REGS, 1);
    T_CHECK(a && b && kept && tmp && regs && want_regs);
    for (size_t i = 0; i < NA; i++)
        a[i] = enc_hll_entry(user(40, i));
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        size_t n = sizes[si];
        memset(regs, 0, ENC_HLL_REGS);
        enc_hll_entries_raise(regs, a, NA);
        memcpy(want_regs, regs, ENC_HLL_REGS);
        for (size_t i = 0; i < n; i++) { /* half of B is in A */
            b[i] = enc_hll_entry(user(40, i % 2 ? i : NA / 2 + i));
            kept[i] = b[i];
        }
        enc_hll_entries_raise(want_regs, b, n);
        size_t k = enc_hll_entries_filter(regs, kept, n);
        T_CHECK(k <= n && (n < 3000 || k < n / 2));
        T_CHECK(memcmp(regs, want_regs, ENC_HLL_REGS) == 0);
        enc_buf ba, bb, bk, want, got;
        enc_buf_init(&ba, ENC_HLL_BLOB_MAX);
        enc_buf_init(&bb, ENC_HLL_BLOB_MAX);
        enc_buf_init(&bk, ENC_HLL_BLOB_MAX);
        enc_buf_init(&want, ENC_HLL_BLOB_MAX);
        enc_buf_init(&got, ENC_HLL_BLOB_MAX);
        memcpy(tmp, a, NA * sizeof *a);
        T_CHECK(enc_hll_serialize_entries(tmp, NA, tmp + NA, &ba) == ENC_OK);
        T_CHECK(enc_hll_blob_is_dense(ba.data, ba.len));
        T_CHECK(enc_hll_serialize_entries(b, n, tmp, &bb) == ENC_OK);
        T_CHECK(enc_hll_serialize_entries(kept, k, tmp, &bk) == ENC_OK);
        T_CHECK(n != 5000 || bk.len < bb.len); /* B's blob dense, the kept entries' sparse */
        enc_err err = {{0}};
        enc_slice all[2] = {{ba.data, ba.len}, {bb.data, bb.len}}, some[2] = {{ba.data, ba.len}, {bk.data, bk.len}};
        T_CHECK(enc_hll_union_blobs(all, 2, &want, &err) == ENC_OK);
        T_CHECK(enc_hll_union_blobs(some, 2, &got, &err) == ENC_OK);
        T_CHECK(got.len == want.len && memcmp(got.data, want.data, got.len) == 0);
        enc_buf_free(&ba);
        enc_buf_free(&bb);
        enc_buf_free(&bk);
        enc_buf_free(&want);
        enc_buf_free(&got);
    }
    free(a);
    free(b);
    free(kept);
    free(tmp);
    free(regs);
    free(want_regs);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
        return write_corpus(argv[2]);
    T_RUN(test_empty);
    T_RUN(test_serialize_one);
    T_RUN(test_serialize_entries);
    T_RUN(test_union_blobs);
    T_RUN(test_entries_filter);
    T_RUN(test_small_exact);
    T_RUN(test_duplicates_ignored);
    T_RUN(test_million);
    T_RUN(test_ten_million);
    T_RUN(test_error_sweep);
    T_RUN(test_merge_halves);
    T_RUN(test_merge_order);
    T_RUN(test_add_order_and_reads);
    T_RUN(test_roundtrip);
    T_RUN(test_blob_sizes);
    T_RUN(test_bad_blobs);
    T_RUN(test_truncated);
    T_RUN(test_bit_flips);
    T_RUN(test_corpus);
    T_RUN(test_memory_small);
    T_RUN(test_out_of_memory);
    return t_summary("hll");
}

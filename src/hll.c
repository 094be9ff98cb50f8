/* hll — sparse/dense HyperLogLog: adds, unions, estimates and the canonical blob.
 *
 * A hash h splits into idx25 = h >> 39 (sparse index) and the 39 bits below it. The dense
 * register is idx25 >> 11; its rho comes from the 11 "middle" bits of idx25 when they
 * are not all zero, else from 11 + the rho of the low 39 bits. So a sparse entry needs a
 * stored rho only when the middle bits are zero (1 in 2048 entries), and converting
 * sparse to dense gives exactly the registers direct dense adds would have given. That,
 * plus "sparse iff at most ENC_HLL_SPARSE_MAX distinct idx25", makes a sketch a pure
 * function of its set of hashes. Dense registers are bytes in memory (16 KiB, branch-free
 * adds) and 6 bits each in the blob (12 KiB); 4096 sparse entries of 4 bytes are also
 * 16 KiB, hence ENC_HLL_SPARSE_MAX.
 */
#include "hll.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

#define SP_P 25                     /* sparse precision */
#define MID_BITS (SP_P - ENC_HLL_P) /* 11 */
#define MID_MASK ((1u << MID_BITS) - 1)
#define REGS (1u << ENC_HLL_P)       /* 16384 */
#define Q (64 - ENC_HLL_P)           /* 50 hash bits below the dense index */
#define RHO_MAX (Q + 1)              /* 51: largest dense register value */
#define SP_RHO_MAX (64 - SP_P + 1)   /* 40: largest stored sparse rho */
#define RHO_BITS 6                   /* an in-memory sparse entry is idx25 << 6 | rho */
#define INLINE_N 8                   /* sparse entries kept inside the struct */
#define DENSE_BYTES (REGS * 6 / 8)   /* 12288: packed 6-bit registers */
#define VARINT_MAX 5

enum { BLOB_VERSION = 1, KIND_SPARSE = 1, KIND_DENSE = 2 };

struct enc_hll {
    uint16_t n;      /* sparse: entries in use */
    uint16_t sorted; /* sparse: entries [0, sorted) are sorted by idx25 with unique idx25;
                      * adds append after them, in any order, repeats allowed, and
                      * normalize() merges them in before anything reads the list */
    uint16_t cap;    /* sparse: capacity in entries, INLINE_N while inline */
    uint8_t dense;  /* 1: u.regs holds REGS 8-bit registers */
    union {
        uint32_t inl[INLINE_N];
        uint32_t *heap; /* cap > INLINE_N */
        uint8_t *regs;  /* dense */
    } u;
};

/* ---- hashing into entries and registers ---------------------------------------- */

static uint32_t entry_of_hash(uint64_t h)
{
    uint32_t idx = (uint32_t)(h >> (64 - SP_P));
    uint32_t rho = 0; /* canonical 0 when the middle bits already determine the register */
    if ((idx & MID_MASK) == 0) {
        uint64_t w = h << SP_P;
        rho = w ? (uint32_t)__builtin_clzll(w) + 1 : SP_RHO_MAX;
    }
    return idx << RHO_BITS | rho;
}

/* The dense register of entry e, and its value there (*rho). */
static uint32_t entry_register(uint32_t e, uint8_t *rho)
{
    uint32_t idx = e >> RHO_BITS;
    uint32_t mid = idx & MID_MASK;
    *rho = mid ? (uint8_t)(__builtin_clz(mid) - (32 - MID_BITS) + 1)
               : (uint8_t)(MID_BITS + (e & ((1u << RHO_BITS) - 1)));
    return idx >> MID_BITS;
}

static void dense_add_entry(uint8_t *regs, uint32_t e)
{
    uint8_t rho;
    uint32_t r = entry_register(e, &rho);
    if (regs[r] < rho)
        regs[r] = rho;
}

void enc_hll_entries_raise(uint8_t *regs, const uint32_t *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dense_add_entry(regs, e[i]);
}

size_t enc_hll_entries_filter(uint8_t *regs, uint32_t *e, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t rho;
        uint32_t r = entry_register(e[i], &rho);
        if (regs[r] < rho) {
            regs[r] = rho;
            e[k++] = e[i];
        }
    }
    return k;
}

static void dense_add_hash(uint8_t *regs, uint64_t h)
{
    uint32_t r = (uint32_t)(h >> Q);
    uint64_t w = h << ENC_HLL_P;
    uint8_t rho = w ? (uint8_t)(__builtin_clzll(w) + 1) : RHO_MAX;
    if (regs[r] < rho)
        regs[r] = rho;
}

static uint32_t *entries(enc_hll *h)
{
    return h->cap > INLINE_N ? h->u.heap : h->u.inl;
}

static const uint32_t *entries_c(const enc_hll *h)
{
    return h->cap > INLINE_N ? h->u.heap : h->u.inl;
}

/* Replaces a sparse sketch's entries by dense registers holding them and `extra`
 * (the entries e[0..n) followed by extra, when not NULL). h unchanged on failure. */
static enc_status to_dense(enc_hll *h, const uint32_t *e, size_t n, const uint32_t *extra)
{
    uint8_t *regs = enc_calloc(REGS, 1);
    if (!regs)
        return ENC_ERROR;
    for (size_t i = 0; i < n; i++)
        dense_add_entry(regs, e[i]);
    if (extra)
        dense_add_entry(regs, *extra);
    if (h->cap > INLINE_N)
        enc_free(h->u.heap);
    h->u.regs = regs;
    h->dense = 1;
    h->n = 0;
    h->sorted = 0;
    h->cap = 0;
    return ENC_OK;
}

/* ---- lifecycle ------------------------------------------------------------------ */

enc_hll *enc_hll_new(void)
{
    enc_hll *h = enc_calloc(1, sizeof *h);
    if (h)
        h->cap = INLINE_N;
    return h;
}

void enc_hll_free(enc_hll *h)
{
    if (!h)
        return;
    if (h->dense)
        enc_free(h->u.regs);
    else if (h->cap > INLINE_N)
        enc_free(h->u.heap);
    enc_free(h);
}

size_t enc_hll_memory(const enc_hll *h)
{
    size_t s = sizeof *h;
    if (h->dense)
        s += REGS;
    else if (h->cap > INLINE_N)
        s += (size_t)h->cap * sizeof(uint32_t);
    return s;
}

/* ---- add ------------------------------------------------------------------------- */

static enc_status grow(enc_hll *h)
{
    size_t cap = h->cap == INLINE_N ? 2 * INLINE_N : h->cap + h->cap / 2;
    if (cap > ENC_HLL_SPARSE_MAX)
        cap = ENC_HLL_SPARSE_MAX;
    uint32_t *a;
    if (h->cap == INLINE_N) {
        a = enc_malloc(cap * sizeof *a);
        if (!a)
            return ENC_ERROR;
        memcpy(a, h->u.inl, h->n * sizeof *a);
    } else {
        a = enc_realloc(h->u.heap, cap * sizeof *a);
        if (!a)
            return ENC_ERROR;
    }
    h->u.heap = a;
    h->cap = (uint16_t)cap;
    return ENC_OK;
}

static int cmp_entry(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return (a > b) - (a < b);
}

static size_t merge_sorted(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, uint32_t *out);

/* Merges the appended entries into the sorted list: sorts them (by entry, so an index's
 * largest rho comes last), keeps one per index, and merges the two lists. The set the
 * sketch holds is unchanged, so a reader of a const sketch may call it. */
static void normalize(const enc_hll *hc)
{
    enc_hll *h = (enc_hll *)hc; /* only the order of the entries changes */
    if (h->dense || h->sorted == h->n)
        return;
    uint32_t *a = entries(h), tmp[ENC_HLL_SPARSE_MAX];
    size_t s = h->sorted, t = s;
    qsort(a + s, h->n - s, sizeof *a, cmp_entry);
    for (size_t i = s; i < h->n; i++) {
        if (t > s && a[t - 1] >> RHO_BITS == a[i] >> RHO_BITS)
            a[t - 1] = a[i];
        else
            a[t++] = a[i];
    }
    size_t k = merge_sorted(a, s, a + s, t - s, tmp);
    memcpy(a, tmp, k * sizeof *a);
    h->n = h->sorted = (uint16_t)k;
}

/* A full sketch of ENC_HLL_SPARSE_MAX distinct indexes: e raises an entry's rho, or is a
 * new index and turns the sketch dense. */
static enc_status add_to_full(enc_hll *h, uint32_t e)
{
    uint32_t key = e >> RHO_BITS, *a = entries(h);
    size_t lo = 0, hi = h->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] >> RHO_BITS < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < h->n && a[lo] >> RHO_BITS == key) {
        if (e > a[lo])
            a[lo] = e;
        return ENC_OK;
    }
    return to_dense(h, a, h->n, &e);
}

/* Appends in O(1); when the list is full, normalize() first, so a sketch of k entries
 * costs O(k log k) in all instead of a sorted insert's O(k^2) moves. */
enc_status enc_hll_add(enc_hll *h, uint64_t hash)
{
    if (h->dense) {
        dense_add_hash(h->u.regs, hash);
        return ENC_OK;
    }
    uint32_t e = entry_of_hash(hash);
    if (h->n == h->cap) {
        normalize(h);
        if (h->n == h->cap && h->cap < ENC_HLL_SPARSE_MAX && grow(h) != ENC_OK)
            return ENC_ERROR;
        if (h->n == h->cap)
            return add_to_full(h, e);
    }
    entries(h)[h->n++] = e;
    return ENC_OK;
}

/* ---- merge ----------------------------------------------------------------------- */

/* Union of two sorted sparse lists into out (room for na + nb); returns the length. */
static size_t merge_sorted(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, uint32_t *out)
{
    size_t i = 0, j = 0, k = 0;
    while (i < na && j < nb) {
        uint32_t ka = a[i] >> RHO_BITS, kb = b[j] >> RHO_BITS;
        if (ka < kb) {
            out[k++] = a[i++];
        } else if (kb < ka) {
            out[k++] = b[j++];
        } else {
            out[k++] = a[i] > b[j] ? a[i] : b[j];
            i++;
            j++;
        }
    }
    while (i < na)
        out[k++] = a[i++];
    while (j < nb)
        out[k++] = b[j++];
    return k;
}

static enc_status merge_sparse(enc_hll *dst, const enc_hll *src)
{
    size_t total = (size_t)dst->n + src->n;
    uint32_t *tmp = enc_malloc(total * sizeof *tmp);
    if (!tmp)
        return ENC_ERROR;
    enc_status st = ENC_OK;
    size_t k = merge_sorted(entries(dst), dst->n, entries_c(src), src->n, tmp);
    if (k > ENC_HLL_SPARSE_MAX) {
        st = to_dense(dst, tmp, k, NULL);
    } else if (k <= dst->cap) {
        memcpy(entries(dst), tmp, k * sizeof *tmp);
        dst->n = dst->sorted = (uint16_t)k;
    } else {
        size_t cap = total;
        uint32_t *fit = enc_realloc(tmp, k * sizeof *tmp);
        if (fit) { /* a failed shrink just keeps the larger block */
            tmp = fit;
            cap = k;
        }
        if (dst->cap > INLINE_N)
            enc_free(dst->u.heap);
        dst->u.heap = tmp; /* k > dst->cap >= INLINE_N, so cap > INLINE_N */
        dst->cap = (uint16_t)cap;
        dst->n = dst->sorted = (uint16_t)k;
        tmp = NULL;
    }
    enc_free(tmp);
    return st;
}

enc_status enc_hll_merge(enc_hll *dst, const enc_hll *src)
{
    if (dst == src)
        return ENC_OK;
    normalize(dst);
    normalize(src);
    if (src->dense) {
        if (!dst->dense && to_dense(dst, entries(dst), dst->n, NULL) != ENC_OK)
            return ENC_ERROR;
        for (size_t i = 0; i < REGS; i++)
            if (dst->u.regs[i] < src->u.regs[i])
                dst->u.regs[i] = src->u.regs[i];
        return ENC_OK;
    }
    if (dst->dense) {
        const uint32_t *b = entries_c(src);
        for (size_t i = 0; i < src->n; i++)
            dense_add_entry(dst->u.regs, b[i]);
        return ENC_OK;
    }
    if (src->n == 0)
        return ENC_OK;
    return merge_sparse(dst, src);
}

/* ---- estimate -------------------------------------------------------------------- */

/* Ertl, "New cardinality estimation algorithms for HyperLogLog sketches" (2017), the
 * improved raw estimator: unbiased from 0 to far beyond 2^50 without empirical tables. */
static double ertl_sigma(double x)
{
    if (x == 1.0)
        return INFINITY;
    double y = 1.0, z = x, prev;
    do {
        x *= x;
        prev = z;
        z += x * y;
        y += y;
    } while (z != prev);
    return z;
}

static double ertl_tau(double x)
{
    if (x == 0.0 || x == 1.0)
        return 0.0;
    double y = 1.0, z = 1.0 - x, prev;
    do {
        x = sqrt(x);
        prev = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
    } while (z != prev);
    return z / 3.0;
}

uint64_t enc_hll_count(const enc_hll *h)
{
    normalize(h);
    if (!h->dense) {
        /* Linear counting over the 2^25 sparse indexes: corrects the rare collisions. */
        double m = (double)(1u << SP_P);
        return (uint64_t)llround(-m * log1p(-(double)h->n / m));
    }
    uint32_t hist[RHO_MAX + 1] = {0};
    for (size_t i = 0; i < REGS; i++)
        hist[h->u.regs[i]]++;
    double m = REGS;
    double z = m * ertl_tau((m - hist[Q + 1]) / m);
    for (int k = Q; k >= 1; k--)
        z = 0.5 * (z + hist[k]);
    z += m * ertl_sigma(hist[0] / m);
    return (uint64_t)llround(m * m / (2.0 * log(2.0)) / z);
}

/* ---- blob ------------------------------------------------------------------------ */

static size_t put_varint(uint8_t *p, uint32_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Encoder output in small stack chunks, so a failure can roll `out` back. */
typedef struct {
    enc_buf *out;
    size_t k;
    enc_status st;
    uint8_t chunk[512];
} writer;

static void w_flush(writer *w)
{
    if (w->st == ENC_OK && enc_buf_append(w->out, w->chunk, w->k) != ENC_OK)
        w->st = ENC_ERROR;
    w->k = 0;
}

/* Room for `n` more bytes (n <= 16) in the chunk. */
static uint8_t *w_room(writer *w, size_t n)
{
    if (w->k + n > sizeof w->chunk)
        w_flush(w);
    return w->chunk + w->k;
}

enc_status enc_hll_serialize(const enc_hll *h, enc_buf *out)
{
    normalize(h);
    size_t start = out->len;
    writer w = {.out = out, .k = 0, .st = ENC_OK};
    uint8_t *p = w_room(&w, 2 + VARINT_MAX);
    p[0] = BLOB_VERSION;
    p[1] = h->dense ? KIND_DENSE : KIND_SPARSE;
    w.k += 2;
    if (!h->dense) {
        const uint32_t *a = entries_c(h);
        w.k += put_varint(w.chunk + w.k, h->n);
        uint32_t prev = 0;
        for (size_t i = 0; i < h->n; i++) {
            uint32_t idx = a[i] >> RHO_BITS;
            p = w_room(&w, VARINT_MAX + 1);
            w.k += put_varint(p, idx - prev);
            if ((idx & MID_MASK) == 0)
                w.chunk[w.k++] = (uint8_t)(a[i] & ((1u << RHO_BITS) - 1));
            prev = idx;
        }
    } else {
        const uint8_t *r = h->u.regs;
        for (size_t i = 0; i < REGS; i += 4) {
            uint32_t v = r[i] | (uint32_t)r[i + 1] << 6 | (uint32_t)r[i + 2] << 12 | (uint32_t)r[i + 3] << 18;
            p = w_room(&w, 3);
            p[0] = (uint8_t)v;
            p[1] = (uint8_t)(v >> 8);
            p[2] = (uint8_t)(v >> 16);
            w.k += 3;
        }
    }
    w_flush(&w);
    if (w.st != ENC_OK) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    return w.st;
}

enc_status enc_hll_serialize_one(uint64_t hash, enc_buf *out)
{
    enc_hll h = {.cap = INLINE_N}; /* inline entries: no allocation */
    if (enc_hll_add(&h, hash) != ENC_OK)
        return ENC_ERROR;
    return enc_hll_serialize(&h, out);
}

/* Reads a minimal LEB128 varint of at most VARINT_MAX bytes at b[*pos]. */
static enc_status get_varint(const uint8_t *b, size_t n, size_t *pos, uint64_t *v, const char *what,
                             enc_err *err)
{
    size_t at = *pos;
    uint64_t x = 0;
    for (int i = 0; i < VARINT_MAX; i++) {
        if (*pos >= n)
            return enc_err_set(err, "hll blob: byte %zu: %s is truncated", at, what);
        uint8_t c = b[(*pos)++];
        x |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            if (c == 0 && i > 0)
                return enc_err_set(err, "hll blob: byte %zu: %s is not minimally encoded", at, what);
            *v = x;
            return ENC_OK;
        }
    }
    return enc_err_set(err, "hll blob: byte %zu: %s is longer than %d bytes", at, what, VARINT_MAX);
}

/* Reads the sparse entry count at b[*pos]. */
static enc_status decode_sparse_count(const uint8_t *b, size_t n, size_t *pos, size_t *count, enc_err *err)
{
    uint64_t c = 0;
    size_t at = *pos;
    if (get_varint(b, n, pos, &c, "entry count", err) != ENC_OK)
        return ENC_ERROR;
    if (c > ENC_HLL_SPARSE_MAX)
        return enc_err_set(err, "hll blob: byte %zu: %llu sparse entries, more than the %d allowed", at,
                           (unsigned long long)c, ENC_HLL_SPARSE_MAX);
    if (c > n - *pos) /* every entry takes at least one byte */
        return enc_err_set(err, "hll blob: byte %zu: %llu entries announced but only %zu bytes follow", at,
                           (unsigned long long)c, n - *pos);
    *count = (size_t)c;
    return ENC_OK;
}

/* Decodes the count entries from b[pos] into a[0..count), which must end the blob. */
static enc_status decode_sparse_entries(const uint8_t *b, size_t n, size_t pos, size_t count, uint32_t *a,
                                        enc_err *err)
{
    uint64_t idx = 0;
    for (size_t i = 0; i < count; i++) {
        uint64_t d = 0;
        size_t at = pos;
        if (get_varint(b, n, &pos, &d, "entry index", err) != ENC_OK)
            return ENC_ERROR;
        if (i > 0 && d == 0)
            return enc_err_set(err, "hll blob: byte %zu: entry %zu repeats the previous index", at, i);
        idx += d; /* d < 2^35, idx < 2^25 before: no overflow */
        if (idx >= (1u << SP_P))
            return enc_err_set(err, "hll blob: byte %zu: entry %zu has index %llu, beyond 2^%d", at, i,
                               (unsigned long long)idx, SP_P);
        uint32_t rho = 0;
        if ((idx & MID_MASK) == 0) {
            if (pos >= n)
                return enc_err_set(err, "hll blob: byte %zu: entry %zu is missing its rho byte", pos, i);
            rho = b[pos++];
            if (rho < 1 || rho > SP_RHO_MAX)
                return enc_err_set(err, "hll blob: byte %zu: entry %zu has rho %u, outside 1..%d", pos - 1, i,
                                   rho, SP_RHO_MAX);
        }
        a[i] = (uint32_t)idx << RHO_BITS | rho;
    }
    if (pos != n)
        return enc_err_set(err, "hll blob: byte %zu: %zu trailing bytes after the last entry", pos, n - pos);
    return ENC_OK;
}

static enc_status decode_sparse(const uint8_t *b, size_t n, size_t pos, enc_hll *h, enc_err *err)
{
    size_t count = 0;
    if (decode_sparse_count(b, n, &pos, &count, err) != ENC_OK)
        return ENC_ERROR;
    if (count > INLINE_N) {
        h->u.heap = enc_malloc(count * sizeof(uint32_t));
        if (!h->u.heap)
            return enc_err_set(err, "hll blob: out of memory for %zu entries", count);
        h->cap = (uint16_t)count;
    }
    if (decode_sparse_entries(b, n, pos, count, entries(h), err) != ENC_OK)
        return ENC_ERROR;
    h->n = h->sorted = (uint16_t)count;
    return ENC_OK;
}

/* The DENSE_BYTES payload at b[pos], which must end the blob, into REGS registers. */
static enc_status decode_dense_regs(const uint8_t *b, size_t n, size_t pos, uint8_t *r, enc_err *err)
{
    if (n - pos != DENSE_BYTES)
        return enc_err_set(err, "hll blob: dense payload is %zu bytes, want %d", n - pos, DENSE_BYTES);
    for (size_t i = 0; i < REGS; i += 4, pos += 3) {
        uint32_t v = b[pos] | (uint32_t)b[pos + 1] << 8 | (uint32_t)b[pos + 2] << 16;
        for (size_t j = 0; j < 4; j++) {
            uint8_t x = (uint8_t)(v >> (6 * j) & 63);
            if (x > RHO_MAX)
                return enc_err_set(err, "hll blob: byte %zu: register %zu is %u, above %d", pos, i + j, x,
                                   RHO_MAX);
            r[i + j] = x;
        }
    }
    return ENC_OK;
}

static enc_status decode_dense(const uint8_t *b, size_t n, size_t pos, enc_hll *h, enc_err *err)
{
    if (n - pos != DENSE_BYTES)
        return enc_err_set(err, "hll blob: dense payload is %zu bytes, want %d", n - pos, DENSE_BYTES);
    uint8_t *r = enc_malloc(REGS);
    if (!r)
        return enc_err_set(err, "hll blob: out of memory for dense registers");
    h->u.regs = r;
    h->dense = 1;
    h->cap = 0;
    return decode_dense_regs(b, n, pos, r, err);
}

/* The two header bytes; *kind is KIND_SPARSE or KIND_DENSE. */
static enc_status decode_header(const uint8_t *b, size_t n, int *kind, enc_err *err)
{
    if (n < 2)
        return enc_err_set(err, "hll blob: %zu bytes, shorter than the 2-byte header", n);
    if (b[0] != BLOB_VERSION)
        return enc_err_set(err, "hll blob: byte 0: version %u, this build reads version %d", b[0],
                           BLOB_VERSION);
    if (b[1] != KIND_SPARSE && b[1] != KIND_DENSE)
        return enc_err_set(err, "hll blob: byte 1: unknown kind %u (1 sparse, 2 dense)", b[1]);
    *kind = b[1];
    return ENC_OK;
}

enc_status enc_hll_deserialize(const void *p, size_t n, enc_hll **out, enc_err *err)
{
    const uint8_t *b = p;
    enc_status st;
    int kind = 0;
    *out = NULL;
    if (decode_header(b, n, &kind, err) != ENC_OK)
        return ENC_ERROR;
    enc_hll *h = enc_hll_new();
    if (!h)
        return enc_err_set(err, "hll blob: out of memory");
    if (kind == KIND_SPARSE)
        st = decode_sparse(b, n, 2, h, err);
    else
        st = decode_dense(b, n, 2, h, err);
    if (st != ENC_OK) {
        enc_hll_free(h);
        return ENC_ERROR;
    }
    *out = h;
    return ENC_OK;
}

/* ---- blobs from entries, unions of blobs ------------------------------------------ */

uint32_t enc_hll_entry(uint64_t hash)
{
    return entry_of_hash(hash);
}

/* Sorts e[0..n) ascending: insertion sort when short, else LSD radix on bytes (tmp: n). */
static void sort_entries(uint32_t *e, size_t n, uint32_t *tmp)
{
    if (n <= 64) {
        for (size_t i = 1; i < n; i++) {
            uint32_t x = e[i];
            size_t j = i;
            for (; j > 0 && e[j - 1] > x; j--)
                e[j] = e[j - 1];
            e[j] = x;
        }
        return;
    }
    size_t count[4][256];
    memset(count, 0, sizeof count);
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < 4; d++)
            count[d][e[i] >> (8 * d) & 0xff]++;
    uint32_t *src = e, *dst = tmp;
    for (int d = 0; d < 4; d++) {
        size_t *c = count[d];
        if (c[e[0] >> (8 * d) & 0xff] == n)
            continue; /* every entry has the same byte here */
        size_t at = 0;
        for (int v = 0; v < 256; v++) {
            size_t k = c[v];
            c[v] = at;
            at += k;
        }
        for (size_t i = 0; i < n; i++)
            dst[c[src[i] >> (8 * d) & 0xff]++] = src[i];
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != e)
        memcpy(e, src, n * sizeof *e);
}

/* Appends the dense blob of entries e[0..n) (any order, repeats allowed). */
static enc_status serialize_dense(const uint32_t *e, size_t n, enc_buf *out)
{
    uint8_t *regs = enc_calloc(REGS, 1);
    if (!regs)
        return ENC_ERROR;
    for (size_t i = 0; i < n; i++)
        dense_add_entry(regs, e[i]);
    enc_hll h = {.dense = 1, .u.regs = regs};
    enc_status st = enc_hll_serialize(&h, out);
    enc_free(regs);
    return st;
}

/* Appends the blob of sorted entries e[0..n): one entry per index (the last of each run,
 * its largest rank), dense past ENC_HLL_SPARSE_MAX indexes. Drops the repeats in e. */
static enc_status serialize_sorted(uint32_t *e, size_t n, enc_buf *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k > 0 && e[k - 1] >> RHO_BITS == e[i] >> RHO_BITS)
            e[k - 1] = e[i];
        else
            e[k++] = e[i];
    }
    if (k <= ENC_HLL_SPARSE_MAX) {
        /* A sketch on the stack over e: the serializer reads only n and the entries. */
        enc_hll h = {.n = (uint16_t)k, .sorted = (uint16_t)k, .cap = INLINE_N + 1, .u.heap = e};
        return enc_hll_serialize(&h, out);
    }
    return serialize_dense(e, k, out);
}

/* Whether e[0..n) holds more than ENC_HLL_SPARSE_MAX distinct indexes, found with a set
 * of indexes that stops growing there: cheaper than sorting the many entries of a key
 * with thousands of listeners (a genre, a country, a device). */
static bool many_indexes(const uint32_t *e, size_t n)
{
    enum { SET_BITS = 13 }; /* 8192 slots: at most half full */
    uint32_t set[1u << SET_BITS];
    memset(set, 0, sizeof set);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t key = (e[i] >> RHO_BITS) + 1, j = (key * 0x9e3779b1u) >> (32 - SET_BITS);
        while (set[j] && set[j] != key)
            j = (j + 1) & ((1u << SET_BITS) - 1);
        if (set[j])
            continue;
        set[j] = key;
        if (++k > ENC_HLL_SPARSE_MAX)
            return true;
    }
    return false;
}

enc_status enc_hll_serialize_entries(uint32_t *e, size_t n, uint32_t *tmp, enc_buf *out)
{
    if (n > ENC_HLL_SPARSE_MAX && many_indexes(e, n)) {
        return serialize_dense(e, n, out);
    }
    if (n > 0)
        sort_entries(e, n, tmp);
    return serialize_sorted(e, n, out);
}

/* Decoded blobs being united: sparse entries gathered, dense registers maxed. */
typedef struct {
    uint32_t *e;
    size_t n, cap;
    uint32_t small[128];
    uint8_t *regs, *blob_regs; /* REGS each, once a dense blob came */
} unite_state;

static enc_status unite_sparse(unite_state *u, const uint8_t *b, size_t n, enc_err *err)
{
    size_t pos = 2, count = 0;
    if (decode_sparse_count(b, n, &pos, &count, err) != ENC_OK)
        return ENC_ERROR;
    if (u->n + count > u->cap) {
        size_t cap = (u->n + count) * 2;
        uint32_t *e = u->e == u->small ? enc_malloc(cap * sizeof *e) : enc_realloc(u->e, cap * sizeof *e);
        if (!e)
            return enc_err_set(err, "hll blob: out of memory uniting sketches");
        if (u->e == u->small)
            memcpy(e, u->small, u->n * sizeof *e);
        u->e = e;
        u->cap = cap;
    }
    if (decode_sparse_entries(b, n, pos, count, u->e + u->n, err) != ENC_OK)
        return ENC_ERROR;
    u->n += count;
    return ENC_OK;
}

static enc_status unite_dense(unite_state *u, const uint8_t *b, size_t n, enc_err *err)
{
    if (!u->regs) {
        u->regs = enc_calloc(2 * REGS, 1);
        if (!u->regs)
            return enc_err_set(err, "hll blob: out of memory uniting sketches");
        u->blob_regs = u->regs + REGS;
    }
    if (decode_dense_regs(b, n, 2, u->blob_regs, err) != ENC_OK)
        return ENC_ERROR;
    for (size_t i = 0; i < REGS; i++)
        if (u->regs[i] < u->blob_regs[i])
            u->regs[i] = u->blob_regs[i];
    return ENC_OK;
}

/* The union of what u gathered, appended to out. */
static enc_status unite_finish(unite_state *u, enc_buf *out, enc_err *err)
{
    enc_status st;
    if (u->regs) {
        for (size_t i = 0; i < u->n; i++)
            dense_add_entry(u->regs, u->e[i]);
        enc_hll h = {.dense = 1, .u.regs = u->regs};
        st = enc_hll_serialize(&h, out);
    } else {
        uint32_t *tmp = NULL;
        if (u->n > 64 && !(tmp = enc_malloc(u->n * sizeof *tmp)))
            return enc_err_set(err, "hll blob: out of memory uniting sketches");
        st = enc_hll_serialize_entries(u->e, u->n, tmp, out);
        enc_free(tmp);
    }
    return st == ENC_OK ? ENC_OK : enc_err_set(err, "hll blob: out of memory writing a united sketch");
}

enc_status enc_hll_union_blobs(const enc_slice *b, size_t k, enc_buf *out, enc_err *err)
{
    unite_state u = {.n = 0, .cap = sizeof u.small / sizeof *u.small};
    u.e = u.small;
    enc_status st = ENC_OK;
    for (size_t i = 0; i < k && st == ENC_OK; i++) {
        const uint8_t *p = (const uint8_t *)b[i].p;
        int kind = 0;
        if ((st = decode_header(p, b[i].n, &kind, err)) != ENC_OK)
            break;
        st = kind == KIND_SPARSE ? unite_sparse(&u, p, b[i].n, err) : unite_dense(&u, p, b[i].n, err);
    }
    if (st == ENC_OK)
        st = unite_finish(&u, out, err);
    if (u.e != u.small)
        enc_free(u.e);
    enc_free(u.regs);
    return st;
}

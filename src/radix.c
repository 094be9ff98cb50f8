/* radix — LSD radix sort on 64-bit keys, then ties by a full comparison (see radix.h). */
#include "radix.h"

#include <stdlib.h>
#include <string.h>

void enc_radix_sort(enc_sort_item *items, enc_sort_item *tmp, size_t n)
{
    size_t count[8][256];
    memset(count, 0, sizeof count);
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < 8; d++)
            count[d][(items[i].key >> (8 * d)) & 0xff]++;
    enc_sort_item *src = items, *dst = tmp;
    for (int d = 0; d < 8; d++) {
        size_t *c = count[d];
        if (n == 0 || c[(items[0].key >> (8 * d)) & 0xff] == n)
            continue; /* every key has the same byte here */
        size_t at = 0;
        for (int v = 0; v < 256; v++) {
            size_t k = c[v];
            c[v] = at;
            at += k;
        }
        for (size_t i = 0; i < n; i++)
            dst[c[(src[i].key >> (8 * d)) & 0xff]++] = src[i];
        enc_sort_item *t = src;
        src = dst;
        dst = t;
    }
    if (src != items)
        memcpy(items, src, n * sizeof *items);
}

typedef struct {
    int (*cmp)(uint32_t, uint32_t, void *);
    void *arg;
} tie_cmp;

static int cmp_items(const void *a, const void *b, void *ctx)
{
    const tie_cmp *t = ctx;
    const enc_sort_item *x = a, *y = b;
    int c = t->cmp(x->idx, y->idx, t->arg);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx); /* stable */
}

static void sort_run(enc_sort_item *a, size_t n, int (*cmp)(uint32_t, uint32_t, void *), void *arg)
{
    if (n > 16) { /* long runs (ids sharing 8 leading bytes) must not go quadratic */
        tie_cmp t = {cmp, arg};
        qsort_r(a, n, sizeof *a, cmp_items, &t);
        return;
    }
    for (size_t i = 1; i < n; i++) { /* insertion sort: stable, runs are short */
        enc_sort_item x = a[i];
        size_t j = i;
        while (j > 0 && cmp(a[j - 1].idx, x.idx, arg) > 0) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = x;
    }
}

void enc_sort_ties(enc_sort_item *items, size_t n, int (*cmp)(uint32_t a, uint32_t b, void *arg), void *arg)
{
    size_t start = 0;
    for (size_t i = 1; i <= n; i++) {
        if (i < n && items[i].key == items[start].key)
            continue;
        if (i - start > 1)
            sort_run(items + start, i - start, cmp, arg);
        start = i;
    }
}

uint64_t enc_sort_prefix(const char *s, size_t n)
{
    uint64_t v = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (n >= 8) { /* one load instead of eight: most ids are 8 bytes or longer */
        memcpy(&v, s, 8);
        return __builtin_bswap64(v);
    }
#endif
    for (size_t i = 0; i < 8; i++)
        v = v << 8 | (i < n ? (unsigned char)s[i] : 0);
    return v;
}

/* Unit tests for alloc: the big-block paths (huge-page advice) keep realloc's and
 * calloc's contracts — contents survive growth, calloc memory is zero, an overflowing
 * count fails — and failure injection still reaches them. */
#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "harness.h"

static int all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return 0;
    return 1;
}

static void test_realloc_growth_keeps_contents(void)
{
    size_t small = 1000, big = ENC_ALLOC_HUGE * 2 + 123;
    unsigned char *p = enc_malloc(small);
    T_CHECK(p != NULL);
    memset(p, 0xab, small);
    p = enc_realloc(p, ENC_ALLOC_HUGE - 1); /* below the threshold: plain realloc */
    T_CHECK(p && all_bytes(p, small, 0xab));
    memset(p, 0xcd, ENC_ALLOC_HUGE - 1);
    p = enc_realloc(p, big); /* into a big block: new advised block and a copy */
    T_CHECK(p && all_bytes(p, ENC_ALLOC_HUGE - 1, 0xcd));
    memset(p, 0xef, big); /* the whole new size is writable */
    p = enc_realloc(p, big * 2);
    T_CHECK(p && all_bytes(p, big, 0xef));
    p = enc_realloc(p, small); /* shrinking keeps the prefix */
    T_CHECK(p && all_bytes(p, small, 0xef));
    enc_free(p);
    unsigned char *q = enc_realloc(NULL, big); /* realloc(NULL) is malloc */
    T_CHECK(q != NULL);
    if (q)
        q[big - 1] = 1;
    enc_free(q);
}

static void test_calloc_big_is_zero(void)
{
    size_t n = ENC_ALLOC_HUGE + 4096;
    unsigned char *p = enc_malloc(n); /* dirty some memory, then free it for reuse */
    if (p)
        memset(p, 0x5a, n);
    enc_free(p);
    unsigned char *z = enc_calloc(n / 8, 8);
    T_CHECK(z && all_bytes(z, n, 0));
    enc_free(z);
    T_CHECK(enc_calloc(SIZE_MAX / 2, 4) == NULL);
    void *one = enc_calloc(0, 16);
    T_CHECK(one != NULL);
    enc_free(one);
}

static void test_failure_injection_reaches_big_blocks(void)
{
    enc_alloc_fail_after(0);
    T_CHECK(enc_malloc(ENC_ALLOC_HUGE) == NULL);
    T_CHECK(enc_calloc(ENC_ALLOC_HUGE, 1) == NULL);
    T_CHECK(enc_realloc(NULL, ENC_ALLOC_HUGE) == NULL);
    enc_alloc_fail_after(-1);
    void *p = enc_malloc(ENC_ALLOC_HUGE);
    T_CHECK(p != NULL);
    enc_free(p);
}

/* Big blocks start on a 2 MiB boundary, so that huge pages can cover them from the start. */
static void test_big_blocks_aligned(void)
{
    const uintptr_t huge = (uintptr_t)2 << 20;
    void *a = enc_malloc(ENC_ALLOC_HUGE + 100);
    void *b = enc_calloc(ENC_ALLOC_HUGE + 100, 1);
    void *c = enc_realloc(NULL, ENC_ALLOC_HUGE * 3);
    T_CHECK(a && (uintptr_t)a % huge == 0);
    T_CHECK(b && (uintptr_t)b % huge == 0);
    T_CHECK(c && (uintptr_t)c % huge == 0);
    enc_free(a);
    enc_free(b);
    enc_free(c);
}

int main(void)
{
    T_RUN(test_realloc_growth_keeps_contents);
    T_RUN(test_calloc_big_is_zero);
    T_RUN(test_failure_injection_reaches_big_blocks);
    T_RUN(test_big_blocks_aligned);
    return t_summary("test_alloc");
}

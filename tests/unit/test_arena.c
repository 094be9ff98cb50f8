/* Unit tests for arena: alignment, large requests, reuse of kept chunks after a reset,
 * and that a one-off huge batch is not kept. */
#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "harness.h"

static void test_alignment_and_contents(void)
{
    enc_arena a;
    enc_arena_init(&a, 1024);
    char *p[100];
    for (int i = 0; i < 100; i++) {
        p[i] = enc_arena_alloc(&a, (size_t)i % 13 + 1);
        T_CHECK(p[i] && (uintptr_t)p[i] % 8 == 0);
        memset(p[i], i, (size_t)i % 13 + 1);
    }
    int intact = 1;
    for (int i = 0; i < 100; i++)
        for (size_t k = 0; k < (size_t)i % 13 + 1; k++)
            intact &= p[i][k] == (char)i;
    T_CHECK(intact);
    char *big = enc_arena_alloc(&a, 10000); /* bigger than a chunk: its own chunk */
    T_CHECK(big != NULL);
    memset(big, 7, 10000);
    char *d = enc_arena_dup(&a, "abc", 3);
    T_CHECK(d && memcmp(d, "abc", 3) == 0);
    enc_arena_free(&a);
    T_CHECK(a.head == NULL && a.spare == NULL);
}

static void test_reset_reuses_chunks(void)
{
    enc_arena a;
    enc_arena_init(&a, 4096);
    char *first = enc_arena_alloc(&a, 3000);
    char *second = enc_arena_alloc(&a, 3000); /* a second chunk */
    T_CHECK(first && second);
    enc_arena_reset(&a);
    T_CHECK(a.used_total == 0 && a.head == NULL && a.spare != NULL);
    char *again = enc_arena_alloc(&a, 3000);
    char *again2 = enc_arena_alloc(&a, 3000);
    T_CHECK(again == first || again == second); /* warm memory, no new chunk */
    T_CHECK(again2 == first || again2 == second);
    T_CHECK(again != again2);
    enc_arena_free(&a);
}

static void test_huge_batch_is_not_kept(void)
{
    enc_arena a;
    enc_arena_init(&a, 4096);
    T_CHECK(enc_arena_alloc(&a, 8u << 20) != NULL); /* one 8 MiB record */
    enc_arena_reset(&a);                             /* kept: it is what this batch used */
    T_CHECK(enc_arena_capacity(&a) >= 8u << 20);
    T_CHECK(enc_arena_alloc(&a, 100) != NULL); /* a small batch */
    enc_arena_reset(&a);                       /* the 8 MiB chunk goes now */
    T_CHECK(enc_arena_capacity(&a) <= 4096 + 104);
    enc_arena_free(&a);
}

/* A default chunk is chunk_size bytes of heap, header included (big blocks are rounded
 * up to whole 2 MiB pages: 4 MiB and a header would take 6 MiB). */
static void test_chunk_size_includes_header(void)
{
    enc_arena a;
    enc_arena_init(&a, 4u << 20);
    T_CHECK(enc_arena_alloc(&a, 100) != NULL);
    size_t cap = enc_arena_capacity(&a);
    T_CHECK(cap < (4u << 20) && cap > (4u << 20) - 256);
    enc_arena_free(&a);
}

int main(void)
{
    T_RUN(test_alignment_and_contents);
    T_RUN(test_reset_reuses_chunks);
    T_RUN(test_huge_batch_is_not_kept);
    T_RUN(test_chunk_size_includes_header);
    return t_summary("arena");
}

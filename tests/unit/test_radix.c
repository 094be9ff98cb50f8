/* Unit tests for radix: the sort agrees with a plain comparison sort, ties settle by the
 * full comparison, and string prefixes order as memcmp does. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "radix.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int cmp_key_then_idx(const void *pa, const void *pb)
{
    const enc_sort_item *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

static void check_against_qsort(size_t n, uint64_t mask)
{
    enc_sort_item *items = malloc(2 * n * sizeof *items + 1), *want = malloc(n * sizeof *want + 1);
    for (size_t i = 0; i < n; i++)
        items[i] = want[i] = (enc_sort_item){next_random() & mask, (uint32_t)i, 0};
    enc_radix_sort(items, items + n, n);
    qsort(want, n, sizeof *want, cmp_key_then_idx); /* stable order = index order within a key */
    int same = 1;
    for (size_t i = 0; i < n; i++)
        same &= items[i].key == want[i].key && items[i].idx == want[i].idx;
    T_CHECK(same);
    free(items);
    free(want);
}

static void test_matches_a_stable_comparison_sort(void)
{
    check_against_qsort(0, ~0ull);
    check_against_qsort(1, ~0ull);
    check_against_qsort(1000, ~0ull);
    check_against_qsort(5000, 0xff);                  /* many ties: stability shows */
    check_against_qsort(5000, 0xff00000000ff0000ull); /* bytes that never vary are skipped */
    check_against_qsort(3000, 0);                     /* every key equal */
}

static const char *const words[] = {"zeta", "alpha", "alphabet", "alphabets", "alphabetic", "b", "", "alpha", "Z"};

static int cmp_words(uint32_t a, uint32_t b, void *arg)
{
    (void)arg;
    return strcmp(words[a], words[b]);
}

static void test_prefix_and_ties_give_string_order(void)
{
    enum { N = sizeof words / sizeof words[0] };
    enc_sort_item items[2 * N];
    for (uint32_t i = 0; i < N; i++)
        items[i] = (enc_sort_item){enc_sort_prefix(words[i], strlen(words[i])), i, 0};
    enc_radix_sort(items, items + N, N);
    enc_sort_ties(items, N, cmp_words, NULL);
    for (size_t i = 1; i < N; i++)
        T_CHECK(strcmp(words[items[i - 1].idx], words[items[i].idx]) <= 0);
    T_CHECK(items[0].idx == 6); /* "" first */
    T_CHECK(items[1].idx == 8); /* "Z" before lower case */
    T_CHECK(items[2].idx == 1 && items[3].idx == 7); /* the two "alpha" keep their order */
}

static const char *long_ids[200];

static int cmp_long(uint32_t a, uint32_t b, void *arg)
{
    (void)arg;
    return strcmp(long_ids[a], long_ids[b]);
}

static void test_long_runs_of_equal_prefixes(void)
{
    enum { N = 200 };
    static char store[N][32];
    enc_sort_item items[2 * N];
    for (uint32_t i = 0; i < N; i++) {
        snprintf(store[i], sizeof store[i], "user-000000%05u", (unsigned)(next_random() % 100000));
        long_ids[i] = store[i];
        items[i] = (enc_sort_item){enc_sort_prefix(store[i], strlen(store[i])), i, 0};
    }
    enc_radix_sort(items, items + N, N);
    enc_sort_ties(items, N, cmp_long, NULL); /* one run of 200: the comparison sort path */
    int sorted = 1;
    for (size_t i = 1; i < N; i++)
        sorted &= strcmp(long_ids[items[i - 1].idx], long_ids[items[i].idx]) <= 0;
    T_CHECK(sorted);
}

/* The prefix is the first 8 bytes read big-endian, zero-padded, on both of its paths
 * (the one-load path for 8 bytes or more, the byte loop below 8). */
static void test_prefix_is_the_first_eight_bytes_big_endian(void)
{
    const char key[] = "\x01\x82\x03\xf4\x05\x06\x07\xf8\x09\x0a\x0b\x0c";
    for (size_t n = 0; n <= 12; n++) {
        uint64_t want = 0;
        for (size_t i = 0; i < 8; i++)
            want = want << 8 | (i < n ? (unsigned char)key[i] : 0);
        T_CHECK(enc_sort_prefix(key, n) == want);
    }
    T_CHECK(enc_sort_prefix(key, 12) == 0x018203f4050607f8ULL);
}

int main(void)
{
    T_RUN(test_matches_a_stable_comparison_sort);
    T_RUN(test_prefix_and_ties_give_string_order);
    T_RUN(test_long_runs_of_equal_prefixes);
    T_RUN(test_prefix_is_the_first_eight_bytes_big_endian);
    return t_summary("radix");
}

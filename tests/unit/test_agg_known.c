/* test_agg_known — unit tests for src/agg_known.c: the dense sketches a run has written.
 *
 * Registers come back for exactly the (dimension, day, key) they were added for (keys
 * with NUL bytes, equal prefixes, and equal bytes under another dimension or day are
 * other keys); enc_known_any tells the dimensions apart; past ENC_KNOWN_MAX sketches the
 * oldest day's go, a day no older than every kept one gets none, and clear forgets all.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "agg_known.h"
#include "harness.h"
#include "hll.h"

static void test_lookup(void)
{
    enc_known *k = enc_known_new();
    T_CHECK(k != NULL);
    T_CHECK(!enc_known_any(k, 2) && enc_known_regs(k, 2, 100, "pop", 3) == NULL);
    uint8_t *r = enc_known_regs_add(k, 2, 100, "pop", 3);
    T_CHECK(r != NULL && r[0] == 0 && r[ENC_HLL_REGS - 1] == 0);
    r[7] = 9;
    T_CHECK(enc_known_any(k, 2) && !enc_known_any(k, 3) && !enc_known_any(k, -1) && !enc_known_any(k, 99));
    T_CHECK(enc_known_regs(k, 2, 100, "pop", 3) == r && r[7] == 9);
    T_CHECK(enc_known_regs(k, 3, 100, "pop", 3) == NULL); /* another dimension */
    T_CHECK(enc_known_regs(k, 2, 101, "pop", 3) == NULL); /* another day */
    T_CHECK(enc_known_regs(k, 2, 100, "po", 2) == NULL);  /* a prefix */
    T_CHECK(enc_known_regs(k, 2, 100, "pop\0", 4) == NULL);
    uint8_t *z = enc_known_regs_add(k, 2, 100, "pop\0", 4);
    T_CHECK(z != NULL && z != r && enc_known_regs(k, 2, 100, "pop\0", 4) == z);
    T_CHECK(enc_known_regs_add(k, 99, 100, "x", 1) == NULL); /* not a dimension */
    enc_known_clear(k);
    T_CHECK(!enc_known_any(k, 2) && enc_known_regs(k, 2, 100, "pop", 3) == NULL);
    uint8_t *again = enc_known_regs_add(k, 2, 100, "pop", 3);
    T_CHECK(again != NULL && again[7] == 0); /* reused blocks start empty */
    enc_known_free(k);
    enc_known_free(NULL);
}

static void test_bounded(void)
{
    enc_known *k = enc_known_new();
    T_CHECK(k != NULL);
    char key[16];
    for (int i = 0; i < ENC_KNOWN_MAX; i++) { /* day 10 for the first 100 keys, then day 11 */
        int n = snprintf(key, sizeof key, "k%d", i);
        T_CHECK(enc_known_regs_add(k, 1, i < 100 ? 10 : 11, key, (size_t)n) != NULL);
    }
    T_CHECK(enc_known_regs_add(k, 1, 11, "late", 4) != NULL); /* day 10's go */
    T_CHECK(enc_known_regs(k, 1, 10, "k0", 2) == NULL && enc_known_regs(k, 1, 10, "k99", 3) == NULL);
    T_CHECK(enc_known_regs(k, 1, 11, "k100", 4) != NULL && enc_known_regs(k, 1, 11, "late", 4) != NULL);
    for (int i = 0; i < 99; i++) { /* fill the 99 blocks left free */
        int n = snprintf(key, sizeof key, "m%d", i);
        T_CHECK(enc_known_regs_add(k, 4, 11, key, (size_t)n) != NULL);
    }
    T_CHECK(enc_known_regs_add(k, 1, 11, "full", 4) == NULL); /* only day 11: nothing is older */
    T_CHECK(enc_known_regs_add(k, 1, 9, "older", 5) == NULL);
    T_CHECK(enc_known_regs(k, 4, 11, "m98", 3) != NULL && enc_known_any(k, 1) && enc_known_any(k, 4));
    T_CHECK(enc_known_regs_add(k, 0, 12, "next", 4) != NULL); /* a newer day: day 11's go */
    T_CHECK(!enc_known_any(k, 1) && !enc_known_any(k, 4) && enc_known_any(k, 0));
    enc_known_free(k);
}

int main(void)
{
    T_RUN(test_lookup);
    T_RUN(test_bounded);
    return t_summary("agg_known");
}

/* gen_rand — gen's deterministic randomness: xoshiro256** streams seeded by splitmix64,
 * log/exp/pow from IEEE-exact operations only (no libm, no fused multiply-add), and Vose
 * alias tables for O(1) draws from a fixed distribution. The same seed gives the same
 * numbers on every compiler and machine, so generated data is byte-identical.
 */
#ifndef ENC_GEN_RAND_H
#define ENC_GEN_RAND_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} enc_rng;

typedef struct {
    uint32_t thresh; /* keep this entry when the low 32 random bits are below thresh */
    uint32_t alias;  /* otherwise take entry alias */
} enc_alias_ent;     /* one 8-byte entry: a draw touches one cache line, two when aliased */

typedef struct {
    uint32_t n;
    enc_alias_ent *e; /* n entries, owned by whoever built the table */
} enc_alias_tab;

#define ENC_RNG_PICK_STR(r, list) (list)[enc_rng_below((r), (uint32_t)(sizeof(list) / sizeof((list)[0])))]

/* One independent stream per (seed, stream). */
void enc_rng_seed(enc_rng *r, int64_t seed, uint64_t stream);

static inline uint64_t enc_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t enc_rng_next(enc_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = enc_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = enc_rotl(s[3], 45);
    return result;
}

/* Uniform in [0, n) for n < 2^32 (Lemire's multiply; bias < 2^-32, irrelevant here). */
static inline uint32_t enc_rng_below(enc_rng *r, uint32_t n)
{
    return (uint32_t)(((enc_rng_next(r) >> 32) * n) >> 32);
}

static inline double enc_rng_unit(enc_rng *r)
{
    return (double)(enc_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

static inline uint32_t enc_alias_draw(const enc_alias_tab *t, uint64_t r)
{
    uint32_t i = (uint32_t)(((r >> 32) * t->n) >> 32);
    return (uint32_t)r < t->e[i].thresh ? i : t->e[i].alias;
}

/* Standard normal, Irwin–Hall approximation: sums only, tails cut at ±6. */
double enc_rng_normal(enc_rng *r);
/* Draws from a small weight table by linear scan (setup only, never per event). */
uint32_t enc_rng_pick(enc_rng *r, const double *w, uint32_t n);

double enc_det_log(double x);
double enc_det_exp(double x);
double enc_det_pow(double a, double b);

/* Builds into t->e (n entries, caller-owned) from weights w (>= 0, sum > 0).
 * `work` is scratch of 2n uint32 and p scratch of n doubles. */
void enc_alias_build(enc_alias_tab *t, const double *w, uint32_t n, double *p, uint32_t *work);

#endif

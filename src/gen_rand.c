/* gen_rand — see gen_rand.h. Floating point here uses only + - * / (FP_CONTRACT off),
 * so every result is exact IEEE and the same everywhere. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#include "gen_rand.h"

#include <string.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void enc_rng_seed(enc_rng *r, int64_t seed, uint64_t stream)
{
    uint64_t x = (uint64_t)seed ^ (stream * 0xd1342543de82ef95ULL);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

/* ---- deterministic math: only IEEE-exact operations ---------------------------------- */

#define LN2 0.69314718055994530942

double enc_det_log(double x)
{
    if (!(x > 2.2250738585072014e-308))
        return -708.0;
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    int e = (int)((b >> 52) & 0x7ff) - 1023;
    b = (b & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
    double m;
    memcpy(&m, &b, sizeof m);
    if (m > 1.4142135623730951) {
        m *= 0.5;
        e++;
    }
    double z = (m - 1.0) / (m + 1.0), z2 = z * z, term = z, sum = 0.0;
    for (int k = 1; k < 40; k += 2) {
        sum += term / k;
        term *= z2;
    }
    return e * LN2 + 2.0 * sum;
}

double enc_det_exp(double x)
{
    if (x > 700.0)
        x = 700.0;
    if (x < -700.0)
        x = -700.0;
    double q = x / LN2 + 0.5;
    int k = (int)q;
    if (q < k)
        k--;
    double r = x - k * LN2, term = 1.0, sum = 1.0;
    for (int i = 1; i < 22; i++) {
        term *= r / i;
        sum += term;
    }
    uint64_t b = (uint64_t)(k + 1023) << 52;
    double p;
    memcpy(&p, &b, sizeof p);
    return sum * p;
}

double enc_det_pow(double a, double b)
{
    return enc_det_exp(b * enc_det_log(a));
}

double enc_rng_normal(enc_rng *r)
{
    double s = 0.0;
    for (int i = 0; i < 12; i++)
        s += enc_rng_unit(r);
    return s - 6.0;
}

/* ---- alias tables (Vose): O(1) draws from a fixed discrete distribution -------------- */

void enc_alias_build(enc_alias_tab *t, const double *w, uint32_t n, double *p, uint32_t *work)
{
    double sum = 0.0;
    for (uint32_t i = 0; i < n; i++)
        sum += w[i];
    uint32_t *small = work, *large = work + n, ns = 0, nl = 0;
    for (uint32_t i = 0; i < n; i++) {
        p[i] = w[i] * n / sum;
        if (p[i] < 1.0)
            small[ns++] = i;
        else
            large[nl++] = i;
    }
    while (ns && nl) {
        uint32_t s = small[--ns], l = large[nl - 1];
        t->e[s] = (enc_alias_ent){(uint32_t)(p[s] * 4294967296.0), l};
        p[l] = (p[l] + p[s]) - 1.0;
        if (p[l] < 1.0) {
            nl--;
            small[ns++] = l;
        }
    }
    while (nl) {
        uint32_t l = large[--nl];
        t->e[l] = (enc_alias_ent){UINT32_MAX, l};
    }
    while (ns) { /* only rounding leftovers: treat as certain */
        uint32_t s = small[--ns];
        t->e[s] = (enc_alias_ent){UINT32_MAX, s};
    }
    t->n = n;
}

uint32_t enc_rng_pick(enc_rng *r, const double *w, uint32_t n)
{
    double total = 0.0;
    for (uint32_t i = 0; i < n; i++)
        total += w[i];
    double x = enc_rng_unit(r) * total;
    for (uint32_t i = 0; i + 1 < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}

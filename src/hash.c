/* hash — enc_hash_bytes: multiply-fold hashing in the style of wyhash.
 *
 * Keys of up to 16 bytes (nearly every id) take one branch and two multiplies: the
 * bytes are loaded into two words (a, b) so that (length, a, b) identifies the key
 * exactly, then two rounds of 128-bit multiply mixing spread them over all 64 bits.
 * Longer keys fold 16 bytes per round into the seed first. Loads go through memcpy, so
 * unaligned keys are defined behaviour and compile to plain loads. The multiply keeps
 * its inputs (a ^= lo, b ^= hi) so that a zero factor cannot erase the other word.
 */
#include "hash.h"

#include <string.h>

/* Odd constants with balanced bits: the golden ratio, and splitmix64/xxh64 multipliers. */
#define K0 0x9e3779b97f4a7c15ull
#define K1 0xbf58476d1ce4e5b9ull
#define K2 0x94d049bb133111ebull
#define K3 0xc2b2ae3d27d4eb4full

static inline uint64_t rd64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t rd32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* *a, *b := the low and high halves of a*b, each xored with the old value. */
static inline void mul128(uint64_t *a, uint64_t *b)
{
#ifdef __SIZEOF_INT128__
    unsigned __int128 r = (unsigned __int128)*a * *b;
    *a ^= (uint64_t)r;
    *b ^= (uint64_t)(r >> 64);
#else
    uint64_t x = *a, y = *b;
    uint64_t xl = x & 0xffffffffu, xh = x >> 32, yl = y & 0xffffffffu, yh = y >> 32;
    uint64_t ll = xl * yl, lh = xl * yh, hl = xh * yl, hh = xh * yh;
    uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
    uint64_t lo = (mid << 32) | (ll & 0xffffffffu);
    uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
    *a ^= lo;
    *b ^= hi;
#endif
}

/* Folds two words into one: the xor of the halves of their product. */
static inline uint64_t fold(uint64_t a, uint64_t b)
{
    mul128(&a, &b);
    return a ^ b;
}

uint64_t enc_hash_bytes(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t a, b;

    seed ^= fold(seed ^ K0, K1);
    if (n <= 16) {
        if (n >= 8) {
            a = rd64(s);
            b = rd64(s + n - 8);
        } else if (n >= 4) {
            a = rd32(s);
            b = rd32(s + n - 4);
        } else if (n > 0) {
            a = ((uint64_t)s[0] << 16) | ((uint64_t)s[n >> 1] << 8) | s[n - 1];
            b = 0;
        } else {
            a = b = 0;
        }
    } else {
        size_t left = n;
        while (left > 16) {
            seed = fold(rd64(s) ^ K1, rd64(s + 8) ^ seed);
            s += 16;
            left -= 16;
        }
        /* The last 16 bytes, overlapping what the loop consumed when n % 16 != 0. */
        a = rd64(s + left - 16);
        b = rd64(s + left - 8);
    }
    a ^= K1;
    b ^= seed ^ K3;
    mul128(&a, &b);
    a ^= K0 ^ (uint64_t)n;
    b ^= K2;
    mul128(&a, &b);
    return a ^ b;
}

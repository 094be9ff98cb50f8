/* hash — one fast 64-bit hash for short byte strings (ids, interned values, HLL input).
 *
 * A wyhash-style design: the key is read 8 bytes at a time (4 and 1-3 byte tails for
 * shorter keys) and folded with 64x64->128-bit multiplies. Every output bit depends on
 * every input bit, so callers may take a table index from the low bits, a tag from the
 * high bits, or HyperLogLog register/rank bits from anywhere. Not cryptographic: do not
 * use it where an attacker picks keys and collisions would hurt.
 * Pure function: no state, no allocation, safe from any thread.
 */
#ifndef ENC_HASH_H
#define ENC_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Hashes n bytes at p (p may be NULL when n == 0). Unaligned p is fine. The result
 * depends on seed, so different users (aggregates, HLL, dimension tables) can pick
 * independent hash functions from one family. Stable across runs and platforms of the
 * same endianness; do not persist it across encore versions. */
uint64_t enc_hash_bytes(const void *p, size_t n, uint64_t seed);

/* A key's bytes as one word, for a cheap equality pre-check beside a hash: with the
 * length, exact for keys of up to 8 bytes (the first and last four bytes overlap below 8;
 * the first, middle and last byte below 4); the first 8 bytes of longer keys. Host byte
 * order: compare words, do not order by them. */
static inline uint64_t enc_key_word(const void *key, size_t n)
{
    const unsigned char *s = key;
    uint64_t v = 0;
    if (n >= 8) {
        memcpy(&v, s, 8);
    } else if (n >= 4) {
        uint32_t lo, hi;
        memcpy(&lo, s, 4);
        memcpy(&hi, s + n - 4, 4);
        v = lo | (uint64_t)hi << 32;
    } else if (n > 0) {
        v = s[0] | (uint64_t)s[n >> 1] << 8 | (uint64_t)s[n - 1] << 16;
    }
    return v;
}

#endif

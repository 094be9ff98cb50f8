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

/* Hashes n bytes at p (p may be NULL when n == 0). Unaligned p is fine. The result
 * depends on seed, so different users (aggregates, HLL, dimension tables) can pick
 * independent hash functions from one family. Stable across runs and platforms of the
 * same endianness; do not persist it across encore versions. */
uint64_t enc_hash_bytes(const void *p, size_t n, uint64_t seed);

#endif

/* Unit tests for dedup: duplicates within the watermark, expiry, removal from the middle
 * of long and wrapping probe clusters (backward shift), and a table whose size stays
 * flat over a long steady stream; growth copied a few slots per insert; expiry spread over
 * the inserts; growth into reused (dirty) memory. */
#include <stdint.h>

#include <string.h>

#include "alloc.h"
#include "dedup.h"
#include "harness.h"

#define HOUR_US ((int64_t)3600 * 1000000)

static bool check(enc_dedup *d, uint64_t hash, int64_t t)
{
    bool dup = false;
    T_CHECK(enc_dedup_check(d, (enc_dedup_key){hash, t}, &dup) == ENC_OK);
    return dup;
}

static void test_duplicates_within_watermark(void)
{
    enc_dedup *d = enc_dedup_new(24 * HOUR_US);
    T_CHECK(d != NULL);
    T_CHECK(enc_dedup_horizon(d) == INT64_MIN);
    T_CHECK(!check(d, 42, 1000));
    T_CHECK(check(d, 42, 1000));
    T_CHECK(!check(d, 42, 1001)); /* same hash, other time: another play */
    T_CHECK(!check(d, 0, 5));     /* hash 0 is stored as 1 */
    T_CHECK(check(d, 0, 5));
    T_CHECK(enc_dedup_size(d) == 3);
    enc_dedup_free(d);
}

static void test_expiry_forgets_old_keys_only(void)
{
    enc_dedup *d = enc_dedup_new(HOUR_US);
    for (uint64_t i = 1; i <= 2000; i++)
        T_CHECK(!check(d, i * 0x9e3779b97f4a7c15ull, (int64_t)i * HOUR_US / 1000)); /* 2 h of plays */
    T_CHECK(enc_dedup_expire(d) == ENC_OK);
    int64_t horizon = enc_dedup_horizon(d);
    T_CHECK(horizon == 2000 * HOUR_US / 1000 - HOUR_US);
    size_t kept = 0;
    int all_ok = 1;
    for (uint64_t i = 1; i <= 2000; i++) {
        int64_t t = (int64_t)i * HOUR_US / 1000;
        bool dup = check(d, i * 0x9e3779b97f4a7c15ull, t);
        if (t >= horizon) { /* inside the watermark: still known */
            all_ok &= dup;
            kept++;
        } else { /* forgotten, so new again */
            all_ok &= !dup;
        }
    }
    T_CHECK(all_ok);
    T_CHECK(kept == 1001);
    enc_dedup_free(d);
}

/* Keys sharing one home slot make one long cluster; with the home near the end of the
 * table the cluster wraps around to the start. Expiring every other key must leave each
 * survivor findable. */
static void test_removal_from_wrapping_clusters(void)
{
    for (int wrap = 0; wrap < 2; wrap++) {
        enc_dedup *d = enc_dedup_new(1000);
        T_CHECK(!check(d, 7, 0)); /* allocates the first table (1024 slots) */
        size_t cap = enc_dedup_capacity(d);
        T_CHECK(cap >= 1024);
        uint64_t home = wrap ? cap - 3 : 100;
        for (uint64_t i = 1; i <= 300; i++) /* times alternate old / new */
            T_CHECK(!check(d, (i << 32) | home, i % 2 ? 10 : 5000));
        T_CHECK(enc_dedup_capacity(d) == cap); /* no growth: 301 keys in 1024 slots */
        T_CHECK(enc_dedup_expire(d) == ENC_OK); /* horizon 4000: the odd ones go */
        T_CHECK(enc_dedup_size(d) == 150);
        int found = 1, forgotten = 1;
        for (uint64_t i = 1; i <= 300; i++) {
            bool dup = check(d, (i << 32) | home, i % 2 ? 10 : 5000);
            if (i % 2)
                forgotten &= !dup;
            else
                found &= dup;
        }
        T_CHECK(found);
        T_CHECK(forgotten);
        enc_dedup_free(d);
    }
}

/* A steady stream, 1,000 plays per hour of event time with a 1 h watermark: after the
 * first few hours the table never grows again, however long the stream runs; both when
 * the caller expires after every batch of 1,000 and when it never does (then making
 * room for a key expires). */
static void steady_stream(int expire_every)
{
    enc_dedup *d = enc_dedup_new(HOUR_US);
    uint64_t x = 88172645463325252ull;
    size_t cap_early = 0, max_size = 0;
    for (int64_t i = 0; i < 200000; i++) { /* 200 hours */
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        T_CHECK(!check(d, x, i * (HOUR_US / 1000)));
        if (expire_every && i % expire_every == expire_every - 1)
            T_CHECK(enc_dedup_expire(d) == ENC_OK);
        if (i == 10000)
            cap_early = enc_dedup_capacity(d);
        if (enc_dedup_size(d) > max_size)
            max_size = enc_dedup_size(d);
    }
    T_CHECK(cap_early > 0);
    T_CHECK(enc_dedup_capacity(d) == cap_early);
    T_CHECK(enc_dedup_capacity(d) <= 8192); /* 16 bytes a slot: 128 KiB for ~2,000 keys */
    if (expire_every)
        T_CHECK(max_size <= (size_t)(1000 + 1000 / 8 + expire_every + 1)); /* a watermark, an eighth, a batch */
    enc_dedup_free(d);
}

static void test_size_flat_in_stream_length(void)
{
    steady_stream(1000);
    steady_stream(0);
}

static void test_restore_and_out_of_order(void)
{
    enc_dedup *d = enc_dedup_new(HOUR_US);
    T_CHECK(enc_dedup_restore(d, (enc_dedup_key){99, 10 * HOUR_US}) == ENC_OK);
    T_CHECK(check(d, 99, 10 * HOUR_US)); /* a restored key is a duplicate */
    T_CHECK(!check(d, 100, 9 * HOUR_US + 1)); /* late but inside the watermark */
    T_CHECK(check(d, 100, 9 * HOUR_US + 1));
    enc_dedup_free(d);
}

/* Growth copies the old array a few slots per insert: both arrays live for a while
 * (capacity old + new), then only the new one; every key stays known throughout, and a
 * key first seen during the copy is new exactly once. */
static void test_incremental_growth(void)
{
    enc_dedup *d = enc_dedup_new(24 * HOUR_US);
    uint64_t mix = 0x9e3779b97f4a7c15u;
    size_t both = 0, grown = 0, prev_cap = 0;
    for (uint64_t i = 1; i <= 20000; i++) {
        T_CHECK(!check(d, i * mix, (int64_t)i));
        size_t cap = enc_dedup_capacity(d);
        if (cap != prev_cap && (cap & (cap - 1)) != 0)
            both++; /* not a power of two: old and new arrays both held */
        if (cap != prev_cap && (cap & (cap - 1)) == 0 && prev_cap != 0)
            grown++; /* a copy finished */
        prev_cap = cap;
        if (i % 7 == 0) /* a sample of earlier keys, copied or not yet */
            T_CHECK(check(d, (i / 2 + 1) * mix, (int64_t)(i / 2 + 1)));
    }
    T_CHECK(both >= 4);       /* 1024 -> ... -> 32768 slots: several growths seen mid-copy */
    T_CHECK(grown == both);   /* each copy finished */
    T_CHECK(enc_dedup_size(d) == 20000);
    size_t missing = 0;
    for (uint64_t i = 1; i <= 20000; i++)
        missing += !check(d, i * mix, (int64_t)i);
    T_CHECK(missing == 0);
    T_CHECK(enc_dedup_size(d) == 20000);
    enc_dedup_free(d);
}

/* Without any call to enc_dedup_expire, a steady stream (10,000 plays per hour, 1 h
 * watermark) is expired by the inserts themselves a few slots at a time: no insert
 * forgets more than a handful of keys at once (a whole pass would forget an eighth of a
 * watermark, ~1,250 keys, in one call), the set stays within a watermark plus an eighth
 * plus one sweep's inserts, and every key inside the watermark stays known. */
static void test_expiry_spread_over_inserts(void)
{
    enc_dedup *d = enc_dedup_new(HOUR_US);
    uint64_t x = 88172645463325252ull;
    size_t max_drop = 0, max_size = 0, prev = 0, cap_early = 0;
    int64_t step = HOUR_US / 10000;
    for (int64_t i = 0; i < 300000; i++) { /* 30 hours */
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        T_CHECK(!check(d, x, i * step));
        size_t n = enc_dedup_size(d);
        if (n + 1 < prev && prev - (n + 1) > max_drop)
            max_drop = prev - (n + 1);
        prev = n;
        if (n > max_size)
            max_size = n;
        if (i == 100000)
            cap_early = enc_dedup_capacity(d);
    }
    T_CHECK(max_drop > 0);   /* keys were forgotten ... */
    T_CHECK(max_drop <= 64); /* ... a few per insert at most */
    T_CHECK(enc_dedup_capacity(d) == cap_early);
    T_CHECK(max_size <= 10000 + 10000 / 8 + enc_dedup_capacity(d) / 8 + 1);
    /* the last half hour is still known */
    uint64_t y = 88172645463325252ull;
    int known = 1;
    for (int64_t i = 0; i < 300000; i++) {
        y ^= y << 13, y ^= y >> 7, y ^= y << 17;
        if (i >= 300000 - 5000)
            known &= check(d, y, i * step);
    }
    T_CHECK(known);
    enc_dedup_free(d);
}

/* Growth into a block the allocator kept from an earlier owner (not zero): the new
 * array is zeroed before any key goes into it, so no stale bytes read as keys. */
static void test_growth_into_reused_memory(void)
{
    for (size_t mib = 4; mib <= 16; mib *= 2) { /* the sizes of 2^18..2^20 slots */
        unsigned char *junk = enc_malloc(mib << 20);
        T_CHECK(junk != NULL);
        if (junk)
            memset(junk, 0xAB, mib << 20);
        enc_free(junk); /* kept for reuse by the allocator (alloc.c) */
    }
    enc_dedup *d = enc_dedup_new(24 * HOUR_US);
    uint64_t mix = 0x9e3779b97f4a7c15u;
    int fresh_ok = 1;
    for (uint64_t i = 1; i <= 700000; i++)
        fresh_ok &= !check(d, i * mix, (int64_t)i);
    T_CHECK(fresh_ok);
    T_CHECK(enc_dedup_size(d) == 700000);
    T_CHECK(enc_dedup_capacity(d) >= (size_t)1 << 20);
    size_t missing = 0;
    for (uint64_t i = 1; i <= 700000; i++)
        missing += !check(d, i * mix, (int64_t)i);
    T_CHECK(missing == 0);
    T_CHECK(!check(d, 700001 * mix, 1)); /* and nothing else is */
    enc_dedup_free(d);
}

int main(void)
{
    T_RUN(test_expiry_spread_over_inserts);
    T_RUN(test_growth_into_reused_memory);
    T_RUN(test_incremental_growth);
    T_RUN(test_duplicates_within_watermark);
    T_RUN(test_expiry_forgets_old_keys_only);
    T_RUN(test_removal_from_wrapping_clusters);
    T_RUN(test_size_flat_in_stream_length);
    T_RUN(test_restore_and_out_of_order);
    return t_summary("test_dedup");
}

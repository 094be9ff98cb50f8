/* dedup — a hash set of (play hash, event time) with watermark expiry (see dedup.h).
 *
 * Open addressing with linear probing over a power-of-two array of 16-byte slots.
 * Expired keys are removed in place by backward-shift deletion (no tombstones, no
 * second array), so the table is rebuilt only to grow, never to expire: its size
 * settles at what one watermark of plays needs and stays there. Growth is incremental:
 * the old array stays readable (nothing is removed from it, so its probe chains hold)
 * while each insert copies the next MIGRATE_STEP of its slots into the new one, so no
 * insert pays for copying the whole set (at 1M keys that was a stall of a tenth of a
 * second or more on the reader thread, which watch mode's latency felt).
 */
#include "dedup.h"

#include <string.h>

#include "alloc.h"
#include "hash.h"

struct enc_dedup {
    enc_dedup_key *slots; /* hash 0 marks an empty slot (a real 0 hash is stored as 1) */
    size_t nslots, n;
    int64_t watermark_us;
    int64_t max_time;      /* newest event time seen */
    int64_t expired_at;    /* horizon of the last expiry pass */
    /* While growing: the previous array, read-only, copied from old_next on. Every key
     * is in exactly one of slots[] and old[old_next..) or in both (copied). */
    enc_dedup_key *old;
    size_t old_nslots, old_next;
};

enc_dedup *enc_dedup_new(int64_t watermark_us)
{
    enc_dedup *d = enc_calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->watermark_us = watermark_us;
    d->max_time = INT64_MIN;
    d->expired_at = INT64_MIN;
    return d;
}

void enc_dedup_free(enc_dedup *d)
{
    if (d) {
        enc_free(d->slots);
        enc_free(d->old);
    }
    enc_free(d);
}

uint64_t enc_dedup_hash(enc_slice user_id, enc_slice song_id, int64_t time_us)
{
    uint64_t h = enc_hash_bytes(user_id.p, user_id.n, (uint64_t)time_us);
    h = enc_hash_bytes(song_id.p, song_id.n, h);
    return h ? h : 1;
}

int64_t enc_dedup_horizon(const enc_dedup *d)
{
    if (d->max_time == INT64_MIN || d->max_time < INT64_MIN + d->watermark_us)
        return INT64_MIN;
    return d->max_time - d->watermark_us;
}

size_t enc_dedup_size(const enc_dedup *d)
{
    return d->n;
}

size_t enc_dedup_capacity(const enc_dedup *d)
{
    return d->nslots + (d->old ? d->old_nslots : 0);
}

void enc_dedup_prefetch(const enc_dedup *d, uint64_t hash)
{
    if (d->nslots)
        __builtin_prefetch(&d->slots[(hash ? hash : 1) & (d->nslots - 1)]);
}

static void place(enc_dedup_key *slots, size_t nslots, enc_dedup_key k)
{
    size_t s = k.hash & (nslots - 1);
    while (slots[s].hash)
        s = (s + 1) & (nslots - 1);
    slots[s] = k;
}

/* Slots of the old array copied per insert while growing. Growth starts at 80 % of the
 * old array (40 % of the new); the copy is done after old_nslots / MIGRATE_STEP inserts,
 * which add at most 12.5 % of the new array: it stays under 55 % full meanwhile. */
#define MIGRATE_STEP 4

static void migrate_some(enc_dedup *d, size_t steps)
{
    for (; steps > 0 && d->old_next < d->old_nslots; steps--, d->old_next++)
        if (d->old[d->old_next].hash)
            place(d->slots, d->nslots, d->old[d->old_next]);
    if (d->old_next == d->old_nslots) {
        enc_free(d->old);
        d->old = NULL;
    }
}

/* Starts growing into a new array of nslots slots; the current one becomes d->old and
 * is copied over by the next inserts (migrate_some). Only for growth: expiry works in
 * place (expire_in_place) and waits until the copy is done. */
static enc_status grow(enc_dedup *d, size_t nslots)
{
    enc_dedup_key *slots = enc_calloc(nslots, sizeof *slots);
    if (!slots)
        return ENC_ERROR;
    d->old = d->slots; /* NULL for the first array */
    d->old_nslots = d->nslots;
    d->old_next = 0;
    d->slots = slots;
    d->nslots = nslots;
    if (!d->old || d->n == 0)
        migrate_some(d, d->old_nslots); /* nothing to copy */
    return ENC_OK;
}

static bool in_table(const enc_dedup_key *slots, size_t nslots, enc_dedup_key k)
{
    size_t s = k.hash & (nslots - 1);
    for (; slots[s].hash; s = (s + 1) & (nslots - 1))
        if (slots[s].hash == k.hash && slots[s].time_us == k.time_us)
            return true;
    return false;
}

/* Empties slot `hole` and closes the gap the way linear probing needs: each later key
 * of the cluster that may move back (its home is not inside (hole, j]) moves into the
 * hole, which then moves on to where that key was. */
static void remove_at(enc_dedup *d, size_t hole)
{
    size_t mask = d->nslots - 1;
    for (size_t j = (hole + 1) & mask; d->slots[j].hash; j = (j + 1) & mask) {
        size_t home = d->slots[j].hash & mask;
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            d->slots[hole] = d->slots[j];
            hole = j;
        }
    }
    d->slots[hole] = (enc_dedup_key){0, 0};
    d->n--;
}

/* Forgets every key older than the horizon without a second table: one pass around the
 * array, starting just after an empty slot so that no cluster is entered in the middle
 * (a removal only pulls keys of its own cluster back into the hole, which is then
 * looked at again). */
static void expire_in_place(enc_dedup *d)
{
    int64_t horizon = enc_dedup_horizon(d);
    if (d->old)
        return; /* growing: the keys are forgotten once the copy is done */
    d->expired_at = horizon;
    if (d->n == 0 || horizon == INT64_MIN)
        return;
    size_t mask = d->nslots - 1, start = 0;
    while (d->slots[start].hash) /* there is an empty slot: the load factor is below 1 */
        start = (start + 1) & mask;
    size_t i = (start + 1) & mask;
    for (size_t seen = 1; seen < d->nslots;) {
        if (d->slots[i].hash && d->slots[i].time_us < horizon) {
            remove_at(d, i); /* slot i may now hold a later key: look again */
            continue;
        }
        i = (i + 1) & mask;
        seen++;
    }
}

/* Room for one more key: first by forgetting expired ones, and only when that leaves
 * the table over GROW_AT full by doubling it. In a steady stream the table so keeps its
 * size: memory follows the plays inside one watermark, not the length of the stream, in
 * power-of-two steps of 16 bytes a slot (256 MiB holds up to 12.6M plays within the
 * watermark). The loads are high for linear probing, but only where the table is about
 * to expire or grow, and the probes of a run of keys are prefetched. */
#define MAX_LOAD 8 /* tenths: expire (or grow) when over 80 % full */
#define GROW_AT 75 /* percent left after expiry that still makes the table double */

static enc_status make_room(enc_dedup *d)
{
    if (d->nslots == 0)
        return grow(d, 1024);
    if (d->old) {
        migrate_some(d, MIGRATE_STEP);
        return ENC_OK;
    }
    if ((d->n + 1) * 10 <= d->nslots * MAX_LOAD)
        return ENC_OK;
    expire_in_place(d);
    if (d->n * 100 <= d->nslots * GROW_AT)
        return ENC_OK;
    return grow(d, d->nslots * 2);
}

static enc_status insert(enc_dedup *d, enc_dedup_key k, bool *dup)
{
    if (!k.hash)
        k.hash = 1;
    if (make_room(d) != ENC_OK)
        return ENC_ERROR;
    if (d->old && in_table(d->old, d->old_nslots, k)) { /* not copied yet, or copied: known */
        *dup = true;
        return ENC_OK;
    }
    size_t s = k.hash & (d->nslots - 1);
    while (d->slots[s].hash) {
        if (d->slots[s].hash == k.hash && d->slots[s].time_us == k.time_us) {
            *dup = true;
            return ENC_OK;
        }
        s = (s + 1) & (d->nslots - 1);
    }
    d->slots[s] = k;
    d->n++;
    *dup = false;
    if (k.time_us > d->max_time)
        d->max_time = k.time_us;
    return ENC_OK;
}

enc_status enc_dedup_check(enc_dedup *d, enc_dedup_key k, bool *dup)
{
    return insert(d, k, dup);
}

enc_status enc_dedup_restore(enc_dedup *d, enc_dedup_key k)
{
    bool dup;
    return insert(d, k, &dup);
}

enc_status enc_dedup_expire(enc_dedup *d)
{
    int64_t horizon = enc_dedup_horizon(d);
    if (horizon == INT64_MIN || d->n == 0)
        return ENC_OK;
    /* A pass costs O(table): do it only once the horizon moved by an eighth of the
     * watermark, so the cost per key stays constant. */
    if (d->expired_at != INT64_MIN && horizon - d->expired_at < d->watermark_us / 8)
        return ENC_OK;
    expire_in_place(d);
    return ENC_OK;
}

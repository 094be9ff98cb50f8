/* dedup — a hash set of (play hash, event time) with watermark expiry (see dedup.h).
 *
 * Open addressing with linear probing over a power-of-two array of 16-byte slots.
 * Expired keys are removed in place by backward-shift deletion (no tombstones, no
 * second array), so the table is rebuilt only to grow, never to expire: its size
 * settles at what one watermark of plays needs and stays there. Nothing costs O(table)
 * at once: expiry is a sweep that visits a few slots per insert, and only once keys
 * may have expired (min_time); growth zeroes the next array a few slots per insert,
 * then copies the old one into it a few slots per insert while the old array stays
 * readable (nothing is removed from it, so its probe chains hold). Each of these was a
 * stall of the reader thread (30 ms for a pass over 2M slots, 120-480 ms to zero 32-64
 * MiB at load 5), which every file landing meanwhile waited for in watch mode.
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
    int64_t min_time;      /* no key in the set is older (INT64_MAX: none seen) */
    /* While growing, first the next array is zeroed (fresh[0..fresh_zeroed)), a few
     * slots per insert, while keys still go to slots[]; then it becomes slots[] and the
     * previous array, read-only, is copied from old_next on. Every key is in exactly one
     * of slots[] and old[old_next..) or in both (copied). */
    enc_dedup_key *fresh;
    size_t fresh_nslots, fresh_zeroed;
    enc_dedup_key *old;
    size_t old_nslots, old_next;
    /* Expiry sweep: visits sweep_left more slots from sweep_pos, a few per insert,
     * removing keys older than the horizon; sweep_min is the oldest key it kept or that
     * was inserted meanwhile, which becomes min_time when the sweep ends. */
    size_t sweep_pos, sweep_left;
    int64_t sweep_min;
    bool urgent;           /* the set is full: sweep faster, then grow if still full */
};

enc_dedup *enc_dedup_new(int64_t watermark_us)
{
    enc_dedup *d = enc_calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->watermark_us = watermark_us;
    d->max_time = INT64_MIN;
    d->min_time = INT64_MAX;
    return d;
}

void enc_dedup_free(enc_dedup *d)
{
    if (d) {
        enc_free(d->slots);
        enc_free(d->fresh);
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
    return d->nslots + (d->old ? d->old_nslots : 0) + (d->fresh ? d->fresh_nslots : 0);
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

/* Work done per insert besides its own probe, in slots, so that no insert pays for a
 * pass over the whole set (at 1.7M keys one expiry pass took 30 ms on the reader thread
 * and zeroing the next array at once 120-480 ms, which every file landing meanwhile
 * waited for):
 * - ZERO_STEP: growth zeroes the next array (twice the size) this many slots per insert
 *   while keys still go to the current one: 2 * nslots / ZERO_STEP inserts, which add
 *   about 3 % to the current array's load. 1 KiB an insert, 1 MiB a 1,000-event file:
 *   at 512 slots (8 MiB a file, first touch of fresh pages) one file took 40 ms.
 * - MIGRATE_STEP: then copies the old array this many slots per insert. Growth starts
 *   at 80 % of the old array (40 % of the new); the copy is done after
 *   old_nslots / MIGRATE_STEP inserts, which add at most 12.5 % of the new array.
 * - SWEEP_STEP: an expiry sweep visits this many slots per insert (a whole pass every
 *   nslots / SWEEP_STEP inserts, an eighth of the table); URGENT_STEP when the set is
 *   80 % full and may hold expired keys (a pass then adds under 2 % before it ends). */
#define ZERO_STEP 64
#define MIGRATE_STEP 4
#define SWEEP_STEP 8
#define URGENT_STEP 64

#define MAX_LOAD 8  /* tenths: sweep (or grow) when over 80 % full */
#define FULL_LOAD 9 /* tenths: grow even while an urgent sweep still runs */
#define GROW_AT 75  /* percent still full after an urgent sweep that makes the table double */

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

/* Starts growing into an array of nslots slots, zeroed by the next inserts (zero_some)
 * and then filled by them (migrate_some). Stops a sweep: nothing is swept meanwhile. */
static enc_status grow(enc_dedup *d, size_t nslots)
{
    enc_dedup_key *fresh = enc_malloc(nslots * sizeof *fresh); /* not calloc: zeroed in steps */
    if (!fresh)
        return ENC_ERROR;
    d->fresh = fresh;
    d->fresh_nslots = nslots;
    d->fresh_zeroed = 0;
    d->sweep_left = 0;
    d->urgent = false;
    return ENC_OK;
}

/* Zeroes the next slots of the array being prepared; once all are, it becomes the
 * table and the current one is copied over by the next inserts (migrate_some). */
static void zero_some(enc_dedup *d, size_t steps)
{
    size_t n = d->fresh_nslots - d->fresh_zeroed;
    if (n > steps)
        n = steps;
    memset(d->fresh + d->fresh_zeroed, 0, n * sizeof *d->fresh);
    d->fresh_zeroed += n;
    if (d->fresh_zeroed < d->fresh_nslots)
        return;
    d->old = d->slots;
    d->old_nslots = d->nslots;
    d->old_next = 0;
    d->slots = d->fresh;
    d->nslots = d->fresh_nslots;
    d->fresh = NULL;
    if (d->n == 0)
        migrate_some(d, d->old_nslots); /* nothing to copy */
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
 * hole, which then moves on to where that key was. Keys only move back to the hole or
 * to slots after it: a sweep that removes at its own position passes over none. */
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

/* True when a key older than the horizon by at least `slack` may be in the set. */
static bool may_expire(const enc_dedup *d, int64_t slack)
{
    int64_t horizon = enc_dedup_horizon(d);
    return d->n > 0 && horizon != INT64_MIN && d->min_time < horizon && horizon - d->min_time >= slack;
}

static void start_sweep(enc_dedup *d)
{
    d->sweep_left = d->nslots;
    d->sweep_min = INT64_MAX;
}

/* Visits up to `steps` slots of the sweep, forgetting keys older than the horizon (a
 * removal counts as a step and looks at the same slot again, which may now hold a later
 * key of its cluster). Once it has visited every slot, the oldest key it kept (or that
 * was inserted meanwhile) is the set's min_time. */
static void sweep_some(enc_dedup *d, size_t steps)
{
    int64_t horizon = enc_dedup_horizon(d);
    size_t mask = d->nslots - 1;
    for (; steps > 0 && d->sweep_left > 0; steps--) {
        const enc_dedup_key *s = &d->slots[d->sweep_pos];
        if (s->hash && s->time_us < horizon) {
            remove_at(d, d->sweep_pos);
            continue;
        }
        if (s->hash && s->time_us < d->sweep_min)
            d->sweep_min = s->time_us;
        d->sweep_pos = (d->sweep_pos + 1) & mask;
        d->sweep_left--;
    }
    if (d->sweep_left == 0)
        d->min_time = d->sweep_min;
}

/* Room for one more key, and the work an insert does besides its own probe (see
 * ZERO_STEP). Over MAX_LOAD full, the set sweeps urgently when it may hold expired keys,
 * and doubles only when it cannot (or an urgent sweep left it over GROW_AT full). In a
 * steady stream the table so keeps its size: memory follows the plays inside one
 * watermark (plus an eighth), not the length of the stream, in power-of-two steps of 16
 * bytes a slot (256 MiB holds up to 12.6M plays within the watermark). */
static enc_status make_room(enc_dedup *d)
{
    if (d->nslots == 0) {
        if (!(d->slots = enc_calloc(1024, sizeof *d->slots)))
            return ENC_ERROR;
        d->nslots = 1024;
        return ENC_OK;
    }
    if (d->fresh) {
        zero_some(d, ZERO_STEP);
        return ENC_OK;
    }
    if (d->old) {
        migrate_some(d, MIGRATE_STEP);
        return ENC_OK;
    }
    if (d->sweep_left > 0) {
        sweep_some(d, d->urgent ? URGENT_STEP : SWEEP_STEP);
        if (d->sweep_left > 0 && (d->n + 1) * 10 > d->nslots * FULL_LOAD)
            return grow(d, d->nslots * 2); /* too full to wait for the sweep */
        if (d->sweep_left == 0 && d->urgent) {
            d->urgent = false;
            if (d->n * 100 > d->nslots * GROW_AT)
                return grow(d, d->nslots * 2);
        }
        return ENC_OK;
    }
    if ((d->n + 1) * 10 > d->nslots * MAX_LOAD) {
        if (!may_expire(d, 0))
            return grow(d, d->nslots * 2);
        start_sweep(d);
        d->urgent = true;
        return ENC_OK;
    }
    /* A sweep once an eighth of the watermark may have expired: the cost per key stays
     * constant and what lingers stays under an eighth of a watermark plus a sweep. */
    if (may_expire(d, d->watermark_us / 8))
        start_sweep(d);
    return ENC_OK;
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
    if (k.time_us < d->min_time)
        d->min_time = k.time_us;
    if (k.time_us < d->sweep_min) /* it may sit behind a running sweep */
        d->sweep_min = k.time_us;
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

/* One whole pass (O(table)): the caller accepts it (start-up, tests). Nothing while
 * growing: the keys are forgotten by the sweeps once the copy is done. */
enc_status enc_dedup_expire(enc_dedup *d)
{
    if (d->old || d->fresh || !may_expire(d, 0))
        return ENC_OK;
    start_sweep(d);
    d->urgent = false;
    sweep_some(d, SIZE_MAX);
    return ENC_OK;
}

/* dedup — a hash set of (play hash, event time) with watermark expiry (see dedup.h). */
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
    if (d)
        enc_free(d->slots);
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

/* Rebuilds the table with room for `want` keys, keeping only keys inside the horizon. */
static enc_status rebuild(enc_dedup *d, size_t want)
{
    size_t nslots = 1024;
    while (nslots * 7 < want * 10)
        nslots *= 2;
    enc_dedup_key *slots = enc_calloc(nslots, sizeof *slots);
    if (!slots)
        return ENC_ERROR;
    int64_t horizon = enc_dedup_horizon(d);
    size_t n = 0;
    for (size_t i = 0; i < d->nslots; i++) {
        if (d->slots[i].hash && d->slots[i].time_us >= horizon) {
            place(slots, nslots, d->slots[i]);
            n++;
        }
    }
    enc_free(d->slots);
    d->slots = slots;
    d->nslots = nslots;
    d->n = n;
    d->expired_at = horizon;
    return ENC_OK;
}

static enc_status insert(enc_dedup *d, enc_dedup_key k, bool *dup)
{
    if (!k.hash)
        k.hash = 1;
    if ((d->n + 1) * 10 > d->nslots * 7 && rebuild(d, (d->n + 1) * 2) != ENC_OK)
        return ENC_ERROR;
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
    /* A full pass costs O(n): do it only once the horizon moved by an eighth of the
     * watermark, so the cost per key stays constant. */
    if (d->expired_at != INT64_MIN && horizon - d->expired_at < d->watermark_us / 8)
        return ENC_OK;
    return rebuild(d, d->n);
}

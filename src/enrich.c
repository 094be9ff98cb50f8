/* enrich — parse, validate, derive and join one batch (see enrich.h). */
#include "enrich.h"

#include <stdio.h>
#include <string.h>

#include "event_json.h"
#include "timestamp.h"

#define JOIN_CHUNK 256 /* rows joined together: enough lookups in flight, all in cache */

static enc_status quarantine(enc_batch *b, const enc_record *r, const char *reason, enc_err *err)
{
    enc_quarantine *q = enc_batch_add_quarantine(b);
    if (!q)
        return enc_err_set(err, "out of memory quarantining a record");
    q->origin = r->origin;
    q->line = r->line;
    q->reason = reason;
    size_t n = r->text.n < ENC_QUARANTINE_RAW_MAX ? r->text.n : ENC_QUARANTINE_RAW_MAX;
    q->raw = enc_slice_make(r->text.p, n);
    b->stats.quarantined++;
    return ENC_OK;
}

/* Copies a formatted reason into the arena (reasons must live as long as the batch). */
static const char *reason_dup(enc_batch *b, const char *fmt, const char *field, enc_slice val)
{
    char tmp[256];
    int shown = val.n > 64 ? 64 : (int)val.n;
    int n = snprintf(tmp, sizeof tmp, fmt, field, shown, val.p ? val.p : "");
    if (n < 0)
        return "invalid record";
    if ((size_t)n >= sizeof tmp)
        n = sizeof tmp - 1;
    char *d = enc_arena_alloc(&b->arena, (size_t)n + 1);
    if (!d)
        return "invalid record";
    memcpy(d, tmp, (size_t)n + 1);
    return d;
}

static const char *const missing_reason[ENC_EV_NFIELDS] = {
    [ENC_EV_USER_ID] = "user_id is missing or null",
    [ENC_EV_SONG_ID] = "song_id is missing or null",
    [ENC_EV_TIMESTAMP] = "timestamp is missing or null",
};

/* `{members,"_file_path":"..."}` in the arena. */
static enc_slice rescued_json(enc_batch *b, enc_slice members, const char *origin_json)
{
    static const char key[] = ",\"_file_path\":";
    size_t olen = strlen(origin_json);
    size_t n = 1 + members.n + sizeof key - 1 + olen + 1;
    char *d = enc_arena_alloc(&b->arena, n);
    if (!d)
        return ENC_SLICE_NULL;
    char *w = d;
    *w++ = '{';
    memcpy(w, members.p, members.n);
    w += members.n;
    memcpy(w, key, sizeof key - 1);
    w += sizeof key - 1;
    memcpy(w, origin_json, olen);
    w += olen;
    *w++ = '}';
    return enc_slice_make(d, n);
}

/* What the previous row's timestamp was: events come roughly in time order and many
 * share a second, so most rows repeat the text of the one before and can reuse its
 * microseconds and its formatted event_time (rows then share those arena bytes, which
 * is fine: row slices are read-only). Lives for one enc_enrich_records call, like the
 * arena bytes it points at. */
typedef struct {
    enc_slice text;          /* the last good timestamp's raw value; p == NULL: none yet */
    unsigned char is_string; /* ... and whether it was a JSON string */
    int64_t us;
    enc_slice when; /* its event_time, in the arena */
    enc_ts_date_cache date;
} time_cache;

enum { TIME_OK, TIME_BAD, TIME_NOMEM };

/* Parses the event's timestamp into tc->us and formats tc->when, unless its text is the
 * last one's. On TIME_BAD the cache still holds the last good timestamp. */
static int event_time(enc_arena *arena, time_cache *tc, const enc_event *ev)
{
    enc_slice t = ev->field[ENC_EV_TIMESTAMP];
    unsigned char is_string = ev->is_string[ENC_EV_TIMESTAMP];
    if (tc->text.p && t.n == tc->text.n && is_string == tc->is_string && memcmp(t.p, tc->text.p, t.n) == 0)
        return TIME_OK;
    int64_t us;
    enc_status st = is_string ? enc_ts_parse_iso(t.p, t.n, &us) : enc_ts_parse_epoch(t.p, t.n, &us);
    if (st != ENC_OK)
        return TIME_BAD;
    if (!tc->text.p || us != tc->us) {
        char *when = enc_arena_alloc(arena, ENC_TS_FORMAT_MAX);
        if (!when)
            return TIME_NOMEM;
        tc->when = enc_slice_make(when, enc_ts_format_cached(&tc->date, us, when));
        tc->us = us;
    }
    tc->text = t;
    tc->is_string = is_string;
    return TIME_OK;
}

/* Fills the song and user columns of rows[0..n) (their ids and device already set). */
static void join_chunk(const enc_enrich_ctx *ctx, enc_row *rows, size_t n)
{
    enc_slice sids[JOIN_CHUNK], uids[JOIN_CHUNK];
    const enc_song *songs[JOIN_CHUNK];
    const enc_user *users[JOIN_CHUNK];
    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++) {
        sids[i] = rows[i].text[ENC_COL_SONG_ID];
        uids[i] = rows[i].text[ENC_COL_USER_ID];
    }
    enc_songs_get_many(ctx->songs, sids, n, songs);
    enc_users_join_many(ctx->users, uids, n, users);
    for (size_t i = 0; i < n; i++) {
        enc_row *row = &rows[i];
        const enc_song *s = songs[i];
        const enc_user *u = users[i];
        row->text[ENC_COL_TITLE] = s ? s->title : ENC_SLICE_NULL;
        row->text[ENC_COL_ARTIST] = s ? s->artist : ENC_SLICE_NULL;
        row->text[ENC_COL_GENRE] = s ? s->genre : ENC_SLICE_NULL;
        row->duration = s ? s->duration : -1;
        row->song_ix = s ? (uint32_t)enc_songs_index(ctx->songs, s) + 1 : 0; /* rows are uint32-numbered (dim.c) */
        row->text[ENC_COL_COUNTRY] = u ? u->country : ENC_SLICE_NULL;
        row->text[ENC_COL_SUBSCRIPTION] = u ? u->subscription : ENC_SLICE_NULL;
        if (!row->text[ENC_COL_DEVICE].p && u)
            row->text[ENC_COL_DEVICE] = u->device;
    }
}

static enc_status enrich_one(enc_batch *b, time_cache *tc, const enc_record *r, enc_err *err)
{
    if (r->error)
        return quarantine(b, r, r->error, err);
    enc_event ev;
    enc_event_error perr;
    enc_evp_code code = enc_event_parse(r->text.p, r->text.n, &b->arena, &ev, &perr);
    if (code == ENC_EVP_NOMEM)
        return enc_err_set(err, "out of memory parsing events");
    if (code != ENC_EVP_OK) {
        const char *reason = enc_arena_dup(&b->arena, perr.msg, strlen(perr.msg) + 1);
        return quarantine(b, r, reason ? reason : "invalid JSON", err);
    }
    for (int f = 0; f < ENC_EV_DEVICE; f++)
        if (!ev.field[f].p)
            return quarantine(b, r, missing_reason[f], err);
    int tr = event_time(&b->arena, tc, &ev);
    if (tr == TIME_BAD) {
        const char *reason = reason_dup(b, "%s '%.*s' is not an ISO 8601 date-time or an epoch number", "timestamp",
                                        ev.field[ENC_EV_TIMESTAMP]);
        return quarantine(b, r, reason, err);
    }
    enc_row *row = tr == TIME_OK ? enc_batch_add_row(b) : NULL;
    if (!row)
        return enc_err_set(err, "out of memory enriching events");
    row->text[ENC_COL_SONG_ID] = ev.field[ENC_EV_SONG_ID];
    row->text[ENC_COL_USER_ID] = ev.field[ENC_EV_USER_ID];
    row->text[ENC_COL_TIMESTAMP] = ev.field[ENC_EV_TIMESTAMP];
    row->text[ENC_COL_RESCUED] = ENC_SLICE_NULL;
    if (ev.rescued.p) {
        row->text[ENC_COL_RESCUED] = rescued_json(b, ev.rescued, r->origin_json);
        if (!row->text[ENC_COL_RESCUED].p)
            return enc_err_set(err, "out of memory building _rescued_data");
        b->stats.rescued++;
    }
    row->text[ENC_COL_DEVICE] = ev.field[ENC_EV_DEVICE]; /* the user's when NULL: join_chunk */
    row->event_time_us = tc->us;
    row->event_time = tc->when;
    row->rec = r;
    b->stats.rows++;
    return ENC_OK;
}

/* Room for a row per record from `from` on, reserved at once so that adding rows never
 * moves the array. When a batch is enriched piece by piece (pipeline.c after each poll),
 * the room at least doubles: growing by just the new records would copy the rows made so
 * far at every call (into fresh memory, since large blocks move: alloc.c). */
static enc_status reserve_rows(enc_batch *b, size_t from)
{
    size_t more = from < b->nrecs ? b->nrecs - from : 0;
    if (b->cap_rows - b->nrows >= more)
        return ENC_OK;
    return enc_batch_reserve_rows(b, more > b->nrows ? more : b->nrows);
}

/* Parses and joins a chunk of records at a time: the dimension lookups are cache
 * misses, and batched they overlap; the chunk's rows are still in cache when joined. */
enc_status enc_enrich_batch(const enc_enrich_ctx *ctx, enc_batch *b, enc_err *err)
{
    return enc_enrich_records(ctx, b, 0, err);
}

enc_status enc_enrich_records(const enc_enrich_ctx *ctx, enc_batch *b, size_t from, enc_err *err)
{
    time_cache tc;
    memset(&tc, 0, sizeof tc);
    if (reserve_rows(b, from) != ENC_OK)
        return enc_err_set(err, "out of memory enriching events");
    size_t i = from;
    while (i < b->nrecs) {
        size_t first = b->nrows;
        for (; i < b->nrecs && b->nrows - first < JOIN_CHUNK; i++)
            if (enrich_one(b, &tc, &b->recs[i], err) != ENC_OK)
                return ENC_ERROR;
        join_chunk(ctx, &b->rows[first], b->nrows - first);
    }
    return ENC_OK;
}

/* quality — data-quality expectations over a batch's rows (see quality.h). */
#include "quality.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "hash.h"

#define SAMPLE_BYTES 40 /* of one value in a sample */

/* Values seen by one unique rule: 64-bit key hash → newest event time, forgotten once
 * older than the newest event time minus the watermark. */
typedef struct {
    uint64_t *hash; /* 0 = empty slot */
    int64_t *time;
    size_t nslots, n;
    int64_t max_time;
} uniq_set;

enum { NREF = 12 }; /* reference checks: 7 on songs, 5 on users (ref_songs, ref_users) */

struct enc_quality {
    enc_quality_config cfg;
    enc_quality_total *totals; /* rules->n, then NREF reference checks */
    size_t nref;               /* reference checks done (0 or NREF) */
    uniq_set *uniq;            /* one per rule; used by unique rules only */
    bool stopped;
    bool any_fail;
};

/* ---- samples ------------------------------------------------------------------ */

/* Appends v (JSON null when v.p is NULL) to the JSON array in out if it fits. */
static void sample_add(char out[256], enc_slice v)
{
    enc_buf b;
    enc_buf_init(&b, 200);
    enc_status st;
    if (!v.p)
        st = enc_buf_append(&b, "null", 4);
    else
        st = enc_buf_append_json_string(&b, v.p, v.n < SAMPLE_BYTES ? v.n : SAMPLE_BYTES);
    size_t len = strlen(out);
    if (len < 2)
        len = 0; /* not yet an array */
    if (st == ENC_OK && len + b.len + 3 < 256) {
        if (len == 0)
            out[len++] = '[';
        else
            out[--len] = '\0'; /* drop ']' */
        if (len > 1)
            out[len++] = ',';
        memcpy(out + len, b.data, b.len);
        len += b.len;
        out[len++] = ']';
        out[len] = '\0';
    }
    enc_buf_free(&b);
}

/* ---- values --------------------------------------------------------------------- */

static enc_slice value_of(const enc_row *r, int col, char tmp[24])
{
    if (col < ENC_COL_NTEXT)
        return r->text[col];
    if (col == ENC_RCOL_EVENT_TIME)
        return r->event_time;
    if (r->duration < 0)
        return ENC_SLICE_NULL;
    return enc_slice_make(tmp, (size_t)snprintf(tmp, 24, "%d", (int)r->duration));
}

/* The key of a unique rule as text ("a|b"), for samples and messages. */
static enc_slice key_text(const enc_rule *rule, const enc_row *r, char out[128])
{
    size_t o = 0;
    for (int i = 0; i < rule->ncols; i++) {
        char tmp[24];
        enc_slice v = value_of(r, rule->cols[i], tmp);
        int w = snprintf(out + o, 128 - o, "%s%.*s", i ? "|" : "", (int)v.n, v.p ? v.p : "");
        o += w < 0 ? 0 : (size_t)w;
        if (o >= 127)
            return enc_slice_make(out, 127);
    }
    return enc_slice_make(out, o);
}

static size_t utf8_length(enc_slice v)
{
    size_t n = 0;
    for (size_t i = 0; i < v.n; i++)
        n += ((unsigned char)v.p[i] & 0xc0) != 0x80;
    return n;
}

static bool in_bounds_num(const enc_rule *r, double v)
{
    return (!r->min.set || v >= r->min.num) && (!r->max.set || v <= r->max.num);
}

static bool in_bounds_time(const enc_rule *r, int64_t t, int64_t now)
{
    int64_t lo = r->min.relative ? now + r->min.us : r->min.us;
    int64_t hi = r->max.relative ? now + r->max.us : r->max.us;
    return (!r->min.set || t >= lo) && (!r->max.set || t <= hi);
}

static bool in_set(const enc_rule *r, enc_slice v)
{
    for (size_t i = 0; i < r->nset; i++)
        if (enc_slice_eq(v, r->set[i].p, r->set[i].n))
            return true;
    return false;
}

static bool matches(const enc_rule *r, enc_slice v)
{
    regmatch_t m = {.rm_so = 0, .rm_eo = (regoff_t)v.n};
    return regexec(&r->re, v.p, 1, &m, REG_STARTEND) == 0;
}

static bool exists_in(const enc_quality *q, const enc_rule *r, enc_slice v)
{
    if (r->ref == ENC_REF_SONGS)
        return q->cfg.songs && enc_songs_get(q->cfg.songs, v.p, v.n);
    return q->cfg.users && enc_users_get(q->cfg.users, v.p, v.n);
}

/* ---- uniqueness ------------------------------------------------------------------- */

static int64_t uniq_horizon(const enc_quality *q, const uniq_set *u)
{
    if (q->cfg.watermark_us == 0) /* within one batch: the set is cleared per batch */
        return INT64_MIN;
    if (u->max_time == INT64_MIN || u->max_time < INT64_MIN + q->cfg.watermark_us)
        return INT64_MIN;
    return u->max_time - q->cfg.watermark_us;
}

/* Rebuilds with room for `want` live entries, dropping those outside the watermark. */
static enc_status uniq_rebuild(const enc_quality *q, uniq_set *u, size_t want)
{
    size_t nslots = 1024;
    while (nslots * 7 < want * 10)
        nslots *= 2;
    uint64_t *h = enc_calloc(nslots, sizeof *h);
    int64_t *t = enc_calloc(nslots, sizeof *t);
    if (!h || !t) {
        enc_free(h);
        enc_free(t);
        return ENC_ERROR;
    }
    int64_t horizon = uniq_horizon(q, u);
    size_t n = 0;
    for (size_t i = 0; i < u->nslots; i++) {
        if (!u->hash[i] || u->time[i] < horizon)
            continue;
        size_t s = u->hash[i] & (nslots - 1);
        while (h[s])
            s = (s + 1) & (nslots - 1);
        h[s] = u->hash[i];
        t[s] = u->time[i];
        n++;
    }
    enc_free(u->hash);
    enc_free(u->time);
    u->hash = h;
    u->time = t;
    u->nslots = nslots;
    u->n = n;
    return ENC_OK;
}

/* 1 when the key is new within the watermark (and remembers it), 0 when seen, -1 OOM. */
static int uniq_check(const enc_quality *q, uniq_set *u, uint64_t key, int64_t t)
{
    if ((u->n + 1) * 10 > u->nslots * 7 && uniq_rebuild(q, u, (u->n + 1) * 2) != ENC_OK)
        return -1;
    if (t > u->max_time)
        u->max_time = t;
    int64_t horizon = uniq_horizon(q, u);
    size_t s = key & (u->nslots - 1);
    while (u->hash[s]) {
        if (u->hash[s] == key) {
            bool seen = u->time[s] >= horizon;
            if (t > u->time[s])
                u->time[s] = t;
            return seen ? 0 : 1;
        }
        s = (s + 1) & (u->nslots - 1);
    }
    u->hash[s] = key;
    u->time[s] = t;
    u->n++;
    return 1;
}

static int check_unique(enc_quality *q, size_t ri, const enc_rule *r, const enc_row *row)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < r->ncols; i++) {
        char tmp[24];
        enc_slice v = value_of(row, r->cols[i], tmp);
        if (!v.p)
            return 1; /* a key with a NULL part is not compared, as in SQL UNIQUE */
        h = enc_hash_bytes(v.p, v.n, h + v.n);
    }
    return uniq_check(q, &q->uniq[ri], h ? h : 1, row->event_time_us);
}

/* 1 = the row passes rule ri, 0 = it fails, -1 = out of memory. NULL passes every
 * expectation but not_be_null, as in Great Expectations. */
static int check_row(enc_quality *q, size_t ri, const enc_row *row, int64_t now)
{
    const enc_rule *r = &q->cfg.rules->rules[ri];
    char tmp[24];
    enc_slice v = value_of(row, r->cols[0], tmp);
    if (r->kind == ENC_EXP_NOT_NULL)
        return v.p != NULL;
    if (r->kind == ENC_EXP_UNIQUE)
        return check_unique(q, ri, r, row);
    if (!v.p)
        return 1;
    switch (r->kind) {
    case ENC_EXP_IN_SET: return in_set(r, v);
    case ENC_EXP_MATCH_REGEX: return matches(r, v);
    case ENC_EXP_EXIST_IN: return exists_in(q, r, v);
    case ENC_EXP_LENGTHS_BETWEEN: return in_bounds_num(r, (double)utf8_length(v));
    case ENC_EXP_BETWEEN:
        if (r->cols[0] == ENC_RCOL_EVENT_TIME)
            return in_bounds_time(r, row->event_time_us, now);
        return in_bounds_num(r, (double)row->duration);
    default: return 1;
    }
}

/* ---- one rule over one batch ---------------------------------------------------------- */

static enc_slice shown_value(const enc_rule *r, const enc_row *row, char buf[128])
{
    if (r->kind == ENC_EXP_UNIQUE)
        return key_text(r, row, buf);
    return value_of(row, r->cols[0], buf);
}

static enc_status stop(enc_quality *q, const enc_rule *r, const enc_row *row, enc_err *err)
{
    char buf[128];
    enc_slice v = shown_value(r, row, buf);
    q->stopped = true;
    return enc_err_set(err, "rule %s failed on %s:%lld (%s %s%.*s%s; rule at %s:%d)", r->name, row->rec->origin,
                       (long long)row->rec->line, r->column, v.p ? "'" : "", v.p ? (int)(v.n > 60 ? 60 : v.n) : 4,
                       v.p ? v.p : "NULL", v.p ? "'" : "", q->cfg.rules->path, r->line);
}

static enc_status quarantine_row(enc_batch *b, const enc_rule *r, const enc_row *row)
{
    enc_quarantine *qr = enc_batch_add_quarantine(b);
    if (!qr)
        return ENC_ERROR;
    qr->origin = row->rec->origin;
    qr->line = row->rec->line;
    qr->reason = r->name;
    enc_slice raw = row->rec->text;
    qr->raw = enc_slice_make(raw.p, raw.n < ENC_QUARANTINE_RAW_MAX ? raw.n : ENC_QUARANTINE_RAW_MAX);
    b->stats.quarantined++;
    b->stats.rows--;
    if (row->text[ENC_COL_RESCUED].p)
        b->stats.rescued--;
    return ENC_OK;
}

/* Runs rule ri over the batch's rows, compacting away the rows it quarantines. */
static enc_status run_rule(enc_quality *q, size_t ri, enc_batch *b, int64_t now, enc_quality_result *res,
                           enc_err *err)
{
    const enc_rule *r = &q->cfg.rules->rules[ri];
    size_t kept = 0;
    for (size_t i = 0; i < b->nrows; i++) {
        const enc_row *row = &b->rows[i];
        int ok = check_row(q, ri, row, now);
        if (ok < 0)
            return enc_err_set(err, "out of memory checking rule %s", r->name);
        res->evaluated++;
        if (!ok) {
            res->failed++;
            if (res->failed <= ENC_QUALITY_SAMPLES) {
                char buf[128];
                sample_add(res->samples, shown_value(r, row, buf));
            }
            if (r->action == ENC_ACT_FAIL)
                q->any_fail = true;
            if (r->action == ENC_ACT_FAIL && q->cfg.stop_on_fail)
                return stop(q, r, row, err);
            if (r->action == ENC_ACT_QUARANTINE) {
                if (quarantine_row(b, r, row) != ENC_OK)
                    return enc_err_set(err, "out of memory quarantining a row");
                continue;
            }
        }
        b->rows[kept++] = *row;
    }
    b->nrows = kept;
    return ENC_OK;
}

static void add_total(enc_quality_total *t, const enc_quality_result *r)
{
    if (t->failed == 0 && r->failed > 0) /* the first failing batch's samples */
        memcpy(t->samples, r->samples, sizeof t->samples);
    t->batches++;
    t->evaluated += r->evaluated;
    t->failed += r->failed;
}

enc_status enc_quality_check_batch(enc_quality *q, enc_batch *b, int64_t now_us, enc_err *err)
{
    const enc_rules *rs = q->cfg.rules;
    size_t nrules = b->nrows > 0 ? rs->n : 0; /* a batch without rows has nothing to report */
    for (size_t ri = 0; ri < nrules; ri++) {
        const enc_rule *r = &rs->rules[ri];
        if (r->kind == ENC_EXP_UNIQUE && q->cfg.watermark_us == 0)
            q->uniq[ri].n = 0, memset(q->uniq[ri].hash, 0, q->uniq[ri].nslots * sizeof *q->uniq[ri].hash);
        enc_quality_result *res = enc_batch_add_quality_result(b);
        if (!res)
            return enc_err_set(err, "out of memory");
        *res = (enc_quality_result){.rule = r->name, .column = r->column, .action = enc_rule_action_name(r->action)};
        strcpy(res->samples, "[]");
        if (run_rule(q, ri, b, now_us, res, err) != ENC_OK)
            return ENC_ERROR;
        add_total(&q->totals[ri], res);
    }
    return ENC_OK;
}

/* ---- reference data ------------------------------------------------------------------ */

typedef struct {
    const char *rule, *column;
    int64_t evaluated, failed;
    char samples[256];
} ref_check;

static void ref_set(enc_quality *q, const ref_check *c)
{
    if (q->nref == NREF)
        return; /* cannot happen: NREF counts every check below */
    enc_quality_total *t = &q->totals[q->cfg.rules->n + q->nref++];
    *t = (enc_quality_total){.rule = c->rule, .column = c->column, .action = "warn", .batches = 1,
                             .evaluated = c->evaluated, .failed = c->failed};
    snprintf(t->samples, sizeof t->samples, "%s", c->samples[0] ? c->samples : "[]");
}

/* ids unique and non-empty */
static void ref_ids(enc_quality *q, const char *column, const char *empty_col, size_t count,
                    const enc_dim_load_report *rep)
{
    ref_check c = {.rule = "expect_column_values_to_be_unique", .column = column,
                   .evaluated = (int64_t)(count + rep->duplicate_ids), .failed = (int64_t)rep->duplicate_ids};
    if (rep->duplicate_ids)
        sample_add(c.samples, enc_slice_cstr(rep->first_duplicate));
    ref_set(q, &c);
    ref_check e = {.rule = "expect_column_values_to_not_be_null", .column = empty_col,
                   .evaluated = (int64_t)(count + rep->duplicate_ids + rep->empty_ids),
                   .failed = (int64_t)rep->empty_ids};
    ref_set(q, &e);
}

static void ref_null(ref_check *c, const char *column, size_t count, enc_slice id, enc_slice v)
{
    c->rule = "expect_column_values_to_not_be_null";
    c->column = column;
    c->evaluated = (int64_t)count;
    if (!v.p && ++c->failed <= ENC_QUALITY_SAMPLES)
        sample_add(c->samples, id);
}

static void ref_songs(enc_quality *q)
{
    const enc_songs *t = q->cfg.songs;
    size_t n = enc_songs_count(t);
    ref_ids(q, "songs.song_id", "songs.song_id", n, enc_songs_load_report(t));
    static const char *const cols[4] = {"songs.title", "songs.artist", "songs.genre", "songs.duration"};
    ref_check c[4] = {{0}}, pos = {.rule = "expect_column_values_to_be_between", .column = "songs.duration"};
    for (int k = 0; k < 4; k++)
        ref_null(&c[k], cols[k], n, ENC_SLICE_NULL, enc_slice_cstr(""));
    for (size_t i = 0; i < n; i++) {
        const enc_song *s = enc_songs_at(t, i);
        enc_slice dur = s->duration >= 0 ? enc_slice_cstr("") : ENC_SLICE_NULL;
        ref_null(&c[0], cols[0], n, s->song_id, s->title);
        ref_null(&c[1], cols[1], n, s->song_id, s->artist);
        ref_null(&c[2], cols[2], n, s->song_id, s->genre);
        ref_null(&c[3], cols[3], n, s->song_id, dur);
        if (s->duration >= 0)
            pos.evaluated++;
        if (s->duration == 0 && ++pos.failed <= ENC_QUALITY_SAMPLES)
            sample_add(pos.samples, s->song_id);
    }
    for (int k = 0; k < 4; k++)
        ref_set(q, &c[k]);
    ref_set(q, &pos);
}

static void ref_users(enc_quality *q)
{
    const enc_users *t = q->cfg.users;
    size_t n = enc_users_count(t);
    ref_ids(q, "users.user_id", "users.user_id", n, enc_users_load_report(t));
    static const char *const cols[3] = {"users.country", "users.subscription", "users.device"};
    ref_check c[3] = {{0}};
    for (int k = 0; k < 3; k++)
        ref_null(&c[k], cols[k], n, ENC_SLICE_NULL, enc_slice_cstr(""));
    for (size_t i = 0; i < n; i++) {
        const enc_user *u = enc_users_at(t, i);
        ref_null(&c[0], cols[0], n, u->user_id, u->country);
        ref_null(&c[1], cols[1], n, u->user_id, u->subscription);
        ref_null(&c[2], cols[2], n, u->user_id, u->device);
    }
    for (int k = 0; k < 3; k++)
        ref_set(q, &c[k]);
}

int enc_quality_check_reference(enc_quality *q, enc_warn_fn warn, void *warn_arg)
{
    if (!q->cfg.songs || !q->cfg.users || q->nref > 0)
        return 0;
    ref_songs(q);
    ref_users(q);
    int failing = 0;
    for (size_t i = 0; i < q->nref; i++) {
        const enc_quality_total *t = &q->totals[q->cfg.rules->n + i];
        if (t->failed == 0)
            continue;
        failing++;
        if (warn) {
            char msg[512];
            snprintf(msg, sizeof msg, "reference data: %s %s: %lld of %lld rows fail, e.g. %s", t->rule, t->column,
                     (long long)t->failed, (long long)t->evaluated, t->samples);
            warn(warn_arg, msg);
        }
    }
    return failing;
}

/* ---- life cycle ---------------------------------------------------------------------- */

enc_status enc_quality_new(enc_quality **out, const enc_quality_config *cfg, enc_err *err)
{
    *out = NULL;
    enc_quality *q = enc_calloc(1, sizeof *q);
    if (!q)
        return enc_err_set(err, "out of memory");
    q->cfg = *cfg;
    size_t n = cfg->rules->n;
    q->totals = enc_calloc(n + NREF, sizeof *q->totals);
    q->uniq = enc_calloc(n ? n : 1, sizeof *q->uniq);
    if (!q->totals || !q->uniq)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        const enc_rule *r = &cfg->rules->rules[i];
        q->totals[i] = (enc_quality_total){.rule = r->name, .column = r->column,
                                           .action = enc_rule_action_name(r->action)};
        strcpy(q->totals[i].samples, "[]");
        q->uniq[i].max_time = INT64_MIN;
        if (r->kind == ENC_EXP_UNIQUE && uniq_rebuild(q, &q->uniq[i], 0) != ENC_OK)
            goto oom;
    }
    *out = q;
    return ENC_OK;
oom:
    enc_quality_free(q);
    return enc_err_set(err, "out of memory");
}

void enc_quality_free(enc_quality *q)
{
    if (!q)
        return;
    for (size_t i = 0; q->uniq && i < q->cfg.rules->n; i++) {
        enc_free(q->uniq[i].hash);
        enc_free(q->uniq[i].time);
    }
    enc_free(q->uniq);
    enc_free(q->totals);
    enc_free(q);
}

bool enc_quality_stopped(const enc_quality *q)
{
    return q->stopped;
}

bool enc_quality_may_quarantine(const enc_quality *q)
{
    for (size_t i = 0; i < q->cfg.rules->n; i++)
        if (q->cfg.rules->rules[i].action == ENC_ACT_QUARANTINE)
            return true;
    return false;
}

bool enc_quality_any_fail(const enc_quality *q)
{
    return q->any_fail;
}

const enc_quality_total *enc_quality_totals(const enc_quality *q, size_t *n)
{
    *n = q->cfg.rules->n + q->nref;
    return q->totals;
}

/* pipeline — reader/enricher thread, writer thread, bounded batch queue. */
#include "pipeline.h"

#include <pthread.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agg.h"
#include "alloc.h"
#include "clock.h"
#include "enrich.h"
#include "radix.h"
#include "trace.h"

#define NBATCH (ENC_PIPELINE_QUEUE + 1) /* one being filled, the rest queued or writing */

/* Shared between the two threads; every field guarded by `mu`. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t changed;
    enc_batch *free_list[NBATCH];
    size_t nfree;
    enc_batch *ready[NBATCH]; /* FIFO */
    size_t head, count;
    bool closed;              /* reader is done: writer exits when ready is empty */
    bool failed;              /* writer gave up: err holds why */
    enc_err err;
    enc_pipeline_stats committed;
} batch_queue;

/* One batch's aggregates, made on a thread of their own (see agg_make). */
typedef struct {
    enc_batch *b;
    enc_agg_scratch *ws;
    pthread_t thread;
    bool running; /* started and not joined yet */
    bool done;    /* b->agg is made (rc ENC_OK) or failed (rc, err) */
    enc_status rc;
    enc_err err;
} agg_job;

typedef struct {
    const enc_pipeline_config *cfg;
    void *sink_ctx;
    int64_t started_us;
    enc_dedup *dedup; /* reader thread only; NULL when the watermark is 0 */
    bool agg_early;   /* aggregate rows as they come (no rule can quarantine them later) */
    enc_agg_scratch *agg_ws; /* every batch's agg shares it: one is filled and sorted at a time */
    bool agg_beside;  /* --once: aggregate a batch on its own thread while the writer writes it */
    agg_job jobs[2];  /* writer thread only: the batch being written's, and the next one's */
    agg_job *ahead;   /* the job started for the next batch (start_ahead), or NULL */
    enc_sort_item *sort_items; /* reader thread's scratch for sorting rows (owned): 2 * items_cap */
    size_t items_cap;
    enc_row *sort_rows;        /* sort_cap rows; swapped with a batch's rows by each sort */
    size_t sort_cap;
    batch_queue q;
} pipeline;

static bool stop_requested(const pipeline *p)
{
    return p->cfg->stop && *p->cfg->stop;
}

/* ---- writer thread ------------------------------------------------------------ */

static enc_status add_aggregates(enc_agg_scratch *ws, enc_batch *b, size_t from, enc_err *err);

/* With --once the reader thread was the bottleneck, half of its time making aggregate
 * deltas, while the writer waited for batches. So with --once a sealed batch comes
 * without them, and each is made on a thread of its own (agg_main), which runs while the
 * writer begins the transaction and writes the rows; the writer joins it just before it
 * writes the aggregates. The job only reads the batch's rows and fills b->agg; the writer
 * only reads the rows meanwhile. Without a thread (pthread_create failed) the writer makes
 * them itself. Watch mode keeps making them on the reader, as the records arrive.
 *
 * A job may start ahead, too: once a batch's job is done and the writer goes on to write
 * its aggregates and commit (an fsync it waits for with a CPU to spare), the next batch's
 * aggregates are made meanwhile if it is queued (start_ahead: the batches share one
 * scratch, which the sort of the batch being written gave back, and two outputs, one of
 * which that batch holds until it is reset, as a retry writes it again). At 1M events this
 * took the writer's share of the CPU back from the agg thread (bench/RESULTS.md, session
 * 10). */
static void agg_make(agg_job *j)
{
    int64_t t = enc_trace_start();
    j->rc = add_aggregates(j->ws, j->b, 0, &j->err);
    enc_trace_end("a.add", t, (int64_t)j->b->nrows, 0);
    t = enc_trace_start();
    if (j->rc == ENC_OK && j->b->agg && enc_agg_sort(j->b->agg) != ENC_OK)
        j->rc = enc_err_set(&j->err, "out of memory sorting aggregates");
    enc_trace_end("a.sort", t, (int64_t)j->b->nrows, 0);
    j->done = true;
}

static void *agg_main(void *arg)
{
    prctl(PR_SET_NAME, "encore-agg");
    agg_make(arg);
    return NULL;
}

static void agg_job_start(agg_job *j, enc_batch *b, enc_agg_scratch *ws)
{
    *j = (agg_job){.b = b, .ws = ws};
    j->running = pthread_create(&j->thread, NULL, agg_main, j) == 0;
}

/* Waits for the job's thread, if it has one, whatever it made. */
static void agg_job_join(agg_job *j)
{
    if (j->running)
        pthread_join(j->thread, NULL);
    j->running = false;
}

/* Waits for the job (or does it here, when it has no thread); then b->agg is ready. */
static enc_status agg_job_finish(agg_job *j, enc_err *err)
{
    agg_job_join(j);
    if (!j->done)
        agg_make(j);
    if (j->rc != ENC_OK)
        *err = j->err;
    return j->rc;
}

/* One writer step, traced (trace.h) with the batch's rows and files. */
#define STEP(name, call)                                                                                               \
    do {                                                                                                               \
        int64_t t_ = enc_trace_start();                                                                                \
        rc = (call);                                                                                                   \
        enc_trace_end(name, t_, (int64_t)b->nrows, (int64_t)b->npos);                                                  \
    } while (0)

/* The batch after the one being written (ready[head]), when it is queued already. */
static enc_batch *peek_next(batch_queue *q)
{
    pthread_mutex_lock(&q->mu);
    enc_batch *b = q->count >= 2 ? q->ready[(q->head + 1) % NBATCH] : NULL;
    pthread_mutex_unlock(&q->mu);
    return b;
}

/* Once the job of the batch being written is done (its sort gave the scratch back): the
 * next batch's job starts now, if that batch is queued. */
static void start_ahead(pipeline *p, const agg_job *done)
{
    enc_batch *next;
    if (!done || p->ahead || !(next = peek_next(&p->q)))
        return;
    p->ahead = done == &p->jobs[0] ? &p->jobs[1] : &p->jobs[0];
    agg_job_start(p->ahead, next, p->agg_ws);
}

/* Before the batch the job ahead was started for is dropped or freed. */
static void join_ahead(pipeline *p)
{
    if (p->ahead)
        agg_job_join(p->ahead);
    p->ahead = NULL;
}

/* The job of batch b: the one started ahead for it, or a new one. */
static agg_job *take_job(pipeline *p, enc_batch *b)
{
    agg_job *j = p->ahead;
    p->ahead = NULL;
    if (j && j->b == b)
        return j;
    if (j) /* not the batch that came next: cannot happen, as batches are written in order */
        agg_job_join(j);
    j = j == &p->jobs[0] ? &p->jobs[1] : &p->jobs[0];
    agg_job_start(j, b, p->agg_ws);
    return j;
}

static enc_status write_batch(pipeline *p, enc_batch *b, agg_job *job, enc_err *err)
{
    const enc_sink_ops *s = p->cfg->sink;
    void *c = p->sink_ctx;
    enc_status rc;
    int64_t t0 = enc_trace_start();
    STEP("w.begin", s->begin(c, err));
    if (rc == ENC_OK)
        STEP("w.rows", s->write_rows(c, b->rows, b->nrows, err));
    if (rc == ENC_OK)
        rc = s->write_quarantine(c, b->quar, b->nquar, err);
    if (rc == ENC_OK && job)
        STEP("w.aggjoin", agg_job_finish(job, err));
    if (rc == ENC_OK)
        start_ahead(p, job);
    if (rc == ENC_OK && b->agg)
        STEP("w.agg", s->write_aggregates(c, b->agg, err));
    if (rc == ENC_OK && b->nqres > 0)
        rc = s->write_quality(c, b->qres, b->nqres, err);
    if (rc == ENC_OK && p->cfg->watermark_us > 0)
        STEP("w.dedup", s->write_dedup(c, b->dkeys, b->ndkeys, b->dedup_horizon, err));
    /* Positions last: a sink that stamps them with the time (committed_at_us) then comes
     * closest to the commit, which the latency benchmark measures against. */
    if (rc == ENC_OK)
        STEP("w.pos", s->record_positions(c, b->pos, b->npos, err));
    if (rc == ENC_OK)
        STEP("w.commit", s->commit(c, &b->stats, err));
    if (rc != ENC_OK)
        s->rollback(c);
    enc_trace_end("w.batch", t0, (int64_t)b->nrows, (int64_t)b->npos);
    return rc;
}

/* Retries a transient failure with backoff; never skips a batch. */
static enc_status write_with_retry(pipeline *p, enc_batch *b, enc_err *err)
{
    agg_job *jp = p->agg_beside ? take_job(p, b) : NULL;
    int64_t backoff_ms = 100;
    for (;;) {
        enc_status rc = write_batch(p, b, jp, err);
        if (rc != ENC_RETRY || stop_requested(p)) {
            if (jp) /* the batch failed before its aggregates */
                agg_job_join(jp);
            /* after a stop request, err says why the last try failed; the batch is re-read on restart */
            return rc == ENC_RETRY ? ENC_ERROR : rc;
        }
        struct timespec ts = {backoff_ms / 1000, (backoff_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
        if (backoff_ms < 5000)
            backoff_ms *= 2;
    }
}

static void add_stats(enc_pipeline_stats *t, const enc_batch *b)
{
    t->events += b->stats.events;
    t->rows += b->stats.rows;
    t->quarantined += b->stats.quarantined;
    t->rescued += b->stats.rescued;
    t->duplicates += b->stats.duplicates;
    t->bytes += b->stats.bytes;
    t->batches++;
}

/* On a stop request the batches still queued are dropped, not written: nothing of them
 * is committed, so a restart reads them again. Called with q->mu held. */
static void drop_ready(batch_queue *q)
{
    while (q->count > 0) {
        enc_batch *b = q->ready[q->head];
        q->head = (q->head + 1) % NBATCH;
        q->count--;
        enc_batch_reset(b);
        q->free_list[q->nfree++] = b;
    }
    pthread_cond_broadcast(&q->changed);
}

static void *writer_main(void *arg)
{
    pipeline *p = arg;
    batch_queue *q = &p->q;
    prctl(PR_SET_NAME, "encore-writer"); /* so top and perf tell the threads apart */
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (q->count == 0 && !q->closed)
            pthread_cond_wait(&q->changed, &q->mu);
        if (q->count > 0 && stop_requested(p)) { /* the batch in hand was finished; stop */
            pthread_mutex_unlock(&q->mu);
            join_ahead(p); /* its batch is dropped */
            pthread_mutex_lock(&q->mu);
            drop_ready(q);
            continue;
        }
        if (q->count == 0)
            break;
        enc_batch *b = q->ready[q->head];
        pthread_mutex_unlock(&q->mu);

        enc_err err = {{0}};
        enc_status rc = write_with_retry(p, b, &err);
        if (rc == ENC_OK && p->cfg->committed)
            p->cfg->committed(p->cfg->committed_arg, b->pos, b->npos, enc_wall_us());

        pthread_mutex_lock(&q->mu);
        q->head = (q->head + 1) % NBATCH;
        q->count--;
        if (rc != ENC_OK) {
            q->failed = true;
            q->err = err;
            pthread_cond_broadcast(&q->changed);
            break;
        }
        add_stats(&q->committed, b);
        enc_batch_reset(b);
        q->free_list[q->nfree++] = b;
        pthread_cond_broadcast(&q->changed);
    }
    pthread_mutex_unlock(&q->mu);
    join_ahead(p); /* after a failure: its batch is never written */
    return NULL;
}

/* ---- reader side -------------------------------------------------------------- */

/* Takes a free batch; NULL when the writer failed. */
static enc_batch *take_free(batch_queue *q)
{
    pthread_mutex_lock(&q->mu);
    while (q->nfree == 0 && !q->failed)
        pthread_cond_wait(&q->changed, &q->mu);
    enc_batch *b = q->failed ? NULL : q->free_list[--q->nfree];
    pthread_mutex_unlock(&q->mu);
    return b;
}

static void give_back(batch_queue *q, enc_batch *b)
{
    pthread_mutex_lock(&q->mu);
    q->free_list[q->nfree++] = b;
    pthread_mutex_unlock(&q->mu);
}

static void push_ready(batch_queue *q, enc_batch *b)
{
    pthread_mutex_lock(&q->mu);
    q->ready[(q->head + q->count) % NBATCH] = b;
    q->count++;
    pthread_cond_broadcast(&q->changed);
    pthread_mutex_unlock(&q->mu);
}

/* True when the writer has nothing to write (or gave up, which take_free then reports).
 * Waits up to wait_us for that; the writer's broadcast after each commit ends the wait. */
static bool wait_writer_idle(batch_queue *q, int64_t wait_us)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    int64_t ns = until.tv_nsec + wait_us * 1000;
    until.tv_sec += ns / 1000000000;
    until.tv_nsec = ns % 1000000000;
    pthread_mutex_lock(&q->mu);
    while (q->count > 0 && !q->failed && wait_us > 0)
        if (pthread_cond_timedwait(&q->changed, &q->mu, &until) != 0)
            break;
    bool idle = q->count == 0 || q->failed;
    pthread_mutex_unlock(&q->mu);
    return idle;
}

static void snapshot(batch_queue *q, enc_pipeline_stats *out)
{
    pthread_mutex_lock(&q->mu);
    *out = q->committed;
    pthread_mutex_unlock(&q->mu);
}

/* Counts distinct origins: origin pointers are stable for the source's lifetime. */
typedef struct {
    const void **slots;
    size_t cap, n;
} ptr_set;

static void ptr_set_add(ptr_set *s, const void *ptr)
{
    if (s->n * 2 >= s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 256;
        const void **ns = enc_calloc(ncap, sizeof *ns);
        if (!ns)
            return; /* only a statistic */
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->slots[i])
                continue;
            size_t h = ((uintptr_t)s->slots[i] >> 4) & (ncap - 1);
            while (ns[h])
                h = (h + 1) & (ncap - 1);
            ns[h] = s->slots[i];
        }
        enc_free(s->slots);
        s->slots = ns;
        s->cap = ncap;
    }
    size_t h = ((uintptr_t)ptr >> 4) & (s->cap - 1);
    while (s->slots[h]) {
        if (s->slots[h] == ptr)
            return;
        h = (h + 1) & (s->cap - 1);
    }
    s->slots[h] = ptr;
    s->n++;
}

static enc_dedup_key dedup_key(const enc_row *r)
{
    return (enc_dedup_key){enc_dedup_hash(r->text[ENC_COL_USER_ID], r->text[ENC_COL_SONG_ID], r->event_time_us),
                           r->event_time_us};
}

/* Drops plays already seen within the watermark from b->rows[from..], keeping the rest in
 * order. The set is far bigger than the cache, so each key's slot is prefetched AHEAD rows
 * early. */
static enc_status drop_duplicates(pipeline *p, enc_batch *b, size_t from, enc_err *err)
{
    enum { AHEAD = 8 };
    enc_row *rows = b->rows ? b->rows + from : NULL; /* none yet: a poll of only bad records */
    size_t n = b->nrows - from;
    enc_dedup_key ring[AHEAD];
    size_t kept = 0;
    for (size_t i = 0; i < n && i < AHEAD; i++) {
        ring[i] = dedup_key(&rows[i]);
        enc_dedup_prefetch(p->dedup, ring[i].hash);
    }
    for (size_t i = 0; i < n; i++) {
        const enc_row *r = &rows[i];
        enc_dedup_key k = ring[i % AHEAD];
        if (i + AHEAD < n) {
            ring[i % AHEAD] = dedup_key(&rows[i + AHEAD]);
            enc_dedup_prefetch(p->dedup, ring[i % AHEAD].hash);
        }
        bool dup;
        if (enc_dedup_check(p->dedup, k, &dup) != ENC_OK)
            return enc_err_set(err, "out of memory in the dedup state");
        if (dup) {
            b->stats.duplicates++;
            b->stats.rows--;
            if (r->text[ENC_COL_RESCUED].p)
                b->stats.rescued--;
            continue;
        }
        enc_dedup_key *slot = enc_batch_add_dedup_key(b);
        if (!slot)
            return enc_err_set(err, "out of memory in the dedup state");
        *slot = k;
        rows[kept++] = *r;
    }
    b->nrows = from + kept; /* the set forgets expired keys as it goes (dedup.h) */
    b->dedup_horizon = enc_dedup_horizon(p->dedup);
    return ENC_OK;
}

/* Full order of two rows: user_id bytes, then event time. */
static int cmp_rows_by_user(uint32_t ia, uint32_t ib, void *arg)
{
    const enc_row *a = (const enc_row *)arg + ia, *b = (const enc_row *)arg + ib;
    enc_slice ua = a->text[ENC_COL_USER_ID], ub = b->text[ENC_COL_USER_ID];
    size_t n = ua.n < ub.n ? ua.n : ub.n;
    int c = memcmp(ua.p, ub.p, n);
    if (c)
        return c;
    if (ua.n != ub.n)
        return ua.n < ub.n ? -1 : 1;
    return (a->event_time_us > b->event_time_us) - (a->event_time_us < b->event_time_us);
}

static enc_status grow_scratch(pipeline *p, size_t n, enc_err *err)
{
    if (p->items_cap < n) {
        enc_free(p->sort_items);
        p->sort_items = enc_malloc(2 * n * sizeof *p->sort_items);
        p->items_cap = p->sort_items ? n : 0;
    }
    if (p->sort_cap < n) {
        enc_free(p->sort_rows);
        p->sort_rows = enc_malloc(n * sizeof *p->sort_rows);
        p->sort_cap = p->sort_rows ? n : 0;
    }
    return p->items_cap >= n && p->sort_cap >= n ? ENC_OK : enc_err_set(err, "out of memory sorting a batch");
}

/* Sorts b->rows by (user_id, event_time): radix on the id's first 8 bytes, ties by the
 * full order, then each row moved once into the scratch array, which becomes the
 * batch's (the old one becomes scratch). */
static enc_status sort_rows_by_user(pipeline *p, enc_batch *b, enc_err *err)
{
    size_t n = b->nrows;
    if (n < 2)
        return ENC_OK;
    /* Scratch as large as the batch's array, not just its rows: the two are swapped
     * below, and a batch handed back a smaller array would grow it again (a copy into
     * fresh memory) on every batch. */
    if (grow_scratch(p, b->cap_rows, err) != ENC_OK)
        return ENC_ERROR;
    enc_sort_item *items = p->sort_items;
    for (size_t i = 0; i < n; i++) {
        enc_slice u = b->rows[i].text[ENC_COL_USER_ID];
        items[i] = (enc_sort_item){enc_sort_prefix(u.p, u.n), (uint32_t)i, 0};
    }
    enc_radix_sort(items, items + n, n);
    enc_sort_ties(items, n, cmp_rows_by_user, b->rows);
    for (size_t i = 0; i < n; i++)
        p->sort_rows[i] = b->rows[items[i].idx];
    enc_row *old = b->rows;
    size_t old_cap = b->cap_rows;
    b->rows = p->sort_rows;
    b->cap_rows = p->sort_cap;
    p->sort_rows = old;
    p->sort_cap = old_cap;
    return ENC_OK;
}

/* How far the reader has processed the batch it is filling: a batch takes records over
 * several polls while the writer is busy, and each poll's records are processed at once. */
typedef struct {
    size_t recs; /* records enriched */
    size_t rows; /* rows deduplicated (and aggregated, when no quality rule may drop them) */
} fill_mark;

static enc_status add_aggregates(enc_agg_scratch *ws, enc_batch *b, size_t from, enc_err *err)
{
    if (!b->agg && !(b->agg = enc_agg_new(ws)))
        return enc_err_set(err, "out of memory");
    size_t n = b->nrows - from;
    return n ? enc_agg_add_rows(b->agg, b->rows + from, n, err) : ENC_OK;
}

/* What the reader thread does to the records a poll added: enrich, drop duplicates and,
 * when no quality rule can quarantine rows later, aggregate (in file order the rows'
 * strings are read front to back). In watch mode the batch is sealed while the writer
 * waits for it, so what is done here instead of at the seal comes off the latency. */
static enc_status process_new(pipeline *p, enc_batch *b, fill_mark *m, enc_err *err)
{
    enc_enrich_ctx ectx = {p->cfg->songs, p->cfg->users};
    if (enc_enrich_records(&ectx, b, m->recs, err) != ENC_OK)
        return ENC_ERROR;
    m->recs = b->nrecs;
    if (p->dedup && drop_duplicates(p, b, m->rows, err) != ENC_OK)
        return ENC_ERROR;
    if (p->agg_early && add_aggregates(p->agg_ws, b, m->rows, err) != ENC_OK)
        return ENC_ERROR;
    m->rows = b->nrows;
    return ENC_OK;
}

/* What is left once the batch is complete, just before it goes to the writer. */
static enc_status seal(pipeline *p, enc_batch *b, enc_err *err)
{
    int64_t t = enc_trace_start();
    if (p->cfg->quality && enc_quality_check_batch(p->cfg->quality, b, enc_wall_us(), err) != ENC_OK)
        return ENC_ERROR; /* a `fail` rule: this batch is never committed */
    enc_trace_end("r.rules", t, (int64_t)b->nrows, (int64_t)b->npos);
    t = enc_trace_start();
    if (p->cfg->aggregates && !p->agg_beside) {
        if (!p->agg_early && add_aggregates(p->agg_ws, b, 0, err) != ENC_OK)
            return ENC_ERROR;
        if (b->agg && enc_agg_sort(b->agg) != ENC_OK)
            return enc_err_set(err, "out of memory sorting aggregates");
    }
    enc_trace_end("r.aggsort", t, (int64_t)b->nrows, (int64_t)b->npos);
    t = enc_trace_start();
    /* In (user_id, event_time) order the sink's user index is written front to back
     * instead of at random: the reader thread has time to spare, the writer has not. */
    enc_status rc = sort_rows_by_user(p, b, err);
    enc_trace_end("r.rowsort", t, (int64_t)b->nrows, (int64_t)b->npos);
    return rc;
}

static bool batch_full(const pipeline *p, const enc_batch *b)
{
    const enc_source_config *sc = &p->cfg->source_cfg;
    return (int64_t)b->nrecs >= sc->batch_events || (int64_t)b->arena.used_total >= sc->batch_bytes;
}

/* Group commit: a batch goes to the writer when it is full or the writer is idle; while
 * the writer is busy, what lands meanwhile joins the batch, so a busy writer gets one
 * large transaction instead of a queue of small ones each paying a commit. With nothing
 * new to take, the reader waits for the writer for at most this long, then polls again. */
#define IDLE_WAIT_US 2000

static bool hand_over_now(pipeline *p, const enc_batch *b, bool took)
{
    if (batch_full(p, b))
        return true;
    if (!took && p->cfg->source_cfg.once)
        return true; /* nothing more is coming now */
    return wait_writer_idle(&p->q, took ? 0 : IDLE_WAIT_US);
}

static void count_files(ptr_set *files, const enc_batch *b, size_t from)
{
    for (size_t i = from; i < b->nrecs; i++)
        if (i == 0 || b->recs[i].origin != b->recs[i - 1].origin)
            ptr_set_add(files, b->recs[i].origin);
}

static void discard(batch_queue *q, enc_batch *b)
{
    enc_batch_reset(b);
    give_back(q, b);
}

/* Room for a full batch's records and rows (up to RESERVE_MAX each), in one block each
 * from the start: growing them as they fill would pass through every smaller size, each
 * in fresh memory (a batch's arrays are kept across batches, so this allocates once per
 * batch slot). Room never used costs address space, not memory. */
#define RESERVE_MAX ((size_t)1 << 20)

static enc_status reserve_batch(const pipeline *p, enc_batch *b, enc_err *err)
{
    int64_t want = p->cfg->source_cfg.batch_events;
    size_t n = want <= 0 ? 0 : (uint64_t)want < RESERVE_MAX ? (size_t)want : RESERVE_MAX;
    if (enc_batch_reserve_records(b, n) != ENC_OK || enc_batch_reserve_rows(b, n) != ENC_OK)
        return enc_err_set(err, "out of memory reserving a batch of %zu events", n);
    return ENC_OK;
}

static enc_status reader_loop(pipeline *p, void *src_ctx, ptr_set *files, enc_err *err)
{
    const enc_pipeline_config *cfg = p->cfg;
    int64_t last_progress = enc_mono_us();
    bool done = false;
    enc_batch *b = NULL; /* the batch being filled */
    fill_mark m = {0, 0};
    while (!done && !stop_requested(p)) {
        if (!b) {
            if (!(b = take_free(&p->q)))
                return ENC_ERROR;
            m = (fill_mark){0, 0};
            if (reserve_batch(p, b, err) != ENC_OK) {
                discard(&p->q, b);
                return ENC_ERROR;
            }
        }
        size_t nrecs = b->nrecs, npos = b->npos;
        bool open = nrecs > 0 || npos > 0;
        int64_t t = enc_trace_start();
        if (cfg->source->poll(src_ctx, b, open ? 0 : 200, &done, err) != ENC_OK) {
            discard(&p->q, b);
            return ENC_ERROR;
        }
        enc_trace_end("r.poll", t, (int64_t)(b->nrecs - nrecs), (int64_t)(b->npos - npos));
        t = enc_trace_start();
        if (process_new(p, b, &m, err) != ENC_OK) {
            discard(&p->q, b);
            return ENC_ERROR;
        }
        enc_trace_end("r.process", t, (int64_t)(b->nrecs - nrecs), (int64_t)b->nrows);
        if (stop_requested(p)) /* not committed: read again after a restart */
            break;
        count_files(files, b, nrecs);
        bool took = b->nrecs > nrecs || b->npos > npos;
        if ((b->nrecs > 0 || b->npos > 0) && hand_over_now(p, b, took)) {
            t = enc_trace_start();
            if (seal(p, b, err) != ENC_OK) {
                discard(&p->q, b);
                return ENC_ERROR;
            }
            enc_trace_end("r.seal", t, (int64_t)b->nrows, (int64_t)b->npos);
            push_ready(&p->q, b);
            b = NULL;
        }
        int64_t now = enc_mono_us();
        if (cfg->progress && now - last_progress >= 1000000) {
            enc_pipeline_stats st;
            snapshot(&p->q, &st);
            st.files = (int64_t)files->n;
            st.seconds = (double)(now - p->started_us) / 1e6;
            cfg->progress(cfg->progress_arg, &st);
            last_progress = now;
        }
    }
    if (b)
        discard(&p->q, b);
    return ENC_OK;
}

static enc_status restore_key(void *arg, enc_dedup_key k)
{
    return enc_dedup_restore(arg, k);
}

static enc_status start(pipeline *p, void *src_ctx, bool *source_opened, enc_err *err)
{
    const enc_pipeline_config *cfg = p->cfg;
    if (cfg->sink->open(p->sink_ctx, cfg->sink_target, &cfg->sink_cfg, err) != ENC_OK)
        return ENC_ERROR;
    enc_position *pos;
    size_t npos;
    if (cfg->sink->load_positions(p->sink_ctx, &pos, &npos, err) != ENC_OK)
        return ENC_ERROR;
    if (cfg->watermark_us > 0) {
        if (!(p->dedup = enc_dedup_new(cfg->watermark_us)))
            return enc_err_set(err, "out of memory");
        if (cfg->sink->load_dedup(p->sink_ctx, restore_key, p->dedup, err) != ENC_OK ||
            enc_dedup_expire(p->dedup) != ENC_OK)
            return ENC_ERROR;
    }
    *source_opened = true; /* close() must run even when open fails half-way */
    if (cfg->source->open(src_ctx, &cfg->source_cfg, err) != ENC_OK)
        return ENC_ERROR;
    return cfg->source->resume(src_ctx, pos, npos, err);
}

enc_status enc_pipeline_run(const enc_pipeline_config *cfg, enc_pipeline_stats *st, enc_err *err)
{
    int64_t t0 = enc_mono_us();
    enc_trace_init();
    /* With --once a batch's rows are aggregated on the agg thread with its sort, not as
     * they come: the batches then share one scratch (agg.h), the queued ones hold only
     * their rows. */
    bool once = cfg->source_cfg.once;
    pipeline p = {.cfg = cfg, .started_us = t0,
                  .agg_beside = cfg->aggregates && once,
                  .agg_early = cfg->aggregates && !once &&
                               (!cfg->quality || !enc_quality_may_quarantine(cfg->quality))};
    enc_batch batches[NBATCH];
    ptr_set files = {0};
    enc_status rc = ENC_ERROR;
    bool writer_started = false, source_opened = false;
    pthread_t writer;
    memset(st, 0, sizeof *st);

    void *src_ctx = enc_calloc(1, cfg->source->ctx_size);
    p.sink_ctx = enc_calloc(1, cfg->sink->ctx_size);
    pthread_mutex_init(&p.q.mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* wait_writer_idle's deadline */
    pthread_cond_init(&p.q.changed, &ca);
    pthread_condattr_destroy(&ca);
    for (size_t i = 0; i < NBATCH; i++) {
        enc_batch_init(&batches[i]);
        p.q.free_list[p.q.nfree++] = &batches[i];
    }
    if (cfg->aggregates)
        p.agg_ws = enc_agg_scratch_new();
    if (p.agg_ws && enc_agg_scratch_remember(p.agg_ws) != ENC_OK) { /* the writer never skips a batch */
        enc_agg_scratch_free(p.agg_ws);
        p.agg_ws = NULL;
    }
    if (p.agg_ws && p.agg_beside) /* a batch is sorted only once the one before is written */
        enc_agg_scratch_share_output(p.agg_ws);
    if (!src_ctx || !p.sink_ctx || (cfg->aggregates && !p.agg_ws)) {
        enc_err_set(err, "out of memory");
        goto out;
    }
    if (start(&p, src_ctx, &source_opened, err) != ENC_OK)
        goto out;
    if (pthread_create(&writer, NULL, writer_main, &p) != 0) {
        enc_err_set(err, "cannot start the writer thread");
        goto out;
    }
    writer_started = true;
    rc = reader_loop(&p, src_ctx, &files, err);

out:
    if (writer_started) {
        pthread_mutex_lock(&p.q.mu);
        p.q.closed = true;
        pthread_cond_broadcast(&p.q.changed);
        pthread_mutex_unlock(&p.q.mu);
        pthread_join(writer, NULL);
        if (p.q.failed) {
            *err = p.q.err;
            rc = ENC_ERROR;
        }
    }
    *st = p.q.committed;
    st->started = writer_started;
    st->files = (int64_t)files.n;
    st->seconds = (double)(enc_mono_us() - t0) / 1e6;
    st->pending[0] = '\0';
    if (source_opened && rc == ENC_OK && cfg->source->pending) {
        const char *note = cfg->source->pending(src_ctx);
        if (note)
            snprintf(st->pending, sizeof st->pending, "%s", note);
    }
    if (source_opened)
        cfg->source->close(src_ctx);
    if (p.sink_ctx)
        cfg->sink->close(p.sink_ctx);
    for (size_t i = 0; i < NBATCH; i++)
        enc_batch_free(&batches[i]);
    enc_agg_scratch_free(p.agg_ws); /* after the batches' aggs, which borrow it */
    enc_free(files.slots);
    enc_dedup_free(p.dedup);
    enc_free(p.sort_items);
    enc_free(p.sort_rows);
    enc_free(src_ctx);
    enc_free(p.sink_ctx);
    pthread_mutex_destroy(&p.q.mu);
    pthread_cond_destroy(&p.q.changed);
    return rc;
}

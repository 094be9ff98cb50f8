/* bench_parse — times encore's hot path on event files, without a source or a sink.
 *
 * Workload 1 (default): read each file, frame it (framer) and parse every record
 * (event_json) into validated events; nothing is kept. Workload 2 (--enrich): the same
 * records go through enc_enrich_batch in batches of --batch records, as the pipeline's
 * reader thread does (parse, required fields, event_time, song and user joins, rescued
 * JSON), on this one thread; the dimension tables are loaded first and their load is
 * timed apart. Prints one line of key=value pairs for bench/run.sh (cpu_seconds: this
 * thread's CPU time over the same span as seconds); peak RSS is measured
 * from outside. Owns nothing in src/: it only calls libencore.a.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "arena.h"
#include "batch.h"
#include "clock.h"
#include "dim.h"
#include "enrich.h"
#include "event_json.h"
#include "framer.h"
#include "hash.h"

#define PIECE_DEFAULT 0 /* bytes per read(); 0: whole files (pieces measured no better, RESULTS.md session 4) */

typedef struct {
    long long events, ok, bad, bytes;
} counts;

typedef struct {
    const char *songs_path, *users_path; /* both set: enrich mode */
    long batch;
    long piece;  /* bytes read at a time; 0 (--whole): each file in one read, then framed */
    bool digest; /* --digest: hash every row and quarantine entry (to compare builds; slower) */
    char **files;
    int nfiles;
} options;

/* CPU time of this thread in µs: with 2 cores shared, a steadier figure than wall time. */
static int64_t thread_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* With BENCH_PERF_CTL=FIFO (perf record -D -1 --control fifo:FIFO), perf samples only
 * the timed span: "enable" is written at its start and "disable" at its end. */
/* Page faults of this process so far (first touches of fresh memory, mostly). */
static long minor_faults(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_minflt : 0;
}

static void perf_ctl(const char *cmd)
{
    const char *path = getenv("BENCH_PERF_CTL");
    if (!path)
        return;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    if (write(fd, cmd, strlen(cmd)) < 0) {
        /* perf is not listening: the profile just covers more */
    }
    close(fd);
}

static int usage(void)
{
    fprintf(
        stderr,
        "usage: bench_parse [--enrich SONGS.csv USERS.csv] [--batch N] [--piece BYTES | --whole] [--digest] FILE...\n");
    return 2;
}

static int parse_args(int argc, char **argv, options *o)
{
    o->batch = 100000;
    o->piece = PIECE_DEFAULT;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--enrich") == 0 && i + 2 < argc) {
            o->songs_path = argv[++i];
            o->users_path = argv[++i];
        } else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
            o->batch = atol(argv[++i]);
        } else if (strcmp(argv[i], "--piece") == 0 && i + 1 < argc) {
            o->piece = atol(argv[++i]);
        } else if (strcmp(argv[i], "--whole") == 0) {
            o->piece = 0;
        } else if (strcmp(argv[i], "--digest") == 0) {
            o->digest = true;
        } else {
            return usage();
        }
    }
    o->files = argv + i;
    o->nfiles = argc - i;
    return o->nfiles > 0 && o->batch > 0 && o->piece >= 0 ? 0 : usage();
}

/* What a file's records go to: fn for each record as it is framed, then after_piece
 * (may be NULL) once the records of a piece are framed, to process them while their
 * bytes are still in cache. */
typedef int (*record_fn)(void *arg, const char *p, size_t n, int64_t line, const char *error);

typedef struct {
    record_fn fn;
    int (*after_piece)(void *arg);
    void *arg;
} handler;

/* Frames the records complete in buf[0..len) from *pos on. Returns -1 when fn fails. */
static int frame_some(enc_framer *fr, const char *buf, size_t len, size_t *pos, bool eof, const handler *h)
{
    for (;;) {
        enc_frame f;
        size_t next;
        enc_frame_result r = enc_framer_next(fr, buf, len, *pos, eof, &f, &next);
        *pos = next;
        if (r == ENC_FRAME_NEED_MORE)
            return 0;
        if (h->fn(h->arg, buf + f.start, f.end - f.start, f.line, r == ENC_FRAME_BAD ? f.error : NULL) != 0)
            return -1;
    }
}

/* Makes *buf hold at least need bytes. A new buffer comes from enc_malloc, which asks
 * for huge pages (bench/RESULTS.md, session 4: 2,300 first-touch faults less per run). */
static int buf_reserve(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    enc_free(*buf);
    *buf = enc_malloc(need);
    *cap = *buf ? need : 0;
    return *buf ? 0 : -1;
}

/* Reads the file at path into *buf, `piece` bytes per read() (0: the whole file in
 * one), and frames each piece's records as it arrives: the framer and the parser then
 * find the bytes in cache instead of fetching them from memory again. Records point
 * into *buf, which holds the whole file. Returns the bytes read, -1 on a read error
 * (errno set), -2 when a handler failed. */
static long long read_file(const char *path, long piece, char **buf, size_t *cap, const handler *h)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || buf_reserve(buf, cap, (size_t)st.st_size + 1) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    enc_framer fr;
    enc_framer_init(&fr, 0, 1, 1u << 20);
    size_t size = (size_t)st.st_size, got = 0, bom = 0, pos = 0;
    bool sniffed = false, eof = false;
    long long rc = 0;
    while (!eof) {
        size_t want = piece > 0 && size - got > (size_t)piece ? (size_t)piece : size - got;
        ssize_t n = want ? read(fd, *buf + got, want) : 0;
        if (n < 0) {
            rc = -1;
            break;
        }
        got += (size_t)n;
        eof = n == 0 || got == size;
        if (!sniffed) {
            if (got < 3 && !eof)
                continue;
            bom = got >= 3 && memcmp(*buf, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
            if (!enc_framer_sniff(&fr, *buf + bom, got - bom, eof))
                continue;
            sniffed = true;
        }
        if (frame_some(&fr, *buf + bom, got - bom, &pos, eof, h) != 0 ||
            (h->after_piece && h->after_piece(h->arg) != 0)) {
            rc = -2;
            break;
        }
    }
    close(fd);
    return rc < 0 ? rc : (long long)got;
}

/* ---- workload 1: parse only ---- */

typedef struct {
    enc_arena arena;
    long in_arena;
    counts *c;
} parse_state;

static int parse_one(void *arg, const char *p, size_t n, int64_t line, const char *error)
{
    parse_state *s = arg;
    s->c->events++;
    if (error) {
        s->c->bad++;
        return 0;
    }
    enc_event ev;
    enc_evp_code code = enc_event_parse(p, n, &s->arena, &ev, NULL);
    int good =
        code == ENC_EVP_OK && ev.field[ENC_EV_USER_ID].p && ev.field[ENC_EV_SONG_ID].p && ev.field[ENC_EV_TIMESTAMP].p;
    if (good)
        s->c->ok++;
    else
        s->c->bad++;
    if (++s->in_arena == 4096) {
        enc_arena_reset(&s->arena);
        s->in_arena = 0;
    }
    return code == ENC_EVP_NOMEM ? -1 : 0;
}

/* ---- workload 2: parse + enrich ---- */

typedef struct {
    enc_batch batch;
    enc_enrich_ctx ectx;
    long limit;
    size_t enriched; /* records of the batch already enriched */
    bool digest;
    uint64_t sum; /* --digest: of every row's columns and every quarantine entry, in order */
    const char *origin, *origin_json;
    counts *c;
    /* When the first batch was done (wall and CPU µs) and its events: the first batch
     * also pays the first touch of every array and arena it fills (the kernel zeroes
     * the fresh pages: 20-35 % of the timed span's samples on this VM, bench/RESULTS.md
     * session 5), which later batches reuse. 0 until then. */
    int64_t first_us, first_cpu_us;
    long long first_events;
} enrich_state;

/* Enriches the batch's records not enriched yet (after each piece: as the pipeline's
 * reader does after each poll, enc_enrich_records from where it left off). */
static int enrich_new(void *arg)
{
    enrich_state *s = arg;
    enc_err err = {{0}};
    if (s->enriched == s->batch.nrecs)
        return 0;
    /* A batch's rows in one block from the start, as enc_enrich_batch reserves them when
     * it takes the batch at once: no copies of the rows made so far as it fills. */
    if (s->batch.cap_rows < (size_t)s->limit && enc_batch_reserve_rows(&s->batch, (size_t)s->limit) != ENC_OK) {
        fprintf(stderr, "bench_parse: out of memory\n");
        return -1;
    }
    if (enc_enrich_records(&s->ectx, &s->batch, s->enriched, &err) != ENC_OK) {
        fprintf(stderr, "bench_parse: %s\n", err.msg);
        return -1;
    }
    s->enriched = s->batch.nrecs;
    return 0;
}

static uint64_t mix(uint64_t sum, const void *p, size_t n)
{
    return enc_hash_bytes(p, n, sum * 31 + n + (p != NULL));
}

/* Folds the batch's output into s->sum: two builds that print the same digest made the
 * same rows (every text column, NULL or not, the duration and event time) and quarantined
 * the same records for the same reasons. */
static void digest_batch(enrich_state *s)
{
    const enc_batch *b = &s->batch;
    for (size_t i = 0; i < b->nrows; i++) {
        const enc_row *r = &b->rows[i];
        for (int c = 0; c < ENC_COL_NTEXT; c++)
            s->sum = mix(s->sum, r->text[c].p, r->text[c].n);
        s->sum = mix(s->sum, r->event_time.p, r->event_time.n);
        int64_t v[2] = {r->duration, r->event_time_us};
        s->sum = mix(s->sum, v, sizeof v);
    }
    for (size_t i = 0; i < b->nquar; i++) {
        const enc_quarantine *q = &b->quar[i];
        s->sum = mix(s->sum, q->reason, strlen(q->reason));
        s->sum = mix(s->sum, &q->line, sizeof q->line);
    }
}

static int flush_batch(enrich_state *s)
{
    if (s->batch.nrecs == 0)
        return 0;
    if (enrich_new(s) != 0)
        return -1;
    if (s->digest)
        digest_batch(s);
    s->c->ok += (long long)s->batch.nrows;
    s->c->bad += (long long)s->batch.nquar;
    enc_batch_reset(&s->batch);
    s->enriched = 0;
    if (!s->first_us) {
        s->first_us = enc_mono_us();
        s->first_cpu_us = thread_cpu_us();
        s->first_events = s->c->events;
    }
    return 0;
}

static int enrich_one(void *arg, const char *p, size_t n, int64_t line, const char *error)
{
    enrich_state *s = arg;
    /* The batch's size is known: its records in one block, not through every smaller one. */
    if (s->batch.cap_recs < (size_t)s->limit && enc_batch_reserve_records(&s->batch, (size_t)s->limit) != ENC_OK)
        return -1;
    enc_record *r = enc_batch_add_record(&s->batch);
    if (!r)
        return -1;
    r->text = enc_slice_make(p, n);
    r->origin = s->origin;
    r->origin_json = s->origin_json;
    r->line = line;
    r->error = error;
    s->c->events++;
    return (long)s->batch.nrecs >= s->limit ? flush_batch(s) : 0;
}

static void warn_ignore(void *arg, const char *msg)
{
}

static int load_dims(const options *o, enrich_state *s)
{
    enc_err err = {{0}};
    enc_songs *songs = NULL;
    enc_users *users = NULL;
    if (enc_songs_load(&songs, o->songs_path, warn_ignore, NULL, &err) != ENC_OK ||
        enc_users_load(&users, o->users_path, warn_ignore, NULL, &err) != ENC_OK) {
        fprintf(stderr, "bench_parse: %s\n", err.msg);
        enc_songs_free(songs);
        return -1;
    }
    s->ectx.songs = songs;
    s->ectx.users = users;
    return 0;
}

int main(int argc, char **argv)
{
    options o = {0};
    if (parse_args(argc, argv, &o) != 0)
        return 2;
    bool enrich = o.songs_path != NULL;
    counts c = {0};
    parse_state ps = {.c = &c};
    enrich_state es = {.limit = o.batch, .c = &c, .digest = o.digest};
    enc_arena_init(&ps.arena, 1 << 20);
    enc_batch_init(&es.batch);

    int64_t t_load = enc_mono_us();
    if (enrich && load_dims(&o, &es) != 0)
        return 1;
    perf_ctl("enable\n");
    int64_t t0 = enc_mono_us(), c0 = thread_cpu_us();
    long f0 = minor_faults();

    char *buf = NULL;
    size_t cap = 0;
    int rc = 0;
    handler h = enrich ? (handler){enrich_one, enrich_new, &es} : (handler){parse_one, NULL, &ps};
    for (int i = 0; i < o.nfiles && rc == 0; i++) {
        es.origin = o.files[i];
        es.origin_json = "\"bench\"";
        long long len = read_file(o.files[i], o.piece, &buf, &cap, &h); /* records point into buf */
        if (len == -1)
            fprintf(stderr, "bench_parse: cannot read '%s': %s\n", o.files[i], strerror(errno));
        if (len < 0 || (enrich && flush_batch(&es) != 0)) {
            rc = 1;
            break;
        }
        c.bytes += len;
    }
    int64_t t1 = enc_mono_us(), c1 = thread_cpu_us();
    long f1 = minor_faults();
    perf_ctl("disable\n");
    if (rc != 0)
        return 1;

    double secs = (double)(t1 - t0) / 1e6;
    printf("workload=%s events=%lld ok=%lld bad=%lld bytes=%lld seconds=%.6f load_seconds=%.6f "
           "events_per_s=%.0f mb_per_s=%.1f cpu_seconds=%.6f faults=%ld",
           enrich ? "enrich" : "parse", c.events, c.ok, c.bad, c.bytes, secs, (double)(t0 - t_load) / 1e6,
           secs > 0 ? (double)c.events / secs : 0.0, secs > 0 ? (double)c.bytes / secs / 1e6 : 0.0,
           (double)(c1 - c0) / 1e6, f1 - f0);
    if (enrich && es.first_us && es.first_events < c.events) {
        /* The same span split at the end of the first batch (see enrich_state). */
        double later = (double)(t1 - es.first_us) / 1e6;
        printf(" first_batch_seconds=%.6f first_batch_cpu_seconds=%.6f later_events_per_s=%.0f later_cpu_seconds=%.6f",
               (double)(es.first_us - t0) / 1e6, (double)(es.first_cpu_us - c0) / 1e6,
               later > 0 ? (double)(c.events - es.first_events) / later : 0.0, (double)(c1 - es.first_cpu_us) / 1e6);
    }
    printf("\n");
    if (o.digest)
        printf("digest=%016llx\n", (unsigned long long)es.sum);
    enc_free(buf);
    enc_arena_free(&ps.arena);
    enc_batch_free(&es.batch);
    enc_songs_free((enc_songs *)es.ectx.songs);
    enc_users_free((enc_users *)es.ectx.users);
    return 0;
}

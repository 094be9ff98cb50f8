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
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "batch.h"
#include "clock.h"
#include "dim.h"
#include "enrich.h"
#include "event_json.h"
#include "framer.h"

typedef struct {
    long long events, ok, bad, bytes;
} counts;

typedef struct {
    const char *songs_path, *users_path; /* both set: enrich mode */
    long batch;
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

static int usage(void)
{
    fprintf(stderr, "usage: bench_parse [--enrich SONGS.csv USERS.csv] [--batch N] FILE...\n");
    return 2;
}

static int parse_args(int argc, char **argv, options *o)
{
    o->batch = 100000;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--enrich") == 0 && i + 2 < argc) {
            o->songs_path = argv[++i];
            o->users_path = argv[++i];
        } else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
            o->batch = atol(argv[++i]);
        } else {
            return usage();
        }
    }
    o->files = argv + i;
    o->nfiles = argc - i;
    return o->nfiles > 0 && o->batch > 0 ? 0 : usage();
}

/* Reads a whole file into *buf (grown as needed). Returns the length, -1 on error. */
static long long slurp(const char *path, char **buf, size_t *cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    size_t need = (size_t)st.st_size + 1;
    if (need > *cap) {
        char *nb = realloc(*buf, need);
        if (!nb) {
            close(fd);
            return -1;
        }
        *buf = nb;
        *cap = need;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, *buf + got, (size_t)st.st_size - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    return (long long)got;
}

/* Calls fn(arg, record, len, line, frame_error) for every record of buf[0..len). */
typedef int (*record_fn)(void *arg, const char *p, size_t n, int64_t line, const char *error);

static int frame_all(const char *buf, size_t len, record_fn fn, void *arg)
{
    enc_framer fr;
    enc_framer_init(&fr, 0, 1, 1u << 20);
    size_t bom = len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    buf += bom;
    len -= bom;
    if (!enc_framer_sniff(&fr, buf, len, true))
        return 0;
    size_t pos = 0;
    for (;;) {
        enc_frame f;
        size_t next;
        enc_frame_result r = enc_framer_next(&fr, buf, len, pos, true, &f, &next);
        if (r == ENC_FRAME_NEED_MORE)
            return 0;
        if (fn(arg, buf + f.start, f.end - f.start, f.line, r == ENC_FRAME_BAD ? f.error : NULL) != 0)
            return -1;
        pos = next;
    }
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
    int good = code == ENC_EVP_OK && ev.field[ENC_EV_USER_ID].p && ev.field[ENC_EV_SONG_ID].p &&
               ev.field[ENC_EV_TIMESTAMP].p;
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
    const char *origin, *origin_json;
    counts *c;
} enrich_state;

static int flush_batch(enrich_state *s)
{
    enc_err err = {{0}};
    if (s->batch.nrecs == 0)
        return 0;
    if (enc_enrich_batch(&s->ectx, &s->batch, &err) != ENC_OK) {
        fprintf(stderr, "bench_parse: %s\n", err.msg);
        return -1;
    }
    s->c->ok += (long long)s->batch.nrows;
    s->c->bad += (long long)s->batch.nquar;
    enc_batch_reset(&s->batch);
    return 0;
}

static int enrich_one(void *arg, const char *p, size_t n, int64_t line, const char *error)
{
    enrich_state *s = arg;
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
    enrich_state es = {.limit = o.batch, .c = &c};
    enc_arena_init(&ps.arena, 1 << 20);
    enc_batch_init(&es.batch);

    int64_t t_load = enc_mono_us();
    if (enrich && load_dims(&o, &es) != 0)
        return 1;
    int64_t t0 = enc_mono_us(), c0 = thread_cpu_us();

    char *buf = NULL;
    size_t cap = 0;
    int rc = 0;
    for (int i = 0; i < o.nfiles && rc == 0; i++) {
        long long len = slurp(o.files[i], &buf, &cap);
        if (len < 0) {
            fprintf(stderr, "bench_parse: cannot read '%s': %s\n", o.files[i], strerror(errno));
            rc = 1;
            break;
        }
        c.bytes += len;
        es.origin = o.files[i];
        es.origin_json = "\"bench\"";
        if (enrich)
            rc = frame_all(buf, (size_t)len, enrich_one, &es) || flush_batch(&es); /* records point into buf */
        else
            rc = frame_all(buf, (size_t)len, parse_one, &ps);
    }
    int64_t t1 = enc_mono_us(), c1 = thread_cpu_us();
    if (rc != 0)
        return 1;

    double secs = (double)(t1 - t0) / 1e6;
    printf("workload=%s events=%lld ok=%lld bad=%lld bytes=%lld seconds=%.6f load_seconds=%.6f "
           "events_per_s=%.0f mb_per_s=%.1f cpu_seconds=%.6f\n",
           enrich ? "enrich" : "parse", c.events, c.ok, c.bad, c.bytes, secs, (double)(t0 - t_load) / 1e6,
           secs > 0 ? (double)c.events / secs : 0.0, secs > 0 ? (double)c.bytes / secs / 1e6 : 0.0, (double)(c1 - c0) / 1e6);
    free(buf);
    enc_arena_free(&ps.arena);
    enc_batch_free(&es.batch);
    enc_songs_free((enc_songs *)es.ectx.songs);
    enc_users_free((enc_users *)es.ectx.users);
    return 0;
}

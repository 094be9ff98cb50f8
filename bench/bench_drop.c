/* bench_drop — the producer of the watch-mode latency benchmark (bench/run.sh, workload 4).
 *
 * Drops files of --per-file events into --out at a steady --rate events/s for --seconds,
 * the way a well-behaved writer does: write under a dot name (encore skips those), close,
 * then rename into place. Events are the lines of the source NDJSON files, read into
 * memory before the clock starts (reused from the top if they run out). For each file it
 * logs `name|bytes|close_us` (wall-clock µs after close, before the rename), which run.sh
 * joins with _ENCORE_CHECKPOINT.committed_at_us. Owns nothing in src/.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

typedef struct {
    const char *out, *log;
    long rate, per_file;
    double seconds;
    char **src;
    int nsrc;
} options;

typedef struct {
    char *data;
    size_t len, cap;
    size_t *line_start; /* offsets of line starts; line_start[nlines] = len */
    size_t nlines, cap_lines;
} corpus;

static int usage(void)
{
    fprintf(stderr, "usage: bench_drop --out DIR --log FILE --rate EVENTS_PER_S --per-file N --seconds S SRC...\n");
    return 2;
}

static int parse_args(int argc, char **argv, options *o)
{
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--out") == 0)
            o->out = v;
        else if (strcmp(k, "--log") == 0)
            o->log = v;
        else if (strcmp(k, "--rate") == 0)
            o->rate = atol(v);
        else if (strcmp(k, "--per-file") == 0)
            o->per_file = atol(v);
        else if (strcmp(k, "--seconds") == 0)
            o->seconds = atof(v);
        else
            return usage();
    }
    o->src = argv + i;
    o->nsrc = argc - i;
    if (!o->out || !o->log || o->rate <= 0 || o->per_file <= 0 || o->seconds <= 0 || o->nsrc <= 0)
        return usage();
    return 0;
}

static int push_line(corpus *c, size_t start)
{
    if (c->nlines + 1 >= c->cap_lines) {
        size_t ncap = c->cap_lines ? c->cap_lines * 2 : 1 << 16;
        size_t *n = realloc(c->line_start, ncap * sizeof *n);
        if (!n)
            return -1;
        c->line_start = n;
        c->cap_lines = ncap;
    }
    c->line_start[c->nlines++] = start;
    return 0;
}

/* Appends whole lines of path to c until it holds `want` lines. */
static int load(corpus *c, const char *path, size_t want)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t n;
    while (c->nlines < want && (n = getline(&line, &lcap, f)) > 0) {
        if (line[n - 1] != '\n')
            break; /* a final partial line is not an event the writer would drop */
        if (c->len + (size_t)n > c->cap) {
            size_t ncap = c->cap ? c->cap * 2 : 1 << 24;
            while (ncap < c->len + (size_t)n)
                ncap *= 2;
            char *d = realloc(c->data, ncap);
            if (!d)
                break;
            c->data = d;
            c->cap = ncap;
        }
        if (push_line(c, c->len) != 0)
            break;
        memcpy(c->data + c->len, line, (size_t)n);
        c->len += (size_t)n;
    }
    free(line);
    fclose(f);
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes events [first, first+count) of the corpus (wrapping) to fd. */
static int write_events(int fd, const corpus *c, size_t first, size_t count, size_t *bytes)
{
    *bytes = 0;
    while (count > 0) {
        size_t a = first % c->nlines;
        size_t k = c->nlines - a < count ? c->nlines - a : count;
        size_t from = c->line_start[a], to = a + k < c->nlines ? c->line_start[a + k] : c->len;
        if (write_all(fd, c->data + from, to - from) != 0)
            return -1;
        *bytes += to - from;
        first += k;
        count -= k;
    }
    return 0;
}

static void sleep_until_mono(int64_t due_us)
{
    struct timespec ts = {(time_t)(due_us / 1000000), (long)(due_us % 1000000) * 1000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

int main(int argc, char **argv)
{
    options o = {0};
    if (parse_args(argc, argv, &o) != 0)
        return 2;
    long nfiles = (long)(o.seconds * (double)o.rate / (double)o.per_file + 0.5);
    corpus c = {0};
    for (int i = 0; i < o.nsrc && c.nlines < (size_t)(nfiles * o.per_file); i++)
        if (load(&c, o.src[i], (size_t)(nfiles * o.per_file)) != 0) {
            fprintf(stderr, "bench_drop: cannot read '%s': %s\n", o.src[i], strerror(errno));
            return 1;
        }
    FILE *log = fopen(o.log, "w");
    if (c.nlines == 0 || !log) {
        fprintf(stderr, "bench_drop: no events to drop, or cannot write '%s'\n", o.log);
        return 1;
    }
    int64_t period_us = (int64_t)((double)o.per_file * 1e6 / (double)o.rate);
    int64_t t0 = enc_mono_us() + 100000, max_late = 0;
    char tmp[4096], dst[4096];
    for (long k = 0; k < nfiles; k++) {
        int64_t due = t0 + k * period_us;
        sleep_until_mono(due);
        int64_t late = enc_mono_us() - due;
        if (late > max_late)
            max_late = late;
        snprintf(tmp, sizeof tmp, "%s/.drop-%06ld.json", o.out, k);
        snprintf(dst, sizeof dst, "%s/drop-%06ld.json", o.out, k);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        size_t bytes = 0;
        if (fd < 0 || write_events(fd, &c, (size_t)k * (size_t)o.per_file, (size_t)o.per_file, &bytes) != 0 ||
            close(fd) != 0) {
            fprintf(stderr, "bench_drop: cannot write '%s': %s\n", tmp, strerror(errno));
            return 1;
        }
        int64_t closed = enc_wall_us();
        if (rename(tmp, dst) != 0) {
            fprintf(stderr, "bench_drop: cannot rename '%s': %s\n", tmp, strerror(errno));
            return 1;
        }
        fprintf(log, "drop-%06ld.json|%zu|%lld\n", k, bytes, (long long)closed);
    }
    double took = (double)(enc_mono_us() - t0) / 1e6;
    fclose(log);
    printf("files=%ld events=%ld seconds=%.3f max_late_ms=%.1f corpus_lines=%zu\n", nfiles, nfiles * o.per_file,
           took, (double)max_late / 1e3, c.nlines);
    free(c.data);
    free(c.line_start);
    return 0;
}

/* source_dir — the directory source: Auto Loader semantics for JSON event files.
 *
 * Owns the in-memory file ledger (path → inode, bytes and lines consumed, framing
 * state), discovery (a full recursive scan at start; then inotify events, each taking
 * one file or one new directory, under a rescan that walks the tree a slice of entries
 * per poll at a bounded rate; without inotify a full scan every poll tick) and reading (plain or gzip, chunk by chunk into the batch arena, framed
 * by framer.c). It advances positions only in memory; the sink makes them durable
 * with the batch. Names starting with '.' or '_' are skipped (files still being
 * written). A final record without its newline waits for the settle time.
 * Called only from the pipeline's reader thread.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "alloc.h"
#include "buf.h"
#include "clock.h"
#include "event_json.h"
#include "framer.h"
#include "hash.h"
#include "source.h"

#define READ_CHUNK (1u << 20)
#define MAX_DEPTH 32 /* directory nesting followed */
/* The rescan under inotify (the safety net for lost events) visits at most SCAN_RATE
 * directory entries a second, in slices of at most SCAN_SLICE per poll, and starts a
 * new pass --poll after the last one ended. A full scan stats every file at once: with
 * 3,000 files that was 33-49 ms of the reader thread every second at load 5, and it grows
 * with every file the directory keeps. Now no poll pays for more than a slice, and with
 * many files a pass just takes longer (100k files: 2 s). */
#define SCAN_RATE 50000
#define SCAN_SLICE 256

typedef struct {
    char *path;        /* canonical path: the checkpoint key */
    char *path_json;   /* path as a JSON string literal */
    bool gz;
    int64_t inode;     /* identity when first read; 0 = never read */
    int64_t offset;    /* bytes consumed (uncompressed for .gz) */
    int64_t line;      /* next line number */
    int64_t state;     /* framer resume state */
    int64_t size;      /* size at the last scan */
    int64_t changed_us;/* monotonic time the size last changed */
    int64_t done_size; /* size when last read to its end; -1 = not read to the end */
    bool tail;         /* that read left an incomplete final record */
    enc_framer fr;     /* framing state at offset */
    bool fr_ready;
    bool seen;         /* found by a scan or an event and not found missing since */
    bool queued;       /* in the work list */
    bool broken;       /* unreadable or overwritten: reported, skipped until it changes */
    int64_t broken_size;
    uint64_t hash;     /* of path, for the index */
} dir_file;

typedef struct {
    enc_source_config cfg;
    char *root;        /* canonical directory */
    /* Every file ever seen, by path: open addressing over a power-of-two array, so a
     * lookup costs the same however many files the directory keeps (a sorted array was
     * sorted again every 32 new files). */
    dir_file **index;
    size_t nindex, cap_index;
    int inotify_fd;    /* -1: polling only */
    struct watched {
        int wd;
        int depth;     /* below the root */
        char *dir;     /* the directory's path exactly as scan_dir spells it */
    } *watches;        /* inotify watch descriptors, for the names in events */
    size_t nwatches, cap_watches;
    bool scan_due;     /* a full scan before the next read (start, lost events, polling) */
    int64_t last_scan_us;
    /* The rescan in progress under inotify: the directories being read, root first. */
    struct open_dir {
        DIR *d;
        char *path;
        int depth;
    } rescan[MAX_DEPTH + 1];
    int rescan_depth;   /* 0: no pass running */
    int64_t rescan_credit_us, rescan_at_us; /* entries allowed, as time at SCAN_RATE */
    /* Files that may have bytes to read now or once settled, oldest first (a scan's
     * finds in path order): each poll visits these, not every file ever seen, so a
     * directory of many ingested files costs nothing per poll. */
    dir_file **work;
    size_t nwork, cap_work;
    char pending_msg[160];
    enc_err *err;      /* the current call's error record */
} dir_ctx;

static void warnf(dir_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warnf(dir_ctx *c, const char *fmt, ...)
{
    if (!c->cfg.warn)
        return;
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->cfg.warn(c->cfg.warn_arg, msg);
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* Event files: *.json, *.jsonl, *.ndjson, each optionally .gz. */
static bool wanted_name(const char *name, bool *gz)
{
    if (name[0] == '.' || name[0] == '_')
        return false;
    char base[256];
    size_t n = strlen(name);
    *gz = has_suffix(name, ".gz");
    if (*gz)
        n -= 3;
    if (n >= sizeof base)
        return false;
    memcpy(base, name, n);
    base[n] = '\0';
    return has_suffix(base, ".json") || has_suffix(base, ".jsonl") || has_suffix(base, ".ndjson");
}

static uint64_t path_hash(const char *path)
{
    return enc_hash_bytes(path, strlen(path), 0x5bd1e995);
}

static dir_file *find_file(const dir_ctx *c, const char *path)
{
    if (c->cap_index == 0)
        return NULL;
    uint64_t h = path_hash(path);
    size_t mask = c->cap_index - 1;
    for (size_t i = h & mask; c->index[i]; i = (i + 1) & mask)
        if (c->index[i]->hash == h && strcmp(c->index[i]->path, path) == 0)
            return c->index[i];
    return NULL;
}

static void index_place(dir_file **slots, size_t cap, dir_file *f)
{
    size_t i = f->hash & (cap - 1);
    while (slots[i])
        i = (i + 1) & (cap - 1);
    slots[i] = f;
}

/* Room for one more file in the index (at most half full): doubles it, moving the
 * pointers by their stored hashes (no path is hashed again). */
static bool index_room(dir_ctx *c)
{
    if ((c->nindex + 1) * 2 <= c->cap_index)
        return true;
    size_t cap = c->cap_index ? c->cap_index * 2 : 256;
    dir_file **slots = enc_calloc(cap, sizeof *slots);
    if (!slots)
        return false;
    for (size_t i = 0; i < c->cap_index; i++)
        if (c->index[i])
            index_place(slots, cap, c->index[i]);
    enc_free(c->index);
    c->index = slots;
    c->cap_index = cap;
    return true;
}

static int cmp_files(const void *a, const void *b)
{
    return strcmp((*(dir_file *const *)a)->path, (*(dir_file *const *)b)->path);
}

/* Makes room for one more pointer in *arr (n used of *cap): 64, then doubling. */
static bool room_for_one(dir_file ***arr, size_t n, size_t *cap)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 64;
    dir_file **grown = enc_realloc(*arr, ncap * sizeof *grown);
    if (!grown)
        return false;
    *arr = grown;
    *cap = ncap;
    return true;
}

static dir_file *add_file(dir_ctx *c, const char *path, bool gz)
{
    if (!index_room(c))
        return NULL;
    dir_file *f = enc_calloc(1, sizeof *f);
    enc_buf json;
    enc_buf_init(&json, 1 << 16);
    if (!f || !(f->path = enc_strdup(path)) || enc_buf_append_json_string(&json, path, strlen(path)) != ENC_OK) {
        if (f)
            enc_free(f->path);
        enc_free(f);
        enc_buf_free(&json);
        return NULL;
    }
    f->path_json = json.data;
    f->gz = gz;
    f->line = 1;
    f->done_size = -1;
    f->changed_us = enc_mono_us();
    f->hash = path_hash(path);
    index_place(c->index, c->cap_index, f);
    c->nindex++;
    return f;
}

/* Watches a directory and remembers its path under the watch descriptor. A directory
 * that cannot be watched is still found by the periodic rescan. */
static void watch_dir(dir_ctx *c, const char *path, int depth)
{
    if (c->inotify_fd < 0)
        return;
    int wd = inotify_add_watch(c->inotify_fd, path, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MODIFY | IN_ONLYDIR);
    if (wd < 0)
        return;
    for (size_t i = 0; i < c->nwatches; i++) {
        if (c->watches[i].wd != wd)
            continue;
        c->watches[i].depth = depth;
        if (strcmp(c->watches[i].dir, path) != 0) { /* a number the kernel gave out again */
            char *dir = enc_strdup(path);
            if (dir) {
                enc_free(c->watches[i].dir);
                c->watches[i].dir = dir;
            }
        }
        return;
    }
    if (c->nwatches == c->cap_watches) {
        size_t cap = c->cap_watches ? c->cap_watches * 2 : 16;
        struct watched *w = enc_realloc(c->watches, cap * sizeof *w);
        if (!w)
            return;
        c->watches = w;
        c->cap_watches = cap;
    }
    char *dir = enc_strdup(path);
    if (dir)
        c->watches[c->nwatches++] = (struct watched){wd, depth, dir};
}

static const struct watched *watched_dir(const dir_ctx *c, int wd)
{
    for (size_t i = 0; i < c->nwatches; i++)
        if (c->watches[i].wd == wd)
            return &c->watches[i];
    return NULL;
}

/* Has bytes we have not consumed, now or once its incomplete tail settles? */
static bool may_have_work(const dir_ctx *c, const dir_file *f)
{
    if (f->broken)
        return f->broken_size != f->size; /* skipped until it changes */
    return f->size != f->done_size || (f->tail && !c->cfg.once);
}

static enc_status enqueue(dir_ctx *c, dir_file *f)
{
    if (f->queued)
        return ENC_OK;
    if (!room_for_one(&c->work, c->nwork, &c->cap_work))
        return ENC_ERROR;
    c->work[c->nwork++] = f;
    f->queued = true;
    return ENC_OK;
}

/* Records one candidate file found by the scan. */
static enc_status scan_file(dir_ctx *c, const char *path, bool gz, const struct stat *st, bool *added)
{
    dir_file *f = find_file(c, path);
    if (!f) {
        f = add_file(c, path, gz);
        if (!f)
            return enc_err_set(c->err, "out of memory while scanning '%s'", path);
        *added = true;
    }
    f->seen = true;
    if (st->st_size != f->size) {
        f->size = st->st_size;
        f->changed_us = enc_mono_us();
    }
    if (may_have_work(c, f) && enqueue(c, f) != ENC_OK)
        return enc_err_set(c->err, "out of memory while scanning '%s'", path);
    return ENC_OK;
}

static enc_status scan_dir(dir_ctx *c, const char *dir, int depth, bool *added)
{
    if (depth > MAX_DEPTH)
        return ENC_OK;
    DIR *d = opendir(dir);
    if (!d) {
        if (depth == 0)
            return enc_err_set(c->err, "cannot read events directory '%s': %s", dir, strerror(errno));
        warnf(c, "skipping directory '%s': %s", dir, strerror(errno));
        return ENC_OK;
    }
    watch_dir(c, dir, depth);
    enc_status rc = ENC_OK;
    struct dirent *de;
    char path[4096];
    while (rc == ENC_OK && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || de->d_name[0] == '_')
            continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= sizeof path)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, 0) != 0)
            continue; /* vanished between readdir and stat */
        bool gz;
        if (S_ISDIR(st.st_mode))
            rc = scan_dir(c, path, depth + 1, added);
        else if (S_ISREG(st.st_mode) && wanted_name(de->d_name, &gz))
            rc = scan_file(c, path, gz, &st, added);
    }
    closedir(d);
    return rc;
}

static enc_status scan(dir_ctx *c)
{
    bool added = false;
    enc_status rc = scan_dir(c, c->root, 0, &added);
    if (c->nwork > 1) /* a scan's finds are read in path order; an empty list may be NULL */
        qsort(c->work, c->nwork, sizeof *c->work, cmp_files);
    c->scan_due = false;
    c->last_scan_us = enc_mono_us();
    return rc;
}

/* ---- the rescan under inotify, a slice at a time ---------------------------------- */

static void rescan_pop(dir_ctx *c)
{
    struct open_dir *o = &c->rescan[--c->rescan_depth];
    closedir(o->d);
    enc_free(o->path);
    o->d = NULL;
    o->path = NULL;
}

static bool rescan_push(dir_ctx *c, const char *path, int depth)
{
    if (depth > MAX_DEPTH || c->rescan_depth > MAX_DEPTH)
        return true;
    DIR *d = opendir(path);
    if (!d) {
        if (depth > 0)
            warnf(c, "skipping directory '%s': %s", path, strerror(errno));
        return depth > 0; /* the root unreadable: a full scan reports it */
    }
    char *copy = enc_strdup(path);
    if (!copy) {
        closedir(d);
        return false;
    }
    watch_dir(c, path, depth);
    c->rescan[c->rescan_depth++] = (struct open_dir){d, copy, depth};
    return true;
}

/* Continues the rescan by up to `entries` directory entries (starting a pass when the
 * last one ended --poll ago). What it finds is taken as a full scan's finds are; a file
 * that lands meanwhile is found by its inotify event, or by the next pass. */
static enc_status rescan_some(dir_ctx *c, int64_t now)
{
    if (c->rescan_depth == 0) {
        if (now - c->last_scan_us < c->cfg.poll_ms * 1000)
            return ENC_OK;
        c->rescan_at_us = now;
        c->rescan_credit_us = 0;
        if (!rescan_push(c, c->root, 0)) {
            c->scan_due = true; /* the full scan reports why */
            return ENC_OK;
        }
    }
    int64_t slice_us = (int64_t)SCAN_SLICE * 1000000 / SCAN_RATE;
    c->rescan_credit_us += now - c->rescan_at_us;
    if (c->rescan_credit_us > slice_us)
        c->rescan_credit_us = slice_us;
    c->rescan_at_us = now;
    int64_t entries = c->rescan_credit_us * SCAN_RATE / 1000000;
    c->rescan_credit_us -= entries * 1000000 / SCAN_RATE;
    bool added = false;
    char path[4096];
    while (entries > 0 && c->rescan_depth > 0) {
        struct open_dir *o = &c->rescan[c->rescan_depth - 1];
        struct dirent *de = readdir(o->d);
        if (!de) {
            rescan_pop(c);
            continue;
        }
        entries--;
        if (de->d_name[0] == '.' || de->d_name[0] == '_')
            continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", o->path, de->d_name) >= sizeof path)
            continue;
        struct stat st;
        if (fstatat(dirfd(o->d), de->d_name, &st, 0) != 0)
            continue;
        bool gz;
        if (S_ISDIR(st.st_mode)) {
            if (!rescan_push(c, path, o->depth + 1))
                return enc_err_set(c->err, "out of memory while scanning '%s'", path);
        } else if (S_ISREG(st.st_mode) && wanted_name(de->d_name, &gz) &&
                   scan_file(c, path, gz, &st, &added) != ENC_OK) {
            return ENC_ERROR;
        }
    }
    if (c->rescan_depth == 0)
        c->last_scan_us = now;
    return ENC_OK;
}

static void rescan_stop(dir_ctx *c)
{
    while (c->rescan_depth > 0)
        rescan_pop(c);
}

/* ---- reading ---------------------------------------------------------------- */

typedef struct {
    int fd;
    gzFile gz;
    int64_t size; /* file size at open */
} reader;

static ssize_t reader_read(reader *r, char *buf, size_t n, int64_t at)
{
    if (r->gz) {
        int got = gzread(r->gz, buf, (unsigned)n);
        if (got < 0) {
            int zerr;
            gzerror(r->gz, &zerr);
            /* A gzip file still being written ends early: treat as "no more for now". */
            return zerr == Z_BUF_ERROR ? 0 : -1;
        }
        return got;
    }
    return pread(r->fd, buf, n, at);
}

static void reader_close(reader *r)
{
    if (r->gz)
        gzclose(r->gz); /* closes fd too */
    else if (r->fd >= 0)
        close(r->fd);
}

static bool settled(const dir_ctx *c, const dir_file *f, int64_t now)
{
    return now - f->changed_us >= c->cfg.settle_ms * 1000;
}

/* Decides whether an unterminated final record is taken now. */
static bool take_tail(const dir_ctx *c, const dir_file *f, const char *p, size_t n, bool bad, enc_batch *b)
{
    if (!c->cfg.once)
        return settled(c, f, enc_mono_us());
    if (bad)
        return false;
    /* --once: the final line is taken when it parses (it may still be being written). */
    enc_event ev;
    enc_event_error e;
    enc_arena scratch;
    enc_arena_init(&scratch, 4096);
    bool ok = enc_event_parse(p, n, &scratch, &ev, &e) == ENC_EVP_OK;
    enc_arena_free(&scratch);
    (void)b;
    return ok;
}

static enc_status add_record(dir_ctx *c, dir_file *f, enc_batch *b, const char *p, size_t n, int64_t line,
                             const char *error)
{
    enc_record *r = enc_batch_add_record(b);
    if (!r)
        return enc_err_set(c->err, "out of memory reading '%s'", f->path);
    r->text = enc_slice_make(p, n);
    r->origin = f->path;
    r->origin_json = f->path_json;
    r->line = line;
    r->error = error;
    b->stats.events++;
    b->stats.bytes += (int64_t)n;
    return ENC_OK;
}

static bool batch_full(const dir_ctx *c, const enc_batch *b)
{
    return (int64_t)b->nrecs >= c->cfg.batch_events || (int64_t)b->arena.used_total >= c->cfg.batch_bytes;
}

/* A batch without a record keeps reading: one record longer than batch_bytes (allowed up
 * to --max-record) must still get through, or it would be retried forever. */
static bool batch_takes_more(const dir_ctx *c, const enc_batch *b)
{
    return b->nrecs == 0 || !batch_full(c, b);
}

/* Checks identity: an overwritten (new inode) or shrunk file is reported and skipped. */
static bool identity_ok(dir_ctx *c, dir_file *f, const struct stat *st)
{
    bool replaced = f->inode != 0 && (int64_t)st->st_ino != f->inode;
    bool shrunk = !f->gz && (int64_t)st->st_size < f->offset;
    if (!replaced && !shrunk)
        return true;
    if (!c->cfg.allow_overwrites) {
        if (!f->broken || f->broken_size != (int64_t)st->st_size)
            warnf(c, "'%s' was %s after %lld bytes were ingested; skipping it (pass --allow-overwrites to "
                     "read it again from the start)",
                  f->path, replaced ? "replaced (new inode)" : "truncated", (long long)f->offset);
        f->broken = true;
        f->broken_size = (int64_t)st->st_size;
        return false;
    }
    warnf(c, "'%s' was overwritten; reading it again from the start (--allow-overwrites)", f->path);
    f->offset = 0;
    f->line = 1;
    f->state = 0;
    f->inode = 0;
    f->fr_ready = false;
    return true;
}

static enc_status open_reader(dir_ctx *c, dir_file *f, reader *r, bool *skip)
{
    r->fd = -1;
    r->gz = NULL;
    *skip = false;
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 && errno == ENOENT) { /* gone (deleted, renamed away): found again if it comes back */
        f->seen = false;
        *skip = true;
        return ENC_OK;
    }
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (!f->broken)
            warnf(c, "cannot read '%s': %s; skipping it until it changes", f->path, strerror(errno));
        f->broken = true;
        f->broken_size = f->size;
        if (fd >= 0)
            close(fd);
        *skip = true;
        return ENC_OK;
    }
    if (!identity_ok(c, f, &st)) {
        close(fd);
        *skip = true;
        return ENC_OK;
    }
    f->broken = false;
    r->size = (int64_t)st.st_size;
    if (f->inode == 0)
        f->inode = (int64_t)st.st_ino;
    r->fd = fd;
    if (f->gz) {
        r->gz = gzdopen(fd, "rb");
        if (!r->gz) {
            close(fd);
            return enc_err_set(c->err, "cannot open gzip file '%s': out of memory", f->path);
        }
        gzbuffer(r->gz, 256 * 1024);
        if (f->offset > 0 && gzseek(r->gz, (z_off_t)f->offset, SEEK_SET) < 0) {
            gzclose(r->gz);
            r->gz = NULL;
            warnf(c, "cannot seek in gzip file '%s'; skipping it", f->path);
            f->broken = true;
            *skip = true;
        }
    }
    return ENC_OK;
}

/* How much to read next: a chunk, or for a plain file what its size at open leaves; past
 * that, a small read finds the end (or bytes appended since), growing with a record that
 * spans it. Batches are capped in arena bytes, so a 1 MiB buffer for each 100 KiB file
 * filled a batch with 64 files while holding a tenth of that. */
static size_t read_size(const dir_file *f, const reader *r, size_t carry_len)
{
    enum { PROBE = 4096 };
    if (r->gz)
        return READ_CHUNK;
    int64_t left = r->size - f->offset - (int64_t)carry_len;
    if (left > 0)
        return left < (int64_t)READ_CHUNK ? (size_t)left : READ_CHUNK;
    return carry_len > PROBE ? carry_len : PROBE;
}

/* Frames the records of buf[0..len) (file bytes from f->offset). Returns bytes consumed. */
static enc_status frame_chunk(dir_ctx *c, dir_file *f, enc_framer *fr, enc_batch *b, char *buf, size_t len,
                              bool eof, size_t *consumed, bool *tail_left)
{
    size_t pos = 0;
    *tail_left = false;
    while (batch_takes_more(c, b)) {
        enc_frame frame;
        size_t next;
        int64_t line_before = fr->line;
        enc_frame_result res = enc_framer_next(fr, buf, len, pos, eof, &frame, &next);
        if (res == ENC_FRAME_NEED_MORE) {
            pos = next;
            break;
        }
        if (frame.partial && !take_tail(c, f, buf + frame.start, frame.end - frame.start, res == ENC_FRAME_BAD, b)) {
            fr->line = line_before; /* give the tail back: it is read again later */
            pos = frame.start;
            *tail_left = true;
            break;
        }
        const char *error = res == ENC_FRAME_BAD ? frame.error : NULL;
        if (add_record(c, f, b, buf + frame.start, frame.end - frame.start, frame.line, error) != ENC_OK)
            return ENC_ERROR;
        pos = next;
    }
    *consumed = pos;
    return ENC_OK;
}

/* True when p[0..n) is JSON whitespace only; counts its newlines. */
static bool all_blank(const char *p, size_t n, int64_t *newlines)
{
    int64_t nl = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n')
            nl++;
        else if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return false;
    }
    *newlines = nl;
    return true;
}

/* Reads new records of one file into the batch. */
static enc_status read_file(dir_ctx *c, dir_file *f, enc_batch *b)
{
    reader r;
    bool skip;
    if (open_reader(c, f, &r, &skip) != ENC_OK)
        return ENC_ERROR;
    if (skip)
        return ENC_OK;
    if (!f->fr_ready) {
        enc_framer_init(&f->fr, f->state, f->line, (size_t)c->cfg.max_record);
        f->fr_ready = true;
    }
    enc_framer *fr = &f->fr;
    int64_t size_at_open = r.size;
    enc_status rc = ENC_OK;
    char *carry = NULL; /* unconsumed bytes of the previous chunk (an incomplete record) */
    size_t carry_len = 0;
    bool tail_left = false, at_eof = false;
    int64_t start_offset = f->offset;
    char *spare = NULL; /* the last buffer, when no record points into it: read into it again */
    size_t spare_cap = 0;
    while (rc == ENC_OK && batch_takes_more(c, b)) {
        /* Records already framed point into earlier buffers, so each read takes a new one;
         * doubling for a long record keeps the arena within a few times its length. */
        size_t cap = carry_len > READ_CHUNK ? 2 * carry_len : carry_len + read_size(f, &r, carry_len);
        char *buf;
        if (carry_len == 0 && spare && spare_cap >= cap) { /* skipping or blanks: no growth */
            buf = spare;
            cap = spare_cap;
        } else {
            buf = enc_arena_alloc(&b->arena, cap);
        }
        spare = NULL;
        if (!buf) {
            rc = enc_err_set(c->err, "out of memory reading '%s'", f->path);
            break;
        }
        if (carry_len)
            memcpy(buf, carry, carry_len);
        ssize_t got = reader_read(&r, buf + carry_len, cap - carry_len, f->offset + (int64_t)carry_len);
        if (got < 0) {
            rc = enc_err_set(c->err, "cannot read '%s': %s", f->path, strerror(errno));
            break;
        }
        size_t len = carry_len + (size_t)got;
        at_eof = got == 0;
        size_t skip_bom = 0;
        if (f->offset == 0 && len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
            skip_bom = 3;
        if (fr->mode == ENC_FRAME_UNKNOWN && !enc_framer_sniff(fr, buf + skip_bom, len - skip_bom, at_eof)) {
            if (at_eof)
                break;
            int64_t newlines;
            if (all_blank(buf + skip_bom, len - skip_bom, &newlines)) {
                /* Only blanks so far: consume them rather than carry a run of any length. */
                f->offset += (int64_t)len;
                fr->line += newlines;
                f->line = fr->line;
                carry_len = 0;
                spare = buf;
                spare_cap = cap;
                continue;
            }
            carry = buf;
            carry_len = len;
            continue;
        }
        size_t consumed, nrecs_before = b->nrecs;
        rc = frame_chunk(c, f, fr, b, buf + skip_bom, len - skip_bom, at_eof, &consumed, &tail_left);
        if (rc != ENC_OK)
            break;
        consumed += skip_bom;
        f->offset += (int64_t)consumed;
        f->line = fr->line;
        carry = buf + consumed;
        carry_len = len - consumed;
        if (carry_len == 0 && b->nrecs == nrecs_before) {
            spare = buf;
            spare_cap = cap;
        }
        if (at_eof || tail_left)
            break;
    }
    reader_close(&r);
    f->state = enc_framer_state(fr);
    if (rc != ENC_OK)
        return rc;
    f->done_size = at_eof || tail_left ? size_at_open : -1;
    f->tail = tail_left;
    if (f->offset != start_offset) {
        enc_position p = {f->path, f->inode, f->offset, f->line, f->state};
        if (enc_batch_set_position(b, &p) != ENC_OK)
            return enc_err_set(c->err, "out of memory");
    }
    return ENC_OK;
}

/* Has the file bytes we have not consumed, that are worth reading now? */
static bool has_work(const dir_ctx *c, const dir_file *f, int64_t now)
{
    if (f->broken)
        return f->broken_size != f->size; /* skipped until it changes */
    if (f->size != f->done_size)
        return true;
    /* Read to its end before: only an incomplete tail can be left, taken once settled. */
    return f->tail && !c->cfg.once && settled(c, f, now);
}

/* Reads the work list in order until the batch is full. A file leaves the list once
 * nothing is left to read (or it vanished: a scan that finds it again puts it back); a
 * file the batch filled up in stays first, to continue with next time. */
static enc_status fill_batch(dir_ctx *c, enc_batch *b)
{
    int64_t now = enc_mono_us();
    size_t kept = 0, i = 0;
    enc_status rc = ENC_OK;
    for (; i < c->nwork && !batch_full(c, b); i++) {
        dir_file *f = c->work[i];
        if (f->seen && has_work(c, f, now) && (rc = read_file(c, f, b)) != ENC_OK) {
            i++;
            c->work[kept++] = f;
            break;
        }
        if (f->seen && may_have_work(c, f))
            c->work[kept++] = f;
        else
            f->queued = false;
    }
    for (; i < c->nwork; i++)
        c->work[kept++] = c->work[i];
    c->nwork = kept;
    return rc;
}

/* A directory created or moved in under a watched one: scanned (and watched) on its
 * own, so a service that adds a directory an hour does not rescan all it kept. */
static void take_new_dir(dir_ctx *c, const struct watched *w, const char *name)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", w->dir, name) >= sizeof path)
        return;
    bool added = false;
    if (scan_dir(c, path, w->depth + 1, &added) != ENC_OK) {
        c->scan_due = true; /* the full scan reports it */
        return;
    }
    if (c->nwork > 1)
        qsort(c->work, c->nwork, sizeof *c->work, cmp_files);
}

/* Takes one inotify event: a file event updates just that file (no directory walk), so
 * a directory holding thousands of ingested files costs nothing per new one; a new
 * subdirectory is scanned alone. A lost event or an unknown watch asks for a full scan. */
static void take_event(dir_ctx *c, const struct inotify_event *ev)
{
    if (ev->mask & IN_Q_OVERFLOW) {
        c->scan_due = true;
        return;
    }
    const struct watched *w = watched_dir(c, ev->wd);
    if (ev->len == 0 || ev->name[0] == '.' || ev->name[0] == '_')
        return; /* hidden or temporary */
    if (!w) {
        c->scan_due = true;
        return;
    }
    if (ev->mask & IN_ISDIR) {
        if (ev->mask & (IN_CREATE | IN_MOVED_TO))
            take_new_dir(c, w, ev->name);
        return;
    }
    bool gz;
    if (!wanted_name(ev->name, &gz))
        return; /* not an event file */
    char path[4096];
    struct stat st;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", w->dir, ev->name) >= sizeof path)
        return; /* scan_dir skips such names too */
    if (stat(path, &st) != 0) {
        if (errno != ENOENT) /* ENOENT: gone again; if it moved, its new name has an event */
            c->scan_due = true;
        return;
    }
    if (!S_ISREG(st.st_mode))
        return;
    bool added = false;
    if (scan_file(c, path, gz, &st, &added) != ENC_OK)
        c->scan_due = true; /* out of memory: the scan reports it */
}

/* Takes the inotify events queued so far, without waiting (the descriptor is non-blocking). */
static void take_events(dir_ctx *c)
{
    _Alignas(struct inotify_event) char buf[16384];
    ssize_t n;
    while ((n = read(c->inotify_fd, buf, sizeof buf)) > 0) {
        for (ssize_t at = 0; at + (ssize_t)sizeof(struct inotify_event) <= n;) {
            const struct inotify_event *ev = (const struct inotify_event *)(buf + at);
            take_event(c, ev);
            at += (ssize_t)(sizeof *ev + ev->len);
        }
    }
}

/* Waits for inotify events or the next tick, and takes the events. */
static void wait_for_change(dir_ctx *c, int64_t wait_ms)
{
    if (wait_ms <= 0)
        return;
    if (c->inotify_fd < 0) {
        poll(NULL, 0, (int)wait_ms);
        c->scan_due = true;
        return;
    }
    struct pollfd pfd = {.fd = c->inotify_fd, .events = POLLIN};
    if (poll(&pfd, 1, (int)wait_ms) > 0)
        take_events(c);
}

/* The soonest moment a waiting tail becomes settled or the rescan has its next slice
 * (or pass) to do, as a wait in ms (or the poll tick). */
static int64_t next_wake_ms(const dir_ctx *c)
{
    int64_t wake = c->cfg.poll_ms;
    int64_t now = enc_mono_us();
    if (c->inotify_fd >= 0 && c->rescan_depth > 0)
        wake = (int64_t)SCAN_SLICE * 1000 / SCAN_RATE + 1;
    else if (c->inotify_fd >= 0)
        wake = (c->last_scan_us + c->cfg.poll_ms * 1000 - now) / 1000 + 1;
    if (wake < 1)
        wake = 1;
    for (size_t i = 0; i < c->nwork; i++) { /* a waiting tail stays in the work list */
        const dir_file *f = c->work[i];
        if (f->tail && f->done_size == f->size) {
            int64_t left = (f->changed_us + c->cfg.settle_ms * 1000 - now) / 1000 + 1;
            if (left < wake)
                wake = left > 0 ? left : 1;
        }
    }
    return wake;
}

static enc_status dir_poll(void *ctx, enc_batch *b, int64_t wait_ms, bool *done, enc_err *err)
{
    dir_ctx *c = ctx;
    c->err = err;
    *done = false;
    /* Files that landed while the pipeline was busy join this batch: a caller that polls
     * without waiting still sees them. */
    if (c->inotify_fd >= 0)
        take_events(c);
    int64_t now = enc_mono_us();
    if (c->scan_due || (c->inotify_fd < 0 && now - c->last_scan_us >= c->cfg.poll_ms * 1000)) {
        rescan_stop(c);
        if (scan(c) != ENC_OK)
            return ENC_ERROR;
    } else if (c->inotify_fd >= 0 && rescan_some(c, now) != ENC_OK) {
        return ENC_ERROR;
    }
    if (fill_batch(c, b) != ENC_OK)
        return ENC_ERROR;
    if (b->nrecs > 0 || b->npos > 0)
        return ENC_OK;
    if (c->cfg.once) {
        *done = true;
        return ENC_OK;
    }
    int64_t wake = next_wake_ms(c);
    wait_for_change(c, wait_ms < wake ? wait_ms : wake);
    return ENC_OK;
}

static enc_status dir_open(void *ctx, const enc_source_config *cfg, enc_err *err)
{
    dir_ctx *c = ctx;
    c->cfg = *cfg;
    c->err = err;
    c->inotify_fd = -1;
    struct stat st;
    if (stat(cfg->location, &st) != 0)
        return enc_err_set(err, "events directory '%s' not found: %s (create it or pass --events DIR)",
                           cfg->location, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return enc_err_set(err, "'%s' is not a directory; --events takes the directory the JSON files land in",
                           cfg->location);
    c->root = realpath(cfg->location, NULL);
    if (!c->root)
        return enc_err_set(err, "cannot resolve '%s': %s", cfg->location, strerror(errno));
    if (!cfg->once)
        c->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC); /* -1: fall back to polling */
    c->scan_due = true;
    return ENC_OK;
}

static enc_status dir_resume(void *ctx, const enc_position *pos, size_t n, enc_err *err)
{
    dir_ctx *c = ctx;
    for (size_t i = 0; i < n; i++) {
        bool gz = has_suffix(pos[i].key, ".gz");
        dir_file *f = add_file(c, pos[i].key, gz);
        if (!f)
            return enc_err_set(err, "out of memory");
        f->inode = pos[i].identity;
        f->offset = pos[i].offset;
        f->line = pos[i].line;
        f->state = pos[i].state;
        f->size = -1;
    }
    return ENC_OK;
}

static const char *dir_pending(void *ctx)
{
    dir_ctx *c = ctx;
    size_t tails = 0;
    for (size_t i = 0; i < c->cap_index; i++)
        if (c->index[i] && c->index[i]->tail)
            tails++;
    if (!tails)
        return NULL;
    snprintf(c->pending_msg, sizeof c->pending_msg,
             "%zu file%s end%s in an incomplete record, left for a later run", tails, tails == 1 ? "" : "s",
             tails == 1 ? "s" : "");
    return c->pending_msg;
}

static void dir_close(void *ctx)
{
    dir_ctx *c = ctx;
    rescan_stop(c);
    for (size_t i = 0; i < c->cap_index; i++) {
        if (!c->index[i])
            continue;
        enc_free(c->index[i]->path);
        enc_free(c->index[i]->path_json);
        enc_free(c->index[i]);
    }
    enc_free(c->index);
    enc_free(c->work);
    for (size_t i = 0; i < c->nwatches; i++)
        enc_free(c->watches[i].dir);
    enc_free(c->watches);
    free(c->root); /* from realpath */
    if (c->inotify_fd >= 0)
        close(c->inotify_fd);
}

const enc_source_ops enc_source_dir = {
    .name = "dir",
    .ctx_size = sizeof(dir_ctx),
    .open = dir_open,
    .resume = dir_resume,
    .poll = dir_poll,
    .pending = dir_pending,
    .close = dir_close,
};

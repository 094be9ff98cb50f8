/* fuzz_framer — libFuzzer harness for the record framer (src/framer.c).
 *
 * The first three input bytes choose the longest record (16..271 bytes) and the seed of
 * a chunk plan; the rest is an event file. It is framed twice: once whole (eof at once),
 * and once the way source_dir reads it — chunks of random size, the unconsumed bytes
 * carried over, eof only after an empty read — with a simulated crash-and-resume
 * (enc_framer_state + enc_framer_init from the committed offset and line) at random
 * chunk boundaries. Invariants (abort() on a break): both runs give the same records
 * (start, end, line, bad, partial); records lie inside the input, in order, without
 * overlap, at most max_record long; each record's line is 1 + the newlines before it;
 * the framer always makes progress. Seeds: fuzz/corpus/framer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "framer.h"

#define MAX_RECS 4096

typedef struct {
    size_t start, end;
    int64_t line;
    int bad, partial;
} rec;

typedef struct {
    rec r[MAX_RECS];
    size_t n;
} rec_list;

static rec_list whole, chunked;

static void check(int ok)
{
    if (!ok)
        abort();
}

static void add(rec_list *l, const enc_frame *f, size_t base, int bad)
{
    if (l->n == MAX_RECS)
        return; /* both lists stop at the same record */
    rec *r = &l->r[l->n++];
    r->start = base + f->start;
    r->end = base + f->end;
    r->line = f->line;
    r->bad = bad;
    r->partial = f->partial;
}

/* Frames buf[0..len) (file bytes from `base`) until the framer needs more; returns the
 * bytes consumed. */
static size_t frame(enc_framer *fr, const char *buf, size_t len, size_t base, int eof, rec_list *out)
{
    size_t pos = 0;
    for (int guard = 0;; guard++) {
        check(guard <= (int)len + 2); /* every answer but NEED_MORE consumes bytes */
        enc_frame f;
        size_t next;
        enc_frame_result res = enc_framer_next(fr, buf, len, pos, eof, &f, &next);
        check(next >= pos && next <= len);
        if (res == ENC_FRAME_NEED_MORE)
            return next;
        check(res == ENC_FRAME_RECORD || res == ENC_FRAME_BAD);
        check(f.start >= pos && f.start <= f.end && f.end <= len && f.end <= next);
        check(res == ENC_FRAME_RECORD ? f.error == NULL : f.error != NULL);
        check(next > pos); /* progress */
        add(out, &f, base, res == ENC_FRAME_BAD);
        pos = next;
    }
}

static size_t count_nl(const char *p, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += p[i] == '\n';
    return c;
}

static void frame_whole(const char *data, size_t size, size_t max_record)
{
    enc_framer fr;
    enc_framer_init(&fr, 0, 1, max_record);
    whole.n = 0;
    if (!enc_framer_sniff(&fr, data, size, 1))
        return; /* only whitespace */
    frame(&fr, data, size, 0, 1, &whole);
}

static uint32_t rng;
static uint32_t next_rand(void)
{
    rng = rng * 1103515245u + 12345u;
    return rng >> 16;
}

static void frame_chunked(const char *data, size_t size, size_t max_record)
{
    enc_framer fr;
    enc_framer_init(&fr, 0, 1, max_record);
    chunked.n = 0;
    char *buf = malloc(size + 1);
    check(buf != NULL);
    size_t offset = 0;    /* bytes consumed (committed position) */
    size_t carry = 0;     /* bytes after offset already in buf */
    for (int guard = 0;; guard++) {
        check(guard <= 4 * (int)size + 8);
        size_t avail = size - offset - carry;
        size_t got = avail ? 1 + next_rand() % (avail < 64 ? avail : 64) : 0;
        int eof = got == 0;
        /* buf[0..carry) already holds data[offset..offset+carry) */
        memcpy(buf + carry, data + offset + carry, got);
        size_t len = carry + got;
        if (fr.mode == ENC_FRAME_UNKNOWN && !enc_framer_sniff(&fr, buf, len, eof)) {
            if (eof)
                break;
            carry = len;
            continue;
        }
        size_t consumed = frame(&fr, buf, len, offset, eof, &chunked);
        offset += consumed;
        carry = len - consumed;
        memmove(buf, buf + consumed, carry);
        if (eof)
            break;
        if (consumed > 0 && next_rand() % 4 == 0) {
            /* Crash after a commit; resume from the committed offset, line and state. */
            int64_t state = enc_framer_state(&fr), line = fr.line;
            enc_framer_init(&fr, state, line, max_record);
            carry = 0;
        }
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    size_t max_record = 16 + data[0];
    rng = (uint32_t)data[1] << 8 | data[2];
    const char *text = (const char *)data + 3;
    size -= 3;

    frame_whole(text, size, max_record);
    frame_chunked(text, size, max_record);
    check(whole.n == chunked.n);
    size_t nl_at = 0, nl_count = 0; /* newlines in text[0..nl_at) */
    for (size_t i = 0; i < whole.n; i++) {
        const rec *a = &whole.r[i], *b = &chunked.r[i];
        check(a->start == b->start && a->end == b->end && a->line == b->line && a->bad == b->bad &&
              a->partial == b->partial);
        check(a->end - a->start <= max_record);
        check(i == 0 || a->start >= whole.r[i - 1].end);
        nl_count += count_nl(text + nl_at, a->start - nl_at);
        nl_at = a->start;
        check(a->line == 1 + (int64_t)nl_count);
    }
    return 0;
}

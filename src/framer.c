/* framer — record boundaries in JSON event files (see framer.h). */
#include "framer.h"

#include <string.h>

/* state = mode * 2 + in_array (0..5), plus 6 * (1 + skip_in_str + 2 * skip_escape +
 * 4 * skip_scalar + 8 * skip_depth) while the rest of an oversized record is being skipped: a checkpoint
 * taken in the middle of a long record resumes skipping it. */
int64_t enc_framer_state(const enc_framer *f)
{
    int64_t s = (int64_t)f->mode * 2 + (f->in_array ? 1 : 0);
    if (f->skipping)
        s += 6 * (1 + (f->skip_in_str ? 1 : 0) + (f->skip_escape ? 2 : 0) + (f->skip_scalar ? 4 : 0) +
                  8 * (int64_t)f->skip_depth);
    return s;
}

void enc_framer_init(enc_framer *f, int64_t state, int64_t line, size_t max_record)
{
    memset(f, 0, sizeof *f);
    if (state < 0)
        state = 0;
    f->mode = (enc_frame_mode)((state % 6) / 2);
    f->in_array = state % 2 == 1;
    int64_t skip = state / 6;
    if (skip > 0) {
        skip--;
        f->skipping = true;
        f->skip_in_str = skip & 1;
        f->skip_escape = skip >> 1 & 1;
        f->skip_scalar = skip >> 2 & 1;
        f->skip_depth = (int)((skip >> 3) < ENC_FRAMER_MAX_DEPTH ? skip >> 3 : ENC_FRAMER_MAX_DEPTH);
    }
    f->line = line > 0 ? line : 1;
    f->max_record = max_record;
}

static size_t count_newlines(const char *p, size_t n)
{
    size_t c = 0;
    const char *end = p + n;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        c++;
        p++;
    }
    return c;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Steps the string state over c. True when c was inside a JSON string (its closing
 * quote included), so the caller's structural scan skips it. */
static inline bool in_string(char c, bool *in_str, bool *esc)
{
    if (!*in_str)
        return false;
    if (*esc)
        *esc = false;
    else if (c == '\\')
        *esc = true;
    else if (c == '"')
        *in_str = false;
    return true;
}

/* Scans a bracketed value from its first byte. Returns the index after its closing
 * bracket, or `len` when the buffer ends first (state left in *depth etc.). */
static size_t scan_brackets(const char *buf, size_t len, size_t i, int *depth, bool *in_str, bool *esc)
{
    for (; i < len; i++) {
        char c = buf[i];
        if (in_string(c, in_str, esc))
            continue;
        if (c == '"') {
            *in_str = true;
        } else if (c == '{' || c == '[') {
            if (*depth < ENC_FRAMER_MAX_DEPTH) /* deeper is junk anyway; never overflow */
                ++*depth;
        } else if (c == '}' || c == ']') {
            if (--*depth <= 0)
                return i + 1;
        }
    }
    return len;
}

bool enc_framer_sniff(enc_framer *f, const char *buf, size_t len, bool eof)
{
    size_t i = 0;
    while (i < len && is_ws(buf[i]))
        i++;
    if (i == len)
        return false;
    /* Decide on the first max_record bytes only, so that the answer does not depend on
     * how much of the file the caller happens to hold (chunk boundaries). */
    if (f->max_record > 0 && len - i > f->max_record)
        len = i + f->max_record;
    if (buf[i] == '[') {
        f->mode = ENC_FRAME_STRUCT;
        return true;
    }
    if (buf[i] != '{') {
        f->mode = ENC_FRAME_LINES;
        return true;
    }
    const char *nl = memchr(buf + i, '\n', len - i);
    size_t line_end = nl ? (size_t)(nl - buf) : len;
    if (!nl && !eof && len - i < f->max_record)
        return false;
    int depth = 0;
    bool in_str = false, esc = false;
    size_t end = scan_brackets(buf, line_end, i, &depth, &in_str, &esc);
    if (end < line_end || depth <= 0) {
        f->mode = ENC_FRAME_LINES;
        return true;
    }
    /* The first line leaves a value open: a document spread over lines, unless the next
     * line starts a new object (then the first line is a broken NDJSON record). */
    size_t j = line_end;
    while (j < len && is_ws(buf[j]))
        j++;
    if (j == len) {
        if (!eof && len - i < f->max_record)
            return false;
        f->mode = ENC_FRAME_LINES;
        return true;
    }
    f->mode = buf[j] == '{' ? ENC_FRAME_LINES : ENC_FRAME_STRUCT;
    return true;
}

/* A scalar (or garbage) where a STRUCT record should start runs to a delimiter (not
 * consumed): a newline, '{', or inside an array ',' or ']'; quotes are respected.
 * Returns the delimiter's index, or `len` (string state left in *in_str, *esc). */
static size_t scan_scalar(const char *buf, size_t len, size_t i, bool in_array, bool *in_str, bool *esc)
{
    for (; i < len; i++) {
        char c = buf[i];
        if (in_string(c, in_str, esc))
            continue;
        if (c == '"') {
            *in_str = true;
        } else if (c == '\n' || (in_array && (c == ',' || c == ']')) || c == '{') {
            return i;
        }
    }
    return len;
}

/* Continues discarding an oversized record. Returns true when its end was found. */
static bool skip_rest(enc_framer *f, const char *buf, size_t len, size_t *pos)
{
    size_t i = *pos, end;
    if (f->mode == ENC_FRAME_LINES) {
        const char *nl = memchr(buf + i, '\n', len - i);
        end = nl ? (size_t)(nl - buf) + 1 : len;
    } else if (f->skip_scalar) {
        end = scan_scalar(buf, len, i, f->in_array, &f->skip_in_str, &f->skip_escape);
    } else {
        end = scan_brackets(buf, len, i, &f->skip_depth, &f->skip_in_str, &f->skip_escape);
    }
    f->line += (int64_t)count_newlines(buf + i, end - i);
    *pos = end;
    bool done;
    if (f->mode == ENC_FRAME_LINES)
        done = end > i && buf[end - 1] == '\n';
    else
        done = f->skip_scalar ? end < len : f->skip_depth <= 0;
    if (done)
        f->skipping = false;
    return done;
}

static enc_frame_result oversized(enc_framer *f, const char *buf, size_t len, size_t start, enc_frame *fr,
                                  size_t *next)
{
    fr->start = start;
    fr->end = start + (f->max_record < len - start ? f->max_record : len - start);
    fr->line = f->line;
    fr->partial = false;
    fr->error = "record is longer than the maximum record size (--max-record)";
    f->skipping = true;
    f->skip_depth = 0;
    f->skip_in_str = false;
    f->skip_escape = false;
    /* STRUCT: skip from the record start so the skip state knows the open depth. */
    f->skip_scalar = f->mode == ENC_FRAME_STRUCT && buf[start] != '{' && buf[start] != '[';
    *next = start;
    skip_rest(f, buf, len, next);
    return ENC_FRAME_BAD;
}

static enc_frame_result next_line(enc_framer *f, const char *buf, size_t len, size_t pos, bool eof,
                                  enc_frame *fr, size_t *next)
{
    for (;;) {
        size_t i = pos;
        while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r'))
            i++;
        if (i < len && buf[i] == '\n') { /* blank line */
            f->line++;
            pos = i + 1;
            continue;
        }
        /* Leading blanks are consumed, never carried: a long run of them is not a record. */
        pos = i;
        if (i == len) {
            *next = pos;
            return ENC_FRAME_NEED_MORE;
        }
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        if (end - pos > f->max_record)
            return oversized(f, buf, len, pos, fr, next);
        if (!nl && !eof) {
            *next = pos;
            return ENC_FRAME_NEED_MORE;
        }
        fr->start = pos;
        fr->end = end;
        if (fr->end > fr->start && buf[fr->end - 1] == '\r')
            fr->end--;
        fr->line = f->line;
        fr->partial = nl == NULL;
        fr->error = NULL;
        if (nl)
            f->line++;
        *next = nl ? end + 1 : end;
        return ENC_FRAME_RECORD;
    }
}

/* Skips whitespace and separators between STRUCT records, tracking the array state. */
static size_t skip_between(enc_framer *f, const char *buf, size_t len, size_t i)
{
    for (; i < len; i++) {
        char c = buf[i];
        if (c == '\n')
            f->line++;
        else if (c == ',' || c == ' ' || c == '\t' || c == '\r')
            continue;
        else if (c == '[' && !f->in_array)
            f->in_array = true;
        else if (c == ']' && f->in_array)
            f->in_array = false;
        else
            break;
    }
    return i;
}

static enc_frame_result next_struct(enc_framer *f, const char *buf, size_t len, size_t pos, bool eof,
                                    enc_frame *fr, size_t *next)
{
    size_t start = skip_between(f, buf, len, pos);
    *next = start;
    if (start == len)
        return ENC_FRAME_NEED_MORE;
    size_t end;
    bool complete;
    if (buf[start] == '{' || buf[start] == '[') {
        int depth = 0;
        bool in_str = false, esc = false;
        end = scan_brackets(buf, len, start, &depth, &in_str, &esc);
        complete = depth <= 0;
    } else {
        bool in_str = false, esc = false;
        end = scan_scalar(buf, len, start, f->in_array, &in_str, &esc);
        complete = end < len || eof;
        if (end == start) /* a lone '{' follows garbage: cannot happen, but never loop */
            end++;
    }
    if (end - start > f->max_record)
        return oversized(f, buf, len, start, fr, next);
    if (!complete && !eof)
        return ENC_FRAME_NEED_MORE;
    fr->start = start;
    fr->end = end;
    fr->line = f->line;
    fr->partial = !complete;
    fr->error = complete ? NULL : "truncated JSON document: the file ends inside a value";
    f->line += (int64_t)count_newlines(buf + start, end - start);
    *next = end;
    return complete ? ENC_FRAME_RECORD : ENC_FRAME_BAD;
}

enc_frame_result enc_framer_next(enc_framer *f, const char *buf, size_t len, size_t pos, bool eof,
                                 enc_frame *fr, size_t *next)
{
    if (f->skipping) {
        if (!skip_rest(f, buf, len, &pos)) {
            *next = pos;
            return ENC_FRAME_NEED_MORE;
        }
    }
    if (f->mode == ENC_FRAME_LINES)
        return next_line(f, buf, len, pos, eof, fr, next);
    return next_struct(f, buf, len, pos, eof, fr, next);
}

/* csv — RFC 4180 parsing in place over one owned copy of the input.
 *
 * The input lives in buf[0..n) with a NUL sentinel at buf[n], so the scanning loops
 * need no bounds checks: a NUL before n is a NUL in the input (an error), a NUL at n is
 * the end. Unquoted fields are scanned with a byte-class table; quoted fields are
 * unescaped by copying backwards over themselves ("" -> "), which only ever shrinks
 * them. Called by dim.c while loading reference tables; never on the event hot path.
 */
#include "csv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"

enum { ST_READING = 0, ST_END = 1, ST_FAILED = -1 };

struct enc_csv {
    char *buf;        /* the input, NUL-terminated at buf[n] */
    size_t n;
    size_t mapped;    /* bytes mapped at buf (see map_file), or 0 when buf is enc_malloc'd */
    size_t pos;       /* where the next row (or blank line) begins */
    size_t line;      /* line number of buf[pos] */
    enc_slice *fields;
    size_t cap;       /* capacity of fields, at most ENC_CSV_MAX_FIELDS */
    int state;
    enc_err err;      /* the first error, repeated by every later call */
};

/* Bytes that end an unquoted field or make it invalid. */
static const unsigned char stop_unquoted[256] = {[','] = 1, ['\n'] = 1, ['\r'] = 1, ['"'] = 1, [0] = 1};

static void release_buf(char *buf, size_t mapped)
{
    if (mapped)
        munmap(buf, mapped);
    else
        enc_free(buf);
}

/* Takes buf (mapped bytes of it, or 0 when enc_malloc'd), also on failure. */
static enc_status csv_new(enc_csv **out, char *buf, size_t n, size_t mapped, enc_err *err)
{
    enc_csv *c = enc_calloc(1, sizeof *c);
    enc_slice *fields = enc_malloc(16 * sizeof *fields);
    if (!c || !fields) {
        enc_free(c);
        enc_free(fields);
        release_buf(buf, mapped);
        return enc_err_set(err, "out of memory reading CSV input of %zu bytes", n);
    }
    c->buf = buf;
    c->n = n;
    c->mapped = mapped;
    c->buf[n] = '\0';
    c->line = 1;
    c->fields = fields;
    c->cap = 16;
    if (n >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        c->pos = 3;
    *out = c;
    return ENC_OK;
}

enc_status enc_csv_open_mem(enc_csv **out, const char *data, size_t n, enc_err *err)
{
    *out = NULL;
    if ((uint64_t)n > ENC_CSV_MAX_INPUT)
        return enc_err_set(err, "CSV input of %zu bytes is larger than 4 GiB (ENC_CSV_MAX_INPUT)", n);
    char *buf = enc_malloc(n + 1);
    if (!buf)
        return enc_err_set(err, "out of memory reading CSV input of %zu bytes", n);
    if (n)
        memcpy(buf, data, n);
    return csv_new(out, buf, n, 0, err);
}

/* Maps a regular file of n > 0 bytes privately (copy on write: the parser unescapes in
 * place without touching the file), with zeroed memory behind it so that buf[n] is a
 * NUL even when n is a whole number of pages: an anonymous reservation of n + 1 bytes,
 * the file mapped over its start. The file's pages come straight from the page cache,
 * with no copy and no zeroed pages to copy into. NULL when it cannot be mapped (the
 * caller then reads the file). */
static char *map_file(int fd, size_t n, size_t *mapped)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t len = (n + 1 + (size_t)page - 1) / (size_t)page * (size_t)page;
    char *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    if (mmap(base, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_POPULATE, fd, 0) == MAP_FAILED) {
        munmap(base, len);
        return NULL;
    }
    *mapped = len;
    return base;
}

enc_status enc_csv_open(enc_csv **out, const char *path, enc_err *err)
{
    *out = NULL;
    enc_status st = ENC_ERROR;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return enc_err_set(err, "cannot open '%s': %s", path, strerror(errno));

    /* A regular file's size sizes the buffer once; pipes and the like grow it. */
    struct stat sb;
    size_t alloc = 64 * 1024;
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size >= 0) {
        if ((uint64_t)sb.st_size > ENC_CSV_MAX_INPUT) {
            enc_err_set(err, "'%s' is larger than 4 GiB (ENC_CSV_MAX_INPUT)", path);
            goto out;
        }
        alloc = (size_t)sb.st_size + 1; /* +1 so that EOF is seen without growing */
        size_t mapped = 0;
        char *m = sb.st_size > 0 ? map_file(fileno(f), (size_t)sb.st_size, &mapped) : NULL;
        if (m) {
            st = csv_new(out, m, (size_t)sb.st_size, mapped, err);
            goto out;
        }
    }
    buf = enc_malloc(alloc + 1);
    if (!buf) {
        enc_err_set(err, "out of memory reading '%s' (%zu bytes)", path, alloc);
        goto out;
    }
    for (;;) {
        if (len == alloc) {
            if ((uint64_t)alloc > ENC_CSV_MAX_INPUT) {
                enc_err_set(err, "'%s' is larger than 4 GiB (ENC_CSV_MAX_INPUT)", path);
                goto out;
            }
            char *grown = enc_realloc(buf, alloc * 2 + 1);
            if (!grown) {
                enc_err_set(err, "out of memory reading '%s' (%zu bytes)", path, alloc * 2);
                goto out;
            }
            buf = grown;
            alloc *= 2;
        }
        size_t got = fread(buf + len, 1, alloc - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                enc_err_set(err, "cannot read '%s': %s", path, strerror(errno));
                goto out;
            }
            break;
        }
    }
    if ((uint64_t)len > ENC_CSV_MAX_INPUT) {
        enc_err_set(err, "'%s' is larger than 4 GiB (ENC_CSV_MAX_INPUT)", path);
        goto out;
    }
    st = csv_new(out, buf, len, 0, err);
    buf = NULL; /* csv_new owns it now, on success and on failure */
out:
    enc_free(buf);
    fclose(f);
    return st;
}

size_t enc_csv_size(const enc_csv *c)
{
    return c->n;
}

size_t enc_csv_rows_bound(const enc_csv *c)
{
    size_t rows = 1;
    const char *p = c->buf + c->pos, *end = c->buf + c->n;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        rows++;
        p++;
    }
    /* Lone CRs also end rows; CRLF was counted once above. */
    p = c->buf + c->pos;
    while (p < end && (p = memchr(p, '\r', (size_t)(end - p))) != NULL) {
        if (p[1] != '\n')
            rows++;
        p++;
    }
    return rows;
}

void enc_csv_close(enc_csv *c)
{
    if (!c)
        return;
    release_buf(c->buf, c->mapped);
    enc_free(c->fields);
    enc_free(c);
}

static int fail(enc_csv *c, enc_err *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(enc_csv *c, enc_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enc_err_vset(&c->err, fmt, ap);
    va_end(ap);
    c->state = ST_FAILED;
    if (err)
        *err = c->err;
    return -1;
}

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

int enc_csv_next(enc_csv *c, enc_csv_row *row, enc_err *err)
{
    if (c->state == ST_FAILED) {
        if (err)
            *err = c->err;
        return -1;
    }
    if (c->state == ST_END)
        return 0;

    char *b = c->buf;
    size_t i = c->pos;

    /* Skip lines that are empty or hold only spaces and tabs. */
    for (;;) {
        size_t j = i;
        while (is_blank(b[j]))
            j++;
        if (b[j] == '\n') {
            i = j + 1;
        } else if (b[j] == '\r') {
            i = j + 1 + (b[j + 1] == '\n');
        } else if (b[j] == '\0' && j == c->n) {
            c->pos = j;
            c->state = ST_END;
            return 0;
        } else {
            break;
        }
        c->line++;
    }

    size_t row_line = c->line;
    size_t nf = 0;
    for (;;) {
        if (nf == c->cap) {
            if (nf == ENC_CSV_MAX_FIELDS)
                return fail(c, err, "line %zu: row has more than %d fields (ENC_CSV_MAX_FIELDS)", row_line,
                            ENC_CSV_MAX_FIELDS);
            size_t cap = c->cap * 2 < ENC_CSV_MAX_FIELDS ? c->cap * 2 : ENC_CSV_MAX_FIELDS;
            enc_slice *grown = enc_realloc(c->fields, cap * sizeof *grown);
            if (!grown)
                return fail(c, err, "line %zu: out of memory for %zu fields", row_line, cap);
            c->fields = grown;
            c->cap = cap;
        }

        size_t field_line = c->line;
        size_t j = i;
        while (is_blank(b[j]))
            j++;
        char *start;
        size_t len;
        if (b[j] == '"') {
            size_t r = j + 1, w = r;
            start = b + r;
            for (;;) {
                char ch = b[r];
                if (ch == '"') {
                    if (b[r + 1] != '"') {
                        r++;
                        break;
                    }
                    b[w++] = '"';
                    r += 2;
                    continue;
                }
                if (ch == '\0') {
                    if (r == c->n)
                        return fail(c, err, "line %zu: quoted field never closed", field_line);
                    return fail(c, err, "line %zu: NUL byte in the input (is it a binary or UTF-16 file?)", c->line);
                }
                if (ch == '\n' || (ch == '\r' && b[r + 1] != '\n'))
                    c->line++;
                b[w++] = ch;
                r++;
            }
            len = (size_t)(b + w - start);
            while (is_blank(b[r]))
                r++;
            i = r;
            char ch = b[i];
            if (ch == '\0' && i != c->n)
                return fail(c, err, "line %zu: NUL byte in the input (is it a binary or UTF-16 file?)", c->line);
            if (ch != ',' && ch != '\n' && ch != '\r' && ch != '\0') {
                unsigned char u = (unsigned char)ch;
                if (u >= 0x20 && u < 0x7f)
                    return fail(c, err, "line %zu: unexpected '%c' after the closing quote of field %zu (a quoted "
                                "field must be followed by ',' or the end of the line)", c->line, ch, nf + 1);
                return fail(c, err, "line %zu: unexpected byte 0x%02x after the closing quote of field %zu (a "
                            "quoted field must be followed by ',' or the end of the line)", c->line, u, nf + 1);
            }
        } else {
            start = b + i;
            while (!stop_unquoted[(unsigned char)b[j]])
                j++;
            if (b[j] == '"')
                return fail(c, err, "line %zu: stray '\"' in unquoted field %zu (quote the whole field and double "
                            "the quotes inside it: \"say \"\"hi\"\"\")", c->line, nf + 1);
            if (b[j] == '\0' && j != c->n)
                return fail(c, err, "line %zu: NUL byte in the input (is it a binary or UTF-16 file?)", c->line);
            len = j - i;
            i = j;
        }
        if (len > ENC_CSV_MAX_FIELD)
            return fail(c, err, "line %zu: field %zu is longer than %d bytes (ENC_CSV_MAX_FIELD)", field_line, nf + 1,
                        ENC_CSV_MAX_FIELD);
        c->fields[nf++] = (enc_slice){start, len};

        if (b[i] == ',') {
            i++;
            continue;
        }
        if (b[i] == '\r') {
            i += 1 + (b[i + 1] == '\n');
            c->line++;
        } else if (b[i] == '\n') {
            i++;
            c->line++;
        }
        break; /* end of line or end of input */
    }
    c->pos = i;
    row->fields = c->fields;
    row->nfields = nf;
    row->line = row_line;
    return 1;
}

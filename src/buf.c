/* buf — capped growable buffer. */
#include "buf.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"

void enc_buf_init(enc_buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
}

static enc_status grow(enc_buf *b, size_t extra, bool exact)
{
    if (extra > b->cap || b->len > b->cap - extra)
        return ENC_ERROR;
    size_t need = b->len + extra + 1;
    if (need <= b->alloc)
        return ENC_OK;
    size_t alloc = exact ? need : b->alloc ? b->alloc : 256;
    while (alloc < need)
        alloc *= 2;
    char *d = enc_realloc(b->data, alloc);
    if (!d)
        return ENC_ERROR;
    b->data = d;
    b->alloc = alloc;
    return ENC_OK;
}

static enc_status reserve(enc_buf *b, size_t extra)
{
    return grow(b, extra, false);
}

enc_status enc_buf_reserve(enc_buf *b, size_t n)
{
    return grow(b, n, true);
}

enc_status enc_buf_append(enc_buf *b, const void *p, size_t n)
{
    if (reserve(b, n) != ENC_OK)
        return ENC_ERROR;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return ENC_OK;
}

enc_status enc_buf_appendc(enc_buf *b, char c)
{
    return enc_buf_append(b, &c, 1);
}

enc_status enc_buf_appendf(enc_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || reserve(b, (size_t)n) != ENC_OK)
        return ENC_ERROR;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return ENC_OK;
}

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *p, size_t avail)
{
    unsigned char c = p[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (avail < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if (p[k] < 0x80 || p[k] > 0xBF)
            return 0;
    return len;
}

enc_status enc_buf_append_json_string(enc_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (enc_buf_appendc(b, '"') != ENC_OK)
        return ENC_ERROR;
    size_t run = 0; /* start of the pending run of bytes that need no escape */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            size_t len = utf8_len((const unsigned char *)s + i, n - i);
            if (len) {
                i += len - 1;
                continue;
            }
            /* Not UTF-8: JSON text must be, so the byte becomes U+FFFD. */
            if (enc_buf_append(b, s + run, i - run) != ENC_OK || enc_buf_append(b, "\\ufffd", 6) != ENC_OK)
                return ENC_ERROR;
            run = i + 1;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (enc_buf_append(b, s + run, i - run) != ENC_OK)
            return ENC_ERROR;
        run = i + 1;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t len = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            len = 6;
        }
        if (enc_buf_append(b, esc, len) != ENC_OK)
            return ENC_ERROR;
    }
    if (enc_buf_append(b, s + run, n - run) != ENC_OK)
        return ENC_ERROR;
    return enc_buf_appendc(b, '"');
}

void enc_buf_reset(enc_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void enc_buf_free(enc_buf *b)
{
    enc_free(b->data);
    enc_buf_init(b, b->cap);
}

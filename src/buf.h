/* buf — a growable byte buffer with a hard cap (curl's dynbuf idea).
 *
 * Used to assemble JSON text (rescued data), SQL and report output. Appending past
 * `cap` fails with ENC_ERROR instead of growing without bound. The buffer owns its
 * bytes; enc_buf_free releases them. data is always NUL-terminated when len > 0.
 */
#ifndef ENC_BUF_H
#define ENC_BUF_H

#include <stddef.h>

#include "status.h"

typedef struct {
    char *data;
    size_t len;
    size_t alloc;
    size_t cap; /* hard limit on len */
} enc_buf;

void enc_buf_init(enc_buf *b, size_t cap);
enc_status enc_buf_append(enc_buf *b, const void *p, size_t n);
enc_status enc_buf_appendc(enc_buf *b, char c);
enc_status enc_buf_appendf(enc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal, quotes included, escaping as RFC 8259 requires;
 * bytes that are not UTF-8 become U+FFFD so the result is always valid JSON. */
enc_status enc_buf_append_json_string(enc_buf *b, const char *s, size_t n);
/* Makes room for n more bytes in one allocation of exactly that size (appends grow by
 * doubling, which for a buffer of known size allocates, touches and frees every power
 * of two below it). ENC_ERROR past cap or when out of memory. */
enc_status enc_buf_reserve(enc_buf *b, size_t n);
void enc_buf_reset(enc_buf *b);
void enc_buf_free(enc_buf *b);

#endif

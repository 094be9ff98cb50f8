/* slice — a borrowed (pointer, length) view of bytes, the currency of the hot path.
 *
 * A slice never owns its bytes; whoever hands one out says how long they live.
 * p == NULL means SQL NULL / "absent"; an empty string is p != NULL, n == 0.
 */
#ifndef ENC_SLICE_H
#define ENC_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct {
    const char *p;
    size_t n;
} enc_slice;

#define ENC_SLICE_NULL ((enc_slice){NULL, 0})

static inline enc_slice enc_slice_make(const char *p, size_t n)
{
    return (enc_slice){p, n};
}

static inline enc_slice enc_slice_cstr(const char *s)
{
    return (enc_slice){s, s ? strlen(s) : 0};
}

static inline bool enc_slice_is_null(enc_slice s)
{
    return s.p == NULL;
}

static inline bool enc_slice_eq(enc_slice a, const char *p, size_t n)
{
    return a.p && a.n == n && (n == 0 || memcmp(a.p, p, n) == 0);
}

static inline bool enc_slice_eq_cstr(enc_slice a, const char *s)
{
    return enc_slice_eq(a, s, strlen(s));
}

#endif

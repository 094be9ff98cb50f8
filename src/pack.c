/* pack — the packed-deltas blob: encoder and strict decoder (see pack.h). */
#include "pack.h"

#include <string.h>

enum { PACK_VERSION = 1, VARINT_MAX = 10 };

static enc_status put_varint(enc_buf *out, uint64_t v)
{
    uint8_t b[VARINT_MAX];
    size_t n = 0;
    do {
        b[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            b[n] |= 0x80;
        n++;
    } while (v);
    return enc_buf_append(out, b, n);
}

static enc_status put_bytes(enc_buf *out, enc_slice s)
{
    if (put_varint(out, s.n) != ENC_OK)
        return ENC_ERROR;
    return s.n ? enc_buf_append(out, s.p, s.n) : ENC_OK;
}

static enc_status put_nullable(enc_buf *out, enc_slice s)
{
    if (!s.p)
        return put_varint(out, 0);
    if (put_varint(out, (uint64_t)s.n + 1) != ENC_OK)
        return ENC_ERROR;
    return s.n ? enc_buf_append(out, s.p, s.n) : ENC_OK;
}

enc_status enc_pack_begin(enc_buf *out, size_t n)
{
    if (enc_buf_appendc(out, PACK_VERSION) != ENC_OK)
        return ENC_ERROR;
    return put_varint(out, n);
}

enc_status enc_pack_put_at(enc_buf *out, const enc_pack_entry *e, size_t *sketch_at)
{
    if (put_bytes(out, e->key) != ENC_OK || put_varint(out, (uint64_t)e->plays) != ENC_OK ||
        put_varint(out, (uint64_t)e->seconds) != ENC_OK || put_varint(out, e->sketch.n) != ENC_OK)
        return ENC_ERROR;
    *sketch_at = out->len;
    if ((e->sketch.n && enc_buf_append(out, e->sketch.p, e->sketch.n) != ENC_OK) ||
        put_nullable(out, e->title) != ENC_OK || put_nullable(out, e->artist) != ENC_OK)
        return ENC_ERROR;
    return ENC_OK;
}

enc_status enc_pack_put(enc_buf *out, const enc_pack_entry *e)
{
    size_t at;
    return enc_pack_put_at(out, e, &at);
}

int enc_pack_key_cmp(enc_slice a, enc_slice b)
{
    size_t n = a.n < b.n ? a.n : b.n;
    int c = n ? memcmp(a.p, b.p, n) : 0;
    if (c)
        return c;
    return (a.n > b.n) - (a.n < b.n);
}

/* ---- decoding ----------------------------------------------------------------------- */

typedef struct {
    enc_pack_reader *r;
    enc_err *err;
} cursor;

static int bad(cursor *c, const char *why)
{
    enc_err_set(c->err, "pack: %s at byte %zu", why, (size_t)(c->r->p - c->r->start));
    return -1;
}

/* A minimal varint of at most 10 bytes whose value fits `max`. */
static int get_varint(cursor *c, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    enc_pack_reader *r = c->r;
    for (int i = 0; i < VARINT_MAX; i++) {
        if (r->p == r->end)
            return bad(c, "truncated varint");
        uint8_t b = *r->p++;
        if (i == 9 && b > 1)
            return bad(c, "varint overflows 64 bits");
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (i > 0 && b == 0)
                return bad(c, "varint not minimal");
            if (v > max)
                return bad(c, "value out of range");
            *out = v;
            return 0;
        }
    }
    return bad(c, "varint too long");
}

static int get_bytes(cursor *c, uint64_t n, enc_slice *out)
{
    if (n > (uint64_t)(c->r->end - c->r->p))
        return bad(c, "length past the end");
    *out = (enc_slice){(const char *)c->r->p, (size_t)n};
    c->r->p += n;
    return 0;
}

static int get_nullable(cursor *c, enc_slice *out)
{
    uint64_t n;
    if (get_varint(c, UINT32_MAX, &n) != 0)
        return -1;
    if (n == 0) {
        *out = (enc_slice){NULL, 0};
        return 0;
    }
    return get_bytes(c, n - 1, out);
}

enc_status enc_pack_open(enc_pack_reader *r, const void *blob, size_t n, enc_err *err)
{
    *r = (enc_pack_reader){.start = blob, .p = blob, .end = (const uint8_t *)blob + n};
    cursor c = {r, err};
    if (n == 0 || !blob) {
        enc_err_set(err, "pack: empty");
        return ENC_ERROR;
    }
    if (*r->p++ != PACK_VERSION) {
        r->p--;
        bad(&c, "unknown version");
        return ENC_ERROR;
    }
    if (get_varint(&c, UINT32_MAX, &r->left) != 0)
        return ENC_ERROR;
    if (r->left == 0) {
        bad(&c, "no entries");
        return ENC_ERROR;
    }
    r->prev = (enc_slice){NULL, 0};
    return ENC_OK;
}

int enc_pack_next(enc_pack_reader *r, enc_pack_entry *e, enc_err *err)
{
    cursor c = {r, err};
    if (r->left == 0)
        return r->p == r->end ? 0 : bad(&c, "bytes after the last entry");
    uint64_t n, plays, seconds;
    if (get_varint(&c, UINT32_MAX, &n) != 0 || get_bytes(&c, n, &e->key) != 0)
        return -1;
    if (r->prev.p && enc_pack_key_cmp(r->prev, e->key) >= 0)
        return bad(&c, "keys out of order");
    if (get_varint(&c, INT64_MAX, &plays) != 0 || get_varint(&c, INT64_MAX, &seconds) != 0)
        return -1;
    if (get_varint(&c, UINT32_MAX, &n) != 0 || get_bytes(&c, n, &e->sketch) != 0)
        return -1;
    if (get_nullable(&c, &e->title) != 0 || get_nullable(&c, &e->artist) != 0)
        return -1;
    e->plays = (int64_t)plays;
    e->seconds = (int64_t)seconds;
    r->prev = e->key; /* p is never NULL: it points into the blob */
    r->left--;
    return 1;
}

/* fuzz_event_json — libFuzzer harness for enc_event_parse.
 *
 * Invariants checked (abort() on a break): on success every string field is valid UTF-8
 * and survives a round trip through enc_buf_append_json_string and the parser, every
 * non-string field re-parses as the same JSON scalar, and `{` rescued `}` parses; on
 * failure the error record is consistent and the event holds nothing. And the parser's two
 * halves agree: enc_event_parse (fast path first) gives exactly what enc_event_parse_full
 * gives (code, fields, rescued members, error message and offset), and the fast path
 * alone, when it takes the record, gives the same event.
 * Seeds: fuzz/corpus/event_json.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "event_json.h"

static enc_arena arena;

/* Independent, deliberately simple UTF-8 check (decode and range-check each code point). */
static int valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i < len)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

static void check_ok(const enc_event *ev)
{
    for (int f = 0; f < ENC_EV_NFIELDS; f++) {
        enc_slice v = ev->field[f];
        if (!v.p) {
            if (ev->is_string[f])
                abort();
            continue;
        }
        enc_buf b;
        enc_buf_init(&b, (size_t)1 << 30);
        if (enc_buf_appendf(&b, "{\"%s\":", enc_event_field_name(f)) != ENC_OK)
            abort();
        if (ev->is_string[f]) {
            if (!valid_utf8((const unsigned char *)v.p, v.n))
                abort();
            if (enc_buf_append_json_string(&b, v.p, v.n) != ENC_OK)
                abort();
        } else {
            if (v.n == 0 || enc_buf_append(&b, v.p, v.n) != ENC_OK)
                abort();
        }
        if (enc_buf_appendc(&b, '}') != ENC_OK)
            abort();
        enc_event e2;
        enc_event_error err2;
        if (enc_event_parse(b.data, b.len, &arena, &e2, &err2) != ENC_EVP_OK)
            abort();
        if (e2.is_string[f] != ev->is_string[f] || !enc_slice_eq(e2.field[f], v.p, v.n) || e2.rescued.p)
            abort();
        enc_buf_free(&b);
    }
    if (ev->rescued.p) {
        if (ev->rescued.n < 4) /* at least `"":0` */
            abort();
        size_t n = ev->rescued.n + 2;
        char *b = malloc(n);
        if (!b)
            abort();
        b[0] = '{';
        memcpy(b + 1, ev->rescued.p, ev->rescued.n);
        b[n - 1] = '}';
        enc_event e2;
        enc_event_error err2;
        if (enc_event_parse(b, n, &arena, &e2, &err2) != ENC_EVP_OK)
            abort();
        free(b);
    }
}

static int same_slice(enc_slice a, enc_slice b)
{
    return (!a.p && !b.p) || (a.p && b.p && a.n == b.n && memcmp(a.p, b.p, a.n) == 0);
}

static int same_event(const enc_event *a, const enc_event *b)
{
    for (int f = 0; f < ENC_EV_NFIELDS; f++)
        if (!same_slice(a->field[f], b->field[f]) || a->is_string[f] != b->is_string[f])
            return 0;
    return same_slice(a->rescued, b->rescued);
}

static void check_halves(const char *p, size_t n, enc_evp_code c, const enc_event *ev, const enc_event_error *err)
{
    enc_event full, fast;
    enc_event_error ferr;
    enc_evp_code fc = enc_event_parse_full(p, n, &arena, &full, &ferr);
    if (fc != c || !same_event(ev, &full))
        abort();
    if (c != ENC_EVP_OK && (ferr.code != err->code || ferr.offset != err->offset || strcmp(ferr.msg, err->msg) != 0))
        abort();
    int k = enc_event_parse_fast(p, n, &arena, &fast);
    if (k != -1 && (k != ENC_EVP_OK || c != ENC_EVP_OK || !same_event(&fast, &full)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        enc_arena_init(&arena, 0);
        init = 1;
    }
    enc_event ev;
    enc_event_error err;
    enc_evp_code c = enc_event_parse((const char *)data, size, &arena, &ev, &err);
    check_halves((const char *)data, size, c, &ev, &err);
    if (c == ENC_EVP_OK) {
        check_ok(&ev);
    } else {
        if (c > ENC_EVP_NOMEM || c == ENC_EVP_NOMEM || err.code != c || err.offset > size)
            abort();
        size_t len = strnlen(err.msg, sizeof err.msg);
        if (len == 0 || len == sizeof err.msg || memchr(err.msg, '\n', len))
            abort();
        for (int f = 0; f < ENC_EV_NFIELDS; f++)
            if (ev.field[f].p || ev.is_string[f])
                abort();
        if (ev.rescued.p)
            abort();
    }
    enc_arena_reset(&arena);
    return 0;
}

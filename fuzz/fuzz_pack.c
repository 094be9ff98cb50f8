/* fuzz_pack — libFuzzer harness for the packed-deltas decoder (src/pack.c).
 *
 * Arbitrary bytes go to enc_pack_open / enc_pack_next. A rejected pack must give a reason.
 * An accepted one must have keys in strictly increasing order, slices inside the input,
 * and re-encode (enc_pack_begin + enc_pack_put) to exactly the input bytes: the decoder
 * accepts only the canonical form. abort() on any broken invariant. Seeds:
 * fuzz/corpus/pack/ (ok_* valid, bad_* invalid).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "pack.h"

#define CHECK(c)                                                                                             \
    do {                                                                                                     \
        if (!(c))                                                                                            \
            abort();                                                                                         \
    } while (0)

static int inside(enc_slice s, const uint8_t *p, size_t n)
{
    return !s.p || ((const uint8_t *)s.p >= p && (const uint8_t *)s.p + s.n <= p + n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enc_pack_reader r;
    enc_err err = {{0}};
    if (enc_pack_open(&r, data, size, &err) != ENC_OK) {
        CHECK(err.msg[0] != '\0');
        return 0;
    }
    uint64_t n = r.left;
    enc_buf re;
    enc_buf_init(&re, size + 64);
    CHECK(enc_pack_begin(&re, (size_t)n) == ENC_OK);
    enc_pack_entry e, prev = {{0}};
    int got;
    size_t count = 0;
    while ((got = enc_pack_next(&r, &e, &err)) == 1) {
        CHECK(inside(e.key, data, size) && inside(e.sketch, data, size));
        CHECK(inside(e.title, data, size) && inside(e.artist, data, size));
        CHECK(e.plays >= 0 && e.seconds >= 0);
        CHECK(count == 0 || enc_pack_key_cmp(prev.key, e.key) < 0);
        CHECK(enc_pack_put(&re, &e) == ENC_OK);
        prev = e;
        count++;
    }
    if (got == 0) {
        CHECK(count == n);
        CHECK(re.len == size && memcmp(re.data, data, size) == 0);
    } else {
        CHECK(got == -1 && err.msg[0] != '\0');
    }
    enc_buf_free(&re);
    return 0;
}

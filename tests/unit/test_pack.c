/* test_pack — unit tests for src/pack.c: packs round-trip, and every malformed form the
 * decoder must refuse (version, counts, varints, lengths, order, trailing bytes). */
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "harness.h"
#include "pack.h"

static enc_slice sl(const char *s)
{
    return (enc_slice){s, s ? strlen(s) : 0};
}

static void build(enc_buf *b, const enc_pack_entry *e, size_t n)
{
    enc_buf_init(b, 1 << 20);
    T_CHECK(enc_pack_begin(b, n) == ENC_OK);
    for (size_t i = 0; i < n; i++)
        T_CHECK(enc_pack_put(b, &e[i]) == ENC_OK);
}

static void test_round_trip(void)
{
    char big[300];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    enc_pack_entry in[] = {
        {sl(""), 1, 0, sl("\x01\x01\x00"), sl(NULL), sl(NULL)},
        {sl("A"), 3, 600, sl("s1"), sl("Title"), sl("")},
        {sl("AB"), INT64_MAX, INT64_MAX, sl(""), sl(""), sl("Artist")},
        {sl(big), 200, 1, sl("x"), sl(NULL), sl("Z")},
    };
    size_t n = sizeof in / sizeof in[0];
    enc_buf b;
    build(&b, in, n);
    enc_pack_reader r;
    enc_err err = {{0}};
    T_CHECK(enc_pack_open(&r, b.data, b.len, &err) == ENC_OK);
    for (size_t i = 0; i < n; i++) {
        enc_pack_entry e;
        T_CHECK(enc_pack_next(&r, &e, &err) == 1);
        T_CHECK(e.key.n == in[i].key.n && memcmp(e.key.p, in[i].key.p, e.key.n) == 0);
        T_CHECK(e.plays == in[i].plays && e.seconds == in[i].seconds);
        T_CHECK(e.sketch.n == in[i].sketch.n && memcmp(e.sketch.p, in[i].sketch.p, e.sketch.n) == 0);
        T_CHECK((e.title.p == NULL) == (in[i].title.p == NULL) && e.title.n == in[i].title.n);
        T_CHECK((e.artist.p == NULL) == (in[i].artist.p == NULL) && e.artist.n == in[i].artist.n);
    }
    enc_pack_entry e;
    T_CHECK(enc_pack_next(&r, &e, &err) == 0);
    enc_buf_free(&b);
}

static void expect_bad(const void *p, size_t n, const char *why)
{
    enc_pack_reader r;
    enc_err err = {{0}};
    enc_pack_entry e;
    int got = 1;
    if (enc_pack_open(&r, p, n, &err) == ENC_OK)
        while ((got = enc_pack_next(&r, &e, &err)) == 1)
            ;
    else
        got = -1;
    T_CHECK(got == -1);
    if (got == -1 && !strstr(err.msg, why)) {
        fprintf(stderr, "  error '%s' does not say '%s'\n", err.msg, why);
        T_CHECK(0);
    }
}

static void test_malformed(void)
{
    expect_bad("", 0, "empty");
    expect_bad("\x02\x01", 2, "unknown version");
    expect_bad("\x01\x00", 2, "no entries");
    expect_bad("\x01\x80\x00", 3, "not minimal");
    expect_bad("\x01\x80", 2, "truncated varint");
    expect_bad("\x01\x01\x05" "ab", 5, "length past the end");
    /* plays needs 10 bytes with a last byte > 1 */
    expect_bad("\x01\x01\x01" "a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 14, "overflows");
    /* plays 2^63: out of range for int64 */
    expect_bad("\x01\x01\x01" "a\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 14, "out of range");
    /* two entries "b" then "a" */
    expect_bad("\x01\x02\x01" "b\x01\x00\x00\x00\x00" "\x01" "a\x01\x00\x00\x00\x00", 16, "out of order");
    /* the same key twice */
    expect_bad("\x01\x02\x01" "a\x01\x00\x00\x00\x00" "\x01" "a\x01\x00\x00\x00\x00", 16, "out of order");
    /* a good entry, then a byte after it */
    expect_bad("\x01\x01\x01" "a\x01\x00\x00\x00\x00" "X", 10, "after the last entry");
    /* title length + 1 = 3 but one byte left */
    expect_bad("\x01\x01\x01" "a\x01\x00\x00\x03" "x", 9, "length past the end");
    /* count 2, one entry */
    expect_bad("\x01\x02\x01" "a\x01\x00\x00\x00\x00", 9, "truncated");
}

static void test_key_order(void)
{
    T_CHECK(enc_pack_key_cmp(sl("a"), sl("ab")) < 0);
    T_CHECK(enc_pack_key_cmp(sl("ab"), sl("a")) > 0);
    T_CHECK(enc_pack_key_cmp(sl(""), sl("a")) < 0);
    T_CHECK(enc_pack_key_cmp(sl("b"), sl("ab")) > 0);
    T_CHECK(enc_pack_key_cmp(sl("\xff"), sl("a")) > 0); /* unsigned bytes, as SQLite's BINARY */
    T_CHECK(enc_pack_key_cmp(sl("x"), sl("x")) == 0);
}

int main(void)
{
    T_RUN(test_round_trip);
    T_RUN(test_malformed);
    T_RUN(test_key_order);
    return t_summary("pack");
}

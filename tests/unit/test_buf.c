/* Unit tests for buf: caps, formatting, JSON string escaping. */
#include <string.h>

#include "buf.h"
#include "harness.h"

static const char *json(enc_buf *b, const char *s, size_t n)
{
    enc_buf_reset(b);
    T_CHECK(enc_buf_append_json_string(b, s, n) == ENC_OK);
    return b->data;
}

static void test_json_escapes(void)
{
    enc_buf b;
    enc_buf_init(&b, 1024);
    T_CHECK_STR(json(&b, "plain", 5), "\"plain\"");
    T_CHECK_STR(json(&b, "a\"b\\c\n\t\x01", 8), "\"a\\\"b\\\\c\\n\\t\\u0001\"");
    T_CHECK_STR(json(&b, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xb5", 14), "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xb5\"");
    enc_buf_free(&b);
}

static void test_json_replaces_invalid_utf8(void)
{
    enc_buf b;
    enc_buf_init(&b, 1024);
    T_CHECK_STR(json(&b, "a\xff" "b", 3), "\"a\\ufffdb\"");
    T_CHECK_STR(json(&b, "\xc0\xaf", 2), "\"\\ufffd\\ufffd\"");          /* overlong */
    T_CHECK_STR(json(&b, "\xed\xa0\x80", 3), "\"\\ufffd\\ufffd\\ufffd\""); /* surrogate */
    T_CHECK_STR(json(&b, "x\xe2\x82", 3), "\"x\\ufffd\\ufffd\"");        /* truncated */
    enc_buf_free(&b);
}

static void test_cap_is_enforced(void)
{
    enc_buf b;
    enc_buf_init(&b, 8);
    T_CHECK(enc_buf_append(&b, "12345678", 8) == ENC_OK);
    T_CHECK(enc_buf_appendc(&b, '9') == ENC_ERROR);
    T_CHECK(b.len == 8);
    T_CHECK(enc_buf_appendf(&b, "%d", 1) == ENC_ERROR);
    enc_buf_free(&b);
}

/* A reservation allocates once, exactly: appends within it never move the bytes. */
static void test_reserve_is_exact(void)
{
    enc_buf b;
    enc_buf_init(&b, 100000);
    T_CHECK(enc_buf_append(&b, "ab", 2) == ENC_OK);
    T_CHECK(enc_buf_reserve(&b, 70000) == ENC_OK);
    T_CHECK(b.alloc == 2 + 70000 + 1 && b.len == 2);
    const char *at = b.data;
    for (int i = 0; i < 7000; i++)
        T_CHECK(enc_buf_append(&b, "0123456789", 10) == ENC_OK);
    T_CHECK(b.data == at && b.len == 70002 && memcmp(b.data, "ab0123", 6) == 0);
    T_CHECK(enc_buf_reserve(&b, 0) == ENC_OK && b.data == at); /* room enough: nothing moves */
    T_CHECK(enc_buf_reserve(&b, 100000) == ENC_ERROR);         /* past the cap */
    T_CHECK(enc_buf_append(&b, "x", 1) == ENC_OK && b.len == 70003); /* past the reservation: grows */
    enc_buf_free(&b);
}

int main(void)
{
    T_RUN(test_json_escapes);
    T_RUN(test_json_replaces_invalid_utf8);
    T_RUN(test_cap_is_enforced);
    T_RUN(test_reserve_is_exact);
    return t_summary("buf");
}

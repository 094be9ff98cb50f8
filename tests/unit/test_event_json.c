/* test_event_json — unit tests for the event record parser, plus its corpus
 * (fuzz/corpus/event_json: ok_* must parse, bad_* must fail, edge_* must not crash).
 * Inputs are copied into exact-size heap buffers so ASan catches any read past the end.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "arena.h"
#include "event_json.h"
#include "harness.h"

static enc_arena arena;
static enc_event ev;
static enc_event_error err;
static char *last; /* exact-size copy of the last input, freed by the next parse */
static size_t last_n;

static int same_slice(enc_slice a, enc_slice b)
{
    return (!a.p && !b.p) || (a.p && b.p && a.n == b.n && memcmp(a.p, b.p, a.n) == 0);
}

/* enc_event_parse (with its fast path) and enc_event_parse_full agree on everything. */
static int same_as_full(const char *s, size_t n, enc_evp_code c, const enc_event *e, const enc_event_error *er)
{
    enc_event e2;
    enc_event_error er2;
    memset(&er2, 0x5a, sizeof er2);
    er2.msg[0] = '\0';
    enc_evp_code c2 = enc_event_parse_full(s, n, &arena, &e2, &er2);
    int same = c == c2 && same_slice(e->rescued, e2.rescued);
    for (int f = 0; f < ENC_EV_NFIELDS; f++)
        same = same && same_slice(e->field[f], e2.field[f]) && e->is_string[f] == e2.is_string[f];
    if (c != ENC_EVP_OK)
        same = same && er->code == er2.code && er->offset == er2.offset && strcmp(er->msg, er2.msg) == 0;
    if (!same)
        fprintf(stderr, "    fast and full parsers differ on '%.*s': %d/%d %s / %s\n", (int)n, s, (int)c, (int)c2,
                c ? er->msg : "", c2 ? er2.msg : "");
    return same;
}

/* Parses n bytes of s from an exact-size heap copy; the copy stays alive until the next call.
 * Every parse is also checked against the full parser. */
static enc_evp_code parse_n(const char *s, size_t n)
{
    free(last);
    last = malloc(n ? n : 1);
    memcpy(last, s, n);
    last_n = n;
    memset(&err, 0x5a, sizeof err);
    err.msg[0] = '\0';
    enc_evp_code c = enc_event_parse(last, n, &arena, &ev, &err);
    T_CHECK(same_as_full(last, n, c, &ev, &err));
    return c;
}

static enc_evp_code parse(const char *s)
{
    return parse_n(s, strlen(s));
}

static int in_input(enc_slice s)
{
    return s.p && s.p >= last && s.p + s.n <= last + last_n;
}

static int all_null(void)
{
    for (int i = 0; i < ENC_EV_NFIELDS; i++)
        if (ev.field[i].p || ev.is_string[i])
            return 0;
    return ev.rescued.p == NULL;
}

/* `{` rescued `}` must parse on its own. */
static int rescued_reparses(void)
{
    if (!ev.rescued.p)
        return 1;
    size_t n = ev.rescued.n + 2;
    char *buf = malloc(n);
    buf[0] = '{';
    memcpy(buf + 1, ev.rescued.p, ev.rescued.n);
    buf[n - 1] = '}';
    enc_event e2;
    int ok = enc_event_parse(buf, n, &arena, &e2, NULL) == ENC_EVP_OK;
    free(buf);
    return ok;
}

#define T_CHECK_FIELD(i, want) T_CHECK_MEM(ev.field[i].p, ev.field[i].n, (want))

static void test_typical_event(void)
{
    T_CHECK(parse("{\"user_id\":\"U000123\",\"song_id\":\"S004567\",\"timestamp\":\"2025-04-09T10:00:00\","
                  "\"device\":\"mobile\"}") == ENC_EVP_OK);
    T_CHECK_FIELD(ENC_EV_USER_ID, "U000123");
    T_CHECK_FIELD(ENC_EV_SONG_ID, "S004567");
    T_CHECK_FIELD(ENC_EV_TIMESTAMP, "2025-04-09T10:00:00");
    T_CHECK_FIELD(ENC_EV_DEVICE, "mobile");
    for (int i = 0; i < ENC_EV_NFIELDS; i++) {
        T_CHECK(ev.is_string[i] == 1);
        T_CHECK(in_input(ev.field[i])); /* zero-copy */
    }
    T_CHECK(ev.rescued.p == NULL);
}

static void test_field_names(void)
{
    T_CHECK_STR(enc_event_field_name(ENC_EV_USER_ID), "user_id");
    T_CHECK_STR(enc_event_field_name(ENC_EV_SONG_ID), "song_id");
    T_CHECK_STR(enc_event_field_name(ENC_EV_TIMESTAMP), "timestamp");
    T_CHECK_STR(enc_event_field_name(ENC_EV_DEVICE), "device");
    T_CHECK(enc_event_field_name(ENC_EV_NFIELDS) == NULL);
    T_CHECK(enc_event_field_name(-1) == NULL);
}

static void test_missing_fields_and_order(void)
{
    T_CHECK(parse("{\"device\":\"tv\",\"user_id\":\"u\"}") == ENC_EVP_OK);
    T_CHECK_FIELD(ENC_EV_DEVICE, "tv");
    T_CHECK_FIELD(ENC_EV_USER_ID, "u");
    T_CHECK(ev.field[ENC_EV_SONG_ID].p == NULL && ev.is_string[ENC_EV_SONG_ID] == 0);
    T_CHECK(ev.field[ENC_EV_TIMESTAMP].p == NULL);
    T_CHECK(ev.rescued.p == NULL);

    T_CHECK(parse("{}") == ENC_EVP_OK);
    T_CHECK(all_null());
    T_CHECK(parse(" \t\r\n{ \n }\n") == ENC_EVP_OK);
    T_CHECK(all_null());
}

static void test_empty_string_value(void)
{
    T_CHECK(parse("{\"user_id\":\"\"}") == ENC_EVP_OK);
    T_CHECK(ev.field[ENC_EV_USER_ID].p != NULL);
    T_CHECK(ev.field[ENC_EV_USER_ID].n == 0);
    T_CHECK(ev.is_string[ENC_EV_USER_ID] == 1);
}

static void test_whitespace_and_newlines(void)
{
    T_CHECK(parse("\r\n\t {\n  \"user_id\" :\t\"a\" ,\r\n  \"extra\"  :  [ 1 ,\n 2 ] \n}\n\n") == ENC_EVP_OK);
    T_CHECK_FIELD(ENC_EV_USER_ID, "a");
    /* whitespace around ':' is dropped, inside the value it is kept */
    T_CHECK_MEM(ev.rescued.p, ev.rescued.n, "\"extra\":[ 1 ,\n 2 ]");
    T_CHECK(rescued_reparses());
    /* form feed and vertical tab are not JSON whitespace */
    T_CHECK(parse("\f{}") == ENC_EVP_SYNTAX);
    T_CHECK(parse("{}\v") == ENC_EVP_SYNTAX);
    T_CHECK(parse("{\"a\":\f1}") == ENC_EVP_SYNTAX);
}

static void test_unknown_field_rescued(void)
{
    T_CHECK(parse("{\"user_id\":\"u\",\"session\":\"abc\"}") == ENC_EVP_OK);
    T_CHECK_FIELD(ENC_EV_USER_ID, "u");
    T_CHECK_MEM(ev.rescued.p, ev.rescued.n, "\"session\":\"abc\"");
    T_CHECK(in_input(ev.rescued)); /* one compact member: zero-copy */

    T_CHECK(parse("{\"a\":1,\"user_id\":\"u\",\"b\":{\"c\":null},\"c\":true}") == ENC_EVP_OK);
    T_CHECK_MEM(ev.rescued.p, ev.rescued.n, "\"a\":1,\"b\":{\"c\":null},\"c\":true");
    T_CHECK(!in_input(ev.rescued));
    T_CHECK(rescued_reparses());

    /* unknown null is kept too (it is a member the schema does not know) */
    T_CHECK(parse("{\"x\":null}") == ENC_EVP_OK);
    T_CHECK_MEM(ev.rescued.p, ev.rescued.n, "\"x\":null");
}

static void test_case_variants_rescued(void)
{
    T_CHECK(parse("{\"User_ID\":\"u1\",\"SONG_ID\":\"s1\",\"Device\":\"tv\",\"timeStamp\":1}") == ENC_EVP_OK);
    for (int i = 0; i < ENC_EV_NFIELDS; i++)
        T_CHECK(ev.field[i].p == NULL);
    T_CHECK_MEM(ev.rescued.p, ev.rescued.n, "\"User_ID\":\"u1\",\"SONG_ID\":\"s1\",\"Device\":\"tv\",\"timeStamp\":1");
    /* near misses: prefix, suffix, same length */
    T_CHECK(parse("{\"user_i\":1,\"user_idx\":2,\"usar_id\":3,\"devic\":4,\"timestamps\":5}") == ENC_EVP_OK);
    T_CHECK(all_null() == 0);
    for (int i = 0; i < ENC_EV_NFIELDS; i++)
        T_CHECK(ev.field[i].p == NULL);
    T_CHECK_MEM(ev.rescued.p, ev.rescued.n, "\"user_i\":1,\"user_idx\":2,\"usar_id\":3,\"devic\":4,\"timestamps\":5");
}

static void test_container_for_known_field(void)
{
    T_CHECK(parse("{\"device\": {\"os\": \"ios\", \"v\": [1, 2]}, \"user_id\":\"u\"}") == ENC_EVP_OK);
    T_CHECK(ev.field[ENC_EV_DEVICE].p == NULL);
    T_CHECK(ev.is_string[ENC_EV_DEVICE] == 0);
    T_CHECK_FIELD(ENC_EV_USER_ID, "u");
    T_CHECK_MEM(ev.rescued.p, ev.rescued.n, "\"device\":{\"os\": \"ios\", \"v\": [1, 2]}");
    T_CHECK(rescued_reparses());

    T_CHECK(parse("{\"song_id\":[]}") == ENC_EVP_OK);
    T_CHECK(ev.field[ENC_EV_SONG_ID].p == NULL);
    T_CHECK_MEM(ev.rescued.p, ev.rescued.n, "\"song_id\":[]");
    T_CHECK(in_input(ev.rescued));
}

static void test_duplicate_keys(void)
{
    T_CHECK(parse("{\"user_id\":\"first\",\"user_id\":\"second\",\"user_id\":3}") == ENC_EVP_OK);
    T_CHECK_FIELD(ENC_EV_USER_ID, "first");
    T_CHECK_MEM(ev.rescued.p, ev.rescued.n, "\"user_id\":\"second\",\"user_id\":3");
    T_CHECK(rescued_reparses());

    /* a first null still counts as the first occurrence */
    T_CHECK(parse("{\"device\":null,\"device\":\"tv\"}") == ENC_EVP_OK);
    T_CHECK(ev.field[ENC_EV_DEVICE].p == NULL);
    T_CHECK_MEM(ev.rescued.p, ev.rescued.n, "\"device\":\"tv\"");

    /* a first object value is rescued, and so is the later duplicate */
    T_CHECK(parse("{\"device\":{},\"device\":\"tv\"}") == ENC_EVP_OK);
    T_CHECK(ev.field[ENC_EV_DEVICE].p == NULL);
    T_CHECK_MEM(ev.rescued.p, ev.rescued.n, "\"device\":{},\"device\":\"tv\"");

    /* an escaped spelling of the same key is the same key */
    T_CHECK(parse("{\"song_id\":\"a\",\"song\\u005fid\":\"b\"}") == ENC_EVP_OK);
    T_CHECK_FIELD(ENC_EV_SONG_ID, "a");
    T_CHECK_MEM(ev.rescued.p, ev.rescued.n, "\"song\\u005fid\":\"b\"");
}

static void test_numbers_and_bools(void)
{
    T_CHECK(parse("{\"user_id\":123,\"song_id\":-0.5e+10,\"timestamp\":1712656800123,\"device\":true}") ==
            ENC_EVP_OK);
    T_CHECK_FIELD(ENC_EV_USER_ID, "123");
    T_CHECK_FIELD(ENC_EV_SONG_ID, "-0.5e+10");
    T_CHECK_FIELD(ENC_EV_TIMESTAMP, "1712656800123");
    T_CHECK_FIELD(ENC_EV_DEVICE, "true");
    for (int i = 0; i < ENC_EV_NFIELDS; i++)
        T_CHECK(ev.is_string[i] == 0);
    T_CHECK(ev.rescued.p == NULL);

    T_CHECK(parse("{\"device\":false}") == ENC_EVP_OK);
    T_CHECK_FIELD(ENC_EV_DEVICE, "false");

    const char *good[] = {"0", "-0", "1", "0.0", "1E5", "1e-5", "12.34E+56", "-1.5", "9007199254740993"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "{\"user_id\":%s}", good[i]);
        T_CHECK(parse(buf) == ENC_EVP_OK);
        T_CHECK_FIELD(ENC_EV_USER_ID, good[i]);
        snprintf(buf, sizeof buf, "{\"other\":[%s]}", good[i]); /* the skipper agrees */
        T_CHECK(parse(buf) == ENC_EVP_OK);
    }
    const char *bad[] = {"01", "-01", "1.", ".5", "-", "1e", "1e+", "+1", "0x10", "NaN", "Infinity", "--1", "1.e5", "-.5"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "{\"user_id\":%s}", bad[i]);
        T_CHECK(parse(buf) == ENC_EVP_SYNTAX);
        snprintf(buf, sizeof buf, "{\"other\":%s}", bad[i]);
        T_CHECK(parse(buf) == ENC_EVP_SYNTAX);
    }
}

static void test_huge_number_kept_as_text(void)
{
    char buf[1200];
    size_t n = 0;
    n += (size_t)sprintf(buf, "{\"timestamp\":-");
    for (int i = 0; i < 1000; i++)
        buf[n++] = (char)('1' + i % 9);
    n += (size_t)sprintf(buf + n, ".5e-999}");
    T_CHECK(parse_n(buf, n) == ENC_EVP_OK);
    T_CHECK(ev.field[ENC_EV_TIMESTAMP].n == 1 + 1000 + 7);
    T_CHECK(ev.field[ENC_EV_TIMESTAMP].p && ev.field[ENC_EV_TIMESTAMP].p[0] == '-');
}

static void test_null_values(void)
{
    T_CHECK(parse("{\"user_id\":null,\"song_id\":null,\"timestamp\":null,\"device\":null}") == ENC_EVP_OK);
    T_CHECK(all_null());
    T_CHECK(parse("{\"user_id\":nul}") == ENC_EVP_SYNTAX);
    T_CHECK(parse("{\"user_id\":nulls}") == ENC_EVP_SYNTAX);
    T_CHECK(parse("{\"user_id\":Null}") == ENC_EVP_SYNTAX);
    T_CHECK(parse("{\"user_id\":tru}") == ENC_EVP_SYNTAX);
    T_CHECK(parse("{\"user_id\":True}") == ENC_EVP_SYNTAX);
    T_CHECK(parse("{\"user_id\":fals") == ENC_EVP_SYNTAX);
}

static void test_escapes_in_values(void)
{
    T_CHECK(parse("{\"device\":\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"}") == ENC_EVP_OK);
    T_CHECK_FIELD(ENC_EV_DEVICE, "a\"b\\c/d\be\ff\ng\rh\ti");
    T_CHECK(ev.is_string[ENC_EV_DEVICE] == 1);
    T_CHECK(!in_input(ev.field[ENC_EV_DEVICE])); /* decoded copy in the arena */

    T_CHECK(parse("{\"device\":\"caf\\u00e9 \\u00C9\\u20ac\\u0041\"}") == ENC_EVP_OK);
    T_CHECK_FIELD(ENC_EV_DEVICE, "caf\xc3\xa9 \xc3\x89\xe2\x82\xac" "A");

    /* \u0000 is a legal escape: one NUL byte */
    T_CHECK(parse("{\"device\":\"a\\u0000b\"}") == ENC_EVP_OK);
    T_CHECK(ev.field[ENC_EV_DEVICE].n == 3);
    T_CHECK(ev.field[ENC_EV_DEVICE].p && memcmp(ev.field[ENC_EV_DEVICE].p, "a\0b", 3) == 0);

    /* a long escaped value (crosses the 8-byte scanning blocks) */
    T_CHECK(parse("{\"device\":\"0123456789abcdef\\n0123456789abcdef\\t\"}") == ENC_EVP_OK);
    T_CHECK_FIELD(ENC_EV_DEVICE, "0123456789abcdef\n0123456789abcdef\t");
}

static void test_surrogate_pairs(void)
{
    T_CHECK(parse("{\"song_id\":\"\\ud83c\\udfb5\"}") == ENC_EVP_OK);
    T_CHECK_FIELD(ENC_EV_SONG_ID, "\xf0\x9f\x8e\xb5"); /* U+1F3B5 */
    T_CHECK(parse("{\"song_id\":\"x\\uD800\\uDC00y\\uDBFF\\uDFFF\"}") == ENC_EVP_OK);
    T_CHECK_FIELD(ENC_EV_SONG_ID, "x\xf0\x90\x80\x80y\xf4\x8f\xbf\xbf");

    T_CHECK(parse("{\"song_id\":\"\\ud83c\"}") == ENC_EVP_SYNTAX);        /* lone high */
    T_CHECK(strstr(err.msg, "surrogate") != NULL);
    T_CHECK(parse("{\"song_id\":\"\\udfb5\"}") == ENC_EVP_SYNTAX);        /* lone low */
    T_CHECK(parse("{\"song_id\":\"\\ud83c\\u0041\"}") == ENC_EVP_SYNTAX); /* high + non-low */
    T_CHECK(parse("{\"song_id\":\"\\ud83c\\ud83c\"}") == ENC_EVP_SYNTAX); /* high + high */
    T_CHECK(parse("{\"song_id\":\"\\ud83cx\\udfb5\"}") == ENC_EVP_SYNTAX);
    T_CHECK(parse("{\"song_id\":\"\\ud83c\\udfb") == ENC_EVP_SYNTAX); /* truncated pair */
    T_CHECK(parse("{\"x\":\"\\udfb5\"}") == ENC_EVP_SYNTAX);          /* in a skipped value too */
    T_CHECK(parse("{\"\\udfb5\":1}") == ENC_EVP_SYNTAX);              /* and in a key */
}

static void test_bad_escapes(void)
{
    const char *bad[] = {
        "{\"device\":\"\\x41\"}", "{\"device\":\"\\u12G4\"}", "{\"device\":\"\\u12\"}", "{\"device\":\"\\U0041\"}",
        "{\"device\":\"\\'\"}",   "{\"device\":\"\\a\"}",      "{\"device\":\"\\",       "{\"device\":\"\\u",
        "{\"other\":\"\\x\"}",    "{\"\\q\":1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        T_CHECK(parse(bad[i]) == ENC_EVP_SYNTAX);
        T_CHECK(strncmp(err.msg, "invalid JSON: ", 14) == 0);
    }
    T_CHECK(parse("{\"device\":\"ab\\x\"}") == ENC_EVP_SYNTAX);
    T_CHECK(err.offset == 13);
    T_CHECK(err.code == ENC_EVP_SYNTAX);
}

static void test_escapes_in_keys(void)
{
    T_CHECK(parse("{\"user\\u005fid\":\"u\",\"\\u0073ong_id\":\"s\",\"time\\u0073tamp\":\"t\",\"\\u0064\\u0065vice\":\"d\"}") ==
            ENC_EVP_OK);
    T_CHECK_FIELD(ENC_EV_USER_ID, "u");
    T_CHECK_FIELD(ENC_EV_SONG_ID, "s");
    T_CHECK_FIELD(ENC_EV_TIMESTAMP, "t");
    T_CHECK_FIELD(ENC_EV_DEVICE, "d");
    T_CHECK(ev.rescued.p == NULL);

    /* every byte escaped: 9 x 6 = 54 escaped bytes, still matched */
    T_CHECK(parse("{\"\\u0074\\u0069\\u006d\\u0065\\u0073\\u0074\\u0061\\u006d\\u0070\":5}") == ENC_EVP_OK);
    T_CHECK_FIELD(ENC_EV_TIMESTAMP, "5");

    /* an unknown escaped key is rescued with its raw (escaped) text */
    T_CHECK(parse("{\"a\\nb\":\"v\\t\"}") == ENC_EVP_OK);
    T_CHECK_MEM(ev.rescued.p, ev.rescued.n, "\"a\\nb\":\"v\\t\"");
    T_CHECK(rescued_reparses());

    /* escaped case variant is still not the key */
    T_CHECK(parse("{\"\\u0055ser_id\":1}") == ENC_EVP_OK);
    T_CHECK(ev.field[ENC_EV_USER_ID].p == NULL);
    T_CHECK_MEM(ev.rescued.p, ev.rescued.n, "\"\\u0055ser_id\":1");

    /* a long escaped key cannot match and must not overflow anything */
    char buf[600];
    size_t n = (size_t)sprintf(buf, "{\"");
    for (int i = 0; i < 90; i++)
        n += (size_t)sprintf(buf + n, "\\u0041");
    n += (size_t)sprintf(buf + n, "\":1}");
    T_CHECK(parse_n(buf, n) == ENC_EVP_OK);
    T_CHECK(ev.rescued.n == n - 2);
}

static void test_utf8_valid(void)
{
    /* 2-, 3- and 4-byte sequences at the edges of their ranges, mixed with ASCII runs */
    const char *s = "{\"device\":\"\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 \xef\xbf\xbf "
                    "\xf0\x90\x80\x80 \xf4\x8f\xbf\xbf long ascii tail after them\"}";
    T_CHECK(parse(s) == ENC_EVP_OK);
    T_CHECK(ev.field[ENC_EV_DEVICE].n == strlen(s) - 13);
    T_CHECK(in_input(ev.field[ENC_EV_DEVICE]));
    T_CHECK(parse("{\"m\xc3\xbcsik\":\"\xe6\x97\xa5\xe6\x9c\xac\"}") == ENC_EVP_OK);
    T_CHECK_MEM(ev.rescued.p, ev.rescued.n, "\"m\xc3\xbcsik\":\"\xe6\x97\xa5\xe6\x9c\xac\"");
}

static void check_bad_utf8(const char *body, size_t want_offset)
{
    char buf[128];
    int n = snprintf(buf, sizeof buf, "{\"device\":\"%s\"}", body);
    T_CHECK(parse_n(buf, (size_t)n) == ENC_EVP_BAD_UTF8);
    T_CHECK(err.code == ENC_EVP_BAD_UTF8);
    T_CHECK(err.offset == want_offset);
    T_CHECK(strstr(err.msg, "UTF-8") != NULL);
    T_CHECK(all_null());
}

static void test_utf8_invalid(void)
{
    check_bad_utf8("\x80", 11);                 /* lone continuation */
    check_bad_utf8("ab\xbf", 13);               /* lone continuation after ASCII */
    check_bad_utf8("\xc0\x80", 11);             /* overlong NUL */
    check_bad_utf8("\xc1\xbf", 11);             /* overlong */
    check_bad_utf8("\xe0\x80\x80", 11);         /* overlong 3-byte */
    check_bad_utf8("\xe0\x9f\xbf", 11);         /* overlong 3-byte, top */
    check_bad_utf8("\xed\xa0\x80", 11);         /* UTF-16 surrogate */
    check_bad_utf8("\xf0\x80\x80\x80", 11);     /* overlong 4-byte */
    check_bad_utf8("\xf0\x8f\xbf\xbf", 11);     /* overlong 4-byte, top */
    check_bad_utf8("\xf4\x90\x80\x80", 11);     /* > U+10FFFF */
    check_bad_utf8("\xf5\x80\x80\x80", 11);     /* invalid lead */
    check_bad_utf8("\xff", 11);                 /* invalid byte */
    check_bad_utf8("\xc3", 11);                 /* truncated: next byte is the quote */
    check_bad_utf8("\xe2\x82", 11);             /* truncated 3-byte */
    check_bad_utf8("01234567890123456\xc3(", 28); /* after a full 8-byte block */
    /* in a key and in a skipped value */
    T_CHECK(parse("{\"k\xff\":1}") == ENC_EVP_BAD_UTF8);
    T_CHECK(err.offset == 3);
    T_CHECK(parse("{\"k\":[\"ok\",\"\xc3\x28\"]}") == ENC_EVP_BAD_UTF8);
    T_CHECK(err.offset == 12);
    /* input ends inside a multi-byte sequence */
    T_CHECK(parse_n("{\"device\":\"\xe2\x82", 13) == ENC_EVP_BAD_UTF8);
}

static void test_control_chars(void)
{
    for (int c = 1; c < 0x20; c++) {
        char buf[32];
        int n = snprintf(buf, sizeof buf, "{\"device\":\"a%cb\"}", c);
        T_CHECK(parse_n(buf, (size_t)n) == ENC_EVP_SYNTAX);
        T_CHECK(err.offset == 12);
    }
    T_CHECK(parse_n("{\"device\":\"a\0b\"}", 16) == ENC_EVP_SYNTAX);
    T_CHECK(parse_n("{\"x\":\"0123456789\0\"}", 19) == ENC_EVP_SYNTAX);
    T_CHECK(err.offset == 16);
    T_CHECK(parse("{\"device\":\"\x7f\"}") == ENC_EVP_OK); /* DEL is allowed raw */
}

/* {"a": (opens-1) x '[' ... ']' } : depth = 1 + (opens - 1)... built as an object holding
 * `levels` nested arrays, so the total depth is levels + 1. */
static char *nested(int levels, char open, char close, size_t *n)
{
    char *b = malloc((size_t)levels * 8 + 32);
    size_t k = (size_t)sprintf(b, "{\"device\":");
    for (int i = 0; i < levels; i++) {
        if (open == '{')
            k += (size_t)sprintf(b + k, "{\"k\":");
        else
            b[k++] = open;
    }
    b[k++] = '1';
    for (int i = 0; i < levels; i++)
        b[k++] = close;
    b[k++] = '}';
    *n = k;
    return b;
}

static void test_depth_limit(void)
{
    size_t n;
    char *b = nested(ENC_EVENT_MAX_DEPTH - 1, '[', ']', &n); /* depth exactly 64 */
    T_CHECK(parse_n(b, n) == ENC_EVP_OK);
    T_CHECK(ev.field[ENC_EV_DEVICE].p == NULL);
    T_CHECK(ev.rescued.n == n - 2);
    T_CHECK(rescued_reparses());
    free(b);
    b = nested(ENC_EVENT_MAX_DEPTH, '[', ']', &n); /* depth 65 */
    T_CHECK(parse_n(b, n) == ENC_EVP_TOO_DEEP);
    T_CHECK(err.offset == 10 + ENC_EVENT_MAX_DEPTH - 1); /* the 65th opening bracket */
    T_CHECK(strstr(err.msg, "64") != NULL);
    T_CHECK(all_null());
    free(b);
    b = nested(ENC_EVENT_MAX_DEPTH - 1, '{', '}', &n);
    T_CHECK(parse_n(b, n) == ENC_EVP_OK);
    free(b);
    b = nested(ENC_EVENT_MAX_DEPTH, '{', '}', &n);
    T_CHECK(parse_n(b, n) == ENC_EVP_TOO_DEEP);
    free(b);
    b = nested(5000, '[', ']', &n); /* far past: no recursion, no stack trouble */
    T_CHECK(parse_n(b, n) == ENC_EVP_TOO_DEEP);
    free(b);

    /* mixed, depth 64 then back out and deep again in a sibling */
    char buf[600];
    size_t k = (size_t)sprintf(buf, "{\"x\":[");
    for (int i = 0; i < 62; i++)
        k += (size_t)sprintf(buf + k, i % 2 ? "[" : "{\"a\":");
    buf[k++] = '0';
    for (int i = 61; i >= 0; i--)
        buf[k++] = i % 2 ? ']' : '}';
    k += (size_t)sprintf(buf + k, ",[[[]]]],\"y\":{}}");
    T_CHECK(parse_n(buf, k) == ENC_EVP_OK);

    /* a top-level array counts from 1 */
    char arr[200];
    memset(arr, '[', 64);
    memset(arr + 64, ']', 64);
    T_CHECK(parse_n(arr, 128) == ENC_EVP_NOT_OBJECT);
    memset(arr, '[', 65);
    memset(arr + 65, ']', 65);
    T_CHECK(parse_n(arr, 130) == ENC_EVP_TOO_DEEP);
}

static void test_trailing_garbage(void)
{
    T_CHECK(parse("{\"device\":\"tv\"}   \n") == ENC_EVP_OK);
    T_CHECK(parse("{\"device\":\"tv\"} x") == ENC_EVP_SYNTAX);
    T_CHECK(err.offset == 16);
    T_CHECK(strstr(err.msg, "after the JSON object") != NULL);
    T_CHECK(all_null());
    T_CHECK(parse("{}{}") == ENC_EVP_SYNTAX);
    T_CHECK(parse("{},") == ENC_EVP_SYNTAX);
    T_CHECK(parse("{}}") == ENC_EVP_SYNTAX);
    T_CHECK(parse_n("{}\0", 3) == ENC_EVP_SYNTAX);
    /* not NUL-terminated: bytes past n are not looked at */
    const char *s = "{\"device\":\"tv\"}garbage";
    T_CHECK(parse_n(s, 15) == ENC_EVP_OK);
    T_CHECK_FIELD(ENC_EV_DEVICE, "tv");
}

static void test_not_object(void)
{
    T_CHECK(parse("[1,2]") == ENC_EVP_NOT_OBJECT);
    T_CHECK(strstr(err.msg, "a JSON array") != NULL);
    T_CHECK(err.offset == 0);
    T_CHECK(parse("  \"str\"") == ENC_EVP_NOT_OBJECT);
    T_CHECK(strstr(err.msg, "a JSON string") != NULL);
    T_CHECK(err.offset == 2);
    T_CHECK(parse("-12.5") == ENC_EVP_NOT_OBJECT);
    T_CHECK(strstr(err.msg, "a JSON number") != NULL);
    T_CHECK(parse("true") == ENC_EVP_NOT_OBJECT);
    T_CHECK(strstr(err.msg, "a JSON boolean") != NULL);
    T_CHECK(parse("null\n") == ENC_EVP_NOT_OBJECT);
    T_CHECK(strstr(err.msg, "null") != NULL);
    T_CHECK(all_null());
    /* not valid JSON at all is a syntax error, not "not an object" */
    T_CHECK(parse("[1,2") == ENC_EVP_SYNTAX);
    T_CHECK(parse("[1] 2") == ENC_EVP_SYNTAX);
    T_CHECK(parse("nothing") == ENC_EVP_SYNTAX);
    T_CHECK(parse("hello") == ENC_EVP_SYNTAX);
    T_CHECK(parse("'a'") == ENC_EVP_SYNTAX);
}

static void test_empty_record(void)
{
    T_CHECK(parse_n("", 0) == ENC_EVP_SYNTAX);
    T_CHECK(strstr(err.msg, "empty record") != NULL);
    T_CHECK(enc_event_parse(NULL, 0, &arena, &ev, &err) == ENC_EVP_SYNTAX);
    T_CHECK(strstr(err.msg, "empty record") != NULL);
    T_CHECK(parse(" \r\n\t ") == ENC_EVP_SYNTAX);
    T_CHECK(strstr(err.msg, "empty record") != NULL);
    T_CHECK(err.offset == 5);
}

static void test_bom_is_callers_job(void)
{
    T_CHECK(parse("\xef\xbb\xbf{\"device\":\"tv\"}") == ENC_EVP_SYNTAX);
    T_CHECK(err.offset == 0);
    T_CHECK(strstr(err.msg, "byte order mark") != NULL);
    T_CHECK(parse("{\"device\":\"tv\"}") == ENC_EVP_OK); /* what the caller hands after stripping */
}

static void test_error_messages(void)
{
    T_CHECK(parse("{\"user_id\" \"x\"}") == ENC_EVP_SYNTAX);
    T_CHECK_STR(err.msg, "invalid JSON: expected ':' after object key at byte 11");
    T_CHECK(err.offset == 11);
    T_CHECK(err.code == ENC_EVP_SYNTAX);

    T_CHECK(parse("{\"user_id\":\"x\"") == ENC_EVP_SYNTAX);
    T_CHECK_STR(err.msg, "invalid JSON: expected ',' or '}' after an object member but the record ends at byte 14");

    T_CHECK(parse("{\"user_id\":\"x") == ENC_EVP_SYNTAX);
    T_CHECK_STR(err.msg, "invalid JSON: expected '\"' to close a string but the record ends at byte 13");

    T_CHECK(parse("{\"a\":1,}") == ENC_EVP_SYNTAX);
    T_CHECK_STR(err.msg, "invalid JSON: expected '\"' to start an object key at byte 7");

    T_CHECK(parse("{\"a\":}") == ENC_EVP_SYNTAX);
    T_CHECK_STR(err.msg, "invalid JSON: expected a JSON value at byte 5");

    T_CHECK(parse("{\"device\":}") == ENC_EVP_SYNTAX);
    T_CHECK_STR(err.msg, "invalid JSON: expected a JSON value at byte 10");

    T_CHECK(parse("{\"a\":[1 2]}") == ENC_EVP_SYNTAX);
    T_CHECK_STR(err.msg, "invalid JSON: expected ',' or ']' after an array element at byte 8");

    T_CHECK(parse("{\"a\":01}") == ENC_EVP_SYNTAX);
    T_CHECK_STR(err.msg, "invalid JSON: leading zero in a number at byte 6");

    T_CHECK(parse("[]") == ENC_EVP_NOT_OBJECT);
    T_CHECK_STR(err.msg, "record is a JSON array, not a JSON object");

    /* a message is a single line */
    T_CHECK(parse("{\"a\":\n\n}") == ENC_EVP_SYNTAX);
    T_CHECK(strchr(err.msg, '\n') == NULL);

    /* err may be NULL */
    T_CHECK(enc_event_parse("{", 1, &arena, &ev, NULL) == ENC_EVP_SYNTAX);
    T_CHECK(enc_event_parse("{}", 2, &arena, &ev, NULL) == ENC_EVP_OK);
}

static void test_structural_errors(void)
{
    const char *bad[] = {
        "{",           "}",           "{,}",           "{\"a\"}",        "{\"a\":1 \"b\":2}", "{'a':1}",
        "{a:1}",       "{\"a\":1",    "{\"a\":[1,]}",  "{\"a\":[,1]}",   "{\"a\":{\"b\"}}",   "{\"a\":{\"b\":}}",
        "{\"a\":{,}}", "{\"a\":[}",   "{\"a\":{]}",    "{\"a\":[1}}",    "{\"a\":{\"b\":1]}", "{\"a\"::1}",
        "{\"a\":1,,}", "{\"a\":1}}",  "{\"a\":{1:2}}", "{\"a\":[1]]}",   "{\"a\":\"x\"\"y\"}", "{\"device\":\"x\" 1}",
        "{\"a\":-}",   "{\"a\":[-]}", "{\"a\":tru e}", "{\"a\":[true,]}", "{null:1}",         "{\"a\":1 }x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        enc_evp_code c = parse(bad[i]);
        T_CHECK(c == ENC_EVP_SYNTAX);
        if (c != ENC_EVP_SYNTAX)
            fprintf(stderr, "    input: %s\n", bad[i]);
        T_CHECK(all_null());
        T_CHECK(err.offset <= strlen(bad[i]));
    }
}

static void test_many_rescued_members(void)
{
    /* more members than are kept inline before flushing to the arena */
    char buf[2048], want[2048];
    size_t n = (size_t)sprintf(buf, "{");
    size_t w = 0;
    for (int i = 0; i < 40; i++) {
        n += (size_t)sprintf(buf + n, "%s\"k%d\" : [%d, {\"x\": \"%d\"}]", i ? " , " : "", i, i, i);
        w += (size_t)sprintf(want + w, "%s\"k%d\":[%d, {\"x\": \"%d\"}]", i ? "," : "", i, i, i);
        if (i == 17)
            n += (size_t)sprintf(buf + n, ",\"user_id\":\"u\"");
    }
    n += (size_t)sprintf(buf + n, "}");
    T_CHECK(parse_n(buf, n) == ENC_EVP_OK);
    T_CHECK_FIELD(ENC_EV_USER_ID, "u");
    T_CHECK_MEM(ev.rescued.p, ev.rescued.n, want);
    T_CHECK(rescued_reparses());
}

static void test_arena_out_of_memory(void)
{
    enc_arena a;
    enc_arena_init(&a, 64);
    enc_alloc_fail_after(0);
    T_CHECK(enc_event_parse("{\"device\":\"a\\nb\"}", 17, &a, &ev, &err) == ENC_EVP_NOMEM);
    T_CHECK(err.code == ENC_EVP_NOMEM);
    T_CHECK(strstr(err.msg, "out of memory") != NULL);
    T_CHECK(enc_event_parse("{\"a\":1,\"b\":2}", 13, &a, &ev, &err) == ENC_EVP_NOMEM);
    T_CHECK(all_null());
    /* no arena call needed: still fine while allocation fails */
    T_CHECK(enc_event_parse("{\"device\":\"ab\",\"x\":1}", 21, &a, &ev, &err) == ENC_EVP_OK);
    T_CHECK_MEM(ev.rescued.p, ev.rescued.n, "\"x\":1");
    enc_alloc_fail_after(-1);
    T_CHECK(enc_event_parse("{\"a\":1,\"b\":2}", 13, &a, &ev, &err) == ENC_EVP_OK);
    T_CHECK_MEM(ev.rescued.p, ev.rescued.n, "\"a\":1,\"b\":2");
    /* a NULL arena behaves like an exhausted one */
    T_CHECK(enc_event_parse("{\"a\":1,\"b\":2}", 13, NULL, &ev, &err) == ENC_EVP_NOMEM);
    T_CHECK(enc_event_parse("{\"device\":\"x\"}", 14, NULL, &ev, &err) == ENC_EVP_OK);
    enc_arena_free(&a);
}

static void test_every_prefix_fails_cleanly(void)
{
    const char *s = "{\"user_id\":\"U\\u00e9\",\"x\":[1,{\"y\":-2.5e3},true,null,\"\xc3\xa9\"],\"device\":false}";
    size_t n = strlen(s);
    T_CHECK(parse_n(s, n) == ENC_EVP_OK);
    for (size_t k = 0; k < n; k++) {
        enc_evp_code c = parse_n(s, k);
        T_CHECK(c == ENC_EVP_SYNTAX || c == ENC_EVP_BAD_UTF8);
        T_CHECK(err.offset <= k);
    }
}

static void test_ev_cleared_on_error(void)
{
    T_CHECK(parse("{\"user_id\":\"u\",\"song_id\":\"s\",\"x\":1,") == ENC_EVP_SYNTAX);
    T_CHECK(all_null());
}

/* The fast path maps quotes 16 bytes at a time, up to 512 bytes: records of every length
 * around those edges, with the strings placed across them, parse as the full parser
 * parses them, and so do records where one odd byte (backslash escape, tab, non-ASCII,
 * control byte) sends the record to the full parser, and every prefix of them. */
static void test_fast_path_edges(void)
{
    static const char *const odd[] = {"", "\\n", "\t", "\xc3\xa9", "\x01", "\xff", " "};
    char buf[700];
    int checked = 0;
    for (size_t pad = 0; pad < 540; pad += pad < 80 ? 1 : 7) {
        for (size_t o = 0; o < sizeof odd / sizeof odd[0]; o++) {
            char fill[600];
            memset(fill, 'a', pad);
            fill[pad] = '\0';
            size_t at = pad / 2; /* the odd byte goes mid-value */
            int n = snprintf(buf, sizeof buf, "{\"user_id\":\"%.*s%s%s\",\"song_id\":\"S1\",\"x\":[1],\"timestamp\":1}",
                             (int)at, fill, odd[o], fill + at);
            T_CHECK(parse_n(buf, (size_t)n) == (o == 0 || o == 1 || o == 3 || o == 6 ? ENC_EVP_OK : o == 5 ? ENC_EVP_BAD_UTF8 : ENC_EVP_SYNTAX));
            if (o == 0 || o == 6) { /* no odd byte: the fast path takes it, up to 512 bytes */
                enc_event e2;
                T_CHECK((enc_event_parse_fast(buf, (size_t)n, &arena, &e2) == ENC_EVP_OK) == (n <= 512));
            }
            if (o == 0) {
                T_CHECK(ev.field[ENC_EV_USER_ID].n == pad);
                T_CHECK_MEM(ev.rescued.p, ev.rescued.n, "\"x\":[1]");
                for (int k = 0; k < n; k += 5)
                    parse_n(buf, (size_t)k); /* checked against the full parser inside */
            }
            checked++;
        }
    }
    T_CHECK(checked > 100);
    /* tiny records, shorter than one 16-byte load */
    const char *tiny[] = {"{}", " {} ", "{\"a\":1}", "{\"device\":\"\"}", "{\"", "\"\"", "{\"a\"}", "{ \"a\" : \"b\" }"};
    for (size_t i = 0; i < sizeof tiny / sizeof tiny[0]; i++) {
        enc_event e2;
        int fast = enc_event_parse_fast(tiny[i], strlen(tiny[i]), &arena, &e2);
        enc_evp_code want = i < 4 || i == 7 ? ENC_EVP_OK : i == 5 ? ENC_EVP_NOT_OBJECT : ENC_EVP_SYNTAX;
        T_CHECK(parse_n(tiny[i], strlen(tiny[i])) == want);
        T_CHECK(fast == (i < 4 || i == 7 ? ENC_EVP_OK : -1));
    }
}

/* Shapes the fast path walks itself: spaces around every token, duplicate and unknown keys,
 * non-string schema values, a record of only quotes. */
static void test_fast_path_shapes(void)
{
    const char *typ = " { \"user_id\" : \"u\" , \"device\" : \"d\" } ";
    enc_event e2;
    T_CHECK(enc_event_parse_fast(typ, strlen(typ), &arena, &e2) == ENC_EVP_OK);
    T_CHECK(parse(typ) == ENC_EVP_OK);
    T_CHECK_FIELD(ENC_EV_USER_ID, "u");
    T_CHECK_FIELD(ENC_EV_DEVICE, "d");
    T_CHECK(parse("{\"user_id\":\"u\",\"user_id\":\"v\",\"song_id\":7,\"timestamp\":null}") == ENC_EVP_OK);
    T_CHECK_FIELD(ENC_EV_USER_ID, "u");
    T_CHECK_FIELD(ENC_EV_SONG_ID, "7");
    T_CHECK(ev.field[ENC_EV_TIMESTAMP].p == NULL);
    T_CHECK_MEM(ev.rescued.p, ev.rescued.n, "\"user_id\":\"v\"");
    T_CHECK(parse("{\"a\":\"1\",\"b\":\"2\",\"device\":true}") == ENC_EVP_OK);
    T_CHECK_MEM(ev.rescued.p, ev.rescued.n, "\"a\":\"1\",\"b\":\"2\"");
    T_CHECK_FIELD(ENC_EV_DEVICE, "true");
    T_CHECK(parse("\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"") == ENC_EVP_SYNTAX);
    T_CHECK(parse("{\"user_id\":\"u\"\"song_id\":\"s\"}") == ENC_EVP_SYNTAX);
    T_CHECK(parse("{\"user_id\":\"u\",}") == ENC_EVP_SYNTAX);
    T_CHECK(parse("{\"user_id\":\"u\"} x") == ENC_EVP_SYNTAX);
    T_CHECK(parse("{\"user_id\":\"u") == ENC_EVP_SYNTAX);
    T_CHECK(parse("{\"user_id\" \"u\"}") == ENC_EVP_SYNTAX);
}

/* ---- corpus -------------------------------------------------------------------------- */

static char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *b = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            b = realloc(b, cap);
        }
        size_t got = fread(b + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    fclose(f);
    *n = len;
    return b;
}

static void test_corpus(void)
{
    const char *dir = "fuzz/corpus/event_json";
    DIR *d = opendir(dir);
    T_CHECK(d != NULL);
    if (!d)
        return;
    int nok = 0, nbad = 0, nedge = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        int kind = strncmp(name, "ok_", 3) == 0 ? 1 : strncmp(name, "bad_", 4) == 0 ? 2 : strncmp(name, "edge_", 5) == 0 ? 3 : 0;
        if (!kind)
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        size_t n;
        char *b = read_file(path, &n);
        T_CHECK(b != NULL);
        if (!b)
            continue;
        enc_evp_code c = parse_n(b, n);
        free(b);
        if (kind == 1) {
            nok++;
            T_CHECK(c == ENC_EVP_OK);
            T_CHECK(rescued_reparses());
        } else if (kind == 2) {
            nbad++;
            T_CHECK(c != ENC_EVP_OK);
            T_CHECK(err.msg[0] != '\0');
        } else {
            nedge++;
            T_CHECK(c <= ENC_EVP_NOMEM);
        }
        if ((kind == 1 && c != ENC_EVP_OK) || (kind == 2 && c == ENC_EVP_OK))
            fprintf(stderr, "    corpus file %s: code %d %s\n", name, (int)c, err.msg);
        enc_arena_reset(&arena);
    }
    closedir(d);
    T_CHECK(nok >= 10);
    T_CHECK(nbad >= 10);
    T_CHECK(nedge >= 3);
}

int main(void)
{
    enc_arena_init(&arena, 0);
    T_RUN(test_typical_event);
    T_RUN(test_field_names);
    T_RUN(test_missing_fields_and_order);
    T_RUN(test_empty_string_value);
    T_RUN(test_whitespace_and_newlines);
    T_RUN(test_unknown_field_rescued);
    T_RUN(test_case_variants_rescued);
    T_RUN(test_container_for_known_field);
    T_RUN(test_duplicate_keys);
    T_RUN(test_numbers_and_bools);
    T_RUN(test_huge_number_kept_as_text);
    T_RUN(test_null_values);
    T_RUN(test_escapes_in_values);
    T_RUN(test_surrogate_pairs);
    T_RUN(test_bad_escapes);
    T_RUN(test_escapes_in_keys);
    T_RUN(test_utf8_valid);
    T_RUN(test_utf8_invalid);
    T_RUN(test_control_chars);
    T_RUN(test_depth_limit);
    T_RUN(test_trailing_garbage);
    T_RUN(test_not_object);
    T_RUN(test_empty_record);
    T_RUN(test_bom_is_callers_job);
    T_RUN(test_error_messages);
    T_RUN(test_structural_errors);
    T_RUN(test_many_rescued_members);
    T_RUN(test_arena_out_of_memory);
    T_RUN(test_every_prefix_fails_cleanly);
    T_RUN(test_ev_cleared_on_error);
    T_RUN(test_fast_path_edges);
    T_RUN(test_fast_path_shapes);
    T_RUN(test_corpus);
    free(last);
    enc_arena_free(&arena);
    return t_summary("event_json");
}

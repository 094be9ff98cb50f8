/* Unit tests for framer: record boundaries in the three layouts, chunking, limits. */
#include <string.h>

#include "framer.h"
#include "harness.h"

typedef struct {
    char text[8][128];
    int64_t line[8];
    int bad[8];
    int n;
} frames;

/* Frames all of s in one buffer (eof = true), collecting records. */
static void frame_all(const char *s, size_t max, frames *out)
{
    enc_framer f;
    enc_framer_init(&f, 0, 1, max);
    memset(out, 0, sizeof *out);
    size_t len = strlen(s), pos = 0;
    T_CHECK(enc_framer_sniff(&f, s, len, true));
    for (int guard = 0; guard < 100; guard++) {
        enc_frame fr;
        size_t next;
        enc_frame_result r = enc_framer_next(&f, s, len, pos, true, &fr, &next);
        T_CHECK(next >= pos);
        pos = next;
        if (r == ENC_FRAME_NEED_MORE)
            break;
        if (out->n < 8) {
            size_t n = fr.end - fr.start < 127 ? fr.end - fr.start : 127;
            memcpy(out->text[out->n], s + fr.start, n);
            out->line[out->n] = fr.line;
            out->bad[out->n] = r == ENC_FRAME_BAD;
            out->n++;
        }
    }
}

static void test_lines(void)
{
    frames fs;
    frame_all("{\"a\":1}\n\n  \n{\"b\":2}\r\n{\"c\":3}", 1000, &fs);
    T_CHECK(fs.n == 3);
    T_CHECK_STR(fs.text[0], "{\"a\":1}");
    T_CHECK_STR(fs.text[1], "{\"b\":2}");
    T_CHECK_STR(fs.text[2], "{\"c\":3}");
    T_CHECK(fs.line[0] == 1 && fs.line[1] == 4 && fs.line[2] == 5);
}

static void test_lines_keep_bad_lines_separate(void)
{
    frames fs;
    frame_all("{\"a\":1}\n{\"broken\":\n{\"c\":3}\n", 1000, &fs);
    T_CHECK(fs.n == 3);
    T_CHECK_STR(fs.text[1], "{\"broken\":");
    T_CHECK(fs.line[2] == 3);
}

static void test_multiline_objects(void)
{
    frames fs;
    frame_all("{\n  \"a\": \"x}\",\n  \"b\": {\"c\": [1]}\n}\n{\n\"d\":1\n}\n", 1000, &fs);
    T_CHECK(fs.n == 2);
    T_CHECK_STR(fs.text[0], "{\n  \"a\": \"x}\",\n  \"b\": {\"c\": [1]}\n}");
    T_CHECK(fs.line[0] == 1 && fs.line[1] == 5);
}

static void test_array(void)
{
    frames fs;
    frame_all("[\n {\"a\":1},\n {\"b\":\"]\"} ,\n 7\n]\n", 1000, &fs);
    T_CHECK(fs.n == 3);
    T_CHECK_STR(fs.text[0], "{\"a\":1}");
    T_CHECK_STR(fs.text[1], "{\"b\":\"]\"}");
    T_CHECK_STR(fs.text[2], "7");
    T_CHECK(fs.line[2] == 4);
}

static void test_truncated_document_at_eof(void)
{
    frames fs;
    frame_all("{\n\"a\": 1,\n\"b\": [", 1000, &fs);
    T_CHECK(fs.n == 1);
    T_CHECK(fs.bad[0]);
}

static void test_oversized_line_is_skipped(void)
{
    char s[600];
    memset(s, 'x', sizeof s);
    memcpy(s, "{\"a\":\"", 6);
    s[500] = '\n';
    strcpy(s + 501, "{\"ok\":1}\n");
    frames fs;
    frame_all(s, 100, &fs);
    T_CHECK(fs.n == 2);
    T_CHECK(fs.bad[0]);
    T_CHECK(strlen(fs.text[0]) == 100);
    T_CHECK_STR(fs.text[1], "{\"ok\":1}");
    T_CHECK(fs.line[1] == 2);
}

static void test_need_more_without_eof(void)
{
    enc_framer f;
    enc_framer_init(&f, 0, 1, 1000);
    const char *s = "{\"a\":1}\n{\"b\":";
    T_CHECK(enc_framer_sniff(&f, s, strlen(s), false));
    enc_frame fr;
    size_t next;
    T_CHECK(enc_framer_next(&f, s, strlen(s), 0, false, &fr, &next) == ENC_FRAME_RECORD);
    T_CHECK(enc_framer_next(&f, s, strlen(s), next, false, &fr, &next) == ENC_FRAME_NEED_MORE);
    T_CHECK(next == 8); /* the incomplete record starts here and is not consumed */
    /* at eof it comes back marked partial */
    T_CHECK(enc_framer_next(&f, s, strlen(s), next, true, &fr, &next) == ENC_FRAME_RECORD);
    T_CHECK(fr.partial);
}

static void test_state_round_trip(void)
{
    enc_framer f;
    enc_framer_init(&f, 0, 1, 1000);
    const char *s = "[{\"a\":1},";
    T_CHECK(enc_framer_sniff(&f, s, strlen(s), false));
    enc_frame fr;
    size_t next;
    T_CHECK(enc_framer_next(&f, s, strlen(s), 0, false, &fr, &next) == ENC_FRAME_RECORD);
    enc_framer g;
    enc_framer_init(&g, enc_framer_state(&f), f.line, 1000);
    T_CHECK(g.mode == ENC_FRAME_STRUCT && g.in_array);
    const char *rest = "{\"b\":2}]";
    T_CHECK(enc_framer_next(&g, rest, strlen(rest), 0, true, &fr, &next) == ENC_FRAME_RECORD);
    T_CHECK(fr.end == 7);
}

/* Found by fuzz_framer: an oversized record left enc_frame.partial unset. */
static void test_oversized_is_not_partial(void)
{
    enc_framer f;
    enc_framer_init(&f, 0, 1, 16);
    const char *s = "{\"a\":\"0123456789abcdef\"}\n{}\n";
    T_CHECK(enc_framer_sniff(&f, s, strlen(s), true));
    enc_frame fr;
    size_t next;
    memset(&fr, 0xff, sizeof fr);
    T_CHECK(enc_framer_next(&f, s, strlen(s), 0, true, &fr, &next) == ENC_FRAME_BAD);
    T_CHECK(fr.partial == false);
}

/* Found by fuzz_framer: a checkpoint taken while skipping an oversized record lost the
 * skip, so a restart framed the record's tail as new records. */
static void test_resume_in_the_middle_of_an_oversized_record(void)
{
    const char *parts[] = {"[{\"a\":\"0123456789", "abcdef", "\", [1,2]}, {\"b\":1}]"};
    enc_framer f;
    enc_framer_init(&f, 0, 1, 16);
    T_CHECK(enc_framer_sniff(&f, parts[0], strlen(parts[0]), false));
    enc_frame fr;
    size_t next;
    T_CHECK(enc_framer_next(&f, parts[0], strlen(parts[0]), 0, false, &fr, &next) == ENC_FRAME_NEED_MORE);
    char joined[64];
    snprintf(joined, sizeof joined, "%s%s", parts[0], parts[1]);
    T_CHECK(next == 1); /* the '[' is consumed, the record is carried */
    T_CHECK(enc_framer_next(&f, joined, strlen(joined), next, false, &fr, &next) == ENC_FRAME_BAD);
    T_CHECK(next == strlen(joined) && f.skipping);
    enc_framer g; /* restart from the committed state */
    enc_framer_init(&g, enc_framer_state(&f), f.line, 16);
    T_CHECK(g.skipping && g.skip_in_str && g.skip_depth == 1 && g.in_array);
    const char *rest = parts[2];
    T_CHECK(enc_framer_next(&g, rest, strlen(rest), 0, true, &fr, &next) == ENC_FRAME_RECORD);
    T_CHECK_MEM(rest + fr.start, fr.end - fr.start, "{\"b\":1}");
}

/* Found by fuzz_framer: an oversized scalar between array elements was skipped as if it
 * were a bracketed value, swallowing the records after it. */
static void test_oversized_scalar_in_array(void)
{
    frames fs;
    frame_all("[\"0123456789abcdefghij\", {\"b\":1}, {\"c\":2}]", 16, &fs);
    T_CHECK(fs.n == 3);
    T_CHECK(fs.bad[0] && !fs.bad[1] && !fs.bad[2]);
    T_CHECK_STR(fs.text[1], "{\"b\":1}");
}

/* Found by fuzz_framer: a run of blanks without a newline was carried, never consumed,
 * so a huge one grew without bound; and the layout guess depended on chunk sizes. */
static void test_blank_run_is_consumed_and_sniff_is_bounded(void)
{
    enc_framer f;
    enc_framer_init(&f, 0, 1, 16);
    f.mode = ENC_FRAME_LINES;
    const char *s = "                                        ";
    enc_frame fr;
    size_t next;
    T_CHECK(enc_framer_next(&f, s, strlen(s), 0, false, &fr, &next) == ENC_FRAME_NEED_MORE);
    T_CHECK(next == strlen(s));

    /* A first line longer than max_record: the same answer with 20 or 60 bytes held. */
    const char *doc = "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}\n";
    enc_framer a, b;
    enc_framer_init(&a, 0, 1, 16);
    enc_framer_init(&b, 0, 1, 16);
    T_CHECK(enc_framer_sniff(&a, doc, 20, false));
    T_CHECK(enc_framer_sniff(&b, doc, strlen(doc), true));
    T_CHECK(a.mode == b.mode);
}

int main(void)
{
    T_RUN(test_lines);
    T_RUN(test_lines_keep_bad_lines_separate);
    T_RUN(test_multiline_objects);
    T_RUN(test_array);
    T_RUN(test_truncated_document_at_eof);
    T_RUN(test_oversized_line_is_skipped);
    T_RUN(test_need_more_without_eof);
    T_RUN(test_state_round_trip);
    T_RUN(test_oversized_is_not_partial);
    T_RUN(test_resume_in_the_middle_of_an_oversized_record);
    T_RUN(test_oversized_scalar_in_array);
    T_RUN(test_blank_run_is_consumed_and_sniff_is_bounded);
    return t_summary("framer");
}

/* test_rules — the rules file parser: every expectation, quoting, comments, and each way a
 * file is refused (with its line and reason). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "batch.h"
#include "harness.h"
#include "rules.h"
#include "timestamp.h"

static enc_rules *parse(const char *text, enc_err *err)
{
    enc_rules *rs = NULL;
    if (enc_rules_parse(text, strlen(text), "t.rules", &rs, err) != ENC_OK)
        return NULL;
    return rs;
}

/* Parses text, which must be refused, and checks the message contains want. */
static void refused(const char *text, const char *want)
{
    enc_err err = {{0}};
    enc_rules *rs = parse(text, &err);
    T_CHECK(rs == NULL);
    if (!strstr(err.msg, want))
        fprintf(stderr, "  message was: %s (wanted %s)\n", err.msg, want);
    T_CHECK(strstr(err.msg, want) != NULL);
    enc_rules_free(rs);
}

static void test_every_expectation(void)
{
    enc_err err = {{0}};
    enc_rules *rs = parse("warn expect_column_values_to_not_be_null device\n"
                          "quarantine expect_column_values_to_be_in_set device values=mobile,web\n"
                          "fail expect_column_values_to_match_regex user_id regex=^U[0-9]+$\n"
                          "warn expect_column_values_to_be_between duration min=1 max=3600\n"
                          "warn expect_column_values_to_be_between event_time min=2020-01-01 max=now+1d\n"
                          "warn expect_column_values_to_exist_in song_id\n"
                          "warn expect_column_values_to_exist_in device in=users\n"
                          "warn expect_column_value_lengths_to_be_between title min=1 max=200\n"
                          "warn expect_column_values_to_be_unique user_id,event_time\n",
                          &err);
    T_CHECK(rs != NULL);
    if (!rs) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    T_CHECK(rs->n == 9);
    T_CHECK(rs->rules[0].kind == ENC_EXP_NOT_NULL && rs->rules[0].cols[0] == ENC_COL_DEVICE);
    T_CHECK(rs->rules[1].action == ENC_ACT_QUARANTINE && rs->rules[1].nset == 2);
    T_CHECK_MEM(rs->rules[1].set[1].p, rs->rules[1].set[1].n, "web");
    T_CHECK(rs->rules[2].action == ENC_ACT_FAIL && rs->rules[2].has_re);
    T_CHECK(rs->rules[3].min.set && rs->rules[3].min.num == 1 && rs->rules[3].max.num == 3600);
    T_CHECK(!rs->rules[4].min.relative && rs->rules[4].min.us == enc_ts_days_from_civil(2020, 1, 1) * ENC_US_PER_DAY);
    T_CHECK(rs->rules[4].max.relative && rs->rules[4].max.us == ENC_US_PER_DAY);
    T_CHECK(rs->rules[5].ref == ENC_REF_SONGS && rs->rules[6].ref == ENC_REF_USERS);
    T_CHECK(rs->rules[7].kind == ENC_EXP_LENGTHS_BETWEEN && rs->rules[7].max.num == 200);
    T_CHECK(rs->rules[8].ncols == 2 && rs->rules[8].cols[1] == ENC_RCOL_EVENT_TIME);
    T_CHECK_STR(rs->rules[8].column, "user_id,event_time");
    T_CHECK_STR(rs->rules[0].name, "expect_column_values_to_not_be_null");
    T_CHECK(rs->rules[8].line == 9);
    enc_rules_free(rs);
}

static void test_reasonable_regexes_pass(void)
{
    enc_err err = {{0}};
    const char *ok[] = {"^S[0-9]{6}$", "^[A-Z][a-z]+(_[A-Z][a-z]+)*$", "(a|b)+c?", "^[]a+]+$", "x\\++", "(ab){2,5}"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char line[256];
        snprintf(line, sizeof line, "warn expect_column_values_to_match_regex title regex=%s\n", ok[i]);
        enc_rules *rs = parse(line, &err);
        T_CHECK(rs != NULL);
        if (!rs)
            fprintf(stderr, "  %s: %s\n", ok[i], err.msg);
        enc_rules_free(rs);
    }
}

static void test_comments_quotes_names(void)
{
    enc_err err = {{0}};
    enc_rules *rs = parse("# a comment\n\n   \t\r\n"
                          "quarantine expect_column_values_to_match_regex title regex=\"^a b#c \\\"q\\\"$\" name=spaced # trailing\r\n"
                          "warn expect_column_values_to_be_between event_time min=now-30d max=now+12h\n",
                          &err);
    T_CHECK(rs != NULL);
    if (!rs)
        return;
    T_CHECK(rs->n == 2);
    T_CHECK_STR(rs->rules[0].name, "spaced");
    T_CHECK(rs->rules[0].line == 4);
    regmatch_t m = {0};
    T_CHECK(regexec(&rs->rules[0].re, "a b#c \"q\"", 0, &m, 0) == 0);
    T_CHECK(rs->rules[1].min.us == -30 * ENC_US_PER_DAY);
    T_CHECK(rs->rules[1].max.us == 12 * 3600 * ENC_US_PER_SEC);
    enc_rules_free(rs);
}

static void test_refusals(void)
{
    refused("warn expect_column_values_to_not_be_null device\nshout expect_column_values_to_not_be_null device\n",
            "t.rules:2: 'shout' is not an action");
    refused("warn expect_nothing device", "t.rules:1: unknown expectation 'expect_nothing'");
    refused("warn expect_column_values_to_not_be_null colour", "unknown column 'colour'");
    refused("warn expect_column_values_to_not_be_null", "expected ACTION EXPECTATION COLUMN");
    refused("warn expect_column_values_to_be_in_set device", "needs values=");
    refused("warn expect_column_values_to_match_regex user_id", "needs regex=");
    refused("warn expect_column_values_to_match_regex user_id regex=(", "does not compile");
    /* patterns glibc's regcomp would expand without bound (fuzz_rules found "a+++...") */
    refused("warn expect_column_values_to_match_regex title regex=a+++", "repeats a repetition");
    refused("warn expect_column_values_to_match_regex title regex=a{2}*", "repeats a repetition");
    refused("warn expect_column_values_to_match_regex title regex=a{1000}", "repeats more than {100}");
    refused("warn expect_column_values_to_match_regex title regex=((a{100}){100}){100}", "too large an automaton");
    refused("warn expect_column_values_to_match_regex title regex=(((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)",
            "too large an automaton");
    refused("warn expect_column_values_to_match_regex title regex=((((((((((((((((a))))))))))))))))", "deeper than");
    refused("warn expect_column_values_to_be_between duration", "needs min=, max= or both");
    refused("warn expect_column_values_to_be_between title min=1", "works on duration or event_time");
    refused("warn expect_column_values_to_be_between duration min=x", "min='x' is not a number");
    refused("warn expect_column_values_to_be_between duration min=5 max=1", "min is greater than max");
    refused("warn expect_column_values_to_be_between event_time max=tomorrow", "max='tomorrow' is not a time");
    refused("warn expect_column_values_to_be_between event_time max=now+1y", "is not a time");
    refused("warn expect_column_value_lengths_to_be_between title min=-1", "whole number >= 0");
    refused("warn expect_column_value_lengths_to_be_between title min=1.5", "whole number >= 0");
    refused("warn expect_column_values_to_exist_in device", "needs in=songs or in=users");
    refused("warn expect_column_values_to_exist_in song_id in=albums", "in='albums'");
    refused("warn expect_column_values_to_exist_in duration in=songs", "works on text columns");
    refused("warn expect_column_values_to_not_be_null device,user_id", "only expect_column_values_to_be_unique");
    refused("warn expect_column_values_to_be_unique a,b", "unknown column 'a'");
    refused("warn expect_column_values_to_be_unique song_id,user_id,device,title,genre", "at most 4 columns");
    refused("warn expect_column_values_to_not_be_null device regex=x", "takes no argument 'regex'");
    refused("warn expect_column_values_to_be_in_set device values=a values=b", "values= given twice");
    refused("warn expect_column_values_to_not_be_null device name=a/b", "name 'a/b'");
    refused("warn expect_column_values_to_not_be_null device nonsense", "'nonsense' is not key=value");
    refused("warn expect_column_values_to_match_regex user_id regex=\"abc", "unclosed double quote");
    refused("warn a b c d e f g h i j k l m n o p q", "too many words");
}

static void test_limits(void)
{
    char *big = enc_malloc(ENC_RULES_LINE_MAX + 64);
    memset(big, 'x', ENC_RULES_LINE_MAX + 10);
    big[ENC_RULES_LINE_MAX + 10] = '\0';
    refused(big, "line longer than");
    enc_free(big);

    size_t line = strlen("warn expect_column_values_to_not_be_null device\n");
    char *many = enc_malloc(line * (ENC_RULES_MAX + 1) + 1);
    for (size_t i = 0; i <= ENC_RULES_MAX; i++)
        memcpy(many + i * line, "warn expect_column_values_to_not_be_null device\n", line);
    many[line * (ENC_RULES_MAX + 1)] = '\0';
    refused(many, "more than 256 rules");
    many[line * ENC_RULES_MAX] = '\0';
    enc_err err = {{0}};
    enc_rules *rs = parse(many, &err);
    T_CHECK(rs && rs->n == ENC_RULES_MAX);
    enc_rules_free(rs);
    enc_free(many);

    char nul[] = "warn expect_column_values_to_not_be_null dev\0ice";
    rs = NULL;
    T_CHECK(enc_rules_parse(nul, sizeof nul - 1, "t.rules", &rs, &err) == ENC_ERROR);
    T_CHECK(strstr(err.msg, "NUL byte") != NULL);
}

static void test_default_and_empty(void)
{
    enc_err err = {{0}};
    enc_rules *rs = NULL;
    T_CHECK(enc_rules_default(&rs, &err) == ENC_OK);
    T_CHECK(rs && rs->n == 6);
    for (size_t i = 0; rs && i < rs->n; i++)
        T_CHECK(rs->rules[i].action == ENC_ACT_WARN);
    enc_rules_free(rs);
    rs = parse("", &err);
    T_CHECK(rs && rs->n == 0);
    enc_rules_free(rs);
    T_CHECK(enc_rules_load("/nonexistent/x.rules", &rs, &err) == ENC_ERROR && rs == NULL);
    T_CHECK(strstr(err.msg, "cannot read rules file") != NULL);
}

/* Every allocation failure is an error with nothing leaked (ASan checks the leaks). */
static void test_out_of_memory(void)
{
    const char *text = "quarantine expect_column_values_to_be_in_set device values=a,b,c name=x\n"
                       "warn expect_column_values_to_match_regex user_id regex=^U\n";
    for (long n = 0; n < 40; n++) {
        enc_err err = {{0}};
        enc_rules *rs = NULL;
        enc_alloc_fail_after(n);
        enc_status st = enc_rules_parse(text, strlen(text), "t.rules", &rs, &err);
        enc_alloc_fail_after(-1);
        T_CHECK((st == ENC_OK) == (rs != NULL));
        enc_rules_free(rs);
    }
}

/* The fuzzer's seed corpus: ok_* must parse, bad_* must be refused. */
static void test_corpus(void)
{
    const char *dir = "fuzz/corpus/rules";
    DIR *d = opendir(dir);
    T_CHECK(d != NULL);
    if (!d)
        return;
    int seen = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        bool ok = strncmp(e->d_name, "ok_", 3) == 0, bad = strncmp(e->d_name, "bad_", 4) == 0;
        if (!ok && !bad)
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        enc_err err = {{0}};
        enc_rules *rs = NULL;
        enc_status st = enc_rules_load(path, &rs, &err);
        if ((st == ENC_OK) != ok)
            fprintf(stderr, "  %s: %s\n", path, st == ENC_OK ? "parsed" : err.msg);
        T_CHECK((st == ENC_OK) == ok);
        enc_rules_free(rs);
        seen++;
    }
    closedir(d);
    T_CHECK(seen >= 6);
}

int main(void)
{
    T_RUN(test_every_expectation);
    T_RUN(test_comments_quotes_names);
    T_RUN(test_refusals);
    T_RUN(test_reasonable_regexes_pass);
    T_RUN(test_limits);
    T_RUN(test_default_and_empty);
    T_RUN(test_out_of_memory);
    T_RUN(test_corpus);
    return t_summary("rules");
}

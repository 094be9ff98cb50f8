/* test_quality — each expectation's pass and fail cases over hand-made batches, the three
 * actions, samples, uniqueness within the watermark, and the reference-data checks. */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "batch.h"
#include "dim.h"
#include "harness.h"
#include "quality.h"
#include "rules.h"
#include "timestamp.h"

#define NOW (enc_ts_days_from_civil(2025, 4, 9) * ENC_US_PER_DAY) /* "now" in these tests */
#define HOUR (3600 * ENC_US_PER_SEC)

typedef struct {
    const char *user, *song, *device, *title;
    int64_t time_us; /* relative to NOW */
    int duration;    /* -1 = NULL */
} spec;

static const char songs_csv[] = "song_id,title,artist,genre,duration\nS001,Sun,A,pop,200\nS002,Rain,B,rock,180\n";
static const char users_csv[] = "user_id,country,subscription,device\nU001,US,free,mobile\nU002,FR,free,web\n";
static enc_songs *songs;
static enc_users *users;

static enc_slice opt(const char *s)
{
    return s ? enc_slice_cstr(s) : ENC_SLICE_NULL;
}

/* Fills b (initialised by the caller) with one record and one row per spec. */
static void fill(enc_batch *b, const spec *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        enc_record *r = enc_batch_add_record(b);
        char *raw = enc_arena_alloc(&b->arena, 32);
        snprintf(raw, 32, "{\"raw\":%zu}", i + 1);
        *r = (enc_record){.text = enc_slice_cstr(raw), .origin = "f.json", .line = (int64_t)i + 1};
    }
    for (size_t i = 0; i < n; i++) {
        enc_row *row = enc_batch_add_row(b);
        memset(row, 0, sizeof *row);
        row->text[ENC_COL_USER_ID] = opt(s[i].user);
        row->text[ENC_COL_SONG_ID] = opt(s[i].song);
        row->text[ENC_COL_DEVICE] = opt(s[i].device);
        row->text[ENC_COL_TITLE] = opt(s[i].title);
        row->duration = s[i].duration;
        row->event_time_us = NOW + s[i].time_us;
        char *when = enc_arena_alloc(&b->arena, ENC_TS_FORMAT_MAX);
        row->event_time = enc_slice_make(when, enc_ts_format(row->event_time_us, when));
        row->rec = &b->recs[i];
        b->stats.rows++;
        b->stats.events++;
    }
}

typedef struct {
    enc_rules *rules;
    enc_quality *q;
    enc_batch b;
    enc_err err;
    enc_status st;
} fixture;

static void setup(fixture *f, const char *rules, int64_t watermark_us, bool stop_on_fail)
{
    memset(f, 0, sizeof *f);
    enc_batch_init(&f->b);
    T_CHECK(enc_rules_parse(rules, strlen(rules), "t.rules", &f->rules, &f->err) == ENC_OK);
    enc_quality_config c = {f->rules, songs, users, watermark_us, stop_on_fail};
    T_CHECK(enc_quality_new(&f->q, &c, &f->err) == ENC_OK);
}

static void run(fixture *f, const spec *s, size_t n)
{
    enc_batch_reset(&f->b);
    fill(&f->b, s, n);
    f->st = enc_quality_check_batch(f->q, &f->b, NOW, &f->err);
}

static void teardown(fixture *f)
{
    enc_quality_free(f->q);
    enc_rules_free(f->rules);
    enc_batch_free(&f->b);
}

/* evaluated/failed of result i of the last batch, as "E/F". */
static const char *counts(const fixture *f, size_t i)
{
    static char out[64];
    if (i >= f->b.nqres)
        return "missing";
    snprintf(out, sizeof out, "%lld/%lld", (long long)f->b.qres[i].evaluated, (long long)f->b.qres[i].failed);
    return out;
}

/* One warn rule over the specs: "evaluated/failed". */
static const char *warn_counts(const char *rule, const spec *s, size_t n)
{
    fixture f;
    setup(&f, rule, 0, true);
    run(&f, s, n);
    T_CHECK(f.st == ENC_OK);
    T_CHECK(f.b.nrows == n); /* warn keeps every row */
    static char out[64];
    snprintf(out, sizeof out, "%s", counts(&f, 0));
    teardown(&f);
    return out;
}

static void test_not_null(void)
{
    spec s[] = {{"U001", "S001", "mobile", NULL, 0, 200}, {"U001", "S001", NULL, NULL, 1, -1}};
    T_CHECK_STR(warn_counts("warn expect_column_values_to_not_be_null device", s, 2), "2/1");
    T_CHECK_STR(warn_counts("warn expect_column_values_to_not_be_null user_id", s, 2), "2/0");
    T_CHECK_STR(warn_counts("warn expect_column_values_to_not_be_null duration", s, 2), "2/1");
    T_CHECK_STR(warn_counts("warn expect_column_values_to_not_be_null event_time", s, 2), "2/0");
}

static void test_in_set(void)
{
    spec s[] = {{"U001", "S001", "mobile", NULL, 0, 1}, {"U001", "S001", "toaster", NULL, 0, 1},
                {"U001", "S001", NULL, NULL, 0, 1},    {"U001", "S001", "mobil", NULL, 0, 1}};
    T_CHECK_STR(warn_counts("warn expect_column_values_to_be_in_set device values=mobile,web", s, 4), "4/2");
    T_CHECK_STR(warn_counts("warn expect_column_values_to_be_in_set device values=mobile,web,toaster,mobil", s, 4),
                "4/0");
}

static void test_match_regex(void)
{
    spec s[] = {{"U001", "S001", "x", NULL, 0, 1}, {"u-bad", "S001", "x", NULL, 0, 1}, {"xU0y", "S001", "x", NULL, 0, 1}};
    T_CHECK_STR(warn_counts("warn expect_column_values_to_match_regex user_id regex=^U[0-9]{3}$", s, 3), "3/2");
    T_CHECK_STR(warn_counts("warn expect_column_values_to_match_regex user_id regex=U0", s, 3), "3/1"); /* search */
    T_CHECK_STR(warn_counts("warn expect_column_values_to_match_regex title regex=^x$", s, 3), "3/0");   /* NULLs */
}

static void test_between(void)
{
    spec s[] = {{"U001", "S001", "x", NULL, 0, 150},           {"U001", "S001", "x", NULL, 0, 300},
                {"U001", "S001", "x", NULL, 0, -1},            {"U001", "S001", "x", NULL, 2 * 24 * HOUR, 100},
                {"U001", "S001", "x", NULL, -3 * 24 * HOUR, 100}, {"U001", "S001", "x", NULL, 24 * HOUR, 200}};
    T_CHECK_STR(warn_counts("warn expect_column_values_to_be_between duration min=100 max=200", s, 6), "6/1");
    T_CHECK_STR(warn_counts("warn expect_column_values_to_be_between duration max=100", s, 6), "6/3");
    /* not more than 1 day in the future: the bound itself passes */
    T_CHECK_STR(warn_counts("warn expect_column_values_to_be_between event_time max=now+1d", s, 6), "6/1");
    T_CHECK_STR(warn_counts("warn expect_column_values_to_be_between event_time min=now-2d max=now+1d", s, 6), "6/2");
    T_CHECK_STR(warn_counts("warn expect_column_values_to_be_between event_time min=2025-04-09", s, 6), "6/1");
    T_CHECK_STR(warn_counts("warn expect_column_values_to_be_between event_time max=2025-04-09T00:00:00Z", s, 6),
                "6/2");
}

static void test_exist_in(void)
{
    spec s[] = {{"U001", "S001", "x", NULL, 0, 1}, {"U003", "S999", "x", NULL, 0, 1}, {"U002", "S002", "U001", NULL, 0, 1}};
    T_CHECK_STR(warn_counts("warn expect_column_values_to_exist_in song_id", s, 3), "3/1");
    T_CHECK_STR(warn_counts("warn expect_column_values_to_exist_in user_id", s, 3), "3/1");
    T_CHECK_STR(warn_counts("warn expect_column_values_to_exist_in device in=users", s, 3), "3/2");
    T_CHECK_STR(warn_counts("warn expect_column_values_to_exist_in user_id in=songs", s, 3), "3/3");
}

static void test_lengths(void)
{
    spec s[] = {{"U001", "S001", "x", "\xc3\xa9t\xc3\xa9", 0, 1}, {"U001", "S001", "x", "ab", 0, 1},
                {"U001", "S001", "x", "", 0, 1}, {"U001", "S001", "x", NULL, 0, 1}};
    /* "été" is 3 characters (5 bytes) */
    T_CHECK_STR(warn_counts("warn expect_column_value_lengths_to_be_between title min=1 max=3", s, 4), "4/1");
    T_CHECK_STR(warn_counts("warn expect_column_value_lengths_to_be_between title min=3", s, 4), "4/2");
    T_CHECK_STR(warn_counts("warn expect_column_value_lengths_to_be_between title max=0", s, 4), "4/2");
}

static void test_unique_within_watermark(void)
{
    fixture f;
    setup(&f, "warn expect_column_values_to_be_unique user_id,song_id", 24 * HOUR, true);
    spec a[] = {{"U001", "S001", "x", NULL, 0, 1}, {"U001", "S002", "x", NULL, 1, 1}, {"U001", "S001", "x", NULL, 2, 1},
                {"U002", NULL, "x", NULL, 3, 1},  {"U002", NULL, "x", NULL, 4, 1}};
    run(&f, a, 5);
    T_CHECK_STR(counts(&f, 0), "5/1"); /* the repeat in the batch; NULL keys are not compared */
    T_CHECK_STR(f.b.qres[0].samples, "[\"U001|S001\"]");
    spec b[] = {{"U001", "S002", "x", NULL, 10 * HOUR, 1}};
    run(&f, b, 1);
    T_CHECK_STR(counts(&f, 0), "1/1"); /* seen in the earlier batch, inside the watermark */
    spec c[] = {{"U009", "S009", "x", NULL, 60 * HOUR, 1}, {"U001", "S001", "x", NULL, 60 * HOUR, 1}};
    run(&f, c, 2);
    T_CHECK_STR(counts(&f, 0), "2/0"); /* the first U001/S001 is now older than the watermark */
    teardown(&f);

    setup(&f, "warn expect_column_values_to_be_unique user_id", 0, true);
    run(&f, a, 2);
    T_CHECK_STR(counts(&f, 0), "2/1");
    run(&f, a, 1);
    T_CHECK_STR(counts(&f, 0), "1/0"); /* watermark 0: within one batch only */
    teardown(&f);
}

static void test_quarantine_moves_rows(void)
{
    fixture f;
    setup(&f,
          "quarantine expect_column_values_to_be_in_set device values=mobile name=devices\n"
          "warn expect_column_values_to_exist_in song_id\n",
          0, true);
    spec s[] = {{"U001", "S001", "mobile", NULL, 0, 1}, {"U001", "S999", "toaster", NULL, 1, 1},
                {"U001", "S998", "mobile", NULL, 2, 1}};
    run(&f, s, 3);
    T_CHECK(f.st == ENC_OK);
    T_CHECK(f.b.nrows == 2 && f.b.nquar == 1);
    T_CHECK_STR(f.b.quar[0].reason, "devices");
    T_CHECK(f.b.quar[0].line == 2);
    T_CHECK_STR(f.b.quar[0].origin, "f.json");
    T_CHECK_MEM(f.b.quar[0].raw.p, f.b.quar[0].raw.n, "{\"raw\":2}");
    T_CHECK(f.b.stats.rows == 2 && f.b.stats.quarantined == 1);
    T_CHECK_MEM(f.b.rows[1].text[ENC_COL_SONG_ID].p, f.b.rows[1].text[ENC_COL_SONG_ID].n, "S998"); /* order kept */
    T_CHECK_STR(counts(&f, 0), "3/1");
    T_CHECK_STR(counts(&f, 1), "2/1"); /* the quarantined row is not seen by later rules */
    T_CHECK_STR(f.b.qres[0].action, "quarantine");
    T_CHECK_STR(f.b.qres[0].column, "device");
    size_t n;
    const enc_quality_total *t = enc_quality_totals(f.q, &n);
    T_CHECK(n == 2 && t[0].failed == 1 && t[0].evaluated == 3 && t[0].batches == 1);
    T_CHECK(!enc_quality_any_fail(f.q));
    teardown(&f);
}

static void test_fail_stops(void)
{
    fixture f;
    setup(&f, "warn expect_column_values_to_not_be_null device\nfail expect_column_values_to_exist_in song_id\n", 0,
          true);
    spec s[] = {{"U001", "S001", "mobile", NULL, 0, 1}, {"U001", "S999", "mobile", NULL, 1, 1}};
    run(&f, s, 2);
    T_CHECK(f.st == ENC_ERROR);
    T_CHECK(enc_quality_stopped(f.q));
    T_CHECK_STR(f.err.msg, "rule expect_column_values_to_exist_in failed on f.json:2 (song_id 'S999'; rule at t.rules:2)");
    teardown(&f);

    setup(&f, "fail expect_column_values_to_exist_in song_id\n", 0, false); /* a dry run */
    run(&f, s, 2);
    T_CHECK(f.st == ENC_OK && f.b.nrows == 2);
    T_CHECK(!enc_quality_stopped(f.q) && enc_quality_any_fail(f.q));
    T_CHECK_STR(counts(&f, 0), "2/1");
    teardown(&f);

    setup(&f, "fail expect_column_values_to_exist_in song_id\n", 0, true);
    run(&f, s, 1);
    T_CHECK(f.st == ENC_OK && !enc_quality_stopped(f.q) && !enc_quality_any_fail(f.q));
    teardown(&f);
}

/* Only a `quarantine` rule can change which rows a batch writes. */
static void test_may_quarantine(void)
{
    fixture f;
    setup(&f, "warn expect_column_values_to_not_be_null device\nfail expect_column_values_to_exist_in song_id\n", 0,
          true);
    T_CHECK(!enc_quality_may_quarantine(f.q));
    teardown(&f);
    setup(&f, "warn expect_column_values_to_not_be_null device\nquarantine expect_column_values_to_exist_in song_id\n",
          0, true);
    T_CHECK(enc_quality_may_quarantine(f.q));
    teardown(&f);
    setup(&f, ENC_RULES_DEFAULT_TEXT, 0, true);
    T_CHECK(!enc_quality_may_quarantine(f.q)); /* the default set is warn-only */
    teardown(&f);
}

static void test_samples(void)
{
    fixture f;
    setup(&f, "warn expect_column_values_to_be_in_set device values=none", 0, true);
    char longv[100];
    memset(longv, 'z', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    spec s[] = {{"U", "S", "a\"b", NULL, 0, 1}, {"U", "S", longv, NULL, 0, 1}, {"U", "S", "c", NULL, 0, 1},
                {"U", "S", "d", NULL, 0, 1}};
    run(&f, s, 4);
    char want[256];
    snprintf(want, sizeof want, "[\"a\\\"b\",\"%.40s\",\"c\"]", longv); /* 3 samples, 40 bytes each at most */
    T_CHECK_STR(f.b.qres[0].samples, want);
    T_CHECK_STR(counts(&f, 0), "4/4");
    size_t n;
    T_CHECK_STR(enc_quality_totals(f.q, &n)[0].samples, want);
    run(&f, s + 3, 1);
    T_CHECK_STR(enc_quality_totals(f.q, &n)[0].samples, want); /* the first failing batch's */
    T_CHECK(enc_quality_totals(f.q, &n)[0].failed == 5);
    teardown(&f);
}

static void test_reference_checks(void)
{
    enc_songs *s = NULL;
    enc_users *u = NULL;
    enc_err err;
    static const char sc[] = "song_id,title,artist,genre,duration\nS1,T,A,G,200\nS2,,A,G,0\nS1,T,A,G,100\n"
                             ",T,A,G,1\nS3,T,A,G,x\n";
    static const char uc[] = "user_id,country,subscription,device\nU1,US,free,\nU2,FR,free,web\n";
    T_CHECK(enc_songs_load_mem(&s, sc, sizeof sc - 1, "songs.csv", NULL, NULL, &err) == ENC_OK);
    T_CHECK(enc_users_load_mem(&u, uc, sizeof uc - 1, "users.csv", NULL, NULL, &err) == ENC_OK);
    enc_rules *rs = NULL;
    T_CHECK(enc_rules_parse("", 0, "t.rules", &rs, &err) == ENC_OK);
    enc_quality *q = NULL;
    enc_quality_config c = {rs, s, u, 0, true};
    T_CHECK(enc_quality_new(&q, &c, &err) == ENC_OK);
    int warned = 0;
    T_CHECK(enc_quality_check_reference(q, NULL, &warned) == 6);
    size_t n;
    const enc_quality_total *t = enc_quality_totals(q, &n);
    T_CHECK(n == 12);
    char got[2048] = "";
    for (size_t i = 0; i < n; i++) {
        char line[200];
        snprintf(line, sizeof line, "%s %s %lld/%lld %s\n", t[i].rule + 14, t[i].column, (long long)t[i].evaluated,
                 (long long)t[i].failed, t[i].samples);
        strcat(got, line);
    }
    T_CHECK_STR(got, "values_to_be_unique songs.song_id 4/1 [\"S1\"]\n"
                     "values_to_not_be_null songs.song_id 5/1 []\n"
                     "values_to_not_be_null songs.title 3/1 [\"S2\"]\n"
                     "values_to_not_be_null songs.artist 3/0 []\n"
                     "values_to_not_be_null songs.genre 3/0 []\n"
                     "values_to_not_be_null songs.duration 3/1 [\"S3\"]\n"
                     "values_to_be_between songs.duration 2/1 [\"S2\"]\n"
                     "values_to_be_unique users.user_id 2/0 []\n"
                     "values_to_not_be_null users.user_id 2/0 []\n"
                     "values_to_not_be_null users.country 2/0 []\n"
                     "values_to_not_be_null users.subscription 2/0 []\n"
                     "values_to_not_be_null users.device 2/1 [\"U1\"]\n");
    /* They are not batch results: a restart would store them again. */
    enc_batch b;
    enc_batch_init(&b);
    spec one[] = {{"U1", "S1", "x", NULL, 0, 1}};
    fill(&b, one, 1);
    T_CHECK(enc_quality_check_batch(q, &b, NOW, &err) == ENC_OK && b.nqres == 0);
    enc_batch_free(&b);
    enc_quality_free(q);
    enc_rules_free(rs);
    enc_songs_free(s);
    enc_users_free(u);
}

/* Allocation failures while checking are errors, never crashes or leaks. */
static void test_out_of_memory(void)
{
    spec s[] = {{"U001", "S001", "toaster", NULL, 0, 1}, {"U001", "S001", "web", NULL, 0, 1}};
    for (long k = 0; k < 12; k++) {
        fixture f;
        setup(&f, "quarantine expect_column_values_to_be_in_set device values=web\n"
                  "warn expect_column_values_to_be_unique user_id,song_id\n", 3600, true);
        enc_batch_reset(&f.b);
        fill(&f.b, s, 2);
        enc_alloc_fail_after(k);
        enc_status st = enc_quality_check_batch(f.q, &f.b, NOW, &f.err);
        enc_alloc_fail_after(-1);
        T_CHECK(st == ENC_OK || strstr(f.err.msg, "out of memory") != NULL);
        teardown(&f);
    }
}

int main(void)
{
    enc_err err;
    if (enc_songs_load_mem(&songs, songs_csv, sizeof songs_csv - 1, "songs.csv", NULL, NULL, &err) != ENC_OK ||
        enc_users_load_mem(&users, users_csv, sizeof users_csv - 1, "users.csv", NULL, NULL, &err) != ENC_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    T_RUN(test_not_null);
    T_RUN(test_in_set);
    T_RUN(test_match_regex);
    T_RUN(test_between);
    T_RUN(test_exist_in);
    T_RUN(test_lengths);
    T_RUN(test_unique_within_watermark);
    T_RUN(test_quarantine_moves_rows);
    T_RUN(test_fail_stops);
    T_RUN(test_may_quarantine);
    T_RUN(test_samples);
    T_RUN(test_reference_checks);
    T_RUN(test_out_of_memory);
    enc_songs_free(songs);
    enc_users_free(users);
    return t_summary("quality");
}

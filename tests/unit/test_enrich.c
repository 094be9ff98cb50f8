/* test_enrich — records to rows: joins, the device fallback, rescued JSON, every
 * quarantine reason, event_time (the reuse of the previous row's time, checked against
 * the timestamp module row by row), batches spanning many join chunks, and running out
 * of memory. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "batch.h"
#include "dim.h"
#include "enrich.h"
#include "harness.h"
#include "timestamp.h"

static const char songs_csv[] = "song_id,title,artist,genre,duration\n"
                                "S1,One,Ann,pop,100\n"
                                "S2,Two,Bob,rock,\n"
                                "S3,,Cid,jazz,300\n";
static const char users_csv[] = "user_id,country,subscription,device\n"
                                "U1,FR,free,mobile\n"
                                "U2,DE,premium,\n"
                                "U3,US,student,tv\n";

static enc_enrich_ctx ctx;
static enc_batch b;

static void setup(void)
{
    enc_err err;
    enc_songs *s = NULL;
    enc_users *u = NULL;
    T_CHECK(enc_songs_load_mem(&s, songs_csv, strlen(songs_csv), "songs.csv", NULL, NULL, &err) == ENC_OK);
    T_CHECK(enc_users_load_mem(&u, users_csv, strlen(users_csv), "users.csv", NULL, NULL, &err) == ENC_OK);
    ctx.songs = s;
    ctx.users = u;
    enc_batch_init(&b);
}

static void teardown(void)
{
    enc_batch_free(&b);
    enc_songs_free((enc_songs *)ctx.songs);
    enc_users_free((enc_users *)ctx.users);
}

/* Adds a record; text must outlive the batch (string literals or the caller's buffer). */
static void add(const char *text, int64_t line)
{
    enc_record *r = enc_batch_add_record(&b);
    T_CHECK(r != NULL);
    if (!r)
        return;
    r->text = enc_slice_cstr(text);
    r->origin = "f.json";
    r->origin_json = "\"f.json\"";
    r->line = line;
    r->error = NULL;
}

static enc_status run(void)
{
    enc_err err = {{0}};
    enc_status st = enc_enrich_batch(&ctx, &b, &err);
    if (st != ENC_OK)
        fprintf(stderr, "    enrich: %s\n", err.msg);
    return st;
}

#define T_CHECK_COL(r, c, want) T_CHECK_MEM((r)->text[c].p, (r)->text[c].n, (want))

static void test_joins_and_device(void)
{
    enc_batch_reset(&b);
    add("{\"user_id\":\"U1\",\"song_id\":\"S1\",\"timestamp\":\"2025-01-01T00:00:00\"}", 1);
    add("{\"user_id\":\"U2\",\"song_id\":\"S2\",\"timestamp\":\"2025-01-01T00:00:00\",\"device\":\"car\"}", 2);
    add("{\"user_id\":\"U9\",\"song_id\":\"S9\",\"timestamp\":\"2025-01-01T00:00:00\"}", 3);
    add("{\"user_id\":\"U2\",\"song_id\":\"S3\",\"timestamp\":\"2025-01-01T00:00:00\"}", 4);
    T_CHECK(run() == ENC_OK);
    T_CHECK(b.nrows == 4 && b.nquar == 0 && b.stats.rows == 4);
    if (b.nrows != 4)
        return;
    const enc_row *r = &b.rows[0];
    T_CHECK_COL(r, ENC_COL_TITLE, "One");
    T_CHECK_COL(r, ENC_COL_ARTIST, "Ann");
    T_CHECK_COL(r, ENC_COL_GENRE, "pop");
    T_CHECK(r->duration == 100);
    T_CHECK_COL(r, ENC_COL_COUNTRY, "FR");
    T_CHECK_COL(r, ENC_COL_SUBSCRIPTION, "free");
    T_CHECK_COL(r, ENC_COL_DEVICE, "mobile"); /* the user's, the event has none */
    T_CHECK(r->text[ENC_COL_RESCUED].p == NULL);
    T_CHECK(r->rec == &b.recs[0]);
    r = &b.rows[1];
    T_CHECK_COL(r, ENC_COL_DEVICE, "car"); /* the event's own wins */
    T_CHECK(r->duration == -1);
    r = &b.rows[2]; /* neither found: a left join */
    T_CHECK_COL(r, ENC_COL_SONG_ID, "S9");
    T_CHECK_COL(r, ENC_COL_USER_ID, "U9");
    T_CHECK(r->text[ENC_COL_TITLE].p == NULL && r->text[ENC_COL_COUNTRY].p == NULL);
    T_CHECK(r->text[ENC_COL_DEVICE].p == NULL && r->duration == -1);
    r = &b.rows[3]; /* an empty CSV field is NULL, also as a device fallback */
    T_CHECK(r->text[ENC_COL_TITLE].p == NULL && r->text[ENC_COL_DEVICE].p == NULL);
    T_CHECK(r->duration == 300);
}

static void test_rescued_json(void)
{
    enc_batch_reset(&b);
    add("{\"user_id\":\"U1\",\"song_id\":\"S1\",\"timestamp\":\"2025-01-01\",\"x\":[1, 2],\"y\":\"z\"}", 1);
    add("{\"user_id\":\"U1\",\"song_id\":\"S1\",\"timestamp\":\"2025-01-01\",\"device\":{\"a\":1}}", 2);
    T_CHECK(run() == ENC_OK);
    T_CHECK(b.nrows == 2 && b.stats.rescued == 2);
    if (b.nrows != 2)
        return;
    T_CHECK_COL(&b.rows[0], ENC_COL_RESCUED, "{\"x\":[1, 2],\"y\":\"z\",\"_file_path\":\"f.json\"}");
    T_CHECK_COL(&b.rows[1], ENC_COL_RESCUED, "{\"device\":{\"a\":1},\"_file_path\":\"f.json\"}");
    T_CHECK_COL(&b.rows[1], ENC_COL_DEVICE, "mobile");
}

static void test_quarantine_reasons(void)
{
    enc_batch_reset(&b);
    add("{\"user_id\":\"U1\",\"song_id\":\"S1\",\"timestamp\":\"2025-01-01T00:00:01\"}", 1);
    add("{\"user_id\":\"U1\",\"song_id\":\"S1\",\"timestamp\":\"yesterday\"}", 2);
    add("{\"user_id\":\"U1\",\"song_id\":\"S1\",\"timestamp\":\"2025-01-01T00:00:01\"}", 3);
    add("{\"user_id\":\"U1\",\"song_id\":\"S1\"}", 4);
    add("{\"user_id\":null,\"song_id\":\"S1\",\"timestamp\":1}", 5);
    add("{\"user_id\":\"U1\",\"timestamp\":1}", 6);
    add("{\"user_id\":\"U1\",", 7);
    add("", 8);
    enc_record *r = enc_batch_add_record(&b);
    *r = b.recs[0];
    r->line = 9;
    r->error = "record is longer than 1 bytes";
    T_CHECK(run() == ENC_OK);
    T_CHECK(b.nrows == 2 && b.nquar == 7 && b.stats.quarantined == 7);
    if (b.nquar != 7 || b.nrows != 2)
        return;
    T_CHECK_STR(b.quar[0].reason, "timestamp 'yesterday' is not an ISO 8601 date-time or an epoch number");
    T_CHECK(b.quar[0].line == 2);
    T_CHECK_STR(b.quar[1].reason, "timestamp is missing or null");
    T_CHECK_STR(b.quar[2].reason, "user_id is missing or null");
    T_CHECK_STR(b.quar[3].reason, "song_id is missing or null");
    T_CHECK(strncmp(b.quar[4].reason, "invalid JSON", 12) == 0);
    T_CHECK(strncmp(b.quar[5].reason, "invalid JSON: empty record", 26) == 0);
    T_CHECK_STR(b.quar[6].reason, "record is longer than 1 bytes");
    T_CHECK(b.quar[6].line == 9);
    T_CHECK_MEM(b.quar[3].raw.p, b.quar[3].raw.n, "{\"user_id\":\"U1\",\"timestamp\":1}");
    /* the rows on either side of the bad timestamp keep the right time */
    T_CHECK_MEM(b.rows[0].event_time.p, b.rows[0].event_time.n, "2025-01-01 00:00:01");
    T_CHECK_MEM(b.rows[1].event_time.p, b.rows[1].event_time.n, "2025-01-01 00:00:01");
    T_CHECK(b.rows[1].rec->line == 3);
}

/* Each row's event_time is what parsing and formatting its own timestamp gives, whatever
 * came before it: repeats, the same second written differently, a string and a number
 * with the same text, fractions, day changes, epoch milliseconds. */
static void test_event_time_sequence(void)
{
    static const char *const ts[] = {
        "\"2025-01-01T00:00:00\"", "\"2025-01-01T00:00:00\"", "\"2025-01-01T00:00:00Z\"", "\"2025-01-01 00:00:00\"",
        "1735689600",              "1735689600",              "\"1735689600\"",           "1735689600",
        "\"2025-01-01T00:00:00.5\"", "\"2025-01-01T00:00:00.5\"", "\"2025-01-01T00:00:00\"", "\"2025-01-02T00:00:00\"",
        "\"2025-01-01T23:59:59.999999\"", "1735689600000", "1735689600.000001", "\"2025-01-01T01:00:00+01:00\"",
        "\"0001-01-01\"", "\"9999-12-31T23:59:59.999999\"", "-1", "\"2025-01-01T00:00:00\"",
    };
    enum { N = sizeof ts / sizeof ts[0] };
    static char text[N][128];
    enc_batch_reset(&b);
    for (int i = 0; i < N; i++) {
        snprintf(text[i], sizeof text[i], "{\"user_id\":\"U1\",\"song_id\":\"S1\",\"timestamp\":%s}", ts[i]);
        add(text[i], i + 1);
    }
    T_CHECK(run() == ENC_OK);
    T_CHECK(b.nrows == N - 1 && b.nquar == 1); /* the string "1735689600" is not ISO 8601 */
    T_CHECK(b.nquar == 1 && b.quar[0].line == 7);
    int bad = 0;
    for (size_t i = 0; i < b.nrows; i++) {
        const enc_row *r = &b.rows[i];
        const char *t = ts[r->rec->line - 1];
        int64_t us;
        enc_status st = t[0] == '"' ? enc_ts_parse_iso(t + 1, strlen(t) - 2, &us) : enc_ts_parse_epoch(t, strlen(t), &us);
        char want[ENC_TS_FORMAT_MAX];
        size_t n = enc_ts_format(us, want);
        if (st != ENC_OK || r->event_time_us != us || r->event_time.n != n || memcmp(r->event_time.p, want, n) != 0) {
            fprintf(stderr, "    row %zu (%s): %" PRId64 " '%.*s', want %" PRId64 " '%s'\n", i, t, r->event_time_us,
                    (int)r->event_time.n, r->event_time.p, us, want);
            bad++;
        }
    }
    T_CHECK(bad == 0);
    /* equal times share their formatted bytes */
    T_CHECK(b.rows[0].event_time.p == b.rows[3].event_time.p);
    T_CHECK(b.rows[0].event_time.p != b.rows[7].event_time.p);
}

/* More rows than one join chunk, good and bad records interleaved: every row is joined
 * with its own record's ids. */
static void test_many_chunks(void)
{
    enum { N = 1500 };
    static char text[N][160];
    enc_batch_reset(&b);
    for (int i = 0; i < N; i++) {
        if (i % 7 == 3)
            snprintf(text[i], sizeof text[i], "{\"user_id\":\"U1\",\"timestamp\":\"2025-01-01\"}");
        else
            snprintf(text[i], sizeof text[i],
                     "{\"user_id\":\"U%d\",\"song_id\":\"S%d\",\"timestamp\":\"2025-01-01T00:%02d:%02d\"}", i % 4,
                     i % 5, i / 60 % 60, i % 60);
        add(text[i], i + 1);
    }
    T_CHECK(run() == ENC_OK);
    T_CHECK(b.nrows + b.nquar == N && b.nquar == (N + 3) / 7);
    static const char *const title[] = {NULL, "One", "Two", NULL, NULL};
    static const char *const country[] = {NULL, "FR", "DE", "US"};
    int bad = 0;
    for (size_t k = 0; k < b.nrows; k++) {
        const enc_row *r = &b.rows[k];
        int i = (int)(r->rec - b.recs);
        char sid[8], uid[8], when[32];
        snprintf(sid, sizeof sid, "S%d", i % 5);
        snprintf(uid, sizeof uid, "U%d", i % 4);
        snprintf(when, sizeof when, "2025-01-01 00:%02d:%02d", i / 60 % 60, i % 60);
        const char *t = title[i % 5], *c = country[i % 4];
        bad += !enc_slice_eq_cstr(r->text[ENC_COL_SONG_ID], sid) || !enc_slice_eq_cstr(r->text[ENC_COL_USER_ID], uid);
        bad += t ? !enc_slice_eq_cstr(r->text[ENC_COL_TITLE], t) : r->text[ENC_COL_TITLE].p != NULL;
        bad += c ? !enc_slice_eq_cstr(r->text[ENC_COL_COUNTRY], c) : r->text[ENC_COL_COUNTRY].p != NULL;
        bad += !enc_slice_eq_cstr(r->event_time, when);
        bad += k > 0 && r->rec <= b.rows[k - 1].rec; /* rows stay in record order */
    }
    T_CHECK(bad == 0);
}

/* A batch enriched in steps (records taken while the writer is busy): each step does
 * only its new records, and rows from the earlier steps keep valid record pointers. */
static void test_in_steps(void)
{
    enum { N = 3000 };
    static char text[N][128];
    enc_batch_reset(&b);
    enc_err err;
    size_t from = 0;
    for (int i = 0; i < N; i++) {
        snprintf(text[i], sizeof text[i], "{\"user_id\":\"U1\",\"song_id\":\"S2\",\"timestamp\":%d}", 1735689600 + i / 3);
        add(text[i], i + 1);
        if (i % 1000 == 999 || i == 10) {
            T_CHECK(enc_enrich_records(&ctx, &b, from, &err) == ENC_OK);
            from = b.nrecs;
            T_CHECK(b.nrows == from);
        }
    }
    int bad = 0;
    for (size_t k = 0; k < b.nrows; k++) {
        const enc_row *r = &b.rows[k];
        bad += r->rec != &b.recs[k] || r->rec->line != (int64_t)k + 1;
        bad += r->event_time_us != (INT64_C(1735689600) + (int64_t)k / 3) * ENC_US_PER_SEC;
        bad += !enc_slice_eq_cstr(r->text[ENC_COL_TITLE], "Two");
    }
    T_CHECK(bad == 0);
    T_CHECK(enc_enrich_records(&ctx, &b, b.nrecs, &err) == ENC_OK); /* nothing new */
    T_CHECK(b.nrows == N);
}

/* Enriching one record at a time: the row array's room at least doubles when it grows
 * (growing by just the new records copied every row made so far at every step). */
static void test_steps_grow_geometrically(void)
{
    enum { N = 3000 };
    static char text[N][96];
    enc_batch fresh;
    enc_batch_init(&fresh);
    enc_err err;
    int grew = 0, bad = 0;
    for (int i = 0; i < N; i++) {
        snprintf(text[i], sizeof text[i], "{\"user_id\":\"U1\",\"song_id\":\"S2\",\"timestamp\":%d}", 1735689600 + i);
        enc_record *r = enc_batch_add_record(&fresh);
        T_CHECK(r != NULL);
        if (!r)
            break;
        *r = (enc_record){.text = enc_slice_make(text[i], strlen(text[i])), .origin = "t", .origin_json = "\"t\"", .line = i + 1};
        size_t cap = fresh.cap_rows;
        bad += enc_enrich_records(&ctx, &fresh, (size_t)i, &err) != ENC_OK;
        grew += fresh.cap_rows != cap;
    }
    T_CHECK(bad == 0 && fresh.nrows == N);
    T_CHECK(grew <= 13); /* 1, 2, 4, ... 4096 */
    enc_batch_free(&fresh);
}

static void test_no_tables(void)
{
    enc_enrich_ctx none = {NULL, NULL};
    enc_err err;
    enc_batch_reset(&b);
    add("{\"user_id\":\"U1\",\"song_id\":\"S1\",\"timestamp\":\"2025-01-01\"}", 1);
    T_CHECK(enc_enrich_batch(&none, &b, &err) == ENC_OK);
    T_CHECK(b.nrows == 1 && b.rows[0].text[ENC_COL_TITLE].p == NULL && b.rows[0].text[ENC_COL_DEVICE].p == NULL);
}

static void test_reserve_rows(void)
{
    enc_batch_reset(&b);
    T_CHECK(enc_batch_reserve_rows(&b, 5000) == ENC_OK);
    T_CHECK(b.cap_rows >= 5000);
    enc_row *first = enc_batch_add_row(&b);
    for (int i = 1; i < 5000; i++)
        enc_batch_add_row(&b);
    T_CHECK(b.rows == first && b.nrows == 5000); /* never moved */
    T_CHECK(enc_batch_reserve_rows(&b, SIZE_MAX) == ENC_ERROR);
    T_CHECK(enc_batch_reserve_rows(&b, SIZE_MAX / 2) == ENC_ERROR);
    T_CHECK(b.nrows == 5000 && b.rows == first);
}

/* Out of memory at each allocation in turn: an error with a message, never a crash. */
static void test_out_of_memory(void)
{
    static char text[300][128];
    int errors = 0, oks = 0;
    for (long k = 0; k < 12; k++) {
        enc_batch fresh;
        enc_batch_init(&fresh);
        for (int i = 0; i < 300; i++) {
            snprintf(text[i], sizeof text[i],
                     "{\"user_id\":\"U1\",\"song_id\":\"S1\",\"timestamp\":\"2025-01-01T00:00:%02d\",\"x\":%d,\"y\":1}",
                     i % 60, i);
            enc_record *r = enc_batch_add_record(&fresh);
            *r = (enc_record){enc_slice_cstr(text[i]), "f", "\"f\"", i + 1, NULL};
        }
        enc_err err = {{0}};
        enc_alloc_fail_after(k);
        enc_status st = enc_enrich_batch(&ctx, &fresh, &err);
        enc_alloc_fail_after(-1);
        if (st == ENC_OK) {
            oks++;
            T_CHECK(fresh.nrows == 300);
        } else {
            errors++;
            T_CHECK(strstr(err.msg, "out of memory") != NULL);
        }
        enc_batch_free(&fresh);
    }
    T_CHECK(errors > 0 && oks > 0);
}

int main(void)
{
    setup();
    T_RUN(test_joins_and_device);
    T_RUN(test_rescued_json);
    T_RUN(test_quarantine_reasons);
    T_RUN(test_event_time_sequence);
    T_RUN(test_many_chunks);
    T_RUN(test_in_steps);
    T_RUN(test_steps_grow_geometrically);
    T_RUN(test_no_tables);
    T_RUN(test_reserve_rows);
    T_RUN(test_out_of_memory);
    teardown();
    return t_summary("enrich");
}

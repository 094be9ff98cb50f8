/* fuzz_csv — libFuzzer harness for the CSV reader and the dimension-table loaders.
 *
 * Reads every row of arbitrary input and checks the reader's promises (field counts and
 * sizes within limits, no NUL inside a field, lines increasing, end and error sticky),
 * then loads the input as songs.csv and users.csv and, when a load succeeds, checks that
 * every row is found by its own id and that ids are distinct and non-empty, and that the
 * users join finds each user's own values. Odd-sized
 * inputs load with a crippled hash so that the collision paths get fuzzed too. With
 * FUZZ_CSV_BIG=1 in the environment, one input in 16 (by size) is also loaded as users
 * behind 66,000 generated rows: a table that big is loaded with dim.c's helper thread (row
 * arrays faulted in, ids indexed beside the loader), and the fuzzed rows land where
 * repeats, blank lines and bad rows meet it. It is off by default: at ~0.5 s a run under
 * the sanitizers the fuzzer learns to pick such inputs and slows from ~13,000 runs/s to
 * ~200 (replay a crash with the variable set).
 * Seed corpus: fuzz/corpus/csv. Any broken invariant abort()s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "dim.h"

static void check(int ok)
{
    if (!ok)
        abort();
}

static void read_all(const uint8_t *data, size_t size)
{
    enc_csv *c;
    enc_err err;
    if (enc_csv_open_mem(&c, (const char *)data, size, &err) != ENC_OK)
        return;
    enc_csv_row row;
    int got;
    size_t last_line = 0;
    while ((got = enc_csv_next(c, &row, &err)) == 1) {
        check(row.nfields >= 1 && row.nfields <= ENC_CSV_MAX_FIELDS);
        check(row.line > last_line && row.line <= size + 1);
        last_line = row.line;
        for (size_t i = 0; i < row.nfields; i++) {
            check(row.fields[i].p != NULL);
            check(row.fields[i].n <= ENC_CSV_MAX_FIELD && row.fields[i].n <= size);
            check(memchr(row.fields[i].p, '\0', row.fields[i].n) == NULL);
        }
    }
    check(got == 0 || got == -1);
    if (got == -1)
        check(strncmp(err.msg, "line ", 5) == 0 || strstr(err.msg, "out of memory") != NULL);
    check(enc_csv_next(c, &row, &err) == got); /* end and error are sticky */
    enc_csv_close(c);
}

static void on_warn(void *arg, const char *msg)
{
    size_t *count = arg;
    check(msg != NULL && strlen(msg) < 1024);
    (*count)++;
}

static void check_ids(const enc_slice *id, const void *found, const void *row)
{
    check(id->p != NULL && id->n > 0);
    check(found == row);
}

static void check_users(const uint8_t *data, size_t size, size_t sample_below);

static void load_tables(const uint8_t *data, size_t size)
{
    enc_err err;
    size_t warnings = 0;
    enc_songs *s = NULL;
    if (enc_songs_load_mem(&s, (const char *)data, size, "fuzz", on_warn, &warnings, &err) == ENC_OK) {
        check(warnings <= ENC_DIM_MAX_WARNINGS + 1);
        for (size_t i = 0; i < enc_songs_count(s); i++) {
            const enc_song *r = enc_songs_at(s, i);
            check_ids(&r->song_id, enc_songs_get(s, r->song_id.p, r->song_id.n), r);
            check(r->duration >= -1);
            check(r->title.p == NULL || r->title.n > 0);
        }
        check(enc_songs_at(s, enc_songs_count(s)) == NULL);
        enc_songs_free(s);
    } else {
        check(s == NULL && err.msg[0] != '\0');
    }

    check_users(data, size, 0);
}

enum { BIG_ROWS = 66000 }; /* 64-byte rows: past the 4 MiB where the helper starts */

/* users.csv with BIG_ROWS generated users (a few profiles, ids u0000000 ...) and then the
 * fuzz input as more rows. */
static void load_big_users(const uint8_t *data, size_t size)
{
    static char *head;
    static size_t head_n;
    if (!head) {
        size_t cap = 64 + (size_t)BIG_ROWS * 32;
        head = malloc(cap);
        check(head != NULL);
        head_n = (size_t)snprintf(head, cap, "user_id,country,subscription,device\n");
        for (int i = 0; i < BIG_ROWS; i++)
            head_n += (size_t)snprintf(head + head_n, cap - head_n, "u%07d,c%d,%s,d\n", i, i % 5, i % 3 ? "f" : "p");
    }
    char *buf = malloc(head_n + size);
    check(buf != NULL);
    memcpy(buf, head, head_n);
    memcpy(buf + head_n, data, size);
    check_users((const uint8_t *)buf, head_n + size, BIG_ROWS - 64);
    free(buf);
}

/* Checks every user row, but below row sample_below only every 61st (the generated ones). */
static void check_users(const uint8_t *data, size_t size, size_t sample_below)
{
    enc_err err;
    size_t warnings = 0;
    enc_users *u = NULL;
    if (enc_users_load_mem(&u, (const char *)data, size, "fuzz", on_warn, &warnings, &err) == ENC_OK) {
        check(warnings <= ENC_DIM_MAX_WARNINGS + 1);
        for (size_t i = 0; i < enc_users_count(u); i += i < sample_below ? 61 : 1) {
            const enc_user *r = enc_users_at(u, i);
            check_ids(&r->user_id, enc_users_get(u, r->user_id.p, r->user_id.n), r);
            check(r->country.p == NULL || r->country.n > 0);
            /* A near miss must not find this row. */
            if (r->user_id.n > 1)
                check(enc_users_get(u, r->user_id.p, r->user_id.n - 1) != r);
            /* The join finds the same three values (the very same bytes: interned). */
            const enc_user *j = NULL;
            enc_users_join_many(u, &r->user_id, 1, &j);
            check(j != NULL && (j == r || j->user_id.p == NULL));
            check(j->country.p == r->country.p && j->country.n == r->country.n);
            check(j->subscription.p == r->subscription.p && j->subscription.n == r->subscription.n);
            check(j->device.p == r->device.p && j->device.n == r->device.n);
        }
        enc_users_free(u);
    } else {
        check(u == NULL && err.msg[0] != '\0');
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    read_all(data, size);
    /* Odd-sized inputs load with 3-bit hashes: every id collides, probe runs are long. */
    enc_dim_test_hash_bits(size & 1 ? 3 : 0);
    load_tables(data, size);
    enc_dim_test_hash_bits(0);
    static int big = -1;
    if (big < 0)
        big = getenv("FUZZ_CSV_BIG") != NULL;
    if (big && size % 16 == 1)
        load_big_users(data, size);
    return 0;
}

/* test_dim — the songs and users tables (header matching, NULLs, durations, duplicate
 * and short rows, every warning and error text, lookups that share hashes and
 * prefixes, 100k generated rows, allocation failures) and the hash they are built on. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "csv.h"
#include "dim.h"
#include "harness.h"
#include "hash.h"

/* Collects warnings, one per line. */
typedef struct {
    char text[1 << 15];
    size_t len;
    int count;
} warnings;

static void collect(void *arg, const char *msg)
{
    warnings *w = arg;
    w->count++;
    int n = snprintf(w->text + w->len, sizeof w->text - w->len, "%s\n", msg);
    if (n > 0 && (size_t)n < sizeof w->text - w->len)
        w->len += (size_t)n;
}

static enc_songs *songs_from(const char *csv, warnings *w, enc_err *err)
{
    enc_songs *t = NULL;
    if (w)
        memset(w, 0, sizeof *w);
    enc_songs_load_mem(&t, csv, strlen(csv), "songs.csv", w ? collect : NULL, w, err);
    return t;
}

static enc_users *users_from(const char *csv, warnings *w, enc_err *err)
{
    enc_users *t = NULL;
    if (w)
        memset(w, 0, sizeof *w);
    enc_users_load_mem(&t, csv, strlen(csv), "users.csv", w ? collect : NULL, w, err);
    return t;
}

static const enc_song *song(const enc_songs *t, const char *id)
{
    return enc_songs_get(t, id, strlen(id));
}

static const enc_user *user(const enc_users *t, const char *id)
{
    return enc_users_get(t, id, strlen(id));
}

/* ---- hash ---- */

static void test_hash_basics(void)
{
    const char *k = "U000123";
    uint64_t h = enc_hash_bytes(k, 7, 0);
    T_CHECK(h == enc_hash_bytes(k, 7, 0));
    T_CHECK(h != enc_hash_bytes(k, 7, 1));
    T_CHECK(h != enc_hash_bytes(k, 6, 0));
    T_CHECK(enc_hash_bytes(NULL, 0, 0) == enc_hash_bytes("", 0, 0));
    T_CHECK(enc_hash_bytes(NULL, 0, 0) != enc_hash_bytes(NULL, 0, 1));

    /* The same bytes at every alignment and every length up to 100 hash the same. */
    char buf[128], key[101];
    for (int i = 0; i < 101; i++)
        key[i] = (char)('a' + i % 26);
    int same = 1;
    for (size_t n = 0; n <= 100; n++) {
        uint64_t want = enc_hash_bytes(key, n, 42);
        for (size_t off = 1; off < 8; off++) {
            memcpy(buf + off, key, n);
            same &= enc_hash_bytes(buf + off, n, 42) == want;
        }
    }
    T_CHECK(same);

    /* Keys that differ in one byte, or only in length, or by a trailing NUL, differ. */
    int distinct = 1;
    for (size_t n = 1; n <= 100; n++) {
        uint64_t base = enc_hash_bytes(key, n, 7);
        distinct &= base != enc_hash_bytes(key, n - 1, 7);
        for (size_t i = 0; i < n; i++) {
            key[i] ^= 1;
            distinct &= base != enc_hash_bytes(key, n, 7);
            key[i] ^= 1;
        }
    }
    T_CHECK(distinct);
    T_CHECK(enc_hash_bytes("U1", 2, 0) != enc_hash_bytes("U1\0", 3, 0));
}

/* Every output bit is set about half the time over sequential ids, and flipping any
 * one input bit flips each output bit about half the time. Bounds are ~6 sigma. */
static void test_hash_quality(void)
{
    enum { N = 1 << 16 };
    int ones[64] = {0};
    static uint8_t low[1 << 12], high[1 << 12];
    memset(low, 0, sizeof low);
    memset(high, 0, sizeof high);
    uint64_t all_or = 0, all_and = ~(uint64_t)0;
    for (int i = 0; i < N; i++) {
        char k[16];
        int n = snprintf(k, sizeof k, "U%06d", i);
        uint64_t h = enc_hash_bytes(k, (size_t)n, 0);
        for (int b = 0; b < 64; b++)
            ones[b] += (int)(h >> b & 1);
        low[h & 4095] = 1;
        high[h >> 52] = 1;
        all_or |= h;
        all_and &= h;
    }
    int balanced = 1;
    for (int b = 0; b < 64; b++)
        balanced &= ones[b] > N / 2 - 800 && ones[b] < N / 2 + 800;
    T_CHECK(balanced);
    T_CHECK(all_or == ~(uint64_t)0 && all_and == 0);
    int low_used = 0, high_used = 0;
    for (int i = 0; i < 4096; i++) {
        low_used += low[i];
        high_used += high[i];
    }
    /* 65536 balls in 4096 bins leave ~0 empty. */
    T_CHECK(low_used > 4090 && high_used > 4090);

    uint64_t x = 0x243f6a8885a308d3ull;
    int worst = 0;
    enum { T = 4000 };
    for (size_t len = 1; len <= 24; len += 1) {
        int flips[24 * 8][64];
        memset(flips, 0, sizeof flips);
        for (int t = 0; t < T; t++) {
            unsigned char k[24];
            for (size_t i = 0; i < len; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                k[i] = (unsigned char)x;
            }
            uint64_t h = enc_hash_bytes(k, len, 99);
            for (size_t bit = 0; bit < len * 8; bit++) {
                k[bit / 8] ^= (unsigned char)(1u << (bit % 8));
                uint64_t d = h ^ enc_hash_bytes(k, len, 99);
                k[bit / 8] ^= (unsigned char)(1u << (bit % 8));
                for (int o = 0; o < 64; o++)
                    flips[bit][o] += (int)(d >> o & 1);
            }
        }
        if (len == 1) /* only 256 distinct keys: too few to measure */
            continue;
        for (size_t bit = 0; bit < len * 8; bit++)
            for (int o = 0; o < 64; o++) {
                int dev = abs(flips[bit][o] - T / 2);
                if (dev > worst)
                    worst = dev;
            }
    }
    T_CHECK(worst < T / 2 * 12 / 100); /* bias under 0.06; noise gives ~0.03 */
}

/* ---- loading ---- */

static void test_songs_basic(void)
{
    enc_err err;
    warnings w;
    enc_songs *t = songs_from("song_id,title,artist,genre,duration\n"
                              "S001,Intro,The Band,rock,180\n"
                              "S002,\"Hello, World\",Someone,pop,215\n"
                              "S003,\"She said \"\"hi\"\"\",The Band,rock,\n"
                              "S004,,,,\n"
                              "S005,Long,\"The Band\",Rock, 42 \n",
                              &w, &err);
    T_CHECK(t != NULL);
    if (!t)
        return;
    T_CHECK(w.count == 0);
    T_CHECK(enc_songs_count(t) == 5);
    const enc_song *s = song(t, "S002");
    T_CHECK(s != NULL);
    T_CHECK_MEM(s->song_id.p, s->song_id.n, "S002");
    T_CHECK_MEM(s->title.p, s->title.n, "Hello, World");
    T_CHECK_MEM(s->artist.p, s->artist.n, "Someone");
    T_CHECK_MEM(s->genre.p, s->genre.n, "pop");
    T_CHECK(s->duration == 215);
    s = song(t, "S003");
    T_CHECK_MEM(s->title.p, s->title.n, "She said \"hi\"");
    T_CHECK(s->duration == -1);
    s = song(t, "S004");
    T_CHECK(s->title.p == NULL && s->artist.p == NULL && s->genre.p == NULL && s->duration == -1);
    s = song(t, "S005");
    T_CHECK(s->duration == 42);
    T_CHECK_MEM(s->genre.p, s->genre.n, "Rock"); /* values are kept as written */

    /* Repeated values are stored once. */
    T_CHECK(song(t, "S001")->artist.p == song(t, "S003")->artist.p);
    T_CHECK(song(t, "S001")->artist.p == song(t, "S005")->artist.p);
    T_CHECK(song(t, "S001")->genre.p == song(t, "S003")->genre.p);
    T_CHECK(song(t, "S001")->genre.p != song(t, "S005")->genre.p);

    /* Iteration in file order, and every row is found by its id. */
    const char *order[] = {"S001", "S002", "S003", "S004", "S005"};
    for (size_t i = 0; i < 5; i++) {
        const enc_song *r = enc_songs_at(t, i);
        T_CHECK_MEM(r->song_id.p, r->song_id.n, order[i]);
        T_CHECK(enc_songs_get(t, r->song_id.p, r->song_id.n) == r);
    }
    T_CHECK(enc_songs_at(t, 5) == NULL);
    enc_songs_free(t);
}

static void test_header_any_order_and_extras(void)
{
    enc_err err;
    warnings w;
    enc_songs *t = songs_from(" Duration ,extra,GENRE,\tTitle\t, artist,song_id,more\n"
                              "200,x,jazz,So What,Miles,S9,y\n",
                              &w, &err);
    T_CHECK(t != NULL);
    if (!t)
        return;
    T_CHECK(w.count == 0);
    const enc_song *s = song(t, "S9");
    T_CHECK(s && s->duration == 200);
    T_CHECK_MEM(s->title.p, s->title.n, "So What");
    T_CHECK_MEM(s->artist.p, s->artist.n, "Miles");
    T_CHECK_MEM(s->genre.p, s->genre.n, "jazz");
    enc_songs_free(t);

    enc_users *u = users_from("\xEF\xBB\xBF" "device,subscription,country,user_id\r\nweb,free,US,U1\r\n", &w, &err);
    T_CHECK(u != NULL);
    const enc_user *r = user(u, "U1");
    T_CHECK(r != NULL);
    if (r) {
        T_CHECK_MEM(r->country.p, r->country.n, "US");
        T_CHECK_MEM(r->subscription.p, r->subscription.n, "free");
        T_CHECK_MEM(r->device.p, r->device.n, "web");
    }
    enc_users_free(u);
}

static void test_header_errors(void)
{
    enc_err err;
    enc_songs *t = songs_from("song_id,title,artist,duration\nS1,a,b,1\n", NULL, &err);
    T_CHECK(t == NULL);
    T_CHECK_STR(err.msg, "songs.csv 'songs.csv' has no column 'genre' (needs song_id,title,artist,genre,duration)");

    enc_users *u = users_from("user_id,country,device\n", NULL, &err);
    T_CHECK(u == NULL);
    T_CHECK_STR(err.msg,
                "users.csv 'users.csv' has no column 'subscription' (needs user_id,country,subscription,device)");

    t = songs_from("song_id,title,artist,genre,duration,Genre\n", NULL, &err);
    T_CHECK(t == NULL);
    T_CHECK_STR(err.msg, "songs.csv 'songs.csv' has column 'genre' twice (fields 4 and 6 of the header)");

    const char *empties[] = {"", "\n\n", "\xEF\xBB\xBF", "  \r\n"};
    for (size_t i = 0; i < 4; i++) {
        t = songs_from(empties[i], NULL, &err);
        T_CHECK(t == NULL);
        T_CHECK_STR(err.msg, "songs.csv 'songs.csv' is empty (needs a header row: song_id,title,artist,genre,duration)");
    }

    /* A header only: an empty table, not an error. */
    t = songs_from("song_id,title,artist,genre,duration\n", NULL, &err);
    T_CHECK(t != NULL && enc_songs_count(t) == 0);
    T_CHECK(song(t, "S1") == NULL);
    enc_songs_free(t);

    /* A CSV syntax error carries the table, the path and the line. */
    t = songs_from("song_id,title,artist,genre,duration\nS1,a,b,c,1\nS2,\"open,b,c,1\n", NULL, &err);
    T_CHECK(t == NULL);
    T_CHECK_STR(err.msg, "songs.csv 'songs.csv': line 3: quoted field never closed");
    t = songs_from("song_id,title\"\n", NULL, &err);
    T_CHECK(t == NULL);
    T_CHECK(strncmp(err.msg, "songs.csv 'songs.csv': line 1: stray '\"' in unquoted field 2", 60) == 0);

    enc_songs_load(&t, "/nonexistent/songs.csv", NULL, NULL, &err);
    T_CHECK(t == NULL);
    T_CHECK_STR(err.msg, "songs.csv: cannot open '/nonexistent/songs.csv': No such file or directory");
}

static void test_duplicates_last_wins(void)
{
    enc_err err;
    warnings w;
    enc_songs *t = songs_from("song_id,title,artist,genre,duration\n"
                              "S000,zero,a,g,1\n"
                              "S001,first,a,g,10\n"
                              "S002,other,b,g,20\n"
                              "S001,second,c,h,30\n"
                              "\n"
                              "S001,third,,h,\n",
                              &w, &err);
    T_CHECK(t != NULL);
    if (!t)
        return;
    T_CHECK(enc_songs_count(t) == 3);
    const enc_song *s = song(t, "S001");
    T_CHECK_MEM(s->title.p, s->title.n, "third");
    T_CHECK(s->artist.p == NULL && s->duration == -1); /* the whole row is replaced */
    T_CHECK(enc_songs_at(t, 1) == s);                  /* in the place of the first */
    T_CHECK_STR(w.text, "songs.csv:5: duplicate song_id 'S001' (first at line 3); the last row wins\n"
                        "songs.csv:7: duplicate song_id 'S001' (first at line 3); the last row wins\n");
    for (size_t i = 0; i < enc_songs_count(t); i++) {
        const enc_song *r = enc_songs_at(t, i);
        T_CHECK(enc_songs_get(t, r->song_id.p, r->song_id.n) == r);
    }
    enc_songs_free(t);

    enc_users *u = users_from("user_id,country,subscription,device\nU1,US,free,web\nU1,DE,premium,tv\n", &w, &err);
    T_CHECK(u && enc_users_count(u) == 1);
    T_CHECK_MEM(user(u, "U1")->country.p, user(u, "U1")->country.n, "DE");
    T_CHECK_STR(w.text, "users.csv:3: duplicate user_id 'U1' (first at line 2); the last row wins\n");
    enc_users_free(u);

    /* Odd bytes in an id are escaped in the message. */
    u = users_from("user_id,country,subscription,device\n\"a'\nb\",US,,\n\"a'\nb\",GB,,\n", &w, &err);
    T_CHECK(u && enc_users_count(u) == 1);
    T_CHECK_STR(w.text, "users.csv:4: duplicate user_id 'a\\x27\\x0ab' (first at line 2); the last row wins\n");
    enc_users_free(u);
}

static void test_durations(void)
{
    enc_err err;
    warnings w;
    enc_songs *t = songs_from("song_id,title,artist,genre,duration\n"
                              "A,,,,0\n"
                              "B,,,,007\n"
                              "C,,,, 42\t\n"
                              "D,,,,2147483647\n"
                              "E,,,,2147483648\n"
                              "F,,,,abc\n"
                              "G,,,,-1\n"
                              "H,,,,1.5\n"
                              "I,,,,+3\n"
                              "J,,,,4 2\n"
                              "K,,,,   \n"
                              "L,,,,\"\"\n"
                              "M,,,,99999999999999999999999\n",
                              &w, &err);
    T_CHECK(t != NULL);
    if (!t)
        return;
    struct {
        const char *id;
        int32_t want;
    } cases[] = {{"A", 0},  {"B", 7},  {"C", 42}, {"D", 2147483647}, {"E", -1}, {"F", -1}, {"G", -1},
                 {"H", -1}, {"I", -1}, {"J", -1}, {"K", -1},         {"L", -1}, {"M", -1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const enc_song *s = song(t, cases[i].id);
        T_CHECK(s != NULL && s->duration == cases[i].want);
    }
    T_CHECK_STR(w.text,
                "songs.csv:6: duration '2147483648' is out of range (more than 2147483647 seconds); stored as NULL\n"
                "songs.csv:7: duration 'abc' is not a whole number of seconds; stored as NULL\n"
                "songs.csv:8: duration '-1' is not a whole number of seconds; stored as NULL\n"
                "songs.csv:9: duration '1.5' is not a whole number of seconds; stored as NULL\n"
                "songs.csv:10: duration '+3' is not a whole number of seconds; stored as NULL\n"
                "songs.csv:11: duration '4 2' is not a whole number of seconds; stored as NULL\n"
                "songs.csv:14: duration '99999999999999999999999' is out of range (more than 2147483647 seconds); "
                "stored as NULL\n");
    enc_songs_free(t);
}

static void test_short_long_and_idless_rows(void)
{
    enc_err err;
    warnings w;
    enc_songs *t = songs_from("song_id,title,artist,genre,duration\n"
                              "S1,only title\n"
                              ",no id,a,g,1\n"
                              "  \n"
                              "S2,t,a,g,5,extra,data\n"
                              "S3,t,a,g,6,,\n"
                              "\"\",quoted empty id,a,g,1\n",
                              &w, &err);
    T_CHECK(t != NULL);
    if (!t)
        return;
    T_CHECK(enc_songs_count(t) == 3);
    const enc_song *s = song(t, "S1");
    T_CHECK(s && s->artist.p == NULL && s->genre.p == NULL && s->duration == -1);
    T_CHECK_MEM(s->title.p, s->title.n, "only title");
    T_CHECK(song(t, "S2") && song(t, "S2")->duration == 5);
    T_CHECK(song(t, "S3") && song(t, "S3")->duration == 6);
    T_CHECK_STR(w.text, "songs.csv:2: row has 2 fields, the header has 5; the missing ones are NULL\n"
                        "songs.csv:3: empty song_id; row skipped\n"
                        "songs.csv:5: row has 7 fields, the header has 5; the extra ones are ignored\n"
                        "songs.csv:7: empty song_id; row skipped\n");
    enc_songs_free(t);

    /* The id column past the end of a short row counts as empty. */
    t = songs_from("title,artist,genre,duration,song_id\nt,a\n", &w, &err);
    T_CHECK(t && enc_songs_count(t) == 0);
    T_CHECK_STR(w.text, "songs.csv:2: empty song_id; row skipped\n");
    enc_songs_free(t);
}

static void test_warning_cap(void)
{
    size_t cap = 64 + 200 * 32;
    char *csv = malloc(cap);
    size_t o = (size_t)snprintf(csv, cap, "song_id,title,artist,genre,duration\n");
    for (int i = 0; i < 150; i++)
        o += (size_t)snprintf(csv + o, cap - o, "S%d,t,a,g,x\n", i);
    enc_err err;
    warnings w;
    enc_songs *t = songs_from(csv, &w, &err);
    T_CHECK(t && enc_songs_count(t) == 150);
    T_CHECK(w.count == ENC_DIM_MAX_WARNINGS + 1);
    T_CHECK(strstr(w.text, "songs.csv: 50 more warnings not shown\n") != NULL);
    enc_songs_free(t);
    free(csv);
}

/* ---- lookups ---- */

static void test_lookup_edges(void)
{
    enc_err err;
    enc_users *u = users_from("user_id,country,subscription,device\n"
                              "U1,a,,\nU12,b,,\nU1234567,c,,\nU12345678,d,,\nU123456789,e,,\n"
                              "user-000000000001,f,,\nuser-000000000002,g,,\nuser-0000000000021,h,,\n"
                              "\xC3\xA9t\xC3\xA9,i,,\n",
                              NULL, &err);
    T_CHECK(u != NULL);
    if (!u)
        return;
    const char *ids[] = {"U1", "U12", "U1234567", "U12345678", "U123456789", "user-000000000001",
                         "user-000000000002", "user-0000000000021", "\xC3\xA9t\xC3\xA9"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        const enc_user *r = user(u, ids[i]);
        T_CHECK(r != NULL && r->country.n == 1 && r->country.p[0] == (char)('a' + i));
    }
    const char *misses[] = {"U", "U2", "U123", "U123456", "U12345679", "U1234567890", "u1", "user-00000000000",
                            "user-000000000003", "user-0000000000001", "user-0000000000022", "U1 ", " U1"};
    for (size_t i = 0; i < sizeof misses / sizeof misses[0]; i++)
        T_CHECK(user(u, misses[i]) == NULL);
    T_CHECK(enc_users_get(u, "U1\0", 3) == NULL); /* a trailing NUL is part of the key */
    T_CHECK(enc_users_get(u, "U12", 2) == user(u, "U1"));
    T_CHECK(enc_users_get(u, "", 0) == NULL);
    T_CHECK(enc_users_get(u, NULL, 0) == NULL);
    T_CHECK(enc_users_get(NULL, "U1", 2) == NULL);
    T_CHECK(enc_users_count(NULL) == 0 && enc_users_at(NULL, 0) == NULL);

    /* The key need not be NUL-terminated nor aligned. */
    char buf[32] = "xxU12345678yy";
    T_CHECK(enc_users_get(u, buf + 2, 9) == user(u, "U12345678"));
    enc_users_free(u);
    enc_users_free(NULL);
    enc_songs_free(NULL);
}

/* With only 2 bits of hash, every key of a length shares its tag and most share their
 * slot run, so lookups must rely on the prefix and full compares. */
static void test_lookup_shared_hashes(void)
{
    enum { N = 600 };
    size_t cap = 64 + N * 48;
    char *csv = malloc(cap);
    size_t o = (size_t)snprintf(csv, cap, "user_id,country,subscription,device\n");
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0)
            o += (size_t)snprintf(csv + o, cap - o, "%d,c%d,,\n", i, i); /* short */
        else if (i % 3 == 1)
            o += (size_t)snprintf(csv + o, cap - o, "U%07d,c%d,,\n", i, i); /* 8 bytes */
        else
            o += (size_t)snprintf(csv + o, cap - o, "prefix-shared-%d,c%d,,\n", i, i); /* long, same start */
    }
    for (unsigned bits = 0; bits <= 8; bits += 2) {
        enc_dim_test_hash_bits(bits);
        enc_err err;
        warnings w;
        enc_users *u = users_from(csv, &w, &err);
        T_CHECK(u != NULL && enc_users_count(u) == N && w.count == 0);
        if (!u)
            continue;
        int all = 1;
        for (int i = 0; i < N; i++) {
            char id[40], want[16];
            if (i % 3 == 0)
                snprintf(id, sizeof id, "%d", i);
            else if (i % 3 == 1)
                snprintf(id, sizeof id, "U%07d", i);
            else
                snprintf(id, sizeof id, "prefix-shared-%d", i);
            snprintf(want, sizeof want, "c%d", i);
            const enc_user *r = user(u, id);
            all &= r != NULL && enc_slice_eq_cstr(r->country, want) && r == enc_users_at(u, (size_t)i);
            /* Misses that look alike. */
            char miss[48];
            snprintf(miss, sizeof miss, "%s!", id);
            all &= user(u, miss) == NULL;
            snprintf(miss, sizeof miss, "!%s", id);
            all &= user(u, miss) == NULL;
            snprintf(miss, sizeof miss, "prefix-shared-%d", i + N);
            all &= user(u, miss) == NULL;
        }
        T_CHECK(all);
        /* A duplicate under shared hashes is still found and folded. */
        enc_users_free(u);
        u = users_from("user_id,country,subscription,device\nabcdefghij,1,,\nabcdefghik,2,,\nabcdefghij,3,,\n", &w,
                       &err);
        T_CHECK(u && enc_users_count(u) == 2 && w.count == 1);
        T_CHECK(u && enc_slice_eq_cstr(user(u, "abcdefghij")->country, "3"));
        T_CHECK(u && enc_slice_eq_cstr(user(u, "abcdefghik")->country, "2"));
        enc_users_free(u);
    }
    enc_dim_test_hash_bits(0);
    free(csv);
}

static void test_100k_rows(void)
{
    enum { N = 100000 };
    size_t cap = 64 + (size_t)N * 64;
    char *csv = malloc(cap);
    size_t o = (size_t)snprintf(csv, cap, "song_id,title,artist,genre,duration\n");
    for (int i = 0; i < N; i++)
        o += (size_t)snprintf(csv + o, cap - o, "S%06d,\"Title %d, part %d\",Artist %d,genre%d,%d\n", i, i, i % 7,
                              i % 997, i % 23, i % 600);
    enc_songs *t = NULL;
    enc_err err;
    T_CHECK(enc_songs_load_mem(&t, csv, o, "gen.csv", NULL, NULL, &err) == ENC_OK);
    free(csv);
    if (!t)
        return;
    T_CHECK(enc_songs_count(t) == N);
    int all = 1;
    for (int i = 0; i < N; i++) {
        char id[16], miss[16], title[48];
        snprintf(id, sizeof id, "S%06d", i);
        snprintf(miss, sizeof miss, "T%06d", i);
        snprintf(title, sizeof title, "Title %d, part %d", i, i % 7);
        const enc_song *s = song(t, id);
        all &= s != NULL && enc_slice_eq_cstr(s->title, title) && s->duration == i % 600;
        all &= song(t, miss) == NULL;
        all &= s == enc_songs_at(t, (size_t)i);
    }
    T_CHECK(all);
    /* The batched lookup finds what the single one finds: every id, a miss after each,
     * an empty id at the end. */
    enum { M = 2 * N + 1 };
    enc_slice *ids = calloc(M, sizeof *ids);
    const enc_song **plain = calloc(M, sizeof *plain);
    char (*keys)[16] = calloc(M, sizeof *keys);
    for (int i = 0; i < M - 1; i++) {
        snprintf(keys[i], sizeof keys[i], "%c%06d", i % 2 ? 'T' : 'S', i / 2);
        ids[i] = enc_slice_make(keys[i], 7);
    }
    ids[M - 1] = enc_slice_make("", 0);
    enc_songs_get_many(t, ids, M, plain);
    int agree = 1;
    for (int i = 0; i < M; i++) {
        const enc_song *want = i % 2 || i == M - 1 ? NULL : enc_songs_at(t, (size_t)i / 2);
        agree &= plain[i] == want;
    }
    T_CHECK(agree);
    /* No table: nothing found. */
    plain[0] = (const enc_song *)1;
    enc_songs_get_many(NULL, ids, 1, plain);
    T_CHECK(plain[0] == NULL);
    free(ids);
    free(plain);
    free(keys);
    /* 997 distinct artists are stored once each. */
    T_CHECK(song(t, "S000997")->artist.p == song(t, "S000000")->artist.p);
    T_CHECK(song(t, "S001994")->artist.p == song(t, "S000000")->artist.p);
    enc_songs_free(t);
}

/* Values of every size, up to the CSV field limit, land intact next to small ones. */
static void test_big_values(void)
{
    size_t sizes[] = {1, 5000, 3, 70000, 2, ENC_CSV_MAX_FIELD, 4, 300000, 9};
    size_t nsizes = sizeof sizes / sizeof sizes[0], cap = 64;
    for (size_t i = 0; i < nsizes; i++)
        cap += sizes[i] + 32;
    char *csv = malloc(cap);
    size_t o = (size_t)snprintf(csv, cap, "song_id,title,artist,genre,duration\n");
    for (size_t i = 0; i < nsizes; i++) {
        o += (size_t)snprintf(csv + o, cap - o, "S%zu,", i);
        memset(csv + o, (int)('a' + i), sizes[i]);
        o += sizes[i];
        o += (size_t)snprintf(csv + o, cap - o, ",x,y,%zu\n", i);
    }
    enc_songs *t = NULL;
    enc_err err;
    T_CHECK(enc_songs_load_mem(&t, csv, o, "big", NULL, NULL, &err) == ENC_OK);
    free(csv);
    if (!t)
        return;
    int intact = 1;
    for (size_t i = 0; i < nsizes; i++) {
        char id[16];
        snprintf(id, sizeof id, "S%zu", i);
        const enc_song *s = song(t, id);
        intact &= s != NULL && s->title.n == sizes[i] && s->duration == (int32_t)i;
        for (size_t k = 0; s && k < s->title.n; k++)
            intact &= s->title.p[k] == (char)('a' + i);
        intact &= s != NULL && enc_slice_eq_cstr(s->artist, "x") && enc_slice_eq_cstr(s->genre, "y");
    }
    T_CHECK(intact);
    enc_songs_free(t);
}

/* Joining users: the same three columns as enc_users_get, from records shared by users
 * with equal values (user_id NULL); NULL for ids not there; also with colliding hashes, and
 * when nearly every user has values of its own (no profiles: the rows themselves). */
/* The very same bytes (interned values are stored once), or both NULL. */
static int same(enc_slice a, enc_slice b)
{
    return a.p == b.p && a.n == b.n;
}

static void check_join_many(const char *csv, int n, int shared, int want_shared)
{
    enc_err err;
    enc_users *u = users_from(csv, NULL, &err);
    T_CHECK(u != NULL && enc_users_count(u) == (size_t)n);
    if (!u)
        return;
    enc_slice *ids = calloc((size_t)n + 2, sizeof *ids);
    const enc_user **out = calloc((size_t)n + 2, sizeof *out);
    for (int i = 0; i < n; i++)
        ids[i] = enc_users_at(u, (size_t)i)->user_id;
    ids[n] = enc_slice_make("nobody", 6);
    ids[n + 1] = ENC_SLICE_NULL;
    enc_users_join_many(u, ids, (size_t)n + 2, out);
    int bad = 0, sharing = 0;
    for (int i = 0; i < n; i++) {
        const enc_user *r = enc_users_at(u, (size_t)i), *j = out[i];
        if (!j) {
            bad++;
            continue;
        }
        bad += !same(j->country, r->country) || !same(j->subscription, r->subscription) || !same(j->device, r->device);
        bad += j != r && j->user_id.p != NULL;
        sharing += i >= shared && j == out[i - shared];
    }
    T_CHECK(bad == 0);
    T_CHECK(out[n] == NULL && out[n + 1] == NULL);
    T_CHECK(want_shared ? sharing >= n - shared - 1 : sharing == 0);
    free(ids);
    free(out);
    enc_users_free(u);
}

static void test_join_many(void)
{
    enum { N = 3000 };
    size_t cap = 64 + N * 64;
    char *few = malloc(cap), *own = malloc(cap);
    size_t o = (size_t)snprintf(few, cap, "user_id,country,subscription,device\n");
    size_t q = (size_t)snprintf(own, cap, "user_id,country,subscription,device\n");
    for (int i = 0; i < N; i++) {
        /* 7 profiles, in turn; one with NULLs */
        static const char *const c[] = {"BR", "GB", "", "US", "BR", "DE", "FR"};
        o += (size_t)snprintf(few + o, cap - o, "U%07d,%s,%s,%s\n", i, c[i % 7], i % 7 == 2 ? "" : "free",
                              i % 7 == 2 ? "" : i % 7 == 4 ? "tv" : "mobile");
        q += (size_t)snprintf(own + q, cap - q, "user-with-a-long-id-%d,c%d,free,tv\n", i, i);
    }
    for (unsigned bits = 0; bits <= 4; bits += 4) {
        enc_dim_test_hash_bits(bits);
        check_join_many(few, N, 7, 1);
        check_join_many(own, N, 1, 0);
    }
    enc_dim_test_hash_bits(0);
    free(few);
    free(own);
    const enc_user *none[1] = {(const enc_user *)1};
    enc_slice id = enc_slice_make("U1", 2);
    enc_users_join_many(NULL, &id, 1, none);
    T_CHECK(none[0] == NULL);
}

/* A users table big enough for the loader's helper thread (rows faulted in from the back,
 * the index zeroed in advance) and for join profiles numbered as rows are read: every
 * user's join gives its own values, shared between users, repeated ids keep the last row's
 * values (and its profile); with many blank lines the index allocated for the line count
 * is not the one needed, and is replaced. */
static void check_big_users(int n, int dups, int blanks, int dups_after)
{
    static const char *const c[] = {"BR", "GB", "", "US", "DE", "FR"};
    size_t cap = 64 + (size_t)(n + dups) * 48 + (size_t)blanks * 2;
    char *csv = malloc(cap);
    size_t o = (size_t)snprintf(csv, cap, "user_id,country,subscription,device\n");
    for (int k = 0; k < n + dups; k++) {
        /* rows 0..n-1 in order, the repeats (row i = n + j repeats id j) before row dups_after */
        int i = k < dups_after ? k : k < dups_after + dups ? n + k - dups_after : k - dups;
        int id = i < n ? i : i - n, v = i < n ? i : i + 1;
        o += (size_t)snprintf(csv + o, cap - o, "U%07d,%s,%s,%s\n", id, c[v % 6], v % 5 ? "free" : "premium",
                              v % 2 ? "tv" : "mobile");
        if (k < blanks)
            o += (size_t)snprintf(csv + o, cap - o, "\n");
    }
    warnings w;
    enc_err err;
    enc_users *u = users_from(csv, &w, &err);
    free(csv);
    T_CHECK(u != NULL && enc_users_count(u) == (size_t)n);
    T_CHECK(w.count == (dups > ENC_DIM_MAX_WARNINGS ? ENC_DIM_MAX_WARNINGS + 1 : dups));
    if (!u)
        return;
    enc_slice *ids = calloc((size_t)n, sizeof *ids);
    const enc_user **out = calloc((size_t)n, sizeof *out);
    char (*keys)[16] = calloc((size_t)n, sizeof *keys);
    for (int i = 0; i < n; i++) {
        snprintf(keys[i], sizeof keys[i], "U%07d", i);
        ids[i] = enc_slice_make(keys[i], 8);
    }
    enc_users_join_many(u, ids, (size_t)n, out);
    int bad = 0, shared = 0;
    for (int i = 0; i < n; i++) {
        const enc_user *r = enc_users_get(u, keys[i], 8), *j = out[i];
        int v = i < dups ? n + i + 1 : i;
        if (!r || !j || r != enc_users_at(u, (size_t)i)) {
            bad++;
            continue;
        }
        bad += !enc_slice_eq_cstr(r->country, c[v % 6]) && !(r->country.p == NULL && c[v % 6][0] == 0);
        bad += !enc_slice_eq_cstr(r->subscription, v % 5 ? "free" : "premium");
        bad += !same(j->country, r->country) || !same(j->subscription, r->subscription) || !same(j->device, r->device);
        shared += j->user_id.p == NULL;
    }
    T_CHECK(bad == 0);
    T_CHECK(shared == n); /* 60 profiles: all joins through them */
    free(ids);
    free(out);
    free(keys);
    enc_users_free(u);
}

static void test_big_users(void)
{
    /* repeats at the end (the loader finds them), or early (the helper may) */
    check_big_users(100000, 0, 0, 100000);
    check_big_users(100000, 10, 0, 100000);
    check_big_users(100000, 10, 0, 9000);
    check_big_users(70000, 0, 50000, 70000);
    check_big_users(70000, 3, 50000, 20000);
}

static void test_load_file(void)
{
    char path[] = "/tmp/encore_test_dim_XXXXXX";
    int fd = mkstemp(path);
    T_CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("user_id,country,subscription,device\nU1,US,free,web\nU2,US,premium,tv\nU1,GB,free,web\n", f);
    fclose(f);
    enc_users *u = NULL;
    enc_err err;
    warnings w;
    memset(&w, 0, sizeof w);
    T_CHECK(enc_users_load(&u, path, collect, &w, &err) == ENC_OK);
    T_CHECK(enc_users_count(u) == 2);
    T_CHECK(user(u, "U1")->country.p == user(u, "U2")->country.p ? 0 : 1);
    T_CHECK(enc_slice_eq_cstr(user(u, "U1")->country, "GB"));
    char want[256];
    snprintf(want, sizeof want, "%s:4: duplicate user_id 'U1' (first at line 2); the last row wins\n", path);
    T_CHECK_STR(w.text, want);
    enc_users_free(u);
    remove(path);

    T_CHECK(enc_users_load(&u, "tests", NULL, NULL, &err) == ENC_ERROR && u == NULL);
    T_CHECK_STR(err.msg, "users.csv: cannot read 'tests': Is a directory");
}

/* Every allocation, failed in turn, gives a clean error and no leak (ASan checks). */
static void test_alloc_failures(void)
{
    const char *csv = "song_id,title,artist,genre,duration\nS1,t,a,g,1\nS2,u,a,h,2\nS1,v,b,g,3\n";
    int succeeded = 0;
    for (long k = 0; k < 200 && !succeeded; k++) {
        enc_songs *t = (enc_songs *)1;
        enc_err err;
        enc_alloc_fail_after(k);
        enc_status st = enc_songs_load_mem(&t, csv, strlen(csv), "x", NULL, NULL, &err);
        enc_alloc_fail_after(-1);
        if (st == ENC_OK) {
            succeeded = 1;
            T_CHECK(enc_songs_count(t) == 2 && enc_slice_eq_cstr(song(t, "S1")->title, "v"));
            enc_songs_free(t);
        } else {
            T_CHECK(t == NULL);
            T_CHECK(strstr(err.msg, "out of memory") != NULL);
        }
    }
    T_CHECK(succeeded);
}

int main(void)
{
    T_RUN(test_hash_basics);
    T_RUN(test_hash_quality);
    T_RUN(test_songs_basic);
    T_RUN(test_header_any_order_and_extras);
    T_RUN(test_header_errors);
    T_RUN(test_duplicates_last_wins);
    T_RUN(test_durations);
    T_RUN(test_short_long_and_idless_rows);
    T_RUN(test_warning_cap);
    T_RUN(test_lookup_edges);
    T_RUN(test_lookup_shared_hashes);
    T_RUN(test_100k_rows);
    T_RUN(test_big_values);
    T_RUN(test_join_many);
    T_RUN(test_big_users);
    T_RUN(test_load_file);
    T_RUN(test_alloc_failures);
    return t_summary("dim");
}

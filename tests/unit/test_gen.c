/* test_gen — the sample generator: determinism, CSV quoting, event validity and shares,
 * time order, popularity skew, option checks and allocation failures. Works in a fresh
 * mkdtemp directory under /tmp and removes it at the end. */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "gen.h"
#include "harness.h"

static char root[64];

static char *path_of(const char *dir, const char *name)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s/%s", root, dir, name);
    return p[k];
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *d = malloc((size_t)n + 1);
    if (d && fread(d, 1, (size_t)n, f) != (size_t)n) {
        free(d);
        d = NULL;
    }
    fclose(f);
    if (d) {
        d[n] = '\0';
        if (len)
            *len = (size_t)n;
    }
    return d;
}

static enc_gen_opts small_opts(const char *sub, int64_t seed)
{
    static char dirs[8][256];
    static int k;
    k = (k + 1) % 8;
    snprintf(dirs[k], sizeof dirs[k], "%s/%s", root, sub);
    return (enc_gen_opts){.out_dir = dirs[k], .events = 50000, .files = 4, .songs = 500, .users = 300,
                          .seed = seed, .year = 2025};
}

static int run(enc_gen_opts o)
{
    enc_err err = {{0}};
    enc_gen_stats st = {0};
    enc_status s = enc_gen_run(&o, &st, &err);
    if (s != ENC_OK)
        fprintf(stderr, "  enc_gen_run(%s): %s\n", o.out_dir, err.msg);
    return s == ENC_OK && st.events == o.events;
}

static int same_file(const char *a, const char *b)
{
    size_t na = 0, nb = 0;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

/* ---- a minimal RFC 4180 reader: fields of one record, unquoted in place ------------------ */

/* Parses the record at *p into up to max fields (NUL-terminated, quotes undoubled).
 * Returns the field count, or -1 on a malformed record; *p moves past the record. */
static int csv_record(char **p, char **field, int max)
{
    char *s = *p, *o = s;
    int n = 0;
    for (;;) {
        if (n == max)
            return -1;
        field[n++] = o;
        if (*s == '"') {
            s++;
            for (;;) {
                if (*s == '\0')
                    return -1;
                if (*s == '"' && s[1] == '"') {
                    *o++ = '"';
                    s += 2;
                } else if (*s == '"') {
                    s++;
                    break;
                } else {
                    *o++ = *s++;
                }
            }
            if (*s != ',' && *s != '\n')
                return -1; /* text after a closing quote: an undoubled quote */
        } else {
            while (*s && *s != ',' && *s != '\n') {
                if (*s == '"')
                    return -1; /* a bare quote inside an unquoted field */
                *o++ = *s++;
            }
        }
        char end = *s;
        *o = '\0';
        if (end == ',') {
            s++;
            o = s;
            continue;
        }
        if (end == '\n')
            s++;
        *p = s;
        return n;
    }
}

/* ---- the tests --------------------------------------------------------------------------- */

static void test_headers_and_files(void)
{
    T_CHECK(run(small_opts("a", 42)));
    char *songs = slurp(path_of("a", "songs.csv"), NULL), *users = slurp(path_of("a", "users.csv"), NULL);
    T_CHECK(songs && strncmp(songs, "song_id,title,artist,genre,duration\n", 36) == 0);
    T_CHECK(users && strncmp(users, "user_id,country,subscription,device\n", 36) == 0);
    free(songs);
    free(users);
    /* exactly part-00000 … part-00003, no temporary file left behind */
    DIR *d = opendir(path_of("a", "events"));
    int parts = 0, others = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (strlen(e->d_name) == 15 && strncmp(e->d_name, "part-0000", 9) == 0 && e->d_name[9] >= '0' &&
            e->d_name[9] <= '3' && strcmp(e->d_name + 10, ".json") == 0)
            parts++;
        else
            others++;
    }
    if (d)
        closedir(d);
    T_CHECK(parts == 4);
    T_CHECK(others == 0);
}

static void test_determinism(void)
{
    static const char *const names[] = {"songs.csv", "users.csv", "events/part-00000.json", "events/part-00003.json"};
    T_CHECK(run(small_opts("b", 42)));
    T_CHECK(run(small_opts("c", 43)));
    for (size_t i = 0; i < 4; i++) {
        T_CHECK(same_file(path_of("a", names[i]), path_of("b", names[i])));
        T_CHECK(!same_file(path_of("a", names[i]), path_of("c", names[i])));
    }
    /* The catalogue and users do not depend on the number of events. */
    enc_gen_opts o = small_opts("d", 42);
    o.events = 777;
    o.files = 2;
    T_CHECK(run(o));
    T_CHECK(same_file(path_of("a", "songs.csv"), path_of("d", "songs.csv")));
    T_CHECK(same_file(path_of("a", "users.csv"), path_of("d", "users.csv")));
}

static void test_csv_quoting(void)
{
    char *songs = slurp(path_of("a", "songs.csv"), NULL), *users = slurp(path_of("a", "users.csv"), NULL);
    T_CHECK(songs && users);
    if (!songs || !users)
        goto out;
    char *raw = strdup(songs), *p = songs, *f[8];
    T_CHECK(csv_record(&p, f, 8) == 5);
    int rows = 0, bad = 0, quoted = 0, commas = 0, odd_duration = 0, undoubled = 0;
    while (*p) {
        int n = csv_record(&p, f, 8);
        if (n != 5) {
            bad++;
            break;
        }
        rows++;
        char want[16];
        snprintf(want, sizeof want, "S%06d", rows);
        bad += strcmp(f[0], want) != 0;
        if (strchr(f[1], '"')) { /* Hello, "Stranger" must be written "Hello, ""Stranger""" */
            char enc[512], *e = enc;
            *e++ = '"';
            for (const char *c = f[1]; *c && e < enc + sizeof enc - 4; c++) {
                if (*c == '"')
                    *e++ = '"';
                *e++ = *c;
            }
            strcpy(e, "\",");
            undoubled += !raw || !strstr(raw, enc);
            quoted++;
        }
        commas += strchr(f[1], ',') != NULL;
        int dur = atoi(f[4]);
        odd_duration += dur < 90 || dur > 420;
    }
    T_CHECK(bad == 0);
    T_CHECK(rows == 500);
    T_CHECK(quoted > 0);
    T_CHECK(commas > 0);
    T_CHECK(odd_duration == 0);
    T_CHECK(undoubled == 0);
    free(raw);

    p = users;
    T_CHECK(csv_record(&p, f, 8) == 4);
    rows = bad = 0;
    while (*p) {
        if (csv_record(&p, f, 8) != 4) {
            bad++;
            break;
        }
        rows++;
        bad += strlen(f[1]) != 2;
        bad += strcmp(f[2], "free") && strcmp(f[2], "premium") && strcmp(f[2], "family") && strcmp(f[2], "student");
    }
    T_CHECK(bad == 0);
    T_CHECK(rows == 300);
out:
    free(songs);
    free(users);
}

/* Days since 1970-01-01 (proleptic Gregorian), for checking timestamps independently. */
static int64_t days_of(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400, yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static int num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + s[i] - '0';
    }
    return v;
}

/* Epoch seconds of a text timestamp value (after the opening quote), -1 if not one. */
static int64_t ts_seconds(const char *s)
{
    int y = num(s, 4), mo = num(s + 5, 2), d = num(s + 8, 2), h = num(s + 11, 2), mi = num(s + 14, 2),
        se = num(s + 17, 2);
    if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || se < 0 || (s[10] != 'T' && s[10] != ' '))
        return -1;
    int64_t t = days_of(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    const char *z = s + 19;
    if (*z == '.')
        z += 4;
    if ((*z == '+' || *z == '-') && num(z + 1, 2) >= 0 && num(z + 4, 2) >= 0)
        t -= (*z == '-' ? -1 : 1) * (num(z + 1, 2) * 3600 + num(z + 4, 2) * 60);
    return t;
}

static int known_id(const char *line, const char *key, char prefix, int count)
{
    const char *k = strstr(line, key);
    if (!k)
        return 0;
    k += strlen(key);
    if (*k != prefix)
        return 0;
    int v = num(k + 1, 6);
    return v >= 1 && v <= count && k[7] == '"';
}

static void test_events(void)
{
    enum { BROKEN, KEY_CASE, UNKNOWN_SONG, UNKNOWN_USER, NO_DEVICE, NO_TS, BAD_TS, EPOCH, EXTRA, NKIND };
    static const char *const kind_name[] = {"broken",    "User_ID",   "unknown song", "unknown user", "no device",
                                            "no timestamp", "yesterday", "epoch",       "extra fields"};
    int kinds[NKIND] = {0}, lines = 0, out_of_order = 0, outside_year = 0, files_in_order = 1;
    int *plays = calloc(501, sizeof *plays);
    int64_t year0 = days_of(2025, 1, 1) * 86400, year1 = days_of(2026, 1, 1) * 86400, prev_first = 0;
    for (int k = 0; k < 4; k++) {
        char name[32];
        snprintf(name, sizeof name, "events/part-%05d.json", k);
        char *data = slurp(path_of("a", name), NULL);
        T_CHECK(data != NULL);
        if (!data)
            continue;
        int64_t first = -1, prev = 0;
        for (char *line = data, *nl; *line; line = nl + 1) {
            nl = strchr(line, '\n');
            if (!nl)
                break;
            *nl = '\0';
            lines++;
            if (nl[-1] != '}') {
                kinds[BROKEN]++;
                continue;
            }
            int known_user = known_id(line, "\"user_id\":\"", 'U', 300);
            int known_song = known_id(line, "\"song_id\":\"", 'S', 500);
            if (strstr(line, "\"User_ID\":"))
                kinds[KEY_CASE]++;
            else if (!known_user)
                kinds[UNKNOWN_USER]++;
            if (!known_song)
                kinds[UNKNOWN_SONG]++;
            else if (plays)
                plays[num(strstr(line, "\"song_id\":\"S") + 12, 6)]++;
            if (!strstr(line, "\"device\":\""))
                kinds[NO_DEVICE]++;
            if (strstr(line, "app_version") || strstr(line, "shuffle") || strstr(line, "\"ctx\":"))
                kinds[EXTRA]++;
            const char *ts = strstr(line, "\"timestamp\":");
            if (!ts) {
                kinds[NO_TS]++;
                continue;
            }
            ts += 12;
            int64_t t = -1;
            if (*ts == '"')
                t = ts_seconds(ts + 1);
            else
                t = strtoll(ts, NULL, 10), kinds[EPOCH]++;
            if (t < 0) {
                kinds[BAD_TS] += strncmp(ts, "\"yesterday\"", 11) == 0;
                continue;
            }
            outside_year += t < year0 || t >= year1;
            if (first < 0)
                first = t;
            out_of_order += t < prev;
            prev = t;
        }
        files_in_order &= first >= prev_first;
        prev_first = first;
        free(data);
    }
    T_CHECK(lines == 50000);
    T_CHECK(files_in_order);
    T_CHECK(outside_year == 0);
    T_CHECK(out_of_order < lines / 50); /* roughly ordered: a few late arrivals only */
    int invalid = 0;
    for (int k = 0; k < NKIND; k++) {
        /* each imperfection is present, and none beyond its share (≤ 0.5 %; extras ≤ 1 %) */
        int hi = k == EXTRA ? lines / 100 : lines / 200;
        if (kinds[k] < lines / 5000 || kinds[k] > hi) {
            fprintf(stderr, "  %s: %d of %d events\n", kind_name[k], kinds[k], lines);
            T_CHECK(!"imperfect share out of bounds");
        }
        if (k != EXTRA)
            invalid += kinds[k];
    }
    T_CHECK(invalid < lines / 100);

    /* Popularity: the top 1 % of songs (5 of 500) take more than 10 % of plays. */
    if (plays) {
        int total = 0, top = 0;
        for (int i = 1; i <= 500; i++)
            total += plays[i];
        for (int round = 0; round < 5; round++) {
            int best = 1;
            for (int i = 2; i <= 500; i++)
                best = plays[i] > plays[best] ? i : best;
            top += plays[best];
            plays[best] = -1;
        }
        T_CHECK(total > 0 && top * 10 > total);
    }
    free(plays);
}

/* --days 2: every ISO timestamp falls in the first two days of the year. */
static void test_days_window(void)
{
    enc_gen_opts o = small_opts("days", 9);
    o.files = 1;
    o.days = 2;
    T_CHECK(run(o));
    char *data = slurp(path_of("days", "events/part-00000.json"), NULL);
    T_CHECK(data != NULL);
    int64_t lo = days_of(2025, 1, 1) * 86400, hi = lo + 2 * 86400;
    int inside = 0, outside = 0;
    for (const char *ts = data; ts && (ts = strstr(ts, "\"timestamp\":\"")); ts++) {
        int64_t t = ts_seconds(ts + 13);
        if (t >= 0 && t >= lo && t < hi)
            inside++;
        else if (t >= 0)
            outside++;
    }
    T_CHECK(inside > 49000);
    T_CHECK(outside == 0);
    free(data);
}

static void test_bad_options(void)
{
    enc_err err = {{0}};
    enc_gen_opts o = small_opts("e", 1);
    o.events = 0;
    T_CHECK(enc_gen_run(&o, NULL, &err) == ENC_ERROR && strstr(err.msg, "--events"));
    o = small_opts("e", 1);
    o.year = 1969;
    T_CHECK(enc_gen_run(&o, NULL, &err) == ENC_ERROR && strstr(err.msg, "--year"));
    o = small_opts("e", 1);
    o.days = 367;
    T_CHECK(enc_gen_run(&o, NULL, &err) == ENC_ERROR && strstr(err.msg, "--days"));
    o = small_opts("e", 1);
    o.songs = -5;
    T_CHECK(enc_gen_run(&o, NULL, &err) == ENC_ERROR && strstr(err.msg, "--songs"));
    o.out_dir = "/dev/null/encore";
    o.songs = 10;
    err.msg[0] = '\0';
    T_CHECK(enc_gen_run(&o, NULL, &err) == ENC_ERROR && strstr(err.msg, "/dev/null"));
    o.out_dir = "";
    T_CHECK(enc_gen_run(&o, NULL, &err) == ENC_ERROR && strstr(err.msg, "--out"));
}

static void test_tiny_and_wide(void)
{
    /* more files than events: one event per file, no empty file */
    enc_gen_opts o = {.out_dir = NULL, .events = 3, .files = 10, .songs = 1, .users = 1, .seed = 5, .year = 2024};
    char dir[256];
    snprintf(dir, sizeof dir, "%s/f", root);
    o.out_dir = dir;
    enc_gen_stats st = {0};
    enc_err err = {{0}};
    T_CHECK(enc_gen_run(&o, &st, &err) == ENC_OK && st.files == 3 && st.events == 3);
    struct stat sb;
    T_CHECK(stat(path_of("f", "events/part-00002.json"), &sb) == 0 && sb.st_size > 0);
    T_CHECK(stat(path_of("f", "events/part-00003.json"), &sb) != 0);
    /* ids widen past six digits when the count needs it */
    o = (enc_gen_opts){.out_dir = dir, .events = 10, .files = 1, .songs = 2, .users = 1000000, .seed = 5, .year = 9999};
    T_CHECK(enc_gen_run(&o, &st, &err) == ENC_OK);
    char *users = slurp(path_of("f", "users.csv"), NULL);
    T_CHECK(users && strstr(users, "\nU0000001,") && strstr(users, "\nU1000000,"));
    free(users);
}

/* curl-style torture: fail each allocation in turn; every failure is reported, none leaks. */
static void test_alloc_failures(void)
{
    enc_gen_opts o = small_opts("g", 9);
    o.events = 100;
    int failures = 0;
    for (long n = 0; n < 200; n++) {
        enc_err err = {{0}};
        enc_alloc_fail_after(n);
        enc_status s = enc_gen_run(&o, NULL, &err);
        enc_alloc_fail_after(-1);
        if (s == ENC_OK)
            break;
        failures++;
        T_CHECK(err.msg[0] != '\0');
    }
    T_CHECK(failures > 5);
}

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char sub[1024];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        remove_tree(sub);
    }
    closedir(d);
    rmdir(path);
}

int main(void)
{
    strcpy(root, "/tmp/encore-test-gen-XXXXXX");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    T_RUN(test_headers_and_files);
    T_RUN(test_determinism);
    T_RUN(test_csv_quoting);
    T_RUN(test_events);
    T_RUN(test_days_window);
    T_RUN(test_bad_options);
    T_RUN(test_tiny_and_wide);
    T_RUN(test_alloc_failures);
    remove_tree(root);
    return t_summary("gen");
}

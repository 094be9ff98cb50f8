/* gen — builds the synthetic world and writes it: songs.csv, users.csv, events/part-*.json.
 *
 * Determinism: every random choice comes from xoshiro256** streams (gen_rand.h) seeded
 * from (seed, purpose), so the catalogue does not change when only --events changes and
 * each event file has its own stream. Floating point is used only with + - * / and a
 * hand-written log/exp (IEEE-exact operations, no libm, FP_CONTRACT off), and every
 * table is turned into integers before the hot loop, so output is byte-identical across
 * compilers and machines. The event loop allocates nothing and calls no printf: lines
 * are assembled with memcpy and hand-rolled digits into a 1 MiB block written with write(2).
 */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#include "gen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "gen_names.h"
#include "gen_rand.h"

#define ENC_GEN_MAX_EVENTS 1000000000000LL /* keeps i * 3600 and double counts exact */
#define OUT_BLOCK (1u << 20)               /* bytes per write(2) */
#define OUT_SLACK 1024                     /* room always left for one line */
_Static_assert(4 * ENC_GEN_NAME_MAX + 64 < OUT_SLACK, "a songs.csv row (two names, quotes doubled) must fit the slack");

/* One independent stream per (seed, purpose): purposes below, event file k uses 1000 + k. */
enum { STREAM_ARTISTS = 1, STREAM_SONGS, STREAM_USERS, STREAM_CALENDAR, STREAM_FILE0 = 1000 };

/* ---- output: one file written through a 1 MiB block, renamed into place when done ---- */

typedef struct {
    int fd;
    char *buf; /* OUT_BLOCK + OUT_SLACK bytes, owned by the caller */
    size_t len;
    char tmp[4096], final[4096];
} out_file;

static enc_status out_open(out_file *f, char *buf, const char *dir, const char *name, enc_err *err)
{
    f->buf = buf;
    f->len = 0;
    if ((size_t)snprintf(f->final, sizeof f->final, "%s/%s", dir, name) >= sizeof f->final ||
        (size_t)snprintf(f->tmp, sizeof f->tmp, "%s/.%s.tmp", dir, name) >= sizeof f->tmp) {
        f->fd = -1;
        return enc_err_set(err, "output path '%s/%s' is too long; choose a shorter --out", dir, name);
    }
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f->fd < 0)
        return enc_err_set(err, "cannot create '%s': %s; check that --out is writable", f->tmp, strerror(errno));
    return ENC_OK;
}

static enc_status out_flush(out_file *f, enc_err *err)
{
    size_t off = 0;
    while (off < f->len) {
        ssize_t n = write(f->fd, f->buf + off, f->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return enc_err_set(err, "cannot write '%s': %s; free some space or choose another --out", f->tmp,
                               n < 0 ? strerror(errno) : "short write");
        off += (size_t)n;
    }
    f->len = 0;
    return ENC_OK;
}

static inline enc_status out_room(out_file *f, enc_err *err)
{
    return f->len >= OUT_BLOCK ? out_flush(f, err) : ENC_OK;
}

static enc_status out_close(out_file *f, enc_err *err)
{
    enc_status st = out_flush(f, err);
    if (close(f->fd) != 0 && st == ENC_OK)
        st = enc_err_set(err, "cannot write '%s': %s", f->tmp, strerror(errno));
    f->fd = -1;
    if (st == ENC_OK && rename(f->tmp, f->final) != 0)
        st = enc_err_set(err, "cannot rename '%s' to '%s': %s", f->tmp, f->final, strerror(errno));
    if (st != ENC_OK)
        unlink(f->tmp);
    return st;
}

static void out_abort(out_file *f)
{
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
        unlink(f->tmp);
    }
}

static inline char *put_lit(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}
#define PUT(p, lit) put_lit((p), (lit), sizeof(lit) - 1)

static char *put_uint(char *p, uint64_t v, int width)
{
    char tmp[24];
    int k = 0;
    do {
        tmp[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int i = k; i < width; i++)
        *p++ = '0';
    while (k)
        *p++ = tmp[--k];
    return p;
}

static char *put_csv(char *p, const char *s)
{
    if (!strpbrk(s, ",\"\r\n"))
        return put_lit(p, s, strlen(s));
    *p++ = '"';
    for (; *s; s++) {
        if (*s == '"')
            *p++ = '"';
        *p++ = *s;
    }
    *p++ = '"';
    return p;
}

/* ---- the world's fixed data ---------------------------------------------------------- */

/* Markets weighted roughly like a large streaming service; UTC offset in minutes (standard
 * time, one zone per country: "rough local time"). */
static const struct {
    char code[3];
    double w;
    int off_min;
} country[] = {
    {"US", 22, -360},  {"BR", 8, -180},  {"GB", 5.5, 0},    {"DE", 5.5, 60},   {"MX", 5.5, -360}, {"IN", 5, 330},
    {"FR", 3.5, 60},   {"JP", 2.5, 540}, {"ID", 3, 420},    {"CA", 2.5, -300}, {"ES", 2.5, 60},   {"IT", 2.5, 60},
    {"PH", 2.5, 480},  {"AR", 2, -180},  {"TR", 1.8, 180},  {"AU", 1.8, 600},  {"NL", 1.5, 60},   {"PL", 1.5, 60},
    {"CO", 1.5, -300}, {"SE", 1.2, 60},  {"CL", 1.2, -240}, {"TH", 1.0, 420},  {"PE", 0.9, -300}, {"ZA", 0.8, 120},
    {"SA", 0.8, 180},  {"VN", 0.8, 420}, {"BE", 0.7, 60},   {"KR", 0.6, 540},  {"NO", 0.6, 60},   {"PT", 0.6, 0},
    {"MY", 0.6, 480},  {"TW", 0.6, 480}, {"EG", 0.6, 120},  {"NG", 0.6, 60},   {"RO", 0.6, 120},  {"DK", 0.5, 60},
    {"FI", 0.5, 120},  {"AT", 0.5, 60},  {"CH", 0.5, 60},   {"IE", 0.5, 0},    {"AE", 0.5, 240},  {"CZ", 0.5, 60},
    {"GR", 0.5, 120},  {"NZ", 0.4, 720}, {"SG", 0.4, 480},  {"IL", 0.4, 120},  {"EC", 0.4, -300}, {"HK", 0.3, 480},
};
#define N_COUNTRIES (sizeof country / sizeof country[0])

static const char *const sub_name[] = {"free", "premium", "family", "student"};
static const double sub_w[] = {55, 30, 10, 5};
static const double sub_activity[] = {0.85, 1.3, 1.1, 1.2};

static const char *const device_name[] = {"mobile", "desktop", "web", "smart_speaker", "tv", "car"};
static const double device_w[] = {62, 14, 8, 6, 5, 5};
#define N_DEVICES 6
#define OTHER_DEVICE_PER_1000 120 /* plays not on the user's own device */

/* Plays by local hour of day, relative: quiet at night, commute bumps, evening peak. */
static const double rhythm[24] = {0.45, 0.28, 0.18, 0.12, 0.10, 0.14, 0.32, 0.62, 0.85, 0.88, 0.86, 0.88,
                                  0.95, 0.92, 0.90, 0.93, 1.00, 1.10, 1.20, 1.28, 1.32, 1.25, 1.05, 0.75};

/* ---- calendar ------------------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static inline int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

#define PREFIX_PAD 48 /* hours of prefixes kept before and after the year (offsets, skew) */

/* ---- the world ------------------------------------------------------------------------ */

/* A user and their entry in their group's activity alias table, in one 16-byte record so
 * a draw from a large user base costs one cache miss (alias targets are the heavy
 * listeners, few and hot). */
typedef struct {
    uint32_t thresh, alias; /* as in enc_alias_ent; alias indexes within the group */
    uint32_t id;            /* 0-based: U000001 is 0 */
    uint8_t device;
    uint8_t country;
} user_ent;

typedef struct {
    int64_t events, songs, users;
    int song_w, user_w; /* id digits */
    int64_t year_epoch; /* epoch seconds of Y-01-01T00:00:00Z */
    int64_t hours;
    int64_t local_end;   /* rel seconds from which local times cannot be written (year 10000) */
    int64_t *hour_start; /* [hours + 1]: index of the first event of each hour */
    char (*prefix)[16];  /* [hours + 2 * PREFIX_PAD]: "YYYY-MM-DDTHH" of hour h at h + PREFIX_PAD */
    enc_alias_tab song;  /* popularity */
    uint32_t n_groups;   /* users grouped by UTC offset */
    int group_off[N_COUNTRIES];
    uint32_t group_base[N_COUNTRIES + 1]; /* group g's users are user[base[g] .. base[g+1]) */
    user_ent *user;                       /* [users], by group, by id within a group */
    enc_alias_tab hod[24];                /* which group plays, by UTC hour of day */
    double hod_weight[24];                /* total plays by UTC hour of day, relative */
    enc_alias_tab device;
    enc_alias_ent *alias_mem; /* owns every alias table above */
    uint32_t kind_cut[16];    /* cumulative imperfect-event thresholds on 32 random bits */
} world;

static void world_free(world *w)
{
    enc_free(w->hour_start);
    enc_free(w->prefix);
    enc_free(w->user);
    enc_free(w->alias_mem);
    memset(w, 0, sizeof *w);
}

static int id_width(int64_t n)
{
    int w = 1;
    for (int64_t x = n; x >= 10; x /= 10)
        w++;
    return w < 6 ? 6 : w;
}

/* ---- songs.csv -------------------------------------------------------------------------- */

typedef struct {
    double score;
    uint32_t idx;
} ranked;

static int ranked_cmp(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Artist names are kept unique while the name space allows (64-bit FNV hashes). */
static bool name_seen(uint64_t *set, size_t mask, const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    h |= 1; /* 0 marks an empty slot */
    size_t i = (size_t)h & mask;
    while (set[i]) {
        if (set[i] == h)
            return true;
        i = (i + 1) & mask;
    }
    set[i] = h;
    return false;
}

static enc_status make_songs(world *w, const enc_gen_opts *o, char *buf, enc_alias_ent *alias_mem, enc_err *err)
{
    enc_status st = ENC_ERROR;
    uint32_t n = (uint32_t)o->songs, na = n / 8 ? n / 8 : 1;
    size_t set_size = 16;
    while (set_size < (size_t)na * 2)
        set_size *= 2;
    uint32_t *song_artist = enc_malloc(sizeof *song_artist * n);
    uint32_t *name_off = enc_malloc(sizeof *name_off * (na + 1));
    uint8_t *artist_genre = enc_malloc(na);
    uint32_t *nth = enc_calloc(na, sizeof *nth); /* songs of each artist written so far */
    double *aw = enc_malloc(sizeof *aw * (n > na ? n : na));
    double *p = enc_malloc(sizeof *p * n);
    uint32_t *work = enc_malloc(sizeof *work * 2 * (size_t)n);
    ranked *rk = enc_malloc(sizeof *rk * n);
    uint64_t *set = enc_calloc(set_size, sizeof *set);
    char *names = NULL;
    size_t names_len = 0, names_cap = (size_t)na * 24 + 64;
    out_file f = {.fd = -1};
    enc_rng r;
    if (!song_artist || !name_off || !artist_genre || !nth || !aw || !p || !work || !rk || !set ||
        !(names = enc_malloc(names_cap))) {
        enc_err_set(err, "out of memory building %u songs; try a smaller --songs", n);
        goto out;
    }

    /* Artists, in popularity rank order (artist a's star power is 1 / (a + 1)). */
    enc_rng_seed(&r, o->seed, STREAM_ARTISTS);
    for (uint32_t a = 0; a < na; a++) {
        enc_gen_name b;
        artist_genre[a] = (uint8_t)enc_rng_pick(&r, enc_gen_genre_weight, ENC_GEN_GENRES);
        for (int tries = 0;; tries++) {
            enc_gen_artist_name(&b, &r, artist_genre[a]);
            if (!name_seen(set, set_size - 1, b.s) || tries == 16)
                break;
        }
        if (names_len + b.n + 1 > names_cap) {
            char *grown = enc_realloc(names, names_cap * 2);
            if (!grown) {
                enc_err_set(err, "out of memory naming artists; try a smaller --songs");
                goto out;
            }
            names = grown;
            names_cap *= 2;
        }
        name_off[a] = (uint32_t)names_len;
        memcpy(names + names_len, b.s, b.n + 1);
        names_len += b.n + 1;
        /* How many songs: heavy-tailed, mildly favouring the popular. */
        aw[a] = enc_det_exp(0.9 * enc_rng_normal(&r)) * enc_det_pow(a + 1.0, -0.25);
    }
    enc_alias_tab by_artist = {0, alias_mem};
    enc_alias_build(&by_artist, aw, na, p, work);

    /* Every artist gets one song, the rest go by artist weight; then shuffle the ids. */
    enc_rng_seed(&r, o->seed, STREAM_SONGS);
    for (uint32_t i = 0; i < n; i++)
        song_artist[i] = i < na ? i : enc_alias_draw(&by_artist, enc_rng_next(&r));
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = enc_rng_below(&r, i + 1), t = song_artist[i];
        song_artist[i] = song_artist[j];
        song_artist[j] = t;
    }

    if (out_open(&f, buf, o->out_dir, "songs.csv", err) != ENC_OK)
        goto out;
    char *q = PUT(f.buf, "song_id,title,artist,genre,duration\n");
    f.len = (size_t)(q - f.buf);
    const double ln_median = enc_det_log(210.0);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t a = song_artist[i];
        int genre =
            enc_rng_below(&r, 100) < 85 ? artist_genre[a] : (int)enc_rng_pick(&r, enc_gen_genre_weight, ENC_GEN_GENRES);
        enc_gen_name title;
        enc_gen_song_title(&title, &r, genre);
        double mu = ln_median + (genre == ENC_GENRE_CLASSICAL ? 0.3 : 0.0);
        double secs = enc_det_exp(mu + 0.28 * enc_rng_normal(&r)) + 0.5;
        int64_t dur = secs < 90 ? 90 : secs > 420 ? 420 : (int64_t)secs;
        /* Popularity: the artist's star power, the song's place in the artist's own
         * catalogue (a few hits, many deep cuts), and the song's own luck. */
        rk[i].score = -0.5 * enc_det_log(a + 1.0) - 0.9 * enc_det_log(1.0 + nth[a]++) + 0.7 * enc_rng_normal(&r);
        rk[i].idx = i;

        q = f.buf + f.len;
        q = put_uint(PUT(q, "S"), i + 1, w->song_w);
        q = put_csv(PUT(q, ","), title.s);
        q = put_csv(PUT(q, ","), names + name_off[a]);
        q = put_csv(PUT(q, ","), enc_gen_genre_name[genre]);
        q = put_uint(PUT(q, ","), (uint64_t)dur, 1);
        *q++ = '\n';
        f.len = (size_t)(q - f.buf);
        if (out_room(&f, err) != ENC_OK)
            goto out;
    }
    if (out_close(&f, err) != ENC_OK)
        goto out;

    /* Song weight by popularity rank: Zipf, s = 1.05. */
    qsort(rk, n, sizeof *rk, ranked_cmp);
    for (uint32_t k = 0; k < n; k++)
        aw[rk[k].idx] = enc_det_pow(k + 1.0, -1.05);
    w->song = (enc_alias_tab){0, alias_mem};
    enc_alias_build(&w->song, aw, n, p, work);
    st = ENC_OK;
out:
    out_abort(&f);
    enc_free(song_artist);
    enc_free(name_off);
    enc_free(artist_genre);
    enc_free(nth);
    enc_free(aw);
    enc_free(p);
    enc_free(work);
    enc_free(rk);
    enc_free(set);
    enc_free(names);
    return st;
}

/* ---- users.csv --------------------------------------------------------------------------- */

static enc_status make_users(world *w, const enc_gen_opts *o, char *buf, enc_alias_ent *alias_mem, enc_err *err)
{
    enc_status st = ENC_ERROR;
    uint32_t n = (uint32_t)o->users;
    double *act = enc_malloc(sizeof *act * n);
    double *gact = enc_malloc(sizeof *gact * n);
    double *p = enc_malloc(sizeof *p * (n > 64 ? n : 64));
    uint32_t *work = enc_malloc(sizeof *work * 2 * (size_t)(n > 64 ? n : 64));
    uint8_t *user_country = enc_malloc(n), *user_device = enc_malloc(n);
    w->user = enc_malloc(sizeof *w->user * n);
    enc_alias_ent *ua = enc_malloc(sizeof *ua * n);
    out_file f = {.fd = -1};
    enc_rng r;
    if (!act || !gact || !p || !work || !user_country || !user_device || !w->user || !ua) {
        enc_err_set(err, "out of memory building %u users; try a smaller --users", n);
        goto out;
    }
    /* Countries sharing a UTC offset form one group: the group's local hour sets its pace. */
    uint8_t country_group[N_COUNTRIES];
    w->n_groups = 0;
    memset(w->hod_weight, 0, sizeof w->hod_weight);
    for (uint32_t c = 0; c < N_COUNTRIES; c++) {
        uint32_t g = 0;
        while (g < w->n_groups && w->group_off[g] != country[c].off_min)
            g++;
        if (g == w->n_groups)
            w->group_off[w->n_groups++] = country[c].off_min;
        country_group[c] = (uint8_t)g;
    }
    double cw[N_COUNTRIES];
    for (uint32_t c = 0; c < N_COUNTRIES; c++)
        cw[c] = country[c].w;

    if (out_open(&f, buf, o->out_dir, "users.csv", err) != ENC_OK)
        goto out;
    char *q = PUT(f.buf, "user_id,country,subscription,device\n");
    f.len = (size_t)(q - f.buf);
    enc_rng_seed(&r, o->seed, STREAM_USERS);
    uint32_t group_count[N_COUNTRIES + 1] = {0};
    for (uint32_t u = 0; u < n; u++) {
        uint32_t c = enc_rng_pick(&r, cw, N_COUNTRIES), s = enc_rng_pick(&r, sub_w, 4),
                 d = enc_rng_pick(&r, device_w, N_DEVICES);
        user_country[u] = (uint8_t)c;
        user_device[u] = (uint8_t)d;
        group_count[country_group[c]]++;
        /* Heavy-tailed activity; one user in ten has all but stopped listening. */
        act[u] = enc_det_exp(1.2 * enc_rng_normal(&r)) * sub_activity[s] * (enc_rng_below(&r, 10) == 0 ? 0.05 : 1.0);
        q = f.buf + f.len;
        q = put_uint(PUT(q, "U"), u + 1, w->user_w);
        *q++ = ',';
        q = put_lit(q, country[c].code, 2);
        *q++ = ',';
        q = put_lit(q, sub_name[s], strlen(sub_name[s]));
        *q++ = ',';
        q = put_lit(q, device_name[d], strlen(device_name[d]));
        *q++ = '\n';
        f.len = (size_t)(q - f.buf);
        if (out_room(&f, err) != ENC_OK)
            goto out;
    }
    if (out_close(&f, err) != ENC_OK)
        goto out;

    /* Group users (stable, by id) and build one activity table per group. */
    w->group_base[0] = 0;
    for (uint32_t g = 0; g < w->n_groups; g++)
        w->group_base[g + 1] = w->group_base[g] + group_count[g];
    uint32_t fill[N_COUNTRIES];
    memcpy(fill, w->group_base, sizeof fill);
    for (uint32_t u = 0; u < n; u++)
        w->user[fill[country_group[user_country[u]]]++] = (user_ent){0, 0, u, user_device[u], user_country[u]};
    double group_act[N_COUNTRIES] = {0};
    for (uint32_t i = 0; i < n; i++)
        gact[i] = act[w->user[i].id];
    for (uint32_t g = 0; g < w->n_groups; g++) {
        uint32_t base = w->group_base[g], cnt = group_count[g];
        for (uint32_t i = 0; i < cnt; i++)
            group_act[g] += gact[base + i];
        enc_alias_tab t = {0, ua + base};
        if (cnt)
            enc_alias_build(&t, gact + base, cnt, p, work);
        for (uint32_t i = 0; i < cnt; i++) {
            w->user[base + i].thresh = ua[base + i].thresh;
            w->user[base + i].alias = ua[base + i].alias;
        }
    }
    /* By UTC hour of day, which group is listening: its activity times its local rhythm. */
    enc_alias_ent *hod_mem = alias_mem;
    for (int h = 0; h < 24; h++) {
        double gw[N_COUNTRIES];
        for (uint32_t g = 0; g < w->n_groups; g++) {
            int64_t local = ((int64_t)h * 60 + w->group_off[g] + 1440) % 1440 / 60;
            gw[g] = group_act[g] * rhythm[local];
            w->hod_weight[h] += gw[g];
        }
        w->hod[h] = (enc_alias_tab){0, hod_mem + h * N_COUNTRIES};
        enc_alias_build(&w->hod[h], gw, w->n_groups, p, work);
    }
    w->device = (enc_alias_tab){0, hod_mem + 24 * N_COUNTRIES};
    enc_alias_build(&w->device, device_w, N_DEVICES, p, work);
    st = ENC_OK;
out:
    out_abort(&f);
    enc_free(user_country);
    enc_free(user_device);
    enc_free(ua);
    enc_free(act);
    enc_free(gact);
    enc_free(p);
    enc_free(work);
    return st;
}

/* ---- the calendar: events per hour, and hour prefixes ---------------------------------- */

static enc_status make_calendar(world *w, const enc_gen_opts *o, enc_err *err)
{
    int64_t d0 = days_from_civil(o->year, 1, 1), days = days_from_civil(o->year + 1, 1, 1) - d0;
    if (o->days > 0 && o->days < days)
        days = o->days;
    w->year_epoch = d0 * 86400;
    w->hours = days * 24;
    w->local_end = (w->hours + (o->year < 9999 ? PREFIX_PAD : 0)) * 3600;
    w->hour_start = enc_malloc(sizeof *w->hour_start * (size_t)(w->hours + 1));
    w->prefix = enc_malloc(sizeof *w->prefix * (size_t)(w->hours + 2 * PREFIX_PAD));
    double *hw = enc_malloc(sizeof *hw * (size_t)w->hours);
    if (!w->hour_start || !w->prefix || !hw) {
        enc_free(hw);
        return enc_err_set(err, "out of memory building the calendar");
    }
    for (int64_t h = -PREFIX_PAD; h < w->hours + PREFIX_PAD; h++) {
        int64_t y;
        int m, d;
        int64_t hh = d0 * 24 + h;
        civil_from_days(floor_div(hh, 24), &y, &m, &d);
        char *q = w->prefix[h + PREFIX_PAD];
        q = put_uint(q, (uint64_t)(y < 0 ? 0 : y), 4);
        q = put_uint(PUT(q, "-"), (uint64_t)m, 2);
        q = put_uint(PUT(q, "-"), (uint64_t)d, 2);
        put_uint(PUT(q, "T"), (uint64_t)(hh - floor_div(hh, 24) * 24), 2);
    }
    /* Hour weight: who is awake (local rhythm per group), weekend lift, a service growing
     * through the year, a December bump, and a little day-to-day noise. */
    enc_rng r;
    enc_rng_seed(&r, o->seed, STREAM_CALENDAR);
    double total = 0.0;
    for (int64_t day = 0; day < days; day++) {
        int wd = (int)((d0 + day + 4) % 7 + 7) % 7; /* 0 = Sunday */
        int64_t y;
        int m, d;
        civil_from_days(d0 + day, &y, &m, &d);
        double f = (wd == 0 || wd == 6 ? 1.18
                    : wd == 5          ? 1.06
                                       : 1.0) *
                   (1.0 + 0.15 * day / days) * (m == 12 && d >= 15 ? 1.08 : 1.0) * (0.94 + 0.12 * enc_rng_unit(&r));
        for (int h = 0; h < 24; h++) {
            hw[day * 24 + h] = f * w->hod_weight[h];
            total += hw[day * 24 + h];
        }
    }
    double cum = 0.0;
    w->hour_start[0] = 0;
    for (int64_t h = 0; h < w->hours; h++) {
        cum += hw[h];
        int64_t s = (int64_t)((double)w->events * cum / total);
        if (s > w->events || h == w->hours - 1)
            s = w->events;
        if (s < w->hour_start[h])
            s = w->hour_start[h];
        w->hour_start[h + 1] = s;
    }
    enc_free(hw);
    return ENC_OK;
}

/* ---- events ------------------------------------------------------------------------------ */

/* Imperfect events, so every path of the pipeline shows. Rates per 100 000 events; the
 * first three are valid events with unknown extra fields, the rest are invalid or odd
 * (0.8 % in total). Exactly one kind per event. */
enum {
    EV_OK,
    EV_APP_VERSION,   /* "app_version":"8.9.1" at the end */
    EV_SHUFFLE,       /* "shuffle":true before device */
    EV_CTX,           /* "ctx":{"playlist":"p1"} first or last */
    EV_KEY_CASE,      /* "User_ID" instead of "user_id" */
    EV_UNKNOWN_SONG,  /* song id past the catalogue */
    EV_UNKNOWN_USER,  /* user id past the user base */
    EV_NO_DEVICE,     /* device missing */
    EV_NO_TIMESTAMP,  /* timestamp missing */
    EV_BAD_TIMESTAMP, /* "timestamp":"yesterday" */
    EV_EPOCH,         /* "timestamp":1712656800 (a number, epoch seconds) */
    EV_TRUNCATED,     /* the line cut short: broken JSON */
    EV_KINDS
};
static const uint32_t kind_rate[EV_KINDS] = {0, 300, 250, 150, 100, 100, 100, 100, 100, 100, 100, 100};

/* Timestamp spellings, per 1000 events with a text timestamp; the rest are plain
 * "YYYY-MM-DDTHH:MM:SS" (UTC). All variants denote the same instant. */
#define TS_Z 10        /* ...Z */
#define TS_OFFSET 5    /* the user's local time with its offset: ...+05:30 */
#define TS_FRACTION 10 /* ...SS.123 */
#define TS_SPACE 5     /* a space instead of T */

#define LATE_PER_65536 1311 /* ~2 % arrive late: stamped up to 5 minutes before their neighbours */

static const char two_digits[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                 "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                 "8081828384858687888990919293949596979899";

static inline char *put2(char *p, int64_t v)
{
    memcpy(p, two_digits + 2 * v, 2);
    return p + 2;
}

/* rel: seconds since Y-01-01T00:00:00Z, within the prefix table's range. */
static inline char *put_time(char *p, const world *w, int64_t rel, char sep)
{
    int64_t h = floor_div(rel, 3600), s = rel - h * 3600;
    memcpy(p, w->prefix[h + PREFIX_PAD], 13);
    p[10] = sep;
    p += 13;
    *p++ = ':';
    p = put2(p, s / 60);
    *p++ = ':';
    return put2(p, s % 60);
}

static char *put_event(char *p, const world *w, enc_rng *r, int64_t rel, const user_ent *user, uint32_t song,
                       uint64_t r1)
{
    static const uint8_t dev_len[N_DEVICES] = {6, 7, 3, 13, 2, 3};
    char *start = p;
    uint32_t kx = (uint32_t)(r1 >> 32), kind = EV_OK;
    if (kx < w->kind_cut[EV_KINDS - 1]) {
        kind = EV_OK + 1;
        while (kx >= w->kind_cut[kind])
            kind++;
    }
    uint64_t extra = kind != EV_OK ? enc_rng_next(r) : 0;
    uint32_t dev = user->device;
    if ((r1 & 0xffff) % 1000 < OTHER_DEVICE_PER_1000)
        dev = enc_alias_draw(&w->device, enc_rng_next(r));

    *p++ = '{';
    if (kind == EV_CTX && (extra & 1))
        p = PUT(put_uint(PUT(p, "\"ctx\":{\"playlist\":\"p"), 1 + (extra >> 8) % 5000, 1), "\"},");
    p = kind == EV_KEY_CASE ? PUT(p, "\"User_ID\":\"U") : PUT(p, "\"user_id\":\"U");
    p = put_uint(p, kind == EV_UNKNOWN_USER ? (uint64_t)w->users + 1 + (extra >> 8) % 1000 : user->id + 1ULL,
                 w->user_w);
    p = PUT(p, "\",\"song_id\":\"S");
    p = put_uint(p, kind == EV_UNKNOWN_SONG ? (uint64_t)w->songs + 1 + (extra >> 8) % 1000 : song + 1ULL, w->song_w);
    *p++ = '"';
    if (kind == EV_BAD_TIMESTAMP) {
        p = PUT(p, ",\"timestamp\":\"yesterday\"");
    } else if (kind == EV_EPOCH) {
        p = put_uint(PUT(p, ",\"timestamp\":"), (uint64_t)(w->year_epoch + rel), 1);
    } else if (kind != EV_NO_TIMESTAMP) {
        uint32_t tv = (uint32_t)(((r1 >> 16) & 0xffff) * 1000 >> 16);
        p = PUT(p, ",\"timestamp\":\"");
        if (tv < TS_Z) {
            p = put_time(p, w, rel, 'T');
            *p++ = 'Z';
        } else if (tv < TS_Z + TS_OFFSET && rel + country[user->country].off_min * 60 < w->local_end) {
            int off = country[user->country].off_min, a = off < 0 ? -off : off;
            p = put_time(p, w, rel + off * 60, 'T');
            *p++ = off < 0 ? '-' : '+';
            p = put2(p, a / 60);
            *p++ = ':';
            p = put2(p, a % 60);
        } else if (tv < TS_Z + TS_OFFSET + TS_FRACTION) {
            p = put_time(p, w, rel, 'T');
            *p++ = '.';
            p = put_uint(p, enc_rng_next(r) % 1000, 3);
        } else {
            p = put_time(p, w, rel, tv < TS_Z + TS_OFFSET + TS_FRACTION + TS_SPACE ? ' ' : 'T');
        }
        *p++ = '"';
    }
    if (kind == EV_SHUFFLE)
        p = (extra >> 8) % 4 ? PUT(p, ",\"shuffle\":true") : PUT(p, ",\"shuffle\":false");
    if (kind != EV_NO_DEVICE) {
        p = put_lit(PUT(p, ",\"device\":\""), device_name[dev], dev_len[dev]);
        *p++ = '"';
    }
    if (kind == EV_APP_VERSION) {
        p = put_uint(PUT(p, ",\"app_version\":\"8."), 5 + (extra >> 8) % 5, 1);
        p = PUT(put_uint(PUT(p, "."), (extra >> 16) % 10, 1), "\"");
    }
    if (kind == EV_CTX && !(extra & 1)) {
        p = put_uint(PUT(p, ",\"ctx\":{\"playlist\":\"p"), 1 + (extra >> 8) % 5000, 1);
        p = PUT(put_uint(PUT(p, "\",\"pos\":"), 1 + (extra >> 24) % 40, 1), "}");
    }
    *p++ = '}';
    if (kind == EV_TRUNCATED) {
        size_t len = (size_t)(p - start);
        p = start + 8 + (extra >> 8) % (len - 16);
    }
    *p++ = '\n';
    return p;
}

/* Writes events [a, b) — already in time order — as file k. */
static enc_status write_events(const world *w, const enc_gen_opts *o, const char *dir, int64_t k, int64_t a, int64_t b,
                               char *buf, enc_err *err)
{
    char name[64];
    snprintf(name, sizeof name, "part-%05lld.json", (long long)k);
    out_file f = {.fd = -1};
    if (out_open(&f, buf, dir, name, err) != ENC_OK)
        return ENC_ERROR;
    enc_rng r;
    enc_rng_seed(&r, o->seed, STREAM_FILE0 + (uint64_t)k);
    int64_t lo = 0, hi = w->hours - 1; /* the hour holding event a */
    while (lo < hi) {
        int64_t mid = lo + (hi - lo + 1) / 2;
        if (w->hour_start[mid] <= a)
            lo = mid;
        else
            hi = mid - 1;
    }
    int64_t h = lo;
    for (int64_t e = a; e < b; e++) {
        while (w->hour_start[h + 1] <= e)
            h++;
        int64_t i = e - w->hour_start[h], c = w->hour_start[h + 1] - w->hour_start[h];
        uint64_t r0 = enc_rng_next(&r);
        /* Stratified within the hour, so a file reads in time order. */
        int64_t rel = h * 3600 + (i * 3600 + (int64_t)(((r0 >> 32) * 3600) >> 32)) / c;
        if ((r0 & 0xffff) < LATE_PER_65536) {
            rel -= 1 + (int64_t)((r0 >> 16) & 0xffff) % 300;
            if (rel < 0)
                rel = 0;
        }
        uint32_t g = enc_alias_draw(&w->hod[h % 24], enc_rng_next(&r));
        const user_ent *group = w->user + w->group_base[g], *user;
        uint64_t ru = enc_rng_next(&r);
        user = &group[((ru >> 32) * (w->group_base[g + 1] - w->group_base[g])) >> 32];
        if ((uint32_t)ru >= user->thresh)
            user = &group[user->alias];
        uint32_t song = enc_alias_draw(&w->song, enc_rng_next(&r));
        char *q = put_event(f.buf + f.len, w, &r, rel, user, song, enc_rng_next(&r));
        f.len = (size_t)(q - f.buf);
        if (f.len >= OUT_BLOCK && out_flush(&f, err) != ENC_OK) {
            out_abort(&f);
            return ENC_ERROR;
        }
    }
    enc_status st = out_close(&f, err);
    out_abort(&f);
    return st;
}

/* ---- the run ------------------------------------------------------------------------------ */

/* mkdir -p: creates each missing component of path. */
static enc_status make_dir(const char *path, enc_err *err)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp)
        return enc_err_set(err, "output directory '%s' is %s; give --out DIR", path, n ? "too long" : "empty");
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0')
            continue;
        char c = tmp[i];
        tmp[i] = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return enc_err_set(err, "cannot create directory '%s': %s; choose another --out or fix its permissions",
                               tmp, strerror(errno));
        tmp[i] = c;
    }
    struct stat sb;
    if (stat(path, &sb) != 0)
        return enc_err_set(err, "cannot use '%s' as the output directory: %s; choose another --out", path,
                           strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return enc_err_set(err, "'%s' exists and is not a directory; choose another --out", path);
    return ENC_OK;
}

static enc_status check_range(const char *flag, int64_t v, int64_t lo, int64_t hi, enc_err *err)
{
    if (v >= lo && v <= hi)
        return ENC_OK;
    return enc_err_set(err, "--%s %lld is out of range; give a value from %lld to %lld", flag, (long long)v,
                       (long long)lo, (long long)hi);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

enc_status enc_gen_run(const enc_gen_opts *o, enc_gen_stats *st, enc_err *err)
{
    double t0 = now_seconds();
    if (!o->out_dir || !*o->out_dir)
        return enc_err_set(err, "no output directory; give --out DIR");
    if (check_range("events", o->events, 1, ENC_GEN_MAX_EVENTS, err) ||
        check_range("files", o->files, 1, ENC_GEN_MAX_FILES, err) ||
        check_range("songs", o->songs, 1, ENC_GEN_MAX_SONGS, err) ||
        check_range("users", o->users, 1, ENC_GEN_MAX_USERS, err) || check_range("year", o->year, 1970, 9999, err) ||
        check_range("days", o->days, 0, 366, err))
        return ENC_ERROR;
    char events_dir[4096];
    if ((size_t)snprintf(events_dir, sizeof events_dir, "%s/events", o->out_dir) >= sizeof events_dir - 64)
        return enc_err_set(err, "output directory '%s' is too long; choose a shorter --out", o->out_dir);
    if (make_dir(o->out_dir, err) != ENC_OK || make_dir(events_dir, err) != ENC_OK)
        return ENC_ERROR;

    enc_status status = ENC_ERROR;
    world w;
    memset(&w, 0, sizeof w);
    w.events = o->events;
    w.songs = o->songs;
    w.users = o->users;
    w.song_w = id_width(o->songs);
    w.user_w = id_width(o->users);
    uint64_t cum = 0;
    for (int k = 0; k < EV_KINDS; k++) {
        cum += kind_rate[k];
        w.kind_cut[k] = (uint32_t)((cum << 32) / 100000);
    }
    int64_t files = o->files < o->events ? o->files : o->events;
    size_t songs_mem = (size_t)o->songs, users_mem = 24 * N_COUNTRIES + N_DEVICES;
    char *buf = enc_malloc(OUT_BLOCK + OUT_SLACK);
    w.alias_mem = enc_malloc(sizeof *w.alias_mem * (songs_mem + users_mem));
    if (!buf || !w.alias_mem) {
        enc_err_set(err, "out of memory; try smaller --songs and --users");
        goto out;
    }
    if (make_songs(&w, o, buf, w.alias_mem, err) != ENC_OK ||
        make_users(&w, o, buf, w.alias_mem + songs_mem, err) != ENC_OK || make_calendar(&w, o, err) != ENC_OK)
        goto out;
    for (int64_t k = 0; k < files; k++) {
        int64_t a = k * o->events / files, b = (k + 1) * o->events / files; /* < 1e18: no overflow */
        if (write_events(&w, o, events_dir, k, a, b, buf, err) != ENC_OK)
            goto out;
    }
    if (st) {
        st->files = files;
        st->events = o->events;
        st->seconds = now_seconds() - t0;
    }
    status = ENC_OK;
out:
    world_free(&w);
    enc_free(buf);
    return status;
}

/* render — charts and wrapped reports as text: a terminal table, CSV or JSON, into an
 * enc_buf. Table output is sanitised for a terminal (control bytes become spaces, invalid
 * UTF-8 becomes U+FFFD, long names are cut with "…").
 */
#include "render.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

enum { CELL_MAX_WIDTH = 40 }; /* widest name column in table output, in terminal columns */

/* Renderers take `enc_status *rc` and OR each append's status into it (ENC_OK is 0): one
 * check at the end instead of one per append. A failed append leaves the buffer as it
 * was, and the caller discards the whole text when *rc is not ENC_OK. */

/* Minutes with one decimal, rounded half up, from whole seconds: exact integer arithmetic
 * so 135 s is always "2.3" (printf("%.1f", 2.25) would say "2.2"). */
static void format_minutes(int64_t seconds, char out[32])
{
    bool neg = seconds < 0;
    uint64_t s = neg ? (uint64_t)0 - (uint64_t)seconds : (uint64_t)seconds;
    uint64_t tenths = s / 6 + (s % 6 >= 3);
    snprintf(out, 32, "%s%" PRIu64 ".%" PRIu64, neg ? "-" : "", tenths / 10, tenths % 10);
}

/* Decodes one UTF-8 sequence at s (n > 0 bytes left): the code point, or -1 for an
 * invalid or overlong sequence (which then counts as its first byte). */
static int32_t utf8_next(const unsigned char *s, size_t n, size_t *len)
{
    unsigned c = s[0];
    int need;
    int32_t cp, min;
    if (c < 0x80) {
        *len = 1;
        return (int32_t)c;
    } else if ((c & 0xe0) == 0xc0) {
        need = 1, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        need = 2, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        need = 3, cp = c & 0x07, min = 0x10000;
    } else {
        *len = 1;
        return -1;
    }
    *len = 1;
    if ((size_t)need >= n)
        return -1;
    for (int i = 1; i <= need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return -1;
    *len = (size_t)need + 1;
    return cp;
}

/* Terminal columns of a code point: 0 for combining marks, 2 for East Asian wide and
 * emoji, else 1. An approximation of wcwidth without the locale. */
static int cp_width(int32_t cp)
{
    if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0xfe00 && cp <= 0xfe0f))
        return 0;
    if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) || (cp >= 0xac00 && cp <= 0xd7a3) ||
        (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
        (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f) || (cp >= 0x1f900 && cp <= 0x1f9ff) ||
        (cp >= 0x20000 && cp <= 0x3fffd))
        return 2;
    return 1;
}

/* Appends s for a terminal (out may be NULL to measure only): control bytes as spaces,
 * invalid UTF-8 as U+FFFD, cut with "…" when wider than max columns. Returns the width. */
static size_t text_put(enc_buf *out, const char *s, size_t max, enc_status *rc)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), width = 0, full = 0;
    for (size_t i = 0, len; i < n; i += len) { /* first pass: the full width */
        int32_t cp = utf8_next(p + i, n - i, &len);
        full += cp < 0 ? 1 : (size_t)cp_width(cp);
    }
    size_t room = full > max ? max - 1 : full; /* leave a column for the ellipsis */
    for (size_t i = 0, len; i < n; i += len) {
        int32_t cp = utf8_next(p + i, n - i, &len);
        size_t w = cp < 0 ? 1 : (size_t)cp_width(cp);
        if (width + w > room)
            break;
        width += w;
        if (!out)
            continue;
        if (cp < 0)
            *rc |= enc_buf_append(out, "\xef\xbf\xbd", 3);
        else if (cp < 0x20 || cp == 0x7f)
            *rc |= enc_buf_appendc(out, ' ');
        else
            *rc |= enc_buf_append(out, p + i, len);
    }
    if (full > max) {
        width++;
        if (out)
            *rc |= enc_buf_append(out, "\u2026", 3);
    }
    return width;
}

static void pad(enc_buf *out, size_t n, enc_status *rc)
{
    while (n--)
        *rc |= enc_buf_appendc(out, ' ');
}

/* One cell of an aligned table: text at most `width` columns, padded to it. */
static void cell(enc_buf *out, const char *s, size_t width, bool right, bool last, enc_status *rc)
{
    size_t w = text_put(NULL, s, width, rc);
    if (right)
        pad(out, width - w, rc);
    text_put(out, s, width, rc);
    if (!right && !last)
        pad(out, width - w, rc);
    *rc |= last ? enc_buf_appendc(out, '\n') : enc_buf_append(out, "  ", 2);
}

static void csv_field(enc_buf *out, const char *s, bool last, enc_status *rc)
{
    if (s && strpbrk(s, ",\"\r\n")) {
        *rc |= enc_buf_appendc(out, '"');
        for (const char *p = s; *p; p++) {
            if (*p == '"')
                *rc |= enc_buf_appendc(out, '"');
            *rc |= enc_buf_appendc(out, *p);
        }
        *rc |= enc_buf_appendc(out, '"');
    } else if (s) {
        *rc |= enc_buf_append(out, s, strlen(s));
    }
    *rc |= enc_buf_appendc(out, last ? '\n' : ',');
}

/* A JSON string, or null for NULL. */
static void json_str(enc_buf *out, const char *s, enc_status *rc)
{
    if (s)
        *rc |= enc_buf_append_json_string(out, s, strlen(s));
    else
        *rc |= enc_buf_append(out, "null", 4);
}

/* ---- chart rendering ------------------------------------------------------------ */

enum { COL_RANK, COL_KEY, COL_TITLE, COL_ARTIST, COL_PLAYS, COL_LISTENERS, COL_MINUTES, NCOLS };

typedef struct {
    char rank[24], plays[24], listeners[24], minutes[32];
    const char *text[NCOLS];
} chart_cells;

static const char unknown_name[] = "(unknown)";

static void fill_cells(const enc_chart *c, size_t i, bool for_table, chart_cells *cc)
{
    const enc_chart_row *r = &c->rows[i];
    snprintf(cc->rank, sizeof cc->rank, "%zu", i + 1);
    snprintf(cc->plays, sizeof cc->plays, "%" PRId64, r->plays);
    snprintf(cc->listeners, sizeof cc->listeners, "%" PRId64, r->listeners);
    format_minutes(r->seconds, cc->minutes);
    const char *unk = for_table ? unknown_name : NULL;
    cc->text[COL_RANK] = cc->rank;
    cc->text[COL_KEY] = r->key;
    cc->text[COL_TITLE] = r->title ? r->title : unk;
    cc->text[COL_ARTIST] = r->artist ? r->artist : unk;
    cc->text[COL_PLAYS] = cc->plays;
    cc->text[COL_LISTENERS] = cc->listeners;
    cc->text[COL_MINUTES] = cc->minutes;
}

/* The columns shown for this chart, in order; returns how many. */
static size_t chart_columns(const enc_chart *c, int cols[NCOLS], const char *names[NCOLS])
{
    size_t n = 0;
    cols[n] = COL_RANK, names[n++] = "rank";
    if (c->by == ENC_BY_SONG) {
        cols[n] = COL_KEY, names[n++] = "song_id";
        cols[n] = COL_TITLE, names[n++] = "title";
        cols[n] = COL_ARTIST, names[n++] = "artist";
    } else {
        cols[n] = COL_KEY, names[n++] = enc_chart_by_name(c->by);
    }
    cols[n] = COL_PLAYS, names[n++] = "plays";
    cols[n] = COL_LISTENERS, names[n++] = "listeners";
    cols[n] = COL_MINUTES, names[n++] = "minutes";
    return n;
}

static bool numeric(int col)
{
    return col == COL_RANK || col == COL_PLAYS || col == COL_LISTENERS || col == COL_MINUTES;
}

static void render_table(const enc_chart *c, enc_buf *out, enc_status *rc)
{
    *rc |= enc_buf_appendf(out, "%s\n\n", c->title);
    if (c->n == 0) {
        *rc |= enc_buf_appendf(out, "no plays in this period\n");
        return;
    }
    int cols[NCOLS];
    const char *names[NCOLS];
    size_t ncols = chart_columns(c, cols, names), width[NCOLS];
    for (size_t k = 0; k < ncols; k++)
        width[k] = text_put(NULL, names[k], CELL_MAX_WIDTH, rc);
    chart_cells cc;
    for (size_t i = 0; i < c->n; i++) {
        fill_cells(c, i, true, &cc);
        for (size_t k = 0; k < ncols; k++) {
            size_t w = text_put(NULL, cc.text[cols[k]], CELL_MAX_WIDTH, rc);
            if (w > width[k])
                width[k] = w;
        }
    }
    for (size_t k = 0; k < ncols; k++)
        cell(out, names[k], width[k], numeric(cols[k]), k + 1 == ncols, rc);
    for (size_t i = 0; i < c->n; i++) {
        fill_cells(c, i, true, &cc);
        for (size_t k = 0; k < ncols; k++)
            cell(out, cc.text[cols[k]], width[k], numeric(cols[k]), k + 1 == ncols, rc);
    }
}

static void render_csv(const enc_chart *c, enc_buf *out, enc_status *rc)
{
    int cols[NCOLS];
    const char *names[NCOLS];
    size_t ncols = chart_columns(c, cols, names);
    for (size_t k = 0; k < ncols; k++)
        csv_field(out, names[k], k + 1 == ncols, rc);
    chart_cells cc;
    for (size_t i = 0; i < c->n; i++) {
        fill_cells(c, i, false, &cc);
        for (size_t k = 0; k < ncols; k++)
            csv_field(out, cc.text[cols[k]], k + 1 == ncols, rc);
    }
}

static void render_json(const enc_chart *c, enc_buf *out, enc_status *rc)
{
    bool all = c->period.kind == ENC_PERIOD_ALL;
    *rc |= enc_buf_append(out, "{\"title\":", 9);
    json_str(out, c->title, rc);
    *rc |= enc_buf_appendf(out, ",\"by\":\"%s\",\"metric\":\"%s\",\"from\":", enc_chart_by_name(c->by),
                           enc_chart_metric_name(c->metric));
    json_str(out, all ? NULL : c->period.from, rc);
    *rc |= enc_buf_append(out, ",\"to\":", 6);
    json_str(out, all ? NULL : c->period.to, rc);
    *rc |= enc_buf_append(out, ",\"rows\":[", 9);
    int cols[NCOLS];
    const char *names[NCOLS];
    size_t ncols = chart_columns(c, cols, names);
    chart_cells cc;
    for (size_t i = 0; i < c->n; i++) {
        fill_cells(c, i, false, &cc);
        *rc |= enc_buf_append(out, i ? ",\n{" : "\n{", i ? 3 : 2);
        for (size_t k = 0; k < ncols; k++) {
            *rc |= enc_buf_appendf(out, "%s\"%s\":", k ? "," : "", names[k]);
            if (numeric(cols[k]))
                *rc |= enc_buf_append(out, cc.text[cols[k]], strlen(cc.text[cols[k]]));
            else
                json_str(out, cc.text[cols[k]], rc);
        }
        *rc |= enc_buf_appendc(out, '}');
    }
    *rc |= enc_buf_append(out, c->n ? "\n]}\n" : "]}\n", c->n ? 4 : 3);
}

enc_status enc_chart_render(const enc_chart *c, enc_report_format f, enc_buf *out)
{
    enc_status rc = ENC_OK;
    switch (f) {
    case ENC_FORMAT_TABLE:
        render_table(c, out, &rc);
        break;
    case ENC_FORMAT_CSV:
        render_csv(c, out, &rc);
        break;
    case ENC_FORMAT_JSON:
        render_json(c, out, &rc);
        break;
    }
    return rc == ENC_OK ? ENC_OK : ENC_ERROR;
}


/* ---- wrapped -------------------------------------------------------------------- */

static const char *plural(int64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

/* "label" padded to a fixed column, then the value, for the report's summary block. */
static void line_kv(enc_buf *out, const char *label, const char *value, enc_status *rc)
{
    *rc |= enc_buf_appendf(out, "  %-18s ", label);
    text_put(out, value, SIZE_MAX, rc);
    *rc |= enc_buf_appendc(out, '\n');
}

static void render_wrapped_text(const enc_wrapped *w, enc_buf *out, enc_status *rc)
{
    if (w->plays == 0) {
        *rc |= enc_buf_append(out, "No plays by ", 12);
        text_put(out, w->user, CELL_MAX_WIDTH, rc);
        *rc |= enc_buf_appendf(out, " in %04d: nothing to wrap yet.\n", w->year);
        return;
    }
    char num[32];
    text_put(out, w->user, CELL_MAX_WIDTH, rc);
    *rc |= enc_buf_appendf(out, "'s %04d, wrapped\n\n", w->year);
    format_minutes(w->seconds, num);
    line_kv(out, "minutes listened", num, rc);
    snprintf(num, sizeof num, "%" PRId64, w->plays);
    line_kv(out, "plays", num, rc);
    snprintf(num, sizeof num, "%" PRId64, w->songs);
    line_kv(out, "different songs", num, rc);
    snprintf(num, sizeof num, "%" PRId64, w->artists);
    line_kv(out, "different artists", num, rc);
    line_kv(out, "top genre", w->top_genre ? w->top_genre : unknown_name, rc);
    line_kv(out, "most-used device", w->top_device ? w->top_device : unknown_name, rc);

    *rc |= enc_buf_append(out, "\n  top songs\n", 13);
    for (size_t i = 0; i < w->n_songs; i++) {
        const enc_wrapped_song *s = &w->top_songs[i];
        *rc |= enc_buf_appendf(out, "    %zu. ", i + 1);
        if (s->title) {
            text_put(out, s->title, CELL_MAX_WIDTH, rc);
            *rc |= enc_buf_append(out, " \u2014 ", 5);
            text_put(out, s->artist ? s->artist : unknown_name, CELL_MAX_WIDTH, rc);
        } else {
            text_put(out, s->song_id, CELL_MAX_WIDTH, rc);
            *rc |= enc_buf_append(out, " (not in songs.csv)", 19);
        }
        *rc |= enc_buf_appendf(out, " \u00b7 %" PRId64 " %s\n", s->plays, plural(s->plays, "play", "plays"));
    }
    if (w->n_artists) {
        *rc |= enc_buf_append(out, "\n  top artists\n", 15);
        for (size_t i = 0; i < w->n_artists; i++) {
            const enc_wrapped_item *a = &w->top_artists[i];
            *rc |= enc_buf_appendf(out, "    %zu. ", i + 1);
            text_put(out, a->name, CELL_MAX_WIDTH, rc);
            *rc |= enc_buf_appendf(out, " \u00b7 %" PRId64 " %s\n", a->plays, plural(a->plays, "play", "plays"));
        }
    }
}

static void render_wrapped_json(const enc_wrapped *w, enc_buf *out, enc_status *rc)
{
    char minutes[32];
    format_minutes(w->seconds, minutes);
    *rc |= enc_buf_append(out, "{\"user\":", 8);
    json_str(out, w->user, rc);
    *rc |= enc_buf_appendf(out,
                           ",\"year\":%d,\"minutes\":%s,\"plays\":%" PRId64 ",\"songs\":%" PRId64
                           ",\"artists\":%" PRId64 ",\"top_genre\":",
                           w->year, minutes, w->plays, w->songs, w->artists);
    json_str(out, w->top_genre, rc);
    *rc |= enc_buf_append(out, ",\"top_device\":", 14);
    json_str(out, w->top_device, rc);
    *rc |= enc_buf_append(out, ",\"top_songs\":[", 14);
    for (size_t i = 0; i < w->n_songs; i++) {
        const enc_wrapped_song *s = &w->top_songs[i];
        *rc |= enc_buf_appendf(out, "%s{\"rank\":%zu,\"song_id\":", i ? "," : "", i + 1);
        json_str(out, s->song_id, rc);
        *rc |= enc_buf_append(out, ",\"title\":", 9);
        json_str(out, s->title, rc);
        *rc |= enc_buf_append(out, ",\"artist\":", 10);
        json_str(out, s->artist, rc);
        *rc |= enc_buf_appendf(out, ",\"plays\":%" PRId64 "}", s->plays);
    }
    *rc |= enc_buf_append(out, "],\"top_artists\":[", 17);
    for (size_t i = 0; i < w->n_artists; i++) {
        const enc_wrapped_item *a = &w->top_artists[i];
        *rc |= enc_buf_appendf(out, "%s{\"rank\":%zu,\"artist\":", i ? "," : "", i + 1);
        json_str(out, a->name, rc);
        *rc |= enc_buf_appendf(out, ",\"plays\":%" PRId64 "}", a->plays);
    }
    *rc |= enc_buf_append(out, "]}\n", 3);
}

enc_status enc_wrapped_render(const enc_wrapped *w, enc_report_format f, enc_buf *out)
{
    enc_status rc = ENC_OK;
    if (f == ENC_FORMAT_JSON)
        render_wrapped_json(w, out, &rc);
    else if (f == ENC_FORMAT_TABLE)
        render_wrapped_text(w, out, &rc);
    else
        return ENC_ERROR;
    return rc == ENC_OK ? ENC_OK : ENC_ERROR;
}

/* event_json — one-pass JSON object parser for playback events.
 *
 * The record is walked once, front to back. Schema values are sliced out of the input
 * (strings without escapes, numbers, booleans); everything else is validated by an
 * iterative skipper (no recursion, depth-bounded) and remembered as raw (key, value)
 * spans for _rescued_data. Strings are scanned 8 bytes at a time for '"', '\\', control
 * bytes and non-ASCII; only non-ASCII bytes take the UTF-8 validator. The arena is touched
 * only for escaped strings and for joining two or more rescued members.
 */
#include "event_json.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *base; /* start of the record, for byte offsets */
    const char *end;
    enc_event_error *err; /* may be NULL */
    enc_evp_code code;
} parser;

static const char *const field_names[ENC_EV_NFIELDS] = {"user_id", "song_id", "timestamp", "device"};

const char *enc_event_field_name(int field)
{
    return field >= 0 && field < ENC_EV_NFIELDS ? field_names[field] : NULL;
}

/* ---- errors (cold) ---------------------------------------------------------------- */

__attribute__((cold, format(printf, 4, 5))) static void set_error(parser *ps, enc_evp_code code, const char *at,
                                                                  const char *fmt, ...)
{
    ps->code = code;
    if (!ps->err)
        return;
    ps->err->code = code;
    ps->err->offset = (size_t)(at - ps->base);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err->msg, sizeof ps->err->msg, fmt, ap);
    va_end(ap);
}

/* `what` reads as "expected X" or names the fault; returns NULL so callers can `return`. */
__attribute__((cold)) static const char *syntax(parser *ps, const char *at, const char *what)
{
    size_t off = (size_t)(at - ps->base);
    if (at >= ps->end)
        set_error(ps, ENC_EVP_SYNTAX, at, "invalid JSON: %s but the record ends at byte %zu", what, off);
    else
        set_error(ps, ENC_EVP_SYNTAX, at, "invalid JSON: %s at byte %zu", what, off);
    return NULL;
}

__attribute__((cold)) static const char *too_deep(parser *ps, const char *at)
{
    set_error(ps, ENC_EVP_TOO_DEEP, at, "JSON nesting is deeper than %d levels at byte %zu", ENC_EVENT_MAX_DEPTH,
              (size_t)(at - ps->base));
    return NULL;
}

__attribute__((cold)) static void nomem(parser *ps, const char *at)
{
    set_error(ps, ENC_EVP_NOMEM, at, "out of memory while parsing the record at byte %zu", (size_t)(at - ps->base));
}

/* ---- lexical pieces ------------------------------------------------------------------ */

static inline const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (unsigned char)*p <= ' ' && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static inline int is_digit(char c)
{
    return (unsigned)(c - '0') < 10;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* High bit set in each byte of x that is '"', '\\', < 0x20 or >= 0x80. Bytes above the
 * first flagged one may be flagged spuriously (borrows), so only the lowest flag is exact. */
static inline uint64_t str_special(uint64_t x)
{
    uint64_t q = x ^ (ONES * '"');
    uint64_t b = x ^ (ONES * '\\');
    return (((q - ONES) & ~q) | ((b - ONES) & ~b) | ((x - ONES * 0x20) & ~x) | x) & HIGHS;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FIRST_FLAGGED(m) ((size_t)__builtin_ctzll(m) >> 3)
#else
#define FIRST_FLAGGED(m) ((size_t)0) /* the byte loop below finds it */
#endif

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = (unsigned char)p[i];
        unsigned d;
        if (c - '0' < 10)
            d = c - '0';
        else if ((c | 0x20) - 'a' < 6)
            d = (c | 0x20) - 'a' + 10;
        else
            return -1;
        v = v << 4 | (int)d;
    }
    return v;
}

/* One well-formed UTF-8 sequence at p (p[0] >= 0x80): no overlongs, no surrogates, <= U+10FFFF. */
static const char *utf8_seq(parser *ps, const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t avail = (size_t)(ps->end - p);
    unsigned c = u[0];
    if (c >= 0xC2 && c <= 0xDF) {
        if (avail >= 2 && (u[1] & 0xC0) == 0x80)
            return p + 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        if (avail >= 3 && u[1] >= lo && u[1] <= hi && (u[2] & 0xC0) == 0x80)
            return p + 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
        unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        if (avail >= 4 && u[1] >= lo && u[1] <= hi && (u[2] & 0xC0) == 0x80 && (u[3] & 0xC0) == 0x80)
            return p + 4;
    }
    set_error(ps, ENC_EVP_BAD_UTF8, p, "invalid UTF-8 in a JSON string at byte %zu", (size_t)(p - ps->base));
    return NULL;
}

/* A validated escape at p (*p == '\\'); returns the byte after it. */
static const char *scan_escape(parser *ps, const char *p)
{
    ptrdiff_t avail = ps->end - p;
    if (avail < 2)
        return syntax(ps, p, "unfinished escape sequence in a string");
    switch (p[1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        return p + 2;
    case 'u':
        break;
    default:
        return syntax(ps, p, "invalid escape sequence in a string");
    }
    int cp = avail >= 6 ? hex4(p + 2) : -1;
    if (cp < 0)
        return syntax(ps, p, "invalid \\u escape in a string (it needs 4 hex digits)");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        int lo = avail >= 12 && p[6] == '\\' && p[7] == 'u' ? hex4(p + 8) : -1;
        if (lo < 0xDC00 || lo > 0xDFFF)
            return syntax(ps, p, "unpaired UTF-16 surrogate in a \\u escape");
        return p + 12;
    }
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return syntax(ps, p, "unpaired UTF-16 surrogate in a \\u escape");
    return p + 6;
}

/* Validates a string whose opening quote is just before p; returns the byte after the
 * closing quote. *esc is set to 1 when the string holds an escape. */
static const char *scan_string(parser *ps, const char *p, int *esc)
{
    const char *end = ps->end;
    for (;;) {
        while (end - p >= 8) {
            uint64_t x;
            memcpy(&x, p, 8);
            uint64_t m = str_special(x);
            if (m) {
                p += FIRST_FLAGGED(m);
                break;
            }
            p += 8;
        }
        if (p >= end)
            return syntax(ps, p, "expected '\"' to close a string");
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p + 1;
        if (c == '\\') {
            p = scan_escape(ps, p);
            *esc = 1;
        } else if (c >= 0x80) {
            p = utf8_seq(ps, p);
        } else if (c < 0x20) {
            return syntax(ps, p, "raw control character in a string (it must be escaped)");
        } else {
            p++;
        }
        if (!p)
            return NULL;
    }
}

static char *put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | cp >> 6);
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | cp >> 12);
        *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | cp >> 18);
        *o++ = (char)(0x80 | (cp >> 12 & 0x3F));
        *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* Decodes the string body [p, q), already validated by scan_string, into out (which has
 * room for q - p bytes: no escape decodes to more bytes than it is written with). */
static size_t unescape(const char *p, const char *q, char *out)
{
    char *o = out;
    while (p < q) {
        const char *bs = memchr(p, '\\', (size_t)(q - p));
        size_t run = (size_t)((bs ? bs : q) - p);
        memcpy(o, p, run);
        o += run;
        p += run;
        if (!bs)
            break;
        switch (p[1]) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            uint32_t cp = (uint32_t)hex4(p + 2);
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)hex4(p + 8) - 0xDC00);
                p += 6;
            }
            o = put_utf8(o, cp);
            p += 6;
            continue;
        }
        default: *o++ = p[1]; break; /* '"', '\\', '/' */
        }
        p += 2;
    }
    return (size_t)(o - out);
}

static const char *scan_number(parser *ps, const char *p)
{
    const char *end = ps->end;
    if (p < end && *p == '-')
        p++;
    if (p >= end || !is_digit(*p))
        return syntax(ps, p, "expected a digit in a number");
    if (*p == '0') {
        p++;
        if (p < end && is_digit(*p))
            return syntax(ps, p, "leading zero in a number");
    } else {
        while (p < end && is_digit(*p))
            p++;
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !is_digit(*p))
            return syntax(ps, p, "expected a digit after the decimal point");
        while (p < end && is_digit(*p))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || !is_digit(*p))
            return syntax(ps, p, "expected a digit in the exponent of a number");
        while (p < end && is_digit(*p))
            p++;
    }
    return p;
}

static const char *scan_literal(parser *ps, const char *p, const char *word, size_t len)
{
    if ((size_t)(ps->end - p) >= len && memcmp(p, word, len) == 0)
        return p + len;
    return syntax(ps, p, "invalid literal (expected true, false or null)");
}

/* Validates one JSON value at p (after whitespace) nested inside `depth` containers;
 * returns the byte after it. Iterative: a bit per level says object (1) or array (0). */
static const char *skip_value(parser *ps, const char *p, int depth)
{
    const char *end = ps->end;
    const int base = depth;
    uint64_t is_obj = 0; /* bit (depth - base - 1) describes the container at `depth` */
    int esc;
value:
    p = skip_ws(p, end);
    if (p >= end)
        return syntax(ps, p, "expected a JSON value");
    switch (*p) {
    case '{':
        if (++depth > ENC_EVENT_MAX_DEPTH)
            return too_deep(ps, p);
        is_obj |= (uint64_t)1 << (depth - base - 1);
        p = skip_ws(p + 1, end);
        if (p < end && *p == '}') {
            p++;
            depth--;
            goto after;
        }
        goto key;
    case '[':
        if (++depth > ENC_EVENT_MAX_DEPTH)
            return too_deep(ps, p);
        is_obj &= ~((uint64_t)1 << (depth - base - 1));
        p = skip_ws(p + 1, end);
        if (p < end && *p == ']') {
            p++;
            depth--;
            goto after;
        }
        goto value;
    case '"':
        p = scan_string(ps, p + 1, &esc);
        break;
    case 't':
        p = scan_literal(ps, p, "true", 4);
        break;
    case 'f':
        p = scan_literal(ps, p, "false", 5);
        break;
    case 'n':
        p = scan_literal(ps, p, "null", 4);
        break;
    default:
        if (*p != '-' && !is_digit(*p))
            return syntax(ps, p, "expected a JSON value");
        p = scan_number(ps, p);
        break;
    }
    if (!p)
        return NULL;
after:
    if (depth == base)
        return p;
    p = skip_ws(p, end);
    if (is_obj >> (depth - base - 1) & 1) {
        if (p < end && *p == ',') {
            p = skip_ws(p + 1, end);
            goto key;
        }
        if (p < end && *p == '}') {
            p++;
            depth--;
            goto after;
        }
        return syntax(ps, p, "expected ',' or '}' after an object member");
    }
    if (p < end && *p == ',') {
        p++;
        goto value;
    }
    if (p < end && *p == ']') {
        p++;
        depth--;
        goto after;
    }
    return syntax(ps, p, "expected ',' or ']' after an array element");
key:
    if (p >= end || *p != '"')
        return syntax(ps, p, "expected '\"' to start an object key");
    p = scan_string(ps, p + 1, &esc);
    if (!p)
        return NULL;
    p = skip_ws(p, end);
    if (p >= end || *p != ':')
        return syntax(ps, p, "expected ':' after object key");
    p++;
    goto value;
}

/* ---- keys ---------------------------------------------------------------------------- */

static inline int match_key(const char *s, size_t n)
{
    switch (n) {
    case 6:
        return memcmp(s, "device", 6) == 0 ? ENC_EV_DEVICE : -1;
    case 7:
        if (memcmp(s, "user_id", 7) == 0)
            return ENC_EV_USER_ID;
        return memcmp(s, "song_id", 7) == 0 ? ENC_EV_SONG_ID : -1;
    case 9:
        return memcmp(s, "timestamp", 9) == 0 ? ENC_EV_TIMESTAMP : -1;
    default:
        return -1;
    }
}

/* Escaped key body [p, q). Schema names are at most 9 ASCII bytes, i.e. at most 54 escaped
 * bytes, so a longer key cannot match and a small stack buffer is enough. */
static int match_escaped_key(const char *p, const char *q)
{
    char tmp[64];
    if (q - p > (ptrdiff_t)sizeof tmp)
        return -1;
    return match_key(tmp, unescape(p, q, tmp));
}

/* ---- rescued members ---------------------------------------------------------------- */

typedef struct {
    const char *k, *v; /* raw key text (with quotes) and raw value text */
    size_t kn, vn;
} member;

#define RESCUE_INLINE 8

/* Members wait here as spans; they are copied into the arena only when there is more than
 * one to join (or more than RESCUE_INLINE, when the pending ones are flushed to buf). */
typedef struct {
    member m[RESCUE_INLINE];
    int nm;
    char *buf; /* arena; holds the members flushed so far */
    size_t len, cap;
} rescue_list;

static int rescue_flush(rescue_list *rs, enc_arena *arena, int grow)
{
    size_t need = rs->len;
    for (int i = 0; i < rs->nm; i++)
        need += 1 + rs->m[i].kn + 1 + rs->m[i].vn;
    if (need > rs->cap) {
        size_t cap = grow && need < 2 * rs->cap ? 2 * rs->cap : need;
        char *nb = arena ? enc_arena_alloc(arena, cap) : NULL;
        if (!nb)
            return -1;
        if (rs->len)
            memcpy(nb, rs->buf, rs->len);
        rs->buf = nb;
        rs->cap = cap;
    }
    char *o = rs->buf + rs->len;
    for (int i = 0; i < rs->nm; i++) {
        if (o != rs->buf)
            *o++ = ',';
        memcpy(o, rs->m[i].k, rs->m[i].kn);
        o += rs->m[i].kn;
        *o++ = ':';
        memcpy(o, rs->m[i].v, rs->m[i].vn);
        o += rs->m[i].vn;
    }
    rs->len = (size_t)(o - rs->buf);
    rs->nm = 0;
    return 0;
}

static int rescue_add(rescue_list *rs, enc_arena *arena, const char *k, const char *kend, const char *v,
                      const char *vend)
{
    if (rs->nm == RESCUE_INLINE && rescue_flush(rs, arena, 1) != 0)
        return -1;
    member *m = &rs->m[rs->nm++];
    m->k = k;
    m->kn = (size_t)(kend - k);
    m->v = v;
    m->vn = (size_t)(vend - v);
    return 0;
}

static int rescue_finish(rescue_list *rs, enc_arena *arena, enc_slice *out)
{
    if (!rs->buf && rs->nm == 0)
        return 0;
    /* One member written as `"k":v` in the input: hand out the input bytes themselves. */
    if (!rs->buf && rs->nm == 1 && rs->m[0].v == rs->m[0].k + rs->m[0].kn + 1) {
        *out = enc_slice_make(rs->m[0].k, rs->m[0].kn + 1 + rs->m[0].vn);
        return 0;
    }
    if (rescue_flush(rs, arena, 0) != 0)
        return -1;
    *out = enc_slice_make(rs->buf, rs->len);
    return 0;
}

/* ---- the record ---------------------------------------------------------------------- */

/* The top-level value is not an object: say what it is, if it is valid JSON at all. */
__attribute__((cold)) static void not_object(parser *ps, const char *p)
{
    const char *what;
    if (ps->end - p >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
        syntax(ps, p, "unexpected UTF-8 byte order mark (the reader must strip it)");
        return;
    }
    switch (*p) {
    case '[': what = "a JSON array"; break;
    case '"': what = "a JSON string"; break;
    case 't':
    case 'f': what = "a JSON boolean"; break;
    case 'n': what = "JSON null"; break;
    default:
        if (*p != '-' && !is_digit(*p)) {
            syntax(ps, p, "expected '{' to start a JSON object");
            return;
        }
        what = "a JSON number";
        break;
    }
    const char *q = skip_value(ps, p, 0);
    if (!q)
        return;
    q = skip_ws(q, ps->end);
    if (q < ps->end) {
        syntax(ps, q, "unexpected data after the JSON value");
        return;
    }
    set_error(ps, ENC_EVP_NOT_OBJECT, p, "record is %s, not a JSON object", what);
}

/* Parses the value of member k..kend (f: its schema field, or -1) at p, after the
 * whitespace, into ev or the rescued members; returns the byte after the value, or NULL
 * with the error in ps. A schema key seen before is rescued, as is an object or array. */
static const char *member_value(parser *ps, enc_arena *arena, rescue_list *rs, enc_event *ev, unsigned *seen, int f,
                                const char *k, const char *kend, const char *p)
{
    const char *end = ps->end, *v = p;
    if (f < 0 || (*seen & 1u << f)) {
        p = skip_value(ps, p, 1);
        if (p && rescue_add(rs, arena, k, kend, v, p) != 0) {
            nomem(ps, v);
            return NULL;
        }
        return p;
    }
    *seen |= 1u << f;
    switch (p < end ? *p : '\0') {
    case '"': {
        int vesc = 0;
        p = scan_string(ps, p + 1, &vesc);
        if (!p)
            return NULL;
        size_t rawn = (size_t)(p - v - 2);
        if (!vesc) {
            ev->field[f] = enc_slice_make(v + 1, rawn);
        } else {
            char *d = arena ? enc_arena_alloc(arena, rawn) : NULL;
            if (!d) {
                nomem(ps, v);
                return NULL;
            }
            ev->field[f] = enc_slice_make(d, unescape(v + 1, p - 1, d));
        }
        ev->is_string[f] = 1;
        return p;
    }
    case 'n':
        return scan_literal(ps, p, "null", 4);
    case 't':
    case 'f':
        p = *p == 't' ? scan_literal(ps, p, "true", 4) : scan_literal(ps, p, "false", 5);
        break;
    case '{':
    case '[':
        p = skip_value(ps, p, 1);
        if (p && rescue_add(rs, arena, k, kend, v, p) != 0) {
            nomem(ps, v);
            return NULL;
        }
        return p;
    default:
        if (p >= end || (*p != '-' && !is_digit(*p)))
            return syntax(ps, p, "expected a JSON value");
        p = scan_number(ps, p);
        break;
    }
    if (p)
        ev->field[f] = enc_slice_make(v, (size_t)(p - v));
    return p;
}

/* The full parser: any record, every error with its message. */
static enc_evp_code parse_full(const char *p, size_t n, enc_arena *arena, enc_event *ev, enc_event_error *err)
{
    parser ps = {p, p + n, err, ENC_EVP_OK};
    const char *end = ps.end;
    rescue_list rs;
    unsigned seen = 0;

    rs.nm = 0;
    rs.buf = NULL;
    rs.len = rs.cap = 0;
    memset(ev, 0, sizeof *ev);

    p = skip_ws(p, end);
    if (p >= end) {
        set_error(&ps, ENC_EVP_SYNTAX, p, "invalid JSON: empty record");
        goto fail;
    }
    if (*p != '{') {
        not_object(&ps, p);
        goto fail;
    }
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') {
        p++;
        goto done;
    }
    for (;;) {
        if (p >= end || *p != '"') {
            syntax(&ps, p, "expected '\"' to start an object key");
            goto fail;
        }
        const char *k = p;
        int esc = 0;
        p = scan_string(&ps, p + 1, &esc);
        if (!p)
            goto fail;
        const char *kend = p;
        int f = esc ? match_escaped_key(k + 1, kend - 1) : match_key(k + 1, (size_t)(kend - k - 2));
        p = skip_ws(p, end);
        if (p >= end || *p != ':') {
            syntax(&ps, p, "expected ':' after object key");
            goto fail;
        }
        p = member_value(&ps, arena, &rs, ev, &seen, f, k, kend, skip_ws(p + 1, end));
        if (!p)
            goto fail;
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p = skip_ws(p + 1, end);
            continue;
        }
        if (p < end && *p == '}') {
            p++;
            break;
        }
        syntax(&ps, p, "expected ',' or '}' after an object member");
        goto fail;
    }
done:
    p = skip_ws(p, end);
    if (p < end) {
        syntax(&ps, p, "unexpected data after the JSON object");
        goto fail;
    }
    if (rescue_finish(&rs, arena, &ev->rescued) != 0) {
        nomem(&ps, end);
        goto fail;
    }
    return ENC_EVP_OK;
fail:
    memset(ev, 0, sizeof *ev);
    return ps.code;
}

/* ---- the fast path --------------------------------------------------------------------- */

/* Nearly every record is short and holds no backslash, no control byte and no byte >= 0x80.
 * Then every '"' opens or closes a string, each string is valid as it stands, and the
 * closing quote of a string is simply the next '"': one pass of vector compares finds
 * them all, and the parse becomes a walk from quote to quote. Records of any other kind,
 * and every record the walk finds fault with, go to parse_full from the start, so results
 * and error messages are the full parser's by construction. */
#define FAST_MAX 512 /* longer records take the full parser */

typedef struct {
    uint64_t quote[FAST_MAX / 64]; /* bit i: byte i is '"' */
    size_t nwords;
} quote_map;

#if defined(__SSE2__)
#include <emmintrin.h>

/* Quote bits of 16 bytes; *odd gets a bit for each '\\', byte < 0x20 or byte >= 0x80. */
static inline uint32_t quotes16(const char *p, uint32_t *odd)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i bs = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
    __m128i low = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)); /* signed: bytes >= 0x80 too */
    *odd |= (uint32_t)_mm_movemask_epi8(_mm_or_si128(bs, low));
    return (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
}
#else
static inline uint32_t quotes16(const char *p, uint32_t *odd)
{
    uint32_t q = 0;
    for (int i = 0; i < 16; i++) {
        unsigned char c = (unsigned char)p[i];
        q |= (uint32_t)(c == '"') << i;
        *odd |= (uint32_t)(c == '\\' || c < 0x20 || c >= 0x80);
    }
    return q;
}
#endif

/* Maps the quotes of p[0..n) (n <= FAST_MAX); 0 when the record holds an odd byte. */
static int map_quotes(const char *p, size_t n, quote_map *qm)
{
    uint32_t odd = 0;
    size_t i = 0;
    qm->nwords = (n + 63) / 64;
    memset(qm->quote, 0, qm->nwords * sizeof qm->quote[0]);
    for (; n - i >= 16; i += 16)
        qm->quote[i >> 6] |= (uint64_t)quotes16(p + i, &odd) << (i & 63);
    if (i < n && n >= 16) { /* the last 16 bytes, shifted past the ones already mapped */
        qm->quote[i >> 6] |= (uint64_t)(quotes16(p + n - 16, &odd) >> (16 - (n - i))) << (i & 63);
    } else if (i < n) {
        char tail[16];
        memset(tail, ' ', sizeof tail);
        memcpy(tail, p + i, n - i);
        qm->quote[i >> 6] |= (uint64_t)quotes16(tail, &odd) << (i & 63);
    }
    return odd == 0;
}

/* The first '"' at or after base[i], or NULL. */
static inline const char *next_quote(const quote_map *qm, const char *base, size_t i)
{
    size_t w = i >> 6;
    if (w >= qm->nwords)
        return NULL;
    uint64_t bits = qm->quote[w] & (~(uint64_t)0 << (i & 63));
    while (!bits) {
        if (++w >= qm->nwords)
            return NULL;
        bits = qm->quote[w];
    }
    return base + w * 64 + (size_t)__builtin_ctzll(bits);
}

/* ENC_EVP_OK with *ev filled as parse_full fills it, or -1: ask parse_full. */
static int parse_fast(const char *base, size_t n, enc_arena *arena, enc_event *ev)
{
    quote_map qm;
    if (n > FAST_MAX || !map_quotes(base, n, &qm))
        return -1;
    parser ps = {base, base + n, NULL, ENC_EVP_OK};
    const char *p = base, *end = ps.end;
    rescue_list rs;
    unsigned seen = 0;

    rs.nm = 0;
    rs.buf = NULL;
    rs.len = rs.cap = 0;
    memset(ev, 0, sizeof *ev);
    p = skip_ws(p, end);
    if (p >= end || *p != '{')
        return -1;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') {
        p++;
    } else {
        for (;;) {
            if (p >= end || *p != '"')
                return -1;
            const char *k = p, *q = next_quote(&qm, base, (size_t)(p + 1 - base));
            if (!q)
                return -1;
            const char *kend = q + 1;
            int f = match_key(k + 1, (size_t)(q - k - 1));
            p = skip_ws(kend, end);
            if (p >= end || *p != ':')
                return -1;
            p = skip_ws(p + 1, end);
            if (f >= 0 && !(seen & 1u << f) && p < end && *p == '"') { /* the common member */
                q = next_quote(&qm, base, (size_t)(p + 1 - base));
                if (!q)
                    return -1;
                seen |= 1u << f;
                ev->field[f] = enc_slice_make(p + 1, (size_t)(q - p - 1));
                ev->is_string[f] = 1;
                p = q + 1;
            } else if (!(p = member_value(&ps, arena, &rs, ev, &seen, f, k, kend, p))) {
                return -1;
            }
            p = skip_ws(p, end);
            if (p < end && *p == ',') {
                p = skip_ws(p + 1, end);
                continue;
            }
            if (p < end && *p == '}') {
                p++;
                break;
            }
            return -1;
        }
    }
    if (skip_ws(p, end) < end || rescue_finish(&rs, arena, &ev->rescued) != 0)
        return -1;
    return ENC_EVP_OK;
}

enc_evp_code enc_event_parse(const char *p, size_t n, enc_arena *arena, enc_event *ev, enc_event_error *err)
{
    if (!p) /* (NULL, 0): an empty record, without arithmetic on a null pointer */
        p = "", n = 0;
    if (parse_fast(p, n, arena, ev) == ENC_EVP_OK)
        return ENC_EVP_OK;
    return parse_full(p, n, arena, ev, err);
}

enc_evp_code enc_event_parse_full(const char *p, size_t n, enc_arena *arena, enc_event *ev, enc_event_error *err)
{
    if (!p)
        p = "", n = 0;
    return parse_full(p, n, arena, ev, err);
}

int enc_event_parse_fast(const char *p, size_t n, enc_arena *arena, enc_event *ev)
{
    if (!p)
        p = "", n = 0;
    return parse_fast(p, n, arena, ev);
}

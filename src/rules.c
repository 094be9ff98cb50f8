/* rules — the rules file parser (see rules.h). */
#include "rules.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "batch.h"
#include "timestamp.h"

const char ENC_RULES_DEFAULT_TEXT[] =
    "# encore's default rules: all warn, so they count problems and change nothing.\n"
    "warn expect_column_values_to_exist_in          song_id\n"
    "warn expect_column_values_to_exist_in          user_id\n"
    "warn expect_column_values_to_not_be_null       device\n"
    "warn expect_column_values_to_be_between        event_time  max=now+1d\n"
    "warn expect_column_values_to_be_between        duration    min=1\n"
    "warn expect_column_value_lengths_to_be_between user_id     min=1 max=128\n";

static const char *const action_names[] = {"warn", "quarantine", "fail"};

static const char *const exp_names[] = {
    [ENC_EXP_NOT_NULL] = "expect_column_values_to_not_be_null",
    [ENC_EXP_IN_SET] = "expect_column_values_to_be_in_set",
    [ENC_EXP_MATCH_REGEX] = "expect_column_values_to_match_regex",
    [ENC_EXP_BETWEEN] = "expect_column_values_to_be_between",
    [ENC_EXP_EXIST_IN] = "expect_column_values_to_exist_in",
    [ENC_EXP_LENGTHS_BETWEEN] = "expect_column_value_lengths_to_be_between",
    [ENC_EXP_UNIQUE] = "expect_column_values_to_be_unique",
};

static const char *const col_names[ENC_RCOL_N] = {
    [ENC_COL_SONG_ID] = "song_id",   [ENC_COL_USER_ID] = "user_id", [ENC_COL_DEVICE] = "device",
    [ENC_COL_TIMESTAMP] = "timestamp", [ENC_COL_RESCUED] = "_rescued_data", [ENC_COL_COUNTRY] = "country",
    [ENC_COL_SUBSCRIPTION] = "subscription", [ENC_COL_TITLE] = "title", [ENC_COL_ARTIST] = "artist",
    [ENC_COL_GENRE] = "genre", [ENC_RCOL_DURATION] = "duration", [ENC_RCOL_EVENT_TIME] = "event_time",
};

const char *enc_rule_action_name(enc_rule_action a)
{
    return action_names[a];
}

const char *enc_expectation_name(enc_expectation e)
{
    return exp_names[e];
}

const char *enc_rule_column_name(int col)
{
    return col >= 0 && col < ENC_RCOL_N ? col_names[col] : "?";
}

/* ---- one line ------------------------------------------------------------------- */

enum { MAX_TOKENS = 16 };

typedef struct {
    char buf[ENC_RULES_LINE_MAX + 1]; /* unquoted tokens, NUL-separated */
    char *tok[MAX_TOKENS];
    int ntok;
} line_tokens;

/* Splits a line into tokens; a token may contain "quoted text" (for values with spaces
 * or #). A # at the start of a token begins a comment. */
static enc_status tokenize(const char *p, size_t n, line_tokens *lt, const char **why)
{
    size_t i = 0, o = 0;
    lt->ntok = 0;
    for (;;) {
        while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
            i++;
        if (i == n || p[i] == '#')
            return ENC_OK;
        if (lt->ntok == MAX_TOKENS)
            return *why = "too many words (at most 16)", ENC_ERROR;
        lt->tok[lt->ntok++] = lt->buf + o;
        bool quoted = false;
        for (; i < n && (quoted || (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')); i++) {
            char c = p[i];
            if (c == '\0')
                return *why = "NUL byte in the line", ENC_ERROR;
            if (c == '"') {
                quoted = !quoted;
                continue;
            }
            if (quoted && c == '\\' && i + 1 < n && (p[i + 1] == '"' || p[i + 1] == '\\'))
                c = p[++i];
            lt->buf[o++] = c;
        }
        if (quoted)
            return *why = "unclosed double quote", ENC_ERROR;
        lt->buf[o++] = '\0';
    }
}

static int find_name(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (names[i] && strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

typedef struct {
    const char *file;
    int line;
    enc_err *err;
} ctx;

static enc_status bad(const ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static enc_status bad(const ctx *c, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return enc_err_set(c->err, "%s:%d: %s", c->file, c->line, msg);
}

static enc_status parse_columns(const ctx *c, enc_rule *r, const char *spec)
{
    char tmp[ENC_RULES_LINE_MAX + 1];
    snprintf(tmp, sizeof tmp, "%s", spec);
    char *save = NULL;
    r->ncols = 0;
    for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int col = find_name(t, col_names, ENC_RCOL_N);
        if (col < 0)
            return bad(c, "unknown column '%s'; use song_id, user_id, device, timestamp, _rescued_data, country, "
                          "subscription, title, artist, genre, duration or event_time", t);
        if (r->ncols == ENC_RULES_KEY_COLS)
            return bad(c, "at most %d columns in one key", ENC_RULES_KEY_COLS);
        r->cols[r->ncols++] = col;
    }
    if (r->ncols == 0)
        return bad(c, "no column named");
    if (r->ncols > 1 && r->kind != ENC_EXP_UNIQUE)
        return bad(c, "only expect_column_values_to_be_unique takes several columns (a,b)");
    return ENC_OK;
}

/* "now", "now+1d", "now-30d" (units s m h d w); the offset in µs. */
static enc_status parse_relative(const char *s, int64_t *us)
{
    if (strcmp(s, "now") == 0)
        return *us = 0, ENC_OK;
    if (strncmp(s, "now", 3) != 0 || (s[3] != '+' && s[3] != '-'))
        return ENC_ERROR;
    char *end;
    errno = 0;
    long long v = strtoll(s + 4, &end, 10);
    if (end == s + 4 || errno || v < 0 || v > 100000 || !*end || end[1])
        return ENC_ERROR;
    static const char units[] = "smhdw";
    static const int64_t secs[] = {1, 60, 3600, 86400, 604800};
    const char *u = strchr(units, *end);
    if (!u)
        return ENC_ERROR;
    *us = (int64_t)v * secs[u - units] * ENC_US_PER_SEC * (s[3] == '-' ? -1 : 1);
    return ENC_OK;
}

static enc_status parse_bound(const ctx *c, const enc_rule *r, const char *key, const char *v, enc_rule_bound *b)
{
    b->set = true;
    if (r->kind == ENC_EXP_BETWEEN && r->cols[0] == ENC_RCOL_EVENT_TIME) {
        if (parse_relative(v, &b->us) == ENC_OK)
            return b->relative = true, ENC_OK;
        if (enc_ts_parse_iso(v, strlen(v), &b->us) == ENC_OK)
            return ENC_OK;
        return bad(c, "%s='%s' is not a time; use now, now+1d, now-30d (s, m, h, d, w) or 2025-01-01T00:00:00Z",
                   key, v);
    }
    char *end;
    errno = 0;
    b->num = strtod(v, &end);
    if (end == v || *end || errno || !isfinite(b->num))
        return bad(c, "%s='%s' is not a number", key, v);
    if (r->kind == ENC_EXP_LENGTHS_BETWEEN && (b->num < 0 || b->num != floor(b->num)))
        return bad(c, "%s='%s' must be a whole number >= 0", key, v);
    return ENC_OK;
}

static enc_status parse_set(const ctx *c, enc_rule *r, const char *v)
{
    size_t n = 1;
    for (const char *p = v; *p; p++)
        n += *p == ',';
    if (n > ENC_RULES_SET_MAX)
        return bad(c, "values= has more than %d values", ENC_RULES_SET_MAX);
    r->set = enc_calloc(n, sizeof *r->set);
    if (!r->set)
        return bad(c, "out of memory");
    const char *start = v;
    for (const char *p = v;; p++) {
        if (*p != ',' && *p != '\0')
            continue;
        char *s = enc_strndup(start, (size_t)(p - start));
        if (!s)
            return bad(c, "out of memory");
        r->set[r->nset++] = enc_slice_make(s, (size_t)(p - start));
        if (*p == '\0')
            break;
        start = p + 1;
    }
    return ENC_OK;
}

/* The length of a bracket expression starting at p ('['), or 0 when it does not close. */
static size_t bracket_len(const char *p)
{
    size_t i = 1;
    if (p[i] == '^')
        i++;
    if (p[i] == ']')
        i++; /* a leading ']' is a member */
    for (; p[i]; i++)
        if (p[i] == ']')
            return i + 1;
    return 0;
}

/* The largest number in a {m,n} bound starting at p ('{'); *end: its '}' (or the NUL). */
static long bound_of(const char *p, const char **end)
{
    long most = 0, cur = 0;
    for (p++; *p && *p != '}'; p++) {
        cur = *p >= '0' && *p <= '9' ? (cur * 10 + (*p - '0') > 100000 ? 100000 : cur * 10 + (*p - '0')) : 0;
        if (cur > most)
            most = cur;
    }
    *end = *p ? p : p - 1;
    return most;
}

/* glibc's regcomp copies a repeated subexpression once per repetition (x+ is xx*, x{n} is
 * n copies), so nested or stacked repetitions make it allocate without bound
 * (fuzz_rules: "a+++...+" took 2 GB). This bounds the copies before compiling: each
 * sequence costs the sum of its atoms, a group the cost of its contents, a repetition
 * multiplies the atom before it. Returns why a pattern is refused, or NULL. */
static const char *regex_too_costly(const char *v)
{
    enum { DEPTH = 16 };
    if (strlen(v) > ENC_RULES_REGEX_MAX)
        return "is longer than " ENC_STR(ENC_RULES_REGEX_MAX) " bytes";
    double sum[DEPTH] = {0}, last = 0;
    int d = 0;
    bool after_repeat = false;
    for (const char *p = v; *p; p++) {
        bool repeat = *p == '*' || *p == '?' || *p == '+' || *p == '{';
        if (repeat && after_repeat)
            return "repeats a repetition (as in a++ or a*{2}); write it once";
        after_repeat = repeat;
        if (*p == '+') {
            sum[d] += last;
        } else if (*p == '{') {
            long n = bound_of(p, &p);
            if (n > ENC_RULES_REGEX_REPEAT_MAX)
                return "repeats more than {" ENC_STR(ENC_RULES_REGEX_REPEAT_MAX) "} times";
            sum[d] += last * (double)n;
        } else if (*p == '(') {
            if (++d == DEPTH)
                return "nests groups deeper than 15";
            sum[d] = last = 0;
        } else if (*p == ')' && d > 0) {
            last = sum[d--] + 1;
            sum[d] += last;
        } else if (!repeat) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '[' && bracket_len(p))
                p += bracket_len(p) - 1;
            last = 1;
            sum[d] += 1;
        }
    }
    return sum[0] > ENC_RULES_REGEX_NODES_MAX ? "would compile to too large an automaton; simplify its repetitions"
                                              : NULL;
}

static enc_status parse_regex(const ctx *c, enc_rule *r, const char *v)
{
    const char *why = regex_too_costly(v);
    if (why)
        return bad(c, "regex '%.64s' %s", v, why);
    int rc = regcomp(&r->re, v, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char msg[128];
        regerror(rc, &r->re, msg, sizeof msg);
        return bad(c, "regex '%s' does not compile: %s", v, msg);
    }
    r->has_re = true;
    return ENC_OK;
}

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > ENC_RULES_NAME_MAX)
        return false;
    for (; *s; s++)
        if (!(*s == '_' || *s == '-' || *s == '.' || *s == ':' || (*s >= '0' && *s <= '9') ||
              (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
            return false;
    return true;
}

/* Which keys each expectation takes (besides name=). */
static bool key_allowed(enc_expectation e, const char *k)
{
    switch (e) {
    case ENC_EXP_IN_SET: return strcmp(k, "values") == 0;
    case ENC_EXP_MATCH_REGEX: return strcmp(k, "regex") == 0;
    case ENC_EXP_BETWEEN:
    case ENC_EXP_LENGTHS_BETWEEN: return strcmp(k, "min") == 0 || strcmp(k, "max") == 0;
    case ENC_EXP_EXIST_IN: return strcmp(k, "in") == 0;
    default: return false;
    }
}

static enc_status parse_arg(const ctx *c, enc_rule *r, char *tok)
{
    char *eq = strchr(tok, '=');
    if (!eq || eq == tok)
        return bad(c, "'%s' is not key=value", tok);
    *eq = '\0';
    const char *k = tok, *v = eq + 1;
    bool is_name = strcmp(k, "name") == 0;
    if (!is_name && !key_allowed(r->kind, k))
        return bad(c, "%s takes no argument '%s'", exp_names[r->kind], k);
    bool dup = (is_name && r->name) || (!strcmp(k, "values") && r->set) || (!strcmp(k, "regex") && r->has_re) ||
               (!strcmp(k, "min") && r->min.set) || (!strcmp(k, "max") && r->max.set) ||
               (!strcmp(k, "in") && r->has_ref);
    if (dup)
        return bad(c, "%s= given twice", k);
    if (is_name) {
        if (!name_ok(v))
            return bad(c, "name '%s' must be 1-%d letters, digits or _-.:", v, ENC_RULES_NAME_MAX);
        return (r->name = enc_strdup(v)) ? ENC_OK : bad(c, "out of memory");
    }
    if (!strcmp(k, "values"))
        return parse_set(c, r, v);
    if (!strcmp(k, "regex"))
        return parse_regex(c, r, v);
    if (!strcmp(k, "in")) {
        if (strcmp(v, "songs") && strcmp(v, "users"))
            return bad(c, "in='%s': use in=songs (songs.csv song_id) or in=users (users.csv user_id)", v);
        r->ref = strcmp(v, "songs") == 0 ? ENC_REF_SONGS : ENC_REF_USERS;
        r->has_ref = true;
        return ENC_OK;
    }
    return parse_bound(c, r, k, v, !strcmp(k, "min") ? &r->min : &r->max);
}

/* What a complete rule still needs once all its arguments are read. */
static enc_status finish_rule(const ctx *c, enc_rule *r)
{
    int col = r->cols[0];
    switch (r->kind) {
    case ENC_EXP_IN_SET:
        if (!r->set)
            return bad(c, "expect_column_values_to_be_in_set needs values=a,b,c");
        break;
    case ENC_EXP_MATCH_REGEX:
        if (!r->has_re)
            return bad(c, "expect_column_values_to_match_regex needs regex=EXPR (POSIX extended)");
        break;
    case ENC_EXP_BETWEEN:
        if (col != ENC_RCOL_DURATION && col != ENC_RCOL_EVENT_TIME)
            return bad(c, "expect_column_values_to_be_between works on duration or event_time, not %s",
                       col_names[col]);
        /* fall through */
    case ENC_EXP_LENGTHS_BETWEEN:
        if (!r->min.set && !r->max.set)
            return bad(c, "%s needs min=, max= or both", exp_names[r->kind]);
        if (r->min.set && r->max.set && r->min.relative == r->max.relative &&
            (r->min.num > r->max.num || r->min.us > r->max.us))
            return bad(c, "min is greater than max");
        break;
    case ENC_EXP_EXIST_IN:
        if (!r->has_ref && col != ENC_COL_SONG_ID && col != ENC_COL_USER_ID)
            return bad(c, "expect_column_values_to_exist_in on %s needs in=songs or in=users", col_names[col]);
        if (!r->has_ref)
            r->ref = col == ENC_COL_SONG_ID ? ENC_REF_SONGS : ENC_REF_USERS;
        break;
    default:
        break;
    }
    if ((r->kind == ENC_EXP_IN_SET || r->kind == ENC_EXP_MATCH_REGEX || r->kind == ENC_EXP_EXIST_IN) &&
        col == ENC_RCOL_DURATION)
        return bad(c, "%s works on text columns, not duration", exp_names[r->kind]);
    if (!r->name && !(r->name = enc_strdup(exp_names[r->kind])))
        return bad(c, "out of memory");
    return ENC_OK;
}

static void rule_release(enc_rule *r)
{
    enc_free(r->name);
    enc_free(r->column);
    for (size_t i = 0; i < r->nset; i++)
        enc_free((char *)r->set[i].p);
    enc_free(r->set);
    if (r->has_re)
        regfree(&r->re);
}

/* Parses one tokenised line into r (zeroed by the caller). On error r is released. */
static enc_status parse_rule(const ctx *c, line_tokens *lt, enc_rule *r)
{
    r->line = c->line;
    enc_status st = ENC_ERROR;
    int act = find_name(lt->tok[0], action_names, 3);
    if (act < 0) {
        bad(c, "'%s' is not an action; start the line with warn, quarantine or fail", lt->tok[0]);
        goto out;
    }
    r->action = (enc_rule_action)act;
    if (lt->ntok < 3) {
        bad(c, "expected ACTION EXPECTATION COLUMN [key=value ...]");
        goto out;
    }
    int kind = find_name(lt->tok[1], exp_names, (int)(sizeof exp_names / sizeof exp_names[0]));
    if (kind < 0) {
        bad(c, "unknown expectation '%s'", lt->tok[1]);
        goto out;
    }
    r->kind = (enc_expectation)kind;
    if (parse_columns(c, r, lt->tok[2]) != ENC_OK)
        goto out;
    if (!(r->column = enc_strdup(lt->tok[2]))) {
        bad(c, "out of memory");
        goto out;
    }
    for (int i = 3; i < lt->ntok; i++)
        if (parse_arg(c, r, lt->tok[i]) != ENC_OK)
            goto out;
    st = finish_rule(c, r);
out:
    if (st != ENC_OK) {
        rule_release(r);
        memset(r, 0, sizeof *r);
    }
    return st;
}

void enc_rules_free(enc_rules *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->n; i++)
        rule_release(&rs->rules[i]);
    enc_free(rs->rules);
    enc_free(rs->path);
    enc_free(rs);
}

/* Parses the line at p (n bytes, no newline) into the next rule, if it holds one. */
static enc_status parse_line(ctx *c, const char *p, size_t n, enc_rules *rs, line_tokens *lt)
{
    const char *why = NULL;
    if (n > ENC_RULES_LINE_MAX)
        return bad(c, "line longer than %d bytes", ENC_RULES_LINE_MAX);
    if (tokenize(p, n, lt, &why) != ENC_OK)
        return bad(c, "%s", why);
    if (lt->ntok == 0)
        return ENC_OK;
    if (rs->n == ENC_RULES_MAX)
        return bad(c, "more than %d rules", ENC_RULES_MAX);
    enc_rule *r = &rs->rules[rs->n];
    memset(r, 0, sizeof *r);
    if (parse_rule(c, lt, r) != ENC_OK)
        return ENC_ERROR;
    rs->n++;
    return ENC_OK;
}

enc_status enc_rules_parse(const char *text, size_t n, const char *name, enc_rules **out, enc_err *err)
{
    *out = NULL;
    enc_rules *rs = enc_calloc(1, sizeof *rs);
    line_tokens *lt = enc_malloc(sizeof *lt);
    ctx c = {.file = name, .line = 0, .err = err};
    enc_status st = ENC_ERROR;
    if (!rs || !lt || !(rs->rules = enc_calloc(ENC_RULES_MAX, sizeof *rs->rules)) || !(rs->path = enc_strdup(name))) {
        enc_err_set(err, "out of memory reading rules '%s'", name);
        goto out;
    }
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(text + i, '\n', n - i);
        size_t len = nl ? (size_t)(nl - (text + i)) : n - i;
        c.line++;
        if (parse_line(&c, text + i, len, rs, lt) != ENC_OK)
            goto out;
        i += len + 1;
    }
    st = ENC_OK;
out:
    enc_free(lt);
    if (st == ENC_OK)
        *out = rs;
    else
        enc_rules_free(rs);
    return st;
}

enc_status enc_rules_load(const char *path, enc_rules **out, enc_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return enc_err_set(err, "cannot read rules file '%s': %s", path, strerror(errno));
    char *text = enc_malloc(ENC_RULES_FILE_MAX + 1);
    if (!text) {
        fclose(f);
        return enc_err_set(err, "out of memory reading rules '%s'", path);
    }
    size_t n = fread(text, 1, ENC_RULES_FILE_MAX + 1, f);
    bool failed = ferror(f);
    fclose(f);
    enc_status st;
    if (failed)
        st = enc_err_set(err, "cannot read rules file '%s'", path);
    else if (n > ENC_RULES_FILE_MAX)
        st = enc_err_set(err, "rules file '%s' is larger than %u bytes", path, ENC_RULES_FILE_MAX);
    else
        st = enc_rules_parse(text, n, path, out, err);
    enc_free(text);
    return st;
}

enc_status enc_rules_default(enc_rules **out, enc_err *err)
{
    return enc_rules_parse(ENC_RULES_DEFAULT_TEXT, sizeof ENC_RULES_DEFAULT_TEXT - 1, "(default rules)", out, err);
}

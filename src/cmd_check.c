/* cmd_check — `encore check`: the data-quality report, or a dry run that writes nothing.
 *
 *   encore check --sink sqlite:PATH [--since D] [--format table|json|html]
 *       per rule: batches, rows evaluated and failed, success rate overall and per day,
 *       the latest failing samples; quarantined records by reason. Read-only.
 *   encore check --events DIR --songs F --users F [--rules FILE]
 *       runs source, enrichment, dedup and the rules over the files with the null sink
 *       (nothing written anywhere) and prints the same report; exit 1 when a `fail` rule
 *       failed, so it can gate a commit or a CI job.
 * Both fill one check_report, rendered by one set of functions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "alloc.h"
#include "buf.h"
#include "clock.h"
#include "cmd.h"
#include "opts.h"
#include "pipeline.h"
#include "quality.h"
#include "report.h"
#include "rules.h"
#include "sink.h"
#include "timestamp.h"

typedef struct {
    const char *sink;
    const char *events;
    const char *songs;
    const char *users;
    const char *rules;
    const char *since;
    const char *format;
    const char *table;
    int64_t watermark_ms;
    bool quiet;
} check_opts;

#define O(field) offsetof(check_opts, field)
static const enc_opt check_table[] = {
    {"sink", ENC_OPT_STR, "SPEC", NULL, O(sink), false, "report on the database `encore run` wrote: sqlite:PATH"},
    {"events", ENC_OPT_STR, "DIR", NULL, O(events), false, "dry run: validate the event files in DIR, write nothing"},
    {"songs", ENC_OPT_STR, "FILE", NULL, O(songs), false, "dry run: songs.csv"},
    {"users", ENC_OPT_STR, "FILE", NULL, O(users), false, "dry run: users.csv"},
    {"rules", ENC_OPT_STR, "FILE", NULL, O(rules), false, "dry run: the rules file (default: the built-in rules)"},
    {"since", ENC_OPT_STR, "WHEN", NULL, O(since), false, "report: only results since a date (2025-04-01), a time, "
                                                          "or a duration ago (7d, 24h)"},
    {"format", ENC_OPT_STR, "FMT", "table", O(format), false, "table, json, or html (one self-contained page)"},
    {"table", ENC_OPT_STR, "NAME", "MUSIC_EVENTS", O(table), false, "events table given to `encore run`"},
    {"watermark", ENC_OPT_DURATION, "TIME", "24h", O(watermark_ms), false, "dry run: as `encore run --watermark`"},
    {"quiet", ENC_OPT_FLAG, NULL, NULL, O(quiet), false, "dry run: no warnings"},
};
#undef O
#define NOPTS (sizeof check_table / sizeof check_table[0])

typedef enum { FMT_TABLE, FMT_JSON, FMT_HTML } check_format;

typedef struct {
    char *rule, *column, *action, *samples;
    int64_t batches, evaluated, failed;
} rule_line;

typedef struct {
    char *day, *rule, *column;
    int64_t evaluated, failed;
} day_line;

typedef struct {
    char *reason;
    int64_t count;
} reason_line;

typedef struct {
    char source[600];
    char since[ENC_TS_FORMAT_MAX]; /* "" = all time */
    bool dry_run;
    bool gate_failed; /* dry run: a `fail` rule failed */
    rule_line *rules;
    size_t nrules;
    day_line *days;
    size_t ndays;
    reason_line *reasons;
    size_t nreasons;
} check_report;

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("encore check: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return ENC_EXIT_USAGE;
}

static void report_free(check_report *r)
{
    for (size_t i = 0; i < r->nrules; i++) {
        enc_free(r->rules[i].rule);
        enc_free(r->rules[i].column);
        enc_free(r->rules[i].action);
        enc_free(r->rules[i].samples);
    }
    for (size_t i = 0; i < r->ndays; i++) {
        enc_free(r->days[i].day);
        enc_free(r->days[i].rule);
        enc_free(r->days[i].column);
    }
    for (size_t i = 0; i < r->nreasons; i++)
        enc_free(r->reasons[i].reason);
    enc_free(r->rules);
    enc_free(r->days);
    enc_free(r->reasons);
}

/* Grows *arr so one more element fits; NULL when out of memory. */
static void *push(void **arr, size_t *n, size_t size)
{
    if (*n == 0 || (*n >= 8 && (*n & (*n - 1)) == 0)) { /* capacity: 8, then doubling */
        void *p = enc_realloc(*arr, (*n ? *n * 2 : 8) * size);
        if (!p)
            return NULL;
        *arr = p;
    }
    void *slot = (char *)*arr + (*n)++ * size;
    memset(slot, 0, size);
    return slot;
}

static char *dup_or_empty(const char *s)
{
    return enc_strdup(s ? s : "");
}

/* ---- from the database ------------------------------------------------------------- */

static enc_status query_fail(sqlite3 *db, enc_err *err)
{
    return enc_err_set(err, "reading the quality results: %s", sqlite3_errmsg(db));
}

/* Stores one result row in the report; false when out of memory. */
typedef bool (*row_fn)(sqlite3_stmt *st, check_report *r);

static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

/* Runs sql with ?1 = pipeline (when given) and ?2 = since, and hands each row to add. */
static enc_status load(sqlite3 *db, const char *sql, const char *pipeline, check_report *r, row_fn add,
                       enc_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return query_fail(db, err);
    if (pipeline)
        sqlite3_bind_text(st, 1, pipeline, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->since, -1, SQLITE_STATIC);
    int rc;
    enc_status s = ENC_OK;
    while (s == ENC_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!add(st, r))
            s = enc_err_set(err, "out of memory");
    }
    if (s == ENC_OK && rc != SQLITE_DONE)
        s = query_fail(db, err);
    sqlite3_finalize(st);
    return s;
}

static bool add_rule_row(sqlite3_stmt *st, check_report *r)
{
    rule_line *l = push((void **)&r->rules, &r->nrules, sizeof *l);
    if (!l)
        return false;
    l->rule = dup_or_empty(col_text(st, 0));
    l->column = dup_or_empty(col_text(st, 1));
    l->action = dup_or_empty(col_text(st, 2));
    l->batches = sqlite3_column_int64(st, 3);
    l->evaluated = sqlite3_column_int64(st, 4);
    l->failed = sqlite3_column_int64(st, 5);
    const char *smp = col_text(st, 6);
    l->samples = enc_strdup(smp ? smp : "[]");
    return l->rule && l->column && l->action && l->samples;
}

static bool add_day_row(sqlite3_stmt *st, check_report *r)
{
    day_line *l = push((void **)&r->days, &r->ndays, sizeof *l);
    if (!l)
        return false;
    l->day = dup_or_empty(col_text(st, 0));
    l->rule = dup_or_empty(col_text(st, 1));
    l->column = dup_or_empty(col_text(st, 2));
    l->evaluated = sqlite3_column_int64(st, 3);
    l->failed = sqlite3_column_int64(st, 4);
    return l->day && l->rule && l->column;
}

static bool add_reason_row(sqlite3_stmt *st, check_report *r)
{
    reason_line *l = push((void **)&r->reasons, &r->nreasons, sizeof *l);
    if (!l || !(l->reason = dup_or_empty(col_text(st, 0))))
        return false;
    l->count = sqlite3_column_int64(st, 1);
    return true;
}

static enc_status load_all(sqlite3 *db, const check_opts *o, check_report *r, enc_err *err)
{
    static const char rules_sql[] =
        "SELECT rule, column_name, action, count(*), sum(evaluated), sum(failed), "
        " (SELECT CASE WHEN json_valid(q2.samples) THEN q2.samples ELSE '[]' END FROM QUALITY_RESULTS q2 "
        "  WHERE q2.pipeline = q.pipeline AND q2.rule = q.rule AND q2.column_name IS q.column_name "
        "  AND q2.action = q.action AND q2.failed > 0 AND q2.checked_at >= ?2 ORDER BY q2.rowid DESC LIMIT 1) "
        "FROM QUALITY_RESULTS q WHERE pipeline = ?1 AND checked_at >= ?2 "
        "GROUP BY rule, column_name, action ORDER BY min(rowid)";
    static const char days_sql[] = "SELECT substr(checked_at, 1, 10), rule, column_name, sum(evaluated), sum(failed) "
                                   "FROM QUALITY_RESULTS WHERE pipeline = ?1 AND checked_at >= ?2 "
                                   "GROUP BY 1, rule, column_name, action ORDER BY 1, min(rowid)";
    char reasons_sql[256];
    snprintf(reasons_sql, sizeof reasons_sql,
             "SELECT reason, count(*) FROM \"%s_QUARANTINE\" WHERE ingested_at >= ?2 GROUP BY 1 ORDER BY 2 DESC, 1",
             o->table);
    if (load(db, rules_sql, o->table, r, add_rule_row, err) != ENC_OK ||
        load(db, days_sql, o->table, r, add_day_row, err) != ENC_OK)
        return ENC_ERROR;
    return load(db, reasons_sql, NULL, r, add_reason_row, err);
}

static int report_from_db(const check_opts *o, const char *path, check_report *r)
{
    enc_err err = {{0}};
    sqlite3 *db = NULL;
    bool has_results = false, has_quar = false;
    char quar[80];
    snprintf(quar, sizeof quar, "%s_QUARANTINE", o->table);
    int ex = ENC_EXIT_OK;
    if (enc_report_open(path, &db, &err) != ENC_OK ||
        enc_report_table_exists(db, "QUALITY_RESULTS", &has_results, &err) != ENC_OK ||
        enc_report_table_exists(db, quar, &has_quar, &err) != ENC_OK) {
        fprintf(stderr, "encore check: %s\n", err.msg);
        ex = ENC_EXIT_USAGE;
    } else if (!has_results || !has_quar) {
        fprintf(stderr, "encore check: no quality results in '%s': run `encore run` first (no table %s)\n", path,
                has_results ? quar : "QUALITY_RESULTS");
        ex = ENC_EXIT_USAGE;
    } else if (load_all(db, o, r, &err) != ENC_OK) {
        fprintf(stderr, "encore check: %s\n", err.msg);
        ex = ENC_EXIT_FAIL;
    }
    sqlite3_close(db);
    return ex;
}

/* ---- dry run ---------------------------------------------------------------------- */

static void print_warning(void *arg, const char *msg)
{
    if (!*(const bool *)arg)
        fprintf(stderr, "encore: warning: %s\n", msg);
}

static int need_file(const char *flag, const char *path, bool dir)
{
    struct stat st;
    if (!path)
        return usage_error("a dry run needs --events DIR --songs FILE --users FILE (missing --%s)", flag);
    if (stat(path, &st) != 0 || (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)))
        return usage_error("--%s '%s' is not %s", flag, path, dir ? "a directory" : "a regular file");
    return ENC_EXIT_OK;
}

static enc_status add_reason(check_report *r, const char *reason, int64_t count)
{
    for (size_t i = 0; i < r->nreasons; i++) {
        if (strcmp(r->reasons[i].reason, reason) == 0) {
            r->reasons[i].count += count;
            return ENC_OK;
        }
    }
    reason_line *l = push((void **)&r->reasons, &r->nreasons, sizeof *l);
    if (!l || !(l->reason = enc_strdup(reason)))
        return ENC_ERROR;
    l->count = count;
    return ENC_OK;
}

/* The report from the evaluator's totals and the run's counts. */
static enc_status report_from_totals(const enc_quality *q, const enc_pipeline_stats *st, check_report *r)
{
    size_t n;
    const enc_quality_total *t = enc_quality_totals(q, &n);
    int64_t by_rules = 0;
    for (size_t i = 0; i < n; i++) {
        rule_line *l = push((void **)&r->rules, &r->nrules, sizeof *l);
        if (!l)
            return ENC_ERROR;
        *l = (rule_line){enc_strdup(t[i].rule), enc_strdup(t[i].column), enc_strdup(t[i].action),
                         enc_strdup(t[i].samples), t[i].batches, t[i].evaluated, t[i].failed};
        if (!l->rule || !l->column || !l->action || !l->samples)
            return ENC_ERROR;
        if (strcmp(t[i].action, "quarantine") == 0 && t[i].failed > 0) {
            by_rules += t[i].failed;
            if (add_reason(r, t[i].rule, t[i].failed) != ENC_OK)
                return ENC_ERROR;
        }
    }
    if (st->quarantined > by_rules &&
        add_reason(r, "not a valid event (JSON, required fields, timestamp, size)", st->quarantined - by_rules))
        return ENC_ERROR;
    return ENC_OK;
}

static int load_setup(const check_opts *o, enc_songs **songs, enc_users **users, enc_rules **rules)
{
    enc_err err = {{0}};
    bool quiet = o->quiet;
    if (enc_songs_load(songs, o->songs, print_warning, &quiet, &err) != ENC_OK ||
        enc_users_load(users, o->users, print_warning, &quiet, &err) != ENC_OK ||
        (o->rules ? enc_rules_load(o->rules, rules, &err) : enc_rules_default(rules, &err)) != ENC_OK)
        return usage_error("%s", err.msg);
    return ENC_EXIT_OK;
}

static int dry_run(const check_opts *o, check_report *r)
{
    int ex;
    if ((ex = need_file("events", o->events, true)) || (ex = need_file("songs", o->songs, false)) ||
        (ex = need_file("users", o->users, false)))
        return ex;
    enc_songs *songs = NULL;
    enc_users *users = NULL;
    enc_rules *rules = NULL;
    enc_quality *q = NULL;
    enc_err err = {{0}};
    bool quiet = o->quiet;
    if ((ex = load_setup(o, &songs, &users, &rules)) != ENC_EXIT_OK)
        goto out;
    enc_quality_config qc = {.rules = rules, .songs = songs, .users = users,
                             .watermark_us = o->watermark_ms * 1000, .stop_on_fail = false};
    if (enc_quality_new(&q, &qc, &err) != ENC_OK) {
        ex = usage_error("%s", err.msg);
        goto out;
    }
    enc_quality_check_reference(q, print_warning, &quiet);
    enc_pipeline_config cfg = {
        .source = &enc_source_dir,
        .source_cfg = {.location = o->events, .once = true, .settle_ms = 1000, .poll_ms = 1000,
                       .batch_events = 100000, .batch_bytes = 64 << 20, .max_record = 1 << 20,
                       .warn = print_warning, .warn_arg = &quiet},
        .sink = &enc_sink_null,
        .sink_target = "",
        .sink_cfg = {.table = o->table, .pipeline = o->table},
        .songs = songs, .users = users,
        .watermark_us = o->watermark_ms * 1000,
        .quality = q,
    };
    enc_pipeline_stats st;
    if (enc_pipeline_run(&cfg, &st, &err) != ENC_OK) {
        fprintf(stderr, "encore check: %s\n", err.msg);
        ex = st.started ? ENC_EXIT_FAIL : ENC_EXIT_USAGE;
        goto out;
    }
    snprintf(r->source, sizeof r->source, "dry run of %s: %lld files, %lld events, %lld rows would be written, "
             "%lld quarantined", o->events, (long long)st.files, (long long)st.events, (long long)st.rows,
             (long long)st.quarantined);
    r->dry_run = true;
    r->gate_failed = enc_quality_any_fail(q);
    if (report_from_totals(q, &st, r) != ENC_OK)
        ex = usage_error("out of memory");
out:
    enc_quality_free(q);
    enc_rules_free(rules);
    enc_songs_free(songs);
    enc_users_free(users);
    return ex;
}

/* ---- rendering ---------------------------------------------------------------------- */

static double rate(int64_t evaluated, int64_t failed)
{
    return evaluated > 0 ? 100.0 * (double)(evaluated - failed) / (double)evaluated : 100.0;
}

static int width(const char *s, int w)
{
    int n = (int)strlen(s);
    return n > w ? n : w;
}

static enc_status render_table(const check_report *r, enc_buf *b)
{
    int wr = 4, wc = 6;
    for (size_t i = 0; i < r->nrules; i++)
        wr = width(r->rules[i].rule, wr), wc = width(r->rules[i].column, wc);
    enc_status s = enc_buf_appendf(b, "Data quality — %s%s%s\n\n", r->source, r->since[0] ? ", since " : "",
                                   r->since);
    s |= enc_buf_appendf(b, "%-*s  %-*s  %-10s  %7s  %10s  %8s  %8s\n", wr, "rule", wc, "column", "action",
                         "batches", "evaluated", "failed", "success");
    for (size_t i = 0; i < r->nrules; i++) {
        const rule_line *l = &r->rules[i];
        s |= enc_buf_appendf(b, "%-*s  %-*s  %-10s  %7lld  %10lld  %8lld  %7.2f%%\n", wr, l->rule, wc, l->column,
                             l->action, (long long)l->batches, (long long)l->evaluated, (long long)l->failed,
                             rate(l->evaluated, l->failed));
    }
    if (r->nrules == 0)
        s |= enc_buf_appendf(b, "(no results)\n");
    s |= enc_buf_appendf(b, "\nFailing samples\n");
    for (size_t i = 0; i < r->nrules; i++)
        if (r->rules[i].failed > 0)
            s |= enc_buf_appendf(b, "  %s %s: %s\n", r->rules[i].rule, r->rules[i].column, r->rules[i].samples);
    if (r->ndays > 0) {
        s |= enc_buf_appendf(b, "\nSuccess rate by day\n");
        for (size_t i = 0; i < r->ndays; i++) {
            const day_line *d = &r->days[i];
            s |= enc_buf_appendf(b, "  %s  %-*s  %-*s  %10lld  %8lld  %7.2f%%\n", d->day, wr, d->rule, wc, d->column,
                                 (long long)d->evaluated, (long long)d->failed, rate(d->evaluated, d->failed));
        }
    }
    s |= enc_buf_appendf(b, "\nQuarantined by reason\n");
    for (size_t i = 0; i < r->nreasons; i++)
        s |= enc_buf_appendf(b, "  %8lld  %s\n", (long long)r->reasons[i].count, r->reasons[i].reason);
    if (r->nreasons == 0)
        s |= enc_buf_appendf(b, "  (none)\n");
    if (r->dry_run)
        s |= enc_buf_appendf(b, "\n%s\n", r->gate_failed ? "FAILED: a `fail` rule failed" : "PASSED");
    return s ? ENC_ERROR : ENC_OK;
}

static enc_status json_str(enc_buf *b, const char *s)
{
    return enc_buf_append_json_string(b, s, strlen(s));
}

static enc_status render_json(const check_report *r, enc_buf *b)
{
    enc_status s = enc_buf_appendf(b, "{\"source\":");
    s |= json_str(b, r->source);
    s |= enc_buf_appendf(b, ",\"since\":");
    s |= r->since[0] ? json_str(b, r->since) : enc_buf_appendf(b, "null");
    if (r->dry_run)
        s |= enc_buf_appendf(b, ",\"passed\":%s", r->gate_failed ? "false" : "true");
    s |= enc_buf_appendf(b, ",\"rules\":[");
    for (size_t i = 0; i < r->nrules; i++) {
        const rule_line *l = &r->rules[i];
        s |= enc_buf_appendf(b, "%s{\"rule\":", i ? "," : "");
        s |= json_str(b, l->rule);
        s |= enc_buf_appendf(b, ",\"column\":");
        s |= json_str(b, l->column);
        s |= enc_buf_appendf(b, ",\"action\":");
        s |= json_str(b, l->action);
        s |= enc_buf_appendf(b, ",\"batches\":%lld,\"evaluated\":%lld,\"failed\":%lld,\"success_rate\":%.4f,"
                                "\"samples\":%s}", (long long)l->batches, (long long)l->evaluated,
                             (long long)l->failed, rate(l->evaluated, l->failed) / 100.0, l->samples);
    }
    s |= enc_buf_appendf(b, "],\"days\":[");
    for (size_t i = 0; i < r->ndays; i++) {
        const day_line *d = &r->days[i];
        s |= enc_buf_appendf(b, "%s{\"day\":", i ? "," : "");
        s |= json_str(b, d->day);
        s |= enc_buf_appendf(b, ",\"rule\":");
        s |= json_str(b, d->rule);
        s |= enc_buf_appendf(b, ",\"column\":");
        s |= json_str(b, d->column);
        s |= enc_buf_appendf(b, ",\"evaluated\":%lld,\"failed\":%lld}", (long long)d->evaluated,
                             (long long)d->failed);
    }
    s |= enc_buf_appendf(b, "],\"quarantine\":[");
    for (size_t i = 0; i < r->nreasons; i++) {
        s |= enc_buf_appendf(b, "%s{\"reason\":", i ? "," : "");
        s |= json_str(b, r->reasons[i].reason);
        s |= enc_buf_appendf(b, ",\"count\":%lld}", (long long)r->reasons[i].count);
    }
    s |= enc_buf_appendf(b, "]}\n");
    return s ? ENC_ERROR : ENC_OK;
}

static enc_status html_text(enc_buf *b, const char *s)
{
    enc_status st = ENC_OK;
    for (; *s && st == ENC_OK; s++) {
        switch (*s) {
        case '<': st = enc_buf_append(b, "&lt;", 4); break;
        case '>': st = enc_buf_append(b, "&gt;", 4); break;
        case '&': st = enc_buf_append(b, "&amp;", 5); break;
        case '"': st = enc_buf_append(b, "&quot;", 6); break;
        default: st = enc_buf_appendc(b, *s);
        }
    }
    return st;
}

static const char html_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>encore data quality</title>\n"
    "<style>body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}"
    "th,td{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left}td.n{text-align:right}"
    ".bar{background:#f3c1c1;width:120px;height:10px}.ok{background:#5cb85c;height:10px}"
    ".fail{color:#b00}code{font-size:12px}</style></head><body>\n";

static enc_status render_html_rules(const check_report *r, enc_buf *b)
{
    enc_status s = enc_buf_appendf(b, "<h2>Expectations</h2><table><tr><th>rule</th><th>column</th><th>action</th>"
                                      "<th>batches</th><th>evaluated</th><th>failed</th><th>success</th><th></th>"
                                      "<th>failing samples</th></tr>\n");
    for (size_t i = 0; i < r->nrules; i++) {
        const rule_line *l = &r->rules[i];
        double pct = rate(l->evaluated, l->failed);
        s |= enc_buf_appendf(b, "<tr%s><td>", l->failed ? " class=\"fail\"" : "");
        s |= html_text(b, l->rule);
        s |= enc_buf_appendf(b, "</td><td>");
        s |= html_text(b, l->column);
        s |= enc_buf_appendf(b, "</td><td>%s</td><td class=\"n\">%lld</td><td class=\"n\">%lld</td>"
                                "<td class=\"n\">%lld</td><td class=\"n\">%.2f%%</td><td><div class=\"bar\">"
                                "<div class=\"ok\" style=\"width:%.0f%%\"></div></div></td><td><code>",
                             l->action, (long long)l->batches, (long long)l->evaluated, (long long)l->failed, pct,
                             pct);
        s |= html_text(b, l->failed ? l->samples : "");
        s |= enc_buf_appendf(b, "</code></td></tr>\n");
    }
    return s | enc_buf_appendf(b, "</table>\n");
}

static enc_status render_html(const check_report *r, enc_buf *b)
{
    enc_status s = enc_buf_append(b, html_head, sizeof html_head - 1);
    s |= enc_buf_appendf(b, "<h1>encore data quality</h1><p>");
    s |= html_text(b, r->source);
    if (r->since[0])
        s |= enc_buf_appendf(b, ", since %s", r->since);
    if (r->dry_run)
        s |= enc_buf_appendf(b, " — <b>%s</b>", r->gate_failed ? "FAILED" : "PASSED");
    s |= enc_buf_appendf(b, "</p>\n");
    s |= render_html_rules(r, b);
    s |= enc_buf_appendf(b, "<h2>Success rate by day</h2><table><tr><th>day</th><th>rule</th><th>column</th>"
                            "<th>evaluated</th><th>failed</th><th>success</th></tr>\n");
    for (size_t i = 0; i < r->ndays; i++) {
        const day_line *d = &r->days[i];
        s |= enc_buf_appendf(b, "<tr><td>");
        s |= html_text(b, d->day);
        s |= enc_buf_appendf(b, "</td><td>");
        s |= html_text(b, d->rule);
        s |= enc_buf_appendf(b, "</td><td>");
        s |= html_text(b, d->column);
        s |= enc_buf_appendf(b, "</td><td class=\"n\">%lld</td><td class=\"n\">%lld</td><td class=\"n\">%.2f%%</td>"
                                "</tr>\n", (long long)d->evaluated, (long long)d->failed,
                             rate(d->evaluated, d->failed));
    }
    s |= enc_buf_appendf(b, "</table>\n<h2>Quarantined by reason</h2><table><tr><th>reason</th><th>records</th>"
                            "</tr>\n");
    for (size_t i = 0; i < r->nreasons; i++) {
        s |= enc_buf_appendf(b, "<tr><td>");
        s |= html_text(b, r->reasons[i].reason);
        s |= enc_buf_appendf(b, "</td><td class=\"n\">%lld</td></tr>\n", (long long)r->reasons[i].count);
    }
    s |= enc_buf_appendf(b, "</table>\n</body></html>\n");
    return s ? ENC_ERROR : ENC_OK;
}

/* ---- the command ------------------------------------------------------------------- */

/* --since: a date or time (UTC), or a duration before now. */
static int parse_since(const char *s, char out[ENC_TS_FORMAT_MAX])
{
    int64_t us, ms;
    out[0] = '\0';
    if (!s)
        return ENC_EXIT_OK;
    if (enc_ts_parse_iso(s, strlen(s), &us) == ENC_OK) {
        enc_ts_format(us, out);
        return ENC_EXIT_OK;
    }
    if (enc_opts_parse_value(ENC_OPT_DURATION, s, &ms) == ENC_OK) {
        enc_ts_format(enc_wall_us() / ENC_US_PER_SEC * ENC_US_PER_SEC - ms * 1000, out);
        return ENC_EXIT_OK;
    }
    return usage_error("--since '%s' is not valid; give a date (2025-04-01), a time, or a duration such as 7d", s);
}

static int validate(const check_opts *o, check_format *fmt, const char **path)
{
    if (strcmp(o->format, "table") == 0)
        *fmt = FMT_TABLE;
    else if (strcmp(o->format, "json") == 0)
        *fmt = FMT_JSON;
    else if (strcmp(o->format, "html") == 0)
        *fmt = FMT_HTML;
    else
        return usage_error("--format '%s' is not valid; use table, json or html", o->format);
    if (!enc_sql_identifier_ok(o->table))
        return usage_error("--table '%s' must be letters, digits and _ (not starting with a digit)", o->table);
    if (!o->sink == !o->events)
        return usage_error("give either --sink sqlite:PATH (report) or --events DIR --songs F --users F (dry run)");
    if (o->sink) {
        const enc_sink_ops *sink = enc_sink_lookup(o->sink, path);
        if (sink != &enc_sink_sqlite)
            return usage_error("--sink '%s': the report reads SQLite only; use sqlite:PATH", o->sink);
        if (o->rules || o->songs || o->users)
            return usage_error("--rules, --songs and --users belong to a dry run (--events), not to --sink");
    }
    return ENC_EXIT_OK;
}

static int render_and_print(const check_report *r, check_format fmt)
{
    enc_buf out;
    enc_buf_init(&out, ENC_REPORT_OUTPUT_MAX);
    enc_status s = fmt == FMT_JSON ? render_json(r, &out) : fmt == FMT_HTML ? render_html(r, &out)
                                                                            : render_table(r, &out);
    int ex = ENC_EXIT_OK;
    if (s != ENC_OK) {
        fprintf(stderr, "encore check: the report is larger than %zu bytes or memory ran out\n", out.cap);
        ex = ENC_EXIT_FAIL;
    } else if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
        perror("encore check: writing the report");
        ex = ENC_EXIT_FAIL;
    }
    enc_buf_free(&out);
    return ex;
}

int enc_cmd_check(int argc, char **argv)
{
    check_opts o = {0};
    enc_err err = {{0}};
    enc_opts_result res = enc_opts_parse("encore check", check_table, NOPTS, argc, argv, &o, &err);
    if (res == ENC_OPTS_HELP) {
        enc_opts_print_help(stdout, "encore check --sink sqlite:PATH [--since WHEN] [--format table|json|html]\n"
                                    "       encore check --events DIR --songs FILE --users FILE [--rules FILE]",
                            "Report the data-quality results `encore run` stored (QUALITY_RESULTS, quarantine), or\n"
                            "dry-run the rules over event files without writing anything: exit 1 when a `fail`\n"
                            "rule fails, for pre-commit hooks and CI.",
                            check_table, NOPTS);
        return ENC_EXIT_OK;
    }
    if (res == ENC_OPTS_ERROR) {
        fprintf(stderr, "%s\n", err.msg);
        return ENC_EXIT_USAGE;
    }
    check_format fmt = FMT_TABLE;
    const char *path = NULL;
    check_report r;
    memset(&r, 0, sizeof r);
    int ex = validate(&o, &fmt, &path);
    if (ex == ENC_EXIT_OK)
        ex = parse_since(o.since, r.since);
    if (ex == ENC_EXIT_OK && o.sink)
        snprintf(r.source, sizeof r.source, "%s", o.sink);
    if (ex == ENC_EXIT_OK)
        ex = o.sink ? report_from_db(&o, path, &r) : dry_run(&o, &r);
    if (ex == ENC_EXIT_OK)
        ex = render_and_print(&r, fmt);
    if (ex == ENC_EXIT_OK && r.gate_failed)
        ex = ENC_EXIT_FAIL;
    report_free(&r);
    return ex;
}

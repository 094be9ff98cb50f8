/* cmd_top — `encore top`: flags → a chart from the aggregates, printed as table, CSV or JSON. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "cmd.h"
#include "opts.h"
#include "chart.h"
#include "render.h"
#include "sink.h"

typedef struct {
    const char *sink;
    const char *by;
    const char *metric;
    const char *year;
    const char *month;
    const char *day;
    const char *from;
    const char *to;
    int64_t limit;
    const char *format;
    const char *table;
} top_opts;

#define O(field) offsetof(top_opts, field)
static const enc_opt top_table[] = {
    {"sink", ENC_OPT_STR, "SPEC", NULL, O(sink), true, "the database `encore run` wrote: sqlite:PATH"},
    {"by", ENC_OPT_STR, "DIM", NULL, O(by), true, "what to rank: song, artist, genre, country or device"},
    {"metric", ENC_OPT_STR, "M", "plays", O(metric), false, "plays, listeners (distinct users) or minutes"},
    {"year", ENC_OPT_STR, "YYYY", NULL, O(year), false, "one calendar year (UTC)"},
    {"month", ENC_OPT_STR, "YYYY-MM", NULL, O(month), false, "one month"},
    {"day", ENC_OPT_STR, "YYYY-MM-DD", NULL, O(day), false, "one day"},
    {"from", ENC_OPT_STR, "YYYY-MM-DD", NULL, O(from), false, "first day of a period (with --to)"},
    {"to", ENC_OPT_STR, "YYYY-MM-DD", NULL, O(to), false, "last day of a period, inclusive (with --from)"},
    {"limit", ENC_OPT_INT, "N", "10", O(limit), false, "rows in the chart, 1-10000"},
    {"format", ENC_OPT_STR, "FMT", "table", O(format), false, "table, csv (RFC 4180) or json"},
    {"table", ENC_OPT_STR, "NAME", "MUSIC_EVENTS", O(table), false,
     "events table given to `encore run` (reads NAME_DAILY)"},
};
#undef O
#define NOPTS (sizeof top_table / sizeof top_table[0])

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("encore top: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return ENC_EXIT_USAGE;
}

/* Checks every flag; fills the chart's spec and the database path. */
static int validate(const top_opts *o, enc_chart *c, enc_report_format *fmt, const char **path)
{
    enc_err err = {{0}};
    const enc_sink_ops *sink = enc_sink_lookup(o->sink, path);
    if (!sink)
        return usage_error("unknown sink '%s'; use sqlite:PATH", o->sink);
    if (sink != &enc_sink_sqlite)
        return usage_error("--sink '%s': reports read SQLite only; use sqlite:PATH", o->sink);
    if (enc_chart_by_parse(o->by, &c->by) != ENC_OK)
        return usage_error("--by '%s' is not valid; use song, artist, genre, country or device", o->by);
    if (enc_chart_metric_parse(o->metric, &c->metric) != ENC_OK)
        return usage_error("--metric '%s' is not valid; use plays, listeners or minutes", o->metric);
    if (enc_report_format_parse(o->format, fmt) != ENC_OK)
        return usage_error("--format '%s' is not valid; use table, csv or json", o->format);
    if (o->limit < 1 || o->limit > ENC_REPORT_LIMIT_MAX)
        return usage_error("--limit %lld is out of range; give 1 to %d", (long long)o->limit, ENC_REPORT_LIMIT_MAX);
    if (!enc_sql_identifier_ok(o->table))
        return usage_error("--table '%s' must be letters, digits and _ (not starting with a digit)", o->table);
    enc_period_flags pf = {.year = o->year, .month = o->month, .day = o->day, .from = o->from, .to = o->to};
    if (enc_period_parse(&pf, &c->period, &err) != ENC_OK)
        return usage_error("%s", err.msg);
    return ENC_EXIT_OK;
}

static void print_help(void)
{
    enc_opts_print_help(stdout,
                        "encore top --sink sqlite:PATH --by song|artist|genre|country|device "
                        "[--metric plays|listeners|minutes] [--year Y | --month YYYY-MM | --day D | --from D --to D]",
                        "Print a ranked chart from the daily aggregates `encore run` keeps (NAME_DAILY): plays,\n"
                        "distinct listeners (HyperLogLog estimate) and minutes per key over any span of days.\n"
                        "Ranked by the metric, then plays, then key. No period flag means all time.",
                        top_table, NOPTS);
}

int enc_cmd_top(int argc, char **argv)
{
    top_opts o = {0};
    enc_err err = {{0}};
    enc_opts_result r = enc_opts_parse("encore top", top_table, NOPTS, argc, argv, &o, &err);
    if (r == ENC_OPTS_HELP) {
        print_help();
        return ENC_EXIT_OK;
    }
    if (r == ENC_OPTS_ERROR) {
        fprintf(stderr, "%s\n", err.msg);
        return ENC_EXIT_USAGE;
    }
    enc_chart c = {0};
    enc_report_format fmt;
    const char *path;
    int ex = validate(&o, &c, &fmt, &path);
    if (ex != ENC_EXIT_OK)
        return ex;

    sqlite3 *db = NULL;
    enc_buf out;
    enc_buf_init(&out, ENC_REPORT_OUTPUT_MAX);
    char daily[80];
    snprintf(daily, sizeof daily, "%s_DAILY", o.table);
    bool exists = false;
    if (enc_report_open(path, &db, &err) != ENC_OK || enc_report_table_exists(db, daily, &exists, &err) != ENC_OK) {
        fprintf(stderr, "encore top: %s\n", err.msg);
        ex = ENC_EXIT_USAGE;
        goto out;
    }
    if (!exists) {
        fprintf(stderr, "encore top: no aggregates in '%s': run `encore run` first (no table %s)\n", path, daily);
        ex = ENC_EXIT_USAGE;
        goto out;
    }
    if (enc_chart_query(db, o.table, o.limit, &c, &err) != ENC_OK) {
        fprintf(stderr, "encore top: %s\n", err.msg);
        ex = ENC_EXIT_FAIL;
        goto out;
    }
    if (enc_chart_render(&c, fmt, &out) != ENC_OK) {
        fprintf(stderr, "encore top: the chart is larger than %zu bytes or memory ran out\n", out.cap);
        ex = ENC_EXIT_FAIL;
        goto out;
    }
    if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
        perror("encore top: writing the chart");
        ex = ENC_EXIT_FAIL;
    }
out:
    enc_chart_free(&c);
    enc_buf_free(&out);
    sqlite3_close(db);
    return ex;
}

/* cmd_wrapped — `encore wrapped`: one user's year in music from the events table. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "cmd.h"
#include "opts.h"
#include "render.h"
#include "wrapped.h"
#include "sink.h"

typedef struct {
    const char *sink;
    const char *user;
    const char *year;
    const char *format;
    const char *table;
} wrapped_opts;

#define O(field) offsetof(wrapped_opts, field)
static const enc_opt wrapped_table[] = {
    {"sink", ENC_OPT_STR, "SPEC", NULL, O(sink), true, "the database `encore run` wrote: sqlite:PATH"},
    {"user", ENC_OPT_STR, "ID", NULL, O(user), true, "the user_id to wrap"},
    {"year", ENC_OPT_STR, "YYYY", NULL, O(year), true, "the calendar year (UTC)"},
    {"format", ENC_OPT_STR, "FMT", "table", O(format), false, "table (a short report) or json"},
    {"table", ENC_OPT_STR, "NAME", "MUSIC_EVENTS", O(table), false, "events table given to `encore run`"},
};
#undef O
#define NOPTS (sizeof wrapped_table / sizeof wrapped_table[0])

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("encore wrapped: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return ENC_EXIT_USAGE;
}

static int validate(const wrapped_opts *o, int *year, enc_report_format *fmt, const char **path)
{
    const enc_sink_ops *sink = enc_sink_lookup(o->sink, path);
    if (!sink)
        return usage_error("unknown sink '%s'; use sqlite:PATH", o->sink);
    if (sink != &enc_sink_sqlite)
        return usage_error("--sink '%s': reports read SQLite only; use sqlite:PATH", o->sink);
    if (o->user[0] == '\0')
        return usage_error("--user must not be empty; give a user_id from users.csv");
    if (enc_report_year_parse(o->year, year) != ENC_OK)
        return usage_error("--year '%s' is not valid; give four digits such as 2025", o->year);
    if (enc_report_format_parse(o->format, fmt) != ENC_OK || *fmt == ENC_FORMAT_CSV)
        return usage_error("--format '%s' is not valid; use table or json", o->format);
    if (!enc_sql_identifier_ok(o->table))
        return usage_error("--table '%s' must be letters, digits and _ (not starting with a digit)", o->table);
    return ENC_EXIT_OK;
}

int enc_cmd_wrapped(int argc, char **argv)
{
    wrapped_opts o = {0};
    enc_err err = {{0}};
    enc_opts_result r = enc_opts_parse("encore wrapped", wrapped_table, NOPTS, argc, argv, &o, &err);
    if (r == ENC_OPTS_HELP) {
        enc_opts_print_help(stdout, "encore wrapped --sink sqlite:PATH --user ID --year YYYY [--format table|json]",
                            "One user's year in music: minutes listened, plays, distinct songs and artists, top 5\n"
                            "songs and artists, top genre and most-used device (UTC calendar year).",
                            wrapped_table, NOPTS);
        return ENC_EXIT_OK;
    }
    if (r == ENC_OPTS_ERROR) {
        fprintf(stderr, "%s\n", err.msg);
        return ENC_EXIT_USAGE;
    }
    int year;
    enc_report_format fmt;
    const char *path;
    int ex = validate(&o, &year, &fmt, &path);
    if (ex != ENC_EXIT_OK)
        return ex;

    sqlite3 *db = NULL;
    enc_wrapped w = {0};
    enc_buf out;
    enc_buf_init(&out, ENC_REPORT_OUTPUT_MAX);
    bool exists = false;
    if (enc_report_open(path, &db, &err) != ENC_OK || enc_report_table_exists(db, o.table, &exists, &err) != ENC_OK) {
        fprintf(stderr, "encore wrapped: %s\n", err.msg);
        ex = ENC_EXIT_USAGE;
        goto out;
    }
    if (!exists) {
        fprintf(stderr, "encore wrapped: no table %s in '%s': run `encore run` first\n", o.table, path);
        ex = ENC_EXIT_USAGE;
        goto out;
    }
    if (enc_wrapped_query(db, o.table, o.user, year, &w, &err) != ENC_OK) {
        fprintf(stderr, "encore wrapped: %s\n", err.msg);
        ex = ENC_EXIT_FAIL;
        goto out;
    }
    if (enc_wrapped_render(&w, fmt, &out) != ENC_OK) {
        fprintf(stderr, "encore wrapped: out of memory rendering the report\n");
        ex = ENC_EXIT_FAIL;
        goto out;
    }
    if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
        perror("encore wrapped: writing the report");
        ex = ENC_EXIT_FAIL;
    }
out:
    enc_wrapped_free(&w);
    enc_buf_free(&out);
    sqlite3_close(db);
    return ex;
}

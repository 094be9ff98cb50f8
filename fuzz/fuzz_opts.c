/* fuzz_opts — libFuzzer harness for command-line option parsing (src/opts.c).
 *
 * The input, split at NUL bytes, is an argv (at most 32 arguments) parsed against a
 * table with every option type, a required option and defaults, as `encore run` does;
 * every single argument is also parsed as a value of every type. Invariants (abort() on
 * a break): the result is OK, HELP or ERROR; an error has a non-empty message that
 * fits its buffer; on OK the required option is set, strings point into argv or at
 * their default, durations are within 0..1e15 ms, a plain decimal INT equals strtoll's
 * value and a flag is a bool; nothing reads outside argv. Seeds: fuzz/corpus/opts.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"

typedef struct {
    const char *events;
    const char *sink;
    bool once;
    bool quiet;
    int64_t batch;
    int64_t max_record;
    int64_t settle_ms;
    int64_t watermark_ms;
} cfg;

#define O(f) offsetof(cfg, f)
static const enc_opt table[] = {
    {"events", ENC_OPT_STR, "DIR", NULL, O(events), true, "events directory"},
    {"sink", ENC_OPT_STR, "SPEC", "sqlite:encore.db", O(sink), false, "sink"},
    {"once", ENC_OPT_FLAG, NULL, NULL, O(once), false, "once"},
    {"quiet", ENC_OPT_FLAG, NULL, NULL, O(quiet), false, "quiet"},
    {"batch-events", ENC_OPT_INT, "N", "100000", O(batch), false, "batch"},
    {"max-record", ENC_OPT_INT, "BYTES", "1M", O(max_record), false, "max record"},
    {"settle", ENC_OPT_DURATION, "TIME", "1s", O(settle_ms), false, "settle"},
    {"watermark", ENC_OPT_DURATION, "TIME", "24h", O(watermark_ms), false, "watermark"},
};
#undef O
#define NOPTS (sizeof table / sizeof table[0])
#define MAX_ARGS 32

static void check(int ok)
{
    if (!ok)
        abort();
}

static int plain_decimal(const char *s)
{
    if (*s == '-')
        s++;
    if (!*s || strlen(s) > 18)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

static void check_values(const char *arg)
{
    int64_t v;
    if (enc_opts_parse_value(ENC_OPT_INT, arg, &v) == ENC_OK && plain_decimal(arg))
        check(v == strtoll(arg, NULL, 10));
    if (enc_opts_parse_value(ENC_OPT_DURATION, arg, &v) == ENC_OK)
        check(v >= 0 && v <= 1000000000000000LL);
    const char *s = NULL;
    check(enc_opts_parse_value(ENC_OPT_STR, arg, &s) == ENC_OK && s == arg);
    bool b = false;
    check(enc_opts_parse_value(ENC_OPT_FLAG, arg, &b) == ENC_OK);
}

static int points_into_argv(const char *s, char **argv, int argc)
{
    for (int i = 0; i < argc; i++)
        if (s >= argv[i] && s <= argv[i] + strlen(argv[i]))
            return 1;
    return 0;
}

/* Whether argv holds --name or --name=... (perhaps only as another option's value: then
 * the caller checks less, never more). */
static int given(char **argv, int argc, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < argc; i++)
        if (strncmp(argv[i], "--", 2) == 0 && strncmp(argv[i] + 2, name, n) == 0 &&
            (argv[i][2 + n] == '\0' || argv[i][2 + n] == '='))
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Copy with a terminating NUL, then cut at every NUL into arguments. */
    char *text = malloc(size + 1);
    check(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    char *argv[MAX_ARGS + 1];
    int argc = 0;
    for (char *p = text; p < text + size && argc < MAX_ARGS; p += strlen(p) + 1)
        argv[argc++] = p;
    argv[argc] = NULL;

    for (int i = 0; i < argc; i++)
        check_values(argv[i]);

    cfg c = {.batch = -7, .max_record = -7, .settle_ms = -7, .watermark_ms = -7}; /* defaults must land */
    enc_err err;
    memset(&err, 0, sizeof err);
    enc_opts_result r = enc_opts_parse("encore fuzz", table, NOPTS, argc, argv, &c, &err);
    check(r == ENC_OPTS_OK || r == ENC_OPTS_HELP || r == ENC_OPTS_ERROR);
    if (r == ENC_OPTS_ERROR) {
        size_t n = strnlen(err.msg, sizeof err.msg);
        check(n > 0 && n < sizeof err.msg);
        check(strncmp(err.msg, "encore fuzz: ", 13) == 0);
    } else if (r == ENC_OPTS_OK) {
        check(points_into_argv(c.events, argv, argc));
        check(strcmp(c.sink, "sqlite:encore.db") == 0 || points_into_argv(c.sink, argv, argc));
        check(c.once == 0 || c.once == 1);
        check(c.quiet == 0 || c.quiet == 1);
        /* -7 marks "not set"; a user may give -7 too, so only an absent option must change it */
        check(given(argv, argc, "batch-events") || c.batch == 100000);
        check(given(argv, argc, "max-record") || c.max_record != -7);
        check(c.settle_ms >= 0 && c.settle_ms <= 1000000000000000LL);
        check(c.watermark_ms >= 0 && c.watermark_ms <= 1000000000000000LL);
    }
    free(text);
    return 0;
}

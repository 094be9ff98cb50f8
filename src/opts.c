/* opts — table-driven flag parsing and help. */
#include "opts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static enc_status parse_int(const char *t, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(t, &end, 10);
    if (end == t || errno)
        return ENC_ERROR;
    int64_t mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1000, end++;
    else if (*end == 'M')
        mul = 1000000, end++;
    else if (*end == 'G')
        mul = 1000000000, end++;
    if (*end)
        return ENC_ERROR;
    if (v > INT64_MAX / mul || v < INT64_MIN / mul)
        return ENC_ERROR;
    *out = (int64_t)v * mul;
    return ENC_OK;
}

static enc_status parse_duration(const char *t, int64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(t, &end);
    if (end == t || errno || v < 0)
        return ENC_ERROR;
    double ms;
    if (*end == '\0' || strcmp(end, "s") == 0)
        ms = v * 1000;
    else if (strcmp(end, "ms") == 0)
        ms = v;
    else if (strcmp(end, "m") == 0)
        ms = v * 60000;
    else if (strcmp(end, "h") == 0)
        ms = v * 3600000;
    else if (strcmp(end, "d") == 0)
        ms = v * 86400000;
    else
        return ENC_ERROR;
    if (!(ms <= 1e15)) /* also NaN ("nan" is a number to strtod) */
        return ENC_ERROR;
    *out = (int64_t)ms;
    return ENC_OK;
}

enc_status enc_opts_parse_value(enc_opt_type type, const char *text, void *dst)
{
    switch (type) {
    case ENC_OPT_STR:
        *(const char **)dst = text;
        return ENC_OK;
    case ENC_OPT_INT:
        return parse_int(text, dst);
    case ENC_OPT_DURATION:
        return parse_duration(text, dst);
    case ENC_OPT_FLAG:
        *(bool *)dst = strcmp(text, "true") == 0 || strcmp(text, "1") == 0;
        return ENC_OK;
    }
    return ENC_ERROR;
}

static const char *type_hint(enc_opt_type t)
{
    switch (t) {
    case ENC_OPT_INT: return "a whole number such as 1000 or 1M";
    case ENC_OPT_DURATION: return "a duration such as 500ms, 1s, 5m or 24h";
    default: return "a value";
    }
}

static const enc_opt *find(const enc_opt *table, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(table[i].name) == len && strncmp(table[i].name, name, len) == 0)
            return &table[i];
    return NULL;
}

enc_opts_result enc_opts_parse(const char *cmd, const enc_opt *table, size_t n, int argc, char **argv,
                               void *cfg, enc_err *err)
{
    bool seen[64] = {0};
    if (n > 64) {
        enc_err_set(err, "%s: internal error: option table too large", cmd);
        return ENC_OPTS_ERROR;
    }
    for (size_t i = 0; i < n; i++) {
        if (table[i].def && enc_opts_parse_value(table[i].type, table[i].def, (char *)cfg + table[i].offset)) {
            enc_err_set(err, "%s: internal error: bad default for --%s", cmd, table[i].name);
            return ENC_OPTS_ERROR;
        }
    }
    for (int a = 0; a < argc; a++) {
        const char *arg = argv[a];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            return ENC_OPTS_HELP;
        if (strncmp(arg, "--", 2) != 0) {
            enc_err_set(err, "%s: unexpected argument '%s'; options start with -- (see %s --help)", cmd, arg, cmd);
            return ENC_OPTS_ERROR;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const enc_opt *o = find(table, n, name, len);
        if (!o) {
            enc_err_set(err, "%s: unknown option '--%.*s' (see %s --help)", cmd, (int)len, name, cmd);
            return ENC_OPTS_ERROR;
        }
        seen[o - table] = true;
        void *dst = (char *)cfg + o->offset;
        if (o->type == ENC_OPT_FLAG) {
            if (eq) {
                enc_err_set(err, "%s: --%s takes no value", cmd, o->name);
                return ENC_OPTS_ERROR;
            }
            *(bool *)dst = true;
            continue;
        }
        const char *val = eq ? eq + 1 : NULL;
        if (!val) {
            if (a + 1 >= argc) {
                enc_err_set(err, "%s: --%s needs %s %s", cmd, o->name, o->metavar ? o->metavar : "a value",
                            "after it");
                return ENC_OPTS_ERROR;
            }
            val = argv[++a];
        }
        if (enc_opts_parse_value(o->type, val, dst) != ENC_OK) {
            enc_err_set(err, "%s: --%s '%s' is not valid; give %s", cmd, o->name, val, type_hint(o->type));
            return ENC_OPTS_ERROR;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (table[i].required && !seen[i]) {
            enc_err_set(err, "%s: --%s %s is required (see %s --help)", cmd, table[i].name,
                        table[i].metavar ? table[i].metavar : "", cmd);
            return ENC_OPTS_ERROR;
        }
    }
    return ENC_OPTS_OK;
}

void enc_opts_print_help(FILE *out, const char *usage, const char *summary, const enc_opt *table, size_t n)
{
    fprintf(out, "usage: %s\n\n%s\n\noptions:\n", usage, summary);
    for (size_t i = 0; i < n; i++) {
        char left[64];
        const enc_opt *o = &table[i];
        if (o->type == ENC_OPT_FLAG)
            snprintf(left, sizeof left, "--%s", o->name);
        else
            snprintf(left, sizeof left, "--%s %s", o->name, o->metavar ? o->metavar : "VALUE");
        fprintf(out, "  %-26s %s", left, o->help);
        if (o->required)
            fprintf(out, " (required)");
        else if (o->def && o->type != ENC_OPT_FLAG)
            fprintf(out, " (default: %s)", o->def);
        fputc('\n', out);
    }
    fprintf(out, "  %-26s %s\n", "--help", "show this help");
}

/* opts — command-line options as data.
 *
 * Each command declares one table of enc_opt rows (name, type, default, help, where the
 * value goes in its config struct). The same table parses argv, applies defaults, checks
 * required options and prints --help, as librdkafka's property table and Fluent Bit's
 * config maps do. Parsing never prints: errors come back in enc_err as one line that
 * says what is wrong and how to fix it.
 */
#ifndef ENC_OPTS_H
#define ENC_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "status.h"

typedef enum {
    ENC_OPT_STR,      /* const char *: points into argv or at the default literal */
    ENC_OPT_INT,      /* int64_t: decimal, with optional k/M/G suffix (x1000) */
    ENC_OPT_FLAG,     /* bool: present → true; takes no value */
    ENC_OPT_DURATION, /* int64_t milliseconds: "250ms", "1s", "5m", "24h", "2d", bare = seconds */
} enc_opt_type;

typedef struct {
    const char *name;    /* long name without the dashes: "events" for --events */
    enc_opt_type type;
    const char *metavar; /* shown in help: "DIR" */
    const char *def;     /* default as text, NULL for none */
    size_t offset;       /* offsetof(config struct, field) */
    bool required;
    const char *help;
} enc_opt;

typedef enum {
    ENC_OPTS_OK = 0,
    ENC_OPTS_HELP = 1,  /* --help or -h was given: print help, exit 0 */
    ENC_OPTS_ERROR = 2, /* err says what is wrong */
} enc_opts_result;

/* Parses argv[0..argc) (the command's own arguments, command name excluded) into cfg.
 * `cmd` names the command in messages ("encore run"). */
enc_opts_result enc_opts_parse(const char *cmd, const enc_opt *table, size_t n, int argc, char **argv,
                               void *cfg, enc_err *err);

/* Parses one value of `type` from text; used for defaults and by config files. */
enc_status enc_opts_parse_value(enc_opt_type type, const char *text, void *dst);

void enc_opts_print_help(FILE *out, const char *usage, const char *summary, const enc_opt *table, size_t n);

#endif

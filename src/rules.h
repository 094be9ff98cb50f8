/* rules — the data-quality rules file, parsed into a compiled rule set.
 *
 * One rule per line: `ACTION EXPECTATION COLUMN [key=value ...]`, `#` comments, blank
 * lines ignored; values may be double-quoted (with \" and \\ inside). Expectations keep
 * Great Expectations' names; the format is documented in README.md ("Data quality").
 * Parsing checks everything a rule needs (known column, required arguments, a regex
 * that compiles, sane bounds) and refuses the whole file at the first bad line with
 * "FILE:LINE: reason". A rule set owns all its strings and compiled regexes; it is
 * read-only after parsing (quality.c evaluates it). Never prints.
 */
#ifndef ENC_RULES_H
#define ENC_RULES_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slice.h"
#include "status.h"

#define ENC_RULES_MAX 256               /* rules per file */
#define ENC_RULES_LINE_MAX 4096         /* bytes per line */
#define ENC_RULES_FILE_MAX (1u << 20)   /* bytes per file */
#define ENC_RULES_SET_MAX 1024          /* values in one in_set */
#define ENC_RULES_KEY_COLS 4            /* columns in one unique key */
#define ENC_RULES_NAME_MAX 64
#define ENC_RULES_REGEX_MAX 256         /* bytes per regex */
#define ENC_RULES_REGEX_REPEAT_MAX 100  /* largest {m,n} bound */
#define ENC_RULES_REGEX_NODES_MAX 4096  /* atoms after expanding repetitions */
#define ENC_STR_(x) #x
#define ENC_STR(x) ENC_STR_(x)

typedef enum { ENC_ACT_WARN, ENC_ACT_QUARANTINE, ENC_ACT_FAIL } enc_rule_action;

typedef enum {
    ENC_EXP_NOT_NULL,
    ENC_EXP_IN_SET,
    ENC_EXP_MATCH_REGEX,
    ENC_EXP_BETWEEN,
    ENC_EXP_EXIST_IN,
    ENC_EXP_LENGTHS_BETWEEN,
    ENC_EXP_UNIQUE,
} enc_expectation;

/* Columns a rule can name: the MUSIC_EVENTS text columns (ENC_COL_* from batch.h, same
 * numbers), then duration and event_time. */
enum { ENC_RCOL_DURATION = 10, ENC_RCOL_EVENT_TIME = 11, ENC_RCOL_N = 12 };

typedef enum { ENC_REF_SONGS, ENC_REF_USERS } enc_ref_table;

/* One bound of expect_column_values_to_be_between / lengths. */
typedef struct {
    bool set;
    bool relative; /* event_time only: value is an offset from the time of checking */
    double num;    /* numbers and lengths */
    int64_t us;    /* event_time: absolute µs since the epoch, or the offset from now */
} enc_rule_bound;

typedef struct {
    char *name;              /* name=, else the expectation's name; the quarantine reason */
    char *column;            /* as written, e.g. "user_id" or "user_id,event_time" */
    enc_expectation kind;
    enc_rule_action action;
    int cols[ENC_RULES_KEY_COLS]; /* ENC_COL_* / ENC_RCOL_* */
    int ncols;                    /* 1, except for unique keys */
    enc_slice *set;               /* in_set: owned values */
    size_t nset;
    regex_t re;                   /* match_regex: compiled ERE */
    bool has_re;
    enc_rule_bound min, max;      /* between, lengths (inclusive) */
    enc_ref_table ref;            /* exist_in */
    bool has_ref;
    int line;                     /* line in the rules file */
} enc_rule;

typedef struct {
    enc_rule *rules;
    size_t n;
    char *path; /* the rules file, or "(default rules)" */
} enc_rules;

/* Parses a rules file's text (need not be NUL-terminated); `name` stands for the file in
 * messages. On ENC_ERROR *out is NULL and err is "NAME:LINE: what is wrong". */
enc_status enc_rules_parse(const char *text, size_t n, const char *name, enc_rules **out, enc_err *err);
/* Reads and parses a file (at most ENC_RULES_FILE_MAX bytes). */
enc_status enc_rules_load(const char *path, enc_rules **out, enc_err *err);
/* The rule set used when no --rules is given (ENC_RULES_DEFAULT_TEXT). */
enc_status enc_rules_default(enc_rules **out, enc_err *err);
void enc_rules_free(enc_rules *r);

/* The default rules: all `warn`, so they count and never change what is written. */
extern const char ENC_RULES_DEFAULT_TEXT[];

const char *enc_rule_action_name(enc_rule_action a);         /* "warn", "quarantine", "fail" */
const char *enc_expectation_name(enc_expectation e);         /* "expect_column_values_to_..." */
const char *enc_rule_column_name(int col);                   /* "song_id", ..., "event_time" */

#endif

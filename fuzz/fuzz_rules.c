/* fuzz_rules — libFuzzer harness for the rules file parser.
 *
 * Parses arbitrary input as a rules file. On success every rule must be complete: a
 * known action and expectation, 1..ENC_RULES_KEY_COLS known columns, a name and column
 * text, a line number inside the input, the arguments its expectation needs, and a
 * compiled regex that can run. On failure the message must name the file. Seed corpus:
 * fuzz/corpus/rules. Any broken invariant abort()s.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

static void check(int ok)
{
    if (!ok)
        abort();
}

static void check_rule(const enc_rule *r, size_t size)
{
    check(r->action <= ENC_ACT_FAIL && r->kind <= ENC_EXP_UNIQUE);
    check(r->ncols >= 1 && r->ncols <= ENC_RULES_KEY_COLS);
    for (int i = 0; i < r->ncols; i++)
        check(r->cols[i] >= 0 && r->cols[i] < ENC_RCOL_N);
    check(r->name && *r->name && r->column && *r->column);
    check(r->line >= 1 && (size_t)r->line <= size + 1);
    if (r->kind == ENC_EXP_IN_SET)
        check(r->set != NULL && r->nset >= 1 && r->nset <= ENC_RULES_SET_MAX);
    if (r->kind == ENC_EXP_MATCH_REGEX) {
        check(r->has_re);
        regmatch_t m = {.rm_so = 0, .rm_eo = 3};
        (void)regexec(&r->re, "U01", 1, &m, REG_STARTEND);
    }
    if (r->kind == ENC_EXP_BETWEEN || r->kind == ENC_EXP_LENGTHS_BETWEEN)
        check(r->min.set || r->max.set);
    if (r->kind != ENC_EXP_UNIQUE)
        check(r->ncols == 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enc_rules *rs = NULL;
    enc_err err;
    if (enc_rules_parse((const char *)data, size, "f.rules", &rs, &err) != ENC_OK) {
        check(rs == NULL && strncmp(err.msg, "f.rules", 7) == 0);
        return 0;
    }
    check(rs->n <= ENC_RULES_MAX);
    for (size_t i = 0; i < rs->n; i++)
        check_rule(&rs->rules[i], size);
    enc_rules_free(rs);
    return 0;
}

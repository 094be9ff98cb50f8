/* harness — the smallest test harness that does the job.
 *
 * A unit-test program defines static void test_x(void) functions, calls T_RUN(test_x)
 * for each from main(), and returns t_summary("name"). T_CHECK records a failure with
 * file and line and carries on (it never returns early), so one test reports every
 * broken assertion. t_summary prints "name: N passed, N failed" where N counts tests.
 */
#ifndef ENC_TEST_HARNESS_H
#define ENC_TEST_HARNESS_H

#include <stdio.h>
#include <string.h>

static int t_failed_checks;
static int t_tests_passed;
static int t_tests_failed;

#define T_CHECK(cond) t_check((cond) != 0, __FILE__, __LINE__, #cond)
#define T_CHECK_STR(got, want) t_check_str((got), (want), __FILE__, __LINE__)
#define T_CHECK_MEM(got, gotlen, want) t_check_mem((got), (gotlen), (want), __FILE__, __LINE__)
#define T_RUN(fn) t_run(fn, #fn)

static inline void t_check(int ok, const char *file, int line, const char *what)
{
    if (!ok) {
        fprintf(stderr, "  FAIL %s:%d: %s\n", file, line, what);
        t_failed_checks++;
    }
}

static inline void t_check_str(const char *got, const char *want, const char *file, int line)
{
    int ok = (got == NULL && want == NULL) || (got && want && strcmp(got, want) == 0);
    if (!ok) {
        fprintf(stderr, "  FAIL %s:%d: got \"%s\", want \"%s\"\n", file, line, got ? got : "(null)",
                want ? want : "(null)");
        t_failed_checks++;
    }
}

/* Compares a (pointer, length) value with a C string; want NULL means "expected NULL". */
static inline void t_check_mem(const char *got, size_t gotlen, const char *want, const char *file, int line)
{
    int ok = (got == NULL && want == NULL) ||
             (got && want && strlen(want) == gotlen && memcmp(got, want, gotlen) == 0);
    if (!ok) {
        fprintf(stderr, "  FAIL %s:%d: got \"%.*s\", want \"%s\"\n", file, line, got ? (int)gotlen : 6,
                got ? got : "(null)", want ? want : "(null)");
        t_failed_checks++;
    }
}

static inline void t_run(void (*fn)(void), const char *name)
{
    int before = t_failed_checks;
    fn();
    if (t_failed_checks == before) {
        t_tests_passed++;
    } else {
        t_tests_failed++;
        fprintf(stderr, "not ok: %s\n", name);
    }
}

static inline int t_summary(const char *suite)
{
    printf("%s: %d passed, %d failed\n", suite, t_tests_passed, t_tests_failed);
    return t_tests_failed ? 1 : 0;
}

#endif

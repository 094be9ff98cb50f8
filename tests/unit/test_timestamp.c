/* test_timestamp — unit tests for ISO/epoch parsing, formatting and civil-date arithmetic,
 * plus the corpus in fuzz/corpus/timestamp (ok_*: parse_iso, or parse_epoch when the name
 * says "epoch"; bad_*: both parsers fail; edge_*: no crash).
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "timestamp.h"

#define DAY ENC_US_PER_DAY
#define SEC ENC_US_PER_SEC

/* Parsers get an exact-size heap copy, so ASan sees any read past n. */
static enc_status iso(const char *s, int64_t *us)
{
    size_t n = strlen(s);
    char *b = malloc(n ? n : 1);
    memcpy(b, s, n);
    enc_status st = enc_ts_parse_iso(b, n, us);
    free(b);
    return st;
}

static enc_status epoch(const char *s, int64_t *us)
{
    size_t n = strlen(s);
    char *b = malloc(n ? n : 1);
    memcpy(b, s, n);
    enc_status st = enc_ts_parse_epoch(b, n, us);
    free(b);
    return st;
}

static int iso_is(const char *s, int64_t want)
{
    int64_t us = INT64_MIN + 7;
    if (iso(s, &us) != ENC_OK) {
        fprintf(stderr, "    iso(\"%s\") failed\n", s);
        return 0;
    }
    if (us != want)
        fprintf(stderr, "    iso(\"%s\") = %" PRId64 ", want %" PRId64 "\n", s, us, want);
    return us == want;
}

static int iso_fails(const char *s)
{
    int64_t us = 12345;
    enc_status st = iso(s, &us);
    if (st == ENC_OK)
        fprintf(stderr, "    iso(\"%s\") accepted\n", s);
    return st == ENC_ERROR && us == 12345; /* output untouched on error */
}

static int epoch_is(const char *s, int64_t want)
{
    int64_t us = INT64_MIN + 7;
    if (epoch(s, &us) != ENC_OK) {
        fprintf(stderr, "    epoch(\"%s\") failed\n", s);
        return 0;
    }
    if (us != want)
        fprintf(stderr, "    epoch(\"%s\") = %" PRId64 ", want %" PRId64 "\n", s, us, want);
    return us == want;
}

static int epoch_fails(const char *s)
{
    int64_t us = 12345;
    enc_status st = epoch(s, &us);
    if (st == ENC_OK)
        fprintf(stderr, "    epoch(\"%s\") accepted\n", s);
    return st == ENC_ERROR && us == 12345;
}

static int fmt_is(int64_t us, const char *want)
{
    char out[ENC_TS_FORMAT_MAX];
    size_t n = enc_ts_format(us, out);
    int ok = n == strlen(out) && strcmp(out, want) == 0;
    if (!ok)
        fprintf(stderr, "    format(%" PRId64 ") = \"%s\", want \"%s\"\n", us, out, want);
    return ok;
}

/* 2024-04-09T10:00:00Z */
#define T0 (INT64_C(1712656800) * SEC)

static void test_days_from_civil_known(void)
{
    T_CHECK(enc_ts_days_from_civil(1970, 1, 1) == 0);
    T_CHECK(enc_ts_days_from_civil(1970, 1, 2) == 1);
    T_CHECK(enc_ts_days_from_civil(1969, 12, 31) == -1);
    T_CHECK(enc_ts_days_from_civil(2000, 3, 1) == 11017);
    T_CHECK(enc_ts_days_from_civil(2024, 2, 29) == 19782);
    T_CHECK(enc_ts_days_from_civil(2024, 4, 9) == 19822);
    T_CHECK(enc_ts_days_from_civil(1, 1, 1) == -719162);
    T_CHECK(enc_ts_days_from_civil(9999, 12, 31) == 2932896);
    T_CHECK(enc_ts_days_from_civil(10000, 1, 1) == 2932897);
    T_CHECK(enc_ts_days_from_civil(0, 3, 1) == -719468);
    T_CHECK(enc_ts_days_from_civil(-1, 12, 31) == -719529);
}

/* Walk every day from 0001-01-01 to 9999-12-31 with a naive calendar and compare. */
static void test_civil_every_day(void)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t days = enc_ts_days_from_civil(1, 1, 1);
    long bad = 0;
    for (int y = 1; y <= 9999; y++) {
        int leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
        for (int m = 1; m <= 12; m++) {
            int last = dm[m - 1] + (m == 2 && leap);
            for (int d = 1; d <= last; d++, days++) {
                int yy, mm, dd;
                enc_ts_civil(days, &yy, &mm, &dd);
                if (yy != y || mm != m || dd != d || enc_ts_days_from_civil(y, m, d) != days)
                    bad++;
            }
        }
    }
    T_CHECK(bad == 0);
    T_CHECK(days == enc_ts_days_from_civil(10000, 1, 1));
}

static void test_civil_clamps(void)
{
    int y, m, d;
    enc_ts_civil(INT64_MAX, &y, &m, &d); /* must not overflow (UBSan would say) */
    T_CHECK(y > 9999 && m >= 1 && m <= 12 && d >= 1 && d <= 31);
    enc_ts_civil(INT64_MIN, &y, &m, &d);
    T_CHECK(y < 0 && m >= 1 && m <= 12 && d >= 1 && d <= 31);
}

static void test_days_floor(void)
{
    T_CHECK(enc_ts_days(0) == 0);
    T_CHECK(enc_ts_days(DAY - 1) == 0);
    T_CHECK(enc_ts_days(DAY) == 1);
    T_CHECK(enc_ts_days(-1) == -1);
    T_CHECK(enc_ts_days(-DAY) == -1);
    T_CHECK(enc_ts_days(-DAY - 1) == -2);
    T_CHECK(enc_ts_days(T0) == 19822);
    T_CHECK(enc_ts_days(INT64_MIN) == INT64_MIN / DAY - 1);
    T_CHECK(enc_ts_days(INT64_MAX) == INT64_MAX / DAY);
}

static void test_iso_basic(void)
{
    T_CHECK(iso_is("1970-01-01T00:00:00", 0));
    T_CHECK(iso_is("1970-01-01T00:00:00Z", 0));
    T_CHECK(iso_is("1970-01-01", 0));
    T_CHECK(iso_is("2024-04-09T10:00:00", T0));
    T_CHECK(iso_is("2024-04-09t10:00:00z", T0));
    T_CHECK(iso_is("2024-04-09 10:00:00", T0));
    T_CHECK(iso_is("2024-04-09", T0 - 10 * 3600 * SEC));
    T_CHECK(iso_is("1969-12-31T23:59:59", -SEC));
    T_CHECK(iso_is("2025-04-09T10:00:00", (INT64_C(20187) * 86400 + 36000) * SEC));
}

static void test_iso_fraction(void)
{
    T_CHECK(iso_is("2024-04-09T10:00:00.5", T0 + 500000));
    T_CHECK(iso_is("2024-04-09T10:00:00.05", T0 + 50000));
    T_CHECK(iso_is("2024-04-09T10:00:00.123", T0 + 123000));
    T_CHECK(iso_is("2024-04-09T10:00:00.123456", T0 + 123456));
    T_CHECK(iso_is("2024-04-09T10:00:00.1234567", T0 + 123456)); /* truncated */
    T_CHECK(iso_is("2024-04-09T10:00:00.999999999", T0 + 999999));
    T_CHECK(iso_is("2024-04-09T10:00:00.000001Z", T0 + 1));
    T_CHECK(iso_is("2024-04-09T10:00:00.000000", T0));
    T_CHECK(iso_is("1969-12-31T23:59:59.9999999", -1)); /* truncation is toward the past */
    T_CHECK(iso_fails("2024-04-09T10:00:00."));
    T_CHECK(iso_fails("2024-04-09T10:00:00.Z"));
    T_CHECK(iso_fails("2024-04-09T10:00:00.1234567890")); /* 10 digits */
    T_CHECK(iso_fails("2024-04-09T10:00:00,5"));
    T_CHECK(iso_fails("2024-04-09T10:00:00.5x"));
    T_CHECK(iso_fails("2024-04-09T10:00:00.-5"));
}

static void test_iso_offsets(void)
{
    T_CHECK(iso_is("2024-04-09T12:00:00+02:00", T0));
    T_CHECK(iso_is("2024-04-09T12:00:00+0200", T0));
    T_CHECK(iso_is("2024-04-09T12:00:00+02", T0));
    T_CHECK(iso_is("2024-04-09T04:30:00-05:30", T0));
    T_CHECK(iso_is("2024-04-09T04:30:00-0530", T0));
    T_CHECK(iso_is("2024-04-09T10:00:00+00:00", T0));
    T_CHECK(iso_is("2024-04-09T10:00:00-00:00", T0));
    T_CHECK(iso_is("2024-04-09T10:00:00.25+01:00", T0 - 3600 * SEC + 250000));
    T_CHECK(iso_is("2024-04-10T09:59:00+23:59", T0));
    T_CHECK(iso_fails("2024-04-09T10:00:00+24:00"));
    T_CHECK(iso_fails("2024-04-09T10:00:00+01:60"));
    T_CHECK(iso_fails("2024-04-09T10:00:00+1"));
    T_CHECK(iso_fails("2024-04-09T10:00:00+1:00"));
    T_CHECK(iso_fails("2024-04-09T10:00:00+01:"));
    T_CHECK(iso_fails("2024-04-09T10:00:00+01:0"));
    T_CHECK(iso_fails("2024-04-09T10:00:00+010"));
    T_CHECK(iso_fails("2024-04-09T10:00:00+01:000"));
    T_CHECK(iso_fails("2024-04-09T10:00:00+"));
    T_CHECK(iso_fails("2024-04-09T10:00:00ZZ"));
    T_CHECK(iso_fails("2024-04-09T10:00:00Z+01"));
    T_CHECK(iso_fails("2024-04-09T10:00:00 Z"));
    T_CHECK(iso_fails("2024-04-09T10:00:00UTC"));
    T_CHECK(iso_fails("2024-04-09Z")); /* a date alone takes no offset */
    T_CHECK(iso_fails("2024-04-09+02:00"));
}

static void test_iso_offsets_cross_midnight(void)
{
    int64_t us;
    int y, m, d;
    /* local 01:00 at +02:00 is 23:00 the day before, across a year boundary */
    T_CHECK(iso("2025-01-01T01:00:00+02:00", &us) == ENC_OK);
    T_CHECK(fmt_is(us, "2024-12-31 23:00:00"));
    enc_ts_civil(enc_ts_days(us), &y, &m, &d);
    T_CHECK(y == 2024 && m == 12 && d == 31);
    /* local 23:30 at -01:00 is 00:30 the next day */
    T_CHECK(iso("2024-12-31T23:30:00-01:00", &us) == ENC_OK);
    T_CHECK(fmt_is(us, "2025-01-01 00:30:00"));
    /* into and out of a leap day */
    T_CHECK(iso("2024-03-01T00:15:00+01:00", &us) == ENC_OK);
    T_CHECK(fmt_is(us, "2024-02-29 23:15:00"));
    T_CHECK(iso("2024-02-29T23:00:00-01:30", &us) == ENC_OK);
    T_CHECK(fmt_is(us, "2024-03-01 00:30:00"));
    T_CHECK(iso("2023-03-01T00:00:00+00:01", &us) == ENC_OK);
    T_CHECK(fmt_is(us, "2023-02-28 23:59:00"));
    /* before 1970 */
    T_CHECK(iso("1970-01-01T00:30:00+01:00", &us) == ENC_OK);
    T_CHECK(us == -30 * 60 * SEC);
    T_CHECK(fmt_is(us, "1969-12-31 23:30:00"));
}

static void test_iso_field_validation(void)
{
    T_CHECK(iso_is("2024-02-29", enc_ts_days_from_civil(2024, 2, 29) * DAY));
    T_CHECK(iso_is("2000-02-29T00:00:00", enc_ts_days_from_civil(2000, 2, 29) * DAY));
    T_CHECK(iso_is("2024-12-31T23:59:59", enc_ts_days_from_civil(2025, 1, 1) * DAY - SEC));
    T_CHECK(iso_is("2024-01-31", enc_ts_days_from_civil(2024, 1, 31) * DAY));
    T_CHECK(iso_fails("2023-02-29"));
    T_CHECK(iso_fails("1900-02-29"));
    T_CHECK(iso_fails("2100-02-29T00:00:00"));
    T_CHECK(iso_fails("2024-02-30"));
    T_CHECK(iso_fails("2024-04-31"));
    T_CHECK(iso_fails("2024-06-31"));
    T_CHECK(iso_fails("2024-09-31"));
    T_CHECK(iso_fails("2024-11-31"));
    T_CHECK(iso_fails("2024-01-32"));
    T_CHECK(iso_fails("2024-00-10"));
    T_CHECK(iso_fails("2024-13-10"));
    T_CHECK(iso_fails("2024-01-00"));
    T_CHECK(iso_fails("2024-04-09T24:00:00"));
    T_CHECK(iso_fails("2024-04-09T10:60:00"));
    T_CHECK(iso_fails("2024-04-09T10:00:60")); /* no leap seconds */
    T_CHECK(iso_fails("2024-04-09T10:00"));
    T_CHECK(iso_fails("2024-04-09T10"));
    T_CHECK(iso_fails("2024-04-09T"));
    T_CHECK(iso_fails("2024-04-09T1:00:00"));
    T_CHECK(iso_fails("2024-04-09X10:00:00"));
    T_CHECK(iso_fails("2024-04-09T10-00-00"));
    T_CHECK(iso_fails("2024-4-09"));
    T_CHECK(iso_fails("2024-04-9"));
    T_CHECK(iso_fails("24-04-09"));
    T_CHECK(iso_fails("20240409"));
    T_CHECK(iso_fails("2024/04/09"));
    T_CHECK(iso_fails("+2024-04-09"));
    T_CHECK(iso_fails("2024-+4-09"));
    T_CHECK(iso_fails("2024-04-09T10:00:0a"));
    T_CHECK(iso_fails(""));
    T_CHECK(iso_fails("2024"));
    T_CHECK(iso_fails(" 2024-04-09"));
    T_CHECK(iso_fails("2024-04-09 "));
    T_CHECK(iso_fails("2024-04-09T10:00:00\n"));
    T_CHECK(iso_fails("1712656800"));
}

static void test_iso_year_range(void)
{
    int64_t min = enc_ts_days_from_civil(1, 1, 1) * DAY;
    int64_t max = enc_ts_days_from_civil(10000, 1, 1) * DAY - 1;
    T_CHECK(iso_is("0001-01-01", min));
    T_CHECK(iso_is("0001-01-01T00:00:00Z", min));
    T_CHECK(iso_is("9999-12-31T23:59:59.999999", max));
    T_CHECK(iso_is("9999-12-31T23:59:59.999999999Z", max));
    T_CHECK(iso_fails("0000-01-01"));
    T_CHECK(iso_fails("0000-12-31T23:59:59"));
    T_CHECK(iso_fails("0001-01-01T00:00:00+00:01"));    /* lands in year 0 */
    T_CHECK(iso_fails("9999-12-31T23:59:59-00:01"));    /* lands in year 10000 */
    T_CHECK(iso_is("0001-01-01T00:00:00-00:01", min + 60 * SEC)); /* stays in range */
}

static void test_iso_not_nul_terminated(void)
{
    const char *s = "2024-04-09T10:00:00Zgarbage";
    int64_t us = 0;
    T_CHECK(enc_ts_parse_iso(s, 20, &us) == ENC_OK && us == T0);
    T_CHECK(enc_ts_parse_iso(s, 19, &us) == ENC_OK && us == T0);
    T_CHECK(enc_ts_parse_iso(s, 10, &us) == ENC_OK);
    T_CHECK(enc_ts_parse_iso(s, 21, &us) == ENC_ERROR);
    /* every prefix of a full form either parses (at the allowed cut points) or fails cleanly */
    const char *full = "2024-04-09T12:34:56.789012+05:30";
    size_t n = strlen(full);
    int oks = 0;
    for (size_t k = 0; k <= n; k++) {
        char *b = malloc(k ? k : 1);
        memcpy(b, full, k);
        if (enc_ts_parse_iso(b, k, &us) == ENC_OK)
            oks++;
        free(b);
    }
    /* 10 (date), 19, 21..26 (fraction), 29 (+05), 32 (+05:30) */
    T_CHECK(oks == 1 + 1 + 6 + 1 + 1);
}

static void test_parse_date(void)
{
    int64_t d = 0;
    T_CHECK(enc_ts_parse_date("2024-02-29", 10, &d) == ENC_OK && d == 19782);
    T_CHECK(enc_ts_parse_date("1970-01-01", 10, &d) == ENC_OK && d == 0);
    T_CHECK(enc_ts_parse_date("0001-01-01", 10, &d) == ENC_OK && d == -719162);
    T_CHECK(enc_ts_parse_date("9999-12-31", 10, &d) == ENC_OK && d == 2932896);
    d = 77;
    T_CHECK(enc_ts_parse_date("2023-02-29", 10, &d) == ENC_ERROR);
    T_CHECK(enc_ts_parse_date("0000-01-01", 10, &d) == ENC_ERROR);
    T_CHECK(enc_ts_parse_date("2024-02-29T00:00:00", 19, &d) == ENC_ERROR);
    T_CHECK(enc_ts_parse_date("2024-02-2", 9, &d) == ENC_ERROR);
    T_CHECK(enc_ts_parse_date("2024-02-29 ", 11, &d) == ENC_ERROR);
    T_CHECK(enc_ts_parse_date("", 0, &d) == ENC_ERROR);
    T_CHECK(d == 77);
}

static void test_epoch_seconds_vs_ms(void)
{
    T_CHECK(epoch_is("0", 0));
    T_CHECK(epoch_is("-0", 0));
    T_CHECK(epoch_is("1712656800", T0));
    T_CHECK(epoch_is("1712656800123", T0 + 123000));
    T_CHECK(epoch_is("1712656800.5", T0 + 500000));
    T_CHECK(epoch_is("1712656800123.456", T0 + 123456));
    T_CHECK(epoch_is("1712656800123.4567", T0 + 123456));
    /* the threshold: |v| >= 1e11 is milliseconds */
    T_CHECK(epoch_is("99999999999", INT64_C(99999999999) * SEC));
    T_CHECK(epoch_is("99999999999.999999", INT64_C(99999999999) * SEC + 999999));
    T_CHECK(epoch_is("100000000000", INT64_C(100000000000) * 1000));
    T_CHECK(epoch_is("-9999999999", -INT64_C(9999999999) * SEC));
    T_CHECK(epoch_is("-100000000000", -INT64_C(100000000000) * 1000));
    T_CHECK(epoch_is("1e11", INT64_C(100000000000) * 1000));
    T_CHECK(epoch_is("9.9999999999e10", INT64_C(99999999999) * SEC));
    int64_t a, b;
    T_CHECK(epoch("1712656800", &a) == ENC_OK && iso("2024-04-09T10:00:00Z", &b) == ENC_OK && a == b);
    T_CHECK(epoch("1712656800000", &a) == ENC_OK && a == b);
}

static void test_epoch_fraction_and_exponent(void)
{
    T_CHECK(epoch_is("0.1", 100000));
    T_CHECK(epoch_is("0.000001", 1));
    T_CHECK(epoch_is("0.0000009", 0));
    T_CHECK(epoch_is("1712656800.000003", T0 + 3)); /* exact, no float rounding */
    T_CHECK(epoch_is("1712656800.999999999999", T0 + 999999));
    T_CHECK(epoch_is("1.7126568e9", T0));
    T_CHECK(epoch_is("1.7126568E+9", T0));
    T_CHECK(epoch_is("17126568000e-1", T0));
    T_CHECK(epoch_is("1.712656800123e12", T0 + 123000));
    T_CHECK(epoch_is("17126568001234e-1", T0 + 123400));
    T_CHECK(epoch_is("0.0000000001e10", SEC));
    T_CHECK(epoch_is("0e5", 0));
    T_CHECK(epoch_is("0.000e-3", 0));
    T_CHECK(epoch_is("1e-7", 0));
    T_CHECK(epoch_is("1e-99999999999999999999", 0));
    T_CHECK(epoch_is("1712656800.000000000000000000000000000000000001", T0));
    T_CHECK(epoch_is("1712656800000000000000000000000e-21", T0 + 0));
}

static void test_epoch_negative(void)
{
    T_CHECK(epoch_is("-1", -SEC));
    T_CHECK(epoch_is("-1.5", -1500000));
    T_CHECK(epoch_is("-86400", -DAY));
    T_CHECK(epoch_is("-0.000001", -1));
    /* below 1 µs rounds toward the past, as ISO fraction truncation does */
    T_CHECK(epoch_is("-0.0000001", -1));
    T_CHECK(epoch_is("-1.0000005", -1000001));
    T_CHECK(epoch_is("-1e-99999999999999999999", -1));
    T_CHECK(epoch_is("-1712656800123", -(T0 + 123000)));
    int64_t us = 0;
    T_CHECK(iso("1969-12-31T23:59:58.9999995", &us) == ENC_OK);
    T_CHECK(epoch_is("-1.0000005", us));
}

static void test_epoch_range(void)
{
    /* year 0001 and 9999 in seconds; ms for the top (>= 1e11) */
    T_CHECK(epoch_is("-62135596800", enc_ts_days_from_civil(1, 1, 1) * DAY));
    T_CHECK(epoch_fails("-62135596800.000001"));
    T_CHECK(epoch_fails("-62135596801"));
    T_CHECK(epoch_is("253402300799999", enc_ts_days_from_civil(10000, 1, 1) * DAY - 1000));
    T_CHECK(epoch_is("253402300799999.999", enc_ts_days_from_civil(10000, 1, 1) * DAY - 1));
    T_CHECK(epoch_fails("253402300800000"));
    T_CHECK(epoch_fails("-62135596800001")); /* ms, before year 1 */
    T_CHECK(epoch_is("-62135596800000", enc_ts_days_from_civil(1, 1, 1) * DAY));
    T_CHECK(epoch_fails("1e15"));
    T_CHECK(epoch_fails("1e16"));
    T_CHECK(epoch_fails("99999999999999999999999999"));
    T_CHECK(epoch_fails("-99999999999999999999999999"));
    T_CHECK(epoch_fails("1e99999999999999999999"));
    T_CHECK(epoch_fails("9223372036854775807"));
    T_CHECK(epoch_fails("18446744073709551616"));
}

static void test_epoch_grammar(void)
{
    const char *bad[] = {"",  "-",     "+1",   "01",   "-01", "1.",   ".5",   "1e",  "1e+",  "1e-", "abc",
                         " 1", "1 ",   "0x10", "1,5",  "NaN", "inf",  "1..2", "1e1.5", "--1", "1-",  "\"1\"",
                         "1E", "1.5.", "true", "null", "1ee1", "0.e1", "1_000"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        T_CHECK(epoch_fails(bad[i]));
    const char *s = "1712656800123xyz"; /* not NUL-terminated */
    int64_t us = 0;
    T_CHECK(enc_ts_parse_epoch(s, 10, &us) == ENC_OK && us == T0);
    T_CHECK(enc_ts_parse_epoch(s, 13, &us) == ENC_OK && us == T0 + 123000);
    T_CHECK(enc_ts_parse_epoch(s, 14, &us) == ENC_ERROR);
}

static void test_format(void)
{
    T_CHECK(fmt_is(0, "1970-01-01 00:00:00"));
    T_CHECK(fmt_is(1, "1970-01-01 00:00:00.000001"));
    T_CHECK(fmt_is(-1, "1969-12-31 23:59:59.999999"));
    T_CHECK(fmt_is(T0, "2024-04-09 10:00:00"));
    T_CHECK(fmt_is(T0 + 120000, "2024-04-09 10:00:00.120000"));
    T_CHECK(fmt_is(enc_ts_days_from_civil(2024, 2, 29) * DAY + 86399 * SEC, "2024-02-29 23:59:59"));
    T_CHECK(fmt_is(enc_ts_days_from_civil(1, 1, 1) * DAY, "0001-01-01 00:00:00"));
    T_CHECK(fmt_is(enc_ts_days_from_civil(10000, 1, 1) * DAY - 1, "9999-12-31 23:59:59.999999"));
    T_CHECK(fmt_is(enc_ts_days_from_civil(10000, 1, 1) * DAY, "10000-01-01 00:00:00"));
    T_CHECK(fmt_is(enc_ts_days_from_civil(0, 1, 1) * DAY, "0000-01-01 00:00:00"));
    T_CHECK(fmt_is(enc_ts_days_from_civil(-1, 1, 1) * DAY, "-0001-01-01 00:00:00"));
    /* the extremes fit the buffer */
    char out[ENC_TS_FORMAT_MAX];
    T_CHECK(enc_ts_format(INT64_MIN, out) < ENC_TS_FORMAT_MAX);
    T_CHECK(strlen(out) < ENC_TS_FORMAT_MAX && out[0] == '-');
    T_CHECK(enc_ts_format(INT64_MAX, out) == strlen(out));
    T_CHECK(fmt_is(INT64_MAX, "294247-01-10 04:00:54.775807"));
    T_CHECK(fmt_is(INT64_MIN, "-290308-12-21 19:59:05.224192"));
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void test_round_trip(void)
{
    int64_t min = enc_ts_days_from_civil(1, 1, 1) * DAY;
    int64_t max = enc_ts_days_from_civil(10000, 1, 1) * DAY - 1;
    uint64_t span = (uint64_t)(max - min) + 1;
    long bad = 0;
    for (int i = 0; i < 200000; i++) {
        int64_t us = min + (int64_t)(rng() % span);
        if (i % 3 == 0)
            us -= us % SEC; /* whole seconds: no fraction written */
        if (i == 0)
            us = min;
        if (i == 1)
            us = max;
        char out[ENC_TS_FORMAT_MAX];
        size_t n = enc_ts_format(us, out);
        int64_t back = 0;
        if (enc_ts_parse_iso(out, n, &back) != ENC_OK || back != us)
            bad++;
        /* and the epoch text of the same instant gives it back too */
        char num[48];
        int64_t s = us / SEC, f = us % SEC;
        if (f < 0) {
            f += SEC;
            s--;
        }
        int k = snprintf(num, sizeof num, "%" PRId64 ".%06" PRId64, s, f);
        if (s >= 0 && s < INT64_C(100000000000) &&
            (enc_ts_parse_epoch(num, (size_t)k, &back) != ENC_OK || back != us))
            bad++;
    }
    T_CHECK(bad == 0);
}

/* ---- corpus -------------------------------------------------------------------------- */

static void test_corpus(void)
{
    const char *dir = "fuzz/corpus/timestamp";
    DIR *d = opendir(dir);
    T_CHECK(d != NULL);
    if (!d)
        return;
    int nok = 0, nbad = 0, nedge = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        int kind = strncmp(name, "ok_", 3) == 0 ? 1 : strncmp(name, "bad_", 4) == 0 ? 2 : strncmp(name, "edge_", 5) == 0 ? 3 : 0;
        if (!kind)
            continue;
        char path[512], buf[4096];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        FILE *f = fopen(path, "rb");
        T_CHECK(f != NULL);
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        char *b = malloc(n ? n : 1);
        memcpy(b, buf, n);
        int64_t us;
        enc_status si = enc_ts_parse_iso(b, n, &us);
        enc_status se = enc_ts_parse_epoch(b, n, &us);
        free(b);
        if (kind == 1) {
            nok++;
            int ok = strstr(name, "epoch") ? se == ENC_OK : si == ENC_OK;
            T_CHECK(ok);
            if (!ok)
                fprintf(stderr, "    corpus file %s rejected\n", name);
        } else if (kind == 2) {
            nbad++;
            T_CHECK(si == ENC_ERROR && se == ENC_ERROR);
            if (si == ENC_OK || se == ENC_OK)
                fprintf(stderr, "    corpus file %s accepted\n", name);
        } else {
            nedge++;
        }
    }
    closedir(d);
    T_CHECK(nok >= 10);
    T_CHECK(nbad >= 10);
    T_CHECK(nedge >= 2);
}

/* enc_ts_format_cached writes exactly what enc_ts_format writes, whatever the order of the
 * calls: runs within a day, day changes, the epoch's edges, negative times, far years. */
static int cached_matches(enc_ts_date_cache *c, int64_t us)
{
    char a[ENC_TS_FORMAT_MAX], b[ENC_TS_FORMAT_MAX];
    memset(b, 'x', sizeof b);
    size_t na = enc_ts_format(us, a), nb = enc_ts_format_cached(c, us, b);
    int ok = na == nb && memcmp(a, b, na + 1) == 0;
    if (!ok)
        fprintf(stderr, "    format_cached(%" PRId64 ") = \"%s\", want \"%s\"\n", us, b, a);
    return ok;
}

static void test_format_cached(void)
{
    enc_ts_date_cache c;
    memset(&c, 0, sizeof c);
    int64_t t0 = INT64_C(1735689600) * SEC; /* 2025-01-01 */
    int bad = 0;
    for (int64_t k = -3 * 86400; k < 3 * 86400; k += 997) /* runs within days, across midnights */
        bad += !cached_matches(&c, t0 + k * SEC + (k % 7 ? 0 : 123456));
    T_CHECK(bad == 0);
    static const int64_t edge[] = {0, -1, 1, DAY - 1, DAY, -DAY, -DAY - 1, INT64_MAX, INT64_MIN, INT64_MIN + 1,
                                   -INT64_C(62135596800) * SEC, INT64_C(253402300799) * SEC + 999999, 0, 0};
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++)
        T_CHECK(cached_matches(&c, edge[i]));
    uint64_t x = 88172645463325252ull; /* xorshift: random instants, each a new day */
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t us = (int64_t)x >> (i % 40);
        bad += !cached_matches(&c, us);
        bad += !cached_matches(&c, us + SEC); /* mostly the same day again */
    }
    T_CHECK(bad == 0);
    /* the cache holds the last day it formatted */
    T_CHECK(cached_matches(&c, t0 + 5 * SEC));
    T_CHECK(c.day == enc_ts_days(t0) && c.n == 11 && memcmp(c.date, "2025-01-01 ", 11) == 0);
}

int main(void)
{
    T_RUN(test_days_from_civil_known);
    T_RUN(test_civil_every_day);
    T_RUN(test_civil_clamps);
    T_RUN(test_days_floor);
    T_RUN(test_iso_basic);
    T_RUN(test_iso_fraction);
    T_RUN(test_iso_offsets);
    T_RUN(test_iso_offsets_cross_midnight);
    T_RUN(test_iso_field_validation);
    T_RUN(test_iso_year_range);
    T_RUN(test_iso_not_nul_terminated);
    T_RUN(test_parse_date);
    T_RUN(test_epoch_seconds_vs_ms);
    T_RUN(test_epoch_fraction_and_exponent);
    T_RUN(test_epoch_negative);
    T_RUN(test_epoch_range);
    T_RUN(test_epoch_grammar);
    T_RUN(test_format);
    T_RUN(test_format_cached);
    T_RUN(test_round_trip);
    T_RUN(test_corpus);
    return t_summary("timestamp");
}

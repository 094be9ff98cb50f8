/* timestamp — event times as int64 microseconds since 1970-01-01T00:00:00Z.
 *
 * Parses ISO-8601 text and JSON epoch numbers, formats timestamps for the sinks, and
 * converts between day numbers and civil dates. Pure arithmetic (days-from-civil): no libc
 * time functions, no locale, no TZ, no allocation, so it is safe on the hot path and from
 * any thread. Parsers accept years 0001-9999 only.
 */
#ifndef ENC_TIMESTAMP_H
#define ENC_TIMESTAMP_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define ENC_TS_FORMAT_MAX 32

#define ENC_US_PER_SEC INT64_C(1000000)
#define ENC_US_PER_DAY INT64_C(86400000000)

/* `YYYY-MM-DD`, optionally `T`/`t`/space + `HH:MM:SS`, optional `.` + 1..9 digits (truncated
 * to µs), optional `Z`/`z` or `±HH:MM`/`±HHMM`/`±HH` (none = UTC). A date alone is midnight
 * UTC and takes no offset. Every field is range-checked (no leap second); no whitespace.
 * The instant, after applying the offset, must fall in years 0001-9999. */
enc_status enc_ts_parse_iso(const char *p, size_t n, int64_t *us_out);

/* JSON number text (RFC 8259 grammar) holding epoch seconds, or epoch milliseconds when
 * |v| >= 1e11. Fraction and exponent are allowed; the arithmetic is exact decimal in all
 * cases, truncating below 1 µs toward the past (floor), as parse_iso truncates fractions. */
enc_status enc_ts_parse_epoch(const char *p, size_t n, int64_t *us_out);

/* "YYYY-MM-DD HH:MM:SS", plus ".ffffff" only when the fraction is non-zero; NUL-terminated;
 * returns the length. Years outside 0000-9999 are written with as many digits as needed
 * (and a '-'), so every int64 fits. */
size_t enc_ts_format(int64_t us, char out[ENC_TS_FORMAT_MAX]);

/* "YYYY-MM-DD" of a day number (days since 1970-01-01), NUL-terminated; for years
 * 0000-9999 (a day outside them is cut to its first 10 bytes). */
void enc_ts_format_day(int64_t days, char out[11]);

/* The date part of the last time formatted with it, so that formatting many times of
 * the same day skips the calendar arithmetic. Zero-initialise before first use. */
typedef struct {
    int64_t day;  /* day number of date[], when n > 0 */
    size_t n;     /* length of date[] ("YYYY-MM-DD " for years 0-9999); 0 = empty */
    char date[ENC_TS_FORMAT_MAX];
} enc_ts_date_cache;

/* Exactly what enc_ts_format writes (same bytes, same length), reusing c's date part
 * when us falls on the same day as the previous call with c. */
size_t enc_ts_format_cached(enc_ts_date_cache *c, int64_t us, char out[ENC_TS_FORMAT_MAX]);

/* floor(us / 1 day): days since 1970-01-01 (negative before). */
int64_t enc_ts_days(int64_t us);

/* Proleptic Gregorian date of a day number. Valid for |days| <= 2^39 (larger values are
 * clamped to that range); all int64 µs timestamps are well inside it. */
void enc_ts_civil(int64_t days, int *y, int *m, int *d);

/* Day number of a proleptic Gregorian date; m and d are not checked (use for valid dates). */
int64_t enc_ts_days_from_civil(int y, int m, int d);

/* "YYYY-MM-DD" exactly, year 0001-9999, validated; *days_out as from enc_ts_days_from_civil. */
enc_status enc_ts_parse_date(const char *p, size_t n, int64_t *days_out);

#endif

/* timestamp — ISO-8601 / epoch parsing and formatting with days-from-civil arithmetic.
 *
 * The civil-date conversions are Howard Hinnant's algorithms (400-year eras, March-based
 * years), exact for the proleptic Gregorian calendar. Parsers read fixed positions and
 * never call libc time functions.
 */
#include "timestamp.h"

#include <stdio.h>
#include <string.h>

/* 0001-01-01T00:00:00Z and the last µs of 9999-12-31, the accepted range. */
#define TS_MIN_US (INT64_C(-719162) * ENC_US_PER_DAY)
#define TS_MAX_US (INT64_C(2932897) * ENC_US_PER_DAY - 1)

int64_t enc_ts_days_from_civil(int y, int m, int d)
{
    int64_t yy = (int64_t)y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;                                            /* [0, 399] */
    int64_t doy = (153 * ((int64_t)m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1; /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;                     /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

void enc_ts_civil(int64_t days, int *y, int *m, int *d)
{
    const int64_t lim = INT64_C(1) << 39; /* years stay within int */
    if (days > lim)
        days = lim;
    if (days < -lim)
        days = -lim;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int dd = (int)(doy - (153 * mp + 2) / 5 + 1);
    int mm = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (mm <= 2));
    *m = mm;
    *d = dd;
}

int64_t enc_ts_days(int64_t us)
{
    int64_t q = us / ENC_US_PER_DAY;
    return us % ENC_US_PER_DAY < 0 ? q - 1 : q;
}

static inline int dig(char c)
{
    unsigned v = (unsigned)(unsigned char)c - '0';
    return v < 10 ? (int)v : -1;
}

/* Two decimal digits, or -1. */
static inline int d2(const char *p)
{
    int a = dig(p[0]), b = dig(p[1]);
    return a < 0 || b < 0 ? -1 : a * 10 + b;
}

static int days_in_month(int y, int m)
{
    static const unsigned char dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

/* "YYYY-MM-DD" at p (10 bytes available). */
static enc_status parse_ymd(const char *p, int64_t *days)
{
    int yh = d2(p), yl = d2(p + 2), m = d2(p + 5), d = d2(p + 8);
    if (yh < 0 || yl < 0 || p[4] != '-' || m < 0 || p[7] != '-' || d < 0)
        return ENC_ERROR;
    int y = yh * 100 + yl;
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return ENC_ERROR;
    *days = enc_ts_days_from_civil(y, m, d);
    return ENC_OK;
}

enc_status enc_ts_parse_date(const char *p, size_t n, int64_t *days_out)
{
    if (n != 10)
        return ENC_ERROR;
    return parse_ymd(p, days_out);
}

enc_status enc_ts_parse_iso(const char *p, size_t n, int64_t *us_out)
{
    int64_t days;
    if (n < 10 || parse_ymd(p, &days) != ENC_OK)
        return ENC_ERROR;
    int64_t us = days * ENC_US_PER_DAY;
    if (n == 10) {
        *us_out = us;
        return ENC_OK;
    }
    if (n < 19 || (p[10] != 'T' && p[10] != 't' && p[10] != ' ') || p[13] != ':' || p[16] != ':')
        return ENC_ERROR;
    int hh = d2(p + 11), mi = d2(p + 14), ss = d2(p + 17);
    if (hh < 0 || hh > 23 || mi < 0 || mi > 59 || ss < 0 || ss > 59)
        return ENC_ERROR;
    us += ((int64_t)hh * 3600 + mi * 60 + ss) * ENC_US_PER_SEC;

    size_t i = 19;
    if (i < n && p[i] == '.') {
        size_t start = ++i;
        int64_t frac = 0;
        while (i < n && i - start < 9 && dig(p[i]) >= 0) {
            if (i - start < 6)
                frac = frac * 10 + dig(p[i]);
            i++;
        }
        size_t nd = i - start;
        if (nd == 0)
            return ENC_ERROR;
        for (; nd < 6; nd++)
            frac *= 10;
        us += frac;
    }
    if (i < n) {
        char c = p[i];
        if (c == 'Z' || c == 'z') {
            i++;
        } else if (c == '+' || c == '-') {
            if (n - i < 3)
                return ENC_ERROR;
            int oh = d2(p + i + 1), om = 0;
            if (oh < 0 || oh > 23)
                return ENC_ERROR;
            i += 3;
            if (i < n) {
                if (p[i] == ':')
                    i++;
                if (n - i < 2)
                    return ENC_ERROR;
                om = d2(p + i);
                if (om < 0 || om > 59)
                    return ENC_ERROR;
                i += 2;
            }
            int64_t off = ((int64_t)oh * 3600 + om * 60) * ENC_US_PER_SEC;
            us += c == '+' ? -off : off; /* local time minus offset is UTC */
        } else {
            return ENC_ERROR;
        }
    }
    if (i != n || us < TS_MIN_US || us > TS_MAX_US)
        return ENC_ERROR;
    *us_out = us;
    return ENC_OK;
}

/* The number is read as 0.D1D2D3... x 10^point with D1 != 0: we keep the first SIG_MAX
 * significant digits and whether any later digit is non-zero, which is all the exact µs
 * value (at most 18 digits) and its floor need. */
#define SIG_MAX 24

enc_status enc_ts_parse_epoch(const char *p, size_t n, int64_t *us_out)
{
    char sig[SIG_MAX];
    int nsig = 0, more = 0, neg = 0;
    int64_t point = 0;
    size_t i = 0;

    if (i < n && p[i] == '-') {
        neg = 1;
        i++;
    }
    if (i >= n || dig(p[i]) < 0)
        return ENC_ERROR;
    if (p[i] == '0') {
        i++;
        if (i < n && dig(p[i]) >= 0)
            return ENC_ERROR; /* leading zero */
    } else {
        for (; i < n && dig(p[i]) >= 0; i++) {
            if (nsig < SIG_MAX)
                sig[nsig++] = p[i];
            else if (p[i] != '0')
                more = 1;
            point++;
        }
    }
    if (i < n && p[i] == '.') {
        i++;
        if (i >= n || dig(p[i]) < 0)
            return ENC_ERROR;
        for (; i < n && dig(p[i]) >= 0; i++) {
            if (nsig == 0 && p[i] == '0')
                point--; /* 0.00123: leading zeros move the point */
            else if (nsig < SIG_MAX)
                sig[nsig++] = p[i];
            else if (p[i] != '0')
                more = 1;
        }
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        int eneg = 0;
        int64_t e = 0;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            eneg = p[i++] == '-';
        if (i >= n || dig(p[i]) < 0)
            return ENC_ERROR;
        for (; i < n && dig(p[i]) >= 0; i++)
            if (e < INT64_C(1000000000))
                e = e * 10 + dig(p[i]); /* beyond 1e9 the answer is "out of range" or 0 anyway */
        point += eneg ? -e : e;
    }
    if (i != n)
        return ENC_ERROR;

    int64_t us = 0;
    if (nsig > 0) {
        /* value in [10^(point-1), 10^point): >= 1e11 means milliseconds; >= 1e15 is out of
         * range for either unit (year 9999 is 2.5e11 s, 2.5e14 ms). */
        if (point > 15)
            return ENC_ERROR;
        int64_t ndig = point + (point >= 12 ? 3 : 6); /* digits of the value in µs, <= 18 */
        uint64_t mag = 0;
        int rem = more;
        for (int k = 0; k < nsig; k++) {
            if (k < ndig)
                mag = mag * 10 + (uint64_t)(sig[k] - '0');
            else if (sig[k] != '0')
                rem = 1;
        }
        for (int64_t k = nsig; k < ndig; k++)
            mag *= 10;
        us = neg ? -(int64_t)mag - rem : (int64_t)mag;
    }
    if (us < TS_MIN_US || us > TS_MAX_US)
        return ENC_ERROR;
    *us_out = us;
    return ENC_OK;
}

static inline char *put2(char *o, int v)
{
    o[0] = (char)('0' + v / 10);
    o[1] = (char)('0' + v % 10);
    return o + 2;
}

/* "YYYY-MM-DD " for a day number; returns the length. */
static size_t format_date(int64_t days, char *out)
{
    int y, m, d;
    enc_ts_civil(days, &y, &m, &d);
    char *o = out;
    if (y >= 0 && y <= 9999) {
        o = put2(put2(o, y / 100), y % 100);
    } else {
        o += snprintf(o, 12, y < 0 ? "%05d" : "%d", y);
    }
    *o++ = '-';
    o = put2(o, m);
    *o++ = '-';
    o = put2(o, d);
    *o++ = ' ';
    return (size_t)(o - out);
}

/* "HH:MM:SS[.ffffff]" for rem µs into a day (0 <= rem < 1 day), NUL-terminated; returns
 * the end. */
static char *format_time(int64_t rem, char *o)
{
    int secs = (int)(rem / ENC_US_PER_SEC);
    int frac = (int)(rem % ENC_US_PER_SEC);
    o = put2(o, secs / 3600);
    *o++ = ':';
    o = put2(o, secs / 60 % 60);
    *o++ = ':';
    o = put2(o, secs % 60);
    if (frac) {
        *o++ = '.';
        for (int k = 5; k >= 0; k--) {
            o[k] = (char)('0' + frac % 10);
            frac /= 10;
        }
        o += 6;
    }
    *o = '\0';
    return o;
}

/* Splits us into a day number and the µs into that day (floor division). */
static inline int64_t split_day(int64_t us, int64_t *rem)
{
    int64_t days = us / ENC_US_PER_DAY;
    *rem = us % ENC_US_PER_DAY;
    if (*rem < 0) {
        *rem += ENC_US_PER_DAY;
        days--;
    }
    return days;
}

size_t enc_ts_format(int64_t us, char out[ENC_TS_FORMAT_MAX])
{
    int64_t rem, days = split_day(us, &rem);
    char *o = out + format_date(days, out);
    return (size_t)(format_time(rem, o) - out);
}

void enc_ts_format_day(int64_t days, char out[11])
{
    char t[ENC_TS_FORMAT_MAX];
    format_date(days, t);
    memcpy(out, t, 10);
    out[10] = '\0';
}

size_t enc_ts_format_cached(enc_ts_date_cache *c, int64_t us, char out[ENC_TS_FORMAT_MAX])
{
    int64_t rem, days = split_day(us, &rem);
    if (c->n == 0 || c->day != days) {
        c->n = format_date(days, c->date);
        c->day = days;
    }
    memcpy(out, c->date, c->n);
    return (size_t)(format_time(rem, out + c->n) - out);
}

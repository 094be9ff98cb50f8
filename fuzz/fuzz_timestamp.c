/* fuzz_timestamp — libFuzzer harness for the timestamp parsers and formatter.
 *
 * Invariants (abort() on a break): whatever parse_iso or parse_epoch accepts is in years
 * 0001-9999, formats to a string that parse_iso reads back to the same µs, and agrees with
 * the civil-date functions; parse_epoch agrees with strtod within rounding; formatting any
 * int64 stays inside ENC_TS_FORMAT_MAX. Seeds: fuzz/corpus/timestamp.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "timestamp.h"

static void check_instant(int64_t us)
{
    int64_t min = enc_ts_days_from_civil(1, 1, 1) * ENC_US_PER_DAY;
    int64_t max = enc_ts_days_from_civil(10000, 1, 1) * ENC_US_PER_DAY - 1;
    if (us < min || us > max)
        abort();
    char out[ENC_TS_FORMAT_MAX];
    size_t n = enc_ts_format(us, out);
    if (n != strlen(out) || n >= ENC_TS_FORMAT_MAX)
        abort();
    int64_t back;
    if (enc_ts_parse_iso(out, n, &back) != ENC_OK || back != us)
        abort();
    int64_t days = enc_ts_days(us), d2;
    int y, m, d;
    enc_ts_civil(days, &y, &m, &d);
    if (enc_ts_days_from_civil(y, m, d) != days)
        abort();
    if (enc_ts_parse_date(out, 10, &d2) != ENC_OK || d2 != days)
        abort();
}

/* parse_epoch is exact decimal; strtod is correctly rounded: they must agree closely. */
static void check_epoch_vs_strtod(const uint8_t *data, size_t size, int64_t us)
{
    char buf[512];
    if (size >= sizeof buf)
        return;
    memcpy(buf, data, size);
    buf[size] = '\0';
    double v = strtod(buf, NULL);
    if (fabs(fabs(v) - 1e11) < 1e-3) /* unit threshold: rounding could pick either side */
        return;
    double want = v * (fabs(v) >= 1e11 ? 1e3 : 1e6);
    if (fabs((double)us - want) > fabs(want) * 1e-15 + 2)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    int64_t us;
    if (enc_ts_parse_iso(p, size, &us) == ENC_OK)
        check_instant(us);
    if (enc_ts_parse_epoch(p, size, &us) == ENC_OK) {
        check_instant(us);
        check_epoch_vs_strtod(data, size, us);
    }
    int64_t days;
    if (enc_ts_parse_date(p, size, &days) == ENC_OK)
        check_instant(days * ENC_US_PER_DAY);
    if (size >= 8) { /* any int64 formats within bounds */
        memcpy(&us, data, 8);
        char out[ENC_TS_FORMAT_MAX];
        size_t n = enc_ts_format(us, out);
        if (n != strlen(out) || n >= ENC_TS_FORMAT_MAX)
            abort();
    }
    return 0;
}

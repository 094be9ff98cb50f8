/* render — charts and wrapped reports as text (table, CSV, JSON) into an enc_buf. */
#ifndef ENC_RENDER_H
#define ENC_RENDER_H

#include "buf.h"
#include "chart.h"
#include "wrapped.h"

/* Appends the chart to out: table (heading, aligned columns, "no plays in this period"
 * when empty), CSV (a header row and RFC 4180 quoting, LF line ends) or JSON (one object
 * with title, by, metric, from, to, rows). ENC_ERROR only when out's cap is reached or
 * memory runs out. */
enc_status enc_chart_render(const enc_chart *c, enc_report_format f, enc_buf *out);

/* Appends the wrapped as a small readable report (or one friendly line when the user has
 * no plays that year) or as one JSON object. Only ENC_FORMAT_TABLE and ENC_FORMAT_JSON. */
enc_status enc_wrapped_render(const enc_wrapped *w, enc_report_format f, enc_buf *out);

#endif

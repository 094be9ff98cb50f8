/* csv — an RFC 4180 reader over a whole file held in memory.
 *
 * Reads reference data (songs.csv, users.csv: megabytes to ~100 MB) for dim.c. The
 * reader owns one private copy of the input and parses it in place: fields are slices
 * into that copy, quoted fields unescaped where they lie, so a row costs no allocation.
 * A regular file's copy is a copy-on-write mapping (no read into fresh memory; a file
 * truncated by someone else while it is being loaded may then end the process with
 * SIGBUS, as any mapped reader does); other inputs are read into memory.
 * Errors name the line. The reader never prints and never guesses past an error:
 * after one, every call returns -1 again. One reader belongs to one thread.
 *
 * Accepted input: fields separated by ',', rows by LF, CRLF or a lone CR; a field may
 * be quoted with '"' and then hold commas, line breaks and doubled quotes ("" -> ").
 * A UTF-8 byte order mark at the start is skipped. Lines that are empty or hold only
 * spaces and tabs are skipped. Spaces and tabs before an opening quote and after a
 * closing quote are dropped (so `a, "b, c"` reads as two fields); in an unquoted field
 * they are kept. Errors: a quote inside an unquoted field, text after a closing quote,
 * a quoted field never closed, a NUL byte, and the limits below.
 */
#ifndef ENC_CSV_H
#define ENC_CSV_H

#include <stddef.h>

#include "slice.h"
#include "status.h"

#define ENC_CSV_MAX_FIELDS 1024          /* fields in one row */
#define ENC_CSV_MAX_FIELD (1024 * 1024)  /* bytes in one field, after unescaping */
#define ENC_CSV_MAX_INPUT 4294967296ull    /* bytes in one file: 4 GiB */

typedef struct enc_csv enc_csv;

/* One row. fields[i] are never NULL slices: an empty field is (p != NULL, n == 0).
 * fields and the bytes they point at are valid until the next enc_csv_next or
 * enc_csv_close on the same reader. line is the 1-based line where the row starts
 * (a quoted field with line breaks makes the next row start further down). */
typedef struct {
    const enc_slice *fields;
    size_t nfields;
    size_t line;
} enc_csv_row;

/* Reads the whole file at path. Errors: "cannot open 'x': No such file or directory",
 * "cannot read 'x': Is a directory", "'x' is larger than 4 GiB", out of memory. */
enc_status enc_csv_open(enc_csv **out, const char *path, enc_err *err);

/* Reads n bytes at data (copied; the caller keeps its buffer). data may be NULL if n == 0. */
enc_status enc_csv_open_mem(enc_csv **out, const char *data, size_t n, enc_err *err);

/* Returns 1 and fills *row, 0 at the end of input, or -1 with err set, e.g.
 * "line 7: quoted field never closed". */
int enc_csv_next(enc_csv *c, enc_csv_row *row, enc_err *err);

/* Size of the input in bytes (BOM included): a sizing hint for callers. */
size_t enc_csv_size(const enc_csv *c);

/* An upper bound on the rows still to come (line breaks left + 1), found with one
 * memchr pass: lets a caller size its tables once instead of growing them. */
size_t enc_csv_rows_bound(const enc_csv *c);

void enc_csv_close(enc_csv *c);

#endif

/* framer — splits the bytes of an event file into JSON records.
 *
 * Three layouts are accepted: newline-delimited objects (LINES), objects spread over
 * several lines and concatenated, and a top-level array of objects (both STRUCT, found
 * by a string-aware bracket scan). The layout is sniffed once from the start of a file.
 * The framer never parses values and never allocates: it returns byte ranges of the
 * caller's buffer, keeps the line count, and holds only the state needed between
 * records (inside a top-level array; skipping the rest of an oversized record), so a
 * file can be framed chunk by chunk and resumed from a committed offset.
 */
#ifndef ENC_FRAMER_H
#define ENC_FRAMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bracket depth the framer counts up to; deeper brackets are not counted (such a record
 * is rejected by the parser's own, much smaller, depth limit anyway). */
#define ENC_FRAMER_MAX_DEPTH (1 << 30)

typedef enum {
    ENC_FRAME_UNKNOWN = 0, /* not sniffed yet (file empty so far) */
    ENC_FRAME_LINES = 1,
    ENC_FRAME_STRUCT = 2,
} enc_frame_mode;

typedef struct {
    enc_frame_mode mode;
    bool in_array;     /* STRUCT: between elements of a top-level array */
    bool skipping;     /* discarding the rest of an oversized record */
    int skip_depth;    /* STRUCT skip: bracket depth still open */
    bool skip_in_str;  /* STRUCT skip: inside a string */
    bool skip_escape;  /* STRUCT skip: after a backslash in a string */
    bool skip_scalar;  /* STRUCT skip: the record is a scalar or garbage, not a bracket */
    int64_t line;      /* 1-based line number at the scan position */
    size_t max_record; /* longest record returned whole */
} enc_framer;

typedef enum {
    ENC_FRAME_NEED_MORE = 0, /* no complete record in the buffer; *next says what was consumed */
    ENC_FRAME_RECORD = 1,    /* a record: frame->start..end */
    ENC_FRAME_BAD = 2,       /* a record that cannot be framed (frame->error); start..end is a prefix */
} enc_frame_result;

typedef struct {
    size_t start, end;
    int64_t line;      /* line where the record starts */
    bool partial;      /* LINES at eof: the final line has no newline */
    const char *error; /* for ENC_FRAME_BAD */
} enc_frame;

/* Resume state: mode, in_array and the skip state of an oversized record pack into one
 * integer for the checkpoint. */
int64_t enc_framer_state(const enc_framer *f);
void enc_framer_init(enc_framer *f, int64_t state, int64_t line, size_t max_record);

/* Decides the layout from the first bytes of a file (buf starts at file offset 0, BOM
 * already skipped). Returns false when there are not yet enough bytes to tell. */
bool enc_framer_sniff(enc_framer *f, const char *buf, size_t len, bool eof);

/* Looks for the next record in buf[pos..len). `eof` says no more bytes will follow for
 * now (end of file reached). *next is where scanning should continue: after the record,
 * or after whitespace/separators consumed before the answer NEED_MORE. */
enc_frame_result enc_framer_next(enc_framer *f, const char *buf, size_t len, size_t pos, bool eof,
                                 enc_frame *frame, size_t *next);

#endif

/* batch — one micro-batch: the unit of work, of failure and of commit.
 *
 * A source fills a batch with raw records and the positions they advance; the pipeline
 * turns records into enriched rows and quarantine entries in the same batch; a sink
 * writes all of it in one transaction. Every byte a batch points at lives in its arena
 * (raw file bytes, unescaped strings, rescued JSON, formatted times) or in a dimension
 * table, so a batch is handed between threads whole and reset after commit.
 * A batch belongs to exactly one thread at a time; the handoff is the queue's lock.
 */
#ifndef ENC_BATCH_H
#define ENC_BATCH_H

#include <stdint.h>

#include "arena.h"
#include "dedup.h"
#include "slice.h"
#include "status.h"

#define ENC_QUARANTINE_RAW_MAX (64 * 1024) /* raw text kept per quarantined record */

/* Where a source is after this batch: file path (or topic/partition) and how far it got. */
typedef struct {
    const char *key;    /* file path or "topic/partition"; arena or source owned, valid for the batch */
    int64_t identity;   /* inode of the file (0 when not applicable) */
    int64_t offset;     /* bytes (files) or next offset (Kafka) consumed */
    int64_t line;       /* lines consumed, so line numbers stay true across restarts */
    int64_t state;      /* source-private resume state (framing mode) */
} enc_position;

/* One raw record as the source framed it. */
typedef struct {
    enc_slice text;      /* the record's bytes */
    const char *origin;  /* file path or topic/partition, valid for the batch */
    const char *origin_json; /* origin as a JSON string literal, for _rescued_data._file_path */
    int64_t line;        /* 1-based line (files) or offset (Kafka) where the record starts */
    const char *error;   /* non-NULL: the source could not frame it (too long, truncated); quarantine */
} enc_record;

/* One enriched MUSIC_EVENTS row. Text columns in table order; NULL slice = SQL NULL. */
enum {
    ENC_COL_SONG_ID,
    ENC_COL_USER_ID,
    ENC_COL_DEVICE,
    ENC_COL_TIMESTAMP,
    ENC_COL_RESCUED,
    ENC_COL_COUNTRY,
    ENC_COL_SUBSCRIPTION,
    ENC_COL_TITLE,
    ENC_COL_ARTIST,
    ENC_COL_GENRE,
    ENC_COL_NTEXT
};

typedef struct {
    enc_slice text[ENC_COL_NTEXT];
    int32_t duration;      /* seconds, -1 = NULL */
    int64_t event_time_us; /* µs since the epoch, UTC */
    enc_slice event_time;  /* the same, formatted "YYYY-MM-DD HH:MM:SS[.ffffff]" */
    uint32_t song_ix;      /* the song's row in songs.csv + 1 (enc_songs_at); 0: unknown song */
    const enc_record *rec; /* where the row came from (origin, line, raw text); valid for the batch */
} enc_row;

typedef struct {
    const char *origin;
    int64_t line;
    const char *reason; /* arena or static */
    enc_slice raw;      /* at most ENC_QUARANTINE_RAW_MAX bytes */
} enc_quarantine;

/* One data-quality expectation's outcome on one batch (see quality.h). */
typedef struct {
    const char *rule;     /* expectation name, e.g. expect_column_values_to_not_be_null; static or rules-owned */
    const char *column;
    const char *action;   /* "warn", "quarantine" or "fail" */
    int64_t evaluated;
    int64_t failed;
    char samples[256];    /* JSON array of a few failing values */
} enc_quality_result;

typedef struct {
    int64_t events;      /* records read (good and bad) */
    int64_t rows;        /* rows for MUSIC_EVENTS */
    int64_t quarantined;
    int64_t rescued;     /* rows with _rescued_data */
    int64_t duplicates;  /* plays dropped as seen within the watermark */
    int64_t bytes;       /* raw bytes read */
} enc_batch_stats;

typedef struct {
    enc_arena arena;
    enc_record *recs;
    size_t nrecs, cap_recs;
    enc_row *rows;
    size_t nrows, cap_rows;
    enc_quarantine *quar;
    size_t nquar, cap_quar;
    enc_position *pos;
    size_t npos, cap_pos;
    struct enc_agg *agg;  /* aggregate deltas of the rows (owned); NULL when aggregates are off */
    enc_dedup_key *dkeys; /* plays first seen in this batch, for the sink's dedup state */
    size_t ndkeys, cap_dkeys;
    int64_t dedup_horizon; /* keys older than this event time may be forgotten */
    enc_quality_result *qres; /* data-quality results of this batch */
    size_t nqres, cap_qres;
    enc_batch_stats stats;
    int64_t files;       /* distinct files (or partitions) touched */
    int64_t read_at_us;  /* monotonic time the first record was read, for latency */
} enc_batch;

void enc_batch_init(enc_batch *b);
void enc_batch_reset(enc_batch *b);
void enc_batch_free(enc_batch *b);
enc_record *enc_batch_add_record(enc_batch *b); /* keeps the rows' rec pointers valid */
/* Makes room for `more` records beyond nrecs in one allocation (a source that knows its
 * batch size: the array does not pass through every smaller size on the way, each in
 * fresh memory). Keeps the rows' rec pointers valid. ENC_ERROR when out of memory. */
enc_status enc_batch_reserve_records(enc_batch *b, size_t more);
enc_row *enc_batch_add_row(enc_batch *b);
enc_quarantine *enc_batch_add_quarantine(enc_batch *b);
/* Makes room for `more` rows beyond nrows in one allocation, so that adding them never
 * moves the array. ENC_ERROR when out of memory. */
enc_status enc_batch_reserve_rows(enc_batch *b, size_t more);
enc_dedup_key *enc_batch_add_dedup_key(enc_batch *b);
enc_quality_result *enc_batch_add_quality_result(enc_batch *b);
/* Sets the position for key, replacing an earlier one for the same key in this batch. */
enc_status enc_batch_set_position(enc_batch *b, const enc_position *p);

#endif

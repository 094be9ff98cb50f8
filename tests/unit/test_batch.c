/* Unit tests for batch: rows keep pointing at their records when taking more records
 * moves the record array (the reader enriches a batch in steps, pipeline.c). */
#include <string.h>

#include "batch.h"
#include "harness.h"

static void test_rows_follow_moved_records(void)
{
    enc_batch b;
    enc_batch_init(&b);
    enc_record *r = enc_batch_add_record(&b);
    T_CHECK(r != NULL);
    if (!r)
        return;
    r->text = enc_slice_make("first", 5);
    r->line = 7;
    enc_row *row = enc_batch_add_row(&b);
    T_CHECK(row != NULL);
    if (!row)
        return;
    memset(row, 0, sizeof *row);
    row->rec = &b.recs[0];
    const enc_record *before = b.recs;
    for (int i = 0; i < 5000; i++) { /* several doublings */
        enc_record *more = enc_batch_add_record(&b);
        T_CHECK(more != NULL);
        if (!more)
            break;
        memset(more, 0, sizeof *more);
        more->line = 100 + i;
    }
    T_CHECK(b.recs != before); /* the array did move */
    T_CHECK(b.rows[0].rec == &b.recs[0]);
    T_CHECK(b.rows[0].rec->line == 7);
    T_CHECK(b.nrecs == 5001 && b.recs[5000].line == 5099);
    enc_batch_free(&b);
}

static void test_reset_keeps_capacity(void)
{
    enc_batch b;
    enc_batch_init(&b);
    for (int i = 0; i < 3000; i++)
        T_CHECK(enc_batch_add_record(&b) != NULL);
    size_t cap = b.cap_recs;
    enc_batch_reset(&b);
    T_CHECK(b.nrecs == 0 && b.cap_recs == cap);
    enc_record *r = enc_batch_add_record(&b);
    T_CHECK(r == &b.recs[0]);
    enc_batch_free(&b);
}

/* Reserving records: one move at most, rows still follow, and the room is really there. */
static void test_reserve_records(void)
{
    enc_batch b;
    enc_batch_init(&b);
    enc_record *r = enc_batch_add_record(&b);
    enc_row *row = enc_batch_add_row(&b);
    T_CHECK(r && row);
    if (!r || !row)
        return;
    memset(r, 0, sizeof *r);
    r->line = 7;
    memset(row, 0, sizeof *row);
    row->rec = &b.recs[0];
    T_CHECK(enc_batch_reserve_records(&b, 100000) == ENC_OK);
    T_CHECK(b.cap_recs >= 100001);
    T_CHECK(b.rows[0].rec == &b.recs[0] && b.rows[0].rec->line == 7);
    const enc_record *at = b.recs;
    for (int i = 0; i < 100000; i++)
        enc_batch_add_record(&b);
    T_CHECK(b.recs == at && b.nrecs == 100001); /* never moved again */
    T_CHECK(enc_batch_reserve_records(&b, 10) == ENC_OK); /* grows when full */
    T_CHECK(b.cap_recs >= 100011 && b.rows[0].rec == &b.recs[0]);
    T_CHECK(enc_batch_reserve_records(&b, SIZE_MAX) == ENC_ERROR);
    T_CHECK(enc_batch_reserve_records(&b, SIZE_MAX / 8) == ENC_ERROR);
    T_CHECK(b.nrecs == 100001 && b.rows[0].rec->line == 7);
    enc_batch_free(&b);
}

int main(void)
{
    T_RUN(test_rows_follow_moved_records);
    T_RUN(test_reset_keeps_capacity);
    T_RUN(test_reserve_records);
    return t_summary("batch");
}

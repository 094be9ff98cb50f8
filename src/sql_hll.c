/* sql_hll — SQLite scalar and aggregate functions over hll.c sketches. */
#include "sql_hll.h"

#include "buf.h"
#include "hll.h"

/* Decodes argument i into a sketch; a NULL argument gives an empty one. */
static enc_hll *arg_sketch(sqlite3_context *ctx, sqlite3_value *v)
{
    enc_hll *h = NULL;
    if (sqlite3_value_type(v) == SQLITE_NULL) {
        h = enc_hll_new();
        if (!h)
            sqlite3_result_error_nomem(ctx);
        return h;
    }
    enc_err err;
    if (enc_hll_deserialize(sqlite3_value_blob(v), (size_t)sqlite3_value_bytes(v), &h, &err) != ENC_OK) {
        sqlite3_result_error(ctx, err.msg, -1);
        return NULL;
    }
    return h;
}

static void result_sketch(sqlite3_context *ctx, const enc_hll *h)
{
    enc_buf b;
    enc_buf_init(&b, ENC_HLL_BLOB_MAX + 64);
    if (enc_hll_serialize(h, &b) != ENC_OK) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    sqlite3_result_blob(ctx, b.data, (int)b.len, SQLITE_TRANSIENT);
    enc_buf_free(&b);
}

static void fn_merge(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    enc_hll *a = arg_sketch(ctx, argv[0]);
    enc_hll *b = a ? arg_sketch(ctx, argv[1]) : NULL;
    if (a && b) {
        if (enc_hll_merge(a, b) == ENC_OK)
            result_sketch(ctx, a);
        else
            sqlite3_result_error_nomem(ctx);
    }
    enc_hll_free(a);
    enc_hll_free(b);
}

static void fn_count(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    enc_hll *h = arg_sketch(ctx, argv[0]);
    if (h)
        sqlite3_result_int64(ctx, (sqlite3_int64)enc_hll_count(h));
    enc_hll_free(h);
}

static void union_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    enc_hll **acc = sqlite3_aggregate_context(ctx, sizeof *acc);
    if (!acc) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    if (!*acc && !(*acc = enc_hll_new())) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
        return;
    enc_hll *h = arg_sketch(ctx, argv[0]);
    if (h && enc_hll_merge(*acc, h) != ENC_OK)
        sqlite3_result_error_nomem(ctx);
    enc_hll_free(h);
}

static void union_final(sqlite3_context *ctx)
{
    enc_hll **acc = sqlite3_aggregate_context(ctx, 0);
    if (!acc || !*acc) {
        sqlite3_result_null(ctx);
        return;
    }
    result_sketch(ctx, *acc);
    enc_hll_free(*acc);
    *acc = NULL;
}

int enc_sql_hll_register(sqlite3 *db)
{
    int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC;
    int rc = sqlite3_create_function(db, "encore_hll_merge", 2, flags, NULL, fn_merge, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function(db, "encore_hll_count", 1, flags, NULL, fn_count, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function(db, "encore_hll_union", 1, flags, NULL, NULL, union_step, union_final);
    return rc;
}

/* user_index — TABLE_BY_USER: its layout (generations or the old (user_id, event_time)),
 * creating it, reading it back, and the query shape that uses it. See user_index.h. */
#include "user_index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The index definitions, exactly as sqlite_schema keeps them (CREATE INDEX without
 * IF NOT EXISTS): enc_user_index_read recognises the generations layout by rebuilding
 * this text. */
#define GEN_INDEX_SQL "CREATE INDEX \"%s_BY_USER\" ON \"%s\" (\"event_id\" >> %d, user_id, event_time)"
#define GEN_INDEX_PREFIX "(\"event_id\" >> "

static bool has_event_id(sqlite3 *db, const char *table)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT event_id FROM \"%s\" LIMIT 0", table);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    sqlite3_finalize(st);
    return rc == SQLITE_OK;
}

int enc_user_index_create(sqlite3 *db, const char *table, int gen_bits)
{
    if (gen_bits < 1 || gen_bits > ENC_USER_INDEX_GEN_BITS_MAX)
        return SQLITE_MISUSE;
    char sql[320];
    if (has_event_id(db, table))
        snprintf(sql, sizeof sql,
                 "CREATE INDEX IF NOT EXISTS \"%s_BY_USER\" ON \"%s\" (\"event_id\" >> %d, user_id, event_time)",
                 table, table, gen_bits);
    else
        snprintf(sql, sizeof sql, "CREATE INDEX IF NOT EXISTS \"%s_BY_USER\" ON \"%s\" (user_id, event_time)", table,
                 table);
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* The generation bits of an index definition in the generations layout, or -1. */
static int gen_bits_of(const char *def, const char *table)
{
    const char *p = strstr(def, GEN_INDEX_PREFIX);
    if (!p)
        return -1;
    char *end;
    long bits = strtol(p + strlen(GEN_INDEX_PREFIX), &end, 10);
    if (end == p + strlen(GEN_INDEX_PREFIX) || bits < 1 || bits > ENC_USER_INDEX_GEN_BITS_MAX)
        return -1;
    char want[320];
    snprintf(want, sizeof want, GEN_INDEX_SQL, table, table, (int)bits);
    return strcasecmp(def, want) == 0 ? (int)bits : -1; /* table names are case-insensitive */
}

enc_status enc_user_index_read(sqlite3 *db, const char *table, enc_user_index *out, enc_err *err)
{
    *out = (enc_user_index){.generations = false};
    char name[80];
    snprintf(name, sizeof name, "%s_BY_USER", table);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?1 COLLATE NOCASE "
                           "AND tbl_name = ?2 COLLATE NOCASE",
                           -1, &st, NULL) != SQLITE_OK)
        return enc_err_set(err, "reading the schema: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, table, -1, SQLITE_STATIC);
    enc_status rc = ENC_OK;
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        const char *def = (const char *)sqlite3_column_text(st, 0);
        int bits = def ? gen_bits_of(def, table) : -1;
        out->generations = bits > 0;
        out->gen_bits = bits > 0 ? bits : 0;
    } else if (s != SQLITE_DONE) {
        rc = enc_err_set(err, "reading the schema: %s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    return rc;
}

enc_status enc_user_index_from(const enc_user_index *ix, const char *table, char *out, size_t size, enc_err *err)
{
    int n;
    if (ix->generations)
        /* CROSS JOIN keeps the generations outside: one index range per generation. */
        n = snprintf(out, size,
                     "FROM (WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g "
                     "WHERE n < (SELECT max(event_id) >> %d FROM \"%s\")) SELECT n FROM g) AS gen "
                     "CROSS JOIN \"%s\" WHERE \"%s\".event_id >> %d = gen.n AND user_id = ?1 "
                     "AND event_time >= ?2 AND event_time < ?3",
                     ix->gen_bits, table, table, table, ix->gen_bits);
    else
        n = snprintf(out, size, "FROM \"%s\" WHERE user_id = ?1 AND event_time >= ?2 AND event_time < ?3", table);
    if (n < 0 || (size_t)n >= size)
        return enc_err_set(err, "internal error: user query too long");
    return ENC_OK;
}

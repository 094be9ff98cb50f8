/* bench_sql — run an SQL script on a SQLite file with encore's HLL functions registered.
 *
 * `bench_sql DB < script.sql`: like the sqlite3 shell (rows printed with `|` between
 * values) but with encore_hll_merge/_union/_count, which the shell lacks.
 * bench/reports.sh uses it to build a large sink by replicating a real one (copies shifted
 * by whole years, colliding daily rows merged with encore_hll_merge) without running the
 * pipeline again. Prints the first error and exits 1; never used by encore itself.
 */
#include <stdio.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "sql_hll.h"

static char *read_all(FILE *f)
{
    size_t cap = 1 << 16, len = 0;
    char *s = malloc(cap);
    while (s) {
        len += fread(s + len, 1, cap - len - 1, f);
        if (len < cap - 1)
            break;
        char *t = realloc(s, cap *= 2);
        if (!t)
            free(s);
        s = t;
    }
    if (s)
        s[len] = '\0';
    return s;
}

static int print_row(void *arg, int n, char **v, char **names)
{
    for (int i = 0; i < n; i++)
        printf("%s%s", i ? "|" : "", v[i] ? v[i] : "");
    putchar('\n');
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: bench_sql DB < script.sql\n");
        return 2;
    }
    char *sql = read_all(stdin);
    sqlite3 *db = NULL;
    char *msg = NULL;
    int ex = 1;
    if (!sql) {
        fprintf(stderr, "bench_sql: out of memory\n");
        return 1;
    }
    if (sqlite3_open(argv[1], &db) != SQLITE_OK || enc_sql_hll_register(db) != SQLITE_OK) {
        fprintf(stderr, "bench_sql: %s: %s\n", argv[1], db ? sqlite3_errmsg(db) : "out of memory");
        goto out;
    }
    if (sqlite3_exec(db, sql, print_row, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "bench_sql: %s\n", msg ? msg : sqlite3_errmsg(db));
        goto out;
    }
    ex = 0;
out:
    sqlite3_free(msg);
    sqlite3_close(db);
    free(sql);
    return ex;
}

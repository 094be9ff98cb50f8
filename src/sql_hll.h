/* sql_hll — HyperLogLog sketches as SQLite functions.
 *
 * Registers on a connection:
 *   encore_hll_merge(a, b)  scalar: the union of two sketch blobs (either may be NULL)
 *   encore_hll_union(x)     aggregate: the union of a column of sketch blobs
 *   encore_hll_count(x)     scalar: estimated distinct count of a sketch blob
 * The sink uses merge in its aggregate upsert; charts use union and count to get unique
 * listeners over any span of days. A corrupt blob is an SQL error, never a crash.
 */
#ifndef ENC_SQL_HLL_H
#define ENC_SQL_HLL_H

#include <sqlite3.h>

int enc_sql_hll_register(sqlite3 *db);

#endif

#!/usr/bin/env bash
# bench/replicate.sh BUILD_DIR SRC.db DST.db COPIES — a large sink from a real one, for
# bench/reports.sh, without running the pipeline COPIES times over.
#
# DST gets SRC's tables plus COPIES-1 copies of its plays, copy k shifted k whole years
# earlier: MUSIC_EVENTS rows with event_time's year minus k (every other column,
# `timestamp` included, verbatim), and MUSIC_EVENTS_DAILY rows with day's year minus k,
# sketches copied byte for byte (the same users played on the shifted day). SRC's year
# has no 29 February, so every shifted date is valid. Where a copy's day meets another's
# (plays near New Year), the rows are merged as encore would: plays and seconds added,
# sketches united with encore_hll_merge — hence bench_sql, which has encore's functions.
# The _BY_USER index is dropped during the copy and rebuilt (sorted, in SRC's layout) at the end. The
# monthly and yearly totals, when SRC has them, are rebuilt from the daily rows. So DST
# is what `encore run` would write for COPIES years of SRC's stream, each year the same.
set -euo pipefail
build=$1 src=$2 dst=$3 copies=$4
SQL=$build/bench_sql
[ -x "$SQL" ] || { echo "replicate: $SQL missing (make $SQL)" >&2; exit 2; }
[ "$copies" -ge 1 ] || { echo "replicate: COPIES must be >= 1" >&2; exit 2; }
sqlite3 "$src" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
cp "$src" "$dst"
t=MUSIC_EVENTS
cols="song_id, user_id, device, timestamp, _rescued_data, country, subscription, title, artist, genre, duration"
shift_year() { echo "printf('%04d', CAST(substr($1, 1, 4) AS INTEGER) - $2) || substr($1, 5)"; }
rollups=$(sqlite3 "$src" "SELECT count(*) FROM sqlite_schema WHERE name = '${t}_MONTHLY'")
# rebuilt as SRC has it: on ("event_id" >> 16, user_id, event_time), or (user_id, event_time)
# for a table from before event_id (the copies get new event_ids, after SRC's)
by_user=$(sqlite3 "$src" "SELECT sql FROM sqlite_schema WHERE name = '${t}_BY_USER'")
[ -n "$by_user" ] || by_user="CREATE INDEX \"${t}_BY_USER\" ON \"$t\" (user_id, event_time)"
copy_sql() { # one INSERT pair per copy, in SRC's rowid order (as the pipeline wrote it)
    for ((k = 1; k < copies; k++)); do
        cat <<EOF
INSERT INTO "$t" ($cols, event_time) SELECT $cols, $(shift_year event_time $k) FROM src."$t";
INSERT INTO "${t}_DAILY" (dimension, key, day, plays, seconds, listeners, title, artist)
    SELECT dimension, key, $(shift_year day $k), plays, seconds, listeners, title, artist
    FROM src."${t}_DAILY" WHERE true
    ON CONFLICT (dimension, key, day) DO UPDATE SET plays = plays + excluded.plays,
        seconds = seconds + excluded.seconds, listeners = encore_hll_merge(listeners, excluded.listeners),
        title = coalesce(excluded.title, title), artist = coalesce(excluded.artist, artist);
EOF
    done
}
export SQLITE_TMPDIR=${SQLITE_TMPDIR:-$(dirname "$dst")}
"$SQL" "$dst" <<EOF
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -1000000;
ATTACH '$src' AS src;
DROP INDEX IF EXISTS "${t}_BY_USER";
BEGIN;
$(copy_sql)
COMMIT;
EOF
if [ "$rollups" = 1 ]; then
    "$SQL" "$dst" <<EOF
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
BEGIN;
DELETE FROM "${t}_MONTHLY";
DELETE FROM "${t}_YEARLY";
INSERT INTO "${t}_MONTHLY" SELECT dimension, substr(day, 1, 7), key, sum(plays), sum(seconds)
    FROM "${t}_DAILY" GROUP BY 1, 2, 3;
INSERT INTO "${t}_YEARLY" SELECT dimension, substr(month, 1, 4), key, sum(plays), sum(seconds)
    FROM "${t}_MONTHLY" GROUP BY 1, 2, 3;
COMMIT;
EOF
fi
"$SQL" "$dst" <<EOF
PRAGMA journal_mode = OFF;
PRAGMA cache_size = -1000000;
$by_user;
PRAGMA journal_mode = WAL;
EOF

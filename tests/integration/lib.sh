# lib.sh — helpers for black-box tests of the real binary against a real SQLite file.
# Each check is one test; `finish` prints "SUITE: N passed, N failed" and sets the exit code.
set -u
ENCORE=${ENCORE:-$PWD/build/encore}
SUITE=$(basename "$0" .sh)
FIXTURES="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/data"
T_PASS=0
T_FAIL=0
WORK=$(mktemp -d /tmp/encore-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

pass() { T_PASS=$((T_PASS + 1)); }
fail() { T_FAIL=$((T_FAIL + 1)); echo "  FAIL: $*" >&2; }

# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
    local desc=$1
    shift
    if "$@"; then pass; else fail "$desc"; fi
}

# check_eq DESCRIPTION GOT WANT
check_eq() {
    if [ "$2" == "$3" ]; then pass; else fail "$1: got [$2], want [$3]"; fi
}

# check_match DESCRIPTION TEXT REGEX
check_match() {
    if [[ "$2" =~ $3 ]]; then pass; else fail "$1: [$2] does not match /$3/"; fi
}

sql() { sqlite3 -batch -noheader "$DB" "$1"; }
sql_at() { sqlite3 -batch -noheader "$1" "$2"; }

# wait_until DEADLINE_SECONDS COMMAND...: polls the condition, never a fixed sleep.
wait_until() {
    local limit=$1
    shift
    local end=$((SECONDS + limit))
    while [ $SECONDS -lt $end ]; do
        if "$@" 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    return 1
}

finish() {
    echo "$SUITE: $T_PASS passed, $T_FAIL failed"
    [ "$T_FAIL" -eq 0 ]
}

# Daily aggregates as stored, and as recomputed from the rows: "dimension|key|day|plays|seconds" lines.
agg_stored() {
    sqlite3 -batch "$1" "SELECT dimension, key, day, plays, seconds FROM MUSIC_EVENTS_DAILY ORDER BY 1, 2, 3"
}
agg_recomputed() {
    sqlite3 -batch "$1" "WITH e AS (SELECT substr(event_time, 1, 10) AS day, song_id, artist, genre, country,
        device, coalesce(duration, 0) AS d FROM MUSIC_EVENTS),
      r AS (SELECT 'song' AS dim, song_id AS key, day, count(*) AS plays, sum(d) AS secs FROM e GROUP BY 2, 3
      UNION ALL SELECT 'artist', artist, day, count(*), sum(d) FROM e WHERE artist IS NOT NULL GROUP BY 2, 3
      UNION ALL SELECT 'genre', genre, day, count(*), sum(d) FROM e WHERE genre IS NOT NULL GROUP BY 2, 3
      UNION ALL SELECT 'country', country, day, count(*), sum(d) FROM e WHERE country IS NOT NULL GROUP BY 2, 3
      UNION ALL SELECT 'device', device, day, count(*), sum(d) FROM e WHERE device IS NOT NULL GROUP BY 2, 3)
      SELECT dim, key, day, plays, secs FROM r ORDER BY 1, 2, 3"
}
# Monthly and yearly totals as stored, and as recomputed from the daily rows up to the
# rollup horizon R (_ENCORE_ROLLUP: a month holds its days <= R, a year its months that
# ended by R): "month|dimension|key|plays|seconds" then "year|…" lines.
rollup_stored() {
    sqlite3 -batch "$1" "SELECT month, dimension, key, plays, seconds FROM MUSIC_EVENTS_MONTHLY ORDER BY 1, 2, 3;
        SELECT year, dimension, key, plays, seconds FROM MUSIC_EVENTS_YEARLY ORDER BY 1, 2, 3"
}
rollup_recomputed() {
    sqlite3 -batch "$1" "WITH h AS (SELECT rolled_through AS r FROM _ENCORE_ROLLUP WHERE events_table = 'MUSIC_EVENTS')
        SELECT substr(day, 1, 7) AS m, dimension, key, sum(plays), sum(seconds)
        FROM MUSIC_EVENTS_DAILY, h WHERE day <= h.r GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
        WITH h AS (SELECT rolled_through AS r FROM _ENCORE_ROLLUP WHERE events_table = 'MUSIC_EVENTS')
        SELECT substr(day, 1, 4) AS y, dimension, key, sum(plays), sum(seconds)
        FROM MUSIC_EVENTS_DAILY, h WHERE date(substr(day, 1, 7) || '-01', '+1 month', '-1 day') <= h.r
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
}
rollup_horizon() {
    sqlite3 -batch "$1" "SELECT rolled_through FROM _ENCORE_ROLLUP WHERE events_table = 'MUSIC_EVENTS'"
}
# The whole daily table including the listener sketches, as a checksum.
agg_digest() {
    sqlite3 -batch "$1" "SELECT dimension, key, day, plays, seconds, hex(listeners), title, artist
        FROM MUSIC_EVENTS_DAILY ORDER BY 1, 2, 3" | md5sum | cut -d' ' -f1
}

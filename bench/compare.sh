#!/usr/bin/env bash
# bench/compare.sh BUILD_DIR — `make bench-compare`: the end-to-end job, encore against DuckDB.
#
# The job: read the JSON event files, left-join songs.csv and users.csv, derive
# event_time, write the enriched MUSIC_EVENTS table to a database file. Contenders, on the
# same cached dataset (bench/lib.sh; 1M events, 100k songs, 1M users), in the same run,
# alternating round by round:
#   encore            `encore run --once` into SQLite as shipped (WAL, sync=full, daily
#                     aggregates, 24h dedup watermark, quarantine table, user index)
#   encore lean       the same with --no-aggregates --watermark 0: closest to DuckDB's job
#   duckdb 1t / 2t    bench/duckdb_job.mjs under Node.js with @duckdb/node-api (pinned below,
#                     installed into bench/cache/node by npm), SET threads=1 / 2, writing a
#                     DuckDB database file: the fair peer of encore writing SQLite.
# Wall time and peak RSS are the whole process's (GNU time %e and %M) for every
# contender, reference data load included. Medians of BENCH_RUNS rounds (3);
# COMPARE_EVENTS=N picks another dataset size; BENCH_QUICK=1 small and one round.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
ENCORE=$PWD/$build/encore
source bench/lib.sh
DUCKDB_PKG=@duckdb/node-api@1.5.6-r.1
NODE_DIR=$CACHE/node
for tool in "$ENCORE" "$TIME" node npm; do
    command -v "$tool" >/dev/null || { echo "bench-compare: $tool is missing" >&2; exit 2; }
done
if [ ! -f "$NODE_DIR/.installed-${DUCKDB_PKG//\//_}" ]; then
    echo "bench-compare: npm install $DUCKDB_PKG into $NODE_DIR" >&2
    mkdir -p "$NODE_DIR"
    npm install --prefix "$NODE_DIR" --no-audit --no-fund --silent "$DUCKDB_PKG" >&2
    touch "$NODE_DIR/.installed-${DUCKDB_PKG//\//_}"
fi
cp bench/duckdb_job.mjs "$NODE_DIR/" # node resolves the package next to the script
DUCK_VERSION=$(node -e "console.log(require('$NODE_DIR/node_modules/@duckdb/node-api/package.json').version)")

data=$(dataset "${COMPARE_EVENTS:-$MAIN}")
events=$(cat "$data"/events/*.json | wc -l)
OUTDUCK=$TMP/bench.duckdb
RES=$TMP/compare.txt # "name|wall|rss_kib|rows"
: >"$RES"

run_encore() { # NAME [extra args]
    local name=$1
    shift
    fresh_db
    timed "$TMP/c" "$ENCORE" run --once --quiet --events "$data/events" --songs "$data/songs.csv" \
        --users "$data/users.csv" --sink "sqlite:$TMP/bench.db" "$@"
    local wall rss
    read -r wall rss <"$TMP/c.time"
    echo "$name|$wall|$rss|$(summary_rows "$TMP/c.out")" >>"$RES"
    fresh_db
}

run_duck() { # THREADS
    rm -f "$OUTDUCK" "$OUTDUCK.wal"
    timed "$TMP/c" node "$NODE_DIR/duckdb_job.mjs" "$data" "$OUTDUCK" "$1"
    local wall rss
    read -r wall rss <"$TMP/c.time"
    echo "duckdb ${1}t|$wall|$rss|$(sed -nE 's/.*rows=([0-9]+).*/\1/p' "$TMP/c.out")" >>"$RES"
    rm -f "$OUTDUCK" "$OUTDUCK.wal"
}

for ((r = 1; r <= RUNS; r++)); do
    echo "bench-compare: round $r of $RUNS" >&2
    if ((r % 2)); then
        run_encore encore
        run_duck 1
        run_encore "encore lean" --no-aggregates --watermark 0
        run_duck 2
    else # the other order, so neither side always runs first
        run_duck 2
        run_encore "encore lean" --no-aggregates --watermark 0
        run_duck 1
        run_encore encore
    fi
done

report() {
    machine
    echo "dataset: $events events ($(du -sh "$data/events" | cut -f1)), $SONGS songs, $USERS users;" \
        "DuckDB $DUCK_VERSION via @duckdb/node-api under Node.js $(node --version)"
    echo
    echo "| contender | rows written | wall s | events/s | peak RSS MiB |"
    echo "|---|---:|---:|---:|---:|"
    awk -F'|' -v ev="$events" "$AWK_MEDIAN"'
      !($1 in seen) { seen[$1] = 1; order[++k] = $1 }
      { wall[$1] = wall[$1] " " $2; rss[$1] = rss[$1] " " $3 / 1024; rows[$1] = $4 }
      END { for (i = 1; i <= k; i++) { c = order[i]; w = median(wall[c])
              printf "| %s | %d | %.2f | %.0f | %.0f |\n", c, rows[c], w, ev / w, median(rss[c]) } }' "$RES"
    echo
    echo "| ratio (medians) | wall time encore/DuckDB | throughput encore/DuckDB | peak RSS encore/DuckDB |"
    echo "|---|---:|---:|---:|"
    awk -F'|' "$AWK_MEDIAN"'
      { wall[$1] = wall[$1] " " $2; rss[$1] = rss[$1] " " $3 }
      END { split("encore|encore lean", E, "|"); split("duckdb 1t|duckdb 2t", D, "|")
            for (i = 1; i <= 2; i++) for (j = 1; j <= 2; j++) {
              we = median(wall[E[i]]); wd = median(wall[D[j]]); re = median(rss[E[i]]); rd = median(rss[D[j]])
              printf "| %s vs %s | %.2f | %.2f× | %.2f |\n", E[i], D[j], we / wd, wd / we, re / rd } }' "$RES"
}
out=$(report)
echo "$out" | tee "$CACHE/last-compare.md"

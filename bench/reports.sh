#!/usr/bin/env bash
# bench/reports.sh DB [RUNS] — how fast `encore top` and `encore wrapped` answer on the
# sink DB (bench/REPORTS.md has the figures and how the 100M-row sink was built).
#
# Times, as wall-clock milliseconds of the whole process (open, query, print):
#   - `encore top` for every --by (song artist genre country device) and --metric (plays
#     listeners minutes) over --year Y, its busiest month and its busiest day, and all
#     time for songs; Y is the year with the most plays (override: YEAR=YYYY);
#   - `encore wrapped --year Y` for the user with the most plays that year (found through
#     the _BY_USER index: a scan of it, once), the user of the play in the middle of the
#     table, and a user who does not exist (override: HEAVY_USER, TYPICAL_USER).
# Each command runs once cold — DB and its WAL evicted from the page cache first with
# posix_fadvise(DONTNEED), which needs no privilege; the rest of the process image stays
# cached — then RUNS times warm (default 5): the table shows cold wall and CPU time, and
# the median, min and max wall time and the median CPU time (user + sys, GNU time, 10 ms
# steps) of the warm runs. On a shared machine wall time includes waiting for a core;
# CPU time does not. Then EXPLAIN QUERY PLAN of every statement the song charts and a
# wrapped ran, as encore itself printed them (ENCORE_TRACE_SQL=1).
# Knobs: ENCORE (default build/encore), BENCH_SQL (build/bench_sql), ONLY=top|wrapped,
# BY="song artist …" and METRICS="plays …" to time fewer charts.
# Meant to run niced on a shared machine: `nice -n 19 bench/reports.sh DB`.
set -euo pipefail
db=$1
runs=${2:-5}
ENCORE=${ENCORE:-build/encore}
SQL=${BENCH_SQL:-build/bench_sql}
ONLY=${ONLY:-}
BY=${BY:-song artist genre country device}
METRICS=${METRICS:-plays listeners minutes}
t=MUSIC_EVENTS
for x in "$ENCORE" "$SQL"; do [ -x "$x" ] || { echo "reports: $x missing (make all $SQL)" >&2; exit 2; }; done
[ -f "$db" ] || { echo "reports: no database $db" >&2; exit 2; }
q() { sqlite3 -readonly "$db" "$@"; }

year=${YEAR:-$(q "SELECT substr(day, 1, 4) AS y FROM \"${t}_DAILY\" WHERE dimension = 'device'
                  GROUP BY y ORDER BY sum(plays) DESC LIMIT 1")}
# The month and the day of that year with the most plays (overrides: MONTH, DAY), so a
# short dataset still times charts that have rows.
busiest() { q "SELECT substr(day, 1, $1) AS p FROM \"${t}_DAILY\" WHERE dimension = 'device'
               AND day >= '$year-01-01' AND day <= '$year-12-31' GROUP BY p ORDER BY sum(plays) DESC LIMIT 1"; }
month=${MONTH:-$(busiest 7)} day=${DAY:-$(busiest 10)}

evict() {
    python3 - "$db" "$db-wal" <<'EOF'
import os, sys
for f in sys.argv[1:]:
    if os.path.exists(f):
        fd = os.open(f, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
EOF
}

TIMES=$(mktemp)
trap 'rm -f "$TIMES"' EXIT
ms() { # command... → "wall_ms cpu_ms" of one run (cpu: user + sys, 10 ms steps), output discarded
    local t0=$EPOCHREALTIME
    /usr/bin/time -f '%U %S' -o "$TIMES" "$@" >/dev/null || { echo "reports: failed: $*" >&2; exit 1; }
    local t1=$EPOCHREALTIME
    awk -v a="$t0" -v b="$t1" -v c="$(cat "$TIMES")" 'BEGIN { split(c, u, " "); printf "%.0f %.0f", (b - a) * 1000, (u[1] + u[2]) * 1000 }'
}

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }

measure() { # label command...
    local label=$1
    shift
    sync
    evict
    local cold walls=() cpus=() w c
    cold=$(ms "$@")
    for ((i = 0; i < runs; i++)); do
        read -r w c <<<"$(ms "$@")"
        walls+=("$w") cpus+=("$c")
    done
    local sorted
    sorted=$(printf '%s\n' "${walls[@]}" | sort -n)
    printf '| %s | %s | %s | %s | %s–%s | %s |\n' "$label" "${cold% *}" "${cold#* }" "$(echo "$sorted" | median)" \
        "$(echo "$sorted" | head -n 1)" "$(echo "$sorted" | tail -n 1)" "$(printf '%s\n' "${cpus[@]}" | median)"
}

echo "## encore reports on $db"
echo
echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/Mem:/ { print $2 }') GiB RAM, load $(cut -d' ' -f1-3 /proc/loadavg), SQLite $(sqlite3 --version | cut -d' ' -f1)"
echo "- file: $(du -h "$db" | cut -f1); $t rows (max rowid) $(q "SELECT max(rowid) FROM \"$t\""); ${t}_DAILY rows $(q "SELECT count(*) FROM \"${t}_DAILY\"")"
has_rollups=$(q "SELECT count(*) FROM sqlite_schema WHERE name IN ('${t}_MONTHLY', '${t}_YEARLY')")
echo "- rollups (${t}_MONTHLY and _YEARLY): $([ "$has_rollups" = 2 ] && echo yes || echo no)"
echo "- periods: --year $year, --month $month, --day $day; $runs warm runs after one cold"
echo

if [ "$ONLY" != wrapped ]; then
    echo "| encore top … | cold wall ms | cold cpu ms | warm wall ms (median) | warm wall min–max | warm cpu ms (median) |"
    echo "|---|---:|---:|---:|---:|---:|"
    for period in "--year $year" "--month $month" "--day $day"; do
        for by in $BY; do
            for metric in $METRICS; do
                # shellcheck disable=SC2086
                measure "--by $by --metric $metric $period" "$ENCORE" top --sink "sqlite:$db" --by $by --metric $metric $period
            done
        done
    done
    for metric in $METRICS; do
        measure "--by song --metric $metric (all time)" "$ENCORE" top --sink "sqlite:$db" --by song --metric $metric
    done
    echo
fi

if [ "$ONLY" != top ]; then
    heavy=${HEAVY_USER:-$(q "SELECT user_id FROM \"$t\" INDEXED BY \"${t}_BY_USER\" WHERE event_time >= '$year'
                             AND event_time < '$year-13' GROUP BY user_id ORDER BY count(*) DESC LIMIT 1")}
    typical=${TYPICAL_USER:-$(q "SELECT user_id FROM \"$t\" WHERE rowid = (SELECT max(rowid) / 2 FROM \"$t\")")}
    plays_of() { q "SELECT count(*) FROM \"$t\" WHERE user_id = '$1' AND event_time >= '$year' AND event_time < '$year-13'"; }
    echo "| encore wrapped --year $year … | cold wall ms | cold cpu ms | warm wall ms (median) | warm wall min–max | warm cpu ms (median) |"
    echo "|---|---:|---:|---:|---:|---:|"
    measure "--user $heavy (heaviest: $(plays_of "$heavy") plays)" "$ENCORE" wrapped --sink "sqlite:$db" --user "$heavy" --year "$year"
    measure "--user $typical (typical: $(plays_of "$typical") plays)" "$ENCORE" wrapped --sink "sqlite:$db" --user "$typical" --year "$year"
    measure "--user nobody-here (missing)" "$ENCORE" wrapped --sink "sqlite:$db" --user nobody-here --year "$year"
    echo
fi

echo "### Query plans (EXPLAIN QUERY PLAN of the statements encore ran, from ENCORE_TRACE_SQL=1)"
echo
echo '```'
traced=$(mktemp)
trap 'rm -f "$TIMES" "$traced"' EXIT
for period in "--year $year" "--month $month" "--day $day" ""; do
    # shellcheck disable=SC2086
    ENCORE_TRACE_SQL=1 "$ENCORE" top --sink "sqlite:$db" --by song --metric listeners $period 2>>"$traced" >/dev/null
done
ENCORE_TRACE_SQL=1 "$ENCORE" wrapped --sink "sqlite:$db" --user "${typical:-nobody-here}" --year "$year" 2>>"$traced" >/dev/null
# The chart's temp table (pending packs) is created first in each EXPLAIN's connection;
# transaction control, PRAGMAs and the temp table's own upkeep have no plan to show.
temp_ddl=$(sed -n 's/^encore: sql: \(CREATE TEMP TABLE .*\)/\1/p' "$traced" | head -n 1)
sed -n 's/^encore: sql: //p' "$traced" | grep -v sqlite_schema | grep -Ev '^(BEGIN|COMMIT|PRAGMA|CREATE TEMP|DELETE FROM temp)' |
    awk '!seen[$0]++' | while IFS= read -r stmt; do
        echo "-- $stmt"
        printf '%s\nEXPLAIN QUERY PLAN %s;\n' "$temp_ddl" "$stmt" | "$SQL" "$db" | sed 's/^/   /'
    done
echo '```'

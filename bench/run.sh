#!/usr/bin/env bash
# bench/run.sh BUILD_DIR — `make bench`: encore's workloads, one table of medians.
#
# Workloads (events/s and MB/s are over the processing time: the one-off load of
# songs.csv and users.csv is shown apart as "load s"; "wall s" is the whole process):
#   1 parse          bench_parse: read each file, frame it, parse every record into its
#                    fields and check the required ones; nothing kept. One thread.
#   2 enrich         bench_parse --enrich: the reader thread's enrichment (parse, event_time,
#                    song and user joins, rescued JSON) in batches of 100k, one thread. A line
#                    under the table splits its span at the end of the first batch, which also
#                    pays the first touch of the batch's fresh memory (kernel page zeroing).
#   2 null sink      encore run --once --sink null: — the whole pipeline (two threads: dedup,
#                    row sort and aggregates included) with a sink that keeps nothing.
#   3 sqlite         encore run --once into a fresh SQLite file (defaults: WAL, sync=full,
#                    aggregates, 24h dedup watermark); and the same with --no-aggregates.
#   4 latency        encore run (watch mode, inotify) while bench_drop writes files of 1,000
#                    events at a steady 100k events/s for 30 s (dot name, close, rename).
#                    Latency per file = the time its batch's COMMIT returned (encore
#                    --commit-log, written by the writer thread after the commit: fsync
#                    included) - the file's close time. p50/p99/max over all files of a run;
#                    the median of the runs is shown. "pre-commit stamp p99" is the older one,
#                    from _ENCORE_CHECKPOINT.committed_at_us (stamped before COMMIT); the
#                    difference per batch is the COMMIT statement's own time (WAL write,
#                    fsync, and a checkpoint when one runs inside it), shown median/max.
#                    Its events/s is the sustained rate: events / (last commit - first close);
#                    below the offered rate means encore fell behind and latency grew. A file
#                    not committed 30 s (BENCH_LAT_DRAIN) after the last drop counts as
#                    infinitely late; its run's percentiles then read "n/a" where they reach it.
#                    Each run also shows its commits (transactions after the warm-up file):
#                    fewer than files when encore grouped files landing during a commit.
#   5 scale          workload 3 (with aggregates) on 1M and 10M events (50M with
#                    BENCH_LARGE=1, and then the 50M data's first 10M events too, so that
#                    two rows differ by length alone): how time and peak RSS grow with
#                    stream length. The 1M row is workload 3's runs; the others run once
#                    (BENCH_SCALE_RUNS=N).
# Peak RSS is GNU time's %M (the largest resident set of the process, KiB → MiB).
# Datasets come from `encore gen` (100k songs, 1M users, seed 42, ~10 plays per user and day:
# bench/lib.sh), cached in bench/cache/
# by size and by the checksum of src/gen.c. Every workload runs BENCH_RUNS times (3);
# the table shows medians. BENCH_QUICK=1: small data, one run each, 5 s of latency.
# The table is also written to bench/cache/last-run.md. For profiling one workload:
# BENCH_ONLY="2 4" (workload numbers), BENCH_LAT_RATE=N, BENCH_LAT_SECONDS=N, and
# BENCH_LAT_ARGS="..." (extra encore run options for workload 4, e.g. --no-aggregates).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
ENCORE=$PWD/$build/encore
PARSE=$PWD/$build/bench_parse
DROP=$PWD/$build/bench_drop
source bench/lib.sh
for tool in "$ENCORE" "$PARSE" "$DROP" "$TIME" sqlite3; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing (run: make bench)" >&2; exit 2; }
done

LAT_RATE=${BENCH_LAT_RATE:-100000} LAT_PER_FILE=1000
SCALE_RUNS=${BENCH_SCALE_RUNS:-1} # the 10M and 50M runs: one each by default (the time budget)
LAT_SECONDS=${BENCH_LAT_SECONDS:-$LAT_SECONDS} LAT_DRAIN=${BENCH_LAT_DRAIN:-30}
ONLY=" ${BENCH_ONLY:-1 2 3 4 5} "
want() { [[ "$ONLY" == *" $1 "* ]]; }
# Results: one line per run in $RES: "workload|events|bytes|wall_s|load_s|proc_s|rss_kib".
RES=$TMP/results.txt
: >"$RES"
# Workload 2's timed span split at its first batch (bench_parse): "seconds first_s later_eps cpu first_cpu".
SPLIT=$TMP/split.txt
: >"$SPLIT"
record() { echo "$1|$2|$3|$4|$5|$6|$7" >>"$RES"; }

run_parse() { # NAME DATA [--enrich]
    local name=$1 data=$2
    shift 2
    local args=()
    [ "${1:-}" = --enrich ] && args=(--enrich "$data/songs.csv" "$data/users.csv")
    for ((r = 1; r <= RUNS; r++)); do
        timed "$TMP/p" "$PARSE" "${args[@]}" "$data"/events/*.json
        local kv wall rss
        kv=$(cat "$TMP/p.out")
        read -r wall rss <"$TMP/p.time"
        get() { sed -E "s/.*(^| )$1=([^ ]+).*/\2/" <<<"$kv"; }
        record "$name" "$(get events)" "$(get bytes)" "$wall" "$(get load_seconds)" "$(get seconds)" "$rss"
        if [[ "$kv" == *first_batch_seconds=* ]]; then # workload 2 only (set -e: no bare && list here)
            echo "$(get seconds) $(get first_batch_seconds) $(get later_events_per_s) $(get cpu_seconds) $(get first_batch_cpu_seconds)" >>"$SPLIT"
        fi
    done
}

run_encore() { # NAME DATA SINK [extra args]
    local name=$1 data=$2 sink=$3
    shift 3
    local bytes
    bytes=$(input_bytes "$data")
    for ((r = 1; r <= RUNS; r++)); do
        fresh_db
        timed "$TMP/e" "$ENCORE" run --once --quiet --events "$data/events" --songs "$data/songs.csv" \
            --users "$data/users.csv" --sink "$sink" "$@"
        local wall rss ev secs
        read -r wall rss <"$TMP/e.time"
        ev=$(summary_events "$TMP/e.out")
        secs=$(summary_secs "$TMP/e.out")
        record "$name" "$ev" "$bytes" "$wall" "$(awk -v w="$wall" -v s="$secs" 'BEGIN{printf "%.2f", w - s}')" \
            "$secs" "$rss"
    done
    fresh_db
}

# ---- workload 4: watch-mode latency ----
LAT=$TMP/latency.txt
: >"$LAT"
committed() { sqlite3 -batch -noheader "file:$TMP/bench.db?mode=ro" "$1" 2>/dev/null; }
wait_for() { # SECONDS SQL WANT
    local end=$((SECONDS + $1))
    while [ $SECONDS -lt $end ]; do
        [ "$(committed "$2")" = "$3" ] && return 0
        sleep 0.1
    done
    return 1
}

run_latency() { # DATA
    local data=$1 watch=$TMP/watch
    local nfiles=$((LAT_SECONDS * LAT_RATE / LAT_PER_FILE))
    for ((r = 1; r <= RUNS; r++)); do
        fresh_db
        rm -rf "$watch"
        mkdir -p "$watch"
        rm -f "$TMP/commit.log"
        "$TIME" -f "%e %M" -o "$TMP/w.time" "$ENCORE" run --quiet --events "$watch" --songs "$data/songs.csv" \
            --users "$data/users.csv" --sink "sqlite:$TMP/bench.db" --commit-log "$TMP/commit.log" \
            ${BENCH_LAT_ARGS:-} >"$TMP/w.out" 2>"$TMP/w.err" &
        local tpid=$! epid=""
        # Ready when a warm-up file is committed (reference data loaded, inotify watching).
        echo '{"user_id":"warmup","song_id":"warmup","timestamp":"2025-01-01T00:00:00Z"}' >"$watch/warmup.json"
        if ! wait_for 120 "SELECT count(*) FROM _ENCORE_CHECKPOINT WHERE source_key LIKE '%warmup.json'" 1; then
            echo "bench: encore (watch mode) did not start; see $TMP/w.err" >&2
            kill "$tpid" 2>/dev/null
            return 1
        fi
        epid=$(pgrep -P "$tpid" | head -n 1)
        "$DROP" --out "$watch" --log "$TMP/drop.log" --rate "$LAT_RATE" --per-file "$LAT_PER_FILE" \
            --seconds "$LAT_SECONDS" "$data"/events/*.json >"$TMP/drop.out"
        wait_for "$LAT_DRAIN" "SELECT count(*) FROM _ENCORE_CHECKPOINT WHERE source_key LIKE '%/drop-%'" "$nfiles" ||
            echo "bench: not every dropped file was committed ${LAT_DRAIN} s after the last drop" >&2
        kill -INT "$epid"
        wait "$tpid" || true
        local wall rss
        read -r wall rss <"$TMP/w.time"
        # Per file: the time its COMMIT returned (commit log) - close_us, for files read to
        # their full size; the span from the first close to the last commit (the sustained
        # rate); and the pre-commit stamp's p99 (_ENCORE_CHECKPOINT.committed_at_us).
        sqlite3 -batch -noheader :memory: "ATTACH 'file:$TMP/bench.db?mode=ro' AS b;" \
            "CREATE TABLE d(name TEXT, bytes INTEGER, closed INTEGER);" \
            ".import $TMP/drop.log d" \
            "CREATE TABLE k(offset INTEGER, done INTEGER, path TEXT);" \
            ".mode tabs" ".import $TMP/commit.log k" ".mode list" \
            "CREATE TABLE lat AS SELECT d.closed, k.done AS committed, c.committed_at_us AS stamped
               FROM d JOIN k ON k.path LIKE '%/' || d.name AND k.offset = d.bytes
               JOIN _ENCORE_CHECKPOINT c ON c.source_key = k.path AND c.offset = k.offset;" \
            "SELECT (max(committed) - min(closed)) / 1e6 FROM lat;" \
            "CREATE TABLE cm AS SELECT DISTINCT committed - stamped AS us FROM lat;" \
            "SELECT (SELECT us FROM cm ORDER BY us LIMIT 1 OFFSET (SELECT count(*) / 2 FROM cm)) / 1000.0,
               max(us) / 1000.0 FROM cm;" \
            "SELECT coalesce((SELECT stamped - closed FROM lat ORDER BY 1 LIMIT 1 OFFSET
               (SELECT ($nfiles * 99 + 99) / 100 - 1)), 1e12);" \
            "SELECT committed - closed FROM lat ORDER BY 1;" >"$TMP/lat.us"
        local span pre99 commit_ms
        span=$(sed -n 1p "$TMP/lat.us")
        commit_ms=$(sed -n 2p "$TMP/lat.us" | awk -F'|' '{printf "%.1f/%.1f", $1, $2}')
        pre99=$(sed -n 3p "$TMP/lat.us" | awk '{print $1 / 1000}')
        sed -i 1,3d "$TMP/lat.us"
        # Percentiles over every dropped file; one not committed by the deadline counts as
        # infinitely late (1e12 µs here, shown as "n/a").
        local n p50 p99 max bytes
        n=$(wc -l <"$TMP/lat.us")
        [ "$n" -eq "$nfiles" ] || echo "bench: latency run $r: $((nfiles - n)) of $nfiles files not committed" >&2
        pct() { awk -v n="$nfiles" -v k="$1" 'NR == int((n * k + 99) / 100) {v = $1} END {print (v == "" ? 1e12 : v) / 1000}' "$TMP/lat.us"; }
        p50=$(pct 50)
        p99=$(pct 99)
        max=$(pct 100)
        bytes=$(awk -F'|' -v m="$n" 'NR <= m {s += $2} END {print s + 0}' "$TMP/drop.log")
        # Commits (transactions) of dropped files: group commit makes fewer, larger ones
        # when encore is busy; one per file when it keeps up with room to spare.
        local commits
        commits=$(committed "SELECT count(*) FROM _ENCORE_BATCHES WHERE batch_id > 1")
        echo "$p50 $p99 $max $((nfiles - n)) $nfiles ${commits:-0} $pre99 $commit_ms" >>"$LAT"
        record "4 watch mode, ${LAT_RATE} ev/s offered" "$((n * LAT_PER_FILE))" "$bytes" "$wall" 0 "$span" "$rss"
    done
    fresh_db
    rm -rf "$watch"
}

# ---- run everything ----
main=$(dataset "$MAIN")
echo "bench: $RUNS run(s) per workload; main dataset $MAIN events" >&2
if want 1; then
    echo "bench: 1 parse" >&2
    run_parse "1 parse (1 thread)" "$main"
fi
if want 2; then
    echo "bench: 2 enrich" >&2
    run_parse "2 parse+enrich (1 thread)" "$main" --enrich
    run_encore "2 encore run --sink null:" "$main" null:
fi
if want 3 || want 5; then
    echo "bench: 3 sqlite" >&2
    run_encore "3 sqlite, aggregates" "$main" "sqlite:$TMP/bench.db"
fi
if want 3; then
    run_encore "3 sqlite, --no-aggregates" "$main" "sqlite:$TMP/bench.db" --no-aggregates
fi
if want 4; then
    echo "bench: 4 latency (${LAT_SECONDS}s per run)" >&2
    run_latency "$(dataset "$(echo "$SCALE" | awk '{print $NF}')")"
fi
for n in $SCALE; do
    want 5 || break
    echo "bench: 5 scale $n" >&2
    if [ "$n" = "$MAIN" ]; then # the same job as workload 3 with aggregates: reuse its runs
        grep '^3 sqlite, aggregates|' "$RES" | sed "s/^3 sqlite, aggregates|/5 scale $n (= 3 with aggregates)|/" >>"$RES"
        continue
    fi
    RUNS=$SCALE_RUNS run_encore "5 scale $n" "$(dataset "$n")" "sqlite:$TMP/bench.db"
done
# With BENCH_LARGE=1 also the largest dataset's first 10M events (its first files): the same
# data as the 50M row, so those two peaks differ by the stream's length alone (the 10M row's
# own dataset is another generated day, whose peak differs by a few per cent).
if want 5 && [ "$(echo "$SCALE" | wc -w)" -gt 2 ]; then
    big=$(echo "$SCALE" | awk '{print $NF}') n=$(echo "$SCALE" | awk '{print $(NF-1)}')
    src=$(dataset "$big") pre="$TMP/prefix-$n"
    rm -rf "$pre" && mkdir -p "$pre/events"
    find "$src/events" -maxdepth 1 -name '*.json' -printf '%f\n' | sort | head -n $(((n + 99999) / 100000)) |
        while read -r f; do ln -s "$src/events/$f" "$pre/events/$f"; done
    ln -s "$src/songs.csv" "$pre/songs.csv" && ln -s "$src/users.csv" "$pre/users.csv"
    echo "bench: 5 scale $n, the first of the $big data" >&2
    RUNS=$SCALE_RUNS run_encore "5 scale $n (the first of the $big data)" "$pre" "sqlite:$TMP/bench.db"
    rm -rf "$pre"
fi

# ---- the table ----
table() {
    echo "| workload | events | wall s | load s | events/s | MB/s | peak RSS MiB |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    awk -F'|' "$AWK_MEDIAN"'
      !($1 in seen) { seen[$1] = 1; order[++k] = $1 }
      { ev[$1] = $2; wall[$1] = wall[$1] " " $4; load[$1] = load[$1] " " $5
        eps[$1] = eps[$1] " " ($6 > 0 ? $2 / $6 : 0); mbs[$1] = mbs[$1] " " ($6 > 0 ? $3 / $6 / 1e6 : 0)
        rss[$1] = rss[$1] " " $7 / 1024 }
      END { for (i = 1; i <= k; i++) { w = order[i]
          printf "| %s | %d | %.2f | %.2f | %.0f | %.1f | %.0f |\n", w, ev[w], median(wall[w]), median(load[w]),
                 median(eps[w]), median(mbs[w]), median(rss[w]) } }' "$RES"
    echo
    if [ -s "$SPLIT" ]; then
        awk "$AWK_MEDIAN"'
          { s = s " " $1; f = f " " $2; l = l " " $3; c = c " " $4; fc = fc " " $5 }
          END { printf "2 parse+enrich, its span split at the first batch (medians of %d runs): first batch %.3f s of %.3f s (CPU %.3f of %.3f s): it also pays the first touch of the batch'"'"'s fresh memory; later batches %.0f events/s.\n\n", NR, median(f), median(s), median(fc), median(c), median(l) }' "$SPLIT"
    fi
    [ -s "$LAT" ] || return 0
    awk "$AWK_MEDIAN"'
      function ms(v) { return v >= 1e9 ? "n/a" : sprintf("%.1f", v) }
      { p50 = p50 " " $1; p99 = p99 " " $2; mx = mx " " $3; lost += $4
        pre = pre " " $7
        runs = runs sprintf(" %s/%s/%s, %d commits (COMMIT ms median/max %s)", ms($1), ms($2), ms($3), $6, $8) (($4 > 0) ? sprintf(" (%d of %d files uncommitted)", $4, $5) : "") ";" }
      END { printf "watch-mode latency, file close → COMMIT returned (median of %d runs): p50 %s ms, p99 %s ms, max %s ms (pre-commit stamp p99 %s ms)\n", NR, ms(median(p50)), ms(median(p99)), ms(median(mx)), ms(median(pre))
            printf "per run p50/p99/max ms, commits of the dropped files:%s\n", runs
            if (lost) printf "n/a: files not committed %d s after the last drop count as infinitely late: encore fell behind the offered rate.\n", drain }' \
        drain="$LAT_DRAIN" "$LAT"
}
out=$({ machine; echo; table; })
echo "$out" | tee "$CACHE/last-run.md"

# bench/lib.sh — shared by bench/run.sh and bench/compare.sh: sizes, cached datasets,
# timing under GNU time, medians, the machine line. Sourced with CWD = the repository.
CACHE=$PWD/bench/cache
# one per script and checkout: run.sh and compare.sh, or two worktrees sharing one cache, may run at once
TMP=$CACHE/tmp/$(basename "$PWD")-$(basename "$0" .sh)
TIME=/usr/bin/time
mkdir -p "$CACHE" "$TMP"
GEN_ID=$(cat src/gen.c src/gen_rand.c src/gen_names.c | md5sum | cut -c1-8) # the generator's sources
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

if [ "${BENCH_QUICK:-0}" = 1 ]; then
    RUNS=${BENCH_RUNS:-1} SONGS=10000 USERS=100000 MAIN=200000 SCALE="200000 500000" LAT_SECONDS=5
else
    RUNS=${BENCH_RUNS:-3} SONGS=100000 USERS=1000000 MAIN=1000000 SCALE="1000000 10000000" LAT_SECONDS=30
    [ "${BENCH_LARGE:-0}" = 1 ] && SCALE="$SCALE 50000000"
fi

# Days of event time a dataset spans: as dense as a live service, ~10 plays per user and
# day (1M users: 10M events a day), at least 1; BENCH_DAYS=N fixes it (0: the whole year).
days_for() {
    if [ -n "${BENCH_DAYS:-}" ]; then echo "$BENCH_DAYS"; else
        local d=$((($1 + 10 * USERS - 1) / (10 * USERS)))
        echo $((d > 365 ? 365 : d))
    fi
}

# dataset EVENTS → prints its directory, generating it once (100k events per file).
dataset() {
    local n=$1 days
    days=$(days_for "$1")
    local dir="$CACHE/data-$1-$SONGS-$USERS-d$days-$GEN_ID"
    if [ ! -f "$dir/.complete" ]; then
        rm -rf "$dir"
        local files=$(((n + 99999) / 100000))
        echo "bench: generating $n events over $days day(s) ($files files, $SONGS songs, $USERS users) in $dir" >&2
        "$ENCORE" gen --out "$dir" --events "$n" --files "$files" --songs "$SONGS" --users "$USERS" --days "$days" \
            --seed 42 >&2
        touch "$dir/.complete"
    fi
    echo "$dir"
}

input_bytes() { cat "$1"/events/*.json | wc -c; }

# timed PREFIX CMD...: runs CMD under GNU time; stdout → PREFIX.out, stderr → PREFIX.err,
# "wall_s peak_rss_kib" → PREFIX.time.
timed() {
    local pre=$1
    shift
    "$TIME" -f "%e %M" -o "$pre.time" "$@" >"$pre.out" 2>"$pre.err" || {
        echo "bench: failed: $*" >&2
        tail -n 5 "$pre.err" >&2
        return 1
    }
}

# encore's summary line: "... N events read, ... S s, E events/s".
summary_events() { sed -nE 's/.* ([0-9]+) events read.*/\1/p' "$1" | tail -n 1; }
summary_rows() { sed -nE 's/.* ([0-9]+) rows written.*/\1/p' "$1" | tail -n 1; }
summary_secs() { sed -nE 's/.*, ([0-9.]+) s, [0-9]+ events\/s.*/\1/p' "$1" | tail -n 1; }

# awk function text: median of a space-separated list.
AWK_MEDIAN='function median(list,   a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}'

machine() {
    echo "machine: $(nproc) cores, $(sed -nE 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)," \
        "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), Linux $(uname -r);" \
        "$(date -u '+%Y-%m-%d %H:%M UTC'); load average (1/5/15 min) at start: $LOAD_START, at end:" \
        "$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "build: $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src 2>/dev/null || echo ' (src modified)')," \
        "cc $(cc -dumpversion) -O3 -march=native; SQLite $(sqlite3 --version | cut -d' ' -f1);" \
        "runs per workload: $RUNS (medians shown)"
}

# The SQLite database every encore run writes, removed before and after each run.
fresh_db() { rm -f "$TMP"/bench.db "$TMP"/bench.db-wal "$TMP"/bench.db-shm "$TMP"/bench.db.*.lock; }

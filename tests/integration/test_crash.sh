#!/usr/bin/env bash
# Crash torture: kill -9 encore at random moments while files land and grow, restart it each
# time, and at the end every table equals what one clean run over the final files writes:
# MUSIC_EVENTS, MUSIC_EVENTS_QUARANTINE, MUSIC_EVENTS_DAILY (sketches byte for byte), the
# checkpoint, the batch-log totals (dedup included) and QUALITY_RESULTS totals, each compared
# as a multiset by an ordered dump's sha256 plus a count.
#   TORTURE=N        kills (default 20; TORTURE=200 for a long run)
#   CRASH_EVENTS=N   events generated (default 150000; 1000000 when TORTURE >= 100;
#                    50000 under sanitizers, ENCORE_SANITIZED=1, set by `make test-asan`)
#   CRASH_KEEP=DIR   on a difference, keep both databases and the events there
source "$(dirname "$0")/lib.sh"

TORTURE=${TORTURE:-${KILLS:-20}}
if [ -n "${CRASH_EVENTS:-}" ]; then
    EVENTS=$CRASH_EVENTS
elif [ "${ENCORE_SANITIZED:-0}" = 1 ]; then
    EVENTS=50000
elif [ "$TORTURE" -ge 100 ]; then
    EVENTS=1000000
else
    EVENTS=150000
fi
# The databases live on tmpfs when there is one: fsync per commit (synchronous=FULL) costs
# nothing there, and kill -9 tests the process, not the disk.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    DBDIR=$(mktemp -d /dev/shm/encore-crash.XXXXXX)
    trap 'rm -rf "$WORK" "$DBDIR"' EXIT
else
    DBDIR=$WORK
fi

# Regression: a restart whose first scan finds new files among checkpointed ones must not
# read a checkpointed file again (the file list was searched while half sorted, missed
# files were added twice and re-read from the start: rows doubled without the watermark).
mkdir -p "$WORK/re/ev"
printf 'song_id,title,artist,genre,duration\nS1,t,a,g,100\n' >"$WORK/re/songs.csv"
printf 'user_id,country,subscription,device\nU1,NL,free,web\n' >"$WORK/re/users.csv"
re_run() { "$ENCORE" run --events "$WORK/re/ev" --songs "$WORK/re/songs.csv" --users "$WORK/re/users.csv" \
    --sink "sqlite:$WORK/re/x.db" --once --quiet --watermark 0 >/dev/null; }
for k in $(seq 10 69); do printf '{"user_id":"U1","song_id":"S1","timestamp":"2025-01-01T00:00:%02d"}\n{bad\n' \
    $((k % 60)) >"$WORK/re/ev/m$k.json"; done
re_run
for k in $(seq 10 69); do
    printf '{"user_id":"U1","song_id":"S1","timestamp":"2025-01-02T00:00:%02d"}\n' $((k % 60)) >"$WORK/re/ev/a$k.json"
    cp "$WORK/re/ev/a$k.json" "$WORK/re/ev/z$k.json"
done
re_run
check_eq "new files among checkpointed ones: nothing read twice" \
    "$(sqlite3 "$WORK/re/x.db" 'SELECT count(*) FROM MUSIC_EVENTS; SELECT count(*) FROM MUSIC_EVENTS_QUARANTINE')" \
    "$(printf '180\n60')"

NFILES=24
SRC="$WORK/src"
EV="$WORK/events"
"$ENCORE" gen --out "$SRC" --events "$EVENTS" --files $NFILES --songs 2000 --users 5000 --seed 7 >/dev/null
check_eq "gen wrote $NFILES files" "$(ls "$SRC/events" | wc -l)" "$NFILES"
part() { printf '%s/events/part-%05d.json' "$SRC" "$1"; }

# Present from the start: files 0-7, and a copy of file 3 in a folder read after them
# (repeated plays, all within the watermark: dropped as duplicates).
mkdir -p "$EV/zz-resent"
for k in 0 1 2 3 4 5 6 7; do cp "$(part $k)" "$EV/"; done
cp "$(part 3)" "$EV/zz-resent/again.json"
# Landing later, one per step: files 8..21, alternately renamed into place (written under a
# name starting with '_') and copied in directly (encore may see them half written).
LANDING=()
for k in $(seq 8 $((NFILES - 3))); do LANDING+=("$k"); done
# Growing: live-a.json and live-b.json receive files 22 and 23 a slice at a time, sometimes
# ending in half a line that the next step completes.
GROW_SRC=("$(part $((NFILES - 2)))" "$(part $((NFILES - 1)))")
GROW_DST=("$EV/live-a.json" "$EV/live-b.json")
GROW_LINES=("$(wc -l <"${GROW_SRC[0]}")" "$(wc -l <"${GROW_SRC[1]}")")
GROW_NEXT=(1 1)  # next source line to append
GROW_HALF=(0 0)  # bytes of line GROW_NEXT already written (a partial line), 0 = none
: >"${GROW_DST[0]}"
: >"${GROW_DST[1]}"

land() { # index into LANDING
    local k=${LANDING[$1]}
    if [ $(($1 % 2)) -eq 0 ]; then
        cp "$(part "$k")" "$EV/_landing-$k.json" && mv "$EV/_landing-$k.json" "$EV/landed-$k.json"
    else
        cp "$(part "$k")" "$EV/landed-$k.json"
    fi
}
grow() { # g n_lines allow_partial
    local g=$1 n=$2 src=${GROW_SRC[$1]} dst=${GROW_DST[$1]}
    local next=${GROW_NEXT[$g]} half=${GROW_HALF[$g]} total=${GROW_LINES[$g]}
    if [ "$half" -gt 0 ]; then # complete the partial line
        sed -n "${next}p" "$src" | tail -c +$((half + 1)) >>"$dst"
        next=$((next + 1))
        half=0
    fi
    local last=$((next + n - 1))
    [ "$last" -gt "$total" ] && last=$total
    [ "$last" -ge "$next" ] && sed -n "${next},${last}p" "$src" >>"$dst"
    next=$((last + 1))
    if [ "$3" = 1 ] && [ "$next" -le "$total" ]; then
        local line len
        line=$(sed -n "${next}p" "$src")
        len=${#line}
        if [ "$len" -gt 2 ]; then
            half=$((len / 2))
            printf '%s' "$line" | head -c "$half" >>"$dst"
        fi
    fi
    GROW_NEXT[$g]=$next
    GROW_HALF[$g]=$half
}
step() { # i: one step of landing and growing
    local i=$1
    local per=$(((${#LANDING[@]} + TORTURE - 1) / TORTURE))
    for j in $(seq $(((i - 1) * per)) $((i * per - 1))); do
        [ "$j" -lt ${#LANDING[@]} ] && land "$j"
    done
    for g in 0 1; do
        grow "$g" $((GROW_LINES[g] / TORTURE + 1)) $((RANDOM % 3 == 0 ? 1 : 0))
    done
}

DB="$DBDIR/crash.db"
SONGS="$SRC/songs.csv"
USERS="$SRC/users.csv"
common=(--events "$EV" --songs "$SONGS" --users "$USERS" --batch-events 2000 --watermark 400d --quiet)
batches() { sqlite3 -batch "$DB" 'SELECT count(*) FROM _ENCORE_BATCHES' 2>/dev/null || echo 0; }
kills=0
early_exits=0 # --once runs that finished before their kill (then a watch run is killed instead)
bad_exits=0
for i in $(seq 1 "$TORTURE"); do
    # Mostly watch mode (a half line waits: --settle is long), sometimes --once. Every
    # step ends in one kill: a --once run that finishes first (exit 0) is followed by a
    # watch run that is killed.
    mode=(--settle 1h --poll 100ms)
    [ $((i % 4)) -eq 0 ] && mode=(--once)
    for attempt in 1 2; do
        before=$(batches)
        # The binary itself in the background (not a shell function), so $! is encore's pid.
        "$ENCORE" run "${common[@]}" "${mode[@]}" --sink "sqlite:$DB" >/dev/null 2>&1 &
        pid=$!
        [ "$attempt" = 1 ] && step "$i" # files land and grow while encore runs
        if [ $((i % 5)) -eq 3 ]; then
            sleep "0.0$((RANDOM % 10))" # early: during start-up, resume or the first batch
        else
            progressed() { [ "$(batches)" -gt "$before" ]; }
            wait_until 30 progressed
            sleep "0.$((RANDOM % 3))$((RANDOM % 10))"
        fi
        if kill -9 $pid 2>/dev/null; then
            kills=$((kills + 1))
            wait $pid 2>/dev/null
            break
        fi
        wait $pid
        rc=$?
        if [ "${mode[0]}" = --once ] && [ "$rc" = 0 ]; then
            early_exits=$((early_exits + 1))
        else
            bad_exits=$((bad_exits + 1))
            echo "  run $i (${mode[*]}) ended by itself with exit $rc" >&2
        fi
        mode=(--settle 1h --poll 100ms)
    done
done
check_eq "no run ended by itself except --once runs with exit 0" "$bad_exits" "0"
# Whatever is left lands, the partial lines are completed, and one last run finishes.
for g in 0 1; do grow "$g" "${GROW_LINES[g]}" 0; done
for j in $(seq 0 $((${#LANDING[@]} - 1))); do [ -e "$EV/landed-${LANDING[$j]}.json" ] || land "$j"; done
check_eq "live-a.json is its source" "$(cmp "${GROW_SRC[0]}" "${GROW_DST[0]}" && echo same)" "same"
check_eq "live-b.json is its source" "$(cmp "${GROW_SRC[1]}" "${GROW_DST[1]}" && echo same)" "same"
"$ENCORE" run "${common[@]}" --once --sink "sqlite:$DB" >/dev/null
check_eq "final run after the kills exits 0" "$?" "0"

# One clean run over the final files.
CLEAN="$DBDIR/clean.db"
out=$("$ENCORE" run --events "$EV" --songs "$SONGS" --users "$USERS" --watermark 400d --quiet --once \
    --sink "sqlite:$CLEAN")
clean_rows=$(sqlite3 -batch "$CLEAN" 'SELECT count(*) FROM MUSIC_EVENTS')
check "clean run wrote rows" test "$clean_rows" -gt $((EVENTS * 9 / 10))
check_match "clean run dropped the resent file as duplicates" "$out" " [1-9][0-9]* duplicates"
check_eq "clean run: aggregates equal a recomputation from the rows" "$(agg_stored "$CLEAN" | md5sum)" \
    "$(agg_recomputed "$CLEAN" | md5sum)"

# Each comparison: "count sha256" of an ordered dump, for both databases.
dump() { # DB SQL
    local n
    n=$(sqlite3 -batch -noheader "$1" "SELECT count(*) FROM ($2)")
    echo "$n $(sqlite3 -batch -noheader "$1" "$2" | sha256sum | cut -d' ' -f1)"
}
COMPARE=(
    "MUSIC_EVENTS|SELECT quote(song_id), quote(user_id), quote(device), quote(timestamp), quote(_rescued_data),
        quote(country), quote(subscription), quote(title), quote(artist), quote(genre), quote(duration),
        quote(event_time) FROM MUSIC_EVENTS ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12"
    "MUSIC_EVENTS_QUARANTINE|SELECT quote(source_file), line, quote(reason), quote(raw)
        FROM MUSIC_EVENTS_QUARANTINE ORDER BY 1, 2, 3, 4"
    "MUSIC_EVENTS_DAILY|SELECT dimension, quote(key), day, plays, seconds, hex(listeners), quote(title),
        quote(artist) FROM MUSIC_EVENTS_DAILY ORDER BY 1, 2, 3"
    "_ENCORE_CHECKPOINT|SELECT pipeline, source_key, identity, offset, line, state FROM _ENCORE_CHECKPOINT
        ORDER BY 1, 2"
    "_ENCORE_BATCHES totals|SELECT sum(events), sum(rows), sum(quarantined), sum(rescued), sum(bytes),
        sum(duplicates) FROM _ENCORE_BATCHES"
    "QUALITY_RESULTS totals|SELECT rule, quote(column_name), action, sum(evaluated), sum(failed)
        FROM QUALITY_RESULTS GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
)
rows=0
differences=0
for c in "${COMPARE[@]}"; do
    name=${c%%|*}
    q=${c#*|}
    got=$(dump "$DB" "$q")
    want=$(dump "$CLEAN" "$q")
    rows=$((rows + ${want%% *}))
    if [ "$got" != "$want" ]; then
        differences=$((differences + 1))
        echo "  differs: $name: crash run [$got], clean run [$want]" >&2
    fi
    check_eq "$name equals the clean run (count, sha256)" "$got" "$want"
done
[ "$differences" -gt 0 ] && [ -n "${CRASH_KEEP:-}" ] && cp -r "$DB" "$CLEAN" "$EV" "$CRASH_KEEP"/
echo "  kills survived: $kills, rows compared: $rows, differences: $differences ($EVENTS events; $early_exits --once runs finished first)"
check_eq "killed every planned time" "$kills" "$TORTURE"
check_eq "no differences" "$differences" "0"
check "some rows were compared" test "$rows" -gt "$clean_rows"
check_eq "aggregates equal a recomputation after kills" "$(agg_stored "$DB" | md5sum)" "$(agg_recomputed "$DB" | md5sum)"
check_eq "monthly and yearly totals equal a recomputation after kills" "$(rollup_stored "$DB" | md5sum)" \
    "$(rollup_recomputed "$DB" | md5sum)"
check "monthly and yearly totals are not empty" test "$(rollup_stored "$DB" | wc -l)" -gt 0
# The horizon depends on where batches ended, so the totals may cover fewer or more days
# than the clean run's; the charts, which read totals up to it and days after it, may not.
year=$(sqlite3 -batch -noheader "$CLEAN" "SELECT substr(min(day), 1, 4) FROM MUSIC_EVENTS_DAILY")
for args in "--by song" "--by artist --metric listeners" "--by country --year $year" \
    "--by song --year $year --metric minutes" "--by genre --month $year-01"; do
    # shellcheck disable=SC2086 # word splitting of the flags is meant
    check_eq "chart $args equals the clean run's" "$("$ENCORE" top --sink "sqlite:$DB" $args --limit 20 --format csv)" \
        "$("$ENCORE" top --sink "sqlite:$CLEAN" $args --limit 20 --format csv)"
done
check_eq "database integrity" "$(sql 'PRAGMA integrity_check')" "ok"

# A second writer on the same pipeline is refused while the first runs.
"$ENCORE" run "${common[@]}" --sink "sqlite:$DB" >/dev/null 2>&1 &
pid=$!
# encore takes the lock before it opens the database, so an open database file means the
# lock is held. (Probing with flock(1) would itself hold the lock for a moment and could
# make the first writer the refused one.)
locked() { ls -l "/proc/$pid/fd" 2>/dev/null | grep -q -- "-> $DB\$"; }
wait_until 10 locked
err=$("$ENCORE" run "${common[@]}" --once --sink "sqlite:$DB" 2>&1)
check_eq "second writer exits 2" "$?" "2"
check_match "second writer says why" "$err" "another encore run is writing table MUSIC_EVENTS"
kill -TERM $pid
wait $pid
check_eq "rows unchanged by the refused writer" "$(sql 'SELECT count(*) FROM MUSIC_EVENTS')" "$clean_rows"
finish

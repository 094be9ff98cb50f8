#!/usr/bin/env bash
# Graceful stop: SIGTERM and SIGINT, in watch mode while files land and during a large --once
# run. encore finishes the batch it is committing, drops what it had not started to write,
# prints its summary and exits 0 within seconds; the database holds whole batches only, and a
# restart ends with exactly what one clean run writes.
source "$(dirname "$0")/lib.sh"

EVENTS=80000
[ "${ENCORE_SANITIZED:-0}" = 1 ] && EVENTS=30000
"$ENCORE" gen --out "$WORK/src" --events "$EVENTS" --files 12 --songs 500 --users 2000 --seed 11 >/dev/null
SONGS="$WORK/src/songs.csv"
USERS="$WORK/src/users.csv"
run() { # EVENTS_DIR DB [args]
    local ev=$1 db=$2
    shift 2
    "$ENCORE" run --events "$ev" --songs "$SONGS" --users "$USERS" --sink "sqlite:$db" --batch-events 5000 "$@"
}
# In the background the binary itself is started (not the function), so that $! is encore.
bg_run() { # EVENTS_DIR DB OUT ERR [args]
    local ev=$1 db=$2 out=$3 errf=$4
    shift 4
    "$ENCORE" run --events "$ev" --songs "$SONGS" --users "$USERS" --sink "sqlite:$db" --batch-events 5000 "$@" \
        >"$out" 2>"$errf" &
    pid=$!
}
digest() { # DB: count and sha256 of rows, quarantine and daily aggregates, as an ordered dump
    sqlite3 -batch -noheader "$1" "SELECT count(*) FROM MUSIC_EVENTS;
        SELECT quote(song_id), quote(user_id), quote(device), quote(timestamp), quote(_rescued_data),
          quote(event_time), quote(title), quote(country) FROM MUSIC_EVENTS ORDER BY 1, 2, 3, 4, 5, 6, 7, 8;
        SELECT source_file, line, reason FROM MUSIC_EVENTS_QUARANTINE ORDER BY 1, 2, 3;
        SELECT dimension, key, day, plays, seconds, hex(listeners) FROM MUSIC_EVENTS_DAILY ORDER BY 1, 2, 3" |
        sha256sum | cut -d' ' -f1
}
whole_batches() { # DB: every committed batch's rows are there, nothing else
    [ "$(sqlite3 -batch "$1" 'SELECT (SELECT count(*) FROM MUSIC_EVENTS) = (SELECT sum(rows) FROM _ENCORE_BATCHES)')" = 1 ]
}
batches() { sqlite3 -batch "$1" 'SELECT count(*) FROM _ENCORE_BATCHES' 2>/dev/null || echo 0; }
stopped() { ! kill -0 "$1" 2>/dev/null; }

cp -r "$WORK/src/events" "$WORK/all"
run "$WORK/all" "$WORK/clean.db" --once --quiet >/dev/null
CLEAN=$(digest "$WORK/clean.db")

# --- a large --once run, stopped after its first commit -------------------------------
for sig in TERM INT; do
    db="$WORK/once-$sig.db"
    bg_run "$WORK/all" "$db" "$WORK/out" "$WORK/err" --once
    progressed() { [ "$(batches "$db")" -gt 0 ]; }
    check "--once $sig: a first batch is committed" wait_until 60 progressed
    t0=$EPOCHREALTIME
    kill -$sig $pid
    check "--once $sig: encore stops within 10 s" wait_until 10 stopped $pid
    t1=$EPOCHREALTIME
    wait $pid
    check_eq "--once $sig: exit status" "$?" "0"
    echo "  --once SIG$sig: stopped in $(echo "$t1 - $t0" | bc) s"
    check_match "--once $sig: summary printed" "$(cat "$WORK/out")" "rows written"
    check "--once $sig: stopped before the end" test "$(sqlite3 "$db" 'SELECT count(*) FROM MUSIC_EVENTS')" \
        -lt "$(sqlite3 "$WORK/clean.db" 'SELECT count(*) FROM MUSIC_EVENTS')"
    check "--once $sig: whole batches only" whole_batches "$db"
    check_eq "--once $sig: no error printed" "$(cat "$WORK/err")" ""
    run "$WORK/all" "$db" --once --quiet >/dev/null
    check_eq "--once $sig: a restart gives the clean result" "$(digest "$db")" "$CLEAN"
done

# --- watch mode while files land, stopped by each signal --------------------------------
for sig in TERM INT; do
    ev="$WORK/watch-$sig"
    db="$WORK/watch-$sig.db"
    mkdir "$ev"
    bg_run "$ev" "$db" "$WORK/out" "$WORK/err" --poll 100ms --settle 200ms
    for f in "$WORK"/src/events/part-0000[0-5].json; do cp "$f" "$ev/"; done
    progressed() { [ "$(batches "$db")" -gt 1 ]; }
    check "watch $sig: batches are committed" wait_until 60 progressed
    for f in "$WORK"/src/events/part-000{06..11}.json; do cp "$f" "$ev/"; done # still landing
    t0=$EPOCHREALTIME
    kill -$sig $pid
    check "watch $sig: encore stops within 10 s" wait_until 10 stopped $pid
    t1=$EPOCHREALTIME
    wait $pid
    check_eq "watch $sig: exit status" "$?" "0"
    echo "  watch SIG$sig: stopped in $(echo "$t1 - $t0" | bc) s"
    check_match "watch $sig: summary printed" "$(cat "$WORK/out")" "rows written"
    check "watch $sig: whole batches only" whole_batches "$db"
    run "$ev" "$db" --once --quiet >/dev/null
    run "$ev" "$WORK/clean-$sig.db" --once --quiet >/dev/null
    check_eq "watch $sig: a restart gives the clean result" "$(digest "$db")" "$(digest "$WORK/clean-$sig.db")"
done

# --- a stop that arrives while reference data is loading ---------------------------------
db="$WORK/early.db"
bg_run "$WORK/all" "$db" "$WORK/out" "$WORK/err" --once --quiet
kill -TERM $pid
wait $pid
rc=$?
check "early SIGTERM: exit 0 (stopped cleanly) or 143 (before the handler was set)" test "$rc" -eq 0 -o "$rc" -eq 143
no_db_or_whole() { [ ! -f "$1" ] || whole_batches "$1"; } # stopped before the sink opened: no file
check "early SIGTERM: no database yet, or whole batches only" no_db_or_whole "$db"
finish

#!/usr/bin/env bash
# Batching: how records are grouped into transactions (one batch = one commit), and that
# a batch filled over several polls while the writer is busy (watch mode's group commit)
# ends up with exactly what --once writes for the same files.
source "$(dirname "$0")/lib.sh"

cp "$FIXTURES/basic/songs.csv" "$FIXTURES/basic/users.csv" "$WORK/"
# ev USER SONG SECOND: one play on 2025-04-09.
ev() { printf '{"user_id":"U%03d","song_id":"S%03d","timestamp":"2025-04-09T10:%02d:%02d"}\n' "$1" "$2" $(($3 / 60 % 60)) $(($3 % 60)); }
run_once() { # EVENTS_DIR DB [args]
    local dir=$1 db=$2
    shift 2
    "$ENCORE" run --once --quiet --events "$dir" --songs "$WORK/songs.csv" --users "$WORK/users.csv" \
        --sink "sqlite:$db" "$@" >"$WORK/out" 2>"$WORK/err"
}

# 100 small files fit one batch: a file's read buffer is its size, not a 1 MiB chunk each
# (64 MiB of chunks used to end a batch after 64 files).
mkdir "$WORK/small"
for i in $(seq 1 100); do { ev "$i" 1 "$i"; ev "$i" 2 "$i"; } >"$WORK/small/f$i.json"; done
DB="$WORK/small.db"
run_once "$WORK/small" "$DB"
check_eq "100 small files: exit status" "$?" "0"
check_eq "100 small files: rows" "$(sql 'SELECT count(*) FROM MUSIC_EVENTS')" "200"
check_eq "100 small files: one batch" "$(sql 'SELECT count(*) FROM _ENCORE_BATCHES')" "1"

# --batch-events cuts batches at exactly that many records, across file boundaries.
mkdir "$WORK/cut"
for f in $(seq 1 10); do for i in $(seq 1 100); do ev "$i" "$f" $((f * 100 + i)); done >"$WORK/cut/f$f.json"; done
DB="$WORK/cut.db"
run_once "$WORK/cut" "$DB" --batch-events 250
check_eq "--batch-events 250: rows" "$(sql 'SELECT count(*) FROM MUSIC_EVENTS')" "1000"
check_eq "--batch-events 250: batches of 250" "$(sql 'SELECT group_concat(events) FROM _ENCORE_BATCHES')" \
    "250,250,250,250"
check_eq "--batch-events 250: every file read to its end" \
    "$(sql 'SELECT count(*) FROM _ENCORE_CHECKPOINT WHERE offset > 0 AND line = 101')" "10"

# Watch mode: 60 files renamed into place as fast as the shell goes, some repeating plays
# of earlier files (dropped as duplicates) and some bad lines (quarantined). Whatever
# batches the group commit makes of them, the result is the one --once gives.
mkdir "$WORK/drop" "$WORK/all"
mkfile() { # N: file N's 20 plays; every third file repeats 5 plays of file N-1
    local n=$1 i
    for i in $(seq 1 20); do ev $((n * 7 % 50 + i)) $((i % 4 + 1)) $((n * 20 + i)); done
    if [ $((n % 3)) = 0 ]; then for i in $(seq 1 5); do ev $(((n - 1) * 7 % 50 + i)) $((i % 4 + 1)) $(((n - 1) * 20 + i)); done; fi
    [ $((n % 10)) = 0 ] && echo '{"user_id": broken'
    return 0
}
for n in $(seq 1 60); do mkfile "$n" >"$WORK/all/f$n.json"; done
DB="$WORK/watch.db"
"$ENCORE" run --events "$WORK/drop" --songs "$WORK/songs.csv" --users "$WORK/users.csv" --sink "sqlite:$DB" \
    --poll 1h >"$WORK/wout" 2>"$WORK/werr" &
PID=$!
ready() { [ "$(sql 'SELECT count(*) FROM sqlite_schema WHERE name = "_ENCORE_CHECKPOINT"' 2>/dev/null)" = 1 ]; }
check "watch mode starts" wait_until 20 ready
for n in $(seq 1 60); do
    cp "$WORK/all/f$n.json" "$WORK/drop/.f$n.tmp"
    mv "$WORK/drop/.f$n.tmp" "$WORK/drop/f$n.json"
done
all_in() { [ "$(sql 'SELECT count(*) FROM _ENCORE_CHECKPOINT WHERE line > 20')" = 60 ]; }
check "watch mode: all 60 files committed" wait_until 20 all_in
kill -TERM $PID
wait $PID
check_eq "watch mode: exit status" "$?" "0"
DB2="$WORK/once.db"
run_once "$WORK/all" "$DB2"
rows() { sqlite3 -batch "$1" "SELECT user_id, song_id, event_time, device, country FROM MUSIC_EVENTS ORDER BY 1, 2, 3"; }
check_eq "watch mode: rows as --once" "$(rows "$DB" | md5sum)" "$(rows "$DB2" | md5sum)"
check_eq "watch mode: 1200 distinct plays" "$(sql 'SELECT count(*) FROM MUSIC_EVENTS')" "1200"
check_eq "watch mode: duplicates counted" "$(sql 'SELECT sum(duplicates) FROM _ENCORE_BATCHES')" "100"
check_eq "watch mode: quarantine as --once" "$(sql 'SELECT count(*) FROM MUSIC_EVENTS_QUARANTINE')" \
    "$(sqlite3 "$DB2" 'SELECT count(*) FROM MUSIC_EVENTS_QUARANTINE')"
check_eq "watch mode: daily aggregates match the rows" "$(agg_stored "$DB" | md5sum)" "$(agg_recomputed "$DB" | md5sum)"
check_eq "watch mode: daily aggregates as --once" "$(agg_stored "$DB" | md5sum)" "$(agg_stored "$DB2" | md5sum)"
check_eq "watch mode: rollups match the daily rows" "$(rollup_stored "$DB" | md5sum)" \
    "$(rollup_recomputed "$DB" | md5sum)"

# Each commit expires old dedup keys; that must be a range of an index, not a scan of
# one row per batch committed within the watermark (which grows with every commit).
plan=$(sql "EXPLAIN QUERY PLAN DELETE FROM _ENCORE_DEDUP WHERE pipeline = 'default' AND max_time < 5")
check_match "dedup expiry reads an index" "$plan" "USING (COVERING )?INDEX _ENCORE_DEDUP_BY_TIME"
finish

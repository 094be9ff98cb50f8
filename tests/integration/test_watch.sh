#!/usr/bin/env bash
# Watch mode: files landing, files growing, a settled final line, and a clean SIGTERM.
source "$(dirname "$0")/lib.sh"

cp "$FIXTURES/basic/songs.csv" "$FIXTURES/basic/users.csv" "$WORK/"
mkdir "$WORK/events"
DB="$WORK/music.db"
"$ENCORE" run --events "$WORK/events" --songs "$WORK/songs.csv" --users "$WORK/users.csv" --sink "sqlite:$DB" \
    --settle 300ms --poll 250ms >"$WORK/out" 2>"$WORK/err" &
PID=$!
ev() { printf '{"user_id":"U00%s","song_id":"S001","timestamp":"2025-04-09T10:00:0%s"}\n' "$1" "$2"; }
count_is() { [ "$(sql 'SELECT count(*) FROM MUSIC_EVENTS' 2>/dev/null)" == "$1" ]; }

{ ev 1 1; ev 2 2; } >"$WORK/_landing.json"
mv "$WORK/_landing.json" "$WORK/events/one.json"
check "a dropped file is ingested" wait_until 10 count_is 2
mkdir "$WORK/events/day2"
ev 1 3 >"$WORK/events/day2/two.json"
check "a file in a new subdirectory is ingested" wait_until 10 count_is 3
ev 2 4 >>"$WORK/events/one.json"
check "appended lines are ingested" wait_until 10 count_is 4
printf '{"user_id":"U001","song_id":"S002","timestamp":"2025-04-09T11:00:00"}' >>"$WORK/events/one.json"
check "a final line without newline is taken after the settle time" wait_until 10 count_is 5

kill -TERM $PID
stopped() { ! kill -0 $PID 2>/dev/null; }
check "SIGTERM stops within 3 s" wait_until 3 stopped
wait $PID
check_eq "exit status after SIGTERM" "$?" "0"
check_match "summary printed on stop" "$(cat "$WORK/out")" "5 rows written"
check_eq "no quarantine" "$(sql 'SELECT count(*) FROM MUSIC_EVENTS_QUARANTINE')" "0"

# With the periodic rescan an hour away, only inotify events can find files: 300 files
# renamed into place, one written in place and appended to, one in a new subdirectory.
mkdir "$WORK/events2"
DB="$WORK/music2.db"
"$ENCORE" run --events "$WORK/events2" --songs "$WORK/songs.csv" --users "$WORK/users.csv" --sink "sqlite:$DB" \
    --poll 1h --watermark 0 >"$WORK/out2" 2>"$WORK/err2" &
PID=$!
sleep 0.5
for i in $(seq 1 300); do
    ev 1 $((i % 10)) >"$WORK/events2/.f$i.tmp"
    mv "$WORK/events2/.f$i.tmp" "$WORK/events2/f$i.json"
done
check "300 renamed files found by events alone" wait_until 20 count_is 300
ev 2 1 >"$WORK/events2/inplace.json"
check "a file written in place is found" wait_until 10 count_is 301
ev 2 2 >>"$WORK/events2/inplace.json"
check "lines appended to it are found" wait_until 10 count_is 302
mkdir "$WORK/events2/sub"
ev 2 3 >"$WORK/events2/sub/x.json"
check "a file in a new subdirectory is found" wait_until 10 count_is 303
mkdir -p "$WORK/tree/a/b"
ev 3 1 >"$WORK/tree/a/one.json"
ev 3 2 >"$WORK/tree/a/b/two.json"
mv "$WORK/tree" "$WORK/events2/tree"
check "a directory tree moved in is found by its event alone" wait_until 10 count_is 305
ev 3 3 >"$WORK/events2/tree/a/b/three.json"
check "a file in the moved tree is found" wait_until 10 count_is 306
kill -TERM $PID
wait $PID
check_eq "each file once" "$(sql 'SELECT count(DISTINCT source_key) FROM _ENCORE_CHECKPOINT')" "305"

# Lines appended through a hard link outside the watched tree raise no inotify event
# in it: only the rescan (the safety net, --poll) finds them.
mkdir "$WORK/events3" "$WORK/elsewhere"
DB="$WORK/music3.db"
"$ENCORE" run --events "$WORK/events3" --songs "$WORK/songs.csv" --users "$WORK/users.csv" --sink "sqlite:$DB" \
    --poll 200ms --watermark 0 >"$WORK/out3" 2>"$WORK/err3" &
PID=$!
ev 4 1 >"$WORK/events3/linked.json"
check "a file is ingested" wait_until 10 count_is 1
ln "$WORK/events3/linked.json" "$WORK/elsewhere/link.json"
ev 4 2 >>"$WORK/elsewhere/link.json"
check "lines appended out of inotify's sight are found by the rescan" wait_until 10 count_is 2
for i in $(seq 1 50); do ev 5 $((i % 10)) >"$WORK/events3/more$i.json"; done
ev 4 3 >>"$WORK/elsewhere/link.json"
check "and again, with more files in the directory" wait_until 10 count_is 53
kill -TERM $PID
wait $PID
check_eq "nothing read twice" "$(sql 'SELECT count(*) FROM MUSIC_EVENTS')" "53"
finish

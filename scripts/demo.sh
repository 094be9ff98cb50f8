#!/usr/bin/env bash
# demo.sh ENCORE — the main job end to end on the embedded default (SQLite):
# generate a year of plays, ingest them exactly once, and print the charts.
set -euo pipefail
bin=${1:-build/encore}
cd "$(dirname "$0")/.."
data=demo/data
if [ ! -f "$data/.complete" ]; then
    rm -rf "$data"
    "$bin" gen --out "$data" --events 1000000 --files 24 --songs 20000 --users 100000 --seed 2025 --year 2025
    touch "$data/.complete"
fi
rm -f demo/music.db demo/music.db-wal demo/music.db-shm
echo
echo "== encore run --once: $data/events -> demo/music.db"
"$bin" run --events "$data/events" --songs "$data/songs.csv" --users "$data/users.csv" \
    --sink sqlite:demo/music.db --once
db=sqlite:demo/music.db
echo
"$bin" top --sink "$db" --by song --year 2025 --limit 10
echo
"$bin" top --sink "$db" --by artist --year 2025 --limit 10
echo
"$bin" top --sink "$db" --by genre --year 2025 --metric minutes --limit 5
echo
"$bin" top --sink "$db" --by country --year 2025 --metric listeners --limit 5
echo
# The most active listener of the year gets a Wrapped.
fan=$(sqlite3 demo/music.db "SELECT user_id FROM MUSIC_EVENTS WHERE event_time >= '2025-01-01'
    AND event_time < '2026-01-01' GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 1")
"$bin" wrapped --sink "$db" --user "$fan" --year 2025
echo
echo "== Quarantine by reason (MUSIC_EVENTS_QUARANTINE)"
sqlite3 -box demo/music.db "SELECT CASE WHEN reason LIKE 'invalid JSON%' THEN 'invalid JSON' ELSE reason END
    AS reason, count(*) AS records FROM MUSIC_EVENTS_QUARANTINE GROUP BY 1 ORDER BY records DESC LIMIT 10"

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
echo
echo "== Top 10 songs of 2025 by plays"
sqlite3 -box demo/music.db "SELECT row_number() OVER (ORDER BY count(*) DESC, song_id) AS rank, song_id,
    title, artist, count(*) AS plays FROM MUSIC_EVENTS WHERE event_time LIKE '2025-%'
    GROUP BY song_id ORDER BY plays DESC, song_id LIMIT 10"
echo
echo "== Top 10 artists of 2025 by plays"
sqlite3 -box demo/music.db "SELECT row_number() OVER (ORDER BY count(*) DESC, artist) AS rank, artist,
    count(*) AS plays, count(DISTINCT user_id) AS listeners FROM MUSIC_EVENTS
    WHERE event_time LIKE '2025-%' AND artist IS NOT NULL GROUP BY artist ORDER BY plays DESC, artist LIMIT 10"
echo
echo "== Quarantine by reason"
sqlite3 -box demo/music.db "SELECT reason, count(*) AS records FROM MUSIC_EVENTS_QUARANTINE
    GROUP BY reason ORDER BY records DESC LIMIT 10"

#!/usr/bin/env bash
# Fixture directory → enriched MUSIC_EVENTS: layouts, enrichment, rescue, quarantine.
source "$(dirname "$0")/lib.sh"

cp -r "$FIXTURES/basic" "$WORK/in"
gzip -c "$WORK/in/d.jsonl.src" > "$WORK/in/events/sub/d.jsonl.gz"
DB="$WORK/music.db"
out=$("$ENCORE" run --events "$WORK/in/events" --songs "$WORK/in/songs.csv" --users "$WORK/in/users.csv" \
      --sink "sqlite:$DB" --once 2>"$WORK/err")
check_eq "exit status" "$?" "0"
check_match "summary line" "$out" "encore: 4 files, 15 events read, 10 rows written, 4 quarantined, 1 rescued, 1 duplicates"
check_match "bad duration warned with its line" "$(cat "$WORK/err")" "songs.csv:4: duration 'abc'"

check_eq "column order is the seed's, then event_id" \
  "$(sql "SELECT group_concat(name, ',') FROM pragma_table_info('MUSIC_EVENTS')")" \
  "song_id,user_id,device,timestamp,_rescued_data,country,subscription,title,artist,genre,duration,event_time,event_id"
check_eq "row count" "$(sql 'SELECT count(*) FROM MUSIC_EVENTS')" "10"

row() { sql "SELECT $1 FROM MUSIC_EVENTS WHERE $2"; }
check_eq "enriched from songs and users" \
  "$(row "title||'|'||artist||'|'||genre||'|'||duration||'|'||country||'|'||subscription||'|'||device" \
        "user_id='U001' AND song_id='S001' AND device='mobile' LIMIT 1")" \
  'Hello, "Stranger"|The Commas|pop|215|US|premium|mobile'
check_eq "device falls back to the user's" "$(row device "user_id='U002' AND song_id='S002' AND timestamp LIKE '%10:05%'")" "mobile"
check_eq "timestamp kept verbatim" "$(row timestamp "user_id='U002' AND song_id='S002' AND device='mobile' AND timestamp LIKE '2025-04-09%'")" "2025-04-09T10:05:00Z"
check_eq "offset converted to UTC" "$(row event_time "song_id='S999'")" "2025-04-09 10:00:00"
check_eq "unknown song keeps the row with NULLs" "$(row "coalesce(title,'NULL')||coalesce(artist,'NULL')||coalesce(duration,'NULL')||country" "song_id='S999'")" "NULLNULLNULLUS"
check_eq "unknown user keeps the row with NULLs" "$(row "coalesce(country,'NULL')||coalesce(subscription,'NULL')||title" "user_id='U003'")" 'NULLNULLHello, "Stranger"'
check_eq "epoch seconds timestamp" "$(row "timestamp||' '||event_time" "user_id='U003'")" "1744192800 2025-04-09 10:00:00"
check_eq "fraction kept to microseconds" "$(row event_time "timestamp LIKE '%.250'")" "2025-04-09 10:00:00.250000"
check_eq "bad duration is NULL" "$(row "coalesce(duration,'NULL')||'|'||title" "song_id='S003'")" $'NULL|Line\nBreak'
check_eq "space separator accepted" "$(row event_time "song_id='S003'")" "2025-04-10 08:00:00"
check_eq "gzip file read" "$(sql "SELECT count(*) FROM MUSIC_EVENTS WHERE timestamp LIKE '2025-04-11%'")" "2"
check_eq "multi-line object read" "$(sql "SELECT count(*) FROM MUSIC_EVENTS WHERE user_id='U001' AND song_id='S002' AND timestamp='2025-04-09T11:00:00'")" "1"
check_eq "the same play at the same instant is dropped as a duplicate" "$(sql "SELECT count(*) FROM MUSIC_EVENTS WHERE user_id='U001' AND song_id='S001' AND event_time='2025-04-09 10:00:00'")" "1"
check_eq "files starting with _ or . skipped" "$(sql "SELECT count(*) FROM MUSIC_EVENTS WHERE user_id='U009'")" "0"

rescued=$(row _rescued_data "_rescued_data IS NOT NULL")
check_eq "rescued data holds unknown fields and the file path" \
  "$(sqlite3 "$DB" "SELECT json_extract('$rescued', '\$.app')||'|'||json_extract('$rescued', '\$.User_ID')||'|'||json_extract('$rescued', '\$._file_path')")" \
  "x|u|$(cd "$WORK/in/events" && pwd -P)/a.json"
check_eq "rows without extra fields have NULL _rescued_data" "$(sql 'SELECT count(*) FROM MUSIC_EVENTS WHERE _rescued_data IS NULL')" "9"

check_eq "quarantine count" "$(sql 'SELECT count(*) FROM MUSIC_EVENTS_QUARANTINE')" "4"
q() { sql "SELECT reason FROM MUSIC_EVENTS_QUARANTINE WHERE line=$1"; }
check_match "invalid JSON reason" "$(q 7)" "^invalid JSON"
check_eq "missing user_id reason" "$(q 8)" "user_id is missing or null"
check_match "bad timestamp reason" "$(q 9)" "timestamp 'yesterday' is not"
check_match "non-object reason" "$(q 10)" "array"
check_eq "quarantine keeps raw text and file" \
  "$(sql "SELECT raw||'|'||(source_file LIKE '%/a.json') FROM MUSIC_EVENTS_QUARANTINE WHERE line=7")" "not json|1"

again=$("$ENCORE" run --events "$WORK/in/events" --songs "$WORK/in/songs.csv" --users "$WORK/in/users.csv" \
        --sink "sqlite:$DB" --once 2>/dev/null)
check_match "second run reads nothing" "$again" "0 events read, 0 rows written"
check_eq "second run adds no row" "$(sql 'SELECT count(*) FROM MUSIC_EVENTS')" "10"
check_eq "second run adds no quarantine" "$(sql 'SELECT count(*) FROM MUSIC_EVENTS_QUARANTINE')" "4"

"$ENCORE" run --events "$WORK/in/events" --songs "$WORK/in/songs.csv" --users "$WORK/in/users.csv" \
  --sink "sqlite:$DB" --table PLAYS --watermark 0 --once >/dev/null 2>&1
check_eq "--table writes another table with its own checkpoint; --watermark 0 keeps duplicates" "$(sql 'SELECT count(*) FROM PLAYS')" "11"
# Rows go in 16 to a statement, the rest one by one: batches of 20 (16 + 4) and a last
# one of 13 must each write every row once, with its own values.
mkdir -p "$WORK/many"
for i in $(seq 1 53); do
  printf '{"user_id":"U%03d","song_id":"S%03d","timestamp":"2025-05-01T10:%02d:00Z","device":"d%d"}\n' \
    $((i % 7)) "$i" $((i % 60)) "$i"
done >"$WORK/many/e.jsonl"
printf 'song_id,title,artist,genre,duration\nS005,Five,A,pop,100\n' >"$WORK/many/songs.csv"
printf 'user_id,country,subscription,device\nU003,FR,free,web\n' >"$WORK/many/users.csv"
DB="$WORK/many.db"
"$ENCORE" run --events "$WORK/many" --songs "$WORK/many/songs.csv" --users "$WORK/many/users.csv" \
  --sink "sqlite:$DB" --batch-events 20 --once >/dev/null 2>&1
check_eq "53 rows in batches of 20, 20, 13" "$(sql 'SELECT count(*), count(DISTINCT song_id) FROM MUSIC_EVENTS')" "53|53"
want=$(for i in $(seq 1 53); do printf 'U%03d|S%03d|d%d|2025-05-01 10:%02d:00\n' $((i % 7)) "$i" "$i" $((i % 60)); done | sort)
check_eq "each row with its own values" \
  "$(sql "SELECT user_id||'|'||song_id||'|'||device||'|'||event_time FROM MUSIC_EVENTS" | sort)" "$want"
check_eq "enrichment lands on the right rows" \
  "$(sql "SELECT song_id||'|'||coalesce(title,'')||'|'||user_id||'|'||coalesce(country,'') FROM MUSIC_EVENTS WHERE title IS NOT NULL OR country IS NOT NULL ORDER BY song_id" | tr '\n' ' ')" \
  "S003||U003|FR S005|Five|U005| S010||U003|FR S017||U003|FR S024||U003|FR S031||U003|FR S038||U003|FR S045||U003|FR S052||U003|FR "
check_eq "three batches" "$(sql 'SELECT count(*) FROM _ENCORE_BATCHES')" "3"
finish

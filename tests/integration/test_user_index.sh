#!/usr/bin/env bash
# MUSIC_EVENTS_BY_USER in both layouts, on the real pipeline's output: a new database gets
# event_id and the generations index, a table made by an older encore (no event_id) keeps
# its (user_id, event_time) index and is not rewritten, and `encore wrapped` answers the
# same on both, and as a recomputation from the rows, for plays spread over several
# generations of 2^14 rows.
source "$(dirname "$0")/lib.sh"

IN=$WORK/in
"$ENCORE" gen --out "$IN" --events 10 --files 1 --songs 300 --users 40 >/dev/null 2>&1
# 40000 plays of 40 users in turn, over 2024 and 2025, in batches of 4000 (each sorted by
# user): every user has rows in each generation
awk 'BEGIN { srand(7); for (i = 0; i < 40000; i++) {
    printf "{\"user_id\":\"U%06d\",\"song_id\":\"S%06d\",\"timestamp\":\"%d-%02d-%02dT%02d:%02d:00Z\"}\n",
        1 + i % 40, 1 + int(rand() * rand() * 300), 2024 + int(rand() * 2), 1 + int(rand() * 12),
        1 + int(rand() * 28), int(rand() * 24), int(rand() * 60) } }' >"$IN/events/plays.json"
run() { "$ENCORE" run --once --quiet --no-aggregates --batch-events 4000 --events "$IN/events" --songs "$IN/songs.csv" \
    --users "$IN/users.csv" --sink "sqlite:$1" >/dev/null 2>&1; }

# --- a new database
NEW=$WORK/new.db
run "$NEW"
check_eq "new database: exit 0" "$?" "0"
check_eq "new database: event_id after the seed's columns" \
    "$(sql_at "$NEW" "SELECT group_concat(name || ':' || pk, ',') FROM pragma_table_info('MUSIC_EVENTS')")" \
    "song_id:0,user_id:0,device:0,timestamp:0,_rescued_data:0,country:0,subscription:0,title:0,artist:0,genre:0,duration:0,event_time:0,event_id:1"
check_eq "new database: the generations index" \
    "$(sql_at "$NEW" "SELECT sql FROM sqlite_schema WHERE name = 'MUSIC_EVENTS_BY_USER'")" \
    'CREATE INDEX "MUSIC_EVENTS_BY_USER" ON "MUSIC_EVENTS" ("event_id" >> 14, user_id, event_time)'
check_eq "event_id is the rowid, 1 .. rows" \
    "$(sql_at "$NEW" "SELECT min(event_id), max(event_id) = count(*), sum(event_id = rowid) = count(*) FROM MUSIC_EVENTS")" \
    "1|1|1"
check_eq "three generations" "$(sql_at "$NEW" "SELECT max(event_id) >> 14 FROM MUSIC_EVENTS")" "2"
check_eq "every user in each of them" "$(sql_at "$NEW" "SELECT count(*) FROM (SELECT user_id FROM MUSIC_EVENTS
    GROUP BY user_id HAVING count(DISTINCT event_id >> 14) = 3)")" "40"

# --- a table made by an older encore: its schema and index are kept
OLD=$WORK/old.db
sqlite3 "$OLD" "CREATE TABLE MUSIC_EVENTS (song_id TEXT, user_id TEXT, device TEXT, timestamp TEXT,
    _rescued_data TEXT, country TEXT, subscription TEXT, title TEXT, artist TEXT, genre TEXT, duration INTEGER,
    event_time TEXT); CREATE INDEX \"MUSIC_EVENTS_BY_USER\" ON \"MUSIC_EVENTS\" (user_id, event_time);"
run "$OLD"
check_eq "old table: exit 0" "$?" "0"
check_eq "old table: no column added" \
    "$(sql_at "$OLD" "SELECT group_concat(name, ',') FROM pragma_table_info('MUSIC_EVENTS')")" \
    "song_id,user_id,device,timestamp,_rescued_data,country,subscription,title,artist,genre,duration,event_time"
check_eq "old table: its index kept" \
    "$(sql_at "$OLD" "SELECT sql FROM sqlite_schema WHERE tbl_name = 'MUSIC_EVENTS' AND type = 'index'")" \
    'CREATE INDEX "MUSIC_EVENTS_BY_USER" ON "MUSIC_EVENTS" (user_id, event_time)'
check_eq "old table: the same rows as the new database" \
    "$(sql_at "$OLD" "SELECT count(*) FROM MUSIC_EVENTS")" "$(sql_at "$NEW" "SELECT count(*) FROM MUSIC_EVENTS")"
# an old table whose index was dropped gets the old index back, not the new one
NOIDX=$WORK/noidx.db
cp "$OLD" "$NOIDX"
sql_at "$NOIDX" 'DROP INDEX "MUSIC_EVENTS_BY_USER"'
run "$NOIDX"
check_eq "old table without index: the old index made" \
    "$(sql_at "$NOIDX" "SELECT sql FROM sqlite_schema WHERE name = 'MUSIC_EVENTS_BY_USER'")" \
    'CREATE INDEX "MUSIC_EVENTS_BY_USER" ON "MUSIC_EVENTS" (user_id, event_time)'

# --- wrapped: new layout = old layout = recomputation from the rows (no index)
wrapped() { "$ENCORE" wrapped --sink "sqlite:$1" --user "$2" --year "$3" --format json; }
recompute() { # "plays":N,"songs":N,"artists":N from every row of the year, no index
    sql_at "$1" "SELECT '\"plays\":' || count(*) || ',\"songs\":' || count(DISTINCT song_id) || ',\"artists\":' ||
        count(DISTINCT artist) FROM MUSIC_EVENTS NOT INDEXED WHERE user_id = '$2' AND substr(event_time, 1, 4) = '$3'"
}
# users with rows in every generation, and one with none
users=$(sql_at "$NEW" "SELECT user_id FROM MUSIC_EVENTS GROUP BY user_id ORDER BY count(*) DESC LIMIT 4")
same=0 same_rows=0 compared=0
for u in $users U999999; do
    for y in 2024 2025; do
        a=$(wrapped "$NEW" "$u" "$y") b=$(wrapped "$OLD" "$u" "$y")
        want=$(recompute "$NEW" "$u" "$y")
        compared=$((compared + 1))
        [ "$a" = "$b" ] && same=$((same + 1))
        [[ "$a" == *"$want"* ]] && same_rows=$((same_rows + 1))
    done
done
check_eq "wrapped: 10 answers compared" "$compared" "10"
check_eq "wrapped: new layout = old layout" "$same" "$compared"
check_eq "wrapped: = recomputation from the rows" "$same_rows" "$compared"
check_match "wrapped: a user with plays in both years" "$(wrapped "$NEW" U000001 2024)" '"plays":[1-9]'

# --- a restart appends after the last event_id (a rerun of the same files adds nothing)
cp -r "$IN/events/part-00000.json" "$IN/events/part-extra.json"
run "$NEW"
check_eq "appended rows continue event_id" \
    "$(sql_at "$NEW" "SELECT max(event_id) = count(*) FROM MUSIC_EVENTS")" "1"
finish

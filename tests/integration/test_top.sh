#!/usr/bin/env bash
# `encore top` and `encore wrapped` on the real pipeline's output: tests/data/charts ingested
# with `encore run --once`, then every chart, tie-break, format and error path checked
# against answers worked out by hand (see tests/data/charts/README).
source "$(dirname "$0")/lib.sh"

IN="$FIXTURES/charts"
DB="$WORK/music.db"
"$ENCORE" run --events "$IN/events" --songs "$IN/songs.csv" --users "$IN/users.csv" --sink "sqlite:$DB" \
    --once >"$WORK/run.out" 2>&1
check_eq "run exit status" "$?" "0"
check_match "run read every play" "$(cat "$WORK/run.out")" "15 events read, 15 rows written, 0 quarantined"

top() { "$ENCORE" top --sink "sqlite:$DB" "$@"; }
wrapped() { "$ENCORE" wrapped --sink "sqlite:$DB" "$@"; }
nl=$'\n'

# --- the table format: heading, aligned columns (Bêta is 4 columns wide), unknown song
out=$(top --by song --year 2025); rc=$?
check_eq "top exit status" "$rc" "0"
check_eq "song of the year by plays, as a table" "$out" "Song of the Year 2025 — by plays

rank  song_id  title              artist     plays  listeners  minutes
   1  S1       First Light        Alpha          5          1     16.7
   2  S2       Second Wind        Alpha          4          3     12.0
   3  S3       Third \"Eye\", Open  Bêta           3          3     15.0
   4  S9       (unknown)          (unknown)      1          1      0.0"

# --- metrics and tie-breaks (csv: header + RFC 4180 quoting)
hdr="rank,song_id,title,artist,plays,listeners,minutes"
s1="S1,First Light,Alpha" s2="S2,Second Wind,Alpha" s3='S3,"Third ""Eye"", Open",Bêta' s9="S9,,"
check_eq "by listeners: equal listeners ranked by plays" "$(top --by song --year 2025 --metric listeners --format csv)" \
"$hdr
1,$s2,4,3,12.0
2,$s3,3,3,15.0
3,$s1,5,1,16.7
4,$s9,1,1,0.0"
check_eq "by minutes (one decimal, rounded)" "$(top --by song --year 2025 --metric minutes --format csv)" \
"$hdr
1,$s1,5,1,16.7
2,$s3,3,3,15.0
3,$s2,4,3,12.0
4,$s9,1,1,0.0"
check_eq "all time: equal plays ranked by key" "$(top --by song --format csv)" \
"$hdr
1,$s1,5,1,16.7
2,$s3,5,4,25.0
3,$s2,4,3,12.0
4,$s9,1,1,0.0"
check_eq "--limit" "$(top --by song --limit 2 --metric listeners --format csv)" "$hdr
1,$s3,5,4,25.0
2,$s2,4,3,12.0"
check_eq "2024 holds the +01:00 play that is still 2024 in UTC" "$(top --by song --year 2024 --format csv)" \
"$hdr
1,$s3,2,2,10.0"
check_eq "--from/--to inclusive, UTC day boundaries" "$(top --by song --from 2025-04-30 --to 2025-05-01 --format csv)" \
"$hdr
1,$s2,1,1,3.0
2,$s3,1,1,5.0"
check_eq "--month" "$(top --by song --month 2025-05 --format csv)" "$hdr
1,$s3,3,3,15.0
2,$s9,1,1,0.0"

# --- the other dimensions (unknown songs count for country and device, not artist or genre)
check_eq "artists of 2025" "$(top --by artist --year 2025 --format csv)" "rank,artist,plays,listeners,minutes
1,Alpha,9,3,28.7
2,Bêta,3,3,15.0"
check_eq "genres of 2025 by listeners" "$(top --by genre --year 2025 --metric listeners --format csv)" \
"rank,genre,plays,listeners,minutes
1,pop,8,4,31.7
2,rock,4,3,12.0"
check_eq "countries: equal plays and listeners ranked by key" "$(top --by country --year 2025 --format csv)" \
"rank,country,plays,listeners,minutes
1,SE,9,2,30.7
2,BR,2,1,5.0
3,US,2,1,8.0"
check_eq "devices: the event's device, else the user's" "$(top --by device --year 2025 --format csv)" \
"rank,device,plays,listeners,minutes
1,mobile,8,2,27.7
2,desktop,2,1,8.0
3,tv,2,1,5.0
4,web,1,1,3.0"

# --- headings
heading() { top "$@" | head -n 1; }
check_eq "song of the day heading" "$(heading --by song --day 2025-04-30)" "Song of the Day 2025-04-30 — by plays"
check_eq "artist of the month heading" "$(heading --by artist --month 2025-04 --metric listeners)" \
    "Artist of the Month 2025-04 — by listeners"
check_eq "range heading" "$(heading --by genre --from 2025-04-01 --to 2025-04-30 --metric minutes)" \
    "Top genres 2025-04-01 … 2025-04-30 — by minutes"
check_eq "all-time heading" "$(heading --by country)" "Top countries, all time — by plays"
check_eq "year heading for other dimensions" "$(heading --by device --year 2025)" "Top devices of 2025 — by plays"
check_eq "empty chart" "$(top --by artist --year 2023)" "Artist of the Year 2023 — by plays

no plays in this period"
check_eq "empty csv is the header" "$(top --by genre --day 2025-01-01 --format csv)" "rank,genre,plays,listeners,minutes"

# --- json: escaping, nulls, from/to
check_eq "json chart" "$(top --by song --month 2025-05 --format json)" \
'{"title":"Song of the Month 2025-05 — by plays","by":"song","metric":"plays","from":"2025-05-01","to":"2025-05-31","rows":[
{"rank":1,"song_id":"S3","title":"Third \"Eye\", Open","artist":"Bêta","plays":3,"listeners":3,"minutes":15.0},
{"rank":2,"song_id":"S9","title":null,"artist":null,"plays":1,"listeners":1,"minutes":0.0}
]}'
check_eq "json all time has null from/to" "$(top --by artist --limit 1 --format json)" \
'{"title":"Top artists, all time — by plays","by":"artist","metric":"plays","from":null,"to":null,"rows":[
{"rank":1,"artist":"Alpha","plays":9,"listeners":3,"minutes":28.7}
]}'
check_eq "json empty chart" "$(top --by song --year 2030 --format json)" \
'{"title":"Song of the Year 2030 — by plays","by":"song","metric":"plays","from":"2030-01-01","to":"2030-12-31","rows":[]}'
if command -v python3 >/dev/null; then
    check "json parses" python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["rows"][1]["title"]=="Third \"Eye\", Open"' \
        < <(top --by song --format json)
fi

# --- wrapped
check_eq "wrapped report" "$(wrapped --user U1 --year 2025)" "U1's 2025, wrapped

  minutes listened   22.7
  plays              7
  different songs    2
  different artists  1
  top genre          pop
  most-used device   mobile

  top songs
    1. First Light — Alpha · 5 plays
    2. Second Wind — Alpha · 2 plays

  top artists
    1. Alpha · 7 plays"
check_eq "wrapped json, ties by song_id, unknown song" "$(wrapped --user U4 --year 2025 --format json)" \
'{"user":"U4","year":2025,"minutes":5.0,"plays":2,"songs":2,"artists":1,"top_genre":"pop","top_device":"tv","top_songs":[{"rank":1,"song_id":"S3","title":"Third \"Eye\", Open","artist":"Bêta","plays":1},{"rank":2,"song_id":"S9","title":null,"artist":null,"plays":1}],"top_artists":[{"rank":1,"artist":"Bêta","plays":1}]}'
check_eq "wrapped year is the UTC year" "$(wrapped --user U2 --year 2024 --format json)" \
'{"user":"U2","year":2024,"minutes":5.0,"plays":1,"songs":1,"artists":1,"top_genre":"pop","top_device":"desktop","top_songs":[{"rank":1,"song_id":"S3","title":"Third \"Eye\", Open","artist":"Bêta","plays":1}],"top_artists":[{"rank":1,"artist":"Bêta","plays":1}]}'
out=$(wrapped --user U3 --year 2023); rc=$?
check_eq "no plays that year: exit 0" "$rc" "0"
check_eq "no plays that year: a friendly line" "$out" "No plays by U3 in 2023: nothing to wrap yet."
check_eq "the user id is bound, never pasted into SQL" "$(wrapped --user "U1' OR '1'='1" --year 2025)" \
    "No plays by U1' OR '1'='1 in 2025: nothing to wrap yet."
check_eq "wrapped json with no plays" "$(wrapped --user nobody --year 2025 --format json)" \
'{"user":"nobody","year":2025,"minutes":0.0,"plays":0,"songs":0,"artists":0,"top_genre":null,"top_device":null,"top_songs":[],"top_artists":[]}'
# (tests/unit/test_user_index.c checks the plan of the query wrapped runs on this index)
check_eq "wrapped's user index, in generations" \
    "$(sqlite3 "$DB" "SELECT sql FROM sqlite_schema WHERE name = 'MUSIC_EVENTS_BY_USER'")" \
    'CREATE INDEX "MUSIC_EVENTS_BY_USER" ON "MUSIC_EVENTS" ("event_id" >> 14, user_id, event_time)'

# --- ENCORE_TRACE_SQL=1: the statements a report runs, as written (parameters, never values)
traced=$(ENCORE_TRACE_SQL=1 "$ENCORE" wrapped --sink "sqlite:$DB" --user U1 --year 2025 2>&1 >/dev/null)
check_match "ENCORE_TRACE_SQL prints the statements wrapped runs" "$traced" 'encore: sql: SELECT .*FROM "MUSIC_EVENTS"'
check_eq "the trace never shows the bound user id" "$(grep -c U1 <<<"$traced")" "0"
check_eq "without ENCORE_TRACE_SQL nothing is printed" "$(wrapped --user U1 --year 2025 2>&1 >/dev/null)" ""
scans=0 planned=0
while IFS= read -r stmt; do
    plan=$(sqlite3 "$DB" "EXPLAIN QUERY PLAN $stmt") && planned=$((planned + 1))
    [[ "$plan" == *"SCAN MUSIC_EVENTS"* ]] && scans=$((scans + 1))
done < <(sed -n 's/^encore: sql: //p' <<<"$traced" | grep 'FROM "MUSIC_EVENTS"')
check_eq "wrapped runs one statement over MUSIC_EVENTS, and it plans" "$planned" "1"
check_match "it reads one index range per generation" \
    "$(sqlite3 "$DB" "EXPLAIN QUERY PLAN $(sed -n 's/^encore: sql: //p' <<<"$traced" | grep 'FROM "MUSIC_EVENTS"')")" \
    'SEARCH MUSIC_EVENTS USING INDEX MUSIC_EVENTS_BY_USER \(<expr>=\? AND user_id=\? AND event_time>\? AND event_time<\?\)'
check_eq "no statement wrapped runs scans MUSIC_EVENTS" "$scans" "0"

# --- another table in the same file
"$ENCORE" run --events "$IN/events" --songs "$IN/songs.csv" --users "$IN/users.csv" --sink "sqlite:$DB" \
    --table PLAYS --once >/dev/null 2>&1
check_eq "--table reads NAME_DAILY" "$(top --table PLAYS --by artist --limit 1 --format csv)" \
    "rank,artist,plays,listeners,minutes${nl}1,Alpha,9,3,28.7"
check_match "wrapped --table" "$(wrapped --table PLAYS --user U1 --year 2024 --format json)" \
    '^\{"user":"U1","year":2024,"minutes":5.0,"plays":1,"songs":1,'

# --- help
out=$("$ENCORE" top --help); check_eq "top --help exits 0" "$?" "0"
check_match "top help lists --metric" "$out" "--metric M"
out=$("$ENCORE" wrapped --help); check_eq "wrapped --help exits 0" "$?" "0"
check_match "wrapped help lists --user" "$out" "--user ID"
check_match "encore --help lists top and wrapped" "$("$ENCORE" --help)" "top .*wrapped "

# --- every bad setup: exit 2, one line on stderr, nothing on stdout
expect_usage() { # DESCRIPTION REGEX ARGS...
    local desc=$1 re=$2
    shift 2
    "$ENCORE" "$@" >"$WORK/out" 2>"$WORK/err"
    local rc=$?
    check_eq "$desc: exit status" "$rc" "2"
    check_eq "$desc: one line" "$(wc -l <"$WORK/err")" "1"
    check_match "$desc: message" "$(cat "$WORK/err")" "$re"
    check_eq "$desc: no output" "$(wc -c <"$WORK/out")" "0"
}
S="sqlite:$DB"
expect_usage "top without --sink" "^encore top: --sink SPEC is required" top --by song
expect_usage "top without --by" "^encore top: --by DIM is required" top --sink "$S"
expect_usage "bad --by" "^encore top: --by 'album' is not valid; use song, artist, genre, country or device" \
    top --sink "$S" --by album
expect_usage "bad --metric" "^encore top: --metric 'streams' is not valid; use plays, listeners or minutes" \
    top --sink "$S" --by song --metric streams
expect_usage "bad --format" "^encore top: --format 'xml' is not valid; use table, csv or json" \
    top --sink "$S" --by song --format xml
expect_usage "bad --year" "^encore top: --year '25' is not valid" top --sink "$S" --by song --year 25
expect_usage "bad --month" "^encore top: --month '2025-13' is not valid" top --sink "$S" --by song --month 2025-13
expect_usage "month 00" "^encore top: --month '2025-00' is not valid" top --sink "$S" --by song --month 2025-00
expect_usage "bad --day" "^encore top: --day '2025-02-29' is not a valid date" top --sink "$S" --by song --day 2025-02-29
expect_usage "bad --from" "^encore top: --from '2025-4-1' is not a valid date" \
    top --sink "$S" --by song --from 2025-4-1 --to 2025-04-30
expect_usage "two period forms" "^encore top: give only one period" \
    top --sink "$S" --by song --year 2025 --month 2025-04
expect_usage "--from without --to" "^encore top: --from needs --to" top --sink "$S" --by song --from 2025-04-01
expect_usage "--to without --from" "^encore top: --to needs --from" top --sink "$S" --by song --to 2025-04-01
expect_usage "--from after --to" "^encore top: --from 2025-05-01 is after --to 2025-04-01" \
    top --sink "$S" --by song --from 2025-05-01 --to 2025-04-01
expect_usage "--limit 0" "^encore top: --limit 0 is out of range; give 1 to 10000" top --sink "$S" --by song --limit 0
expect_usage "--limit too big" "^encore top: --limit 10001 is out of range" top --sink "$S" --by song --limit 10001
expect_usage "bad --table" "^encore top: --table 'x\"y' must be letters" top --sink "$S" --by song --table 'x"y'
expect_usage "unknown sink" "^encore top: unknown sink 'pg:x'; use sqlite:PATH" top --sink pg:x --by song
expect_usage "missing database" "^encore top: database '$WORK/none.db' not found" \
    top --sink "sqlite:$WORK/none.db" --by song
check "missing database is not created" test ! -e "$WORK/none.db"
sqlite3 "$WORK/plain.db" "CREATE TABLE t (a)"
expect_usage "no aggregates" "^encore top: no aggregates in '$WORK/plain.db': run \`encore run\` first" \
    top --sink "sqlite:$WORK/plain.db" --by song
expect_usage "no aggregates for --table" "^encore top: no aggregates in '$DB': run \`encore run\` first \(no table NOPE_DAILY\)" \
    top --sink "$S" --by song --table NOPE
echo "not a database" >"$WORK/text.db"
expect_usage "not a database" "^encore top: cannot read '$WORK/text.db': file is not a database" \
    top --sink "sqlite:$WORK/text.db" --by song
expect_usage "database is a directory" "^encore top: '$WORK' is not a database file" top --sink "sqlite:$WORK" --by song

# --- monthly and yearly totals: kept by the run, equal to the daily rows, used for whole
# months and years; a period of days, months and years gives what the days alone give
check_eq "monthly and yearly totals equal a recomputation from the daily rows" "$(rollup_stored "$DB")" \
    "$(rollup_recomputed "$DB")"
check_eq "one batch whose busiest day is the first: nothing rolled yet" "$(rollup_horizon "$DB")" "2024-12-30"
mixed=$(top --by song --from 2024-12-31 --to 2025-05-01 --format csv)
check_eq "a period of days and months (S3: two plays on New Year's Eve, one on 1 May)" "$mixed" "$hdr
1,$s1,5,1,16.7
2,$s2,4,3,12.0
3,$s3,3,2,15.0"
cp "$DB" "$WORK/old.db"
sqlite3 "$WORK/old.db" "DROP TABLE MUSIC_EVENTS_MONTHLY; DROP TABLE MUSIC_EVENTS_YEARLY"
check_eq "a database without totals (before they existed): same chart from the daily rows" \
    "$("$ENCORE" top --sink "sqlite:$WORK/old.db" --by song --from 2024-12-31 --to 2025-05-01 --format csv)" "$mixed"
check_eq "… and by listeners" "$("$ENCORE" top --sink "sqlite:$WORK/old.db" --by song --metric listeners --format csv)" \
    "$(top --by song --metric listeners --format csv)"
"$ENCORE" run --events "$IN/events" --songs "$IN/songs.csv" --users "$IN/users.csv" --sink "sqlite:$WORK/old.db" \
    --once --quiet >/dev/null 2>&1
check_eq "its next run rebuilds the totals up to the day before the latest" "$(rollup_horizon "$WORK/old.db")" \
    "2025-05-03"
check_eq "… equal to the daily rows up to there" "$(rollup_stored "$WORK/old.db")" "$(rollup_recomputed "$WORK/old.db")"
check_eq "yearly totals of songs: the months ended by 2025-05-03" "$(sql_at "$WORK/old.db" \
    "SELECT year, key, plays FROM MUSIC_EVENTS_YEARLY WHERE dimension = 'song' ORDER BY 1, 2")" "2024|S3|2
2025|S1|5
2025|S2|4"
check_eq "monthly totals of May: its days up to 2025-05-03" "$(sql_at "$WORK/old.db" \
    "SELECT key, plays FROM MUSIC_EVENTS_MONTHLY WHERE dimension = 'song' AND month = '2025-05'")" "S3|3"
for args in "--year 2025" "--year 2025 --metric listeners" "--month 2025-05" "--from 2024-12-31 --to 2025-05-01" \
    "--day 2025-05-04" "--metric listeners" "--metric minutes"; do
    # shellcheck disable=SC2086 # word splitting of the flags is meant
    check_eq "… and the charts read them: song $args" \
        "$("$ENCORE" top --sink "sqlite:$WORK/old.db" --by song $args --format csv)" "$(top --by song $args --format csv)"
    # shellcheck disable=SC2086
    check_eq "… and the charts read them: artist $args" \
        "$("$ENCORE" top --sink "sqlite:$WORK/old.db" --by artist $args --format csv)" "$(top --by artist $args --format csv)"
done

# A late play (its day already rolled into April's and 2024's totals) and plays that move
# the horizon over the end of May: totals still equal the daily rows, and charts equal
# those of a database that got every play in one run.
cp -r "$IN" "$WORK/late"
L="$WORK/late.db"
late_run() {
    "$ENCORE" run --events "$WORK/late/events" --songs "$IN/songs.csv" --users "$IN/users.csv" \
        --sink "sqlite:$1" --once --quiet >/dev/null 2>&1
}
late_run "$L"
sqlite3 "$L" "DROP TABLE MUSIC_EVENTS_MONTHLY" # the next run rebuilds the totals up to 2025-05-03
late_run "$L"
check_eq "rebuilt up to the day before the latest" "$(rollup_horizon "$L")" "2025-05-03"
printf '%s\n' '{"user_id":"U3","song_id":"S1","timestamp":"2025-04-15T12:00:00Z"}' \
    '{"user_id":"U2","song_id":"S9","timestamp":"2024-06-01T12:00:00Z"}' >"$WORK/late/events/late.json"
late_run "$L"
check_eq "late plays: totals equal the daily rows" "$(rollup_stored "$L")" "$(rollup_recomputed "$L")"
check_eq "late plays: April's totals took the late play" "$(sql_at "$L" \
    "SELECT plays FROM MUSIC_EVENTS_MONTHLY WHERE dimension = 'song' AND month = '2025-04' AND key = 'S1'")" "6"
check_eq "late plays: 2024's totals took the late play" "$(sql_at "$L" \
    "SELECT plays FROM MUSIC_EVENTS_YEARLY WHERE dimension = 'song' AND year = '2024' AND key = 'S9'")" "1"
printf '%s\n' '{"user_id":"U1","song_id":"S2","timestamp":"2025-06-02T12:00:00Z"}' \
    '{"user_id":"U2","song_id":"S2","timestamp":"2025-06-02T13:00:00Z"}' >"$WORK/late/events/june.json"
late_run "$L"
check_eq "a batch mostly on 2025-06-02 rolls through 2025-06-01" "$(rollup_horizon "$L")" "2025-06-01"
check_eq "… May ended: its totals are in 2025's" "$(sql_at "$L" \
    "SELECT plays FROM MUSIC_EVENTS_YEARLY WHERE dimension = 'song' AND year = '2025' AND key = 'S3'")" "3"
check_eq "… totals equal the daily rows" "$(rollup_stored "$L")" "$(rollup_recomputed "$L")"
late_run "$WORK/fresh.db"
for args in "--year 2025" "--year 2024 --metric listeners" "--month 2025-04" "--from 2024-12-31 --to 2025-06-02" \
    "--metric listeners" "--month 2025-06"; do
    for by in song artist country; do
        # shellcheck disable=SC2086 # word splitting of the flags is meant
        check_eq "late plays: $by $args as from one run" \
            "$("$ENCORE" top --sink "sqlite:$L" --by $by $args --format csv)" \
            "$("$ENCORE" top --sink "sqlite:$WORK/fresh.db" --by $by $args --format csv)"
    done
done

# The last day there is: a chart's walk over the days with rows ends there.
mkdir -p "$WORK/edge/events"
printf '%s\n' '{"user_id":"U1","song_id":"S1","timestamp":"9999-12-31T10:00:00Z"}' \
    '{"user_id":"U2","song_id":"S1","timestamp":"9999-12-30T10:00:00Z"}' >"$WORK/edge/events/a.json"
"$ENCORE" run --events "$WORK/edge/events" --songs "$IN/songs.csv" --users "$IN/users.csv" \
    --sink "sqlite:$WORK/edge.db" --once --quiet >/dev/null 2>&1
check_eq "a chart ending on 9999-12-31" "$(timeout 20 "$ENCORE" top --sink "sqlite:$WORK/edge.db" --by song \
    --metric listeners --format csv)" "$hdr
1,$s1,2,2,6.7"

expect_usage "wrapped without --user" "^encore wrapped: --user ID is required" wrapped --sink "$S" --year 2025
expect_usage "wrapped without --year" "^encore wrapped: --year YYYY is required" wrapped --sink "$S" --user U1
expect_usage "wrapped bad --year" "^encore wrapped: --year '2025-01' is not valid" \
    wrapped --sink "$S" --user U1 --year 2025-01
expect_usage "wrapped --format csv" "^encore wrapped: --format 'csv' is not valid; use table or json" \
    wrapped --sink "$S" --user U1 --year 2025 --format csv
expect_usage "wrapped empty --user" "^encore wrapped: --user must not be empty" wrapped --sink "$S" --user '' --year 2025
expect_usage "wrapped missing database" "^encore wrapped: database '$WORK/none.db' not found" \
    wrapped --sink "sqlite:$WORK/none.db" --user U1 --year 2025
check "wrapped does not create the database" test ! -e "$WORK/none.db"
expect_usage "wrapped without events table" "^encore wrapped: no table MUSIC_EVENTS in '$WORK/plain.db': run \`encore run\` first" \
    wrapped --sink "sqlite:$WORK/plain.db" --user U1 --year 2025
expect_usage "wrapped bad --table" "^encore wrapped: --table 'a b' must be letters" \
    wrapped --sink "$S" --user U1 --year 2025 --table 'a b'
finish

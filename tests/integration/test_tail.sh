#!/usr/bin/env bash
# Files that grow, end mid-line, or are overwritten after ingestion (--once runs).
source "$(dirname "$0")/lib.sh"

cp "$FIXTURES/basic/songs.csv" "$FIXTURES/basic/users.csv" "$WORK/"
mkdir "$WORK/events"
DB="$WORK/music.db"
F="$WORK/events/live.json"
run() { "$ENCORE" run --events "$WORK/events" --songs "$WORK/songs.csv" --users "$WORK/users.csv" --sink "sqlite:$DB" --once "$@"; }
ev() { printf '{"user_id":"U001","song_id":"S00%s","timestamp":"2025-04-09T10:0%s:00"}' "$1" "$2"; }
count() { sql 'SELECT count(*) FROM MUSIC_EVENTS'; }

{ ev 1 1; echo; ev 2 2; echo; ev 1 3; } >"$F"    # third line has no newline but parses
run >/dev/null 2>&1
check_eq "--once takes a final line that parses" "$(count)" "3"
{ echo; ev 2 4; echo; } >>"$F"
run >/dev/null 2>&1
check_eq "growing file: only new lines are read" "$(count)" "4"
check_eq "line numbers continue across runs" "$(sql "SELECT line FROM _ENCORE_CHECKPOINT")" "5"

printf '{"user_id":"U001","so' >>"$F"
out=$(run 2>&1)
check_eq "incomplete final line waits" "$(count)" "4"
check_match "summary says a tail is pending" "$out" "1 file ends in an incomplete record"
check_eq "incomplete line is not quarantined" "$(sql 'SELECT count(*) FROM MUSIC_EVENTS_QUARANTINE')" "0"
printf 'ng_id":"S001","timestamp":"2025-04-09T10:09:00"}\n' >>"$F"
run >/dev/null 2>&1
check_eq "completed line is read" "$(sql "SELECT count(*) FROM MUSIC_EVENTS WHERE timestamp='2025-04-09T10:09:00'")" "1"

# A file replaced by a new one under the same name (new inode): reported and skipped.
{ ev 3 7; echo; } >"$WORK/new.json"
mv "$WORK/new.json" "$F"
err=$(run 2>&1 >/dev/null)
check_match "replaced file is reported" "$err" "replaced \(new inode\).*--allow-overwrites"
check_eq "replaced file is skipped" "$(count)" "5"
run --allow-overwrites >/dev/null 2>&1
check_eq "--allow-overwrites reads it again" "$(sql "SELECT count(*) FROM MUSIC_EVENTS WHERE song_id='S003'")" "1"

# A file truncated in place is reported too.
{ ev 1 1; echo; ev 1 2; echo; } >"$WORK/events/t.json"
run >/dev/null 2>&1
: >"$WORK/events/t.json"
err=$(run 2>&1 >/dev/null)
check_match "truncated file is reported" "$err" "truncated"

# An oversized record is quarantined; the next line is still read.
{ printf '{"user_id":"U001","pad":"%s"}\n' "$(head -c 5000 /dev/zero | tr '\0' x)"; ev 2 8; echo; } >"$WORK/events/big.json"
before=$(count)
run --max-record 1000 >/dev/null 2>&1
check_eq "line after an oversized record is read" "$(count)" "$((before + 1))"
check_match "oversized record quarantined" "$(sql "SELECT reason FROM MUSIC_EVENTS_QUARANTINE WHERE source_file LIKE '%big.json'")" "longer than the maximum"
finish

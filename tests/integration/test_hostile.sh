#!/usr/bin/env bash
# Hostile input: the corpus in tests/data/bad (truncated files, invalid UTF-8, NUL bytes, deep
# nesting, huge numbers, duplicate keys, empty files, not-objects, SQL metacharacters in ids,
# broken CSVs) plus big files made here (a 100 MB single line, 50 MB of blanks, 100000-deep
# nesting, a record larger than a batch's byte budget), a directory named like a file and an
# unreadable file. Each gives quarantine rows with a reason or one clear error line; never a
# crash, a hang or unbounded memory.
source "$(dirname "$0")/lib.sh"

BAD="$FIXTURES/bad"
# The big files go to tmpfs when there is one (fast to write, gone at exit).
BIG=$WORK
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    BIG=$(mktemp -d /dev/shm/encore-hostile.XXXXXX)
    trap 'rm -rf "$WORK" "$BIG"' EXIT
fi
EV="$BIG/events"
cp -r "$BAD/events" "$EV"
DB="$WORK/bad.db"
SAN=${ENCORE_SANITIZED:-0}
# Every run is bounded: a hang fails the test (exit 124) instead of blocking the suite.
enc() { timeout 300 "$ENCORE" "$@"; }
# peak RSS in KiB of a command, into $WORK/rss (via GNU time when present)
measure() {
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f %M -o "$WORK/rss" timeout 300 "$ENCORE" "$@"
    else
        echo 0 >"$WORK/rss"
        timeout 300 "$ENCORE" "$@"
    fi
}
reason() { # FILE LINE → quarantine reason
    sql "SELECT reason FROM MUSIC_EVENTS_QUARANTINE WHERE source_file = '$EV/$1' AND line = $2"
}

# --- files made here ------------------------------------------------------------------------
ok() { printf '{"user_id":"U1","song_id":"S1","timestamp":"%s"}\n' "$1"; }
{ printf '{"user_id":"U1","song_id":"S1","timestamp":"2025-03-02T00:00:00Z","pad":"'
  head -c 100000000 /dev/zero | tr '\0' x
  printf '"}\n'
  ok 2025-03-02T00:00:01Z; } >"$EV/big_line.json"
{ head -c 50000000 /dev/zero | tr '\0' ' '; ok 2025-03-02T00:00:02Z; } >"$EV/big_blanks.json"
{ printf '{"user_id":"U1","song_id":"S1","timestamp":"2025-03-02T00:00:03Z","d":'
  head -c 100000 /dev/zero | tr '\0' '['; head -c 100000 /dev/zero | tr '\0' ']'; printf '}\n'
  ok 2025-03-02T00:00:04Z; } >"$EV/deep_100k.json"
{ head -c 2000000 /dev/zero | tr '\0' '['; } >"$EV/deep_struct.json" # a 2 MB unclosed array
mkdir "$EV/dir.json" # a directory named like a file: searched like any directory
ok 2025-03-02T00:00:05Z >"$EV/dir.json/inner.json"

out=$(measure run --events "$EV" --songs "$BAD/songs.csv" --users "$BAD/users.csv" --sink "sqlite:$DB" --once 2>"$WORK/err")
rc=$?
check_eq "hostile corpus: exit 0" "$rc" "0"
check_eq "hostile corpus: no warning or error printed" "$(cat "$WORK/err")" ""
check_match "summary names the two files that end mid-record" "$out" "2 files end in an incomplete record"
rss=$(cat "$WORK/rss")
echo "  peak RSS over the corpus with a 100 MB line: $((rss / 1024)) MiB (--max-record 1M)"
if [ "$SAN" != 1 ] && [ "$rss" -gt 0 ]; then
    check "peak RSS stays under 64 MiB" test "$rss" -lt 65536
fi

check_eq "table intact, every good row there" "$(sql 'SELECT count(*) FROM MUSIC_EVENTS')" "19"
# truncated files
check_match "a line cut short is quarantined" "$(reason truncated.json 2)" "^invalid JSON: expected '\"' to close a string"
check_eq "a final line cut short waits (not quarantined)" "$(sql "SELECT count(*) FROM MUSIC_EVENTS_QUARANTINE WHERE source_file LIKE '%/truncated%.json' AND line > 2")" "0"
check_eq "the rows before the cut are in" "$(sql "SELECT count(*) FROM MUSIC_EVENTS WHERE timestamp IN ('2025-03-01T10:01:00Z','2025-03-01T10:02:00Z','2025-03-01T10:03:00Z')")" "3"
# invalid UTF-8, NUL bytes
check_match "invalid UTF-8 in an id" "$(reason invalid_utf8.json 1)" "^invalid UTF-8 in a JSON string at byte 13"
check_match "invalid UTF-8 in an extra field" "$(reason invalid_utf8.json 2)" "^invalid UTF-8 in a JSON string"
check_match "a line of bare bytes" "$(reason invalid_utf8.json 3)" "^invalid JSON: expected '\\{'"
check_match "a NUL inside a string" "$(reason nul.json 1)" "raw control character in a string"
check_match "a line of NULs" "$(reason nul.json 2)" "^invalid JSON"
check_match "a NUL after the object" "$(reason nul.json 3)" "unexpected data after the JSON object"
# nesting
check_eq "64 levels of nesting parse (rescued)" "$(sql "SELECT count(*) FROM MUSIC_EVENTS WHERE timestamp = '2025-03-01T10:10:00Z' AND _rescued_data LIKE '{\"d\":[[[%'")" "1"
check_match "65 levels are quarantined" "$(reason deep.json 2)" "^JSON nesting is deeper than 64 levels"
check_match "1000 levels are quarantined" "$(reason deep.json 3)" "^JSON nesting is deeper than 64 levels"
check_match "100000 levels are quarantined" "$(reason deep_100k.json 1)" "^JSON nesting is deeper than 64 levels"
check_eq "the line after 100000 levels is read" "$(sql "SELECT count(*) FROM MUSIC_EVENTS WHERE timestamp = '2025-03-02T00:00:04Z'")" "1"
check_match "a 2 MB unclosed array is one oversized record" "$(reason deep_struct.json 1)" "longer than the maximum record size"
# huge numbers
check_eq "a 39-digit user id is kept as its text" "$(sql "SELECT count(*) FROM MUSIC_EVENTS WHERE user_id = '123456789012345678901234567890123456789'")" "1"
check_match "timestamp 1e400" "$(reason huge_numbers.json 2)" "^timestamp '1e400' is not"
check_match "timestamp of 26 digits" "$(reason huge_numbers.json 3)" "is not an ISO 8601 date-time or an epoch number"
check_eq "a 5001-digit song id is kept, unknown song" "$(sql "SELECT length(song_id), quote(title) FROM MUSIC_EVENTS WHERE timestamp = '2025-03-01T10:15:00Z'")" "5001|NULL"
# duplicate keys
check_eq "duplicate keys: the first wins, the rest are rescued" \
    "$(sql "SELECT user_id, timestamp, json_extract(_rescued_data, '\$.user_id'), json_extract(_rescued_data, '\$.timestamp') FROM MUSIC_EVENTS WHERE timestamp = '2025-03-01T10:16:00Z'")" \
    "U1|2025-03-01T10:16:00Z|U2|garbage"
# empty and blank files, not-objects
check_eq "empty and blank files add nothing" "$(sql "SELECT count(*) FROM MUSIC_EVENTS_QUARANTINE WHERE source_file LIKE '%/empty.json' OR source_file LIKE '%/blank.json'")" "0"
check_match "a string is not an object" "$(reason not_objects.json 1)" "^record is a JSON string, not a JSON object"
check_match "an array is not an object" "$(reason not_objects.json 4)" "^record is a JSON array, not a JSON object"
# SQL metacharacters: stored verbatim, joined, nothing executed
check_eq "events table still there after a DROP TABLE id" "$(sql "SELECT count(*) FROM sqlite_master WHERE name = 'MUSIC_EVENTS'")" "1"
check_eq "an id with quotes and ; is stored and joined" \
    "$(sql "SELECT song_id, country FROM MUSIC_EVENTS WHERE user_id = 'U1''; DROP TABLE MUSIC_EVENTS; --'")" 'S"1|FR'
check_eq "a song id with quotes joins its title" \
    "$(sql "SELECT title, artist, genre FROM MUSIC_EVENTS WHERE song_id = 'S1'') OR (''1''=''1'")" "Sneaky, \"quoted\"|A'rtist|Rock;--"
check_eq "LIKE wildcards and a backslash in an id are literal" "$(sql "SELECT count(*) FROM MUSIC_EVENTS WHERE user_id = '%_\\'")" "1"
# big lines
check_match "a 100 MB line is quarantined as oversized" "$(reason big_line.json 1)" "^record is longer than the maximum record size \\(--max-record\\)"
check_eq "its raw text is cut at 64 KiB" "$(sql "SELECT length(raw) FROM MUSIC_EVENTS_QUARANTINE WHERE source_file = '$EV/big_line.json'")" "65536"
check_eq "the line after the 100 MB line is read" "$(sql "SELECT count(*) FROM MUSIC_EVENTS WHERE timestamp = '2025-03-02T00:00:01Z'")" "1"
check_eq "50 MB of blanks, then a record: the record is read" "$(sql "SELECT count(*) FROM MUSIC_EVENTS WHERE timestamp = '2025-03-02T00:00:02Z'")" "1"
check_eq "a directory named like a file is searched" "$(sql "SELECT count(*) FROM MUSIC_EVENTS WHERE timestamp = '2025-03-02T00:00:05Z'")" "1"
check_eq "database integrity" "$(sql 'PRAGMA integrity_check')" "ok"
before=$(sql 'SELECT count(*) FROM MUSIC_EVENTS_QUARANTINE')
enc run --events "$EV" --songs "$BAD/songs.csv" --users "$BAD/users.csv" --sink "sqlite:$DB" --once --quiet >/dev/null
check_eq "a second run adds nothing" "$(sql 'SELECT count(*) FROM MUSIC_EVENTS'),$(sql 'SELECT count(*) FROM MUSIC_EVENTS_QUARANTINE')" "19,$before"

# --- a record longer than a batch's byte budget (64 MB) but within --max-record ----------
mkdir "$BIG/huge"
{ printf '{"user_id":"U1","song_id":"S1","timestamp":"2025-03-03T00:00:00Z","pad":"'
  head -c 70000000 /dev/zero | tr '\0' y
  printf '"}\n'
  ok 2025-03-03T00:00:01Z; } >"$BIG/huge/h.json"
out=$(measure run --events "$BIG/huge" --songs "$BAD/songs.csv" --users "$BAD/users.csv" \
    --sink "sqlite:$BIG/huge.db" --once --max-record 100M 2>&1)
check_eq "a 70 MB record with --max-record 100M: exit 0" "$?" "0"
check_eq "it is ingested whole, and the next line too" \
    "$(sqlite3 "$BIG/huge.db" "SELECT count(*), max(length(_rescued_data)) > 70000000 FROM MUSIC_EVENTS")" "2|1"
echo "  peak RSS for a 70 MB record (--max-record 100M): $(($(cat "$WORK/rss") / 1024)) MiB"

# --- an unreadable file -------------------------------------------------------------------
mkdir -p "$WORK/unr/ev"
chmod 755 "$WORK" "$WORK/unr" "$WORK/unr/ev"
ok 2025-03-04T00:00:00Z >"$WORK/unr/ev/a.json"
ok 2025-03-04T00:00:01Z >"$WORK/unr/ev/secret.json"
chmod 000 "$WORK/unr/ev/secret.json"
as=()
if [ "$(id -u)" = 0 ]; then
    # root reads a chmod 000 file anyway: run encore as nobody when we can, else say so.
    nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
    if command -v setpriv >/dev/null && "${nobody[@]}" "$ENCORE" --version >/dev/null 2>&1; then
        as=("${nobody[@]}")
        chown nobody "$WORK/unr"
    else
        as=(skip)
    fi
fi
if [ "${as[0]:-}" = skip ]; then
    echo "  unreadable file: skipped (root, and encore cannot run as nobody here: chmod 000 does not stop root)"
else
    cp "$BAD/songs.csv" "$BAD/users.csv" "$WORK/unr/"
    chmod 644 "$WORK/unr/songs.csv" "$WORK/unr/users.csv"
    err=$("${as[@]}" timeout 300 "$ENCORE" run --events "$WORK/unr/ev" --songs "$WORK/unr/songs.csv" \
        --users "$WORK/unr/users.csv" --sink "sqlite:$WORK/unr/u.db" --once 2>&1 >/dev/null)
    check_eq "unreadable file: exit 0" "$?" "0"
    check_match "unreadable file: one clear warning" "$err" "^encore: warning: cannot read '.*secret.json': Permission denied; skipping it until it changes$"
    check_eq "unreadable file: the other file is read" "$(sqlite3 "$WORK/unr/u.db" 'SELECT count(*) FROM MUSIC_EVENTS')" "1"
fi

# --- broken reference data: one line, exit 2 ----------------------------------------------
csv_error() { # DESCRIPTION SONGS USERS REGEX
    local err
    err=$(enc run --events "$EV" --songs "$2" --users "$3" --sink "sqlite:$WORK/csv.db" --once 2>&1 >/dev/null)
    local rc=$?
    check_eq "$1: exit 2" "$rc" "2"
    check_eq "$1: one line" "$(printf '%s\n' "$err" | wc -l)" "1"
    check_match "$1: says what is wrong" "$err" "$4"
}
csv_error "songs.csv with an unbalanced quote" "$BAD/csv/songs_unbalanced_quote.csv" "$BAD/users.csv" \
    "^encore run: songs.csv '.*': line 2: quoted field never closed$"
csv_error "songs.csv without a header" "$BAD/csv/songs_missing_header.csv" "$BAD/users.csv" \
    "has no column 'song_id' \\(needs song_id,title,artist,genre,duration\\)"
csv_error "users.csv missing a column" "$BAD/songs.csv" "$BAD/csv/users_missing_column.csv" \
    "has no column 'subscription'"
csv_error "empty users.csv" "$BAD/songs.csv" "$BAD/csv/users_empty.csv" "is empty \\(needs a header row"
csv_error "users.csv with a NUL byte" "$BAD/songs.csv" "$BAD/csv/users_nul.csv" "line 2: NUL byte in the input"
check "no database written by a refused start" test ! -s "$WORK/csv.db"

# --- limits and options -------------------------------------------------------------------
err=$(enc run --events "$EV" --songs "$BAD/songs.csv" --users "$BAD/users.csv" --max-record 10 2>&1)
check_eq "--max-record below 64: exit 2" "$?" "2"
check_match "--max-record below 64: says the range" "$err" "--max-record between 64 and 256M"
err=$(enc run --events "$EV" --songs "$BAD/songs.csv" --users "$BAD/users.csv" --settle nan 2>&1)
check_eq "--settle nan (found by fuzz_opts): exit 2" "$?" "2"
check_match "--settle nan: says what to give" "$err" "--settle 'nan' is not valid; give a duration"
finish

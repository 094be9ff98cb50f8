#!/usr/bin/env bash
# The command line: help, version, and one clear line with exit 2 for every bad setup.
source "$(dirname "$0")/lib.sh"

cp -r "$FIXTURES/basic" "$WORK/in"
IN="$WORK/in"

out=$("$ENCORE" --help); check_eq "encore --help exits 0" "$?" "0"
check_match "help lists run" "$out" "run "
out=$("$ENCORE" run --help); check_eq "run --help exits 0" "$?" "0"
check_match "run help lists --events" "$out" "--events DIR"
check_match "version" "$("$ENCORE" --version)" "^encore [0-9]+\.[0-9]+\.[0-9]+$"

# expect_usage DESCRIPTION REGEX ARGS...: exit 2, exactly one line on stderr matching REGEX.
expect_usage() {
    local desc=$1 re=$2
    shift 2
    "$ENCORE" "$@" >"$WORK/out" 2>"$WORK/err"
    local rc=$?
    check_eq "$desc: exit status" "$rc" "2"
    check_eq "$desc: one line" "$(wc -l <"$WORK/err")" "1"
    check_match "$desc: message" "$(cat "$WORK/err")" "$re"
}

expect_usage "unknown command" "unknown command 'frobnicate'" frobnicate
expect_usage "unknown flag" "unknown option '--colour'" run --colour red
expect_usage "missing required flag" "--events DIR is required" run --songs "$IN/songs.csv" --users "$IN/users.csv"
expect_usage "flag without value" "--events needs DIR" run --events
expect_usage "bad number" "--batch-events 'lots' is not valid" run --events "$IN/events" --songs "$IN/songs.csv" --users "$IN/users.csv" --batch-events lots
expect_usage "missing songs file" "songs file '$WORK/nope.csv' not found; pass --songs" \
    run --events "$IN/events" --songs "$WORK/nope.csv" --users "$IN/users.csv" --once
expect_usage "missing events dir" "events directory '$WORK/none' not found" \
    run --events "$WORK/none" --songs "$IN/songs.csv" --users "$IN/users.csv" --sink "sqlite:$WORK/x.db" --once
printf 'song_id,title,artist\nS1,a,b\n' >"$WORK/bad_songs.csv"
expect_usage "CSV without a required column" "has no column 'genre'" \
    run --events "$IN/events" --songs "$WORK/bad_songs.csv" --users "$IN/users.csv" --once
expect_usage "unknown sink" "unknown sink 'oracle:x'" \
    run --events "$IN/events" --songs "$IN/songs.csv" --users "$IN/users.csv" --sink oracle:x
expect_usage "table name with SQL in it" "--table 'x\"; DROP TABLE y' must be" \
    run --events "$IN/events" --songs "$IN/songs.csv" --users "$IN/users.csv" --table 'x"; DROP TABLE y'
# songs.csv and users.csv load at the same time; messages come out as if one after the other.
printf 'user_id,country,subscription\nU1,US,free\n' >"$WORK/bad_users.csv"
expect_usage "users.csv without a required column" "users.csv .* has no column 'device'" \
    run --events "$IN/events" --songs "$IN/songs.csv" --users "$WORK/bad_users.csv" --once --quiet
expect_usage "both broken: only the songs.csv error" "songs.csv .* has no column 'genre'" \
    run --events "$IN/events" --songs "$WORK/bad_songs.csv" --users "$WORK/bad_users.csv" --once
printf 'song_id,title,artist,genre,duration\nS1,a,b,c,x1\nS2,a,b,c,x2\n' >"$WORK/warn_songs.csv"
printf 'user_id,country,subscription,device\nU1,US,free,web\nU1,FR,free,web\nU2,US,free\n' >"$WORK/warn_users.csv"
mkdir -p "$WORK/none2"
"$ENCORE" run --events "$WORK/none2" --songs "$WORK/warn_songs.csv" --users "$WORK/warn_users.csv" \
    --sink "sqlite:$WORK/w.db" --once >/dev/null 2>"$WORK/err"
check_eq "warnings: songs' first, then users', each in file order" \
    "$(grep -oE '(warn_songs|warn_users)\.csv:[0-9]+' "$WORK/err" | tr '\n' ' ')" \
    "warn_songs.csv:2 warn_songs.csv:3 warn_users.csv:4 warn_users.csv:3 "
finish

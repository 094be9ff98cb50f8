#!/usr/bin/env bash
# ENC_TRACE=FILE (src/trace.h): one line per traced step, `thread step start_us dur_us a b`,
# on the wall clock of --commit-log; a commit's line comes before its log line is due.
source "$(dirname "$0")/lib.sh"

cp "$FIXTURES/basic/songs.csv" "$FIXTURES/basic/users.csv" "$WORK/"
cp -r "$FIXTURES/basic/events" "$WORK/events"
ENC_TRACE="$WORK/trace" "$ENCORE" run --once --quiet --events "$WORK/events" --songs "$WORK/songs.csv" \
    --users "$WORK/users.csv" --sink "sqlite:$WORK/music.db" --commit-log "$WORK/commits" >/dev/null
check_eq "traced run exit status" "$?" "0"
check "the writer's commit is traced" grep -q '^encore-writer w.commit ' "$WORK/trace"
check "the reader's seal is traced" grep -q ' r.seal ' "$WORK/trace"
check_eq "every line has six fields, numbers after the step" \
    "$(awk 'NF != 6 || $3 !~ /^[0-9]+$/ || $4 !~ /^[0-9]+$/' "$WORK/trace" | wc -l)" "0"
committed=$(cut -f2 "$WORK/commits" | sort -n | tail -n 1)
check "the trace's clock is the commit log's" \
    awk -v c="$committed" '$2 == "w.commit" && $3 <= c && $3 + $4 >= c - 1000000 {ok = 1} END {exit !ok}' "$WORK/trace"
lines=$(wc -l <"$WORK/trace")
ENC_TRACE= "$ENCORE" run --once --quiet --events "$WORK/events" --songs "$WORK/songs.csv" \
    --users "$WORK/users.csv" --sink "sqlite:$WORK/other.db" >/dev/null
check_eq "untraced run exit status" "$?" "0"
check_eq "untraced: nothing written" "$(wc -l <"$WORK/trace")" "$lines"
finish

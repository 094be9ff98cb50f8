#!/usr/bin/env bash
# With --once a batch's aggregate deltas are finished on a thread beside the writer, while
# it writes the batch's rows (pipeline.c, agg_job). The daily rows must equal those
# recomputed from the rows, and be the same, listener sketches included, whether the
# events came in one batch or in many; so too with a rule that quarantines rows, where the
# deltas are made only after the rules, on that thread.
source "$(dirname "$0")/lib.sh"

GEN="$WORK/gen"
"$ENCORE" gen --out "$GEN" --events 3000 --files 3 --songs 40 --users 30 --days 3 --seed 5 >/dev/null
common=(--events "$GEN/events" --songs "$GEN/songs.csv" --users "$GEN/users.csv" --quiet --sync normal --once)

ONE="$WORK/one.db"
MANY="$WORK/many.db"
"$ENCORE" run "${common[@]}" --sink "sqlite:$ONE" >/dev/null
check_eq "one-batch run exit status" "$?" "0"
"$ENCORE" run "${common[@]}" --batch-events 90 --sink "sqlite:$MANY" >/dev/null
check_eq "many-batch run exit status" "$?" "0"
check "the many-batch run committed many batches" \
    test "$(sql_at "$MANY" "SELECT count(*) FROM _ENCORE_BATCHES")" -gt 20
check "the daily rows are not empty" test "$(sql_at "$ONE" "SELECT count(*) FROM MUSIC_EVENTS_DAILY")" -gt 100
check_eq "one batch: daily rows equal the rows' totals" "$(agg_stored "$ONE")" "$(agg_recomputed "$ONE")"
check_eq "many batches: daily rows equal the rows' totals" "$(agg_stored "$MANY")" "$(agg_recomputed "$MANY")"
check_eq "one batch or many: the same daily table, sketches included" "$(agg_digest "$ONE")" "$(agg_digest "$MANY")"

# Batches of thousands of listeners per device: a device's first batch of the day writes
# its sketch dense, and later batches only the listeners that raise one of its registers
# (agg_known.h). The daily sketches must still be those of one batch, byte for byte.
BIG="$WORK/big"
"$ENCORE" gen --out "$BIG" --events 40000 --files 4 --songs 50 --users 100000 --days 1 --seed 9 >/dev/null
big=(--events "$BIG/events" --songs "$BIG/songs.csv" --users "$BIG/users.csv" --quiet --sync normal --once)
"$ENCORE" run "${big[@]}" --sink "sqlite:$WORK/big-one.db" >/dev/null
"$ENCORE" run "${big[@]}" --batch-events 10000 --sink "sqlite:$WORK/big-many.db" >/dev/null
check_eq "dense sketches over batches: exit status" "$?" "0"
check "a device's daily sketch is dense" \
    test "$(sql_at "$WORK/big-many.db" "SELECT count(*) FROM MUSIC_EVENTS_DAILY WHERE dimension = 'device' AND length(listeners) = 12290")" -gt 0
check_eq "dense sketches over batches: daily rows equal the rows' totals" "$(agg_stored "$WORK/big-many.db")" \
    "$(agg_recomputed "$WORK/big-many.db")"
check_eq "dense sketches: one batch or many, the same daily table" "$(agg_digest "$WORK/big-one.db")" \
    "$(agg_digest "$WORK/big-many.db")"

RULED="$WORK/ruled.db"
printf 'quarantine expect_column_values_to_be_in_set device values=mobile,desktop name=no_web\n' >"$WORK/q.rules"
"$ENCORE" run "${common[@]}" --batch-events 90 --rules "$WORK/q.rules" --sink "sqlite:$RULED" >/dev/null
check_eq "run with a quarantine rule exit status" "$?" "0"
check "the rule quarantined rows" test "$(sql_at "$RULED" "SELECT count(*) FROM MUSIC_EVENTS_QUARANTINE")" -gt 100
check_eq "no quarantined row is counted" \
    "$(sql_at "$RULED" "SELECT count(*) FROM MUSIC_EVENTS_DAILY WHERE dimension = 'device' AND key = 'web'")" "0"
check_eq "with the rule: daily rows equal the rows' totals" "$(agg_stored "$RULED")" "$(agg_recomputed "$RULED")"

finish

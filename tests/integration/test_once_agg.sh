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

RULED="$WORK/ruled.db"
printf 'quarantine expect_column_values_to_be_in_set device values=mobile,desktop name=no_web\n' >"$WORK/q.rules"
"$ENCORE" run "${common[@]}" --batch-events 90 --rules "$WORK/q.rules" --sink "sqlite:$RULED" >/dev/null
check_eq "run with a quarantine rule exit status" "$?" "0"
check "the rule quarantined rows" test "$(sql_at "$RULED" "SELECT count(*) FROM MUSIC_EVENTS_QUARANTINE")" -gt 100
check_eq "no quarantined row is counted" \
    "$(sql_at "$RULED" "SELECT count(*) FROM MUSIC_EVENTS_DAILY WHERE dimension = 'device' AND key = 'web'")" "0"
check_eq "with the rule: daily rows equal the rows' totals" "$(agg_stored "$RULED")" "$(agg_recomputed "$RULED")"

finish

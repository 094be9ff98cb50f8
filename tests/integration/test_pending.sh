#!/usr/bin/env bash
# Pending packs (src/pending.h): a batch appends its deltas of days after the rollup
# horizon as level-0 packs, 8 packs of a level merged into one of the next level, folded
# into MUSIC_EVENTS_DAILY when the horizon passes the day or when the writer stops. A watch
# run killed with -9 leaves packs (for the last day, merged ones beside new ones): charts
# must equal a clean run's, and the next run's stop folds them into exactly the clean
# run's daily rows; so must a run on a pending table from before levels.
source "$(dirname "$0")/lib.sh"

GEN="$WORK/gen"
"$ENCORE" gen --out "$GEN" --events 3000 --files 3 --songs 40 --users 30 --days 2 --seed 11 >/dev/null
common=(--events "$GEN/events" --songs "$GEN/songs.csv" --users "$GEN/users.csv" --quiet --sync normal)

CLEAN="$WORK/clean.db"
out=$("$ENCORE" run "${common[@]}" --once --sink "sqlite:$CLEAN")
check_eq "clean run exit status" "$?" "0"
events=$(sql_at "$CLEAN" "SELECT sum(events) FROM _ENCORE_BATCHES")
check "clean run read events" test "${events:-0}" -gt 2900
check_eq "a stopped writer leaves no packs" "$(sql_at "$CLEAN" "SELECT count(*) FROM MUSIC_EVENTS_PENDING")" "0"

# Batches of 70 events: ~22 a day, so the first day is folded when the horizon passes it
# (and compacted at 8 packs before that), the second day keeps level-1 and level-0 packs.
DB="$WORK/killed.db"
"$ENCORE" run "${common[@]}" --batch-events 70 --poll 100ms --settle 100ms --sink "sqlite:$DB" &
pid=$!
all_in() { [ "$(sql "SELECT coalesce(sum(events), 0) FROM _ENCORE_BATCHES" 2>/dev/null)" = "$events" ]; }
wait_until 60 all_in
check "the watch run committed every event" all_in
kill -9 "$pid"
wait "$pid" 2>/dev/null
last=$(sql "SELECT max(day) FROM MUSIC_EVENTS_PENDING")
check "packs are left after kill -9" test "$(sql "SELECT count(*) FROM MUSIC_EVENTS_PENDING")" -gt 0
check_eq "packs only after the horizon" \
    "$(sql "SELECT count(*) FROM MUSIC_EVENTS_PENDING, _ENCORE_ROLLUP WHERE day <= rolled_through")" "0"
check "the horizon moved past the first day" test -n "$(sql "SELECT rolled_through FROM _ENCORE_ROLLUP")"
check "the last day has merged packs beside new ones" \
    test "$(sql "SELECT count(DISTINCT level) FROM MUSIC_EVENTS_PENDING WHERE day = '$last'")" -gt 1
check_eq "compaction, not a fold: the last day has no daily rows yet" \
    "$(sql "SELECT count(*) FROM MUSIC_EVENTS_DAILY WHERE day = '$last'")" "0"
# A level being merged on its thread when the kill came still holds its 8 packs, and
# level 0 gathers packs meanwhile (up to 64, pending.c): never more.
check "no (dimension, day, level) holds more than 64 packs" \
    test "$(sql "SELECT max(n) FROM (SELECT count(*) AS n FROM MUSIC_EVENTS_PENDING GROUP BY dimension, day, level)")" -le 64
check_eq "a day's levels never rise from older to newer packs" \
    "$(sql "SELECT count(*) FROM MUSIC_EVENTS_PENDING a JOIN MUSIC_EVENTS_PENDING b ON a.dimension = b.dimension
            AND a.day = b.day AND a.rowid < b.rowid AND a.level < b.level")" "0"
check_eq "totals up to the horizon equal the daily rows" "$(rollup_stored "$DB")" "$(rollup_recomputed "$DB")"
year=$(sql "SELECT substr('$last', 1, 4)")
for args in "--by song" "--by song --metric listeners" "--by song --metric minutes" "--by artist --metric listeners" \
    "--by country --day $last" "--by device --year $year" "--by genre --from $last --to $last --metric listeners" \
    "--by song --month ${last:0:7} --metric listeners"; do
    # shellcheck disable=SC2086 # word splitting of the flags is meant
    check_eq "with packs: chart $args equals the clean run's" \
        "$("$ENCORE" top --sink "sqlite:$DB" $args --limit 25 --format csv)" \
        "$("$ENCORE" top --sink "sqlite:$CLEAN" $args --limit 25 --format csv)"
done

# A pending table from before levels (no level column), holding the same packs: the next
# run adds the column (its packs level 0) and its stop folds them like the others.
OLD="$WORK/old.db"
cp "$DB" "$OLD"
sql_at "$OLD" "CREATE TABLE p0 AS SELECT dimension, day, deltas FROM MUSIC_EVENTS_PENDING ORDER BY rowid;
    DROP TABLE MUSIC_EVENTS_PENDING;
    CREATE TABLE MUSIC_EVENTS_PENDING (dimension TEXT NOT NULL, day TEXT NOT NULL, deltas BLOB NOT NULL);
    INSERT INTO MUSIC_EVENTS_PENDING SELECT * FROM p0 ORDER BY rowid; DROP TABLE p0;
    CREATE INDEX MUSIC_EVENTS_PENDING_BY_DAY ON MUSIC_EVENTS_PENDING (dimension, day)" >/dev/null
"$ENCORE" run "${common[@]}" --once --sink "sqlite:$OLD" >/dev/null
check_eq "a pre-level pending table: rerun exit status" "$?" "0"
check_eq "a pre-level pending table gets levels" \
    "$(sql_at "$OLD" "SELECT count(*) FROM pragma_table_info('MUSIC_EVENTS_PENDING') WHERE name = 'level'")" "1"
check_eq "a pre-level pending table: folded into the clean run's daily rows" "$(agg_digest "$OLD")" "$(agg_digest "$CLEAN")"

# The next run finds nothing new; its stop folds the packs.
"$ENCORE" run "${common[@]}" --once --sink "sqlite:$DB" >/dev/null
check_eq "rerun exit status" "$?" "0"
check_eq "the rerun's stop folded every pack" "$(sql "SELECT count(*) FROM MUSIC_EVENTS_PENDING")" "0"
check_eq "daily aggregates equal a recomputation" "$(agg_stored "$DB")" "$(agg_recomputed "$DB")"
check_eq "daily rows equal the clean run's, sketches and names included" "$(agg_digest "$DB")" "$(agg_digest "$CLEAN")"
check_eq "database integrity" "$(sql 'PRAGMA integrity_check')" "ok"
finish

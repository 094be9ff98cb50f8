#!/usr/bin/env bash
# Data quality: rules quarantine rows, a `fail` rule stops a batch uncommitted and a restart
# resumes, bad rules files are refused, the report matches the tables, the dry run writes nothing.
source "$(dirname "$0")/lib.sh"

Q="$FIXTURES/quality"
cp -r "$Q" "$WORK/q"
R="$WORK/q/rules"
ref=(--songs "$WORK/q/songs.csv" --users "$WORK/q/users.csv")

# ---- quarantine rules -------------------------------------------------------------------
DB="$WORK/q.db"
out=$("$ENCORE" run --events "$WORK/q/events" "${ref[@]}" --rules "$R/quarantine.rules" --sink "sqlite:$DB" \
      --once --quiet 2>"$WORK/err")
check_eq "quarantine run exits 0" "$?" "0"
check_match "summary counts rule quarantines" "$out" "8 events read, 3 rows written, 5 quarantined"
check_eq "rows kept" "$(sql "SELECT group_concat(user_id || '/' || song_id, ' ') FROM
  (SELECT * FROM MUSIC_EVENTS ORDER BY user_id, song_id)")" "U001/S001 U002/S999 U003/S003"
q() { sql "SELECT reason FROM MUSIC_EVENTS_QUARANTINE WHERE line = $1"; }
check_eq "in_set quarantines with the rule's name= as reason" "$(q 2)" "device_in_set"
check_eq "regex quarantines with the expectation as reason" "$(q 3)" "expect_column_values_to_match_regex"
check_eq "event_time in the future quarantined" "$(q 5)" "expect_column_values_to_be_between"
check_eq "repeated (user_id, event_time) quarantined" "$(q 6)" "expect_column_values_to_be_unique"
check_match "enrichment quarantine unchanged" "$(q 8)" "^invalid JSON"
check_eq "quarantine keeps the raw record" "$(sql "SELECT raw LIKE '%toaster%' FROM MUSIC_EVENTS_QUARANTINE WHERE line = 2")" "1"
check_eq "quarantined rows are not aggregated" "$(agg_stored "$DB")" "$(agg_recomputed "$DB")"
check_eq "no aggregate for the quarantined device" "$(sql "SELECT count(*) FROM MUSIC_EVENTS_DAILY WHERE key = 'toaster'")" "0"
res() { sql "SELECT evaluated || '/' || failed || ' ' || samples FROM QUALITY_RESULTS WHERE rule = '$1' AND column_name = '$2'"; }
check_eq "warn exist_in counts and keeps" "$(res expect_column_values_to_exist_in song_id)" '5/1 ["S999"]'
check_eq "warn not_null sample is null" "$(res expect_column_values_to_not_be_null device)" '3/1 [null]'
check_eq "unique key sample" "$(res expect_column_values_to_be_unique user_id,event_time)" '4/1 ["U002|2025-04-09 10:15:00"]'
check_eq "passing rule stored with no failures" "$(res expect_column_value_lengths_to_be_between song_id)" '3/0 []'
check_eq "reference checks are not batch results (restarts would repeat them)" \
  "$(sql "SELECT count(*) FROM QUALITY_RESULTS WHERE column_name LIKE 'songs.%' OR column_name LIKE 'users.%'")" "0"
check_eq "results carry the batch id of the committed batch" \
  "$(sql "SELECT count(*) FROM QUALITY_RESULTS WHERE batch_id NOT IN (SELECT batch_id FROM _ENCORE_BATCHES)")" "0"

# ---- the report ----------------------------------------------------------------------------
"$ENCORE" check --sink "sqlite:$DB" --format json >"$WORK/report.json"
check_eq "report exits 0" "$?" "0"
for reason in device_in_set expect_column_values_to_match_regex expect_column_values_to_be_between \
              expect_column_values_to_be_unique; do
  in_report=$(sqlite3 -batch :memory: "SELECT sum(json_extract(value, '\$.failed')) FROM json_each(json_extract(readfile('$WORK/report.json'), '\$.rules'))
    WHERE json_extract(value, '\$.rule') = '$reason' AND json_extract(value, '\$.action') = 'quarantine'")
  by_reason=$(sqlite3 -batch :memory: "SELECT json_extract(value, '\$.count') FROM json_each(json_extract(readfile('$WORK/report.json'), '\$.quarantine'))
    WHERE json_extract(value, '\$.reason') = '$reason'")
  in_table=$(sql "SELECT count(*) FROM MUSIC_EVENTS_QUARANTINE WHERE reason = '$reason'")
  check_eq "report's $reason failures = quarantine table" "$in_report" "$in_table"
  check_eq "report's $reason count by reason = quarantine table" "$by_reason" "$in_table"
done
table=$("$ENCORE" check --sink "sqlite:$DB")
check_match "table report lists the rule with its success rate" "$table" "device_in_set +device +quarantine +1 +7 +1 +85.71%"
check_match "table report shows failing samples" "$table" 'device_in_set device: \["toaster"\]'
check_match "table report shows success by day" "$table" "Success rate by day"
html=$("$ENCORE" check --sink "sqlite:$DB" --format html)
check_match "html report is one page" "$html" "^<!DOCTYPE html>.*</html>$"
check_eq "html report loads nothing from elsewhere" "$(grep -cE '(src|href)=|https?:' <<<"$html")" "0"
check_match "html escapes values" "$html" "\[&quot;toaster&quot;\]"
later=$("$ENCORE" check --sink "sqlite:$DB" --since 2999-01-01 --format json)
check_match "--since in the future: no results" "$later" '"rules":\[\],"days":\[\],"quarantine":\[\]'
"$ENCORE" check --sink "sqlite:$DB" --since yesterday >/dev/null 2>&1
check_eq "bad --since refused" "$?" "2"
"$ENCORE" check --sink "sqlite:$WORK/none.db" >/dev/null 2>&1
check_eq "report on a missing database refused" "$?" "2"
"$ENCORE" check --sink "sqlite:$DB" --format xml >/dev/null 2>&1
check_eq "unknown --format refused" "$?" "2"
help=$("$ENCORE" check --help)
check_match "check --help names both forms" "$help" "--sink sqlite:PATH.*--events DIR"
check_match "encore --help lists check" "$("$ENCORE" --help)" "check +data-quality report"

# ---- a bad rules file is refused at start ---------------------------------------------------
err=$("$ENCORE" run --events "$WORK/q/events" "${ref[@]}" --rules "$R/bad.rules" --sink "sqlite:$WORK/bad.db" --once 2>&1)
check_eq "bad rules: exit 2" "$?" "2"
check_match "bad rules: file, line and reason" "$err" "bad.rules:3: expect_column_values_to_be_between works on duration or event_time, not title"
check "bad rules: no database created" test ! -e "$WORK/bad.db"
"$ENCORE" run --events "$WORK/q/events" "${ref[@]}" --rules "$WORK/missing.rules" --sink "sqlite:$WORK/bad.db" --once >/dev/null 2>&1
check_eq "missing rules file: exit 2" "$?" "2"

# ---- a fail rule stops the batch; a restart resumes from the same point ---------------------
DB="$WORK/f.db"
frun() { "$ENCORE" run --events "$WORK/q/failcase/events" "${ref[@]}" --rules "$1" --sink "sqlite:$DB" --once \
           --batch-events 3 --quiet 2>"$WORK/ferr"; }
frun "$R/fail.rules" >/dev/null
check_eq "fail rule: exit 1" "$?" "1"
check_eq "fail rule: one line naming rule, file and line" "$(cat "$WORK/ferr")" \
  "encore: rule expect_column_values_to_exist_in failed on $(cd "$WORK/q/failcase/events" && pwd -P)/b.jsonl:2 (song_id 'S999'; rule at $R/fail.rules:3)"
check_eq "fail rule: the earlier batch committed" "$(sql 'SELECT count(*) FROM MUSIC_EVENTS')" "3"
check_eq "fail rule: nothing of the failing batch committed" \
  "$(sql "SELECT count(*) FROM MUSIC_EVENTS WHERE event_time >= '2025-04-10'")" "0"
check_eq "fail rule: its file's position not committed" \
  "$(sql "SELECT count(*) FROM _ENCORE_CHECKPOINT WHERE source_key LIKE '%b.jsonl'")" "0"
check_eq "fail rule: no quality results of the failing batch" \
  "$(sql "SELECT count(*) FROM QUALITY_RESULTS WHERE failed > 0")" "0"
frun "$R/fail.rules" >/dev/null
check_eq "restart with the same rules fails at the same point" "$?-$(sql 'SELECT count(*) FROM MUSIC_EVENTS')" "1-3"
out=$(frun "$R/fixed.rules")
check_eq "restart after the fix: exit 0" "$?" "0"
check_match "restart reads only the failed batch" "$out" "3 events read, 3 rows written"
check_eq "restart after the fix: every row once" \
  "$(sql "SELECT count(*) || '/' || count(DISTINCT user_id || song_id || event_time) FROM MUSIC_EVENTS")" "6/6"
check_eq "the fixed rule counted the unknown song" \
  "$(sql "SELECT sum(failed) FROM QUALITY_RESULTS WHERE rule = 'expect_column_values_to_exist_in' AND column_name = 'song_id'")" "1"
check_eq "aggregates match the rows after the restart" "$(agg_stored "$DB")" "$(agg_recomputed "$DB")"

# ---- the dry run ---------------------------------------------------------------------------
before=$(cd "$WORK" && find . -printf '%p %s %T@\n' | sort | md5sum)
out=$(cd "$WORK" && "$ENCORE" check --events "$WORK/q/failcase/events" "${ref[@]}" --rules "$R/fail.rules" --quiet)
check_eq "dry run: a failing fail rule exits 1" "$?" "1"
check_match "dry run: says it failed" "$out" "FAILED"
check_match "dry run: counts the rule over all files" "$out" "expect_column_values_to_exist_in +song_id +fail +[0-9]+ +6 +1 "
out=$(cd "$WORK" && "$ENCORE" check --events "$WORK/q/failcase/events" "${ref[@]}" --rules "$R/fixed.rules" --quiet)
check_eq "dry run: clean rules exit 0" "$?" "0"
check_match "dry run: says it passed" "$out" "PASSED"
check_match "dry run: reports the reference checks" "$out" "expect_column_values_to_be_unique +songs.song_id +warn +1 +3 +0 "
out=$(cd "$WORK" && "$ENCORE" check --events "$WORK/q/events" "${ref[@]}" --rules "$R/quarantine.rules" --quiet --format json)
check_eq "dry run: quarantine rules do not fail the gate" "$?" "0"
check_match "dry run json: quarantine by reason" "$out" '\{"reason":"device_in_set","count":1\}'
check_match "dry run json: malformed records counted" "$out" '"not a valid event[^"]*","count":1\}'
after=$(cd "$WORK" && find . -printf '%p %s %T@\n' | sort | md5sum)
check_eq "dry run: wrote nothing (no file created or changed)" "$after" "$before"
"$ENCORE" check --events "$WORK/q/events" "${ref[@]}" --rules "$R/bad.rules" >/dev/null 2>&1
check_eq "dry run: bad rules exit 2" "$?" "2"
"$ENCORE" check --events "$WORK/q/events" --sink "sqlite:$DB" >/dev/null 2>&1
check_eq "check: --events and --sink together refused" "$?" "2"

# ---- the default rules change nothing ---------------------------------------------------------
DB="$WORK/d.db"
"$ENCORE" run --events "$WORK/q/events" "${ref[@]}" --sink "sqlite:$DB" --once --quiet >/dev/null 2>&1
check_eq "default rules: only enrichment quarantines" "$(sql 'SELECT count(*) FROM MUSIC_EVENTS_QUARANTINE')" "1"
check_eq "default rules: all warn" "$(sql "SELECT group_concat(DISTINCT action) FROM QUALITY_RESULTS")" "warn"
check_eq "default rules: future event counted" \
  "$(sql "SELECT failed FROM QUALITY_RESULTS WHERE rule = 'expect_column_values_to_be_between' AND column_name = 'event_time'")" "1"
finish

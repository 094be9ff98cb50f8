#!/usr/bin/env bash
# _ENCORE_CHECKPOINT.committed_at_us: each file's wall-clock commit time (µs), which the
# latency benchmark reads; a checkpoint from before the column gets it added. And
# --commit-log: a line per file a batch advanced, written after its COMMIT returned.
source "$(dirname "$0")/lib.sh"

cp -r "$FIXTURES/basic" "$WORK/in"
run() {
    "$ENCORE" run --events "$WORK/in/events" --songs "$WORK/in/songs.csv" --users "$WORK/in/users.csv" \
        --sink "sqlite:$DB" --once --quiet >/dev/null 2>&1
}

DB="$WORK/new.db"
before=$(date +%s%6N)
run
check_eq "run exits 0" "$?" "0"
after=$(date +%s%6N)
check_eq "every file has a commit time within the run" \
  "$(sql "SELECT count(*) = sum(committed_at_us BETWEEN $before AND $after) FROM _ENCORE_CHECKPOINT")" "1"
check_match "at least one file checkpointed" "$(sql "SELECT count(*) FROM _ENCORE_CHECKPOINT")" "^[1-9][0-9]*$"
rows_new=$(sql "SELECT count(*) FROM MUSIC_EVENTS")

# A database whose checkpoint table predates the column.
DB="$WORK/old.db"
sqlite3 "$DB" "CREATE TABLE _ENCORE_CHECKPOINT (pipeline TEXT NOT NULL, source_key TEXT NOT NULL,
  identity INTEGER, offset INTEGER, line INTEGER, state INTEGER, updated_at TEXT,
  PRIMARY KEY (pipeline, source_key));"
before=$(date +%s%6N)
run
check_eq "old checkpoint: run exits 0" "$?" "0"
after=$(date +%s%6N)
check_eq "old checkpoint: column added and filled" \
  "$(sql "SELECT count(*) > 0 AND count(*) = sum(committed_at_us BETWEEN $before AND $after) FROM _ENCORE_CHECKPOINT")" "1"
check_eq "old checkpoint: the same rows as a new database" "$(sql "SELECT count(*) FROM MUSIC_EVENTS")" "$rows_new"


# --commit-log, batches of 2 records across the fixture's files: every committed position
# is logged, with a time no earlier than the stamp taken before its COMMIT.
DB="$WORK/log.db"
"$ENCORE" run --events "$WORK/in/events" --songs "$WORK/in/songs.csv" --users "$WORK/in/users.csv" \
    --sink "sqlite:$DB" --once --quiet --batch-events 2 --commit-log "$WORK/commit.log" >/dev/null 2>&1
check_eq "commit log: run exits 0" "$?" "0"
logq() { # SQL over table k (the log) and the database's tables
    sqlite3 -batch -noheader "$DB" "CREATE TEMP TABLE k(offset INTEGER, done INTEGER, path TEXT);" \
        ".mode tabs" ".import $WORK/commit.log k" ".mode list" "$1"
}
batches=$(sql "SELECT count(*) FROM _ENCORE_BATCHES")
check_match "commit log: several batches" "$batches" "^([3-9]|[1-9][0-9]+)$"
check_eq "commit log: a line per committed file position" \
    "$(logq "SELECT count(*) FROM _ENCORE_CHECKPOINT c JOIN k ON k.path = c.source_key AND k.offset = c.offset")" \
    "$(sql "SELECT count(*) FROM _ENCORE_CHECKPOINT")"
check_eq "commit log: logged after the pre-commit stamp" \
    "$(logq "SELECT count(*) FROM _ENCORE_CHECKPOINT c JOIN k ON k.path = c.source_key AND k.offset = c.offset
             WHERE k.done >= c.committed_at_us")" "$(sql "SELECT count(*) FROM _ENCORE_CHECKPOINT")"
check_eq "commit log: offsets of a file only grow, times never go back" \
    "$(logq "SELECT count(*) FROM k a JOIN k b ON a.path = b.path AND a.rowid < b.rowid
             WHERE b.offset <= a.offset OR b.done < a.done")" "0"
check_eq "commit log: at most one line per file and batch" \
    "$(logq "SELECT count(*) <= $batches * (SELECT count(DISTINCT path) FROM k) FROM k")" "1"

# A batch a `fail` rule stops is never committed, so never logged.
cp -r "$FIXTURES/quality" "$WORK/q"
DB="$WORK/fail.db"
"$ENCORE" run --events "$WORK/q/failcase/events" --songs "$WORK/q/songs.csv" --users "$WORK/q/users.csv" \
    --rules "$WORK/q/rules/fail.rules" --sink "sqlite:$DB" --once --quiet --batch-events 3 \
    --commit-log "$WORK/fail.log" >/dev/null 2>&1
check_eq "commit log, fail rule: exit 1" "$?" "1"
check_eq "commit log, fail rule: only the committed file logged" \
    "$(grep -c . "$WORK/fail.log")-$(grep -c 'b.jsonl$' "$WORK/fail.log")" \
    "$(sql "SELECT count(*) FROM _ENCORE_CHECKPOINT")-0"
check_match "commit log, fail rule: something was committed" "$(sql "SELECT count(*) FROM _ENCORE_CHECKPOINT")" "^[1-9]"

# An unwritable log is a usage error before anything is read.
DB="$WORK/nolog.db"
"$ENCORE" run --events "$WORK/in/events" --songs "$WORK/in/songs.csv" --users "$WORK/in/users.csv" \
    --sink "sqlite:$DB" --once --quiet --commit-log "$WORK/no/such/dir/x.log" >/dev/null 2>"$WORK/nolog.err"
check_eq "commit log: unwritable path exits 2" "$?" "2"
check_match "commit log: says which file" "$(cat "$WORK/nolog.err")" "cannot open --commit-log"
check "commit log: nothing written" test ! -e "$DB"

finish

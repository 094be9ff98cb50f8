#!/usr/bin/env bash
# _ENCORE_CHECKPOINT.committed_at_us: each file's wall-clock commit time (µs), which the
# latency benchmark reads; a checkpoint from before the column gets it added.
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

finish

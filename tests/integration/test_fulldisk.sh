#!/usr/bin/env bash
# A full disk, two ways: a file-size limit (ulimit -f: write() fails with EFBIG, SIGXFSZ is
# ignored) and, when this test may mount one, a 4 MB tmpfs. encore stops with one error line
# and exit 1, the database passes PRAGMA integrity_check with whole batches only, and once
# space is freed a restart ends with exactly what one clean run writes.
source "$(dirname "$0")/lib.sh"

MNT="$WORK/mnt"
trap 'mountpoint -q "$MNT" 2>/dev/null && umount "$MNT"; rm -rf "$WORK"' EXIT
"$ENCORE" gen --out "$WORK/src" --events 30000 --files 3 --songs 500 --users 2000 --seed 5 >/dev/null
run() { # DB [args]
    local db=$1
    shift
    "$ENCORE" run --events "$WORK/src/events" --songs "$WORK/src/songs.csv" --users "$WORK/src/users.csv" \
        --sink "sqlite:$db" --once --batch-events 2000 "$@"
}
digest() {
    sqlite3 -batch -noheader "$1" "SELECT count(*) FROM MUSIC_EVENTS;
        SELECT quote(song_id), quote(user_id), quote(device), quote(timestamp), quote(_rescued_data),
          quote(event_time), quote(title), quote(country) FROM MUSIC_EVENTS ORDER BY 1, 2, 3, 4, 5, 6, 7, 8;
        SELECT source_file, line, reason, raw FROM MUSIC_EVENTS_QUARANTINE ORDER BY 1, 2, 3;
        SELECT dimension, key, day, plays, seconds, hex(listeners) FROM MUSIC_EVENTS_DAILY ORDER BY 1, 2, 3;
        SELECT source_key, offset, line FROM _ENCORE_CHECKPOINT ORDER BY 1" | sha256sum | cut -d' ' -f1
}
whole_batches() {
    [ "$(sqlite3 -batch "$1" 'SELECT (SELECT count(*) FROM MUSIC_EVENTS) = (SELECT sum(rows) FROM _ENCORE_BATCHES)')" = 1 ]
}
run "$WORK/clean.db" --quiet >/dev/null
CLEAN=$(digest "$WORK/clean.db")
TOTAL=$(sqlite3 "$WORK/clean.db" 'SELECT count(*) FROM MUSIC_EVENTS')

# check_stopped NAME DB REGEX: after a run that hit the limit (rc in $rc, stderr in $WORK/err)
check_stopped() {
    check_eq "$1: exit status 1" "$rc" "1"
    check_eq "$1: one error line" "$(wc -l <"$WORK/err")" "1"
    check_match "$1: the line says what happened" "$(cat "$WORK/err")" "$3"
    check_eq "$1: database intact" "$(sqlite3 "$2" 'PRAGMA integrity_check')" "ok"
    local n
    n=$(sqlite3 "$2" 'SELECT count(*) FROM MUSIC_EVENTS')
    check "$1: stopped part-way ($n of $TOTAL rows)" test "$n" -gt 0 -a "$n" -lt "$TOTAL"
    check "$1: whole batches only" whole_batches "$2"
}

# --- a file-size limit ------------------------------------------------------------------
(
    ulimit -f 4000 # KiB: the WAL outgrows it after a batch or two
    run "$WORK/lim.db" >"$WORK/out" 2>"$WORK/err"
)
rc=$?
check_stopped "file-size limit" "$WORK/lim.db" \
    "^encore run: sqlite: .*: file size limit reached \\(File too large\\); raise the limit .* committed batches are intact$"
run "$WORK/lim.db" --quiet >/dev/null
check_eq "file-size limit: a restart without the limit exits 0" "$?" "0"
check_eq "file-size limit: nothing lost or doubled vs a clean run" "$(digest "$WORK/lim.db")" "$CLEAN"

# --- a full tmpfs ------------------------------------------------------------------------
mkdir "$MNT"
if mount -t tmpfs -o size=4m tmpfs "$MNT" 2>/dev/null; then
    run "$MNT/full.db" >"$WORK/out" 2>"$WORK/err"
    rc=$?
    check_stopped "full disk" "$MNT/full.db" \
        "^encore run: sqlite: .*: disk full \\(database or disk is full\\); free space and run again: committed batches are intact$"
    mount -o remount,size=64m "$MNT"
    run "$MNT/full.db" --quiet >/dev/null
    check_eq "full disk: a restart after space is freed exits 0" "$?" "0"
    check_eq "full disk: nothing lost or doubled vs a clean run" "$(digest "$MNT/full.db")" "$CLEAN"
    umount "$MNT"
else
    echo "  full tmpfs: skipped (cannot mount a tmpfs here: needs root or CAP_SYS_ADMIN); the file-size limit ran"
fi
finish

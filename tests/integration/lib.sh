# lib.sh — helpers for black-box tests of the real binary against a real SQLite file.
# Each check is one test; `finish` prints "SUITE: N passed, N failed" and sets the exit code.
set -u
ENCORE=${ENCORE:-$PWD/build/encore}
SUITE=$(basename "$0" .sh)
FIXTURES="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/data"
T_PASS=0
T_FAIL=0
WORK=$(mktemp -d /tmp/encore-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

pass() { T_PASS=$((T_PASS + 1)); }
fail() { T_FAIL=$((T_FAIL + 1)); echo "  FAIL: $*" >&2; }

# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
    local desc=$1
    shift
    if "$@"; then pass; else fail "$desc"; fi
}

# check_eq DESCRIPTION GOT WANT
check_eq() {
    if [ "$2" == "$3" ]; then pass; else fail "$1: got [$2], want [$3]"; fi
}

# check_match DESCRIPTION TEXT REGEX
check_match() {
    if [[ "$2" =~ $3 ]]; then pass; else fail "$1: [$2] does not match /$3/"; fi
}

sql() { sqlite3 -batch -noheader "$DB" "$1"; }

# wait_until DEADLINE_SECONDS COMMAND...: polls the condition, never a fixed sleep.
wait_until() {
    local limit=$1
    shift
    local end=$((SECONDS + limit))
    while [ $SECONDS -lt $end ]; do
        if "$@" 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    return 1
}

finish() {
    echo "$SUITE: $T_PASS passed, $T_FAIL failed"
    [ "$T_FAIL" -eq 0 ]
}

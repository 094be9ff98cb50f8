#!/usr/bin/env bash
# run.sh BUILD_DIR — runs every unit-test program and integration script, then prints
# one closing line "N passed, N failed" summing the tests of all suites.
set -u
build=${1:-build}
cd "$(dirname "$0")/.."
export ENCORE="$PWD/$build/encore"
passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

tally() { # suite-name command...
    local name=$1
    shift
    echo "== $name"
    "$@" >"$log" 2>&1
    local rc=$?
    cat "$log"
    local line
    line=$(grep -E '^[A-Za-z0-9_./-]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "!! $name printed no summary (exit $rc): counted as one failure"
        failed=$((failed + 1))
        return
    fi
    local p f
    p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\1/')
    f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\2/')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "!! $name exited $rc with no failed test: counted as one failure"
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
}

for t in "$build"/tests/test_*; do
    [ -x "$t" ] && tally "unit/$(basename "$t")" "$t"
done
for t in tests/integration/test_*.sh; do
    tally "integration/$(basename "$t" .sh)" bash "$t"
done
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# bench/ab.sh ROUNDS DATA "label:binary:extra args" ... — alternate `encore run --once` configurations
# round by round on one dataset (a bench/cache/data-* folder), each into a fresh SQLite file; one line
# per run: round label wall_s user_s sys_s peak_kib pipeline_s events_per_s. For A/B work on a noisy VM
# (bench/RESULTS.md, session 9), e.g. aggregation's share:
#   bench/ab.sh 5 bench/cache/data-1000000-... "agg:build-bench/encore:" "noagg:build-bench/encore:--no-aggregates"
set -u
n=$1 data=$2; shift 2
tmp=${TMPDIR:-/tmp}/ab.$$; mkdir -p $tmp
for r in $(seq 1 $n); do
  for cfg in "$@"; do
    IFS=: read -r label bin extra <<<"$cfg"
    rm -f $tmp/db*
    /usr/bin/time -f "%e %U %S %M" -o $tmp/t $bin run --once --quiet --events $data/events --songs $data/songs.csv --users $data/users.csv --sink sqlite:$tmp/db $extra >$tmp/err 2>&1
    s=$(grep -o 'batches, [0-9.]* s, [0-9]* events/s' $tmp/err | awk '{print $2, $4}')
    echo "$r $label $(cat $tmp/t) $s"
  done
done
rm -rf $tmp

#!/usr/bin/env bash
# Instructions per call of each variant of the REST benchmark, counted by callgrind on the
# client thread only. Unlike the timings of `cargo bench --bench rest`, these counts do not
# depend on what else the machine is doing.
#
# Each variant runs twice, for SHORT and LONG rounds of one mode; the difference of the two
# counts over the difference in calls removes start-up (TLS roots, pools) exactly.
#
# Usage: crates/kallglot/benches/rest-instructions.sh [sequential|concurrent]
# Needs valgrind (Debian: `apt-get install valgrind`).
set -euo pipefail
cd "$(dirname "$0")/../../.."

mode=${1:-sequential}
case "$mode" in
  sequential) flag=--sequential; per_round=200; short=2; long=6 ;;
  concurrent) flag=; per_round=3200; short=1; long=3 ;;
  *) echo "usage: $0 [sequential|concurrent]" >&2; exit 2 ;;
esac

bench=$(cargo bench -p kallglot --bench rest --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "rest" and m.get("executable"):
        print(m["executable"])')
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# The client thread is the main thread: callgrind's file for thread 1.
client_instructions() {
  valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out/cg.%p" \
    "$bench" --profile "$1" $flag --rounds "$2" >/dev/null 2>&1
  local file
  file=$(ls "$out"/cg.*-01)
  grep -a '^summary:' "$file" | awk '{print $2}'
  rm -f "$out"/cg.*
}

calls=$(( (long - short) * per_round ))
raw=
echo "| Variant ($mode) | Instructions per call (client thread) | × raw |"
echo "|---|---:|---:|"
for side in raw raw-sdk-config floor generated sdk; do
  a=$(client_instructions "$side" "$short")
  b=$(client_instructions "$side" "$long")
  per_call=$(( (b - a) / calls ))
  raw=${raw:-$per_call}
  ratio=$(python3 -c "print(f'{$per_call / $raw:.3f}')")
  echo "| $side | $per_call | $ratio |"
done

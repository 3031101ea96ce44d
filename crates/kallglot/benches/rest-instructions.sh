#!/usr/bin/env bash
# Instructions and allocations per call of each variant of the REST benchmark. Instructions
# are counted by callgrind on the client thread only; allocations by the bench's counting
# allocator (every thread; the bench server allocates nothing per request). Unlike the
# timings of `cargo bench --bench rest`, these counts do not depend on what else the machine
# is doing.
#
# Each variant runs twice, for SHORT and LONG rounds of one mode; the difference of the two
# counts over the difference in calls removes start-up (TLS roots, pools) exactly.
#
# Usage: crates/kallglot/benches/rest-instructions.sh [sequential|concurrent] [VARIANT...]
# (variants: raw raw-sdk-config floor generated sdk raw-openai openai; default: all).
# Needs valgrind (Debian: `apt-get install valgrind`).
set -euo pipefail
cd "$(dirname "$0")/../../.."

mode=${1:-sequential}
case "$mode" in
  sequential) flag=--sequential; per_round=200; short=2; long=6 ;;
  concurrent) flag=; per_round=3200; short=1; long=3 ;;
  *) echo "usage: $0 [sequential|concurrent] [VARIANT...]" >&2; exit 2 ;;
esac
shift || true
sides=("$@")
if [ ${#sides[@]} -eq 0 ]; then
  sides=(raw raw-sdk-config floor generated sdk raw-openai openai)
fi

bench=$(cargo bench -p kallglot --bench rest --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "rest" and m.get("executable"):
        print(m["executable"])')
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Prints "INSTRUCTIONS ALLOCATIONS" for one run. The client thread is the main thread:
# callgrind's file for thread 1.
run_counts() {
  valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out/cg.%p" \
    "$bench" --profile "$1" $flag --rounds "$2" >"$out/stdout" 2>/dev/null
  local file
  file=$(ls "$out"/cg.*-01)
  echo "$(grep -a '^summary:' "$file" | awk '{print $2}') \
$(sed -n 's/.*allocations \([0-9]*\)$/\1/p' "$out/stdout")"
  rm -f "$out"/cg.*
}

calls=$(( (long - short) * per_round ))
declare -A per_call
echo "| Variant ($mode) | Instructions per call (client thread) | Allocations per call | × its raw |"
echo "|---|---:|---:|---:|"
for side in "${sides[@]}"; do
  read -r ia aa <<<"$(run_counts "$side" "$short")"
  read -r ib ab <<<"$(run_counts "$side" "$long")"
  per_call[$side]=$(( (ib - ia) / calls ))
  allocs=$(python3 -c "print(f'{($ab - $aa) / $calls:.1f}')")
  # async-openai is compared with its own raw counterpart, everything else with raw.
  case "$side" in
    openai | raw-openai) base=raw-openai ;;
    *) base=raw ;;
  esac
  ratio=-
  if [ -n "${per_call[$base]:-}" ]; then
    ratio=$(python3 -c "print(f'{${per_call[$side]} / ${per_call[$base]}:.3f}')")
  fi
  echo "| $side | ${per_call[$side]} | $allocs | $ratio |"
done

#!/usr/bin/env bash
# Instructions per 20 ms audio frame of each client of the stream benchmark, counted by
# callgrind over the whole client process (every runtime thread). Unlike the timings of
# `cargo bench --bench stream`, these counts do not depend on what else the machine is
# doing. They count user-space instructions only: the kernel's share of a send is not in
# them, which matches the target (SDK user time at most 1.15 × raw).
#
# Each client runs twice, sending SHORT and LONG frames as fast as backpressure allows;
# the difference of the two counts over the difference in frames removes start-up (TLS
# roots, runtime, connect) exactly. The sink runs as a separate, untraced process.
#
# Usage: crates/kallglot/benches/stream-instructions.sh [STREAMS]   (default 1)
# Needs valgrind (Debian: `apt-get install valgrind`).
set -euo pipefail
cd "$(dirname "$0")/../../.."

streams=${1:-1}
short=10000
long=30000
if [ "$streams" -gt 1 ]; then short=$((100 * streams)); long=$((300 * streams)); fi

bench=$(cargo bench -p kallglot --bench stream --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "stream" and m.get("executable"):
        print(m["executable"])')
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

instructions() {
  valgrind --tool=callgrind --callgrind-out-file="$out/cg.%p" \
    "$bench" --profile "$1" "$streams" --frames "$2" >/dev/null 2>&1
  local file
  file=$(ls "$out"/cg.*)
  grep -a '^summary:' "$file" | awk '{print $2}'
  rm -f "$out"/cg.*
}

frames=$((long - short))
raw=
echo "| Client ($streams stream(s)) | Instructions per frame | × raw |"
echo "|---|---:|---:|"
for side in raw raw-tuned sdk; do
  a=$(instructions "$side" "$short")
  b=$(instructions "$side" "$long")
  per_frame=$(( (b - a) / frames ))
  raw=${raw:-$per_frame}
  ratio=$(python3 -c "print(f'{$per_frame / $raw:.3f}')")
  echo "| $side | $per_frame | $ratio |"
done

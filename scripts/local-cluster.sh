#!/usr/bin/env bash
# Starts an N-node samsa cluster of combined broker+controller nodes on
# loopback, in the background, and prints its bootstrap servers. Data and
# logs go to $DIR (default: a new temp dir). Stop it with
# `scripts/local-cluster.sh stop DIR`.
#
#   scripts/local-cluster.sh start [N] [BASE]   client ports BASE+1..BASE+N,
#                                               controller ports BASE+101..,
#                                               HTTP (console, /metrics) BASE+201..
#   scripts/local-cluster.sh stop DIR
#
# Used to run franz-go's integration tests against a real cluster:
#   eval "$(scripts/local-cluster.sh start 3)"
#   RF=1 ../shared/tools/kgo-suite.sh "$SAMSA_BOOTSTRAP"
#   scripts/local-cluster.sh stop "$SAMSA_DIR"
set -euo pipefail
cd "$(dirname "$0")/.."
cmd=${1:-start}
case "$cmd" in
stop)
  dir=${2:?usage: local-cluster.sh stop DIR}
  for f in "$dir"/node*.pid; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  for f in "$dir"/node*.pid; do
    [ -f "$f" ] || continue
    for _ in $(seq 1 100); do kill -0 "$(cat "$f")" 2>/dev/null || break; sleep 0.1; done
    rm -f "$f"
  done
  exit 0 ;;
start) ;;
*) echo "usage: $0 start [N] [BASE] | stop DIR" >&2; exit 2 ;;
esac
n=${2:-3}
base=${3:-19090}
dir=${DIR:-$(mktemp -d /tmp/samsa-cluster.XXXXXX)}
mkdir -p "$dir"
# A node that fails to start takes the others down with it.
fail() { echo "$1" >&2; "$0" stop "$dir"; exit 1; }
go build -o "$dir/samsa" ./cmd/samsa
voters=""
for i in $(seq 1 "$n"); do
  voters="${voters:+$voters,}$i@127.0.0.1:$((base + 100 + i))"
done
bootstrap=""
for i in $(seq 1 "$n"); do
  "$dir/samsa" broker --node-id "$i" --listen "127.0.0.1:$((base + i))" --data-dir "$dir/node$i" \
    --controller-listen "127.0.0.1:$((base + 100 + i))" --controller-quorum "$voters" \
    --http "127.0.0.1:$((base + 200 + i))" >"$dir/node$i.log" 2>&1 &
  echo $! >"$dir/node$i.pid"
  bootstrap="${bootstrap:+$bootstrap,}127.0.0.1:$((base + i))"
done
# Ready when every node has been unfenced (its listener serves then).
for i in $(seq 1 "$n"); do
  for _ in $(seq 1 300); do
    grep -q 'fenced=false' "$dir/node$i.log" && break
    kill -0 "$(cat "$dir/node$i.pid")" 2>/dev/null || fail "node $i exited: $(tail -n 5 "$dir/node$i.log")"
    sleep 0.1
  done
  grep -q 'fenced=false' "$dir/node$i.log" || fail "node $i not ready; see $dir/node$i.log"
done
echo "SAMSA_BOOTSTRAP=$bootstrap"
echo "SAMSA_DIR=$dir"
echo "SAMSA_CONSOLE=http://127.0.0.1:$((base + 201))/"

#!/usr/bin/env bash
# User-space instructions per request of a server, counted by callgrind: the same count for
# the same build whatever else the machine does (its CPU time moves 20-50 % on a shared VM).
# For A/B of a change: run it before and after; compare the counts, not seconds.
#
#   bash bench/callgrind.sh [relay|memory|sqlite] [REQUESTS] [TOKENS] [DELAY_S] [CONCURRENCY]
#   bash bench/callgrind.sh memory 100 200        # c=1, 200-token answers, the memory store
#   bash bench/callgrind.sh relay 20 50 0.02      # the relay, 50 tokens 20 ms apart
#   bash bench/callgrind.sh sqlite 640 200 0 64   # c=64 (slowed by callgrind, the server
#                                                 # reads each answer in one or two pieces)
#
# CALLGRIND_KEEP=DIR keeps the profiles there (callgrind_annotate --inclusive=yes DIR/cg.out*).
#
# Needs valgrind (apt-get install valgrind). The server runs under callgrind with
# instrumentation off; it is switched on around the measured requests (after 20 warmup
# requests) with callgrind_control, so start-up and warmup are not counted. Every thread
# of the server is counted (SQLite's checkpoint thread too). About 30 s for 100 requests.
set -euo pipefail
cd "$(dirname "$0")/.."
KIND=${1:-memory}; N=${2:-100}; T=${3:-200}; D=${4:-0}; C=${5:-1}
PY=.venv/bin/python
WORK=$(mktemp -d)
trap 'kill $UP $SRV 2>/dev/null || true; rm -rf "$WORK"' EXIT
port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
UPORT=$(port); SPORT=$(port)
$PY -m tests.fakes.openai_upstream --port "$UPORT" --tokens "$T" --delay "$D" >/dev/null 2>&1 &
UP=$!
# bench.run's team: one assistant on the fake upstream.
$PY -c 'import sys; from bench.run import TEAM_YAML; print(TEAM_YAML.format(base_url=sys.argv[1]))' \
  "http://127.0.0.1:$UPORT" >"$WORK/team.yaml"
GRIND=(valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/cg.out")
case "$KIND" in
  relay)
    BENCH_UPSTREAM=http://127.0.0.1:$UPORT "${GRIND[@]}" $PY .venv/bin/uvicorn bench.relay:app \
      --port "$SPORT" --log-level warning --no-access-log >"$WORK/server.log" 2>&1 &
    ;;
  memory|sqlite)
    STORE=memory
    if [ "$KIND" = sqlite ]; then
      .venv/bin/troupe db upgrade --database-url "sqlite:///$WORK/troupe.db" >/dev/null
      STORE="sqlite:///$WORK/troupe.db"
    fi
    TROUPE_DATABASE_URL=$STORE "${GRIND[@]}" $PY .venv/bin/troupe serve --config "$WORK/team.yaml" \
      --port "$SPORT" --log-level warning >"$WORK/server.log" 2>&1 &
    ;;
  *) echo "kind: relay, memory or sqlite" >&2; exit 2 ;;
esac
SRV=$!
for _ in $(seq 240); do curl -sf "http://127.0.0.1:$SPORT/health" >/dev/null && break; sleep 0.5; done
load() { $PY -m bench.loadgen --url "http://127.0.0.1:$SPORT" --concurrency "$C" --tokens "$T" "$@"; }
load --requests 20 --warmup 5 >/dev/null
callgrind_control -i on "$SRV" >/dev/null 2>&1
load --requests "$N" --warmup 0 >"$WORK/load.json"
callgrind_control -i off "$SRV" >/dev/null 2>&1
callgrind_control -d "$SRV" >/dev/null 2>&1
sleep 1
kill -INT "$SRV"; wait "$SRV" 2>/dev/null || true
if [ -n "${CALLGRIND_KEEP:-}" ]; then mkdir -p "$CALLGRIND_KEEP"; cp "$WORK"/cg.out* "$CALLGRIND_KEEP"/; fi
TOTAL=0
for f in "$WORK"/cg.out*; do
  n=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}' || true)
  case "$n" in (*[!0-9]*|"") continue ;; esac  # "." for a part with nothing counted
  if [ "$n" -gt "$TOTAL" ]; then TOTAL=$n; fi
done
read -r ERRORS FRAMES < <($PY -c "import json,sys; d=json.load(open(sys.argv[1])); print(d['errors'], round(d['chunks_per_s'] * d['elapsed_s'] / max(d['requests'], 1), 1))" "$WORK/load.json")
# Frames per request: how many reads the server made of the upstream's chunks (a faster
# server reads smaller pieces, and writes more frames: compare counts at the same frames).
echo "$KIND: $((TOTAL / N)) instructions per request ($N requests, c=$C, $T tokens, delay $D s, $FRAMES content frames per request, errors $ERRORS)"

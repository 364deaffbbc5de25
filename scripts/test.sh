#!/usr/bin/env bash
# The whole test command: lint, format check, Functions doctor, then every pytest test.
# Azurite and the fakes are started by the test fixtures on free 127.0.0.1 ports; anything a
# fixture started as a separate process registers its pid here and is stopped on exit, Ctrl-C included.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
run_dir=$(mktemp -d)
export ACI_TEST_RUN_DIR="$run_dir"
cleanup() {
  local pids=() pid left
  for pidfile in "$run_dir"/*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    pids+=("$pid")
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
  # SIGTERM asks; a kube-apiserver whose etcd stopped first spends 20 s or more in its graceful shutdown.
  # Wait for the groups to go (10 s at most), then SIGKILL what is left: nothing outlives the run.
  for _ in $(seq 50); do
    left=0
    for pid in "${pids[@]}"; do kill -0 -- "-$pid" 2>/dev/null && left=1; done
    [ "$left" = 0 ] && break
    sleep 0.2
  done
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  # Folders a fixture made outside the run folder (the real apiserver's etcd data on /dev/shm, in memory).
  for dirfile in "$run_dir"/*.dir; do
    [ -f "$dirfile" ] && rm -rf -- "$(cat "$dirfile")"
  done
  rm -rf "$run_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

set -e
# ACI_TEST_PYTEST_ONLY=1: the checks before pytest are left out. Only the cleanup test's inner runs set it (they
# prove this script's cleanup; the outer run already did the checks, which take minutes on a loaded machine).
if [ "${ACI_TEST_PYTEST_ONLY:-}" != 1 ]; then
echo "== ruff check"; $PY -m ruff check .
echo "== ruff format --check"; $PY -m ruff format --check .
echo "== azure-functions-doctor"
.venv/bin/azure-functions-doctor doctor --path . --profile full --summary-json "$run_dir/doctor.json" >"$run_dir/doctor.txt" 2>&1 || {
  cat "$run_dir/doctor.txt"; echo "azure-functions-doctor failed"; exit 1; }
$PY - "$run_dir/doctor.json" <<'PYEOF'
import json, sys
summary = json.load(open(sys.argv[1]))
print("doctor:", summary)
counts = summary.get("counts", summary)
sys.exit(1 if int(counts.get("failed", counts.get("fail", 0)) or 0) else 0)
PYEOF
echo "== real kube-apiserver (scripts/kube-apiserver.sh: built once, cached outside the checkout)"
if kube_apiserver=$(scripts/kube-apiserver.sh); then
  echo "$kube_apiserver"
else
  echo "real kube-apiserver unavailable: the real_kube tests will skip with the reason"
fi
export KUBE_APISERVER_BUILD_TRIED=1
fi
echo "== pytest"
$PY -m pytest "$@"

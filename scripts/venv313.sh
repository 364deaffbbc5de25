#!/usr/bin/env bash
# Builds .venv313 with the real Azure Functions Python worker (azure-functions-runtime needs Python 3.13).
# Prints why and exits 0 when no Python 3.13 is on this machine: the indexing test then skips with that reason.
set -euo pipefail
cd "$(dirname "$0")/.."
python313=$(scripts/find-python313.sh || true)
if [ -z "$python313" ]; then
  echo "venv313: no python3.13 found; the real-worker indexing check will be skipped"
  exit 0
fi
if [ ! -f .venv313/.installed ] || [ requirements.txt -nt .venv313/.installed ]; then
  "$python313" -m venv .venv313
  .venv313/bin/python -m pip install --quiet -r requirements.txt  # brings the pinned azure-functions-runtime
  touch .venv313/.installed
fi

#!/usr/bin/env bash
# `make start`: the connector on this machine, in the foreground; Ctrl-C stops everything it started.
# With the defaults (no AZURE_SUBSCRIPTION_ID, no cluster settings) it runs Azurite, the ACI emulator and the
# Functions app in standalone mode: `func start` when Azure Functions Core Tools are installed, else the local
# host (python -m shared.localhost). Arguments go to the launcher: --port, --key, --host func|local, --help.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f local.settings.json ]; then
  cp local.settings.json.example local.settings.json
  echo "created local.settings.json from local.settings.json.example (standalone mode, ACI emulator)"
fi
exec .venv/bin/python -m shared.localhost "$@"

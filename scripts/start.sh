#!/usr/bin/env bash
# Runs the app locally: Azurite (all Storage services the host needs) in the background, then `func start`.
# Never hangs: without Azure Functions Core Tools it says how to get them and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f local.settings.json ]; then
  cp local.settings.json.example local.settings.json
  echo "created local.settings.json from local.settings.json.example (standalone mode: no cluster settings)"
fi

if ! command -v func >/dev/null 2>&1; then
  cat >&2 <<'MSG'
Azure Functions Core Tools (the `func` command, version 4) is not installed, so the app cannot start.
Install it, then run `make start` again:
  npm:    npm install --global azure-functions-core-tools@4 --unsafe-perm true
  Debian/Ubuntu (Microsoft's apt repository):
          https://learn.microsoft.com/azure/azure-functions/functions-run-local#install-the-azure-functions-core-tools
  Check:  func --version   (must print 4.x)
Everything else (virtualenv, requirements, Azurite, local.settings.json) is ready.
MSG
  exit 1
fi

mkdir -p .azurite
node_modules/.bin/azurite --silent --location .azurite --skipApiVersionCheck --disableTelemetry \
  --blobHost 127.0.0.1 --queueHost 127.0.0.1 --tableHost 127.0.0.1 >.azurite/azurite.log 2>&1 &
azurite_pid=$!
trap 'kill "$azurite_pid" 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 50); do
  if (exec 3<>/dev/tcp/127.0.0.1/10001) 2>/dev/null; then break; fi
  if ! kill -0 "$azurite_pid" 2>/dev/null; then echo "Azurite failed to start:" >&2; cat .azurite/azurite.log >&2; exit 1; fi
  sleep 0.2
done
echo "Azurite is listening on 127.0.0.1:10000-10002 (log: .azurite/azurite.log)"

# shellcheck disable=SC1091
. .venv/bin/activate
func start "$@"

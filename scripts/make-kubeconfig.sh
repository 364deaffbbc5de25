#!/usr/bin/env bash
# Turn the aci-connector-functions ServiceAccount's token Secret (deploy/base/functions-token-secret.yaml) into
# the Function App's cluster settings KUBE_API_URL, KUBE_BEARER_TOKEN and KUBE_CA_CERT.
#
# It reads only that Secret, through kubectl, and never copies your own kubeconfig credentials: the app gets
# exactly the RBAC of deploy/base/rbac-functions.yaml, whoever runs this.
#
# Usage: scripts/make-kubeconfig.sh [--format json|az|azd] [--api-url URL] [--namespace NS]
#                                   [--service-account NAME] [--secret NAME] [-- KUBECTL_ARGS...]
#   json  {"KUBE_API_URL": ..., "KUBE_BEARER_TOKEN": ..., "KUBE_CA_CERT": ...}: paste into the "Values" of
#         local.settings.json (default).
#   az    [{"name", "value", "slotSetting"}]: save to a file and run
#         az functionapp config appsettings set -g RG -n APP --settings @that-file
#   azd   `azd env set` lines (the CA as KUBE_CA_CERT_BASE64) for `azd provision` to keep them:
#         eval "$(scripts/make-kubeconfig.sh --format azd)"
#   --api-url  the API server URL as the Function App must reach it (default: kubectl's --server if given
#              after --, else the current context's cluster server).
# Arguments after -- go to every kubectl call (--context, --kubeconfig, --server, ...).
# The output holds a credential: keep it out of shell history, logs and source control.
set -euo pipefail

format=json
api_url=""
namespace=aci-connector
service_account=aci-connector-functions
secret=aci-connector-functions-token
kubectl_args=()

die() { echo "make-kubeconfig: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --format) format="${2:?--format needs a value}"; shift 2 ;;
    --api-url) api_url="${2:?--api-url needs a value}"; shift 2 ;;
    --namespace) namespace="${2:?--namespace needs a value}"; shift 2 ;;
    --service-account) service_account="${2:?--service-account needs a value}"; shift 2 ;;
    --secret) secret="${2:?--secret needs a value}"; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    --) shift; kubectl_args=("$@"); break ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
case "$format" in json|az|azd) ;; *) die "--format must be json, az or azd, not $format" ;; esac
command -v kubectl >/dev/null || die "kubectl not found on PATH"
command -v python3 >/dev/null || die "python3 not found on PATH"

kc() { kubectl "${kubectl_args[@]}" "$@"; }

if [ -z "$api_url" ]; then
  for ((i = 0; i < ${#kubectl_args[@]}; i++)); do
    case "${kubectl_args[$i]}" in
      --server=*|-s=*) api_url="${kubectl_args[$i]#*=}" ;;
      --server|-s) api_url="${kubectl_args[$((i + 1))]:-}" ;;
    esac
  done
fi
if [ -z "$api_url" ]; then
  api_url=$(kc config view --minify -o 'jsonpath={.clusters[0].cluster.server}') || die "cannot read the cluster URL"
fi
[ -n "$api_url" ] || die "no API server URL: pass --api-url"

secret_json=$(kc get secret "$secret" --namespace "$namespace" -o json) \
  || die "cannot read Secret $namespace/$secret: run 'kubectl apply -k deploy/' first"

# Checks and formatting in Python (stdlib only): the Secret must be the token of the dedicated ServiceAccount.
SECRET_JSON="$secret_json" API_URL="$api_url" FORMAT="$format" SA="$service_account" NAME="$namespace/$secret" \
python3 - <<'PYEOF'
import base64, json, os, shlex, sys

secret = json.loads(os.environ["SECRET_JSON"])
name, sa = os.environ["NAME"], os.environ["SA"]
annotations = (secret.get("metadata") or {}).get("annotations") or {}
if secret.get("type") != "kubernetes.io/service-account-token":
    sys.exit(f"make-kubeconfig: Secret {name} is of type {secret.get('type')!r}, not a ServiceAccount token")
if annotations.get("kubernetes.io/service-account.name") != sa:
    sys.exit(f"make-kubeconfig: Secret {name} belongs to ServiceAccount "
             f"{annotations.get('kubernetes.io/service-account.name')!r}, not {sa!r}")
data = secret.get("data") or {}
if not data.get("token"):
    sys.exit(f"make-kubeconfig: Secret {name} has no token yet (the token controller fills it within seconds); retry")
token = base64.b64decode(data["token"]).decode()
ca = base64.b64decode(data["ca.crt"]).decode() if data.get("ca.crt") else ""
settings = {"KUBE_API_URL": os.environ["API_URL"], "KUBE_BEARER_TOKEN": token, "KUBE_CA_CERT": ca}
fmt = os.environ["FORMAT"]
if fmt == "json":
    print(json.dumps(settings, indent=2))
elif fmt == "az":
    print(json.dumps([{"name": k, "value": v, "slotSetting": False} for k, v in settings.items()], indent=2))
else:
    print(f"azd env set KUBE_API_URL {shlex.quote(settings['KUBE_API_URL'])}")
    print(f"azd env set KUBE_BEARER_TOKEN {shlex.quote(token)}")
    print(f"azd env set KUBE_CA_CERT_BASE64 {shlex.quote(base64.b64encode(ca.encode()).decode())}")
PYEOF

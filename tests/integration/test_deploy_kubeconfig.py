"""scripts/make-kubeconfig.sh against the fake and the real API server with the real kubectl.

The script must hand the Function App the dedicated ServiceAccount's token (from its token Secret, as the
token controller fills it) and never the credentials of whoever runs it.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.config import load_settings
from tests.fakes.kube_fixtures import write_kubeconfig

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "make-kubeconfig.sh"
KUBECTL = shutil.which("kubectl")
SA_TOKEN = "eyJhbGciOiJSUzI1NiJ9.c2VydmljZWFjY291bnQ.sig-of-the-functions-sa"
ADMIN_TOKEN = "admin-token-of-the-person-running-the-script"
CA = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def cluster(kube_api: Any) -> Any:
    """The API server with deploy/'s namespace, ServiceAccounts and token Secret, filled as the controller does."""
    base = ROOT / "deploy" / "base"
    kube_api.create(yaml.safe_load((base / "namespace.yaml").read_text()))
    for doc in yaml.safe_load_all((base / "serviceaccounts.yaml").read_text()):
        kube_api.create(doc)
    secret = yaml.safe_load((base / "functions-token-secret.yaml").read_text())
    secret["data"] = {"token": _b64(SA_TOKEN), "ca.crt": _b64(CA), "namespace": _b64("aci-connector")}
    kube_api.create(secret)
    return kube_api


def run(server: Any, tmp_path: Path, *args: str, kubeconfig: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The script as an operator runs it, with their own kubeconfig (an admin of `server`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
    env["KUBECONFIG"] = str(kubeconfig or write_kubeconfig(server, tmp_path / "admin.kubeconfig", admin_token(server)))
    env["HOME"] = str(tmp_path)  # no ~/.kube/config either
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def admin_token(server: Any) -> str:
    """The caller's own credential: any token works on the fake, the real server knows its admin's."""
    return getattr(server, "admin_token", ADMIN_TOKEN)


def test_json_settings_come_from_the_service_account_secret(cluster: Any, tmp_path: Path):
    result = run(cluster, tmp_path, "--", "--server", cluster.url)
    assert result.returncode == 0, result.stderr
    settings = json.loads(result.stdout)
    assert settings == {"KUBE_API_URL": cluster.url, "KUBE_BEARER_TOKEN": SA_TOKEN, "KUBE_CA_CERT": CA}
    loaded = load_settings(settings)
    assert loaded.cluster_configured and loaded["KUBE_API_URL"] == cluster.url


def test_az_format_and_explicit_api_url(cluster: Any, tmp_path: Path):
    public = "https://my-cluster.hcp.westeurope.azmk8s.io:443"
    result = run(cluster, tmp_path, "--format", "az", "--api-url", public, "--", f"--server={cluster.url}")
    assert result.returncode == 0, result.stderr
    settings = {item["name"]: item["value"] for item in json.loads(result.stdout)}
    assert settings["KUBE_API_URL"] == public
    assert settings["KUBE_BEARER_TOKEN"] == SA_TOKEN
    assert all(item["slotSetting"] is False for item in json.loads(result.stdout))


def test_azd_format_round_trips_through_the_shell(cluster: Any, tmp_path: Path):
    result = run(cluster, tmp_path, "--format", "azd", "--", "--server", cluster.url)
    assert result.returncode == 0, result.stderr
    values = {}
    for line in result.stdout.splitlines():
        words = shlex.split(line)
        assert words[:3] == ["azd", "env", "set"]
        values[words[3]] = words[4]
    assert values["KUBE_BEARER_TOKEN"] == SA_TOKEN
    assert base64.b64decode(values["KUBE_CA_CERT_BASE64"]).decode() == CA
    main_params = json.loads((ROOT / "infra" / "main.parameters.json").read_text())["parameters"]
    referenced = {p["value"].strip("${}").split("=")[0] for p in main_params.values()}
    assert set(values) <= referenced, "azd provision must pick every value up"


def test_never_uses_the_callers_own_credentials(cluster: Any, tmp_path: Path):
    kubeconfig = write_kubeconfig(cluster, tmp_path / "mine.kubeconfig", admin_token(cluster))
    result = run(cluster, tmp_path, kubeconfig=kubeconfig)
    assert result.returncode == 0, result.stderr
    assert admin_token(cluster) not in result.stdout
    settings = json.loads(result.stdout)
    assert settings["KUBE_BEARER_TOKEN"] == SA_TOKEN
    assert settings["KUBE_API_URL"] == cluster.url, "the URL comes from the current context"


def test_refuses_a_secret_of_another_service_account(cluster: Any, tmp_path: Path):
    cluster.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "default-token",
                "namespace": "aci-connector",
                "annotations": {"kubernetes.io/service-account.name": "default"},
            },
            "type": "kubernetes.io/service-account-token",
            "data": {"token": _b64("someone-else")},
        }
    )
    result = run(cluster, tmp_path, "--secret", "default-token", "--", "--server", cluster.url)
    assert result.returncode != 0
    assert "not 'aci-connector-functions'" in result.stderr
    assert "someone-else" not in result.stdout


def test_waits_for_the_token_controller(kube_api: Any, tmp_path: Path):
    base = ROOT / "deploy" / "base"
    kube_api.create(yaml.safe_load((base / "namespace.yaml").read_text()))
    kube_api.create(yaml.safe_load((base / "functions-token-secret.yaml").read_text()))  # not filled yet
    result = run(kube_api, tmp_path, "--", "--server", kube_api.url)
    assert result.returncode != 0
    assert "has no token yet" in result.stderr


def test_missing_secret_says_what_to_apply(kube_api: Any, tmp_path: Path):
    result = run(kube_api, tmp_path, "--", "--server", kube_api.url)
    assert result.returncode != 0
    assert "kubectl apply -k deploy/" in result.stderr

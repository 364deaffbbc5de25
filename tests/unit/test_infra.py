"""The Bicep in infra/ parses and agrees with the code: app settings, queues, identity, roles and ARM events.

Every .bicep file is parsed with pycep (the Bicep CLI is not on this machine), and the app settings the
Function App gets are resolved through vars, module params and union() down to their names (and, where they
are literals or parameter defaults, their values). The set must equal shared/config.py SETTINGS, read at test
time, except for the documented exclusions below, so a new setting without its Bicep line fails here.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.config import DEAD_LETTER_QUEUE, POD_EVENTS_QUEUE, POISON_QUEUE, SETTINGS, describe

pycep = pytest.importorskip("pycep", reason="pycep-parser is in requirements-dev.txt")

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"

NOT_IN_BICEP: dict[str, str] = {
    "AzureWebJobsStorage": "the connection-string form; the account has shared keys off, so the host and the app "
    "use the identity form AzureWebJobsStorage__accountName/__credential/__clientId and __queueServiceUri",
    "FUNCTIONS_WORKER_RUNTIME": "Flex Consumption takes the runtime from functionAppConfig.runtime and rejects "
    "this app setting",
    "AZURE_CLIENT_SECRET": "the app reaches ARM with its managed identity (AZURE_CLIENT_ID); a client secret "
    "would be a long-lived credential in app settings",
    "AZURE_CLIENT_KEY": "the 2017 connector's name for the same client secret: not used with a managed identity",
    "ACI_EMULATOR_URL": "the local ACI emulator, used only without AZURE_SUBSCRIPTION_ID (never in Azure)",
    "ACI_EMULATOR_CA_FILE": "the local ACI emulator's CA file (never in Azure)",
}
HOST_SETTINGS: dict[str, str] = {
    "AzureWebJobsStorage__accountName": "host Storage through the managed identity",
    "AzureWebJobsStorage__credential": "managedidentity",
    "AzureWebJobsStorage__clientId": "which user-assigned identity the host uses",
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "telemetry endpoint (not a secret with local auth off)",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Entra ID telemetry ingestion",
    "PYTHON_THREADPOOL_THREAD_COUNT": "invocations one Python worker runs at once (docs/performance.md)",
}
FLEX_REJECTED = {
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_WORKER_RUNTIME_VERSION",
    "FUNCTIONS_EXTENSION_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_NODE_DEFAULT_VERSION",
    "WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT",
}
ROLES = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
}
ARM_EVENT_TYPES = {
    f"Microsoft.Resources.Resource{action}{outcome}"
    for action in ("Write", "Delete", "Action")
    for outcome in ("Success", "Failure", "Cancel")
}


# ---------------------------------------------------------------------------------------------------------------------
# A small resolver over pycep's JSON: identifiers and string literals are both plain strings there, so a string that
# names a param or var of its file is a reference, anything else a literal.


class Bicep:
    def __init__(self) -> None:
        parser = pycep.BicepParser(cache=False)
        self.files: dict[Path, dict[str, Any]] = {
            path: parser.parse(text=path.read_text()) for path in sorted(INFRA.rglob("*.bicep"))
        }

    def file(self, name: str) -> dict[str, Any]:
        return self.files[INFRA / name]

    def resources(self, type_name: str) -> list[tuple[Path, str, dict[str, Any]]]:
        found = []
        for path, doc in self.files.items():
            for symbol, declared in (doc.get("resources") or {}).items():
                if declared["type"] == type_name:
                    config = declared["config"]
                    if "condition" in config:  # `= if (...) {...}` nests the body one level down
                        declared = {**declared, "config": config["config"], "condition": config["condition"]}  # noqa: PLW2901
                    found.append((path, symbol, declared))
        return found

    def callers(self, path: Path) -> list[tuple[Path, dict[str, Any]]]:
        """(calling file, module config) for every `module` that deploys `path`."""
        found = []
        for caller, doc in self.files.items():
            for module in (doc.get("modules") or {}).values():
                if module["type"] == "local" and (caller.parent / module["detail"]["path"]).resolve() == path:
                    found.append((caller, module["config"]))
        return found

    def settings(self, expr: Any, path: Path) -> dict[str, tuple[Any, Path]]:
        """Setting name -> (value expression, file it is written in), later union() arguments winning."""
        if isinstance(expr, dict) and "function" in expr and expr["function"]["type"] == "union":
            merged: dict[str, tuple[Any, Path]] = {}
            for arg in expr["function"]["parameters"].values():
                merged.update(self.settings(arg, path))
            return merged
        if isinstance(expr, dict) and not ({"function", "operator"} & expr.keys()):
            return {key.strip("'"): (value, path) for key, value in expr.items()}
        if isinstance(expr, str):
            doc = self.files[path]
            if expr in (doc.get("variables") or {}):
                return self.settings(doc["variables"][expr]["value"], path)
            if expr in (doc.get("parameters") or {}):
                callers = self.callers(path)
                if not callers:
                    return self.settings(doc["parameters"][expr].get("default", {}), path)
                merged = {}
                for caller, config in callers:
                    merged.update(self.settings(config["params"][expr], caller))
                return merged
        raise AssertionError(f"{path.name}: cannot resolve app settings expression {expr!r}")

    def literal(self, expr: Any, path: Path) -> str | None:
        """The string value when it is known before deployment (literals, param defaults, string()); else None."""
        if isinstance(expr, bool):
            return str(expr)  # Bicep's string(true) is 'True'
        if isinstance(expr, int):
            return str(expr)
        if isinstance(expr, dict) and expr.get("function", {}).get("type") == "string":
            return self.literal(expr["function"]["parameters"]["value_to_convert"], path)
        if not isinstance(expr, str):
            return None
        doc = self.files[path]
        if expr in (doc.get("variables") or {}):
            return self.literal(doc["variables"][expr]["value"], path)
        if expr in (doc.get("parameters") or {}):
            callers = self.callers(path)
            if callers:
                values = {self.literal(config["params"][expr], caller) for caller, config in callers}
                return values.pop() if len(values) == 1 else None
            return self.literal(doc["parameters"][expr].get("default"), path)
        return None if "${" in expr else expr

    def param_refs(self, expr: Any, path: Path) -> set[str]:
        """Names of this file's params an expression mentions, however deeply."""
        params = self.files[path].get("parameters") or {}
        found: set[str] = set()
        if isinstance(expr, str):
            found |= {name for name in params if expr == name or f"${{{name}}}" in expr}
        elif isinstance(expr, dict):
            for value in expr.values():
                found |= self.param_refs(value, path)
        elif isinstance(expr, list):
            for value in expr:
                found |= self.param_refs(value, path)
        return found

    def is_secure(self, path: Path, param: str) -> bool:
        decorators = self.files[path]["parameters"][param].get("decorators") or []
        return any(d.get("type") == "secure" for d in decorators)


@pytest.fixture(scope="module")
def bicep() -> Bicep:
    return Bicep()


@pytest.fixture(scope="module")
def app_settings(bicep: Bicep) -> dict[str, tuple[Any, Path]]:
    configs = [
        (path, res)
        for path, _symbol, res in bicep.resources("Microsoft.Web/sites/config")
        if res["config"]["name"] == "appsettings"
    ]
    assert len(configs) == 1, "exactly one appsettings resource (it replaces the whole set on every deployment)"
    path, res = configs[0]
    return bicep.settings(res["config"]["properties"], path)


def _walk(expr: Any) -> list[Any]:
    out = [expr]
    if isinstance(expr, dict):
        for value in expr.values():
            out.extend(_walk(value))
    elif isinstance(expr, list):
        for value in expr:
            out.extend(_walk(value))
    return out


# ---------------------------------------------------------------------------------------------------------------------


def test_every_bicep_file_parses(bicep: Bicep):
    names = {path.relative_to(INFRA).as_posix() for path in bicep.files}
    assert {"main.bicep", "app/function-app.bicep", "app/storage.bicep", "app/aci-access.bicep"} <= names
    for path, doc in bicep.files.items():
        assert doc.get("resources") or doc.get("modules"), f"{path.name} declares nothing"


def test_app_settings_are_exactly_the_declared_settings(app_settings: dict[str, tuple[Any, Path]]):
    declared = {setting.name for setting in SETTINGS}
    assert set(NOT_IN_BICEP) <= declared, "an exclusion names a setting that no longer exists"
    expected = (declared - set(NOT_IN_BICEP)) | set(HOST_SETTINGS)
    missing = sorted(expected - set(app_settings))
    extra = sorted(set(app_settings) - expected)
    assert not missing, f"declared in shared/config.py but not set in infra/main.bicep (connectorSettings): {missing}"
    assert not extra, f"set in Bicep but not read by shared/config.py: {extra}"


def test_no_setting_flex_consumption_rejects(app_settings: dict[str, tuple[Any, Path]]):
    assert not FLEX_REJECTED & set(app_settings)


def test_known_values_are_valid_for_their_settings(bicep: Bicep, app_settings: dict[str, tuple[Any, Path]]):
    checked = 0
    for name, (expr, path) in app_settings.items():
        if name in HOST_SETTINGS:
            continue
        value = bicep.literal(expr, path)
        if value is None:
            continue
        describe(name).parse(value)  # raises ValueError naming the problem
        checked += 1
    assert checked >= 15, "most settings should have a literal or a parameter default to check"


def test_bicep_defaults_match_config_defaults_for_capacity_and_nodes(
    bicep: Bicep, app_settings: dict[str, tuple[Any, Path]]
):
    for name in (
        "NODE_CPU",
        "NODE_PODS",
        "NODE_MEMORY",
        "VIRTUAL_NODE_PROFILE",
        "VIRTUAL_NODE_OS",
        "VIRTUAL_NODE_NAME_LINUX",
    ):
        expr, path = app_settings[name]
        assert bicep.literal(expr, path) == describe(name).default, name


def _secure_chain(bicep: Bicep, path: Path, param: str) -> None:
    assert bicep.is_secure(path, param), f"{path.name}: param {param} carries a secret but is not @secure()"
    for caller, config in bicep.callers(path):
        passed = config["params"].get(param)
        refs = bicep.param_refs(passed, caller)
        assert refs, f"{caller.name} passes {param} a value that is not a @secure() param"
        for ref in refs:
            _secure_chain(bicep, caller, ref)


def test_secret_settings_come_only_from_secure_params_or_key_vault(
    bicep: Bicep, app_settings: dict[str, tuple[Any, Path]]
):
    secrets = [s.name for s in SETTINGS if s.secret and s.name not in NOT_IN_BICEP]
    assert secrets
    for name in secrets:
        expr, path = app_settings[name]
        refs = bicep.param_refs(expr, path)
        secure = {ref for ref in refs if bicep.is_secure(path, ref)}
        assert secure, f"{name} must come from a @secure() param"
        for ref in refs - secure:
            assert ref.endswith("SecretUri"), f"{name} mixes in non-secure param {ref}"
        for ref in secure:
            _secure_chain(bicep, path, ref)


def test_no_output_exposes_a_secret(bicep: Bicep):
    for path, doc in bicep.files.items():
        secure = {p for p in doc.get("parameters") or {} if bicep.is_secure(path, p)}
        for name, output in (doc.get("outputs") or {}).items():
            assert not bicep.param_refs(output["value"], path) & secure, f"{path.name}: output {name}"
            assert not any(word in name.upper() for word in ("TOKEN", "SECRET", "CONNECTION_STRING", "KEY"))


def test_storage_is_identity_only_with_the_connector_queues(bicep: Bicep):
    accounts = bicep.resources("Microsoft.Storage/storageAccounts")
    (account,) = [res for _, _, res in accounts if not res["existing"]]
    props = account["config"]["properties"]
    assert props["allowSharedKeyAccess"] is False
    assert props["allowBlobPublicAccess"] is False
    assert props["minimumTlsVersion"] == "TLS1_2"
    queues = {
        res["config"]["name"] for _, _, res in bicep.resources("Microsoft.Storage/storageAccounts/queueServices/queues")
    }
    assert queues == {POD_EVENTS_QUEUE, DEAD_LETTER_QUEUE, POISON_QUEUE}
    assert bicep.resources("Microsoft.Storage/storageAccounts/blobServices/containers")


DEPLOYED_PYTHON = "3.13"
"""The newest Python GA on Flex Consumption; the real-worker indexing check runs the app on exactly this version."""


def test_the_real_worker_check_runs_on_the_deployed_python():
    finder = (ROOT / "scripts" / "find-python313.sh").read_text()
    assert f"sys.version_info[:2] == ({DEPLOYED_PYTHON.replace('.', ', ')})" in finder
    requirements = (ROOT / "requirements.txt").read_text()
    assert f'python_version >= "{DEPLOYED_PYTHON}"' in requirements, "pin the worker runtime the platform runs"


def test_location_is_limited_to_flex_consumption_regions():
    main = (ROOT / "infra" / "main.bicep").read_text()
    block = main[main.index("@allowed", main.index("Region of the Function App")) : main.index("param location")]
    regions = [line.strip().strip("'") for line in block.splitlines()[1:] if line.strip().startswith("'")]
    assert {"eastus", "westeurope", "northeurope", "australiaeast", "japaneast"} <= set(regions)
    assert len(regions) == len(set(regions)) >= 25


def test_function_app_is_flex_consumption_python_with_user_identity(
    bicep: Bicep, app_settings: dict[str, tuple[Any, Path]]
):
    ((_, _, plan),) = bicep.resources("Microsoft.Web/serverfarms")
    assert plan["config"]["sku"] == {"tier": "FlexConsumption", "name": "FC1"}
    ((_, _, site),) = bicep.resources("Microsoft.Web/sites")
    assert site["config"]["identity"]["type"] == "UserAssigned"
    config = site["config"]["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": DEPLOYED_PYTHON}
    storage = config["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["authentication"]["type"] == "UserAssignedIdentity"
    assert app_settings["AzureWebJobsStorage__credential"][0] == "managedidentity"
    auth = app_settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"][0]
    assert isinstance(auth, str) and auth.startswith("Authorization=AAD;ClientId=${")
    ((_, _, insights),) = [r for r in bicep.resources("Microsoft.Insights/components") if not r[2]["existing"]]
    assert insights["config"]["properties"]["DisableLocalAuth"] is True
    assert bicep.resources("Microsoft.OperationalInsights/workspaces")


def _role_ids(bicep: Bicep, path: Path, res: dict[str, Any]) -> set[str]:
    variables = bicep.files[path].get("variables") or {}
    found = set()
    for node in _walk(res["config"]["properties"]["roleDefinitionId"]):
        if isinstance(node, str) and node in variables:
            found.add(variables[node]["value"])
    return found


def test_roles_granted_and_contributor_only_on_the_aci_group(bicep: Bicep, app_settings: dict[str, tuple[Any, Path]]):
    granted: dict[str, set[str]] = {}
    for path, _symbol, res in bicep.resources("Microsoft.Authorization/roleAssignments"):
        for role in _role_ids(bicep, path, res):
            granted.setdefault(ROLES.get(role, role), set()).add(path.name)
    for role in ROLES.values():
        assert role in granted, f"{role} is not assigned"
    assert granted["Contributor"] == {"aci-access.bicep"}
    main = bicep.file("main.bicep")
    scope = main["modules"]["aciAccess"]["config"]["scope"]
    assert scope["function"]["type"] == "resource_group"
    # The module granting Contributor is deployed to the very group the app creates container groups in.
    assert scope["function"]["parameters"]["resource_group_name"] == app_settings["ACI_RESOURCE_GROUP"][0]
    assert main["globals"]["scope"]["value"] == "subscription"
    ((_, _, custom),) = bicep.resources("Microsoft.Authorization/roleDefinitions")
    (permission,) = custom["config"]["properties"]["permissions"]
    assert permission["actions"] == ["Microsoft.ContainerInstance/locations/usages/read"]


def test_arm_events_reach_the_arm_events_function(bicep: Bicep):
    ((path, _, topic),) = bicep.resources("Microsoft.EventGrid/systemTopics")
    assert path.name == "aci-access.bicep"
    assert topic["config"]["properties"]["topicType"] == "Microsoft.Resources.ResourceGroups"
    ((_, _, sub),) = bicep.resources("Microsoft.EventGrid/systemTopics/eventSubscriptions")
    props = sub["config"]["properties"]
    destination = props["destination"]
    assert destination["endpointType"] == "AzureFunction"
    assert destination["properties"]["resourceId"].endswith("/functions/arm_events")
    assert set(props["filter"]["includedEventTypes"]) == ARM_EVENT_TYPES
    prefix = bicep.files[path]["variables"][props["filter"]["subjectBeginsWith"]]["value"]
    assert prefix.endswith("/providers/Microsoft.ContainerInstance/containerGroups/")
    declared = set()
    for module in (ROOT / "functions").glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "function_name":
                declared |= {arg.value for arg in node.args if isinstance(arg, ast.Constant)}
    assert "arm_events" in declared, "the event subscription targets a function named arm_events"


def test_azd_files_agree_with_main_bicep(bicep: Bicep):
    azure = yaml.safe_load((ROOT / "azure.yaml").read_text())
    assert azure["infra"]["path"] == "infra"
    (service,) = azure["services"].values()
    assert service == {"project": ".", "language": "python", "host": "function"}
    hook = azure["hooks"]["postdeploy"]["posix"]["run"]
    assert (ROOT / hook).exists()
    params = bicep.file("main.bicep")["parameters"]
    given = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert set(given) <= set(params), f"unknown parameters: {set(given) - set(params)}"
    required = {name for name, p in params.items() if "default" not in p}
    assert required <= set(given)
    for name in params:
        if bicep.is_secure(INFRA / "main.bicep", name) and name in given:
            assert given[name]["value"].startswith("${"), f"{name}: a secret comes from the azd environment"


def test_operations_doc_quotes_the_real_queue_settings():
    host = json.loads((ROOT / "host.json").read_text())["extensions"]["queues"]
    text = (ROOT / "docs" / "operations.md").read_text()
    for key in ("batchSize", "newBatchThreshold", "maxDequeueCount"):
        assert f"`{key}` {host[key]}" in text, key
    assert f"`visibilityTimeout` {int(host['visibilityTimeout'].split(':')[-1])} s" in text


def test_manual_event_grid_subscription_matches_the_bicep():
    """docs/eventgrid.md's `az` subscription and infra/app/aci-access.bicep deliver the same way."""
    doc = (ROOT / "docs" / "eventgrid.md").read_text()
    bicep = (ROOT / "infra" / "app" / "aci-access.bicep").read_text()
    assert "--event-delivery-schema eventgridschema" in doc and "eventDeliverySchema: 'EventGridSchema'" in bicep
    attempts = int(bicep.split("maxDeliveryAttempts:")[1].split()[0])
    ttl = int(bicep.split("eventTimeToLiveInMinutes:")[1].split()[0])
    batch = int(bicep.split("maxEventsPerBatch:")[1].split()[0])
    assert f"--max-delivery-attempts {attempts} --event-ttl {ttl}" in doc
    assert f"--max-events-per-batch {batch}" in doc

"""The ARM templates, checked offline: Azure is out of reach here, mistakes are not."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.request import urlopen

import pytest

from analytics.events import EventName
from config import PLATFORM_SETTINGS, Settings
from tools.workbook import serialized

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "deploymentTemplates"
TEMPLATE = json.loads((TEMPLATES / "azuredeploy.json").read_text())
PARAMETER_FILES = sorted(TEMPLATES.glob("parameters.*.json"))
RESOURCES = TEMPLATE["resources"]
_RESOURCE_ID = re.compile(r"resourceId\('([^']+)'((?:,\s*[^,()]+(?:\([^()]*\))?)*)\)")
_SECRET = re.compile(r"password|secret|key|token", re.IGNORECASE)


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def of_type(resource_type: str) -> list[dict]:
    return [r for r in RESOURCES if r["type"] == resource_type]


def web_app() -> dict:
    [app] = of_type("Microsoft.Web/sites")
    return app


def app_settings() -> dict[str, str]:
    return {s["name"]: s["value"] for s in web_app()["properties"]["siteConfig"]["appSettings"]}


def test_every_file_is_json() -> None:
    for path in TEMPLATES.glob("*.json"):
        json.loads(path.read_text())
    assert PARAMETER_FILES, "parameter files for a new and an existing resource group"


def test_every_parameter_and_variable_named_exists_and_every_parameter_is_used() -> None:
    text = "\n".join(strings({k: v for k, v in TEMPLATE.items() if k != "parameters"}))
    used_parameters = set(re.findall(r"parameters\('([^']+)'\)", text))
    used_variables = set(re.findall(r"variables\('([^']+)'\)", text))
    assert used_parameters <= set(TEMPLATE["parameters"])
    assert used_variables <= set(TEMPLATE["variables"])
    assert set(TEMPLATE["parameters"]) - used_parameters == set()


def test_every_resource_named_in_depends_on_and_reference_is_in_the_template() -> None:
    declared = {r["type"] for r in RESOURCES}
    for resource in RESOURCES:
        for expression in (*resource.get("dependsOn", []), *strings(resource.get("properties"))):
            for resource_type, arguments in _RESOURCE_ID.findall(expression):
                if resource_type.startswith("Microsoft.Authorization/roleDefinitions"):
                    continue  # built-in roles, not deployed here
                if resource_type == "Microsoft.DocumentDB/databaseAccounts/sqlRoleDefinitions":
                    continue  # Cosmos DB's built-in data contributor
                assert resource_type in declared, (resource["name"], resource_type)
                literals = re.findall(r"'([^']+)'", arguments)
                names = [r["name"] for r in of_type(resource_type)]
                assert any(all(lit in name for lit in literals) for name in names), (
                    resource_type,
                    literals,
                )


def test_secrets_are_securestring_without_a_value_by_default() -> None:
    for name, parameter in TEMPLATE["parameters"].items():
        if _SECRET.search(name):
            assert parameter["type"] == "securestring", name
            # Optional secrets default to "not given"; nothing else is a default.
            assert parameter.get("defaultValue", "") == "", name
    for path in PARAMETER_FILES:
        given = json.loads(path.read_text())["parameters"]
        assert set(given) <= set(TEMPLATE["parameters"]), path.name
        for name in given:
            assert TEMPLATE["parameters"][name]["type"] != "securestring", (path.name, name)


def test_the_web_app_is_https_only_python_311_and_served_by_gunicorn() -> None:
    app = web_app()
    config = app["properties"]["siteConfig"]
    assert app["properties"]["httpsOnly"] is True
    assert config["minTlsVersion"] == "1.2"
    assert config["ftpsState"] == "Disabled"
    assert config["linuxFxVersion"] == "PYTHON|3.11"
    assert config["alwaysOn"] is True
    assert config["healthCheckPath"] == "/healthz"
    assert app["identity"]["type"] == "UserAssigned"
    command = TEMPLATE["variables"]["startCommand"]
    assert "aiohttp.GunicornWebWorker" in command and "0.0.0.0" in command


def test_secrets_reach_the_app_as_key_vault_references() -> None:
    settings = app_settings()
    for name in ("DIRECT_LINE_SECRET", "CUSTOMER_ID_SIGNING_KEY", "SITE_SIGNING_KEY"):
        assert "@Microsoft.KeyVault(" in settings[name], name
    assert "@Microsoft.KeyVault(" in settings["MicrosoftAppPassword"]  # SingleTenant's branch
    # A secret parameter may be tested for emptiness, never written into a setting.
    written = re.sub(r"empty\(parameters\('[^']+'\)\)", "", json.dumps(settings))
    assert not any(_SECRET.search(n) for n in re.findall(r"parameters\('([^']+)'\)", written))


def test_the_app_settings_are_the_settings_config_py_reads() -> None:
    names = set(app_settings())
    assert names - PLATFORM_SETTINGS <= set(Settings.model_fields)
    required = {
        "MicrosoftAppType", "MicrosoftAppId", "MicrosoftAppTenantId", "STORAGE",
        "COSMOS_ENDPOINT", "COSMOS_DATABASE", "COSMOS_CONTAINER", "AZURE_CLIENT_ID",
        "DIRECT_LINE_SECRET", "APPLICATIONINSIGHTS_CONNECTION_STRING",
    }  # fmt: skip
    assert required <= names


@pytest.mark.parametrize("app_type", ["UserAssignedMSI", "SingleTenant"])
def test_config_py_accepts_what_the_template_writes(app_type: str) -> None:
    """The template's settings, with each expression replaced by a value of its kind, start
    the bot: nothing config.py requires for this deployment is missing."""
    values = {}
    parameters = TEMPLATE["parameters"]
    for name, value in app_settings().items():
        parameter = re.fullmatch(r"\[parameters\('(\w+)'\)\]", value)
        if not value.startswith("["):
            values[name] = value
        elif parameter and "defaultValue" in parameters[parameter[1]]:
            values[name] = str(parameters[parameter[1]]["defaultValue"])
        elif "KeyVault" in value:
            values[name] = "secret-from-key-vault-" + "5" * 42  # as long as a real key
        elif name.endswith("TTL"):
            values[name] = "3600"
        elif name in ("COSMOS_ENDPOINT", "ORDER_API_URL", "SCHEDULING_API_URL"):
            values[name] = "https://example.documents.azure.com:443/"
        elif name == "MicrosoftAppType":
            values[name] = app_type
        else:
            values[name] = "00000000-0000-0000-0000-000000000001"
    if app_type == "UserAssignedMSI":
        values["MicrosoftAppPassword"] = ""
    settings = Settings.from_mapping(
        {k: v for k, v in values.items() if k in Settings.model_fields}
    )
    assert settings.STORAGE == "cosmos" and settings.DIRECT_LINE_SECRET is not None


def test_the_bot_and_its_channels_have_the_documented_shapes() -> None:
    [bot] = of_type("Microsoft.BotService/botServices")
    assert (bot["kind"], bot["location"]) == ("azurebot", "global")
    assert "/api/messages" in bot["properties"]["endpoint"]
    assert set(TEMPLATE["parameters"]["appType"]["allowedValues"]) == {
        "SingleTenant", "UserAssignedMSI",
    }  # fmt: skip
    channels = {r["properties"]["channelName"]: r for r in of_type(
        "Microsoft.BotService/botServices/channels"
    )}  # fmt: skip
    assert set(channels) == {"MsTeamsChannel", "WebChatChannel", "DirectLineChannel",
                             "FacebookChannel"}  # fmt: skip
    for name, channel in channels.items():
        assert f"/{name}'" in channel["name"], channel["name"]
        assert isinstance(channel["properties"]["properties"], dict)
    [site] = channels["DirectLineChannel"]["properties"]["properties"]["sites"]
    assert site["isSecureSiteEnabled"] is True
    assert "parameters('allowedOrigins')" in site["trustedOrigins"]
    facebook = channels["FacebookChannel"]
    assert "condition" in facebook
    assert set(facebook["properties"]["properties"]) >= {"appId", "appSecret", "pages"}


def test_cosmos_db_is_partitioned_on_id_with_a_ttl_and_needs_no_key() -> None:
    [account] = of_type("Microsoft.DocumentDB/databaseAccounts")
    assert account["properties"]["disableLocalAuth"] is True
    [container] = of_type("Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers")
    resource = container["properties"]["resource"]
    assert resource["partitionKey"]["paths"] == ["/id"]
    assert resource["defaultTtl"] == -1  # on; each document sets its own
    [role] = of_type("Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments")
    assert "cosmosDataContributor" in role["properties"]["roleDefinitionId"]
    assert TEMPLATE["variables"]["cosmosDataContributor"].endswith("000000000002")


def test_api_versions_are_general_availability() -> None:
    for resource in RESOURCES:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", resource["apiVersion"]), resource["type"]


def test_outputs_give_the_endpoints() -> None:
    assert {"botEndpoint", "webAppUrl", "cosmosEndpoint"} <= set(TEMPLATE["outputs"])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_start_command_serves_the_bot(tmp_path: Path) -> None:
    port = free_port()
    command = TEMPLATE["variables"]["startCommand"].replace("0.0.0.0:8000", f"127.0.0.1:{port}")
    executable, *arguments = command.split()
    gunicorn = Path(sys.executable).with_name(executable)
    process = subprocess.Popen(
        [str(gunicorn), *arguments, "--chdir", str(ROOT)],
        cwd=tmp_path,
        env={
            "PATH": str(gunicorn.parent),
            "STORAGE": "memory",
            "HOME": str(tmp_path),
            "ALLOW_UNAUTHENTICATED": "true",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                    assert json.loads(response.read()) == {"status": "ok", "storage": "ok"}
                    break
            except (URLError, ConnectionError, TimeoutError):
                # gunicorn listens before its worker has booted: a first read may time out.
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_the_analytics_workbook_is_deployed_in_sync_with_its_source_and_the_events() -> None:
    (workbook,) = [r for r in TEMPLATE["resources"] if r["type"] == "Microsoft.Insights/workbooks"]
    assert workbook["properties"]["sourceId"] == (
        "[resourceId('Microsoft.Insights/components', variables('insightsName'))]"
    )
    # The template carries the editable file as is (python -m tools.workbook writes it).
    assert workbook["properties"]["serializedData"] == serialized()
    queries = [item["content"]["query"] for item in json.loads(serialized())["items"]
               if item["type"] == 3]  # fmt: skip
    assert len(queries) >= 8
    named = {name for query in queries for name in re.findall(r'"([a-z][A-Za-z]+)"', query)
             if name not in ("true",)}  # fmt: skip
    assert named <= {e.value for e in EventName} | {"escalated", "resolved", "abandoned"}, named

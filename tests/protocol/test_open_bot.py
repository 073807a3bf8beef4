"""With auth off the bot must not be a relay: ids stay in their path, callers cannot grow it."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from app import ADAPTER, create_app
from bots.adapter import MAX_CONNECTORS
from bots.customer_service_bot import MAX_WELCOMES
from config import ConfigError, Settings
from tests.conftest import make_settings, serve
from tests.protocol.test_processes import ROOT, free_port, running_bot
from tools.local_channel import BOT_ACCOUNT


class RecordingConnector:
    """A channel connector that records the raw path of every request it gets."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def any(self, request: web.Request) -> web.Response:
        self.paths.append(request.raw_path)
        return web.json_response({"id": uuid.uuid4().hex})


async def post(http: aiohttp.ClientSession, url: str, activity: dict) -> int:
    async with http.post(url, data=json.dumps(activity),
                         headers={"Content-Type": "application/json"}) as response:  # fmt: skip
        return response.status


def activity(service_url: str, **fields: object) -> dict:
    return {
        "type": "message",
        "id": uuid.uuid4().hex,
        "channelId": "webchat",
        "serviceUrl": service_url,
        "from": {"id": "visitor"},
        "recipient": dict(BOT_ACCOUNT),
        "conversation": {"id": "c1"},
        "text": "hi",
        **fields,
    }


async def test_ids_in_a_reply_path_are_encoded_and_welcomes_are_bounded() -> None:
    connector = RecordingConnector()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", connector.any)
    bot = create_app(make_settings())
    async with serve(app) as service_url, serve(bot) as bot_base, aiohttp.ClientSession() as http:
        url = f"{bot_base}/api/messages"
        hostile = "../../../admin/delete?all=1#"
        assert await post(http, url, activity(service_url, conversation={"id": hostile})) == 201
        assert connector.paths
        assert all(p.startswith("/v3/conversations/..%2F..%2F..%2Fadmin%2Fdelete%3Fall%3D1%23/")
                   for p in connector.paths)  # fmt: skip

        connector.paths.clear()
        members = [{"id": f"u{n}"} for n in range(15_000)]
        update = activity(service_url, type="conversationUpdate", membersAdded=members)
        update.pop("text")
        assert await post(http, url, update) == 201
        assert 1 <= len(connector.paths) <= MAX_WELCOMES


async def test_connector_clients_are_bounded_however_many_service_urls_callers_name() -> None:
    bot = create_app(make_settings())
    async with serve(bot) as bot_base, aiohttp.ClientSession() as http:
        url = f"{bot_base}/api/messages"
        for n in range(MAX_CONNECTORS + 100):
            typing = activity(
                f"http://127.0.0.1:9/{n}", type="typing", conversation={"id": f"c{n}"}
            )
            assert await post(http, url, typing) == 201
        connectors = bot[ADAPTER].bot_framework_authentication._connectors  # type: ignore[attr-defined]
        assert len(connectors) == MAX_CONNECTORS


def test_auth_off_on_a_network_address_is_refused_unless_allowed() -> None:
    with pytest.raises(ConfigError, match="ALLOW_UNAUTHENTICATED"):
        Settings.from_mapping({"HOST": "0.0.0.0"})
    assert Settings.from_mapping({"HOST": "0.0.0.0", "ALLOW_UNAUTHENTICATED": "true"})
    assert Settings.from_mapping({"HOST": "0.0.0.0", "MicrosoftAppId": "a",
                                  "MicrosoftAppPassword": "p"})  # fmt: skip
    started = subprocess.run(
        [sys.executable, str(ROOT / "app.py")],
        env={"PATH": "/usr/bin:/bin", "HOST": "0.0.0.0", "PORT": str(free_port())},
        cwd=ROOT / "tests",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 2
    assert "ALLOW_UNAUTHENTICATED" in started.stderr and "Traceback" not in started.stderr


@pytest.mark.parametrize("auth", ["on", "off"])
def test_the_start_banner_says_whether_auth_is_on(tmp_path: Path, auth: str) -> None:
    env = {"MicrosoftAppId": "app-id", "MicrosoftAppPassword": "pw"} if auth == "on" else {}
    with running_bot(tmp_path, **env) as (bot, _):
        pass
    banner = bot.stdout.read()
    assert f"Auth is {auth.upper()}" in banner

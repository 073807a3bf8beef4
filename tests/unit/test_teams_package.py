import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

from tools.teams_package import ROOT, build


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_the_package_carries_the_bot_id_and_both_icons(tmp_path: Path) -> None:
    app_id = "0b6e4a56-1f2d-4c1e-9d3a-7f1e2a3b4c5d"
    package = build(app_id, tmp_path / "teams-app.zip")
    with zipfile.ZipFile(package) as files:
        assert sorted(files.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(files.read("manifest.json"))
        assert png_size(files.read("color.png")) == (192, 192)
        assert png_size(files.read("outline.png")) == (32, 32)
    assert float(manifest["manifestVersion"]) >= 1.17
    assert manifest["id"] == manifest["bots"][0]["botId"] == app_id
    assert "personal" in manifest["bots"][0]["scopes"]
    assert "${" not in json.dumps(manifest)


def test_without_an_app_id_it_says_what_to_set(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MicrosoftAppId"}
    finished = subprocess.run(
        [sys.executable, "-m", "tools.teams_package"],
        cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert finished.returncode == 2
    assert "MicrosoftAppId" in finished.stderr

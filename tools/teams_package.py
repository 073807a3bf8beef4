"""Builds the Teams app package to upload: `make teams-package` -> build/teams-app.zip.

The manifest (teams/manifest.json, schema 1.17) gets the bot's MicrosoftAppId from
the same settings the bot runs with; edit the developer and description fields there.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

from config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "teams"
PACKAGE = ROOT / "build" / "teams-app.zip"


def build(app_id: str, target: Path = PACKAGE) -> Path:
    text = (SOURCE / "manifest.json").read_text(encoding="utf-8")
    manifest = json.loads(text.replace("${MicrosoftAppId}", app_id))
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", json.dumps(manifest, indent=2))
        for icon in (manifest["icons"]["color"], manifest["icons"]["outline"]):
            package.write(SOURCE / icon, icon)
    return target


def main() -> None:
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"Cannot build the Teams package: {error}", file=sys.stderr)
        sys.exit(2)
    if not settings.MicrosoftAppId:
        print(
            "Cannot build the Teams package: set MicrosoftAppId (the bot's Microsoft app id, "
            "in .env or the environment); Teams needs it as the app and bot id.",
            file=sys.stderr,
        )
        sys.exit(2)
    print(f"Teams app package: {build(settings.MicrosoftAppId)}")
    print("Upload it in Teams: Apps > Manage your apps > Upload an app.")


if __name__ == "__main__":
    main()

"""Writes the Application Insights workbook (deploymentTemplates/analytics-workbook.json,
the file to edit) into the ARM template, where Azure needs it as one string.

    python -m tools.workbook
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKBOOK = ROOT / "deploymentTemplates" / "analytics-workbook.json"
TEMPLATE = ROOT / "deploymentTemplates" / "azuredeploy.json"
WORKBOOK_TYPE = "Microsoft.Insights/workbooks"


def serialized() -> str:
    return json.dumps(json.loads(WORKBOOK.read_text(encoding="utf-8")), separators=(",", ":"))


def main() -> None:
    text = TEMPLATE.read_text(encoding="utf-8")
    template = json.loads(text)
    (resource,) = [r for r in template["resources"] if r["type"] == WORKBOOK_TYPE]
    old = f'"serializedData": {json.dumps(resource["properties"]["serializedData"])}'
    if text.count(old) != 1:
        raise SystemExit(f"{TEMPLATE.name}: the workbook's serializedData is not where expected")
    new = f'"serializedData": {json.dumps(serialized())}'
    TEMPLATE.write_text(text.replace(old, new), encoding="utf-8")
    print(f"{TEMPLATE.relative_to(ROOT)}: the workbook is up to date")


if __name__ == "__main__":
    main()

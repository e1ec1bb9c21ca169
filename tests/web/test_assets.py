"""The pages' third-party assets: pinned, listed with their licences, served by OneTrip."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_every_pinned_asset_is_listed_with_its_version() -> None:
    lock = json.loads((ROOT / "web" / "package-lock.json").read_text())
    listed = (ROOT / "docs" / "third-party.md").read_text()
    wanted = json.loads((ROOT / "web" / "package.json").read_text())["dependencies"]
    for name, version in wanted.items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
        assert f"| {name} | {version} |" in listed
    for path, entry in lock["packages"].items():
        if path:
            assert f"| {path.removeprefix('node_modules/')} |" in listed, path
            assert entry.get("license"), path

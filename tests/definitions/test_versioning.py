"""Content hash: stable across formatting and spelling, sensitive to anything that runs."""

from __future__ import annotations

from definitions.loader import Catalog, load_text
from definitions.validate import validate_paths
from definitions.versioning import snapshot
from tests.conftest import CATALOG

BASE = """\
kind: Department
code: T-DEPT
name: 测试局
name_en: Test Bureau
---
kind: ServiceItem
code: T-ITEM
name: 测试许可
type: {type}
department: T-DEPT
legal_basis: [x]
legal_limit: 20
committed_limit: {limit}
channels: [online]
trips: 0
fee: {fee}
result: {{name: 证}}
delivery: [post]
steps: [{{key: review, name: 审查, kind: review}}]
---
# a comment does not change the content
kind: Procedure
version: 1
code: T-PROC
name: 流程
items: [T-ITEM]
committed_limit: 3
trips: 0
intake: {{department: T-DEPT, acceptance_days: 1}}
delivery: {{method: post, days: 1}}
stages: [{{key: one, name: 审批, join: {join}, tasks: [{{key: t, item: T-ITEM}}]}}]
"""


def _hash(**values: object) -> str:
    params = {"type": "行政许可", "limit": 3, "fee": 0, "join": "会签"} | values
    result = load_text(BASE.format(**params), "x.yaml")
    assert not result.diagnostics
    catalog = Catalog.from_loaded(result.loaded)
    proc = catalog.procedure("T-PROC")
    assert proc is not None
    return snapshot(catalog, proc).content_hash


def test_hash_ignores_spelling_and_formatting() -> None:
    first = _hash()
    assert first.startswith("sha256:")
    assert len(first) == len("sha256:") + 64
    assert _hash(type="licensing", join="all", fee="0.00") == first


def test_hash_follows_what_runs() -> None:
    first = _hash()
    assert _hash(limit=2) != first  # an item's limit is part of the procedure's snapshot
    assert _hash(join="或签") != first


def test_snapshot_carries_items_and_departments() -> None:
    catalog = validate_paths([CATALOG]).catalog
    proc = catalog.procedure("YZ-YJS-KBQY")
    assert proc is not None
    snap = snapshot(catalog, proc)
    assert [i.code for i in snap.items] == proc.items
    assert "YZ-ZWFW" in {d.code for d in snap.departments}  # the front desk
    # The snapshot round-trips through JSON (how a case carries it) without changing.
    again = type(snap).model_validate_json(snap.model_dump_json())
    assert again == snap
    assert snapshot(catalog, proc).content_hash == snap.content_hash

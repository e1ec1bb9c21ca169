"""Content hash: stable across formatting and spelling, sensitive to anything that runs."""

from __future__ import annotations

import hashlib
import json

from definitions.loader import Catalog, load_text
from definitions.validate import validate_paths
from definitions.versioning import content_hash, snapshot
from tests.conftest import CATALOG
from workflows.contracts import Actor, CaseInput, Role

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


def test_a_field_added_to_the_language_leaves_published_hashes_alone() -> None:
    cat = validate_paths([CATALOG]).catalog
    proc = cat.procedure("YZ-GCJS-SGXK")
    assert proc is not None
    snap = snapshot(cat, proc)
    # The hash input is what it was before `repeatable`, `headline`, `produces` and
    # `rating_default_days`, `callback_days` and `rectification_days` existed: nothing carries them at their default.
    body = {
        "procedure": snap.procedure.model_dump(mode="json", by_alias=True),
        "items": [i.model_dump(mode="json", by_alias=True) for i in snap.items],
        "departments": [d.model_dump(mode="json", by_alias=True) for d in snap.departments],
    }
    for item in body["items"]:
        for step in item["steps"]:
            del step["repeatable"]
        if not item["produces"]:  # used by the items that issue a document the bundle needs
            del item["produces"]
    for form_field in body["procedure"]["form"]["fields"]:
        del form_field["headline"]
    for department in body["departments"]:
        del department["rating_default_days"]
        del department["callback_days"]
        del department["rectification_days"]
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert snap.content_hash == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    # Using the field is a change of content.
    item = snap.items[1]
    steps = [s.model_copy(update={"repeatable": True}) for s in item.steps]
    changed = [item.model_copy(update={"steps": steps}), *snap.items[2:], snap.items[0]]
    assert content_hash(snap.procedure, changed, snap.departments) != snap.content_hash


def test_a_case_input_ignores_fields_a_newer_version_added() -> None:
    cat = validate_paths([CATALOG]).catalog
    proc = cat.procedure("YZ-YJS-KBQY")
    assert proc is not None
    snap = snapshot(cat, proc)
    data = CaseInput(
        case_id="C-1",
        snapshot=snap,
        applicant=Actor(id="a", role=Role.applicant),
    ).model_dump(mode="json")

    def sprinkle(value: object) -> object:
        if isinstance(value, dict):
            return {**{k: sprinkle(v) for k, v in value.items()}, "added_later": {"x": 1}}
        if isinstance(value, list):
            return [sprinkle(v) for v in value]
        return value

    later = CaseInput.model_validate(sprinkle(data))
    assert later.snapshot == snap
    assert later.case_id == "C-1"

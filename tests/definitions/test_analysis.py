"""Reengineering figures: hand-computed on a small bundle, and checked on the shipped ones."""

from __future__ import annotations

from definitions.analysis import analyze, computed_trips, critical_path
from definitions.loader import Catalog, load_text
from definitions.models import Procedure, ServiceItem
from definitions.validate import validate_paths
from tests.conftest import CATALOG


def _item(code: str, limit: int, trips: int, materials: list[tuple[str, int]]) -> str:
    lines = [
        "kind: ServiceItem",
        f"code: {code}",
        f"name: 事项{code}",
        "type: 行政许可",
        "department: T-DEPT",
        "legal_basis: [x]",
        "legal_limit: 20",
        f"committed_limit: {limit}",
        "channels: [window]",
        f"trips: {trips}",
        "result: {name: 证}",
        "delivery: [window]",
        "steps: [{key: review, name: 审查, kind: review}]",
        "materials:",
    ]
    lines += [f"  - {{key: {k}, name: 材料{k}, copies: {c}}}" for k, c in materials]
    return "\n".join(lines) + "\n---\n"


BUNDLE = (
    _item("T-A", 5, 2, [("id_card", 1), ("articles", 2)])
    + _item("T-B", 3, 1, [("id_card", 1), ("lease", 1)])
    + _item("T-C", 4, 1, [("id_card", 2)])
    + _item("T-D", 2, 1, [("plan", 1)])
    + """\
kind: Procedure
code: T-BUNDLE
name: 测试一件事
version: 2
items: [T-A, T-B, T-C, T-D]
committed_limit: 6
trips: 1
intake: {department: T-DEPT, acceptance_days: 1, channels: [window]}
delivery: {method: post, days: 1}
stages:
  - key: first
    name: 先办
    tasks: [{key: a, item: T-A, days: 2}]
    next: [{to: branch, when: "big"}, {to: parallel}]
  - key: parallel
    name: 并联
    tasks: [{key: b, item: T-B}, {key: c, item: T-C}]
  - key: branch
    name: 依次
    join: 依次
    tasks: [{key: c2, item: T-C, days: 1}, {key: d, item: T-D}]
form:
  fields: [{key: big, label: 大项目, type: boolean}]
"""
)


def _bundle() -> tuple[Procedure, dict[str, ServiceItem]]:
    result = load_text(BUNDLE, "bundle.yaml")
    assert not result.diagnostics
    catalog = Catalog.from_loaded(result.loaded)
    proc = catalog.procedure("T-BUNDLE")
    assert proc is not None
    return proc, {c: i for c in proc.items if (i := catalog.item(c)) is not None}


def test_critical_path_takes_the_longest_branch() -> None:
    proc, items = _bundle()
    # first: 2; parallel: max(3, 4) = 4; branch (依次): 1 + 2 = 3. Longest: first → parallel.
    path = critical_path(proc, items)
    assert (path.days, path.stages) == (6, ("first", "parallel"))


def test_before_and_after_figures() -> None:
    proc, items = _bundle()
    r = analyze(proc, items)
    assert (r.before.limit_days, r.after.limit_days) == (5 + 3 + 4 + 2, 6)
    assert (r.before.trips, r.after.trips) == (2 + 1 + 1 + 1, 1)  # window intake, post out
    assert (r.before.materials, r.after.materials) == (6, 4)  # id_card shared by three items
    assert (r.before.copies, r.after.copies) == (8, 6)  # a shared material: its most copies
    assert (r.before.applications, r.after.applications) == (4, 1)
    assert r.reduction("limit_days") == 57.1
    assert r.reduction("trips") == 80.0
    data = r.to_json()
    assert data["reduction_percent"]["materials"] == 33.3
    assert data["critical_path"] == ["first", "parallel"]
    assert computed_trips(proc) == 1


def test_shipped_bundles_improve_on_separate_applications() -> None:
    catalog = validate_paths([CATALOG]).catalog
    bundles = [p for p in catalog.latest_procedures() if p.is_merged]
    assert {p.code for p in bundles} >= {"YZ-YJS-KBQY", "YZ-YJS-XSECS", "YZ-GCJS-SGXK"}
    for proc in bundles:
        items = {c: i for c in proc.items if (i := catalog.item(c)) is not None}
        r = analyze(proc, items)
        assert r.after.limit_days <= proc.committed_limit
        assert r.after.limit_days <= r.before.limit_days
        assert r.after.materials < r.before.materials
        assert r.after.trips <= proc.trips
    startup = catalog.procedure("YZ-YJS-KBQY")
    assert startup is not None
    assert startup.committed_limit <= 8  # 国办发〔2018〕32号: 8.5 working days at most
    departments = {i.department for c in startup.items if (i := catalog.item(c)) is not None}
    assert len(departments) >= 6

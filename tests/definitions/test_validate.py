"""The semantic validator: the shipped catalog is clean; every bad file gives exactly its errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from definitions.diagnostics import Severity
from definitions.validate import validate_paths
from tests.conftest import BAD, CATALOG

BAD_FILES = sorted(BAD.glob("*.yaml"))


def test_shipped_catalog_is_clean() -> None:
    report = validate_paths([CATALOG])
    assert report.diagnostics == []
    kinds = {type(e.definition).__name__ for e in report.catalog.loaded}
    assert kinds == {"Department", "ServiceItem", "Procedure"}
    assert len(report.catalog.latest_procedures()) >= 5


def _expected(path: Path) -> list[tuple[str, str, int]]:
    found = re.findall(r"^# expect: (error|warning) ([a-z0-9-]+) (\d+)$", path.read_text(), re.M)
    return [(sev, code, int(line)) for sev, code, line in found]


@pytest.mark.parametrize("path", BAD_FILES, ids=[p.stem for p in BAD_FILES])
def test_bad_file_reports_exactly_its_findings(path: Path) -> None:
    expected = _expected(path)
    assert expected, f"{path.name} declares no '# expect:' line"
    report = validate_paths([path])
    got = [(d.severity.value, d.code, d.line) for d in report.diagnostics]
    assert got == expected
    assert all(d.file == str(path) for d in report.diagnostics)
    assert report.ok is all(sev == "warning" for sev, _, _ in expected)


def test_bad_folder_covers_the_required_checks() -> None:
    codes = {code for p in BAD_FILES for _, code, _ in _expected(p)}
    required = {
        "unknown-department",
        "unknown-item",
        "committed-over-legal",
        "stage-cycle",
        "stage-unreachable",
        "condition-unknown-field",
        "critical-path-over-limit",
        "joint-over-ceiling",
        "duplicate-code",
        "material-missed-share",
        "yaml-syntax",
        "schema",
    }
    assert required <= codes


def test_all_schema_errors_of_a_file_at_once() -> None:
    report = validate_paths([BAD / "schema_errors.yaml"])
    assert [d.path for d in report.errors] == [
        "type",
        "legal_limit",
        "channels[1]",
        "trips",
        "materails",
        "name",
    ]


def test_bad_file_validated_with_the_catalog_keeps_its_own_location() -> None:
    report = validate_paths([CATALOG, BAD / "stage_cycle.yaml"])
    [cycle] = [d for d in report.errors if d.code == "stage-cycle"]
    assert cycle.file is not None
    assert cycle.file.endswith("stage_cycle.yaml")
    assert "first → second → first" in cycle.message


PROCEDURE = """\
kind: Department
code: T-DEPT
name: 测试局
name_en: Test Bureau
---
kind: ServiceItem
code: T-ITEM-1
name: 测试许可
type: 行政许可
department: T-DEPT
legal_basis: [x]
legal_limit: 20
committed_limit: 3
channels: [online]
trips: 1
result: {{name: 许可证}}
delivery: [post]
steps:
  - {{key: review, name: 审查, kind: review, days: 3}}
  - {{key: expert, name: 专家评审, kind: expert_review, days: 10, counted: {counted}}}
---
kind: Procedure
code: T-PROC
name: 测试流程
version: 1
items: [T-ITEM-1]
committed_limit: {limit}
trips: 0
intake: {{department: T-DEPT, acceptance_days: 1}}
delivery: {{method: post, days: 1}}
form:
  fields:
    - {{key: district, label: 区, type: enum, options: [东区, 西区]}}
    - {{key: employees, label: 职工人数, type: integer}}
    - {{key: opened, label: 开业日期, type: date}}
stages:
  - key: one
    name: 审批
    tasks: [{{key: one, item: T-ITEM-1, when: "{when}"}}]
"""


def _report(tmp_path: Path, **values: object) -> list[tuple[str, str]]:
    params = {"counted": "false", "limit": 3, "when": "district == '东区'"} | values
    (tmp_path / "p.yaml").write_text(PROCEDURE.format(**params), encoding="utf-8")
    return [(d.severity.value, d.code) for d in validate_paths([tmp_path]).diagnostics]


def test_a_valid_procedure(tmp_path: Path) -> None:
    assert _report(tmp_path) == []


@pytest.mark.parametrize(
    ("when", "ok"),
    [
        ("district in ['东区', '西区']", True),
        ("district == '南区'", False),  # not one of the options
        ("employees >= 10", True),
        ("employees == '10'", False),
        ("opened < '2025-01-01'", True),
        ("opened < 'soon'", False),
        ("employees", False),  # a bare integer is not a yes/no test
    ],
)
def test_condition_types(tmp_path: Path, when: str, ok: bool) -> None:
    expected = [] if ok else [("error", "condition-type-mismatch")]
    assert _report(tmp_path, when=when) == expected


def test_expert_review_counted_is_only_a_warning(tmp_path: Path) -> None:
    assert _report(tmp_path, counted="true") == [
        ("error", "step-shares-over-limit"),  # 13 counted days against a 3-day promise
        ("warning", "step-counted"),
    ]


def test_single_item_procedure_above_the_items_legal_limit(tmp_path: Path) -> None:
    assert ("error", "committed-over-legal") in _report(tmp_path, limit=21)


def test_warnings_do_not_fail_validation() -> None:
    report = validate_paths([BAD / "material_missed_share.yaml"])
    assert report.ok
    assert [d.severity for d in report.diagnostics] == [Severity.warning]


def test_window_only_item_cannot_claim_zero_trips(tmp_path: Path) -> None:
    text = PROCEDURE.replace("channels: [online]\ntrips: 1", "channels: [window]\ntrips: 0")
    (tmp_path / "p.yaml").write_text(
        text.format(counted="false", limit=3, when="district == '东区'"), encoding="utf-8"
    )
    [finding] = validate_paths([tmp_path]).diagnostics
    assert (finding.code, finding.path) == ("trips-below-channels", "trips")


def test_warning_not_shorter_than_the_limit(tmp_path: Path) -> None:
    text = PROCEDURE.replace(
        "committed_limit: {limit}\ntrips: 0",
        "committed_limit: {limit}\ntrips: 0\nsupervision: {{warning: {{days_before: 3}}}}",
    )
    (tmp_path / "p.yaml").write_text(
        text.format(counted="false", limit=3, when="district == '东区'"), encoding="utf-8"
    )
    [finding] = validate_paths([tmp_path]).diagnostics
    assert (finding.severity, finding.code) == (Severity.warning, "warning-at-acceptance")
    assert finding.path == "supervision.warning.days_before"


def test_a_stage_that_leads_to_itself_is_a_cycle(tmp_path: Path) -> None:
    text = PROCEDURE.replace(
        '    tasks: [{{key: one, item: T-ITEM-1, when: "{when}"}}]',
        '    tasks: [{{key: one, item: T-ITEM-1, when: "{when}"}}]\n    next: [{{to: one}}]',
    )
    (tmp_path / "p.yaml").write_text(
        text.format(counted="false", limit=3, when="district == '东区'"), encoding="utf-8"
    )
    [finding] = validate_paths([tmp_path]).diagnostics
    assert finding.code == "stage-cycle"
    assert "one → one" in finding.message


def test_a_single_item_procedure_cannot_raise_the_legal_limit(tmp_path: Path) -> None:
    text = PROCEDURE.replace(
        "committed_limit: {limit}\ntrips: 0", "committed_limit: {limit}\ntrips: 0\nlegal_limit: 30"
    )
    (tmp_path / "p.yaml").write_text(
        text.format(counted="false", limit=25, when="district == '东区'"), encoding="utf-8"
    )
    codes = [d.code for d in validate_paths([tmp_path]).diagnostics]
    assert "legal-over-item" in codes
    assert "committed-over-legal" in codes  # 25 against the item's 20

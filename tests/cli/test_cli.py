"""The ``onetrip`` command line, as people and scripts use it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.conftest import BAD, CATALOG

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_validate_catalog() -> None:
    code, out, _ = run("definitions", "validate", str(CATALOG))
    assert code == 0
    assert "0 errors, 0 warnings" in out


@pytest.mark.parametrize("name", ["stage_cycle", "unknown_department", "yaml_syntax"])
def test_validate_bad_file_names_file_and_line(name: str) -> None:
    path = BAD / f"{name}.yaml"
    code, _, err = run("definitions", "validate", str(path))
    assert code == 1
    first_expect = next(
        line for line in path.read_text().splitlines() if line.startswith("# expect:")
    )
    line_no = first_expect.rsplit(" ", 1)[1]
    assert f"{path}:{line_no}:" in err


def test_validate_json_and_strict() -> None:
    path = str(BAD / "material_missed_share.yaml")
    code, out, _ = run("definitions", "validate", "--json", path)
    assert code == 0
    data = json.loads(out)
    assert (data["errors"], data["warnings"]) == (0, 1)
    assert data["diagnostics"][0]["code"] == "material-missed-share"
    assert run("definitions", "validate", "--strict", path)[0] == 1


def test_analyze_business_startup() -> None:
    code, out, _ = run("definitions", "analyze", "YZ-YJS-KBQY")
    assert code == 0
    assert "开办企业一件事" in out
    assert "Before" in out
    assert "After" in out
    code, out, _ = run("definitions", "analyze", "YZ-YJS-KBQY", "--json")
    data = json.loads(out)
    assert data["after"]["limit_days"] <= data["committed_limit"] == 3
    assert data["before"]["applications"] == len(data["items"])
    assert data["reduction_percent"]["materials"] > 0


def test_analyze_unknown_code() -> None:
    code, _, err = run("definitions", "analyze", "NO-SUCH")
    assert code == 1
    assert "NO-SUCH" in err


def test_analyze_refuses_an_invalid_catalog() -> None:
    code, _, err = run("definitions", "analyze", "-c", str(BAD / "stage_cycle.yaml"))
    assert code == 1
    assert "stage-cycle" in err


def test_guide_for_a_procedure_and_an_item() -> None:
    code, out, _ = run("definitions", "guide", "YZ-YJS-KBQY")
    assert code == 0
    for heading in ("申请材料", "办理流程", "办理时限：3 个工作日", "到办事现场次数", "收费"):
        assert heading in out
    assert out.count("法定代表人身份证件") == 1  # a shared material is listed once
    code, out, _ = run("definitions", "guide", "YZ-GH-XK-0002")
    assert code == 0
    assert "不计入办理时限的环节" in out  # the expert review
    assert run("definitions", "guide", "NOPE")[0] == 1


def test_list_shows_versions_and_hashes() -> None:
    code, out, _ = run("definitions", "list", "--json")
    assert code == 0
    rows = json.loads(out)
    assert {r["code"] for r in rows} >= {"YZ-YJS-KBQY", "YZ-YJS-XSECS", "YZ-GCJS-SGXK"}
    assert all(r["content_hash"].startswith("sha256:") for r in rows)


def test_calendar_commands() -> None:
    assert run("calendar", "deadline", "2025-09-26", "5")[:2] == (0, "2025-10-10\n")
    assert run("calendar", "workdays", "2025-10-01", "2025-10-31")[:2] == (0, "18\n")
    assert run("calendar", "is-workday", "2025-09-28")[:2] == (0, "yes\n")
    assert run("calendar", "is-workday", "2025-10-08")[:2] == (0, "no\n")
    code, out, err = run("calendar", "deadline", "2026-12-31", "2")
    assert (code, out) == (0, "2027-01-05 provisional\n")
    assert "provisional" in err


def test_calendar_override_from_a_catalog_folder(tmp_path: Path) -> None:
    (tmp_path / "2027.yaml").write_text(
        "kind: CalendarYear\nyear: 2027\nsource: 测试 / test\n"
        "holidays: [{from: 2027-01-01, to: 2027-01-04}]\n",
        encoding="utf-8",
    )
    code, out, _ = run("calendar", "deadline", "2026-12-31", "2", "-c", str(tmp_path))
    assert (code, out) == (0, "2027-01-06\n")
    assert run("calendar", "is-workday", "2027-01-04", "-c", str(tmp_path))[1] == "no\n"
    assert run("calendar", "is-workday", "2027-01-04", "--calendar", "mars")[0] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("deadline", "2025-13-01", "5"), "not a date"),
        (("deadline", "2025-01-01", "-3"), "cannot be negative"),
        (("deadline", "2025-01-01", "three"), "not a whole number"),
        (("workdays", "2025-10-31", "2025-10-01"), "is before"),
        (("is-workday", "yesterday"), "not a date"),
    ],
)
def test_calendar_bad_input(args: tuple[str, ...], message: str) -> None:
    code, _, err = run("calendar", *args)
    assert code == 2
    assert message in " ".join(err.split())


def test_installed_console_script() -> None:
    exe = shutil.which("onetrip") or str(Path(__file__).parents[2] / ".venv" / "bin" / "onetrip")
    done = subprocess.run(
        [exe, "calendar", "deadline", "2025-09-26", "5"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (0, "2025-10-10\n")


def test_figures_from_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.settings import get_settings
    from store.db import Store, migrate
    from store.writes import publish, record
    from tests.store.factories import T0, case_row, event, procedure_snapshot, record_input
    from workflows.contracts import CaseState

    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("ONETRIP_DATABASE_URL", url)
    get_settings.cache_clear()
    migrate(url)
    store = Store(url)
    snap = procedure_snapshot()
    try:
        publish(store, snap)
        for case_id, state in (("C-1", CaseState.completed), ("C-2", CaseState.refused)):
            submitted = event(case_id, 1, payload={"channel": "online"})
            data = record_input(case_id, seqs=range(1, 2))
            record(
                store,
                data.model_copy(
                    update={
                        "events": [submitted],
                        "case": case_row(
                            case_id,
                            state=state,
                            procedure_version=snap.version,
                            content_hash=snap.content_hash,
                        ),
                    }
                ),
            )
    finally:
        store.dispose()
    try:
        code, out, _ = run("figures", "--period", f"{T0.year}Q1", "--by", "all", "--json")
        assert code == 0
        [group] = json.loads(out)["groups"]
        assert (group["figures"]["received"], group["figures"]["refused"]) == (2, 1)
        code, out, _ = run("figures", "--period", f"{T0.year}Q1", "--by", "procedure")
        assert code == 0
        assert "开办企业一件事" in out
        code, out, _ = run("reengineer", "achieved", "--period", f"{T0.year}Q1", "--json")
        assert code == 0
        [achieved] = json.loads(out)
        assert (achieved["code"], achieved["cases"], achieved["promised_days"]) == (
            "YZ-YJS-KBQY",
            2,
            3,
        )
        code, out, _ = run("reengineer", "achieved", "--period", f"{T0.year}Q1")
        assert code == 0
        assert "承诺 Promised" in out
        code, out, _ = run("report", "--period", f"{T0.year}Q1", "--out", str(tmp_path / "reports"))
        assert code == 0
        written = [line.split("\t")[0] for line in out.splitlines()]
        assert written[0].endswith(f"report-{T0.year}Q1.html")
        assert len(written) == 7  # the page and six tables
        page = (tmp_path / "reports" / f"report-{T0.year}Q1.html").read_text()
        assert "开办企业一件事" in page
        # What-if: the catalog's procedure as a version 9, replayed on the quarter's cases.
        design = tmp_path / "redesign.yaml"
        source = CATALOG / "procedures" / "kaiban_qiye.yaml"
        design.write_text(
            re.sub(r"(?m)^version: 2.*$", "version: 9", source.read_text(encoding="utf-8"))
        )
        code, out, err = run(
            "reengineer",
            "simulate",
            str(design),
            "--from",
            f"{T0.year}Q1",
            "--runs",
            "20",
            "--json",
        )
        assert code == 0, err
        result = json.loads(out)
        assert (result["cases"], result["tasks"]) == (2, 0)
        assert (result["current"]["version"], result["redesigned"]["version"]) == (2, 9)
        assert result["redesigned"]["assumed"]  # no decided task recorded: shares assumed
        code, out, _ = run("reengineer", "simulate", str(design), "--from", f"{T0.year}Q1")
        assert code == 0
        assert "redesigned" in out
        code, _, err = run("figures", "--period", "2026H3")
        assert code == 2
        assert "2026H3" in err
    finally:
        get_settings.cache_clear()

"""A definition file with bytes that are not YAML text: every problem at its line, no crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from definitions.loader import load_bytes, load_paths

DEPARTMENT = "kind: Department\ncode: YZ-TEST\nname: 测试局\nname_en: Test Bureau\n"


@pytest.mark.parametrize(
    ("data", "code", "line", "column"),
    [
        (DEPARTMENT.replace("测试局", "测试\0局").encode(), "yaml-character", 3, 9),
        (DEPARTMENT.replace("Test", "Te\x1bst").encode(), "yaml-character", 4, 12),
        (DEPARTMENT.replace("Test", "Te\x7fst").encode(), "yaml-character", 4, 12),
        (DEPARTMENT.encode().replace(b"YZ", b"\xc3("), "yaml-encoding", 2, 7),
        (DEPARTMENT.encode("gb18030"), "yaml-encoding", 3, 7),
    ],
    ids=["nul", "escape", "delete", "invalid-utf8", "gb18030"],
)
def test_bad_bytes_are_findings_at_their_place(
    tmp_path: Path, data: bytes, code: str, line: int, column: int
) -> None:
    file = tmp_path / "department.yaml"
    file.write_bytes(data)
    result = load_paths([tmp_path])
    [finding] = result.diagnostics
    assert (finding.code, finding.line, finding.column) == (code, line, column)
    assert finding.file == str(file)
    assert result.loaded == []


def test_every_bad_character_is_reported_up_to_a_bound() -> None:
    result = load_bytes(("a: \0\n" * 50).encode(), "x.yaml")
    assert [d.line for d in result.diagnostics] == list(range(1, 11))


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32"])
def test_the_encodings_yaml_allows_load(encoding: str) -> None:
    result = load_bytes(DEPARTMENT.encode(encoding), "x.yaml")
    assert result.diagnostics == []
    [loaded] = result.loaded
    assert loaded.definition.name == "测试局"  # type: ignore[union-attr]


def test_lines_are_counted_as_yaml_counts_them() -> None:
    text = DEPARTMENT.replace("\n", "\r").replace("测试局", "测试\0局")
    [finding] = load_bytes(text.encode(), "x.yaml").diagnostics
    assert (finding.code, finding.line, finding.column) == ("yaml-character", 3, 9)

"""Loading YAML: positions of every field, all problems of a file at once, YAML 1.2 scalars."""

from __future__ import annotations

from pathlib import Path

from definitions.loader import load_paths, load_text
from definitions.models import Department, ServiceItem

DEPT = """\
kind: Department
code: T-DEPT
name: 测试局
name_en: Test Bureau
"""


def test_several_documents_in_one_file() -> None:
    result = load_text(DEPT + "---\n" + DEPT.replace("T-DEPT", "T-DEPT-2"), "d.yaml")
    assert not result.diagnostics
    assert [e.definition.code for e in result.loaded] == ["T-DEPT", "T-DEPT-2"]
    assert [e.source.line for e in result.loaded] == [1, 6]


def test_yaml_1_2_scalars_are_not_reinterpreted() -> None:
    text = DEPT.replace("name: 测试局", "name: no").replace("code: T-DEPT", "code: '0123'")
    text = text.replace("name_en: Test Bureau", "name_en: 0123")
    result = load_text(text, "d.yaml")
    # ``no`` stays a string (YAML 1.1 would make it False); unquoted 0123 is not octal 83.
    assert not result.diagnostics
    dept = result.loaded[0].definition
    assert isinstance(dept, Department)
    assert (dept.code, dept.name, dept.name_en) == ("0123", "no", "0123")


def test_errors_name_line_column_and_path() -> None:
    text = DEPT + "brand:\n  name: 品牌\n  slogn: 口号\n"
    result = load_text(text, "d.yaml")
    [d] = result.diagnostics
    assert (d.file, d.line, d.column, d.path, d.code) == ("d.yaml", 7, 3, "brand.slogn", "schema")
    assert "unknown field" in d.message
    assert d.render().startswith("d.yaml:7:3: 错误 error schema [brand.slogn]")


def test_a_bad_document_does_not_hide_the_next_one() -> None:
    text = DEPT.replace("name: 测试局\n", "") + "---\nkind: Nothing\n---\n" + DEPT
    result = load_text(text, "d.yaml")
    assert [(d.code, d.line) for d in result.diagnostics] == [("schema", 1), ("unknown-kind", 5)]
    assert len(result.loaded) == 1


def test_a_missing_field_points_at_its_parent() -> None:
    text = (
        "kind: ServiceItem\ncode: T-1\nname: x\ntype: 公共服务\ndepartment: T-D\n"
        "legal_basis: [x]\nlegal_limit: 1\ncommitted_limit: 1\nchannels: [online]\ntrips: 0\n"
        "result: {name: x}\ndelivery: [post]\nsteps:\n  - {key: a, kind: review}\n"
    )
    result = load_text(text, "i.yaml")
    [d] = result.diagnostics
    assert (d.line, d.column, d.path) == (14, 5, "steps[0].name")
    assert "required field is missing" in d.message


def test_chinese_enum_labels_equal_english_values() -> None:
    base = (
        "kind: ServiceItem\ncode: T-1\nname: x\ntype: {t}\ndepartment: T-D\n"
        "legal_basis: [x]\nlegal_limit: 即办\ncommitted_limit: 0\nchannels: [{c}]\ntrips: 0\n"
        "result: {{name: x}}\ndelivery: [post]\nsteps:\n  - {{key: a, name: 受理, kind: {k}}}\n"
    )
    zh = load_text(base.format(t="公共服务", c="网上办理", k="受理"), "a.yaml").loaded[0]
    en = load_text(base.format(t="public_service", c="online", k="accept"), "b.yaml").loaded[0]
    assert isinstance(zh.definition, ServiceItem)
    assert zh.definition == en.definition
    assert zh.definition.legal_limit == 0


def test_unreadable_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00ba")  # UTF-16 by its mark, cut short
    (tmp_path / "folder.yaml").mkdir()
    result = load_paths([tmp_path / "bin.yaml", tmp_path / "folder.yaml" / ".", tmp_path / "x"])
    assert [d.code for d in result.diagnostics] == ["yaml-encoding", "file-not-found"]
    result = load_paths([tmp_path])
    assert [d.code for d in result.diagnostics] == ["yaml-encoding", "file-unreadable"]


def test_not_a_mapping() -> None:
    result = load_text("- just\n- a list\n", "l.yaml")
    assert [d.code for d in result.diagnostics] == ["not-a-mapping"]

"""Application forms are checked against the procedure's schema, with field paths."""

from __future__ import annotations

import re

import pytest

from definitions.forms import FormError, validate_form
from definitions.validate import validate_paths
from tests.conftest import CATALOG


def _startup_schema():  # type: ignore[no-untyped-def]
    proc = validate_paths([CATALOG]).catalog.procedure("YZ-YJS-KBQY")
    assert proc is not None
    return proc.form


VALID = {
    "company_name": "云州示范餐饮有限公司",
    "legal_representative": "张三",
    "registered_capital": 100,
    "employees": 12,
    "food_business": True,
    "district": "云城区",
}


def test_a_valid_form_is_normalised() -> None:
    form = validate_form(_startup_schema(), VALID)
    assert form["registered_capital"] == 100.0
    assert form["food_business"] is True


def test_every_error_names_its_field() -> None:
    with pytest.raises(FormError) as err:
        validate_form(
            _startup_schema(),
            {"employees": "many", "food_business": "yes", "district": "火星区", "color": "red"},
        )
    paths = {tuple(e["loc"]) for e in err.value.errors}
    assert {("employees",), ("food_business",), ("district",), ("color",)} <= paths
    assert ("company_name",) in paths  # required and missing


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("employees", 10**30),
        ("employees", -(10**400)),
        ("registered_capital", 1e300),
        ("company_name", "   "),
        ("legal_representative", "\u3000\t"),
    ],
)
def test_absurd_numbers_and_blank_text_are_refused_in_both_languages(
    field: str, value: object
) -> None:
    with pytest.raises(FormError) as err:
        validate_form(_startup_schema(), VALID | {field: value})
    [error] = err.value.errors
    assert error["loc"] == [field]
    assert re.search(r"[^\x00-\x7f].*/ [a-z]", error["msg"])  # zh-CN, then English
    assert len(error["msg"]) < 200  # a 400-digit number is not echoed whole

"""Branch conditions: parsed without executing anything, evaluated deterministically."""

from __future__ import annotations

import pytest

from definitions.conditions import ConditionError, evaluate, parse_condition


@pytest.mark.parametrize(
    ("text", "form", "expected"),
    [
        ("food_business == true", {"food_business": True}, True),
        ("food_business == true", {"food_business": False}, False),
        ("food_business", {}, False),  # a missing field is None, never an exception
        ("not food_business", {"food_business": False}, True),
        ("employees > 0 and food_business", {"employees": 3, "food_business": True}, True),
        ("employees >= 10 or district == '西湖区'", {"employees": 2, "district": "西湖区"}, True),
        ("district in ['西湖区', '上城区']", {"district": "拱墅区"}, False),
        ("district not in ['西湖区']", {"district": "拱墅区"}, True),
        ("capital < 100.5", {"capital": "a lot"}, False),  # incomparable values do not match
        ("employees > -1", {"employees": 0}, True),
        ("employees > 3", {}, False),
    ],
)
def test_evaluate(text: str, form: dict[str, object], expected: bool) -> None:
    assert evaluate(parse_condition(text), form) is expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("food_business = true", "syntax error"),
        ("__import__('os').system('true')", "unsupported expression"),
        ("1 < employees < 5", "chained comparisons"),
        ("true", "constant"),
        ("employees == other_field", "must be a literal"),
        ("district in '西湖区'", "must be a list"),
        ("3 == employees", "left side"),
    ],
)
def test_rejected(text: str, message: str) -> None:
    with pytest.raises(ConditionError, match=message):
        parse_condition(text)

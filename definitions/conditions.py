"""Branch conditions on application form fields.

A condition is written as a short expression in the YAML, for example
``food_business == true and employees > 0`` or ``district in ["西湖区", "上城区"]``.
It is parsed once into a small tree of plain data (no code is ever executed) so that
the validator can check every field it names against the procedure's form, and the
case workflow can evaluate it deterministically.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias

Scalar: TypeAlias = str | int | float | bool | None
Operand: TypeAlias = Scalar | tuple[Scalar, ...]
CompareOp: TypeAlias = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not in"]

_OPS: dict[type[ast.cmpop], CompareOp] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
}
_LITERAL_NAMES: dict[str, Scalar] = {
    "true": True,
    "True": True,
    "false": False,
    "False": False,
    "null": None,
    "None": None,
}
RESERVED_NAMES = frozenset(_LITERAL_NAMES)


class ConditionError(ValueError):
    """A condition that cannot be parsed; the message is bilingual (zh / en)."""


@dataclass(frozen=True)
class Compare:
    """``field <op> value``: the field's submitted value compared with a literal."""

    field: str
    op: CompareOp
    value: Operand


@dataclass(frozen=True)
class Truthy:
    """A bare field name: true when the submitted value is truthy (a ticked checkbox)."""

    field: str


@dataclass(frozen=True)
class Not:
    operand: Condition


@dataclass(frozen=True)
class BoolOp:
    op: Literal["and", "or"]
    operands: tuple[Condition, ...]


Condition: TypeAlias = Compare | Truthy | Not | BoolOp


def parse_condition(text: str) -> Condition:
    """Parse a condition expression; raise ConditionError naming the offending part."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ConditionError(
            f"条件表达式语法错误（第 {exc.offset} 个字符）/ syntax error at character {exc.offset}"
        ) from None
    return _convert(tree.body, text)


def _convert(node: ast.expr, text: str) -> Condition:
    if isinstance(node, ast.BoolOp):
        op: Literal["and", "or"] = "and" if isinstance(node.op, ast.And) else "or"
        return BoolOp(op, tuple(_convert(v, text) for v in node.values))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return Not(_convert(node.operand, text))
    if isinstance(node, ast.Name):
        if node.id in RESERVED_NAMES:
            raise ConditionError(
                f"“{node.id}” 是常量，不能单独作为条件 / '{node.id}' is a constant, not a condition"
            )
        return Truthy(node.id)
    if isinstance(node, ast.Compare):
        if len(node.ops) != 1:
            raise ConditionError(
                "不支持连续比较，请用 and 连接 / chained comparisons are not supported; use 'and'"
            )
        op_type = type(node.ops[0])
        if op_type not in _OPS:
            raise ConditionError(f"不支持的比较运算 / unsupported comparison in: {text}")
        left, right = node.left, node.comparators[0]
        if not isinstance(left, ast.Name) or left.id in RESERVED_NAMES:
            raise ConditionError(
                "比较的左边必须是表单字段名 / the left side of a comparison must be a form field"
            )
        value = _literal(right)
        cmp = _OPS[op_type]
        if cmp in ("in", "not in") and not isinstance(value, tuple):
            raise ConditionError(
                f"“{cmp}” 的右边必须是列表 / the right side of '{cmp}' must be a list"
            )
        return Compare(left.id, cmp, value)
    raise ConditionError(
        f"不支持的表达式：{ast.unparse(node)} / unsupported expression: {ast.unparse(node)}"
    )


def _literal(node: ast.expr) -> Operand:
    if isinstance(node, ast.Constant) and isinstance(node.value, str | int | float | bool):
        return node.value
    if isinstance(node, ast.Name) and node.id in _LITERAL_NAMES:
        return _LITERAL_NAMES[node.id]
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, int | float)
        and not isinstance(node.operand.value, bool)
    ):
        return -node.operand.value
    if isinstance(node, ast.List | ast.Tuple):
        items = tuple(_literal(e) for e in node.elts)
        if any(isinstance(i, tuple) for i in items):
            raise ConditionError("列表不能嵌套 / lists cannot be nested")
        return tuple(i for i in items if not isinstance(i, tuple))
    if isinstance(node, ast.Name):
        raise ConditionError(
            f"比较的右边必须是常量，“{node.id}” 不是（字符串请加引号）"
            f" / the right side must be a literal, '{node.id}' is not (quote strings)"
        )
    raise ConditionError(
        f"不支持的常量：{ast.unparse(node)} / unsupported literal: {ast.unparse(node)}"
    )


def comparisons(cond: Condition) -> list[Compare]:
    """Every ``field <op> value`` in the condition, for type checks against the form."""
    if isinstance(cond, Compare):
        return [cond]
    if isinstance(cond, Truthy):
        return []
    if isinstance(cond, Not):
        return comparisons(cond.operand)
    return [c for operand in cond.operands for c in comparisons(operand)]


def truthy_fields(cond: Condition) -> list[str]:
    """Fields used bare, as a yes/no test (only boolean fields make sense there)."""
    if isinstance(cond, Truthy):
        return [cond.field]
    if isinstance(cond, Compare):
        return []
    if isinstance(cond, Not):
        return truthy_fields(cond.operand)
    return [f for operand in cond.operands for f in truthy_fields(operand)]


def evaluate(cond: Condition, form: Mapping[str, object]) -> bool:
    """Evaluate against submitted form values; a missing field is ``None`` (never raises).

    Pure and deterministic, so the case workflow may call it directly.
    """
    if isinstance(cond, BoolOp):
        results = (evaluate(c, form) for c in cond.operands)
        return all(results) if cond.op == "and" else any(results)
    if isinstance(cond, Not):
        return not evaluate(cond.operand, form)
    if isinstance(cond, Truthy):
        return bool(form.get(cond.field))
    actual = form.get(cond.field)
    expected = cond.value
    if cond.op == "==":
        return actual == expected
    if cond.op == "!=":
        return actual != expected
    if cond.op in ("in", "not in"):
        assert isinstance(expected, tuple)
        found = actual in expected
        return found if cond.op == "in" else not found
    if actual is None or expected is None or isinstance(expected, tuple):
        return False
    try:
        if cond.op == "<":
            return actual < expected  # type: ignore[operator]
        if cond.op == "<=":
            return actual <= expected  # type: ignore[operator]
        if cond.op == ">":
            return actual > expected  # type: ignore[operator]
        return actual >= expected  # type: ignore[operator]
    except TypeError:
        return False

"""Validating an application form against a procedure's form schema.

The schema is data (``FormSchema``); a pydantic model is built from it once per procedure
version so that errors come back with field paths, the way API clients expect them.
"""

from __future__ import annotations

import datetime as dt
import math
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
)

from definitions.loader import explain
from definitions.models import FieldType, FormField, FormSchema


def storable(value: str) -> str:
    """Refuse text that no store can keep as it is: a NUL character (PostgreSQL refuses it)
    or an unpaired surrogate (not encodable as UTF-8)."""
    if "\x00" in value:
        raise ValueError("不得包含 NUL 字符 / must not contain NUL characters")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise ValueError("包含无效的 Unicode 字符 / contains an unpaired surrogate")
    return value


LARGEST_INTEGER = 2**53 - 1
"""Whole numbers a form may hold when its schema sets no bound: every JSON reader (and
JavaScript) keeps them exact."""
LARGEST_NUMBER = 1e15
"""Likewise for numbers with fractions: amounts and areas stay far below."""


def _filled(value: str) -> str:
    if not value.strip():
        raise ValueError("不能只有空白 / must not be blank")
    return value


def _iso_date(value: Any) -> Any:
    if not isinstance(value, str | dt.date) or isinstance(value, dt.datetime):
        raise ValueError("日期须写作 YYYY-MM-DD / a date is written YYYY-MM-DD")
    return value


class FormError(ValueError):
    """The form does not fit the schema; ``errors`` are pydantic's, with field paths."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} invalid form field(s)")
        self.errors = errors


def _annotation(f: FormField) -> Any:
    ge, le = f.min, f.max
    base: Any
    if f.type is FieldType.string:
        checks = [AfterValidator(storable), *([AfterValidator(_filled)] if f.required else [])]
        base = Annotated[
            str,
            Field(strict=True, min_length=1 if f.required else 0, max_length=2000),
            *checks,
        ]
    elif f.type is FieldType.integer:
        # A fractional bound on a whole number: the nearest whole number inside it.
        low = -LARGEST_INTEGER if ge is None else max(math.ceil(ge), -LARGEST_INTEGER)
        high = LARGEST_INTEGER if le is None else min(math.floor(le), LARGEST_INTEGER)
        base = Annotated[int, Field(strict=True, ge=low, le=high)]
    elif f.type is FieldType.number:
        # No strings, no NaN or Infinity (JSON parsers accept them; PostgreSQL does not).
        low_n = -LARGEST_NUMBER if ge is None else max(ge, -LARGEST_NUMBER)
        high_n = LARGEST_NUMBER if le is None else min(le, LARGEST_NUMBER)
        base = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=low_n, le=high_n)]
    elif f.type is FieldType.boolean:
        base = Annotated[bool, Field(strict=True)]
    elif f.type is FieldType.date:
        base = Annotated[dt.date, BeforeValidator(_iso_date)]
    else:
        base = Literal[tuple(f.options or [])]
    return base if f.required else base | None


@lru_cache(maxsize=256)
def _model(schema_json: str) -> type[BaseModel]:
    schema = FormSchema.model_validate_json(schema_json)
    fields: dict[str, Any] = {
        f.key: (_annotation(f), ... if f.required else None) for f in schema.fields
    }
    return create_model("ApplicationForm", __config__=ConfigDict(extra="forbid"), **fields)


def validate_form(schema: FormSchema, data: dict[str, Any]) -> dict[str, Any]:
    """The form's values, normalised to JSON types (dates as ISO text); raises FormError."""
    model = _model(schema.model_dump_json())
    try:
        value = model.model_validate(data)
    except ValidationError as exc:
        raise FormError(
            [
                {"loc": list(e["loc"]), "msg": explain(e), "type": e["type"]}
                for e in exc.errors(include_url=False)
            ]
        ) from None
    return value.model_dump(mode="json", exclude_none=True)

"""Published procedure versions and their content hash.

A procedure's identity is (code, version) plus a hash of its normalised content: the
procedure with every item and department it uses, after defaults are filled in and Chinese
enum spellings are mapped to English. Reformatting the YAML, reordering keys or writing
``会签`` instead of ``all`` leaves the hash unchanged; changing a limit, a material or a stage
changes it. A case carries the whole snapshot, so later edits never reach a running case.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict

from definitions.guide import required_materials
from definitions.loader import Catalog
from definitions.models import Department, Procedure, ServiceItem


class ProcedureSnapshot(BaseModel):
    """Everything a case needs to run a procedure version, frozen at publication."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    procedure: Procedure
    items: list[ServiceItem]
    """In the order the procedure lists them."""
    departments: list[Department]
    """Every department the procedure involves, ordered by code."""
    content_hash: str
    """``sha256:<hex>`` of the normalised content above."""

    @property
    def code(self) -> str:
        """The procedure code."""
        return self.procedure.code

    @property
    def version(self) -> int:
        """The procedure version."""
        return self.procedure.version

    def required_keys(self, form: Mapping[str, Any]) -> list[str]:
        """Keys of the materials an application with this form must hand in."""
        items = {i.code: i for i in self.items}
        return [m.key for m in required_materials(self.procedure, items, form)]

    def item(self, code: str) -> ServiceItem:
        """An item of this snapshot (KeyError if the procedure does not merge it)."""
        for item in self.items:
            if item.code == code:
                return item
        raise KeyError(code)


def _canonical(model: BaseModel) -> Any:
    """The model as JSON data, without fields added to the language later while they hold
    their default: a definition that does not use a new field keeps the hash it was
    published with (fields marked ``json_schema_extra={"added": N}``)."""
    data = model.model_dump(mode="json", by_alias=True)
    return _drop_added(model, data)


def _drop_added(model: BaseModel, data: Any) -> Any:
    if not isinstance(data, dict):
        return data
    for name, info in type(model).model_fields.items():
        key = info.alias or name
        value = getattr(model, name)
        extra = info.json_schema_extra
        if (
            isinstance(extra, dict)
            and "added" in extra
            and value == info.get_default(call_default_factory=True)
        ):
            data.pop(key, None)
        elif isinstance(value, BaseModel):
            data[key] = _drop_added(value, data.get(key))
        elif isinstance(value, list):
            data[key] = [
                _drop_added(v, d) if isinstance(v, BaseModel) else d
                for v, d in zip(value, data.get(key) or [], strict=False)
            ]
    return data


def content_hash(
    procedure: Procedure, items: list[ServiceItem], departments: list[Department]
) -> str:
    """Hash of the normalised content (canonical JSON, sorted keys, UTF-8)."""
    body = {
        "procedure": _canonical(procedure),
        "items": [_canonical(i) for i in items],
        "departments": [_canonical(d) for d in departments],
    }
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def prune_unknown(cls: type[BaseModel], data: Any) -> Any:
    """``data`` without the keys ``cls`` (and the models nested in it) does not know.

    The definition models refuse unknown fields, which is right for YAML a person wrote. A
    snapshot inside a running case's history is another matter: it may have been written by
    a newer version that knows more fields, and the case must still run (see
    workflows.contracts.CaseInput).
    """
    if not isinstance(data, dict):
        return data
    known: dict[str, Any] = {}
    for name, info in cls.model_fields.items():
        known[name] = info.annotation
        if info.alias:
            known[info.alias] = info.annotation
    return {k: _prune(known[k], v) for k, v in data.items() if k in known}


def _prune(annotation: Any, value: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return prune_unknown(annotation, value)
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) is list and isinstance(value, list) and args:
        return [_prune(args[0], v) for v in value]
    if get_origin(annotation) is Annotated and args:
        return _prune(args[0], value)
    models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
    if len(models) == 1 and isinstance(value, dict):
        return prune_unknown(models[0], value)
    return value


def snapshot(catalog: Catalog, procedure: Procedure) -> ProcedureSnapshot:
    """Freeze a validated procedure with its items and departments.

    Raises KeyError naming the first missing reference; validate the catalog first.
    """
    items: list[ServiceItem] = []
    for code in procedure.items:
        item = catalog.item(code)
        if item is None:
            raise KeyError(f"unknown item {code}")
        items.append(item)
    codes = {procedure.intake.department} | {i.department for i in items}
    codes |= {t.department for s in procedure.stages for t in s.tasks if t.department}
    departments: list[Department] = []
    for code in sorted(codes):
        department = catalog.department(code)
        if department is None:
            raise KeyError(f"unknown department {code}")
        departments.append(department)
    return ProcedureSnapshot(
        procedure=procedure,
        items=items,
        departments=departments,
        content_hash=content_hash(procedure, items, departments),
    )

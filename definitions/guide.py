"""The service guide (办事指南): what an applicant reads before applying.

Built from the same definitions the engine runs, so the guide can never promise something
the procedure does not do. Materials of a merged procedure are listed once per key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from definitions.models import Department, JoinPolicy, Material, Procedure, ServiceItem


@dataclass(frozen=True)
class GuideMaterial:
    key: str
    name: str
    form: str
    copies: int
    requirement: str
    """必要 / 容缺 (may follow later) / 非必要."""
    commitment: bool
    """告知承诺: a written commitment may replace it."""
    items: tuple[str, ...]
    """Names of the items that need it."""


@dataclass(frozen=True)
class GuideStep:
    name: str
    department: str
    days: int
    """Working days."""
    note: str = ""


@dataclass
class Guide:
    code: str
    title: str
    kind: str
    departments: list[str]
    committed_limit: int
    """Working days from acceptance; 0 means 即办."""
    legal_limit: int | None
    trips: int
    fee: Decimal
    channels: list[str]
    intake: str
    delivery: str
    results: list[str]
    materials: list[GuideMaterial]
    steps: list[GuideStep]
    not_counted: list[GuideStep] = field(default_factory=list)
    """第四十五条 steps: their time does not count toward the limit."""
    form_fields: list[str] = field(default_factory=list)
    legal_basis: list[str] = field(default_factory=list)

    def render(self) -> str:
        """The guide as plain text for a terminal or a printout."""
        lines = [
            f"{self.title}（{self.code}）",
            f"类型：{self.kind}",
            f"办理部门：{'、'.join(self.departments)}",
            f"办理时限：{_limit(self.committed_limit)}"
            + (f"（法定 {self.legal_limit} 个工作日）" if self.legal_limit is not None else ""),
            f"到办事现场次数：{self.trips} 次",
            f"收费：{'不收费' if self.fee == 0 else f'{self.fee} 元'}",
            f"办理渠道：{'、'.join(self.channels)}",
            f"受理：{self.intake}",
            f"办理结果：{'、'.join(self.results)}",
            f"送达：{self.delivery}",
            "",
            "申请材料：",
        ]
        for i, m in enumerate(self.materials, 1):
            extra = "；可告知承诺替代" if m.commitment else ""
            lines.append(
                f"  {i}. {m.name}（{m.form} {m.copies} 份，{m.requirement}{extra}）"
                + (f" — {'、'.join(m.items)}" if len(self.departments) > 1 else "")
            )
        if self.form_fields:
            lines += ["", "需填写：" + "、".join(self.form_fields)]
        lines += ["", "办理流程："]
        lines += [
            f"  {i}. {s.name} — {s.department}，{_limit(s.days)}{s.note}"
            for i, s in enumerate(self.steps, 1)
        ]
        if self.not_counted:
            lines += ["", "不计入办理时限的环节（行政许可法 第四十五条）："]
            lines += [
                f"  · {s.name} — {s.department}，约 {s.days} 个工作日" for s in self.not_counted
            ]
        if self.legal_basis:
            lines += ["", "设定依据："] + [f"  · {b}" for b in self.legal_basis]
        return "\n".join(lines)


_JOIN_NOTES = {
    JoinPolicy.all: "会签：全部通过",
    JoinPolicy.any: "或签：任一通过",
    JoinPolicy.sequential: "依次办理",
}


def _limit(days: int) -> str:
    return "即办" if days == 0 else f"{days} 个工作日"


def _requirement(m: Material) -> str:
    if not m.required:
        return "非必要"
    return "必要，可容缺后补" if m.tolerance else "必要"


def guide_materials(items: list[ServiceItem]) -> list[GuideMaterial]:
    """Each material once per key, with the items that need it (the largest demand wins)."""
    merged: dict[str, tuple[Material, list[str]]] = {}
    for item in items:
        for m in item.materials:
            if m.key in merged:
                first, users = merged[m.key]
                users.append(item.name)
                if m.copies > first.copies or (m.required and not first.required):
                    merged[m.key] = (m, users)
            else:
                merged[m.key] = (m, [item.name])
    return [
        GuideMaterial(
            m.key, m.name, m.form.label, m.copies, _requirement(m), m.commitment, tuple(users)
        )
        for m, users in merged.values()
    ]


def required_materials(
    procedure: Procedure, items: Mapping[str, ServiceItem], form: Mapping[str, Any]
) -> list[Material]:
    """The materials an application with this form must hand in (each key once): the
    required ones of the items it needs (:meth:`Procedure.items_for`)."""
    needed = [items[code] for code in procedure.items_for(form) if code in items]
    produced = {key: item.code for item in needed for key in item.produces}
    seen: dict[str, Material] = {}
    for item in needed:
        for m in item.materials:
            # A document another item of the bundle issues is obtained, not asked for.
            if m.required and produced.get(m.key, item.code) == item.code:
                seen.setdefault(m.key, m)
    return list(seen.values())


def _not_counted(items: list[ServiceItem], dept: Mapping[str, Department]) -> list[GuideStep]:
    return [
        GuideStep(f"{s.name}（{item.name}）", _name(dept, item.department), s.days)
        for item in items
        for s in item.steps
        if not s.counted
    ]


def _name(departments: Mapping[str, Department], code: str) -> str:
    d = departments.get(code)
    return d.name if d else code


def item_guide(item: ServiceItem, departments: Mapping[str, Department]) -> Guide:
    """The guide of one service item applied for on its own."""
    return Guide(
        code=item.code,
        title=item.name,
        kind=item.type.label,
        departments=[_name(departments, item.department)],
        committed_limit=item.committed_limit,
        legal_limit=item.legal_limit,
        trips=item.trips,
        fee=item.fee.amount,
        channels=[c.label for c in item.channels],
        intake=_name(departments, item.department),
        delivery="、".join(d.label for d in item.delivery),
        results=[item.result.name],
        materials=guide_materials([item]),
        steps=[
            GuideStep(s.name, _name(departments, item.department), s.days)
            for s in item.steps
            if s.counted
        ],
        not_counted=_not_counted([item], departments),
        legal_basis=list(item.legal_basis),
    )


def procedure_guide(
    procedure: Procedure,
    items: Mapping[str, ServiceItem],
    departments: Mapping[str, Department],
) -> Guide:
    """The guide of a procedure (a merged 一件事 or a single item) whose items are known."""
    merged = [items[c] for c in procedure.items if c in items]
    steps: list[GuideStep] = []
    for stage in procedure.stages:
        for task in stage.tasks:
            item = items.get(task.item)
            days = task.days if task.days is not None else item.committed_limit if item else 0
            dept = task.department or (item.department if item else "")
            note = f"（阶段：{stage.name}；{_JOIN_NOTES[stage.join]}"
            note += f"；仅当 {task.when}）" if task.when else "）"
            steps.append(
                GuideStep(item.name if item else task.item, _name(departments, dept), days, note)
            )
    intake = (
        f"{_name(departments, procedure.intake.department)} 一窗受理，"
        f"{_limit(procedure.intake.acceptance_days)}内作出受理决定"
        + ("，支持容缺受理" if procedure.intake.tolerance else "")
    )
    method = procedure.delivery.method.label
    return Guide(
        code=f"{procedure.code} v{procedure.version}",
        title=procedure.name,
        kind="一件事（联合办理）"
        if procedure.is_merged
        else merged[0].type.label
        if merged
        else "",
        departments=list(dict.fromkeys(s.department for s in steps)),
        committed_limit=procedure.committed_limit,
        legal_limit=procedure.legal_limit
        if procedure.legal_limit is not None
        else (45 if procedure.is_merged else merged[0].legal_limit if merged else None),
        trips=procedure.trips,
        fee=sum((i.fee.amount for i in merged), Decimal(0)),
        channels=[c.label for c in procedure.intake.channels],
        intake=intake,
        delivery=f"{method}，决定后 {procedure.delivery.days} 个工作日内全部结果一次送达",
        results=[i.result.name for i in merged],
        materials=[
            m
            for m in guide_materials(merged)
            if m.key not in {k for i in merged for k in i.produces}
        ],
        steps=steps,
        not_counted=_not_counted(merged, departments),
        form_fields=[f.label for f in procedure.form.fields],
        legal_basis=list(dict.fromkeys(b for i in merged for b in i.legal_basis)),
    )

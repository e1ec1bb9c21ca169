"""The procedure language: departments, service items, merged procedures, calendar overrides.

Every definition is one YAML document with a ``kind``. Field names are English; enum values
may be written in English or in Chinese (``join: 会签`` equals ``join: all``), and are
normalised to English so that the content hash does not depend on the spelling.

All time limits are in working days (工作日, see definitions.calendar); 0 means 即办
(handled on the spot, due by the end of the day of acceptance).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from definitions.conditions import Condition, ConditionError, evaluate, parse_condition

# --------------------------------------------------------------------------- basic types

Code = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{1,63}$"),
]
"""An identifier such as 事项编码 or a department code: letters, digits, ``-``, ``_``, ``.``."""

Key = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z][a-z0-9_]{0,63}$")]
"""A lower-case snake_case key (stage, task, step, material and form-field keys)."""

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]

IMMEDIATE_WORDS = frozenset({"即办", "immediate", "on the spot"})


def _limit_words(value: Any) -> Any:
    if isinstance(value, str) and value.strip() in IMMEDIATE_WORDS:
        return 0
    return value


WorkingDays = Annotated[int, BeforeValidator(_limit_words), Field(ge=0, le=1000, strict=False)]
"""A time limit in working days; ``即办`` / ``immediate`` is 0 (done the same day)."""


class LabeledEnum(StrEnum):
    """A string enum whose members may also be written by their Chinese label in YAML."""

    @property
    def label(self) -> str:
        """The Chinese label shown to users (zh-CN first)."""
        return _LABELS[type(self)][self.value]

    @classmethod
    def _missing_(cls, value: object) -> Self | None:
        if isinstance(value, str):
            for member in cls:
                if _LABELS[cls].get(member.value) == value.strip() or member.value == value.strip():
                    return member
        return None

    @classmethod
    def choices(cls) -> str:
        """The accepted spellings, for error messages."""
        return ", ".join(f"{m.value} ({_LABELS[cls][m.value]})" for m in cls)


_LABELS: dict[type[LabeledEnum], dict[str, str]] = {}


def _labels(enum_cls: type[LabeledEnum], labels: dict[str, str]) -> None:
    _LABELS[enum_cls] = labels


class ItemType(LabeledEnum):
    """政务服务事项类型 (the ten kinds of the national catalogue, grouped)."""

    licensing = "licensing"
    confirmation = "confirmation"
    payment = "payment"
    ruling = "ruling"
    reward = "reward"
    other_power = "other_power"
    public_service = "public_service"


_labels(
    ItemType,
    {
        "licensing": "行政许可",
        "confirmation": "行政确认",
        "payment": "行政给付",
        "ruling": "行政裁决",
        "reward": "行政奖励",
        "other_power": "其他行政权力",
        "public_service": "公共服务",
    },
)


class MaterialForm(LabeledEnum):
    original = "original"
    copy = "copy"
    electronic = "electronic"


_labels(MaterialForm, {"original": "原件", "copy": "复印件", "electronic": "电子件"})


class Channel(LabeledEnum):
    online = "online"
    window = "window"
    mail = "mail"


_labels(Channel, {"online": "网上办理", "window": "窗口办理", "mail": "邮寄申请"})


class DeliveryMethod(LabeledEnum):
    window = "window"
    post = "post"
    electronic = "electronic"


_labels(DeliveryMethod, {"window": "窗口领取", "post": "邮寄送达", "electronic": "电子证照"})


class StepKind(LabeledEnum):
    """Internal steps of an item; the last five do not count toward the limit (第四十五条)."""

    receive = "receive"
    accept = "accept"
    review = "review"
    decide = "decide"
    deliver = "deliver"
    site_survey = "site_survey"
    hearing = "hearing"
    tendering = "tendering"
    inspection = "inspection"
    expert_review = "expert_review"
    public_notice = "public_notice"


_labels(
    StepKind,
    {
        "receive": "收件",
        "accept": "受理",
        "review": "审查",
        "decide": "决定",
        "deliver": "送达",
        "site_survey": "现场核查",
        "hearing": "听证",
        "tendering": "招标拍卖",
        "inspection": "检验检测检疫鉴定",
        "expert_review": "专家评审",
        "public_notice": "公示",
    },
)

NOT_COUNTED_KINDS = frozenset(
    {
        StepKind.hearing,
        StepKind.tendering,
        StepKind.inspection,
        StepKind.expert_review,
        StepKind.public_notice,
    }
)
"""Step kinds whose time is excluded from the limit (行政许可法 第四十五条; 公示 locally)."""


class JoinPolicy(LabeledEnum):
    """How a stage's parallel tasks decide the stage."""

    all = "all"
    any = "any"
    sequential = "sequential"


_labels(JoinPolicy, {"all": "会签", "any": "或签", "sequential": "依次"})


class FieldType(LabeledEnum):
    string = "string"
    integer = "integer"
    number = "number"
    boolean = "boolean"
    date = "date"
    enum = "enum"


_labels(
    FieldType,
    {
        "string": "文本",
        "integer": "整数",
        "number": "数值",
        "boolean": "是否",
        "date": "日期",
        "enum": "选项",
    },
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


# --------------------------------------------------------------------------- departments


class Brand(_Model):
    """A department's service brand (服务品牌), judged by the department's own figures."""

    name: Text
    slogan: Text | None = None
    identity: Text | None = None
    """Visual identity: a colour or a logo path, as the department publishes it."""


class Department(_Model):
    """An implementing body (实施主体) that handles service items."""

    kind: Literal["Department"] = "Department"
    code: Code
    name: Text
    name_en: Text
    brand: Brand | None = None
    calendar: Key | None = None
    """Calendar to use when not the national one (e.g. a region with its own holidays)."""
    rating_default_days: int | None = Field(None, ge=1, le=30, json_schema_extra={"added": 3})
    """For a front desk: a case its applicant has not rated this many working days after
    delivery counts as 满意 (4), marked defaulted (as some provinces rule). Unset: no rating."""
    callback_days: int | None = Field(None, ge=1, le=30, json_schema_extra={"added": 4})
    """Working days to call back the applicant of a bad rating and verify it (回访核实).
    Unset: 3."""
    rectification_days: int | None = Field(None, ge=1, le=60, json_schema_extra={"added": 4})
    """Working days to rectify what a justified bad rating found (整改), as the department's
    jurisdiction rules (5 in some provinces). Unset: 15."""


# --------------------------------------------------------------------------- service items


class Material(_Model):
    """One document the applicant hands in.

    ``key`` is stable across items: two items asking for the same key ask for the same
    material, which a merged procedure collects once.
    """

    key: Key
    name: Text
    name_en: Text | None = None
    form: MaterialForm = MaterialForm.original
    copies: int = Field(1, ge=1, le=50)
    required: bool = True
    tolerance: bool = False
    """容缺: the case may be accepted without it against a commitment to supply it later."""
    commitment: bool = False
    """告知承诺制: the applicant's written commitment may replace it."""

    @model_validator(mode="after")
    def _tolerance_needs_required(self) -> Self:
        if self.tolerance and not self.required:
            raise ValueError(
                "容缺 只适用于必要材料（required: true）/ tolerance applies to required materials"
            )
        return self


class Fee(_Model):
    amount: Decimal = Field(Decimal(0), ge=0, max_digits=12, decimal_places=2)
    """In yuan (元)."""
    basis: Text | None = None
    """The charging standard's legal basis; required when the amount is not zero."""

    @model_validator(mode="before")
    @classmethod
    def _from_number(cls, value: Any) -> Any:
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            return {"amount": value}
        return value

    @field_validator("amount")
    @classmethod
    def _cents(cls, value: Decimal) -> Decimal:
        # 0, 0.0 and 0.00 are the same fee and must hash the same.
        return value.quantize(Decimal("0.01"))

    @model_validator(mode="after")
    def _basis_for_fee(self) -> Self:
        if self.amount > 0 and not self.basis:
            raise ValueError("收费事项必须写明收费依据 / a fee needs its basis")
        return self


class ResultDocument(_Model):
    name: Text
    name_en: Text | None = None
    electronic: bool = False
    """Whether an electronic licence (电子证照) is issued as well."""


class Step(_Model):
    """An internal step of an item and its share of the time, in working days."""

    key: Key
    name: Text
    kind: StepKind
    days: WorkingDays = 0
    """The step's share, or for a 第四十五条 step the period the applicant is told in writing;
    a running step raises its own 黄牌 and 红牌 against it."""
    counted: bool = True
    """Whether the step's time counts toward the limit; 第四十五条 steps do not."""
    repeatable: bool = Field(False, json_schema_extra={"added": 2})
    """A not-counted step that may run again once finished (a second hearing); by default a
    finished step cannot be restarted to park a task outside the clock."""


class ServiceItem(_Model):
    """A service item (政务服务事项) as listed in the implementation list (实施清单)."""

    kind: Literal["ServiceItem"] = "ServiceItem"
    code: Code
    name: Text
    name_en: Text | None = None
    type: ItemType
    department: Code
    legal_basis: list[Text] = Field(min_length=1)
    legal_limit: WorkingDays
    """法定时限 in working days."""
    committed_limit: WorkingDays
    """承诺时限 in working days; never longer than the legal limit."""
    materials: list[Material] = Field(default_factory=list)
    fee: Fee = Fee()
    channels: list[Channel] = Field(min_length=1)
    trips: int = Field(ge=0, le=10)
    """到办事现场次数: on-site visits the applicant must make for this item alone."""
    result: ResultDocument
    produces: list[Key] = Field(default_factory=list, json_schema_extra={"added": 2})
    """Material keys this item's result is (e.g. ``business_licence`` for company
    registration): a merged procedure that has this item obtains them itself and does not
    ask the applicant for them."""
    delivery: list[DeliveryMethod] = Field(min_length=1)
    steps: list[Step] = Field(min_length=1)

    @field_validator("materials", "steps")
    @classmethod
    def _unique_keys(cls, value: list[Any]) -> list[Any]:
        seen: set[str] = set()
        for entry in value:
            if entry.key in seen:
                raise ValueError(f"键 “{entry.key}” 重复 / duplicate key '{entry.key}'")
            seen.add(entry.key)
        return value

    @property
    def counted_step_days(self) -> int:
        """Working days of the steps that count toward the limit."""
        return sum(s.days for s in self.steps if s.counted)

    @property
    def not_counted_days(self) -> int:
        """Working days of 第四十五条 steps (expert review etc.), outside the limit."""
        return sum(s.days for s in self.steps if not s.counted)


# --------------------------------------------------------------------------- procedures


class FormField(_Model):
    """One field of the application form."""

    key: Key
    label: Text
    label_en: Text | None = None
    type: FieldType
    required: bool = True
    options: list[Text] | None = None
    """Allowed values of an ``enum`` field."""
    min: float | None = None
    max: float | None = None
    headline: bool = Field(False, json_schema_extra={"added": 2})
    """Shown in inbox rows and case lists, and searched by supervisors' free text (e.g. the
    company's or the applicant's name)."""

    @model_validator(mode="after")
    def _options_for_enum(self) -> Self:
        if self.type is FieldType.enum and not self.options:
            raise ValueError("选项字段必须列出 options / an enum field needs options")
        if self.type is not FieldType.enum and self.options:
            raise ValueError("只有选项字段可以有 options / only enum fields take options")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min 大于 max / min is greater than max")
        return self


HEADLINE_DEFAULT = 2
"""Text fields taken as the headline of a form that declares none."""


class FormSchema(_Model):
    fields: list[FormField] = Field(default_factory=list)

    @field_validator("fields")
    @classmethod
    def _unique(cls, value: list[FormField]) -> list[FormField]:
        seen: set[str] = set()
        for f in value:
            if f.key in seen:
                raise ValueError(f"字段 “{f.key}” 重复 / duplicate field '{f.key}'")
            seen.add(f.key)
        return value

    def field(self, key: str) -> FormField | None:
        """The field with that key, if declared."""
        return next((f for f in self.fields if f.key == key), None)

    def headline_fields(self) -> list[FormField]:
        """The fields that name a case in lists: those marked ``headline``, or else the first
        text fields of the form (forms published before the mark existed)."""
        marked = [f for f in self.fields if f.headline]
        if marked:
            return marked
        text = [f for f in self.fields if f.type is FieldType.string]
        return text[:HEADLINE_DEFAULT]

    def headline(self, form: dict[str, Any]) -> dict[str, str]:
        """The headline fields' values of a filled form, as text, in declaration order."""
        out = {}
        for f in self.headline_fields():
            value = form.get(f.key)
            if value is not None and value != "":
                out[f.key] = str(value)
        return out


def _check_condition(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("条件必须是表达式字符串 / a condition must be an expression string")
    if isinstance(value, str):
        try:
            parse_condition(value)
        except ConditionError as exc:
            raise ValueError(str(exc)) from None
    return value


ConditionExpr = Annotated[str, BeforeValidator(_check_condition), Field(min_length=1)]


class Task(_Model):
    """One department handling one item inside a stage."""

    key: Key
    item: Code
    department: Code | None = None
    """Defaults to the item's own department."""
    days: WorkingDays | None = None
    """This task's share of the bundle's time; defaults to the item's committed limit."""
    when: ConditionExpr | None = None
    """Only created when the condition on the form holds (e.g. food business)."""

    @property
    def condition(self) -> Condition | None:
        """The parsed ``when`` condition."""
        return parse_condition(self.when) if self.when else None


class Transition(_Model):
    to: Key
    when: ConditionExpr | None = None

    @property
    def condition(self) -> Condition | None:
        """The parsed ``when`` condition."""
        return parse_condition(self.when) if self.when else None


class Stage(_Model):
    """A stage runs its tasks in parallel and is decided by its join policy."""

    key: Key
    name: Text
    name_en: Text | None = None
    join: JoinPolicy = JoinPolicy.all
    tasks: list[Task] = Field(min_length=1)
    next: list[Transition] = Field(default_factory=list)
    """Taken in order: the first whose condition holds; none means the stage is the last."""


class Intake(_Model):
    """一窗受理: one front desk takes the whole application."""

    department: Code
    """The front desk (usually the government service centre)."""
    acceptance_days: WorkingDays = Field(5, le=5)
    """受理 decision within this many working days, 5 at most (行政许可法 第三十二条)."""
    tolerance: bool = False
    """容缺受理 allowed for this procedure."""
    channels: list[Channel] = Field(default_factory=lambda: [Channel.online, Channel.window])


class Delivery(_Model):
    """How all results are handed out at once."""

    method: DeliveryMethod
    days: WorkingDays = Field(10, le=10)
    """Results issued within this many working days of the decision (第四十四条)."""


class WarningThreshold(_Model):
    """When a supervision warning (黄牌) fires: N working days before, or at P% of the limit."""

    days_before: int | None = Field(None, ge=0, le=100)
    percent: int | None = Field(None, ge=1, le=99)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.endswith("%"):
                return {"percent": text[:-1].strip()}
            if text.endswith("d"):
                return {"days_before": text[:-1].strip()}
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.days_before is None) == (self.percent is None):
            raise ValueError(
                "预警阈值需且仅需 days_before 或 percent 之一 / give exactly one of days_before,"
                " percent"
            )
        return self


class Supervision(_Model):
    warning: WarningThreshold = WarningThreshold(days_before=1)


class Procedure(_Model):
    """A service procedure: one item, or a merged bundle (一件事) run in parallel stages."""

    kind: Literal["Procedure"] = "Procedure"
    code: Code
    name: Text
    name_en: Text | None = None
    version: int = Field(ge=1)
    description: Text | None = None
    items: list[Code] = Field(min_length=1)
    form: FormSchema = FormSchema()
    stages: list[Stage] = Field(min_length=1)
    start: Key | None = None
    """The first stage; defaults to the first one listed."""
    committed_limit: WorkingDays
    """The bundle's 承诺时限 in working days, from acceptance to decision."""
    legal_limit: WorkingDays | None = None
    """Defaults to 45 for joint handling, else the item's legal limit (第四十二条)."""
    trips: int = Field(ge=0, le=10)
    """Promised 到办事现场次数 for the whole procedure."""
    intake: Intake
    delivery: Delivery
    supervision: Supervision = Supervision()

    @field_validator("items")
    @classmethod
    def _unique_items(cls, value: list[str]) -> list[str]:
        dupes = sorted({v for v in value if value.count(v) > 1})
        if dupes:
            raise ValueError(f"事项重复列出 / item listed twice: {', '.join(dupes)}")
        return value

    @field_validator("stages")
    @classmethod
    def _unique_stage_and_task_keys(cls, value: list[Stage]) -> list[Stage]:
        stages: set[str] = set()
        tasks: set[str] = set()
        for stage in value:
            if stage.key in stages:
                raise ValueError(f"阶段 “{stage.key}” 重复 / duplicate stage '{stage.key}'")
            stages.add(stage.key)
            for task in stage.tasks:
                if task.key in tasks:
                    raise ValueError(f"任务 “{task.key}” 重复 / duplicate task '{task.key}'")
                tasks.add(task.key)
        return value

    @property
    def start_stage(self) -> str:
        """The key of the first stage."""
        return self.start or self.stages[0].key

    def stage(self, key: str) -> Stage | None:
        """The stage with that key, if any."""
        return next((s for s in self.stages if s.key == key), None)

    @property
    def is_merged(self) -> bool:
        """More than one item: joint handling (联合/集中办理) under 第四十二条."""
        return len(self.items) > 1

    def items_for(self, form: Mapping[str, Any]) -> list[str]:
        """Codes of the items an application with this form needs, in the procedure's order:
        those with a task whose condition holds (or that has none). An item whose every task
        the form rules out (e.g. the food licence of a company that sells no food) is not
        applied for, so its materials are not asked for."""
        wanted = {
            t.item
            for stage in self.stages
            for t in stage.tasks
            if t.condition is None or evaluate(t.condition, form)
        }
        return [code for code in self.items if code in wanted]


# --------------------------------------------------------------------------- calendar


class DayRange(_Model):
    """One date or an inclusive range of dates, with the name of the holiday."""

    date: dt.date | None = None
    start: dt.date | None = Field(None, alias="from")
    end: dt.date | None = Field(None, alias="to")
    name: Text | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_shape(self) -> Self:
        if self.date is not None and (self.start or self.end):
            raise ValueError("写 date，或写 from/to，不能同时写 / give date or from/to, not both")
        if self.date is None and (self.start is None or self.end is None):
            raise ValueError("需要 date 或 from 与 to / give date, or both from and to")
        if self.start and self.end and self.start > self.end:
            raise ValueError("from 晚于 to / 'from' is after 'to'")
        return self

    def days(self) -> list[dt.date]:
        """Every date of the range."""
        if self.date is not None:
            return [self.date]
        assert self.start is not None
        assert self.end is not None
        n = (self.end - self.start).days
        return [self.start + dt.timedelta(days=i) for i in range(n + 1)]


NATIONAL_CALENDAR = "national"


class CalendarYear(_Model):
    """A year's official holiday arrangement, or a regional calendar's additions.

    For the ``national`` calendar the file is the whole year: listed holidays are off, listed
    make-up days (调休) are worked, every other day follows the weekend rule. Other calendars
    are layered on the national one: only their listed days differ from it.
    """

    kind: Literal["CalendarYear"] = "CalendarYear"
    calendar: Key = NATIONAL_CALENDAR
    year: int = Field(ge=2000, le=2100)
    source: Text
    """The notice the arrangement comes from, e.g. 国务院办公厅关于2027年部分节假日安排的通知."""
    holidays: list[DayRange] = Field(default_factory=list)
    workdays: list[DayRange] = Field(default_factory=list)
    """Make-up working days (调休上班), usually weekends."""

    @model_validator(mode="after")
    def _dates_in_year(self) -> Self:
        off = {d for r in self.holidays for d in r.days()}
        on = {d for r in self.workdays for d in r.days()}
        stray = sorted(d for d in off | on if d.year != self.year)
        if stray:
            raise ValueError(
                f"日期不在 {self.year} 年内 / dates outside {self.year}: "
                + ", ".join(d.isoformat() for d in stray)
            )
        both = sorted(off & on)
        if both:
            raise ValueError(
                "同一天既是假日又是调休工作日 / a date is both a holiday and a working day: "
                + ", ".join(d.isoformat() for d in both)
            )
        return self


Definition = Department | ServiceItem | Procedure | CalendarYear
KINDS: dict[str, type[Department | ServiceItem | Procedure | CalendarYear]] = {
    "Department": Department,
    "ServiceItem": ServiceItem,
    "Procedure": Procedure,
    "CalendarYear": CalendarYear,
}

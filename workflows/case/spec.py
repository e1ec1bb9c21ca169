"""The procedure a case runs, as the rules read it: lookups over the pinned snapshot."""

from __future__ import annotations

from definitions.models import JoinPolicy, ServiceItem, Stage, Step, WarningThreshold
from definitions.versioning import ProcedureSnapshot


class Spec:
    """Lookups over a procedure snapshot; built once per workflow run, never changed."""

    def __init__(
        self,
        snapshot: ProcedureSnapshot,
        default_calendar: str = "national",
        rating_window_days: int = 10,
    ) -> None:
        self.snapshot = snapshot
        self.procedure = snapshot.procedure
        desk = next(
            (d for d in snapshot.departments if d.code == self.procedure.intake.department), None
        )
        self.rating_defaults = desk is not None and desk.rating_default_days is not None
        """The front desk's jurisdiction counts an unrated case as 满意 when the window ends."""
        self.rating_window_days = (
            desk.rating_default_days
            if desk is not None and desk.rating_default_days is not None
            else rating_window_days
        )
        """Working days the applicant has to rate after delivery."""
        self.items: dict[str, ServiceItem] = {i.code: i for i in snapshot.items}
        self.stages: dict[str, Stage] = {s.key: s for s in self.procedure.stages}
        self.calendars: dict[str, str] = {
            d.code: d.calendar or default_calendar for d in snapshot.departments
        }
        self.default_calendar = default_calendar

    @property
    def desk(self) -> str:
        """The front desk's department (一窗受理): intake and delivery."""
        return self.procedure.intake.department

    @property
    def warning(self) -> WarningThreshold:
        """When a 黄牌 fires on the procedure's clocks."""
        return self.procedure.supervision.warning

    def calendar_of(self, department: str | None) -> str:
        """The department's calendar (a regional one, or the case's default)."""
        return self.calendars.get(department or self.desk, self.default_calendar)

    def step(self, item_code: str, step_key: str) -> Step | None:
        """A step of an item, if the item has it."""
        return next((s for s in self.items[item_code].steps if s.key == step_key), None)

    def join(self, stage_key: str) -> JoinPolicy:
        """The stage's join policy."""
        return self.stages[stage_key].join

    def tolerable(self) -> dict[str, int]:
        """容缺-allowed material keys and the shortest committed limit of an item asking them."""
        out: dict[str, int] = {}
        for item in self.items.values():
            for m in item.materials:
                if m.tolerance:
                    out[m.key] = min(out.get(m.key, item.committed_limit), item.committed_limit)
        return out

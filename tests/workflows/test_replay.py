"""Recorded histories replay against today's workflow code (determinism, workflow.patched).

Two editions run side by side: ``CaseWorkflow`` (the first, workflows.case_v1) keeps running
the cases it started, and its histories (tests/histories/v1) must replay against it unchanged;
new cases start as ``CaseWorkflowV2`` (workflows.case), whose histories are in
tests/histories/v2, and a bad rating's follow-up is ``FollowUpWorkflow``
(tests/histories/followup). ``make histories`` records what is missing; nothing recorded is
replaced or removed.

What this file proves:

- every kept history replays against today's code;
- every path a case or a follow-up can take (tests/workflows/paths.py) is walked by a kept
  history, and each ``workflow.patched`` id is replayed from both sides;
- a change to the command sequence — one timer more, one activity fewer — fails every
  history with a nondeterminism error, and the same change behind ``workflow.patched``
  replays every history cleanly: such a change needs the patch (or a new workflow type).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, WorkflowReplayResult

from tests.fixtures_temporal import HISTORIES
from tests.workflows import paths
from workflows.case import CaseWorkflow
from workflows.case_v1 import CaseWorkflowV1
from workflows.contracts import (
    LEGACY_WORKFLOW_NAME,
    WORKFLOW_NAME,
    ActionResult,
    CaseInput,
    CaseRow,
    FollowUpInput,
    FollowUpRow,
    TaskInput,
)
from workflows.followup import FollowUpWorkflow


def histories(folder: Path) -> list[WorkflowHistory]:
    return [
        WorkflowHistory.from_json(path.stem, path.read_text())
        for path in sorted(folder.glob("*.json"))
    ]


async def replay_all(
    folder: Path, workflows: list[type], *, sandboxed: bool = True
) -> dict[str, BaseException | None]:
    """Each history's replay failure (None: it replayed), one worker for the whole folder."""

    async def each() -> AsyncIterator[WorkflowHistory]:
        for history in histories(folder):
            yield history

    replayer = Replayer(
        workflows=workflows,
        data_converter=pydantic_data_converter,
        **({} if sandboxed else {"workflow_runner": UnsandboxedWorkflowRunner()}),
    )
    out: dict[str, BaseException | None] = {}
    async with replayer.workflow_replay_iterator(each()) as results:
        async for result in results:
            out[result.history.workflow_id] = result.replay_failure
    return out


def failed(results: dict[str, BaseException | None]) -> dict[str, BaseException]:
    return {name: failure for name, failure in results.items() if failure is not None}


async def test_first_edition_histories_replay() -> None:
    results = await replay_all(HISTORIES / "v1", [CaseWorkflowV1])
    assert len(results) >= 20
    assert failed(results) == {}


@pytest.fixture
def asked_patches(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """Every ``workflow.patched`` call while replaying, with its answer: True where the
    history carries the patch's marker (recorded after it), False where it was recorded
    before (today's code takes the old branch)."""
    asked: list[tuple[str, bool]] = []
    real = workflow.patched

    def spy(patch_id: str) -> bool:
        answer = real(patch_id)
        asked.append((patch_id, answer))
        return answer

    monkeypatch.setattr(workflow, "patched", spy)
    return asked


async def test_second_edition_histories_replay_from_both_sides_of_each_patch(
    asked_patches: list[tuple[str, bool]],
) -> None:
    results = await replay_all(HISTORIES / "v2", [CaseWorkflow])
    assert len(results) >= 20, "record them: make histories"
    assert failed(results) == {}
    # A patch that only new histories go through proves nothing about the cases that were
    # running when it shipped; one that only old ones go through, nothing about new cases.
    for patch in paths.patch_ids("case"):
        sides = {answer for asked, answer in asked_patches if asked == patch}
        assert sides == {True, False}, (
            f"workflow.patched({patch!r}) was replayed only {'after' if True in sides else 'before'}"
            " the patch: keep a history recorded before it (never re-record it away) and run"
            " `make histories` for one after it"
        )


async def test_followup_histories_replay() -> None:
    results = await replay_all(HISTORIES / "followup", [FollowUpWorkflow])
    assert len(results) >= 5
    assert failed(results) == {}


# --------------------------------------------------------------------------- every path


def test_every_path_of_a_case_and_a_follow_up_has_a_recorded_history() -> None:
    missing = paths.uncovered(paths.every_path(), paths.all_traces())
    assert missing == [], (
        f"no recorded history walks {', '.join(missing)}: run `make histories` (it records"
        " every scenario of tests/workflows that walks a path no kept history walks); if no"
        " scenario walks it yet, add one to tests/workflows first"
    )


def test_a_path_whose_histories_are_gone_is_reported() -> None:
    kept = [t for t in paths.all_traces() if "release" not in t.updates]
    missing = paths.uncovered(paths.every_path(), kept)
    assert f"{WORKFLOW_NAME}/update:release" in missing
    assert f"{WORKFLOW_NAME}/event:task.released" in missing
    assert "*/event:task.released" in missing


@workflow.defn(name=WORKFLOW_NAME, sandboxed=False)
class CaseWithANewUpdate(CaseWorkflow):
    """Today's case workflow with one update more, which no scenario has sent yet."""

    @workflow.run
    async def run(self, input: CaseInput) -> CaseRow:
        return await super().run(input)

    @workflow.update
    async def reopen(self, data: TaskInput) -> ActionResult:
        raise NotImplementedError


def test_a_new_update_without_a_history_is_reported() -> None:
    recorded = paths.all_traces()
    today = paths.uncovered(paths.derived_paths(), recorded)
    tomorrow = paths.uncovered(paths.derived_paths(case=CaseWithANewUpdate), recorded)
    assert set(tomorrow) - set(today) == {f"{WORKFLOW_NAME}/update:reopen"}


# --------------------------------------------------------------------------- a deliberate change

CHANGE = "replay-test-change"
"""The patch id guarding the deliberate change (never shipped: the change lives in this test)."""
PAUSE = dt.timedelta(seconds=1)


def changed(base: type, change: str, *, guarded: bool) -> type:
    """``base`` (today's workflow class) with one change to its command sequence, at a point
    every history passes (the start of ``run``):

    - ``timer``: one durable timer more before anything else;
    - ``fewer``: the first deadline computation (a local activity) left out.

    ``guarded``: the change only where ``workflow.patched(CHANGE)`` says so.
    """
    name = workflow._Definition.must_from_class(base).name
    # As the base's own annotations read (strings): the SDK compares them with ``__init__``'s.
    pair = (CaseInput, CaseRow) if base is CaseWorkflow else (FollowUpInput, FollowUpRow)
    types = tuple(t.__name__ for t in pair)

    def changing() -> bool:
        return workflow.patched(CHANGE) if guarded else True

    async def run(self: Any, input: Any) -> Any:
        if change == "timer" and changing():
            await workflow.sleep(PAUSE)
        return await base.run(self, input)

    async def settle(self: Any, *args: Any) -> Any:
        if change == "fewer" and not self.ready and changing():
            return []  # the first deadlines wait for the first action
        return await base._settle(self, *args)

    run.__annotations__ = {"input": types[0], "return": types[1]}
    # The SDK refuses workflow methods of local classes: the class is named as a module's.
    class_name = f"{base.__name__}_{change}{'_patched' if guarded else ''}"
    run.__qualname__, settle.__qualname__ = f"{class_name}.run", f"{class_name}._settle"
    cls = type(
        class_name,
        (base,),
        {"run": workflow.run(run), "_settle": settle, "__module__": __name__},
    )
    defined: type = workflow.defn(name=name, sandboxed=False)(cls)
    return defined


EDITIONS = [
    pytest.param(CaseWorkflow, "v2", id="case"),
    pytest.param(FollowUpWorkflow, "followup", id="followup"),
]
CHANGES = ["timer", "fewer"]


@pytest.mark.parametrize("change", CHANGES)
@pytest.mark.parametrize(("base", "folder"), EDITIONS)
async def test_a_changed_command_sequence_fails_every_history(
    base: type, folder: str, change: str
) -> None:
    results = await replay_all(
        HISTORIES / folder, [changed(base, change, guarded=False)], sandboxed=False
    )
    assert results
    wrong = {
        name: failure
        for name, failure in results.items()
        if not isinstance(failure, workflow.NondeterminismError)
    }
    assert wrong == {}, "these histories replayed a changed command sequence without an error"


@pytest.mark.parametrize("change", CHANGES)
@pytest.mark.parametrize(("base", "folder"), EDITIONS)
async def test_the_same_change_behind_workflow_patched_replays_every_history(
    base: type, folder: str, change: str
) -> None:
    results = await replay_all(
        HISTORIES / folder, [changed(base, change, guarded=True)], sandboxed=False
    )
    assert results
    assert failed(results) == {}


@workflow.defn(name=LEGACY_WORKFLOW_NAME, sandboxed=False)
class Impostor(CaseWorkflow):
    """The second edition posing as the first: the change a new workflow type avoids."""

    @workflow.run
    async def run(self, input: CaseInput) -> CaseRow:
        return await super().run(input)


async def test_the_second_edition_posing_as_the_first_is_caught() -> None:
    [history] = [
        h for h in histories(HISTORIES / "v1") if h.workflow_id == "business_startup_end_to_end"
    ]
    replayer = Replayer(
        workflows=[Impostor],
        data_converter=pydantic_data_converter,
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    result: WorkflowReplayResult = await replayer.replay_workflow(
        history, raise_on_replay_failure=False
    )
    assert isinstance(result.replay_failure, workflow.NondeterminismError)

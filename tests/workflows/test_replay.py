"""Recorded histories replay against today's workflow code (determinism, workflow.patched).

Two editions run side by side: ``CaseWorkflow`` (the first, workflows.case_v1) keeps running
the cases it started, and its histories (tests/histories/v1) must replay against it unchanged;
new cases start as ``CaseWorkflowV2`` (workflows.case), whose histories are in
tests/histories/v2 (``make histories`` records them again after an intended change).
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from tests.fixtures_temporal import HISTORIES
from workflows.case import CaseWorkflow
from workflows.case.workflow import (
    MATERIALS_CHECKED,
    RETURNS_COMPLETE,
    SUPPLEMENTS_IN_PARTS,
)
from workflows.case_v1 import CaseWorkflowV1
from workflows.contracts import LEGACY_WORKFLOW_NAME, CaseInput, CaseRow
from workflows.followup import FollowUpWorkflow


def histories(folder: Path) -> list[WorkflowHistory]:
    return [
        WorkflowHistory.from_json(path.stem, path.read_text())
        for path in sorted(folder.glob("*.json"))
    ]


async def replay(folder: Path, workflows: list[type]) -> int:
    files = histories(folder)
    replayer = Replayer(workflows=workflows, data_converter=pydantic_data_converter)
    for history in files:
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, (history.workflow_id, result.replay_failure)
    return len(files)


async def test_first_edition_histories_replay() -> None:
    assert await replay(HISTORIES / "v1", [CaseWorkflowV1]) >= 20


async def test_second_edition_histories_replay() -> None:
    assert await replay(HISTORIES / "v2", [CaseWorkflow]) >= 20, "record them: make histories"


async def test_followup_histories_replay() -> None:
    assert await replay(HISTORIES / "followup", [FollowUpWorkflow]) >= 5


@pytest.mark.parametrize("patch", [MATERIALS_CHECKED, SUPPLEMENTS_IN_PARTS, RETURNS_COMPLETE])
def test_histories_cover_both_sides_of_each_patch(patch: str) -> None:
    """Each patch is replayed from a history recorded before it and one recorded after."""
    texts = [p.read_text() for p in sorted((HISTORIES / "v2").glob("*.json"))]
    marker = base64.b64encode(b'{"id":"' + patch.encode()).decode()[:36]
    with_marker = [t for t in texts if marker in t]
    assert with_marker
    assert len(with_marker) < len(texts)


@workflow.defn(name=LEGACY_WORKFLOW_NAME)
class Impostor(CaseWorkflow):
    """The second edition posing as the first: the change a new workflow type avoids."""

    @workflow.init
    def __init__(self, input: CaseInput) -> None:
        super().__init__(input)

    @workflow.run
    async def run(self, input: CaseInput) -> CaseRow:
        return await super().run(input)


async def test_a_changed_command_sequence_is_caught() -> None:
    [history] = [
        h for h in histories(HISTORIES / "v1") if h.workflow_id == "business_startup_end_to_end"
    ]
    # Unsandboxed: the impostor lives in this test module, which the sandbox would refuse.
    replayer = Replayer(
        workflows=[Impostor],
        data_converter=pydantic_data_converter,
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    with pytest.raises(Exception, match=r"[Nn]ondeterminism"):
        await replayer.replay_workflow(history)

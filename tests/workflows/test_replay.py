"""Recorded histories replay against today's workflow code (determinism, workflow.patched)."""

from __future__ import annotations

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.fixtures_temporal import HISTORIES
from workflows.case import CaseWorkflow


async def test_recorded_histories_replay() -> None:
    files = sorted(HISTORIES.glob("*.json"))
    assert len(files) >= 10, "record them with `make histories`"
    replayer = Replayer(workflows=[CaseWorkflow], data_converter=pydantic_data_converter)
    for path in files:
        history = WorkflowHistory.from_json(path.stem, path.read_text())
        result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
        assert result.replay_failure is None, path.name

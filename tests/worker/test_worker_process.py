"""`onetrip worker` as operators run it: against the dev server, found by search attributes,
stopped cleanly by SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from services.cases import NotPublishedError, start_case
from store import queries
from store.db import Store
from tests.fixtures_temporal import APPLICANT, FRONT_DESK, _binary
from workflows import search
from workflows.case import CaseWorkflow
from workflows.contracts import AcceptInput, CaseState

ONETRIP = str(Path(sys.executable).parent / "onetrip")


async def test_worker_process_runs_cases_and_stops_on_sigterm(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    env_vars = {
        **os.environ,
        "ONETRIP_DATABASE_URL": url,
        "ONETRIP_LOG_FORMAT": "json",
        "ONETRIP_TASK_QUEUE": "onetrip-cases",
    }
    publish = await asyncio.create_subprocess_exec(
        ONETRIP,
        "definitions",
        "publish",
        "--code",
        "YZ-YJS-KBQY",
        env=env_vars,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(publish.communicate(), 60)
    assert publish.returncode == 0, err.decode()
    assert "YZ-YJS-KBQY v2" in out.decode()

    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=_binary("temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=list(search.ALL),
    ) as env:
        address = env.client.service_client.config.target_host
        proc = await asyncio.create_subprocess_exec(
            ONETRIP,
            "worker",
            env={**env_vars, "ONETRIP_TEMPORAL_ADDRESS": address},
            stderr=asyncio.subprocess.PIPE,
        )
        store = Store(url)
        try:
            with pytest.raises(NotPublishedError, match="not published"):
                await start_case(env.client, store, case_id="X-1", code="NOPE", applicant=APPLICANT)
            case_id = f"YZ-{uuid.uuid4().hex[:8]}"
            snap = queries.get_procedure(store, "YZ-YJS-KBQY")
            assert snap is not None
            handle = await start_case(
                env.client,
                store,
                case_id=case_id,
                code="YZ-YJS-KBQY",
                applicant=APPLICANT,
                materials=snap.required_keys({}),
            )
            again = await start_case(
                env.client, store, case_id=case_id, code="YZ-YJS-KBQY", applicant=APPLICANT
            )
            assert again.result_run_id == handle.result_run_id  # a retried submission
            result = await handle.execute_update(
                CaseWorkflow.accept, AcceptInput(actor=FRONT_DESK), id="accept-1"
            )
            assert result.state is CaseState.in_progress
            stored = queries.get_case(store, case_id)
            assert stored is not None
            assert stored.state is CaseState.in_progress
            view = await handle.query(CaseWorkflow.view)
            assert [t.task_key for t in view.tasks] == ["@intake", "company_registration"]
            assert [t.state.value for t in view.tasks] == ["approved", "open"]
            found: list[str] = []
            for _ in range(50):
                found = [
                    w.id
                    async for w in env.client.list_workflows(
                        "OneTripProcedure = 'YZ-YJS-KBQY' AND OneTripState = 'in_progress'"
                    )
                ]
                if found:
                    break
                await asyncio.sleep(0.1)
            assert found == [case_id]
        finally:
            store.dispose()
            proc.send_signal(signal.SIGTERM)
            _, raw = await asyncio.wait_for(proc.communicate(), 60)
        stderr = raw.decode()
        assert proc.returncode == 0, stderr
        events = [json.loads(line)["event"] for line in stderr.splitlines() if line.startswith("{")]
        assert "worker started" in events
        assert events[-1] == "worker stopped"

"""What an RPC error means for a case (workflows.client.rpc_outcome)."""

from __future__ import annotations

import pytest
from temporalio.service import RPCError, RPCStatusCode

from workflows.client import Closed, Missing, Unavailable, rpc_outcome


@pytest.mark.parametrize(
    ("status", "message", "outcome"),
    [
        (RPCStatusCode.NOT_FOUND, "workflow execution already completed", Closed),
        (RPCStatusCode.NOT_FOUND, "update not found", Closed),
        (RPCStatusCode.NOT_FOUND, "workflow not found for ID: OT-1", Missing),
        (RPCStatusCode.UNAVAILABLE, "connection closed", Unavailable),
        (RPCStatusCode.UNAVAILABLE, "transport stream closed", Unavailable),
        (RPCStatusCode.DEADLINE_EXCEEDED, "deadline exceeded", Unavailable),
    ],
)
def test_rpc_errors_map_to_outcomes(status: RPCStatusCode, message: str, outcome: type) -> None:
    assert isinstance(rpc_outcome(RPCError(message, status, b"")), outcome)

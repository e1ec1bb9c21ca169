"""The client side of cases: what an RPC error means, and where a client connects."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from workflows.client import Closed, Missing, Unavailable, connect, rpc_outcome


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


# --------------------------------------------------------------------------- connecting


@pytest.fixture
def no_temporal_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A shell without Temporal's variables, and no profile file of the user's."""
    for name in list(os.environ):
        if name.startswith("TEMPORAL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    return monkeypatch


async def test_connect_follows_temporal_environment_configuration(
    no_temporal_env: pytest.MonkeyPatch,
) -> None:
    no_temporal_env.setenv("TEMPORAL_ADDRESS", "temporal.example:7233")
    no_temporal_env.setenv("TEMPORAL_NAMESPACE", "yunzhou")
    no_temporal_env.setenv("TEMPORAL_API_KEY", "k-123")
    client = await connect(lazy=True)
    config = client.service_client.config
    assert (config.target_host, client.namespace) == ("temporal.example:7233", "yunzhou")
    # An API key means Temporal Cloud: TLS on, the key sent with every call.
    assert (config.api_key, bool(config.tls)) == ("k-123", True)
    # OneTrip's own settings, when given, win over the environment.
    client = await connect("127.0.0.1:7999", "other", lazy=True)
    assert (client.service_client.config.target_host, client.namespace) == (
        "127.0.0.1:7999",
        "other",
    )


async def test_connect_reads_a_profile_with_tls_certificates(
    no_temporal_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    profile = tmp_path / "temporal.toml"
    profile.write_text(
        "[profile.prod]\n"
        'address = "prod.yunzhou.gov:7233"\n'
        'namespace = "onetrip-prod"\n'
        "[profile.prod.tls]\n"
        'server_name = "temporal.yunzhou.gov"\n'
        'server_ca_cert_data = "-----BEGIN CERTIFICATE-----"\n'
    )
    no_temporal_env.setenv("TEMPORAL_CONFIG_FILE", str(profile))
    no_temporal_env.setenv("TEMPORAL_PROFILE", "prod")
    client = await connect(lazy=True)
    config = client.service_client.config
    assert (config.target_host, client.namespace) == ("prod.yunzhou.gov:7233", "onetrip-prod")
    assert isinstance(config.tls, TLSConfig)
    assert config.tls.domain == "temporal.yunzhou.gov"
    assert config.tls.server_root_ca_cert == b"-----BEGIN CERTIFICATE-----"


async def test_without_configuration_connect_uses_the_local_default(
    no_temporal_env: pytest.MonkeyPatch,
) -> None:
    client = await connect(lazy=True)
    assert (client.service_client.config.target_host, client.namespace) == (
        "localhost:7233",
        "default",
    )
    # The embedded dev server ignores the shell's configuration.
    no_temporal_env.setenv("TEMPORAL_API_KEY", "k-123")
    client = await connect("127.0.0.1:7233", "default", lazy=True, environment=False)
    assert (client.service_client.config.api_key, bool(client.service_client.config.tls)) == (
        None,
        False,
    )

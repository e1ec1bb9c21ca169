"""Structural checks of the production deployment: docker-compose.yml, Dockerfile, deploy/.

Docker does not run where the suite runs, so these tests read the files: they prove that the
stack is wired consistently (services, start order, settings names, pinned images, mounted
files) and that it matches the code (settings fields, search attributes), not that the
images build or the containers start.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.settings import Settings
from workflows import search

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
OPERATIONS = ROOT / "docs" / "operations.md"
ENV_EXAMPLE = ROOT / "deploy" / "env.example"

SCHEMA_JOB = "temporal-admin-tools"
NAMESPACE_JOB = "temporal-create-namespace"
ONETRIP_SERVICES = ("onetrip-migrate", "onetrip-worker", "onetrip-api")
EXPECTED_SERVICES = {
    "postgres",
    SCHEMA_JOB,
    "temporal",
    NAMESPACE_JOB,
    "temporal-ui",
    *ONETRIP_SERVICES,
}
ONE_SHOT_JOBS = {SCHEMA_JOB, NAMESPACE_JOB, "onetrip-migrate"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}

ALLOWED_WITHOUT_FIELD = {"ONETRIP_API_HOST", "ONETRIP_API_PORT", "ONETRIP_ADMIN_TOKEN"}
"""ONETRIP_* names the compose file may use even where `Settings` does not declare them: the
API's bind address, port and bootstrap token. Every other name must be a field of
`core.settings.Settings`."""

ONETRIP_NAME = re.compile(r"\bONETRIP_[A-Z0-9_]+\b")
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")
DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|m|s)")


def load_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    return data


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict (compose accepts a mapping or KEY=VALUE lines)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def depends_on(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: {} for name in deps}
    return deps


def seconds(duration: str) -> float:
    """A compose duration such as ``1m30s`` or ``45s``, in seconds."""
    parts = DURATION.findall(str(duration))
    assert parts, f"not a duration: {duration!r}"
    unit = {"h": 3600, "m": 60, "s": 1}
    return sum(float(number) * unit[suffix] for number, suffix in parts)


def image_tag(image: str) -> str | None:
    """The tag of an image reference (``None`` if it has none); a digest counts as a tag."""
    if "@sha256:" in image:
        return image.split("@", 1)[1]
    name = image.rsplit("/", 1)[-1]
    return name.split(":", 1)[1] if ":" in name else None


def bind_mounts(service: dict[str, Any]) -> list[tuple[Path, str]]:
    """(host path in the repository, container path) of every ``./…`` bind mount."""
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            source, target = volume.get("source", ""), volume.get("target", "")
        else:
            source, _, rest = volume.partition(":")
            target = rest.split(":", 1)[0]
        if source.startswith("."):
            mounts.append((ROOT / source, target))
    return mounts


def host_in_container(service: dict[str, Any], container_path: str) -> Path:
    """The repository file that a bind mount of ``service`` shows at ``container_path``."""
    for host, target in bind_mounts(service):
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            return host / container_path[len(target) :].lstrip("/")
    raise AssertionError(f"{container_path} is not inside any bind mount of the service")


def entrypoint_script(service: dict[str, Any]) -> Path:
    """The mounted shell script a one-shot admin-tools job runs."""
    entrypoint = service["entrypoint"]
    assert entrypoint[0] == "/bin/sh", entrypoint
    return host_in_container(service, entrypoint[1])


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, args = line.partition(" ")
            instructions.append((keyword.upper(), args.strip()))
    return instructions


# --------------------------------------------------------------------------- services


def test_the_stack_has_every_service(services: dict[str, dict[str, Any]]) -> None:
    missing = EXPECTED_SERVICES - set(services)
    assert not missing, missing


def test_no_service_uses_the_deprecated_auto_setup_image(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        assert "auto-setup" not in service.get("image", ""), name


def test_images_are_pinned(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        image = service.get("image")
        if image is None:
            assert "build" in service, f"{name} has neither image nor build"
            continue
        tag = image_tag(image)
        if "build" in service:
            # Built here: the tag is the release being deployed (IMAGE_TAG).
            assert tag != "latest", name
            continue
        assert tag is not None, f"{name}: {image} has no tag"
        assert tag != "latest", f"{name}: {image}"
        assert re.fullmatch(r"\d+(\.\d+)*|sha256:[0-9a-f]{64}", tag), (
            f"{name}: {image} is not pinned to a version"
        )


def test_temporal_server_and_schema_tools_are_one_version(
    services: dict[str, dict[str, Any]],
) -> None:
    # The schema job installs the schema that its own image ships, which must be the one
    # the server expects.
    server = image_tag(services["temporal"]["image"])
    assert services["temporal"]["image"].startswith("temporalio/server:")
    for job in (SCHEMA_JOB, NAMESPACE_JOB):
        assert services[job]["image"] == f"temporalio/admin-tools:{server}"
    assert services["temporal-ui"]["image"].startswith("temporalio/ui:")
    assert services["postgres"]["image"].startswith("postgres:16")


def test_onetrip_services_are_built_from_the_dockerfile(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in ONETRIP_SERVICES:
        build = services[name]["build"]
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile")
        assert (ROOT / context).resolve() == ROOT, name
        assert (ROOT / context / (dockerfile or "Dockerfile")).is_file(), name


# --------------------------------------------------------------------------- start order


def test_dependencies_exist_and_wait_for_a_valid_condition(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        for target, spec in depends_on(service).items():
            assert target in services, f"{name} depends on unknown service {target}"
            condition = spec.get("condition")
            assert condition in CONDITIONS, f"{name} → {target}: {condition!r}"
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{target} has no healthcheck"
            if condition == "service_completed_successfully":
                assert target in ONE_SHOT_JOBS, f"{target} is not a one-shot job"


def test_dependencies_have_no_cycle(services: dict[str, dict[str, Any]]) -> None:
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"cycle: {' → '.join((*path, name))}"
        if name in done:
            return
        for target in depends_on(services[name]):
            visit(target, (*path, name))
        done.add(name)

    for name in services:
        visit(name, ())


def test_start_order(services: dict[str, dict[str, Any]]) -> None:
    def waits_for(name: str, target: str, condition: str) -> bool:
        return depends_on(services[name]).get(target, {}).get("condition") == condition

    assert waits_for(SCHEMA_JOB, "postgres", "service_healthy")
    assert waits_for("temporal", SCHEMA_JOB, "service_completed_successfully")
    assert waits_for(NAMESPACE_JOB, "temporal", "service_healthy")
    assert waits_for("temporal-ui", "temporal", "service_healthy")
    assert waits_for("onetrip-migrate", "postgres", "service_healthy")
    for name in ("onetrip-worker", "onetrip-api"):
        assert waits_for(name, "onetrip-migrate", "service_completed_successfully"), name
        assert waits_for(name, NAMESPACE_JOB, "service_completed_successfully"), name


def test_one_shot_jobs_are_not_restarted(services: dict[str, dict[str, Any]]) -> None:
    for name in ONE_SHOT_JOBS:
        assert str(services[name].get("restart", "no")) == "no", name


def test_migrate_job_migrates_then_publishes(services: dict[str, dict[str, Any]]) -> None:
    job = services["onetrip-migrate"]
    command = " ".join([*job.get("entrypoint", []), *job.get("command", [])])
    assert "onetrip store migrate && onetrip definitions publish" in command


# --------------------------------------------------------------------------- configuration


def test_onetrip_services_reach_services_that_exist(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in ONETRIP_SERVICES:
        env = environment(services[name])
        url = env["ONETRIP_DATABASE_URL"]
        assert url.startswith("postgresql+psycopg://"), name
        db_host = url.rpartition("@")[2].split("/", 1)[0].split(":", 1)[0]
        assert db_host in services, f"{name}: database host {db_host!r} is not a service"
        temporal_host = env["ONETRIP_TEMPORAL_ADDRESS"].rsplit(":", 1)[0]
        assert temporal_host in services, f"{name}: Temporal host {temporal_host!r}"
        assert env["ONETRIP_TEMPORAL_ADDRESS"].rsplit(":", 1)[1].isdigit(), name


def test_every_onetrip_service_gets_the_same_settings(
    services: dict[str, dict[str, Any]],
) -> None:
    # One anchor (x-onetrip-env) for all: a worker and the API must agree on the task
    # queue, the namespace and the store.
    shared = ("ONETRIP_DATABASE_URL", "ONETRIP_TEMPORAL_ADDRESS", "ONETRIP_TEMPORAL_NAMESPACE")
    shared += ("ONETRIP_TASK_QUEUE", "ONETRIP_LOG_FORMAT")
    values = {
        name: {k: environment(services[name]).get(k) for k in shared} for name in ONETRIP_SERVICES
    }
    first = values[ONETRIP_SERVICES[0]]
    assert all(v == first for v in values.values()), values
    assert first["ONETRIP_LOG_FORMAT"] == "json"


def test_the_namespace_job_registers_the_namespace_onetrip_uses(
    services: dict[str, dict[str, Any]],
) -> None:
    job = environment(services[NAMESPACE_JOB])
    onetrip = environment(services["onetrip-worker"])
    assert job["NAMESPACE"] == onetrip["ONETRIP_TEMPORAL_NAMESPACE"]
    assert job["TEMPORAL_ADDRESS"] == onetrip["ONETRIP_TEMPORAL_ADDRESS"]
    ui = environment(services["temporal-ui"])
    assert ui["TEMPORAL_ADDRESS"] == onetrip["ONETRIP_TEMPORAL_ADDRESS"]


def test_onetrip_variables_are_settings_fields() -> None:
    fields = {f"ONETRIP_{name.upper()}" for name in Settings.model_fields}
    used = set(ONETRIP_NAME.findall(COMPOSE.read_text(encoding="utf-8")))
    unknown = used - fields - ALLOWED_WITHOUT_FIELD
    assert not unknown, f"not fields of core.settings.Settings: {sorted(unknown)}"


def test_secrets_come_from_the_environment(services: dict[str, dict[str, Any]]) -> None:
    secret = re.compile(r"PASSWORD|PWD|TOKEN|SECRET")
    required = re.compile(r"^\$\{[A-Z_][A-Z0-9_]*:\?[^}]*\}$")
    for name, service in services.items():
        for key, value in environment(service).items():
            if secret.search(key):
                assert required.match(value), f"{name}.{key} must be ${{VAR:?…}}, not a value"
    for name in ONETRIP_SERVICES:
        url = environment(services[name])["ONETRIP_DATABASE_URL"]
        password = url.split("://", 1)[1].rpartition("@")[0].split(":", 1)[1]
        assert required.match(password), f"{name}: the store password is written out"


def test_every_interpolated_variable_is_in_the_env_example() -> None:
    documented = {
        line.split("=", 1)[0].strip()
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }
    used = set(INTERPOLATION.findall(COMPOSE.read_text(encoding="utf-8")))
    assert used <= documented, f"missing from deploy/env.example: {sorted(used - documented)}"


# --------------------------------------------------------------------------- scaling and health


def test_the_worker_can_scale(services: dict[str, dict[str, Any]]) -> None:
    worker = services["onetrip-worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    replicas = worker.get("deploy", {}).get("replicas")
    assert isinstance(replicas, int)
    assert replicas >= 1


def test_no_onetrip_service_has_a_fixed_container_name(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in ONETRIP_SERVICES:
        assert "container_name" not in services[name], name


def test_stopping_waits_for_the_shutdown_grace(services: dict[str, dict[str, Any]]) -> None:
    worker = services["onetrip-worker"]
    grace = float(environment(worker)["ONETRIP_SHUTDOWN_GRACE_SECONDS"])
    # Docker's default is 10 s before SIGKILL; in-flight activities need the whole grace.
    assert seconds(worker["stop_grace_period"]) > grace


@pytest.mark.parametrize(
    ("name", "probe"),
    [
        ("postgres", "pg_isready"),
        ("temporal", "7233"),
        ("onetrip-api", "/healthz"),
        ("onetrip-worker", "worker"),
    ],
)
def test_healthchecks(services: dict[str, dict[str, Any]], name: str, probe: str) -> None:
    check = services[name].get("healthcheck")
    assert check, f"{name} has no healthcheck"
    test = check["test"]
    command = " ".join(test) if isinstance(test, list) else test
    assert probe in command, command
    assert not command.startswith("NONE")


def test_the_api_is_published_on_its_port(services: dict[str, dict[str, Any]]) -> None:
    api = services["onetrip-api"]
    env = environment(api)
    port = env["ONETRIP_API_PORT"]
    assert env["ONETRIP_API_HOST"] == "0.0.0.0"  # the container's port must be reachable
    targets = [
        str(p).rsplit(":", 1)[-1] if not isinstance(p, dict) else str(p["target"])
        for p in api["ports"]
    ]
    assert port in targets
    assert f"127.0.0.1:{port}/healthz" in " ".join(api["healthcheck"]["test"])


def test_the_temporal_ui_is_not_published_beyond_the_host(
    services: dict[str, dict[str, Any]],
) -> None:
    # It has no login of its own in this stack.
    for port in services["temporal-ui"].get("ports", []):
        assert str(port).startswith("127.0.0.1:"), port
    assert "ports" not in services["temporal"]
    assert "ports" not in services["postgres"]


# --------------------------------------------------------------------------- mounted files


def test_every_bind_mount_exists_in_the_repository(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for host, _ in bind_mounts(service):
            assert host.exists(), f"{name} mounts {host.relative_to(ROOT)}, which is missing"


def test_the_dynamic_config_is_mounted_and_valid(services: dict[str, dict[str, Any]]) -> None:
    temporal = services["temporal"]
    env = environment(temporal)
    assert env["DB"] == "postgres12"
    assert env["POSTGRES_SEEDS"] in services
    path = host_in_container(temporal, env["DYNAMIC_CONFIG_FILE_PATH"])
    assert path.is_file(), path
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(config, dict)
    assert config
    for key, values in config.items():
        assert isinstance(values, list), key
        assert values, key
        for entry in values:
            assert "value" in entry, key
            assert set(entry) <= {"value", "constraints"}, key


def test_the_schema_job_sets_up_both_temporal_databases(
    services: dict[str, dict[str, Any]],
) -> None:
    script = entrypoint_script(services[SCHEMA_JOB]).read_text(encoding="utf-8")
    assert "temporal-sql-tool --plugin postgres12" in script
    for database, folder in (("temporal", "temporal"), ("temporal_visibility", "visibility")):
        for step in ("create-database", "setup-schema -v 0.0", "update-schema -d"):
            assert f"--db {database} {step}" in script, (database, step)
        assert f"$SCHEMA/{folder}/versioned" in script
    assert "SCHEMA=/etc/temporal/schema/postgresql/v12" in script
    env = environment(services[SCHEMA_JOB])
    assert env["SQL_HOST"] in services


def test_the_namespace_job_registers_every_search_attribute(
    services: dict[str, dict[str, Any]],
) -> None:
    script = entrypoint_script(services[NAMESPACE_JOB]).read_text(encoding="utf-8")
    registered = {
        name: kind.lower() for name, kind in re.findall(r"--name (\w+) --type (\w+)", script)
    }
    expected = {
        key.name: key.indexed_value_type.name.replace("_", "").lower() for key in search.ALL
    }
    assert registered == expected
    assert "temporal operator cluster health" in script
    assert "temporal operator namespace create" in script


def test_the_postgres_init_script_creates_the_store_role_and_database(
    services: dict[str, dict[str, Any]],
) -> None:
    postgres = services["postgres"]
    folder = host_in_container(postgres, "/docker-entrypoint-initdb.d")
    sql = "\n".join(p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.sh")))
    url = environment(services["onetrip-api"])["ONETRIP_DATABASE_URL"]
    user = url.split("://", 1)[1].split(":", 1)[0]
    database = url.rsplit("/", 1)[1]
    assert f"CREATE ROLE {user} LOGIN" in sql
    assert f"CREATE DATABASE {database} OWNER {user}" in sql
    temporal_user = environment(services["temporal"])["POSTGRES_USER"]
    assert f"CREATE ROLE {temporal_user} LOGIN CREATEDB" in sql


# --------------------------------------------------------------------------- image


def test_the_dockerfile_builds_a_non_root_onetrip_image() -> None:
    instructions = dockerfile_instructions()
    keywords = [keyword for keyword, _ in instructions]
    args = dict(a.split("=", 1) for k, a in instructions if k == "ARG" and "=" in a)
    bases = [a.split()[0] for k, a in instructions if k == "FROM"]
    resolved = [re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), b) for b in bases]
    assert resolved, "no FROM"
    # Python stages, and one stage that installs the pages' pinned assets with npm.
    assert all(b.startswith(("python:3.11-slim", "node:")) for b in resolved), resolved
    assert resolved[-1].startswith("python:3.11-slim"), "the image runs on the Python base"

    users = [a for k, a in instructions if k == "USER"]
    assert users, "no USER: the image would run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert ("ENTRYPOINT", '["onetrip"]') in instructions
    assert ("CMD", '["api"]') in instructions
    assert ("STOPSIGNAL", "SIGTERM") in instructions
    last_user = len(keywords) - 1 - keywords[::-1].index("USER")
    assert all(i < last_user for i, k in enumerate(keywords) if k == "RUN")

    copies = [a for k, a in instructions if k == "COPY"]
    assert any(a.split()[0] == "." for a in copies), "the project is not copied"
    installs = [a for k, a in instructions if k == "RUN" and "pip install" in a]
    assert any(re.search(r"pip install \.(\s|$)", a) for a in installs), installs
    assert not any("[test]" in a for a in installs)


def test_the_image_bakes_in_no_secret() -> None:
    for keyword, args in dockerfile_instructions():
        if keyword in {"ENV", "ARG"}:
            assert not re.search(r"PASSWORD|TOKEN|SECRET|ONETRIP_DATABASE_URL", args), args


def test_the_build_context_leaves_out_secrets_and_local_state() -> None:
    ignored = {
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".env", ".git", ".venv", ".onetrip", "tests"} <= ignored
    # …but keeps what `pip install .` needs.
    assert not {"pyproject.toml", "README.md", "definitions", "worker", "store"} & ignored


# --------------------------------------------------------------------------- documentation


def test_operations_doc_names_every_variable_of_the_compose_file() -> None:
    doc = OPERATIONS.read_text(encoding="utf-8")
    used = set(ONETRIP_NAME.findall(COMPOSE.read_text(encoding="utf-8")))
    missing = {name for name in used if name not in doc}
    assert not missing, f"docs/operations.md does not mention {sorted(missing)}"

"""docker-compose.yml cannot rot: each service's command runs here, as compose would run it.

No Docker engine runs in the test environment, so the file is read as compose reads it (YAML,
``${VAR:-default}`` interpolation) and each command of the ledger image runs as a local process
against a fresh PostgreSQL database: the key service twice (the second run must keep the key),
the API until it answers /health and its own healthcheck passes, the projection runner until a
case written through the API shows up in the API's list — which only the runner can put there,
since the API runs with --no-projector — and its healthcheck passes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.api.processes import (
    ROOT,
    create_database,
    drop_database,
    free_port,
    output_of,
    served,
    wait_until_healthy,
)
from tests.api.support import INSPECTOR, INTAKE, SECRET, bearer, registration

COMPOSE = ROOT / "docker-compose.yml"
_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:-|:\?)(?P<arg>[^}]*))?\}")


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's variable substitution for the forms the file uses."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match["name"], match["op"], match["arg"]
        if env.get(name):
            return env[name]
        if op == ":?":
            raise AssertionError(f"compose would refuse to start: {name}: {arg}")
        return arg or ""

    return _VARIABLE.sub(substitute, value)


@pytest.fixture
def compose(tmp_path: Path, postgres_available: None) -> Iterator[dict[str, Any]]:
    database = create_database("ledger_t_compose")
    port = free_port()
    variables = {"LEDGER_JWT_SECRET": SECRET, "LEDGER_PORT": str(port)}
    services = interpolate(yaml.safe_load(COMPOSE.read_text())["services"], variables)
    bin_dir = Path(sys.executable).parent
    # The image's environment, with the database, key volume and service names of this machine.
    overrides = {
        "LEDGER_DATABASE_URL": database,
        "LEDGER_KEY_DIR": str(tmp_path / "keys"),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
    }
    yield {"services": services, "port": port, "overrides": overrides}
    drop_database(database)


def environment(service: dict[str, Any], overrides: dict[str, str]) -> dict[str, str]:
    declared = {k: str(v) for k, v in (service.get("environment") or {}).items()}
    return {**os.environ, **declared, **overrides}


def run_healthcheck(service: dict[str, Any], env: dict[str, str]) -> None:
    test = [part.replace("//api:", "//127.0.0.1:") for part in service["healthcheck"]["test"]]
    kind, *command = test
    args = ["sh", "-c", command[0]] if kind == "CMD-SHELL" else command
    result = subprocess.run(args, env=env, capture_output=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr.decode()


@pytest.mark.slow
@pytest.mark.postgres
def test_every_compose_service_comes_up_against_postgresql(compose: dict[str, Any]) -> None:
    services, port, overrides = compose["services"], compose["port"], compose["overrides"]
    assert set(services) == {"postgres", "keys", "api", "projector"}
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert all("healthcheck" in services[name] for name in ("postgres", "api", "projector"))

    keys = services["keys"]
    env = environment(keys, overrides)
    for _ in range(2):  # the second run keeps the first run's key
        subprocess.run(keys["command"], env=env, cwd=ROOT, check=True, timeout=60)
    vkey = Path(overrides["LEDGER_KEY_DIR"]) / "ledger.vkey"
    first_key = vkey.read_text()

    api = services["api"]
    assert "--no-projector" in api["command"]
    api_env = environment(api, overrides)
    base = f"http://127.0.0.1:{port}"
    with served(api["command"][1:], api_env) as api_process:
        wait_until_healthy(base, api_process)
        run_healthcheck(api, api_env)
        created = httpx.post(f"{base}/v1/cases", json=registration(), headers=bearer(INTAKE))
        assert created.status_code == 201, created.text
        case_id = created.json()["case_id"]

        projector = services["projector"]
        projector_env = environment(projector, overrides)
        with served(projector["command"][1:], projector_env) as runner:
            deadline = time.monotonic() + 30
            while not _listed(base, case_id):
                assert runner.poll() is None, output_of(runner)
                assert time.monotonic() < deadline, "the runner never projected the case"
                time.sleep(0.2)
            run_healthcheck(projector, projector_env)
        assert runner.returncode == 0, output_of(runner)  # SIGTERM stops it cleanly
    assert vkey.read_text() == first_key


def test_the_dockerfile_copies_only_what_exists() -> None:
    sources = [
        source
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ")
        for source in line.split()[1:-1]
    ]
    assert sources
    assert [source for source in sources if not (ROOT / source).exists()] == []


def _listed(base: str, case_id: str) -> bool:
    page = httpx.get(f"{base}/v1/cases", headers=bearer(INSPECTOR)).json()
    return any(item["case_id"] == case_id for item in page["items"])

"""Operations: configuration errors stop `goalgraph serve` with one line, workers die with their
master, refused requests are logged in one line (tracebacks only for faults)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from goalgraph.settings import Settings
from goalgraph.testing.databases import postgres_url
from goalgraph.testing.servers import free_port as _free_port

PG_ONLY = pytest.mark.parametrize("db_kind", [pytest.param("postgres", marks=pytest.mark.postgres)])



def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOALGRAPH_")}
    env.update(extra)
    return env


def _serve(env: dict[str, str], *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "goalgraph.cli", "serve", "--port", str(_free_port()), *args],
                          env=env, capture_output=True, text=True, timeout=timeout)


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(("env", "needle"), [
    ({"GOALGRAPH_DATABASE_URL": "PG"}, "GOALGRAPH_JWT_SECRET"),
    ({"GOALGRAPH_DATABASE_URL": "postgresql+psycopg2://postgres@127.0.0.1/test", "GOALGRAPH_JWT_SECRET": "s"},
     "postgresql+asyncpg"),
    ({"GOALGRAPH_DATABASE_URL": "PG", "GOALGRAPH_JWT_SECRET": "s", "GOALGRAPH_DATABASE_SCHEMA": "no_such_schema_x"},
     "no_such_schema_x"),
    ({"GOALGRAPH_MAX_PAGE_SIZE": "lots"}, "GOALGRAPH_MAX_PAGE_SIZE"),
    ({"GOALGRAPH_MAX_BATCH_SIZE": "0"}, "GOALGRAPH_MAX_BATCH_SIZE"),
    ({"GOALGRAPH_JWT_PUBLIC_KEY_FILE": "/nonexistent/key.pem"}, "GOALGRAPH_JWT_PUBLIC_KEY_FILE"),
], ids=["no-secret-on-postgres", "other-driver", "missing-schema", "not-a-number", "zero", "unreadable-file"])
def test_configuration_errors_stop_serve_with_one_line(env: dict[str, str], needle: str, tmp_path) -> None:
    env = {k: (postgres_url() if v == "PG" else v) for k, v in env.items()}
    env.setdefault("GOALGRAPH_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'g.db'}")
    result = _serve(_clean_env(**env))
    assert result.returncode == 2, (result.stdout, result.stderr)
    line = _one_line(result)
    assert line.startswith("goalgraph serve: ") and needle in line, line
    assert "Traceback" not in result.stdout + result.stderr


def test_empty_numbers_mean_the_default_and_plain_postgresql_urls_use_asyncpg() -> None:
    settings = Settings.from_env({"GOALGRAPH_MAX_PAGE_SIZE": "", "GOALGRAPH_MAX_QUERY_DEPTH": " ",
                                  "GOALGRAPH_SNAPSHOT_GRACE_HOURS": "",
                                  "GOALGRAPH_DATABASE_URL": "postgresql://u@db.internal/goalgraph"})
    assert (settings.max_page_size, settings.max_query_depth, settings.snapshot_grace_hours) == (500, 15, 24.0)
    assert settings.database_url == "postgresql+asyncpg://u@db.internal/goalgraph"
    assert Settings.from_env({"GOALGRAPH_DATABASE_URL": "postgres://u@h/d"}).database_url == "postgresql+asyncpg://u@h/d"
    assert Settings.from_env({"GOALGRAPH_DATABASE_URL": "sqlite:///g.db"}).database_url == "sqlite+aiosqlite:///g.db"


def _port_answers(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
        return True
    except httpx.HTTPError:
        return False


@PG_ONLY
async def test_workers_die_with_a_killed_master(settings, runtime, tmp_path) -> None:  # type: ignore[no-untyped-def]
    port = _free_port()
    env = _clean_env(GOALGRAPH_DATABASE_URL=settings.database_url, GOALGRAPH_DATABASE_SCHEMA=settings.database_schema,
                     GOALGRAPH_JWT_SECRET=settings.jwt_secret, GOALGRAPH_MIGRATE_ON_START="0")
    log = open(tmp_path / "serve.log", "w")
    master = subprocess.Popen([sys.executable, "-m", "goalgraph.cli", "serve", "--port", str(port), "--workers", "2"],
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 40
        while not _port_answers(port):
            assert time.monotonic() < deadline and master.poll() is None, (tmp_path / "serve.log").read_text()
            time.sleep(0.3)
        workers = [int(p) for p in subprocess.run(["pgrep", "-P", str(master.pid)], capture_output=True,
                                                   text=True).stdout.split()]
        assert len(workers) >= 2
        master.send_signal(signal.SIGKILL)
        master.wait(timeout=5)
        # A worker stops within a second of noticing, and is ended GRACE_SECONDS after; slack for a busy machine.
        from goalgraph.workers import GRACE_SECONDS
        deadline = time.monotonic() + GRACE_SECONDS + 15  # generous: a loaded 2-core machine is slow to reap
        while _port_answers(port) or any(_alive(w) for w in workers):
            assert time.monotonic() < deadline, "workers still serving after their master was killed"
            time.sleep(0.2)
    finally:
        for pid in [master.pid]:
            if master.poll() is None:
                os.kill(pid, signal.SIGKILL)
        log.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (dead, not yet reaped) is not serving.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_refused_requests_are_logged_in_one_line_without_traceback(client, caplog) -> None:
    caplog.set_level(logging.INFO)
    await client.post("/graphql", json={"query": "{ users { totalCount } }"})  # no token
    await client.post("/graphql", json={"query": "{ nosuchfield }"}, headers={"authorization": "Bearer x"})
    records = [r for r in caplog.records if r.name in {"goalgraph.graphql", "strawberry.execution"}]
    assert len(records) == 2, [r.getMessage() for r in records]
    assert all(r.exc_info is None and r.levelno == logging.INFO for r in records)
    assert all("\n" not in r.getMessage() and r.getMessage().startswith("refused") for r in records)
    assert "UNAUTHENTICATED" in records[0].getMessage()


async def test_the_validation_cache_hits_across_requests(client) -> None:
    """The same query text is validated once: the limit rules must not change from request to request."""
    from strawberry.extensions.validation_cache import _get_validate_cache

    info = _get_validate_cache(256).cache_info
    query = {"query": "{ organisation { name } goalTypes { key } }"}
    await client.post("/graphql", json=query)
    before = info()
    for _ in range(5):
        await client.post("/graphql", json=query)
    after = info()
    assert after.hits - before.hits == 5 and after.misses == before.misses

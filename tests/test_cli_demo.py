"""The CLI beside `goalgraph serve --demo`: tokens and features work on the demo's database and licence."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from goalgraph.app import create_app
from goalgraph.demo import demo_settings, ensure_demo_data
from goalgraph.settings import Settings


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOALGRAPH_")}
    return subprocess.run([sys.executable, "-m", "goalgraph.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the demo database, as `goalgraph serve --demo` leaves it."""
    import asyncio

    directory = tmp_path_factory.mktemp("demo")
    settings = demo_settings(Settings(database_url=f"sqlite+aiosqlite:///{directory / 'goalgraph-demo.db'}",
                                      migrate_on_start=True))
    asyncio.run(ensure_demo_data(settings))
    return directory


async def _organisation(directory: Path, token: str) -> dict:
    settings = demo_settings(Settings(database_url=f"sqlite+aiosqlite:///{directory / 'goalgraph-demo.db'}",
                                      migrate_on_start=True))
    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.post("/graphql", json={"query": "{ organisation { name } }"},
                                     headers={"authorization": f"Bearer {token}"})
        return response.json()


async def test_demo_tokens_from_the_cli_work_with_the_demo_server(demo_dir: Path) -> None:
    done = _run(demo_dir, "token", "--demo", "crm-sync", "--system")
    assert done.returncode == 0, done.stderr
    assert "goalgraph-demo.db.secret" in done.stderr  # says which secret signed it
    body = await _organisation(demo_dir, done.stdout.strip())
    assert "errors" not in body and body["data"]["organisation"]["name"]


async def test_token_without_demo_beside_the_demo_says_so_and_leaves_no_secret(demo_dir: Path) -> None:
    done = _run(demo_dir, "token", "crm-sync", "--system")
    assert done.returncode == 2
    assert "add --demo" in done.stderr and "goalgraph.db" in done.stderr
    assert not (demo_dir / "goalgraph.db.secret").exists() and not (demo_dir / "goalgraph.db").exists()


async def test_a_token_signed_elsewhere_names_the_secret_the_server_uses(demo_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "goalgraph.db").touch()
    done = _run(other, "token", "crm-sync", "--system")
    assert done.returncode == 0, done.stderr
    body = await _organisation(demo_dir, done.stdout.strip())
    message = body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "goalgraph-demo.db.secret" in message, message


def test_features_on_the_demo_show_its_licence_and_switch_back_on(demo_dir: Path) -> None:
    listed = _run(demo_dir, "features", "--demo")
    assert listed.returncode == 0, listed.stderr
    assert "licence: enterprise" in listed.stdout
    assert "REVENUE_FORECAST" in listed.stdout and "not licensed" not in listed.stdout
    off = _run(demo_dir, "features", "--demo", "--disable", "REVENUE_FORECAST")
    assert off.returncode == 0, off.stderr
    assert any("REVENUE_FORECAST" in line and "switched off" in line for line in off.stdout.splitlines())
    on = _run(demo_dir, "features", "--demo", "--enable", "REVENUE_FORECAST")
    assert on.returncode == 0, on.stderr
    assert any("REVENUE_FORECAST" in line and "enabled" in line for line in on.stdout.splitlines())

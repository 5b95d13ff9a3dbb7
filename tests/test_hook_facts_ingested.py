"""goalgraph_facts_ingested runs after the commit, in the background, and cannot break the request."""

from __future__ import annotations

import asyncio

import httpx

from factsets import BASE, INGEST, deal
from goalgraph.app import create_app
from goalgraph.events import drain
from goalgraph.hookspecs import hookimpl
from goalgraph.plugins import load_plugins
from goalgraph.runtime import open_runtime
from goalgraph.settings import Settings
from goalgraph.testing.credentials import system_token


class Recorder:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    @hookimpl
    async def goalgraph_facts_ingested(self, counts):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0)
        self.calls.append(counts)


class Exploder:
    @hookimpl
    def goalgraph_facts_ingested(self, counts):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")


async def test_facts_ingested_fires_after_commit(settings: Settings) -> None:
    recorder = Recorder()
    plugins = load_plugins(strict=True, extra=[("recorder", recorder), ("exploder", Exploder())])
    async with open_runtime(settings, migrate=True, plugins=plugins) as runtime:
        app = create_app(settings, runtime=runtime)
        auth = {"authorization": f"Bearer {system_token(settings)}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", headers=auth) as client:
            ok = (await client.post("/graphql", json={"query": INGEST, "variables": {"input": {**BASE, "deals": [deal()]}}})).json()
            assert ok["data"]["ingestFacts"]["__typename"] == "IngestFactsResult"
            bad = (await client.post("/graphql", json={"query": INGEST, "variables": {"input": {"deals": [deal(ownerId="x")]}}})).json()
            assert bad["data"]["ingestFacts"]["__typename"] == "ValidationError"
            await drain()
    assert len(recorder.calls) == 1, "fires once, only for the committed batch"
    assert recorder.calls[0]["deal"]["created"] == 1 and recorder.calls[0]["user"]["created"] == 3

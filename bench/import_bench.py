"""Benchmark ``goalgraph import`` into PostgreSQL: facts per second and peak memory, beside floors.

    .venv/bin/python bench/import_bench.py               # 1,000,000 deals (several minutes)
    .venv/bin/python bench/import_bench.py --deals 100000 --csv
    git worktree add /tmp/main-checkout main             # then, side by side with another version:
    .venv/bin/python bench/import_bench.py --baseline /tmp/main-checkout

What it does:

1. Streams N deals (plus the users and pipelines/stages they reference) into an NDJSON file
   under a temporary directory — and, with ``--csv``, the same facts as CSV files.
2. For two sizes (N/10 and N) creates a fresh PostgreSQL schema, runs ``goalgraph migrate`` and
   then the real ``goalgraph import`` CLI as a subprocess against it, and measures the wall time
   and the child's peak RSS (``os.wait4``). Memory should stay flat as the file grows. With
   ``--baseline CHECKOUT`` the same file is first imported with that checkout's code (its ``src``
   and ``plugins`` on ``PYTHONPATH``, this environment's packages) into a schema of its own, so two
   versions are compared in one run under the same load.
3. Measures three floors in the same schema: *py+COPY* — Python reads the NDJSON (orjson, no
   validation) and binary-COPYs the rows in batches into a table shaped like ``deals`` with the same
   six indexes (no foreign keys, no stage history); a plain ``COPY`` of the same rows (CSV) into an
   unindexed table; and the *schema floor* — one server-side ``INSERT … SELECT`` of those rows into
   the real ``deals`` table and its stage history, with every index and foreign key, no client.
4. Prints facts/s, the ratio to the 20,000 facts/s target, peak RSS at both sizes, the importer's
   and PostgreSQL's CPU time per fact, the floors, and ends with ``IMPORT_<N>: api_p50=<import s>
   floor_p50=<py+COPY s> ratio=…``, ``IMPORT_<N>_RATE: api_rate=<facts/s> floor_rate=20,000/s
   ratio=…`` and ``IMPORT_RSS: api_p50=<RSS at N> floor_p50=<RSS at N/10> ratio=…`` lines (one
   run per size, so p50 is that run; ``_BASELINE`` lines for the baseline); drops its schemas and files.

PostgreSQL URL: ``GOALGRAPH_TEST_POSTGRES_URL`` (default postgresql+asyncpg://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

TARGET = 20_000
USERS = 500
PIPELINES = 5
STAGES_PER_PIPELINE = 6
CURRENCIES = ("EUR", "USD", "GBP", "SEK")
SALE_TYPES = ("new", "upsell", "renewal")
CATEGORIES = ("smb", "mid-market", "enterprise")
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def postgres_url() -> str:
    return os.environ.get("GOALGRAPH_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# -- data ----------------------------------------------------------------------------------------
def reference_facts() -> list[dict[str, object]]:
    """Users and pipelines (with nested stages) the deals point at."""
    facts: list[dict[str, object]] = []
    for u in range(USERS):
        facts.append({"kind": "user", "id": f"u{u}", "name": f"User {u}", "email": f"user{u}@example.com",
                      "updated_at": _iso(T0)})
    for p in range(PIPELINES):
        facts.append({"kind": "pipeline", "id": f"p{p}", "name": f"Pipeline {p}", "updated_at": _iso(T0),
                      "stages": [{"id": f"p{p}s{s}", "name": f"Stage {s}", "probability": min(100, 10 + 18 * s)}
                                 for s in range(STAGES_PER_PIPELINE)]})
    return facts


def deal_rows(n: int, seed: int = 7):  # type: ignore[no-untyped-def]
    """Yield (ndjson_object, copy_row) for n deals, deterministically."""
    rnd = random.Random(seed)
    for i in range(n):
        p = rnd.randrange(PIPELINES)
        s = rnd.randrange(STAGES_PER_PIPELINE)
        added = T0 + timedelta(minutes=rnd.randrange(2 * 365 * 24 * 60))
        updated = added + timedelta(hours=rnd.randrange(1, 500))
        roll = rnd.random()
        status, won, lost = "OPEN", None, None
        if roll < 0.25:
            status, won = "WON", updated
        elif roll < 0.40:
            status, lost = "LOST", updated
        value = rnd.randrange(100, 5_000_000) / 100
        cost = round(value * rnd.uniform(0.2, 0.7), 2)
        obj: dict[str, object] = {
            "kind": "deal", "id": f"d{i}", "title": f"Deal {i}", "value": value, "currency": rnd.choice(CURRENCIES),
            "cost": cost, "owner_id": f"u{rnd.randrange(USERS)}", "pipeline_id": f"p{p}", "stage_id": f"p{p}s{s}",
            "status": status, "added_at": _iso(added), "updated_at": _iso(updated),
            "attributes": {"sale_type": rnd.choice(SALE_TYPES), "company_category": rnd.choice(CATEGORIES)},
        }
        if won:
            obj["won_at"] = _iso(won)
        if lost:
            obj["lost_at"] = _iso(lost)
        if rnd.random() < 0.5:
            obj["expected_close_date"] = (added + timedelta(days=rnd.randrange(10, 120))).date().isoformat()
        yield obj


CSV_COLUMNS = ["id", "title", "value", "currency", "cost", "owner_id", "pipeline_id", "stage_id", "status",
               "added_at", "won_at", "lost_at", "expected_close_date", "updated_at", "attributes.sale_type",
               "attributes.company_category"]
FLOOR_COLUMNS = ["external_id", "title", "value", "currency", "cost", "owner_ref", "pipeline_ref", "stage_ref",
                 "status", "added_at", "won_at", "lost_at", "expected_close_date", "source_updated_at", "attributes"]


def generate(directory: Path, n: int, with_csv: bool) -> dict[str, Path]:
    """Write the data set for n deals; streamed, so memory does not depend on n."""
    files = {"ndjson": directory / f"facts-{n}.ndjson", "floor": directory / f"floor-{n}.csv"}
    refs = reference_facts()
    csv_out = None
    if with_csv:
        files["refs"] = directory / f"refs-{n}.ndjson"
        files["csv"] = directory / f"deals-{n}.csv"
        files["refs"].write_bytes(b"".join(orjson.dumps(f) + b"\n" for f in refs))
        csv_out = open(files["csv"], "w", newline="")  # noqa: SIM115
    with open(files["ndjson"], "wb") as out, open(files["floor"], "w", newline="") as floor:
        floor_csv = csv.writer(floor)
        deals_csv = csv.writer(csv_out) if csv_out else None
        if deals_csv:
            deals_csv.writerow(CSV_COLUMNS)
        for fact in refs:
            out.write(orjson.dumps(fact) + b"\n")
        buffer: list[bytes] = []
        for obj in deal_rows(n):
            buffer.append(orjson.dumps(obj))
            attrs = obj["attributes"]
            floor_csv.writerow([obj["id"], obj["title"], obj["value"], obj["currency"], obj["cost"], obj["owner_id"],
                                obj["pipeline_id"], obj["stage_id"], obj["status"], obj["added_at"],
                                obj.get("won_at", ""), obj.get("lost_at", ""), obj.get("expected_close_date", ""),
                                obj["updated_at"], orjson.dumps(attrs).decode()])
            if deals_csv:
                deals_csv.writerow([obj["id"], obj["title"], obj["value"], obj["currency"], obj["cost"],
                                    obj["owner_id"], obj["pipeline_id"], obj["stage_id"], obj["status"],
                                    obj["added_at"], obj.get("won_at", ""), obj.get("lost_at", ""),
                                    obj.get("expected_close_date", ""), obj["updated_at"],
                                    attrs["sale_type"], attrs["company_category"]])  # type: ignore[index]
            if len(buffer) >= 10_000:
                out.write(b"\n".join(buffer) + b"\n")
                buffer.clear()
        if buffer:
            out.write(b"\n".join(buffer) + b"\n")
    if csv_out:
        csv_out.close()
    return files


# -- database ------------------------------------------------------------------------------------
def _asyncpg_dsn() -> str:
    return postgres_url().replace("postgresql+asyncpg://", "postgresql://", 1)


async def _sql(statement: str, schema: str | None = None) -> object:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(), server_settings={"search_path": schema} if schema else None)
    try:
        return await conn.fetchval(statement)
    finally:
        await conn.close()


async def floors(path: Path, schema: str) -> tuple[float, float, float | None]:
    """Seconds for (a) a plain COPY of the deal rows (CSV) into an unindexed table and (b) the
    schema floor: one server-side INSERT … SELECT of those rows into the real deals table
    (references resolved by joins, every index and foreign key) plus their stage history."""
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(), server_settings={"search_path": schema, "jit": "off"})
    try:
        await conn.execute(
            "CREATE TABLE floor_deals (external_id text, title text, value numeric(20,4), "
            "currency text, cost numeric(20,4), owner_ref text, pipeline_ref text, stage_ref text, status text, "
            "added_at timestamptz, won_at timestamptz, lost_at timestamptz, expected_close_date date, "
            "source_updated_at timestamptz, attributes json)"
        )
        started = time.perf_counter()
        await conn.copy_to_table("floor_deals", source=str(path), columns=FLOOR_COLUMNS, format="csv")
        copy_seconds = time.perf_counter() - started
        await conn.execute("ANALYZE floor_deals")
        await conn.execute("TRUNCATE deals CASCADE")
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        cpu_before = backend_cpu(pid)
        started = time.perf_counter()
        await conn.execute(
            "WITH up AS (INSERT INTO deals (external_id, title, value, currency, cost, owner_id, pipeline_id, "
            "stage_id, status, added_at, won_at, lost_at, expected_close_date, attributes, source_updated_at) "
            "SELECT f.external_id, f.title, f.value, f.currency, f.cost, u.id, s.pipeline_id, s.id, f.status, "
            "f.added_at, f.won_at, f.lost_at, f.expected_close_date, f.attributes, f.source_updated_at "
            "FROM floor_deals f JOIN users u ON u.external_id = f.owner_ref JOIN stages s ON s.external_id = f.stage_ref "
            "RETURNING id, pipeline_id, stage_id, owner_id, added_at) "
            "INSERT INTO deal_stage_changes (deal_id, pipeline_id, stage_id, owner_id, entered_at) "
            "SELECT id, pipeline_id, stage_id, owner_id, added_at FROM up"
        )
        schema_seconds = time.perf_counter() - started
        cpu_after = backend_cpu(pid)
        schema_cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
        return copy_seconds, schema_seconds, schema_cpu
    finally:
        await conn.close()


INDEXED_FLOOR_TABLE = """CREATE TABLE floor_indexed (id serial PRIMARY KEY, external_id varchar(128) UNIQUE,
  title varchar(300), value numeric(20,4), currency varchar(3), cost numeric(20,4), owner_id int, pipeline_id int,
  stage_id int, status varchar(16), added_at timestamptz, won_at timestamptz, lost_at timestamptz,
  expected_close_date date, attributes json, source_updated_at timestamptz);
CREATE INDEX ON floor_indexed (owner_id, added_at); CREATE INDEX ON floor_indexed (owner_id, won_at);
CREATE INDEX ON floor_indexed (stage_id); CREATE INDEX ON floor_indexed (pipeline_id, status)"""
INDEXED_FLOOR_COLUMNS = ["external_id", "title", "value", "currency", "cost", "owner_id", "pipeline_id", "stage_id",
                         "status", "added_at", "won_at", "lost_at", "expected_close_date", "attributes",
                         "source_updated_at"]


async def python_copy_floor(path: Path, schema: str, batch_size: int) -> float:
    """Seconds for the client floor: read the NDJSON file in Python (orjson, no validation), look the
    owner and stage up in dicts, and binary-COPY the rows in batches of ``batch_size`` (one
    transaction each) into a table shaped like ``deals`` with the same six indexes and no foreign keys."""
    from decimal import Decimal

    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(), server_settings={"search_path": schema})
    try:
        await conn.execute(INDEXED_FLOOR_TABLE)
        users = {r[0]: r[1] for r in await conn.fetch("SELECT external_id, id FROM users")}
        stages = {r[0]: (r[1], r[2]) for r in await conn.fetch("SELECT external_id, id, pipeline_id FROM stages")}
        started = time.perf_counter()
        batch: list[tuple[object, ...]] = []

        async def flush() -> None:
            async with conn.transaction():
                await conn.copy_records_to_table("floor_indexed", records=batch, columns=INDEXED_FLOOR_COLUMNS)
            batch.clear()

        parse = datetime.fromisoformat
        with open(path, "rb") as fh:
            for line in fh:
                obj = orjson.loads(line)
                if obj.get("kind") != "deal":
                    continue
                stage_id, pipeline_id = stages[obj["stage_id"]]
                won, lost, close = obj.get("won_at"), obj.get("lost_at"), obj.get("expected_close_date")
                batch.append((obj["id"], obj["title"], Decimal(str(obj["value"])), obj["currency"],
                              Decimal(str(obj["cost"])), users[obj["owner_id"]], pipeline_id, stage_id,
                              obj["status"], parse(obj["added_at"]), won and parse(won), lost and parse(lost),
                              close and date.fromisoformat(close), orjson.dumps(obj["attributes"]).decode(),
                              parse(obj["updated_at"])))
                if len(batch) >= batch_size:
                    await flush()
        if batch:
            await flush()
        return time.perf_counter() - started
    finally:
        await conn.close()


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def backend_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) a local PostgreSQL backend has used; None if it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS
    except (OSError, IndexError, ValueError):
        return None


class BackendWatch(threading.Thread):
    """Samples the CPU time of the backends serving the import (found by their staging table)."""

    def __init__(self, schema: str) -> None:
        super().__init__(daemon=True)
        self.schema = schema
        self.cpu: dict[int, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        asyncio.run(self._poll())

    async def _poll(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(_asyncpg_dsn())
        try:
            while not self.done.is_set():
                rows = await conn.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query LIKE $1",
                    "%goalgraph_in_deals%")
                # A backend once seen is sampled until it ends, whatever statement it is running then.
                for pid in {row["pid"] for row in rows} | set(self.cpu):
                    cpu = backend_cpu(pid)
                    if cpu is not None:
                        self.cpu[pid] = cpu
                await asyncio.sleep(0.25)
        finally:
            await conn.close()

    def total(self) -> float | None:
        return sum(self.cpu.values()) if self.cpu else None


def run_child(args: list[str], env: dict[str, str], log: Path) -> tuple[int, float, int, float]:
    """(exit code, seconds, peak RSS in bytes, CPU seconds) of one subprocess."""
    with open(log, "wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    rss = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return proc.returncode, elapsed, rss, usage.ru_utime + usage.ru_stime


def goalgraph_cli() -> list[str]:
    exe = Path(sys.executable).with_name("goalgraph")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "goalgraph.cli"]


def measure(files: dict[str, Path], n: int, directory: Path, use_csv: bool, batch_size: int,
            baseline: Path | None) -> list[dict[str, object]]:
    """Import the file with this checkout (and with ``baseline``'s, right before it, into a schema of
    its own); then the floors, in this checkout's schema."""
    runs: list[dict[str, object]] = []
    if baseline is not None:
        runs.append(import_once(files, n, directory, use_csv, batch_size, baseline, floors_too=False))
    runs.append(import_once(files, n, directory, use_csv, batch_size, None, floors_too=True))
    return runs


def import_once(files: dict[str, Path], n: int, directory: Path, use_csv: bool, batch_size: int,
                checkout: Path | None, *, floors_too: bool) -> dict[str, object]:
    schema = f"bench_import_{uuid.uuid4().hex[:10]}"
    asyncio.run(_sql(f'CREATE SCHEMA "{schema}"'))
    try:
        env = {**os.environ, "GOALGRAPH_DATABASE_URL": postgres_url(), "GOALGRAPH_DATABASE_SCHEMA": schema,
               "GOALGRAPH_MIGRATE_ON_START": "0"}
        code, *_ = run_child([*goalgraph_cli(), "migrate"], env, directory / "migrate.log")
        if code != 0:
            raise SystemExit(f"goalgraph migrate failed:\n{(directory / 'migrate.log').read_text()}")
        if checkout is not None:  # the other checkout's code, this environment's packages
            env["PYTHONPATH"] = os.pathsep.join(str(checkout / d) for d in ("src", "plugins"))
        inputs = [str(files["refs"]), str(files["csv"])] if use_csv else [str(files["ndjson"])]
        log = directory / f"import-{n}.log"
        load = os.getloadavg()[0]
        watch = BackendWatch(schema)
        watch.start()
        try:
            code, seconds, rss, cpu = run_child(
                [*goalgraph_cli(), "import", "--no-progress", "--batch-size", str(batch_size), *inputs], env, log)
        finally:
            watch.done.set()
            watch.join()
        if code != 0:
            raise SystemExit(f"goalgraph import exited {code}:\n{log.read_text()[-3000:]}")
        stored = int(asyncio.run(_sql("SELECT count(*) FROM deals", schema)))  # type: ignore[arg-type]
        history = int(asyncio.run(_sql("SELECT count(*) FROM deal_stage_changes", schema)))  # type: ignore[arg-type]
        if stored != n or history != n:
            raise SystemExit(f"expected {n} deals and {n} stage changes in the database, found {stored} and {history}")
        facts = n + USERS + PIPELINES * (1 + STAGES_PER_PIPELINE)
        result: dict[str, object] = {
            "label": "baseline" if checkout is not None else "this", "seconds": seconds, "facts": facts, "rss": rss,
            "cpu": cpu, "n": n, "load": load, "db_cpu": watch.total()}
        if floors_too:
            result["python_copy"] = asyncio.run(python_copy_floor(files["ndjson"], schema, batch_size))
            result["copy"], result["schema"], result["schema_cpu"] = asyncio.run(floors(files["floor"], schema))
        return result
    finally:
        asyncio.run(_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _size(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}K" if n % 1000 == 0 else str(n)


def main() -> None:
    # Stopped with SIGTERM (or SIGINT while in the background): still drop the schema and files.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deals", type=int, default=1_000_000, help="deals in the large file (default 1,000,000)")
    parser.add_argument("--csv", action="store_true", help="import the deals from CSV instead of NDJSON")
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--baseline", type=Path, metavar="CHECKOUT",
                        help="also import with another checkout's code (e.g. a git worktree of main), side by side")
    parser.add_argument("--keep", action="store_true", help="keep the generated files (prints where)")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="goalgraph-import-bench-"))
    fmt = "CSV" if args.csv else "NDJSON"
    print(f"goalgraph import benchmark — {fmt}, PostgreSQL {postgres_url().split('@')[-1]}, "
          f"Python {platform.python_version()}, {os.cpu_count()} CPU(s), load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    try:
        results: list[dict[str, object]] = []
        for n in sorted({max(1, args.deals // 10), args.deals}):
            t = time.perf_counter()
            files = generate(directory, n, args.csv)
            size = (files["csv"] if args.csv else files["ndjson"]).stat().st_size
            print(f"  generated {n:,} deals ({size / 1e6:,.0f} MB {fmt}) in {time.perf_counter() - t:.1f} s")
            results.extend(measure(files, n, directory, args.csv, args.batch_size, args.baseline))
            for path in files.values():
                if not args.keep:
                    path.unlink()
        report(results)
    finally:
        if args.keep:
            print(f"files kept in {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)


def report(results: list[dict[str, Any]]) -> None:
    floors_of = {r["n"]: r for r in results if "copy" in r}
    print()
    print(f"{'code':>8} {'deals':>10} {'facts':>10} {'seconds':>8} {'facts/s':>8} {'vs 20k/s':>8} {'peak RSS':>9} "
          f"{'load':>5} | {'py+COPY/s':>9} {'COPY rows/s':>11} {'schema floor/s':>14}")
    for r in results:
        f = floors_of[r["n"]]
        rate = r["facts"] / r["seconds"]
        print(f"{r['label']:>8} {r['n']:>10,} {r['facts']:>10,} {r['seconds']:>8.1f} {rate:>8,.0f} "
              f"{rate / TARGET:>7.2f}x {r['rss'] / 2**20:>7.0f}MB {r['load']:>5.1f} | "
              f"{r['n'] / f['python_copy']:>9,.0f} {r['n'] / f['copy']:>11,.0f} {r['n'] / f['schema']:>14,.0f}")
    print(f"\nCPU time per deal (µs): {'importer':>9} {'PostgreSQL':>11} {'total':>7}   schema floor (PostgreSQL)")
    for r in results:
        f = floors_of[r["n"]]
        db = r["db_cpu"] / r["facts"] * 1e6 if r["db_cpu"] is not None else None
        floor_cpu = f["schema_cpu"] / r["n"] * 1e6 if f["schema_cpu"] is not None else None
        importer = r["cpu"] / r["facts"] * 1e6
        print(f"  {r['label']:>8} {r['n']:>10,} deals {importer:>9.1f} {_fmt(db):>11} "
              f"{_fmt(db and db + importer):>7}   {_fmt(floor_cpu):>12}")
    print("\npy+COPY: Python reads the NDJSON (orjson, no validation) and binary-COPYs the rows in batches into a "
          "table shaped like deals with the same six indexes (no foreign keys, no stage history): the floor of the "
          "ratios below. COPY: plain COPY of the same deal rows (CSV) into an unindexed table. schema floor: one "
          "server-side INSERT … SELECT of them into the real deals table and its stage history (all indexes and "
          "foreign keys, no client). load: 1-minute load average when the import started. CPU time: user + "
          "system of the importer process and of the PostgreSQL backend(s) serving it (local servers only, read "
          "from /proc).")
    print()
    for label in dict.fromkeys(r["label"] for r in results):
        mine = [r for r in results if r["label"] == label]
        suffix = "" if label == "this" else "_" + label.upper()
        for r in mine:
            f = floors_of[r["n"]]
            print(f"IMPORT_{_size(r['n'])}{suffix}: api_p50={r['seconds']:.2f}s floor_p50={f['python_copy']:.2f}s "
                  f"ratio={r['seconds'] / f['python_copy']:.2f}")
        for r in mine:
            rate = r["facts"] / r["seconds"]
            print(f"IMPORT_{_size(r['n'])}_RATE{suffix}: api_rate={rate:,.0f}/s floor_rate={TARGET:,}/s "
                  f"ratio={rate / TARGET:.2f}")
        if len(mine) == 2:
            small, large = mine
            print(f"IMPORT_RSS{suffix}: api_p50={large['rss'] / 2**20:.0f}MB floor_p50={small['rss'] / 2**20:.0f}MB "
                  f"ratio={large['rss'] / small['rss']:.2f}  (peak RSS at N vs N/10)")


if __name__ == "__main__":
    main()
